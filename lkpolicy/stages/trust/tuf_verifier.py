"""Verify image tags against a TUF 1.0 repository with python-tuf's `ngclient.Updater`.

Mapping (../shared/spec/tuf-and-sigstore.md §1): the target path is `ImageRef.name`, the
expanded `locator:tag` (`docker.io/linuxkit/init:v1.0`), used for signing and lookup alike; the
target's `hashes.sha256` is the hex of the manifest digest and `length` the manifest's byte size.
No target is downloaded: `check_manifest` compares the registry's digest and size with the
verified target. Delegations are walked by ngclient; note that its path patterns match per `/`
segment, so a role for `docker.io/example/*` covers `docker.io/example/app:1` only.

python-tuf does every TUF check (signatures, thresholds, root rotation, rollback, expiry,
snapshot consistency, delegation paths); this module supplies the bytes and maps the errors onto
`lkpolicy.stages.trust.notary`'s `TrustError` hierarchy with one-line messages that name the repository,
the image and the reason.

Transport, all through one `FetcherInterface` whose `download_bytes` buffers in memory (the base
class would spool to a temporary file outside the cache directory):

* `file://` reads the repository from disk, a role file at a time, refusing more than the limit;
* `http(s)://` uses urllib3 (already a dependency; python-tuf's own fetcher also uses it but
  retries, follows environment proxies and has no overall deadline): separate connect/read
  timeouts, no retries, no redirects, an overall deadline and a byte budget per verification;
* offline serves only the cache: no new roots (404), the cached `timestamp.json` (ngclient then
  sees an equal version and keeps it) and the cached other roles. Everything is still verified,
  so offline verification fails once the cached timestamp, snapshot or targets expire.

The cache is `<cache_dir>/<repository key>/` (ngclient's `metadata_dir`: `root.json`,
`root_history/`, `timestamp.json`, `snapshot.json`, `targets.json`, `<delegated role>.json`) plus
a lock file; nothing is written anywhere else. The repository key is derived from the URL so that
two repositories never share rollback state. `tuf` and `urllib3` are imported lazily.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import unquote, urlsplit

from lkpolicy.model.reference import ImageRef
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

if TYPE_CHECKING:
    import urllib3
    from tuf.ngclient.fetcher import FetcherInterface
    from tuf.ngclient.updater import Updater

__all__ = [
    "DEFAULT_MAX_SIZES",
    "DEFAULT_TIMEOUT",
    "TufVerifier",
    "check_manifest",
    "repository_key",
    "target_path",
]

DEFAULT_TIMEOUT = 30.0
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
_CHUNK = 64 * 1024
_LOCK_NAME = "lkpolicy-tuf.lock"
_VERSIONED = re.compile(r"^[0-9]+\.(.+)$")
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


# ------------------------------------------------------------------------------------ transport


class _Transport:
    """Reads one metadata file: from disk, over HTTP, or (offline) from the cache only.

    It raises python-tuf's download exceptions, which ngclient understands (a 404 ends the root
    rotation walk); `TufVerifier` maps whatever escapes ngclient to `TrustError`s.
    """

    def __init__(self, base_url: str, *, offline: bool, cache: Path, timeout: float,
                 max_total_bytes: int, http: Callable[[], urllib3.PoolManager]) -> None:
        self.base_url = base_url
        self.offline = offline
        self.cache = cache
        self.timeout = timeout
        self.max_total_bytes = max_total_bytes
        self._http = http
        self.budget = max_total_bytes
        self.deadline = 0.0
        self.last_file = ""
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.base_dir = Path(unquote(parts.path)) if parts.scheme == "file" else None

    def start(self) -> None:
        """Reset the byte budget and the overall deadline (one verification)."""
        self.budget = self.max_total_bytes
        self.deadline = time.monotonic() + 4 * self.timeout

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

        try:
            with open(path, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                if size > limit:
                    self._too_large(size, limit, exhausted)
                data = stream.read(limit + 1)
        except FileNotFoundError:
            raise exceptions.DownloadHTTPError(f"{path} does not exist", 404) from None
        except IsADirectoryError:
            raise exceptions.DownloadHTTPError(f"{path} is a directory", 404) from None
        except OSError as error:
            if error.errno == errno.ENOTDIR:
                raise exceptions.DownloadHTTPError(f"{path} does not exist", 404) from None
            raise exceptions.DownloadError(f"cannot read {path}: "
                                           f"{error.strerror or type(error).__name__}") from None
        if len(data) > limit:
            self._too_large(len(data), limit, exhausted)
        return data

    def _read_cached(self, name: str, limit: int, exhausted: bool) -> bytes:
        from tuf.api import exceptions

        match = _VERSIONED.match(name)
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
        import urllib3.exceptions as errors
        from tuf.api import exceptions

        pool = self._http()
        netloc = urlsplit(url).netloc
        if time.monotonic() > self.deadline:
            raise exceptions.SlowRetrievalError(f"gave up after {4 * self.timeout:g}s")
        try:
            response = pool.request("GET", url, preload_content=False, decode_content=False,
                                    redirect=False)
        except errors.NewConnectionError as error:
            # Checked first: urllib3 derives it from ConnectTimeoutError.
            reason = _one_line(error).rsplit(": ", 1)[-1] or type(error).__name__
            raise exceptions.DownloadError(f"cannot connect to {netloc}: {reason}") from None
        except errors.TimeoutError:
            raise exceptions.SlowRetrievalError(f"timed out after {self.timeout:g}s waiting "
                                                f"for {netloc}") from None
        except (errors.HTTPError, OSError) as error:
            raise exceptions.DownloadError(f"cannot fetch from {netloc}: "
                                           f"{type(error).__name__}") from None
        try:
            if response.status != 200:
                raise exceptions.DownloadHTTPError(f"HTTP {response.status} for "
                                                   f"{self.last_file} from {netloc}",
                                                   response.status)
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                self._too_large(int(declared), limit, exhausted)
            chunks: list[bytes] = []
            received = 0
            while True:
                if time.monotonic() > self.deadline:
                    raise exceptions.SlowRetrievalError(
                        f"gave up after {4 * self.timeout:g}s reading from {netloc}")
                try:
                    chunk = response.read(min(_CHUNK, limit + 1 - received))
                except errors.TimeoutError:
                    raise exceptions.SlowRetrievalError(
                        f"timed out after {self.timeout:g}s reading from {netloc}") from None
                except (errors.HTTPError, OSError) as error:
                    raise exceptions.DownloadError(f"connection to {netloc} failed: "
                                                   f"{type(error).__name__}") from None
                if not chunk:
                    return b"".join(chunks)
                received += len(chunk)
                if received > limit:
                    self._too_large(received, limit, exhausted)
                chunks.append(chunk)
        finally:
            response.release_conn()


def _fetcher(transport: _Transport) -> FetcherInterface:
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


# ------------------------------------------------------------------------------------ verifier


class TufVerifier:
    """Resolve tagged images to verified targets through one TUF repository.

    `repository_url` is the metadata base URL (`file://`, `http://` or `https://`);
    `bootstrap_root` the trusted `root.json` bytes (pinned by the policy); `cache_dir` the
    directory under which this repository's metadata cache lives (see `metadata_dir`).
    One instance refreshes the metadata once and then answers any number of `verify` calls.
    """

    def __init__(self, repository_url: str, bootstrap_root: bytes, cache_dir: str | Path, *,
                 offline: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 ca_file: str | None = None,
                 max_sizes: Mapping[str, int] | None = None,
                 max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                 max_delegations: int = DEFAULT_MAX_DELEGATIONS) -> None:
        parts = urlsplit(repository_url)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError(f"TUF repository URL must be file:///absolute/path, got "
                                 f"{repository_url!r}")
        elif parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"TUF repository URL must be file://, http:// or https://, got "
                             f"{repository_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"TUF repository URL must not have a query or fragment: "
                             f"{repository_url!r}")
        unknown = set(max_sizes or {}) - set(DEFAULT_MAX_SIZES)
        if unknown:
            raise ValueError(f"max_sizes has unknown roles: {', '.join(sorted(unknown))}")
        self.repository_url = repository_url.rstrip("/") + "/"
        self.bootstrap_root = bytes(bootstrap_root)
        self.cache_dir = Path(cache_dir)
        self.metadata_dir = self.cache_dir / repository_key(self.repository_url)
        self.offline = offline
        self.timeout = timeout
        self.ca_file = ca_file
        self.max_sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
        self.max_total_bytes = max_total_bytes
        self.max_delegations = max_delegations
        self._pool: urllib3.PoolManager | None = None
        self._updater: Updater | None = None
        self._transport: _Transport | None = None
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
            role, expires = _attribution(updater, path, info)
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

        transport = _Transport(self.repository_url, offline=self.offline,
                               cache=self.metadata_dir, timeout=self.timeout,
                               max_total_bytes=self.max_total_bytes, http=self._http)
        config = UpdaterConfig(max_delegations=self.max_delegations,
                               root_max_length=self.max_sizes[ROOT],
                               timestamp_max_length=self.max_sizes[TIMESTAMP],
                               snapshot_max_length=self.max_sizes[SNAPSHOT],
                               targets_max_length=self.max_sizes[TARGETS])
        try:
            updater = Updater(str(self.metadata_dir), self.repository_url,
                              fetcher=_fetcher(transport), config=config,
                              bootstrap=self.bootstrap_root)
        except (exceptions.RepositoryError, ValueError) as error:
            raise BadSignature(ROOT, f"the bootstrap root for TUF repository "
                                     f"{self.repository_url} is not valid: "
                                     f"{_one_line(error)}") from None
        self._transport = transport
        self._updater = updater
        return updater

    def _http(self) -> urllib3.PoolManager:
        if self._pool is None:
            from lkpolicy.stages.trust.notary.client import trust_server_pool

            # Environment proxies are not consulted either: the URL is the one the policy names.
            self._pool = trust_server_pool(self.ca_file, self.timeout, size=2)
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
    match = _VERSIONED.match(stem)
    return unquote(match.group(1) if match else stem)


def _attribution(updater: Updater, path: str, info: object) -> tuple[str, dt.datetime]:
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

    now = dt.datetime.now(dt.UTC)
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
