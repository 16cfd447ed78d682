"""Where images are looked for: the cache directory and the platform, decided as linuxkit
decides them. Cheap to import: the command line builds `ImageOptions` before any stage runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lkpolicy.model.oci import Platform

# Go's names for the machines linuxkit builds for (`--arch` defaults to the host's).
_GO_ARCH = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "riscv64": "riscv64", "s390x": "s390x", "ppc64le": "ppc64le", "armv7l": "arm",
    "i386": "386", "i686": "386",
}


def default_cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """`--cache`, else `$LINUXKIT_CACHE`, else `~/.linuxkit/cache`, as `linuxkit build` decides."""
    if cache is not None and str(cache):
        return Path(cache).expanduser()
    env = os.environ.get("LINUXKIT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".linuxkit" / "cache"


def host_platform() -> Platform:
    """`linux/<host architecture in Go naming>`: linuxkit's default `--arch`."""
    import platform as host

    from lkpolicy.model.oci import Platform

    machine = host.machine().lower()
    return Platform("linux", _GO_ARCH.get(machine, machine))


@dataclass(frozen=True, slots=True)
class ImageOptions:
    """Where the image stage finds images; the command line builds it without loading the stage."""

    cache: str | None = None
    """`--cache`; None means linuxkit's default (`LINUXKIT_CACHE`, else ~/.linuxkit/cache)."""
    arch: str | None = None

    def cache_dir(self) -> Path:
        return default_cache_dir(self.cache)

    def platform(self) -> Platform:
        """`linux/<--arch>`, else this machine's platform in Go naming (linuxkit's default)."""
        from lkpolicy.model.oci import Platform

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
