"""What a CEL condition sees: the variables of each scope, read from the gate's one effective
config of each container (`stages/containers`, `stages/effective/grants`) and from the Go
model of the whole config (`model/gomodel`). docs/custom-rules.md documents every one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.model.config import Config
    from lkpolicy.model.reference import ImageRef
    from lkpolicy.stages.effective.grants import Grants
    from lkpolicy.stages.policy.engine import Target

__all__ = ["CONTAINER_SOURCES", "config_variables", "container_variables", "grants_view",
           "image_view"]

CONTAINER_SOURCES = ("entry", "label")
"""The variables of a container that the others are computed from (by linuxkit's rules)."""


def container_variables(target: Target) -> dict[str, Any]:
    container = target.container
    effective = container.effective
    assert effective is not None
    return {
        "config": effective.config,
        "runtime": effective.runtime,
        "entry": container.entry,
        "label": effective.label or {},
        "grants": grants_view(target.grants),
        "image": image_view(container.reference, container.entry.get("image")),
        "section": container.section,
        "name": container.name,
    }


def grants_view(grants: Grants) -> dict[str, Any]:
    """The grants as plain data, in the order and with the names of `Grants`."""
    return {
        "capabilities": [cap.name for cap in grants.capabilities],
        "ambient": [cap.name for cap in grants.ambient],
        "namespaces": {key: ns.state for key, ns in grants.namespaces.items()},
        "host_namespaces": [ns.key for ns in grants.host_namespaces],
        "mounts": [{"destination": m.destination, "source": m.source, "kind": m.kind,
                    "readonly": m.readonly} for m in grants.mounts],
        "devices": [{"path": d.path, "block": d.block, "every_device": d.every_device}
                    for d in grants.devices],
        "readonly": grants.readonly.value is True,
        "no_new_privileges": grants.no_new_privileges.value is True,
        "rootfs_propagation": grants.rootfs_propagation.value or "",
        "sysctls": grants.sysctls.value if isinstance(grants.sysctls.value, dict) else {},
    }


def image_view(reference: ImageRef | None, written: Any) -> dict[str, Any]:
    """The image reference: as written, expanded, and its parts (empty when it does not
    parse)."""
    text = written if isinstance(written, str) else ""
    if reference is None:
        return {"original": text, "reference": text, "name": "", "locator": "", "registry": "",
                "repository": "", "tag": "", "digest": "", "pinned": False}
    return {"original": reference.original, "reference": reference.expanded,
            "name": reference.name, "locator": reference.locator, "registry": reference.registry,
            "repository": reference.repository, "tag": reference.tag or "",
            "digest": reference.digest or "", "pinned": reference.pinned}


def config_variables(config: Config) -> dict[str, Any]:
    """The whole config as linuxkit's Go `Moby` struct holds it (after templates, merged)."""
    from lkpolicy.model.gomodel import go_model

    return go_model(config)
