"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`) and other viewers."""

from __future__ import annotations

import json
import re
from typing import Any

from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.rules import Rule
from lkpolicy.report.fingerprint import FINGERPRINT_KEY, fingerprints
from lkpolicy.report.model import Report
from lkpolicy.report.paths import artifact_uri, root_uri

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
TOOL_NAME = "lkpolicy"
INFORMATION_URI: str | None = None
"""The project home page for `tool.driver.informationUri`; left out of the log while unset,
because a guessed URL would send users somewhere wrong."""

# semver.org's grammar, simplified: PEP 440 versions such as `0.2.0.dev1` must not be claimed
# as semantic versions.
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

SECURITY_CATEGORIES = frozenset({"security", "policy", "trust", "privilege", "capabilities", "secrets"})
"""Rule categories that code scanning should rank as security alerts rather than code quality."""

# GitHub maps these CVSS-like scores to high / medium / low security alerts.
_SECURITY_SEVERITY = {Severity.ERROR: "7.5", Severity.WARNING: "5.0", Severity.INFO: "2.0"}


def _help(rule: Rule) -> dict[str, str]:
    text = [rule.rationale, "", f"Fix: {rule.fix}"]
    markdown = [f"**{rule.id}** `{rule.name}`: {rule.title}", "", rule.rationale, "", f"**Fix:** {rule.fix}"]
    if rule.linuxkit:
        text += ["", f"LinuxKit: {rule.linuxkit}"]
        markdown += ["", f"**LinuxKit:** {rule.linuxkit}"]
    return {"text": "\n".join(text), "markdown": "\n".join(markdown)}


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    tags = [rule.category]
    # Whether `lkpolicy` can rewrite the config to fix a finding: never, sometimes or always.
    properties: dict[str, Any] = {"tags": tags, "fixability": rule.fixability.label}
    if rule.category in SECURITY_CATEGORIES:
        # Code scanning treats a rule as a security rule only with this tag.
        if "security" not in tags:
            tags.append("security")
        properties["security-severity"] = _SECURITY_SEVERITY[rule.severity]
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": _help(rule),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": properties,
    }


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


def _physical_location(location: Location, artifacts: _Artifacts) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifacts.location(location.file)}
    # Line 0 means "the file as a whole"; SARIF expresses that by leaving the region out.
    if location.line >= 1:
        region: dict[str, Any] = {"startLine": location.line}
        if location.column >= 1:
            region["startColumn"] = location.column
        physical["region"] = region
    return physical


def _message(finding: Finding) -> str:
    if finding.hint:
        return f"{finding.message}\nHint: {finding.hint}"
    return finding.message


def _result(
    finding: Finding,
    rule_index: dict[str, int],
    fingerprint: str,
    artifacts: _Artifacts,
) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": finding.rule_id}
    if finding.rule_id in rule_index:
        result["ruleIndex"] = rule_index[finding.rule_id]
    result["level"] = LEVELS[finding.severity]
    result["message"] = {"text": _message(finding)}
    result["locations"] = [{"physicalLocation": _physical_location(finding.location, artifacts)}]
    if finding.related:
        result["relatedLocations"] = [
            {
                "id": number,
                "physicalLocation": _physical_location(related, artifacts),
                "message": {"text": "related location"},
            }
            for number, related in enumerate(finding.related, start=1)
        ]
    result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint}
    if finding.pointer:
        result["properties"] = {"pointer": finding.pointer}
    return result


def to_sarif_data(report: Report) -> dict[str, Any]:
    rules = report.catalogue()
    rule_index = {rule.id: number for number, rule in enumerate(rules)}
    artifacts = _Artifacts(report.root)
    # Checked files come first and in command-line order, clean ones included, so a viewer
    # can tell "analysed, nothing found" from "not analysed".
    for path in report.files:
        artifacts.add(path)
    findings = report.sorted_findings()
    results = [
        _result(finding, rule_index, fingerprint, artifacts)
        for finding, fingerprint in zip(findings, fingerprints(findings), strict=True)
    ]
    driver: dict[str, Any] = {"name": TOOL_NAME}
    if INFORMATION_URI:
        driver["informationUri"] = INFORMATION_URI
    driver["version"] = report.tool_version
    if _SEMVER.fullmatch(report.tool_version):
        driver["semanticVersion"] = report.tool_version
    driver["rules"] = [rule_descriptor(rule) for rule in rules]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": root_uri(report.root)}},
        "artifacts": [dict(entry, roles=["analysisTarget"]) for entry in artifacts.entries],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    return json.dumps(to_sarif_data(report), indent=2, ensure_ascii=True) + "\n"
