# Generated from schemas/linuxkit.schema.json; do not edit.
# Regenerate with `python -m lkpolicy.stages.schemacheck.generate` after changing a
# keyword that validates (descriptions and titles leave this file as it is).
"""The LinuxKit schema as plain checks: jsonschema's errors, in its order, without it."""

from __future__ import annotations

from typing import Any

from lkpolicy.stages.schemacheck import generated_parts as parts
from lkpolicy.stages.schemacheck.violation import Path, Violation


def violations(data: Any) -> list[Violation]:
    """Every schema error of `data`, as jsonschema reports them."""
    out: list[Violation] = []
    if isinstance(data, dict):
        for key1 in data:
            if key1 not in parts.ROOT_KEYS_SET:
                out.append(Violation("additionalProperties", (), data, parts.ROOT_KEYS))
                break
        if "kernel" in data:
            _check_kernel(data["kernel"], ("kernel",), out)
        if "init" in data:
            parts.check_strings(data["init"], ("init",), out)
        if "onboot" in data:
            _check_images(data["onboot"], ("onboot",), out)
        if "onshutdown" in data:
            _check_images(data["onshutdown"], ("onshutdown",), out)
        if "services" in data:
            _check_images(data["services"], ("services",), out)
        if "files" in data:
            parts.check_file_list(data["files"], ("files",), out)
        if "volumes" in data:
            _check_volume_list(data["volumes"], ("volumes",), out)
        if "trust" in data:
            _check_trust(data["trust"], ("trust",), out)
    return out


def _check_kernel(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key6 in value:
            if key6 not in parts.KERNEL_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.KERNEL_KEYS))
                break
        if "image" in value and not isinstance(value["image"], str):
            out.append(Violation("type", (*path, "image"), value["image"], ("string",)))
        if "cmdline" in value and not isinstance(value["cmdline"], str):
            out.append(Violation("type", (*path, "cmdline"), value["cmdline"], ("string",)))
        if "binary" in value and not isinstance(value["binary"], str):
            out.append(Violation("type", (*path, "binary"), value["binary"], ("string",)))
        if "tar" in value and not isinstance(value["tar"], str):
            out.append(Violation("type", (*path, "tar"), value["tar"], ("string",)))
        if "ucode" in value and not isinstance(value["ucode"], str):
            out.append(Violation("type", (*path, "ucode"), value["ucode"], ("string",)))


def _check_images(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index9, item10 in enumerate(value):
            _check_image(item10, (*path, index9), out)


def _check_volume(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key14 in value:
            if key14 not in parts.VOLUME_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.VOLUME_KEYS))
                break
        if "name" in value and not isinstance(value["name"], str):
            out.append(Violation("type", (*path, "name"), value["name"], ("string",)))
        if "image" in value and not isinstance(value["image"], str):
            out.append(Violation("type", (*path, "image"), value["image"], ("string",)))
        if "readonly" in value and not isinstance(value["readonly"], bool):
            out.append(Violation("type", (*path, "readonly"), value["readonly"], ("boolean",)))
        if "format" in value:
            _check_volume_properties_format(value["format"], (*path, "format"), out)
        if "platforms" in value:
            parts.check_strings(value["platforms"], (*path, "platforms"), out)


def _check_volume_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index15, item16 in enumerate(value):
            _check_volume(item16, (*path, index15), out)


def _check_trust(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key17 in value:
            if key17 not in parts.TRUST_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.TRUST_KEYS))
                break
        if "image" in value:
            parts.check_strings(value["image"], (*path, "image"), out)
        if "org" in value:
            parts.check_strings(value["org"], (*path, "org"), out)


def _check_image(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key18 in value:
            if key18 not in parts.IMAGE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.IMAGE_KEYS))
                break
        if "name" not in value:
            out.append(Violation("required", path, value, parts.IMAGE_REQUIRED))
        if "image" not in value:
            out.append(Violation("required", path, value, parts.IMAGE_REQUIRED))
        if "name" in value and not isinstance(value["name"], str):
            out.append(Violation("type", (*path, "name"), value["name"], ("string",)))
        if "image" in value and not isinstance(value["image"], str):
            out.append(Violation("type", (*path, "image"), value["image"], ("string",)))
        if "capabilities" in value:
            parts.check_strings(value["capabilities"], (*path, "capabilities"), out)
        if "capabilities.add" in value:
            parts.check_strings(value["capabilities.add"], (*path, "capabilities.add"), out)
        if "ambient" in value:
            parts.check_strings(value["ambient"], (*path, "ambient"), out)
        if "mounts" in value:
            parts.check_mount_list(value["mounts"], (*path, "mounts"), out)
        if "binds" in value:
            parts.check_strings(value["binds"], (*path, "binds"), out)
        if "binds.add" in value:
            parts.check_strings(value["binds.add"], (*path, "binds.add"), out)
        if "devices" in value:
            parts.check_device_list(value["devices"], (*path, "devices"), out)
        if "tmpfs" in value:
            parts.check_strings(value["tmpfs"], (*path, "tmpfs"), out)
        if "command" in value:
            parts.check_strings(value["command"], (*path, "command"), out)
        if "env" in value:
            parts.check_strings(value["env"], (*path, "env"), out)
        if "cwd" in value and not isinstance(value["cwd"], str):
            out.append(Violation("type", (*path, "cwd"), value["cwd"], ("string",)))
        if "net" in value and not isinstance(value["net"], str):
            out.append(Violation("type", (*path, "net"), value["net"], ("string",)))
        if "pid" in value and not isinstance(value["pid"], str):
            out.append(Violation("type", (*path, "pid"), value["pid"], ("string",)))
        if "ipc" in value and not isinstance(value["ipc"], str):
            out.append(Violation("type", (*path, "ipc"), value["ipc"], ("string",)))
        if "uts" in value and not isinstance(value["uts"], str):
            out.append(Violation("type", (*path, "uts"), value["uts"], ("string",)))
        if "userns" in value and not isinstance(value["userns"], str):
            out.append(Violation("type", (*path, "userns"), value["userns"], ("string",)))
        if "hostname" in value and not isinstance(value["hostname"], str):
            out.append(Violation("type", (*path, "hostname"), value["hostname"], ("string",)))
        if "readonly" in value and not isinstance(value["readonly"], bool):
            out.append(Violation("type", (*path, "readonly"), value["readonly"], ("boolean",)))
        if "maskedPaths" in value:
            parts.check_strings(value["maskedPaths"], (*path, "maskedPaths"), out)
        if "readonlyPaths" in value:
            parts.check_strings(value["readonlyPaths"], (*path, "readonlyPaths"), out)
        if "uid" in value:
            parts.check_id(value["uid"], (*path, "uid"), out)
        if "gid" in value:
            parts.check_id(value["gid"], (*path, "gid"), out)
        if "additionalGids" in value:
            parts.check_id_list(value["additionalGids"], (*path, "additionalGids"), out)
        if "noNewPrivileges" in value and not isinstance(value["noNewPrivileges"], bool):
            out.append(Violation("type", (*path, "noNewPrivileges"), value["noNewPrivileges"], ("boolean",)))
        if "oomScoreAdj" in value and not parts.is_integer(value["oomScoreAdj"]):
            out.append(Violation("type", (*path, "oomScoreAdj"), value["oomScoreAdj"], ("integer",)))
        if "rootfsPropagation" in value and not isinstance(value["rootfsPropagation"], str):
            out.append(Violation("type", (*path, "rootfsPropagation"), value["rootfsPropagation"], ("string",)))
        if "cgroupsPath" in value and not isinstance(value["cgroupsPath"], str):
            out.append(Violation("type", (*path, "cgroupsPath"), value["cgroupsPath"], ("string",)))
        if "resources" in value:
            _check_resources(value["resources"], (*path, "resources"), out)
        if "sysctl" in value:
            parts.check_map_string(value["sysctl"], (*path, "sysctl"), out)
        if "rlimits" in value:
            parts.check_strings(value["rlimits"], (*path, "rlimits"), out)
        if "uidMappings" in value:
            parts.check_idmapping_list(value["uidMappings"], (*path, "uidMappings"), out)
        if "gidMappings" in value:
            parts.check_idmapping_list(value["gidMappings"], (*path, "gidMappings"), out)
        if "annotations" in value:
            parts.check_map_string(value["annotations"], (*path, "annotations"), out)
        if "runtime" in value:
            _check_runtime(value["runtime"], (*path, "runtime"), out)


def _check_volume_properties_format(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, str):
        out.append(Violation("type", path, value, ("string",)))
    if not (isinstance(value, str) and value in parts.VOLUME_PROPERTIES_FORMAT_ENUM):
        out.append(Violation("enum", path, value, parts.VOLUME_PROPERTIES_FORMAT_ENUM))


def _check_resources(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key41 in value:
            if key41 not in parts.RESOURCES_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.RESOURCES_KEYS))
                break
        if "devices" in value:
            parts.check_device_cgroup_list(value["devices"], (*path, "devices"), out)
        if "memory" in value:
            parts.check_memory(value["memory"], (*path, "memory"), out)
        if "cpu" in value:
            parts.check_cpu(value["cpu"], (*path, "cpu"), out)
        if "pids" in value:
            _check_pids(value["pids"], (*path, "pids"), out)
        if "blockio" in value:
            parts.check_blockio(value["blockio"], (*path, "blockio"), out)
        if "hugepageLimits" in value:
            parts.check_hugepage_limit_list(value["hugepageLimits"], (*path, "hugepageLimits"), out)
        if "network" in value:
            _check_network(value["network"], (*path, "network"), out)


def _check_runtime(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key50 in value:
            if key50 not in parts.RUNTIME_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.RUNTIME_KEYS))
                break
        if "cgroups" in value:
            parts.check_strings(value["cgroups"], (*path, "cgroups"), out)
        if "mounts" in value:
            parts.check_mount_list(value["mounts"], (*path, "mounts"), out)
        if "mkdir" in value:
            parts.check_strings(value["mkdir"], (*path, "mkdir"), out)
        if "interfaces" in value:
            _check_interface_list(value["interfaces"], (*path, "interfaces"), out)
        if "bindNS" in value:
            _check_namespaces(value["bindNS"], (*path, "bindNS"), out)
        if "namespace" in value and not isinstance(value["namespace"], str):
            out.append(Violation("type", (*path, "namespace"), value["namespace"], ("string",)))


def _check_pids(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key60 in value:
            if key60 not in parts.PIDS_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.PIDS_KEYS))
                break
        if "limit" in value and not parts.is_integer(value["limit"]):
            out.append(Violation("type", (*path, "limit"), value["limit"], ("integer",)))


def _check_network(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key75 in value:
            if key75 not in parts.NETWORK_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.NETWORK_KEYS))
                break
        if "classID" in value and not parts.is_integer(value["classID"]):
            out.append(Violation("type", (*path, "classID"), value["classID"], ("integer",)))
        if "priorities" in value:
            _check_interface_priority_list(value["priorities"], (*path, "priorities"), out)


def _check_interface(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key78 in value:
            if key78 not in parts.INTERFACE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.INTERFACE_KEYS))
                break
        if "name" in value and not isinstance(value["name"], str):
            out.append(Violation("type", (*path, "name"), value["name"], ("string",)))
        if "add" in value and not isinstance(value["add"], str):
            out.append(Violation("type", (*path, "add"), value["add"], ("string",)))
        if "peer" in value and not isinstance(value["peer"], str):
            out.append(Violation("type", (*path, "peer"), value["peer"], ("string",)))
        if "createInRoot" in value and not isinstance(value["createInRoot"], bool):
            out.append(Violation("type", (*path, "createInRoot"), value["createInRoot"], ("boolean",)))


def _check_interface_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index79, item80 in enumerate(value):
            _check_interface(item80, (*path, index79), out)


def _check_namespaces(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key81 in value:
            if key81 not in parts.NAMESPACES_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.NAMESPACES_KEYS))
                break
        if "cgroup" in value and not isinstance(value["cgroup"], str):
            out.append(Violation("type", (*path, "cgroup"), value["cgroup"], ("string",)))
        if "ipc" in value and not isinstance(value["ipc"], str):
            out.append(Violation("type", (*path, "ipc"), value["ipc"], ("string",)))
        if "mnt" in value and not isinstance(value["mnt"], str):
            out.append(Violation("type", (*path, "mnt"), value["mnt"], ("string",)))
        if "net" in value and not isinstance(value["net"], str):
            out.append(Violation("type", (*path, "net"), value["net"], ("string",)))
        if "pid" in value and not isinstance(value["pid"], str):
            out.append(Violation("type", (*path, "pid"), value["pid"], ("string",)))
        if "user" in value and not isinstance(value["user"], str):
            out.append(Violation("type", (*path, "user"), value["user"], ("string",)))
        if "uts" in value and not isinstance(value["uts"], str):
            out.append(Violation("type", (*path, "uts"), value["uts"], ("string",)))


def _check_interface_priority(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key88 in value:
            if key88 not in parts.INTERFACE_PRIORITY_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, parts.INTERFACE_PRIORITY_KEYS))
                break
        if "name" in value and not isinstance(value["name"], str):
            out.append(Violation("type", (*path, "name"), value["name"], ("string",)))
        if "priority" in value and not parts.is_integer(value["priority"]):
            out.append(Violation("type", (*path, "priority"), value["priority"], ("integer",)))


def _check_interface_priority_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index89, item90 in enumerate(value):
            _check_interface_priority(item90, (*path, index89), out)
