"""The human format: compiler-style diagnostics with the offending source line and a caret."""

from __future__ import annotations

import unicodedata

from lkpolicy.model.findings import Finding, Severity
from lkpolicy.report.model import Report, format_location
from lkpolicy.report.printer import sanitize
from lkpolicy.report.spans import value_end

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_SEVERITY_STYLE = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.INFO: "\x1b[1;36m",
}
_GUTTER_STYLE = "\x1b[1;34m"
_NOTE_STYLE = "\x1b[1;36m"
_PASS_STYLE = "\x1b[1;32m"


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or not text:
            return text
        return f"{style}{text}{_RESET}"


def display_width(text: str) -> int:
    """Terminal cells taken by already-sanitized text: wide CJK counts twice, combining marks not."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _plural(count: int, noun: str) -> str:
    # "info" is a mass noun: "2 info" reads better than "2 infos".
    if noun == "info" or count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}s"


FIXABLE_MARK = "[*]"
"""After the rule ID of a finding that `lkpolicy check --fix` fixes (as ruff marks them)."""


def fixable_line(report: Report) -> str | None:
    """`[*] 2 fixable with `lkpolicy check --fix`.`, or None when nothing is."""
    count = sum(1 for finding in report.findings if finding.fix is not None)
    if not count:
        return None
    return f"{FIXABLE_MARK} {count} fixable with `lkpolicy check --fix` (`--diff` to preview)."


def summary_line(report: Report) -> str:
    """`Found 3 errors, 1 warning in 2 files.` (files with findings) or `All checks passed (N files).`"""
    if not report.findings:
        return f"All checks passed ({_plural(report.file_count, 'file')})."
    parts = [
        _plural(count, severity.label)
        for severity, count in report.counts().items()
        if count
    ]
    files = _plural(len(report.files_with_findings()), "file")
    return f"Found {', '.join(parts)} in {files}."


EXCERPT_CHARS = 400
"""The most of a source line shown under a finding: a line of 100,000 capabilities with a
finding per item would otherwise be printed 100,000 times."""
_CUT = "..."


def excerpt(source: str, column: int) -> tuple[str, int]:
    """At most `EXCERPT_CHARS` of `source` around `column` (1-based, 0 for none), with `...`
    where it is cut, and the index of the column's character in the excerpt."""
    index = max(column - 1, 0)
    if len(source) <= EXCERPT_CHARS:
        return source, index
    start = max(0, min(index - EXCERPT_CHARS // 2, len(source) - EXCERPT_CHARS))
    end = start + EXCERPT_CHARS
    head = _CUT if start else ""
    tail = _CUT if end < len(source) else ""
    return head + source[start:end] + tail, index - start + len(head)


def _source_lines(report: Report, finding: Finding, gutter: int, paint: _Painter) -> list[str]:
    location = finding.location
    source = report.source_line(location)
    if source is None:
        return []
    source, index = excerpt(source, location.column)
    bar = paint("|", _GUTTER_STYLE)
    number = paint(str(location.line).rjust(gutter), _GUTTER_STYLE)
    lines = [f" {number} {bar} {sanitize(source)}".rstrip()]
    if location.column:
        # Columns count code points; one past the end is legal (a missing value at end of line).
        prefix = source[:index]
        offset = display_width(sanitize(prefix))
        width = _value_width(report, finding, source)
        caret = paint("^" * width, _SEVERITY_STYLE[finding.severity])
        lines.append(f" {' ' * gutter} {bar} {' ' * offset}{caret}")
    return lines


def _value_width(report: Report, finding: Finding, source: str) -> int:
    """Terminal cells of the value at the finding (to the end of its first line when it
    spans several), so the carets underline all of it, as ruff and rustc do; at least 1."""
    location = finding.location
    lines = report.lines(location.file)
    end = value_end(lines, location.line, location.column) if lines is not None else None
    if end is None:
        return 1
    end_line, end_column = end
    start = location.column - 1
    stop = end_column - 1 if end_line == location.line else len(source.rstrip())
    return max(1, display_width(sanitize(source[start:stop])))


def _annotation(label: str, text: str, gutter: int, paint: _Painter) -> list[str]:
    head = f" {' ' * gutter} {paint('=', _GUTTER_STYLE)} {paint(label + ':', _NOTE_STYLE)} "
    indent = " " * (gutter + 4 + len(label) + 2)
    text_lines = text.splitlines() or [""]
    return [head + sanitize(text_lines[0])] + [indent + sanitize(line) for line in text_lines[1:]]


def format_finding(report: Report, finding: Finding, *, color: bool = False,
                   explain: bool = False) -> list[str]:
    """The lines of one finding; `explain` adds where to read more about its rule (shown
    under the first finding of a run)."""
    paint = _Painter(color)
    location = finding.location
    severity = finding.severity
    message_lines = finding.message.splitlines() or [""]
    mark = f" {FIXABLE_MARK}" if finding.fix is not None else ""
    header = (
        f"{paint(sanitize(format_location(location)) + ':', _BOLD)} "
        f"{paint(severity.label, _SEVERITY_STYLE[severity])} "
        f"{paint(sanitize(finding.rule_id), _BOLD)}{mark} "
        f"{sanitize(message_lines[0])}"
    )
    # Continuation lines are indented so line-oriented tools (editors' problem matchers)
    # never mistake them for a new `path:line:col:` diagnostic.
    lines = [header.rstrip()] + [f"    {sanitize(line)}".rstrip() for line in message_lines[1:]]
    gutter = len(str(location.line)) if location.line else 1
    lines += _source_lines(report, finding, gutter, paint)
    if finding.hint:
        lines += _annotation("hint", finding.hint, gutter, paint)
    for related in finding.related:
        lines += _annotation("note", f"see also {format_location(related)}", gutter, paint)
    if explain:
        lines += _annotation("help", f"`lkpolicy explain {finding.rule_id}` says why the rule "
                                     "exists and how to fix what it finds", gutter, paint)
    return lines


def render_text(report: Report, *, color: bool = False) -> str:
    """The findings (or, with `report.statistics`, the count of each rule), then the summary
    unless `report.quiet`."""
    paint = _Painter(color)
    out: list[str] = []
    if report.statistics:
        from lkpolicy.report.statistics import statistics_lines

        out += statistics_lines(report, lambda text: paint(text, _BOLD))
        out += [""] if out else []
    else:
        for index, finding in enumerate(report.sorted_findings()):
            out += format_finding(report, finding, color=color, explain=index == 0)
            out.append("")
    if report.quiet:
        return "\n".join(out[:-1]) + "\n" if out else ""
    summary = summary_line(report)
    if report.errors:
        summary = paint(summary, _SEVERITY_STYLE[Severity.ERROR])
    elif report.findings:
        summary = paint(summary, _SEVERITY_STYLE[report.max_severity() or Severity.WARNING])
    else:
        summary = paint(summary, _PASS_STYLE)
    out.append(summary)
    fixable = fixable_line(report)
    if fixable is not None:
        out.append(fixable)
    return "\n".join(out) + "\n"
