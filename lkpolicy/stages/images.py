"""Pipeline stage: resolve every image of a config once, from the image cache.

Each reference the build will use (kernel, init, volumes, onboot, onshutdown, services) is
looked up once per run for one platform, in linuxkit's image cache (the only place the build
reads images from), and becomes a `ResolvedImage`: the root descriptor (digest, size, media
type), the manifest, the verified image config and the layers. Policy, trust, the lock and the
build all use these objects, so what passed the gate is what is built: the build never reads
the cache's index again, and every blob it reads is checked against the digests resolved here.

A pinned reference (`name:tag@sha256:D`) that the cache does not hold under its own name
resolves to the cached image of digest D, whatever its name (after `lkpolicy pin --write` the
cache still holds it under `name:tag`); `ResolvedImage.matched_by` records which way each image
was found.

An image that is missing, corrupt or made for another platform is an error here, because the
build cannot use it and the gate cannot judge the label it would bring.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.model.config import IMAGE_SECTIONS, Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.reference import ImageRef, parse_or_none
from lkpolicy.model.rules import define_rule
from lkpolicy.model.templates import template_switches, templated

if TYPE_CHECKING:
    from lkpolicy.model.oci import Platform
    from lkpolicy.stages.imagestore import CachedImages
    from lkpolicy.store.location import ImageOptions
    from lkpolicy.store.lookup import ResolvedImage

_CATEGORY = "images"

IMAGE_NOT_CACHED = define_rule(
    "LK401", "image-not-cached", "An image is not in the image cache",
    Severity.ERROR, _CATEGORY,
    "The build reads images from the image cache only, so an image that is not there cannot "
    "be built; and its `org.mobyproject.config` label, which can grant capabilities, binds and "
    "host namespaces that the YAML does not mention, cannot be judged. The gate fails closed "
    "rather than passing what it has not seen.",
    "Fill the cache first (`lkpolicy cache pull IMAGE`, `lkpolicy cache import FILE`, or "
    "`linuxkit cache pull`), or point `--cache` at the cache your build uses. To lint the YAML "
    "alone (a pre-commit hook without images), run `lkpolicy check --no-images`.",
)
IMAGE_UNREADABLE = define_rule(
    "LK404", "image-unreadable", "A cached image is corrupt or unreadable", Severity.ERROR,
    _CATEGORY,
    "Every blob is verified against its digest; a mismatch means the cache was damaged or "
    "tampered with, and the image must not be used.",
    "Remove the image from the cache (`lkpolicy cache rm IMAGE`) and pull it again.",
)
IMAGE_WRONG_PLATFORM = define_rule(
    "LK405", "image-wrong-platform", "A cached image is made for another platform",
    Severity.ERROR, _CATEGORY,
    "An image whose manifest is not an index carries one platform. linuxkit uses it whatever "
    "`--arch` says, so an arm64 build silently ships amd64 binaries that do not run. lkpolicy "
    "refuses the image instead.",
    "Pull the image for the target platform (`lkpolicy cache pull --platform linux/ARCH "
    "IMAGE`), use a multi-platform image, or build for the image's platform.",
    linuxkit="linuxkit builds the image for any `--arch` without a word; lkpolicy deviates.",
)

@dataclass(frozen=True, slots=True)
class ImageUse:
    """One place where the config names an image."""

    section: str
    """`kernel`, `init`, `volumes`, `onboot`, `onshutdown` or `services`."""
    index: int
    """Position in the merged section (0 for the kernel)."""
    node: Node
    """The reference's string node (positions for findings)."""
    text: str
    """The reference after linuxkit's template step, as the build reads it."""
    reference: ImageRef | None
    """None when the text is not a valid reference (the lint stage reports it)."""
    name: str = ""
    """The container's or volume's name."""

    @property
    def where(self) -> str:
        """`kernel`, `init[0]`, `services[2]`: the lock's `usedIn` and the build's location."""
        return "kernel" if self.section == "kernel" else f"{self.section}[{self.index}]"

    @property
    def described(self) -> str:
        """How findings name the user of the image."""
        if self.section == "kernel":
            return "the kernel"
        if self.section == "init":
            return "the init"
        return f"{self.section} `{self.name}`" if self.name else self.section


def image_uses(config: Config) -> list[ImageUse]:
    """Every image reference the build reads, in linuxkit's order, after templates."""
    switches = template_switches(config)
    uses: list[ImageUse] = []
    kernel = _kernel_image(config, switches)
    if kernel is not None:
        uses.append(_use("kernel", 0, kernel[0], kernel[1]))
    for index, node in enumerate(config.section("init")):
        value = templated(node, switches)
        if isinstance(value, str):
            uses.append(_use("init", index, node, value))
    for section in ("volumes", *IMAGE_SECTIONS):
        for index, item in enumerate(config.section(section)):
            image = item.child("image")
            if image is None or not isinstance(item.value, dict):
                continue
            value = templated(image, switches)
            if not isinstance(value, str) or not value:
                continue  # a volume without an image is empty; a container needs one (schema)
            name = templated(item, switches).get("name")
            uses.append(_use(section, index, image, value, name if isinstance(name, str) else ""))
    return uses


def _kernel_image(config: Config, switches: dict[int, bool]) -> tuple[Node, str] | None:
    # Later files override the kernel image only with a non-empty value after templates.
    chosen: tuple[Node, str] | None = None
    for block in config.kernel_blocks:
        node = block.child("image")
        if node is None:
            continue
        value = templated(node, switches)
        if isinstance(value, str) and value:
            chosen = (node, value)
    return chosen


def _use(section: str, index: int, node: Node, text: str, name: str = "") -> ImageUse:
    return ImageUse(section, index, node, text, parse_or_none(text), name)


@dataclass(slots=True)
class Resolution:
    """The images of one config, each resolved once for one platform."""

    uses: list[ImageUse]
    cache: Path | None = None
    """The image cache read; None when the image stage was skipped (`--no-images`)."""
    platform: Platform | None = None
    """The platform the images were looked up for; None when nothing was looked up (the image
    stage skipped, or no cache at all: then even the platform module need not load)."""
    images: dict[str, ResolvedImage] = field(default_factory=dict)
    """Expanded reference -> the cached image the build will use."""
    unresolved: dict[str, str] = field(default_factory=dict)
    """Expanded reference -> why it cannot be used (not cached, corrupt, other platform)."""
    findings: list[Finding] = field(default_factory=list)

    def image(self, reference: ImageRef | None) -> ResolvedImage | None:
        return self.images.get(reference.expanded) if reference is not None else None

    @property
    def complete(self) -> bool:
        """Every valid reference resolved (what a build needs)."""
        return self.cache is not None and not self.unresolved

    @property
    def digests(self) -> dict[str, str]:
        """Expanded reference -> the digest of the cached image (the root entry of the
        image cache, what `lkpolicy pin` writes)."""
        return {expanded: image.digest for expanded, image in self.images.items()}

    def uses_of(self, expanded: str) -> list[ImageUse]:
        return [use for use in self.uses
                if use.reference is not None and use.reference.expanded == expanded]


_RUN_CACHES: ContextVar[dict[Path, CachedImages] | None] = ContextVar("lkpolicy_run_caches",
                                                                      default=None)


@contextlib.contextmanager
def shared_image_caches() -> Iterator[None]:
    """Within it, `resolve_images` reads each image cache's index once and resolves each image
    once, for all the configs it judges: one gate run over many configs."""
    token = _RUN_CACHES.set({})
    try:
        yield
    finally:
        _RUN_CACHES.reset(token)


def _cached_images(cache: Path) -> CachedImages:
    from lkpolicy.stages.imagestore import CachedImages

    run = _RUN_CACHES.get()
    if run is None:
        return CachedImages(cache)
    if cache not in run:
        run[cache] = CachedImages(cache)
    return run[cache]


def resolve_images(config: Config, options: ImageOptions | None) -> Resolution:
    """Resolve every image of `config`; `options=None` skips the cache (YAML alone)."""
    resolution = Resolution(image_uses(config))
    if options is None:
        return resolution
    resolution.cache = cache = options.cache_dir()
    distinct: dict[str, ImageUse] = {}
    for use in resolution.uses:
        if use.reference is not None:
            distinct.setdefault(use.reference.expanded, use)
    if distinct and not (cache / "index.json").is_file():
        _no_cache(resolution, distinct, cache)
        return resolution
    resolution.platform = platform = options.platform()
    if not distinct:
        return resolution
    from lkpolicy.store.errors import StoreError

    images = _cached_images(cache)
    for expanded, first in distinct.items():
        related = [use.node.location for use in resolution.uses_of(expanded)[1:]]
        assert first.reference is not None
        pull = cache_command("pull", expanded, cache, platform if options.arch else None)
        try:
            image = images.lookup(first.reference, platform)
        except StoreError as error:
            _refuse(resolution, expanded, str(error), IMAGE_UNREADABLE.finding(
                f"{first.described} image `{expanded}` cannot be used: {error}",
                first.node.location, first.node.pointer, related=related,
                hint=f"run `{cache_command('rm', expanded, cache)}`, then `{pull}`"))
            continue
        if image is None:
            why = f"not in the image cache {cache} for {platform}"
            _refuse(resolution, expanded, why, IMAGE_NOT_CACHED.finding(
                f"{first.described} image `{expanded}` is {why}", first.node.location,
                first.node.pointer, related=related,
                hint=f"run `{pull}`, or pass `--cache` the image cache your build uses"))
            continue
        if image.platform is not None and not _same_platform(image.platform, platform):
            why = f"it is made for {image.platform}, not for {platform}"
            _refuse(resolution, expanded, why, IMAGE_WRONG_PLATFORM.finding(
                f"{first.described} image `{expanded}` cannot be built: {why}",
                first.node.location, first.node.pointer, related=related,
                hint=f"run `{cache_command('pull', expanded, cache, platform)}`, or build "
                     f"for {image.platform}"))
            continue
        resolution.images[expanded] = image
    return resolution


def _no_cache(resolution: Resolution, distinct: dict[str, ImageUse], cache: Path) -> None:
    """One finding for all images when there is no cache at all: the cause is one."""
    why = f"there is no image cache at {cache}"
    resolution.unresolved = dict.fromkeys(distinct, why)
    first = next(iter(distinct.values()))
    names = list(distinct)
    shown = ", ".join(f"`{name}`" for name in names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    resolution.findings.append(IMAGE_NOT_CACHED.finding(
        f"{len(names)} image(s) cannot be judged or built: {why} ({shown}{more})",
        first.node.location, first.node.pointer,
        related=[use.node.location for use in resolution.uses[1:] if use.reference is not None],
        hint=f"run `{cache_command('pull', ' '.join(names[:_LISTED]), cache)}`"
             + (f" (and the {len(names) - _LISTED} other images)" if len(names) > _LISTED else "")
             + ", or pass `--cache` the image cache your build uses (`--no-images` lints the "
               "YAML alone)"))


_LISTED = 20
"""Images named in one hint's `cache pull` command."""


def cache_command(verb: str, images: str, cache: Path, platform: Platform | None = None) -> str:
    """`lkpolicy cache VERB [--cache DIR] [--platform P] IMAGES`, naming the cache only when
    it is not the default one."""
    from lkpolicy.store.location import default_cache_dir

    words = [f"lkpolicy cache {verb}"]
    if cache != default_cache_dir():
        words.append(f"--cache {cache}")
    if platform is not None:
        words.append(f"--platform {platform}")
    words.append(images)
    return " ".join(words)


def _refuse(resolution: Resolution, expanded: str, why: str, finding: Finding) -> None:
    resolution.unresolved[expanded] = why
    resolution.findings.append(finding)


def _same_platform(found: Platform, wanted: Platform) -> bool:
    return found.os == wanted.os and found.architecture == wanted.architecture and (
        not wanted.variant or not found.variant or found.variant == wanted.variant)
