"""`lkpolicy check` imports only what it runs: read from `python -X importtime` of real runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from imagefactory import add_image

from lkpolicy.store.lookup import Store

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "onboot:\n  - name: dhcpcd\n    image: linuxkit/dhcpcd:v1\n    net: host\n"

NEVER = (
    # other commands, and the command line itself for a plain check
    "lkpolicy.cli.build", "lkpolicy.cli.cache", "lkpolicy.cli.diff", "lkpolicy.cli.pin",
    "lkpolicy.cli.rules", "lkpolicy.cli.show", "lkpolicy.cli.trust", "lkpolicy.tools",
    # validation: generated code, not jsonschema
    "jsonschema", "referencing", "rpds",
    # YAML: composing only
    "ruamel.yaml.main", "ruamel.yaml.dumper", "ruamel.yaml.emitter", "ruamel.yaml.representer",
    "ruamel.yaml.serializer", "ruamel.yaml.constructor",
    # effective-config tables: only for merged labels
    "lkpolicy.stages.effective.ocispec", "lkpolicy.stages.effective.label",
    # registry, trust, pulling and building
    "lkpolicy.registry", "urllib3", "lkpolicy.stages.trust", "cryptography", "tuf", "sigstore",
    "lkpolicy.store.pull", "lkpolicy.store.archives", "lkpolicy.store.maintenance",
    "lkpolicy.assemble", "lkpolicy.gate.lock", "lkpolicy.gate.plan",
)
PLAIN_NEVER = (*NEVER, "typer", "click", "rich", "lkpolicy.cli.check", "lkpolicy.cli.common",
               "multiprocessing")


# The lkpolicy command, plus the module table at exit: `-X importtime` does not log modules
# that `importlib.import_module` loads (the lazy command group, the rule catalogue).
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: print('MODULES', *sorted(sys.modules), file=sys.stderr))\n"
         "sys.argv[0] = 'lkpolicy'\n"
         "from lkpolicy.cli import main\n"
         "main()\n")


def imported(arguments: list[str], cwd: Path, result_cache: Path) -> tuple[int, set[str]]:
    env = {**os.environ, "LKPOLICY_CACHE_DIR": str(result_cache), "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    completed = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE, *arguments],
                               cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    timed = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", completed.stderr,
                           re.MULTILINE))
    at_exit = re.search(r"^MODULES (.*)$", completed.stderr, re.MULTILINE)
    assert at_exit is not None and "lkpolicy.cli" in timed, completed.stderr[-2000:]
    return completed.returncode, timed | set(at_exit[1].split())


def forbidden(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(module for module in modules
                  if any(module == name or module.startswith(name + ".") for name in names))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config in a directory of its own (the built-in default policy judges it)."""
    (tmp_path / ".git").mkdir()  # policy discovery stops here
    (tmp_path / "config.yml").write_text(CONFIG)
    return tmp_path


def test_a_plain_check_imports_only_what_it_runs(project: Path, tmp_path: Path) -> None:
    code, modules = imported(["check", "--no-cache", "config.yml"], project, tmp_path / "r")
    assert code == 1  # LK401: no image cache here
    assert forbidden(modules, PLAIN_NEVER) == []
    # It did run the gate: loading, validation, lint, the policy.
    assert {"lkpolicy.stages.load", "lkpolicy.stages.schemacheck.generated",
            "lkpolicy.stages.lint", "lkpolicy.stages.policy.engine",
            "lkpolicy.stages.schemacheck.policy_valid"} <= modules


def test_with_an_image_cache_only_lookup_is_added(project: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "images")
    add_image(store, "docker.io/linuxkit/dhcpcd:v1", files={"sbin/dhcpcd": b"x"})
    monkeypatch.setenv("LINUXKIT_CACHE", str(store.root))
    code, modules = imported(["check", "--no-cache", "--no-waivers", "config.yml"], project,
                             tmp_path / "r")
    assert code == 0
    # The cached image can pin the reference (LKP101): the gate checks that `--fix` would
    # apply that fix, with the text editor (no other tool, and no ruamel.yaml dumper).
    assert forbidden(modules, PLAIN_NEVER) == ["lkpolicy.tools", "lkpolicy.tools.fix",
                                               "lkpolicy.tools.textedit"]
    assert "lkpolicy.store.lookup" in modules


def test_the_default_policys_kernel_parameters_need_no_regex_engine(project: Path,
                                                                   tmp_path: Path) -> None:
    """Its forbidden parameters are plain strings: compared, not compiled by RE2."""
    (project / "config.yml").write_text("kernel:\n  image: linuxkit/kernel:6.6\n"
                                        "  cmdline: console=ttyS0 nokaslr\n")
    code, modules = imported(["check", "--no-cache", "config.yml"], project, tmp_path / "r")
    assert code == 1
    assert "lkpolicy.linearregex" in modules and forbidden(modules, ("re2",)) == []


def test_a_cached_check_loads_no_stage(project: Path, tmp_path: Path) -> None:
    first, _ = imported(["check", "config.yml"], project, tmp_path / "r")
    again, modules = imported(["check", "config.yml"], project, tmp_path / "r")
    assert first == again == 1
    assert forbidden(modules, (*PLAIN_NEVER, "ruamel", "lkpolicy.stages.load",
                               "lkpolicy.stages.validate", "lkpolicy.stages.lint",
                               "lkpolicy.stages.policy.loader", "lkpolicy.stages.images")) == []


def test_other_options_load_the_check_command_alone(project: Path, tmp_path: Path) -> None:
    code, modules = imported(["check", "--format", "json", "config.yml"], project,
                             tmp_path / "r")
    assert code == 1
    assert forbidden(modules, NEVER) == []
    assert {"typer", "lkpolicy.cli.check"} <= modules


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "lkpolicy", "--help"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120, check=True)
    commands = completed.stdout.split("Commands:", 1)[1]
    listed = re.findall(r"^  (\w+) ", commands, re.MULTILINE)
    assert listed == ["check", "show", "schema", "explain", "rules", "build", "pin", "diff",
                      "version", "completion", "cache", "trust"]


@pytest.mark.parametrize("settings", ["policy", "pyproject"])
def test_repository_settings_cost_no_stage_once_cached(project: Path, tmp_path: Path,
                                                      settings: str) -> None:
    """The `check` defaults of `.lkpolicy.yml` (or pyproject.toml) on the plain path: read
    without the command line, and from the second run without the YAML loader."""
    if settings == "policy":
        (project / ".lkpolicy.yml").write_text("check:\n  fail-on: never\n  ignore: [LKP1]\n")
    (project / "pyproject.toml").write_text(
        '[tool.lkpolicy]\nfail-on = "never"\nignore = ["LKP1"]\n')
    first, _ = imported(["check", "config.yml"], project, tmp_path / "r")
    again, modules = imported(["check", "config.yml"], project, tmp_path / "r")
    assert first == again == 0  # fail-on: never, from the settings
    assert forbidden(modules, (*PLAIN_NEVER, "ruamel", "lkpolicy.stages.load",
                               "lkpolicy.stages.validate", "lkpolicy.stages.policy.loader",
                               "jsonschema")) == []
    # pyproject.toml is parsed only when the policy file has no `check:` section.
    assert ("tomllib" in modules) is (settings == "pyproject")
