"""What a container is granted, read from its effective config.json: the one answer that the
policy engine and `lkpolicy diff` both use.

Every grant carries its `Provenance` (the YAML entry, the image label, the image config or a
linuxkit default) and its pointer in config.json, so a finding can point at the YAML line that
grants it, or at the `image:` line when the label does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lkpolicy.stages.effective import Effective, Origin, Provenance

DEFAULT_PROVENANCE = Provenance(Origin.DEFAULT)

NAMESPACE_TYPES = {"net": "network", "pid": "pid", "ipc": "ipc", "uts": "uts", "userns": "user"}
"""YAML key -> OCI namespace type, for the namespaces a container can share with the host."""
NAMESPACE_WORDS = {"net": "network", "pid": "pid", "ipc": "ipc", "uts": "uts", "userns": "user"}
_HOST_VALUES = ("host", "root")
_HOST_PATH_PREFIX = "/proc/1/ns/"


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    provenance: Provenance
    pointer: str
    """Where config.json lists it."""


@dataclass(frozen=True, slots=True)
class Namespace:
    key: str
    """The YAML key: `net`, `pid`, `ipc`, `uts` or `userns`."""
    state: str
    """`host` (shared with the host), `new`, or the path of another namespace."""
    provenance: Provenance

    @property
    def shared_with_host(self) -> bool:
        return self.state == "host"


@dataclass(frozen=True, slots=True)
class Mount:
    destination: str
    source: str
    kind: str
    """`bind` for bind mounts (by type or option), else the mount type."""
    readonly: bool
    provenance: Provenance
    pointer: str

    @property
    def is_bind(self) -> bool:
        return self.kind == "bind"


@dataclass(frozen=True, slots=True)
class Device:
    path: str
    """The device node's path, or `all:<type>` for a cgroup rule that allows every device."""
    block: bool
    provenance: Provenance
    pointer: str

    @property
    def every_device(self) -> bool:
        return self.path.startswith("all:")


@dataclass(frozen=True, slots=True)
class Setting:
    value: Any
    provenance: Provenance
    pointer: str


@dataclass(slots=True)
class Grants:
    capabilities: list[Capability] = field(default_factory=list)
    """The bounding set (what the process can ever hold)."""
    ambient: list[Capability] = field(default_factory=list)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    """Mounts the YAML or the label asks for (linuxkit's default mounts left out)."""
    devices: list[Device] = field(default_factory=list)
    readonly: Setting = field(default_factory=lambda: Setting(False, DEFAULT_PROVENANCE, ""))
    no_new_privileges: Setting = field(
        default_factory=lambda: Setting(False, DEFAULT_PROVENANCE, ""))
    rootfs_propagation: Setting = field(
        default_factory=lambda: Setting("", DEFAULT_PROVENANCE, ""))
    sysctls: Setting = field(default_factory=lambda: Setting({}, DEFAULT_PROVENANCE, ""))

    @property
    def host_namespaces(self) -> list[Namespace]:
        return [ns for ns in self.namespaces.values() if ns.shared_with_host]


def readonly_from_options(options: list[str]) -> bool:
    """mount(8) semantics: the last of `ro` and `rw` wins; neither means read-write."""
    readonly = False
    for option in options:
        if option in ("ro", "rw"):
            readonly = option == "ro"
    return readonly


def grants_of(effective: Effective, entry: dict[str, Any]) -> Grants:
    """The grants of one container; `entry` is its YAML entry after templates (namespace
    values are taken from it and from the label, as linuxkit decides them)."""
    config = effective.config
    origins = effective.origins
    process = config.get("process", {})
    linux = config.get("linux", {})
    grants = Grants()
    capabilities = process.get("capabilities", {})
    for key, target in (("bounding", grants.capabilities), ("ambient", grants.ambient)):
        for index, name in enumerate(capabilities.get(key, [])):
            pointer = f"/process/capabilities/{key}/{index}"
            target.append(Capability(name, origins.get(pointer, DEFAULT_PROVENANCE), pointer))
    grants.namespaces = _namespaces(effective, entry)
    for index, mount in enumerate(config.get("mounts", [])):
        pointer = f"/mounts/{index}"
        provenance = origins.get(pointer, DEFAULT_PROVENANCE)
        if provenance.origin is Origin.DEFAULT:
            continue
        options = [str(option) for option in mount.get("options") or []]
        kind = "bind" if (mount.get("type") == "bind" or "bind" in options
                          or "rbind" in options) else str(mount.get("type", ""))
        grants.mounts.append(Mount(str(mount.get("destination", "")),
                                   str(mount.get("source", "")), kind,
                                   readonly_from_options(options), provenance, pointer))
    for index, device in enumerate(linux.get("devices", [])):
        pointer = f"/linux/devices/{index}"
        grants.devices.append(Device(str(device.get("path", "")), device.get("type") == "b",
                                     origins.get(pointer, DEFAULT_PROVENANCE), pointer))
    for index, rule in enumerate(linux.get("resources", {}).get("devices", [])):
        if rule.get("allow") and rule.get("major") in (None, -1):
            pointer = f"/linux/resources/devices/{index}"
            provenance = origins.get(pointer, origins.get("/linux/resources", DEFAULT_PROVENANCE))
            grants.devices.append(Device(f"all:{rule.get('type') or 'a'}", False, provenance,
                                         pointer))
    grants.readonly = _setting(effective, "/root/readonly")
    grants.no_new_privileges = _setting(effective, "/process/noNewPrivileges")
    grants.rootfs_propagation = _setting(effective, "/linux/rootfsPropagation")
    grants.sysctls = _setting(effective, "/linux/sysctl")
    return grants


def _setting(effective: Effective, pointer: str) -> Setting:
    value: Any = effective.config
    for part in pointer.strip("/").split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return Setting(value, effective.origins.get(pointer, DEFAULT_PROVENANCE), pointer)


def _namespaces(effective: Effective, entry: dict[str, Any]) -> dict[str, Namespace]:
    present = {ns.get("type"): str(ns.get("path", ""))
               for ns in effective.config.get("linux", {}).get("namespaces", [])}
    result: dict[str, Namespace] = {}
    for key, kind in NAMESPACE_TYPES.items():
        if kind not in present:
            state = "host"
        elif not present[kind]:
            state = "new"
        elif present[kind] in _HOST_VALUES or present[kind].startswith(_HOST_PATH_PREFIX):
            state = "host"
        else:
            state = present[kind]
        result[key] = Namespace(key, state, _namespace_source(effective, entry, key))
    return result


def _namespace_source(effective: Effective, entry: dict[str, Any], key: str) -> Provenance:
    # linuxkit reads the namespace from the YAML when it is set there, else from the label.
    value = entry.get(key)
    if isinstance(value, str) and value:
        return Provenance(Origin.YAML, key)
    label = effective.label
    if label and isinstance(label.get(key), str) and label[key]:
        return Provenance(Origin.LABEL, key)
    return DEFAULT_PROVENANCE
