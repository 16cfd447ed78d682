"""JSON text exactly as Go's encoding/json writes it (`json.Marshal`, `json.MarshalIndent`).

linuxkit writes `config.json`, `runtime.json` and the JSON metadata file with
`json.MarshalIndent(v, "", "    ")`. Byte-identical output needs Go's string escaping (HTML
characters, U+2028/U+2029, lower-case hex, raw non-ASCII) and Go's float formatting, which
Python's `json` module does not produce.

Values are plain Python data: dict (insertion order is output order, so callers decide the
order Go's struct fields or sorted map keys would give), list or tuple, str, bool, int, float
and None (Go's nil: `null`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lkpolicy.gocompat.numbers import format_float

__all__ = ["GoJSONError", "marshal", "marshal_indent", "quote"]


class GoJSONError(ValueError):
    """A value Go's encoder would refuse (NaN, infinities) or that has no JSON form."""


_HEX = "0123456789abcdef"
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _escape_char(char: str) -> str:
    code = ord(char)
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    if code < 0x20 or char in "<>&":
        return "\\u00" + _HEX[code >> 4] + _HEX[code & 0xF]
    if code in (0x2028, 0x2029):
        # Go escapes these because JavaScript treats them as line terminators.
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:
        # A lone surrogate (e.g. from surrogateescape) is invalid UTF-8 to Go.
        return "\\ufffd"
    return char


_NEEDS_ESCAPE = frozenset('"\\<>&\u2028\u2029') | frozenset(chr(c) for c in range(0x20))


def quote(text: str) -> str:
    """A Go JSON string literal, quotes included."""
    if not any(char in _NEEDS_ESCAPE or "\ud800" <= char <= "\udfff" for char in text):
        return f'"{text}"'
    return '"' + "".join(_escape_char(char) for char in text) + '"'


def _float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise GoJSONError(f"json: unsupported value: {value!r}")
    magnitude = abs(value)
    # Like ES6: plain notation from 1e-6 up to 1e21, exponent notation outside.
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        return format_float(value, "f")
    text = format_float(value, "e")
    if text[-4:-1] == "e-0":
        # Go trims `e-07` to `e-7` (but keeps `e+21`).
        text = text[:-2] + text[-1]
    return text


def _scalar(value: Any) -> str | None:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return quote(value)
    return None


def marshal(value: Any) -> str:
    """`json.Marshal`: compact, no spaces, no trailing newline."""
    parts: list[str] = []
    _compact(value, parts)
    return "".join(parts)


def _compact(value: Any, out: list[str]) -> None:
    scalar = _scalar(value)
    if scalar is not None:
        out.append(scalar)
        return
    if isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_key(key))
            out.append(":")
            _compact(item, out)
        out.append("}")
        return
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _compact(item, out)
        out.append("]")
        return
    raise GoJSONError(f"json: unsupported type: {type(value).__name__}")


def marshal_indent(value: Any, prefix: str = "", indent: str = "    ") -> str:
    """`json.MarshalIndent(v, prefix, indent)`; linuxkit uses prefix "" and four spaces."""
    parts: list[str] = []
    _indented(value, parts, prefix, indent, 0)
    return "".join(parts)


def _indented(value: Any, out: list[str], prefix: str, indent: str, depth: int) -> None:
    scalar = _scalar(value)
    if scalar is not None:
        out.append(scalar)
        return
    if isinstance(value, Mapping):
        if not value:
            out.append("{}")
            return
        inner = "\n" + prefix + indent * (depth + 1)
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(inner)
            out.append(_key(key))
            out.append(": ")
            _indented(item, out, prefix, indent, depth + 1)
        out.append("\n" + prefix + indent * depth + "}")
        return
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if not value:
            out.append("[]")
            return
        inner = "\n" + prefix + indent * (depth + 1)
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            out.append(inner)
            _indented(item, out, prefix, indent, depth + 1)
        out.append("\n" + prefix + indent * depth + "]")
        return
    raise GoJSONError(f"json: unsupported type: {type(value).__name__}")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise GoJSONError(f"json: unsupported map key type: {type(key).__name__}")
    return quote(key)
