"""Hostile JSON in the image cache and in archives, through the real command line.

Each hostile input is generated here: JSON nested far deeper than the interpreter's recursion
limit (index.json, a manifest, an image config), a size of 1e400, an integer of 5000 digits, a
schemaVersion beyond Go's int64, and fields of the wrong type. Each one is put both in an archive
for `cache import` and directly into a cache, and every command that reads it must answer with
an exit code of 1 or 2 and one line, never a traceback or a hang.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from store_helpers import FakeRegistry, Member, cli_runner, make_layer, write_tar

from lkpolicy.cli import app
from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST
from lkpolicy.store.errors import StoreError
from lkpolicy.store.lookup import Store

NAME = "docker.io/test/evil:1"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DEPTH = 100_000
"""Far beyond the interpreter's recursion limit: the C JSON decoder alone would raise RecursionError."""
CONFIG_YAML = "services:\n  - name: evil\n    image: test/evil:1\n"


runner = cli_runner()


def deep(levels: int = DEPTH) -> bytes:
    return b"[" * levels + b"]" * levels


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, size: bytes | None = None, extra: bytes = b"") -> bytes:
    """A descriptor as JSON text, so that a size can be any literal (1e400, 5000 digits, "12")."""
    size_text = str(len(data)).encode() if size is None else size
    return (b'{"mediaType":"' + media_type.encode() + b'","digest":"' + digest_of(data).encode()
            + b'","size":' + size_text + extra + b"}")


@dataclass(frozen=True)
class Case:
    """Where the hostile part goes; everything else is a well-formed one-image layout."""

    expected: str
    """What the refusal says (part of the one-line message)."""
    index_level: bool = False
    """The root index itself is hostile: nothing that reads it can work."""
    index_extra: bytes = b""
    index_size: bytes | None = None
    schema_version: bytes = b"2"
    entry_extra: bytes = b""
    manifest_extra: bytes = b""
    layer_size: bytes | None = None
    config_size: bytes | None = None
    config_extra: bytes = b""


CASES = {
    "deep-index": Case("nested too deeply", index_level=True, index_extra=b',"x":' + deep()),
    "deep-manifest": Case("nested too deeply", manifest_extra=b',"x":' + deep()),
    "deep-config": Case("nested too deeply", config_extra=b',"x":' + deep()),
    "size-1e400": Case("out of range", index_level=True, index_size=b"1e400"),
    "size-5000-digits": Case("too many digits", layer_size=b"9" * 5000),
    "schema-version-beyond-int64": Case("schemaVersion is out of range", index_level=True,
                                        schema_version=b"99999999999999999999"),
    "size-of-wrong-type": Case("size must be an integer", config_size=b'"12"'),
    "platform-of-wrong-type": Case("platform is not an object", entry_extra=b',"platform":"linux"'),
    "config-field-of-wrong-type": Case("architecture is not a string",
                                       config_extra=b',"architecture":["amd64"]'),
}


def layout(case: Case) -> dict[str, bytes]:
    """The files of an OCI layout holding `NAME`, with the case's hostile part."""
    layer = make_layer({"etc/name": b"evil"})
    fields = b'"config":{"Cmd":["/bin/true"]},"rootfs":{"type":"layers","diff_ids":[]}'
    if b'"architecture"' not in case.config_extra:
        fields = b'"architecture":"amd64","os":"linux",' + fields
    config = b"{" + fields + case.config_extra + b"}"
    manifest = (b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","config":'
                + descriptor(OCI_CONFIG, config, case.config_size) + b',"layers":['
                + descriptor(LAYER, layer, case.layer_size) + b"]" + case.manifest_extra + b"}")
    names = json.dumps({"io.containerd.image.name": NAME,
                        "org.opencontainers.image.ref.name": NAME}).encode()
    entry = descriptor(OCI_MANIFEST, manifest, case.index_size,
                       b',"annotations":' + names + case.entry_extra)
    index = (b'{"schemaVersion":' + case.schema_version + b',"manifests":[' + entry + b"]"
             + case.index_extra + b"}")
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
    for blob in (layer, config, manifest):
        files["blobs/sha256/" + digest_of(blob)[7:]] = blob
    return files


def archive(tmp_path: Path, case: Case) -> Path:
    return write_tar(tmp_path / "evil.tar", [Member(name, data) for name, data in layout(case).items()])


def planted(tmp_path: Path, case: Case) -> Path:
    """A cache holding the hostile layout as it is, written past every check of the store."""
    root = tmp_path / "cache"
    for name, data in layout(case).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def good_archive(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "good.tar",
                     [Member(name, data) for name, data in layout(Case("")).items()])


def run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{args}: {result.exception!r}"
    assert "Traceback" not in result.stdout + result.stderr
    return result


def assert_one_line_error(result: Any, code: int | tuple[int, ...], expected: str) -> None:
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("lkpolicy: ")]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert len(lines[0]) < 400, lines[0]


@pytest.fixture
def linuxkit_yml(tmp_path: Path) -> Path:
    """A LinuxKit config whose one service runs `NAME`."""
    path = tmp_path / "c.yml"
    path.write_text(CONFIG_YAML)
    return path


def test_the_well_formed_layout_is_accepted(tmp_path: Path, linuxkit_yml: Path) -> None:
    """The cases differ from this only in their hostile part, so each refusal is that part's."""
    result = run("cache", "import", "--cache", str(tmp_path / "imported"), str(good_archive(tmp_path)))
    assert result.exit_code == 0 and NAME in result.stdout
    root = planted(tmp_path, Case(""))
    resolved = Store(root).lookup(NAME)
    assert resolved is not None and resolved.config.cmd == ("/bin/true",)
    assert run("cache", "ls", "--cache", str(root)).exit_code == 0
    export = tmp_path / "out.tar"
    assert run("cache", "export", "--cache", str(root), NAME, "-o", str(export)).exit_code == 0
    checked = run("check", "--no-policy", "--cache", str(root), "--arch", "amd64", str(linuxkit_yml))
    assert checked.exit_code == 0, checked.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_cache_import_refuses_a_hostile_archive(tmp_path: Path, case: str) -> None:
    cache = tmp_path / "cache"
    result = run("cache", "import", "--cache", str(cache), str(archive(tmp_path, CASES[case])))
    assert_one_line_error(result, 2, CASES[case].expected)
    assert f"archive {tmp_path / 'evil.tar'}" in result.stderr
    assert Store(cache).entries() == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_cache_commands_on_a_hostile_cache(tmp_path: Path, case: str) -> None:
    root = str(planted(tmp_path, CASES[case]))
    expected = CASES[case].expected
    assert_one_line_error(run("cache", "ls", "--cache", root), 1, expected)
    assert_one_line_error(run("cache", "ls", "--json", "--cache", root), 1, expected)
    export = run("cache", "export", "--cache", root, NAME, "-o", str(tmp_path / "out.tar"))
    assert_one_line_error(export, 1, expected)
    assert not (tmp_path / "out.tar").exists()
    imported = run("cache", "import", "--cache", root, str(good_archive(tmp_path)))
    removed = run("cache", "rm", "--gc", "--cache", root, NAME)
    if CASES[case].index_level:
        assert_one_line_error(imported, 1, expected)
        assert_one_line_error(removed, 1, expected)
    else:
        # Importing a good copy replaces the entry, and removing a corrupt image is the remedy
        # LK404 suggests: both must work on a cache whose index is sound.
        assert imported.exit_code == 0, imported.stderr
        assert removed.exit_code == 0 and "removed" in removed.stdout, removed.stderr
        assert Store(root).entries() == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_and_build_report_a_hostile_cache_as_one_finding(tmp_path: Path, case: str,
                                                      linuxkit_yml: Path) -> None:
    root = str(planted(tmp_path, CASES[case]))
    result = run("check", "--no-cache", "--cache", root, "--arch", "amd64", str(linuxkit_yml))
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stdout.splitlines() if " LK404 " in line]
    assert len(lines) == 1 and CASES[case].expected in lines[0], result.stdout
    assert len(lines[0]) < 500
    # `build` runs the same gate first, and builds nothing.
    built = run("build", "--cache", root, "--arch", "amd64", "-f", "tar",
                "--dir", str(tmp_path / "out"), str(linuxkit_yml))
    assert built.exit_code == 1 and "nothing was built" in built.stderr, built.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("case", sorted(CASES))
def test_show_effective_reports_a_hostile_cache_in_one_line(tmp_path: Path, case: str,
                                                           linuxkit_yml: Path) -> None:
    root = str(planted(tmp_path, CASES[case]))
    result = run("show", "--effective", "--cache", root, "--arch", "amd64", str(linuxkit_yml))
    lines = [line for line in result.stderr.splitlines() if " LK404 " in line]
    assert len(lines) == 1 and CASES[case].expected in lines[0], result.stderr


def test_show_effective_exits_non_zero_on_a_hostile_cache(tmp_path: Path, linuxkit_yml: Path) -> None:
    root = str(planted(tmp_path, CASES["deep-config"]))
    result = run("show", "--effective", "--cache", root, "--arch", "amd64", str(linuxkit_yml))
    assert result.exit_code in (1, 2)


# ---------------------------------------------------------------------- not a regular file


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """A blocking open or read that outlives `seconds` fails the test instead of hanging it."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def plant_special_index(root: Path, kind: str) -> None:
    root.mkdir(parents=True)
    (root / "blobs" / "sha256").mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(root / "index.json")
    else:  # a device, without the privilege mknod needs
        (root / "index.json").symlink_to("/dev/zero")


@pytest.mark.parametrize(("kind", "expected"), [("fifo", "a FIFO"), ("device", "a device")])
def test_a_fifo_or_device_as_index_json_is_refused_without_blocking(tmp_path: Path, kind: str,
                                                                    expected: str) -> None:
    root = tmp_path / "cache"
    plant_special_index(root, kind)
    commands: list[Callable[[], Any]] = [
        lambda: run("cache", "ls", "--cache", str(root)),
        lambda: run("cache", "export", "--cache", str(root), NAME, "-o", str(tmp_path / "o.tar")),
        lambda: run("cache", "rm", "--cache", str(root), NAME),
        lambda: run("cache", "import", "--cache", str(root), str(good_archive(tmp_path))),
    ]
    for command in commands:
        with deadline(20):
            result = command()
        assert_one_line_error(result, 1, f"is not a regular file ({expected})")


def test_a_fifo_as_index_json_does_not_hang_check(tmp_path: Path, linuxkit_yml: Path) -> None:
    """In a process of its own, so that a hang is a timeout here rather than a stuck suite."""
    root = tmp_path / "cache"
    plant_special_index(root, "fifo")
    env = {**os.environ, "LKPOLICY_NO_CACHE": "1"}
    for args in (["check", "--no-policy", "--fail-on", "warning"], ["show", "--effective"]):
        result = subprocess.run([sys.executable, "-m", "lkpolicy", *args, "--cache", str(root),
                                 str(linuxkit_yml)], capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr and "LK401" in result.stdout + result.stderr


# ---------------------------------------------------------------------- the library


def test_pull_into_a_cache_with_a_hostile_index_is_a_store_error(tmp_path: Path) -> None:
    registry = FakeRegistry()
    registry.image("docker.io/test/a:1")
    store = Store(planted(tmp_path, CASES["deep-index"]))
    with pytest.raises(StoreError, match="nested too deeply") as caught:
        store.pull("test/a:1", registry)
    assert "\n" not in str(caught.value)
    with pytest.raises(StoreError, match="nested too deeply"):
        store.gc()


def test_checking_the_cache_does_not_load_pull_or_archive_code() -> None:
    code = ("import sys, lkpolicy.store.lookup; "
            "print(sorted(m for m in sys.modules if m.startswith('lkpolicy.store.') "
            "or m == 'tarfile'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert loaded.split() == ["['lkpolicy.store.blobs',", "'lkpolicy.store.errors',",
                              "'lkpolicy.store.index',", "'lkpolicy.store.location',",
                              "'lkpolicy.store.lookup']"]
