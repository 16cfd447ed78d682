"""Named signers against the real notary-server, with delegations made by the real notary client.

In the recipe's test bed (conftest.py `notary_env`), a repository of its own is signed with the
`notary` CLI as a publisher would: `notary init`, delegations `targets/releases` (a certificate)
and `targets/alice` (a bare key) added with `notary delegation add`, targets added to chosen
roles with `notary add --roles` over the manifest bytes the registry serves, then `notary
publish`. The images are copied with skopeo and pulled into an image cache, and the trust stage
judges them with a policy that names both roles as signers.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import textwrap
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lkpolicy.model.config import merge
from lkpolicy.registry import RegistryClient
from lkpolicy.stages.images import resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy.loader import load_policy_file
from lkpolicy.stages.trust.stage import TrustResult, run_trust
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

ACCEPT = "application/vnd.oci.image.manifest.v1+json"
# tag -> roles that sign it, and which recipe image each role signs
SIGNED = {
    "same": {"targets/releases": "v1", "targets/alice": "v1"},
    "split": {"targets/releases": "v1", "targets/alice": "v3"},
    "lonely": {"targets/releases": "v1"},
}


@dataclass
class Bed:
    facts: dict[str, str]
    gun: str
    cache: Path
    digests: dict[str, str]
    sizes: dict[str, int]
    notary: list[str]
    env: dict[str, str]


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                            check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command[:6])} failed: {result.stderr[-1500:]}")
    return result.stdout


def _manifest(facts: dict[str, str], repository: str, tag: str) -> bytes:
    request = urllib.request.Request(f"{facts['REGISTRY_URL']}/v2/{repository}/manifests/{tag}",
                                     headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=10) as response:
        data: bytes = response.read()
    return data


@pytest.fixture(scope="module")
def bed(notary_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
        monkeypatch_module: pytest.MonkeyPatch) -> Bed:
    facts = notary_env
    root = tmp_path_factory.mktemp(f"named-{facts['SIGNER']}")
    host = facts["REGISTRY_HOST"]
    gun = f"{host}/lktest/named"
    manifests = {tag: _manifest(facts, "lktest/signed", tag) for tag in ("v1", "v3")}
    for tag, roles in SIGNED.items():
        source = next(iter(roles.values()))
        _run(["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
              "--preserve-digests", f"docker://{host}/lktest/signed:{source}",
              f"docker://{gun}:{tag}"])
    env = {**os.environ, "NOTARY_ROOT_PASSPHRASE": "root-pass",
           "NOTARY_TARGETS_PASSPHRASE": "targets-pass",
           "NOTARY_SNAPSHOT_PASSPHRASE": "snapshot-pass",
           "NOTARY_DELEGATION_PASSPHRASE": "delegation-pass"}
    notary = ["notary", "-s", facts["NOTARY_URL"], "-d", str(root / "trust"), "--tlscacert",
              facts["NOTARY_CA"]]
    _run([*notary, "init", gun, "-p"], env)
    _run([*notary, "key", "rotate", gun, "snapshot", "-r"], env)
    keys = root / "keys"
    keys.mkdir()
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
          str(keys / "releases.pem")])
    _run(["openssl", "req", "-new", "-x509", "-key", str(keys / "releases.pem"), "-out",
          str(keys / "releases.crt"), "-days", "30", "-subj", "/CN=releases"])
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
          str(keys / "alice.pem")])
    _run(["openssl", "ec", "-in", str(keys / "alice.pem"), "-pubout", "-out",
          str(keys / "alice.pub")])
    for role, public in (("releases", "releases.crt"), ("alice", "alice.pub")):
        _run([*notary, "key", "import", str(keys / f"{role}.pem"), "--role",
              f"targets/{role}", "--gun", gun], env)
        _run([*notary, "delegation", "add", gun, f"targets/{role}", str(keys / public),
              "--all-paths"], env)
    for tag, roles in SIGNED.items():
        for role, source in roles.items():
            path = root / f"{source}.json"
            path.write_bytes(manifests[source])
            _run([*notary, "add", gun, tag, str(path), "--roles", role], env)
    _run([*notary, "publish", gun], env)
    store = Store(root / "cache")
    with RegistryClient() as registry:
        for tag in SIGNED:
            store.pull(f"{gun}:{tag}", registry)
    digests = {tag: "sha256:" + hashlib.sha256(data).hexdigest() for tag, data in manifests.items()}
    sizes = {tag: len(data) for tag, data in manifests.items()}
    return Bed(facts, gun, root / "cache", digests, sizes, notary, env)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_CONFIG", "/nonexistent-lkpolicy-test")
        yield patch


def judge(bed: Bed, tmp_path: Path, tag: str,
          require: str = "{authority: hub, signers: [targets/releases, targets/alice]}"
          ) -> TrustResult:
    policy = tmp_path / "policy.yml"
    policy.write_text(textwrap.dedent(f"""\
        extends: []
        trust:
          authorities:
            hub: {{type: notary, server: '{bed.facts['NOTARY_URL']}', ca: '{bed.facts['NOTARY_CA']}', tofu: true}}
          rules:
            - images: ['{bed.gun}*']
              require: {require}
        """))
    config = tmp_path / "c.yml"
    config.write_text(f"services:\n  - name: app\n    image: {bed.gun}:{tag}\n")
    loaded = merge([load_document(str(config))[0]])
    resolution = resolve_images(loaded, ImageOptions(cache=str(bed.cache), arch="amd64"))
    return run_trust(loaded, resolution, load_policy_file(str(policy)),
                     cache_dir=tmp_path / "trust")


def refused(bed: Bed, tag: str) -> str:
    return (f"services `app` image `{bed.gun}:{tag}`: authority `hub` (notary, signers "
            f"targets/releases, targets/alice) does not vouch for it: ")


def test_the_notary_cli_signed_what_the_test_says(bed: Bed) -> None:
    for role, tags in (("targets/releases", ["lonely", "same", "split"]),
                       ("targets/alice", ["same", "split"])):
        listed = _run([*bed.notary, "list", bed.gun, "--roles", role], bed.env)
        assert sorted(line.split()[0] for line in listed.splitlines()[2:] if line.strip()) \
            == tags


def test_two_roles_with_the_same_digest_pass(bed: Bed, tmp_path: Path) -> None:
    result = judge(bed, tmp_path, "same")
    assert result.findings == []
    assert [(e["role"], e["digest"], e["size"]) for e in result.evidence[bed.digests["v1"]]] \
        == [(role, bed.digests["v1"], bed.sizes["v1"])
            for role in ("targets/releases", "targets/alice")]


def test_two_roles_with_different_digests_are_refused(bed: Bed, tmp_path: Path) -> None:
    [finding] = judge(bed, tmp_path, "split").findings
    assert finding.rule_id == "LKT002"
    assert finding.message == refused(bed, "split") + (
        f"targets: the required signers disagree on tag 'split': targets/releases signs "
        f"{bed.digests['v1']} ({bed.sizes['v1']} bytes), targets/alice signs "
        f"{bed.digests['v3']} ({bed.sizes['v3']} bytes)")


def test_one_role_missing_is_refused(bed: Bed, tmp_path: Path) -> None:
    [finding] = judge(bed, tmp_path, "lonely").findings
    assert finding.rule_id == "LKT002"
    assert finding.message == refused(bed, "lonely") + (
        "targets/alice: tag 'lonely' is not signed by targets/alice, which the policy requires")
    # Docker's role order alone accepts it: the signers are what the policy adds.
    assert judge(bed, tmp_path, "lonely", "hub").findings == []


def test_a_role_the_repository_never_delegated_is_refused(bed: Bed, tmp_path: Path) -> None:
    [finding] = judge(bed, tmp_path, "same",
                      "{authority: hub, signers: [targets/releases, targets/bob]}").findings
    assert finding.message.endswith(
        "does not vouch for it: targets/bob: targets does not delegate to targets/bob (it "
        "delegates to: targets/alice, targets/releases)")
