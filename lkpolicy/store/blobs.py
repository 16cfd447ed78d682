"""Blobs of the cache (`blobs/sha256/<hex>`), read and written only verified.

Every blob that is read is checked against its digest and size, and every blob that is written
is checked while it streams into a temporary file that is only then renamed into place, so a
reader never sees a partial or unverified blob under a digest name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from lkpolicy.model.oci import (
    Descriptor,
    OCIError,
    check_digest_syntax,
    sha256_digest,
    verify_bytes,
)
from lkpolicy.store.errors import IntegrityError, StoreError
from lkpolicy.store.location import default_cache_dir

DEFAULT_MAX_BLOB_BYTES = 16 * 1024**3
"""No single layer of a bootable LinuxKit image comes near this; a hostile manifest could claim more."""
CHUNK_BYTES = 1024 * 1024
"""How much of a blob is read or written at a time."""
TEMP_PREFIX = ".lkpolicy-"
"""Blobs being written are `blobs/sha256/.lkpolicy-*.tmp`; `gc` removes those a crash left."""
GC_LOCK_FILE = ".lkpolicy-gc.lock"


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
            raise IntegrityError(f"{self._what}: more data than the declared size "
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
            raise IntegrityError(f"{self._what}: got {self._count} bytes, expected "
                                 f"{self._descriptor.size}")
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._descriptor.digest:
            raise IntegrityError(f"{self._what}: digest mismatch: expected "
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


def open_lock_file(root: Path, name: str) -> int:
    """The descriptor of lock file `name` in the cache `root` (both created if missing)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        return os.open(root / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise StoreError(f"cannot lock the cache {root}: {error.strerror or error}") from None


def write_all(sink: BlobSink, data: bytes) -> None:
    """Feed bytes already in memory to a sink, a chunk at a time."""
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_BYTES):
        sink.write(view[start:start + CHUNK_BYTES])


class BlobStore:
    """The blobs of a cache directory; `Store` adds the root index and the lookup rules."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> None:
        self.root = default_cache_dir(root)
        self.max_blob_bytes = max_blob_bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs" / "sha256"

    def blob_path(self, digest: str) -> Path:
        try:
            check_digest_syntax(digest)
        except OCIError as error:
            raise StoreError(str(error)) from None
        return self.blobs_dir / digest.split(":", 1)[1]

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

    def read_blob(self, descriptor: Descriptor, limit: int, what: str) -> bytes | None:
        """A small blob (manifest, config), verified; None if it is not in the cache.

        `StoreError` if it is larger than `limit`, is not a regular file or does not match."""
        if descriptor.size > limit:
            raise StoreError(f"{what}: blob {descriptor.digest} is {descriptor.size} bytes, "
                             f"more than the {limit} allowed")
        stream = self._open_blob_file(descriptor, what)
        if stream is None:
            return None
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

    def write_blob(self, descriptor: Descriptor, fill: Callable[[BlobSink], None], *,
                   what: str | None = None, verify_existing: bool = False) -> bool:
        """Store a blob that `fill` writes into the sink it is given; True if it was written.

        The data goes to a temporary file in the blobs directory, is verified while it streams,
        and is renamed into place only when complete and correct. Writers that register what
        they write hold `gc_guard` around both.
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
            fd, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=self.blobs_dir)
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

    def write_bytes(self, data: bytes, descriptor: Descriptor, *,
                    verify_existing: bool = False) -> bool:
        """`write_blob` for bytes already in memory (a manifest); True if it was written."""
        return self.write_blob(descriptor, lambda sink: write_all(sink, data),
                               verify_existing=verify_existing)

    def add_blob(self, data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
        descriptor = Descriptor(media_type, sha256_digest(data), len(data))
        self.write_bytes(data, descriptor)
        return descriptor

    def _blob_intact(self, descriptor: Descriptor) -> bool:
        try:
            with self.open_blob(descriptor) as reader:
                while reader.read(CHUNK_BYTES):
                    pass
        except StoreError:
            return False
        return True

    @contextlib.contextmanager
    def gc_guard(self, *, exclusive: bool) -> Iterator[None]:
        """Writers hold it shared from their first blob to their index update, so that `gc`
        (exclusive) never deletes a blob that is written but not yet referenced. lkpolicy-only,
        hence `flock`, which unlike POSIX locks is not dropped when another descriptor closes."""
        fd = open_lock_file(self.root, GC_LOCK_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)
