"""One adapter per authority type, from the policy's `Authority` to a `Verifier`.

Each adapter only moves what the policy says into its verifier (Notary's client, python-tuf,
cosign) and maps the answer to evidence or a `VerificationFailed`; the verification itself is in
the verifiers' own modules. `ADAPTERS` is the registry `Verifiers` builds from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.model.reference import ImageRef
from lkpolicy.stages.trust.verifiers import (
    Context,
    Evidence,
    VerificationFailed,
    Verifier,
    compare,
    iso,
    slug,
)

if TYPE_CHECKING:
    from lkpolicy.model.oci import Descriptor
    from lkpolicy.stages.policy.model import Authority
    from lkpolicy.stages.trust.attest.conditions import AttestationCondition
    from lkpolicy.stages.trust.notary.trusted_set import NotaryTrustedSet


class NotaryVerifier:
    """Docker Content Trust: the GUN is the expanded locator, the target the tag. The answer
    is Docker's (`targets/releases`, then `targets`) unless named signers are asked for."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.notary.client import NotaryClient
        from lkpolicy.stages.trust.notary.keys import RootPins

        assert authority.server is not None
        self.authority = authority
        trust_dir = (Path(authority.pin_store) if authority.pin_store
                     else context.cache_dir / "notary" / slug(authority, authority.server))
        now = context.now
        pins = RootPins(frozenset(authority.root_keys), frozenset(authority.root_cert_ids),
                        replace=authority.pin_mode == "replace")
        self.client = NotaryClient(authority.server, trust_dir, ca_file=authority.ca,
                                   offline=context.offline, pins=pins, now=lambda: now)
        self._loaded: dict[str, tuple[NotaryTrustedSet, frozenset[str]]] = {}

    def _trusted(self, gun: str, roles: frozenset[str]) -> NotaryTrustedSet:
        """The GUN's verified metadata with (at least) `roles` loaded; loaded again, with
        every role asked for so far, when a new role is needed."""
        from lkpolicy.stages.trust.notary.signers import with_ancestors

        loaded = self._loaded.get(gun)
        if loaded is not None and roles <= loaded[1]:
            return loaded[0]
        wanted = roles | (loaded[1] if loaded else frozenset())
        trusted = self.client.load(gun, delegations=sorted(with_ancestors(wanted)))
        self._loaded[gun] = (trusted, wanted)
        return trusted

    def _tag(self, ref: ImageRef) -> str:
        if ref.tag is None and ref.digest is not None:
            raise VerificationFailed("notary signs tags, and the reference has only a digest")
        return ref.tag or "latest"

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        from lkpolicy.stages.trust.notary.metadata import DOCKER_ROLE_ORDER

        tag = self._tag(ref)
        target = self._guarded(lambda: self._trusted(ref.locator, frozenset(DOCKER_ROLE_ORDER))
                               .find_target(tag))
        compare(ref, target.digest, target.length, manifest)
        return [self._evidence(ref, tag, target)]

    def verify_signed_by(self, ref: ImageRef, manifest: Descriptor | None,
                         signers: Sequence[str]) -> list[Evidence]:
        """Every named role must sign the tag, all with the same digest (no fallback)."""
        from lkpolicy.stages.trust.notary.signers import signed_by

        tag = self._tag(ref)
        hits = self._guarded(lambda: signed_by(self._trusted(ref.locator, frozenset(signers)),
                                               tag, signers))
        compare(ref, hits[0].digest, hits[0].length, manifest)
        return [{**self._evidence(ref, tag, hit), "signers": list(signers)} for hit in hits]

    def _guarded(self, call: Callable[[], Any]) -> Any:
        from lkpolicy.stages.trust.errors import TrustError

        try:
            return call()
        except TrustError as error:
            raise VerificationFailed(str(error)) from None
        except ValueError as error:  # a locator that cannot be a GUN
            raise VerificationFailed(str(error)) from None

    def _evidence(self, ref: ImageRef, tag: str, target: Any) -> Evidence:
        return {"authority": self.authority.name, "type": "notary", "role": target.role,
                "expires": iso(target.expires), "digest": target.digest,
                "size": target.length, "gun": ref.locator, "tag": tag}

    def close(self) -> None:
        self.client.close()


class TufAdapter:
    """A TUF repository whose target paths are `locator:tag` (lkpolicy.stages.trust.tuf_verifier),
    verified with python-tuf's reference time set to the context's moment."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.tuf_verifier import TufVerifier

        assert authority.repository is not None and authority.root is not None
        self.authority = authority
        root = read_trust_file(authority.root, "the bootstrap root")
        self.verifier = TufVerifier(authority.repository, root,
                                    context.cache_dir / "tuf" / slug(authority,
                                                                     authority.repository),
                                    offline=context.offline, now=context.now)

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        from lkpolicy.stages.trust.errors import TrustError

        try:
            target = self.verifier.verify(ref)
        except TrustError as error:
            raise VerificationFailed(str(error)) from None
        compare(ref, target.digest, target.length, manifest)
        return [{"authority": self.authority.name, "type": "tuf", "role": target.role,
                 "expires": iso(target.expires), "digest": target.digest,
                 "size": target.length, "target": target.name}]

    def close(self) -> None:
        self.verifier.close()


class CachedSignatures:
    """The image cache as an `ImageSource` for cosign, offline: an object that is not cached
    reads as a registry's 404 (no signature there), a corrupt one as a fetch failure."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _translate(self, ref: ImageRef, error: Exception) -> Exception:
        from lkpolicy.registry.errors import RegistryError

        text = str(error)
        status = 404 if "is not in" in text else None
        return RegistryError(ref.original, f"{text} (offline: the image cache only)", status)

    def get_manifest(self, ref: ImageRef, reference: str | None = None) -> Any:
        from lkpolicy.store.errors import StoreError

        try:
            return self.store.get_manifest(ref, reference)
        except StoreError as error:
            raise self._translate(ref, error) from None

    def get_blob(self, ref: ImageRef, descriptor: Descriptor) -> bytes:
        from lkpolicy.store.errors import StoreError

        try:
            data: bytes = self.store.get_blob(ref, descriptor)
        except StoreError as error:
            raise self._translate(ref, error) from None
        return data

    def copy_blob(self, ref: ImageRef, descriptor: Descriptor, sink: Any) -> None:
        from lkpolicy.store.errors import StoreError

        try:
            self.store.copy_blob(ref, descriptor, sink)
        except StoreError as error:
            raise self._translate(ref, error) from None


def read_keys(authority: Authority) -> list[bytes]:
    """A cosign-key authority's PEM public keys (VerificationFailed: one is unreadable)."""
    return [read_trust_file(path, "the public key") for path in authority.keys]


def read_trust_file(path: str, what: str) -> bytes:
    """A key or root named by the policy: a regular file of trust-material size, refused
    before it is opened when it is a FIFO or a device (`/dev/zero` would never end)."""
    from lkpolicy.safeio import MAX_TRUST_FILE_BYTES, UntrustedInput, read_regular_file

    try:
        return read_regular_file(path, MAX_TRUST_FILE_BYTES, what)
    except OSError as error:
        raise VerificationFailed(f"cannot read {what} {path}: "
                                 f"{error.strerror or error}") from None
    except UntrustedInput as error:
        raise VerificationFailed(str(error)) from None


def keyless_policies(authority: Authority, context: Context) -> list[Any]:
    """A sigstore authority's accepted signers, each a `KeylessPolicy` (alternatives)."""
    from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy

    assert authority.trusted_root is not None
    return [KeylessPolicy(Path(authority.trusted_root), identity=identity.subject,
                          identity_regex=identity.subject_regex, issuer=identity.issuer,
                          not_after=context.now)
            for identity in authority.identities]


def read_logs(authority: Authority) -> list[Any]:
    """The transparency logs (`LogKey`s) of a cosign-key authority's `trusted_root`, which its
    key-based bundles must be recorded in; none without one."""
    from lkpolicy.safeio import UntrustedInput, parse_json, read_regular_file
    from lkpolicy.stages.trust.cosign.tlog import log_keys

    if authority.trusted_root is None:
        return []
    path = authority.trusted_root
    try:
        return log_keys(parse_json(read_regular_file(path, 4 * 1024 * 1024, "trusted root"),
                                   "trusted root"))
    except OSError as error:
        raise VerificationFailed(f"cannot read the trusted root {path}: "
                                 f"{error.strerror or error}") from None
    except (UntrustedInput, ValueError) as error:
        raise VerificationFailed(f"trusted root {path}: {error}") from None


class CosignAdapter:
    """cosign signatures and attestations (key pairs or keyless); they sign digests, found in
    the registry, or in the image cache when offline (`cache pull` of the `.sig`/`.att` tags
    and of the referrers tag stores them beside the image)."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.cosign import CosignVerifier

        self.authority = authority
        self.now = context.now
        self._client: Any
        if context.offline:
            from lkpolicy.store.lookup import Store

            self._client = CachedSignatures(Store(context.image_cache))
        else:
            from lkpolicy.registry.client import RegistryClient

            self._client = RegistryClient()
        self.verifiers: list[Any] = []
        self.logs: list[Any] = []
        if authority.type == "cosign-key":
            self.logs = read_logs(authority)
            self.verifiers.append(CosignVerifier(self._client, public_keys=read_keys(authority),
                                                 logs=self.logs, now=context.now))
        else:
            self.verifiers.extend(CosignVerifier(self._client, keyless=policy)
                                  for policy in keyless_policies(authority, context))
        self._attestations: Any = None

    def _digest(self, ref: ImageRef, manifest: Descriptor | None) -> str:
        if manifest is None:
            raise VerificationFailed("cosign signs manifest digests; the image is not in the "
                                     "image cache, so there is no digest to check")
        if ref.digest is not None and ref.digest.lower() != manifest.digest.lower():
            raise VerificationFailed(f"the config pins {ref.digest}, but the image cache has "
                                     f"{manifest.digest}", mismatch=True)
        return manifest.digest

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        digest = self._digest(ref, manifest)
        reasons = []
        # Identities are alternatives: the first that verifies is the evidence.
        for verifier in self.verifiers:
            try:
                signatures = verifier.verify(ref, digest)
            except _failures() as error:
                reasons.append(str(error))
                continue
            return [signature_evidence(self.authority, signature) for signature in signatures]
        raise VerificationFailed("; ".join(dict.fromkeys(reasons)) or "no verifier configured")

    def verify_attestation(self, ref: ImageRef, manifest: Descriptor | None,
                           condition: AttestationCondition) -> list[Evidence]:
        """The attestations of the image that meet `condition`, signed as the authority
        signs (its keys, or its keyless identities as alternatives)."""
        digest = self._digest(ref, manifest)
        if self._attestations is None:
            from lkpolicy.stages.trust.attest.verifier import AttestationVerifier

            self._attestations = AttestationVerifier(
                self._client, keys=[key for verifier in self.verifiers for key in verifier.keys],
                keyless=[verifier.keyless for verifier in self.verifiers if verifier.keyless],
                logs=self.logs, now=self.now)
        try:
            found = self._attestations.verify(ref, digest, condition)
        except _failures() as error:
            raise VerificationFailed(str(error)) from None
        return [{"authority": self.authority.name, "type": self.authority.type,
                 "signer": item.signer, "method": item.method, "format": item.format,
                 "digest": item.digest, "source": item.source,
                 "logged": iso(item.integrated_time), "attestation": dict(item.facts)}
                for item in found]

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if callable(close):
            close()


def _failures() -> tuple[type[Exception], ...]:
    from lkpolicy.model.oci import OCIError
    from lkpolicy.registry.errors import RegistryError
    from lkpolicy.stages.trust.errors import TrustError
    from lkpolicy.store.errors import StoreError

    return (TrustError, RegistryError, OCIError, StoreError)


def signature_evidence(authority: Authority, signature: Any) -> Evidence:
    """A verified cosign signature (`VerifiedSignature`) as trust evidence."""
    return {"authority": authority.name, "type": authority.type, "signer": signature.signer,
            "method": signature.method, "format": signature.format,
            "digest": signature.digest, "source": signature.source,
            "logged": iso(signature.integrated_time)}


ADAPTERS: dict[str, Callable[[Authority, Context], Verifier]] = {
    "notary": NotaryVerifier,
    "tuf": TufAdapter,
    "sigstore": CosignAdapter,
    "cosign-key": CosignAdapter,
}
MODULES = {"notary": "lkpolicy.stages.trust.notary.client",
           "tuf": "lkpolicy.stages.trust.tuf_verifier",
           "sigstore": "lkpolicy.stages.trust.cosign",
           "cosign-key": "lkpolicy.stages.trust.cosign"}
"""The module behind each type, named when it cannot be imported."""
