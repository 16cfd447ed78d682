"""linuxkit's `files:` section of the build's tar stream (`moby/build/build.go`
`filesystem`), byte for byte: parent directories, directories, symlinks, contents, the config's
metadata, and host files, streamed from the bytes the gate read and checked against its sha256
as they are written."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from lkpolicy.assemble.entries import BuildError, dir_header, file_header, symlink_header
from lkpolicy.assemble.metadata import expanded_model, render_json, render_yaml
from lkpolicy.assemble.tarstream import TarError, TarHeader
from lkpolicy.gocompat.numbers import NumError, parse_uint
from lkpolicy.gocompat.paths import escapes_root
from lkpolicy.stages.effective import SpecError, id_map, id_number

if TYPE_CHECKING:
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.assemble.sinks import EntrySink
    from lkpolicy.model.config import Config
    from lkpolicy.stages.localfiles import LocalFile

__all__ = ["FilesSection", "go_errno_text"]


def go_errno_text(error: OSError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


class Hashing:
    """A stream that hashes what is read from it."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self.inner.read(size)
        self.digest.update(data)
        return data

    def hexdigest(self) -> str:
        return "sha256:" + self.digest.hexdigest()



class FilesSection:
    """Writes the `files:` entries of one build into its tar stream."""

    def __init__(self, config: Config, model: dict[str, Any], plan: BuildPlan,
                 tar: EntrySink, say: Callable[[str], None]) -> None:
        self.config = config
        self.model = model
        self.plan = plan
        self.tar = tar
        self.say = say

    def write(self, header: TarHeader, body: bytes | None = None) -> None:
        try:
            self.tar.add(header, body)
        except TarError as error:
            raise BuildError(str(error)) from None

    def write_all(self) -> None:
        entries = self.model["files"]
        if entries:
            self.say("Add files:")
        ids = id_map(self.config)
        made: set[str] = set()
        for index, entry in enumerate(entries):
            try:
                self.one_file(index, entry, ids, made)
            except SpecError as error:
                raise BuildError(f"failed to add filesystem parts: {error.message}") from None
            except TarError as error:
                raise BuildError(f"failed to add filesystem parts: {error}") from None

    def one_file(self, index: int, entry: Mapping[str, Any], ids: Mapping[str, int],
                 made: set[str]) -> None:
        def fail(message: str) -> BuildError:
            return BuildError(f"failed to add filesystem parts: {message}")

        original = entry.get("path", "")
        if not original:
            raise fail("did not specify path for file")
        path = original[1:] if original.startswith("/") else original
        if "\x00" in path or escapes_root(path):
            raise fail(f"path {original} leaves the image root")
        self.say(f"  {path}")
        directory = bool(entry.get("directory"))
        symlink = entry.get("symlink", "")
        mode = 0o700 if directory else 0o600
        if entry.get("mode"):
            text = entry["mode"]
            try:
                mode = parse_uint(text, 8, 32)
            except NumError as error:
                raise fail(f"cannot parse file mode as octal value: {error}") from None
        uid = id_number(entry.get("uid"), ids)
        gid = id_number(entry.get("gid"), ids)
        contents: bytes | None = None
        local: LocalFile | None = None
        if "contents" in entry:
            contents = str(entry["contents"]).encode("utf-8", "surrogateescape")
        if not directory and not symlink and contents is None:
            source, metadata = entry.get("source", ""), entry.get("metadata", "")
            if not source and not metadata:
                raise fail(f"contents of file ({original}) not specified")
            if source and metadata:
                raise fail(f"specified Source and Metadata for file: {original}")
            if source:
                read = self.plan.files.get(index)
                if read is None:
                    raise fail(f"the gate did not read the source of {original}")
                if read.sha256 is None:
                    return  # optional, and absent when the gate looked
                local = read
                contents = None
            else:
                contents = self.metadata(metadata, fail)
        else:
            if entry.get("metadata"):
                raise fail(f"specified Contents and Metadata for file: {original}")
            if entry.get("source"):
                raise fail(f"specified Contents and Source for file: {original}")
        location = f"files[{index}]"
        source_record = "linuxkit.files"
        dir_mode = mode
        if mode & 0o700:
            dir_mode |= 0o100
        if mode & 0o070:
            dir_mode |= 0o010
        if mode & 0o007:
            dir_mode |= 0o001
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if not parts[depth - 1] or parent in made:
                continue
            made.add(parent)
            self.write(dir_header(parent, source_record, location, mode=dir_mode, uid=uid, gid=gid))
        if directory:
            if contents is not None:
                raise fail("directory with contents not allowed")
            made.add(path.rstrip("/"))
            self.write(dir_header(path, source_record, location, mode=mode, uid=uid, gid=gid))
            return
        # linuxkit counts every path it wrote, not only directories: a later entry below a
        # file or a symlink gets no parent directory entry (observed with the reference binary).
        made.add(path)
        if symlink:
            self.write(symlink_header(path, symlink, source_record, location, mode=mode, uid=uid,
                                gid=gid))
            return
        if path.endswith("/"):
            raise fail("archive/tar: write too long")
        if local is not None:
            self.file_from_host(path, local, location, mode, uid, gid, fail)
            return
        assert contents is not None
        self.write(file_header(path, len(contents), source_record, location, mode=mode, uid=uid,
                         gid=gid), contents)

    def metadata(self, kind: str, fail: Callable[[str], BuildError]) -> bytes:
        model = expanded_model(self.model)
        if kind == "yaml":
            return render_yaml(model).encode("utf-8", "surrogateescape")
        if kind == "json":
            return render_json(model).encode("utf-8", "surrogateescape")
        raise fail(f"unsupported metadata type: {kind}")

    def file_from_host(self, path: str, local: LocalFile, location: str, mode: int, uid: int,
                       gid: int, fail: Callable[[str], BuildError]) -> None:
        """The bytes the gate read (its size and sha256), or a failed build."""
        source = local.path
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below, after streaming
        except OSError as error:
            raise fail(f"open {source}: {go_errno_text(error)}") from None
        with stream:
            checked = Hashing(stream)
            try:
                header = file_header(path, local.size, "linuxkit.files", location, mode=mode, uid=uid,
                               gid=gid)
                self.tar.begin(header)
                self.tar.copy_from(checked, local.size)
                grown = bool(stream.read(1))
            except OSError as error:
                raise fail(f"read {source}: {go_errno_text(error)}") from None
            except TarError:
                raise fail(f"{source} changed since the gate read it") from None
        if grown or checked.hexdigest() != local.sha256:
            raise fail(f"{source} changed since the gate read it (the gate judged "
                       f"{local.sha256})")
