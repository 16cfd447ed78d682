"""Lint rules for the traps that linuxkit accepts silently, or only reports deep into a build.

Each check reads the merged config (the model with positions) and judges only values of the
type the schema requires: a value of the wrong type is already a schema finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lkpolicy.gocompat.numbers import NumError, parse_int, parse_uint
from lkpolicy.model import capabilities
from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.reference import ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.model.rules import define_rule

_CATEGORY = "lint"

TRUST_IGNORED = define_rule(
    "LK301", "trust-ignored", "`trust:` is accepted but ignored by linuxkit", Severity.WARNING,
    _CATEGORY,
    "linuxkit removed Docker Content Trust in 2021 but still validates the `trust:` section, so a "
    "config that lists images to verify builds without verifying anything.",
    "Verify the images with `lkpolicy check` (its trust stage honours `trust:`) and build with "
    "`lkpolicy build`, or remove the section so nobody relies on it.",
    linuxkit="validated by the schema, then dropped; `--dry-run` does not print it.",
)
DROPPED_KEY = define_rule(
    "LK302", "dropped-key", "A multi-word key passes the schema and is then dropped",
    Severity.WARNING, _CATEGORY,
    "linuxkit decodes `resources`, `uidMappings`/`gidMappings` and mount id mappings into the OCI "
    "runtime-spec Go types by lower-cased field name, while the schema demands camelCase. "
    "`disableOOMKiller`, `kernelTCP`, `realtimeRuntime`, `leafWeight`, `hugepageLimits`, "
    "`classID`, `hostID` and `containerID` therefore validate and then vanish: the limit you wrote "
    "is not applied, and id mappings map everything to id 0.",
    "Remove the key, or enforce the limit elsewhere (e.g. in the service itself); there is no "
    "spelling that both the schema and the decoder accept.",
    linuxkit="silently drops the value; lkpolicy reproduces the drop in `show` and effective "
    "configs and reports it here.",
)
AT_VALUE_EMPTIED = define_rule(
    "LK303", "at-value-emptied", "A string starting with `@` becomes an empty string",
    Severity.WARNING, _CATEGORY,
    "linuxkit passes every scalar of a local config through its template resolver: `@pkg:<dir>` "
    "becomes a package tag, and any other value starting with `@` is replaced by an empty string. "
    "`command: [echo, \"@hello\"]` runs `echo ''`.",
    "If you meant a literal `@`, it cannot be expressed in a config read from a file; restructure "
    "the value (e.g. move it into a script inside the image).",
    linuxkit="replaces the value with \"\" (only for configs read from files, not stdin).",
)
NAMESPACE_NONE_PATH = define_rule(
    "LK304", "namespace-none-is-path", "`none` is taken as a namespace file path",
    Severity.WARNING, _CATEGORY,
    "Only `net` knows the value `none`. For `ipc`, `uts`, `pid` and `userns`, linuxkit treats "
    "`none` as the path of a namespace file called `none`, and the container fails to start.",
    "Use `new` for a private namespace, or `host`/`root` to share the host's.",
    linuxkit="emits `{\"type\": \"ipc\", \"path\": \"none\"}`; lkpolicy reproduces it.",
)
DUPLICATE_CONTAINER_NAME = define_rule(
    "LK305", "duplicate-container-name", "Two containers share a name, and so a user id",
    Severity.WARNING, _CATEGORY,
    "linuxkit allows repeated onboot and onshutdown names, but gives every container name a "
    "uid/gid number (100, 101, ...) and a repeated name keeps only the later number: a `uid: "
    "<name>` reference or a `files` owner then silently points at the other container.",
    "Give every onboot, onshutdown and service container a unique name.",
)
UNKNOWN_CAPABILITY = define_rule(
    "LK306", "unknown-capability", "The capability name is not one linuxkit knows",
    Severity.ERROR, _CATEGORY,
    "linuxkit checks capability names only when it builds the container (`unknown capability: "
    "X`), after pulling every image. Names are case-sensitive; `CAP_ALL` does not exist, and "
    "`all`/`none` work only as the single element of the list.",
    "Use one of the 41 `CAP_*` names, or `[all]` / `[none]` alone.",
)
FILES_TRAILING_SLASH = define_rule(
    "LK307", "files-path-trailing-slash", "A `files` path ending in `/` has contents",
    Severity.ERROR, _CATEGORY,
    "Go's tar writer treats a name ending in `/` as a directory and refuses to write contents "
    "into it: the build fails with `archive/tar: write too long`.",
    "Remove the trailing `/`, or set `directory: true` without contents.",
)
RELATIVE_SOURCE = define_rule(
    "LK308", "relative-source-path", "A relative `source` path depends on the working directory",
    Severity.WARNING, _CATEGORY,
    "linuxkit resolves a relative `files` `source` against the directory the build runs in, not "
    "the directory of the YAML file, so the same config builds different content from different "
    "directories (or fails).",
    "Use an absolute path, or always build from the directory the path is relative to and say so "
    "in a comment.",
)
DUPLICATE_ENTRY = define_rule(
    "LK309", "duplicate-list-entry", "A capability or bind is listed twice", Severity.WARNING,
    _CATEGORY,
    "linuxkit concatenates `capabilities`/`binds` lists without removing duplicates; the "
    "duplicate ends up twice in the OCI config, which hides the real list from reviewers.",
    "Remove the repeated entry.",
)
ADD_IGNORED = define_rule(
    "LK310", "add-ignored", "`capabilities.add` or `binds.add` is ignored", Severity.WARNING,
    _CATEGORY,
    "When a container sets `capabilities` (or `binds`), that list replaces the image label's, and "
    "linuxkit ignores `capabilities.add` (`binds.add`) entirely.",
    "Move the entries of the `.add` list into the main list, or drop the main list to extend "
    "the image's defaults.",
)
VOLUME_MOUNT_NOT_REWRITTEN = define_rule(
    "LK311", "volume-mount-not-rewritten", "A bind `mounts` entry naming a volume is not rewritten",
    Severity.WARNING, _CATEGORY,
    "For `binds`, linuxkit replaces a volume name with `/containers/volumes/<name>/merged`; for "
    "bind entries in `mounts` it checks the volume but keeps the bare name as the source, so the "
    "mount points at a relative path that does not exist.",
    "Use `binds: [\"<volume>:/dest\"]` instead of a `mounts` entry.",
    linuxkit="keeps `\"source\": \"<volume>\"` in config.json; lkpolicy reproduces it.",
)
VOLUME_NOT_FOUND = define_rule(
    "LK312", "volume-not-found", "A bind names a volume that linuxkit will not find",
    Severity.ERROR, _CATEGORY,
    "A bind source that does not start with `/` is a volume name. linuxkit looks it up among the "
    "volumes of the LAST config file only, so a volume declared in an earlier file is invisible "
    "and the build fails with `volume <name> not found`.",
    "Declare the volume, fix the name, or put the file that declares it last.",
)
UNKNOWN_ID = define_rule(
    "LK313", "unknown-id-name", "A uid/gid names no container", Severity.ERROR, _CATEGORY,
    "A string uid or gid is the name of a container whose id linuxkit allocates; any other "
    "string, including a quoted number such as \"1000\", fails the build with `cannot find id`.",
    "Write numeric ids unquoted (`uid: 1000`), or name an existing container.",
)
EMPTY_VOLUME_NAME = define_rule(
    "LK314", "empty-volume-name", "A volume has an empty name", Severity.WARNING, _CATEGORY,
    "linuxkit accepts `name: \"\"` for a volume, which lands in `/containers/volumes/` itself and "
    "cannot be referenced from a bind.",
    "Give the volume a name matching `[a-z0-9_-]+`.",
)
REGISTRY_INVALID_REFERENCE = define_rule(
    "LK315", "invalid-registry-reference", "A registry would reject this image reference",
    Severity.ERROR, _CATEGORY,
    "linuxkit's reference parser accepts upper case and spaces; the pull then fails, after the "
    "other images were downloaded.",
    "Use lower-case repository names, a valid tag and a `sha256:` digest.",
)
UNTAGGED_REFERENCE = define_rule(
    "LK316", "untagged-reference", "An image reference has neither tag nor digest",
    Severity.WARNING, _CATEGORY,
    "linuxkit does not add `:latest`: it pulls and caches exactly the untagged name, which "
    "registries resolve to `latest`, a moving target.",
    "Add a tag and pin the digest (`lkpolicy pin`).",
)
LEADING_ZERO_INTEGER = define_rule(
    "LK317", "leading-zero-integer", "An unquoted number with a leading zero is octal",
    Severity.WARNING, _CATEGORY,
    "linuxkit's YAML library keeps the YAML 1.1 rule that `0644` is octal: `oomScoreAdj: 0644` is "
    "420, and `uid: 0100` is 64.",
    "Remove the leading zero, or write the octal value explicitly as `0o644`.",
)
ALL_CAPABILITIES = define_rule(
    "LK318", "all-capabilities", "`capabilities: [all]` grants all 41 capabilities",
    Severity.WARNING, _CATEGORY,
    "`all` silently expands to every capability, including CAP_SYS_ADMIN and CAP_SYS_MODULE, which "
    "are equivalent to root on the host.",
    "List only the capabilities the container needs.",
)
KERNEL_WITHOUT_IMAGE = define_rule(
    "LK319", "kernel-without-image", "A `kernel` block without `image` builds no kernel",
    Severity.WARNING, _CATEGORY,
    "Without `image`, linuxkit ignores `cmdline`, `binary`, `tar` and `ucode` and produces an "
    "image without a kernel.",
    "Add `image:`, or remove the `kernel` block.",
)
FILE_UNDER_BOOT = define_rule(
    "LK320", "file-under-boot", "Files under `boot/` are dropped from the initrd",
    Severity.INFO, _CATEGORY,
    "linuxkit keeps `boot/` in tar outputs but removes it when it converts the tar to an initrd.",
    "Place the file elsewhere if the booted system needs it.",
)
OPTIONAL_SOURCE = define_rule(
    "LK321", "optional-source", "An optional `source` is skipped silently when missing",
    Severity.INFO, _CATEGORY,
    "With `optional: true`, a missing source skips the entry, parent directories included, "
    "without a message: the image silently lacks the file.",
    "Make sure the build environment provides the file, or drop `optional`.",
)
FILE_CONTENT_CONFLICT = define_rule(
    "LK322", "file-content-conflict", "A `files` entry has no content, or two kinds of content",
    Severity.ERROR, _CATEGORY,
    "A `files` entry is exactly one of: a directory, a symlink, `contents`, a host `source`, or "
    "`metadata`. linuxkit fails the build on the combinations (`specified Contents and Source for "
    "file`...) and on an entry with none of them.",
    "Keep exactly one of `directory`, `symlink`, `contents`, `source`, `metadata`.",
)
BAD_FILE_MODE = define_rule(
    "LK323", "bad-octal-mode", "A file or device mode is not an octal number", Severity.ERROR,
    _CATEGORY,
    "linuxkit parses `mode` strings in base 8 at build time; `\"644\"` works, but `\"rw-r--r--\"` "
    "or `\"0o644\"` fail the build.",
    "Write the mode as an octal string such as `\"0644\"`.",
)
METADATA_TYPE = define_rule(
    "LK324", "unsupported-metadata", "`metadata` must be `yaml` or `json`", Severity.ERROR,
    _CATEGORY,
    "linuxkit fails the build with `unsupported metadata type` for any other value.",
    "Use `metadata: yaml` or `metadata: json`.",
)
READONLY_VOLUME_WRITABLE = define_rule(
    "LK325", "readonly-volume-writable", "A read-only volume is bound read-write",
    Severity.ERROR, _CATEGORY,
    "linuxkit fails the build when a container binds a `readonly: true` volume without `:ro`.",
    "Add `:ro` to the bind, or make the volume writable.",
)
BAD_MOUNT_SYNTAX = define_rule(
    "LK326", "bad-mount-syntax", "A bind, tmpfs or rlimit string does not parse", Severity.ERROR,
    _CATEGORY,
    "linuxkit parses `binds` as `src:dest[:opts]`, `tmpfs` as `dest[:opts]` and `rlimits` as "
    "`name,soft,hard` only when it builds the container, after pulling the images.",
    "Fix the string to the documented form.",
)

NAMESPACE_KEYS = ("ipc", "uts", "pid", "userns")
_DROPPED_RESOURCE_KEYS = {
    "memory": ("disableOOMKiller", "kernelTCP"),
    "cpu": ("realtimeRuntime", "realtimePeriod"),
    "blockio": ("leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                "throttleReadIOPSDevice", "throttleWriteIOPSDevice"),
    "network": ("classID",),
}
_DROPPED_TOP_RESOURCE_KEYS = ("hugepageLimits",)
_DROPPED_IDMAP_KEYS = ("hostID", "containerID")
_RLIMITS = frozenset({"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK",
                      "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"})

Check = Callable[[Config], Iterator[Finding]]


def _strings(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return [item for item in node.items() if isinstance(item.value, str)]


def _containers(config: Config) -> Iterator[tuple[str, Node]]:
    for section, _index, node in config.containers():
        if isinstance(node.value, dict):
            yield section, node


def check_trust(config: Config) -> Iterator[Finding]:
    for node in config.trust:
        yield TRUST_IGNORED.finding(
            "`trust:` is ignored by linuxkit: nothing is verified unless lkpolicy's trust stage "
            "checks these images", node.key_location, node.pointer)


def check_dropped_keys(config: Config) -> Iterator[Finding]:
    for _section, container in _containers(config):
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
        node.key_location, node.pointer)


_EMPTIED_FAILS_BUILD = re.compile(
    r"/files/\d+/path|/init/\d+|/(onboot|onshutdown|services)/\d+/image")
"""Where an emptied value stops the build: a file without a path, a container or init
without an image."""


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
                    severity=Severity.ERROR if fatal else None)


def check_namespace_none(config: Config) -> Iterator[Finding]:
    for _section, container in _containers(config):
        for key in NAMESPACE_KEYS:
            child = container.child(key)
            if child is not None and child.value == "none":
                yield NAMESPACE_NONE_PATH.finding(
                    f"`{key}: none` is not a namespace mode: linuxkit joins a namespace file "
                    "named `none`", child.location, child.pointer,
                    hint="use `new` for a private namespace")


def check_duplicate_names(config: Config) -> Iterator[Finding]:
    seen: dict[str, Node] = {}
    for section, container in _containers(config):
        name = container.child("name")
        if name is None or not isinstance(name.value, str):
            continue
        first = seen.get(name.value)
        seen[name.value] = name
        # Repeated service names are already an error of the validation stage.
        if first is not None and not (section == "services" and _section_of(first) == "services"):
            yield DUPLICATE_CONTAINER_NAME.finding(
                f"container name `{name.value}` is used again; the uid/gid of the name now "
                "belongs to this container", name.location, name.pointer,
                related=[first.location])


def _section_of(node: Node) -> str:
    return node.pointer.split("/")[1]


def check_capabilities(config: Config) -> Iterator[Finding]:
    for _section, container in _containers(config):
        for key in ("capabilities", "capabilities.add", "ambient"):
            items = _strings(container.child(key))
            values = [item.value for item in items]
            special = capabilities.special_value(values) if key != "capabilities.add" else None
            if special == "all" and key == "capabilities":
                node = container.child(key)
                assert node is not None
                yield ALL_CAPABILITIES.finding(
                    "`capabilities: [all]` grants all 41 capabilities, CAP_SYS_ADMIN included",
                    node.location, node.pointer)
            if special is not None:
                continue
            seen: set[str] = set()
            for item in items:
                if item.value not in capabilities.KNOWN:
                    yield _unknown_capability(item, key, len(values))
                elif item.value in seen:
                    yield DUPLICATE_ENTRY.finding(
                        f"`{item.value}` is listed twice in `{key}`", item.location, item.pointer)
                seen.add(item.value)
        for key in ("capabilities", "binds"):
            main, extra = container.child(key), container.child(f"{key}.add")
            if main is not None and extra is not None:
                yield ADD_IGNORED.finding(
                    f"`{key}.add` is ignored because `{key}` is set", extra.key_location,
                    extra.pointer, hint=f"move its entries into `{key}`")


def _unknown_capability(item: Node, key: str, count: int) -> Finding:
    value = item.value
    hint: str | None
    if value.lower() in ("all", "none") and count > 1:
        message = f"`{value}` only works as the single element of `{key}`"
        hint = f"write `{key}: [{value.lower()}]` alone"
    else:
        message = f"unknown capability `{value}`: linuxkit fails the build (`unknown capability: {value}`)"
        hint = capabilities.suggestion(value)
    return UNKNOWN_CAPABILITY.finding(message, item.location, item.pointer, hint=hint)


def check_binds(config: Config) -> Iterator[Finding]:
    volumes = _visible_volumes(config)
    for _section, container in _containers(config):
        for key in ("binds", "binds.add"):
            seen: set[str] = set()
            for item in _strings(container.child(key)):
                yield from _check_bind(item, volumes)
                if item.value in seen:
                    yield DUPLICATE_ENTRY.finding(
                        f"bind `{item.value}` is listed twice", item.location, item.pointer)
                seen.add(item.value)
        for item in _strings(container.child("tmpfs")):
            if item.value.count(":") > 1:
                yield BAD_MOUNT_SYNTAX.finding(
                    f"cannot parse tmpfs, too many ':': {item.value}", item.location, item.pointer)
        yield from _check_rlimits(container)
        mounts = container.child("mounts")
        if mounts is not None:
            for mount in mounts.items():
                yield from _check_volume_mount(mount, volumes)


def _check_bind(item: Node, volumes: dict[str, Node] | None) -> Iterator[Finding]:
    parts = item.value.split(":")
    if len(parts) < 2:
        yield BAD_MOUNT_SYNTAX.finding(
            f"cannot parse bind, missing ':': {item.value}", item.location, item.pointer)
        return
    if len(parts) > 3:
        yield BAD_MOUNT_SYNTAX.finding(
            f"cannot parse bind, too many ':': {item.value}", item.location, item.pointer)
        return
    source = parts[0]
    if source.startswith("/") or volumes is None:
        return
    volume = volumes.get(source)
    if volume is None:
        yield VOLUME_NOT_FOUND.finding(
            f"bind source `{source}` is not absolute, so it names a volume, and linuxkit finds "
            "no such volume in the last config file", item.location, item.pointer)
        return
    readonly = volume.child("readonly")
    if readonly is not None and readonly.value is True and (len(parts) < 3 or parts[2] != "ro"):
        yield READONLY_VOLUME_WRITABLE.finding(
            f"volume `{source}` is read-only, but this bind is read-write", item.location,
            item.pointer, hint=f"write `{parts[0]}:{parts[1]}:ro`")


def _check_volume_mount(mount: Node, volumes: dict[str, Node] | None) -> Iterator[Finding]:
    if not isinstance(mount.value, dict) or mount.value.get("type") != "bind":
        return
    source = mount.child("source")
    if source is None or not isinstance(source.value, str) or source.value.startswith("/"):
        return
    if volumes is not None and source.value not in volumes:
        yield VOLUME_NOT_FOUND.finding(
            f"mount source `{source.value}` names a volume that linuxkit cannot find",
            source.location, source.pointer)
        return
    yield VOLUME_MOUNT_NOT_REWRITTEN.finding(
        f"bind mount of volume `{source.value}` keeps the bare name as its source; linuxkit does "
        "not rewrite it to the volume's path", source.location, source.pointer,
        hint=f"use `binds: [\"{source.value}:<dest>\"]`")


def _check_rlimits(container: Node) -> Iterator[Finding]:
    for item in _strings(container.child("rlimits")):
        parts = [part.strip() for part in item.value.split(",", 2)]
        if len(parts) != 3:
            yield BAD_MOUNT_SYNTAX.finding(
                f"cannot parse rlimit `{item.value}`: expected `name,soft,hard`", item.location,
                item.pointer)
            continue
        name = parts[0].upper().removeprefix("RLIMIT_")
        if name not in _RLIMITS:
            yield BAD_MOUNT_SYNTAX.finding(
                f"unknown rlimit `{parts[0]}` (linuxkit's message, `unknown limit: `, omits the name)",
                item.location, item.pointer)
        for value in parts[1:]:
            if value.lower() != "unlimited" and not _parses(parse_uint, value, 10, 64):
                yield BAD_MOUNT_SYNTAX.finding(
                    f"cannot parse {value} as uint64 in rlimit `{item.value}`", item.location,
                    item.pointer)


def _parses(parse: Callable[[str, int, int], int], text: str, base: int, bits: int) -> bool:
    """Whether linuxkit's strconv call accepts `text`."""
    try:
        parse(text, base, bits)
    except NumError:
        return False
    return True


def _visible_volumes(config: Config) -> dict[str, Node] | None:
    """Volumes a bind can name: those of the last file only (linuxkit's lookup table)."""
    if not config.documents:
        return None
    last = config.documents[-1]
    volumes: dict[str, Node] = {}
    for node in config.section("volumes"):
        name = node.child("name")
        if node.document is last and name is not None and isinstance(name.value, str):
            volumes[name.value] = node
    return volumes


def check_ids(config: Config) -> Iterator[Finding]:
    names = {name for _s, node in _containers(config) if isinstance(name := node.value.get("name"), str)}
    holders: list[Node] = [node for _s, node in _containers(config)]
    holders += [node for node in config.section("files") if isinstance(node.value, dict)]
    for holder in holders:
        for key in ("uid", "gid"):
            yield from _check_id(holder.child(key), names)
        extra = holder.child("additionalGids")
        if extra is not None:
            for item in extra.items():
                yield from _check_id(item, names)


def _check_id(node: Node | None, names: set[str]) -> Iterator[Finding]:
    if node is None or not isinstance(node.value, str) or node.value in ("", "root"):
        return
    if node.value in names:
        return
    hint = f"write the number unquoted: {node.value}" if node.value.isdigit() else None
    yield UNKNOWN_ID.finding(
        f"no container is named `{node.value}`: linuxkit fails the build with `cannot find id: "
        f"{node.value}`", node.location, node.pointer, hint=hint)


def check_volumes(config: Config) -> Iterator[Finding]:
    for node in config.section("volumes"):
        name = node.child("name")
        if name is not None and name.value == "":
            yield EMPTY_VOLUME_NAME.finding("the volume name is empty", name.location, name.pointer)


def check_references(config: Config) -> Iterator[Finding]:
    for node in _reference_nodes(config):
        try:
            reference = parse_reference(node.value)
        except ReferenceError:
            continue  # reported by the validation stage
        problems = reference.registry_problems()
        if problems:
            yield REGISTRY_INVALID_REFERENCE.finding(
                f"`{node.value}`: {'; '.join(problems)}", node.location, node.pointer)
        elif reference.tag is None and reference.digest is None:
            yield UNTAGGED_REFERENCE.finding(
                f"`{node.value}` has no tag: linuxkit pulls the untagged name as is",
                node.location, node.pointer, hint=f"write `{node.value}:<tag>@sha256:<digest>`")


def _reference_nodes(config: Config) -> Iterator[Node]:
    image = config.kernel.get("image")
    if image is not None and isinstance(image.value, str):
        yield image
    yield from (node for node in config.section("init") if isinstance(node.value, str))
    for section in ("onboot", "onshutdown", "services", "volumes"):
        for node in config.section(section):
            child = node.child("image")
            if child is not None and isinstance(child.value, str):
                yield child


def check_leading_zero(config: Config) -> Iterator[Finding]:
    for document in config.documents:
        for pointer, scalar in document.scalars.items():
            # `mode` fields are strings: the schema stage already reports the integer there.
            if scalar.style or scalar.text.startswith("@") or pointer.endswith("/mode"):
                continue
            value = document.get(pointer)
            yield LEADING_ZERO_INTEGER.finding(
                f"`{scalar.text}` is read as the octal number {value}, not {scalar.text.lstrip('0') or 0}",
                document.location(pointer), pointer,
                hint=f"write `{value}` or `0o{scalar.text.lstrip('+-0')}` to make the intent explicit")


def check_kernel(config: Config) -> Iterator[Finding]:
    if config.kernel_blocks and "image" not in config.kernel:
        block = config.kernel_blocks[-1]
        yield KERNEL_WITHOUT_IMAGE.finding(
            "`kernel` has no `image`: the build will contain no kernel", block.key_location,
            block.pointer)


def check_files(config: Config) -> Iterator[Finding]:
    for node in config.section("files"):
        if not isinstance(node.value, dict):
            continue
        entry = node.value
        path = entry.get("path")
        if isinstance(path, str):
            yield from _check_file_path(node, path)
        yield from _check_file_content(node)
        mode = node.child("mode")
        if mode is not None and isinstance(mode.value, str):
            yield from _check_octal(mode, "file mode", parse_uint)
        metadata = node.child("metadata")
        if metadata is not None and isinstance(metadata.value, str) and metadata.value not in ("yaml", "json"):
            yield METADATA_TYPE.finding(
                f"unsupported metadata type: {metadata.value}", metadata.location, metadata.pointer)
        source = node.child("source")
        if source is not None and isinstance(source.value, str):
            value = source.value
            if not value.startswith(("/", "~/")):
                yield RELATIVE_SOURCE.finding(
                    f"`{value}` is resolved against the directory linuxkit runs in, not the "
                    "directory of this file", source.location, source.pointer)
            if entry.get("optional") is True:
                yield OPTIONAL_SOURCE.finding(
                    f"if `{value}` is missing, this entry is skipped without a message",
                    source.location, source.pointer)
    for _section, container in _containers(config):
        devices = container.child("devices")
        for device in devices.items() if devices is not None else []:
            mode = device.child("mode")
            if not isinstance(device.value, dict) or device.value.get("path") == "all":
                continue
            if mode is not None and isinstance(mode.value, str):
                yield from _check_octal(mode, "device mode", parse_int)


def _check_file_path(node: Node, path: str) -> Iterator[Finding]:
    entry = node.value
    path_node = node.child("path")
    assert path_node is not None
    stripped = path.removeprefix("/")
    if stripped == "boot" or stripped.startswith("boot/"):
        yield FILE_UNDER_BOOT.finding(
            f"`{path}` is in the tar output but not in the initrd", path_node.location,
            path_node.pointer)
    is_plain_file = not entry.get("directory") and not entry.get("symlink")
    if path.endswith("/") and is_plain_file and any(k in entry for k in ("contents", "source", "metadata")):
        yield FILES_TRAILING_SLASH.finding(
            f"`{path}` ends in `/` but has contents: the build fails with `archive/tar: write too long`",
            path_node.location, path_node.pointer, hint=f"write `{path.rstrip('/')}`")


def _check_file_content(node: Node) -> Iterator[Finding]:
    entry = node.value
    path = entry.get("path", "")
    if path == "":
        yield FILE_CONTENT_CONFLICT.finding("did not specify path for file", node.location, node.pointer)
        return
    special = entry.get("directory") is True or bool(entry.get("symlink"))
    if not special and "contents" not in entry:
        has_source, has_metadata = "source" in entry, "metadata" in entry
        if not has_source and not has_metadata:
            yield FILE_CONTENT_CONFLICT.finding(
                f"contents of file ({path}) not specified", node.location, node.pointer,
                hint="add `contents`, `source`, `metadata`, `directory: true` or `symlink`")
        elif has_source and has_metadata:
            yield FILE_CONTENT_CONFLICT.finding(
                f"specified Source and Metadata for file: {path}", node.location, node.pointer)
        return
    if "metadata" in entry:
        yield FILE_CONTENT_CONFLICT.finding(
            f"specified Contents and Metadata for file: {path}", node.location, node.pointer)
    elif "source" in entry:
        yield FILE_CONTENT_CONFLICT.finding(
            f"specified Contents and Source for file: {path}", node.location, node.pointer)
    elif entry.get("directory") is True and "contents" in entry and not entry.get("symlink"):
        yield FILE_CONTENT_CONFLICT.finding(
            "directory with contents not allowed", node.location, node.pointer)
    elif entry.get("symlink") and "contents" in entry:
        yield FILE_CONTENT_CONFLICT.finding(
            f"`{path}` is a symlink; its `contents` are ignored", node.location, node.pointer,
            severity=Severity.WARNING)


def _check_octal(mode: Node, what: str, parse: Callable[[str, int, int], int]) -> Iterator[Finding]:
    """`parse` is linuxkit's call: `ParseUint(mode, 8, 32)` for a file mode, `ParseInt(mode,
    8, 32)` for a device mode (so there `-1` and `+644` pass and `37777777777` is too big)."""
    text = mode.value
    if not _parses(parse, text, 8, 32):
        yield BAD_FILE_MODE.finding(
            f"cannot parse {what} `{text}` as an octal value", mode.location, mode.pointer,
            hint="write it like \"0644\"")


CHECKS: tuple[Check, ...] = (
    check_trust,
    check_dropped_keys,
    check_at_values,
    check_namespace_none,
    check_duplicate_names,
    check_capabilities,
    check_binds,
    check_ids,
    check_volumes,
    check_references,
    check_leading_zero,
    check_kernel,
    check_files,
)


def lint(config: Config) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(config))
    return findings
