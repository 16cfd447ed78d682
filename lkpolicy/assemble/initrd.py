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
ISA-L (the `isal` package) with one thread per CPU (blocks of 1 MiB, each primed with the
previous 32 KiB, so the bytes do not depend on the thread count); 4-9 use the standard library's
zlib, single-threaded, 9 giving the smallest output. Without `isal`, levels 1-3 fall back to
zlib at the same level, with a log line: the output is equally valid but not the same bytes.
The gzip header is always `1f 8b 08 00 00000000 00 ff` (no name, mtime 0, XFL 0, OS 255).

Go writes the header fields with `%08x`, so values that do not fit (mtimes after 2106,
negative mtimes, ids of 2^32 and more) would corrupt the archive; they are refused here.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from lkpolicy.assemble.tarstream import Readable, TarError, TarHeader, TarReader
from lkpolicy.gocompat import paths as gopath

__all__ = ["DEFAULT_COMPRESSION_LEVEL", "FIRST_INODE", "SMALLEST_COMPRESSION_LEVEL",
           "ConversionError", "InitrdParts", "tar_to_cpio", "write_initrd"]

DEFAULT_COMPRESSION_LEVEL = 1
"""Fast: with ISA-L about 20x quicker than `gzip -6`, for an output about 15% larger."""
SMALLEST_COMPRESSION_LEVEL = 9
_ISAL_MAX_LEVEL = 3
_BLOCK = 1 << 20
_MAX_THREADS = 8
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
log = logging.getLogger(__name__)

FIRST_INODE = 721
_CHUNK = 1 << 16
_MAX_SMALL = 256 << 20
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

    def _put(self, data: bytes) -> None:
        self._out.write(data)
        self.length += len(data)

    def _pad(self) -> None:
        if self.length % 4:
            self._put(bytes(4 - self.length % 4))

    def header(self, name: str, mode: int, uid: int, gid: int, nlink: int, mtime: int,
               size: int, rdevmajor: int = 0, rdevminor: int = 0) -> None:
        raw_name = name.encode("utf-8", "surrogateescape") + b"\x00"
        fields = (self.inode, mode, uid, gid, nlink, mtime, size, 3, 1, rdevmajor, rdevminor,
                  len(raw_name), 0)
        for value, what in zip(fields, ("ino", "mode", "uid", "gid", "nlink", "mtime",
                                        "filesize", "devmajor", "devminor", "rdevmajor",
                                        "rdevminor", "namesize", "check"), strict=True):
            if not 0 <= value <= 0xFFFFFFFF:
                raise ConversionError(f"cannot convert tar file: {name}: {what} {value} does "
                                      "not fit a newc header")
        self._put(b"070701" + b"".join(b"%08x" % value for value in fields) + raw_name)
        self._pad()
        self.inode += 1
        self.entries += 1

    def body(self, data: bytes) -> None:
        self._put(data)
        self._pad()

    def stream(self, source: Readable, size: int) -> None:
        left = size
        while left:
            chunk = source.read(min(left, _CHUNK))
            if not chunk:
                raise ConversionError("cannot convert tar file: truncated entry")
            self._put(chunk)
            left -= len(chunk)
        self._pad()

    def finish(self) -> None:
        self.header("TRAILER!!!", 0, 0, 0, 1, 0, 0)
        if self.length % 512:
            self._put(bytes(512 - self.length % 512))


def _read_all(reader: Readable, limit: int, what: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = reader.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > limit:
            raise ConversionError(f"{what} is larger than {limit} bytes")
        parts.append(chunk)


def tar_to_cpio(tar_stream: Readable, cpio_out: BinaryIO, kernel_out: BinaryIO) -> InitrdParts:
    """Convert a build tar into an uncompressed newc cpio; the kernel goes to `kernel_out`
    (which must be seekable: a later `boot/kernel` replaces an earlier one)."""
    reader = TarReader(tar_stream)
    cpio = _CpioWriter(cpio_out)
    parts = InitrdParts()
    while True:
        try:
            header = reader.next()
        except TarError as error:
            raise ConversionError(f"cannot convert tar file: {error}") from None
        if header is None:
            break
        name = header.name
        if name == "boot/kernel":
            kernel_out.seek(0)
            kernel_out.truncate()
            size = 0
            while chunk := reader.read(_CHUNK):
                kernel_out.write(chunk)
                size += len(chunk)
            parts.kernel_size = size
        elif name == "boot/cmdline":
            parts.cmdline = _read_all(reader, _MAX_SMALL, "boot/cmdline")
        elif name == "boot/ucode.cpio":
            parts.ucode = _read_all(reader, _MAX_SMALL, "boot/ucode.cpio")
        elif name.startswith("boot/"):
            parts.dropped.append(name)
        else:
            _convert_entry(cpio, header, reader)
    cpio.finish()
    parts.entries = cpio.entries
    return parts


def _convert_entry(cpio: _CpioWriter, header: TarHeader, reader: TarReader) -> None:
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
        return
    bits = _TYPE_BITS.get(typeflag)
    if bits is None:
        raise ConversionError("cannot convert tar file")
    mode = permissions | bits
    if typeflag == "0":
        cpio.header(header.name, mode, header.uid, header.gid, 1, header.mtime, header.size)
        cpio.stream(reader, header.size)
    elif typeflag == "2":
        target = header.linkname.encode("utf-8", "surrogateescape")
        cpio.header(header.name, mode, header.uid, header.gid, 1, header.mtime, len(target))
        cpio.body(target)
    elif typeflag == "5":
        cpio.header(header.name, mode, header.uid, header.gid, 2, header.mtime, 0)
    else:
        cpio.header(header.name, mode, header.uid, header.gid, 1, header.mtime, 0,
                    header.devmajor, header.devminor)


class _FixedHeader:
    """Passes writes through, replacing the 10-byte gzip header ISA-L writes first (it puts
    OS 255 in the XFL byte) by `_HEADER`."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._first = True

    def write(self, data: bytes) -> int:
        if self._first:
            self._first = False
            if bytes(data[:4]) != _HEADER[:4] or len(data) != len(_HEADER):
                raise ValueError("unexpected gzip header from isal")
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


def _isal_writer(gzip_out: BinaryIO, level: int) -> BinaryIO | None:
    try:
        from isal import igzip_threaded
    except ImportError:
        log.warning("the isal package is not installed: compressing the initrd with zlib at "
                    "level %d, single-threaded (valid, slower, different bytes)", level)
        return None
    writer: BinaryIO = igzip_threaded.open(  # type: ignore[no-untyped-call]
        _FixedHeader(gzip_out), "wb", compresslevel=level, threads=_threads(),
        block_size=_BLOCK)
    return writer


def write_initrd(tar_stream: Readable, gzip_out: BinaryIO, kernel_out: BinaryIO, *,
                 compression_level: int = DEFAULT_COMPRESSION_LEVEL) -> InitrdParts:
    """Convert and gzip-compress the cpio into `gzip_out` (without the ucode prefix), as one
    gzip member at `compression_level` (1 fastest ... 9 smallest; see the module docstring)."""
    if not 1 <= compression_level <= 9:
        raise ValueError(f"compression level must be 1 to 9, not {compression_level}")
    # No file name and mtime 0 in the gzip header (`_HEADER`): the output must not depend on
    # where or when it was built.
    if compression_level <= _ISAL_MAX_LEVEL:
        threaded = _isal_writer(gzip_out, compression_level)
        if threaded is not None:
            with threaded:
                return tar_to_cpio(tar_stream, threaded, kernel_out)
    with _ZlibGzip(gzip_out, compression_level) as compressed:
        return tar_to_cpio(tar_stream, compressed, kernel_out)  # type: ignore[arg-type]


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
