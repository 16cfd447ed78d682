"""Output files of `linuxkit build`, written from the intermediate tar stream.

`tar`, `docker`, `kernel+initrd` and `tar-kernel-initrd` need nothing but Python and match
linuxkit (the first two byte for byte; the initrd's gzip member differs only because linuxkit
compresses with pgzip; `BuildOptions.compression_level` trades speed for size). The bootable
formats, and every other format but `rpi3`, replace linuxkit's Docker `mkimage-*` images with
Debian tools run on the host; see `lkpolicy.assemble.media`. The formats themselves (names,
files, tools) are listed in `lkpolicy.assemble.formats`.

Everything is written into a staging directory of the build's own and switched into place as
one set once every requested output (and the build manifest) is complete
(`lkpolicy.assemble.outputset`), so a failed or killed build leaves no output file behind and
does not replace the outputs of an earlier build, and the next build removes what a killed one
left.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import json
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from lkpolicy.assemble.builder import (
    DEFAULT_MTIME,
    BuildError,
    BuildOptions,
    BuildSummary,
    build_stream,
)
from lkpolicy.assemble.formats import (
    FORMATS,
    KNOWN_FORMATS,
    STREAMABLE_FORMATS,
    SUPPORTED_FORMATS,
    FormatUnavailable,
    check_formats,
    parse_formats,
)
from lkpolicy.assemble.hosttools import keep_kernel_and_cmdline
from lkpolicy.assemble.initrd import ConversionError, InitrdParts, initrd_writer
from lkpolicy.assemble.outputset import OutputSet, scratch_directory
from lkpolicy.assemble.sinks import EntrySink, TeeSink
from lkpolicy.assemble.tarstream import TarHeader, TarWriter

if TYPE_CHECKING:
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.model.config import Config
    from lkpolicy.model.oci import Platform

__all__ = ["KNOWN_FORMATS", "MANIFEST_SUFFIX", "STREAMABLE_FORMATS", "SUPPORTED_FORMATS",
           "BuildResult", "ReproducibilityReport", "build_outputs", "parse_formats",
           "source_date_epoch", "verify_reproducible", "write_outputs"]

MANIFEST_SUFFIX = ".build.json"
MANIFEST_VERSION = 1
DOCKERFILE = b'\nFROM scratch\n\nCOPY . ./\n\nENTRYPOINT ["/bin/rc.init"]\n'
_OUTPUT_MODE = 0o644
_CHUNK = 1 << 20
_QUEUED_BLOCKS = 8


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int:
    """The timestamp for anything the build has to invent (file system creation times,
    boot loader files): `SOURCE_DATE_EPOCH` when set, else linuxkit's fixed file mtime, so
    that outputs never depend on the clock."""
    text = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return DEFAULT_MTIME
    if not text.isdigit() or int(text) > 0xFFFFFFFF:
        raise BuildError(f"SOURCE_DATE_EPOCH must be a non-negative integer of at most 32 bits, "
                         f"not {text!r}")
    return int(text)


@dataclass(slots=True)
class BootParts:
    """What the bootable formats are made of, split out of the build stream once."""

    tar_path: Path | None
    """The build tar on disk, written only when a requested format reads it
    (`OutputFormat.reads_tar`); see `tar`."""
    kernel_path: Path
    initrd_gzip_path: Path
    """The gzip-compressed cpio, without the microcode prefix."""
    parts: InitrdParts
    epoch: int

    @property
    def kernel(self) -> bool:
        return self.parts.kernel_size > 0

    @property
    def tar(self) -> Path:
        """The build tar, for the formats that read it."""
        if self.tar_path is None:
            raise BuildError("internal error: this build wrote no tar file")
        return self.tar_path

    def write_initrd_img(self, out: BinaryIO) -> None:
        """`<base>-initrd.img` as linuxkit writes it: microcode, then the gzip member."""
        out.write(self.parts.ucode)
        with open(self.initrd_gzip_path, "rb") as compressed:
            shutil.copyfileobj(compressed, out, _CHUNK)


@dataclass(slots=True)
class BuildResult:
    files: list[Path]
    """Every output file written, then the manifest and the provenance files (if any)."""
    summary: BuildSummary
    manifest: Path | None = None


ProvenanceHook = Callable[[Sequence[tuple[Path, Path]], BuildSummary],
                          Sequence[tuple[str, bytes]]]
"""Given the finished outputs (temporary path, final path) and the summary, the files to add
beside them, by suffix (`lkpolicy.assemble.provenance.ProvenanceWriter`)."""


def build_outputs(config: Config, plan: BuildPlan, formats: Iterable[str],
                  out_dir: str | os.PathLike[str], name: str, *,
                  options: BuildOptions | None = None, manifest: bool = True,
                  provenance: ProvenanceHook | None = None) -> BuildResult:
    """Build once from the gate's `plan` and write each requested format as
    `<out_dir>/<name>...`, plus (unless `manifest=False`) the build manifest
    `<name>.build.json`: the images used with their digests, the plan's trust evidence, and
    the sha256 and size of every output file, plus what `provenance` adds. Raises
    `BuildError` and then leaves no new file behind."""
    # Before the (possibly long) build, not after it.
    wanted = check_formats(formats, plan.platform.architecture)
    options = options or BuildOptions()
    if not 1 <= options.compression_level <= 9:
        raise BuildError(f"compression level must be 1 to 9, not {options.compression_level}")
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        # The outputs of one build are switched as one set in one directory.
        raise FormatUnavailable(f"the output name {name!r} must be a file name, not a path "
                                "(use --dir for the directory)")
    say: Callable[[str], None] = options.progress or (lambda _line: None)
    epoch = source_date_epoch()
    directory = Path(out_dir)
    base = directory / name
    with OutputSet(directory, name) as staging:
        summary, boot, digests = _stream(config, plan, wanted, staging, epoch, options)
        tar_path = boot.tar_path
        say("Create outputs:")
        for fmt in wanted:
            if fmt in ("tar", "docker"):
                assert tar_path is not None
                say(f"  {base}.{fmt}")
                staging.keep(tar_path, Path(f"{base}.{fmt}"))
            elif fmt == "kernel+initrd":
                _kernel_initrd(boot, staging, base, say)
            elif fmt == "tar-kernel-initrd":
                _tar_kernel_initrd(boot, staging, base, say)
            else:
                from lkpolicy.assemble import media

                media.write(fmt, boot, staging, base, say)
        for temporary, final in staging.final:
            summary.outputs[final.name] = digests.get(temporary) or _file_digest(temporary)
        manifest_path: Path | None = None
        if manifest:
            manifest_path = Path(f"{base}{MANIFEST_SUFFIX}")
            body = render_manifest(name, plan.platform, wanted, summary, staging.final,
                                   plan.evidence, epoch)
            _keep_bytes(staging, base, MANIFEST_SUFFIX, body)
        if provenance is not None:
            for suffix, data in provenance(list(staging.final), summary):
                _keep_bytes(staging, base, suffix, data)
        files = staging.commit()
        return BuildResult(files, summary, manifest_path)


def _keep_bytes(staging: OutputSet, base: Path, suffix: str, data: bytes) -> None:
    temporary, handle = staging.new(suffix)
    with handle:
        handle.write(data)
    staging.keep(temporary, Path(f"{base}{suffix}"))


def write_outputs(config: Config, plan: BuildPlan, formats: Iterable[str],
                  out_dir: str | os.PathLike[str], name: str, *,
                  options: BuildOptions | None = None, manifest: bool = False) -> list[Path]:
    """`build_outputs` returning only the files written; no manifest unless asked for."""
    return build_outputs(config, plan, formats, out_dir, name, options=options,
                         manifest=manifest).files


# --------------------------------------------------------------------------------------------
# The manifest


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


def render_manifest(name: str, platform: Platform, formats: Sequence[str],
                    summary: BuildSummary, outputs: Iterable[tuple[Path, Path]],
                    evidence: Sequence[Mapping[str, Any]] | None, epoch: int) -> bytes:
    """The manifest's bytes: sorted keys and lists, no wall-clock time, so that it is as
    reproducible as the outputs it describes. Each output's sha256 and size come from
    `summary.outputs` when known there, else from reading it."""
    files = []
    for temporary, final in outputs:
        digest, size = summary.outputs.get(final.name) or _file_digest(temporary)
        files.append({"file": final.name, "sha256": digest, "size": size})
    platform_text = "/".join(part for part in (platform.os, platform.architecture,
                                               platform.variant) if part)
    document = {
        "manifestVersion": MANIFEST_VERSION,
        "name": name,
        "platform": platform_text,
        "formats": list(formats),
        "sourceDateEpoch": epoch,
        "images": [{"reference": reference, "digest": digest}
                   for reference, digest in sorted(summary.images.items())],
        "outputs": sorted(files, key=lambda entry: str(entry["file"])),
        "trustEvidence": [dict(item) for item in evidence or ()],
        "tarEntries": summary.entries,
    }
    try:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as error:
        raise BuildError(f"build manifest: trust evidence is not JSON data: {error}") from None
    return (text + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Reproducibility


@dataclass(slots=True)
class ReproducibilityReport:
    identical: bool
    files: list[str] = field(default_factory=list)
    """Names of the files both builds produced."""
    differences: list[str] = field(default_factory=list)
    """One line per file that differs or exists in only one build."""


def verify_reproducible(config: Config, plan: BuildPlan, formats: Iterable[str], name: str, *,
                        options: BuildOptions | None = None,
                        work_dir: str | os.PathLike[str] | None = None) -> ReproducibilityReport:
    """Build twice into two fresh temporary directories (manifest included) and compare
    every file byte for byte; the directories are removed afterwards."""
    wanted = list(formats)
    with scratch_directory(work_dir) as top:
        first, second = top / "a", top / "b"
        first.mkdir()
        second.mkdir()
        for directory in (first, second):
            build_outputs(config, plan, wanted, directory, name, options=options)
        names_a = {path.name for path in first.iterdir()}
        names_b = {path.name for path in second.iterdir()}
        differences = [f"{file}: only in the first build" for file in sorted(names_a - names_b)]
        differences += [f"{file}: only in the second build" for file in sorted(names_b - names_a)]
        common = sorted(names_a & names_b)
        for file in common:
            if not filecmp.cmp(first / file, second / file, shallow=False):
                differences.append(f"{file}: contents differ ({_file_digest(first / file)[0]} "
                                   f"vs {_file_digest(second / file)[0]})")
    return ReproducibilityReport(not differences, common, differences)


# --------------------------------------------------------------------------------------------
# The formats that need no tools


def _stream(config: Config, plan: BuildPlan, wanted: Sequence[str], staging: OutputSet,
            epoch: int, options: BuildOptions,
            ) -> tuple[BuildSummary, BootParts, dict[Path, tuple[str, int]]]:
    """Build once, streaming the entries into what the formats need: the tar file (only
    when a format reads it), the initrd (only when a format is not the tar itself). Returns
    the sha256 and size of the files written, hashed as they were written."""
    tar_path: Path | None = None
    tar: TarWriter | None = None
    hashed: dict[Path, _Digesting] = {}
    kernel_path = gzip_path = Path()
    parts = InitrdParts()
    with contextlib.ExitStack() as stack:
        if any(FORMATS[fmt].reads_tar for fmt in wanted):
            tar_path, tar_stream = staging.new(".tar")
            stack.enter_context(tar_stream)
            hashed[tar_path] = tar_file = _Digesting(tar_stream, background=True)
            stack.callback(tar_file.close)
            tar = TarWriter(cast(BinaryIO, tar_file))
        if all(fmt in STREAMABLE_FORMATS for fmt in wanted):
            assert tar is not None
            # docker is the tar with one more entry before the SBOM (linuxkit appends the
            # Dockerfile to the same tar writer).
            epilogue = [(TarHeader("Dockerfile", "0", mode=0o644, size=len(DOCKERFILE),
                                   mtime=DEFAULT_MTIME), DOCKERFILE)] if "docker" in wanted else []
            summary = build_stream(config, plan, tar, options=options, epilogue=epilogue)
        else:
            kernel_path, kernel = staging.new("-kernel")
            gzip_path, compressed = staging.new("-initrd.gz")
            stack.enter_context(kernel)
            stack.enter_context(compressed)
            hashed[gzip_path] = gzip_file = _Digesting(compressed)
            try:
                with initrd_writer(cast(BinaryIO, gzip_file), kernel,
                                   compression_level=options.compression_level) as initrd:
                    sink: EntrySink = initrd if tar is None else TeeSink(tar, initrd)
                    summary = build_stream(config, plan, sink, options=options)
            except ConversionError as error:
                raise BuildError(f"error writing outputs: {error}") from None
            parts = initrd.parts
    # Only now is every file complete (the tar's writing thread is done).
    digests = {path: writer.digest for path, writer in hashed.items()}
    return summary, BootParts(tar_path, kernel_path, gzip_path, parts, epoch), digests


class _Digesting:
    """A file being written, hashed as it goes (for the manifest: no second reading). With
    `background`, writes are gathered into blocks of 1 MiB that a thread of its own hashes and
    writes, so that the build's thread does neither (the tar: hundreds of MB)."""

    def __init__(self, out: BinaryIO, *, background: bool = False) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._error: BaseException | None = None
        if background:
            self._queue = queue.Queue(_QUEUED_BLOCKS)
            self._thread = threading.Thread(target=self._drain, daemon=True)
            self._thread.start()

    def _put(self, data: bytes) -> None:
        self._hash.update(data)
        self._out.write(data)

    def _drain(self) -> None:
        assert self._queue is not None
        while (block := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._put(block)
                except BaseException as error:  # raised in the build's thread, by `close`
                    self._error = error

    def write(self, data: bytes) -> int:
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        self.size += size
        if self._queue is None:
            self._put(data)
            return size
        if self._error is not None:
            raise self._error
        self._pending.append(bytes(data))
        self._pending_size += size
        if self._pending_size >= _CHUNK:
            self.flush()
        return size

    def flush(self) -> None:
        if self._queue is not None and self._pending:
            self._queue.put(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def close(self) -> None:
        """Wait for the thread (if any) to write everything; raises what it met."""
        if self._queue is not None:
            self.flush()
            self._queue.put(None)
            self._thread.join()
            self._queue = None
            if self._error is not None:
                raise self._error

    @property
    def digest(self) -> tuple[str, int]:
        return "sha256:" + self._hash.hexdigest(), self.size


def _kernel_initrd(boot: BootParts, staging: OutputSet, base: Path,
                   say: Callable[[str], None]) -> None:
    if boot.parts.ucode:
        initrd_path, initrd = staging.new("-initrd.img")
        with initrd:
            boot.write_initrd_img(initrd)
    else:  # the gzip member is the whole initrd: no copy
        initrd_path = boot.initrd_gzip_path
    kernel, cmdline = keep_kernel_and_cmdline(boot, staging, base)
    staging.keep(initrd_path, Path(f"{base}-initrd.img"))
    initrd_name = ("ucode+" if boot.parts.ucode else "") + f"{base}-initrd.img"
    say("  " + " ".join(name for name in (kernel, initrd_name, cmdline) if name))


def _tar_kernel_initrd(boot: BootParts, staging: OutputSet, base: Path,
                       say: Callable[[str], None]) -> None:
    path, out = staging.new("-initrd.tar")
    initrd_size = boot.initrd_gzip_path.stat().st_size
    with out:
        writer = TarWriter(out)

        def member(name: str, size: int) -> None:
            writer.begin(TarHeader(name, "0", mode=0o644, size=size, mtime=DEFAULT_MTIME))

        if boot.kernel:
            member("kernel", boot.parts.kernel_size)
            with open(boot.kernel_path, "rb") as kernel:
                writer.copy_from(kernel, boot.parts.kernel_size)
        # linuxkit checks the initrd for emptiness too, but a gzip member never is empty.
        member("initrd.img", initrd_size)
        with open(boot.initrd_gzip_path, "rb") as initrd:
            writer.copy_from(initrd, initrd_size)
        if boot.parts.cmdline:
            member("cmdline", len(boot.parts.cmdline))
            writer.write(boot.parts.cmdline)
        if boot.parts.ucode:
            member("ucode.cpio", len(boot.parts.ucode))
            writer.write(boot.parts.ucode)
        writer.close()
    say(f"  {base}-initrd.tar")
    staging.keep(path, Path(f"{base}-initrd.tar"))
