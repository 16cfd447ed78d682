"""Issue 14.1: `lkpolicy build` without `--lock` while another process re-tags the image in the
cache, back and forth, to a look-alike whose label grants CAP_SYS_ADMIN, binds the host's `/`
and shares its pid namespace. The build ships what the gate judged or fails; never the
look-alike (the gate resolves every image once and the build reads blobs by those digests)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.store.lookup import Store

runner = CliRunner()
NAME = "docker.io/test/app:1"
EVIL_LABEL = {"capabilities": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], "binds": ["/:/host"],
              "pid": "host"}
FLIPPER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from lkpolicy.model.oci import Descriptor
    from lkpolicy.store.lookup import Store
    store, stop, count = Store(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    good, evil = (Descriptor.from_json(json.loads(text), "test") for text in sys.argv[4:6])
    flips, deadline = 0, time.monotonic() + 120
    while not stop.exists() and time.monotonic() < deadline:
        store.register(sys.argv[6], evil if flips % 2 == 0 else good)
        flips += 1
    store.register(sys.argv[6], good)
    count.write_text(str(flips))
""")


def _shipped(tar_path: Path) -> tuple[bytes, str]:
    """The app binary and the container's config.json in a build tar."""
    binary, config = b"", ""
    with tarfile.open(tar_path) as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                continue
            if member.name.endswith("/bin/app"):
                binary = handle.read()
            elif member.name == "containers/services/app/config.json":
                config = handle.read().decode()
    return binary, config


def test_a_retag_during_the_build_never_ships_the_look_alike(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    evil = add_image(store, "docker.io/test/evil:1", EVIL_LABEL, files={"bin/app": b"evil"})
    good = add_image(store, NAME, files={"bin/app": b"good"})
    config = tmp_path / "app.yml"
    config.write_text("services:\n  - name: app\n    image: test/app:1\n")
    stop, count = tmp_path / "stop", tmp_path / "flips"
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(store.root), str(stop),
                                str(count), json.dumps(good.to_json()),
                                json.dumps(evil.to_json()), NAME])
    outcomes: dict[str, int] = {"built": 0, "refused": 0}
    try:
        time.sleep(0.3)  # let it start flipping
        # At least 10 trials, more (up to 30) until both outcomes were seen twice.
        for trial in range(30):
            if trial >= 10 and min(outcomes.values()) >= 2:
                break
            out = tmp_path / f"out{trial}"
            result = runner.invoke(app, ["build", "--cache", str(store.root), "--arch", "amd64",
                                         "-f", "tar", "--dir", str(out), str(config)])
            if result.exit_code == 0:
                outcomes["built"] += 1
                binary, container = _shipped(out / "app.tar")
                assert binary == b"good", result.output
                assert "CAP_SYS_ADMIN" not in container and '"/host"' not in container
                manifest = json.loads((out / "app.build.json").read_text())
                assert manifest["images"] == [{"reference": NAME, "digest": good.digest}]
            else:
                outcomes["refused"] += 1
                assert result.exit_code == 1, result.output
                assert "LKP110" in result.output or "changed" in result.output, result.output
                assert not (out / "app.tar").exists()
    finally:
        stop.touch()
        flipper.wait(timeout=60)
    # The look-alike was in the cache for about half of the time: both outcomes must occur
    # for the race to have been run at all (the gate judged the look-alike at least once).
    assert int(count.read_text()) > 20
    assert outcomes["refused"] > 0 and outcomes["built"] > 0, outcomes
