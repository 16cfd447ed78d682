"""The image store: linuxkit's cache format, lookup and freshness rules, safe writes, archives."""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import shutil
import subprocess
import sys
import tarfile
import time
import types
from pathlib import Path
from typing import Any

import pytest
from registry_env import Registry, require_tool
from store_helpers import (
    ExplodingSource,
    FakeRegistry,
    Member,
    add_images_worker,
    cli_runner,
    hold_posix_lock,
    layout_members,
    write_tar,
)

from lkpolicy.cli.cache import cache_app
from lkpolicy.model.oci import OCI_INDEX, OCI_MANIFEST, Descriptor, ImageSource, Platform
from lkpolicy.model.reference import parse
from lkpolicy.store.errors import StoreError
from lkpolicy.store.location import default_cache_dir
from lkpolicy.store.lookup import Store

BUSYBOX_DIGEST = "sha256:9dfd9ec25f9f28f32ada8277ef3792114c4b1ed05c3c8de95cff37e1e12d65dd"
# From the table in golden/linuxkit/build-full/README.md.
GOLDEN_IMAGES = {
    "lktest/busybox:test": (BUSYBOX_DIGEST, 349),
    "lktest/kernel:test": ("sha256:3fb18d40c9ce492685339b16966f946fc7578c2404cc8884d9993375b084350c", 345),
    "lktest/init:test": ("sha256:b048e49a7ab5f53459b838ca9f977c039990b0b267df31bb36c7d26f06c4557e", 349),
    "lktest/runc:test": ("sha256:661076e7020f57b0dddbf12431b05e511b4bb0bdc2c883898cf4ad409d4d6df4", 345),
}
BUSYBOX_LABEL = ('{"capabilities":["CAP_NET_ADMIN"],"binds":["/etc/resolv.conf:/etc/resolv.conf"],'
                 '"net":"new","uid":"svc"}')
AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
REF_NAME = "org.opencontainers.image.ref.name"


runner = cli_runner()


@pytest.fixture(scope="module")
def build_dir(golden_dir: Path) -> Path:
    return golden_dir / "build-full"


@pytest.fixture(scope="module")
def archives(build_dir: Path) -> list[Path]:
    return sorted((build_dir / "images").glob("*.tar"))


@pytest.fixture(scope="module")
def golden_cache(tmp_path_factory: pytest.TempPathFactory, archives: list[Path]) -> Store:
    store = Store(tmp_path_factory.mktemp("golden") / "cache")
    for archive in archives:
        store.import_archive(archive)
    return store


@pytest.fixture
def cache(golden_cache: Store, tmp_path: Path) -> Store:
    """A private, writable copy of the golden cache."""
    root = tmp_path / "cache"
    shutil.copytree(golden_cache.root, root)
    return Store(root)


def blob_file(store: Store, digest: str) -> Path:
    return store.root / "blobs" / "sha256" / digest.split(":")[1]


def index_entries(root: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((root / "index.json").read_text())["manifests"]
    return entries


def busybox_blobs(store: Store) -> tuple[Descriptor, Descriptor]:
    resolved = store.lookup("lktest/busybox:test", AMD64)
    assert resolved is not None
    return resolved.config_descriptor, resolved.layers[0]


# ---------------------------------------------------------------------- cache compatibility


def test_golden_archives_resolve_to_the_readme_digests(golden_cache: Store) -> None:
    for short, (digest, size) in GOLDEN_IMAGES.items():
        resolved = golden_cache.lookup(short, AMD64)
        assert resolved is not None, short
        assert resolved.name == "docker.io/" + short
        assert (resolved.manifest.digest, resolved.manifest.size) == (digest, size)
        assert resolved.index is None and len(resolved.layers) == 1
    busybox = golden_cache.lookup("docker.io/lktest/busybox:test", AMD64)
    assert busybox is not None
    assert busybox.config.entrypoint == ("/bin/sh",)
    assert busybox.config.cmd == ("-c", "echo hello")
    assert busybox.config.env == ("PATH=/bin",)
    assert busybox.config.working_dir == "/tmp"
    assert busybox.config.labels["org.mobyproject.config"] == BUSYBOX_LABEL
    assert busybox.platform == AMD64
    # A single-platform manifest serves every --arch (spec section 7).
    arm = golden_cache.lookup("lktest/busybox:test", ARM64)
    assert arm is not None and arm.manifest.digest == BUSYBOX_DIGEST
    kernel = golden_cache.lookup("lktest/kernel:test", AMD64)
    assert kernel is not None and kernel.config.entrypoint == ()


def test_reads_the_cache_built_by_the_reference_tool(tmp_path: Path, build_dir: Path,
                                                     archives: list[Path]) -> None:
    root = tmp_path / "lkdump-cache"
    subprocess.run([sys.executable, str(build_dir / "lkdump.py"), "load-cache", str(root),
                    *map(str, archives)], check=True, capture_output=True)
    store = Store(root)
    for short, (digest, _) in GOLDEN_IMAGES.items():
        resolved = store.lookup(short, AMD64)
        assert resolved is not None and resolved.manifest.digest == digest
    busybox = store.lookup("lktest/busybox:test", AMD64)
    assert busybox is not None and busybox.config.labels["org.mobyproject.config"] == BUSYBOX_LABEL
    assert {i.name for i in store.ls()} == {"docker.io/" + s for s in GOLDEN_IMAGES}


def test_written_cache_follows_the_layout_rules(golden_cache: Store) -> None:
    """Re-implements the spec's lookup rule on the raw files, without lkpolicy.store."""
    root = golden_cache.root
    assert json.loads((root / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((root / "index.json").read_bytes())
    assert index["schemaVersion"] == 2
    for short, (digest, size) in GOLDEN_IMAGES.items():
        matches = [e for e in index["manifests"]
                   if e.get("annotations", {}).get(REF_NAME) == "docker.io/" + short]
        assert len(matches) == 1
        (entry,) = matches
        assert entry["annotations"] == {REF_NAME: "docker.io/" + short}
        assert (entry["mediaType"], entry["digest"], entry["size"]) == (OCI_MANIFEST, digest, size)
        manifest_bytes = (root / "blobs" / "sha256" / digest[7:]).read_bytes()
        assert "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == digest
        manifest = json.loads(manifest_bytes)
        for blob in [manifest["config"], *manifest["layers"]]:
            data = (root / "blobs" / "sha256" / blob["digest"][7:]).read_bytes()
            assert len(data) == blob["size"]
            assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"]


@pytest.fixture
def skopeo() -> str:
    return require_tool("skopeo", "skopeo")


def test_skopeo_reads_a_cache_written_by_lkpolicy(cache: Store, skopeo: str) -> None:
    root = cache.root
    raw = subprocess.run([skopeo, "inspect", "--raw", f"oci:{root}:docker.io/lktest/busybox:test"],
                         check=True, capture_output=True).stdout
    assert raw == blob_file(cache, BUSYBOX_DIGEST).read_bytes()
    info = json.loads(subprocess.run(
        [skopeo, "inspect", f"oci:{root}:docker.io/lktest/busybox:test"],
        check=True, capture_output=True).stdout)
    assert info["Labels"]["org.mobyproject.config"] == BUSYBOX_LABEL
    # Pinned names are full `name:tag@sha256:...` strings; skopeo's oci: transport finds them too.
    pinned = f"docker.io/lktest/busybox:test@{BUSYBOX_DIGEST}"
    cache.register(pinned, Descriptor(OCI_MANIFEST, BUSYBOX_DIGEST, 349))
    info = json.loads(subprocess.run([skopeo, "inspect", f"oci:{root}:{pinned}"],
                                     check=True, capture_output=True).stdout)
    assert info["Digest"] == BUSYBOX_DIGEST


def test_a_layout_written_by_skopeo_is_readable_and_a_source(tmp_path: Path, archives: list[Path],
                                                            skopeo: str) -> None:
    layout = tmp_path / "skopeo-layout"
    busybox = next(a for a in archives if a.name == "busybox.tar")
    subprocess.run([skopeo, "copy", "-q", f"oci-archive:{busybox}",
                    f"oci:{layout}:docker.io/lktest/busybox:test"], check=True, capture_output=True)
    source = Store(layout)
    resolved = source.lookup("lktest/busybox:test", AMD64)
    assert resolved is not None and resolved.manifest.digest == BUSYBOX_DIGEST
    target = Store(tmp_path / "cache")
    result = target.pull("lktest/busybox:test", source, AMD64)
    assert result.fetched and result.blobs_written == 3
    for digest in (BUSYBOX_DIGEST, resolved.config_descriptor.digest, resolved.layers[0].digest):
        assert blob_file(target, digest).read_bytes() == blob_file(source, digest).read_bytes()


# ---------------------------------------------------------------------- lookup rules


def test_pinned_reference_does_not_match_the_tag_entry(cache: Store) -> None:
    pinned = f"lktest/busybox:test@{BUSYBOX_DIGEST}"
    assert cache.lookup(pinned, AMD64) is None
    assert cache.lookup("lktest/busybox", AMD64) is None  # no tag: a different key
    name = cache.register(pinned, Descriptor(OCI_MANIFEST, BUSYBOX_DIGEST, 349))
    assert name == f"docker.io/lktest/busybox:test@{BUSYBOX_DIGEST}"
    resolved = cache.lookup(pinned, AMD64)
    assert resolved is not None and resolved.name == name
    assert cache.lookup("docker.io/lktest/busybox:test", AMD64) is not None


def test_pinned_entry_pointing_elsewhere_is_refused(cache: Store) -> None:
    other = GOLDEN_IMAGES["lktest/runc:test"][0]
    pinned = f"lktest/busybox:test@{BUSYBOX_DIGEST}"
    cache.register(pinned, Descriptor(OCI_MANIFEST, other, 345))
    with pytest.raises(StoreError, match="not to the pinned digest"):
        cache.lookup(pinned, AMD64)


def test_missing_or_truncated_blob_makes_the_image_stale(cache: Store, golden_cache: Store) -> None:
    config, layer = busybox_blobs(cache)
    blob_file(cache, layer.digest).unlink()
    assert cache.lookup("lktest/busybox:test", AMD64) is None
    # Stale, so pull goes to the source and copies only what is missing.
    calls: list[tuple[str, str]] = []
    result = cache.pull("lktest/busybox:test", _Spy(golden_cache, calls), AMD64)
    assert result.fetched and result.blobs_written == 1
    assert [c for c in calls if c[0] == "copy_blob"] == [("copy_blob", layer.digest)]
    assert cache.lookup("lktest/busybox:test", AMD64) is not None
    blob_file(cache, config.digest).write_bytes(b"{}")
    assert cache.lookup("lktest/busybox:test", AMD64) is None


def test_corrupt_blob_is_an_error_naming_the_image(cache: Store, golden_cache: Store) -> None:
    config, _ = busybox_blobs(cache)
    path = blob_file(cache, config.digest)
    path.write_bytes(b" " * config.size)
    with pytest.raises(StoreError, match=r"image docker.io/lktest/busybox:test: .*digest mismatch"):
        cache.lookup("lktest/busybox:test", AMD64)
    # A pull repairs it: the corrupt blob is fetched again although its size looked right.
    result = cache.pull("lktest/busybox:test", golden_cache, AMD64)
    assert result.fetched and result.blobs_written == 1
    assert cache.lookup("lktest/busybox:test", AMD64) is not None


class _Spy:
    """Wraps a source and records calls (to check what pull touches)."""

    def __init__(self, inner: Any, calls: list[tuple[str, str]]) -> None:
        self.inner, self.calls = inner, calls

    def get_manifest(self, ref: Any, reference: str | None = None) -> Any:
        self.calls.append(("get_manifest", reference or ""))
        return self.inner.get_manifest(ref, reference)

    def get_blob(self, ref: Any, descriptor: Descriptor) -> bytes:
        self.calls.append(("get_blob", descriptor.digest))
        data: bytes = self.inner.get_blob(ref, descriptor)
        return data

    def copy_blob(self, ref: Any, descriptor: Descriptor, sink: Any) -> None:
        self.calls.append(("copy_blob", descriptor.digest))
        self.inner.copy_blob(ref, descriptor, sink)


def multi_arch(registry: FakeRegistry, name: str = "docker.io/test/multi:1") -> dict[str, Descriptor]:
    images = {
        "amd64": registry.image(None, platform=AMD64, files={"arch": b"amd64"}),
        "arm64/v8": registry.image(None, platform=Platform("linux", "arm64", "v8"), files={"arch": b"v8"}),
        "arm64/v9": registry.image(None, platform=Platform("linux", "arm64", "v9"), files={"arch": b"v9"}),
    }
    registry.index(name, [(images["amd64"], AMD64), (images["arm64/v8"], Platform("linux", "arm64", "v8")),
                          (images["arm64/v9"], Platform("linux", "arm64", "v9"))])
    return images


def test_index_platform_selection(tmp_path: Path) -> None:
    registry = FakeRegistry()
    images = multi_arch(registry)
    store = Store(tmp_path / "cache")
    name = "test/multi:1"
    store.pull(name, registry, ARM64)
    arm = store.lookup(name, ARM64)
    # First entry for os/arch; the variant is ignored when none is asked for.
    assert arm is not None and arm.manifest.digest == images["arm64/v8"].digest
    assert arm.platform == Platform("linux", "arm64", "v8") and arm.index is not None
    v9 = store.lookup(name, Platform("linux", "arm64", "v9"))
    assert v9 is None  # the v9 manifest was never pulled
    assert store.lookup(name, AMD64) is None
    assert store.lookup(name, Platform("linux", "riscv64")) is None
    assert [i.platforms for i in store.ls()] == [("linux/arm64/v8",)]
    # Not fresh for amd64: pull goes to the source and adds that platform.
    store.pull(name, registry, AMD64)
    resolved = store.lookup(name, AMD64)
    assert resolved is not None and resolved.manifest.digest == images["amd64"].digest
    registry.calls.clear()
    store.pull(name, registry, all_platforms=True)
    assert len(registry.copied()) == 2  # only v9's config and layer were missing
    assert store.ls()[0].platforms == ("linux/amd64", "linux/arm64/v8", "linux/arm64/v9")
    registry.calls.clear()
    store.pull(name, registry, all_platforms=True)
    assert registry.calls == []


def test_pull_is_offline_when_the_image_is_fresh(cache: Store, tmp_path: Path) -> None:
    result = cache.pull("lktest/busybox:test", ExplodingSource(), ARM64)
    assert not result.fetched and result.descriptor.digest == BUSYBOX_DIGEST
    with pytest.raises(StoreError, match=r"could not pull image lktest/busybox:test: .*network access"):
        cache.pull("lktest/busybox:test", ExplodingSource(), AMD64, force=True)
    registry = FakeRegistry()
    multi_arch(registry)
    store = Store(tmp_path / "multi")
    store.pull("test/multi:1", registry, AMD64)
    assert not store.pull("test/multi:1", ExplodingSource(), AMD64).fetched
    with pytest.raises(StoreError, match=r"error getting manifest for image docker\.io/test/multi:1"):
        store.pull("test/multi:1", ExplodingSource(), ARM64)


def test_pull_copies_only_missing_blobs(tmp_path: Path) -> None:
    registry = FakeRegistry()
    shared = b"shared layer"
    registry.image("docker.io/test/a:1", shared_layer=shared)
    registry.image("docker.io/test/b:1", shared_layer=shared)
    store = Store(tmp_path / "cache")
    assert store.pull("test/a:1", registry, AMD64).blobs_written == 4
    registry.calls.clear()
    assert store.pull("test/b:1", registry, AMD64).blobs_written == 3
    assert len(registry.copied()) == 2  # config and own layer; the shared layer was present


def test_a_lying_source_leaves_nothing_behind(tmp_path: Path) -> None:
    registry = FakeRegistry()
    top = registry.image("docker.io/test/a:1")
    manifest = json.loads(registry.blobs[top.digest])
    layer = manifest["layers"][0]["digest"]
    store = Store(tmp_path / "cache")
    registry.corrupt.add(layer)
    with pytest.raises(StoreError, match=f"blob {layer}: digest mismatch"):
        store.pull("test/a:1", registry, AMD64)
    registry.corrupt.clear()
    registry.overflow.add(layer)
    with pytest.raises(StoreError, match="more data than the declared size"):
        store.pull("test/a:1", registry, AMD64)
    files = sorted(p.name for p in store.blobs_dir.iterdir())
    assert files == [manifest["config"]["digest"][7:]]  # no temp files, no bad layer
    assert store.lookup("test/a:1", AMD64) is None and store.entries() == []
    wrong_pin = "test/a:1@sha256:" + "0" * 64
    registry.tags["docker.io/test/a:1"] = top.digest
    with pytest.raises(StoreError):
        store.pull(wrong_pin, registry, AMD64)


def test_register_replaces_the_entry_of_the_same_name(cache: Store) -> None:
    runc = GOLDEN_IMAGES["lktest/runc:test"][0]
    cache.register("lktest/busybox:test", Descriptor(OCI_MANIFEST, runc, 345))
    named = [e for e in index_entries(cache.root) if e["annotations"][REF_NAME] == "docker.io/lktest/busybox:test"]
    assert [e["digest"] for e in named] == [runc]
    assert len(index_entries(cache.root)) == 4


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "cache")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=add_images_worker, args=(root, prefix, 12)) for prefix in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = Store(root)
    names = {e["annotations"][REF_NAME] for e in index_entries(store.root)}
    assert names == {f"docker.io/test/{p}{n}:v1" for p in "ab" for n in range(12)}
    assert all(store.lookup(name, AMD64) is not None for name in names)
    assert not [p for p in store.blobs_dir.iterdir() if p.name.startswith(".")]


def test_index_updates_wait_for_linuxkits_lock(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    descriptor = store.add_blob(b'{"schemaVersion":2,"config":{},"layers":[]}', OCI_MANIFEST)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=hold_posix_lock, args=(str(store.root / ".lock"), ready, 0.6))
    holder.start()
    assert ready.wait(30)
    started = time.monotonic()
    store.register("test/x:1", descriptor)
    waited = time.monotonic() - started
    holder.join(30)
    assert waited > 0.3


# ---------------------------------------------------------------------- archives


def test_export_import_round_trip(cache: Store, tmp_path: Path, build_dir: Path) -> None:
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    cache.export_archive("lktest/busybox:test", first)
    cache.export_archive("lktest/busybox:test", second)
    assert first.read_bytes() == second.read_bytes()  # reproducible
    with tarfile.open(first) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        (entry,) = json.load(member)["manifests"]
    assert entry["annotations"] == {"io.containerd.image.name": "docker.io/lktest/busybox:test",
                                    REF_NAME: "docker.io/lktest/busybox:test"}
    again = Store(tmp_path / "again")
    assert again.import_archive(first) == [("docker.io/lktest/busybox:test",
                                            Descriptor(OCI_MANIFEST, BUSYBOX_DIGEST, 349))]
    config, layer = busybox_blobs(cache)
    for digest in (BUSYBOX_DIGEST, config.digest, layer.digest):
        assert blob_file(again, digest).read_bytes() == blob_file(cache, digest).read_bytes()
    # The reference tool (linuxkit's import rule) loads the export as well.
    lkdump = subprocess.run([sys.executable, str(build_dir / "lkdump.py"), "load-cache",
                             str(tmp_path / "lk"), str(first)], check=True, capture_output=True, text=True)
    assert BUSYBOX_DIGEST in lkdump.stdout


def test_multi_platform_archives(tmp_path: Path) -> None:
    registry = FakeRegistry()
    images = multi_arch(registry)
    digest = registry.tags["docker.io/test/multi:1"]
    top = Descriptor(OCI_INDEX, digest, len(registry.blobs[digest]))
    members = layout_members(registry, top, "docker.io/test/multi:1")
    # Leave the v9 platform out entirely, as a partial export does: the rest still imports.
    v9 = json.loads(registry.blobs[images["arm64/v9"].digest])
    dropped = {images["arm64/v9"].digest, v9["config"]["digest"], v9["layers"][0]["digest"]}
    members = [m for m in members if "sha256:" + m.name.rsplit("/", 1)[-1] not in dropped]
    store = Store(tmp_path / "cache")
    store.import_archive(write_tar(tmp_path / "multi.tar", members))
    assert store.ls()[0].platforms == ("linux/amd64", "linux/arm64/v8")
    assert store.lookup("test/multi:1", Platform("linux", "arm64", "v9")) is None
    exported = tmp_path / "amd64.tar"
    store.export_archive("test/multi:1", exported, platform=AMD64)
    with tarfile.open(exported) as tar:
        blobs = {name.rsplit("/", 1)[-1] for name in tar.getnames() if name.startswith("blobs/")}
    amd64 = json.loads(registry.blobs[images["amd64"].digest])
    expected = {top.digest, images["amd64"].digest, amd64["config"]["digest"], amd64["layers"][0]["digest"]}
    assert blobs == {d[7:] for d in expected}
    again = Store(tmp_path / "again")
    again.import_archive(exported)
    assert again.lookup("test/multi:1", AMD64) is not None
    assert again.lookup("test/multi:1", ARM64) is None


def test_import_falls_back_to_a_full_ref_name_only(tmp_path: Path) -> None:
    registry = FakeRegistry()
    top = registry.image(None)
    store = Store(tmp_path / "cache")
    short = write_tar(tmp_path / "short.tar", layout_members(registry, top, None, ref_name="latest"))
    with pytest.raises(StoreError, match="no image names"):
        store.import_archive(short)
    full = write_tar(tmp_path / "full.tar",
                     layout_members(registry, top, None, ref_name="docker.io/test/full:1"))
    assert store.import_archive(full)[0][0] == "docker.io/test/full:1"
    named = write_tar(tmp_path / "named.tar", layout_members(registry, top, "test/short:2", ref_name="x"))
    assert store.import_archive(named)[0][0] == "docker.io/test/short:2"


def _hostile(tmp_path: Path, case: str) -> tuple[Path, str]:
    registry = FakeRegistry()
    # Incompressible, so that the layer is larger than the 1000-byte limit of the oversize case.
    noise = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(100))
    top = registry.image(None, files={"noise": noise})
    members = layout_members(registry, top, "docker.io/test/evil:1")
    layer = members[-1]
    mutations = {
        "dotdot": lambda: [*members, Member("../escaped", b"x")],
        "nested-dotdot": lambda: [*members, Member("blobs/sha256/../../../escaped", b"x")],
        "absolute": lambda: [*members, Member("/tmp/escaped", b"x")],
        "symlink": lambda: [*members[:-1], Member(layer.name, type=tarfile.SYMTYPE, linkname="/etc/passwd")],
        "hardlink": lambda: [*members, Member("blobs/sha256/" + "0" * 64, type=tarfile.LNKTYPE,
                                             linkname="index.json")],
        "fifo": lambda: [*members, Member("blobs/sha256/" + "1" * 64, type=tarfile.FIFOTYPE)],
        "device": lambda: [*members, Member("blobs/sha256/" + "2" * 64, type=tarfile.CHRTYPE)],
        "directory": lambda: [*members, Member("etc", type=tarfile.DIRTYPE)],
        "unexpected": lambda: [*members, Member("manifest.json", b"[]")],
        "sha512": lambda: [*members, Member("blobs/sha512/" + "a" * 128, b"x")],
        "duplicate": lambda: [*members, Member(layer.name, layer.data)],
        "corrupt": lambda: [*members[:-1], Member(layer.name, bytes(len(layer.data)))],
        "missing-blob": lambda: members[:-1],
        "no-index": lambda: [m for m in members if m.name != "index.json"],
        "oversize": lambda: members,
        "bad-digest": lambda: [members[0], Member("index.json", json.dumps({"manifests": [{
            "mediaType": OCI_MANIFEST, "digest": "sha256:../../../escaped", "size": 1,
            "annotations": {"io.containerd.image.name": "docker.io/test/evil:1"}}]}).encode()),
            *members[2:]],
    }
    expected = {
        "dotdot": "unsafe member name", "nested-dotdot": "unsafe member name",
        "absolute": "unsafe member name", "symlink": "is a link", "hardlink": "is a link",
        "fifo": "not a regular file", "device": "not a regular file",
        "directory": "unexpected directory", "unexpected": "unexpected member",
        "sha512": "unexpected member", "duplicate": "appears twice", "corrupt": "digest mismatch",
        "missing-blob": "missing from the archive", "no-index": "no index.json",
        "oversize": "more than the 1000 allowed", "bad-digest": "malformed digest",
    }
    return write_tar(tmp_path / f"{case}.tar", mutations[case]()), expected[case]


HOSTILE = ["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "fifo", "device",
           "directory", "unexpected", "sha512", "duplicate", "corrupt", "missing-blob", "no-index",
           "oversize", "bad-digest"]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_archives_are_refused(tmp_path: Path, case: str) -> None:
    archive, message = _hostile(tmp_path, case)
    store = Store(tmp_path / "cache", max_blob_bytes=1000 if case == "oversize" else 1 << 30)
    with pytest.raises(StoreError, match=message) as caught:
        store.import_archive(archive)
    assert caught.value.input_error
    assert "\n" not in str(caught.value)
    assert store.entries() == []
    assert not (tmp_path / "escaped").exists()
    blobs = store.blobs_dir
    assert not blobs.exists() or not [p for p in blobs.iterdir() if p.name.startswith(".")]


def test_archive_size_and_format_bounds(tmp_path: Path) -> None:
    registry = FakeRegistry()
    top = registry.image(None)
    archive = write_tar(tmp_path / "ok.tar", layout_members(registry, top, "test/ok:1"))
    store = Store(tmp_path / "cache")
    with pytest.raises(StoreError, match="bytes of content"):
        store.import_archive(archive, max_total_bytes=500)
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar file at all" * 100)
    with pytest.raises(StoreError, match="cannot read it"):
        store.import_archive(garbage)
    assert store.import_archive(archive)[0][0] == "docker.io/test/ok:1"


# ---------------------------------------------------------------------- ls, rm, gc


def test_rm_and_gc(cache: Store) -> None:
    config, layer = busybox_blobs(cache)
    stale = cache.blobs_dir / ".lkpolicy-crashed.tmp"
    stale.write_bytes(b"partial")
    assert cache.rm("lktest/busybox:test") == 1
    assert cache.rm("lktest/busybox:test") == 0
    assert cache.lookup("lktest/busybox:test", AMD64) is None
    result = cache.gc()
    assert sorted(result.removed) == sorted({BUSYBOX_DIGEST, config.digest, layer.digest})
    assert result.freed_bytes == 349 + config.size + layer.size
    assert not stale.exists()
    for short in ("lktest/kernel:test", "lktest/init:test", "lktest/runc:test"):
        assert cache.lookup(short, AMD64) is not None
    assert cache.gc().removed == ()


def test_gc_refuses_when_a_manifest_is_unreadable(cache: Store) -> None:
    kernel = GOLDEN_IMAGES["lktest/kernel:test"][0]
    blob_file(cache, kernel).write_bytes(b"x" * 345)
    before = sorted(cache.blobs_dir.iterdir())
    with pytest.raises(StoreError, match="gc refused"):
        cache.gc()
    assert sorted(cache.blobs_dir.iterdir()) == before


def test_store_is_an_image_source(cache: Store) -> None:
    source: ImageSource = cache  # checked by mypy: the store satisfies the protocol
    assert source is cache
    ref = parse("lktest/busybox:test")
    by_tag = cache.get_manifest(ref)
    by_digest = cache.get_manifest(ref, BUSYBOX_DIGEST)
    assert by_tag == by_digest and by_tag.media_type == OCI_MANIFEST
    config, layer = busybox_blobs(cache)
    assert json.loads(cache.get_blob(ref, config))["config"]["WorkingDir"] == "/tmp"
    chunks: list[bytes] = []
    sink = types.SimpleNamespace(write=chunks.append)
    cache.copy_blob(ref, layer, sink)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == layer.digest[7:]
    data = bytearray(blob_file(cache, layer.digest).read_bytes())
    data[-1] ^= 1
    blob_file(cache, layer.digest).write_bytes(bytes(data))
    with pytest.raises(StoreError, match="digest mismatch"):
        cache.copy_blob(ref, layer, types.SimpleNamespace(write=lambda chunk: None))
    with pytest.raises(StoreError, match="not in the image layout"):
        cache.get_manifest(parse("lktest/busybox:other"))
    # Without a tag: the exact name first (linuxkit's key), then `:latest` as a registry would.
    cache.register("lktest/busybox:latest", Descriptor(OCI_MANIFEST, BUSYBOX_DIGEST, 349))
    assert cache.get_manifest(parse("lktest/busybox")).digest == BUSYBOX_DIGEST


def test_image_config_fields_are_type_checked(tmp_path: Path) -> None:
    registry = FakeRegistry()
    registry.image("docker.io/test/bad:1", config={"Entrypoint": "/bin/sh"})
    store = Store(tmp_path / "cache")
    store.pull("test/bad:1", registry, AMD64)
    with pytest.raises(StoreError, match="Entrypoint is not a list of strings"):
        store.lookup("test/bad:1", AMD64)


def test_cache_location_and_first_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINUXKIT_CACHE", str(tmp_path / "env"))
    assert default_cache_dir("explicit") == Path("explicit")
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("LINUXKIT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".linuxkit" / "cache"
    store = Store(tmp_path / "new")
    assert store.lookup("busybox", AMD64) is None and store.ls() == [] and store.rm("busybox") == 0
    assert not store.root.exists()
    descriptor = store.add_blob(b'{"schemaVersion":2,"config":{},"layers":[]}', OCI_MANIFEST)
    store.register("test/first:1", descriptor)
    assert (store.root / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    [entry] = json.loads((store.root / "index.json").read_bytes())["manifests"]
    assert entry["digest"] == descriptor.digest


# ---------------------------------------------------------------------- command line


def invoke(*args: str) -> Any:
    return runner.invoke(cache_app, list(args))


def test_cli_import_ls_export_rm(tmp_path: Path, archives: list[Path]) -> None:
    root = str(tmp_path / "cache")
    result = invoke("import", "--cache", root, *map(str, archives))
    assert result.exit_code == 0, result.output
    assert f"docker.io/lktest/busybox:test {BUSYBOX_DIGEST}" in result.stdout
    listing = invoke("ls", "--cache", root)
    assert listing.exit_code == 0 and "docker.io/lktest/runc:test" in listing.stdout
    assert "linux/amd64" in listing.stdout
    data = json.loads(invoke("ls", "--cache", root, "--json").stdout)
    assert {d["name"] for d in data} == {"docker.io/" + s for s in GOLDEN_IMAGES}
    out = tmp_path / "busybox.tar"
    assert invoke("export", "--cache", root, "lktest/busybox:test", "-o", str(out)).exit_code == 0
    assert out.stat().st_size > 1_000_000
    result = invoke("rm", "--cache", root, "lktest/busybox:test", "--gc")
    assert result.exit_code == 0 and "deleted 3 blobs" in result.stdout
    result = invoke("rm", "--cache", root, "lktest/busybox:test")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "not in the cache" in result.stderr


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    root = str(tmp_path / "cache")
    archive, _ = _hostile(tmp_path, "symlink")
    cases = [
        ("import", "--cache", root, str(archive)),
        ("import", "--cache", root, str(tmp_path / "missing.tar")),
        ("export", "--cache", root, "lktest/none:1", "-o", str(tmp_path / "x.tar")),
        ("export", "--cache", root, "UPPER CASE::", "-o", str(tmp_path / "x.tar")),
        ("pull", "--cache", root, "--platform", "linux", "busybox"),
        ("pull", "--cache", root, "--mirror", "docker.io=ftp://x", "busybox"),
    ]
    for args in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("lkpolicy: ") and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.output


def test_cli_pull_uses_the_registry_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = FakeRegistry()
    registry.image("docker.io/test/a:1")
    created: list[Any] = []

    class RegistryOptions:
        def __init__(self, mirrors: dict[str, str], ca_file: str | None) -> None:
            self.mirrors, self.ca_file = mirrors, ca_file

    class RegistryClient:
        def __init__(self, options: RegistryOptions) -> None:
            created.append((options.mirrors, options.ca_file))

        def __getattr__(self, name: str) -> Any:
            return getattr(registry, name)

    # The real progress display (a no-op off a terminal), loaded before its package is faked:
    # without it the result would depend on whether another test loaded it first.
    progress = importlib.import_module("lkpolicy.registry.progress")
    module = types.ModuleType("lkpolicy.registry")
    module.RegistryClient = RegistryClient  # type: ignore[attr-defined]
    module.RegistryOptions = RegistryOptions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lkpolicy.registry", module)
    monkeypatch.setitem(sys.modules, "lkpolicy.registry.progress", progress)
    root = str(tmp_path / "cache")
    result = invoke("pull", "--cache", root, "--platform", "linux/amd64",
                    "--mirror", "docker.io=http://127.0.0.1:5000", "test/a:1")
    assert result.exit_code == 0, result.output
    assert "(pulled, 3 blobs written)" in result.stdout
    assert created == [({"docker.io": "http://127.0.0.1:5000"}, None)]
    result = invoke("pull", "--cache", root, "--platform", "linux/amd64", "test/a:1")
    assert "already in the cache" in result.stdout and len(created) == 1  # no client offline


def test_cli_pull_without_a_registry_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            archives: list[Path]) -> None:
    monkeypatch.setitem(sys.modules, "lkpolicy.registry", None)
    root = str(tmp_path / "cache")
    Store(root).import_archive(archives[0])
    cached = Store(root).ls()[0].name
    result = invoke("pull", "--cache", root, cached)
    assert result.exit_code == 0 and "already in the cache" in result.stdout
    result = invoke("pull", "--cache", root, "test/absent:1")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "registry client" in result.stderr


def test_cli_pull_from_a_real_registry(tmp_path: Path, archives: list[Path], skopeo: str) -> None:
    """End to end with the real registry client: a local docker-registry as the docker.io mirror."""
    registry = Registry(storage=tmp_path / "storage", workdir=tmp_path / "registry").start()
    try:
        busybox = next(a for a in archives if a.name == "busybox.tar")
        subprocess.run([skopeo, "copy", "-q", "--dest-tls-verify=false", f"oci-archive:{busybox}",
                        f"docker://{registry.host}/lktest/busybox:test"], check=True, capture_output=True)
        root = str(tmp_path / "cache")
        args = ("pull", "--cache", root, "--platform", "linux/arm64",
                "--mirror", f"docker.io={registry.url}", "lktest/busybox:test")
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert f"docker.io/lktest/busybox:test {BUSYBOX_DIGEST} (pulled, 3 blobs written)" in result.stdout
        resolved = Store(root).lookup("lktest/busybox:test", AMD64)
        assert resolved is not None and resolved.config.labels["org.mobyproject.config"] == BUSYBOX_LABEL
    finally:
        registry.stop()
    # The registry is gone: a fresh image is still "pulled", without any network access.
    result = invoke(*args)
    assert result.exit_code == 0 and "already in the cache" in result.stdout
    result = invoke(*args[:-1], "lktest/absent:1")
    assert result.exit_code == 1 and "could not pull image lktest/absent:1" in result.stderr


def test_package_names_load_only_their_own_module() -> None:
    """`lkpolicy.store.X` keeps working for code written before the split, loading nothing else."""
    code = ("import sys, lkpolicy.store as s; before = set(sys.modules); "
            "from lkpolicy.store import Store, StoreError; "
            "print(sorted(m for m in set(sys.modules) - before if m.startswith('lkpolicy.store'))); "
            "from lkpolicy.store.lookup import Store as Home; print(Store is Home); "
            "print(hasattr(s, 'NoSuchName'))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert output == ["['lkpolicy.store.blobs', 'lkpolicy.store.errors', 'lkpolicy.store.index', "
                      "'lkpolicy.store.location', 'lkpolicy.store.lookup']", "True", "False"]
