"""Looking after the cache: listing images, dropping names, and collecting unreachable blobs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lkpolicy.model.oci import IMAGE_TYPES, MAX_MANIFEST_BYTES, Descriptor, OCIError
from lkpolicy.model.reference import ImageRef
from lkpolicy.store.blobs import TEMP_PREFIX
from lkpolicy.store.errors import StoreError
from lkpolicy.store.index import entry_name, manifest_from_blob, reference_key
from lkpolicy.store.lookup import Store

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    name: str
    digest: str
    media_type: str
    size: int
    platforms: tuple[str, ...]
    """Platforms that are complete in the cache (manifest, config and layers present)."""
    problem: str | None = None
    """Why the entry or its manifests could not be read (a corrupt or tampered cache)."""


@dataclass(frozen=True, slots=True)
class GcResult:
    removed: tuple[str, ...]
    freed_bytes: int


def list_images(store: Store) -> list[ImageInfo]:
    """Every named root entry; one that cannot be read is listed with no platforms and the
    problem (an entry that is not even a descriptor, with no digest either)."""
    result: list[ImageInfo] = []
    for entry in store.entries():
        name = entry_name(entry)
        if name is None:
            continue
        try:
            descriptor = Descriptor.from_json(entry, f"cache entry for {name}")
        except OCIError as error:
            result.append(ImageInfo(name, "", "", 0, (), f"image {name}: {error}"))
            continue
        problem = None
        try:
            platforms = store.complete_platforms(name, descriptor)
        except (StoreError, OCIError) as error:
            platforms, problem = (), str(error)
        result.append(ImageInfo(name, descriptor.digest, descriptor.media_type,
                                descriptor.size, platforms, problem))
    return result


def remove(store: Store, ref: ImageRef | str) -> int:
    """Drop the image's root entry (blobs stay until `gc`); returns how many were dropped."""
    _, name = reference_key(ref)
    if not store.index_path.exists():  # anything else there (a FIFO...) is read and refused
        return 0
    removed = 0

    def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal removed
        kept = [e for e in entries if entry_name(e) != name]
        removed = len(entries) - len(kept)
        return kept

    store.update_index(change)
    return removed


def collect_garbage(store: Store) -> GcResult:
    """Delete blobs that no root entry reaches, and temporary files of crashed writers."""
    if not store.index_path.exists():
        return GcResult((), 0)
    removed: list[str] = []
    freed = 0
    with store.gc_guard(exclusive=True), store.index_lock():
        reachable = _reachable(store)
        try:
            candidates = sorted(store.blobs_dir.iterdir()) if store.blobs_dir.is_dir() else []
            for path in candidates:
                if _HEX64.match(path.name):
                    if "sha256:" + path.name in reachable:
                        continue
                elif not path.name.startswith(TEMP_PREFIX):
                    continue  # not ours to judge
                size = path.lstat().st_size
                path.unlink()
                if _HEX64.match(path.name):
                    removed.append("sha256:" + path.name)
                    freed += size
        except OSError as error:
            raise StoreError(f"gc of {store.root} stopped: {error.strerror or error}: "
                             f"{error.filename}") from None
    return GcResult(tuple(removed), freed)


def _reachable(store: Store) -> set[str]:
    seen: set[str] = set()
    pending: list[Descriptor] = []
    for entry in store.entries():
        try:
            pending.append(Descriptor.from_json(entry))
        except OCIError as error:
            raise StoreError(f"gc refused: the cache index has an invalid entry: {error}") from None
    while pending:
        descriptor = pending.pop()
        if descriptor.digest in seen:
            continue
        seen.add(descriptor.digest)
        if descriptor.media_type not in IMAGE_TYPES:
            continue
        try:
            data = store.read_blob(descriptor, MAX_MANIFEST_BYTES, "gc")
            if data is None:
                continue
            manifest = manifest_from_blob(data, descriptor, "gc")
            if manifest.is_index:
                pending.extend(manifest.manifests())
            else:
                pending.extend((manifest.config(), *manifest.layers()))
        except (StoreError, OCIError) as error:
            # Collecting around a manifest we cannot read could delete the layers it needs.
            raise StoreError(f"gc refused: cannot read manifest {descriptor.digest}: "
                             f"{error}") from None
    return seen
