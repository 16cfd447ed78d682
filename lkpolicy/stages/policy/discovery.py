"""Which policy applies to a config: cheap enough for the result-cache path of `check`."""

from __future__ import annotations

import contextlib
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
    found = nearest_file(start_dir, DISCOVERED_NAME)
    return DEFAULT if found is None else str(found)


def nearest_file(start_dir: str | Path, name: str,
                 accept: Callable[[Path], bool] | None = None) -> Path | None:
    """The file `name` in `start_dir` or the nearest parent that has one (that `accept` takes,
    when given), searched as `find_policy` searches: up to the repository root or the home,
    trustworthy candidates only."""
    directory = Path(start_dir).resolve()
    trusted = _trusted_owners(directory)
    home = _home()
    while True:
        candidate = directory / name
        if candidate.is_file() and _trustworthy(candidate, trusted) \
                and (accept is None or accept(candidate)):
            return candidate
        # A file above the repository (or the home) belongs to someone or something else.
        if (directory / ".git").exists() or directory == home or directory.parent == directory:
            return None
        directory = directory.parent


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (OSError, RuntimeError):  # no HOME and no passwd entry
        return None


def _trusted_owners(start: Path) -> set[int]:
    owners = {os.geteuid()} if hasattr(os, "geteuid") else set()
    with contextlib.suppress(OSError):
        owners.add(start.stat().st_uid)
    return owners


def _trustworthy(candidate: Path, owners: set[int]) -> bool:
    """Owned by a trusted user, in a directory that not everyone can write to."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        info = candidate.stat()
        parent = candidate.parent.stat()
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
