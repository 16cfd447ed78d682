"""`lkpolicy check` with policies: discovery, --policy, broken policies, and the result cache."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lkpolicy.cli import app

runner = CliRunner()
CONFIG = "services:\n  - name: s\n    image: x/s:1@sha256:" + "a" * 64 + "\n    pid: host\n"


def rules(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["check", "--no-images", "--format", "json", *args])
    data = json.loads(result.output) if result.output.startswith("{") else {"findings": []}
    return result.exit_code, [f["rule"] for f in data["findings"]]


def test_builtin_default_applies_without_a_policy_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = tmp_path / "c.yml"
    path.write_text(CONFIG)
    assert rules(str(path)) == (0, ["LKP120"])
    assert rules("--no-policy", str(path)) == (0, [])


def test_discovered_policy_is_used_and_its_changes_invalidate_the_cache(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.yml"
    path.write_text(CONFIG)
    policy = tmp_path / ".lkpolicy.yml"
    policy.write_text("extends: [builtin:default]\nrules:\n  LKP120: error\n")
    assert rules(str(path)) == (1, ["LKP120"])
    policy.write_text("extends: [builtin:default]\nrules:\n  LKP120: 'off'\n")
    assert rules(str(path)) == (0, [])


def test_explicit_policy_and_builtin_strict(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(CONFIG)
    code, found = rules("--policy", "builtin:strict", str(path))
    assert code == 1 and {"LKP120", "LKP151", "LKP152"} <= set(found)


def test_broken_policy_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(CONFIG)
    policy = tmp_path / "p.yml"
    policy.write_text("rules:\n  LKP120: sometimes\n")
    result = runner.invoke(app, ["check", "--no-images", "--policy", str(policy), str(path)])
    assert result.exit_code == 2
    assert f"{policy}:2:" in result.output
    missing = runner.invoke(app, ["check", "--policy", str(tmp_path / "none.yml"), str(path)])
    assert missing.exit_code == 2
