"""The release artefact: `pip wheel .`, installed in a fresh virtualenv, run from elsewhere.

The wheel is built from a snapshot of the working tree (tests/snapshot.py) with pip's build
isolation, so `build-system.requires` is tested too. Its dependencies come from a wheelhouse
kept beside the npm test tools (`$LKPOLICY_TEST_TOOLS/wheelhouse`, default
`~/.cache/lkpolicy-test-tools/wheelhouse`): the build and the install run offline from it, and
only when it lacks something (the first run, a changed dependency) does pip fetch from the
index, filling it for the next time. Without an index to reach, the tests skip (fail in CI).

The wheel holds the core alone, so these tests also show what a user without extras gets: the
gate works, and what needs an extra says which one.
"""

from __future__ import annotations

import email
import fcntl
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, skip_or_fail, snapshot_checkout
from imagefactory import add_image
from nodetools import tools_dir

import lkpolicy
from lkpolicy.extras import EXTRAS
from lkpolicy.store.lookup import Store

pytestmark = pytest.mark.slow

PIP_SECONDS = 900
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]


def _wheelhouse() -> Path:
    house = tools_dir().parent / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    return house


def _pip(python: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, *PIP, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=PIP_SECONDS, check=False)


def _build_wheel(source: Path, out: Path) -> Path:
    house = _wheelhouse()
    # pytest-xdist workers may arrive together: one fills the wheelhouse, the others wait.
    with open(house / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        offline = _pip(sys.executable, "wheel", "--no-index", "--find-links", str(house),
                       "-w", str(out), str(source), cwd=out)
        if offline.returncode != 0:
            backend = _pip(sys.executable, "download", "-d", str(house), "setuptools>=77",
                           cwd=out)
            online = _pip(sys.executable, "wheel", "--find-links", str(house), "-w", str(out),
                          str(source), cwd=out)
            if backend.returncode != 0 or online.returncode != 0:
                skip_or_fail("pip wheel needs the package index for what the wheelhouse "
                             f"lacks:\n{offline.stderr[-1500:]}\n{online.stderr[-1500:]}")
            for dependency in out.glob("*.whl"):
                if not dependency.name.startswith("lkpolicy-"):
                    shutil.move(str(dependency), house / dependency.name)
    built = sorted(out.glob("lkpolicy-*.whl"))
    assert len(built) == 1, built
    return built[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(snapshot_checkout(tmp_path_factory), tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel and its core dependencies, from the wheelhouse."""
    prefix = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, timeout=300)
    done = _pip(str(prefix / "bin" / "python"), "install", "--no-index", "--find-links",
                str(_wheelhouse()), str(wheel), cwd=prefix)
    assert done.returncode == 0, done.stderr
    return prefix


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A directory that is neither the checkout nor below it, holding one example."""
    shutil.copy(PROJECT_ROOT / "examples" / "minimal.yml", tmp_path / "minimal.yml")
    return tmp_path


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run([str(venv / "bin" / "lkpolicy"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_wheel_carries_the_data_the_licence_and_the_metadata(wheel: Path) -> None:
    version = lkpolicy.__version__
    assert wheel.name.startswith(f"lkpolicy-{version}-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = email.message_from_bytes(
            archive.read(f"lkpolicy-{version}.dist-info/METADATA"))
    for name in ("lkpolicy/py.typed", "lkpolicy/data/schemas/linuxkit.schema.json",
                 "lkpolicy/data/schemas/policy.schema.json",
                 "lkpolicy/data/policies/default.yml", "lkpolicy/data/policies/strict.yml",
                 "lkpolicy/model/ruleindex.py", "lkpolicy/stages/schemacheck/generated.py",
                 f"lkpolicy-{version}.dist-info/licenses/LICENSE"):
        assert name in names, name
    assert not any(name.startswith(("tests/", "bench/", "examples/")) for name in names)
    assert metadata["Version"] == version
    assert metadata["License-Expression"] == "Apache-2.0"
    assert set(metadata.get_all("Provides-Extra") or []) >= {"trust", "build", "cel", "all"}
    core = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    heavy = ("cryptography", "tuf", "sigstore", "pynacl", "isal", "deflate", "cel-expr-python")
    assert core and not [r for r in core if r.lower().startswith(heavy)], core
    assert any(url.startswith("Rules, ") for url in metadata.get_all("Project-URL") or [])


def test_the_installed_wheel_checks_an_example_from_another_directory(
        venv: Path, elsewhere: Path) -> None:
    version = lkpolicy.__version__
    shown = _run(venv, elsewhere, "--version")
    assert (shown.returncode, shown.stdout) == (0, f"lkpolicy {version}\n")
    assert _run(venv, elsewhere, "version").stdout == shown.stdout
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import lkpolicy, importlib.metadata as m; "
                            "print(lkpolicy.__file__, m.version('lkpolicy'))"],
                           cwd=elsewhere, capture_output=True, text=True, check=True)
    path, installed = where.stdout.split()
    assert Path(path).is_relative_to(venv) and installed == version
    # The schema (validation), the built-in policy and the generated modules, all from the wheel.
    checked = _run(venv, elsewhere, "check", "--no-images", "--format", "sarif", "minimal.yml")
    assert checked.returncode in (0, 1), checked.stderr
    driver = json.loads(checked.stdout)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "lkpolicy" and driver["version"] == version
    assert "informationUri" not in driver  # pyproject's placeholder URL is never published
    results = json.loads(checked.stdout)["runs"][0]["results"]
    assert {"LKP101", "LKP102"} & {result["ruleId"] for result in results}
    strict = _run(venv, elsewhere, "check", "--no-images", "--policy", "builtin:strict",
                  "minimal.yml")
    assert strict.returncode == 1 and "minimal.yml:" in strict.stdout, strict.stderr
    schema = json.loads(_run(venv, elsewhere, "schema").stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "LK201" in _run(venv, elsewhere, "explain", "LK201").stdout


def test_without_extras_each_command_names_the_extra_it_needs(venv: Path,
                                                                elsewhere: Path) -> None:
    python = str(venv / "bin" / "python")
    modules = [module for names in EXTRAS.values() for module in names]
    probe = subprocess.run([python, "-c", "import importlib.util as u, sys; "
                            "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))",
                            *modules], capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "", "the core install pulled in an extra"
    for args, extra, who in (
            (["build", "minimal.yml"], "build", "lkpolicy build"),
            (["trust", "inspect", "linuxkit/init:v1.0"], "trust", "lkpolicy trust inspect"),
            (["verify-build", "out.img"], "trust", "lkpolicy verify-build")):
        done = _run(venv, elsewhere, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr == (f"{who} needs the {extra} extra: "
                               f"pip install 'lkpolicy[{extra}]'\n"), done.stderr


def test_a_required_signature_without_the_trust_extra_fails_the_gate(
        venv: Path, elsewhere: Path) -> None:
    add_image(Store(elsewhere / "store"), "docker.io/linuxkit/init:v1.0")
    (elsewhere / "c.yml").write_text("kernel:\n  image: linuxkit/init:v1.0\n")
    (elsewhere / "policy.yml").write_text(
        "extends: []\ntrust:\n  authorities:\n    k: {type: cosign-key, keys: [k.pub]}\n"
        "  rules:\n    - images: ['*']\n      require: k\n")
    done = _run(venv, elsewhere, "check", "--no-cache", "--cache", "store", "--policy",
                "policy.yml", "c.yml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("error LKT002 the kernel image `docker.io/linuxkit/init:v1.0`: authority `k` "
            "(cosign-key) does not vouch for it: signature verification needs the trust "
            "extra: pip install 'lkpolicy[trust]'") in done.stdout


def test_a_custom_rule_without_the_cel_extra_is_refused(venv: Path, elsewhere: Path) -> None:
    # A rule that cannot run must not pass what it was written to catch: LKP007, exit 2.
    (elsewhere / "policy.yml").write_text(
        "extends: [builtin:default]\ncustom_rules:\n  ORG001:\n"
        "    title: Read-only root\n    severity: error\n    rationale: r\n    fix: f\n"
        "    condition: '!grants.readonly'\n")
    done = _run(venv, elsewhere, "check", "--no-cache", "--no-images", "--policy", "policy.yml",
                "minimal.yml")
    assert done.returncode == 2, done.stdout + done.stderr
    assert ("policy.yml:8:16: error LKP007 custom rule ORG001: a custom rule's condition needs "
            "the cel extra: pip install 'lkpolicy[cel]'") in done.stdout + done.stderr, (
        done.stdout + done.stderr)
