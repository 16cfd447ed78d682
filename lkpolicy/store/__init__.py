"""The local image store. Its on-disk format IS linuxkit's cache, so both tools share one cache:
an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) whose root entries are
named by their `org.opencontainers.image.ref.name` annotation (spec section 7).

One module per job; import the one you need, so that `check` (lookup only) never loads the
pull or archive code:

- `location`: where the cache is and which platform is the default (`default_cache_dir`,
  `host_platform`, `ImageOptions`); cheap, imported when the command line starts.
- `errors`: `StoreError`, `IntegrityError`.
- `blobs`: verified reading and writing of blobs (`BlobStore`, `BlobReader`, `BlobSink`,
  `DEFAULT_MAX_BLOB_BYTES`).
- `index`: the root `index.json`, its lock and naming images (`LayoutStore`, `MAX_INDEX_BYTES`).
- `lookup`: `Store` and `ResolvedImage`: an image for a platform, freshness, `ImageSource`.
- `pull`: `PullResult` and `Store.pull`; `archives`: `Store.import_archive|export_archive`,
  `DEFAULT_MAX_ARCHIVE_BYTES`; `maintenance`: `ImageInfo`, `GcResult`, `Store.ls|rm|gc`.

The names below stay importable from `lkpolicy.store` itself for code written before the
split; each loads only its own module, on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.store.archives import DEFAULT_MAX_ARCHIVE_BYTES as DEFAULT_MAX_ARCHIVE_BYTES
    from lkpolicy.store.blobs import DEFAULT_MAX_BLOB_BYTES as DEFAULT_MAX_BLOB_BYTES
    from lkpolicy.store.blobs import BlobReader as BlobReader
    from lkpolicy.store.blobs import BlobSink as BlobSink
    from lkpolicy.store.errors import StoreError as StoreError
    from lkpolicy.store.location import default_cache_dir as default_cache_dir
    from lkpolicy.store.location import host_platform as host_platform
    from lkpolicy.store.lookup import ResolvedImage as ResolvedImage
    from lkpolicy.store.lookup import Store as Store
    from lkpolicy.store.maintenance import GcResult as GcResult
    from lkpolicy.store.maintenance import ImageInfo as ImageInfo
    from lkpolicy.store.pull import PullResult as PullResult

_HOMES = {
    "DEFAULT_MAX_ARCHIVE_BYTES": "archives",
    "DEFAULT_MAX_BLOB_BYTES": "blobs",
    "BlobReader": "blobs",
    "BlobSink": "blobs",
    "StoreError": "errors",
    "default_cache_dir": "location",
    "host_platform": "location",
    "ResolvedImage": "lookup",
    "Store": "lookup",
    "GcResult": "maintenance",
    "ImageInfo": "maintenance",
    "PullResult": "pull",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
