"""Partitioned disk images that boot the build's kernel and initrd.

BIOS disks (`raw-bios`, `qcow2-bios`, `aws`, and the cloud formats made from them): an MBR
with SYSLINUX's boot code and one active FAT partition holding `syslinux.cfg`, `kernel` and
`initrd.img`, SYSLINUX installed into it. EFI disks (`raw-efi`, `qcow2-efi`): a GPT with one
EFI System Partition holding GRUB as `/EFI/BOOT/BOOTX64.EFI`, its `grub.cfg`, `kernel` and
`initrd.img`, laid out as linuxkit's `mkimage-raw-efi` does (partition at 1 MiB, named
`EFI System`, "legacy BIOS bootable" attribute, 4 MiB of disk beyond the partition).

The partition tables are written here; disk GUIDs, partition GUIDs, MBR signatures and FAT
serials come from the build's identity. The partition starts at 1 MiB, the usual alignment.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.assemble import bootfiles, hosttools
from lkpolicy.assemble.builder import BuildError
from lkpolicy.assemble.hosttools import MIB, Identity, Say, StagingArea, Writer, keep_image

if TYPE_CHECKING:
    from lkpolicy.assemble.outputs import BootParts

__all__ = ["WRITERS", "bios_disk", "efi_disk"]

_SECTOR = 512
_START = 2048
"""First sector of the partition (1 MiB)."""
_MBR_CODE = Path("/usr/lib/syslinux/mbr/mbr.bin")
_ESP_TYPE = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
_GPT_ENTRIES = 128
_GPT_ENTRY_SIZE = 128
_GPT_ENTRY_SECTORS = _GPT_ENTRIES * _GPT_ENTRY_SIZE // _SECTOR
_LEGACY_BIOS_BOOTABLE = 1 << 2
AWS_SIZE = 1024 * MIB
"""linuxkit's default `--size` for `aws` (lkpolicy has no `--size`)."""


def _mbr_entry(status: int, kind: int, start: int, sectors: int) -> bytes:
    # CHS fields hold the "beyond CHS" marker; every BIOS since the 1990s uses the LBA values.
    return struct.pack("<B3sB3sII", status, b"\xfe\xff\xff", kind, b"\xfe\xff\xff", start,
                       min(sectors, 0xFFFFFFFF))


def _mbr(boot_code: bytes, signature: str, entry: bytes) -> bytes:
    return (boot_code[:440].ljust(440, b"\0") + bytes.fromhex(signature)[::-1] + b"\0\0"
            + entry + bytes(48) + b"\x55\xaa")


def bios_disk(boot: BootParts, staging: StagingArea, fmt: str, size: int | None = None) -> Path:
    """A raw BIOS disk: fitted to its contents, or of `size` bytes with the partition filling
    it. Returns the temporary file."""
    cmdline = hosttools.one_line_cmdline(boot, fmt)
    identity = Identity.of(boot)
    work = staging.workdir()
    hosttools.stage_boot_files(boot, work)
    (work / "syslinux.cfg").write_text(bootfiles.syslinux_cfg(cmdline), encoding="utf-8")
    hosttools.fix_times(work, boot.epoch)
    payload = sum(path.stat().st_size for path in work.iterdir())
    # Room for the FATs, ldlinux.sys/.c32 and slack; at least 32 MiB so the file system is
    # FAT16 (syslinux cannot boot from FAT12 on a hard disk image reliably).
    needed = max(32 * MIB, hosttools.round_up(payload + payload // 10 + 8 * MIB, MIB))
    offset = _START * _SECTOR
    partition = needed if size is None else size - offset
    if partition < needed:
        raise BuildError(f"format {fmt}: kernel and initrd need a {needed // MIB} MiB "
                         f"partition, more than the {size // MIB if size else 0} MiB disk "
                         f"linuxkit makes for it")
    image = staging.path(".img")
    hosttools.blank_file(image, offset + partition)
    bootfiles.make_fat(image, offset, partition, identity.serial("fat"), boot.epoch, fmt)
    for name in ("syslinux.cfg", "kernel", "initrd.img"):
        bootfiles.fat_copy(image, offset, work / name, name, boot.epoch, fmt)
    hosttools.run(["syslinux", "--offset", str(offset), "--install", str(image)], boot.epoch,
                  fmt)
    entry = _mbr_entry(0x80, bootfiles.fat_partition_type(image, offset), _START,
                       partition // _SECTOR)
    with open(image, "r+b") as handle:
        handle.write(_mbr(_MBR_CODE.read_bytes(), identity.serial("mbr"), entry))
    return image


def _gpt_header(disk_guid: uuid.UUID, current: int, backup: int, entries_at: int,
                last_sector: int, entries_crc: int) -> bytes:
    def pack(crc: int) -> bytes:
        return struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x00010000, 92, crc, 0, current,
                           backup, 2 + _GPT_ENTRY_SECTORS,
                           last_sector - 1 - _GPT_ENTRY_SECTORS, disk_guid.bytes_le,
                           entries_at, _GPT_ENTRIES, _GPT_ENTRY_SIZE, entries_crc)

    return pack(zlib.crc32(pack(0))).ljust(_SECTOR, b"\0")


def write_gpt(image: Path, sectors: int, first: int, last: int, identity: Identity) -> None:
    """A GPT (protective MBR, primary and backup tables) with one EFI System Partition from
    sector `first` to `last` inclusive, on a disk of `sectors` sectors."""
    entry = struct.pack("<16s16sQQQ72s", _ESP_TYPE.bytes_le,
                        identity.uuid("gpt-partition").bytes_le, first, last,
                        _LEGACY_BIOS_BOOTABLE, "EFI System".encode("utf-16-le"))
    entries = entry.ljust(_GPT_ENTRIES * _GPT_ENTRY_SIZE, b"\0")
    crc = zlib.crc32(entries)
    disk_guid = identity.uuid("gpt-disk")
    end = sectors - 1
    protective = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0xEE, b"\xff\xff\xff", 1,
                             min(sectors - 1, 0xFFFFFFFF))
    with open(image, "r+b") as handle:
        handle.write(_mbr(b"", "00000000", protective))
        handle.write(_gpt_header(disk_guid, 1, end, 2, end, crc))
        handle.write(entries)
        handle.seek((end - _GPT_ENTRY_SECTORS) * _SECTOR)
        handle.write(entries)
        handle.write(_gpt_header(disk_guid, end, 1, end - _GPT_ENTRY_SECTORS, end, crc))


def efi_disk(boot: BootParts, staging: StagingArea, fmt: str) -> Path:
    """A raw EFI disk sized as linuxkit sizes it. Returns the temporary file."""
    cmdline = hosttools.one_line_cmdline(boot, fmt)
    identity = Identity.of(boot)
    work = staging.workdir()
    hosttools.stage_boot_files(boot, work)
    (work / "grub.cfg").write_text(bootfiles.grub_menu(cmdline), encoding="utf-8")
    binary = bootfiles.efi_binary(work, boot.epoch, fmt)
    hosttools.fix_times(work, boot.epoch)
    payload = sum((work / name).stat().st_size
                  for name in ("kernel", "initrd.img", "grub.cfg", bootfiles.EFI_BOOT_FILE))
    # linuxkit leaves 1 MiB of headroom; the FATs of a large partition need a little more.
    esp = hosttools.round_up(payload + MIB + payload // 64, MIB)
    size = esp + 4 * MIB
    image = staging.path(".img")
    hosttools.blank_file(image, size)
    offset = _START * _SECTOR
    bootfiles.make_fat(image, offset, esp, identity.serial("fat"), boot.epoch, fmt)
    bootfiles.fat_mkdir(image, offset, ["EFI", "EFI/BOOT"], boot.epoch, fmt)
    for source, target in ((binary, f"EFI/BOOT/{bootfiles.EFI_BOOT_FILE}"),
                           (work / "grub.cfg", "EFI/BOOT/grub.cfg"),
                           (work / "kernel", "kernel"), (work / "initrd.img", "initrd.img")):
        bootfiles.fat_copy(image, offset, source, target, boot.epoch, fmt)
    write_gpt(image, size // _SECTOR, _START, _START + esp // _SECTOR - 1, identity)
    return image


def to_qcow2(raw: Path, staging: StagingArea, fmt: str, epoch: int) -> Path:
    qcow2 = staging.path(".qcow2")
    hosttools.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                   str(qcow2)], epoch, fmt)
    raw.unlink()
    return qcow2


def _disk_writer(fmt: str, make: Callable[[BootParts, StagingArea, str], Path],
                 qcow2: bool = False) -> Writer:
    def write(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
        image = make(boot, staging, fmt)
        if qcow2:
            image = to_qcow2(image, staging, fmt, boot.epoch)
        keep_image(staging, image, base, fmt, say)

    return write


def _aws_disk(boot: BootParts, staging: StagingArea, fmt: str) -> Path:
    return bios_disk(boot, staging, fmt, AWS_SIZE)


WRITERS: dict[str, Writer] = {
    "raw-bios": _disk_writer("raw-bios", bios_disk),
    "qcow2-bios": _disk_writer("qcow2-bios", bios_disk, qcow2=True),
    "aws": _disk_writer("aws", _aws_disk),
    "raw-efi": _disk_writer("raw-efi", efi_disk),
    "qcow2-efi": _disk_writer("qcow2-efi", efi_disk, qcow2=True),
}
