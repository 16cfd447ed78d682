"""Baselines: adopt lkpolicy on an existing repository by accepting today's findings, once.

A baseline file lists the fingerprints of accepted findings; later runs report only findings
that are not in it. Fingerprints hash the rule, the file (relative to the baseline's directory,
so the baseline works from any working directory and in any checkout) and the JSON pointer,
never the line: adding lines above a finding keeps it known. Each entry counts once, so two
identical findings with one of them in the baseline leave one new finding.

File format (JSON, sorted so that regenerating gives a reviewable diff)::

    {"version": 1, "fingerprint": "lkpolicy/v1",
     "findings": [{"fingerprint": "<sha256>", "rule": "LK318", "file": "cfg/a.yml",
                   "pointer": "/services/0/capabilities", "message": "..."}]}

Only `fingerprint` is used to match; `rule`, `file`, `pointer` and `message` are for humans.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from lkpolicy.model.findings import Finding, InputError, Location
from lkpolicy.report.fingerprint import FINGERPRINT_KEY, fingerprint, normalize_path
from lkpolicy.stages.waivers import BASELINE_UNREADABLE

__all__ = ["BASELINE_VERSION", "Baseline", "filter_new", "load_baseline", "write_baseline"]

BASELINE_VERSION = 1
_MAX_BYTES = 64 * 1024 * 1024
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(slots=True)
class Baseline:
    root: str
    """Absolute directory that the files in the baseline are relative to."""
    counts: Counter[str] = field(default_factory=Counter)
    """Fingerprint -> how many findings with it were accepted."""

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


def _fingerprint(finding: Finding, root: str) -> tuple[str, str]:
    relative = _relative_file(finding.location.file, root)
    return fingerprint(finding.rule_id, relative, finding.pointer), relative


def _root_of(path: str) -> str:
    return os.path.dirname(os.path.abspath(path))


def write_baseline(path: str, findings: Iterable[Finding]) -> int:
    """Write every finding to a new baseline at `path` (atomically); returns the entry count."""
    from lkpolicy.safeio import atomic_write_text

    root = _root_of(path)
    entries = []
    for finding in findings:
        digest, relative = _fingerprint(finding, root)
        entries.append({"fingerprint": digest, "rule": finding.rule_id, "file": relative,
                        "pointer": finding.pointer, "message": finding.message})
    entries.sort(key=lambda e: (e["file"], e["rule"], e["pointer"], e["message"]))
    document = {"version": BASELINE_VERSION, "fingerprint": FINGERPRINT_KEY, "findings": entries}
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return len(entries)


def _fail(path: str, message: str) -> InputError:
    return InputError(BASELINE_UNREADABLE.finding(f"baseline: {message}", Location(path)))


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
    if data.get("version") != BASELINE_VERSION:
        raise _fail(path, f"unsupported version {data.get('version')!r} "
                          f"(this lkpolicy reads version {BASELINE_VERSION}); regenerate it")
    if data.get("fingerprint") != FINGERPRINT_KEY:
        raise _fail(path, f"fingerprints of kind {data.get('fingerprint')!r}, this lkpolicy "
                          f"computes {FINGERPRINT_KEY!r}; regenerate it")
    entries = data["findings"]
    if not isinstance(entries, list):
        raise _fail(path, "`findings` must be a list")
    baseline = Baseline(_root_of(path))
    for index, entry in enumerate(entries):
        digest = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not _HEX.match(digest):
            raise _fail(path, f"entry {index} has no valid `fingerprint` (64 hex digits)")
        baseline.counts[digest] += 1
    return baseline


def filter_new(findings: Iterable[Finding], baseline: Baseline) -> tuple[list[Finding], list[Finding]]:
    """(new, known): findings not covered by the baseline, and those it accounts for.

    Findings are matched in location order, so when a fingerprint occurs more often than the
    baseline allows, the later occurrences in the file are the new ones.
    """
    remaining = Counter(baseline.counts)
    new: list[Finding] = []
    known: list[Finding] = []
    for finding in sorted(findings, key=Finding.sort_key):
        digest, _relative = _fingerprint(finding, baseline.root)
        if remaining[digest] > 0:
            remaining[digest] -= 1
            known.append(finding)
        else:
            new.append(finding)
    return new, known
