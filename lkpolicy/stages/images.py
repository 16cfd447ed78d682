"""Pipeline stage: resolve each container's image and compute its effective runtime config.

linuxkit merges every image's `org.mobyproject.config` label into the YAML, so what runs is
only known once the images are at hand. Images come from the local store (linuxkit's cache);
when they are not there, the stage says so in one finding instead of passing silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.reference import ImageRef, ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.model.rules import define_rule
from lkpolicy.store.location import ImageOptions

if TYPE_CHECKING:
    from lkpolicy.stages.effective import Effective, Placement, SpecError, Volume
    from lkpolicy.store.lookup import ResolvedImage

_CATEGORY = "images"

IMAGES_UNAVAILABLE = define_rule(
    "LK401", "images-not-available", "Images are not in the cache: judged from the YAML alone",
    Severity.WARNING, _CATEGORY,
    "An image's `org.mobyproject.config` label can grant capabilities, binds and host namespaces "
    "that the YAML does not mention. Without the image, lkpolicy can only judge what the YAML "
    "says, and says so rather than passing silently.",
    "Fill the cache first (`lkpolicy cache pull IMAGE`, `lkpolicy cache import FILE`, or "
    "`linuxkit cache pull`), or point `--cache` at the cache your build uses.",
)
LABEL_BREAKS_BUILD = define_rule(
    "LK402", "label-breaks-build", "The image label makes linuxkit fail to build the container",
    Severity.ERROR, _CATEGORY,
    "linuxkit merges the image label with the YAML when it builds. An invalid label, or a label "
    "value that does not combine with the YAML (an unknown capability, a bad bind, a uid name "
    "that no container has), fails the build after every image was pulled.",
    "Override the offending field in the YAML entry, or fix the image's label.",
)
LABEL_DROPPED_KEY = define_rule(
    "LK403", "label-dropped-key", "A key in the image label is silently dropped",
    Severity.WARNING, _CATEGORY,
    "Multi-word keys under `resources` and id mappings pass the schema but are dropped when "
    "linuxkit decodes them (see LK302); in a label, nobody reviewing the YAML sees them.",
    "Set the value in the YAML, or fix the image's label.",
)
IMAGE_UNREADABLE = define_rule(
    "LK404", "image-unreadable", "A cached image is corrupt or unreadable", Severity.ERROR,
    _CATEGORY,
    "Every blob is verified against its digest; a mismatch means the cache was damaged or "
    "tampered with, and the image must not be used.",
    "Remove the image from the cache (`lkpolicy cache rm IMAGE`) and pull it again.",
)


@dataclass(slots=True)
class Container:
    section: str
    index: int
    node: Node
    reference: ImageRef | None
    image: ResolvedImage | None = None
    effective: Effective | None = None
    error: SpecError | None = None

    @property
    def name(self) -> str:
        name = self.node.value.get("name")
        return name if isinstance(name, str) else ""


@dataclass(slots=True)
class ImageStage:
    containers: list[Container] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Expanded references that are not in the cache."""
    findings: list[Finding] = field(default_factory=list)
    cache: Path | None = None


def resolve_images(config: Config, options: ImageOptions) -> ImageStage:
    cache = options.cache_dir()
    stage = ImageStage(cache=cache)
    containers = [Container(section, index, node, _reference(node))
                  for section, index, node in config.containers() if isinstance(node.value, dict)]
    stage.containers = containers
    if not containers:
        return stage
    if not (cache / "index.json").is_file():
        stage.missing = sorted({c.reference.expanded for c in containers if c.reference})
        stage.findings.append(_unavailable(config, stage, f"no image cache at {cache}"))
        return stage

    from lkpolicy.model.oci import Platform
    from lkpolicy.store.errors import StoreError
    from lkpolicy.store.location import host_platform
    from lkpolicy.store.lookup import Store

    store = Store(cache)
    platform = Platform("linux", options.arch) if options.arch else host_platform()
    seen: dict[str, ResolvedImage | None] = {}
    for container in containers:
        reference = container.reference
        if reference is None:
            continue
        key = reference.expanded
        if key not in seen:
            try:
                seen[key] = store.lookup(reference, platform)
            except StoreError as error:
                seen[key] = None
                stage.findings.append(IMAGE_UNREADABLE.finding(
                    str(error), _image_location(container), container.node.pointer + "/image"))
        container.image = seen[key]
        if container.image is None and key not in stage.missing:
            stage.missing.append(key)
    if stage.missing:
        stage.findings.append(_unavailable(config, stage, f"not in the cache {cache}"))
    _compute_effective(config, stage)
    return stage


def _compute_effective(config: Config, stage: ImageStage) -> None:
    from lkpolicy.stages.effective import (
        ExtractionMap,
        Origin,
        Placement,
        SpecError,
        build_effective,
        id_map,
        visible_volumes,
    )
    from lkpolicy.stages.validate import validate_data

    ids = id_map(config)
    volumes = visible_volumes(config)
    extractions = ExtractionMap()
    for container in stage.containers:
        if container.image is None or container.reference is None:
            continue
        entry = container.node.value
        placement = Placement(container.section, container.index, container.name)
        try:
            container.effective = build_effective(
                entry, container.image.config, ids, placement, extractions=extractions,
                reference=container.reference.expanded, volumes=volumes,
                validate_label=validate_data)
        except SpecError as error:
            container.error = error
            if _fails_without_label(entry, ids, placement, volumes, error):
                continue  # the YAML alone fails the same way: the lint stage reports it
            details = f" ({'; '.join(error.details)})" if error.details else ""
            stage.findings.append(LABEL_BREAKS_BUILD.finding(
                f"with the label of {container.reference.expanded}, linuxkit fails: "
                f"{error.message}{details}", container.node.location, container.node.pointer))
            continue
        for dropped in container.effective.dropped:
            if dropped.origin is Origin.LABEL:
                stage.findings.append(LABEL_DROPPED_KEY.finding(
                    f"the label of {container.reference.expanded} sets `{dropped.pointer}`, "
                    f"which linuxkit drops: {dropped.reason}", container.node.location,
                    container.node.pointer))


def _fails_without_label(entry: dict[str, Any], ids: dict[str, int], placement: Placement,
                         volumes: dict[str, Volume], error: SpecError) -> bool:
    from lkpolicy.stages.effective import SpecError, build_effective

    try:
        build_effective(entry, None, ids, placement, volumes=volumes)
    except SpecError as plain:
        return plain.message == error.message
    return False


def _reference(node: Node) -> ImageRef | None:
    image = node.value.get("image")
    if not isinstance(image, str):
        return None
    try:
        return parse_reference(image)
    except ReferenceError:
        return None


def _image_location(container: Container) -> Location:
    child = container.node.child("image")
    return child.location if child is not None else container.node.location


def _unavailable(config: Config, stage: ImageStage, why: str) -> Finding:
    count = len(stage.missing)
    shown = ", ".join(stage.missing[:3]) + (f" and {count - 3} more" if count > 3 else "")
    first = next((c for c in stage.containers
                  if c.reference is not None and c.reference.expanded in stage.missing), None)
    location = _image_location(first) if first else Location(config.documents[0].path, 1, 1)
    pointer = first.node.pointer + "/image" if first else ""
    return IMAGES_UNAVAILABLE.finding(
        f"{count} image(s) not available ({why}): {shown}; their labels are not merged, so the "
        "effective config is judged from the YAML alone", location, pointer)
