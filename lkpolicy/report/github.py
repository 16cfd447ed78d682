"""GitHub Actions workflow commands: annotations on the pull request diff without SARIF upload."""

from __future__ import annotations

from lkpolicy.model.findings import Finding, Severity
from lkpolicy.report.model import Report, format_location
from lkpolicy.report.paths import display_path

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    # `%` first, or the escapes just written would themselves be escaped.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    # `,` separates properties and `:` (in `::`) ends them, so both must be escaped inside values.
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _data(finding: Finding) -> str:
    lines = [finding.message]
    if finding.hint:
        lines.append(f"hint: {finding.hint}")
    lines += [f"see also {format_location(related)}" for related in finding.related]
    return "\n".join(lines)


def format_command(report: Report, finding: Finding) -> str:
    location = finding.location
    rule = report.rule(finding.rule_id)
    properties = [("file", display_path(location.file, report.root))]
    if location.line >= 1:
        properties.append(("line", str(location.line)))
        if location.column >= 1:
            properties.append(("col", str(location.column)))
    title = f"{finding.rule_id} ({rule.name})" if rule else finding.rule_id
    properties.append(("title", title))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{COMMANDS[finding.severity]} {rendered}::{escape_data(_data(finding))}"


def render_github(report: Report) -> str:
    """One command per finding; nothing at all for a clean run, as a log line would be noise."""
    commands = [format_command(report, finding) for finding in report.sorted_findings()]
    return "".join(command + "\n" for command in commands)
