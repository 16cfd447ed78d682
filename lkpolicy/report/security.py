"""How much each security-relevant rule matters, as SARIF's `security-severity`.

GitHub code scanning ranks an alert of a rule tagged `security` by this CVSS-like score:
9.0 and above is critical, 7.0 to 8.9 high, 4.0 to 6.9 medium, 0.1 to 3.9 low. The score
belongs to the rule, not to one finding, and is decided here once per rule, by what the
problem hands to a container (or hides from the reviewer of the YAML) when it goes unfixed.

Every policy and trust rule is security-relevant, and so are the lint and image rules whose
trap grants or hides powers: `all` capabilities, ids that land on another container, keys
that linuxkit drops, a `trust:` section that verifies nothing, labels read differently from
how they look. A policy or trust rule that is missing from the table falls back to a score
from its severity, so a new rule is never left unranked.
"""

from __future__ import annotations

from lkpolicy.model.findings import Severity
from lkpolicy.model.rules import Rule

SECURITY_CATEGORIES = frozenset({"security", "policy", "trust", "privilege", "capabilities", "secrets"})
"""Categories whose every rule is security-relevant (policy and trust in the catalogue)."""

SECURITY_SEVERITY: dict[str, str] = {
    # Lint traps that grant powers or hide them from review.
    "LK301": "7.0",   # `trust:` is ignored by linuxkit: nothing is verified
    "LK302": "6.5",   # resource limits and id mappings dropped (hostID becomes 0: root)
    "LK303": "4.0",   # an `@` argument silently emptied
    "LK305": "6.0",   # a uid/gid name now belongs to another container
    "LK309": "3.0",   # a duplicate capability or bind hides the real list
    "LK310": "5.0",   # `capabilities.add` ignored: the granted list is not the one read
    "LK316": "5.0",   # an untagged image: a moving target
    "LK317": "4.0",   # `uid: 0100` is uid 64
    "LK318": "8.0",   # `capabilities: [all]`
    # Images: what the label grants is not what the YAML shows.
    "LK403": "5.0",   # a label key dropped by linuxkit
    "LK404": "8.0",   # a blob that does not match its digest
    "LK407": "6.0",   # a label read differently from how it looks
    # Policy.
    "LKP101": "5.0",
    "LKP102": "7.0",
    "LKP103": "7.5",
    "LKP110": "8.0",
    "LKP111": "5.0",
    "LKP112": "9.0",
    "LKP120": "6.5",
    "LKP130": "8.5",
    "LKP140": "8.5",
    "LKP141": "7.0",
    "LKP150": "5.0",
    "LKP151": "4.0",
    "LKP152": "4.0",
    "LKP160": "5.5",
    "LKP170": "6.5",
    "LKP171": "5.5",
    "LKP180": "8.0",
    "LKP181": "6.0",
    "LKP182": "4.0",
    "LKP190": "7.0",
    # Trust.
    "LKT001": "7.0",
    "LKT002": "8.5",
    "LKT003": "9.5",
    "LKT004": "7.0",
}

_BY_SEVERITY = {Severity.ERROR: "7.5", Severity.WARNING: "5.0", Severity.INFO: "2.0"}


def security_severity(rule: Rule) -> str | None:
    """The rule's `security-severity`, or None for a rule that is not about security."""
    score = SECURITY_SEVERITY.get(rule.id)
    if score is None and rule.category in SECURITY_CATEGORIES:
        score = _BY_SEVERITY[rule.severity]
    return score
