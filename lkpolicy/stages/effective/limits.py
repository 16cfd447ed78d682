"""Numbers linuxkit parses out of strings: `rlimits` entries and device modes."""

from __future__ import annotations

from typing import Any

from lkpolicy.gocompat.numbers import NumError, parse_int, parse_uint
from lkpolicy.stages.effective.types import SpecError

__all__ = ["RLIMIT_TYPES", "UNLIMITED", "parse_device_mode", "parse_rlimit"]

UNLIMITED = 2**64 - 1
"""An rlimit of `unlimited`."""
RLIMIT_TYPES = frozenset({
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
})
"""The rlimit names linuxkit knows."""
_UINT32 = 2**32


def parse_rlimit(text: str, all_texts: list[str]) -> dict[str, Any]:
    """One `rlimits` entry, `<name>,<soft>,<hard>`, as config.json's `{type, hard, soft}`.

    `all_texts` are the container's entries, which linuxkit's message lists.
    """
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise SpecError(f"cannot parse rlimit: [{' '.join(all_texts)}]")
    name = parts[0].strip().upper()
    if not name.startswith("RLIMIT_"):
        name = "RLIMIT_" + name
    soft = _rlimit_value(parts[1].strip())
    hard = _rlimit_value(parts[2].strip())
    if name not in RLIMIT_TYPES:
        # linuxkit prints a variable that is never assigned: the name is always empty.
        raise SpecError("unknown limit: ")
    return {"type": name, "hard": hard, "soft": soft}


def _rlimit_value(text: str) -> int:
    if text.lower() == "unlimited":
        return UNLIMITED
    try:
        return parse_uint(text, 10, 64)
    except NumError as error:
        raise SpecError(f"cannot parse {text} as uint64: {error}") from None


def parse_device_mode(text: str) -> int:
    """A device's `mode`: octal, signed 32 bits, as the uint32 `os.FileMode` (so -1 wraps)."""
    try:
        value = parse_int(text, 8, 32)
    except NumError as error:
        raise SpecError(f"cannot parse device mode as octal value: {error}") from None
    return value % _UINT32
