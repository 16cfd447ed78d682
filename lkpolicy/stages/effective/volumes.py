"""Volumes as binds see them: which names are visible, and the rewrite of a bind's source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lkpolicy.stages.effective.types import SpecError, Volume

if TYPE_CHECKING:
    from lkpolicy.model.config import Config

__all__ = ["rewrite_volumes", "visible_volumes"]


def visible_volumes(config: Config) -> dict[str, Volume]:
    """The volumes binds can name: those of the last file only (spec section 8)."""
    if not config.documents:
        return {}
    last = config.documents[-1]
    volumes: dict[str, Volume] = {}
    for node in config.section("volumes"):
        if node.document is not last or not isinstance(node.value, dict):
            continue
        name = node.value.get("name")
        name = name if isinstance(name, str) else ""
        volumes.setdefault(name, Volume(name, node.value.get("readonly") is True))
    return volumes


def rewrite_volumes(entry: Mapping[str, Any], volumes: Mapping[str, Volume]) -> Mapping[str, Any]:
    """Volume names in binds become their merged directory (spec 11.2, `volume.go`)."""
    for index, mount in enumerate(entry.get("mounts") or ()):
        if not isinstance(mount, Mapping) or mount.get("type") != "bind":
            continue
        source = mount.get("source")
        source = source if isinstance(source, str) else ""
        if source.startswith("/"):
            continue
        volume = volumes.get(source)
        if volume is None:
            raise SpecError(f"volume {source} not found in onboot image mount {index}",
                            stage="volumes")
        options = mount.get("options") or []
        first = next((o for o in options if o in ("rw", "ro")), None)
        if volume.readonly and first != "ro":
            raise SpecError(f"volume {source} is read-only, but attempting to write into "
                            "container read-write", stage="volumes")
        # linuxkit rewrites a copy of the mount and then drops it: the source stays as written.
    rewritten = dict(entry)
    for key in ("binds", "binds.add"):
        binds = entry.get(key)
        if binds is None or not isinstance(binds, list):
            continue
        rewritten[key] = [_rewrite_bind(bind, index, volumes) if isinstance(bind, str) else bind
                          for index, bind in enumerate(binds)]
    return rewritten


def _rewrite_bind(bind: str, index: int, volumes: Mapping[str, Volume]) -> str:
    parts = bind.split(":")
    if parts[0].startswith("/"):
        return bind
    volume = volumes.get(parts[0])
    if volume is None:
        raise SpecError(f"volume {parts[0]} not found in onboot image bin {index}", stage="volumes")
    if volume.readonly and (len(parts) < 3 or parts[2] != "ro"):
        raise SpecError(f"volume {parts[0]} is read-only, but attempting to write into "
                        "container read-write", stage="volumes")
    return ":".join([volume.merged_dir, *parts[1:]])
