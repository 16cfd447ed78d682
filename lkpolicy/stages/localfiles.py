"""Pipeline stage: the host files that `files:` entries copy into the image, read once.

linuxkit reads a `source:` file when it builds, relative to the working directory (`~/` to
the home directory); a file that is missing fails the build, unless the entry is `optional`.
The gate reads each source here, as the build will find it, and records its sha256: a source
that is missing or not a regular file fails the gate as it would fail the build, and the build
refuses a source whose bytes changed since the gate read them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.rules import define_rule
from lkpolicy.model.templates import template_switches, templated

MAX_SOURCE_BYTES = 4 << 30
"""Larger than anything a LinuxKit image copies from the host; a bound on the read."""
_CHUNK = 1 << 20

SOURCE_UNREADABLE = define_rule(
    "LK408", "file-source-unreadable", "A `files` source cannot be read from the host",
    Severity.ERROR, "files",
    "linuxkit copies `source:` files from the host when it builds, after pulling every image; "
    "a missing or unreadable file fails the build there. A FIFO or a device would block the "
    "build or never end.",
    "Create the file, fix the path (relative paths start at the directory the build runs "
    "in), or mark the entry `optional: true` if the image works without it.",
)


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A `files:` entry's host file, as the gate read it."""

    index: int
    """Position in the merged `files` section."""
    node: Node
    """The `source:` node (positions for findings)."""
    path: str
    """Where the build reads it: after `~/` expansion, relative to the working directory."""
    sha256: str | None
    """None for an `optional` source that does not exist (the build skips the entry)."""
    size: int = 0
    target: str = ""
    """The entry's `path:`, where the file lands in the image."""
    source: str = ""
    """The entry's `source:` as written (after templates)."""

    @property
    def names(self) -> tuple[str, ...]:
        """What a policy's file globs match: the path in the image (without a leading `/`),
        the `source:` as written, and the host path read."""
        return (self.target.lstrip("/"), self.source, self.path)


def source_path(source: str, *, home: str | None = None, cwd: str | None = None) -> str:
    """linuxkit's reading of a `source:` value."""
    if source.startswith("~/"):
        source = os.path.join(home or os.path.expanduser("~"), source[2:])
    if not os.path.isabs(source):
        source = os.path.join(cwd or os.getcwd(), source)
    return source


def read_local_files(config: Config, *, cwd: str | None = None, home: str | None = None
                     ) -> tuple[dict[int, LocalFile], list[Finding]]:
    """Every `source:` the build will copy, with its sha256, and why any cannot be read.
    `cwd` and `home` default to the process's, as linuxkit's build uses them."""
    files: dict[int, LocalFile] = {}
    findings: list[Finding] = []
    for index, source_node, entry in source_entries(config):
        path = source_path(str(entry["source"]), home=home, cwd=cwd)
        target, written = str(entry.get("path", "")), str(entry["source"])
        try:
            digest, size = file_digest(path)
        except FileNotFoundError:
            if entry.get("optional") is True:
                files[index] = LocalFile(index, source_node, path, None, target=target,
                                          source=written)
                continue
            findings.append(SOURCE_UNREADABLE.finding(
                f"`files` source {path} does not exist: linuxkit fails the build "
                f"(`open {path}: no such file or directory`)",
                source_node.location, source_node.pointer,
                hint="create the file or fix the path (a relative one starts where the build "
                     "runs), or set `optional: true` if the image works without it"))
            continue
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            findings.append(SOURCE_UNREADABLE.finding(
                f"`files` source {path} cannot be read: {reason}", source_node.location,
                source_node.pointer, hint="make the file readable where the build runs, or "
                                          "fix the path"))
            continue
        files[index] = LocalFile(index, source_node, path, digest, size, target,
                                  written)
    return files, findings


def source_entries(config: Config) -> list[tuple[int, Node, dict[str, object]]]:
    """The `files` entries whose content the build copies from the host: (index in the merged
    section, the `source:` node, the entry after templates)."""
    switches = template_switches(config)
    found = []
    for index, node in enumerate(config.section("files")):
        entry = templated(node, switches)
        source_node = node.child("source")
        if isinstance(entry, dict) and source_node is not None and _copies_source(entry):
            found.append((index, source_node, entry))
    return found


def _copies_source(entry: dict[str, object]) -> bool:
    """An entry whose content comes from `source` (others fail or need no host file)."""
    if entry.get("directory") or entry.get("symlink") or "contents" in entry:
        return False
    return bool(entry.get("source")) and not entry.get("metadata")


def file_digest(path: str) -> tuple[str, int]:
    """`sha256:<hex>` and size of a regular file; FIFOs and devices are refused unopened."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("not a regular file")
    import hashlib

    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise ValueError("not a regular file")
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > MAX_SOURCE_BYTES:
                raise ValueError(f"larger than {MAX_SOURCE_BYTES >> 30} GiB")
            digest.update(chunk)
    return "sha256:" + digest.hexdigest(), size
