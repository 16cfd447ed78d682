"""Build speed and memory of `kernel+initrd`, against `gzip -6` of the same cpio.

    .venv/bin/python bench/bench_build.py [--level 1] [--runs 1] [--skip-large]

1. full: the golden feature-rich config (../shared/golden/linuxkit/build-full, its images
   imported into a temporary store), built to kernel+initrd.
2. large: the golden kernel plus one init image whose single (gzip) layer is the /lib/modules
   tree of Debian's linux-image-*-amd64 package (about 390 MiB uncompressed, used as it is,
   nothing repeated). The .deb is the one examples/images/build-images.sh caches in
   ~/.cache/lkpolicy-examples; the image store is generated once and kept under
   ~/.cache/lkpolicy-bench/build-large/ (or --cache-dir).

Every build runs in a subprocess of its own; reported are its wall time (the build call only,
measured inside the child, and the whole process), and its peak resident memory (ru_maxrss of
that child, from wait4). The floor is `gzip -6 -c cpio > /dev/null` on the uncompressed cpio
of the same build, in a subprocess. Targets (issue 6): build <= 0.25x the floor, peak memory
<= 200 MB. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT.parent / "shared" / "golden" / "linuxkit" / "build-full"
EXAMPLES_CACHE = Path(os.environ.get("LKPOLICY_EXAMPLES_CACHE",
                                     Path.home() / ".cache" / "lkpolicy-examples"))
LARGE_REF = "lkbench/modules:large"
KERNEL_REF = "lktest/kernel:test"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHUNK = 1 << 20
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# The child: one build


def child(store_dir: str, config_path: str, out_dir: str, name: str, level: int) -> None:
    from lkpolicy.assemble import BuildOptions, build_outputs
    from lkpolicy.gate.options import GateOptions
    from lkpolicy.gate.plan import build_plan
    from lkpolicy.gate.unit import judge_unit
    from lkpolicy.store.location import ImageOptions

    start = time.perf_counter()
    unit = judge_unit([config_path], {}, GateOptions(images=ImageOptions(store_dir, "amd64")))
    assert unit.config is not None
    result = build_outputs(unit.config, build_plan(unit), ["kernel+initrd"], out_dir, name,
                           manifest=False, options=BuildOptions(compression_level=level))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "files": [str(path) for path in result.files]}))


def run_child(store: Path, config: Path, out_dir: Path, name: str,
              level: int) -> tuple[float, float, float, list[Path]]:
    """(build seconds, process seconds, peak MiB, files) of one build in a subprocess."""
    command = [sys.executable, __file__, "--child", str(store), str(config), str(out_dir), name,
               str(level)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"build failed: {' '.join(command)}")
    report = json.loads(output)
    return (report["seconds"], elapsed, usage.ru_maxrss / 1024,
            [Path(path) for path in report["files"]])


# --------------------------------------------------------------------------------------------
# The stores


def golden_store(work: Path) -> tuple[Path, Path]:
    from lkpolicy.store.lookup import Store

    store = Store(work / "store")
    for image in ("busybox", "kernel", "init", "runc"):
        store.import_archive(GOLDEN / "images" / f"{image}.tar")
    return work / "store", GOLDEN / "full.yml"


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def large_store(cache: Path) -> tuple[Path, Path]:
    """The cached store holding the golden kernel and the modules image, and its config."""
    from lkpolicy.model.oci import Descriptor
    from lkpolicy.store.lookup import Store

    directory = cache / "build-large"
    store_dir = directory / "store"
    config = directory / "large.yml"
    marker = directory / ".complete"
    if not marker.exists():
        debs = sorted(EXAMPLES_CACHE.glob("linux-image-*-amd64_*.deb"))
        if not debs:
            raise SystemExit(f"no linux-image-*-amd64 .deb in {EXAMPLES_CACHE}: run "
                             "examples/images/build-images.sh first")
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        store = Store(store_dir)
        store.import_archive(GOLDEN / "images" / "kernel.tar")
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            root = Path(scratch, "root")
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True)
            layer_tar, layer_gz = Path(scratch, "layer.tar"), Path(scratch, "layer.tar.gz")
            subprocess.run(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                            "--numeric-owner", "--format=pax", "--pax-option=delete=atime,"
                            "delete=ctime", "-C", str(root), "-cf", str(layer_tar),
                            "lib/modules"], check=True)
            with open(layer_gz, "wb") as out:
                subprocess.run(["gzip", "-6", "-n", "-c", str(layer_tar)], stdout=out,
                               check=True)
            diff_id, _ = _hash_file(layer_tar)
            digest, size = _hash_file(layer_gz)
            layer = Descriptor(LAYER, digest, size)

            def fill(sink: object) -> None:
                with open(layer_gz, "rb") as source:
                    while chunk := source.read(CHUNK):
                        sink.write(chunk)  # type: ignore[attr-defined]

            store.write_blob(layer, fill)
        image_config = store.add_blob(_canonical({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}}), OCI_CONFIG)
        manifest = store.add_blob(_canonical({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": image_config.digest,
                       "size": image_config.size},
            "layers": [{"mediaType": LAYER, "digest": layer.digest, "size": layer.size}]}),
            OCI_MANIFEST)
        store.register(LARGE_REF, manifest)
        config.write_text(f"kernel:\n  image: {KERNEL_REF}\n  cmdline: \"console=ttyS0\"\n"
                          f"init:\n  - {LARGE_REF}\n")
        marker.write_text(f"{debs[-1].name}\n")
    return store_dir, config


# --------------------------------------------------------------------------------------------
# The floor


def extract_cpio(initrd: Path, cpio: Path) -> int:
    """Decompress the initrd's gzip member (after any microcode prefix) into `cpio`."""
    inflate = zlib.decompressobj(wbits=31)
    size = 0
    with open(initrd, "rb") as source, open(cpio, "wb") as out:
        head = source.read(CHUNK)
        head = head[head.find(b"\x1f\x8b\x08"):]
        while head:
            data = inflate.decompress(head)
            out.write(data)
            size += len(data)
            head = source.read(CHUNK)
        tail = inflate.flush()
        out.write(tail)
        size += len(tail)
    if not inflate.eof or inflate.unused_data:
        raise SystemExit(f"{initrd}: not exactly one complete gzip member")
    return size


def gzip_floor(cpio: Path) -> float:
    start = time.perf_counter()
    with open(cpio, "rb") as source:
        subprocess.run(["gzip", "-6", "-c"], stdin=source, stdout=subprocess.DEVNULL,
                       check=True)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------


def measure(label: str, store: Path, config: Path, work: Path, level: int, runs: int) -> None:
    builds, processes, peaks, floors = [], [], [], []
    initrd = cpio_size = 0
    for number in range(runs):
        out_dir = work / f"{label}-out-{number}"
        out_dir.mkdir()
        seconds, process, peak, files = run_child(store, config, out_dir, label, level)
        builds.append(seconds)
        processes.append(process)
        peaks.append(peak)
        image = next(path for path in files if path.name.endswith("-initrd.img"))
        initrd = image.stat().st_size
        cpio = work / f"{label}.cpio"
        cpio_size = extract_cpio(image, cpio)
        floors.append(gzip_floor(cpio))
        cpio.unlink()
        shutil.rmtree(out_dir)
    build, process, floor = (statistics.median(values) for values in (builds, processes, floors))
    peak = max(peaks)
    print(f"{label}: cpio {cpio_size / MB:.1f} MiB -> initrd {initrd / MB:.1f} MiB "
          f"(level {level}, {runs} run(s), medians)")
    print(f"  build          {build:7.2f} s   (whole process {process:.2f} s)")
    print(f"  gzip -6 floor  {floor:7.2f} s")
    print(f"  ratio          {build / floor:7.3f}   (process {process / floor:.3f}; "
          f"target <= 0.25)")
    print(f"  peak memory    {peak:7.1f} MiB (target <= 200 MB)", flush=True)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=1, help="initrd gzip level (1-9)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path,
                        default=Path.home() / ".cache" / "lkpolicy-bench")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    if not (GOLDEN / "full.yml").is_file():
        raise SystemExit(f"{GOLDEN} not found")
    if shutil.which("gzip") is None:
        raise SystemExit("gzip not found")
    with tempfile.TemporaryDirectory(prefix="bench-build-") as top:
        work = Path(top)
        (work / "full").mkdir()
        store, config = golden_store(work / "full")
        measure("full", store, config, work, args.level, args.runs)
        if not args.skip_large:
            store, config = large_store(args.cache_dir)
            measure("large", store, config, work, args.level, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
