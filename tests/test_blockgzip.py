"""libdeflate's streams joined into one gzip member (lkpolicy/assemble/blockgzip.py): every way
a stream can end, the joins checked by zlib and by the gzip tool, refusals of streams that are
not what they claim, and output that does not depend on the thread count."""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest
from conftest import skip_or_fail
from hypothesis import given, settings
from hypothesis import strategies as st

from lkpolicy.assemble import blockgzip
from lkpolicy.assemble.blockgzip import BLOCK_SIZE, ParallelGzipWriter, open_ended

deflate = pytest.importorskip("deflate", reason="the deflate package (lkpolicy[build])")
HEADER = bytes.fromhex("1f8b08000000000000ff")


def _inflate_one_member(data: bytes) -> bytes:
    inflate = zlib.decompressobj(wbits=31)
    plain = inflate.decompress(data) + inflate.flush()
    assert inflate.eof and inflate.unused_data == b""
    return plain


def _joined(parts: list[bytes], level: int) -> bytes:
    streams = [deflate.deflate_compress(part, level) for part in parts]
    ended = [open_ended(stream, len(part))
             for stream, part in zip(streams[:-1], parts[:-1], strict=True)]
    return b"".join([*ended, streams[-1]])


def _samples() -> list[bytes]:
    generator = random.Random(7)
    text = b" ".join(generator.choice([b"kernel", b"init", b"onboot", b"services", b"cap"])
                     for _ in range(40_000))
    return [b"x", b"", bytes(5000), generator.randbytes(70_000), text,
            text[:12_345] + generator.randbytes(3000) + bytes(9000)]


@pytest.mark.parametrize("level", [1, 4, 6, 9, 12])
def test_joined_streams_inflate_to_the_parts_in_order(level: int) -> None:
    parts = _samples()
    assert zlib.decompress(_joined(parts, level), -15) == b"".join(parts)


def test_every_end_of_a_stream_is_met() -> None:
    """The empty stored block fits in the last byte when five or fewer of its bits are used,
    and needs a byte of its own otherwise: the samples must reach both, and every count."""
    generator = random.Random(11)
    used_counts = set()
    for _ in range(400):
        part = generator.randbytes(generator.randrange(1, 300)) * generator.randrange(1, 4)
        stream = deflate.deflate_compress(part, generator.choice([1, 6, 9, 12]))
        ended = open_ended(stream, len(part))
        used_counts.add(len(ended) - len(stream))
        assert zlib.decompress(ended + deflate.deflate_compress(b"next", 6), -15) == \
            part + b"next"
    assert used_counts >= {4, 5}


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.binary(max_size=3000), min_size=1, max_size=6),
       level=st.integers(1, 12))
def test_any_parts_join(parts: list[bytes], level: int) -> None:
    assert zlib.decompress(_joined(parts, level), -15) == b"".join(parts)


@pytest.mark.parametrize(("stream", "size", "why"), [
    (b"", 0, "not a complete deflate stream"),
    (b"\xff\xff\xff", 3, "not a complete deflate stream"),
    (None, 99, "inflates to 100 bytes, not 99"),
    (None, 101, "inflates to 100 bytes, not 101"),
    ("truncated", 100, "not a complete deflate stream"),
    ("trailing", 100, "has data after its end"),
])
def test_a_stream_that_is_not_what_it_claims_is_refused(stream: bytes | str | None, size: int,
                                                        why: str) -> None:
    good = deflate.deflate_compress(bytes(range(100)), 6)
    data = {None: good, "truncated": good[:-1], "trailing": good + b"\x00"}.get(
        stream, stream)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=why):
        open_ended(data, size)


def _write(data: bytes, threads: int, level: int = 9, pieces: int = 7) -> bytes:
    out = io.BytesIO()
    with ParallelGzipWriter(out, level, threads, HEADER) as writer:
        step = max(1, len(data) // pieces)
        for start in range(0, len(data), step):
            writer.write(data[start:start + step])
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1,
                                  3 * BLOCK_SIZE + 17])
def test_the_writer_makes_one_member_whatever_the_size(size: int) -> None:
    data = (b"linuxkit " * (size // 9 + 1))[:size]
    if size > BLOCK_SIZE:
        data = data[:BLOCK_SIZE // 2] + os.urandom(1000) + data[BLOCK_SIZE // 2 + 1000:]
    written = _write(data, threads=2)
    assert written[:10] == HEADER
    assert _inflate_one_member(written) == data
    assert gzip.decompress(written) == data


def test_the_bytes_do_not_depend_on_the_thread_count_or_the_writes() -> None:
    data = random.Random(3).randbytes(BLOCK_SIZE // 3) * 8
    results = {_write(data, threads, pieces=pieces) for threads in (1, 2, 5)
               for pieces in (1, 13)}
    assert len(results) == 1


def test_the_gzip_tool_accepts_the_member(tmp_path: Path) -> None:
    tool = shutil.which("gzip")
    if tool is None:
        skip_or_fail("gzip not installed")
    data = random.Random(5).randbytes(200_000) * 12
    path = tmp_path / "member.gz"
    path.write_bytes(_write(data, threads=2))
    subprocess.run([tool, "-t", str(path)], check=True)
    assert subprocess.run([tool, "-dc", str(path)], check=True,
                          capture_output=True).stdout == data


def test_an_error_inside_writes_no_trailer() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), ParallelGzipWriter(out, 6, 2, HEADER) as writer:
        writer.write(bytes(3 * BLOCK_SIZE))
        raise RuntimeError("the cpio writer failed")
    inflate = zlib.decompressobj(wbits=31)
    inflate.decompress(out.getvalue())
    assert not inflate.eof


def test_a_missing_part_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert blockgzip.unavailable() is None
    monkeypatch.setattr(blockgzip, "_zlib", lambda: None)
    assert "libz.so.1" in (blockgzip.unavailable() or "")
    assert blockgzip.open_writer(io.BytesIO(), 9, 2, HEADER) is None


def test_a_block_that_does_not_check_out_fails_the_initrd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were libdeflate and zlib ever to disagree, the build stops with a message; nothing
    half-written passes for an initrd."""
    from lkpolicy.assemble.initrd import ConversionError, write_initrd

    def disagree(compressed: bytes, size: int) -> bytes:
        raise ValueError(f"the deflate stream inflates to {size + 1} bytes, not {size}")

    monkeypatch.setattr(blockgzip, "open_ended", disagree)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        data = os.urandom(3 * BLOCK_SIZE)
        info = tarfile.TarInfo("big")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    tar.seek(0)
    with pytest.raises(ConversionError, match="compressing the initrd: the deflate stream"):
        write_initrd(tar, io.BytesIO(), io.BytesIO(), compression_level=9)
