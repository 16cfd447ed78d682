"""Named signers: delegation roles that must each sign a tag, all with the same digest.

Docker's answer (`NotaryTrustedSet.find_target`) takes the first of `targets/releases` and
`targets`; a policy can instead name the roles that must vouch (Connaisseur's `delegations`),
and then every one of them must have a valid entry for the tag and all entries must agree on
digest and length. Nothing falls back to another role: a named role that is missing, was never
published or does not sign the tag refuses the image. Pure: the roles are already verified in
the trusted set (`load_trusted_set(delegations=with_ancestors(roles))`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lkpolicy.stages.trust.errors import SignerMissing, SignersDisagree
from lkpolicy.stages.trust.notary.metadata import TARGETS, VerifiedTarget
from lkpolicy.stages.trust.notary.trusted_set import NotaryTrustedSet


def with_ancestors(roles: Iterable[str]) -> set[str]:
    """The roles and every delegating role above them (a role loads after its parent)."""
    wanted: set[str] = set()
    for role in roles:
        parts = role.split("/")
        wanted.update("/".join(parts[:depth]) for depth in range(2, len(parts) + 1))
    return wanted


def signed_by(trusted: NotaryTrustedSet, tag: str, roles: Sequence[str]) -> list[VerifiedTarget]:
    """Each role's entry for `tag`; raises SignerMissing or SignersDisagree (naming both)."""
    hits = []
    for role in roles:
        loaded = trusted.targets.get(role)
        if loaded is None:
            raise SignerMissing(role, _why_not_loaded(trusted, role))
        hit = loaded.target(tag)
        if hit is None:
            raise SignerMissing(role, f"tag {tag!r} is not signed by {role}, which the policy "
                                      f"requires")
        hits.append(hit)
    first = hits[0]
    for other in hits[1:]:
        if (other.digest, other.length) != (first.digest, first.length):
            raise SignersDisagree(TARGETS, f"the required signers disagree on tag {tag!r}: "
                                           f"{first.role} signs {first.digest} ({first.length} "
                                           f"bytes), {other.role} signs {other.digest} "
                                           f"({other.length} bytes)")
    return hits


def _why_not_loaded(trusted: NotaryTrustedSet, role: str) -> str:
    parent = role.rsplit("/", 1)[0]
    if parent not in trusted.targets:
        return f"{role} cannot be loaded: its delegating role {parent} is not in the repository"
    if trusted.delegation(role) is None:
        defined = ", ".join(sorted(trusted.targets[parent].delegations)) or "none"
        return f"{parent} does not delegate to {role} (it delegates to: {defined})"
    if trusted.expected(role) is None:
        return f"{role} is delegated by {parent} but was never published (not in the snapshot)"
    return f"{role} was not loaded"
