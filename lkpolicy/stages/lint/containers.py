"""Traps in what a container is given: namespaces, names (and so user ids), capabilities, and
the uids and gids that name containers."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lkpolicy.model import capabilities
from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.fixes import Fix, remove, set_value
from lkpolicy.model.rules import Fixability, define_rule
from lkpolicy.stages.lint.nodes import CATEGORY, containers, strings
from lkpolicy.stages.lint.registry import lint_check

NAMESPACE_NONE_PATH = define_rule(
    "LK304", "namespace-none-is-path", "`none` is taken as a namespace file path",
    Severity.WARNING, CATEGORY,
    "Only `net` knows the value `none`. For `ipc`, `uts`, `pid` and `userns`, linuxkit treats "
    "`none` as the path of a namespace file called `none`, and the container fails to start.",
    "Use `new` for a private namespace, or `host`/`root` to share the host's.",
    linuxkit="emits `{\"type\": \"ipc\", \"path\": \"none\"}`; lkpolicy reproduces it.",
    # `none` asks for no shared namespace, which is what `new` gives.
    fixability=Fixability.ALWAYS,
)
DUPLICATE_CONTAINER_NAME = define_rule(
    "LK305", "duplicate-container-name", "Two containers share a name, and so a user id",
    Severity.WARNING, CATEGORY,
    "linuxkit allows repeated onboot and onshutdown names, but gives every container name a "
    "uid/gid number (100, 101, ...) and a repeated name keeps only the later number: a `uid: "
    "<name>` reference or a `files` owner then silently points at the other container.",
    "Give every onboot, onshutdown and service container a unique name.",
)
UNKNOWN_CAPABILITY = define_rule(
    "LK306", "unknown-capability", "The capability name is not one linuxkit knows",
    Severity.ERROR, CATEGORY,
    "linuxkit checks capability names only when it builds the container (`unknown capability: "
    "X`), after pulling every image. Names are case-sensitive; `CAP_ALL` does not exist, and "
    "`all`/`none` work only as the single element of the list.",
    "Use one of the 41 `CAP_*` names, or `[all]` / `[none]` alone.",
    # When the name differs from a known one only in case or the `CAP_` prefix: `--fix`
    # writes the known name.
    fixability=Fixability.SOMETIMES,
)
DUPLICATE_ENTRY = define_rule(
    "LK309", "duplicate-list-entry", "A capability or bind is listed twice", Severity.WARNING,
    CATEGORY,
    "linuxkit concatenates `capabilities`/`binds` lists without removing duplicates; the "
    "duplicate ends up twice in the OCI config, which hides the real list from reviewers.",
    "Remove the repeated entry.",
    # `--fix` removes the repetition; the list means the same to linuxkit's consumers.
    fixability=Fixability.ALWAYS,
)
ADD_IGNORED = define_rule(
    "LK310", "add-ignored", "`capabilities.add` or `binds.add` is ignored", Severity.WARNING,
    CATEGORY,
    "When a container sets `capabilities` (or `binds`), that list replaces the image label's, and "
    "linuxkit ignores `capabilities.add` (`binds.add`) entirely.",
    "Move the entries of the `.add` list into the main list, or drop the main list to extend "
    "the image's defaults.",
)
UNKNOWN_ID = define_rule(
    "LK313", "unknown-id-name", "A uid/gid names no container", Severity.ERROR, CATEGORY,
    "A string uid or gid is the name of a container whose id linuxkit allocates; any other "
    "string, including a quoted number such as \"1000\", fails the build with `cannot find id`.",
    "Write numeric ids unquoted (`uid: 1000`), or name an existing container.",
    # `--fix` writes a quoted number as a number; a misspelt name needs the author.
    fixability=Fixability.SOMETIMES,
)
ALL_CAPABILITIES = define_rule(
    "LK318", "all-capabilities", "`capabilities: [all]` grants all 41 capabilities",
    Severity.WARNING, CATEGORY,
    "`all` silently expands to every capability, including CAP_SYS_ADMIN and CAP_SYS_MODULE, which "
    "are equivalent to root on the host.",
    "List only the capabilities the container needs.",
)

_NAMESPACE_KEYS = ("ipc", "uts", "pid", "userns")
_CAPABILITY_KEYS = ("capabilities", "capabilities.add", "ambient")


@lint_check(NAMESPACE_NONE_PATH)
def check_namespace_none(config: Config) -> Iterator[Finding]:
    for _section, container in containers(config):
        for key in _NAMESPACE_KEYS:
            child = container.child(key)
            if child is not None and child.value == "none":
                yield NAMESPACE_NONE_PATH.finding(
                    f"`{key}: none` is not a namespace mode: linuxkit joins a namespace file "
                    "named `none`", child.location, child.pointer,
                    hint="use `new` for a private namespace",
                    fix=set_value(child.pointer, "new", "write `new`"))


@lint_check(DUPLICATE_CONTAINER_NAME)
def check_duplicate_names(config: Config) -> Iterator[Finding]:
    seen: dict[str, Node] = {}
    for section, container in containers(config):
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
                related=[first.location],
                hint="rename one of them: every onboot, onshutdown and service container "
                     "needs a name of its own")


def _section_of(node: Node) -> str:
    return node.pointer.split("/")[1]


def _capability_lists(config: Config) -> Iterator[tuple[Node, str, list[Node], str | None]]:
    """(container, key, string items, `all`/`none` when the list is that keyword alone) of
    every capability list; `capabilities.add` has no keywords."""
    for _section, container in containers(config):
        for key in _CAPABILITY_KEYS:
            items = strings(container.child(key))
            values = [item.value for item in items]
            special = capabilities.special_value(values) if key != "capabilities.add" else None
            yield container, key, items, special


@lint_check(UNKNOWN_CAPABILITY)
def check_capability_names(config: Config) -> Iterator[Finding]:
    for _container, key, items, special in _capability_lists(config):
        if special is not None:
            continue
        for item in items:
            if item.value not in capabilities.KNOWN:
                yield _unknown_capability(item, key, len(items))


def _unknown_capability(item: Node, key: str, count: int) -> Finding:
    value = item.value
    hint: str | None
    fix: Fix | None = None
    if value.lower() in ("all", "none") and count > 1:
        message = f"`{value}` only works as the single element of `{key}`"
        hint = f"write `{key}: [{value.lower()}]` alone"
    else:
        message = f"unknown capability `{value}`: linuxkit fails the build (`unknown capability: {value}`)"
        hint = capabilities.suggestion(value)
        known = _known_spelling(value)
        if known is not None:
            fix = set_value(item.pointer, known, f"write `{known}`")
    return UNKNOWN_CAPABILITY.finding(message, item.location, item.pointer, hint=hint, fix=fix)


def _known_spelling(name: str) -> str | None:
    """The one capability `name` means when only its case or the `CAP_` prefix is off."""
    upper = name.strip().upper()
    for candidate in (upper, "CAP_" + upper):
        if candidate in capabilities.KNOWN:
            return candidate
    return None


@lint_check(ALL_CAPABILITIES, DUPLICATE_ENTRY)
def check_capability_lists(config: Config) -> Iterator[Finding]:
    for container, key, items, special in _capability_lists(config):
        if special == "all" and key == "capabilities":
            node = container.child(key)
            assert node is not None
            yield ALL_CAPABILITIES.finding(
                "`capabilities: [all]` grants all 41 capabilities, CAP_SYS_ADMIN included",
                node.location, node.pointer,
                hint="list only the capabilities the container needs, e.g. "
                     "`capabilities: [CAP_NET_ADMIN]`")
        if special is not None:
            continue
        seen: set[str] = set()
        # Unknown names are the other check's; each of them is reported there.
        for item in (item for item in items if item.value in capabilities.KNOWN):
            if item.value in seen:
                yield DUPLICATE_ENTRY.finding(
                    f"`{item.value}` is listed twice in `{key}`", item.location, item.pointer,
                    hint="remove this entry", fix=remove(item.pointer, "remove the repetition"))
            seen.add(item.value)


@lint_check(ADD_IGNORED)
def check_add_ignored(config: Config) -> Iterator[Finding]:
    for _section, container in containers(config):
        for key in ("capabilities", "binds"):
            main, extra = container.child(key), container.child(f"{key}.add")
            if main is not None and extra is not None:
                yield ADD_IGNORED.finding(
                    f"`{key}.add` is ignored because `{key}` is set", extra.key_location,
                    extra.pointer, hint=f"move its entries into `{key}`")


@lint_check(UNKNOWN_ID)
def check_ids(config: Config) -> Iterator[Finding]:
    names = {name for _s, node in containers(config) if isinstance(name := node.value.get("name"), str)}
    holders: list[Node] = [node for _s, node in containers(config)]
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
    hint: str | None = None
    fix: Fix | None = None
    if re.fullmatch(r"[0-9]{1,10}", node.value):
        number = int(node.value)
        hint = f"write the number unquoted: {number}"
        fix = set_value(node.pointer, number, f"write {number} unquoted")
    yield UNKNOWN_ID.finding(
        f"no container is named `{node.value}`: linuxkit fails the build with `cannot find id: "
        f"{node.value}`", node.location, node.pointer, hint=hint, fix=fix)
