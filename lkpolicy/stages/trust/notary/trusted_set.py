"""The verified state of one GUN, built role by role in notary's order (no I/O).

`NotaryTrustedSet` is fed the raw bytes of each role in order (root, timestamp, snapshot,
targets, delegations) and either accepts them or raises a `TrustError` naming the role and the
reason. `load_trusted_set` drives that order over a fetch callback so that the HTTP client and
the offline cache share one verification path.

Loading-order rules, as in notary 0.7.0's client: the root may rotate only before the timestamp is
loaded, and a rotation needs the previous root's threshold as well as its own; the timestamp names
the snapshot's hash and length, the snapshot every other role's; a delegation loads only after its
parent; versions never go below those trusted before (`known_versions`), and nothing expired is
accepted. Deliberate deviation: notary *skips* an expired or under-signed delegation and falls
back to the next role; a security gate fails closed instead.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterable, Mapping

from lkpolicy.stages.trust.errors import (
    BadSignature,
    GunMismatch,
    HashMismatch,
    InvalidCertificate,
    LengthMismatch,
    MalformedMetadata,
    NoTrustData,
    Rollback,
    RootChanged,
    StateError,
    UnknownTarget,
)
from lkpolicy.stages.trust.notary.fields import check_size, object_field
from lkpolicy.stages.trust.notary.keys import NO_PINS, PublicKey, RootPins, usable_root_keys
from lkpolicy.stages.trust.notary.metadata import (
    DOCKER_ROLE_ORDER,
    RELEASES,
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    Delegation,
    Envelope,
    MetaFile,
    RoleKeys,
    Root,
    Targets,
    VerifiedTarget,
    check_expiry,
    check_meta,
    check_version,
    parse_envelope,
    parse_meta_file,
    parse_root,
    parse_targets,
    verify_threshold,
)

MiB = 1024 * 1024
# Notary allows 100 MiB for an unknown-length root and 1 MiB for the timestamp; real roots are a
# few KiB, so a much smaller cap refuses a hostile server sooner at no cost.
DEFAULT_MAX_SIZES: Mapping[str, int] = {ROOT: 2 * MiB, TIMESTAMP: 1 * MiB}
# Snapshot, targets and delegations are capped by the length their parent signed, and by this.
DEFAULT_MAX_ROLE_SIZE = 32 * MiB
MAX_ROOT_ROTATIONS = 256


class NotaryTrustedSet:
    """The verified state of one GUN, built role by role in notary's order.

    `root` is the trusted root (a pin or the first root seen, TOFU); it must be signed by its own
    root threshold of certificates naming `gun`. `known_versions` are the last versions trusted
    earlier (rollback protection); `pins` restrict the acceptable root keys, or replace
    notary's certificate rules with themselves (`RootPins`).
    """

    def __init__(self, root: bytes, gun: str, now: dt.datetime, *,
                 known_versions: Mapping[str, int] | None = None,
                 pins: RootPins = NO_PINS,
                 max_sizes: Mapping[str, int] | None = None,
                 max_role_size: int = DEFAULT_MAX_ROLE_SIZE) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.gun = gun
        self.now = now.astimezone(dt.UTC)
        self.known_versions: dict[str, int] = dict(known_versions or {})
        self.pins = pins
        self.max_sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
        self.max_role_size = max_role_size
        check_size(ROOT, root, self.max_sizes[ROOT])
        parsed = parse_root(root)
        check_version(ROOT, parsed.version, self.known_versions)
        # The starting root is trusted input: its certificates' dates are checked only once it is
        # the final root (update_timestamp), so that an old pin can still authorise a rotation.
        self._verify_root_self(parsed, check_dates=False)
        self.root = parsed
        self.timestamp: Envelope | None = None
        self.snapshot: Envelope | None = None
        self.snapshot_meta: dict[str, MetaFile] = {}
        self.targets: dict[str, Targets] = {}
        self.loaded_raw: dict[str, bytes] = {ROOT: root}
        self._snapshot_entry: MetaFile | None = None

    # ------------------------------------------------------------ root

    def _root_keys(self, root: Root, check_dates: bool) -> dict[str, PublicKey]:
        return usable_root_keys(root.roles[ROOT].keyids, root.keys, self.gun,
                                now=self.now if check_dates else None, pins=self.pins)

    def _verify_root_self(self, root: Root, check_dates: bool) -> None:
        keys = self._root_keys(root, check_dates)
        verify_threshold(root.envelope, keys, tuple(keys), root.roles[ROOT].threshold)

    def update_root(self, data: bytes) -> None:
        """Accept a newer root signed by the current root's threshold and by its own."""
        if self.timestamp is not None:
            raise StateError(ROOT, "the root cannot change after the timestamp was loaded")
        check_size(ROOT, data, self.max_sizes[ROOT])
        new = parse_root(data)
        if new.version < self.root.version:
            raise Rollback(ROOT, f"version {new.version} is older than the trusted version "
                                 f"{self.root.version}")
        check_version(ROOT, new.version, self.known_versions)
        # The previous root's certificates may have expired meanwhile; their CN must still match.
        old_keys = self._root_keys(self.root, check_dates=False)
        verify_threshold(new.envelope, old_keys, tuple(old_keys),
                         self.root.roles[ROOT].threshold,
                         role=f"root v{new.version} (by root v{self.root.version} keys)")
        self._verify_root_self(new, check_dates=True)
        self.root = new
        self.loaded_raw[ROOT] = data

    def rotate_root(self, newest: bytes, fetch_version: Callable[[int], bytes]) -> None:
        """Move from the trusted root to `newest`, walking `<v>.root.json` if needed.

        A newest root that no valid chain reaches is RootChanged (a recreated repository, or an
        attacker's), except a lower version, which is Rollback.
        """
        if newest == self.loaded_raw[ROOT]:
            return
        try:
            self.update_root(newest)
            return
        except (BadSignature, GunMismatch, InvalidCertificate, RootChanged) as error:
            direct = error
        newest_version = parse_root(newest).version
        start = self.root.version
        if newest_version - start > MAX_ROOT_ROTATIONS:
            raise RootChanged(ROOT, f"refusing to walk {newest_version - start} root versions")
        try:
            for version in range(start + 1, newest_version):
                self.update_root(fetch_version(version))
            self.update_root(newest)
        except (BadSignature, GunMismatch, InvalidCertificate, RootChanged,
                NoTrustData) as error:
            raise RootChanged(ROOT, f"root v{newest_version} differs from the trusted root "
                                    f"v{start} and no valid rotation leads to it ({direct.reason}; "
                                    f"walking versions: {error})") from None

    # ------------------------------------------------------------ top-level roles

    def _role_keys(self, role: str) -> tuple[dict[str, PublicKey], RoleKeys]:
        spec = self.root.roles[role]
        return {k: self.root.keys[k] for k in spec.keyids}, spec

    def update_timestamp(self, data: bytes) -> None:
        if self.timestamp is not None:
            raise StateError(TIMESTAMP, "already loaded")
        check_expiry(self.root.envelope, self.now)
        # The final root's certificates must be time-valid now (the starting one was not checked).
        self._root_keys(self.root, check_dates=True)
        check_size(TIMESTAMP, data, self.max_sizes[TIMESTAMP])
        envelope = parse_envelope(TIMESTAMP, data, "Timestamp")
        keys, spec = self._role_keys(TIMESTAMP)
        verify_threshold(envelope, keys, spec.keyids, spec.threshold)
        check_version(TIMESTAMP, envelope.version, self.known_versions)
        check_expiry(envelope, self.now)
        meta = object_field(envelope.signed.get("meta"), TIMESTAMP, "meta")
        self._snapshot_entry = parse_meta_file(meta.get(SNAPSHOT), TIMESTAMP, "meta.snapshot")
        self.timestamp = envelope
        self.loaded_raw[TIMESTAMP] = data

    @property
    def snapshot_entry(self) -> MetaFile:
        """The timestamp's hash/length of the snapshot."""
        if self._snapshot_entry is None:
            raise StateError(TIMESTAMP, "not loaded")
        return self._snapshot_entry

    def update_snapshot(self, data: bytes) -> None:
        if self.timestamp is None or self.snapshot is not None:
            raise StateError(SNAPSHOT, "needs a timestamp and must be loaded once")
        check_size(SNAPSHOT, data, self.max_role_size)
        check_meta(SNAPSHOT, data, self.snapshot_entry, TIMESTAMP)
        envelope = parse_envelope(SNAPSHOT, data, "Snapshot")
        keys, spec = self._role_keys(SNAPSHOT)
        verify_threshold(envelope, keys, spec.keyids, spec.threshold)
        check_version(SNAPSHOT, envelope.version, self.known_versions)
        check_expiry(envelope, self.now)
        meta = object_field(envelope.signed.get("meta"), SNAPSHOT, "meta")
        entries = {name: parse_meta_file(value, SNAPSHOT, f"meta.{name}")
                   for name, value in meta.items()}
        for required in (ROOT, TARGETS):
            if required not in entries:
                raise MalformedMetadata(SNAPSHOT, f"meta has no entry for {required}")
        # Ties the root to this snapshot: an old or foreign root cannot be mixed in.
        # Notary checks only the root's hash here (its length was never known when fetching).
        check_meta(ROOT, self.loaded_raw[ROOT], entries[ROOT], SNAPSHOT, check_length=False)
        self.snapshot = envelope
        self.snapshot_meta = entries
        self.loaded_raw[SNAPSHOT] = data

    def expected(self, role: str) -> MetaFile | None:
        """The snapshot's entry for a role (None: never published, skip it)."""
        if self.snapshot is None:
            raise StateError(role, "the snapshot is not loaded")
        return self.snapshot_meta.get(role)

    def delegation(self, role: str) -> Delegation | None:
        parent = self.targets.get(role.rsplit("/", 1)[0])
        return parent.delegations.get(role) if parent else None

    def update_delegation(self, role: str, data: bytes) -> None:
        """Load `targets` or a delegation whose parent is loaded and which snapshot lists."""
        if role in self.targets:
            raise StateError(role, "already loaded")
        meta = self.expected(role)
        if meta is None:
            raise StateError(role, "not listed in the snapshot")
        check_size(role, data, self.max_role_size)
        check_meta(role, data, meta, SNAPSHOT)
        envelope = parse_envelope(role, data, "Targets")
        paths: tuple[str, ...]
        if role == TARGETS:
            keys, spec = self._role_keys(TARGETS)
            keyids, threshold, paths = spec.keyids, spec.threshold, ("",)
        else:
            definition = self.delegation(role)
            if definition is None:
                raise StateError(role, "its parent is not loaded or does not define it")
            parent = self.targets[role.rsplit("/", 1)[0]]
            keys = {k: parent.keys[k] for k in definition.keyids}
            keyids, threshold, paths = definition.keyids, definition.threshold, definition.paths
        verify_threshold(envelope, keys, keyids, threshold)
        check_version(role, envelope.version, self.known_versions)
        check_expiry(envelope, self.now)
        self.targets[role] = parse_targets(role, data, paths)
        self.loaded_raw[role] = data

    # ------------------------------------------------------------ results

    def roles_to_load(self, roles: Iterable[str] = (RELEASES,)) -> list[str]:
        """Delegations among `roles` that targets defines and snapshot lists (i.e. published)."""
        wanted = []
        for role in roles:
            if role in self.targets:
                continue
            if self.delegation(role) is not None and self.expected(role) is not None:
                wanted.append(role)
        return wanted

    def find_target(self, tag: str) -> VerifiedTarget:
        """Docker's answer: `targets/releases` first, then `targets`; nothing else counts."""
        if TARGETS not in self.targets:
            raise StateError(TARGETS, "not loaded")
        for role in self.roles_to_load(DOCKER_ROLE_ORDER):
            raise StateError(role, "published but not loaded before the lookup")
        for role in DOCKER_ROLE_ORDER:
            loaded = self.targets.get(role)
            hit = loaded.target(tag) if loaded else None
            if hit:
                return hit
        elsewhere = [hit.role for hit in self.signed_everywhere(tag)]
        note = f" (signed only in {', '.join(elsewhere)}, which Docker ignores)" if elsewhere else ""
        raise UnknownTarget(TARGETS, f"no trust data for tag {tag!r} in targets/releases or "
                                     f"targets{note}")

    def signed_everywhere(self, tag: str) -> list[VerifiedTarget]:
        """Every loaded role's entry for the tag (for inspection; Docker uses find_target)."""
        hits = [role.target(tag) for role in self.targets.values()]
        return [hit for hit in hits if hit is not None]

    def check_times(self, now: dt.datetime) -> None:
        """Raise what a load at `now` would raise for time alone (the same checks, in the same
        order): a set verified earlier in a run stays trusted only while its root certificates
        and every role it loaded are current."""
        now = now.astimezone(dt.UTC)
        check_expiry(self.root.envelope, now)
        usable_root_keys(self.root.roles[ROOT].keyids, self.root.keys, self.gun, now=now,
                         pins=self.pins)
        for envelope in (self.timestamp, self.snapshot):
            if envelope is None:
                raise StateError(TARGETS, "not loaded")
            check_expiry(envelope, now)
        for role in self.targets.values():
            check_expiry(role.envelope, now)

    def versions(self) -> dict[str, int]:
        """Versions to persist as `known_versions` for the next run (never lowered)."""
        current = {ROOT: self.root.version}
        if self.timestamp:
            current[TIMESTAMP] = self.timestamp.version
        if self.snapshot:
            current[SNAPSHOT] = self.snapshot.version
        for name, role in self.targets.items():
            current[name] = role.envelope.version
        merged = dict(self.known_versions)
        for name, version in current.items():
            merged[name] = max(version, merged.get(name, 0))
        return merged


def check_manifest(target: VerifiedTarget, manifest_digest: str, manifest_size: int) -> None:
    """The registry's manifest must be exactly the signed one (digest and byte size)."""
    if not hmac.compare_digest(manifest_digest.lower(), target.digest):
        raise HashMismatch(target.role, f"tag {target.name!r} is signed as {target.digest}, but "
                                        f"the registry serves {manifest_digest}")
    if manifest_size != target.length:
        raise LengthMismatch(target.role, f"tag {target.name!r} is signed with length "
                                          f"{target.length}, but the registry serves "
                                          f"{manifest_size} bytes")


# ------------------------------------------------------------------------------------ driver

# fetch(name, consistent_sha256_hex_or_None, max_bytes) -> raw bytes. It raises NoTrustData for a
# missing file and MetadataTooLarge when the body is longer than max_bytes.
Fetch = Callable[[str, "str | None", int], bytes]


def load_trusted_set(fetch: Fetch, gun: str, now: dt.datetime, *,
                     trusted_root: bytes | None = None,
                     known_versions: Mapping[str, int] | None = None,
                     pins: RootPins = NO_PINS,
                     delegations: Iterable[str] = (RELEASES,),
                     max_sizes: Mapping[str, int] | None = None) -> NotaryTrustedSet:
    """Fetch and verify root → timestamp → snapshot → targets → the wanted delegations.

    Without `trusted_root` the fetched root is trusted on first use. A delegation that snapshot
    lists but the source cannot supply is an error, as in notary.
    """
    sizes = {**DEFAULT_MAX_SIZES, **(max_sizes or {})}
    newest = fetch(ROOT, None, sizes[ROOT])
    trusted = NotaryTrustedSet(trusted_root if trusted_root is not None else newest, gun, now,
                               known_versions=known_versions, pins=pins,
                               max_sizes=sizes)
    trusted.rotate_root(newest, lambda v: fetch(f"{v}.{ROOT}", None, sizes[ROOT]))
    trusted.update_timestamp(fetch(TIMESTAMP, None, sizes[TIMESTAMP]))
    entry = trusted.snapshot_entry
    trusted.update_snapshot(fetch(SNAPSHOT, entry.sha256_hex, entry.length))
    pending = [TARGETS]
    wanted = set(delegations)
    while pending:
        role = pending.pop(0)
        meta = trusted.expected(role)
        if meta is None:
            raise MalformedMetadata(SNAPSHOT, f"meta has no entry for {role}")
        trusted.update_delegation(role, fetch(role, meta.sha256_hex, meta.length))
        pending.extend(trusted.roles_to_load(sorted(r for r in wanted
                                                    if r.rsplit("/", 1)[0] == role)))
    return trusted
