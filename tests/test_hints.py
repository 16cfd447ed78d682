"""Messages that tell the fix: hints that work when applied literally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
