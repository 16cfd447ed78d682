"""`check --statistics`: how many findings each rule has, the most frequent first.

In text, one row per rule in place of the findings (as ruff prints its statistics):

```text
3  LKP101      A container or volume image is not pinned by digest
2  LK317   [*] An unquoted number with a leading zero is octal
1  LK306   [?] The capability name is not one linuxkit knows
```

the count, the rule ID, a fix mark (`[*]` when `lkpolicy check --fix` fixes every finding of
the rule, `[?]` when it fixes some of them; the column is left out when no rule has one) and
the rule's title. JSON gets a `statistics` object with the same facts, keyed by rule ID.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lkpolicy.report.model import Report
from lkpolicy.report.printer import sanitize

FIX_MARKS = {"always": "[*]", "sometimes": "[?]"}
"""A rule's fixability -> its mark in the text table; other rules get blanks."""


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule_id: str
    count: int
    title: str
    """The rule's title; empty for an ID that the catalogue does not know."""
    fixability: str | None
    """`always`, `sometimes` or `never` (the rule's `Fixability`); None for an unknown ID."""


def rule_counts(report: Report) -> list[RuleCount]:
    """Every rule with findings in the report, by count (highest first), then rule ID."""
    counts = Counter(finding.rule_id for finding in report.findings)
    rows = []
    for rule_id, count in counts.items():
        rule = report.rule(rule_id)
        rows.append(RuleCount(rule_id, count, rule.title if rule else "",
                              rule.fixability.value if rule else None))
    return sorted(rows, key=lambda row: (-row.count, row.rule_id))


def statistics_lines(report: Report, emphasis: Callable[[str], str] = str) -> list[str]:
    """The text table; `emphasis` styles the rule IDs (bold in a terminal)."""
    rows = rule_counts(report)
    if not rows:
        return []
    count_width = max(len(str(row.count)) for row in rows)
    id_width = max(len(sanitize(row.rule_id)) for row in rows)
    marked = any(row.fixability in FIX_MARKS for row in rows)
    lines = []
    for row in rows:
        mark = FIX_MARKS.get(row.fixability or "", "   ") + " " if marked else ""
        rule_id = sanitize(row.rule_id)
        padding = " " * (id_width - len(rule_id))
        lines.append(f"{str(row.count).rjust(count_width)}  {emphasis(rule_id)}{padding}  "
                     f"{mark}{sanitize(row.title)}".rstrip())
    return lines


def statistics_json(report: Report) -> dict[str, Any]:
    """`{"LKP101": {"count": 3, "title": ..., "fixability": "always"}, ...}`, in table order."""
    return {row.rule_id: {"count": row.count, "title": row.title, "fixability": row.fixability}
            for row in rule_counts(report)}
