"""ISO images that boot the build's kernel and initrd: `iso-bios` (ISOLINUX, also bootable
as a disk) and `iso-efi` / `iso-efi-initrd` (GRUB on an El Torito EFI image), made with
xorriso under `SOURCE_DATE_EPOCH` from a tree whose every time is the epoch.

On the EFI ISOs the GRUB menu is `/EFI/BOOT/grub.cfg` on the ISO, as in linuxkit's; the GRUB
inside the El Torito image finds the ISO by an empty file named after the build's identity,
so another medium with a LinuxKit ISO's files cannot be taken for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.assemble import bootfiles
from lkpolicy.assemble.hosttools import (
    MIB,
    Identity,
    Say,
    StagingArea,
    Writer,
    blank_file,
    fix_times,
    keep_image,
    one_line_cmdline,
    round_up,
    run,
    stage_boot_files,
    xorriso_sort_weights,
)

if TYPE_CHECKING:
    from lkpolicy.assemble.outputs import BootParts

__all__ = ["WRITERS"]

_ISOLINUX = Path("/usr/lib/ISOLINUX")
_LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")


def _xorriso(staging: StagingArea, iso: Path, tree: Path, boot_options: list[str], epoch: int,
             fmt: str) -> None:
    run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-V", bootfiles.VOLUME_ID,
         "-R", "-J", *xorriso_sort_weights(tree, staging.workdir()), *boot_options, str(tree)],
        epoch, fmt)


def _iso_bios(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    cmdline = one_line_cmdline(boot, "iso-bios")
    tree = staging.workdir()
    stage_boot_files(boot, tree)
    (tree / "isolinux").mkdir()
    shutil.copyfile(_ISOLINUX / "isolinux.bin", tree / "isolinux" / "isolinux.bin")
    shutil.copyfile(_LDLINUX, tree / "isolinux" / "ldlinux.c32")
    (tree / "isolinux" / "isolinux.cfg").write_text(bootfiles.syslinux_cfg(cmdline),
                                                     encoding="utf-8")
    fix_times(tree, boot.epoch)
    iso = staging.path(".iso")
    _xorriso(staging, iso, tree, ["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
                         "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
                         "-isohybrid-mbr", str(_ISOLINUX / "isohdpfx.bin")],
             boot.epoch, "iso-bios")
    keep_image(staging, iso, base, "iso-bios", say)


def _efi_iso(fmt: str) -> Writer:
    def write(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
        cmdline = one_line_cmdline(boot, fmt)
        identity = Identity.of(boot)
        marker = f"/EFI/BOOT/{identity.uuid('iso-marker')}.id"
        work = staging.workdir()
        binary = bootfiles.efi_binary(work, boot.epoch, fmt, embedded=(
            f"search --no-floppy --set=root --file {marker}\n"
            "set prefix=($root)/EFI/BOOT\nconfigfile /EFI/BOOT/grub.cfg\n"))
        tree = work / "iso"
        (tree / "EFI" / "BOOT").mkdir(parents=True)
        stage_boot_files(boot, tree)
        (tree / "EFI" / "BOOT" / "grub.cfg").write_text(bootfiles.grub_menu(cmdline),
                                                        encoding="utf-8")
        (tree / marker.lstrip("/")).write_bytes(b"")
        # The El Torito image: a FAT holding only GRUB, hidden from the ISO's directories.
        image = tree / "boot.img"
        size = round_up(binary.stat().st_size + MIB, MIB)
        blank_file(image, size)
        bootfiles.make_fat(image, 0, size, identity.serial("efi-image"), boot.epoch, fmt)
        bootfiles.fat_mkdir(image, 0, ["EFI", "EFI/BOOT"], boot.epoch, fmt)
        bootfiles.fat_copy(image, 0, binary, f"EFI/BOOT/{bootfiles.EFI_BOOT_FILE}",
                           boot.epoch, fmt)
        fix_times(tree, boot.epoch)
        iso = staging.path(".iso")
        _xorriso(staging, iso, tree, ["-e", "boot.img", "-hide", "boot.img", "-hide", "boot.catalog",
                             "-no-emul-boot", "-isohybrid-gpt-basdat"], boot.epoch, fmt)
        keep_image(staging, iso, base, fmt, say)

    return write


WRITERS: dict[str, Writer] = {
    "iso-bios": _iso_bios,
    "iso-efi": _efi_iso("iso-efi"),
    "iso-efi-initrd": _efi_iso("iso-efi-initrd"),
}
