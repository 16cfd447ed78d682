"""`lkpolicy trust inspect`: what every authority of a policy says about one image.

Every configured authority is asked, not only the required ones, so that a policy author can
see what a new rule would demand before writing it; requirements with named signers or
attestations are asked as written, so their answers show too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkpolicy.model.reference import ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.stages.policy.model import Policy
from lkpolicy.stages.trust.requirements import Ask
from lkpolicy.stages.trust.stage import context_for, requirements_for
from lkpolicy.stages.trust.verifiers import Evidence, VerificationFailed, Verifier, Verifiers


@dataclass(slots=True)
class AuthorityAnswer:
    """What one authority says about one image (for one question: its own rule, or named
    signers)."""

    authority: str
    type: str
    required: bool
    """Whether the policy requires this answer for the image."""
    evidence: list[Evidence] = field(default_factory=list)
    error: str | None = None
    mismatch: bool = False
    signers: tuple[str, ...] = ()
    attestation: str = ""
    """The attestation asked for (`AttestationCondition.describe`); empty: the signature."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"authority": self.authority, "type": self.type, "required": self.required,
                "ok": self.ok, "evidence": self.evidence, "error": self.error,
                "mismatch": self.mismatch, "signers": list(self.signers),
                "attestation": self.attestation or None}


@dataclass(slots=True)
class Inspection:
    reference: str
    manifest: dict[str, Any] | None
    """The cached manifest (`digest`, `size`), or None when the image is not cached."""
    answers: list[AuthorityAnswer]
    at: str = ""
    """The moment of verification (UTC, RFC 3339)."""

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "cached": self.manifest, "at": self.at,
                "authorities": [answer.to_json() for answer in self.answers]}


def inspect_image(reference: str, policy: Policy, *, cache_dir: str | Path | None = None,
                  offline: bool = False, now: dt.datetime | None = None,
                  image_cache: str | Path | None = None,
                  verifiers: Mapping[str, Verifier] | None = None) -> Inspection:
    """Ask every authority of the policy about `reference` (ValueError: not a reference),
    as of `now` (default: now).

    The cached manifest, when there is one, is compared as the trust stage compares it;
    without it, tag-signing authorities still say which digest they vouch for."""
    from lkpolicy.store.errors import StoreError
    from lkpolicy.store.lookup import Store

    try:
        ref = parse_reference(reference)
    except ReferenceError as error:
        raise ValueError(str(error)) from None
    context = context_for(cache_dir, image_cache, offline, now)
    try:
        manifest = Store(context.image_cache).find(ref.expanded)
    except StoreError:
        manifest = None
    wanted, _ = requirements_for(ref, policy, [])
    required = {ask for requirement in wanted for ask in requirement.asks()}
    asks = [Ask(name) for name in policy.trust.authorities]
    asks.extend(ask for ask in dict.fromkeys(required)
                if ask.signers or ask.attestation is not None)
    pool = Verifiers(policy.trust.authorities, context, verifiers)
    answers = []
    try:
        for ask in asks:
            outcome = pool.verify(ask, ref, manifest)
            answer = AuthorityAnswer(ask.authority, policy.trust.authorities[ask.authority].type,
                                     ask in required, signers=ask.signers,
                                     attestation=ask.attestation.describe()
                                     if ask.attestation is not None else "")
            if isinstance(outcome, VerificationFailed):
                answer.error, answer.mismatch = outcome.reason, outcome.mismatch
            else:
                answer.evidence = outcome
            answers.append(answer)
    finally:
        pool.close()
    cached = {"digest": manifest.digest, "size": manifest.size} if manifest else None
    at = context.now.isoformat().replace("+00:00", "Z")
    return Inspection(ref.expanded, cached, answers, at)
