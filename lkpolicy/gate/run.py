"""The gate as one pipeline: load -> validate -> merge -> lint (later: images, policy, trust).

Each stage is a module with one job; this module only sequences them and collects findings.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.model.config import Config, merge
from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, InputError, Severity

if TYPE_CHECKING:
    from lkpolicy.stages.images import ImageStage
    from lkpolicy.stages.policy.model import Policy
    from lkpolicy.stages.trust.stage import TrustResult
    from lkpolicy.store.location import ImageOptions

CONFIG_SUFFIXES = (".yml", ".yaml")
_CACHEABLE_BYTES = 1024 * 1024
"""Larger files skip the result cache (and the loader refuses them above its own limit)."""


@dataclass(slots=True)
class PolicyChoice:
    """`--policy FILE`, or None to discover `.lkpolicy.yml` (else the built-in default)."""

    explicit: str | None = None
    offline: bool = False
    """The trust stage uses cached trust metadata only (still checking expiry and rollback)."""
    trust_cache: str | None = None
    waivers: bool = True
    """Apply the policy's waivers (`--no-waivers` turns them off)."""
    _loaded: dict[str, Policy] = field(default_factory=dict)

    def load(self, spec: str) -> Policy:
        """One load per policy file and run: a directory of configs usually shares one policy."""
        if spec not in self._loaded:
            from lkpolicy.stages.policy.loader import load_policy_file

            self._loaded[spec] = load_policy_file(spec)
        return self._loaded[spec]


@dataclass(slots=True)
class GroupResult:
    """One linuxkit build's worth of files: one file, or several merged in order."""

    paths: list[str]
    config: Config | None
    findings: list[Finding] = field(default_factory=list)
    unreadable: bool = False
    images: ImageStage | None = None
    policy_files: list[str] = field(default_factory=list)
    """The policy files that judged this group (dependencies for the result cache)."""
    trust: TrustResult | None = None


@dataclass(slots=True)
class CheckResult:
    groups: list[GroupResult]
    documents: dict[str, Document]

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for group in self.groups for f in group.findings), key=Finding.sort_key)

    @property
    def files(self) -> list[str]:
        return [path for group in self.groups for path in group.paths]

    @property
    def unreadable(self) -> bool:
        return any(group.unreadable for group in self.groups)

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)


def expand_paths(arguments: Iterable[str]) -> list[str]:
    """Files as given; directories become their `*.yml`/`*.yaml` files, recursively and sorted."""
    paths: list[str] = []
    for argument in arguments:
        if argument != "-" and os.path.isdir(argument):
            found = sorted(
                str(path) for path in Path(argument).rglob("*")
                if path.suffix in CONFIG_SUFFIXES and path.is_file()
                and not any(part.startswith(".") for part in path.parts[len(Path(argument).parts):])
            )
            paths.extend(found)
        else:
            paths.append(argument)
    return paths


def load_group(paths: list[str], documents: dict[str, Document],
               contents: dict[str, bytes] | None = None) -> GroupResult:
    from lkpolicy.stages.load import load_document
    from lkpolicy.stages.validate import check_semantics, validate_document

    group = GroupResult(paths, None)
    loaded: list[Document] = []
    for path in paths:
        try:
            document, warnings = load_document(path, (contents or {}).get(path))
        except InputError as error:
            group.findings.extend(error.findings)
            group.unreadable = True
            _keep_text_for_display(path, documents)
            continue
        documents[path] = document
        loaded.append(document)
        group.findings.extend(warnings)
        group.findings.extend(validate_document(document))
        group.findings.extend(check_semantics(document))
    if group.unreadable:
        return group
    group.config = merge(loaded)
    return group


def _keep_text_for_display(path: str, documents: dict[str, Document]) -> None:
    """Unparsable files still get their source line shown under the finding."""
    from lkpolicy.stages.load import MAX_CONFIG_BYTES

    if path == "-":
        return
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError:
        return
    if len(raw) <= MAX_CONFIG_BYTES:
        documents[path] = Document(path, raw.decode("utf-8", "replace"), None)


def check_group(paths: list[str], documents: dict[str, Document],
                contents: dict[str, bytes] | None = None,
                images: ImageOptions | None = None,
                policy: PolicyChoice | None = None) -> GroupResult:
    from lkpolicy.stages.lint import lint
    from lkpolicy.stages.validate import check_merged

    group = load_group(paths, documents, contents)
    if group.config is None:
        return group
    if len(paths) > 1:
        group.findings.extend(check_merged(group.config))
    group.findings.extend(lint(group.config))
    if images is not None:
        from lkpolicy.stages.images import resolve_images

        group.images = resolve_images(group.config, images)
        group.findings.extend(group.images.findings)
    if policy is not None:
        _judge_by_policy(group, policy)
    return group


def _judge_by_policy(group: GroupResult, choice: PolicyChoice) -> None:
    from lkpolicy.stages.policy.discovery import find_policy, policy_file
    from lkpolicy.stages.policy.engine import evaluate

    assert group.config is not None
    spec = find_policy(choice.explicit, _config_dir(group.paths))
    try:
        policy = choice.load(spec)
    except InputError as error:
        group.findings.extend(error.findings)
        group.unreadable = True
        group.policy_files = [spec]
        return
    group.policy_files = [str(path) for source in policy.sources
                          if (path := policy_file(source)) is not None]
    group.findings.extend(evaluate(group.config, group.images, policy))
    # Nothing to verify without trust rules or a `trust:` section: skip the stage's imports.
    if policy.trust.rules or group.config.trust:
        from lkpolicy.stages.trust.stage import run_trust

        group.trust = run_trust(group.config, group.images, policy,
                                cache_dir=choice.trust_cache, offline=choice.offline)
        group.findings.extend(group.trust.findings)
    if policy.waivers and choice.waivers:
        from lkpolicy.model.rules import all_rules
        from lkpolicy.stages.waivers import apply_waivers, container_context

        outcome = apply_waivers(group.findings, policy.waivers, utc_today(),
                                context=container_context(group.config),
                                known_rules={rule.id for rule in all_rules()})
        group.findings = outcome.findings


def _config_dir(paths: list[str]) -> str:
    first = next((path for path in paths if path != "-"), None)
    return os.path.dirname(os.path.abspath(first)) if first else os.getcwd()


def run_check(arguments: list[str], *, merge_files: bool, use_cache: bool = True,
              images: ImageOptions | None = None,
              policy: PolicyChoice | None = None) -> CheckResult:
    """`images=None` skips the image stage (the YAML alone is judged, without saying so);
    `policy=None` skips the policy stage."""
    paths = expand_paths(arguments)
    documents: dict[str, Document] = {}
    if merge_files:
        groups = [check_group(paths, documents, images=images, policy=policy)] if paths else []
    else:
        groups = [_check_single(path, documents, use_cache, images, policy) for path in paths]
    return CheckResult(groups, documents)


def _check_single(path: str, documents: dict[str, Document], use_cache: bool,
                  images: ImageOptions | None, policy: PolicyChoice | None) -> GroupResult:
    """One file on its own, answered from the result cache when nothing it depends on changed."""
    from lkpolicy.gate import resultcache as checkcache

    directory = checkcache.cache_dir() if use_cache and path != "-" else None
    data = _read_small(path) if directory is not None else None
    if directory is None or data is None:
        return check_group([path], documents, images=images, policy=policy)
    key = checkcache.entry_key(path, data, _cache_context(path, images, policy))
    cached = checkcache.read(directory, key)
    if cached is not None:
        findings, unreadable = cached
        documents[path] = Document(path, data.decode("utf-8", "replace"), None)
        return GroupResult([path], None, findings, unreadable)
    group = check_group([path], documents, {path: data}, images, policy)
    trust = group.trust
    # Signature verification depends on the clock and on remote trust data: never cached.
    if trust is None or not (trust.findings or trust.evidence):
        checkcache.write(directory, key, group.findings, group.unreadable, group.policy_files)
    return group


def utc_today() -> datetime.date:
    """Waiver expiry dates are calendar days in UTC, whatever the machine's time zone."""
    return datetime.datetime.now(datetime.UTC).date()


def _cache_context(path: str, images: ImageOptions | None, policy: PolicyChoice | None) -> str:
    """What else a file's result depends on; the policy files' contents are checked as deps."""
    # The image stage reads the image cache, so its state is part of the key.
    parts = [images.state_token() if images is not None else "no-images"]
    if policy is None:
        parts.append("no-policy")
    else:
        from lkpolicy.stages.policy.discovery import find_policy

        parts.append(find_policy(policy.explicit, _config_dir([path])))
        # Policy waivers expire with the date.
        parts.append(f"waivers={policy.waivers} {utc_today()}")
    return "\0".join(parts)


def _read_small(path: str) -> bytes | None:
    """The file's bytes when it is small enough to be a config; anything else skips the cache."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_CACHEABLE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= _CACHEABLE_BYTES else None


def apply_inline_waivers(result: CheckResult, today: datetime.date) -> tuple[list[Finding], int]:
    """Findings after the `# lkpolicy: ignore[...]` comments of the checked files, plus the
    findings about the waivers themselves; and how many findings were suppressed."""
    from lkpolicy.model.rules import all_rules
    from lkpolicy.stages.waivers import apply_waivers, parse_inline_waivers

    waivers = []
    meta: list[Finding] = []
    for path in result.files:
        document = result.documents.get(path)
        if document is None:
            continue
        found, problems = parse_inline_waivers(document)
        waivers.extend(found)
        meta.extend(problems)
    if not waivers:
        return sorted(result.findings + meta, key=Finding.sort_key), 0
    known = {rule.id for rule in all_rules()}
    outcome = apply_waivers(result.findings, waivers, today, known_rules=known)
    return sorted(outcome.findings + meta, key=Finding.sort_key), len(outcome.suppressed)
