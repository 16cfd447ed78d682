"""The verified per-GUN Notary metadata cache and its root pins, on disk.

Nothing reaches the cache before the whole chain (root → timestamp → snapshot → targets →
delegations) verified, so it only ever holds data that was trusted once; offline mode reads the
same files back through the same verifier, so expiry and rollback against the stored versions
still apply.

Layout of the directory, per GUN (in the spirit of `~/.docker/trust/tuf/<gun>/metadata/`):
`<gun>/metadata/<role>.json` (raw bytes as served; `root.json` is the pinned, trusted root) and
`<gun>/versions.json` (last trusted version of every role: rollback protection across runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from lkpolicy.safeio import UntrustedInput, atomic_write_bytes, parse_json, read_regular_file
from lkpolicy.stages.trust.errors import MetadataTooLarge, NoTrustData, TrustError
from lkpolicy.stages.trust.notary.metadata import ROOT
from lkpolicy.stages.trust.notary.trusted_set import NotaryTrustedSet

MAX_CACHED_ROLE_BYTES = 64 * 1024 * 1024
"""Beyond the whole chain's download cap: no cached file of a trusted set is larger."""
_GUN_PART = re.compile(r"^[A-Za-z0-9_.:\-\[\]]+$")


def check_gun(gun: str) -> str:
    """A GUN is also a cache path: no empty, `.` or `..` components, no odd characters."""
    parts = gun.split("/")
    if len(parts) < 2 or any(p in ("", ".", "..") or not _GUN_PART.match(p) for p in parts):
        raise ValueError(f"invalid GUN {gun!r}")
    return gun


class TrustStore:
    """The per-GUN metadata cache and root pin store under one directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _dir(self, gun: str) -> Path:
        return self.directory / check_gun(gun)

    def path(self, gun: str, role: str) -> Path:
        return self._dir(gun) / "metadata" / f"{role}.json"

    def read(self, gun: str, role: str) -> bytes | None:
        """A cached role's bytes; FIFOs, devices and files beyond any role's size are
        refused (the fetcher's per-role limit applies after)."""
        try:
            return read_regular_file(self.path(gun, role), MAX_CACHED_ROLE_BYTES,
                                     f"cached {role}.json")
        except FileNotFoundError:
            return None
        except UntrustedInput as error:
            raise TrustError(role, str(error)) from None

    def pinned_root(self, gun: str) -> bytes | None:
        return self.read(gun, ROOT)

    def versions(self, gun: str) -> dict[str, int]:
        try:
            path = self._dir(gun) / "versions.json"
            raw = parse_json(read_regular_file(path, MAX_CACHED_ROLE_BYTES, "versions.json"),
                             "versions.json")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A damaged state file must not silently disable rollback protection.
            raise TrustError("versions", f"cannot read {self._dir(gun) / 'versions.json'}") from None
        if not isinstance(raw, dict):
            raise TrustError("versions", "versions.json is not an object")
        return {str(k): v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}

    def save(self, gun: str, trusted: NotaryTrustedSet) -> None:
        """Store a fully verified set: metadata first, the root pin, then versions."""
        files = dict(trusted.loaded_raw)
        root = files.pop(ROOT)
        for directory in {self.path(gun, role).parent for role in trusted.loaded_raw}:
            directory.mkdir(parents=True, exist_ok=True)
        for role, data in sorted(files.items()):
            self._write(self.path(gun, role), data, durable=False)
        self._write(self.path(gun, ROOT), root, durable=True)
        text = json.dumps(trusted.versions(), sort_keys=True, indent=1) + "\n"
        self._write(self._dir(gun) / "versions.json", text.encode("utf-8"), durable=True)

    @staticmethod
    def _write(path: Path, data: bytes, durable: bool) -> None:
        """Replace a file atomically, and only when its content changes.

        The pin and the versions are security state and are fsynced; other roles are re-verified
        on every read (and re-fetched online when their hash does not match), so a crash may lose
        them but never makes them trusted: skipping their fsync saves ~5 ms each on a cold lookup.
        """
        with contextlib.suppress(FileNotFoundError, UntrustedInput):
            if read_regular_file(path, len(data), "cached file") == data:
                return
        if durable:
            atomic_write_bytes(path, data)
            return
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def fetcher(self, gun: str) -> Callable[[str, str | None, int], bytes]:
        def fetch(name: str, _sha256: str | None, limit: int) -> bytes:
            data = self.read(gun, name)
            if data is None:
                raise NoTrustData(name, f"not in the offline cache for {gun}")
            if len(data) > limit:
                raise MetadataTooLarge(name, f"cached file has {len(data)} bytes, limit {limit}")
            return data
        return fetch
