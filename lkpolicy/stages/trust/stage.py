"""Pipeline stage: the authorities the policy requires must vouch for every image's digest.

Which authorities: every `trust.rules` entry of the policy whose globs match the image, plus
`trust.default_authority` for the images the config's own `trust:` section lists (matched with
LinuxKit's old content-trust semantics, `trust_covers`). What they vouch for is checked against
the manifest digest and size in the image cache, because that is what the build uses: the image
itself never comes from the network here. Only the authorities talk to their servers (notary,
TUF, the registry holding cosign signatures), and `offline` keeps even them on their caches,
where expiry and rollback are still checked.

Every verifier sits behind the small `Verifier` protocol and is imported when first needed, so
an unused trust stack costs nothing and a missing verifier fails only the images that need it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Location
from lkpolicy.model.reference import ImageRef, ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.stages.trust.rules import (
    TRUST_DIGEST_MISMATCH,
    TRUST_NO_AUTHORITY,
    TRUST_NOT_CACHED,
    TRUST_NOT_VOUCHED,
)

if TYPE_CHECKING:
    from lkpolicy.model.oci import Descriptor
    from lkpolicy.stages.images import ImageUse, Resolution
    from lkpolicy.stages.policy.model import Authority, Policy, Requirement

Evidence = dict[str, Any]


def default_trust_cache() -> Path:
    """`$LKPOLICY_TRUST_CACHE`, else `$XDG_CACHE_HOME/lkpolicy/trust` (`~/.cache/...`)."""
    configured = os.environ.get("LKPOLICY_TRUST_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lkpolicy" / "trust"


# ------------------------------------------------------------------------------ verifiers


class VerificationFailed(Exception):
    """An authority does not vouch for an image; `str()` is the one-line reason."""

    def __init__(self, reason: str, *, mismatch: bool = False) -> None:
        self.reason = " ".join(reason.split())
        self.mismatch = mismatch
        super().__init__(self.reason)


class Verifier(Protocol):
    """One authority. `verify` returns the evidence, or raises `VerificationFailed`.

    `manifest` is the cached manifest's descriptor; None asks what the authority says without
    comparing (for `trust inspect` on an image that is not cached), which signature schemes that
    sign digests rather than tags cannot answer."""

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Context:
    cache_dir: Path
    """The trust cache: metadata per authority, and TOFU pins unless `pin_store` says where."""
    image_cache: Path
    offline: bool
    now: dt.datetime


def _slug(authority: Authority, locator: str) -> str:
    # Keyed by name and location: two authorities never share pins or rollback state, and
    # pointing an authority at another server starts afresh instead of failing on old pins.
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", authority.name)[:48]
    return f"{safe}-{hashlib.sha256(locator.encode()).hexdigest()[:12]}"


def _compare(ref: ImageRef, digest: str, length: int,
             manifest: Descriptor | None) -> None:
    if ref.digest is not None and ref.digest.lower() != digest:
        raise VerificationFailed(f"signed as {digest}, but the config pins {ref.digest}",
                                 mismatch=True)
    if manifest is None:
        return
    if manifest.digest.lower() != digest or manifest.size != length:
        raise VerificationFailed(f"signed as {digest} ({length} bytes), but the image cache has "
                                 f"{manifest.digest} ({manifest.size} bytes)", mismatch=True)


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _read_trust_file(path: str, what: str) -> bytes:
    """A key or root named by the policy: a regular file of trust-material size, refused
    before it is opened when it is a FIFO or a device."""
    from lkpolicy.safeio import MAX_TRUST_FILE_BYTES, UntrustedInput, read_regular_file

    try:
        return read_regular_file(path, MAX_TRUST_FILE_BYTES, what)
    except OSError as error:
        raise VerificationFailed(f"cannot read {what} {path}: "
                                 f"{error.strerror or error}") from None
    except UntrustedInput as error:
        raise VerificationFailed(str(error)) from None


class NotaryVerifier:
    """Docker Content Trust: the GUN is the expanded locator, the target the tag."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.notary.client import NotaryClient

        assert authority.server is not None
        self.authority = authority
        trust_dir = (Path(authority.pin_store) if authority.pin_store
                     else context.cache_dir / "notary" / _slug(authority, authority.server))
        now = context.now
        self.client = NotaryClient(authority.server, trust_dir, ca_file=authority.ca,
                                   offline=context.offline, root_key_pins=authority.root_keys,
                                   now=lambda: now)
        self._loaded: dict[str, Any] = {}

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        from lkpolicy.stages.trust.errors import TrustError

        if ref.tag is None and ref.digest is not None:
            raise VerificationFailed("notary signs tags, and the reference has only a digest")
        tag = ref.tag or "latest"
        try:
            trusted = self._loaded.get(ref.locator)
            if trusted is None:
                trusted = self._loaded[ref.locator] = self.client.load(ref.locator)
            target = trusted.find_target(tag)
        except TrustError as error:
            raise VerificationFailed(str(error)) from None
        except ValueError as error:  # a locator that cannot be a GUN
            raise VerificationFailed(str(error)) from None
        _compare(ref, target.digest, target.length, manifest)
        return [{"authority": self.authority.name, "type": "notary", "role": target.role,
                 "expires": _iso(target.expires), "digest": target.digest,
                 "size": target.length, "gun": ref.locator, "tag": tag}]

    def close(self) -> None:
        self.client.close()


class TufAdapter:
    """A TUF repository whose target paths are `locator:tag` (lkpolicy.stages.trust.tuf_verifier)."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.tuf_verifier import TufVerifier

        assert authority.repository is not None and authority.root is not None
        self.authority = authority
        root = _read_trust_file(authority.root, "the bootstrap root")
        self.verifier = TufVerifier(authority.repository, root,
                                    context.cache_dir / "tuf" / _slug(authority,
                                                                      authority.repository),
                                    offline=context.offline)

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        from lkpolicy.stages.trust.errors import TrustError

        try:
            target = self.verifier.verify(ref)
        except TrustError as error:
            raise VerificationFailed(str(error)) from None
        _compare(ref, target.digest, target.length, manifest)
        return [{"authority": self.authority.name, "type": "tuf", "role": target.role,
                 "expires": _iso(target.expires), "digest": target.digest,
                 "size": target.length, "target": target.name}]

    def close(self) -> None:
        self.verifier.close()


class _CachedSignatures:
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


class CosignAdapter:
    """cosign signatures (key pairs or keyless); they sign digests, found in the registry, or
    in the image cache when offline (`cache pull` stores the `.sig` tags beside the image)."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.cosign import CosignVerifier

        self.authority = authority
        self._client: Any
        if context.offline:
            from lkpolicy.store.lookup import Store

            self._client = _CachedSignatures(Store(context.image_cache))
        else:
            from lkpolicy.registry.client import RegistryClient

            self._client = RegistryClient()
        self.verifiers: list[Any] = []
        if authority.type == "cosign-key":
            keys = []
            for path in authority.keys:
                keys.append(_read_trust_file(path, "the public key"))
            self.verifiers.append(CosignVerifier(self._client, public_keys=keys))
        else:
            from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy

            assert authority.trusted_root is not None
            for identity in authority.identities:
                self.verifiers.append(CosignVerifier(self._client, keyless=KeylessPolicy(
                    Path(authority.trusted_root), identity=identity.subject,
                    identity_regex=identity.subject_regex, issuer=identity.issuer)))

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        from lkpolicy.model.oci import OCIError
        from lkpolicy.registry.errors import RegistryError
        from lkpolicy.stages.trust.errors import TrustError
        from lkpolicy.store.errors import StoreError

        if manifest is None:
            raise VerificationFailed("cosign signs manifest digests; the image is not in the "
                                     "image cache, so there is no digest to check")
        if ref.digest is not None and ref.digest.lower() != manifest.digest.lower():
            raise VerificationFailed(f"the config pins {ref.digest}, but the image cache has "
                                     f"{manifest.digest}", mismatch=True)
        reasons = []
        # Identities are alternatives: the first that verifies is the evidence.
        for verifier in self.verifiers:
            try:
                signatures = verifier.verify(ref, manifest.digest)
            except (TrustError, RegistryError, OCIError, StoreError) as error:
                reasons.append(str(error))
                continue
            return [{"authority": self.authority.name, "type": self.authority.type,
                     "signer": signature.signer, "method": signature.method,
                     "format": signature.format, "digest": signature.digest,
                     "source": signature.source,
                     "logged": _iso(signature.integrated_time)} for signature in signatures]
        raise VerificationFailed("; ".join(dict.fromkeys(reasons)) or "no verifier configured")

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if callable(close):
            close()


_ADAPTERS: dict[str, Callable[[Authority, Context], Verifier]] = {
    "notary": NotaryVerifier,
    "tuf": TufAdapter,
    "sigstore": CosignAdapter,
    "cosign-key": CosignAdapter,
}
_MODULES = {"notary": "lkpolicy.stages.trust.notary.client", "tuf": "lkpolicy.stages.trust.tuf_verifier",
            "sigstore": "lkpolicy.stages.trust.cosign", "cosign-key": "lkpolicy.stages.trust.cosign"}


class Verifiers:
    """Verifiers built on first use, once per run; a verifier that cannot be built fails every
    image that needs it, with the reason, instead of the whole check."""

    def __init__(self, authorities: Mapping[str, Authority], context: Context,
                 injected: Mapping[str, Verifier] | None = None) -> None:
        self.authorities = authorities
        self.context = context
        self._built: dict[str, Verifier | VerificationFailed] = dict(injected or {})
        self._owned: list[Verifier] = []
        self._results: dict[tuple[str, str], list[Evidence] | VerificationFailed] = {}

    def get(self, name: str) -> Verifier:
        built = self._built.get(name)
        if built is None:
            built = self._build(self.authorities[name])
            self._built[name] = built
        if isinstance(built, VerificationFailed):
            raise built
        return built

    def _build(self, authority: Authority) -> Verifier | VerificationFailed:
        try:
            verifier = _ADAPTERS[authority.type](authority, self.context)
        except VerificationFailed as error:
            return error
        except ModuleNotFoundError as error:
            return VerificationFailed(f"the {authority.type} verifier is not available "
                                      f"({_MODULES[authority.type]}: {error})")
        except (ValueError, OSError) as error:
            return VerificationFailed(f"cannot set up the {authority.type} verifier: {error}")
        self._owned.append(verifier)
        return verifier

    def verify(self, name: str, ref: ImageRef,
               manifest: Descriptor | None) -> list[Evidence] | VerificationFailed:
        key = (name, ref.expanded)
        if key not in self._results:
            try:
                self._results[key] = self.get(name).verify(ref, manifest)
            except VerificationFailed as error:
                self._results[key] = error
        return self._results[key]

    def close(self) -> None:
        for verifier in self._owned:
            verifier.close()


# ------------------------------------------------------------------------------ the stage


@dataclass(slots=True)
class TrustResult:
    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    """Manifest digest -> what vouched for it (for `LockedImage.evidence` and provenance)."""


def requirements_for(reference: ImageRef, policy: Policy,
                     trust_sections: Sequence[Mapping[str, Any]]) -> tuple[list[Requirement], bool]:
    """The requirements on one image, and whether the config's `trust:` lists it without the
    policy naming a default authority (an image that must be verified by nobody)."""
    from lkpolicy.stages.policy.config_checks import trust_covers
    from lkpolicy.stages.policy.model import Requirement

    trust = policy.trust
    wanted = [rule.require for rule in trust.rules if rule.matches(reference)]
    orphan = False
    if trust_sections and trust_covers(trust_sections, reference):
        if trust.default_authority is not None:
            wanted.append(Requirement("all", (trust.default_authority,), trust.default_location))
        else:
            orphan = True
    return wanted, orphan


def run_trust(config: Config, resolution: Resolution, policy: Policy, *,
              cache_dir: str | Path | None = None, offline: bool = False,
              now: dt.datetime | None = None,
              verifiers: Mapping[str, Verifier] | None = None) -> TrustResult:
    """Verify every image the policy (or the config's `trust:`) requires to be verified,
    against the manifest the image stage resolved (what the build will use).

    `cache_dir`: the trust cache (default `default_trust_cache()`); `verifiers`: authority
    name -> a ready verifier, replacing the one the policy describes (tests, embedding)."""
    from lkpolicy.store.location import default_cache_dir

    context = Context(Path(cache_dir) if cache_dir is not None else default_trust_cache(),
                      default_cache_dir(resolution.cache), offline,
                      now if now is not None else dt.datetime.now(dt.UTC))
    sections = [node.value for node in config.trust if isinstance(node.value, dict)]
    result = TrustResult()
    pool = Verifiers(policy.trust.authorities, context, verifiers)
    try:
        for expanded, uses in _distinct_uses(resolution).items():
            first = uses[0]
            ref = first.reference
            assert ref is not None
            wanted, orphan = requirements_for(ref, policy, sections)
            related = [use.node.location for use in uses[1:]]

            def emit(rule: Any, message: str, node: Node = first.node,
                     related: list[Location] = related) -> None:
                result.findings.append(rule.finding(message, node.location, node.pointer,
                                                    related=related))

            if orphan:
                emit(TRUST_NO_AUTHORITY,
                     f"{first.described} image `{expanded}` is listed in the config's `trust:` "
                     f"but the policy has no `trust.default_authority` to verify it")
            if not wanted:
                continue
            image = resolution.images.get(expanded)
            if image is None:
                why = resolution.unresolved.get(expanded, "the image stage was skipped")
                emit(TRUST_NOT_CACHED, f"{first.described} image `{expanded}` must be verified "
                                       f"by {_describe(wanted)}, but the build cannot use it: "
                                       f"{why}")
                continue
            manifest = image.descriptor
            names = list(dict.fromkeys(n for r in wanted for n in r.authorities))
            outcomes = {name: pool.verify(name, ref, manifest) for name in names}
            for name, failure in _failures(wanted, outcomes):
                authority = policy.trust.authorities[name]
                rule = TRUST_DIGEST_MISMATCH if failure.mismatch else TRUST_NOT_VOUCHED
                emit(rule, f"{first.described} image `{expanded}`: authority `{name}` "
                           f"({authority.type}) does not vouch for it: {failure.reason}"
                           f"{failure.note}")
            evidence = [item for name in names
                        if not isinstance(outcome := outcomes[name], VerificationFailed)
                        for item in outcome]
            if evidence:
                result.evidence.setdefault(manifest.digest, []).extend(evidence)
    finally:
        pool.close()
    result.findings.sort(key=Finding.sort_key)
    return result


def _distinct_uses(resolution: Resolution) -> dict[str, list[ImageUse]]:
    """Each image once, with every place that uses it (the first one carries the finding)."""
    distinct: dict[str, list[ImageUse]] = {}
    for use in resolution.uses:
        if use.reference is not None:  # an unparsable reference: the lint stage reports it
            distinct.setdefault(use.reference.expanded, []).append(use)
    return distinct


@dataclass(frozen=True, slots=True)
class _Failure:
    reason: str
    mismatch: bool
    note: str


def _failures(wanted: list[Requirement],
              outcomes: Mapping[str, list[Evidence] | VerificationFailed]
              ) -> list[tuple[str, _Failure]]:
    """The authorities whose refusal leaves a requirement unmet, each once."""
    failures: list[tuple[str, _Failure]] = []
    reported: set[str] = set()
    for requirement in wanted:
        failed = [n for n in requirement.authorities
                  if isinstance(outcomes[n], VerificationFailed)]
        satisfied = not failed if requirement.mode == "all" else (
            len(failed) < len(requirement.authorities))
        if satisfied:
            continue
        note = "" if requirement.mode == "all" or len(requirement.authorities) == 1 \
            else f" (any of {', '.join(requirement.authorities)} would do; none does)"
        for name in failed:
            if name in reported:
                continue
            reported.add(name)
            outcome = outcomes[name]
            assert isinstance(outcome, VerificationFailed)
            failures.append((name, _Failure(outcome.reason, outcome.mismatch, note)))
    return failures


def _describe(wanted: list[Requirement]) -> str:
    return " and ".join(f"`{requirement.describe()}`" for requirement in wanted)


# ------------------------------------------------------------------------------ inspection


@dataclass(slots=True)
class AuthorityAnswer:
    """What one authority says about one image (`lkpolicy trust inspect`)."""

    authority: str
    type: str
    required: bool
    """Whether the policy requires this authority for the image."""
    evidence: list[Evidence] = field(default_factory=list)
    error: str | None = None
    mismatch: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"authority": self.authority, "type": self.type, "required": self.required,
                "ok": self.ok, "evidence": self.evidence, "error": self.error,
                "mismatch": self.mismatch}


@dataclass(slots=True)
class Inspection:
    reference: str
    manifest: dict[str, Any] | None
    """The cached manifest (`digest`, `size`), or None when the image is not cached."""
    answers: list[AuthorityAnswer]

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "cached": self.manifest,
                "authorities": [answer.to_json() for answer in self.answers]}


def inspect_image(reference: str, policy: Policy, *, cache_dir: str | Path | None = None,
                  offline: bool = False, now: dt.datetime | None = None,
                  image_cache: str | Path | None = None,
                  verifiers: Mapping[str, Verifier] | None = None) -> Inspection:
    """Ask every authority of the policy about `reference` (ValueError: not a reference).

    The cached manifest, when there is one, is compared as the trust stage compares it;
    without it, tag-signing authorities still say which digest they vouch for."""
    from lkpolicy.store.errors import StoreError
    from lkpolicy.store.location import default_cache_dir
    from lkpolicy.store.lookup import Store

    try:
        ref = parse_reference(reference)
    except ReferenceError as error:
        raise ValueError(str(error)) from None
    context = Context(Path(cache_dir) if cache_dir is not None else default_trust_cache(),
                      default_cache_dir(image_cache), offline,
                      now if now is not None else dt.datetime.now(dt.UTC))
    try:
        manifest = Store(context.image_cache).find(ref.expanded)
    except StoreError:
        manifest = None
    wanted, _ = requirements_for(ref, policy, [])
    required = {name for requirement in wanted for name in requirement.authorities}
    pool = Verifiers(policy.trust.authorities, context, verifiers)
    answers = []
    try:
        for name, authority in policy.trust.authorities.items():
            outcome = pool.verify(name, ref, manifest)
            answer = AuthorityAnswer(name, authority.type, name in required)
            if isinstance(outcome, VerificationFailed):
                answer.error, answer.mismatch = outcome.reason, outcome.mismatch
            else:
                answer.evidence = outcome
            answers.append(answer)
    finally:
        pool.close()
    cached = {"digest": manifest.digest, "size": manifest.size} if manifest else None
    return Inspection(ref.expanded, cached, answers)
