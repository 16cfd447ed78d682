"""Requests to registries: authentication, redirects, and the errors of the distribution API.

A `RegistrySession` sends one API request for an image reference the way Docker does: to the
registry's mirror or the registry itself, with the stored credentials for that host (a mirror gets
its own, never those of the registry it stands in for), answering a 401 challenge once (a bearer
token from the token server, or basic credentials), and following redirects without carrying the
Authorization header to another origin. Everything it raises is a `RegistryError`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urljoin, urlsplit

from lkpolicy.model.reference import ImageRef
from lkpolicy.redaction import redact_secrets
from lkpolicy.registry.auth import (
    AuthCache,
    AuthError,
    Challenge,
    Credentials,
    DockerCredentialStore,
    parse_www_authenticate,
    token_from_response,
)
from lkpolicy.registry.errors import RegistryError, clean_text
from lkpolicy.registry.options import Endpoint, RegistryOptions, endpoint_for, is_loopback
from lkpolicy.registry.transport import (
    MAX_ERROR_BODY,
    Response,
    TransportError,
    create_pool,
    host_port,
    request,
)
from lkpolicy.safeio import parse_json

if TYPE_CHECKING:
    import urllib3

CHUNK = 1024 * 1024
"""Bytes read at a time from a body."""
_MAX_TOKEN_BODY = 1024 * 1024
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

_STATUS_TEXT = {
    401: "authentication required",
    403: "access denied",
    404: "not found",
    405: "method not allowed",
    429: "too many requests",
}


class RegistrySession:
    """Authenticated requests to the registries of image references; safe to share between
    threads. The pool is built on the first request."""

    def __init__(self, options: RegistryOptions) -> None:
        self.options = options
        self.credentials = DockerCredentialStore(options.docker_config)
        self._auth = AuthCache()
        self._pool_lock = threading.Lock()
        self._pool: urllib3.PoolManager | None = None
        self._sent: set[str] = set()
        """Secrets this session sent (passwords, tokens, headers): a registry may echo them in a
        form no pattern of `redact_secrets` recognises."""

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.clear()
                self._pool = None

    def _http(self, ref: ImageRef) -> urllib3.PoolManager:
        with self._pool_lock:
            if self._pool is None:
                try:
                    self._pool = create_pool(self.options.limits, ca_file=self.options.ca_file,
                                             system_store=True,
                                             size=self.options.max_concurrency, block=True)
                except TransportError as error:
                    raise RegistryError(ref.original, str(error)) from None
            return self._pool

    # ---------------------------------------------------------------- endpoints

    def endpoint(self, ref: ImageRef) -> Endpoint:
        return endpoint_for(ref.registry, self.options)

    def credentials_for(self, ref: ImageRef, endpoint: Endpoint) -> Credentials | None:
        # A mirror gets the credentials stored for the mirror's own host, never those of the
        # registry it stands in for: a mirror is a different party.
        mirrored = endpoint.registry in self.options.mirrors
        name = endpoint.netloc if mirrored else endpoint.registry
        try:
            return self.credentials.get(name)
        except AuthError as error:
            raise RegistryError(ref.original, str(error)) from None

    # ---------------------------------------------------------------- requests

    def request(self, ref: ImageRef, method: str, path: str,
                headers: dict[str, str]) -> Response:
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
            response.release()
            retried = True
            self._auth.forget(endpoint.origin, repository)
            authorization = self._authenticate(ref, endpoint, challenges)

    def _follow(self, ref: ImageRef, method: str, url: str, headers: dict[str, str],
                origin: str) -> Response:
        """Send, following redirects: storage backends hand blobs out from other hosts."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = self.send(ref, method, url, headers)
            if response.status not in _REDIRECTS:
                return response
            location = response.headers.get("Location")
            response.release()
            if not location:
                raise RegistryError(ref.original, f"redirect without a location "
                                                  f"(HTTP {response.status})")
            target = urljoin(url, location)
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https"):
                raise RegistryError(ref.original, f"refusing a redirect to a "
                                                  f"{parts.scheme or 'relative'} URL")
            if (url.startswith("https:") and parts.scheme == "http"
                    and not is_loopback(parts.netloc)):
                raise RegistryError(ref.original, f"refusing a redirect from https to plain http "
                                                  f"({host_port(target)})")
            if f"{parts.scheme}://{parts.netloc}" != origin:
                # The token is for the registry; a storage host gets its authority from the
                # redirect URL itself, and must not learn the registry credentials.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        raise RegistryError(ref.original, f"too many redirects (more than {_MAX_REDIRECTS})")

    def send(self, ref: ImageRef, method: str, url: str, headers: dict[str, str],
             body: bytes | None = None) -> Response:
        """One HTTP request as is (no authentication, no redirects)."""
        try:
            return request(self._http(ref), method, url, self.options.limits, headers=headers,
                           body=body)
        except TransportError as error:
            raise RegistryError(ref.original, str(error)) from None

    def read(self, ref: ImageRef, response: Response, amount: int) -> bytes:
        try:
            return response.read(amount)
        except TransportError as error:
            raise RegistryError(ref.original, str(error)) from None

    def read_limited(self, ref: ImageRef, response: Response, limit: int, kind: str) -> bytes:
        """The whole body, refused when longer than `limit`."""
        try:
            data = response.read_limited(limit, CHUNK)
        except TransportError as error:
            raise RegistryError(ref.original, str(error)) from None
        if data is None:
            raise RegistryError(ref.original, f"{kind} is larger than {limit} bytes")
        return data

    def status_error(self, ref: ImageRef, response: Response, kind: str,
                     digest: str | None) -> RegistryError:
        """The error for a non-2xx answer: the registry's own message when it sent one."""
        status = response.status
        message = ""
        try:
            body = response.read(MAX_ERROR_BODY) if status != 204 else b""
            message = _registry_message(body)
        except (TransportError, ValueError, RecursionError):
            message = ""  # the status alone still says enough
        with self._pool_lock:
            sent = tuple(self._sent)
        message = redact_secrets(message, sent)
        if not message:
            if status == 404:
                message = f"{kind} unknown" + (f" {digest}" if digest and kind == "blob" else "")
            else:
                message = _STATUS_TEXT.get(status, response.reason or "error")
        return RegistryError(ref.original, f"{message} (HTTP {status})", status)

    # ---------------------------------------------------------------- authentication

    def _authenticate(self, ref: ImageRef, endpoint: Endpoint,
                      challenges: list[Challenge]) -> str:
        credentials = self.credentials_for(ref, endpoint)
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
                                                      f"{self.credentials.path})", 401)
                if not self._may_send_secret(endpoint.base):
                    raise RegistryError(ref.original, f"refusing to send credentials over plain "
                                                      f"http to {endpoint.netloc}")
                header = credentials.basic_header()
                self._remember(credentials, header)
                self._auth.store_basic(endpoint.origin, header)
                return header
        schemes = ", ".join(sorted({c.scheme for c in challenges}))
        raise RegistryError(ref.original, f"unsupported authentication scheme ({schemes}) "
                                          f"at {endpoint.netloc}")

    def _may_send_secret(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme == "https" or is_loopback(parts.netloc)
                or self.options.is_insecure(parts.netloc))

    def _bearer_token(self, ref: ImageRef, endpoint: Endpoint, challenge: Challenge,
                      credentials: Credentials | None) -> str:
        realm = challenge.realm
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(ref.original, f"the registry's token realm is not an http(s) URL "
                                              f"({clean_text(realm, 100)})")
        server = host_port(realm)
        repository = ref.repository
        scope = challenge.params.get("scope") or f"repository:{repository}:pull"
        service = challenge.params.get("service", "")
        headers = {"User-Agent": self.options.user_agent}
        if credentials is not None and not self._may_send_secret(realm):
            raise RegistryError(ref.original, f"refusing to send credentials over plain http to "
                                              f"the token server {server}")
        if credentials is not None and credentials.identity_token:
            # OAuth2 refresh-token grant, what Docker does with an `identitytoken`.
            form = {"grant_type": "refresh_token", "refresh_token": credentials.identity_token,
                    "service": service, "scope": scope, "client_id": "lkpolicy"}
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self.send(ref, "POST", realm, headers, body=urlencode(form).encode())
        else:
            if credentials is not None and credentials.username:
                headers["Authorization"] = credentials.basic_header()
            query = urlencode({k: v for k, v in (("service", service), ("scope", scope)) if v})
            url = realm + ("&" if parts.query else "?") + query
            response = self.send(ref, "GET", url, headers)
        try:
            if not 200 <= response.status < 300:
                who = "refused the credentials" if credentials is not None else "refused"
                raise RegistryError(ref.original, f"token server {server} {who} "
                                                  f"(HTTP {response.status})", response.status)
            body = self.read_limited(ref, response, _MAX_TOKEN_BODY, "token server answer")
        finally:
            response.release()
        try:
            token, lifetime = token_from_response(body)
        except AuthError as error:
            raise RegistryError(ref.original, f"{error} ({server})") from None
        header = self._auth.store_bearer(endpoint.origin, repository, token, lifetime)
        self._remember(credentials, header)
        return header

    def _remember(self, credentials: Credentials | None, header: str) -> None:
        secrets = {header, header.partition(" ")[2]}
        if credentials is not None:
            secrets |= {credentials.password, credentials.identity_token,
                        credentials.basic_header().partition(" ")[2]}
        with self._pool_lock:
            self._sent |= {s for s in secrets if s}


def _registry_message(body: bytes) -> str:
    """The first message of a distribution error body (`{"errors":[{"code","message"}]}`)."""
    if not body:
        return ""
    try:
        parsed = parse_json(body, "error body")
    except ValueError:
        return ""
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message") or errors[0].get("code")
        if isinstance(message, str):
            return clean_text(message.lower() if message.isupper() else message, 200)
    return ""
