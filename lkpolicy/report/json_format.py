"""The machine format with a stable, versioned schema (documented in docs/output-formats.md)."""

from __future__ import annotations

import json
from typing import Any

from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.report.fingerprint import report_fingerprints
from lkpolicy.report.model import Report, SuppressedFinding, finding_order

SCHEMA_VERSION = 1
"""Bumped only for incompatible changes; adding a key is not one."""


def _location(location: Location) -> dict[str, Any]:
    return {"file": location.file, "line": location.line, "column": location.column}


def _finding(report: Report, finding: Finding) -> dict[str, Any]:
    rule = report.rule(finding.rule_id)
    return {
        "rule": finding.rule_id,
        "name": rule.name if rule else None,
        "severity": finding.severity.label,
        "message": finding.message,
        **_location(finding.location),
        "pointer": finding.pointer,
        "hint": finding.hint,
        "fix": finding.fix.title if finding.fix is not None else None,
        "related": [_location(related) for related in finding.related],
    }


def _suppressed(report: Report, suppressed: SuppressedFinding) -> dict[str, Any]:
    return {**_finding(report, suppressed.finding),
            "suppression": {"kind": suppressed.kind, "source": suppressed.source,
                            "reason": suppressed.reason}}


def _fingerprints(report: Report, findings: list[Finding],
                  suppressed: list[SuppressedFinding]) -> dict[int, str]:
    """id(finding) -> its fingerprint, numbered over both lists as SARIF numbers them."""
    every = sorted([*findings, *(s.finding for s in suppressed)], key=finding_order)
    values = report_fingerprints(every, report.documents, report.root)
    return {id(finding): value for finding, value in zip(every, values, strict=True)}


def to_json_data(report: Report) -> dict[str, Any]:
    findings = report.sorted_findings()
    suppressed = sorted(report.suppressed, key=lambda s: finding_order(s.finding))
    fingerprints = _fingerprints(report, findings, suppressed)
    data = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "lkpolicy", "version": report.tool_version},
        "summary": {
            "files": report.file_count,
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "info": report.count(Severity.INFO),
        },
        "findings": [{**_finding(report, finding), "fingerprint": fingerprints[id(finding)]}
                     for finding in findings],
        # Not counted in the summary: waived or baselined, listed so that audits see them.
        "suppressed": [{**_suppressed(report, s), "fingerprint": fingerprints[id(s.finding)]}
                       for s in suppressed],
    }
    if report.statistics:
        from lkpolicy.report.statistics import statistics_json

        data["statistics"] = statistics_json(report)
    return data


def render_json(report: Report) -> str:
    # ASCII-only output survives any locale's stdout encoding and any pipe.
    return json.dumps(to_json_data(report), indent=2, ensure_ascii=True) + "\n"
