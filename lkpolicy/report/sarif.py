"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`) and other viewers.

What code scanning needs from a log, and where this module provides it:

* stable alert identities: `partialFingerprints` from `report.fingerprint` (structural keys,
  not list indexes), numbered when one rule reports one node twice;
* suppressed findings (waivers, baselines) as results with `suppressions`, so an alert shows
  as suppressed, not as fixed;
* at most `MAX_RESULTS` results per run (GitHub rejects a larger upload whole): above it the
  most severe results are kept, unsuppressed before suppressed, and a warning notification
  says how many were left out (the CLI warns on standard error too);
* regions with `endLine`/`endColumn` (`report.spans`), line 1 for whole-file findings;
* `helpUri`/`informationUri` from `report.links`, `security-severity` from `report.security`,
  one alert for one problem (`report.overlaps`), `invocations[].executionSuccessful`.

The log is written compactly: a corpus-sized log stays far below the upload size limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.rules import Rule
from lkpolicy.report.fingerprint import FINGERPRINT_KEY, report_fingerprints
from lkpolicy.report.links import rule_help_uri
from lkpolicy.report.model import Report, SuppressedFinding, finding_order
from lkpolicy.report.overlaps import merge_overlaps
from lkpolicy.report.paths import artifact_uri, root_uri
from lkpolicy.report.security import security_severity
from lkpolicy.report.spans import value_end

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
TOOL_NAME = "lkpolicy"
MAX_RESULTS = 25_000
"""GitHub code scanning's limit of results per run; a log with more is rejected whole."""
CAPPED_NOTIFICATION = "results-capped"

# semver.org's grammar, simplified: PEP 440 versions such as `0.2.0.dev1` must not be claimed
# as semantic versions.
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _help(rule: Rule) -> dict[str, str]:
    text = [rule.rationale, "", f"Fix: {rule.fix}"]
    markdown = [f"**{rule.id}** `{rule.name}`: {rule.title}", "", rule.rationale, "", f"**Fix:** {rule.fix}"]
    if rule.linuxkit:
        text += ["", f"LinuxKit: {rule.linuxkit}"]
        markdown += ["", f"**LinuxKit:** {rule.linuxkit}"]
    return {"text": "\n".join(text), "markdown": "\n".join(markdown)}


def rule_descriptor(rule: Rule, docs_url: str | None = None) -> dict[str, Any]:
    tags = [rule.category]
    # Whether `lkpolicy` can rewrite the config to fix a finding: never, sometimes or always.
    properties: dict[str, Any] = {"tags": tags, "fixability": rule.fixability.label}
    score = security_severity(rule)
    if score is not None:
        # Code scanning treats a rule as a security rule only with this tag.
        if "security" not in tags:
            tags.append("security")
        properties["security-severity"] = score
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": _help(rule),
    }
    if docs_url:
        descriptor["helpUri"] = rule_help_uri(docs_url, rule.id)
    descriptor["defaultConfiguration"] = {"level": LEVELS[rule.severity]}
    descriptor["properties"] = properties
    return descriptor


class _Artifacts:
    """The run's `artifacts` array, so that locations can refer to files by index."""

    def __init__(self, root: str | None) -> None:
        self.root = root
        self.entries: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}

    def add(self, path: str) -> int:
        if path not in self.index:
            self.index[path] = len(self.entries)
            self.entries.append({"location": self.location(path, with_index=False)})
        return self.index[path]

    def location(self, path: str, *, with_index: bool = True) -> dict[str, Any]:
        uri, relative = artifact_uri(path, self.root)
        location: dict[str, Any] = {"uri": uri}
        if relative:
            location["uriBaseId"] = SRCROOT
        if with_index:
            location["index"] = self.add(path)
        return location


def region(location: Location, lines: list[str] | None) -> dict[str, Any]:
    """The region of a location: the span of the value where the source shows it; line 1
    for a finding about the whole file (line 0), which code scanning needs a line for."""
    if location.line < 1:
        return {"startLine": 1}
    result: dict[str, Any] = {"startLine": location.line}
    if location.column >= 1:
        result["startColumn"] = location.column
        end = value_end(lines, location.line, location.column) if lines is not None else None
        if end is not None:
            result["endLine"], result["endColumn"] = end
    return result


def _physical_location(report: Report, location: Location, artifacts: _Artifacts) -> dict[str, Any]:
    return {"artifactLocation": artifacts.location(location.file),
            "region": region(location, report.lines(location.file))}


def _message(finding: Finding) -> str:
    if finding.hint:
        return f"{finding.message}\nHint: {finding.hint}"
    return finding.message


@dataclass(slots=True)
class _Entry:
    """One result to be: a finding, its suppression if any, the rules merged into it."""

    finding: Finding
    suppression: SuppressedFinding | None = None
    merged: list[str] = field(default_factory=list)
    fingerprint: str = ""

    def priority(self) -> tuple[bool, int]:
        """Sort key for the cap: unsuppressed first, then the most severe."""
        return self.suppression is not None, -self.finding.severity


def _entries(report: Report) -> list[_Entry]:
    """Every result of the run in output order, overlaps merged, fingerprints set."""
    active, merged_active = merge_overlaps(report.sorted_findings())
    by_finding = {id(s.finding): s for s in report.suppressed}
    suppressed, merged_suppressed = merge_overlaps(
        sorted((s.finding for s in report.suppressed), key=finding_order))
    merged = merged_active | merged_suppressed
    entries = [_Entry(f, None, merged.get(id(f), [])) for f in active]
    entries += [_Entry(f, by_finding[id(f)], merged.get(id(f), [])) for f in suppressed]
    entries.sort(key=lambda entry: finding_order(entry.finding))
    values = report_fingerprints([e.finding for e in entries], report.documents, report.root)
    for entry, value in zip(entries, values, strict=True):
        entry.fingerprint = value
    return entries


def cap_results(entries: list[_Entry], limit: int = MAX_RESULTS) -> tuple[list[_Entry], int]:
    """At most `limit` entries, the most important ones, still in output order; and how
    many were left out."""
    if len(entries) <= limit:
        return entries, 0
    ranked = sorted(range(len(entries)), key=lambda i: (entries[i].priority(), i))
    chosen = sorted(ranked[:limit])
    return [entries[i] for i in chosen], len(entries) - limit


def omitted_results(report: Report) -> int:
    """How many results `--format sarif` leaves out of `report` (see `MAX_RESULTS`)."""
    return cap_results(_entries(report))[1]


def _result(report: Report, entry: _Entry, rule_index: dict[str, int],
            artifacts: _Artifacts) -> dict[str, Any]:
    finding = entry.finding
    result: dict[str, Any] = {"ruleId": finding.rule_id}
    if finding.rule_id in rule_index:
        result["ruleIndex"] = rule_index[finding.rule_id]
    result["level"] = LEVELS[finding.severity]
    result["message"] = {"text": _message(finding)}
    result["locations"] = [{"physicalLocation": _physical_location(report, finding.location, artifacts)}]
    if finding.related:
        result["relatedLocations"] = [
            {
                "id": number,
                "physicalLocation": _physical_location(report, related, artifacts),
                "message": {"text": "related location"},
            }
            for number, related in enumerate(finding.related, start=1)
        ]
    result["partialFingerprints"] = {FINGERPRINT_KEY: entry.fingerprint}
    if entry.suppression is not None:
        result["suppressions"] = [{
            "kind": entry.suppression.kind,
            "status": "accepted",
            "justification": entry.suppression.reason,
            "properties": {"source": entry.suppression.source},
        }]
    properties: dict[str, Any] = {}
    if finding.pointer:
        properties["pointer"] = finding.pointer
    if entry.merged:
        properties["alsoReportedBy"] = entry.merged
    if properties:
        result["properties"] = properties
    return result


def _invocation(report: Report, omitted: int, total: int) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": report.execution_successful}
    if omitted:
        invocation["toolExecutionNotifications"] = [{
            "descriptor": {"id": CAPPED_NOTIFICATION},
            "level": "warning",
            "message": {"text": f"{omitted} of {total} results were left out: code scanning "
                                f"accepts at most {MAX_RESULTS} per run (the most severe "
                                "were kept, unsuppressed before suppressed)"},
        }]
    return invocation


def to_sarif_data(report: Report) -> dict[str, Any]:
    rules = report.catalogue()
    rule_index = {rule.id: number for number, rule in enumerate(rules)}
    artifacts = _Artifacts(report.root)
    # Checked files come first and in command-line order, clean ones included, so a viewer
    # can tell "analysed, nothing found" from "not analysed".
    for path in report.files:
        artifacts.add(path)
    entries = _entries(report)
    kept, omitted = cap_results(entries)
    results = [_result(report, entry, rule_index, artifacts) for entry in kept]
    driver: dict[str, Any] = {"name": TOOL_NAME}
    if report.docs_url:
        driver["informationUri"] = report.docs_url
    driver["version"] = report.tool_version
    if _SEMVER.fullmatch(report.tool_version):
        driver["semanticVersion"] = report.tool_version
    driver["rules"] = [rule_descriptor(rule, report.docs_url) for rule in rules]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [_invocation(report, omitted, len(entries))],
        "originalUriBaseIds": {SRCROOT: {"uri": root_uri(report.root)}},
        "artifacts": [dict(entry, roles=["analysisTarget"]) for entry in artifacts.entries],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    # Compact: indentation alone would add a third to the size of a large log.
    return json.dumps(to_sarif_data(report), separators=(",", ":"), ensure_ascii=True) + "\n"
