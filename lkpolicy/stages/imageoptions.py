"""Where the image stage finds images; kept apart so that the CLI can build it without importing the stage."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lkpolicy.model.oci import Platform


@dataclass(frozen=True, slots=True)
class ImageOptions:
    cache: str | None = None
    """`--cache`; None means linuxkit's default (`LINUXKIT_CACHE`, else ~/.linuxkit/cache)."""
    arch: str | None = None

    def cache_dir(self) -> Path:
        if self.cache:
            return Path(self.cache).expanduser()
        env = os.environ.get("LINUXKIT_CACHE")
        return Path(env).expanduser() if env else Path.home() / ".linuxkit" / "cache"

    def platform(self) -> Platform:
        """`linux/<--arch>`, else this machine's platform in Go naming (linuxkit's default)."""
        from lkpolicy.model.oci import Platform
        from lkpolicy.store import host_platform

        return Platform("linux", self.arch) if self.arch else host_platform()

    def state_token(self) -> str:
        """Changes whenever the cache's content may have changed (for the result cache key)."""
        root = self.cache_dir()
        parts = [str(root), self.arch or ""]
        for path in (root / "index.json", root / "blobs" / "sha256"):
            try:
                stat = path.stat()
                parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
            except OSError:
                parts.append("-")
        return "|".join(parts)
