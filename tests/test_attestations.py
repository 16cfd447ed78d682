"""In-toto attestations of images against a real docker-registry on 127.0.0.1.

DSSE envelopes are made here (keys with `cryptography`, keyless bundles from the local
Fulcio/CT/Rekor stand-in whose trusted root sigstore-python verifies offline), attached as
cosign's legacy `.att` tags and as OCI referrers (the tag-schema fallback index: distribution
2.8 has no referrers API), pushed with skopeo, pulled into an image cache with
`lkpolicy cache pull`, and judged by the trust stage online and offline from that cache. Each
refusal is checked for its reason. The bundles are also judged by the sigstore npm verifier
(tests/node/sigstore_verify.js), whose verdict on signature and identity must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import (
    BUILDER,
    REPOSITORY,
    SLSA_V02,
    SLSA_V1,
    SPDX,
    add_att_manifest,
    envelope,
    slsa_v02,
    slsa_v1,
    statement,
    tampered,
)
from cosign_helpers import (
    COSIGN_PREDICATE,
    FakeSigstore,
    SigLayer,
    add_bundle_referrer,
    add_sig_manifest,
    in_toto_statement,
    public_pem,
    put_manifest,
    referrers_index,
    sign,
    simple_signing_payload,
)
from cryptography.hazmat.primitives.asymmetric import ec
from registry_env import OCILayout, Registry, require_tool, skopeo_push, tar_layer, wait_all

from lkpolicy.model.config import merge
from lkpolicy.stages.images import resolve_images
from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy.loader import load_policy_file
from lkpolicy.stages.trust.stage import TrustResult, run_trust
from lkpolicy.store.location import ImageOptions

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "https://github.com/lktest/app/.github/workflows/release.yml@refs/heads/main"
OTHER_IDENTITY = "https://github.com/mallory/app/.github/workflows/release.yml@refs/heads/main"
EVIL_BUILDER = "https://github.com/mallory/builder/.github/workflows/build.yml@refs/heads/main"


@dataclass
class Env:
    registry: Registry
    root: Path
    digests: dict[str, str]
    bundles: dict[str, bytes]
    """The referrers' bundles by image name (for the second verifier)."""
    online_cache: Path
    offline_cache: Path
    key_pem: bytes

    def image(self, name: str) -> str:
        return f"{self.registry.host}/lktest/{name}:v1"


ATT = ("att-key", "att-v02", "att-subject", "att-tampered", "plain")
REF = ("ref-keyless", "ref-builder", "ref-ptype", "ref-identity", "ref-tampered",
       "ref-managed", "ref-unlogged", "ref-wronglog")
SIGNED = ("sig-managed", "sig-unlogged")
"""Images whose cosign image signature is a managed-key bundle, logged or not."""


def _lkpolicy(*args: str, cache: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lkpolicy", *args, "--cache", str(cache)],
                            env={**os.environ, "DOCKER_CONFIG": str(cache / "no-docker")},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    require_tool("skopeo", "skopeo")
    root = tmp_path_factory.mktemp("attest")
    layout = OCILayout(root / "oci")
    key = ec.generate_private_key(ec.SECP256R1())
    (root / "key.pub").write_bytes(public_pem(key))
    fake = FakeSigstore()
    fake.write_trusted_root(root / "trusted_root.json")
    digests: dict[str, str] = {}
    descriptors: dict[str, dict[str, Any]] = {}
    for name in (*ATT, *REF, *SIGNED):
        layer, _ = tar_layer({f"etc/{name}": name.encode()})
        descriptor, pushed = layout.image(name, [layer])
        layout.tag(descriptor, name)
        digests[name], descriptors[name] = pushed.manifest_digest, descriptor
    registry = Registry(root / "storage", root / "run").start()
    host = registry.host

    def good(name: str, kind: str = SLSA_V1) -> bytes:
        return statement(digests[name], kind, slsa_v1() if kind == SLSA_V1 else slsa_v02())

    att = {
        "att-key": [envelope(key, good("att-key"))],
        "att-v02": [envelope(key, good("att-v02", SLSA_V02))],
        "att-subject": [envelope(key, good("att-key"))],
        "att-tampered": [envelope(key, statement(digests["att-tampered"], SLSA_V1,
                                                 slsa_v1(builder=EVIL_BUILDER)),
                                  signed=good("att-tampered"))],
    }

    def keyless(name: str, payload: bytes, identity: str = IDENTITY) -> bytes:
        signing_key, cert = fake.issue(identity, ISSUER)
        return fake.dsse_bundle(signing_key, cert, payload)

    bundles = {
        "ref-keyless": keyless("ref-keyless", good("ref-keyless")),
        "ref-builder": keyless("ref-builder", statement(digests["ref-builder"], SLSA_V1,
                                                        slsa_v1(builder=EVIL_BUILDER))),
        "ref-ptype": keyless("ref-ptype", statement(digests["ref-ptype"], SPDX,
                                                    {"spdxVersion": "SPDX-2.3"})),
        "ref-identity": keyless("ref-identity", good("ref-identity"), OTHER_IDENTITY),
        "ref-tampered": tampered(keyless("ref-tampered", good("ref-tampered"))),
        "ref-managed": fake.key_dsse_bundle(key, good("ref-managed")),
        "ref-unlogged": fake.key_dsse_bundle(key, good("ref-unlogged"), logged=False),
        "ref-wronglog": fake.key_dsse_bundle(key, good("ref-wronglog"),
                                             body_payload=good("ref-keyless")),
    }
    pushes = []
    for name, envelopes in att.items():
        tag = digests[name].replace(":", "-") + ".att"  # "plain" has none
        add_att_manifest(layout, tag, [(data, SLSA_V1) for data in envelopes])
        pushes.append((tag, f"{host}/lktest/{name}:{tag}"))
    # att-key is also signed: the policy can ask for the signature and the attestation.
    payload = simple_signing_payload(f"{host}/lktest/att-key", digests["att-key"])
    sig_tag = digests["att-key"].replace(":", "-") + ".sig"
    add_sig_manifest(layout, sig_tag, [SigLayer(payload, sign(key, payload))])
    pushes.append((sig_tag, f"{host}/lktest/att-key:{sig_tag}"))
    indexes = []
    signatures = {
        "sig-managed": fake.key_dsse_bundle(key, in_toto_statement(digests["sig-managed"])),
        "sig-unlogged": fake.key_dsse_bundle(key, in_toto_statement(digests["sig-unlogged"]),
                                             logged=False),
    }
    for name, bundle in {**bundles, **signatures}.items():
        predicate = SPDX if name == "ref-ptype" else \
            COSIGN_PREDICATE if name in signatures else SLSA_V1
        entry = add_bundle_referrer(layout, descriptors[name], bundle, predicate)
        layout.tag(entry, f"referrer-{name}")
        pushes.append((f"referrer-{name}", f"{host}/lktest/{name}@{entry['digest']}"))
        indexes.append((name, digests[name].replace(":", "-"), referrers_index([entry])))
    layout.write_index()
    try:
        processes = [skopeo_push(layout.root, name, f"{host}/lktest/{name}:v1")
                     for name in (*ATT, *REF, *SIGNED)]
        processes += [skopeo_push(layout.root, tag, destination, "--preserve-digests")
                      for tag, destination in pushes]
        wait_all(processes)
        for name, tag, data in indexes:
            put_manifest(registry.url, f"lktest/{name}", tag, data)
        images = [f"{host}/lktest/{name}:v1" for name in (*ATT, *REF, *SIGNED)]
        online, offline = root / "online-cache", root / "offline-cache"
        _lkpolicy("cache", "pull", "--platform", "linux/amd64", *images, cache=online)
        # Offline, the attestations come from the cache: the `.att` and `.sig` tags, and the
        # referrers fallback index with every platform entry (its referrer manifests).
        extra = [f"{host}/lktest/{name}:{tag}" for tag, destination in pushes
                 if ".att" in tag or ".sig" in tag
                 for name in [destination.split("/lktest/", 1)[1].split(":", 1)[0]]]
        _lkpolicy("cache", "pull", "--platform", "linux/amd64", *images, *extra, cache=offline)
        _lkpolicy("cache", "pull", "--all-platforms",
                  *[f"{host}/lktest/{name}:{tag}" for name, tag, _ in indexes], cache=offline)
        yield Env(registry, root, digests, bundles, online, offline, public_pem(key))
    finally:
        registry.stop()


AUTHORITIES = f"""\
authorities:
  keys: {{type: cosign-key, keys: [key.pub]}}
  managed: {{type: cosign-key, keys: [key.pub], trusted_root: trusted_root.json}}
  ci:
    type: sigstore
    trusted_root: trusted_root.json
    identities: [{{issuer: "{ISSUER}", subject: "{IDENTITY}"}}]
"""


def judge(env: Env, name: str, require: str, *, offline: bool = False,
          tmp: Path | None = None) -> TrustResult:
    """The trust stage for a config running image `name`, under one trust rule."""
    workdir = tmp or env.root
    policy = env.root / f"policy-{abs(hash(require))}.yml"
    policy.write_text("extends: []\ntrust:\n" + textwrap.indent(AUTHORITIES, "  ")
                      + "  rules:\n    - images: ['*']\n      require:\n"
                      + textwrap.indent(textwrap.dedent(require), "        "))
    config_path = workdir / f"{name}.yml"
    config_path.write_text(f"services:\n  - name: app\n    image: {env.image(name)}\n")
    config = merge([load_document(str(config_path))[0]])
    cache = env.offline_cache if offline else env.online_cache
    options = ImageOptions(cache=str(cache), arch="amd64")
    return run_trust(config, resolve_images(config, options), load_policy_file(str(policy)),
                     cache_dir=workdir / "trust", offline=offline)


def refusal(result: TrustResult) -> str:
    [finding] = result.findings
    assert finding.rule_id == "LKT002", finding.message
    return finding.message


PROVENANCE = """\
authority: {authority}
attestation:
  predicate_type: slsa-provenance
  builder: {builder}
"""


def provenance(authority: str, builder: str = BUILDER) -> str:
    return PROVENANCE.format(authority=authority, builder=builder)


# ------------------------------------------------------------------------------------ accepted


@pytest.mark.parametrize("offline", [False, True], ids=["registry", "image-cache"])
@pytest.mark.parametrize(("name", "authority"), [
    ("att-key", "keys"), ("att-v02", "keys"), ("ref-keyless", "ci"), ("ref-managed", "managed"),
    ("ref-managed", "keys"), ("ref-unlogged", "keys"), ("att-key", "managed")])
def test_attestations_that_meet_the_rule(env: Env, name: str, authority: str,
                                         offline: bool) -> None:
    result = judge(env, name, provenance(authority), offline=offline)
    assert result.findings == []
    [evidence] = result.evidence[env.digests[name]]
    facts = evidence["attestation"]
    assert facts["builder"] == BUILDER and facts["source_repository"] == REPOSITORY
    assert facts["predicate_type"] == (SLSA_V02 if name == "att-v02" else SLSA_V1)
    assert evidence["method"] == ("keyless" if authority == "ci" else "key")
    if name.startswith("ref-") and authority in ("ci", "managed"):
        assert evidence["logged"] is not None  # the log's integration time, verified
    else:  # a key is the anchor of `.att` envelopes and of bundles without a trusted log
        assert evidence["logged"] is None
    assert ("/lktest/" not in evidence["source"]) and evidence["source"]


def test_signed_and_attested_by_builder(env: Env, tmp_path: Path) -> None:
    """"Signed, and with a provenance attestation from builder X": both answers are needed."""
    rule = "all:\n  - keys\n  - " + textwrap.indent(provenance("keys"), "    ").lstrip()
    assert judge(env, "att-key", rule, tmp=tmp_path).findings == []
    message = refusal(judge(env, "att-v02", rule, tmp=tmp_path))
    assert "authority `keys` (cosign-key) does not vouch" in message
    assert "no cosign signature for" in message


def test_source_and_pointer_conditions(env: Env, tmp_path: Path) -> None:
    rule = """\
authority: ci
attestation:
  predicate_type: https://slsa.dev/provenance/v1
  builder_regex: "https://github.com/lktest/builder/.*@refs/tags/v2\\\\.[0-9.]+"
  source_repository: https://github.com/lktest/app
  source_ref_regex: "refs/(heads/main|tags/v.*)"
  build_type: https://actions.github.io/buildtypes/workflow/v1
  conditions:
    - {pointer: /buildDefinition/externalParameters/workflow/path, equals: .github/workflows/release.yml}
    - {pointer: /buildDefinition/resolvedDependencies/0/digest, equals: {gitCommit: %s}}
    - {pointer: /runDetails/metadata/invocationId, regex: "https://github.com/lktest/.*"}
""" % ("a" * 40)
    assert judge(env, "ref-keyless", rule, tmp=tmp_path).findings == []
    wrong_ref = rule.replace('heads/main|tags/v.*', 'tags/v.*')
    assert "SLSA provenance: source ref 'refs/heads/main' does not match /refs/(tags/v.*)/" in \
        refusal(judge(env, "ref-keyless", wrong_ref, tmp=tmp_path))
    wrong_field = rule.replace("equals: .github/workflows/release.yml", "equals: other.yml")
    assert ('predicate/buildDefinition/externalParameters/workflow/path is '
            '".github/workflows/release.yml", not "other.yml"') in \
        refusal(judge(env, "ref-keyless", wrong_field, tmp=tmp_path))
    v02 = """\
authority: keys
attestation:
  predicate_type: slsa-provenance
  source_repository: https://github.com/lktest/app
  source_ref: refs/tags/v1.0.0
"""
    assert judge(env, "att-v02", v02, tmp=tmp_path).findings == []


def test_generic_condition_on_another_predicate_type(env: Env, tmp_path: Path) -> None:
    rule = """\
authority: ci
attestation:
  predicate_type: https://spdx.dev/Document
  conditions: [{pointer: /spdxVersion, regex: "SPDX-2\\\\.[0-9]"}]
"""
    assert judge(env, "ref-ptype", rule, tmp=tmp_path).findings == []


@pytest.mark.parametrize("offline", [False, True], ids=["registry", "image-cache"])
def test_managed_key_image_signatures(env: Env, offline: bool) -> None:
    """A managed-key bundle signing the image itself: with the trusted root's log it must be
    logged, and its evidence carries the log's time; the key alone accepts it without."""
    logged = judge(env, "sig-managed", "managed", offline=offline)
    assert logged.findings == []
    [evidence] = logged.evidence[env.digests["sig-managed"]]
    assert evidence["format"] == "sigstore-bundle" and evidence["logged"] is not None
    message = refusal(judge(env, "sig-unlogged", "managed", offline=offline))
    assert "transparency-log entry: the bundle has 0 entries" in message
    assert judge(env, "sig-unlogged", "keys", offline=offline).findings == []
    # Nor is a signature an attestation, or an attestation a signature.
    assert "no attestation for" in refusal(judge(env, "sig-managed", provenance("managed"),
                                                 offline=offline))
    assert "is not a cosign image signature" in refusal(judge(env, "ref-managed", "managed",
                                                              offline=offline))


# ------------------------------------------------------------------------------------ refused


@pytest.mark.parametrize("offline", [False, True], ids=["registry", "image-cache"])
@pytest.mark.parametrize(("name", "authority", "reason"), [
    ("att-subject", "keys", "attestation is about sha256:{att-key}, not sha256:{att-subject}"),
    # Every trust message goes through the credential redaction; builder IDs and identities
    # (`https://host/path@refs/...`) hold no userinfo and stay whole.
    ("ref-builder", "ci", f"SLSA provenance: builder '{EVIL_BUILDER}' does not "
                          f"match '{BUILDER}'"),
    ("ref-ptype", "ci", f"predicate type '{SPDX}', not {SLSA_V02} or {SLSA_V1}"),
    ("ref-identity", "ci", f"Certificate's SANs do not match {IDENTITY}"),
    ("att-tampered", "keys", "the signature does not verify with any trusted key"),
    ("ref-tampered", "ci", "DSSE: invalid signature"),
    ("ref-unlogged", "managed", "the bundle has 0 entries; a log is trusted, so exactly one "
                                "is required"),
    ("ref-wronglog", "managed", "the entry records another payload than the bundle's"),
])
def test_refused_with_the_reason(env: Env, name: str, authority: str, reason: str,
                                 offline: bool) -> None:
    message = refusal(judge(env, name, provenance(authority), offline=offline))
    digest = env.digests[name]  # named only by the `.att` tag, or as the subject it is not
    assert f"image `{env.image(name)}`: authority `{authority}`" in message
    expected = reason.format(**{key: value.split(":", 1)[1]
                                for key, value in env.digests.items()})
    assert expected in message, message
    assert digest.split(":", 1)[1] not in message or name in ("att-subject", "att-tampered")


def test_missing_or_unusable_attestation(env: Env, tmp_path: Path) -> None:
    digest = env.digests["plain"]
    tag = digest.replace(":", "-") + ".att"
    for offline in (False, True):
        message = refusal(judge(env, "plain", provenance("ci"), offline=offline, tmp=tmp_path))
        assert f"no attestation for {digest} (looked for tag {tag} and referrers)" in message
    message = refusal(judge(env, "ref-keyless", provenance("keys"), tmp=tmp_path))
    assert "keyless bundle, but no keyless identity is trusted" in message


# ------------------------------------------------------------------------------------ second verifier

STATEMENT_REASONS = ("SLSA provenance:", "predicate type", "attestation is about")
"""Refusals for what a validly signed statement says, which sigstore-js does not judge."""
AUTHORITY = {"ref-managed": "managed", "ref-unlogged": "managed", "ref-wronglog": "managed"}


def test_sigstore_js_agrees_on_every_bundle(env: Env) -> None:
    """@sigstore/verify judges the same bundles (certificate chain, SCT, log entry, signature,
    identity; the managed-key ones with the key): it accepts exactly those whose signature
    lkpolicy accepts, whatever lkpolicy then says about the statement."""
    from nodetools import node, node_modules

    modules = node_modules()
    trusted_root = json.loads((env.root / "trusted_root.json").read_text())
    cases = []
    for name, bundle in env.bundles.items():
        case: dict[str, Any] = {"name": name, "bundle": json.loads(bundle)}
        if name in AUTHORITY:
            case["publicKey"] = env.key_pem.decode()
        else:
            case.update(identity=IDENTITY, issuer=ISSUER)
        cases.append(case)
    script = Path(__file__).parent / "node" / "sigstore_verify.js"
    done = subprocess.run([node(), str(script)], input=json.dumps(
        {"trustedRoot": trusted_root, "cases": cases}), capture_output=True, text=True,
        timeout=60, check=False, env={**os.environ, "NODE_PATH": str(modules)})
    assert done.returncode == 0, done.stderr
    theirs = {item["name"]: item for item in map(json.loads, done.stdout.splitlines())}
    ours = {}
    for name in env.bundles:
        result = judge(env, name, provenance(AUTHORITY.get(name, "ci")))
        message = result.findings[0].message if result.findings else ""
        ours[name] = not message or any(reason in message for reason in STATEMENT_REASONS)
    assert {name: item["ok"] for name, item in theirs.items()} == ours, theirs
    assert set(ours.values()) == {True, False}
    assert "TLOG_BODY_ERROR" in theirs["ref-wronglog"]["error"]
    assert "UNTRUSTED_SIGNER_ERROR" in theirs["ref-identity"]["error"]


# ------------------------------------------------------------------------------------ the CLI


def test_check_and_trust_inspect(env: Env, tmp_path: Path) -> None:
    """`check` refuses the image (exit 1, LKT002 with the reason); `trust inspect` shows the
    attestation answer next to the signature's; both offline, from the image cache."""
    rule = "all:\n  - keys\n  - " + textwrap.indent(provenance("keys", EVIL_BUILDER),
                                                    "    ").lstrip()
    policy = tmp_path / "policy.yml"
    policy.write_text("extends: []\ntrust:\n" + textwrap.indent(AUTHORITIES, "  ")
                      .replace("key.pub", str(env.root / "key.pub"))
                      .replace("trusted_root.json", str(env.root / "trusted_root.json"))
                      + "  rules:\n    - images: ['*']\n      require:\n"
                      + textwrap.indent(rule, "        "))
    config = tmp_path / "app.yml"
    config.write_text(f"services:\n  - name: app\n    image: {env.image('att-key')}\n")
    environment = {**os.environ, "LKPOLICY_TRUST_CACHE": str(tmp_path / "trust")}

    def lkpolicy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lkpolicy", *args], env=environment,
                              capture_output=True, text=True, timeout=120, check=False)

    checked = lkpolicy("check", "--no-cache", "--offline", "--cache", str(env.offline_cache),
                       "--policy", str(policy), str(config))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "LKT002" in checked.stdout and f"SLSA provenance: builder '{BUILDER}' does not " \
        f"match '{EVIL_BUILDER}'" in checked.stdout
    # The finding names the requirement that is unmet: the attestation, not the signature.
    assert f"authority `keys` (cosign-key, attestation slsa-provenance, builder " \
        f"'{EVIL_BUILDER}') does not vouch" in checked.stdout
    inspected = lkpolicy("trust", "inspect", env.image("att-key"), "--offline", "--cache",
                         str(env.offline_cache), "--policy", str(policy), "--format", "json")
    assert inspected.returncode == 1, inspected.stderr
    answers = {(item["authority"], item["attestation"]): item
               for item in json.loads(inspected.stdout)["authorities"]}
    assert answers[("keys", None)]["ok"] and answers[("keys", None)]["required"]
    [(attested, answer)] = [(key, value) for key, value in answers.items() if key[1]]
    assert attested[1].startswith("attestation slsa-provenance, builder ")
    assert answer["required"] and not answer["ok"] and "SLSA provenance" in answer["error"]
    # A passing attestation's evidence keeps the builder whole (messages redact `https://…@`).
    policy.write_text(policy.read_text().replace(EVIL_BUILDER, BUILDER))
    inspected = lkpolicy("trust", "inspect", env.image("att-key"), "--offline", "--cache",
                         str(env.offline_cache), "--policy", str(policy), "--format", "json")
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    [attested] = [item for item in json.loads(inspected.stdout)["authorities"]
                  if item["attestation"]]
    assert attested["evidence"][0]["attestation"]["builder"] == BUILDER
