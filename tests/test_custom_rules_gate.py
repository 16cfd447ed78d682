"""Custom rules at the end of the gate and in the reports, exactly like built-in rules:
inline and policy waivers, baselines, `--select`/`--ignore`, SARIF rule metadata and
suppressions, `explain` and `rules`, and the result cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app

runner = CliRunner()

POLICY = """\
extends: [builtin:default]
custom_rules:
  ORG001:
    title: Containers keep their root filesystem read-only
    name: rootfs-readonly
    severity: error
    rationale: Intruders replace binaries.
    fix: "Set `readonly: true`."
    condition: "!grants.readonly"
  ORG002:
    title: No shadow file from the YAML
    severity: warning
    rationale: Secrets do not belong in configs.
    fix: Mount it at run time.
    scope: config
    condition: files.exists(f, f.path.endsWith('shadow'))
"""
CONFIG = """\
services:
  - name: app
    image: x/app:1@sha256:{digest}
  - name: db
    image: x/db:1@sha256:{digest}
    readonly: true
files:
  - path: etc/shadow
    contents: x
""".format(digest="a" * 64)


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    config = tmp_path / "c.yml"
    config.write_text(CONFIG)
    return policy, config


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["check", "--no-images", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    data = json.loads(result.output) if result.output.startswith("{") else {}
    return result.exit_code, data


def found(data: dict[str, object], key: str = "findings") -> list[tuple[str, int]]:
    return [(f["rule"], f["line"]) for f in data[key]]  # type: ignore[index, attr-defined]


def test_findings_and_selection(setup: tuple[Path, Path]) -> None:
    policy, config = setup
    code, data = run("--no-cache", "-f", "json", "--policy", str(policy), str(config))
    assert code == 1 and found(data) == [("ORG001", 2), ("ORG002", 8)]
    assert data["findings"][0]["name"] == "rootfs-readonly"  # type: ignore[index]
    _code, data = run("--no-cache", "-f", "json", "--policy", str(policy), "--select", "ORG002",
                      str(config))
    assert found(data) == [("ORG002", 8)]
    _code, data = run("--no-cache", "-f", "json", "--policy", str(policy), "--ignore", "ORG",
                      str(config))
    assert found(data) == []
    result = runner.invoke(app, ["check", "--no-images", "--policy", str(policy), "--select",
                                 "ORX", str(config)])
    assert result.exit_code == 2
    assert "--select ORX: no rule has this ID or prefix" in result.output
    assert "ORG001, ORG002" in result.output


def test_inline_waiver_of_a_custom_rule(setup: tuple[Path, Path], tmp_path: Path) -> None:
    policy, config = setup
    config.write_text(CONFIG.replace(
        "  - name: app\n",
        '  - name: app  # lkpolicy: ignore[ORG001] reason="writes its cache"\n'))
    code, data = run("--no-cache", "-f", "json", "--policy", str(policy), str(config))
    assert code == 0 and found(data) == [("ORG002", 8)]
    assert found(data, "suppressed") == [("ORG001", 2)]
    # A waiver of a custom rule that no longer fires is unused, not unknown; also when the
    # result is replayed from the cache, where the policy is not loaded by the stages.
    config.write_text(CONFIG.replace(
        "  - name: db\n", '  - name: db  # lkpolicy: ignore[ORG001] reason="x"\n'))
    cache = tmp_path / "result-cache"
    for _ in range(2):
        result = runner.invoke(app, ["check", "--no-images", "-f", "json", "--policy",
                                     str(policy), str(config)],
                               env={"LKPOLICY_CACHE_DIR": str(cache)})
        rules = [f["rule"] for f in json.loads(result.output)["findings"]]
        assert "LKW003" in rules and "LKW004" not in rules, rules
    assert list(cache.rglob("*"))


def test_policy_waiver_of_a_custom_rule(setup: tuple[Path, Path]) -> None:
    policy, config = setup
    policy.write_text(POLICY + "waivers:\n  - {rule: ORG002, reason: test data only, "
                               "expires: 2999-01-01}\n  - {rule: ORG001, name: app, "
                               "reason: writes its cache, expires: 2999-01-01}\n")
    code, data = run("--no-cache", "-f", "json", "--policy", str(policy), str(config))
    assert code == 0 and found(data) == []
    assert sorted(found(data, "suppressed")) == [("ORG001", 2), ("ORG002", 8)]


def test_baseline_of_custom_findings(setup: tuple[Path, Path], tmp_path: Path) -> None:
    policy, config = setup
    baseline = tmp_path / "baseline.json"
    result = runner.invoke(app, ["check", "--no-images", "--no-cache", "--policy", str(policy),
                                 "--write-baseline", str(baseline), str(config)])
    assert result.exit_code == 0, result.output
    assert {entry["rule"] for entry in json.loads(baseline.read_text())["findings"]} >= {
        "ORG001", "ORG002"}
    config.write_text("# moved\n" + CONFIG + "  - path: etc/gshadow\n    contents: x\n")
    code, data = run("--no-cache", "-f", "json", "--policy", str(policy), "--baseline",
                     str(baseline), str(config))
    assert code == 0 and found(data) == []
    config.write_text(CONFIG.replace("    readonly: true\n", ""))
    code, data = run("--no-cache", "-f", "json", "--policy", str(policy), "--baseline",
                     str(baseline), str(config))
    assert code == 1 and found(data) == [("ORG001", 4)]


def test_sarif_describes_custom_rules(setup: tuple[Path, Path]) -> None:
    policy, config = setup
    config.write_text(CONFIG.replace(
        "  - name: app\n", '  - name: app  # lkpolicy: ignore[ORG001] reason="cache"\n'))
    code, sarif = run("--no-cache", "-f", "sarif", "--policy", str(policy), str(config))
    assert code == 0
    driver = sarif["runs"][0]["tool"]["driver"]  # type: ignore[index]
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert rules["ORG001"]["name"] == "rootfs-readonly"
    assert rules["ORG001"]["shortDescription"]["text"] == \
        "Containers keep their root filesystem read-only"
    assert "Intruders replace binaries." in rules["ORG001"]["help"]["text"]
    assert rules["ORG002"]["defaultConfiguration"]["level"] == "warning"
    assert rules["ORG001"]["properties"]["security-severity"] == "7.5"
    results = {result["ruleId"]: result for result in sarif["runs"][0]["results"]}  # type: ignore[index]
    assert driver["rules"][results["ORG002"]["ruleIndex"]]["id"] == "ORG002"
    assert results["ORG001"]["suppressions"][0]["kind"] == "inSource"
    assert results["ORG002"]["partialFingerprints"]


def test_explain_and_rules_with_the_policy(setup: tuple[Path, Path]) -> None:
    policy, _config = setup
    result = runner.invoke(app, ["explain", "org001", "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ORG001 (rootfs-readonly): Containers keep their root")
    assert f"Defined in: {policy}:3:3 (custom rule)" in result.output
    assert "!grants.readonly" in result.output
    listing = runner.invoke(app, ["rules", "--policy", str(policy), "-f", "json"])
    ids = [rule["id"] for rule in json.loads(listing.output)]
    assert "ORG001" in ids and "LKP110" in ids and ids == sorted(ids)
    plain = runner.invoke(app, ["rules", "-f", "json"])
    assert "ORG001" not in [rule["id"] for rule in json.loads(plain.output)]
    assert runner.invoke(app, ["explain", "ORG009", "--policy", str(policy)]).exit_code == 2
    assert runner.invoke(app, ["explain", "LKP110", "--policy", str(policy)]).exit_code == 0


def test_explain_finds_the_discovered_policy(setup: tuple[Path, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    policy, _config = setup
    (policy.parent / ".git").mkdir()
    policy.rename(policy.parent / ".lkpolicy.yml")
    monkeypatch.chdir(policy.parent)
    result = runner.invoke(app, ["explain", "ORG002"])
    assert result.exit_code == 0 and "Scope: config" in result.output
