"""Boot loader files and the FAT file systems that carry them.

SYSLINUX boots the BIOS disks and ISOLINUX the BIOS ISO; a GRUB EFI binary made with
`grub-mkimage` (modules and an optional embedded configuration inside, nothing else needed on
disk) boots the EFI media. FAT file systems are written into image files, at an offset when
they are a partition, by mtools: no root, no loop devices.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lkpolicy.assemble.hosttools import run

__all__ = ["EFI_BOOT_FILE", "VOLUME_ID", "efi_binary", "fat_copy", "fat_mkdir",
           "fat_partition_type", "grub_menu", "make_fat", "syslinux_cfg"]

VOLUME_ID = "LINUXKIT"
_GRUB_MODULES = ("normal", "configfile", "search", "search_fs_file", "iso9660", "fat",
                 "part_msdos", "part_gpt", "linux", "gzio", "echo", "all_video", "efi_gop")
EFI_BOOT_FILE = "BOOTX64.EFI"


def syslinux_cfg(cmdline: str) -> str:
    return ("DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /kernel\n"
            f"  APPEND initrd=/initrd.img {cmdline}\n")


def _grub_word(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def grub_menu(cmdline: str) -> str:
    """The `grub.cfg` of the EFI media: one entry, booted at once, `/kernel` and
    `/initrd.img` of the device GRUB's root is set to."""
    words = " ".join(_grub_word(word) for word in cmdline.split())
    return ("set timeout=0\nset gfxpayload=text\nmenuentry 'LinuxKit' {\n"
            f"  linux /kernel {words}\n  initrd /initrd.img\n}}\n")


def efi_binary(work: Path, epoch: int, what: str, embedded: str | None = None) -> Path:
    """`BOOTX64.EFI`: GRUB for x86_64 EFI with its prefix `/EFI/BOOT` on the device it was
    loaded from, so it reads `/EFI/BOOT/grub.cfg` there; `embedded` is a configuration run
    first (to find the files elsewhere, as on an ISO whose EFI image is a separate FAT)."""
    binary = work / EFI_BOOT_FILE
    command = ["grub-mkimage", "-O", "x86_64-efi", "-o", str(binary), "-p", "/EFI/BOOT"]
    if embedded is not None:
        config = work / "embedded-grub.cfg"
        config.write_text(embedded, encoding="utf-8")
        command += ["-c", str(config)]
    run([*command, *_GRUB_MODULES], epoch, what)
    os.utime(binary, (epoch, epoch))
    return binary


def make_fat(image: Path, offset: int, size: int, serial: str, epoch: int, what: str) -> None:
    """A FAT file system of `size` bytes at `offset` in `image` (mformat picks FAT12, 16 or
    32 from the size), with a fixed label and the given volume serial."""
    _run_fat(["mformat", "-T", str(size // 512), "-h", "64", "-s", "32", "-N", serial, "-v",
              VOLUME_ID], image, offset, ["::"], epoch, what)


def fat_mkdir(image: Path, offset: int, directories: Sequence[str], epoch: int,
              what: str) -> None:
    _run_fat(["mmd"], image, offset, [f"::/{name}" for name in directories], epoch, what)


def fat_copy(image: Path, offset: int, source: Path, target: str, epoch: int,
             what: str) -> None:
    """Copy one file, keeping its mtime (callers set it to the epoch)."""
    _run_fat(["mcopy", "-m"], image, offset, [str(source), f"::/{target}"], epoch, what)


def _run_fat(command: list[str], image: Path, offset: int, arguments: list[str], epoch: int,
             what: str) -> None:
    run([*command, "-i", f"{image}@@{offset}", *arguments], epoch, what)


def fat_partition_type(image: Path, offset: int) -> int:
    """The MBR partition type of the FAT file system at `offset` (LBA variants)."""
    with open(image, "rb") as handle:
        handle.seek(offset)
        sector = handle.read(512)
    if sector[82:87] == b"FAT32":
        return 0x0C
    if sector[54:59] == b"FAT16":
        return 0x0E
    return 0x01
