"""Notary v1 (Docker Content Trust) metadata verification: bytes in, verified objects out.

Nothing here touches the network or the disk: `NotaryTrustedSet` is fed the raw bytes of each role
in order (root, timestamp, snapshot, targets, delegations) and either accepts them or raises a
`TrustError` naming the role and the reason. `load_trusted_set` drives that order over a fetch
callback so that the HTTP client and the offline cache share one verification path.

Rules follow notary 0.7.0's client (see ../shared/spec/notary-v1.md): hashes and lengths are over
the raw bytes as served, signatures over the canonical JSON of `signed`, thresholds count distinct
key IDs, root keys must be X.509 certificates whose CN is the GUN, and a root rotation needs the
previous root's threshold as well as its own. Deliberate deviation: notary *skips* an expired or
under-signed delegation and falls back to the next role; a security gate fails closed instead.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from lkpolicy.stages.trust.canonical import encode_canonical_parsed, loads_strict
from lkpolicy.stages.trust.errors import (
    BadSignature,
    CanonicalJSONError,
    ExpiredMetadata,
    GunMismatch,
    HashMismatch,
    InvalidCertificate,
    LengthMismatch,
    MalformedMetadata,
    MetadataTooLarge,
    NoTrustData,
    Rollback,
    RootChanged,
    StateError,
    ThresholdNotMet,
    UnknownKey,
    UnknownTarget,
)

ROOT = "root"
TARGETS = "targets"
SNAPSHOT = "snapshot"
TIMESTAMP = "timestamp"
RELEASES = "targets/releases"
TOP_LEVEL_ROLES = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
# Docker accepts a tag only from these roles, in this order (cli/command/image/trust.go).
DOCKER_ROLE_ORDER = (RELEASES, TARGETS)

MiB = 1024 * 1024
# Notary allows 100 MiB for an unknown-length root and 1 MiB for the timestamp; real roots are a
# few KiB, so a much smaller cap refuses a hostile server sooner at no cost.
DEFAULT_MAX_SIZES: Mapping[str, int] = {ROOT: 2 * MiB, TIMESTAMP: 1 * MiB}
# Snapshot, targets and delegations are capped by the length their parent signed, and by this.
DEFAULT_MAX_ROLE_SIZE = 32 * MiB
MAX_ROOT_ROTATIONS = 256
_MIN_RSA_BITS = 2048
_CERT_KEYTYPES = frozenset({"ecdsa-x509", "rsa-x509"})
_KEYTYPES = frozenset({"ecdsa", "ed25519", "rsa"}) | _CERT_KEYTYPES
_METHODS: Mapping[str, frozenset[str]] = {
    "ecdsa": frozenset({"ecdsa", "ecdsa-x509"}),
    "eddsa": frozenset({"ed25519"}),
    "rsapss": frozenset({"rsa", "rsa-x509"}),
    "rsapkcs1v15": frozenset({"rsa", "rsa-x509"}),
    "pycrypto-pkcs#1 pss": frozenset({"rsa"}),
}
_HASH_SIZES = {"sha256": 32, "sha512": 64}
_ROLE_NAME = re.compile(r"^targets(/[A-Za-z0-9_.\-]+)+$")
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                   r"([Zz]|[+-]\d{2}:\d{2})$")


# ------------------------------------------------------------------------------------ helpers


def parse_time(value: object, role: str = "metadata") -> dt.datetime:
    """Parse Go's RFC 3339 (nano) form; fractions beyond microseconds are truncated."""
    if not isinstance(value, str):
        raise MalformedMetadata(role, "expires is not a string")
    match = _TIME.match(value)
    if not match:
        raise MalformedMetadata(role, f"expires {value[:64]!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone in ("Z", "z"):
        tz = dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        if offset >= dt.timedelta(hours=24):
            raise MalformedMetadata(role, f"expires {value!r} has an impossible offset")
        tz = dt.timezone(sign * offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                           micro, tzinfo=tz).astimezone(dt.UTC)
    except ValueError as error:
        raise MalformedMetadata(role, f"expires {value!r}: {error}") from None


def _b64(value: object, role: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedMetadata(role, f"{what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMetadata(role, f"{what} is not valid base64") from None


def _obj(value: object, role: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedMetadata(role, f"{what} is not an object")
    return value


def _int(value: object, role: str, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MalformedMetadata(role, f"{what} is not an integer >= {minimum}")
    return value


def _str_list(value: object, role: str, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedMetadata(role, f"{what} is not a list of strings")
    return value


def _check_size(role: str, data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise MetadataTooLarge(role, f"{len(data)} bytes exceed the limit of {limit} bytes")


def _cert_names(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


# ------------------------------------------------------------------------------------ keys


def compute_key_id(keytype: str, public_b64: str) -> str:
    """The metadata key ID: sha256 of the canonical key object with `private: null`."""
    body = {"keytype": keytype, "keyval": {"private": None, "public": public_b64}}
    return hashlib.sha256(encode_canonical_parsed(body)).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """A key as listed in metadata, with its usable public key or the reason it is unusable."""

    listed_id: str
    keytype: str
    public_b64: str
    key_id: str
    crypto: Any = field(repr=False, compare=False)
    certificate: x509.Certificate | None = field(repr=False, compare=False)
    problem: str | None = None

    @property
    def spki_b64(self) -> str | None:
        if self.crypto is None:
            return None
        der = self.crypto.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode("ascii")

    def verify(self, method: str, message: bytes, signature: bytes) -> bool:
        if self.crypto is None or self.keytype not in _METHODS.get(method, ()):
            return False
        key = self.crypto
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                # Notary writes r||s, each padded to the curve size, not DER.
                size = (key.curve.key_size + 7) // 8
                if len(signature) != 2 * size:
                    return False
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, ed25519.Ed25519PublicKey):
                if len(signature) != 64:
                    return False
                key.verify(signature, message)
            elif isinstance(key, rsa.RSAPublicKey):
                if method == "rsapkcs1v15":
                    pad: padding.AsymmetricPadding = padding.PKCS1v15()
                elif method == "rsapss":
                    pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
                else:
                    # PyCrypto's PSS picks its own salt length; accept whatever the signature says.
                    pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                      salt_length=padding.PSS.AUTO)
                key.verify(signature, message, pad, hashes.SHA256())
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_key(listed_id: str, raw: object, role: str) -> PublicKey:
    """Parse a key object; an unusable key is returned with `problem` set, never counted."""
    body = _obj(raw, role, f"key {listed_id[:16]}")
    keytype = body.get("keytype")
    keyval = _obj(body.get("keyval"), role, f"keyval of key {listed_id[:16]}")
    public = keyval.get("public")
    if not isinstance(keytype, str) or not isinstance(public, str):
        raise MalformedMetadata(role, f"key {listed_id[:16]} lacks keytype or public value")
    keytype = keytype.lower()
    key_id = compute_key_id(keytype, public)

    def unusable(problem: str) -> PublicKey:
        return PublicKey(listed_id, keytype, public, key_id, None, None, problem)

    if key_id != listed_id:
        return unusable(f"key listed as {listed_id[:16]} has ID {key_id[:16]}")
    if keytype not in _KEYTYPES:
        return unusable(f"key {listed_id[:16]} has unsupported type {keytype!r}")
    try:
        material = base64.b64decode(public, validate=True)
    except (binascii.Error, ValueError):
        return unusable(f"key {listed_id[:16]} is not valid base64")
    certificate: x509.Certificate | None = None
    try:
        if keytype == "ed25519":
            crypto: Any = ed25519.Ed25519PublicKey.from_public_bytes(material)
        elif keytype in _CERT_KEYTYPES:
            # The first certificate carries the key; intermediates may follow it.
            certificate = x509.load_pem_x509_certificates(material)[0]
            crypto = certificate.public_key()
        else:
            crypto = serialization.load_der_public_key(material)
    except (ValueError, UnsupportedAlgorithm, TypeError) as error:
        return unusable(f"key {listed_id[:16]} cannot be loaded: {error}")
    family = keytype.split("-", 1)[0]
    if family == "ecdsa" and not isinstance(crypto, ec.EllipticCurvePublicKey):
        return unusable(f"key {listed_id[:16]} of type {keytype} is not an EC key")
    if family == "rsa":
        if not isinstance(crypto, rsa.RSAPublicKey):
            return unusable(f"key {listed_id[:16]} of type {keytype} is not an RSA key")
        if crypto.key_size < _MIN_RSA_BITS:
            return unusable(f"RSA key {listed_id[:16]} has {crypto.key_size} bits (< 2048)")
    return PublicKey(listed_id, keytype, public, key_id, crypto, certificate)


def _parse_keys(raw: object, role: str) -> dict[str, PublicKey]:
    return {kid: parse_key(kid, value, role)
            for kid, value in _obj(raw, role, "keys").items()}


# ------------------------------------------------------------------------------------ envelope


@dataclass(frozen=True)
class Envelope:
    role: str
    raw: bytes
    signed: dict[str, Any]
    signatures: list[tuple[str, str, bytes]]
    version: int
    expires: dt.datetime


def parse_envelope(role: str, data: bytes, expected_type: str) -> Envelope:
    try:
        document = loads_strict(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedMetadata(role, f"not valid JSON: {error}") from None
    document = _obj(document, role, "the document")
    signed = _obj(document.get("signed"), role, "signed")
    raw_sigs = document.get("signatures")
    if not isinstance(raw_sigs, list):
        raise MalformedMetadata(role, "signatures is not a list")
    signatures = []
    for entry in raw_sigs:
        entry = _obj(entry, role, "a signature")
        keyid, method = entry.get("keyid"), entry.get("method")
        if not isinstance(keyid, str) or not isinstance(method, str):
            raise MalformedMetadata(role, "a signature lacks keyid or method")
        signatures.append((keyid, method.lower(), _b64(entry.get("sig"), role, "sig")))
    if signed.get("_type") != expected_type:
        raise MalformedMetadata(role, f"_type is {signed.get('_type')!r}, expected "
                                      f"{expected_type!r}")
    version = _int(signed.get("version"), role, "version", 1)
    expires = parse_time(signed.get("expires"), role)
    return Envelope(role, data, signed, signatures, version, expires)


def verify_threshold(envelope: Envelope, keys: Mapping[str, PublicKey],
                     keyids: Collection[str], threshold: int, role: str | None = None) -> None:
    """Enough distinct listed keys must have signed the canonical `signed` value."""
    role = role or envelope.role
    if threshold < 1:
        raise MalformedMetadata(role, f"threshold {threshold} is below 1")
    if not envelope.signatures:
        raise BadSignature(role, "no signatures")
    try:
        message = encode_canonical_parsed(envelope.signed)
    except CanonicalJSONError as error:
        raise MalformedMetadata(role, f"signed has no canonical form: {error}") from None
    valid: set[str] = set()
    unknown = invalid = 0
    problems: list[str] = []
    for keyid, method, sig in envelope.signatures:
        key = keys.get(keyid) if keyid in keyids else None
        if key is None:
            unknown += 1
            continue
        if key.problem:
            problems.append(key.problem)
            continue
        if keyid in valid:
            continue
        if key.verify(method, message, sig):
            valid.add(keyid)
        else:
            invalid += 1
    if len(valid) >= threshold:
        return
    detail = [f"{len(valid)} valid signature(s) from distinct trusted keys, threshold {threshold}"]
    if invalid:
        detail.append(f"{invalid} invalid")
    if unknown:
        detail.append(f"{unknown} by keys not trusted for this role")
    detail.extend(dict.fromkeys(problems))
    cls = UnknownKey if unknown and not valid and not invalid and not problems else ThresholdNotMet
    raise cls(role, "; ".join(detail))


def _check_expiry(envelope: Envelope, now: dt.datetime, role: str | None = None) -> None:
    if envelope.expires < now:
        raise ExpiredMetadata(role or envelope.role,
                              f"expired at {envelope.expires.isoformat()} (now "
                              f"{now.isoformat()})")


def _check_version(role: str, version: int, known: Mapping[str, int]) -> None:
    trusted = known.get(role)
    if trusted is not None and version < trusted:
        raise Rollback(role, f"version {version} is older than the trusted version {trusted}")


@dataclass(frozen=True)
class MetaFile:
    """A hash/length entry from timestamp or snapshot `meta`."""

    length: int
    hashes: Mapping[str, bytes]

    @property
    def sha256_hex(self) -> str:
        return self.hashes["sha256"].hex()


def _meta_file(raw: object, role: str, what: str) -> MetaFile:
    body = _obj(raw, role, what)
    length = _int(body.get("length"), role, f"{what} length")
    hashes: dict[str, bytes] = {}
    for alg, value in _obj(body.get("hashes"), role, f"{what} hashes").items():
        digest = _b64(value, role, f"{what} {alg} hash")
        if alg in _HASH_SIZES and len(digest) != _HASH_SIZES[alg]:
            raise MalformedMetadata(role, f"{what} {alg} hash has {len(digest)} bytes")
        hashes[alg] = digest
    if "sha256" not in hashes:
        raise MalformedMetadata(role, f"{what} has no sha256 hash")
    return MetaFile(length, hashes)


def check_meta(role: str, data: bytes, meta: MetaFile, parent: str,
               check_length: bool = True) -> None:
    """Raw bytes against a signed length (upper bound) and every known hash."""
    if check_length and len(data) > meta.length:
        raise LengthMismatch(role, f"{len(data)} bytes, but {parent} allows at most "
                                   f"{meta.length}")
    for alg, expected in meta.hashes.items():
        if alg not in _HASH_SIZES:
            continue
        actual = hashlib.new(alg, data).digest()
        if not hmac.compare_digest(actual, expected):
            raise HashMismatch(role, f"{alg} {actual.hex()[:16]}... does not match "
                                     f"{expected.hex()[:16]}... recorded in {parent}")


# ------------------------------------------------------------------------------------ roles


@dataclass(frozen=True)
class RoleKeys:
    keyids: tuple[str, ...]
    threshold: int


@dataclass(frozen=True)
class Root:
    envelope: Envelope
    keys: Mapping[str, PublicKey]
    roles: Mapping[str, RoleKeys]

    @property
    def version(self) -> int:
        return self.envelope.version


def parse_root(data: bytes) -> Root:
    envelope = parse_envelope(ROOT, data, "Root")
    keys = _parse_keys(envelope.signed.get("keys"), ROOT)
    raw_roles = _obj(envelope.signed.get("roles"), ROOT, "roles")
    roles: dict[str, RoleKeys] = {}
    for name in TOP_LEVEL_ROLES:
        body = _obj(raw_roles.get(name), ROOT, f"role {name}")
        keyids = _str_list(body.get("keyids"), ROOT, f"{name} keyids")
        threshold = _int(body.get("threshold"), ROOT, f"{name} threshold", 1)
        for keyid in keyids:
            if keyid not in keys:
                raise MalformedMetadata(ROOT, f"{name} lists key {keyid[:16]} that is not in keys")
        roles[name] = RoleKeys(tuple(keyids), threshold)
    return Root(envelope, keys, roles)


@dataclass(frozen=True)
class Delegation:
    name: str
    keyids: tuple[str, ...]
    threshold: int
    paths: tuple[str, ...]

    def covers(self, target: str) -> bool:
        return any(target.startswith(prefix) for prefix in self.paths)


@dataclass(frozen=True)
class Targets:
    envelope: Envelope
    targets: Mapping[str, Any]
    keys: Mapping[str, PublicKey]
    delegations: Mapping[str, Delegation]
    paths: tuple[str, ...]


def parse_targets(role: str, data: bytes, paths: tuple[str, ...] = ("",)) -> Targets:
    envelope = parse_envelope(role, data, "Targets")
    targets = _obj(envelope.signed.get("targets", {}), role, "targets")
    raw = envelope.signed.get("delegations")
    keys: dict[str, PublicKey] = {}
    delegations: dict[str, Delegation] = {}
    if raw is not None:
        raw = _obj(raw, role, "delegations")
        keys = _parse_keys(raw.get("keys", {}), role)
        raw_roles = raw.get("roles", [])
        if not isinstance(raw_roles, list):
            raise MalformedMetadata(role, "delegations.roles is not a list")
        for entry in raw_roles:
            entry = _obj(entry, role, "a delegation")
            name = entry.get("name")
            if (not isinstance(name, str) or not _ROLE_NAME.match(name)
                    or name.rsplit("/", 1)[0] != role):
                raise MalformedMetadata(role, f"delegation {str(name)[:64]!r} is not a direct "
                                              f"child of {role}")
            keyids = _str_list(entry.get("keyids"), role, f"{name} keyids")
            for keyid in keyids:
                if keyid not in keys:
                    raise MalformedMetadata(role, f"{name} lists key {keyid[:16]} that is not "
                                                  f"in delegations.keys")
            threshold = _int(entry.get("threshold"), role, f"{name} threshold", 1)
            own = tuple(_str_list(entry.get("paths", []), role, f"{name} paths"))
            # A child may sign only within its parent's paths: keep the narrower prefixes.
            effective = tuple(p for p in own if any(p.startswith(q) for q in paths))
            if name in delegations:
                raise MalformedMetadata(role, f"delegation {name} is defined twice")
            delegations[name] = Delegation(name, tuple(keyids), threshold, effective)
    return Targets(envelope, targets, keys, delegations, paths)


@dataclass(frozen=True)
class VerifiedTarget:
    name: str
    sha256: str
    length: int
    role: str
    expires: dt.datetime

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"


def _target(role: Targets, name: str) -> VerifiedTarget | None:
    entry = role.targets.get(name)
    if entry is None or not any(name.startswith(p) for p in role.paths):
        return None
    where = role.envelope.role
    body = _obj(entry, where, f"target {name[:64]!r}")
    meta = _meta_file(body, where, f"target {name[:64]!r}")
    return VerifiedTarget(name, meta.sha256_hex, meta.length, where, role.envelope.expires)


# ------------------------------------------------------------------------------------ trusted set


def _gun_matches(cn: str, gun: str) -> bool:
    if cn.endswith("*"):
        return gun.startswith(cn[:-1])
    return cn == gun


class NotaryTrustedSet:
    """The verified state of one GUN, built role by role in notary's order.

    `root` is the trusted root (a pin or the first root seen, TOFU); it must be signed by its own
    root threshold of certificates naming `gun`. `known_versions` are the last versions trusted
    earlier (rollback protection); `root_key_pins` (base64 SPKI) restrict the acceptable root keys
    the way Connaisseur pins them.
    """

    def __init__(self, root: bytes, gun: str, now: dt.datetime, *,
                 known_versions: Mapping[str, int] | None = None,
                 root_key_pins: Collection[str] = (),
                 max_sizes: Mapping[str, int] | None = None,
                 max_role_size: int = DEFAULT_MAX_ROLE_SIZE) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.gun = gun
        self.now = now.astimezone(dt.UTC)
        self.known_versions: dict[str, int] = dict(known_versions or {})
        self.root_key_pins = frozenset(root_key_pins)
        self.max_sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
        self.max_role_size = max_role_size
        _check_size(ROOT, root, self.max_sizes[ROOT])
        parsed = parse_root(root)
        _check_version(ROOT, parsed.version, self.known_versions)
        # The starting root is trusted input: its certificates' dates are checked only once it is
        # the final root (update_timestamp), so that an old pin can still authorise a rotation.
        self._verify_root_self(parsed, check_dates=False)
        self.root = parsed
        self.timestamp: Envelope | None = None
        self.snapshot: Envelope | None = None
        self.snapshot_meta: dict[str, MetaFile] = {}
        self.targets: dict[str, Targets] = {}
        self.loaded_raw: dict[str, bytes] = {ROOT: root}
        self._snapshot_entry: MetaFile | None = None

    # ------------------------------------------------------------ root

    def _usable_root_keys(self, root: Root, check_dates: bool,
                          role: str = ROOT) -> dict[str, PublicKey]:
        usable: dict[str, PublicKey] = {}
        reasons: list[str] = []
        cn_mismatch: list[str] = []
        for keyid in root.roles[ROOT].keyids:
            key = root.keys[keyid]
            if key.problem:
                reasons.append(key.problem)
                continue
            cert = key.certificate
            if cert is None:
                reasons.append(f"root key {keyid[:16]} is not an X.509 certificate")
                continue
            if _is_ca(cert):
                reasons.append(f"root key {keyid[:16]} is a CA certificate, not a leaf")
                continue
            names = _cert_names(cert)
            if not any(_gun_matches(cn, self.gun) for cn in names):
                cn_mismatch.append(names[0] if names else "")
                continue
            problem = self._certificate_problem(cert, check_dates)
            if problem:
                reasons.append(f"root key {keyid[:16]}: {problem}")
                continue
            if self.root_key_pins and key.spki_b64 not in self.root_key_pins:
                reasons.append(f"root key {keyid[:16]} is not a pinned key")
                continue
            usable[keyid] = key
        if usable:
            return usable
        if self.root_key_pins and any("pinned" in r for r in reasons):
            raise RootChanged(role, "no root key matches the pinned root key(s)")
        if cn_mismatch and not reasons:
            raise GunMismatch(role, f"root certificate CN {cn_mismatch[0]!r} does not match GUN "
                                    f"{self.gun!r}")
        detail = "; ".join(reasons + [f"CN {cn!r} does not match GUN {self.gun!r}"
                                      for cn in cn_mismatch])
        raise InvalidCertificate(role, f"unable to retrieve valid leaf certificates: {detail}")

    def _certificate_problem(self, cert: x509.Certificate, check_dates: bool) -> str | None:
        try:
            algorithm = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            algorithm = None
        if isinstance(algorithm, hashes.SHA1):
            return "certificate is signed with SHA-1"
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
            return f"certificate RSA key has {key.key_size} bits"
        before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
        if before > after:
            return "certificate notBefore is after notAfter"
        if check_dates:
            if self.now + dt.timedelta(days=1) < before:
                return f"certificate is not valid before {before.isoformat()}"
            if self.now > after:
                return f"certificate expired at {after.isoformat()}"
        return None

    def _verify_root_self(self, root: Root, check_dates: bool) -> None:
        keys = self._usable_root_keys(root, check_dates)
        verify_threshold(root.envelope, keys, tuple(keys), root.roles[ROOT].threshold)

    def update_root(self, data: bytes) -> None:
        """Accept a newer root signed by the current root's threshold and by its own."""
        if self.timestamp is not None:
            raise StateError(ROOT, "the root cannot change after the timestamp was loaded")
        _check_size(ROOT, data, self.max_sizes[ROOT])
        new = parse_root(data)
        if new.version < self.root.version:
            raise Rollback(ROOT, f"version {new.version} is older than the trusted version "
                                 f"{self.root.version}")
        _check_version(ROOT, new.version, self.known_versions)
        # The previous root's certificates may have expired meanwhile; their CN must still match.
        old_keys = self._usable_root_keys(self.root, check_dates=False)
        verify_threshold(new.envelope, old_keys, tuple(old_keys),
                         self.root.roles[ROOT].threshold,
                         role=f"root v{new.version} (by root v{self.root.version} keys)")
        self._verify_root_self(new, check_dates=True)
        self.root = new
        self.loaded_raw[ROOT] = data

    def rotate_root(self, newest: bytes, fetch_version: Callable[[int], bytes]) -> None:
        """Move from the trusted root to `newest`, walking `<v>.root.json` if needed.

        A newest root that no valid chain reaches is RootChanged (a recreated repository, or an
        attacker's), except a lower version, which is Rollback.
        """
        if newest == self.loaded_raw[ROOT]:
            return
        try:
            self.update_root(newest)
            return
        except (BadSignature, GunMismatch, InvalidCertificate, RootChanged) as error:
            direct = error
        newest_version = parse_root(newest).version
        start = self.root.version
        if newest_version - start > MAX_ROOT_ROTATIONS:
            raise RootChanged(ROOT, f"refusing to walk {newest_version - start} root versions")
        try:
            for version in range(start + 1, newest_version):
                self.update_root(fetch_version(version))
            self.update_root(newest)
        except (BadSignature, GunMismatch, InvalidCertificate, RootChanged,
                NoTrustData) as error:
            raise RootChanged(ROOT, f"root v{newest_version} differs from the trusted root "
                                    f"v{start} and no valid rotation leads to it ({direct.reason}; "
                                    f"walking versions: {error})") from None

    # ------------------------------------------------------------ top-level roles

    def _role_keys(self, role: str) -> tuple[dict[str, PublicKey], RoleKeys]:
        spec = self.root.roles[role]
        return {k: self.root.keys[k] for k in spec.keyids}, spec

    def update_timestamp(self, data: bytes) -> None:
        if self.timestamp is not None:
            raise StateError(TIMESTAMP, "already loaded")
        _check_expiry(self.root.envelope, self.now)
        # The final root's certificates must be time-valid now (the starting one was not checked).
        self._usable_root_keys(self.root, check_dates=True)
        _check_size(TIMESTAMP, data, self.max_sizes[TIMESTAMP])
        envelope = parse_envelope(TIMESTAMP, data, "Timestamp")
        keys, spec = self._role_keys(TIMESTAMP)
        verify_threshold(envelope, keys, spec.keyids, spec.threshold)
        _check_version(TIMESTAMP, envelope.version, self.known_versions)
        _check_expiry(envelope, self.now)
        meta = _obj(envelope.signed.get("meta"), TIMESTAMP, "meta")
        self._snapshot_entry = _meta_file(meta.get(SNAPSHOT), TIMESTAMP, "meta.snapshot")
        self.timestamp = envelope
        self.loaded_raw[TIMESTAMP] = data

    @property
    def snapshot_entry(self) -> MetaFile:
        """The timestamp's hash/length of the snapshot."""
        if self._snapshot_entry is None:
            raise StateError(TIMESTAMP, "not loaded")
        return self._snapshot_entry

    def update_snapshot(self, data: bytes) -> None:
        if self.timestamp is None or self.snapshot is not None:
            raise StateError(SNAPSHOT, "needs a timestamp and must be loaded once")
        _check_size(SNAPSHOT, data, self.max_role_size)
        check_meta(SNAPSHOT, data, self.snapshot_entry, TIMESTAMP)
        envelope = parse_envelope(SNAPSHOT, data, "Snapshot")
        keys, spec = self._role_keys(SNAPSHOT)
        verify_threshold(envelope, keys, spec.keyids, spec.threshold)
        _check_version(SNAPSHOT, envelope.version, self.known_versions)
        _check_expiry(envelope, self.now)
        meta = _obj(envelope.signed.get("meta"), SNAPSHOT, "meta")
        entries = {name: _meta_file(value, SNAPSHOT, f"meta.{name}")
                   for name, value in meta.items()}
        for required in (ROOT, TARGETS):
            if required not in entries:
                raise MalformedMetadata(SNAPSHOT, f"meta has no entry for {required}")
        # Ties the root to this snapshot: an old or foreign root cannot be mixed in.
        # Notary checks only the root's hash here (its length was never known when fetching).
        check_meta(ROOT, self.loaded_raw[ROOT], entries[ROOT], SNAPSHOT, check_length=False)
        self.snapshot = envelope
        self.snapshot_meta = entries
        self.loaded_raw[SNAPSHOT] = data

    def update_targets(self, data: bytes) -> None:
        self.update_delegation(TARGETS, data)

    def expected(self, role: str) -> MetaFile | None:
        """The snapshot's entry for a role (None: never published, skip it)."""
        if self.snapshot is None:
            raise StateError(role, "the snapshot is not loaded")
        return self.snapshot_meta.get(role)

    def delegation(self, role: str) -> Delegation | None:
        parent = self.targets.get(role.rsplit("/", 1)[0])
        return parent.delegations.get(role) if parent else None

    def update_delegation(self, role: str, data: bytes) -> None:
        """Load `targets` or a delegation whose parent is loaded and which snapshot lists."""
        if role in self.targets:
            raise StateError(role, "already loaded")
        meta = self.expected(role)
        if meta is None:
            raise StateError(role, "not listed in the snapshot")
        _check_size(role, data, self.max_role_size)
        check_meta(role, data, meta, SNAPSHOT)
        envelope = parse_envelope(role, data, "Targets")
        paths: tuple[str, ...]
        if role == TARGETS:
            keys, spec = self._role_keys(TARGETS)
            keyids, threshold, paths = spec.keyids, spec.threshold, ("",)
        else:
            definition = self.delegation(role)
            if definition is None:
                raise StateError(role, "its parent is not loaded or does not define it")
            parent = self.targets[role.rsplit("/", 1)[0]]
            keys = {k: parent.keys[k] for k in definition.keyids}
            keyids, threshold, paths = definition.keyids, definition.threshold, definition.paths
        verify_threshold(envelope, keys, keyids, threshold)
        _check_version(role, envelope.version, self.known_versions)
        _check_expiry(envelope, self.now)
        self.targets[role] = parse_targets(role, data, paths)
        self.loaded_raw[role] = data

    # ------------------------------------------------------------ results

    def roles_to_load(self, roles: Iterable[str] = (RELEASES,)) -> list[str]:
        """Delegations among `roles` that targets defines and snapshot lists (i.e. published)."""
        wanted = []
        for role in roles:
            if role in self.targets:
                continue
            if self.delegation(role) is not None and self.expected(role) is not None:
                wanted.append(role)
        return wanted

    def find_target(self, tag: str) -> VerifiedTarget:
        """Docker's answer: `targets/releases` first, then `targets`; nothing else counts."""
        if TARGETS not in self.targets:
            raise StateError(TARGETS, "not loaded")
        for role in self.roles_to_load(DOCKER_ROLE_ORDER):
            raise StateError(role, "published but not loaded before the lookup")
        for role in DOCKER_ROLE_ORDER:
            loaded = self.targets.get(role)
            hit = _target(loaded, tag) if loaded else None
            if hit:
                return hit
        elsewhere = [hit.role for hit in self.signed_everywhere(tag)]
        note = f" (signed only in {', '.join(elsewhere)}, which Docker ignores)" if elsewhere else ""
        raise UnknownTarget(TARGETS, f"no trust data for tag {tag!r} in targets/releases or "
                                     f"targets{note}")

    def signed_everywhere(self, tag: str) -> list[VerifiedTarget]:
        """Every loaded role's entry for the tag (for inspection; Docker uses find_target)."""
        hits = [_target(t, tag) for t in self.targets.values()]
        return [hit for hit in hits if hit is not None]

    def versions(self) -> dict[str, int]:
        """Versions to persist as `known_versions` for the next run (never lowered)."""
        current = {ROOT: self.root.version}
        if self.timestamp:
            current[TIMESTAMP] = self.timestamp.version
        if self.snapshot:
            current[SNAPSHOT] = self.snapshot.version
        for name, role in self.targets.items():
            current[name] = role.envelope.version
        merged = dict(self.known_versions)
        for name, version in current.items():
            merged[name] = max(version, merged.get(name, 0))
        return merged


def check_manifest(target: VerifiedTarget, manifest_digest: str, manifest_size: int) -> None:
    """The registry's manifest must be exactly the signed one (digest and byte size)."""
    if not hmac.compare_digest(manifest_digest.lower(), target.digest):
        raise HashMismatch(target.role, f"tag {target.name!r} is signed as {target.digest}, but "
                                        f"the registry serves {manifest_digest}")
    if manifest_size != target.length:
        raise LengthMismatch(target.role, f"tag {target.name!r} is signed with length "
                                          f"{target.length}, but the registry serves "
                                          f"{manifest_size} bytes")


# ------------------------------------------------------------------------------------ driver

# fetch(name, consistent_sha256_hex_or_None, max_bytes) -> raw bytes. It raises NoTrustData for a
# missing file and MetadataTooLarge when the body is longer than max_bytes.
Fetch = Callable[[str, "str | None", int], bytes]


def load_trusted_set(fetch: Fetch, gun: str, now: dt.datetime, *,
                     trusted_root: bytes | None = None,
                     known_versions: Mapping[str, int] | None = None,
                     root_key_pins: Collection[str] = (),
                     delegations: Iterable[str] = (RELEASES,),
                     max_sizes: Mapping[str, int] | None = None) -> NotaryTrustedSet:
    """Fetch and verify root → timestamp → snapshot → targets → the wanted delegations.

    Without `trusted_root` the fetched root is trusted on first use. A delegation that snapshot
    lists but the source cannot supply is an error, as in notary.
    """
    sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
    newest = fetch(ROOT, None, sizes[ROOT])
    trusted = NotaryTrustedSet(trusted_root if trusted_root is not None else newest, gun, now,
                               known_versions=known_versions, root_key_pins=root_key_pins,
                               max_sizes=sizes)
    trusted.rotate_root(newest, lambda v: fetch(f"{v}.{ROOT}", None, sizes[ROOT]))
    trusted.update_timestamp(fetch(TIMESTAMP, None, sizes[TIMESTAMP]))
    entry = trusted.snapshot_entry
    trusted.update_snapshot(fetch(SNAPSHOT, entry.sha256_hex, entry.length))
    pending = [TARGETS]
    wanted = set(delegations)
    while pending:
        role = pending.pop(0)
        meta = trusted.expected(role)
        if meta is None:
            raise MalformedMetadata(SNAPSHOT, f"meta has no entry for {role}")
        trusted.update_delegation(role, fetch(role, meta.sha256_hex, meta.length))
        pending.extend(trusted.roles_to_load(sorted(r for r in wanted
                                                    if r.rsplit("/", 1)[0] == role)))
    return trusted
