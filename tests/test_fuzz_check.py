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
