"""A real registry for tests: Debian's docker-registry on 127.0.0.1, images pushed with skopeo.

Also small stand-ins that a real registry cannot play: a token server (JWTs signed with an EC key
whose self-signed certificate is the registry's `rootcertbundle`), a scriptable fake registry (for
redirects, stalls and lying headers) and a socket that accepts and never answers.

Every process started here is stopped by its PID, never by name.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import skip_or_fail

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

TOKEN_SERVICE = "lktest-registry"
TOKEN_ISSUER = "lktest-issuer"


def require_tool(name: str, package: str) -> str:
    """The tool's path, or a skip with the reason (a failure in CI, which must install it)."""
    path = shutil.which(name)
    if path:
        return path
    skip_or_fail(f"`{name}` not found (apt-get install {package})")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------- images


def tar_layer(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """A deterministic gzip'd tar (fixed mtimes and owners): returns (compressed, uncompressed)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mode = 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(body))
    raw = buffer.getvalue()
    return gzip.compress(raw, compresslevel=6, mtime=0), raw


@dataclass
class Pushed:
    """What a test needs to know about one image it pushed."""

    manifest_digest: str
    manifest_size: int
    config_digest: str
    config_size: int
    layers: list[dict[str, Any]]
    label: str
    platform: str = "linux/amd64"


class OCILayout:
    """Writes an OCI image layout that skopeo can push (`oci:<dir>:<tag>`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.entries: list[dict[str, Any]] = []

    def put(self, data: bytes) -> dict[str, Any]:
        digest = sha256(data)
        path = self.root / "blobs" / "sha256" / digest.split(":", 1)[1]
        if not path.exists():
            path.write_bytes(data)
        return {"digest": digest, "size": len(data)}

    def image(self, label: str, layers: list[bytes], arch: str = "amd64", variant: str = "",
              annotations: dict[str, str] | None = None) -> tuple[dict[str, Any], Pushed]:
        """An image manifest with the given (already compressed) layers; not yet tagged."""
        layer_descriptors = [dict(mediaType=OCI_LAYER, **self.put(layer)) for layer in layers]
        diff_ids = [sha256(gzip.decompress(layer)) for layer in layers]
        config: dict[str, Any] = {
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Labels": {"org.lktest.label": label}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        if variant:
            config["variant"] = variant
        config_bytes = canonical(config)
        config_descriptor = dict(mediaType=OCI_CONFIG, **self.put(config_bytes))
        manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": config_descriptor, "layers": layer_descriptors}
        if annotations:
            manifest["annotations"] = annotations
        manifest_bytes = canonical(manifest)
        descriptor = dict(mediaType=OCI_MANIFEST, **self.put(manifest_bytes))
        platform = f"linux/{arch}" + (f"/{variant}" if variant else "")
        return descriptor, Pushed(descriptor["digest"], descriptor["size"], config_descriptor["digest"],
                                  config_descriptor["size"], layer_descriptors, label, platform)

    def index(self, children: list[tuple[dict[str, Any], str]]) -> dict[str, Any]:
        manifests = []
        for descriptor, platform in children:
            parts = platform.split("/")
            entry = dict(descriptor)
            entry["platform"] = {"os": parts[0], "architecture": parts[1]}
            if len(parts) == 3:
                entry["platform"]["variant"] = parts[2]
            manifests.append(entry)
        data = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
        return dict(mediaType=OCI_INDEX, **self.put(data))

    def tag(self, descriptor: dict[str, Any], tag: str) -> None:
        entry = dict(descriptor)
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.entries.append(entry)

    def write_index(self) -> None:
        (self.root / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "manifests": self.entries}))


def skopeo_push(layout: Path, tag: str, destination: str, *extra: str) -> subprocess.Popen[bytes]:
    """Start `skopeo copy oci:<layout>:<tag> docker://<destination>`; the caller waits."""
    command = [require_tool("skopeo", "skopeo"), "--insecure-policy", "copy", "-q",
               "--dest-tls-verify=false", *extra, f"oci:{layout}:{tag}", f"docker://{destination}"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_all(processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    failures = []
    for process in processes:
        _, stderr = process.communicate(timeout=max(deadline - time.monotonic(), 1))
        if process.returncode != 0:
            failures.append(f"{process.args}: {stderr.decode(errors='replace')}")
    if failures:
        raise RuntimeError("skopeo failed:\n" + "\n".join(failures))


# --------------------------------------------------------------------------------------- registry


@dataclass
class Registry:
    """One docker-registry process; several may serve the same storage directory."""

    storage: Path
    workdir: Path
    auth: dict[str, Any] | None = None
    tls: tuple[Path, Path] | None = None
    """(certificate, key) to serve https instead of http."""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def blob_path(self, digest: str) -> Path:
        hexdigest = digest.split(":", 1)[1]
        return (self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexdigest[:2]
                / hexdigest / "data")

    def start(self) -> Registry:
        binary = require_tool("docker-registry", "docker-registry")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(parents=True, exist_ok=True)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        for _attempt in range(3):
            self.port = free_port()
            config = {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": True}},
                "storage": {"filesystem": {"rootdirectory": str(self.storage)},
                            "maintenance": {"uploadpurging": {"enabled": False}}},
                "http": {"addr": self.host},
            }
            if self.auth:
                config["auth"] = self.auth
            if self.tls:
                config["http"]["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
            config_path = self.workdir / "config.yml"
            # JSON is YAML: no YAML writer needed.
            config_path.write_text(json.dumps(config, indent=1))
            self.log_path = self.workdir / "registry.log"
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen([binary, "serve", str(config_path)], stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                env=environment, start_new_session=True)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"docker-registry did not start; log:\n{self.log_path.read_text()}")

    def _wait_ready(self, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False  # most likely the port was taken in between: try another
            try:
                context = ssl._create_unverified_context() if self.tls else None
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=1, context=context):
                    return True
            except urllib.error.HTTPError:
                return True  # 401 from an auth-enabled registry: it is serving
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --------------------------------------------------------------------------------------- htpasswd


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (the only kind docker-registry accepts); cost 4 keeps tests fast."""
    import bcrypt

    hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4))
    return f"{user}:{hashed.decode()}\n"


# --------------------------------------------------------------------------------------- TLS


def make_tls_certs(workdir: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lktest CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (workdir / "ca.pem", workdir / "server.pem", workdir / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


# --------------------------------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues ES256 JWTs the way a Docker token server does, and records who asked.

    Access: with the right basic credentials (or refresh token) pull on every repository;
    anonymously, pull only on repositories under `public/`. Anonymous answers carry `token`,
    credentialed ones `access_token`, so that both spellings are exercised.
    """

    def __init__(self, workdir: Path, user: str, password: str, refresh_token: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.user, self.password, self.refresh_token = user, password, refresh_token
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lktest token signer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = workdir / "token-signer.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        self.requests: list[dict[str, Any]] = []
        self.lifetime = 300
        self.overrides: dict[str, Any] = {}
        """Claims to replace in the next tokens, to check that the registry verifies them."""
        self._server = _serve(self._handle)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        signing_input = f"{_b64url(canonical(header))}.{_b64url(canonical(claims))}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query)
        if request.command == "POST":
            length = int(request.headers.get("Content-Length", "0"))
            query.update(parse_qs(request.rfile.read(length).decode()))
        authorization = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        record = {"method": request.command, "service": query.get("service", [""])[0],
                  "scope": query.get("scope", [""])[0], "authorization": bool(authorization),
                  "grant_type": query.get("grant_type", [""])[0]}
        self.requests.append(record)
        if request.command == "POST":
            if query.get("refresh_token", [""])[0] != self.refresh_token:
                _reply(request, 401, b'{"error":"invalid_grant"}')
                return
            credentialed = True
        elif authorization:
            if authorization != expected:
                _reply(request, 401, b'{"details":"wrong credentials"}')
                return
            credentialed = True
        else:
            credentialed = False
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            repository, _, actions = rest.rpartition(":")
            if kind == "repository" and (credentialed or repository.startswith("public/")):
                access.append({"type": "repository", "name": repository,
                               "actions": [a for a in actions.split(",") if a == "pull"]})
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "sub": self.user if credentialed else "",
                  "aud": record["service"], "exp": now + self.lifetime, "nbf": now - 5,
                  "iat": now, "jti": f"lktest-{len(self.requests)}", "access": access}
        token = self.sign({**claims, **self.overrides})
        key = "access_token" if credentialed else "token"
        _reply(request, 200, canonical({key: token, "expires_in": self.lifetime}))

    def registry_auth(self) -> dict[str, Any]:
        return {"token": {"realm": self.url, "service": TOKEN_SERVICE, "issuer": TOKEN_ISSUER,
                          "rootcertbundle": str(self.cert_path)}}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------------------- fakes

Handler = Callable[[BaseHTTPRequestHandler], None]


def _reply(request: BaseHTTPRequestHandler, status: int, body: bytes = b"",
           headers: dict[str, str] | None = None) -> None:
    request.send_response(status)
    headers = dict(headers or {})
    headers.setdefault("Content-Length", str(len(body)))
    for name, value in headers.items():
        request.send_header(name, value)
    request.end_headers()
    if request.command != "HEAD" and body:
        request.wfile.write(body)


reply = _reply


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that hangs up mid-answer is what several tests do on purpose


def _serve(handler: Handler) -> ThreadingHTTPServer:
    class _Request(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            handler(self)

        do_HEAD = do_GET
        do_POST = do_GET

    server = _QuietServer(("127.0.0.1", 0), _Request)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class FakeServer:
    """An HTTP server on 127.0.0.1 whose answers a test scripts; it records every request."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

        def record(request: BaseHTTPRequestHandler) -> None:
            self.requests.append((request.command, request.path, dict(request.headers.items())))
            handler(request)

        self._server = _serve(record)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def fake_server(handler: Handler) -> Iterator[FakeServer]:
    server = FakeServer(handler)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def _tcp_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A TCP port on 127.0.0.1 that hands every connection to `answer` in its own thread, with an
    event set when the server stops; connections are closed on the way out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    held: list[socket.socket] = []

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(connection)
            thread = threading.Thread(target=answer, args=(connection, stop), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(timeout=2)
        for thread in threads:
            thread.join(timeout=2)
        for connection in held:
            connection.close()
        listener.close()


@contextlib.contextmanager
def dripping_server(head: bytes, drip: bytes, interval: float = 0.05) -> Iterator[int]:
    """A TCP port on 127.0.0.1 that answers every connection with `head` at once, then `drip` one
    byte every `interval` seconds: each read gets a byte long before any per-read timeout, so
    only an overall deadline ends the transfer. The request is never read (the kernel keeps it).

    For a dripping body, `head` is a status line and headers; for dripping headers, `head` is
    empty and `drip` a header that never ends; for a dripping TLS handshake, `head` is the start
    of a TLS record that promises more."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        try:
            connection.sendall(head)
            for index in range(len(drip)):
                if stop.wait(interval):
                    return
                connection.sendall(drip[index:index + 1])
        except OSError:
            return  # the client gave up, as it should

    with _tcp_server(answer) as port:
        yield port


DRIP_HEADERS = (b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60000)
"""(head, drip) for `dripping_server`: an answer whose header never ends."""


def drip_body(size: int, content_type: str = "application/octet-stream") -> tuple[bytes, bytes]:
    """(head, drip) for `dripping_server`: prompt headers, then `size` body bytes, dripped."""
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n\r\n"
            .encode())
    return head, b"{" + b" " * (size - 1)


DRIP_TLS = (b"\x16\x03\x03\x40\x00", b"\x02" * 16384)
"""(head, drip) for `dripping_server`: a TLS server hello record that arrives a byte at a time."""


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never sends a byte."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        return None  # kept open by the server until it stops, never answered

    with _tcp_server(answer) as port:
        yield port
