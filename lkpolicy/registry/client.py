"""A client for the OCI distribution API: resolve tags, fetch manifests and blobs, verified.

HTTP goes through urllib3 rather than the standard library: it gives a thread-safe connection
pool with keep-alive (one TLS handshake per registry instead of one per blob, which dominates a
pull of many small layers), separate connect and per-read timeouts, and bounded streaming reads,
all of which `http.client`/`urllib.request` would need rebuilding by hand. It is imported lazily,
on the first request, so that importing lkpolicy stays cheap.

Trust model: the registry is not trusted. Every manifest and blob is hashed and its size compared
with what was asked for before it is handed back; a digest header is only believed for a HEAD
(where there is nothing to hash, and the digest is verified when the content is fetched).
Redirects are followed but never carry the Authorization header to another origin.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode, urljoin, urlsplit

from lkpolicy import __version__
from lkpolicy.model.oci import (
    ACCEPTED_MANIFEST_TYPES,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_CONFIG_BLOB_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    OCIError,
    Platform,
    check_digest_syntax,
    detect_media_type,
    verify_bytes,
)
from lkpolicy.model.reference import ImageRef
from lkpolicy.registry.auth import (
    DOCKER_HUB_HOSTS,
    AuthCache,
    AuthError,
    Challenge,
    Credentials,
    DockerCredentialStore,
    parse_www_authenticate,
    token_from_response,
)
from lkpolicy.registry.errors import RegistryError, clean_text
from lkpolicy.registry.progress import ProgressCallback

if TYPE_CHECKING:
    import urllib3
    from urllib3.response import BaseHTTPResponse

log = logging.getLogger("lkpolicy.registry")

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BLOB_BYTES = 16 * 1024**3
DEFAULT_MAX_CONCURRENCY = 8
_CHUNK = 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024
_MAX_TOKEN_BODY = 1024 * 1024
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_ACCEPT = ", ".join(ACCEPTED_MANIFEST_TYPES)

_STATUS_TEXT = {
    401: "authentication required",
    403: "access denied",
    404: "not found",
    405: "method not allowed",
    429: "too many requests",
}


# --------------------------------------------------------------------------------------- options


def parse_mirrors(values: Iterable[str]) -> dict[str, str]:
    """linuxkit's `--mirror` values (`REGISTRY=URL`, or a bare URL meaning Docker Hub)."""
    mirrors: dict[str, str] = {}
    for value in values:
        for item in re.split(r"[\s,]+", value.strip()):
            if not item:
                continue
            registry, sep, url = item.partition("=")
            if not sep:
                registry, url = "docker.io", item
            mirrors[registry] = url
    return mirrors


def _normalise_registry(name: str) -> str:
    name = name.strip().lower()
    return "docker.io" if name in DOCKER_HUB_HOSTS else name


def _check_mirror_url(registry: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"mirror for {registry}: {url!r} is not an http(s) URL")
    if "@" in parts.netloc:
        # Credentials belong in config.json, where they stay out of command lines and messages.
        raise ValueError(f"mirror for {registry}: the URL must not contain credentials")
    path = parts.path.rstrip("/")
    if path.endswith("/v2"):
        path = path[: -len("/v2")]
    return f"{parts.scheme}://{parts.netloc}{path}"


@dataclass(frozen=True)
class RegistryOptions:
    mirrors: dict[str, str] = field(default_factory=dict)
    """Registry name -> base URL; `docker.io` covers every Docker Hub alias."""
    ca_file: str | None = None
    """Extra PEM certificates trusted for TLS, on top of the system store."""
    insecure_http_registries: frozenset[str] = frozenset()
    """Registries (host or host:port) spoken to over plain http; loopback registries always are."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds for connecting, and for each read: a server that stops sending fails after this."""
    max_manifest_bytes: int = MAX_MANIFEST_BYTES
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES
    max_config_bytes: int = MAX_CONFIG_BLOB_BYTES
    """The limit for `get_blob`, which holds the blob in memory."""
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    """Connections kept per registry; more concurrent requests wait for one to be free."""
    docker_config: str | None = None
    """Docker's config.json; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`."""
    user_agent: str = f"lkpolicy/{__version__}"

    def __post_init__(self) -> None:
        normalised: dict[str, str] = {}
        for registry, url in self.mirrors.items():
            key = _normalise_registry(registry)
            normalised[key] = _check_mirror_url(key, url)
        object.__setattr__(self, "mirrors", normalised)
        object.__setattr__(self, "insecure_http_registries",
                           frozenset(_normalise_registry(r) for r in self.insecure_http_registries))
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")


def _host_only(netloc: str) -> str:
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def is_loopback(netloc: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: registries here need no TLS, as Docker also assumes."""
    host = _host_only(netloc).lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one registry's API is reached, and under which name its credentials are stored."""

    registry: str
    base: str
    """scheme://netloc[/prefix], without the trailing `/v2`."""

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def netloc(self) -> str:
        return urlsplit(self.base).netloc

    def url(self, path: str) -> str:
        return f"{self.base}/v2/{path}"


class RemoteImage(NamedTuple):
    """An image manifest chosen for a platform, with what a pull needs next."""

    manifest: Manifest
    config: Descriptor
    layers: tuple[Descriptor, ...]
    from_index: Manifest | None
    """The index the manifest was selected from, or None for a single-platform image."""

    @property
    def root(self) -> Manifest:
        """What the reference names: the index if there is one, else the manifest."""
        return self.from_index if self.from_index is not None else self.manifest


# --------------------------------------------------------------------------------------- client


class RegistryClient:
    """Implements `lkpolicy.model.oci.ImageSource`; safe to share between threads."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self._credentials = DockerCredentialStore(self.options.docker_config)
        self._auth = AuthCache()
        self._pool_lock = threading.Lock()
        self._pool: urllib3.PoolManager | None = None

    # ---------------------------------------------------------------- life cycle

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.clear()
                self._pool = None

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _http(self, ref: ImageRef) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool is None:
                import ssl

                import urllib3

                context = ssl.create_default_context()
                if self.options.ca_file:
                    try:
                        context.load_verify_locations(cafile=self.options.ca_file)
                    except (OSError, ValueError) as error:
                        raise RegistryError(ref.original, f"cannot load CA certificates from "
                                                          f"{self.options.ca_file}: "
                                                          f"{_os_reason(error)}") from None
                timeout = urllib3.Timeout(connect=self.options.timeout, read=self.options.timeout)
                # block=True: threads beyond max_concurrency wait for a connection instead of
                # opening throwaway ones; retries/redirects are handled here, with auth rules.
                self._pool = urllib3.PoolManager(
                    num_pools=32, maxsize=self.options.max_concurrency, block=True,
                    timeout=timeout, retries=False, ssl_context=context)
            return self._pool

    # ---------------------------------------------------------------- endpoints

    def endpoint(self, ref: ImageRef) -> Endpoint:
        registry = _normalise_registry(ref.registry)
        mirror = self.options.mirrors.get(registry)
        if mirror:
            return Endpoint(registry, mirror)
        host = DOCKER_HUB_ENDPOINT if registry == "docker.io" else ref.registry
        insecure = self.options.insecure_http_registries
        plain = is_loopback(host) or registry in insecure or _host_only(registry) in insecure
        return Endpoint(registry, f"{'http' if plain else 'https'}://{host}")

    def _credentials_for(self, ref: ImageRef, endpoint: Endpoint) -> Credentials | None:
        # A mirror gets the credentials stored for the mirror's own host, never those of the
        # registry it stands in for: a mirror is a different party.
        mirrored = endpoint.registry in self.options.mirrors
        name = endpoint.netloc if mirrored else endpoint.registry
        try:
            return self._credentials.get(name)
        except AuthError as error:
            raise RegistryError(ref.original, str(error)) from None

    # ---------------------------------------------------------------- public API

    def resolve(self, ref: ImageRef) -> Descriptor:
        """The descriptor the reference names now (tag -> digest), by HEAD when the registry allows."""
        reference = _reference_of(ref)
        response = self._request(ref, "HEAD", f"manifests/{reference}",
                                 {"Accept": _ACCEPT})
        try:
            status = response.status
            if status in (401, 403):
                raise self._status_error(ref, response, "manifest", None)
            header_digest = response.headers.get("Docker-Content-Digest", "")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            length = response.headers.get("Content-Length", "")
        finally:
            _release(response)
        if 200 <= status < 300:
            size = int(length) if length.isdigit() else -1
            if size > self.options.max_manifest_bytes:
                raise RegistryError(ref.original,
                                    f"manifest is larger than {self.options.max_manifest_bytes} bytes")
            if ref.digest is not None and header_digest and header_digest != ref.digest:
                raise RegistryError(ref.original, f"registry answered with digest {header_digest} "
                                                  f"for {ref.digest}")
            digest = header_digest or (ref.digest or "")
            if _SHA256.match(digest) and size >= 0 and media_type in ACCEPTED_MANIFEST_TYPES:
                return Descriptor(media_type, digest, size)
        # No usable digest (or an error status, whose body only a GET carries): fetch and hash.
        return self.get_manifest(ref).descriptor()

    def get_manifest(self, ref: ImageRef, reference: str | None = None, *,
                     expected: Descriptor | None = None) -> Manifest:
        """The manifest or index for `reference` (tag or digest; default: the ref's digest, else its
        tag, else `latest`), verified against the digest asked for and `expected.size`."""
        reference = reference or _reference_of(ref)
        pinned: str | None = None
        if ":" in reference:
            pinned = self._checked_digest(ref, reference)
        limit = self.options.max_manifest_bytes
        if expected is not None and expected.size > limit:
            raise RegistryError(ref.original, f"manifest is larger than {limit} bytes")
        response = self._request(ref, "GET", f"manifests/{reference}", {"Accept": _ACCEPT})
        try:
            if not 200 <= response.status < 300:
                raise self._status_error(ref, response, "manifest", pinned)
            declared = _content_length(response)
            if declared is not None and declared > limit:
                raise RegistryError(ref.original, f"manifest is larger than {limit} bytes")
            data = self._read_limited(ref, response, limit, "manifest")
            header_digest = response.headers.get("Docker-Content-Digest", "")
            content_type = response.headers.get("Content-Type")
        finally:
            _release(response)
        if pinned is not None:
            self._verify(ref, data, pinned, expected.size if expected else None, "manifest")
            digest = pinned
        else:
            digest = hashlib.sha256(data).hexdigest()
            digest = f"sha256:{digest}"
            if header_digest.startswith("sha256:") and header_digest != digest:
                # The body is what we hashed; a registry that names another digest is broken or
                # lying, and either way the tag's identity is in doubt.
                raise RegistryError(ref.original, f"digest mismatch for manifest {reference}: the "
                                                  f"registry says {clean_text(header_digest, 80)}, "
                                                  f"the content hashes to {digest}")
            if expected is not None and expected.size != len(data):
                raise RegistryError(ref.original, f"size mismatch for manifest {digest}: expected "
                                                  f"{expected.size} bytes, got {len(data)}")
        return Manifest(data, detect_media_type(data, content_type), digest)

    def get_image(self, ref: ImageRef, platform: Platform) -> RemoteImage:
        """The image manifest for `platform` (linuxkit's selection: first os/arch match, variant only
        if asked), its config descriptor and layers. A single-platform image is used as is."""
        top = self.get_manifest(ref)
        index: Manifest | None = None
        manifest = top
        if top.media_type in INDEX_TYPES:
            index = top
            try:
                entry = top.select(platform)
            except OCIError as error:
                raise RegistryError(ref.original, str(error)) from None
            if entry.media_type not in MANIFEST_TYPES:
                raise RegistryError(ref.original, f"the entry for {platform} in index {top.digest} "
                                                  f"is a {entry.media_type}, not an image manifest")
            manifest = self.get_manifest(ref, entry.digest, expected=entry)
        if manifest.media_type not in MANIFEST_TYPES:
            raise RegistryError(ref.original, f"unsupported manifest type {manifest.media_type} "
                                              f"({manifest.digest})")
        try:
            config = manifest.config()
            layers = tuple(manifest.layers())
        except OCIError as error:
            raise RegistryError(ref.original, f"invalid manifest: {error}") from None
        return RemoteImage(manifest, config, layers, index)

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        """A small blob (a config), in memory, verified."""
        digest = self._checked_digest(ref, descriptor.digest)
        limit = self.options.max_config_bytes
        if descriptor.size > limit:
            raise RegistryError(ref.original, f"blob {digest} is larger than {limit} bytes")
        chunks: list[bytes] = []
        self._stream_blob(ref, descriptor, chunks.append, None, hashed=False)
        data = b"".join(chunks)
        self._verify(ref, data, digest, descriptor.size, "blob")
        return data

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any,
                  progress: ProgressCallback | None = None) -> None:
        """Stream a blob into `sink.write`. The sink sees bytes before they are verified, so it must
        be a temporary file that the caller discards when this raises and keeps when it returns."""
        self._checked_digest(ref, descriptor.digest)
        if descriptor.size > self.options.max_blob_bytes:
            raise RegistryError(ref.original, f"blob {descriptor.digest} is larger than "
                                              f"{self.options.max_blob_bytes} bytes")
        self._stream_blob(ref, descriptor, sink.write, progress, hashed=True)

    def get_referrers(self, ref: ImageRef, digest: str) -> bytes | None:
        """The OCI 1.1 referrers index of `digest` (`GET /v2/<name>/referrers/<digest>`), or None
        when the registry has no referrers API (distribution 2.8 answers 404) or answers with
        something that is not an index (some answer 200 with an HTML page)."""
        self._checked_digest(ref, digest)
        response = self._request(ref, "GET", f"referrers/{digest}", {"Accept": OCI_INDEX})
        try:
            if response.status in (400, 404, 405, 501):
                return None
            if not 200 <= response.status < 300:
                raise self._status_error(ref, response, "referrers", None)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            data = self._read_limited(ref, response, self.options.max_manifest_bytes,
                                      "referrers index")
        finally:
            _release(response)
        if content_type and content_type not in INDEX_TYPES:
            return None
        return data

    # ---------------------------------------------------------------- blobs

    def _stream_blob(self, ref: ImageRef, descriptor: Descriptor, write: Callable[[bytes], Any],
                     progress: ProgressCallback | None, hashed: bool) -> None:
        digest, size = descriptor.digest, descriptor.size
        response = self._request(ref, "GET", f"blobs/{digest}", {})
        try:
            if not 200 <= response.status < 300:
                raise self._status_error(ref, response, "blob", digest)
            declared = _content_length(response)
            if declared is not None and declared != size:
                raise RegistryError(ref.original, f"size mismatch for blob {digest}: expected "
                                                  f"{size} bytes, the registry sends {declared}")
            hasher = hashlib.sha256() if hashed else None
            received = 0
            while True:
                # Never ask for more than one byte past the declared size: enough to detect an
                # oversized body without reading it.
                chunk = self._read(ref, response, min(_CHUNK, size + 1 - received))
                if not chunk:
                    break
                received += len(chunk)
                if received > size:
                    raise RegistryError(ref.original, f"size mismatch for blob {digest}: more than "
                                                      f"the declared {size} bytes")
                if hasher is not None:
                    hasher.update(chunk)
                write(chunk)
                if progress is not None:
                    progress(len(chunk))
        finally:
            _release(response)
        if received != size:
            raise RegistryError(ref.original, f"size mismatch for blob {digest}: expected {size} "
                                              f"bytes, got {received} (truncated)")
        if hasher is not None:
            actual = f"sha256:{hasher.hexdigest()}"
            if actual != digest:
                raise RegistryError(ref.original, f"digest mismatch for blob {digest} (content "
                                                  f"hashes to {actual})")

    # ---------------------------------------------------------------- verification

    def _checked_digest(self, ref: ImageRef, digest: str) -> str:
        try:
            return check_digest_syntax(digest)
        except OCIError as error:
            raise RegistryError(ref.original, str(error)) from None

    def _verify(self, ref: ImageRef, data: bytes, digest: str, size: int | None, kind: str) -> None:
        if size is not None and len(data) != size:
            raise RegistryError(ref.original, f"size mismatch for {kind} {digest}: expected {size} "
                                              f"bytes, got {len(data)}")
        try:
            verify_bytes(data, digest, size, f"{kind} {digest}")
        except OCIError:
            actual = hashlib.sha256(data).hexdigest()
            raise RegistryError(ref.original, f"digest mismatch for {kind} {digest} (content hashes "
                                              f"to sha256:{actual})") from None

    # ---------------------------------------------------------------- HTTP

    def _request(self, ref: ImageRef, method: str, path: str,
                 headers: dict[str, str]) -> BaseHTTPResponse:
        """One API request with authentication and redirects; the caller reads and releases."""
        endpoint = self.endpoint(ref)
        repository = ref.repository
        url = endpoint.url(f"{repository}/{path}")
        base_headers = {"User-Agent": self.options.user_agent, **headers}
        authorization = self._auth.header(endpoint.origin, repository)
        retried = False
        while True:
            sent = dict(base_headers)
            if authorization:
                sent["Authorization"] = authorization
            response = self._follow(ref, method, url, sent, endpoint.origin)
            if response.status != 401 or retried:
                return response
            challenges = parse_www_authenticate(response.headers.getlist("WWW-Authenticate"))
            if not challenges:
                return response
            _release(response)
            retried = True
            self._auth.forget(endpoint.origin, repository)
            authorization = self._authenticate(ref, endpoint, challenges)

    def _follow(self, ref: ImageRef, method: str, url: str, headers: dict[str, str],
                origin: str) -> BaseHTTPResponse:
        """Send, following redirects: storage backends hand blobs out from other hosts."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(ref, method, url, headers)
            if response.status not in _REDIRECTS:
                return response
            location = response.headers.get("Location")
            _release(response)
            if not location:
                raise RegistryError(ref.original, f"redirect without a location (HTTP {response.status})")
            target = urljoin(url, location)
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https"):
                raise RegistryError(ref.original, f"refusing a redirect to a {parts.scheme or 'relative'} URL")
            if (url.startswith("https:") and parts.scheme == "http"
                    and not is_loopback(parts.netloc)):
                raise RegistryError(ref.original, f"refusing a redirect from https to plain http "
                                                  f"({parts.netloc})")
            if f"{parts.scheme}://{parts.netloc}" != origin:
                # The token is for the registry; a storage host gets its authority from the
                # redirect URL itself, and must not learn the registry credentials.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        raise RegistryError(ref.original, f"too many redirects (more than {_MAX_REDIRECTS})")

    def _send(self, ref: ImageRef, method: str, url: str, headers: dict[str, str],
              body: bytes | None = None) -> BaseHTTPResponse:
        import urllib3.exceptions as errors

        netloc = urlsplit(url).netloc
        timeout = f"{self.options.timeout:g}s"
        log.debug("%s %s", method, url.split("?", 1)[0])
        pool = self._http(ref)
        try:
            # decode_content=False: digests are over the bytes as stored, never a decoding of them.
            response = pool.request(method, url, headers=headers, body=body, preload_content=False,
                                    decode_content=False, redirect=False)
        # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: the order matters.
        except errors.NameResolutionError:
            raise RegistryError(ref.original, f"cannot resolve host {_host_only(netloc)}") from None
        except errors.NewConnectionError as error:
            raise RegistryError(ref.original, f"cannot connect to {netloc}: "
                                              f"{_os_reason(error)}") from None
        except errors.ConnectTimeoutError:
            raise RegistryError(ref.original, f"timed out after {timeout} connecting to {netloc}") from None
        except errors.ReadTimeoutError:
            raise RegistryError(ref.original, f"timed out after {timeout} reading from {netloc}") from None
        except errors.SSLError as error:
            raise RegistryError(ref.original, f"TLS error talking to {netloc}: "
                                              f"{_os_reason(error)}") from None
        except (errors.ProtocolError, errors.HTTPError, OSError) as error:
            raise RegistryError(ref.original, f"connection to {netloc} failed: "
                                              f"{_os_reason(error)}") from None
        # urllib3 keeps only the path; errors while reading the body need the host.
        response.url = url
        return response

    def _read(self, ref: ImageRef, response: BaseHTTPResponse, amount: int) -> bytes:
        import urllib3.exceptions as errors

        try:
            return response.read(amount)
        except errors.ReadTimeoutError:
            netloc = _response_netloc(response)
            raise RegistryError(ref.original, f"timed out after {self.options.timeout:g}s reading "
                                              f"from {netloc}") from None
        except (errors.ProtocolError, errors.HTTPError, OSError) as error:
            netloc = _response_netloc(response)
            raise RegistryError(ref.original, f"connection to {netloc} failed while reading: "
                                              f"{_os_reason(error)}") from None

    def _read_limited(self, ref: ImageRef, response: BaseHTTPResponse, limit: int, kind: str) -> bytes:
        chunks: list[bytes] = []
        received = 0
        while True:
            chunk = self._read(ref, response, min(_CHUNK, limit + 1 - received))
            if not chunk:
                return b"".join(chunks)
            received += len(chunk)
            if received > limit:
                raise RegistryError(ref.original, f"{kind} is larger than {limit} bytes")
            chunks.append(chunk)

    def _status_error(self, ref: ImageRef, response: BaseHTTPResponse, kind: str,
                      digest: str | None) -> RegistryError:
        status = response.status
        message = ""
        try:
            body = response.read(_MAX_ERROR_BODY) if response.status != 204 else b""
            message = _registry_message(body)
        except Exception:
            message = ""  # the status alone still says enough
        if not message:
            if status == 404:
                message = f"{kind} unknown" + (f" {digest}" if digest and kind == "blob" else "")
            else:
                message = _STATUS_TEXT.get(status, response.reason or "error")
        return RegistryError(ref.original, f"{message} (HTTP {status})", status)

    # ---------------------------------------------------------------- authentication

    def _authenticate(self, ref: ImageRef, endpoint: Endpoint,
                      challenges: list[Challenge]) -> str:
        credentials = self._credentials_for(ref, endpoint)
        for challenge in challenges:
            if challenge.scheme == "bearer" and challenge.realm:
                return self._bearer_token(ref, endpoint, challenge, credentials)
        for challenge in challenges:
            if challenge.scheme == "basic":
                if credentials is None or not credentials.username:
                    name = endpoint.netloc if endpoint.registry in self.options.mirrors \
                        else endpoint.registry
                    raise RegistryError(ref.original, f"authentication required (HTTP 401; no "
                                                      f"credentials for {name} in "
                                                      f"{self._credentials.path})", 401)
                if not self._may_send_secret(endpoint.base):
                    raise RegistryError(ref.original, f"refusing to send credentials over plain "
                                                      f"http to {endpoint.netloc}")
                header = credentials.basic_header()
                self._auth.store_basic(endpoint.origin, header)
                return header
        schemes = ", ".join(sorted({c.scheme for c in challenges}))
        raise RegistryError(ref.original, f"unsupported authentication scheme ({schemes}) "
                                          f"at {endpoint.netloc}")

    def _may_send_secret(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" or is_loopback(parts.netloc):
            return True
        insecure = self.options.insecure_http_registries
        return parts.netloc in insecure or _host_only(parts.netloc) in insecure

    def _bearer_token(self, ref: ImageRef, endpoint: Endpoint, challenge: Challenge,
                      credentials: Credentials | None) -> str:
        realm = challenge.realm
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(ref.original, f"the registry's token realm is not an http(s) URL "
                                              f"({clean_text(realm, 100)})")
        repository = ref.repository
        scope = challenge.params.get("scope") or f"repository:{repository}:pull"
        service = challenge.params.get("service", "")
        headers = {"User-Agent": self.options.user_agent}
        if credentials is not None and not self._may_send_secret(realm):
            raise RegistryError(ref.original, f"refusing to send credentials over plain http to "
                                              f"the token server {parts.netloc}")
        if credentials is not None and credentials.identity_token:
            # OAuth2 refresh-token grant, what Docker does with an `identitytoken`.
            form = {"grant_type": "refresh_token", "refresh_token": credentials.identity_token,
                    "service": service, "scope": scope, "client_id": "lkpolicy"}
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._send(ref, "POST", realm, headers, body=urlencode(form).encode())
        else:
            if credentials is not None and credentials.username:
                headers["Authorization"] = credentials.basic_header()
            query = urlencode({k: v for k, v in (("service", service), ("scope", scope)) if v})
            url = realm + ("&" if parts.query else "?") + query
            response = self._send(ref, "GET", url, headers)
        try:
            if not 200 <= response.status < 300:
                who = "refused the credentials" if credentials is not None else "refused"
                raise RegistryError(ref.original, f"token server {parts.netloc} {who} "
                                                  f"(HTTP {response.status})", response.status)
            body = self._read_limited(ref, response, _MAX_TOKEN_BODY, "token server answer")
        finally:
            _release(response)
        try:
            token, lifetime = token_from_response(body)
        except AuthError as error:
            raise RegistryError(ref.original, f"{error} ({parts.netloc})") from None
        return self._auth.store_bearer(endpoint.origin, repository, token, lifetime)


# --------------------------------------------------------------------------------------- helpers


def _reference_of(ref: ImageRef) -> str:
    """What the registry is asked for: the digest if pinned, else the tag; `latest` as Docker does."""
    return ref.digest or ref.tag or "latest"


def _content_length(response: BaseHTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _release(response: BaseHTTPResponse) -> None:
    """Return the connection to the pool, or close it when that would mean reading a body."""
    try:
        if not response.closed:
            remaining = response.length_remaining
            small_answer = not 200 <= response.status < 300 and (remaining or 0) <= _MAX_ERROR_BODY
            if remaining == 0 or (remaining is not None and small_answer):
                # Nothing or little left (a HEAD, a 401, a redirect): reading it marks the
                # http.client response finished, and the kept-alive connection can be reused.
                # An unfinished 2xx body is not drained: it may be huge, or stalled.
                response.drain_conn()
            else:
                response.close()
    finally:
        response.release_conn()


def _response_netloc(response: BaseHTTPResponse) -> str:
    url = response.url or ""
    return urlsplit(url).netloc or "the registry"


def _os_reason(error: BaseException) -> str:
    """The innermost OS-level reason ("connection refused"), without URLs or headers."""
    seen: BaseException | None = error
    reason: BaseException = error
    depth = 0
    while seen is not None and depth < 8:
        reason = seen
        nested = getattr(seen, "reason", None)
        seen = nested if isinstance(nested, BaseException) else (seen.__cause__ or seen.__context__)
        depth += 1
    import ssl

    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {reason.verify_message}"
    if isinstance(reason, ssl.SSLError):
        return clean_text(str(reason.reason or reason.strerror or reason).lower(), 160)
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    text = str(reason) or type(reason).__name__
    text = re.sub(r"<[^>]*>: ", "", text)
    return clean_text(text, 160)


def _registry_message(body: bytes) -> str:
    """The first message of a distribution error body (`{"errors":[{"code","message"}]}`)."""
    if not body:
        return ""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message") or errors[0].get("code")
        if isinstance(message, str):
            return clean_text(message.lower() if message.isupper() else message, 200)
    return ""
