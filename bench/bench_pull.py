"""Pull throughput of the registry client, as ratios against skopeo on the same machine and run.

    .venv/bin/python bench/bench_pull.py [--images 20] [--size-mb 10] [--runs 3]

A local docker-registry (Debian package) on 127.0.0.1 serves N images of one incompressible
layer each; the images are generated once and kept under ~/.cache/lkpolicy-bench/ (or
--cache-dir). Measured, as medians of interleaved runs:

1. cold: an empty image store, every image pulled (manifests + blobs, verified, written). With
   lkpolicy.store present this is `Store.pull` fed by `RegistryClient`; otherwise the client's
   blobs are written to files directly. Baseline: `skopeo copy docker://... oci:DIR:tag` of the
   same images, one after the other, into one OCI layout. Target: ratio <= 1.0.
2. warm: everything present. `Store.pull` then needs no network at all; also measured is what a
   freshness check against the registry costs: a HEAD resolve of every tag. Target <= 0.1 s.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from registry_env import OCILayout, Registry, skopeo_push, wait_all  # noqa: E402

from lkpolicy.model.oci import Descriptor, Platform  # noqa: E402
from lkpolicy.model.reference import ImageRef, parse  # noqa: E402
from lkpolicy.registry import RegistryClient, RegistryOptions  # noqa: E402

REPOSITORY = "bench/image"
CONCURRENCY = 4


def build_layout(directory: Path, images: int, size: int) -> None:
    """One OCI layout, tags t0..tN-1, each an image with one random (incompressible) layer."""
    marker = directory / ".complete"
    if marker.exists():
        return
    shutil.rmtree(directory, ignore_errors=True)
    layout = OCILayout(directory)
    for number in range(images):
        body = random.Random(number).randbytes(size)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            info = tarfile.TarInfo(f"data/{number}.bin")
            info.size = len(body)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(body))
        layer = gzip.compress(buffer.getvalue(), compresslevel=1, mtime=0)
        descriptor, _ = layout.image(f"bench-{number}", [layer])
        layout.tag(descriptor, f"t{number}")
    layout.write_index()
    marker.write_text("ok\n")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def client() -> RegistryClient:
    return RegistryClient(RegistryOptions(max_concurrency=CONCURRENCY))


def pull_with_store(refs: list[ImageRef], cache: Path, concurrent: bool) -> None:
    from lkpolicy.store.lookup import Store

    store = Store(cache)
    with client() as registry_client:
        def pull(ref: ImageRef) -> None:
            store.pull(ref, registry_client, Platform())

        if concurrent:
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(pull, refs))
        else:
            for ref in refs:
                pull(ref)


def pull_to_files(refs: list[ImageRef], directory: Path, concurrent: bool) -> None:
    """Without a store: manifests, config and layers written as verified blob files."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    with client() as registry_client:
        def write(ref: ImageRef, descriptor: Descriptor) -> None:
            target = blobs / descriptor.digest.split(":", 1)[1]
            if target.exists():
                return
            temporary = target.with_suffix(".tmp")
            with open(temporary, "wb") as sink:
                registry_client.copy_blob(ref, descriptor, sink)
            os.replace(temporary, target)

        def pull(ref: ImageRef) -> None:
            image = registry_client.get_image(ref, Platform())
            for descriptor in (image.config, *image.layers):
                write(ref, descriptor)
            (blobs / image.manifest.digest.split(":", 1)[1]).write_bytes(image.manifest.data)

        if concurrent:
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(pull, refs))
        else:
            for ref in refs:
                pull(ref)


def skopeo_pull(host: str, tags: list[str], directory: Path) -> None:
    skopeo = shutil.which("skopeo") or "skopeo"
    for tag in tags:
        subprocess.run([skopeo, "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                        f"docker://{host}/{REPOSITORY}:{tag}", f"oci:{directory}:{tag}"],
                       check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--size-mb", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-store", action="store_true",
                        help="write blobs to files directly even if lkpolicy.store exists")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "lkpolicy-bench")
    args = parser.parse_args()
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (apt-get install {tool})")
    try:
        import lkpolicy.store  # noqa: F401
        have_store = not args.no_store
    except ImportError:
        have_store = False
    pull = pull_with_store if have_store else pull_to_files

    size = int(args.size_mb * 1024 * 1024)
    layout = args.cache_dir / f"layout-{args.images}x{size}"
    started = time.perf_counter()
    build_layout(layout, args.images, size)
    print(f"images: {args.images} x {args.size_mb:g} MiB in {layout} "
          f"({time.perf_counter() - started:.1f} s to prepare)")

    with tempfile.TemporaryDirectory(prefix="lkpolicy-bench-") as scratch_name:
        scratch = Path(scratch_name)
        registry = Registry(scratch / "storage", scratch / "registry").start()
        try:
            tags = [f"t{n}" for n in range(args.images)]
            for start in range(0, len(tags), 4):
                wait_all([skopeo_push(layout, tag, f"{registry.host}/{REPOSITORY}:{tag}")
                          for tag in tags[start:start + 4]], timeout=300)
            refs = [parse(f"{registry.host}/{REPOSITORY}:{tag}") for tag in tags]
            samples: dict[str, list[float]] = {"lkpolicy": [], "lkpolicy-concurrent": [],
                                               "skopeo": []}
            warm_store: list[float] = []
            for run in range(args.runs):
                for name in samples:
                    target = scratch / f"run-{run}-{name}"
                    if name == "skopeo":
                        samples[name].append(timed(lambda t=target: skopeo_pull(registry.host, tags, t)))
                    else:
                        concurrent = name.endswith("concurrent")
                        samples[name].append(timed(lambda t=target, c=concurrent: pull(refs, t, c)))
                        if have_store and not concurrent:
                            warm_store.append(timed(lambda t=target: pull(refs, t, False)))
                    shutil.rmtree(target, ignore_errors=True)
            with client() as registry_client:
                cold_resolve = timed(lambda: [registry_client.resolve(ref) for ref in refs])
                warm_resolve = statistics.median(
                    timed(lambda: [registry_client.resolve(ref) for ref in refs]) for _ in range(5))
        finally:
            registry.stop()

    median = {name: statistics.median(values) for name, values in samples.items()}
    total_mib = args.images * args.size_mb
    print(f"cold pull, {'Store.pull' if have_store else 'client to files'} "
          f"(median of {args.runs}):")
    for name, value in median.items():
        ratio = value / median["skopeo"]
        print(f"  {name:20s} {value:6.2f} s  {total_mib / value:6.0f} MiB/s  "
              f"ratio {ratio:.2f}x skopeo")
    print(f"  target: lkpolicy <= 1.0x skopeo -> "
          f"{'met' if median['lkpolicy'] <= median['skopeo'] else 'NOT met'}")
    if warm_store:
        print(f"warm Store.pull of {args.images} images (no network): "
              f"{statistics.median(warm_store) * 1000:.0f} ms")
    print(f"warm resolve of {args.images} tags by HEAD: {warm_resolve * 1000:.0f} ms "
          f"(first, new connection: {cold_resolve * 1000:.0f} ms); target <= 100 ms -> "
          f"{'met' if warm_resolve <= 0.1 else 'NOT met'}")


if __name__ == "__main__":
    main()
