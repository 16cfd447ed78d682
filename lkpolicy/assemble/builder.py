"""linuxkit's intermediate tar stream (`moby/build/build.go` `Build`), byte for byte.

Sections in linuxkit's order: kernel, init images, volumes, onboot, onshutdown, services,
files (spec section 2), then the SBOM if asked for (`lkpolicy.assemble.sbom`). Every entry
but the SBOM carries the `LINUXKIT.source` / `LINUXKIT.location` records. Image content goes
through the per-image filters of spec section 4.

The stream is written as it is produced, into an `EntrySink`: the tar file, the initrd
converter, or both (`build_stream`). On any error `BuildError` is raised and whatever was
written so far must be discarded by the caller (`build_outputs` writes into a staging
directory and switches only complete output sets into place).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from lkpolicy.assemble.entries import (
    DEFAULT_MTIME,
    LOCATION_RECORD,
    SOURCE_RECORD,
    BuildError,
    dir_header,
    file_header,
    symlink_header,
)
from lkpolicy.assemble.filesection import FilesSection
from lkpolicy.assemble.flatten import Budget, FlattenError, Limits, flatten
from lkpolicy.assemble.tarreader import TarReader
from lkpolicy.assemble.tarstream import (
    Readable,
    TarError,
    TarHeader,
    TarWriter,
)
from lkpolicy.gocompat.paths import clean as go_clean
from lkpolicy.gocompat.paths import escapes_root
from lkpolicy.model.gomodel import go_model
from lkpolicy.model.reference import ReferenceError, expand
from lkpolicy.stages.effective import (
    Placement,
)
from lkpolicy.store.errors import StoreError

if TYPE_CHECKING:
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.assemble.sbom import SbomOptions
    from lkpolicy.assemble.sinks import EntrySink
    from lkpolicy.model.config import Config
    from lkpolicy.store.lookup import ResolvedImage

__all__ = [
    "DEFAULT_MTIME",
    "HOSTS",
    "RESOLV_CONF",
    "BuildError",
    "BuildOptions",
    "BuildSummary",
    "build_stream",
    "build_tar",
]

HOSTS = (b"127.0.0.1       localhost\n::1     localhost ip6-localhost ip6-loopback\n"
         b"fe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\n"
         b"ff02::2 ip6-allrouters\n")
RESOLV_CONF = b"\n# no resolv.conf configured\n"
RESOLV_TARGET = "/run/resolvconf/resolv.conf"
APK_DB = "lib/apk/db/installed"
_MAX_APK_DB = 256 << 20
_EXCLUDED = frozenset({".dockerenv", "Dockerfile", "dev/console", "dev/pts", "dev/shm",
                       "etc/hostname"})


@dataclass(frozen=True, slots=True)
class BuildOptions:
    limits: Limits = field(default_factory=Limits)
    """The build's expansion budget (decompression bombs)."""
    allow_container_devices: bool = False
    """Device nodes in onboot/onshutdown/services/volume images (linuxkit allows them; the
    gate refuses them unless told otherwise). Kernel and init images may always carry them."""
    progress: Callable[[str], None] | None = None
    """Receives linuxkit's progress lines (which it prints to stderr)."""
    compression_level: int = 1
    """gzip level of the initrd, 1 (the default: fastest, ISA-L) to 9 (smallest, libdeflate,
    ~16% less than level 1), both on every CPU; see `lkpolicy.assemble.initrd`."""
    sbom: SbomOptions | None = None
    """Append linuxkit's merged SPDX SBOM to the tar (`lkpolicy.assemble.sbom`); None is
    linuxkit's `--no-sbom`."""


@dataclass(slots=True)
class BuildSummary:
    entries: int = 0
    images: dict[str, str] = field(default_factory=dict)
    """Expanded reference -> digest of the cache entry used."""
    extracted: list[tuple[str, str]] = field(default_factory=list)
    """(expanded reference, prefix) of every image extraction, in order (the SBOM's order)."""
    sbom: bytes | None = None
    """The SBOM written at the end of the tar, if any."""
    sbom_path: str | None = None
    """Its name in the tar."""
    sbom_media_type: str | None = None
    """Its format (SPDX or CycloneDX JSON)."""
    outputs: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Output file name -> (`sha256:<hex>`, size), set by `build_outputs` once the outputs are
    complete, for the manifest and the provenance (no output is read twice)."""


class _Tee:
    """Keeps a copy of what passes through (the APK database bodies)."""

    def __init__(self, inner: Readable, sink: bytearray) -> None:
        self._inner = inner
        self._sink = sink

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        if len(self._sink) + len(data) > _MAX_APK_DB:
            raise BuildError(f"{APK_DB} is larger than {_MAX_APK_DB} bytes")
        self._sink.extend(data)
        return data


class _Builder:
    def __init__(self, config: Config, plan: BuildPlan, sink: EntrySink,
                 options: BuildOptions,
                 epilogue: Sequence[tuple[TarHeader, bytes]] = ()) -> None:
        self.config = config
        self.plan = plan
        self.store = plan.store
        self.platform = plan.platform
        self.tar = sink
        self.epilogue = epilogue
        self.options = options
        self.model = go_model(config)
        self.summary = BuildSummary()
        self.budget = Budget(options.limits)

    def say(self, line: str) -> None:
        if self.options.progress is not None:
            self.options.progress(line)

    # ---------------------------------------------------------------- images

    def resolve(self, reference: str) -> tuple[str, ResolvedImage]:
        try:
            expanded = expand(reference)
        except ReferenceError as error:
            raise BuildError(f"could not pull image {reference}: {error}") from None
        resolved = self.plan.images.get(expanded)
        if resolved is None:
            raise BuildError(f"could not pull image {reference}: {expanded} was not resolved "
                             "by the gate (lkpolicy build never pulls)")
        self.summary.images[expanded] = resolved.digest
        return expanded, resolved

    def flattened(self, resolved: ResolvedImage, expanded: str,
                  allow_devices: bool) -> Iterator[tuple[TarHeader, Readable]]:
        return flatten(self.store, resolved, what=f"image {expanded}", budget=self.budget,
                       allow_devices=allow_devices)

    def write(self, header: TarHeader, body: bytes | None = None) -> None:
        try:
            self.tar.add(header, body)
        except TarError as error:
            raise BuildError(str(error)) from None

    def copy(self, header: TarHeader, body: Readable) -> None:
        try:
            self.tar.begin(header)
            if header.has_body:
                self.tar.copy_from(body, header.size)
        except TarError as error:
            raise BuildError(str(error)) from None

    def image_content(self, expanded: str, resolved: ResolvedImage, prefix: str, location: str,
                      *, resolv_symlink: bool, allow_devices: bool,
                      apk: list[bytearray] | None = None) -> None:
        """`ImageTar`: the flattened image under `prefix`, filtered, then the touch list."""
        found: set[str] = set()
        self.summary.extracted.append((expanded, prefix))
        for header, body in self.flattened(resolved, expanded, allow_devices):
            name = header.name
            if name in _EXCLUDED:
                continue
            out = header.copy()
            out.pax[LOCATION_RECORD] = location
            out.pax[SOURCE_RECORD] = expanded
            replacement: bytes | None = None
            if name in ("etc/hosts", "etc/resolv.conf"):
                out.mtime, out.mtime_ns = DEFAULT_MTIME, 0
                if name == "etc/resolv.conf" and resolv_symlink:
                    out.typeflag, out.linkname, out.size = "2", RESOLV_TARGET, 0
                else:
                    replacement = HOSTS if name == "etc/hosts" else RESOLV_CONF
                    if not out.has_body:
                        raise BuildError("archive/tar: write too long")
                    out.size = len(replacement)
            else:
                if name == "etc/mtab":
                    out.mtime, out.mtime_ns = DEFAULT_MTIME, 0
                found.add(name)
                if out.typeflag == "1":
                    out.linkname = prefix + header.linkname
            out.name = prefix + name
            if replacement is not None:
                self.write(out, replacement)
            elif apk is not None and out.name == APK_DB and out.has_body:
                sink = bytearray()
                self.copy(out, _Tee(body, sink))
                apk.append(sink)
            else:
                self.copy(out, body)
        self.touch(prefix, expanded, location, found, resolv_symlink)

    def touch(self, prefix: str, source: str, location: str, found: set[str],
              resolv_symlink: bool) -> None:
        entries: list[tuple[str, TarHeader, bytes | None]] = [
            ("dev/", dir_header(prefix + "dev", source, location), None),
            ("dev/pts/", dir_header(prefix + "dev/pts", source, location), None),
            ("dev/shm/", dir_header(prefix + "dev/shm", source, location), None),
            ("etc/", dir_header(prefix + "etc", source, location), None),
            ("etc/hosts", file_header(prefix + "etc/hosts", len(HOSTS), source, location), HOSTS),
            ("etc/mtab", symlink_header(prefix + "etc/mtab", "/proc/mounts", source, location,
                                  mode=0o755), None),
        ]
        if resolv_symlink:
            entries.append(("etc/resolv.conf", symlink_header(prefix + "etc/resolv.conf",
                                                        RESOLV_TARGET, source, location,
                                                        mode=0o644), None))
        else:
            entries.append(("etc/resolv.conf", file_header(prefix + "etc/resolv.conf",
                                                     len(RESOLV_CONF), source, location),
                            RESOLV_CONF))
        entries.append(("proc/", dir_header(prefix + "proc", source, location), None))
        entries.append(("sys/", dir_header(prefix + "sys", source, location), None))
        for key, header, body in entries:
            if key not in found:
                self.write(header, body)

    # ---------------------------------------------------------------- sections

    def kernel(self) -> None:
        kernel = self.model["kernel"]
        reference = kernel.get("image", "")
        if not reference:
            return
        self.say(f"Extract kernel image: {reference}")
        expanded, resolved = self.resolve(reference)
        binary = kernel.get("binary") or "kernel"
        tarball = kernel.get("tar", "kernel.tar")
        tarball = None if tarball in ("", "none") else tarball
        ucode = kernel.get("ucode") or None
        cmdline = str(kernel.get("cmdline", "")).encode("utf-8", "surrogateescape")
        location = "kernel"
        seen_binary = seen_tar = seen_ucode = False
        self.summary.extracted.append((expanded, ""))
        try:
            for header, body in self.flattened(resolved, expanded, True):
                if header.name == binary:
                    if seen_binary:
                        raise BuildError("failed to extract kernel image and tarball: found "
                                         "more than one possible kernel image")
                    if not seen_ucode:
                        self.write(dir_header("boot", expanded, location))
                    self.write(file_header("boot/cmdline", len(cmdline), expanded, location), cmdline)
                    self.copy(file_header("boot/kernel", header.size, expanded, location,
                                    mode=header.mode), body)
                    seen_binary = True
                elif tarball is not None and header.name == tarball:
                    self.kernel_tar(body, expanded, location)
                    seen_tar = True
                elif ucode is not None and header.name == ucode:
                    if not seen_binary:
                        self.write(dir_header("boot", expanded, location))
                    self.copy(file_header("boot/ucode.cpio", header.size, expanded, location,
                                    mode=header.mode), body)
                    seen_ucode = True
        except FlattenError as error:
            raise BuildError(f"failed to extract kernel image and tarball: {error}") from None
        except StoreError as error:
            raise BuildError(f"failed to extract kernel image and tarball: {error}") from None
        if not seen_binary:
            raise BuildError("close error: did not find kernel in kernel image")
        if tarball is not None and not seen_tar:
            raise BuildError("close error: did not find kernel tar in kernel image")

    def kernel_tar(self, body: Readable, expanded: str, location: str) -> None:
        reader = TarReader(body)
        while True:
            try:
                header = reader.next()
            except TarError as error:
                raise BuildError(f"failed to extract kernel image and tarball: {error}") from None
            if header is None:
                break
            problem = None
            if header.typeflag not in "01234567" or header.typeflag == "":
                problem = f"unsupported entry type {header.typeflag!r}"
            elif "\x00" in header.name or "\x00" in header.linkname:
                problem = "name contains NUL"
            elif escapes_root(header.name):
                problem = "name leaves the image root"
            elif header.typeflag == "1" and escapes_root(header.linkname):
                problem = "hard link target leaves the image root"
            elif not header.has_body and header.size > 0:
                problem = "archive/tar: write too long"
            if problem is not None:
                raise BuildError(f"failed to extract kernel image and tarball: kernel tar entry "
                                 f"{header.name!r}: {problem}")
            header.pax[LOCATION_RECORD] = location
            header.pax[SOURCE_RECORD] = expanded
            self.copy(header, reader)

    def init(self) -> None:
        references = self.model["init"]
        if references:
            self.say("Add init containers:")
        bodies: list[bytearray] = []
        for index, reference in enumerate(references):
            self.say(f"Process init image: {reference}")
            expanded, resolved = self.resolve(reference)
            try:
                self.image_content(expanded, resolved, "", f"init[{index}]",
                                   resolv_symlink=True, allow_devices=True, apk=bodies)
            except (FlattenError, StoreError) as error:
                raise BuildError(f"failed to build init tarball from {reference}: {error}") from None
        if len(bodies) >= 2:
            merged = b"".join(bytes(body) + b"\n\n" for body in bodies)
            self.write(file_header(APK_DB, len(merged), "LINUXKIT.apkinit", "init", mtime=0), merged)

    def volumes(self) -> None:
        volumes = self.model["volumes"]
        if volumes:
            self.say("Add volumes:")
        for index, volume in enumerate(volumes):
            name = volume.get("name", "")
            if "/" in name or name in (".", ".."):
                raise BuildError(f"failed to build volume filesystem tarball from {name}: "
                                 "invalid volume name")
            # The empty name is valid to linuxkit: its volume is `containers/volumes` itself.
            path = "containers/volumes" + (f"/{name}" if name else "")
            location = f"volume[{index}]"
            reference = volume.get("image", "")
            expanded = ""
            resolved: ResolvedImage | None = None
            if reference:
                expanded, resolved = self.resolve(reference)
            source = expanded or "empty"
            parts = f"{path}/lower".split("/")
            for depth in range(1, len(parts) + 1):
                self.write(dir_header("/".join(parts[:depth]), source, location))
            if resolved is not None:
                fmt = volume.get("format") or "filesystem"
                if fmt != "filesystem":
                    raise BuildError(f"failed to build volume OCI v1 layout tarball from {name}: "
                                     f"format {fmt!r} is not supported by lkpolicy build")
                try:
                    self.image_content(expanded, resolved, path + "/lower/", location,
                                       resolv_symlink=True,
                                       allow_devices=self.options.allow_container_devices)
                except (FlattenError, StoreError) as error:
                    raise BuildError(f"failed to build volume filesystem tarball from {name}: "
                                     f"{error}") from None
            self.write(dir_header(path + "/tmp/", "linuxkit.volumes", location))
            self.write(dir_header(path + "/merged/", "linuxkit.volumes", location))

    def containers(self) -> None:
        roots: dict[str, str] = {}
        announced: set[str] = set()
        for section, index, _node in self.config.containers():
            if section not in announced:
                announced.add(section)
                self.say(f"Add {section} containers:")
            entry = self.model[section][index]
            reference = entry.get("image", "")
            name = entry.get("name", "")
            self.say(f"  Create OCI config for {reference}")
            expanded, resolved = self.resolve(reference)
            placement = Placement(section, index, name)
            planned = self.plan.containers.get((section, index))
            if planned is None:
                raise BuildError(f"failed to create OCI spec for {reference}: the gate did not "
                                 "judge this container")
            effective = planned.effective
            error = planned.error
            if effective is None:
                assert error is not None
                if error.stage == "volumes":
                    raise BuildError(f"failed update image {reference} from volumes: "
                                     f"{error.message}")
                raise BuildError(f"failed to create OCI spec for {reference}: "
                                 f"{error.message}")
            path = placement.path
            if escapes_root(path) or go_clean(path) != path:
                raise BuildError(f"failed to extract root filesystem for {reference}: "
                                 f"container name {name!r} does not give a plain path")
            location = placement.location
            first = expanded not in roots
            root = roots.setdefault(expanded,
                                    f"{path}/rootfs" if effective.readonly else f"{path}/lower")
            # Every directory on the way, as linuxkit writes them: a name with `/` in it
            # (`a/b`) gives `.../000-a` and then `.../000-a/b`.
            parts = path.split("/")
            directories = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
            if first:
                directories.append(root)
            for directory in directories:
                self.write(dir_header(directory, expanded, location))
            if first:
                try:
                    self.image_content(expanded, resolved, root + "/", location,
                                       resolv_symlink=False,
                                       allow_devices=self.options.allow_container_devices)
                except (FlattenError, StoreError) as error:
                    raise BuildError(f"failed to extract root filesystem for {reference}: "
                                     f"{error}") from None
            config_json = effective.config_json
            self.write(file_header(f"{path}/config.json", len(config_json), expanded, location),
                       config_json)
            if not effective.readonly:
                self.write(dir_header(f"{path}/tmp", expanded, location))
                self.write(dir_header(f"{path}/rootfs", expanded, location))
            elif not first:
                self.write(dir_header(f"{path}/rootfs", expanded, location))
            runtime_json = effective.runtime_json
            self.write(file_header(f"{path}/runtime.json", len(runtime_json), expanded, location),
                       runtime_json)

    def files(self) -> None:
        FilesSection(self.config, self.model, self.plan, self.tar, self.say).write_all()

    def run(self) -> BuildSummary:
        self.kernel()
        self.init()
        self.volumes()
        self.containers()
        self.files()
        for header, body in self.epilogue:
            self.write(header, body)
        if self.options.sbom is not None:
            from lkpolicy.assemble.sbom import sbom_entry

            header, body = sbom_entry(self.plan, self.model["files"], self.summary.extracted,
                                      self.options.sbom)
            self.write(header, body)
            self.summary.sbom, self.summary.sbom_path = body, header.name
            self.summary.sbom_media_type = self.options.sbom.media_type
        # Not counting what the output adds (docker's Dockerfile): the tar's entries.
        self.summary.entries = self.tar.count - len(self.epilogue)
        try:
            self.tar.close()
        except TarError as error:
            raise BuildError(str(error)) from None
        return self.summary


def build_tar(config: Config, plan: BuildPlan, out_stream: BinaryIO, *,
              options: BuildOptions | None = None) -> BuildSummary:
    """Write linuxkit's build tar for `config` to `out_stream` (with the SBOM if
    `options.sbom`, else as with `--no-sbom`), from the images and container configs of `plan`
    (the gate's): never touches the network and never resolves a reference itself.

    Raises `BuildError`; the stream then holds a partial tar and must be discarded.
    """
    return build_stream(config, plan, TarWriter(out_stream), options=options)


def build_stream(config: Config, plan: BuildPlan, sink: EntrySink, *,
                 options: BuildOptions | None = None,
                 epilogue: Sequence[tuple[TarHeader, bytes]] = ()) -> BuildSummary:
    """`build_tar` into any `EntrySink` (closed at the end): the tar file, the initrd
    converter, or both. `epilogue`: entries an output adds after the build's own and before
    the SBOM (docker's Dockerfile), not counted in `BuildSummary.entries`. Raises
    `BuildError`, and whatever the sink raises that is not a `TarError` (the initrd's
    `ConversionError`)."""
    return _Builder(config, plan, sink, options or BuildOptions(), epilogue).run()
