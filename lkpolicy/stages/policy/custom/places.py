"""Where a custom finding points: the field the condition names.

1. The rule's `field:` (a variable and a path, e.g. `/config/process/noNewPrivileges`), else
   the member chains of the condition (`config.mounts`, `grants.capabilities`...): of those,
   the one that reaches deepest into the subject's data.
2. When the field is a list or map that a macro of the condition loops over, the first
   element the macro's predicate picks out (`exists`, `exists_one`, `filter`: holds; `all`:
   fails); when it is a list of strings, the element equal to a string literal of the
   condition (`'CAP_SYS_ADMIN' in grants.capabilities`).
3. The field becomes a YAML position: config.json and runtime.json fields by their provenance
   (the YAML line that sets them, or the `image:` line when the image label does), `grants`
   fields by the grant's provenance, `entry` fields and whole-config fields by their own
   position, `label` fields at the label's key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lkpolicy.model.document import escape_pointer_token
from lkpolicy.model.findings import Location
from lkpolicy.stages.policy.custom.celenv import Bound, Compiled, element_holds
from lkpolicy.stages.policy.custom.syntax import Chain

if TYPE_CHECKING:
    from lkpolicy.model.config import Config
    from lkpolicy.stages.effective import Provenance
    from lkpolicy.stages.policy.custom.model import CustomRule
    from lkpolicy.stages.policy.engine import Judge, Place, Target

__all__ = ["config_place", "container_place"]

Path = tuple[str | int, ...]


def _pointer(path: Path) -> str:
    return "".join("/" + escape_pointer_token(part) for part in path)


def _reach(value: Any, path: Path) -> tuple[Path, Any]:
    """The longest prefix of `path` that exists in `value`, and the value there."""
    reached: list[str | int] = []
    for part in path:
        if isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
            reached.append(str(part))
        elif isinstance(value, list) and str(part).isdigit() and int(part) < len(value):
            value = value[int(part)]
            reached.append(int(part))
        else:
            break
    return tuple(reached), value


def chosen_field(custom: CustomRule, bound: Bound) -> tuple[str, Path] | None:
    """The variable and path a finding of `custom` on this subject points at."""
    compiled = custom.compiled
    if custom.field is not None:
        variable, path = custom.field
        reached, _value = _reach(bound.data.get(variable), path)
        return variable, reached
    best: tuple[int, str, Path] | None = None
    for chain in compiled.shape.chains:
        reached, value = _reach(bound.data.get(chain.root), chain.path)
        if len(reached) == len(chain.path):
            reached += _element(compiled, chain, bound, value)
        if best is None or len(reached) > best[0]:
            best = (len(reached), chain.root, reached)
    return (best[1], best[2]) if best is not None else None


def _element(compiled: Compiled, chain: Chain, bound: Bound, value: Any) -> Path:
    if chain.predicate is not None and chain.variable is not None and \
            isinstance(value, list | dict):
        wanted = chain.macro != "all"
        keys: list[str | int] = list(value) if isinstance(value, dict) else list(
            range(len(value)))
        for key in keys:
            element = key if isinstance(value, dict) else value[int(key)]
            if element_holds(compiled, chain.variable, chain.predicate, bound,
                             element) is wanted:
                return (key,)
        return ()
    if isinstance(value, list):
        for literal in compiled.shape.literals:
            if literal in value:
                return (value.index(literal),)
    return ()


# -- container scope -----------------------------------------------------------------------------


def container_place(judge: Judge, target: Target, custom: CustomRule, bound: Bound) -> Place:
    from lkpolicy.stages.policy.engine import Place

    node = target.container.node
    field = chosen_field(custom, bound)
    if field is None:
        return Place(node.location, node.pointer, "")
    variable, path = field
    effective = target.container.effective
    assert effective is not None
    if variable in ("config", "runtime"):
        origins = effective.origins if variable == "config" else effective.runtime_origins
        pointer = _pointer(path)
        where = pointer if variable == "config" else ""
        return judge.place(target, _provenance(origins, pointer), effective_pointer=where)
    if variable == "grants":
        return _grants_place(judge, target, path)
    if variable == "label" and path:
        from lkpolicy.stages.effective import Origin, Provenance

        index = path[1] if len(path) > 1 and isinstance(path[1], int) else None
        return judge.place(target, Provenance(Origin.LABEL, str(path[0]), index))
    if variable == "entry" or (variable == "name" and "name" in target.container.entry):
        pointer = node.pointer + _pointer(path if variable == "entry" else ("name",))
        return Place(node.document.location(pointer), pointer, "")
    if variable == "image":
        image = target.container.image_node
        return Place(image.location, image.pointer, "")
    return Place(node.location, node.pointer, "")


def _provenance(origins: dict[str, Provenance], pointer: str) -> Provenance:
    """The provenance of a value of config.json (or runtime.json): its own, else that of the
    first value inside it, else that of the nearest value around it."""
    from lkpolicy.stages.effective.grants import DEFAULT_PROVENANCE

    if pointer in origins:
        return origins[pointer]
    below = pointer + "/"
    inside = next((origins[key] for key in origins if key.startswith(below)), None)
    if inside is not None:
        return inside
    probe = pointer
    while probe:
        probe = probe[:probe.rfind("/")]
        if probe in origins:
            return origins[probe]
    return DEFAULT_PROVENANCE


def _grants_place(judge: Judge, target: Target, path: Path) -> Place:
    from lkpolicy.stages.effective.grants import DEFAULT_PROVENANCE

    grants = target.grants
    kind = path[0] if path else ""
    index = path[1] if len(path) > 1 and isinstance(path[1], int) else 0
    if kind in ("capabilities", "ambient", "mounts", "devices", "host_namespaces"):
        lists: dict[str, list[Any]] = {
            "capabilities": list(grants.capabilities), "ambient": list(grants.ambient),
            "mounts": list(grants.mounts), "devices": list(grants.devices),
            "host_namespaces": grants.host_namespaces}
        items = lists[str(kind)]
        if items and index < len(items):
            item = items[index]
            pointer = getattr(item, "pointer", "/linux/namespaces")
            return judge.place(target, item.provenance, effective_pointer=pointer)
    if kind == "namespaces" and len(path) > 1 and str(path[1]) in grants.namespaces:
        namespace = grants.namespaces[str(path[1])]
        return judge.place(target, namespace.provenance, effective_pointer="/linux/namespaces")
    settings = {"readonly": grants.readonly, "no_new_privileges": grants.no_new_privileges,
                "rootfs_propagation": grants.rootfs_propagation, "sysctls": grants.sysctls}
    setting = settings.get(str(kind))
    if setting is not None:
        extra = str(path[1]) if kind == "sysctls" and len(path) > 1 else None
        return judge.place(target, setting.provenance, extra=extra,
                           effective_pointer=setting.pointer)
    return judge.place(target, DEFAULT_PROVENANCE)


# -- config scope --------------------------------------------------------------------------------


def config_place(config: Config, custom: CustomRule, bound: Bound) -> tuple[Location, str]:
    """The position of a whole-config field: the YAML node that holds it (nodes of merged
    files keep their own file)."""
    field = chosen_field(custom, bound)
    first = config.documents[0] if config.documents else None
    fallback = (first.location("") if first is not None else Location("config"), "")
    if field is None:
        return fallback
    variable, path = field
    if variable == "kernel":
        node = config.kernel.get(str(path[0])) if path else None
        if node is None and config.kernel_blocks:
            node = config.kernel_blocks[-1]
        return (node.location, node.pointer) if node is not None else fallback
    nodes = config.section(variable)
    if path and isinstance(path[0], int) and path[0] < len(nodes):
        node = nodes[path[0]]
        pointer = node.pointer + _pointer(path[1:])
        return node.document.location(pointer), pointer
    if nodes:
        pointer = "/" + variable
        return nodes[0].document.location(pointer, key=True), pointer
    return fallback
