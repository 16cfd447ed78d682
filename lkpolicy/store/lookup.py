"""Finding a cached image for a platform the way linuxkit does, and whether it is fresh.

`Store` is the whole cache: this module gives it lookup and the `ImageSource` interface (what
`check` needs); pulling, archives and maintenance are loaded only when their method is called.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lkpolicy.model.oci import (
    IMAGE_TYPES,
    MANIFEST_TYPES,
    MAX_CONFIG_BLOB_BYTES,
    MAX_MANIFEST_BYTES,
    PLATFORM_KEYS,
    Descriptor,
    ImageSource,
    Manifest,
    OCIError,
    Platform,
    parse_document,
)
from lkpolicy.model.reference import ImageRef
from lkpolicy.stages.effective import ImageConfig
from lkpolicy.store.blobs import CHUNK_BYTES
from lkpolicy.store.errors import StoreError
from lkpolicy.store.index import LayoutStore, check_pinned, manifest_from_blob, reference_key
from lkpolicy.store.location import host_platform

if TYPE_CHECKING:
    from lkpolicy.store.maintenance import GcResult, ImageInfo
    from lkpolicy.store.pull import PullResult

_MAX_SMALL_BLOB = max(MAX_CONFIG_BLOB_BYTES, MAX_MANIFEST_BYTES)


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """A cached image, resolved for one platform, whose config has been read and verified."""

    name: str
    """The `ref.name` key it was found under (the expanded reference)."""
    descriptor: Descriptor
    """The root `index.json` entry: an image manifest or an index."""
    manifest: Manifest
    """The image manifest for the platform (equal to the root object for a single manifest)."""
    config_descriptor: Descriptor
    config: ImageConfig
    """What linuxkit reads from the image config JSON's `config`."""
    layers: tuple[Descriptor, ...]
    index: Manifest | None = None
    platform: Platform | None = None
    """The platform of the chosen index entry, or the config's own for a single manifest."""
    matched_by: str = "name"
    """How the cache entry was found: `name` (an entry named exactly like the reference, as
    linuxkit finds it) or `digest` (a pinned reference whose digest the cache holds under
    another name, e.g. its tag; see `Store.lookup`)."""

    @property
    def digest(self) -> str:
        return self.descriptor.digest


class Store(LayoutStore):
    """An OCI image layout used as linuxkit's cache; also an `ImageSource` for later stages."""

    # ------------------------------------------------------------------ lookup

    def lookup(self, ref: ImageRef | str, platform: Platform | None = None, *,
               by_digest: bool = False) -> ResolvedImage | None:
        """The cached image if linuxkit would use it without pulling, else None.

        None: no entry under the expanded name, or the entry is not fresh (a blob is missing, or an
        index has no entry for the platform). `StoreError`: present but corrupt.
        `by_digest`: a pinned reference without an entry of its own name resolves to the cached
        image of its digest (`find_digest`); linuxkit would pull it (the gate's choice, see
        docs/deviations.md).
        """
        image, name = reference_key(ref)
        descriptor = self.find(name)
        matched_by = "name"
        if descriptor is None and by_digest and image.digest is not None:
            # A pinned reference names its content: whatever name the cache holds it under
            # (its tag, after `cache pull` or `cache import`), the bytes are verified against
            # the pinned digest as they are read, so they are the pinned image or nothing.
            descriptor, matched_by = self.find_digest(image.digest), "digest"
        if descriptor is None:
            return None
        check_pinned(image, name, descriptor)
        resolved = self.resolve(name, descriptor, platform or host_platform())
        if resolved is None or matched_by == "name":
            return resolved
        return dataclasses.replace(resolved, matched_by=matched_by)

    def find_digest(self, digest: str) -> Descriptor | None:
        """The root descriptor of a cached manifest or index by its digest: the first root
        entry with that digest, whatever its name, else the blob itself if the cache holds
        it (its media type read from it). None when the cache does not have it."""
        for entry in self.entries():
            if entry.get("digest") == digest and entry.get("mediaType") in IMAGE_TYPES:
                try:
                    return Descriptor.from_json(entry, f"cache entry for {digest}")
                except OCIError as error:
                    raise StoreError(f"image @{digest}: {error}") from None
        try:
            size = self.blob_path(digest).stat().st_size
        except (OSError, StoreError):
            return None
        if size > MAX_MANIFEST_BYTES:
            return None  # a layer or some other blob, not an image
        probe = Descriptor("", digest, size)
        data = self.read_blob(probe, MAX_MANIFEST_BYTES, f"image @{digest}")
        if data is None:
            return None
        media_type = manifest_from_blob(data, probe, f"image @{digest}").media_type
        return Descriptor(media_type, digest, size) if media_type in IMAGE_TYPES else None

    def resolve(self, name: str, descriptor: Descriptor, platform: Platform) -> ResolvedImage | None:
        """The image a root entry names, for `platform`; None if not fresh (see `lookup`)."""
        what = f"image {name}"
        top = self.load_manifest(name, descriptor)
        if top is None:
            return None
        index: Manifest | None = None
        chosen: Platform | None = None
        if top.is_index:
            index = top
            _index_entries(name, top)  # malformed is an error; only "no such platform" is stale
            try:
                entry = top.select(platform)
            except OCIError:
                return None
            if entry.media_type not in MANIFEST_TYPES:
                raise StoreError(f"{what}: the {platform} entry of index {top.digest} is not an "
                                 f"image manifest ({entry.media_type})")
            assert entry.platform is not None
            chosen = Platform.of(entry.platform)
            loaded = self.load_manifest(name, entry)
            if loaded is None:
                return None
            manifest = loaded
        else:
            manifest = top
        try:
            config_descriptor = manifest.config()
            layers = tuple(manifest.layers())
        except OCIError as error:
            raise StoreError(f"{what}: {error}") from None
        if not all(self.has_blob(d) for d in (config_descriptor, *layers)):
            return None
        read = self.read_image_config(name, config_descriptor)
        if read is None:
            return None
        blob, config = read
        if chosen is None and isinstance(blob.get("os"), str) and isinstance(blob.get("architecture"), str):
            chosen = Platform.of(blob)
        return ResolvedImage(name, descriptor, manifest, config_descriptor, config, layers,
                             index, chosen)

    def read_image_config(self, name: str,
                          descriptor: Descriptor) -> tuple[dict[str, Any], ImageConfig] | None:
        """An image's config blob, verified and checked (`parse_image_config`); None if missing."""
        what = f"image {name}"
        data = self.read_blob(descriptor, MAX_CONFIG_BLOB_BYTES, f"{what}: config")
        return None if data is None else parse_image_config(data, what)

    def complete_platforms(self, name: str, descriptor: Descriptor) -> tuple[str, ...]:
        """The platforms of a root entry whose manifest, config and layers are all present."""
        top = self.load_manifest(name, descriptor)
        if top is None:
            return ()
        if not top.is_index:
            resolved = self.resolve(name, descriptor, host_platform())
            if resolved is None:
                return ()
            return (str(resolved.platform) if resolved.platform else "unknown",)
        found: list[str] = []
        for entry in _index_entries(name, top):
            if entry.media_type in MANIFEST_TYPES and entry.platform is not None \
                    and self.manifest_complete(name, entry):
                found.append(str(Platform.of(entry.platform)))
        return tuple(found)

    def manifest_complete(self, name: str, descriptor: Descriptor) -> bool:
        """Whether an image manifest and every blob it lists are present (not read)."""
        loaded = self.load_manifest(name, descriptor)
        if loaded is None:
            return False
        try:
            blobs = [loaded.config(), *loaded.layers()]
        except OCIError as error:
            raise StoreError(f"image {name}: {error}") from None
        return all(self.has_blob(d) for d in blobs)

    def is_fresh(self, name: str, platform: Platform, all_platforms: bool) -> bool:
        """Whether a pull of `name` can be answered from the cache alone."""
        descriptor = self.find(name)
        if descriptor is None:
            return False
        if not all_platforms:
            return self.resolve(name, descriptor, platform) is not None
        top = self.load_manifest(name, descriptor)
        if top is None:
            return False
        if not top.is_index:
            return self.resolve(name, descriptor, platform) is not None
        return all(self.manifest_complete(name, entry) for entry in _index_entries(name, top)
                   if entry.media_type in MANIFEST_TYPES)

    # ------------------------------------------------------------------ ImageSource (reading)

    def get_manifest(self, ref: ImageRef, reference: str | None = None) -> Manifest:
        """By digest: the blob itself. By tag: the root entry named `<locator>:<tag>`; without
        a tag, the entry named exactly like the reference, else `:latest` as a registry would."""
        reference = reference if reference is not None else ref.digest
        if reference is not None and ":" in reference:
            return self._manifest_by_digest(ref, reference)
        if reference is not None:
            names = [f"{ref.locator}:{reference}"]
        else:
            names = [ref.name] if ref.tag is not None else [ref.name, f"{ref.locator}:latest"]
        found = next(((n, d) for n in names if (d := self.find(n)) is not None), None)
        if found is None:
            raise StoreError(f"image {names[0]} is not in the image layout {self.root}")
        name, descriptor = found
        loaded = self.load_manifest(name, descriptor)
        if loaded is None:
            raise StoreError(f"image {name}: manifest {descriptor.digest} is missing from "
                             f"{self.root}")
        return loaded

    def _manifest_by_digest(self, ref: ImageRef, digest: str) -> Manifest:
        what = f"image {ref.locator}@{digest}"
        path = self.blob_path(digest)
        try:
            size = path.stat().st_size
        except OSError:
            raise StoreError(f"{what}: manifest is not in the image layout {self.root}") from None
        declared = next((entry.get("mediaType") for entry in self.entries()
                         if entry.get("digest") == digest), None)
        probe = Descriptor(declared if isinstance(declared, str) else "", digest, size)
        data = self.read_blob(probe, MAX_MANIFEST_BYTES, what)
        if data is None:
            raise StoreError(f"{what}: manifest is not in the image layout {self.root}")
        return manifest_from_blob(data, probe, what)

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        what = f"image {ref.expanded}"
        data = self.read_blob(descriptor, _MAX_SMALL_BLOB, what)
        if data is None:
            raise StoreError(f"{what}: blob {descriptor.digest} is not in {self.root}")
        return data

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any) -> None:
        with self.open_blob(descriptor, f"image {ref.expanded}: blob {descriptor.digest}") as reader:
            while chunk := reader.read(CHUNK_BYTES):
                sink.write(chunk)

    # ------------------------------------------------------------------ the other jobs, loaded on use

    def pull(self, ref: ImageRef | str, source: ImageSource, platform: Platform | None = None, *,
             all_platforms: bool = False, force: bool = False) -> PullResult:
        """See `lkpolicy.store.pull.pull`."""
        from lkpolicy.store.pull import pull

        return pull(self, ref, source, platform, all_platforms=all_platforms, force=force)

    def import_archive(self, path: str | os.PathLike[str], *,
                       max_total_bytes: int | None = None) -> list[tuple[str, Descriptor]]:
        """See `lkpolicy.store.archives.import_archive`."""
        from lkpolicy.store.archives import DEFAULT_MAX_ARCHIVE_BYTES, import_archive

        limit = DEFAULT_MAX_ARCHIVE_BYTES if max_total_bytes is None else max_total_bytes
        return import_archive(self, path, max_total_bytes=limit)

    def export_archive(self, ref: ImageRef | str, path: str | os.PathLike[str], *,
                       platform: Platform | None = None) -> Descriptor:
        """See `lkpolicy.store.archives.export_archive`."""
        from lkpolicy.store.archives import export_archive

        return export_archive(self, ref, path, platform=platform)

    def ls(self) -> list[ImageInfo]:
        """See `lkpolicy.store.maintenance.list_images`."""
        from lkpolicy.store.maintenance import list_images

        return list_images(self)

    def rm(self, ref: ImageRef | str) -> int:
        """See `lkpolicy.store.maintenance.remove`."""
        from lkpolicy.store.maintenance import remove

        return remove(self, ref)

    def gc(self) -> GcResult:
        """See `lkpolicy.store.maintenance.collect_garbage`."""
        from lkpolicy.store.maintenance import collect_garbage

        return collect_garbage(self)


def _index_entries(name: str, index: Manifest) -> list[Descriptor]:
    try:
        return index.manifests()
    except OCIError as error:
        raise StoreError(f"image {name}: {error}") from None


def parse_image_config(data: bytes, what: str) -> tuple[dict[str, Any], ImageConfig]:
    """An image config blob as JSON and as what linuxkit reads of it; `StoreError` naming
    `what` for hostile JSON or fields that linuxkit's Go structs would refuse to decode."""
    try:
        blob = parse_document(data, f"{what}: the image config")
    except OCIError as error:
        raise StoreError(str(error)) from None
    # Go would refuse to decode these into linuxkit's structs; so do we.
    for key in PLATFORM_KEYS:
        if not isinstance(blob.get(key), str | None):
            raise StoreError(f"{what}: the image config's {key} is not a string")
    config = blob.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise StoreError(f"{what}: the image config's `config` is not an object")
    for key in ("Entrypoint", "Cmd", "Env"):
        value = config.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise StoreError(f"{what}: the image config's {key} is not a list of strings")
    if config.get("WorkingDir") is not None and not isinstance(config["WorkingDir"], str):
        raise StoreError(f"{what}: the image config's WorkingDir is not a string")
    labels = config.get("Labels")
    if labels is not None and not (isinstance(labels, dict)
                                   and all(isinstance(v, str) for v in labels.values())):
        raise StoreError(f"{what}: the image config's Labels are not a string map")
    return blob, ImageConfig.from_blob(blob)
