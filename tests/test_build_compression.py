"""The initrd's gzip compression: one valid member at every level, the decompressed cpio
identical to linuxkit's, a fixed header, and bytes that do not depend on the thread count."""

from __future__ import annotations

import gzip
import io
import logging
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import skip_or_fail

from lkpolicy.assemble import blockgzip, initrd
from lkpolicy.assemble.initrd import write_initrd

HEADER = bytes.fromhex("1f8b0800000000000" + "0ff")


@pytest.fixture(scope="module")
def tar(build_full: Path) -> bytes:
    return gzip.decompress((build_full / "expected/tar/full.tar.gz").read_bytes())


@pytest.fixture(scope="module")
def cpio(build_full: Path) -> bytes:
    return (build_full / "expected/kernel+initrd/full-initrd.cpio").read_bytes()


def _compress(tar: bytes, level: int) -> bytes:
    out = io.BytesIO()
    write_initrd(io.BytesIO(tar), out, io.BytesIO(), compression_level=level)
    return out.getvalue()


def _single_member(data: bytes) -> bytes:
    """Inflate exactly one gzip member and require it to be all of `data`: the kernel's
    initramfs unpacker needs each member to end on a cpio boundary."""
    inflate = zlib.decompressobj(wbits=31)
    plain = inflate.decompress(data) + inflate.flush()
    assert inflate.eof
    assert inflate.unused_data == b""
    return plain


@pytest.mark.parametrize("level", [1, 2, 3, 6, 9])
def test_each_level_is_one_member_of_the_golden_cpio(tar: bytes, cpio: bytes, level: int,
                                                     tmp_path: Path) -> None:
    data = _compress(tar, level)
    assert data[:10] == HEADER
    assert _single_member(data) == cpio
    assert _compress(tar, level) == data


def test_gzip_accepts_the_initrd(tar: bytes, tmp_path: Path) -> None:
    gzip_tool = shutil.which("gzip")
    if gzip_tool is None:
        skip_or_fail("gzip not installed")
    path = tmp_path / "initrd.gz"
    path.write_bytes(_compress(tar, 6))
    subprocess.run([gzip_tool, "-t", str(path)], check=True)


def test_levels_trade_speed_for_size(tar: bytes) -> None:
    assert len(_compress(tar, 9)) < len(_compress(tar, 1))


@pytest.mark.parametrize(("level", "package"), [(1, "isal"), (6, "deflate"), (9, "deflate")])
def test_bytes_do_not_depend_on_the_thread_count(tar: bytes, level: int, package: str,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    results = set()
    with caplog.at_level(logging.WARNING, logger="lkpolicy.assemble.initrd"):
        for threads in (1, 2, 5):
            monkeypatch.setattr(initrd, "_threads", lambda count=threads: count)
            results.add(_compress(tar, level))
    assert package not in caplog.text  # a dependency: its threads were used
    assert len(results) == 1


@pytest.mark.parametrize(("level", "module", "said"), [
    (1, "isal", "the isal package is not installed"),
    (9, "deflate", "the deflate package is not installed")])
def test_without_the_package_zlib_is_used_and_said(tar: bytes, cpio: bytes, level: int,
                                                   module: str, said: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    if module == "isal":
        monkeypatch.setitem(sys.modules, "isal.igzip_threaded", None)
    with caplog.at_level(logging.WARNING, logger="lkpolicy.assemble.initrd"):
        data = _compress(tar, level)
    assert said in caplog.text
    assert data[:10] == HEADER
    assert _single_member(data) == cpio


def test_without_the_system_zlib_library_zlib_is_used_and_said(
        tar: bytes, cpio: bytes, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(blockgzip, "_zlib", lambda: None)
    with caplog.at_level(logging.WARNING, logger="lkpolicy.assemble.initrd"):
        data = _compress(tar, 9)
    assert "libz.so.1" in caplog.text
    assert _single_member(data) == cpio


@pytest.mark.parametrize("level", [0, 10, -1])
def test_level_out_of_range_is_refused(level: int) -> None:
    with pytest.raises(ValueError, match="compression level must be 1 to 9"):
        write_initrd(io.BytesIO(), io.BytesIO(), io.BytesIO(), compression_level=level)
