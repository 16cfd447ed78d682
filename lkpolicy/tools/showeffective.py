"""`lkpolicy show --effective`: each container's effective config, with where each value came from."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lkpolicy.model.document import join_pointer
from lkpolicy.report.printer import sanitize

if TYPE_CHECKING:
    from lkpolicy.stages.containers import Container
    from lkpolicy.stages.effective import Provenance


def render_effective(containers: list[Container], output_format: str) -> str:
    """Each container's effective config; text output is escaped for the terminal."""
    if output_format == "json":
        missing = sorted({c.reference.expanded for c in containers
                          if c.image is None and c.reference is not None})
        return json.dumps({"missing": missing,
                           "containers": [_container_json(c) for c in containers]},
                          indent=2, ensure_ascii=False) + "\n"
    return sanitize("".join(_container_text(container) for container in containers), keep="\n")


def _title(container: Container) -> str:
    image = container.reference.expanded if container.reference else "?"
    digest = f"@{container.image.digest}" if container.image is not None and "@" not in image else ""
    return f"{container.section}[{container.index}] {container.name}: {image}{digest}"


def _container_json(container: Container) -> dict[str, Any]:
    data: dict[str, Any] = {
        "section": container.section, "index": container.index, "name": container.name,
        "image": container.reference.expanded if container.reference else None,
        "digest": container.image.digest if container.image is not None else None,
    }
    effective = container.effective
    if effective is not None:
        data["config"] = effective.config
        data["runtime"] = effective.runtime
        data["origins"] = {pointer: _origin_json(p) for pointer, p in effective.origins.items()}
        data["runtimeOrigins"] = {pointer: _origin_json(p)
                                  for pointer, p in effective.runtime_origins.items()}
    if container.error is not None:
        data["error"] = container.error.message
    return data


def _origin_json(provenance: Provenance) -> dict[str, Any]:
    return {"origin": provenance.origin.value, "pointer": provenance.pointer}


def _container_text(container: Container) -> str:
    lines = [f"# {_title(container)}"]
    effective = container.effective
    if container.error is not None:
        lines.append(f"#   linuxkit fails: {container.error.message}")
    elif effective is None:
        lines.append("#   not created: the entry does not pass the schema")
    else:
        if container.image is None:
            lines.append("#   image not resolved: from the YAML alone, without its label")
        lines.append("# config.json (a trailing `<- label` marks values the image supplied)")
        lines += _annotated(effective.config, effective.origins)
        lines.append("# runtime.json")
        lines += _annotated(effective.runtime, effective.runtime_origins)
    return "\n".join(lines) + "\n\n"


def _annotated(value: Any, origins: dict[str, Provenance]) -> list[str]:
    lines: list[str] = []
    _walk(value, "", 0, None, origins, lines, last=True)
    return lines


def _walk(value: Any, pointer: str, depth: int, key: str | None,
          origins: dict[str, Provenance], lines: list[str], *, last: bool) -> None:
    indent = "    " * depth
    prefix = f"{indent}{json.dumps(key, ensure_ascii=False)}: " if key is not None else indent
    comma = "" if last else ","
    mark = _mark(pointer, origins)
    if isinstance(value, dict) and value:
        lines.append(f"{prefix}{{{mark}")
        items = list(value.items())
        for position, (child_key, child) in enumerate(items):
            _walk(child, join_pointer(pointer, child_key), depth + 1, child_key, origins, lines,
                  last=position == len(items) - 1)
        lines.append(f"{indent}}}{comma}")
    elif isinstance(value, list) and value:
        lines.append(f"{prefix}[{mark}")
        for position, child in enumerate(value):
            _walk(child, join_pointer(pointer, position), depth + 1, None, origins, lines,
                  last=position == len(value) - 1)
        lines.append(f"{indent}]{comma}")
    else:
        lines.append(f"{prefix}{json.dumps(value, ensure_ascii=False)}{comma}{mark}")


def _mark(pointer: str, origins: dict[str, Provenance]) -> str:
    provenance = origins.get(pointer)
    if provenance is None or provenance.origin.value == "yaml":
        return ""
    source = f" {provenance.pointer}" if provenance.pointer else ""
    return f"  <- {provenance.origin.value}{source}"
