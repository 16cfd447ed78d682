"""OCI layout archives (tar files) in and out of the cache, as `linuxkit cache import|export`.

An archive is untrusted input: nothing is written before every header has been checked, member
names and types are restricted to what an OCI layout holds, and every blob is verified.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from lkpolicy.model.oci import (
    CONFIG_TYPES,
    CONTAINERD_NAME_ANNOTATION,
    IMAGE_TYPES,
    MANIFEST_TYPES,
    MAX_CONFIG_BLOB_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    REF_NAME_ANNOTATION,
    Descriptor,
    Manifest,
    OCIError,
    Platform,
    parse_document,
    verify_bytes,
)
from lkpolicy.model.reference import ImageRef, ReferenceError, parse
from lkpolicy.store.blobs import CHUNK_BYTES, BlobReader, BlobSink
from lkpolicy.store.errors import IntegrityError, StoreError, plain_reason
from lkpolicy.store.index import (
    INDEX_FILE,
    LAYOUT_BYTES,
    LAYOUT_FILE,
    check_pinned,
    manifest_from_blob,
    reference_key,
)
from lkpolicy.store.lookup import Store, parse_image_config

DEFAULT_MAX_ARCHIVE_BYTES = 64 * 1024**3
MAX_ARCHIVE_MEMBERS = 100_000
_BLOB_MEMBER = re.compile(r"^blobs/sha256/[0-9a-f]{64}$")

Members = Mapping[str, tarfile.TarInfo]


def import_archive(store: Store, path: str | os.PathLike[str], *,
                   max_total_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES) -> list[tuple[str, Descriptor]]:
    """Load an OCI layout tar, as `linuxkit cache import` does; returns what was registered.

    Each `index.json` descriptor is registered under its `io.containerd.image.name`
    annotation, else under its `org.opencontainers.image.ref.name` when that is a full
    reference. Nothing is written before the whole archive's headers have been checked, and
    every blob copied is verified.
    """
    label = f"archive {os.fspath(path)}"
    archive = _open_archive(path, label)
    try:
        with archive:
            members = _scan_archive(archive, label, max_total_bytes, store.max_blob_bytes)
            _check_layout_file(archive, members, label)
            index_doc = _json_member(archive, members, INDEX_FILE, MAX_MANIFEST_BYTES, label)
            named = _archive_names(index_doc, label)
            plan: dict[str, Descriptor] = {}
            for name, descriptor in named:
                _plan_import(archive, members, name, descriptor, plan, label)
            with store.gc_guard(exclusive=False):
                for digest, blob in plan.items():
                    fill = functools.partial(_copy_member, archive, members[_member_of(digest)])
                    store.write_blob(blob, fill, what=f"{label}: blob {digest}")
                store.register_many(named)
    except IntegrityError as error:
        raise StoreError(str(error), input_error=True) from None
    except OCIError as error:
        raise StoreError(f"{label}: {error}", input_error=True) from None
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise StoreError(f"{label}: {plain_reason(error)}", input_error=True) from None
    return named


def _open_archive(path: str | os.PathLike[str], label: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError, EOFError, zlib.error) as error:
        raise StoreError(f"{label}: cannot read it: {plain_reason(error)}",
                         input_error=True) from None


def _scan_archive(archive: tarfile.TarFile, label: str, max_total_bytes: int,
                  max_blob_bytes: int) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    total = 0
    # Iterating reads one header at a time, so a hostile member is refused before the rest of
    # a (possibly compressed) archive is even decoded.
    for count, info in enumerate(archive, 1):
        if count > MAX_ARCHIVE_MEMBERS:
            raise StoreError(f"{label}: more than {MAX_ARCHIVE_MEMBERS} members",
                             input_error=True)
        name = _member_name(info.name, label)
        if info.isdir():
            if name.rstrip("/") in ("", ".", "blobs", "blobs/sha256"):
                continue
            raise StoreError(f"{label}: unexpected directory {info.name!r}", input_error=True)
        if info.issym() or info.islnk():
            raise StoreError(f"{label}: member {info.name!r} is a link (to "
                             f"{info.linkname!r}); only regular files are accepted",
                             input_error=True)
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise StoreError(f"{label}: member {info.name!r} is not a regular file",
                             input_error=True)
        if name not in (LAYOUT_FILE, INDEX_FILE) and not _BLOB_MEMBER.match(name):
            raise StoreError(f"{label}: unexpected member {info.name!r} (an OCI layout has "
                             "only oci-layout, index.json and blobs/sha256/<hex>)",
                             input_error=True)
        if name in members:
            raise StoreError(f"{label}: member {info.name!r} appears twice", input_error=True)
        limit = max_blob_bytes if name.startswith("blobs/") else MAX_MANIFEST_BYTES
        if info.size > limit:
            raise StoreError(f"{label}: member {info.name!r} is {info.size} bytes, more than "
                             f"the {limit} allowed", input_error=True)
        total += info.size
        if total > max_total_bytes:
            raise StoreError(f"{label}: more than {max_total_bytes} bytes of content",
                             input_error=True)
        members[name] = info
    return members


def _member_name(raw: str, label: str) -> str:
    parts = raw.split("/")
    if raw.startswith("/") or ".." in parts or "\\" in raw:
        raise StoreError(f"{label}: unsafe member name {raw!r}", input_error=True)
    name = raw
    while name.startswith("./"):
        name = name[2:]
    return name


def _member_of(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def _read_member(archive: tarfile.TarFile, info: tarfile.TarInfo, limit: int, label: str) -> bytes:
    if info.size > limit:
        raise StoreError(f"{label}: {info.name} is larger than {limit} bytes", input_error=True)
    stream = archive.extractfile(info)
    if stream is None:
        raise StoreError(f"{label}: cannot read {info.name}", input_error=True)
    with stream:
        return stream.read(limit + 1)


def _json_member(archive: tarfile.TarFile, members: Members, name: str, limit: int,
                 label: str) -> dict[str, Any]:
    info = members.get(name)
    if info is None:
        raise StoreError(f"{label}: no {name} (not an OCI image layout archive)", input_error=True)
    data = _read_member(archive, info, limit, label)
    try:
        return parse_document(data, f"{label}: {name}")
    except OCIError as error:
        raise StoreError(str(error), input_error=True) from None


def _check_layout_file(archive: tarfile.TarFile, members: Members, label: str) -> None:
    doc = _json_member(archive, members, LAYOUT_FILE, 4096, label)
    if not isinstance(doc.get("imageLayoutVersion"), str):
        raise StoreError(f"{label}: oci-layout has no imageLayoutVersion", input_error=True)


def _is_full_reference(name: str) -> bool:
    try:
        parsed = parse(name)
    except ReferenceError:
        return False
    return parsed.expanded == name and (parsed.tag is not None or parsed.digest is not None) \
        and not parsed.registry_problems()


def _archive_names(index_doc: Mapping[str, Any], label: str) -> list[tuple[str, Descriptor]]:
    manifests = index_doc.get("manifests")
    if not isinstance(manifests, list):
        raise StoreError(f"{label}: index.json has no manifests list", input_error=True)
    named: list[tuple[str, Descriptor]] = []
    for position, item in enumerate(manifests):
        try:
            descriptor = Descriptor.from_json(item, f"index.json entry {position}")
        except OCIError as error:
            raise StoreError(f"{label}: {error}", input_error=True) from None
        containerd = descriptor.annotations.get(CONTAINERD_NAME_ANNOTATION)
        ref_name = descriptor.annotations.get(REF_NAME_ANNOTATION)
        if isinstance(containerd, str) and containerd:
            try:
                # containerd names are normalised already; expanding a short one makes it the key
                # a build looks for (linuxkit would store it as written and never find it).
                name = parse(containerd).expanded
            except ReferenceError as error:
                raise StoreError(f"{label}: invalid image name {containerd!r}: {error}",
                                 input_error=True) from None
        elif isinstance(ref_name, str) and _is_full_reference(ref_name):
            name = ref_name
        else:
            continue  # linuxkit skips unnamed entries too
        if descriptor.media_type not in IMAGE_TYPES:
            raise StoreError(f"{label}: image {name} has unsupported media type "
                             f"{descriptor.media_type!r}", input_error=True)
        named.append((name, Descriptor(descriptor.media_type, descriptor.digest, descriptor.size)))
    if not named:
        raise StoreError(f"{label}: no image names in index.json (needs the annotation "
                         f"{CONTAINERD_NAME_ANNOTATION} or a full reference in "
                         f"{REF_NAME_ANNOTATION})", input_error=True)
    return named


def _plan_import(archive: tarfile.TarFile, members: Members, name: str, descriptor: Descriptor,
                 plan: dict[str, Descriptor], label: str) -> None:
    what = f"{label}: image {name}"
    top = _archive_manifest(archive, members, descriptor, what)
    if not top.is_index:
        _plan_image(archive, top, members, plan, what)
    else:
        complete = 0
        for entry in top.manifests():
            if _member_of(entry.digest) not in members:
                continue  # a platform the archive leaves out, like a partial pull does
            if entry.media_type not in MANIFEST_TYPES:
                raise StoreError(f"{what}: nested index {entry.digest} is not supported",
                                 input_error=True)
            child = _archive_manifest(archive, members, entry, what)
            _plan_image(archive, child, members, plan, what)
            plan.setdefault(entry.digest, entry)
            complete += 1
        if not complete:
            raise StoreError(f"{what}: none of the index's manifests is in the archive",
                             input_error=True)
    plan.setdefault(descriptor.digest, descriptor)


def _archive_manifest(archive: tarfile.TarFile, members: Members, descriptor: Descriptor,
                      what: str) -> Manifest:
    info = members.get(_member_of(descriptor.digest))
    if info is None:
        raise StoreError(f"{what}: manifest {descriptor.digest} is missing from the archive",
                         input_error=True)
    if descriptor.size > MAX_MANIFEST_BYTES:
        raise StoreError(f"{what}: manifest {descriptor.digest} is larger than "
                         f"{MAX_MANIFEST_BYTES} bytes", input_error=True)
    data = _read_member(archive, info, MAX_MANIFEST_BYTES, what)
    try:
        verify_bytes(data, descriptor.digest, descriptor.size, f"manifest {descriptor.digest}")
    except OCIError as error:
        raise StoreError(f"{what}: {error}", input_error=True) from None
    try:
        return manifest_from_blob(data, descriptor, what)
    except StoreError as error:
        error.input_error = True
        raise


def _plan_image(archive: tarfile.TarFile, manifest: Manifest, members: Members,
                plan: dict[str, Descriptor], what: str) -> None:
    try:
        config = manifest.config()
        blobs = [config, *manifest.layers()]
    except OCIError as error:
        raise StoreError(f"{what}: {error}", input_error=True) from None
    for blob in blobs:
        info = members.get(_member_of(blob.digest))
        if info is None:
            raise StoreError(f"{what}: blob {blob.digest} is missing from the archive",
                             input_error=True)
        if info.size != blob.size:
            raise StoreError(f"{what}: blob {blob.digest} is {info.size} bytes in the archive, "
                             f"its descriptor says {blob.size}", input_error=True)
        plan.setdefault(blob.digest, blob)
    if config.media_type in CONFIG_TYPES:
        # Refused now rather than by every later lookup: the cache takes no image it cannot use.
        _check_archive_config(archive, members[_member_of(config.digest)], config, what)
    plan.setdefault(manifest.digest, manifest.descriptor())


def _check_archive_config(archive: tarfile.TarFile, info: tarfile.TarInfo, config: Descriptor,
                          what: str) -> None:
    label = f"{what}: config"
    if config.size > MAX_CONFIG_BLOB_BYTES:
        raise StoreError(f"{label} {config.digest} is larger than {MAX_CONFIG_BLOB_BYTES} bytes",
                         input_error=True)
    data = _read_member(archive, info, MAX_CONFIG_BLOB_BYTES, label)
    try:
        verify_bytes(data, config.digest, config.size, f"config {config.digest}")
        parse_image_config(data, what)
    except OCIError as error:
        raise StoreError(f"{what}: {error}", input_error=True) from None
    except StoreError as error:
        error.input_error = True
        raise


def _copy_member(archive: tarfile.TarFile, info: tarfile.TarInfo, sink: BlobSink) -> None:
    stream = archive.extractfile(info)
    if stream is None:
        raise StoreError(f"cannot read archive member {info.name}", input_error=True)
    with stream:
        while chunk := stream.read(CHUNK_BYTES):
            sink.write(chunk)


# ---------------------------------------------------------------------- export


def export_archive(store: Store, ref: ImageRef | str, path: str | os.PathLike[str], *,
                   platform: Platform | None = None) -> Descriptor:
    """Write the image as an OCI layout tar that `import_archive`, `linuxkit cache import`,
    skopeo and docker can load; written atomically, with fixed metadata (reproducible)."""
    image, name = reference_key(ref)
    descriptor = store.find(name)
    if descriptor is None:
        raise StoreError(f"image {name} is not in the cache {store.root}", input_error=True)
    check_pinned(image, name, descriptor)
    top = store.load_manifest(name, descriptor)
    if top is None:
        raise StoreError(f"image {name}: manifest {descriptor.digest} is missing from the cache")
    try:
        blobs = _export_blobs(store, name, descriptor, top, platform)
    except OCIError as error:
        raise StoreError(f"image {name}: {error}") from None
    index_doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": descriptor.media_type,
            "digest": descriptor.digest,
            "size": descriptor.size,
            "annotations": {CONTAINERD_NAME_ANNOTATION: name, REF_NAME_ANNOTATION: name},
        }],
    }
    _write_archive(store, Path(path), index_doc, blobs.values(), name)
    return descriptor


def _export_blobs(store: Store, name: str, descriptor: Descriptor, top: Manifest,
                  platform: Platform | None) -> dict[str, Descriptor]:
    blobs: dict[str, Descriptor] = {descriptor.digest: descriptor}
    if not top.is_index:
        for blob in (top.config(), *top.layers()):
            if not store.has_blob(blob):
                raise StoreError(f"image {name}: blob {blob.digest} is missing from the cache")
            blobs.setdefault(blob.digest, blob)
        _check_cached_config(store, name, top.config())
        return blobs
    for entry in top.manifests():
        if entry.media_type not in MANIFEST_TYPES or not store.manifest_complete(name, entry):
            continue
        if platform is not None and not (entry.platform and platform.matches(entry.platform)):
            continue
        child = store.load_manifest(name, entry)
        assert child is not None
        _check_cached_config(store, name, child.config())
        blobs.setdefault(entry.digest, entry)
        for blob in (child.config(), *child.layers()):
            blobs.setdefault(blob.digest, blob)
    if len(blobs) == 1:
        wanted = f" for {platform}" if platform else ""
        raise StoreError(f"image {name}: no complete image{wanted} in the cache", input_error=True)
    return blobs


def _check_cached_config(store: Store, name: str, config: Descriptor) -> None:
    """What import would refuse is not exported: an archive of ours always loads again."""
    if config.media_type in CONFIG_TYPES:
        store.read_image_config(name, config)


def _write_archive(store: Store, target: Path, index_doc: dict[str, Any],
                   blobs: Iterable[Descriptor], name: str) -> None:
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise StoreError(f"cannot write {target}: {error.strerror or error}",
                         input_error=True) from None
    try:
        with os.fdopen(fd, "wb") as stream:
            with tarfile.open(fileobj=stream, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                _add_member(tar, LAYOUT_FILE, len(LAYOUT_BYTES), io.BytesIO(LAYOUT_BYTES))
                index_bytes = json.dumps(index_doc, separators=(",", ":")).encode()
                _add_member(tar, INDEX_FILE, len(index_bytes), io.BytesIO(index_bytes))
                for blob in blobs:
                    with store.open_blob(blob, f"image {name}: blob {blob.digest}") as reader:
                        _add_member(tar, _member_of(blob.digest), blob.size, reader)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _add_member(tar: tarfile.TarFile, name: str, size: int, stream: BinaryIO | BlobReader) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, stream)
