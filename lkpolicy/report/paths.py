"""How file names appear in outputs read by machines that resolve them against a checkout."""

from __future__ import annotations

import os
import posixpath
from pathlib import PurePath
from urllib.parse import quote

from lkpolicy.report.fingerprint import normalize_path


def absolute_root(root: str | None) -> str:
    return os.path.abspath(root if root is not None else os.getcwd())


def relative_path(path: str, root: str | None) -> str | None:
    """`path` relative to `root` with forward slashes, or None when it lies outside the root.

    Purely lexical: resolving symlinks would make the output depend on the machine's layout.
    """
    if path == "-":
        return path
    if not os.path.isabs(path):
        return normalize_path(path)
    base = absolute_root(root)
    target = os.path.normpath(path)
    try:
        if os.path.commonpath([base, target]) != base:
            return None
    except ValueError:
        # Different drives on Windows: there is no relative path.
        return None
    return normalize_path(os.path.relpath(target, base))


def display_path(path: str, root: str | None) -> str:
    """The spelling for consumers that want a repository-relative path (GitHub annotations)."""
    relative = relative_path(path, root)
    return relative if relative is not None else normalize_path(path)


def root_uri(root: str | None) -> str:
    uri = PurePath(absolute_root(root)).as_uri()
    # SARIF requires base URIs to end with a slash, else relative resolution drops the last segment.
    return uri if uri.endswith("/") else uri + "/"


def artifact_uri(path: str, root: str | None) -> tuple[str, bool]:
    """A URI reference for `path` and whether it is relative to the source root.

    Percent-encoded, because a file name with a space or `#` is not a valid URI as it stands,
    and a leading `name:` segment would read as a URI scheme.
    """
    relative = relative_path(path, root)
    if relative is not None and not posixpath.isabs(relative):
        return quote(relative, safe="/", errors="surrogateescape"), True
    return PurePath(os.path.abspath(path)).as_uri(), False
