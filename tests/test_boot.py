"""Boot the example (examples/boot.yml, images from examples/images/build-images.sh) in QEMU
under software emulation, from every bootable format, and wait for its marker on the serial
console. The EFI formats boot with Debian's OVMF (a copy of its variable store per boot).

The images are built once per session, all formats in one build, and every boot is bounded
by TIMEOUT. Needs qemu-system-x86 (plus the tools of each format, see
lkpolicy.assemble.formats) and apt access to Debian's archive for the first download;
downloads are cached in ~/.cache/lkpolicy-examples (or $LKPOLICY_EXAMPLES_CACHE). Skips when
any of that is missing, except under CI, where it fails.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from planning import plan_build

from lkpolicy.assemble import FORMATS, build_outputs, missing_tools
from lkpolicy.assemble.blockgzip import BLOCK_SIZE
from lkpolicy.assemble.builder import BuildOptions
from lkpolicy.model.config import merge
from lkpolicy.stages.load import load_document
from lkpolicy.store.lookup import Store
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT / "examples" / "images" / "build-images.sh"
BOOT_MARKER = b"LKPOLICY-BOOT-OK"
SERVICE_MARKER = b"LKPOLICY-SERVICE-OK"
TIMEOUT = 180.0
OVMF_DIR = Path("/usr/share/OVMF")
BOOT_FORMATS = tuple(name for name, spec in FORMATS.items() if spec.checked_by == "boot")
"""The formats the format table says are checked by booting them (this module's job)."""


@dataclass(frozen=True)
class Machine:
    """How QEMU boots one format's image: as a CD or as a disk, with BIOS or OVMF."""

    file: str
    drive: str
    """`cdrom`, or the qemu block format of the disk."""
    efi: bool = False


MACHINES = {
    "iso-bios": Machine("boot.iso", "cdrom"),
    "raw-bios": Machine("boot-bios.img", "raw"),
    "qcow2-bios": Machine("boot.qcow2", "qcow2"),
    "iso-efi": Machine("boot-efi.iso", "cdrom", efi=True),
    "iso-efi-initrd": Machine("boot-efi-initrd.iso", "cdrom", efi=True),
    "raw-efi": Machine("boot-efi.img", "raw", efi=True),
    "qcow2-efi": Machine("boot-efi.qcow2", "qcow2", efi=True),
}


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(store, config): the example images in a private store and a copy of boot.yml pinned
    to them, so the test leaves the checkout alone."""
    if shutil.which("qemu-system-x86_64") is None:
        skip_or_fail("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} not found: the example images are made from Debian packages")
    work = tmp_path_factory.mktemp("boot-example")
    config = work / "boot.yml"
    shutil.copyfile(PROJECT / "examples" / "boot.yml", config)
    store = work / "store"
    result = subprocess.run(["bash", str(SCRIPT), "--store", str(store), "--config",
                             str(config)], capture_output=True, text=True, timeout=900,
                            check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        skip_or_fail("building the example images failed (no apt access?): " + " | ".join(tail))
    assert "image   lkpolicy.example/kernel:6.1@sha256:" in result.stdout
    return store, config


@dataclass(frozen=True)
class BootImages:
    directory: Path
    missing: dict[str, str]
    """Formats left out of the build, with the line saying which tool is missing."""


@pytest.fixture(scope="session")
def images(example: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> BootImages:
    """Every bootable format the host has the tools for, from one build."""
    store, config = example
    missing = {fmt: missing_tools(fmt)[0] for fmt in BOOT_FORMATS if missing_tools(fmt)}
    out = tmp_path_factory.mktemp("boot-images")
    document, _findings = load_document(str(config))
    merged = merge([document])
    start = time.monotonic()
    files = build_outputs(merged, plan_build(merged, Store(store)),
                          [fmt for fmt in BOOT_FORMATS if fmt not in missing], out, "boot").files
    print(f"built {len(files)} files for the boot tests in {time.monotonic() - start:.1f}s")
    return BootImages(out, missing)


@pytest.fixture
def qemu() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started machines are killed by PID whatever happens to the test."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _ovmf(tmp_path: Path) -> list[str]:
    """Debian's OVMF as two flash drives: the firmware read-only, a copy of its variables."""
    for code_name, vars_name in (("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"),
                                 ("OVMF_CODE.fd", "OVMF_VARS.fd")):
        code, variables = OVMF_DIR / code_name, OVMF_DIR / vars_name
        if code.is_file() and variables.is_file():
            copy = tmp_path / vars_name
            shutil.copyfile(variables, copy)
            return ["-drive", f"if=pflash,format=raw,readonly=on,file={code}",
                    "-drive", f"if=pflash,format=raw,file={copy}"]
    skip_or_fail(f"no OVMF_CODE*.fd with its OVMF_VARS*.fd in {OVMF_DIR} (Debian package ovmf)")


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


def test_every_bootable_format_is_booted() -> None:
    assert set(MACHINES) | {"kernel+initrd"} == set(BOOT_FORMATS)


def test_kernel_initrd_boots(images: BootImages, qemu: list[subprocess.Popen[bytes]],
                             tmp_path: Path) -> None:
    out = images.directory
    cmdline = (out / "boot-cmdline").read_text()
    output, elapsed = _boot(qemu, ["-kernel", str(out / "boot-kernel"),
                                   "-initrd", str(out / "boot-initrd.img"),
                                   "-append", cmdline], tmp_path / "console.log")
    assert SERVICE_MARKER in output
    assert output.index(SERVICE_MARKER) < output.index(BOOT_MARKER)
    print(f"kernel+initrd booted to the marker in {elapsed:.1f}s")


def test_kernel_initrd_at_the_smallest_level_boots(example: tuple[Path, Path],
                                                   qemu: list[subprocess.Popen[bytes]],
                                                   tmp_path: Path) -> None:
    """Levels 4-9 join libdeflate's streams into one member (assemble/blockgzip.py): the
    kernel's own inflater must read it across the joins."""
    store, config = example
    document, _findings = load_document(str(config))
    merged = merge([document])
    out = tmp_path / "out"
    out.mkdir()
    build_outputs(merged, plan_build(merged, Store(store)), ["kernel+initrd"], out, "boot",
                  options=BuildOptions(compression_level=9))
    initrd = out / "boot-initrd.img"
    assert len(gzip.decompress(initrd.read_bytes())) > 2 * BLOCK_SIZE, "a single block"
    output, elapsed = _boot(qemu, ["-kernel", str(out / "boot-kernel"), "-initrd", str(initrd),
                                   "-append", (out / "boot-cmdline").read_text()],
                            tmp_path / "console.log")
    assert SERVICE_MARKER in output
    print(f"kernel+initrd at level 9 booted to the marker in {elapsed:.1f}s")


@pytest.mark.parametrize("fmt", list(MACHINES))
def test_boot_media(fmt: str, images: BootImages, qemu: list[subprocess.Popen[bytes]],
                    tmp_path: Path) -> None:
    if fmt in images.missing:
        skip_or_fail(images.missing[fmt])
    machine = MACHINES[fmt]
    image = images.directory / machine.file
    assert image.is_file()
    arguments = _ovmf(tmp_path) if machine.efi else []
    if machine.drive == "cdrom":
        arguments += ["-cdrom", str(image)]
    else:
        # virtio: firmware and GRUB read it twice as fast as an emulated IDE disk under TCG;
        # snapshot: the image is shared by the session and must stay as built.
        arguments += ["-drive", f"if=virtio,format={machine.drive},file={image},snapshot=on"]
    output, elapsed = _boot(qemu, arguments, tmp_path / "console.log")
    assert SERVICE_MARKER in output
    print(f"{fmt} booted to the marker in {elapsed:.1f}s")
