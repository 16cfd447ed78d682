"""Where python-tuf's ngclient gets TUF metadata bytes: disk, HTTP, or (offline) the cache.

One `FetcherInterface` whose `download_bytes` buffers in memory (the base class would spool to a
temporary file outside the cache directory), over a `MetadataTransport`:

* `file://` reads the repository from disk, a role file at a time, refusing more than the limit;
* `http(s)://` goes through `lkpolicy.registry.transport` (python-tuf's own fetcher retries,
  follows environment proxies and has no deadline): separate connect/read timeouts, no retries,
  no redirects, a deadline per file (a floor plus its size at a minimum rate) and a byte budget
  per verification;
* offline serves only the cache: no new roots (404), the cached `timestamp.json` (ngclient then
  sees an equal version and keeps it) and the cached other roles. Everything is still verified,
  so offline verification fails once the cached timestamp, snapshot or targets expire.

It raises python-tuf's download exceptions, which ngclient understands (a 404 ends the root
rotation walk). `tuf` and `urllib3` are imported lazily.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import unquote, urlsplit

from lkpolicy.registry.transport import (
    TooLarge,
    TransferLimits,
    TransportError,
    get_document,
    host_port,
)

if TYPE_CHECKING:
    import urllib3
    from tuf.ngclient.fetcher import FetcherInterface

VERSIONED = re.compile(r"^[0-9]+\.(.+)$")
"""A consistent-snapshot file name: `<version>.<role>.json`."""


class MetadataTransport:
    """Reads one metadata file: from disk, over HTTP, or (offline) from the cache only.

    It raises python-tuf's download exceptions, which ngclient understands (a 404 ends the root
    rotation walk); `TufVerifier` maps whatever escapes ngclient to `TrustError`s.
    """

    def __init__(self, base_url: str, *, offline: bool, cache: Path, limits: TransferLimits,
                 max_total_bytes: int, http: Callable[[], urllib3.PoolManager]) -> None:
        self.base_url = base_url
        self.offline = offline
        self.cache = cache
        self.limits = limits
        self.max_total_bytes = max_total_bytes
        self._http = http
        self.budget = max_total_bytes
        self.last_file = ""
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.base_dir = Path(unquote(parts.path)) if parts.scheme == "file" else None

    def start(self) -> None:
        """Reset the byte budget (one verification)."""
        self.budget = self.max_total_bytes

    def read(self, url: str, limit: int) -> bytes:
        from tuf.api import exceptions

        if not url.startswith(self.base_url):
            raise exceptions.DownloadError(f"refusing {url}: outside the repository")
        name = url[len(self.base_url):]
        self.last_file = name
        exhausted = self.budget < limit
        limit = min(limit, self.budget)
        if self.offline:
            data = self._read_cached(name, limit, exhausted)
        elif self.base_dir is not None:
            data = self._read_file(self._local_path(self.base_dir, name), limit, exhausted)
        else:
            data = self._read_http(url, limit, exhausted)
        self.budget -= len(data)
        return data

    # ------------------------------------------------------------ helpers

    def _too_large(self, size: int, limit: int, exhausted: bool) -> NoReturn:
        from tuf.api import exceptions

        if exhausted:
            raise exceptions.DownloadLengthMismatchError(
                f"the repository's metadata exceeds the overall cap of {self.max_total_bytes} "
                f"bytes")
        raise exceptions.DownloadLengthMismatchError(
            f"{self.last_file} has more than {limit} bytes (at least {size})")

    def _local_path(self, directory: Path, name: str) -> Path:
        """`name` is a URL-quoted file name below `directory`; no way out of it."""
        from tuf.api import exceptions

        decoded = unquote(name)
        segments = decoded.split("/")
        if (not decoded or "\\" in decoded or "\0" in decoded
                or any(s in ("", ".", "..") for s in segments)):
            raise exceptions.DownloadHTTPError(f"refusing file name {name!r}", 404)
        return directory.joinpath(*segments)

    def _read_file(self, path: Path, limit: int, exhausted: bool) -> bytes:
        from tuf.api import exceptions

        from lkpolicy.safeio import NotRegularFile, TooLarge, read_regular_file

        try:
            # Not open(): a FIFO in the repository would block the read forever.
            data = read_regular_file(path, limit, "TUF metadata")
        except TooLarge:
            self._too_large(os.stat(path).st_size, limit, exhausted)
        except NotRegularFile as error:
            if Path(path).is_dir():
                raise exceptions.DownloadHTTPError(f"{path} is a directory", 404) from None
            raise exceptions.DownloadError(str(error)) from None
        except FileNotFoundError:
            raise exceptions.DownloadHTTPError(f"{path} does not exist", 404) from None
        except OSError as error:
            if error.errno == errno.ENOTDIR:
                raise exceptions.DownloadHTTPError(f"{path} does not exist", 404) from None
            raise exceptions.DownloadError(f"cannot read {path}: "
                                           f"{error.strerror or type(error).__name__}") from None
        return data

    def _read_cached(self, name: str, limit: int, exhausted: bool) -> bytes:
        from tuf.api import exceptions

        match = VERSIONED.match(name)
        if match and match.group(1) == "root.json":
            # Every root the cache holds was already read from root_history by ngclient.
            raise exceptions.DownloadHTTPError("offline: no newer root", 404)
        candidates = [name]
        if match:
            candidates.append(match.group(1))
        for candidate in candidates:
            # Cache files are flat: ngclient quotes `/` in role names, so no decoding here.
            if "/" in candidate or candidate in (".", ".."):
                continue
            path = self.cache / candidate
            if path.is_file():
                return self._read_file(path, limit, exhausted)
        raise exceptions.DownloadHTTPError(f"offline: {name} is not in the cache", 404)

    def _read_http(self, url: str, limit: int, exhausted: bool) -> bytes:
        from tuf.api import exceptions

        try:
            status, data = get_document(self._http(), url, self.limits, limit)
        except TooLarge as error:
            self._too_large(error.size, limit, exhausted)
        except TransportError as error:
            raise exceptions.DownloadError(str(error)) from None
        if status != 200:
            raise exceptions.DownloadHTTPError(f"HTTP {status} for {self.last_file} from "
                                               f"{host_port(url)}", status)
        return data


def make_fetcher(transport: MetadataTransport) -> FetcherInterface:
    """Wrap the transport as python-tuf's fetcher (defined here: `tuf` is imported lazily)."""
    from tuf.ngclient.fetcher import FetcherInterface

    class Fetcher(FetcherInterface):
        def _fetch(self, url: str) -> Iterator[bytes]:
            # Only target downloads come this way; lkpolicy never downloads targets.
            return iter((transport.read(url, transport.budget),))

        def download_bytes(self, url: str, max_length: int) -> bytes:
            # In memory: the base class spools through a temporary file in the system temp dir.
            return transport.read(url, max_length)

    return Fetcher()
