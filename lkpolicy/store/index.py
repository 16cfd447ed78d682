"""The cache's root `index.json`: reading it, naming images in it, and changing it under the lock
linuxkit takes.

linuxkit finds an image by the descriptor in the root `index.json` whose
`org.opencontainers.image.ref.name` annotation is exactly the expanded reference (spec section 7);
this module reads and writes by the same rule.

Concurrency: `index.json` is rewritten (re-read, changed, atomically replaced) under an exclusive
POSIX record lock on `<cache>/.lock`. That is the lock linuxkit itself takes (`util.Lock`, an
`F_SETLKW` fcntl lock), so an lkpolicy process and a linuxkit process do not lose each other's
index updates. (`flock(2)` locks would not exclude linuxkit: on Linux the two kinds of lock are
independent.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from lkpolicy.model.oci import (
    IMAGE_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    REF_NAME_ANNOTATION,
    Descriptor,
    Manifest,
    OCIError,
    detect_media_type,
    parse_document,
)
from lkpolicy.model.reference import ImageRef, ReferenceError, parse
from lkpolicy.safeio import (
    UntrustedInput,
    atomic_write_bytes,
    read_regular_file,
)
from lkpolicy.store.blobs import BlobStore, open_lock_file
from lkpolicy.store.errors import StoreError

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
LAYOUT_BYTES = b'{"imageLayoutVersion":"1.0.0"}'
MAX_INDEX_BYTES = 64 * 1024**2
"""The root index of a large cache: ~300 bytes per image, so this is about 200 000 images."""

# POSIX record locks belong to the process, not to the descriptor: two threads would both "hold"
# `.lock`, and closing any descriptor of the file drops the process's lock. One mutex per process
# therefore serialises the threads, and only the holder ever opens `.lock`.
_INDEX_MUTEX = threading.Lock()


def reference_key(ref: ImageRef | str) -> tuple[ImageRef, str]:
    """The parsed reference and the name linuxkit files it under (the expanded reference)."""
    if isinstance(ref, ImageRef):
        return ref, ref.expanded
    try:
        parsed = parse(ref)
    except ReferenceError as error:
        raise StoreError(f"invalid image reference {ref!r}: {error}", input_error=True) from None
    return parsed, parsed.expanded


def entry_name(entry: Mapping[str, Any]) -> str | None:
    """The `ref.name` of a raw root index entry, if it has one."""
    annotations = entry.get("annotations")
    if isinstance(annotations, dict):
        name = annotations.get(REF_NAME_ANNOTATION)
        if isinstance(name, str):
            return name
    return None


def check_pinned(image: ImageRef, name: str, descriptor: Descriptor) -> None:
    # linuxkit trusts the entry's digest; an entry named `x@sha256:A` that points at B is a
    # tampered or broken cache, and using B would defeat the pin.
    if image.pinned and descriptor.digest != image.digest:
        raise StoreError(f"image {name}: the cache entry points to {descriptor.digest}, not to "
                         f"the pinned digest")


def manifest_from_blob(data: bytes, descriptor: Descriptor, what: str) -> Manifest:
    """A verified manifest or index blob as a `Manifest`; its JSON is checked here, so that
    hostile JSON is refused where it is read, naming `what`. An empty media type in the
    descriptor (a blob found by digest alone) takes the blob's own."""
    declared = descriptor.media_type
    media_type = detect_media_type(data, declared or None)
    if declared and media_type != declared:
        # A blob that calls itself something else than its descriptor says is ambiguous; which
        # reading wins is exactly what an attacker would like to choose.
        raise StoreError(f"{what}: manifest {descriptor.digest} says it is {media_type}, its "
                         f"descriptor says {declared}")
    manifest = Manifest(data, media_type, descriptor.digest)
    try:
        manifest.json()
    except OCIError as error:
        raise StoreError(f"{what}: {error}") from None
    return manifest


def _cache_entry(name: str, descriptor: Descriptor) -> dict[str, Any]:
    entry: dict[str, Any] = {"mediaType": descriptor.media_type, "digest": descriptor.digest,
                             "size": descriptor.size}
    # Only the ref.name annotation, as linuxkit's own DescriptorWrite leaves it.
    entry["annotations"] = {REF_NAME_ANNOTATION: name}
    if descriptor.platform:
        entry["platform"] = dict(descriptor.platform)
    return entry


def _empty_index() -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def _index_bytes(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


class LayoutStore(BlobStore):
    """An OCI image layout: blobs plus the root index that names images; `Store` adds lookup."""

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_FILE

    def exists(self) -> bool:
        return self.index_path.is_file()

    def _read_index_doc(self) -> dict[str, Any] | None:
        what = f"the cache index {self.index_path}"
        try:
            # A regular file only: a FIFO or device planted as index.json is refused unread.
            doc = parse_document(read_regular_file(self.index_path, MAX_INDEX_BYTES,
                                                   "the cache index"), what)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {what}: {error.strerror or error}") from None
        except (UntrustedInput, OCIError) as error:
            raise StoreError(str(error)) from None
        manifests = doc.get("manifests")
        if manifests is None:
            doc["manifests"] = []
        elif not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
            raise StoreError(f"{what} has an invalid manifests list")
        return doc

    def entries(self) -> list[dict[str, Any]]:
        """The root index's descriptors as stored (raw JSON objects)."""
        doc = self._read_index_doc()
        return [] if doc is None else list(doc["manifests"])

    def find(self, name: str) -> Descriptor | None:
        """linuxkit's lookup: the first root descriptor whose `ref.name` is exactly `name`."""
        for entry in self.entries():
            if entry_name(entry) == name:
                try:
                    return Descriptor.from_json(entry, f"cache entry for {name}")
                except OCIError as error:
                    raise StoreError(f"image {name}: {error}") from None
        return None

    def load_manifest(self, name: str, descriptor: Descriptor) -> Manifest | None:
        """The manifest or index a descriptor of image `name` points to; None if its blob is
        not in the cache, `StoreError` if it is unusable."""
        what = f"image {name}"
        if descriptor.media_type not in IMAGE_TYPES:
            raise StoreError(f"{what}: unsupported media type {descriptor.media_type!r} "
                             f"for {descriptor.digest}")
        data = self.read_blob(descriptor, MAX_MANIFEST_BYTES, what)
        if data is None:
            return None
        return manifest_from_blob(data, descriptor, what)

    @contextlib.contextmanager
    def index_lock(self) -> Iterator[None]:
        """linuxkit's lock on `<cache>/.lock`, held while `index.json` is re-read and replaced."""
        with _INDEX_MUTEX:
            fd = open_lock_file(self.root, LOCK_FILE)
            try:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX)
                except OSError as error:
                    raise StoreError(f"cannot lock the cache {self.root}: "
                                     f"{error.strerror or error}") from None
                yield
            finally:
                os.close(fd)

    def _ensure_layout(self) -> None:
        """Called with the index lock held, so that two first writers create one layout."""
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        if not (self.root / LAYOUT_FILE).exists():
            atomic_write_bytes(self.root / LAYOUT_FILE, LAYOUT_BYTES)
        if not self.index_path.exists():
            atomic_write_bytes(self.index_path, _index_bytes(_empty_index()))

    def update_index(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        """Replace the root entries by `change(entries)`, atomically and under the lock."""
        # Re-read inside the lock: another process may have registered images since we looked.
        with self.index_lock():
            try:
                self._ensure_layout()
                doc = self._read_index_doc() or _empty_index()
                doc["manifests"] = change(list(doc["manifests"]))
                atomic_write_bytes(self.index_path, _index_bytes(doc))
            except OSError as error:
                raise StoreError(f"cannot update the cache index {self.index_path}: "
                                 f"{error.strerror or error}") from None

    def register(self, ref: ImageRef | str, descriptor: Descriptor) -> str:
        """Name a stored manifest or index, replacing any entry of the same name; returns the name."""
        _, name = reference_key(ref)
        self.register_many([(name, descriptor)])
        return name

    def register_many(self, items: list[tuple[str, Descriptor]]) -> None:
        """Name several stored manifests or indexes (expanded names) in one index update."""
        for name, descriptor in items:
            if descriptor.media_type not in IMAGE_TYPES:
                raise StoreError(f"image {name}: cannot register media type "
                                 f"{descriptor.media_type!r}")
            if not self.has_blob(descriptor):
                raise StoreError(f"image {name}: {descriptor.digest} is not in the cache")

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for name, descriptor in items:
                entries = [e for e in entries if entry_name(e) != name]
                entries.append(_cache_entry(name, descriptor))
            return entries

        self.update_index(change)
