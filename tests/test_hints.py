"""Messages that tell the fix: hints that work when applied literally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.store.lookup import Store

CONFIG = """\
kernel:
  image: linuxkit/kernel:6.6.71
  cmdline: "console=tty0"
init:
  - linuxkit/init:v1.0
"""


def findings(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["check", "--no-cache", "--offline", "-f", "json", *args])
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)["findings"]
    return found


def yaml_lines(hint: str) -> list[str]:
    """The YAML a hint spells out: every line after its first (which says where it goes),
    but for a closing sentence that starts with `and`."""
    return [line for line in hint.splitlines()[1:] if not line.startswith("and ")]


def test_the_strict_trust_path_ends_in_a_working_policy(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = Store(str(cache))
    for name in ("linuxkit/kernel:6.6.71", "linuxkit/init:v1.0"):
        add_image(store, name)
    config = tmp_path / "config.yml"
    config.write_text(CONFIG, encoding="utf-8")
    common = ("--cache", str(cache), "--select", "LKP190,LKT001")

    # Step 1: builtin:strict wants every image covered by `trust:`.
    step1 = findings(*common, "--policy", "builtin:strict", str(config))
    assert {f["rule"] for f in step1} == {"LKP190"}
    hint = step1[0]["hint"]
    assert all(f["hint"] == hint for f in step1)
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(yaml_lines(hint)) + "\n")

    # Step 2: covered now, but the policy names no authority to verify with.
    step2 = findings(*common, "--policy", "builtin:strict", str(config))
    assert {f["rule"] for f in step2} == {"LKT001"}
    hint = step2[0]["hint"]
    assert "pass it with `--policy FILE`" in hint.splitlines()[-1]
    policy = tmp_path / "policy.yml"
    policy.write_text("\n".join(yaml_lines(hint)) + "\n", encoding="utf-8")

    # Step 3: the policy the hint spelled out loads, keeps strict, and has an authority.
    step3 = findings(*common, "--policy", str(policy), str(config))
    assert step3 == []
    trust = findings("--cache", str(cache), "--select", "LKT", "--policy", str(policy),
                     str(config))
    # Offline with an empty trust cache, the authority cannot vouch yet: the next step.
    assert {f["rule"] for f in trust} == {"LKT002"}
    hardened = ("--cache", str(cache), "--select", "LKP102,LKP182")
    strict = findings(*hardened, "--policy", str(policy), str(config))
    assert strict and strict == findings(*hardened, "--policy", "builtin:strict", str(config))


def test_lkt001_names_an_existing_authority(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    add_image(Store(str(cache)), "linuxkit/init:v1.0")
    config = tmp_path / "config.yml"
    config.write_text("init:\n  - linuxkit/init:v1.0\ntrust:\n  org: [linuxkit]\n",
                      encoding="utf-8")
    policy = tmp_path / "policy.yml"
    policy.write_text("trust:\n  authorities:\n    hub: {type: notary, server: 'https://n', "
                      "tofu: true}\n", encoding="utf-8")
    (finding,) = findings("--cache", str(cache), "--select", "LKT001", "--policy", str(policy),
                          str(config))
    assert finding["hint"].startswith(f"add `default_authority: hub` under `trust:` in {policy}")


def test_image_hints_give_the_command(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    add_image(Store(str(cache)), "linuxkit/init:v1.0", architecture="arm64")
    config = tmp_path / "config.yml"
    config.write_text("init:\n  - linuxkit/init:v1.0\nonboot:\n  - name: a\n"
                      "    image: linuxkit/a:v1\n", encoding="utf-8")
    found = {f["rule"]: f["hint"] for f in findings("--cache", str(cache), "--arch", "amd64",
                                                    "--no-policy", str(config))}
    assert found["LK401"] == (f"run `lkpolicy cache pull --cache {cache} --platform linux/amd64 "
                              "docker.io/linuxkit/a:v1`, or pass `--cache` the image cache your "
                              "build uses")
    assert found["LK405"].startswith(f"run `lkpolicy cache pull --cache {cache} --platform "
                                     "linux/amd64 docker.io/linuxkit/init:v1.0`")
    empty = findings("--cache", str(tmp_path / "none"), "--no-policy", str(config))
    assert empty[0]["hint"].startswith(
        f"run `lkpolicy cache pull --cache {tmp_path / 'none'} docker.io/linuxkit/init:v1.0 "
        "docker.io/linuxkit/a:v1`")


# --- library messages become sentences -----------------------------------------------------


def _tar_gz(members: dict[str, bytes]) -> bytes:
    import gzip
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def test_archive_problems_are_plain_sentences(tmp_path: Path) -> None:
    whole = _tar_gz({"index.json": b"{}" * 5000})
    cases = {
        "junk.tar": (bytes(range(256)) * 4, "it is not a tar archive (plain, or compressed "
                                            "with gzip, bzip2 or xz)"),
        "empty.tar": (b"", "the file is empty"),
        "cut.tar.gz": (whole[:len(whole) // 2], "it ends early: the file is truncated"),
        "bad.tar.gz": (whole[:10] + b"\xff" * 40 + whole[50:], "its gzip compression is corrupt"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = CliRunner().invoke(app, ["cache", "import", "--cache", str(tmp_path / "c"),
                                          str(path)])
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.strip() == f"lkpolicy: archive {path}: cannot read it: {reason}", name
        assert "Error(" not in result.stderr and "method gz" not in result.stderr


def test_deep_nesting_is_worded(tmp_path: Path) -> None:
    config = tmp_path / "deep.yml"
    config.write_text("a:\n  " + "- " * 1000 + "x\n", encoding="utf-8")
    baseline = tmp_path / "deep.json"
    baseline.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--no-images", "--no-cache", "-f", "json",
                                      str(config)])
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["rule"], finding["message"]) == ("LK108",
                                                         "collections nested more than 64 deep")
    other = tmp_path / "ok.yml"
    other.write_text("kernel:\n  cmdline: x\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--no-images", "--no-cache", "-f", "json",
                                      "--baseline", str(baseline), str(other)])
    assert result.exit_code == 2, result.output
    messages = [f["message"] for f in json.loads(result.stdout)["findings"]]
    assert "baseline: not a JSON file: JSON nested too deeply" in messages
    assert not any("recursion" in message for message in messages)


def test_a_corrupt_layer_is_worded(tmp_path: Path) -> None:
    from imagefactory import LAYER_TYPE, layer_bytes
    from planning import plan_build

    from lkpolicy.assemble import BuildError, write_outputs
    from lkpolicy.model.config import merge
    from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST
    from lkpolicy.stages.load import load_document

    store = Store(str(tmp_path / "cache"))
    layer = layer_bytes({"etc/motd": bytes(range(256)) * 400})
    damaged = layer[:20] + bytes(b ^ 0x5A for b in layer[20:60]) + layer[60:]
    config_blob = store.add_blob(json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": []}}).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_blob.to_json(),
                "layers": [store.add_blob(damaged, LAYER_TYPE).to_json()]}
    store.register("docker.io/test/damaged:1",
                   store.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST))
    path = tmp_path / "c.yml"
    path.write_text("onboot:\n  - name: c\n    image: test/damaged:1\n", encoding="utf-8")
    document, _ = load_document(str(path))
    config = merge([document])
    out = tmp_path / "out"
    out.mkdir()
    try:
        write_outputs(config, plan_build(config, store), ["tar"], out, "c")
    except BuildError as error:
        message = str(error)
    else:
        raise AssertionError("a damaged layer was built")
    assert message.endswith("cannot decompress: its gzip compression is corrupt"), message
    assert "Error -" not in message and "deflate" not in message


# --- every finding tells its fix -----------------------------------------------------------


@pytest.mark.corpus
def test_every_finding_of_the_corpus_and_the_examples_carries_a_hint(corpus_dir: Path,
                                                                     tmp_path: Path) -> None:
    from corpus_images import corpus_configs, fill_cache, package_labels

    from lkpolicy.gate.gate import run_gate
    from lkpolicy.gate.options import GateOptions, PolicyChoice
    from lkpolicy.store.location import ImageOptions

    configs = corpus_configs(corpus_dir)
    examples = sorted((Path(__file__).resolve().parent.parent / "examples").rglob("*.yml"))
    fill_cache(tmp_path / "cache", configs, package_labels(corpus_dir))
    seen: dict[str, int] = {}
    for policy, cache in (("builtin:strict", tmp_path / "cache"),
                          ("builtin:default", tmp_path / "none")):
        gate = run_gate([str(p) for p in [*configs, *examples]], GateOptions(
            images=ImageOptions(cache=str(cache), arch="amd64"),
            policy=PolicyChoice(policy, offline=True), use_result_cache=False))
        for finding in gate.findings:
            seen[finding.rule_id] = seen.get(finding.rule_id, 0) + 1
            assert finding.hint, finding
    # The runs cover the lint, image and policy families (the rules most configs meet).
    assert {"LK201", "LK301", "LK305", "LK308", "LK318", "LK401", "LKP101",
            "LKP103", "LKP110", "LKP111", "LKP120", "LKP130", "LKP140", "LKP151", "LKP152",
            "LKP182", "LKP190"} <= set(seen)


HARDENED_POLICY = """\
extends: [builtin:strict]
rules:
  LKP182: {severity: warning, required: ["init_on_alloc=1", "page_alloc\\\\.shuffle=1"]}
"""
POLICY_RULES = "LKP110,LKP111,LKP120,LKP150,LKP151,LKP152,LKP170,LKP171,LKP181,LKP182"


def _apply_hint(config: dict[str, Any], finding: dict[str, Any]) -> None:
    """Do what the hint says, word for word; a hint that says nothing this understands fails."""
    import re

    hint, parts = finding["hint"], finding["pointer"].split("/")[1:]
    entry = config[parts[0]][int(parts[1])] if parts[0] in ("services", "files") else None
    if match := re.match(r"set `(\w+): (\w+)` in this entry", hint):
        assert entry is not None
        key, value = match.groups()
        entry[key] = {"true": True}.get(value, value)
    elif match := re.match(r"remove `(CAP_\w+)` from `capabilities`", hint):
        assert entry is not None
        entry["capabilities"].remove(match.group(1))
    elif match := re.match(r'write `mode: "(\d{4})"`', hint):
        assert entry is not None
        entry["mode"] = match.group(1)
    elif match := re.match(r"remove `(\S+)` from `kernel.cmdline`", hint):
        config["kernel"]["cmdline"] = " ".join(
            word for word in config["kernel"]["cmdline"].split() if word != match.group(1))
    elif match := re.match(r"add `(\S+)` to `kernel.cmdline`", hint):
        config["kernel"]["cmdline"] += " " + match.group(1)
    else:
        raise AssertionError(f"a hint that tells no edit: {finding}")


def test_policy_hints_applied_literally_fix_their_findings(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = Store(str(cache))
    for name in ("linuxkit/kernel:6.6.71", "linuxkit/init:v1.0", "linuxkit/svc:v1"):
        add_image(store, name)
    config: dict[str, Any] = {
        "kernel": {"image": "linuxkit/kernel:6.6.71", "cmdline": "console=tty0 nokaslr"},
        "init": ["linuxkit/init:v1.0"],
        "services": [{"name": "svc", "image": "linuxkit/svc:v1", "pid": "host",
                      "rootfsPropagation": "shared",
                      "capabilities": ["CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_CHOWN"]}],
        "files": [{"path": "usr/bin/tool", "contents": "x", "mode": "4755"},
                  {"path": "etc/open", "contents": "x", "mode": "0666"},
                  {"path": "var/drop", "directory": True, "mode": "0777"}],
    }
    policy = tmp_path / "policy.yml"
    policy.write_text(HARDENED_POLICY, encoding="utf-8")
    path = tmp_path / "config.yml"
    options = ("--cache", str(cache), "--policy", str(policy), "--select", POLICY_RULES)
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    before = findings(*options, str(path))
    assert {f["rule"] for f in before} == set(POLICY_RULES.split(","))
    assert len(before) == 15, [(f["rule"], f["message"]) for f in before]
    for finding in before:
        _apply_hint(config, finding)
    path.write_text(json.dumps(config), encoding="utf-8")
    assert findings(*options, str(path)) == []
    assert config["kernel"]["cmdline"] == \
        "console=tty0 init_on_alloc=1 page_alloc.shuffle=1"
    assert [f["mode"] for f in config["files"]] == ["0755", "0664", "1777"]


BROKEN_INPUTS: dict[str, bytes] = {
    "dup.yml": b"a: 1\na: 2\n",
    "nonstring.yml": b"? [a]\n: 1\n",
    "empty.yml": b"",
    "list.yml": b"- a\n",
    "latin1.yml": b"a: \xff\n",
    "control.yml": b'a: "x\x01"\n',
    "binary.yml": b"a\0b",
    "documents.yml": b"kernel: {cmdline: x}\n---\nb: 1\n",
    "recursive.yml": b"a: &x [*x]\n",
    "tab.yml": b"a:\n\tb: 1\n",
    "colon.yml": b"a: b: c\n",
    "alias.yml": b"a: *x\n",
    "indent.yml": b"a:\n  b: 1\n c: 2\n",
    "flow.yml": b"a: [1, 2\n",
    "quote.yml": b'a: "x\n',
    "lint.yml": b"""\
onboot:
  - name: a
    image: linuxkit/a:v1
    bogus: 1
    binds: ["/x:/x", "/x:/x", "nosuch:/y", "bad", "/a:/b:c:d"]
    rlimits: ["nofile", "nofle,1,2", "nofile,x,2"]
    tmpfs: ["/a:b:c"]
    mounts:
      - {type: bind, source: novol, destination: /z}
  - name: a
    image: "linuxkit/UPPER:v1"  # lkpolicy: ignore[LKP101]
volumes:
  - name: ""
    image: linuxkit/v:v1  # lkpolicy: ignore[LKX999] reason="x" expires=2001-01-01
files:
  - path: boot/x
    contents: "x"  # lkpolicy: ignre
  - path: etc/y
    contents: "x"
    source: /etc/hostname
  - path: etc/z
    metadata: xml
  - path: etc/d
    directory: true
    contents: "x"
  - contents: "x"
  - path: etc/n
kernel:
  cmdline: x
""",
}


def test_broken_inputs_are_told_their_fix(tmp_path: Path) -> None:
    rules: set[str] = set()
    for name, data in BROKEN_INPUTS.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = CliRunner().invoke(app, ["check", "--no-images", "--no-cache", "-f", "json",
                                          str(path)])
        assert result.exit_code in (0, 1, 2), (name, result.output)
        for finding in json.loads(result.stdout)["findings"]:
            assert finding["hint"], (name, finding)
            rules.add(finding["rule"])
    missing = CliRunner().invoke(app, ["check", "--no-images", "--no-cache", "-f", "json",
                                       str(tmp_path / "absent.yml"), str(tmp_path)])
    for finding in json.loads(missing.stdout)["findings"]:
        assert finding["hint"], finding
        rules.add(finding["rule"])
    assert {"LK100", "LK101", "LK102", "LK103", "LK104", "LK105", "LK106", "LK107", "LK109", "LK110", "LK201",
            "LK305", "LK309", "LK312", "LK314", "LK315", "LK319", "LK320", "LK322", "LK324",
            "LK326", "LKW001", "LKW002", "LKW004", "LKW005"} <= rules, sorted(rules)


def test_policy_and_lock_problems_are_told_their_fix(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("kernel:\n  cmdline: x\n", encoding="utf-8")
    for text, rule, hint in (
        ("extends: [builtin:strickt]\n", "LKP003", "did you mean `builtin:strict`?"),
        ("extends: [p.yml]\n", "LKP004", "remove one of the `extends` entries that close the "
                                         "cycle"),
        ("extends: [../outside.yml]\n", "LKP006", "extend a `builtin:` policy"),
    ):
        (tmp_path / "outside.yml").write_text("rules: {}\n", encoding="utf-8")
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / ".git").mkdir(exist_ok=True)
        policy = tmp_path / "in" / "p.yml"
        policy.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(app, ["check", "--no-images", "--no-cache", "-f", "json",
                                          "--policy", str(policy), str(config)])
        (finding,) = [f for f in json.loads(result.stdout)["findings"]
                      if f["rule"].startswith("LKP")]
        assert (finding["rule"], hint in (finding["hint"] or "")) == (rule, True), finding
    lock = tmp_path / "lock.json"
    lock.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(app, ["build", "--lock", str(lock), "-f", "tar",
                                      "--dir", str(tmp_path / "out"), str(config)])
    assert result.exit_code == 2
    assert f"write the lock again: `lkpolicy check --lock {lock} CONFIG...`" in result.output


def test_commands_that_print_findings_one_per_line_print_the_hint_escaped() -> None:
    import io

    from lkpolicy.model.findings import Finding, Location, Severity
    from lkpolicy.report.printer import Printer

    err = io.StringIO()
    Printer(err=err).findings([Finding("LK102", Severity.ERROR, "m", Location("c.yml", 2, 1),
                                       "/a", hint="remove `\x1b[2Ja`\nthen this")])
    assert err.getvalue() == ("c.yml:2:1: error LK102 m\n  = hint: remove `\\x1b[2Ja`\n"
                              "    then this\n")


def test_unreadable_keys_are_worded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    add_image(Store(str(cache)), "linuxkit/init:v1.0")
    config = tmp_path / "c.yml"
    config.write_text("init:\n  - linuxkit/init:v1.0\n", encoding="utf-8")
    keys = {"bad.pub": ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                        "its data is not a key in a form that can be read (DER or PEM, "
                        "unencrypted)"),
            "junk.pub": ("junk\n", "it is not PEM text (no well-formed `-----BEGIN ...-----` "
                                   "block)")}
    for name, (text, reason) in keys.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        policy = tmp_path / "p.yml"
        policy.write_text("trust:\n  authorities:\n    k: {type: cosign-key, keys: [" + name
                          + "]}\n  rules:\n    - images: ['docker.io/linuxkit/*']\n"
                          "      require: k\n", encoding="utf-8")
        (finding,) = findings("--cache", str(cache), "--policy", str(policy), "--select",
                              "LKT", str(config))
        assert finding["message"].endswith(f"public key 1: not a PEM public key: {reason}")
        assert "ASN.1" not in finding["message"] and "cryptography.io" not in finding["message"]


def test_a_custom_rule_tells_the_fix_its_policy_gives(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    add_image(Store(str(cache)), "linuxkit/a:v1")
    config = tmp_path / "c.yml"
    config.write_text("onboot:\n  - name: a\n    image: linuxkit/a:v1\n", encoding="utf-8")
    policy = tmp_path / "p.yml"
    policy.write_text("custom_rules:\n  ORG001:\n    title: Root filesystems are read-only\n"
                      "    severity: warning\n    rationale: Intruders replace binaries.\n"
                      "    fix: \"Set `readonly: true`.\"\n"
                      "    condition: \"!grants.readonly\"\n", encoding="utf-8")
    (finding,) = findings("--cache", str(cache), "--policy", str(policy), "--select", "ORG",
                          str(config))
    assert (finding["rule"], finding["hint"]) == ("ORG001", "Set `readonly: true`.")
