"""Bootable output formats made with Debian tools instead of linuxkit's Docker `mkimage-*`
images: `kernel+squashfs`, `iso-bios`, `iso-efi`, `raw-bios` and `qcow2-bios`.

None of them needs root or loop devices: file systems are written into image files by tools
that work on files (mksquashfs, xorriso, mtools, syslinux's mtools installer, qemu-img), and
the MBR is written here. They are not byte-compatible with linuxkit's (different tools), but
they are reproducible: every tool runs with `SOURCE_DATE_EPOCH`, fixed volume ids and serial
numbers, and every file we create gets the epoch as its mtime.

The boot media carry `<base>-initrd.img` as `kernel+initrd` writes it (microcode prefix
included) and boot it with the build's cmdline.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.assemble.builder import BuildError
from lkpolicy.assemble.tarstream import TarError, TarReader
from lkpolicy.gocompat import paths as gopath

if TYPE_CHECKING:
    from lkpolicy.assemble.outputs import BootParts, _Staging

__all__ = ["TOOLS", "missing_tools", "write"]

TOOLS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # format: (what, how to find it, Debian package)
    "kernel+squashfs": (("mksquashfs", "mksquashfs", "squashfs-tools"),),
    "iso-bios": (("xorriso", "xorriso", "xorriso"),
                 ("isolinux.bin", "/usr/lib/ISOLINUX/isolinux.bin", "isolinux"),
                 ("isohdpfx.bin", "/usr/lib/ISOLINUX/isohdpfx.bin", "isolinux"),
                 ("ldlinux.c32", "/usr/lib/syslinux/modules/bios/ldlinux.c32",
                  "syslinux-common")),
    "iso-efi": (("xorriso", "xorriso", "xorriso"),
                ("grub-mkimage", "grub-mkimage", "grub-common"),
                ("GRUB x86_64-efi modules", "/usr/lib/grub/x86_64-efi/linux.mod",
                 "grub-efi-amd64-bin"),
                ("mformat", "mformat", "mtools")),
    "raw-bios": (("mformat", "mformat", "mtools"),
                 ("syslinux", "syslinux", "syslinux"),
                 ("mbr.bin", "/usr/lib/syslinux/mbr/mbr.bin", "syslinux-common")),
}
TOOLS["qcow2-bios"] = (*TOOLS["raw-bios"], ("qemu-img", "qemu-img", "qemu-utils"))

_MIB = 1 << 20
_PARTITION_START = 2048
"""First sector of the single partition of raw disks (1 MiB, the usual alignment)."""
_VOLUME_ID = "LINUXKIT"
_SERIAL = "4c4b5450"
"""FAT volume serial and MBR disk signature ("LKTP"): fixed so images are reproducible."""
_GRUB_MODULES = ("normal", "configfile", "search", "search_fs_file", "iso9660", "fat",
                 "part_msdos", "part_gpt", "linux", "gzio", "echo", "all_video", "efi_gop")


def _find(how: str) -> str | None:
    if how.startswith("/"):
        return how if os.path.exists(how) else None
    return shutil.which(how)


def missing_tools(fmt: str) -> list[str]:
    """One line per tool the format needs and this host lacks, naming the Debian package."""
    return [f"format {fmt} needs {what}: install the Debian package {package}"
            for what, how, package in TOOLS.get(fmt, ()) if _find(how) is None]


def _require(fmt: str) -> None:
    missing = missing_tools(fmt)
    if missing:
        raise BuildError(missing[0])


def write(fmt: str, boot: BootParts, staging: _Staging, base: Path,
          say: Callable[[str], None]) -> None:
    _require(fmt)
    if not boot.kernel and fmt != "kernel+squashfs":
        raise BuildError(f"format {fmt} needs a kernel: the configuration has no kernel image")
    writers: Mapping[str, Callable[[BootParts, _Staging, Path, Callable[[str], None]], None]] = {
        "kernel+squashfs": _kernel_squashfs, "iso-bios": _iso_bios, "iso-efi": _iso_efi,
        "raw-bios": _raw_bios, "qcow2-bios": _qcow2_bios,
    }
    writers[fmt](boot, staging, base, say)


def _run(command: Sequence[str], epoch: int | None, what: str) -> None:
    environment = dict(os.environ)
    environment["LC_ALL"] = "C"
    # mtools reads ~/.mtoolsrc and /etc/mtools.conf; skip_check keeps it from refusing images
    # whose geometry it considers unusual.
    environment["MTOOLS_SKIP_CHECK"] = "1"
    if epoch is not None:
        environment["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        result = subprocess.run(list(command), env=environment, capture_output=True,
                                stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        raise BuildError(f"{what}: cannot run {command[0]}: {error.strerror or error}") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        last = detail.splitlines()[-1] if detail else f"exit status {result.returncode}"
        raise BuildError(f"{what}: {command[0]} failed: {last}")


def _cmdline(boot: BootParts, fmt: str) -> str:
    text = boot.parts.cmdline.decode("utf-8", "surrogateescape")
    if "\n" in text or "\r" in text:
        raise BuildError(f"format {fmt}: the kernel cmdline must be one line")
    return text


def _stage_boot_files(boot: BootParts, directory: Path) -> None:
    shutil.copyfile(boot.kernel_path, directory / "kernel")
    with open(directory / "initrd.img", "wb") as out:
        boot.write_initrd_img(out)


def _fix_times(root: Path, epoch: int) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


# --------------------------------------------------------------------------------------------
# kernel+squashfs


def _kernel_squashfs(boot: BootParts, staging: _Staging, base: Path,
                     say: Callable[[str], None]) -> None:
    work = staging.workdir()
    root = work / "root"
    root.mkdir()
    pseudo, all_root = _extract(boot.tar_path, root, boot.epoch)
    pseudo_path = work / "pseudo"
    pseudo_path.write_text("".join(pseudo), encoding="utf-8", errors="surrogateescape")
    image = staging.path("-squashfs.img")
    epoch_set = "SOURCE_DATE_EPOCH" in os.environ
    command = ["mksquashfs", str(root), str(image), "-noappend", "-no-progress", "-quiet",
               "-no-xattrs", "-reproducible", "-mkfs-time", str(boot.epoch), "-pf",
               str(pseudo_path)]
    if all_root:
        command.append("-all-root")
    # mksquashfs clamps every file time to SOURCE_DATE_EPOCH; only do that when the caller
    # asked for it, otherwise image mtimes pass through as they do in the tar and initrd.
    _run(command, boot.epoch if epoch_set else None, "kernel+squashfs")
    outputs = []
    if boot.kernel:
        kernel = staging.path("-kernel")
        shutil.copyfile(boot.kernel_path, kernel)
        staging.keep(kernel, Path(f"{base}-kernel"))
        outputs.append(f"{base}-kernel")
    if boot.parts.cmdline:
        cmdline = staging.path("-cmdline")
        cmdline.write_bytes(boot.parts.cmdline)
        staging.keep(cmdline, Path(f"{base}-cmdline"))
        outputs.append(f"{base}-cmdline")
    staging.keep(image, Path(f"{base}-squashfs.img"))
    outputs.append(f"{base}-squashfs.img")
    say("  " + " ".join(outputs))


def _pseudo_name(name: str) -> str:
    if any(char.isspace() or char in '"\\' for char in name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def _extract(tar_path: Path, root: Path, epoch: int) -> tuple[list[str], bool]:
    """Unpack the build tar without `boot/` as `tar x` would (later entries replace earlier
    ones). Modes and times are set on the tree; devices and FIFOs become mksquashfs pseudo
    definitions so no privilege is needed for them. Ownership is set on the tree when we
    are root; otherwise every entry must be root-owned (then `-all-root` is used), because
    mksquashfs 4.5 cannot modify a directory and its children through pseudo definitions.
    Returns the pseudo definitions and whether every entry is owned by 0:0."""
    meta: dict[str, tuple[str, int, int, int, int]] = {}
    devices: dict[str, str] = {}
    with open(tar_path, "rb") as stream:
        reader = TarReader(stream)
        while True:
            try:
                header = reader.next()
            except TarError as error:
                raise BuildError(f"kernel+squashfs: {error}") from None
            if header is None:
                break
            name = gopath.clean(header.name)
            if name == "boot" or name.startswith("boot/") or name in (".", "/"):
                continue
            if name.startswith(("/", "../")) or name == "..":
                raise BuildError(f"kernel+squashfs: unsafe path {header.name!r}")
            target = root / name
            _check_parents(root, name)
            entry = (header.typeflag, header.mode & 0o7777, header.uid, header.gid,
                     header.mtime)
            if header.typeflag == "5":
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(exist_ok=True)
                os.chmod(target, 0o755)
                devices.pop(name, None)
                meta[name] = entry
                continue
            _clear(target)
            for stale in [key for key in (*meta, *devices) if key.startswith(name + "/")]:
                meta.pop(stale, None)
                devices.pop(stale, None)
            meta.pop(name, None)
            devices.pop(name, None)
            if header.typeflag == "0":
                with open(target, "xb") as out:
                    left = header.size
                    while left:
                        chunk = reader.read(min(left, 1 << 20))
                        if not chunk:
                            raise BuildError(f"kernel+squashfs: truncated entry {name}")
                        out.write(chunk)
                        left -= len(chunk)
                meta[name] = entry
            elif header.typeflag == "2":
                os.symlink(header.linkname, target)
                meta[name] = entry
            elif header.typeflag == "1":
                source_name = gopath.clean(header.linkname)
                _check_parents(root, source_name)
                source = root / source_name
                if source_name.startswith(("/", "../")) or not source.is_file() \
                        or source.is_symlink():
                    raise BuildError(f"kernel+squashfs: hard link {name} to a missing or "
                                     f"unsupported target {header.linkname}")
                # The link shares the target's inode and so its mode, owner and time.
                os.link(source, target)
            elif header.typeflag in ("3", "4", "6"):
                owner = f"{header.mode & 0o7777:o} {header.uid} {header.gid}"
                kind = {"3": "C", "4": "B"}.get(header.typeflag)
                if kind:
                    devices[name] = (f"{_pseudo_name(name)} {kind} {header.mtime} {owner} "
                                     f"{header.devmajor} {header.devminor}\n")
                else:
                    devices[name] = f"{_pseudo_name(name)} I {header.mtime} {owner} f\n"
            else:
                raise BuildError(f"kernel+squashfs: cannot convert tar entry {name} "
                                 f"(type {header.typeflag!r})")
    all_root = all(uid == 0 and gid == 0 for _t, _m, uid, gid, _mt in meta.values())
    privileged = os.geteuid() == 0
    if not all_root and not privileged:
        raise BuildError("kernel+squashfs: the image has files not owned by root; keeping "
                         "their owners needs running as root")
    # Deepest first, so a read-only directory is closed only after its children are done.
    for name in sorted(meta, key=lambda n: (-n.count("/"), n)):
        typeflag, mode, uid, gid, mtime = meta[name]
        path = root / name
        if privileged:
            os.lchown(path, uid, gid)
        if typeflag != "2":
            os.chmod(path, mode)
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    # The tar has no entry for the root itself (nor always for parent directories, which
    # `_check_parents` created): those get the build epoch.
    for path in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()
                         and p.relative_to(root).as_posix() not in meta)]:
        os.utime(path, (epoch, epoch))
    os.chmod(root, 0o755)
    return [devices[name] for name in sorted(devices)], all_root


def _check_parents(root: Path, name: str) -> None:
    # `tar x` in linuxkit's container would follow a symlinked parent inside the container;
    # here that would leave the extraction directory, so it is refused.
    current = root
    for part in name.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise BuildError(f"kernel+squashfs: {name} lies below the symlink "
                             f"{current.relative_to(root)}; not supported")
        if not current.exists():
            current.mkdir()
            os.chmod(current, 0o755)


def _clear(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()


# --------------------------------------------------------------------------------------------
# ISO images


def _iso_bios(boot: BootParts, staging: _Staging, base: Path,
              say: Callable[[str], None]) -> None:
    cmdline = _cmdline(boot, "iso-bios")
    tree = staging.workdir()
    _stage_boot_files(boot, tree)
    (tree / "isolinux").mkdir()
    shutil.copyfile("/usr/lib/ISOLINUX/isolinux.bin", tree / "isolinux" / "isolinux.bin")
    shutil.copyfile("/usr/lib/syslinux/modules/bios/ldlinux.c32",
                    tree / "isolinux" / "ldlinux.c32")
    (tree / "isolinux" / "isolinux.cfg").write_text(_syslinux_cfg(cmdline), encoding="utf-8")
    _fix_times(tree, boot.epoch)
    iso = staging.path(".iso")
    _run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-V", _VOLUME_ID, "-R", "-J",
          "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
          "-boot-load-size", "4", "-boot-info-table",
          "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", str(tree)],
         boot.epoch, "iso-bios")
    staging.keep(iso, Path(f"{base}.iso"))
    say(f"  {base}.iso")


def _syslinux_cfg(cmdline: str) -> str:
    return ("DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /kernel\n"
            f"  APPEND initrd=/initrd.img {cmdline}\n")


def _grub_word(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _iso_efi(boot: BootParts, staging: _Staging, base: Path,
             say: Callable[[str], None]) -> None:
    cmdline = _cmdline(boot, "iso-efi")
    work = staging.workdir()
    config = work / "grub.cfg"
    # The ISO's own files are found by a file only it has, whatever the firmware's device
    # numbering; the configuration is embedded so the EFI image needs nothing else.
    config.write_text(
        "search --no-floppy --set=root --file /lkpolicy-efi-boot\n"
        "set timeout=0\n"
        f"linux /kernel {' '.join(_grub_word(word) for word in cmdline.split())}\n"
        "initrd /initrd.img\nboot\n", encoding="utf-8")
    efi_binary = work / "BOOTX64.EFI"
    _run(["grub-mkimage", "-O", "x86_64-efi", "-o", str(efi_binary), "-p", "/EFI/BOOT",
          "-c", str(config), *_GRUB_MODULES], boot.epoch, "iso-efi")
    tree = work / "iso"
    tree.mkdir()
    _stage_boot_files(boot, tree)
    (tree / "lkpolicy-efi-boot").write_bytes(b"")
    efi_image = tree / "efiboot.img"
    size = _round_up(efi_binary.stat().st_size + _MIB, _MIB)
    with open(efi_image, "wb") as handle:
        handle.truncate(size)
    _fat(efi_image, 0, size, boot.epoch, "iso-efi")
    target = f"{efi_image}@@0"
    _run(["mmd", "-i", target, "::/EFI", "::/EFI/BOOT"], boot.epoch, "iso-efi")
    os.utime(efi_binary, (boot.epoch, boot.epoch))
    _run(["mcopy", "-m", "-i", target, str(efi_binary), "::/EFI/BOOT/BOOTX64.EFI"],
         boot.epoch, "iso-efi")
    _fix_times(tree, boot.epoch)
    iso = staging.path("-efi.iso")
    _run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-V", _VOLUME_ID, "-R", "-J",
          "-e", "efiboot.img", "-no-emul-boot", "-isohybrid-gpt-basdat", str(tree)],
         boot.epoch, "iso-efi")
    staging.keep(iso, Path(f"{base}-efi.iso"))
    say(f"  {base}-efi.iso")


# --------------------------------------------------------------------------------------------
# Raw disks


def _round_up(value: int, unit: int) -> int:
    return (value + unit - 1) // unit * unit


def _fat(image: Path, offset: int, size: int, epoch: int, what: str) -> None:
    sectors = size // 512
    _run(["mformat", "-i", f"{image}@@{offset}", "-T", str(sectors), "-h", "64", "-s", "32",
          "-N", _SERIAL, "-v", _VOLUME_ID, "::"], epoch, what)


def _fat_type(image: Path, offset: int) -> int:
    with open(image, "rb") as handle:
        handle.seek(offset)
        sector = handle.read(512)
    if sector[82:87] == b"FAT32":
        return 0x0C
    if sector[54:59] == b"FAT16":
        return 0x0E
    return 0x01


def _mbr(boot_code: bytes, partition_type: int, start: int, sectors: int) -> bytes:
    # CHS fields hold the "beyond CHS" marker; every BIOS since the 1990s uses the LBA values.
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", partition_type, b"\xfe\xff\xff",
                        start, sectors)
    return (boot_code[:440] + bytes.fromhex(_SERIAL)[::-1] + b"\x00\x00" + entry
            + bytes(48) + b"\x55\xaa")


def _raw_disk(boot: BootParts, staging: _Staging, fmt: str) -> Path:
    cmdline = _cmdline(boot, fmt)
    work = staging.workdir()
    _stage_boot_files(boot, work)
    (work / "syslinux.cfg").write_text(_syslinux_cfg(cmdline), encoding="utf-8")
    _fix_times(work, boot.epoch)
    payload = sum(path.stat().st_size for path in work.iterdir())
    # Room for the FATs, ldlinux.sys/.c32 and slack; at least 32 MiB so the file system is
    # FAT16 (syslinux cannot boot from FAT12 on a hard disk image reliably).
    partition = max(32 * _MIB, _round_up(payload + payload // 10 + 8 * _MIB, _MIB))
    offset = _PARTITION_START * 512
    image = staging.path("-bios.img")
    with open(image, "wb") as handle:
        handle.truncate(offset + partition)
    _fat(image, offset, partition, boot.epoch, fmt)
    target = f"{image}@@{offset}"
    for name in ("syslinux.cfg", "kernel", "initrd.img"):
        _run(["mcopy", "-m", "-i", target, str(work / name), f"::/{name}"], boot.epoch, fmt)
    _run(["syslinux", "--offset", str(offset), "--install", str(image)], boot.epoch, fmt)
    boot_code = Path("/usr/lib/syslinux/mbr/mbr.bin").read_bytes()
    with open(image, "r+b") as handle:
        handle.write(_mbr(boot_code, _fat_type(image, offset), _PARTITION_START,
                          partition // 512))
    return image


def _raw_bios(boot: BootParts, staging: _Staging, base: Path,
              say: Callable[[str], None]) -> None:
    image = _raw_disk(boot, staging, "raw-bios")
    staging.keep(image, Path(f"{base}-bios.img"))
    say(f"  {base}-bios.img")


def _qcow2_bios(boot: BootParts, staging: _Staging, base: Path,
                say: Callable[[str], None]) -> None:
    raw = _raw_disk(boot, staging, "qcow2-bios")
    qcow2 = staging.path(".qcow2")
    _run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)],
         boot.epoch, "qcow2-bios")
    raw.unlink()
    staging.keep(qcow2, Path(f"{base}.qcow2"))
    say(f"  {base}.qcow2")


def describe_tools() -> dict[str, list[str]]:
    """For `--help`-style listings: each bootable format and the Debian packages it needs."""
    return {fmt: sorted({package for _what, _how, package in needs})
            for fmt, needs in TOOLS.items()}

