"""Fetch Notary v1 metadata from a notary server over HTTP(S), or from the cache offline.

All verification is in the pure modules of this package (`trusted_set` and below); this module
only moves bytes, and stores a GUN's metadata in the `cache` once the whole chain verified. The
first root seen for a GUN is pinned (trust on first use) unless the cache already pins one.

HTTP goes through `lkpolicy.registry.transport`, as for registries: pooled keep-alive TLS with
the given CA as the only anchor, no retries or redirects, per-read timeouts, a deadline on every
file (a floor plus its size at a minimum rate) and the same wording of connection failures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lkpolicy.registry.transport import (
    DEFAULT_DEADLINE_FLOOR,
    DEFAULT_MIN_RATE,
    DEFAULT_TIMEOUT,
    TooLarge,
    TransferLimits,
    TransportError,
    check_server_url,
    create_pool,
    get_document,
    host_port,
)
from lkpolicy.stages.trust.errors import MetadataTooLarge, NetworkError, NoTrustData
from lkpolicy.stages.trust.notary.cache import TrustStore, check_gun
from lkpolicy.stages.trust.notary.keys import NO_PINS, RootPins
from lkpolicy.stages.trust.notary.metadata import RELEASES, ROOT, VerifiedTarget
from lkpolicy.stages.trust.notary.trusted_set import (
    DEFAULT_MAX_SIZES,
    NotaryTrustedSet,
    load_trusted_set,
)

if TYPE_CHECKING:
    import urllib3

# One lookup touches 5-6 files of a few KiB; 64 MiB across them all refuses a server that streams
# without end while leaving room for huge-but-real targets files.
DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 * 1024


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _Verified:
    """One offline verification: every cached file it read, and what it trusted."""

    files: dict[str, bytes]
    known_versions: dict[str, int]
    trusted: NotaryTrustedSet


_OFFLINE: dict[tuple[Any, ...], _Verified] = {}
"""The offline verifications of this process, so that a run verifies each cached collection
once, however many configs and images ask (each trust stage builds its own client). Reused only
while the cached files and versions are byte for byte those verified, and re-checked for expiry
at each use."""


class NotaryClient:
    """Resolve `gun:tag` to a verified target through a notary server (or the cache offline)."""

    def __init__(self, server_url: str, trust_dir: str | Path, *, ca_file: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, deadline_floor: float = DEFAULT_DEADLINE_FLOOR,
                 min_rate: float = DEFAULT_MIN_RATE, offline: bool = False,
                 max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                 max_sizes: Mapping[str, int] | None = None,
                 pins: RootPins = NO_PINS,
                 now: Callable[[], dt.datetime] = _utcnow) -> None:
        self.server_url = check_server_url(server_url, "notary server").rstrip("/")
        self.store = TrustStore(trust_dir)
        self.ca_file = ca_file
        self.limits = TransferLimits(timeout, deadline_floor, min_rate)
        self.offline = offline
        self.max_total_bytes = max_total_bytes
        self.max_sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
        self.pins = pins
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
            return self._load_offline(gun, pinned, tuple(delegations))
        trusted = load_trusted_set(self._http_fetcher(gun), gun, self.now(), trusted_root=pinned,
                                   known_versions=self.store.versions(gun),
                                   pins=self.pins, delegations=delegations,
                                   max_sizes=self.max_sizes)
        self.store.save(gun, trusted)
        return trusted

    def _load_offline(self, gun: str, pinned: bytes,
                      delegations: tuple[str, ...]) -> NotaryTrustedSet:
        """Verify the cached collection, or reuse this process's verification of the very
        same files (see `_OFFLINE`)."""
        key = (str(self.store.directory.absolute()), gun, delegations, self.pins,
               tuple(sorted(self.max_sizes.items())))
        known = self.store.versions(gun)
        now = self.now()
        kept = _OFFLINE.get(key)
        if kept is not None and kept.known_versions == known and all(
                self.store.read(gun, name) == data for name, data in kept.files.items()):
            kept.trusted.check_times(now)
            return kept.trusted
        files: dict[str, bytes] = {}
        cached = self.store.fetcher(gun)

        def fetch(name: str, sha256: str | None, limit: int) -> bytes:
            files[name] = data = cached(name, sha256, limit)
            return data

        trusted = load_trusted_set(fetch, gun, now, trusted_root=pinned, known_versions=known,
                                   pins=self.pins, delegations=delegations,
                                   max_sizes=self.max_sizes)
        if files.get(ROOT) == pinned:  # the pin is among the files checked on reuse
            _OFFLINE[key] = _Verified(files, known, trusted)
        return trusted

    def lookup(self, gun: str, tag: str) -> VerifiedTarget:
        """Docker's answer for the tag, or UnknownTarget / NoTrustData / another TrustError."""
        return self.load(gun).find_target(tag)

    # ------------------------------------------------------------ HTTP

    def _http(self) -> urllib3.PoolManager:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = create_pool(self.limits, ca_file=self.ca_file,
                                             system_store=False, size=4, block=False, hosts=4)
                except TransportError as error:
                    raise NetworkError("tls", str(error)) from None
            return self._pool

    def _http_fetcher(self, gun: str) -> Callable[[str, str | None, int], bytes]:
        budget = [self.max_total_bytes]
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
            data = self._get(name, base + quote(file, safe="/"), min(limit, budget[0]),
                             exhausted=budget[0] < limit)
            budget[0] -= len(data)
            return data
        return fetch

    def _get(self, role: str, url: str, limit: int, exhausted: bool) -> bytes:
        try:
            status, data = get_document(self._http(), url, self.limits, limit)
        except TooLarge as error:
            if exhausted:
                raise MetadataTooLarge(role, f"the metadata of this GUN exceeds the overall cap "
                                             f"of {self.max_total_bytes} bytes") from None
            raise MetadataTooLarge(role, str(error)) from None
        except TransportError as error:
            raise NetworkError(role, str(error)) from None
        if status == 404:
            raise NoTrustData(role, f"the notary server has no {role} metadata "
                                    f"({url.rsplit('/_trust/', 1)[0]})")
        if status != 200:
            raise NetworkError(role, f"HTTP {status} from {host_port(url)}")
        return data
