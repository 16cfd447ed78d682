"""The lock: the digests that passed the gate, with their evidence, consumed by the build.

`lkpolicy check --lock F` resolves every image once and writes F; `lkpolicy build --lock F`
builds exactly those digests, so a tag that moves between check and build cannot swap an
image. The lock also records the config files' hashes and the sha256 of every host file that
`files:` entries copy: a config or a file edited after the check no longer matches its lock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lkpolicy import __version__
from lkpolicy.model.findings import Finding, InputError, Location, Severity
from lkpolicy.model.rules import define_rule

if TYPE_CHECKING:
    from lkpolicy.gate.unit import GateUnit

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
class LockedFile:
    """A `files` entry's host file as the gate read it (`LocalFile`)."""

    index: int
    path: str
    """Where it lands in the image (the entry's `path:`)."""
    source: str
    """The host path read."""
    sha256: str | None
    """`sha256:<hex>`; None for an optional source that was absent."""
    size: int = 0


@dataclass(slots=True)
class Lock:
    images: dict[str, LockedImage]
    config_files: dict[str, str]
    """Config path as given -> sha256 of its bytes at check time."""
    platform: str
    files: dict[int, LockedFile] = field(default_factory=dict)
    """`files` index -> the host file copied there, as the check read it."""

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
            "files": [{"index": file.index, "path": file.path, "source": file.source,
                       "sha256": file.sha256, "size": file.size}
                      for file in sorted(self.files.values(), key=lambda f: f.index)],
        }
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


MAX_LOCK_BYTES = 16 * 1024 * 1024


def file_sha256(path: str) -> str:
    from lkpolicy.safeio import read_regular_file
    from lkpolicy.stages.load import MAX_CONFIG_BYTES

    return hashlib.sha256(read_regular_file(path, MAX_CONFIG_BYTES, "config")).hexdigest()


def create_lock(unit: GateUnit) -> Lock:
    """The lock of a unit that passed the gate: its resolution, as the build will use it."""
    resolution = unit.resolution
    if resolution is None or not resolution.complete or resolution.platform is None:
        raise ValueError("only a gate with every image resolved can be locked")
    evidence = unit.trust.evidence if unit.trust is not None else {}
    images: dict[str, LockedImage] = {}
    for expanded, image in sorted(resolution.images.items()):
        descriptor = image.descriptor
        images[expanded] = LockedImage(
            expanded, descriptor.digest, descriptor.media_type, descriptor.size,
            [use.where for use in resolution.uses_of(expanded)],
            list(evidence.get(descriptor.digest, [])))
    configs = {path: file_sha256(path) for path in unit.paths if path != "-"}
    files = {index: LockedFile(index, local.target, local.path, local.sha256, local.size)
             for index, local in sorted(unit.local_files.items())}
    return Lock(images, configs, str(resolution.platform), files)


def load_lock(path: str) -> Lock:
    """Parse and validate a lock file; problems are `InputError`s (exit 2)."""
    from lkpolicy.safeio import UntrustedInput, bounded_int, parse_json, read_regular_file

    def invalid(message: str) -> InputError:
        return InputError(LOCK_INVALID.finding(
            message, Location(path),
            hint=f"write the lock again: `lkpolicy check --lock {path} CONFIG...`"))

    try:
        data = parse_json(read_regular_file(path, MAX_LOCK_BYTES, "lock"), "the lock")
    except OSError as error:
        raise invalid(f"cannot read the lock: {error.strerror or error}") from None
    except UntrustedInput as error:
        raise invalid(str(error)) from None
    if not isinstance(data, dict) or data.get("lockVersion") != LOCK_VERSION:
        raise invalid(f"not an lkpolicy lock of version {LOCK_VERSION}")
    try:
        images: dict[str, LockedImage] = {}
        for item in data["images"]:
            digest = item["digest"]
            if not _is_sha256(digest):
                raise invalid(f"malformed digest {_shown(digest)} for "
                              f"{_shown(item.get('reference'))}")
            reference = item["reference"]
            if not isinstance(reference, str):
                raise invalid("an image reference is not a string")
            images[reference] = LockedImage(
                reference, digest, str(item.get("mediaType", "")),
                bounded_int(item.get("size", 0), f"the size of {reference}"),
                [str(where) for where in item.get("usedIn", [])],
                list(item.get("evidence", [])))
        configs = {str(entry["path"]): str(entry["sha256"]) for entry in data["configFiles"]}
        platform = str(data["platform"])
        # Locks written before files were locked have none: every file is then unlocked.
        files = {}
        for entry in data.get("files", []):
            locked = LockedFile(bounded_int(entry["index"], "a file's index"),
                                str(entry["path"]), str(entry["source"]), entry["sha256"],
                                bounded_int(entry.get("size", 0), "a file's size"))
            if locked.sha256 is not None and not _is_sha256(locked.sha256):
                raise invalid(f"malformed sha256 {_shown(locked.sha256)} for the file "
                              f"{_shown(locked.source)}")
            files[locked.index] = locked
    except UntrustedInput as error:
        raise invalid(f"the lock is malformed: {error}") from None
    except (KeyError, TypeError, AttributeError) as error:
        raise invalid(f"the lock is malformed: missing or wrong field {error}") from None
    return Lock(images, configs, platform, files)


def _is_sha256(digest: object) -> bool:
    return (isinstance(digest, str) and digest.startswith("sha256:") and len(digest) == 71
            and set(digest[7:]) <= _SHA256_HEX)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_matches(lock: Lock, unit: GateUnit, lock_path: str) -> list[Finding]:
    """Why the gate's resolution is not the one the lock was written for (empty when it is):
    a config edited since, an image the lock does not name, or one that now resolves to
    another digest (a tag moved in the cache), or a host file that `files:` copies and that
    changed since the check (or was not part of it)."""
    resolution = unit.resolution
    assert resolution is not None
    findings: list[Finding] = []
    for path in unit.paths:
        if path == "-":
            continue
        expected = lock.config_files.get(path)
        if expected is None:
            findings.append(LOCK_STALE.finding(
                f"{path} was not part of the check that wrote {lock_path}", Location(path)))
        elif file_sha256(path) != expected:
            findings.append(LOCK_STALE.finding(
                f"{path} changed after the check that wrote {lock_path}", Location(path)))
    if resolution.platform is not None and str(resolution.platform) != lock.platform:
        findings.append(LOCK_STALE.finding(
            f"the lock {lock_path} is for {lock.platform}, the build for {resolution.platform}",
            Location(unit.paths[-1])))
    findings.extend(_changed_files(lock, unit, lock_path))
    for expanded, image in sorted(resolution.images.items()):
        first = resolution.uses_of(expanded)[0]
        locked = lock.images.get(expanded)
        if locked is None:
            findings.append(LOCK_STALE.finding(
                f"{first.described} image `{expanded}` is not in the lock {lock_path}",
                first.node.location, first.node.pointer))
        elif locked.digest != image.digest:
            findings.append(LOCK_STALE.finding(
                f"{first.described} image `{expanded}` resolves to {image.digest} in the image "
                f"cache, not to {locked.digest} that passed the gate ({lock_path})",
                first.node.location, first.node.pointer))
    # The build uses the lock only as the gate wrote it: judge the config again.
    import shlex

    merge = ["--merge"] if len(unit.paths) > 1 else []
    again = ["lkpolicy", "check", *merge, "--lock", lock_path, *unit.paths]
    hint = (f"once what changed is reviewed, run `{shlex.join(again)}` again (with the "
            "build's `--cache` and `--arch`)")
    return [replace(finding, hint=hint) for finding in findings]


def _changed_files(lock: Lock, unit: GateUnit, lock_path: str) -> list[Finding]:
    findings = []
    for index, local in sorted(unit.local_files.items()):
        locked = lock.files.get(index)
        node = local.node
        if locked is None or locked.source != local.path:
            findings.append(LOCK_STALE.finding(
                f"`files` source {local.path} was not part of the check that wrote {lock_path}",
                node.location, node.pointer))
        elif locked.sha256 != local.sha256:
            findings.append(LOCK_STALE.finding(
                f"`files` source {local.path} changed after the check that wrote {lock_path} "
                f"({locked.sha256 or 'absent'} then, {local.sha256 or 'absent'} now)",
                node.location, node.pointer))
    return findings
