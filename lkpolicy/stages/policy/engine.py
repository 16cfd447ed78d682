"""Judge a config against a policy. Pure: no files, no network, no image reads.

A container is judged by its effective config only (config.json: the YAML merged with the
image label, from the containers stage), through the one reading of it in
`lkpolicy.stages.effective.grants`. A finding points at the YAML node that grants the power;
when the image label (or a linuxkit default) grants it, the finding points at the container's
`image:` line and says so, because that is the line a reviewer must look behind.

Each check is one unit registered with the rules it can emit (as ruff's rules are): a check
runs only when the policy and the rule selection leave at least one of its rules on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from lkpolicy.model.config import Config
from lkpolicy.model.document import escape_pointer_token
from lkpolicy.model.findings import Finding, Location
from lkpolicy.stages.effective import Origin, Provenance
from lkpolicy.stages.policy.model import Active, Policy, Subject
from lkpolicy.stages.policy.rules import PolicyRule

if TYPE_CHECKING:
    from lkpolicy.model.fixes import Fix
    from lkpolicy.stages.containers import Container
    from lkpolicy.stages.effective.grants import Grants
    from lkpolicy.stages.images import ImageUse


# Place, Target and Check are NamedTuples rather than dataclasses, as the grants are
# (`lkpolicy.stages.effective.grants`): every check that runs the policy defines them.


class Place(NamedTuple):
    location: Location
    pointer: str
    source: str
    """'' when the YAML grants it, else ` by the image label of X, not by the YAML` etc."""

    @property
    def by_yaml(self) -> bool:
        """The YAML entry itself grants it (the fix is an edit there)."""
        return not self.source


class Target(NamedTuple):
    """One container as the checks see it: its subject for selectors, and its grants."""

    container: Container
    grants: Grants

    @property
    def subject(self) -> Subject:
        c = self.container
        return Subject(c.section, c.name, c.reference)

    @property
    def image_text(self) -> str:
        c = self.container
        if c.reference is not None:
            return c.reference.expanded
        image = c.entry.get("image")
        return image if isinstance(image, str) else "?"

    @property
    def described(self) -> str:
        return described(self.subject)


def described(subject: Subject) -> str:
    if subject.section == "kernel":
        return "the kernel"
    if subject.section == "init":
        return "the init"
    return f"{subject.section} `{subject.name}`"


class Judge:
    """What the checks share: the policy, the rule selection and the findings so far."""

    def __init__(self, config: Config, policy: Policy, selected: Callable[[str], bool],
                 digests: Mapping[str, str] | None = None,
                 uses: list[ImageUse] | None = None) -> None:
        self.config = config
        self.policy = policy
        self.selected = selected
        self.digests = digests or {}
        """Expanded reference -> the digest of the image the build will use (its root entry
        in the image cache), for the fixes that pin references."""
        self.findings: list[Finding] = []
        self._uses = uses
        self._scoped = {rule for override in policy.overrides for rule in override.rules}
        self._unscoped: dict[str, Active | None] = {}
        """How each rule that no override names applies: the same to every subject."""

    @property
    def image_uses(self) -> list[ImageUse]:
        """Every image reference of the config (the image stage's, when it passed them on)."""
        if self._uses is None:
            from lkpolicy.stages.images import image_uses

            self._uses = image_uses(self.config)
        return self._uses

    def active(self, rule: PolicyRule, subject: Subject) -> Active | None:
        rule_id = rule.id
        if rule_id in self._unscoped:
            return self._unscoped[rule_id]
        if not self.selected(rule_id):
            active = None
        else:
            active = self.policy.active(rule_id, subject, rule.rule.severity, rule.defaults())
            if rule_id in self._scoped:
                return active  # overrides may select this subject: not the same for others
        self._unscoped[rule_id] = active
        return active

    def emit(self, rule: PolicyRule, active: Active, message: str, location: Location,
             pointer: str, hint: str | None = None, fix: Fix | None = None) -> None:
        self.findings.append(rule.rule.finding(message, location, pointer, hint=hint,
                                               severity=active.severity, fix=fix))

    def place(self, target: Target, provenance: Provenance, extra: str | None = None,
              effective_pointer: str = "") -> Place:
        node = target.container.node
        if provenance.origin is Origin.YAML and provenance.pointer is not None:
            pointer = node.pointer + provenance.pointer
            if extra is not None:
                # A mapping entry: its key names it, the value is just a string.
                pointer += "/" + escape_pointer_token(extra)
                return Place(node.document.location(pointer, key=True), pointer, "")
            return Place(node.document.location(pointer), pointer, "")
        anchor = target.container.image_node
        where = f" (config.json {effective_pointer})" if effective_pointer else ""
        package = target.container.package
        if provenance.origin is Origin.LABEL and package is not None:
            # The label comes from a package source (`--labels-from`): name its line there.
            source = (f" by the label from {package.location(provenance.pointer)} (package "
                      f"of {target.image_text}), not by the YAML{where}")
        elif provenance.origin is Origin.LABEL:
            source = f" by the image label of {target.image_text}, not by the YAML{where}"
        elif provenance.origin is Origin.IMAGE:
            source = f" by the image config of {target.image_text}, not by the YAML{where}"
        else:
            return Place(node.location, node.pointer, "")
        return Place(anchor.location, anchor.pointer, source)


ContainerCheck = Callable[[Judge, Target], None]
ConfigCheck = Callable[[Judge], None]


class Check(NamedTuple):
    rules: tuple[PolicyRule, ...]
    run_container: ContainerCheck | None = None
    run_config: ConfigCheck | None = None


CHECKS: list[Check] = []
"""Filled by the check modules as they are imported (`register`)."""


def container_check(*rules: PolicyRule) -> Callable[[ContainerCheck], ContainerCheck]:
    def register(function: ContainerCheck) -> ContainerCheck:
        CHECKS.append(Check(rules, run_container=function))
        return function
    return register


def config_check(*rules: PolicyRule) -> Callable[[ConfigCheck], ConfigCheck]:
    def register(function: ConfigCheck) -> ConfigCheck:
        CHECKS.append(Check(rules, run_config=function))
        return function
    return register


def _load_checks() -> list[Check]:
    import lkpolicy.stages.policy.config_checks
    import lkpolicy.stages.policy.container_checks  # noqa: F401 - registers its checks

    return CHECKS


def _checks(policy: Policy) -> list[Check]:
    """The registered checks, then one per custom rule of the policy."""
    if not policy.custom_rules:
        return _load_checks()
    from lkpolicy.stages.policy.custom.checks import custom_checks

    return [*_load_checks(), *custom_checks(policy)]


def evaluate(config: Config, containers: list[Container], policy: Policy,
             selected: Callable[[str], bool] | None = None,
             digests: Mapping[str, str] | None = None,
             uses: list[ImageUse] | None = None) -> list[Finding]:
    """The policy's findings on `config` and its containers (from the containers stage).

    `selected` is the rule selection (`--select`/`--ignore`); a check none of whose rules is
    selected, or named by the policy, does not run. The policy's custom rules run as checks
    of their own (`lkpolicy.stages.policy.custom`). `digests`: expanded reference -> the
    digest the image stage resolved (`Resolution.digests`), which pinning fixes write; `uses`:
    the config's image uses as the image stage found them (`Resolution.uses`), None finds them
    again."""
    from lkpolicy.stages.effective.grants import grants_of

    judge = Judge(config, policy, selected or (lambda _rule: True), digests, uses)
    named = set(policy.rules) | {rule for o in policy.overrides for rule in o.rules}
    checks = [check for check in _checks(policy)
              if any(rule.id in named and judge.selected(rule.id) for rule in check.rules)]
    targets = [Target(c, grants_of(c.effective, c.entry))
               for c in containers if c.effective is not None]
    for check in checks:
        if check.run_config is not None:
            check.run_config(judge)
        if check.run_container is not None:
            for target in targets:
                check.run_container(judge, target)
    return sorted(judge.findings, key=Finding.sort_key)
