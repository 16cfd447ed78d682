"""One gzip member compressed by libdeflate on every CPU, pigz's way (the initrd's levels 4-9).

libdeflate compresses smaller than zlib or zlib-ng at each level and in less time (on the
bench's 380 MiB of kernel modules, its level 9 takes 77% of zlib-ng's CPU time for an output
1.8% smaller), but it only compresses whole buffers into complete deflate streams: it has no
flush and no preset dictionary. The data is therefore cut into blocks of 1 MiB, each
compressed on its own in a worker thread, and the streams are joined as zlib's `gzjoin`
example joins gzip files: in every stream but the last, the BFINAL bit of the last deflate
block is cleared, and an empty stored block (three zero bits, padding, `00 00 ff ff`, what a
sync flush writes) brings the end to a byte boundary where the next stream starts. The last
block of a stream is found by inflating the stream with zlib's `Z_BLOCK` flush, which stops
at every block boundary and says whether the block it ended was the last; the same pass
checks that the stream inflates to exactly the block's length.

Blocks are written in order, so the bytes depend on the data and the level only, never on the
thread count. Python's zlib module does not offer `Z_BLOCK`, so zlib's `inflate` is called
through ctypes (the system's libz.so.1, part of every Debian and Ubuntu system); without it,
or without the `deflate` package, `open_writer` returns None and the caller falls back.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import functools
import struct
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

__all__ = ["BLOCK_SIZE", "CompressionError", "ParallelGzipWriter", "open_ended", "open_writer",
           "unavailable"]

BLOCK_SIZE = 1 << 20
_Z_OK, _Z_STREAM_END, _Z_BLOCK = 0, 1, 5
_RAW_DEFLATE = -15
_AT_BLOCK_END, _IN_LAST_BLOCK, _BITS = 128, 64, 63
_EMPTY_STORED = b"\x00\x00\xff\xff"


class CompressionError(Exception):
    """A block's stream did not check out (libdeflate and zlib disagree): never expected, and
    the member is not finished."""


class _ZStream(ctypes.Structure):
    _fields_ = [  # zlib.h's z_stream, whose layout zlib keeps stable across versions
        ("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_uint),
        ("total_in", ctypes.c_ulong), ("next_out", ctypes.c_void_p),
        ("avail_out", ctypes.c_uint), ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p), ("state", ctypes.c_void_p), ("zalloc", ctypes.c_void_p),
        ("zfree", ctypes.c_void_p), ("opaque", ctypes.c_void_p), ("data_type", ctypes.c_int),
        ("adler", ctypes.c_ulong), ("reserved", ctypes.c_ulong)]


@functools.cache
def _zlib() -> tuple[Any, bytes] | None:
    """The system zlib and its version string, or None where there is none to load."""
    for name in ("libz.so.1", ctypes.util.find_library("z")):
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        library.zlibVersion.restype = ctypes.c_char_p
        library.inflateInit2_.argtypes = [ctypes.POINTER(_ZStream), ctypes.c_int,
                                          ctypes.c_char_p, ctypes.c_int]
        library.inflate.argtypes = [ctypes.POINTER(_ZStream), ctypes.c_int]
        library.inflateEnd.argtypes = [ctypes.POINTER(_ZStream)]
        return library, library.zlibVersion()
    return None


def unavailable() -> str | None:
    """What is missing for this compressor (a package or a library), or None."""
    try:
        import deflate  # noqa: F401
    except ImportError:
        return "the deflate package is not installed"
    if _zlib() is None:
        return "the system's zlib (libz.so.1) cannot be loaded"
    return None


def open_ended(compressed: bytes, size: int) -> bytes:
    """A complete raw deflate stream of `size` bytes, rewritten to continue: its last block
    no longer final, followed by an empty stored block that ends on a byte boundary.

    Raises ValueError when `compressed` is not one stream that inflates to `size` bytes."""
    loaded = _zlib()
    if loaded is None:
        raise ValueError("the system's zlib cannot be loaded")
    library, version = loaded
    data = bytearray(compressed)
    source = (ctypes.c_char * max(len(data), 1)).from_buffer(data) if data else None
    sink = ctypes.create_string_buffer(size + 1)
    stream = _ZStream()
    if library.inflateInit2_(ctypes.byref(stream), _RAW_DEFLATE, version,
                             ctypes.sizeof(stream)) != _Z_OK:
        raise ValueError("zlib's inflateInit2 failed")
    last_start, end = 0, -1
    try:
        stream.next_in = ctypes.addressof(source) if source is not None else None
        stream.avail_in = len(data)
        stream.next_out = ctypes.addressof(sink)
        stream.avail_out = size + 1
        while True:
            status = library.inflate(ctypes.byref(stream), _Z_BLOCK)
            if status == _Z_STREAM_END:
                break
            if status != _Z_OK or (stream.avail_in == 0 and not
                                   stream.data_type & _AT_BLOCK_END):
                raise ValueError(f"not a complete deflate stream (zlib status {status})")
            if stream.data_type & _AT_BLOCK_END:
                # Bits inflate has taken into its accumulator but not used belong to what
                # follows the block that just ended.
                position = (len(data) - stream.avail_in) * 8 - (stream.data_type & _BITS)
                if stream.data_type & _IN_LAST_BLOCK:
                    end = position
                else:
                    last_start = position
    finally:
        library.inflateEnd(ctypes.byref(stream))
    if stream.total_out != size or end < 0 or stream.avail_in != 0:
        raise ValueError(f"the deflate stream inflates to {stream.total_out} bytes, "
                         f"not {size}, or has data after its end")
    data[last_start >> 3] &= 0xFF ^ (1 << (last_start & 7))
    del data[(end + 7) >> 3:]
    used = end & 7
    if used:
        data[-1] &= (1 << used) - 1
    # The empty stored block's three header bits fit in the last byte when five or fewer
    # of its bits are used; otherwise they start a byte of their own.
    tail = _EMPTY_STORED if 0 < used <= 5 else b"\x00" + _EMPTY_STORED
    return bytes(data) + tail


def _compress_block(block: bytes, level: int, last: bool) -> bytes:
    import deflate

    compressed = bytes(deflate.deflate_compress(block, level))
    if last:
        return compressed
    try:
        return open_ended(compressed, len(block))
    except ValueError as error:
        raise CompressionError(str(error)) from None


class ParallelGzipWriter:
    """A write-only stream of one gzip member: `header`, the blocks in order, the trailer.

    At most two blocks per thread are in flight, so memory stays a few MiB whatever is
    written. `close()` (or leaving the `with` block without an error) writes the last block
    and the trailer; after an error nothing more is written."""

    def __init__(self, out: BinaryIO, level: int, threads: int, header: bytes) -> None:
        import deflate

        self._crc32 = deflate.crc32
        self._out = out
        self._level = level
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="lkpolicy-gzip")
        self._in_flight: collections.deque[Future[bytes]] = collections.deque()
        self._limit = 2 * max(1, threads)
        self._pending = bytearray()
        self._crc = 0
        self._size = 0
        self._closed = False
        out.write(header)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._crc = self._crc32(data, self._crc)
        self._size += len(data)
        self._pending += data
        # A block is sent only once more data follows it: the last one must be known as last.
        while len(self._pending) > BLOCK_SIZE:
            self._submit(bytes(self._pending[:BLOCK_SIZE]), last=False)
            del self._pending[:BLOCK_SIZE]
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def _submit(self, block: bytes, *, last: bool) -> None:
        self._in_flight.append(self._pool.submit(_compress_block, block, self._level, last))
        while len(self._in_flight) > (0 if last else self._limit):
            self._out.write(self._in_flight.popleft().result())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(bytes(self._pending), last=True)
            self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._pending.clear()
            self._pool.shutdown(wait=True, cancel_futures=True)

    def abandon(self) -> None:
        """Stop after an error: no last block, no trailer."""
        self._closed = True
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelGzipWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()


def open_writer(out: BinaryIO, level: int, threads: int,
                header: bytes) -> ParallelGzipWriter | None:
    """The parallel writer at libdeflate's `level` (1-12), or None when `unavailable()`."""
    if unavailable() is not None:
        return None
    return ParallelGzipWriter(out, level, threads, header)
