"""The two versions `lkpolicy diff` compares: files in the working tree, or `REV:path` read
through git."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from lkpolicy.model.config import Config, merge
from lkpolicy.tools.diff.model import DiffError


@dataclass(frozen=True, slots=True)
class Source:
    path: str
    revision: str | None = None
    """A git revision; None for the file in the working tree."""

    @property
    def label(self) -> str:
        return self.path if self.revision is None else f"{self.revision}:{self.path}"


def parse_source(text: str) -> Source:
    """`path`, or `REV:path` (git's syntax; the path is relative to the repository root, or
    to the working directory when it starts with `./`). An existing file always wins, so a
    file name containing `:` still reads as a file."""
    if os.path.exists(text) or ":" not in text:
        return Source(text)
    revision, _, path = text.partition(":")
    if not revision or not path:
        raise DiffError(f"{text}: expected a file or REV:path")
    return Source(path, revision)


GitRunner = Callable[[list[str]], bytes]


def run_git(arguments: list[str]) -> bytes:
    try:
        completed = subprocess.run(["git", *arguments], capture_output=True, check=False,
                                   timeout=60)
    except FileNotFoundError:
        raise DiffError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise DiffError(f"git {' '.join(arguments)} timed out") from None
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiffError(f"git {' '.join(arguments)}: {message[-1] if message else 'failed'}")
    return completed.stdout


def load_source(source: Source, git: GitRunner = run_git) -> Config:
    """Load one version; unreadable input raises `InputError`, git failures `DiffError`."""
    from lkpolicy.stages.load import MAX_CONFIG_BYTES, load_document

    data: bytes | None = None
    if source.revision is not None:
        data = git(["show", f"{source.revision}:{source.path}"])
        if len(data) > MAX_CONFIG_BYTES:
            raise DiffError(f"{source.label}: larger than a LinuxKit config can be")
    document, _warnings = load_document(source.label if source.revision else source.path, data)
    return merge([document])


def git_worktree_path(path: str) -> str:
    """`path` (relative to the working directory) in the form `git show REV:<it>` accepts."""
    if os.path.isabs(path):
        path = os.path.relpath(path)
    path = path.replace(os.sep, "/")
    return path if path.startswith(("./", "../")) else "./" + path
