"""The effective runtime config (linuxkit's ConfigToOCI) and the Go JSON encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ocitest import image_config_blob

from lkpolicy.gocompat import gojson
from lkpolicy.model.capabilities import ALL_CAPABILITIES
from lkpolicy.model.config import merge
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.stages.effective import (
    OCI_VERSION,
    UNLIMITED,
    Effective,
    ExtractionMap,
    ImageConfig,
    Origin,
    Placement,
    Provenance,
    SpecError,
    Volume,
    build_effective,
    id_map,
    id_number,
    parse_label,
    visible_volumes,
)
from lkpolicy.stages.load import load_document

PLACEMENT = Placement("services", 0, "x")


def run(
    entry: dict[str, Any] | None = None,
    *,
    label: dict[str, Any] | str | None = None,
    image: dict[str, Any] | None = None,
    ids: dict[str, int] | None = None,
    **options: Any,
) -> Effective:
    """The effective config of a minimal entry, optionally with a label on the image."""
    config = dict(image or {})
    if label is not None:
        text = label if isinstance(label, str) else gojson.marshal(label)
        config["Labels"] = {"org.mobyproject.config": text}
    full = {"name": "x", "image": "y", **(entry or {})}
    return build_effective(full, config, ids or {}, options.pop("placement", PLACEMENT), **options)


def error_of(entry: dict[str, Any] | None = None, **kwargs: Any) -> str:
    with pytest.raises(SpecError) as caught:
        run(entry, **kwargs)
    return caught.value.message


def load_yaml(tmp_path: Path, text: str, name: str = "c.yml") -> Any:
    path = tmp_path / name
    path.write_text(text)
    document, _ = load_document(str(path))
    return document


# --------------------------------------------------------------------------------------------
# Goldens: every container of build-full/full.yml, byte for byte.

CONTAINERS = [
    ("onboot", 0, "000-first"),
    ("onboot", 1, "001-second"),
    ("onshutdown", 0, "000-bye"),
    ("services", 0, "svc"),
]


@pytest.fixture(scope="module")
def golden_build(golden_dir: Path) -> dict[str, Effective]:
    """Every container of full.yml, computed in build order (extraction reuse depends on it)."""
    build = golden_dir / "build-full"
    document, _ = load_document(str(build / "full.yml"))
    config = merge([document])
    ids = id_map(config)
    image = ImageConfig.from_blob(image_config_blob(build / "images" / "busybox.tar"))
    extractions = ExtractionMap()
    volumes = visible_volumes(config)
    results: dict[str, Effective] = {}
    for section, index, node in config.containers():
        placement = Placement(section, index, node.value["name"])
        results[placement.path] = build_effective(
            node.value, image, ids, placement, volumes=volumes, extractions=extractions,
            reference=parse_reference(node.value["image"]).expanded)
    return results


def test_golden_id_map(golden_dir: Path) -> None:
    document, _ = load_document(str(golden_dir / "build-full" / "full.yml"))
    assert id_map(merge([document])) == {"first": 100, "second": 101, "bye": 102, "svc": 103}


@pytest.mark.parametrize(("section", "index", "directory"), CONTAINERS)
@pytest.mark.parametrize("kind", ["config.json", "runtime.json"])
def test_golden_bytes(golden_dir: Path, golden_build: dict[str, Effective], section: str,
                      index: int, directory: str, kind: str) -> None:
    path = f"containers/{section}/{directory}"
    expected = (golden_dir / "build-full" / "expected" / "tar" / "files" / path / kind).read_bytes()
    effective = golden_build[path]
    got = effective.config_json if kind == "config.json" else effective.runtime_json
    # Parsed first, so that a mismatch names the field.
    assert json.loads(got) == json.loads(expected)
    assert got == expected


def test_golden_origins(golden_build: dict[str, Effective]) -> None:
    first = golden_build["containers/onboot/000-first"].origins
    assert first["/process/capabilities/effective/0"] == Provenance(Origin.LABEL, "capabilities", 0)
    assert first["/process/user/uid"] == Provenance(Origin.LABEL, "uid")
    assert first["/process/args"].origin is Origin.IMAGE
    assert first["/process/cwd"].origin is Origin.IMAGE
    assert first["/linux/namespaces/0"] == Provenance(Origin.LABEL, "net")
    assert first["/mounts/2"] == Provenance(Origin.LABEL, "binds", 0)  # /etc/resolv.conf
    assert first["/mounts/0"].origin is Origin.DEFAULT
    second = golden_build["containers/onboot/001-second"]
    assert second.origins["/process/capabilities/effective/40"].origin is Origin.YAML
    assert second.origins["/root/readonly"] == Provenance(Origin.YAML, "readonly")
    assert second.runtime_origins["/bindNS/net"].origin is Origin.YAML
    svc = golden_build["containers/services/svc"].origins
    assert svc["/process/args"] == Provenance(Origin.YAML, "command")
    assert svc["/process/capabilities"] == Provenance(Origin.LABEL, "capabilities")


# --------------------------------------------------------------------------------------------
# Go JSON encoding (spec 12.2, 12.3).

ESCAPES = [
    ('"', '"\\""'),
    ("\\", '"\\\\"'),
    ("\n", '"\\n"'),
    ("\r", '"\\r"'),
    ("\t", '"\\t"'),
    ("\b", '"\\b"'),
    ("\f", '"\\f"'),
    ("\x00", '"\\u0000"'),
    ("\x01", '"\\u0001"'),
    ("\x1b", '"\\u001b"'),
    ("\x1f", '"\\u001f"'),
    ("\x7f", '"\x7f"'),
    ("<", '"\\u003c"'),
    (">", '"\\u003e"'),
    ("&", '"\\u0026"'),
    ("\u2028", '"\\u2028"'),
    ("\u2029", '"\\u2029"'),
    ("é", '"é"'),
    ("\u00a0", '"\u00a0"'),
    ("日本", '"日本"'),
    ("\U0001f600", '"\U0001f600"'),
    ("\udcff", '"\\ufffd"'),
    ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
    ("plain text / ok", '"plain text / ok"'),
]


@pytest.mark.parametrize(("text", "expected"), ESCAPES)
def test_go_string_escaping(text: str, expected: str) -> None:
    assert gojson.quote(text) == expected
    assert gojson.marshal(text) == expected


def test_marshal_indent_layout() -> None:
    value = {"a": [], "b": {}, "c": [1, "x", None, True, False], "d": {"e": {"f": 2}}}
    assert gojson.marshal_indent(value) == (
        '{\n    "a": [],\n    "b": {},\n    "c": [\n        1,\n        "x",\n        null,\n'
        '        true,\n        false\n    ],\n    "d": {\n        "e": {\n            "f": 2\n'
        "        }\n    }\n}"
    )
    assert gojson.marshal_indent({}) == "{}"
    assert gojson.marshal_indent([]) == "[]"
    assert gojson.marshal(value) == '{"a":[],"b":{},"c":[1,"x",null,true,false],"d":{"e":{"f":2}}}'


def test_marshal_keys_escaped_and_numbers() -> None:
    assert gojson.marshal({"<k>": UNLIMITED}) == '{"\\u003ck\\u003e":18446744073709551615}'
    assert gojson.marshal([-500, 0]) == "[-500,0]"


@pytest.mark.parametrize(("number", "expected"), [
    (1.0, "1"), (1.5, "1.5"), (-0.0, "-0"), (1e20, "100000000000000000000"), (1e21, "1e+21"),
    (0.000001, "0.000001"), (1e-7, "1e-7"), (1.25e-10, "1.25e-10"), (123456789.125, "123456789.125"),
])
def test_go_float_format(number: float, expected: str) -> None:
    assert gojson.marshal(number) == expected


def test_marshal_refuses_what_go_refuses() -> None:
    with pytest.raises(gojson.GoJSONError):
        gojson.marshal(float("nan"))
    with pytest.raises(gojson.GoJSONError):
        gojson.marshal({1: "x"})
    with pytest.raises(gojson.GoJSONError):
        gojson.marshal(object())


def test_config_json_non_ascii_and_html() -> None:
    effective = run({"command": ["echo", "<é>\u2028"]})
    assert b'"\\u003c\xc3\xa9\\u003e\\u2028"' in effective.config_json
    assert not effective.config_json.endswith(b"\n")


# --------------------------------------------------------------------------------------------
# Overall shape (spec 12.1).


def test_minimal_entry_shape() -> None:
    effective = run()
    config = effective.config
    assert list(config) == ["ociVersion", "process", "root", "mounts", "linux"]
    assert config["ociVersion"] == OCI_VERSION
    assert config["process"] == {"user": {"uid": 0, "gid": 0}, "cwd": "/", "capabilities": {}}
    assert config["linux"] == {"resources": {},
                               "namespaces": [{"type": "pid"}, {"type": "mount"}]}
    assert [m["destination"] for m in config["mounts"]] == [
        "/dev", "/dev/pts", "/proc", "/sys", "/sys/fs/cgroup"]
    assert effective.runtime["mounts"][2]["options"][0] == "lowerdir=/containers/services/x/lower"
    assert list(effective.runtime) == ["cgroups", "mounts", "mkdir", "interfaces", "bindNS",
                                       "namespace"]


def test_field_order_with_everything() -> None:
    effective = run({
        "command": ["a"], "env": ["A=1"], "cwd": "/w", "capabilities": ["CAP_CHOWN"],
        "rlimits": ["nofile,1,2"], "noNewPrivileges": True, "oomScoreAdj": 0,
        "readonly": True, "hostname": "h", "annotations": {"b": "2", "a": "1"},
        "uidMappings": [{"size": 1}], "gidMappings": [{"size": 2}],
        "sysctl": {"z": "1", "a.b": "2"}, "cgroupsPath": "/c",
        "devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "mode": "0666"}],
        "rootfsPropagation": "shared", "maskedPaths": ["/m"], "readonlyPaths": ["/r"],
        "additionalGids": [5],
    })
    config = effective.config
    assert list(config) == ["ociVersion", "process", "root", "hostname", "mounts", "annotations",
                            "linux"]
    assert list(config["process"]) == ["user", "args", "env", "cwd", "capabilities", "rlimits",
                                       "noNewPrivileges", "oomScoreAdj"]
    assert config["process"]["oomScoreAdj"] == 0  # a pointer: zero is printed
    assert list(config["annotations"]) == ["a", "b"]
    assert list(config["linux"]) == ["uidMappings", "gidMappings", "sysctl", "resources",
                                     "cgroupsPath", "namespaces", "devices", "rootfsPropagation",
                                     "maskedPaths", "readonlyPaths"]
    assert list(config["linux"]["sysctl"]) == ["a.b", "z"]
    assert config["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 0, "size": 1}]
    assert config["root"] == {"path": "rootfs", "readonly": True}


def test_empty_lists_are_omitted() -> None:
    config = run({"command": [], "env": [], "additionalGids": [], "maskedPaths": [],
                  "annotations": {}, "sysctl": {}},
                 image={"Entrypoint": ["/bin/sh"], "Env": ["PATH=/bin"]}).config
    assert "args" not in config["process"]
    assert "env" not in config["process"]
    assert "additionalGids" not in config["process"]["user"]
    assert "maskedPaths" not in config["linux"]
    assert "annotations" not in config


# --------------------------------------------------------------------------------------------
# Merge rules (spec 11.0).


def test_command_env_cwd_precedence() -> None:
    image = {"Entrypoint": ["/e"], "Cmd": ["c"], "Env": ["I=1"], "WorkingDir": "/img"}
    effective = run(image=image)
    assert effective.config["process"]["args"] == ["/e", "c"]
    assert effective.config["process"]["env"] == ["I=1"]
    assert effective.config["process"]["cwd"] == "/img"
    labelled = run(label={"command": ["/l"], "env": ["L=1"], "cwd": "/lab"}, image=image)
    assert labelled.config["process"]["args"] == ["/l"]
    assert labelled.config["process"]["cwd"] == "/lab"
    assert labelled.origins["/process/args"] == Provenance(Origin.LABEL, "command")
    own = run({"command": ["/y"], "cwd": ""}, label={"cwd": "/lab"}, image=image)
    assert own.config["process"]["args"] == ["/y"]
    assert own.config["process"]["cwd"] == "/lab"  # an empty cwd means "not set"


def test_capabilities_add_keeps_duplicates() -> None:
    effective = run({"capabilities.add": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]},
                    label={"capabilities": ["CAP_NET_ADMIN"]})
    caps = effective.config["process"]["capabilities"]
    assert caps["effective"] == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"]
    assert caps["bounding"] == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    assert effective.origins["/process/capabilities/effective/0"] == Provenance(
        Origin.LABEL, "capabilities", 0)
    assert effective.origins["/process/capabilities/effective/1"] == Provenance(
        Origin.YAML, "capabilities.add", 0)
    # Granted by the label first, so the bounding entry is the label's.
    assert effective.origins["/process/capabilities/bounding/0"].origin is Origin.LABEL


def test_capabilities_replace_label_and_ignore_add() -> None:
    effective = run({"capabilities": ["CAP_KILL"], "capabilities.add": ["CAP_CHOWN"]},
                    label={"capabilities": ["CAP_NET_ADMIN"]})
    assert effective.config["process"]["capabilities"]["effective"] == ["CAP_KILL"]


def test_label_capabilities_add_is_ignored() -> None:
    effective = run(label={"capabilities.add": ["CAP_KILL"]})
    assert effective.config["process"]["capabilities"] == {}


def test_binds_add_appends_to_label_binds() -> None:
    effective = run({"binds.add": ["/a:/a"]}, label={"binds": ["/b:/b", "/a:/a"]})
    binds = [m for m in effective.config["mounts"] if m["type"] == "bind"]
    assert [m["destination"] for m in binds] == ["/a", "/b"]
    assert effective.origins["/mounts/0"] == Provenance(Origin.YAML, "binds.add", 0)
    replaced = run({"binds": ["/c:/c"], "binds.add": ["/a:/a"]}, label={"binds": ["/b:/b"]})
    assert [m["destination"] for m in replaced.config["mounts"] if m["type"] == "bind"] == ["/c"]


def test_present_but_empty_overrides_label() -> None:
    effective = run({"binds": [], "capabilities": [], "readonly": False},
                    label={"binds": ["/b:/b"], "capabilities": ["CAP_KILL"], "readonly": True})
    assert all(m["type"] != "bind" for m in effective.config["mounts"])
    assert effective.config["process"]["capabilities"] == {}
    assert effective.readonly is False


def test_namespace_strings_empty_means_unset() -> None:
    effective = run({"net": "", "pid": ""}, label={"net": "host", "pid": "host"})
    assert effective.config["linux"]["namespaces"] == [{"type": "mount"}]


def test_runtime_field_by_field() -> None:
    effective = run({"runtime": {"mkdir": ["/y"], "bindNS": {"net": ""}}},
                    label={"runtime": {"mkdir": ["/l"], "cgroups": ["c"],
                                       "bindNS": {"net": "/l", "pid": "/p"}, "namespace": "ns"}})
    runtime = effective.runtime
    assert runtime["mkdir"] == ["/y"]
    assert runtime["cgroups"] == ["c"]
    assert runtime["bindNS"]["net"] == ""  # present in the YAML, even empty
    assert runtime["bindNS"]["pid"] == "/p"
    assert runtime["namespace"] == "ns"
    assert effective.runtime_origins["/cgroups"] == Provenance(Origin.LABEL, "runtime/cgroups")
    assert effective.runtime_origins["/cgroups"].pointer == "/runtime/cgroups"


def test_runtime_interfaces_and_mounts() -> None:
    effective = run({"runtime": {
        "interfaces": [{"name": "eth0", "createInRoot": True}, {"add": "veth"}],
        "mounts": [{"destination": "/m", "uidmappings": [{"hostID": 1, "containerID": 2,
                                                          "size": 3}]}],
    }})
    runtime = effective.runtime
    assert runtime["interfaces"] == [{"name": "eth0", "createInRoot": True},
                                     {"add": "veth", "createInRoot": False}]
    assert runtime["mounts"][-1] == {"destination": "/m", "uidMappings": [
        {"containerID": 0, "hostID": 0, "size": 3}]}
    assert {d.pointer for d in effective.dropped} == {
        "/runtime/mounts/0/uidmappings/0/hostID", "/runtime/mounts/0/uidmappings/0/containerID"}


def test_readonly_runtime_bind_mount() -> None:
    effective = run({"readonly": True}, placement=Placement("onboot", 3, "ro"))
    assert effective.runtime["mounts"] == [{
        "destination": "/containers/onboot/003-ro/rootfs",
        "source": "/containers/onboot/003-ro/rootfs", "options": ["bind"]}]


def test_extraction_map_reuses_first_location() -> None:
    extractions = ExtractionMap()
    first = Placement("onboot", 0, "a")
    assert extractions.root("docker.io/x:1", first, False) == ("containers/onboot/000-a/lower",
                                                               True)
    assert extractions.root("docker.io/x:1", Placement("services", 0, "b"), True) == (
        "containers/onboot/000-a/lower", False)
    effective = run({}, extractions=extractions, reference="docker.io/x:1",
                    placement=Placement("services", 1, "c"))
    assert "lowerdir=/containers/onboot/000-a/lower" in effective.runtime["mounts"][2]["options"]


def test_failed_container_records_no_extraction() -> None:
    extractions = ExtractionMap()
    with pytest.raises(SpecError):
        run({"capabilities": ["CAP_ALL"]}, extractions=extractions, reference="r")
    assert extractions.root("r", Placement("services", 0, "z"), False)[1] is True


def test_placement_paths() -> None:
    assert Placement("onboot", 0, "first").path == "containers/onboot/000-first"
    assert Placement("onshutdown", 12, "bye").path == "containers/onshutdown/012-bye"
    assert Placement("services", 4, "svc").path == "containers/services/svc"
    assert Placement("services", 0, "a/../b").path == "containers/services/b"
    assert Placement("onboot", 1, "x").location == "onboot[1]"


# --------------------------------------------------------------------------------------------
# Capabilities (spec 11.4).


@pytest.mark.parametrize("word", ["all", "ALL", "All"])
def test_capabilities_all(word: str) -> None:
    caps = run({"capabilities": [word]}).config["process"]["capabilities"]
    assert caps["effective"] == list(ALL_CAPABILITIES)
    assert caps["bounding"] == sorted(ALL_CAPABILITIES)
    assert len(caps["permitted"]) == 41


@pytest.mark.parametrize("word", ["none", "NONE"])
def test_capabilities_none(word: str) -> None:
    effective = run({"capabilities": [word]}, label={"capabilities": ["CAP_KILL"]})
    assert effective.config["process"]["capabilities"] == {}
    assert b'"capabilities": {}' in effective.config_json
    assert effective.origins["/process/capabilities"] == Provenance(Origin.YAML, "capabilities")


@pytest.mark.parametrize(("caps", "bad"), [
    (["all", "CAP_CHOWN"], "all"),
    (["CAP_ALL"], "CAP_ALL"),
    (["cap_sys_admin"], "cap_sys_admin"),
    (["CAP_CHOWN", "CAP_NOPE", "CAP_BAD"], "CAP_NOPE"),
])
def test_unknown_capability(caps: list[str], bad: str) -> None:
    assert error_of({"capabilities": caps}) == f"unknown capability: {bad}"


def test_ambient_all_and_union() -> None:
    caps = run({"capabilities": ["CAP_KILL"], "ambient": ["CAP_SYS_ADMIN"]}).config[
        "process"]["capabilities"]
    assert caps == {"bounding": ["CAP_KILL", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"],
                    "inheritable": ["CAP_KILL", "CAP_SYS_ADMIN"],
                    "permitted": ["CAP_KILL", "CAP_SYS_ADMIN"], "ambient": ["CAP_SYS_ADMIN"]}
    assert len(run({"ambient": ["all"]}).config["process"]["capabilities"]["ambient"]) == 41
    assert error_of({"ambient": ["CAP_X"]}) == "unknown capability: CAP_X"


# --------------------------------------------------------------------------------------------
# Namespaces (spec 11.3).


@pytest.mark.parametrize(("entry", "expected"), [
    ({}, [{"type": "pid"}, {"type": "mount"}]),
    ({"net": "new"}, [{"type": "network"}, {"type": "pid"}, {"type": "mount"}]),
    ({"net": "none"}, [{"type": "network"}, {"type": "pid"}, {"type": "mount"}]),
    ({"net": "/run/netns/x"}, [{"type": "network", "path": "/run/netns/x"}, {"type": "pid"},
                               {"type": "mount"}]),
    ({"ipc": "none"}, [{"type": "ipc", "path": "none"}, {"type": "pid"}, {"type": "mount"}]),
    ({"uts": "none"}, [{"type": "uts", "path": "none"}, {"type": "pid"}, {"type": "mount"}]),
    ({"ipc": "new", "uts": "new"}, [{"type": "ipc"}, {"type": "uts"}, {"type": "pid"},
                                    {"type": "mount"}]),
    ({"pid": "host"}, [{"type": "mount"}]),
    ({"pid": "root", "net": "host"}, [{"type": "mount"}]),
    ({"pid": "/proc/1/ns/pid"}, [{"type": "pid", "path": "/proc/1/ns/pid"}, {"type": "mount"}]),
    ({"userns": "new"}, [{"type": "pid"}, {"type": "user"}, {"type": "mount"}]),
    ({"userns": "none"}, [{"type": "pid"}, {"type": "user", "path": "none"}, {"type": "mount"}]),
    ({"net": "new", "ipc": "new", "uts": "new", "userns": "new"},
     [{"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "pid"}, {"type": "user"},
      {"type": "mount"}]),
])
def test_namespaces(entry: dict[str, Any], expected: list[dict[str, str]]) -> None:
    assert run(entry).config["linux"]["namespaces"] == expected


# --------------------------------------------------------------------------------------------
# Ids (spec 11.5).


def test_id_map_order_and_duplicates(tmp_path: Path) -> None:
    document = load_yaml(tmp_path, """
onboot:
  - {name: a, image: i}
  - {name: b, image: i}
onshutdown:
  - {name: a, image: i}
services:
  - {name: s, image: i}
""")
    assert id_map(merge([document])) == {"a": 102, "b": 101, "s": 103}


@pytest.mark.parametrize(("value", "expected"), [
    (None, 0), (0, 0), (1000, 1000), (-1, 4294967295), (2**32 + 5, 5), ("", 0), ("root", 0),
    ("svc", 103),
])
def test_id_number(value: Any, expected: int) -> None:
    assert id_number(value, {"svc": 103}) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("1000", "cannot find id: 1000"),
    ("nobody", "cannot find id: nobody"),
    (1.5, "bad type for uid or gid"),
    (True, "bad type for uid or gid"),
    ([1], "bad type for uid or gid"),
    (2**63, "bad type for uid or gid"),
])
def test_id_errors(value: Any, message: str) -> None:
    assert error_of({"uid": value}) == message
    assert error_of({"additionalGids": [0, value]}) == message


def test_quoted_uid_from_yaml_is_a_name(tmp_path: Path) -> None:
    document = load_yaml(tmp_path, 'services:\n  - {name: s, image: i, uid: "1000", gid: 1000}\n')
    entry = document.data["services"][0]
    with pytest.raises(SpecError, match=r"^cannot find id: 1000$"):
        build_effective(entry, None, {}, PLACEMENT)
    assert run({"gid": 1000}).config["process"]["user"]["gid"] == 1000


def test_uid_from_label_resolved_by_name() -> None:
    user = run({"gid": "x", "additionalGids": ["x", 7]}, label={"uid": "x"},
               ids={"x": 100}).config["process"]["user"]
    assert user == {"uid": 100, "gid": 100, "additionalGids": [100, 7]}


# --------------------------------------------------------------------------------------------
# Mounts (spec 11.1).


def mounts_of(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in run(entry).config["mounts"]}


def test_tmpfs_and_binds() -> None:
    mounts = mounts_of({"tmpfs": ["/run:size=10m,mode=755", "/t", "/e:"],
                        "binds": ["/var:/var:rshared,rbind", "/a:/b", "/c:/d:ro"]})
    assert mounts["/run"] == {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                              "options": ["size=10m", "mode=755"]}
    assert mounts["/t"] == {"destination": "/t", "type": "tmpfs", "source": "tmpfs"}
    assert mounts["/e"]["options"] == [""]
    assert mounts["/var"]["options"] == ["rshared", "rbind", "rbind"]
    assert mounts["/b"]["options"] == ["rw", "rbind", "rshared"]
    assert mounts["/d"]["options"] == ["ro", "rbind"]


def test_later_kinds_replace_earlier_by_destination() -> None:
    mounts = mounts_of({"tmpfs": ["/x"], "binds": ["/h:/x"],
                        "mounts": [{"destination": "/proc", "type": "tmpfs"}]})
    assert mounts["/x"]["type"] == "bind"
    assert mounts["/proc"] == {"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}


@pytest.mark.parametrize(("mount", "expected"), [
    ({"source": "proc"}, {"destination": "/proc", "type": "proc", "source": "proc"}),
    ({"source": "mqueue"}, {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"}),
    ({"type": "cgroup", "options": ["rw"]},
     {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rw"]}),
    ({"destination": "/dev", "options": ["rw"]},
     {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]}),
    ({"type": "devpts"}, {"destination": "/dev/pts", "type": "devpts", "source": "devpts"}),
    ({"destination": "rel", "type": "tmpfs", "options": []},
     {"destination": "rel", "type": "tmpfs", "source": "tmpfs"}),
    ({"destination": "/x", "type": "bind", "source": "/y"},
     {"destination": "/x", "type": "bind", "source": "/y"}),
])
def test_mount_defaults(mount: dict[str, Any], expected: dict[str, Any]) -> None:
    assert mounts_of({"mounts": [mount]})[expected["destination"]] == expected


def test_mounts_sorted_bytewise() -> None:
    destinations = [m["destination"] for m in run(
        {"tmpfs": ["/dev-x", "/Z", "/dev/a", "/é", "/a b"]}).config["mounts"]]
    assert destinations == sorted(destinations, key=lambda d: d.encode())
    assert destinations.index("/dev") < destinations.index("/dev-x") < destinations.index("/dev/a")


@pytest.mark.parametrize(("entry", "message"), [
    ({"tmpfs": ["/a:b:c"]}, "cannot parse tmpfs, too many ':': /a:b:c"),
    ({"binds": ["/a"]}, "cannot parse bind, missing ':': /a"),
    ({"binds.add": ["/a:/b:ro:x"]}, "cannot parse bind, too many ':': /a:/b:ro:x"),
    ({"mounts": [{"destination": "/x"}]}, "mount for destination /x is missing type"),
    ({"mounts": [{"source": "/x"}]}, "mount for destination  is missing type"),
    ({"mounts": [{"type": "tmpfs"}]}, "mount type tmpfs is missing destination"),
    ({"mounts": [{"type": "bind", "source": "/x"}]}, "mount type bind is missing destination"),
])
def test_mount_errors(entry: dict[str, Any], message: str) -> None:
    assert error_of(entry) == message


def test_mount_errors_come_in_linuxkit_order() -> None:
    # tmpfs before binds before mounts before capabilities.
    assert error_of({"capabilities": ["x"], "mounts": [{"destination": "/m"}],
                     "binds": ["/bad"], "tmpfs": ["a:b:c"]}).startswith("cannot parse tmpfs")
    assert error_of({"capabilities": ["x"], "mounts": [{"destination": "/m"}]}).startswith("mount")


def test_container_mount_id_mappings_are_not_copied() -> None:
    effective = run({"mounts": [{"destination": "/m", "type": "tmpfs",
                                 "uidmappings": [{"size": 1}]}]})
    assert {m["destination"]: m for m in effective.config["mounts"]}["/m"] == {
        "destination": "/m", "type": "tmpfs", "source": "tmpfs"}
    assert [d.pointer for d in effective.dropped] == ["/mounts/0/uidmappings"]


# --------------------------------------------------------------------------------------------
# Volumes (spec 11.2).

VOLUMES = {"v": Volume("v"), "ro": Volume("ro", readonly=True), "": Volume("")}


def test_volume_binds_rewritten() -> None:
    mounts = mounts_of_volumes({"binds": ["v:/v", "ro:/r:ro", "/abs:/abs"],
                                "binds.add": ["v:/ignored"]})
    assert mounts["/v"]["source"] == "/containers/volumes/v/merged"
    assert mounts["/r"]["source"] == "/containers/volumes/ro/merged"
    assert mounts["/abs"]["source"] == "/abs"
    assert "/ignored" not in mounts


def mounts_of_volumes(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in run(entry, volumes=VOLUMES).config["mounts"]}


def test_volume_mount_source_checked_but_not_rewritten() -> None:
    mounts = mounts_of_volumes({"mounts": [{"destination": "/m", "type": "bind", "source": "v"}]})
    assert mounts["/m"]["source"] == "v"


def test_label_binds_are_not_rewritten() -> None:
    effective = run(label={"binds": ["v:/v"]}, volumes=VOLUMES)
    assert {m["destination"]: m for m in effective.config["mounts"]}["/v"]["source"] == "v"


@pytest.mark.parametrize(("entry", "message"), [
    ({"binds": ["/a:/a", "nope:/n"]}, "volume nope not found in onboot image bin 1"),
    ({"binds.add": ["nope:/n"]}, "volume nope not found in onboot image bin 0"),
    ({"binds": ["ro:/r"]}, "volume ro is read-only, but attempting to write into container "
                           "read-write"),
    ({"binds": ["ro:/r:ro,rbind"]}, "volume ro is read-only, but attempting to write into "
                                    "container read-write"),
    ({"mounts": [{"type": "bind", "source": "nope", "destination": "/n"}]},
     "volume nope not found in onboot image mount 0"),
    ({"mounts": [{"type": "bind", "source": "ro", "destination": "/n", "options": ["rw", "ro"]}]},
     "volume ro is read-only, but attempting to write into container read-write"),
])
def test_volume_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        run(entry, volumes=VOLUMES)
    assert caught.value.message == message
    assert caught.value.stage == "volumes"


def test_readonly_volume_mount_with_ro_first() -> None:
    mounts = mounts_of_volumes({"mounts": [{"type": "bind", "source": "ro", "destination": "/n",
                                            "options": ["rbind", "ro", "rw"]}]})
    assert mounts["/n"]["source"] == "ro"


def test_bind_without_colon_to_volume_fails_after_rewrite() -> None:
    assert error_of({"binds": ["v"]}, volumes=VOLUMES) == (
        "cannot parse bind, missing ':': /containers/volumes/v/merged")


def test_visible_volumes_are_the_last_files(tmp_path: Path) -> None:
    first = load_yaml(tmp_path, "volumes:\n  - {name: a, readonly: true}\n", "a.yml")
    second = load_yaml(tmp_path, "volumes:\n  - {name: b}\n", "b.yml")
    assert visible_volumes(merge([first, second])) == {"b": Volume("b")}
    assert visible_volumes(merge([second, first])) == {"a": Volume("a", readonly=True)}
    assert visible_volumes(merge([first, load_yaml(tmp_path, "{}\n", "c.yml")])) == {}


# --------------------------------------------------------------------------------------------
# Rlimits (spec 11.6).


def test_rlimits() -> None:
    rlimits = run({"rlimits": [" nofile , 1024 , unlimited ", "RLIMIT_NPROC,10,20",
                               "Core,UNLIMITED,0"]}).config["process"]["rlimits"]
    assert rlimits == [
        {"type": "RLIMIT_NOFILE", "hard": UNLIMITED, "soft": 1024},
        {"type": "RLIMIT_NPROC", "hard": 20, "soft": 10},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": UNLIMITED},
    ]


@pytest.mark.parametrize(("rlimits", "message"), [
    (["nofile,1"], "cannot parse rlimit: [nofile,1]"),
    (["nofile,1,2", "nproc"], "cannot parse rlimit: [nofile,1,2 nproc]"),
    (["bogus,1,2"], "unknown limit: "),
    (["nofile,abc,2"], 'cannot parse abc as uint64: strconv.ParseUint: parsing "abc": invalid '
                       "syntax"),
    (["nofile,1,-1"], 'cannot parse -1 as uint64: strconv.ParseUint: parsing "-1": invalid '
                      "syntax"),
    (["nofile,1,"], 'cannot parse  as uint64: strconv.ParseUint: parsing "": invalid syntax'),
    (["nofile,18446744073709551616,1"], "cannot parse 18446744073709551616 as uint64: "
     'strconv.ParseUint: parsing "18446744073709551616": value out of range'),
    (["bogus,x,1"], 'cannot parse x as uint64: strconv.ParseUint: parsing "x": invalid syntax'),
    (["nofile,1,2,3"], 'cannot parse 2,3 as uint64: strconv.ParseUint: parsing "2,3": invalid '
                       "syntax"),
])
def test_rlimit_errors(rlimits: list[str], message: str) -> None:
    assert error_of({"rlimits": rlimits}) == message


# --------------------------------------------------------------------------------------------
# Devices (spec 11.8).


@pytest.mark.parametrize(("mode", "file_mode"), [
    ("0666", 438), ("666", 438), ("0", 0), ("+7", 7), ("-1", 4294967295), ("17777777777", 2**31 - 1),
])
def test_device_mode(mode: str, file_mode: int) -> None:
    linux = run({"devices": [{"path": "/dev/x", "type": "c", "major": 1, "minor": 2,
                              "mode": mode}]}).config["linux"]
    assert linux["devices"] == [{"path": "/dev/x", "type": "c", "major": 1, "minor": 2,
                                 "fileMode": file_mode}]
    assert linux["resources"]["devices"] == [{"allow": True, "type": "c", "major": 1, "minor": 2,
                                              "access": "rwm"}]


@pytest.mark.parametrize(("mode", "problem"), [
    ("0999", 'parsing "0999": invalid syntax'),
    ("0o666", 'parsing "0o666": invalid syntax'),
    ("", 'parsing "": invalid syntax'),
    (None, 'parsing "": invalid syntax'),
    ("20000000000", 'parsing "20000000000": value out of range'),
    ("a\tb", 'parsing "a\\tb": invalid syntax'),
])
def test_device_mode_errors(mode: str | None, problem: str) -> None:
    device: dict[str, Any] = {"path": "/dev/x", "type": "c"}
    if mode is not None:
        device["mode"] = mode
    assert error_of({"devices": [device]}) == (
        f"cannot parse device mode as octal value: strconv.ParseInt: {problem}")


def test_device_all_and_resource_order() -> None:
    linux = run({"devices": [{"path": "all", "type": "b", "mode": "bogus"}, {"path": "all"}],
                 "resources": {"devices": [{"allow": False, "access": "rwm"}],
                               "memory": {"limit": 1}}}).config["linux"]
    assert "devices" not in linux
    assert linux["resources"] == {
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "b", "access": "rwm"},
                    {"allow": True, "access": "rwm"}],
        "memory": {"limit": 1},
    }


# --------------------------------------------------------------------------------------------
# Resources and dropped keys (spec 4, 11.7).


def test_resources_drop_multi_word_keys() -> None:
    effective = run({"resources": {
        "memory": {"limit": 1, "disableOOMKiller": True, "kernelTCP": 5, "swappiness": 0},
        "cpu": {"shares": 2, "realtimeRuntime": 4, "realtimePeriod": 5, "cpus": "0-1", "mems": ""},
        "pids": {},
        "blockio": {"weight": 10, "leafWeight": 11, "weightDevice": [{"major": 1}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
        "network": {"classID": 9, "priorities": [{"name": "eth0", "priority": 1}]},
    }})
    assert effective.config["linux"]["resources"] == {
        "memory": {"limit": 1, "swappiness": 0},
        "cpu": {"shares": 2, "cpus": "0-1"},
        "pids": {"limit": 0},
        "blockIO": {"weight": 10},
        "network": {"priorities": [{"name": "eth0", "priority": 1}]},
    }
    assert sorted(d.pointer for d in effective.dropped) == [
        "/resources/blockio/leafWeight", "/resources/blockio/weightDevice",
        "/resources/cpu/realtimePeriod", "/resources/cpu/realtimeRuntime",
        "/resources/hugepageLimits", "/resources/memory/disableOOMKiller",
        "/resources/memory/kernelTCP", "/resources/network/classID",
    ]
    assert all(d.origin is Origin.YAML for d in effective.dropped)
    assert "disableoomkiller" in next(
        d.reason for d in effective.dropped if d.pointer.endswith("disableOOMKiller"))


def test_resources_object_with_only_dropped_keys_stays() -> None:
    resources = run({"resources": {"memory": {"disableOOMKiller": True}}}).config["linux"][
        "resources"]
    assert resources == {"memory": {}}


def test_id_mappings_lose_both_ids() -> None:
    effective = run({"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                     "gidMappings": [{"hostID": 5, "size": 2}]})
    assert effective.config["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": 0, "size": 1}]
    assert effective.config["linux"]["gidMappings"] == [
        {"containerID": 0, "hostID": 0, "size": 2}]
    assert [d.pointer for d in effective.dropped] == [
        "/uidMappings/0/containerID", "/uidMappings/0/hostID", "/gidMappings/0/hostID"]


def test_dropped_keys_from_label_are_reported_as_label() -> None:
    effective = run(label={"resources": {"memory": {"kernelTCP": 1}}})
    assert [(d.origin, d.pointer) for d in effective.dropped] == [
        (Origin.LABEL, "/resources/memory/kernelTCP")]
    # Overridden label resources are not used, so not reported.
    assert run({"resources": {}}, label={"resources": {"memory": {"kernelTCP": 1}}}).dropped == []


def test_sysctl_and_annotations_sorted() -> None:
    config = run({"sysctl": {"net.b": "2", "net.a": "1"}},
                 label={"annotations": {"z": "1", "a": "2"}}).config
    assert list(config["linux"]["sysctl"]) == ["net.a", "net.b"]
    assert list(config["annotations"]) == ["a", "z"]


def test_cgroups_path_and_propagation_present_but_empty() -> None:
    linux = run({"cgroupsPath": ""}, label={"cgroupsPath": "/l", "rootfsPropagation": "shared"}
                ).config["linux"]
    assert "cgroupsPath" not in linux
    assert linux["rootfsPropagation"] == "shared"


# --------------------------------------------------------------------------------------------
# The label (spec 10).


@pytest.mark.parametrize("text", ["[1]", "null", "   ", "---", "3", '"x"', "[]"])
def test_label_must_be_an_object(text: str) -> None:
    assert error_of(label=text) == f"JSON is an array not an object: {text}"


def test_empty_label_is_ignored() -> None:
    effective = run(label="")
    assert effective.label is None
    assert effective.config["process"]["capabilities"] == {}


@pytest.mark.parametrize(("label", "message"), [
    ({"name": "x"}, "name cannot be set in metadata label"),
    ({"image": "x"}, "image cannot be set in metadata label"),
    ({"name": "x", "image": "y"}, "name cannot be set in metadata label"),
    ({"name": 5}, "name cannot be set in metadata label"),
])
def test_label_cannot_name_itself(label: dict[str, Any], message: str) -> None:
    assert error_of(label=label) == message


def test_label_with_empty_name_is_accepted() -> None:
    assert run(label={"name": "", "image": None}).label == {"name": "", "image": None}


def test_label_is_yaml() -> None:
    effective = run(label="capabilities: [CAP_KILL]\nreadonly: true\nuid: 0x10\n")
    assert effective.config["process"]["capabilities"]["effective"] == ["CAP_KILL"]
    assert effective.readonly is True
    assert effective.config["process"]["user"]["uid"] == 16


def test_label_yaml_errors_are_spec_errors() -> None:
    with pytest.raises(SpecError):
        run(label='{"net": "a", "net": "b"}')
    with pytest.raises(SpecError):
        run(label="{unclosed")


def test_label_validation_hook() -> None:
    seen: list[dict[str, Any]] = []

    def validate(document: dict[str, Any]) -> list[str]:
        seen.append(document)
        label = document["services"][0]
        return [] if isinstance(label.get("net"), str) else ["services.0.net: Invalid type."]

    assert run(label={"net": "new"}, validate_label=validate).config["linux"]["namespaces"][0] == {
        "type": "network"}
    assert seen[0] == {"services": [{"net": "new", "name": "dummyname", "image": "dummyimage"}]}
    with pytest.raises(SpecError) as caught:
        run(label={"net": 1}, validate_label=validate)
    assert caught.value.message == "invalid configuration label"
    assert caught.value.details == ["services.0.net: Invalid type."]


def test_label_hook_runs_before_the_name_check() -> None:
    with pytest.raises(SpecError, match="invalid configuration label"):
        run(label={"name": "x"}, validate_label=lambda _document: ["bad"])


def test_ill_typed_label_without_hook_does_not_crash() -> None:
    with pytest.raises(SpecError) as caught:
        run(label={"capabilities": "CAP_KILL"})
    assert caught.value.message == "invalid configuration label"
    with pytest.raises(SpecError) as caught:
        run({"binds": "x"})
    assert caught.value.message == "invalid configuration file"


def test_parse_label_warns_about_extra_documents() -> None:
    label, warnings = parse_label("net: new\n---\npid: host\n")
    assert label == {"net": "new"}
    assert len(warnings) == 1


def test_image_config_from_oci_tolerates_nulls() -> None:
    image = ImageConfig.from_oci({"Entrypoint": None, "Cmd": ["x"], "Env": None, "Labels": None})
    assert image == ImageConfig(cmd=("x",))
    assert run(image={"Cmd": ["x"]}).config["process"]["args"] == ["x"]


# --------------------------------------------------------------------------------------------
# Labels of the LinuxKit packages in the corpus: each builds, and the label's values arrive.


def package_labels() -> list[Path]:
    from conftest import SHARED_DIR

    corpus = SHARED_DIR / "corpus" / "linuxkit"
    return sorted([*corpus.glob("pkg/*/build.yml"), *corpus.glob("test/pkg/*/build.yml")])


def label_text(build_yml: Path) -> str | None:
    """The label `linuxkit pkg build` writes: the `config:` block as compact JSON.

    The package builder decodes into Go structs, so an unquoted `mode: 0666` becomes the
    string "0666" (its YAML text), not the integer yaml.v3 would resolve.
    """
    document, _ = load_document(str(build_yml))
    config = document.data.get("config")
    if config is None:
        return None
    for index, device in enumerate(config.get("devices") or []):
        scalar = document.scalars.get(f"/config/devices/{index}/mode")
        if "mode" in device and not isinstance(device["mode"], str):
            device["mode"] = scalar.text if scalar else str(device["mode"])
    return gojson.marshal(config)


PACKAGES = [path for path in package_labels() if label_text(path) is not None]


@pytest.mark.corpus
@pytest.mark.parametrize("build_yml", PACKAGES, ids=lambda p: p.parent.name)
def test_package_label(build_yml: Path) -> None:
    text = label_text(build_yml)
    assert text is not None
    label = json.loads(text)
    effective = run(label=text, image={"Entrypoint": ["/bin/x"]})
    config = effective.config
    caps = config["process"]["capabilities"]
    if label.get("capabilities") == ["all"]:
        assert caps["effective"] == list(ALL_CAPABILITIES)
    elif "capabilities" in label:
        assert caps["effective"] == label["capabilities"]
        assert effective.origins["/process/capabilities/effective/0"] == Provenance(
            Origin.LABEL, "capabilities", 0)
    else:
        assert caps == {}
    mounts = {m["destination"]: m for m in config["mounts"]}
    for index, bind in enumerate(label.get("binds", [])):
        source, destination = bind.split(":")[:2]
        assert mounts[destination]["source"] == source
        assert mounts[destination]["type"] == "bind"
        position = list(mounts).index(destination)
        assert effective.origins[f"/mounts/{position}"] == Provenance(Origin.LABEL, "binds", index)
    kinds = [ns["type"] for ns in config["linux"]["namespaces"]]
    assert ("network" in kinds) == (label.get("net") == "new")
    assert ("ipc" in kinds) == (label.get("ipc") == "new")
    assert ("pid" in kinds) == (label.get("pid") != "host")
    assert effective.readonly == label.get("readonly", False)
    devices = label.get("devices", [])
    assert len(config["linux"]["resources"].get("devices", [])) == len(devices)
    assert len(config["linux"].get("devices", [])) == len(
        [d for d in devices if d["path"] != "all"])
    if "oomScoreAdj" in label:
        assert config["process"]["oomScoreAdj"] == label["oomScoreAdj"]
    # The YAML still wins over every label value.
    overridden = run({"capabilities": ["none"], "binds": [], "net": "host", "pid": "host",
                      "readonly": False}, label=text).config
    assert overridden["process"]["capabilities"] == {}
    assert overridden["linux"]["namespaces"][-1] == {"type": "mount"}
    assert "network" not in [ns["type"] for ns in overridden["linux"]["namespaces"]]
    json.loads(effective.config_json)
    json.loads(effective.runtime_json)


def test_package_labels_found() -> None:
    assert len(PACKAGES) >= 30


def _modules_after(code: str) -> set[str]:
    """The lkpolicy modules a fresh interpreter has loaded after running `code`."""
    probe = code + "\nimport sys\nprint(' '.join(m for m in sys.modules if m.startswith('lkpolicy')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    return set(result.stdout.split())


def test_import_cost_is_paid_only_for_what_is_used() -> None:
    light = _modules_after("from lkpolicy.stages.effective import ImageConfig")
    assert "lkpolicy.stages.effective.types" in light
    assert "lkpolicy.stages.effective.build" not in light
    plain = _modules_after(
        "from lkpolicy.stages.effective import Placement, build_effective\n"
        "build_effective({'name': 'a', 'image': 'b', 'binds': ['/a:/b'],"
        " 'rlimits': ['nofile,1,2'], 'devices': [{'path': '/dev/x', 'type': 'c',"
        " 'major': 1, 'minor': 2, 'mode': '0644'}]}, None, {}, Placement('services', 0, 'a'))")
    # The OCI struct tables and the label parser load only for entries that need them.
    assert "lkpolicy.stages.effective.build" in plain
    assert "lkpolicy.stages.effective.ocispec" not in plain
    assert "lkpolicy.stages.effective.label" not in plain
    decoded = _modules_after(
        "from lkpolicy.stages.effective import Placement, build_effective\n"
        "build_effective({'name': 'a', 'image': 'b', 'resources': {'memory': {'limit': 5}}},"
        " None, {}, Placement('services', 0, 'a'))")
    assert "lkpolicy.stages.effective.ocispec" in decoded
