"""Transparency-log entries of key-based ("managed key") Sigstore bundles, pure.

sigstore-python verifies log entries only in bundles with a certificate; a bundle signed with a
key (`verificationMaterial.publicKey`) is checked here, against the logs of the authority's
`trusted_root.json` (Rekor v1, `dsse/0.0.1` entries, as cosign and sigstore-go write them):

* the entry's log is one of the trusted root's, and was valid at the entry's integration time;
* the entry's body is this bundle: the payload's SHA-256, the envelope's signatures, and the
  trusted key that verified them as the entry's verifier;
* the Merkle inclusion proof (RFC 9162) leads from the body to the root hash, which the log's
  signed checkpoint (a signed note) states for the same tree size;
* the inclusion promise (SET) signs the body, integration time, log ID and index: the
  integration time is what the moment of verification (`--at`) bounds.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lkpolicy.stages.trust.cosign.signatures import CosignPublicKey, load_public_key
from lkpolicy.stages.trust.errors import LogEntryInvalid

MAX_PROOF_HASHES = 64
MAX_BODY_BYTES = 1024 * 1024
CLOCK_SKEW = dt.timedelta(minutes=1)
_EM_DASH = "\u2014 "


@dataclass(frozen=True, slots=True)
class LogKey:
    """A transparency log of the trusted root: its ID (SHA-256 of its key) and key."""

    log_id: bytes
    key: CosignPublicKey
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def valid_at(self, when: dt.datetime) -> bool:
        return (self.start is None or self.start <= when) and (self.end is None or when <= self.end)


@dataclass(frozen=True, slots=True)
class LoggedAt:
    log_index: int
    integrated_time: dt.datetime


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def log_keys(trusted_root: Any) -> list[LogKey]:
    """The `tlogs` of a parsed trusted root; ValueError when one is unusable."""
    logs = trusted_root.get("tlogs") if isinstance(trusted_root, dict) else None
    if logs is None:
        return []
    if not isinstance(logs, list):
        raise ValueError("`tlogs` is not a list")
    keys = []
    for index, log in enumerate(logs):
        try:
            public = log["publicKey"]
            der = base64.b64decode(public["rawBytes"], validate=True)
            log_id = base64.b64decode(log["logId"]["keyId"], validate=True)
            body = base64.encodebytes(der).decode("ascii")
            pem = f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n".encode()
            valid = public.get("validFor") or {}
            keys.append(LogKey(log_id, load_public_key(pem), _time(valid.get("start")),
                               _time(valid.get("end"))))
        except (KeyError, TypeError, AttributeError, binascii.Error, ValueError) as error:
            raise ValueError(f"transparency log {index} of the trusted root is unusable "
                             f"({type(error).__name__}: {str(error)[:120]})") from None
    return keys


class _Entry:
    """Reads one `tlogEntries` item, every field checked as it is read."""

    def __init__(self, raw: Any, image: str, source: str) -> None:
        if not isinstance(raw, dict):
            raise self.error(image, source, "the entry is not an object")
        self.raw, self.image, self.source = raw, image, source

    @staticmethod
    def error(image: str, source: str, reason: str) -> LogEntryInvalid:
        return LogEntryInvalid(image, f"{source}: transparency-log entry: {reason}")

    def fail(self, reason: str) -> LogEntryInvalid:
        return self.error(self.image, self.source, reason)

    def field(self, *path: str) -> Any:
        value: Any = self.raw
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            raise self.fail(f"`{'.'.join(path)}` is missing")
        return value

    def number(self, *path: str) -> int:
        value = self.field(*path)
        if isinstance(value, bool) or not isinstance(value, (int, str)) \
                or not str(value).isdigit() or len(str(value)) > 19:
            raise self.fail(f"`{'.'.join(path)}` is not a number")
        return int(value)

    def b64(self, value: Any, what: str) -> bytes:
        if not isinstance(value, str):
            raise self.fail(f"{what} is not a string")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(f"{what} is not base64") from None


def verify_bundle_log(bundle: dict[str, Any], logs: Sequence[LogKey], *, key_id: str,
                      image: str, source: str, not_after: dt.datetime | None = None) -> LoggedAt:
    """The log entry of a key-based DSSE bundle whose envelope verified with the key `key_id`
    (`sha256:` of its SPKI); LogEntryInvalid."""
    envelope = bundle.get("dsseEnvelope")
    material = bundle.get("verificationMaterial")
    entry = _Entry(envelope, image, source)
    payload = entry.b64(entry.field("payload"), "the DSSE payload")
    items = entry.field("signatures")
    if not isinstance(items, list):
        raise entry.fail("the DSSE signatures are not a list")
    signatures = [entry.b64(item.get("sig") if isinstance(item, dict) else None,
                            "a DSSE signature") for item in items[:16]]
    entries = material.get("tlogEntries") if isinstance(material, dict) else None
    return verify_log_entry(entries, logs, payload=payload, signatures=signatures,
                            key_id=key_id, image=image, source=source, not_after=not_after)


def verify_log_entry(entries: Any, logs: Sequence[LogKey], *, payload: bytes,
                     signatures: Sequence[bytes], key_id: str, image: str,
                     source: str, not_after: dt.datetime | None = None) -> LoggedAt:
    """The bundle's one entry, checked against the trusted logs; LogEntryInvalid."""
    if not isinstance(entries, list) or len(entries) != 1:
        count = len(entries) if isinstance(entries, list) else 0
        raise _Entry.error(image, source, f"the bundle has {count} entries; a log is trusted, so "
                                          f"exactly one is required")
    entry = _Entry(entries[0], image, source)
    log_id = entry.b64(entry.field("logId", "keyId"), "logId")
    log = next((key for key in logs if key.log_id == log_id), None)
    if log is None:
        raise entry.fail(f"log {log_id.hex()[:16]} is not a log of the trusted root")
    kind = (entry.field("kindVersion", "kind"), entry.field("kindVersion", "version"))
    if kind != ("dsse", "0.0.1"):
        raise entry.fail(f"kind {str(kind[0])[:40]}/{str(kind[1])[:20]} is not supported "
                         f"(dsse/0.0.1)")
    body = entry.b64(entry.field("canonicalizedBody"), "canonicalizedBody")
    _check_body(entry, body, payload, signatures, key_id)
    index = entry.number("logIndex")
    _check_inclusion(entry, log, body)
    integrated = entry.number("integratedTime")
    promise = entry.b64(entry.field("inclusionPromise", "signedEntryTimestamp"), "the SET")
    signed = json.dumps({"body": base64.b64encode(body).decode("ascii"),
                         "integratedTime": integrated, "logID": log_id.hex(),
                         "logIndex": index}, sort_keys=True, separators=(",", ":")).encode()
    if not log.key.verify(signed, promise):
        raise entry.fail("the inclusion promise (SET) does not verify with the log's key")
    when = dt.datetime.fromtimestamp(integrated, dt.UTC)
    if not log.valid_at(when):
        raise entry.fail(f"the log's key was not valid at the integration time "
                         f"{when:%Y-%m-%dT%H:%M:%SZ}")
    if not_after is not None and when > not_after + CLOCK_SKEW:
        raise entry.fail(f"the log recorded the signature at {when:%Y-%m-%dT%H:%M:%SZ}, after "
                         f"the time of verification {not_after:%Y-%m-%dT%H:%M:%SZ}")
    return LoggedAt(index, when)


def _check_body(entry: _Entry, body: bytes, payload: bytes, signatures: Sequence[bytes],
                key_id: str) -> None:
    """The entry records this payload, these signatures, and the key that verified them."""
    from lkpolicy.safeio import UntrustedInput, parse_json, unique_keys

    if len(body) > MAX_BODY_BYTES:
        raise entry.fail(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = parse_json(body, "the entry's body", object_pairs_hook=unique_keys)
    except UntrustedInput as error:
        raise entry.fail(str(error)) from None
    spec = document.get("spec") if isinstance(document, dict) else None
    if not isinstance(spec, dict) or document.get("kind") != "dsse" \
            or document.get("apiVersion") != "0.0.1":
        raise entry.fail("the body is not a dsse/0.0.1 entry")
    recorded = spec.get("payloadHash")
    if not isinstance(recorded, dict) or recorded.get("algorithm") != "sha256" \
            or recorded.get("value") != hashlib.sha256(payload).hexdigest():
        raise entry.fail("the entry records another payload than the bundle's")
    logged = spec.get("signatures")
    if not isinstance(logged, list) or not logged or len(logged) > 16:
        raise entry.fail("the entry records no signatures")
    seen = set()
    for item in logged:
        if not isinstance(item, dict):
            raise entry.fail("a recorded signature is not an object")
        seen.add(entry.b64(item.get("signature"), "a recorded signature"))
        verifier = entry.b64(item.get("verifier"), "a recorded verifier")
        try:
            key = load_public_key(verifier)
        except ValueError:
            raise entry.fail("a recorded verifier is not a PEM public key") from None
        if key.key_id != key_id:
            raise entry.fail(f"the entry names the key {key.key_id[:19]}, not the trusted "
                             f"{key_id[:19]} that verified the bundle")
    if seen != set(signatures):
        raise entry.fail("the entry records other signatures than the bundle's")


def _check_inclusion(entry: _Entry, log: LogKey, body: bytes) -> None:
    """RFC 9162 2.1.3.2, and the checkpoint that signs the root for the tree size. The proof's
    index is the entry's place in its tree (a shard), not the log's global `logIndex`."""
    proof_index = entry.number("inclusionProof", "logIndex")
    size = entry.number("inclusionProof", "treeSize")
    root = entry.b64(entry.field("inclusionProof", "rootHash"), "rootHash")
    hashes = entry.field("inclusionProof", "hashes")
    if not isinstance(hashes, list) or len(hashes) > MAX_PROOF_HASHES:
        raise entry.fail("the inclusion proof's hashes are not a short list")
    path = [entry.b64(item, "a proof hash") for item in hashes]
    if proof_index >= size:
        raise entry.fail("the inclusion proof's index is outside its tree")
    computed = merkle_root(hashlib.sha256(b"\x00" + body).digest(), proof_index, size, path)
    if computed is None or computed != root:
        raise entry.fail("the inclusion proof does not lead to its root hash")
    envelope = entry.field("inclusionProof", "checkpoint", "envelope")
    if not isinstance(envelope, str):
        raise entry.fail("the checkpoint is not text")
    _check_checkpoint(entry, log, envelope, size, root)


def merkle_root(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (None: the proof has the wrong length)."""
    node, last, result = index, size - 1, leaf
    for sibling in path:
        if last == 0:
            return None
        if node & 1 or node == last:
            result = hashlib.sha256(b"\x01" + sibling + result).digest()
            if not node & 1:
                while node and not node & 1:
                    node, last = node >> 1, last >> 1
        else:
            result = hashlib.sha256(b"\x01" + result + sibling).digest()
        node, last = node >> 1, last >> 1
    return result if last == 0 else None


def _check_checkpoint(entry: _Entry, log: LogKey, envelope: str, size: int, root: bytes) -> None:
    """A signed note: `origin\\nsize\\nroot\\n[other lines]\\n\\n— name b64(hint+sig)\\n`."""
    text, separator, signature_lines = envelope.partition("\n\n")
    if not separator or len(envelope) > 64 * 1024:
        raise entry.fail("the checkpoint is not a signed note")
    lines = text.split("\n")
    if len(lines) < 3 or lines[1] != str(size) or lines[2] != base64.b64encode(root).decode():
        raise entry.fail("the checkpoint signs another tree size or root hash than the proof's")
    note = (text + "\n").encode("utf-8")
    for line in signature_lines.split("\n")[:16]:
        if not line.startswith(_EM_DASH):
            continue
        _name, _, encoded = line[len(_EM_DASH):].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if raw[:4] == log.log_id[:4] and log.key.verify(note, raw[4:]):
            return
    raise entry.fail("the checkpoint is not signed by the log's key")
