"""The values an effective config is computed from and made of.

Inputs: the image's config (`ImageConfig`), where the container goes (`Placement`), the
volumes binds may name (`Volume`), the build's record of extracted images (`ExtractionMap`).
Output: `Effective`, with a `Provenance` for each value and the `DroppedKey`s. `SpecError` is
linuxkit refusing the container.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lkpolicy.gocompat import gojson
from lkpolicy.gocompat import paths as gopath
from lkpolicy.model.document import escape_pointer_token

__all__ = [
    "DEFAULT",
    "LABEL_KEY",
    "OCI_VERSION",
    "DroppedKey",
    "Effective",
    "ExtractionMap",
    "ImageConfig",
    "LabelValidator",
    "Origin",
    "Placement",
    "Provenance",
    "SpecError",
    "Volume",
]

OCI_VERSION = "1.2.1"
LABEL_KEY = "org.mobyproject.config"

LabelValidator = Callable[[dict[str, Any]], list[str]]
"""Schema check of a label: receives what linuxkit validates, `{"services": [label]}` with a
dummy `name` and `image` inserted, and returns gojsonschema-style lines (`services.0.x: ...`);
an empty list means valid."""


class SpecError(Exception):
    """linuxkit refuses to build the container; `message` is linuxkit's text.

    `stage` tells which prefix linuxkit puts in front: "oci" (`failed to create OCI spec for
    <image>: `) or "volumes" (`failed update image <image> from volumes: `). `details` holds the
    schema error lines that linuxkit prints to stdout before "invalid configuration label".
    """

    def __init__(self, message: str, *, stage: str = "oci", details: Sequence[str] = ()) -> None:
        from lkpolicy.model.rules import clip

        message = clip(message)  # it quotes label values, which can be megabytes long
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.details = list(details)


class Origin(enum.Enum):
    YAML = "yaml"
    LABEL = "label"
    IMAGE = "image"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one value of the effective config came from."""

    origin: Origin
    key: str | None = None
    """The image-entry key (in the YAML entry or in the label) that supplied it; nested keys
    of `runtime` are written `runtime/mounts`."""
    index: int | None = None
    """The element of that key's list, for values built from one element."""

    @property
    def pointer(self) -> str | None:
        """JSON pointer of the source value relative to the image entry or the label."""
        if self.key is None:
            return None
        # `runtime/mounts` style keys name a nested field; entry keys never contain a slash.
        pointer = "".join("/" + escape_pointer_token(token) for token in self.key.split("/"))
        return pointer if self.index is None else f"{pointer}/{self.index}"


DEFAULT = Provenance(Origin.DEFAULT)
"""A built-in default of linuxkit's."""


@dataclass(frozen=True, slots=True)
class DroppedKey:
    """A schema-valid key that never reaches the container config (spec section 4)."""

    origin: Origin
    """YAML (pointer relative to the image entry) or LABEL (relative to the label)."""
    pointer: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an OCI image config that linuxkit reads."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_oci(cls, config: Mapping[str, Any] | None) -> ImageConfig:
        """From the `config` object of an image config blob (absent keys and nulls allowed)."""
        config = config or {}
        labels = config.get("Labels") or {}
        env = config.get("Env")
        return cls(
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=tuple(env) if env is not None else None,
            working_dir=config.get("WorkingDir") or "",
            labels={str(key): str(value) for key, value in labels.items()},
        )

    @classmethod
    def from_blob(cls, blob: Mapping[str, Any]) -> ImageConfig:
        """From a whole image config blob (`{"architecture": ..., "config": {...}}`)."""
        return cls.from_oci(blob.get("config"))

    @property
    def label(self) -> str:
        return self.labels.get(LABEL_KEY, "")


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    readonly: bool = False

    @property
    def merged_dir(self) -> str:
        return gopath.clean(f"/containers/volumes/{self.name}/merged")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the container goes in the image: `containers/<section>/<prefix><name>`."""

    section: str
    index: int
    name: str

    @property
    def prefix(self) -> str:
        return "" if self.section == "services" else f"{self.index:03d}-"

    @property
    def path(self) -> str:
        return gopath.join("containers", self.section, self.prefix + self.name)

    @property
    def location(self) -> str:
        """linuxkit's `LINUXKIT.location` value, e.g. `onboot[0]`."""
        return f"{self.section}[{self.index}]"

    def own_root(self, readonly: bool) -> str:
        """Where this container's image files go when it is the one extracting them."""
        return gopath.join(self.path, "rootfs" if readonly else "lower")


class ExtractionMap:
    """linuxkit extracts each image once; later containers of the same image reuse its files."""

    def __init__(self) -> None:
        self._roots: dict[str, str] = {}

    def root(self, reference: str, placement: Placement, readonly: bool) -> tuple[str, bool]:
        """(where the image's files are, whether this container is the one extracting them).

        `reference` is the expanded reference string, linuxkit's key for "same image".
        """
        known = self._roots.get(reference)
        if known is not None:
            return known, False
        root = placement.own_root(readonly)
        self._roots[reference] = root
        return root, True


@dataclass(slots=True)
class Effective:
    config: dict[str, Any]
    """config.json as ordered data (Go struct order, sorted map keys)."""
    runtime: dict[str, Any]
    """runtime.json as ordered data."""
    readonly: bool
    origins: dict[str, Provenance] = field(default_factory=dict)
    """JSON pointer in config.json -> where the value came from."""
    runtime_origins: dict[str, Provenance] = field(default_factory=dict)
    """JSON pointer in runtime.json -> where the value came from."""
    dropped: list[DroppedKey] = field(default_factory=list)
    label: dict[str, Any] | None = None
    """The parsed `org.mobyproject.config` label, if the image has one."""
    label_warnings: list[str] = field(default_factory=list)

    @property
    def config_json(self) -> bytes:
        return gojson.marshal_indent(self.config).encode("utf-8", "surrogateescape")

    @property
    def runtime_json(self) -> bytes:
        return gojson.marshal_indent(self.runtime).encode("utf-8", "surrogateescape")
