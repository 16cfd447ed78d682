"""The pre-commit hooks, run by the real `pre-commit` tool on the code as it is now.

`pre-commit try-repo` clones a repository at HEAD, so it would test the last commit, not the
working tree: the test points it at a snapshot of the working tree (tests/snapshot.py).
pre-commit then builds the hook environment with pip, which uses the user's pip cache. The hook
installs the core alone (no extras), so these tests also show the core at work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_or_fail, snapshot_checkout
from imagefactory import add_image
from snapshot import git

from lkpolicy.store.lookup import Store

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


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_checkout(tmp_path_factory)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A private store: the user's ~/.cache/pre-commit stays untouched. The pip cache is
    # shared on purpose (PIP_* variables pass through), so installs stay fast.
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(tool: str, hook_repo: Path, home: Path, work: Path, hook: str,
              *files: str, image_cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PRE_COMMIT", "GIT_"))}
    env["PRE_COMMIT_HOME"] = str(home)
    env["LKPOLICY_NO_CACHE"] = "1"
    if image_cache is not None:
        env["LINUXKIT_CACHE"] = str(image_cache)
    return subprocess.run([tool, "try-repo", str(hook_repo), hook, "--files", *files],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "clean.yml").write_text(CLEAN)
    (tmp_path / "pinned.yml").write_text(PINNED)
    (tmp_path / "bad.yml").write_text(BAD)
    # A policy file beside the configs: the hooks must not read it as a LinuxKit config.
    (tmp_path / ".lkpolicy.yml").write_text("extends: [builtin:default]\n")
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / ".lkpolicy.yaml").write_text("extends: [builtin:strict]\n")
    git(tmp_path, "add", ".")
    return tmp_path


@pytest.mark.slow
def test_lkpolicy_check_hook(hook_repo: Path, pre_commit_home: Path, work: Path) -> None:
    tool = _pre_commit()
    green = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-check", "pinned.yml",
                      ".lkpolicy.yml", "team/.lkpolicy.yaml")
    assert green.returncode == 0, green.stdout + green.stderr
    assert "Passed" in green.stdout
    # Policy files alone: the hook has nothing to check, whichever spelling.
    policies = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-check",
                         ".lkpolicy.yml", "team/.lkpolicy.yaml")
    assert policies.returncode == 0, policies.stdout + policies.stderr
    assert "(no files to check)" in policies.stdout, policies.stdout
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


@pytest.mark.slow
def test_gate_hook_names_the_trust_extra_it_lacks(hook_repo: Path, pre_commit_home: Path,
                                                  work: Path, tmp_path: Path) -> None:
    # The hook environment holds the core alone: a policy that requires a signature must fail
    # the gate and say what to install, never pass the image unverified.
    tool = _pre_commit()
    images = tmp_path / "images"
    add_image(Store(images), "docker.io/linuxkit/kernel:6.6.13")
    (work / "signed.yml").write_text("kernel:\n  image: linuxkit/kernel:6.6.13\n")
    (work / ".lkpolicy.yml").write_text(
        "extends: []\ntrust:\n  authorities:\n    k: {type: cosign-key, keys: [k.pub]}\n"
        "  rules:\n    - images: ['*']\n      require: k\n")
    git(work, "add", ".")
    red = _try_repo(tool, hook_repo, pre_commit_home, work, "lkpolicy-gate", "signed.yml",
                    image_cache=images)
    assert red.returncode == 1, red.stdout + red.stderr
    assert ("signed.yml:2:10: error LKT002 the kernel image `docker.io/linuxkit/kernel:6.6.13`: "
            "authority `k` (cosign-key) does not vouch for it: signature verification needs "
            "the trust extra: pip install 'lkpolicy[trust]'") in red.stdout, red.stdout
