"""A client for the OCI distribution API: resolve tags, fetch manifests and blobs, verified.

Trust model: the registry is not trusted. Every manifest and blob is hashed and its size compared
with what was asked for before it is handed back; a digest header is only believed for a HEAD
(where there is nothing to hash, and the digest is verified when the content is fetched).
Authentication, mirrors and redirects are the session's (`lkpolicy.registry.session`); HTTP,
deadlines and the wording of network failures the transport's (`lkpolicy.registry.transport`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from lkpolicy.model.oci import (
    ACCEPTED_MANIFEST_TYPES,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    OCIError,
    Platform,
    check_digest_syntax,
    detect_media_type,
    verify_bytes,
)
from lkpolicy.model.reference import ImageRef
from lkpolicy.registry.errors import RegistryError, clean_text
from lkpolicy.registry.options import Endpoint, RegistryOptions
from lkpolicy.registry.progress import ProgressCallback
from lkpolicy.registry.session import CHUNK, RegistrySession

_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_ACCEPT = ", ".join(ACCEPTED_MANIFEST_TYPES)


class RemoteImage(NamedTuple):
    """An image manifest chosen for a platform, with what a pull needs next."""

    manifest: Manifest
    config: Descriptor
    layers: tuple[Descriptor, ...]
    from_index: Manifest | None
    """The index the manifest was selected from, or None for a single-platform image."""

    @property
    def root(self) -> Manifest:
        """What the reference names: the index if there is one, else the manifest."""
        return self.from_index if self.from_index is not None else self.manifest


class RegistryClient:
    """Implements `lkpolicy.model.oci.ImageSource`; safe to share between threads."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self.session = RegistrySession(self.options)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def endpoint(self, ref: ImageRef) -> Endpoint:
        return self.session.endpoint(ref)

    # ---------------------------------------------------------------- public API

    def resolve(self, ref: ImageRef) -> Descriptor:
        """The descriptor the reference names now (tag -> digest), by HEAD when the registry allows."""
        reference = _reference_of(ref)
        response = self.session.request(ref, "HEAD", f"manifests/{reference}",
                                 {"Accept": _ACCEPT})
        try:
            status = response.status
            if status in (401, 403):
                raise self.session.status_error(ref, response, "manifest", None)
            header_digest = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            length = response.headers.get("Content-Length", "")
        finally:
            response.release()
        if 200 <= status < 300:
            size = int(length) if length.isdigit() else -1
            if size > self.options.max_manifest_bytes:
                raise RegistryError(ref.original,
                                    f"manifest is larger than {self.options.max_manifest_bytes} bytes")
            if ref.digest is not None and header_digest and header_digest != ref.digest:
                raise RegistryError(ref.original, f"registry answered with digest {header_digest} "
                                                  f"for {ref.digest}")
            digest = header_digest or (ref.digest or "")
            if _SHA256.match(digest) and size >= 0 and media_type in ACCEPTED_MANIFEST_TYPES:
                return Descriptor(media_type, digest, size)
        # No usable digest (or an error status, whose body only a GET carries): fetch and hash.
        return self.get_manifest(ref).descriptor()

    def get_manifest(self, ref: ImageRef, reference: str | None = None, *,
                     expected: Descriptor | None = None) -> Manifest:
        """The manifest or index for `reference` (tag or digest; default: the ref's digest, else its
        tag, else `latest`), verified against the digest asked for and `expected.size`."""
        reference = reference or _reference_of(ref)
        pinned: str | None = None
        if ":" in reference:
            pinned = self._checked_digest(ref, reference)
        limit = self.options.max_manifest_bytes
        if expected is not None and expected.size > limit:
            raise RegistryError(ref.original, f"manifest is larger than {limit} bytes")
        response = self.session.request(ref, "GET", f"manifests/{reference}", {"Accept": _ACCEPT})
        try:
            if not 200 <= response.status < 300:
                raise self.session.status_error(ref, response, "manifest", pinned)
            declared = response.content_length
            if declared is not None and declared > limit:
                raise RegistryError(ref.original, f"manifest is larger than {limit} bytes")
            data = self.session.read_limited(ref, response, limit, "manifest")
            header_digest = response.headers.get("Docker-Content-Digest", "")
            content_type = response.headers.get("Content-Type")
        finally:
            response.release()
        if pinned is not None:
            self._verify(ref, data, pinned, expected.size if expected else None, "manifest")
            digest = pinned
        else:
            digest = hashlib.sha256(data).hexdigest()
            digest = f"sha256:{digest}"
            if header_digest.startswith("sha256:") and header_digest != digest:
                # The body is what we hashed; a registry that names another digest is broken or
                # lying, and either way the tag's identity is in doubt.
                raise RegistryError(ref.original, f"digest mismatch for manifest {reference}: the "
                                                  f"registry says {clean_text(header_digest, 80)}, "
                                                  f"the content hashes to {digest}")
            if expected is not None and expected.size != len(data):
                raise RegistryError(ref.original, f"size mismatch for manifest {digest}: expected "
                                                  f"{expected.size} bytes, got {len(data)}")
        return Manifest(data, detect_media_type(data, content_type), digest)

    def get_image(self, ref: ImageRef, platform: Platform) -> RemoteImage:
        """The image manifest for `platform` (linuxkit's selection: first os/arch match, variant only
        if asked), its config descriptor and layers. A single-platform image is used as is."""
        top = self.get_manifest(ref)
        index: Manifest | None = None
        manifest = top
        if top.media_type in INDEX_TYPES:
            index = top
            try:
                entry = top.select(platform)
            except OCIError as error:
                raise RegistryError(ref.original, str(error)) from None
            if entry.media_type not in MANIFEST_TYPES:
                raise RegistryError(ref.original, f"the entry for {platform} in index {top.digest} "
                                                  f"is a {entry.media_type}, not an image manifest")
            manifest = self.get_manifest(ref, entry.digest, expected=entry)
        if manifest.media_type not in MANIFEST_TYPES:
            raise RegistryError(ref.original, f"unsupported manifest type {manifest.media_type} "
                                              f"({manifest.digest})")
        try:
            config = manifest.config()
            layers = tuple(manifest.layers())
        except OCIError as error:
            raise RegistryError(ref.original, f"invalid manifest: {error}") from None
        return RemoteImage(manifest, config, layers, index)

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        """A small blob (a config), in memory, verified."""
        digest = self._checked_digest(ref, descriptor.digest)
        limit = self.options.max_config_bytes
        if descriptor.size > limit:
            raise RegistryError(ref.original, f"blob {digest} is larger than {limit} bytes")
        chunks: list[bytes] = []
        self._stream_blob(ref, descriptor, chunks.append, None, hashed=False)
        data = b"".join(chunks)
        self._verify(ref, data, digest, descriptor.size, "blob")
        return data

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any,
                  progress: ProgressCallback | None = None) -> None:
        """Stream a blob into `sink.write`. The sink sees bytes before they are verified, so it must
        be a temporary file that the caller discards when this raises and keeps when it returns."""
        self._checked_digest(ref, descriptor.digest)
        if descriptor.size > self.options.max_blob_bytes:
            raise RegistryError(ref.original, f"blob {descriptor.digest} is larger than "
                                              f"{self.options.max_blob_bytes} bytes")
        self._stream_blob(ref, descriptor, sink.write, progress, hashed=True)

    def get_referrers(self, ref: ImageRef, digest: str) -> bytes | None:
        """The OCI 1.1 referrers index of `digest` (`GET /v2/<name>/referrers/<digest>`), or None
        when the registry has no referrers API (distribution 2.8 answers 404) or answers with
        something that is not an index (some answer 200 with an HTML page)."""
        self._checked_digest(ref, digest)
        response = self.session.request(ref, "GET", f"referrers/{digest}", {"Accept": OCI_INDEX})
        try:
            if response.status in (400, 404, 405, 501):
                return None
            if not 200 <= response.status < 300:
                raise self.session.status_error(ref, response, "referrers", None)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            data = self.session.read_limited(ref, response, self.options.max_manifest_bytes,
                                      "referrers index")
        finally:
            response.release()
        if content_type and content_type not in INDEX_TYPES:
            return None
        return data

    # ---------------------------------------------------------------- blobs

    def _stream_blob(self, ref: ImageRef, descriptor: Descriptor, write: Callable[[bytes], Any],
                     progress: ProgressCallback | None, hashed: bool) -> None:
        digest, size = descriptor.digest, descriptor.size
        response = self.session.request(ref, "GET", f"blobs/{digest}", {})
        try:
            if not 200 <= response.status < 300:
                raise self.session.status_error(ref, response, "blob", digest)
            declared = response.content_length
            if declared is not None and declared != size:
                raise RegistryError(ref.original, f"size mismatch for blob {digest}: expected "
                                                  f"{size} bytes, the registry sends {declared}")
            hasher = hashlib.sha256() if hashed else None
            received = 0
            while True:
                # Never ask for more than one byte past the declared size: enough to detect an
                # oversized body without reading it.
                chunk = self.session.read(ref, response, min(CHUNK, size + 1 - received))
                if not chunk:
                    break
                received += len(chunk)
                if received > size:
                    raise RegistryError(ref.original, f"size mismatch for blob {digest}: more than "
                                                      f"the declared {size} bytes")
                if hasher is not None:
                    hasher.update(chunk)
                write(chunk)
                if progress is not None:
                    progress(len(chunk))
        finally:
            response.release()
        if received != size:
            raise RegistryError(ref.original, f"size mismatch for blob {digest}: expected {size} "
                                              f"bytes, got {received} (truncated)")
        if hasher is not None:
            actual = f"sha256:{hasher.hexdigest()}"
            if actual != digest:
                raise RegistryError(ref.original, f"digest mismatch for blob {digest} (content "
                                                  f"hashes to {actual})")

    # ---------------------------------------------------------------- verification

    def _checked_digest(self, ref: ImageRef, digest: str) -> str:
        try:
            return check_digest_syntax(digest)
        except OCIError as error:
            raise RegistryError(ref.original, str(error)) from None

    def _verify(self, ref: ImageRef, data: bytes, digest: str, size: int | None, kind: str) -> None:
        if size is not None and len(data) != size:
            raise RegistryError(ref.original, f"size mismatch for {kind} {digest}: expected {size} "
                                              f"bytes, got {len(data)}")
        try:
            verify_bytes(data, digest, size, f"{kind} {digest}")
        except OCIError:
            actual = hashlib.sha256(data).hexdigest()
            raise RegistryError(ref.original, f"digest mismatch for {kind} {digest} (content hashes "
                                              f"to sha256:{actual})") from None


def _reference_of(ref: ImageRef) -> str:
    """What the registry is asked for: the digest if pinned, else the tag; `latest` as Docker does."""
    return ref.digest or ref.tag or "latest"
