"""The outputs for GitHub against the real tools: the official SARIF schema, Microsoft's SARIF
multitool with GitHub's rule set, and @actions/core's own workflow-command escaping."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from nodetools import node, node_modules, sarif_multitool
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.findings import Location, Severity
from lkpolicy.model.rules import Rule
from lkpolicy.report import Report
from lkpolicy.report.github import COMMANDS, format_command

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
DOCS = "https://lkpolicy.example/docs/rules.md"
MULTITOOL_SECONDS = 300

WAIVED = """\
services:
  - name: a
    image: "x/a:1@sha256:{a}"
    pid: host  # lkpolicy: ignore[LKP120] reason="reads /proc of the host"
    binds: [/etc:/etc]
"""


@pytest.fixture(scope="module")
def rich_sarif(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Path:
    """One log with every kind of result: the corpus and the examples (with overlaps), inline
    and baseline suppressions, a whole-file finding, related locations and rule links."""
    work = tmp_path_factory.mktemp("rich")
    config = work / "waived.yml"
    config.write_text(WAIVED.format(a="a" * 64))
    baseline = work / "baseline.json"
    written = runner.invoke(app, ["check", "--no-images", "--write-baseline", str(baseline),
                                  str(config)])
    assert written.exit_code == 0, written.output
    config.write_text(WAIVED.format(a="a" * 64) + "    net: host\n    ipc: host\n")
    (work / "empty.yml").write_text("# nothing\n")
    out = work / "lkpolicy.sarif"
    result = runner.invoke(app, [
        "check", "--no-images", "--format", "sarif", "--docs-url", DOCS, "-o", str(out),
        "--baseline", str(baseline), str(corpus_dir), str(ROOT / "examples"), str(work)])
    assert result.exit_code in (1, 2), result.output
    return out


def test_the_log_validates_against_the_official_schema(rich_sarif: Path, shared_dir: Path) -> None:
    schema = json.loads((shared_dir / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
    data = json.loads(rich_sarif.read_text())
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)
    results = data["runs"][0]["results"]
    kinds = {s["kind"] for r in results for s in r.get("suppressions", [])}
    assert kinds == {"inSource", "external"}
    assert any("endColumn" in r["locations"][0]["physicalLocation"]["region"] for r in results)


def _multitool_results(log: Path, out: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(sarif_multitool()), "validate", str(log), "--rule-kind", "Gh;Sarif",
         "--level", "Error;Warning;Note", "-o", str(out)],
        capture_output=True, text=True, timeout=MULTITOOL_SECONDS, check=False,
        env={"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "PATH": "/usr/bin:/bin", "HOME": str(out.parent)})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8-sig"))
    found: list[dict[str, Any]] = report["runs"][0].get("results", [])
    return found


def test_the_multitool_with_githubs_rules_finds_nothing_wrong(rich_sarif: Path, tmp_path: Path) -> None:
    found = _multitool_results(rich_sarif, tmp_path / "validation.sarif")
    problems = [(r["ruleId"], r.get("level", "warning"), r["message"].get("text", ""))
                for r in found if r.get("level", "warning") in ("error", "warning")
                or r["ruleId"].startswith("GH")]
    assert problems == []


def test_the_multitool_catches_what_github_rejects(rich_sarif: Path, tmp_path: Path) -> None:
    """The validation above can fail: a result without locations is a GitHub-rule error."""
    data = json.loads(rich_sarif.read_text())
    del data["runs"][0]["results"][0]["locations"]
    broken = tmp_path / "broken.sarif"
    broken.write_text(json.dumps(data))
    found = _multitool_results(broken, tmp_path / "validation.sarif")
    assert any(r["ruleId"].startswith("GH") and r.get("level") == "error" for r in found)


# --- @actions/core --------------------------------------------------------------------------

NASTY = Rule("LK990", "test-nasty", "t", Severity.ERROR, "lint", "r", "f")
NASTY_TEXTS = [
    "plain",
    "100% sure, a: b",
    "two\nlines\r\nand CR\r",
    "::error file=x::forged",
    "%0A already escaped %25 %3A %2C",
    "unicode é ✓ \u2028 and tab\t",
]


def _annotations() -> tuple[Report, list[dict[str, Any]]]:
    findings = []
    for number, text in enumerate(NASTY_TEXTS):
        severity = list(Severity)[number % 3]
        findings.append(NASTY.finding(text, Location(f"dir/{text[:12]}, x.yml", number + 1, number),
                                      hint=None if number % 2 else f"hint: {text}",
                                      severity=severity))
    report = Report(findings=findings, rules=[NASTY])
    calls = []
    for finding in findings:
        properties: dict[str, Any] = {"title": "LK990 (test-nasty)", "file": finding.location.file,
                                      "startLine": finding.location.line}
        if finding.location.column:
            properties["startColumn"] = finding.location.column
        message = finding.message + (f"\nhint: {finding.hint}" if finding.hint else "")
        calls.append({"command": COMMANDS[finding.severity], "message": message,
                      "properties": properties})
    return report, calls


def _parse(command: str) -> tuple[str, dict[str, str], str]:
    """`::name k=v,k=v::data` -> (name, {k: escaped v}, escaped data)."""
    assert command.startswith("::")
    head, _, data = command[2:].partition("::")
    name, _, props = head.partition(" ")
    properties = dict(item.split("=", 1) for item in props.split(",")) if props else {}
    return name, properties, data


def test_github_commands_escape_as_actions_core_does() -> None:
    report, calls = _annotations()
    script = Path(__file__).parent / "node" / "actions_core_commands.mjs"
    done = subprocess.run([node(), str(script), str(node_modules())], input=json.dumps(calls),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    # Lines end at \n only: U+2028 in a message is data to the runner, as it is to us.
    theirs = [_parse(line) for line in done.stdout.split("\n") if line]
    ours = [_parse(format_command(report, finding)) for finding in report.findings]
    assert len(theirs) == len(ours) == len(NASTY_TEXTS)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine[0] == reference[0]
        assert mine[2] == reference[2]
        # @actions/core orders the properties differently; each escaped value must match.
        assert mine[1] == reference[1]
