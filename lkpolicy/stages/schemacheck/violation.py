"""One schema error, in the terms the validation stage turns into a finding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]
"""Keys and list indexes from the document root to a node (jsonschema's `absolute_path`)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """What jsonschema's `ValidationError` says, reduced to what a finding needs.

    One violation per jsonschema error, in jsonschema's order; an `anyOf` whose branches are
    all plain `type` checks is one `type` violation naming every branch's types.
    """

    keyword: str
    """The schema keyword that failed: `type`, `required`, `additionalProperties`, `enum`, or
    another keyword whose `message` is then shown as is."""
    path: Path
    instance: Any
    """The node that failed (for `required` and `additionalProperties`: the whole object)."""
    expected: tuple[Any, ...] = ()
    """`type`: the allowed type names; `required`: every required key (one violation per
    missing key, as jsonschema reports them); `enum`: the allowed values;
    `additionalProperties`: the keys the object declares."""
    message: str = ""
    """jsonschema's wording, for keywords without a finding of their own."""
