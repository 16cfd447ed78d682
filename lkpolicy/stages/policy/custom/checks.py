"""Custom rules as policy checks: one `Check` per rule, run by the engine's `evaluate` beside
the built-in checks, so that severities, `overrides`, `--select`/`--ignore`, waivers and the
baseline treat them exactly like built-in rules.

Each subject's variables are converted for CEL once per run and shared by all rules of its
scope. A condition that cannot be evaluated on a subject (a missing key, a result that is no
bool, a cost over the bound) is a finding of the rule itself: the rule fails closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lkpolicy.stages.policy.custom.celenv import Bound, CelProblem, bind, evaluate
from lkpolicy.stages.policy.custom.places import config_place, container_place
from lkpolicy.stages.policy.custom.variables import config_variables, container_variables
from lkpolicy.stages.policy.engine import Check, ConfigCheck, ContainerCheck, Judge, Target
from lkpolicy.stages.policy.model import Subject

if TYPE_CHECKING:
    from lkpolicy.stages.policy.custom.model import CustomRule
    from lkpolicy.stages.policy.model import Policy

__all__ = ["custom_checks"]

_HAS_HINT = "guard optional fields with has(), e.g. `has(config.linux.sysctl) && ...`"


class _Bindings:
    """The CEL variables of each subject of one `evaluate` call, converted once."""

    def __init__(self) -> None:
        self._containers: dict[int, Bound] = {}
        self._config: Bound | None = None

    def container(self, target: Target) -> Bound:
        key = id(target.container)
        if key not in self._containers:
            self._containers[key] = bind("container", container_variables(target))
        return self._containers[key]

    def config(self, judge: Judge) -> Bound:
        if self._config is None:
            self._config = bind("config", config_variables(judge.config))
        return self._config


def custom_checks(policy: Policy) -> list[Check]:
    bindings = _Bindings()
    checks: list[Check] = []
    for custom in policy.custom_rules.values():
        if custom.scope == "container":
            checks.append(Check((custom.policy_rule,),
                                run_container=_container_check(custom, bindings)))
        else:
            checks.append(Check((custom.policy_rule,), run_config=_config_check(custom, bindings)))
    return checks


def _container_check(custom: CustomRule, bindings: _Bindings) -> ContainerCheck:
    def run(judge: Judge, target: Target) -> None:
        subject = target.subject
        if not custom.selector.matches(subject):
            return
        active = judge.active(custom.policy_rule, subject)
        if active is None:
            return
        bound = bindings.container(target)
        node = target.container.node
        try:
            fired = evaluate(custom.compiled, bound)
        except CelProblem as problem:
            judge.emit(custom.policy_rule, active,
                       f"{target.described}: custom rule {custom.id} could not be evaluated, "
                       f"so it fails closed: {problem.message}", node.location, node.pointer,
                       hint=_HAS_HINT if "not found" in problem.message.lower() else None)
            return
        if fired:
            place = container_place(judge, target, custom, bound)
            judge.emit(custom.policy_rule, active,
                       f"{target.described}: {custom.message or custom.rule.title}"
                       f"{place.source}", place.location, place.pointer)
    return run


def _config_check(custom: CustomRule, bindings: _Bindings) -> ConfigCheck:
    def run(judge: Judge) -> None:
        active = judge.active(custom.policy_rule, Subject("config"))
        if active is None:
            return
        bound = bindings.config(judge)
        try:
            fired = evaluate(custom.compiled, bound)
        except CelProblem as problem:
            location, pointer = config_place(judge.config, custom, bound)
            judge.emit(custom.policy_rule, active,
                       f"custom rule {custom.id} could not be evaluated, so it fails closed: "
                       f"{problem.message}", location, pointer,
                       hint=_HAS_HINT if "not found" in problem.message.lower() else None)
            return
        if fired:
            location, pointer = config_place(judge.config, custom, bound)
            judge.emit(custom.policy_rule, active, custom.message or custom.rule.title,
                       location, pointer)
    return run
