"""`lkpolicy check --fix` and `--diff`: span-exact edits that change what the fixes say and
nothing else, refused when they would mean more; the fixability flags true to what they do."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from corpus_images import corpus_configs, fill_cache, package_labels
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.gate.gate import run_gate
from lkpolicy.gate.options import GateOptions, PolicyChoice
from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.fixes import Fix, remove, rename_key, set_value
from lkpolicy.model.rules import Fixability, all_rules
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store
from lkpolicy.tools.fix import OVERLAPS, expected_data, fix_files, fix_text
from lkpolicy.tools.pin import apply_pins, plan_pins
from lkpolicy.tools.pinresolvers import StoreResolver

runner = CliRunner()

BROKEN = """\
# a config with one of every fixable mistake; comments and spacing must survive
kernel:
  image: linuxkit/kernel:6.6.71   # the kernel
  cmdline: "console=tty0"
onboot:
  - name: format
    image: linuxkit/format:v1.0
    noNewPrivilege: true      # misspelled key
    readonly: yes
    oomScoreAdj: 0100
    ipc: none
    uid: "1000"
    capabilities:
      - sys_admin
      - NET_ADMIN
      - CAP_CHOWN
      - CAP_CHOWN   # twice
    ambient: [cap_chown, CAP_KILL, CAP_KILL]
    binds: ["data:/data"]
    resources:
      memory:
        limit: 268435456
        disableOOMKiller: true   # dropped by linuxkit
    uidMappings:
      - {containerID: 0, hostID: 100000, size: 65536}
volumes:
  - name: data
    readonly: true
    format: filesystm
files:
  - path: etc/motd
    contents: "hello"
    mode: 0644
  - path: etc/issue
    contents: "x"
    mode: 0o640
  - path: etc/agent/
    contents: "y"
  - path: etc/link
    symlink: /etc/motd
    contents: "ignored"
"""

FIXED = """\
# a config with one of every fixable mistake; comments and spacing must survive
kernel:
  image: linuxkit/kernel:6.6.71   # the kernel
  cmdline: "console=tty0"
onboot:
  - name: format
    image: linuxkit/format:v1.0
    noNewPrivileges: true      # misspelled key
    readonly: true
    oomScoreAdj: 0o100
    ipc: new
    uid: 1000
    capabilities:
      - CAP_SYS_ADMIN
      - CAP_NET_ADMIN
      - CAP_CHOWN
    ambient: [CAP_CHOWN, CAP_KILL]
    binds: ["data:/data:ro"]
    resources:
      memory:
        limit: 268435456
    uidMappings:
      - {size: 65536}
volumes:
  - name: data
    readonly: true
    format: filesystem
files:
  - path: etc/motd
    contents: "hello"
    mode: "0644"
  - path: etc/issue
    contents: "x"
    mode: "0640"
  - path: etc/agent
    contents: "y"
  - path: etc/link
    symlink: /etc/motd
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.stdout, result.stderr


def lint(path: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("check", "--no-images", "--no-policy", "--no-cache", *extra, str(path))


def write(tmp_path: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def gate_of(*paths: Path) -> tuple[list[Finding], dict[str, Document]]:
    gate = run_gate([str(p) for p in paths],
                    GateOptions(images=None, policy=None, use_result_cache=False))
    return gate.findings, gate.documents


# --- the fixes, end to end -----------------------------------------------------------------


def test_fix_rewrites_only_the_fixed_values(tmp_path: Path) -> None:
    config = write(tmp_path, BROKEN)
    code, out, _err = lint(config)
    assert code == 1
    assert "LK201 [*] unknown key `noNewPrivilege`" in out
    assert "[*] 19 fixable with `lkpolicy check --fix`" in out
    code, out, err = lint(config, "--fix")
    assert code == 0, out
    assert "lkpolicy: fixed 19 findings in 1 file" in err  # one of them in a second round
    assert config.read_text(encoding="utf-8") == FIXED
    assert "All checks passed" in out


def test_a_rename_that_would_duplicate_a_key_is_not_offered(tmp_path: Path) -> None:
    config = write(tmp_path, "onboot:\n  - name: a\n    image: linuxkit/a:v1\n"
                             "    capabilites: [CAP_CHOWN]\n    capabilities: [CAP_KILL]\n")
    code, out, _err = lint(config)
    assert code == 1
    assert "LK201 unknown key `capabilites`" in out and "[*]" not in out
    assert "did you mean `capabilities`?" in out


def test_diff_shows_the_fixes_writes_nothing_and_applies_as_a_patch(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    config = write(tmp_path, BROKEN)
    code, diff, err = lint(config, "--diff")
    assert code == 1
    assert "would fix" in err
    assert config.read_text(encoding="utf-8") == BROKEN
    assert diff.startswith(f"--- a/{str(config).lstrip('/')}\n")
    patch = tmp_path / "fix.patch"
    patch.write_text(diff, encoding="utf-8")
    applied = subprocess.run(["git", "apply", "-p1", "--directory=/", "--unsafe-paths",
                              str(patch)], cwd="/", capture_output=True, text=True, check=False)
    assert applied.returncode == 0, applied.stderr
    by_patch = config.read_text(encoding="utf-8")
    config.write_text(BROKEN, encoding="utf-8")
    lint(config, "--fix")
    # `--fix` goes on in rounds (the flow mapping's second key); the diff is the first round.
    assert by_patch.replace("{hostID: 100000, size: 65536}", "{size: 65536}") == \
        config.read_text(encoding="utf-8")
    clean = write(tmp_path, "kernel:\n  image: linuxkit/kernel:6.6.71\n", "clean.yml")
    assert lint(clean, "--diff")[0] == 0


def test_fix_keeps_encoding_line_endings_mode_and_symlinks(tmp_path: Path) -> None:
    text = "onboot:\r\n  - name: a\r\n    image: linuxkit/a:v1\r\n    ipc: none\r\n"
    real = tmp_path / "real.yml"
    real.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    real.chmod(0o640)
    link = tmp_path / "link.yml"
    link.symlink_to(real)
    lint(link, "--fix")
    assert link.is_symlink()
    assert real.read_bytes() == b"\xef\xbb\xbf" + text.replace("ipc: none", "ipc: new").encode()
    assert real.stat().st_mode & 0o777 == 0o640


def test_fix_refuses_what_would_change_more_than_it_says(tmp_path: Path) -> None:
    # The anchored capability is also the command's argument: renaming it there too would
    # change what the container runs.
    text = ("onboot:\n  - name: a\n    image: linuxkit/a:v1\n"
            "    capabilities: [&cap net_admin]\n    command: [*cap]\n")
    config = write(tmp_path, text)
    code, out, _err = lint(config)
    assert "LK306 unknown" in out and "[*]" not in out
    assert "fixable with" not in out
    for extra in (("--fix",), ("-f", "json")):  # the gate dropped the fix: nothing offers it
        code, out, err = lint(config, *extra)
        assert code == 1 and "not fixed" not in err and '"fix": {' not in out, out
    assert config.read_text(encoding="utf-8") == text
    offered = Finding("LK306", Severity.ERROR, "m", Location(str(config), 4, 20),
                      "/onboot/0/capabilities/0",
                      fix=set_value("/onboot/0/capabilities/0", "CAP_NET_ADMIN", "write it"))
    refused = fix_text(str(config), text, [offered]).refused
    assert refused == [(offered, "the edited file would read back differently (an anchored "
                                 "value, or a quoting limit)")]
    # Where every copy is a finding, all of them change together, which is what they say.
    both = write(tmp_path, "onboot:\n  - name: a\n    image: linuxkit/a:v1\n"
                 "    capabilities: [&cap net_admin]\n    ambient: [*cap]\n", "both.yml")
    lint(both, "--fix")
    assert "capabilities: [&cap CAP_NET_ADMIN]" in both.read_text(encoding="utf-8")


def test_overlapping_edits_are_refused_and_wait_for_a_later_round(tmp_path: Path) -> None:
    text = "a: [x, y, z]\n"
    path = str(write(tmp_path, text))
    first = Finding("LK309", Severity.WARNING, "m", Location(path, 1, 8), "/a/1",
                    fix=remove("/a/1", "remove"))
    second = Finding("LK309", Severity.WARNING, "m", Location(path, 1, 11), "/a/2",
                     fix=set_value("/a/2", "w", "write w"))
    clash = Finding("LK306", Severity.ERROR, "m", Location(path, 1, 8), "/a/1",
                    fix=set_value("/a/1", "v", "write v"))
    result = fix_text(path, text, [first, clash, second])
    assert result.new == "a: [x, w]\n"
    assert result.refused == [(clash, OVERLAPS)] and result.waiting
    assert [f.rule_id for f in result.fixed] == ["LK309", "LK309"]


def test_removals_keep_the_lines_around_them(tmp_path: Path) -> None:
    text = ("a:\n  keep: 1   # stays\n  gone:\n    - 1\n    # inside\n    - 2\n\n"
            "  # about last\n  last: 3\nb:\n- x\n- y   # dup\n- z\n")
    path = str(write(tmp_path, text))
    findings = [Finding("LK302", Severity.WARNING, "m", Location(path, 3, 3), "/a/gone",
                        fix=remove("/a/gone", "r")),
                Finding("LK309", Severity.WARNING, "m", Location(path, 12, 3), "/b/1",
                        fix=remove("/b/1", "r"))]
    result = fix_text(path, text, findings)
    assert result.new == ("a:\n  keep: 1   # stays\n\n  # about last\n  last: 3\nb:\n- x\n- z\n")
    # The last key of a mapping cannot go: the mapping would become null.
    only = "a:\n  b:\n    c: 1\n"
    lone = Finding("LK302", Severity.WARNING, "m", Location(path, 3, 5), "/a/b/c",
                   fix=remove("/a/b/c", "r"))
    assert fix_text(path, only, [lone]).new == only


def test_rename_and_expected_data() -> None:
    data = {"a": {"x": 1, "y": [1, 2, 3]}, "b": "s"}
    edits = [edit for fix in (rename_key("/a/x", "z", "r"), remove("/a/y/0", "r"),
                              remove("/a/y/2", "r"), set_value("/b", 2, "s"))
             for edit in fix.edits]
    assert expected_data(data, edits) == {"a": {"z": 1, "y": [2]}, "b": 2}
    assert data["a"]["x"] == 1  # the original is left alone


def test_stdin_and_option_misuse_are_usage_errors(tmp_path: Path) -> None:
    config = write(tmp_path, BROKEN)
    assert lint(config, "--fix", "--diff")[0] == 2
    assert invoke("check", "--fix", "--no-images", "-")[0] == 2
    assert invoke("check", "--fix", "--lock", str(tmp_path / "l.json"), str(config))[0] == 2


def test_the_fix_survives_the_result_cache(tmp_path: Path) -> None:
    config = write(tmp_path, "onboot:\n  - name: a\n    image: linuxkit/a:v1\n    ipc: none\n")
    for _ in range(2):  # the second run replays the first from the cache
        code, out, _err = invoke("check", "--no-images", "--no-policy", str(config))
        assert code == 0 and "LK304 [*]" in out


# --- pins from the image cache -------------------------------------------------------------


def test_fix_pins_images_from_the_cache_as_pin_does(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = Store(str(cache))
    for name in ("linuxkit/kernel:6.6.71", "linuxkit/init:v1.0", "linuxkit/getty:v2"):
        add_image(store, name)
    text = ("kernel:\n  image: linuxkit/kernel:6.6.71   # k\ninit:\n  - 'linuxkit/init:v1.0'\n"
            "services:\n  - name: getty\n    image: linuxkit/getty:v2\n"
            "  - name: missing\n    image: linuxkit/missing:v1\n")
    config = write(tmp_path, text)
    # `pin` pins what the cache resolves and leaves the missing image for a registry.
    pinned = apply_pins(text, plan_pins(text, str(config), StoreResolver(str(cache))))
    strict = ("check", "--cache", str(cache), "--no-cache", "--policy", "builtin:strict")
    code, out, _err = invoke(*strict, str(config))
    assert code == 1 and "LKP102 [*]" in out and "LKP101 [*] services `getty`" in out
    assert f"run `lkpolicy pin --write {config}`" in out
    assert "LKP101 services `missing`" in out  # not in the cache: no fix
    invoke(*strict, "--fix", str(config))
    assert config.read_text(encoding="utf-8") == pinned != text


@pytest.mark.corpus
def test_fix_pins_the_corpus_exactly_as_pin_does(corpus_dir: Path, tmp_path: Path) -> None:
    configs = corpus_configs(corpus_dir)
    cache = tmp_path / "cache"
    fill_cache(cache, configs, package_labels(corpus_dir))
    gate = run_gate([str(p) for p in configs], GateOptions(
        images=ImageOptions(cache=str(cache), arch="amd64"),
        policy=PolicyChoice("builtin:strict"), use_result_cache=False))
    results, notes = fix_files(gate.findings, gate.documents)
    assert notes == [] and all(not r.refused for r in results)
    fixed = {r.path: r for r in results}
    resolver = StoreResolver(str(cache))
    compared = 0
    for config in configs:
        text = config.read_text(encoding="utf-8")
        expected = apply_pins(text, plan_pins(text, str(config), resolver))
        result = fixed.get(str(config))
        if result is None:
            assert expected == text, config
        elif all(f.rule_id in ("LKP101", "LKP102") for f in result.fixed):
            assert result.new == expected, config
            compared += 1
    assert compared > 100


# --- the flags are true to what `--fix` does -----------------------------------------------


def test_fixability_flags_match_the_fixes(corpus_dir: Path, tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    config = write(tmp_path, BROKEN)
    paths = [config, *sorted((examples / "traps").glob("*.yml")), *corpus_configs(corpus_dir)]
    gate = run_gate([str(p) for p in paths], GateOptions(
        images=None, policy=PolicyChoice("builtin:strict"), use_result_cache=False))
    findings = gate.findings
    rules = {rule.id: rule for rule in all_rules()}
    fixed_rules = set()
    for finding in findings:
        fixability = rules[finding.rule_id].fixability
        if finding.fix is not None:
            assert fixability is not Fixability.NEVER, finding
            fixed_rules.add(finding.rule_id)
        elif fixability is Fixability.ALWAYS:
            raise AssertionError(f"{finding.rule_id} is always fixable, but not here: {finding}")
    # Every rule that says it is fixable has a fix in these configs.
    claimed = {rule_id for rule_id, rule in rules.items() if rule.fixability is not Fixability.NEVER}
    assert claimed - fixed_rules <= {"LKP101", "LKP102"}  # those need an image cache (above)


def test_every_fix_in_the_examples_applies(tmp_path: Path) -> None:
    config = write(tmp_path, BROKEN)
    findings, documents = gate_of(config)
    results, notes = fix_files(findings, documents)
    assert notes == []
    (result,) = results
    # Only the flow mapping's second key waits: its edit touches the first one's.
    assert [(f.rule_id, why) for f, why in result.refused] == [("LK302", OVERLAPS)]
    assert all(isinstance(f.fix, Fix) for f in result.fixed) and len(result.fixed) == 18


def test_diff_shows_the_fixes_of_standard_input() -> None:
    text = "onboot:\n  - name: a\n    image: linuxkit/a:v1\n    ipc: none\n"
    result = CliRunner().invoke(app, ["check", "--no-images", "--no-policy", "--no-cache",
                                      "-f", "json", "-"], input=text)
    (finding,) = [f for f in json.loads(result.stdout)["findings"]
                  if f["rule"] == "LK304"]
    assert finding["fix"] is not None
    result = CliRunner().invoke(app, ["check", "--no-images", "--no-policy", "--no-cache",
                                      "--diff", "-"], input=text)
    assert result.exit_code == 1, result.output
    assert "-    ipc: none\n+    ipc: new\n" in result.stdout
    assert "would fix 1 finding in 1 file" in result.stderr
    # Named by --stdin-filename, it is still the text read from standard input that is fixed.
    result = CliRunner().invoke(app, ["check", "--no-images", "--no-policy", "--no-cache",
                                      "--diff", "--stdin-filename", "absent/c.yml", "-"],
                                input=text)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("--- a/absent/c.yml\n")
    assert "+    ipc: new\n" in result.stdout


def test_a_repeated_bind_is_removed(tmp_path: Path) -> None:
    config = write(tmp_path, "onboot:\n  - name: a\n    image: linuxkit/a:v1\n"
                             "    binds:\n      - /x:/x   # first\n      - /y:/y\n"
                             "      - /x:/x\n")
    code, out, _err = lint(config)
    assert code == 0 and "LK309 [*] bind `/x:/x` is listed twice" in out
    lint(config, "--fix")
    assert config.read_text(encoding="utf-8") == (
        "onboot:\n  - name: a\n    image: linuxkit/a:v1\n"
        "    binds:\n      - /x:/x   # first\n      - /y:/y\n")


@pytest.mark.corpus
def test_the_marks_agree_with_what_fix_does(corpus_dir: Path, tmp_path: Path) -> None:
    """The gate keeps a fix where `--fix` applies it; most files are decided without the
    second reading (only scalars set, no anchors): that shortcut must agree with it."""
    from lkpolicy.tools.fix import usable_fixes

    configs = corpus_configs(corpus_dir)
    examples = Path(__file__).resolve().parent.parent / "examples"
    paths = [write(tmp_path, BROKEN), write(tmp_path, "onboot:\n  - name: a\n    image: "
                                            "linuxkit/a:v1\n    capabilities: [&cap net_admin]"
                                            "\n    command: [*cap]\n", "anchored.yml"),
             *sorted((examples / "traps").glob("*.yml")), *configs]
    cache = tmp_path / "cache"
    fill_cache(cache, configs, package_labels(corpus_dir))
    gate = run_gate([str(p) for p in paths], GateOptions(
        images=ImageOptions(cache=str(cache), arch="amd64"),
        policy=PolicyChoice("builtin:strict"), use_result_cache=False))
    offered = [f for f in gate.findings if f.fix is not None]
    kept = {id(f) for f in usable_fixes(offered, gate.documents) if f.fix is not None}
    for path in sorted({f.location.file for f in offered}):
        document = gate.documents[path]
        result = fix_text(path, document.text, offered, document)
        refused = {id(f) for f, why in result.refused if why != OVERLAPS}
        mine = [f for f in offered if f.location.file == path]
        assert {id(f) for f in mine} - refused == {id(f) for f in mine} & kept, path
    assert len(kept) > 1000 and len(kept) < len(offered)
