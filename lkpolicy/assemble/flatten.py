"""An image's layers merged into one tar stream, as go-containerregistry's `mutate.Extract`.

Layers are read top-most first; the first occurrence of a name wins; a `.wh.` entry hides the
name it names; an entry below a whited-out or non-directory name of a higher layer is
skipped (spec section 3). Nothing is held in memory but the names seen so far: each layer is
decompressed and parsed while the caller consumes it.

Security. Nothing here (or anywhere in the build) extracts to disk: entries flow from tar to
tar, so link targets are data and are never followed or resolved. What would still make the
*output* dangerous to whoever unpacks it is refused:

* names containing NUL, names that still start with `..` after cleaning, and names that are
  only distinct because one is absolute (`/etc/x` and `etc/x`): absolute names are made
  relative, and a collision that creates is an error;
* hard-link targets that are absolute or climb out with `..` (linuxkit prefixes the target
  with the container's directory, so such a link would point outside it);
* entries below a symlink of the same image (the kernel follows that symlink when it unpacks
  the initrd, so the entry would land wherever the symlink points);
* device nodes, where the caller asks for that (container and volume content);
* more decompressed data than `Limits.max_image_bytes` (a decompression bomb) or more
  entries than `Limits.max_entries`.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lkpolicy.assemble.tarstream import (
    TarError,
    TarHeader,
    TarReader,
    pax_records,
)
from lkpolicy.gocompat import paths as gopath
from lkpolicy.store.errors import plain_reason

if TYPE_CHECKING:
    from lkpolicy.assemble.tarstream import Readable
    from lkpolicy.store.lookup import ResolvedImage, Store

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_MAX_IMAGE_BYTES", "FlattenError", "Limits", "flatten"]

DEFAULT_MAX_IMAGE_BYTES = 16 << 30
DEFAULT_MAX_ENTRIES = 2_000_000
_CHUNK = 1 << 20
_WHITEOUT = ".wh."
_ALLOWED_TYPES = frozenset("01234567")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
try:  # ISA-L inflates about twice as fast as zlib; the bytes out are the same.
    from isal import igzip as _igzip
    from isal import isal_zlib as _isal_zlib
    _DECOMPRESS_ERRORS += (_isal_zlib.error,)  # type: ignore[operator]
except ImportError:  # pragma: no cover - isal is a dependency
    _igzip = None  # type: ignore[assignment]


def _gunzip(raw: Readable) -> Readable:
    if _igzip is not None:
        return _igzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call]
    return gzip.GzipFile(fileobj=raw, mode="rb")


class FlattenError(Exception):
    """An image whose layers cannot (or must not) be flattened; the message names the layer."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    """Decompressed bytes, summed over all layers of one image."""
    max_entries: int = DEFAULT_MAX_ENTRIES
    """Distinct names (whiteouts included) in one image."""


class _Prefixed:
    """A stream with a few already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """For ISA-L's gzip reader, which reads with `readinto`."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)


class _Budget:
    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.used = 0
        self.what = what


class _Counted:
    """Decompressed data, counted against the image's budget before it is handed on."""

    def __init__(self, inner: Readable, budget: _Budget, layer: str) -> None:
        self._inner = inner
        self._budget = budget
        self._layer = layer

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > _CHUNK:
            size = _CHUNK
        try:
            data = self._inner.read(size)
        except _DECOMPRESS_ERRORS as error:
            raise FlattenError(f"{self._layer}: cannot decompress: {plain_reason(error)}") from None
        self._budget.used += len(data)
        if self._budget.used > self._budget.limit:
            raise FlattenError(
                f"{self._layer}: more than {self._budget.limit} bytes after decompression "
                f"(the limit for one image; a decompression bomb?)")
        return data


def _decompressed(blob: Readable, budget: _Budget, layer: str) -> Readable:
    head = blob.read(4)
    raw = _Prefixed(head, blob)
    if head.startswith(_GZIP_MAGIC):
        return _Counted(_gunzip(raw), budget, layer)
    if head.startswith(_ZSTD_MAGIC):
        raise FlattenError(f"{layer}: zstd-compressed layers are not supported")
    return _Counted(raw, budget, layer)


def _ancestors(name: str) -> Iterator[str]:
    index = name.find("/")
    while index >= 0:
        yield name[:index]
        index = name.find("/", index + 1)


class _State:
    """What `mutate.Extract` remembers across layers, plus what the safety checks need."""

    def __init__(self, limits: Limits, allow_devices: bool, what: str) -> None:
        self.limits = limits
        self.allow_devices = allow_devices
        self.what = what
        self.seen: dict[str, bool] = {}
        """Name -> whether it hides what lies below it (whiteout or non-directory)."""
        self.spelled: dict[str, str] = {}
        self.symlinks: set[str] = set()
        self.parents: set[str] = set()

    def _hidden_by_parent(self, name: str) -> bool:
        current = name
        while current:
            parent = gopath.dir_name(current)
            if parent == current:
                return False
            if self.seen.get(parent):
                return True
            current = parent
        return False

    def admit(self, header: TarHeader, layer: str) -> TarHeader | None:
        """The header to emit (name normalised, PAX records as Go re-reads them), or None."""
        where = f"{layer}: entry {header.name!r}"
        if header.typeflag == "g":
            raise FlattenError(f"{layer}: global PAX headers are not supported")
        if "\x00" in header.name:
            raise FlattenError(f"{where}: name contains NUL")
        cleaned = gopath.clean(header.name)
        name = cleaned.lstrip("/") or "."
        if name == ".." or name.startswith("../"):
            raise FlattenError(f"{where}: name leaves the image root")
        first = self.spelled.setdefault(name, cleaned)
        if first != cleaned:
            raise FlattenError(f"{where}: collides with {first!r} once made relative")
        base, directory = gopath.base_name(name), gopath.dir_name(name)
        tombstone = base.startswith(_WHITEOUT)
        if tombstone:
            base = base[len(_WHITEOUT):]
        key = name if header.typeflag == "5" else gopath.join(directory, base)
        if key in self.seen or self._hidden_by_parent(key):
            return None
        if len(self.seen) >= self.limits.max_entries:
            raise FlattenError(f"{layer}: more than {self.limits.max_entries} entries")
        self.seen[key] = tombstone or header.typeflag != "5"
        if tombstone:
            return None
        return self._checked(header, name, where)

    def _checked(self, header: TarHeader, name: str, where: str) -> TarHeader:
        if header.typeflag not in _ALLOWED_TYPES:
            raise FlattenError(f"{where}: unsupported entry type {header.typeflag!r}")
        if not header.has_body and header.size > 0:
            raise FlattenError(f"{where}: archive/tar: write too long")
        if header.typeflag in "34" and not self.allow_devices:
            raise FlattenError(f"{where}: device nodes are not allowed in this image")
        if "\x00" in header.linkname:
            raise FlattenError(f"{where}: link target contains NUL")
        if header.typeflag == "1":
            target = gopath.clean(header.linkname)
            if target.startswith("/") or target == ".." or target.startswith("../"):
                raise FlattenError(f"{where}: hard link target {header.linkname!r} "
                                   "leaves the image root")
        for parent in _ancestors(name):
            if parent in self.symlinks:
                raise FlattenError(f"{where}: lies below the symlink {parent!r}")
        if header.typeflag == "2":
            if name == "." or name in self.parents:
                raise FlattenError(f"{where}: a symlink over a directory with entries")
            self.symlinks.add(name)
        self.parents.update(_ancestors(name))
        result = header.copy(name=name)
        # mutate.Extract writes the entry with Go's tar writer and linuxkit reads it back:
        # the records it then sees are the ones that writer produced.
        try:
            result.pax = pax_records(result)
        except TarError as error:
            raise FlattenError(f"{where}: {error}") from None
        return result


def flatten(store: Store, image: ResolvedImage, *, what: str | None = None,
            limits: Limits | None = None,
            allow_devices: bool = True) -> Iterator[tuple[TarHeader, Readable]]:
    """Yield (header, body reader) for each entry of the flattened image.

    The body must be consumed (or abandoned) before the next item is requested. Raises
    `FlattenError` for hostile or unreadable layers and `StoreError` for corrupt blobs (a
    layer's digest is checked when its last byte has been read, so a caller streaming into
    an output must discard that output on error).
    """
    label = what or f"image {image.name}"
    state = _State(limits or Limits(), allow_devices, label)
    budget = _Budget(state.limits.max_image_bytes, label)
    for layer in reversed(image.layers):
        layer_label = f"{label}: layer {layer.digest}"
        with store.open_blob(layer, layer_label) as blob:
            stream = _decompressed(blob, budget, layer_label)
            reader = TarReader(stream)
            while True:
                try:
                    header = reader.next()
                except TarError as error:
                    raise FlattenError(f"{layer_label}: {error}") from None
                if header is None:
                    break
                admitted = state.admit(header, layer_label)
                if admitted is not None:
                    yield admitted, reader
            # Read to the end so that the blob's digest is checked even when the tar ends
            # before the compressed data does.
            while stream.read(_CHUNK):
                pass
            while blob.read(_CHUNK):
                pass
