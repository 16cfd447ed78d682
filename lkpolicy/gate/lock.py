"""The lock: the digests that passed the gate, with their evidence, consumed by the build.

`lkpolicy check --lock F` resolves every image once and writes F; `lkpolicy build --lock F`
builds exactly those digests, so a tag that moves between check and build cannot swap an
image. The lock also records the config files' hashes: a config edited after the check no
longer matches its lock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkpolicy import __version__
from lkpolicy.model.config import Config
from lkpolicy.model.findings import Finding, InputError, Location, Severity
from lkpolicy.model.reference import ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.model.rules import define_rule

LOCK_VERSION = 1
_SHA256_HEX = frozenset("0123456789abcdef")

LOCK_INVALID = define_rule(
    "LK501", "lock-invalid", "The lock file cannot be used", Severity.ERROR, "lock",
    "The build trusts the lock to name the digests that passed the gate; a lock that does not "
    "parse, or names digests in a malformed way, must stop the build.",
    "Write the lock again with `lkpolicy check --lock FILE`.",
)
LOCK_STALE = define_rule(
    "LK502", "lock-stale", "The config no longer matches its lock", Severity.ERROR, "lock",
    "A config edited after the check, or an image the lock does not name, was never judged by "
    "the gate; building it would bypass the check.",
    "Run `lkpolicy check --lock FILE` again on the current config.",
)
LOCK_UNRESOLVED = define_rule(
    "LK503", "lock-image-unresolved", "An image cannot be locked: it is not in the image cache",
    Severity.ERROR, "lock",
    "A lock names exact digests; an image that is not available cannot be resolved to one.",
    "Pull the image into the cache (`lkpolicy cache pull IMAGE`) and check again.",
)


@dataclass(slots=True)
class LockedImage:
    expanded: str
    digest: str
    media_type: str = ""
    size: int = 0
    used_in: list[str] = field(default_factory=list)
    """Where the config uses it: `kernel`, `init[0]`, `services[2]`..."""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    """What vouched for the digest (trust authorities); empty without a trust stage."""


@dataclass(slots=True)
class Lock:
    images: dict[str, LockedImage]
    config_files: dict[str, str]
    """Config path as given -> sha256 of its bytes at check time."""
    platform: str

    @property
    def digests(self) -> dict[str, str]:
        return {name: image.digest for name, image in self.images.items()}

    def to_json(self) -> str:
        data = {
            "lockVersion": LOCK_VERSION,
            "generator": f"lkpolicy {__version__}",
            "platform": self.platform,
            "configFiles": [{"path": path, "sha256": digest}
                            for path, digest in self.config_files.items()],
            "images": [{"reference": image.expanded, "digest": image.digest,
                        "mediaType": image.media_type, "size": image.size,
                        "usedIn": image.used_in, "evidence": image.evidence}
                       for image in sorted(self.images.values(), key=lambda i: i.expanded)],
        }
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def image_uses(config: Config) -> dict[str, list[str]]:
    """Expanded reference -> where the config uses it, for every image the build pulls."""
    uses: dict[str, list[str]] = {}

    def add(value: Any, where: str) -> None:
        if not isinstance(value, str):
            return
        try:
            reference = parse_reference(value)
        except ReferenceError:
            return
        uses.setdefault(reference.expanded, []).append(where)

    kernel = config.kernel.get("image")
    if kernel is not None:
        add(kernel.value, "kernel")
    for index, node in enumerate(config.section("init")):
        add(node.value, f"init[{index}]")
    for section in ("volumes", "onboot", "onshutdown", "services"):
        for index, node in enumerate(config.section(section)):
            if isinstance(node.value, dict):
                add(node.value.get("image"), f"{section}[{index}]")
    return uses


def create_lock(config: Config, paths: list[str], cache: Path, platform: str,
                evidence: dict[str, list[dict[str, Any]]] | None = None) -> tuple[Lock | None, list[Finding]]:
    """Resolve every image of the config once, from the image cache."""
    from lkpolicy.store.errors import StoreError
    from lkpolicy.store.lookup import Store

    store = Store(cache)
    images: dict[str, LockedImage] = {}
    findings: list[Finding] = []
    for expanded, used_in in sorted(image_uses(config).items()):
        try:
            descriptor = store.find(expanded)
        except StoreError as error:
            descriptor = None
            reason = str(error)
        else:
            reason = f"not in the image cache {cache}"
        if descriptor is None:
            findings.append(LOCK_UNRESOLVED.finding(
                f"cannot lock {expanded} ({', '.join(used_in)}): {reason}",
                Location(paths[-1] if paths else "-")))
            continue
        images[expanded] = LockedImage(expanded, descriptor.digest, descriptor.media_type,
                                       descriptor.size, used_in,
                                       list((evidence or {}).get(expanded, [])))
    if findings:
        return None, findings
    files = {path: file_sha256(path) for path in paths if path != "-"}
    return Lock(images, files, platform), []


def load_lock(path: str) -> Lock:
    """Parse and validate a lock file; problems are `InputError`s (exit 2)."""
    def invalid(message: str) -> InputError:
        return InputError(LOCK_INVALID.finding(message, Location(path)))

    try:
        data = json.loads(Path(path).read_bytes())
    except OSError as error:
        raise invalid(f"cannot read the lock: {error.strerror or error}") from None
    except ValueError as error:
        raise invalid(f"the lock is not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("lockVersion") != LOCK_VERSION:
        raise invalid(f"not an lkpolicy lock of version {LOCK_VERSION}")
    try:
        images: dict[str, LockedImage] = {}
        for item in data["images"]:
            digest = item["digest"]
            if not (isinstance(digest, str) and digest.startswith("sha256:")
                    and len(digest) == 71 and set(digest[7:]) <= _SHA256_HEX):
                raise invalid(f"malformed digest {digest!r} for {item.get('reference')!r}")
            images[str(item["reference"])] = LockedImage(
                str(item["reference"]), digest, str(item.get("mediaType", "")),
                int(item.get("size", 0)), list(item.get("usedIn", [])),
                list(item.get("evidence", [])))
        files = {str(entry["path"]): str(entry["sha256"]) for entry in data["configFiles"]}
        platform = str(data["platform"])
    except (KeyError, TypeError, ValueError) as error:
        raise invalid(f"the lock is malformed: {error}") from None
    return Lock(images, files, platform)


def check_matches(lock: Lock, config: Config, paths: list[str], lock_path: str) -> list[Finding]:
    """Why the config is not the one the lock was written for (empty when it is)."""
    findings: list[Finding] = []
    for path in paths:
        if path == "-":
            continue
        expected = lock.config_files.get(path)
        if expected is None:
            findings.append(LOCK_STALE.finding(
                f"{path} was not part of the check that wrote {lock_path}", Location(path)))
        elif file_sha256(path) != expected:
            findings.append(LOCK_STALE.finding(
                f"{path} changed after the check that wrote {lock_path}", Location(path)))
    for expanded, used_in in sorted(image_uses(config).items()):
        if expanded not in lock.images:
            findings.append(LOCK_STALE.finding(
                f"{expanded} ({', '.join(used_in)}) is not in the lock {lock_path}",
                Location(paths[-1] if paths else "-")))
    return findings
