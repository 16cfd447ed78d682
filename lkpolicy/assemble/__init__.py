"""linuxkit's build core: the intermediate tar stream and the outputs made from it.

`build_tar` writes the tar stream linuxkit's `Build` writes (with its SBOM when
`BuildOptions.sbom` asks for it, else as with `--no-sbom`), from the local image store only; `build_outputs`/`write_outputs` turn it into the output formats (and
a build manifest), `verify_reproducible` builds twice and compares. All raise `BuildError`
with linuxkit's messages where linuxkit has one; `FormatUnavailable` (a `BuildError`) when
the formats asked for cannot be built here, which `check_formats` tells before a build.
`FORMATS` is the table of every format linuxkit knows.
"""

from lkpolicy.assemble.builder import BuildError, BuildOptions, BuildSummary, build_tar
from lkpolicy.assemble.flatten import Limits
from lkpolicy.assemble.formats import (
    FORMATS,
    KNOWN_FORMATS,
    SUPPORTED_FORMATS,
    FormatUnavailable,
    check_formats,
    missing_tools,
    parse_formats,
)
from lkpolicy.assemble.outputs import (
    MANIFEST_SUFFIX,
    BuildResult,
    ReproducibilityReport,
    build_outputs,
    source_date_epoch,
    verify_reproducible,
    write_outputs,
)

__all__ = [
    "FORMATS",
    "KNOWN_FORMATS",
    "MANIFEST_SUFFIX",
    "SUPPORTED_FORMATS",
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "BuildSummary",
    "FormatUnavailable",
    "Limits",
    "ReproducibilityReport",
    "build_outputs",
    "build_tar",
    "check_formats",
    "missing_tools",
    "parse_formats",
    "source_date_epoch",
    "verify_reproducible",
    "write_outputs",
]
