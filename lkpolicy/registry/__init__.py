"""A verifying client for the OCI distribution API (registries and their mirrors).

Importing this package is cheap: the HTTP library loads on the first request, `rich` only when
progress is shown on a terminal.
"""

from lkpolicy.registry.auth import Credentials, DockerCredentialStore
from lkpolicy.registry.client import RegistryClient, RemoteImage
from lkpolicy.registry.errors import RegistryError
from lkpolicy.registry.options import Endpoint, RegistryOptions, is_loopback, parse_mirrors
from lkpolicy.registry.progress import ProgressCallback, PullProgress, pull_progress

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
