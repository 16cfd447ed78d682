"""What a container is granted, read from its effective config.json: the one answer that the
policy engine and `lkpolicy diff` both use.

Every grant carries its `Provenance` (the YAML entry, the image label, the image config or a
linuxkit default) and its pointer in config.json, so a finding can point at the YAML line that
grants it, or at the `image:` line when the label does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from lkpolicy.stages.effective import Effective, Origin, Provenance

DEFAULT_PROVENANCE = Provenance(Origin.DEFAULT)

NAMESPACE_TYPES = {"net": "network", "pid": "pid", "ipc": "ipc", "uts": "uts", "userns": "user"}
"""YAML key -> OCI namespace type, for the namespaces a container can share with the host."""
NAMESPACE_WORDS = {"net": "network", "pid": "pid", "ipc": "ipc", "uts": "uts", "userns": "user"}
_HOST_VALUES = ("host", "root")
_HOST_PATH_PREFIX = "/proc/1/ns/"


# The records below are NamedTuples, not dataclasses: every check that runs the policy defines
# them, and defining a dataclass costs about ten times as much (its methods are generated and
# compiled at import time).


class Capability(NamedTuple):
    name: str
    provenance: Provenance
    pointer: str
    """Where config.json lists it."""


class Namespace(NamedTuple):
    key: str
    """The YAML key: `net`, `pid`, `ipc`, `uts` or `userns`."""
    state: str
    """`host` (shared with the host), `new`, or the path of another namespace."""
    provenance: Provenance

    @property
    def shared_with_host(self) -> bool:
        return self.state == "host"


class Mount(NamedTuple):
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


class Device(NamedTuple):
    path: str
    """The device node's path, or `all:<type>` for a cgroup rule that allows every device."""
    block: bool
    provenance: Provenance
    pointer: str

    @property
    def every_device(self) -> bool:
        return self.path.startswith("all:")


class Setting(NamedTuple):
    value: Any
    provenance: Provenance
    pointer: str


class Grants(NamedTuple):
    capabilities: list[Capability]
    """The bounding set (what the process can ever hold)."""
    ambient: list[Capability]
    namespaces: dict[str, Namespace]
    mounts: list[Mount]
    """Mounts the YAML or the label asks for (linuxkit's default mounts left out)."""
    devices: list[Device]
    readonly: Setting
    no_new_privileges: Setting
    rootfs_propagation: Setting
    sysctls: Setting

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
    capabilities = process.get("capabilities", {})
    bounding, ambient = (_capabilities(effective, capabilities.get(key, []), key)
                         for key in ("bounding", "ambient"))
    mounts: list[Mount] = []
    for index, mount in enumerate(config.get("mounts", [])):
        pointer = f"/mounts/{index}"
        provenance = origins.get(pointer, DEFAULT_PROVENANCE)
        if provenance.origin is Origin.DEFAULT:
            continue
        options = [str(option) for option in mount.get("options") or []]
        kind = "bind" if (mount.get("type") == "bind" or "bind" in options
                          or "rbind" in options) else str(mount.get("type", ""))
        mounts.append(Mount(str(mount.get("destination", "")), str(mount.get("source", "")),
                            kind, readonly_from_options(options), provenance, pointer))
    devices: list[Device] = []
    for index, device in enumerate(linux.get("devices", [])):
        pointer = f"/linux/devices/{index}"
        devices.append(Device(str(device.get("path", "")), device.get("type") == "b",
                              origins.get(pointer, DEFAULT_PROVENANCE), pointer))
    for index, rule in enumerate(linux.get("resources", {}).get("devices", [])):
        if rule.get("allow") and rule.get("major") in (None, -1):
            pointer = f"/linux/resources/devices/{index}"
            provenance = origins.get(pointer, origins.get("/linux/resources", DEFAULT_PROVENANCE))
            devices.append(Device(f"all:{rule.get('type') or 'a'}", False, provenance, pointer))
    return Grants(bounding, ambient, _namespaces(effective, entry), mounts, devices,
                  readonly=_setting(effective, "/root/readonly"),
                  no_new_privileges=_setting(effective, "/process/noNewPrivileges"),
                  rootfs_propagation=_setting(effective, "/linux/rootfsPropagation"),
                  sysctls=_setting(effective, "/linux/sysctl"))


def _capabilities(effective: Effective, names: list[str], key: str) -> list[Capability]:
    pointers = [f"/process/capabilities/{key}/{index}" for index in range(len(names))]
    return [Capability(name, effective.origins.get(pointer, DEFAULT_PROVENANCE), pointer)
            for name, pointer in zip(names, pointers, strict=True)]


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
