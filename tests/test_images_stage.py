"""The image stage: labels from the cache merge into the effective config; gaps are said aloud."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.gate.options import GateOptions
from lkpolicy.gate.unit import judge_unit
from lkpolicy.model.config import merge
from lkpolicy.model.findings import Finding
from lkpolicy.stages.containers import Container, effective_configs
from lkpolicy.stages.images import Resolution, resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

runner = CliRunner()
GOLDEN_CONTAINERS = {
    ("onboot", 0): "onboot/000-first", ("onboot", 1): "onboot/001-second",
    ("onshutdown", 0): "onshutdown/000-bye", ("services", 0): "services/svc",
}


@pytest.fixture(scope="module")
def golden_cache(golden_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden-cache")
    store = Store(root)
    for archive in sorted((golden_dir / "build-full" / "images").glob("*.tar")):
        store.import_archive(archive)
    return root


@dataclass
class Stages:
    """The image and containers stages' results, and their findings (LK4xx)."""

    resolution: Resolution
    containers: list[Container]
    findings: list[Finding]

    @property
    def missing(self) -> list[str]:
        return sorted(self.resolution.unresolved)


def stage_for(tmp_path: Path, text: str, cache: Path) -> Stages:
    path = tmp_path / "c.yml"
    path.write_text(text)
    unit = judge_unit([str(path)], {}, GateOptions(images=ImageOptions(str(cache), "amd64")))
    assert unit.resolution is not None
    return Stages(unit.resolution, unit.containers,
                  [f for f in unit.findings if f.rule_id.startswith("LK4")])


def test_golden_config_json_from_the_cache(golden_dir: Path, golden_cache: Path) -> None:
    path = golden_dir / "build-full" / "full.yml"
    unit = judge_unit([str(path)], {}, GateOptions(images=ImageOptions(str(golden_cache),
                                                                       "amd64")))
    assert unit.resolution is not None and unit.resolution.complete
    assert [f for f in unit.findings if f.rule_id.startswith("LK4")] == []
    expected = golden_dir / "build-full" / "expected" / "tar" / "files" / "containers"
    assert len(unit.containers) == len(GOLDEN_CONTAINERS)
    for container in unit.containers:
        assert container.effective is not None
        folder = expected / GOLDEN_CONTAINERS[(container.section, container.index)]
        assert container.effective.config_json == (folder / "config.json").read_bytes()
        assert container.effective.runtime_json == (folder / "runtime.json").read_bytes()


def test_no_cache_is_one_finding(tmp_path: Path) -> None:
    stage = stage_for(tmp_path, "onboot:\n  - {name: a, image: x/a:1}\n  - {name: b, image: x/b:1}\n",
                      tmp_path / "none")
    (finding,) = stage.findings
    assert finding.rule_id == "LK401"
    assert "2 image(s)" in finding.message and (finding.location.line, finding.location.column) == (2, 22)


def test_missing_image_in_existing_cache(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "x/a:1", None)
    stage = stage_for(tmp_path, "onboot:\n  - {name: a, image: x/a:1}\n  - {name: b, image: x/b:1}\n",
                      tmp_path / "cache")
    assert [f.rule_id for f in stage.findings] == ["LK401"]
    assert stage.missing == ["docker.io/x/b:1"]
    assert stage.containers[0].effective is not None


def test_label_that_breaks_the_build(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "x/bad:1", {"capabilities": ["CAP_ALL"]})
    add_image(store, "x/invalid:1", {"capabilities": "CAP_NET_ADMIN"})
    text = "services:\n  - {name: a, image: x/bad:1}\n  - {name: b, image: x/invalid:1}\n"
    stage = stage_for(tmp_path, text, tmp_path / "cache")
    assert [(f.rule_id, f.location.line) for f in stage.findings] == [("LK402", 2), ("LK402", 3)]
    assert "unknown capability: CAP_ALL" in stage.findings[0].message
    assert "invalid configuration label" in stage.findings[1].message


def test_yaml_failure_is_left_to_lint(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "x/a:1", {"capabilities": ["CAP_NET_ADMIN"]})
    stage = stage_for(tmp_path, "services:\n  - {name: a, image: x/a:1, capabilities: [CAP_ALL]}\n",
                      tmp_path / "cache")
    assert stage.findings == []  # LK306 reports it at the exact list item, not LK406
    assert stage.containers[0].error is not None


def test_a_container_that_cannot_be_created_always_fails_the_gate(tmp_path: Path) -> None:
    """LK406 reports a failing YAML entry unless an earlier stage already has an error in
    that entry: with no lint finding to rely on, the containers stage reports it itself."""
    path = tmp_path / "c.yml"
    path.write_text("services:\n  - {name: a, image: x/a:1, capabilities: [CAP_ALL]}\n")
    config = merge([load_document(str(path))[0]])
    resolution = resolve_images(config, None)
    containers, alone = effective_configs(config, resolution)
    assert containers[0].error is not None
    assert [(f.rule_id, f.location.line) for f in alone] == [("LK406", 2)]
    assert "unknown capability: CAP_ALL" in alone[0].message
    lint = [f for f in judge_unit([str(path)], {}, GateOptions()).findings]
    assert [f.rule_id for f in lint] == ["LK306"]
    assert effective_configs(config, resolution, lint)[1] == []


def test_label_dropped_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "x/a:1", {"resources": {"memory": {"disableOOMKiller": True}}})
    stage = stage_for(tmp_path, "services:\n  - {name: a, image: x/a:1}\n", tmp_path / "cache")
    assert [f.rule_id for f in stage.findings] == ["LK403"]
    assert "disableOOMKiller" in stage.findings[0].message


def test_corrupt_blob_is_reported(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "x/a:1", {"capabilities": ["CAP_NET_ADMIN"]})
    for blob in (tmp_path / "cache" / "blobs" / "sha256").iterdir():
        if b"org.mobyproject.config" in blob.read_bytes():
            blob.chmod(0o644)
            blob.write_bytes(blob.read_bytes().replace(b"CAP_NET_ADMIN", b"CAP_SYS_ADMIN"))
    stage = stage_for(tmp_path, "services:\n  - {name: a, image: x/a:1}\n", tmp_path / "cache")
    assert "LK404" in [f.rule_id for f in stage.findings]
    assert stage.containers[0].image is None  # never used: judged from the YAML alone


def test_check_and_show_effective_through_the_cli(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "x/a:1", {"capabilities": ["CAP_SYS_ADMIN"], "net": "host"})
    path = tmp_path / "c.yml"
    path.write_text("services:\n  - {name: a, image: x/a:1}\n")
    result = runner.invoke(app, ["check", "--no-policy", "--cache", str(tmp_path / "cache"), "--arch", "amd64", str(path)])
    assert result.exit_code == 0 and "LK401" not in result.output
    shown = runner.invoke(app, ["show", "--effective", "--cache", str(tmp_path / "cache"),
                                "--arch", "amd64", str(path)])
    assert shown.exit_code == 0, shown.output
    assert '"CAP_SYS_ADMIN"  <- label /capabilities/0' in shown.output
    as_json = json.loads(runner.invoke(app, ["show", "--effective", "--format", "json", "--cache",
                                             str(tmp_path / "cache"), "--arch", "amd64", str(path)]).output)
    (container,) = as_json["containers"]
    assert container["origins"]["/process/capabilities/effective/0"] == {
        "origin": "label", "pointer": "/capabilities/0"}
    without = runner.invoke(app, ["check", "--no-policy", "--cache", str(tmp_path / "nowhere"), str(path)])
    assert without.exit_code == 1 and "error LK401" in without.output


def test_result_cache_notices_a_changed_image_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("services:\n  - {name: a, image: x/a:1}\n")
    args = ["check", "--no-policy", "--format", "json", "--cache", str(tmp_path / "cache"), "--arch", "amd64", str(path)]
    first = json.loads(runner.invoke(app, args).output)
    assert [f["rule"] for f in first["findings"]] == ["LK401"]
    add_image(Store(tmp_path / "cache"), "x/a:1", {"capabilities": ["CAP_ALL"]})
    second = json.loads(runner.invoke(app, args).output)
    assert [f["rule"] for f in second["findings"]] == ["LK402"]
