"""Rule listings and the generated rule reference (`docs/rules.md`), all from the catalogue."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lkpolicy.model.rules import Rule, all_rules


def render_rules(output_format: str, extra: Sequence[Rule] = ()) -> str:
    """The catalogue, and `extra` rules (the custom rules of a policy), sorted by ID."""
    rules = sorted([*all_rules(), *extra], key=lambda rule: rule.id)
    if output_format == "json":
        return json.dumps([_rule_json(rule) for rule in rules], indent=2) + "\n"
    if output_format == "markdown":
        return rules_markdown(rules)
    width = max((len(rule.name) for rule in rules), default=0)
    return "".join(
        f"{rule.id}  {rule.severity.label:<7}  fix:{rule.fixability.label:<9}  "
        f"{rule.name:<{width}}  {rule.title}\n" for rule in rules
    )


def _rule_json(rule: Rule) -> dict[str, str]:
    return {
        "id": rule.id,
        "name": rule.name,
        "title": rule.title,
        "severity": rule.severity.label,
        "category": rule.category,
        "fixability": rule.fixability.label,
        "rationale": rule.rationale,
        "fix": rule.fix,
        "linuxkit": rule.linuxkit,
    }


def rules_markdown(rules: list[Rule]) -> str:
    lines = [
        "# lkpolicy rules",
        "",
        "Generated from the rule catalogue by `lkpolicy rules --format markdown`; do not edit by hand.",
        "`lkpolicy explain ID` prints the same text for one rule.",
        "",
        "| ID | name | severity | category | fixable | title |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| [{r.id}](#{r.id.lower()}) | `{r.name}` | {r.severity.label} | {r.category} "
        f"| {r.fixability.label} | {r.title} |"
        for r in rules
    ]
    for rule in rules:
        lines += ["", f"## {rule.id}", "", f"**{rule.name}**: {rule.title}", "",
                  f"*Severity:* {rule.severity.label}. *Category:* {rule.category}. "
                  f"*Fixable:* {rule.fixability.label}.", "",
                  f"*Why:* {rule.rationale}", "", f"*Fix:* {rule.fix}"]
        if rule.linuxkit:
            lines += ["", f"*LinuxKit:* {rule.linuxkit}"]
    return "\n".join(lines) + "\n"
