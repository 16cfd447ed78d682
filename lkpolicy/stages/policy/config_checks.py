"""Policy checks on the config as a whole: image references (pinning, registries, `trust:`
coverage), `files` modes and the kernel command line."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import lkpolicy.stages.policy.rules as R
from lkpolicy.linearregex import compile_pattern
from lkpolicy.model.config import Node
from lkpolicy.model.findings import Location
from lkpolicy.model.fixes import Fix, set_value
from lkpolicy.model.reference import ImageRef, parse_or_none
from lkpolicy.stages.policy.container_checks import path_matches
from lkpolicy.stages.policy.engine import Judge, config_check, described
from lkpolicy.stages.policy.model import Subject, image_matches


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


@config_check(R.IMAGE_NOT_PINNED, R.BOOT_IMAGE_NOT_PINNED, R.REGISTRY_NOT_ALLOWED,
              R.TRUST_NOT_COVERED)
def check_images(judge: Judge) -> None:
    trust = [node.value for node in judge.config.trust if isinstance(node.value, dict)]
    for use in judge.image_uses:
        ref = use.reference
        if ref is None:
            continue  # unparsable: the lint stage reports it
        subject = Subject(use.section, use.name, ref)
        node = use.node
        pin_rule = R.BOOT_IMAGE_NOT_PINNED if use.section in ("init", "kernel") \
            else R.IMAGE_NOT_PINNED
        active = judge.active(pin_rule, subject)
        if active and not ref.pinned:
            judge.emit(pin_rule, active,
                       f"{described(subject)} image `{ref.original}` is not pinned by digest",
                       node.location, node.pointer,
                       hint=f"run `lkpolicy pin --write {node.document.path}` to pin every "
                            "image to its digest", fix=_pin_fix(judge, node, use.text, ref))
        active = judge.active(R.REGISTRY_NOT_ALLOWED, subject)
        if active:
            allowed = active.options["allowed"]
            denied = [glob for glob in active.options["denied"] if image_matches(glob, ref)]
            if denied or not any(image_matches(glob, ref) for glob in allowed):
                why = f"matches denied `{denied[0]}`" if denied else "matches no allowed pattern"
                judge.emit(R.REGISTRY_NOT_ALLOWED, active,
                           f"image `{ref.expanded}` is not allowed: it {why}",
                           node.location, node.pointer,
                           hint=_registry_hint(allowed, ref))
        active = judge.active(R.TRUST_NOT_COVERED, subject)
        if active and any(image_matches(glob, ref) for glob in active.options["required"]) \
                and not trust_covers(trust, ref):
            org = ref.repository.split("/", 1)[0]
            judge.emit(R.TRUST_NOT_COVERED, active,
                       f"image `{ref.expanded}` must be verified but `trust:` covers neither "
                       f"the image nor its org `{org}`", node.location, node.pointer,
                       hint=_trust_hint(judge, ref, org))


def _pin_fix(judge: Judge, node: Node, text: str, ref: ImageRef) -> Fix | None:
    """The reference with the digest of the image the build will use, as `lkpolicy pin`
    writes it; None when the image is not cached, the value is a template, or it carries
    another digest (`lkpolicy pin --update` decides that)."""
    digest = judge.digests.get(ref.expanded)
    if digest is None or ref.digest is not None or node.value != text:
        return None
    pinned = ref.with_digest(digest)
    again = parse_or_none(pinned)
    if again is None or again.digest != digest:
        return None  # `#` or `?` would hide the digest from linuxkit's parse
    return set_value(node.pointer, pinned, f"pin to `{digest}`")


def _trust_hint(judge: Judge, ref: ImageRef, org: str) -> str:
    """What to add to the config's `trust:` section, as YAML when there is none yet."""
    if judge.config.trust:
        return f"add `{org}` to `trust.org` (or `{ref.locator}` to `trust.image`) in the config"
    return "\n".join(["add to the config (or list the image under `trust.image` instead):",
                      "trust:", "  org:", f"    - {org}"])


def trust_covers(trust_section: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                 ref: ImageRef | str) -> bool:
    """Whether `trust:` (one section, or the sections of merged files) names the image, by
    LinuxKit's old content-trust rules: an `image` entry equal to the reference, or to it
    without tag and digest; or an `org` entry equal to the first path component of the
    repository (`library` for single names on Docker Hub).

    Both sides are compared in expanded form, so `linuxkit/init` and
    `docker.io/linuxkit/init` are the same image; old linuxkit compared the strings as
    written and missed that."""
    if isinstance(ref, str):
        parsed = parse_or_none(ref)
        if parsed is None:
            return False
        ref = parsed
    sections = [trust_section] if isinstance(trust_section, Mapping) else list(trust_section)
    forms = {ref.original, ref.expanded, ref.name, ref.locator,
             ref.original.split("@", 1)[0]}
    org = ref.repository.split("/", 1)[0]
    for section in sections:
        for entry in _strings(section.get("image")):
            entry_ref = parse_or_none(entry)
            if entry in forms or (entry_ref is not None and (
                    entry_ref.expanded in forms
                    or (entry_ref.tag is None and entry_ref.digest is None
                        and entry_ref.locator == ref.locator))):
                return True
        if org and org in _strings(section.get("org")):
            return True
    return False


@config_check(R.FILE_SETUID, R.FILE_WORLD_WRITABLE)
def check_files(judge: Judge) -> None:
    for node in judge.config.section("files"):
        if not isinstance(node.value, dict):
            continue
        path = node.value.get("path")
        mode_node = node.child("mode")
        if not isinstance(path, str) or mode_node is None or not isinstance(mode_node.value, str):
            continue
        try:
            mode = int(mode_node.value, 8)
        except ValueError:
            continue
        subject = Subject("files", path)
        active = judge.active(R.FILE_SETUID, subject)
        bits = [word for bit, word in ((0o4000, "setuid"), (0o2000, "setgid")) if mode & bit]
        if active and bits and not path_matches(path, active.options["allowed"]):
            judge.emit(R.FILE_SETUID, active,
                       f"`{path}` is {' and '.join(bits)} (mode {mode_node.value})",
                       mode_node.location, mode_node.pointer,
                       hint=f'write `mode: "{mode & ~0o6000:04o}"`, or add `{path}` to '
                            f"`allowed` of {R.FILE_SETUID.rule.id} in the policy")
        active = judge.active(R.FILE_WORLD_WRITABLE, subject)
        directory = node.value.get("directory") is True
        symlink = "symlink" in node.value
        sticky_dir = directory and mode & 0o1000
        if (active and mode & 0o002 and not symlink and not sticky_dir
                and not path_matches(path, active.options["allowed"])):
            what = "directory without the sticky bit" if directory else "file"
            judge.emit(R.FILE_WORLD_WRITABLE, active,
                       f"`{path}` is a world-writable {what} (mode {mode_node.value})",
                       mode_node.location, mode_node.pointer,
                       hint=f'write `mode: "{(mode | 0o1000 if directory else mode & ~0o002):04o}"`'
                            + (" (the sticky bit)" if directory else "")
                            + f", or add `{path}` to `allowed` of "
                              f"{R.FILE_WORLD_WRITABLE.rule.id} in the policy")


def _registry_hint(allowed: Sequence[str], ref: ImageRef) -> str:
    shown = ", ".join(f"`{glob}`" for glob in allowed[:5]) + (" ..." if len(allowed) > 5 else "")
    return (f"use an image from an allowed repository ({shown}; mirror it there), or add "
            f"`{ref.locator}` to `allowed` of {R.REGISTRY_NOT_ALLOWED.rule.id} in the policy")


def cmdline_parameters(cmdline: str) -> list[tuple[str, int]]:
    """(parameter, offset in the string), split as the kernel does: on spaces outside double
    quotes."""
    return [(match.group(0), match.start())
            for match in re.finditer(r'(?:[^\s"]|"[^"]*"?)+', cmdline)]


@config_check(R.KERNEL_INIT_OVERRIDE, R.KERNEL_CMDLINE_FORBIDDEN, R.KERNEL_CMDLINE_REQUIRED)
def check_kernel_cmdline(judge: Judge) -> None:
    node = judge.config.kernel.get("cmdline")
    if node is None or not isinstance(node.value, str):
        return
    image = judge.config.kernel.get("image")
    subject = Subject("kernel", "", parse_or_none(image.value) if image is not None else None)
    parameters = cmdline_parameters(node.value)
    init = judge.active(R.KERNEL_INIT_OVERRIDE, subject)
    forbidden = judge.active(R.KERNEL_CMDLINE_FORBIDDEN, subject)
    forbidden_patterns = [(pattern, compile_pattern(pattern))
                          for pattern in (forbidden.options["forbidden"] if forbidden else ())]
    for parameter, offset in parameters:
        if init and parameter.split("=", 1)[0] in ("init", "rdinit"):
            judge.emit(R.KERNEL_INIT_OVERRIDE, init,
                       f"`{parameter}` makes the kernel run something other than LinuxKit's init",
                       _cmdline_location(node, parameter, offset), node.pointer,
                       hint=f"remove `{parameter}` from `kernel.cmdline`")
        elif forbidden:
            pattern = next((text for text, compiled in forbidden_patterns
                            if compiled.fullmatch(parameter)), None)
            if pattern is not None:
                judge.emit(R.KERNEL_CMDLINE_FORBIDDEN, forbidden,
                           f"kernel parameter `{parameter}` is forbidden (matches `{pattern}`)",
                           _cmdline_location(node, parameter, offset), node.pointer,
                           hint=f"remove `{parameter}` from `kernel.cmdline`")
    required = judge.active(R.KERNEL_CMDLINE_REQUIRED, subject)
    if required:
        for pattern in required.options["required"]:
            compiled = compile_pattern(pattern)
            if not any(compiled.fullmatch(parameter) for parameter, _ in parameters):
                judge.emit(R.KERNEL_CMDLINE_REQUIRED, required,
                           f"the kernel command line has no parameter matching `{pattern}`",
                           node.location, node.pointer,
                           hint=_required_hint(pattern))


def _required_hint(pattern: str) -> str:
    # A pattern that reads as one parameter once its escapes are dropped names it.
    literal = re.sub(r"\\(.)", r"\1", pattern)
    if literal and not any(c.isspace() for c in literal) \
            and compile_pattern(pattern).fullmatch(literal):
        return f"add `{literal}` to `kernel.cmdline`"
    return "add a parameter that matches it to `kernel.cmdline`"


def _cmdline_location(node: Node, parameter: str, offset: int) -> Location:
    """The parameter's own column when the value is written on one line as it is."""
    location = node.location
    line = node.document.source_line(location.line)
    if line is None:
        return location
    start = location.column - 1
    quote = line[start:start + 1] in ("'", '"')
    found = line.find(parameter, start + (1 if quote else 0) + offset)
    if found < 0 or "\n" in node.value:
        return location
    return Location(location.file, location.line, found + 1)
