"""`lkpolicy check --lock` and `lkpolicy build`: the gate always runs, the lock closes the
check-then-build window, and the outputs equal linuxkit's goldens."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.oci import Descriptor
from lkpolicy.store.lookup import Store

runner = CliRunner()
RUNC_DIGEST = "sha256:661076e7020f57b0dddbf12431b05e511b4bb0bdc2c883898cf4ad409d4d6df4"


@pytest.fixture
def workspace(golden_dir: Path, tmp_path: Path) -> Path:
    """full.yml, a permissive policy (the golden config is deliberately dangerous) and a cache."""
    full = golden_dir / "build-full"
    shutil.copy(full / "full.yml", tmp_path / "full.yml")
    (tmp_path / "open.yml").write_text("extends: []\n")
    store = Store(tmp_path / "cache")
    for archive in sorted((full / "images").glob("*.tar")):
        store.import_archive(archive)
    return tmp_path


def run(workspace: Path, *args: str):
    common = ["--cache", str(workspace / "cache"), "--arch", "amd64"]
    return runner.invoke(app, [args[0], *common, *args[1:]])


def test_build_refuses_when_the_gate_fails(workspace: Path) -> None:
    result = run(workspace, "build", "--dir", str(workspace / "out"), str(workspace / "full.yml"))
    assert result.exit_code == 1
    assert "the gate failed" in result.output and "LKP112" in result.output
    assert not (workspace / "out").exists()


def test_build_matches_linuxkit(workspace: Path, golden_dir: Path) -> None:
    out = workspace / "out"
    result = run(workspace, "build", "--policy", str(workspace / "open.yml"), "--dir", str(out),
                 "--name", "full", "--no-sbom", str(workspace / "full.yml"))
    assert result.exit_code == 0, result.output
    expected = golden_dir / "build-full" / "expected" / "kernel+initrd"
    assert (out / "full-kernel").read_bytes() == (expected / "full-kernel").read_bytes()
    assert (out / "full-cmdline").read_bytes() == (expected / "full-cmdline").read_bytes()
    initrd = (out / "full-initrd.img").read_bytes()
    golden = (expected / "full-initrd.img").read_bytes()
    assert initrd[:16] == golden[:16]  # the ucode cpio prefix
    assert gzip.decompress(initrd[16:]) == (expected / "full-initrd.cpio").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [
        "full-cmdline", "full-initrd.img", "full-kernel", "full.build.json",
        "full.intoto.jsonl"]
    manifest = (out / "full.build.json").read_text()
    assert "sha256:9dfd9ec25f9f28f32ada8277ef3792114c4b1ed05c3c8de95cff37e1e12d65dd" in manifest


def test_compression_level_changes_only_the_compressed_bytes(workspace: Path, golden_dir: Path) -> None:
    expected = (golden_dir / "build-full" / "expected" / "kernel+initrd" / "full-initrd.cpio").read_bytes()
    sizes = []
    for level in ("1", "9"):
        out = workspace / f"out{level}"
        result = run(workspace, "build", "--policy", str(workspace / "open.yml"), "--dir", str(out),
                     "--compression-level", level, "--no-sbom", str(workspace / "full.yml"))
        assert result.exit_code == 0, result.output
        initrd = (out / "full-initrd.img").read_bytes()
        assert gzip.decompress(initrd[16:]) == expected
        sizes.append(len(initrd))
    assert sizes[1] < sizes[0]
    assert run(workspace, "build", "--compression-level", "0", str(workspace / "full.yml")).exit_code == 2


def test_verify_reproducible(workspace: Path) -> None:
    out = workspace / "out"
    result = run(workspace, "build", "--policy", str(workspace / "open.yml"), "--dir", str(out),
                 "--verify-reproducible", "-f", "tar", str(workspace / "full.yml"))
    assert result.exit_code == 0, result.output
    assert "byte-identical" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["full.build.json", "full.intoto.jsonl",
                                                     "full.tar"]


def test_lock_round_trip_and_a_moved_tag(workspace: Path) -> None:
    config, lock = str(workspace / "full.yml"), str(workspace / "full.lock.json")
    policy = ["--policy", str(workspace / "open.yml")]
    checked = run(workspace, "check", *policy, "--lock", lock, config)
    assert checked.exit_code == 0, checked.output
    images = {i["reference"]: i for i in json.loads(Path(lock).read_text())["images"]}
    assert images["docker.io/lktest/busybox:test"]["usedIn"] == [
        "onboot[0]", "onboot[1]", "onshutdown[0]", "services[0]"]
    # The tag moves between check and build: the build must not take the new image.
    Store(workspace / "cache").register("lktest/busybox:test",
                                        Descriptor("application/vnd.oci.image.manifest.v1+json",
                                                   RUNC_DIGEST, 345))
    moved = run(workspace, "build", *policy, "--lock", lock, "--dir", str(workspace / "out"), config)
    assert moved.exit_code == 1
    assert "busybox" in moved.output and "passed the gate" in moved.output
    out = workspace / "out"
    assert not out.exists() or list(out.iterdir()) == []  # no partial output


def test_lock_is_refused_for_an_edited_config(workspace: Path) -> None:
    config, lock = workspace / "full.yml", str(workspace / "full.lock.json")
    policy = ["--policy", str(workspace / "open.yml")]
    assert run(workspace, "check", *policy, "--lock", lock, str(config)).exit_code == 0
    config.write_text(config.read_text().replace("foo=bar", "foo=baz"))
    result = run(workspace, "build", *policy, "--lock", lock, str(config))
    assert result.exit_code == 1
    assert "LK502" in result.output and "changed after the check" in result.output


def test_lock_is_not_written_when_the_gate_fails(workspace: Path) -> None:
    lock = workspace / "full.lock.json"
    assert run(workspace, "check", "--lock", str(lock), str(workspace / "full.yml")).exit_code == 1
    assert not lock.exists()


def test_malformed_lock_is_an_input_error(workspace: Path) -> None:
    lock = workspace / "bad.lock.json"
    lock.write_text('{"lockVersion": 1, "images": [{"reference": "x", "digest": "sha256:../x"}]}')
    result = run(workspace, "build", "--policy", str(workspace / "open.yml"), "--lock", str(lock),
                 str(workspace / "full.yml"))
    assert result.exit_code == 2
    assert "LK501" in result.output


def test_unwritable_lock_or_report_is_a_clear_error(workspace: Path) -> None:
    missing = workspace / "no" / "such" / "dir"
    result = run(workspace, "check", "--policy", str(workspace / "open.yml"), "--lock",
                 str(missing / "x.lock.json"), str(workspace / "full.yml"))
    assert result.exit_code == 2 and "cannot write" in result.output
    report = runner.invoke(app, ["check", "--no-images", "-o", str(missing / "r.json"),
                                 str(workspace / "full.yml")])
    assert report.exit_code == 2 and "cannot write" in report.output


@pytest.mark.parametrize("formats,message", [
    (["rpi3"], r"format rpi3 is not supported by lkpolicy build: .*arm64.*"),
    (["bogus"], r"error parsing formats: unknown format type bogus \(lkpolicy builds: tar, .*\)"),
    (["vhd", "dynamic-vhd"], r"formats vhd and dynamic-vhd both write NAME\.vhd; .*"),
    (["vmdk"], r"format vmdk needs mformat: install the Debian package mtools"),
])
def test_unbuildable_formats_are_usage_errors_before_the_gate(
        formats: list[str], message: str, workspace: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if formats == ["vmdk"]:
        monkeypatch.setenv("PATH", str(workspace / "no-tools"))
    options = [part for fmt in formats for part in ("-f", fmt)]
    # Without --policy the gate would fail on full.yml (exit 1, findings): it must not run.
    result = run(workspace, "build", *options, "--dir", str(workspace / "out"),
                 str(workspace / "full.yml"))
    assert result.exit_code == 2
    [line] = result.output.splitlines()
    assert re.fullmatch(f"lkpolicy: {message}", line), line
    assert not (workspace / "out").exists()


def test_build_writes_several_tool_formats(workspace: Path) -> None:
    from lkpolicy.assemble import missing_tools
    from tests.conftest import skip_or_fail

    for fmt in ("kernel+erofs", "raw-efi"):
        if missing_tools(fmt):
            skip_or_fail(missing_tools(fmt)[0])
    out = workspace / "out"
    result = run(workspace, "build", "--policy", str(workspace / "open.yml"), "--dir", str(out),
                 "-f", "kernel+erofs,raw-efi", "-f", "kernel+initrd", str(workspace / "full.yml"))
    assert result.exit_code == 0, result.output
    names = ["full-cmdline", "full-efi.img", "full-erofs.img", "full-initrd.img", "full-kernel",
             "full.build.json"]
    assert sorted(p.name for p in out.iterdir()) == [*names, "full.intoto.jsonl"]
    manifest = json.loads((out / "full.build.json").read_text())
    # Files that two formats share are written and listed once.
    assert sorted(entry["file"] for entry in manifest["outputs"]) == names[:-1]
    assert manifest["formats"] == ["kernel+erofs", "raw-efi", "kernel+initrd"]
