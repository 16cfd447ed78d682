"""Output files of `linuxkit build` that need no Docker: `tar` and `kernel+initrd`.

Everything is written to temporary files in the output directory and renamed into place only
once every requested output is complete, so a failed build leaves no output file behind (and
does not replace the outputs of an earlier build).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lkpolicy.build.builder import BuildError, BuildOptions, build_tar
from lkpolicy.build.initrd import ConversionError, write_initrd

if TYPE_CHECKING:
    from lkpolicy.config import Config
    from lkpolicy.oci import Platform
    from lkpolicy.store import Store

__all__ = ["KNOWN_FORMATS", "STREAMABLE_FORMATS", "SUPPORTED_FORMATS", "parse_formats",
           "write_outputs"]

STREAMABLE_FORMATS = ("tar", "docker")
KNOWN_FORMATS = (
    "tar", "docker", "kernel+initrd", "tar-kernel-initrd", "iso-bios", "iso-efi",
    "iso-efi-initrd", "raw-bios", "raw-efi", "gcp", "qcow2-efi", "vhd", "dynamic-vhd", "vmdk",
    "rpi3", "kernel+squashfs", "kernel+erofs", "kernel+iso", "aws", "qcow2-bios",
)
SUPPORTED_FORMATS = ("tar", "kernel+initrd")
_OUTPUT_MODE = 0o644


def parse_formats(formats: Iterable[str]) -> list[str]:
    """linuxkit's format list rules: comma-separated values, known names, and a streamable
    format only on its own."""
    result: list[str] = []
    for item in formats:
        for name in item.split(","):
            if name not in KNOWN_FORMATS:
                raise BuildError(f"error parsing formats: unknown format type {name}")
            result.append(name)
    if len(result) > 1:
        for name in result:
            if name in STREAMABLE_FORMATS:
                raise BuildError(f"format type {name} must be the only format specified")
    for name in result:
        if name not in SUPPORTED_FORMATS:
            raise BuildError(f"format {name} is not supported by lkpolicy build "
                             f"(supported: {', '.join(SUPPORTED_FORMATS)})")
    return result


class _Staging:
    """Temporary files next to their final names; `commit` renames them all."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.temporary: list[Path] = []
        self.final: list[tuple[Path, Path]] = []

    def new(self, suffix: str) -> tuple[Path, BinaryIO]:
        handle, path = tempfile.mkstemp(prefix=f".{self.name}.", suffix=f"{suffix}.tmp",
                                        dir=self.directory)
        self.temporary.append(Path(path))
        return Path(path), os.fdopen(handle, "w+b")

    def keep(self, temporary: Path, final: Path) -> None:
        self.final.append((temporary, final))

    def commit(self) -> list[Path]:
        for temporary, _final in self.final:
            os.chmod(temporary, _OUTPUT_MODE)
        done: list[Path] = []
        for temporary, final in self.final:
            os.replace(temporary, final)
            done.append(final)
        self.temporary = [path for path in self.temporary if path not in
                          {temporary for temporary, _ in self.final}]
        return done

    def cleanup(self) -> None:
        for path in self.temporary:
            path.unlink(missing_ok=True)


def write_outputs(config: Config, store: Store, formats: Iterable[str],
                  out_dir: str | os.PathLike[str], name: str, *, platform: Platform,
                  digests: Mapping[str, str] | None = None,
                  options: BuildOptions | None = None) -> list[Path]:
    """Build once and write each requested format as `<out_dir>/<name>...`; returns the files
    written. Raises `BuildError` (linuxkit's message) and then leaves no new file behind."""
    wanted = parse_formats(formats)
    options = options or BuildOptions()
    say: Callable[[str], None] = options.progress or (lambda _line: None)
    directory = Path(out_dir)
    base = directory / name
    staging = _Staging(directory, name)
    try:
        tar_path, tar_stream = staging.new(".tar")
        with tar_stream:
            build_tar(config, store, platform, tar_stream, digests=digests, options=options)
            tar_stream.flush()
            say("Create outputs:")
            if "kernel+initrd" in wanted:
                tar_stream.seek(0)
                _kernel_initrd(tar_stream, staging, base, say)
        if "tar" in wanted:
            say(f"  {base}.tar")
            staging.keep(tar_path, Path(f"{base}.tar"))
        return staging.commit()
    finally:
        staging.cleanup()


def _kernel_initrd(tar_stream: BinaryIO, staging: _Staging, base: Path,
                   say: Callable[[str], None]) -> None:
    kernel_path, kernel = staging.new("-kernel")
    gzip_path, compressed = staging.new("-initrd.gz")
    initrd_path, initrd = staging.new("-initrd.img")
    cmdline_path, cmdline = staging.new("-cmdline")
    with kernel, compressed, initrd, cmdline:
        try:
            parts = write_initrd(tar_stream, compressed, kernel)
        except ConversionError as error:
            raise BuildError(f"error writing outputs: {error}") from None
        initrd.write(parts.ucode)
        compressed.seek(0)
        shutil.copyfileobj(compressed, initrd)
        cmdline.write(parts.cmdline)
    names = []
    if parts.kernel_size:
        staging.keep(kernel_path, Path(f"{base}-kernel"))
        names.append(f"{base}-kernel")
    staging.keep(initrd_path, Path(f"{base}-initrd.img"))
    names.append(("ucode+" if parts.ucode else "") + f"{base}-initrd.img")
    if parts.cmdline:
        staging.keep(cmdline_path, Path(f"{base}-cmdline"))
        names.append(f"{base}-cmdline")
    del gzip_path
    say("  " + " ".join(names))
