"""Traps in what a container mounts: binds and the volumes they name, bind `mounts`, tmpfs and
rlimit strings, which linuxkit parses only when it builds the container."""

from __future__ import annotations

from collections.abc import Iterator

from lkpolicy.gocompat.numbers import parse_uint
from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.fixes import remove, set_value
from lkpolicy.model.rules import Fixability, define_rule
from lkpolicy.stages.lint.containers import DUPLICATE_ENTRY
from lkpolicy.stages.lint.nodes import CATEGORY, containers, go_parses, strings
from lkpolicy.stages.lint.registry import lint_check

VOLUME_MOUNT_NOT_REWRITTEN = define_rule(
    "LK311", "volume-mount-not-rewritten", "A bind `mounts` entry naming a volume is not rewritten",
    Severity.WARNING, CATEGORY,
    "For `binds`, linuxkit replaces a volume name with `/containers/volumes/<name>/merged`; for "
    "bind entries in `mounts` it checks the volume but keeps the bare name as the source, so the "
    "mount points at a relative path that does not exist.",
    "Use `binds: [\"<volume>:/dest\"]` instead of a `mounts` entry.",
    linuxkit="keeps `\"source\": \"<volume>\"` in config.json; lkpolicy reproduces it.",
)
VOLUME_NOT_FOUND = define_rule(
    "LK312", "volume-not-found", "A bind names a volume that linuxkit will not find",
    Severity.ERROR, CATEGORY,
    "A bind source that does not start with `/` is a volume name. linuxkit looks it up among the "
    "volumes of the LAST config file only, so a volume declared in an earlier file is invisible "
    "and the build fails with `volume <name> not found`.",
    "Declare the volume, fix the name, or put the file that declares it last.",
)
EMPTY_VOLUME_NAME = define_rule(
    "LK314", "empty-volume-name", "A volume has an empty name", Severity.WARNING, CATEGORY,
    "linuxkit accepts `name: \"\"` for a volume, which lands in `/containers/volumes/` itself and "
    "cannot be referenced from a bind.",
    "Give the volume a name matching `[a-z0-9_-]+`.",
)
READONLY_VOLUME_WRITABLE = define_rule(
    "LK325", "readonly-volume-writable", "A read-only volume is bound read-write",
    Severity.ERROR, CATEGORY,
    "linuxkit fails the build when a container binds a `readonly: true` volume without `:ro`.",
    "Add `:ro` to the bind, or make the volume writable.",
    # The container cannot write to a read-only volume anyway: `:ro` only says so. `--fix`
    # adds it unless the bind names other options, which the author must merge.
    fixability=Fixability.SOMETIMES,
)
BAD_MOUNT_SYNTAX = define_rule(
    "LK326", "bad-mount-syntax", "A bind, tmpfs or rlimit string does not parse", Severity.ERROR,
    CATEGORY,
    "linuxkit parses `binds` as `src:dest[:opts]`, `tmpfs` as `dest[:opts]` and `rlimits` as "
    "`name,soft,hard` only when it builds the container, after pulling the images.",
    "Fix the string to the documented form.",
)

_RLIMITS = frozenset({"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK",
                      "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"})


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


@lint_check(BAD_MOUNT_SYNTAX, VOLUME_NOT_FOUND, READONLY_VOLUME_WRITABLE, DUPLICATE_ENTRY)
def check_binds(config: Config) -> Iterator[Finding]:
    volumes = _visible_volumes(config)
    for _section, container in containers(config):
        for key in ("binds", "binds.add"):
            seen: set[str] = set()
            for item in strings(container.child(key)):
                yield from _check_bind(item, volumes)
                if item.value in seen:
                    yield DUPLICATE_ENTRY.finding(
                        f"bind `{item.value}` is listed twice", item.location, item.pointer,
                        hint="remove this entry", fix=remove(item.pointer, "remove the repetition"))
                seen.add(item.value)


def _check_bind(item: Node, volumes: dict[str, Node] | None) -> Iterator[Finding]:
    parts = item.value.split(":")
    if len(parts) < 2:
        yield BAD_MOUNT_SYNTAX.finding(
            f"cannot parse bind, missing ':': {item.value}", item.location, item.pointer,
            hint="write a bind as `SOURCE:DESTINATION` or `SOURCE:DESTINATION:OPTIONS`, "
                 "e.g. `/var/log:/var/log:ro`")
        return
    if len(parts) > 3:
        yield BAD_MOUNT_SYNTAX.finding(
            f"cannot parse bind, too many ':': {item.value}", item.location, item.pointer,
            hint="write a bind as `SOURCE:DESTINATION` or `SOURCE:DESTINATION:OPTIONS`, "
                 "with the options separated by commas")
        return
    source = parts[0]
    if source.startswith("/") or volumes is None:
        return
    volume = volumes.get(source)
    if volume is None:
        yield VOLUME_NOT_FOUND.finding(
            f"bind source `{source}` is not absolute, so it names a volume, and linuxkit finds "
            "no such volume in the last config file", item.location, item.pointer,
            hint=f"declare `{source}` in `volumes:` (of the last config file), fix the name, or "
                 "bind an absolute host path")
        return
    readonly = volume.child("readonly")
    if readonly is not None and readonly.value is True and (len(parts) < 3 or parts[2] != "ro"):
        fixed = f"{parts[0]}:{parts[1]}:ro"
        yield READONLY_VOLUME_WRITABLE.finding(
            f"volume `{source}` is read-only, but this bind is read-write", item.location,
            item.pointer, hint=f"write `{fixed}`",
            fix=set_value(item.pointer, fixed, f"write `{fixed}`")
            if len(parts) < 3 or parts[2] in ("", "rw") else None)


@lint_check(VOLUME_NOT_FOUND, VOLUME_MOUNT_NOT_REWRITTEN)
def check_volume_mounts(config: Config) -> Iterator[Finding]:
    volumes = _visible_volumes(config)
    for _section, container in containers(config):
        mounts = container.child("mounts")
        for mount in mounts.items() if mounts is not None else []:
            yield from _check_volume_mount(mount, volumes)


def _check_volume_mount(mount: Node, volumes: dict[str, Node] | None) -> Iterator[Finding]:
    if not isinstance(mount.value, dict) or mount.value.get("type") != "bind":
        return
    source = mount.child("source")
    if source is None or not isinstance(source.value, str) or source.value.startswith("/"):
        return
    if volumes is not None and source.value not in volumes:
        yield VOLUME_NOT_FOUND.finding(
            f"mount source `{source.value}` names a volume that linuxkit cannot find",
            source.location, source.pointer,
            hint=f"declare `{source.value}` in `volumes:` (of the last config file), or fix the "
                 "name")
        return
    yield VOLUME_MOUNT_NOT_REWRITTEN.finding(
        f"bind mount of volume `{source.value}` keeps the bare name as its source; linuxkit does "
        "not rewrite it to the volume's path", source.location, source.pointer,
        hint=f"use `binds: [\"{source.value}:<dest>\"]`")


@lint_check(BAD_MOUNT_SYNTAX)
def check_tmpfs_and_rlimits(config: Config) -> Iterator[Finding]:
    for _section, container in containers(config):
        for item in strings(container.child("tmpfs")):
            if item.value.count(":") > 1:
                yield BAD_MOUNT_SYNTAX.finding(
                    f"cannot parse tmpfs, too many ':': {item.value}", item.location, item.pointer,
                    hint="write a tmpfs as `DESTINATION` or `DESTINATION:OPTIONS`, with the "
                         "options separated by commas")
        yield from _check_rlimits(container)


def _rlimit_hint(name: str) -> str:
    close = _close_matches(name, sorted(_RLIMITS)) if len(name) <= 40 else []
    if close:
        return f"did you mean `{close[0].lower()}`?"
    return "use one of " + ", ".join(f"`{limit.lower()}`" for limit in sorted(_RLIMITS))


def _close_matches(word: str, choices: list[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, choices, n=1, cutoff=0.6)


def _check_rlimits(container: Node) -> Iterator[Finding]:
    for item in strings(container.child("rlimits")):
        parts = [part.strip() for part in item.value.split(",", 2)]
        if len(parts) != 3:
            yield BAD_MOUNT_SYNTAX.finding(
                f"cannot parse rlimit `{item.value}`: expected `name,soft,hard`", item.location,
                item.pointer, hint="write it as `NAME,SOFT,HARD`, e.g. `nofile,1024,4096`")
            continue
        name = parts[0].upper().removeprefix("RLIMIT_")
        if name not in _RLIMITS:
            yield BAD_MOUNT_SYNTAX.finding(
                f"unknown rlimit `{parts[0]}` (linuxkit's message, `unknown limit: `, omits the name)",
                item.location, item.pointer, hint=_rlimit_hint(name))
        for value in parts[1:]:
            if value.lower() != "unlimited" and not go_parses(parse_uint, value, 10, 64):
                yield BAD_MOUNT_SYNTAX.finding(
                    f"cannot parse {value} as uint64 in rlimit `{item.value}`", item.location,
                    item.pointer, hint="write each limit as a whole number or `unlimited`")


@lint_check(EMPTY_VOLUME_NAME)
def check_volumes(config: Config) -> Iterator[Finding]:
    for node in config.section("volumes"):
        name = node.child("name")
        if name is not None and name.value == "":
            yield EMPTY_VOLUME_NAME.finding("the volume name is empty", name.location, name.pointer,
                                            hint="give the volume a name of `a-z`, `0-9`, `_` "
                                                 "and `-`")
