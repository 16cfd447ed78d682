"""`lkpolicy diff`: every kind of security-relevant change, git revisions, exit codes, formats."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import skip_or_fail
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli.diff import diff
from lkpolicy.model.config import Config, merge
from lkpolicy.stages.containers import Container, effective_configs
from lkpolicy.stages.images import resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store
from lkpolicy.tools.diff.compare import diff_configs
from lkpolicy.tools.diff.model import Change, DiffError, DiffResult, Risk
from lkpolicy.tools.diff.render import render
from lkpolicy.tools.diff.sources import Source, parse_source

PINNED = "@sha256:" + "a" * 64
OTHER_PIN = "@sha256:" + "b" * 64

BASE = f"""
kernel:
  image: linuxkit/kernel:6.6.13{PINNED}
  cmdline: "console=ttyS0 lockdown=integrity"
init:
  - linuxkit/init:v1.0{PINNED}
services:
  - name: sshd
    image: linuxkit/sshd:v1.0{PINNED}
    capabilities: [CAP_NET_BIND_SERVICE, CAP_CHOWN]
    binds:
      - /etc/ssh:/etc/ssh:ro
      - /var/log:/var/log
    readonly: true
    noNewPrivileges: true
    net: new
    pid: ""
    devices:
      - {{path: /dev/console, type: c, major: 5, minor: 1, mode: "0600"}}
  - name: old
    image: alpine:3.19
files:
  - path: etc/motd
    contents: hi
    mode: "0644"
trust:
  org: [linuxkit]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def config_of(path: Path) -> Config:
    return merge([load_document(str(path))[0]])


def run(tmp_path: Path, new_text: str, old_text: str = BASE, **kwargs: Any) -> DiffResult:
    old = write(tmp_path, "old.yml", old_text)
    new = write(tmp_path, "new.yml", new_text)
    return diff_configs(config_of(old), config_of(new), old_label=str(old),
                        new_label=str(new), **kwargs)


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def changes(result: DiffResult, kind: str | None = None) -> list[tuple[str, str, str]]:
    return [(c.marker, c.risk.value, c.message) for c in result.changes
            if kind is None or c.kind == kind]


def test_identical_configs_have_no_change(tmp_path: Path) -> None:
    result = run(tmp_path, BASE)
    assert result.changes == [] and result.exit_code == 0
    assert "no security-relevant change" in render("text", result)


def test_capability_added_and_removed(tmp_path: Path) -> None:
    result = run(tmp_path, edit("[CAP_NET_BIND_SERVICE, CAP_CHOWN]",
                                "[CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN, CAP_KILL]"))
    assert changes(result, "capability") == [
        ("+", "high", "capability CAP_SYS_ADMIN added"),
        ("+", "medium", "capability CAP_KILL added"),
        ("-", "reduced", "capability CAP_CHOWN removed"),
    ]
    added = result.changes[0]
    assert added.subject == "services/sshd"
    assert added.location is not None and added.location.file.endswith("new.yml")
    assert (added.location.line, added.location.column) == (9, 42)
    assert result.exit_code == 1


def test_all_capabilities_are_expanded(tmp_path: Path) -> None:
    result = run(tmp_path, edit("[CAP_NET_BIND_SERVICE, CAP_CHOWN]", "[all]"))
    [(marker, risk, message)] = changes(result, "capability")
    assert (marker, risk) == ("+", "high")
    assert message.startswith("all 41 capabilities granted (39 new, including CAP_SYS_ADMIN")
    back = run(tmp_path, BASE, old_text=edit("[CAP_NET_BIND_SERVICE, CAP_CHOWN]", "[all]"))
    assert changes(back, "capability") == [
        ("-", "reduced", "39 capabilities dropped (CAP_AUDIT_CONTROL, CAP_AUDIT_READ, "
                         "CAP_AUDIT_WRITE, CAP_BLOCK_SUSPEND, ...)")]
    assert back.exit_code == 0


def test_binds_added_widened_removed(tmp_path: Path) -> None:
    text = edit("- /etc/ssh:/etc/ssh:ro", "- /etc/ssh:/etc/ssh")
    text = edit("- /var/log:/var/log", "- /var/run/docker.sock:/var/run/docker.sock\n"
                "      - /data:/data:ro", text)
    result = run(tmp_path, text)
    assert changes(result, "mount") == [
        ("~", "high", "bind /etc/ssh -> /etc/ssh (rw) widened from read-only to read-write"),
        ("+", "high", "bind /var/run/docker.sock -> /var/run/docker.sock (rw) added"),
        ("+", "low", "bind /data -> /data (ro) added"),
        ("-", "reduced", "bind /var/log -> /var/log (rw) removed"),
    ]
    assert result.changes[0].location.line == 11  # type: ignore[union-attr]


def test_mounts_entries_count_as_mounts(tmp_path: Path) -> None:
    text = edit("    readonly: true\n", "    readonly: true\n    mounts:\n"
                "      - {type: bind, source: /, destination: /host, options: [rbind, rw]}\n")
    assert changes(run(tmp_path, text), "mount") == [
        ("+", "high", "bind / -> /host (rw) added")]


def test_host_namespaces_gained_and_lost(tmp_path: Path) -> None:
    text = edit('    pid: ""\n', "    pid: host\n    uts: new\n")
    text = edit("    net: new\n", "", text)
    result = run(tmp_path, text)
    assert changes(result, "namespace") == [
        ("+", "high", "joins the host network namespace (linuxkit's default once `net` is not set)"),
        ("+", "high", "joins the host pid namespace"),
        ("-", "reduced", "leaves the host uts namespace (new)"),
    ]


def test_readonly_and_no_new_privileges_turned_off(tmp_path: Path) -> None:
    text = edit("    readonly: true\n    noNewPrivileges: true\n", "    noNewPrivileges: false\n")
    result = run(tmp_path, text)
    assert changes(result, "readonly") == [("~", "medium", "readonly turned off")]
    assert changes(result, "no-new-privileges") == [("~", "medium", "noNewPrivileges turned off")]
    back = run(tmp_path, BASE, old_text=text)
    assert changes(back, "readonly") == [("~", "reduced", "readonly turned on")]
    assert back.exit_code == 0


def test_devices_added(tmp_path: Path) -> None:
    text = edit('mode: "0600"}}\n'.replace("}}", "}"),
                'mode: "0600"}\n      - {path: /dev/mem, type: c, major: 1, minor: 1, mode: "0600"}\n'
                '      - {path: /dev/sda, type: b, major: 8, minor: 0, mode: "0600"}\n')
    assert changes(run(tmp_path, text), "device") == [
        ("+", "high", "device /dev/mem added"), ("+", "medium", "device /dev/sda added")]
    all_devices = edit("path: /dev/console, type: c, major: 5, minor: 1, mode: \"0600\"",
                       "path: all, type: a")
    assert ("+", "high", "access to all devices added") in changes(run(tmp_path, all_devices))


def test_image_changes(tmp_path: Path) -> None:
    unpinned = edit(f"linuxkit/sshd:v1.0{PINNED}", "linuxkit/sshd:v1.1")
    assert changes(run(tmp_path, unpinned), "image") == [
        ("~", "medium", f"image no longer pinned to a digest: linuxkit/sshd:v1.0{PINNED} -> "
                        "linuxkit/sshd:v1.1")]
    digest = edit(f"linuxkit/sshd:v1.0{PINNED}", f"linuxkit/sshd:v1.0{OTHER_PIN}")
    result = run(tmp_path, digest)
    assert [c[:2] for c in changes(result, "image")] == [("~", "info")]
    assert result.exit_code == 0
    tag = edit(f"linuxkit/sshd:v1.0{PINNED}", f"linuxkit/sshd:v1.1{OTHER_PIN}")
    assert "image tag changed" in changes(run(tmp_path, tag), "image")[0][2]
    repo = edit(f"linuxkit/sshd:v1.0{PINNED}", f"evil/sshd:v1.0{PINNED}")
    assert changes(run(tmp_path, repo), "image")[0][:2] == ("~", "medium")
    pinned = run(tmp_path, BASE, old_text=unpinned)
    assert changes(pinned, "image")[0][:2] == ("~", "reduced")


def test_containers_added_and_removed(tmp_path: Path) -> None:
    text = edit("  - name: old\n    image: alpine:3.19\n",
                "  - name: agent\n    image: agent:1\n    pid: host\n"
                "    capabilities: [CAP_SYS_PTRACE]\n")
    result = run(tmp_path, text)
    assert changes(result, "container") == [
        ("+", "medium", "container added (image agent:1); shares the host network, ipc, uts, "
                        "user namespaces by default"),
        ("-", "reduced", "container removed (image alpine:3.19)"),
    ]
    assert ("+", "high", "capability CAP_SYS_PTRACE added") in changes(result)
    assert ("+", "high", "joins the host pid namespace") in changes(result)
    removed = next(c for c in result.changes if c.marker == "-" and c.kind == "container")
    assert not removed.in_new and removed.location.file.endswith("old.yml")  # type: ignore[union-attr]


def test_containers_match_by_section_and_name(tmp_path: Path) -> None:
    moved = edit("services:\n", "onboot:\n  - name: first\n    image: a:1\n"
                 "    net: new\n    ipc: new\n    uts: new\n    userns: new\nservices:\n")
    result = run(tmp_path, moved)
    assert [c.subject for c in result.changes] == ["onboot/first"]


def test_init_and_kernel_changes(tmp_path: Path) -> None:
    text = edit(f"  - linuxkit/init:v1.0{PINNED}\n",
                f"  - linuxkit/init:v1.0{PINNED}\n  - evil/init:latest\n")
    text = edit(f"linuxkit/kernel:6.6.13{PINNED}", "linuxkit/kernel:6.6.14", text)
    text = edit("console=ttyS0 lockdown=integrity", "console=ttyS0 nokaslr quiet", text)
    result = run(tmp_path, text)
    assert changes(result, "init") == [("+", "high", "init image evil/init:latest added")]
    assert changes(result, "kernel-image")[0][:2] == ("~", "medium")
    assert changes(result, "cmdline") == [
        ("+", "high", "kernel command line gains `nokaslr`"),
        ("+", "low", "kernel command line gains `quiet`"),
        ("-", "medium", "kernel command line loses `lockdown=integrity`"),
    ]
    init_tag = edit(f"linuxkit/init:v1.0{PINNED}", f"linuxkit/init:v1.1{PINNED}")
    assert changes(run(tmp_path, init_tag), "init")[0][:2] == ("~", "low")


def test_setuid_and_world_writable_files(tmp_path: Path) -> None:
    text = edit('    mode: "0644"\n', '    mode: "0666"\n  - path: usr/bin/su\n'
                '    contents: x\n    mode: "4755"\n')
    assert changes(run(tmp_path, text), "file-mode") == [
        ("+", "medium", "world-writable file etc/motd now (mode 0666)"),
        ("+", "high", "setuid file usr/bin/su added (mode 4755)"),
    ]


def test_trust_changes(tmp_path: Path) -> None:
    removed = edit("trust:\n  org: [linuxkit]\n", "")
    assert changes(run(tmp_path, removed), "trust") == [
        ("-", "medium", "trust org `linuxkit` removed")]
    added = edit("org: [linuxkit]", "org: [linuxkit]\n  image: [alpine:3.19]")
    result = run(tmp_path, added)
    assert changes(result, "trust") == [("+", "reduced", "trust image `alpine:3.19` added")]
    assert result.exit_code == 0


def test_effective_config_reveals_label_capabilities(tmp_path: Path) -> None:
    """The same YAML on both sides; only the image in the cache changed: the label of the new
    one grants CAP_SYS_ADMIN and binds the host's root."""
    caches = {"old": tmp_path / "old-cache", "new": tmp_path / "new-cache"}
    add_image(Store(caches["old"]), "x:1", None)
    add_image(Store(caches["new"]), "x:1", {"capabilities": ["CAP_SYS_ADMIN"],
                                            "binds": ["/:/host"]})

    def containers_of(config: Config) -> list[Container]:
        side = "new" if config.documents[0].path.endswith("new.yml") else "old"
        options = ImageOptions(cache=str(caches[side]), arch="amd64")
        return effective_configs(config, resolve_images(config, options))[0]

    text = "services:\n  - name: x\n    image: x:1\n"
    assert run(tmp_path, text, old_text=text).changes == []
    result = run(tmp_path, text, old_text=text, containers_of=containers_of)
    assert ("+", "high", "capability CAP_SYS_ADMIN added") in changes(result)
    assert ("+", "high", "bind / -> /host (rw) added") in changes(result)
    where = [c.location for c in result.changes if c.kind == "capability"]
    assert where and all(loc is not None and loc.line == 3 for loc in where)  # the image line


def test_bind_options_are_read_as_linuxkit_reads_them(tmp_path: Path) -> None:
    """`/a:/b:rw,ro` is read-only to linuxkit (the last of ro/rw wins); policy and diff share
    that reading of the effective config."""
    old = "services:\n  - name: x\n    image: x:1\n    binds: ['/var/log:/var/log:ro']\n"
    new = old.replace(":ro']", ":rw,ro']")
    assert changes(run(tmp_path, new, old_text=old), "mount") == []
    widened = old.replace(":ro']", ":ro,rw']")
    assert changes(run(tmp_path, widened, old_text=old), "mount") == [
        ("~", "medium", "bind /var/log -> /var/log (rw) widened from read-only to read-write")]


# -- sources and git ----------------------------------------------------------------------------


def test_parse_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_source("a.yml") == Source("a.yml")
    assert parse_source("HEAD~1:cfg/a.yml") == Source("cfg/a.yml", "HEAD~1")
    (tmp_path / "odd:name.yml").write_text("init: []\n")
    assert parse_source("odd:name.yml") == Source("odd:name.yml")
    with pytest.raises(DiffError):
        parse_source(":a.yml")


app = typer.Typer()
app.command()(diff)


@app.command()
def _other() -> None:
    """Keeps typer from collapsing the app into the single command."""


runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["diff", *args])


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    git(tmp_path, "init", "-q")
    (tmp_path / "cfg").mkdir()
    write(tmp_path, "cfg/a.yml", BASE)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    write(tmp_path, "cfg/a.yml", edit("[CAP_NET_BIND_SERVICE, CAP_CHOWN]", "[CAP_SYS_ADMIN]"))
    monkeypatch.chdir(tmp_path / "cfg")
    return tmp_path


def test_git_revision_against_working_tree(repo: Path) -> None:
    result = invoke("--git", "HEAD", "a.yml")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "+ high     services/sshd: capability CAP_SYS_ADMIN added  [a.yml:9]"
    assert "risk increases: security review needed" in lines[-1]


def test_rev_path_syntax(repo: Path) -> None:
    # Git's syntax: relative to the repository root, or to the working directory with `./`.
    for old in ("HEAD:cfg/a.yml", "HEAD:./a.yml"):
        result = invoke(old, "a.yml")
        assert result.exit_code == 1, result.output
        assert "capability CAP_SYS_ADMIN added" in result.output
    assert invoke("HEAD:cfg/a.yml", "HEAD:./a.yml").exit_code == 0


def test_git_errors_exit_2(repo: Path) -> None:
    result = invoke("HEAD:nope.yml", "a.yml")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert invoke("--git", "no-such-rev", "a.yml").exit_code == 2


def test_usage_and_input_errors_exit_2(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yml", "services: [\n")
    good = write(tmp_path, "good.yml", BASE)
    assert invoke(str(good)).exit_code == 2
    assert invoke("--git", "HEAD", str(good), str(good)).exit_code == 2
    result = invoke(str(good), str(bad))
    assert result.exit_code == 2 and "bad.yml" in result.output
    assert invoke(str(good), str(tmp_path / "missing.yml")).exit_code == 2


def test_exit_code_0_for_reducing_changes_only(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yml", BASE)
    new = write(tmp_path, "new.yml", edit("[CAP_NET_BIND_SERVICE, CAP_CHOWN]",
                                          "[CAP_NET_BIND_SERVICE]"))
    result = invoke(str(old), str(new), "--no-images")
    assert result.exit_code == 0
    assert result.output.startswith("- reduced  services/sshd: capability CAP_CHOWN removed")
    assert invoke(str(old), str(old)).exit_code == 0


def test_json_format(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yml", BASE)
    new = write(tmp_path, "new.yml", edit("- /etc/ssh:/etc/ssh:ro", "- /etc/ssh:/etc/ssh"))
    result = invoke(str(old), str(new), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["increases_risk"] is True
    assert data["old"] == str(old) and data["new"] == str(new)
    [change] = data["changes"]
    assert change == {
        "kind": "mount", "marker": "~", "risk": "high", "increases_risk": True,
        "subject": "services/sshd",
        "message": "bind /etc/ssh -> /etc/ssh (rw) widened from read-only to read-write",
        "location": {"file": str(new), "line": 11, "column": 9, "side": "new"},
    }


def test_markdown_format(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yml", BASE)
    new = write(tmp_path, "new.yml", edit("[CAP_NET_BIND_SERVICE, CAP_CHOWN]",
                                          "[CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN]"))
    out = tmp_path / "comment.md"
    result = invoke(str(old), str(new), "-f", "markdown", "-o", str(out))
    assert result.exit_code == 1 and result.output == ""
    text = out.read_text()
    assert text.startswith(f"### lkpolicy: security-relevant changes in `{new}`")
    assert "| + | 🔴 high | `services/sshd` | capability CAP_SYS_ADMIN added" in text
    assert "| - | 🟢 reduced | `services/sshd` | capability CAP_CHOWN removed" in text
    clean = render("markdown", DiffResult("a|b", "c"))
    assert "No security-relevant change from `a\\|b`" in clean


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        render("xml", DiffResult("a", "b", [Change("trust", "+", Risk.INFO, "trust", "m")]))
