"""One alert for one problem: where two rules report the same value, which one owns it.

The lint stage works without a policy and the policy stage without lint, so some problems are
seen by both. Over the corpus and the examples these pairs report one value twice:

| reported by | owned by | why the owner |
|---|---|---|
| LK318 `capabilities: [all]` | LKP112 all-capabilities | the policy's error is the verdict, and can be configured |
| LK316 untagged reference | LKP101 / LKP102 image not pinned | pinning by digest fixes both |
| LK308 relative `source` | LK408 source unreadable | the build blocker is the problem to fix first |

Other pairs on one value are different problems and stay two alerts: an image that is not
pinned (LKP101/LKP102), not verified (LKT001) and not in the cache (LK401) needs three fixes.

Only code scanning merges them (`--format sarif`): its alerts are triaged one by one, while
text and JSON keep every finding. The owner's result lists the merged rule IDs, and the gate's
verdict does not change, because every owner is at least as severe as what it absorbs.
"""

from __future__ import annotations

from collections.abc import Sequence

from lkpolicy.model.document import split_pointer
from lkpolicy.model.findings import Finding

OWNERS: dict[str, frozenset[str]] = {
    "LK318": frozenset({"LKP112"}),
    "LK316": frozenset({"LKP101", "LKP102"}),
    "LK308": frozenset({"LK408"}),
}
"""Rule -> the rules that own its finding when both report the same entry."""

_OWNER_RULES = frozenset().union(*OWNERS.values())


def _entry(finding: Finding) -> tuple[str, tuple[str, ...]]:
    """The file and the config entry (`/services/3`, `/init/0`, `/trust`) of a finding."""
    return finding.location.file, tuple(split_pointer(finding.pointer)[:2])


def _related(a: str, b: str) -> bool:
    """One pointer is the other or an ancestor of it (segment by segment)."""
    shorter, longer = sorted((split_pointer(a), split_pointer(b)), key=len)
    return longer[:len(shorter)] == shorter


def merge_overlaps(findings: Sequence[Finding]) -> tuple[list[Finding], dict[int, list[str]]]:
    """(kept findings in their order, id(owner) -> the rule IDs merged into it)."""
    owners: dict[tuple[str, tuple[str, ...]], list[Finding]] = {}
    for finding in findings:
        if finding.rule_id in _OWNER_RULES:
            owners.setdefault(_entry(finding), []).append(finding)
    kept: list[Finding] = []
    merged: dict[int, list[str]] = {}
    for finding in findings:
        wanted = OWNERS.get(finding.rule_id)
        owner = None
        if wanted is not None:
            owner = next((o for o in owners.get(_entry(finding), [])
                          if o.rule_id in wanted and _related(o.pointer, finding.pointer)), None)
        if owner is None:
            kept.append(finding)
        elif finding.rule_id not in merged.setdefault(id(owner), []):
            merged[id(owner)].append(finding.rule_id)
    return kept, merged
