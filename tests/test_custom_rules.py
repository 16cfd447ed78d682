"""Custom rules with CEL conditions: each kind of condition (container and config scope,
config.json, grants, label, entry, image, files, kernel), where their findings point, bad
conditions (LKP007 at their line and column) and the bounds on evaluation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.findings import Finding, InputError
from lkpolicy.stages.policy.custom.celenv import MAX_COST, CelProblem, compile_condition
from lkpolicy.stages.policy.custom.syntax import read_shape
from lkpolicy.stages.policy.loader import load_policy
from lkpolicy.store.lookup import Store

runner = CliRunner()

CONFIG = """\
kernel:
  image: linuxkit/kernel:6.6
  cmdline: "console=ttyS0 nokaslr"
onboot:
  - name: sysctl
    image: linuxkit/sysctl:v1
    capabilities:
      - CAP_NET_ADMIN
      - CAP_SYS_ADMIN
services:
  - name: sshd
    image: linuxkit/sshd:v1
    binds:
      - /tmp:/tmp
      - /var/run:/var/run
  - name: app
    image: example.com/app:1
    readonly: true
files:
  - path: etc/motd
    contents: hi
  - path: etc/shadow
    contents: x
    mode: "0666"
"""


def rule(rule_id: str, condition: str, **extra: object) -> str:
    entry = {"title": f"{rule_id} fires", "severity": "error", "rationale": "why",
             "fix": "how", "condition": condition, **extra}
    return json.dumps({rule_id: entry})


def policy_file(tmp_path: Path, *rules: str, extra: str = "") -> Path:
    merged: dict[str, object] = {}
    for text in rules:
        merged.update(json.loads(text))
    path = tmp_path / "policy.yml"
    path.write_text(f"extends: []\ncustom_rules: {json.dumps(merged)}\n{extra}")
    return path


def check(tmp_path: Path, policy: Path, *args: str, config: str = CONFIG,
          name: str = "c.yml") -> tuple[int, list[dict[str, object]]]:
    path = tmp_path / name
    path.write_text(config)
    result = runner.invoke(app, ["check", "--no-cache", "--format", "json", "--policy",
                                 str(policy), *args, str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    data = json.loads(result.output) if result.output.startswith("{") else {"findings": []}
    return result.exit_code, [f for f in data["findings"] if not f["rule"].startswith("LK")]


def where(finding: dict[str, object]) -> tuple[object, object]:
    return finding["line"], finding["column"]


# -- container scope -----------------------------------------------------------------------------


def test_grants_condition_points_at_the_granted_capability(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, rule("ORG001", "'CAP_SYS_ADMIN' in grants.capabilities"))
    code, found = check(tmp_path, policy, "--no-images")
    assert code == 1
    assert [(f["rule"], where(f)) for f in found] == [("ORG001", (9, 9))]
    assert found[0]["message"] == "onboot `sysctl`: ORG001 fires"


def test_config_json_condition_points_at_the_element_the_macro_picks(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, rule(
        "ORG002", "config.mounts.exists(m, m.source.startsWith('/var'))", severity="warning"))
    code, found = check(tmp_path, policy, "--no-images")
    assert code == 0  # a warning
    assert [(f["rule"], f["severity"], where(f)) for f in found] == [
        ("ORG002", "warning", (15, 9))]


def test_all_macro_points_at_the_first_element_that_fails(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, rule(
        "ORG003", "!grants.mounts.all(m, m.source == '/tmp')"))
    _code, found = check(tmp_path, policy, "--no-images")
    assert [where(f) for f in found] == [(15, 9)]


def test_selector_and_section_narrow_the_containers(tmp_path: Path) -> None:
    condition = "!grants.readonly"
    policy = policy_file(tmp_path, rule("ORG004", condition, match={"section": "services"}),
                         rule("ORG005", condition, match={"name": "s*", "image": "*/sshd*"}))
    _code, found = check(tmp_path, policy, "--no-images")
    assert sorted((f["rule"], f["message"]) for f in found) == [
        ("ORG004", "services `sshd`: ORG004 fires"),
        ("ORG005", "services `sshd`: ORG005 fires")]


def test_entry_image_and_name_conditions(tmp_path: Path) -> None:
    policy = policy_file(
        tmp_path,
        rule("ORG006", "image.registry != 'docker.io'"),
        rule("ORG007", "name == 'sysctl' && section == 'onboot'"),
        rule("ORG008", "has(entry.binds) && entry.binds.exists(b, b.startsWith('/var'))"))
    _code, found = check(tmp_path, policy, "--no-images")
    assert sorted((f["rule"], where(f)) for f in found) == [
        ("ORG006", (17, 12)), ("ORG007", (5, 11)), ("ORG008", (15, 9))]


def test_label_condition_and_a_label_grant_point_at_the_image_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = Store(cache)
    add_image(store, "docker.io/library/app:1",
              {"capabilities": ["CAP_SYS_ADMIN"], "net": "host"})
    config = "services:\n  - name: app\n    image: app:1\n    readonly: true\n"
    policy = policy_file(
        tmp_path, rule("ORG010", "has(label.net) && label.net == 'host'"),
        rule("ORG011", "'CAP_SYS_ADMIN' in config.process.capabilities.bounding"))
    _code, found = check(tmp_path, policy, "--cache", str(cache), "--arch", "amd64",
                         config=config)
    assert sorted((f["rule"], where(f)) for f in found) == [
        ("ORG010", (3, 12)), ("ORG011", (3, 12))]
    label = next(f for f in found if f["rule"] == "ORG011")
    assert "by the image label of docker.io/library/app:1" in str(label["message"])
    assert "config.json /process/capabilities/bounding/0" in str(label["message"])


def test_field_names_where_findings_point(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, rule("ORG012", "size(grants.mounts) > 1",
                                        field="/entry/binds/1"))
    _code, found = check(tmp_path, policy, "--no-images")
    assert [where(f) for f in found] == [(15, 9)]


# -- config scope --------------------------------------------------------------------------------


def test_config_scope_files_and_kernel(tmp_path: Path) -> None:
    policy = policy_file(
        tmp_path,
        rule("ORG020", "files.exists(f, has(f.mode) && f.mode.endsWith('6'))", scope="config"),
        rule("ORG021", "kernel.cmdline.split(' ').exists(p, p == 'nokaslr')", scope="config",
             message="KASLR is switched off"),
        rule("ORG022", "size(init) > 0", scope="config"))
    _code, found = check(tmp_path, policy, "--no-images")
    assert sorted((f["rule"], where(f), f["message"]) for f in found) == [
        ("ORG020", (22, 5), "ORG020 fires"),
        ("ORG021", (3, 12), "KASLR is switched off")]


def test_config_scope_reads_the_go_model(tmp_path: Path) -> None:
    # linuxkit's Go model types every value: `directory` absent is false, `optional` too.
    policy = policy_file(tmp_path, rule(
        "ORG023", "files.all(f, f.directory == false && f.optional == false)", scope="config"))
    _code, found = check(tmp_path, policy, "--no-images")
    assert [f["rule"] for f in found] == ["ORG023"]


# -- rules, overrides, extends -------------------------------------------------------------------


def test_rules_and_overrides_set_severity_and_turn_off(tmp_path: Path) -> None:
    condition = "!grants.readonly"
    policy = policy_file(tmp_path, rule("ORG030", condition), extra=textwrap.dedent("""\
        rules:
          ORG030: warning
        overrides:
          - match: {name: sysctl}
            rules: {ORG030: 'off'}
        """))
    code, found = check(tmp_path, policy, "--no-images")
    assert code == 0
    assert [(f["severity"], f["message"]) for f in found] == [
        ("warning", "services `sshd`: ORG030 fires")]


def test_a_child_policy_turns_a_parent_rule_off(tmp_path: Path) -> None:
    parent = policy_file(tmp_path, rule("ORG031", "true"))
    child = tmp_path / "child.yml"
    child.write_text(f"extends: [{parent.name}]\nrules:\n  ORG031: 'off'\n")
    assert check(tmp_path, child, "--no-images")[1] == []
    undefined = tmp_path / "undefined.yml"
    undefined.write_text("extends: []\nrules:\n  ORG099: error\n")
    with pytest.raises(InputError) as raised:
        load_policy(str(undefined))
    assert raised.value.findings[0].rule_id == "LKP007"
    assert "`ORG099` is set but no policy in the chain defines it" in \
        raised.value.findings[0].message


# -- bad conditions ------------------------------------------------------------------------------


def refused(path: Path, text: str) -> list[Finding]:
    """The findings of loading a policy that must be refused."""
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        load_policy(str(path))
    return raised.value.findings


@pytest.mark.parametrize(("condition", "column", "message"), [
    ("grants.capabilities.exists(c, c ==", 35, "Syntax error"),
    ("name + 1 == 'a'", 6, "no matching overload for '_+_' applied to '(string, int)'"),
    ("nope.x == 1", 5, "undeclared reference to 'nope.x'"),
    ("size(name) + 'x'", 12, "no matching overload"),
])
def test_a_bad_condition_is_lkp006_at_its_line_and_column(tmp_path: Path, condition: str,
                                                        column: int, message: str) -> None:
    finding = refused(tmp_path / "p.yml", "custom_rules:\n  ORG001:\n    title: t\n"
                      "    severity: error\n    rationale: r\n    fix: f\n"
                      f"    condition: >-\n      {condition}\n")[0]
    assert finding.rule_id == "LKP007"
    assert (finding.location.line, finding.location.column) == (8, 6 + column), finding
    assert message in finding.message


def test_a_bad_condition_on_a_later_line_of_a_block(tmp_path: Path) -> None:
    location = refused(tmp_path / "p.yml", "custom_rules:\n  ORG001:\n    title: t\n"
                       "    severity: error\n    rationale: r\n    fix: f\n    condition: |\n"
                       "      grants.readonly &&\n        name == 3\n")[0].location
    assert (location.line, location.column) == (9, 14)


def test_the_cli_reports_a_bad_condition_with_exit_code_2(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, rule("ORG001", "grants.readonly +"))
    config = tmp_path / "c.yml"
    config.write_text(CONFIG)
    result = runner.invoke(app, ["check", "--no-images", "--no-cache", "--policy",
                                 str(policy), str(config)])
    assert result.exit_code == 2
    assert f"{policy}:2:" in result.output and "LKP007" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("rule_id", "condition", "message"), [
    ("LKP900", "true", "belong to lkpolicy's own rule families"),
    ("LKX001", "true", "belong to lkpolicy's own rule families"),
    ("ORG001", "1 + 2", "must be a bool"),
    ("ORG001", "grants.capabilities.map(c, grants.mounts.map(m, grants.devices.all("
               "d, d.block)))", "nested 3 deep"),
    ("ORG001", " || ".join(f"grants.capabilities.exists(c, c == '{n}')" for n in range(9)),
     "9 comprehension macros"),
])
def test_unusable_rules_are_refused(tmp_path: Path, rule_id: str, condition: str,
                                    message: str) -> None:
    finding = refused(tmp_path / "p.yml", f"custom_rules: {rule(rule_id, condition)}\n")[0]
    assert finding.rule_id == "LKP007" and message in finding.message


def test_the_schema_refuses_malformed_entries(tmp_path: Path) -> None:
    findings = refused(tmp_path / "p.yml", "custom_rules:\n  ORG001: {title: t, severity: "
                       "error, condition: 'true', rationale: r, fix: f, scope: config, match: "
                       "{name: x}}\n  org2: {title: t}\n")
    assert {f.rule_id for f in findings} == {"LKP002"} and len(findings) >= 2


# -- evaluation ----------------------------------------------------------------------------------


def test_an_evaluation_error_fails_closed_with_a_hint(tmp_path: Path) -> None:
    policy = policy_file(tmp_path, rule("ORG040", "config.linux.sysctl['net.x'] == '1'"))
    _code, found = check(tmp_path, policy, "--no-images")
    assert {f["rule"] for f in found} == {"ORG040"} and len(found) == 3
    assert all("could not be evaluated, so it fails closed" in str(f["message"])
               for f in found)
    assert all("has()" in str(f["hint"]) for f in found)


def test_evaluation_cost_is_bounded(tmp_path: Path) -> None:
    binds = "".join(f"      - /b{n}:/b{n}\n" for n in range(1100))
    config = f"services:\n  - name: s\n    image: x/s:1\n    binds:\n{binds}"
    policy = policy_file(tmp_path, rule(
        "ORG041", "grants.mounts.exists(a, grants.mounts.exists(b, a.source == b.destination"
                  " && a != b))"))
    _code, found = check(tmp_path, policy, "--no-images", config=config)
    assert len(found) == 1
    assert f"at most {MAX_COST}" in str(found[0]["message"])


def test_compile_reports_positions_and_shape() -> None:
    with pytest.raises(CelProblem) as raised:
        compile_condition("container", "name ==")
    assert (raised.value.line, raised.value.column) == (1, 8)
    compiled = compile_condition("config", "files.all(f, f.path != '/x') // no root\n")
    assert compiled.shape.macros == 1 and compiled.shape.depth == 1
    shape = read_shape("has(config.linux) && config.linux[\"sysctl\"]['a.b'] == r'\\d'",
                       frozenset({"config"}))
    assert [chain.path for chain in shape.chains] == [("linux",), ("linux", "sysctl", "a.b")]
    assert shape.literals == ("sysctl", "a.b", "\\d")
