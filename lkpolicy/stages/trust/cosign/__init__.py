"""cosign image signatures: find them in the registry, verify them with keys or keylessly.

`signatures` is the pure verification of key-based signatures (simple-signing payloads and DSSE
bundles: bytes in, a `VerifiedSignature` or a `CosignError` out); `discovery` finds the signature
objects of a manifest digest in a registry or the image cache; `verifier` (`CosignVerifier`) ties
them together, with `lkpolicy.stages.trust.sigstore_keyless` for keyless bundles verified offline
against a trusted root FILE. Legacy keyless `.sig` signatures (certificate annotation + Rekor SET,
no inclusion proof) are reported as unsupported: sigstore-python cannot verify them (spec 4.3).

sigstore is never imported by this package at import time.
"""

from lkpolicy.stages.trust.cosign.discovery import (
    Candidate,
    find_signatures,
    referrers_tag,
    signature_tag,
)
from lkpolicy.stages.trust.cosign.signatures import (
    CosignPublicKey,
    SimpleSigning,
    VerifiedSignature,
    dsse_pae,
    load_public_key,
    parse_simple_signing,
    verify_dsse_bundle_with_key,
    verify_simple_signing,
)
from lkpolicy.stages.trust.cosign.verifier import CosignVerifier

__all__ = [
    "Candidate",
    "CosignPublicKey",
    "CosignVerifier",
    "SimpleSigning",
    "VerifiedSignature",
    "dsse_pae",
    "find_signatures",
    "load_public_key",
    "parse_simple_signing",
    "referrers_tag",
    "signature_tag",
    "verify_dsse_bundle_with_key",
    "verify_simple_signing",
]
