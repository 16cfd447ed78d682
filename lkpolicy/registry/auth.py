"""Registry authentication: challenges, Docker's stored credentials, and a token cache.

The network exchanges themselves (asking a token server) live in the client, which owns the HTTP
pool; this module is pure parsing and bookkeeping so that it can be tested without a server.

Nothing here logs a secret or puts one into an exception message: `Credentials` hides its fields
from `repr`, and errors name the registry and the config file, never their contents.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkpolicy.safeio import UntrustedInput, parse_json, read_regular_file

log = logging.getLogger("lkpolicy.registry")

DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"
"""The key under which `docker login` stores Docker Hub credentials, whatever alias was used."""

DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_TOKEN_EXPIRY_MARGIN = 10.0
"""Seconds before a token's stated expiry at which it is renewed, so that it never expires in flight."""
_DEFAULT_TOKEN_LIFETIME = 60.0
"""The distribution token spec says a token without `expires_in` lives 60 seconds."""
_HELPER_TIMEOUT = 30.0

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*")
_PARAM = re.compile(r"([A-Za-z0-9!#$%&'*+.^_`|~-]+)[ \t]*=[ \t]*(\"(?:[^\"\\]|\\.)*\"|[^,\s]*)")


class AuthError(Exception):
    """Credentials could not be read; the message names the source, never the secret."""


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str
    """Lower case: `bearer` or `basic` (others are kept so that the error can name them)."""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_www_authenticate(values: list[str]) -> list[Challenge]:
    """Every challenge in one or more `WWW-Authenticate` values (RFC 7235 syntax, leniently)."""
    challenges: list[Challenge] = []
    for value in values:
        position = 0
        current: Challenge | None = None
        while position < len(value):
            char = value[position]
            if char in " \t,":
                position += 1
                continue
            param = _PARAM.match(value, position)
            if param and current is not None:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current.params[param.group(1).lower()] = raw
                position = param.end()
                continue
            scheme = _SCHEME.match(value, position)
            if not scheme:
                break  # garbage: keep what was understood so far
            current = Challenge(scheme.group(0).lower(), {})
            challenges.append(current)
            position = scheme.end()
    return challenges


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = field(repr=False)
    password: str = field(repr=False)
    identity_token: str = field(default="", repr=False)
    """An OAuth2 refresh token (`identitytoken` in config.json): exchanged at the token server."""
    source: str = ""
    """Where these came from (a file path or a helper name), for error messages."""

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def default_docker_config() -> Path:
    """Docker's own rule: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`."""
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def credential_key(registry: str) -> str:
    """The name a registry is stored under in config.json and passed to credential helpers."""
    return DOCKER_HUB_CREDENTIAL_KEY if registry in DOCKER_HUB_HOSTS else registry


def _hostname_of_key(key: str) -> str:
    """Docker's `ConvertToHostname`: `https://host:port/v1/` and `host:port` name the same registry."""
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    return key.split("/", 1)[0]


_MAX_CONFIG_BYTES = 16 * 1024 * 1024


class DockerCredentialStore:
    """Credentials from Docker's config.json, read once, looked up per registry host."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_docker_config()
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._resolved: dict[str, Credentials | None] = {}

    def _load(self) -> dict[str, Any]:
        if self._config is None:
            try:
                raw = read_regular_file(self.path, _MAX_CONFIG_BYTES, "docker config")
            except FileNotFoundError:
                self._config = {}
                return self._config
            except OSError as error:
                raise AuthError(f"cannot read {self.path}: {error.strerror}") from None
            except UntrustedInput as error:
                raise AuthError(str(error)) from None
            try:
                parsed = parse_json(raw, "docker config")
            except ValueError:
                # The parser's message can quote the file's text, which holds secrets.
                raise AuthError(f"{self.path} is not valid JSON") from None
            self._config = parsed if isinstance(parsed, dict) else {}
        return self._config

    def get(self, registry: str) -> Credentials | None:
        """Credentials for `registry` (host[:port], or a Docker Hub alias), or None."""
        with self._lock:
            if registry not in self._resolved:
                self._resolved[registry] = self._lookup(registry)
            return self._resolved[registry]

    def _lookup(self, registry: str) -> Credentials | None:
        config = self._load()
        key = credential_key(registry)
        helpers = config.get("credHelpers")
        helper = None
        if isinstance(helpers, dict):
            helper = helpers.get(key) or helpers.get(registry)
        if not helper and isinstance(config.get("credsStore"), str):
            helper = config["credsStore"]
        if isinstance(helper, str) and helper:
            found = _run_helper(helper, key)
            if found is not None:
                return found
        auths = config.get("auths")
        if not isinstance(auths, dict):
            return None
        wanted = DOCKER_HUB_HOSTS if registry in DOCKER_HUB_HOSTS else {registry}
        entry = auths.get(key)
        if entry is None:
            for name, value in auths.items():
                if isinstance(name, str) and _hostname_of_key(name) in wanted:
                    entry = value
                    break
        if not isinstance(entry, dict):
            return None
        return self._from_entry(entry, registry)

    def _from_entry(self, entry: dict[str, Any], registry: str) -> Credentials | None:
        username = entry.get("username") if isinstance(entry.get("username"), str) else ""
        password = entry.get("password") if isinstance(entry.get("password"), str) else ""
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise AuthError(f"{self.path}: the `auth` entry for {registry} is not base64 "
                                f"of user:password") from None
            if ":" not in decoded:
                raise AuthError(f"{self.path}: the `auth` entry for {registry} is not base64 "
                                f"of user:password")
            username, _, password = decoded.partition(":")
        identity = entry.get("identitytoken")
        identity = identity if isinstance(identity, str) else ""
        if not (username or identity):
            return None
        return Credentials(str(username), str(password), identity, str(self.path))


def _run_helper(helper: str, server: str) -> Credentials | None:
    """`docker-credential-<helper> get`, the protocol Docker uses for `credsStore`/`credHelpers`."""
    import shutil
    import subprocess

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", helper):
        raise AuthError(f"invalid credential helper name {helper!r}")
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        log.debug("credential helper docker-credential-%s not found; skipping it", helper)
        return None
    try:
        completed = subprocess.run([program, "get"], input=server.encode(), capture_output=True,
                                   timeout=_HELPER_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AuthError(f"credential helper docker-credential-{helper} failed: "
                        f"{type(error).__name__}") from None
    if completed.returncode != 0:
        # "credentials not found" is the normal answer for an unknown registry; anything the helper
        # printed stays out of the message because it may echo what it was given.
        log.debug("docker-credential-%s has no credentials for %s", helper, server)
        return None
    try:
        answer = parse_json(completed.stdout, "credential helper answer")
    except ValueError:
        raise AuthError(f"credential helper docker-credential-{helper} printed invalid JSON") from None
    if not isinstance(answer, dict):
        return None
    username, secret = answer.get("Username"), answer.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        return None
    if username == "<token>":
        return Credentials("", "", secret, f"docker-credential-{helper}")
    return Credentials(username, secret, "", f"docker-credential-{helper}")


class AuthCache:
    """Authorization headers per registry endpoint and repository, shared by all threads.

    Keyed by the repository rather than by the scope a registry asked for, so that the next request
    for the same repository sends the header up front instead of collecting another 401 first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bearer: dict[tuple[str, str], tuple[str, float]] = {}
        self._basic: dict[str, str] = {}

    def header(self, origin: str, repository: str) -> str | None:
        with self._lock:
            basic = self._basic.get(origin)
            if basic is not None:
                return basic
            entry = self._bearer.get((origin, repository))
            if entry is None:
                return None
            value, expires = entry
            if time.monotonic() >= expires:
                del self._bearer[(origin, repository)]
                return None
            return value

    def store_bearer(self, origin: str, repository: str, token: str, lifetime: float) -> str:
        value = f"Bearer {token}"
        expires = time.monotonic() + max(lifetime - _TOKEN_EXPIRY_MARGIN, 1.0)
        with self._lock:
            self._bearer[(origin, repository)] = (value, expires)
        return value

    def store_basic(self, origin: str, value: str) -> None:
        with self._lock:
            self._basic[origin] = value

    def forget(self, origin: str, repository: str) -> None:
        with self._lock:
            self._bearer.pop((origin, repository), None)
            self._basic.pop(origin, None)


def token_from_response(data: bytes) -> tuple[str, float]:
    """The token and its lifetime from a token server's JSON answer (`token` or `access_token`)."""
    try:
        parsed = parse_json(data, "token answer")
    except ValueError:
        raise AuthError("the token server's answer is not JSON") from None
    if not isinstance(parsed, dict):
        raise AuthError("the token server's answer is not a JSON object")
    token = parsed.get("token") or parsed.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthError("the token server's answer has no token")
    lifetime = parsed.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = _DEFAULT_TOKEN_LIFETIME
    return token, float(lifetime)
