"""Go's `strconv` number parsing and float formatting.

Python's `int()` is no stand-in for `strconv.ParseInt`/`ParseUint`: it accepts surrounding
white space, underscores anywhere between digits, non-ASCII digits and a sign for unsigned
numbers, and it has no bit size. Go accepts underscores only with base 0 (and only between
digits or after a base prefix), a sign only in `ParseInt`, and reports an out-of-range value
as an error rather than a big number. The error text is Go's too, since linuxkit prints it.

Floats are formatted from the shortest decimal digits that round-trip, which Python's
`repr` and Go's `strconv` agree on; only the layout differs.
"""

from __future__ import annotations

import math

from lkpolicy.gocompat.quoting import quote

__all__ = ["NumError", "format_float", "parse_int", "parse_uint"]

_SYNTAX = "invalid syntax"
_RANGE = "value out of range"


class NumError(ValueError):
    """`*strconv.NumError`: str() is Go's `Error()` text, e.g.
    `strconv.ParseUint: parsing "x": invalid syntax`."""

    def __init__(self, func: str, num: str, problem: str) -> None:
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {problem}")
        self.func = func
        """"ParseInt" or "ParseUint"."""
        self.num = num
        """The whole text that was parsed."""
        self.problem = problem
        """"invalid syntax", "value out of range", "invalid base N" or "invalid bit size N"."""

    @property
    def out_of_range(self) -> bool:
        return self.problem == _RANGE


def parse_uint(text: str, base: int, bits: int) -> int:
    """`strconv.ParseUint(text, base, bits)`; raises `NumError`.

    `base` 0 reads a `0b`/`0o`/`0x` prefix or a leading `0` (octal) and allows `_` between
    digits; 2 to 36 take the digits alone. `bits` is 1 to 64 (0 means 64, Go's int size here).
    """
    return _parse_uint("ParseUint", text, base, bits)


def parse_int(text: str, base: int, bits: int) -> int:
    """`strconv.ParseInt(text, base, bits)`: an optional `+`/`-` sign, then as `parse_uint`
    (the range being that of a signed `bits`-bit integer); raises `NumError`."""
    if not text:
        raise NumError("ParseInt", text, _SYNTAX)
    negative = text[0] == "-"
    digits = text[1:] if text[0] in "+-" else text
    try:
        magnitude = _parse_uint("ParseInt", digits, base, bits)
    except NumError as error:
        if not error.out_of_range:
            raise NumError("ParseInt", text, error.problem) from None
        magnitude = 2**64  # beyond every cutoff below
    cutoff = 2 ** ((bits or 64) - 1)
    if magnitude > cutoff or (magnitude == cutoff and not negative):
        raise NumError("ParseInt", text, _RANGE)
    return -magnitude if negative else magnitude


def _parse_uint(func: str, text: str, base: int, bits: int) -> int:
    if not text:
        raise NumError(func, text, _SYNTAX)
    digits = text
    base0 = base == 0
    if base0:
        base = 10
        if text[0] == "0":
            prefix = text[1:2].lower() if len(text) >= 3 else ""
            if prefix in ("b", "o", "x"):
                base, digits = {"b": 2, "o": 8, "x": 16}[prefix], text[2:]
            else:
                base, digits = 8, text[1:]
    elif not 2 <= base <= 36:
        raise NumError(func, text, f"invalid base {base}")
    if bits == 0:
        bits = 64
    elif not 0 < bits <= 64:
        raise NumError(func, text, f"invalid bit size {bits}")
    limit = 2**bits - 1
    value = 0
    underscores = False
    for char in digits:
        if char == "_" and base0:
            underscores = True
            continue
        digit = int(char, 36) if char.isascii() and char.isalnum() else base
        if digit >= base:
            raise NumError(func, text, _SYNTAX)
        value = value * base + digit
        if value > limit:
            # Go stops at the first digit that overflows, before looking at the rest.
            raise NumError(func, text, _RANGE)
    if underscores and not _underscores_ok(text):
        raise NumError(func, text, _SYNTAX)
    return value


def _underscores_ok(text: str) -> bool:
    """Go's rule for base 0: `_` only between digits, or between a base prefix and a digit."""
    body = text[1:] if text[:1] in ("+", "-") else text
    saw = "^"  # start; "0" digit or prefix; "_" underscore; "!" anything else
    index = 0
    hexadecimal = False
    if len(body) >= 2 and body[0] == "0" and body[1].lower() in ("b", "o", "x"):
        index, saw, hexadecimal = 2, "0", body[1].lower() == "x"
    for char in body[index:]:
        if "0" <= char <= "9" or (hexadecimal and "a" <= char.lower() <= "f"):
            saw = "0"
        elif char == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def format_float(value: float, fmt: str) -> str:
    """`strconv.FormatFloat(value, fmt, -1, 64)` for `fmt` "e", "f" or "g".

    NaN and the infinities come out as Go spells them: "NaN", "+Inf", "-Inf".
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, point = _shortest(abs(value))
    if fmt == "g":
        # Shortest formatting decides by a precision of 6, whatever the digit count.
        fmt = "e" if not -4 <= point - 1 < 6 else "f"
    if fmt == "e":
        exponent = point - 1 if digits != "0" else 0
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if fmt != "f":
        raise ValueError(f"unsupported float format {fmt!r}")
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _shortest(magnitude: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of a finite `magnitude` >= 0 and where the
    decimal point goes: value = 0.DIGITS x 10**point ("0" and 1 for zero)."""
    mantissa, _, exponent = repr(magnitude).partition("e")
    whole, _, fraction = mantissa.partition(".")
    run = whole + fraction
    stripped = run.lstrip("0")
    if not stripped:
        return "0", 1
    point = len(whole) + int(exponent or 0) - (len(run) - len(stripped))
    return stripped.rstrip("0"), point
