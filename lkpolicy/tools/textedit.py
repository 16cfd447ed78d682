"""Edits of a YAML file at exact character spans, leaving every other byte as it is.

A YAML round trip (load, modify, dump) would reflow the file: comments move, quotes change,
indentation is normalised. Reviewers must see nothing but the change in the diff, so `pin` and
`check --fix` replace character ranges of the original text: ruamel's scanner gives each scalar
token its exact range, its composer the node behind every JSON pointer, and only those ranges
are rewritten. Whoever edits then loads the result again and compares it with what the edit
should mean (`same_data`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

from lkpolicy.model.document import split_pointer
from lkpolicy.stages.yamlcompose import compose_all


class OverlapError(Exception):
    """Two different edits touch the same characters."""


@dataclass(frozen=True, slots=True)
class Token:
    """A scalar token as written: its character range, 1-based position and style."""

    start: int
    end: int
    line: int
    column: int
    style: str
    """'' plain, '"' or "'" quoted, '|' or '>' block."""
    in_flow: bool


@dataclass(frozen=True, slots=True)
class Replacement:
    """Replace the characters `[start, end)` of the text with `text`."""

    start: int
    end: int
    text: str


# --- reading the text ----------------------------------------------------------------------


def compose_with_tokens(text: str) -> tuple[Any, dict[int, Token]]:
    """The node tree of the first document (None for an empty stream) and its scalar tokens
    keyed by end index, read in one pass: the tokens are recorded as the composer takes them.

    A node's start mark includes its anchor and tag (`&a !!str x`), but its end mark is the
    end of the scalar token, which therefore identifies the token exactly. Positions and
    styles are all that is needed here (the round-trip scanner would spend most of its time
    collecting comments), and `yamlcompose` reads them without loading the rest of
    ruamel.yaml. The loader has already judged the text.
    """
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tokens import (
        FlowMappingEndToken,
        FlowMappingStartToken,
        FlowSequenceEndToken,
        FlowSequenceStartToken,
        ScalarToken,
    )

    from lkpolicy.stages.yamlreader import reader_parts

    tokens: dict[int, Token] = {}
    # The config reader's scanner: it reads tabs as linuxkit does, so what the gate read
    # (`image:<TAB>x`) can be edited.
    _resolver, reader_scanner, _composer = reader_parts()

    class Recording(reader_scanner):  # type: ignore[misc, valid-type]
        depth = 0

        def get_token(self) -> Any:
            token = super().get_token()
            if isinstance(token, FlowSequenceStartToken | FlowMappingStartToken):
                self.depth += 1
            elif isinstance(token, FlowSequenceEndToken | FlowMappingEndToken):
                self.depth -= 1
            elif isinstance(token, ScalarToken):
                start, end = token.start_mark, token.end_mark
                tokens[end.index] = Token(start.index, end.index, start.line + 1,
                                          start.column + 1, token.style or "", self.depth > 0)
            return token

    root = next(iter(compose_all(text, VersionedResolver, scanner=Recording)), None)
    return root, tokens


def node_at(root: Any, pointer: str) -> Any:
    """The composed node at a data pointer, following merge keys as the loader does."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    node = root
    for part in split_pointer(pointer):
        if isinstance(node, SequenceNode):
            index = int(part)
            node = node.value[index] if 0 <= index < len(node.value) else None
        elif isinstance(node, MappingNode):
            node = _mapping_value(node, part, set())
        else:
            node = None
        if node is None:
            return None
    return node


def _mapping_value(node: Any, key: str, active: set[int]) -> Any:
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if id(node) in active:
        return None
    active.add(id(node))
    sources: list[Any] = []
    for key_node, value_node in node.value:
        if is_merge_key(key_node):
            sources.extend(value_node.value if isinstance(value_node, SequenceNode) else [value_node])
        elif isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node
    # Explicit keys win over merged ones, and earlier merge sources over later ones.
    for source in sources:
        if isinstance(source, MappingNode):
            found = _mapping_value(source, key, active)
            if found is not None:
                return found
    return None


def is_merge_key(node: Any) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    if not isinstance(node, ScalarNode) or node.value != "<<":
        return False
    tag = str(getattr(node.tag, "value", node.tag) or "")
    return not node.style or tag.endswith(":merge")


# --- writing scalars -----------------------------------------------------------------------


_PLAIN_FIRST_FORBIDDEN = frozenset(",[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = frozenset(",[]{}")


def plain_safe(value: str, *, in_flow: bool) -> bool:
    """Whether `value` reads back as the same string when written as a plain scalar."""
    from lkpolicy.gocompat.yamlscalars import resolve_plain_scalar

    if not value or value != value.strip() or not value.isprintable():
        return False
    first = value[0]
    if first in _PLAIN_FIRST_FORBIDDEN:
        return False
    if first in "-?:" and (len(value) == 1 or value[1] == " " or
                           (in_flow and value[1] in _FLOW_INDICATORS)):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    if in_flow and any(ch in _FLOW_INDICATORS for ch in value):
        return False
    if value.startswith(("---", "...")):
        return False
    # yaml.v3 would type `1.0` or `true` as a number or boolean, not as the string.
    typed: object = resolve_plain_scalar(value)
    return typed == value


def render_scalar(value: str, style: str, *, in_flow: bool) -> str:
    """`value` as a scalar token in the original style; plain falls back to double quotes."""
    if style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    if style == "" and plain_safe(value, in_flow=in_flow):
        return value
    return double_quoted(value)


def double_quoted(value: str) -> str:
    """`value` as a double-quoted YAML scalar, non-printable characters escaped."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


# --- applying edits ------------------------------------------------------------------------


def overlaps(first: Replacement, second: Replacement) -> bool:
    """Whether two different replacements touch the same characters (an insertion at the
    boundary of another edit counts: their order would be ambiguous)."""
    if first == second:
        return False
    if first.start == first.end or second.start == second.end:
        return first.start <= second.end and second.start <= first.end
    return first.start < second.end and second.start < first.end


def apply_replacements(text: str, replacements: list[Replacement]) -> str:
    """The text with each range replaced; every character outside the ranges is kept.
    Identical replacements count once. Raises `OverlapError` for overlapping ones."""
    pieces: list[str] = []
    cursor = 0
    previous: Replacement | None = None
    for replacement in sorted(set(replacements), key=lambda r: (r.start, r.end)):
        if previous is not None and overlaps(previous, replacement):
            raise OverlapError(f"characters {replacement.start}-{replacement.end} are edited twice")
        pieces.append(text[cursor:replacement.start])
        pieces.append(replacement.text)
        cursor = replacement.end
        previous = replacement
    pieces.append(text[cursor:])
    return "".join(pieces)


def same_data(left: Any, right: Any, edits: dict[str, str] | None = None) -> bool:
    """Deep equality up to `edits` (old -> new strings, for copies of an edited node that
    YAML aliases made); NaN equals NaN, `1` differs from `True`."""
    if edits and isinstance(left, str) and left in edits and right == edits[left]:
        return True
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same_data(left[k], right[k], edits)
                                                   for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(
            same_data(a, b, edits) for a, b in zip(left, right, strict=True))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


# --- files ---------------------------------------------------------------------------------


def encode_like(raw: bytes, text: str) -> bytes:
    """The text in the file's original encoding, byte order mark included."""
    if raw.startswith(b"\xff\xfe"):
        return b"\xff\xfe" + text.encode("utf-16-le")
    if raw.startswith(b"\xfe\xff"):
        return b"\xfe\xff" + text.encode("utf-16-be")
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    return bom + text.encode("utf-8")


def write_like(path: str, raw: bytes, text: str) -> None:
    """Replace the file atomically (a temporary file renamed over it), in its original
    encoding and mode. Raises OSError."""
    from lkpolicy.safeio import atomic_write_bytes

    # Writing through a symlink keeps the link; replacing the link itself would detach it.
    target = os.path.realpath(path)
    mode = os.stat(target).st_mode & 0o7777
    atomic_write_bytes(target, encode_like(raw, text), mode)


def _lines(text: str) -> list[str]:
    # Only YAML's line breaks split: str.splitlines() would also split at U+2028 and friends.
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def render_diff(path: str, old: str, new: str) -> str:
    """A unified diff with git's `a/` and `b/` prefixes, ready for `git apply` or `patch -p1`."""
    name = path[2:] if path.startswith("./") else path.lstrip("/")
    out: list[str] = []
    import difflib

    for line in difflib.unified_diff(_lines(old), _lines(new), f"a/{name}", f"b/{name}"):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
