"""Differential tests against the real linuxkit (`../shared/tools/linuxkit`): configs that need
no image (volumes without images, `files` of every kind) are built by both, and the tar
streams must be byte-identical; configs linuxkit refuses must be refused by the gate."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

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
    # A path written as a file or a symlink counts as made: no directory entry under it.
    "below-a-file": ("files:\n  - path: etc\n    contents: a\n  - path: etc/y\n    contents: b\n"
                     "  - path: lnk\n    symlink: /x\n  - path: lnk/y/z\n    contents: c\n"
                     "  - path: etc/from-host\n    source: host.txt\n"
                     "  - path: etc/from-host/y\n    contents: d\n"),
    # The template step empties the mode, and an empty mode is the default one.
    "templated-mode": 'files:\n  - path: a\n    contents: x\n    mode: "@0644"\n',
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


def _linuxkit_build(binary: Path, config: Path, out: Path, *, sbom: bool = False,
                    fmt: str = "tar", cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    out.mkdir(exist_ok=True)
    # Its own HOME and cache, and a closed proxy: it must not pull (see shared/tools/README.md).
    env = {"HOME": str(out), "PATH": os.environ.get("PATH", ""),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    return subprocess.run([str(binary), "build", *([] if sbom else ["--no-sbom"]),
                           "--cache", str(cache or out / "cache"),
                           "--format", fmt, "--dir", str(out), str(config)],
                          cwd=config.parent, env=env, capture_output=True, text=True,
                          timeout=120)


def _build_both(linuxkit: Path, tmp_path: Path, name: str, text: str, *, sbom: bool,
                fmt: str = "tar") -> list[bytes]:
    """linuxkit's output and ours for the same config, in `tmp_path` (the working directory)."""
    config = tmp_path / f"{name}.yml"
    config.write_text(text)
    (tmp_path / "host.txt").write_bytes(b"from the host\n")
    theirs = _linuxkit_build(linuxkit, config, tmp_path / "linuxkit", sbom=sbom, fmt=fmt)
    assert theirs.returncode == 0, theirs.stderr
    (tmp_path / "open.yml").write_text("extends: []\n")
    ours = CliRunner().invoke(app, ["build", "--policy", "open.yml", "--cache",
                                    str(tmp_path / "cache"), "-f", fmt, "--dir", "ours",
                                    *([] if sbom else ["--no-sbom"]), config.name])
    assert ours.exit_code == 0, ours.output
    return [(tmp_path / who / f"{name}.{fmt}").read_bytes() for who in ("linuxkit", "ours")]


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getmembers()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_tar_is_byte_identical_to_linuxkit(linuxkit: Path, tmp_path: Path, name: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    theirs, ours = _build_both(linuxkit, tmp_path, name, CONFIGS[name], sbom=False)
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_default_sbom_entry_is_where_linuxkit_puts_it(linuxkit: Path, tmp_path: Path, name: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --no-sbom both end the tar with `sbom.spdx.json`: everything before it is
    byte-identical, the entry's header differs only in size, and the document keeps
    linuxkit's fixed fields (the namespace is random in linuxkit's, derived in ours)."""
    monkeypatch.chdir(tmp_path)
    tars = _build_both(linuxkit, tmp_path, name, CONFIGS[name], sbom=True)
    entries = [_members(data)[-1] for data in tars]
    theirs_doc, ours_doc = (json.loads(data[entry.offset_data:entry.offset_data + entry.size])
                            for data, entry in zip(tars, entries, strict=True))
    assert tars[0][:entries[0].offset] == tars[1][:entries[1].offset]
    for entry in entries:
        assert (entry.name, entry.mode, entry.mtime, entry.uid, entry.gid, entry.pax_headers) \
            == ("sbom.spdx.json", 0o644, 1492533000, 0, 0, {})
    fixed = ("spdxVersion", "dataLicense", "SPDXID", "name")
    assert {k: ours_doc[k] for k in fixed} == {k: theirs_doc[k] for k in fixed}
    assert ours_doc["creationInfo"]["created"] == theirs_doc["creationInfo"]["created"]
    assert ours_doc["creationInfo"]["creators"][:2] == theirs_doc["creationInfo"]["creators"]
    prefix = "https://github.com/linuxkit/linuxkit/sbom-"
    assert theirs_doc["documentNamespace"].startswith(prefix)
    assert ours_doc["documentNamespace"].startswith(prefix)
    assert "packages" not in theirs_doc  # no image, so nothing for linuxkit to merge
    host_files = [f["fileName"] for f in ours_doc.get("files", [])]
    assert host_files == (["etc/from-host"] if "source:" in CONFIGS[name] else [])


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


def test_docker_format_puts_the_dockerfile_before_the_sbom(linuxkit: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    theirs, ours = _build_both(linuxkit, tmp_path, "v", CONFIGS["two-volumes"], sbom=True,
                               fmt="docker")
    theirs_members, ours_members = _members(theirs), _members(ours)
    assert [m.name for m in ours_members] == [m.name for m in theirs_members]
    assert [m.name for m in ours_members][-2:] == ["Dockerfile", "sbom.spdx.json"]
    sbom_at = ours_members[-1].offset
    assert sbom_at == theirs_members[-1].offset
    assert ours[:sbom_at] == theirs[:sbom_at]


TABS = {
    # (config, whether linuxkit's Go YAML reads it): libyaml's rule, a tab separates tokens
    # after a scalar or after `key:` but never indents or starts a line in block context.
    "after-a-value": ("volumes:\n  - name: a\t\nfiles:\n  - path: etc/x\t# c\n"
                      "    contents: \"y\"\t\n", True),
    "after-a-colon": ("volumes:\n  - name:\ta\n    readonly:\ttrue\n", True),
    "in-flow": ("volumes: [{name:\ta,\treadonly: true}]\n", True),
    # Folded scalars fold lines into spaces (ruamel's round-trip scanner marked each fold
    # with a BEL character, which reached the files).
    "folded": ("files:\n  - path: etc/c\n    contents: >-\n      folded\n      text\n"
               "  - path: etc/d\n    contents: >\n      one\n\n      two\n      three\n", True),
    "inside-a-scalar": ("files:\n  - path: etc/x\n    contents: a\tb \t c\t\n"
                        "  - path: etc/y\t\n    contents: d\t# c\n", True),
    "blank-line": ("volumes:\n  - name: a\n\t\n", False),
    "blank-line-at-the-top": ("\n\n\t\nvolumes:\n  - name: a\n", False),
    "indenting": ("volumes:\n\t- name: a\n", False),
    "before-a-comment": ("volumes:\n  - name: a\n  \t# c\n", False),
}


@pytest.mark.parametrize("name", sorted(TABS))
def test_tabs_are_read_as_linuxkit_reads_them(linuxkit: Path, tmp_path: Path, name: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text, accepted = TABS[name]
    monkeypatch.chdir(tmp_path)
    if accepted:
        theirs, ours = _build_both(linuxkit, tmp_path, name, text, sbom=False)
        assert ours == theirs
        return
    config = tmp_path / f"{name}.yml"
    config.write_text(text)
    theirs_run = _linuxkit_build(linuxkit, config, tmp_path / "linuxkit")
    assert theirs_run.returncode != 0 and "invalid config: yaml:" in theirs_run.stderr
    ours_run = CliRunner().invoke(app, ["check", "--no-cache", "--policy", "builtin:default",
                                        config.name])
    assert ours_run.exit_code == 2 and "LK101" in ours_run.output, ours_run.output


TAB_BASE = ('files:\n  - path: etc/x\n    contents: a b\n  - path: etc/y\n    contents: |\n'
            '      line1\n      line2\n    mode: "0644"\nvolumes:\n  - name: v\n'
            '    readonly: true\n  - {name: w, readonly: false}\n')


TAB_INSERTS = ["\t", " \t", "\t ", "\t\t", "\t#c"]
YAML_INSERTS = [":", "-", "#", "'", '"', "{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "%",
                "@", "?", " ", "\n", "  ", ": ", "- ", " #", "~", "\r\n", "0", "\\"]


@pytest.mark.parametrize(("inserts", "seed"), [(TAB_INSERTS, 20261203), (YAML_INSERTS, 7),
                                               (YAML_INSERTS, 8)], ids=["tabs", "yaml-1", "yaml-2"])
def test_edits_anywhere_are_read_as_linuxkit_reads_them(
        linuxkit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inserts: list[str],
        seed: int) -> None:
    """Tabs, indicators and line breaks put at random places of a config (after indicators,
    in block scalars, in flow collections, before comments, in anchors): linuxkit and the gate
    accept and refuse the same texts, and what both accept builds byte for byte the same."""
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.load import load_document

    monkeypatch.chdir(tmp_path)
    (tmp_path / "open.yml").write_text("extends: []\n")
    generator = random.Random(seed)
    verdicts = {True: 0, False: 0}
    for trial in range(80):
        text = TAB_BASE
        for _ in range(generator.randint(1, 2)):
            place = generator.randrange(len(text) + 1)
            text = text[:place] + generator.choice(inserts) + text[place:]
        work = tmp_path / str(trial)
        work.mkdir()
        config = work / "c.yml"
        config.write_text(text)
        theirs = _linuxkit_build(linuxkit, config, work / "linuxkit")
        if theirs.returncode != 0 and "yaml:" not in theirs.stderr:
            continue  # refused after reading, for the schema: not what this compares
        try:
            load_document(str(config))
            ours = True
        except InputError:
            ours = False
        assert ours == (theirs.returncode == 0), (text, theirs.stderr)
        verdicts[ours] += 1
        if ours:
            built = CliRunner().invoke(app, ["build", "--no-sbom", "--policy", "open.yml",
                                             "--cache", str(work / "cache"), "-f", "tar",
                                             "--dir", str(work / "ours"), str(config)])
            assert built.exit_code == 0, (text, built.output)
            assert (work / "ours" / "c.tar").read_bytes() == \
                (work / "linuxkit" / "c.tar").read_bytes(), text
    assert verdicts[True] >= 5 and verdicts[False] >= 5, verdicts


VALUE_EDITS = ["@x", "0", "-1", "true", "null", "~", "[]", "{}", '""', "x" * 30, "/", "../x",
               "a:b", "1e3", "0x10", "CAP_SYS_ADMIN", "all", "none", "host", "rw", '"0644"',
               "[a, b]", "{a: b}", "/dev/null:/x", "1000", "root", "A=", "=x", "size=1k"]
# A value: after `key: ` or `- `, or an item of a flow collection.
VALUE = re.compile(r"(?<=: )[^\n\[\]{},]+|(?<=- )[^\n\[\]{},:]+|(?<=\[)[^\n\[\]{},]+"
                   r"|(?<=, )[^\n\[\]{},]+")


GOLDEN_EDITS = {
    # A container name with `/`: linuxkit writes every directory on the way to its bundle.
    "name-with-slashes": ("  - name: second\n", "  - name: /dev/null:/x\n"),
    "onshutdown-name-with-slash": ("  - name: bye\n", "  - name: a/b\n"),
    # encoding/json never omits a struct: `metadata: json` writes `"bindNS": {}`.
    "runtime-without-bindns": ("      bindNS: {net: /run/netns/x}\n", ""),
}


@pytest.mark.parametrize("edit", sorted(GOLDEN_EDITS))
def test_golden_config_edits_build_as_linuxkit_builds_them(
        linuxkit: Path, build_full: Path, build_full_store: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, edit: str) -> None:
    old, new = GOLDEN_EDITS[edit]
    base = (build_full / "full.yml").read_text()
    assert old in base
    monkeypatch.chdir(tmp_path)
    (tmp_path / "open.yml").write_text("extends: []\n")
    config = tmp_path / "c.yml"
    config.write_text(base.replace(old, new, 1))
    theirs = _linuxkit_build(linuxkit, config, tmp_path / "linuxkit", cache=build_full_store.root)
    assert theirs.returncode == 0, theirs.stderr
    ours = CliRunner().invoke(app, ["build", "--no-sbom", "--no-provenance", "--arch", "amd64",
                                    "--policy", "open.yml", "--cache", str(build_full_store.root),
                                    "-f", "tar", "--dir", "ours", config.name])
    assert ours.exit_code == 0, ours.output
    assert (tmp_path / "ours" / "c.tar").read_bytes() == \
        (tmp_path / "linuxkit" / "c.tar").read_bytes()


def test_the_golden_config_edited_at_random_builds_as_linuxkit_builds_it(
        linuxkit: Path, build_full: Path, build_full_store: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The feature-rich golden config with one value replaced or one character inserted, built
    by linuxkit and by lkpolicy from the same image cache: a config linuxkit cannot build is
    never built, and what both build is the same tar (config.json and runtime.json of every
    container included). The gate may refuse more (its lint errors), never build differently."""
    base = (build_full / "full.yml").read_text()
    values = list(VALUE.finditer(base))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "open.yml").write_text("extends: []\n")
    generator = random.Random(1203)
    outcomes = {"both": 0, "neither": 0, "gate": 0}
    for trial in range(40):
        if generator.random() < 0.7:
            value = generator.choice(values)
            text = base[:value.start()] + generator.choice(VALUE_EDITS) + base[value.end():]
        else:
            place = generator.randrange(len(base))
            text = base[:place] + generator.choice(YAML_INSERTS) + base[place:]
        work = tmp_path / str(trial)
        work.mkdir()
        config = work / "c.yml"
        config.write_text(text)
        theirs = _linuxkit_build(linuxkit, config, work / "linuxkit", cache=build_full_store.root)
        ours = CliRunner().invoke(app, ["build", "--no-sbom", "--no-provenance", "--arch", "amd64",
                                        "--policy", "open.yml", "--cache",
                                        str(build_full_store.root), "-f", "tar", "--dir",
                                        str(work / "ours"), str(config)])
        assert "Traceback" not in ours.output, text
        if ours.exit_code == 0:
            assert theirs.returncode == 0, (text, theirs.stderr)
            assert (work / "ours" / "c.tar").read_bytes() == \
                (work / "linuxkit" / "c.tar").read_bytes(), text
            outcomes["both"] += 1
        elif theirs.returncode == 0:
            assert " error LK" in ours.output, (text, ours.output)  # refused by a rule
            outcomes["gate"] += 1
        else:
            outcomes["neither"] += 1
    assert outcomes["both"] >= 5 and outcomes["neither"] >= 5, outcomes
