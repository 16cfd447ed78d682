"""The pre-commit hooks, run by the real `pre-commit` tool on the code as it is now.

`pre-commit try-repo` clones a repository at HEAD, so it would test the last commit, not the
working tree. The test therefore snapshots the working tree (tracked and untracked files that
git does not ignore) into a throw-away repository and points try-repo at that. pre-commit then
builds the hook environment with pip, which uses the user's pip cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_or_fail

from tests.conftest import PROJECT_ROOT

CLEAN = """\
kernel:
  image: linuxkit/kernel:6.6.13
  cmdline: console=ttyS0
init:
  - linuxkit/init:v1.0
services:
  - name: getty
    image: linuxkit/getty:v1.0
"""
# The check hook applies the default policy, which wants every image pinned by digest.
PINNED = CLEAN.replace(":v1.0", ":v1.0@sha256:" + "a" * 64).replace(
    ":6.6.13", ":6.6.13@sha256:" + "b" * 64)
BAD = PINNED + "    imagee: typo\n"


def _pre_commit() -> str:
    beside = Path(sys.executable).parent / "pre-commit"
    found = str(beside) if beside.is_file() else shutil.which("pre-commit")
    if found is None:
        skip_or_fail("pre-commit is not installed (pip install pre-commit)")
    return found


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.com", "-c", "user.name=test",
                    "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


def _snapshot(destination: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=60).stdout
    for name in listed.decode("utf-8", "surrogateescape").split("\0"):
        source = PROJECT_ROOT / name
        # Deleted-but-tracked files are listed too; symlinks and directories are not content.
        if not name or not source.is_file() or source.is_symlink():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    _git(destination, "init", "-q")
    _git(destination, "add", "-A")
    _git(destination, "commit", "-q", "-m", "snapshot of the working tree")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        skip_or_fail("needs git and a git checkout of lkpolicy")
    destination = tmp_path_factory.mktemp("lkpolicy-snapshot")
    _snapshot(destination)
    return destination


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A private store: the user's ~/.cache/pre-commit stays untouched. The pip cache is
    # shared on purpose (PIP_* variables pass through), so installs stay fast.
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(tool: str, hook_repo: Path, home: Path, work: Path, hook: str,
              *files: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PRE_COMMIT", "GIT_"))}
    env["PRE_COMMIT_HOME"] = str(home)
    env["LKPOLICY_NO_CACHE"] = "1"
    return subprocess.run([tool, "try-repo", str(hook_repo), hook, "--files", *files],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / "clean.yml").write_text(CLEAN)
    (tmp_path / "pinned.yml").write_text(PINNED)
    (tmp_path / "bad.yml").write_text(BAD)
    # A policy file beside the configs: the hooks must not read it as a LinuxKit config.
    (tmp_path / ".lkpolicy.yml").write_text("extends: [builtin:default]\n")
    _git(tmp_path, "add", ".")
    return tmp_path


@pytest.mark.slow
def test_lkpolicy_check_hook(hook_repo: Path, pre_commit_home: Path, work: Path) -> None:
    tool = _pre_commit()
    green = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-check", "pinned.yml",
                      ".lkpolicy.yml")
    assert green.returncode == 0, green.stdout + green.stderr
    assert "Passed" in green.stdout
    # The whole gate needs the images: without a cache it fails closed, as CI would.
    gate = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-gate", "pinned.yml",
                     ".lkpolicy.yml")
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "error LK401" in gate.stdout and ".lkpolicy.yml" not in gate.stdout
    red = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-check", "bad.yml")
    assert red.returncode == 1, red.stdout + red.stderr
    assert "Failed" in red.stdout
    assert "bad.yml:9:5: error LK201" in red.stdout, red.stdout


@pytest.mark.slow
def test_lkpolicy_pin_hook(hook_repo: Path, pre_commit_home: Path, work: Path) -> None:
    tool = _pre_commit()
    red = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-pin", "clean.yml")
    assert red.returncode == 1, red.stdout + red.stderr
    assert "clean.yml:2:10: `linuxkit/kernel:6.6.13`" in red.stdout, red.stdout
    pinned = CLEAN.replace(":v1.0", ":v1.0@sha256:" + "a" * 64).replace(
        ":6.6.13", ":6.6.13@sha256:" + "b" * 64)
    (work / "clean.yml").write_text(pinned)
    green = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-pin", "clean.yml")
    assert green.returncode == 0, green.stdout + green.stderr
