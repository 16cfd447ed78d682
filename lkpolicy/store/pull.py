"""Pulling an image into the cache as `linuxkit build` does: nothing when it is fresh, else only
the blobs that are missing, each verified, and the name registered last."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lkpolicy.model.oci import (
    IMAGE_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageSource,
    Manifest,
    OCIError,
    Platform,
    detect_media_type,
    verify_bytes,
)
from lkpolicy.model.reference import ImageRef
from lkpolicy.store.blobs import BlobSink
from lkpolicy.store.errors import StoreError, one_line
from lkpolicy.store.index import check_pinned, reference_key
from lkpolicy.store.location import host_platform
from lkpolicy.store.lookup import Store


@dataclass(frozen=True, slots=True)
class PullResult:
    name: str
    descriptor: Descriptor
    fetched: bool
    """False when the cached image was fresh and the source was not contacted at all."""
    blobs_written: int = 0


def pull(store: Store, ref: ImageRef | str, source: ImageSource, platform: Platform | None = None,
         *, all_platforms: bool = False, force: bool = False) -> PullResult:
    """Make the image present and fresh, copying only missing blobs from `source`.

    Without `force`, a fresh cached image is used without calling `source` at all (offline).
    """
    image, name = reference_key(ref)
    platform = platform or host_platform()
    verify_existing = force
    if not force:
        try:
            if store.is_fresh(name, platform, all_platforms):
                descriptor = store.find(name)
                assert descriptor is not None
                check_pinned(image, name, descriptor)
                return PullResult(name, descriptor, fetched=False)
        except StoreError:
            # Present but corrupt: fetch again and re-check the blobs we already have.
            verify_existing = True
    with store.gc_guard(exclusive=False):
        return _pull(store, image, name, source, platform, all_platforms, verify_existing)


def _pull(store: Store, image: ImageRef, name: str, source: ImageSource, platform: Platform,
          all_platforms: bool, verify_existing: bool) -> PullResult:
    failure = f"could not pull image {image.original}"
    try:
        top = source.get_manifest(image)
    except Exception as error:  # any source (registry, layout, ...) failing is one outcome
        raise StoreError(f"{failure}: error getting manifest for image {name}: "
                         f"{_cause(error, image)}") from error
    _check_fetched(top, None, f"{failure}: manifest")
    if image.pinned and top.digest != image.digest:
        raise StoreError(f"{failure}: the source returned {top.digest}, not the pinned "
                         f"{image.digest}")
    if top.media_type not in IMAGE_TYPES:
        raise StoreError(f"{failure}: unsupported manifest media type {top.media_type!r}")
    try:
        images = _platform_manifests(top, image, source, platform, all_platforms, failure)
        written = 0
        for manifest in images:
            for blob in (manifest.config(), *manifest.layers()):
                fill = functools.partial(_copy_from_source, source, image, blob)
                try:
                    written += store.write_blob(blob, fill, what=f"{failure}: blob {blob.digest}",
                                                verify_existing=verify_existing)
                except StoreError:
                    raise
                except Exception as error:
                    raise StoreError(f"{failure}: error copying blob {blob.digest}: "
                                     f"{_cause(error, image)}") from error
            # The manifest goes in after its blobs: a crash never leaves a manifest that
            # looks fresh while blobs are still missing.
            written += store.write_bytes(manifest.data, manifest.descriptor(),
                                         verify_existing=verify_existing)
        if top.is_index:
            written += store.write_bytes(top.data, top.descriptor(), verify_existing=verify_existing)
    except OCIError as error:
        raise StoreError(f"{failure}: {error}") from None
    descriptor = top.descriptor()
    store.register_many([(name, descriptor)])
    return PullResult(name, descriptor, fetched=True, blobs_written=written)


def _platform_manifests(top: Manifest, image: ImageRef, source: ImageSource, platform: Platform,
                        all_platforms: bool, failure: str) -> list[Manifest]:
    """The image manifests to store: the top one, or the index entries that are wanted."""
    if not top.is_index:
        return [top]
    images: list[Manifest] = []
    wanted = top.manifests() if all_platforms else [top.select(platform)]
    for entry in wanted:
        if entry.media_type not in MANIFEST_TYPES:
            if all_platforms:
                continue
            raise StoreError(f"{failure}: the {platform} entry is not an image "
                             f"manifest ({entry.media_type})")
        try:
            child = source.get_manifest(image, entry.digest)
        except Exception as error:
            raise StoreError(f"{failure}: error getting manifest {entry.digest}: "
                             f"{_cause(error, image)}") from error
        _check_fetched(child, entry, f"{failure}: manifest {entry.digest}")
        images.append(child)
    return images


def _check_fetched(manifest: Manifest, expected: Descriptor | None, what: str) -> None:
    """Re-verify what a source returned: the store does not take a source's word for it."""
    if len(manifest.data) > MAX_MANIFEST_BYTES:
        raise StoreError(f"{what}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        if expected is None:
            verify_bytes(manifest.data, manifest.digest, None, what)
        else:
            verify_bytes(manifest.data, expected.digest, expected.size, what)
    except OCIError as error:
        raise StoreError(str(error)) from None
    if expected is not None and manifest.media_type != expected.media_type:
        raise StoreError(f"{what}: media type {manifest.media_type} does not match the index "
                         f"entry's {expected.media_type}")
    declared = detect_media_type(manifest.data, manifest.media_type)
    if declared != manifest.media_type:
        raise StoreError(f"{what}: says it is {declared}, the source says {manifest.media_type}")


def _copy_from_source(source: ImageSource, image: ImageRef, blob: Descriptor,
                      sink: BlobSink) -> None:
    source.copy_blob(image, blob, sink)


def _cause(error: BaseException, image: ImageRef) -> str:
    """The source's message without the image name it may start with (ours already names it)."""
    text = one_line(error)
    for prefix in (image.original, image.expanded):
        if text.startswith(prefix + ": "):
            return text[len(prefix) + 2:]
    return text
