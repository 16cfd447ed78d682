"""The findings model shared by every stage: a rule ID, a severity, a message and a place."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lkpolicy.model.fixes import Fix


class Severity(enum.IntEnum):
    """Ordered so that `severity >= fail_on` decides the exit code."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a source file. Lines and columns are 1-based, as editors show them."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(slots=True)
class Finding:
    rule_id: str
    severity: Severity
    message: str
    location: Location
    pointer: str = ""
    """JSON pointer of the node in the file that holds it (RFC 6901)."""
    hint: str | None = None
    """A concrete fix for this occurrence, e.g. "did you mean `capabilities`?"."""
    related: list[Location] = field(default_factory=list)
    """Other places that explain the finding (the first definition of a duplicate key...)."""
    fix: Fix | None = None
    """The safe correction `lkpolicy check --fix` applies, when it is mechanical."""

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.rule_id)


class InputError(Exception):
    """Input that cannot be read as a LinuxKit config at all (exit code 2).

    It carries a finding so that machine-readable output still reports where it happened.
    """

    def __init__(self, finding: Finding, *more: Finding) -> None:
        super().__init__(f"{finding.location}: {finding.message}")
        self.findings = [finding, *more]


class ExitCode(enum.IntEnum):
    CLEAN = 0
    FINDINGS = 1
    USAGE = 2
