"""How yaml.v3 types a plain (unquoted, untagged) scalar, when reading and when writing.

yaml.v3 is neither YAML 1.1 nor plain YAML 1.2: `yes` is a string, `0644` is octal 420,
`+.inf` is infinity, and a number too big for Go's float64 stays a string. Its encoder
quotes a string exactly when the resolver would read it back as something else, or when it
looks like a YAML 1.1 bool or base 60 number (for the sake of older readers).
"""

from __future__ import annotations

import math
import re
from typing import Any

from lkpolicy.gocompat.numbers import NumError, parse_int, parse_uint

__all__ = ["can_use_plain", "resolve_plain_scalar"]

_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUES = frozenset({"true", "True", "TRUE"})
_FALSES = frozenset({"false", "False", "FALSE"})
_INFS = frozenset({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})
_NEG_INFS = frozenset({"-.inf", "-.Inf", "-.INF"})
_NANS = frozenset({".nan", ".NaN", ".NAN"})


def _integer(plain: str) -> int | None:
    """yaml.v3 tries `strconv.ParseInt(plain, 0, 64)`, then `ParseUint(plain, 0, 64)` (which
    takes no sign: `+9223372036854775808` is therefore no integer, but a float)."""
    for parse in (parse_int, parse_uint):
        try:
            return parse(plain, 0, 64)
        except NumError:
            pass
    return None


def resolve_plain_scalar(text: str) -> Any:
    """Type of an untagged plain scalar under yaml.v3's resolver."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    first = text[0]
    if first in "+-.0123456789":
        if text in _INFS:
            return math.inf
        if text in _NEG_INFS:
            return -math.inf
        if text in _NANS:
            return math.nan
        plain = text.replace("_", "")
        number = _integer(plain)
        if number is not None:
            return number
        if _FLOAT_RE.match(plain):
            number_value = float(plain)
            # Go reports overflow as an error, and yaml.v3 then keeps the text.
            return text if math.isinf(number_value) else number_value
    return text


_OLD_BOOLS = frozenset({
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
    "n", "N", "no", "No", "NO", "off", "Off", "OFF",
})
_BASE60_RE = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?P<sep>[Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(?P<zone>Z|[+-]\d{2}:\d{2})?)?$"
)
_RESOLVER_HINTS = frozenset("+-0123456789yYnNtTfFoO~.")


def _is_timestamp(text: str) -> bool:
    """yaml.v3 tries Go's time.Parse with four layouts on anything starting `YYYY-`."""
    match = _TIMESTAMP_RE.match(text)
    if match is None:
        return False
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    import calendar  # timestamps only, which configs seldom hold

    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return False
    sep = match["sep"]
    if sep is None:
        return True
    # The `T` layouts end in a required zone; the space layout has none.
    if (sep == " ") == (match["zone"] is not None):
        return False
    hour, minute, second = int(match[5]), int(match[6]), int(match[7])
    return hour < 24 and minute < 60 and second < 60


def _resolves_to_string(text: str) -> bool:
    """Whether yaml.v3's resolver reads `text`, written plain, back as a string."""
    if not text:
        return False
    if text[0] not in _RESOLVER_HINTS:
        return True
    if text[0] in "0123456789+-" and _is_timestamp(text):
        return False
    value = resolve_plain_scalar(text)
    if isinstance(value, float) and math.isinf(value) and not text.lstrip("+-").lower().startswith(".inf"):
        # Go's ParseFloat reports overflow as an error, so `1e999` stays a string.
        return True
    return isinstance(value, str)


def can_use_plain(text: str) -> bool:
    """Whether yaml.v3's encoder may write `text` as a plain scalar: it must read back as a
    string, and neither as a YAML 1.1 bool (`yes`) nor as a base 60 float (`1:20`)."""
    return (_resolves_to_string(text) and text not in _OLD_BOOLS
            and not (":" in text and _BASE60_RE.match(text) is not None))
