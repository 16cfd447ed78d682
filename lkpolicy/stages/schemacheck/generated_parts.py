# Generated from schemas/linuxkit.schema.json; do not edit.
# Regenerate with `python -m lkpolicy.stages.schemacheck.generate` after changing a
# keyword that validates (descriptions and titles leave this file as it is).
"""Definitions of generated.py that it imports (generated with it; see there)."""

from __future__ import annotations

from typing import Any

from lkpolicy.stages.schemacheck.violation import Path, Violation

BLOCKIO_KEYS = ("weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice")
BLOCKIO_KEYS_SET = frozenset(("weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"))
CPU_KEYS = ("shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems")
CPU_KEYS_SET = frozenset(("shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems"))
DEVICE_CGROUP_KEYS = ("allow", "type", "major", "minor", "access")
DEVICE_CGROUP_KEYS_SET = frozenset(("allow", "type", "major", "minor", "access"))
DEVICE_KEYS = ("path", "type", "major", "minor", "mode")
DEVICE_KEYS_SET = frozenset(("path", "type", "major", "minor", "mode"))
FILE_KEYS = ("path", "directory", "symlink", "contents", "source", "metadata", "optional", "mode", "uid", "gid")
FILE_KEYS_SET = frozenset(("path", "directory", "symlink", "contents", "source", "metadata", "optional", "mode", "uid", "gid"))
HUGEPAGE_LIMIT_KEYS = ("pageSize", "limit")
HUGEPAGE_LIMIT_KEYS_SET = frozenset(("pageSize", "limit"))
IDMAPPING_KEYS = ("hostID", "containerID", "size")
IDMAPPING_KEYS_SET = frozenset(("hostID", "containerID", "size"))
IMAGE_KEYS = ("name", "image", "capabilities", "capabilities.add", "ambient", "mounts", "binds", "binds.add", "devices", "tmpfs", "command", "env", "cwd", "net", "pid", "ipc", "uts", "userns", "hostname", "readonly", "maskedPaths", "readonlyPaths", "uid", "gid", "additionalGids", "noNewPrivileges", "oomScoreAdj", "rootfsPropagation", "cgroupsPath", "resources", "sysctl", "rlimits", "uidMappings", "gidMappings", "annotations", "runtime")
IMAGE_KEYS_SET = frozenset(("name", "image", "capabilities", "capabilities.add", "ambient", "mounts", "binds", "binds.add", "devices", "tmpfs", "command", "env", "cwd", "net", "pid", "ipc", "uts", "userns", "hostname", "readonly", "maskedPaths", "readonlyPaths", "uid", "gid", "additionalGids", "noNewPrivileges", "oomScoreAdj", "rootfsPropagation", "cgroupsPath", "resources", "sysctl", "rlimits", "uidMappings", "gidMappings", "annotations", "runtime"))
IMAGE_REQUIRED = ("name", "image")
INTERFACE_KEYS = ("name", "add", "peer", "createInRoot")
INTERFACE_KEYS_SET = frozenset(("name", "add", "peer", "createInRoot"))
INTERFACE_PRIORITY_KEYS = ("name", "priority")
INTERFACE_PRIORITY_KEYS_SET = frozenset(("name", "priority"))
KERNEL_KEYS = ("image", "cmdline", "binary", "tar", "ucode")
KERNEL_KEYS_SET = frozenset(("image", "cmdline", "binary", "tar", "ucode"))
MEMORY_KEYS = ("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller")
MEMORY_KEYS_SET = frozenset(("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller"))
MOUNT_KEYS = ("destination", "type", "source", "options", "uidmappings", "gidmappings")
MOUNT_KEYS_SET = frozenset(("destination", "type", "source", "options", "uidmappings", "gidmappings"))
NAMESPACES_KEYS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")
NAMESPACES_KEYS_SET = frozenset(("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"))
NETWORK_KEYS = ("classID", "priorities")
NETWORK_KEYS_SET = frozenset(("classID", "priorities"))
PIDS_KEYS = ("limit",)
PIDS_KEYS_SET = frozenset(("limit",))
RESOURCES_KEYS = ("devices", "memory", "cpu", "pids", "blockio", "hugepageLimits", "network")
RESOURCES_KEYS_SET = frozenset(("devices", "memory", "cpu", "pids", "blockio", "hugepageLimits", "network"))
ROOT_KEYS = ("kernel", "init", "onboot", "onshutdown", "services", "files", "volumes", "trust")
ROOT_KEYS_SET = frozenset(("kernel", "init", "onboot", "onshutdown", "services", "files", "volumes", "trust"))
RUNTIME_KEYS = ("cgroups", "mounts", "mkdir", "interfaces", "bindNS", "namespace")
RUNTIME_KEYS_SET = frozenset(("cgroups", "mounts", "mkdir", "interfaces", "bindNS", "namespace"))
THROTTLE_DEVICE_KEYS = ("major", "minor", "rate")
THROTTLE_DEVICE_KEYS_SET = frozenset(("major", "minor", "rate"))
TRUST_KEYS = ("image", "org")
TRUST_KEYS_SET = frozenset(("image", "org"))
VOLUME_KEYS = ("name", "image", "readonly", "format", "platforms")
VOLUME_KEYS_SET = frozenset(("name", "image", "readonly", "format", "platforms"))
VOLUME_PROPERTIES_FORMAT_ENUM = ("oci", "filesystem")
WEIGHT_DEVICE_KEYS = ("major", "minor", "weight", "leafWeight")
WEIGHT_DEVICE_KEYS_SET = frozenset(("major", "minor", "weight", "leafWeight"))


def is_integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


def check_strings(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index7, item8 in enumerate(value):
            if not isinstance(item8, str):
                out.append(Violation("type", (*path, index7), item8, ("string",)))


def check_file(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key11 in value:
            if key11 not in FILE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, FILE_KEYS))
                break
        if "path" in value and not isinstance(value["path"], str):
            out.append(Violation("type", (*path, "path"), value["path"], ("string",)))
        if "directory" in value and not isinstance(value["directory"], bool):
            out.append(Violation("type", (*path, "directory"), value["directory"], ("boolean",)))
        if "symlink" in value and not isinstance(value["symlink"], str):
            out.append(Violation("type", (*path, "symlink"), value["symlink"], ("string",)))
        if "contents" in value and not isinstance(value["contents"], str):
            out.append(Violation("type", (*path, "contents"), value["contents"], ("string",)))
        if "source" in value and not isinstance(value["source"], str):
            out.append(Violation("type", (*path, "source"), value["source"], ("string",)))
        if "metadata" in value and not isinstance(value["metadata"], str):
            out.append(Violation("type", (*path, "metadata"), value["metadata"], ("string",)))
        if "optional" in value and not isinstance(value["optional"], bool):
            out.append(Violation("type", (*path, "optional"), value["optional"], ("boolean",)))
        if "mode" in value and not isinstance(value["mode"], str):
            out.append(Violation("type", (*path, "mode"), value["mode"], ("string",)))
        if "uid" in value:
            check_id(value["uid"], (*path, "uid"), out)
        if "gid" in value:
            check_id(value["gid"], (*path, "gid"), out)


def check_file_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index12, item13 in enumerate(value):
            check_file(item13, (*path, index12), out)


def check_id(value: Any, path: Path, out: list[Violation]) -> None:
    if not (isinstance(value, str) or is_integer(value)):
        out.append(Violation("type", path, value, ("string", "integer")))


def check_mount(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key29 in value:
            if key29 not in MOUNT_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, MOUNT_KEYS))
                break
        if "destination" in value and not isinstance(value["destination"], str):
            out.append(Violation("type", (*path, "destination"), value["destination"], ("string",)))
        if "type" in value and not isinstance(value["type"], str):
            out.append(Violation("type", (*path, "type"), value["type"], ("string",)))
        if "source" in value and not isinstance(value["source"], str):
            out.append(Violation("type", (*path, "source"), value["source"], ("string",)))
        if "options" in value:
            check_strings(value["options"], (*path, "options"), out)
        if "uidmappings" in value:
            check_idmapping_list(value["uidmappings"], (*path, "uidmappings"), out)
        if "gidmappings" in value:
            check_idmapping_list(value["gidmappings"], (*path, "gidmappings"), out)


def check_mount_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index34, item35 in enumerate(value):
            check_mount(item35, (*path, index34), out)


def check_device(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key36 in value:
            if key36 not in DEVICE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, DEVICE_KEYS))
                break
        if "path" in value and not isinstance(value["path"], str):
            out.append(Violation("type", (*path, "path"), value["path"], ("string",)))
        if "type" in value and not isinstance(value["type"], str):
            out.append(Violation("type", (*path, "type"), value["type"], ("string",)))
        if "major" in value and not is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "mode" in value and not isinstance(value["mode"], str):
            out.append(Violation("type", (*path, "mode"), value["mode"], ("string",)))


def check_device_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index37, item38 in enumerate(value):
            check_device(item38, (*path, index37), out)


def check_id_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index39, item40 in enumerate(value):
            check_id(item40, (*path, index39), out)


def check_map_string(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key46 in {key46 for key46 in value}:
            if not isinstance(value[key46], str):
                out.append(Violation("type", (*path, key46), value[key46], ("string",)))


def check_idmapping(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key47 in value:
            if key47 not in IDMAPPING_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, IDMAPPING_KEYS))
                break
        if "hostID" in value and not is_integer(value["hostID"]):
            out.append(Violation("type", (*path, "hostID"), value["hostID"], ("integer",)))
        if "containerID" in value and not is_integer(value["containerID"]):
            out.append(Violation("type", (*path, "containerID"), value["containerID"], ("integer",)))
        if "size" in value and not is_integer(value["size"]):
            out.append(Violation("type", (*path, "size"), value["size"], ("integer",)))


def check_idmapping_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index48, item49 in enumerate(value):
            check_idmapping(item49, (*path, index48), out)


def check_device_cgroup(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key55 in value:
            if key55 not in DEVICE_CGROUP_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, DEVICE_CGROUP_KEYS))
                break
        if "allow" in value and not isinstance(value["allow"], bool):
            out.append(Violation("type", (*path, "allow"), value["allow"], ("boolean",)))
        if "type" in value and not isinstance(value["type"], str):
            out.append(Violation("type", (*path, "type"), value["type"], ("string",)))
        if "major" in value and not is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "access" in value and not isinstance(value["access"], str):
            out.append(Violation("type", (*path, "access"), value["access"], ("string",)))


def check_device_cgroup_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index56, item57 in enumerate(value):
            check_device_cgroup(item57, (*path, index56), out)


def check_memory(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key58 in value:
            if key58 not in MEMORY_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, MEMORY_KEYS))
                break
        if "limit" in value and not is_integer(value["limit"]):
            out.append(Violation("type", (*path, "limit"), value["limit"], ("integer",)))
        if "reservation" in value and not is_integer(value["reservation"]):
            out.append(Violation("type", (*path, "reservation"), value["reservation"], ("integer",)))
        if "swap" in value and not is_integer(value["swap"]):
            out.append(Violation("type", (*path, "swap"), value["swap"], ("integer",)))
        if "kernel" in value and not is_integer(value["kernel"]):
            out.append(Violation("type", (*path, "kernel"), value["kernel"], ("integer",)))
        if "kernelTCP" in value and not is_integer(value["kernelTCP"]):
            out.append(Violation("type", (*path, "kernelTCP"), value["kernelTCP"], ("integer",)))
        if "swappiness" in value and not is_integer(value["swappiness"]):
            out.append(Violation("type", (*path, "swappiness"), value["swappiness"], ("integer",)))
        if "disableOOMKiller" in value and not isinstance(value["disableOOMKiller"], bool):
            out.append(Violation("type", (*path, "disableOOMKiller"), value["disableOOMKiller"], ("boolean",)))


def check_cpu(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key59 in value:
            if key59 not in CPU_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, CPU_KEYS))
                break
        if "shares" in value and not is_integer(value["shares"]):
            out.append(Violation("type", (*path, "shares"), value["shares"], ("integer",)))
        if "quota" in value and not is_integer(value["quota"]):
            out.append(Violation("type", (*path, "quota"), value["quota"], ("integer",)))
        if "period" in value and not is_integer(value["period"]):
            out.append(Violation("type", (*path, "period"), value["period"], ("integer",)))
        if "realtimeRuntime" in value and not is_integer(value["realtimeRuntime"]):
            out.append(Violation("type", (*path, "realtimeRuntime"), value["realtimeRuntime"], ("integer",)))
        if "realtimePeriod" in value and not is_integer(value["realtimePeriod"]):
            out.append(Violation("type", (*path, "realtimePeriod"), value["realtimePeriod"], ("integer",)))
        if "cpus" in value and not isinstance(value["cpus"], str):
            out.append(Violation("type", (*path, "cpus"), value["cpus"], ("string",)))
        if "mems" in value and not isinstance(value["mems"], str):
            out.append(Violation("type", (*path, "mems"), value["mems"], ("string",)))


def check_blockio(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key61 in value:
            if key61 not in BLOCKIO_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, BLOCKIO_KEYS))
                break
        if "weight" in value and not is_integer(value["weight"]):
            out.append(Violation("type", (*path, "weight"), value["weight"], ("integer",)))
        if "leafWeight" in value and not is_integer(value["leafWeight"]):
            out.append(Violation("type", (*path, "leafWeight"), value["leafWeight"], ("integer",)))
        if "weightDevice" in value:
            check_weight_device_list(value["weightDevice"], (*path, "weightDevice"), out)
        if "throttleReadBpsDevice" in value:
            check_throttle_device_list(value["throttleReadBpsDevice"], (*path, "throttleReadBpsDevice"), out)
        if "throttleWriteBpsDevice" in value:
            check_throttle_device_list(value["throttleWriteBpsDevice"], (*path, "throttleWriteBpsDevice"), out)
        if "throttleReadIOPSDevice" in value:
            check_throttle_device_list(value["throttleReadIOPSDevice"], (*path, "throttleReadIOPSDevice"), out)
        if "throttleWriteIOPSDevice" in value:
            check_throttle_device_list(value["throttleWriteIOPSDevice"], (*path, "throttleWriteIOPSDevice"), out)


def check_hugepage_limit(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key72 in value:
            if key72 not in HUGEPAGE_LIMIT_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, HUGEPAGE_LIMIT_KEYS))
                break
        if "pageSize" in value and not is_integer(value["pageSize"]):
            out.append(Violation("type", (*path, "pageSize"), value["pageSize"], ("integer",)))
        if "limit" in value and not is_integer(value["limit"]):
            out.append(Violation("type", (*path, "limit"), value["limit"], ("integer",)))


def check_hugepage_limit_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index73, item74 in enumerate(value):
            check_hugepage_limit(item74, (*path, index73), out)


def check_weight_device(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key82 in value:
            if key82 not in WEIGHT_DEVICE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, WEIGHT_DEVICE_KEYS))
                break
        if "major" in value and not is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "weight" in value and not is_integer(value["weight"]):
            out.append(Violation("type", (*path, "weight"), value["weight"], ("integer",)))
        if "leafWeight" in value and not is_integer(value["leafWeight"]):
            out.append(Violation("type", (*path, "leafWeight"), value["leafWeight"], ("integer",)))


def check_weight_device_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index83, item84 in enumerate(value):
            check_weight_device(item84, (*path, index83), out)


def check_throttle_device(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key85 in value:
            if key85 not in THROTTLE_DEVICE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, THROTTLE_DEVICE_KEYS))
                break
        if "major" in value and not is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "rate" in value and not is_integer(value["rate"]):
            out.append(Violation("type", (*path, "rate"), value["rate"], ("integer",)))


def check_throttle_device_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index86, item87 in enumerate(value):
            check_throttle_device(item87, (*path, index86), out)
