"""One build's worth of configs through the stages: load -> validate -> lint -> resolve
images and read local files -> effective configs -> policy -> trust -> policy waivers.

Each stage is a module with one job; this module only sequences them and keeps what they
produce, so that the lock and the build use exactly what the stages judged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lkpolicy.model.config import Config, merge
from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, InputError

if TYPE_CHECKING:
    from lkpolicy.gate.options import GateOptions, PolicyChoice
    from lkpolicy.stages.containers import Container
    from lkpolicy.stages.images import Resolution
    from lkpolicy.stages.localfiles import LocalFile
    from lkpolicy.stages.policy.model import Policy
    from lkpolicy.stages.trust.stage import TrustResult
    from lkpolicy.stages.waivers import Suppressed


@dataclass(slots=True)
class GateUnit:
    """One config: one file, or several merged in order."""

    paths: list[str]
    config: Config | None = None
    """None when the files could not be read, or when the unit was replayed from the result
    cache (findings only: no config, resolution or containers)."""
    findings: list[Finding] = field(default_factory=list)
    """Every finding of the stages, after the policy's waivers (inline waivers, the selection
    and the baseline are applied by the gate, over all units)."""
    suppressed: list[Suppressed] = field(default_factory=list)
    """Findings the policy's waivers suppressed."""
    unreadable: bool = False
    resolution: Resolution | None = None
    local_files: dict[int, LocalFile] = field(default_factory=dict)
    """`files` index -> the host file its `source:` copies, as the gate read it."""
    containers: list[Container] = field(default_factory=list)
    trust: TrustResult | None = None
    policy: Policy | None = None
    policy_files: list[str] = field(default_factory=list)
    """The policy files that judged this unit (dependencies for the result cache)."""


def load_unit(paths: list[str], documents: dict[str, Document],
              contents: dict[str, bytes] | None = None) -> GateUnit:
    """Load, validate and merge: what `show` needs, and the gate's first stages."""
    from lkpolicy.stages.load import load_document
    from lkpolicy.stages.validate import check_merged, check_semantics, validate_document

    unit = GateUnit(paths)
    loaded: list[Document] = []
    for path in paths:
        try:
            document, warnings = load_document(path, (contents or {}).get(path))
        except InputError as error:
            unit.findings.extend(error.findings)
            unit.unreadable = True
            keep_text_for_display(path, documents)
            continue
        documents[path] = document
        loaded.append(document)
        unit.findings.extend(warnings)
        unit.findings.extend(validate_document(document))
        unit.findings.extend(check_semantics(document))
    if unit.unreadable:
        return unit
    unit.config = merge(loaded)
    if len(paths) > 1:
        unit.findings.extend(check_merged(unit.config))
    return unit


def keep_text_for_display(path: str, documents: dict[str, Document]) -> None:
    """Unparsable files still get their source line shown under the finding."""
    from lkpolicy.safeio import UntrustedInput, read_regular_file
    from lkpolicy.stages.load import MAX_CONFIG_BYTES

    if path == "-":
        return
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES, "config")
    except (OSError, UntrustedInput):
        return
    documents[path] = Document(path, raw.decode("utf-8", "replace"), None)


def judge_unit(paths: list[str], documents: dict[str, Document], options: GateOptions,
               contents: dict[str, bytes] | None = None) -> GateUnit:
    """Every stage of the gate for one config."""
    unit = _run_stages(paths, documents, options, contents)
    if options.exact_fixes and any(finding.fix is not None for finding in unit.findings):
        # Here, not in the report: the result cache keeps the answer, so a replayed check
        # does not read the file again.
        from lkpolicy.tools.fix import usable_fixes

        unit.findings = usable_fixes(unit.findings, documents)
    return unit


def _run_stages(paths: list[str], documents: dict[str, Document], options: GateOptions,
                contents: dict[str, bytes] | None) -> GateUnit:
    from lkpolicy.stages.containers import effective_configs
    from lkpolicy.stages.images import resolve_images
    from lkpolicy.stages.lint import lint

    unit = load_unit(paths, documents, contents)
    if unit.config is None:
        return unit
    unit.findings.extend(lint(unit.config, options.selection.chosen))
    unit.resolution = resolve_images(unit.config, options.images)
    unit.findings.extend(unit.resolution.findings)
    if options.images is not None:  # `--no-images` judges the YAML alone: no build inputs
        from lkpolicy.stages.localfiles import read_local_files

        unit.local_files, found_files = read_local_files(unit.config)
        unit.findings.extend(found_files)
    unit.containers, found = effective_configs(unit.config, unit.resolution, unit.findings,
                                               options.packages)
    unit.findings.extend(found)
    if options.policy is not None:
        _judge_by_policy(unit, options.policy, options)
    return unit


def _judge_by_policy(unit: GateUnit, choice: PolicyChoice, options: GateOptions) -> None:
    from lkpolicy.stages.policy.discovery import policy_file
    from lkpolicy.stages.policy.engine import evaluate

    assert unit.config is not None and unit.resolution is not None
    spec = choice.spec_for(config_dir(unit.paths, options.stdin_name))
    try:
        policy = choice.load(spec)
    except InputError as error:
        unit.findings.extend(error.findings)
        unit.unreadable = True
        unit.policy_files = [spec]
        return
    unit.policy = policy
    unit.policy_files = [str(path) for source in policy.sources
                         if (path := policy_file(source)) is not None]
    unit.findings.extend(evaluate(unit.config, unit.containers, policy,
                                  options.selection.runs, unit.resolution.digests,
                                  unit.resolution.uses))
    # Nothing to verify without trust rules or a `trust:` section: skip the stage's imports.
    if policy.trust.rules or unit.config.trust:
        from lkpolicy.stages.trust.stage import run_trust

        unit.trust = run_trust(unit.config, unit.resolution, policy,
                               cache_dir=choice.trust_cache, offline=choice.offline,
                               now=options.at,
                               local_files=unit.local_files if options.images is not None
                               else None)
        unit.findings.extend(unit.trust.findings)
    if policy.waivers and options.waivers:
        from lkpolicy.model.rules import known_rule_ids
        from lkpolicy.stages.waivers import apply_waivers, container_context

        outcome = apply_waivers(unit.findings, policy.waivers, options.today,
                                context=container_context(unit.config),
                                known_rules=known_rule_ids() | set(policy.custom_rules),
                                chosen=options.selection.chosen)
        unit.findings = outcome.findings
        unit.suppressed = outcome.suppressed


def config_dir(paths: list[str], stdin_name: str | None = None) -> str:
    """Where policy discovery starts: the directory of the first config file (standard input
    counts as `stdin_name` when it has one)."""
    first = next((stdin_name if path == "-" else path for path in paths
                  if path != "-" or stdin_name), None)
    return os.path.dirname(os.path.abspath(first)) if first else os.getcwd()
