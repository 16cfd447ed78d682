"""`CosignVerifier`: an image manifest digest must carry an acceptable cosign signature.

The shell around the pure checks: `discovery` finds the candidates in the registry (or the image
cache), `signatures` verifies key-based ones and `sigstore_keyless` keyless bundles; when none
verifies, the most specific failure is reported. sigstore is never imported at import time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

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
from lkpolicy.stages.trust.cosign.tlog import LogKey, verify_bundle_log
from lkpolicy.stages.trust.errors import (
    CosignError,
    KeylessError,
    LogEntryInvalid,
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

T = TypeVar("T")

# The error reported when every candidate failed: the most specific failure wins.
_FAILURE_PRIORITY: tuple[type[CosignError], ...] = (
    PayloadDigestMismatch, WrongIdentity, LogEntryInvalid, SignatureInvalid, MalformedSignature,
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
                 require_docker_reference: bool = False, logs: Sequence[LogKey] = (),
                 now: dt.datetime | None = None) -> None:
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
        self.logs = tuple(logs)
        self.now = now

    def verify(self, ref: ImageRef, manifest_digest: str) -> list[VerifiedSignature]:
        """All signatures that verify for `manifest_digest`; raises a CosignError if none does."""
        image = ref.original
        check_ready(image, manifest_digest, [self.keyless] if self.keyless else [])
        return passing(image, find_signatures(self.client, ref, manifest_digest),
                       lambda candidate: self._verify_candidate(candidate, ref, manifest_digest),
                       f"signatures for {manifest_digest} verifies",
                       f"no cosign signature for {manifest_digest} (looked for tag "
                       f"{signature_tag(manifest_digest)} and referrers)")

    def _verify_candidate(self, candidate: Candidate, ref: ImageRef,
                          digest: str) -> VerifiedSignature:
        image = ref.original
        if candidate.kind == "simple-signing":
            return self._verify_simple(candidate, ref, digest)
        bundle, material = read_bundle(candidate, image)
        if "publicKey" in material:
            if not self.keys:
                raise UnsupportedSignature(image, f"{candidate.source}: key-based bundle, but no "
                                                  f"public keys are trusted")
            verified = verify_dsse_bundle_with_key(bundle, self.keys, digest, image=image,
                                                   source=candidate.source)
            if not self.logs:
                return verified
            assert verified.key_id is not None
            logged = verify_bundle_log(bundle, self.logs, key_id=verified.key_id, image=image,
                                       source=candidate.source, not_after=self.now)
            return dataclasses.replace(verified, log_index=logged.log_index,
                                       integrated_time=logged.integrated_time)
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


def read_bundle(candidate: Candidate, image: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bundle candidate's JSON and its verification material (MalformedSignature)."""
    bundle = parse_json_object(candidate.payload, image, f"{candidate.source} bundle")
    material = bundle.get("verificationMaterial")
    if not isinstance(material, dict):
        raise MalformedSignature(image, f"{candidate.source}: bundle has no "
                                        f"verificationMaterial")
    return bundle, material


def check_ready(image: str, manifest_digest: str, keyless: Iterable[KeylessVerifier]) -> None:
    """Before any registry traffic: a digest that can be one, and keyless trusted roots that
    load (a TrustedRootUnavailable fails every image alike, with its reason)."""
    try:
        from lkpolicy.model.oci import check_digest_syntax

        check_digest_syntax(manifest_digest)
    except OCIError as error:
        raise MalformedSignature(image, str(error)) from None
    for verifier in keyless:
        try:
            verifier.check_trusted_root()
        except KeylessError as error:
            raise cosign_error_for_keyless(error, image) from None


def passing(image: str, found: tuple[list[Candidate], list[str]],
            judge: Callable[[Candidate], T], what: str, missing: str,
            priority: Sequence[type[CosignError]] = _FAILURE_PRIORITY) -> list[T]:
    """What `judge` makes of every candidate found that passes it; when none does, the most
    specific failure (`summarise`), and SignatureMissing (`missing`, with the discovery's
    notes) when nothing was found. An unusable trusted root stops at once."""
    candidates, notes = found
    if not candidates:
        detail = f" ({'; '.join(notes[:3])})" if notes else ""
        raise SignatureMissing(image, missing + detail)
    passed: list[T] = []
    failures: list[CosignError] = []
    for candidate in candidates:
        try:
            passed.append(judge(candidate))
        except TrustedRootUnavailable:
            raise
        except CosignError as error:
            failures.append(error)
    if passed:
        return passed
    raise summarise(image, what, failures, len(candidates), priority)


def summarise(image: str, what: str, failures: Iterable[CosignError], count: int,
              priority: Sequence[type[CosignError]] = _FAILURE_PRIORITY) -> CosignError:
    """The failure that explains why none of `count` candidates passed: the most specific
    one (first in `priority`), worded `none of <count> <what>: <reasons>` when there were
    several."""
    failures = list(failures)
    chosen = next((f for cls in priority for f in failures if type(f) is cls),
                  failures[0] if failures else SignatureInvalid(image, "no signature verified"))
    if count == 1:
        return chosen
    reasons = list(dict.fromkeys(f.reason for f in failures))
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    return type(chosen)(image, f"none of {count} {what}: {shown}")
