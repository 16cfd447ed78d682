"""The local image store. Its on-disk format IS linuxkit's cache, so both tools share one cache.

An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`). linuxkit finds an image
by the descriptor in the root `index.json` whose `org.opencontainers.image.ref.name` annotation is
exactly the expanded reference (spec section 7); this module reads and writes by the same rule.

Integrity: every blob that is read is checked against its digest and size, and every blob that
is written is checked while it streams into a temporary file that is only then renamed into
place, so a reader never sees a partial or unverified blob under a digest name.

Concurrency: `index.json` is rewritten (re-read, changed, atomically replaced) under an exclusive
POSIX record lock on `<cache>/.lock`. That is the lock linuxkit itself takes (`util.Lock`, an
`F_SETLKW` fcntl lock), so an lkpolicy process and a linuxkit process do not lose each other's
index updates. (`flock(2)` locks would not exclude linuxkit: on Linux the two kinds of lock are
independent.)
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import functools
import hashlib
import io
import json
import os
import platform as host
import re
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from lkpolicy.model.oci import (
    CONTAINERD_NAME_ANNOTATION,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_CONFIG_BLOB_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    REF_NAME_ANNOTATION,
    Descriptor,
    ImageSource,
    Manifest,
    OCIError,
    Platform,
    check_digest_syntax,
    detect_media_type,
    sha256_digest,
    verify_bytes,
)
from lkpolicy.model.reference import ImageRef, ReferenceError, parse
from lkpolicy.safeio import atomic_write_bytes
from lkpolicy.stages.effective import ImageConfig

__all__ = [
    "DEFAULT_MAX_ARCHIVE_BYTES",
    "DEFAULT_MAX_BLOB_BYTES",
    "BlobReader",
    "BlobSink",
    "GcResult",
    "ImageInfo",
    "PullResult",
    "ResolvedImage",
    "Store",
    "StoreError",
    "default_cache_dir",
    "host_platform",
]

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
GC_LOCK_FILE = ".lkpolicy-gc.lock"
LAYOUT_BYTES = b'{"imageLayoutVersion":"1.0.0"}'

DEFAULT_MAX_BLOB_BYTES = 16 * 1024**3
"""No single layer of a bootable LinuxKit image comes near this; a hostile manifest could claim more."""
DEFAULT_MAX_ARCHIVE_BYTES = 64 * 1024**3
MAX_INDEX_BYTES = 64 * 1024**2
"""The root index of a large cache: ~300 bytes per image, so this is about 200 000 images."""
MAX_ARCHIVE_MEMBERS = 100_000
_MAX_SMALL_BLOB = max(MAX_CONFIG_BLOB_BYTES, MAX_MANIFEST_BYTES)
_CHUNK = 1024 * 1024
_TMP_PREFIX = ".lkpolicy-"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BLOB_MEMBER = re.compile(r"^blobs/sha256/[0-9a-f]{64}$")
_IMAGE_TYPES = MANIFEST_TYPES | INDEX_TYPES

# POSIX record locks belong to the process, not to the descriptor: two threads would both "hold"
# `.lock`, and closing any descriptor of the file drops the process's lock. One mutex per process
# therefore serialises the threads, and only the holder ever opens `.lock`.
_INDEX_MUTEX = threading.Lock()

# Go's names for the machines linuxkit builds for (`--arch` defaults to the host's).
_GO_ARCH = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "riscv64": "riscv64", "s390x": "s390x", "ppc64le": "ppc64le", "armv7l": "arm",
    "i386": "386", "i686": "386",
}


class StoreError(Exception):
    """A cache, archive or pull problem; the one-line message names the image and the cause.

    `input_error` marks problems with what the user supplied (an archive, a reference, an image
    that is not there) as opposed to failures of the cache or the network.
    """

    def __init__(self, message: str, *, input_error: bool = False) -> None:
        super().__init__(message)
        self.input_error = input_error


def default_cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """`--cache`, else `$LINUXKIT_CACHE`, else `~/.linuxkit/cache`, as `linuxkit build` decides."""
    if cache is not None and str(cache):
        return Path(cache).expanduser()
    env = os.environ.get("LINUXKIT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".linuxkit" / "cache"


def host_platform() -> Platform:
    """`linux/<host architecture in Go naming>`: linuxkit's default `--arch`."""
    machine = host.machine().lower()
    return Platform("linux", _GO_ARCH.get(machine, machine))


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
    config_blob: Mapping[str, Any]
    """The whole image config JSON (`architecture`, `os`, `config`, `rootfs`, ...)."""
    config: ImageConfig
    """What linuxkit reads from `config_blob["config"]`."""
    layers: tuple[Descriptor, ...]
    index: Manifest | None = None
    platform: Platform | None = None
    """The platform of the chosen index entry, or the config's own for a single manifest."""

    @property
    def digest(self) -> str:
        return self.descriptor.digest


@dataclass(frozen=True, slots=True)
class ImageInfo:
    name: str
    digest: str
    media_type: str
    size: int
    platforms: tuple[str, ...]
    """Platforms that are complete in the cache (manifest, config and layers present)."""


@dataclass(frozen=True, slots=True)
class PullResult:
    name: str
    descriptor: Descriptor
    fetched: bool
    """False when the cached image was fresh and the source was not contacted at all."""
    blobs_written: int = 0


@dataclass(frozen=True, slots=True)
class GcResult:
    removed: tuple[str, ...]
    freed_bytes: int


class _IntegrityError(StoreError):
    """Data that does not match its descriptor (raised while it streams)."""


class _Found(enum.Enum):
    MISSING = "missing"


class BlobSink:
    """Where a blob streams on its way into the cache: counts, hashes and refuses overruns."""

    def __init__(self, stream: IO[bytes], descriptor: Descriptor, what: str) -> None:
        self._stream = stream
        self._descriptor = descriptor
        self._what = what
        self._hash = hashlib.sha256()
        self._count = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        self._count += size
        # Stop at the first byte too many: a hostile source must not be able to fill the disk.
        if self._count > self._descriptor.size:
            raise _IntegrityError(f"{self._what}: more data than the declared size "
                                  f"{self._descriptor.size}")
        self._hash.update(data)
        try:
            self._stream.write(data)
        except OSError as error:
            raise StoreError(f"{self._what}: cannot write to the cache: "
                             f"{error.strerror or error}") from None
        return size

    def finish(self) -> None:
        if self._count != self._descriptor.size:
            raise _IntegrityError(f"{self._what}: got {self._count} bytes, expected "
                                  f"{self._descriptor.size}")
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._descriptor.digest:
            raise _IntegrityError(f"{self._what}: digest mismatch: expected "
                                  f"{self._descriptor.digest}, got {actual}")


class BlobReader:
    """A blob opened for streaming. The digest is checked when the last byte is read: the final
    `read` raises `StoreError` instead of returning its data if the blob is corrupt, so a reader
    that consumes the whole blob never finishes with unverified content."""

    def __init__(self, stream: BinaryIO, descriptor: Descriptor, what: str) -> None:
        self._stream = stream
        self._descriptor = descriptor
        self._what = what
        self._hash = hashlib.sha256()
        self._count = 0
        self.verified = descriptor.size == 0 and descriptor.digest == sha256_digest(b"")

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._descriptor.size - self._count
        if remaining <= 0:
            self._verify()
            return b""
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        data = self._stream.read(wanted)
        if not data:
            raise StoreError(f"{self._what}: truncated after {self._count} of "
                             f"{self._descriptor.size} bytes")
        self._count += len(data)
        self._hash.update(data)
        if self._count == self._descriptor.size:
            self._verify()
        return data

    def _verify(self) -> None:
        if self.verified:
            return
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._descriptor.digest:
            raise StoreError(f"{self._what}: digest mismatch: expected "
                             f"{self._descriptor.digest}, got {actual}")
        self.verified = True


class Store:
    """An OCI image layout used as linuxkit's cache; also an `ImageSource` for later stages."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> None:
        self.root = default_cache_dir(root)
        self.max_blob_bytes = max_blob_bytes

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ------------------------------------------------------------------ paths and raw reading

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_FILE

    def blob_path(self, digest: str) -> Path:
        try:
            check_digest_syntax(digest)
        except OCIError as error:
            raise StoreError(str(error)) from None
        return self.blobs_dir / digest.split(":", 1)[1]

    def exists(self) -> bool:
        return self.index_path.is_file()

    def has_blob(self, descriptor: Descriptor) -> bool:
        """Present as linuxkit's freshness check means it (plus the size, which is free)."""
        try:
            info = self.blob_path(descriptor.digest).stat()
        except OSError:
            return False
        return stat.S_ISREG(info.st_mode) and info.st_size == descriptor.size

    def _open_blob_file(self, descriptor: Descriptor, what: str) -> BinaryIO | None:
        path = self.blob_path(descriptor.digest)
        try:
            # O_NONBLOCK: a FIFO planted under a digest name must not hang the reader.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{what}: cannot open {path}: {error.strerror}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise StoreError(f"{what}: {path} is not a regular file")
            if info.st_size != descriptor.size:
                raise StoreError(f"{what}: blob {descriptor.digest} has {info.st_size} bytes, "
                                 f"expected {descriptor.size}")
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _read_blob(self, descriptor: Descriptor, limit: int, what: str) -> bytes | _Found:
        if descriptor.size > limit:
            raise StoreError(f"{what}: blob {descriptor.digest} is {descriptor.size} bytes, "
                             f"more than the {limit} allowed")
        stream = self._open_blob_file(descriptor, what)
        if stream is None:
            return _Found.MISSING
        with stream:
            data = stream.read(descriptor.size + 1)
        try:
            verify_bytes(data, descriptor.digest, descriptor.size, f"blob {descriptor.digest}")
        except OCIError as error:
            raise StoreError(f"{what}: {error}") from None
        return data

    @contextlib.contextmanager
    def open_blob(self, descriptor: Descriptor, what: str | None = None) -> Iterator[BlobReader]:
        """Stream a blob (a layer); see `BlobReader` for when the digest is checked."""
        label = what or f"blob {descriptor.digest}"
        if descriptor.size > self.max_blob_bytes:
            raise StoreError(f"{label}: {descriptor.size} bytes is more than the "
                             f"{self.max_blob_bytes} allowed")
        stream = self._open_blob_file(descriptor, label)
        if stream is None:
            raise StoreError(f"{label}: blob {descriptor.digest} is not in the cache {self.root}")
        with stream:
            yield BlobReader(stream, descriptor, label)

    def _load_manifest(self, name: str, descriptor: Descriptor) -> Manifest | _Found:
        what = f"image {name}"
        if descriptor.media_type not in _IMAGE_TYPES:
            raise StoreError(f"{what}: unsupported media type {descriptor.media_type!r} "
                             f"for {descriptor.digest}")
        data = self._read_blob(descriptor, MAX_MANIFEST_BYTES, what)
        if isinstance(data, _Found):
            return data
        return _manifest(data, descriptor, what)

    # ------------------------------------------------------------------ the root index

    def _read_index_doc(self) -> dict[str, Any] | None:
        try:
            with open(self.index_path, "rb") as stream:
                data = stream.read(MAX_INDEX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read the cache index {self.index_path}: "
                             f"{error.strerror}") from None
        if len(data) > MAX_INDEX_BYTES:
            raise StoreError(f"the cache index {self.index_path} is larger than "
                             f"{MAX_INDEX_BYTES} bytes")
        try:
            doc = json.loads(data)
        except ValueError as error:
            raise StoreError(f"the cache index {self.index_path} is not valid JSON: "
                             f"{error}") from None
        if not isinstance(doc, dict):
            raise StoreError(f"the cache index {self.index_path} is not a JSON object")
        manifests = doc.get("manifests")
        if manifests is None:
            doc["manifests"] = []
        elif not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
            raise StoreError(f"the cache index {self.index_path} has an invalid manifests list")
        return doc

    def entries(self) -> list[dict[str, Any]]:
        """The root index's descriptors as stored (raw JSON objects)."""
        doc = self._read_index_doc()
        return [] if doc is None else list(doc["manifests"])

    def find(self, name: str) -> Descriptor | None:
        """linuxkit's lookup: the first root descriptor whose `ref.name` is exactly `name`."""
        for entry in self.entries():
            if _entry_name(entry) == name:
                try:
                    return Descriptor.from_json(entry, f"cache entry for {name}")
                except OCIError as error:
                    raise StoreError(f"image {name}: {error}") from None
        return None

    # ------------------------------------------------------------------ lookup

    def lookup(self, ref: ImageRef | str, platform: Platform | None = None) -> ResolvedImage | None:
        """The cached image if linuxkit would use it without pulling, else None.

        None: no entry under the expanded name, or the entry is not fresh (a blob is missing, or an
        index has no entry for the platform). `StoreError`: present but corrupt.
        """
        image, name = _reference(ref)
        descriptor = self.find(name)
        if descriptor is None:
            return None
        _check_pinned(image, name, descriptor)
        return self._resolve(name, descriptor, platform or host_platform())

    def image_config(self, ref: ImageRef | str, platform: Platform | None = None) -> ImageConfig:
        resolved = self.lookup(ref, platform)
        if resolved is None:
            _, name = _reference(ref)
            raise StoreError(f"image {name} is not in the cache {self.root}", input_error=True)
        return resolved.config

    def _resolve(self, name: str, descriptor: Descriptor, platform: Platform) -> ResolvedImage | None:
        what = f"image {name}"
        top = self._load_manifest(name, descriptor)
        if isinstance(top, _Found):
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
            chosen = _platform_of(entry.platform)
            loaded = self._load_manifest(name, entry)
            if isinstance(loaded, _Found):
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
        data = self._read_blob(config_descriptor, MAX_CONFIG_BLOB_BYTES, f"{what}: config")
        if isinstance(data, _Found):
            return None
        blob, config = _parse_image_config(data, what)
        if chosen is None and isinstance(blob.get("os"), str) and isinstance(blob.get("architecture"), str):
            chosen = _platform_of(blob)
        return ResolvedImage(name, descriptor, manifest, config_descriptor, blob, config, layers,
                             index, chosen)

    def _complete_platforms(self, name: str, descriptor: Descriptor) -> tuple[str, ...]:
        top = self._load_manifest(name, descriptor)
        if isinstance(top, _Found):
            return ()
        if not top.is_index:
            resolved = self._resolve(name, descriptor, host_platform())
            if resolved is None:
                return ()
            return (str(resolved.platform) if resolved.platform else "unknown",)
        found: list[str] = []
        for entry in _index_entries(name, top):
            if entry.media_type in MANIFEST_TYPES and entry.platform is not None \
                    and self._manifest_complete(name, entry):
                found.append(str(_platform_of(entry.platform)))
        return tuple(found)

    def _manifest_complete(self, name: str, descriptor: Descriptor) -> bool:
        loaded = self._load_manifest(name, descriptor)
        if isinstance(loaded, _Found):
            return False
        try:
            blobs = [loaded.config(), *loaded.layers()]
        except OCIError as error:
            raise StoreError(f"image {name}: {error}") from None
        return all(self.has_blob(d) for d in blobs)

    def _is_fresh(self, name: str, platform: Platform, all_platforms: bool) -> bool:
        descriptor = self.find(name)
        if descriptor is None:
            return False
        if not all_platforms:
            return self._resolve(name, descriptor, platform) is not None
        top = self._load_manifest(name, descriptor)
        if isinstance(top, _Found):
            return False
        if not top.is_index:
            return self._resolve(name, descriptor, platform) is not None
        return all(self._manifest_complete(name, entry) for entry in _index_entries(name, top)
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
        loaded = self._load_manifest(name, descriptor)
        if isinstance(loaded, _Found):
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
        data = self._read_blob(probe, MAX_MANIFEST_BYTES, what)
        if isinstance(data, _Found):
            raise StoreError(f"{what}: manifest is not in the image layout {self.root}")
        media_type = detect_media_type(data, probe.media_type or None)
        if probe.media_type and media_type != probe.media_type:
            raise StoreError(f"{what}: media type {media_type} does not match the descriptor's "
                             f"{probe.media_type}")
        return Manifest(data, media_type, digest)

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        what = f"image {ref.expanded}"
        data = self._read_blob(descriptor, _MAX_SMALL_BLOB, what)
        if isinstance(data, _Found):
            raise StoreError(f"{what}: blob {descriptor.digest} is not in {self.root}")
        return data

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any) -> None:
        with self.open_blob(descriptor, f"image {ref.expanded}: blob {descriptor.digest}") as reader:
            while chunk := reader.read(_CHUNK):
                sink.write(chunk)

    # ------------------------------------------------------------------ locks

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        with _INDEX_MUTEX:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise StoreError(f"cannot lock the cache {self.root}: "
                                 f"{error.strerror or error}") from None
            try:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX)
                except OSError as error:
                    raise StoreError(f"cannot lock the cache {self.root}: "
                                     f"{error.strerror or error}") from None
                yield
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def _gc_guard(self, *, exclusive: bool) -> Iterator[None]:
        """Writers hold it shared from their first blob to their index update, so that `gc`
        (exclusive) never deletes a blob that is written but not yet referenced. lkpolicy-only,
        hence `flock`, which unlike POSIX locks is not dropped when another descriptor closes."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / GC_LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise StoreError(f"cannot lock the cache {self.root}: "
                             f"{error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ writing

    def _ensure_layout(self) -> None:
        """Called with the index lock held, so that two first writers create one layout."""
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        if not (self.root / LAYOUT_FILE).exists():
            atomic_write_bytes(self.root / LAYOUT_FILE, LAYOUT_BYTES)
        if not self.index_path.exists():
            atomic_write_bytes(self.index_path, _index_bytes(_empty_index()))

    def initialize(self) -> None:
        """Create the empty layout now (it is otherwise created on the first write)."""
        self._update_index(lambda entries: entries)

    def _update_index(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        # Re-read inside the lock: another process may have registered images since we looked.
        with self._index_lock():
            try:
                self._ensure_layout()
                doc = self._read_index_doc() or _empty_index()
                doc["manifests"] = change(list(doc["manifests"]))
                atomic_write_bytes(self.index_path, _index_bytes(doc))
            except OSError as error:
                raise StoreError(f"cannot update the cache index {self.index_path}: "
                                 f"{error.strerror or error}") from None

    def write_blob(self, descriptor: Descriptor, fill: Callable[[BlobSink], None], *,
                   what: str | None = None, verify_existing: bool = False) -> bool:
        """Store a blob that `fill` writes into the sink it is given; True if it was written.

        The data goes to a temporary file in the blobs directory, is verified while it streams,
        and is renamed into place only when complete and correct.
        """
        label = what or f"blob {descriptor.digest}"
        if descriptor.size > self.max_blob_bytes:
            raise StoreError(f"{label}: {descriptor.size} bytes is more than the "
                             f"{self.max_blob_bytes} allowed")
        path = self.blob_path(descriptor.digest)
        if self.has_blob(descriptor) and (not verify_existing or self._blob_intact(descriptor)):
            return False
        try:
            self.blobs_dir.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".tmp", dir=self.blobs_dir)
        except OSError as error:
            raise StoreError(f"{label}: cannot write to the cache {self.blobs_dir}: "
                             f"{error.strerror or error}") from None
        try:
            with os.fdopen(fd, "wb") as stream:
                sink = BlobSink(stream, descriptor, label)
                fill(sink)
                sink.finish()
                try:
                    stream.flush()
                    os.fsync(stream.fileno())
                    os.chmod(temporary, 0o644)
                    os.replace(temporary, path)
                except OSError as error:
                    raise StoreError(f"{label}: cannot write to the cache {self.blobs_dir}: "
                                     f"{error.strerror or error}") from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True

    def add_blob(self, data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
        descriptor = Descriptor(media_type, sha256_digest(data), len(data))
        self.write_blob(descriptor, lambda sink: _write_all(sink, data))
        return descriptor

    def _blob_intact(self, descriptor: Descriptor) -> bool:
        try:
            with self.open_blob(descriptor) as reader:
                while reader.read(_CHUNK):
                    pass
        except StoreError:
            return False
        return True

    def register(self, ref: ImageRef | str, descriptor: Descriptor) -> str:
        """Name a stored manifest or index, replacing any entry of the same name; returns the name."""
        _, name = _reference(ref)
        self._register_many([(name, descriptor)])
        return name

    def _register_many(self, items: list[tuple[str, Descriptor]]) -> None:
        for name, descriptor in items:
            if descriptor.media_type not in _IMAGE_TYPES:
                raise StoreError(f"image {name}: cannot register media type "
                                 f"{descriptor.media_type!r}")
            if not self.has_blob(descriptor):
                raise StoreError(f"image {name}: {descriptor.digest} is not in the cache")

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for name, descriptor in items:
                entries = [e for e in entries if _entry_name(e) != name]
                entries.append(_cache_entry(name, descriptor))
            return entries

        self._update_index(change)

    # ------------------------------------------------------------------ pull

    def pull(self, ref: ImageRef | str, source: ImageSource, platform: Platform | None = None, *,
             all_platforms: bool = False, force: bool = False) -> PullResult:
        """Make the image present and fresh, copying only missing blobs from `source`.

        Without `force`, a fresh cached image is used without calling `source` at all (offline).
        """
        image, name = _reference(ref)
        platform = platform or host_platform()
        verify_existing = force
        if not force:
            try:
                if self._is_fresh(name, platform, all_platforms):
                    descriptor = self.find(name)
                    assert descriptor is not None
                    _check_pinned(image, name, descriptor)
                    return PullResult(name, descriptor, fetched=False)
            except StoreError:
                # Present but corrupt: fetch again and re-check the blobs we already have.
                verify_existing = True
        with self._gc_guard(exclusive=False):
            return self._pull(image, name, source, platform, all_platforms, verify_existing)

    def _pull(self, image: ImageRef, name: str, source: ImageSource, platform: Platform,
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
        if top.media_type not in _IMAGE_TYPES:
            raise StoreError(f"{failure}: unsupported manifest media type {top.media_type!r}")
        images: list[Manifest] = []
        try:
            if top.is_index:
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
            else:
                images.append(top)
            written = 0
            for manifest in images:
                for blob in (manifest.config(), *manifest.layers()):
                    fill = functools.partial(_copy_from_source, source, image, blob)
                    try:
                        written += self.write_blob(blob, fill, what=f"{failure}: blob {blob.digest}",
                                                   verify_existing=verify_existing)
                    except StoreError:
                        raise
                    except Exception as error:
                        raise StoreError(f"{failure}: error copying blob {blob.digest}: "
                                         f"{_cause(error, image)}") from error
                # The manifest goes in after its blobs: a crash never leaves a manifest that
                # looks fresh while blobs are still missing.
                written += self._write_bytes(manifest.data, manifest.descriptor(), verify_existing)
            if top.is_index:
                written += self._write_bytes(top.data, top.descriptor(), verify_existing)
        except OCIError as error:
            raise StoreError(f"{failure}: {error}") from None
        descriptor = top.descriptor()
        self._register_many([(name, descriptor)])
        return PullResult(name, descriptor, fetched=True, blobs_written=written)

    def _write_bytes(self, data: bytes, descriptor: Descriptor, verify_existing: bool) -> int:
        return int(self.write_blob(descriptor, lambda sink: _write_all(sink, data),
                                   verify_existing=verify_existing))

    # ------------------------------------------------------------------ archives

    def import_archive(self, path: str | os.PathLike[str], *,
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
                members = self._scan_archive(archive, label, max_total_bytes)
                _check_layout_file(archive, members, label)
                index_doc = _json_member(archive, members, INDEX_FILE, MAX_MANIFEST_BYTES, label)
                named = _archive_names(index_doc, label)
                plan: dict[str, Descriptor] = {}
                for name, descriptor in named:
                    self._plan_import(archive, members, name, descriptor, plan, label)
                with self._gc_guard(exclusive=False):
                    for digest, blob in plan.items():
                        fill = functools.partial(_copy_member, archive, members[_member_of(digest)])
                        self.write_blob(blob, fill, what=f"{label}: blob {digest}")
                    self._register_many(named)
        except _IntegrityError as error:
            raise StoreError(str(error), input_error=True) from None
        except OCIError as error:
            raise StoreError(f"{label}: {error}", input_error=True) from None
        except (tarfile.TarError, EOFError, zlib.error) as error:
            raise StoreError(f"{label}: {_one_line(error)}", input_error=True) from None
        return named

    def _scan_archive(self, archive: tarfile.TarFile, label: str,
                      max_total_bytes: int) -> dict[str, tarfile.TarInfo]:
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
            limit = self.max_blob_bytes if name.startswith("blobs/") else MAX_MANIFEST_BYTES
            if info.size > limit:
                raise StoreError(f"{label}: member {info.name!r} is {info.size} bytes, more than "
                                 f"the {limit} allowed", input_error=True)
            total += info.size
            if total > max_total_bytes:
                raise StoreError(f"{label}: more than {max_total_bytes} bytes of content",
                                 input_error=True)
            members[name] = info
        return members

    def _plan_import(self, archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo],
                     name: str, descriptor: Descriptor, plan: dict[str, Descriptor],
                     label: str) -> None:
        what = f"{label}: image {name}"
        top = _archive_manifest(archive, members, descriptor, what)
        if not top.is_index:
            _plan_image(top, members, plan, what)
        else:
            complete = 0
            for entry in top.manifests():
                if _member_of(entry.digest) not in members:
                    continue  # a platform the archive leaves out, like a partial pull does
                if entry.media_type not in MANIFEST_TYPES:
                    raise StoreError(f"{what}: nested index {entry.digest} is not supported",
                                     input_error=True)
                child = _archive_manifest(archive, members, entry, what)
                _plan_image(child, members, plan, what)
                plan.setdefault(entry.digest, entry)
                complete += 1
            if not complete:
                raise StoreError(f"{what}: none of the index's manifests is in the archive",
                                 input_error=True)
        plan.setdefault(descriptor.digest, descriptor)

    def export_archive(self, ref: ImageRef | str, path: str | os.PathLike[str], *,
                       platform: Platform | None = None) -> Descriptor:
        """Write the image as an OCI layout tar that `import_archive`, `linuxkit cache import`,
        skopeo and docker can load; written atomically, with fixed metadata (reproducible)."""
        image, name = _reference(ref)
        descriptor = self.find(name)
        if descriptor is None:
            raise StoreError(f"image {name} is not in the cache {self.root}", input_error=True)
        _check_pinned(image, name, descriptor)
        top = self._load_manifest(name, descriptor)
        if isinstance(top, _Found):
            raise StoreError(f"image {name}: manifest {descriptor.digest} is missing from the cache")
        blobs: dict[str, Descriptor] = {descriptor.digest: descriptor}
        try:
            if top.is_index:
                for entry in top.manifests():
                    if entry.media_type not in MANIFEST_TYPES or not self._manifest_complete(name, entry):
                        continue
                    if platform is not None and not (entry.platform and platform.matches(entry.platform)):
                        continue
                    child = self._load_manifest(name, entry)
                    assert not isinstance(child, _Found)
                    blobs.setdefault(entry.digest, entry)
                    for blob in (child.config(), *child.layers()):
                        blobs.setdefault(blob.digest, blob)
                if len(blobs) == 1:
                    wanted = f" for {platform}" if platform else ""
                    raise StoreError(f"image {name}: no complete image{wanted} in the cache",
                                     input_error=True)
            else:
                for blob in (top.config(), *top.layers()):
                    if not self.has_blob(blob):
                        raise StoreError(f"image {name}: blob {blob.digest} is missing from the cache")
                    blobs.setdefault(blob.digest, blob)
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
        self._write_archive(Path(path), index_doc, blobs.values(), name)
        return descriptor

    def _write_archive(self, target: Path, index_doc: dict[str, Any],
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
                    _add_member(tar, LAYOUT_FILE, len(LAYOUT_BYTES), _bytes_reader(LAYOUT_BYTES))
                    index_bytes = json.dumps(index_doc, separators=(",", ":")).encode()
                    _add_member(tar, INDEX_FILE, len(index_bytes), _bytes_reader(index_bytes))
                    for blob in blobs:
                        with self.open_blob(blob, f"image {name}: blob {blob.digest}") as reader:
                            _add_member(tar, "blobs/sha256/" + blob.digest.split(":", 1)[1],
                                        blob.size, reader)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ ls, rm, gc

    def ls(self) -> list[ImageInfo]:
        result: list[ImageInfo] = []
        for entry in self.entries():
            name = _entry_name(entry)
            if name is None:
                continue
            try:
                descriptor = Descriptor.from_json(entry, f"cache entry for {name}")
            except OCIError:
                continue
            try:
                platforms = self._complete_platforms(name, descriptor)
            except (StoreError, OCIError):
                platforms = ()
            result.append(ImageInfo(name, descriptor.digest, descriptor.media_type,
                                    descriptor.size, platforms))
        return result

    def rm(self, ref: ImageRef | str) -> int:
        """Drop the image's root entry (blobs stay until `gc`); returns how many were dropped."""
        _, name = _reference(ref)
        if not self.exists():
            return 0
        removed = 0

        def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            nonlocal removed
            kept = [e for e in entries if _entry_name(e) != name]
            removed = len(entries) - len(kept)
            return kept

        self._update_index(change)
        return removed

    def gc(self) -> GcResult:
        """Delete blobs that no root entry reaches, and temporary files of crashed writers."""
        if not self.exists():
            return GcResult((), 0)
        removed: list[str] = []
        freed = 0
        with self._gc_guard(exclusive=True), self._index_lock():
            reachable = self._reachable()
            try:
                candidates = sorted(self.blobs_dir.iterdir()) if self.blobs_dir.is_dir() else []
                for path in candidates:
                    if _HEX64.match(path.name):
                        if "sha256:" + path.name in reachable:
                            continue
                    elif not path.name.startswith(_TMP_PREFIX):
                        continue  # not ours to judge
                    size = path.lstat().st_size
                    path.unlink()
                    if _HEX64.match(path.name):
                        removed.append("sha256:" + path.name)
                        freed += size
            except OSError as error:
                raise StoreError(f"gc of {self.root} stopped: {error.strerror or error}: "
                                 f"{error.filename}") from None
        return GcResult(tuple(removed), freed)

    def _reachable(self) -> set[str]:
        seen: set[str] = set()
        pending: list[Descriptor] = []
        for entry in self.entries():
            try:
                pending.append(Descriptor.from_json(entry))
            except OCIError as error:
                raise StoreError(f"gc refused: the cache index has an invalid entry: {error}") from None
        while pending:
            descriptor = pending.pop()
            if descriptor.digest in seen:
                continue
            seen.add(descriptor.digest)
            if descriptor.media_type not in _IMAGE_TYPES:
                continue
            try:
                data = self._read_blob(descriptor, MAX_MANIFEST_BYTES, "gc")
                if isinstance(data, _Found):
                    continue
                manifest = _manifest(data, descriptor, "gc")
                if manifest.is_index:
                    pending.extend(manifest.manifests())
                else:
                    pending.extend((manifest.config(), *manifest.layers()))
            except (StoreError, OCIError) as error:
                # Collecting around a manifest we cannot read could delete the layers it needs.
                raise StoreError(f"gc refused: cannot read manifest {descriptor.digest}: "
                                 f"{error}") from None
        return seen


# ---------------------------------------------------------------------- helpers


def _reference(ref: ImageRef | str) -> tuple[ImageRef, str]:
    if isinstance(ref, ImageRef):
        return ref, ref.expanded
    try:
        parsed = parse(ref)
    except ReferenceError as error:
        raise StoreError(f"invalid image reference {ref!r}: {error}", input_error=True) from None
    return parsed, parsed.expanded


def _index_entries(name: str, index: Manifest) -> list[Descriptor]:
    try:
        return index.manifests()
    except OCIError as error:
        raise StoreError(f"image {name}: {error}") from None


def _check_pinned(image: ImageRef, name: str, descriptor: Descriptor) -> None:
    # linuxkit trusts the entry's digest; an entry named `x@sha256:A` that points at B is a
    # tampered or broken cache, and using B would defeat the pin.
    if image.pinned and descriptor.digest != image.digest:
        raise StoreError(f"image {name}: the cache entry points to {descriptor.digest}, not to "
                         f"the pinned digest")


def _entry_name(entry: Mapping[str, Any]) -> str | None:
    annotations = entry.get("annotations")
    if isinstance(annotations, dict):
        name = annotations.get(REF_NAME_ANNOTATION)
        if isinstance(name, str):
            return name
    return None


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


def _manifest(data: bytes, descriptor: Descriptor, what: str) -> Manifest:
    media_type = detect_media_type(data, descriptor.media_type)
    if media_type != descriptor.media_type:
        # A blob that calls itself something else than its descriptor says is ambiguous; which
        # reading wins is exactly what an attacker would like to choose.
        raise StoreError(f"{what}: manifest {descriptor.digest} says it is {media_type}, its "
                         f"descriptor says {descriptor.media_type}")
    return Manifest(data, media_type, descriptor.digest)


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


def _parse_image_config(data: bytes, what: str) -> tuple[dict[str, Any], ImageConfig]:
    try:
        blob = json.loads(data)
    except ValueError as error:
        raise StoreError(f"{what}: the image config is not JSON: {error}") from None
    if not isinstance(blob, dict):
        raise StoreError(f"{what}: the image config is not a JSON object")
    config = blob.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise StoreError(f"{what}: the image config's `config` is not an object")
    # Go would refuse to decode these into linuxkit's structs; so do we.
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


def _platform_of(data: Mapping[str, Any]) -> Platform:
    variant = data.get("variant")
    return Platform(str(data.get("os", "")), str(data.get("architecture", "")),
                    variant if isinstance(variant, str) else "")


def _write_all(sink: BlobSink, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        sink.write(view[start:start + _CHUNK])


def _copy_from_source(source: ImageSource, image: ImageRef, blob: Descriptor,
                      sink: BlobSink) -> None:
    source.copy_blob(image, blob, sink)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _open_archive(path: str | os.PathLike[str], label: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as error:
        raise StoreError(f"{label}: cannot read it: {_one_line(error)}", input_error=True) from None


def _cause(error: BaseException, image: ImageRef) -> str:
    """The source's message without the image name it may start with (ours already names it)."""
    text = _one_line(error)
    for prefix in (image.original, image.expanded):
        if text.startswith(prefix + ": "):
            return text[len(prefix) + 2:]
    return text


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


def _json_member(archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo], name: str,
                 limit: int, label: str) -> dict[str, Any]:
    info = members.get(name)
    if info is None:
        raise StoreError(f"{label}: no {name} (not an OCI image layout archive)", input_error=True)
    data = _read_member(archive, info, limit, label)
    try:
        doc = json.loads(data)
    except ValueError as error:
        raise StoreError(f"{label}: {name} is not valid JSON: {error}", input_error=True) from None
    if not isinstance(doc, dict):
        raise StoreError(f"{label}: {name} is not a JSON object", input_error=True)
    return doc


def _check_layout_file(archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo],
                       label: str) -> None:
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
        if descriptor.media_type not in _IMAGE_TYPES:
            raise StoreError(f"{label}: image {name} has unsupported media type "
                             f"{descriptor.media_type!r}", input_error=True)
        named.append((name, Descriptor(descriptor.media_type, descriptor.digest, descriptor.size)))
    if not named:
        raise StoreError(f"{label}: no image names in index.json (needs the annotation "
                         f"{CONTAINERD_NAME_ANNOTATION} or a full reference in "
                         f"{REF_NAME_ANNOTATION})", input_error=True)
    return named


def _archive_manifest(archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo],
                      descriptor: Descriptor, what: str) -> Manifest:
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
        return _manifest(data, descriptor, what)
    except StoreError as error:
        error.input_error = True
        raise


def _plan_image(manifest: Manifest, members: Mapping[str, tarfile.TarInfo],
                plan: dict[str, Descriptor], what: str) -> None:
    try:
        blobs = [manifest.config(), *manifest.layers()]
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
    plan.setdefault(manifest.digest, manifest.descriptor())


def _copy_member(archive: tarfile.TarFile, info: tarfile.TarInfo, sink: BlobSink) -> None:
    stream = archive.extractfile(info)
    if stream is None:
        raise StoreError(f"cannot read archive member {info.name}", input_error=True)
    with stream:
        while chunk := stream.read(_CHUNK):
            sink.write(chunk)


def _bytes_reader(data: bytes) -> BinaryIO:
    return io.BytesIO(data)


def _add_member(tar: tarfile.TarFile, name: str, size: int, stream: BinaryIO | BlobReader) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, stream)
