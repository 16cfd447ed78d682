"""Which policy applies to a config: cheap enough for the result-cache path of `check`."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

# Shipped inside the package; the repository's top-level `policies/` links here.
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "data" / "policies"
BUILTIN_PREFIX = "builtin:"
DEFAULT = "builtin:default"
DISCOVERED_NAME = ".lkpolicy.yml"


def find_policy(explicit: str | None, start_dir: str | Path) -> str:
    """The `--policy` file; else `.lkpolicy.yml` in `start_dir` or a parent, up to the
    repository root (the directory holding `.git`) or the user's home, whichever comes first;
    else the built-in default.

    A candidate in a world-writable directory (`/tmp`), or owned by someone other than the
    user or the owner of `start_dir`, is skipped: another user could have planted it to turn
    the gate's errors off."""
    if explicit:
        return explicit
    return PolicyFinder().find(start_dir)


def nearest_file(start_dir: str | Path, name: str,
                 accept: Callable[[Path], bool] | None = None) -> Path | None:
    """The file `name` in `start_dir` or the nearest parent that has one (that `accept` takes,
    when given), searched as `find_policy` searches: up to the repository root or the home,
    trustworthy candidates only."""
    found = NearestFile(name, accept).find(start_dir)
    return None if found is None else Path(found)


class NearestFile:
    """`nearest_file` for the many configs of one run: each directory's answer is remembered,
    so that configs in sibling directories walk their shared parents once (a corpus has far
    more directories than repositories)."""

    def __init__(self, name: str, accept: Callable[[Path], bool] | None = None) -> None:
        self._name = name
        self._accept = accept
        self._home = _home()
        self._euid = {os.geteuid()} if hasattr(os, "geteuid") else set()
        self._found: dict[tuple[str, frozenset[int]], str | None] = {}

    def find(self, start_dir: str | Path) -> str | None:
        directory = os.path.realpath(start_dir)
        trusted = frozenset(self._euid | _owner(directory))
        walked: list[str] = []
        while True:
            if (directory, trusted) in self._found:
                found = self._found[(directory, trusted)]
                break
            walked.append(directory)
            candidate = os.path.join(directory, self._name)
            if os.path.isfile(candidate) and _trustworthy(candidate, trusted) \
                    and (self._accept is None or self._accept(Path(candidate))):
                found = candidate
                break
            # A file above the repository (or the home) belongs to someone or something else.
            parent = os.path.dirname(directory)
            if os.path.exists(os.path.join(directory, ".git")) or directory == self._home \
                    or parent == directory:
                found = None
                break
            directory = parent
        # The walk from any directory passed on the way is the rest of this walk.
        for passed in walked:
            self._found[(passed, trusted)] = found
        return found


class PolicyFinder:
    """`find_policy` without `--policy`, remembering each directory's answer (`NearestFile`)."""

    def __init__(self) -> None:
        self._files = NearestFile(DISCOVERED_NAME)

    def find(self, start_dir: str | Path) -> str:
        found = self._files.find(start_dir)
        return DEFAULT if found is None else found


def _home() -> str | None:
    try:
        return str(Path.home().resolve())
    except (OSError, RuntimeError):  # no HOME and no passwd entry
        return None


def _owner(directory: str) -> set[int]:
    """The owner of the directory discovery starts from, whose files it also trusts."""
    if not hasattr(os, "geteuid"):
        return set()
    try:
        return {os.stat(directory).st_uid}
    except OSError:
        return set()


def _trustworthy(candidate: str, owners: frozenset[int]) -> bool:
    """Owned by a trusted user, in a directory that not everyone can write to."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        info = os.stat(candidate)
        parent = os.stat(os.path.dirname(candidate))
    except OSError:
        return False
    return info.st_uid in owners and not parent.st_mode & stat.S_IWOTH


def builtin_path(spec: str) -> Path | None:
    name = spec[len(BUILTIN_PREFIX):]
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        return None
    path = BUILTIN_DIR / f"{name}.yml"
    return path if path.is_file() else None


def policy_file(spec: str) -> Path | None:
    """The file behind a policy spec (a path, or `builtin:NAME`)."""
    if spec.startswith(BUILTIN_PREFIX):
        return builtin_path(spec)
    return Path(spec)
