"""A test-side Notary v1 signer: builds valid trust data from scratch with keys made here.

Attack tests need metadata that is *validly signed* yet wrong in exactly one way; building it from
our own keys (rather than editing captured files, whose keys we do not hold) lets every attack be
expressed as "the honest repository, with this one change, re-signed".
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from lkpolicy.stages.trust import errors, notary
from lkpolicy.stages.trust.canonical import encode_canonical

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "notary"
GUN = "127.0.0.1:5000/lktest/signed"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

_EC_CACHE: list[ec.EllipticCurvePrivateKey] = []


def go_time(when: dt.datetime) -> str:
    """RFC 3339 as Go writes it (trailing zeros of the fraction dropped)."""
    text = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


@dataclass
class Key:
    """A private key plus the metadata form of its public key."""

    kind: str  # ecdsa | ed25519 | rsa
    private: Any
    keytype: str
    public_b64: str
    rsa_method: str = "rsapss"

    @property
    def keyid(self) -> str:
        return notary.compute_key_id(self.keytype, self.public_b64)

    @property
    def entry(self) -> dict[str, Any]:
        return {"keytype": self.keytype, "keyval": {"private": None, "public": self.public_b64}}

    @property
    def method(self) -> str:
        return {"ecdsa": "ecdsa", "ed25519": "eddsa", "rsa": self.rsa_method}[self.kind]

    def sign(self, message: bytes) -> bytes:
        if self.kind == "ecdsa":
            der = self.private.sign(message, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.kind == "ed25519":
            signature: bytes = self.private.sign(message)
            return signature
        pad: padding.AsymmetricPadding
        if self.rsa_method == "rsapkcs1v15":
            pad = padding.PKCS1v15()
        else:
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = self.private.sign(message, pad, hashes.SHA256())
        return signature


def _private(kind: str, bits: int = 2048) -> Any:
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    raise ValueError(kind)


def make_key(kind: str = "ecdsa", *, bits: int = 2048, rsa_method: str = "rsapss") -> Key:
    private = _private(kind, bits)
    if kind == "ed25519":
        raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    else:
        raw = private.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key(kind, private, kind, base64.b64encode(raw).decode(), rsa_method)


def make_cert_key(cn: str, kind: str = "ecdsa", *,
                  not_before: dt.datetime = dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                  not_after: dt.datetime = dt.datetime(2036, 11, 1, tzinfo=dt.UTC),
                  ca: bool = False, sha1: bool = False, bits: int = 2048) -> Key:
    """A key in its `<kind>-x509` form: a self-signed certificate naming `cn`, as notary makes."""
    private = _private(kind, bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(private.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    algorithm = hashes.SHA1() if sha1 else hashes.SHA256()
    cert = builder.sign(private, algorithm)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    return Key(kind, private, f"{kind}-x509", base64.b64encode(pem).decode())


def envelope(signed: Mapping[str, Any], signers: list[Key],
             *, corrupt: bool = False) -> bytes:
    """Notary's wire form: compact, `signed` before `signatures`, signatures over canonical JSON."""
    message = encode_canonical(signed)
    signatures = []
    for key in signers:
        sig = key.sign(message)
        if corrupt:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        signatures.append({"keyid": key.keyid, "method": key.method,
                           "sig": base64.b64encode(sig).decode()})
    return json.dumps({"signed": signed, "signatures": signatures},
                      separators=(",", ":")).encode()


def meta_entry(data: bytes) -> dict[str, Any]:
    return {"hashes": {"sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
                       "sha512": base64.b64encode(hashlib.sha512(data).digest()).decode()},
            "length": len(data)}


def target_entry(digest_hex: str, length: int) -> dict[str, Any]:
    return {"hashes": {"sha256": base64.b64encode(bytes.fromhex(digest_hex)).decode()},
            "length": length}


Mutator = Callable[[dict[str, Any]], None]


@dataclass
class Repo:
    """An honest repository; `build()` returns its files, attacks tweak fields before building."""

    gun: str = GUN
    now: dt.datetime = NOW
    ts_kind: str = "ecdsa"
    root_kind: str = "ecdsa"
    root_keys: list[Key] = field(default_factory=list)
    root_threshold: int = 1
    # Extra keys that sign the root (the previous root keys during a rotation).
    root_cosigners: list[Key] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    expires: dict[str, dt.datetime] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    alice: dict[str, dict[str, Any]] = field(default_factory=dict)
    thresholds: dict[str, int] = field(default_factory=dict)
    # role -> keys that sign it (defaults: the role's own key); lets attacks use wrong keys.
    signers: dict[str, list[Key]] = field(default_factory=dict)
    mutate: dict[str, Mutator] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    root_history: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.root_keys:
            self.root_keys = [make_cert_key(self.gun, self.root_kind)]
        self.keys = {
            "targets": make_key("ecdsa"),
            "snapshot": make_key(self.ts_kind),
            "timestamp": make_key(self.ts_kind),
            "targets/releases": make_cert_key("releases", "ecdsa", ca=True),
            "targets/alice": make_key("ecdsa"),
        }
        for role in ("root", "targets", "snapshot", "timestamp", "targets/releases",
                     "targets/alice"):
            self.versions.setdefault(role, 1)
        lifetimes = {"root": 3650, "targets": 1095, "snapshot": 1095, "timestamp": 14,
                     "targets/releases": 1095, "targets/alice": 1095}
        for role, days in lifetimes.items():
            self.expires.setdefault(role, self.now + dt.timedelta(days=days))
        if not self.targets:
            self.targets = {"v1": target_entry("11" * 32, 401), "v3": target_entry("33" * 32, 401)}
        if not self.releases:
            self.releases = {"v1": target_entry("11" * 32, 401),
                             "v2": target_entry("22" * 32, 423)}
        if not self.alice:
            self.alice = {"v4": target_entry("44" * 32, 401)}

    # ------------------------------------------------------------ pieces

    def _sign(self, role: str, signed: dict[str, Any], default: list[Key]) -> bytes:
        if role in self.mutate:
            self.mutate[role](signed)
        return envelope(signed, self.signers.get(role, default), corrupt=role in self.corrupt)

    def root_signed(self) -> dict[str, Any]:
        keys = {k.keyid: k.entry for k in self.root_keys}
        roles = {"root": {"keyids": [k.keyid for k in self.root_keys],
                          "threshold": self.root_threshold}}
        for role in ("targets", "snapshot", "timestamp"):
            key = self.keys[role]
            keys[key.keyid] = key.entry
            roles[role] = {"keyids": [key.keyid], "threshold": self.thresholds.get(role, 1)}
        return {"_type": "Root", "consistent_snapshot": False, "expires": go_time(self.expires["root"]),
                "keys": keys, "roles": roles, "version": self.versions["root"]}

    def root_bytes(self) -> bytes:
        data = self._sign("root", self.root_signed(), self.root_keys + self.root_cosigners)
        self.root_history[self.versions["root"]] = data
        return data

    def targets_signed(self) -> dict[str, Any]:
        rel, alice = self.keys["targets/releases"], self.keys["targets/alice"]
        return {"_type": "Targets",
                "delegations": {"keys": {rel.keyid: rel.entry, alice.keyid: alice.entry},
                                "roles": [{"keyids": [rel.keyid], "name": "targets/releases",
                                           "paths": [""],
                                           "threshold": self.thresholds.get("targets/releases", 1)},
                                          {"keyids": [alice.keyid], "name": "targets/alice",
                                           "paths": [""], "threshold": 1}]},
                "expires": go_time(self.expires["targets"]), "targets": self.targets,
                "version": self.versions["targets"]}

    def delegation_signed(self, role: str, entries: dict[str, Any]) -> dict[str, Any]:
        return {"_type": "Targets", "delegations": {"keys": {}, "roles": []},
                "expires": go_time(self.expires[role]), "targets": entries,
                "version": self.versions[role]}

    def rotate_root(self, *, kind: str = "ecdsa", signed_by_old: bool = True,
                    cn: str | None = None) -> None:
        """A new root key; the next root is co-signed by the old keys unless told otherwise."""
        old = self.root_keys
        self.root_keys = [make_cert_key(cn or self.gun, kind)]
        self.root_cosigners = list(old) if signed_by_old else []
        self.versions["root"] += 1

    # ------------------------------------------------------------ the repository

    def build(self) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        files["root"] = self.root_bytes()
        files["targets"] = self._sign("targets", self.targets_signed(), [self.keys["targets"]])
        files["targets/releases"] = self._sign(
            "targets/releases", self.delegation_signed("targets/releases", self.releases),
            [self.keys["targets/releases"]])
        files["targets/alice"] = self._sign(
            "targets/alice", self.delegation_signed("targets/alice", self.alice),
            [self.keys["targets/alice"]])
        meta = {name: meta_entry(files[name])
                for name in ("root", "targets", "targets/releases", "targets/alice")}
        snapshot = {"_type": "Snapshot", "expires": go_time(self.expires["snapshot"]),
                    "meta": meta, "version": self.versions["snapshot"]}
        files["snapshot"] = self._sign("snapshot", snapshot, [self.keys["snapshot"]])
        timestamp = {"_type": "Timestamp", "expires": go_time(self.expires["timestamp"]),
                     "meta": {"snapshot": meta_entry(files["snapshot"])},
                     "version": self.versions["timestamp"]}
        files["timestamp"] = self._sign("timestamp", timestamp, [self.keys["timestamp"]])
        for version, data in self.root_history.items():
            files[f"{version}.root"] = data
        return files

    def bump(self, *roles: str) -> None:
        for role in roles or ("targets", "snapshot", "timestamp"):
            self.versions[role] += 1


def dict_fetch(files: Mapping[str, bytes]) -> notary.Fetch:
    """A fetch callback over a dict of files, with notary's semantics for missing files."""
    def fetch(name: str, _sha: str | None, limit: int) -> bytes:
        if name not in files:
            raise errors.NoTrustData(name, "not found")
        data = files[name]
        if len(data) > limit:
            raise errors.MetadataTooLarge(name, f"{len(data)} bytes exceed {limit}")
        return data
    return fetch


def verify(files: Mapping[str, bytes], *, gun: str = GUN, now: dt.datetime = NOW,
           trusted_root: bytes | None = None, known: Mapping[str, int] | None = None,
           pins: tuple[str, ...] = ()) -> notary.NotaryTrustedSet:
    return notary.load_trusted_set(dict_fetch(files), gun, now, trusted_root=trusted_root,
                                   known_versions=known,
                                   pins=notary.RootPins(frozenset(pins)))


def edit_signed(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """Edit a captured file's `signed` part without re-signing (keeps the envelope order)."""
    document = json.loads(data)
    document = copy.deepcopy(document)
    change(document["signed"])
    return json.dumps(document, separators=(",", ":")).encode()
