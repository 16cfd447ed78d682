"""Test doubles and builders for the image store: an in-memory registry backed by real OCI bytes,
hostile archives, and workers for the multi-process tests (importable, for `spawn`)."""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lkpolicy.model.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    Platform,
    detect_media_type,
    sha256_digest,
    verify_bytes,
)
from lkpolicy.model.reference import ImageRef

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
AMD64 = Platform("linux", "amd64")


def cli_runner() -> CliRunner:
    """A runner that keeps stderr apart, so that tests can count its lines."""
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg, unused-ignore]
    except TypeError:
        return CliRunner()


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def make_layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class FakeRegistry:
    """An `ImageSource` over a dict of blobs; records every call."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    media: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    corrupt: set[str] = field(default_factory=set)
    """Digests served with wrong content (same length)."""
    overflow: set[str] = field(default_factory=set)
    """Digests served with extra bytes after the real content."""

    def put(self, data: bytes, media_type: str) -> Descriptor:
        digest = sha256_digest(data)
        self.blobs[digest] = data
        self.media[digest] = media_type
        return Descriptor(media_type, digest, len(data))

    def image(self, name: str | None, *, files: dict[str, bytes] | None = None,
              config: dict[str, Any] | None = None, platform: Platform = AMD64,
              shared_layer: bytes | None = None) -> Descriptor:
        layers = []
        if shared_layer is not None:
            layers.append(self.put(shared_layer, LAYER))
        layers.append(self.put(make_layer(files or {"etc/name": (name or "x").encode()}), LAYER))
        blob: dict[str, Any] = {
            "architecture": platform.architecture, "os": platform.os,
            "config": config if config is not None else {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layers]},
        }
        if platform.variant:
            blob["variant"] = platform.variant
        config_descriptor = self.put(json_bytes(blob), OCI_CONFIG)
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": config_descriptor.to_json(), "layers": [d.to_json() for d in layers],
        }
        descriptor = self.put(json_bytes(manifest), OCI_MANIFEST)
        if name is not None:
            self.tags[name] = descriptor.digest
        return descriptor

    def index(self, name: str, entries: list[tuple[Descriptor, Platform]]) -> Descriptor:
        manifests = []
        for descriptor, platform in entries:
            item = descriptor.to_json()
            item["platform"] = {"os": platform.os, "architecture": platform.architecture}
            if platform.variant:
                item["platform"]["variant"] = platform.variant
            manifests.append(item)
        descriptor = self.put(json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                          "manifests": manifests}), OCI_INDEX)
        self.tags[name] = descriptor.digest
        return descriptor

    # ImageSource

    def get_manifest(self, ref: ImageRef, reference: str | None = None) -> Manifest:
        reference = reference or ref.digest or ref.tag or "latest"
        self.calls.append(("get_manifest", reference))
        if ":" in reference:
            digest = reference
        else:
            key = f"{ref.locator}:{reference}"
            if key not in self.tags:
                raise LookupError(f"manifest unknown: {key}")
            digest = self.tags[key]
        data = self.blobs[digest]
        return Manifest(data, detect_media_type(data, self.media[digest]), digest)

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        self.calls.append(("get_blob", descriptor.digest))
        data = self.blobs[descriptor.digest]
        verify_bytes(data, descriptor.digest, descriptor.size, "blob")
        return data

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any) -> None:
        self.calls.append(("copy_blob", descriptor.digest))
        data = self.blobs[descriptor.digest]
        if descriptor.digest in self.corrupt:
            data = bytes(len(data))
        if descriptor.digest in self.overflow:
            data = data + b"x" * (1 << 20)
        for start in range(0, len(data), 4096):
            sink.write(data[start:start + 4096])

    def copied(self) -> list[str]:
        return [digest for call, digest in self.calls if call == "copy_blob"]


class ExplodingSource:
    """A source that must not be used: the offline guarantee."""

    def get_manifest(self, ref: ImageRef, reference: str | None = None) -> Manifest:
        raise AssertionError(f"network access for {ref.expanded}")

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        raise AssertionError(f"network access for {ref.expanded}")

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any) -> None:
        raise AssertionError(f"network access for {ref.expanded}")


# ---------------------------------------------------------------------- archives


@dataclass
class Member:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def write_tar(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.linkname = member.linkname
            info.size = len(member.data) if member.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(member.data) if member.type == tarfile.REGTYPE else None)
    return path


def layout_members(registry: FakeRegistry, top: Descriptor, name: str | None,
                   ref_name: str | None = None) -> list[Member]:
    """A minimal OCI archive of one image: oci-layout, index.json, every blob it reaches."""
    annotations = {}
    if name is not None:
        annotations["io.containerd.image.name"] = name
    if ref_name is not None:
        annotations["org.opencontainers.image.ref.name"] = ref_name
    entry = top.to_json()
    if annotations:
        entry["annotations"] = annotations
    members = [Member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
               Member("index.json", json_bytes({"schemaVersion": 2, "manifests": [entry]}))]
    pending, seen = [top.digest], set()
    while pending:
        digest = pending.pop(0)
        if digest in seen:
            continue
        seen.add(digest)
        data = registry.blobs[digest]
        members.append(Member("blobs/sha256/" + digest.split(":")[1], data))
        if registry.media[digest] in (OCI_MANIFEST, OCI_INDEX):
            doc = json.loads(data)
            pending += [d["digest"] for d in doc.get("manifests", [])]
            if "config" in doc:
                pending += [doc["config"]["digest"]] + [d["digest"] for d in doc["layers"]]
    return members


# ---------------------------------------------------------------------- process workers


def add_images_worker(cache: str, prefix: str, count: int) -> None:
    """Pull `count` distinct images (sharing one layer) into the cache."""
    from lkpolicy.store.lookup import Store

    registry = FakeRegistry()
    shared = make_layer({"shared": b"same in every image"})
    store = Store(cache)
    for number in range(count):
        name = f"docker.io/test/{prefix}{number}:v1"
        registry.image(name, files={"n": f"{prefix}{number}".encode()}, shared_layer=shared)
        store.pull(name, registry, Platform())


def hold_posix_lock(path: str, ready: Any, seconds: float) -> None:
    """Hold `<cache>/.lock` the way linuxkit's util.Lock does (fcntl F_SETLKW, whole file)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    ready.set()
    time.sleep(seconds)
    os.close(fd)
