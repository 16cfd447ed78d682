"""`AttestationVerifier`: an image must carry a verified attestation that meets a condition.

Each candidate (`cosign.discovery.find_attestations`) is verified before anything it says is
read: a `.att` layer's DSSE envelope with a trusted key; a Sigstore bundle with a trusted key
(and its transparency-log entry, when the authority's trusted root has logs) or keylessly with
sigstore-python against the trusted root and an accepted identity. Only then is its statement
read: the image's manifest digest must be a subject, and the predicate must meet the condition.
When no candidate passes, the most specific failure explains why (a wrong builder before a
wrong subject before a wrong identity before a bad signature before another predicate type).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lkpolicy.model.oci import ImageSource
from lkpolicy.model.reference import ImageRef
from lkpolicy.stages.trust.attest.conditions import AttestationCondition
from lkpolicy.stages.trust.attest.statement import check_condition, parse_statement
from lkpolicy.stages.trust.cosign.discovery import (
    CERTIFICATE_ANNOTATION,
    Candidate,
    attestation_tag,
    find_attestations,
)
from lkpolicy.stages.trust.cosign.signatures import (
    CosignPublicKey,
    Format,
    Method,
    dsse_pae,
    verify_with_keys,
)
from lkpolicy.stages.trust.cosign.tlog import LogKey, verify_bundle_log
from lkpolicy.stages.trust.cosign.verifier import check_ready, passing, read_bundle, summarise
from lkpolicy.stages.trust.errors import (
    CosignError,
    EnvelopeError,
    KeylessError,
    LogEntryInvalid,
    MalformedSignature,
    PayloadDigestMismatch,
    PredicateMismatch,
    PredicateTypeMismatch,
    SignatureInvalid,
    UnsupportedSignature,
    WrongIdentity,
    cosign_error_for_keyless,
)
from lkpolicy.stages.trust.sigstore_keyless import KeylessVerifier

if TYPE_CHECKING:
    from lkpolicy.stages.trust.dsse import Envelope

PRIORITY: tuple[type[CosignError], ...] = (
    PredicateMismatch, PayloadDigestMismatch, WrongIdentity, LogEntryInvalid, SignatureInvalid,
    PredicateTypeMismatch, MalformedSignature, UnsupportedSignature,
)
"""Which failure explains a refusal when every candidate failed: the most specific first."""


@dataclass(frozen=True, slots=True)
class VerifiedAttestation:
    digest: str
    """The manifest digest the statement names."""
    source: str
    format: Format
    method: Method
    signer: str
    facts: dict[str, str]
    """The predicate type and, for SLSA provenance, the builder, build type and source."""
    integrated_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class _Signed:
    payload_type: str
    payload: bytes
    method: Method
    signer: str
    integrated_time: dt.datetime | None = None
    key_id: str | None = None


class AttestationVerifier:
    """The attestations one authority vouches for: made with one of `keys` (their bundles in
    `logs`, when there are any), or keylessly by an identity of one of `keyless`."""

    def __init__(self, client: ImageSource, *, keys: Sequence[CosignPublicKey] = (),
                 keyless: Sequence[KeylessVerifier] = (), logs: Sequence[LogKey] = (),
                 now: dt.datetime | None = None) -> None:
        self.client = client
        self.keys = list(keys)
        self.keyless = list(keyless)
        self.logs = tuple(logs)
        self.now = now

    def verify(self, ref: ImageRef, manifest_digest: str,
               condition: AttestationCondition) -> list[VerifiedAttestation]:
        """Every attestation of `manifest_digest` that meets `condition`; a CosignError
        explaining the refusal when none does."""
        image = ref.original
        check_ready(image, manifest_digest, self.keyless)
        return passing(image, find_attestations(self.client, ref, manifest_digest),
                       lambda candidate: self._judge(candidate, image, manifest_digest,
                                                     condition),
                       f"attestations of {manifest_digest} is {condition.describe()}",
                       f"no attestation for {manifest_digest} (looked for tag "
                       f"{attestation_tag(manifest_digest)} and referrers)", PRIORITY)

    def _judge(self, candidate: Candidate, image: str, digest: str,
               condition: AttestationCondition) -> VerifiedAttestation:
        signed = self._signed(candidate, image)
        statement = parse_statement(signed.payload_type, signed.payload, digest, image=image,
                                    source=candidate.source)
        facts = check_condition(statement, condition, image=image, source=candidate.source)
        return VerifiedAttestation(digest, candidate.source, candidate.kind, signed.method,
                                   signed.signer, facts, signed.integrated_time)

    # ---------------------------------------------------------------- signatures

    def _signed(self, candidate: Candidate, image: str) -> _Signed:
        if candidate.kind == "dsse-envelope":
            if CERTIFICATE_ANNOTATION in candidate.annotations and not self.keys:
                raise UnsupportedSignature(
                    image, f"{candidate.source}: legacy keyless attestation (certificate + "
                           f"Rekor SET) cannot be verified offline by sigstore-python; attach "
                           f"attestations as Sigstore bundles (cosign v3)")
            return self._with_keys(self._envelope(candidate.payload, image, candidate.source),
                                   image, candidate.source)
        bundle, material = read_bundle(candidate, image)
        if "publicKey" in material:
            envelope = bundle.get("dsseEnvelope")
            if not isinstance(envelope, dict):
                raise UnsupportedSignature(image, f"{candidate.source}: the bundle signs a "
                                                  f"message, not a DSSE in-toto statement")
            signed = self._with_keys(self._envelope(envelope, image, candidate.source), image,
                                     candidate.source)
            if not self.logs:
                return signed
            assert signed.key_id is not None
            logged = verify_bundle_log(bundle, self.logs, key_id=signed.key_id, image=image,
                                       source=candidate.source, not_after=self.now)
            return dataclasses.replace(signed, integrated_time=logged.integrated_time)
        return self._keyless(candidate, image)

    def _envelope(self, data: bytes | dict[str, Any], image: str, source: str) -> Envelope:
        from lkpolicy.stages.trust.dsse import parse_envelope

        try:
            return parse_envelope(data)
        except EnvelopeError as error:
            raise MalformedSignature(image, f"{source}: {error}") from None

    def _with_keys(self, envelope: Envelope, image: str, source: str) -> _Signed:
        if not self.keys:
            raise UnsupportedSignature(image, f"{source}: key-based attestation, but no public "
                                              f"keys are trusted")
        if not envelope.signatures:
            raise SignatureInvalid(image, f"{source}: the DSSE envelope carries no signature")
        message = dsse_pae(envelope.payload_type, envelope.payload)
        failure: CosignError | None = None
        for _keyid, signature in envelope.signatures:
            try:
                key = verify_with_keys(message, signature, self.keys, image)
            except SignatureInvalid as error:
                failure = error
                continue
            return _Signed(envelope.payload_type, envelope.payload, "key", key.describe(),
                           key_id=key.key_id)
        assert failure is not None
        raise SignatureInvalid(image, f"{source}: {failure.reason}")

    def _keyless(self, candidate: Candidate, image: str) -> _Signed:
        if not self.keyless:
            raise UnsupportedSignature(image, f"{candidate.source}: keyless bundle, but no "
                                              f"keyless identity is trusted")
        failures: list[CosignError] = []
        for verifier in self.keyless:  # identities are alternatives
            try:
                verified = verifier.verify_dsse(candidate.payload)
            except KeylessError as error:
                failure = cosign_error_for_keyless(error, image)
                failures.append(type(failure)(image, f"{candidate.source}: {failure.reason}"))
                continue
            return _Signed(verified.payload_type, verified.payload, "keyless",
                           f"{verified.identity} (issuer {verified.issuer})",
                           verified.integrated_time)
        raise summarise(image, "identities accepts it", failures, len(failures), PRIORITY)
