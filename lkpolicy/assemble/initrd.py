"""From the build tar to the initrd: a newc cpio, gzip-compressed (spec section 5).

linuxkit walks the tar in order: `boot/kernel`, `boot/cmdline` and `boot/ucode.cpio` are taken
out (the last of each wins), every other `boot/...` name is dropped, and everything else
becomes one cpio entry. Inode numbers start at 721, the device is always 3/1, hard links
become relative symlinks, PAX records are not carried over, and the archive is padded to a
multiple of 512 bytes after the trailer.

Compression (spec section 5.1: any conforming gzip decoder must read it; linuxkit's pgzip bytes
are not reproduced) is one gzip member, which the kernel's initramfs unpacker needs: it inflates
one member at a time and requires each to end on a cpio boundary, so a multi-member stream cut
at arbitrary offsets would not boot. `compression_level` follows gzip's scale: levels 1-3 use
ISA-L (the `isal` package), 4-9 libdeflate (the `deflate` package, see `blockgzip`), 9 giving
the smallest output. Both compress pigz's way, with one thread per CPU: the data is cut into
blocks of 1 MiB, each compressed on its own (ISA-L with the previous 32 KiB as its dictionary
and a sync flush; libdeflate without one, its streams joined as zlib's gzjoin does), and the
blocks are written in order as one member, so the bytes do not depend on the thread count.
Without the package, a level falls back to the standard library's zlib at the same level,
single-threaded, with a log line: the output is equally valid but not the same bytes.
The gzip header is always `1f 8b 08 00 00000000 00 ff` (no name, mtime 0, XFL 0, OS 255).

The conversion is push-based (`InitrdWriter` is an `EntrySink`): the build writes its entries
straight into it, so the initrd never waits for a tar on disk. `tar_to_cpio` feeds it from a
tar stream (linuxkit's own tar, in the tests).

Go writes the header fields with `%08x`, so values that do not fit (mtimes after 2106,
negative mtimes, ids of 2^32 and more) would corrupt the archive; they are refused here.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lkpolicy.assemble import blockgzip
from lkpolicy.assemble.tarreader import TarReader
from lkpolicy.assemble.tarstream import (
    EntryWriter,
    Readable,
    TarError,
    TarHeader,
    copy_body,
)
from lkpolicy.gocompat import paths as gopath

__all__ = ["DEFAULT_COMPRESSION_LEVEL", "FIRST_INODE", "SMALLEST_COMPRESSION_LEVEL",
           "ConversionError", "InitrdParts", "InitrdWriter", "initrd_writer", "tar_to_cpio",
           "write_initrd"]

DEFAULT_COMPRESSION_LEVEL = 1
"""Fast: with ISA-L about 20x quicker than `gzip -6`, for an output about 15% larger."""
SMALLEST_COMPRESSION_LEVEL = 9
_ISAL_MAX_LEVEL = 3
_BLOCK = 1 << 20
_MAX_THREADS = 8
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
log = logging.getLogger(__name__)

FIRST_INODE = 721
_MAX_SMALL = 256 << 20
_FIELD_NAMES = ("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor",
                "devminor", "rdevmajor", "rdevminor", "namesize", "check")
_NEWC_HEADER = b"070701" + b"%08x" * len(_FIELD_NAMES)
_TYPE_BITS = {"0": 0o100000, "5": 0o040000, "2": 0o120000, "3": 0o020000, "4": 0o060000,
              "6": 0o010000}


class ConversionError(Exception):
    """The tar cannot become a cpio; `str()` is linuxkit's message or says which field."""


@dataclass(slots=True)
class InitrdParts:
    cmdline: bytes = b""
    ucode: bytes = b""
    kernel_size: int = 0
    entries: int = 0
    """cpio entries written, the trailer included."""
    dropped: list[str] = field(default_factory=list)
    """`boot/...` names left out of the cpio."""


class _CpioWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.inode = FIRST_INODE
        self.length = 0
        self.entries = 0

    def put(self, data: bytes) -> None:
        self._out.write(data)
        self.length += len(data)

    def pad(self) -> None:
        if self.length % 4:
            self.put(bytes(4 - self.length % 4))

    def header(self, name: str, mode: int, uid: int, gid: int, nlink: int, mtime: int,
               size: int, rdevmajor: int = 0, rdevminor: int = 0) -> None:
        raw_name = name.encode("utf-8", "surrogateescape") + b"\x00"
        fields = (self.inode, mode, uid, gid, nlink, mtime, size, 3, 1, rdevmajor, rdevminor,
                  len(raw_name), 0)
        if min(fields) < 0 or max(fields) > 0xFFFFFFFF:
            for value, what in zip(fields, _FIELD_NAMES, strict=True):
                if not 0 <= value <= 0xFFFFFFFF:
                    raise ConversionError(f"cannot convert tar file: {name}: {what} {value} "
                                          "does not fit a newc header")
        self.put(_NEWC_HEADER % fields + raw_name)
        self.pad()
        self.inode += 1
        self.entries += 1

    def body(self, data: bytes) -> None:
        self.put(data)
        self.pad()

    def finish(self) -> None:
        self.header("TRAILER!!!", 0, 0, 0, 1, 0, 0)
        if self.length % 512:
            self.put(bytes(512 - self.length % 512))


class InitrdWriter(EntryWriter):
    """The build stream converted to the initrd as it is written: `boot/kernel` goes to
    `kernel_out` (which must be seekable: a later `boot/kernel` replaces an earlier one),
    `boot/cmdline` and `boot/ucode.cpio` are kept in `parts`, other `boot/...` names are
    dropped, everything else becomes a cpio entry in `cpio_out`. Headers are checked as Go's
    tar writer checks them (`EntryWriter`), since linuxkit converts the tar it wrote."""

    def __init__(self, cpio_out: BinaryIO, kernel_out: BinaryIO) -> None:
        super().__init__()
        self._cpio = _CpioWriter(cpio_out)
        self._kernel = kernel_out
        self.parts = InitrdParts()
        self._sink: Callable[[bytes], None] = _drop
        self._small: bytearray | None = None
        self._small_name = ""
        self._padded = False

    def _start(self, header: TarHeader, pax_data: bytes) -> None:
        self._route(header)

    def _route(self, header: TarHeader) -> None:
        name = header.name
        self._sink, self._small, self._padded = _drop, None, False
        if name == "boot/kernel":
            self._kernel.seek(0)
            self._kernel.truncate()
            self.parts.kernel_size = 0
            self._sink = self._to_kernel
        elif name in ("boot/cmdline", "boot/ucode.cpio"):
            self._small, self._small_name = bytearray(), name
            self._sink = self._to_small
        elif name.startswith("boot/"):
            self.parts.dropped.append(name)
        elif _convert_header(self._cpio, header):
            self._sink, self._padded = self._cpio.put, True

    def _to_kernel(self, data: bytes) -> None:
        self._kernel.write(data)
        self.parts.kernel_size += len(data)

    def _to_small(self, data: bytes) -> None:
        assert self._small is not None
        if len(self._small) + len(data) > _MAX_SMALL:
            raise ConversionError(f"{self._small_name} is larger than {_MAX_SMALL} bytes")
        self._small.extend(data)

    def _body(self, data: bytes) -> None:
        self._sink(data)

    def _end(self) -> None:
        if self._padded:
            self._cpio.pad()
        elif self._small is not None:
            if self._small_name == "boot/cmdline":
                self.parts.cmdline = bytes(self._small)
            else:
                self.parts.ucode = bytes(self._small)
        self._sink, self._small, self._padded = _drop, None, False

    def _close(self) -> None:
        self._cpio.finish()
        self.parts.entries = self._cpio.entries

    def convert(self, header: TarHeader, body: Readable) -> None:
        """One entry as a tar reader returns it (linuxkit's tar), without the writer's
        checks: a reader accepts more than Go's writer writes."""
        self._finish_entry()
        self._route(header)
        self.count += 1
        self._remaining = header.size if header.has_body else 0
        copy_body(body, self._remaining, self.write)


def _drop(_data: bytes) -> None:
    pass


def _convert_header(cpio: _CpioWriter, header: TarHeader) -> bool:
    """Write the cpio header of a tar entry (and the body of a link); True if the entry's
    tar body follows as its cpio body."""
    permissions = header.mode & 0o7777
    typeflag = header.typeflag
    if typeflag == "1":
        try:
            relative = gopath.rel(gopath.dir_name(header.name), header.linkname)
        except ValueError as error:
            raise ConversionError(str(error)) from None
        target = relative.encode("utf-8", "surrogateescape")
        cpio.header(header.name, (header.mode & 0o777) | 0o120000, header.uid, header.gid, 1,
                    header.mtime, len(target))
        cpio.body(target)
        return False
    bits = _TYPE_BITS.get(typeflag)
    if bits is None:
        raise ConversionError("cannot convert tar file")
    mode = permissions | bits
    if typeflag == "0":
        cpio.header(header.name, mode, header.uid, header.gid, 1, header.mtime, header.size)
        return True
    if typeflag == "2":
        target = header.linkname.encode("utf-8", "surrogateescape")
        cpio.header(header.name, mode, header.uid, header.gid, 1, header.mtime, len(target))
        cpio.body(target)
    elif typeflag == "5":
        cpio.header(header.name, mode, header.uid, header.gid, 2, header.mtime, 0)
    else:
        cpio.header(header.name, mode, header.uid, header.gid, 1, header.mtime, 0,
                    header.devmajor, header.devminor)
    return False


def tar_to_cpio(tar_stream: Readable, cpio_out: BinaryIO, kernel_out: BinaryIO) -> InitrdParts:
    """Convert a build tar into an uncompressed newc cpio; the kernel goes to `kernel_out`
    (seekable, see `InitrdWriter`)."""
    writer = InitrdWriter(cpio_out, kernel_out)
    _feed(tar_stream, writer)
    return writer.parts


def _feed(tar_stream: Readable, writer: InitrdWriter) -> None:
    reader = TarReader(tar_stream)
    try:
        while (header := reader.next()) is not None:
            writer.convert(header, reader)
        writer.close()
    except TarError as error:
        raise ConversionError(f"cannot convert tar file: {error}") from None


class _FixedHeader:
    """Passes writes through, replacing the 10-byte gzip header ISA-L's threaded writer
    writes first (it puts OS 255 in the XFL byte) by `_HEADER`."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._first = True

    def write(self, data: bytes) -> int:
        if self._first:
            self._first = False
            if bytes(data[:4]) != _HEADER[:4] or len(data) != len(_HEADER):
                raise ValueError("unexpected gzip header from the threaded compressor")
            self._out.write(_HEADER)
            return len(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


def _threads() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(count, _MAX_THREADS))


def _threaded_writer(gzip_out: BinaryIO, level: int) -> BinaryIO | None:
    """pigz's method from ISA-L (levels 1-3) or libdeflate (4-9); None when what it needs is
    missing (said in a log line)."""
    if level > _ISAL_MAX_LEVEL:
        missing = blockgzip.unavailable()
        if missing is None:
            writer = blockgzip.open_writer(gzip_out, level, _threads(), _HEADER)
            return writer  # type: ignore[return-value]
        log.warning("%s: compressing the initrd with zlib at level %d, single-threaded "
                    "(valid, slower, different bytes)", missing, level)
        return None
    try:
        threaded = importlib.import_module("isal.igzip_threaded")
    except ImportError:
        log.warning("the isal package is not installed: compressing the initrd with zlib at "
                    "level %d, single-threaded (valid, slower, different bytes)", level)
        return None
    isal_writer: BinaryIO = threaded.open(
        _FixedHeader(gzip_out), "wb", compresslevel=level, threads=_threads(),
        block_size=_BLOCK)
    return isal_writer


@contextlib.contextmanager
def initrd_writer(gzip_out: BinaryIO, kernel_out: BinaryIO, *,
                  compression_level: int = DEFAULT_COMPRESSION_LEVEL) -> Iterator[InitrdWriter]:
    """An `InitrdWriter` whose cpio is gzip-compressed into `gzip_out` (without the ucode
    prefix) as one member at `compression_level` (1 fastest ... 9 smallest; see the module
    docstring). The cpio is finished when the block ends without an error."""
    if not 1 <= compression_level <= 9:
        raise ValueError(f"compression level must be 1 to 9, not {compression_level}")
    # No file name and mtime 0 in the gzip header (`_HEADER`): the output must not depend on
    # where or when it was built.
    threaded = _threaded_writer(gzip_out, compression_level)
    compressed = threaded if threaded is not None else _ZlibGzip(gzip_out, compression_level)
    try:
        with compressed:
            writer = InitrdWriter(compressed, kernel_out)  # type: ignore[arg-type]
            yield writer
            writer.close()
    except blockgzip.CompressionError as error:
        raise ConversionError(f"compressing the initrd: {error}") from None


def write_initrd(tar_stream: Readable, gzip_out: BinaryIO, kernel_out: BinaryIO, *,
                 compression_level: int = DEFAULT_COMPRESSION_LEVEL) -> InitrdParts:
    """Convert a build tar and gzip-compress the cpio into `gzip_out` (see `initrd_writer`)."""
    with initrd_writer(gzip_out, kernel_out, compression_level=compression_level) as writer:
        _feed(tar_stream, writer)
    return writer.parts


class _ZlibGzip:
    """One gzip member written with the standard library's zlib, headed by `_HEADER`."""

    def __init__(self, out: BinaryIO, level: int) -> None:
        self._out = out
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        out.write(_HEADER)

    def write(self, data: bytes) -> int:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._out.write(self._deflate.compress(data))
        return len(data)

    def __enter__(self) -> _ZlibGzip:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._out.write(self._deflate.flush())
        self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
