"""Go's `strconv.Quote` (the `%q` verb), for error messages that must match linuxkit's.

Strings here are `str` decoded from UTF-8 with `surrogateescape`, as everywhere in lkpolicy.
"""

from __future__ import annotations

__all__ = ["quote"]

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def quote(text: str) -> str:
    """`strconv.Quote(text)`: a double-quoted Go string literal.

    Printable characters stay as they are (Python's `isprintable` and Go's `unicode.IsPrint`
    both mean letters, marks, numbers, punctuation, symbols and the ASCII space); the rest
    become `\\a`-style escapes, `\\xNN` below 0x80 and `\\uNNNN`/`\\UNNNNNNNN` above. A byte
    that is not UTF-8 (U+DC80 to U+DCFF after `surrogateescape`) is `\\xNN`, as Go writes an
    invalid byte; any other lone surrogate is no valid rune to Go, which writes U+FFFD.
    """
    out = ['"']
    for char in text:
        code = ord(char)
        escape = _ESCAPES.get(char)
        if escape is not None:
            out.append(escape)
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
