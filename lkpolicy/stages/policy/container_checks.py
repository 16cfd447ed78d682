"""Policy checks on each container's grants: capabilities, namespaces, binds, devices, root
filesystem, privileges and sysctls."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from fnmatch import fnmatchcase

import lkpolicy.stages.policy.rules as R
from lkpolicy.model.capabilities import KNOWN
from lkpolicy.stages.effective import Origin
from lkpolicy.stages.effective.grants import NAMESPACE_WORDS
from lkpolicy.stages.policy.engine import Judge, Target, container_check


def path_matches(path: str, patterns: Iterable[str]) -> str | None:
    """The first pattern (an absolute path or fnmatch glob) that `path` matches."""
    return next((p for p in patterns
                 if fnmatchcase(path, posixpath.normpath(p) if p.startswith("/") else p)), None)


@container_check(R.ALL_CAPABILITIES_GRANTED, R.FORBIDDEN_CAPABILITY, R.CAPABILITY_NOT_ALLOWED)
def check_capabilities(judge: Judge, target: Target) -> None:
    caps = target.grants.capabilities
    granted = {cap.name for cap in caps}
    subject = target.subject
    active = judge.active(R.ALL_CAPABILITIES_GRANTED, subject)
    if active and granted >= KNOWN:
        place = judge.place(target, caps[0].provenance, effective_pointer="/process/capabilities")
        judge.emit(R.ALL_CAPABILITIES_GRANTED, active,
                   f"{target.described} is granted all {len(KNOWN)} capabilities{place.source}",
                   place.location, place.pointer,
                   hint="list the capabilities the container needs in `capabilities:` instead"
                        + ("" if place.by_yaml else " (the YAML list replaces the label's)"))
        return  # one finding says it all; 41 more would bury it
    forbidden = judge.active(R.FORBIDDEN_CAPABILITY, subject)
    allowlist = judge.active(R.CAPABILITY_NOT_ALLOWED, subject)
    for cap in caps:
        place = judge.place(target, cap.provenance, effective_pointer=cap.pointer)
        by = place.source or " by the YAML"
        drop = (f"remove `{cap.name}` from `capabilities`" if place.by_yaml else
                "set `capabilities:` in this entry to the ones it needs (it replaces the "
                "label's)")
        if forbidden and cap.name in forbidden.options["forbidden"]:
            judge.emit(R.FORBIDDEN_CAPABILITY, forbidden,
                       f"{cap.name} is granted{by} to {target.described}",
                       place.location, place.pointer,
                       hint=f"{drop}, or allow it for this image with an `overrides` entry "
                            "of the policy")
        elif allowlist and cap.name not in allowlist.options["allowed"]:
            judge.emit(R.CAPABILITY_NOT_ALLOWED, allowlist,
                       f"{cap.name} is granted{by} to {target.described} but is not in the "
                       "policy's allowlist", place.location, place.pointer,
                       hint=f"{drop}, or add `{cap.name}` to `allowed` of "
                            f"{R.CAPABILITY_NOT_ALLOWED.rule.id} for this image (an "
                            "`overrides` entry of the policy)")


@container_check(R.HOST_NAMESPACE)
def check_namespaces(judge: Judge, target: Target) -> None:
    active = judge.active(R.HOST_NAMESPACE, target.subject)
    if not active:
        return
    for namespace in target.grants.host_namespaces:
        key = namespace.key
        if key not in active.options["namespaces"]:
            continue
        provenance = namespace.provenance
        place = judge.place(target, provenance, effective_pointer="/linux/namespaces")
        if provenance.origin is Origin.DEFAULT:
            why = (f" (`{key}` is not set, and linuxkit's default has no user namespace)"
                   if key == "userns" else f" (`{key}` is not set: linuxkit's default is the host's)")
        else:
            why = place.source
        text = ("has no user namespace" if key == "userns"
                else f"shares the host's {NAMESPACE_WORDS[key]} namespace")
        judge.emit(R.HOST_NAMESPACE, active, f"{target.described} {text}{why}",
                   place.location, place.pointer,
                   hint=f"set `{key}: new` in this entry, or leave `{key}` out of `namespaces` "
                        f"of {R.HOST_NAMESPACE.rule.id} for this image (an `overrides` entry "
                        "of the policy)")


@container_check(R.DANGEROUS_BIND)
def check_binds(judge: Judge, target: Target) -> None:
    active = judge.active(R.DANGEROUS_BIND, target.subject)
    if not active:
        return
    for bind in target.grants.mounts:
        if not bind.is_bind or not bind.source.startswith("/"):
            continue  # a volume: its content is the build's, not the host's
        source = posixpath.normpath(bind.source)
        if source.startswith("//"):
            source = source[1:]
        place = judge.place(target, bind.provenance, effective_pointer=bind.pointer)
        if path_matches(source, active.options["forbidden"]):
            judge.emit(R.DANGEROUS_BIND, active,
                       f"{target.described} binds the host's `{source}`{place.source}",
                       place.location, place.pointer,
                       hint="bind only the narrowest path the container needs, read-only "
                            "(`:ro`) where it can be")
        elif not bind.readonly and path_matches(source, active.options["forbidden_rw"]):
            judge.emit(R.DANGEROUS_BIND, active,
                       f"{target.described} binds the host's `{source}` read-write"
                       f"{place.source}", place.location, place.pointer,
                       hint="add `:ro` (or `ro` to the options)")


@container_check(R.ALL_DEVICES, R.RAW_BLOCK_DEVICE)
def check_devices(judge: Judge, target: Target) -> None:
    every = judge.active(R.ALL_DEVICES, target.subject)
    raw = judge.active(R.RAW_BLOCK_DEVICE, target.subject)
    for device in target.grants.devices:
        place = judge.place(target, device.provenance, effective_pointer=device.pointer)
        if every and device.every_device:
            judge.emit(R.ALL_DEVICES, every,
                       f"{target.described} may access every device{place.source}",
                       place.location, place.pointer,
                       hint="list in `devices:` only the devices it needs, by type, major "
                            "and minor number")
        elif raw and device.block and not path_matches(device.path, raw.options["allowed"]):
            judge.emit(R.RAW_BLOCK_DEVICE, raw,
                       f"{target.described} gets the raw block device `{device.path}`"
                       f"{place.source}", place.location, place.pointer,
                       hint=f"remove `{device.path}` from `devices`, or add it to `allowed` "
                            f"of {R.RAW_BLOCK_DEVICE.rule.id} for this image (an `overrides` "
                            "entry of the policy)")


@container_check(R.SHARED_PROPAGATION, R.ROOTFS_NOT_READONLY, R.NO_NEW_PRIVILEGES)
def check_rootfs(judge: Judge, target: Target) -> None:
    subject = target.subject
    grants = target.grants
    active = judge.active(R.SHARED_PROPAGATION, subject)
    propagation = grants.rootfs_propagation
    if active and propagation.value in ("shared", "rshared"):
        place = judge.place(target, propagation.provenance,
                            effective_pointer=propagation.pointer)
        judge.emit(R.SHARED_PROPAGATION, active,
                   f"{target.described} has rootfsPropagation `{propagation.value}`"
                   f"{place.source}: its mounts propagate to the host",
                   place.location, place.pointer,
                   hint="set `rootfsPropagation: slave` in this entry (or `private`), unless "
                        "its mounts must reach the host")
    for rule, key, setting, text in (
        (R.ROOTFS_NOT_READONLY, "readonly", grants.readonly, "has a writable root filesystem"),
        (R.NO_NEW_PRIVILEGES, "noNewPrivileges", grants.no_new_privileges,
         "does not set noNewPrivileges"),
    ):
        active = judge.active(rule, subject)
        if not active or setting.value is True:
            continue
        place = judge.place(target, setting.provenance, effective_pointer=setting.pointer)
        origin = setting.provenance.origin
        if origin is Origin.DEFAULT:
            why = f" (`{key}` is not set)"
        elif origin is Origin.YAML:
            why = f" (`{key}: {str(setting.value).lower()}`)"
        else:
            why = place.source.replace(" by ", ": set by ", 1)
        judge.emit(rule, active, f"{target.described} {text}{why}", place.location,
                   place.pointer, hint=f"set `{key}: true` in this entry" + (
                       "; give the paths it writes as `tmpfs` mounts or binds"
                       if key == "readonly" else ""))


@container_check(R.FORBIDDEN_SYSCTL)
def check_sysctl(judge: Judge, target: Target) -> None:
    active = judge.active(R.FORBIDDEN_SYSCTL, target.subject)
    sysctls = target.grants.sysctls
    if not active or not isinstance(sysctls.value, dict):
        return
    for name in sysctls.value:
        if name in active.options["allowed"]:
            continue
        prefix = next((p for p in active.options["forbidden_prefixes"] if name.startswith(p)),
                      None)
        if prefix is None:
            continue
        place = judge.place(target, sysctls.provenance, extra=name,
                            effective_pointer=sysctls.pointer)
        judge.emit(R.FORBIDDEN_SYSCTL, active,
                   f"{target.described} sets sysctl `{name}` (forbidden prefix `{prefix}`)"
                   f"{place.source}", place.location, place.pointer,
                   hint=f"remove `{name}` from `sysctl`, or add it to `allowed` of "
                        f"{R.FORBIDDEN_SYSCTL.rule.id} for this image (an `overrides` entry)")
