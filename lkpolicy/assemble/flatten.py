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
* decompression bombs: each build has a budget (`Limits`, shared by every image of the
  build through one `Budget`) of decompressed bytes, of tar entries, and of the ratio of a
  layer's decompressed size to its compressed size. The defaults are far above what real
  LinuxKit images reach (the largest, kernels and firmware, expand about 4 times, and whole
  builds stay under 2 GiB), and each is an option of `lkpolicy build`.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lkpolicy.assemble.tarreader import TarReader
from lkpolicy.assemble.tarstream import (
    TarError,
    TarHeader,
    pax_records,
)
from lkpolicy.gocompat import paths as gopath
from lkpolicy.store.errors import plain_reason

if TYPE_CHECKING:
    from lkpolicy.assemble.tarstream import Readable
    from lkpolicy.store.lookup import ResolvedImage, Store

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_MAX_EXPANDED_BYTES", "DEFAULT_MAX_RATIO", "RATIO_FLOOR",
           "Budget", "FlattenError", "Limits", "flatten", "parse_size"]

DEFAULT_MAX_EXPANDED_BYTES = 8 << 30
DEFAULT_MAX_ENTRIES = 1_000_000
DEFAULT_MAX_RATIO = 100
RATIO_FLOOR = 64 << 20
"""Every layer may expand to this much whatever its ratio (small layers of a few sparse or
zero-filled files have huge ratios and are harmless)."""
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_CHUNK = 1 << 20
_WHITEOUT = ".wh."
_ALLOWED_TYPES = frozenset("01234567")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
try:  # ISA-L inflates about twice as fast as zlib; the bytes out are the same.
    from isal import igzip as _igzip
    from isal import igzip_threaded as _igzip_threaded
    from isal import isal_zlib as _isal_zlib
    _DECOMPRESS_ERRORS += (_isal_zlib.error,)  # type: ignore[operator]
except ImportError:  # pragma: no cover - isal is a dependency
    _igzip = _igzip_threaded = None  # type: ignore[assignment]
_THREADED_LAYER_BYTES = 4 << 20
"""Compressed size from which a layer is inflated in a thread of its own."""


def _gunzip(raw: Readable, size: int) -> Readable:
    if _igzip is None:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if size < _THREADED_LAYER_BYTES:
        return _igzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call]
    # A large layer is inflated in a thread of its own (ISA-L releases the GIL) while this
    # one parses the tar and feeds the outputs; a bounded queue of 1 MiB blocks sits between.
    return _igzip_threaded.open(  # type: ignore[no-any-return, no-untyped-call]
        raw, "rb", threads=1, block_size=_CHUNK)


class FlattenError(Exception):
    """An image whose layers cannot (or must not) be flattened; the message names the layer."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The expansion budget of one build (`lkpolicy build --max-expanded-size`,
    `--max-entries`, `--max-expansion-ratio`)."""

    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES
    """Decompressed bytes, summed over every layer of every image of the build."""
    max_entries: int = DEFAULT_MAX_ENTRIES
    """Tar entries read from layers (hidden and whiteout entries included), over the build."""
    max_ratio: int = DEFAULT_MAX_RATIO
    """Decompressed bytes of one layer per compressed byte, once past `RATIO_FLOOR`."""


class Budget:
    """What the build has used of its `Limits` so far; one per build, shared by its images."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.expanded = 0
        self.entries = 0

    def charge_entry(self, layer: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise FlattenError(f"{layer}: more than {self.limits.max_entries} tar entries in "
                               "the images of this build (the limit is --max-entries)")

    def charge_bytes(self, count: int, layer_total: int, layer_size: int, layer: str) -> None:
        """`count` more decompressed bytes, `layer_total` so far from a layer of
        `layer_size` compressed bytes."""
        self.expanded += count
        limits = self.limits
        if self.expanded > limits.max_expanded_bytes:
            raise FlattenError(
                f"{layer}: the images of this build expand to more than "
                f"{limits.max_expanded_bytes} bytes (the limit is --max-expanded-size; a "
                "decompression bomb?)")
        if layer_total > RATIO_FLOOR and layer_total > limits.max_ratio * layer_size:
            raise FlattenError(
                f"{layer}: expands to more than {limits.max_ratio} times its compressed size "
                f"of {layer_size} bytes (the limit is --max-expansion-ratio; a decompression "
                "bomb?)")


def parse_size(text: str) -> int:
    """A byte count as an option gives it: digits with an optional K, M, G or T (powers of
    1024, an optional `i`/`iB`/`B` after it), e.g. `8G`, `512MiB`, `1073741824`."""
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = cleaned.rstrip("KMGT"), cleaned[len(cleaned.rstrip("KMGT")):]
    if not number.isdigit() or unit not in _SIZE_UNITS or len(number) > 20:
        raise ValueError(f"not a size: {text!r} (a number of bytes, or with K, M, G or T)")
    return int(number) * _SIZE_UNITS[unit]


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


class _Counted:
    """Decompressed data, counted against the build's budget before it is handed on."""

    def __init__(self, inner: Readable, budget: Budget, layer: str, size: int) -> None:
        self._inner = inner
        self._budget = budget
        self._layer = layer
        self._size = size
        self._total = 0

    def close(self) -> None:
        """Stops the decompressing thread, if there is one (a failed build stops reading)."""
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > _CHUNK:
            size = _CHUNK
        try:
            data = self._inner.read(size)
        except _DECOMPRESS_ERRORS as error:
            raise FlattenError(f"{self._layer}: cannot decompress: {plain_reason(error)}") from None
        self._total += len(data)
        self._budget.charge_bytes(len(data), self._total, self._size, self._layer)
        return data


def _decompressed(blob: Readable, budget: Budget, layer: str, size: int) -> _Counted:
    head = blob.read(4)
    raw = _Prefixed(head, blob)
    if head.startswith(_GZIP_MAGIC):
        return _Counted(_gunzip(raw, size), budget, layer, size)
    if head.startswith(_ZSTD_MAGIC):
        raise FlattenError(f"{layer}: zstd-compressed layers are not supported")
    return _Counted(raw, budget, layer, size)


def _ancestors(name: str) -> Iterator[str]:
    index = name.find("/")
    while index >= 0:
        yield name[:index]
        index = name.find("/", index + 1)


class _State:
    """What `mutate.Extract` remembers across layers, plus what the safety checks need."""

    def __init__(self, allow_devices: bool, what: str) -> None:
        self.allow_devices = allow_devices
        self.what = what
        self.seen: dict[str, bool] = {}
        """Name -> whether it hides what lies below it (whiteout or non-directory)."""
        self.spelled: dict[str, str] = {}
        self.symlinks: set[str] = set()
        self.parents: set[str] = set()

    def _hidden_by_parent(self, name: str) -> bool:
        # `name` is clean and relative: its parents are "." and its prefixes up to each slash.
        if name == ".":
            return False
        seen = self.seen
        return bool(seen.get(".")) or any(seen.get(parent) for parent in _ancestors(name))

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
        base = gopath.base_name(name)
        tombstone = base.startswith(_WHITEOUT)
        # A clean name is its directory joined with its base: only a whiteout changes the key.
        key = name
        if tombstone and header.typeflag != "5":
            key = gopath.join(gopath.dir_name(name), base[len(_WHITEOUT):])
        if key in self.seen or self._hidden_by_parent(key):
            return None
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
        result = header.copy()
        result.name = name
        # mutate.Extract writes the entry with Go's tar writer and linuxkit reads it back:
        # the records it then sees are the ones that writer produced.
        try:
            result.pax = pax_records(result)
        except TarError as error:
            raise FlattenError(f"{where}: {error}") from None
        return result


def flatten(store: Store, image: ResolvedImage, *, what: str | None = None,
            budget: Budget | None = None,
            allow_devices: bool = True) -> Iterator[tuple[TarHeader, Readable]]:
    """Yield (header, body reader) for each entry of the flattened image.

    The body must be consumed (or abandoned) before the next item is requested. Raises
    `FlattenError` for hostile or unreadable layers and `StoreError` for corrupt blobs (a
    layer's digest is checked when its last byte has been read, so a caller streaming into
    an output must discard that output on error).
    """
    label = what or f"image {image.name}"
    state = _State(allow_devices, label)
    budget = budget or Budget(Limits())
    for layer in reversed(image.layers):
        layer_label = f"{label}: layer {layer.digest}"
        with store.open_blob(layer, layer_label) as blob, \
                contextlib.closing(_decompressed(blob, budget, layer_label,
                                                 layer.size)) as stream:
            reader = TarReader(stream)
            while True:
                try:
                    header = reader.next()
                except TarError as error:
                    raise FlattenError(f"{layer_label}: {error}") from None
                if header is None:
                    break
                budget.charge_entry(layer_label)
                admitted = state.admit(header, layer_label)
                if admitted is not None:
                    yield admitted, reader
            # Read to the end so that the blob's digest is checked even when the tar ends
            # before the compressed data does.
            while stream.read(_CHUNK):
                pass
            while blob.read(_CHUNK):
                pass
