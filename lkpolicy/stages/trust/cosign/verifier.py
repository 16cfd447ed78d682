"""`CosignVerifier`: an image manifest digest must carry an acceptable cosign signature.

The shell around the pure checks: `discovery` finds the candidates in the registry (or the image
cache), `signatures` verifies key-based ones and `sigstore_keyless` keyless bundles; when none
verifies, the most specific failure is reported. sigstore is never imported at import time.
"""

from __future__ import annotations

from collections.abc import Iterable

from lkpolicy.model.oci import ImageSource, OCIError
from lkpolicy.model.reference import ImageRef
from lkpolicy.stages.trust.cosign.discovery import (
    CERTIFICATE_ANNOTATION,
    SIGNATURE_ANNOTATION,
    Candidate,
    find_signatures,
    signature_tag,
)
from lkpolicy.stages.trust.cosign.signatures import (
    CosignPublicKey,
    VerifiedSignature,
    load_public_key,
    parse_json_object,
    verify_dsse_bundle_with_key,
    verify_simple_signing,
)
from lkpolicy.stages.trust.errors import (
    CosignError,
    KeylessError,
    MalformedSignature,
    PayloadDigestMismatch,
    SignatureInvalid,
    SignatureMissing,
    TrustedRootUnavailable,
    UnsupportedSignature,
    WrongIdentity,
    cosign_error_for_keyless,
)
from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy, KeylessVerifier

# The error reported when every candidate failed: the most specific failure wins.
_FAILURE_PRIORITY: tuple[type[CosignError], ...] = (
    PayloadDigestMismatch, WrongIdentity, SignatureInvalid, MalformedSignature,
    UnsupportedSignature,
)


class CosignVerifier:
    """Verifies that an image manifest digest carries at least one acceptable cosign signature.

    `public_keys`: PEM public keys, any of which may sign. `keyless`: a policy for Fulcio
    certificates, verified against its trusted root file offline. At least one is required.
    `require_docker_reference`: also require the legacy payload's `docker-reference` to name the
    image's repository (cosign itself does not; copies to other registries then fail).
    """

    def __init__(self, client: ImageSource, *, public_keys: list[bytes] | None = None,
                 keyless: KeylessPolicy | None = None,
                 require_docker_reference: bool = False) -> None:
        if not public_keys and keyless is None:
            raise ValueError("cosign verification needs public keys or a keyless policy")
        self.client = client
        self.keys: list[CosignPublicKey] = []
        for index, pem in enumerate(public_keys or []):
            try:
                self.keys.append(load_public_key(pem))
            except ValueError as error:
                raise ValueError(f"public key {index + 1}: {error}") from None
        self.keyless = KeylessVerifier(keyless) if keyless is not None else None
        self.require_docker_reference = require_docker_reference

    def verify(self, ref: ImageRef, manifest_digest: str) -> list[VerifiedSignature]:
        """All signatures that verify for `manifest_digest`; raises a CosignError if none does."""
        image = ref.original
        try:
            from lkpolicy.model.oci import check_digest_syntax

            check_digest_syntax(manifest_digest)
        except OCIError as error:
            raise MalformedSignature(image, str(error)) from None
        if self.keyless is not None:
            try:
                self.keyless.check_trusted_root()
            except KeylessError as error:
                raise cosign_error_for_keyless(error, image) from None
        candidates, notes = find_signatures(self.client, ref, manifest_digest)
        if not candidates:
            detail = f" ({'; '.join(notes[:3])})" if notes else ""
            raise SignatureMissing(image, f"no cosign signature for {manifest_digest} (looked "
                                          f"for tag {signature_tag(manifest_digest)} and "
                                          f"referrers){detail}")
        verified: list[VerifiedSignature] = []
        failures: list[CosignError] = []
        for candidate in candidates:
            try:
                verified.append(self._verify_candidate(candidate, ref, manifest_digest))
            except TrustedRootUnavailable:
                raise
            except CosignError as error:
                failures.append(error)
        if verified:
            return verified
        raise _summarise(image, manifest_digest, failures, len(candidates))

    def _verify_candidate(self, candidate: Candidate, ref: ImageRef,
                          digest: str) -> VerifiedSignature:
        image = ref.original
        if candidate.kind == "simple-signing":
            return self._verify_simple(candidate, ref, digest)
        bundle = parse_json_object(candidate.payload, image, f"{candidate.source} bundle")
        material = bundle.get("verificationMaterial")
        if not isinstance(material, dict):
            raise MalformedSignature(image, f"{candidate.source}: bundle has no "
                                            f"verificationMaterial")
        if "publicKey" in material:
            if not self.keys:
                raise UnsupportedSignature(image, f"{candidate.source}: key-based bundle, but no "
                                                  f"public keys are trusted")
            return verify_dsse_bundle_with_key(bundle, self.keys, digest, image=image,
                                               source=candidate.source)
        if self.keyless is None:
            raise UnsupportedSignature(image, f"{candidate.source}: keyless bundle, but no "
                                              f"keyless policy is configured")
        try:
            result = self.keyless.verify_bundle(candidate.payload, digest)
        except KeylessError as error:
            raise cosign_error_for_keyless(error, image) from None
        return VerifiedSignature(
            image=image, digest=digest, method="keyless", format="sigstore-bundle",
            signer=f"{result.identity} (issuer {result.issuer})", source=candidate.source,
            identity=result.identity, issuer=result.issuer, log_index=result.log_index,
            integrated_time=result.integrated_time)

    def _verify_simple(self, candidate: Candidate, ref: ImageRef,
                       digest: str) -> VerifiedSignature:
        image = ref.original
        signature = candidate.annotations.get(SIGNATURE_ANNOTATION)
        if signature is None:
            raise MalformedSignature(image, f"{candidate.source} has no {SIGNATURE_ANNOTATION} "
                                            f"annotation")
        keyless_material = CERTIFICATE_ANNOTATION in candidate.annotations
        if not self.keys:
            if keyless_material:
                raise UnsupportedSignature(
                    image, f"{candidate.source}: legacy keyless signature (certificate + Rekor "
                           f"SET) cannot be verified offline by sigstore-python; re-sign with "
                           f"cosign v3 bundles")
            raise UnsupportedSignature(image, f"{candidate.source}: key-based signature, but no "
                                              f"public keys are trusted")
        expected = ref.locator if self.require_docker_reference else None
        return verify_simple_signing(candidate.payload, signature, self.keys, digest,
                                     image=image, expected_repository=expected,
                                     source=candidate.source)


def _summarise(image: str, digest: str, failures: Iterable[CosignError],
               count: int) -> CosignError:
    failures = list(failures)
    chosen = next((f for cls in _FAILURE_PRIORITY for f in failures if type(f) is cls),
                  failures[0] if failures else SignatureInvalid(image, "no signature verified"))
    if count == 1:
        return chosen
    reasons = list(dict.fromkeys(f.reason for f in failures))
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    return type(chosen)(image, f"none of {count} signatures for {digest} verifies: {shown}")
