"""TUF verification of image tags through python-tuf's ngclient, over file:// and loopback HTTP.

Every repository is built in the test (tuf_helpers.TufRepo) with the Metadata API: root,
targets, a delegated role for `docker.io/example/*`, snapshot, timestamp.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tuf_helpers import DELEGATE, ServerState, TufRepo, digest, in_days, manifest, serve

from lkpolicy.model.reference import parse
from lkpolicy.registry.transport import TransferLimits
from lkpolicy.stages.trust import errors
from lkpolicy.stages.trust.errors import CacheError, NetworkError
from lkpolicy.stages.trust.tuf_fetcher import MetadataTransport
from lkpolicy.stages.trust.tuf_verifier import (
    TufVerifier,
    check_manifest,
    repository_key,
    target_path,
)

INIT = "linuxkit/init:v1.0"  # expands to docker.io/linuxkit/init:v1.0
APP = "example/app:1.0"  # docker.io/example/app:1.0, signed by the delegated role
EVIL = "evil/x:1"  # listed by the delegated role, but outside its paths


@dataclass
class Source:
    kind: str
    url: str
    repo: TufRepo
    bootstrap: bytes
    state: ServerState | None = None

    def verifier(self, cache: Path, **kwargs: Any) -> TufVerifier:
        return TufVerifier(self.url, self.bootstrap, cache, timeout=5, **kwargs)


def _repo(directory: Path) -> TufRepo:
    repo = TufRepo(directory)
    repo.add_target(parse(INIT).name, manifest("init"))
    repo.add_target(parse(APP).name, manifest("app"), role=DELEGATE)
    repo.add_target(parse(EVIL).name, manifest("evil"), role=DELEGATE)
    return repo


@pytest.fixture(params=["file", "http"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    repo = _repo(tmp_path / "repo")
    bootstrap = repo.root_bytes()
    repo.publish()
    if request.param == "file":
        yield Source("file", (tmp_path / "repo").as_uri(), repo, bootstrap)
        return
    state = ServerState(tmp_path / "repo")
    with serve(state) as url:
        yield Source("http", url, repo, bootstrap, state)


@pytest.fixture
def file_source(tmp_path: Path) -> Source:
    repo = _repo(tmp_path / "repo")
    bootstrap = repo.root_bytes()
    repo.publish()
    return Source("file", (tmp_path / "repo").as_uri(), repo, bootstrap)


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------ good paths


def test_good_target_verifies(source: Source, tmp_path: Path) -> None:
    data = manifest("init")
    with source.verifier(tmp_path / "cache") as verifier:
        target = verifier.verify(parse(INIT))
    assert target.name == "docker.io/linuxkit/init:v1.0"
    assert target.digest == digest(data)
    assert target.length == len(data)
    assert target.role == "targets"
    # The answer is only as fresh as the timestamp (1 day) in this repository.
    assert target.expires <= source.repo.timestamp.signed.expires
    check_manifest(target, digest(data), len(data))
    with pytest.raises(errors.HashMismatch, match="is signed as sha256:"):
        check_manifest(target, digest(b"other"), len(data))
    with pytest.raises(errors.LengthMismatch):
        check_manifest(target, digest(data), len(data) + 1)


def test_delegated_target(source: Source, tmp_path: Path) -> None:
    with source.verifier(tmp_path / "cache") as verifier:
        target = verifier.verify(parse(APP))
        # The same instance answers again without a second refresh.
        before = list(source.state.requests) if source.state else []
        again = verifier.verify(parse(INIT))
    assert target.name == "docker.io/example/app:1.0"
    assert target.sha256 == digest(manifest("app")).removeprefix("sha256:")
    assert target.role == DELEGATE
    assert target.expires <= source.repo.delegate.signed.expires
    assert again.role == "targets"
    if source.state:
        assert source.state.requests == before
    assert f"{DELEGATE}.json" in _files(verifier.metadata_dir)


def test_delegated_role_cannot_sign_outside_its_paths(file_source: Source,
                                                      tmp_path: Path) -> None:
    with pytest.raises(errors.UnknownTarget, match=r"docker\.io/evil/x:1 is not signed"):
        file_source.verifier(tmp_path / "cache").verify(parse(EVIL))


def test_unknown_target(source: Source, tmp_path: Path) -> None:
    with pytest.raises(errors.UnknownTarget) as caught:
        source.verifier(tmp_path / "cache").verify(parse("linuxkit/init:v9"))
    message = str(caught.value)
    assert "\n" not in message
    assert "docker.io/linuxkit/init:v9" in message and source.url in message


def test_reference_without_tag_is_refused() -> None:
    ref = parse("linuxkit/init@sha256:" + "a" * 64)
    with pytest.raises(errors.UnknownTarget, match="has no tag"):
        target_path(ref)


# ------------------------------------------------------------------------------------ attacks


def test_tampered_target_hash_is_a_signature_error(source: Source, tmp_path: Path) -> None:
    path = source.repo.dir / f"{source.repo.targets.signed.version}.targets.json"
    document = json.loads(path.read_bytes())
    entry = document["signed"]["targets"][parse(INIT).name]
    entry["hashes"]["sha256"] = "0" * 64
    path.write_text(json.dumps(document))
    with pytest.raises(errors.BadSignature) as caught:
        source.verifier(tmp_path / "cache").verify(parse(INIT))
    assert caught.value.role == "targets"
    assert "signed by 0/1 keys" in str(caught.value)


def test_resigned_other_digest_fails_the_manifest_check(file_source: Source,
                                                        tmp_path: Path) -> None:
    file_source.repo.add_target(parse(INIT).name, b"a different manifest")
    file_source.repo.publish()
    target = file_source.verifier(tmp_path / "cache").verify(parse(INIT))
    with pytest.raises(errors.HashMismatch):
        check_manifest(target, digest(manifest("init")), len(manifest("init")))


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets", DELEGATE])
def test_expired_metadata(source: Source, tmp_path: Path, role: str) -> None:
    source.repo.publish(expires={role: in_days(-1)})
    ref = parse(APP if role == DELEGATE else INIT)
    with pytest.raises(errors.ExpiredMetadata) as caught:
        source.verifier(tmp_path / "cache").verify(ref)
    assert caught.value.role == role
    assert "expired" in str(caught.value) and ref.name in str(caught.value)


def test_rollback_of_timestamp_is_refused(source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source.verifier(cache).verify(parse(INIT))
    old = (source.repo.dir / "timestamp.json").read_bytes()
    source.repo.publish()
    source.repo.publish()
    source.verifier(cache).verify(parse(INIT))  # the client has now seen timestamp v3
    (source.repo.dir / "timestamp.json").write_bytes(old)
    with pytest.raises(errors.Rollback, match=r"timestamp version 1 must be >= 3") as caught:
        source.verifier(cache).verify(parse(INIT))
    assert caught.value.role == "timestamp"


def test_rollback_of_snapshot_is_refused(file_source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    repo = file_source.repo
    repo.publish()
    file_source.verifier(cache).verify(parse(INIT))  # snapshot v2 trusted
    # A newer timestamp, validly signed, that points at the old snapshot v1.
    repo.timestamp.signed.version += 1
    repo.timestamp.signed.snapshot_meta.version = 1
    repo.timestamp.sign(repo.signers["timestamp"])
    (repo.dir / "timestamp.json").write_bytes(repo._bytes(repo.timestamp))
    with pytest.raises(errors.Rollback) as caught:
        file_source.verifier(cache).verify(parse(INIT))
    assert caught.value.role == "snapshot"


def test_root_rotation_signed_by_old_root_is_accepted(source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source.verifier(cache).verify(parse(INIT))
    source.repo.rotate_root(signed_by_old=True)
    source.repo.publish()
    verifier = source.verifier(cache)
    assert verifier.verify(parse(APP)).role == DELEGATE
    assert {"root_history/1.root.json", "root_history/2.root.json"} <= _files(
        verifier.metadata_dir)


def test_root_rotation_not_signed_by_old_root_is_refused(source: Source,
                                                         tmp_path: Path) -> None:
    source.repo.rotate_root(signed_by_old=False)
    source.repo.publish()
    with pytest.raises(errors.BadSignature) as caught:
        source.verifier(tmp_path / "cache").verify(parse(INIT))
    assert caught.value.role == "root"
    assert source.url in str(caught.value)


def test_wrong_bootstrap_root_is_refused(file_source: Source, tmp_path: Path) -> None:
    other = TufRepo(tmp_path / "other")
    verifier = TufVerifier(file_source.url, other.root_bytes(), tmp_path / "cache")
    with pytest.raises(errors.BadSignature, match="signed by 0/1 keys"):
        verifier.verify(parse(INIT))


def test_garbage_bootstrap_root_is_refused(file_source: Source, tmp_path: Path) -> None:
    verifier = TufVerifier(file_source.url, b"not json", tmp_path / "cache")
    with pytest.raises(errors.BadSignature, match="bootstrap root"):
        verifier.verify(parse(INIT))


# ------------------------------------------------------------------------------------ offline


def test_offline_with_warm_cache(source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    online = source.verifier(cache)
    online.verify(parse(INIT))
    online.verify(parse(APP))
    cached = _files(online.metadata_dir)
    # The repository disappears: offline answers come from the cache alone.
    for path in source.repo.dir.iterdir():
        path.unlink()
    requests = list(source.state.requests) if source.state else []
    offline = source.verifier(cache, offline=True)
    assert offline.verify(parse(INIT)).role == "targets"
    assert offline.verify(parse(APP)).role == DELEGATE
    with pytest.raises(errors.UnknownTarget):
        offline.verify(parse("linuxkit/init:v9"))
    if source.state:
        assert source.state.requests == requests
    assert _files(offline.metadata_dir) == cached


def test_offline_still_enforces_expiry(file_source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    verifier = file_source.verifier(cache)
    verifier.verify(parse(INIT))
    # A validly signed but expired timestamp in the cache (as if time had passed).
    expired = file_source.repo.signed_timestamp(version=2, expires=in_days(-1))
    (verifier.metadata_dir / "timestamp.json").write_bytes(expired)
    with pytest.raises(errors.ExpiredMetadata, match=r"timestamp\.json is expired") as caught:
        file_source.verifier(cache, offline=True).verify(parse(INIT))
    assert caught.value.role == "timestamp"


def test_offline_cache_still_checks_signatures(file_source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    verifier = file_source.verifier(cache)
    verifier.verify(parse(INIT))
    path = verifier.metadata_dir / "targets.json"
    document = json.loads(path.read_bytes())
    document["signed"]["targets"][parse(INIT).name]["length"] += 1
    path.write_text(json.dumps(document))
    with pytest.raises(errors.BadSignature):
        file_source.verifier(cache, offline=True).verify(parse(INIT))


def test_offline_with_empty_cache_fails_clearly(file_source: Source, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(errors.NoTrustData, match=r"no cached TUF metadata .* \(offline\)"):
        file_source.verifier(cache, offline=True).verify(parse(INIT))
    assert not cache.exists()


def test_offline_with_partial_cache_names_the_missing_file(file_source: Source,
                                                           tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    verifier = file_source.verifier(cache)
    verifier.verify(parse(INIT))  # the delegated role is not loaded yet
    with pytest.raises(errors.NoTrustData, match="not in the offline cache") as caught:
        file_source.verifier(cache, offline=True).verify(parse(APP))
    assert caught.value.role == DELEGATE


# ------------------------------------------------------------------------------------ limits


def test_oversized_timestamp_is_refused(source: Source, tmp_path: Path) -> None:
    verifier = source.verifier(tmp_path / "cache", max_sizes={"timestamp": 100})
    with pytest.raises(errors.MetadataTooLarge, match="more than 100 bytes") as caught:
        verifier.verify(parse(INIT))
    assert caught.value.role == "timestamp"


def test_oversized_root_is_refused(source: Source, tmp_path: Path) -> None:
    source.repo.rotate_root()
    verifier = source.verifier(tmp_path / "cache", max_sizes={"root": 200})
    with pytest.raises(errors.MetadataTooLarge) as caught:
        verifier.verify(parse(INIT))
    assert caught.value.role == "root"


def test_overall_byte_budget(source: Source, tmp_path: Path) -> None:
    verifier = source.verifier(tmp_path / "cache", max_total_bytes=2000)
    with pytest.raises(errors.MetadataTooLarge, match="overall cap of 2000 bytes"):
        verifier.verify(parse(APP))


def test_endless_http_body_is_cut_off(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    repo.publish()
    state = ServerState(repo.dir, endless={"timestamp.json"})
    with serve(state) as url:
        verifier = TufVerifier(url, repo.root_bytes(), tmp_path / "cache", timeout=5)
        with pytest.raises(errors.MetadataTooLarge, match="more than 16384 bytes"):
            verifier.verify(parse(INIT))
        verifier.close()


def test_repository_without_metadata(tmp_path: Path) -> None:
    repo = TufRepo(tmp_path / "repo")  # root only, never published
    state = ServerState(repo.dir)
    with serve(state) as url:
        verifier = TufVerifier(url, repo.root_bytes(), tmp_path / "cache", timeout=5)
        with pytest.raises(errors.NoTrustData, match=r"has no timestamp\.json"):
            verifier.verify(parse(INIT))


def test_unreachable_server(file_source: Source, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = TufVerifier(f"http://127.0.0.1:{port}/metadata", file_source.bootstrap,
                           tmp_path / "cache", timeout=2)
    with pytest.raises(NetworkError) as caught:
        verifier.verify(parse(INIT))
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "docker.io/linuxkit/init:v1.0" in str(caught.value)


# ------------------------------------------------------------------------------------ shell


def test_cache_is_per_repository_and_nothing_is_written_elsewhere(source: Source,
                                                                  tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    repo_files = _files(source.repo.dir)
    verifier = source.verifier(cache)
    verifier.verify(parse(APP))
    assert verifier.metadata_dir.parent == cache
    assert verifier.metadata_dir.name == repository_key(source.url)
    assert _files(cache) == {f"{verifier.metadata_dir.name}/{name}" for name in (
        "root.json", "root_history/1.root.json", "timestamp.json", "snapshot.json",
        "targets.json", f"{DELEGATE}.json", "lkpolicy-tuf.lock")}
    assert _files(source.repo.dir) == repo_files
    assert repository_key("http://a.example/m/") != repository_key("http://b.example/m/")
    assert repository_key("http://a.example/m") == repository_key("http://a.example/m/")


def test_unwritable_cache(file_source: Source, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="cannot use"):
        file_source.verifier(blocker / "cache").verify(parse(INIT))


@pytest.mark.parametrize("url", ["ftp://host/x", "http:///nohost", "file://otherhost/x",
                                 "file:relative", "https://host/m?x=1"])
def test_invalid_repository_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TufVerifier(url, b"{}", tmp_path)


def test_unknown_size_limit_role(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        TufVerifier("https://host/m/", b"{}", tmp_path, max_sizes={"example": 1})


@pytest.mark.parametrize("name", ["..%2Fsecret.json", "a%2F..%2F..%2Fb.json", "%2Fetc.json",
                                  "a%5Cb.json", ""])
def test_file_transport_stays_inside_the_repository(name: str, tmp_path: Path) -> None:
    from tuf.api import exceptions

    (tmp_path / "secret.json").write_text("{}")
    base = tmp_path / "repo"
    base.mkdir()
    transport = MetadataTransport(base.as_uri() + "/", offline=False, cache=tmp_path / "c",
                                  limits=TransferLimits(timeout=1), max_total_bytes=1000,
                                  http=lambda: pytest.fail("no HTTP"))
    transport.start()
    with pytest.raises(exceptions.DownloadHTTPError) as caught:
        transport.read(base.as_uri() + "/" + name, 100)
    assert caught.value.status_code == 404


def test_delegated_role_with_slash_in_name_over_file(tmp_path: Path) -> None:
    """Role names are quoted into one URL segment; file:// maps `a%2Fb.json` to `a/b.json`."""
    from tuf.api import exceptions

    base = tmp_path / "repo"
    (base / "targets").mkdir(parents=True)
    (base / "targets" / "releases.json").write_text("{}")
    transport = MetadataTransport(base.as_uri() + "/", offline=False, cache=tmp_path / "c",
                                  limits=TransferLimits(timeout=1), max_total_bytes=1000,
                                  http=lambda: pytest.fail("no HTTP"))
    transport.start()
    assert transport.read(base.as_uri() + "/targets%2Freleases.json", 100) == b"{}"
    with pytest.raises(exceptions.DownloadError):
        transport.read("file:///elsewhere/x.json", 100)


def test_import_does_not_load_tuf() -> None:
    code = ("import sys, lkpolicy.stages.trust.tuf_verifier; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('tuf', 'securesystemslib', 'urllib3', 'requests', 'ssl')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_target_without_sha256_is_refused(file_source: Source, tmp_path: Path) -> None:
    target = file_source.repo.add_target(parse(APP).name, manifest("app"), role=DELEGATE)
    target.hashes = {"sha512": "0" * 128}
    file_source.repo.publish()
    with pytest.raises(errors.MalformedMetadata, match="sha256") as caught:
        file_source.verifier(tmp_path / "cache").verify(parse(APP))
    assert caught.value.role == DELEGATE
