"""The image cache as one gate run sees it: its `index.json` read once, and each image
resolved (manifest and config read and verified against their digests) once, for every config
of the run that uses it.

Loaded by the image stage only when a cache exists: it imports the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lkpolicy.model.oci import Platform
from lkpolicy.model.reference import ImageRef
from lkpolicy.store.errors import StoreError
from lkpolicy.store.lookup import ResolvedImage, Store


class SnapshotStore(Store):
    """A `Store` whose root index is read once: the configs of one run are judged against the
    same index, however many images they look up (and however many configs there are)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._entries: list[dict[str, Any]] | None = None

    def entries(self) -> list[dict[str, Any]]:
        if self._entries is None:
            self._entries = super().entries()
        return list(self._entries)


class CachedImages:
    """The images of one cache for one run, each looked up once."""

    def __init__(self, cache: Path) -> None:
        self.store = SnapshotStore(cache)
        self._found: dict[tuple[str, Platform], ResolvedImage | StoreError | None] = {}

    def lookup(self, reference: ImageRef, platform: Platform) -> ResolvedImage | None:
        """`Store.lookup`, remembered: the same answer (or the same `StoreError`) for every
        config that uses the image. A pinned reference resolves by its digest too."""
        key = (reference.expanded, platform)
        if key not in self._found:
            try:
                self._found[key] = self.store.lookup(reference, platform, by_digest=True)
            except StoreError as error:
                self._found[key] = error
        found = self._found[key]
        if isinstance(found, StoreError):
            raise found
        return found
