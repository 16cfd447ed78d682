"""`lkpolicy show`: what `linuxkit build --dry-run` prints.

linuxkit decodes each config into its Go `Moby` struct (after the `@` template step), appends
the configs, and prints the result with gopkg.in/yaml.v3 (`yaml.Marshal`). The printed text is
therefore shaped by the Go types rather than by the input: struct field order, zero values for
fields without `omitempty`, keys dropped because yaml.v3 matches lower-cased Go field names, and
yaml.v3's own quoting and indentation rules. This module reproduces each of those layers so the
output is byte-identical with linuxkit's (see the dry-run goldens).
"""

from __future__ import annotations

import json
import math
from typing import Any

from lkpolicy.gocompat import goyaml
from lkpolicy.model.config import Config, Node
from lkpolicy.model.templates import apply_templates, template_switches

__all__ = ["apply_templates", "go_model", "render_json", "render_yaml"]

# --------------------------------------------------------------------------------------------
# The Go model


def _go_string(value: Any) -> str:
    """A YAML value decoded into a Go `string` field (null is the zero value)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    # yaml.v3 keeps the source text of a non-string scalar; the schema rejects these anyway.
    return str(value)


def _go_int(value: Any) -> Any:
    """A YAML number decoded into a Go integer field (yaml.v3 accepts whole floats)."""
    if value is None:
        return 0
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _go_int_ptr(value: Any) -> Any:
    return None if value is None else _go_int(value)


def _go_bool(value: Any) -> bool:
    return bool(value) if isinstance(value, bool) else False


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [_go_string(item) for item in _sequence(value)]


def _string_map(value: Any) -> dict[str, str]:
    """A Go `map[string]string`: yaml.v3 prints it with its own key order."""
    items = {str(key): _go_string(item) for key, item in _mapping(value).items()}
    return {key: items[key] for key in goyaml.sort_map_keys(list(items))}


def _id_mapping(value: Any) -> dict[str, Any]:
    # specs.LinuxIDMapping has only JSON tags, so yaml.v3 wants `containerid`/`hostid`; the
    # schema only allows the camelCase spellings, so those ids always decode as 0 (spec 4).
    entry = _mapping(value)
    return {
        "containerid": _go_int(entry.get("containerid")),
        "hostid": _go_int(entry.get("hostid")),
        "size": _go_int(entry.get("size")),
    }


def _mount(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    return {
        "destination": _go_string(entry.get("destination")),
        "type": _go_string(entry.get("type")),
        "source": _go_string(entry.get("source")),
        "options": _strings(entry.get("options")),
        "uidmappings": [_id_mapping(item) for item in _sequence(entry.get("uidmappings"))],
        "gidmappings": [_id_mapping(item) for item in _sequence(entry.get("gidmappings"))],
    }


def _device(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    result: dict[str, Any] = {
        "path": _go_string(entry.get("path")),
        "type": _go_string(entry.get("type")),
        "major": _go_int(entry.get("major")),
        "minor": _go_int(entry.get("minor")),
    }
    mode = _go_string(entry.get("mode"))
    if mode:
        result["mode"] = mode
    return result


def _pointer_struct(value: Any, fields: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
    """A `*struct` of the runtime-spec: nil when absent, else every field by its Go zero value."""
    if not isinstance(value, dict):
        return None
    result: dict[str, Any] = {}
    for name, kind in fields:
        item = value.get(name)
        if kind == "ptr":
            result[name] = _go_int_ptr(item)
        elif kind == "int":
            result[name] = _go_int(item)
        elif kind == "str":
            result[name] = _go_string(item)
        else:
            # Slices whose YAML key can never match (multi-word camelCase in the schema).
            result[name] = []
    return result


# Field sets of opencontainers/runtime-spec v1.2.1 as yaml.v3 names them (lower-cased Go field
# names). Only single-word keys can be written in a schema-valid config (spec section 4).
_MEMORY_FIELDS = (
    ("limit", "ptr"), ("reservation", "ptr"), ("swap", "ptr"), ("kernel", "ptr"),
    ("kerneltcp", "ptr"), ("swappiness", "ptr"), ("disableoomkiller", "ptr"),
    ("usehierarchy", "ptr"), ("checkbeforeupdate", "ptr"),
)
_CPU_FIELDS = (
    ("shares", "ptr"), ("quota", "ptr"), ("burst", "ptr"), ("period", "ptr"),
    ("realtimeruntime", "ptr"), ("realtimeperiod", "ptr"), ("cpus", "str"), ("mems", "str"),
    ("idle", "ptr"),
)
_PIDS_FIELDS = (("limit", "int"),)
_BLOCKIO_FIELDS = (
    ("weight", "ptr"), ("leafweight", "ptr"), ("weightdevice", "list"),
    ("throttlereadbpsdevice", "list"), ("throttlewritebpsdevice", "list"),
    ("throttlereadiopsdevice", "list"), ("throttlewriteiopsdevice", "list"),
)


def _device_cgroup(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    return {
        "allow": _go_bool(entry.get("allow")),
        "type": _go_string(entry.get("type")),
        "major": _go_int_ptr(entry.get("major")),
        "minor": _go_int_ptr(entry.get("minor")),
        "access": _go_string(entry.get("access")),
    }


def _network(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    priorities = [
        {"name": _go_string(_mapping(item).get("name")),
         "priority": _go_int(_mapping(item).get("priority"))}
        for item in _sequence(value.get("priorities"))
    ]
    return {"classid": _go_int_ptr(value.get("classid")), "priorities": priorities}


def _resources(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    return {
        "devices": [_device_cgroup(item) for item in _sequence(entry.get("devices"))],
        "memory": _pointer_struct(entry.get("memory"), _MEMORY_FIELDS),
        "cpu": _pointer_struct(entry.get("cpu"), _CPU_FIELDS),
        "pids": _pointer_struct(entry.get("pids"), _PIDS_FIELDS),
        "blockio": _pointer_struct(entry.get("blockio"), _BLOCKIO_FIELDS),
        # `hugepageLimits` never matches the Go name `hugepagelimits`; `rdma` and `unified` are
        # not in the schema. So these always print as empty (nil slice / nil maps).
        "hugepagelimits": [],
        "network": _network(entry.get("network")),
        "rdma": {},
        "unified": {},
    }


_NAMESPACE_KEYS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


def _interface(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    result: dict[str, Any] = {}
    for key in ("name", "add", "peer"):
        text = _go_string(entry.get(key))
        if text:
            result[key] = text
    result["createInRoot"] = _go_bool(entry.get("createInRoot"))
    return result


def _runtime(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    result: dict[str, Any] = {}
    if entry.get("cgroups") is not None:
        result["cgroups"] = _strings(entry["cgroups"])
    if entry.get("mounts") is not None:
        result["mounts"] = [_mount(item) for item in _sequence(entry["mounts"])]
    if entry.get("mkdir") is not None:
        result["mkdir"] = _strings(entry["mkdir"])
    if entry.get("interfaces") is not None:
        result["interfaces"] = [_interface(item) for item in _sequence(entry["interfaces"])]
    # bindNS is a struct value with omitempty: it disappears only when every member is nil.
    bind = _mapping(entry.get("bindNS"))
    namespaces = {key: _go_string(bind[key]) for key in _NAMESPACE_KEYS if bind.get(key) is not None}
    if namespaces:
        result["bindNS"] = namespaces
    if entry.get("namespace") is not None:
        result["namespace"] = _go_string(entry["namespace"])
    return result


# How each optional image key is held by linuxkit's `ImageConfig`, in struct (= output) order.
# "strings": *[]string; "string": string,omitempty; "string_ptr": *string; "bool": *bool;
# "any": *interface{}; "anys": *[]interface{}; "int": *int; "map": *map[string]string.
IMAGE_FIELDS: tuple[tuple[str, str], ...] = (
    ("capabilities", "strings"), ("capabilities.add", "strings"), ("ambient", "strings"),
    ("mounts", "mounts"), ("binds", "strings"), ("binds.add", "strings"), ("devices", "devices"),
    ("tmpfs", "strings"), ("command", "strings"), ("env", "strings"), ("cwd", "string"),
    ("net", "string"), ("pid", "string"), ("ipc", "string"), ("uts", "string"),
    ("userns", "string"), ("hostname", "string"), ("readonly", "bool"),
    ("maskedPaths", "strings"), ("readonlyPaths", "strings"), ("uid", "any"), ("gid", "any"),
    ("additionalGids", "anys"), ("noNewPrivileges", "bool"), ("oomScoreAdj", "int"),
    ("rootfsPropagation", "string_ptr"), ("cgroupsPath", "string_ptr"),
    ("resources", "resources"), ("sysctl", "map"), ("rlimits", "strings"),
    ("uidMappings", "idmaps"), ("gidMappings", "idmaps"), ("annotations", "map"),
    ("runtime", "runtime"),
)


def _image_field(kind: str, value: Any) -> Any:
    if kind == "strings":
        return _strings(value)
    if kind in ("string", "string_ptr"):
        return _go_string(value)
    if kind == "bool":
        return _go_bool(value)
    if kind == "any":
        # An interface{} keeps yaml.v3's float64: `1e6` prints as `1e+06`, not as an integer.
        return value
    if kind == "anys":
        return _sequence(value)
    if kind == "int":
        return _go_int(value)
    if kind == "map":
        return _string_map(value)
    if kind == "mounts":
        return [_mount(item) for item in _sequence(value)]
    if kind == "devices":
        return [_device(item) for item in _sequence(value)]
    if kind == "idmaps":
        return [_id_mapping(item) for item in _sequence(value)]
    if kind == "resources":
        return _resources(value)
    return _runtime(value)


def _image(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    result: dict[str, Any] = {
        "name": _go_string(entry.get("name")),
        "image": _go_string(entry.get("image")),
    }
    for key, kind in IMAGE_FIELDS:
        # A YAML null leaves a Go pointer nil, which omitempty then hides.
        if entry.get(key) is None:
            continue
        converted = _image_field(kind, entry[key])
        if kind == "string" and not converted:
            continue
        result[key] = converted
    return result


def _file(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    result: dict[str, Any] = {
        "path": _go_string(entry.get("path")),
        "directory": _go_bool(entry.get("directory")),
    }
    symlink = _go_string(entry.get("symlink"))
    if symlink:
        result["symlink"] = symlink
    if entry.get("contents") is not None:
        result["contents"] = _go_string(entry["contents"])
    for key in ("source", "metadata"):
        text = _go_string(entry.get(key))
        if text:
            result[key] = text
    result["optional"] = _go_bool(entry.get("optional"))
    mode = _go_string(entry.get("mode"))
    if mode:
        result["mode"] = mode
    for key in ("uid", "gid"):
        # interface{} with omitempty: only a nil interface is empty, so 0 and "" still print.
        if entry.get(key) is not None:
            result[key] = entry[key]
    return result


def _volume(value: Any) -> dict[str, Any]:
    entry = _mapping(value)
    result: dict[str, Any] = {"name": _go_string(entry.get("name"))}
    image = _go_string(entry.get("image"))
    if image:
        result["image"] = image
    if _go_bool(entry.get("readonly")):
        result["readonly"] = True
    fmt = _go_string(entry.get("format"))
    if fmt:
        result["format"] = fmt
    platforms = _strings(entry.get("platforms"))
    if platforms:
        result["platforms"] = platforms
    return result


def _kernel(config: Config, templated: dict[int, bool]) -> dict[str, Any]:
    # Recomputed from every kernel block rather than taken from Config.kernel: the override
    # rules run on the values *after* the template step (a later `image: "@x"` is "" and must
    # not replace an earlier image), and config.merge sees the raw values.
    values: dict[str, str] = {}
    for block in config.kernel_blocks:
        kernel = _mapping(apply_templates(block.value, templated[id(block.document)]))
        for key in ("image", "cmdline", "binary"):
            text = _go_string(kernel.get(key))
            if text:
                values[key] = text
        for key in ("tar", "ucode"):
            if kernel.get(key) is not None:
                values[key] = _go_string(kernel[key])
    result: dict[str, Any] = {"image": values.get("image", "")}
    for key in ("cmdline", "binary", "tar", "ucode"):
        if key in values:
            result[key] = values[key]
    return result


def go_model(config: Config) -> dict[str, Any]:
    """The merged config as linuxkit's Go `Moby` struct holds it, in yaml.v3 field order."""
    templated = template_switches(config)

    def values(section: str) -> list[Any]:
        nodes: list[Node] = config.section(section)
        return [apply_templates(node.value, templated.get(id(node.document), True)) for node in nodes]

    return {
        "kernel": _kernel(config, templated),
        "init": [_go_string(item) for item in values("init")],
        "onboot": [_image(item) for item in values("onboot")],
        "onshutdown": [_image(item) for item in values("onshutdown")],
        "services": [_image(item) for item in values("services")],
        "files": [_file(item) for item in values("files")],
        "volumes": [_volume(item) for item in values("volumes")],
    }


def render_yaml(model: dict[str, Any]) -> str:
    """yaml.v3 Marshal of the model, plus the newline linuxkit prints after it."""
    return goyaml.marshal_v3(model) + "\n"


def render_json(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"
