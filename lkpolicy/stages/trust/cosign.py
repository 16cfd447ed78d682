"""cosign image signatures: find them in the registry, verify them with keys or keylessly.

Two storage formats are read (../shared/spec/tuf-and-sigstore.md section 3):

* legacy tag signatures: tag `sha256-<hex>.sig` in the image's repository, an OCI manifest with
  one `application/vnd.dev.cosign.simplesigning.v1+json` layer per signature; the layer blob is
  the signed "simple signing" payload, the base64 signature is the layer annotation
  `dev.cosignproject.cosign/signature`;
* Sigstore bundles (cosign v3 default) attached as OCI 1.1 referrers of the image manifest:
  `GET /v2/<name>/referrers/<digest>`, or the tag-schema fallback index `sha256-<hex>` when the
  registry lacks the API (distribution 2.8 does). The older experimental mode that stored the
  simple-signing manifest as a referrer (artifact type `application/vnd.dev.cosign.artifact.sig.
  v1+json`) is read too.

Verification:

* with public keys (PEM; ECDSA P-256/P-384/P-521, Ed25519, RSA >= 2048 with PKCS#1 v1.5): the
  signature over the exact payload bytes, then the claims: `critical.type` is cosign's and
  `critical.image.docker-manifest-digest` is the manifest digest (optionally also
  `critical.identity.docker-reference` is the image's repository). Cosign v3 `--key` bundles (a
  DSSE in-toto statement with a public-key hint) are verified the same way over the DSSE PAE.
  Like `cosign verify --insecure-ignore-tlog`, the key path does not check transparency-log
  entries: the key is the trust anchor.
* keylessly (`sigstore_keyless`): bundles verified offline by sigstore-python against a trusted
  root FILE, with an identity/issuer policy. Legacy keyless `.sig` signatures (certificate
  annotation + Rekor SET, no inclusion proof) are reported as unsupported: sigstore-python cannot
  verify them (spec 4.3).

The verification functions (`load_public_key`, `verify_simple_signing`, `verify_dsse_bundle_with_key`)
are pure: bytes in, a verified result or a `TrustError` out. `CosignVerifier` is the registry
shell around them. sigstore is never imported by this module at import time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lkpolicy.model.oci import INDEX_TYPES, OCI_INDEX, Descriptor, ImageSource, Manifest, OCIError
from lkpolicy.model.reference import ImageRef
from lkpolicy.registry.errors import RegistryError
from lkpolicy.stages.trust import sigstore_keyless as keyless_mod
from lkpolicy.stages.trust.errors import (
    CosignError,
    KeylessError,
    MalformedSignature,
    PayloadDigestMismatch,
    SignatureFetchError,
    SignatureInvalid,
    SignatureMissing,
    TrustedRootUnavailable,
    UnsupportedSignature,
    WrongIdentity,
    cosign_error_for_keyless,
)
from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy, KeylessVerifier

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIMPLE_SIGNING_TYPE = "cosign container image signature"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
COSIGN_SIG_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIGSTORE_BUNDLE_TYPES = frozenset({
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
})
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"

MAX_SIGNATURE_LAYERS = 64
"""Signatures read from one `.sig` manifest; more is a denial of service, not a use case."""
MAX_REFERRERS = 32
"""Candidate referrers (bundles) fetched per image."""
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BUNDLE_BYTES = keyless_mod.MAX_BUNDLE_BYTES
_MIN_RSA_BITS = 2048
_DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")

Method = Literal["key", "keyless"]
Format = Literal["simple-signing", "sigstore-bundle"]


# The error reported when every candidate failed: the most specific failure wins.
_FAILURE_PRIORITY: tuple[type[CosignError], ...] = (
    PayloadDigestMismatch, WrongIdentity, SignatureInvalid, MalformedSignature,
    UnsupportedSignature,
)


# ------------------------------------------------------------------------------------ results


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

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

        key = self.key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                # cosign signs with SHA-256 for every curve (LoadVerifier(pub, SHA256)); newer
                # sigstore libraries pick the curve's own hash for P-384/P-521: accept both.
                candidates: list[hashes.HashAlgorithm] = [hashes.SHA256()]
                if key.curve.key_size == 384:
                    candidates.append(hashes.SHA384())
                elif key.curve.key_size == 521:
                    candidates.append(hashes.SHA512())
                for algorithm in candidates:
                    try:
                        key.verify(signature, message, ec.ECDSA(algorithm))
                        return True
                    except InvalidSignature:
                        continue
                return False
            if isinstance(key, ed25519.Ed25519PublicKey):
                if len(signature) != 64:
                    return False
                key.verify(signature, message)
                return True
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
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
        raise ValueError(f"not a PEM public key: {str(error).splitlines()[0] if str(error) else error}") from None
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


def _loads_object(data: bytes, image: str, what: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key[:40]!r}")
            result[key] = value
        return result

    try:
        parsed = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedSignature(image, f"{what} is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise MalformedSignature(image, f"{what} is not a JSON object")
    return parsed


def _b64decode(value: object, image: str, what: str) -> bytes:
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
    document = _loads_object(payload, image, "signature payload")
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


def _verify_with_keys(message: bytes, signature: bytes, keys: Sequence[CosignPublicKey],
                      image: str) -> CosignPublicKey:
    if not keys:
        raise SignatureInvalid(image, "no public keys are trusted")
    for key in keys:
        if key.verify(message, signature):
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
    signature = _b64decode(signature_b64, image, "signature annotation")
    key = _verify_with_keys(payload, signature, keys, image)
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
    payload = _b64decode(envelope.get("payload"), image, "DSSE payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 \
            or not isinstance(signatures[0], dict):
        raise MalformedSignature(image, "DSSE envelope must carry exactly one signature")
    signature = _b64decode(signatures[0].get("sig"), image, "DSSE signature")
    key = _verify_with_keys(dsse_pae(payload_type, payload), signature, keys, image)
    try:
        keyless_mod.check_cosign_statement(payload_type, payload, manifest_digest)
    except KeylessError as error:
        raise cosign_error_for_keyless(error, image) from None
    return VerifiedSignature(image=image, digest=manifest_digest, method="key",
                             format="sigstore-bundle", signer=key.describe(), source=source,
                             key_id=key.key_id)


# ------------------------------------------------------------------------------------ discovery


@dataclass(frozen=True)
class Candidate:
    """One signature object found in the registry, not yet verified."""

    kind: Format
    source: str
    payload: bytes
    """The simple-signing payload, or the bundle JSON."""
    annotations: dict[str, str] = field(default_factory=dict)


def signature_tag(manifest_digest: str) -> str:
    return manifest_digest.replace(":", "-", 1) + ".sig"


def referrers_tag(manifest_digest: str) -> str:
    return manifest_digest.replace(":", "-", 1)


def _is_not_found(error: RegistryError) -> bool:
    return error.status == 404


class _Finder:
    def __init__(self, client: ImageSource, ref: ImageRef, digest: str) -> None:
        self.client, self.ref, self.digest = client, ref, digest
        self.image = ref.original
        self.notes: list[str] = []
        """Why found objects were not candidates (shown when nothing verifies)."""

    def fetch_error(self, error: RegistryError | OCIError, what: str) -> SignatureFetchError:
        cause = error.cause if isinstance(error, RegistryError) else str(error)
        return SignatureFetchError(self.image, f"while reading {what}: {cause}")

    def manifest(self, reference: str, what: str) -> Manifest | None:
        try:
            return self.client.get_manifest(self.ref, reference)
        except RegistryError as error:
            if _is_not_found(error):
                return None
            raise self.fetch_error(error, what) from None

    def blob(self, descriptor: Descriptor, limit: int, what: str) -> bytes:
        if descriptor.size > limit:
            raise MalformedSignature(self.image, f"{what} is larger than {limit} bytes")
        try:
            return self.client.get_blob(self.ref, descriptor)
        except RegistryError as error:
            raise self.fetch_error(error, what) from None

    # ---------------------------------------------------------------- legacy `.sig` tag

    def simple_signing_layers(self, manifest: Manifest, source: str) -> list[Candidate]:
        try:
            layers = manifest.layers()
        except OCIError as error:
            raise MalformedSignature(self.image, f"{source}: {error}") from None
        if len(layers) > MAX_SIGNATURE_LAYERS:
            raise MalformedSignature(self.image, f"{source} has {len(layers)} signature layers "
                                                 f"(more than {MAX_SIGNATURE_LAYERS})")
        found: list[Candidate] = []
        for index, layer in enumerate(layers):
            if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
                self.notes.append(f"{source} layer {index} has media type {layer.media_type}")
                continue
            payload = self.blob(layer, MAX_PAYLOAD_BYTES, f"{source} layer {index}")
            found.append(Candidate("simple-signing", f"{source} layer {index}", payload,
                                   dict(layer.annotations)))
        return found

    def legacy(self) -> list[Candidate]:
        tag = signature_tag(self.digest)
        manifest = self.manifest(tag, f"signature tag {tag}")
        if manifest is None:
            return []
        return self.simple_signing_layers(manifest, f"tag {tag}")

    # ---------------------------------------------------------------- referrers

    def referrers_index(self) -> list[Descriptor]:
        data = _referrers_api(self.client, self.ref, self.digest)
        source = "referrers API"
        if data is None:
            tag = referrers_tag(self.digest)
            manifest = self.manifest(tag, f"referrers tag {tag}")
            if manifest is None:
                return []
            if not manifest.is_index:
                self.notes.append(f"tag {tag} is a {manifest.media_type}, not a referrers index")
                return []
            data, source = manifest.data, f"referrers tag {tag}"
        try:
            parsed = json.loads(data)
            items = parsed.get("manifests") if isinstance(parsed, dict) else None
            if not isinstance(items, list):
                raise OCIError(f"{source}: no manifests list")
            descriptors = []
            for i, item in enumerate(items):
                descriptor = Descriptor.from_json(item, f"{source} entry {i}")
                artifact = item.get("artifactType") if isinstance(item, dict) else None
                descriptors.append((descriptor, artifact))
        except (ValueError, OCIError) as error:
            raise MalformedSignature(self.image, f"invalid {source}: {error}") from None
        wanted = SIGSTORE_BUNDLE_TYPES | {COSIGN_SIG_ARTIFACT_TYPE}
        # Entries that declare another artifact type (SBOMs, attestations) are not fetched.
        return [d for d, artifact in descriptors if artifact is None or artifact in wanted]

    def referrers(self) -> list[Candidate]:
        found: list[Candidate] = []
        entries = self.referrers_index()
        if len(entries) > MAX_REFERRERS:
            self.notes.append(f"only the first {MAX_REFERRERS} of {len(entries)} referrers "
                              f"were read")
            entries = entries[:MAX_REFERRERS]
        for entry in entries:
            source = f"referrer {entry.digest}"
            manifest = self.manifest(entry.digest, source)
            if manifest is None:
                self.notes.append(f"{source} is listed but missing")
                continue
            try:
                body = manifest.json()
            except OCIError as error:
                raise MalformedSignature(self.image, str(error)) from None
            subject = body.get("subject")
            if not isinstance(subject, dict) or subject.get("digest") != self.digest:
                self.notes.append(f"{source} refers to another manifest")
                continue
            artifact = body.get("artifactType")
            if artifact is None and isinstance(body.get("config"), dict):
                artifact = body["config"].get("mediaType")
            if artifact == COSIGN_SIG_ARTIFACT_TYPE:
                found.extend(self.simple_signing_layers(manifest, source))
                continue
            if artifact not in SIGSTORE_BUNDLE_TYPES:
                continue
            try:
                layers = manifest.layers()
            except OCIError as error:
                raise MalformedSignature(self.image, f"{source}: {error}") from None
            if not layers or layers[0].media_type not in SIGSTORE_BUNDLE_TYPES:
                self.notes.append(f"{source} has no bundle layer")
                continue
            bundle = self.blob(layers[0], MAX_BUNDLE_BYTES, f"{source} bundle")
            annotations = body.get("annotations")
            found.append(Candidate("sigstore-bundle", source, bundle,
                                   dict(annotations) if isinstance(annotations, dict) else {}))
        return found


def _referrers_api(client: ImageSource, ref: ImageRef, digest: str) -> bytes | None:
    """The referrers index from `GET /v2/<name>/referrers/<digest>`, or None when the registry
    has no referrers API (404, as distribution 2.8 answers) or the source is not a registry.

    RegistryClient has no public method for this endpoint; until it gains one (proposed:
    `RegistryClient.get_referrers(ref, digest, artifact_type=None) -> bytes | None`), this uses
    its request machinery (authentication, redirects, size-limited reads) through the private
    `_request`/`_read_limited` helpers. A client object that has `get_referrers` is preferred.
    """
    public = getattr(client, "get_referrers", None)
    if callable(public):
        result = public(ref, digest)
        return result if isinstance(result, bytes) or result is None else None
    from lkpolicy.registry.client import RegistryClient, _release

    if not isinstance(client, RegistryClient):
        return None
    response = client._request(ref, "GET", f"referrers/{digest}", {"Accept": OCI_INDEX})
    try:
        if response.status in (400, 404, 405, 501):
            return None
        if not 200 <= response.status < 300:
            error = client._status_error(ref, response, "referrers", None)
            raise SignatureFetchError(ref.original, f"while reading the referrers API: "
                                                    f"{error.cause}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        data = client._read_limited(ref, response, client.options.max_manifest_bytes,
                                    "referrers index")
    except RegistryError as error:
        raise SignatureFetchError(ref.original, f"while reading the referrers API: "
                                                f"{error.cause}") from None
    finally:
        _release(response)
    if content_type and content_type not in INDEX_TYPES:
        # Some registries answer 200 with an HTML or error page: treat as "no API".
        return None
    return data


def find_signatures(client: ImageSource, ref: ImageRef,
                    manifest_digest: str) -> tuple[list[Candidate], list[str]]:
    """Every signature candidate for the digest (legacy tag and referrers), plus notes on
    objects that were skipped. Registry failures raise SignatureFetchError."""
    finder = _Finder(client, ref, manifest_digest)
    candidates = finder.legacy() + finder.referrers()
    return candidates, finder.notes


# ------------------------------------------------------------------------------------ verifier


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
        bundle = _loads_object(candidate.payload, image, f"{candidate.source} bundle")
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
