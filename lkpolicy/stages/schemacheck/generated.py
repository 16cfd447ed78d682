# Generated from schemas/linuxkit.schema.json; do not edit.
# Regenerate with `python -m lkpolicy.stages.schemacheck.generate` after changing a
# keyword that validates (descriptions and titles leave this file as it is).
"""The LinuxKit schema as plain checks: jsonschema's errors, in its order, without it."""

from __future__ import annotations

from typing import Any

from lkpolicy.stages.schemacheck.violation import Path, Violation

_BLOCKIO_KEYS = ("weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice")
_BLOCKIO_KEYS_SET = frozenset(("weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"))
_CPU_KEYS = ("shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems")
_CPU_KEYS_SET = frozenset(("shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems"))
_DEVICE_CGROUP_KEYS = ("allow", "type", "major", "minor", "access")
_DEVICE_CGROUP_KEYS_SET = frozenset(("allow", "type", "major", "minor", "access"))
_DEVICE_KEYS = ("path", "type", "major", "minor", "mode")
_DEVICE_KEYS_SET = frozenset(("path", "type", "major", "minor", "mode"))
_FILE_KEYS = ("path", "directory", "symlink", "contents", "source", "metadata", "optional", "mode", "uid", "gid")
_FILE_KEYS_SET = frozenset(("path", "directory", "symlink", "contents", "source", "metadata", "optional", "mode", "uid", "gid"))
_HUGEPAGE_LIMIT_KEYS = ("pageSize", "limit")
_HUGEPAGE_LIMIT_KEYS_SET = frozenset(("pageSize", "limit"))
_IDMAPPING_KEYS = ("hostID", "containerID", "size")
_IDMAPPING_KEYS_SET = frozenset(("hostID", "containerID", "size"))
_IMAGE_KEYS = ("name", "image", "capabilities", "capabilities.add", "ambient", "mounts", "binds", "binds.add", "devices", "tmpfs", "command", "env", "cwd", "net", "pid", "ipc", "uts", "userns", "hostname", "readonly", "maskedPaths", "readonlyPaths", "uid", "gid", "additionalGids", "noNewPrivileges", "oomScoreAdj", "rootfsPropagation", "cgroupsPath", "resources", "sysctl", "rlimits", "uidMappings", "gidMappings", "annotations", "runtime")
_IMAGE_KEYS_SET = frozenset(("name", "image", "capabilities", "capabilities.add", "ambient", "mounts", "binds", "binds.add", "devices", "tmpfs", "command", "env", "cwd", "net", "pid", "ipc", "uts", "userns", "hostname", "readonly", "maskedPaths", "readonlyPaths", "uid", "gid", "additionalGids", "noNewPrivileges", "oomScoreAdj", "rootfsPropagation", "cgroupsPath", "resources", "sysctl", "rlimits", "uidMappings", "gidMappings", "annotations", "runtime"))
_IMAGE_REQUIRED = ("name", "image")
_INTERFACE_KEYS = ("name", "add", "peer", "createInRoot")
_INTERFACE_KEYS_SET = frozenset(("name", "add", "peer", "createInRoot"))
_INTERFACE_PRIORITY_KEYS = ("name", "priority")
_INTERFACE_PRIORITY_KEYS_SET = frozenset(("name", "priority"))
_KERNEL_KEYS = ("image", "cmdline", "binary", "tar", "ucode")
_KERNEL_KEYS_SET = frozenset(("image", "cmdline", "binary", "tar", "ucode"))
_MEMORY_KEYS = ("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller")
_MEMORY_KEYS_SET = frozenset(("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller"))
_MOUNT_KEYS = ("destination", "type", "source", "options", "uidmappings", "gidmappings")
_MOUNT_KEYS_SET = frozenset(("destination", "type", "source", "options", "uidmappings", "gidmappings"))
_NAMESPACES_KEYS = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")
_NAMESPACES_KEYS_SET = frozenset(("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"))
_NETWORK_KEYS = ("classID", "priorities")
_NETWORK_KEYS_SET = frozenset(("classID", "priorities"))
_PIDS_KEYS = ("limit",)
_PIDS_KEYS_SET = frozenset(("limit",))
_RESOURCES_KEYS = ("devices", "memory", "cpu", "pids", "blockio", "hugepageLimits", "network")
_RESOURCES_KEYS_SET = frozenset(("devices", "memory", "cpu", "pids", "blockio", "hugepageLimits", "network"))
_ROOT_KEYS = ("kernel", "init", "onboot", "onshutdown", "services", "files", "volumes", "trust")
_ROOT_KEYS_SET = frozenset(("kernel", "init", "onboot", "onshutdown", "services", "files", "volumes", "trust"))
_RUNTIME_KEYS = ("cgroups", "mounts", "mkdir", "interfaces", "bindNS", "namespace")
_RUNTIME_KEYS_SET = frozenset(("cgroups", "mounts", "mkdir", "interfaces", "bindNS", "namespace"))
_THROTTLE_DEVICE_KEYS = ("major", "minor", "rate")
_THROTTLE_DEVICE_KEYS_SET = frozenset(("major", "minor", "rate"))
_TRUST_KEYS = ("image", "org")
_TRUST_KEYS_SET = frozenset(("image", "org"))
_VOLUME_KEYS = ("name", "image", "readonly", "format", "platforms")
_VOLUME_KEYS_SET = frozenset(("name", "image", "readonly", "format", "platforms"))
_VOLUME_PROPERTIES_FORMAT_ENUM = ("oci", "filesystem")
_WEIGHT_DEVICE_KEYS = ("major", "minor", "weight", "leafWeight")
_WEIGHT_DEVICE_KEYS_SET = frozenset(("major", "minor", "weight", "leafWeight"))


def violations(data: Any) -> list[Violation]:
    """Every schema error of `data`, as jsonschema reports them."""
    out: list[Violation] = []
    if isinstance(data, dict):
        for key1 in data:
            if key1 not in _ROOT_KEYS_SET:
                out.append(Violation("additionalProperties", (), data, _ROOT_KEYS))
                break
        if "kernel" in data:
            _check_kernel(data["kernel"], ("kernel",), out)
        if "init" in data:
            _check_strings(data["init"], ("init",), out)
        if "onboot" in data:
            _check_images(data["onboot"], ("onboot",), out)
        if "onshutdown" in data:
            _check_images(data["onshutdown"], ("onshutdown",), out)
        if "services" in data:
            _check_images(data["services"], ("services",), out)
        if "files" in data:
            _check_file_list(data["files"], ("files",), out)
        if "volumes" in data:
            _check_volume_list(data["volumes"], ("volumes",), out)
        if "trust" in data:
            _check_trust(data["trust"], ("trust",), out)
    return out


def _is_integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


def _check_kernel(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key6 in value:
            if key6 not in _KERNEL_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _KERNEL_KEYS))
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


def _check_strings(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index7, item8 in enumerate(value):
            if not isinstance(item8, str):
                out.append(Violation("type", (*path, index7), item8, ("string",)))


def _check_images(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index9, item10 in enumerate(value):
            _check_image(item10, (*path, index9), out)


def _check_file(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key11 in value:
            if key11 not in _FILE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _FILE_KEYS))
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
            _check_id(value["uid"], (*path, "uid"), out)
        if "gid" in value:
            _check_id(value["gid"], (*path, "gid"), out)


def _check_file_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index12, item13 in enumerate(value):
            _check_file(item13, (*path, index12), out)


def _check_volume(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key14 in value:
            if key14 not in _VOLUME_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _VOLUME_KEYS))
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
            _check_strings(value["platforms"], (*path, "platforms"), out)


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
            if key17 not in _TRUST_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _TRUST_KEYS))
                break
        if "image" in value:
            _check_strings(value["image"], (*path, "image"), out)
        if "org" in value:
            _check_strings(value["org"], (*path, "org"), out)


def _check_image(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key18 in value:
            if key18 not in _IMAGE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _IMAGE_KEYS))
                break
        if "name" not in value:
            out.append(Violation("required", path, value, _IMAGE_REQUIRED))
        if "image" not in value:
            out.append(Violation("required", path, value, _IMAGE_REQUIRED))
        if "name" in value and not isinstance(value["name"], str):
            out.append(Violation("type", (*path, "name"), value["name"], ("string",)))
        if "image" in value and not isinstance(value["image"], str):
            out.append(Violation("type", (*path, "image"), value["image"], ("string",)))
        if "capabilities" in value:
            _check_strings(value["capabilities"], (*path, "capabilities"), out)
        if "capabilities.add" in value:
            _check_strings(value["capabilities.add"], (*path, "capabilities.add"), out)
        if "ambient" in value:
            _check_strings(value["ambient"], (*path, "ambient"), out)
        if "mounts" in value:
            _check_mount_list(value["mounts"], (*path, "mounts"), out)
        if "binds" in value:
            _check_strings(value["binds"], (*path, "binds"), out)
        if "binds.add" in value:
            _check_strings(value["binds.add"], (*path, "binds.add"), out)
        if "devices" in value:
            _check_device_list(value["devices"], (*path, "devices"), out)
        if "tmpfs" in value:
            _check_strings(value["tmpfs"], (*path, "tmpfs"), out)
        if "command" in value:
            _check_strings(value["command"], (*path, "command"), out)
        if "env" in value:
            _check_strings(value["env"], (*path, "env"), out)
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
            _check_strings(value["maskedPaths"], (*path, "maskedPaths"), out)
        if "readonlyPaths" in value:
            _check_strings(value["readonlyPaths"], (*path, "readonlyPaths"), out)
        if "uid" in value:
            _check_id(value["uid"], (*path, "uid"), out)
        if "gid" in value:
            _check_id(value["gid"], (*path, "gid"), out)
        if "additionalGids" in value:
            _check_id_list(value["additionalGids"], (*path, "additionalGids"), out)
        if "noNewPrivileges" in value and not isinstance(value["noNewPrivileges"], bool):
            out.append(Violation("type", (*path, "noNewPrivileges"), value["noNewPrivileges"], ("boolean",)))
        if "oomScoreAdj" in value and not _is_integer(value["oomScoreAdj"]):
            out.append(Violation("type", (*path, "oomScoreAdj"), value["oomScoreAdj"], ("integer",)))
        if "rootfsPropagation" in value and not isinstance(value["rootfsPropagation"], str):
            out.append(Violation("type", (*path, "rootfsPropagation"), value["rootfsPropagation"], ("string",)))
        if "cgroupsPath" in value and not isinstance(value["cgroupsPath"], str):
            out.append(Violation("type", (*path, "cgroupsPath"), value["cgroupsPath"], ("string",)))
        if "resources" in value:
            _check_resources(value["resources"], (*path, "resources"), out)
        if "sysctl" in value:
            _check_map_string(value["sysctl"], (*path, "sysctl"), out)
        if "rlimits" in value:
            _check_strings(value["rlimits"], (*path, "rlimits"), out)
        if "uidMappings" in value:
            _check_idmapping_list(value["uidMappings"], (*path, "uidMappings"), out)
        if "gidMappings" in value:
            _check_idmapping_list(value["gidMappings"], (*path, "gidMappings"), out)
        if "annotations" in value:
            _check_map_string(value["annotations"], (*path, "annotations"), out)
        if "runtime" in value:
            _check_runtime(value["runtime"], (*path, "runtime"), out)


def _check_id(value: Any, path: Path, out: list[Violation]) -> None:
    if not (isinstance(value, str) or _is_integer(value)):
        out.append(Violation("type", path, value, ("string", "integer")))


def _check_volume_properties_format(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, str):
        out.append(Violation("type", path, value, ("string",)))
    if not (isinstance(value, str) and value in _VOLUME_PROPERTIES_FORMAT_ENUM):
        out.append(Violation("enum", path, value, _VOLUME_PROPERTIES_FORMAT_ENUM))


def _check_mount(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key29 in value:
            if key29 not in _MOUNT_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _MOUNT_KEYS))
                break
        if "destination" in value and not isinstance(value["destination"], str):
            out.append(Violation("type", (*path, "destination"), value["destination"], ("string",)))
        if "type" in value and not isinstance(value["type"], str):
            out.append(Violation("type", (*path, "type"), value["type"], ("string",)))
        if "source" in value and not isinstance(value["source"], str):
            out.append(Violation("type", (*path, "source"), value["source"], ("string",)))
        if "options" in value:
            _check_strings(value["options"], (*path, "options"), out)
        if "uidmappings" in value:
            _check_idmapping_list(value["uidmappings"], (*path, "uidmappings"), out)
        if "gidmappings" in value:
            _check_idmapping_list(value["gidmappings"], (*path, "gidmappings"), out)


def _check_mount_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index34, item35 in enumerate(value):
            _check_mount(item35, (*path, index34), out)


def _check_device(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key36 in value:
            if key36 not in _DEVICE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _DEVICE_KEYS))
                break
        if "path" in value and not isinstance(value["path"], str):
            out.append(Violation("type", (*path, "path"), value["path"], ("string",)))
        if "type" in value and not isinstance(value["type"], str):
            out.append(Violation("type", (*path, "type"), value["type"], ("string",)))
        if "major" in value and not _is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not _is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "mode" in value and not isinstance(value["mode"], str):
            out.append(Violation("type", (*path, "mode"), value["mode"], ("string",)))


def _check_device_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index37, item38 in enumerate(value):
            _check_device(item38, (*path, index37), out)


def _check_id_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index39, item40 in enumerate(value):
            _check_id(item40, (*path, index39), out)


def _check_resources(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key41 in value:
            if key41 not in _RESOURCES_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _RESOURCES_KEYS))
                break
        if "devices" in value:
            _check_device_cgroup_list(value["devices"], (*path, "devices"), out)
        if "memory" in value:
            _check_memory(value["memory"], (*path, "memory"), out)
        if "cpu" in value:
            _check_cpu(value["cpu"], (*path, "cpu"), out)
        if "pids" in value:
            _check_pids(value["pids"], (*path, "pids"), out)
        if "blockio" in value:
            _check_blockio(value["blockio"], (*path, "blockio"), out)
        if "hugepageLimits" in value:
            _check_hugepage_limit_list(value["hugepageLimits"], (*path, "hugepageLimits"), out)
        if "network" in value:
            _check_network(value["network"], (*path, "network"), out)


def _check_map_string(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key46 in {key46 for key46 in value}:
            if not isinstance(value[key46], str):
                out.append(Violation("type", (*path, key46), value[key46], ("string",)))


def _check_idmapping(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key47 in value:
            if key47 not in _IDMAPPING_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _IDMAPPING_KEYS))
                break
        if "hostID" in value and not _is_integer(value["hostID"]):
            out.append(Violation("type", (*path, "hostID"), value["hostID"], ("integer",)))
        if "containerID" in value and not _is_integer(value["containerID"]):
            out.append(Violation("type", (*path, "containerID"), value["containerID"], ("integer",)))
        if "size" in value and not _is_integer(value["size"]):
            out.append(Violation("type", (*path, "size"), value["size"], ("integer",)))


def _check_idmapping_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index48, item49 in enumerate(value):
            _check_idmapping(item49, (*path, index48), out)


def _check_runtime(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key50 in value:
            if key50 not in _RUNTIME_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _RUNTIME_KEYS))
                break
        if "cgroups" in value:
            _check_strings(value["cgroups"], (*path, "cgroups"), out)
        if "mounts" in value:
            _check_mount_list(value["mounts"], (*path, "mounts"), out)
        if "mkdir" in value:
            _check_strings(value["mkdir"], (*path, "mkdir"), out)
        if "interfaces" in value:
            _check_interface_list(value["interfaces"], (*path, "interfaces"), out)
        if "bindNS" in value:
            _check_namespaces(value["bindNS"], (*path, "bindNS"), out)
        if "namespace" in value and not isinstance(value["namespace"], str):
            out.append(Violation("type", (*path, "namespace"), value["namespace"], ("string",)))


def _check_device_cgroup(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key55 in value:
            if key55 not in _DEVICE_CGROUP_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _DEVICE_CGROUP_KEYS))
                break
        if "allow" in value and not isinstance(value["allow"], bool):
            out.append(Violation("type", (*path, "allow"), value["allow"], ("boolean",)))
        if "type" in value and not isinstance(value["type"], str):
            out.append(Violation("type", (*path, "type"), value["type"], ("string",)))
        if "major" in value and not _is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not _is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "access" in value and not isinstance(value["access"], str):
            out.append(Violation("type", (*path, "access"), value["access"], ("string",)))


def _check_device_cgroup_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index56, item57 in enumerate(value):
            _check_device_cgroup(item57, (*path, index56), out)


def _check_memory(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key58 in value:
            if key58 not in _MEMORY_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _MEMORY_KEYS))
                break
        if "limit" in value and not _is_integer(value["limit"]):
            out.append(Violation("type", (*path, "limit"), value["limit"], ("integer",)))
        if "reservation" in value and not _is_integer(value["reservation"]):
            out.append(Violation("type", (*path, "reservation"), value["reservation"], ("integer",)))
        if "swap" in value and not _is_integer(value["swap"]):
            out.append(Violation("type", (*path, "swap"), value["swap"], ("integer",)))
        if "kernel" in value and not _is_integer(value["kernel"]):
            out.append(Violation("type", (*path, "kernel"), value["kernel"], ("integer",)))
        if "kernelTCP" in value and not _is_integer(value["kernelTCP"]):
            out.append(Violation("type", (*path, "kernelTCP"), value["kernelTCP"], ("integer",)))
        if "swappiness" in value and not _is_integer(value["swappiness"]):
            out.append(Violation("type", (*path, "swappiness"), value["swappiness"], ("integer",)))
        if "disableOOMKiller" in value and not isinstance(value["disableOOMKiller"], bool):
            out.append(Violation("type", (*path, "disableOOMKiller"), value["disableOOMKiller"], ("boolean",)))


def _check_cpu(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key59 in value:
            if key59 not in _CPU_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _CPU_KEYS))
                break
        if "shares" in value and not _is_integer(value["shares"]):
            out.append(Violation("type", (*path, "shares"), value["shares"], ("integer",)))
        if "quota" in value and not _is_integer(value["quota"]):
            out.append(Violation("type", (*path, "quota"), value["quota"], ("integer",)))
        if "period" in value and not _is_integer(value["period"]):
            out.append(Violation("type", (*path, "period"), value["period"], ("integer",)))
        if "realtimeRuntime" in value and not _is_integer(value["realtimeRuntime"]):
            out.append(Violation("type", (*path, "realtimeRuntime"), value["realtimeRuntime"], ("integer",)))
        if "realtimePeriod" in value and not _is_integer(value["realtimePeriod"]):
            out.append(Violation("type", (*path, "realtimePeriod"), value["realtimePeriod"], ("integer",)))
        if "cpus" in value and not isinstance(value["cpus"], str):
            out.append(Violation("type", (*path, "cpus"), value["cpus"], ("string",)))
        if "mems" in value and not isinstance(value["mems"], str):
            out.append(Violation("type", (*path, "mems"), value["mems"], ("string",)))


def _check_pids(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key60 in value:
            if key60 not in _PIDS_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _PIDS_KEYS))
                break
        if "limit" in value and not _is_integer(value["limit"]):
            out.append(Violation("type", (*path, "limit"), value["limit"], ("integer",)))


def _check_blockio(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key61 in value:
            if key61 not in _BLOCKIO_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _BLOCKIO_KEYS))
                break
        if "weight" in value and not _is_integer(value["weight"]):
            out.append(Violation("type", (*path, "weight"), value["weight"], ("integer",)))
        if "leafWeight" in value and not _is_integer(value["leafWeight"]):
            out.append(Violation("type", (*path, "leafWeight"), value["leafWeight"], ("integer",)))
        if "weightDevice" in value:
            _check_weight_device_list(value["weightDevice"], (*path, "weightDevice"), out)
        if "throttleReadBpsDevice" in value:
            _check_throttle_device_list(value["throttleReadBpsDevice"], (*path, "throttleReadBpsDevice"), out)
        if "throttleWriteBpsDevice" in value:
            _check_throttle_device_list(value["throttleWriteBpsDevice"], (*path, "throttleWriteBpsDevice"), out)
        if "throttleReadIOPSDevice" in value:
            _check_throttle_device_list(value["throttleReadIOPSDevice"], (*path, "throttleReadIOPSDevice"), out)
        if "throttleWriteIOPSDevice" in value:
            _check_throttle_device_list(value["throttleWriteIOPSDevice"], (*path, "throttleWriteIOPSDevice"), out)


def _check_hugepage_limit(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key72 in value:
            if key72 not in _HUGEPAGE_LIMIT_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _HUGEPAGE_LIMIT_KEYS))
                break
        if "pageSize" in value and not _is_integer(value["pageSize"]):
            out.append(Violation("type", (*path, "pageSize"), value["pageSize"], ("integer",)))
        if "limit" in value and not _is_integer(value["limit"]):
            out.append(Violation("type", (*path, "limit"), value["limit"], ("integer",)))


def _check_hugepage_limit_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index73, item74 in enumerate(value):
            _check_hugepage_limit(item74, (*path, index73), out)


def _check_network(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key75 in value:
            if key75 not in _NETWORK_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _NETWORK_KEYS))
                break
        if "classID" in value and not _is_integer(value["classID"]):
            out.append(Violation("type", (*path, "classID"), value["classID"], ("integer",)))
        if "priorities" in value:
            _check_interface_priority_list(value["priorities"], (*path, "priorities"), out)


def _check_interface(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key78 in value:
            if key78 not in _INTERFACE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _INTERFACE_KEYS))
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
            if key81 not in _NAMESPACES_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _NAMESPACES_KEYS))
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


def _check_weight_device(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key82 in value:
            if key82 not in _WEIGHT_DEVICE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _WEIGHT_DEVICE_KEYS))
                break
        if "major" in value and not _is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not _is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "weight" in value and not _is_integer(value["weight"]):
            out.append(Violation("type", (*path, "weight"), value["weight"], ("integer",)))
        if "leafWeight" in value and not _is_integer(value["leafWeight"]):
            out.append(Violation("type", (*path, "leafWeight"), value["leafWeight"], ("integer",)))


def _check_weight_device_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index83, item84 in enumerate(value):
            _check_weight_device(item84, (*path, index83), out)


def _check_throttle_device(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key85 in value:
            if key85 not in _THROTTLE_DEVICE_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _THROTTLE_DEVICE_KEYS))
                break
        if "major" in value and not _is_integer(value["major"]):
            out.append(Violation("type", (*path, "major"), value["major"], ("integer",)))
        if "minor" in value and not _is_integer(value["minor"]):
            out.append(Violation("type", (*path, "minor"), value["minor"], ("integer",)))
        if "rate" in value and not _is_integer(value["rate"]):
            out.append(Violation("type", (*path, "rate"), value["rate"], ("integer",)))


def _check_throttle_device_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index86, item87 in enumerate(value):
            _check_throttle_device(item87, (*path, index86), out)


def _check_interface_priority(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation("type", path, value, ("object",)))
    else:
        for key88 in value:
            if key88 not in _INTERFACE_PRIORITY_KEYS_SET:
                out.append(Violation("additionalProperties", path, value, _INTERFACE_PRIORITY_KEYS))
                break
        if "name" in value and not isinstance(value["name"], str):
            out.append(Violation("type", (*path, "name"), value["name"], ("string",)))
        if "priority" in value and not _is_integer(value["priority"]):
            out.append(Violation("type", (*path, "priority"), value["priority"], ("integer",)))


def _check_interface_priority_list(value: Any, path: Path, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation("type", path, value, ("array",)))
    else:
        for index89, item90 in enumerate(value):
            _check_interface_priority(item90, (*path, index89), out)
