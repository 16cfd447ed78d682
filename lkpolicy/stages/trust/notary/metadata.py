"""Notary metadata: the signed envelope of every role, its signatures, and the roles' content.

Parsing never trusts: `parse_envelope` checks the shape and `_type` of a role, `verify_threshold`
its signatures against the keys a parent role lists, `check_meta` its raw bytes against the
hashes and length the parent recorded. The role objects (`Root`, `Targets`) are what the trusted
set keeps once a role passed all of that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lkpolicy.stages.trust.canonical import encode_canonical_parsed, loads_strict
from lkpolicy.stages.trust.errors import (
    BadSignature,
    CanonicalJSONError,
    ExpiredMetadata,
    HashMismatch,
    LengthMismatch,
    MalformedMetadata,
    Rollback,
    ThresholdNotMet,
    UnknownKey,
)
from lkpolicy.stages.trust.notary.fields import (
    base64_field,
    int_field,
    object_field,
    parse_time,
    str_list_field,
)
from lkpolicy.stages.trust.notary.keys import PublicKey, parse_keys

ROOT = "root"
TARGETS = "targets"
SNAPSHOT = "snapshot"
TIMESTAMP = "timestamp"
RELEASES = "targets/releases"
TOP_LEVEL_ROLES = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
# Docker accepts a tag only from these roles, in this order (cli/command/image/trust.go).
DOCKER_ROLE_ORDER = (RELEASES, TARGETS)

_HASH_SIZES = {"sha256": 32, "sha512": 64}
_ROLE_NAME = re.compile(r"^targets(/[A-Za-z0-9_.\-]+)+$")


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
    document = object_field(document, role, "the document")
    signed = object_field(document.get("signed"), role, "signed")
    raw_sigs = document.get("signatures")
    if not isinstance(raw_sigs, list):
        raise MalformedMetadata(role, "signatures is not a list")
    signatures = []
    for entry in raw_sigs:
        entry = object_field(entry, role, "a signature")
        keyid, method = entry.get("keyid"), entry.get("method")
        if not isinstance(keyid, str) or not isinstance(method, str):
            raise MalformedMetadata(role, "a signature lacks keyid or method")
        signatures.append((keyid, method.lower(), base64_field(entry.get("sig"), role, "sig")))
    if signed.get("_type") != expected_type:
        raise MalformedMetadata(role, f"_type is {signed.get('_type')!r}, expected "
                                      f"{expected_type!r}")
    version = int_field(signed.get("version"), role, "version", 1)
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


def check_expiry(envelope: Envelope, now: dt.datetime, role: str | None = None) -> None:
    if envelope.expires < now:
        raise ExpiredMetadata(role or envelope.role,
                              f"expired at {envelope.expires.isoformat()} (now "
                              f"{now.isoformat()})")


def check_version(role: str, version: int, known: Mapping[str, int]) -> None:
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


def parse_meta_file(raw: object, role: str, what: str) -> MetaFile:
    body = object_field(raw, role, what)
    length = int_field(body.get("length"), role, f"{what} length")
    hashes: dict[str, bytes] = {}
    for alg, value in object_field(body.get("hashes"), role, f"{what} hashes").items():
        digest = base64_field(value, role, f"{what} {alg} hash")
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
    keys = parse_keys(envelope.signed.get("keys"), ROOT)
    raw_roles = object_field(envelope.signed.get("roles"), ROOT, "roles")
    roles: dict[str, RoleKeys] = {}
    for name in TOP_LEVEL_ROLES:
        body = object_field(raw_roles.get(name), ROOT, f"role {name}")
        keyids = str_list_field(body.get("keyids"), ROOT, f"{name} keyids")
        threshold = int_field(body.get("threshold"), ROOT, f"{name} threshold", 1)
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


@dataclass(frozen=True)
class Targets:
    envelope: Envelope
    targets: Mapping[str, Any]
    keys: Mapping[str, PublicKey]
    delegations: Mapping[str, Delegation]
    paths: tuple[str, ...]

    def target(self, name: str) -> VerifiedTarget | None:
        """This role's signed entry for `name`, if it has one within its delegated paths."""
        entry = self.targets.get(name)
        if entry is None or not any(name.startswith(p) for p in self.paths):
            return None
        where = self.envelope.role
        body = object_field(entry, where, f"target {name[:64]!r}")
        meta = parse_meta_file(body, where, f"target {name[:64]!r}")
        return VerifiedTarget(name, meta.sha256_hex, meta.length, where, self.envelope.expires)


def parse_targets(role: str, data: bytes, paths: tuple[str, ...] = ("",)) -> Targets:
    envelope = parse_envelope(role, data, "Targets")
    targets = object_field(envelope.signed.get("targets", {}), role, "targets")
    raw = envelope.signed.get("delegations")
    keys: dict[str, PublicKey] = {}
    delegations: dict[str, Delegation] = {}
    if raw is not None:
        raw = object_field(raw, role, "delegations")
        keys = parse_keys(raw.get("keys", {}), role)
        raw_roles = raw.get("roles", [])
        if not isinstance(raw_roles, list):
            raise MalformedMetadata(role, "delegations.roles is not a list")
        for entry in raw_roles:
            entry = object_field(entry, role, "a delegation")
            name = entry.get("name")
            if (not isinstance(name, str) or not _ROLE_NAME.match(name)
                    or name.rsplit("/", 1)[0] != role):
                raise MalformedMetadata(role, f"delegation {str(name)[:64]!r} is not a direct "
                                              f"child of {role}")
            keyids = str_list_field(entry.get("keyids"), role, f"{name} keyids")
            for keyid in keyids:
                if keyid not in keys:
                    raise MalformedMetadata(role, f"{name} lists key {keyid[:16]} that is not "
                                                  f"in delegations.keys")
            threshold = int_field(entry.get("threshold"), role, f"{name} threshold", 1)
            own = tuple(str_list_field(entry.get("paths", []), role, f"{name} paths"))
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
