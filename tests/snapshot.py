"""A throw-away git repository holding the working tree as it is now.

`pre-commit try-repo` and a clone install the last commit, not the working tree, and building a
wheel in the checkout would leave `build/` and `*.egg-info` behind: the pre-commit tests, the
wheel test and bench/bench_hook.py work on a snapshot instead (tracked and untracked files that
git does not ignore, committed once).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity and no signing; its standard output."""
    return subprocess.run(
        ["git", "-c", "user.email=test@example.com", "-c", "user.name=test",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, check=True, capture_output=True, text=True, timeout=60).stdout


def snapshot(destination: Path, source: Path = PROJECT_ROOT) -> str:
    """Copy the working tree of `source` into `destination` and commit it; the commit's SHA."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source, check=True, capture_output=True, timeout=60).stdout
    for name in listed.decode("utf-8", "surrogateescape").split("\0"):
        path = source / name
        # Deleted-but-tracked files are listed too; symlinks and directories are not content.
        if not name or not path.is_file() or path.is_symlink():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target, follow_symlinks=False)
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "snapshot of the working tree")
    return git(destination, "rev-parse", "HEAD").strip()
