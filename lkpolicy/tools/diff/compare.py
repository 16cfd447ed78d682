"""Security-relevant differences between two versions of a LinuxKit config, for PR reviewers.

A textual diff shows that `capabilities: [all]` replaced three names; a reviewer needs to know
that 38 capabilities were granted. This module compares two configs on what matters for the
security of the built image: per container (matched by section and name) what its effective
config grants (capabilities, binds and mounts, host namespaces, `readonly`,
`noNewPrivileges`, devices) and its image; containers added and removed; init and kernel
images, the kernel command line, `files` entries with setuid/setgid or world-writable modes,
and the `trust` section.

Containers are compared on their effective configs from the containers stage: with the images
resolved from the cache when the caller gives `containers_of` that reads it, else from the
YAML alone. Every change carries a risk: `high`, `medium` and `low` increase the attack
surface, `reduced` decreases it, `info` is neither (a tag bump). The exit code of
`lkpolicy diff` is 1 when a change increases the risk, so a CI job can require a security
review for exactly those PRs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from lkpolicy.model.capabilities import ALL_CAPABILITIES
from lkpolicy.model.config import Config, Node
from lkpolicy.model.document import join_pointer
from lkpolicy.model.reference import parse_or_none
from lkpolicy.stages.effective.grants import NAMESPACE_WORDS
from lkpolicy.tools.diff.facts import ContainerFacts, MountFact, container_facts
from lkpolicy.tools.diff.model import Change, DiffResult, Risk
from lkpolicy.tools.diff.sources import GitRunner, Source, load_source, run_git

if TYPE_CHECKING:
    from lkpolicy.stages.containers import Container

ContainersOf = Callable[[Config], "list[Container]"]
"""The containers stage for a config (with or without the image cache)."""


def yaml_containers(config: Config) -> list[Container]:
    """Containers with effective configs from the YAML alone (no image cache)."""
    from lkpolicy.stages.containers import effective_configs
    from lkpolicy.stages.images import resolve_images

    return effective_configs(config, resolve_images(config, None))[0]


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


def _first_key(node: Node, *keys: str) -> str:
    for key in keys:
        if isinstance(node.value, dict) and key in node.value:
            return join_pointer(node.pointer, key)
    return node.pointer


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
                 containers_of: ContainersOf = yaml_containers) -> DiffResult:
    """Security-relevant changes from `old` to `new`."""
    collector = _Collector(old, new)
    _diff_kernel(collector)
    _diff_init(collector)
    old_containers = _keyed(containers_of(old))
    new_containers = _keyed(containers_of(new))
    for key, container in new_containers.items():
        subject = f"{key[0]}/{key[1]}"
        node = container.node
        facts = container_facts(container)
        before = old_containers.get(key)
        if before is None:
            shared = [NAMESPACE_WORDS[ns] for ns, (state, where) in facts.namespaces.items()
                      if state == "host" and where == node.pointer]
            collector.add("container", "+", Risk.MEDIUM, subject,
                          f"container added (image {facts.image})" + (
                              f"; shares the host {', '.join(shared)} namespaces by default"
                              if shared else ""), node)
            _diff_container(collector, subject, ContainerFacts(node), facts, added=True)
            continue
        _diff_container(collector, subject, container_facts(before), facts)
    for key, container in old_containers.items():
        if key not in new_containers:
            image = container.entry.get("image")
            collector.add("container", "-", Risk.REDUCED, f"{key[0]}/{key[1]}",
                          f"container removed (image {image})", container.node, in_new=False)
    _diff_files(collector)
    _diff_trust(collector)
    return DiffResult(old_label, new_label, collector.changes)


def _keyed(containers: list[Container]) -> dict[tuple[str, str], Container]:
    result: dict[tuple[str, str], Container] = {}
    for container in containers:
        label = container.name or f"#{container.index}"
        key = (container.section, label)
        occurrence = 1
        while key in result:
            # Duplicate names are an error elsewhere; numbering keeps both visible here.
            occurrence += 1
            key = (container.section, f"{label}#{occurrence}")
        result[key] = container
    return result


def _diff_container(c: _Collector, subject: str, old: ContainerFacts, new: ContainerFacts, *,
                    added: bool = False) -> None:
    node = new.node
    if not added:
        _diff_image(c, "image", subject, old.image, new.image, node, join_pointer(node.pointer, "image"))

    # In the order the configs write them (the effective config sorts them).
    gained = sorted((name for name in new.capabilities if name not in old.capabilities),
                    key=lambda name: _position(new.node, new.capabilities[name]))
    lost = sorted((name for name in old.capabilities if name not in new.capabilities),
                  key=lambda name: _position(old.node, old.capabilities[name]))
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

    for destination, mount in sorted(new.mounts.items(),
                                     key=lambda item: _position(new.node, item[1].pointer)):
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
        name = NAMESPACE_WORDS[key]
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


def _position(node: Node, pointer: str) -> tuple[int, int, str]:
    location = node.document.location(pointer)
    return location.line, location.column, pointer


def _sensitive(source: str) -> bool:
    clean = os.path.normpath(source) if source.startswith("/") else source
    if any(marker in clean for marker in _SENSITIVE_FILES):
        return True
    return any(clean == root or (root != "/" and clean.startswith(root + "/"))
               for root in _SENSITIVE_SOURCES)


def _mount_risk(mount: MountFact) -> Risk:
    if mount.kind != "bind" or not mount.source.startswith("/"):
        # Volumes, tmpfs and pseudo file systems expose no host path.
        return Risk.LOW if mount.writable else Risk.INFO
    if _sensitive(mount.source):
        return Risk.HIGH if mount.writable else Risk.MEDIUM
    return Risk.MEDIUM if mount.writable else Risk.LOW


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
    before = parse_or_none(old)
    after = parse_or_none(new)
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
                ref = parse_or_none(node.value)
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


def run_diff(old: Source, new: Source, *, git: GitRunner = run_git,
             containers_of: ContainersOf = yaml_containers) -> DiffResult:
    return diff_configs(load_source(old, git), load_source(new, git), old_label=old.label,
                        new_label=new.label, containers_of=containers_of)
