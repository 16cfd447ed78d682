"""The effective runtime config of a container: linuxkit's `ConfigToOCI`, byte for byte.

An image entry of `onboot`/`onshutdown`/`services`, the image's OCI config (whose label
`org.mobyproject.config` supplies defaults) and the build-wide id map become the container's
`config.json` and `runtime.json` (spec sections 10 to 13). Everything here is pure: the caller
reads images and configs, this package only computes.

Besides the two documents, the result records where each value came from (the YAML entry,
the image label, the image config or a built-in default) so that `show --effective` can mark
it, and which keys linuxkit silently drops (spec section 4) so that a lint rule can report them.

Modules, one job each:
    types    inputs and results (ImageConfig, Placement, Volume, ExtractionMap, Effective,
             Origin, Provenance, DroppedKey, SpecError, LABEL_KEY, OCI_VERSION)
    build    build_effective (ConfigToOCI)
    source   typed, Go-like reading of an image entry or label
    ocispec  the OCI runtime-spec Go types and their yaml.v3 decoder (imported on demand)
    label    parse_label
    ids      id_map, id_number
    volumes  visible_volumes and the rewrite of binds that name a volume
    mounts   default, tmpfs, bind and root-file-system mounts
    limits   rlimits and device modes (UNLIMITED, RLIMIT_TYPES)
    grants   what a container is granted, read from an Effective (for policy and diff)

The names below can be imported from the package itself; each is loaded from its module on
first use, so that importing one light name (e.g. `ImageConfig` for the store) does not load
the builder, and the package costs what its users use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # What mypy and readers see; at run time `__getattr__` below imports each on demand.
    from lkpolicy.stages.effective.build import build_effective as build_effective
    from lkpolicy.stages.effective.ids import id_map as id_map
    from lkpolicy.stages.effective.ids import id_number as id_number
    from lkpolicy.stages.effective.label import parse_label as parse_label
    from lkpolicy.stages.effective.limits import UNLIMITED as UNLIMITED
    from lkpolicy.stages.effective.types import LABEL_KEY as LABEL_KEY
    from lkpolicy.stages.effective.types import OCI_VERSION as OCI_VERSION
    from lkpolicy.stages.effective.types import DroppedKey as DroppedKey
    from lkpolicy.stages.effective.types import Effective as Effective
    from lkpolicy.stages.effective.types import ExtractionMap as ExtractionMap
    from lkpolicy.stages.effective.types import ImageConfig as ImageConfig
    from lkpolicy.stages.effective.types import LabelValidator as LabelValidator
    from lkpolicy.stages.effective.types import Origin as Origin
    from lkpolicy.stages.effective.types import Placement as Placement
    from lkpolicy.stages.effective.types import Provenance as Provenance
    from lkpolicy.stages.effective.types import SpecError as SpecError
    from lkpolicy.stages.effective.types import Volume as Volume
    from lkpolicy.stages.effective.volumes import visible_volumes as visible_volumes

_HOMES = {
    "build_effective": "build",
    "id_map": "ids",
    "id_number": "ids",
    "parse_label": "label",
    "UNLIMITED": "limits",
    "visible_volumes": "volumes",
    **dict.fromkeys(("LABEL_KEY", "OCI_VERSION", "DroppedKey", "Effective", "ExtractionMap",
                     "ImageConfig", "LabelValidator", "Origin", "Placement", "Provenance",
                     "SpecError", "Volume"), "types"),
}
"""Public name -> the module of this package that defines it."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    # Kept as a module attribute: the stages import these names inside functions, once per
    # container, and a name found here no longer goes through this function.
    globals()[name] = value
    return value
