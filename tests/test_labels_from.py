"""`check --labels-from DIR`: labels from `linuxkit pkg` build.yml files.

For each package of the corpus, the effective config with the label read from its build.yml
equals the one computed from an image whose label holds the same `config:` block as
`linuxkit pkg build` writes it (made here independently: the YAML data as JSON, with the
device modes as their YAML text, as the Go struct's string field keeps them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.gate.options import GateOptions
from lkpolicy.gate.unit import judge_unit
from lkpolicy.gocompat import gojson
from lkpolicy.stages.effective.pkglabel import package_label
from lkpolicy.stages.load import load_document
from lkpolicy.stages.pkglabels import PackageSourceError, read_package_labels
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

runner = CliRunner()


def corpus_packages() -> list[Path]:
    from conftest import SHARED_DIR

    corpus = SHARED_DIR / "corpus" / "linuxkit"
    return sorted([*corpus.glob("pkg/*/build.yml"), *corpus.glob("test/pkg/*/build.yml")])


def label_as_written(build_yml: Path) -> str:
    """What `linuxkit pkg build` writes, made without lkpolicy's Go decoder: the block as
    JSON, with each device mode as its YAML text (a Go string field keeps the text)."""
    document, _ = load_document(str(build_yml))
    config = document.data["config"]
    for index, device in enumerate(config.get("devices") or []):
        scalar = document.scalars.get(f"/config/devices/{index}/mode")
        if "mode" in device and not isinstance(device["mode"], str):
            device["mode"] = scalar.text if scalar else str(device["mode"])
    return gojson.marshal(config)


def effective(config: Path, cache: Path, packages: object = None) -> list[tuple[str, str]]:
    unit = judge_unit([str(config)], {}, GateOptions(
        images=ImageOptions(str(cache), "amd64"), packages=packages))  # type: ignore[arg-type]
    assert unit.containers, unit.findings
    result = []
    for container in unit.containers:
        assert container.effective is not None, (container.error, unit.findings)
        result.append((container.effective.config_json.decode(),
                       container.effective.runtime_json.decode()))
    return result


PACKAGES = corpus_packages()


@pytest.mark.corpus
@pytest.mark.parametrize("build_yml", PACKAGES, ids=lambda p: f"{p.parent.parent.name}/"
                         f"{p.parent.name}")
def test_labels_from_equal_the_label_the_package_build_writes(build_yml: Path,
                                                              tmp_path: Path) -> None:
    data = load_document(str(build_yml))[0].data
    name = f"docker.io/{data.get('org', 'linuxkit')}/{data.get('image', build_yml.parent.name)}"
    config = tmp_path / "c.yml"
    config.write_text(f"onboot:\n  - name: a\n    image: {name}:v1\n"
                      f"services:\n  - name: b\n    image: {name}:v1\n    readonly: false\n")
    # With the package's label in the image, as after `linuxkit pkg build`...
    built = tmp_path / "built"
    add_image(Store(built), f"{name}:v1", label_as_written(build_yml))
    # ...and before: the same image without any label, the label read from the build.yml.
    before = tmp_path / "before"
    add_image(Store(before), f"{name}:v1", None)
    packages = read_package_labels([str(build_yml.parent)])
    assert list(packages.labels) == [name]
    assert effective(config, before, packages) == effective(config, built)
    if build_yml.parent.name == "getty":
        # Without the package source the unlabelled image gives another config.
        assert effective(config, before) != effective(config, built)


def test_every_corpus_package_is_found() -> None:
    from conftest import SHARED_DIR

    packages = read_package_labels([str(SHARED_DIR / "corpus" / "linuxkit")])
    assert len(packages.labels) == len(PACKAGES) == 31
    assert "docker.io/linuxkit/test-containerd" in packages.labels


@pytest.mark.corpus
def test_the_label_text_is_what_the_go_structs_marshal() -> None:
    by_name = {path.parent.name: path for path in PACKAGES}
    kmsg = package_label(load_document(str(by_name["kmsg"]))[0])
    assert kmsg == ('{"capabilities":["CAP_SYSLOG"],"binds":["/dev/kmsg:/dev/kmsg"],'
                    '"devices":[{"path":"/dev/kmsg","type":"c","major":1,"minor":11,'
                    '"mode":"0666"}]}')
    containerd = json.loads(package_label(load_document(str(by_name["containerd"]))[0]) or "")
    assert list(containerd) == ["capabilities", "mounts", "binds", "devices", "tmpfs"]
    assert containerd["mounts"][0] == {"destination": "", "type": "cgroup", "options": [
        "rw", "nosuid", "noexec", "nodev", "relatime"]}
    assert containerd["devices"][0] == {"path": "all", "type": "b", "major": 0, "minor": 0}


def test_go_typing_of_scalars(tmp_path: Path) -> None:
    path = tmp_path / "build.yml"
    path.write_text("image: x\nconfig:\n  hostname: 0x1F\n  cwd: 1.50\n  readonly: true\n"
                    "  uid: 0666\n  oomScoreAdj: 010\n  sysctl: {b: 2, a: yes}\n"
                    "  devices: [{path: /dev/x, type: c, major: 010, minor: 1, mode: 0600}]\n"
                    "  runtime: {mkdir: [/a]}\n  rootfsPropagation: ''\n  unknown: 1\n")
    label = json.loads(package_label(load_document(str(path))[0]) or "")
    assert label == {"devices": [{"path": "/dev/x", "type": "c", "major": 8, "minor": 1,
                                  "mode": "0600"}],
                     "cwd": "1.50", "hostname": "0x1F", "readonly": True, "uid": 438,
                     "oomScoreAdj": 8, "rootfsPropagation": "", "sysctl": {"a": "yes", "b": "2"},
                     "runtime": {"mkdir": ["/a"], "bindNS": {}}}


def test_findings_caused_by_a_package_label_name_the_build_yml_line(tmp_path: Path) -> None:
    package = tmp_path / "pkg" / "tool"
    package.mkdir(parents=True)
    (package / "build.yml").write_text("org: acme\nconfig:\n  binds:\n    - /etc:/etc\n"
                                       "  pid: host\n")
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: tool\n    image: acme/tool:1.0\n")
    result = runner.invoke(app, ["check", "--no-cache", "--no-images", "-f", "json",
                                 "--labels-from", str(tmp_path / "pkg"), str(config)])
    findings = {f["rule"]: f for f in json.loads(result.output)["findings"]}
    assert result.exit_code == 1
    bind = findings["LKP130"]
    assert (bind["file"], bind["line"]) == (str(config), 3)
    assert f"by the label from {package / 'build.yml'}:4:7 (package of " \
        "docker.io/acme/tool:1.0)" in bind["message"]
    assert f"{package / 'build.yml'}:5:3" in findings["LKP120"]["message"]
    plain = runner.invoke(app, ["check", "--no-cache", "--no-images", "-f", "json",
                                str(config)])
    assert "LKP130" not in [f["rule"] for f in json.loads(plain.output)["findings"]]


def test_bad_package_sources_are_usage_errors(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: tool\n    image: acme/tool:1.0\n")
    for text, where in (("config:\n  binds: /etc:/etc\n", ":2:10"),
                        ("config: [\n", ":2:1"),
                        ("config:\n  readonly: sometimes\n", ":2:13")):
        (tmp_path / "pkg").mkdir(exist_ok=True)
        (tmp_path / "pkg" / "build.yml").write_text(text)
        result = runner.invoke(app, ["check", "--no-images", "--labels-from",
                                     str(tmp_path / "pkg"), str(config)])
        assert result.exit_code == 2, result.output
        assert f"build.yml{where}" in result.output and "Traceback" not in result.output
    (tmp_path / "pkg" / "build.yml").write_text("image: tool\norg: acme\nconfig: {}\n")
    (tmp_path / "pkg" / "b").mkdir()
    (tmp_path / "pkg" / "b" / "build.yml").write_text("image: tool\norg: acme\nconfig: {}\n")
    with pytest.raises(PackageSourceError, match=r"names the image docker\.io/acme/tool"):
        read_package_labels([str(tmp_path / "pkg")])
    locked = runner.invoke(app, ["check", "--lock", str(tmp_path / "l.json"), "--labels-from",
                                 str(tmp_path / "pkg"), str(config)])
    assert locked.exit_code == 2 and "cannot be used with --lock" in locked.output


def test_a_changed_build_yml_is_not_answered_from_the_result_cache(tmp_path: Path) -> None:
    package = tmp_path / "pkg" / "tool"
    package.mkdir(parents=True)
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: tool\n    image: acme/tool:1.0\n")
    env = {"LKPOLICY_CACHE_DIR": str(tmp_path / "cache")}
    rules = []
    for pid in ("new", "host", "new"):
        (package / "build.yml").write_text(f"org: acme\nconfig:\n  pid: {pid}\n")
        result = runner.invoke(app, ["check", "--no-images", "-f", "json", "--select", "LKP120",
                                     "--labels-from", str(tmp_path / "pkg"), str(config)],
                               env=env)
        rules.append([f["rule"] for f in json.loads(result.output)["findings"]])
    assert rules == [[], ["LKP120"], []]
