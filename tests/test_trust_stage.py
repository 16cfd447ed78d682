"""The trust stage: policy authorities vouching for the digests in the image cache.

Notary metadata is signed here with our own keys (notary_helpers.Repo) and served by a loopback
HTTP server with the notary-server URL layout; several "servers" share it under path prefixes.
The real notary-server is covered by test_notary_server.py; here speed matters more.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from imagefactory import add_image
from notary_helpers import NOW, Repo, target_entry
from tuf_helpers import TufRepo
from typer.testing import CliRunner

from lkpolicy.cli.trust import trust_app
from lkpolicy.model.config import Config, merge
from lkpolicy.model.findings import InputError
from lkpolicy.model.oci import Descriptor
from lkpolicy.model.reference import ImageRef
from lkpolicy.model.rules import all_rules
from lkpolicy.stages.images import resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy.loader import load_policy_file
from lkpolicy.stages.policy.model import Policy
from lkpolicy.stages.trust import adapters
from lkpolicy.stages.trust.inspection import inspect_image
from lkpolicy.stages.trust.stage import TrustResult, VerificationFailed, Verifier, run_trust
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

GUN = "127.0.0.1:5000/lktest/signed"
IMAGE = f"{GUN}:v1"
OTHER = "127.0.0.1:5000/lktest/other:v1"

# site -> notary file name (`root`, `targets/releases`, ...) -> bytes
Sites = dict[str, dict[str, bytes]]


class _Handler(BaseHTTPRequestHandler):
    sites: Sites

    def do_GET(self) -> None:
        site, _, rest = self.path.lstrip("/").partition("/")
        prefix = f"v2/{GUN}/_trust/tuf/"
        files = self.sites.get(site, {})
        data = None
        if rest.startswith(prefix) and rest.endswith(".json"):
            name = rest[len(prefix):-len(".json")]
            data = files.get(name)
            head, _, digest = name.rpartition(".")
            if data is None and head in files and \
                    hashlib.sha256(files[head]).hexdigest() == digest:
                data = files[head]
        if data is None:
            body = b'{"errors":[{"code":"METADATA_NOT_FOUND"}]}'
            self.send_response(404)
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Sites]]:
    sites: Sites = {}
    handler = type("Handler", (_Handler,), {"sites": sites})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", sites
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def image_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Descriptor]:
    root = tmp_path_factory.mktemp("images")
    store = Store(root)
    add_image(store, IMAGE, None)
    add_image(store, f"{GUN}:v9", {"capabilities": ["all"]})
    descriptor = store.find(IMAGE)
    assert descriptor is not None
    return root, descriptor


def signed_repo(descriptor: Descriptor, **releases: Descriptor) -> dict[str, bytes]:
    entries = {"v1": descriptor, **releases}
    return Repo(gun=GUN, releases={tag: target_entry(d.digest.split(":", 1)[1], d.size)
                                   for tag, d in entries.items()}).build()


@pytest.fixture(scope="module")
def sites(server: tuple[str, Sites], image_cache: tuple[Path, Descriptor]) -> str:
    """`good` signs v1 as cached; `bad` signs v1 with another digest; `second` is another
    honest server with its own keys; `empty` has no trust data."""
    url, served = server
    _, descriptor = image_cache
    served["good"] = signed_repo(descriptor)
    served["second"] = signed_repo(descriptor)
    served["bad"] = signed_repo(Descriptor(descriptor.media_type, "sha256:" + "ab" * 32, 999))
    served["empty"] = {}
    return url


def policy_file(tmp_path: Path, url: str, trust: str, name: str = "policy.yml") -> Path:
    authorities = "\n".join(
        f"    {site}: {{type: notary, server: '{url}/{site}', tofu: true}}"
        for site in ("good", "second", "bad", "empty"))
    path = tmp_path / name
    path.write_text(f"extends: []\ntrust:\n  authorities:\n{authorities}\n"
                    + textwrap.indent(textwrap.dedent(trust), "  "))
    return path


def config_of(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "c.yml"
    path.write_text(textwrap.dedent(text))
    return merge([load_document(str(path))[0]])


SERVICE = f"""\
services:
  - name: app
    image: {IMAGE}
"""


def check(tmp_path: Path, sites: str, image_cache: tuple[Path, Descriptor], trust: str,
          config: str = SERVICE, **kwargs: Any) -> TrustResult:
    policy = load_policy_file(str(policy_file(tmp_path, sites, trust)))
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("cache_dir", tmp_path / "trust")
    return run_resolved(config_of(tmp_path, config), policy, image_cache=image_cache[0],
                     **kwargs)


def run_resolved(config: Config, policy: Policy, *, image_cache: Path | None = None,
                 **kwargs: Any) -> TrustResult:
    """The trust stage on the resolution the image stage makes from `image_cache`."""
    options = ImageOptions(cache=str(image_cache), arch="amd64") if image_cache else None
    return run_trust(config, resolve_images(config, options), policy, **kwargs)


def ids(result: TrustResult) -> list[str]:
    return [finding.rule_id for finding in result.findings]


# -- requirements ----------------------------------------------------------------------------


def test_required_and_verified_records_evidence(tmp_path: Path, sites: str,
                                                image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: ["127.0.0.1:5000/lktest/*"]
            require: good
    """)
    assert result.findings == []
    [evidence] = result.evidence[image_cache[1].digest]
    assert evidence["authority"] == "good" and evidence["type"] == "notary"
    assert evidence["role"] == "targets/releases"
    assert evidence["digest"] == image_cache[1].digest and evidence["size"] == image_cache[1].size
    assert evidence["expires"] == "2029-11-30T00:00:00Z"
    # TOFU pinned the root under the trust cache.
    assert list((tmp_path / "trust" / "notary").glob(f"good-*/{GUN}/metadata/root.json"))


def test_no_policy_requirement_means_no_work(tmp_path: Path, sites: str,
                                             image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: ["docker.io/*"]
            require: bad
    """)
    assert result == TrustResult([], {})


def test_config_trust_without_default_authority_is_an_error(
        tmp_path: Path, sites: str, image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, "rules: []\n",
                   config=SERVICE + "trust:\n  org: [lktest]\n")
    [finding] = result.findings
    assert finding.rule_id == "LKT001" and finding.severity.label == "error"
    assert (finding.location.line, finding.location.column) == (3, 12)
    assert finding.pointer == "/services/0/image"
    assert IMAGE in finding.message and "default_authority" in finding.message
    assert result.evidence == {}


def test_config_trust_org_uses_the_default_authority(
        tmp_path: Path, sites: str, image_cache: tuple[Path, Descriptor]) -> None:
    config = f"kernel:\n  image: {OTHER}\ninit:\n  - {IMAGE}\ntrust:\n  org: [lktest]\n"
    result = check(tmp_path, sites, image_cache, "default_authority: good\n", config=config)
    # The kernel is in the org too but not cached: nothing to verify is an error, not a pass.
    [finding] = result.findings
    assert finding.rule_id == "LKT004" and OTHER in finding.message
    assert finding.pointer == "/kernel/image"
    assert [e["authority"] for e in result.evidence[image_cache[1].digest]] == ["good"]


def test_config_trust_image_entry_without_tag(tmp_path: Path, sites: str,
                                             image_cache: tuple[Path, Descriptor]) -> None:
    config = SERVICE + f"trust:\n  image: [{GUN}]\n"
    result = check(tmp_path, sites, image_cache, "default_authority: bad\n", config=config)
    assert ids(result) == ["LKT003"]


def test_digest_differs_from_the_signed_one(tmp_path: Path, sites: str,
                                           image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: "*"
            require: bad
    """)
    [finding] = result.findings
    assert finding.rule_id == "LKT003"
    assert f"signed as sha256:{'ab' * 32} (999 bytes)" in finding.message
    assert f"the image cache has {image_cache[1].digest} ({image_cache[1].size} bytes)" \
        in finding.message
    assert "authority `bad` (notary)" in finding.message and "\n" not in finding.message
    assert IMAGE not in result.evidence


def test_all_threshold_with_one_failing_authority(tmp_path: Path, sites: str,
                                                  image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: "*"
            require: {all: [good, empty]}
    """)
    [finding] = result.findings
    assert finding.rule_id == "LKT002"
    assert "authority `empty` (notary) does not vouch for it: root:" in finding.message
    assert "no root metadata" in finding.message
    # What did vouch is still recorded, for the report.
    assert [e["authority"] for e in result.evidence[image_cache[1].digest]] == ["good"]


def test_any_threshold_with_one_passing_authority(tmp_path: Path, sites: str,
                                                  image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: "*"
            require: {any: [bad, good]}
    """)
    assert result.findings == []
    assert [e["authority"] for e in result.evidence[image_cache[1].digest]] == ["good"]


def test_any_threshold_with_none_passing(tmp_path: Path, sites: str,
                                         image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: "*"
            require: {any: [bad, empty]}
    """)
    assert sorted(ids(result)) == ["LKT002", "LKT003"]
    assert all("(any of bad, empty would do; none does)" in f.message for f in result.findings)


def test_every_matching_rule_applies(tmp_path: Path, sites: str,
                                     image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, """\
        rules:
          - images: "*"
            require: {any: [good, second]}
          - images: "127.0.0.1:5000/lktest/signed*"
            require: second
    """, config=SERVICE + f"onboot:\n  - name: again\n    image: {IMAGE}\n")
    assert result.findings == []
    assert [e["authority"] for e in result.evidence[image_cache[1].digest]] == ["good", "second"]


def test_pinned_reference_must_be_the_signed_digest(tmp_path: Path, sites: str,
                                                   image_cache: tuple[Path, Descriptor]) -> None:
    store = Store(image_cache[0])
    other = store.find(f"{GUN}:v9")
    assert other is not None and other.digest != image_cache[1].digest
    pinned = f"{IMAGE}@{other.digest}"
    store.register(pinned, other)  # an honest cache entry for a pin that notary never signed
    try:
        result = check(tmp_path, sites, image_cache, "default_authority: good\n",
                       config=f"init:\n  - {pinned}\ntrust:\n  image: [{IMAGE}]\n")
    finally:
        store.rm(pinned)
    assert ids(result) == ["LKT003"]
    assert f"the config pins {other.digest}" in result.findings[0].message


def test_a_cache_entry_that_lies_about_its_pin_is_never_verified(
        tmp_path: Path, sites: str, image_cache: tuple[Path, Descriptor]) -> None:
    pinned = f"{IMAGE}@sha256:{'cd' * 32}"
    store = Store(image_cache[0])
    store.register(pinned, image_cache[1])
    try:
        result = check(tmp_path, sites, image_cache, "default_authority: good\n",
                       config=f"init:\n  - {pinned}\ntrust:\n  image: [{IMAGE}]\n")
    finally:
        store.rm(pinned)
    assert ids(result) == ["LKT004"]
    assert "not to the pinned digest" in result.findings[0].message


def test_image_not_in_the_cache(tmp_path: Path, sites: str,
                                image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, "rules: [{images: '*', require: good}]\n",
                   config=f"onboot:\n  - name: x\n    image: {GUN}:v2\n")
    [finding] = result.findings
    assert finding.rule_id == "LKT004" and "must be verified by `good`" in finding.message


def test_missing_tag_signature(tmp_path: Path, sites: str,
                               image_cache: tuple[Path, Descriptor]) -> None:
    result = check(tmp_path, sites, image_cache, "rules: [{images: '*', require: good}]\n",
                   config=f"services:\n  - name: x\n    image: {GUN}:v9\n")
    [finding] = result.findings
    assert finding.rule_id == "LKT002" and "no trust data for tag 'v9'" in finding.message


def test_pinned_root_keys(tmp_path: Path, server: tuple[str, Sites],
                          image_cache: tuple[Path, Descriptor]) -> None:
    from cryptography.hazmat.primitives import serialization

    url, served = server
    _, descriptor = image_cache
    repo = Repo(gun=GUN, releases={"v1": target_entry(descriptor.digest[7:], descriptor.size)})
    served["pinned"] = repo.build()
    spki = repo.root_keys[0].private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    right = base64.b64encode(spki).decode()
    wrong = base64.b64encode(spki[:-1] + bytes([spki[-1] ^ 1])).decode()
    config = config_of(tmp_path, SERVICE)
    for index, (pin, expected) in enumerate(((wrong, ["LKT002"]), (right, []))):
        path = tmp_path / "p.yml"
        path.write_text(f"extends: []\ntrust:\n  authorities:\n    p: {{type: notary, server: "
                        f"'{url}/pinned', root_keys: ['{pin}']}}\n"
                        f"  rules: [{{images: '*', require: p}}]\n")
        result = run_resolved(config, load_policy_file(str(path)),
                           image_cache=image_cache[0], cache_dir=tmp_path / str(index), now=NOW)
        assert ids(result) == expected
        if expected:
            assert "no root key matches the pinned root key(s)" in result.findings[0].message


# -- offline -----------------------------------------------------------------------------------


def test_offline_from_a_warm_cache_and_expiry(tmp_path: Path, sites: str,
                                              image_cache: tuple[Path, Descriptor]) -> None:
    trust = "rules: [{images: '*', require: good}]\n"
    cold = check(tmp_path, sites, image_cache, trust, offline=True)
    assert ids(cold) == ["LKT002"] and "offline" in cold.findings[0].message
    online = check(tmp_path, sites, image_cache, trust)
    assert online.findings == []
    policy = load_policy_file(str(policy_file(tmp_path, "http://127.0.0.1:9", trust)))
    config = config_of(tmp_path, SERVICE)
    # The cache is keyed by authority and server: pointed elsewhere, it has nothing offline...
    unreachable = run_resolved(config, policy, image_cache=image_cache[0],
                            cache_dir=tmp_path / "trust", offline=True, now=NOW)
    assert ids(unreachable) == ["LKT002"]
    # ...so the same authority, offline, answers from its own cache and still checks expiry.
    policy = load_policy_file(str(policy_file(tmp_path, sites, trust)))
    offline = run_resolved(config, policy, image_cache=image_cache[0],
                        cache_dir=tmp_path / "trust", offline=True, now=NOW)
    assert offline.findings == [] and offline.evidence == online.evidence
    later = run_resolved(config, policy, image_cache=image_cache[0],
                      cache_dir=tmp_path / "trust", offline=True,
                      now=NOW + dt.timedelta(days=15))
    [finding] = later.findings
    assert finding.rule_id == "LKT002" and "timestamp:" in finding.message
    assert "expired" in finding.message


def test_rollback_is_caught_online(tmp_path: Path, server: tuple[str, Sites],
                                   image_cache: tuple[Path, Descriptor]) -> None:
    url, served = server
    repo = Repo(gun=GUN, releases={"v1": target_entry(image_cache[1].digest[7:],
                                                      image_cache[1].size)})
    repo.bump()
    served["rolling"] = repo.build()
    policy_path = tmp_path / "p.yml"
    policy_path.write_text(f"extends: []\ntrust:\n  authorities:\n    r: {{type: notary, server: "
                           f"'{url}/rolling', tofu: true}}\n  default_authority: r\n")
    policy = load_policy_file(str(policy_path))
    config = config_of(tmp_path, SERVICE + f"trust:\n  image: [{IMAGE}]\n")
    assert run_resolved(config, policy, image_cache=image_cache[0],
                     cache_dir=tmp_path / "t", now=NOW).findings == []
    repo.versions.update({"targets": 1, "snapshot": 1, "timestamp": 1})
    served["rolling"] = repo.build()
    [finding] = run_resolved(config, policy, image_cache=image_cache[0],
                          cache_dir=tmp_path / "t", now=NOW).findings
    assert finding.rule_id == "LKT002"
    assert finding.message.endswith("authority `r` (notary) does not vouch for it: timestamp: "
                                    "version 1 is older than the trusted version 2")


# -- verifiers behind the protocol -------------------------------------------------------------


class Fake:
    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[dict[str, Any]]:
        self.calls.append(ref.expanded)
        if self.answer is not None:
            raise VerificationFailed(self.answer)
        return [{"authority": "fake", "digest": manifest.digest if manifest else None}]

    def close(self) -> None:
        pass


def test_injected_verifiers_and_one_call_per_image(tmp_path: Path, sites: str,
                                                   image_cache: tuple[Path, Descriptor]) -> None:
    passing, failing = Fake(None), Fake("cosign: no signature")
    config = SERVICE + f"onboot:\n  - name: b\n    image: {IMAGE}\n"
    result = check(tmp_path, sites, image_cache,
                   "rules: [{images: '*', require: {all: [good, second]}}]\n", config=config,
                   verifiers={"good": passing, "second": failing})
    assert passing.calls == failing.calls == [IMAGE]
    [finding] = result.findings
    assert finding.message.endswith("authority `second` (notary) does not vouch for it: "
                                    "cosign: no signature")
    # Reported once, at the first use in linuxkit's order (onboot before services).
    assert finding.pointer == "/onboot/0/image" and finding.related[0].line == 3


def test_verifier_that_cannot_be_built(tmp_path: Path, image_cache: tuple[Path, Descriptor]
                                       ) -> None:
    path = tmp_path / "p.yml"
    path.write_text("extends: []\ntrust:\n  authorities:\n    keys: {type: cosign-key, keys: "
                    "[missing.pem]}\n  rules: [{images: '*', require: keys}]\n")
    policy = load_policy_file(str(path))
    result = run_resolved(config_of(tmp_path, SERVICE), policy, image_cache=image_cache[0],
                       cache_dir=tmp_path / "t", now=NOW, offline=True)
    [finding] = result.findings
    assert finding.rule_id == "LKT002"
    assert finding.message.endswith(f"authority `keys` (cosign-key) does not vouch for it: "
                                    f"cannot read the public key {tmp_path / 'missing.pem'}: "
                                    f"No such file or directory")


def test_missing_verifier_module_fails_only_its_images(
        tmp_path: Path, sites: str, image_cache: tuple[Path, Descriptor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(*_: object) -> Verifier:
        raise ModuleNotFoundError("No module named 'tuf'")

    monkeypatch.setitem(adapters.ADAPTERS, "tuf", absent)
    policy = policy_file(tmp_path, sites, "rules: [{images: '*', require: {any: [t, good]}}]\n"
                         "default_authority: t\n")
    policy.write_text(policy.read_text().replace(
        "  rules:", "    t: {type: tuf, repository: repo, root: root.json}\n  rules:"))
    result = run_resolved(config_of(tmp_path, SERVICE + f"trust:\n  image: [{IMAGE}]\n"),
                          load_policy_file(str(policy)), image_cache=image_cache[0],
                       cache_dir=tmp_path / "trust", now=NOW)
    [finding] = result.findings  # `any` is satisfied by good; the default `t` is not
    assert finding.message.endswith("authority `t` (tuf) does not vouch for it: the tuf verifier "
                                    "is not available (lkpolicy.stages.trust.tuf_verifier: No module "
                                    "named 'tuf')")


def test_cosign_key_offline_reads_signatures_from_the_image_cache(
        tmp_path: Path, image_cache: tuple[Path, Descriptor]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "cosign.pub").write_bytes(key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    path = tmp_path / "p.yml"
    path.write_text("extends: []\ntrust:\n  authorities:\n    ck: {type: cosign-key, keys: "
                    "[cosign.pub]}\n  rules: [{images: '*', require: ck}]\n")
    result = run_resolved(config_of(tmp_path, SERVICE), load_policy_file(str(path)),
                       image_cache=image_cache[0], cache_dir=tmp_path / "t", now=NOW,
                       offline=True)
    [finding] = result.findings
    assert finding.rule_id == "LKT002"
    assert f"no cosign signature for {image_cache[1].digest}" in finding.message


def test_tuf_and_notary_together(tmp_path: Path, sites: str,
                                 image_cache: tuple[Path, Descriptor]) -> None:
    store = Store(image_cache[0])
    manifest = store.blob_path(image_cache[1].digest).read_bytes()
    repo = TufRepo(tmp_path / "repo")
    repo.add_target(IMAGE, manifest)
    repo.publish()
    (tmp_path / "root.json").write_bytes(repo.root_bytes())
    policy = policy_file(tmp_path, sites, """\
        rules: [{images: '*', require: {all: [good, repo]}}]
    """)
    policy.write_text(policy.read_text().replace(
        "  rules:", "    repo: {type: tuf, repository: repo, root: root.json}\n  rules:"))
    loaded = load_policy_file(str(policy))
    result = run_resolved(config_of(tmp_path, SERVICE), loaded, image_cache=image_cache[0],
                       cache_dir=tmp_path / "trust")
    assert result.findings == []
    assert [(e["authority"], e["type"], e["digest"]) for e in result.evidence[image_cache[1].digest]] == [
        ("good", "notary", image_cache[1].digest), ("repo", "tuf", image_cache[1].digest)]


# -- the policy file ---------------------------------------------------------------------------


def policy_error(tmp_path: Path, text: str) -> InputError:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_policy_file(str(path))
    return caught.value


def test_policy_trust_section_is_schema_checked(tmp_path: Path) -> None:
    error = policy_error(tmp_path, "extends: []\ntrust:\n  authorities:\n    a: {type: notary, "
                                   "server: 'https://n', tofu: true, colour: red}\n")
    [finding] = error.findings
    assert finding.rule_id == "LKP002" and "colour" in finding.message
    assert (finding.location.line, finding.location.column) == (4, 56)
    error = policy_error(tmp_path, "extends: []\ntrust:\n  authorities:\n    a: {type: tuf, "
                                   "repository: r}\n")
    assert error.findings[0].message == "`root` is required in `trust/authorities/a`"
    error = policy_error(tmp_path, "extends: []\ntrust:\n  rules: [{images: '*', require: "
                                   "{most: [a]}}]\n")
    assert error.findings[0].rule_id == "LKP002"


def test_policy_trust_names_must_exist(tmp_path: Path) -> None:
    error = policy_error(tmp_path, "extends: []\ntrust:\n  authorities:\n    hub: {type: notary, "
                                   "server: 'https://n', root_keys: [abc]}\n  rules:\n    - "
                                   "images: '*'\n      require: {any: [hub, hubb]}\n"
                                   "  default_authority: nope\n")
    assert [(f.rule_id, f.location.line) for f in error.findings] == [("LKP005", 7),
                                                                      ("LKP005", 8)]
    assert "unknown trust authority `hubb` (defined: hub)" in error.findings[0].message


def test_policy_trust_paths_and_extends(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "base.yml").write_text(
        "extends: []\ntrust:\n  authorities:\n    ck: {type: cosign-key, keys: [k.pem]}\n"
        "    t: {type: tuf, repository: repo, root: r/root.json}\n"
        "  rules: [{images: 'docker.io/*', require: ck}]\n")
    (tmp_path / "p.yml").write_text(
        "extends: [base/base.yml]\ntrust:\n  rules: [{images: '*', require: {any: [ck, t]}}]\n"
        "  default_authority: t\n")
    policy: Policy = load_policy_file(str(tmp_path / "p.yml"))
    trust = policy.trust
    assert trust.authorities["ck"].keys == (str(tmp_path / "base" / "k.pem"),)
    assert trust.authorities["t"].root == str(tmp_path / "base" / "r" / "root.json")
    assert trust.authorities["t"].repository == (tmp_path / "base" / "repo").as_uri()
    assert [r.require.describe() for r in trust.rules] == ["ck", "any of ck, t"]
    assert trust.default_authority == "t"


def test_trust_rules_are_catalogued() -> None:
    rules = {rule.id: rule for rule in all_rules() if rule.category == "trust"}
    assert sorted(rules) == ["LKT001", "LKT002", "LKT003", "LKT004", "LKT005"]
    assert all(rule.rationale and rule.fix for rule in rules.values())


# -- trust inspect -----------------------------------------------------------------------------


def test_inspect_text_and_json(tmp_path: Path, sites: str,
                               image_cache: tuple[Path, Descriptor]) -> None:
    policy = policy_file(tmp_path, sites, "rules: [{images: '*', require: {any: [good, bad]}}]\n")
    base = ["inspect", IMAGE, "--policy", str(policy), "--cache", str(image_cache[0]),
            "--trust-cache", str(tmp_path / "trust")]
    # Real time (no `--at`): the repository was signed two days ago and is valid for weeks.
    runner = CliRunner()
    result = runner.invoke(trust_app, base)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == IMAGE
    assert lines[1] == f"  cached: {image_cache[1].digest} ({image_cache[1].size} bytes)"
    assert lines[2] == "  good (notary, required): ok"
    assert lines[3].startswith(f"    {image_cache[1].digest} ({image_cache[1].size} bytes) by "
                               "targets/releases, expires ")
    assert any(line.startswith("  bad (notary, required): MISMATCH signed as sha256:abab")
               for line in lines)
    assert any(line.startswith("  empty (notary, not required): FAILED root:")
               for line in lines)
    result = runner.invoke(trust_app, [*base, "--format", "json", "--offline"])
    data = json.loads(result.output)
    assert data["reference"] == IMAGE and data["cached"]["digest"] == image_cache[1].digest
    answers = {a["authority"]: a for a in data["authorities"]}
    assert answers["good"]["ok"] and answers["good"]["evidence"][0]["role"] == "targets/releases"
    assert answers["bad"]["mismatch"] and not answers["bad"]["ok"]
    # Every authority was asked online first, so offline answers come from their caches.
    assert answers["second"]["ok"]
    assert "offline" in answers["empty"]["error"]


def test_inspect_uncached_image_shows_the_signed_digest(
        tmp_path: Path, sites: str, image_cache: tuple[Path, Descriptor]) -> None:
    policy = load_policy_file(str(policy_file(tmp_path, sites, "rules: []\n")))
    result = inspect_image(IMAGE, policy, cache_dir=tmp_path / "t", now=NOW,
                           image_cache=tmp_path / "nothing")
    assert result.manifest is None
    answers = {a.authority: a for a in result.answers}
    assert answers["bad"].ok and answers["bad"].evidence[0]["digest"] == "sha256:" + "ab" * 32
    assert not any(a.required for a in result.answers)


def test_inspect_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("extends: []\n")
    result = CliRunner().invoke(trust_app, ["inspect", IMAGE, "--policy",
                                            str(tmp_path / "p.yml")])
    assert result.exit_code == 2 and "no trust authorities" in result.output


# -- named signers -----------------------------------------------------------------------------


def named_policy(tmp_path: Path, url: str, site: str, require: str) -> Policy:
    path = tmp_path / "named.yml"
    path.write_text(f"extends: []\ntrust:\n  authorities:\n    hub: {{type: notary, server: "
                    f"'{url}/{site}', tofu: true}}\n  rules:\n    - images: '*'\n"
                    f"      require: {require}\n")
    return load_policy_file(str(path))


SIGNERS = "{authority: hub, signers: [targets/releases, targets/alice]}"


def test_named_signers_must_all_sign_the_same_digest(
        tmp_path: Path, server: tuple[str, Sites], image_cache: tuple[Path, Descriptor]) -> None:
    url, served = server
    _, descriptor = image_cache
    entry = target_entry(descriptor.digest[7:], descriptor.size)
    served["both"] = Repo(gun=GUN, releases={"v1": entry}, alice={"v1": entry}).build()
    served["split"] = Repo(gun=GUN, releases={"v1": entry},
                           alice={"v1": target_entry("ee" * 32, 77)}).build()
    served["alone"] = Repo(gun=GUN, releases={"v1": entry}).build()
    config = config_of(tmp_path, SERVICE)

    def run(site: str, require: str = SIGNERS) -> TrustResult:
        return run_resolved(config, named_policy(tmp_path, url, site, require),
                            image_cache=image_cache[0], cache_dir=tmp_path / site, now=NOW)

    passed = run("both")
    assert passed.findings == []
    assert [(e["role"], e["digest"], e["signers"]) for e in passed.evidence[descriptor.digest]] \
        == [(role, descriptor.digest, ["targets/releases", "targets/alice"])
            for role in ("targets/releases", "targets/alice")]
    [split] = run("split").findings
    assert split.rule_id == "LKT002"
    assert split.message == (
        f"services `app` image `{IMAGE}`: authority `hub` (notary, signers targets/releases, "
        f"targets/alice) does not vouch for it: targets: the required signers disagree on tag "
        f"'v1': targets/releases signs {descriptor.digest} ({descriptor.size} bytes), "
        f"targets/alice signs sha256:{'ee' * 32} (77 bytes)")
    [alone] = run("alone").findings
    assert alone.message.endswith("does not vouch for it: targets/alice: tag 'v1' is not "
                                  "signed by targets/alice, which the policy requires")
    # Docker's order alone is satisfied by the same repository.
    assert run("alone", "hub").findings == []
    # Named signers inside `any` and `all`, with another authority.
    assert run("alone", "{any: [" + SIGNERS + ", hub]}").findings == []
    [both] = run("alone", "{all: [hub, " + SIGNERS + "]}").findings
    assert "signed by targets/alice" in both.message


def test_signers_and_file_rules_need_the_right_authority_types(tmp_path: Path) -> None:
    error = policy_error(tmp_path, "extends: []\ntrust:\n  authorities:\n    ck: {type: "
                                   "cosign-key, keys: [k.pem]}\n  rules:\n    - images: '*'\n"
                                   "      require: {authority: ck, signers: [targets/a]}\n")
    [finding] = error.findings
    assert finding.rule_id == "LKP005" and finding.location.line == 7
    assert "`signers` needs a notary authority" in finding.message
    error = policy_error(tmp_path, "extends: []\ntrust:\n  authorities:\n    hub: {type: notary, "
                                   "server: 'https://n', tofu: true}\n  rules:\n"
                                   "    - files: ['etc/*']\n      require: {any: [hub]}\n")
    assert "cannot vouch for local files" in error.findings[0].message
    error = policy_error(tmp_path, "extends: []\ntrust:\n  rules:\n    - images: '*'\n"
                                   "      files: ['x']\n      require: a\n")
    assert error.findings[0].rule_id == "LKP002"
    error = policy_error(tmp_path, "extends: []\ntrust:\n  authorities:\n    hub: {type: notary, "
                                   "server: 'https://n', tofu: true, pin_mode: replace}\n")
    assert error.findings[0].rule_id == "LKP002"


def test_empty_all_is_never_met() -> None:
    from lkpolicy.stages.trust.requirements import AllOf, AnyOf, Ask, Refusal, Signed

    assert not AllOf(()).verify({}).ok and not AnyOf(()).verify({}).ok
    nested = AllOf((AnyOf((Signed(Ask("a")), Signed(Ask("b")))), Signed(Ask("c", ("targets",)))))
    answers = {Ask("a"): Refusal("no"), Ask("b"): None, Ask("c", ("targets",)): None}
    assert nested.verify(answers).ok
    verdict = nested.verify({**answers, Ask("b"): Refusal("nope")})
    assert not verdict.ok
    assert [(u.ask.authority, u.note) for u in verdict.unmet] == [
        ("a", " (any of a, b would do; none does)"), ("b", " (any of a, b would do; none does)")]
    assert nested.describe() == "all of (any of a, b), c (signed by targets)"


# -- --at --------------------------------------------------------------------------------------


def test_check_and_inspect_at_a_stated_moment(tmp_path: Path, sites: str,
                                              image_cache: tuple[Path, Descriptor],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Notary trust data made at NOW: its timestamp expires 14 days later, its root
    certificate is valid from 2026-11-01."""
    from lkpolicy.cli import app

    monkeypatch.setenv("LKPOLICY_TRUST_CACHE", str(tmp_path / "trust"))
    policy = policy_file(tmp_path, sites, "rules: [{images: '*', require: good}]\n")
    config = tmp_path / "c.yml"
    config.write_text(SERVICE)
    runner = CliRunner()

    def check_at(moment: str) -> tuple[int, list[str]]:
        result = runner.invoke(app, ["check", "--format", "json", "--policy", str(policy),
                                     "--cache", str(image_cache[0]), "--arch", "amd64",
                                     "--at", moment, str(config)])
        found = json.loads(result.output)["findings"]
        return result.exit_code, [f"{f['rule']} {f['message']}" for f in found]

    assert check_at("2026-12-02") == (0, [])
    code, [expired] = check_at("2026-12-16T00:00:00Z")
    assert code == 1 and expired.startswith("LKT002 ")
    assert expired.endswith("does not vouch for it: timestamp: expired at 2026-12-15T00:00:00+00:00 "
                            "(now 2026-12-16T00:00:00+00:00)")
    code, [early] = check_at("2026-10-01")
    assert code == 1 and "certificate is not valid before 2026-11-01" in early
    base = ["inspect", IMAGE, "--policy", str(policy), "--cache", str(image_cache[0]),
            "--trust-cache", str(tmp_path / "trust"), "--format", "json"]
    later = json.loads(runner.invoke(trust_app, [*base, "--at", "2026-12-16"]).output)
    assert later["at"] == "2026-12-16T00:00:00Z"
    answers = {answer["authority"]: answer for answer in later["authorities"]}
    assert "expired at 2026-12-15" in answers["good"]["error"]
    sooner = json.loads(runner.invoke(trust_app, [*base, "--at", "2026-12-14T23:00:00Z"]).output)
    assert {a["authority"]: a for a in sooner["authorities"]}["good"]["ok"]


def test_inspect_shows_named_signers(tmp_path: Path, server: tuple[str, Sites],
                                     image_cache: tuple[Path, Descriptor]) -> None:
    url, served = server
    _, descriptor = image_cache
    entry = target_entry(descriptor.digest[7:], descriptor.size)
    served["inspected"] = Repo(gun=GUN, releases={"v1": entry}).build()
    policy = tmp_path / "named.yml"
    policy.write_text(f"extends: []\ntrust:\n  authorities:\n    hub: {{type: notary, server: "
                      f"'{url}/inspected', tofu: true}}\n  rules:\n    - images: '*'\n"
                      f"      require: {SIGNERS}\n")
    result = CliRunner().invoke(trust_app, ["inspect", IMAGE, "--policy", str(policy), "--cache",
                                            str(image_cache[0]), "--trust-cache",
                                            str(tmp_path / "t"), "--at", "2026-12-02"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[2] == "  hub (notary, not required): ok"
    assert lines[4] == ("  hub (notary, signers targets/releases, targets/alice, required): "
                        "FAILED targets/alice: tag 'v1' is not signed by targets/alice, which the "
                        "policy requires")
