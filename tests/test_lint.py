"""Every lint rule: a config that fires it, one that does not, and the position it reports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lkpolicy.gate.gate import run_gate
from lkpolicy.gate.options import GateOptions, RuleSelection
from lkpolicy.model.config import Config, merge
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.rules import all_rules
from lkpolicy.stages.lint import lint
from lkpolicy.stages.lint.registry import registered_checks
from lkpolicy.stages.load import load_document


def config_of(tmp_path: Path, *texts: str) -> Config:
    documents = []
    for index, text in enumerate(texts):
        path = tmp_path / f"c{index}.yml"
        path.write_text(textwrap.dedent(text))
        documents.append(load_document(str(path))[0])
    return merge(documents)


def lint_texts(tmp_path: Path, *texts: str) -> list[Finding]:
    return lint(config_of(tmp_path, *texts))


def fired(findings: list[Finding], rule_id: str) -> list[tuple[int, int]]:
    return sorted((f.location.line, f.location.column) for f in findings if f.rule_id == rule_id)


CASES = [
    # rule, firing config, positions, clean config
    ("LK301", "trust:\n  org: [linuxkit]\n", [(1, 1)], "init: [a:1]\n"),
    ("LK302", """
        onboot:
          - name: a
            image: a:1
            resources:
              memory: {limit: 10, disableOOMKiller: true}
              hugepageLimits: []
            uidMappings: [{containerID: 0, hostID: 1000, size: 1}]
        """, [(6, 27), (7, 7), (8, 20), (8, 36)],
     "onboot:\n  - name: a\n    image: a:1\n    resources: {memory: {limit: 10}}\n"),
    ("LK303", 'onboot:\n  - name: a\n    image: a:1\n    command: [echo, "@hello"]\n', [(4, 21)],
     'onboot:\n  - name: a\n    image: a:1\n    command: [echo, "@pkg:./x", "a@b"]\n'),
    ("LK304", "services:\n  - name: a\n    image: a:1\n    ipc: none\n    uts: none\n", [(4, 10), (5, 10)],
     "services:\n  - name: a\n    image: a:1\n    net: none\n    ipc: new\n"),
    ("LK305", "onboot:\n  - {name: a, image: a:1}\n  - {name: a, image: b:1}\n", [(3, 12)],
     "onboot:\n  - {name: a, image: a:1}\n  - {name: b, image: b:1}\n"),
    ("LK306", "onboot:\n  - name: a\n    image: a:1\n    capabilities: [CAP_ALL, cap_net_admin, all]\n",
     [(4, 20), (4, 29), (4, 44)],
     "onboot:\n  - name: a\n    image: a:1\n    capabilities: [CAP_NET_ADMIN]\n    ambient: [none]\n"),
    ("LK307", "files:\n  - path: etc/x/\n    contents: hi\n", [(2, 11)],
     "files:\n  - path: etc/x/\n    directory: true\n"),
    ("LK308", "files:\n  - path: etc/x\n    source: conf/x\n", [(3, 13)],
     "files:\n  - path: etc/x\n    source: /conf/x\n"),
    ("LK309", "onboot:\n  - name: a\n    image: a:1\n    capabilities: [CAP_KILL, CAP_KILL]\n    binds: [/a:/a, /a:/a]\n",
     [(4, 30), (5, 20)],
     "onboot:\n  - name: a\n    image: a:1\n    capabilities: [CAP_KILL]\n"),
    ("LK310", "onboot:\n  - name: a\n    image: a:1\n    capabilities: [CAP_KILL]\n    capabilities.add: [CAP_CHOWN]\n",
     [(5, 5)], "onboot:\n  - name: a\n    image: a:1\n    capabilities.add: [CAP_CHOWN]\n"),
    ("LK311", "volumes:\n  - name: v\nonboot:\n  - name: a\n    image: a:1\n    mounts: [{type: bind, source: v, destination: /v, options: [rw]}]\n",
     [(6, 35)], "volumes:\n  - name: v\nonboot:\n  - name: a\n    image: a:1\n    binds: [v:/v]\n"),
    ("LK312", "onboot:\n  - name: a\n    image: a:1\n    binds: [nosuch:/v]\n", [(4, 13)],
     "volumes: [{name: v}]\nonboot:\n  - name: a\n    image: a:1\n    binds: [v:/v]\n"),
    ("LK313", 'onboot:\n  - name: a\n    image: a:1\n    uid: "1000"\n', [(4, 10)],
     "onboot:\n  - name: a\n    image: a:1\n    uid: 1000\n    gid: a\n"),
    ("LK314", 'volumes:\n  - name: ""\n', [(2, 11)], "volumes:\n  - name: v\n"),
    ("LK315", "init: [Linuxkit/Init:v1]\n", [(1, 8)], "init: [linuxkit/init:v1]\n"),
    ("LK316", "init: [linuxkit/init]\n", [(1, 8)], "init: [linuxkit/init:v1]\n"),
    ("LK317", "onboot:\n  - name: a\n    image: a:1\n    oomScoreAdj: 0644\n", [(4, 18)],
     "onboot:\n  - name: a\n    image: a:1\n    oomScoreAdj: 644\n"),
    ("LK318", "onboot:\n  - name: a\n    image: a:1\n    capabilities: [all]\n", [(4, 19)],
     "onboot:\n  - name: a\n    image: a:1\n    capabilities: [none]\n"),
    ("LK319", "kernel:\n  cmdline: console=ttyS0\n", [(1, 1)], "kernel:\n  image: k:1\n"),
    ("LK320", "files:\n  - path: /boot/x\n    contents: a\n", [(2, 11)],
     "files:\n  - path: /etc/x\n    contents: a\n"),
    ("LK321", "files:\n  - path: x\n    source: /x\n    optional: true\n", [(3, 13)],
     "files:\n  - path: x\n    source: /x\n"),
    ("LK322", "files:\n  - path: a\n  - path: b\n    contents: x\n    source: /y\n  - path: c\n    directory: true\n    contents: x\n",
     [(2, 5), (3, 5), (6, 5)], "files:\n  - path: a\n    contents: ''\n  - path: b\n    symlink: /a\n"),
    ("LK323", "files:\n  - path: a\n    contents: x\n    mode: rw-r--r--\n", [(4, 11)],
     "files:\n  - path: a\n    contents: x\n    mode: '4755'\n"),
    ("LK324", "files:\n  - path: a\n    metadata: toml\n", [(3, 15)], "files:\n  - path: a\n    metadata: json\n"),
    ("LK327", "files:\n  - path: ../x\n    contents: a\n  - path: /etc/../../y\n    directory: true\n"
              "  - path: '@../z'\n    contents: b\n",
     [(2, 11), (4, 11)], "files:\n  - path: etc/../x\n    contents: a\n  - path: /..x\n    contents: b\n"),
    ("LK325", "volumes: [{name: v, readonly: true}]\nonboot:\n  - name: a\n    image: a:1\n    binds: [v:/v]\n",
     [(5, 13)], "volumes: [{name: v, readonly: true}]\nonboot:\n  - name: a\n    image: a:1\n    binds: [v:/v:ro]\n"),
    ("LK326", "onboot:\n  - name: a\n    image: a:1\n    binds: [/a]\n    tmpfs: ['/t:a:b']\n    rlimits: ['nofile,1', 'bogus,1,2', 'nproc,x,unlimited']\n",
     [(4, 13), (5, 13), (6, 15), (6, 27), (6, 40)],
     "onboot:\n  - name: a\n    image: a:1\n    binds: [/a:/a:ro]\n    tmpfs: ['/t:size=1m']\n    rlimits: ['RLIMIT_NOFILE,1,UNLIMITED']\n"),
]


@pytest.mark.parametrize(("rule_id", "bad", "positions", "good"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_with_position(tmp_path: Path, rule_id: str, bad: str, positions: list[tuple[int, int]], good: str) -> None:
    bad_findings = lint_texts(tmp_path, bad)
    assert fired(bad_findings, rule_id) == positions, [(f.rule_id, f.message) for f in bad_findings]
    good_findings = lint_texts(tmp_path, good)
    assert fired(good_findings, rule_id) == [], [(f.rule_id, f.message) for f in good_findings]


def test_every_lint_rule_has_a_case() -> None:
    lint_ids = {rule.id for rule in all_rules() if rule.category == "lint"}
    assert lint_ids == {case[0] for case in CASES}


def test_capability_hints(tmp_path: Path) -> None:
    findings = lint_texts(tmp_path, "onboot:\n  - name: a\n    image: a:1\n    capabilities: [CAP_ALL, cap_net_admin, NET_RAW]\n")
    hints = [f.hint for f in findings if f.rule_id == "LK306"]
    assert hints[0] and "`all`" in hints[0]
    assert hints[1] and "CAP_NET_ADMIN" in hints[1]
    assert hints[2] and "CAP_NET_RAW" in hints[2]


def test_volume_from_earlier_file_is_not_visible(tmp_path: Path) -> None:
    a = "volumes: [{name: v}]\nonboot:\n  - name: a\n    image: a:1\n    binds: [v:/v]\n"
    b = "init: [x:1]\n"
    assert fired(lint_texts(tmp_path, a, b), "LK312") == [(5, 13)]
    findings = lint_texts(tmp_path, b, a)
    assert fired(findings, "LK312") == []


def test_findings_name_the_file_that_holds_the_node(tmp_path: Path) -> None:
    findings = lint_texts(tmp_path, "init: [a:1]\n", "trust: {org: [x]}\n")
    (trust,) = [f for f in findings if f.rule_id == "LK301"]
    assert trust.location.file.endswith("c1.yml")


def test_wrongly_typed_values_do_not_crash_lint(tmp_path: Path) -> None:
    text = """
        kernel: {image: 5}
        init: [1, null]
        onboot:
          - name: 1
            image: [x]
            capabilities: CAP_X
            binds: {a: b}
            devices: [1, {path: all, mode: 5}]
            rlimits: [5]
            uid: [1]
            resources: {memory: 5}
          - 7
        files: [1, {path: 5, mode: 7, source: 3}]
        volumes: [1, {name: 2}]
        trust: 5
        """
    lint_texts(tmp_path, text)


@pytest.mark.parametrize(("mode", "accepted"), [
    ("0644", True), ("-1", True), ("+644", True), ("17777777777", True),
    ("37777777777", False), ("20000000000", False), ("0644\\n", False), ("0o644", False),
    ("", False), ("1_0", False), (" 644", False), ("@0644", False),
])
def test_device_mode_is_go_parseint(tmp_path: Path, mode: str, accepted: bool) -> None:
    """linuxkit: strconv.ParseInt(mode, 8, 32); Python's int() would accept more and less."""
    config = ("onboot:\n  - name: a\n    image: a:1\n"
              f"    devices: [{{path: /dev/x, type: c, major: 1, minor: 2, mode: \"{mode}\"}}]\n")
    assert (fired(lint_texts(tmp_path, config), "LK323") == []) is accepted


@pytest.mark.parametrize(("mode", "accepted"), [
    ("4755", True), ("37777777777", True), ("0", True), ("", True),
    ("-1", False), ("+644", False), ("40000000000", False), ("0644\\n", False), ("8", False),
    # linuxkit's template step empties `@...`: the default mode (LK303 says so).
    ("@0644", True), ("@pkg:x", False),
])
def test_file_mode_is_go_parseuint(tmp_path: Path, mode: str, accepted: bool) -> None:
    """linuxkit: strconv.ParseUint(mode, 8, 32)."""
    config = f"files:\n  - path: a\n    contents: x\n    mode: \"{mode}\"\n"
    assert (fired(lint_texts(tmp_path, config), "LK323") == []) is accepted


# --- each check is a unit registered with its rules --------------------------------------------


LINT_RULES = {rule.id: rule for rule in all_rules() if rule.category == "lint"}


def test_every_lint_rule_is_defined_in_a_family_module_and_emitted_by_a_check() -> None:
    registered = {rule.id for check in registered_checks() for rule in check.rules}
    assert registered == set(LINT_RULES)
    for rule in LINT_RULES.values():
        family = rule.module.removeprefix("lkpolicy.stages.lint.")
        assert family in ("decoding", "containers", "mounts", "files", "images"), rule.module


@pytest.mark.parametrize("bad", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_a_check_emits_only_the_rules_it_is_registered_with(tmp_path: Path, bad: str) -> None:
    config = config_of(tmp_path, bad)
    for check in registered_checks():
        emitted = {finding.rule_id for finding in check.run(config)}
        assert emitted <= {rule.id for rule in check.rules}, check.run.__name__


def test_only_checks_that_can_block_the_build_run_whatever_the_selection() -> None:
    blocking = {check.run.__name__ for check in registered_checks() if check.runs(lambda _: False)}
    assert "check_at_values" in blocking  # LK303 is a warning, but an emptied image is an error
    assert "check_capability_names" in blocking and "check_binds" in blocking
    assert "check_trust" not in blocking and "check_sources" not in blocking
    for check in registered_checks():
        if any(rule.blocks_build for rule in check.rules):
            assert check.run.__name__ in blocking


def test_a_deselected_check_does_not_run(tmp_path: Path) -> None:
    """`lint` filters nothing itself, so a missing finding means its check did not run."""
    config = config_of(tmp_path, "trust:\n  org: [linuxkit]\nonboot:\n  - name: a\n"
                       "    image: a:1\n    oomScoreAdj: 0644\n    ipc: none\n"
                       "    capabilities: [CAP_KILL, CAP_KILL, cap_chown]\n")
    everything = {f.rule_id for f in lint(config)}
    assert everything == {"LK301", "LK304", "LK306", "LK309", "LK317"}
    chosen = {f.rule_id for f in lint(config, lambda rule: rule in ("LK301", "LK304"))}
    # LK306 is an error that stops the build: its check runs whatever the selection.
    assert chosen == {"LK301", "LK304", "LK306"}
    assert {f.rule_id for f in lint(config, lambda _: False)} == {"LK306"}


def test_a_check_runs_whole_when_one_of_its_rules_is_chosen(tmp_path: Path) -> None:
    config = config_of(tmp_path, "files:\n  - path: x\n    source: conf/x\n    optional: true\n")
    assert {f.rule_id for f in lint(config, lambda rule: rule == "LK308")} == {"LK308", "LK321"}


def test_a_warning_rule_raised_to_an_error_runs_when_deselected(tmp_path: Path) -> None:
    config = config_of(tmp_path, 'init: ["@nothing"]\nonboot:\n  - name: a\n    image: a:1\n'
                       '    command: ["@hello"]\n')
    found = [f.severity for f in lint(config, lambda _: False) if f.rule_id == "LK303"]
    assert found == [Severity.ERROR, Severity.WARNING]


def test_the_gate_skips_deselected_lint_checks_but_reports_build_blockers(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text('init: ["@nothing"]\ntrust:\n  org: [linuxkit]\nonboot:\n  - name: a\n'
                    '    image: a:1\n    command: ["@hello"]\n    capabilities: [CAP_ALL]\n')
    options = GateOptions(use_result_cache=False,
                          selection=RuleSelection.parse(["LKP"], ["LK301"]))
    gate = run_gate([str(path)], options)
    assert [(f.rule_id, f.severity) for f in gate.findings] == [
        ("LK303", Severity.ERROR), ("LK315", Severity.ERROR), ("LK306", Severity.ERROR)]
    assert gate.exit_code == 1
