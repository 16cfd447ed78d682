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
