"""cosign signature verification, pure: bytes in, a `VerifiedSignature` or a `CosignError` out.

* Legacy simple-signing payloads (`verify_simple_signing`): the key signature over the exact
  payload bytes, then the claims: `critical.type` is cosign's and
  `critical.image.docker-manifest-digest` is the manifest digest (optionally also
  `critical.identity.docker-reference` is the image's repository).
* Cosign v3 `--key` bundles (`verify_dsse_bundle_with_key`): a DSSE in-toto statement signed
  over the DSSE PAE, whose subject is the manifest digest.

Keys are PEM SubjectPublicKeyInfo: ECDSA P-256/P-384/P-521, Ed25519, RSA >= 2048 with PKCS#1
v1.5. Like `cosign verify --insecure-ignore-tlog`, the key path does not check transparency-log
entries: the key is the trust anchor. Keyless bundles go to `sigstore_keyless`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lkpolicy.safeio import parse_json
from lkpolicy.stages.trust.errors import (
    KeylessError,
    MalformedSignature,
    PayloadDigestMismatch,
    SignatureInvalid,
    UnsupportedSignature,
    WrongIdentity,
    cosign_error_for_keyless,
    key_error_reason,
)
from lkpolicy.stages.trust.sigstore_keyless import check_cosign_statement

SIMPLE_SIGNING_TYPE = "cosign container image signature"
MAX_PAYLOAD_BYTES = 256 * 1024
_MIN_RSA_BITS = 2048
_DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")

Method = Literal["key", "keyless"]
Format = Literal["simple-signing", "sigstore-bundle", "blob-signature", "dsse-envelope"]


@dataclass(frozen=True)
class VerifiedSignature:
    image: str
    digest: str
    """The manifest digest the signature binds to."""
    method: Method
    format: Format
    signer: str
    """One line for people: the key or the certificate identity."""
    source: str
    """Where it was found: the `.sig` tag and layer, or the referrer manifest digest."""
    key_id: str | None = None
    """`sha256:<hex>` of the public key's SubjectPublicKeyInfo (key-based signatures)."""
    identity: str | None = None
    issuer: str | None = None
    docker_reference: str | None = None
    log_index: int | None = None
    integrated_time: dt.datetime | None = None


@dataclass(frozen=True)
class CosignPublicKey:
    key: Any = field(repr=False, compare=False)
    key_id: str
    algorithm: str

    def verify(self, message: bytes, signature: bytes, *, prehashed: bool = False) -> bool:
        """The signature over `message`, or (`prehashed`) over the data whose SHA-256 digest
        `message` is, as cosign signs blobs. Ed25519 signs whole messages: never prehashed."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        key = self.key
        digest: hashes.HashAlgorithm | Prehashed = (Prehashed(hashes.SHA256()) if prehashed
                                                    else hashes.SHA256())
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                # cosign signs with SHA-256 for every curve (LoadVerifier(pub, SHA256)); newer
                # sigstore libraries pick the curve's own hash for P-384/P-521: accept both.
                candidates: list[hashes.HashAlgorithm | Prehashed] = [digest]
                if not prehashed and key.curve.key_size in (384, 521):
                    candidates.append(hashes.SHA384() if key.curve.key_size == 384
                                      else hashes.SHA512())
                for algorithm in candidates:
                    try:
                        key.verify(signature, message, ec.ECDSA(algorithm))
                        return True
                    except InvalidSignature:
                        continue
                return False
            if isinstance(key, ed25519.Ed25519PublicKey):
                if len(signature) != 64 or prehashed:
                    return False
                key.verify(signature, message)
                return True
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, message, padding.PKCS1v15(), digest)
                return True
        except (InvalidSignature, ValueError):
            return False
        return False

    def describe(self) -> str:
        return f"{self.algorithm} key {self.key_id[:19]}"


def load_public_key(pem: bytes) -> CosignPublicKey:
    """A PEM SubjectPublicKeyInfo (`cosign.pub`); raises ValueError for anything else."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm, TypeError) as error:
        raise ValueError(f"not a PEM public key: {key_error_reason(error)}") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise ValueError(f"unsupported elliptic curve {key.curve.name}")
        algorithm = f"ECDSA P-{key.curve.key_size}"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "Ed25519"
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ValueError(f"RSA key has {key.key_size} bits (at least {_MIN_RSA_BITS} needed)")
        algorithm = f"RSA-{key.key_size}"
    else:
        raise ValueError(f"unsupported key type {type(key).__name__}")
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return CosignPublicKey(key, "sha256:" + hashlib.sha256(der).hexdigest(), algorithm)


# ------------------------------------------------------------------------------------ pure checks


def parse_json_object(data: bytes, image: str, what: str) -> dict[str, Any]:
    """A JSON object without duplicate keys (two parsers must not read two different claims)."""
    from lkpolicy.safeio import unique_keys

    try:
        parsed = parse_json(data, what, object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedSignature(image, f"{what} is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise MalformedSignature(image, f"{what} is not a JSON object")
    return parsed


def base64_field(value: object, image: str, what: str) -> bytes:
    """A non-empty standard base64 string, decoded (MalformedSignature otherwise)."""
    if not isinstance(value, str) or not value:
        raise MalformedSignature(image, f"{what} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignature(image, f"{what} is not valid base64") from None


def normalise_repository(name: str) -> str:
    """`index.docker.io/x/y` and `docker.io/x/y` name the same repository."""
    name = name.strip().lower()
    for alias in _DOCKER_HUB:
        if name.startswith(alias):
            return "docker.io/" + name[len(alias):]
    return name


@dataclass(frozen=True)
class SimpleSigning:
    docker_reference: str | None
    manifest_digest: str
    optional: dict[str, Any] | None


def parse_simple_signing(payload: bytes, manifest_digest: str, image: str,
                         expected_repository: str | None = None) -> SimpleSigning:
    """The claims of a (signature-verified) payload, checked against the digest and repository."""
    document = parse_json_object(payload, image, "signature payload")
    critical = document.get("critical")
    if not isinstance(critical, dict):
        raise MalformedSignature(image, "signature payload has no `critical` object")
    kind = critical.get("type")
    if kind != SIMPLE_SIGNING_TYPE:
        raise MalformedSignature(image, f"signature payload type {str(kind)[:80]!r} is not "
                                        f"{SIMPLE_SIGNING_TYPE!r}")
    image_claim = critical.get("image")
    signed_digest = image_claim.get("docker-manifest-digest") if isinstance(image_claim, dict) \
        else None
    if not isinstance(signed_digest, str):
        raise MalformedSignature(image, "signature payload lacks critical.image."
                                        "docker-manifest-digest")
    if signed_digest != manifest_digest:
        raise PayloadDigestMismatch(image, f"the signature is for {signed_digest[:80]}, not "
                                           f"{manifest_digest}")
    identity = critical.get("identity")
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    if reference is not None and not isinstance(reference, str):
        raise MalformedSignature(image, "critical.identity.docker-reference is not a string")
    if expected_repository is not None:
        if reference is None:
            raise WrongIdentity(image, "the signature names no docker-reference, expected "
                                       f"{expected_repository}")
        if normalise_repository(reference) != normalise_repository(expected_repository):
            raise WrongIdentity(image, f"the signature is for repository {reference[:120]!r}, "
                                       f"not {expected_repository}")
    optional = document.get("optional")
    if optional is not None and not isinstance(optional, dict):
        raise MalformedSignature(image, "signature payload `optional` is neither null nor an "
                                        "object")
    return SimpleSigning(reference, signed_digest, optional)


def verify_with_keys(message: bytes, signature: bytes, keys: Sequence[CosignPublicKey],
                     image: str, *, prehashed: bool = False) -> CosignPublicKey:
    """The trusted key that made `signature` (over `message`, or over the data whose SHA-256
    `message` is); SignatureInvalid when none did."""
    if not keys:
        raise SignatureInvalid(image, "no public keys are trusted")
    for key in keys:
        if key.verify(message, signature, prehashed=prehashed):
            return key
    names = ", ".join(k.key_id[:19] for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
    raise SignatureInvalid(image, f"the signature does not verify with any trusted key ({names})")


def verify_simple_signing(payload: bytes, signature_b64: str, keys: Sequence[CosignPublicKey],
                          manifest_digest: str, *, image: str,
                          expected_repository: str | None = None,
                          source: str = "") -> VerifiedSignature:
    """A legacy cosign signature: key signature over the payload bytes, then its claims."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedSignature(image, f"signature payload is larger than {MAX_PAYLOAD_BYTES} "
                                        f"bytes")
    signature = base64_field(signature_b64, image, "signature annotation")
    key = verify_with_keys(payload, signature, keys, image)
    claims = parse_simple_signing(payload, manifest_digest, image, expected_repository)
    return VerifiedSignature(image=image, digest=manifest_digest, method="key",
                             format="simple-signing", signer=key.describe(), source=source,
                             key_id=key.key_id, docker_reference=claims.docker_reference)


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_dsse_bundle_with_key(bundle: dict[str, Any], keys: Sequence[CosignPublicKey],
                                manifest_digest: str, *, image: str,
                                source: str = "") -> VerifiedSignature:
    """A cosign v3 `--key` bundle: the DSSE signature over PAE with a trusted key, then the
    in-toto statement (cosign sign predicate, subject digest). The tlog entry is not checked."""
    envelope = bundle.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise UnsupportedSignature(image, "key-based bundle without a DSSE envelope (message "
                                          "signatures are not cosign image signatures)")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise MalformedSignature(image, "DSSE envelope lacks payloadType")
    payload = base64_field(envelope.get("payload"), image, "DSSE payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 \
            or not isinstance(signatures[0], dict):
        raise MalformedSignature(image, "DSSE envelope must carry exactly one signature")
    signature = base64_field(signatures[0].get("sig"), image, "DSSE signature")
    key = verify_with_keys(dsse_pae(payload_type, payload), signature, keys, image)
    try:
        check_cosign_statement(payload_type, payload, manifest_digest)
    except KeylessError as error:
        raise cosign_error_for_keyless(error, image) from None
    return VerifiedSignature(image=image, digest=manifest_digest, method="key",
                             format="sigstore-bundle", signer=key.describe(), source=source,
                             key_id=key.key_id)
