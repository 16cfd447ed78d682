"""linuxkit's template step (spec section 6): after schema validation, every scalar of a
config read from a local file, keys and values alike, goes through the template resolver.

Everything that reads values the build will use (the Go model, image references, each
container's effective config) reads them through here, so `command: ["@x"]` means `""`
everywhere, as it does in linuxkit's build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.model.config import Config, Node

TEMPLATE_FLAG = "@"
PACKAGE_TEMPLATE = "@pkg:"


def _template_scalar(text: str) -> str:
    # We cannot compute package tags, and linuxkit itself keeps `@pkg:` verbatim whenever the
    # lookup fails (no git checkout), which is what the goldens were produced with.
    if text.startswith(TEMPLATE_FLAG) and not text.startswith(PACKAGE_TEMPLATE):
        return ""
    return text


def apply_templates(value: Any, from_file: bool = True) -> Any:
    """linuxkit's template step: `@x` (not `@pkg:`) becomes "", for keys and values alike."""
    if not from_file:
        return value
    if isinstance(value, str):
        return _template_scalar(value)
    if isinstance(value, list):
        return [apply_templates(item) for item in value]
    if isinstance(value, dict):
        # Two keys can collapse into "" here; the later one wins, as in a Go map assignment.
        return {_template_scalar(key): apply_templates(item) for key, item in value.items()}
    return value


def template_switches(config: Config) -> dict[int, bool]:
    """Per document (by `id`): whether templates apply. Once linuxkit has read one local file
    it keeps template processing on for every later argument, stdin included."""
    switches: dict[int, bool] = {}
    enabled = False
    for document in config.documents:
        enabled = enabled or document.from_file
        switches[id(document)] = enabled
    return switches


def templated(node: Node, switches: dict[int, bool]) -> Any:
    """The node's value as the build sees it."""
    return apply_templates(node.value, switches.get(id(node.document), True))
