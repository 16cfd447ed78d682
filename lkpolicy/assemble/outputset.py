"""A build's output files switched into place as one set, and what killed builds left removed.

Every build works in a staging directory of its own inside the output directory,
`.lkpolicy-build-XXXXXXXX`, and holds an exclusive `flock` on it while it runs: the kernel
drops that lock when the process dies, however it dies, so a staging directory whose lock can
be taken belongs to a dead build (pids can be reused; locks cannot be inherited by accident).
The staging directory is created and locked while the output directory itself is locked, so
no other build can see it unlocked.

Switching the set, under the output directory's lock (so that two builds of the same name do
not interleave):

1. every output is complete in the staging directory;
2. `commit.json` is written there (atomically): the list of moves, temporary name to final
   name. This is the commit point;
3. the outputs are renamed into place, the build manifest `NAME.build.json` last;
4. the staging directory is removed.

The reader rule: the outputs of build NAME in a directory are the files `NAME.build.json` names.
A dead build's staging directory with a `commit.json` is a switch that was interrupted between
steps 2 and 4: its set is the new one, and the next build into the directory (`recover`, which
every `build_outputs` runs first) completes the renames before anything else. A dead build's
staging directory without `commit.json` never committed: the old set is untouched, and
`recover` removes the directory. So after any kill, the directory holds the old set or the new
one, and after the next run no leftover of the dead build.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["JOURNAL", "STAGING_PREFIX", "OutputSet", "recover", "remove_tree", "scratch_directory"]

STAGING_PREFIX = ".lkpolicy-build-"
JOURNAL = "commit.json"
_MAX_JOURNAL_BYTES = 1 << 20
_OUTPUT_MODE = 0o644


@contextlib.contextmanager
def _locked_directory(directory: Path) -> Iterator[None]:
    """The output directory's own lock: held to create a staging directory, to switch a set
    and to recover, each a short step."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _new_staging(directory: Path) -> tuple[Path, int]:
    """A fresh staging directory in `directory`, and the descriptor holding its lock."""
    with _locked_directory(directory):
        path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory)).absolute()
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return path, fd


def _dead(path: Path) -> int | None:
    """A descriptor holding the lock of a dead build's staging directory, or None when its
    build is alive (or it is not a directory of ours)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _plain(name: object) -> bool:
    """A file name of the output directory that a journal may name."""
    return (isinstance(name, str) and bool(name) and "/" not in name and "\x00" not in name
            and name not in (".", "..") and not name.startswith(STAGING_PREFIX))


def _inside(name: object) -> bool:
    """A relative path below the staging directory that a journal may name."""
    return isinstance(name, str) and all(
        part and part not in (".", "..") and "\x00" not in part for part in name.split("/"))


def _journal_moves(staging: Path) -> list[tuple[str, str]] | None:
    """The moves a committed build's journal lists; None without a (valid) journal."""
    from lkpolicy.safeio import UntrustedInput, parse_json, read_regular_file

    try:
        document = parse_json(read_regular_file(staging / JOURNAL, _MAX_JOURNAL_BYTES,
                                                "build journal"), "build journal")
    except (OSError, UntrustedInput):
        return None
    moves = document.get("moves") if isinstance(document, dict) else None
    if not isinstance(moves, list) or not all(
            isinstance(move, list) and len(move) == 2 and _inside(move[0]) and _plain(move[1])
            for move in moves):
        return None
    return [(str(move[0]), str(move[1])) for move in moves]


def _apply(staging: Path, directory: Path, moves: list[tuple[str, str]]) -> None:
    for temporary, final in moves:
        source = staging / temporary
        if source.exists() or source.is_symlink():
            os.replace(source, directory / final)


def recover(directory: str | os.PathLike[str]) -> list[str]:
    """Complete the interrupted switches of dead builds in `directory` and remove every staging
    directory of a dead build; the staging directories of running builds are left alone.
    Returns the names of the directories removed."""
    root = Path(directory)
    removed: list[str] = []
    with _locked_directory(root):
        for entry in sorted(os.listdir(root)):
            if not entry.startswith(STAGING_PREFIX):
                continue
            path = root / entry
            fd = _dead(path)
            if fd is None:
                continue
            try:
                moves = _journal_moves(path)
                if moves is not None:
                    _apply(path, root, moves)
                remove_tree(path)
                removed.append(entry)
            finally:
                os.close(fd)
    return removed


def remove_tree(path: Path) -> None:
    """Remove a directory tree, including read-only directories in it (extracted trees)."""
    def retry(function: Callable[..., Any], target: str, _info: Any) -> None:
        parent = os.path.dirname(target)
        os.chmod(parent, 0o700)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, 0o700)
        function(target)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


class OutputSet:
    """The staging of one build's outputs in `directory`: temporary files in a locked staging
    directory, switched into place together by `commit` (see the module docstring). Use it as
    a context manager: leaving it removes the staging directory, committed or not."""

    def __init__(self, directory: Path, name: str) -> None:
        recover(directory)
        self.directory = directory
        self.name = name
        self.root, self._lock = _new_staging(directory)
        self.final: list[tuple[Path, Path]] = []
        self._committed = self._switched = False

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def new(self, suffix: str) -> tuple[Path, BinaryIO]:
        handle, path = tempfile.mkstemp(prefix=f"{self.name}.", suffix=suffix, dir=self.root)
        return Path(path), os.fdopen(handle, "w+b")

    def path(self, suffix: str) -> Path:
        """A temporary name for a tool to create (removed first: some refuse to overwrite)."""
        path, handle = self.new(suffix)
        handle.close()
        path.unlink()
        return path

    def workdir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{self.name}.", suffix=".work", dir=self.root))

    def keep(self, temporary: Path, final: Path) -> None:
        """`temporary` (in the staging directory) becomes `final` (in the output directory)
        when the set is committed."""
        if (not temporary.absolute().is_relative_to(self.root)
                or final.absolute().parent != self.directory.absolute()):
            raise ValueError(f"cannot stage {temporary} as {final}")
        self.final.append((temporary, final))

    def commit(self) -> list[Path]:
        """Switch the kept files into place as one set; returns their final paths."""
        for temporary, final in self.final:
            os.chmod(temporary, _OUTPUT_MODE)
            if final.is_dir() and not final.is_symlink():
                raise IsADirectoryError(21, "an output's name is taken by a directory", final)
        moves = [(temporary.absolute().relative_to(self.root).as_posix(), final.name)
                 for temporary, final in self.final]
        journal = json.dumps({"moves": moves}).encode()
        with _locked_directory(self.directory):
            pending = self.root / (JOURNAL + ".tmp")
            pending.write_bytes(journal)
            os.replace(pending, self.root / JOURNAL)
            # From here on the set is the new one: if a rename fails, the staging directory
            # is kept for `recover` to complete the switch.
            self._committed = True
            _apply(self.root, self.directory, moves)
            (self.root / JOURNAL).unlink()
        self._switched = True
        return [final for _temporary, final in self.final]

    def close(self) -> None:
        if self._lock < 0:
            return
        try:
            if self._switched or not self._committed:
                remove_tree(self.root)
        finally:
            os.close(self._lock)
            self._lock = -1


@contextlib.contextmanager
def scratch_directory(parent: str | os.PathLike[str] | None) -> Iterator[Path]:
    """A locked directory for work that is never committed (two builds compared), removed at
    the end, and by `recover` if its process is killed."""
    if parent is None:
        with tempfile.TemporaryDirectory(prefix="lkpolicy-repro-") as top:
            yield Path(top)
        return
    directory = Path(parent)
    recover(directory)
    path, fd = _new_staging(directory)
    try:
        yield path
    finally:
        try:
            remove_tree(path)
        finally:
            os.close(fd)
