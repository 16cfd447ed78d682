"""Cloud and hypervisor disk formats, each the BIOS disk of `lkpolicy.assemble.disks` in
another container: `vhd` (fixed VHD, 1 GiB as linuxkit makes it), `dynamic-vhd` (dynamic
VHD, 25 GiB virtual), `vmdk` (streamOptimized VMDK fitted to its contents) and `gcp`
(`disk.raw`, 1 GiB, in a gzipped GNU tar as Compute Engine imports it).

qemu-img writes VHD and VMDK files, with a random disk UUID and the current time in VHD
footers and a random content ID in VMDK descriptors; those fields are rewritten here with
values derived from the build (the epoch and the build's identity), so that the same inputs
give the same bytes.
"""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.assemble.builder import BuildError
from lkpolicy.assemble.disks import bios_disk
from lkpolicy.assemble.hosttools import (
    MIB,
    Identity,
    Say,
    StagingArea,
    Writer,
    image_path,
    keep_image,
    run,
)

if TYPE_CHECKING:
    from lkpolicy.assemble.outputs import BootParts

__all__ = ["DYNAMIC_VHD_SIZE", "GCP_SIZE", "VHD_SIZE", "WRITERS", "normalise_vhd",
           "normalise_vmdk"]

GIB = 1024 * MIB
VHD_SIZE = GIB
DYNAMIC_VHD_SIZE = 25 * GIB
GCP_SIZE = GIB
"""linuxkit's sizes (`virt-make-fs --size=...` in its mkimage-* images); Compute Engine wants
a whole number of GiB."""
_VHD_EPOCH = 946684800
"""VHD timestamps count seconds from 2000-01-01 00:00:00 UTC."""
_VHD_FOOTER = 512
_CHUNK = 1 << 20


def _vhd_checksum(footer: bytes) -> int:
    return ~sum(footer[:64] + bytes(4) + footer[68:]) & 0xFFFFFFFF


def normalise_vhd(path: Path, epoch: int, disk_id: bytes, dynamic: bool) -> None:
    """Rewrite the footer's time stamp and unique id (and the copy of the footer at the start
    of a dynamic VHD), with its checksum."""
    size = path.stat().st_size
    places = [size - _VHD_FOOTER, 0] if dynamic else [size - _VHD_FOOTER]
    with open(path, "r+b") as handle:
        for place in places:
            handle.seek(place)
            footer = bytearray(handle.read(_VHD_FOOTER))
            if footer[:8] != b"conectix":
                raise BuildError(f"{path.name}: qemu-img wrote no VHD footer at byte {place}")
            footer[24:28] = struct.pack(">I", max(0, epoch - _VHD_EPOCH) & 0xFFFFFFFF)
            footer[68:84] = disk_id
            footer[64:68] = struct.pack(">I", _vhd_checksum(bytes(footer)))
            handle.seek(place)
            handle.write(footer)


def normalise_vmdk(path: Path, content_id: str) -> None:
    """Rewrite the descriptor's `CID=` line (qemu-img writes a random number, in as many hex
    digits as it needs) within the descriptor's fixed-size, NUL-padded area."""
    with open(path, "r+b") as handle:
        header = handle.read(512)
        if header[:4] != b"KDMV":
            raise BuildError(f"{path.name}: qemu-img wrote no VMDK header")
        offset, length = struct.unpack_from("<QQ", header, 28)
        handle.seek(offset * 512)
        area = handle.read(length * 512)
        text = area.split(b"\0", 1)[0]
        lines = text.split(b"\n")
        cid = [index for index, line in enumerate(lines) if line.startswith(b"CID=")]
        if offset == 0 or len(cid) != 1:
            raise BuildError(f"{path.name}: VMDK descriptor without one CID line")
        lines[cid[0]] = b"CID=" + content_id.encode("ascii")
        rewritten = b"\n".join(lines)
        if len(rewritten) >= len(area):
            raise BuildError(f"{path.name}: VMDK descriptor area too small")
        handle.seek(offset * 512)
        handle.write(rewritten.ljust(len(area), b"\0"))


def _vhd(fmt: str, size: int, subformat: str) -> Writer:
    def write(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
        raw = bios_disk(boot, staging, fmt, size)
        vhd = staging.path(".vhd")
        run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vpc", "-o",
             f"subformat={subformat},force_size=on", str(raw), str(vhd)], boot.epoch, fmt)
        raw.unlink()
        normalise_vhd(vhd, boot.epoch, Identity.of(boot).uuid("vhd").bytes,
                      subformat == "dynamic")
        keep_image(staging, vhd, base, fmt, say)

    return write


def _vmdk(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    final = image_path(base, "vmdk")
    if '"' in final.name or not final.name.isprintable():
        raise BuildError(f"format vmdk: the output name {final.name!r} cannot be written "
                         f"into a VMDK descriptor (quotes or control characters)")
    raw = bios_disk(boot, staging, "vmdk")
    # The descriptor names the file it lives in: convert straight to the final name.
    vmdk = staging.workdir() / final.name
    run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o",
         "adapter_type=lsilogic,subformat=streamOptimized,compat6", str(raw), str(vmdk)],
        boot.epoch, "vmdk")
    raw.unlink()
    normalise_vmdk(vmdk, Identity.of(boot).serial("vmdk"))
    keep_image(staging, vmdk, base, "vmdk", say)


def _gcp(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    work = staging.workdir()
    disk = work / "disk.raw"
    bios_disk(boot, staging, "gcp", GCP_SIZE).rename(disk)
    tar = work / "disk.tar"
    # The tar Compute Engine documents (`tar --format=oldgnu -S`); holes are found by
    # reading for zeros, not by asking the file system, so the archive does not depend on it.
    run(["tar", "--format=oldgnu", "--sparse", "--hole-detection=raw",
         f"--mtime=@{boot.epoch}", "--owner=0", "--group=0", "--numeric-owner",
         "--mode=0644", "-C", str(work), "-cf", str(tar), "disk.raw"], boot.epoch, "gcp")
    disk.unlink()
    compressed, out = staging.new(".img.tar.gz")
    with out, open(tar, "rb") as source, gzip.GzipFile(
            filename="", mode="wb", compresslevel=9, fileobj=out, mtime=0) as stream:
        shutil.copyfileobj(source, stream, _CHUNK)
    keep_image(staging, compressed, base, "gcp", say)


WRITERS: dict[str, Writer] = {
    "vhd": _vhd("vhd", VHD_SIZE, "fixed"),
    "dynamic-vhd": _vhd("dynamic-vhd", DYNAMIC_VHD_SIZE, "dynamic"),
    "vmdk": _vmdk,
    "gcp": _gcp,
}
