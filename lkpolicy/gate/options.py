"""What a gate run is asked to do: the options every command that runs the gate shares."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.rules import blocks_build, build_family

if TYPE_CHECKING:
    from lkpolicy.gate.exclude import Exclusion
    from lkpolicy.stages.pkglabels import PackageLabels
    from lkpolicy.stages.policy.discovery import PolicyFinder
    from lkpolicy.stages.policy.model import Policy
    from lkpolicy.store.location import ImageOptions


class UsageError(Exception):
    """A gate option that cannot be honoured (exit code 2); `str()` is the one-line reason."""


@dataclass(slots=True)
class PolicyChoice:
    """`--policy FILE`, or None to discover `.lkpolicy.yml` (else the built-in default)."""

    explicit: str | None = None
    offline: bool = False
    """The trust stage uses cached trust metadata only (still checking expiry and rollback)."""
    trust_cache: str | None = None
    _loaded: dict[str, Policy] = field(default_factory=dict)
    _finder: PolicyFinder | None = None
    _specs: dict[str, str] = field(default_factory=dict)

    def spec_for(self, config_directory: str) -> str:
        """The policy spec for configs in `config_directory` (`find_policy`): discovered once
        per directory and run, as the gate, the result cache and the workers all ask."""
        if self.explicit:
            return self.explicit
        if config_directory not in self._specs:
            if self._finder is None:
                from lkpolicy.stages.policy.discovery import PolicyFinder

                self._finder = PolicyFinder()
            self._specs[config_directory] = self._finder.find(config_directory)
        return self._specs[config_directory]

    def load(self, spec: str) -> Policy:
        """One load per policy file and run: a directory of configs usually shares one policy."""
        if spec not in self._loaded:
            from lkpolicy.stages.policy.loader import load_policy_file

            self._loaded[spec] = load_policy_file(spec)
        return self._loaded[spec]


@dataclass(frozen=True, slots=True)
class RuleSelection:
    """`--select` and `--ignore`, validated against the rule catalogue (codes outside the LK
    families name custom rules: the gate checks them against the policies it loads).

    A check whose rules are all deselected does not run; rules that mark a config linuxkit
    cannot build (`Rule.blocks_build`) can be neither ignored nor left out of a selection."""

    select: frozenset[str] | None = None
    """Rule IDs or ID prefixes (`LKP1`); None selects every rule."""
    ignore: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, select: list[str] | None, ignore: list[str] | None,
              names: tuple[str, str] = ("--select", "--ignore")) -> RuleSelection:
        """Raises `UsageError` for a code that names no rule; `names` are what the messages
        call the two lists (the options, or the keys of a configuration file)."""
        from lkpolicy.model.rules import known_rule_ids

        known = known_rule_ids()

        def codes(values: list[str] | None, option: str, ignoring: bool) -> frozenset[str]:
            found: set[str] = set()
            for value in values or []:
                for part in value.split(","):
                    code = part.strip().upper()
                    if not code:
                        continue
                    if custom_code(code):
                        found.add(code)  # checked against the policies by the gate
                        continue
                    if code != "ALL" and not any(rule.startswith(code) for rule in known):
                        raise UsageError(f"{option} {part.strip()}: no rule has this ID or "
                                         "prefix; `lkpolicy rules` lists them")
                    if ignoring and code in known and _blocking_rule(code):
                        raise UsageError(f"{option} {code}: its errors mean the config cannot "
                                         "be built, so they cannot be ignored")
                    found.add(code)
            return frozenset(found)

        chosen = codes(select, names[0], False)
        return cls(None if not chosen or "ALL" in chosen else chosen,
                   codes(ignore, names[1], True))

    @property
    def custom_codes(self) -> list[tuple[str, str]]:
        """(option, code) for each code that can only name a custom rule of a policy."""
        return [(option, code) for option, codes in (("--select", self.select or ()),
                                                      ("--ignore", self.ignore))
                for code in sorted(codes) if custom_code(code)]

    def chosen(self, rule_id: str) -> bool:
        """Whether the selection asks for this rule's findings."""
        if any(code == "ALL" or rule_id.startswith(code) for code in self.ignore):
            return False
        return self.select is None or any(rule_id.startswith(code) for code in self.select)

    def runs(self, rule_id: str) -> bool:
        """Whether the rule's check must run: chosen, or of a family that can block the build
        (its errors are reported whatever the selection)."""
        return build_family(rule_id) or self.chosen(rule_id)

    def reports(self, finding: Finding) -> bool:
        return blocks_build(finding.rule_id, finding.severity) or self.chosen(finding.rule_id)


_CUSTOM_CODE = re.compile(r"[A-Z]{1,12}[0-9]{0,6}")


def custom_code(code: str) -> bool:
    """Whether a `--select`/`--ignore` code can only name custom rules: a prefix outside
    lkpolicy's LK families (custom rules are defined by policies, which the gate loads)."""
    if code.startswith("LK") or "LK".startswith(code) or code == "ALL":
        return False
    return _CUSTOM_CODE.fullmatch(code) is not None


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(slots=True)
class GateOptions:
    merge: bool = False
    """All files form one config, as `linuxkit build a.yml b.yml` merges them."""
    images: ImageOptions | None = None
    """Where images come from; None skips the image cache (`--no-images`: the YAML alone)."""
    policy: PolicyChoice | None = None
    """None skips the policy and trust stages (`--no-policy`)."""
    waivers: bool = True
    """Inline and policy waivers apply (`--no-waivers` shows everything)."""
    selection: RuleSelection = field(default_factory=RuleSelection)
    baseline: str | None = None
    fail_on: Severity | None = Severity.ERROR
    """The lowest severity that fails the gate; None never fails on findings."""
    use_result_cache: bool = True
    packages: PackageLabels | None = None
    """Labels from package sources (`check --labels-from`): they replace the labels of the
    images they name."""
    exact_fixes: bool = False
    """A finding keeps its fix only where `check --fix` applies it to the judged text: what
    the reports that mark fixable findings (text, JSON) need. It costs another reading of
    each file that has fixes, so the other uses of the gate (SARIF, build, lock) skip it."""
    at: datetime.datetime = field(default_factory=utc_now)
    """The moment the gate judges at (UTC, `--at`): waiver expiry, and every trust verifier
    (signatures, metadata expiry, certificates)."""
    exclude: Exclusion | None = None
    """Configs left out of the directories walked (`exclude`)."""
    force_exclude: bool = False
    """`exclude` also leaves out files named on the command line (`--force-exclude`)."""
    stdin_name: str | None = None
    """What standard input (`-`) stands for (`--stdin-filename`): its findings name it, and its
    policy is discovered from its directory. It is still read as standard input (linuxkit
    applies no templates to it), and its result is never cached."""

    @property
    def today(self) -> datetime.date:
        """Waiver expiry dates are calendar days in UTC, whatever the machine's time zone."""
        return self.at.astimezone(datetime.UTC).date()


def _blocking_rule(rule_id: str) -> bool:
    from lkpolicy.model.rules import get_rule

    rule = get_rule(rule_id)
    return rule is not None and rule.blocks_build
