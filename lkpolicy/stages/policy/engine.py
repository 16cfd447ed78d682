"""Judge a config against a policy. Pure: no files, no network, no image reads.

A container is judged by its effective config (config.json, YAML merged with the image label)
when the image stage found the image, else by its YAML entry alone, which is all linuxkit's
YAML says. Either way a finding points at the YAML node that grants the power; when the image
label (or a linuxkit default) grants it, the finding points at the container's `image:` and
says so, because that is the line a reviewer must look behind.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import lkpolicy.stages.policy.rules as R
from lkpolicy.model.capabilities import ALL_CAPABILITIES, KNOWN
from lkpolicy.model.config import Config, Node
from lkpolicy.model.document import escape_pointer_token
from lkpolicy.model.findings import Finding, Location
from lkpolicy.model.reference import ImageRef, ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.stages.effective import Effective, Origin, Provenance
from lkpolicy.stages.images import ImageStage
from lkpolicy.stages.policy.model import Active, Policy, Subject, image_matches

_DEFAULT = Provenance(Origin.DEFAULT)
# YAML key -> OCI namespace type, and linuxkit's value when neither YAML nor label sets it.
_NAMESPACES = {"net": ("network", "root"), "pid": ("pid", "new"), "ipc": ("ipc", "root"),
               "uts": ("uts", "root"), "userns": ("user", "root")}
_NAMESPACE_WORDS = {"net": "network", "pid": "pid", "ipc": "ipc", "uts": "uts",
                    "userns": "user"}


@dataclass(slots=True)
class _Target:
    """One onboot/onshutdown/service container."""

    section: str
    node: Node
    name: str
    reference: ImageRef | None
    effective: Effective | None

    @property
    def subject(self) -> Subject:
        return Subject(self.section, self.name, self.reference)

    @property
    def entry(self) -> dict[str, Any]:
        value: dict[str, Any] = self.node.value
        return value

    @property
    def image_text(self) -> str:
        if self.reference is not None:
            return self.reference.expanded
        image = self.entry.get("image")
        return image if isinstance(image, str) else "?"


@dataclass(frozen=True, slots=True)
class _Place:
    location: Location
    pointer: str
    source: str
    """'' when the YAML grants it, else ` by the image label of X, not by the YAML` etc."""


class _Judge:
    def __init__(self, config: Config, images: ImageStage | None, policy: Policy) -> None:
        self.config = config
        self.policy = policy
        self.findings: list[Finding] = []
        self.targets = _targets(config, images)

    def active(self, rule: R.PolicyRule, subject: Subject) -> Active | None:
        return self.policy.active(rule.id, subject, rule.rule.severity, rule.defaults())

    def emit(self, rule: R.PolicyRule, active: Active, message: str, location: Location,
             pointer: str, hint: str | None = None) -> None:
        self.findings.append(rule.rule.finding(message, location, pointer, hint=hint,
                                               severity=active.severity))

    def place(self, target: _Target, provenance: Provenance, extra: str | None = None,
              effective_pointer: str = "") -> _Place:
        node = target.node
        if provenance.origin is Origin.YAML and provenance.pointer is not None:
            pointer = node.pointer + provenance.pointer
            if extra is not None:
                # A mapping entry: its key names it, the value is just a string.
                pointer += "/" + escape_pointer_token(extra)
                return _Place(node.document.location(pointer, key=True), pointer, "")
            return _Place(node.document.location(pointer), pointer, "")
        image = node.child("image")
        anchor = image or node
        where = f" (config.json {effective_pointer})" if effective_pointer else ""
        if provenance.origin is Origin.LABEL:
            source = f" by the image label of {target.image_text}, not by the YAML{where}"
        elif provenance.origin is Origin.IMAGE:
            source = f" by the image config of {target.image_text}, not by the YAML{where}"
        else:
            return _Place(node.location, node.pointer, "")
        return _Place(anchor.location, anchor.pointer, source)


def evaluate(config: Config, images: ImageStage | None, policy: Policy) -> list[Finding]:
    """The policy's findings on `config`; `images` (from the image stage) adds the labels."""
    judge = _Judge(config, images, policy)
    _check_images(judge)
    for target in judge.targets:
        _check_capabilities(judge, target)
        _check_namespaces(judge, target)
        _check_binds(judge, target)
        _check_devices(judge, target)
        _check_rootfs(judge, target)
        _check_sysctl(judge, target)
    _check_files(judge)
    _check_kernel_cmdline(judge)
    return sorted(judge.findings, key=Finding.sort_key)


def _targets(config: Config, images: ImageStage | None) -> list[_Target]:
    if images is not None and images.containers:
        return [_Target(c.section, c.node, c.name, c.reference, c.effective)
                for c in images.containers]
    targets = []
    for section, _index, node in config.containers():
        if not isinstance(node.value, dict):
            continue
        name = node.value.get("name")
        targets.append(_Target(section, node, name if isinstance(name, str) else "",
                               _parse(node.value.get("image")), None))
    return targets


def _parse(image: Any) -> ImageRef | None:
    if not isinstance(image, str):
        return None
    try:
        return parse_reference(image)
    except ReferenceError:
        return None


# -- images: pinning, registries, trust --------------------------------------------------------


def _image_nodes(config: Config) -> Iterator[tuple[Subject, Node]]:
    kernel_image = config.kernel.get("image")
    if kernel_image is not None and isinstance(kernel_image.value, str):
        yield Subject("kernel", "", _parse(kernel_image.value)), kernel_image
    for node in config.section("init"):
        if isinstance(node.value, str):
            yield Subject("init", "", _parse(node.value)), node
    for section in (*R.CONTAINERS, "volumes"):
        for item in config.section(section):
            image = item.child("image")
            if image is None or not isinstance(image.value, str) or not image.value:
                continue
            name = item.value.get("name")
            yield Subject(section, name if isinstance(name, str) else "",
                          _parse(image.value)), image


def _check_images(judge: _Judge) -> None:
    trust = [node.value for node in judge.config.trust if isinstance(node.value, dict)]
    for subject, node in _image_nodes(judge.config):
        ref = subject.reference
        if ref is None:
            continue  # unparsable: the lint stage reports it
        pin_rule = R.BOOT_IMAGE_NOT_PINNED if subject.section in ("init", "kernel") \
            else R.IMAGE_NOT_PINNED
        active = judge.active(pin_rule, subject)
        if active and not ref.pinned:
            judge.emit(pin_rule, active,
                       f"{_what(subject)} image `{ref.original}` is not pinned by digest",
                       node.location, node.pointer)
        active = judge.active(R.REGISTRY_NOT_ALLOWED, subject)
        if active:
            allowed = active.options["allowed"]
            denied = [glob for glob in active.options["denied"] if image_matches(glob, ref)]
            if denied or not any(image_matches(glob, ref) for glob in allowed):
                why = f"matches denied `{denied[0]}`" if denied else "matches no allowed pattern"
                judge.emit(R.REGISTRY_NOT_ALLOWED, active,
                           f"image `{ref.expanded}` is not allowed: it {why}",
                           node.location, node.pointer)
        active = judge.active(R.TRUST_NOT_COVERED, subject)
        if active and any(image_matches(glob, ref) for glob in active.options["required"]) \
                and not trust_covers(trust, ref):
            org = ref.repository.split("/", 1)[0]
            judge.emit(R.TRUST_NOT_COVERED, active,
                       f"image `{ref.expanded}` must be verified but `trust:` covers neither "
                       f"the image nor its org `{org}`", node.location, node.pointer,
                       hint=f"add `{ref.locator}` to `trust.image` or `{org}` to `trust.org`")


def _what(subject: Subject) -> str:
    if subject.section == "kernel":
        return "the kernel"
    if subject.section == "init":
        return "the init"
    return f"{subject.section} `{subject.name}`"


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
        parsed = _parse(ref)
        if parsed is None:
            return False
        ref = parsed
    sections = [trust_section] if isinstance(trust_section, Mapping) else list(trust_section)
    forms = {ref.original, ref.expanded, ref.name, ref.locator,
             ref.original.split("@", 1)[0]}
    org = ref.repository.split("/", 1)[0]
    for section in sections:
        for entry in _strings(section.get("image")):
            entry_ref = _parse(entry)
            if entry in forms or (entry_ref is not None and (
                    entry_ref.expanded in forms
                    or (entry_ref.tag is None and entry_ref.digest is None
                        and entry_ref.locator == ref.locator))):
                return True
        if org and org in _strings(section.get("org")):
            return True
    return False


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


# -- capabilities ------------------------------------------------------------------------------


def _capabilities(target: _Target) -> list[tuple[str, Provenance, str]]:
    """(capability, where it came from, config.json pointer) for the bounding set."""
    if target.effective is not None:
        caps = target.effective.config["process"]["capabilities"].get("bounding", [])
        origins = target.effective.origins
        return [(cap, origins.get(f"/process/capabilities/bounding/{i}", _DEFAULT),
                 f"/process/capabilities/bounding/{i}") for i, cap in enumerate(caps)]
    entry = target.entry
    key = "capabilities" if isinstance(entry.get("capabilities"), list) else "capabilities.add"
    listed = [(cap, Provenance(Origin.YAML, key, i))
              for i, cap in enumerate(_strings(entry.get(key)))]
    ambient = [(cap, Provenance(Origin.YAML, "ambient", i))
               for i, cap in enumerate(_strings(entry.get("ambient")))]
    result: dict[str, Provenance] = {}
    for group in (listed, ambient):
        if len(group) == 1 and group[0][0].lower() in ("all", "none"):
            group = [(cap, group[0][1]) for cap in ALL_CAPABILITIES] \
                if group[0][0].lower() == "all" else []
        for cap, provenance in group:
            if cap in KNOWN:
                result.setdefault(cap, provenance)
    return [(cap, provenance, "") for cap, provenance in sorted(result.items())]


def _check_capabilities(judge: _Judge, target: _Target) -> None:
    caps = _capabilities(target)
    granted = {cap for cap, _, _ in caps}
    subject = target.subject
    active = judge.active(R.ALL_CAPABILITIES_GRANTED, subject)
    everything = granted >= KNOWN
    if everything and active:
        place = judge.place(target, caps[0][1], effective_pointer="/process/capabilities")
        judge.emit(R.ALL_CAPABILITIES_GRANTED, active,
                   f"{_what(subject)} is granted all {len(KNOWN)} capabilities{place.source}",
                   place.location, place.pointer)
        return  # one finding says it all; 41 more would bury it
    forbidden = judge.active(R.FORBIDDEN_CAPABILITY, subject)
    allowlist = judge.active(R.CAPABILITY_NOT_ALLOWED, subject)
    for cap, provenance, pointer in caps:
        place = judge.place(target, provenance, effective_pointer=pointer)
        if forbidden and cap in forbidden.options["forbidden"]:
            judge.emit(R.FORBIDDEN_CAPABILITY, forbidden,
                       f"{cap} is granted{place.source or ' by the YAML'} to {_what(subject)}",
                       place.location, place.pointer)
        elif allowlist and cap not in allowlist.options["allowed"]:
            judge.emit(R.CAPABILITY_NOT_ALLOWED, allowlist,
                       f"{cap} is granted{place.source or ' by the YAML'} to {_what(subject)} "
                       "but is not in the policy's allowlist", place.location, place.pointer)


# -- namespaces --------------------------------------------------------------------------------


def _namespace_source(target: _Target, key: str) -> Provenance:
    value = target.entry.get(key)
    if isinstance(value, str) and value:
        return Provenance(Origin.YAML, key)
    label = target.effective.label if target.effective is not None else None
    if label and isinstance(label.get(key), str) and label[key]:
        return Provenance(Origin.LABEL, key)
    return _DEFAULT


def _host_namespaces(target: _Target) -> list[tuple[str, Provenance]]:
    if target.effective is not None:
        present = {ns.get("type") for ns in target.effective.config["linux"].get("namespaces", [])}
        return [(key, _namespace_source(target, key))
                for key, (kind, _default) in _NAMESPACES.items() if kind not in present]
    host = []
    for key, (_kind, default) in _NAMESPACES.items():
        value = target.entry.get(key)
        value = value if isinstance(value, str) and value else default
        if value in ("host", "root"):
            host.append((key, _namespace_source(target, key)))
    return host


def _check_namespaces(judge: _Judge, target: _Target) -> None:
    active = judge.active(R.HOST_NAMESPACE, target.subject)
    if not active:
        return
    for key, provenance in _host_namespaces(target):
        if key not in active.options["namespaces"]:
            continue
        place = judge.place(target, provenance, effective_pointer="/linux/namespaces")
        word = _NAMESPACE_WORDS[key]
        if provenance.origin is Origin.DEFAULT:
            why = (f" (`{key}` is not set, and linuxkit's default has no user namespace)"
                   if key == "userns" else f" (`{key}` is not set: linuxkit's default is the host's)")
        else:
            why = place.source
        text = ("has no user namespace" if key == "userns"
                else f"shares the host's {word} namespace")
        judge.emit(R.HOST_NAMESPACE, active, f"{_what(target.subject)} {text}{why}",
                   place.location, place.pointer)


# -- binds and mounts --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bind:
    source: str
    readonly: bool
    provenance: Provenance
    pointer: str
    """config.json pointer, for effective configs."""


def _readonly(options: Iterable[str]) -> bool:
    readonly = False
    for option in options:
        if option in ("ro", "rw"):
            readonly = option == "ro"
    return readonly


def _binds(target: _Target) -> list[_Bind]:
    if target.effective is not None:
        result = []
        for index, mount in enumerate(target.effective.config.get("mounts", [])):
            options = mount.get("options") or []
            provenance = target.effective.origins.get(f"/mounts/{index}", _DEFAULT)
            if provenance.origin is Origin.DEFAULT:
                continue
            if mount.get("type") == "bind" or "bind" in options or "rbind" in options:
                result.append(_Bind(mount.get("source", ""), _readonly(options), provenance,
                                    f"/mounts/{index}"))
        return result
    entry = target.entry
    key = "binds" if isinstance(entry.get("binds"), list) else "binds.add"
    result = []
    for index, text in enumerate(_strings(entry.get(key))):
        parts = text.split(":")
        if len(parts) < 2:
            continue
        options = parts[2].split(",") if len(parts) == 3 else []
        result.append(_Bind(parts[0], _readonly(options), Provenance(Origin.YAML, key, index), ""))
    mounts = entry.get("mounts")
    for index, mount in enumerate(mounts if isinstance(mounts, list) else []):
        if not isinstance(mount, dict):
            continue
        options = _strings(mount.get("options"))
        if mount.get("type") == "bind" or "bind" in options or "rbind" in options:
            source = mount.get("source")
            result.append(_Bind(source if isinstance(source, str) else "", _readonly(options),
                                Provenance(Origin.YAML, "mounts", index), ""))
    return result


def _path_matches(path: str, patterns: Iterable[str]) -> str | None:
    return next((p for p in patterns
                 if fnmatchcase(path, posixpath.normpath(p) if p.startswith("/") else p)), None)


def _check_binds(judge: _Judge, target: _Target) -> None:
    active = judge.active(R.DANGEROUS_BIND, target.subject)
    if not active:
        return
    for bind in _binds(target):
        if not bind.source.startswith("/"):
            continue  # a volume: its content is the build's, not the host's
        source = posixpath.normpath(bind.source)
        if source.startswith("//"):
            source = source[1:]
        place = judge.place(target, bind.provenance, effective_pointer=bind.pointer)
        by = place.source or ""
        if _path_matches(source, active.options["forbidden"]):
            judge.emit(R.DANGEROUS_BIND, active,
                       f"{_what(target.subject)} binds the host's `{source}`{by}",
                       place.location, place.pointer)
        elif not bind.readonly and _path_matches(source, active.options["forbidden_rw"]):
            judge.emit(R.DANGEROUS_BIND, active,
                       f"{_what(target.subject)} binds the host's `{source}` read-write{by}",
                       place.location, place.pointer, hint="add `:ro` (or `ro` to the options)")


# -- devices -----------------------------------------------------------------------------------


def _check_devices(judge: _Judge, target: _Target) -> None:
    all_devices = judge.active(R.ALL_DEVICES, target.subject)
    raw = judge.active(R.RAW_BLOCK_DEVICE, target.subject)
    if not all_devices and not raw:
        return
    wide: list[tuple[Provenance, str]] = []
    blocks: list[tuple[str, Provenance, str]] = []
    if target.effective is not None:
        linux = target.effective.config["linux"]
        origins = target.effective.origins
        for index, rule in enumerate(linux.get("resources", {}).get("devices", [])):
            if rule.get("allow") and rule.get("major") in (None, -1):
                pointer = f"/linux/resources/devices/{index}"
                wide.append((origins.get(pointer, origins.get("/linux/resources", _DEFAULT)),
                             pointer))
        for index, device in enumerate(linux.get("devices", [])):
            if device.get("type") == "b":
                pointer = f"/linux/devices/{index}"
                blocks.append((str(device.get("path", "")), origins.get(pointer, _DEFAULT),
                               pointer))
    else:
        devices = target.entry.get("devices")
        for index, device in enumerate(devices if isinstance(devices, list) else []):
            if not isinstance(device, dict):
                continue
            provenance = Provenance(Origin.YAML, "devices", index)
            if device.get("path") == "all":
                wide.append((provenance, ""))
            elif device.get("type") == "b":
                blocks.append((str(device.get("path", "")), provenance, ""))
        resources = target.entry.get("resources")
        rules = resources.get("devices") if isinstance(resources, dict) else None
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict) and rule.get("allow") is True and rule.get("major") in (
                    None, -1):
                wide.append((Provenance(Origin.YAML, "resources/devices", index), ""))
    if all_devices:
        for provenance, pointer in wide:
            place = judge.place(target, provenance, effective_pointer=pointer)
            judge.emit(R.ALL_DEVICES, all_devices,
                       f"{_what(target.subject)} may access every device{place.source}",
                       place.location, place.pointer)
    if raw:
        for path, provenance, pointer in blocks:
            if _path_matches(path, raw.options["allowed"]):
                continue
            place = judge.place(target, provenance, effective_pointer=pointer)
            judge.emit(R.RAW_BLOCK_DEVICE, raw,
                       f"{_what(target.subject)} gets the raw block device `{path}`"
                       f"{place.source}", place.location, place.pointer)


# -- root filesystem and privileges -------------------------------------------------------------


def _setting(target: _Target, key: str, pointer: str) -> tuple[Any, Provenance]:
    """The merged value of a plain entry key and where it came from."""
    if target.effective is not None:
        provenance = target.effective.origins.get(pointer, _DEFAULT)
        value: Any = target.effective.config
        for part in pointer.strip("/").split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        return value, provenance
    if key in target.entry:
        return target.entry[key], Provenance(Origin.YAML, key)
    return None, _DEFAULT


def _check_rootfs(judge: _Judge, target: _Target) -> None:
    subject = target.subject
    active = judge.active(R.SHARED_PROPAGATION, subject)
    if active:
        value, provenance = _setting(target, "rootfsPropagation", "/linux/rootfsPropagation")
        if value in ("shared", "rshared"):
            place = judge.place(target, provenance,
                                effective_pointer="/linux/rootfsPropagation")
            judge.emit(R.SHARED_PROPAGATION, active,
                       f"{_what(subject)} has rootfsPropagation `{value}`{place.source}: its "
                       "mounts propagate to the host", place.location, place.pointer)
    for rule, key, pointer, text in (
        (R.ROOTFS_NOT_READONLY, "readonly", "/root/readonly", "has a writable root filesystem"),
        (R.NO_NEW_PRIVILEGES, "noNewPrivileges", "/process/noNewPrivileges",
         "does not set noNewPrivileges"),
    ):
        active = judge.active(rule, subject)
        if not active:
            continue
        value, provenance = _setting(target, key, pointer)
        if value is True:
            continue
        place = judge.place(target, provenance, effective_pointer=pointer)
        if provenance.origin is Origin.DEFAULT:
            why = f" (`{key}` is not set)"
        elif provenance.origin is Origin.YAML:
            why = f" (`{key}: {str(value).lower()}`)"
        else:
            why = place.source.replace(" by ", ": set by ", 1)
        judge.emit(rule, active, f"{_what(subject)} {text}{why}", place.location, place.pointer)


def _check_sysctl(judge: _Judge, target: _Target) -> None:
    active = judge.active(R.FORBIDDEN_SYSCTL, target.subject)
    if not active:
        return
    value, provenance = _setting(target, "sysctl", "/linux/sysctl")
    if not isinstance(value, dict):
        return
    for name in value:
        if name in active.options["allowed"]:
            continue
        prefix = next((p for p in active.options["forbidden_prefixes"] if name.startswith(p)),
                      None)
        if prefix is None:
            continue
        place = judge.place(target, provenance, extra=name, effective_pointer="/linux/sysctl")
        judge.emit(R.FORBIDDEN_SYSCTL, active,
                   f"{_what(target.subject)} sets sysctl `{name}` (forbidden prefix "
                   f"`{prefix}`){place.source}", place.location, place.pointer)


# -- files -------------------------------------------------------------------------------------


def _check_files(judge: _Judge) -> None:
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
        if active and bits and not _path_matches(path, active.options["allowed"]):
            judge.emit(R.FILE_SETUID, active,
                       f"`{path}` is {' and '.join(bits)} (mode {mode_node.value})",
                       mode_node.location, mode_node.pointer)
        active = judge.active(R.FILE_WORLD_WRITABLE, subject)
        directory = node.value.get("directory") is True
        symlink = "symlink" in node.value
        sticky_dir = directory and mode & 0o1000
        if (active and mode & 0o002 and not symlink and not sticky_dir
                and not _path_matches(path, active.options["allowed"])):
            what = "directory without the sticky bit" if directory else "file"
            judge.emit(R.FILE_WORLD_WRITABLE, active,
                       f"`{path}` is a world-writable {what} (mode {mode_node.value})",
                       mode_node.location, mode_node.pointer)


# -- kernel command line -----------------------------------------------------------------------


def cmdline_parameters(cmdline: str) -> list[tuple[str, int]]:
    """(parameter, offset in the string), split as the kernel does: on spaces outside double
    quotes."""
    return [(match.group(0), match.start())
            for match in re.finditer(r'(?:[^\s"]|"[^"]*"?)+', cmdline)]


def _check_kernel_cmdline(judge: _Judge) -> None:
    node = judge.config.kernel.get("cmdline")
    if node is None or not isinstance(node.value, str):
        return
    image = judge.config.kernel.get("image")
    subject = Subject("kernel", "", _parse(image.value) if image is not None else None)
    parameters = cmdline_parameters(node.value)
    init = judge.active(R.KERNEL_INIT_OVERRIDE, subject)
    forbidden = judge.active(R.KERNEL_CMDLINE_FORBIDDEN, subject)
    for parameter, offset in parameters:
        location = _cmdline_location(node, parameter, offset)
        if init and parameter.split("=", 1)[0] in ("init", "rdinit"):
            judge.emit(R.KERNEL_INIT_OVERRIDE, init,
                       f"`{parameter}` makes the kernel run something other than LinuxKit's init",
                       location, node.pointer)
        elif forbidden:
            pattern = next((p for p in forbidden.options["forbidden"]
                            if re.fullmatch(p, parameter)), None)
            if pattern is not None:
                judge.emit(R.KERNEL_CMDLINE_FORBIDDEN, forbidden,
                           f"kernel parameter `{parameter}` is forbidden (matches `{pattern}`)",
                           location, node.pointer)
    required = judge.active(R.KERNEL_CMDLINE_REQUIRED, subject)
    if required:
        for pattern in required.options["required"]:
            if not any(re.fullmatch(pattern, parameter) for parameter, _ in parameters):
                judge.emit(R.KERNEL_CMDLINE_REQUIRED, required,
                           f"the kernel command line has no parameter matching `{pattern}`",
                           node.location, node.pointer)


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
