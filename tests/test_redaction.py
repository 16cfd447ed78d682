"""No credential reaches any output: lkpolicy.redaction, and the real code paths with a canary.

The end-to-end tests run the registry client, `lkpolicy cache pull`, `lkpolicy pin` and
`lkpolicy trust inspect` (as subprocesses: every byte they print counts) against hostile local
servers that echo what they were sent, and grep everything produced for a canary password.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from registry_env import fake_server, free_port, reply

from lkpolicy.model.reference import parse
from lkpolicy.redaction import REDACTED, redact_secrets, redact_url
from lkpolicy.registry import RegistryClient, RegistryError, RegistryOptions, parse_mirrors
from lkpolicy.stages.trust.notary.client import NotaryClient
from lkpolicy.stages.trust.tuf_verifier import TufVerifier

# Fixed (xdist workers must collect the same test ids) and found nowhere else.
CANARY = "Canary7f3a9c1e5d"
USER = "lkuser"
PASSWORD = f"pw-{CANARY}"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
TOKEN = f"tok.{CANARY}.sig"


def assert_clean(text: str) -> None:
    for secret in (CANARY, BASIC, BASIC.rstrip("=")):
        assert secret not in text, text


# --------------------------------------------------------------------------------------- units


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:secret@host/x", "https://***@host/x"),
    ("http://user:pa/ss@host:5000/x", "http://***@host:5000/x"),
    ("http://user:p@ss@host", "http://***@host"),
    ("ftp://u:secret@host", "ftp://***@host"),
    ("user:secret@host:5000", "***@host:5000"),
    ("https://host/v2/x?sig=abc&n=1&access_token=t", "https://host/v2/x?sig=***&n=1&access_token=***"),
    ("https://host:5000/path", "https://host:5000/path"),
    ("http://[::1]:80/x", "http://[::1]:80/x"),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Basic dXNlcjpzZWNyZXQ=", "Authorization: ***"),
    ('{"authorization": "Bearer a.b.c"}', '{"authorization": "***"}'),
    ('header \\"Authorization\\": \\"Basic Zm9vOmJhcg==\\"', 'header \\"Authorization\\": \\"***\\"'),
    ("sent Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig back", "sent Bearer *** back"),
    ("basic dXNlcjpwYXNz", "basic ***"),
    ('{"token":"t0k","access_token": "a", "expires_in": 300}',
     '{"token":"***","access_token": "***", "expires_in": 300}'),
    ("{'password': 'hunter2', 'user': 'bob'}", "{'password': '***', 'user': 'bob'}"),
    ("GET /token?service=r&scope=repository:a:pull&refresh_token=r3&password=p",
     "GET /token?service=r&scope=repository:a:pull&refresh_token=***&password=***"),
    ("client_secret: abc and password:def", "client_secret: *** and password:***"),
    ("see https://u:pw@host/x and http:\\/\\/u:pw@h", "see https://***@host/x and http:\\/\\/***@h"),
    ("it was s3cret-value here", "it was *** here"),
])
def test_redact_secrets(text: str, expected: str) -> None:
    assert redact_secrets(text, known=["s3cret-value"]) == expected


@pytest.mark.parametrize("text", [
    "docker.io/library/alpine:3.20@sha256:" + "a" * 64,
    "Basic authentication required (HTTP 401)",
    'Bearer realm="https://auth.example/token",service="registry"',
    "the token server's answer has no token",
    "token server 127.0.0.1:5000 refused the credentials (HTTP 401)",
    "cannot connect to 127.0.0.1:5000: connection refused",
    "scope=repository:library/alpine:pull",
])
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert redact_secrets(text) == text


def test_short_known_values_are_not_used() -> None:
    """A 3-character "secret" would blank out ordinary words everywhere."""
    assert redact_secrets("the pull failed", known=["the", ""]) == "the pull failed"
    assert REDACTED not in redact_secrets("plain text")


# --------------------------------------------------------------------------------------- hostile servers


def _echo_error(request: BaseHTTPRequestHandler, status: int) -> None:
    """A registry error whose message reflects every credential the client sent, in every form."""
    sent = request.headers.get("Authorization", "")
    decoded = ""
    if sent.startswith("Basic "):
        decoded = base64.b64decode(sent[6:]).decode()
    message = (f"DENIED for Authorization: {sent}; decoded {decoded}; raw {sent.partition(' ')[2]}; "
               f"query token={sent.partition(' ')[2]} " + json.dumps({"password": decoded}))
    body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()
    reply(request, status, body, {"Content-Type": "application/json"})


@pytest.fixture
def echoing_basic_registry() -> Iterator[str]:
    def handler(request: BaseHTTPRequestHandler) -> None:
        if "Authorization" not in request.headers:
            reply(request, 401, b"{}", {"WWW-Authenticate": 'Basic realm="lktest"'})
        else:
            _echo_error(request, 403)

    with fake_server(handler) as server:
        yield server.host


@pytest.fixture
def echoing_token_registry() -> Iterator[str]:
    def token_server(request: BaseHTTPRequestHandler) -> None:
        reply(request, 200, json.dumps({"token": TOKEN, "expires_in": 60}).encode())

    with fake_server(token_server) as tokens:
        def registry(request: BaseHTTPRequestHandler) -> None:
            challenge = f'Bearer realm="http://{tokens.host}/token",service="lktest"'
            if request.headers.get("Authorization") == f"Bearer {TOKEN}":
                # Reflects the token alone too, where no pattern can recognise it.
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message":
                                   f"token {TOKEN} is not valid for Authorization: Bearer "
                                   f"{TOKEN}"}]}).encode()
                reply(request, 401, body, {"WWW-Authenticate": challenge})
            else:
                reply(request, 401, b"{}", {"WWW-Authenticate": challenge})

        with fake_server(registry) as server:
            yield server.host


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "docker"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"auths": {}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def _store_credentials(docker_config: Path, host: str) -> None:
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: {"auth": BASIC}}}))


def _lkpolicy(*args: str, cwd: Path, **environment: str) -> str:
    """Run the real CLI; everything it prints, stdout and stderr."""
    env = {**os.environ, "LINUXKIT_CACHE": str(cwd / "cache"), **environment}
    result = subprocess.run([sys.executable, "-m", "lkpolicy", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    return result.stdout + result.stderr


def _config(tmp_path: Path, image: str) -> Path:
    path = tmp_path / "linuxkit.yml"
    path.write_text(f"kernel:\n  image: {image}\n  cmdline: console=ttyS0\n")
    return path


def test_registry_echoing_basic_credentials(echoing_basic_registry: str, docker_config: Path,
                                            tmp_path: Path) -> None:
    host = echoing_basic_registry
    _store_credentials(docker_config, host)
    image = f"{host}/lktest/app:v1"
    with RegistryClient(RegistryOptions(timeout=5)) as client:
        with pytest.raises(RegistryError) as head:  # a HEAD: the status alone
            client.resolve(parse(image))
        with pytest.raises(RegistryError) as get:
            client.get_manifest(parse(image))
    assert_clean(str(head.value) + str(get.value))
    assert str(get.value).startswith(f"{image}: DENIED for Authorization: ***; decoded lkuser:***; "
                                   f"raw ***; query token=***")
    assert str(get.value).endswith("(HTTP 403)")
    output = _lkpolicy("cache", "pull", image, cwd=tmp_path, DOCKER_CONFIG=str(docker_config))
    assert "HTTP 403" in output
    assert_clean(output)
    output = _lkpolicy("pin", str(_config(tmp_path, image)), cwd=tmp_path,
                       DOCKER_CONFIG=str(docker_config))
    assert "HTTP 403" in output
    assert_clean(output)


def test_registry_echoing_a_bearer_token(echoing_token_registry: str, docker_config: Path,
                                         tmp_path: Path) -> None:
    image = f"{echoing_token_registry}/lktest/app:v1"
    with RegistryClient(RegistryOptions(timeout=5)) as client, \
            pytest.raises(RegistryError) as caught:
        client.get_manifest(parse(image))
    assert str(caught.value).endswith("token *** is not valid for Authorization: *** (HTTP 401)")
    assert_clean(str(caught.value))
    output = _lkpolicy("cache", "pull", image, cwd=tmp_path, DOCKER_CONFIG=str(docker_config))
    assert "HTTP 401" in output
    assert_clean(output)


def test_credentials_in_redirects_and_token_realms(docker_config: Path) -> None:
    closed = free_port()

    def handler(request: BaseHTTPRequestHandler) -> None:
        if "/manifests/" in request.path:
            reply(request, 401, b"{}", {"WWW-Authenticate":
                                        f'Bearer realm="ftp://{USER}:{PASSWORD}@127.0.0.1/t"'})
        else:
            reply(request, 307, b"", {"Location":
                                      f"http://{USER}:{PASSWORD}@127.0.0.1:{closed}/blob"})

    with fake_server(handler) as server, RegistryClient(RegistryOptions(timeout=5)) as client:
        with pytest.raises(RegistryError) as realm:
            client.get_manifest(parse(f"{server.host}/x/y:v1"))
        with pytest.raises(RegistryError) as redirect:
            client.get_blob(parse(f"{server.host}/x/y:v1"), _descriptor())
    assert "token realm is not an http(s) URL (ftp://***@127.0.0.1/t)" in str(realm.value)
    assert str(redirect.value).endswith(f"cannot connect to 127.0.0.1:{closed}: "
                                        f"connection refused")
    assert_clean(str(realm.value) + str(redirect.value))


def _descriptor() -> Any:
    from lkpolicy.model.oci import Descriptor

    return Descriptor("application/octet-stream", "sha256:" + "0" * 64, 10)


# --------------------------------------------------------------------------------------- options


MIRRORS = [f"ftp://{USER}:{PASSWORD}@mirror.example", f"docker.io=ftp://{USER}:{PASSWORD}@m",
           f"{USER}:{PASSWORD}@mirror.example:5000", f"http://{USER}:{PASSWORD}@mirror.example",
           f"https://{USER}:pa/{CANARY}@mirror.example"]


@pytest.mark.parametrize("value", MIRRORS, ids=["ftp", "registry=ftp", "no-scheme", "http", "slash"])
def test_invalid_mirrors_are_reported_without_credentials(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        RegistryOptions(mirrors=parse_mirrors([value]))
    assert "mirror for docker.io: '" in str(caught.value)
    assert_clean(str(caught.value))
    output = _lkpolicy("pin", "--mirror", value, str(_config(tmp_path, "alpine:3.20")),
                       cwd=tmp_path)
    assert "mirror for docker.io" in output
    assert_clean(output)


@pytest.mark.parametrize("value", [v for v in MIRRORS if v.startswith("http")],
                         ids=["http", "slash"])
def test_cache_pull_mirrors_with_credentials(value: str, tmp_path: Path) -> None:
    output = _lkpolicy("cache", "pull", "--mirror", value, "alpine:3.20", cwd=tmp_path)
    assert "must not contain credentials" in output
    assert_clean(output)
    output = _lkpolicy("cache", "pull", "alpine:3.20", cwd=tmp_path, LINUXKIT_MIRROR=value)
    assert "must not contain credentials" in output
    assert_clean(output)


def test_trust_server_urls_with_credentials(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(ValueError) as notary:
        NotaryClient(f"https://{USER}:{PASSWORD}@127.0.0.1:{port}", tmp_path)
    with pytest.raises(ValueError) as tuf:
        TufVerifier(f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/metadata/", b"{}", tmp_path)
    for error in (notary.value, tuf.value):
        assert "must not contain credentials" in str(error)
        assert_clean(str(error))
    (tmp_path / "root.json").write_text("{}")
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "extends: []\ntrust:\n  authorities:\n"
        f"    n: {{type: notary, server: 'https://{USER}:{PASSWORD}@127.0.0.1:{port}', tofu: true}}\n"
        f"    t: {{type: tuf, repository: 'http://{USER}:{PASSWORD}@127.0.0.1:{port}/m/', "
        f"root: root.json}}\n")
    for output_format in ("text", "json"):
        output = _lkpolicy("trust", "inspect", "linuxkit/init:v1.0", "--policy", str(policy),
                           "--trust-cache", str(tmp_path / "trust"), "--format", output_format,
                           cwd=tmp_path)
        assert output.count("must not contain credentials") == 2, output
        assert_clean(output)


@pytest.mark.parametrize("value", [v for v in MIRRORS if not v.startswith("http")],
                         ids=["ftp", "registry=ftp", "no-scheme"])
def test_cache_pull_invalid_mirrors_with_credentials(value: str, tmp_path: Path) -> None:
    output = _lkpolicy("cache", "pull", "--mirror", value, "alpine:3.20", cwd=tmp_path)
    assert "invalid --mirror" in output
    assert_clean(output)
    output = _lkpolicy("cache", "pull", "alpine:3.20", cwd=tmp_path, LINUXKIT_MIRROR=value)
    assert "invalid --mirror" in output
    assert_clean(output)


def test_policy_schema_errors_do_not_echo_credentials(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("extends: []\ntrust:\n  authorities:\n"
                      f"    n: {{type: notary, server: 'ftp://{USER}:{PASSWORD}@h', tofu: true}}\n")
    config = _config(tmp_path, "alpine:3.20")
    for output_format in ("text", "json", "sarif", "github"):
        output = _lkpolicy("check", "--no-images", "--no-cache", "--policy", str(policy),
                           "--format", output_format, str(config), cwd=tmp_path)
        assert "LKP002" in output
        assert_clean(output)


def test_an_identity_with_at_in_its_path_is_no_credential() -> None:
    from lkpolicy.redaction import redact_secrets

    identity = "https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main"
    assert redact_secrets(f"builder '{identity}' does not match") == \
        f"builder '{identity}' does not match"
    assert "s3cret" not in redact_secrets("https://alice:s3cret@notary.example/v2/")
