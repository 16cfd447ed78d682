"""What several families of lint checks read: the container entries, the strings of a list, and
whether one of Go's number parsers accepts a text."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lkpolicy.gocompat.numbers import NumError
from lkpolicy.model.config import Config, Node

CATEGORY = "lint"
"""The category of every lint rule."""


def strings(node: Node | None) -> list[Node]:
    """The items of a list that are strings (other types are schema findings)."""
    if node is None:
        return []
    return [item for item in node.items() if isinstance(item.value, str)]


def containers(config: Config) -> Iterator[tuple[str, Node]]:
    """(section, node) of every onboot, onshutdown and service entry that is a mapping."""
    for section, _index, node in config.containers():
        if isinstance(node.value, dict):
            yield section, node


def go_parses(parse: Callable[[str, int, int], int], text: str, base: int, bits: int) -> bool:
    """Whether linuxkit's strconv call (`parse`, from `gocompat.numbers`) accepts `text`."""
    try:
        parse(text, base, bits)
    except NumError:
        return False
    return True
