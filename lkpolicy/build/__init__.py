"""linuxkit's build core: the intermediate tar stream and the outputs made from it.

`build_tar` writes the tar stream linuxkit's `Build` writes (with `--no-sbom`), from the
local image store only; `write_outputs` turns it into the `tar` and `kernel+initrd` outputs.
Both raise `BuildError` with linuxkit's messages.
"""

from lkpolicy.build.builder import BuildError, BuildOptions, BuildSummary, build_tar
from lkpolicy.build.flatten import Limits
from lkpolicy.build.outputs import SUPPORTED_FORMATS, parse_formats, write_outputs

__all__ = [
    "SUPPORTED_FORMATS",
    "BuildError",
    "BuildOptions",
    "BuildSummary",
    "Limits",
    "build_tar",
    "parse_formats",
    "write_outputs",
]
