"""The validation stage: what linuxkit checks before it builds anything.

Two halves, in linuxkit's order: the JSON schema (our own 2020-12 schema in `schemas/`, which
accepts exactly what linuxkit's draft-04 schema accepts, checked by code generated from it: see
`stages.schemacheck`), then the checks linuxkit runs on the decoded config (unique service and
volume names, parsable image references). Every finding here is an error because linuxkit
refuses the config; unlike linuxkit, which stops at the first problem, all of them are reported,
each at the line and column that needs the edit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.gocompat.yamlscalars import resolve_plain_scalar
from lkpolicy.model.document import Document, join_pointer, json_type, split_pointer
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.fixes import Fix, rename_key, set_value
from lkpolicy.model.reference import ReferenceError, parse
from lkpolicy.model.rules import Fixability, define_rule
from lkpolicy.stages.schemacheck.generated import violations
from lkpolicy.stages.schemacheck.violation import Violation

if TYPE_CHECKING:
    from lkpolicy.model.config import Config

# Shipped inside the package; the repository's top-level `schemas/` links here.
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "schemas" / "linuxkit.schema.json"

_SCHEMA = "schema"
_CONFIG = "config"

UNKNOWN_KEY = define_rule(
    "LK201", "unknown-key", "A key that the LinuxKit schema does not allow", Severity.ERROR, _SCHEMA,
    "linuxkit validates the config against a JSON schema in which every mapping lists its keys; "
    "any other key, typically a misspelling such as `capabilites`, makes linuxkit reject the "
    "whole file. Other YAML tools would silently ignore it, so the intended setting (a capability "
    "list, a read-only flag) would never apply.",
    "Correct the spelling (the hint names the closest allowed key) or remove the key. Keys are "
    "case-sensitive: `blockio` and `uidmappings` in mounts are lower case, `uidMappings` and "
    "`containerID` are camelCase. Extension keys such as `x-common:` are not allowed anywhere.",
    linuxkit="prints `- onboot.0: Additional property capabilites is not allowed` on stdout and "
    "fails with `invalid config: invalid configuration file`; lkpolicy points at the key itself.",
    # `--fix` renames the key when exactly one allowed key is close to it.
    fixability=Fixability.SOMETIMES,
)
WRONG_TYPE = define_rule(
    "LK202", "wrong-type", "A value has the wrong type", Severity.ERROR, _SCHEMA,
    "linuxkit's YAML reader (yaml.v3) types plain scalars before the schema sees them: `0644` is "
    "the octal integer 420, `yes` and `no` are strings, an empty value is null. A value of the "
    "wrong type makes linuxkit reject the whole file.",
    "Give the value the type the key needs: quote strings such as modes (`mode: \"0644\"`), write "
    "booleans as `true`/`false`, write lists as YAML sequences.",
    linuxkit="prints `- files.0.mode: Invalid type. Expected: string, given: integer` (for `uid`/"
    "`gid`: `Must validate at least one schema (anyOf)`) and fails with `invalid config: invalid "
    "configuration file`.",
    # `--fix` quotes a number or boolean where a string belongs (an octal mode keeps its
    # digits), and unquotes a number or boolean written as a string.
    fixability=Fixability.SOMETIMES,
)
MISSING_KEY = define_rule(
    "LK203", "missing-required-key", "A required key is missing", Severity.ERROR, _SCHEMA,
    "Every onboot, onshutdown and service entry needs a `name` and an `image`; linuxkit rejects a "
    "config in which one of them is missing.",
    "Add the missing key to the entry.",
    linuxkit="prints `- services.0: image is required` and fails with `invalid config: invalid "
    "configuration file`.",
)
INVALID_VALUE = define_rule(
    "LK204", "invalid-value", "A value the LinuxKit schema does not allow", Severity.ERROR, _SCHEMA,
    "Some keys only take a fixed set of values, such as a volume's `format` (`oci` or "
    "`filesystem`); linuxkit rejects the whole file otherwise.",
    "Use one of the allowed values listed in the message.",
    linuxkit="gojsonschema reports `must be one of the following: \"oci\", \"filesystem\"` and "
    "linuxkit fails with `invalid config: invalid configuration file`.",
    # `--fix` writes the allowed value when exactly one is close to the one written.
    fixability=Fixability.SOMETIMES,
)
DUPLICATE_SERVICE = define_rule(
    "LK210", "duplicate-service-name", "Two services have the same name", Severity.ERROR, _CONFIG,
    "A service's name is its containerd id and its directory `containers/services/<name>`; two "
    "services cannot share it, so linuxkit refuses the config. (onboot and onshutdown names may "
    "repeat.)",
    "Rename one of the services.",
    linuxkit="fails with `invalid config: duplicate service name: <name>`.",
)
INVALID_VOLUME_NAME = define_rule(
    "LK211", "invalid-volume-name", "A volume name has characters linuxkit does not allow",
    Severity.ERROR, _CONFIG,
    "Volume names become paths and are referred to from `binds`; linuxkit only allows lower-case "
    "letters, digits, `_` and `-` (`^[a-z0-9_-]*$`).",
    "Rename the volume (and the binds that use it) with only `a-z`, `0-9`, `_` and `-`.",
    linuxkit="fails with `invalid config: invalid volume name: <name>`. It accepts the empty "
    "name.",
)
DUPLICATE_VOLUME = define_rule(
    "LK212", "duplicate-volume-name", "Two volumes in one file have the same name",
    Severity.ERROR, _CONFIG,
    "Binds refer to volumes by name, so a name must identify one volume.",
    "Rename one of the volumes, or remove the duplicate.",
    linuxkit="fails with `invalid config: duplicate volume name: <name>`. The check is per file: "
    "the same name in two config files is not detected.",
)
INVALID_REFERENCE = define_rule(
    "LK213", "invalid-image-reference", "An image reference cannot be parsed", Severity.ERROR,
    _CONFIG,
    "linuxkit expands every image reference (kernel, init, onboot, onshutdown, services, volumes) "
    "and parses it before the build starts; a reference its parser cannot read, typically a `:` "
    "where the parser expects a registry port, fails the whole config.",
    "Write the reference as `[registry/]repository[:tag][@sha256:digest]`. An `@pkg:` template "
    "is only replaced inside a git checkout that holds the package; elsewhere build the package "
    "and use its tag.",
    linuxkit="fails with `invalid config: extract <kernel|init|on boot|on shutdown|service|volume> "
    "image reference: <parse error>`, e.g. `parse \"dummy://@pkg:./pkg/init\": invalid port \":.\" "
    "after host`.",
)
DUPLICATE_SERVICE_ACROSS_FILES = define_rule(
    "LK214", "duplicate-service-across-files", "Two config files define a service of the same name",
    Severity.ERROR, _CONFIG,
    "`linuxkit build a.yml b.yml` appends the services of every file and checks their names "
    "again: a service name used in two files makes the build fail although each file is valid on "
    "its own.",
    "Rename one of the services, or remove it from one of the files.",
    linuxkit="fails with `cannot append config files: duplicate service name: <name>`.",
)

_IMAGE_SECTIONS = {"onboot": "on boot", "onshutdown": "on shutdown", "services": "service"}
"""Section -> the word linuxkit uses in `extract <word> image reference`."""

_VOLUME_NAME = re.compile(r"[a-z0-9_-]*")
"""Go's `^...$` without the multi-line flag; Python's `$` would accept a trailing newline."""

_YAML11_BOOLEANS = {
    "yes": "true", "y": "true", "on": "true",
    "no": "false", "n": "false", "off": "false",
}
_SHORT_KEY_LIST = 12
"""List the allowed keys in the hint only for objects small enough to read at a glance."""


@cache
def schema() -> dict[str, Any]:
    """The JSON schema in use (for `lkpolicy schema` and tests)."""
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result


def schema_text() -> str:
    """The schema file as written (for `lkpolicy schema` and editors)."""
    return SCHEMA_PATH.read_text(encoding="utf-8")


def validate_data(data: Any) -> list[str]:
    """Schema problems of plain data without a source file, e.g. an image label wrapped as
    `{"services": [label]}`; fits `effective.LabelValidator`."""
    return [finding.message for finding in validate_document(Document("<data>", "", data))]


# --- schema errors ---------------------------------------------------------------------------


def validate_document(document: Document) -> list[Finding]:
    """Schema findings for one document, one per problem, in file order."""
    return schema_findings(document, violations(document.data))


def schema_findings(document: Document, found: Iterable[Violation]) -> list[Finding]:
    """The findings for a document's schema violations (from the generated validator, or from
    `schemacheck.reference` when the two are compared)."""
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for violation in found:
        for finding in _findings_for(document, violation):
            identity = (finding.rule_id, finding.pointer, finding.message)
            if identity not in seen:
                seen.add(identity)
                findings.append(finding)
    findings.sort(key=Finding.sort_key)
    return findings


def _findings_for(document: Document, violation: Violation) -> Iterator[Finding]:
    pointer = "".join(join_pointer("", token) for token in violation.path)
    kind = violation.keyword
    if kind == "additionalProperties":
        yield from _unknown_keys(document, violation, pointer)
    elif kind == "required":
        yield from _missing_keys(document, violation, pointer)
    elif kind == "type":
        yield _wrong_type(document, violation.instance, list(violation.expected), pointer)
    elif kind == "enum":
        yield _not_in_enum(document, violation, pointer)
    else:
        yield INVALID_VALUE.finding(
            f"`{_display(pointer)}`: {violation.message}", document.location(pointer), pointer)


def _unknown_keys(document: Document, violation: Violation, pointer: str) -> Iterator[Finding]:
    instance = violation.instance
    if not isinstance(instance, dict):
        return
    allowed = list(violation.expected)
    where = "at the top level" if not pointer else f"in `{_display(pointer)}`"
    for key in instance:
        if key in allowed:
            continue
        key_pointer = join_pointer(pointer, key)
        candidate = _only_candidate(key, allowed)
        fix = None
        if candidate is not None and candidate not in instance:
            fix = rename_key(key_pointer, candidate, f"rename to `{candidate}`")
        yield UNKNOWN_KEY.finding(
            f"unknown key `{key}` {where}",
            document.location(key_pointer, key=True), key_pointer,
            hint=_unknown_key_hint(key, allowed), fix=fix)


def _only_candidate(key: str, allowed: list[str]) -> str | None:
    """The allowed key that `key` misspells, when there is exactly one."""
    folded = [name for name in allowed if name.lower() == key.lower()]
    if folded:
        return folded[0] if len(folded) == 1 else None
    close = _close_matches(key, allowed, 2, 0.6)
    return close[0] if len(close) == 1 else None


_SUGGEST_MAX = 100


def _close_matches(word: str, allowed: list[str], n: int, cutoff: float) -> list[str]:
    # difflib is quadratic in the word's length; no key or value is longer than _SUGGEST_MAX.
    if len(word) > _SUGGEST_MAX:
        return []
    import difflib

    return difflib.get_close_matches(word, allowed, n=n, cutoff=cutoff)


def _unknown_key_hint(key: str, allowed: list[str]) -> str | None:
    if not allowed:
        return None
    folded = {name.lower(): name for name in allowed}
    if key.lower() in folded:
        return f"did you mean `{folded[key.lower()]}`? (keys are case-sensitive)"
    close = _close_matches(key, allowed, 1, 0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if key.startswith("x-"):
        return ("linuxkit allows no extension keys; keep YAML anchors inside a section that "
                "takes them, or generate the file")
    if len(allowed) <= _SHORT_KEY_LIST:
        return "allowed keys: " + ", ".join(f"`{name}`" for name in allowed)
    return (f"remove it: none of the {len(allowed)} keys allowed here is close to it "
            "(`lkpolicy schema` lists them)")


def _missing_keys(document: Document, violation: Violation, pointer: str) -> Iterator[Finding]:
    instance = violation.instance
    if not isinstance(instance, dict):
        return
    for key in violation.expected:
        if key not in instance:
            yield MISSING_KEY.finding(
                f"`{key}` is required in `{_display(pointer)}`", document.location(pointer),
                pointer, hint=f"add `{key}:` to this entry")


def _wrong_type(document: Document, value: Any, expected: list[str], pointer: str) -> Finding:
    got = json_type(value)
    message = f"`{_display(pointer)}`: expected {' or '.join(expected)}, got {got}"
    hint: str | None = None
    fix: Fix | None = None
    octal = document.scalars.get(pointer)
    text = _plain_text(document, pointer, value)
    if got == "null":
        hint = "the value is empty (null): write a value or remove the key"
    elif "integer" in expected and isinstance(value, float):
        hint = "use a whole number"
    elif "string" in expected and got in ("integer", "number", "boolean"):
        if octal is not None and got == "integer":
            message += f" (unquoted `{octal.text}` is the octal number {value} to linuxkit)"
        if text is not None:
            quoted = _as_string(text, pointer)
            hint = f'quote it: "{quoted}"'
            fix = set_value(pointer, quoted, f'write "{quoted}"')
        else:
            hint = "quote the value to make it a string"
    elif "boolean" in expected and isinstance(value, str):
        hint, fix = _boolean_hint(value, pointer)
    elif "integer" in expected and isinstance(value, str) and _looks_integer(value):
        hint = f"remove the quotes: `{value.strip()}`"
        if _DECIMAL.fullmatch(value.strip()):
            fix = set_value(pointer, int(value.strip()), f"write {value.strip()} unquoted")
    elif "array" in expected and got in ("string", "integer", "number", "boolean"):
        shown = text if text is not None else json.dumps(value)
        hint = f"write a list, e.g. `[{shown}]`"
    # An empty value has no text of its own: ruamel places it at the next token, often on a
    # later line, so the key is the better place to show.
    location = document.location(pointer, key=value is None)
    return WRONG_TYPE.finding(message, location, pointer, hint=hint, fix=fix)


_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_OCTAL_MODE = re.compile(r"0o([0-7]+)")


def _as_string(text: str, pointer: str) -> str:
    """The string an unquoted scalar was meant to be: its text, except that an octal mode
    written `0o644` becomes `0644`, which linuxkit's base-8 parse of a mode accepts."""
    match = _OCTAL_MODE.fullmatch(text)
    if match is not None and pointer.endswith("/mode"):
        return "0" + match.group(1)
    return text


def _boolean_hint(value: str, pointer: str) -> tuple[str, Fix | None]:
    word = value.strip()
    if word.lower() in _YAML11_BOOLEANS:
        meant = _YAML11_BOOLEANS[word.lower()]
        return (f"use true or false: linuxkit reads `{word}` as a string (write `{meant}`)",
                set_value(pointer, meant == "true", f"write `{meant}`"))
    if word.lower() in ("true", "false"):
        return (f"remove the quotes: `{word.lower()}`",
                set_value(pointer, word.lower() == "true", f"write `{word.lower()}`"))
    return "use true or false", None


def _not_in_enum(document: Document, violation: Violation, pointer: str) -> Finding:
    allowed = [str(option) for option in violation.expected]
    value = violation.instance
    shown = _shown(value) if isinstance(value, str) else json.dumps(value)
    close = _close_matches(str(shown).lower(), allowed, 2, 0.5)
    fix = None
    if len(close) == 1 and isinstance(value, str) and close[0] in violation.expected:
        fix = set_value(pointer, close[0], f"write `{close[0]}`")
    return INVALID_VALUE.finding(
        f"`{_display(pointer)}`: `{shown}` is not one of "
        + ", ".join(f"`{option}`" for option in allowed),
        document.location(pointer), pointer,
        hint=f"did you mean `{close[0]}`?" if close else None, fix=fix)


def _plain_text(document: Document, pointer: str, value: Any) -> str | None:
    """The source spelling of a non-string scalar, if it can be recovered unambiguously."""
    recorded = document.scalars.get(pointer)
    if recorded is not None:
        return recorded.text
    if isinstance(value, str | list | dict) or value is None:
        return None
    position = document.value_positions.get(pointer)
    line = document.source_line(position[0]) if position else None
    if position is None or line is None:
        return None
    candidate = line[position[1] - 1:]
    candidate = re.split(r"\s#|[,\]}]", candidate, maxsplit=1)[0].strip()
    if not candidate:
        return None
    # The cut is a guess; keep it only if it reads back as the very same value.
    again = resolve_plain_scalar(candidate)
    if type(again) is type(value) and again == value:
        return candidate
    if isinstance(value, float) and isinstance(again, float) and math.isnan(value) and math.isnan(again):
        return candidate
    return None


def _looks_integer(text: str) -> bool:
    resolved = resolve_plain_scalar(text.strip()) if text.strip() else None
    return isinstance(resolved, int) and not isinstance(resolved, bool)


def _shown(text: str) -> str:
    """A name as linuxkit prints it, unless that would break the one-line message."""
    if text and text.isprintable():
        return text
    return json.dumps(text)


def _display(pointer: str) -> str:
    return "/".join(split_pointer(pointer)) if pointer else "(root)"


# --- checks after the schema -----------------------------------------------------------------


def check_semantics(document: Document) -> list[Finding]:
    """linuxkit's checks on one decoded file; nodes of the wrong type are left to the schema."""
    data = document.data
    if not isinstance(data, dict):
        return []
    findings = _duplicate_services(document, data)
    findings += _volume_names(document, data)
    findings += _references(document, data)
    findings.sort(key=Finding.sort_key)
    return findings


def _templated(document: Document, text: str) -> str:
    """What linuxkit's template pass makes of a value (only local files get one)."""
    if document.from_file and text.startswith("@") and not text.startswith("@pkg:"):
        return ""
    return text


def _named_entries(document: Document, data: dict[str, Any], section: str) -> Iterator[tuple[str, str]]:
    """(pointer of the `name` value, name after templates) for well-typed entries."""
    entries = data.get(section)
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            pointer = join_pointer(join_pointer(f"/{section}", index), "name")
            yield pointer, _templated(document, entry["name"])


def _duplicate_services(document: Document, data: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    first: dict[str, str] = {}
    for pointer, name in _named_entries(document, data, "services"):
        if name not in first:
            first[name] = pointer
            continue
        earlier = document.location(first[name])
        written = document.get(pointer)
        hint = "rename one of the services"
        if written != name:
            hint = (f"linuxkit replaces `{written}` by an empty string (only `@pkg:` templates "
                    "are kept); " + hint)
        findings.append(DUPLICATE_SERVICE.finding(
            f"duplicate service name: {_shown(name)} (first defined at line {earlier.line})",
            document.location(pointer), pointer, related=[earlier], hint=hint))
    return findings


def _volume_names(document: Document, data: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    first: dict[str, str] = {}
    for pointer, name in _named_entries(document, data, "volumes"):
        if not _VOLUME_NAME.fullmatch(name):
            suggestion = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
            findings.append(INVALID_VOLUME_NAME.finding(
                f"invalid volume name: {_shown(name)}", document.location(pointer), pointer,
                hint=f"use only a-z, 0-9, `_` and `-`, e.g. `{suggestion}`" if suggestion else
                "use only a-z, 0-9, `_` and `-`"))
            continue
        if name in first:
            earlier = document.location(first[name])
            findings.append(DUPLICATE_VOLUME.finding(
                f"duplicate volume name: {_shown(name)} (first defined at line {earlier.line})",
                document.location(pointer), pointer, related=[earlier],
                hint="rename or remove one of the volumes"))
            continue
        first[name] = pointer
    return findings


def _image_strings(data: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(what, pointer, reference) in linuxkit's checking order, for well-typed nodes only."""
    kernel = data.get("kernel")
    if isinstance(kernel, dict) and isinstance(kernel.get("image"), str) and kernel["image"]:
        yield "kernel", "/kernel/image", kernel["image"]
    init = data.get("init")
    if isinstance(init, list):
        for index, reference in enumerate(init):
            if isinstance(reference, str):
                yield "init", join_pointer("/init", index), reference
    for section, what in _IMAGE_SECTIONS.items():
        entries = data.get(section)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and isinstance(entry.get("image"), str):
                yield what, join_pointer(join_pointer(f"/{section}", index), "image"), entry["image"]
    volumes = data.get("volumes")
    if isinstance(volumes, list):
        for index, volume in enumerate(volumes):
            if isinstance(volume, dict) and isinstance(volume.get("image"), str) and volume["image"]:
                yield "volume", join_pointer(join_pointer("/volumes", index), "image"), volume["image"]


def _references(document: Document, data: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for what, pointer, written in _image_strings(data):
        reference = _templated(document, written)
        try:
            parse(reference)
        except ReferenceError as error:
            hint = None
            if reference.startswith("@pkg:"):
                hint = ("linuxkit replaces `@pkg:` only inside a git checkout that holds the "
                        "package; otherwise the value stays as written. Use the package's tag")
            findings.append(INVALID_REFERENCE.finding(
                f"extract {what} image reference: {error}", document.location(pointer), pointer,
                hint=hint))
    return findings


def check_merged(config: Config) -> list[Finding]:
    """Checks that only fail once several files are appended (`linuxkit build a.yml b.yml`)."""
    findings: list[Finding] = []
    first: dict[str, tuple[int, Document, str]] = {}
    # Enumerate files, not Document objects: the same file may be given twice.
    for index, document in enumerate(config.documents):
        data = document.data
        if not isinstance(data, dict):
            continue
        for pointer, name in _named_entries(document, data, "services"):
            if name not in first:
                first[name] = (index, document, pointer)
                continue
            earlier_index, earlier_document, earlier_pointer = first[name]
            if earlier_index == index:
                continue  # a duplicate within one file is LK210's
            earlier = earlier_document.location(earlier_pointer)
            findings.append(DUPLICATE_SERVICE_ACROSS_FILES.finding(
                f"cannot append config files: duplicate service name: {_shown(name)} "
                f"(also defined in {_where(earlier)})",
                document.location(pointer), pointer, related=[earlier],
                hint="rename one of the services or drop it from one file"))
    return findings


def _where(location: Location) -> str:
    return f"{location.file}:{location.line}" if location.line else location.file
