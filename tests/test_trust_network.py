"""The registry, notary and TUF clients against hostile or absent servers on 127.0.0.1.

All three share lkpolicy.registry.transport, so they word a failure the same way: a refused
connection is "cannot connect ... connection refused" (urllib3 derives that error from its connect
timeout, and one client once called it "timed out after 30s"), and a server that drips its answer
(TLS handshake, headers or body), each byte well within the per-read timeout, fails on the
transfer's deadline with a one-line "too slow" error, in about the time the deadline allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from registry_env import DRIP_HEADERS, DRIP_TLS, drip_body, dripping_server, free_port

from lkpolicy.model.reference import parse
from lkpolicy.registry import RegistryClient, RegistryError, RegistryOptions
from lkpolicy.stages.trust.errors import NetworkError, TrustError
from lkpolicy.stages.trust.notary.client import NotaryClient

GUN = "127.0.0.1:5000/lktest/signed"
IMAGE = "linuxkit/init:v1.0"
# Each dripped byte comes 50 ms after the last: far within the 2 s per-read timeout.
LIMITS = {"timeout": 2.0, "deadline_floor": 0.5, "min_rate": 1000.0}


def _registry(url: str, tmp_path: Path, **limits: Any) -> str:
    # docker.io through a mirror at the URL: the same code path for http and https.
    options = RegistryOptions(mirrors={"docker.io": url}, docker_config=str(tmp_path / "no.json"),
                              **limits)
    with RegistryClient(options) as client, pytest.raises(RegistryError) as caught:
        client.get_manifest(parse(IMAGE))
    return str(caught.value)


def _notary(url: str, tmp_path: Path, **limits: Any) -> str:
    with NotaryClient(url, tmp_path, **limits) as client, pytest.raises(NetworkError) as caught:
        client.lookup(GUN, "v1")
    return str(caught.value)


def _tuf(url: str, tmp_path: Path, **limits: Any) -> str:
    from tuf_helpers import TufRepo

    from lkpolicy.stages.trust.tuf_verifier import TufVerifier

    root = TufRepo(tmp_path / "repo").root_bytes()
    with TufVerifier(f"{url}/metadata/", root, tmp_path / "cache", **limits) as verifier, \
            pytest.raises(TrustError) as caught:
        verifier.verify(parse(IMAGE))
    assert type(caught.value) is NetworkError
    return str(caught.value)


CLIENTS: dict[str, Callable[..., str]] = {"registry": _registry, "notary": _notary, "tuf": _tuf}


@pytest.mark.parametrize("client", CLIENTS)
def test_refused_connection_is_reported_as_refused(client: str, tmp_path: Path) -> None:
    port = free_port()  # bound, then closed: nothing listens there
    started = time.monotonic()
    message = CLIENTS[client](f"http://127.0.0.1:{port}", tmp_path)
    assert message.endswith(f"cannot connect to 127.0.0.1:{port}: connection refused"), message
    assert "timed out" not in message
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("client", CLIENTS)
def test_refused_tls_connection_is_reported_as_refused(client: str, tmp_path: Path) -> None:
    port = free_port()
    message = CLIENTS[client](f"https://127.0.0.1:{port}", tmp_path)
    assert message.endswith(f"cannot connect to 127.0.0.1:{port}: connection refused"), message


@pytest.mark.parametrize(("scheme", "answer", "phase"), [
    ("http", drip_body(1000), "body"),
    ("http", DRIP_HEADERS, "headers"),
    ("https", DRIP_TLS, "handshake"),
], ids=["body", "headers", "tls-handshake"])
@pytest.mark.parametrize("client", CLIENTS)
def test_dripping_server_fails_on_the_deadline(client: str, scheme: str,
                                               answer: tuple[bytes, bytes], phase: str,
                                               tmp_path: Path) -> None:
    with dripping_server(*answer) as port:
        started = time.monotonic()
        message = CLIENTS[client](f"{scheme}://127.0.0.1:{port}", tmp_path, **LIMITS)
        elapsed = time.monotonic() - started
    assert f"too slow: 127.0.0.1:{port} sent " in message, message
    assert "\n" not in message
    # The floor for headers and handshakes; the floor plus 1000 bytes at 1000 bytes/s for a body.
    assert 0.4 <= elapsed < (2.5 if phase == "body" else 1.5), elapsed
