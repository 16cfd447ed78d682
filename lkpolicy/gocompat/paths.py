"""Go's `path` package: slash-separated paths (`path/filepath` is the same on Linux).

linuxkit names every entry of its tar streams and every container directory with these
functions, and their answers differ from `posixpath` in small ways (`Join` drops empty
elements and returns "" for none, `Clean` turns a leading `//` into `/`, `Dir` cleans).
"""

from __future__ import annotations

__all__ = ["base_name", "clean", "dir_name", "escapes_root", "join", "rel", "split"]


def clean(path: str) -> str:
    """`path.Clean`: the shortest equivalent path, lexically ("" becomes ".")."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(segment)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def join(*elements: str) -> str:
    """`path.Join`: the non-empty elements joined with `/` and cleaned; "" when all are empty."""
    kept = [element for element in elements if element]
    return clean("/".join(kept)) if kept else ""


def split(path: str) -> tuple[str, str]:
    """`path.Split`: (directory with its trailing slash, file name)."""
    index = path.rfind("/")
    return path[:index + 1], path[index + 1:]


def dir_name(path: str) -> str:
    """`path.Dir`: everything but the last element, cleaned."""
    return clean(split(path)[0])


def base_name(path: str) -> str:
    """`path.Base`: the last element, trailing slashes ignored ("." for "", "/" for slashes)."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def rel(base: str, target: str) -> str:
    """`filepath.Rel(base, target)`: `target` relative to `base`, both cleaned first.

    Raises `ValueError` with Go's text when one path is absolute and the other is not, or
    when `base` would have to climb out through a `..` it cannot know the name of.
    """
    # Go's message names the paths as given, not as cleaned.
    refusal = f"Rel: can't make {target} relative to {base}"
    base, target = clean(base), clean(target)
    if base == target:
        return "."
    if base.startswith("/") != target.startswith("/"):
        raise ValueError(refusal)
    base_parts = [] if base in (".", "/") else base.strip("/").split("/")
    target_parts = [] if target in (".", "/") else target.strip("/").split("/")
    common = 0
    while (common < len(base_parts) and common < len(target_parts)
           and base_parts[common] == target_parts[common]):
        common += 1
    rest = base_parts[common:]
    if ".." in rest:
        raise ValueError(refusal)
    return "/".join([".."] * len(rest) + target_parts[common:]) or "."


def escapes_root(name: str) -> bool:
    """Whether `name`, cleaned as Go cleans it, is absolute or climbs above its root: a tar
    entry named so is written by linuxkit and lands outside the directory it is extracted to."""
    cleaned = clean(name)
    return cleaned.startswith("/") or cleaned == ".." or cleaned.startswith("../")
