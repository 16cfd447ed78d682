"""User and group ids: linuxkit numbers containers by name and resolves `uid`/`gid` with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lkpolicy.stages.effective.types import SpecError

if TYPE_CHECKING:
    from lkpolicy.model.config import Config

__all__ = ["id_map", "id_number"]

_UINT32 = 2**32
"""Go converts the id to a uint32: a negative or large number wraps."""


def id_map(config: Config) -> dict[str, int]:
    """Container name -> uid/gid number (spec 11.5): 100 upwards; a repeated name keeps the last."""
    ids: dict[str, int] = {}
    number = 100
    for _section, _index, node in config.containers():
        name = node.value.get("name") if isinstance(node.value, dict) else None
        ids[name if isinstance(name, str) else ""] = number
        number += 1
    return ids


def id_number(value: Any, ids: Mapping[str, int]) -> int:
    """linuxkit's `IDNumeric` for uid, gid, additionalGids and file owners."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise SpecError("bad type for uid or gid")
    if isinstance(value, int):
        # yaml.v3 yields a Go int only within int64; larger values are another Go type.
        if not -(2**63) <= value < 2**63:
            raise SpecError("bad type for uid or gid")
        return value % _UINT32
    if isinstance(value, str):
        if value in ("", "root"):
            return 0
        if value in ids:
            return ids[value] % _UINT32
        raise SpecError(f"cannot find id: {value}")
    raise SpecError("bad type for uid or gid")
