"""The `metadata: yaml|json` files: the merged config as linuxkit holds it during the build.

The model is the dry-run model (`dryrun.go_model`) with every image reference expanded, the
form linuxkit has rewritten them to by the time the files section runs. The YAML is yaml.v2
output (2-space indent, sequences inside mappings not indented), unlike the yaml.v3 dry run;
the JSON is `MarshalIndent` with 4 spaces, where the runtime-spec types use their JSON names
and `omitempty` rules rather than the lower-cased YAML names.
"""

from __future__ import annotations

import copy
from typing import Any

from lkpolicy.gocompat import gojson
from lkpolicy.model.gomodel import _Emitter, _is_simple_key
from lkpolicy.model.reference import expand
from lkpolicy.stages.effective import _ID_MAPPING, _MOUNT, _RESOURCES, _Field, _Omit, _Struct

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


# --------------------------------------------------------------------------------------------
# yaml.v2


class _V2Emitter(_Emitter):
    """libyaml's original indentation, which yaml.v2 keeps: 2 spaces, and a block sequence
    that is a mapping value starts at the mapping's own column."""

    BEST_INDENT = 2

    def emit(self, value: Any, indent: int, mapping_value: bool) -> None:
        if isinstance(value, dict) and value:
            self.block_mapping(value, 0 if indent < 0 else indent + self.BEST_INDENT)
        elif isinstance(value, list) and value:
            indentless = mapping_value and not self.indention
            inner = indent if indentless else indent + self.BEST_INDENT
            inner = 0 if indent < 0 else inner
            self.block_sequence(value, inner)
        else:
            self.node(value, indent, False)

    def increase(self, indent: int, in_sequence_item: bool, flow: bool) -> int:
        if indent < 0:
            return self.BEST_INDENT if flow else 0
        return indent + self.BEST_INDENT

    def block_mapping(self, value: dict[str, Any], indent: int) -> None:
        for key, item in value.items():
            self.write_indent(indent)
            if _is_simple_key(key):
                self.node(key, indent, False, simple_key=True)
                self.write_indicator(":", False, False, False)
            else:
                self.write_indicator("?", True, False, True)
                self.node(key, indent, False)
                self.write_indent(indent)
                self.write_indicator(":", True, False, True)
            self.emit(item, indent, True)

    def block_sequence(self, value: list[Any], indent: int) -> None:
        for item in value:
            self.write_indent(indent)
            self.write_indicator("-", True, False, True)
            self.emit(item, indent, False)


def render_yaml(model: dict[str, Any]) -> str:
    """yaml.v2 `Marshal` of the model."""
    emitter = _V2Emitter()
    emitter.emit(model, -1, False)
    emitter.write_indent(0)
    return "".join(emitter.parts)


# --------------------------------------------------------------------------------------------
# JSON


def _is_zero(value: Any) -> bool:
    return value is None or value is False or value == 0 or value == "" or value in ([], {})


def _convert(value: Any, elem: _Struct | str | None) -> Any:
    if isinstance(elem, _Struct):
        if isinstance(value, dict):
            return _struct_json(value, elem)
        if isinstance(value, list):
            return [_convert(item, elem) for item in value]
    return value


def _struct_json(data: dict[str, Any], model: _Struct) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in model.fields:
        if spec.kind == "inline":
            inner = data.get(spec.yaml)
            if isinstance(spec.elem, _Struct):
                out.update(_struct_json(inner if isinstance(inner, dict) else {}, spec.elem))
            continue
        _put(out, spec, data.get(spec.yaml))
    return out


def _put(out: dict[str, Any], spec: _Field, value: Any) -> None:
    if spec.omit is _Omit.NIL and value is None:
        return
    if spec.omit is _Omit.ZERO and _is_zero(value):
        return
    if spec.kind == "map" and isinstance(value, dict) and isinstance(spec.elem, _Struct):
        out[spec.json] = {key: _convert(item, spec.elem) for key, item in value.items()}
        return
    out[spec.json] = _convert(value, spec.elem)


def _json_model(model: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(model)
    for section in _IMAGE_SECTIONS:
        for entry in result.get(section, []):
            if "mounts" in entry:
                entry["mounts"] = _convert(entry["mounts"], _MOUNT)
            if isinstance(entry.get("resources"), dict):
                entry["resources"] = _struct_json(entry["resources"], _RESOURCES)
            for key in ("uidMappings", "gidMappings"):
                if key in entry:
                    entry[key] = _convert(entry[key], _ID_MAPPING)
    # linuxkit appends every file's sections to an empty config: a section with no entries
    # stays a nil slice, which encoding/json writes as null (`init: []` included).
    for section in ("init", *_IMAGE_SECTIONS, "files", "volumes"):
        if result.get(section) == []:
            result[section] = None
    return result


def render_json(model: dict[str, Any]) -> str:
    """`json.MarshalIndent(model, "", "    ")` of the model."""
    return gojson.marshal_indent(_json_model(model))
