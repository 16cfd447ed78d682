"""Verify image tags against a TUF 1.0 repository with python-tuf's `ngclient.Updater`.

Mapping (../shared/spec/tuf-and-sigstore.md §1): the target path is `ImageRef.name`, the
expanded `locator:tag` (`docker.io/linuxkit/init:v1.0`), used for signing and lookup alike; the
target's `hashes.sha256` is the hex of the manifest digest and `length` the manifest's byte size.
No target is downloaded: `check_manifest` compares the registry's digest and size with the
verified target. Delegations are walked by ngclient; note that its path patterns match per `/`
segment, so a role for `docker.io/example/*` covers `docker.io/example/app:1` only.

python-tuf does every TUF check (signatures, thresholds, root rotation, rollback, expiry,
snapshot consistency, delegation paths); this module supplies the bytes and maps the errors onto
the `TrustError` hierarchy (`lkpolicy.stages.trust.errors`) with one-line messages that name the repository,
the image and the reason.

The bytes come from `tuf_fetcher` (disk, HTTP with deadlines, or the cache offline).

The cache is `<cache_dir>/<repository key>/` (ngclient's `metadata_dir`: `root.json`,
`root_history/`, `timestamp.json`, `snapshot.json`, `targets.json`, `<delegated role>.json`) plus
a lock file; nothing is written anywhere else. The repository key is derived from the URL so that
two repositories never share rollback state. `tuf` and `urllib3` are imported lazily.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import unquote, urlsplit

from lkpolicy.model.reference import ImageRef
from lkpolicy.redaction import redact_url
from lkpolicy.registry.transport import (
    DEFAULT_DEADLINE_FLOOR,
    DEFAULT_MIN_RATE,
    DEFAULT_TIMEOUT,
    TransferLimits,
    TransportError,
    check_server_url,
    create_pool,
)
from lkpolicy.stages.trust.errors import (
    BadSignature,
    CacheError,
    ExpiredMetadata,
    HashMismatch,
    MalformedMetadata,
    MetadataTooLarge,
    NetworkError,
    NoTrustData,
    RepositoryInvalid,
    Rollback,
    TrustError,
    UnknownTarget,
)
from lkpolicy.stages.trust.notary import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    VerifiedTarget,
    check_manifest,
)
from lkpolicy.stages.trust.tuf_fetcher import VERSIONED, MetadataTransport, make_fetcher

if TYPE_CHECKING:
    import urllib3
    from tuf.ngclient.updater import Updater

__all__ = [
    "DEFAULT_MAX_SIZES",
    "DEFAULT_TIMEOUT",
    "TufVerifier",
    "check_manifest",
    "repository_key",
    "target_path",
]

MiB = 1024 * 1024
# Caps for metadata whose length nobody signed (root, timestamp; snapshot and targets when the
# parent lists no length). python-tuf's defaults are 500 KB / 16 KiB / 2 MB / 5 MB.
DEFAULT_MAX_SIZES: Mapping[str, int] = {
    ROOT: 512 * 1024,
    TIMESTAMP: 16 * 1024,
    SNAPSHOT: 4 * MiB,
    TARGETS: 8 * MiB,
}
# All files one verification reads together; refuses a repository that streams without end.
DEFAULT_MAX_TOTAL_BYTES = 64 * MiB
DEFAULT_MAX_DELEGATIONS = 32
_LOCK_NAME = "lkpolicy-tuf.lock"
_TOP_ROLE_IN_MESSAGE = re.compile(r"\b(root|timestamp|snapshot|targets)(?:\.json)?\b")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


# ------------------------------------------------------------------------------------ mapping


def target_path(ref: ImageRef) -> str:
    """The TUF target path of a tagged image: the expanded `locator:tag` (`ImageRef.name`)."""
    if ref.tag is None:
        raise UnknownTarget(TARGETS, f"{ref.original!r} has no tag; TUF trust data signs tags")
    return ref.name


def repository_key(url: str) -> str:
    """A cache directory name for a repository URL: readable prefix plus a hash of the URL."""
    normal = url.rstrip("/") + "/"
    parts = urlsplit(normal)
    slug = _SLUG.sub("_", f"{parts.netloc}{parts.path}".strip("/")).strip("._") or "repo"
    digest = hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]
    return f"{slug[:48]}-{digest}"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------------------------ verifier


class TufVerifier:
    """Resolve tagged images to verified targets through one TUF repository.

    `repository_url` is the metadata base URL (`file://`, `http://` or `https://`);
    `bootstrap_root` the trusted `root.json` bytes (pinned by the policy); `cache_dir` the
    directory under which this repository's metadata cache lives (see `metadata_dir`);
    `now` the moment expiry is judged at (python-tuf's reference time; default: the clock).
    One instance refreshes the metadata once and then answers any number of `verify` calls.
    """

    def __init__(self, repository_url: str, bootstrap_root: bytes, cache_dir: str | Path, *,
                 offline: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 deadline_floor: float = DEFAULT_DEADLINE_FLOOR,
                 min_rate: float = DEFAULT_MIN_RATE,
                 ca_file: str | None = None,
                 max_sizes: Mapping[str, int] | None = None,
                 max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                 max_delegations: int = DEFAULT_MAX_DELEGATIONS,
                 now: dt.datetime | None = None) -> None:
        parts = urlsplit(repository_url)
        shown = redact_url(repository_url)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError(f"TUF repository: {shown!r} is not a file:///absolute/path URL")
        else:
            check_server_url(repository_url, "TUF repository")
        if parts.query or parts.fragment:
            raise ValueError(f"TUF repository: {shown!r} must not have a query or fragment")
        unknown = set(max_sizes or {}) - set(DEFAULT_MAX_SIZES)
        if unknown:
            raise ValueError(f"max_sizes has unknown roles: {', '.join(sorted(unknown))}")
        self.repository_url = repository_url.rstrip("/") + "/"
        self.bootstrap_root = bytes(bootstrap_root)
        self.cache_dir = Path(cache_dir)
        self.metadata_dir = self.cache_dir / repository_key(self.repository_url)
        self.offline = offline
        self.limits = TransferLimits(timeout, deadline_floor, min_rate)
        self.ca_file = ca_file
        self.max_sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
        self.max_total_bytes = max_total_bytes
        self.max_delegations = max_delegations
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now
        self._pool: urllib3.PoolManager | None = None
        self._updater: Updater | None = None
        self._transport: MetadataTransport | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
            self._pool = None
        self._updater = None

    def __enter__(self) -> TufVerifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ public API

    def verify(self, ref: ImageRef) -> VerifiedTarget:
        """The verified target for the image's tag, or a `TrustError` naming repository and image.

        `VerifiedTarget.role` is the role that signed the target (`targets` or a delegated role);
        `expires` is the earliest expiry among timestamp, snapshot and the roles on the
        delegation path: the moment this answer stops being trustworthy.
        """
        path = target_path(ref)
        with self._lock, self._locked():
            try:
                updater = self._get_updater()
                assert self._transport is not None
                self._transport.start()
                info = updater.get_targetinfo(path)
            except TrustError:
                self._updater = None
                raise
            except Exception as error:
                # A failed refresh leaves ngclient's trusted set half-loaded: start afresh.
                self._updater = None
                self._raise(error, path)
            if info is None:
                raise UnknownTarget(TARGETS, f"{path} is not signed in TUF repository "
                                             f"{self.repository_url}")
            role, expires = _attribution(updater, path, info,
                                         self.now or dt.datetime.now(dt.UTC))
            sha256 = info.hashes.get("sha256")
            if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
                raise MalformedMetadata(role, f"{path} in TUF repository {self.repository_url} "
                                              f"has no lower-case hex sha256 hash")
            return VerifiedTarget(path, sha256, info.length, role, expires)

    # ------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """ngclient is single-instance per cache: exclude other lkpolicy processes."""
        import fcntl

        if self.offline and not (self.metadata_dir / "timestamp.json").is_file():
            raise NoTrustData(TIMESTAMP, f"no cached TUF metadata for {self.repository_url} "
                                         f"in {self.metadata_dir} (offline)")
        try:
            self.metadata_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.metadata_dir / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise CacheError("cache", f"cannot use {self.metadata_dir}: "
                                      f"{error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _get_updater(self) -> Updater:
        if self._updater is not None:
            return self._updater
        from tuf.api import exceptions
        from tuf.ngclient.config import UpdaterConfig
        from tuf.ngclient.updater import Updater

        transport = MetadataTransport(self.repository_url, offline=self.offline,
                                      cache=self.metadata_dir, limits=self.limits,
                                      max_total_bytes=self.max_total_bytes, http=self._http)
        config = UpdaterConfig(max_delegations=self.max_delegations,
                               root_max_length=self.max_sizes[ROOT],
                               timestamp_max_length=self.max_sizes[TIMESTAMP],
                               snapshot_max_length=self.max_sizes[SNAPSHOT],
                               targets_max_length=self.max_sizes[TARGETS])
        try:
            updater = Updater(str(self.metadata_dir), self.repository_url,
                              fetcher=make_fetcher(transport), config=config,
                              bootstrap=self.bootstrap_root)
        except (exceptions.RepositoryError, ValueError) as error:
            raise BadSignature(ROOT, f"the bootstrap root for TUF repository "
                                     f"{self.repository_url} is not valid: "
                                     f"{_one_line(error)}") from None
        if self.now is not None:
            # python-tuf's one clock: every expiry check of this refresh compares with it. It
            # lives on ngclient's trusted set (internal, public attribute since python-tuf 2.0).
            trusted = getattr(updater, "_trusted_set", None)
            if trusted is None or not hasattr(trusted, "reference_time"):
                raise RepositoryInvalid("tuf", "this python-tuf cannot verify at a stated time "
                                               "(no reference time)")
            trusted.reference_time = self.now.astimezone(dt.UTC)
        self._transport = transport
        self._updater = updater
        return updater

    def _http(self) -> urllib3.PoolManager:
        if self._pool is None:
            # Environment proxies are not consulted either: the URL is the one the policy names.
            try:
                self._pool = create_pool(self.limits, ca_file=self.ca_file, system_store=False,
                                         size=2, block=False, hosts=2)
            except TransportError as error:
                from tuf.api import exceptions

                raise exceptions.DownloadError(str(error)) from None
        return self._pool

    def _raise(self, error: Exception, path: str) -> NoReturn:
        """Map python-tuf's (and the OS's) exceptions onto the TrustError hierarchy."""
        from tuf.api import exceptions
        from tuf.api.serialization import DeserializationError

        where = f"{path} from TUF repository {self.repository_url}"
        message = _one_line(error) or type(error).__name__
        last = self._transport.last_file if self._transport is not None else ""
        found = _TOP_ROLE_IN_MESSAGE.search(message)
        role = found.group(1) if found else (_role_of_file(last) or "tuf")
        if isinstance(error, exceptions.ExpiredMetadataError):
            raise ExpiredMetadata(role, f"{where}: {message}") from None
        if isinstance(error, exceptions.BadVersionNumberError):
            raise Rollback(role, f"{where}: {message}") from None
        if isinstance(error, exceptions.UnsignedMetadataError):
            raise BadSignature(role, f"{where}: {message}") from None
        if isinstance(error, exceptions.LengthOrHashMismatchError):
            raise HashMismatch(role, f"{where}: {message}") from None
        if isinstance(error, DeserializationError):
            raise MalformedMetadata(role, f"{where}: {message}") from None
        if isinstance(error, exceptions.RepositoryError):
            raise RepositoryInvalid(role, f"{where}: {message}") from None
        role = _role_of_file(last) or role
        if isinstance(error, exceptions.DownloadLengthMismatchError):
            raise MetadataTooLarge(role, f"{where}: {message}") from None
        if isinstance(error, exceptions.DownloadHTTPError) and error.status_code == 404:
            if self.offline:
                raise NoTrustData(role, f"{where}: {last or role} is not in the offline cache "
                                        f"{self.metadata_dir}") from None
            raise NoTrustData(role, f"{where}: the repository has no {last or role}") from None
        if isinstance(error, exceptions.DownloadError):
            raise NetworkError(role, f"{where}: {message}") from None
        if isinstance(error, OSError):
            raise CacheError("cache", f"{where}: cannot write the metadata cache "
                                      f"{self.metadata_dir}: {error.strerror or message}"
                             ) from None
        raise RepositoryInvalid(role, f"{where}: {type(error).__name__}: {message}") from error


def _role_of_file(name: str) -> str:
    """`3.snapshot.json` -> `snapshot`; `example.json` -> `example` (URL-decoded)."""
    if not name.endswith(".json"):
        return ""
    stem = name[:-len(".json")]
    match = VERSIONED.match(stem)
    return unquote(match.group(1) if match else stem)


def _attribution(updater: Updater, path: str, info: object,
                 now: dt.datetime) -> tuple[str, dt.datetime]:
    """The role that provided `info`, and the earliest expiry on the path that trusted it.

    ngclient exposes only the `TargetFile`; its trusted set (private, present in python-tuf
    2.x-7.x) holds the verified roles, and the same pre-order walk over it finds the role whose
    `targets` entry is the very object returned. Without it the answer is the conservative
    (`targets`, now).
    """
    # tuf.api.metadata re-exports these without __all__ entries mypy can see.
    from tuf.api.metadata import (  # type: ignore[attr-defined]
        Snapshot,
        Targets,
        Timestamp,
    )

    trusted = getattr(updater, "_trusted_set", None)
    if trusted is None:
        return TARGETS, now

    def get(role: str) -> object:
        try:
            return trusted[role]
        except (KeyError, TypeError):
            return None

    timestamp, snapshot, top = get(TIMESTAMP), get(SNAPSHOT), get(TARGETS)
    if not (isinstance(timestamp, Timestamp) and isinstance(snapshot, Snapshot)
            and isinstance(top, Targets)):
        return TARGETS, now
    base = min(timestamp.expires, snapshot.expires)
    pending: list[tuple[str, dt.datetime]] = [(TARGETS, base)]
    visited: set[str] = set()
    while pending:
        name, expires = pending.pop()
        role = get(name)
        if name in visited or not isinstance(role, Targets):
            continue
        visited.add(name)
        expires = min(expires, role.expires)
        if role.targets.get(path) is info:
            return name, expires
        if role.delegations is not None:
            children: list[tuple[str, dt.datetime]] = []
            for child, terminating in role.delegations.get_roles_for_target(path):
                children.append((child, expires))
                if terminating:
                    pending = []
                    break
            pending.extend(reversed(children))
    return TARGETS, now
