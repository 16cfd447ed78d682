"""What a trust rule requires, as small objects that judge the authorities' answers.

In the shape of sigstore-python's `verify/policy.py`: a requirement is a leaf (`Signed`: one
authority, optionally naming the Notary delegation roles that must each sign, or the in-toto
attestation it must have signed, `attest.conditions.AttestationCondition`) or a combination
(`AllOf`, `AnyOf`) of requirements, and `verify` returns a `Verdict` with the reason instead of
raising. As there, `AllOf([])` cannot be met: an empty requirement must never pass by accident.

The verdict also names the answers that left the requirement unmet (`unmet`), so that the stage
reports each failing authority once, with its own reason. Nothing here talks to an authority:
the stage asks them (one `Ask` each) and hands the answers in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lkpolicy.model.findings import Location
    from lkpolicy.stages.trust.attest.conditions import AttestationCondition


@dataclass(frozen=True, slots=True)
class Ask:
    """One question to one authority: does it vouch (through every one of `signers`, or with
    an attestation that meets `attestation`)?"""

    authority: str
    signers: tuple[str, ...] = ()
    """Notary delegation roles that must each sign the tag with the same digest; empty: the
    authority's own rule (Docker's role order for Notary)."""
    attestation: AttestationCondition | None = None
    """An in-toto attestation of the image that the authority must have signed, and what its
    predicate must say; None: the authority's signature of the image itself."""

    def describe(self) -> str:
        if self.attestation is not None:
            return f"{self.authority} ({self.attestation.describe()})"
        if not self.signers:
            return self.authority
        return f"{self.authority} (signed by {', '.join(self.signers)})"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an authority did not vouch; `mismatch`: it vouches for another digest."""

    reason: str
    mismatch: bool = False


@dataclass(frozen=True, slots=True)
class Unmet:
    """An answer that left a requirement unmet, and (under `any`) what would have done."""

    ask: Ask
    refusal: Refusal
    note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str = ""
    unmet: tuple[Unmet, ...] = ()


Answers = Mapping[Ask, Refusal | None]
"""Each ask's answer: None when the authority vouched, else why not."""


@dataclass(frozen=True, slots=True)
class Signed:
    """One authority must vouch (through every named signer, when there are any)."""

    ask: Ask
    location: Location | None = field(default=None, compare=False)

    def asks(self) -> Iterator[Ask]:
        yield self.ask

    def verify(self, answers: Answers) -> Verdict:
        refusal = answers.get(self.ask, Refusal("the authority was not asked"))
        if refusal is None:
            return Verdict(True)
        return Verdict(False, f"{self.ask.describe()}: {refusal.reason}",
                       (Unmet(self.ask, refusal),))

    def describe(self) -> str:
        return self.ask.describe()


@dataclass(frozen=True, slots=True)
class Combined:
    """Requirements judged together (`AllOf`, `AnyOf`)."""

    children: tuple[Requirement, ...]
    location: Location | None = field(default=None, compare=False)
    mode = ""

    def asks(self) -> Iterator[Ask]:
        for child in self.children:
            yield from child.asks()

    def describe(self) -> str:
        if len(self.children) == 1:
            return self.children[0].describe()
        parts = [child.describe() if isinstance(child, Signed) else f"({child.describe()})"
                 for child in self.children]
        return f"{self.mode} of {', '.join(parts)}"


@dataclass(frozen=True, slots=True)
class AllOf(Combined):
    """Every child must be met; with no child at all, nothing is (as sigstore's AllOf)."""

    mode = "all"

    def verify(self, answers: Answers) -> Verdict:
        if not self.children:
            return Verdict(False, "`all` of no requirement cannot be met")
        failed = [verdict for child in self.children
                  if not (verdict := child.verify(answers)).ok]
        if not failed:
            return Verdict(True)
        return Verdict(False, "; ".join(verdict.reason for verdict in failed),
                       tuple(unmet for verdict in failed for unmet in verdict.unmet))


@dataclass(frozen=True, slots=True)
class AnyOf(Combined):
    """At least one child must be met; the unmet answers of all children explain a failure."""

    mode = "any"

    def verify(self, answers: Answers) -> Verdict:
        if not self.children:
            return Verdict(False, "`any` of no requirement cannot be met")
        verdicts = [child.verify(answers) for child in self.children]
        if any(verdict.ok for verdict in verdicts):
            return Verdict(True)
        note = "" if len(self.children) == 1 else \
            f" ({self.describe()} would do; none does)"
        unmet = tuple(Unmet(item.ask, item.refusal, item.note or note)
                      for verdict in verdicts for item in verdict.unmet)
        return Verdict(False, f"0 of {len(self.children)} alternatives met: "
                       + "; ".join(verdict.reason for verdict in verdicts), unmet)


Requirement = Signed | AllOf | AnyOf


def authorities(requirement: Requirement) -> list[str]:
    """The authority names a requirement asks, each once, in order."""
    return list(dict.fromkeys(ask.authority for ask in requirement.asks()))
