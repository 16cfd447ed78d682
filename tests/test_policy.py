"""The policy engine: every rule fires and stays quiet, policy files, extends, discovery."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from imagefactory import add_image

from lkpolicy.model.config import Config, merge
from lkpolicy.model.findings import Finding, InputError, Severity
from lkpolicy.model.reference import parse
from lkpolicy.model.rules import all_rules
from lkpolicy.stages.containers import effective_configs
from lkpolicy.stages.images import Resolution, resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy.config_checks import trust_covers
from lkpolicy.stages.policy.discovery import find_policy
from lkpolicy.stages.policy.engine import evaluate
from lkpolicy.stages.policy.loader import SCHEMA_PATH, load_policy
from lkpolicy.stages.policy.model import Policy, RuleSetting
from lkpolicy.stages.policy.rules import POLICY_RULES
from lkpolicy.stages.policy.schema import schema_text
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

PIN = "@sha256:" + "a" * 64


def config_of(tmp_path: Path, text: str, name: str = "c.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return merge([load_document(str(path))[0]])


def only(rule_id: str, severity: str | None = None, **options: Any) -> Policy:
    return Policy(rules={rule_id: RuleSetting(severity, options)})


def judge(config: Config, resolution: Resolution | None, policy: Policy) -> list[Finding]:
    """The policy stage on the containers the gate computes (from the YAML alone without a
    resolution)."""
    containers, _ = effective_configs(config, resolution or resolve_images(config, None))
    return evaluate(config, containers, policy)


def run(tmp_path: Path, text: str, rule_id: str, **options: Any):
    findings = judge(config_of(tmp_path, text), None, only(rule_id, **options))
    assert all(f.rule_id == rule_id for f in findings)
    return findings


# (rule, options, config that fires, (line, column, pointer) of the first finding, quiet config)
CASES: list[tuple[str, dict[str, Any], str, tuple[int, int, str], str]] = [
    ("LKP101", {}, "services:\n  - name: s\n    image: linuxkit/s:v1\n",
     (3, 12, "/services/0/image"), f"services:\n  - name: s\n    image: linuxkit/s:v1{PIN}\n"),
    ("LKP101", {}, "volumes:\n  - name: v\n    image: alpine:3\n", (3, 12, "/volumes/0/image"),
     "volumes:\n  - name: v\n"),
    ("LKP102", {}, "init:\n  - linuxkit/init:v1\n", (2, 5, "/init/0"),
     f"init:\n  - linuxkit/init:v1{PIN}\n"),
    ("LKP102", {}, "kernel:\n  image: linuxkit/kernel:6.6\n", (2, 10, "/kernel/image"),
     f"kernel:\n  image: linuxkit/kernel:6.6{PIN}\n"),
    ("LKP103", {"allowed": ["docker.io/linuxkit/*"]}, "init:\n  - evil/init:v1\n",
     (2, 5, "/init/0"), "init:\n  - linuxkit/init:v1\n"),
    ("LKP103", {"denied": ["*/library/*"]}, "onboot:\n  - {name: a, image: alpine}\n",
     (2, 22, "/onboot/0/image"), "onboot:\n  - {name: a, image: linuxkit/a}\n"),
    ("LKP110", {}, "services:\n  - name: s\n    image: x/s\n    capabilities:\n"
     "      - CAP_NET_ADMIN\n      - CAP_SYS_ADMIN\n", (6, 9, "/services/0/capabilities/1"),
     "services:\n  - name: s\n    image: x/s\n    capabilities: [CAP_NET_ADMIN]\n"),
    ("LKP110", {}, "services:\n  - name: s\n    image: x/s\n    ambient: [CAP_SYS_PTRACE]\n",
     (4, 15, "/services/0/ambient/0"), "services:\n  - name: s\n    image: x/s\n"),
    ("LKP110", {}, "onboot:\n  - name: s\n    image: x/s\n    capabilities.add: [CAP_SYS_MODULE]\n",
     (4, 24, "/onboot/0/capabilities.add/0"),
     "onboot:\n  - name: s\n    image: x/s\n    capabilities: [none]\n"
     "    capabilities.add: [CAP_SYS_MODULE]\n"),
    ("LKP111", {"allowed": ["CAP_CHOWN"]},
     "services:\n  - name: s\n    image: x/s\n    capabilities: [CAP_CHOWN, CAP_NET_RAW]\n",
     (4, 31, "/services/0/capabilities/1"),
     "services:\n  - name: s\n    image: x/s\n    capabilities: [CAP_CHOWN]\n"),
    ("LKP112", {}, "services:\n  - name: s\n    image: x/s\n    capabilities: [ALL]\n",
     (4, 20, "/services/0/capabilities/0"),
     "services:\n  - name: s\n    image: x/s\n    capabilities: [CAP_CHOWN]\n"),
    ("LKP120", {"namespaces": ["pid"]}, "services:\n  - name: s\n    image: x/s\n    pid: host\n",
     (4, 10, "/services/0/pid"), "services:\n  - name: s\n    image: x/s\n    net: host\n"),
    ("LKP120", {"namespaces": ["net"]}, "services:\n  - name: s\n    image: x/s\n",
     (2, 5, "/services/0"), "services:\n  - name: s\n    image: x/s\n    net: new\n"),
    ("LKP130", {}, "services:\n  - name: s\n    image: x/s\n    binds:\n      - /etc:/host/etc:ro\n",
     (5, 9, "/services/0/binds/0"),
     "services:\n  - name: s\n    image: x/s\n    binds: [/etc/ssl:/etc/ssl:ro]\n"),
    ("LKP130", {}, "services:\n  - name: s\n    image: x/s\n    binds.add: [/dev:/dev]\n",
     (4, 17, "/services/0/binds.add/0"),
     "services:\n  - name: s\n    image: x/s\n    binds.add: [/dev:/dev:ro]\n"),
    ("LKP130", {}, "services:\n  - name: s\n    image: x/s\n    mounts:\n"
     "      - {type: bind, source: /var/run/docker.sock, destination: /s, options: [ro]}\n",
     (5, 9, "/services/0/mounts/0"),
     "services:\n  - name: s\n    image: x/s\n    mounts:\n"
     "      - {type: bind, source: /sys, destination: /sys, options: [rbind, ro]}\n"),
    ("LKP140", {}, "onboot:\n  - name: s\n    image: x/s\n    devices:\n      - {path: all, type: b}\n",
     (5, 9, "/onboot/0/devices/0"),
     "onboot:\n  - name: s\n    image: x/s\n    devices:\n"
     "      - {path: /dev/null, type: c, major: 1, minor: 3, mode: '0666'}\n"),
    ("LKP141", {}, "onboot:\n  - name: s\n    image: x/s\n    devices:\n"
     "      - {path: /dev/sda, type: b, major: 8, minor: 0, mode: '0600'}\n",
     (5, 9, "/onboot/0/devices/0"),
     "onboot:\n  - name: s\n    image: x/s\n    devices:\n"
     "      - {path: /dev/null, type: c, major: 1, minor: 3, mode: '0666'}\n"),
    ("LKP150", {}, "onboot:\n  - name: s\n    image: x/s\n    rootfsPropagation: shared\n",
     (4, 24, "/onboot/0/rootfsPropagation"),
     "onboot:\n  - name: s\n    image: x/s\n    rootfsPropagation: slave\n"),
    ("LKP151", {}, "services:\n  - name: s\n    image: x/s\n    readonly: false\n",
     (4, 15, "/services/0/readonly"),
     "services:\n  - name: s\n    image: x/s\n    readonly: true\n"),
    ("LKP152", {}, "services:\n  - name: s\n    image: x/s\n", (2, 5, "/services/0"),
     "services:\n  - name: s\n    image: x/s\n    noNewPrivileges: true\n"),
    ("LKP160", {}, "services:\n  - name: s\n    image: x/s\n    sysctl:\n      kernel.panic: '1'\n",
     (5, 7, "/services/0/sysctl/kernel.panic"),
     "services:\n  - name: s\n    image: x/s\n    sysctl:\n      net.ipv4.ip_forward: '1'\n"),
    ("LKP170", {}, "files:\n  - path: usr/bin/su\n    contents: x\n    mode: '4755'\n",
     (4, 11, "/files/0/mode"), "files:\n  - path: usr/bin/su\n    contents: x\n    mode: '0755'\n"),
    ("LKP171", {}, "files:\n  - path: etc/x\n    contents: x\n    mode: '0666'\n",
     (4, 11, "/files/0/mode"),
     "files:\n  - path: tmp\n    directory: true\n    mode: '1777'\n"),
    ("LKP180", {}, "kernel:\n  image: k/k\n  cmdline: console=ttyS0 init=/bin/sh\n",
     (3, 26, "/kernel/cmdline"), "kernel:\n  image: k/k\n  cmdline: console=ttyS0\n"),
    ("LKP181", {}, "kernel:\n  image: k/k\n  cmdline: \"console=tty0 mitigations=off\"\n",
     (3, 26, "/kernel/cmdline"), "kernel:\n  image: k/k\n  cmdline: mitigations=auto\n"),
    ("LKP181", {"forbidden": ["console=tty.*"]}, "kernel:\n  cmdline: quiet console=ttyS0\n",
     (2, 18, "/kernel/cmdline"), "kernel:\n  cmdline: quiet console=hvc0\n"),
    ("LKP182", {"required": ["slab_nomerge"]}, "kernel:\n  cmdline: quiet\n",
     (2, 12, "/kernel/cmdline"), "kernel:\n  cmdline: quiet slab_nomerge\n"),
    ("LKP190", {"required": ["docker.io/linuxkit/*"]},
     "init:\n  - linuxkit/init:v1\ntrust:\n  org: [other]\n", (2, 5, "/init/0"),
     "init:\n  - linuxkit/init:v1\ntrust:\n  org: [linuxkit]\n"),
]


@pytest.mark.parametrize(("rule_id", "options", "fires", "where", "quiet"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_and_stays_quiet(tmp_path: Path, rule_id: str, options: dict[str, Any],
                                    fires: str, where: tuple[int, int, str], quiet: str) -> None:
    findings = run(tmp_path, fires, rule_id, **options)
    assert findings, f"{rule_id} did not fire"
    first = findings[0]
    assert (first.location.line, first.location.column, first.pointer) == where, first
    assert first.location.file.endswith("c.yml")
    assert run(tmp_path, quiet, rule_id, **options) == []


def test_every_policy_rule_has_a_case() -> None:
    assert {case[0] for case in CASES} == set(POLICY_RULES)


def test_catalogue_has_policy_rules_with_rationale_and_fix() -> None:
    rules = {rule.id: rule for rule in all_rules()}
    for rule_id in POLICY_RULES:
        rule = rules[rule_id]
        assert rule.category == "policy" and rule.rationale and rule.fix
    assert {"LKP001", "LKP002", "LKP003", "LKP004", "LKP005"} <= set(rules)


def test_all_capabilities_is_one_finding_not_41(tmp_path: Path) -> None:
    text = "services:\n  - name: s\n    image: x/s\n    capabilities: [all]\n"
    policy = Policy(rules={rid: RuleSetting() for rid in ("LKP110", "LKP111", "LKP112")})
    findings = judge(config_of(tmp_path, text), None, policy)
    assert [f.rule_id for f in findings] == ["LKP112"]


def test_severity_from_policy_and_off(tmp_path: Path) -> None:
    text = "init:\n  - linuxkit/init:v1\n"
    (finding,) = run(tmp_path, text, "LKP102")
    assert finding.severity is Severity.ERROR
    findings = judge(config_of(tmp_path, text), None, only("LKP102", "info"))
    assert findings[0].severity is Severity.INFO
    assert judge(config_of(tmp_path, text), None, only("LKP102", "off")) == []


def test_rule_not_named_does_not_run(tmp_path: Path) -> None:
    text = "init:\n  - linuxkit/init:v1\n"
    assert judge(config_of(tmp_path, text), None, Policy()) == []


# -- effective configs: the image label grants the power --------------------------------------


LABEL = {"capabilities": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"], "pid": "host",
         "binds": ["/:/hostroot"], "rootfsPropagation": "shared", "readonly": False,
         "sysctl": {"kernel.sysrq": "1"}, "devices": [{"path": "all", "type": "a"}]}


@pytest.fixture
def labelled_stage(tmp_path: Path):
    cache = tmp_path / "cache"
    store = Store(cache)
    add_image(store, "docker.io/acme/tool:1", LABEL)
    config = config_of(tmp_path, "services:\n  - name: tool\n    image: acme/tool:1\n")
    stage = resolve_images(config, ImageOptions(cache=str(cache), arch="amd64"))
    assert stage.complete
    return config, stage


def test_label_grants_are_reported_at_the_image(labelled_stage: Any) -> None:
    config, stage = labelled_stage
    rules = ("LKP110", "LKP120", "LKP130", "LKP140", "LKP150", "LKP151", "LKP160")
    policy = Policy(rules={rid: RuleSetting() for rid in rules})
    findings = judge(config, stage, policy)
    assert sorted({f.rule_id for f in findings}) == sorted(rules)
    for finding in findings:
        assert (finding.location.line, finding.location.column) == (3, 12), finding
        assert finding.pointer == "/services/0/image"
        assert "image label of docker.io/acme/tool:1" in finding.message, finding.message
        assert "not by the YAML" in finding.message
    cap = next(f for f in findings if f.rule_id == "LKP110")
    assert cap.message.startswith(
        "CAP_SYS_ADMIN is granted by the image label of docker.io/acme/tool:1, not by the YAML")
    # Without the images, the YAML alone grants nothing of this (its rootfs is writable).
    assert [f.rule_id for f in judge(config, None, policy)] == ["LKP151"]


def test_yaml_overriding_the_label_wins(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    add_image(Store(cache), "docker.io/acme/tool:1", LABEL)
    config = config_of(tmp_path, "services:\n  - name: tool\n    image: acme/tool:1\n"
                       "    capabilities: [CAP_CHOWN]\n    capabilities.add: [CAP_SYS_ADMIN]\n"
                       "    pid: new\n    binds: [/var/log:/var/log]\n")
    stage = resolve_images(config, ImageOptions(cache=str(cache), arch="amd64"))
    policy = Policy(rules={rid: RuleSetting() for rid in ("LKP110", "LKP120", "LKP130")})
    assert judge(config, stage, policy) == []


def test_label_plus_yaml_add_points_at_the_yaml(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    add_image(Store(cache), "docker.io/acme/tool:1", {"capabilities": ["CAP_CHOWN"]})
    config = config_of(tmp_path, "services:\n  - name: tool\n    image: acme/tool:1\n"
                       "    capabilities.add: [CAP_SYS_PTRACE]\n")
    stage = resolve_images(config, ImageOptions(cache=str(cache), arch="amd64"))
    (finding,) = judge(config, stage, only("LKP110"))
    assert finding.pointer == "/services/0/capabilities.add/0"
    assert (finding.location.line, finding.location.column) == (4, 24)
    assert "image label" not in finding.message


def test_effective_default_namespaces(labelled_stage: Any) -> None:
    config, stage = labelled_stage
    findings = judge(config, stage, only("LKP120", namespaces=["net", "pid"]))
    messages = sorted(f.message for f in findings)
    assert any("network namespace (`net` is not set" in m for m in messages)
    assert any("pid namespace by the image label" in m for m in messages)


# -- selectors ---------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_selectors_scope_options_and_severity(tmp_path: Path) -> None:
    policy_path = write(tmp_path / "p.yml", """\
        extends: []
        rules:
          LKP110: error
          LKP120: {namespaces: [net]}
        overrides:
          - match: {image: "docker.io/linuxkit/sshd*", section: services}
            rules:
              LKP110: {forbidden: [CAP_SYS_MODULE]}
              LKP120: off
            reason: sshd needs the host network and CAP_SYS_ADMIN for pam
          - match: {name: "debug-*"}
            rules:
              LKP110: info
        """)
    policy = load_policy(policy_path, tmp_path)
    text = """\
        services:
          - {name: sshd, image: linuxkit/sshd:v1, capabilities: [CAP_SYS_ADMIN]}
          - {name: other, image: linuxkit/other:v1, capabilities: [CAP_SYS_ADMIN]}
          - {name: debug-1, image: x/y, capabilities: [CAP_SYS_ADMIN], net: new}
        onboot:
          - {name: sshd, image: linuxkit/sshd:v1, net: new}
        """
    findings = judge(config_of(tmp_path, text), None, policy)
    got = sorted((f.rule_id, f.pointer, f.severity.label) for f in findings)
    assert got == [
        ("LKP110", "/services/1/capabilities/0", "error"),
        ("LKP110", "/services/2/capabilities/0", "info"),
        ("LKP120", "/services/1", "warning"),
    ]


# -- policy files ------------------------------------------------------------------------------


def error_of(path: Path, config_dir: Path | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        load_policy(path, config_dir or path.parent)
    return info.value


def test_unknown_rule_id_is_reported_at_its_key(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "rules:\n  LKP110: error\n  LKP999: off\n")
    (finding,) = error_of(path).findings
    assert finding.rule_id == "LKP002"
    assert (finding.location.file, finding.location.line, finding.location.column) == (
        str(path), 3, 3)
    assert "LKP999" in finding.message


def test_bad_option_value_is_reported_at_the_value(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "rules:\n  LKP110:\n    forbidden: [CAP_SYS_ADMIN, CAP_FOO]\n")
    findings = error_of(path).findings
    assert findings[0].rule_id == "LKP002"
    assert (findings[0].location.line, findings[0].location.column) == (3, 32)
    assert findings[0].pointer == "/rules/LKP110/forbidden/1"


def test_unknown_option_and_severity(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "rules:\n  LKP110: {forbiden: []}\n  LKP101: fatal\n")
    findings = error_of(path).findings
    assert [f.rule_id for f in findings] == ["LKP002", "LKP002"]
    assert findings[0].message == "`forbiden` is not a rule option; did you mean `forbidden`?"
    assert findings[0].hint == "LKP110 takes `forbidden` and `severity`"
    assert (findings[1].location.line, findings[1].location.column) == (3, 11)
    assert findings[1].message == "`fatal` is not a severity: use error, warning, info or off"


def test_policy_schema_messages_name_the_allowed_values(tmp_path: Path) -> None:
    """Plain sentences instead of jsonschema's Python reprs, with what is allowed."""
    cases = {
        "rules:\n  LKP120:\n    severity: criticl\n":
            ("`criticl` is not a severity: use error, warning, info or off", None),
        "extends: []\ntrust:\n  authorities:\n    a: {type: notry, server: 'https://n'}\n":
            ("`notry` is not a valid `type`: use notary, tuf, sigstore or cosign-key",
             "did you mean `notary`?"),
        "overrides:\n  - match: {section: servics}\n    rules: {LKP110: off}\n":
            ("`servics` is not a valid `section`: use init, kernel, onboot, onshutdown, "
             "services, volumes or files", "did you mean `services`?"),
        "rules:\n  LKP110:\n    forbidden: CAP_SYS_ADMIN\n":
            ("`forbidden` must be a list, not a string", None),
        "extends: builtin:strict\n": ("`extends` must be a list, not a string", None),
        # (a file with no policy key at all is refused without a word of it: LKP001)
        "extends: []\nrule:\n  LKP110: off\n": ("`rule` is not a policy key; did you mean "
                                                "`rules`?",
                                    "allowed: `check`, `custom_rules`, `extends`, `overrides`, "
                                    "`rules`, `trust` and `waivers`"),
        "rules:\n  LKP11: error\n": ("`LKP11` is not a rule ID; did you mean `LKP181`?",
                                     "`lkpolicy rules` lists the rules; policy rules start "
                                     "with LKP"),
        "extends: []\ntrust:\n  authorities:\n    a: {type: notary, server: 'https://n'}\n":
            ("`trust/authorities/a` needs `root_keys`, `root_cert_ids` or `tofu`", None),
        "extends: []\ntrust:\n  rules:\n    - images: '*'\n      files: ['x']\n"
        "      require: a\n":
            ("`trust/rules/0` needs `images` or `files` (only one of them)", None),
    }
    for text, (message, hint) in cases.items():
        (finding,) = error_of(write(tmp_path / "p.yml", text)).findings
        assert (finding.message, finding.hint) == (message, hint), text
        assert "'" not in finding.message and "[" not in finding.message


def test_yaml_error_in_policy_is_lkp001(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "rules:\n  LKP110: error\n  LKP110: off\n")
    (finding,) = error_of(path).findings
    assert finding.rule_id == "LKP001" and finding.location.line == 3
    missing = error_of(tmp_path / "absent.yml", tmp_path)
    assert missing.findings[0].rule_id == "LKP001"


def test_bad_regex_is_lkp005(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "rules:\n  LKP181:\n    forbidden: ['ok', '(']\n")
    (finding,) = error_of(path).findings
    assert finding.rule_id == "LKP005" and (finding.location.line, finding.location.column) == (3, 23)


def test_extends_relative_paths_and_precedence(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # `../base` is inside the repository, so it may be extended
    write(tmp_path / "base" / "base.yml", "extends: []\nrules:\n  LKP101: error\n  LKP110: error\n")
    child = write(tmp_path / "team" / "p.yml",
                  "extends: [../base/base.yml]\nrules:\n  LKP101: info\n")
    policy = load_policy(child, tmp_path)
    assert policy.rules["LKP101"].severity == "info"
    assert policy.rules["LKP110"].severity == "error"
    assert policy.sources == [str(tmp_path / "team" / "../base/base.yml"), str(child)]


def test_no_extends_means_default(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "rules:\n  LKP101: off\n")
    policy = load_policy(path, tmp_path)
    assert policy.sources[0] == "builtin:default"
    assert policy.rules["LKP101"].severity == "off" and "LKP110" in policy.rules


def test_extends_missing_and_unknown_builtin(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yml", "extends: [builtin:default, nope.yml]\n")
    (finding,) = error_of(path).findings
    assert finding.rule_id == "LKP003" and (finding.location.line, finding.location.column) == (1, 28)
    path = write(tmp_path / "q.yml", "extends:\n  - builtin:lax\n")
    (finding,) = error_of(path).findings
    assert finding.rule_id == "LKP003" and "builtin:strict" in finding.message


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.yml", "extends: [b.yml]\n")
    write(tmp_path / "b.yml", "extends: [builtin:default, a.yml]\n")
    (finding,) = error_of(tmp_path / "a.yml").findings
    assert finding.rule_id == "LKP004"
    assert finding.location.file == str(tmp_path / "b.yml")
    assert (finding.location.line, finding.location.column) == (1, 28)
    write(tmp_path / "self.yml", "extends: [self.yml]\n")
    assert error_of(tmp_path / "self.yml").findings[0].rule_id == "LKP004"


# -- discovery ---------------------------------------------------------------------------------


def test_discovery(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    write(tmp_path / ".lkpolicy.yml", "rules: {}\n")  # above the repository: not used
    assert find_policy(None, deep) == "builtin:default"
    write(repo / ".lkpolicy.yml", "rules: {}\n")
    assert find_policy(None, deep) == str(repo / ".lkpolicy.yml")
    write(repo / "a" / ".lkpolicy.yml", "rules: {}\n")
    assert find_policy(None, deep) == str(repo / "a" / ".lkpolicy.yml")
    assert find_policy("explicit.yml", deep) == "explicit.yml"
    assert load_policy(None, deep).sources[-1] == str(repo / "a" / ".lkpolicy.yml")


# -- built-ins, schema -------------------------------------------------------------------------


def test_builtin_policies_load() -> None:
    default = load_policy("builtin:default")
    strict = load_policy("builtin:strict")
    assert default.sources == ["builtin:default"]
    assert strict.sources == ["builtin:default", "builtin:strict"]
    assert strict.rules["LKP101"].severity == "error"
    assert strict.rules["LKP120"].options["namespaces"] == ["net", "pid", "ipc", "uts"]


def test_schema_file_is_generated_from_the_rules() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), (
        "regenerate: python -c 'from lkpolicy.stages.policy.schema import schema_text; "
        "print(schema_text(), end=\"\")' > schemas/policy.schema.json")
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"]
    assert set(schema["$defs"]["rules"]["properties"]) == set(POLICY_RULES)

    def described(node: Any, path: str) -> None:
        if isinstance(node, dict):
            # A `properties` map is not a schema, even with a property named `type`.
            schema_node = not path.endswith("/properties")
            if schema_node and ("type" in node or "enum" in node or "anyOf" in node):
                inner = path.endswith("/items") or "/anyOf/" in path[-8:]
                assert "description" in node or inner, path
            for key, value in node.items():
                if key not in ("enum", "required"):
                    described(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                described(value, f"{path}/{index}")

    described(schema, "")


# -- trust coverage ----------------------------------------------------------------------------


@pytest.mark.parametrize(("trust", "image", "covered"), [
    ({"image": ["linuxkit/init:v1"]}, "linuxkit/init:v1", True),
    ({"image": ["linuxkit/init"]}, "linuxkit/init:v1" + PIN, True),
    ({"image": ["docker.io/linuxkit/init"]}, "linuxkit/init:v1", True),
    ({"image": ["linuxkit/init:v2"]}, "linuxkit/init:v1", False),
    ({"image": ["linuxkit/init"]}, "linuxkit/initx:v1", False),
    ({"org": ["linuxkit"]}, "linuxkit/init:v1", True),
    ({"org": ["library"]}, "alpine:3.20", True),
    ({"org": ["library"]}, "linuxkit/init:v1", False),
    ({"org": ["acme"]}, "ghcr.io/acme/tool:1", True),
    ({"org": ["ghcr.io"]}, "ghcr.io/acme/tool:1", False),
    ({}, "alpine", False),
])
def test_trust_covers(trust: dict[str, list[str]], image: str, covered: bool) -> None:
    assert trust_covers(trust, parse(image)) is covered
    assert trust_covers([{"org": ["zzz"]}, trust], image) is covered


# -- the corpus --------------------------------------------------------------------------------


@pytest.mark.corpus
def test_default_policy_over_the_corpus(corpus_dir: Path, project_root: Path) -> None:
    """docs/policy-corpus.md shows what the default policy reports over the corpus; the table
    there must be what the gate reports today (regenerate it with the command it names)."""
    import sys

    sys.path.insert(0, str(project_root / "bench"))
    from corpus_policy_report import run as report
    from corpus_policy_report import table

    judged, findings = report(corpus_dir)
    assert all(finding.location.line > 0 and finding.pointer for finding in findings)
    documented = (project_root / "docs" / "policy-corpus.md").read_text(encoding="utf-8")
    assert table(judged, findings) in documented, (
        "regenerate: .venv/bin/python bench/corpus_policy_report.py --sample 2")
