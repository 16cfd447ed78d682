"""Baselines: adopt lkpolicy on an existing repository by accepting today's findings, once.

A baseline file lists the fingerprints of accepted findings; later runs report only findings
that are not in it. Fingerprints hash the rule, the file (relative to the baseline's directory,
so the baseline works from any working directory and in any checkout) and the structural key
of the node (`lkpolicy.report.fingerprint`: list indexes replaced by container names), never
the line: adding lines above a finding, or a service above its container, keeps it known. Each
entry counts once, so two identical findings with one of them in the baseline leave one new
finding.

File format (JSON, sorted so that regenerating gives a reviewable diff)::

    {"version": 2, "fingerprint": "lkpolicy/v2",
     "findings": [{"fingerprint": "<sha256>", "rule": "LK318", "file": "cfg/a.yml",
                   "key": "/services/=getty/capabilities",
                   "pointer": "/services/0/capabilities", "message": "..."}]}

Only `fingerprint` is used to match; the other fields are for humans. Version 1 baselines
(`lkpolicy/v1`, raw JSON pointers) are still read and matched the way they were written;
`--write-baseline` always writes version 2.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lkpolicy.model.findings import Finding, InputError, Location
from lkpolicy.report.fingerprint import (
    FINGERPRINT_KEY,
    LEGACY_FINGERPRINT_KEY,
    StructuralKeys,
    fingerprint,
    normalize_path,
)
from lkpolicy.stages.waivers import BASELINE_UNREADABLE

if TYPE_CHECKING:
    from lkpolicy.model.document import Document

__all__ = ["BASELINE_VERSION", "Baseline", "filter_new", "load_baseline", "write_baseline"]

BASELINE_VERSION = 2
_FINGERPRINT_OF_VERSION = {1: LEGACY_FINGERPRINT_KEY, 2: FINGERPRINT_KEY}
_MAX_BYTES = 64 * 1024 * 1024
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(slots=True)
class Baseline:
    root: str
    """Absolute directory that the files in the baseline are relative to."""
    counts: Counter[str] = field(default_factory=Counter)
    """Fingerprint -> how many findings with it were accepted."""
    version: int = BASELINE_VERSION
    """1: fingerprints of raw pointers; 2: of structural keys."""

    def __len__(self) -> int:
        return sum(self.counts.values())


def _relative_file(file: str, root: str) -> str:
    if file == "-":
        return file
    try:
        return normalize_path(os.path.relpath(os.path.abspath(file), root))
    except ValueError:
        # Another drive on Windows: no relative form, the absolute path identifies the file.
        return normalize_path(os.path.abspath(file))


def _fingerprint(finding: Finding, root: str, keys: StructuralKeys | None) -> tuple[str, str]:
    """The fingerprint of `finding` for a baseline in `root`: version 2 with `keys`, else 1."""
    relative = _relative_file(finding.location.file, root)
    key = finding.pointer if keys is None else keys.key(finding)
    return fingerprint(finding.rule_id, relative, key), relative


def _root_of(path: str) -> str:
    return os.path.dirname(os.path.abspath(path))


def write_baseline(path: str, findings: Iterable[Finding],
                   documents: Mapping[str, Document] | None = None) -> int:
    """Write every finding to a new baseline at `path` (atomically); returns the entry count.

    `documents` are the loaded configs the findings are about (None: read them from disk).
    """
    from lkpolicy.safeio import atomic_write_text

    root = _root_of(path)
    keys = StructuralKeys(documents)
    entries = []
    for finding in findings:
        digest, relative = _fingerprint(finding, root, keys)
        entries.append({"fingerprint": digest, "rule": finding.rule_id, "file": relative,
                        "key": keys.key(finding), "pointer": finding.pointer,
                        "message": finding.message})
    entries.sort(key=lambda e: (e["file"], e["rule"], e["key"], e["pointer"], e["message"]))
    document = {"version": BASELINE_VERSION, "fingerprint": FINGERPRINT_KEY, "findings": entries}
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return len(entries)


def _fail(path: str, message: str) -> InputError:
    return InputError(BASELINE_UNREADABLE.finding(
        f"baseline: {message}", Location(path),
        hint=f"write it again with `lkpolicy check --write-baseline {path} ...`, or fix the "
             "path"))


def load_baseline(path: str) -> Baseline:
    """Read a baseline; any problem raises `InputError` (LKW010, exit code 2)."""
    from lkpolicy.safeio import TooLarge, UntrustedInput, parse_json, read_regular_file

    try:
        data = parse_json(read_regular_file(path, _MAX_BYTES, "baseline"), "not a JSON file")
    except TooLarge:
        raise _fail(path, "the file is too large to be a baseline") from None
    except UntrustedInput as error:
        raise _fail(path, str(error)) from None
    except OSError as error:
        raise _fail(path, f"cannot read the file: {error.strerror or error}") from None
    if not isinstance(data, dict) or "findings" not in data:
        raise _fail(path, "not an lkpolicy baseline (expected an object with `findings`)")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        version = None
    kind = _FINGERPRINT_OF_VERSION.get(version) if version is not None else None
    if version is None or kind is None:
        raise _fail(path, f"unsupported version {data.get('version')!r} (this lkpolicy reads versions "
                          f"{', '.join(map(str, _FINGERPRINT_OF_VERSION))}); regenerate it")
    if data.get("fingerprint") != kind:
        raise _fail(path, f"fingerprints of kind {data.get('fingerprint')!r}, a version "
                          f"{version} baseline has {kind!r}; regenerate it")
    entries = data["findings"]
    if not isinstance(entries, list):
        raise _fail(path, "`findings` must be a list")
    baseline = Baseline(_root_of(path), version=version)
    for index, entry in enumerate(entries):
        digest = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not _HEX.match(digest):
            raise _fail(path, f"entry {index} has no valid `fingerprint` (64 hex digits)")
        baseline.counts[digest] += 1
    return baseline


def filter_new(findings: Iterable[Finding], baseline: Baseline,
               documents: Mapping[str, Document] | None = None,
               ) -> tuple[list[Finding], list[Finding]]:
    """(new, known): findings not covered by the baseline, and those it accounts for.

    `documents` as for `write_baseline`. Findings are matched in location order, so when a
    fingerprint occurs more often than the baseline allows, the later occurrences in the file
    are the new ones.
    """
    keys = StructuralKeys(documents) if baseline.version >= 2 else None
    remaining = Counter(baseline.counts)
    new: list[Finding] = []
    known: list[Finding] = []
    for finding in sorted(findings, key=Finding.sort_key):
        digest, _relative = _fingerprint(finding, baseline.root, keys)
        if remaining[digest] > 0:
            remaining[digest] -= 1
            known.append(finding)
        else:
            new.append(finding)
    return new, known
