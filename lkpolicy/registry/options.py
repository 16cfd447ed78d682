"""What a registry client is told: mirrors, TLS, limits, and where each registry is reached."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lkpolicy import __version__
from lkpolicy.model.oci import MAX_CONFIG_BLOB_BYTES, MAX_MANIFEST_BYTES
from lkpolicy.redaction import redact_url
from lkpolicy.registry.auth import DOCKER_HUB_HOSTS
from lkpolicy.registry.transport import (
    DEFAULT_DEADLINE_FLOOR,
    DEFAULT_MIN_RATE,
    DEFAULT_TIMEOUT,
    TransferLimits,
    check_server_url,
    host_only,
)

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
DEFAULT_MAX_BLOB_BYTES = 16 * 1024**3
DEFAULT_MAX_CONCURRENCY = 8


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


def normalise_registry(name: str) -> str:
    """A registry name as credentials and mirrors are keyed: lower case, Docker Hub as docker.io."""
    name = name.strip().lower()
    return "docker.io" if name in DOCKER_HUB_HOSTS else name


def _check_mirror_url(registry: str, url: str) -> str:
    # The value was typed on a command line or in $LINUXKIT_MIRROR: it may hold a password.
    # Credentials belong in config.json, where they stay out of command lines and messages.
    check_server_url(url, f"mirror for {redact_url(registry)}")
    parts = urlsplit(url)
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
    deadline_floor: float = DEFAULT_DEADLINE_FLOOR
    min_rate: float = DEFAULT_MIN_RATE
    """Every request (token, manifest, blob) must end within `deadline_floor` seconds plus its size
    at `min_rate` bytes per second: a server that drips bytes fails too."""
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
            key = normalise_registry(registry)
            normalised[key] = _check_mirror_url(key, url)
        object.__setattr__(self, "mirrors", normalised)
        object.__setattr__(self, "insecure_http_registries",
                           frozenset(normalise_registry(r) for r in self.insecure_http_registries))
        _ = self.limits  # a bad timeout, floor or rate is a ValueError here, not at first use
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

    @property
    def limits(self) -> TransferLimits:
        return TransferLimits(self.timeout, self.deadline_floor, self.min_rate)

    def is_insecure(self, netloc: str) -> bool:
        """Whether plain http was asked for this registry (host or host:port)."""
        insecure = self.insecure_http_registries
        return netloc in insecure or host_only(netloc) in insecure


def is_loopback(netloc: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: registries here need no TLS, as Docker also assumes."""
    host = host_only(netloc).lower()
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


def endpoint_for(registry_name: str, options: RegistryOptions) -> Endpoint:
    """The registry's mirror if one is configured, else the registry itself (https unless it is
    loopback or listed as insecure)."""
    registry = normalise_registry(registry_name)
    mirror = options.mirrors.get(registry)
    if mirror:
        return Endpoint(registry, mirror)
    host = DOCKER_HUB_ENDPOINT if registry == "docker.io" else registry_name
    plain = is_loopback(host) or options.is_insecure(registry)
    return Endpoint(registry, f"{'http' if plain else 'https'}://{host}")
