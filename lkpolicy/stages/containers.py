"""Pipeline stage: every container's effective runtime config, exactly as the build writes it.

linuxkit merges each image's `org.mobyproject.config` label into the YAML entry (after the
template step) and writes the result as the container's config.json and runtime.json. Every
onboot, onshutdown and service container gets that `Effective` here, once per run: from the
entry and its resolved image, or from the entry alone when the image is not resolved (the
image stage then already failed the gate). Policy, diff, `show --effective` and the build read
only this; nothing else recomputes what a container is granted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.reference import ImageRef, parse_or_none
from lkpolicy.model.rules import define_rule
from lkpolicy.model.templates import template_switches, templated

if TYPE_CHECKING:
    from lkpolicy.stages.effective import Effective, ImageConfig, Placement, SpecError, Volume
    from lkpolicy.stages.images import Resolution
    from lkpolicy.stages.pkglabels import PackageLabel, PackageLabels
    from lkpolicy.store.lookup import ResolvedImage

_CATEGORY = "images"

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
CONTAINER_SPEC_FAILS = define_rule(
    "LK406", "container-spec-fails", "linuxkit cannot create the container's runtime config",
    Severity.ERROR, _CATEGORY,
    "linuxkit turns each container entry into an OCI config.json during the build, and some "
    "entries that pass the schema fail there (a bad uid name, an unknown device type, a bind "
    "that names no volume...). The build would stop after pulling every image.",
    "Fix the field that the message names.",
)
LABEL_READ_DIFFERENTLY = define_rule(
    "LK407", "label-read-differently", "The image label holds content that linuxkit ignores",
    Severity.WARNING, _CATEGORY,
    "linuxkit reads the label as YAML: a second document, for example, is ignored. What a "
    "reviewer of the label sees is then not what the container gets.",
    "Fix the image's label, or set the values in the YAML entry.",
)


@dataclass(slots=True)
class Container:
    """One onboot, onshutdown or service container, as the build will create it."""

    section: str
    index: int
    node: Node
    """The YAML entry (positions for findings)."""
    entry: dict[str, Any]
    """The entry after linuxkit's template step."""
    reference: ImageRef | None
    image: ResolvedImage | None = None
    effective: Effective | None = None
    error: SpecError | None = None
    """Why linuxkit cannot create the container (then `effective` is None)."""
    package: PackageLabel | None = None
    """The label from the package source of its image (`check --labels-from`), which
    replaces the label of the image in the cache, if any."""

    @property
    def name(self) -> str:
        name = self.entry.get("name")
        return name if isinstance(name, str) else ""

    @property
    def described(self) -> str:
        return f"{self.section} `{self.name}`" if self.name else self.section

    @property
    def image_node(self) -> Node:
        return self.node.child("image") or self.node


def effective_configs(config: Config, resolution: Resolution,
                      earlier: Iterable[Finding] = (), packages: PackageLabels | None = None,
                      ) -> tuple[list[Container], list[Finding]]:
    """Every container with its effective config, and the findings about them.

    `earlier` are the findings of the stages before (validation, lint): a container that
    fails for a reason they already report as an error is not reported twice, and one that
    breaks the schema gets no effective config at all (linuxkit stops at the schema, before
    any container is created). `packages` are labels from package sources (`--labels-from`)."""
    from lkpolicy.stages.effective import ExtractionMap, Placement, id_map, visible_volumes
    from lkpolicy.stages.validate import validate_data

    switches = template_switches(config)
    ids = id_map(config)
    volumes = visible_volumes(config)
    extractions = ExtractionMap()
    earlier = list(earlier)
    reported = [f.pointer for f in earlier if f.severity is Severity.ERROR]
    invalid = [f.pointer for f in earlier if f.rule_id in SCHEMA_RULES]
    containers: list[Container] = []
    findings: list[Finding] = []
    # The image stage parsed every reference already; parsing is a pure function of the text.
    parsed = {use.text: use.reference for use in resolution.uses}
    for section, index, node in config.containers():
        entry = templated(node, switches)
        if not isinstance(entry, dict):
            continue
        image = entry.get("image")
        reference = parsed[image] if isinstance(image, str) and image in parsed \
            else parse_or_none(image)
        container = Container(section, index, node, entry, reference)
        container.image = resolution.image(container.reference)
        container.package = packages.find(container.reference) if packages else None
        containers.append(container)
        if _within(node.pointer, invalid):
            continue
        placement = Placement(section, index, container.name)
        _build(container, placement, ids, volumes, extractions, validate_data)
        findings.extend(_findings(container, placement, ids, volumes, reported))
    return containers, findings


SCHEMA_RULES = frozenset({"LK201", "LK202", "LK203", "LK204"})
"""The schema's findings: an entry with one is never turned into a container config."""


def _within(pointer: str, pointers: list[str]) -> bool:
    below = pointer + "/"
    return any(p == pointer or p.startswith(below) for p in pointers)


def _build(container: Container, placement: Placement, ids: dict[str, int],
           volumes: dict[str, Volume], extractions: Any, validate: Any) -> None:
    from lkpolicy.stages.effective import SpecError, build_effective

    expanded = container.reference.expanded if container.reference is not None else None
    try:
        container.effective = build_effective(
            container.entry, image_config(container), ids, placement, extractions=extractions,
            reference=expanded, volumes=volumes, validate_label=validate)
    except SpecError as error:
        container.error = error


def image_config(container: Container) -> ImageConfig | None:
    """What the container's image gives it: the cached image's config, with the label from
    its package source when there is one."""
    from lkpolicy.stages.effective import LABEL_KEY, ImageConfig

    cached = container.image.config if container.image is not None else None
    if container.package is None:
        return cached
    labels = {**(cached.labels if cached is not None else {}),
              LABEL_KEY: container.package.text}
    return dataclasses.replace(cached, labels=labels) if cached is not None \
        else ImageConfig(labels=labels)


_LABEL_HINT = ("set the field in this entry (the YAML replaces the label's value), or fix the "
               "image's label")


def _findings(container: Container, placement: Placement, ids: dict[str, int],
              volumes: dict[str, Volume], reported: list[str]) -> list[Finding]:
    from lkpolicy.stages.effective import Origin

    image = container.image_node
    expanded = container.reference.expanded if container.reference is not None else "?"
    if container.package is not None:
        expanded += f" (from {container.package.document.path})"
    error = container.error
    if error is not None:
        details = f" ({'; '.join(error.details)})" if error.details else ""
        labelled = container.image is not None or container.package is not None
        if labelled and not _fails_alone(container, placement, ids, volumes):
            return [LABEL_BREAKS_BUILD.finding(
                f"with the label of {expanded}, linuxkit fails: {error.message}{details}",
                image.location, image.pointer, hint=_LABEL_HINT)]
        if _within(container.node.pointer, reported):
            return []  # lint already reports why this entry cannot be built
        return [CONTAINER_SPEC_FAILS.finding(
            f"linuxkit cannot create {container.described}: {error.message}{details}",
            container.node.location, container.node.pointer)]
    effective = container.effective
    assert effective is not None
    findings = [LABEL_DROPPED_KEY.finding(
        f"the label of {expanded} sets `{dropped.pointer}`, which linuxkit drops: "
        f"{dropped.reason}", image.location, image.pointer, hint=_LABEL_HINT)
        for dropped in effective.dropped if dropped.origin is Origin.LABEL]
    findings += [LABEL_READ_DIFFERENTLY.finding(
        f"the label of {expanded}: {warning}", image.location, image.pointer,
        hint=_LABEL_HINT) for warning in effective.label_warnings]
    return findings


def _fails_alone(container: Container, placement: Placement, ids: dict[str, int],
                 volumes: dict[str, Volume]) -> bool:
    """Whether the YAML entry fails the same way without the image label."""
    from lkpolicy.stages.effective import SpecError, build_effective

    assert container.error is not None
    try:
        build_effective(container.entry, None, ids, placement, volumes=volumes)
    except SpecError as plain:
        return plain.message == container.error.message
    return False
