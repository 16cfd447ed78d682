"""Boot the example (examples/boot.yml, images from examples/images/build-images.sh) in QEMU
under software emulation and wait for its marker on the serial console.

Needs qemu-system-x86 (plus squashfs/xorriso/syslinux/mtools/qemu-utils/ovmf for the
bootable-media cases) and apt access to Debian's archive for the first download; downloads
are cached in ~/.cache/lkpolicy-examples (or $LKPOLICY_EXAMPLES_CACHE). Skips when any of
that is missing, except under CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from planning import plan_build

from lkpolicy.assemble import build_outputs
from lkpolicy.assemble.media import missing_tools
from lkpolicy.model.config import merge
from lkpolicy.stages.load import load_path
from lkpolicy.store.lookup import Store

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT / "examples" / "images" / "build-images.sh"
BOOT_MARKER = b"LKPOLICY-BOOT-OK"
SERVICE_MARKER = b"LKPOLICY-SERVICE-OK"
TIMEOUT = 180.0
OVMF = Path("/usr/share/ovmf/OVMF.fd")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must provide it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(store, config): the example images in a private store and a copy of boot.yml pinned
    to them, so the test leaves the checkout alone."""
    if shutil.which("qemu-system-x86_64") is None:
        _unavailable("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} not found: the example images are made from Debian packages")
    work = tmp_path_factory.mktemp("boot-example")
    config = work / "boot.yml"
    shutil.copyfile(PROJECT / "examples" / "boot.yml", config)
    store = work / "store"
    result = subprocess.run(["bash", str(SCRIPT), "--store", str(store), "--config",
                             str(config)], capture_output=True, text=True, timeout=900,
                            check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        _unavailable("building the example images failed (no apt access?): " + " | ".join(tail))
    assert "image   lkpolicy.example/kernel:6.1@sha256:" in result.stdout
    return store, config


def _build(example: tuple[Path, Path], fmt: str, out: Path) -> list[Path]:
    store, config = example
    document, _findings = load_path(config)
    merged = merge([document])
    return build_outputs(merged, plan_build(merged, Store(store)), [fmt], out, "boot").files


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started machines are killed by PID whatever happens to the test."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _boot(qemu: list[subprocess.Popen[bytes]], machine: list[str], log: Path) -> tuple[bytes,
                                                                                       float]:
    command = ["qemu-system-x86_64", "-machine", "accel=tcg", "-m", "512", "-nographic",
               "-no-reboot", "-monitor", "none", "-serial", "stdio", *machine]
    start = time.monotonic()
    with open(log, "wb") as console:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=console,
                                   stderr=subprocess.STDOUT)
        qemu.append(process)
        while time.monotonic() - start < TIMEOUT:
            if BOOT_MARKER in log.read_bytes() or process.poll() is not None:
                break
            time.sleep(0.5)
    output = log.read_bytes()
    elapsed = time.monotonic() - start
    if BOOT_MARKER not in output:
        state = "exited" if process.poll() is not None else f"still running after {TIMEOUT}s"
        pytest.fail(f"no {BOOT_MARKER.decode()} on the console (qemu {state}); last output:\n"
                    + output[-2000:].decode("utf-8", "replace"))
    # The init powers off right after the marker; qemu exits on its own.
    process.wait(timeout=60)
    return output, elapsed


def test_kernel_initrd_boots(example: tuple[Path, Path], qemu: list[subprocess.Popen[bytes]],
                             tmp_path: Path) -> None:
    files = _build(example, "kernel+initrd", tmp_path)
    assert {p.name for p in files} == {"boot-kernel", "boot-initrd.img", "boot-cmdline",
                                       "boot.build.json"}
    cmdline = (tmp_path / "boot-cmdline").read_text()
    output, elapsed = _boot(qemu, ["-kernel", str(tmp_path / "boot-kernel"),
                                   "-initrd", str(tmp_path / "boot-initrd.img"),
                                   "-append", cmdline], tmp_path / "console.log")
    assert SERVICE_MARKER in output
    assert output.index(SERVICE_MARKER) < output.index(BOOT_MARKER)
    print(f"kernel+initrd booted to the marker in {elapsed:.1f}s")


@pytest.mark.parametrize("fmt,file,machine", [
    ("iso-bios", "boot.iso", ["-cdrom"]),
    ("raw-bios", "boot-bios.img", ["-drive", "format=raw,file="]),
    ("qcow2-bios", "boot.qcow2", ["-drive", "format=qcow2,file="]),
    ("iso-efi", "boot-efi.iso", ["-bios", str(OVMF), "-cdrom"]),
])
def test_boot_media(fmt: str, file: str, machine: list[str], example: tuple[Path, Path],
                    qemu: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    missing = missing_tools(fmt)
    if missing:
        _unavailable(missing[0])
    if fmt == "iso-efi" and not OVMF.is_file():
        _unavailable(f"{OVMF} not found (Debian package ovmf)")
    _build(example, fmt, tmp_path)
    image = str(tmp_path / file)
    if machine[-1].endswith("="):
        machine = [*machine[:-1], machine[-1] + image]
    else:
        machine = [*machine, image]
    output, elapsed = _boot(qemu, machine, tmp_path / "console.log")
    assert SERVICE_MARKER in output
    print(f"{fmt} booted to the marker in {elapsed:.1f}s")
