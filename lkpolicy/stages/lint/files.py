"""Traps in `files` entries (and device modes): paths the initrd drops or the tar writer
refuses, host sources, contents that conflict, modes and metadata linuxkit parses only at build
time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lkpolicy.gocompat.numbers import parse_int, parse_uint
from lkpolicy.gocompat.paths import clean as go_clean
from lkpolicy.gocompat.paths import escapes_root
from lkpolicy.model.config import Config, Node
from lkpolicy.model.document import join_pointer
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.fixes import remove, set_value
from lkpolicy.model.rules import Fixability, define_rule
from lkpolicy.model.templates import template_switches, templated
from lkpolicy.stages.lint.nodes import CATEGORY, containers, go_parses
from lkpolicy.stages.lint.registry import lint_check

FILES_TRAILING_SLASH = define_rule(
    "LK307", "files-path-trailing-slash", "A `files` path ending in `/` has contents",
    Severity.ERROR, CATEGORY,
    "Go's tar writer treats a name ending in `/` as a directory and refuses to write contents "
    "into it: the build fails with `archive/tar: write too long`.",
    "Remove the trailing `/`, or set `directory: true` without contents.",
    # `--fix` removes the trailing `/`: a file with contents is what the entry describes.
    fixability=Fixability.ALWAYS,
)
PATH_LEAVES_ROOT = define_rule(
    "LK327", "files-path-leaves-root", "A `files` path climbs out of the image",
    Severity.ERROR, CATEGORY,
    "linuxkit writes a `files` path such as `../x` or `etc/../../x` into the tar as it is: an "
    "entry that a tar extraction puts outside its target directory. lkpolicy's build refuses "
    "it (`path ... leaves the image root`), so the gate does too.",
    "Write the path inside the image, without `..` segments that climb above `/`.",
)
RELATIVE_SOURCE = define_rule(
    "LK308", "relative-source-path", "A relative `source` path depends on the working directory",
    Severity.WARNING, CATEGORY,
    "linuxkit resolves a relative `files` `source` against the directory the build runs in, not "
    "the directory of the YAML file, so the same config builds different content from different "
    "directories (or fails).",
    "Use an absolute path, or always build from the directory the path is relative to and say so "
    "in a comment.",
)
FILE_UNDER_BOOT = define_rule(
    "LK320", "file-under-boot", "Files under `boot/` are dropped from the initrd",
    Severity.INFO, CATEGORY,
    "linuxkit keeps `boot/` in tar outputs but removes it when it converts the tar to an initrd.",
    "Place the file elsewhere if the booted system needs it.",
)
OPTIONAL_SOURCE = define_rule(
    "LK321", "optional-source", "An optional `source` is skipped silently when missing",
    Severity.INFO, CATEGORY,
    "With `optional: true`, a missing source skips the entry, parent directories included, "
    "without a message: the image silently lacks the file.",
    "Make sure the build environment provides the file, or drop `optional`.",
)
FILE_CONTENT_CONFLICT = define_rule(
    "LK322", "file-content-conflict", "A `files` entry has no content, or two kinds of content",
    Severity.ERROR, CATEGORY,
    "A `files` entry is exactly one of: a directory, a symlink, `contents`, a host `source`, or "
    "`metadata`. linuxkit fails the build on the combinations (`specified Contents and Source for "
    "file`...) and on an entry with none of them.",
    "Keep exactly one of `directory`, `symlink`, `contents`, `source`, `metadata`.",
    # The `contents` of a symlink are ignored, so `--fix` removes them (the build is the
    # same); the other conflicts need the author to choose.
    fixability=Fixability.SOMETIMES,
)
BAD_FILE_MODE = define_rule(
    "LK323", "bad-octal-mode", "A file or device mode is not an octal number", Severity.ERROR,
    CATEGORY,
    "linuxkit parses `mode` strings in base 8 at build time; `\"644\"` works, but `\"rw-r--r--\"` "
    "or `\"0o644\"` fail the build.",
    "Write the mode as an octal string such as `\"0644\"`.",
)
METADATA_TYPE = define_rule(
    "LK324", "unsupported-metadata", "`metadata` must be `yaml` or `json`", Severity.ERROR,
    CATEGORY,
    "linuxkit fails the build with `unsupported metadata type` for any other value.",
    "Use `metadata: yaml` or `metadata: json`.",
)


def _file_entries(config: Config) -> Iterator[Node]:
    return (node for node in config.section("files") if isinstance(node.value, dict))


@lint_check(FILE_UNDER_BOOT, FILES_TRAILING_SLASH, PATH_LEAVES_ROOT)
def check_file_paths(config: Config) -> Iterator[Finding]:
    switches = template_switches(config)
    for node in _file_entries(config):
        path_node = node.child("path")
        if path_node is None or not isinstance(path_node.value, str):
            continue
        entry, path = node.value, path_node.value
        built = str(templated(path_node, switches)).removeprefix("/")
        if built and ("\x00" in built or escapes_root(built)):
            yield PATH_LEAVES_ROOT.finding(
                f"`{path}` leaves the image root (it is `{go_clean(built)}`): linuxkit writes it "
                "into the tar unchanged, and lkpolicy's build refuses it", path_node.location,
                path_node.pointer, hint="write the path inside the image")
            continue
        stripped = path.removeprefix("/")
        if stripped == "boot" or stripped.startswith("boot/"):
            yield FILE_UNDER_BOOT.finding(
                f"`{path}` is in the tar output but not in the initrd", path_node.location,
                path_node.pointer,
                hint="place the file outside `boot/` if the booted system needs it")
        is_plain_file = not entry.get("directory") and not entry.get("symlink")
        if path.endswith("/") and is_plain_file and any(k in entry for k in ("contents", "source", "metadata")):
            fixed = path.rstrip("/")
            yield FILES_TRAILING_SLASH.finding(
                f"`{path}` ends in `/` but has contents: the build fails with `archive/tar: write too long`",
                path_node.location, path_node.pointer, hint=f"write `{fixed}`",
                fix=set_value(path_node.pointer, fixed, f"write `{fixed}`") if fixed else None)


@lint_check(FILE_CONTENT_CONFLICT)
def check_file_contents(config: Config) -> Iterator[Finding]:
    for node in _file_entries(config):
        yield from _check_file_content(node)


def _check_file_content(node: Node) -> Iterator[Finding]:
    entry = node.value
    path = entry.get("path", "")
    if path == "":
        yield FILE_CONTENT_CONFLICT.finding("did not specify path for file", node.location,
                                            node.pointer, hint="add `path:` to this entry")
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
                f"specified Source and Metadata for file: {path}", node.location, node.pointer,
                hint="keep one of `source` and `metadata`")
        return
    if "metadata" in entry:
        yield FILE_CONTENT_CONFLICT.finding(
            f"specified Contents and Metadata for file: {path}", node.location, node.pointer,
            hint="keep one of `contents` and `metadata`")
    elif "source" in entry:
        yield FILE_CONTENT_CONFLICT.finding(
            f"specified Contents and Source for file: {path}", node.location, node.pointer,
            hint="keep one of `contents` and `source`")
    elif entry.get("directory") is True and "contents" in entry and not entry.get("symlink"):
        yield FILE_CONTENT_CONFLICT.finding(
            "directory with contents not allowed", node.location, node.pointer,
            hint="remove `contents`, or `directory: true` to write a file")
    elif entry.get("symlink") and "contents" in entry:
        contents = join_pointer(node.pointer, "contents")
        yield FILE_CONTENT_CONFLICT.finding(
            f"`{path}` is a symlink; its `contents` are ignored", node.location, node.pointer,
            severity=Severity.WARNING, hint="remove `contents`: the build ignores them",
            fix=remove(contents, "remove the ignored `contents`"))


@lint_check(RELATIVE_SOURCE, OPTIONAL_SOURCE)
def check_sources(config: Config) -> Iterator[Finding]:
    for node in _file_entries(config):
        source = node.child("source")
        if source is None or not isinstance(source.value, str):
            continue
        value = source.value
        if not value.startswith(("/", "~/")):
            yield RELATIVE_SOURCE.finding(
                f"`{value}` is resolved against the directory linuxkit runs in, not the "
                "directory of this file", source.location, source.pointer,
                hint="write an absolute path (or `~/...`), or always build from the directory "
                     "it is relative to and say so in a comment")
        if node.value.get("optional") is True:
            yield OPTIONAL_SOURCE.finding(
                f"if `{value}` is missing, this entry is skipped without a message",
                source.location, source.pointer,
                hint="remove `optional: true` unless the image works without the file")


@lint_check(METADATA_TYPE)
def check_metadata(config: Config) -> Iterator[Finding]:
    for node in _file_entries(config):
        metadata = node.child("metadata")
        if metadata is not None and isinstance(metadata.value, str) and metadata.value not in ("yaml", "json"):
            yield METADATA_TYPE.finding(
                f"unsupported metadata type: {metadata.value}", metadata.location, metadata.pointer,
                hint="write `metadata: yaml` or `metadata: json`")


@lint_check(BAD_FILE_MODE)
def check_modes(config: Config) -> Iterator[Finding]:
    switches = template_switches(config)
    for node in _file_entries(config):
        mode = node.child("mode")
        # An empty file mode (`@...` after linuxkit's template step too) is the default one.
        if mode is not None and isinstance(mode.value, str) and templated(mode, switches):
            yield from _check_octal(mode, templated(mode, switches), "file mode", parse_uint)
    for _section, container in containers(config):
        devices = container.child("devices")
        for device in devices.items() if devices is not None else []:
            mode = device.child("mode")
            if not isinstance(device.value, dict) or device.value.get("path") == "all":
                continue
            if mode is not None and isinstance(mode.value, str):
                yield from _check_octal(mode, templated(mode, switches), "device mode",
                                        parse_int)


def _check_octal(mode: Node, text: str, what: str,
                 parse: Callable[[str, int, int], int]) -> Iterator[Finding]:
    """`text` is the mode after linuxkit's template step; `parse` is linuxkit's call:
    `ParseUint(mode, 8, 32)` for a file mode, `ParseInt(mode, 8, 32)` for a device mode (so
    there `-1` and `+644` pass and `37777777777` is too big)."""
    if not go_parses(parse, text, 8, 32):
        shown = f"`{text}`" if text == mode.value else f"`{mode.value}` (empty after the template step)"
        yield BAD_FILE_MODE.finding(
            f"cannot parse {what} {shown} as an octal value", mode.location, mode.pointer,
            hint="write it like \"0644\"")
