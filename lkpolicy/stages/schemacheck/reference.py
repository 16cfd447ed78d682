"""The reference: jsonschema on the schema file, its errors as `Violation`s.

Not on the check path (importing jsonschema costs tens of milliseconds): the tests and
`bench/bench_validate.py` compare the generated validator with this, which is how `lkpolicy
check` validated configs before the generated validator existed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.stages.schemacheck.violation import Violation

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator


@cache
def _validator(schema_path: Path) -> Validator:
    from jsonschema.validators import validator_for

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    # No format checker, as linuxkit: the schema uses no formats.
    validator: Validator = validator_for(schema)(schema, format_checker=None)
    return validator


def reference_violations(data: Any, schema_path: Path) -> list[Violation]:
    """jsonschema's errors for `data` against the schema at `schema_path`, in its order."""
    violations: list[Violation] = []
    for error in _validator(schema_path).iter_errors(data):
        violations.extend(_violations(error))
    return violations


def _violations(error: ValidationError) -> Iterator[Violation]:
    path = tuple(error.absolute_path)
    kind = str(error.validator)
    if kind == "additionalProperties":
        declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        yield Violation(kind, path, error.instance, tuple(declared))
    elif kind == "type":
        yield Violation(kind, path, error.instance, type_names(error.validator_value))
    elif kind in ("required", "enum"):
        value = error.validator_value
        yield Violation(kind, path, error.instance, tuple(value) if isinstance(value, list) else ())
    elif kind == "anyOf":
        yield from _any_of(error, path)
    else:
        yield Violation(kind, path, error.instance, message=error.message)


def _any_of(error: ValidationError, path: tuple[str | int, ...]) -> Iterator[Violation]:
    branches = list(error.context or [])
    if branches and all(branch.validator == "type" and not branch.relative_path
                        for branch in branches):
        # str|int ids: one violation naming both types, not one per branch.
        expected = tuple(name for branch in branches for name in type_names(branch.validator_value))
        yield Violation("type", path, error.instance, expected)
        return
    from jsonschema.exceptions import best_match

    best = best_match(branches)
    if best is None:
        yield Violation("anyOf", path, error.instance, message=error.message)
        return
    yield from _violations(best)


def type_names(value: Any) -> tuple[str, ...]:
    """A `type` keyword's value (one name or a list of names) as a tuple of names."""
    return (value,) if isinstance(value, str) else tuple(str(name) for name in value)
