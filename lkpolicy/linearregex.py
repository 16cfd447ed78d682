"""Regular expressions from policies, matched in linear time (RE2) with Python `re` meaning.

A policy pattern such as `(a+)+$` takes Python's backtracking `re` exponential time on a
32-character kernel parameter. RE2 matches in time linear in the text, but it reads some
escapes differently, so a pattern is first checked by `re` (the meaning the policy author
wrote), then translated:

* `\\d`, `\\w`, `\\s` and their negations match Unicode as in Python (`\\p{Nd}`, letters and
  numbers, Python's white space), not ASCII only as in RE2; `\\Z` becomes `\\z`, `\\uXXXX`
  `\\x{XXXX}`;
* what RE2 cannot do in linear time or means otherwise is refused when the policy loads, with
  the reason: backreferences and octal escapes (`\\1`), lookaround, atomic groups and possessive
  repeats, word boundaries (`\\b`, `\\B`: ASCII-only in RE2), `\\N{...}`, POSIX classes (`[:`),
  `\\W`/`\\S` inside a class, verbose mode and repeats over 1000.

Patterns are matched whole (`fullmatch`), so `$` before a final newline, the one other
difference, never decides a match.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_SPACE = (r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
          r"\x{202f}\x{205f}\x{3000}")
"""Python's `str.isspace()` characters, which `\\s` matches in a `str` pattern."""
_WORD = r"\p{L}\p{N}_"
_IN_CLASS = {"d": r"\p{Nd}", "D": r"\P{Nd}", "w": _WORD, "s": _SPACE, "b": r"\x08"}
_OUTSIDE = {"d": r"\p{Nd}", "D": r"\P{Nd}", "w": f"[{_WORD}]", "W": f"[^{_WORD}]",
            "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]", "Z": r"\z"}
_REFUSED = {
    "b": "word boundaries (`\\b`) are ASCII-only in linear-time matching",
    "B": "word boundaries (`\\B`) are ASCII-only in linear-time matching",
    "N": "named characters (`\\N{...}`) are not supported; write the character",
}


class PatternError(ValueError):
    """A pattern that cannot be used; `str()` says why in one line."""


class LinearPattern:
    """A compiled pattern; `fullmatch` runs in time linear in the text."""

    def __init__(self, source: str, compiled: Any) -> None:
        self.source = source
        self._compiled = compiled

    def fullmatch(self, text: str) -> bool:
        return self._compiled.fullmatch(text) is not None


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> LinearPattern:
    """`pattern` as Python `re` reads it, compiled for linear-time matching; raises
    `PatternError` for an invalid pattern or one whose meaning RE2 cannot keep."""
    import re
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set": refused below if it is one
            re.compile(pattern)
    except re.error as error:
        raise PatternError(f"not a valid regular expression: {error}") from None
    except (RecursionError, OverflowError):
        raise PatternError("the regular expression is too complex") from None
    translated = translate(pattern)
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        compiled = re2.compile(translated, options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(f"not supported by linear-time matching (RE2): {reason}; "
                           "lookaround, atomic groups, possessive and huge repeats are "
                           "not") from None
    return LinearPattern(pattern, compiled)


def translate(pattern: str) -> str:
    """RE2 syntax for a pattern that Python's `re` accepted (see the module's notes)."""
    import re

    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped, index = _escape(pattern, index + 1, in_class)
            out.append(escaped)
            continue
        if in_class:
            if pattern.startswith("[:", index):
                raise PatternError("POSIX classes (`[:alpha:]`) mean something else in "
                                   "Python; list the characters")
            in_class = char != "]"
        elif char == "[":
            # A `]` right after `[` or `[^` is a literal in both dialects.
            opening = re.match(r"\[\^?\]?", pattern[index:])
            assert opening is not None
            out.append(opening.group())
            index += len(opening.group())
            in_class = True
            continue
        elif char == "{" and (lower := re.match(r"\{,(\d+)\}", pattern[index:])):
            out.append("{0," + lower.group(1) + "}")  # Python's `{,n}`; RE2 reads it literally
            index += len(lower.group())
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    """The RE2 form of the escape whose letter is at `index`, and the index after it."""
    letter = pattern[index]
    if letter.isdigit():
        raise PatternError("backreferences and octal escapes (`\\1`, `\\0`) are not supported; "
                           "write the characters (`\\x..`)")
    if letter in ("u", "U"):
        width = 4 if letter == "u" else 8
        digits = pattern[index + 1:index + 1 + width]
        return "\\x{" + digits + "}", index + 1 + width
    if in_class:
        if letter in ("W", "S"):
            raise PatternError(f"`\\{letter}` inside a character class is not supported; "
                               "write the class without it")
        return _IN_CLASS.get(letter, "\\" + letter), index + 1
    if letter in _REFUSED:
        raise PatternError(_REFUSED[letter])
    return _OUTSIDE.get(letter, "\\" + letter), index + 1
