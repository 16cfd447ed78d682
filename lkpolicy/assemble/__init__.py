"""linuxkit's build core: the intermediate tar stream and the outputs made from it.

`build_tar` writes the tar stream linuxkit's `Build` writes (with `--no-sbom`), from the
local image store only; `build_outputs`/`write_outputs` turn it into the output formats (and
a build manifest), `verify_reproducible` builds twice and compares. All raise `BuildError`
with linuxkit's messages where linuxkit has one.
"""

from lkpolicy.assemble.builder import BuildError, BuildOptions, BuildSummary, build_tar
from lkpolicy.assemble.flatten import Limits
from lkpolicy.assemble.media import missing_tools
from lkpolicy.assemble.outputs import (
    MANIFEST_SUFFIX,
    SUPPORTED_FORMATS,
    BuildResult,
    ReproducibilityReport,
    build_outputs,
    parse_formats,
    source_date_epoch,
    verify_reproducible,
    write_outputs,
)

__all__ = [
    "MANIFEST_SUFFIX",
    "SUPPORTED_FORMATS",
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "BuildSummary",
    "Limits",
    "ReproducibilityReport",
    "build_outputs",
    "build_tar",
    "missing_tools",
    "parse_formats",
    "source_date_epoch",
    "verify_reproducible",
    "write_outputs",
]
