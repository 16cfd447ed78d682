"""Notary keys: key IDs, public keys and their signatures, and which root certificates count.

A key listed in metadata is parsed once into a `PublicKey`; a key that cannot be used (wrong ID,
unknown type, weak RSA, unparsable) keeps the reason in `problem` and never counts towards a
threshold. Root keys are X.509 leaf certificates whose CN names the GUN (`usable_root_keys`).

`cryptography` is imported by the functions that use it: importing the verifier (every check
whose policy names a notary authority) costs nothing until a key is parsed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lkpolicy.stages.trust.canonical import encode_canonical_parsed
from lkpolicy.stages.trust.errors import (
    GunMismatch,
    InvalidCertificate,
    MalformedMetadata,
    RootChanged,
    key_error_reason,
)
from lkpolicy.stages.trust.notary.fields import object_field

if TYPE_CHECKING:
    from cryptography import x509

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
        from cryptography.hazmat.primitives import serialization

        if self.crypto is None:
            return None
        der = self.crypto.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode("ascii")

    def verify(self, method: str, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

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
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    body = object_field(raw, role, f"key {listed_id[:16]}")
    keytype = body.get("keytype")
    keyval = object_field(body.get("keyval"), role, f"keyval of key {listed_id[:16]}")
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
        return unusable(f"key {listed_id[:16]} cannot be loaded: {key_error_reason(error)}")
    family = keytype.split("-", 1)[0]
    if family == "ecdsa" and not isinstance(crypto, ec.EllipticCurvePublicKey):
        return unusable(f"key {listed_id[:16]} of type {keytype} is not an EC key")
    if family == "rsa":
        if not isinstance(crypto, rsa.RSAPublicKey):
            return unusable(f"key {listed_id[:16]} of type {keytype} is not an RSA key")
        if crypto.key_size < _MIN_RSA_BITS:
            return unusable(f"RSA key {listed_id[:16]} has {crypto.key_size} bits (< 2048)")
    return PublicKey(listed_id, keytype, public, key_id, crypto, certificate)


def parse_keys(raw: object, role: str) -> dict[str, PublicKey]:
    """A metadata `keys` object: key ID -> key (unusable keys included, with their problem)."""
    return {kid: parse_key(kid, value, role)
            for kid, value in object_field(raw, role, "keys").items()}


# ------------------------------------------------------------------------------------ root keys


def _common_names(cert: x509.Certificate) -> list[str]:
    from cryptography.x509.oid import NameOID

    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _is_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _gun_matches(cn: str, gun: str) -> bool:
    if cn.endswith("*"):
        return gun.startswith(cn[:-1])
    return cn == gun


def _certificate_problem(cert: x509.Certificate, now: dt.datetime | None) -> str | None:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

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
    if now is not None:
        if now + dt.timedelta(days=1) < before:
            return f"certificate is not valid before {before.isoformat()}"
        if now > after:
            return f"certificate expired at {after.isoformat()}"
    return None


@dataclass(frozen=True)
class RootPins:
    """Root keys a policy pins: base64 SPKI public keys (as Connaisseur pins them) and notary
    certificate key IDs (as `trust_pinning.certs` pins them: the key IDs in root.json).

    `replace`: a pinned key is trusted on its own, without notary's certificate rules (leaf,
    CN = GUN, dates, algorithms); otherwise (the default) pins only narrow those rules."""

    keys: frozenset[str] = frozenset()
    cert_ids: frozenset[str] = frozenset()
    replace: bool = False

    def __bool__(self) -> bool:
        return bool(self.keys or self.cert_ids)

    def matches(self, key: PublicKey) -> bool:
        return key.key_id in self.cert_ids or (key.spki_b64 or "") in self.keys


NO_PINS = RootPins()


def usable_root_keys(keyids: Collection[str], keys: Mapping[str, PublicKey], gun: str, *,
                     now: dt.datetime | None, pins: RootPins = NO_PINS,
                     role: str = "root") -> dict[str, PublicKey]:
    """The root role's keys that may sign: leaf certificates naming `gun`, valid at `now` (None:
    dates not checked), and pinned when `pins` names any; with `pins.replace`, exactly the
    pinned keys. None usable raises RootChanged (no pinned key), GunMismatch (only CN
    mismatches) or InvalidCertificate."""
    usable: dict[str, PublicKey] = {}
    reasons: list[str] = []
    cn_mismatch: list[str] = []
    for keyid in keyids:
        key = keys[keyid]
        if key.problem:
            reasons.append(key.problem)
            continue
        if pins.replace and pins:
            if pins.matches(key):
                usable[keyid] = key
            else:
                reasons.append(f"root key {keyid[:16]} is not a pinned key")
            continue
        problem = _certificate_rules(key, gun, now)
        if problem == _CN_MISMATCH:
            assert key.certificate is not None
            cn_mismatch.append(next(iter(_common_names(key.certificate)), ""))
            continue
        if problem:
            reasons.append(problem)
            continue
        if pins and not pins.matches(key):
            reasons.append(f"root key {keyid[:16]} is not a pinned key")
            continue
        usable[keyid] = key
    if usable:
        return usable
    if pins and any("pinned" in r for r in reasons):
        raise RootChanged(role, "no root key matches the pinned root key(s)")
    if cn_mismatch and not reasons:
        raise GunMismatch(role, f"root certificate CN {cn_mismatch[0]!r} does not match GUN "
                                f"{gun!r}")
    detail = "; ".join(reasons + [f"CN {cn!r} does not match GUN {gun!r}" for cn in cn_mismatch])
    raise InvalidCertificate(role, f"unable to retrieve valid leaf certificates: {detail}")


_CN_MISMATCH = "CN mismatch"


def _certificate_rules(key: PublicKey, gun: str, now: dt.datetime | None) -> str | None:
    """Why notary's certificate rules refuse a root key (`_CN_MISMATCH` for the CN alone)."""
    cert = key.certificate
    if cert is None:
        return f"root key {key.listed_id[:16]} is not an X.509 certificate"
    if _is_ca(cert):
        return f"root key {key.listed_id[:16]} is a CA certificate, not a leaf"
    if not any(_gun_matches(cn, gun) for cn in _common_names(cert)):
        return _CN_MISMATCH
    problem = _certificate_problem(cert, now)
    return f"root key {key.listed_id[:16]}: {problem}" if problem else None
