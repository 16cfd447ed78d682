"""Keyless (Fulcio certificate + transparency log) verification of Sigstore bundles, offline.

sigstore-python does the cryptography: certificate chain at the log's integration time, SCT,
inclusion proof with signed checkpoint, inclusion promise, DSSE signature and the consistency of
the log entry with the bundle. This module adds what a security gate needs around it:

* the trust material comes only from a `trusted_root.json` FILE named by the user
  (`TrustedRoot.from_file`): never `Verifier.production()`, which refreshes over the network or
  copies the root embedded in the wheel into `~/.cache/sigstore-python` (see
  ../shared/spec/tuf-and-sigstore.md 4.2). Building a `Verifier` opens no connection;
* identity policy on the certificate: SAN and OIDC issuer, each exact or a regular expression
  (anchored, matched in linear time by `lkpolicy.linearregex`, unlike cosign's unanchored `--certificate-identity-regexp`);
* the bundle must be a cosign image signature: an in-toto statement in DSSE, predicate
  `https://sigstore.dev/cosign/sign/v1`, with a subject whose sha256 is the manifest digest.

sigstore is imported lazily (its import costs about half a second): importing this module, and
`lkpolicy.stages.trust.cosign`, never loads it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.linearregex import PatternError, compile_pattern
from lkpolicy.safeio import parse_json
from lkpolicy.stages.trust.errors import (
    BundleInvalid,
    DigestMismatch,
    IdentityMismatch,
    NotAnImageSignature,
    TrustedRootError,
)

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
IN_TOTO_STATEMENT_TYPES = frozenset({
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
})

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
OIDC_ISSUER_V1_OID = "1.3.6.1.4.1.57264.1.1"
"""Raw string value (deprecated, still written by Fulcio)."""
OIDC_ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"
"""DER UTF8String value."""
SIGSTORE_OTHERNAME_OID = "1.3.6.1.4.1.57264.1.7"

MAX_BUNDLE_BYTES = 1024 * 1024
CLOCK_SKEW = dt.timedelta(minutes=1)
"""How far the log's clock may run ahead of ours: a bundle verified right after signing, as
of "now", must not fail because the log's clock is a few seconds ahead."""


@dataclass(frozen=True)
class KeylessPolicy:
    """Who may sign, and the trust material to believe.

    Exactly one of `identity` / `identity_regex` (the certificate SAN: email, URI or Sigstore
    otherName) and exactly one of `issuer` / `issuer_regex` (the OIDC issuer extension) must be
    given, as cosign requires. Regular expressions must match the whole value.
    """

    trusted_root: Path
    identity: str | None = None
    identity_regex: str | None = None
    issuer: str | None = None
    issuer_regex: str | None = None
    not_after: dt.datetime | None = None
    """The moment of verification (`--at`): a signature the log recorded later (by more than
    `CLOCK_SKEW`) did not exist then and vouches for nothing. None: no bound."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "trusted_root", Path(self.trusted_root))
        if (self.identity is None) == (self.identity_regex is None):
            raise ValueError("keyless policy: give exactly one of identity and identity_regex")
        if (self.issuer is None) == (self.issuer_regex is None):
            raise ValueError("keyless policy: give exactly one of issuer and issuer_regex")
        for name in ("identity_regex", "issuer_regex"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    compile_pattern(pattern)
                except PatternError as error:
                    raise ValueError(f"keyless policy: {name} {pattern!r}: {error}") from None
        if self.identity == "" or self.issuer == "":
            raise ValueError("keyless policy: identity and issuer must not be empty")

    def describe(self) -> str:
        who = self.identity if self.identity is not None else f"/{self.identity_regex}/"
        issuer = self.issuer if self.issuer is not None else f"/{self.issuer_regex}/"
        return f"{who} via {issuer}"


@dataclass(frozen=True)
class KeylessResult:
    identity: str
    """The certificate SAN that satisfied the policy."""
    issuer: str
    log_index: int | None
    integrated_time: dt.datetime | None
    predicate_type: str


@dataclass(frozen=True, slots=True)
class VerifiedDsse:
    """A verified DSSE bundle: what it signs, and who signed it when."""

    payload_type: str
    payload: bytes
    identity: str
    issuer: str
    log_index: int | None
    integrated_time: dt.datetime | None


# ------------------------------------------------------------------------------------ certificate


def certificate_issuer(cert: Certificate) -> str | None:
    """The OIDC issuer Fulcio recorded: the V2 (DER UTF8String) extension, else the V1 one."""
    from cryptography import x509

    extensions = cert.extensions
    try:
        value = extensions.get_extension_for_oid(x509.ObjectIdentifier(OIDC_ISSUER_V2_OID)).value
    except x509.ExtensionNotFound:
        pass
    else:
        raw = getattr(value, "value", b"")
        decoded = _der_utf8string(raw)
        if decoded is not None:
            return decoded
    try:
        value = extensions.get_extension_for_oid(x509.ObjectIdentifier(OIDC_ISSUER_V1_OID)).value
    except x509.ExtensionNotFound:
        return None
    raw = getattr(value, "value", b"")
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _der_utf8string(raw: bytes) -> str | None:
    """Decode a DER UTF8String (tag 0x0c) without a general ASN.1 parser."""
    if len(raw) < 2 or raw[0] != 0x0C:
        return None
    length = raw[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(raw) < 2 + count:
            return None
        length = int.from_bytes(raw[2:2 + count], "big")
        offset = 2 + count
    if len(raw) != offset + length:
        return None
    try:
        return raw[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def certificate_identities(cert: Certificate) -> list[str]:
    """The SAN values an identity may match: emails, URIs and Sigstore otherNames."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(san.get_values_for_type(x509.RFC822Name))
    names.extend(san.get_values_for_type(x509.UniformResourceIdentifier))
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id.dotted_string == SIGSTORE_OTHERNAME_OID:
            decoded = _der_utf8string(other.value)
            names.append(decoded if decoded is not None else other.value.decode("utf-8", "replace"))
    return names


class IdentityPolicy:
    """A sigstore `VerificationPolicy` (the protocol is just `verify(cert)`), exact or regex.

    Used for every combination that involves a regular expression; records whether it was the
    policy (rather than the cryptography) that failed, so the caller can report WrongIdentity.
    """

    def __init__(self, policy: KeylessPolicy) -> None:
        self.policy = policy
        self.failed = False
        self.matched: tuple[str, str] | None = None

    def check(self, cert: Certificate) -> tuple[str, str]:
        """The (identity, issuer) that satisfy the policy; raises IdentityMismatch otherwise."""
        policy = self.policy
        issuer = certificate_issuer(cert)
        if issuer is None:
            raise IdentityMismatch("the certificate has no OIDC issuer extension")
        if policy.issuer is not None:
            issuer_ok = issuer == policy.issuer
        else:
            issuer_ok = compile_pattern(policy.issuer_regex or "").fullmatch(issuer)
        if not issuer_ok:
            expected = policy.issuer if policy.issuer is not None else f"/{policy.issuer_regex}/"
            raise IdentityMismatch(f"certificate issuer {issuer!r} does not match {expected}")
        names = certificate_identities(cert)
        for name in names:
            if policy.identity is not None:
                if name == policy.identity:
                    return name, issuer
            elif compile_pattern(policy.identity_regex or "").fullmatch(name):
                return name, issuer
        expected = policy.identity if policy.identity is not None else f"/{policy.identity_regex}/"
        shown = ", ".join(repr(n) for n in names[:4]) or "none"
        raise IdentityMismatch(f"certificate identity ({shown}) does not match {expected}")

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        try:
            self.matched = self.check(cert)
        except IdentityMismatch as error:
            self.failed = True
            raise VerificationError(error.reason) from None


class _RecordingPolicy:
    """Wraps sigstore's exact `Identity` policy to learn whether the policy itself failed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = False

    def verify(self, cert: Certificate) -> None:
        try:
            self.inner.verify(cert)
        except Exception:
            self.failed = True
            raise


# ------------------------------------------------------------------------------------ verifier


@dataclass
class KeylessVerifier:
    """Verifies cosign v3 image-signature bundles against one trusted root file and policy.

    The trusted root is loaded on first use (so that a policy can be built without touching the
    disk) and kept; instances are safe to share between threads.
    """

    policy: KeylessPolicy
    _verifier: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _load(self) -> Any:
        with self._lock:
            if self._verifier is not None:
                return self._verifier
            path = self.policy.trusted_root
            if not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise TrustedRootError(f"trusted root file {path} {what}")
            from sigstore.errors import Error as SigstoreError
            from sigstore.models import TrustedRoot
            from sigstore.verify import Verifier

            from lkpolicy.safeio import MAX_TRUST_FILE_BYTES, UntrustedInput, read_regular_file

            try:
                # Bounded and checked first: a FIFO or a huge file must not reach from_file.
                read_regular_file(path, MAX_TRUST_FILE_BYTES, "trusted root file")
                trusted_root = TrustedRoot.from_file(str(path))
                # Builds a Rekor client object but opens no connection (spec 4.2).
                self._verifier = Verifier(trusted_root=trusted_root)
            except OSError as error:
                raise TrustedRootError(f"cannot read trusted root file {path}: "
                                       f"{error.strerror or error}") from None
            except UntrustedInput as error:
                raise TrustedRootError(str(error)) from None
            except (SigstoreError, ValueError) as error:
                raise TrustedRootError(f"trusted root file {path} is not usable: "
                                       f"{_first_line(error)}") from None
            return self._verifier

    def check_trusted_root(self) -> None:
        """Load the trusted root now (a clear error before any registry traffic)."""
        self._load()

    def verify_bundle(self, bundle_json: bytes, manifest_digest: str) -> KeylessResult:
        """Verify one bundle for the manifest digest `sha256:<hex>`; raises a KeylessError."""
        verified = self.verify_dsse(bundle_json)
        predicate_type = check_cosign_statement(verified.payload_type, verified.payload,
                                                manifest_digest)
        return KeylessResult(identity=verified.identity, issuer=verified.issuer,
                             log_index=verified.log_index,
                             integrated_time=verified.integrated_time,
                             predicate_type=predicate_type)

    def verify_dsse(self, bundle_json: bytes) -> VerifiedDsse:
        """Verify a DSSE bundle (certificate, log entry, signature, identity policy, the moment
        of verification) and return what it signs, whatever the statement says; raises a
        KeylessError."""
        verifier, bundle = self._parse(bundle_json)
        if bundle._dsse_envelope is None:
            raise NotAnImageSignature("the bundle signs a message, not a DSSE in-toto statement "
                                      "(cosign image signatures are DSSE)")
        payload_type, payload = self._checked(
            lambda policy: verifier.verify_dsse(bundle, policy))
        result = self._result(bundle, "")
        return VerifiedDsse(payload_type=payload_type, payload=payload,
                            identity=result.identity, issuer=result.issuer,
                            log_index=result.log_index, integrated_time=result.integrated_time)

    def verify_blob_bundle(self, bundle_json: bytes, sha256: bytes) -> KeylessResult:
        """Verify a message-signature bundle (`cosign sign-blob --bundle`) for the data whose
        SHA-256 digest is `sha256`; raises a KeylessError."""
        from sigstore.hashes import Hashed
        from sigstore_models.common.v1 import HashAlgorithm

        verifier, bundle = self._parse(bundle_json)
        if bundle._dsse_envelope is not None:
            raise NotAnImageSignature("the bundle holds a DSSE statement (an attestation), not "
                                      "a signature of the file's bytes")
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=sha256)
        self._checked(lambda policy: verifier.verify_artifact(hashed, bundle, policy))
        return self._result(bundle, "")

    def _parse(self, bundle_json: bytes) -> tuple[Any, Any]:
        if len(bundle_json) > MAX_BUNDLE_BYTES:
            raise BundleInvalid(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
        verifier = self._load()
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import Bundle

        try:
            return verifier, Bundle.from_json(bundle_json)
        except (SigstoreError, ValueError) as error:
            raise BundleInvalid(f"malformed bundle: {_first_line(error)}") from None

    def _checked(self, verify: Callable[[Any], Any]) -> Any:
        """sigstore's verification under this identity policy, its failures mapped: the
        policy's own refusal is IdentityMismatch, anything else BundleInvalid."""
        from sigstore.errors import Error as SigstoreError

        policy: IdentityPolicy | _RecordingPolicy
        if self.policy.identity is not None and self.policy.issuer is not None:
            from sigstore.verify.policy import Identity

            policy = _RecordingPolicy(Identity(identity=self.policy.identity,
                                               issuer=self.policy.issuer))
        else:
            policy = IdentityPolicy(self.policy)
        try:
            return verify(policy)
        except (SigstoreError, ValueError) as error:
            if policy.failed:
                raise IdentityMismatch(_first_line(error)) from None
            raise BundleInvalid(_first_line(error)) from None

    def _result(self, bundle: Any, predicate_type: str) -> KeylessResult:
        """What a verified bundle says: who signed (the policy passed; report what it
        accepted), where and when the log recorded it, which must not be after `not_after`."""
        identity, issuer = IdentityPolicy(self.policy).check(bundle.signing_certificate)
        entry = bundle.log_entry._inner
        integrated = getattr(entry, "integrated_time", None)
        log_index = getattr(entry, "log_index", None)
        when = dt.datetime.fromtimestamp(int(integrated), dt.UTC) if integrated else None
        bound = self.policy.not_after
        if bound is not None and when is not None and when > bound + CLOCK_SKEW:
            raise BundleInvalid(f"the transparency log recorded the signature at "
                                f"{_iso(when)}, after the time of verification {_iso(bound)}")
        return KeylessResult(
            identity=identity, issuer=issuer,
            log_index=int(log_index) if log_index is not None else None,
            integrated_time=when, predicate_type=predicate_type)


def check_cosign_statement(payload_type: str, payload: bytes, manifest_digest: str) -> str:
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise NotAnImageSignature(f"DSSE payload type {payload_type[:80]!r} is not "
                                  f"{IN_TOTO_PAYLOAD_TYPE}")
    try:
        statement = parse_json(payload, "the in-toto statement")
    except ValueError:
        raise BundleInvalid("the signed in-toto statement is not JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") not in IN_TOTO_STATEMENT_TYPES:
        raise NotAnImageSignature("the signed payload is not an in-toto statement")
    predicate_type = statement.get("predicateType")
    if predicate_type != COSIGN_SIGN_PREDICATE:
        raise NotAnImageSignature(f"predicate {str(predicate_type)[:100]!r} is not a cosign "
                                  f"image signature ({COSIGN_SIGN_PREDICATE})")
    subjects = statement.get("subject")
    if not isinstance(subjects, list):
        raise BundleInvalid("the in-toto statement has no subject list")
    wanted = manifest_digest.split(":", 1)[1]
    seen: list[str] = []
    for subject in subjects:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        value = digests.get("sha256") if isinstance(digests, dict) else None
        if isinstance(value, str):
            if value.lower() == wanted:
                return COSIGN_SIGN_PREDICATE
            seen.append(value[:16])
    raise DigestMismatch(f"the statement signs sha256 {', '.join(seen) or 'nothing'}..., not "
                         f"{manifest_digest}")


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split("\n", 1)[0].split())[:300]
