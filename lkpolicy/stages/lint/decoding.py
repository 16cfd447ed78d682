"""Traps of linuxkit's decoding: what happens to a value between the YAML and the build, so
that what was written is not what is built (an ignored section, dropped keys, `@` strings
emptied by the template resolver, YAML 1.1 octal numbers)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.fixes import remove, set_value
from lkpolicy.model.rules import Fixability, define_rule
from lkpolicy.stages.lint.nodes import CATEGORY, containers
from lkpolicy.stages.lint.registry import lint_check

TRUST_IGNORED = define_rule(
    "LK301", "trust-ignored", "`trust:` is accepted but ignored by linuxkit", Severity.WARNING,
    CATEGORY,
    "linuxkit removed Docker Content Trust in 2021 but still validates the `trust:` section, so a "
    "config that lists images to verify builds without verifying anything.",
    "Verify the images with `lkpolicy check` (its trust stage honours `trust:`) and build with "
    "`lkpolicy build`, or remove the section so nobody relies on it.",
    linuxkit="validated by the schema, then dropped; `--dry-run` does not print it.",
)
DROPPED_KEY = define_rule(
    "LK302", "dropped-key", "A multi-word key passes the schema and is then dropped",
    Severity.WARNING, CATEGORY,
    "linuxkit decodes `resources`, `uidMappings`/`gidMappings` and mount id mappings into the OCI "
    "runtime-spec Go types by lower-cased field name, while the schema demands camelCase. "
    "`disableOOMKiller`, `kernelTCP`, `realtimeRuntime`, `leafWeight`, `hugepageLimits`, "
    "`classID`, `hostID` and `containerID` therefore validate and then vanish: the limit you wrote "
    "is not applied, and id mappings map everything to id 0.",
    "Remove the key, or enforce the limit elsewhere (e.g. in the service itself); there is no "
    "spelling that both the schema and the decoder accept.",
    linuxkit="silently drops the value; lkpolicy reproduces the drop in `show` and effective "
    "configs and reports it here.",
    # Removing the key builds exactly what linuxkit builds with it, and `--fix` does, unless
    # the key is the last of its mapping (which would then be empty: null to YAML).
    fixability=Fixability.SOMETIMES,
)
AT_VALUE_EMPTIED = define_rule(
    "LK303", "at-value-emptied", "A string starting with `@` becomes an empty string",
    Severity.WARNING, CATEGORY,
    "linuxkit passes every scalar of a local config through its template resolver: `@pkg:<dir>` "
    "becomes a package tag, and any other value starting with `@` is replaced by an empty string. "
    "`command: [echo, \"@hello\"]` runs `echo ''`.",
    "If you meant a literal `@`, it cannot be expressed in a config read from a file; restructure "
    "the value (e.g. move it into a script inside the image).",
    linuxkit="replaces the value with \"\" (only for configs read from files, not stdin).",
)
LEADING_ZERO_INTEGER = define_rule(
    "LK317", "leading-zero-integer", "An unquoted number with a leading zero is octal",
    Severity.WARNING, CATEGORY,
    "linuxkit's YAML library keeps the YAML 1.1 rule that `0644` is octal: `oomScoreAdj: 0644` is "
    "420, and `uid: 0100` is 64.",
    "Remove the leading zero, or write the octal value explicitly as `0o644`.",
    # `--fix` writes `0o644`: it states the value linuxkit reads, so nothing built changes.
    fixability=Fixability.ALWAYS,
)

_DROPPED_RESOURCE_KEYS = {
    "memory": ("disableOOMKiller", "kernelTCP"),
    "cpu": ("realtimeRuntime", "realtimePeriod"),
    "blockio": ("leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                "throttleReadIOPSDevice", "throttleWriteIOPSDevice"),
    "network": ("classID",),
}
_DROPPED_TOP_RESOURCE_KEYS = ("hugepageLimits",)
_DROPPED_IDMAP_KEYS = ("hostID", "containerID")


@lint_check(TRUST_IGNORED)
def check_trust(config: Config) -> Iterator[Finding]:
    for node in config.trust:
        yield TRUST_IGNORED.finding(
            "`trust:` is ignored by linuxkit: nothing is verified unless lkpolicy's trust stage "
            "checks these images", node.key_location, node.pointer,
            hint="check with `lkpolicy check` and build with `lkpolicy build` (both verify "
                 "these images), or remove the section so that nobody relies on it")


@lint_check(DROPPED_KEY)
def check_dropped_keys(config: Config) -> Iterator[Finding]:
    for _section, container in containers(config):
        yield from _dropped_in_resources(container.child("resources"))
        for key in ("uidMappings", "gidMappings"):
            yield from _dropped_in_idmaps(container.child(key))
        for mount in _mount_nodes(container):
            for key in ("uidmappings", "gidmappings"):
                yield from _dropped_in_idmaps(mount.child(key))


def _mount_nodes(container: Node) -> Iterator[Node]:
    mounts = container.child("mounts")
    runtime = container.child("runtime")
    runtime_mounts = runtime.child("mounts") if runtime is not None else None
    for list_node in (mounts, runtime_mounts):
        if list_node is not None:
            yield from (m for m in list_node.items() if isinstance(m.value, dict))


def _dropped_in_resources(resources: Node | None) -> Iterator[Finding]:
    if resources is None or not isinstance(resources.value, dict):
        return
    for key in _DROPPED_TOP_RESOURCE_KEYS:
        child = resources.child(key)
        if child is not None:
            yield _dropped(child, f"resources.{key}")
    for group, keys in _DROPPED_RESOURCE_KEYS.items():
        holder = resources.child(group)
        if holder is None or not isinstance(holder.value, dict):
            continue
        for key in keys:
            child = holder.child(key)
            if child is not None:
                yield _dropped(child, f"resources.{group}.{key}")


def _dropped_in_idmaps(mappings: Node | None) -> Iterator[Finding]:
    if mappings is None:
        return
    for mapping in mappings.items():
        if not isinstance(mapping.value, dict):
            continue
        for key in _DROPPED_IDMAP_KEYS:
            child = mapping.child(key)
            if child is not None:
                yield _dropped(child, key, effect=f"{key} becomes 0")


def _dropped(node: Node, what: str, effect: str = "the value is not applied") -> Finding:
    return DROPPED_KEY.finding(
        f"`{what}` passes the schema but linuxkit drops it when decoding: {effect}",
        node.key_location, node.pointer,
        hint="remove the key: linuxkit builds the same without it",
        fix=remove(node.pointer, f"remove `{what}`"))


_EMPTIED_FAILS_BUILD = re.compile(
    r"/files/\d+/path|/init/\d+|/(onboot|onshutdown|services)/\d+/image")
"""Where an emptied value stops the build: a file without a path, a container or init
without an image."""


@lint_check(AT_VALUE_EMPTIED, raises_to_error=True)
def check_at_values(config: Config) -> Iterator[Finding]:
    for document in config.documents:
        if not document.from_file:
            continue
        for pointer, scalar in document.scalars.items():
            text = scalar.text
            if text.startswith("@") and not text.startswith("@pkg:"):
                fatal = _EMPTIED_FAILS_BUILD.fullmatch(pointer)
                yield AT_VALUE_EMPTIED.finding(
                    f"linuxkit replaces `{text}` with an empty string (template syntax)"
                    + (", and then fails the build: an empty "
                       + ("`files` path" if "files" in pointer else "image reference")
                       if fatal else ""),
                    document.location(pointer), pointer,
                    severity=Severity.ERROR if fatal else None,
                    hint="a leading `@` cannot be written in a config file: move the value "
                         "into the image (a script or a file of its own)")


@lint_check(LEADING_ZERO_INTEGER)
def check_leading_zero(config: Config) -> Iterator[Finding]:
    for document in config.documents:
        for pointer, scalar in document.scalars.items():
            # `mode` fields are strings: the schema stage already reports the integer there.
            if scalar.style or scalar.text.startswith("@") or pointer.endswith("/mode"):
                continue
            value = document.get(pointer)
            sign = "-" if scalar.text.startswith("-") else ""
            octal = f"{sign}0o{scalar.text.lstrip('+-0') or '0'}"
            yield LEADING_ZERO_INTEGER.finding(
                f"`{scalar.text}` is read as the octal number {value}, not {scalar.text.lstrip('0') or 0}",
                document.location(pointer), pointer,
                hint=f"write `{value}` or `{octal}` to make the intent explicit",
                fix=set_value(pointer, value, f"write `{octal}`", text=octal))
