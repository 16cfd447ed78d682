"""Signed local files: `files` entries whose `source:` a trust rule requires to be signed.

Key-based signatures are made with openssl (`openssl dgst -sha256 -sign`: the ECDSA/SHA-256 DER
signature over the file that `cosign sign-blob --key` writes, base64) and as cosign v3 key
bundles; keyless bundles come from the local Sigstore of cosign_helpers (verified by
sigstore-python). The gate reads each file once; the lock records it; a build with the lock
refuses a file changed since the check, and the build manifest names what vouched for it.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cosign_helpers import FakeSigstore, key_blob_bundle
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from registry_env import require_tool
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.gate.gate import run_gate
from lkpolicy.gate.options import GateOptions, PolicyChoice
from lkpolicy.store.location import ImageOptions

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "https://github.com/lktest/certs/.github/workflows/sign.yml@refs/heads/main"
runner = CliRunner()


@dataclass
class Files:
    root: Path
    key: ec.EllipticCurvePrivateKey
    other: ec.EllipticCurvePrivateKey
    sigstore: FakeSigstore

    def config(self, *entries: str) -> Path:
        path = self.root / "c.yml"
        path.write_text("files:\n" + "".join(textwrap.indent(entry, "  ") for entry in entries))
        return path

    def policy(self, rules: str) -> Path:
        path = self.root / "policy.yml"
        path.write_text(textwrap.dedent("""\
            extends: []
            trust:
              authorities:
                keys: {type: cosign-key, keys: [cosign.pub]}
                ci:
                  type: sigstore
                  trusted_root: trusted_root.json
                  identities: [{issuer: '%s', subject: '%s'}]
              rules:
            """) % (ISSUER, IDENTITY) + textwrap.indent(textwrap.dedent(rules), "    "))
        return path

    def openssl_sign(self, path: Path, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
        pem = self.root / "signing.pem"
        pem.write_bytes((key or self.key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(pem), str(path)],
                             capture_output=True, check=True).stdout
        signature = path.with_name(path.name + ".sig")
        signature.write_text(base64.b64encode(der).decode() + "\n")
        return signature


@pytest.fixture
def files(tmp_path: Path) -> Files:
    require_tool("openssl", "openssl")
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "cosign.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    fake = FakeSigstore()
    fake.write_trusted_root(tmp_path / "trusted_root.json")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB...\n")
    (tmp_path / "etc" / "motd").write_bytes(b"welcome\n")
    return Files(tmp_path, key, other, fake)


CA = "- path: etc/ssl/certs/ca.pem\n  source: {root}/etc/ca.pem\n"
MOTD = "- path: etc/motd\n  source: {root}/etc/motd\n"


def gate(files: Files, rules: str, *entries: str, images: bool = True, **options: Any) -> Any:
    config = files.config(*(entry.format(root=files.root) for entry in entries))
    policy = files.policy(rules)
    chosen = GateOptions(images=ImageOptions(cache=str(files.root / "cache"), arch="amd64")
                         if images else None,
                         policy=PolicyChoice(str(policy), trust_cache=str(files.root / "trust")),
                         use_result_cache=False, **options)
    return run_gate([str(config)], chosen)


def messages(result: Any) -> list[str]:
    return [f"{f.rule_id} {f.message}" for f in result.findings if f.rule_id.startswith("LKT")]


def test_cosign_key_signature_over_the_file(files: Files) -> None:
    files.openssl_sign(files.root / "etc" / "ca.pem")
    result = gate(files, "- {files: ['etc/ssl/*'], require: keys}\n", CA, MOTD)
    assert messages(result) == []
    [unit] = result.units
    assert unit.trust is not None
    [evidence] = unit.trust.file_evidence
    assert evidence["file"] == "etc/ssl/certs/ca.pem" and evidence["method"] == "key"
    assert evidence["digest"] == unit.local_files[0].sha256
    assert evidence["signature"] == f"{files.root}/etc/ca.pem.sig"
    assert evidence["format"] == "blob-signature" and evidence["signer"].startswith("ECDSA P-256")


def test_changed_file_wrong_key_and_missing_signature(files: Files) -> None:
    ca = files.root / "etc" / "ca.pem"
    files.openssl_sign(ca)
    ca.write_bytes(ca.read_bytes() + b"tampered\n")
    rules = "- {files: ['*/ca.pem'], require: keys}\n"
    [changed] = messages(gate(files, rules, CA))
    assert changed.startswith("LKT005 `files` entry `etc/ssl/certs/ca.pem` (source "
                              f"{files.root}/etc/ca.pem): authority `keys` (cosign-key) does not "
                              "vouch for it: etc/ssl/certs/ca.pem: the signature does not verify "
                              "with any trusted key")
    files.openssl_sign(ca, files.other)
    [wrong] = messages(gate(files, rules, CA))
    assert "does not verify with any trusted key" in wrong
    (files.root / "etc" / "ca.pem.sig").unlink()
    [missing] = messages(gate(files, rules, CA))
    assert missing.endswith(f"no signature for {files.root}/etc/ca.pem (looked for "
                            f"{files.root}/etc/ca.pem.sigstore.json, {files.root}/etc/ca.pem.sig)")


def test_key_bundle_and_its_recorded_digest(files: Files) -> None:
    ca = files.root / "etc" / "ca.pem"
    bundle = ca.with_name("ca.pem.sigstore.json")
    bundle.write_bytes(key_blob_bundle(files.key, ca.read_bytes()))
    rules = "- {files: ['etc/ssl/certs/ca.pem'], require: keys}\n"
    result = gate(files, rules, CA)
    assert messages(result) == []
    assert result.units[0].trust.file_evidence[0]["format"] == "sigstore-bundle"
    bundle.write_bytes(key_blob_bundle(files.key, ca.read_bytes(), digest=b"\x01" * 32))
    [finding] = messages(gate(files, rules, CA))
    assert finding.endswith(f"signs sha256:{'01' * 32}, not the file's "
                            f"{result.units[0].local_files[0].sha256}")


def test_keyless_bundle_with_the_identity_policy(files: Files) -> None:
    ca = files.root / "etc" / "ca.pem"
    bundle = ca.with_name("ca.pem.sigstore.json")
    bundle.write_bytes(files.sigstore.blob_bundle(ca.read_bytes(), IDENTITY, ISSUER))
    rules = "- {files: ['etc/ssl/*'], require: ci}\n"
    result = gate(files, rules, CA)
    assert messages(result) == []
    [evidence] = result.units[0].trust.file_evidence
    assert evidence["signer"] == f"{IDENTITY} (issuer {ISSUER})"
    assert evidence["method"] == "keyless" and evidence["logged"]
    bundle.write_bytes(files.sigstore.blob_bundle(ca.read_bytes(), IDENTITY.replace("main", "dev"),
                                                  ISSUER))
    [stranger] = messages(gate(files, rules, CA))
    dev = IDENTITY.replace("main", "dev")
    assert stranger.endswith(f"ca.pem.sigstore.json: Certificate's SANs do not match {IDENTITY}; "
                             f"actual SANs: {{'{dev}'}}")
    bundle.write_bytes(files.sigstore.blob_bundle(b"other bytes", IDENTITY, ISSUER))
    [other] = messages(gate(files, rules, CA))
    assert other.endswith("ca.pem.sigstore.json: Bundle message digest mismatch")
    bundle.write_bytes(files.sigstore.sign_image("sha256:" + "00" * 32, IDENTITY, ISSUER))
    [attestation] = messages(gate(files, rules, CA))
    assert "holds a DSSE statement (an attestation), not a signature of the file's bytes" \
        in attestation
    (files.root / "etc" / "ca.pem.sig").write_text("AAAA\n")
    bundle.unlink()
    [bare] = messages(gate(files, rules, CA))
    assert "is a bare signature; keyless signers need a Sigstore bundle" in bare


def test_any_of_key_or_keyless_and_templates(files: Files) -> None:
    sigs = files.root / "sigs"
    sigs.mkdir()
    motd = files.root / "etc" / "motd"
    signature = files.openssl_sign(motd)
    signature.rename(sigs / "motd.sig")
    rules = """\
        - files: ['etc/motd']
          signature: ['sigs/{name}.sig']
          require: {any: [ci, keys]}
        """
    assert messages(gate(files, rules, MOTD)) == []
    # Matched by the host path too; the default places hold no signature.
    [finding] = messages(gate(files, f"- {{files: ['{files.root}/etc/*'], require: keys}}\n",
                              MOTD))
    assert "no signature for" in finding


def test_unread_and_optional_files(files: Files) -> None:
    rules = "- {files: ['etc/**', 'etc/*'], require: keys}\n"
    [unread] = messages(gate(files, rules, MOTD, images=False))
    assert unread.endswith("must be verified by `keys`, but the gate did not read it "
                           "(`--no-images` judges the YAML alone)")
    absent = "- path: etc/absent\n  source: {root}/nothing\n  optional: true\n"
    assert messages(gate(files, rules, absent)) == []


def test_files_signed_before_the_stated_moment(files: Files) -> None:
    import datetime as dt

    ca = files.root / "etc" / "ca.pem"
    bundle = files.sigstore.blob_bundle(ca.read_bytes(), IDENTITY, ISSUER)
    ca.with_name("ca.pem.sigstore.json").write_bytes(bundle)
    logged = int(json.loads(bundle)["verificationMaterial"]["tlogEntries"][0]["integratedTime"])
    rules = "- {files: ['etc/ssl/*'], require: ci}\n"
    before = dt.datetime.fromtimestamp(logged - 120, dt.UTC)
    [finding] = messages(gate(files, rules, CA, at=before))
    assert "after the time of verification" in finding
    assert messages(gate(files, rules, CA, at=before + dt.timedelta(minutes=2))) == []


def test_lock_and_build_refuse_a_changed_file(files: Files, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.chdir(files.root)
    monkeypatch.setenv("LKPOLICY_TRUST_CACHE", str(files.root / "trust"))
    ca = files.root / "etc" / "ca.pem"
    files.openssl_sign(ca)
    config = files.config(CA.format(root=files.root), MOTD.format(root=files.root))
    policy = files.policy("- {files: ['etc/ssl/*'], require: keys}\n")
    common = ["--cache", str(files.root / "cache"), "--arch", "amd64", "--policy", str(policy)]
    lock = files.root / "c.lock.json"
    checked = runner.invoke(app, ["check", *common, "--lock", str(lock), str(config)])
    assert checked.exit_code == 0, checked.output
    locked = json.loads(lock.read_text())["files"]
    assert [(f["index"], f["path"], f["source"]) for f in locked] == [
        (0, "etc/ssl/certs/ca.pem", str(ca)), (1, "etc/motd", str(files.root / "etc" / "motd"))]
    built = runner.invoke(app, ["build", *common, "--lock", str(lock), "-f", "tar", "--dir",
                                str(files.root / "out"), str(config)])
    assert built.exit_code == 0, built.output
    manifest = json.loads((files.root / "out" / "c.build.json").read_text())
    [record] = manifest["trustEvidence"]
    assert record["file"] == "etc/ssl/certs/ca.pem" and record["authority"] == "keys"
    # The unsigned file changes: the signature rule does not see it, the lock does.
    (files.root / "etc" / "motd").write_bytes(b"changed\n")
    refused = runner.invoke(app, ["build", *common, "--lock", str(lock), "-f", "tar", "--dir",
                                  str(files.root / "out2"), str(config)])
    assert refused.exit_code == 1
    assert "LK502" in refused.output
    assert f"`files` source {files.root}/etc/motd changed after the check that wrote" \
        in refused.output
    assert not (files.root / "out2").exists()


def test_old_locks_without_files_refuse_every_file(files: Files,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from lkpolicy.gate.lock import check_matches, load_lock

    monkeypatch.chdir(files.root)
    config = files.config(MOTD.format(root=files.root))
    lock = files.root / "old.lock.json"
    lock.write_text(json.dumps({"lockVersion": 1, "platform": "linux/amd64", "images": [],
                                "configFiles": [{"path": str(config), "sha256": "x"}]}))
    result = run_gate([str(config)], GateOptions(
        images=ImageOptions(cache=str(files.root / "cache"), arch="amd64"), policy=None,
        use_result_cache=False))
    stale = check_matches(load_lock(str(lock)), result.units[0], str(lock))
    assert any("was not part of the check" in f.message and "etc/motd" in f.message
               for f in stale)
    lock.write_text(json.dumps({"lockVersion": 1, "platform": "linux/amd64", "images": [],
                                "configFiles": [], "files": [{"index": 0, "path": "p",
                                                              "source": "s", "sha256": "md5:x"}]}))
    from lkpolicy.model.findings import InputError

    with pytest.raises(InputError, match="malformed sha256"):
        load_lock(str(lock))


def test_pure_blob_checks() -> None:
    import hashlib

    from cosign_helpers import sign
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from lkpolicy.stages.trust import errors
    from lkpolicy.stages.trust.cosign.blobs import verify_blob_signature
    from lkpolicy.stages.trust.cosign.signatures import load_public_key

    data = b"file bytes\n"
    digest = hashlib.sha256(data).digest()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = load_public_key(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    signature = base64.b64encode(sign(rsa_key, data))
    verified = verify_blob_signature(signature, digest, [public], name="f")
    assert verified.digest == f"sha256:{digest.hex()}" and verified.signer.startswith("RSA-2048")
    with pytest.raises(errors.SignatureInvalid):
        verify_blob_signature(signature, hashlib.sha256(b"other").digest(), [public], name="f")
    with pytest.raises(errors.MalformedSignature, match="not valid base64"):
        verify_blob_signature(b"%%%", digest, [public], name="f")
    with pytest.raises(errors.MalformedSignature, match="not base64 text"):
        verify_blob_signature(b"\xff\xfe", digest, [public], name="f")
    edwards = load_public_key(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(errors.UnsupportedSignature, match="Ed25519 keys sign whole files"):
        verify_blob_signature(signature, digest, [edwards], name="f")


def test_pre_v3_cosign_bundles_are_refused_with_the_reason(files: Files) -> None:
    ca = files.root / "etc" / "ca.pem"
    ca.with_name("ca.pem.sigstore.json").write_text(json.dumps(
        {"base64Signature": "AAAA", "cert": "", "rekorBundle": {}}))
    for authority in ("keys", "ci"):
        [finding] = messages(gate(files, f"- {{files: ['etc/ssl/*'], require: {authority}}}\n",
                                  CA))
        assert "is a cosign bundle of the pre-v3 format" in finding


def test_verified_files_are_never_replayed_from_the_result_cache(files: Files) -> None:
    ca = files.root / "etc" / "ca.pem"
    signature = files.openssl_sign(ca)
    config = files.config(CA.format(root=files.root))
    policy = files.policy("- {files: ['etc/ssl/*'], require: keys}\n")

    def check() -> list[str]:
        return messages(run_gate([str(config)], GateOptions(
            images=ImageOptions(cache=str(files.root / "cache"), arch="amd64"),
            policy=PolicyChoice(str(policy), trust_cache=str(files.root / "trust")))))

    assert check() == []
    # Only the signature beside the file changes: no input of the result cache's key does.
    signature.write_text(signature.read_text().replace("M", "N", 1))
    [finding] = check()
    assert finding.startswith("LKT005")


def test_signature_templates_are_checked_and_anchored_at_the_policy(files: Files) -> None:
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.policy.loader import load_policy_file

    policy = files.policy("- files: ['*']\n  signature: ['{name}.sig', '{source}.b', 'x/{path}']\n"
                          "  require: keys\n")
    [rule] = load_policy_file(str(policy)).trust.rules
    assert rule.signatures == (f"{files.root}/{{name}}.sig", "{source}.b",
                               f"{files.root}/x/{{path}}")
    policy = files.policy("- files: ['*']\n  signature: ['{source}.sig', '{home}/x.sig']\n"
                          "  require: keys\n")
    with pytest.raises(InputError) as caught:
        load_policy_file(str(policy))
    [finding] = caught.value.findings
    assert finding.rule_id == "LKP005" and finding.location.line == 11
    assert finding.message == ("signature path `{home}/x.sig`: unknown placeholder {home}; use "
                               "{source}, {name}, {path}")
