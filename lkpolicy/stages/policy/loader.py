"""Reading policy files: discovery, `extends` chains, schema validation, positions.

Policy files are YAML read by the config loader, so every problem has file:line:col. A broken
policy is an input error (exit code 2): judging configs with half a policy would pass what the
policy was written to stop.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
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
    POLICY_RULES,
    POLICY_UNREADABLE,
)
from lkpolicy.stages.trust.requirements import AllOf, AnyOf, Ask, Requirement, Signed

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "data" / "schemas" / "policy.schema.json"


def load_policy(path: str | Path | None, config_dir: str | Path = ".") -> Policy:
    """The policy for configs in `config_dir`: `path` if given, else the discovered one.
    Raises `InputError` (LKP0xx findings) for a broken policy."""
    spec = find_policy(str(path) if path is not None else None, config_dir)
    return load_policy_file(spec)


def load_policy_file(spec: str) -> Policy:
    policy = _load(spec, Path.cwd(), [], None)
    _check_trust_names(policy.trust)
    return policy


def _resolve(spec: str, base_dir: Path, at: Location | None, pointer: str) -> Path:
    if spec.startswith(BUILTIN_PREFIX):
        found = builtin_path(spec)
        if found is None:
            names = ", ".join(sorted(BUILTIN_PREFIX + p.stem for p in BUILTIN_DIR.glob("*.yml")))
            raise InputError(POLICY_EXTENDS_MISSING.finding(
                f"unknown built-in policy `{spec}` (known: {names})",
                at or Location(spec), pointer))
        return found
    path = Path(spec)
    if not path.is_absolute():
        path = base_dir / path
    if at is not None and not path.is_file():
        raise InputError(POLICY_EXTENDS_MISSING.finding(
            f"`{spec}` not found (looked for {path})", at, pointer))
    return path


def _load(spec: str, base_dir: Path, stack: list[Path], at: tuple[Location, str] | None) -> Policy:
    location, pointer = at if at else (None, "")
    path = _resolve(spec, base_dir, location, pointer)
    real = Path(os.path.realpath(path))
    if real in stack:
        chain = " -> ".join(str(p) for p in [*stack[stack.index(real):], real])
        assert location is not None
        raise InputError(POLICY_EXTENDS_CYCLE.finding(
            f"`extends` closes a cycle: {chain}", location, pointer))
    document = _read(str(path))
    _validate(document)
    data: dict[str, Any] = document.data
    extends = data.get("extends")
    if extends is None:
        extends = [] if real == (BUILTIN_DIR / "default.yml").resolve() else [DEFAULT]
        extends_pointer: str | None = None
    else:
        extends_pointer = "/extends"
    policy = Policy()
    for index, parent in enumerate(extends):
        item_pointer = join_pointer(extends_pointer, index) if extends_pointer else ""
        item_at = (document.location(item_pointer), item_pointer) if extends_pointer else (
            document.location(""), "")
        policy.extend(_load(parent, real.parent, [*stack, real], item_at))
    policy.extend(_own(document, spec))
    return policy


def _read(path: str) -> Document:
    from lkpolicy.stages.load import load_document

    try:
        document, _warnings = load_document(path)
    except InputError as error:
        raise InputError(*[POLICY_UNREADABLE.finding(
            f"policy file: {finding.message} ({finding.rule_id})", finding.location,
            finding.pointer, related=finding.related) for finding in error.findings]) from None
    return document


@cache
def _validator() -> Validator:
    from jsonschema.validators import validator_for

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator: Validator = validator_for(schema)(schema, format_checker=None)
    return validator


def _validate(document: Document) -> None:
    findings: list[Finding] = []
    for error in _validator().iter_errors(document.data):
        pointer = "".join(join_pointer("", part) for part in error.absolute_path)
        findings.extend(_schema_findings(document, pointer, error))
    if findings:
        findings.sort(key=Finding.sort_key)
        raise InputError(*findings)


def _schema_findings(document: Document, pointer: str, error: Any) -> list[Finding]:
    from lkpolicy.stages.policy.schemamessages import schema_findings

    return schema_findings(document, pointer, error)


def _own(document: Document, spec: str) -> Policy:
    data: dict[str, Any] = document.data
    policy = Policy(sources=[spec if spec.startswith(BUILTIN_PREFIX) else document.path])
    policy.rules = _rules(document, data.get("rules") or {}, "/rules")
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
    """`NAME`, `{authority: NAME, signers: [...]}`, `{all: [...]}` or `{any: [...]}`, nested."""
    location = document.location(pointer)
    if isinstance(raw, str):
        return Signed(Ask(raw), location)
    if "authority" in raw:
        return Signed(Ask(raw["authority"], tuple(raw.get("signers") or ())), location)
    mode = "all" if "all" in raw else "any"
    children = tuple(_requirement(document, item, join_pointer(join_pointer(pointer, mode),
                                                                index))
                     for index, item in enumerate(raw[mode]))
    return AllOf(children, location) if mode == "all" else AnyOf(children, location)


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
    signers of anything but Notary, and local files with an authority that signs no blobs."""
    findings: list[Finding] = []
    wanted: list[tuple[Ask, TrustRule | None]] = [
        (ask, rule) for rule in trust.rules for ask in rule.require.asks()]
    if trust.default_authority is not None:
        wanted.append((Ask(trust.default_authority), None))
    for ask, rule in wanted:
        location = (rule.require.location if rule is not None else trust.default_location) \
            or Location("policy")
        authority = trust.authorities.get(ask.authority)
        if authority is None:
            known = ", ".join(sorted(trust.authorities)) or "none"
            findings.append(POLICY_BAD_OPTION.finding(
                f"unknown trust authority `{ask.authority}` (defined: {known})", location,
                hint=did_you_mean(ask.authority, trust.authorities)))
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


def did_you_mean(word: str, choices: Any) -> str | None:
    from lkpolicy.stages.policy.schemamessages import did_you_mean as close

    return close(word, choices)


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
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as error:
            item = pointer if single else join_pointer(pointer, index)
            raise InputError(POLICY_BAD_OPTION.finding(
                f"`{pattern}` is not a valid regular expression: {error}",
                document.location(item), item)) from None
