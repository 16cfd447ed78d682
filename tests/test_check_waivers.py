"""Waivers and baselines through `lkpolicy check`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lkpolicy.cli import app

runner = CliRunner()


def check(*args: str) -> tuple[int, list[tuple[str, int]]]:
    result = runner.invoke(app, ["check", "--no-images", "--no-policy", "--format", "json", *args])
    data = json.loads(result.output)
    return result.exit_code, [(f["rule"], f["line"]) for f in data["findings"]]


def test_inline_waiver_suppresses_and_no_waivers_shows_everything(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text('services:\n  - name: a\n    image: a:1\n'
                    '    ipc: none  # lkpolicy: ignore[LK304] reason="joins the netns file named none"\n')
    assert check(str(path)) == (0, [])
    assert check("--no-waivers", str(path)) == (0, [("LK304", 4)])


def test_expired_waiver_stops_suppressing(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text('services:\n  - name: a\n    image: a:1\n'
                    '    # lkpolicy: ignore[LK304] reason="temporary" expires=2020-01-01\n'
                    '    ipc: none\n')
    _code, found = check(str(path))
    assert ("LK304", 5) in found and any(rule.startswith("LKW") for rule, _ in found)


def test_waiver_without_reason_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text('services:\n  - name: a\n    image: a:1\n    ipc: none  # lkpolicy: ignore[LK304]\n')
    code, found = check(str(path))
    assert code == 1 and ("LK304", 4) in found and ("LKW001", 4) in found


def test_a_waiver_of_a_deselected_rule_is_not_unused(tmp_path: Path) -> None:
    """A deselected rule's check does not run, so its waiver has nothing to match."""
    path = tmp_path / "c.yml"
    path.write_text('trust:  # lkpolicy: ignore[LK301] reason="verified by lkpolicy"\n'
                    '  org: [linuxkit]\nonboot:\n  - name: a\n'
                    '    image: a:1  # lkpolicy: ignore[LKP101] reason="pinned by the lock"\n')
    for selection in ([], ["--ignore", "LK301"], ["--ignore", "LKP101"]):
        result = runner.invoke(app, ["check", "--no-images", "--format", "json", *selection,
                                     str(path)])
        assert (result.exit_code, json.loads(result.output)["findings"]) == (0, []), selection
    # A waiver of a chosen rule that matches nothing is still reported.
    path.write_text('trust:  # lkpolicy: ignore[LK304] reason="no namespace here"\n'
                    '  org: [linuxkit]\n')
    assert check("--ignore", "LK301", str(path)) == (0, [("LKW003", 1)])


def test_baseline_reports_only_new_findings_across_line_moves(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    baseline = tmp_path / "baseline.json"
    path.write_text("services:\n  - name: a\n    image: a:1\n    ipc: none\n")
    result = runner.invoke(app, ["check", "--no-images", "--no-policy", "--write-baseline",
                                 str(baseline), str(path)])
    assert result.exit_code == 0 and baseline.is_file()
    # The old finding moves down two lines; a new one appears.
    path.write_text("# moved\n\nservices:\n  - name: a\n    image: a:1\n    ipc: none\n    uts: none\n")
    assert check("--baseline", str(baseline), str(path)) == (0, [("LK304", 7)])
    baseline.write_text("not json")
    bad = runner.invoke(app, ["check", "--no-images", "--no-policy", "--baseline", str(baseline), str(path)])
    assert bad.exit_code == 2


def test_policy_file_waivers(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("services:\n  - name: a\n    image: x/a:1@sha256:" + "a" * 64 + "\n    pid: host\n")
    policy = tmp_path / "p.yml"

    def run(*extra: str) -> tuple[int, list[str]]:
        result = runner.invoke(app, ["check", "--no-images", "--format", "json", "--policy",
                                     str(policy), *extra, str(path)])
        return result.exit_code, [f["rule"] for f in json.loads(result.output)["findings"]]

    policy.write_text("extends: [builtin:default]\nwaivers:\n"
                      "  - {rule: LKP120, name: a, reason: needs ps of the host, expires: 2999-01-01}\n")
    assert run() == (0, [])
    assert run("--no-waivers") == (0, ["LKP120"])
    policy.write_text("extends: [builtin:default]\nwaivers:\n"
                      "  - {rule: LKP120, name: a, reason: needs ps of the host, expires: 2001-01-01}\n")
    _code, found = run()
    assert "LKP120" in found and "LKW002" in found
    # A waiver without a reason suppresses nothing and is itself an error.
    policy.write_text("extends: [builtin:default]\nwaivers:\n  - {rule: LKP120, expires: 2999-01-01}\n")
    code, found = run()
    assert code == 1 and "LKP120" in found and "LKW001" in found
    policy.write_text("extends: [builtin:default]\nwaivers:\n  - {rule: LKP120, reason: x, expires: soon}\n")
    assert runner.invoke(app, ["check", "--no-images", "--policy", str(policy), str(path)]).exit_code == 2
