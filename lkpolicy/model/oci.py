"""OCI vocabulary shared by the registry client, the image store and the build core.

Pure data and parsing: no network, no disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from lkpolicy.model.reference import ImageRef

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
ACCEPTED_MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""Manifests and indexes are a few KiB; the distribution registry itself refuses over 4 MiB."""
MAX_CONFIG_BLOB_BYTES = 8 * 1024 * 1024

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
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise OCIError(f"{what} has an invalid size {size!r}")
        check_digest_syntax(digest)
        annotations = data.get("annotations") or {}
        platform = data.get("platform")
        return cls(media_type, digest, size,
                   dict(annotations) if isinstance(annotations, dict) else {},
                   platform if isinstance(platform, dict) else None)

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
        try:
            parsed = json.loads(self.data)
        except ValueError as error:
            raise OCIError(f"manifest {self.digest} is not JSON: {error}") from None
        if not isinstance(parsed, dict):
            raise OCIError(f"manifest {self.digest} is not a JSON object")
        return parsed

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
        available = ", ".join(
            str(Platform(e.platform.get("os", "?"), e.platform.get("architecture", "?"), e.platform.get("variant", "")))
            for e in self.manifests() if e.platform)
        raise OCIError(f"no manifest for platform {platform} in index {self.digest} "
                       f"(available: {available or 'none'})")


def detect_media_type(data: bytes, declared: str | None) -> str:
    """The manifest's own mediaType wins over a transport header, which an attacker controls more easily."""
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
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
