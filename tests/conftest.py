"""Shared fixtures: the reference data beside the checkout, and small helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.model.config import Config
    from lkpolicy.store.lookup import Store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = (PROJECT_ROOT / ".." / "shared").resolve()


def in_ci() -> bool:
    """CI sets CI=true: there, every real part must be present, so a skip is a failure."""
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test whose real part is missing; under CI=true, fail instead."""
    if in_ci():
        pytest.fail(reason + " (CI must provide it)")
    pytest.skip(reason)


def snapshot_checkout(factory: pytest.TempPathFactory) -> Path:
    """This checkout's working tree committed into a new throw-away repository
    (tests/snapshot.py); skips, or fails in CI, without git or a git checkout."""
    from snapshot import snapshot

    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        skip_or_fail("needs git and a git checkout of lkpolicy")
    destination = factory.mktemp("lkpolicy-snapshot")
    snapshot(destination)
    return destination


def require_shared() -> Path:
    """The ../shared directory, or a skip (a failure in CI, where it must exist)."""
    if SHARED_DIR.is_dir():
        return SHARED_DIR
    skip_or_fail("../shared not found next to the checkout; reference data unavailable")


@pytest.fixture(autouse=True, scope="session")
def _private_result_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests must not read or fill the user's ~/.cache/lkpolicy."""
    os.environ["LKPOLICY_CACHE_DIR"] = str(tmp_path_factory.mktemp("lkpolicy-cache"))
    # Nor the user's linuxkit image cache: tests that want images build their own.
    os.environ["LINUXKIT_CACHE"] = str(tmp_path_factory.mktemp("linuxkit-cache") / "absent")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def corpus_dir(shared_dir: Path) -> Path:
    return shared_dir / "corpus" / "linuxkit"


@pytest.fixture(scope="session")
def golden_dir(shared_dir: Path) -> Path:
    return shared_dir / "golden" / "linuxkit"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="module")
def build_full(golden_dir: Path) -> Path:
    """The build-full golden: a feature-rich config, its images and linuxkit's outputs."""
    path = golden_dir / "build-full"
    if not (path / "full.yml").is_file():
        skip_or_fail("build-full goldens not available")
    return path


@pytest.fixture(scope="module")
def build_full_store(build_full: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A private image store holding the build-full images."""
    from lkpolicy.store.lookup import Store

    store = Store(tmp_path_factory.mktemp("build-full-store") / "cache")
    for name in ("busybox", "kernel", "init", "runc"):
        store.import_archive(build_full / "images" / f"{name}.tar")
    return store


@pytest.fixture(scope="module")
def build_full_config(build_full: Path) -> Config:
    from lkpolicy.model.config import merge
    from lkpolicy.stages.load import load_document

    document, _findings = load_document(str(build_full / "full.yml"))
    return merge([document])


@pytest.fixture(scope="module")
def build_full_plan(build_full_config: Config, build_full_store: Store) -> BuildPlan:
    """What the gate hands the build for the build-full config (linux/amd64)."""
    from planning import plan_build

    return plan_build(build_full_config, build_full_store)


NOTARY_TOOLS = ("notary", "notary-server", "notary-signer", "docker-registry", "skopeo",
                "openssl", "curl")


@pytest.fixture(scope="session", params=["remote", "local"])
def notary_env(request: pytest.FixtureRequest, shared_dir: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """../shared/recipes/notary-registry.sh's test bed (real notary-server, notary-signer
    when `remote`, a registry), once per session and signer mode; its facts (`KEY=VALUE`).
    Stopped by its state directory's PID files in the finaliser."""
    from registry_env import free_port

    missing = [tool for tool in NOTARY_TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"notary test bed needs {', '.join(missing)} (apt-get install notary "
                     f"docker-registry skopeo)")
    script = shared_dir / "recipes" / "notary-registry.sh"
    state = tmp_path_factory.mktemp(f"notary-{request.param}")
    env = {**os.environ, "NOTARY_PORT": str(free_port()), "SIGNER_PORT": str(free_port()),
           "REGISTRY_PORT": str(free_port()), "SIGNER": request.param, "NO_INSTALL": "1"}

    def stop() -> None:
        subprocess.run(["bash", str(script), "stop", str(state)], env=env, capture_output=True,
                       timeout=60, check=False)

    request.addfinalizer(stop)
    result = subprocess.run(["bash", str(script), "start", str(state)], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        pytest.fail(f"notary-registry.sh start failed: {result.stderr[-2000:]}")
    facts = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    yield facts
