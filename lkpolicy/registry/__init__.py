"""A verifying client for the OCI distribution API (registries and their mirrors).

Importing this package is cheap: its names load from their modules on first use (the trust
errors import `registry.errors` on every check that verifies signatures), the HTTP library on
the first request, `rich` only when progress is shown on a terminal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.registry.auth import Credentials, DockerCredentialStore
    from lkpolicy.registry.client import RegistryClient, RemoteImage
    from lkpolicy.registry.errors import RegistryError
    from lkpolicy.registry.options import Endpoint, RegistryOptions, is_loopback, parse_mirrors
    from lkpolicy.registry.progress import ProgressCallback, PullProgress, pull_progress

_MODULES = {
    "Credentials": "auth", "DockerCredentialStore": "auth",
    "RegistryClient": "client", "RemoteImage": "client",
    "RegistryError": "errors",
    "Endpoint": "options", "RegistryOptions": "options", "is_loopback": "options",
    "parse_mirrors": "options",
    "ProgressCallback": "progress", "PullProgress": "progress", "pull_progress": "progress",
}

__all__ = [
    "Credentials",
    "DockerCredentialStore",
    "Endpoint",
    "ProgressCallback",
    "PullProgress",
    "RegistryClient",
    "RegistryError",
    "RegistryOptions",
    "RemoteImage",
    "is_loopback",
    "parse_mirrors",
    "pull_progress",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
