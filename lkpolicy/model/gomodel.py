"""`lkpolicy show`: what `linuxkit build --dry-run` prints.

linuxkit decodes each config into its Go `Moby` struct (after the `@` template step), appends
the configs, and prints the result with gopkg.in/yaml.v3 (`yaml.Marshal`). The printed text is
therefore shaped by the Go types rather than by the input: struct field order, zero values for
fields without `omitempty`, keys dropped because yaml.v3 matches lower-cased Go field names, and
yaml.v3's own quoting and indentation rules. This module reproduces each of those layers so the
output is byte-identical with linuxkit's (see the dry-run goldens).
"""

from __future__ import annotations

import calendar
import functools
import json
import math
import re
from decimal import Decimal
from typing import Any

from lkpolicy.model.config import Config, Node
from lkpolicy.model.templates import apply_templates, template_switches
from lkpolicy.stages.load import resolve_plain_scalar

__all__ = ["apply_templates", "go_model", "render_json", "render_yaml", "sort_map_keys"]

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
    return {key: items[key] for key in sort_map_keys(list(items))}


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
_IMAGE_FIELDS: tuple[tuple[str, str], ...] = (
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
        return _go_int(value) if isinstance(value, float) else value
    if kind == "anys":
        return [_go_int(item) if isinstance(item, float) else item for item in _sequence(value)]
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
    for key, kind in _IMAGE_FIELDS:
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
            result[key] = _go_int(entry[key]) if isinstance(entry[key], float) else entry[key]
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


def sort_map_keys(keys: list[str]) -> list[str]:
    """yaml.v3's order for the keys of a Go map: letters by code point, digit runs by value."""

    def compare(a: str, b: str) -> int:
        if _key_less(a, b):
            return -1
        if _key_less(b, a):
            return 1
        return 0

    return sorted(keys, key=functools.cmp_to_key(compare))


def _key_less(a: str, b: str) -> bool:
    digits = False
    for index in range(min(len(a), len(b))):
        ca, cb = a[index], b[index]
        if ca == cb:
            digits = ca.isdigit()
            continue
        a_letter, b_letter = ca.isalpha(), cb.isalpha()
        if a_letter and b_letter:
            return ca < cb
        if a_letter or b_letter:
            return a_letter if digits else b_letter
        a_number = b_number = 0
        if ca == "0" or cb == "0":
            back = index - 1
            while back >= 0 and a[back].isdigit():
                if a[back] != "0":
                    # Inside a nonzero number leading zeros count: "10" vs "100" style runs.
                    a_number = b_number = 1
                    break
                back -= 1
        a_end = index
        while a_end < len(a) and a[a_end].isdigit():
            a_number = a_number * 10 + int(a[a_end])
            a_end += 1
        b_end = index
        while b_end < len(b) and b[b_end].isdigit():
            b_number = b_number * 10 + int(b[b_end])
            b_end += 1
        if a_number != b_number:
            return a_number < b_number
        if a_end != b_end:
            return a_end < b_end
        return ca < cb
    return len(a) < len(b)


# --------------------------------------------------------------------------------------------
# yaml.v3 scalar decisions

_OLD_BOOLS = frozenset({
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
    "n", "N", "no", "No", "NO", "off", "Off", "OFF",
})
_BASE60_RE = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?P<sep>[Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,]\d+)?(?P<zone>Z|[+-]\d{2}:\d{2})?)?$"
)
_RESOLVER_HINTS = frozenset("+-0123456789yYnNtTfFoO~.")


def _is_timestamp(text: str) -> bool:
    """yaml.v3 tries Go's time.Parse with four layouts on anything starting `YYYY-`."""
    match = _TIMESTAMP_RE.match(text)
    if match is None:
        return False
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return False
    sep = match["sep"]
    if sep is None:
        return True
    # The `T` layouts end in a required zone; the space layout has none.
    if (sep == " ") == (match["zone"] is not None):
        return False
    hour, minute, second = int(match[5]), int(match[6]), int(match[7])
    return hour < 24 and minute < 60 and second < 60


def _resolves_to_string(text: str) -> bool:
    """Whether yaml.v3's resolver reads `text`, written plain, back as a string."""
    if not text:
        return False
    if text[0] not in _RESOLVER_HINTS:
        return True
    if text[0] in "0123456789+-" and _is_timestamp(text):
        return False
    value = resolve_plain_scalar(text)
    if isinstance(value, float) and math.isinf(value) and not text.lstrip("+-").lower().startswith(".inf"):
        # Go's ParseFloat reports overflow as an error, so `1e999` stays a string.
        return True
    return isinstance(value, str)


def _can_use_plain(text: str) -> bool:
    return (_resolves_to_string(text) and text not in _OLD_BOOLS
            and not (":" in text and _BASE60_RE.match(text) is not None))


_BREAKS = frozenset("\r\n\x85\u2028\u2029")
_BLANKS = frozenset(" \t")


def _printable(char: str) -> bool:
    code = ord(char)
    return (code == 0x0A or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF))


class _Analysis:
    """The emitter's verdict on which scalar styles can carry a string unchanged."""

    __slots__ = ("block_allowed", "multiline", "plain_allowed", "single_allowed")

    def __init__(self, text: str) -> None:
        if not text:
            self.multiline = False
            self.plain_allowed = True
            self.single_allowed = True
            self.block_allowed = False
            return
        indicators = text.startswith(("---", "..."))
        line_breaks = special = tabs = False
        leading_space = leading_break = trailing_space = trailing_break = False
        break_space = space_break = False
        preceded_by_whitespace = True
        previous_space = previous_break = False
        last = len(text) - 1
        for index, char in enumerate(text):
            followed_by_whitespace = index == last or text[index + 1] in _BLANKS
            indicators = indicators or _block_indicator(
                char, index == 0, preceded_by_whitespace, followed_by_whitespace)
            if char == "\t":
                tabs = True
            elif not _printable(char):
                special = True
            if char == " ":
                leading_space = leading_space or index == 0
                trailing_space = trailing_space or index == last
                break_space = break_space or previous_break
                previous_space, previous_break = True, False
            elif char in _BREAKS:
                line_breaks = True
                leading_break = leading_break or index == 0
                trailing_break = trailing_break or index == last
                space_break = space_break or previous_space
                previous_space, previous_break = False, True
            else:
                previous_space = previous_break = False
            preceded_by_whitespace = char in _BLANKS or char in _BREAKS or char == "\x00"
        self.multiline = line_breaks
        self.plain_allowed = not (leading_space or leading_break or trailing_space or trailing_break
                                  or break_space or space_break or tabs or special or line_breaks
                                  or indicators)
        self.single_allowed = not (break_space or space_break or tabs or special)
        self.block_allowed = not (trailing_space or space_break or special)


def _block_indicator(char: str, first: bool, preceded_by_whitespace: bool,
                     followed_by_whitespace: bool) -> bool:
    """Whether `char` would be read as YAML syntax in a plain scalar of a block collection."""
    if first:
        return (char in "#,[]{}&*!|>'\"%@`"
                or (char in "?:-" and followed_by_whitespace))
    return ((char == ":" and followed_by_whitespace)
            or (char == "#" and preceded_by_whitespace))


_PLAIN, _SINGLE, _DOUBLE, _LITERAL = "plain", "single", "double", "literal"

_ESCAPES = {
    "\x00": "0", "\x07": "a", "\x08": "b", "\t": "t", "\n": "n", "\x0b": "v", "\x0c": "f",
    "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_",
    "\u2028": "L", "\u2029": "P",
}


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64) with yaml.v3's spellings of the specials."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    parts = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in parts.digits)
    assert isinstance(parts.exponent, int)
    point = len(digits) + parts.exponent
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


# --------------------------------------------------------------------------------------------
# The emitter


class _Emitter:
    """A transcription of the parts of yaml.v3's emitter that Marshal output exercises.

    The state (column, whitespace, indention) is kept exactly as libyaml keeps it, because
    whether a line break or a space is written depends on it. Indentation follows yaml.v3's
    change to libyaml: nested collections align to multiples of the 4-space indent, except
    the first level inside a sequence item, which just skips the `- `.
    """

    BEST_INDENT = 4

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.column = 0
        self.whitespace = True
        self.indention = True

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.column += len(text)

    def put_break(self) -> None:
        self.parts.append("\n")
        self.column = 0
        self.indention = True

    def write_indent(self, indent: int) -> None:
        indent = max(indent, 0)
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            self.put_break()
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = True

    def write_indicator(self, indicator: str, need_whitespace: bool, is_whitespace: bool,
                        is_indention: bool) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(indicator)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention

    def increase(self, indent: int, in_sequence_item: bool, flow: bool) -> int:
        if indent < 0:
            return self.BEST_INDENT if flow else 0
        if in_sequence_item:
            return indent + 2
        return self.BEST_INDENT * ((indent + self.BEST_INDENT) // self.BEST_INDENT)

    # Nodes ------------------------------------------------------------------------------

    def node(self, value: Any, indent: int, in_sequence_item: bool, simple_key: bool = False) -> None:
        if isinstance(value, dict):
            if not value:
                self.write_indicator("{", True, True, False)
                self.write_indicator("}", False, False, False)
            else:
                self.mapping(value, self.increase(indent, in_sequence_item, False))
        elif isinstance(value, list):
            if not value:
                self.write_indicator("[", True, True, False)
                self.write_indicator("]", False, False, False)
            else:
                self.sequence(value, self.increase(indent, in_sequence_item, False))
        else:
            self.scalar(value, self.increase(indent, in_sequence_item, True), simple_key)

    def mapping(self, value: dict[str, Any], indent: int) -> None:
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
            self.node(item, indent, False)

    def sequence(self, value: list[Any], indent: int) -> None:
        for item in value:
            self.write_indent(indent)
            self.write_indicator("-", True, False, True)
            self.node(item, indent, True)

    # Scalars ----------------------------------------------------------------------------

    def scalar(self, value: Any, indent: int, simple_key: bool) -> None:
        if isinstance(value, str):
            self.string(value, indent, simple_key)
        elif value is None:
            self.plain("null")
        elif isinstance(value, bool):
            self.plain("true" if value else "false")
        elif isinstance(value, int):
            self.plain(str(value))
        elif isinstance(value, float):
            self.plain(_go_float(value))
        else:
            raise TypeError(f"cannot render {type(value).__name__} as YAML")

    def string(self, text: str, indent: int, simple_key: bool) -> None:
        if "\n" in text:
            style = _LITERAL
        elif _can_use_plain(text):
            style = _PLAIN
        else:
            style = _DOUBLE
        analysis = _Analysis(text)
        if simple_key and analysis.multiline:
            style = _DOUBLE
        if style == _PLAIN and (not analysis.plain_allowed or (not text and simple_key)):
            style = _SINGLE
        if style == _SINGLE and not analysis.single_allowed:
            style = _DOUBLE
        if style == _LITERAL and (not analysis.block_allowed or simple_key):
            style = _DOUBLE
        if style == _PLAIN:
            self.plain(text)
        elif style == _SINGLE:
            self.single_quoted(text, indent)
        elif style == _DOUBLE:
            self.double_quoted(text)
        else:
            self.literal(text, indent)

    def plain(self, text: str) -> None:
        if text and not self.whitespace:
            self.put(" ")
        self.put(text)
        if text:
            self.whitespace = False
        self.indention = False

    def single_quoted(self, text: str, indent: int) -> None:
        self.write_indicator("'", True, False, False)
        breaks = False
        for char in text:
            if char in _BREAKS:
                # Only breaks other than "\n" get here ("\n" selects a literal block).
                self.parts.append(char)
                self.column = 0
                self.indention = True
                breaks = True
                continue
            if breaks:
                self.write_indent(indent)
            self.put("''" if char == "'" else char)
            if char != " ":
                self.indention = False
            breaks = False
        self.write_indicator("'", False, False, False)
        self.whitespace = False
        self.indention = False

    def double_quoted(self, text: str) -> None:
        self.write_indicator('"', True, False, False)
        out: list[str] = []
        for char in text:
            if not _printable(char) or char == "\ufeff" or char in _BREAKS or char in '"\\':
                code = ord(char)
                if char in _ESCAPES:
                    out.append("\\" + _ESCAPES[char])
                elif code <= 0xFF:
                    out.append(f"\\x{code:02X}")
                elif code <= 0xFFFF:
                    out.append(f"\\u{code:04X}")
                else:
                    out.append(f"\\U{code:08X}")
            else:
                out.append(char)
        self.put("".join(out))
        self.write_indicator('"', False, False, False)
        self.whitespace = False
        self.indention = False

    def literal(self, text: str, indent: int) -> None:
        self.write_indicator("|", True, False, False)
        if text[0] == " " or text[0] in _BREAKS:
            self.write_indicator(str(self.BEST_INDENT), False, False, False)
        if text[-1] not in _BREAKS:
            self.write_indicator("-", False, False, False)
        elif len(text) == 1 or text[-2] in _BREAKS:
            self.write_indicator("+", False, False, False)
        self.put_break()
        self.whitespace = True
        breaks = True
        for char in text:
            if char in _BREAKS:
                if char == "\n":
                    self.put_break()
                else:
                    self.parts.append(char)
                    self.column = 0
                    self.indention = True
                breaks = True
            else:
                if breaks:
                    self.write_indent(indent)
                self.put(char)
                self.indention = False
                breaks = False


def _is_simple_key(key: Any) -> bool:
    if not isinstance(key, str):
        return True
    return len(key.encode("utf-8")) <= 128 and not any(char in _BREAKS for char in key)


def render_yaml(model: dict[str, Any]) -> str:
    """yaml.v3 Marshal of the model, plus the newline linuxkit prints after it."""
    emitter = _Emitter()
    emitter.node(model, -1, False)
    emitter.write_indent(0)
    return "".join(emitter.parts) + "\n"


def render_json(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"
