"""What every output format renders: the findings of one `lkpolicy check` run and their context."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lkpolicy import __version__
from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.rules import Rule, all_rules, get_rule

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""YAML 1.2 line breaks, the only ones that count in the loader's line numbers."""


def finding_order(finding: Finding) -> tuple[str, int, int, str, str, str]:
    """File, line, column, rule; message and pointer only break ties, so output is deterministic."""
    return (*finding.sort_key(), finding.message, finding.pointer)


def format_location(location: Location) -> str:
    """`path:line:col`, dropping the parts that are unknown (0) rather than printing `:0`."""
    if not location.line:
        return location.file
    if not location.column:
        return f"{location.file}:{location.line}"
    return f"{location.file}:{location.line}:{location.column}"


SUPPRESSION_KINDS = {"inline": "inSource", "policy": "external", "baseline": "external"}
"""Where the gate found the reason to suppress -> SARIF's `suppression.kind`."""


@dataclass(frozen=True, slots=True)
class SuppressedFinding:
    """A finding that the gate does not count, shown as suppressed in SARIF and JSON."""

    finding: Finding
    source: str
    """`inline` (a `# lkpolicy: ignore[...]` comment), `policy` (a policy waiver) or
    `baseline`."""
    reason: str

    @property
    def kind(self) -> str:
        """SARIF's kind: `inSource` for a comment in the config, `external` otherwise."""
        return SUPPRESSION_KINDS.get(self.source, "external")


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    documents: dict[str, Document] = field(default_factory=dict)
    """Path (as in `Location.file`) -> loaded document, for source lines. May be partial."""
    files: list[str] = field(default_factory=list)
    """Every path that was checked, including clean ones and those that failed to load."""
    tool_version: str = __version__
    rules: Sequence[Rule] | None = None
    """Rule metadata to describe findings with; None means the global catalogue. Tests and
    embedders pass their own list so that rendering never depends on which rule modules exist."""
    root: str | None = None
    """Directory that SARIF and GitHub paths are made relative to; None is the working directory."""
    suppressed: list[SuppressedFinding] = field(default_factory=list)
    """Findings that waivers or the baseline took out of the count (rendered by SARIF and
    JSON only)."""
    docs_url: str | None = None
    """The generated rule reference (docs/rules.md) on the web, for SARIF's `informationUri`
    and each rule's `helpUri` (`#lk201` anchors); None leaves them out."""
    execution_successful: bool = True
    """False when some input could not be judged at all (exit code 2)."""
    extra_rules: Sequence[Rule] = ()
    """Rules beyond the catalogue: the custom rules of the policies that judged the run."""
    statistics: bool = False
    """Count the findings per rule (`--statistics`): in place of the findings in text, beside
    them in JSON."""
    quiet: bool = False
    """Text: the findings only, no summary (`--quiet`); a clean run prints nothing."""
    _rule_index: dict[str, Rule] | None = field(default=None, init=False, repr=False, compare=False)
    _lines: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=finding_order)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)

    def counts(self) -> dict[Severity, int]:
        """Every severity, highest first, zero counts included."""
        return {severity: self.count(severity) for severity in sorted(Severity, reverse=True)}

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def warnings(self) -> int:
        return self.count(Severity.WARNING)

    @property
    def file_count(self) -> int:
        """Checked files; a file that only appears in a finding still counts."""
        return len(set(self.files).union(finding.location.file for finding in self.findings))

    def files_with_findings(self) -> list[str]:
        return sorted({finding.location.file for finding in self.findings})

    def max_severity(self) -> Severity | None:
        return max((finding.severity for finding in self.findings), default=None)

    def catalogue(self) -> list[Rule]:
        rules = list(self.rules) if self.rules is not None else all_rules()
        return sorted([*rules, *self.extra_rules], key=lambda rule: rule.id)

    def rule(self, rule_id: str) -> Rule | None:
        extra = next((rule for rule in self.extra_rules if rule.id == rule_id), None)
        if extra is not None:
            return extra
        if self.rules is None:
            return get_rule(rule_id)
        if self._rule_index is None:
            self._rule_index = {rule.id: rule for rule in self.rules}
        return self._rule_index.get(rule_id)

    def lines(self, path: str) -> list[str] | None:
        """The lines of a checked file, split where the loader splits them; None when the
        file's text is not known (an unreadable file)."""
        document = self.documents.get(path)
        if document is None:
            return None
        # Not `Document.source_line`: str.splitlines() also breaks at U+0085, U+2028 and
        # U+2029, which YAML 1.2 (and so the loader's line numbers) treats as ordinary text,
        # so a crafted file could make us show the wrong line under a finding.
        lines = self._lines.get(path)
        if lines is None:
            lines = self._lines[path] = _LINE_BREAK.split(document.text)
        return lines

    def source_line(self, location: Location) -> str | None:
        lines = self.lines(location.file)
        if lines is None or location.line < 1:
            return None
        return lines[location.line - 1] if location.line <= len(lines) else None
