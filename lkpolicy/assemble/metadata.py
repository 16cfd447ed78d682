"""The `metadata: yaml|json` files: the merged config as linuxkit holds it during the build.

The model is the dry-run model (`gomodel.go_model`) with every image reference expanded, the
form linuxkit has rewritten them to by the time the files section runs. The YAML is yaml.v2
output (2-space indent, sequences inside mappings not indented), unlike the yaml.v3 dry run;
the JSON is `MarshalIndent` with 4 spaces, where the runtime-spec types use their JSON names
and `omitempty` rules rather than the lower-cased YAML names.
"""

from __future__ import annotations

import copy
from typing import Any

from lkpolicy.gocompat import gojson, goyaml
from lkpolicy.model.reference import expand
from lkpolicy.stages.effective.ocispec import ID_MAPPING, MOUNT, RESOURCES, Field, Struct, printed

__all__ = ["expanded_model", "render_json", "render_yaml"]

_IMAGE_SECTIONS = ("onboot", "onshutdown", "services")


def expanded_model(model: dict[str, Any]) -> dict[str, Any]:
    """A copy of a `go_model` result with image references in their expanded form."""
    result = copy.deepcopy(model)
    kernel = result.get("kernel", {})
    if kernel.get("image"):
        kernel["image"] = expand(kernel["image"])
    result["init"] = [expand(image) for image in result.get("init", [])]
    for section in _IMAGE_SECTIONS:
        for entry in result.get(section, []):
            if entry.get("image"):
                entry["image"] = expand(entry["image"])
    for volume in result.get("volumes", []):
        if volume.get("image"):
            volume["image"] = expand(volume["image"])
    return result


def render_yaml(model: dict[str, Any]) -> str:
    """yaml.v2 `Marshal` of the model."""
    return goyaml.marshal_v2(model)


# --------------------------------------------------------------------------------------------
# JSON


def _convert(value: Any, elem: Struct | str | None) -> Any:
    if isinstance(elem, Struct):
        if isinstance(value, dict):
            return _struct_json(value, elem)
        if isinstance(value, list):
            return [_convert(item, elem) for item in value]
    return value


def _struct_json(data: dict[str, Any], model: Struct) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in model.fields:
        if spec.kind == "inline":
            inner = data.get(spec.yaml)
            if isinstance(spec.elem, Struct):
                out.update(_struct_json(inner if isinstance(inner, dict) else {}, spec.elem))
            continue
        _put(out, spec, data.get(spec.yaml))
    return out


def _put(out: dict[str, Any], spec: Field, value: Any) -> None:
    if not printed(spec, value, value):
        return
    if spec.kind == "map" and isinstance(value, dict) and isinstance(spec.elem, Struct):
        out[spec.json] = {key: _convert(item, spec.elem) for key, item in value.items()}
        return
    out[spec.json] = _convert(value, spec.elem)


def _json_model(model: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(model)
    for section in _IMAGE_SECTIONS:
        for entry in result.get(section, []):
            if "mounts" in entry:
                entry["mounts"] = _convert(entry["mounts"], MOUNT)
            if isinstance(entry.get("resources"), dict):
                entry["resources"] = _struct_json(entry["resources"], RESOURCES)
            for key in ("uidMappings", "gidMappings"):
                if key in entry:
                    entry[key] = _convert(entry[key], ID_MAPPING)
            if isinstance(entry.get("runtime"), dict):
                entry["runtime"] = _runtime_json(entry["runtime"])
    # linuxkit appends every file's sections to an empty config: a section with no entries
    # stays a nil slice, which encoding/json writes as null (`init: []` included).
    for section in ("init", *_IMAGE_SECTIONS, "files", "volumes"):
        if result.get(section) == []:
            result[section] = None
    return result


def _runtime_json(runtime: dict[str, Any]) -> dict[str, Any]:
    """encoding/json never omits a struct, `omitempty` or not: `bindNS` is always written
    (`{}` when empty), between `interfaces` and `namespace` as in linuxkit's `Runtime`."""
    if "bindNS" in runtime:
        return runtime
    out = {key: value for key, value in runtime.items() if key != "namespace"}
    out["bindNS"] = {}
    if "namespace" in runtime:
        out["namespace"] = runtime["namespace"]
    return out


def render_json(model: dict[str, Any]) -> str:
    """`json.MarshalIndent(model, "", "    ")` of the model."""
    return gojson.marshal_indent(_json_model(model))
