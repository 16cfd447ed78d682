"""The label `linuxkit pkg build` writes: a package's `build.yml` `config:` block, decoded
into linuxkit's Go `ImageConfig` and marshalled with Go's `encoding/json`, becomes the
image's `org.mobyproject.config` label.

The decode types every value (spec sections 3 and 10): a `string` field keeps the YAML text
of any scalar (an unquoted `mode: 0666` is the string "0666", not octal 438), integer fields
take yaml.v3's integers (`major: 010` is 8), `interface{}` fields keep yaml.v3's typed value,
unknown keys are dropped, and the runtime-spec types (`mounts`, `resources`, id mappings)
match lower-cased Go field names. The JSON follows the struct: fields in declaration order,
`omitempty` (pointers printed whenever set, `bindNS` always: Go never omits a struct), map
keys sorted.
"""

from __future__ import annotations

from typing import Any

from lkpolicy.gocompat import gojson
from lkpolicy.model.document import Document, join_pointer
from lkpolicy.model.gomodel import IMAGE_FIELDS
from lkpolicy.stages.effective.ocispec import ID_MAPPING, INTERFACE, MOUNT, RESOURCES, Decoder
from lkpolicy.stages.effective.source import Invalid, as_int
from lkpolicy.stages.effective.types import Origin

__all__ = ["PackageConfigError", "package_label"]

_NAMESPACE_KEYS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


class PackageConfigError(Exception):
    """`linuxkit pkg build` cannot decode the `config:` block: `pointer` is in the build.yml."""

    def __init__(self, pointer: str, problem: str) -> None:
        super().__init__(problem)
        self.pointer = pointer
        self.problem = problem


def package_label(document: Document, pointer: str = "/config") -> str | None:
    """The label text for the block at `pointer` of a build.yml (None when it has none)."""
    block = document.get(pointer) if _has(document, pointer) else None
    if block is None:
        return None
    decoder = _Decoder(_plain_texts(document), pointer)
    try:
        return gojson.marshal(decoder.image(block))
    except Invalid as error:
        where, _, problem = str(error).partition(": ")
        raise PackageConfigError(where, problem) from None


def _has(document: Document, pointer: str) -> bool:
    try:
        document.get(pointer)
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return True


def _plain_texts(document: Document) -> dict[str, str]:
    """JSON pointer -> the source text of every plain scalar (what a Go string field keeps)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    texts: dict[str, str] = {}
    root = next(iter(YAML(typ="safe", pure=True).compose_all(document.text)), None)
    stack: list[tuple[Any, str]] = [(root, "")] if root is not None else []
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, MappingNode):
            stack.extend((value, join_pointer(pointer, key.value)) for key, value in node.value
                         if isinstance(key, ScalarNode))
        elif isinstance(node, SequenceNode):
            stack.extend((item, join_pointer(pointer, index))
                         for index, item in enumerate(node.value))
        elif isinstance(node, ScalarNode) and not node.style:
            texts[pointer] = node.value
    return texts


class _Decoder:
    def __init__(self, texts: dict[str, str], root: str) -> None:
        self.texts = texts
        self.root = root
        self.spec = Decoder(Origin.LABEL, [])

    def invalid(self, pointer: str, problem: str) -> Exception:
        return Invalid(pointer, problem)

    def string(self, value: Any, pointer: str) -> str:
        """A scalar decoded into a Go string: its text (null: "")."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, list | dict):
            raise self.invalid(pointer, "expected a string")
        return self.texts.get(pointer, str(value).lower() if isinstance(value, bool)
                              else str(value))

    def strings(self, value: Any, pointer: str) -> list[str]:
        if not isinstance(value, list):
            raise self.invalid(pointer, "expected a list of strings")
        return [self.string(item, join_pointer(pointer, index))
                for index, item in enumerate(value)]

    def image(self, block: Any) -> dict[str, Any]:
        if not isinstance(block, dict):
            raise self.invalid(self.root, "expected a mapping (linuxkit's ImageConfig)")
        out: dict[str, Any] = {}
        for key, kind in IMAGE_FIELDS:
            value = block.get(key)
            if value is None:
                continue  # a nil pointer (or an empty string): omitempty leaves it out
            pointer = join_pointer(self.root, key)
            if kind == "strings":
                out[key] = self.strings(value, pointer)
            elif kind in ("string", "string_ptr"):
                text = self.string(value, pointer)
                if text or kind == "string_ptr":
                    out[key] = text
            elif kind == "bool":
                if not isinstance(value, bool):
                    raise self.invalid(pointer, "expected a boolean")
                out[key] = value
            elif kind in ("any", "anys"):
                if kind == "anys" and not isinstance(value, list):
                    raise self.invalid(pointer, "expected a list")
                out[key] = value
            elif kind == "int":
                out[key] = as_int(value, pointer)
            elif kind == "map":
                out[key] = self.string_map(value, pointer)
            else:
                out[key] = self.structured(kind, value, pointer)
        return out

    def string_map(self, value: Any, pointer: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.invalid(pointer, "expected a mapping of strings")
        return {key: self.string(value[key], join_pointer(pointer, key))
                for key in sorted(value, key=str)}

    def structured(self, kind: str, value: Any, pointer: str) -> Any:
        if kind == "resources":
            return self.spec.struct(RESOURCES, value, pointer)
        if kind == "runtime":
            return self.runtime(value, pointer)
        if not isinstance(value, list):
            raise self.invalid(pointer, "expected a list")
        items = [(item, join_pointer(pointer, index)) for index, item in enumerate(value)]
        if kind == "devices":
            return [self.device(item, at) for item, at in items]
        model = MOUNT if kind == "mounts" else ID_MAPPING
        return [self.spec.struct(model, item if item is not None else {}, at)
                for item, at in items]

    def device(self, value: Any, pointer: str) -> dict[str, Any]:
        entry = value if isinstance(value, dict) else {}
        if value is not None and not isinstance(value, dict):
            raise self.invalid(pointer, "expected a device mapping")
        device: dict[str, Any] = {
            "path": self.string(entry.get("path"), join_pointer(pointer, "path")),
            "type": self.string(entry.get("type"), join_pointer(pointer, "type")),
            "major": 0 if entry.get("major") is None else as_int(
                entry["major"], join_pointer(pointer, "major")),
            "minor": 0 if entry.get("minor") is None else as_int(
                entry["minor"], join_pointer(pointer, "minor")),
        }
        mode = self.string(entry.get("mode"), join_pointer(pointer, "mode"))
        if mode:
            device["mode"] = mode
        return device

    def runtime(self, value: Any, pointer: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.invalid(pointer, "expected a mapping")
        out: dict[str, Any] = {}
        for key in ("cgroups", "mounts", "mkdir", "interfaces"):
            if value.get(key) is None:
                continue
            at = join_pointer(pointer, key)
            if key in ("cgroups", "mkdir"):
                out[key] = self.strings(value[key], at)
                continue
            if not isinstance(value[key], list):
                raise self.invalid(at, "expected a list")
            model = MOUNT if key == "mounts" else INTERFACE
            out[key] = [self.spec.struct(model, item if item is not None else {},
                                         join_pointer(at, index))
                        for index, item in enumerate(value[key])]
        bind = value.get("bindNS")
        bind = bind if isinstance(bind, dict) else {}
        at = join_pointer(pointer, "bindNS")
        out["bindNS"] = {key: self.string(bind[key], join_pointer(at, key))
                         for key in _NAMESPACE_KEYS if bind.get(key) is not None}
        if value.get("namespace") is not None:
            out["namespace"] = self.string(value["namespace"], join_pointer(pointer, "namespace"))
        return out
