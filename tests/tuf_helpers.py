"""A TUF 1.0 repository built in the test with python-tuf's Metadata API, and a loopback server.

`TufRepo` keeps root, targets, one delegated role (`example`, paths `docker.io/example/*`),
snapshot and timestamp in memory; `publish()` bumps versions, signs and writes the consistent-
snapshot layout (`<v>.root.json`, `<v>.targets.json`, `<v>.example.json`, `<v>.snapshot.json`,
`timestamp.json`) into a directory that is served over file:// or HTTP.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

DELEGATE = "example"
DELEGATE_PATTERN = "docker.io/example/*"
TOP_ROLES = ("root", "targets", "snapshot", "timestamp")


def in_days(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def manifest(name: str) -> bytes:
    """Stand-in manifest bytes for an image; the TUF target file is these bytes."""
    return (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
            b'"annotations":{"name":"' + name.encode() + b'"}}')


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class TufRepo:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.signers = {role: CryptoSigner.generate_ed25519() for role in (*TOP_ROLES, DELEGATE)}
        root = Root(expires=in_days(365), consistent_snapshot=True)
        for role in TOP_ROLES:
            root.add_key(self.signers[role].public_key, role)
        self.root: Metadata[Root] = Metadata(root)
        self.root_signers = [self.signers["root"]]
        delegate_key = self.signers[DELEGATE].public_key
        targets = Targets(expires=in_days(30))
        targets.delegations = Delegations(
            keys={delegate_key.keyid: delegate_key},
            roles={DELEGATE: DelegatedRole(DELEGATE, [delegate_key.keyid], 1, True,
                                           paths=[DELEGATE_PATTERN])})
        self.targets: Metadata[Targets] = Metadata(targets)
        self.delegate: Metadata[Targets] = Metadata(Targets(expires=in_days(30)))
        self.snapshot: Metadata[Snapshot] = Metadata(Snapshot(expires=in_days(7)))
        self.timestamp: Metadata[Timestamp] = Metadata(Timestamp(expires=in_days(1)))
        # Versions start at 1 and publish() bumps them: the first publish writes version 1.
        for md in (self.targets, self.delegate, self.snapshot, self.timestamp):
            md.signed.version = 0
        self.write_root()

    # ------------------------------------------------------------ content

    def add_target(self, path: str, data: bytes, role: str = "targets") -> TargetFile:
        target = TargetFile.from_data(path, data, ["sha256"])
        (self.targets if role == "targets" else self.delegate).signed.targets[path] = target
        return target

    def root_bytes(self) -> bytes:
        return self._bytes(self.root)

    # ------------------------------------------------------------ signing and writing

    @staticmethod
    def _bytes(md: Metadata[Any]) -> bytes:
        return md.to_bytes(JSONSerializer(compact=False))

    def write_root(self) -> None:
        self.root.signatures.clear()
        for signer in self.root_signers:
            self.root.sign(signer, append=True)
        (self.dir / f"{self.root.signed.version}.root.json").write_bytes(self.root_bytes())

    def rotate_root(self, *, signed_by_old: bool = True) -> None:
        """Replace the root key (version + 1); the new root is signed by the new key and,
        for a valid rotation, by the old one."""
        old = self.signers["root"]
        new = CryptoSigner.generate_ed25519()
        self.root.signed.revoke_key(old.public_key.keyid, "root")
        self.root.signed.add_key(new.public_key, "root")
        self.root.signed.version += 1
        self.signers["root"] = new
        self.root_signers = [new, old] if signed_by_old else [new]
        self.write_root()

    def publish(self, *, expires: dict[str, dt.datetime] | None = None) -> None:
        """Bump every non-root role, sign and write the consistent-snapshot layout."""
        expires = expires or {}
        for role, md in (("targets", self.targets), (DELEGATE, self.delegate),
                         ("snapshot", self.snapshot), ("timestamp", self.timestamp)):
            md.signed.version += 1
            if role in expires:
                md.signed.expires = expires[role]
        for role, md in (("targets", self.targets), (DELEGATE, self.delegate)):
            md.sign(self.signers[role])
            self.snapshot.signed.meta[f"{role}.json"] = MetaFile(md.signed.version)
            (self.dir / f"{md.signed.version}.{role}.json").write_bytes(self._bytes(md))
        self.snapshot.sign(self.signers["snapshot"])
        snapshot_bytes = self._bytes(self.snapshot)
        (self.dir / f"{self.snapshot.signed.version}.snapshot.json").write_bytes(snapshot_bytes)
        self.timestamp.signed.snapshot_meta = MetaFile(self.snapshot.signed.version)
        self.timestamp.sign(self.signers["timestamp"])
        (self.dir / "timestamp.json").write_bytes(self._bytes(self.timestamp))

    def signed_timestamp(self, *, version: int, expires: dt.datetime) -> bytes:
        """A validly signed timestamp with the given version and expiry (not written)."""
        ts = Metadata(Timestamp(version=version, expires=expires,
                                snapshot_meta=MetaFile(self.snapshot.signed.version)))
        ts.sign(self.signers["timestamp"])
        return self._bytes(ts)


# ------------------------------------------------------------------------------------ server


@dataclass
class ServerState:
    directory: Path
    requests: list[str] = field(default_factory=list)
    endless: set[str] = field(default_factory=set)
    """File names answered with an endless body (no Content-Length)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def serve(state: ServerState) -> Iterator[str]:
    """Serve `state.directory` on 127.0.0.1 under `/metadata/`; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(self.path)
            name = self.path.removeprefix("/metadata/")
            if name in state.endless:
                self.send_response(200)
                self.end_headers()
                with contextlib.suppress(OSError):
                    for _ in range(4096):  # bounded: 256 MiB at most
                        self.wfile.write(b" " * 65536)
                return
            path = state.directory / name
            if "/" in name or not name or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metadata/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
