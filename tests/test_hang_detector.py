"""The hang detector: every command on every hostile input class, as a real subprocess with a
generous wall-clock bound (a hang check, not a speed assertion). Each run must end with exit
code 1 or 2, say why on a first line of reasonable length, and never show a traceback
(issue 14). Inputs are generated once per session; nothing here is a fixture file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from imagefactory import add_image

from lkpolicy.store.lookup import Store

TIMEOUT = 20
"""Seconds per run. The slowest hostile input takes a few seconds on a loaded machine."""
HEAD = "kernel:\n  image: linuxkit/kernel:6.6\n  cmdline: console=ttyS0\ninit:\n  - linuxkit/init:v1\n"
SERVICE = "services:\n  - name: a\n    image: linuxkit/a:v1\n"


def _caps_line() -> str:
    return HEAD + SERVICE + "    capabilities: [" + ", ".join(["CAP_SYS_ADMIN"] * 100_000) + "]\n"


def _caps_block() -> str:
    return HEAD + SERVICE + "    capabilities:\n" + "      - CAP_SYS_ADMIN\n" * 100_000


def _waiver() -> str:
    ids = ",".join(f"LK{300 + i % 100}" for i in range(100_000))
    return HEAD.replace("console=ttyS0", f"console=ttyS0  # lkpolicy: ignore[{ids}]")


def _alias() -> str:
    items = "      - *a\n" * 4000
    return f'x: &a "{"X" * 16_000}"\n' + HEAD + SERVICE + "    capabilities:\n" + items


CONFIGS = {
    "comment-4MB": lambda: HEAD + "#" + "x" * 4_000_000,
    "flow-nesting": lambda: "kernel: " + "[" * 5000 + "]" * 5000 + "\n",
    "block-nesting": lambda: "kernel:\n" + "".join(" " * i + "- \n" for i in range(0, 8000, 2)),
    "capabilities-line": _caps_line,
    "capabilities-block": _caps_block,
    "waiver-100000-ids": _waiver,
    "alias-amplified": _alias,
    "integer-5000-digits": lambda: HEAD + SERVICE + "    uid: " + "9" * 5000 + "\n",
    "label-7MB": lambda: HEAD + "services:\n  - name: a\n    image: linuxkit/big:v1\n",
    "label-integer": lambda: HEAD + "services:\n  - name: a\n    image: linuxkit/bigint:v1\n",
    "image-config-deep": lambda: HEAD + "services:\n  - name: a\n    image: linuxkit/deep:v1\n",
    "binary": lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
    "fifo": None,
}
CONFIG_COMMANDS = {
    "check": ["check"],
    "show": ["show"],
    "show-effective": ["show", "--effective"],
    "pin-check": ["pin", "--check"],
    "diff": ["diff", "{clean}"],
    "build": ["build", "--dir", "{out}"],
}
POLICIES = {
    "regex-redos": "extends: []\nrules:\n  LKP181:\n    severity: error\n"
                   "    forbidden: ['(a+)+$']\n",
    "extends-diamond": None,
    "extends-etc": "extends: [{outside}]\n",
    "policy-integer": "rules:\n  LKP101: " + "9" * 5000 + "\n",
    "policy-fifo": None,
    "trust-dev-zero": "extends: []\ntrust:\n  authorities:\n    k: {type: cosign-key, keys: "
                      "[/dev/zero]}\n  rules: [{images: '*', require: k}]\n",
}
POLICY_COMMANDS = {
    "check": ["check", "--policy", "{policy}", "{redos}"],
    "build": ["build", "--policy", "{policy}", "--dir", "{out}", "{redos}"],
    "trust-inspect": ["trust", "inspect", "linuxkit/a:v1", "--policy", "{policy}"],
}
OTHER_RUNS = {
    "baseline-deep": ["check", "--baseline", "{deep_json}", "{clean}"],
    "baseline-fifo": ["check", "--baseline", "{fifo}", "{clean}"],
    "write-baseline-missing-dir": ["check", "--write-baseline", "{out}/no/such/b.json", "{clean}"],
    "cache-ls-deep-index": ["cache", "ls", "--cache", "{deep_cache}"],
    "cache-export-deep-index": ["cache", "export", "--cache", "{deep_cache}", "linuxkit/a:v1",
                                "--output", "{out}/a.tar"],
    "cache-import-deep-archive": ["cache", "import", "--cache", "{out}/imported", "{deep_tar}"],
    "cache-import-fifo": ["cache", "import", "--cache", "{out}/imported", "{fifo}"],
    "cache-export-missing": ["cache", "export", "linuxkit/nope:v1", "--output", "{out}/n.tar"],
    "explain-huge-id": ["explain", "LK" + "9" * 100_000],
}


@dataclass(frozen=True)
class Workspace:
    root: Path
    values: dict[str, str]

    def argv(self, template: list[str]) -> list[str]:
        return [part.format(**self.values) for part in template]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("hang")
    store = Store(root / "cache")
    add_image(store, "docker.io/linuxkit/kernel:6.6", {}, files={"kernel": b"k"})
    add_image(store, "docker.io/linuxkit/init:v1", {})
    add_image(store, "docker.io/linuxkit/a:v1", {"capabilities": ["CAP_NET_ADMIN"]})
    add_image(store, "docker.io/linuxkit/big:v1", {"capabilities": ["CAP_NET_ADMIN"],
                                                    "x": "y" * 7_000_000})
    add_image(store, "docker.io/linuxkit/bigint:v1", '{"uid": ' + "9" * 5000 + "}")
    _add_deep_config_image(store)
    for name, make in CONFIGS.items():
        path = root / f"{name}.yml"
        if make is None:
            os.mkfifo(path)
            continue
        data = make()
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    (root / "clean.yml").write_text(HEAD)
    (root / "redos.yml").write_text(HEAD.replace("console=ttyS0", "a" * 32 + "! " + "a" * 40))
    (root / "etc").mkdir()
    (root / "etc" / "shadow").write_text("root: canary\n")
    os.mkfifo(root / "fifo")
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    _policies(root)
    deep_cache = root / "deep-cache"
    deep_cache.mkdir()
    (deep_cache / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (deep_cache / "index.json").write_text('{"manifests": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with tarfile.open(root / "deep.tar", "w") as archive:
        for member in ("oci-layout", "index.json"):
            archive.add(deep_cache / member, arcname=member)
    (root / "out").mkdir()
    (root / "home").mkdir()
    values = {"clean": str(root / "clean.yml"), "redos": str(root / "redos.yml"),
              "out": str(root / "out"), "fifo": str(root / "fifo"),
              "deep_json": str(root / "deep.json"), "deep_cache": str(deep_cache),
              "deep_tar": str(root / "deep.tar")}
    return Workspace(root, values)


def _add_deep_config_image(store: Store) -> None:
    """An image whose config blob nests its labels 100,000 levels deep."""
    from imagefactory import LAYER_TYPE, layer_bytes

    from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST

    layer = store.add_blob(layer_bytes({"etc/hostname": b"x\n"}), LAYER_TYPE)
    config = (b'{"architecture": "amd64", "os": "linux", "config": {"Labels": '
              + b"[" * 100_000 + b"]" * 100_000 + b"}}")
    config_blob = store.add_blob(config, OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_blob.to_json(),
                "layers": [layer.to_json()]}
    store.register("docker.io/linuxkit/deep:v1",
                   store.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST))


def _policies(root: Path) -> None:
    for name, text in POLICIES.items():
        path = root / f"{name}.policy.yml"
        if name == "policy-fifo":
            os.mkfifo(path)
        elif name == "extends-diamond":
            for level in range(16):
                below = f"[d{level + 1}a.yml, d{level + 1}b.yml]" if level < 15 else "[]"
                for side in "ab":
                    (root / f"d{level}{side}.yml").write_text(f"extends: {below}\n")
            path.write_text("extends: [d0a.yml, d0b.yml]\nrules:\n  LKP102: error\n")
        else:
            assert text is not None
            path.write_text(text.replace("{outside}", str(root / "etc" / "shadow")))


def run(workspace: Workspace, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LINUXKIT_CACHE": str(workspace.root / "cache"),
           "LKPOLICY_NO_CACHE": "1", "LKPOLICY_TRUST_CACHE": str(workspace.root / "trust"),
           "HOME": str(workspace.root / "home"), "NO_COLOR": "1"}
    try:
        return subprocess.run([sys.executable, "-m", "lkpolicy", *argv], cwd=workspace.root,
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`lkpolicy {' '.join(a[:60] for a in argv)}` ran past {TIMEOUT} s")


SHOWN_AS_WRITTEN = {"integer-5000-digits", "label-7MB", "label-integer", "image-config-deep"}
"""Valid YAML whose trouble is in the images or in a value only the build rejects: `show`
prints the merged config (as `linuxkit build --dry-run` does) and exits 0."""


def assert_clean_failure(result: subprocess.CompletedProcess[str], *,
                         may_pass: bool = False, prints_data: bool = False) -> None:
    """`prints_data`: standard output is the config itself (`show`), whose lines are as long
    as the config's; diagnostics are bounded either way."""
    output = result.stderr + result.stdout
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode in ((0, 1, 2) if may_pass else (1, 2)), (result.returncode,
                                                                      output[:2000])
    if result.returncode == 0:
        return
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    assert lines, "no message"
    assert 0 < len(lines[0]) < 2000, lines[0][:300]
    diagnostics = result.stderr if prints_data else output
    assert max(len(line) for line in diagnostics.splitlines() or [""]) < 3000


@pytest.mark.parametrize("command", sorted(CONFIG_COMMANDS))
@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_every_command_on_every_hostile_config(workspace: Workspace, case: str,
                                               command: str) -> None:
    argv = [*workspace.argv(CONFIG_COMMANDS[command]), str(workspace.root / f"{case}.yml")]
    assert_clean_failure(run(workspace, argv),
                         may_pass=command == "show" and case in SHOWN_AS_WRITTEN,
                         prints_data=command.startswith("show"))


@pytest.mark.parametrize("command", sorted(POLICY_COMMANDS))
@pytest.mark.parametrize("case", sorted(POLICIES))
def test_every_command_on_every_hostile_policy(workspace: Workspace, case: str,
                                               command: str) -> None:
    values = {**workspace.values, "policy": str(workspace.root / f"{case}.policy.yml")}
    argv = [part.format(**values) for part in POLICY_COMMANDS[command]]
    result = run(workspace, argv)
    assert_clean_failure(result)
    assert "canary" not in result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(OTHER_RUNS))
def test_baselines_caches_archives_and_rule_ids(workspace: Workspace, case: str) -> None:
    assert_clean_failure(run(workspace, workspace.argv(OTHER_RUNS[case])))
