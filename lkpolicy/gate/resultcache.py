"""A cache of per-file check results, as ruff keeps one: `check` runs on every commit.

A file whose bytes, path and rule set are unchanged gets its findings back without importing
the YAML parser or the schema validator. The key covers the lkpolicy code itself (sizes and
mtimes of its modules and schemas), so editing lkpolicy invalidates everything. Entries are
written atomically; an unreadable or corrupt entry is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lkpolicy import __version__
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.fixes import Fix

_FORMAT = "v3"


def cache_dir() -> Path | None:
    if os.environ.get("LKPOLICY_NO_CACHE"):
        return None
    configured = os.environ.get("LKPOLICY_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lkpolicy" / f"check-{_FORMAT}"


@cache
def code_fingerprint() -> str:
    """Every source and data file of the package, so a change anywhere in it (a policy rule, a
    trust verifier, a schema) invalidates the results it produced."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(__version__.encode())
    for directory, subdirectories, names in os.walk(package):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".py", ".json", ".yml")):
                path = os.path.join(directory, name)
                stat = os.stat(path)
                relative = os.path.relpath(path, package)
                digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def entry_key(path: str, data: bytes, context: str = "") -> str:
    """`context` covers everything else the result depends on (options, the image cache)."""
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(context.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(os.path.abspath(path).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class CachedResult:
    findings: list[Finding]
    unreadable: bool
    structural_keys: dict[str, str]
    """The fingerprints' structural keys of the findings about the file, by pointer (see
    `Document.structural_keys`): a replay need not parse the file to fingerprint them."""


_SELF = "\0self"
"""Stands for the checked file's path in stored locations: the same file checked from another
directory (`c.yml` from `sub/`, `sub/c.yml` from its parent) must be reported under the
spelling of the current run."""


_MAX_ENTRY_BYTES = 64 * 1024 * 1024


def read_small(path: str, limit: int) -> bytes | None:
    """The file's bytes when it is a regular file small enough to be a config; anything else
    skips the cache (and gets the loader's own error)."""
    from lkpolicy.safeio import UntrustedInput, read_regular_file

    try:
        return read_regular_file(path, limit, "config")
    except (OSError, UntrustedInput):
        return None


def read(directory: Path, key: str, path: str) -> CachedResult | None:
    from lkpolicy.safeio import parse_json, read_regular_file

    try:
        raw = parse_json(read_regular_file(directory / key[:2] / key, _MAX_ENTRY_BYTES,
                                           "cached result"), "cached result")
        if any(_stat(dep) != stamp for dep, stamp in raw["deps"]):
            return None
        findings = [_decode(item, path) for item in raw["findings"]]
        keys = raw["keys"]
        if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in keys.items()):
            return None
        return CachedResult(findings, bool(raw["unreadable"]), keys)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _stat(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return "-"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def write(directory: Path, key: str, path: str, findings: list[Finding], unreadable: bool,
          deps: list[str] | None = None, structural_keys: dict[str, str] | None = None) -> None:
    """`deps`: other files the result depends on (policy files); a change to one is a miss.
    `structural_keys`: see `CachedResult`."""
    from lkpolicy.safeio import atomic_write_text

    payload = {"findings": [_encode(f, path) for f in findings], "unreadable": unreadable,
               "deps": [[dep, _stat(dep)] for dep in deps or []],
               "keys": structural_keys or {}}
    try:
        (directory / key[:2]).mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / key[:2] / key, json.dumps(payload), mode=0o600)
    except OSError:
        pass  # a read-only home must not fail the check


def _encode_location(location: Location, path: str) -> list[Any]:
    return [_SELF if location.file == path else location.file, location.line, location.column]


def _decode_location(item: list[Any], path: str) -> Location:
    file, line, column = item
    return Location(path if file == _SELF else str(file), int(line), int(column))


def _encode(finding: Finding, path: str) -> dict[str, Any]:
    return {
        "rule": finding.rule_id, "severity": int(finding.severity), "message": finding.message,
        "location": _encode_location(finding.location, path), "pointer": finding.pointer,
        "hint": finding.hint,
        "related": [_encode_location(related, path) for related in finding.related],
        "fix": finding.fix.to_json() if finding.fix is not None else None,
    }


def _decode(item: dict[str, Any], path: str) -> Finding:
    return Finding(
        rule_id=item["rule"], severity=Severity(item["severity"]), message=item["message"],
        location=_decode_location(item["location"], path), pointer=item["pointer"],
        hint=item["hint"], related=[_decode_location(r, path) for r in item["related"]],
        fix=Fix.from_json(item["fix"]) if item.get("fix") is not None else None,
    )
