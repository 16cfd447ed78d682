"""The outputs beyond `tar` and `kernel+initrd`: `docker` and `tar-kernel-initrd` against
linuxkit's goldens, the bootable formats made with Debian tools, reproducibility and the
build manifest."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from planning import plan_build

from lkpolicy.assemble import (
    BuildError,
    build_outputs,
    missing_tools,
    verify_reproducible,
    write_outputs,
)
from lkpolicy.assemble.outputs import DOCKERFILE, source_date_epoch
from lkpolicy.model.config import Config, merge
from lkpolicy.model.oci import Platform
from lkpolicy.stages.load import load_document
from lkpolicy.store.lookup import Store

AMD64 = Platform("linux", "amd64")
IMAGES = ("busybox", "kernel", "init", "runc")


@pytest.fixture(scope="module")
def golden(build_full: Path) -> Path:
    return build_full


@pytest.fixture(scope="module")
def store(build_full_store: Store) -> Store:
    return build_full_store


@pytest.fixture(scope="module")
def config(build_full_config: Config) -> Config:
    return build_full_config


@pytest.fixture(scope="module")
def facts(golden: Path) -> dict[str, Any]:
    return json.loads((golden / "expected/facts.json").read_text())


def _lkdump(golden: Path, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run([sys.executable, str(golden / "lkdump.py"), *args, "--jsonl"],
                            check=True, capture_output=True, text=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def _expected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _need(fmt: str) -> None:
    missing = missing_tools(fmt)
    if missing:
        skip_or_fail(missing[0])


# --------------------------------------------------------------------------------------------
# docker and tar-kernel-initrd: differential against linuxkit


def test_docker_output_is_byte_identical(golden: Path, config: Config, store: Store,
                                         facts: dict[str, Any], tmp_path: Path) -> None:
    lines: list[str] = []
    from lkpolicy.assemble import BuildOptions

    written = write_outputs(config, plan_build(config, store), ["docker"], tmp_path, "full",
                            options=BuildOptions(progress=lines.append))
    out = tmp_path / "full.docker"
    assert written == [out]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.docker"]
    assert out.stat().st_size == facts["docker_tar_size"]
    assert _sha256(out) == facts["docker_tar_sha256"]
    assert _lkdump(golden, "tar", str(out)) == _expected(golden / "expected/docker/full.docker.jsonl")
    assert (golden / "expected/docker/Dockerfile").read_bytes() == DOCKERFILE
    assert lines[-1] == f"  {tmp_path}/full.docker"


def test_tar_kernel_initrd_matches_linuxkit(golden: Path, config: Config, store: Store,
                                            tmp_path: Path) -> None:
    written = write_outputs(config, plan_build(config, store), ["tar-kernel-initrd"], tmp_path, "full")
    out = tmp_path / "full-initrd.tar"
    assert written == [out]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full-initrd.tar"]
    ours = _lkdump(golden, "tar", str(out))
    expected = _expected(golden / "expected/tar-kernel-initrd/full-initrd.tar.jsonl")
    assert [e["name"] for e in ours] == ["kernel", "initrd.img", "cmdline", "ucode.cpio"]
    # initrd.img is compressed by pgzip in linuxkit and zlib here: compare it decompressed.
    for mine, theirs in zip(ours, expected, strict=True):
        if mine["name"] == "initrd.img":
            mine = {k: v for k, v in mine.items() if k not in ("sha256", "size")}
            theirs = {k: v for k, v in theirs.items() if k not in ("sha256", "size")}
        assert mine == theirs
    with tarfile.open(out) as archive:
        member = archive.extractfile("initrd.img")
        assert member is not None
        initrd = member.read()
    assert initrd[:3] == b"\x1f\x8b\x08"
    cpio = (golden / "expected/kernel+initrd/full-initrd.cpio").read_bytes()
    assert gzip.decompress(initrd) == cpio


def test_gzip_header_is_reproducible(config: Config, store: Store, tmp_path: Path) -> None:
    write_outputs(config, plan_build(config, store), ["kernel+initrd"], tmp_path, "full")
    initrd = (tmp_path / "full-initrd.img").read_bytes()
    start = initrd.find(b"\x1f\x8b\x08")
    header = initrd[start:start + 10]
    assert header[3] == 0  # FLG: no FNAME
    assert header[4:8] == bytes(4)  # MTIME 0


# --------------------------------------------------------------------------------------------
# Reproducibility and the manifest


def test_two_builds_are_byte_identical(config: Config, store: Store, tmp_path: Path) -> None:
    for formats in (["tar"], ["docker"], ["kernel+initrd", "tar-kernel-initrd"]):
        plan = dataclasses.replace(plan_build(config, store), evidence=({"kind": "test"},))
        report = verify_reproducible(config, plan, formats, "full", work_dir=tmp_path)
        assert report.identical, report.differences
        assert "full.build.json" in report.files
    assert list(tmp_path.iterdir()) == []


def test_verify_reproducible_reports_differences(config: Config, store: Store,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from lkpolicy.assemble import outputs

    counter = iter(range(100))
    real = outputs.render_manifest

    def varying(*args: Any) -> bytes:
        return real(*args)[:-1] + f" {next(counter)}\n".encode()

    monkeypatch.setattr(outputs, "render_manifest", varying)
    report = verify_reproducible(config, plan_build(config, store), ["tar"], "full")
    assert not report.identical
    assert report.differences[0].startswith("full.build.json: contents differ")


def test_manifest_lists_digests_and_hashes(config: Config, store: Store,
                                           tmp_path: Path) -> None:
    evidence = [{"reference": "docker.io/lktest/kernel:test", "verified": True,
                 "method": "opaque"}]
    plan = dataclasses.replace(plan_build(config, store), evidence=tuple(evidence))
    result = build_outputs(config, plan, ["kernel+initrd"], tmp_path, "full")
    manifest = tmp_path / "full.build.json"
    assert result.manifest == manifest
    assert result.files[-1] == manifest
    document = json.loads(manifest.read_text())
    assert document["manifestVersion"] == 1
    assert document["platform"] == "linux/amd64"
    assert document["formats"] == ["kernel+initrd"]
    assert document["trustEvidence"] == evidence
    images = {entry["reference"]: entry["digest"] for entry in document["images"]}
    assert images == result.summary.images
    for name in IMAGES:
        assert images[f"docker.io/lktest/{name}:test"] == store.lookup(
            f"docker.io/lktest/{name}:test", AMD64).digest  # type: ignore[union-attr]
    outputs = {entry["file"]: entry for entry in document["outputs"]}
    assert sorted(outputs) == ["full-cmdline", "full-initrd.img", "full-kernel"]
    for name, entry in outputs.items():
        data = (tmp_path / name).read_bytes()
        assert entry["sha256"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
    assert manifest.read_text().endswith("}\n")
    assert oct(manifest.stat().st_mode & 0o777) == "0o644"


def test_manifest_rejects_non_json_evidence(config: Config, store: Store,
                                            tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="trust evidence is not JSON data"):
        plan = dataclasses.replace(plan_build(config, store), evidence=({"bad": object()},))
        build_outputs(config, plan, ["tar"], tmp_path, "full")
    assert list(tmp_path.iterdir()) == []


def test_source_date_epoch() -> None:
    assert source_date_epoch({}) == 1492533000
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "1700000000"}) == 1700000000
    with pytest.raises(BuildError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch({"SOURCE_DATE_EPOCH": "yesterday"})


# --------------------------------------------------------------------------------------------
# Bootable formats made with Debian tools


def test_missing_tool_is_one_clear_line(config: Config, store: Store, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(BuildError) as caught:
        write_outputs(config, plan_build(config, store), ["kernel+squashfs"], tmp_path, "full")
    assert str(caught.value) == ("format kernel+squashfs needs mksquashfs: install the Debian "
                                 "package squashfs-tools")
    assert list(tmp_path.iterdir()) == []


def test_kernel_squashfs(golden: Path, config: Config, store: Store, tmp_path: Path) -> None:
    _need("kernel+squashfs")
    if shutil.which("unsquashfs") is None:
        skip_or_fail("unsquashfs not installed (apt-get install squashfs-tools)")
    written = write_outputs(config, plan_build(config, store), ["kernel+squashfs"], tmp_path, "full")
    assert sorted(p.name for p in written) == ["full-cmdline", "full-kernel",
                                               "full-squashfs.img"]
    expected = golden / "expected/kernel+initrd"
    assert (tmp_path / "full-kernel").read_bytes() == (expected / "full-kernel").read_bytes()
    listing = subprocess.run(["unsquashfs", "-lln", "-d", "", str(tmp_path / "full-squashfs.img")],
                             check=True, capture_output=True, text=True).stdout
    rows = {line.split()[-1] if " -> " not in line else line.split(" -> ")[0].split()[-1]: line
            for line in listing.splitlines() if line[:1] in "-dlcbp"}
    assert not any(name.startswith("/boot") for name in rows)
    assert rows["/etc/resolv.conf"].startswith("l")
    # Ownership comes from the tar, not from the (possibly unprivileged) extraction.
    assert rows["/etc/dir2/sub/file.txt"].split()[:2] == ["-rw-r-----", "103/100"]
    assert rows["/etc/dir2/sub"].split()[:2] == ["drwxr-x---", "103/100"]
    assert "/init" in rows
    assert list(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("fmt,files", [
    ("iso-bios", ["full.iso"]),
    ("iso-efi", ["full-efi.iso"]),
    ("raw-bios", ["full-bios.img"]),
    ("qcow2-bios", ["full.qcow2"]),
    ("kernel+squashfs", ["full-cmdline", "full-kernel", "full-squashfs.img"]),
    ("iso-efi-initrd", ["full-efi-initrd.iso"]),
    ("raw-efi", ["full-efi.img"]),
    ("qcow2-efi", ["full-efi.qcow2"]),
    ("kernel+erofs", ["full-cmdline", "full-kernel", "full-erofs.img"]),
    ("kernel+iso", ["full-cmdline", "full-kernel", "full.iso"]),
    ("aws", ["full.raw"]),
    ("vhd", ["full.vhd"]),
    ("dynamic-vhd", ["full.vhd"]),
    ("vmdk", ["full.vmdk"]),
    ("gcp", ["full.img.tar.gz"]),
])
def test_media_formats_are_reproducible(fmt: str, files: list[str], config: Config,
                                        store: Store, tmp_path: Path) -> None:
    _need(fmt)
    report = verify_reproducible(config, plan_build(config, store), [fmt], "full",
                                 work_dir=tmp_path)
    assert report.identical, report.differences
    assert sorted(report.files) == sorted([*files, "full.build.json"])


def test_raw_bios_layout(config: Config, store: Store, tmp_path: Path) -> None:
    _need("raw-bios")
    write_outputs(config, plan_build(config, store), ["raw-bios"], tmp_path, "full")
    image = (tmp_path / "full-bios.img").read_bytes()
    assert image[510:512] == b"\x55\xaa"
    status, kind = image[446], image[450]
    start, sectors = int.from_bytes(image[454:458], "little"), int.from_bytes(image[458:462],
                                                                              "little")
    assert (status, kind, start) == (0x80, 0x0E, 2048)
    assert len(image) == (start + sectors) * 512
    listing = subprocess.run(["mdir", "-a", "-b", "-i", f"{tmp_path / 'full-bios.img'}@@1M",
                              "::/"], check=True, capture_output=True, text=True,
                             env={**os.environ, "MTOOLS_SKIP_CHECK": "1"}).stdout
    names = {line.rsplit("/", 1)[-1].lower() for line in listing.split()}
    assert {"kernel", "initrd.img", "syslinux.cfg", "ldlinux.sys", "ldlinux.c32"} <= names
    cfg = subprocess.run(["mtype", "-i", f"{tmp_path / 'full-bios.img'}@@1M",
                          "::/syslinux.cfg"], check=True, capture_output=True, text=True,
                         env={**os.environ, "MTOOLS_SKIP_CHECK": "1"}).stdout
    assert "  APPEND initrd=/initrd.img console=ttyS0 foo=bar\n" in cfg


def test_iso_bios_contents(config: Config, store: Store, tmp_path: Path) -> None:
    _need("iso-bios")
    write_outputs(config, plan_build(config, store), ["iso-bios"], tmp_path, "full")
    listing = subprocess.run(["xorriso", "-indev", str(tmp_path / "full.iso"), "-find", "/",
                              "-type", "f"], check=True, capture_output=True, text=True).stdout
    for name in ("/kernel", "/initrd.img", "/isolinux/isolinux.bin", "/isolinux/isolinux.cfg",
                 "/isolinux/ldlinux.c32"):
        assert f"'{name}'" in listing


def test_media_formats_need_a_kernel(store: Store, tmp_path: Path) -> None:
    _need("iso-bios")
    source = tmp_path / "nokernel.yml"
    source.write_text("init:\n  - lktest/init:test\n")
    document, _ = load_document(str(source))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BuildError, match="needs a kernel"):
        write_outputs(merge([document]), plan_build(merge([document]), store), ["iso-bios"], out, "x")
    assert list(out.iterdir()) == []
