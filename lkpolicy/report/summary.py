"""A Markdown job summary from a SARIF log, for the GitHub Action (`$GITHUB_STEP_SUMMARY`).

`python -m lkpolicy.report.summary LOG.sarif` prints it. It reads the log that the Action
uploads, so the summary and code scanning always show the same run. Every text from the log
(messages come from configs under review) is escaped for Markdown and HTML, and cut to one
line: a config cannot add a heading, a link or a raw HTML element to the summary.
"""

from __future__ import annotations

import re
import sys
from typing import Any

MAX_ROWS = 50
"""Results listed one by one; the counts above the table cover all of them."""
_LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2}
_LEVEL_NAMES = {"error": "error", "warning": "warning", "note": "info"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def escape_cell(text: str, limit: int = 200) -> str:
    """One line of plain text, safe inside a Markdown table cell."""
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _location(result: dict[str, Any], artifacts: list[dict[str, Any]]) -> str:
    try:
        physical = result["locations"][0]["physicalLocation"]
        artifact = physical["artifactLocation"]
        uri = artifact.get("uri") or artifacts[artifact["index"]]["location"]["uri"]
        line = physical.get("region", {}).get("startLine")
    except (KeyError, IndexError, TypeError):
        return ""
    from urllib.parse import unquote

    path = unquote(str(uri))
    return f"{path}:{line}" if line else path


def summary_markdown(log: dict[str, Any]) -> str:
    """The summary of the first run of a SARIF log: verdict, counts, the first results."""
    run = log["runs"][0]
    results = run.get("results", [])
    artifacts = run.get("artifacts", [])
    active = [r for r in results if not r.get("suppressions")]
    counts = {level: sum(1 for r in active if r.get("level", "warning") == level)
              for level in _LEVEL_ORDER}
    suppressed = len(results) - len(active)
    invocations = run.get("invocations") or [{}]
    lines = ["## lkpolicy", ""]
    if not invocations[0].get("executionSuccessful", True):
        lines.append("**Some inputs could not be judged** (unreadable file or bad option).")
    elif counts["error"]:
        lines.append("**The gate failed.**")
    else:
        lines.append("**The gate passed.**")
    files = len(artifacts)
    lines += ["", f"{counts['error']} errors, {counts['warning']} warnings, {counts['note']} "
                  f"info in {files} files; {suppressed} suppressed by waivers or the baseline."]
    for notification in invocations[0].get("toolExecutionNotifications", []):
        text = notification.get("message", {}).get("text", "")
        lines += ["", f"> {escape_cell(text, 500)}"]
    if active:
        ranked = sorted(active, key=lambda r: _LEVEL_ORDER.get(r.get("level", "warning"), 3))
        lines += ["", "| severity | rule | where | message |", "|---|---|---|---|"]
        for result in ranked[:MAX_ROWS]:
            level = _LEVEL_NAMES.get(result.get("level", "warning"), "warning")
            message = result.get("message", {}).get("text", "")
            lines.append(f"| {level} | {escape_cell(str(result.get('ruleId', '')), 20)} | "
                         f"{escape_cell(_location(result, artifacts), 120)} | "
                         f"{escape_cell(message)} |")
        if len(active) > MAX_ROWS:
            lines += ["", f"…and {len(active) - MAX_ROWS} more: see the code scanning alerts "
                          "or the job log."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import json

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m lkpolicy.report.summary LOG.sarif\n")
        return 2
    try:
        with open(args[0], encoding="utf-8") as handle:
            log = json.load(handle)
        text = summary_markdown(log)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        sys.stderr.write(f"lkpolicy: cannot summarise {args[0]}: {error}\n")
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
