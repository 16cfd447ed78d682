"""The effective runtime config of a container: linuxkit's `ConfigToOCI`, byte for byte.

An image entry of `onboot`/`onshutdown`/`services`, the image's OCI config (whose label
`org.mobyproject.config` supplies defaults) and the build-wide id map become the container's
`config.json` and `runtime.json` (spec sections 10 to 13). Everything here is pure: the caller
reads images and configs, this module only computes.

Besides the two documents, the result records where each value came from (the YAML entry,
the image label, the image config or a built-in default) so that `show --effective` can mark
it, and which keys linuxkit silently drops (spec section 4) so that a lint rule can report them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from lkpolicy.gocompat import gojson
from lkpolicy.gocompat import paths as gopath
from lkpolicy.gocompat.numbers import NumError, parse_int, parse_uint
from lkpolicy.model.capabilities import ALL_CAPABILITIES
from lkpolicy.model.document import escape_pointer_token

if TYPE_CHECKING:
    from lkpolicy.model.config import Config

__all__ = [
    "LABEL_KEY",
    "OCI_VERSION",
    "DroppedKey",
    "Effective",
    "ExtractionMap",
    "ImageConfig",
    "LabelValidator",
    "Origin",
    "Placement",
    "Provenance",
    "SpecError",
    "Volume",
    "build_effective",
    "id_map",
    "id_number",
    "parse_label",
    "visible_volumes",
]

OCI_VERSION = "1.2.1"
LABEL_KEY = "org.mobyproject.config"
UNLIMITED = 2**64 - 1
_UINT32 = 2**32
_KNOWN_CAPABILITIES = frozenset(ALL_CAPABILITIES)
_RLIMITS = frozenset({
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
})
_TYPE_FROM_SOURCE = frozenset({"mqueue", "devpts", "proc", "sysfs", "cgroup"})
_DEFAULT_MOUNTPOINTS = {
    "proc": "/proc",
    "devpts": "/dev/pts",
    "sysfs": "/sys",
    "cgroup": "/sys/fs/cgroup",
    "mqueue": "/dev/mqueue",
}
_BIND_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")

T = TypeVar("T")

LabelValidator = Callable[[dict[str, Any]], list[str]]
"""Schema check of a label: receives what linuxkit validates, `{"services": [label]}` with a
dummy `name` and `image` inserted, and returns gojsonschema-style lines (`services.0.x: ...`);
an empty list means valid."""


class SpecError(Exception):
    """linuxkit refuses to build the container; `message` is linuxkit's text.

    `stage` tells which prefix linuxkit puts in front: "oci" (`failed to create OCI spec for
    <image>: `) or "volumes" (`failed update image <image> from volumes: `). `details` holds the
    schema error lines that linuxkit prints to stdout before "invalid configuration label".
    """

    def __init__(self, message: str, *, stage: str = "oci", details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.details = list(details)


class Origin(enum.Enum):
    YAML = "yaml"
    LABEL = "label"
    IMAGE = "image"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one value of the effective config came from."""

    origin: Origin
    key: str | None = None
    """The image-entry key (in the YAML entry or in the label) that supplied it; nested keys
    of `runtime` are written `runtime/mounts`."""
    index: int | None = None
    """The element of that key's list, for values built from one element."""

    @property
    def pointer(self) -> str | None:
        """JSON pointer of the source value relative to the image entry or the label."""
        if self.key is None:
            return None
        # `runtime/mounts` style keys name a nested field; entry keys never contain a slash.
        pointer = "".join("/" + escape_pointer_token(token) for token in self.key.split("/"))
        return pointer if self.index is None else f"{pointer}/{self.index}"


_DEFAULT = Provenance(Origin.DEFAULT)


@dataclass(frozen=True, slots=True)
class DroppedKey:
    """A schema-valid key that never reaches the container config (spec section 4)."""

    origin: Origin
    """YAML (pointer relative to the image entry) or LABEL (relative to the label)."""
    pointer: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an OCI image config that linuxkit reads."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_oci(cls, config: Mapping[str, Any] | None) -> ImageConfig:
        """From the `config` object of an image config blob (absent keys and nulls allowed)."""
        config = config or {}
        labels = config.get("Labels") or {}
        env = config.get("Env")
        return cls(
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=tuple(env) if env is not None else None,
            working_dir=config.get("WorkingDir") or "",
            labels={str(key): str(value) for key, value in labels.items()},
        )

    @classmethod
    def from_blob(cls, blob: Mapping[str, Any]) -> ImageConfig:
        """From a whole image config blob (`{"architecture": ..., "config": {...}}`)."""
        return cls.from_oci(blob.get("config"))

    @property
    def label(self) -> str:
        return self.labels.get(LABEL_KEY, "")


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    readonly: bool = False

    @property
    def merged_dir(self) -> str:
        return gopath.clean(f"/containers/volumes/{self.name}/merged")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the container goes in the image: `containers/<section>/<prefix><name>`."""

    section: str
    index: int
    name: str

    @property
    def prefix(self) -> str:
        return "" if self.section == "services" else f"{self.index:03d}-"

    @property
    def path(self) -> str:
        return gopath.join("containers", self.section, self.prefix + self.name)

    @property
    def location(self) -> str:
        """linuxkit's `LINUXKIT.location` value, e.g. `onboot[0]`."""
        return f"{self.section}[{self.index}]"


class ExtractionMap:
    """linuxkit extracts each image once; later containers of the same image reuse its files."""

    def __init__(self) -> None:
        self._roots: dict[str, str] = {}

    def root(self, reference: str, placement: Placement, readonly: bool) -> tuple[str, bool]:
        """(where the image's files are, whether this container is the one extracting them).

        `reference` is the expanded reference string, linuxkit's key for "same image".
        """
        known = self._roots.get(reference)
        if known is not None:
            return known, False
        root = _own_root(placement, readonly)
        self._roots[reference] = root
        return root, True


@dataclass(slots=True)
class Effective:
    config: dict[str, Any]
    """config.json as ordered data (Go struct order, sorted map keys)."""
    runtime: dict[str, Any]
    """runtime.json as ordered data."""
    readonly: bool
    origins: dict[str, Provenance] = field(default_factory=dict)
    """JSON pointer in config.json -> where the value came from."""
    runtime_origins: dict[str, Provenance] = field(default_factory=dict)
    """JSON pointer in runtime.json -> where the value came from."""
    dropped: list[DroppedKey] = field(default_factory=list)
    label: dict[str, Any] | None = None
    """The parsed `org.mobyproject.config` label, if the image has one."""
    label_warnings: list[str] = field(default_factory=list)

    @property
    def config_json(self) -> bytes:
        return gojson.marshal_indent(self.config).encode("utf-8", "surrogateescape")

    @property
    def runtime_json(self) -> bytes:
        return gojson.marshal_indent(self.runtime).encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# Reading the YAML entry and the label.


class _Invalid(Exception):
    def __init__(self, pointer: str, problem: str) -> None:
        super().__init__(f"{pointer or '/'}: {problem}")


class _Source:
    """One image entry (the YAML one or the label) with typed, Go-like access.

    "Present" is Go's non-nil pointer: the key exists and is not null (yaml.v3 leaves a
    pointer nil for an explicit null).
    """

    def __init__(self, data: Mapping[str, Any], origin: Origin) -> None:
        self.data = data
        self.origin = origin

    def provenance(self, key: str, index: int | None = None) -> Provenance:
        return Provenance(self.origin, key, index)

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def strings(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise _Invalid(f"/{key}", "expected a list of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _Invalid(f"/{key}/{index}", "expected a string")
        return list(value)

    def string(self, key: str) -> str | None:
        return _as_string(self.data.get(key), f"/{key}")

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise _Invalid(f"/{key}", "expected a boolean")
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        return None if value is None else _as_int(value, f"/{key}")

    def objects(self, key: str) -> list[Mapping[str, Any]] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise _Invalid(f"/{key}", "expected a list of objects")
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise _Invalid(f"/{key}/{index}", "expected an object")
        return list(value)

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise _Invalid(f"/{key}", "expected an object")
        return value

    def string_map(self, key: str) -> dict[str, str] | None:
        value = self.mapping(key)
        if value is None:
            return None
        result: dict[str, str] = {}
        for name, item in value.items():
            text = _as_string(item, f"/{key}/{escape_pointer_token(name)}")
            result[str(name)] = "" if text is None else text
        return result


def _as_string(value: Any, pointer: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # yaml.v3 stores the scalar's text in a string field; the text of a plain decimal
        # integer is its value.
        return str(value)
    raise _Invalid(pointer, "expected a string")


def _as_int(value: Any, pointer: str) -> int:
    if isinstance(value, bool):
        raise _Invalid(pointer, "expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        # The schema accepts whole-valued numbers and yaml.v3 converts them to integers.
        return int(value)
    raise _Invalid(pointer, "expected an integer")


def _pick(
    key: str, sources: Iterable[_Source], read: Callable[[_Source, str], T | None]
) -> tuple[T, Provenance] | None:
    """linuxkit's `assign*`: the first source where the key is present."""
    for source in sources:
        value = read(source, key)
        if value is not None:
            return value, source.provenance(key)
    return None


def _pick_nonempty(key: str, sources: Iterable[_Source]) -> tuple[str, Provenance] | None:
    """linuxkit's `assignStringEmpty`: an empty string means "not set"."""
    for source in sources:
        value = source.string(key)
        if value:
            return value, source.provenance(key)
    return None


# --------------------------------------------------------------------------------------------
# The OCI runtime-spec Go types that the YAML is decoded into. yaml.v3 matches their fields by
# the lower-cased Go field name (they carry JSON tags only), which is why multi-word camelCase
# keys are dropped (spec section 4). Output follows the JSON tags and omitempty rules.


class _Omit(enum.Enum):
    NEVER = "never"
    """No omitempty: always printed (zero value when absent)."""
    NIL = "nil"
    """Pointer with omitempty: printed whenever it was set, even to a zero value."""
    ZERO = "zero"
    """Value with omitempty: printed unless it is the zero value (0, "", false, empty)."""


@dataclass(frozen=True, slots=True)
class _Field:
    yaml: str
    json: str
    kind: str
    """"int", "str", "bool", "struct", "inline" (embedded struct), "list" or "map"."""
    omit: _Omit
    elem: _Struct | str | None = None
    """Struct of a struct/inline field; element type of a list or map (a struct or a kind)."""


@dataclass(frozen=True, slots=True)
class _Struct:
    name: str
    fields: tuple[_Field, ...]

    def field_for(self, key: str) -> _Field | None:
        return next((f for f in self.fields if f.yaml == key), None)


def _f(yaml: str, json: str, kind: str, omit: _Omit, elem: _Struct | str | None = None) -> _Field:
    return _Field(yaml, json, kind, omit, elem)


_N, _P, _Z = _Omit.NEVER, _Omit.NIL, _Omit.ZERO

_ID_MAPPING = _Struct("LinuxIDMapping", (
    _f("containerid", "containerID", "int", _N),
    _f("hostid", "hostID", "int", _N),
    _f("size", "size", "int", _N),
))
_MOUNT = _Struct("Mount", (
    _f("destination", "destination", "str", _N),
    _f("type", "type", "str", _Z),
    _f("source", "source", "str", _Z),
    _f("options", "options", "list", _Z, "str"),
    _f("uidmappings", "uidMappings", "list", _Z, _ID_MAPPING),
    _f("gidmappings", "gidMappings", "list", _Z, _ID_MAPPING),
))
_DEVICE_CGROUP = _Struct("LinuxDeviceCgroup", (
    _f("allow", "allow", "bool", _N),
    _f("type", "type", "str", _Z),
    _f("major", "major", "int", _P),
    _f("minor", "minor", "int", _P),
    _f("access", "access", "str", _Z),
))
_MEMORY = _Struct("LinuxMemory", (
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
_CPU = _Struct("LinuxCPU", (
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
_PIDS = _Struct("LinuxPids", (_f("limit", "limit", "int", _N),))
_BLOCKIO_DEVICE = _Struct("LinuxBlockIODevice", (
    _f("major", "major", "int", _N),
    _f("minor", "minor", "int", _N),
))
_WEIGHT_DEVICE = _Struct("LinuxWeightDevice", (
    _f("linuxblockiodevice", "", "inline", _N, _BLOCKIO_DEVICE),
    _f("weight", "weight", "int", _P),
    _f("leafweight", "leafWeight", "int", _P),
))
_THROTTLE_DEVICE = _Struct("LinuxThrottleDevice", (
    _f("linuxblockiodevice", "", "inline", _N, _BLOCKIO_DEVICE),
    _f("rate", "rate", "int", _N),
))
_BLOCKIO = _Struct("LinuxBlockIO", (
    _f("weight", "weight", "int", _P),
    _f("leafweight", "leafWeight", "int", _P),
    _f("weightdevice", "weightDevice", "list", _Z, _WEIGHT_DEVICE),
    _f("throttlereadbpsdevice", "throttleReadBpsDevice", "list", _Z, _THROTTLE_DEVICE),
    _f("throttlewritebpsdevice", "throttleWriteBpsDevice", "list", _Z, _THROTTLE_DEVICE),
    _f("throttlereadiopsdevice", "throttleReadIOPSDevice", "list", _Z, _THROTTLE_DEVICE),
    _f("throttlewriteiopsdevice", "throttleWriteIOPSDevice", "list", _Z, _THROTTLE_DEVICE),
))
_HUGEPAGE = _Struct("LinuxHugepageLimit", (
    _f("pagesize", "pageSize", "str", _N),
    _f("limit", "limit", "int", _N),
))
_PRIORITY = _Struct("LinuxInterfacePriority", (
    _f("name", "name", "str", _N),
    _f("priority", "priority", "int", _N),
))
_NETWORK = _Struct("LinuxNetwork", (
    _f("classid", "classID", "int", _P),
    _f("priorities", "priorities", "list", _Z, _PRIORITY),
))
_RDMA = _Struct("LinuxRdma", (
    _f("hcahandles", "hcaHandles", "int", _P),
    _f("hcaobjects", "hcaObjects", "int", _P),
))
_RESOURCES = _Struct("LinuxResources", (
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
_INTERFACE = _Struct("Interface", (
    _f("name", "name", "str", _Z),
    _f("add", "add", "str", _Z),
    _f("peer", "peer", "str", _Z),
    _f("createInRoot", "createInRoot", "bool", _N),
))


class _Decoder:
    """Decodes YAML data into one of the Go types above, noting every key that is dropped."""

    def __init__(self, origin: Origin, dropped: list[DroppedKey]) -> None:
        self.origin = origin
        self.dropped = dropped

    def struct(self, model: _Struct, data: Any, pointer: str) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise _Invalid(pointer, f"expected an object ({model.name})")
        for key in data:
            if model.field_for(str(key)) is None:
                self._drop(model, str(key), f"{pointer}/{escape_pointer_token(str(key))}")
        out: dict[str, Any] = {}
        for spec in model.fields:
            raw = data.get(spec.yaml)
            child = f"{pointer}/{escape_pointer_token(spec.yaml)}"
            if spec.kind == "inline":
                assert isinstance(spec.elem, _Struct)
                out.update(self.struct(spec.elem, raw if raw is not None else {}, child))
                continue
            value = self.value(spec, raw, child)
            if _printed(spec, raw, value):
                out[spec.json] = value
        return out

    def value(self, spec: _Field, raw: Any, pointer: str) -> Any:
        if spec.kind in ("int", "str", "bool"):
            return self.scalar(spec.kind, raw, pointer)
        if raw is None:
            return None
        if spec.kind == "struct":
            assert isinstance(spec.elem, _Struct)
            return self.struct(spec.elem, raw, pointer)
        if spec.kind == "list":
            if not isinstance(raw, list):
                raise _Invalid(pointer, "expected a list")
            return [self.element(spec.elem, item, f"{pointer}/{index}")
                    for index, item in enumerate(raw)]
        if not isinstance(raw, Mapping):
            raise _Invalid(pointer, "expected an object")
        return {str(key): self.element(spec.elem, raw[key],
                                       f"{pointer}/{escape_pointer_token(str(key))}")
                for key in sorted(raw, key=str)}

    def element(self, elem: _Struct | str | None, raw: Any, pointer: str) -> Any:
        if isinstance(elem, _Struct):
            return self.struct(elem, raw if raw is not None else {}, pointer)
        return self.scalar(elem or "str", raw, pointer)

    @staticmethod
    def scalar(kind: str, raw: Any, pointer: str) -> Any:
        if kind == "int":
            return 0 if raw is None else _as_int(raw, pointer)
        if kind == "bool":
            if raw is None:
                return False
            if not isinstance(raw, bool):
                raise _Invalid(pointer, "expected a boolean")
            return raw
        text = _as_string(raw, pointer)
        return "" if text is None else text

    def _drop(self, model: _Struct, key: str, pointer: str) -> None:
        match = next((f for f in model.fields if f.yaml == key.lower()), None)
        if match is not None:
            reason = (f"linuxkit decodes {model.name} by lower-cased Go field names: "
                      f"`{key}` is not matched (only `{match.yaml}` would be)")
        else:
            reason = f"{model.name} has no field `{key}`"
        self.dropped.append(DroppedKey(self.origin, pointer, reason))


def _printed(spec: _Field, raw: Any, value: Any) -> bool:
    if spec.omit is _Omit.NEVER:
        return True
    if spec.omit is _Omit.NIL:
        return raw is not None
    return not _is_zero(value)


def _is_zero(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | str | list | dict):
        return not value
    return False


# --------------------------------------------------------------------------------------------
# The label.


def parse_label(
    text: str, validate_label: LabelValidator | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Parse and check an `org.mobyproject.config` label (spec section 10).

    Returns the label as plain data and warnings (e.g. ignored extra YAML documents).
    """
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.load import EMPTY_FILE, NOT_A_MAPPING, load_document

    not_object = SpecError(f"JSON is an array not an object: {text}")
    try:
        document, warnings = load_document(LABEL_KEY, data=text.encode("utf-8", "surrogateescape"))
    except InputError as error:
        first = error.findings[0]
        if first.rule_id in (EMPTY_FILE.id, NOT_A_MAPPING.id):
            raise not_object from None
        raise SpecError(first.message, details=[f.message for f in error.findings]) from None
    label = document.data
    # The loader reads a null document as an empty config; for a label linuxkit rejects it.
    if not isinstance(label, dict) or (not label and not _root_is_mapping(text)):
        raise not_object
    if validate_label is not None:
        checked = dict(label)
        checked["name"] = "dummyname"
        checked["image"] = "dummyimage"
        errors = validate_label({"services": [checked]})
        if errors:
            raise SpecError("invalid configuration label", details=errors)
    for key in ("name", "image"):
        # Only the typed decode sees these: validation ran on a copy with dummy values.
        if label.get(key) not in (None, ""):
            raise SpecError(f"{key} cannot be set in metadata label")
    return label, [warning.message for warning in warnings]


def _root_is_mapping(text: str) -> bool:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode

    root = next(iter(YAML(typ="safe", pure=True).compose_all(text)), None)
    return isinstance(root, MappingNode)


# --------------------------------------------------------------------------------------------
# Build-wide inputs taken from the merged config.


def id_map(config: Config) -> dict[str, int]:
    """Container name -> uid/gid number (spec 11.5): 100 upwards; a repeated name keeps the last."""
    ids: dict[str, int] = {}
    number = 100
    for _section, _index, node in config.containers():
        name = node.value.get("name") if isinstance(node.value, dict) else None
        ids[name if isinstance(name, str) else ""] = number
        number += 1
    return ids


def visible_volumes(config: Config) -> dict[str, Volume]:
    """The volumes binds can name: those of the last file only (spec section 8)."""
    if not config.documents:
        return {}
    last = config.documents[-1]
    volumes: dict[str, Volume] = {}
    for node in config.section("volumes"):
        if node.document is not last or not isinstance(node.value, dict):
            continue
        name = node.value.get("name")
        name = name if isinstance(name, str) else ""
        volumes.setdefault(name, Volume(name, node.value.get("readonly") is True))
    return volumes


def id_number(value: Any, ids: Mapping[str, int]) -> int:
    """linuxkit's `IDNumeric` for uid, gid, additionalGids and file owners."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise SpecError("bad type for uid or gid")
    if isinstance(value, int):
        # yaml.v3 yields a Go int only within int64; larger values are another Go type.
        if not -(2**63) <= value < 2**63:
            raise SpecError("bad type for uid or gid")
        return value % _UINT32
    if isinstance(value, str):
        if value in ("", "root"):
            return 0
        if value in ids:
            return ids[value] % _UINT32
        raise SpecError(f"cannot find id: {value}")
    raise SpecError("bad type for uid or gid")


# --------------------------------------------------------------------------------------------
# ConfigToOCI.


def build_effective(
    entry: Mapping[str, Any],
    image: ImageConfig | Mapping[str, Any] | None,
    ids: Mapping[str, int],
    placement: Placement,
    *,
    root: str | None = None,
    extractions: ExtractionMap | None = None,
    reference: str | None = None,
    volumes: Mapping[str, Volume] | None = None,
    validate_label: LabelValidator | None = None,
) -> Effective:
    """The container's config.json and runtime.json, as linuxkit writes them.

    `entry` is the YAML image entry as loaded; `image` the image's OCI config (`ImageConfig` or
    the blob's `config` object); `ids` the id map; `placement` where the container goes.

    runtime.json names where the image's files were extracted: give it as `root` (a path in
    the output without a leading slash), or give the build's `extractions` and the expanded
    `reference` and the root is looked up (and recorded, once the config is complete) there;
    otherwise the container's own directory is used. `volumes` are the volumes binds may name
    (`visible_volumes`). Raises `SpecError` with linuxkit's message.
    """
    if not isinstance(image, ImageConfig):
        image = ImageConfig.from_oci(image)
    entry = _rewrite_volumes(entry, volumes or {})
    label: dict[str, Any] | None = None
    warnings: list[str] = []
    if image.label:
        label, warnings = parse_label(image.label, validate_label)
    yaml = _Source(entry, Origin.YAML)
    labelled = _Source(label or {}, Origin.LABEL)
    builder = _Builder(yaml, labelled, image, ids)

    def locate(readonly: bool) -> str:
        if root is not None:
            return root
        if extractions is not None and reference is not None:
            return extractions.root(reference, placement, readonly)[0]
        return _own_root(placement, readonly)

    try:
        effective = builder.build(placement, locate)
    except _Invalid as error:
        what = "label" if builder.reading is Origin.LABEL else "file"
        raise SpecError(f"invalid configuration {what}", details=[str(error)]) from None
    effective.label = label
    effective.label_warnings = warnings
    return effective


def _rewrite_volumes(entry: Mapping[str, Any], volumes: Mapping[str, Volume]) -> Mapping[str, Any]:
    """Volume names in binds become their merged directory (spec 11.2, `volume.go`)."""
    for index, mount in enumerate(entry.get("mounts") or ()):
        if not isinstance(mount, Mapping) or mount.get("type") != "bind":
            continue
        source = mount.get("source")
        source = source if isinstance(source, str) else ""
        if source.startswith("/"):
            continue
        volume = volumes.get(source)
        if volume is None:
            raise SpecError(f"volume {source} not found in onboot image mount {index}",
                            stage="volumes")
        options = mount.get("options") or []
        first = next((o for o in options if o in ("rw", "ro")), None)
        if volume.readonly and first != "ro":
            raise SpecError(f"volume {source} is read-only, but attempting to write into "
                            "container read-write", stage="volumes")
        # linuxkit rewrites a copy of the mount and then drops it: the source stays as written.
    rewritten = dict(entry)
    for key in ("binds", "binds.add"):
        binds = entry.get(key)
        if binds is None or not isinstance(binds, list):
            continue
        rewritten[key] = [_rewrite_bind(bind, index, volumes) if isinstance(bind, str) else bind
                          for index, bind in enumerate(binds)]
    return rewritten


def _rewrite_bind(bind: str, index: int, volumes: Mapping[str, Volume]) -> str:
    parts = bind.split(":")
    if parts[0].startswith("/"):
        return bind
    volume = volumes.get(parts[0])
    if volume is None:
        raise SpecError(f"volume {parts[0]} not found in onboot image bin {index}", stage="volumes")
    if volume.readonly and (len(parts) < 3 or parts[2] != "ro"):
        raise SpecError(f"volume {parts[0]} is read-only, but attempting to write into "
                        "container read-write", stage="volumes")
    return ":".join([volume.merged_dir, *parts[1:]])


@dataclass(slots=True)
class _Mount:
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


class _Builder:
    def __init__(self, yaml: _Source, label: _Source, image: ImageConfig,
                 ids: Mapping[str, int]) -> None:
        self.yaml = yaml
        self.label = label
        self.sources = (yaml, label)
        self.image = image
        self.ids = ids
        self.origins: dict[str, Provenance] = {}
        self.runtime_origins: dict[str, Provenance] = {}
        self.dropped: list[DroppedKey] = []
        self.reading = Origin.YAML

    def pick(self, key: str, read: Callable[[_Source, str], T | None]) -> tuple[T, Provenance] | None:
        for source in self.sources:
            self.reading = source.origin
            value = read(source, key)
            if value is not None:
                return value, source.provenance(key)
        return None

    def build(self, placement: Placement, locate: Callable[[bool], str]) -> Effective:
        args = self.args()
        env = self.env()
        cwd = self.cwd()
        readonly_pick = self.pick("readonly", _Source.boolean)
        readonly = readonly_pick[0] if readonly_pick else False
        self.origins["/root/readonly"] = readonly_pick[1] if readonly_pick else _DEFAULT
        mounts = self.mounts(readonly)
        namespaces = self.namespaces()
        capabilities = self.capabilities()
        rlimits = self.rlimits()
        user = self.user()
        resources, linux_devices = self.resources_and_devices()

        process: dict[str, Any] = {"user": user}
        if args:
            process["args"] = args
        if env:
            process["env"] = env
        process["cwd"] = cwd
        process["capabilities"] = capabilities
        if rlimits:
            process["rlimits"] = rlimits
        nnp = self.pick("noNewPrivileges", _Source.boolean)
        if nnp:
            self.origins["/process/noNewPrivileges"] = nnp[1]
            if nnp[0]:
                process["noNewPrivileges"] = True
        oom = self.pick("oomScoreAdj", _Source.integer)
        if oom:
            process["oomScoreAdj"] = oom[0]
            self.origins["/process/oomScoreAdj"] = oom[1]

        config: dict[str, Any] = {"ociVersion": OCI_VERSION, "process": process}
        config["root"] = {"path": "rootfs", "readonly": True} if readonly else {"path": "rootfs"}
        hostname = _pick_nonempty("hostname", self.sources)
        if hostname:
            config["hostname"] = hostname[0]
            self.origins["/hostname"] = hostname[1]
        config["mounts"] = [mount.to_json() for mount in mounts]
        for index, mount in enumerate(mounts):
            self.origins[f"/mounts/{index}"] = mount.provenance
        annotations = self.string_map("annotations", "/annotations")
        if annotations:
            config["annotations"] = annotations
        config["linux"] = self.linux(resources, namespaces, linux_devices)
        runtime = self.runtime(placement, locate, readonly)
        return Effective(config, runtime, readonly, self.origins, self.runtime_origins,
                         self.dropped)

    # -- process ---------------------------------------------------------------------------

    def args(self) -> list[str]:
        picked = self.pick("command", _Source.strings)
        if picked:
            self.origins["/process/args"] = picked[1]
            return picked[0]
        args = [*self.image.entrypoint, *self.image.cmd]
        self.origins["/process/args"] = Provenance(Origin.IMAGE) if args else _DEFAULT
        return args

    def env(self) -> list[str]:
        picked = self.pick("env", _Source.strings)
        if picked:
            self.origins["/process/env"] = picked[1]
            return picked[0]
        env = list(self.image.env or ())
        self.origins["/process/env"] = Provenance(Origin.IMAGE) if env else _DEFAULT
        return env

    def cwd(self) -> str:
        picked = _pick_nonempty("cwd", self.sources)
        if picked:
            self.origins["/process/cwd"] = picked[1]
            return picked[0]
        if self.image.working_dir:
            self.origins["/process/cwd"] = Provenance(Origin.IMAGE)
            return self.image.working_dir
        self.origins["/process/cwd"] = _DEFAULT
        return "/"

    def capabilities(self) -> dict[str, Any]:
        given = self.capability_list()
        ambient_pick = self.pick("ambient", _Source.strings)
        given_ambient: list[tuple[str, Provenance]] = []
        if ambient_pick:
            given_ambient = [(cap, Provenance(ambient_pick[1].origin, "ambient", index))
                             for index, cap in enumerate(ambient_pick[0])]
        caps = _special_capabilities(given)
        ambient = _special_capabilities(given_ambient)
        for name, _ in [*caps, *ambient]:
            if name not in _KNOWN_CAPABILITIES:
                raise SpecError(f"unknown capability: {name}")
        first: dict[str, Provenance] = {}
        for name, provenance in [*caps, *ambient]:
            first.setdefault(name, provenance)
        bounding = sorted(first)
        out: dict[str, Any] = {}
        for key, names in (("bounding", bounding), ("effective", [c for c, _ in caps]),
                           ("inheritable", bounding), ("permitted", bounding),
                           ("ambient", [c for c, _ in ambient])):
            if names:
                out[key] = names
        for index, (_name, provenance) in enumerate(caps):
            self.origins[f"/process/capabilities/effective/{index}"] = provenance
        for index, (_name, provenance) in enumerate(ambient):
            self.origins[f"/process/capabilities/ambient/{index}"] = provenance
        for key in ("bounding", "inheritable", "permitted"):
            for index, name in enumerate(bounding):
                self.origins[f"/process/capabilities/{key}/{index}"] = first[name]
        # The list as written decides the whole (`[none]` from the YAML is the YAML's doing).
        whole = given[0][1] if given else (given_ambient[0][1] if given_ambient else _DEFAULT)
        self.origins["/process/capabilities"] = Provenance(whole.origin, whole.key)
        return out

    def capability_list(self) -> list[tuple[str, Provenance]]:
        """YAML `capabilities`, else label `capabilities` + YAML `capabilities.add` (duplicates
        kept: linuxkit's de-duplicating merge never records what it has seen)."""
        self.reading = Origin.YAML
        own = self.yaml.strings("capabilities")
        if own is not None:
            return [(cap, self.yaml.provenance("capabilities", i)) for i, cap in enumerate(own)]
        self.reading = Origin.LABEL
        inherited = self.label.strings("capabilities") or []
        self.reading = Origin.YAML
        added = self.yaml.strings("capabilities.add") or []
        return ([(cap, self.label.provenance("capabilities", i)) for i, cap in enumerate(inherited)]
                + [(cap, self.yaml.provenance("capabilities.add", i)) for i, cap in enumerate(added)])

    def rlimits(self) -> list[dict[str, Any]]:
        picked = self.pick("rlimits", _Source.strings)
        if not picked:
            return []
        self.origins["/process/rlimits"] = picked[1]
        return [_rlimit(text, picked[0]) for text in picked[0]]

    def user(self) -> dict[str, Any]:
        uid = self.pick("uid", _Source.get)
        gid = self.pick("gid", _Source.get)
        extra = self.pick("additionalGids", _Source.get)
        if extra is not None and not isinstance(extra[0], list):
            raise _Invalid("/additionalGids", "expected a list")
        user: dict[str, Any] = {
            "uid": id_number(uid[0] if uid else None, self.ids),
            "gid": id_number(gid[0] if gid else None, self.ids),
        }
        groups = [id_number(item, self.ids) for item in (extra[0] if extra else [])]
        if groups:
            user["additionalGids"] = groups
        self.origins["/process/user/uid"] = uid[1] if uid else _DEFAULT
        self.origins["/process/user/gid"] = gid[1] if gid else _DEFAULT
        if extra:
            self.origins["/process/user/additionalGids"] = extra[1]
        return user

    # -- mounts ----------------------------------------------------------------------------

    def mounts(self, readonly: bool) -> list[_Mount]:
        table: dict[str, _Mount] = {}
        for mount in _default_mounts(readonly):
            table[mount.destination] = mount
        tmpfs = self.pick("tmpfs", _Source.strings)
        if tmpfs:
            for index, text in enumerate(tmpfs[0]):
                parts = text.split(":")
                if len(parts) > 2:
                    raise SpecError(f"cannot parse tmpfs, too many ':': {text}")
                options = parts[1].split(",") if len(parts) == 2 else None
                table[parts[0]] = _Mount(parts[0], "tmpfs", "tmpfs", options,
                                         Provenance(tmpfs[1].origin, "tmpfs", index))
        for text, provenance in self.bind_list():
            parts = text.split(":")
            if len(parts) < 2:
                raise SpecError(f"cannot parse bind, missing ':': {text}")
            if len(parts) > 3:
                raise SpecError(f"cannot parse bind, too many ':': {text}")
            options = [*parts[2].split(","), "rbind"] if len(parts) == 3 else ["rw", "rbind", "rshared"]
            table[parts[1]] = _Mount(parts[1], "bind", parts[0], options, provenance)
        picked = self.pick("mounts", _Source.objects)
        if picked:
            decoder = _Decoder(picked[1].origin, self.dropped)
            self.reading = picked[1].origin
            for index, raw in enumerate(picked[0]):
                mount = self.container_mount(decoder, raw, index, picked[1].origin)
                table[mount.destination] = mount
        # Go compares strings byte-wise; code-point order is the same order for UTF-8.
        return [table[key] for key in sorted(table)]

    def bind_list(self) -> list[tuple[str, Provenance]]:
        self.reading = Origin.YAML
        own = self.yaml.strings("binds")
        if own is not None:
            return [(bind, self.yaml.provenance("binds", i)) for i, bind in enumerate(own)]
        self.reading = Origin.LABEL
        inherited = self.label.strings("binds") or []
        self.reading = Origin.YAML
        added = self.yaml.strings("binds.add") or []
        return ([(bind, self.label.provenance("binds", i)) for i, bind in enumerate(inherited)]
                + [(bind, self.yaml.provenance("binds.add", i)) for i, bind in enumerate(added)])

    def container_mount(self, decoder: _Decoder, raw: Mapping[str, Any], index: int,
                        origin: Origin) -> _Mount:
        pointer = f"/mounts/{index}"
        decoded = decoder.struct(_MOUNT, raw, pointer)
        for key in ("uidmappings", "gidmappings"):
            if raw.get(key):
                self.dropped.append(DroppedKey(
                    origin, f"{pointer}/{key}",
                    "linuxkit does not copy a mount's id mappings into config.json"))
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
        return _Mount(destination, kind, source, decoded.get("options"),
                      Provenance(origin, "mounts", index))

    # -- linux -----------------------------------------------------------------------------

    def namespaces(self) -> list[dict[str, str]]:
        result: list[dict[str, str]] = []

        def add(kind: str, path: str, provenance: Provenance) -> None:
            self.origins[f"/linux/namespaces/{len(result)}"] = provenance
            result.append({"type": kind, "path": path} if path else {"type": kind})

        for key, kind, default, empty_is_new in (
            ("net", "network", "root", False), ("ipc", "ipc", "root", False),
            ("uts", "uts", "root", False), ("pid", "pid", "", True),
            ("userns", "user", "root", False),
        ):
            picked = _pick_nonempty(key, self.sources)
            value, provenance = picked if picked else (default, _DEFAULT)
            if value in ("host", "root"):
                continue
            new = value == "new" or (key == "net" and value == "none") or (empty_is_new and not value)
            add(kind, "" if new else value, provenance)
        add("mount", "", _DEFAULT)
        return result

    def resources_and_devices(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        picked = self.pick("resources", _Source.mapping)
        resources: dict[str, Any] = {}
        if picked:
            self.reading = picked[1].origin
            resources = _Decoder(picked[1].origin, self.dropped).struct(
                _RESOURCES, picked[0], "/resources")
            self.origins["/linux/resources"] = picked[1]
        devices = self.pick("devices", _Source.objects)
        rules: list[dict[str, Any]] = list(resources.get("devices", []))
        linux_devices: list[dict[str, Any]] = []
        for index, raw in enumerate(devices[0] if devices else []):
            assert devices is not None
            provenance = Provenance(devices[1].origin, "devices", index)
            self.reading = provenance.origin
            device = _Decoder.scalar
            path = device("str", raw.get("path"), f"/devices/{index}/path")
            kind = device("str", raw.get("type"), f"/devices/{index}/type")
            if path == "all":
                rule: dict[str, Any] = {"allow": True}
                if kind:
                    rule["type"] = kind
                rule["access"] = "rwm"
            else:
                major = device("int", raw.get("major"), f"/devices/{index}/major")
                minor = device("int", raw.get("minor"), f"/devices/{index}/minor")
                mode = _device_mode(device("str", raw.get("mode"), f"/devices/{index}/mode"))
                self.origins[f"/linux/devices/{len(linux_devices)}"] = provenance
                linux_devices.append({"path": path, "type": kind, "major": major,
                                      "minor": minor, "fileMode": mode})
                rule = {"allow": True}
                if kind:
                    rule["type"] = kind
                rule.update({"major": major, "minor": minor, "access": "rwm"})
            self.origins[f"/linux/resources/devices/{len(rules)}"] = provenance
            rules.append(rule)
        if rules:
            resources = {"devices": rules, **{k: v for k, v in resources.items() if k != "devices"}}
        return resources, linux_devices

    def linux(self, resources: dict[str, Any], namespaces: list[dict[str, str]],
              devices: list[dict[str, Any]]) -> dict[str, Any]:
        linux: dict[str, Any] = {}
        for key in ("uidMappings", "gidMappings"):
            picked = self.pick(key, _Source.objects)
            if picked:
                self.reading = picked[1].origin
                decoder = _Decoder(picked[1].origin, self.dropped)
                mappings = [decoder.struct(_ID_MAPPING, raw, f"/{key}/{index}")
                            for index, raw in enumerate(picked[0])]
                self.origins[f"/linux/{key}"] = picked[1]
                if mappings:
                    linux[key] = mappings
        sysctl = self.string_map("sysctl", "/linux/sysctl")
        if sysctl:
            linux["sysctl"] = sysctl
        linux["resources"] = resources
        cgroups_path = self.pick("cgroupsPath", _Source.string)
        if cgroups_path:
            self.origins["/linux/cgroupsPath"] = cgroups_path[1]
            if cgroups_path[0]:
                linux["cgroupsPath"] = cgroups_path[0]
        linux["namespaces"] = namespaces
        if devices:
            linux["devices"] = devices
        propagation = self.pick("rootfsPropagation", _Source.string)
        if propagation:
            self.origins["/linux/rootfsPropagation"] = propagation[1]
            if propagation[0]:
                linux["rootfsPropagation"] = propagation[0]
        for key in ("maskedPaths", "readonlyPaths"):
            paths = self.pick(key, _Source.strings)
            if paths:
                self.origins[f"/linux/{key}"] = paths[1]
                if paths[0]:
                    linux[key] = paths[0]
        return linux

    def string_map(self, key: str, pointer: str) -> dict[str, str]:
        picked = self.pick(key, _Source.string_map)
        if not picked:
            return {}
        self.origins[pointer] = picked[1]
        return {name: picked[0][name] for name in sorted(picked[0])}

    # -- runtime.json ----------------------------------------------------------------------

    def runtime(self, placement: Placement, locate: Callable[[bool], str],
                readonly: bool) -> dict[str, Any]:
        sections = []
        for source in self.sources:
            self.reading = source.origin
            sections.append(_Source(source.mapping("runtime") or {}, source.origin))
        lists: dict[str, tuple[list[Any], Origin]] = {}
        for key in ("cgroups", "mounts", "mkdir", "interfaces"):
            picked = _pick(key, sections, _Source.get)
            if picked:
                self.reading = picked[1].origin
                lists[key] = self.runtime_list(key, picked[0], picked[1].origin), picked[1].origin
        bind_sections = [_Source(s.mapping("bindNS") or {}, s.origin) for s in sections]
        bind_ns: dict[str, str] = {}
        for name in _BIND_NAMESPACES:
            picked_ns = _pick(name, bind_sections, _Source.string)
            bind_ns[name] = picked_ns[0] if picked_ns else ""
            if picked_ns:
                self.runtime_origins[f"/bindNS/{name}"] = Provenance(
                    picked_ns[1].origin, f"runtime/bindNS/{name}")
        namespace = _pick("namespace", sections, _Source.string)
        if namespace:
            self.runtime_origins["/namespace"] = Provenance(namespace[1].origin, "runtime/namespace")

        # Looked up last: an extraction is recorded only for a container that is complete.
        rootfs = _rootfs_mounts(placement, locate(readonly), readonly)
        runtime: dict[str, Any] = {}
        for key in ("cgroups", "mounts", "mkdir", "interfaces"):
            value, origin = lists.get(key, ([], Origin.DEFAULT))
            if key in lists:
                self.runtime_origins[f"/{key}"] = Provenance(origin, f"runtime/{key}")
            if key == "mounts":
                for index in range(len(rootfs)):
                    self.runtime_origins[f"/mounts/{index}"] = _DEFAULT
                for index in range(len(value)):
                    self.runtime_origins[f"/mounts/{len(rootfs) + index}"] = Provenance(
                        origin, "runtime/mounts", index)
                value = rootfs + value
            runtime[key] = value
        runtime["bindNS"] = bind_ns
        runtime["namespace"] = namespace[0] if namespace else ""
        return runtime

    def runtime_list(self, key: str, raw: Any, origin: Origin) -> list[Any]:
        pointer = f"/runtime/{key}"
        if not isinstance(raw, list):
            raise _Invalid(pointer, "expected a list")
        decoder = _Decoder(origin, self.dropped)
        if key == "mounts":
            return [decoder.struct(_MOUNT, item, f"{pointer}/{i}") for i, item in enumerate(raw)]
        if key == "interfaces":
            return [decoder.struct(_INTERFACE, item, f"{pointer}/{i}") for i, item in enumerate(raw)]
        return [_Decoder.scalar("str", item, f"{pointer}/{i}") for i, item in enumerate(raw)]


def _special_capabilities(caps: list[tuple[str, Provenance]]) -> list[tuple[str, Provenance]]:
    """A single `all` (any case) grants every capability; a single `none` grants nothing."""
    if len(caps) != 1:
        return caps
    name, provenance = caps[0]
    if name.lower() == "none":
        return []
    if name.lower() == "all":
        return [(cap, provenance) for cap in ALL_CAPABILITIES]
    return caps


def _default_mounts(readonly: bool) -> list[_Mount]:
    ro = ["ro"] if readonly else []
    return [
        _Mount("/proc", "proc", "proc", ["nosuid", "nodev", "noexec", "relatime"], _DEFAULT),
        _Mount("/dev", "tmpfs", "tmpfs",
               ["nosuid", "strictatime", "mode=755", "size=65536k", *ro], _DEFAULT),
        _Mount("/dev/pts", "devpts", "devpts",
               ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"], _DEFAULT),
        _Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro], _DEFAULT),
        _Mount("/sys/fs/cgroup", "cgroup", "cgroup",
               ["nosuid", "noexec", "nodev", "relatime", "ro"], _DEFAULT),
    ]


def _own_root(placement: Placement, readonly: bool) -> str:
    return gopath.join(placement.path, "rootfs" if readonly else "lower")


def _rootfs_mounts(placement: Placement, lower: str, readonly: bool) -> list[dict[str, Any]]:
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


def _rlimit(text: str, all_texts: list[str]) -> dict[str, Any]:
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise SpecError(f"cannot parse rlimit: [{' '.join(all_texts)}]")
    name = parts[0].strip().upper()
    if not name.startswith("RLIMIT_"):
        name = "RLIMIT_" + name
    soft = _rlimit_value(parts[1].strip())
    hard = _rlimit_value(parts[2].strip())
    if name not in _RLIMITS:
        # linuxkit prints a variable that is never assigned: the name is always empty.
        raise SpecError("unknown limit: ")
    return {"type": name, "hard": hard, "soft": soft}


def _rlimit_value(text: str) -> int:
    if text.lower() == "unlimited":
        return UNLIMITED
    try:
        return parse_uint(text, 10, 64)
    except NumError as error:
        raise SpecError(f"cannot parse {text} as uint64: {error}") from None


def _device_mode(text: str) -> int:
    try:
        value = parse_int(text, 8, 32)
    except NumError as error:
        raise SpecError(f"cannot parse device mode as octal value: {error}") from None
    # os.FileMode is a uint32: a negative mode wraps.
    return value % _UINT32
