"""The gate: one object that holds the whole verdict, computed in one place.

`run_gate` runs every stage over the configs (`lkpolicy.gate.unit`), then applies the end of
the gate over all of them: inline waivers, the rule selection, the baseline and the fail-on
threshold, and decides the exit code. `check` renders a `Gate`, `check --lock` writes its
resolution, and `build` builds from it; none of them decides anything itself, so the same
inputs give the same verdict in all three.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.gate.options import GateOptions, UsageError
from lkpolicy.gate.unit import GateUnit, config_dir, judge_unit
from lkpolicy.model.document import Document
from lkpolicy.model.findings import ExitCode, Finding, InputError, Location, Severity

if TYPE_CHECKING:
    from lkpolicy.gate.exclude import Exclusion
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


def expand_paths(arguments: Iterable[str], exclude: Exclusion | None = None,
                 force_exclude: bool = False, stdin_name: str | None = None) -> list[str]:
    """Files as given; directories become their `*.yml`/`*.yaml` files, recursively and
    sorted, without hidden paths, policy files and what `exclude` leaves out (files named
    explicitly too with `force_exclude`, standard input by its `stdin_name`). A directory
    without any config at all is a usage error; one whose configs are all excluded is not."""
    paths: list[str] = []
    given = False
    for argument in arguments:
        given = True
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
            paths.extend(path for path in found
                         if exclude is None or not exclude.excludes(path, argument))
        else:
            named = stdin_name if argument == "-" else argument
            if not (force_exclude and exclude is not None and named is not None
                    and exclude.excludes(named)):
                paths.append(argument)
    if not given:
        raise UsageError("no config given")
    return paths


def run_gate(arguments: list[str], options: GateOptions) -> Gate:
    """The whole gate over the configs. Raises `UsageError` for options that cannot apply."""
    paths = expand_paths(arguments, options.exclude, options.force_exclude, options.stdin_name)
    documents: dict[str, Document] = {}
    if not paths:
        units: list[GateUnit] = []
    elif options.merge:
        from lkpolicy.stages.images import shared_image_caches

        with shared_image_caches():
            units = [judge_unit(paths, documents, options)]
    else:
        units = _judge_each(paths, documents, options)
    gate = Gate(options, units, documents)
    if options.selection.custom_codes:
        from lkpolicy.gate.custom import check_custom_selection

        check_custom_selection(gate)
    _finish(gate)
    return gate


@dataclass(frozen=True, slots=True)
class _CacheSlot:
    """Where a file's result is (or will be) in the result cache."""

    directory: Path
    key: str
    data: bytes


def _judge_each(paths: list[str], documents: dict[str, Document],
                options: GateOptions) -> list[GateUnit]:
    """Each file on its own: replayed from the result cache when nothing it depends on changed,
    judged otherwise; in worker processes when there are enough files to judge to pay for them
    (their units then carry the findings only, as replayed ones do)."""
    contexts = _CacheContexts(options)
    slots = [_cache_slot(path, options, contexts) for path in paths]
    units: list[GateUnit | None] = [
        _replay(path, slot, documents) if slot is not None else None
        for path, slot in zip(paths, slots, strict=True)]
    todo = [index for index, unit in enumerate(units) if unit is None]
    if todo:
        from lkpolicy.stages.images import shared_image_caches

        with shared_image_caches():
            _judge_remaining(todo, paths, slots, units, documents, options)
    return [unit for unit in units if unit is not None]


def _judge_remaining(todo: list[int], paths: list[str], slots: list[_CacheSlot | None],
                     units: list[GateUnit | None], documents: dict[str, Document],
                     options: GateOptions) -> None:
    """Judge the files at the indexes `todo` of `paths`, filling in their `units`."""
    from lkpolicy.gate.parallel import map_in_workers, worker_count

    workers = worker_count(len(todo)) if "-" not in paths else 1
    if workers > 1 and _no_trust_stage([paths[index] for index in todo], options):
        # The first file is judged here: it loads every stage, which the workers then inherit.
        first, todo = todo[0], todo[1:]
        units[first] = _judge_and_remember(paths[first], slots[first], documents, options)

        def judge(index: int) -> tuple[GateUnit, str | None, Any]:
            own: dict[str, Document] = {}
            unit = _judge_and_remember(paths[index], slots[index], own, options)
            document = own.get(paths[index])
            if document is None:
                return _findings_only(unit), None, None
            # The text shows source lines; the data gives JSON and SARIF their fingerprints.
            return _findings_only(unit), document.text, document.data

        for index, (unit, text, data) in zip(todo, map_in_workers(judge, todo, workers),
                                             strict=True):
            units[index] = unit
            if text is not None:
                documents[paths[index]] = Document(paths[index], text, data)
    else:
        for index in todo:
            units[index] = _judge_and_remember(paths[index], slots[index], documents, options)


def _cache_slot(path: str, options: GateOptions, contexts: _CacheContexts) -> _CacheSlot | None:
    if not options.use_result_cache or path == "-":
        return None
    from lkpolicy.gate import resultcache

    directory = resultcache.cache_dir()
    data = resultcache.read_small(path, _CACHEABLE_BYTES) if directory is not None else None
    if directory is None or data is None:
        return None
    return _CacheSlot(directory, resultcache.entry_key(path, data, contexts(path)), data)


def _replay(path: str, slot: _CacheSlot, documents: dict[str, Document]) -> GateUnit | None:
    from lkpolicy.gate import resultcache

    cached = resultcache.read(slot.directory, slot.key, path)
    if cached is None:
        return None
    documents[path] = Document(path, slot.data.decode("utf-8", "replace"), None,
                               structural_keys=cached.structural_keys)
    return GateUnit([path], findings=cached.findings, unreadable=cached.unreadable)


def _judge_and_remember(path: str, slot: _CacheSlot | None, documents: dict[str, Document],
                        options: GateOptions) -> GateUnit:
    """Judge one file, and keep its result in the result cache when it may be replayed."""
    if slot is None:
        return judge_unit([path], documents, options)
    from lkpolicy.gate import resultcache

    unit = judge_unit([path], documents, options, {path: slot.data})
    if _replayable(unit):
        # The host files `files:` copies are inputs too: a changed or deleted one is a miss.
        sources = [local.path for local in unit.local_files.values()]
        document = documents.get(path)
        keys = None
        if document is not None and document.data is not None:
            from lkpolicy.report.fingerprint import document_keys

            keys = document_keys(unit.findings, document)
        resultcache.write(slot.directory, slot.key, path, unit.findings, unit.unreadable,
                          [*unit.policy_files, *sources], keys)
    return unit


def _replayable(unit: GateUnit) -> bool:
    """Whether the result depends only on what the cache key and its dependencies cover (the
    file, the policy files, the host files, the image cache, the options, the date).
    Signature verification also depends on the clock, on remote trust data and on signature
    files beside local files: a result that any verifier took part in is never kept. Nor are
    findings that policy waivers suppressed: reports show them, the cache does not keep them."""
    if unit.suppressed:
        return False
    trust = unit.trust
    if trust is None or not (trust.findings or trust.evidence or trust.file_evidence):
        return True
    if trust.file_evidence:
        return False
    from lkpolicy.stages.trust.rules import TRUST_NO_AUTHORITY, TRUST_NOT_CACHED

    # No verifier runs for an image that no authority covers, or that is not in the cache.
    unverified = {TRUST_NO_AUTHORITY.id, TRUST_NOT_CACHED.id}
    return not trust.evidence and all(f.rule_id in unverified for f in trust.findings)


def _findings_only(unit: GateUnit) -> GateUnit:
    """What the end of the gate uses of a unit, small enough to send between processes."""
    return GateUnit(unit.paths, findings=unit.findings, suppressed=unit.suppressed,
                    unreadable=unit.unreadable, policy_files=unit.policy_files)


def _no_trust_stage(paths: list[str], options: GateOptions) -> bool:
    """Whether no policy of these configs names a trust authority, so that no worker would
    fetch trust data or write the trust cache (kept to one process). Loads the policies here,
    once: forked workers inherit them."""
    choice = options.policy
    if choice is None:
        return True
    for spec in dict.fromkeys(choice.spec_for(config_dir([path], options.stdin_name))
                              for path in paths):
        try:
            policy = choice.load(spec)
        except InputError:
            continue  # each unit reports it
        if policy.trust.authorities:
            return False
    return True


class _CacheContexts:
    """What else each file's result depends on, computed once per directory and run (policy
    discovery walks up from the directory; a corpus has far fewer directories than files).
    The policy files' contents are checked as dependencies of each entry."""

    def __init__(self, options: GateOptions) -> None:
        self.options = options
        self.by_directory: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        directory = config_dir([path], self.options.stdin_name)
        if directory not in self.by_directory:
            self.by_directory[directory] = self._context(directory)
        return self.by_directory[directory]

    def _context(self, directory: str) -> str:
        options = self.options
        images = options.images
        # The image stage reads the image cache, so its state is part of the key.
        parts = [images.state_token() if images is not None else "no-images"]
        if options.packages is not None:
            parts.append(f"packages={options.packages.token}")
        if options.policy is None:
            parts.append("no-policy")
        else:
            parts.append(options.policy.spec_for(directory))
            parts.append(f"offline={options.policy.offline}")
        selection = options.selection
        parts.append(f"select={sorted(selection.select or [])} ignore={sorted(selection.ignore)}")
        # The moment judged at (`--at`): policy waivers expire with its date. Trust results,
        # which depend on the exact moment, are never cached (see `_replayable`).
        parts.append(f"waivers={options.waivers} at={options.today.isoformat()}")
        parts.append(f"exact_fixes={options.exact_fixes}")
        return "\0".join(parts)


def _finish(gate: Gate) -> None:
    """The end of the gate: inline waivers, selection, baseline, verdict."""
    options = gate.options
    if options.stdin_name is not None:
        _name_standard_input(gate, options.stdin_name)
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


def _name_standard_input(gate: Gate, name: str) -> None:
    """`--stdin-filename`: standard input's findings, document and path take its name before
    waivers, the selection and the baseline apply, so that they match it as they would match
    the file."""
    def named(location: Location) -> Location:
        return Location(name, location.line, location.column) if location.file == "-" \
            else location

    for unit in gate.units:
        unit.paths = [name if path == "-" else path for path in unit.paths]
        for finding in [*unit.findings, *(s.finding for s in unit.suppressed)]:
            finding.location = named(finding.location)
            finding.related = [named(related) for related in finding.related]
    document = gate.documents.pop("-", None)
    if document is not None:
        document.path = name
        gate.documents[name] = document


def verdict(findings: list[Finding], fail_on: Severity | None, unreadable: bool) -> int:
    if unreadable:
        return ExitCode.USAGE
    if fail_on is not None and any(f.severity >= fail_on for f in findings):
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


_MENTIONS_LKPOLICY = re.compile("lkpolicy", re.IGNORECASE)
"""Finds every `# lkpolicy: ...` comment the waiver parser finds (and more): a file without a
match has no inline waiver, and the waiver module need not load for it."""


def _apply_inline_waivers(gate: Gate, unit: GateUnit, findings: list[Finding]) -> list[Finding]:
    """The `# lkpolicy: ignore[...]` comments of the unit's files, and findings about them."""
    documents = [document for path in unit.paths
                 if (document := gate.documents.get(path)) is not None
                 and _MENTIONS_LKPOLICY.search(document.text)]
    if not documents:
        return findings
    from lkpolicy.model.rules import known_rule_ids
    from lkpolicy.stages.waivers import apply_waivers, parse_inline_waivers

    waivers: list[Waiver] = []
    meta: list[Finding] = []
    for document in documents:
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
