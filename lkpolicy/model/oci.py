"""OCI vocabulary shared by the registry client, the image store and the build core.

Pure data and parsing: no network, no disk.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from lkpolicy.model.reference import ImageRef
from lkpolicy.safeio import UntrustedInput, bounded_int, parse_json

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = MANIFEST_TYPES | INDEX_TYPES
"""What a root index entry, or an entry of an index, may point to."""
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
"""Config blobs that are image configs (an artifact's config may be anything)."""
ACCEPTED_MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""Manifests and indexes are a few KiB; the distribution registry itself refuses over 4 MiB."""
MAX_CONFIG_BLOB_BYTES = 8 * 1024 * 1024
MAX_SIZE = 2**63 - 1
"""Go decodes sizes and `schemaVersion` into an int64: linuxkit refuses anything beyond."""

_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class OCIError(Exception):
    """A malformed or unverifiable OCI object; the message names what and why."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest_syntax(digest: str) -> str:
    """Only sha256 digests are accepted: they become file names, so the syntax is security-relevant."""
    if not _SHA256_RE.match(digest):
        raise OCIError(f"unsupported or malformed digest {digest!r} (expected sha256:<64 hex>)")
    return digest


def verify_bytes(data: bytes, digest: str, size: int | None, what: str) -> None:
    check_digest_syntax(digest)
    if size is not None and len(data) != size:
        raise OCIError(f"{what}: size {len(data)} does not match the declared size {size}")
    actual = sha256_digest(data)
    if actual != digest:
        raise OCIError(f"{what}: digest mismatch: expected {digest}, got {actual}")


PLATFORM_KEYS = ("os", "architecture", "variant")


@dataclass(frozen=True, slots=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r} (expected os/arch[/variant])")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def matches(self, other: dict[str, Any]) -> bool:
        """linuxkit's selection: OS and architecture; the variant only when one was asked for."""
        if other.get("os") != self.os or other.get("architecture") != self.architecture:
            return False
        return not self.variant or other.get("variant", "") == self.variant

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    @classmethod
    def of(cls, data: dict[str, Any], unknown: str = "") -> Platform:
        """The platform that a descriptor's `platform` object or an image config names; a
        missing or null os or architecture reads as `unknown`, a missing variant as none."""

        def text(key: str, default: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else default

        return cls(text("os", unknown), text("architecture", unknown), text("variant", ""))


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    platform: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, what: str = "descriptor") -> Descriptor:
        if not isinstance(data, dict):
            raise OCIError(f"{what} is not an object")
        media_type, digest, size = data.get("mediaType"), data.get("digest"), data.get("size")
        if not isinstance(media_type, str) or not isinstance(digest, str):
            raise OCIError(f"{what} lacks mediaType or digest")
        try:
            size = bounded_int(size, f"{what}: size", maximum=MAX_SIZE)
        except UntrustedInput as error:
            raise OCIError(str(error)) from None
        check_digest_syntax(digest)
        # Typed as linuxkit's Go structs decode them (null is Go's empty value).
        annotations = data.get("annotations")
        if annotations is None:
            annotations = {}
        elif not isinstance(annotations, dict) \
                or not all(isinstance(value, str) for value in annotations.values()):
            raise OCIError(f"{what}: annotations are not a map of strings")
        platform = data.get("platform")
        if platform is not None and not (isinstance(platform, dict) and all(
                isinstance(platform.get(key), str | None) for key in PLATFORM_KEYS)):
            raise OCIError(f"{what}: platform is not an object with string os, architecture "
                           "and variant")
        return cls(media_type, digest, size, dict(annotations), platform)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.platform:
            data["platform"] = dict(self.platform)
        return data


@dataclass(frozen=True, slots=True)
class Manifest:
    """A verified manifest or index: its exact bytes, media type and digest."""

    data: bytes
    media_type: str
    digest: str

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def json(self) -> dict[str, Any]:
        """The parsed document (`parse_document`); `OCIError` also when it is larger than
        `MAX_MANIFEST_BYTES`."""
        what = f"manifest {self.digest}"
        if len(self.data) > MAX_MANIFEST_BYTES:
            raise OCIError(f"{what} is larger than {MAX_MANIFEST_BYTES} bytes")
        return parse_document(self.data, what)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)

    def config(self) -> Descriptor:
        return Descriptor.from_json(self.json().get("config"), f"config of {self.digest}")

    def layers(self) -> list[Descriptor]:
        layers = self.json().get("layers")
        if not isinstance(layers, list):
            raise OCIError(f"manifest {self.digest} has no layers list")
        return [Descriptor.from_json(item, f"layer {i} of {self.digest}") for i, item in enumerate(layers)]

    def manifests(self) -> list[Descriptor]:
        items = self.json().get("manifests")
        if not isinstance(items, list):
            raise OCIError(f"index {self.digest} has no manifests list")
        return [Descriptor.from_json(item, f"entry {i} of {self.digest}") for i, item in enumerate(items)]

    def select(self, platform: Platform) -> Descriptor:
        """The first entry of an index for the platform, as linuxkit selects it."""
        for entry in self.manifests():
            if entry.platform is not None and platform.matches(entry.platform):
                return entry
        available = ", ".join(str(Platform.of(e.platform, "?")) for e in self.manifests() if e.platform)
        raise OCIError(f"no manifest for platform {platform} in index {self.digest} "
                       f"(available: {available or 'none'})")


def parse_document(data: bytes, what: str) -> dict[str, Any]:
    """An OCI JSON document (manifest, index, a layout's index.json) from untrusted bytes whose
    size the caller has bounded: a JSON object within `parse_json`'s bounds (depth, finite
    numbers, digits) whose `schemaVersion`, if any, is an int64 as Go decodes it. `OCIError`,
    one line naming `what`, otherwise."""
    try:
        parsed = parse_json(data, what)
        if not isinstance(parsed, dict):
            raise OCIError(f"{what} is not a JSON object")
        if parsed.get("schemaVersion") is not None:
            bounded_int(parsed["schemaVersion"], f"{what}: schemaVersion", maximum=MAX_SIZE)
    except UntrustedInput as error:
        raise OCIError(str(error)) from None
    return parsed


def detect_media_type(data: bytes, declared: str | None) -> str:
    """The manifest's own mediaType wins over a transport header, which an attacker controls more easily."""
    try:
        parsed = parse_json(data, "manifest")
    except UntrustedInput:
        parsed = None  # the reader of the content says why it is unusable
    own = parsed.get("mediaType") if isinstance(parsed, dict) else None
    if isinstance(own, str) and own:
        return own
    if isinstance(parsed, dict) and "manifests" in parsed:
        return OCI_INDEX
    if declared:
        return declared.split(";")[0].strip()
    return OCI_MANIFEST


class ImageSource(Protocol):
    """Where manifests and blobs come from: the registry client, or a local layout."""

    def get_manifest(self, ref: ImageRef, reference: str | None = None) -> Manifest:
        """The manifest for `reference` (a tag or digest; default: the ref's digest, else tag),
        verified against its digest when one is known."""
        ...

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        """A small blob (config), verified against the descriptor's digest and size."""
        ...

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any) -> None:
        """Stream a blob into `sink.write`, verifying digest and size before returning."""
        ...
