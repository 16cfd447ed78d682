"""A decompression bomb is refused by default, naming the image and the limit; each limit of
the build's expansion budget is an option of `lkpolicy build`."""

from __future__ import annotations

import io
import tarfile
import zlib
from pathlib import Path

import pytest
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.assemble.flatten import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_EXPANDED_BYTES, parse_size
from lkpolicy.cli import app
from lkpolicy.store.lookup import Store

runner = CliRunner()
BOMB_BYTES = 256 << 20


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def _bomb_layer() -> bytes:
    """A gzip layer of one file of 256 MiB of zeros: about 250 KB, written without ever
    holding the expanded bytes."""
    compressed = io.BytesIO()
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)

    class Sink:
        def write(self, data: bytes) -> int:
            compressed.write(deflate.compress(data))
            return len(data)

    with tarfile.open(fileobj=Sink(), mode="w|",  # type: ignore[call-overload]
                      format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("zeros")
        info.size = BOMB_BYTES
        archive.addfile(info, _Zeros(BOMB_BYTES))
    compressed.write(deflate.flush())
    return compressed.getvalue()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("bombs")
    store = Store(top / "cache")
    layer = _bomb_layer()
    assert len(layer) < BOMB_BYTES // 500
    add_image(store, "docker.io/test/bomb:1", layer=layer)
    add_image(store, "docker.io/test/small:1", files={f"f{i}": b"x" * 1000 for i in range(10)})
    (top / "open.yml").write_text("extends: []\n")
    (top / "bomb.yml").write_text("init:\n  - test/bomb:1\n")
    (top / "small.yml").write_text("init:\n  - test/small:1\n")
    return top


def _build(workspace: Path, config: str, *options: str) -> tuple[int, str, Path]:
    out = workspace / f"out-{config}-{len(options)}"
    result = runner.invoke(app, ["build", "--cache", str(workspace / "cache"), "--arch", "amd64",
                                 "--policy", str(workspace / "open.yml"), "-f", "tar", "--dir",
                                 str(out), *options, str(workspace / f"{config}.yml")])
    return result.exit_code, result.output, out


def test_a_bomb_is_refused_by_default_naming_the_image_and_the_limit(workspace: Path) -> None:
    code, output, out = _build(workspace, "bomb")
    assert code == 1, output
    assert "image docker.io/test/bomb:1: layer sha256:" in output
    assert "expands to more than 100 times its compressed size" in output
    assert "--max-expansion-ratio" in output
    assert not out.exists()


def test_a_higher_ratio_meets_the_size_limit(workspace: Path) -> None:
    code, output, _ = _build(workspace, "bomb", "--max-expansion-ratio", "100000",
                             "--max-expanded-size", "128M")
    assert code == 1, output
    assert "expand to more than 134217728 bytes (the limit is --max-expanded-size" in output


@pytest.mark.parametrize(("options", "message"), [
    (("--max-expanded-size", "5K"), "expand to more than 5120 bytes"),
    (("--max-entries", "3"), "more than 3 tar entries in the images of this build"),
])
def test_each_limit_is_an_option(workspace: Path, options: tuple[str, ...], message: str) -> None:
    code, output, _ = _build(workspace, "small", *options)
    assert code == 1, output
    assert "image docker.io/test/small:1" in output and message in output
    code, output, out = _build(workspace, "small")
    assert code == 0, output
    assert (out / "small.tar").is_file()


def test_option_values() -> None:
    assert parse_size("8G") == DEFAULT_MAX_EXPANDED_BYTES
    assert parse_size("512MiB") == 512 << 20
    assert parse_size("1000") == 1000
    for bad in ("", "G", "1.5G", "-1", "8X"):
        with pytest.raises(ValueError, match="not a size"):
            parse_size(bad)
    assert DEFAULT_MAX_ENTRIES == 1_000_000  # as `lkpolicy build --help` says


def test_a_bad_size_is_a_usage_error(workspace: Path) -> None:
    code, output, _ = _build(workspace, "small", "--max-expanded-size", "lots")
    assert code == 2
    assert "not a size" in output
