"""DSSE envelopes for in-toto statements: signing keys, signing, parsing and key verification,
and keyless signing through sigstore-python.

Signing keys (`load_signing_key`) are what cosign signs with:

* cosign's own files (`cosign generate-key-pair`): PEM blocks `ENCRYPTED SIGSTORE PRIVATE KEY`
  (or the older `ENCRYPTED COSIGN PRIVATE KEY`) whose body is JSON naming a scrypt key
  derivation (`N`, `r`, `p`, salt) and a NaCl secretbox (XSalsa20-Poly1305, nonce) around the
  PKCS#8 private key; the password is `COSIGN_PASSWORD` (empty is a password), as for cosign.
  scrypt is `cryptography`'s, the secretbox PyNaCl's (libsodium): `cryptography` has no
  XSalsa20;
* PEM private keys: PKCS#8 (also encrypted, with `COSIGN_PASSWORD`), SEC 1 EC, PKCS#1 RSA.

Algorithms as cosign signs: ECDSA P-256/P-384/P-521 with SHA-256 (DER signatures), Ed25519,
RSA (at least 2048 bits) PKCS#1 v1.5 with SHA-256. Verification uses the same
`CosignPublicKey` as image signatures. A DSSE signature covers the pre-authentication encoding
(`dsse_pae`) of the payload type and the payload bytes.

Keyless signing (`sign_keyless`) sends an OIDC identity token to Fulcio for a short-lived
certificate and logs the signature in Rekor: network, so it runs only when asked for.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lkpolicy.stages.trust.cosign.signatures import CosignPublicKey, dsse_pae, load_public_key
from lkpolicy.stages.trust.errors import (
    EnvelopeError,
    SignatureMismatch,
    SigningKeyError,
    key_error_reason,
)

__all__ = ["IN_TOTO_PAYLOAD_TYPE", "Envelope", "EnvelopeError", "SignatureMismatch",
           "SigningKey", "SigningKeyError", "ambient_token", "decrypt_cosign_key",
           "identity_token", "load_signing_key", "parse_envelope", "sign_envelope", "sign_keyless",
           "verify_envelope"]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
PASSWORD_VARIABLE = "COSIGN_PASSWORD"
MAX_KEY_FILE_BYTES = 64 * 1024
MAX_ENVELOPE_BYTES = 32 * 1024 * 1024
MAX_SIGNATURES = 16
COSIGN_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
# Bounds on the scrypt parameters of a key file, whose memory is 128 * N * r bytes: cosign
# writes N = 32768 or 65536, r = 8, p = 1.
_MAX_SCRYPT_N = 1 << 20
_MAX_SCRYPT_MEMORY = 1 << 30
_MAX_SCRYPT_P = 16


# --------------------------------------------------------------------------------------------
# Signing keys


@dataclass(frozen=True)
class SigningKey:
    key: Any = field(repr=False)
    public: CosignPublicKey

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

        key = self.key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return bytes(key.sign(message, ec.ECDSA(hashes.SHA256())))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return bytes(key.sign(message))
        assert isinstance(key, rsa.RSAPrivateKey)
        return bytes(key.sign(message, padding.PKCS1v15(), hashes.SHA256()))


def _password(environ: dict[str, str] | None) -> bytes:
    environ = dict(os.environ) if environ is None else environ
    if PASSWORD_VARIABLE in environ:
        return environ[PASSWORD_VARIABLE].encode("utf-8")
    import sys

    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Enter password for private key: ").encode("utf-8")
    raise SigningKeyError(f"the key is encrypted: set {PASSWORD_VARIABLE} (empty for no password)")


def load_signing_key(path: str, *, environ: dict[str, str] | None = None) -> SigningKey:
    """A private key from a cosign key file or a PEM file; `SigningKeyError` with the reason."""
    from lkpolicy.safeio import UntrustedInput, read_regular_file

    try:
        data = read_regular_file(path, MAX_KEY_FILE_BYTES, "signing key")
    except OSError as error:
        raise SigningKeyError(f"cannot read the signing key {path}: "
                        f"{error.strerror or error}") from None
    except UntrustedInput as error:
        raise SigningKeyError(str(error)) from None
    text = data.decode("ascii", "replace")
    kind = _pem_type(text)
    if kind in COSIGN_PEM_TYPES:
        der = decrypt_cosign_key(_pem_body(text, kind), _password(environ))
        return _signing_key(der, der=True)
    if kind is None:
        raise SigningKeyError(f"{path} is not a PEM private key or a cosign key file")
    password = _password(environ) if kind == "ENCRYPTED PRIVATE KEY" else None
    return _signing_key(data, der=False, password=password)


def _pem_type(text: str) -> str | None:
    start = text.find("-----BEGIN ")
    if start < 0:
        return None
    end = text.find("-----", start + 11)
    return text[start + 11:end] if end > 0 else None


def _pem_body(text: str, kind: str) -> bytes:
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    body = text[text.index(begin) + len(begin):text.find(end)] if end in text else ""
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError("the cosign key file's PEM body is not base64") from None


def decrypt_cosign_key(sealed: bytes, password: bytes) -> bytes:
    """The PKCS#8 DER inside a cosign key file's JSON (scrypt, then NaCl secretbox)."""
    from lkpolicy.safeio import UntrustedInput, bounded_int, parse_json

    try:
        document = parse_json(sealed, "cosign key file")
        if not isinstance(document, dict):
            raise UntrustedInput("cosign key file: not a JSON object")
        kdf, cipher = document.get("kdf"), document.get("cipher")
        if not isinstance(kdf, dict) or kdf.get("name") != "scrypt" \
                or not isinstance(kdf.get("params"), dict):
            raise UntrustedInput("cosign key file: the key derivation is not scrypt")
        if not isinstance(cipher, dict) or cipher.get("name") != "nacl/secretbox":
            raise UntrustedInput("cosign key file: the cipher is not nacl/secretbox")
        params = kdf["params"]
        n = bounded_int(params.get("N"), "scrypt N", minimum=2, maximum=_MAX_SCRYPT_N)
        r = bounded_int(params.get("r"), "scrypt r", minimum=1, maximum=64)
        p = bounded_int(params.get("p"), "scrypt p", minimum=1, maximum=_MAX_SCRYPT_P)
        if n & (n - 1) or 128 * n * r > _MAX_SCRYPT_MEMORY:
            raise UntrustedInput("cosign key file: scrypt parameters out of range")
        salt = _b64(kdf.get("salt"), "salt")
        nonce = _b64(cipher.get("nonce"), "nonce")
        ciphertext = _b64(document.get("ciphertext"), "ciphertext")
    except UntrustedInput as error:
        raise SigningKeyError(str(error)) from None
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    secret = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)
    import nacl.exceptions
    import nacl.secret

    try:
        return bytes(nacl.secret.SecretBox(secret).decrypt(ciphertext, nonce))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise SigningKeyError(f"cannot decrypt the cosign key: wrong password "
                        f"({PASSWORD_VARIABLE}) or a damaged key file") from None


def _b64(value: Any, what: str) -> bytes:
    from lkpolicy.safeio import UntrustedInput

    if not isinstance(value, str):
        raise UntrustedInput(f"cosign key file: {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UntrustedInput(f"cosign key file: {what} is not base64") from None


def _signing_key(data: bytes, *, der: bool, password: bytes | None = None) -> SigningKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = (serialization.load_der_private_key(data, None) if der
               else serialization.load_pem_private_key(data, password))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningKeyError(f"not a usable private key: {key_error_reason(error)}") from None
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        public = load_public_key(pem)
    except ValueError as error:
        raise SigningKeyError(str(error)) from None
    return SigningKey(key, public)


# --------------------------------------------------------------------------------------------
# Envelopes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]
    """(keyid, signature) pairs."""

    def to_json(self) -> dict[str, Any]:
        return {"payloadType": self.payload_type,
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode("ascii")}
                               for keyid, sig in self.signatures]}

    def encode(self) -> bytes:
        """One line of JSON and a newline (the `.intoto.jsonl` form)."""
        return (json.dumps(self.to_json(), separators=(",", ":")) + "\n").encode("ascii")


def sign_envelope(payload: bytes, key: SigningKey | None,
                  payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> Envelope:
    """The envelope of `payload`, signed by `key` (no signature without one)."""
    if key is None:
        return Envelope(payload_type, payload, ())
    return Envelope(payload_type, payload,
                    ((key.key_id, key.sign(dsse_pae(payload_type, payload))),))


def parse_envelope(data: bytes | dict[str, Any]) -> Envelope:
    """An envelope from its JSON (bytes, bounded) or its parsed form; `EnvelopeError`."""
    from lkpolicy.safeio import UntrustedInput, parse_json, unique_keys

    if isinstance(data, bytes):
        if len(data) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError(f"larger than {MAX_ENVELOPE_BYTES} bytes")
        try:
            data = parse_json(data, "DSSE envelope", object_pairs_hook=unique_keys)
        except UntrustedInput as error:
            raise EnvelopeError(str(error)) from None
    if not isinstance(data, dict):
        raise EnvelopeError("the DSSE envelope is not a JSON object")
    payload_type = data.get("payloadType")
    if not isinstance(payload_type, str):
        raise EnvelopeError("the DSSE envelope has no payloadType")
    payload = _envelope_b64(data.get("payload"), "payload")
    items = data.get("signatures")
    if items is None:
        items = []
    if not isinstance(items, list) or len(items) > MAX_SIGNATURES:
        raise EnvelopeError(f"the DSSE envelope's signatures are not a list of at most "
                            f"{MAX_SIGNATURES}")
    signatures = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("keyid", ""), str):
            raise EnvelopeError("a DSSE signature is not an object with a string keyid")
        signatures.append((str(item.get("keyid", "")), _envelope_b64(item.get("sig"), "sig")))
    return Envelope(payload_type, payload, tuple(signatures))


def _envelope_b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"the DSSE envelope's {what} is missing")
    try:
        # DSSE allows both base64 alphabets.
        return base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"the DSSE envelope's {what} is not base64") from None


def verify_envelope(envelope: Envelope, keys: Sequence[CosignPublicKey]) -> CosignPublicKey:
    """The trusted key one of the signatures verifies with; `SignatureMismatch` otherwise."""
    if not envelope.signatures:
        raise SignatureMismatch("the provenance is not signed")
    message = dsse_pae(envelope.payload_type, envelope.payload)
    for key in keys:
        for _keyid, signature in envelope.signatures:
            if key.verify(message, signature):
                return key
    names = ", ".join(k.key_id[:19] for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
    raise SignatureMismatch(f"the signature does not verify with the key ({names}): the "
                            "provenance was changed or signed by another key")


# --------------------------------------------------------------------------------------------
# Keyless


def identity_token(token: str) -> Any:
    """sigstore's `IdentityToken` for an OIDC token (its claims checked, not its signature:
    Fulcio does that); `SigningKeyError` when it is malformed or expired."""
    from sigstore.oidc import IdentityError, IdentityToken

    try:
        return IdentityToken(token)
    except IdentityError as error:
        raise SigningKeyError(f"the OIDC identity token is not usable: {error}") from None


def sign_keyless(payload: bytes, identity: Any, *, context: Any | None = None) -> bytes:
    """A Sigstore bundle (JSON) of `payload` as a DSSE in-toto statement, signed with a Fulcio
    certificate for `identity` (`identity_token`) and logged in Rekor. `context` is a sigstore
    `SigningContext` (default: the public-good instance, whose trust configuration comes over
    TUF). `SigningKeyError` when sigstore refuses the statement or signing fails."""
    from sigstore.dsse import Statement
    from sigstore.errors import Error as SigstoreError

    try:
        statement = Statement(payload)
    except SigstoreError as error:
        raise SigningKeyError(f"sigstore refuses the statement: {str(error)[:300]}") from None
    try:
        if context is None:
            from sigstore.models import ClientTrustConfig
            from sigstore.sign import SigningContext

            context = SigningContext.from_trust_config(ClientTrustConfig.production())
        with context.signer(identity, cache=False) as signer:
            bundle = signer.sign_dsse(statement)
    except (SigstoreError, OSError, ValueError) as error:
        text = " ".join(str(error).split())[:300] or type(error).__name__
        raise SigningKeyError(f"keyless signing failed: {text}") from None
    return str(bundle.to_json()).encode("utf-8")


def ambient_token(environ: dict[str, str] | None = None) -> str | None:
    """An OIDC token for keyless signing: `SIGSTORE_IDENTITY_TOKEN`, else what the CI offers
    (sigstore-python's `detect_credential`: GitHub Actions, GitLab, Buildkite, Google Cloud);
    None if there is none. The token is never printed."""
    environ = dict(os.environ) if environ is None else environ
    token = environ.get("SIGSTORE_IDENTITY_TOKEN", "").strip()
    if token:
        return token
    from sigstore.oidc import IdentityError, detect_credential

    try:
        return detect_credential()
    except IdentityError as error:
        raise SigningKeyError(f"cannot get the CI's OIDC token: {str(error)[:200]}") from None
