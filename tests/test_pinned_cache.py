"""`lkpolicy pin --write`, then `check` and `build --offline`: the cache holds the images under
their tags, and a pinned reference resolves to the cached content of its digest."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.config import Config, merge
from lkpolicy.stages.images import resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.store.errors import StoreError
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

runner = CliRunner()


def _config(path: Path, text: str) -> Config:
    path.write_text(text)
    document, _findings = load_document(str(path))
    return merge([document])


def test_pin_write_then_check_and_build_offline(build_full: Path, tmp_path: Path) -> None:
    config = tmp_path / "full.yml"
    shutil.copy(build_full / "full.yml", config)
    (tmp_path / "open.yml").write_text("extends: []\n")
    store = Store(tmp_path / "cache")
    for archive in sorted((build_full / "images").glob("*.tar")):
        store.import_archive(archive)
    cache = ["--cache", str(tmp_path / "cache")]
    pinned = runner.invoke(app, ["pin", "--write", "--offline", *cache, str(config)])
    assert pinned.exit_code == 0, pinned.output
    references = re.findall(r"image: (\S+)", config.read_text())
    assert references and all("@sha256:" in reference for reference in references)

    common = [*cache, "--arch", "amd64", "--offline", "--policy", str(tmp_path / "open.yml")]
    checked = runner.invoke(app, ["check", *common, str(config)])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "out"
    built = runner.invoke(app, ["build", *common, "--dir", str(out), str(config)])
    assert built.exit_code == 0, built.output
    manifest = json.loads((out / "full.build.json").read_text())
    assert all("@sha256:" in image["reference"] for image in manifest["images"])
    for image in manifest["images"]:
        assert image["reference"].endswith("@" + image["digest"])


def test_the_resolution_records_how_each_image_was_found(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    digest = add_image(store, "docker.io/test/app:1").digest
    add_image(store, f"docker.io/test/named:1@{digest}")
    other = add_image(store, "docker.io/test/other:1", files={"x": b"other"}).digest
    missing = "sha256:" + "0" * 64
    config = _config(tmp_path / "c.yml",
                     f"init:\n  - test/app:1@{digest}\n  - test/named:1@{digest}\n"
                     f"  - test/app:1\n  - test/app:1@{missing}\n  - test/other:2@{other}\n")
    resolution = resolve_images(config, ImageOptions(str(store.root), "amd64"))
    images = resolution.images
    assert images[f"docker.io/test/app:1@{digest}"].matched_by == "digest"
    assert images[f"docker.io/test/app:1@{digest}"].digest == digest
    assert images[f"docker.io/test/named:1@{digest}"].matched_by == "name"
    assert images["docker.io/test/app:1"].matched_by == "name"
    # Another repository's name does not matter: the digest is the content.
    assert images[f"docker.io/test/other:2@{other}"].digest == other
    assert list(resolution.unresolved) == [f"docker.io/test/app:1@{missing}"]
    assert [finding.rule_id for finding in resolution.findings] == ["LK401"]


def test_a_pinned_digest_of_a_blob_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    add_image(store, "docker.io/test/app:1")
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    blob = store.add_blob(config, "application/vnd.oci.image.config.v1+json")
    with pytest.raises(StoreError, match=r"image docker.io/test/app:1@sha256:\w+: "):
        store.lookup(f"test/app:1@{blob.digest}", by_digest=True)
    large = store.add_blob(bytes(5 << 20), "application/octet-stream")
    assert store.lookup(f"test/app:1@{large.digest}", by_digest=True) is None
