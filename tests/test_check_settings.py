"""Defaults for `check` from the repository: the `check:` section of the policy file and
`[tool.lkpolicy]` in pyproject.toml, command-line options winning; and `exclude`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.cli.running import FailOn
from lkpolicy.gate.exclude import MAX_PATTERNS, exclusion
from lkpolicy.gate.gate import expand_paths
from lkpolicy.model.findings import InputError
from lkpolicy.report import FORMATS
from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy.schema import CHECK_FAIL_ON, CHECK_FORMATS
from lkpolicy.stages.policy.validation import validate_policy

BIN = Path(sys.executable).parent
WARNINGS = ("onboot:\n"
            "  - name: dhcpcd\n    image: linuxkit/dhcpcd:v1\n"
            "  - name: b\n    image: linuxkit/b:v1\n    uid: 0100\n")
"""LKP101 twice and LK317 once, all warnings, with `--no-images`."""
runner = CliRunner()


def invoke(*args: str) -> click.testing.Result:
    return runner.invoke(app, list(args), env={"NO_COLOR": None, "FORCE_COLOR": None})


def rules_of(result: click.testing.Result) -> list[str]:
    assert result.stdout.startswith("{"), result.output
    return [finding["rule"] for finding in json.loads(result.stdout)["findings"]]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with `linuxkit/w.yml`, as the working directory."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "linuxkit").mkdir()
    (tmp_path / "linuxkit" / "w.yml").write_text(WARNINGS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- the policy file's `check:` section --------------------------------------------------------


def test_the_check_section_sets_the_defaults(repo: Path) -> None:
    (repo / ".lkpolicy.yml").write_text(
        "check:\n  format: json\n  fail-on: warning\n  ignore: [LK317]\n")
    result = invoke("check", "--no-images", "linuxkit/w.yml")
    assert result.exit_code == 1  # fail-on: warning
    assert rules_of(result) == ["LKP101", "LKP101"]
    # Options on the command line win, each on its own.
    text = invoke("check", "--no-images", "--format", "text", "linuxkit/w.yml")
    assert text.stdout.startswith("linuxkit/w.yml:3:12: warning LKP101")
    assert "LK317" not in text.stdout and text.exit_code == 1
    assert invoke("check", "--no-images", "--fail-on", "error", "linuxkit/w.yml").exit_code == 0
    every = invoke("check", "--no-images", "--ignore", "LKP102", "linuxkit/w.yml")
    assert rules_of(every) == ["LKP101", "LKP101", "LK317"]
    chosen = invoke("check", "--no-images", "--select", "LK3,LKP", "linuxkit/w.yml")
    assert rules_of(chosen) == ["LKP101", "LKP101"]  # select given, ignore from the file


def test_select_in_the_section_and_the_policy_still_judges(repo: Path) -> None:
    (repo / ".lkpolicy.yml").write_text("rules:\n  LKP101: error\ncheck:\n  select: [LKP]\n")
    result = invoke("check", "--no-images", "-f", "json", "linuxkit/w.yml")
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["severity"]) for f in findings] == [("LKP101", "error")] * 2
    assert result.exit_code == 1


def test_a_policy_with_only_a_check_section_is_a_policy(repo: Path) -> None:
    (repo / ".lkpolicy.yml").write_text("check:\n  format: json\n")
    result = invoke("check", "--no-images", "linuxkit/w.yml")
    assert result.exit_code == 0
    assert rules_of(result) == ["LKP101", "LKP101", "LK317"]  # the built-in default policy


def test_the_section_of_an_explicit_policy_applies(repo: Path) -> None:
    (repo / "strict.yml").write_text("extends: [builtin:strict]\ncheck:\n  format: json\n")
    (repo / ".lkpolicy.yml").write_text("check:\n  format: github\n")
    result = invoke("check", "--no-images", "--policy", "strict.yml", "linuxkit/w.yml")
    assert result.stdout.startswith("{")


def test_a_parent_policy_section_is_not_inherited(repo: Path) -> None:
    (repo / "base.yml").write_text("check:\n  format: json\n")
    (repo / ".lkpolicy.yml").write_text("extends: [base.yml]\n")
    result = invoke("check", "--no-images", "linuxkit/w.yml")
    assert result.stdout.startswith("linuxkit/w.yml:")


@pytest.mark.parametrize(("section", "message"), [
    ("check:\n  format: xml\n", ".lkpolicy.yml:2:11: error LKP002"),
    ("check:\n  colour: always\n", ".lkpolicy.yml:2:3: error LKP002"),
    ("check:\n  select: LKP1\n", ".lkpolicy.yml:2:11: error LKP002"),
    ("check:\n  select: [LK999]\n", "check: select LK999: no rule has this ID or prefix"),
    ("check:\n  ignore: [LK201]\n", "check: ignore LK201: its errors mean the config cannot"),
])
def test_a_bad_check_section_is_a_usage_error(repo: Path, section: str, message: str) -> None:
    (repo / ".lkpolicy.yml").write_text(section)
    result = invoke("check", "--no-images", "linuxkit/w.yml")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""
    assert "Traceback" not in result.output


def test_the_schema_validates_the_section_and_knows_the_commands_values() -> None:
    assert set(CHECK_FORMATS) == set(FORMATS)
    assert set(CHECK_FAIL_ON) == {member.value for member in FailOn}
    good, _ = load_document("p.yml", b"check:\n  format: sarif\n  fail-on: never\n"
                                     b"  select: [LKP1, ALL]\n  ignore: []\n  exclude: [old/*]\n")
    validate_policy(good)
    for bad in (b"check:\n  exclude: ['']\n", b"check:\n  select: ['LK 1']\n",
                b"check: []\n", b"check:\n  fail-on: fatal\n"):
        document, _ = load_document("p.yml", bad)
        with pytest.raises(InputError):
            validate_policy(document)


# -- pyproject.toml ----------------------------------------------------------------------------


def test_pyproject_sets_the_defaults_when_the_policy_has_none(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.lkpolicy]\nformat = "json"\nselect = ["LK3"]\n')
    assert rules_of(invoke("check", "--no-images", "linuxkit/w.yml")) == ["LK317"]
    # The policy file's section wins, whole: pyproject's `select` no longer applies.
    (repo / ".lkpolicy.yml").write_text("check:\n  fail-on: warning\n")
    result = invoke("check", "--no-images", "linuxkit/w.yml")
    assert result.stdout.startswith("linuxkit/w.yml:3:12: warning LKP101")
    assert result.exit_code == 1


def test_the_nearest_pyproject_with_a_table_counts(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.lkpolicy]\nformat = "json"\n')
    (repo / "linuxkit" / "pyproject.toml").write_text('[project]\nname = "lkpolicy-configs"\n')
    assert invoke("check", "--no-images", "linuxkit/w.yml").stdout.startswith("{")
    (repo / "linuxkit" / "pyproject.toml").write_text('[tool.lkpolicy]\nformat = "github"\n')
    assert invoke("check", "--no-images", "linuxkit/w.yml").stdout.startswith("::warning ")


@pytest.mark.parametrize(("text", "message"), [
    ('[tool.lkpolicy]\nformat = "xml"\n',
     "[tool.lkpolicy]: `format` is \"xml\"; use one of text, json, sarif, github"),
    ('[tool.lkpolicy]\nfail_on = "warning"\n',
     "[tool.lkpolicy]: unknown key `fail_on` (known: format, fail-on, select, ignore, "
     "exclude)"),
    ('[tool.lkpolicy]\nselect = "LKP1"\n',
     "[tool.lkpolicy]: `select` must be a list of non-empty strings"),
    ('[tool.lkpolicy]\nignore = ["LKP1", "LKQ9"]\n',
     "[tool.lkpolicy]: ignore LKQ9: no rule has this ID or prefix"),
    ("[tool.lkpolicy\n", "pyproject.toml: not valid TOML"),
    ('[tool]\nlkpolicy = 3\n', "pyproject.toml: `tool.lkpolicy` must be a table"),
])
def test_bad_pyproject_settings_are_usage_errors(repo: Path, text: str, message: str) -> None:
    (repo / "pyproject.toml").write_text(text)
    result = invoke("check", "--no-images", "linuxkit/w.yml")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_pyproject_anyone_could_write_is_ignored(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    (shared / "project").mkdir(parents=True)
    (shared / "pyproject.toml").write_text('[tool.lkpolicy]\nignore = ["LKP"]\n')
    shared.chmod(shared.stat().st_mode | stat.S_IWOTH)
    (shared / "project" / "w.yml").write_text(WARNINGS)
    monkeypatch.chdir(shared / "project")
    result = invoke("check", "--no-images", "-f", "json", "w.yml")
    assert rules_of(result) == ["LKP101", "LKP101", "LK317"]


# -- the plain path ----------------------------------------------------------------------------


def test_the_plain_path_reads_the_same_defaults(repo: Path, tmp_path: Path) -> None:
    (repo / ".lkpolicy.yml").write_text("check:\n  format: json\n  ignore: [LK317]\n")
    env = {**os.environ, "LKPOLICY_CACHE_DIR": str(tmp_path / "results")}
    runs = [subprocess.run([str(BIN / "lkpolicy"), "check", "--no-images", "linuxkit/w.yml"],
                           cwd=repo, env=env, capture_output=True, text=True, timeout=120)
            for _ in range(2)]  # the second from the cache: results and settings
    assert runs[0].stdout == runs[1].stdout
    assert [f["rule"] for f in json.loads(runs[1].stdout)["findings"]] == ["LKP101", "LKP101"]
    assert list((tmp_path / "results" / "defaults").iterdir())
    # An edited section is read again.
    (repo / ".lkpolicy.yml").write_text("check:\n  format: json\n  ignore: [LKP101]\n")
    again = subprocess.run([str(BIN / "lkpolicy"), "check", "--no-images", "linuxkit/w.yml"],
                           cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert [f["rule"] for f in json.loads(again.stdout)["findings"]] == ["LK317"]


# -- exclude -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["old"], "linuxkit/old/a.yml", True),
    (["old"], "linuxkit/older/a.yml", False),
    (["*.tmpl.yml"], "linuxkit/a.tmpl.yml", True),
    (["linuxkit/old"], "linuxkit/old/a.yml", True),
    (["./linuxkit/old/"], "linuxkit/old/a.yml", True),
    (["old/*"], "linuxkit/old/a.yml", False),  # with a `/`: relative to the base
    (["linuxkit/*/a.yml"], "linuxkit/old/a.yml", True),
    (["linuxkit/*.yml"], "linuxkit/a.yml", True),
    (["LINUXKIT"], "linuxkit/a.yml", False),
    (["a.yml,b.yml"], "linuxkit/b.yml", True),
])
def test_exclude_patterns(repo: Path, patterns: list[str], path: str, excluded: bool) -> None:
    chosen = exclusion(patterns, str(repo))
    assert chosen is not None
    assert chosen.excludes(path) is excluded
    assert chosen.excludes(str(repo / path)) is excluded


def test_exclude_outside_its_base_looks_below_the_walked_directory(tmp_path: Path) -> None:
    chosen = exclusion(["tmp*", "configs/x.yml"], str(tmp_path / "repo"))
    assert chosen is not None
    walked = tmp_path / "elsewhere"
    # The walked directory's own parents (`/tmp/...`) do not count, only what is below it.
    assert not chosen.excludes(str(walked / "configs" / "x.yml"), str(walked))
    assert chosen.excludes(str(walked / "tmpfiles" / "x.yml"), str(walked))
    assert not chosen.excludes(str(walked / "x.yml"))
    assert exclusion([" ", ""], "/") is None
    with pytest.raises(ValueError, match="exclude patterns"):
        exclusion(["a"] * (MAX_PATTERNS + 1), "/")


def test_exclude_applies_to_walked_directories_not_to_named_files(repo: Path) -> None:
    (repo / "linuxkit" / "old").mkdir()
    (repo / "linuxkit" / "old" / "o.yml").write_text(WARNINGS)
    (repo / ".lkpolicy.yml").write_text("check:\n  exclude: [old, w.yml]\n  format: json\n")
    walked = invoke("check", "--no-images", "linuxkit")
    assert (walked.exit_code, json.loads(walked.stdout)["summary"]["files"]) == (0, 0)
    named = invoke("check", "--no-images", "linuxkit/w.yml", "linuxkit/old/o.yml")
    assert json.loads(named.stdout)["summary"]["files"] == 2
    forced = invoke("check", "--no-images", "--force-exclude", "linuxkit/w.yml",
                    "linuxkit/old/o.yml")
    assert json.loads(forced.stdout)["summary"]["files"] == 0
    # --exclude replaces the file's patterns, relative to the working directory.
    flag = invoke("check", "--no-images", "--exclude", "linuxkit/old", "linuxkit")
    assert [f["file"] for f in json.loads(flag.stdout)["findings"]] == ["linuxkit/w.yml"] * 3
    assert expand_paths(["linuxkit"]) == ["linuxkit/old/o.yml", "linuxkit/w.yml"]


def test_an_empty_directory_is_still_a_usage_error(repo: Path) -> None:
    (repo / "empty").mkdir()
    (repo / ".lkpolicy.yml").write_text("check:\n  exclude: [w.yml]\n")
    result = invoke("check", "--no-images", "empty")
    assert result.exit_code == 2 and "no LinuxKit configs" in result.stderr
