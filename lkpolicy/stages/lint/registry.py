"""Lint checks as units: each check is registered with the rules it can emit, so that a check
runs only when the selection asks for one of its rules (as in `stages.policy.engine`), and
always when it can report an error that stops the build."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lkpolicy.model.config import Config
from lkpolicy.model.findings import Finding
from lkpolicy.model.rules import Rule

Check = Callable[[Config], Iterator[Finding]]

@dataclass(frozen=True, slots=True)
class LintCheck:
    rules: tuple[Rule, ...]
    """Every rule the check can emit."""
    run: Check
    may_block: bool
    """It can report an error that blocks the build (`Rule.blocks_build`, or a finding raised
    to an error), which no selection can hide: it runs whatever the selection."""

    def runs(self, chosen: Callable[[str], bool]) -> bool:
        return self.may_block or any(chosen(rule.id) for rule in self.rules)


CHECKS: list[LintCheck] = []
"""Filled by the family modules as they are imported (`lint_check`)."""


def lint_check(*rules: Rule, raises_to_error: bool = False) -> Callable[[Check], Check]:
    """Register a check with every rule it emits. `raises_to_error`: the check reports some
    findings of a rule whose default severity is lower as errors, which block the build."""
    def register(function: Check) -> Check:
        may_block = raises_to_error or any(rule.blocks_build for rule in rules)
        CHECKS.append(LintCheck(rules, function, may_block))
        return function
    return register


def registered_checks() -> list[LintCheck]:
    """Every lint check; importing the module of a family of traps registers its checks."""
    from lkpolicy.stages.lint import containers, decoding, files, images, mounts  # noqa: F401

    return CHECKS
