"""The registry client against a real docker-registry on 127.0.0.1 (and a few scripted fakes)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from registry_env import (
    DRIP_HEADERS,
    OCI_MANIFEST,
    OCILayout,
    Pushed,
    Registry,
    TokenServer,
    drip_body,
    dripping_server,
    fake_server,
    free_port,
    htpasswd_line,
    make_tls_certs,
    reply,
    sha256,
    silent_server,
    skopeo_push,
    tar_layer,
    wait_all,
)

from lkpolicy.model.oci import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    OCI_INDEX,
    Descriptor,
    Platform,
)
from lkpolicy.model.reference import parse
from lkpolicy.registry import (
    RegistryClient,
    RegistryError,
    RegistryOptions,
    parse_mirrors,
    pull_progress,
)
from lkpolicy.registry.auth import Credentials, parse_www_authenticate

USER, PASSWORD = "lkuser", "s3cret-Pa55"
REFRESH_TOKEN = "refresh-0123456789"


# --------------------------------------------------------------------------------------- fixtures


@dataclass
class Env:
    registry: Registry
    layout: Path
    images: dict[str, Pushed]
    layers: dict[str, bytes]
    """Compressed layer bytes by digest, as built."""

    def ref(self, repository: str, tag: str = "v1") -> Any:
        return parse(f"{self.registry.host}/{repository}:{tag}")


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("registry")
    layout = OCILayout(root / "oci")
    images: dict[str, Pushed] = {}
    layers: dict[str, bytes] = {}

    def layer(text: str, extra: int = 0) -> bytes:
        compressed, _ = tar_layer({f"etc/{text}.txt": (text * (1 + extra)).encode(),
                                   "bin/hello": f"#!/bin/sh\necho {text}\n".encode()})
        layers[sha256(compressed)] = compressed
        return compressed

    def single(name: str, **kwargs: Any) -> None:
        descriptor, pushed = layout.image(name, [layer(name), layer(name + "-2")], **kwargs)
        layout.tag(descriptor, name)
        images[name] = pushed

    for name in ("oci", "docker", "alpine", "corrupt", "truncated", "private", "public"):
        single(name)
    single("badmanifest", annotations={"org.lktest.note": "aaaaaaaa"})
    many, pushed = layout.image("many", [layer(f"many-{i}", extra=i * 50) for i in range(16)])
    layout.tag(many, "many")
    images["many"] = pushed
    children = []
    for platform in ("linux/amd64", "linux/arm64/v8", "linux/arm/v6", "linux/arm/v7"):
        parts = platform.split("/")
        descriptor, pushed = layout.image(f"multi-{platform}", [layer(platform.replace("/", "-"))],
                                          arch=parts[1], variant=parts[2] if len(parts) > 2 else "")
        images[f"multi-{platform}"] = pushed
        children.append((descriptor, platform))
    index = layout.index(children)
    layout.tag(index, "multi")
    images["multi"] = Pushed(index["digest"], index["size"], "", 0, [], "multi")
    layout.write_index()

    registry = Registry(root / "storage", root / "open").start()
    try:
        host = registry.host
        wait_all([
            skopeo_push(layout.root, "oci", f"{host}/lktest/oci:v1"),
            skopeo_push(layout.root, "docker", f"{host}/lktest/docker:v1", "--format", "v2s2"),
            skopeo_push(layout.root, "multi", f"{host}/lktest/multi:v1", "--all"),
            skopeo_push(layout.root, "alpine", f"{host}/library/alpine:test"),
            skopeo_push(layout.root, "corrupt", f"{host}/lktest/corrupt:v1"),
            skopeo_push(layout.root, "truncated", f"{host}/lktest/truncated:v1"),
            skopeo_push(layout.root, "badmanifest", f"{host}/lktest/badmanifest:v1"),
            skopeo_push(layout.root, "many", f"{host}/lktest/many:v1"),
            skopeo_push(layout.root, "private", f"{host}/private/app:v1"),
            skopeo_push(layout.root, "public", f"{host}/public/app:v1"),
        ])
        yield Env(registry, layout.root, images, layers)
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def basic_registry(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second registry on the same storage that wants HTTP basic auth (bcrypt htpasswd)."""
    workdir = tmp_path_factory.mktemp("basic")
    htpasswd = workdir / "htpasswd"
    htpasswd.write_text(htpasswd_line(USER, PASSWORD))
    registry = Registry(env.registry.storage, workdir,
                        auth={"htpasswd": {"realm": "lktest", "path": str(htpasswd)}}).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def token_env(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, TokenServer]]:
    """A registry on the same storage that wants bearer tokens from a token server of ours."""
    workdir = tmp_path_factory.mktemp("token")
    server = TokenServer(workdir, USER, PASSWORD, REFRESH_TOKEN)
    registry = Registry(env.registry.storage, workdir, auth=server.registry_auth()).start()
    yield registry, server
    registry.stop()
    server.close()


@pytest.fixture(scope="session")
def tls_registry(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    """The same storage over https, with a certificate from a test CA: (registry, CA file)."""
    workdir = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_tls_certs(workdir)
    registry = Registry(env.registry.storage, workdir, tls=(cert, key)).start()
    yield registry, ca
    registry.stop()


@pytest.fixture
def no_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the developer's own ~/.docker/config.json out of the tests."""
    directory = tmp_path / "docker-config-empty"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def client(**options: Any) -> RegistryClient:
    options.setdefault("timeout", 5)
    return RegistryClient(RegistryOptions(**options))


def write_docker_config(directory: Path, config: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def basic_auth(user: str = USER, password: str = PASSWORD) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def record_methods(registry_client: RegistryClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = registry_client.session.send

    def spy(ref: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"{method} {url.split('/v2/', 1)[-1]}")
        return original(ref, method, url, *args, **kwargs)

    monkeypatch.setattr(registry_client.session, "send", spy)
    return seen


# --------------------------------------------------------------------------------------- resolve / manifests


def test_resolve_tag_uses_head_only(env: Env, no_docker_config: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with client() as registry_client:
        seen = record_methods(registry_client, monkeypatch)
        descriptor = registry_client.resolve(env.ref("lktest/oci"))
    pushed = env.images["oci"]
    assert descriptor == Descriptor(OCI_MANIFEST, pushed.manifest_digest, pushed.manifest_size)
    assert seen == ["HEAD lktest/oci/manifests/v1"]


def test_resolve_index_and_pinned(env: Env, no_docker_config: Path) -> None:
    with client() as registry_client:
        descriptor = registry_client.resolve(env.ref("lktest/multi"))
        assert descriptor.media_type == OCI_INDEX
        assert descriptor.digest == env.images["multi"].manifest_digest
        pinned = parse(f"{env.registry.host}/lktest/multi:v1@{descriptor.digest}")
        assert registry_client.resolve(pinned) == descriptor


def test_get_manifest_oci(env: Env, no_docker_config: Path) -> None:
    with client() as registry_client:
        ref = env.ref("lktest/oci")
        manifest = registry_client.get_manifest(ref)
        assert manifest.media_type == OCI_MANIFEST
        assert manifest.digest == env.images["oci"].manifest_digest == sha256(manifest.data)
        image = registry_client.get_image(ref, Platform.parse("linux/s390x"))  # single-arch: any
        assert image.manifest == manifest and image.from_index is None and image.root == manifest
        config = json.loads(registry_client.get_blob(ref, image.config))
        assert config["config"]["Labels"]["org.lktest.label"] == "oci"
        assert [layer.digest for layer in image.layers] == \
            [layer["digest"] for layer in env.images["oci"].layers]


def test_get_manifest_docker_schema2(env: Env, no_docker_config: Path) -> None:
    with client() as registry_client:
        ref = env.ref("lktest/docker")
        assert registry_client.resolve(ref).media_type == DOCKER_MANIFEST
        image = registry_client.get_image(ref, Platform())
        assert image.manifest.media_type == DOCKER_MANIFEST
        assert image.config.media_type == DOCKER_CONFIG
        assert image.config.digest == env.images["docker"].config_digest
        config = json.loads(registry_client.get_blob(ref, image.config))
        assert config["config"]["Labels"]["org.lktest.label"] == "docker"


@pytest.mark.parametrize(("asked", "chosen"), [
    ("linux/amd64", "linux/amd64"),
    ("linux/arm64", "linux/arm64/v8"),  # the variant is ignored unless asked for
    ("linux/arm64/v8", "linux/arm64/v8"),
    ("linux/arm", "linux/arm/v6"),  # first match wins
    ("linux/arm/v7", "linux/arm/v7"),
])
def test_index_platform_selection(env: Env, no_docker_config: Path, asked: str, chosen: str) -> None:
    with client() as registry_client:
        ref = env.ref("lktest/multi")
        image = registry_client.get_image(ref, Platform.parse(asked))
        expected = env.images[f"multi-{chosen}"]
        assert image.manifest.digest == expected.manifest_digest
        assert image.from_index is not None and image.root.digest == env.images["multi"].manifest_digest
        config = json.loads(registry_client.get_blob(ref, image.config))
        assert config["config"]["Labels"]["org.lktest.label"] == f"multi-{chosen}"


def test_missing_platform_message(env: Env, no_docker_config: Path) -> None:
    written = f"{env.registry.host}/lktest/multi:v1"
    with client() as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.get_image(parse(written), Platform.parse("linux/s390x"))
    assert str(caught.value) == (
        f"{written}: no manifest for platform linux/s390x in index "
        f"{env.images['multi'].manifest_digest} "
        f"(available: linux/amd64, linux/arm64/v8, linux/arm/v6, linux/arm/v7)")


def test_unknown_tag_and_blob(env: Env, no_docker_config: Path) -> None:
    written = f"{env.registry.host}/lktest/oci:nope"
    with client() as registry_client:
        with pytest.raises(RegistryError) as caught:
            registry_client.resolve(parse(written))
        assert str(caught.value) == f"{written}: manifest unknown (HTTP 404)"
        assert caught.value.status == 404
        missing = Descriptor("application/octet-stream", "sha256:" + "0" * 64, 10)
        with pytest.raises(RegistryError, match=r"blob unknown.*\(HTTP 404\)$"):
            registry_client.copy_blob(env.ref("lktest/oci"), missing, io.BytesIO())


def test_pinned_digest_from_another_repository_is_unknown(env: Env, no_docker_config: Path) -> None:
    other = env.images["docker"]
    ref = parse(f"{env.registry.host}/lktest/oci@{env.images['oci'].manifest_digest}")
    with client() as registry_client:
        assert registry_client.get_manifest(ref).digest == env.images["oci"].manifest_digest
        with pytest.raises(RegistryError, match=r"manifest unknown \(HTTP 404\)"):
            registry_client.get_manifest(ref, other.manifest_digest)


# --------------------------------------------------------------------------------------- blobs


def test_blob_streaming_with_progress(env: Env, no_docker_config: Path) -> None:
    pushed = env.images["oci"]
    layer = pushed.layers[0]
    sink = io.BytesIO()
    counted: list[int] = []
    with client() as registry_client, pull_progress(io.StringIO()) as progress:
        assert not progress.enabled  # not a terminal
        callback = progress.blob("layer", layer["size"])
        registry_client.copy_blob(env.ref("lktest/oci"), Descriptor.from_json(layer), sink,
                                  progress=lambda n: (counted.append(n), callback(n)))
    assert sink.getvalue() == env.layers[layer["digest"]]
    assert sum(counted) == layer["size"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(sink.getvalue()))) as archive:
        assert "etc/oci.txt" in archive.getnames()


def test_progress_display_on_a_terminal() -> None:
    stream = io.StringIO()
    with pull_progress(stream, enabled=True) as progress:
        assert progress.enabled
        advance = progress.blob("sha256:abc", 100)
        advance(60)
        advance(40)


def test_get_blob_refuses_large_blobs(env: Env, no_docker_config: Path) -> None:
    layer = Descriptor.from_json(env.images["oci"].layers[0])
    with client(max_config_bytes=10) as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.get_blob(env.ref("lktest/oci"), layer)
    assert str(caught.value).endswith(f"blob {layer.digest} is larger than 10 bytes")
    with client(max_blob_bytes=10) as registry_client, \
            pytest.raises(RegistryError, match="larger than 10 bytes"):
        registry_client.copy_blob(env.ref("lktest/oci"), layer, io.BytesIO())


def test_corrupted_blob_is_refused(env: Env, no_docker_config: Path) -> None:
    layer = env.images["corrupt"].layers[0]
    path = env.registry.blob_path(layer["digest"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    written = f"{env.registry.host}/lktest/corrupt:v1"
    with client() as registry_client:
        with pytest.raises(RegistryError) as caught:
            registry_client.copy_blob(parse(written), Descriptor.from_json(layer), io.BytesIO())
        assert str(caught.value).startswith(f"{written}: digest mismatch for blob {layer['digest']}")
        with pytest.raises(RegistryError, match="digest mismatch for blob"):
            registry_client.get_blob(parse(written), Descriptor.from_json(layer))


def test_truncated_blob_is_refused(env: Env, no_docker_config: Path) -> None:
    layer = env.images["truncated"].layers[0]
    path = env.registry.blob_path(layer["digest"])
    path.write_bytes(path.read_bytes()[: layer["size"] // 2])
    with client() as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.copy_blob(env.ref("lktest/truncated"), Descriptor.from_json(layer),
                                  io.BytesIO())
    assert f"size mismatch for blob {layer['digest']}" in str(caught.value)


def test_corrupted_manifest_is_refused(env: Env, no_docker_config: Path) -> None:
    pushed = env.images["badmanifest"]
    path = env.registry.blob_path(pushed.manifest_digest)
    path.write_bytes(path.read_bytes().replace(b'"aaaaaaaa"', b'"aaaaaaab"'))
    with client() as registry_client:
        with pytest.raises(RegistryError, match=r"digest mismatch for manifest v1: the registry says "
                                                rf"{pushed.manifest_digest}"):
            registry_client.get_manifest(env.ref("lktest/badmanifest"))
        with pytest.raises(RegistryError, match=rf"digest mismatch for manifest {pushed.manifest_digest}"):
            registry_client.get_manifest(env.ref("lktest/badmanifest"), pushed.manifest_digest)


def test_manifest_over_the_limit(env: Env, no_docker_config: Path) -> None:
    written = f"{env.registry.host}/lktest/oci:v1"
    with client(max_manifest_bytes=100) as registry_client:
        for call in (registry_client.get_manifest, registry_client.resolve):
            with pytest.raises(RegistryError) as caught:
                call(parse(written))
            assert str(caught.value) == f"{written}: manifest is larger than 100 bytes"


def test_concurrent_blob_fetches(env: Env, no_docker_config: Path) -> None:
    pushed = env.images["many"]
    ref = env.ref("lktest/many")
    with client(max_concurrency=4) as registry_client:
        image = registry_client.get_image(ref, Platform())
        assert len(image.layers) == 16

        def fetch(descriptor: Descriptor) -> bytes:
            sink = io.BytesIO()
            registry_client.copy_blob(ref, descriptor, sink)
            return sink.getvalue()

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(fetch, list(image.layers) * 3))
    assert len(results) == 48
    for descriptor, data in zip(list(image.layers) * 3, results, strict=True):
        assert data == env.layers[descriptor.digest]
    assert {layer.digest for layer in image.layers} == {layer["digest"] for layer in pushed.layers}


# --------------------------------------------------------------------------------------- network failures


def test_stalling_server_times_out(no_docker_config: Path) -> None:
    with silent_server() as port:
        written = f"127.0.0.1:{port}/lktest/stall:v1"
        started = time.monotonic()
        with client(timeout=1) as registry_client, pytest.raises(RegistryError) as caught:
            registry_client.resolve(parse(written))
        elapsed = time.monotonic() - started
    assert str(caught.value) == f"{written}: timed out after 1s reading from 127.0.0.1:{port}"
    assert 0.9 <= elapsed < 3


def test_server_stalling_mid_body_times_out(no_docker_config: Path) -> None:
    release = threading.Event()
    body = b"x" * 1000

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body[:100])
        request.wfile.flush()
        release.wait(10)

    with fake_server(handler) as server:
        started = time.monotonic()
        try:
            with client(timeout=0.5) as registry_client, pytest.raises(RegistryError) as caught:
                registry_client.copy_blob(parse(f"{server.host}/x/y:v1"),
                                          Descriptor("a/b", sha256(body), len(body)), io.BytesIO())
        finally:
            release.set()
    assert f"timed out after 0.5s reading from {server.host}" in str(caught.value)
    assert time.monotonic() - started < 3


def _drip_limits(**options: Any) -> dict[str, Any]:
    # Every byte comes 50 ms after the last, well under the 1 s per-read timeout.
    return {"timeout": 1, "deadline_floor": 0.5, **options}


def test_dripping_manifest_hits_the_deadline(no_docker_config: Path) -> None:
    with dripping_server(*drip_body(1000, OCI_MANIFEST)) as port:
        written = f"127.0.0.1:{port}/lktest/drip:v1"
        started = time.monotonic()
        with client(**_drip_limits(min_rate=1000)) as registry_client, \
                pytest.raises(RegistryError) as caught:
            registry_client.get_manifest(parse(written))
        elapsed = time.monotonic() - started
    # 0.5 s plus 1000 bytes at 1000 bytes/s.
    assert 1.4 <= elapsed < 3
    assert re.fullmatch(rf"{re.escape(written)}: too slow: 127\.0\.0\.1:{port} sent \d+ bytes "
                        rf"in 1\.\ds, below the minimum of 1000 bytes/s after 0\.5s",
                        str(caught.value)), str(caught.value)


def test_dripping_headers_hit_the_deadline(no_docker_config: Path) -> None:
    with dripping_server(*DRIP_HEADERS) as port:
        written = f"127.0.0.1:{port}/lktest/drip:v1"
        started = time.monotonic()
        with client(**_drip_limits()) as registry_client, pytest.raises(RegistryError) as caught:
            registry_client.resolve(parse(written))
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2
    assert str(caught.value) == (f"{written}: too slow: 127.0.0.1:{port} sent no complete "
                                 f"answer header within 0.5s")


def test_dripping_blob_hits_the_deadline(no_docker_config: Path) -> None:
    head, body = drip_body(100_000)
    with dripping_server(head, body) as port:
        started = time.monotonic()
        with client(**_drip_limits(min_rate=100_000)) as registry_client, \
                pytest.raises(RegistryError, match=rf"too slow: 127\.0\.0\.1:{port} sent \d+ bytes"):
            registry_client.copy_blob(parse(f"127.0.0.1:{port}/x/y:v1"),
                                      Descriptor("a/b", sha256(body), len(body)), io.BytesIO())
    assert time.monotonic() - started < 3


def test_dripping_token_server_hits_the_deadline(no_docker_config: Path) -> None:
    with dripping_server(*drip_body(2000, "application/json")) as token_port:
        def registry(request: BaseHTTPRequestHandler) -> None:
            reply(request, 401, b"{}", {"WWW-Authenticate": f'Bearer realm="http://127.0.0.1:'
                                                            f'{token_port}/token",service="x"'})

        with fake_server(registry) as server, client(**_drip_limits(min_rate=1000)) as \
                registry_client, pytest.raises(RegistryError) as caught:
            registry_client.get_manifest(parse(f"{server.host}/x/y:v1"))
    assert f"too slow: 127.0.0.1:{token_port} sent" in str(caught.value)


def test_a_slow_transfer_above_the_minimum_rate_completes(no_docker_config: Path) -> None:
    """The deadline grows with the size: 40 bytes at 20 bytes/s pass a 0.5 s floor."""
    head, body = drip_body(40)
    with dripping_server(head, body) as port, \
            client(**_drip_limits(min_rate=10)) as registry_client:
        started = time.monotonic()
        data = registry_client.get_blob(parse(f"127.0.0.1:{port}/x/y:v1"),
                                        Descriptor("a/b", sha256(body), len(body)))
    assert data == body
    assert time.monotonic() - started >= 1.5


@pytest.mark.parametrize("option", ["timeout", "deadline_floor", "min_rate"])
def test_limits_must_be_positive(option: str) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RegistryOptions(**{option: 0})


def test_unreadable_ca_file(tmp_path: Path, no_docker_config: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    for ca_file in (bad, tmp_path / "missing.pem"):
        with client(ca_file=str(ca_file)) as registry_client, pytest.raises(RegistryError) as caught:
            registry_client.resolve(parse("quay.io/x/y:1"))
        assert str(caught.value).startswith(f"quay.io/x/y:1: cannot load CA certificates from {ca_file}")


def test_connection_refused(no_docker_config: Path) -> None:
    port = free_port()
    written = f"127.0.0.1:{port}/x/y:v1"
    with client() as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.resolve(parse(written))
    assert str(caught.value) == f"{written}: cannot connect to 127.0.0.1:{port}: connection refused"


def test_unbounded_manifest_body_is_cut_off(no_docker_config: Path) -> None:
    """No Content-Length (chunked): the client stops reading one byte past the limit."""
    sent = []

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", OCI_MANIFEST)
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        chunk = b"{" + b" " * 4095
        try:
            for _ in range(2048):  # 8 MiB, far beyond the limit
                request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent.append(len(chunk))
        except OSError:
            return

    with fake_server(handler) as server, client(max_manifest_bytes=10_000) as registry_client, \
            pytest.raises(RegistryError, match="manifest is larger than 10000 bytes"):
        registry_client.get_manifest(parse(f"{server.host}/x/y:v1"))
    assert sum(sent) < 8 * 1024 * 1024


def test_head_without_digest_falls_back_to_hashing_the_body(no_docker_config: Path) -> None:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "a/b", "digest": "sha256:" + "1" * 64, "size": 1},
                           "layers": []}).encode()

    def handler(request: BaseHTTPRequestHandler) -> None:
        headers = {"Content-Type": OCI_MANIFEST}
        if request.path.endswith("/liar"):
            headers["Docker-Content-Digest"] = "sha256:" + "2" * 64
        reply(request, 200, manifest, headers)

    with fake_server(handler) as server, client() as registry_client:
        descriptor = registry_client.resolve(parse(f"{server.host}/x/y:v1"))
        assert descriptor == Descriptor(OCI_MANIFEST, sha256(manifest), len(manifest))
        assert [r[0] for r in server.requests] == ["HEAD", "GET"]
        with pytest.raises(RegistryError, match=r"digest mismatch for manifest liar: the registry "
                                                r"says sha256:2{64}, the content hashes to"):
            registry_client.get_manifest(parse(f"{server.host}/x/y:liar"))


def test_redirects_do_not_carry_credentials_to_another_host(tmp_path: Path,
                                                            no_docker_config: Path) -> None:
    blob = b"layer bytes " * 100
    digest = sha256(blob)

    def storage(request: BaseHTTPRequestHandler) -> None:
        reply(request, 200, blob, {"Content-Type": "application/octet-stream"})

    with fake_server(storage) as store:
        def registry(request: BaseHTTPRequestHandler) -> None:
            if request.headers.get("Authorization") != f"Basic {basic_auth()}":
                reply(request, 401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
            else:
                reply(request, 307, b"", {"Location": f"http://{store.host}/data/{digest}?sig=1"})

        with fake_server(registry) as server:
            config = write_docker_config(tmp_path / "dc", {"auths": {server.host: {"auth": basic_auth()}}})
            with client(docker_config=str(config)) as registry_client:
                sink = io.BytesIO()
                registry_client.copy_blob(parse(f"{server.host}/x/y:v1"),
                                          Descriptor("a/b", digest, len(blob)), sink)
    assert sink.getvalue() == blob
    assert [r[2].get("Authorization") for r in server.requests] == [None, f"Basic {basic_auth()}"]
    assert len(store.requests) == 1 and "Authorization" not in store.requests[0][2]
    assert store.requests[0][1] == f"/data/{digest}?sig=1"


# --------------------------------------------------------------------------------------- mirrors, endpoints


def test_mirror_serves_docker_hub_names(env: Env, no_docker_config: Path) -> None:
    expected = env.images["alpine"].manifest_digest
    for mirrors in ({"docker.io": env.registry.url}, parse_mirrors([env.registry.url]),
                    parse_mirrors([f"index.docker.io={env.registry.url}/"])):
        with client(mirrors=mirrors) as registry_client:
            for written in ("alpine:test", "library/alpine:test",
                            "registry-1.docker.io/library/alpine:test"):
                assert registry_client.resolve(parse(written)).digest == expected
            image = registry_client.get_image(parse("alpine:test"), Platform())
            assert image.manifest.digest == expected


def test_https_mirror_with_a_private_ca(env: Env, tls_registry: tuple[Registry, Path],
                                        no_docker_config: Path) -> None:
    registry, ca = tls_registry
    mirrors = {"docker.io": registry.url}
    assert registry.url.startswith("https://")
    with client(mirrors=mirrors, ca_file=str(ca)) as registry_client:
        image = registry_client.get_image(parse("alpine:test"), Platform())
        assert image.manifest.digest == env.images["alpine"].manifest_digest
        registry_client.copy_blob(parse("alpine:test"), image.layers[0], io.BytesIO())
    with client(mirrors=mirrors) as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.resolve(parse("alpine:test"))
    assert str(caught.value).startswith(f"alpine:test: TLS error talking to {registry.host}: ")
    assert str(caught.value).endswith("certificate verify failed: unable to get local issuer certificate")


def test_endpoint_selection() -> None:
    options = RegistryOptions(insecure_http_registries=frozenset({"insecure.example:5000"}),
                              mirrors={"ghcr.io": "https://mirror.example/v2/"})
    registry_client = RegistryClient(options)
    cases = {
        "alpine:3.20": "https://registry-1.docker.io",
        "index.docker.io/library/alpine:3.20": "https://registry-1.docker.io",
        "127.0.0.1:5000/x/y:1": "http://127.0.0.1:5000",
        "127.3.2.1:5000/x/y:1": "http://127.3.2.1:5000",
        "localhost:5000/x:1": "http://localhost:5000",
        "[::1]:5000/x/y:1": "http://[::1]:5000",
        "quay.io/x/y:1": "https://quay.io",
        "10.0.0.1:5000/x/y:1": "https://10.0.0.1:5000",
        "insecure.example:5000/x/y:1": "http://insecure.example:5000",
        "ghcr.io/x/y:1": "https://mirror.example",
    }
    for written, base in cases.items():
        assert registry_client.endpoint(parse(written)).base == base, written
    with pytest.raises(ValueError, match="must not contain credentials"):
        RegistryOptions(mirrors={"docker.io": "https://user:pw@mirror.example"})
    assert parse_mirrors(["docker.io=http://a:1,quay.io=https://b", "http://c"]) == \
        {"docker.io": "http://c", "quay.io": "https://b"}


# --------------------------------------------------------------------------------------- basic auth


def test_basic_auth_needs_credentials(env: Env, basic_registry: Registry,
                                      no_docker_config: Path) -> None:
    written = f"{basic_registry.host}/private/app:v1"
    with client() as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.resolve(parse(written))
    assert str(caught.value).startswith(
        f"{written}: authentication required (HTTP 401; no credentials for {basic_registry.host} in ")


@pytest.mark.parametrize("entry", [
    {"auth": basic_auth()},
    {"username": USER, "password": PASSWORD},
])
@pytest.mark.parametrize("key", ["{host}", "http://{host}/v2/"])
def test_basic_auth_from_docker_config(env: Env, basic_registry: Registry, tmp_path: Path,
                                       entry: dict[str, str], key: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "docker"
    write_docker_config(directory, {"auths": {key.format(host=basic_registry.host): entry}})
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))  # the default location honours it
    ref = parse(f"{basic_registry.host}/private/app:v1")
    with RegistryClient(RegistryOptions(timeout=5)) as registry_client:
        image = registry_client.get_image(ref, Platform())
        assert image.manifest.digest == env.images["private"].manifest_digest
        config = json.loads(registry_client.get_blob(ref, image.config))
        assert config["config"]["Labels"]["org.lktest.label"] == "private"


def test_basic_auth_wrong_password_keeps_it_secret(basic_registry: Registry, tmp_path: Path) -> None:
    config = write_docker_config(tmp_path, {"auths": {basic_registry.host: {
        "auth": basic_auth(password="wrong-Pa55word")}}})
    with client(docker_config=str(config)) as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.resolve(parse(f"{basic_registry.host}/private/app:v1"))
    assert "(HTTP 401)" in str(caught.value)
    assert "wrong-Pa55word" not in str(caught.value)
    assert basic_auth(password="wrong-Pa55word") not in str(caught.value)


def test_credential_helper(env: Env, basic_registry: Registry, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-lktest"
    helper.write_text("#!/bin/sh\nread server\n"
                      f'[ "$server" = "{basic_registry.host}" ] || exit 1\n'
                      f"echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\","
                      f"\"Secret\":\"{PASSWORD}\"}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    config = write_docker_config(tmp_path / "dc", {"credHelpers": {basic_registry.host: "lktest"}})
    with client(docker_config=str(config)) as registry_client:
        descriptor = registry_client.resolve(parse(f"{basic_registry.host}/private/app:v1"))
    assert descriptor.digest == env.images["private"].manifest_digest


# --------------------------------------------------------------------------------------- bearer tokens


def test_bearer_token_anonymous(env: Env, token_env: tuple[Registry, TokenServer],
                                no_docker_config: Path) -> None:
    registry, server = token_env
    before = len(server.requests)
    ref = parse(f"{registry.host}/public/app:v1")
    with client() as registry_client:
        assert registry_client.resolve(ref).digest == env.images["public"].manifest_digest
        image = registry_client.get_image(ref, Platform())
        registry_client.get_blob(ref, image.config)
    assert image.manifest.digest == env.images["public"].manifest_digest
    asked = server.requests[before:]
    assert len(asked) == 1, "the token is cached per registry and repository"
    assert asked[0] == {"method": "GET", "service": "lktest-registry", "authorization": False,
                        "scope": "repository:public/app:pull", "grant_type": ""}


def test_bearer_token_refused_without_credentials(token_env: tuple[Registry, TokenServer],
                                                  no_docker_config: Path) -> None:
    registry, _ = token_env
    written = f"{registry.host}/private/app:v1"
    with client() as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.get_manifest(parse(written))
    assert str(caught.value) == f"{written}: authentication required (HTTP 401)"


@pytest.mark.parametrize("override", [
    {"aud": "another-service"},
    {"iss": "another-issuer"},
    {"exp": int(time.time()) - 3600},
    {"access": [{"type": "repository", "name": "public/other", "actions": ["pull"]}]},
])
def test_registry_really_checks_the_tokens(token_env: tuple[Registry, TokenServer],
                                           no_docker_config: Path, override: dict[str, Any]) -> None:
    """The bearer tests prove something only if the registry verifies what the server issues."""
    registry, server = token_env
    server.overrides = override
    try:
        with client() as registry_client, pytest.raises(RegistryError, match=r"\(HTTP 401\)$"):
            registry_client.resolve(parse(f"{registry.host}/public/app:v1"))
    finally:
        server.overrides = {}


@pytest.mark.parametrize("entry", [{"auth": basic_auth()}, {"identitytoken": REFRESH_TOKEN}])
def test_bearer_token_with_credentials(env: Env, token_env: tuple[Registry, TokenServer],
                                       tmp_path: Path, entry: dict[str, str]) -> None:
    registry, server = token_env
    config = write_docker_config(tmp_path, {"auths": {registry.host: entry}})
    before = len(server.requests)
    ref = parse(f"{registry.host}/private/app:v1")
    with client(docker_config=str(config)) as registry_client:
        image = registry_client.get_image(ref, Platform())
        layer = image.layers[0]
        sink = io.BytesIO()
        registry_client.copy_blob(ref, layer, sink)
    assert hashlib.sha256(sink.getvalue()).hexdigest() == layer.digest.split(":")[1]
    asked = server.requests[before:]
    assert len(asked) == 1
    if "identitytoken" in entry:
        assert asked[0]["method"] == "POST" and asked[0]["grant_type"] == "refresh_token"
    else:
        assert asked[0]["method"] == "GET" and asked[0]["authorization"]


def test_bearer_token_wrong_credentials(token_env: tuple[Registry, TokenServer], tmp_path: Path) -> None:
    registry, server = token_env
    config = write_docker_config(tmp_path, {"auths": {registry.host: {
        "auth": basic_auth(password="nope-Secret")}}})
    with client(docker_config=str(config)) as registry_client, pytest.raises(RegistryError) as caught:
        registry_client.resolve(parse(f"{registry.host}/private/app:v1"))
    token_host = server.url.split("/")[2]
    assert str(caught.value).endswith(f"token server {token_host} refused the credentials (HTTP 401)")
    assert "nope-Secret" not in str(caught.value)


# --------------------------------------------------------------------------------------- units


def test_www_authenticate_parsing() -> None:
    (bearer, basic) = parse_www_authenticate([
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push", Basic realm="x\\"y"'])
    assert bearer.scheme == "bearer" and bearer.realm == "https://auth.example/token"
    assert bearer.params["scope"] == "repository:a/b:pull,push"
    assert basic.scheme == "basic" and basic.realm == 'x"y'
    assert parse_www_authenticate(["Basic"])[0].params == {}


def test_secrets_stay_out_of_reprs_and_errors(tmp_path: Path) -> None:
    credentials = Credentials("alice", "hunter2", "idtok")
    assert "hunter2" not in repr(credentials) and "alice" not in repr(credentials)
    path = write_docker_config(tmp_path, {"auths": {"r.example": {"auth": "%%%hunter2"}}})
    path.write_text(path.read_text()[:-3])  # broken JSON that contains the secret
    registry_client = client(docker_config=str(path))
    with pytest.raises(RegistryError) as caught:
        registry_client.session.credentials_for(parse("r.example/x:1"), registry_client.endpoint(
            parse("r.example/x:1")))
    assert "hunter2" not in str(caught.value) and "not valid JSON" in str(caught.value)


def test_docker_hub_credentials_key(tmp_path: Path) -> None:
    config = write_docker_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {
        "auth": basic_auth("hub", "pw")}}})
    registry_client = client(docker_config=str(config))
    ref = parse("alpine:3.20")
    credentials = registry_client.session.credentials_for(ref, registry_client.endpoint(ref))
    assert credentials is not None and credentials.username == "hub"
    mirrored = client(docker_config=str(config), mirrors={"docker.io": "http://127.0.0.1:1"})
    assert mirrored.session.credentials_for(ref, mirrored.endpoint(ref)) is None  # not sent to a mirror


def test_registry_error_is_one_line_and_picklable() -> None:
    error = RegistryError("docker.io/library/alpine:3.20", "manifest unknown\n(HTTP 404)", 404)
    assert str(error) == "docker.io/library/alpine:3.20: manifest unknown (HTTP 404)"
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.status == 404


def test_import_is_light() -> None:
    code = ("import sys, lkpolicy.registry; "
            "print(sorted(m for m in ('urllib3', 'rich', 'ssl', 'subprocess') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
