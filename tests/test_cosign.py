"""cosign signatures against a real docker-registry on 127.0.0.1, with signatures made here.

Legacy `.sig` manifests and cosign v3 bundle referrers (tag-schema fallback index, since
distribution 2.8 has no referrers API) are built with `cryptography` in cosign's exact formats and
pushed with skopeo. Keyless bundles come from a local Fulcio/CT/Rekor stand-in (cosign_helpers)
whose trusted root sigstore-python verifies offline.
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
from cosign_helpers import (
    FakeSigstore,
    SigLayer,
    add_bundle_referrer,
    add_sig_manifest,
    in_toto_statement,
    key_bundle,
    public_pem,
    put_manifest,
    referrers_index,
    sign,
    simple_signing_payload,
)
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from registry_env import OCILayout, Registry, require_tool, skopeo_push, tar_layer, wait_all

from lkpolicy.model.reference import ImageRef, parse
from lkpolicy.registry import RegistryClient
from lkpolicy.stages.trust import errors
from lkpolicy.stages.trust.cosign import (
    CosignVerifier,
    load_public_key,
    verify_simple_signing,
)
from lkpolicy.stages.trust.errors import (
    CosignError,
    IdentityMismatch,
    MalformedSignature,
    PayloadDigestMismatch,
    SignatureInvalid,
    SignatureMissing,
    TrustedRootUnavailable,
    TrustError,
    UnsupportedSignature,
    WrongIdentity,
)
from lkpolicy.stages.trust.sigstore_keyless import (
    KeylessPolicy,
    KeylessVerifier,
)

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "https://github.com/lktest/app/.github/workflows/release.yml@refs/heads/main"


@dataclass
class Env:
    registry: Registry
    digests: dict[str, str]
    ecdsa: ec.EllipticCurvePrivateKey
    ed25519: ed25519.Ed25519PrivateKey
    other: ec.EllipticCurvePrivateKey
    sigstore: FakeSigstore
    trusted_root: Path

    def ref(self, name: str) -> ImageRef:
        return parse(f"{self.registry.host}/lktest/{name}:v1")

    def repository(self, name: str) -> str:
        return f"{self.registry.host}/lktest/{name}"


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    require_tool("skopeo", "skopeo")
    root = tmp_path_factory.mktemp("cosign")
    layout = OCILayout(root / "oci")
    ecdsa = ec.generate_private_key(ec.SECP256R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    other = ec.generate_private_key(ec.SECP256R1())
    fake = FakeSigstore()
    trusted_root = fake.write_trusted_root(root / "trusted_root.json")
    names = ["signed", "ed25519", "multi", "wrongkey", "wrongdigest", "tampered", "unsigned",
             "elsewhere", "keyless", "attestation", "keybundle", "both"]
    digests: dict[str, str] = {}
    descriptors: dict[str, dict[str, Any]] = {}
    for name in names:
        layer, _ = tar_layer({f"etc/{name}": name.encode()})
        descriptor, pushed = layout.image(name, [layer])
        layout.tag(descriptor, name)
        digests[name] = pushed.manifest_digest
        descriptors[name] = descriptor

    registry = Registry(root / "storage", root / "run").start()
    host = registry.host

    def payload(name: str, digest: str | None = None) -> bytes:
        return simple_signing_payload(f"{host}/lktest/{name}", digest or digests[name])

    sigs: dict[str, list[SigLayer]] = {
        "signed": [SigLayer(payload("signed"), sign(ecdsa, payload("signed")))],
        "ed25519": [SigLayer(payload("ed25519"), sign(ed, payload("ed25519")))],
        "multi": [SigLayer(payload("multi"), sign(other, payload("multi"))),
                  SigLayer(payload("multi") + b" ", sign(ecdsa, payload("multi"))),
                  SigLayer(payload("multi"), sign(ecdsa, payload("multi")))],
        "wrongkey": [SigLayer(payload("wrongkey"), sign(other, payload("wrongkey")))],
        "wrongdigest": [SigLayer(payload("wrongdigest", digests["signed"]),
                                 sign(ecdsa, payload("wrongdigest", digests["signed"])))],
        # The layer holds other bytes than those signed (one claim rewritten).
        "tampered": [SigLayer(payload("tampered").replace(b"lktest/tampered", b"lktest/evil0000"),
                              sign(ecdsa, payload("tampered")))],
        # Valid signature, but the payload names another repository.
        "elsewhere": [SigLayer(payload("signed", digests["elsewhere"]),
                               sign(ecdsa, payload("signed", digests["elsewhere"])))],
        "both": [SigLayer(payload("both"), sign(ecdsa, payload("both")))],
    }
    pushes = []
    for name, layers in sigs.items():
        tag = digests[name].replace(":", "-") + ".sig"
        add_sig_manifest(layout, tag, layers)
        pushes.append((tag, f"{host}/lktest/{name}:{tag}"))
    referrers = {
        "keyless": [fake.sign_image(digests["keyless"], IDENTITY, ISSUER)],
        "attestation": [fake.sign_image(digests["attestation"], IDENTITY, ISSUER,
                                        predicate="https://slsa.dev/provenance/v1")],
        "keybundle": [key_bundle(ecdsa, in_toto_statement(digests["keybundle"]))],
        "both": [fake.sign_image(digests["both"], IDENTITY, ISSUER)],
    }
    indexes: list[tuple[str, str, bytes]] = []
    for name, bundles in referrers.items():
        entries = []
        for i, bundle in enumerate(bundles):
            entry = add_bundle_referrer(layout, descriptors[name], bundle)
            layout.tag(entry, f"referrer-{name}-{i}")
            pushes.append((f"referrer-{name}-{i}", f"{host}/lktest/{name}@{entry['digest']}"))
            entries.append(entry)
        indexes.append((name, digests[name].replace(":", "-"), referrers_index(entries)))
    layout.write_index()
    try:
        processes = [skopeo_push(layout.root, name, f"{host}/lktest/{name}:v1")
                     for name in names]
        processes += [skopeo_push(layout.root, tag, destination, "--preserve-digests")
                      for tag, destination in pushes]
        wait_all(processes)
        for name, tag, data in indexes:
            put_manifest(registry.url, f"lktest/{name}", tag, data)
        yield Env(registry, digests, ecdsa, ed, other, fake, trusted_root)
    finally:
        registry.stop()


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RegistryClient]:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    with RegistryClient() as registry_client:
        yield registry_client


def keyless_policy(env: Env, **kwargs: Any) -> KeylessPolicy:
    kwargs.setdefault("identity", IDENTITY)
    kwargs.setdefault("issuer", ISSUER)
    return KeylessPolicy(env.trusted_root, **kwargs)


def one_line(error: BaseException, image: str) -> str:
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"{image}: ")
    return text


# --------------------------------------------------------------------------------------- import cost


def test_importing_cosign_does_not_import_sigstore() -> None:
    code = ("import sys, lkpolicy.stages.trust.cosign, lkpolicy.stages.trust.sigstore_keyless; "
            "loaded = sorted(m for m in sys.modules if m == 'sigstore' or m.startswith('sigstore.')"
            " or m.startswith('sigstore_')); print(loaded)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------- key-based


def test_good_ecdsa_signature(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    [result] = verifier.verify(env.ref("signed"), env.digests["signed"])
    assert result.method == "key" and result.format == "simple-signing"
    assert result.digest == env.digests["signed"]
    assert result.key_id == load_public_key(public_pem(env.ecdsa)).key_id
    assert result.docker_reference == env.repository("signed")
    assert result.source.endswith(".sig layer 0")
    assert "ECDSA P-256" in result.signer


def test_good_ed25519_signature(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa), public_pem(env.ed25519)])
    [result] = verifier.verify(env.ref("ed25519"), env.digests["ed25519"])
    assert result.key_id == load_public_key(public_pem(env.ed25519)).key_id
    assert result.signer.startswith("Ed25519 key sha256:")


def test_wrong_key_is_rejected(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    ref = env.ref("wrongkey")
    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(ref, env.digests["wrongkey"])
    assert "does not verify with any trusted key" in one_line(caught.value, ref.original)
    assert isinstance(caught.value, TrustError)


def test_payload_for_another_digest_is_rejected(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    ref = env.ref("wrongdigest")
    with pytest.raises(PayloadDigestMismatch) as caught:
        verifier.verify(ref, env.digests["wrongdigest"])
    text = one_line(caught.value, ref.original)
    assert env.digests["signed"] in text and env.digests["wrongdigest"] in text


def test_tampered_payload_is_rejected(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    with pytest.raises(SignatureInvalid):
        verifier.verify(env.ref("tampered"), env.digests["tampered"])


def test_missing_signature(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    ref = env.ref("unsigned")
    with pytest.raises(SignatureMissing) as caught:
        verifier.verify(ref, env.digests["unsigned"])
    text = one_line(caught.value, ref.original)
    assert env.digests["unsigned"].replace(":", "-") + ".sig" in text


def test_one_valid_among_several(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    results = verifier.verify(env.ref("multi"), env.digests["multi"])
    assert [r.source.rsplit(" ", 1)[1] for r in results] == ["2"]


def test_all_invalid_among_several_reports_each(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ed25519)])
    ref = env.ref("multi")
    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(ref, env.digests["multi"])
    assert "none of 3 signatures" in one_line(caught.value, ref.original)


def test_docker_reference_is_checked_only_when_asked(env: Env, client: RegistryClient) -> None:
    keys = [public_pem(env.ecdsa)]
    ref, digest = env.ref("elsewhere"), env.digests["elsewhere"]
    [result] = CosignVerifier(client, public_keys=keys).verify(ref, digest)
    assert result.docker_reference == env.repository("signed")
    with pytest.raises(WrongIdentity) as caught:
        CosignVerifier(client, public_keys=keys, require_docker_reference=True).verify(ref, digest)
    assert "lktest/signed" in one_line(caught.value, ref.original)
    [ok] = CosignVerifier(client, public_keys=keys, require_docker_reference=True).verify(
        env.ref("signed"), env.digests["signed"])
    assert ok.docker_reference == env.repository("signed")


def test_cosign_v3_key_bundle_referrer(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)])
    [result] = verifier.verify(env.ref("keybundle"), env.digests["keybundle"])
    assert result.method == "key" and result.format == "sigstore-bundle"
    assert result.source.startswith("referrer sha256:")
    with pytest.raises(SignatureInvalid):
        CosignVerifier(client, public_keys=[public_pem(env.other)]).verify(
            env.ref("keybundle"), env.digests["keybundle"])


def test_unusable_keys_are_refused_up_front(env: Env, client: RegistryClient) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="1024 bits"):
        CosignVerifier(client, public_keys=[public_pem(small)])
    with pytest.raises(ValueError, match="public key 1: not a PEM public key"):
        CosignVerifier(client, public_keys=[b"-----BEGIN NOTHING-----"])
    with pytest.raises(ValueError, match="public keys or a keyless policy"):
        CosignVerifier(client)


# --------------------------------------------------------------------------------------- pure checks


def test_pure_rsa_and_claims() -> None:
    digest = "sha256:" + "1" * 64
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = simple_signing_payload("index.docker.io/lktest/app", digest)
    signature = __import__("base64").b64encode(sign(key, payload)).decode()
    keys = [load_public_key(public_pem(key))]
    result = verify_simple_signing(payload, signature, keys, digest, image="lktest/app",
                                   expected_repository="docker.io/lktest/app")
    assert result.signer.startswith("RSA-2048 key")
    with pytest.raises(PayloadDigestMismatch):
        verify_simple_signing(payload, signature, keys, "sha256:" + "2" * 64, image="x")
    with pytest.raises(WrongIdentity):
        verify_simple_signing(payload, signature, keys, digest, image="x",
                              expected_repository="docker.io/lktest/other")
    with pytest.raises(MalformedSignature, match="not valid base64"):
        verify_simple_signing(payload, "%%%", keys, digest, image="x")
    bad_type = payload.replace(b"cosign container image signature", b"atomic container signature")
    bad_signature = __import__("base64").b64encode(sign(key, bad_type)).decode()
    with pytest.raises(MalformedSignature, match="payload type"):
        verify_simple_signing(bad_type, bad_signature, keys, digest, image="x")


# --------------------------------------------------------------------------------------- keyless


@pytest.fixture
def network_guard(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """Only the test registry may be connected to; sigstore must not reach anything else, and
    must not write a cache under HOME/XDG_CACHE_HOME."""
    attempts: list[Any] = []
    allowed = ("127.0.0.1", env.registry.port)
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if tuple(address[:2]) != allowed:
            attempts.append(address)
            raise OSError(f"network guard: connection to {address!r} refused")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == allowed[0]:
            return real_getaddrinfo(host, *args, **kwargs)
        attempts.append(host)
        raise OSError(f"network guard: resolving {host!r} refused")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for variable in ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "home"))
    return attempts


def test_keyless_bundle_verifies_offline(env: Env, client: RegistryClient,
                                         network_guard: list[Any], tmp_path: Path) -> None:
    verifier = CosignVerifier(client, keyless=keyless_policy(env))
    [result] = verifier.verify(env.ref("keyless"), env.digests["keyless"])
    assert result.method == "keyless" and result.format == "sigstore-bundle"
    assert (result.identity, result.issuer) == (IDENTITY, ISSUER)
    assert result.log_index == 0 and result.integrated_time is not None
    assert network_guard == []
    assert not (tmp_path / "home").exists()


def test_keyless_identity_regex(env: Env, client: RegistryClient,
                                network_guard: list[Any]) -> None:
    policy = keyless_policy(env, identity=None,
                            identity_regex=r"https://github\.com/lktest/.*@refs/heads/main",
                            issuer=None, issuer_regex=r"https://token\.actions\..*")
    [result] = CosignVerifier(client, keyless=policy).verify(env.ref("keyless"),
                                                             env.digests["keyless"])
    assert result.identity == IDENTITY
    # Anchored: a pattern matching only part of the SAN is not enough.
    partial = keyless_policy(env, identity=None, identity_regex=r"github\.com/lktest")
    with pytest.raises(WrongIdentity):
        CosignVerifier(client, keyless=partial).verify(env.ref("keyless"), env.digests["keyless"])
    assert network_guard == []


@pytest.mark.parametrize("change", [{"identity": "https://github.com/evil/app/x.yml@refs/heads/main"},
                                    {"issuer": "https://accounts.google.com"},
                                    {"issuer": None, "issuer_regex": "https://gitlab.com"}])
def test_keyless_identity_mismatch(env: Env, client: RegistryClient, change: dict[str, Any],
                                   network_guard: list[Any]) -> None:
    ref = env.ref("keyless")
    with pytest.raises(WrongIdentity) as caught:
        CosignVerifier(client, keyless=keyless_policy(env, **change)).verify(
            ref, env.digests["keyless"])
    text = one_line(caught.value, ref.original)
    assert "not match" in text
    assert network_guard == []


def test_keyless_missing_trusted_root(env: Env, client: RegistryClient, tmp_path: Path) -> None:
    policy = KeylessPolicy(tmp_path / "absent.json", identity=IDENTITY, issuer=ISSUER)
    ref = env.ref("keyless")
    with pytest.raises(TrustedRootUnavailable) as caught:
        CosignVerifier(client, keyless=policy).verify(ref, env.digests["keyless"])
    assert "absent.json does not exist" in one_line(caught.value, ref.original)
    broken = tmp_path / "broken.json"
    broken.write_text('{"mediaType": "nonsense"}')
    with pytest.raises(TrustedRootUnavailable, match="is not usable"):
        CosignVerifier(client, keyless=KeylessPolicy(broken, identity=IDENTITY, issuer=ISSUER)
                       ).verify(ref, env.digests["keyless"])


def test_keyless_rejects_another_trust_root(env: Env, client: RegistryClient,
                                            tmp_path: Path) -> None:
    stranger = FakeSigstore("stranger").write_trusted_root(tmp_path / "stranger.json")
    policy = KeylessPolicy(stranger, identity=IDENTITY, issuer=ISSUER)
    with pytest.raises(SignatureInvalid):
        CosignVerifier(client, keyless=policy).verify(env.ref("keyless"), env.digests["keyless"])


def test_attestations_are_not_signatures(env: Env, client: RegistryClient) -> None:
    ref = env.ref("attestation")
    with pytest.raises(UnsupportedSignature, match="not a cosign image signature"):
        CosignVerifier(client, keyless=keyless_policy(env)).verify(
            ref, env.digests["attestation"])


def test_keys_and_keyless_together(env: Env, client: RegistryClient) -> None:
    verifier = CosignVerifier(client, public_keys=[public_pem(env.ecdsa)],
                              keyless=keyless_policy(env))
    results = verifier.verify(env.ref("both"), env.digests["both"])
    assert sorted(r.method for r in results) == ["key", "keyless"]
    # Keyless only: the key-based `.sig` is reported as unusable, the bundle still counts.
    [only] = CosignVerifier(client, keyless=keyless_policy(env)).verify(env.ref("both"),
                                                                        env.digests["both"])
    assert only.method == "keyless"


def test_keyless_pure_checks_without_any_network(env: Env, network_guard: list[Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect",
                        lambda self, address: pytest.fail(f"connection to {address!r}"))
    digest = "sha256:" + "c" * 64
    verifier = KeylessVerifier(keyless_policy(env))
    good = env.sigstore.sign_image(digest, "lk@example.com", "https://accounts.google.com",
                                   email=True)
    policy = keyless_policy(env, identity="lk@example.com", issuer="https://accounts.google.com")
    result = KeylessVerifier(policy).verify_bundle(good, digest)
    assert result.identity == "lk@example.com"
    with pytest.raises(IdentityMismatch):
        verifier.verify_bundle(good, digest)
    bundle = json.loads(env.sigstore.sign_image(digest, IDENTITY, ISSUER))
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    # Each piece matters: another digest, a broken SET, checkpoint, envelope, certificate.

    with pytest.raises(errors.DigestMismatch):
        verifier.verify_bundle(json.dumps(bundle).encode(), "sha256:" + "d" * 64)
    for mutate in ("set", "checkpoint", "payload", "body"):
        broken = json.loads(json.dumps(bundle))
        broken_entry = broken["verificationMaterial"]["tlogEntries"][0]
        if mutate == "set":
            broken_entry["inclusionPromise"]["signedEntryTimestamp"] = \
                bundle["dsseEnvelope"]["signatures"][0]["sig"]
        elif mutate == "checkpoint":
            broken_entry["inclusionProof"]["checkpoint"]["envelope"] = \
                entry["inclusionProof"]["checkpoint"]["envelope"].replace("\n1\n", "\n2\n", 1)
        elif mutate == "payload":
            other = in_toto_statement("sha256:" + "e" * 64)
            broken["dsseEnvelope"]["payload"] = __import__("base64").b64encode(other).decode()
        else:
            broken_entry["canonicalizedBody"] = entry["canonicalizedBody"][:-8] + "AAAAAAA="
        with pytest.raises(errors.BundleInvalid):
            verifier.verify_bundle(json.dumps(broken).encode(), digest)
    assert network_guard == []


def test_errors_are_trust_errors_and_pickle() -> None:
    import pickle

    error = WrongIdentity("lktest/app:v1", "certificate identity\n'x' does not match y")
    assert str(error) == "lktest/app:v1: certificate identity 'x' does not match y"
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is WrongIdentity and str(again) == str(error)
    assert issubclass(SignatureMissing, CosignError) and issubclass(CosignError, TrustError)


def test_keyless_policy_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of identity"):
        KeylessPolicy(tmp_path, issuer=ISSUER)
    with pytest.raises(ValueError, match="exactly one of issuer"):
        KeylessPolicy(tmp_path, identity=IDENTITY, issuer=ISSUER, issuer_regex=".*")
    with pytest.raises(ValueError, match="identity_regex"):
        KeylessPolicy(tmp_path, identity_regex="(", issuer=ISSUER)
    assert os.fspath(KeylessPolicy(str(tmp_path), identity="a", issuer="b").trusted_root) == \
        str(tmp_path)
