"""Custom rules as policy checks, run by the engine's `evaluate` beside the built-in checks,
so that severities, `overrides`, `--select`/`--ignore`, waivers and the baseline treat them
exactly like built-in rules.

One check holds every container-scope rule of the policy and one every config-scope rule:
a container's variables are converted for CEL once and each rule then costs one evaluation
(20 rules over the corpus must stay within a fifth of the check's time). A condition that
cannot be evaluated on a subject (a missing key, a result that is no bool, a cost over the
bound) is a finding of the rule itself: the rule fails closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lkpolicy.stages.policy.custom.celenv import Bound, CelProblem, bind, evaluate
from lkpolicy.stages.policy.custom.places import config_place, container_place
from lkpolicy.stages.policy.custom.variables import (
    CONTAINER_SOURCES,
    config_variables,
    container_variables,
)
from lkpolicy.stages.policy.engine import Check, Judge, Target
from lkpolicy.stages.policy.model import Subject

if TYPE_CHECKING:
    from lkpolicy.stages.policy.custom.model import CustomRule
    from lkpolicy.stages.policy.model import Active, Policy

__all__ = ["custom_checks"]

_HAS_HINT = "guard optional fields with has(), e.g. `has(config.linux.sysctl) && ...`"


class _Rule:
    """One custom rule in one `evaluate` call: its setting is looked up once unless an
    `overrides` entry can change it from container to container."""

    def __init__(self, custom: CustomRule, policy: Policy) -> None:
        self.custom = custom
        self.scoped = any(custom.id in override.rules for override in policy.overrides)
        selector = custom.selector
        self.selects = bool(selector.images or selector.sections or selector.names)
        self._active: list[Active | None] = []

    def active(self, judge: Judge, subject: Subject) -> Active | None:
        if self.scoped or not self._active:
            self._active[:] = [judge.active(self.custom.policy_rule, subject)]
        return self._active[0]


def custom_checks(policy: Policy) -> list[Check]:
    containers = [_Rule(c, policy) for c in policy.custom_rules.values()
                  if c.scope == "container"]
    configs = [_Rule(c, policy) for c in policy.custom_rules.values() if c.scope == "config"]
    checks: list[Check] = []
    if containers:
        def run_container(judge: Judge, target: Target) -> None:
            _judge_container(judge, target, containers)

        checks.append(Check(tuple(r.custom.policy_rule for r in containers),
                            run_container=run_container))
    if configs:
        def run_config(judge: Judge) -> None:
            _judge_config(judge, configs)

        checks.append(Check(tuple(r.custom.policy_rule for r in configs), run_config=run_config))
    return checks


def _judge_container(judge: Judge, target: Target, rules: list[_Rule]) -> None:
    bound: Bound | None = None
    for rule in rules:
        custom = rule.custom
        if rule.selects and not custom.selector.matches(target.subject):
            continue
        active = rule.active(judge, target.subject)
        if active is None:
            continue
        if bound is None:
            bound = bind("container", container_variables(target), CONTAINER_SOURCES)
        try:
            fired = evaluate(custom.compiled, bound)
        except CelProblem as problem:
            node = target.container.node
            judge.emit(custom.policy_rule, active,
                       f"{target.described}: custom rule {custom.id} could not be evaluated, "
                       f"so it fails closed: {problem.message}", node.location, node.pointer,
                       hint=_hint(problem))
            continue
        if fired:
            place = container_place(judge, target, custom, bound)
            judge.emit(custom.policy_rule, active,
                       f"{target.described}: {custom.message or custom.rule.title}"
                       f"{place.source}", place.location, place.pointer,
                       hint=custom.rule.fix or None)


def _judge_config(judge: Judge, rules: list[_Rule]) -> None:
    bound: Bound | None = None
    subject = Subject("config")
    for rule in rules:
        custom = rule.custom
        active = rule.active(judge, subject)
        if active is None:
            continue
        if bound is None:
            bound = bind("config", config_variables(judge.config))
        try:
            fired = evaluate(custom.compiled, bound)
            message = custom.message or custom.rule.title
            hint = custom.rule.fix or None  # the policy's `fix:` says what to do
        except CelProblem as problem:
            fired = True
            message = (f"custom rule {custom.id} could not be evaluated, so it fails closed: "
                       f"{problem.message}")
            hint = _hint(problem)
        if fired:
            location, pointer = config_place(judge.config, custom, bound)
            judge.emit(custom.policy_rule, active, message, location, pointer, hint=hint)


def _hint(problem: CelProblem) -> str | None:
    return _HAS_HINT if "not found" in problem.message.lower() else None
