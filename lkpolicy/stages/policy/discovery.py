"""Which policy applies to a config: cheap enough for the result-cache path of `check`."""

from __future__ import annotations

import re
from pathlib import Path

# Shipped inside the package; the repository's top-level `policies/` links here.
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "data" / "policies"
BUILTIN_PREFIX = "builtin:"
DEFAULT = "builtin:default"
DISCOVERED_NAME = ".lkpolicy.yml"


def find_policy(explicit: str | None, start_dir: str | Path) -> str:
    """The `--policy` file; else `.lkpolicy.yml` in `start_dir` or a parent, up to the
    repository root (the directory holding `.git`); else the built-in default."""
    if explicit:
        return explicit
    directory = Path(start_dir).resolve()
    while True:
        candidate = directory / DISCOVERED_NAME
        if candidate.is_file():
            return str(candidate)
        # A policy above the repository belongs to some other project.
        if (directory / ".git").exists() or directory.parent == directory:
            return DEFAULT
        directory = directory.parent


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
