"""The custom rules of the policies that judged a gate's configs: for `--select`/`--ignore`
codes that name them, for waivers that name them, and for the rule metadata of reports.

A unit judged in this run keeps its policy; a unit replayed from the result cache does not,
so its policy is loaded again (once per policy file and run, by `PolicyChoice`), and only when
something asks for a custom rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lkpolicy.gate.options import GateOptions, UsageError
from lkpolicy.model.findings import InputError

if TYPE_CHECKING:
    from lkpolicy.gate.gate import Gate
    from lkpolicy.gate.unit import GateUnit
    from lkpolicy.model.rules import Rule
    from lkpolicy.stages.policy.model import Policy

__all__ = ["check_custom_selection", "custom_rule_ids", "custom_rules", "needs_custom_rules"]


def unit_policy(unit: GateUnit, options: GateOptions) -> Policy | None:
    if unit.policy is not None or options.policy is None:
        return unit.policy
    from lkpolicy.gate.unit import config_dir
    from lkpolicy.stages.policy.discovery import find_policy

    choice = options.policy
    try:
        return choice.load(find_policy(choice.explicit, config_dir(unit.paths)))
    except InputError:
        return None  # the unit's own findings say why


def custom_rule_ids(unit: GateUnit, options: GateOptions) -> set[str]:
    policy = unit_policy(unit, options)
    return set(policy.custom_rules) if policy is not None else set()


def custom_rules(gate: Gate) -> list[Rule]:
    """The custom rules of every policy that judged the gate's configs, by ID (the first
    definition of an ID when policies differ)."""
    rules: dict[str, Rule] = {}
    for unit in gate.units:
        policy = unit_policy(unit, gate.options)
        if policy is not None:
            for rule_id, custom in policy.custom_rules.items():
                rules.setdefault(rule_id, custom.rule)
    return [rules[rule_id] for rule_id in sorted(rules)]


def needs_custom_rules(gate: Gate, every: bool) -> bool:
    """Whether a report needs the custom rules: `every` (SARIF lists each rule of the run),
    or a reported finding of a rule that is not in the catalogue."""
    if gate.options.policy is None:
        return False
    if every:
        return True
    from lkpolicy.model.rules import known_rule_ids

    known = known_rule_ids()
    found = [*gate.findings, *(s.finding for s in gate.suppressed)]
    return any(finding.rule_id not in known for finding in found)


def check_custom_selection(gate: Gate) -> None:
    """Each `--select`/`--ignore` code outside the LK families must name a custom rule of a
    policy that judged the configs; raises `UsageError` otherwise."""
    codes = gate.options.selection.custom_codes
    if not codes:
        return
    known = {rule.id for rule in custom_rules(gate)}
    for option, code in codes:
        if not any(rule_id.startswith(code) for rule_id in known):
            defined = ", ".join(sorted(known)) or "none"
            raise UsageError(f"{option} {code}: no rule has this ID or prefix (custom rules of "
                             f"the policies: {defined}); `lkpolicy rules --policy P` lists "
                             "them")
