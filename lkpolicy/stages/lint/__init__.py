"""Lint: the traps that linuxkit accepts silently, or only reports deep into a build.

Each rule is one unit, as ruff's are: it is defined next to its check, in the module of its
family of traps (`decoding`, `containers`, `mounts`, `files`, `images`), and the check is
registered with every rule it can emit (`registry.lint_check`). So the rule selection decides
which checks run at all, and the catalogue (`explain`, `rules`, SARIF, docs/rules.md) reads the
same definitions. Each check reads the merged config (the model with positions) and judges only
values of the type the schema requires: a value of the wrong type is already a schema finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lkpolicy.model.config import Config
    from lkpolicy.model.findings import Finding


def lint(config: Config, chosen: Callable[[str], bool] | None = None) -> list[Finding]:
    """The lint findings on `config`.

    `chosen` is the rule selection (`RuleSelection.chosen`, from `--select`/`--ignore`); a
    check none of whose rules is chosen does not run, unless it can report an error that
    blocks the build: those are reported whatever the selection. None runs every check."""
    from lkpolicy.stages.lint.registry import registered_checks

    findings: list[Finding] = []
    for check in registered_checks():
        if chosen is None or check.runs(chosen):
            findings.extend(check.run(config))
    return findings
