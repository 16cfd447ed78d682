"""The OCI runtime-spec Go types (v1.2.1) that linuxkit decodes `mounts`, `resources`,
id mappings and `runtime` into, and the decoder that reproduces yaml.v3 doing it.

yaml.v3 matches the fields of these types by the lower-cased Go field name (they carry JSON
tags only), which is why multi-word camelCase keys are dropped (spec section 4); output
follows the JSON tags and `omitempty` rules. Building the tables costs import time that most
entries never need, so callers import this module only when such a block is present.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, NamedTuple

from lkpolicy.model.document import escape_pointer_token
from lkpolicy.stages.effective.source import Invalid, decode_scalar
from lkpolicy.stages.effective.types import DroppedKey, Origin

__all__ = [
    "ID_MAPPING",
    "INTERFACE",
    "MOUNT",
    "RESOURCES",
    "Decoder",
    "Field",
    "Omit",
    "Struct",
    "is_zero",
    "printed",
]


class Omit(enum.Enum):
    """How a field's JSON tag treats an empty value."""

    NEVER = "never"
    """No omitempty: always printed (zero value when absent)."""
    NIL = "nil"
    """Pointer with omitempty: printed whenever it was set, even to a zero value."""
    ZERO = "zero"
    """Value with omitempty: printed unless it is the zero value (0, "", false, empty)."""


# NamedTuples rather than dataclasses: these tables are built on demand, and a NamedTuple
# class and its ~80 instances cost a fraction of what frozen dataclasses cost to create.
class Field(NamedTuple):
    """One field of a Go struct: its yaml.v3 key, its JSON name, its kind and omit rule."""

    yaml: str
    json: str
    kind: str
    """"int", "str", "bool", "struct", "inline" (embedded struct), "list" or "map"."""
    omit: Omit
    elem: Struct | str | None = None
    """Struct of a struct/inline field; element type of a list or map (a struct or a kind)."""


class Struct(NamedTuple):
    """A Go struct type, its fields in declaration (= JSON output) order."""

    name: str
    fields: tuple[Field, ...]

    def field_for(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.yaml == key), None)


def _f(yaml: str, json: str, kind: str, omit: Omit, elem: Struct | str | None = None) -> Field:
    return Field(yaml, json, kind, omit, elem)


_N, _P, _Z = Omit.NEVER, Omit.NIL, Omit.ZERO

ID_MAPPING = Struct("LinuxIDMapping", (
    _f("containerid", "containerID", "int", _N),
    _f("hostid", "hostID", "int", _N),
    _f("size", "size", "int", _N),
))
MOUNT = Struct("Mount", (
    _f("destination", "destination", "str", _N),
    _f("type", "type", "str", _Z),
    _f("source", "source", "str", _Z),
    _f("options", "options", "list", _Z, "str"),
    _f("uidmappings", "uidMappings", "list", _Z, ID_MAPPING),
    _f("gidmappings", "gidMappings", "list", _Z, ID_MAPPING),
))
_DEVICE_CGROUP = Struct("LinuxDeviceCgroup", (
    _f("allow", "allow", "bool", _N),
    _f("type", "type", "str", _Z),
    _f("major", "major", "int", _P),
    _f("minor", "minor", "int", _P),
    _f("access", "access", "str", _Z),
))
_MEMORY = Struct("LinuxMemory", (
    _f("limit", "limit", "int", _P),
    _f("reservation", "reservation", "int", _P),
    _f("swap", "swap", "int", _P),
    _f("kernel", "kernel", "int", _P),
    _f("kerneltcp", "kernelTCP", "int", _P),
    _f("swappiness", "swappiness", "int", _P),
    _f("disableoomkiller", "disableOOMKiller", "bool", _P),
    _f("usehierarchy", "useHierarchy", "bool", _P),
    _f("checkbeforeupdate", "checkBeforeUpdate", "bool", _P),
))
_CPU = Struct("LinuxCPU", (
    _f("shares", "shares", "int", _P),
    _f("quota", "quota", "int", _P),
    _f("burst", "burst", "int", _P),
    _f("period", "period", "int", _P),
    _f("realtimeruntime", "realtimeRuntime", "int", _P),
    _f("realtimeperiod", "realtimePeriod", "int", _P),
    _f("cpus", "cpus", "str", _Z),
    _f("mems", "mems", "str", _Z),
    _f("idle", "idle", "int", _P),
))
_PIDS = Struct("LinuxPids", (_f("limit", "limit", "int", _N),))
_BLOCKIO_DEVICE = Struct("LinuxBlockIODevice", (
    _f("major", "major", "int", _N),
    _f("minor", "minor", "int", _N),
))
_WEIGHT_DEVICE = Struct("LinuxWeightDevice", (
    _f("linuxblockiodevice", "", "inline", _N, _BLOCKIO_DEVICE),
    _f("weight", "weight", "int", _P),
    _f("leafweight", "leafWeight", "int", _P),
))
_THROTTLE_DEVICE = Struct("LinuxThrottleDevice", (
    _f("linuxblockiodevice", "", "inline", _N, _BLOCKIO_DEVICE),
    _f("rate", "rate", "int", _N),
))
_BLOCKIO = Struct("LinuxBlockIO", (
    _f("weight", "weight", "int", _P),
    _f("leafweight", "leafWeight", "int", _P),
    _f("weightdevice", "weightDevice", "list", _Z, _WEIGHT_DEVICE),
    _f("throttlereadbpsdevice", "throttleReadBpsDevice", "list", _Z, _THROTTLE_DEVICE),
    _f("throttlewritebpsdevice", "throttleWriteBpsDevice", "list", _Z, _THROTTLE_DEVICE),
    _f("throttlereadiopsdevice", "throttleReadIOPSDevice", "list", _Z, _THROTTLE_DEVICE),
    _f("throttlewriteiopsdevice", "throttleWriteIOPSDevice", "list", _Z, _THROTTLE_DEVICE),
))
_HUGEPAGE = Struct("LinuxHugepageLimit", (
    _f("pagesize", "pageSize", "str", _N),
    _f("limit", "limit", "int", _N),
))
_PRIORITY = Struct("LinuxInterfacePriority", (
    _f("name", "name", "str", _N),
    _f("priority", "priority", "int", _N),
))
_NETWORK = Struct("LinuxNetwork", (
    _f("classid", "classID", "int", _P),
    _f("priorities", "priorities", "list", _Z, _PRIORITY),
))
_RDMA = Struct("LinuxRdma", (
    _f("hcahandles", "hcaHandles", "int", _P),
    _f("hcaobjects", "hcaObjects", "int", _P),
))
RESOURCES = Struct("LinuxResources", (
    _f("devices", "devices", "list", _Z, _DEVICE_CGROUP),
    _f("memory", "memory", "struct", _P, _MEMORY),
    _f("cpu", "cpu", "struct", _P, _CPU),
    _f("pids", "pids", "struct", _P, _PIDS),
    _f("blockio", "blockIO", "struct", _P, _BLOCKIO),
    _f("hugepagelimits", "hugepageLimits", "list", _Z, _HUGEPAGE),
    _f("network", "network", "struct", _P, _NETWORK),
    _f("rdma", "rdma", "map", _Z, _RDMA),
    _f("unified", "unified", "map", _Z, "str"),
))
# linuxkit's own runtime.json types carry yaml tags, so camelCase works there.
INTERFACE = Struct("Interface", (
    _f("name", "name", "str", _Z),
    _f("add", "add", "str", _Z),
    _f("peer", "peer", "str", _Z),
    _f("createInRoot", "createInRoot", "bool", _N),
))


class Decoder:
    """Decodes YAML data into one of the Go types above, noting every key that is dropped."""

    def __init__(self, origin: Origin, dropped: list[DroppedKey]) -> None:
        self.origin = origin
        self.dropped = dropped

    def struct(self, model: Struct, data: Any, pointer: str) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise Invalid(pointer, f"expected an object ({model.name})")
        for key in data:
            if model.field_for(str(key)) is None:
                self._drop(model, str(key), f"{pointer}/{escape_pointer_token(str(key))}")
        out: dict[str, Any] = {}
        for spec in model.fields:
            raw = data.get(spec.yaml)
            child = f"{pointer}/{escape_pointer_token(spec.yaml)}"
            if spec.kind == "inline":
                assert isinstance(spec.elem, Struct)
                out.update(self.struct(spec.elem, raw if raw is not None else {}, child))
                continue
            value = self.value(spec, raw, child)
            if printed(spec, raw, value):
                out[spec.json] = value
        return out

    def value(self, spec: Field, raw: Any, pointer: str) -> Any:
        if spec.kind in ("int", "str", "bool"):
            return decode_scalar(spec.kind, raw, pointer)
        if raw is None:
            return None
        if spec.kind == "struct":
            assert isinstance(spec.elem, Struct)
            return self.struct(spec.elem, raw, pointer)
        if spec.kind == "list":
            if not isinstance(raw, list):
                raise Invalid(pointer, "expected a list")
            return [self.element(spec.elem, item, f"{pointer}/{index}")
                    for index, item in enumerate(raw)]
        if not isinstance(raw, Mapping):
            raise Invalid(pointer, "expected an object")
        return {str(key): self.element(spec.elem, raw[key],
                                       f"{pointer}/{escape_pointer_token(str(key))}")
                for key in sorted(raw, key=str)}

    def element(self, elem: Struct | str | None, raw: Any, pointer: str) -> Any:
        if isinstance(elem, Struct):
            return self.struct(elem, raw if raw is not None else {}, pointer)
        return decode_scalar(elem or "str", raw, pointer)

    def _drop(self, model: Struct, key: str, pointer: str) -> None:
        match = next((f for f in model.fields if f.yaml == key.lower()), None)
        if match is not None:
            reason = (f"linuxkit decodes {model.name} by lower-cased Go field names: "
                      f"`{key}` is not matched (only `{match.yaml}` would be)")
        else:
            reason = f"{model.name} has no field `{key}`"
        self.dropped.append(DroppedKey(self.origin, pointer, reason))


def printed(spec: Field, raw: Any, value: Any) -> bool:
    """Whether Go's JSON encoder writes the field: `raw` is the value as given (None when
    absent), `value` the decoded one."""
    if spec.omit is Omit.NEVER:
        return True
    if spec.omit is Omit.NIL:
        return raw is not None
    return not is_zero(value)


def is_zero(value: Any) -> bool:
    """Go's zero value (what `omitempty` leaves out): nil, false, 0, "", empty slice or map."""
    return value is None or value is False or value == 0 or value == "" or value in ([], {})
