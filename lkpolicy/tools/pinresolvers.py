"""Resolvers for `pin`: tag -> manifest digest, from linuxkit's local image store or a registry.

The store and the registry client are imported only when a resolver is built, so that
`lkpolicy pin --check` (and every other command) never pays for the HTTP stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lkpolicy.model.reference import ImageRef
from lkpolicy.tools.pin import ResolveError, Resolver


class ChainResolver:
    """Asks each resolver in turn; the first digest wins. Answers are remembered per name,
    so a reference used by many files is looked up once."""

    def __init__(self, resolvers: Sequence[Resolver]) -> None:
        if not resolvers:
            raise ValueError("ChainResolver needs at least one resolver")
        self.resolvers = list(resolvers)
        self._memo: dict[str, str | ResolveError] = {}

    def resolve(self, ref: ImageRef) -> str:
        key = ref.expanded
        if key not in self._memo:
            self._memo[key] = self._first(ref)
        outcome = self._memo[key]
        if isinstance(outcome, ResolveError):
            raise outcome
        return outcome

    def close(self) -> None:
        """Release connections held by the resolvers (the registry's HTTP pool)."""
        for resolver in self.resolvers:
            close = getattr(resolver, "close", None)
            if callable(close):
                close()

    def _first(self, ref: ImageRef) -> str | ResolveError:
        reasons: list[str] = []
        for resolver in self.resolvers:
            try:
                return resolver.resolve(ref)
            except ResolveError as error:
                reasons.append(str(error))
        return ResolveError("; ".join(reasons))


class StoreResolver:
    """linuxkit's image cache: the digest recorded when the tag was pulled into it."""

    def __init__(self, cache_dir: str | None = None) -> None:
        """`cache_dir` None means linuxkit's default (`$LINUXKIT_CACHE`, else ~/.linuxkit/cache)."""
        self.cache_dir = cache_dir
        self._store: Any = None

    def resolve(self, ref: ImageRef) -> str:
        from lkpolicy.store.errors import StoreError
        from lkpolicy.store.lookup import Store

        if self._store is None:
            self._store = Store(self.cache_dir)
        try:
            # The root index entry, found as linuxkit finds it: its digest is the top-level
            # manifest or index, which is what a pin names. Completeness for one platform (what
            # `lookup` checks) does not matter for naming the image.
            descriptor = self._store.find(ref.expanded)
        except (StoreError, OSError) as error:
            raise ResolveError(f"local store: {_reason(error)}") from None
        if descriptor is None:
            raise ResolveError(f"not in the local image store {self._store.root}")
        return _digest_of(descriptor)


class RegistryResolver:
    """The registry's current answer for the tag (a HEAD request where the registry allows)."""

    def __init__(self, *, mirrors: Iterable[str] = (), cert_file: str | None = None,
                 client: Any = None) -> None:
        """`mirrors` are linuxkit's `--mirror` values; bad values raise ValueError here."""
        if client is None:
            from lkpolicy.registry.client import RegistryClient
            from lkpolicy.registry.options import RegistryOptions, parse_mirrors

            client = RegistryClient(RegistryOptions(mirrors=parse_mirrors(mirrors), ca_file=cert_file))
        self.client = client

    def resolve(self, ref: ImageRef) -> str:
        from lkpolicy.registry.errors import RegistryError

        try:
            descriptor = self.client.resolve(ref)
        except RegistryError as error:
            raise ResolveError(f"registry: {error.cause}") from None
        except OSError as error:
            # The CA file is read on the first connection (ssl.SSLError is an OSError too).
            raise ResolveError(f"registry: {_reason(error)}") from None
        return _digest_of(descriptor)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()


def _digest_of(descriptor: Any) -> str:
    digest = getattr(descriptor, "digest", descriptor)
    if not isinstance(digest, str):
        raise ResolveError(f"no digest in the answer ({type(descriptor).__name__})")
    return digest


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    return " ".join(str(error).split()) or type(error).__name__
