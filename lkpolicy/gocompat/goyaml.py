"""YAML text exactly as Go's gopkg.in/yaml.v3 (`Marshal`) and yaml.v2 write it.

linuxkit prints `--dry-run` with yaml.v3 and writes the `metadata: yaml` file with yaml.v2.
Both are transcriptions of libyaml's emitter, and byte-identical output depends on its state
machine (when a space or a line break is written), its choice of scalar style, its escapes
and, in yaml.v3, its indentation change. Python's YAML libraries make other choices.

Values are plain data: dict (insertion order is output order; `sort_map_keys` gives the order
yaml.v3 uses for a Go map), list, str, bool, int, float and None (`null`).
"""

from __future__ import annotations

import enum
import functools
import re
from typing import Any

from lkpolicy.gocompat.numbers import format_float
from lkpolicy.gocompat.yamlscalars import can_use_plain

__all__ = ["marshal_v2", "marshal_v3", "sort_map_keys"]


def sort_map_keys(keys: list[str]) -> list[str]:
    """yaml.v3's order for the keys of a Go map: letters by code point, digit runs by value."""

    def compare(a: str, b: str) -> int:
        if _key_less(a, b):
            return -1
        if _key_less(b, a):
            return 1
        return 0

    return sorted(keys, key=functools.cmp_to_key(compare))


def _key_less(a: str, b: str) -> bool:
    """yaml.v3's `keyList.Less` for two strings. Its loops are done with string operations
    (C speed), so keys with long common prefixes or digit runs cost no quadratic time."""
    index = _first_difference(a, b)
    if index == min(len(a), len(b)):
        return len(a) < len(b)
    digits = index > 0 and a[index - 1].isdecimal()
    ca, cb = a[index], b[index]
    a_letter, b_letter = ca.isalpha(), cb.isalpha()
    if a_letter and b_letter:
        return ca < cb
    if a_letter or b_letter:
        return a_letter if digits else b_letter
    a_number = b_number = 0
    if ca == "0" or cb == "0":
        # Inside a nonzero number leading zeros count: "10" vs "100" style runs.
        before = a[:index].rstrip("0")
        if before and before[-1].isdecimal():
            a_number = b_number = 1
    a_end = _DIGIT_RUN.match(a, index).end()  # type: ignore[union-attr]
    b_end = _DIGIT_RUN.match(b, index).end()  # type: ignore[union-attr]
    a_number = _run_value(a_number, a[index:a_end])
    b_number = _run_value(b_number, b[index:b_end])
    if a_number != b_number:
        return a_number < b_number
    if a_end != b_end:
        return a_end < b_end
    return ca < cb


_DIGIT_RUN = re.compile(r"\d*")
"""`\\d` of a `str` pattern is Unicode's Nd, which is Go's `unicode.IsDigit`."""
_CHUNK = 18


def _first_difference(a: str, b: str) -> int:
    """The first index where `a` and `b` differ (or the shorter length), by halving."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _run_value(start: int, run: str) -> int:
    """Go's `n = n*10 + int64(r - '0')` over `run`, 18 ASCII digits at a time."""
    value = start
    for offset in range(0, len(run), _CHUNK):
        chunk = run[offset:offset + _CHUNK]
        if chunk.isascii():
            value = _int64(value * 10 ** len(chunk) + int(chunk))
        else:
            for char in chunk:
                value = _int64(value * 10 + ord(char) - 48)
    return value


def _int64(value: int) -> int:
    """Go's int64 arithmetic wraps around (and a digit is `rune - '0'`, also for the other
    scripts' digits that `unicode.IsDigit` accepts)."""
    value &= 0xFFFF_FFFF_FFFF_FFFF
    return value - (1 << 64) if value >= 1 << 63 else value


# --------------------------------------------------------------------------------------------
# Scalars

_BREAKS = frozenset("\r\n\x85\u2028\u2029")
_BLANKS = frozenset(" \t")


def _printable(char: str) -> bool:
    code = ord(char)
    return (code == 0x0A or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF))


class _Analysis:
    """The emitter's verdict on which scalar styles can carry a string unchanged."""

    __slots__ = ("block_allowed", "multiline", "plain_allowed", "single_allowed")

    def __init__(self, text: str) -> None:
        if not text:
            self.multiline = False
            self.plain_allowed = True
            self.single_allowed = True
            self.block_allowed = False
            return
        indicators = text.startswith(("---", "..."))
        line_breaks = special = tabs = False
        leading_space = leading_break = trailing_space = trailing_break = False
        break_space = space_break = False
        preceded_by_whitespace = True
        previous_space = previous_break = False
        last = len(text) - 1
        for index, char in enumerate(text):
            followed_by_whitespace = index == last or text[index + 1] in _BLANKS
            indicators = indicators or _block_indicator(
                char, index == 0, preceded_by_whitespace, followed_by_whitespace)
            if char == "\t":
                tabs = True
            elif not _printable(char):
                special = True
            if char == " ":
                leading_space = leading_space or index == 0
                trailing_space = trailing_space or index == last
                break_space = break_space or previous_break
                previous_space, previous_break = True, False
            elif char in _BREAKS:
                line_breaks = True
                leading_break = leading_break or index == 0
                trailing_break = trailing_break or index == last
                space_break = space_break or previous_space
                previous_space, previous_break = False, True
            else:
                previous_space = previous_break = False
            preceded_by_whitespace = char in _BLANKS or char in _BREAKS or char == "\x00"
        self.multiline = line_breaks
        self.plain_allowed = not (leading_space or leading_break or trailing_space or trailing_break
                                  or break_space or space_break or tabs or special or line_breaks
                                  or indicators)
        self.single_allowed = not (break_space or space_break or tabs or special)
        self.block_allowed = not (trailing_space or space_break or special)


def _block_indicator(char: str, first: bool, preceded_by_whitespace: bool,
                     followed_by_whitespace: bool) -> bool:
    """Whether `char` would be read as YAML syntax in a plain scalar of a block collection."""
    if first:
        return (char in "#,[]{}&*!|>'\"%@`"
                or (char in "?:-" and followed_by_whitespace))
    return ((char == ":" and followed_by_whitespace)
            or (char == "#" and preceded_by_whitespace))


_PLAIN, _SINGLE, _DOUBLE, _LITERAL = "plain", "single", "double", "literal"

_ESCAPES = {
    "\x00": "0", "\x07": "a", "\x08": "b", "\t": "t", "\n": "n", "\x0b": "v", "\x0c": "f",
    "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_",
    "\u2028": "L", "\u2029": "P",
}


def _float(value: float) -> str:
    """yaml.v3 writes `strconv.FormatFloat(v, 'g', -1, 64)`, spelling the specials its way."""
    text = format_float(value, "g")
    return _SPECIAL_FLOATS.get(text, text)


_SPECIAL_FLOATS = {"NaN": ".nan", "+Inf": ".inf", "-Inf": "-.inf"}


# --------------------------------------------------------------------------------------------
# The emitter


class _Context(enum.Enum):
    """Where a node stands; indentation depends on it."""

    ROOT = "root"
    KEY = "key"
    VALUE = "mapping value"
    ITEM = "sequence item"


class _Emitter:
    """A transcription of the parts of yaml.v3's emitter that Marshal output exercises.

    The state (column, whitespace, indention) is kept exactly as libyaml keeps it, because
    whether a line break or a space is written depends on it. Indentation follows yaml.v3's
    change to libyaml: nested collections align to multiples of the 4-space indent, except
    the first level inside a sequence item, which just skips the `- `.
    """

    BEST_INDENT = 4

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.column = 0
        self.whitespace = True
        self.indention = True

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.parts.append("\n")
        self.column = 0
        self.indention = True

    def write_indent(self, indent: int) -> None:
        indent = max(indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True

    def write_indicator(self, indicator: str, need_whitespace: bool, is_whitespace: bool,
                        is_indention: bool) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(indicator)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention

    def increase(self, indent: int, in_sequence_item: bool, flow: bool) -> int:
        if indent < 0:
            return self.BEST_INDENT if flow else 0
        if in_sequence_item:
            return indent + 2
        return self.BEST_INDENT * ((indent + self.BEST_INDENT) // self.BEST_INDENT)

    def sequence_indent(self, indent: int, context: _Context) -> int:
        return self.increase(indent, context is _Context.ITEM, False)

    # Nodes ------------------------------------------------------------------------------

    def node(self, value: Any, indent: int, context: _Context, simple_key: bool = False) -> None:
        in_sequence_item = context is _Context.ITEM
        if isinstance(value, dict):
            if not value:
                self.write_indicator("{", True, True, False)
                self.write_indicator("}", False, False, False)
            else:
                self.mapping(value, self.increase(indent, in_sequence_item, False))
        elif isinstance(value, list):
            if not value:
                self.write_indicator("[", True, True, False)
                self.write_indicator("]", False, False, False)
            else:
                self.sequence(value, self.sequence_indent(indent, context))
        else:
            self.scalar(value, self.increase(indent, in_sequence_item, True), simple_key)

    def mapping(self, value: dict[str, Any], indent: int) -> None:
        for key, item in value.items():
            self.write_indent(indent)
            if _is_simple_key(key):
                self.node(key, indent, _Context.KEY, simple_key=True)
                self.write_indicator(":", False, False, False)
            else:
                self.write_indicator("?", True, False, True)
                self.node(key, indent, _Context.KEY)
                self.write_indent(indent)
                self.write_indicator(":", True, False, True)
            self.node(item, indent, _Context.VALUE)

    def sequence(self, value: list[Any], indent: int) -> None:
        for item in value:
            self.write_indent(indent)
            self.write_indicator("-", True, False, True)
            self.node(item, indent, _Context.ITEM)

    # Scalars ----------------------------------------------------------------------------

    def scalar(self, value: Any, indent: int, simple_key: bool) -> None:
        if isinstance(value, str):
            self.string(value, indent, simple_key)
        elif value is None:
            self.plain("null")
        elif isinstance(value, bool):
            self.plain("true" if value else "false")
        elif isinstance(value, int):
            self.plain(str(value))
        elif isinstance(value, float):
            self.plain(_float(value))
        else:
            raise TypeError(f"cannot render {type(value).__name__} as YAML")

    def string(self, text: str, indent: int, simple_key: bool) -> None:
        if "\n" in text:
            style = _LITERAL
        elif can_use_plain(text):
            style = _PLAIN
        else:
            style = _DOUBLE
        analysis = _Analysis(text)
        if simple_key and analysis.multiline:
            style = _DOUBLE
        if style == _PLAIN and (not analysis.plain_allowed or (not text and simple_key)):
            style = _SINGLE
        if style == _SINGLE and not analysis.single_allowed:
            style = _DOUBLE
        if style == _LITERAL and (not analysis.block_allowed or simple_key):
            style = _DOUBLE
        if style == _PLAIN:
            self.plain(text)
        elif style == _SINGLE:
            self.single_quoted(text, indent)
        elif style == _DOUBLE:
            self.double_quoted(text)
        else:
            self.literal(text, indent)

    def plain(self, text: str) -> None:
        if text and not self.whitespace:
            self.put(" ")
        self.put(text)
        if text:
            self.whitespace = False
        self.indention = False

    def single_quoted(self, text: str, indent: int) -> None:
        self.write_indicator("'", True, False, False)
        breaks = False
        for char in text:
            if char in _BREAKS:
                # Only breaks other than "\n" get here ("\n" selects a literal block).
                self.parts.append(char)
                self.column = 0
                self.indention = True
                breaks = True
                continue
            if breaks:
                self.write_indent(indent)
            self.put("''" if char == "'" else char)
            if char != " ":
                self.indention = False
            breaks = False
        self.write_indicator("'", False, False, False)
        self.whitespace = False
        self.indention = False

    def double_quoted(self, text: str) -> None:
        self.write_indicator('"', True, False, False)
        out: list[str] = []
        for char in text:
            if not _printable(char) or char == "\ufeff" or char in _BREAKS or char in '"\\':
                code = ord(char)
                if char in _ESCAPES:
                    out.append("\\" + _ESCAPES[char])
                elif code <= 0xFF:
                    out.append(f"\\x{code:02X}")
                elif code <= 0xFFFF:
                    out.append(f"\\u{code:04X}")
                else:
                    out.append(f"\\U{code:08X}")
            else:
                out.append(char)
        self.put("".join(out))
        self.write_indicator('"', False, False, False)
        self.whitespace = False
        self.indention = False

    def literal(self, text: str, indent: int) -> None:
        self.write_indicator("|", True, False, False)
        if text[0] == " " or text[0] in _BREAKS:
            self.write_indicator(str(self.BEST_INDENT), False, False, False)
        if text[-1] not in _BREAKS:
            self.write_indicator("-", False, False, False)
        elif len(text) == 1 or text[-2] in _BREAKS:
            self.write_indicator("+", False, False, False)
        self.put_break()
        self.whitespace = True
        breaks = True
        for char in text:
            if char in _BREAKS:
                if char == "\n":
                    self.put_break()
                else:
                    self.parts.append(char)
                    self.column = 0
                    self.indention = True
                breaks = True
            else:
                if breaks:
                    self.write_indent(indent)
                self.put(char)
                self.indention = False
                breaks = False


def _is_simple_key(key: Any) -> bool:
    if not isinstance(key, str):
        return True
    return len(key.encode("utf-8")) <= 128 and not any(char in _BREAKS for char in key)


class _V2Emitter(_Emitter):
    """libyaml's original indentation, which yaml.v2 keeps: 2 spaces, and a block sequence
    that is a mapping value starts at the mapping's own column."""

    BEST_INDENT = 2

    def increase(self, indent: int, in_sequence_item: bool, flow: bool) -> int:
        if indent < 0:
            return self.BEST_INDENT if flow else 0
        return indent + self.BEST_INDENT

    def sequence_indent(self, indent: int, context: _Context) -> int:
        if context is _Context.VALUE and not self.indention and indent >= 0:
            return indent
        return super().sequence_indent(indent, context)


def marshal_v3(value: Any) -> str:
    """yaml.v3 `Marshal(value)`."""
    return _marshal(_Emitter(), value)


def marshal_v2(value: Any) -> str:
    """yaml.v2 `Marshal(value)`."""
    return _marshal(_V2Emitter(), value)


def _marshal(emitter: _Emitter, value: Any) -> str:
    emitter.node(value, -1, _Context.ROOT)
    emitter.write_indent(0)
    return "".join(emitter.parts)
