"""Reading OCI image archives (an OCI layout packed in a tar) in tests."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any


def _blob(archive: tarfile.TarFile, digest: str) -> Any:
    algorithm, _, hexdigest = digest.partition(":")
    member = archive.extractfile(f"blobs/{algorithm}/{hexdigest}")
    assert member is not None, f"blob {digest} missing"
    return json.load(member)


def image_config_blob(path: Path) -> dict[str, Any]:
    """The image config blob of the archive's single image (index.json -> manifest -> config)."""
    with tarfile.open(path) as archive:
        member = archive.extractfile("index.json")
        assert member is not None
        index = json.load(member)
        (descriptor,) = index["manifests"]
        manifest = _blob(archive, descriptor["digest"])
        config: dict[str, Any] = _blob(archive, manifest["config"]["digest"])
        return config
