"""What `lkpolicy diff` reports: changes with a risk, and the result's exit code."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from lkpolicy.model.findings import Location


class Risk(enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    REDUCED = "reduced"

    @property
    def increases(self) -> bool:
        return self in (Risk.HIGH, Risk.MEDIUM, Risk.LOW)

    @property
    def rank(self) -> int:
        return {Risk.HIGH: 0, Risk.MEDIUM: 1, Risk.LOW: 2, Risk.INFO: 3, Risk.REDUCED: 4}[self]


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    """A stable slug: capability, mount, namespace, readonly, no-new-privileges, device, image,
    container, init, kernel-image, cmdline, file-mode, trust."""
    marker: str
    """`+` added or gained, `-` removed or lost, `~` changed."""
    risk: Risk
    subject: str
    """What changed: `services/sshd`, `kernel`, `init`, `files`, `trust`."""
    message: str
    location: Location | None = None
    """In the NEW config when the thing still exists there, else in the OLD one."""
    in_new: bool = True

    def to_json(self) -> dict[str, Any]:
        where = self.location
        return {
            "kind": self.kind, "marker": self.marker, "risk": self.risk.value,
            "increases_risk": self.risk.increases, "subject": self.subject,
            "message": self.message,
            "location": None if where is None else {
                "file": where.file, "line": where.line, "column": where.column,
                "side": "new" if self.in_new else "old"},
        }


@dataclass(slots=True)
class DiffResult:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)

    @property
    def increases_risk(self) -> bool:
        return any(change.risk.increases for change in self.changes)

    @property
    def exit_code(self) -> int:
        return 1 if self.increases_risk else 0


class DiffError(Exception):
    """An input cannot be read (exit code 2)."""
