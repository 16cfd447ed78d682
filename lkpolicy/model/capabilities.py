"""Linux capability names as linuxkit knows them (github.com/moby/sys/capability v0.4.0)."""

from __future__ import annotations

# Kernel-number order: `all` expands to this list in this order.
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
KNOWN = frozenset(ALL_CAPABILITIES)


def special_value(capabilities: list[str]) -> str | None:
    """`all` or `none` when the list is exactly that one keyword (any case), else None."""
    if len(capabilities) == 1 and capabilities[0].lower() in ("all", "none"):
        return capabilities[0].lower()
    return None


def suggestion(name: str) -> str | None:
    """A likely intended spelling for a name linuxkit would reject."""
    upper = name.upper()
    if upper in ("CAP_ALL", "ALL"):
        return "write `all` as the only element to grant every capability"
    if upper in ("CAP_NONE", "NONE"):
        return "write `none` as the only element to drop every capability"
    if upper in KNOWN:
        return f"capability names are case-sensitive: `{upper}`"
    if "CAP_" + upper in KNOWN:
        return f"use the full name `CAP_{upper}`"
    if len(upper) > 64:  # difflib is quadratic in the length; no capability name is this long
        return None
    import difflib

    close = difflib.get_close_matches(upper, ALL_CAPABILITIES, n=1, cutoff=0.8)
    return f"did you mean `{close[0]}`?" if close else None
