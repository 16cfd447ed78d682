"""What the build is given: the images and container configs that passed the gate.

The build core never resolves a reference and never computes a container's config itself:
both come from the gate, so what is built is exactly what was judged. Blobs are still read
from the store by digest, and every one is checked against its digest as it is read, so
content that changed under a resolved descriptor fails the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lkpolicy.model.oci import Platform
    from lkpolicy.stages.effective import Effective, SpecError
    from lkpolicy.stages.localfiles import LocalFile
    from lkpolicy.store.lookup import ResolvedImage, Store


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    effective: Effective | None
    error: SpecError | None = None
    """Why linuxkit cannot create the container (the gate reported it)."""


@dataclass(frozen=True, slots=True)
class BuildPlan:
    store: Store
    platform: Platform
    images: Mapping[str, ResolvedImage]
    """Expanded reference -> the cached image the gate resolved and judged."""
    containers: Mapping[tuple[str, int], ContainerPlan] = field(default_factory=dict)
    """(section, index) -> the container's effective config, as the gate computed it."""
    files: Mapping[int, LocalFile] = field(default_factory=dict)
    """`files` index -> the host file the gate read for its `source:`, with its sha256."""
    evidence: tuple[Mapping[str, object], ...] = ()
    """What vouched for the images (trust evidence), recorded in the build manifest."""

    @property
    def digests(self) -> dict[str, str]:
        return {name: image.digest for name, image in self.images.items()}
