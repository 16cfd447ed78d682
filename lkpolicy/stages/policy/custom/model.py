"""A custom rule: a rule that a policy file defines, with a CEL condition.

Custom rules belong to the loaded policy, not to the rule catalogue (which is static and
generated): `explain` and `rules` show them when given the policy, SARIF describes them from
the policy that judged the config, and waivers, baselines and `--select` treat their IDs like
any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lkpolicy.model.findings import Location, Severity
from lkpolicy.model.rules import Rule, define_rule, explain
from lkpolicy.stages.policy.custom.celenv import Compiled
from lkpolicy.stages.policy.model import Selector
from lkpolicy.stages.policy.rules import CONTAINERS, PolicyRule

__all__ = [
    "CUSTOM_CATEGORY",
    "CUSTOM_ID",
    "CUSTOM_RULE_INVALID",
    "RESERVED_PREFIX",
    "SCOPES",
    "CustomRule",
    "explain_custom",
]

CUSTOM_ID = re.compile(r"[A-Z]{2,12}[0-9]{1,6}")
"""A custom rule ID: a prefix of capital letters (the user's family, e.g. `ORG`) and a number."""
RESERVED_PREFIX = "LK"
"""lkpolicy's own families (LK, LKP, LKT, LKW, and any later LK*): refused as custom IDs."""
CUSTOM_CATEGORY = "policy"
SCOPES = ("container", "config")

CUSTOM_RULE_INVALID = define_rule(
    "LKP007", "custom-rule-invalid", "A custom rule in the policy cannot be used",
    Severity.ERROR, "policy-file",
    "A custom rule whose condition does not compile, or whose ID takes one of lkpolicy's own, "
    "would judge nothing (or the wrong thing) while its author believes it guards the "
    "configs.",
    "Fix the condition at the line and column shown (CEL syntax, variables and types are "
    "listed in docs/custom-rules.md), or choose an ID outside the LK families.",
)


@dataclass(frozen=True, slots=True)
class CustomRule:
    policy_rule: PolicyRule
    scope: str
    """`container` (each onboot, onshutdown and service container) or `config` (once)."""
    selector: Selector
    compiled: Compiled
    field: tuple[str, tuple[str, ...]] | None
    """A variable and a path in it where findings point (`field:`), else None: the
    condition's own member chains decide."""
    message: str | None
    location: Location
    """Where the policy defines it (its ID)."""

    @property
    def id(self) -> str:
        return self.policy_rule.id

    @property
    def rule(self) -> Rule:
        return self.policy_rule.rule


def judged_sections(scope: str, selector: Selector) -> tuple[str, ...]:
    if scope == "config":
        return ("config",)
    return tuple(s for s in CONTAINERS if not selector.sections or s in selector.sections)


def explain_custom(custom: CustomRule) -> str:
    """`lkpolicy explain` of a custom rule: the catalogue's text, then where it is defined
    and what it evaluates."""
    lines = [explain(custom.rule), "", f"Defined in: {custom.location} (custom rule)",
             f"Scope: {custom.scope}"]
    selector = custom.selector
    for name, values in (("images", selector.images), ("sections", selector.sections),
                         ("names", selector.names)):
        if values:
            lines.append(f"Match {name}: {', '.join(values)}")
    lines += ["", "Condition (CEL; true means a finding):", *(
        f"  {line}" for line in custom.compiled.text.strip().splitlines())]
    if custom.field is not None:
        variable, path = custom.field
        lines.append(f"Findings point at: {variable}{''.join('/' + p for p in path)}")
    return "\n".join(lines)
