"""The structure of the formats lkpolicy makes with Debian tools: partition tables (read by
sfdisk and by hand), file systems and the files inside them, qemu-img's view of VHD and VMDK
files, the GCE tarball, and the root file system images against the build tar.

Each format is built once per module from linuxkit's build-full golden config; booting the
bootable ones is tests/test_boot.py's job. A missing tool skips (fails under CI=true).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lkpolicy.assemble import (
    FORMATS,
    BuildError,
    FormatUnavailable,
    check_formats,
    missing_tools,
    write_outputs,
)
from lkpolicy.assemble.cloud import normalise_vmdk
from lkpolicy.assemble.plan import BuildPlan
from lkpolicy.assemble.rootfs import extract_rootfs
from lkpolicy.assemble.tarstream import TarHeader, TarWriter
from lkpolicy.model.config import Config
from tests.conftest import skip_or_fail

EPOCH = 1492533000
GIB = 1 << 30
MIB = 1 << 20
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
CMDLINE = "console=ttyS0 foo=bar"
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@pytest.fixture(scope="module")
def built(build_full_config: Config, build_full_plan: BuildPlan,
          tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The output directory of one format, built on first use."""
    done: dict[str, Path] = {}

    def build(fmt: str) -> Path:
        if fmt not in done:
            missing = missing_tools(fmt)
            if missing:
                skip_or_fail(missing[0])
            out = tmp_path_factory.mktemp(re.sub(r"\W", "-", fmt))
            write_outputs(build_full_config, build_full_plan, [fmt], out, "full")
            done[fmt] = out
        return done[fmt]

    return build


def need(command: str, package: str) -> None:
    if shutil.which(command) is None:
        skip_or_fail(f"{command} not installed (Debian package {package})")


def sh(*command: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(list(command), check=True, capture_output=True, text=True,
                          env=env).stdout


def partitions(image: Path) -> dict[str, Any]:
    need("sfdisk", "fdisk")
    table: dict[str, Any] = json.loads(sh("sfdisk", "--json", str(image)))["partitiontable"]
    return table


def fat_files(image: Path, offset: int) -> dict[str, bytes]:
    """Every file of the FAT at `offset`, by path, read back with mtools."""
    target = f"{image}@@{offset}"
    listing = sh("mdir", "-/", "-b", "-a", "-i", target, "::/", env=MTOOLS_ENV)
    files = {}
    for line in listing.split():
        path = line.removeprefix("::")
        if path.endswith("/"):
            continue
        content = subprocess.run(["mtype", "-i", target, f"::{path}"], check=True,
                                 capture_output=True, env=MTOOLS_ENV).stdout
        files[path.lstrip("/")] = content
    return files


def to_raw(image: Path, fmt: str, tmp_path: Path) -> Path:
    raw = tmp_path / f"{image.name}.raw"
    sh("qemu-img", "convert", "-q", "-f", fmt, "-O", "raw", str(image), str(raw))
    return raw


def image_info(image: Path, fmt: str) -> dict[str, Any]:
    """qemu-img's view, told the format (it takes a fixed VHD, a raw disk with a footer, for
    raw when it guesses)."""
    info: dict[str, Any] = json.loads(sh("qemu-img", "info", "--output=json", "-f", fmt,
                                         str(image)))
    return info


def golden_kernel(build_full: Path) -> bytes:
    return (build_full / "expected/kernel+initrd/full-kernel").read_bytes()


def check_bios_disk(raw: Path, build_full: Path, size: int | None = None) -> None:
    """MBR with SYSLINUX's code, one active FAT partition at 1 MiB (filling the disk when
    `size` is given), and the boot files in it."""
    with open(raw, "rb") as handle:
        data = handle.read(512)
    assert data[:440] == Path("/usr/lib/syslinux/mbr/mbr.bin").read_bytes()[:440]
    assert data[440:444] != bytes(4)  # a disk signature, derived from the build
    table = partitions(raw)
    assert table["label"] == "dos"
    [partition] = table["partitions"]
    assert partition["start"] == 2048 and partition.get("bootable") is True
    assert partition["type"] in ("e", "c")
    if size is not None:
        assert raw.stat().st_size == size
        assert partition["size"] == size // 512 - 2048
    files = fat_files(raw, MIB)
    assert {"kernel", "initrd.img", "syslinux.cfg", "ldlinux.sys", "ldlinux.c32"} <= set(files)
    assert files["kernel"] == golden_kernel(build_full)
    assert f"  APPEND initrd=/initrd.img {CMDLINE}\n" in files["syslinux.cfg"].decode()


# --------------------------------------------------------------------------------------------
# The format table


def test_names_are_linuxkits(shared_dir: Path) -> None:
    """Every format of linuxkit's table (spec §6) with the files linuxkit names."""
    spec = (shared_dir / "spec/linuxkit-build.md").read_text()
    section = spec[spec.index("## 6. Output formats"):spec.index("## 7.")]
    rows = re.findall(r"^\| `([a-z0-9+-]+)`[^|]*\| ([^|]*)\|", section, re.MULTILINE)
    expected = {name: tuple(re.findall(r"`base([^`]*)`", files)) for name, files in rows}
    assert list(expected) == list(FORMATS)
    for name, spec_format in FORMATS.items():
        assert set(spec_format.outputs) == set(expected[name]), name


def test_docs_list_every_format(project_root: Path) -> None:
    text = (project_root / "docs/output-formats.md").read_text()
    section = text[text.index("## Build output formats"):]
    rows = dict(re.findall(r"^\| `([a-z0-9+-]+)`[^|]*\| ([^|]*)\|", section, re.MULTILINE))
    assert list(rows) == list(FORMATS)
    for name, spec in FORMATS.items():
        if spec.unsupported is None:
            assert set(re.findall(r"`NAME([^`]*)`", rows[name])) == set(spec.outputs), name


def test_every_tool_format_has_a_writer() -> None:
    import importlib

    from lkpolicy.assemble.media import MODULES

    with_tools = {name for name, spec in FORMATS.items() if spec.tools}
    assert set(MODULES) == with_tools
    for fmt, module in MODULES.items():
        assert fmt in importlib.import_module(f"lkpolicy.assemble.{module}").WRITERS


def test_rpi3_is_refused_with_its_reason(build_full_config: Config, build_full_plan: BuildPlan,
                                        tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        write_outputs(build_full_config, build_full_plan, ["rpi3"], tmp_path, "full")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("format rpi3 is not supported by lkpolicy build: ")
    assert "arm64" in message and "raspi-firmware" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", [name for name, spec in FORMATS.items()
                                 if any(not tool.locate.startswith("/") for tool in spec.tools)])
def test_missing_tool_names_the_package(fmt: str, build_full_config: Config,
                                        build_full_plan: BuildPlan, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(BuildError) as caught:
        write_outputs(build_full_config, build_full_plan, [fmt], tmp_path, "full")
    assert re.fullmatch(rf"format {re.escape(fmt)} needs \S+( \S+)*: install the Debian "
                        r"package [a-z0-9.+-]+", str(caught.value))
    assert list(tmp_path.iterdir()) == []


def test_boot_media_are_amd64_only() -> None:
    with pytest.raises(FormatUnavailable, match="format raw-efi makes amd64 boot media only "
                                                r"\(its boot loaders are x86 ones\), not arm64"):
        check_formats(["kernel+erofs", "raw-efi"], "arm64")
    assert check_formats(["kernel+initrd", "tar-kernel-initrd"], "arm64") == [
        "kernel+initrd", "tar-kernel-initrd"]


def test_test_script_installs_every_package(project_root: Path) -> None:
    """A fresh Debian machine gets every tool the formats and these tests use."""
    script = (project_root / "scripts/test.sh").read_text()
    [packages] = re.findall(r'lk_setup "([^"]*)"', script)
    installed = set(packages.replace("\\\n", " ").split())
    needed = {tool.package for spec in FORMATS.values() for tool in spec.tools}
    needed |= {"fdisk", "ovmf", "qemu-system-x86", "erofs-utils", "mtools", "qemu-utils"}
    assert needed <= installed, needed - installed


# --------------------------------------------------------------------------------------------
# EFI disks


def _gpt_header_ok(data: bytes, lba: int) -> dict[str, Any]:
    header = data[lba * 512:lba * 512 + 92]
    assert header[:8] == b"EFI PART"
    (crc,) = struct.unpack_from("<I", header, 16)
    assert zlib.crc32(header[:16] + bytes(4) + header[20:]) == crc
    current, backup, _first, _last = struct.unpack_from("<QQQQ", header, 24)
    entries_lba, count, size, entries_crc = struct.unpack_from("<QIII", header, 72)
    entries = data[entries_lba * 512:entries_lba * 512 + count * size]
    assert zlib.crc32(entries) == entries_crc
    return {"current": current, "backup": backup, "entries": entries}


def test_raw_efi_layout(built: Callable[[str], Path], build_full: Path) -> None:
    image = built("raw-efi") / "full-efi.img"
    table = partitions(image)
    assert table["label"] == "gpt"
    [esp] = table["partitions"]
    assert esp["type"] == ESP_TYPE and esp["name"] == "EFI System"
    assert esp["attrs"] == "LegacyBIOSBootable" and esp["start"] == 2048
    # Name-based UUIDs: derived from the build, not random (version 4) as sgdisk's.
    assert uuid.UUID(esp["uuid"]).version == 5 and uuid.UUID(table["id"]).version == 5
    size = image.stat().st_size
    assert size == (2048 + esp["size"]) * 512 + 3 * MIB
    data = image.read_bytes()
    assert data[450] == 0xEE and data[510:512] == b"\x55\xaa"
    primary = _gpt_header_ok(data, 1)
    backup = _gpt_header_ok(data, size // 512 - 1)
    assert (primary["current"], primary["backup"]) == (1, size // 512 - 1)
    assert (backup["current"], backup["backup"]) == (size // 512 - 1, 1)
    assert primary["entries"] == backup["entries"]
    files = fat_files(image, MIB)
    assert set(files) == {"EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg", "kernel", "initrd.img"}
    assert files["EFI/BOOT/BOOTX64.EFI"][:2] == b"MZ"
    assert files["kernel"] == golden_kernel(build_full)
    assert "  linux /kernel 'console=ttyS0' 'foo=bar'\n" in files["EFI/BOOT/grub.cfg"].decode()


def test_identifiers_follow_the_inputs(built: Callable[[str], Path], build_full_config: Config,
                                      build_full_plan: BuildPlan, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another epoch is another build: other GUIDs (and the same ones for the same inputs,
    which the reproducibility tests show)."""
    first = partitions(built("raw-efi") / "full-efi.img")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_outputs(build_full_config, build_full_plan, ["raw-efi"], tmp_path, "full")
    second = partitions(tmp_path / "full-efi.img")
    assert first["id"] != second["id"]
    assert first["partitions"][0]["uuid"] != second["partitions"][0]["uuid"]


def test_qcow2_efi_holds_the_raw_efi_disk(built: Callable[[str], Path]) -> None:
    qcow2 = built("qcow2-efi") / "full-efi.qcow2"
    raw = built("raw-efi") / "full-efi.img"
    info = image_info(qcow2, "qcow2")
    assert info["format"] == "qcow2" and info["virtual-size"] == raw.stat().st_size
    sh("qemu-img", "compare", "-f", "qcow2", "-F", "raw", str(qcow2), str(raw))


def test_iso_efi_initrd_contents(built: Callable[[str], Path], build_full: Path,
                                 tmp_path: Path) -> None:
    iso = built("iso-efi-initrd") / "full-efi-initrd.iso"
    report = sh("xorriso", "-indev", str(iso), "-report_el_torito", "plain")
    assert re.search(r"El Torito boot img :\s+1\s+UEFI\s+y\s+none", report)
    sh("xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/", str(tmp_path / "x"))
    names = sorted(p.relative_to(tmp_path / "x").as_posix()
                   for p in (tmp_path / "x").rglob("*") if p.is_file())
    assert [n for n in names if not n.endswith(".id")] == ["EFI/BOOT/grub.cfg", "initrd.img",
                                                            "kernel"]
    [marker] = [n for n in names if n.endswith(".id")]
    assert uuid.UUID(Path(marker).stem).version == 5
    assert (tmp_path / "x/kernel").read_bytes() == golden_kernel(build_full)
    assert (tmp_path / "x/EFI/BOOT/grub.cfg").read_text().startswith("set timeout=0\n")


# --------------------------------------------------------------------------------------------
# BIOS disks for the clouds


def test_aws_disk(built: Callable[[str], Path], build_full: Path) -> None:
    check_bios_disk(built("aws") / "full.raw", build_full, size=GIB)


def _vhd_footer(data: bytes) -> dict[str, Any]:
    assert data[:8] == b"conectix"
    (checksum,) = struct.unpack_from(">I", data, 64)
    assert checksum == ~sum(data[:64] + bytes(4) + data[68:]) & 0xFFFFFFFF
    (timestamp,) = struct.unpack_from(">I", data, 24)
    (size,) = struct.unpack_from(">Q", data, 48)
    (kind,) = struct.unpack_from(">I", data, 60)
    return {"timestamp": timestamp, "size": size, "type": kind,
            "uuid": uuid.UUID(bytes=data[68:84])}


def test_vhd_is_the_aws_disk_in_a_fixed_vhd(built: Callable[[str], Path]) -> None:
    vhd = built("vhd") / "full.vhd"
    info = image_info(vhd, "vpc")
    assert info["format"] == "vpc" and info["virtual-size"] == GIB
    with open(vhd, "rb") as handle:
        handle.seek(-512, os.SEEK_END)
        footer = _vhd_footer(handle.read(512))
    assert footer == {"timestamp": EPOCH - 946684800, "size": GIB, "type": 2,
                      "uuid": footer["uuid"]}
    assert footer["uuid"].version == 5
    sh("qemu-img", "compare", "-f", "vpc", "-F", "raw", str(vhd),
       str(built("aws") / "full.raw"))


def test_dynamic_vhd(built: Callable[[str], Path], build_full: Path, tmp_path: Path) -> None:
    vhd = built("dynamic-vhd") / "full.vhd"
    info = image_info(vhd, "vpc")
    assert info["format"] == "vpc" and info["virtual-size"] == 25 * GIB
    data = vhd.read_bytes()
    assert len(data) < 64 * MIB
    assert data[:512] == data[-512:]
    footer = _vhd_footer(data[:512])
    assert (footer["timestamp"], footer["size"], footer["type"]) == (EPOCH - 946684800,
                                                                     25 * GIB, 3)
    assert data[512:520] == b"cxsparse"
    check_bios_disk(to_raw(vhd, "vpc", tmp_path), build_full, size=25 * GIB)


def test_vmdk(built: Callable[[str], Path], build_full: Path, tmp_path: Path) -> None:
    vmdk = built("vmdk") / "full.vmdk"
    info = image_info(vmdk, "vmdk")
    specific = info["format-specific"]["data"]
    assert info["format"] == "vmdk" and specific["create-type"] == "streamOptimized"
    assert specific["extents"][0]["compressed"] is True
    descriptor = vmdk.read_bytes()[512:1536].decode("ascii", "replace")
    assert re.search(r'^RW \d+ SPARSE "full.vmdk"$', descriptor, re.MULTILINE)
    assert 'ddb.adapterType = "lsilogic"' in descriptor
    assert 'ddb.virtualHWVersion = "6"' in descriptor
    assert f"CID={specific['cid']:08x}" in descriptor
    sh("qemu-img", "check", "-q", str(vmdk))
    check_bios_disk(to_raw(vmdk, "vmdk", tmp_path), build_full)


def test_vmdk_content_id_of_any_length_is_rewritten(tmp_path: Path) -> None:
    """qemu-img writes the random CID in as few hex digits as it needs."""
    need("qemu-img", "qemu-utils")
    raw, vmdk = tmp_path / "d.raw", tmp_path / "d.vmdk"
    raw.write_bytes(bytes(MIB))
    sh("qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
       "subformat=streamOptimized", str(raw), str(vmdk))
    data = bytearray(vmdk.read_bytes())
    text = data[512:1536].split(b"\0", 1)[0]
    short = re.sub(rb"\nCID=[0-9a-f]+\n", b"\nCID=abc\n", text)
    assert short != text
    data[512:512 + len(text)] = short.ljust(len(text), b"\0")
    vmdk.write_bytes(bytes(data))
    normalise_vmdk(vmdk, "0000beef")
    descriptor = vmdk.read_bytes()[512:1536]
    assert b"\nCID=0000beef\nparentCID=ffffffff\n" in descriptor
    assert image_info(vmdk, "vmdk")["format-specific"]["data"]["cid"] == 0xBEEF
    sh("qemu-img", "check", "-q", str(vmdk))


def test_vmdk_refuses_a_name_its_descriptor_cannot_hold(build_full_config: Config,
                                                        build_full_plan: BuildPlan,
                                                        tmp_path: Path) -> None:
    if missing_tools("vmdk"):
        skip_or_fail(missing_tools("vmdk")[0])
    with pytest.raises(BuildError, match="cannot be written into a VMDK descriptor"):
        write_outputs(build_full_config, build_full_plan, ["vmdk"], tmp_path, 'a"b')
    assert list(tmp_path.iterdir()) == []


def test_gcp_tarball(built: Callable[[str], Path], tmp_path: Path) -> None:
    archive = built("gcp") / "full.img.tar.gz"
    data = archive.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08" and data[3] == 0 and data[4:8] == bytes(4)
    tar = gzip.decompress(data)
    assert tar[257:265] == b"ustar  \0"  # GNU (oldgnu) magic
    with tarfile.open(fileobj=gzip.open(archive)) as opened:
        [member] = opened.getmembers()
    assert member.name == "disk.raw" and member.type == tarfile.GNUTYPE_SPARSE
    assert member.size % GIB == 0 and member.size == GIB
    assert (member.uid, member.gid, member.mtime, member.mode) == (0, 0, EPOCH, 0o644)
    assert len(tar) < 64 * MIB  # sparse: the holes are not stored
    need("tar", "tar")
    subprocess.run(["tar", "-xzSf", str(archive), "-C", str(tmp_path)], check=True)
    # Compute Engine gets the same disk as the aws format.
    sh("qemu-img", "compare", "-f", "raw", "-F", "raw", str(tmp_path / "disk.raw"),
       str(built("aws") / "full.raw"))


# --------------------------------------------------------------------------------------------
# Root file system images


def tar_model(tar: Path) -> dict[str, tuple[str, int, int, int, str]]:
    """What unpacking the build tar without boot/ gives: name -> (type, mode, uid, gid,
    sha256 of the content or the link target)."""
    model: dict[str, tuple[str, int, int, int, str]] = {}
    with tarfile.open(tar) as archive:
        for member in archive.getmembers():
            name = posixpath.normpath(member.name)
            if name in (".", "boot") or name.startswith("boot/"):
                continue
            if member.islnk():
                model[name] = model[posixpath.normpath(member.linkname)]
                continue
            kind = "d" if member.isdir() else "l" if member.issym() else "f"
            detail = member.linkname if member.issym() else ""
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                detail = hashlib.sha256(handle.read()).hexdigest()
            model[name] = (kind, member.mode & 0o7777, member.uid, member.gid, detail)
    return model


def tree_model(root: Path) -> dict[str, tuple[str, int, int, int, str]]:
    model = {}
    for path in root.rglob("*"):
        info = path.lstat()
        kind = "d" if stat.S_ISDIR(info.st_mode) else "l" if stat.S_ISLNK(info.st_mode) else "f"
        detail = os.readlink(path) if kind == "l" else ""
        if kind == "f":
            detail = hashlib.sha256(path.read_bytes()).hexdigest()
        model[path.relative_to(root).as_posix()] = (kind, stat.S_IMODE(info.st_mode),
                                                    info.st_uid, info.st_gid, detail)
    return model


@pytest.fixture(scope="module")
def rootfs_model(built: Callable[[str], Path]) -> dict[str, tuple[str, int, int, int, str]]:
    return tar_model(built("tar") / "full.tar")


def _compare(extracted: Path, expected: dict[str, tuple[str, int, int, int, str]]) -> None:
    got = tree_model(extracted)
    assert set(got) ^ set(expected) == set()
    for name, (kind, mode, uid, gid, detail) in expected.items():
        got_kind, got_mode, got_uid, got_gid, got_detail = got[name]
        assert (got_kind, got_detail) == (kind, detail), name
        if kind != "l":
            assert got_mode == mode, name
        if os.geteuid() == 0:  # owners are restored only when extracting as root
            assert (got_uid, got_gid) == (uid, gid), name


def test_kernel_erofs(built: Callable[[str], Path], build_full: Path, tmp_path: Path,
                      rootfs_model: dict[str, tuple[str, int, int, int, str]]) -> None:
    out = built("kernel+erofs")
    assert sorted(p.name for p in out.iterdir()) == ["full-cmdline", "full-erofs.img",
                                                     "full-kernel"]
    assert (out / "full-kernel").read_bytes() == golden_kernel(build_full)
    assert (out / "full-cmdline").read_text() == CMDLINE
    image = out / "full-erofs.img"
    superblock = sh("dump.erofs", "-s", str(image))
    assert "Filesystem created:                           Tue Apr 18 16:30:00 2017" in superblock
    [text] = re.findall(r"Filesystem UUID:\s+(\S+)", superblock)
    assert uuid.UUID(text).version == 5
    sh("fsck.erofs", f"--extract={tmp_path / 'x'}", "--preserve", str(image))
    _compare(tmp_path / "x", rootfs_model)


def test_kernel_iso(built: Callable[[str], Path], tmp_path: Path,
                    rootfs_model: dict[str, tuple[str, int, int, int, str]]) -> None:
    out = built("kernel+iso")
    assert sorted(p.name for p in out.iterdir()) == ["full-cmdline", "full-kernel", "full.iso"]
    iso = out / "full.iso"
    assert "Volume Id    : LinuxKit" in sh("xorriso", "-indev", str(iso), "-pvd_info")
    sh("xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/", str(tmp_path / "x"))
    _compare(tmp_path / "x", rootfs_model)


def test_special_files_are_created_for_erofs_and_iso(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tar = tmp_path / "in.tar"
    with open(tar, "wb") as out:
        writer = TarWriter(out)
        writer.add(TarHeader("dev/", "5", mode=0o755, mtime=EPOCH))
        writer.add(TarHeader("dev/null", "3", mode=0o666, mtime=EPOCH, devmajor=1, devminor=3))
        writer.add(TarHeader("run/fifo", "6", mode=0o600, mtime=EPOCH))
        writer.close()
    if os.geteuid() == 0:
        root = tmp_path / "root"
        root.mkdir()
        tree = extract_rootfs(tar, root, EPOCH, "kernel+erofs", create_specials=True)
        assert [special.name for special in tree.specials] == ["dev/null", "run/fifo"]
        device = (root / "dev/null").lstat()
        assert stat.S_ISCHR(device.st_mode) and device.st_rdev == os.makedev(1, 3)
        assert stat.S_ISFIFO((root / "run/fifo").lstat().st_mode)
        assert (root / "dev").stat().st_mtime == EPOCH
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    other = tmp_path / "unprivileged"
    other.mkdir()
    with pytest.raises(BuildError, match="device node 'dev/null'; creating it needs running "
                                         "as root"):
        extract_rootfs(tar, other, EPOCH, "kernel+iso", create_specials=True)


def test_iso_block_order_does_not_follow_inode_order(tmp_path: Path) -> None:
    """With an El Torito image, libisofs breaks weight ties by source inode; two staging
    trees with the same files created in opposite orders must still give the same ISO (CI
    saw iso-efi-initrd differ when a freed inode was reused)."""
    from lkpolicy.assemble.hosttools import run, xorriso_sort_weights

    if shutil.which("xorriso") is None:
        skip_or_fail("xorriso is not installed (Debian package xorriso)")
    names = ["a", "b/\udcffc", "b/d e", "z", *(f"many/{index:03}" for index in range(20))]
    images = []
    for label, order in (("forward", names), ("backward", list(reversed(names)))):
        tree = tmp_path / label / "tree"
        tree.mkdir(parents=True)
        (tree / "boot.img").write_bytes(bytes(64 * 1024))
        for name in order:
            path = tree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(name.encode("utf-8", "surrogateescape") * 700)
        for path in sorted(tree.rglob("*"), reverse=True):
            os.utime(path, (EPOCH, EPOCH))
        os.utime(tree, (EPOCH, EPOCH))
        image = tmp_path / label / "out.iso"
        run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(image), "-R", "-J",
             *xorriso_sort_weights(tree, tmp_path / label), "-e", "boot.img", "-hide",
             "boot.img", "-no-emul-boot", str(tree)], EPOCH, "test")
        images.append(image.read_bytes())
    assert images[0] == images[1]
