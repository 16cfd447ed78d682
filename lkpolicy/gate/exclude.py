"""Which configs a run leaves out: the `exclude` patterns of `check` (`--exclude`, or the
`check:` section of the policy file or `[tool.lkpolicy]` in pyproject.toml).

The patterns apply to the files found by walking a directory given on the command line; a file
named explicitly is checked anyway unless `--force-exclude` is given (as ruff does, so that
pre-commit, which names each changed file, can honour them too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePath

MAX_PATTERNS = 1000
"""More patterns than any repository needs; a bound on the work per walked file."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Glob patterns (`*`, `?`, `[...]`, matched case-sensitively; `*` also matches `/`).

    A pattern without `/` is matched against the name of the file and of each directory on
    its way (`vendor`, `*.tmpl.yml`). A pattern with `/` is matched against the path relative
    to `base` and against each of its leading directories (`examples/legacy`,
    `linuxkit/*/old.yml`); a leading `./` and a trailing `/` are ignored."""

    patterns: tuple[str, ...]
    base: str
    """The absolute directory that patterns with `/` are relative to: that of the file that set
    them, or the working directory for `--exclude`."""

    def excludes(self, path: str, walked_from: str | None = None) -> bool:
        """Whether `path` is left out; `walked_from` is the directory argument whose walk
        found it (outside `base`, only the names below it count, not those of its parents)."""
        absolute = os.path.abspath(path)
        relative = os.path.relpath(absolute, self.base)
        inside = relative != os.pardir and not relative.startswith(os.pardir + os.sep)
        if inside:
            parts = PurePath(relative).parts
        elif walked_from is not None:
            parts = PurePath(os.path.relpath(absolute, os.path.abspath(walked_from))).parts
        else:
            parts = (os.path.basename(absolute),)
        prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)] if inside else []
        for pattern in self.patterns:
            shape = pattern.removeprefix("./").rstrip("/")
            if "/" in shape:
                if any(fnmatchcase(prefix, shape) for prefix in prefixes):
                    return True
            elif any(fnmatchcase(name, shape) for name in parts):
                return True
        return False


def exclusion(patterns: list[str] | None, base: str) -> Exclusion | None:
    """The patterns (each a glob, or several separated by commas) relative to `base`; None
    when there are none. Raises ValueError for more than `MAX_PATTERNS`."""
    chosen = tuple(part.strip() for value in patterns or [] for part in value.split(",")
                   if part.strip())
    if len(chosen) > MAX_PATTERNS:
        raise ValueError(f"more than {MAX_PATTERNS} exclude patterns")
    return Exclusion(chosen, os.path.abspath(base)) if chosen else None
