"""Fixes attached to findings: what to change in the data, not in the text.

A check that knows the one right correction attaches a `Fix` to its finding (as ruff attaches
one to a diagnostic). The fix says what the loaded document must become, node by node: set a
scalar, rename a key, remove a mapping entry or a list item, each at a JSON pointer of the
finding's file. `lkpolicy.tools.fix` turns these into edits of exactly the characters of those
nodes in the YAML text and checks that the file then loads as the fix says, and as nothing
else, so a fix can never change what a config means beyond the fix itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

Scalar = str | int | bool
"""The scalar types a fix may write (what the loader reads from YAML)."""


class EditKind(enum.Enum):
    SET = "set"
    """Replace the scalar at `pointer` with `value`."""
    RENAME = "rename"
    """Rename the mapping key at `pointer` to `value` (a string)."""
    REMOVE = "remove"
    """Remove the mapping entry or list item at `pointer`."""


@dataclass(frozen=True, slots=True)
class Edit:
    kind: EditKind
    pointer: str
    value: Scalar | None = None
    text: str | None = None
    """For `SET`: the exact token to write when the value alone does not say how (`0o644` for
    the number 420, `"0644"` for the string); None writes the value in the style of the token
    it replaces."""


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    """What the fix does, in a few words (`rename to `capabilities``)."""
    edits: tuple[Edit, ...]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title,
                "edits": [[edit.kind.value, edit.pointer, edit.value, edit.text]
                          for edit in self.edits]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fix:
        return cls(str(data["title"]), tuple(
            Edit(EditKind(kind), str(pointer), value, text)
            for kind, pointer, value, text in data["edits"]))


def set_value(pointer: str, value: Scalar, title: str, *, text: str | None = None) -> Fix:
    """Write `value` at `pointer` (as `text` when given)."""
    return Fix(title, (Edit(EditKind.SET, pointer, value, text),))


def rename_key(pointer: str, key: str, title: str) -> Fix:
    return Fix(title, (Edit(EditKind.RENAME, pointer, key),))


def remove(pointer: str, title: str) -> Fix:
    return Fix(title, (Edit(EditKind.REMOVE, pointer),))
