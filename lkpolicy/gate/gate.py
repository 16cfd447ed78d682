"""The gate: one object that holds the whole verdict, computed in one place.

`run_gate` runs every stage over the configs (`lkpolicy.gate.unit`), then applies the end of
the gate over all of them: inline waivers, the rule selection, the baseline and the fail-on
threshold, and decides the exit code. `check` renders a `Gate`, `check --lock` writes its
resolution, and `build` builds from it; none of them decides anything itself, so the same
inputs give the same verdict in all three.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.gate.options import GateOptions, UsageError
from lkpolicy.gate.unit import GateUnit, config_dir, judge_unit
from lkpolicy.model.document import Document
from lkpolicy.model.findings import ExitCode, Finding, InputError, Severity

if TYPE_CHECKING:
    from lkpolicy.stages.waivers import Waiver

CONFIG_SUFFIXES = (".yml", ".yaml")
POLICY_FILE_NAMES = (".lkpolicy.yml", ".lkpolicy.yaml")
_CACHEABLE_BYTES = 1024 * 1024
"""Larger files skip the result cache (and the loader refuses them above its own limit)."""


@dataclass(frozen=True, slots=True)
class Suppression:
    """A finding the gate does not count, and why: waived in the config (`inline`), by the
    policy (`policy`), or known from the baseline (`baseline`)."""

    finding: Finding
    kind: str
    reason: str


@dataclass(slots=True)
class Gate:
    options: GateOptions
    units: list[GateUnit]
    documents: dict[str, Document]
    findings: list[Finding] = field(default_factory=list)
    """What the gate reports and counts, sorted."""
    suppressed: list[Suppression] = field(default_factory=list)
    unreadable: bool = False
    exit_code: int = ExitCode.CLEAN

    @property
    def files(self) -> list[str]:
        return [path for unit in self.units for path in unit.paths]

    @property
    def passed(self) -> bool:
        return self.exit_code == ExitCode.CLEAN

    def single_unit(self) -> GateUnit:
        """The one config a build or a lock is about."""
        if len(self.units) != 1:
            raise UsageError("a build is one config: give one file, or several with --merge")
        return self.units[0]


def expand_paths(arguments: Iterable[str]) -> list[str]:
    """Files as given; directories become their `*.yml`/`*.yaml` files, recursively and
    sorted, without hidden paths and policy files. A directory without any is a usage error."""
    paths: list[str] = []
    for argument in arguments:
        if argument != "-" and os.path.isdir(argument):
            base = len(Path(argument).parts)
            found = sorted(
                str(path) for path in Path(argument).rglob("*")
                if path.suffix in CONFIG_SUFFIXES and path.name not in POLICY_FILE_NAMES
                and not any(part.startswith(".") for part in path.parts[base:])
                and path.is_file())
            if not found:
                raise UsageError(f"{argument}: no LinuxKit configs (*.yml, *.yaml) in this "
                                 "directory")
            paths.extend(found)
        else:
            paths.append(argument)
    if not paths:
        raise UsageError("no config given")
    return paths


def run_gate(arguments: list[str], options: GateOptions) -> Gate:
    """The whole gate over the configs. Raises `UsageError` for options that cannot apply."""
    paths = expand_paths(arguments)
    documents: dict[str, Document] = {}
    if options.merge:
        units = [judge_unit(paths, documents, options)]
    else:
        units = [_judge_single(path, documents, options) for path in paths]
    gate = Gate(options, units, documents)
    if options.selection.custom_codes:
        from lkpolicy.gate.custom import check_custom_selection

        check_custom_selection(gate)
    _finish(gate)
    return gate


def _judge_single(path: str, documents: dict[str, Document], options: GateOptions) -> GateUnit:
    """One file on its own, replayed from the result cache when nothing it depends on changed."""
    from lkpolicy.gate import resultcache

    directory = resultcache.cache_dir() if options.use_result_cache and path != "-" else None
    data = resultcache.read_small(path, _CACHEABLE_BYTES) if directory is not None else None
    if directory is None or data is None:
        return judge_unit([path], documents, options)
    key = resultcache.entry_key(path, data, _cache_context(path, options))
    cached = resultcache.read(directory, key, path)
    if cached is not None:
        documents[path] = Document(path, data.decode("utf-8", "replace"), None)
        return GateUnit([path], findings=cached.findings, unreadable=cached.unreadable)
    unit = judge_unit([path], documents, options, {path: data})
    trust = unit.trust
    # Signature verification depends on the clock, on remote trust data and on signature files
    # beside local files: never cached. Nor are findings that policy waivers suppressed:
    # reports show them, the cache does not keep them.
    if (trust is None or not (trust.findings or trust.evidence or trust.file_evidence)) \
            and not unit.suppressed:
        # The host files `files:` copies are inputs too: a changed or deleted one is a miss.
        sources = [local.path for local in unit.local_files.values()]
        resultcache.write(directory, key, path, unit.findings, unit.unreadable,
                          [*unit.policy_files, *sources])
    return unit


def _cache_context(path: str, options: GateOptions) -> str:
    """What else a file's result depends on; the policy files' contents are checked as deps."""
    images = options.images
    # The image stage reads the image cache, so its state is part of the key.
    parts = [images.state_token() if images is not None else "no-images"]
    if options.packages is not None:
        parts.append(f"packages={options.packages.token}")
    if options.policy is None:
        parts.append("no-policy")
    else:
        from lkpolicy.stages.policy.discovery import find_policy

        parts.append(find_policy(options.policy.explicit, config_dir([path])))
        parts.append(f"offline={options.policy.offline}")
    selection = options.selection
    parts.append(f"select={sorted(selection.select or [])} ignore={sorted(selection.ignore)}")
    # The moment judged at (`--at`): policy waivers expire with its date. Trust results, which
    # depend on the exact moment, are never cached (see `_judge_single`).
    parts.append(f"waivers={options.waivers} at={options.today.isoformat()}")
    return "\0".join(parts)


def _finish(gate: Gate) -> None:
    """The end of the gate: inline waivers, selection, baseline, verdict."""
    options = gate.options
    findings: list[Finding] = []
    for unit in gate.units:
        gate.unreadable = gate.unreadable or unit.unreadable
        gate.suppressed.extend(Suppression(s.finding, "policy", s.waiver.reason)
                               for s in unit.suppressed)
        kept = unit.findings
        if options.waivers:
            kept = _apply_inline_waivers(gate, unit, kept)
        findings.extend(kept)
    findings = [f for f in findings if options.selection.reports(f)]
    if options.baseline is not None:
        findings = _apply_baseline(gate, findings, options.baseline)
    gate.findings = sorted(findings, key=Finding.sort_key)
    gate.exit_code = verdict(gate.findings, options.fail_on, gate.unreadable)


def verdict(findings: list[Finding], fail_on: Severity | None, unreadable: bool) -> int:
    if unreadable:
        return ExitCode.USAGE
    if fail_on is not None and any(f.severity >= fail_on for f in findings):
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


def _apply_inline_waivers(gate: Gate, unit: GateUnit, findings: list[Finding]) -> list[Finding]:
    """The `# lkpolicy: ignore[...]` comments of the unit's files, and findings about them."""
    from lkpolicy.model.rules import known_rule_ids
    from lkpolicy.stages.waivers import apply_waivers, parse_inline_waivers

    waivers: list[Waiver] = []
    meta: list[Finding] = []
    for path in unit.paths:
        document = gate.documents.get(path)
        if document is None:
            continue
        found, problems = parse_inline_waivers(document)
        waivers.extend(found)
        meta.extend(problems)
    if not waivers:
        return findings + meta
    known = set(known_rule_ids())
    if any(rule not in known for waiver in waivers for rule in waiver.rules):
        from lkpolicy.gate.custom import custom_rule_ids

        known |= custom_rule_ids(unit, gate.options)
    outcome = apply_waivers(findings, waivers, gate.options.today, known_rules=known,
                            chosen=gate.options.selection.chosen)
    gate.suppressed.extend(Suppression(s.finding, "inline", s.waiver.reason)
                           for s in outcome.suppressed)
    return outcome.findings + meta


def _apply_baseline(gate: Gate, findings: list[Finding], path: str) -> list[Finding]:
    from lkpolicy.model.rules import blocks_build
    from lkpolicy.stages.baseline import filter_new, load_baseline

    try:
        baseline = load_baseline(path)
    except InputError as error:
        gate.unreadable = True
        return findings + error.findings
    blocking = [f for f in findings if blocks_build(f.rule_id, f.severity)]
    others = [f for f in findings if not blocks_build(f.rule_id, f.severity)]
    new, known = filter_new(others, baseline, gate.documents)
    gate.suppressed.extend(Suppression(f, "baseline", f"in the baseline {path}") for f in known)
    return blocking + new
