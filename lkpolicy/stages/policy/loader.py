"""Reading policy files: discovery, `extends` chains, schema validation, positions.

Policy files are YAML read by the config loader, so every problem has file:line:col. A broken
policy is an input error (exit code 2): judging configs with half a policy would pass what the
policy was written to stop.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.model.document import Document, join_pointer
from lkpolicy.model.findings import Finding, InputError, Location, Severity
from lkpolicy.stages.policy.discovery import (
    BUILTIN_DIR,
    BUILTIN_PREFIX,
    DEFAULT,
    builtin_path,
    find_policy,
)
from lkpolicy.stages.policy.model import (
    ATTESTATION_AUTHORITY_TYPES,
    FILE_AUTHORITY_TYPES,
    Authority,
    Identity,
    Override,
    Policy,
    RuleSetting,
    Selector,
    TrustPolicy,
    TrustRule,
)
from lkpolicy.stages.policy.rules import (
    POLICY_BAD_OPTION,
    POLICY_EXTENDS_CYCLE,
    POLICY_EXTENDS_MISSING,
    POLICY_EXTENDS_OUTSIDE,
    POLICY_RULES,
    POLICY_UNREADABLE,
)
from lkpolicy.stages.policy.validation import SCHEMA_PATH, validate_policy

if TYPE_CHECKING:
    # Loaded by the functions that read a `trust:` section: most policies have none.
    from lkpolicy.stages.trust.attest.conditions import AttestationCondition
    from lkpolicy.stages.trust.requirements import Ask, Requirement

__all__ = ["SCHEMA_PATH", "load_policy", "load_policy_file", "read_check_section"]


def load_policy(path: str | Path | None, config_dir: str | Path = ".") -> Policy:
    """The policy for configs in `config_dir`: `path` if given, else the discovered one.
    Raises `InputError` (LKP0xx findings) for a broken policy."""
    spec = find_policy(str(path) if path is not None else None, config_dir)
    return load_policy_file(spec)


def load_policy_file(spec: str) -> Policy:
    """The policy of `spec` (a path or `builtin:NAME`) with everything it extends.

    Each file of the `extends` graph is read once and applied once, after everything it
    extends (a file reached on two paths keeps its first place), so a diamond of any depth
    costs one read per file. `extends` may name only built-in policies and files inside the
    repository of `spec` (or its own directory tree outside a repository)."""
    chain = _Chain(spec)
    policy = Policy()
    for document, own_spec in chain.files:
        policy.extend(_own(document, own_spec))
    _check_trust_names(policy.trust)
    named = [*policy.rules, *(key for override in policy.overrides for key in override.rules)]
    if policy.custom_rules or any(not key.startswith("LK") for key in named):
        from lkpolicy.stages.policy.custom.parse import check_custom_rule_ids

        check_custom_rule_ids(policy)
    return policy


def read_check_section(path: str) -> dict[str, Any] | None:
    """The `check:` section of the policy file at `path` (defaults for `lkpolicy check`),
    validated with the rest of the file by the policy schema; None when it has none. Raises
    `InputError` for a file that is not a valid policy."""
    document = _read(path)
    validate_policy(document)
    section = document.data.get("check") if isinstance(document.data, dict) else None
    return section if isinstance(section, dict) else None


POLICY_KEYS = ("extends", "rules", "overrides", "trust", "waivers", "custom_rules", "check")
"""The top-level keys of a policy file (tests check them against the schema)."""
_POLICY_KEY_TEXT = re.compile(r"(?:^|[{,\s])[\"']?(?:" + "|".join(POLICY_KEYS) + r")[\"']?\s*:",
                              re.MULTILINE)


class _Chain:
    """The policy files of `spec` in the order they apply: a depth-first walk of `extends`."""

    def __init__(self, spec: str) -> None:
        self.files: list[tuple[Document, str]] = []
        self._done: set[Path] = set()
        top = _resolve(spec, Path.cwd(), None, "")
        self.root = confinement_root(top)
        self._visit(spec, top, [], None)

    def _visit(self, spec: str, path: Path, stack: list[Path],
               at: tuple[Location, str] | None) -> None:
        real = Path(os.path.realpath(path))
        if real in self._done:
            return
        if real in stack:
            location, pointer = at if at else (Location(spec), "")
            chain = " -> ".join(str(p) for p in [*stack[stack.index(real):], real])
            raise InputError(POLICY_EXTENDS_CYCLE.finding(
                f"`extends` closes a cycle: {chain}", location, pointer,
                hint="remove one of the `extends` entries that close the cycle"))
        document = _read(str(path))
        validate_policy(document)
        data: dict[str, Any] = document.data
        extends = data.get("extends")
        if extends is None:
            extends = [] if real == (BUILTIN_DIR / "default.yml").resolve() else [DEFAULT]
            extends_pointer: str | None = None
        else:
            extends_pointer = "/extends"
        for index, parent in enumerate(extends):
            item_pointer = join_pointer(extends_pointer, index) if extends_pointer else ""
            item_at = (document.location(item_pointer), item_pointer)
            parent_path = _resolve(parent, real.parent, *item_at)
            if not parent.startswith(BUILTIN_PREFIX):
                self._confine(parent, parent_path, *item_at)
            self._visit(parent, parent_path, [*stack, real], item_at)
        self.files.append((document, spec))
        self._done.add(real)

    def _confine(self, spec: str, path: Path, at: Location, pointer: str) -> None:
        """Refused before it is read: a policy that could name any file would print that
        file's keys in its findings."""
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(self.root):
            raise InputError(POLICY_EXTENDS_OUTSIDE.finding(
                f"`extends` names `{spec}`, which is outside {self.root}; a policy may extend "
                "only `builtin:` policies and files inside its repository", at, pointer,
                hint=f"copy the policy into {self.root}, or extend a `builtin:` policy"))


def confinement_root(policy: Path) -> Path:
    """Where the files a policy extends must be: its repository (the nearest directory above
    it that holds `.git`), else its own directory; built-ins extend only built-ins."""
    start = Path(os.path.realpath(policy)).parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


def _resolve(spec: str, base_dir: Path, at: Location | None, pointer: str) -> Path:
    if spec.startswith(BUILTIN_PREFIX):
        found = builtin_path(spec)
        if found is None:
            names = ", ".join(sorted(BUILTIN_PREFIX + p.stem for p in BUILTIN_DIR.glob("*.yml")))
            raise InputError(POLICY_EXTENDS_MISSING.finding(
                f"unknown built-in policy `{spec}` (known: {names})",
                at or Location(spec), pointer,
                hint=_close_builtin(spec, names.split(", "))))
        return found
    path = Path(spec)
    if not path.is_absolute():
        path = base_dir / path
    if at is not None and not path.is_file():
        raise InputError(POLICY_EXTENDS_MISSING.finding(
            f"`{spec}` not found (looked for {path})", at, pointer,
            hint="give a path relative to this policy file, or `builtin:default` or "
                 "`builtin:strict`"))
    return path


def _close_builtin(spec: str, names: list[str]) -> str:
    from lkpolicy.stages.policy.schemamessages import did_you_mean

    return did_you_mean(spec, names, 0.6) or f"write one of {', '.join(names)}"


def _read(path: str) -> Document:
    """A policy document; a file that is not a policy is refused without a word of its
    content (no key, no value, no YAML error that quotes it)."""
    from lkpolicy.stages.load import load_document, read_source
    from lkpolicy.stages.policy.builtins import builtin_document

    builtin = builtin_document(path)
    if builtin is not None:
        return builtin

    try:
        raw, _from_file = read_source(path)
    except InputError as error:
        raise _unreadable(error) from None
    try:
        document, _warnings = load_document(path, raw)
    except InputError as error:
        if not _mentions_policy_keys(raw):
            first = error.findings[0]
            raise InputError(POLICY_UNREADABLE.finding(
                f"not a policy file: it does not parse ({first.rule_id}) and names none of the "
                f"policy keys ({', '.join(POLICY_KEYS)})", first.location)) from None
        raise _unreadable(error) from None
    data = document.data
    if isinstance(data, dict) and data and not any(key in data for key in POLICY_KEYS):
        raise InputError(POLICY_UNREADABLE.finding(
            f"not a policy file: its top level has none of the policy keys "
            f"({', '.join(POLICY_KEYS)})", Location(path)))
    return document


def _unreadable(error: InputError) -> InputError:
    return InputError(*[POLICY_UNREADABLE.finding(
        f"policy file: {finding.message} ({finding.rule_id})", finding.location,
        finding.pointer, related=finding.related) for finding in error.findings])


def _mentions_policy_keys(raw: bytes) -> bool:
    return _POLICY_KEY_TEXT.search(raw.decode("utf-8", "replace")) is not None


def _own(document: Document, spec: str) -> Policy:
    data: dict[str, Any] = document.data
    policy = Policy(sources=[spec if spec.startswith(BUILTIN_PREFIX) else document.path])
    policy.rules = _rules(document, data.get("rules") or {}, "/rules")
    if data.get("custom_rules"):
        from lkpolicy.stages.policy.custom.parse import add_custom_rules

        add_custom_rules(policy, document, data["custom_rules"])
    for index, raw in enumerate(data.get("overrides") or []):
        pointer = f"/overrides/{index}"
        match = raw["match"]
        selector = Selector(_tuple(match.get("image")), _tuple(match.get("section")),
                            _tuple(match.get("name")))
        policy.overrides.append(Override(
            selector, _rules(document, raw["rules"], pointer + "/rules"),
            document.location(pointer)))
    if isinstance(data.get("trust"), dict):
        policy.trust = _trust(document, data["trust"])
    if "waivers" in data:
        from lkpolicy.stages.waivers import parse_policy_waivers

        waivers, problems = parse_policy_waivers(data["waivers"], document, "/waivers")
        # A malformed waiver would silently suppress the wrong findings or none: refuse it.
        errors = [f for f in problems if f.severity is Severity.ERROR]
        if errors:
            raise InputError(*errors)
        policy.waivers = waivers
    return policy


def _trust(document: Document, raw: dict[str, Any]) -> TrustPolicy:
    base = Path(os.path.abspath(document.path)).parent
    trust = TrustPolicy()
    for name, entry in (raw.get("authorities") or {}).items():
        pointer = join_pointer("/trust/authorities", name)
        trust.authorities[name] = _authority(document, name, entry, pointer, base)
    for index, entry in enumerate(raw.get("rules") or []):
        pointer = f"/trust/rules/{index}"
        trust.rules.append(TrustRule(
            _tuple(entry.get("images")),
            _requirement(document, entry["require"], pointer + "/require"),
            document.location(pointer), files=_tuple(entry.get("files")),
            signatures=tuple(_signature_template(document, template, base,
                                                 f"{pointer}/signature")
                             for template in _tuple(entry.get("signature")))))
    if raw.get("default_authority") is not None:
        trust.default_authority = raw["default_authority"]
        trust.default_location = document.location("/trust/default_authority")
    return trust


def _requirement(document: Document, raw: Any, pointer: str) -> Requirement:
    """`NAME`, `{authority: NAME, signers: [...]}`, `{authority: NAME, attestation: {...}}`,
    `{all: [...]}` or `{any: [...]}`, nested."""
    from lkpolicy.stages.trust.requirements import AllOf, AnyOf, Ask, Signed

    location = document.location(pointer)
    if isinstance(raw, str):
        return Signed(Ask(raw), location)
    if "attestation" in raw:
        return Signed(Ask(raw["authority"], attestation=_attestation(
            document, raw["attestation"], join_pointer(pointer, "attestation"))), location)
    if "authority" in raw:
        return Signed(Ask(raw["authority"], tuple(raw.get("signers") or ())), location)
    mode = "all" if "all" in raw else "any"
    children = tuple(_requirement(document, item, join_pointer(join_pointer(pointer, mode),
                                                                index))
                     for index, item in enumerate(raw[mode]))
    return AllOf(children, location) if mode == "all" else AnyOf(children, location)


def _attestation(document: Document, raw: dict[str, Any], pointer: str) -> AttestationCondition:
    """An attestation condition, its regular expressions compiled now (LKP005 at the value)."""
    from lkpolicy.stages.trust.attest.conditions import condition_from_policy
    from lkpolicy.stages.trust.errors import ConditionError

    try:
        return condition_from_policy(raw)
    except ConditionError as error:
        where = pointer + error.key
        raise InputError(POLICY_BAD_OPTION.finding(
            f"attestation: {error}", document.location(where), where)) from None


def _signature_template(document: Document, template: str, base: Path, pointer: str) -> str:
    """A file signature's path template, checked; relative paths start at the policy file."""
    from lkpolicy.stages.trust.files import check_template

    problem = check_template(template)
    if problem is not None:
        raise InputError(POLICY_BAD_OPTION.finding(
            f"signature path `{template}`: {problem}", document.location(pointer), pointer))
    if template.startswith("{source}") or os.path.isabs(template):
        return template
    return str(base / template)


def _authority(document: Document, name: str, raw: dict[str, Any], pointer: str,
               base: Path) -> Authority:
    def path(value: Any) -> str | None:
        return None if value is None else str(base / Path(value).expanduser())

    identities = []
    for index, item in enumerate(raw.get("identities") or []):
        if item.get("subject_regex") is not None:
            _check_regexes(document, [item["subject_regex"]],
                           join_pointer(pointer, "identities") + f"/{index}/subject_regex",
                           single=True)
        identities.append(Identity(item["issuer"], item.get("subject"),
                                   item.get("subject_regex")))
    repository = raw.get("repository")
    if isinstance(repository, str) and "://" not in repository:
        # A plain path names a repository on disk, like every other path in the policy.
        repository = (base / Path(repository).expanduser()).resolve().as_uri()
    return Authority(
        name, raw["type"], document.location(pointer, key=True),
        server=raw.get("server"), ca=path(raw.get("ca")),
        root_keys=tuple(raw.get("root_keys") or ()),
        root_cert_ids=tuple(key.lower() for key in raw.get("root_cert_ids") or ()),
        pin_mode=raw.get("pin_mode", "narrow"),
        pin_store=path(raw.get("pin_store")), repository=repository, root=path(raw.get("root")),
        trusted_root=path(raw.get("trusted_root")), identities=tuple(identities),
        keys=tuple(str(base / Path(key).expanduser()) for key in raw.get("keys") or ()))


def _check_trust_names(trust: TrustPolicy) -> None:
    """Names are checked once the whole `extends` chain is read: a rule may use an authority
    that a parent policy defines. So are the uses an authority type cannot serve: named
    signers of anything but Notary, local files with an authority that signs no blobs, and
    attestations with one that signs none."""
    findings: list[Finding] = []
    wanted: list[tuple[Ask, TrustRule | None]] = [
        (ask, rule) for rule in trust.rules for ask in rule.require.asks()]
    if trust.default_authority is not None:
        from lkpolicy.stages.trust.requirements import Ask

        wanted.append((Ask(trust.default_authority), None))
    for ask, rule in wanted:
        location = (rule.require.location if rule is not None else trust.default_location) \
            or Location("policy")
        authority = trust.authorities.get(ask.authority)
        if authority is None:
            from lkpolicy.stages.policy.schemamessages import did_you_mean

            known = ", ".join(sorted(trust.authorities)) or "none"
            findings.append(POLICY_BAD_OPTION.finding(
                f"unknown trust authority `{ask.authority}` (defined: {known})", location,
                hint=did_you_mean(ask.authority, trust.authorities)))
        elif ask.attestation is not None and rule is not None and rule.files:
            findings.append(POLICY_BAD_OPTION.finding(
                "attestations are about images: a `files` rule cannot require one", location))
        elif ask.attestation is not None and authority.type not in ATTESTATION_AUTHORITY_TYPES:
            findings.append(POLICY_BAD_OPTION.finding(
                f"trust authority `{ask.authority}` ({authority.type}) cannot vouch for "
                f"attestations: use a {' or '.join(ATTESTATION_AUTHORITY_TYPES)} authority",
                location))
        elif ask.signers and authority.type != "notary":
            findings.append(POLICY_BAD_OPTION.finding(
                f"trust authority `{ask.authority}` ({authority.type}) has no delegation "
                f"roles: `signers` needs a notary authority", location))
        elif rule is not None and rule.files and authority.type not in FILE_AUTHORITY_TYPES:
            findings.append(POLICY_BAD_OPTION.finding(
                f"trust authority `{ask.authority}` ({authority.type}) cannot vouch for local "
                f"files: use a {' or '.join(FILE_AUTHORITY_TYPES)} authority", location))
    if findings:
        raise InputError(*findings)


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _rules(document: Document, raw: dict[str, Any], pointer: str) -> dict[str, RuleSetting]:
    settings: dict[str, RuleSetting] = {}
    for rule_id, value in raw.items():
        rule_pointer = join_pointer(pointer, rule_id)
        location = document.location(rule_pointer, key=True)
        if isinstance(value, str):
            settings[rule_id] = RuleSetting(value, {}, location)
            continue
        options = {key: item for key, item in value.items() if key != "severity"}
        for name, item in options.items():
            option = POLICY_RULES[rule_id].options[name]
            if option.regex:
                _check_regexes(document, item, join_pointer(rule_pointer, name))
        settings[rule_id] = RuleSetting(value.get("severity"), options, location)
    return settings


def _check_regexes(document: Document, patterns: list[str], pointer: str,
                   single: bool = False) -> None:
    """Each pattern compiled for linear-time matching now, so that one the matcher cannot
    run with Python's meaning stops the policy here, not a check later."""
    from lkpolicy.linearregex import PatternError, compile_pattern

    for index, pattern in enumerate(patterns):
        try:
            compile_pattern(pattern)
        except PatternError as error:
            item = pointer if single else join_pointer(pointer, index)
            raise InputError(POLICY_BAD_OPTION.finding(
                f"`{pattern}` is {error}" if str(error).startswith("not ") else
                f"`{pattern}` cannot be used: {error}",
                document.location(item), item)) from None
