"""What the format writers share: running Debian's image tools reproducibly, the build's
identity (the seed of every UUID and serial number they write), and small file helpers.

Tools run with `LC_ALL=C`, no standard input, their output captured, and (when the writer
asks) `SOURCE_DATE_EPOCH`; a failure becomes a one-line `BuildError` with the tool's last
line of output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from lkpolicy.assemble.builder import BuildError
from lkpolicy.assemble.formats import FORMATS

if TYPE_CHECKING:
    from lkpolicy.assemble.outputs import BootParts

__all__ = ["MIB", "Identity", "Say", "StagingArea", "Writer", "blank_file", "fix_times",
           "image_path", "keep_image", "keep_kernel_and_cmdline", "one_line_cmdline",
           "round_up", "run", "stage_boot_files"]

MIB = 1 << 20
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "lkpolicy:build-identity")
_CHUNK = 1 << 20

Say = Callable[[str], None]


class StagingArea(Protocol):
    """The output staging of `build_outputs`: temporary files next to their final names,
    renamed into place once every output is complete."""

    final: list[tuple[Path, Path]]

    def new(self, suffix: str) -> tuple[Path, BinaryIO]: ...

    def path(self, suffix: str) -> Path: ...

    def workdir(self) -> Path: ...

    def keep(self, temporary: Path, final: Path) -> None: ...


Writer = Callable[["BootParts", StagingArea, Path, Say], None]
"""A format writer: the split build, the staging, the output base path, progress lines."""


def run(command: Sequence[str], epoch: int | None, what: str) -> None:
    environment = dict(os.environ)
    environment["LC_ALL"] = "C"
    # mtools reads ~/.mtoolsrc and /etc/mtools.conf; skip_check keeps it from refusing images
    # whose geometry it considers unusual.
    environment["MTOOLS_SKIP_CHECK"] = "1"
    if epoch is not None:
        environment["SOURCE_DATE_EPOCH"] = str(epoch)
    else:
        environment.pop("SOURCE_DATE_EPOCH", None)
    try:
        result = subprocess.run(list(command), env=environment, capture_output=True,
                                stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        raise BuildError(f"{what}: cannot run {command[0]}: {error.strerror or error}") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
        last = detail.splitlines()[-1] if detail else f"exit status {result.returncode}"
        # Tools echo file names from the image: never let them reach the terminal raw.
        from lkpolicy.report.printer import sanitize

        raise BuildError(f"{what}: {command[0]} failed: {sanitize(last)}")


class Identity:
    """UUIDs and serial numbers derived from the build tar, so that the same inputs give the
    same bytes and different builds different identifiers (tools would pick random ones)."""

    def __init__(self, digest: bytes) -> None:
        self.digest = digest

    @classmethod
    def of(cls, boot: BootParts) -> Identity:
        digest = hashlib.sha256()
        with open(boot.tar, "rb") as tar:
            while chunk := tar.read(_CHUNK):
                digest.update(chunk)
        digest.update(boot.epoch.to_bytes(8, "big"))
        return cls(digest.digest())

    def uuid(self, label: str) -> uuid.UUID:
        """A name-based (version 5) UUID for one purpose (`label`) of this build."""
        return uuid.uuid5(_NAMESPACE, f"{self.digest.hex()}/{label}")

    def serial(self, label: str) -> str:
        """Eight hex digits, for FAT volume serials and MBR disk signatures."""
        return self.uuid(label).hex[:8]


def image_path(base: Path, fmt: str) -> Path:
    """The final name of the format's image: its last output in the format table."""
    return Path(f"{base}{FORMATS[fmt].outputs[-1]}")


def keep_image(staging: StagingArea, image: Path, base: Path, fmt: str, say: Say) -> None:
    """Stage the format's finished image under its final name and say so."""
    final = image_path(base, fmt)
    staging.keep(image, final)
    say(f"  {final}")


def blank_file(path: Path, size: int) -> None:
    """A file of `size` zero bytes, sparse where the file system allows."""
    with open(path, "wb") as handle:
        handle.truncate(size)


def one_line_cmdline(boot: BootParts, fmt: str) -> str:
    text = boot.parts.cmdline.decode("utf-8", "surrogateescape")
    if "\n" in text or "\r" in text:
        raise BuildError(f"format {fmt}: the kernel cmdline must be one line")
    return text


def stage_boot_files(boot: BootParts, directory: Path) -> None:
    """`kernel` and `initrd.img` (microcode prefix included, as `kernel+initrd` writes it)."""
    shutil.copyfile(boot.kernel_path, directory / "kernel")
    with open(directory / "initrd.img", "wb") as out:
        boot.write_initrd_img(out)


def fix_times(root: Path, epoch: int) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


def xorriso_sort_weights(tree: Path, scratch: Path) -> list[str]:
    """xorriso options that place file data in path order. libisofs orders files of equal
    weight by their source inode numbers, and a fresh staging tree gets fresh inodes, so
    without a distinct weight per file two builds of the same inputs can place the same
    files at different blocks. A name with a line break cannot be written in the list and
    keeps the default weight (only a hostile image has one)."""
    files = sorted(relative for path in tree.rglob("*")
                   if path.is_file() and not path.is_symlink()
                   and "\n" not in (relative := path.relative_to(tree).as_posix()))
    weights = scratch / "sort-weights"
    with weights.open("w", encoding="utf-8", errors="surrogateescape") as stream:
        for index, name in enumerate(files):
            stream.write(f"{len(files) - index} /{name}\n")
    return ["--sort-weight-list", str(weights)]


def round_up(value: int, unit: int) -> int:
    return (value + unit - 1) // unit * unit


def keep_kernel_and_cmdline(boot: BootParts, staging: StagingArea,
                            base: Path) -> tuple[str | None, str | None]:
    """`<base>-kernel` and `<base>-cmdline` (each only if not empty, as linuxkit does), staged
    once per build even when several requested formats include them. Returns their names
    (None for one not written), for the progress line."""
    already = {final for _temporary, final in staging.final}
    kernel_final, cmdline_final = Path(f"{base}-kernel"), Path(f"{base}-cmdline")
    if boot.kernel and kernel_final not in already:
        kernel = staging.path("-kernel")
        shutil.copyfile(boot.kernel_path, kernel)
        staging.keep(kernel, kernel_final)
    if boot.parts.cmdline and cmdline_final not in already:
        cmdline = staging.path("-cmdline")
        cmdline.write_bytes(boot.parts.cmdline)
        staging.keep(cmdline, cmdline_final)
    return (str(kernel_final) if boot.kernel else None,
            str(cmdline_final) if boot.parts.cmdline else None)
