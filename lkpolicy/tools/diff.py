"""Security-relevant differences between two versions of a LinuxKit config, for PR reviewers.

A textual diff shows that `capabilities: [all]` replaced three names; a reviewer needs to know
that 38 capabilities were granted. This module compares two configs on what matters for the
security of the built image: per container (matched by section and name) its capabilities
(after `all`/`none` expansion), binds and mounts, host namespaces, `readonly`,
`noNewPrivileges`, devices and image; containers added and removed; init and kernel images,
the kernel command line, `files` entries with setuid/setgid or world-writable modes, and the
`trust` section.

Every change carries a risk: `high`, `medium` and `low` increase the attack surface, `reduced`
decreases it, `info` is neither (a tag bump). The exit code of `lkpolicy diff` is 1 when a
change increases the risk, so a CI job can require a security review for exactly those PRs.

Without images the comparison is on the YAML: a container that sets no `capabilities` has
whatever its image label grants, and this module cannot see it. A caller that has the images
passes `effective_of` (effective runtime config per container); then containers present on
both sides with an effective config are compared on it instead.
"""

from __future__ import annotations

import enum
import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lkpolicy.model.capabilities import ALL_CAPABILITIES
from lkpolicy.model.config import Config, Node, merge
from lkpolicy.model.document import join_pointer
from lkpolicy.model.findings import Location

if TYPE_CHECKING:
    from lkpolicy.stages.effective import Effective

__all__ = [
    "Change",
    "DiffError",
    "DiffResult",
    "EffectiveOf",
    "Risk",
    "Source",
    "diff_configs",
    "load_source",
    "parse_source",
    "render",
    "run_diff",
]

EffectiveOf = Callable[[Config], "Mapping[tuple[str, str], Effective] | None"]
"""Effective runtime config per (section, name) of a config, or None when images are missing."""


class Risk(enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    REDUCED = "reduced"

    @property
    def increases(self) -> bool:
        return self in (Risk.HIGH, Risk.MEDIUM, Risk.LOW)

    @property
    def rank(self) -> int:
        return {Risk.HIGH: 0, Risk.MEDIUM: 1, Risk.LOW: 2, Risk.INFO: 3, Risk.REDUCED: 4}[self]


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    """A stable slug: capability, mount, namespace, readonly, no-new-privileges, device, image,
    container, init, kernel-image, cmdline, file-mode, trust."""
    marker: str
    """`+` added or gained, `-` removed or lost, `~` changed."""
    risk: Risk
    subject: str
    """What changed: `services/sshd`, `kernel`, `init`, `files`, `trust`."""
    message: str
    location: Location | None = None
    """In the NEW config when the thing still exists there, else in the OLD one."""
    in_new: bool = True

    def to_json(self) -> dict[str, Any]:
        where = self.location
        return {
            "kind": self.kind, "marker": self.marker, "risk": self.risk.value,
            "increases_risk": self.risk.increases, "subject": self.subject,
            "message": self.message,
            "location": None if where is None else {
                "file": where.file, "line": where.line, "column": where.column,
                "side": "new" if self.in_new else "old"},
        }


@dataclass(slots=True)
class DiffResult:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)

    @property
    def increases_risk(self) -> bool:
        return any(change.risk.increases for change in self.changes)

    @property
    def exit_code(self) -> int:
        return 1 if self.increases_risk else 0


class DiffError(Exception):
    """An input cannot be read (exit code 2)."""


# --------------------------------------------------------------------------------------------
# Reading the two versions.


@dataclass(frozen=True, slots=True)
class Source:
    path: str
    revision: str | None = None
    """A git revision; None for the file in the working tree."""

    @property
    def label(self) -> str:
        return self.path if self.revision is None else f"{self.revision}:{self.path}"


def parse_source(text: str) -> Source:
    """`path`, or `REV:path` (git's syntax; the path is relative to the repository root, or
    to the working directory when it starts with `./`). An existing file always wins, so a
    file name containing `:` still reads as a file."""
    if os.path.exists(text) or ":" not in text:
        return Source(text)
    revision, _, path = text.partition(":")
    if not revision or not path:
        raise DiffError(f"{text}: expected a file or REV:path")
    return Source(path, revision)


GitRunner = Callable[[list[str]], bytes]


def _run_git(arguments: list[str]) -> bytes:
    try:
        completed = subprocess.run(["git", *arguments], capture_output=True, check=False,
                                   timeout=60)
    except FileNotFoundError:
        raise DiffError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise DiffError(f"git {' '.join(arguments)} timed out") from None
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiffError(f"git {' '.join(arguments)}: {message[-1] if message else 'failed'}")
    return completed.stdout


def load_source(source: Source, git: GitRunner = _run_git) -> Config:
    """Load one version; unreadable input raises `InputError`, git failures `DiffError`."""
    from lkpolicy.stages.load import MAX_CONFIG_BYTES, load_document

    data: bytes | None = None
    if source.revision is not None:
        data = git(["show", f"{source.revision}:{source.path}"])
        if len(data) > MAX_CONFIG_BYTES:
            raise DiffError(f"{source.label}: larger than a LinuxKit config can be")
    document, _warnings = load_document(source.label if source.revision else source.path, data)
    return merge([document])


def git_worktree_path(path: str) -> str:
    """`path` (relative to the working directory) in the form `git show REV:<it>` accepts."""
    if os.path.isabs(path):
        path = os.path.relpath(path)
    path = path.replace(os.sep, "/")
    return path if path.startswith(("./", "../")) else "./" + path


# --------------------------------------------------------------------------------------------
# What is compared: the security facts of each container and of the config.

_DANGEROUS_CAPS = frozenset({
    "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_BOOT",
    "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON",
    "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_SETFCAP", "CAP_SETUID", "CAP_SETGID",
    "CAP_FOWNER", "CAP_SYS_TIME", "CAP_MKNOD", "CAP_SYSLOG", "CAP_CHECKPOINT_RESTORE",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_RAW",
})
_WORST_CAPS = ("CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO",
               "CAP_DAC_OVERRIDE", "CAP_NET_ADMIN", "CAP_BPF")
_SENSITIVE_SOURCES = ("/", "/etc", "/dev", "/proc", "/sys", "/boot", "/root", "/run",
                      "/var/run", "/lib/modules", "/var/lib", "/containers", "/usr")
_SENSITIVE_FILES = ("docker.sock", "containerd.sock", "/dev/mem", "/dev/kmem", "/dev/port")
_DANGEROUS_DEVICES = frozenset({"/dev/mem", "/dev/kmem", "/dev/port", "all"})
_NAMESPACES = (("net", "network"), ("pid", "pid"), ("ipc", "ipc"), ("uts", "uts"),
               ("userns", "user"))
_NAMESPACE_NAMES = {"net": "network", "pid": "pid", "ipc": "ipc", "uts": "uts", "userns": "user"}
_HOST_BY_DEFAULT = frozenset({"net", "ipc", "uts", "userns"})
"""linuxkit joins the host's namespace when the key is absent, except for pid."""
_NAMESPACE_RISK = {"pid": Risk.HIGH, "net": Risk.HIGH, "userns": Risk.MEDIUM,
                   "ipc": Risk.MEDIUM, "uts": Risk.LOW}
_CMDLINE_WEAKENING = ("nokaslr", "selinux=0", "apparmor=0", "security=none", "mitigations=off",
                      "pti=off", "nopti", "spectre_v2=off", "nospectre_v2", "nospectre_v1",
                      "lockdown=none", "module.sig_enforce=0", "init=", "rdinit=",
                      "debug", "ignore_loglevel", "kgdboc=", "kgdbwait", "iommu=off",
                      "intel_iommu=off", "amd_iommu=off", "slub_debug=", "nosmap", "nosmep",
                      "vsyscall=emulate", "vsyscall=native", "audit=0", "panic=0")
_CMDLINE_HARDENING = ("lockdown=", "module.sig_enforce=1", "slab_nomerge", "init_on_alloc=1",
                      "init_on_free=1", "page_alloc.shuffle=1", "pti=on", "randomize_kstack_offset=on",
                      "vsyscall=none", "audit=1", "mitigations=auto", "iommu=force")


@dataclass(frozen=True, slots=True)
class _Mount:
    destination: str
    source: str
    kind: str
    writable: bool
    pointer: str

    def describe(self) -> str:
        mode = "rw" if self.writable else "ro"
        if self.kind == "bind":
            return f"bind {self.source} -> {self.destination} ({mode})"
        return f"{self.kind} mount {self.source} -> {self.destination} ({mode})"


@dataclass(slots=True)
class _Facts:
    node: Node
    capabilities: dict[str, str] = field(default_factory=dict)
    """Name -> pointer of the value that granted it."""
    mounts: dict[str, _Mount] = field(default_factory=dict)
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    """YAML key -> (`host`, `new` or a namespace path; pointer)."""
    readonly: tuple[bool, str] = (False, "")
    no_new_privileges: tuple[bool, str] = (False, "")
    devices: dict[str, str] = field(default_factory=dict)
    """Device path (or `all:<type>`) -> pointer."""
    image: str | None = None
    from_effective: bool = False


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _yaml_facts(node: Node) -> _Facts:
    entry: dict[str, Any] = node.value
    pointer = node.pointer
    facts = _Facts(node)
    image = entry.get("image")
    facts.image = image if isinstance(image, str) else None

    for key in ("capabilities", "capabilities.add", "ambient"):
        names = _strings(entry.get(key))
        where = join_pointer(pointer, key)
        if len(names) == 1 and names[0].lower() == "all":
            for name in ALL_CAPABILITIES:
                facts.capabilities.setdefault(name, where)
            continue
        for index, name in enumerate(names):
            if name.lower() != "none":
                facts.capabilities.setdefault(name, join_pointer(where, index))

    for key in ("binds", "binds.add"):
        for index, text in enumerate(_strings(entry.get(key))):
            parts = text.split(":")
            if len(parts) < 2:
                continue
            options = parts[2].split(",") if len(parts) > 2 else []
            facts.mounts[parts[1]] = _Mount(parts[1], parts[0], "bind", "ro" not in options,
                                            join_pointer(join_pointer(pointer, key), index))
    mounts = entry.get("mounts")
    for index, raw in enumerate(mounts if isinstance(mounts, list) else []):
        if not isinstance(raw, dict) or not isinstance(raw.get("destination"), str):
            continue
        options = _strings(raw.get("options"))
        kind = raw.get("type") if isinstance(raw.get("type"), str) else ""
        if not kind and ("bind" in options or "rbind" in options):
            kind = "bind"
        source = raw.get("source") if isinstance(raw.get("source"), str) else kind
        facts.mounts[raw["destination"]] = _Mount(
            raw["destination"], source or "", kind or "?", "ro" not in options,
            join_pointer(join_pointer(pointer, "mounts"), index))

    for key, _kind in _NAMESPACES:
        value = entry.get(key)
        where = join_pointer(pointer, key) if key in entry else pointer
        facts.namespaces[key] = (_namespace_state(key, value), where)

    for key, attribute in (("readonly", "readonly"), ("noNewPrivileges", "no_new_privileges")):
        value = entry.get(key)
        setattr(facts, attribute, (value is True, join_pointer(pointer, key) if key in entry
                                   else pointer))

    devices = entry.get("devices")
    for index, raw in enumerate(devices if isinstance(devices, list) else []):
        if isinstance(raw, dict) and isinstance(raw.get("path"), str):
            path = raw["path"]
            if path == "all":
                path = f"all:{raw.get('type') or 'a'}"
            facts.devices[path] = join_pointer(join_pointer(pointer, "devices"), index)
    return facts


def _namespace_state(key: str, value: Any) -> str:
    if value is None or value == "":
        return "host" if key in _HOST_BY_DEFAULT else "new"
    if not isinstance(value, str):
        return "new"
    if value in ("host", "root") or value.startswith("/proc/1/ns/"):
        return "host"
    if value == "new" or (key == "net" and value == "none"):
        return "new"
    return value


def _effective_facts(node: Node, effective: Effective) -> _Facts:
    """Facts from the effective config.json; pointers stay on the YAML entry (the container)."""
    facts = _Facts(node, from_effective=True)
    image = node.value.get("image")
    facts.image = image if isinstance(image, str) else None
    pointer = node.pointer
    process = effective.config.get("process", {})
    capabilities = process.get("capabilities", {})
    for name in [*capabilities.get("bounding", []), *capabilities.get("ambient", [])]:
        facts.capabilities.setdefault(name, join_pointer(pointer, "capabilities")
                                      if "capabilities" in node.value else pointer)
    for mount in effective.config.get("mounts", []):
        options = mount.get("options") or []
        kind = mount.get("type", "")
        if kind == "bind" or "bind" in options or "rbind" in options:
            kind = "bind"
        elif kind in ("proc", "sysfs", "devpts", "mqueue", "cgroup", "tmpfs"):
            # Default mounts and tmpfs: present in every container, not an exposure of host data.
            continue
        destination = mount.get("destination", "")
        facts.mounts[destination] = _Mount(destination, mount.get("source", ""), kind,
                                           "ro" not in options, _first_key(node, "binds", "mounts"))
    types = {ns.get("type"): ns.get("path", "") for ns in effective.config.get("linux", {})
             .get("namespaces", [])}
    for key, kind in _NAMESPACES:
        if kind not in types:
            state = "host"
        elif not types[kind]:
            state = "new"
        else:
            state = _namespace_state(key, types[kind])
        facts.namespaces[key] = (state, _first_key(node, key))
    facts.readonly = (effective.readonly, _first_key(node, "readonly"))
    facts.no_new_privileges = (process.get("noNewPrivileges") is True,
                               _first_key(node, "noNewPrivileges"))
    linux = effective.config.get("linux", {})
    for device in linux.get("devices", []):
        facts.devices[device.get("path", "")] = _first_key(node, "devices")
    for rule in linux.get("resources", {}).get("devices", []):
        if rule.get("allow") and "major" not in rule:
            facts.devices[f"all:{rule.get('type') or 'a'}"] = _first_key(node, "devices")
    return facts


def _first_key(node: Node, *keys: str) -> str:
    for key in keys:
        if isinstance(node.value, dict) and key in node.value:
            return join_pointer(node.pointer, key)
    return node.pointer


def _containers(config: Config) -> dict[tuple[str, str], Node]:
    result: dict[tuple[str, str], Node] = {}
    for section, index, node in config.containers():
        if not isinstance(node.value, dict):
            continue
        name = node.value.get("name")
        label = name if isinstance(name, str) and name else f"#{index}"
        key = (section, label)
        occurrence = 1
        while key in result:
            # Duplicate names are an error elsewhere; numbering keeps both visible here.
            occurrence += 1
            key = (section, f"{label}#{occurrence}")
        result[key] = node
    return result


# --------------------------------------------------------------------------------------------
# Comparing.


class _Collector:
    def __init__(self, old: Config, new: Config) -> None:
        self.old = old
        self.new = new
        self.changes: list[Change] = []

    def add(self, kind: str, marker: str, risk: Risk, subject: str, message: str,
            node: Node | None, pointer: str | None = None, *, in_new: bool = True) -> None:
        location = None
        if node is not None:
            location = node.document.location(pointer if pointer is not None else node.pointer)
        self.changes.append(Change(kind, marker, risk, subject, message, location, in_new))


def diff_configs(old: Config, new: Config, *, old_label: str = "old", new_label: str = "new",
                 effective_of: EffectiveOf | None = None) -> DiffResult:
    """Security-relevant changes from `old` to `new`."""
    collector = _Collector(old, new)
    old_effective = effective_of(old) if effective_of is not None else None
    new_effective = effective_of(new) if effective_of is not None else None
    _diff_kernel(collector)
    _diff_init(collector)
    old_containers = _containers(old)
    new_containers = _containers(new)
    for key, node in new_containers.items():
        subject = f"{key[0]}/{key[1]}"
        before = old_containers.get(key)
        after_eff = new_effective.get(key) if new_effective is not None else None
        if before is None:
            facts = (_effective_facts(node, after_eff) if after_eff is not None
                     else _yaml_facts(node))
            shared = [_NAMESPACE_NAMES[key] for key, (state, where) in facts.namespaces.items()
                      if state == "host" and where == node.pointer]
            collector.add("container", "+", Risk.MEDIUM, subject,
                          f"container added (image {facts.image})" + (
                              f"; shares the host {', '.join(shared)} namespaces by default"
                              if shared else ""), node)
            _diff_container(collector, subject, _Facts(node), facts, added=True)
            continue
        before_eff = old_effective.get(key) if old_effective is not None else None
        if before_eff is not None and after_eff is not None:
            _diff_container(collector, subject, _effective_facts(before, before_eff),
                            _effective_facts(node, after_eff))
        else:
            _diff_container(collector, subject, _yaml_facts(before), _yaml_facts(node))
    for key, node in old_containers.items():
        if key not in new_containers:
            image = node.value.get("image")
            collector.add("container", "-", Risk.REDUCED, f"{key[0]}/{key[1]}",
                          f"container removed (image {image})", node, in_new=False)
    _diff_files(collector)
    _diff_trust(collector)
    return DiffResult(old_label, new_label, collector.changes)


def _diff_container(c: _Collector, subject: str, old: _Facts, new: _Facts, *,
                    added: bool = False) -> None:
    node = new.node
    if not added:
        _diff_image(c, "image", subject, old.image, new.image, node, join_pointer(node.pointer, "image"))

    gained = [name for name in new.capabilities if name not in old.capabilities]
    lost = [name for name in old.capabilities if name not in new.capabilities]
    if len(gained) > 3 and set(ALL_CAPABILITIES) <= set(new.capabilities):
        worst = [name for name in _WORST_CAPS if name in gained]
        c.add("capability", "+", Risk.HIGH, subject,
              f"all {len(ALL_CAPABILITIES)} capabilities granted ({len(gained)} new, including "
              f"{', '.join(worst[:3] or gained[:3])})", node, new.capabilities[gained[0]])
    else:
        for name in gained:
            risk = Risk.HIGH if name in _DANGEROUS_CAPS else Risk.MEDIUM
            c.add("capability", "+", risk, subject, f"capability {name} added", node,
                  new.capabilities[name])
    if len(lost) > 3:
        c.add("capability", "-", Risk.REDUCED, subject,
              f"{len(lost)} capabilities dropped ({', '.join(lost[:4])}, ...)", node,
              join_pointer(node.pointer, "capabilities"))
    else:
        for name in lost:
            c.add("capability", "-", Risk.REDUCED, subject, f"capability {name} removed", node,
                  _first_key(node, "capabilities"))

    for destination, mount in new.mounts.items():
        previous = old.mounts.get(destination)
        if previous is None:
            c.add("mount", "+", _mount_risk(mount), subject, f"{mount.describe()} added", node,
                  mount.pointer)
        elif previous.source != mount.source or previous.kind != mount.kind:
            c.add("mount", "~", _mount_risk(mount), subject,
                  f"{destination}: {previous.describe()} replaced by {mount.describe()}",
                  node, mount.pointer)
        elif mount.writable and not previous.writable:
            risk = Risk.HIGH if _sensitive(mount.source) else Risk.MEDIUM
            c.add("mount", "~", risk, subject,
                  f"{mount.describe()} widened from read-only to read-write", node, mount.pointer)
        elif previous.writable and not mount.writable:
            c.add("mount", "~", Risk.REDUCED, subject,
                  f"{mount.describe()} narrowed from read-write to read-only", node, mount.pointer)
    for destination, mount in old.mounts.items():
        if destination not in new.mounts:
            c.add("mount", "-", Risk.REDUCED, subject, f"{mount.describe()} removed", node,
                  _first_key(node, "binds", "mounts"))

    for key, _kind in _NAMESPACES:
        before = old.namespaces.get(key, ("new", ""))[0] if not added else "new"
        after, where = new.namespaces.get(key, ("new", node.pointer))
        implicit = where == node.pointer
        if before == after or (added and after == "host" and implicit):
            continue  # an added container's default namespaces are in its "added" line
        name = _NAMESPACE_NAMES[key]
        if after == "host":
            c.add("namespace", "+", _NAMESPACE_RISK[key], subject,
                  f"joins the host {name} namespace" + (
                      f" (linuxkit's default once `{key}` is not set)" if implicit else ""),
                  node, where)
        elif before == "host":
            c.add("namespace", "-", Risk.REDUCED, subject,
                  f"leaves the host {name} namespace ({after})", node, where)
        elif after != "new":
            c.add("namespace", "~", Risk.MEDIUM, subject,
                  f"joins the {name} namespace at {after} (was {before})", node, where)
        else:
            c.add("namespace", "~", Risk.INFO, subject,
                  f"{name} namespace: {before} -> {after}", node, where)

    for label, kind, before_value, after_value in (
        ("readonly", "readonly", old.readonly, new.readonly),
        ("noNewPrivileges", "no-new-privileges", old.no_new_privileges, new.no_new_privileges),
    ):
        if before_value[0] and not after_value[0]:
            c.add(kind, "~", Risk.MEDIUM, subject, f"{label} turned off", node, after_value[1])
        elif not before_value[0] and after_value[0] and not added:
            c.add(kind, "~", Risk.REDUCED, subject, f"{label} turned on", node, after_value[1])

    for path, where in new.devices.items():
        if path not in old.devices:
            risk = Risk.HIGH if path in _DANGEROUS_DEVICES or path.startswith("all") else Risk.MEDIUM
            what = "access to all devices" if path.startswith("all") else f"device {path}"
            c.add("device", "+", risk, subject, f"{what} added", node, where)
    for path in old.devices:
        if path not in new.devices:
            c.add("device", "-", Risk.REDUCED, subject, f"device {path} removed", node,
                  _first_key(node, "devices"))


def _sensitive(source: str) -> bool:
    clean = os.path.normpath(source) if source.startswith("/") else source
    if any(marker in clean for marker in _SENSITIVE_FILES):
        return True
    return any(clean == root or (root != "/" and clean.startswith(root + "/"))
               for root in _SENSITIVE_SOURCES)


def _mount_risk(mount: _Mount) -> Risk:
    if mount.kind != "bind" or not mount.source.startswith("/"):
        # Volumes, tmpfs and pseudo file systems expose no host path.
        return Risk.LOW if mount.writable else Risk.INFO
    if _sensitive(mount.source):
        return Risk.HIGH if mount.writable else Risk.MEDIUM
    return Risk.MEDIUM if mount.writable else Risk.LOW


def _parse_ref(text: str | None) -> Any:
    from lkpolicy.model.reference import ReferenceError
    from lkpolicy.model.reference import parse as parse_reference

    if text is None:
        return None
    try:
        return parse_reference(text)
    except ReferenceError:
        return None


def _diff_image(c: _Collector, kind: str, subject: str, old: str | None, new: str | None,
                node: Node | None, pointer: str | None) -> None:
    if old == new:
        return
    if old is None or new is None:
        marker = "+" if old is None else "-"
        c.add(kind, marker, Risk.MEDIUM if old is None else Risk.REDUCED, subject,
              f"image {new or old} {'added' if old is None else 'removed'}", node, pointer,
              in_new=new is not None)
        return
    before = _parse_ref(old)
    after = _parse_ref(new)
    if before is None or after is None:
        c.add(kind, "~", Risk.MEDIUM, subject, f"image {old} -> {new}", node, pointer)
        return
    if before.locator != after.locator:
        c.add(kind, "~", Risk.HIGH if kind != "image" else Risk.MEDIUM, subject,
              f"image repository changed: {old} -> {new}", node, pointer)
    elif before.pinned and not after.pinned:
        c.add(kind, "~", Risk.MEDIUM, subject,
              f"image no longer pinned to a digest: {old} -> {new}", node, pointer)
    elif after.pinned and not before.pinned:
        c.add(kind, "~", Risk.REDUCED, subject, f"image pinned: {old} -> {new}", node, pointer)
    elif before.tag != after.tag:
        c.add(kind, "~", Risk.LOW if kind != "image" else Risk.INFO, subject,
              f"image tag changed: {old} -> {new}", node, pointer)
    elif before.digest != after.digest:
        c.add(kind, "~", Risk.LOW if kind != "image" else Risk.INFO, subject,
              f"image digest changed: {old} -> {new}", node, pointer)


def _diff_kernel(c: _Collector) -> None:
    old_image = c.old.kernel.get("image")
    new_image = c.new.kernel.get("image")
    old_text = old_image.value if old_image and isinstance(old_image.value, str) else None
    new_text = new_image.value if new_image and isinstance(new_image.value, str) else None
    if old_text != new_text:
        where = new_image or old_image
        _diff_image(c, "kernel-image", "kernel", old_text, new_text, where,
                    where.pointer if where else None)
    old_line = c.old.kernel.get("cmdline")
    new_line = c.new.kernel.get("cmdline")
    before = old_line.value.split() if old_line and isinstance(old_line.value, str) else []
    after = new_line.value.split() if new_line and isinstance(new_line.value, str) else []
    for token in after:
        if token not in before:
            weak = any(token == w or (w.endswith("=") and token.startswith(w))
                       for w in _CMDLINE_WEAKENING)
            c.add("cmdline", "+", Risk.HIGH if weak else Risk.LOW, "kernel",
                  f"kernel command line gains `{token}`", new_line)
    for token in before:
        if token not in after:
            hardening = any(token == h or (h.endswith("=") and token.startswith(h))
                            for h in _CMDLINE_HARDENING)
            c.add("cmdline", "-", Risk.MEDIUM if hardening else Risk.INFO, "kernel",
                  f"kernel command line loses `{token}`", new_line or old_line,
                  in_new=new_line is not None)


def _diff_init(c: _Collector) -> None:
    def images(config: Config) -> dict[str, tuple[str, Node]]:
        result: dict[str, tuple[str, Node]] = {}
        for node in config.section("init"):
            if isinstance(node.value, str):
                ref = _parse_ref(node.value)
                result.setdefault(ref.locator if ref else node.value, (node.value, node))
        return result

    before = images(c.old)
    after = images(c.new)
    for locator, (text, node) in after.items():
        if locator not in before:
            c.add("init", "+", Risk.HIGH, "init", f"init image {text} added", node)
        else:
            _diff_image(c, "init", "init", before[locator][0], text, node, node.pointer)
    for locator, (text, node) in before.items():
        if locator not in after:
            c.add("init", "-", Risk.REDUCED, "init", f"init image {text} removed", node,
                  in_new=False)


def _file_mode(node: Node) -> int | None:
    mode = node.value.get("mode") if isinstance(node.value, dict) else None
    if not isinstance(mode, str):
        return None
    try:
        return int(mode, 8)
    except ValueError:
        return None


def _mode_risks(mode: int | None) -> list[tuple[str, Risk]]:
    if mode is None:
        return []
    found: list[tuple[str, Risk]] = []
    if mode & 0o4000:
        found.append(("setuid", Risk.HIGH))
    if mode & 0o2000:
        found.append(("setgid", Risk.HIGH))
    if mode & 0o002:
        found.append(("world-writable", Risk.MEDIUM))
    return found


def _diff_files(c: _Collector) -> None:
    def files(config: Config) -> dict[str, Node]:
        return {node.value["path"]: node for node in config.section("files")
                if isinstance(node.value, dict) and isinstance(node.value.get("path"), str)}

    before = files(c.old)
    for path, node in files(c.new).items():
        old_mode = _file_mode(before[path]) if path in before else None
        new_mode = _file_mode(node)
        old_bits = {name for name, _risk in _mode_risks(old_mode)}
        for name, risk in _mode_risks(new_mode):
            if name in old_bits:
                continue
            verb = "added" if path not in before else "now"
            assert new_mode is not None
            c.add("file-mode", "+", risk, "files",
                  f"{name} file {path} {verb} (mode {new_mode:04o})", node,
                  join_pointer(node.pointer, "mode"))


def _diff_trust(c: _Collector) -> None:
    def entries(config: Config) -> dict[tuple[str, str], Node]:
        result: dict[tuple[str, str], Node] = {}
        for trust in config.trust:
            if not isinstance(trust.value, dict):
                continue
            for key in sorted(trust.value):
                child = trust.child(key)
                if child is None:
                    continue
                for item in child.items():
                    if isinstance(item.value, str):
                        result.setdefault((key, item.value), item)
        return result

    before = entries(c.old)
    after = entries(c.new)
    for (key, value), node in after.items():
        if (key, value) not in before:
            c.add("trust", "+", Risk.REDUCED, "trust", f"trust {key} `{value}` added", node)
    for (key, value), node in before.items():
        if (key, value) not in after:
            where = c.new.trust[0] if c.new.trust else node
            c.add("trust", "-", Risk.MEDIUM, "trust", f"trust {key} `{value}` removed", where,
                  in_new=bool(c.new.trust))


def run_diff(old: Source, new: Source, *, git: GitRunner = _run_git,
             effective_of: EffectiveOf | None = None) -> DiffResult:
    return diff_configs(load_source(old, git), load_source(new, git), old_label=old.label,
                        new_label=new.label, effective_of=effective_of)


# --------------------------------------------------------------------------------------------
# Output.

def _ordered(result: DiffResult) -> list[Change]:
    return list(result.changes)


def _where(change: Change) -> str:
    if change.location is None:
        return ""
    loc = change.location
    text = f"{loc.file}:{loc.line}" if loc.line else loc.file
    return text if change.in_new else f"{text} (old)"


def render_text(result: DiffResult) -> str:
    changes = _ordered(result)
    if not changes:
        return f"lkpolicy diff: no security-relevant change from {result.old} to {result.new}\n"
    width = max(len(change.risk.value) for change in changes)
    lines = []
    for change in changes:
        where = _where(change)
        lines.append(f"{change.marker} {change.risk.value:<{width}}  {change.subject}: "
                     f"{change.message}" + (f"  [{where}]" if where else ""))
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _summary(result: DiffResult) -> str:
    counts: dict[Risk, int] = {}
    for change in result.changes:
        counts[change.risk] = counts.get(change.risk, 0) + 1
    parts = [f"{counts[risk]} {risk.value}" for risk in sorted(counts, key=lambda r: r.rank)]
    verdict = ("risk increases: security review needed" if result.increases_risk
               else "no risk-increasing change")
    total = len(result.changes)
    return f"{total} security-relevant change{'s' if total != 1 else ''} ({', '.join(parts)}); {verdict}"


def render_json(result: DiffResult) -> str:
    document = {
        "old": result.old, "new": result.new, "increases_risk": result.increases_risk,
        "changes": [change.to_json() for change in _ordered(result)],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _md_escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\n", " "))


def render_markdown(result: DiffResult) -> str:
    title = f"### lkpolicy: security-relevant changes in `{_md_escape(result.new)}`"
    changes = _ordered(result)
    if not changes:
        return f"{title}\n\nNo security-relevant change from `{_md_escape(result.old)}`.\n"
    icon = {Risk.HIGH: "🔴", Risk.MEDIUM: "🟠", Risk.LOW: "🟡", Risk.INFO: "⚪", Risk.REDUCED: "🟢"}
    rows = ["| | Risk | Part | Change |", "|---|---|---|---|"]
    for change in sorted(changes, key=lambda ch: ch.risk.rank):
        rows.append(f"| {change.marker} | {icon[change.risk]} {change.risk.value} "
                    f"| `{_md_escape(change.subject)}` "
                    f"| {_md_escape(change.message)}"
                    + (f" ({_md_escape(_where(change))})" if change.location else "") + " |")
    summary = _md_escape(_summary(result))
    return f"{title}\n\n" + "\n".join(rows) + f"\n\n{summary}\n"


FORMATS = ("text", "json", "markdown")


def render(format_name: str, result: DiffResult) -> str:
    if format_name == "text":
        return render_text(result)
    if format_name == "json":
        return render_json(result)
    if format_name == "markdown":
        return render_markdown(result)
    raise ValueError(f"unknown output format {format_name!r} (use {', '.join(FORMATS)})")
