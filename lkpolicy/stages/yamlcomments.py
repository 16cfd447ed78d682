"""YAML comments found by a line scanner, with their lines and columns.

Not by the YAML parser, because ruamel.yaml attaches comments to nodes in ways that lose their
lines. The scanner knows quoted scalars (also across lines), block scalars (`|`, `>`) and the
YAML rule that `#` starts a comment only at the start of a line or after white space. Its
limits: a block scalar with an explicit indentation indicator is assumed to be indented like
any other, and a quote that starts a plain scalar in the middle of a flow collection written
over several lines can confuse it; neither occurs in LinuxKit configs. It runs in time linear
in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""YAML's line breaks: the loader numbers lines by these only."""
_BLOCK_HEADER = re.compile(r"(?:^|[\s:])[|>][0-9+-]*$")


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    column: int
    text: str
    """The comment without its `#`."""
    alone: bool
    """Nothing but white space before the `#`."""


def find_comments(text: str) -> list[Comment]:
    """Every YAML comment in `text`, with 1-based line and column of its `#`."""
    comments: list[Comment] = []
    quote: str | None = None
    block_parent: int | None = None
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        indent = len(line) - len(line.lstrip(" "))
        if block_parent is not None:
            if not line.strip() or indent > block_parent:
                continue  # block scalar content: a `#` here is text
            block_parent = None
        comment_at, quote = _scan_line(line, quote)
        content = line if comment_at is None else line[:comment_at]
        if comment_at is not None:
            comments.append(Comment(number, comment_at + 1, line[comment_at + 1:],
                                     not line[:comment_at].strip()))
        if quote is None and _BLOCK_HEADER.search(content.rstrip()):
            block_parent = _block_parent_indent(content)
    return comments


def _scan_line(line: str, quote: str | None) -> tuple[int | None, str | None]:
    """(index of the comment's `#` or None, quote still open at the end of the line)."""
    index = 0
    length = len(line)
    while index < length:
        char = line[index]
        if quote == '"':
            if char == "\\":
                index += 2
                continue
            if char == '"':
                quote = None
        elif quote == "'":
            if char == "'":
                if index + 1 < length and line[index + 1] == "'":
                    index += 2
                    continue
                quote = None
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index, None
        elif char in "\"'" and _starts_scalar(line, index):
            quote = char
        index += 1
    return None, quote


def _starts_scalar(line: str, index: int) -> bool:
    """Whether a quote at `index` opens a quoted scalar (not an apostrophe inside plain text).

    Looks back over white space only (not a copy of the line so far), so a line of quotes
    costs linear time."""
    position = index - 1
    while position >= 0 and line[position].isspace():
        position -= 1
    if position < 0:
        return True
    if line[position] in "[{,":
        return True
    # `key: 'x'`, `- 'x'` and `? 'x'` need the white space that YAML requires after the indicator.
    return line[position] in ":-?" and position < index - 1


def _block_parent_indent(content: str) -> int:
    """Indentation that block scalar content must exceed: the key's column, or the dash's."""
    position = len(content) - len(content.lstrip(" "))
    parent = position
    while content.startswith("-", position) and content[position + 1:position + 2] in (" ", ""):
        parent = position
        position += 1
        while content.startswith(" ", position):
            position += 1
    if content[position:position + 1] in ("|", ">"):
        return parent
    return position
