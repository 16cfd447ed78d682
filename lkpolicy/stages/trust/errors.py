"""Every error of the trust area, in one module that the pure verifiers and the network shells
share (as python-tuf's `tuf/api/exceptions.py` serves its metadata API and its ngclient).

Three families:

* `TrustError` and its subclasses: an authority (notary, TUF, cosign) does not vouch for an
  image. `str()` is one line, `<role or image>: <reason>`; the stage prints it as is.
* `KeylessError` and its subclasses: what the sigstore-python wrapper reports about one bundle,
  without an image name. `cosign_error_for_keyless` turns one into the `CosignError` that names
  the image.
* The DSSE family (`SigningKeyError`, `EnvelopeError`, `SignatureMismatch`): signing keys and
  envelopes of build provenance (`lkpolicy.stages.trust.dsse`).
"""

from __future__ import annotations

from lkpolicy.redaction import redact_secrets
from lkpolicy.registry.errors import clean_text

_MAX_REASON = 4096

# ------------------------------------------------------------------------------------ TrustError


class TrustError(Exception):
    """Verification failed. `str()` is one line, `<role>: <reason>`, without credentials (a URL's
    userinfo, a token a server echoed) or control characters: callers may print it as is."""

    def __init__(self, role: str, reason: str) -> None:
        self.role = clean_text(redact_secrets(role), _MAX_REASON)
        self.reason = " ".join(clean_text(redact_secrets(reason), _MAX_REASON).split())
        super().__init__(f"{self.role}: {self.reason}")

    def __reduce__(self) -> tuple[type[TrustError], tuple[str, str]]:
        # Keeps the error intact when it crosses a process pool.
        return (type(self), (self.role, self.reason))


class MalformedMetadata(TrustError):
    """Not valid JSON, or a field has the wrong type or value."""


class MetadataTooLarge(TrustError):
    """A metadata file, or all of them together, exceed their size limit."""


class ExpiredMetadata(TrustError):
    """A role's `expires` lies in the past."""


class BadSignature(TrustError):
    """Signatures do not establish the role (the base of all signature failures)."""


class ThresholdNotMet(BadSignature):
    """Fewer distinct trusted keys signed than the role's threshold."""


class UnknownKey(ThresholdNotMet):
    """Every signature came from a key the delegating role does not list."""


class HashMismatch(TrustError):
    """Bytes (metadata, or a manifest) do not hash to what the parent role signed."""


class LengthMismatch(TrustError):
    """Bytes are longer (metadata) or of another size (a manifest) than signed."""


class Rollback(TrustError):
    """A role's version is older than the version trusted before."""


class RootChanged(TrustError):
    """The root differs from the pinned one and no valid rotation leads to it."""


class GunMismatch(TrustError):
    """No root certificate names this GUN."""


class InvalidCertificate(TrustError):
    """A root certificate is unusable (CA, SHA-1, weak key, expired, not pinned...)."""


class UnknownTarget(TrustError):
    """The tag is not signed in a role Docker accepts ("no trust data" for the tag)."""


class SignerMissing(UnknownTarget):
    """A delegation role the policy names as a signer does not sign the tag: the repository
    has no such role, never published it, or the role has no entry for the tag."""


class SignersDisagree(TrustError):
    """The delegation roles the policy names sign the tag with different digests."""


class NoTrustData(TrustError):
    """The repository has no trust data at all (notary answers 404 for its root)."""


class StateError(TrustError):
    """Roles were fed out of order (a programming error in the caller)."""


class NetworkError(TrustError):
    """A trust server (notary, TUF) could not be reached or answered with an error."""


class RepositoryInvalid(TrustError):
    """A TUF repository's metadata is inconsistent in a way no narrower error describes."""


class CacheError(TrustError):
    """The metadata cache directory cannot be created, locked or written."""


# ------------------------------------------------------------------------------------ cosign


class CosignError(TrustError):
    """A cosign verification failure; `str()` is one line: `<image>: <reason>`."""

    @property
    def image(self) -> str:
        return self.role


class SignatureMissing(CosignError):
    """No signature at all was found for the manifest digest."""


class SignatureFetchError(CosignError):
    """The registry failed while signatures were looked up (fail closed, never "unsigned")."""


class MalformedSignature(CosignError):
    """A signature object is not what cosign writes (bad JSON, base64, payload type...)."""


class UnsupportedSignature(CosignError):
    """A signature in a format this verifier cannot check (e.g. legacy keyless `.sig`)."""


class SignatureInvalid(CosignError):
    """The signature does not verify with any trusted key (or the bundle does not verify)."""


class PayloadDigestMismatch(CosignError):
    """A valid signature over a payload for another manifest digest."""


class WrongIdentity(CosignError):
    """Signed by someone the policy does not accept (certificate identity, docker-reference)."""


class TrustedRootUnavailable(CosignError):
    """The keyless trusted root file is missing or unusable."""


# ------------------------------------------------------------------------------------ attestations


class PredicateTypeMismatch(CosignError):
    """Valid attestations of the image, but none of the predicate type the policy asks for."""


class PredicateMismatch(CosignError):
    """A valid attestation of the right predicate type whose predicate does not meet the
    policy's conditions (builder, build type, source, a field at a pointer)."""


class LogEntryInvalid(CosignError):
    """A key-based bundle's transparency-log entry is missing, inconsistent with the bundle, or
    does not verify with the trusted root's log keys."""


class ConditionError(ValueError):
    """A policy value that cannot be an attestation condition; `key` names it (a JSON pointer
    relative to the `attestation` object), `str()` says why."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(reason)


# ------------------------------------------------------------------------------------ encoding


class CanonicalJSONError(ValueError):
    """A value that has no canonical form (a fraction, NaN, a non-string key...)."""


# ------------------------------------------------------------------------------------ keyless


class KeylessError(Exception):
    """Base of the failures below; `str()` is the one-line reason."""

    def __init__(self, reason: str) -> None:
        self.reason = " ".join(reason.split())
        super().__init__(self.reason)


class TrustedRootError(KeylessError):
    """The trusted root file is missing, unreadable or not a Sigstore trusted root."""


class BundleInvalid(KeylessError):
    """The bundle does not verify (signature, chain, SCT, log entry, malformed...)."""


class IdentityMismatch(KeylessError):
    """The bundle verifies, but its certificate names another identity or issuer."""


class NotAnImageSignature(KeylessError):
    """A valid bundle that is not a cosign image signature (e.g. an SBOM attestation)."""


class DigestMismatch(KeylessError):
    """A valid image-signature bundle for another manifest digest."""


# ------------------------------------------------------------------------------------ DSSE


class SigningKeyError(Exception):
    """A signing key (or keyless identity) that cannot be used: unreadable, wrong password,
    unsupported, refused (one line)."""


class EnvelopeError(Exception):
    """A DSSE envelope that is not one (malformed JSON, fields, base64)."""


class SignatureMismatch(Exception):
    """The envelope is well formed but no signature verifies with a trusted key."""


_KEYLESS_TO_COSIGN: dict[type[KeylessError], type[CosignError]] = {
    TrustedRootError: TrustedRootUnavailable,
    IdentityMismatch: WrongIdentity,
    DigestMismatch: PayloadDigestMismatch,
    NotAnImageSignature: UnsupportedSignature,
    BundleInvalid: SignatureInvalid,
}


def cosign_error_for_keyless(error: KeylessError, image: str) -> CosignError:
    """The cosign error, naming `image`, that a keyless failure amounts to."""
    return _KEYLESS_TO_COSIGN.get(type(error), SignatureInvalid)(image, error.reason)


# ----------------------------------------------------------------------- cryptography's messages


def key_error_reason(error: BaseException) -> str:
    """Why `cryptography` refused key or certificate data, as a sentence: its own messages
    are a paragraph about formats and passwords, a link to its FAQ and an ASN.1 parser's
    details (`Details: ASN.1 parsing error: unexpected tag (got Tag { value: 0, ...`)."""
    text = " ".join(str(error).split())
    if "Unable to load PEM file" in text:
        return "it is not PEM text (no well-formed `-----BEGIN ...-----` block)"
    if "Could not deserialize key data" in text or "ASN.1" in text:
        return "its data is not a key in a form that can be read (DER or PEM, unencrypted)"
    if "Bad decrypt" in text or "Incorrect password" in text:
        return "the password is wrong"
    if "Password was not given" in text:
        return "the key is encrypted, and no password was given"
    if type(error).__name__ == "UnsupportedAlgorithm":
        return "its algorithm is not supported"
    return clean_text(text.split(". ")[0], 200) or type(error).__name__
