"""A loaded YAML document: plain data plus the source position of every node.

The data is plain Python (dict, list, str, int, float, bool, None) so that JSON Schema and
every later stage work on it directly; positions live beside it, keyed by JSON pointer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lkpolicy.model.findings import Location


def json_type(value: Any) -> str:
    """The JSON Schema type name of a loaded value, as messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def join_pointer(pointer: str, token: str | int) -> str:
    return f"{pointer}/{escape_pointer_token(token)}"


def split_pointer(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


@dataclass(frozen=True, slots=True)
class Scalar:
    """What the YAML text of a plain scalar looked like, where that matters to lint rules."""

    text: str
    style: str
    """'' for plain, '"' or "'" for quoted, '|' or '>' for block scalars."""


@dataclass(slots=True)
class Document:
    path: str
    """The file as the user named it; every finding uses this spelling."""
    text: str
    data: Any
    value_positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """JSON pointer -> (line, column) of the value, 1-based."""
    key_positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """JSON pointer -> (line, column) of the mapping key that holds the value."""
    scalars: dict[str, Scalar] = field(default_factory=dict)
    """JSON pointer -> source form of scalars whose spelling matters (see loader)."""
    from_file: bool = True
    """False for standard input: linuxkit applies templates only to local files."""
    structural_keys: dict[str, str] | None = None
    """For a document replayed from the result cache (no data): JSON pointer -> structural
    key (`lkpolicy.report.fingerprint`) of each finding about it, as computed from its data
    when it was judged, so that fingerprints need not parse the file again."""

    def location(self, pointer: str, *, key: bool = False) -> Location:
        """Where the node at `pointer` is, or its nearest ancestor that exists."""
        probe = pointer
        while True:
            if key and probe in self.key_positions:
                line, column = self.key_positions[probe]
                return Location(self.path, line, column)
            if probe in self.value_positions:
                line, column = self.value_positions[probe]
                return Location(self.path, line, column)
            if not probe:
                return Location(self.path, 1, 1)
            probe = probe[: probe.rfind("/")]

    def source_line(self, line: int) -> str | None:
        if line < 1:
            return None
        # Only YAML's line breaks count: str.splitlines() would also split at U+2028 and U+0085.
        lines = self.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return lines[line - 1] if line <= len(lines) else None

    def get(self, pointer: str) -> Any:
        node = self.data
        for part in split_pointer(pointer):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node
