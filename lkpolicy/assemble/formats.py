"""The one table of `linuxkit build` output formats.

For every format linuxkit knows: the files it writes (linuxkit's names), the host tools lkpolicy
needs to write it and the Debian packages that ship them, how the test suite checks it, and,
for the one format lkpolicy does not build, why. `build_outputs` and the CLI read format names
from here only; `docs/output-formats.md` describes the same table.

Importing this module costs nothing: it names tools, it does not run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from lkpolicy.assemble.builder import BuildError

__all__ = ["FORMATS", "KNOWN_FORMATS", "STREAMABLE_FORMATS", "SUPPORTED_FORMATS",
           "FormatUnavailable", "OutputFormat", "Tool", "check_formats", "missing_tools",
           "parse_formats"]


class FormatUnavailable(BuildError):
    """The requested formats cannot be built here: an unknown or unsupported name, a
    combination linuxkit refuses, two formats writing the same file, or a missing host tool.
    A usage problem (exit code 2), found before anything is built."""


class Tool(NamedTuple):
    what: str
    """The name shown in messages."""
    locate: str
    """A command looked up in PATH, or the absolute path of a file."""
    package: str
    """The Debian package that ships it."""


@dataclass(frozen=True, slots=True)
class OutputFormat:
    name: str
    outputs: tuple[str, ...]
    """What is appended to `<dir>/<name>` for each file written (`.iso`, `-kernel`...)."""
    tools: tuple[Tool, ...] = ()
    streamable: bool = False
    checked_by: str = "structure"
    """How the test suite checks the output: `linuxkit` (against linuxkit's goldens),
    `boot` (booted in QEMU to the example's marker), `structure` (its layout is inspected)."""
    unsupported: str | None = None
    """Why lkpolicy refuses the format, when it does."""
    architectures: tuple[str, ...] | None = None
    """The `--arch` values the format can be made for (None: any); the boot loaders lkpolicy
    installs (SYSLINUX, GRUB's x86_64-efi) are for amd64 only."""
    reads_tar: bool = True
    """Whether its writer reads the build tar from disk (the tar itself, docker, and the
    formats that unpack the root file system or derive their identifiers from the tar); the
    build writes the tar only when one requested format does."""


_XORRISO = Tool("xorriso", "xorriso", "xorriso")
_MTOOLS = Tool("mformat", "mformat", "mtools")
_QEMU_IMG = Tool("qemu-img", "qemu-img", "qemu-utils")
_GRUB_EFI = (Tool("grub-mkimage", "grub-mkimage", "grub-common"),
             Tool("GRUB x86_64-efi modules", "/usr/lib/grub/x86_64-efi/linux.mod",
                  "grub-efi-amd64-bin"))
_ISOLINUX = (Tool("isolinux.bin", "/usr/lib/ISOLINUX/isolinux.bin", "isolinux"),
             Tool("isohdpfx.bin", "/usr/lib/ISOLINUX/isohdpfx.bin", "isolinux"),
             Tool("ldlinux.c32", "/usr/lib/syslinux/modules/bios/ldlinux.c32",
                  "syslinux-common"))
_SYSLINUX_DISK = (_MTOOLS, Tool("syslinux", "syslinux", "syslinux"),
                  Tool("mbr.bin", "/usr/lib/syslinux/mbr/mbr.bin", "syslinux-common"))
_KERNEL_FILES = ("-kernel", "-cmdline")
_AMD64 = ("amd64",)
_RPI3_REFUSAL = (
    "format rpi3 is not supported by lkpolicy build: its boot files (the Raspberry Pi "
    "firmware and the rpi_3 U-Boot) are Debian packages for arm64 and armhf only "
    "(raspi-firmware, u-boot-rpi), and without Raspberry Pi hardware the result could not be "
    "booted or checked; build it with linuxkit on an arm64 host")


def _amd64(name: str, outputs: tuple[str, ...], tools: tuple[Tool, ...],
           checked_by: str = "structure") -> OutputFormat:
    return OutputFormat(name, outputs, tools, checked_by=checked_by, architectures=_AMD64)


_EFI = (*_GRUB_EFI, _MTOOLS)
_TABLE = (
    OutputFormat("tar", (".tar",), streamable=True, checked_by="linuxkit"),
    OutputFormat("docker", (".docker",), streamable=True, checked_by="linuxkit"),
    OutputFormat("kernel+initrd", ("-kernel", "-initrd.img", "-cmdline"), checked_by="boot",
                 reads_tar=False),
    OutputFormat("tar-kernel-initrd", ("-initrd.tar",), checked_by="linuxkit", reads_tar=False),
    _amd64("iso-bios", (".iso",), (_XORRISO, *_ISOLINUX), "boot"),
    _amd64("iso-efi", ("-efi.iso",), (_XORRISO, *_EFI), "boot"),
    _amd64("iso-efi-initrd", ("-efi-initrd.iso",), (_XORRISO, *_EFI), "boot"),
    _amd64("raw-bios", ("-bios.img",), _SYSLINUX_DISK, "boot"),
    _amd64("raw-efi", ("-efi.img",), _EFI, "boot"),
    _amd64("gcp", (".img.tar.gz",), (*_SYSLINUX_DISK, Tool("GNU tar", "tar", "tar"))),
    _amd64("qcow2-efi", ("-efi.qcow2",), (*_EFI, _QEMU_IMG), "boot"),
    _amd64("vhd", (".vhd",), (*_SYSLINUX_DISK, _QEMU_IMG)),
    _amd64("dynamic-vhd", (".vhd",), (*_SYSLINUX_DISK, _QEMU_IMG)),
    _amd64("vmdk", (".vmdk",), (*_SYSLINUX_DISK, _QEMU_IMG)),
    OutputFormat("rpi3", (".tar",), unsupported=_RPI3_REFUSAL),
    OutputFormat("kernel+squashfs", (*_KERNEL_FILES, "-squashfs.img"),
                 (Tool("mksquashfs", "mksquashfs", "squashfs-tools"),)),
    OutputFormat("kernel+erofs", (*_KERNEL_FILES, "-erofs.img"),
                 (Tool("mkfs.erofs", "mkfs.erofs", "erofs-utils"),)),
    OutputFormat("kernel+iso", (*_KERNEL_FILES, ".iso"), (_XORRISO,)),
    _amd64("aws", (".raw",), _SYSLINUX_DISK),
    _amd64("qcow2-bios", (".qcow2",), (*_SYSLINUX_DISK, _QEMU_IMG), "boot"),
)

FORMATS: dict[str, OutputFormat] = {fmt.name: fmt for fmt in _TABLE}
"""Every format linuxkit knows, in the order of linuxkit's own table."""
KNOWN_FORMATS = tuple(FORMATS)
STREAMABLE_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.streamable)
SUPPORTED_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.unsupported is None)
_SHARED_OUTPUTS = frozenset(_KERNEL_FILES)
"""Files that several formats write with the same bytes, so asking for two of them is fine."""


def parse_formats(formats: Iterable[str]) -> list[str]:
    """linuxkit's format list rules (comma-separated values, known names, a streamable format
    only on its own), then lkpolicy's: a supported format, and no two formats writing the same
    file with different contents (linuxkit would let the last one overwrite the other)."""
    result: list[str] = []
    for item in formats:
        for name in item.split(","):
            if name not in FORMATS:
                raise FormatUnavailable(f"error parsing formats: unknown format type {name} "
                                        f"(lkpolicy builds: {', '.join(SUPPORTED_FORMATS)})")
            result.append(name)
    if len(result) > 1:
        for name in result:
            if FORMATS[name].streamable:
                raise FormatUnavailable(f"format type {name} must be the only format specified")
    writers: dict[str, str] = {}
    for name in result:
        refusal = FORMATS[name].unsupported
        if refusal is not None:
            raise FormatUnavailable(refusal)
        for suffix in FORMATS[name].outputs:
            other = writers.setdefault(suffix, name)
            if other != name and suffix not in _SHARED_OUTPUTS:
                raise FormatUnavailable(f"formats {other} and {name} both write NAME{suffix}; "
                                        f"build them one at a time")
    return result


def _found(locate: str) -> bool:
    if locate.startswith("/"):
        return os.path.exists(locate)
    return shutil.which(locate) is not None


def missing_tools(fmt: str) -> list[str]:
    """One line per tool the format needs and this host lacks, naming the Debian package."""
    spec = FORMATS.get(fmt)
    return [f"format {fmt} needs {tool.what}: install the Debian package {tool.package}"
            for tool in (spec.tools if spec else ()) if not _found(tool.locate)]


def check_formats(formats: Iterable[str], architecture: str | None = None) -> list[str]:
    """`parse_formats`, the architecture (`--arch`, when known) and every tool the formats
    need: the checks to make before a build starts. Raises `FormatUnavailable` with one
    line."""
    wanted = parse_formats(formats)
    for fmt in wanted:
        allowed = FORMATS[fmt].architectures
        if architecture is not None and allowed is not None and architecture not in allowed:
            raise FormatUnavailable(f"format {fmt} makes {'/'.join(allowed)} boot media only "
                                    f"(its boot loaders are x86 ones), not {architecture}")
    for fmt in wanted:
        missing = missing_tools(fmt)
        if missing:
            raise FormatUnavailable(missing[0])
    return wanted
