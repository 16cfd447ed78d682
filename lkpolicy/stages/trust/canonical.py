"""Canonical JSON as notary (docker/go `MarshalCanonical`) computes it for signing.

Signatures in Notary v1 cover these bytes, so any deviation (escaping, number forms, key order)
turns every valid signature into an invalid one. `json.dumps(sort_keys=True)` is not equivalent:
it escapes control characters and, by default, all non-ASCII text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lkpolicy.stages.trust.errors import CanonicalJSONError


def _string(text: str, out: list[bytes]) -> None:
    # Only `"` and `\` are escaped; everything else, control characters included, is raw UTF-8.
    out.append(b'"')
    out.append(text.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8", "surrogatepass"))
    out.append(b'"')


def _encode(value: Any, out: list[bytes]) -> None:
    # bool before int: bool is a subclass of int in Python.
    if value is None:
        out.append(b"null")
    elif value is True:
        out.append(b"true")
    elif value is False:
        out.append(b"false")
    elif isinstance(value, int):
        out.append(str(value).encode("ascii"))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            raise CanonicalJSONError(f"number {value!r} has no canonical form (not integral)")
        out.append(str(int(value)).encode("ascii"))
    elif isinstance(value, str):
        _string(value, out)
    elif isinstance(value, list | tuple):
        out.append(b"[")
        for index, item in enumerate(value):
            if index:
                out.append(b",")
            _encode(item, out)
        out.append(b"]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"object key {key!r} is not a string")
        out.append(b"{")
        # Go sorts map keys by their byte representation, which differs from Python's code-point
        # order only through surrogates; sorting on the UTF-8 bytes is exact.
        ordered = sorted(value, key=lambda k: k.encode("utf-8", "surrogatepass"))
        for index, key in enumerate(ordered):
            if index:
                out.append(b",")
            _string(key, out)
            out.append(b":")
            _encode(value[key], out)
        out.append(b"}")
    elif isinstance(value, _Fraction):
        raise CanonicalJSONError(f"number {value.text} has no canonical form (not integral)")
    else:
        raise CanonicalJSONError(f"value of type {type(value).__name__} has no JSON form")


def encode_canonical(value: Any) -> bytes:
    """The canonical JSON bytes of a decoded JSON value."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


class _Fraction:
    """A non-integral number from `loads_strict`: it has no canonical form, but only fails when
    a signature over it is checked (as in notary), not when the document is read."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> int | _Fraction:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
        return _Fraction(text)
    return int(value)


def loads_strict(data: bytes) -> Any:
    """Decode JSON as Go's generic decoding sees it: integral numbers become int (`1.0` and `1e2`
    too), fractions a marker that canonical encoding refuses; no NaN/Infinity extensions."""
    from lkpolicy.safeio import parse_json

    # Bounded in depth: a server's metadata nested 100,000 deep is an error, not a crash.
    return parse_json(data, "metadata", parse_float=_number)


_ESCAPE = re.compile(r'\\(?:u(00[01][0-9a-f])|([bfnrt])|(.))')
_SHORT = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(match: re.Match[str]) -> str:
    control, short, other = match.groups()
    if control:
        return chr(int(control, 16))
    if short:
        return _SHORT[short]
    return "\\" + other


def _refuse(value: Any) -> Any:
    if isinstance(value, _Fraction):
        raise CanonicalJSONError(f"number {value.text} has no canonical form (not integral)")
    raise CanonicalJSONError(f"value of type {type(value).__name__} has no JSON form")


def encode_canonical_parsed(value: Any) -> bytes:
    """`encode_canonical` for a value from `loads_strict` (which never contains floats).

    Verification canonicalises every role on every run; the C encoder is ~10x faster than the
    walk above. Its output differs from canonical form only in escaping control characters,
    which is undone here; it sorts keys by code point, which equals UTF-8 byte order.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False, default=_refuse)
        if "\\" in text:
            text = _ESCAPE.sub(_unescape, text)
        return text.encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError) as error:
        if isinstance(error, CanonicalJSONError):
            raise
        return encode_canonical(value)
