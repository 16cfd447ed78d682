"""The authorities behind one small protocol, built on first use and asked once per image.

Every authority type (`adapters`) is a `Verifier`: `verify(ref, manifest)` returns what vouches
for the image or raises `VerificationFailed` with a one-line reason. Notary can also answer for
named signers (`NamedSigners`), cosign for in-toto attestations (`Attests`). `Verifiers` builds
each authority the policy names when first needed, so an unused trust stack costs nothing and a
verifier that cannot be built fails only the images that need it, and keeps every answer for
the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lkpolicy.model.reference import ImageRef
from lkpolicy.stages.trust.requirements import Ask, Refusal

if TYPE_CHECKING:
    from lkpolicy.model.oci import Descriptor
    from lkpolicy.stages.policy.model import Authority
    from lkpolicy.stages.trust.attest.conditions import AttestationCondition

Evidence = dict[str, Any]


def default_trust_cache() -> Path:
    """`$LKPOLICY_TRUST_CACHE`, else `$XDG_CACHE_HOME/lkpolicy/trust` (`~/.cache/...`)."""
    configured = os.environ.get("LKPOLICY_TRUST_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lkpolicy" / "trust"


class VerificationFailed(Exception):
    """An authority does not vouch for an image; `str()` is the one-line reason."""

    def __init__(self, reason: str, *, mismatch: bool = False) -> None:
        self.reason = " ".join(reason.split())
        self.mismatch = mismatch
        super().__init__(self.reason)

    @property
    def refusal(self) -> Refusal:
        return Refusal(self.reason, self.mismatch)


def missing_trust_extra() -> VerificationFailed | None:
    """The refusal of every authority when the `trust` extra is not installed (None: it is):
    an image or file the policy requires to be verified fails, naming what to install."""
    from lkpolicy.extras import MissingExtra, require

    try:
        require("trust", "signature verification")
    except MissingExtra as error:
        return VerificationFailed(str(error))
    return None


class Verifier(Protocol):
    """One authority. `verify` returns the evidence, or raises `VerificationFailed`.

    `manifest` is the cached manifest's descriptor; None asks what the authority says without
    comparing (for `trust inspect` on an image that is not cached), which signature schemes that
    sign digests rather than tags cannot answer."""

    def verify(self, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]: ...

    def close(self) -> None: ...


@runtime_checkable
class NamedSigners(Protocol):
    """An authority whose answer can come from named signers (Notary delegation roles)."""

    def verify_signed_by(self, ref: ImageRef, manifest: Descriptor | None,
                         signers: Sequence[str]) -> list[Evidence]: ...


@runtime_checkable
class Attests(Protocol):
    """An authority that can vouch for in-toto attestations of an image (cosign)."""

    def verify_attestation(self, ref: ImageRef, manifest: Descriptor | None,
                           condition: AttestationCondition) -> list[Evidence]: ...


@dataclass(slots=True)
class Context:
    cache_dir: Path
    """The trust cache: metadata per authority, and TOFU pins unless `pin_store` says where."""
    image_cache: Path
    offline: bool
    now: dt.datetime
    """The moment everything is verified at (`--at`; default: now)."""


def slug(authority: Authority, locator: str) -> str:
    """A cache directory name for one authority at one location. Keyed by name and location:
    two authorities never share pins or rollback state, and pointing an authority at another
    server starts afresh instead of failing on old pins."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", authority.name)[:48]
    return f"{safe}-{hashlib.sha256(locator.encode()).hexdigest()[:12]}"


def compare(ref: ImageRef, digest: str, length: int, manifest: Descriptor | None) -> None:
    """What an authority signed against the config's pin and the cached manifest."""
    if ref.digest is not None and ref.digest.lower() != digest:
        raise VerificationFailed(f"signed as {digest}, but the config pins {ref.digest}",
                                 mismatch=True)
    if manifest is None:
        return
    if manifest.digest.lower() != digest or manifest.size != length:
        raise VerificationFailed(f"signed as {digest} ({length} bytes), but the image cache has "
                                 f"{manifest.digest} ({manifest.size} bytes)", mismatch=True)


def iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


Outcome = list[Evidence] | VerificationFailed


class Verifiers:
    """Verifiers built on first use, once per run; a verifier that cannot be built fails every
    image that needs it, with the reason, instead of the whole check."""

    def __init__(self, authorities: Mapping[str, Authority], context: Context,
                 injected: Mapping[str, Verifier] | None = None) -> None:
        self.authorities = authorities
        self.context = context
        self._built: dict[str, Verifier | VerificationFailed] = dict(injected or {})
        self._owned: list[Verifier] = []
        self._results: dict[tuple[Ask, str], Outcome] = {}

    def get(self, name: str) -> Verifier:
        built = self._built.get(name)
        if built is None:
            built = self._build(self.authorities[name])
            self._built[name] = built
        if isinstance(built, VerificationFailed):
            raise built
        return built

    def _build(self, authority: Authority) -> Verifier | VerificationFailed:
        from lkpolicy.stages.trust.adapters import ADAPTERS, MODULES

        missing = missing_trust_extra()
        if missing is not None:
            return missing
        try:
            verifier = ADAPTERS[authority.type](authority, self.context)
        except VerificationFailed as error:
            return error
        except ModuleNotFoundError as error:
            return VerificationFailed(f"the {authority.type} verifier is not available "
                                      f"({MODULES[authority.type]}: {error})")
        except (ValueError, OSError) as error:
            return VerificationFailed(f"cannot set up the {authority.type} verifier: {error}")
        self._owned.append(verifier)
        return verifier

    def verify(self, ask: Ask, ref: ImageRef, manifest: Descriptor | None) -> Outcome:
        """The authority's answer for the image (once per run and question)."""
        key = (ask, ref.expanded)
        if key not in self._results:
            try:
                self._results[key] = self._ask(ask, ref, manifest)
            except VerificationFailed as error:
                self._results[key] = error
        return self._results[key]

    def _ask(self, ask: Ask, ref: ImageRef, manifest: Descriptor | None) -> list[Evidence]:
        verifier = self.get(ask.authority)
        if ask.attestation is not None:
            if not isinstance(verifier, Attests):
                raise VerificationFailed(f"authority `{ask.authority}` cannot verify "
                                         f"attestations")
            return verifier.verify_attestation(ref, manifest, ask.attestation)
        if not ask.signers:
            return verifier.verify(ref, manifest)
        if not isinstance(verifier, NamedSigners):
            raise VerificationFailed(f"authority `{ask.authority}` cannot require named signers")
        return verifier.verify_signed_by(ref, manifest, ask.signers)

    def close(self) -> None:
        for verifier in self._owned:
            verifier.close()
