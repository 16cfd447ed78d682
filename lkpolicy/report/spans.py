"""Where a finding's value ends, for SARIF's `endLine`/`endColumn`.

The loader records where each node starts, not where it ends, and a document replayed from the
result cache has its text only. So the end is read from the source text, starting at the
finding's position, by the first character of the node there:

* `"` or `'`: the quoted scalar, up to its closing quote (escapes and `''` understood), over
  several lines if it spans them;
* `[` or `{`: the flow collection, up to the bracket that closes it (nested brackets, quoted
  scalars and comments skipped);
* `|` or `>`: the block scalar, down to its last line indented deeper than the line of its
  header;
* `- ` (a block sequence): the rest of that line;
* anything else, a plain scalar (or a mapping key): up to ` #` (a comment), `: ` (the end of
  a key) or the end of the line; inside a flow collection also up to `,`, `]` or `}`. A plain
  scalar continued on the next lines is cut at the end of its first line.

Anchors and tags (`&a`, `!!str`) before the node are part of its span. Every scan stops after
`MAX_SPAN_LINES` lines; a span that does not close by then (broken YAML) is not reported.
"""

from __future__ import annotations

MAX_SPAN_LINES = 500

_FLOW_OPEN = "[{"
_FLOW_CLOSE = "]}"


def value_end(lines: list[str], line: int, column: int) -> tuple[int, int] | None:
    """(end line, end column) of the node at 1-based (`line`, `column`), the column exclusive
    (one past the last character, as SARIF wants); None when there is nothing to span."""
    row, col = line - 1, column - 1
    if not 0 <= row < len(lines) or not 0 <= col < len(lines[row]):
        return None
    text = lines[row]
    start = col
    while col < len(text) and text[col] in "&!":
        # Node properties: skip the anchor or tag and the spaces after it.
        while col < len(text) and text[col] not in " \t":
            col += 1
        while col < len(text) and text[col] in " \t":
            col += 1
    if col >= len(text):
        return (row + 1, len(text.rstrip()) + 1) if len(text.rstrip()) > start else None
    first = text[col]
    if first in "\"'":
        end = _quoted_end(lines, row, col)
    elif first in _FLOW_OPEN:
        end = _flow_end(lines, row, col)
    elif first in "|>":
        end = _block_scalar_end(lines, row)
    elif first == "-" and text[col + 1:col + 2] in ("", " ", "\t"):
        end = (row, len(_strip_comment(text, col)))
    else:
        end = (row, _plain_end(text, col, _in_flow(lines, row, col)))
    if end is None:
        return None
    end_row, end_col = end
    return end_row + 1, end_col + 1


def _quoted_end(lines: list[str], row: int, col: int) -> tuple[int, int] | None:
    quote = lines[row][col]
    position = col + 1
    for current in range(row, min(len(lines), row + MAX_SPAN_LINES)):
        text = lines[current]
        while position < len(text):
            char = text[position]
            if quote == '"' and char == "\\":
                position += 2
                continue
            if char == quote:
                if quote == "'" and text[position + 1:position + 2] == "'":
                    position += 2
                    continue
                return current, position + 1
            position += 1
        position = 0
    return None


def _flow_end(lines: list[str], row: int, col: int) -> tuple[int, int] | None:
    depth = 0
    position = col
    current = row
    limit = min(len(lines), row + MAX_SPAN_LINES)
    previous = ""
    while current < limit:
        text = lines[current]
        while position < len(text):
            char = text[position]
            if char == "#" and (position == 0 or text[position - 1] in " \t"):
                break
            if char in "\"'" and previous in ("", *_FLOW_OPEN, ",", ":"):
                end = _quoted_end(lines, current, position)
                if end is None:
                    return None
                current, position = end
                text = lines[current]
                previous = char
                continue
            if char in _FLOW_OPEN:
                depth += 1
            elif char in _FLOW_CLOSE:
                depth -= 1
                if depth == 0:
                    return current, position + 1
            if char not in " \t":
                previous = char
            position += 1
        current += 1
        position = 0
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _block_scalar_end(lines: list[str], row: int) -> tuple[int, int]:
    base = _indent(lines[row])
    end = (row, len(_strip_comment(lines[row], 0)))
    for current in range(row + 1, min(len(lines), row + MAX_SPAN_LINES)):
        text = lines[current]
        if not text.strip():
            continue
        if _indent(text) <= base:
            break
        end = (current, len(text.rstrip()))
    return end


def _strip_comment(text: str, col: int) -> str:
    """`text` up to a comment that starts after `col`, trailing blanks removed."""
    position = col
    while position < len(text):
        if text[position] == "#" and position > 0 and text[position - 1] in " \t":
            return text[:position].rstrip()
        position += 1
    return text.rstrip()


def _in_flow(lines: list[str], row: int, col: int) -> bool:
    """Whether the node at (row, col) sits inside a flow collection: the last significant
    character before it opens one or separates its entries, or its line opens more
    brackets than it closes before it."""
    text = lines[row]
    depth = 0
    for char in text[:col]:
        if char in _FLOW_OPEN:
            depth += 1
        elif char in _FLOW_CLOSE:
            depth -= 1
    if depth > 0:
        return True
    for current in range(row, max(-1, row - MAX_SPAN_LINES), -1):
        before = (text[:col] if current == row else lines[current]).rstrip()
        if before:
            return before[-1] in "[{,"
    return False


def _plain_end(text: str, col: int, in_flow: bool) -> int:
    position = col
    end = col
    while position < len(text):
        char = text[position]
        if char == "#" and position > col and text[position - 1] in " \t":
            break
        if char == ":" and text[position + 1:position + 2] in ("", " ", "\t"):
            break
        if in_flow and (char in ",]}" or (char == ":" and text[position + 1:position + 2] in ",]}")):
            break
        position += 1
        if char not in " \t":
            end = position
    return max(end, col + 1)
