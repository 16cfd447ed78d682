"""The security facts of one container that `lkpolicy diff` compares, read from the grants of
its effective config (the same reading the policy engine uses), with the YAML pointer that a
change should point at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lkpolicy.model.config import Node
from lkpolicy.model.document import join_pointer
from lkpolicy.stages.effective import Origin, Provenance

if TYPE_CHECKING:
    from lkpolicy.stages.containers import Container


@dataclass(frozen=True, slots=True)
class MountFact:
    destination: str
    source: str
    kind: str
    writable: bool
    pointer: str

    def describe(self) -> str:
        mode = "rw" if self.writable else "ro"
        if self.kind == "bind":
            return f"bind {self.source} -> {self.destination} ({mode})"
        return f"{self.kind} mount {self.source} -> {self.destination} ({mode})"


@dataclass(slots=True)
class ContainerFacts:
    node: Node
    capabilities: dict[str, str] = field(default_factory=dict)
    """Name -> pointer of the value that granted it."""
    mounts: dict[str, MountFact] = field(default_factory=dict)
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    """YAML key -> (`host`, `new` or a namespace path; pointer; the entry's own pointer when
    linuxkit's default decides)."""
    readonly: tuple[bool, str] = (False, "")
    no_new_privileges: tuple[bool, str] = (False, "")
    devices: dict[str, str] = field(default_factory=dict)
    """Device path (or `all:<type>`) -> pointer."""
    image: str | None = None


def container_facts(container: Container) -> ContainerFacts:
    """The facts of a container whose effective config could be created."""
    from lkpolicy.stages.effective.grants import grants_of

    node = container.node
    facts = ContainerFacts(node)
    image = container.entry.get("image")
    facts.image = image if isinstance(image, str) else None
    effective = container.effective
    if effective is None:
        return facts
    grants = grants_of(effective, container.entry)

    def where(provenance: Provenance) -> str:
        if provenance.origin is Origin.YAML and provenance.pointer is not None:
            return node.pointer + provenance.pointer
        if provenance.origin in (Origin.LABEL, Origin.IMAGE):
            return join_pointer(node.pointer, "image")
        return node.pointer

    for capability in [*grants.capabilities, *grants.ambient]:
        facts.capabilities.setdefault(capability.name, where(capability.provenance))
    for mount in grants.mounts:
        facts.mounts[mount.destination] = MountFact(mount.destination, mount.source, mount.kind,
                                                    not mount.readonly, where(mount.provenance))
    for key, namespace in grants.namespaces.items():
        facts.namespaces[key] = (namespace.state, where(namespace.provenance))
    facts.readonly = (grants.readonly.value is True, where(grants.readonly.provenance))
    facts.no_new_privileges = (grants.no_new_privileges.value is True,
                               where(grants.no_new_privileges.provenance))
    for device in grants.devices:
        facts.devices.setdefault(device.path, where(device.provenance))
    return facts
