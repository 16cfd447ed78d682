"""Differential tests against the real linuxkit (`../shared/tools/linuxkit`): configs that need
no image (volumes without images, `files` of every kind) are built by both, and the tar
streams must be byte-identical; configs linuxkit refuses must be refused by the gate."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import skip_or_fail
from typer.testing import CliRunner

from lkpolicy.cli import app

CONFIGS = {
    "empty-volume-name": 'volumes:\n  - name: ""\n',
    "two-volumes": 'volumes:\n  - name: a\n  - name: ""\n  - name: b_c-1\n    readonly: true\n',
    "files": """\
files:
  - path: etc/motd
    contents: "hello\\n"
    mode: "0644"
  - path: /opt/deep/dir
    directory: true
    mode: "0750"
  - path: etc/link
    symlink: /etc/motd
  - path: etc/owned
    contents: x
    uid: 1000
    gid: 100
    mode: "4755"
  - path: etc/linuxkit.yml
    metadata: yaml
  - path: etc/linuxkit.json
    metadata: json
  - path: etc/from-host
    source: host.txt
  - path: etc/gone
    source: /nonexistent/lkpolicy
    optional: true
""",
    "templates-and-files": 'files:\n  - path: a\n    contents: "@y"\n  - path: b\n    contents: c\n',
}
REFUSED = {
    # (config, what linuxkit says, where the gate reports it)
    "emptied-path": ('files:\n  - path: "@x"\n    contents: b\n',
                     "did not specify path for file", ":2:11: error LK303"),
    "missing-source": ("files:\n  - path: etc/x\n    source: not-here.txt\n",
                       "no such file or directory", ":3:13: error LK408"),
}


@pytest.fixture(scope="module")
def linuxkit(shared_dir: Path) -> Path:
    binary = shared_dir / "tools" / "linuxkit"
    if not os.access(binary, os.X_OK):
        skip_or_fail(f"the reference linuxkit is missing at {binary}")
    return binary


def _linuxkit_build(binary: Path, config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    out.mkdir(exist_ok=True)
    # Its own HOME and cache, and a closed proxy: it must not pull (see shared/tools/README.md).
    env = {"HOME": str(out), "PATH": os.environ.get("PATH", ""),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    return subprocess.run([str(binary), "build", "--no-sbom", "--cache", str(out / "cache"),
                           "--format", "tar", "--dir", str(out), str(config)],
                          cwd=config.parent, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_tar_is_byte_identical_to_linuxkit(linuxkit: Path, tmp_path: Path, name: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / f"{name}.yml"
    config.write_text(CONFIGS[name])
    (tmp_path / "host.txt").write_bytes(b"from the host\n")
    theirs = _linuxkit_build(linuxkit, config, tmp_path / "linuxkit")
    assert theirs.returncode == 0, theirs.stderr
    (tmp_path / "open.yml").write_text("extends: []\n")
    monkeypatch.chdir(tmp_path)
    ours = CliRunner().invoke(app, ["build", "--policy", "open.yml", "--cache",
                                    str(tmp_path / "cache"), "-f", "tar", "--dir", "ours",
                                    config.name])
    assert ours.exit_code == 0, ours.output
    expected = (tmp_path / "linuxkit" / f"{name}.tar").read_bytes()
    assert (tmp_path / "ours" / f"{name}.tar").read_bytes() == expected


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_linuxkit_refuses_the_gate_refuses(linuxkit: Path, tmp_path: Path, name: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    text, theirs_say, ours_say = REFUSED[name]
    config = tmp_path / f"{name}.yml"
    config.write_text(text)
    theirs = _linuxkit_build(linuxkit, config, tmp_path / "linuxkit")
    assert theirs.returncode != 0
    assert theirs_say in theirs.stderr
    monkeypatch.chdir(tmp_path)
    for command in (["check", "--no-cache"], ["build", "-f", "tar", "--dir", "ours"]):
        ours = CliRunner().invoke(app, [*command, "--policy", "builtin:default", "--cache",
                                        str(tmp_path / "cache"), config.name])
        assert ours.exit_code == 1, ours.output
        assert f"{name}.yml{ours_say}" in ours.output
    assert not (tmp_path / "ours").exists()
