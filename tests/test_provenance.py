"""Signed build provenance: `lkpolicy build` writes an in-toto statement with an SLSA v1
predicate in a DSSE envelope, and `lkpolicy verify-build` checks outputs against it.

The builds are real (the build-full golden images, a policy whose cosign-key authority must
vouch for busybox; its signature lies in the image cache as `cache pull` stores it), and each
kind of tampering is refused with its own reason. Keyless signing is exercised up to the
signing call only: Fulcio and Rekor are network services, so a local stand-in (the test
Sigstore of cosign_helpers, whose bundles sigstore-python verifies offline) answers there."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from cosign_helpers import (
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    FakeSigstore,
    public_pem,
    sign,
    simple_signing_payload,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST
from lkpolicy.stages.trust.dsse import (
    SignatureMismatch,
    SigningKeyError,
    decrypt_cosign_key,
    load_signing_key,
    parse_envelope,
    sign_envelope,
    verify_envelope,
)
from lkpolicy.store.lookup import Store

runner = CliRunner()
BUSYBOX = "docker.io/lktest/busybox:test"
BUSYBOX_DIGEST = "sha256:9dfd9ec25f9f28f32ada8277ef3792114c4b1ed05c3c8de95cff37e1e12d65dd"
PASSWORD = "correct horse"

# A key written by `cosign generate-key-pair` with an empty password (N = 65536), published as
# a test fixture in conforma/cli (Apache-2.0, internal/validate/vsa/attest_test.go): data made
# by the real cosign, so that our decryption is checked against cosign's, not against itself.
COSIGN_MADE_KEY = """\
-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjo2NTUzNiwiciI6
OCwicCI6MX0sInNhbHQiOiJLYU9OQzduQVJLOVgxM1FoaWFucjAwTTBGYys2Sitr
dnAxN1FuanpiVk9nPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJVOHZqWWtqMlZOUFZGdlZFZWZ3bXZ5VGloUERrelBoaCJ9LCJj
aXBoZXJ0ZXh0IjoidWNWMnQ4TTZVNFJvb29FOXc0d3dkc3E1RDYrS2RKY245dERT
KzFwRDRGN040SVJOWEgzSTBua3h1a3NackFOUHR1emIvTkVYQ201dUp3Zjh3Qzl1
VlprbXdwNU5jRUZ6b3ZNS3JCZmNvdXdjaEkrMzkrQ0NhbVZPbzBucmRnZjhvcmpK
dXdrWDBYL1phY0RUTERGaUxyc1laMWVMMmlqMGU1MVRpZmVQNTl4WXNPK1FnM1Jv
OURRVjNQMk9ndDFDaVFHeGg1VXhUZytGc3c9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----
"""


def cosign_key_file(key: ec.EllipticCurvePrivateKey, password: str) -> bytes:
    """A key file in cosign's format: scrypt (N=32768, r=8, p=1) and a NaCl secretbox."""
    import nacl.secret

    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    secret = Scrypt(salt=salt, length=32, n=32768, r=8, p=1).derive(password.encode())
    sealed = nacl.secret.SecretBox(secret).encrypt(der, nonce).ciphertext
    document = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1},
                        "salt": base64.b64encode(salt).decode()},
                "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
                "ciphertext": base64.b64encode(sealed).decode()}
    body = base64.b64encode(json.dumps(document).encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + "\n".join(lines)
            + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n").encode()


def add_cosign_signature(store: Store, reference: str, digest: str,
                         key: ec.EllipticCurvePrivateKey) -> None:
    """A cosign `.sig` manifest for `digest` beside the image, as `cache pull` stores it."""
    repository = reference.rsplit(":", 1)[0]
    payload = simple_signing_payload(repository, digest)
    layer = store.add_blob(payload, SIMPLE_SIGNING)
    config = store.add_blob(b"{}", OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
                "layers": [{**layer.to_json(), "mediaType": SIMPLE_SIGNING, "annotations": {
                    SIGNATURE_ANNOTATION: base64.b64encode(sign(key, payload)).decode()}}]}
    descriptor = store.add_blob(json.dumps(manifest).encode(), OCI_MANIFEST)
    store.register(f"{repository}:{digest.replace(':', '-')}.sig", descriptor)


@pytest.fixture(scope="module")
def workspace(build_full: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """full.yml, its images (busybox signed by the image key), `trusted.yml` requiring that
    signature, and the provenance keys: a cosign key file, a PEM Ed25519 key."""
    root = tmp_path_factory.mktemp("provenance")
    shutil.copy(build_full / "full.yml", root / "full.yml")
    store = Store(root / "cache")
    for archive in sorted((build_full / "images").glob("*.tar")):
        store.import_archive(archive)
    image_key = ec.generate_private_key(ec.SECP256R1())
    (root / "image.pub").write_bytes(public_pem(image_key))
    add_cosign_signature(store, BUSYBOX, BUSYBOX_DIGEST, image_key)
    (root / "trusted.yml").write_text(
        "extends: []\ntrust:\n  authorities:\n    ck: {type: cosign-key, keys: [image.pub]}\n"
        "  rules: [{images: 'docker.io/lktest/busybox', require: ck}]\n")
    build_key = ec.generate_private_key(ec.SECP256R1())
    (root / "cosign.key").write_bytes(cosign_key_file(build_key, PASSWORD))
    (root / "cosign.pub").write_bytes(public_pem(build_key))
    ed = ed25519.Ed25519PrivateKey.generate()
    (root / "ed.pem").write_bytes(ed.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    (root / "ed.pub").write_bytes(public_pem(ed))
    other = ec.generate_private_key(ec.SECP256R1())
    (root / "other.pub").write_bytes(public_pem(other))
    (root / "other.pem").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return root


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def lkpolicy(workspace: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    with inside(workspace):
        return runner.invoke(app, list(args), env={"COSIGN_PASSWORD": PASSWORD, **(env or {})})


def build(workspace: Path, out: str, *extra: str) -> Path:
    result = lkpolicy(workspace, "build", "--cache", "cache", "--arch", "amd64", "--offline",
                      "--policy", "trusted.yml", "--dir", out, *extra, "full.yml")
    assert result.exit_code == 0, result.output
    return workspace / out


def statement_of(envelope_path: Path) -> dict[str, Any]:
    envelope = parse_envelope(envelope_path.read_bytes())
    return json.loads(envelope.payload)


@pytest.fixture(scope="module")
def signed(workspace: Path) -> Path:
    """kernel+initrd and the provenance, signed with the cosign key file."""
    return build(workspace, "signed", "--sign-key", "cosign.key")


def verify(workspace: Path, *args: str) -> Any:
    return lkpolicy(workspace, "verify-build", *args)


# -- what is written -------------------------------------------------------------------------


def test_signed_build_verifies(workspace: Path, signed: Path) -> None:
    assert sorted(p.name for p in signed.iterdir()) == [
        "full-cmdline", "full-initrd.img", "full-kernel", "full.build.json",
        "full.intoto.jsonl"]
    outputs = [str(path) for path in sorted(signed.iterdir())]  # as `out/*` gives them
    result = verify(workspace, "--key", "cosign.pub", *outputs)
    assert result.exit_code == 0, result.output
    assert "signed by ECDSA P-256 key sha256:" in result.output
    assert "verified 4 output(s)" in result.output
    with_policy = verify(workspace, "--key", "cosign.pub", "--policy", "trusted.yml", "--cache",
                         "cache", "--offline", outputs[0])
    assert with_policy.exit_code == 0, with_policy.output
    assert f"dependency {BUSYBOX} {BUSYBOX_DIGEST}: vouched for by ck" in with_policy.output


def test_statement_records_outputs_dependencies_evidence_and_policy(workspace: Path,
                                                                     signed: Path) -> None:
    statement = statement_of(signed / "full.intoto.jsonl")
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert subjects == {name: hashlib.sha256((signed / name).read_bytes()).hexdigest()
                        for name in ("full-kernel", "full-initrd.img", "full-cmdline",
                                     "full.build.json")}
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"] == {
        "configs": ["full.yml"], "formats": ["kernel+initrd"], "name": "full",
        "platform": "linux/amd64", "policies": ["trusted.yml"], "sbom": "sbom.spdx.json"}
    assert definition["internalParameters"] == {"sourceDateEpoch": 1492533000,
                                                "compressionLevel": 1}
    dependencies = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert dependencies["trusted.yml"]["digest"]["sha256"] == hashlib.sha256(
        (workspace / "trusted.yml").read_bytes()).hexdigest()
    assert dependencies["full.yml"]["digest"]["sha256"] == hashlib.sha256(
        (workspace / "full.yml").read_bytes()).hexdigest()
    images = {name for name, d in dependencies.items() if d["annotations"]["role"] == "image"}
    assert images == {f"docker.io/lktest/{n}:test" for n in ("busybox", "init", "kernel",
                                                               "runc")}
    busybox = dependencies[BUSYBOX]
    assert busybox["digest"] == {"sha256": BUSYBOX_DIGEST.split(":")[1]}
    assert busybox["uri"].startswith("pkg:oci/busybox@sha256%3A9dfd9ec2")
    assert busybox["annotations"]["size"] == 349
    [evidence] = busybox["annotations"]["trust"]
    assert evidence["authority"] == "ck" and evidence["type"] == "cosign-key"
    assert evidence["digest"] == BUSYBOX_DIGEST and evidence["signer"].startswith("ECDSA P-256")
    assert dependencies["docker.io/lktest/init:test"]["annotations"]["trust"] == []
    [sbom] = statement["predicate"]["runDetails"]["byproducts"]
    assert sbom["name"] == "sbom.spdx.json" and sbom["mediaType"] == "application/spdx+json"


def test_statement_is_a_valid_in_toto_statement_with_an_slsa_v1_predicate(signed: Path) -> None:
    """The in-toto attestation framework's own bindings (protobuf messages generated from the
    published in-toto v1 Statement and SLSA provenance v1 definitions) parse it strictly:
    every field must exist in the schema and have its type."""
    try:
        from google.protobuf import json_format
        from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
        from in_toto_attestation.v1 import statement_pb2
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement
    except ImportError:
        skip_or_fail("in-toto-attestation (the test extra) is not installed")

    raw = statement_of(signed / "full.intoto.jsonl")
    parsed = json_format.Parse(json.dumps(raw), statement_pb2.Statement())
    Statement.copy_from_pb(parsed).validate()
    predicate = json_format.Parse(json.dumps(raw["predicate"]), provenance_pb2.Provenance())
    # SLSA v1's REQUIRED fields.
    assert predicate.build_definition.build_type
    assert predicate.build_definition.HasField("external_parameters")
    assert predicate.run_details.builder.id
    for dependency in (*predicate.build_definition.resolved_dependencies,
                       *predicate.run_details.byproducts):
        ResourceDescriptor.copy_from_pb(dependency).validate()
    broken = {**raw["predicate"], "buildDefinition": {**raw["predicate"]["buildDefinition"],
                                                      "resolvedDeps": []}}
    with pytest.raises(json_format.ParseError):
        json_format.Parse(json.dumps(broken), provenance_pb2.Provenance())


# -- tampering, each refused with its reason -------------------------------------------------


def copy_build(signed: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(signed, out)
    return out


def test_a_changed_output_is_refused(workspace: Path, signed: Path, tmp_path: Path) -> None:
    out = copy_build(signed, tmp_path)
    kernel = out / "full-kernel"
    kernel.write_bytes(kernel.read_bytes() + b"\0")
    result = verify(workspace, "--key", "cosign.pub", str(kernel), str(out / "full-cmdline"))
    assert result.exit_code == 1
    assert "full-kernel: sha256 " in result.output
    assert "the file changed after the build" in result.output
    assert "full-cmdline: sha256" not in result.output  # the unchanged output is not blamed


def test_a_changed_envelope_is_refused(workspace: Path, signed: Path, tmp_path: Path) -> None:
    out = copy_build(signed, tmp_path)
    envelope = json.loads((out / "full.intoto.jsonl").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    kernel = next(s for s in statement["subject"] if s["name"] == "full-kernel")
    kernel["digest"]["sha256"] = hashlib.sha256(b"another kernel").hexdigest()
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (out / "full.intoto.jsonl").write_text(json.dumps(envelope))
    result = verify(workspace, "--key", "cosign.pub", str(out / "full-kernel"))
    assert result.exit_code == 1
    assert "signature: the signature does not verify with the key" in result.output
    # The same with a signature of another key, and with none at all.
    (out / "full.intoto.jsonl").write_bytes(sign_envelope(
        json.dumps(statement).encode(), load_signing_key(str(workspace / "other.pem"))).encode())
    assert "does not verify" in verify(workspace, "--key", "cosign.pub",
                                       str(out / "full-kernel")).output
    (out / "full.intoto.jsonl").write_bytes(sign_envelope(json.dumps(statement).encode(),
                                                          None).encode())
    refused = verify(workspace, "--key", "cosign.pub", str(out / "full-kernel"))
    assert refused.exit_code == 1 and "the provenance is not signed" in refused.output


def test_a_changed_dependency_digest_is_refused(workspace: Path, signed: Path,
                                                tmp_path: Path) -> None:
    """Unsigned, the change breaks the signature; signed again with the build key (a builder
    that recorded an image the authority never signed), the subjects still verify and only
    `--policy` catches it."""
    out = copy_build(signed, tmp_path)
    statement = statement_of(out / "full.intoto.jsonl")
    dependency = next(d for d in statement["predicate"]["buildDefinition"]
                      ["resolvedDependencies"] if d["name"] == BUSYBOX)
    other = hashlib.sha256(b"an image nobody signed").hexdigest()
    dependency["digest"]["sha256"] = other
    payload = json.dumps(statement).encode()
    envelope = json.loads((out / "full.intoto.jsonl").read_text())
    envelope["payload"] = base64.b64encode(payload).decode()
    (out / "full.intoto.jsonl").write_text(json.dumps(envelope))
    kernel = str(out / "full-kernel")
    unsigned_change = verify(workspace, "--key", "cosign.pub", kernel)
    assert unsigned_change.exit_code == 1 and "signature:" in unsigned_change.output
    key = load_signing_key(str(workspace / "cosign.key"), environ={"COSIGN_PASSWORD": PASSWORD})
    (out / "full.intoto.jsonl").write_bytes(sign_envelope(payload, key).encode())
    assert verify(workspace, "--key", "cosign.pub", kernel).exit_code == 0
    result = verify(workspace, "--key", "cosign.pub", "--policy", "trusted.yml", "--cache",
                    "cache", "--offline", kernel)
    assert result.exit_code == 1
    assert f"dependency {BUSYBOX} sha256:{other}: authority `ck` (cosign-key) does not vouch for it: " \
        in result.output
    assert f"no cosign signature for sha256:{other}" in result.output


# -- keys ------------------------------------------------------------------------------------


def test_a_key_made_by_cosign_decrypts_and_signs() -> None:
    key = load_signing_key_text(COSIGN_MADE_KEY, "")
    assert key.public.algorithm == "ECDSA P-256"
    envelope = sign_envelope(b'{"x":1}', key)
    assert verify_envelope(parse_envelope(envelope.encode()), [key.public]) == key.public
    with pytest.raises(SigningKeyError, match="wrong password"):
        load_signing_key_text(COSIGN_MADE_KEY, "not empty")


def load_signing_key_text(text: str, password: str) -> Any:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".key") as handle:
        handle.write(text)
        handle.flush()
        return load_signing_key(handle.name, environ={"COSIGN_PASSWORD": password})


@pytest.mark.parametrize(("content", "message"), [
    (b"not a key\n", "is not a PEM private key or a cosign key file"),
    (COSIGN_MADE_KEY.replace("eyJrZGYi", "eyJrZGYj").encode(), "not valid JSON"),
    (b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n%s\n-----END ENCRYPTED SIGSTORE "
     b"PRIVATE KEY-----\n" % base64.b64encode(json.dumps({
         "kdf": {"name": "scrypt", "params": {"N": 1 << 30, "r": 8, "p": 1}, "salt": ""},
         "cipher": {"name": "nacl/secretbox", "nonce": ""}, "ciphertext": ""}).encode()),
     "scrypt N is out of range"),
])
def test_unusable_keys_are_refused_before_the_gate(workspace: Path, tmp_path: Path,
                                                   content: bytes, message: str) -> None:
    (tmp_path / "bad.key").write_bytes(content)
    result = lkpolicy(workspace, "build", "--cache", "cache", "--policy", "trusted.yml",
                      "--dir", str(tmp_path / "out"), "--sign-key", str(tmp_path / "bad.key"),
                      "full.yml")
    assert result.exit_code == 2
    assert message in result.output and "LKT" not in result.output
    assert not (tmp_path / "out").exists()


def test_wrong_or_missing_password_is_a_usage_error(workspace: Path, tmp_path: Path) -> None:
    args = ["build", "--cache", "cache", "--policy", "trusted.yml", "--dir",
            str(tmp_path / "out"), "--sign-key", "cosign.key", "full.yml"]
    wrong = lkpolicy(workspace, *args, env={"COSIGN_PASSWORD": "wrong"})
    assert wrong.exit_code == 2 and "wrong password (COSIGN_PASSWORD)" in wrong.output
    with inside(workspace):
        missing = runner.invoke(app, args, env={"COSIGN_PASSWORD": None})
    assert missing.exit_code == 2 and "set COSIGN_PASSWORD" in missing.output
    sealed = base64.b64decode("".join(COSIGN_MADE_KEY.splitlines()[1:-1]))
    assert decrypt_cosign_key(sealed, b"")[:2] == b"\x30\x81"  # a DER SEQUENCE: PKCS#8
    with pytest.raises(SigningKeyError, match="cannot decrypt"):
        decrypt_cosign_key(sealed, PASSWORD.encode())


def test_pem_ed25519_provenance_is_reproducible(workspace: Path) -> None:
    """Ed25519 signatures are deterministic: two builds give the same envelope bytes."""
    first = build(workspace, "ed1", "-f", "tar", "--sign-key", "ed.pem")
    second = build(workspace, "ed2", "-f", "tar", "--sign-key", "ed.pem")
    assert (first / "full.intoto.jsonl").read_bytes() == (second / "full.intoto.jsonl").read_bytes()
    assert (first / "full.tar").read_bytes() == (second / "full.tar").read_bytes()
    with tarfile.open(first / "full.tar") as archive:
        sbom = archive.extractfile("sbom.spdx.json").read()  # type: ignore[union-attr]
    [byproduct] = statement_of(first / "full.intoto.jsonl")["predicate"]["runDetails"][
        "byproducts"]
    assert byproduct["digest"]["sha256"] == hashlib.sha256(sbom).hexdigest()
    result = verify(workspace, "--key", "ed.pub", str(first / "full.tar"))
    assert result.exit_code == 0 and "Ed25519 key" in result.output


# -- unsigned provenance and usage -----------------------------------------------------------


def test_unsigned_provenance_and_usage_errors(workspace: Path, tmp_path: Path) -> None:
    out = build(workspace, "plain", "-f", "tar")
    tar = str(out / "full.tar")
    refused = verify(workspace, "--key", "cosign.pub", tar)
    assert refused.exit_code == 1 and "the provenance is not signed" in refused.output
    skipped = verify(workspace, "--insecure-skip-signature", tar)
    assert skipped.exit_code == 0 and "the signature was not checked" in skipped.output
    assert verify(workspace, tar).exit_code == 2  # no way to check the signature given
    assert verify(workspace, "--key", "cosign.pub", str(out / "nothing")).exit_code == 2
    assert verify(workspace, "--key", "cosign.pub", "--trusted-root", "x.json",
                  "--certificate-identity", "a", "--certificate-oidc-issuer", "b",
                  tar).exit_code == 2
    garbage = tmp_path / "garbage.intoto.jsonl"
    garbage.write_text("{not json")
    result = verify(workspace, "--key", "cosign.pub", "--provenance", str(garbage), tar)
    assert result.exit_code == 2 and "not a DSSE envelope" in result.output
    stranger = tmp_path / "stranger"
    stranger.write_bytes(b"x")
    result = verify(workspace, "--insecure-skip-signature", "--provenance",
                    str(out / "full.intoto.jsonl"), str(stranger))
    assert result.exit_code == 1 and "not a subject of the provenance" in result.output
    nothing = lkpolicy(workspace, "build", "--cache", "cache", "--arch", "amd64", "--offline",
                       "--policy", "trusted.yml", "--dir", "none", "-f", "tar",
                       "--no-provenance", "full.yml")
    assert nothing.exit_code == 0
    assert sorted(p.name for p in (workspace / "none").iterdir()) == [
        "full.build.json", "full.tar"]
    both = lkpolicy(workspace, "build", "--sign-key", "ed.pem", "--keyless", "full.yml")
    assert both.exit_code == 2 and "alternatives" in both.output


# -- keyless ---------------------------------------------------------------------------------


def oidc_token(identity: str, issuer: str) -> str:
    """An OIDC token as a CI issues it (the signature is Fulcio's business, not ours)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return ".".join((part({"alg": "RS256", "typ": "JWT"}),
                     part({"iss": issuer, "sub": identity, "aud": "sigstore", "iat": now,
                           "nbf": now, "exp": now + 600}), "c2lnbmF0dXJl"))


class LocalSigstore:
    """Stands in for Fulcio and Rekor behind sigstore-python's `SigningContext`: what the
    signer is handed (the parsed token, the validated statement) is what it signs."""

    def __init__(self, fake: FakeSigstore, issuer: str) -> None:
        self.fake = fake
        self.issuer = issuer
        self.signed: list[bytes] = []

    @contextlib.contextmanager
    def signer(self, identity: Any, *, cache: bool = True) -> Iterator[Any]:
        from sigstore.models import Bundle

        outer = self

        class Signer:
            def sign_dsse(self, statement: Any) -> Any:
                payload = statement._contents
                outer.signed.append(payload)
                key, cert = outer.fake.issue(identity.identity, outer.issuer)
                return Bundle.from_json(outer.fake.dsse_bundle(key, cert, payload))

        yield Signer()


def test_keyless_up_to_the_signing_call(workspace: Path, build_full_config: Any,
                                        build_full_plan: Any, tmp_path: Path) -> None:
    from lkpolicy.assemble import build_outputs
    from lkpolicy.assemble.provenance import ProvenanceRequest, ProvenanceWriter, keyless_signer
    from lkpolicy.model.gomodel import go_model

    identity, issuer = "https://ci.example/builds/7", "https://issuer.lktest.invalid"
    fake = FakeSigstore()
    root = fake.write_trusted_root(tmp_path / "trusted_root.json")
    local = LocalSigstore(fake, issuer)
    request = ProvenanceRequest(configs=(("full.yml", "sha256:" + "0" * 64),), policies=(),
                                formats=("tar",), name="full", compression_level=1,
                                epoch=1492533000, sbom_path=None, version="test")
    writer = ProvenanceWriter(request, build_full_plan, go_model(build_full_config)["files"],
                              keyless_signer(oidc_token(identity, issuer), context=local))
    out = tmp_path / "out"
    out.mkdir()
    build_outputs(build_full_config, build_full_plan, ["tar"], out, "full", provenance=writer)
    assert sorted(p.name for p in out.iterdir()) == [
        "full.build.json", "full.intoto.jsonl", "full.sigstore.json", "full.tar"]
    [payload] = local.signed
    assert parse_envelope((out / "full.intoto.jsonl").read_bytes()).payload == payload
    keyless = ["--trusted-root", str(root), "--certificate-oidc-issuer", issuer]
    good = verify(workspace, *keyless, "--certificate-identity", identity, str(out / "full.tar"))
    assert good.exit_code == 0, good.output
    assert f"signed by {identity} ({issuer})" in good.output
    wrong = verify(workspace, *keyless, "--certificate-identity-regexp", r"https://other\..*",
                   str(out / "full.tar"))
    assert wrong.exit_code == 1 and "does not match" in wrong.output
    # A bundle for another statement does not vouch for this envelope.
    key, cert = fake.issue(identity, issuer)
    (out / "full.sigstore.json").write_bytes(fake.dsse_bundle(key, cert, payload + b" "))
    other = verify(workspace, *keyless, "--certificate-identity", identity,
                   str(out / "full.tar"))
    assert other.exit_code == 1 and "signs another statement" in other.output


def test_keyless_token_is_checked_before_the_gate(workspace: Path, tmp_path: Path) -> None:
    result = lkpolicy(workspace, "build", "--policy", "trusted.yml", "--keyless", "--dir",
                      str(tmp_path / "out"), "full.yml",
                      env={"SIGSTORE_IDENTITY_TOKEN": "not-a-jwt"})
    assert result.exit_code == 2
    assert "the OIDC identity token is not usable" in result.output
    assert "not-a-jwt" not in result.output


def test_envelope_helpers_refuse_what_they_cannot_read() -> None:
    from lkpolicy.stages.trust.dsse import EnvelopeError

    for data in (b"[]", b'{"payloadType": 1}', b'{"payloadType": "x", "payload": "%%%"}',
                 b'{"payloadType": "x", "payload": "", "payload": ""}',
                 b'{"payloadType": "x", "payload": "", "signatures": [{"sig": 5}]}'):
        with pytest.raises(EnvelopeError):
            parse_envelope(data)
    with pytest.raises(SignatureMismatch, match="not signed"):
        verify_envelope(parse_envelope(b'{"payloadType": "x", "payload": ""}'), [])


def test_the_descriptor_of_a_recorded_image_must_be_well_formed(workspace: Path, signed: Path,
                                                               tmp_path: Path) -> None:
    out = copy_build(signed, tmp_path)
    statement = statement_of(out / "full.intoto.jsonl")
    for dependency in statement["predicate"]["buildDefinition"]["resolvedDependencies"]:
        if dependency["name"] == BUSYBOX:
            dependency["annotations"]["size"] = -1
    key = load_signing_key(str(workspace / "cosign.key"), environ={"COSIGN_PASSWORD": PASSWORD})
    (out / "full.intoto.jsonl").write_bytes(sign_envelope(json.dumps(statement).encode(),
                                                          key).encode())
    result = verify(workspace, "--key", "cosign.pub", "--policy", "trusted.yml", "--cache",
                    "cache", "--offline", str(out / "full-kernel"))
    assert result.exit_code == 1 and f"dependency {BUSYBOX}" in result.output
