"""A unit that passed the gate, as the build core's input: the images it resolved and the
container configs it judged, with the trust evidence for the build manifest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.gate.unit import GateUnit
    from lkpolicy.stages.containers import Container
    from lkpolicy.stages.images import Resolution
    from lkpolicy.stages.localfiles import LocalFile


def build_plan(unit: GateUnit) -> BuildPlan:
    """The images and container configs of a unit that passed the gate."""
    assert unit.resolution is not None
    evidence = unit.trust.evidence if unit.trust is not None else {}
    file_evidence = unit.trust.file_evidence if unit.trust is not None else []
    return plan_of(unit.resolution, unit.containers, unit.local_files, evidence, file_evidence)


def plan_of(resolution: Resolution, containers: Sequence[Container],
            files: Mapping[int, LocalFile] | None = None,
            evidence: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
            file_evidence: Sequence[Mapping[str, Any]] = ()) -> BuildPlan:
    """The build plan of a resolution and the containers computed from it; the trust
    evidence of images (by manifest digest) and of local files goes to the build manifest."""
    from lkpolicy.assemble.plan import BuildPlan, ContainerPlan
    from lkpolicy.store.lookup import Store

    if resolution.cache is None or resolution.platform is None:
        raise ValueError("a build needs the image stage: the resolution has no image cache")
    by_digest = {image.digest: name for name, image in resolution.images.items()}
    records = tuple({"image": by_digest.get(digest, ""), **item}
                    for digest, items in sorted((evidence or {}).items()) for item in items)
    records += tuple(dict(item) for item in file_evidence)
    return BuildPlan(Store(resolution.cache), resolution.platform, dict(resolution.images),
                     {(c.section, c.index): ContainerPlan(c.effective, c.error)
                      for c in containers}, dict(files or {}), records)
