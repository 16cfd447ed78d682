"""SARIF that code scanning can live with: stable fingerprints, suppressions, the result cap,
value spans, links to the rule reference, security severities and one alert per problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.findings import Location, Severity
from lkpolicy.model.rules import all_rules, get_rule
from lkpolicy.report import Report
from lkpolicy.report.fingerprint import FINGERPRINT_KEY, list_tokens, structural_key
from lkpolicy.report.links import check_docs_url, docs_url_from_project_urls
from lkpolicy.report.overlaps import OWNERS
from lkpolicy.report.sarif import MAX_RESULTS, cap_results, region, to_sarif_data
from lkpolicy.report.security import SECURITY_CATEGORIES, SECURITY_SEVERITY, security_severity
from lkpolicy.report.spans import value_end
from lkpolicy.stages.load import MAX_NODES

runner = CliRunner()  # click 8.2+: stdout and stderr apart
DOCS = "https://lkpolicy.example/docs/rules.md"


def sarif_of(*args: str) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(app, ["check", "--no-images", "--format", "sarif", *args])
    return result.exit_code, json.loads(result.stdout), result.stderr


def results(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data["runs"][0]["results"]
    return found


@pytest.fixture(scope="module")
def sarif_validator(shared_dir: Path) -> jsonschema.Draft4Validator:
    path = shared_dir / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


# --- fingerprints ----------------------------------------------------------------------------

SERVICES = """\
onboot:
  - name: sysctl
    image: linuxkit/sysctl:v1
    capabilities: [CAP_SYS_ADMIN, CAP_NET_ADMIN]
services:
  - name: getty
    image: linuxkit/getty:v1
    pid: host
    binds: [/:/hostroot, /var/run:/var/run]
  - name: sshd
    image: linuxkit/sshd:v1
    net: host
    capabilities: [all]
    binds: [/etc:/etc]
  - name: agent
    image: example/agent
    net: host
    devices:
      - path: all
        type: a
"""
INSERTED = "  - name: intruder\n    image: example/intruder:v1\n    pid: host\n"


def test_structural_keys_name_list_elements() -> None:
    data = {"services": [{"name": "getty", "capabilities": ["CAP_A", "CAP_B"]}, {"image": "x"},
                         {"name": "getty"}],
            "init": ["linuxkit/init:v1@sha256:" + "a" * 64, "localhost:5000/runc:v2"],
            "files": [{"path": "etc/a/b"}]}
    assert structural_key("/services/0/capabilities/1", data) == "/services/=getty/capabilities/=CAP_B"
    assert structural_key("/services/1/image", data) == "/services/#1/image"
    assert structural_key("/services/2", data) == "/services/=getty#2"
    assert structural_key("/init/0", data) == "/init/=linuxkit~1init"
    assert structural_key("/init/1", data) == "/init/=localhost:5000~1runc"
    assert structural_key("/files/0/mode", data) == "/files/=etc~1a~1b/mode"
    # Past the data (a missing key) or out of range, the pointer's own tokens stay.
    assert structural_key("/services/0/command/0", data) == "/services/=getty/command/0"
    assert structural_key("/services/7", data) == "/services/7"
    assert list_tokens([1, "a", "a", {}]) == ["#0", "=a", "=a#2", "#3"]


def test_inserting_a_service_keeps_every_fingerprint(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(SERVICES)
    _code, before, _err = sarif_of("--no-cache", str(config))
    config.write_text(SERVICES.replace("services:\n", "services:\n" + INSERTED))
    _code, after, _err = sarif_of("--no-cache", str(config))

    def by_pointer(data: dict[str, Any]) -> dict[tuple[str, str], str]:
        return {(r["ruleId"], r["properties"]["pointer"]): r["partialFingerprints"][FINGERPRINT_KEY]
                for r in results(data)}

    old, new = by_pointer(before), by_pointer(after)
    assert len(old) >= 10
    moved = [key for key in old if key[1].startswith("/services/")]
    assert len(moved) >= 7
    # Every old finding is still there under a shifted index, with the same fingerprint...
    for rule, pointer in old:
        parts = pointer.split("/")
        if parts[1] == "services":
            parts[2] = str(int(parts[2]) + 1)
        assert new[(rule, "/".join(parts))] == old[(rule, pointer)]
    # ...and only the inserted service brings new ones.
    added = set(new.values()) - set(old.values())
    assert {key[1].split("/")[2] for key, value in new.items() if value in added} == {"0"}


def test_fingerprints_do_not_depend_on_the_result_cache(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(SERVICES)
    _code, cold, _err = sarif_of(str(config))
    _code, warm, _err = sarif_of(str(config))  # replayed from the result cache: no data
    assert [r["partialFingerprints"] for r in results(cold)] == \
        [r["partialFingerprints"] for r in results(warm)]


# --- suppressions -----------------------------------------------------------------------------


def test_waived_and_baselined_findings_are_suppressed_results(
        tmp_path: Path, sarif_validator: jsonschema.Draft4Validator) -> None:
    config = tmp_path / "c.yml"
    config.write_text(
        "services:\n"
        "  - name: a\n    image: x/a:1@sha256:" + "a" * 64 + "\n"
        "    pid: host\n"
        "    binds: [/etc:/etc]  # lkpolicy: ignore[LKP130] reason=\"manages the host config\"\n"
        "  - name: b\n    image: x/b:1@sha256:" + "b" * 64 + "\n    pid: host\n")
    policy = tmp_path / "p.yml"
    policy.write_text("extends: [builtin:default]\nwaivers:\n"
                      "  - {rule: LKP120, name: a, pointer: /services/0/pid, "
                      "reason: needs ps of the host, expires: 2999-01-01}\n")
    baseline = tmp_path / "baseline.json"
    base = runner.invoke(app, ["check", "--no-images", "--policy", str(policy),
                               "--write-baseline", str(baseline), str(config)])
    assert base.exit_code == 0, base.output
    code, data, _err = sarif_of("--policy", str(policy), "--baseline", str(baseline), str(config))
    assert code == 0
    sarif_validator.validate(data)
    suppressed = {r["properties"]["pointer"]: r["suppressions"] for r in results(data)}
    assert suppressed["/services/0/binds/0"] == [{
        "kind": "inSource", "status": "accepted", "justification": "manages the host config",
        "properties": {"source": "inline"}}]
    assert suppressed["/services/0/pid"][0]["kind"] == "external"
    assert suppressed["/services/0/pid"][0]["justification"] == "needs ps of the host"
    assert suppressed["/services/1/pid"][0]["kind"] == "external"
    assert suppressed["/services/1/pid"][0]["properties"] == {"source": "baseline"}

    as_json = runner.invoke(app, ["check", "--no-images", "--format", "json", "--policy",
                                  str(policy), "--baseline", str(baseline), str(config)])
    document = json.loads(as_json.stdout)
    assert document["findings"] == []
    assert [(s["pointer"], s["suppression"]["kind"], s["suppression"]["source"])
            for s in document["suppressed"]] == [
        ("/services/0/pid", "external", "policy"), ("/services/0/binds/0", "inSource", "inline"),
        ("/services/1/pid", "external", "baseline")]
    text = runner.invoke(app, ["check", "--no-images", "--policy", str(policy), "--baseline",
                               str(baseline), str(config)])
    assert "LKP1" not in text.stdout and "All checks passed" in text.stdout


# --- the result cap ---------------------------------------------------------------------------


def test_more_results_than_code_scanning_accepts_are_capped(tmp_path: Path) -> None:
    # Over several files: one file holds at most MAX_NODES YAML nodes (two per unknown key).
    per_file = MAX_NODES // 2 - 10
    total = MAX_RESULTS + 7
    paths = []
    for index, start in enumerate(range(0, total, per_file)):
        config = tmp_path / f"many{index}.yml"
        keys = "".join(f"unknown{n}: 1\n" for n in range(start, min(start + per_file, total)))
        config.write_text("kernel:\n  image: linuxkit/kernel:6.6\n  cmdline: x\n" + keys)
        paths.append(str(config))
    code, data, err = sarif_of("--no-policy", *paths)
    assert code == 1
    assert len(results(data)) == MAX_RESULTS
    [invocation] = data["runs"][0]["invocations"]
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and note["message"]["text"].startswith("7 of ")
    assert "7 SARIF results left out" in err


def test_the_cap_keeps_the_most_severe_in_output_order() -> None:
    from lkpolicy.report.sarif import _Entry

    rule = get_rule("LK201")
    assert rule is not None
    entries = [_Entry(rule.finding(f"{n}", Location("a.yml", n + 1, 1),
                                   severity=Severity.WARNING if n % 2 else Severity.ERROR))
               for n in range(6)]
    kept, omitted = cap_results(entries, limit=3)
    assert omitted == 3
    assert [e.finding.message for e in kept] == ["0", "2", "4"]


def test_the_log_is_compact_and_reports_execution(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(SERVICES)
    result = runner.invoke(app, ["check", "--no-images", "--format", "sarif", str(config)])
    data = json.loads(result.stdout)
    assert result.stdout == json.dumps(data, separators=(",", ":")) + "\n"
    assert data["runs"][0]["invocations"] == [{"executionSuccessful": True}]
    _code, broken, _err = sarif_of(str(tmp_path / "missing.yml"))
    assert broken["runs"][0]["invocations"] == [{"executionSuccessful": False}]
    [whole_file] = results(broken)
    assert whole_file["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


# --- spans ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "column", "end"), [
    ("a: plain value  # comment", 1, 4, (1, 15)),
    ("a: 'it''s' # c", 1, 4, (1, 11)),
    ('a: "x\\"y"', 1, 4, (1, 10)),
    ('a: "two\n  lines"', 1, 4, (2, 9)),
    ("a: [b, 'c]', {d: e}]  # c", 1, 4, (1, 21)),
    ("a: [b, c]", 1, 8, (1, 9)),
    ("a: [b,\n  c ]", 2, 3, (2, 4)),
    ("a: {k: v}", 1, 8, (1, 9)),
    ("a: |\n  one\n\n  two\nb: 1", 1, 4, (4, 6)),
    ("- x: 1\n  y: 2", 1, 1, (1, 7)),
    ("key: value", 1, 1, (1, 4)),
    ("a: &anchor !!str value", 1, 4, (1, 23)),
    ("a: http://x:80/y, z", 1, 4, (1, 20)),
    ("a: 'never closed", 1, 4, None),
    ("a: b", 3, 1, None),
    ("a:", 1, 3, None),
])
def test_value_spans(text: str, line: int, column: int, end: tuple[int, int] | None) -> None:
    assert value_end(text.split("\n"), line, column) == end


def test_regions_of_real_findings_cover_the_value(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: a\n    image: \"example/a:1\"\n"
                      "    capabilities: [CAP_SYS_ADMIN, CAP_NOPE]\n")
    _code, data, _err = sarif_of("--no-policy", str(config))
    lines = config.read_text().split("\n")
    for result in results(data):
        found = result["locations"][0]["physicalLocation"]["region"]
        text = lines[found["startLine"] - 1][found["startColumn"] - 1:found["endColumn"] - 1]
        assert found["endLine"] == found["startLine"]
        if result["ruleId"] == "LK306":
            assert text == "CAP_NOPE"
    assert region(Location("a.yml", 2, 0), ["x", "y"]) == {"startLine": 2}


# --- links, severities, overlaps --------------------------------------------------------------


def test_docs_url_links_rules_and_tool(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(SERVICES)
    _code, data, _err = sarif_of("--docs-url", DOCS + "#top", str(config))
    driver = data["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == DOCS
    assert all(rule["helpUri"] == f"{DOCS}#{rule['id'].lower()}" for rule in driver["rules"])
    bad = runner.invoke(app, ["check", "--docs-url", "javascript:alert(1)", str(config)])
    assert bad.exit_code == 2 and "--docs-url" in bad.output
    assert docs_url_from_project_urls(["Homepage, https://x.example/", f"Rules, {DOCS}"]) == DOCS
    assert docs_url_from_project_urls(["Rules, file:///etc/passwd"]) is None
    # pyproject.toml's placeholder until the project has a home: no links rather than dead ones.
    placeholder = "https://lkpolicy.invalid/docs/rules.md"
    assert docs_url_from_project_urls([f"Rules, {placeholder}", f"Rules, {DOCS}"]) == DOCS
    assert docs_url_from_project_urls([f"Rules, {placeholder}"]) is None
    with pytest.raises(ValueError):
        check_docs_url("https://x.example/a b")


def test_every_security_relevant_rule_has_a_security_severity() -> None:
    rules = {rule.id: rule for rule in all_rules()}
    assert set(SECURITY_SEVERITY) <= set(rules)
    for rule in rules.values():
        score = security_severity(rule)
        if rule.category in SECURITY_CATEGORIES or rule.id in SECURITY_SEVERITY:
            assert score is not None and 0.1 <= float(score) <= 10.0, rule.id
    # The lint traps that grant powers or hide them are ranked, and ranked as security.
    data = to_sarif_data(Report(findings=[]))
    descriptors = {d["id"]: d for d in data["runs"][0]["tool"]["driver"]["rules"]}
    for rule_id in ("LK301", "LK302", "LK305", "LK318", "LKP112", "LKT003"):
        assert "security" in descriptors[rule_id]["properties"]["tags"]
        assert descriptors[rule_id]["properties"]["security-severity"] == SECURITY_SEVERITY[rule_id]
    assert "security-severity" not in descriptors["LK101"]["properties"]


def test_one_alert_for_one_problem(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: a\n    image: example/a\n    capabilities: [all]\n"
                      "files:\n  - path: etc/x\n    source: not/here.conf\n")
    as_json = runner.invoke(app, ["check", "--format", "json", "--no-images", str(config)])
    both = {(f["rule"], f["pointer"]) for f in json.loads(as_json.stdout)["findings"]}
    assert {("LK318", "/services/0/capabilities"), ("LK316", "/services/0/image")} <= both
    _code, data, _err = sarif_of(str(config))
    rules = [r["ruleId"] for r in results(data)]
    assert "LK318" not in rules and "LK316" not in rules
    merged = {r["ruleId"]: r["properties"].get("alsoReportedBy") for r in results(data)}
    assert merged["LKP112"] == ["LK318"] and merged["LKP101"] == ["LK316"]
    for absorbed, owners in OWNERS.items():
        rule = get_rule(absorbed)
        assert rule is not None
        assert all((owner := get_rule(o)) is not None and owner.severity >= rule.severity
                   for o in owners)
