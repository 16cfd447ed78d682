"""The lock closes the check-then-build window against a real registry: the tag moves between
`check --lock` and `build --lock`, and the build refuses the new image."""

from __future__ import annotations

from pathlib import Path

from registry_env import OCILayout, Registry, skopeo_push, tar_layer, wait_all
from typer.testing import CliRunner

from lkpolicy.cli import app

runner = CliRunner()


def test_tag_moved_in_the_registry_between_check_and_build(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "oci")
    for name in ("first", "second"):
        layer, _ = tar_layer({"bin/app": f"#!/bin/sh\necho {name}\n".encode()})
        descriptor, _pushed = layout.image(name, [layer])
        layout.tag(descriptor, name)
    layout.write_index()
    registry = Registry(tmp_path / "storage", tmp_path / "registry").start()
    try:
        reference = f"{registry.host}/lktest/app:v1"
        wait_all([skopeo_push(layout.root, "first", reference)])
        cache = str(tmp_path / "cache")
        assert runner.invoke(app, ["cache", "pull", "--cache", cache, "--platform", "linux/amd64",
                                   reference]).exit_code == 0
        config = tmp_path / "app.yml"
        config.write_text(f"services:\n  - name: app\n    image: {reference}\n")
        policy = tmp_path / "open.yml"
        policy.write_text("extends: []\n")
        lock = tmp_path / "app.lock.json"
        common = ["--cache", cache, "--arch", "amd64", "--policy", str(policy)]
        checked = runner.invoke(app, ["check", *common, "--lock", str(lock), str(config)])
        assert checked.exit_code == 0, checked.output

        # Someone re-pushes the tag, and the cache follows it.
        wait_all([skopeo_push(layout.root, "second", reference)])
        assert runner.invoke(app, ["cache", "pull", "--cache", cache, "--platform", "linux/amd64",
                                   "--force", reference]).exit_code == 0

        out = tmp_path / "out"
        built = runner.invoke(app, ["build", *common, "--lock", str(lock), "-f", "tar",
                                    "--dir", str(out), str(config)])
        assert built.exit_code == 1
        assert "passed the gate" in built.output
        assert not out.exists() or list(out.iterdir()) == []

        # Without the lock the gate judges (and the build uses) the new image.
        fresh = runner.invoke(app, ["build", *common, "-f", "tar", "--dir", str(out), str(config)])
        assert fresh.exit_code == 0, fresh.output
    finally:
        registry.stop()
