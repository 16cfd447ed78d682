"""The output formats made with Debian tools instead of linuxkit's Docker `mkimage-*` images.

None of them needs root or loop devices: file systems are written into image files by tools
that work on files (mksquashfs, mkfs.erofs, xorriso, mtools, syslinux's mtools installer,
qemu-img, GNU tar), and partition tables are written by lkpolicy. They are not
byte-compatible with linuxkit's (different tools), but they are reproducible: every tool
runs with `SOURCE_DATE_EPOCH`, every file we create gets the epoch as its mtime, and volume
serials and UUIDs come from the build's identity (`lkpolicy.assemble.hosttools.Identity`).

The boot media carry `<base>-initrd.img` as `kernel+initrd` writes it (microcode prefix
included) and boot it with the build's cmdline. Which module writes which format:

| module | formats |
|---|---|
| `rootfs` | `kernel+squashfs`, `kernel+erofs`, `kernel+iso` |
| `isoimages` | `iso-bios`, `iso-efi`, `iso-efi-initrd` |
| `disks` | `raw-bios`, `qcow2-bios`, `aws`, `raw-efi`, `qcow2-efi` |
| `cloud` | `vhd`, `dynamic-vhd`, `vmdk`, `gcp` |
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.assemble.builder import BuildError
from lkpolicy.assemble.formats import FormatUnavailable, missing_tools

if TYPE_CHECKING:
    from lkpolicy.assemble.hosttools import Say, StagingArea
    from lkpolicy.assemble.outputs import BootParts

__all__ = ["MODULES", "write"]

MODULES = {
    "kernel+squashfs": "rootfs", "kernel+erofs": "rootfs", "kernel+iso": "rootfs",
    "iso-bios": "isoimages", "iso-efi": "isoimages", "iso-efi-initrd": "isoimages",
    "raw-bios": "disks", "qcow2-bios": "disks", "aws": "disks", "raw-efi": "disks",
    "qcow2-efi": "disks",
    "vhd": "cloud", "dynamic-vhd": "cloud", "vmdk": "cloud", "gcp": "cloud",
}
"""The module of `lkpolicy.assemble` whose `WRITERS` table writes the format; imported only
when the format is built."""
_ROOT_FILE_SYSTEMS = ("kernel+squashfs", "kernel+erofs", "kernel+iso")


def write(fmt: str, boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    missing = missing_tools(fmt)
    if missing:
        raise FormatUnavailable(missing[0])
    if not boot.kernel and fmt not in _ROOT_FILE_SYSTEMS:
        raise BuildError(f"format {fmt} needs a kernel: the configuration has no kernel image")
    module = importlib.import_module(f"lkpolicy.assemble.{MODULES[fmt]}")
    module.WRITERS[fmt](boot, staging, base, say)
