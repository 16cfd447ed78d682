"""The rule catalogue: every finding lkpolicy can emit has a stable ID documented here.

Each stage declares its rules next to the code that emits them, with `define_rule`. The
catalogue is the single source for `lkpolicy explain`, `lkpolicy rules`, SARIF rule metadata
and `docs/rules.md`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from lkpolicy.model.findings import Finding, Location, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    """A kebab-case slug, stable like the ID (used as SARIF `name`)."""
    title: str
    """One line, shown by `lkpolicy rules`."""
    severity: Severity
    category: str
    rationale: str
    fix: str
    linuxkit: str = ""
    """How plain linuxkit behaves here, and whether lkpolicy reproduces or deviates."""

    def finding(
        self,
        message: str,
        location: Location,
        pointer: str = "",
        *,
        hint: str | None = None,
        severity: Severity | None = None,
        related: list[Location] | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=severity or self.severity,
            message=message,
            location=location,
            pointer=pointer,
            hint=hint,
            related=related or [],
        )


_CATALOGUE: dict[str, Rule] = {}

# Modules that define rules; importing them fills the catalogue. Kept light on purpose:
# `lkpolicy explain` must not pay for the build core or the trust stack.
_RULE_MODULES = (
    "lkpolicy.stages.load",
    "lkpolicy.stages.validate",
    "lkpolicy.stages.lint",
    "lkpolicy.stages.images",
    "lkpolicy.stages.policy.rules",
    "lkpolicy.stages.waivers",
    "lkpolicy.gate.lock",
    "lkpolicy.stages.trust.rules",
)


def define_rule(
    id: str,
    name: str,
    title: str,
    severity: Severity,
    category: str,
    rationale: str,
    fix: str,
    linuxkit: str = "",
) -> Rule:
    if id in _CATALOGUE:
        raise RuntimeError(f"rule ID {id} defined twice")
    rule = Rule(id, name, title, severity, category, _dedent(rationale), _dedent(fix), _dedent(linuxkit))
    _CATALOGUE[id] = rule
    return rule


def _dedent(text: str) -> str:
    return " ".join(text.split())


def all_rules() -> list[Rule]:
    for module in _RULE_MODULES:
        importlib.import_module(module)
    return sorted(_CATALOGUE.values(), key=lambda rule: rule.id)


def get_rule(rule_id: str) -> Rule | None:
    all_rules()
    wanted = rule_id.strip().upper()
    for rule in _CATALOGUE.values():
        if rule.id == wanted or rule.name == rule_id.strip().lower():
            return rule
    return None


def explain(rule: Rule) -> str:
    """The text of `lkpolicy explain`, also used for the generated docs."""
    lines = [
        f"{rule.id} ({rule.name}): {rule.title}",
        "",
        f"Severity: {rule.severity.label}    Category: {rule.category}",
        "",
        "Why:",
        f"  {rule.rationale}",
        "",
        "Fix:",
        f"  {rule.fix}",
    ]
    if rule.linuxkit:
        lines += ["", "LinuxKit:", f"  {rule.linuxkit}"]
    return "\n".join(lines)
