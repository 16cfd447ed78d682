"""The mounts of config.json and runtime.json: linuxkit's defaults, `tmpfs` and `binds`
strings, the completion of a `mounts` entry, and the mounts that assemble the root file system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lkpolicy.gocompat import paths as gopath
from lkpolicy.stages.effective.types import DEFAULT, Placement, Provenance, SpecError

__all__ = [
    "Mount",
    "complete_mount",
    "default_mounts",
    "parse_bind",
    "parse_tmpfs",
    "rootfs_mounts",
]

_TYPE_FROM_SOURCE = frozenset({"mqueue", "devpts", "proc", "sysfs", "cgroup"})
_DEFAULT_MOUNTPOINTS = {
    "proc": "/proc",
    "devpts": "/dev/pts",
    "sysfs": "/sys",
    "cgroup": "/sys/fs/cgroup",
    "mqueue": "/dev/mqueue",
}


@dataclass(slots=True)
class Mount:
    """One mount of config.json; mounts are keyed (and replaced) by destination."""

    destination: str
    type: str
    source: str
    options: list[str] | None
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"destination": self.destination}
        if self.type:
            out["type"] = self.type
        if self.source:
            out["source"] = self.source
        if self.options:
            out["options"] = list(self.options)
        return out


def default_mounts(readonly: bool) -> list[Mount]:
    """The mounts every container starts with (`ro` added where the root is read-only)."""
    ro = ["ro"] if readonly else []
    return [
        Mount("/proc", "proc", "proc", ["nosuid", "nodev", "noexec", "relatime"], DEFAULT),
        Mount("/dev", "tmpfs", "tmpfs",
              ["nosuid", "strictatime", "mode=755", "size=65536k", *ro], DEFAULT),
        Mount("/dev/pts", "devpts", "devpts",
              ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"], DEFAULT),
        Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro], DEFAULT),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup",
              ["nosuid", "noexec", "nodev", "relatime", "ro"], DEFAULT),
    ]


def parse_tmpfs(text: str, provenance: Provenance) -> Mount:
    """A `tmpfs` entry: `<destination>[:<options,...>]`."""
    parts = text.split(":")
    if len(parts) > 2:
        raise SpecError(f"cannot parse tmpfs, too many ':': {text}")
    options = parts[1].split(",") if len(parts) == 2 else None
    return Mount(parts[0], "tmpfs", "tmpfs", options, provenance)


def parse_bind(text: str, provenance: Provenance) -> Mount:
    """A `binds` entry: `<source>:<destination>[:<options,...>]`."""
    parts = text.split(":")
    if len(parts) < 2:
        raise SpecError(f"cannot parse bind, missing ':': {text}")
    if len(parts) > 3:
        raise SpecError(f"cannot parse bind, too many ':': {text}")
    options = [*parts[2].split(","), "rbind"] if len(parts) == 3 else ["rw", "rbind", "rshared"]
    return Mount(parts[1], "bind", parts[0], options, provenance)


def complete_mount(decoded: dict[str, Any], provenance: Provenance) -> Mount:
    """A decoded `mounts` entry with the type, source and destination linuxkit infers."""
    kind: str = decoded.get("type", "")
    source: str = decoded.get("source", "")
    destination: str = decoded["destination"]
    if not kind and source in _TYPE_FROM_SOURCE:
        kind = source
    if not kind and destination == "/dev":
        kind = "tmpfs"
    if not kind:
        raise SpecError(f"mount for destination {destination} is missing type")
    source = source or kind
    destination = destination or _DEFAULT_MOUNTPOINTS.get(kind, "")
    if not destination:
        raise SpecError(f"mount type {kind} is missing destination")
    return Mount(destination, kind, source, decoded.get("options"), provenance)


def rootfs_mounts(placement: Placement, lower: str, readonly: bool) -> list[dict[str, Any]]:
    """The mounts linuxkit puts before `runtime.mounts` (`ImageBundle`)."""
    prefix = placement.path
    if readonly:
        return [{"destination": "/" + gopath.join(prefix, "rootfs"), "source": "/" + lower,
                 "options": ["bind"]}]
    tmp = gopath.join(prefix, "tmp")
    return [
        {"destination": "/" + tmp, "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/" + tmp, "options": ["remount", "private"]},
        {"destination": "/" + gopath.join(prefix, "rootfs"), "type": "overlay", "source": "overlay",
         "options": ["lowerdir=/" + lower, "upperdir=/" + gopath.join(tmp, "upper"),
                     "workdir=/" + gopath.join(tmp, "work")]},
    ]
