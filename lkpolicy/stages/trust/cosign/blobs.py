"""cosign signatures of files ("blobs"), pure: signature bytes and the file's SHA-256 in, a
`VerifiedSignature` or a `CosignError` out.

Two forms made with a key pair (keyless bundles go to `sigstore_keyless.verify_blob_bundle`):

* `cosign sign-blob --key K --output-signature F.sig`: the base64 signature, alone;
* `cosign sign-blob --key K --bundle F.sigstore.json` (cosign v3 bundles): a Sigstore bundle
  with a public-key hint and a message signature, whose recorded digest must be the file's.

cosign signs a blob's SHA-256 digest (ECDSA, RSA PKCS#1 v1.5), so the file is never read again
here: the gate's digest of the bytes it read is what the signature must cover. Like the image
path, the key path does not check transparency-log entries: the key is the trust anchor.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from lkpolicy.stages.trust.cosign.signatures import (
    CosignPublicKey,
    VerifiedSignature,
    base64_field,
    verify_with_keys,
)
from lkpolicy.stages.trust.errors import (
    MalformedSignature,
    PayloadDigestMismatch,
    UnsupportedSignature,
)


def verify_blob_signature(signature_file: bytes, sha256: bytes, keys: Sequence[CosignPublicKey],
                          *, name: str, source: str = "") -> VerifiedSignature:
    """A `sign-blob --output-signature` file (base64, surrounding whitespace allowed)."""
    try:
        text = signature_file.decode("ascii").strip()
    except UnicodeDecodeError:
        raise MalformedSignature(name, f"{source or 'the signature'} is not base64 text") from None
    signature = base64_field(text, name, source or "the signature")
    key = verify_with_keys(sha256, signature, _digest_signers(keys, name), name, prehashed=True)
    return _verified(name, sha256, key, source)


def verify_blob_bundle_with_key(bundle: dict[str, Any], sha256: bytes,
                                keys: Sequence[CosignPublicKey], *, name: str,
                                source: str = "") -> VerifiedSignature:
    """A key-based Sigstore bundle of a blob: its message signature over the file's digest."""
    message = bundle.get("messageSignature")
    if not isinstance(message, dict):
        kind = "a DSSE statement (an attestation)" if "dsseEnvelope" in bundle else "nothing"
        raise UnsupportedSignature(name, f"{source}: the bundle signs {kind}, not the file's "
                                         f"bytes")
    recorded = message.get("messageDigest")
    if recorded is not None:
        if not isinstance(recorded, dict) or recorded.get("algorithm") != "SHA2_256":
            raise MalformedSignature(name, f"{source}: messageDigest is not a SHA2_256 digest")
        digest = base64_field(recorded.get("digest"), name, f"{source} messageDigest")
        if not hmac.compare_digest(digest, sha256):
            raise PayloadDigestMismatch(name, f"{source} signs sha256:{digest.hex()}, not the "
                                              f"file's sha256:{sha256.hex()}")
    signature = base64_field(message.get("signature"), name, f"{source} signature")
    key = verify_with_keys(sha256, signature, _digest_signers(keys, name), name, prehashed=True)
    return _verified(name, sha256, key, source, "sigstore-bundle")


def _digest_signers(keys: Sequence[CosignPublicKey], name: str) -> list[CosignPublicKey]:
    """The keys that can sign a digest: Ed25519 signs whole messages, which the gate does not
    keep (it reads a file once, as a hash)."""
    usable = [key for key in keys if key.algorithm != "Ed25519"]
    if keys and not usable:
        raise UnsupportedSignature(name, "Ed25519 keys sign whole files; lkpolicy checks file "
                                         "signatures over their SHA-256 (ECDSA or RSA keys)")
    return usable


def _verified(name: str, sha256: bytes, key: CosignPublicKey, source: str,
              form: Any = "blob-signature") -> VerifiedSignature:
    return VerifiedSignature(image=name, digest=f"sha256:{sha256.hex()}", method="key",
                             format=form, signer=key.describe(), source=source,
                             key_id=key.key_id)
