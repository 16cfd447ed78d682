"""Small OCI images made in the tests and stored in an image cache, as linuxkit's cache holds
them (one root index entry per name)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping

from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST, Descriptor
from lkpolicy.store.lookup import Store

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def layer_bytes(files: Mapping[str, bytes]) -> bytes:
    """A gzipped tar layer with `files` (deterministic: no timestamps, root-owned)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith(("bin/", "sbin/")) else 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def add_image(store: Store, name: str, label: Mapping[str, object] | str | None = None, *,
              files: Mapping[str, bytes] | None = None, architecture: str = "amd64",
              cmd: tuple[str, ...] = ("/bin/true",), layer: bytes | None = None) -> Descriptor:
    """A one-layer image whose config carries `label` as org.mobyproject.config; returns the
    manifest's descriptor. `layer` (a compressed layer) replaces the one made of `files`."""
    if layer is None:
        layer = layer_bytes(files if files is not None else {"etc/hostname": b"x\n"})
    layer_descriptor = store.add_blob(layer, LAYER_TYPE)
    labels = {} if label is None else {
        "org.mobyproject.config": label if isinstance(label, str) else json.dumps(label)}
    config = {"architecture": architecture, "os": "linux",
              "config": {"Cmd": list(cmd), "Labels": labels},
              "rootfs": {"type": "layers", "diff_ids": []}}
    config_blob = store.add_blob(json.dumps(config).encode(), OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_blob.to_json(),
                "layers": [layer_descriptor.to_json()]}
    descriptor = store.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST)
    store.register(name, descriptor)
    return descriptor
