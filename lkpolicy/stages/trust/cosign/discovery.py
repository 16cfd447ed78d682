"""Finding cosign signatures of a manifest digest in a registry (or the image cache).

Two storage formats are read (../shared/spec/tuf-and-sigstore.md section 3):

* legacy tag signatures: tag `sha256-<hex>.sig` in the image's repository, an OCI manifest with
  one `application/vnd.dev.cosign.simplesigning.v1+json` layer per signature; the layer blob is
  the signed "simple signing" payload, the base64 signature is the layer annotation
  `dev.cosignproject.cosign/signature`;
* Sigstore bundles (cosign v3 default) attached as OCI 1.1 referrers of the image manifest:
  `GET /v2/<name>/referrers/<digest>` (`get_referrers` of the source), or the tag-schema fallback
  index `sha256-<hex>` when the registry lacks the API (distribution 2.8 does). The older
  experimental mode that stored the simple-signing manifest as a referrer (artifact type
  `application/vnd.dev.cosign.artifact.sig.v1+json`) is read too.

Attestations (`find_attestations`) are stored the same two ways: cosign's legacy tag
`sha256-<hex>.att`, whose layers (`application/vnd.dsse.envelope.v1+json`) are DSSE envelopes,
and Sigstore bundles among the referrers (annotation `dev.sigstore.bundle.predicateType`).

Nothing here verifies: the candidates go to `signatures`, `sigstore_keyless` and
`lkpolicy.stages.trust.attest`. A registry failure is a `SignatureFetchError`, never "unsigned".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lkpolicy.model.oci import Descriptor, ImageSource, Manifest, OCIError
from lkpolicy.model.reference import ImageRef
from lkpolicy.registry.errors import RegistryError
from lkpolicy.safeio import parse_json
from lkpolicy.stages.trust.cosign.signatures import MAX_PAYLOAD_BYTES, Format
from lkpolicy.stages.trust.errors import MalformedSignature, SignatureFetchError
from lkpolicy.stages.trust.sigstore_keyless import MAX_BUNDLE_BYTES

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
COSIGN_SIG_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIGSTORE_BUNDLE_TYPES = frozenset({
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
})

DSSE_ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
"""The layers of cosign's legacy `.att` manifests: one DSSE envelope (JSON) each."""
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
"""What a bundle referrer says its statement's predicate is (unsigned: a hint only)."""
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024

MAX_SIGNATURE_LAYERS = 64
"""Signatures read from one `.sig` manifest; more is a denial of service, not a use case."""
MAX_REFERRERS = 32
"""Candidate referrers (bundles) fetched per image."""


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


def attestation_tag(manifest_digest: str) -> str:
    return manifest_digest.replace(":", "-", 1) + ".att"


def referrers_tag(manifest_digest: str) -> str:
    return manifest_digest.replace(":", "-", 1)


def _is_not_found(error: RegistryError) -> bool:
    return error.status == 404


class _Finder:
    """Looks up every signature object of one manifest digest, failing closed on errors."""


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
        return self.layers(manifest, source, SIMPLE_SIGNING_MEDIA_TYPE, "simple-signing",
                           MAX_PAYLOAD_BYTES)

    def layers(self, manifest: Manifest, source: str, media_type: str, kind: Format,
               limit: int) -> list[Candidate]:
        """The layers of a `.sig` or `.att` manifest: one signed object each."""
        try:
            layers = manifest.layers()
        except OCIError as error:
            raise MalformedSignature(self.image, f"{source}: {error}") from None
        if len(layers) > MAX_SIGNATURE_LAYERS:
            raise MalformedSignature(self.image, f"{source} has {len(layers)} signature layers "
                                                 f"(more than {MAX_SIGNATURE_LAYERS})")
        found: list[Candidate] = []
        for index, layer in enumerate(layers):
            if layer.media_type != media_type:
                self.notes.append(f"{source} layer {index} has media type {layer.media_type}")
                continue
            payload = self.blob(layer, limit, f"{source} layer {index}")
            found.append(Candidate(kind, f"{source} layer {index}", payload,
                                   dict(layer.annotations)))
        return found

    def legacy(self) -> list[Candidate]:
        tag = signature_tag(self.digest)
        manifest = self.manifest(tag, f"signature tag {tag}")
        if manifest is None:
            return []
        return self.simple_signing_layers(manifest, f"tag {tag}")

    def legacy_attestations(self) -> list[Candidate]:
        tag = attestation_tag(self.digest)
        manifest = self.manifest(tag, f"attestation tag {tag}")
        if manifest is None:
            return []
        return self.layers(manifest, f"tag {tag}", DSSE_ENVELOPE_MEDIA_TYPE, "dsse-envelope",
                           MAX_ENVELOPE_BYTES)

    # ---------------------------------------------------------------- referrers

    def referrers_api(self) -> bytes | None:
        """The referrers index from `GET /v2/<name>/referrers/<digest>`, or None when the source
        has no referrers API (a registry answering 404, as distribution 2.8 does, or the cache)."""
        get_referrers = getattr(self.client, "get_referrers", None)
        if not callable(get_referrers):
            return None
        try:
            data = get_referrers(self.ref, self.digest)
        except RegistryError as error:
            raise self.fetch_error(error, "the referrers API") from None
        return data if isinstance(data, bytes) else None

    def referrers_index(self) -> list[Descriptor]:
        data = self.referrers_api()
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
            parsed = parse_json(data, source)
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


def find_signatures(client: ImageSource, ref: ImageRef,
                    manifest_digest: str) -> tuple[list[Candidate], list[str]]:
    """Every signature candidate for the digest (legacy tag and referrers), plus notes on
    objects that were skipped. Registry failures raise SignatureFetchError."""
    finder = _Finder(client, ref, manifest_digest)
    candidates = finder.legacy() + finder.referrers()
    return candidates, finder.notes


def find_attestations(client: ImageSource, ref: ImageRef,
                      manifest_digest: str) -> tuple[list[Candidate], list[str]]:
    """Every attestation candidate for the digest: the DSSE envelopes of the legacy `.att` tag,
    and the bundles among the referrers that do not say they are cosign image signatures."""
    from lkpolicy.stages.trust.sigstore_keyless import COSIGN_SIGN_PREDICATE

    finder = _Finder(client, ref, manifest_digest)
    bundles = [candidate for candidate in finder.referrers()
               if candidate.kind == "sigstore-bundle"
               and candidate.annotations.get(PREDICATE_ANNOTATION) != COSIGN_SIGN_PREDICATE]
    return finder.legacy_attestations() + bundles, finder.notes
