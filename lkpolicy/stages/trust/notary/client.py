"""Fetch Notary v1 metadata from a notary server over HTTP(S), or from the cache offline.

All verification is in the pure modules of this package (`trusted_set` and below); this module
only moves bytes, and stores a GUN's metadata in the `cache` once the whole chain verified. The
first root seen for a GUN is pinned (trust on first use) unless the cache already pins one.

urllib3 for the same reasons as lkpolicy.registry.client: pooled keep-alive TLS, separate connect
and read timeouts, bounded streaming reads. It is imported lazily.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from lkpolicy.stages.trust.errors import MetadataTooLarge, NetworkError, NoTrustData
from lkpolicy.stages.trust.notary.cache import TrustStore, check_gun
from lkpolicy.stages.trust.notary.metadata import RELEASES, ROOT, VerifiedTarget
from lkpolicy.stages.trust.notary.trusted_set import (
    DEFAULT_MAX_SIZES,
    NotaryTrustedSet,
    load_trusted_set,
)

if TYPE_CHECKING:
    import urllib3

DEFAULT_TIMEOUT = 30.0
# One lookup touches 5-6 files of a few KiB; 64 MiB across them all refuses a server that streams
# without end while leaving room for huge-but-real targets files.
DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


def trust_server_pool(ca_file: str | None, timeout: float, *, size: int) -> urllib3.PoolManager:
    """A connection pool to a trust server (notary, TUF): no retries, which would multiply the
    time a stalled server costs, and no redirects, which are not part of either protocol."""
    import ssl

    import urllib3

    if ca_file:
        # The given CA is the only anchor for a private server: adding the system store would
        # widen trust, and loading it costs ~15 ms per client.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ValueError) as error:
            raise NetworkError("tls", f"cannot load CA certificates from {ca_file}: {error}") from None
    else:
        context = ssl.create_default_context()
    return urllib3.PoolManager(num_pools=size, maxsize=size, block=False,
                               timeout=urllib3.Timeout(connect=timeout, read=timeout),
                               retries=False, ssl_context=context)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NotaryClient:
    """Resolve `gun:tag` to a verified target through a notary server (or the cache offline)."""

    def __init__(self, server_url: str, trust_dir: str | Path, *, ca_file: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, offline: bool = False,
                 max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                 max_sizes: Mapping[str, int] | None = None,
                 root_key_pins: Collection[str] = (),
                 now: Callable[[], dt.datetime] = _utcnow) -> None:
        parts = urlsplit(server_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"notary server URL must be http(s)://host[:port], got {server_url!r}")
        self.server_url = server_url.rstrip("/")
        self.store = TrustStore(trust_dir)
        self.ca_file = ca_file
        self.timeout = timeout
        self.offline = offline
        self.max_total_bytes = max_total_bytes
        self.max_sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
        self.root_key_pins = tuple(root_key_pins)
        self.now = now
        self._pool: urllib3.PoolManager | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
            self._pool = None

    def __enter__(self) -> NotaryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ public API

    def load(self, gun: str, delegations: Iterable[str] = (RELEASES,)) -> NotaryTrustedSet:
        """Verify the GUN's metadata (online: fetch and update the cache; offline: cache only)."""
        check_gun(gun)
        pinned = self.store.pinned_root(gun)
        if self.offline:
            if pinned is None:
                raise NoTrustData(ROOT, f"no cached trust data for {gun} (offline)")
            fetch = self.store.fetcher(gun)
        else:
            fetch = self._http_fetcher(gun)
        trusted = load_trusted_set(fetch, gun, self.now(), trusted_root=pinned,
                                   known_versions=self.store.versions(gun),
                                   root_key_pins=self.root_key_pins, delegations=delegations,
                                   max_sizes=self.max_sizes)
        if not self.offline:
            self.store.save(gun, trusted)
        return trusted

    def lookup(self, gun: str, tag: str) -> VerifiedTarget:
        """Docker's answer for the tag, or UnknownTarget / NoTrustData / another TrustError."""
        return self.load(gun).find_target(tag)

    # ------------------------------------------------------------ HTTP

    def _http(self) -> urllib3.PoolManager:
        with self._lock:
            if self._pool is None:
                self._pool = trust_server_pool(self.ca_file, self.timeout, size=4)
            return self._pool

    def _http_fetcher(self, gun: str) -> Callable[[str, str | None, int], bytes]:
        budget = [self.max_total_bytes]
        # A server that trickles bytes never trips a per-read timeout; bound the whole load.
        deadline = time.monotonic() + 4 * self.timeout
        base = f"{self.server_url}/v2/{quote(gun, safe='/:')}/_trust/tuf/"

        def fetch(name: str, sha256: str | None, limit: int) -> bytes:
            if sha256:
                # A role named by its hash is immutable: a cached copy with that hash is the
                # same bytes, so only root and timestamp need the network when nothing changed.
                cached = self.store.read(gun, name)
                if (cached is not None and len(cached) <= limit
                        and hashlib.sha256(cached).hexdigest() == sha256):
                    return cached
            file = f"{name}.{sha256}.json" if sha256 else f"{name}.json"
            data = self._get(name, base + quote(file, safe="/"), min(limit, budget[0]), deadline,
                             exhausted=budget[0] < limit)
            budget[0] -= len(data)
            return data
        return fetch

    def _get(self, role: str, url: str, limit: int, deadline: float, exhausted: bool) -> bytes:
        import urllib3.exceptions as errors

        netloc = urlsplit(url).netloc
        try:
            response = self._http().request("GET", url, preload_content=False,
                                            decode_content=False, redirect=False)
        except errors.ConnectTimeoutError:
            raise NetworkError(role, f"timed out after {self.timeout:g}s connecting to "
                                     f"{netloc}") from None
        except errors.ReadTimeoutError:
            raise NetworkError(role, f"timed out after {self.timeout:g}s waiting for "
                                     f"{netloc}") from None
        except (errors.HTTPError, OSError) as error:
            raise NetworkError(role, f"cannot fetch from {netloc}: "
                                     f"{type(error).__name__}") from None
        try:
            if response.status == 404:
                raise NoTrustData(role, f"the notary server has no {role} metadata "
                                        f"({url.rsplit('/_trust/', 1)[0]})")
            if response.status != 200:
                raise NetworkError(role, f"HTTP {response.status} from {netloc}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise self._too_large(role, int(declared), limit, exhausted)
            chunks: list[bytes] = []
            received = 0
            while True:
                if time.monotonic() > deadline:
                    raise NetworkError(role, f"gave up after {4 * self.timeout:g}s reading from "
                                             f"{netloc}")
                try:
                    chunk = response.read(min(_CHUNK, limit + 1 - received))
                except errors.ReadTimeoutError:
                    raise NetworkError(role, f"timed out after {self.timeout:g}s reading from "
                                             f"{netloc}") from None
                except (errors.HTTPError, OSError) as error:
                    raise NetworkError(role, f"connection to {netloc} failed: "
                                             f"{type(error).__name__}") from None
                if not chunk:
                    return b"".join(chunks)
                received += len(chunk)
                if received > limit:
                    raise self._too_large(role, received, limit, exhausted)
                chunks.append(chunk)
        finally:
            response.release_conn()

    def _too_large(self, role: str, size: int, limit: int, exhausted: bool) -> MetadataTooLarge:
        if exhausted:
            return MetadataTooLarge(role, f"the metadata of this GUN exceeds the overall cap of "
                                          f"{self.max_total_bytes} bytes")
        return MetadataTooLarge(role, f"more than {limit} bytes (got at least {size})")
