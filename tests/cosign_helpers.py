"""Test material in cosign's formats, built from scratch with `cryptography`.

* legacy key-based signatures: the simple-signing payload (Go `encoding/json` style), the `.sig`
  manifest with one layer per signature and the signature annotation, as an OCI layout for skopeo;
* cosign v3 referrers: an OCI manifest with `artifactType` = the Sigstore bundle type, an empty
  config, `subject` = the image, and the bundle JSON as its layer; plus the tag-schema fallback
  index `sha256-<hex>` that lists such referrers (distribution 2.8 has no referrers API);
* a self-contained Sigstore: a Fulcio-like CA (root certificate), a CT log key that embeds an SCT
  in each leaf certificate, and a Rekor-like log key that signs a one-entry Merkle tree checkpoint
  and an inclusion promise (SET). Together they form a `trusted_root.json` that sigstore-python
  accepts offline, and DSSE bundles whose every piece it checks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from registry_env import OCI_CONFIG, OCI_MANIFEST, OCILayout

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_der(key: Any) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    return bytes(public.public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def sign(key: PrivateKey, data: bytes) -> bytes:
    """cosign's signature: ECDSA/SHA-256 (ASN.1 DER), Ed25519, or RSA PKCS#1 v1.5/SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def go_json(value: Any) -> bytes:
    """Go encoding/json output for the payload: compact, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)
    return text.encode()


def simple_signing_payload(repository: str, digest: str,
                           optional: dict[str, Any] | None = None) -> bytes:
    return go_json({
        "critical": {"identity": {"docker-reference": repository},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": optional,
    })


@dataclass
class SigLayer:
    payload: bytes
    signature: bytes
    extra_annotations: dict[str, str] | None = None


def add_sig_manifest(layout: OCILayout, tag: str, layers: list[SigLayer]) -> dict[str, Any]:
    """A cosign `.sig` manifest (one simple-signing layer per signature), tagged in the layout."""
    descriptors = []
    for layer in layers:
        annotations = {SIGNATURE_ANNOTATION: b64(layer.signature), **(layer.extra_annotations or {})}
        descriptors.append({"mediaType": SIMPLE_SIGNING, **layout.put(layer.payload),
                            "annotations": annotations})
    config = go_json({"architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
                      "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                      "rootfs": {"type": "layers",
                                 "diff_ids": [f"sha256:{sha256_hex(x.payload)}" for x in layers]}})
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **layout.put(config)}, "layers": descriptors}
    data = go_json(manifest)
    descriptor = {"mediaType": OCI_MANIFEST, **layout.put(data)}
    layout.tag(descriptor, tag)
    return descriptor


def add_bundle_referrer(layout: OCILayout, subject: dict[str, Any], bundle: bytes,
                        predicate: str = COSIGN_PREDICATE) -> dict[str, Any]:
    """cosign v3's referrer manifest for a bundle; returns its descriptor (with artifactType)."""
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, **layout.put(b"{}")},
        "layers": [{"mediaType": BUNDLE_TYPE, **layout.put(bundle)}],
        "subject": {"mediaType": subject["mediaType"], "digest": subject["digest"],
                    "size": subject["size"]},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": predicate},
    }
    data = go_json(manifest)
    return {"mediaType": OCI_MANIFEST, **layout.put(data), "artifactType": BUNDLE_TYPE,
            "annotations": manifest["annotations"]}


def referrers_index(referrers: list[dict[str, Any]]) -> bytes:
    """The referrers tag-schema fallback index (to be tagged `sha256-<hex>`)."""
    return go_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": referrers})


def put_manifest(registry_url: str, repository: str, reference: str, data: bytes,
                 media_type: str = OCI_INDEX) -> None:
    """PUT a manifest whose children are already in the repository. skopeo 1.9 cannot copy an
    index whose entries carry `artifactType` without rewriting it (which --preserve-digests
    forbids), so the fallback index goes up by hand."""
    request = urllib.request.Request(f"{registry_url}/v2/{repository}/manifests/{reference}",
                                     data=data, method="PUT",
                                     headers={"Content-Type": media_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status


def in_toto_statement(digest: str, predicate: str = COSIGN_PREDICATE) -> bytes:
    return go_json({"_type": "https://in-toto.io/Statement/v1",
                    "subject": [{"name": "", "digest": {"sha256": digest.split(":", 1)[1]}}],
                    "predicateType": predicate, "predicate": {}})


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_blob_bundle(key: PrivateKey, data: bytes, digest: bytes | None = None) -> bytes:
    """`cosign sign-blob --key --bundle` (cosign v3): a public-key hint and a message signature
    over the data's SHA-256 (`digest` overrides the recorded one); no tlog entry here."""
    recorded = digest if digest is not None else hashlib.sha256(data).digest()
    return json.dumps({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {"hint": b64(hashlib.sha256(spki_der(key)).digest())},
                                 "tlogEntries": []},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(recorded)},
                             "signature": b64(sign(key, data))},
    }).encode()


def key_bundle(key: PrivateKey, statement: bytes) -> bytes:
    """A cosign v3 `--key` bundle (public-key hint, DSSE); its tlog entry is omitted here."""
    signature = sign(key, pae(IN_TOTO, statement))
    return json.dumps({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {"hint": b64(hashlib.sha256(spki_der(key)).digest())},
                                 "tlogEntries": []},
        "dsseEnvelope": {"payload": b64(statement), "payloadType": IN_TOTO,
                         "signatures": [{"sig": b64(signature), "keyid": ""}]},
    }).encode()


# --------------------------------------------------------------------------------------- sigstore


def _der_octet_string(data: bytes) -> bytes:
    if len(data) < 0x80:
        header = bytes([0x04, len(data)])
    elif len(data) < 0x100:
        header = bytes([0x04, 0x81, len(data)])
    else:
        header = bytes([0x04, 0x82]) + len(data).to_bytes(2, "big")
    return header + data


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 0x80
    return bytes([0x0C, len(data)]) + data


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeSigstore:
    """Fulcio CA + CT log + Rekor log keys, all local. `trusted_root()` is their public side."""

    def __init__(self, name: str = "lktest") -> None:
        self.name = name
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{name} fulcio root")])
        ski = x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key())
        self.ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(self.ca_key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(self.now - dt.timedelta(days=30))
                   .not_valid_after(self.now + dt.timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), critical=True)
                   .add_extension(ski, critical=False)
                   .sign(self.ca_key, hashes.SHA256()))
        self.rekor_id = hashlib.sha256(spki_der(self.rekor_key)).digest()
        self.ct_id = hashlib.sha256(spki_der(self.ct_key)).digest()

    # ------------------------------------------------------------ trust material

    def _log(self, key: ec.EllipticCurvePrivateKey, log_id: bytes, url: str) -> dict[str, Any]:
        return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(spki_der(key)),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": _iso(self.now - dt.timedelta(days=30))}},
                "logId": {"keyId": b64(log_id)}}

    def trusted_root(self) -> dict[str, Any]:
        # `.invalid` never resolves: a verifier that tried to contact these would fail loudly.
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [self._log(self.rekor_key, self.rekor_id, "https://rekor.lktest.invalid")],
            "certificateAuthorities": [{
                "subject": {"organization": self.name, "commonName": f"{self.name} fulcio root"},
                "uri": "https://fulcio.lktest.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": b64(self.ca.public_bytes(serialization.Encoding.DER))}]},
                "validFor": {"start": _iso(self.now - dt.timedelta(days=30))}}],
            "ctlogs": [self._log(self.ct_key, self.ct_id, "https://ctfe.lktest.invalid")],
            "timestampAuthorities": [],
        }

    def write_trusted_root(self, path: Path) -> Path:
        path.write_text(json.dumps(self.trusted_root(), indent=1))
        return path

    # ------------------------------------------------------------ Fulcio

    def issue(self, identity: str, issuer: str, *, email: bool = False,
              signed_at: dt.datetime | None = None) -> tuple[ec.EllipticCurvePrivateKey,
                                                            x509.Certificate]:
        """A short-lived code-signing certificate with an embedded SCT, as Fulcio issues."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = (signed_at or self.now) - dt.timedelta(minutes=2)
        name: x509.GeneralName = (x509.RFC822Name(identity) if email
                                  else x509.UniformResourceIdentifier(identity))
        serial = x509.random_serial_number()

        def builder() -> x509.CertificateBuilder:
            return (x509.CertificateBuilder().subject_name(x509.Name([]))
                    .issuer_name(self.ca.subject).public_key(key.public_key())
                    .serial_number(serial)
                    .not_valid_before(start).not_valid_after(start + dt.timedelta(minutes=10))
                    .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                                 False, False), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                                   critical=False)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                   critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                        self.ca_key.public_key()), critical=False)
                    .add_extension(x509.SubjectAlternativeName([name]), critical=True)
                    .add_extension(x509.UnrecognizedExtension(
                        x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), issuer.encode()),
                        critical=False)
                    .add_extension(x509.UnrecognizedExtension(
                        x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), _der_utf8(issuer)),
                        critical=False))

        # The SCT signs the precertificate TBS: the final TBS without the SCT list extension.
        precert = builder().sign(self.ca_key, hashes.SHA256())
        tbs = precert.tbs_certificate_bytes
        timestamp = int(start.timestamp() * 1000) + 1000
        issuer_key_hash = hashlib.sha256(spki_der(self.ca_key)).digest()
        signed = (struct.pack("!BBQH", 0, 0, timestamp, 1) + issuer_key_hash
                  + len(tbs).to_bytes(3, "big") + tbs + struct.pack("!H", 0))
        sct_signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (bytes([0]) + self.ct_id + struct.pack("!QH", timestamp, 0)
               + struct.pack("!BBH", 4, 3, len(sct_signature)) + sct_signature)
        sct_list = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
        cert = (builder().add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), _der_octet_string(sct_list)),
            critical=False).sign(self.ca_key, hashes.SHA256()))
        assert cert.tbs_precertificate_bytes == tbs
        return key, cert

    # ------------------------------------------------------------ Rekor + bundle

    def dsse_bundle(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
                    payload: bytes, payload_type: str = IN_TOTO,
                    integrated: dt.datetime | None = None) -> bytes:
        """A v0.3 bundle: DSSE envelope + a dsse/0.0.1 log entry with proof, checkpoint, SET."""
        signature = key.sign(pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
        envelope = {"payload": b64(payload), "payloadType": payload_type,
                    "signatures": [{"sig": b64(signature), "keyid": ""}]}
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        body = json.dumps({
            "apiVersion": "0.0.1", "kind": "dsse",
            "spec": {"envelopeHash": {"algorithm": "sha256",
                                      "value": sha256_hex(json.dumps(envelope).encode())},
                     "payloadHash": {"algorithm": "sha256", "value": sha256_hex(payload)},
                     "signatures": [{"signature": b64(signature), "verifier": b64(cert_pem)}]},
        }, sort_keys=True, separators=(",", ":")).encode()
        return json.dumps({
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [self._log_entry(body, "dsse", cert, integrated)],
            },
            "dsseEnvelope": envelope,
        }).encode()

    def blob_bundle(self, data: bytes, identity: str, issuer: str, *,
                    email: bool = False) -> bytes:
        """`cosign sign-blob --bundle`'s v0.3 bundle: a message signature over the data's
        SHA-256 and a hashedrekord/0.0.1 log entry with proof, checkpoint and SET."""
        key, cert = self.issue(identity, issuer, email=email)
        digest = hashlib.sha256(data).digest()
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        body = json.dumps({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                     "signature": {"content": b64(signature),
                                   "publicKey": {"content": b64(cert_pem)}}},
        }, sort_keys=True, separators=(",", ":")).encode()
        entry = self._log_entry(body, "hashedrekord", cert)
        return json.dumps({
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [entry]},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                                 "signature": b64(signature)},
        }).encode()

    def _log_entry(self, body: bytes, kind: str, cert: x509.Certificate,
                   integrated: dt.datetime | None = None) -> dict[str, Any]:
        """A one-entry log (RFC 6962: the root is the leaf hash) with a SET and a checkpoint."""
        when = integrated or (cert.not_valid_before_utc + dt.timedelta(minutes=1))
        integrated_time = int(when.timestamp())
        root = hashlib.sha256(b"\x00" + body).digest()
        promise = json.dumps({"body": b64(body), "integratedTime": integrated_time,
                              "logID": self.rekor_id.hex(), "logIndex": 0},
                             sort_keys=True, separators=(",", ":")).encode()
        set_signature = self.rekor_key.sign(promise, ec.ECDSA(hashes.SHA256()))
        note = f"{self.name}-rekor - 1\n1\n{b64(root)}\n"
        note_signature = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        # The signer's name is the log's host, as Rekor signs (sigstore-js matches it to the
        # log's base URL).
        checkpoint = (note + "\n" + f"\u2014 rekor.lktest.invalid "
                      f"{b64(self.rekor_id[:4] + note_signature)}\n")
        return {"logIndex": "0", "logId": {"keyId": b64(self.rekor_id)},
                "kindVersion": {"kind": kind, "version": "0.0.1"},
                "integratedTime": str(integrated_time),
                "inclusionPromise": {"signedEntryTimestamp": b64(set_signature)},
                "inclusionProof": {"logIndex": "0", "rootHash": b64(root), "treeSize": "1",
                                   "hashes": [], "checkpoint": {"envelope": checkpoint}},
                "canonicalizedBody": b64(body)}

    def key_dsse_bundle(self, key: PrivateKey, payload: bytes, *, logged: bool = True,
                        body_payload: bytes | None = None) -> bytes:
        """A key-based ("managed key") v0.3 bundle: a public-key hint, the DSSE envelope and,
        when `logged`, its dsse/0.0.1 entry in this log (`body_payload`: record another
        payload's hash instead, as a log entry for other content would)."""
        signature = sign(key, pae(IN_TOTO, payload))
        envelope = {"payload": b64(payload), "payloadType": IN_TOTO,
                    "signatures": [{"sig": b64(signature), "keyid": ""}]}
        body = json.dumps({
            "apiVersion": "0.0.1", "kind": "dsse",
            "spec": {"envelopeHash": {"algorithm": "sha256",
                                      "value": sha256_hex(json.dumps(envelope).encode())},
                     "payloadHash": {"algorithm": "sha256",
                                     "value": sha256_hex(body_payload or payload)},
                     "signatures": [{"signature": b64(signature),
                                     "verifier": b64(public_pem(key))}]},
        }, sort_keys=True, separators=(",", ":")).encode()
        entries = [self._log_entry(body, "dsse", self.ca, self.now)] if logged else []
        return json.dumps({
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": {
                "publicKey": {"hint": b64(hashlib.sha256(spki_der(key)).digest())},
                "tlogEntries": entries},
            "dsseEnvelope": envelope,
        }).encode()

    def sign_image(self, digest: str, identity: str, issuer: str, *, email: bool = False,
                   predicate: str = COSIGN_PREDICATE) -> bytes:
        key, cert = self.issue(identity, issuer, email=email)
        return self.dsse_bundle(key, cert, in_toto_statement(digest, predicate))
