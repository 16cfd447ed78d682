"""Identities of findings that survive edits elsewhere in the file.

A fingerprint hashes the rule, the file and the JSON pointer of the node, never the line or the
message: adding a comment above a finding, or rewording a message in a new release, must not
make code scanning (or a baseline) see a new finding and lose the old one's triage state.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterable

from lkpolicy.model.findings import Finding

FINGERPRINT_KEY = "lkpolicy/v1"
"""The SARIF `partialFingerprints` key; bump the version whenever the hashed input changes."""


def normalize_path(path: str) -> str:
    """`./a.yml`, `a.yml` and (on Windows) `.\\a.yml` name one file and must hash the same."""
    if os.sep != "/":
        path = path.replace(os.sep, "/")
    if os.altsep and os.altsep != "/":
        path = path.replace(os.altsep, "/")
    return posixpath.normpath(path) if path else path


def fingerprint(rule_id: str, file: str, pointer: str) -> str:
    # Rule IDs and paths cannot contain NUL and the pointer comes last, so distinct triples
    # never hash the same input.
    payload = "\0".join((rule_id, normalize_path(file), pointer))
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def finding_fingerprint(finding: Finding) -> str:
    return fingerprint(finding.rule_id, finding.location.file, finding.pointer)


def fingerprints(findings: Iterable[Finding]) -> list[str]:
    """One fingerprint per finding, in order, with `:N` appended to the N-th repeat.

    Findings without a pointer (a syntax error, say) or two findings of one rule on one node
    would otherwise share an identity, and code scanning would merge them into one alert.
    Pass findings in a stable order (by location) so the numbering is stable too.
    """
    seen: dict[str, int] = {}
    result: list[str] = []
    for finding in findings:
        base = finding_fingerprint(finding)
        seen[base] = seen.get(base, 0) + 1
        result.append(base if seen[base] == 1 else f"{base}:{seen[base]}")
    return result
