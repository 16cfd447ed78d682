"""The habits users expect of a command line: --version, shell completion, --color with
NO_COLOR/FORCE_COLOR, --quiet, --statistics, --stdin-filename, and help without stray
backslashes."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest
import typer.main
from conftest import skip_or_fail
from typer.testing import CliRunner

from lkpolicy.cli import app, command_line
from lkpolicy.cli.helptext import unescape
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.report import Report, render, use_color

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ESC = "\x1b["
NO_ENV_COLOR = {"NO_COLOR": None, "FORCE_COLOR": None, "TERM": None}
WARNINGS = ("onboot:\n"
            "  - name: dhcpcd\n    image: linuxkit/dhcpcd:v1\n"
            "  - name: b\n    image: linuxkit/b:v1\n    uid: 0100\n")
"""Three warnings without an image cache (`--no-images`): LKP101 twice, LK317 once."""
CLEAN = "onboot:\n  - name: a\n    image: linuxkit/a:v1@sha256:" + "a" * 64 + "\n"
runner = CliRunner()


def invoke(*args: str, env: dict[str, str | None] | None = None,
           input: str | None = None) -> click.testing.Result:
    return runner.invoke(app, list(args), env={**NO_ENV_COLOR, **(env or {})}, input=input)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository (discovery stops at its `.git`) holding `w.yml` and `clean.yml`, as the
    working directory."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "w.yml").write_text(WARNINGS)
    (tmp_path / "clean.yml").write_text(CLEAN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def console(*args: str, cwd: Path, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `lkpolicy` script (the plain path for `check FILE...`)."""
    environ = {key: value for key, value in os.environ.items()
               if key not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    return subprocess.run([str(BIN / "lkpolicy"), *args], cwd=cwd, env={**environ, **(env or {})},
                          capture_output=True, text=True, timeout=120, input=input)


# -- --version ---------------------------------------------------------------------------------


def test_version_is_the_package_metadata_version(tmp_path: Path) -> None:
    expected = f"lkpolicy {importlib.metadata.version('lkpolicy')}\n"
    completed = console("--version", cwd=tmp_path)
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, expected, "")
    assert console("version", cwd=tmp_path).stdout == expected
    sarif = json.loads(invoke("check", "--no-images", "-f", "sarif", str(ROOT / "examples" /
                                                                          "minimal.yml")).stdout)
    assert f"lkpolicy {sarif['runs'][0]['tool']['driver']['version']}\n" == expected


# -- help --------------------------------------------------------------------------------------


def _command_paths() -> list[list[str]]:
    """Every command and subcommand, as the words that name it."""
    root = typer.main.get_command(command_line())
    assert isinstance(root, click.Group)
    paths: list[list[str]] = [[]]

    def walk(group: click.Group, prefix: list[str]) -> None:
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None, name
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(root, [])
    return paths


def test_no_help_shows_a_backslash_before_a_bracket() -> None:
    paths = _command_paths()
    assert ["cache", "pull"] in paths and ["trust", "inspect"] in paths and ["check"] in paths
    for path in paths:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "\\[" not in result.stdout, (path, result.stdout)
    # What typer appends is still there, without the escape.
    check_help = invoke("check", "--help").stdout
    assert "[required]" in check_help and "[default: auto]" in check_help


def test_unescape_undoes_only_riches_escape() -> None:
    assert unescape("Output.  \\[default: text]") == "Output.  [default: text]"
    assert unescape("FILES  \\[required]") == "FILES  [required]"
    assert unescape("a range [1<=x<=9] and ignore[...]") == "a range [1<=x<=9] and ignore[...]"


# -- shell completion --------------------------------------------------------------------------


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "_LKPOLICY_COMPLETE=bash_complete"), ("zsh", "_LKPOLICY_COMPLETE=zsh_complete"),
    ("fish", "_LKPOLICY_COMPLETE=fish_complete")])
def test_completion_prints_each_shells_script(shell: str, marker: str) -> None:
    result = invoke("completion", shell)
    assert result.exit_code == 0, result.output
    assert marker in result.stdout and "lkpolicy" in result.stdout
    assert invoke("completion", "tcsh").exit_code == 2


def _bash_completions(script: str, words: list[str], tmp_path: Path) -> list[str]:
    """COMPREPLY after the completion function has answered for `words` (the last one being
    completed), with the script sourced as ~/.bashrc would source it."""
    quoted = " ".join("'" + word.replace("'", "'\\''") + "'" for word in words)
    program = (f'eval "$(cat {tmp_path / "lkpolicy.bash"})"\n'
               f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=()\n"
               "_lkpolicy_completion lkpolicy 2>/dev/null\n"
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    (tmp_path / "lkpolicy.bash").write_text(script)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    completed = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return [line for line in completed.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        skip_or_fail("bash is not installed")
    script = console("completion", "bash", cwd=tmp_path)
    assert script.returncode == 0 and script.stderr == "", script.stderr
    assert _bash_completions(script.stdout, ["lkpolicy", "ch"], tmp_path) == ["check"]
    assert _bash_completions(script.stdout, ["lkpolicy", "check", "--stat"],
                             tmp_path) == ["--statistics"]
    assert _bash_completions(script.stdout, ["lkpolicy", "check", "--color", ""],
                             tmp_path) == ["auto", "always", "never"]
    assert set(_bash_completions(script.stdout, ["lkpolicy", "cache", ""], tmp_path)) >= {
        "ls", "pull", "import", "export", "rm"}


# -- --color, NO_COLOR, FORCE_COLOR ------------------------------------------------------------


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("choice", "env", "tty", "expected"), [
    ("auto", {}, True, True),
    ("auto", {}, False, False),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"FORCE_COLOR": "1"}, False, True),
    ("auto", {"FORCE_COLOR": "0"}, False, True),  # force-color.org: any non-empty value
    ("auto", {"FORCE_COLOR": ""}, False, False),
    ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),
    ("auto", {"FORCE_COLOR": "1", "TERM": "dumb"}, False, True),
    ("always", {"NO_COLOR": "1"}, False, True),
    ("never", {"FORCE_COLOR": "1"}, True, False),
])
def test_color_choice_and_environment(choice: str, env: dict[str, str], tty: bool,
                                      expected: bool) -> None:
    assert use_color(_Stream(tty), env, choice) is expected
    if choice == "auto" and "FORCE_COLOR" not in env:
        assert use_color(None, env, choice) is False  # a file is no terminal


@pytest.mark.parametrize(("args", "env", "colored"), [
    ([], {}, False),
    ([], {"FORCE_COLOR": "1"}, True),
    ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    (["--color", "always"], {"NO_COLOR": "1"}, True),
    (["--color", "never"], {"FORCE_COLOR": "1"}, False),
])
def test_check_colours_as_told(repo: Path, args: list[str], env: dict[str, str],
                               colored: bool) -> None:
    result = invoke("check", "--no-images", *args, "w.yml", env=env)
    assert result.exit_code == 0, result.output
    assert (ESC in result.stdout) is colored
    plain = result.stdout.replace("\x1b[0m", "")
    for code in ("\x1b[1m", "\x1b[1;31m", "\x1b[1;33m", "\x1b[1;34m", "\x1b[1;36m"):
        plain = plain.replace(code, "")
    assert plain == invoke("check", "--no-images", "w.yml").stdout


def test_the_plain_path_honours_the_environment(repo: Path) -> None:
    forced = console("check", "--no-images", "w.yml", cwd=repo, env={"FORCE_COLOR": "1"})
    assert ESC in forced.stdout
    both = console("check", "--no-images", "w.yml", cwd=repo,
                   env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ESC not in both.stdout and both.stdout.startswith("w.yml:3:12: warning LKP101")


def test_colour_never_reaches_machine_formats_or_files_unless_asked(repo: Path) -> None:
    as_json = invoke("check", "--no-images", "--color", "always", "-f", "json", "w.yml")
    assert ESC not in as_json.stdout and json.loads(as_json.stdout)["summary"]["warnings"] == 3
    invoke("check", "--no-images", "-o", "auto.txt", "w.yml")
    invoke("check", "--no-images", "--color", "always", "-o", "always.txt", "w.yml")
    assert ESC not in (repo / "auto.txt").read_text()
    assert ESC in (repo / "always.txt").read_text()


def test_show_colours_its_findings_on_standard_error(repo: Path) -> None:
    (repo / "bad.yml").write_text("onboot:\n  - name: a\n    image: [\n")
    never = invoke("show", "--color", "never", "bad.yml")
    always = invoke("show", "--color", "always", "bad.yml")
    assert never.exit_code == always.exit_code == 2
    assert "bad.yml:" in never.stderr and ESC not in never.stderr
    assert ESC in always.stderr and never.stdout == always.stdout == ""


# -- --quiet -----------------------------------------------------------------------------------


def test_quiet_prints_findings_only_and_nothing_when_clean(repo: Path) -> None:
    loud = invoke("check", "--no-images", "w.yml")
    quiet = invoke("check", "--no-images", "-q", "w.yml")
    assert loud.exit_code == quiet.exit_code == 0
    assert "Found 3 warnings" in loud.stdout and "Found" not in quiet.stdout
    assert quiet.stdout == loud.stdout.rsplit("\n\n", 1)[0] + "\n"
    assert quiet.stdout.count("warning LKP101") == 2
    clean = invoke("check", "--no-images", "--no-policy", "--quiet", "clean.yml")
    assert (clean.exit_code, clean.stdout, clean.stderr) == (0, "", "")
    plain = console("check", "--no-images", "--no-policy", "-q", "clean.yml", cwd=repo)
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, "", "")


def test_quiet_keeps_machine_formats_whole(repo: Path) -> None:
    quiet = invoke("check", "--no-images", "--no-policy", "-q", "-f", "json", "clean.yml")
    assert json.loads(quiet.stdout)["summary"]["files"] == 1


def test_quiet_silences_the_baseline_message(repo: Path) -> None:
    loud = invoke("check", "--no-images", "--write-baseline", "b1.json", "w.yml")
    quiet = invoke("check", "--no-images", "-q", "--write-baseline", "b2.json", "w.yml")
    assert "recorded 3 findings" in loud.stderr and quiet.stderr == ""
    assert (repo / "b1.json").read_text() == (repo / "b2.json").read_text()


# -- --statistics ------------------------------------------------------------------------------


def test_statistics_count_each_rule_in_text(repo: Path) -> None:
    result = invoke("check", "--no-images", "--statistics", "w.yml")
    assert result.exit_code == 0, result.output
    # LKP101 pins from the image cache (none here); the LK317 finding has its fix.
    assert result.stdout == (
        "2  LKP101  [?] A container or volume image is not pinned by digest\n"
        "1  LK317   [*] An unquoted number with a leading zero is octal\n"
        "\n"
        "Found 3 warnings in 1 file.\n"
        "[*] 1 fixable with `lkpolicy check --fix` (`--diff` to preview).\n")
    quiet = invoke("check", "--no-images", "--statistics", "-q", "w.yml")
    assert quiet.stdout == result.stdout.split("\n\n")[0] + "\n"
    clean = invoke("check", "--no-images", "--no-policy", "--statistics", "clean.yml")
    assert clean.stdout == "All checks passed (1 file).\n"


def test_statistics_in_json(repo: Path) -> None:
    result = invoke("check", "--no-images", "--statistics", "-f", "json", "w.yml")
    data = json.loads(result.stdout)
    assert data["statistics"] == {
        "LKP101": {"count": 2, "title": "A container or volume image is not pinned by digest",
                   "fixability": "sometimes"},
        "LK317": {"count": 1, "title": "An unquoted number with a leading zero is octal",
                  "fixability": "always"}}
    assert list(data["statistics"]) == ["LKP101", "LK317"]
    assert "statistics" not in json.loads(
        invoke("check", "--no-images", "-f", "json", "w.yml").stdout)


@pytest.mark.parametrize("output_format", ["sarif", "github"])
def test_statistics_need_text_or_json(repo: Path, output_format: str) -> None:
    result = invoke("check", "--statistics", "-f", output_format, "w.yml")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("lkpolicy: --statistics counts findings")


def test_statistics_marks_and_order_from_the_catalogue() -> None:
    def finding(rule_id: str) -> Finding:
        return Finding(rule_id, Severity.ERROR, "m", Location("a.yml", 1, 1))

    report = Report(findings=[finding("LK306"), finding("LK201"), finding("LK201"),
                              finding("LKX999")], statistics=True)
    lines = render("text", report).splitlines()
    assert lines[0].startswith("2  LK201 ")
    assert lines[1].startswith("1  LK306   [?] ")
    assert lines[2] == "1  LKX999"  # an unknown ID has no title, and no trailing blanks
    data = json.loads(render("json", report))
    assert data["statistics"]["LKX999"] == {"count": 1, "title": "", "fixability": None}
    doc = (ROOT / "docs" / "output-formats.md").read_text(encoding="utf-8")
    documented = re.search(r"<!-- json-output-schema -->\s*```json\n(.*?)```", doc, re.S)
    assert documented is not None
    jsonschema.Draft202012Validator(json.loads(documented.group(1))).validate(data)
    data["statistics"]["LK201"]["count"] = "2"
    assert not jsonschema.Draft202012Validator(json.loads(documented.group(1))).is_valid(data)


# -- --stdin-filename --------------------------------------------------------------------------


def test_stdin_filename_names_the_findings(repo: Path) -> None:
    (repo / "linuxkit").mkdir()
    text = invoke("check", "--no-images", "--stdin-filename", "linuxkit/w.yml", "-",
                  input=WARNINGS)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("linuxkit/w.yml:3:12: warning LKP101")
    assert " 3 |     image: linuxkit/dhcpcd:v1" in text.stdout  # the source line, from stdin
    unnamed = invoke("check", "--no-images", "-", input=WARNINGS)
    assert unnamed.stdout.startswith("-:3:12: warning LKP101")
    sarif = json.loads(invoke("check", "--no-images", "-f", "sarif", "--stdin-filename",
                              "linuxkit/w.yml", "-", input=WARNINGS).stdout)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]}
    assert uris == {"linuxkit/w.yml"}


def test_stdin_filename_finds_the_policy_and_settings_of_its_directory(repo: Path) -> None:
    sub = repo / "linuxkit"
    sub.mkdir()
    (sub / ".lkpolicy.yml").write_text(
        "rules:\n  LKP101: off\ncheck:\n  format: json\n")
    result = invoke("check", "--no-images", "--stdin-filename", "linuxkit/w.yml", "-",
                    input=WARNINGS)
    data = json.loads(result.stdout)
    assert [(f["rule"], f["file"]) for f in data["findings"]] == [("LK317", "linuxkit/w.yml")]
    # Without the name, standard input is judged from the working directory, as before.
    unnamed = invoke("check", "--no-images", "-", input=WARNINGS)
    assert "warning LKP101" in unnamed.stdout


def test_stdin_filename_matches_the_baseline_and_force_exclude(repo: Path) -> None:
    invoke("check", "--no-images", "--write-baseline", "base.json", "w.yml")
    known = invoke("check", "--no-images", "--baseline", "base.json", "-f", "json",
                   "--stdin-filename", "w.yml", "-", input=WARNINGS + "  - name: c\n"
                   "    image: linuxkit/c:v1\n")
    data = json.loads(known.stdout)
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [("LKP101", 8)]
    assert len(data["suppressed"]) == 3
    excluded = invoke("check", "--no-images", "--exclude", "*.yml", "--force-exclude",
                      "--stdin-filename", "w.yml", "-", input=WARNINGS)
    assert (excluded.exit_code, excluded.stdout) == (0, "All checks passed (0 files).\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--stdin-filename", "a.yml", "w.yml"], "give `-` among the files"),
    (["--stdin-filename", "", "-"], "give the config's file name"),
    (["--stdin-filename", "w.yml", "-", "w.yml"], "that file is also given"),
    (["--stdin-filename", "a.yml", "--lock", "l.json", "-"], "cannot be used with standard input"),
])
def test_stdin_filename_usage_errors(repo: Path, args: list[str], message: str) -> None:
    result = invoke("check", *args, input=WARNINGS)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


# -- --select and --ignore ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "build"])
@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_unknown_rule_ids_are_usage_errors_everywhere(repo: Path, command: str,
                                                      option: str) -> None:
    result = invoke(command, option, "LKP1,LK999", "w.yml")
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"lkpolicy: {option} LK999: no rule has this ID or prefix; "
                             "`lkpolicy rules` lists them\n")


def test_ignore_all_leaves_the_build_blockers(repo: Path) -> None:
    (repo / "bad.yml").write_text(WARNINGS + "    capabilities: [CAP_NOPE]\n")
    result = invoke("check", "--no-images", "--ignore", "ALL", "-f", "json", "bad.yml")
    assert {f["rule"] for f in json.loads(result.stdout)["findings"]} == {"LK306"}
    assert result.exit_code == 1


def test_statistics_and_settings_know_custom_rules(repo: Path) -> None:
    (repo / ".lkpolicy.yml").write_text(
        "custom_rules:\n"
        "  ORG001:\n"
        "    title: Containers keep their root filesystem read-only\n"
        "    severity: warning\n"
        "    rationale: Intruders replace binaries.\n"
        "    fix: \"Set `readonly: true`.\"\n"
        "    condition: \"!grants.readonly\"\n"
        "check:\n  select: [ORG, LK317]\n")
    result = invoke("check", "--no-images", "--statistics", "w.yml")
    assert result.stdout == (
        "2  ORG001      Containers keep their root filesystem read-only\n"
        "1  LK317   [*] An unquoted number with a leading zero is octal\n"
        "\n"
        "Found 3 warnings in 1 file.\n"
        "[*] 1 fixable with `lkpolicy check --fix` (`--diff` to preview).\n")
