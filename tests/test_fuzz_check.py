"""Property: whatever the bytes, `lkpolicy check` ends with exit 0, 1 or 2 and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lkpolicy.cli import app

runner = CliRunner()
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SEED_CONFIG = (Path(__file__).resolve().parent.parent / "examples" / "traps" / "silent-traps.yml").read_bytes()

KEYS = ["kernel", "image", "cmdline", "init", "onboot", "services", "onshutdown", "files", "volumes",
        "trust", "name", "capabilities", "binds", "binds.add", "mounts", "uid", "gid", "path",
        "contents", "mode", "net", "ipc", "resources", "memory", "rlimits", "devices", "runtime"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.sampled_from(["all", "CAP_ALL", "none", "0644", "@x", "a:b:c:d", "/x:/y", "v:/v", "host"]),
    st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=30,
)


def run_check(tmp_path: Path, data: bytes, *extra: str) -> None:
    path = tmp_path / "fuzz.yml"
    path.write_bytes(data)
    result = runner.invoke(app, ["check", str(path), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    run_check(tmp_path, data)


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,? \n\t0123456789")), max_size=200))
def test_random_yaml_punctuation(tmp_path: Path, text: str) -> None:
    run_check(tmp_path, text.encode())


@SETTINGS
@given(document=documents)
def test_random_structures(tmp_path: Path, document: object) -> None:
    run_check(tmp_path, json.dumps({"onboot": [document], "kernel": document}).encode())
    run_check(tmp_path, json.dumps(document).encode(), "--format", "sarif")


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(SEED_CONFIG)), st.integers(0, 8), st.binary(max_size=4)),
        min_size=1, max_size=5,
    )
)
def test_mutated_real_config(tmp_path: Path, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(SEED_CONFIG)
    for offset, length, replacement in edits:
        data[offset:offset + length] = replacement
    run_check(tmp_path, bytes(data), "--format", "json")


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github"])
def test_hostile_examples_in_every_format(tmp_path: Path, output_format: str) -> None:
    for data in (b"kernel: [\n  - \"a\n\x00\xff", b"\xff\xfe\x00", b"a: &a [*a]\n", b"1: x\n", b""):
        run_check(tmp_path, data, "--format", output_format)


# -- sizes and depths, with a filled image cache --------------------------------------------------

SIZE_SETTINGS = settings(max_examples=12, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow, HealthCheck.data_too_large])
HEAD = "kernel:\n  image: linuxkit/kernel:6.6\n  cmdline: console=ttyS0\ninit:\n  - linuxkit/init:v1\n"
IMAGE = "docker.io/fuzz/app:v1"


@pytest.fixture
def image_cache(tmp_path: Path) -> Path:
    from imagefactory import add_image

    from lkpolicy.store.lookup import Store

    store = Store(tmp_path / "cache")
    add_image(store, "docker.io/linuxkit/kernel:6.6", {}, files={"kernel": b"k"})
    add_image(store, "docker.io/linuxkit/init:v1", {})
    add_image(store, IMAGE, {"capabilities": ["CAP_NET_ADMIN"]})
    return tmp_path / "cache"


def run_check_with_cache(tmp_path: Path, cache: Path, text: str, *extra: str) -> str:
    path = tmp_path / "fuzz.yml"
    path.write_text(text)
    result = runner.invoke(app, ["check", "--no-cache", "--cache", str(cache), *extra, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    return result.output


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


big_integers = st.integers(1, 6000).map(lambda digits: "9" * digits)
depths = st.integers(1, 3000)


@settings(SIZE_SETTINGS, max_examples=4)
@given(keys=st.integers(1, 12_000), value=st.sampled_from(["x", "1", "[]", "{a: 1}"]))
def test_wide_mappings(tmp_path: Path, image_cache: Path, keys: int, value: str) -> None:
    fields = "".join(f"    k{i}: {value}\n" for i in range(keys))
    run_check_with_cache(tmp_path, image_cache,
                         HEAD + f"services:\n  - name: a\n    image: {IMAGE}\n" + fields)


@SIZE_SETTINGS
@given(length=st.integers(1, 40_000), where=st.sampled_from(["cmdline", "comment", "key", "name"]),
       output_format=st.sampled_from(["text", "json", "sarif", "github"]))
def test_long_lines(tmp_path: Path, image_cache: Path, length: int, where: str,
                    output_format: str) -> None:
    long = "a" * length
    text = {
        "cmdline": HEAD.replace("console=ttyS0", long),
        "comment": HEAD + "# " + long + "\n",
        "key": HEAD + f"{long}: 1\n",
        "name": HEAD + f"services:\n  - name: {long}\n    image: {IMAGE}\n",
    }[where]
    output = run_check_with_cache(tmp_path, image_cache, text, "--format", output_format)
    assert len(output) < 200_000


@SIZE_SETTINGS
@given(number=big_integers, field=st.sampled_from(["uid", "gid", "oomScoreAdj", "cpus", "mode"]))
def test_big_integers_in_configs(tmp_path: Path, image_cache: Path, number: str,
                                 field: str) -> None:
    text = HEAD + f"services:\n  - name: a\n    image: {IMAGE}\n    {field}: {number}\n"
    text += f"files:\n  - path: etc/x\n    contents: x\n    mode: {number}\n"
    run_check_with_cache(tmp_path, image_cache, text)


@settings(SIZE_SETTINGS, max_examples=8)
@given(depth=depths, number=big_integers, kind=st.sampled_from(["label", "config"]))
def test_deep_and_big_image_metadata(tmp_path: Path, image_cache: Path, depth: int,
                                     number: str, kind: str) -> None:
    """Labels and image configs nested far deeper than any real one, or holding huge
    numbers, in a filled cache."""
    from imagefactory import add_image

    from lkpolicy.store.lookup import Store

    store = Store(image_cache)
    if kind == "label":
        add_image(store, "docker.io/fuzz/deep:v1",
                  '{"capabilities": ' + nested(depth, '"CAP_NET_ADMIN"') + ', "uid": '
                  + number + "}")
    else:
        add_image(store, "docker.io/fuzz/deep:v1", {"binds": ["/a:/a"]},
                  cmd=tuple(["/bin/true"] * min(depth, 50)))
        _deepen_config(store, "docker.io/fuzz/deep:v1", depth, number)
    text = HEAD + "services:\n  - name: d\n    image: fuzz/deep:v1\n"
    run_check_with_cache(tmp_path, image_cache, text)
    for command in (["show", "--effective"], ["diff", str(tmp_path / "fuzz.yml")]):
        result = runner.invoke(app, [*command, "--cache", str(image_cache),
                                     str(tmp_path / "fuzz.yml")])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output


def _deepen_config(store: object, name: str, depth: int, number: str) -> None:
    """Replace the image's config blob by one with a deep `Env` and a huge `User` number."""
    from imagefactory import LAYER_TYPE, layer_bytes

    from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST
    from lkpolicy.store.lookup import Store

    assert isinstance(store, Store)
    layer = store.add_blob(layer_bytes({"etc/hostname": b"x\n"}), LAYER_TYPE)
    config = ('{"architecture": "amd64", "os": "linux", "config": {"Env": '
              + nested(depth, '"A=1"') + ', "User": ' + number + "}}").encode()
    blob = store.add_blob(config, OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": blob.to_json(),
                "layers": [layer.to_json()]}
    store.register(name, store.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST))
