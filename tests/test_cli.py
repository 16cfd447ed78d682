"""The command line end to end: exit codes, formats, explain, rules, schema, show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.rules import all_rules
from lkpolicy.report.ruledocs import rules_markdown

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_minimal_example_is_clean() -> None:
    result = invoke("check", "--no-images", "--no-policy", str(EXAMPLES / "minimal.yml"))
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output
    linted = invoke("check", "--no-images", "--format", "json", str(EXAMPLES / "minimal.yml"))
    assert linted.exit_code == 0
    # The examples' policy lowers tag pinning to info.
    assert {f["rule"] for f in json.loads(linted.output)["findings"]} == {"LKP101", "LKP102"}
    # Without its images the gate fails closed: it can neither judge the labels nor build.
    gated = invoke("check", "--format", "json", str(EXAMPLES / "minimal.yml"))
    assert gated.exit_code == 1
    findings = json.loads(gated.output)["findings"]
    assert [(f["rule"], f["severity"]) for f in findings if f["severity"] != "info"] == [
        ("LK401", "error")]


def test_trap_examples_report_each_trap() -> None:
    result = invoke("check", "--format", "json", str(EXAMPLES / "traps" / "silent-traps.yml"))
    assert result.exit_code == 1
    report = json.loads(result.output)
    rules = {f["rule"] for f in report["findings"]}
    assert {"LK301", "LK302", "LK303", "LK304", "LK305", "LK306", "LK307", "LK308", "LK317"} <= rules
    # Every line marked "trap" in the example is reported on that line.
    text = (EXAMPLES / "traps" / "silent-traps.yml").read_text().splitlines()
    trap_lines = {n for n, line in enumerate(text, 1) if "# trap" in line}
    assert trap_lines <= {f["line"] for f in report["findings"]}


def test_schema_errors_example_has_hints() -> None:
    result = invoke("check", "--format", "json", str(EXAMPLES / "traps" / "schema-errors.yml"))
    assert result.exit_code == 1
    hints = {f["rule"]: f["hint"] for f in json.loads(result.output)["findings"]}
    assert "capabilities" in hints["LK201"]


@pytest.mark.parametrize(("fail_on", "code"), [("error", 0), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on(tmp_path: Path, fail_on: str, code: int) -> None:
    path = tmp_path / "c.yml"
    path.write_text("trust:\n  org: [linuxkit]\n")
    assert invoke("check", "--no-images", "--fail-on", fail_on, str(path)).exit_code == code


def test_errors_exit_1_even_with_warnings_ignored(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("onboot:\n  - name: a\n    ipc: none\n")
    assert invoke("check", "--no-images", str(path)).exit_code == 1
    assert invoke("check", "--no-images", "--ignore", "LK304", str(path)).exit_code == 1


def test_errors_that_stop_the_build_cannot_be_ignored(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("onboot:\n  - name: a\n")
    refused = invoke("check", "--no-images", "--ignore", "LK203", str(path))
    assert refused.exit_code == 2
    assert "--ignore LK203: its errors mean the config cannot be built" in refused.output
    # A prefix leaves them in: LK203 is still reported, so the gate still fails.
    prefixed = invoke("check", "--no-images", "--ignore", "LK2", "-f", "json", str(path))
    assert prefixed.exit_code == 1
    assert [f["rule"] for f in json.loads(prefixed.output)["findings"]] == ["LK203"]


@pytest.mark.parametrize("option", ["--ignore", "--select"])
def test_unknown_rule_ids_are_usage_errors(tmp_path: Path, option: str) -> None:
    path = tmp_path / "c.yml"
    path.write_text("init: [a:1]\n")
    result = invoke("check", "--no-images", option, "LK9999", str(path))
    assert result.exit_code == 2
    assert f"{option} LK9999: no rule has this ID or prefix" in result.output


def test_select_keeps_only_the_chosen_rules_and_the_build_blockers(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("onboot:\n  - name: a\n    image: a:1\n    ipc: none\n  - name: b\n")
    result = invoke("check", "--no-images", "--select", "LKP1", "-f", "json", str(path))
    rules = {f["rule"] for f in json.loads(result.output)["findings"]}
    assert "LK304" not in rules and "LK203" in rules and "LKP101" in rules


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "only-policy").mkdir()
    (tmp_path / "only-policy" / ".lkpolicy.yml").write_text("extends: []\n")
    for directory in ("empty", "only-policy"):
        result = invoke("check", str(tmp_path / directory))
        assert result.exit_code == 2
        assert "no LinuxKit configs (*.yml, *.yaml) in this directory" in result.output


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_bytes(b'kernel: [\n  - "a\n\x00\xff')
    result = invoke("check", str(path))
    assert result.exit_code == 2
    assert "LK107" in result.output
    assert invoke("check", str(tmp_path / "missing.yml")).exit_code == 2


def test_usage_errors_exit_2() -> None:
    assert invoke("check").exit_code == 2
    assert invoke("check", "--format", "xml", "x.yml").exit_code == 2
    assert invoke("explain", "LK999").exit_code == 2


def test_directory_arguments_are_expanded() -> None:
    result = invoke("check", "--format", "json", "--fail-on", "never", str(EXAMPLES))
    files = {Path(f["file"]).name for f in json.loads(result.output)["findings"]}
    assert {"silent-traps.yml", "schema-errors.yml"} <= files


def test_merge_names_the_file_of_each_finding(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("services:\n  - name: s\n    image: x:1\n")
    b.write_text("services:\n  - name: s\n    image: y:1\n")
    assert invoke("check", "--no-images", str(a), str(b)).exit_code == 0
    result = invoke("check", "--no-images", "--merge", "--format", "json", str(a), str(b))
    assert result.exit_code == 1
    (finding,) = [f for f in json.loads(result.output)["findings"] if f["rule"] == "LK214"]
    assert finding["file"] == str(b) and finding["line"] == 2


def test_sarif_and_github_formats(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("onboot:\n  - name: a\n    image: a:1\n    ipc: none\n")
    sarif = json.loads(invoke("check", "--no-images", "--no-policy", "--format", "sarif", str(path)).output)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["ruleId"] == "LK304"
    github = invoke("check", "--no-images", "--no-policy", "--format", "github", str(path)).output
    assert github.startswith("::warning file=") and "line=4" in github


def test_output_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("init: [a:1]\n")
    out = tmp_path / "report.json"
    assert invoke("check", "--no-images", "--no-policy", "--format", "json", "-o", str(out),
                  str(path)).exit_code == 0
    assert json.loads(out.read_text())["summary"]["files"] == 1


def test_explain_every_rule() -> None:
    for rule in all_rules():
        result = invoke("explain", rule.id)
        assert result.exit_code == 0
        assert rule.title in result.output and rule.fix in result.output
    assert invoke("explain", "namespace-none-is-path").exit_code == 0


def test_rules_listing_and_docs_are_in_sync() -> None:
    listing = invoke("rules").output
    assert all(rule.id in listing for rule in all_rules())
    assert json.loads(invoke("rules", "--format", "json").output)[0]["id"] == all_rules()[0].id
    docs = (ROOT / "docs" / "rules.md").read_text()
    assert docs == rules_markdown(all_rules()), "regenerate: lkpolicy rules --format markdown > docs/rules.md"


def test_schema_command_prints_the_schema_configs_are_validated_against() -> None:
    from jsonschema.validators import Draft202012Validator

    from lkpolicy.stages.schemacheck.generate import GENERATED_PATH, render
    from lkpolicy.stages.schemacheck.pysource import generated_files

    printed = invoke("schema").output
    # The validator in use is generated from the schema: regenerated from what the command
    # prints, it must come out byte for byte (in the files the generator writes).
    files = generated_files(GENERATED_PATH, render(printed, "schemas/linuxkit.schema.json"))
    for path, text in files.items():
        assert text == (path.read_text() if path.is_file() else None), path
    validator = Draft202012Validator(json.loads(printed))
    assert validator.is_valid({"init": ["linuxkit/init:v1"], "onboot": [{"name": "a", "image": "a:1"}]})
    assert not validator.is_valid({"onboot": [{"name": "a"}]})  # linuxkit requires `image`
    assert not validator.is_valid({"kernal": {}})


def test_show_merges_like_dry_run(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("kernel:\n  image: k:1\n  cmdline: a\ninit: [i:1]\n")
    b.write_text("kernel:\n  cmdline: b\ninit: [j:1]\n")
    result = invoke("show", "--format", "json", str(a), str(b))
    assert result.exit_code == 0, result.output
    model = json.loads(result.output)
    assert model["kernel"] == {"image": "k:1", "cmdline": "b"}
    assert model["init"] == ["i:1", "j:1"]
    assert invoke("show", str(tmp_path / "missing.yml")).exit_code == 2


def test_console_script_has_no_traceback_on_broken_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_bytes(b'kernel: [\n  - "a\n\x00\xff')
    lkpolicy = Path(sys.executable).parent / "lkpolicy"
    completed = subprocess.run([str(lkpolicy), "check", str(path)], capture_output=True, text=True,
                               env={**os.environ, "NO_COLOR": "1"})
    assert completed.returncode == 2
    assert "Traceback" not in completed.stdout + completed.stderr
