"""The notary client's shell (HTTP limits, cache, pins) against a scripted local HTTP server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from notary_helpers import GUN, NOW, Repo

from lkpolicy.stages.trust import errors
from lkpolicy.stages.trust.notary.cache import TrustStore, check_gun
from lkpolicy.stages.trust.notary.client import NotaryClient

PREFIX = f"/v2/{GUN}/_trust/tuf/"


class Server:
    """Serves `files` under the notary API; `endless` roles stream bytes without end."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.endless: set[str] = set()
        self.requests: list[str] = []


@contextlib.contextmanager
def serve(state: Server) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append(self.path)
            name = self.path[len(PREFIX):-len(".json")] if self.path.startswith(PREFIX) else ""
            role = name
            parts = name.rsplit(".", 1)
            if len(parts) == 2 and len(parts[1]) == 64:
                role = parts[0]
            if role in state.endless:
                self.send_response(200)
                self.end_headers()
                with contextlib.suppress(OSError):
                    while True:
                        self.wfile.write(b" " * 65536)
                return
            body = state.files.get(role)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_client(url: str, trust_dir: Path, **kwargs: object) -> NotaryClient:
    return NotaryClient(url, trust_dir, timeout=5, now=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_lookup_caches_and_uses_consistent_names(tmp_path: Path) -> None:
    state = Server()
    state.files = Repo().build()
    with serve(state) as url:
        assert make_client(url, tmp_path).lookup(GUN, "v2").length == 423
    assert any(".json" in r and len(r.rsplit(".", 2)[-2]) == 64 for r in state.requests)
    store = TrustStore(tmp_path)
    assert store.pinned_root(GUN) == state.files["root"]
    assert store.versions(GUN)["targets/releases"] == 1


def test_rotation_updates_the_pin_and_a_recreated_repo_is_refused(tmp_path: Path) -> None:
    repo = Repo()
    state = Server()
    state.files = repo.build()
    with serve(state) as url:
        make_client(url, tmp_path).lookup(GUN, "v1")
        repo.rotate_root()
        repo.build()
        repo.rotate_root()
        repo.bump()
        state.files = repo.build()
        make_client(url, tmp_path).lookup(GUN, "v1")
        assert TrustStore(tmp_path).pinned_root(GUN) == state.files["root"]
        assert f"{PREFIX}2.root.json" in state.requests
        state.files = Repo(versions={"root": 1}).build()
        with pytest.raises(errors.Rollback, match=r"^root: version 1"):
            make_client(url, tmp_path).lookup(GUN, "v1")
        # A recreated repository claiming a newer root version: no chain from the pin reaches it.
        state.files = Repo(versions={"root": 4}).build()
        with pytest.raises(errors.RootChanged, match=r"^root: root v4 differs from the trusted "
                                                     "root v3"):
            make_client(url, tmp_path).lookup(GUN, "v1")
    assert TrustStore(tmp_path).versions(GUN)["root"] == 3


def test_rollback_across_runs(tmp_path: Path) -> None:
    repo = Repo()
    state = Server()
    repo.bump()
    state.files = repo.build()
    old = dict(state.files)
    repo.bump()
    newer = repo.build()
    with serve(state) as url:
        state.files = newer
        make_client(url, tmp_path).lookup(GUN, "v1")
        state.files = old
        with pytest.raises(errors.Rollback, match=r"^timestamp: version 2 is older than the "
                                                  "trusted version 3"):
            make_client(url, tmp_path).lookup(GUN, "v1")


def test_role_size_limit(tmp_path: Path) -> None:
    state = Server()
    state.files = Repo().build()
    state.files["timestamp"] = state.files["timestamp"] + b" " * 4096
    with serve(state) as url, pytest.raises(errors.MetadataTooLarge,
                                            match=r"^timestamp: more than 1024 bytes"):
        make_client(url, tmp_path, max_sizes={"timestamp": 1024}).lookup(GUN, "v1")


@pytest.mark.parametrize("role", ["root", "snapshot"])
def test_endless_response_is_cut(tmp_path: Path, role: str) -> None:
    state = Server()
    state.files = Repo().build()
    state.endless.add(role)
    with serve(state) as url, pytest.raises(errors.MetadataTooLarge, match=rf"^{role}:"):
        make_client(url, tmp_path).lookup(GUN, "v1")


def test_overall_cap(tmp_path: Path) -> None:
    state = Server()
    state.files = Repo().build()
    with serve(state) as url, pytest.raises(errors.MetadataTooLarge, match=r"overall cap"):
        make_client(url, tmp_path, max_total_bytes=6000).lookup(GUN, "v1")
    assert TrustStore(tmp_path).pinned_root(GUN) is None


def test_nothing_is_cached_when_verification_fails(tmp_path: Path) -> None:
    repo = Repo()
    repo.corrupt.add("targets")
    state = Server()
    state.files = repo.build()
    with serve(state) as url, pytest.raises(errors.BadSignature):
        make_client(url, tmp_path).lookup(GUN, "v1")
    assert not (tmp_path / GUN).exists()


@pytest.mark.parametrize("gun", ["docker.io", "a/../b", "/abs/x", "a//b", "a/b c", "a/./b"])
def test_gun_must_be_a_safe_path(gun: str) -> None:
    with pytest.raises(ValueError, match=r"invalid GUN"):
        check_gun(gun)


def test_server_url_must_be_http() -> None:
    with pytest.raises(ValueError):
        NotaryClient("file:///etc", "/tmp")
