"""The Notary v1 client against a real notary-server (+ notary-signer) and registry.

The servers come from ../shared/recipes/notary-registry.sh (the `notary_env` fixture of
conftest.py), started once per session and signer mode (`remote`: notary-signer, ECDSA
timestamp/snapshot keys as on Docker Hub; `local`: the server's built-in ED25519 signer) and
always stopped in the finaliser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from notary_helpers import Repo
from registry_env import silent_server

from lkpolicy.stages.trust import errors, notary
from lkpolicy.stages.trust.errors import NetworkError
from lkpolicy.stages.trust.notary.client import NotaryClient

MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])


def client(facts: dict[str, str], trust_dir: Path, **kwargs: object) -> NotaryClient:
    return NotaryClient(facts["NOTARY_URL"], trust_dir, ca_file=facts["NOTARY_CA"],
                        timeout=10, **kwargs)  # type: ignore[arg-type]


def registry_manifest(facts: dict[str, str], tag: str) -> tuple[str, int]:
    repo = facts["GUN"].split("/", 1)[1]
    request = urllib.request.Request(f"{facts['REGISTRY_URL']}/v2/{repo}/manifests/{tag}",
                                     headers={"Accept": MANIFEST_ACCEPT})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        assert response.headers["Docker-Content-Digest"] == ("sha256:"
                                                             + hashlib.sha256(body).hexdigest())
    return "sha256:" + hashlib.sha256(body).hexdigest(), len(body)


@pytest.mark.parametrize("tag", ["v1", "v2", "v3", "multi"])
def test_signed_tags_resolve(notary_env: dict[str, str], tmp_path: Path, tag: str) -> None:
    with client(notary_env, tmp_path) as trust:
        target = trust.lookup(notary_env["GUN"], tag)
    assert target.digest == notary_env[f"DIGEST_{tag}"] == notary_env[f"DOCKER_EXPECTS_{tag}"]
    assert target.length == int(notary_env[f"SIZE_{tag}"])
    assert target.role == ("targets" if tag == "v3" else "targets/releases")
    notary.check_manifest(target, *registry_manifest(notary_env, tag))


def test_signer_key_types(notary_env: dict[str, str], tmp_path: Path) -> None:
    with client(notary_env, tmp_path) as trust:
        trusted = trust.load(notary_env["GUN"])
    expected = "ecdsa" if notary_env["SIGNER"] == "remote" else "ed25519"
    for role in ("timestamp", "snapshot"):
        keyid = trusted.root.roles[role].keyids[0]
        assert trusted.root.keys[keyid].keytype == expected
    assert trusted.root.roles["root"].keyids == (notary_env["ROOT_KEYID"],)


@pytest.mark.parametrize("tag", ["v4", "v5"])
def test_tags_without_docker_trust_data(notary_env: dict[str, str], tmp_path: Path,
                                        tag: str) -> None:
    with client(notary_env, tmp_path) as trust, pytest.raises(errors.UnknownTarget,
                                                              match=rf"tag '{tag}'"):
        trust.lookup(notary_env["GUN"], tag)


def test_v4_is_signed_only_in_a_delegation_docker_ignores(notary_env: dict[str, str],
                                                          tmp_path: Path) -> None:
    with client(notary_env, tmp_path) as trust:
        trusted = trust.load(notary_env["GUN"], delegations=("targets/releases",
                                                             "targets/alice"))
    assert [(h.role, h.digest) for h in trusted.signed_everywhere("v4")] == [
        ("targets/alice", notary_env["DIGEST_v4"])]
    with pytest.raises(errors.UnknownTarget, match=r"signed only in targets/alice"):
        trusted.find_target("v4")


def test_unsigned_repository(notary_env: dict[str, str], tmp_path: Path) -> None:
    with client(notary_env, tmp_path) as trust, pytest.raises(errors.NoTrustData,
                                                              match=r"^root:"):
        trust.lookup(notary_env["GUN_UNSIGNED"], "v1")


def test_first_use_pins_the_served_root(notary_env: dict[str, str], tmp_path: Path) -> None:
    with client(notary_env, tmp_path) as trust:
        trust.lookup(notary_env["GUN"], "v2")
    pinned = (tmp_path / notary_env["GUN"] / "metadata" / "root.json").read_bytes()
    assert pinned == (Path(notary_env["METADATA_DIR"]) / "root.json").read_bytes()
    versions = json.loads((tmp_path / notary_env["GUN"] / "versions.json").read_text())
    assert versions["root"] == 2 and versions["targets/releases"] >= 1


def test_different_root_after_first_use(notary_env: dict[str, str], tmp_path: Path) -> None:
    impostor = Repo(gun=notary_env["GUN"], now=dt.datetime.now(dt.UTC)).build()["root"]
    pin = tmp_path / notary_env["GUN"] / "metadata" / "root.json"
    pin.parent.mkdir(parents=True)
    pin.write_bytes(impostor)
    with client(notary_env, tmp_path) as trust, pytest.raises(errors.RootChanged, match=r"^root:"):
        trust.lookup(notary_env["GUN"], "v1")
    assert pin.read_bytes() == impostor


def test_offline_from_cache(notary_env: dict[str, str], tmp_path: Path) -> None:
    with client(notary_env, tmp_path) as trust:
        online = trust.lookup(notary_env["GUN"], "multi")
    # An unreachable server proves nothing is fetched.
    offline = NotaryClient("https://127.0.0.1:9", tmp_path, offline=True)
    started = time.perf_counter()
    assert offline.lookup(notary_env["GUN"], "multi") == online
    assert time.perf_counter() - started < 0.5


def test_offline_still_checks_expiry_and_rollback(notary_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    with client(notary_env, tmp_path) as trust:
        trust.lookup(notary_env["GUN"], "v1")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=15)
    with pytest.raises(errors.ExpiredMetadata, match=r"^timestamp:"):
        NotaryClient("https://127.0.0.1:9", tmp_path, offline=True,
                     now=lambda: later).lookup(notary_env["GUN"], "v1")
    state = tmp_path / notary_env["GUN"] / "versions.json"
    versions = json.loads(state.read_text())
    versions["snapshot"] += 1
    state.write_text(json.dumps(versions))
    with pytest.raises(errors.Rollback, match=r"^snapshot:"):
        NotaryClient("https://127.0.0.1:9", tmp_path, offline=True).lookup(notary_env["GUN"],
                                                                          "v1")


def test_offline_without_cache(tmp_path: Path) -> None:
    with pytest.raises(errors.NoTrustData, match=r"offline"):
        NotaryClient("https://127.0.0.1:9", tmp_path, offline=True).lookup(
            "127.0.0.1:5000/lktest/signed", "v1")


def test_server_certificate_must_verify(notary_env: dict[str, str], tmp_path: Path) -> None:
    with NotaryClient(notary_env["NOTARY_URL"], tmp_path, timeout=5) as trust, \
            pytest.raises(NetworkError, match=r"^root: TLS error talking to 127\.0\.0\.1:\d+: "
                                              r"certificate verify failed"):
        trust.lookup(notary_env["GUN"], "v1")


def test_notary_cli_agrees(notary_env: dict[str, str], tmp_path: Path) -> None:
    with client(notary_env, tmp_path / "ours") as trust:
        ours = trust.lookup(notary_env["GUN"], "v2")
    result = subprocess.run(["notary", "-s", notary_env["NOTARY_URL"], "-d", str(tmp_path / "nt"),
                             "--tlscacert", notary_env["NOTARY_CA"], "lookup", notary_env["GUN"],
                             "v2"], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["v2", ours.digest, str(ours.length)]


def test_slow_server_times_out(tmp_path: Path) -> None:
    with silent_server() as port:
        trust = NotaryClient(f"https://127.0.0.1:{port}", tmp_path, timeout=0.5)
        started = time.perf_counter()
        with pytest.raises(NetworkError, match=r"^root: timed out after 0.5s"):
            trust.lookup("127.0.0.1:5000/lktest/signed", "v1")
        assert time.perf_counter() - started < 3


def test_root_pinned_by_certificate_id_as_notary_pins_it(notary_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    """`root_cert_ids` are the IDs of notary's `trust_pinning.certs`: the real client accepts the
    same ID, and refuses another, as lkpolicy does."""
    gun, keyid = notary_env["GUN"], notary_env["ROOT_KEYID"]

    def notary_lookup(pinned: str) -> subprocess.CompletedProcess[str]:
        config = tmp_path / f"{pinned[:8]}.json"
        config.write_text(json.dumps({"trust_pinning": {"certs": {gun: [pinned]}}}))
        return subprocess.run(["notary", "-c", str(config), "-s", notary_env["NOTARY_URL"],
                               "-d", str(tmp_path / f"nt-{pinned[:8]}"), "--tlscacert",
                               notary_env["NOTARY_CA"], "lookup", gun, "v2"],
                              capture_output=True, text=True, timeout=60, check=False)

    assert notary_lookup(keyid).returncode == 0
    assert notary_lookup("ab" * 32).returncode != 0
    pins = notary.RootPins(cert_ids=frozenset({keyid}))
    with client(notary_env, tmp_path / "right", pins=pins) as trust:
        assert trust.lookup(gun, "v2").digest == notary_env["DIGEST_v2"]
    with client(notary_env, tmp_path / "wrong",
                pins=notary.RootPins(cert_ids=frozenset({"ab" * 32}))) as trust, \
            pytest.raises(errors.RootChanged, match="no root key matches the pinned"):
        trust.lookup(gun, "v2")
    # Replacing notary's certificate rules with the pin changes nothing for an honest root.
    replaced = notary.RootPins(cert_ids=frozenset({keyid}), replace=True)
    with client(notary_env, tmp_path / "replaced", pins=replaced) as trust:
        assert trust.lookup(gun, "v2").digest == notary_env["DIGEST_v2"]
