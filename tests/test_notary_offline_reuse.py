"""Offline notary lookups verify a cached collection once per process and reuse it only while
it is exactly what was verified, and still current."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from notary_helpers import GUN, NOW, Repo

from lkpolicy.stages.trust import errors
from lkpolicy.stages.trust.notary import client as notary_client
from lkpolicy.stages.trust.notary.client import NotaryClient
from lkpolicy.stages.trust.notary.keys import PublicKey, RootPins

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "https://127.0.0.1:9"


def cache(directory: Path, repo: Repo) -> Path:
    """The files of `repo` as the client caches them after an online lookup."""
    metadata = directory / GUN / "metadata"
    for role, data in repo.build().items():
        path = metadata / f"{role}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (directory / GUN / "versions.json").write_text(json.dumps(dict(repo.versions)))
    return directory


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The GUNs fully verified, in order; and no reuse of earlier tests' verifications."""
    monkeypatch.setattr(notary_client, "_OFFLINE", {})
    verified: list[str] = []
    load = notary_client.load_trusted_set

    def counted(fetch: Any, gun: str, *args: Any, **kwargs: Any) -> Any:
        verified.append(gun)
        return load(fetch, gun, *args, **kwargs)

    monkeypatch.setattr(notary_client, "load_trusted_set", counted)
    return verified


def offline(directory: Path, now: dt.datetime = NOW, **options: Any) -> NotaryClient:
    return NotaryClient(UNREACHABLE, directory, offline=True, now=lambda: now, **options)


def test_a_collection_is_verified_once_for_every_client_and_lookup(
        tmp_path: Path, verifications: list[str]) -> None:
    directory = cache(tmp_path, Repo())
    for _ in range(25):  # as the trust stage does: a new client for every config
        assert offline(directory).lookup(GUN, "v2").length == 423
        assert offline(directory).lookup(GUN, "v3").length == 401
    assert verifications == [GUN]
    with pytest.raises(errors.UnknownTarget):
        offline(directory).lookup(GUN, "v9")
    assert verifications == [GUN]


def test_a_changed_file_is_verified_again(tmp_path: Path, verifications: list[str]) -> None:
    repo = Repo()
    directory = cache(tmp_path, repo)
    assert offline(directory).lookup(GUN, "v2").digest == "sha256:" + "22" * 32
    repo.releases["v2"]["length"] = 999
    repo.bump("targets/releases", "snapshot", "timestamp")
    cache(directory, repo)
    assert offline(directory).lookup(GUN, "v2").length == 999
    assert verifications == [GUN, GUN]
    releases = directory / GUN / "metadata" / "targets" / "releases.json"
    releases.write_bytes(releases.read_bytes().replace(b"999", b"998"))
    with pytest.raises(errors.TrustError):
        offline(directory).lookup(GUN, "v2")


def test_a_kept_verification_still_expires(tmp_path: Path, verifications: list[str]) -> None:
    directory = cache(tmp_path, Repo())
    offline(directory).lookup(GUN, "v1")
    later = NOW + dt.timedelta(days=15)  # the timestamp lives 14 days
    with pytest.raises(errors.ExpiredMetadata, match=r"^timestamp: expired"):
        offline(directory, later).lookup(GUN, "v1")
    much_later = NOW + dt.timedelta(days=4000)  # past the root and its certificate
    with pytest.raises(errors.ExpiredMetadata, match=r"^root: expired"):
        offline(directory, much_later).lookup(GUN, "v1")
    assert verifications == [GUN]
    assert offline(directory).lookup(GUN, "v1").length == 401


def test_a_raised_version_floor_is_verified_again(tmp_path: Path,
                                                   verifications: list[str]) -> None:
    directory = cache(tmp_path, Repo())
    offline(directory).lookup(GUN, "v1")
    state = directory / GUN / "versions.json"
    versions = json.loads(state.read_text())
    versions["snapshot"] += 1
    state.write_text(json.dumps(versions))
    with pytest.raises(errors.Rollback, match=r"^snapshot:"):
        offline(directory).lookup(GUN, "v1")
    assert verifications == [GUN, GUN]


def test_root_key_pins_are_part_of_what_was_verified(tmp_path: Path,
                                                     verifications: list[str]) -> None:
    repo = Repo()
    directory = cache(tmp_path, repo)
    offline(directory).lookup(GUN, "v1")
    with pytest.raises(errors.RootChanged):
        offline(directory, pins=RootPins(keys=frozenset({"AAAA"}))).lookup(GUN, "v1")
    pin = PublicKey("", "", "", "", repo.root_keys[0].private.public_key(), None).spki_b64
    assert pin is not None
    pins = RootPins(keys=frozenset({pin}))
    assert offline(directory, pins=pins).lookup(GUN, "v1").length == 401
    assert verifications == [GUN, GUN, GUN]


def test_the_client_imports_no_cryptography_until_it_verifies(tmp_path: Path) -> None:
    directory = cache(tmp_path, Repo())
    probe = ("import datetime as dt, sys\n"
             "from lkpolicy.stages.trust.notary.client import NotaryClient\n"
             "def loaded():\n"
             "    return sorted({m.split('.')[0] for m in sys.modules\n"
             "                   if m.startswith(('cryptography', 'urllib3'))})\n"
             "print(loaded())\n"
             f"now = dt.datetime.fromisoformat({NOW.isoformat()!r})\n"
             f"client = NotaryClient({UNREACHABLE!r}, {str(directory)!r}, offline=True,\n"
             "                      now=lambda: now)\n"
             f"print(client.lookup({GUN!r}, 'v1').length, loaded())\n")
    printed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                             text=True, timeout=120, check=True).stdout.splitlines()
    assert printed == ["[]", "401 ['cryptography']"]
