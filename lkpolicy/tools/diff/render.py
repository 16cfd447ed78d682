"""`lkpolicy diff` output: text for a terminal, JSON for tools, markdown for a PR comment.
Text and markdown escape what came from the configs."""

from __future__ import annotations

import json

from lkpolicy.report.printer import sanitize
from lkpolicy.tools.diff.model import Change, DiffResult, Risk


def _ordered(result: DiffResult) -> list[Change]:
    return list(result.changes)


def _where(change: Change) -> str:
    if change.location is None:
        return ""
    loc = change.location
    text = f"{loc.file}:{loc.line}" if loc.line else loc.file
    return text if change.in_new else f"{text} (old)"


def render_text(result: DiffResult) -> str:
    """Escaped for the terminal: subjects, messages and paths come from the configs."""
    return sanitize(_text(result), keep="\n")


def _text(result: DiffResult) -> str:
    changes = _ordered(result)
    if not changes:
        return f"lkpolicy diff: no security-relevant change from {result.old} to {result.new}\n"
    width = max(len(change.risk.value) for change in changes)
    lines = []
    for change in changes:
        where = _where(change)
        lines.append(f"{change.marker} {change.risk.value:<{width}}  {change.subject}: "
                     f"{change.message}" + (f"  [{where}]" if where else ""))
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _summary(result: DiffResult) -> str:
    counts: dict[Risk, int] = {}
    for change in result.changes:
        counts[change.risk] = counts.get(change.risk, 0) + 1
    parts = [f"{counts[risk]} {risk.value}" for risk in sorted(counts, key=lambda r: r.rank)]
    verdict = ("risk increases: security review needed" if result.increases_risk
               else "no risk-increasing change")
    total = len(result.changes)
    return f"{total} security-relevant change{'s' if total != 1 else ''} ({', '.join(parts)}); {verdict}"


def render_json(result: DiffResult) -> str:
    document = {
        "old": result.old, "new": result.new, "increases_risk": result.increases_risk,
        "changes": [change.to_json() for change in _ordered(result)],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _md_escape(text: str) -> str:
    return (sanitize(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\n", " "))


def render_markdown(result: DiffResult) -> str:
    title = f"### lkpolicy: security-relevant changes in `{_md_escape(result.new)}`"
    changes = _ordered(result)
    if not changes:
        return f"{title}\n\nNo security-relevant change from `{_md_escape(result.old)}`.\n"
    icon = {Risk.HIGH: "🔴", Risk.MEDIUM: "🟠", Risk.LOW: "🟡", Risk.INFO: "⚪", Risk.REDUCED: "🟢"}
    rows = ["| | Risk | Part | Change |", "|---|---|---|---|"]
    for change in sorted(changes, key=lambda ch: ch.risk.rank):
        rows.append(f"| {change.marker} | {icon[change.risk]} {change.risk.value} "
                    f"| `{_md_escape(change.subject)}` "
                    f"| {_md_escape(change.message)}"
                    + (f" ({_md_escape(_where(change))})" if change.location else "") + " |")
    summary = _md_escape(_summary(result))
    return f"{title}\n\n" + "\n".join(rows) + f"\n\n{summary}\n"


FORMATS = ("text", "json", "markdown")


def render(format_name: str, result: DiffResult) -> str:
    if format_name == "text":
        return render_text(result)
    if format_name == "json":
        return render_json(result)
    if format_name == "markdown":
        return render_markdown(result)
    raise ValueError(f"unknown output format {format_name!r} (use {', '.join(FORMATS)})")
