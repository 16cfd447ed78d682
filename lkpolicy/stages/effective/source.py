"""Reading an image entry (the YAML one or the label) the way linuxkit's typed decode does."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from lkpolicy.model.document import escape_pointer_token
from lkpolicy.stages.effective.types import Origin, Provenance

__all__ = ["Invalid", "Source", "as_int", "as_string", "decode_scalar", "pick", "pick_nonempty"]

T = TypeVar("T")


class Invalid(Exception):
    """A value of the wrong type where linuxkit's typed decode wants another: linuxkit
    reports "invalid configuration file" (or "label") with this line as the detail."""

    def __init__(self, pointer: str, problem: str) -> None:
        super().__init__(f"{pointer or '/'}: {problem}")


class Source:
    """One image entry (the YAML one or the label) with typed, Go-like access.

    "Present" is Go's non-nil pointer: the key exists and is not null (yaml.v3 leaves a
    pointer nil for an explicit null).
    """

    def __init__(self, data: Mapping[str, Any], origin: Origin) -> None:
        self.data = data
        self.origin = origin

    def provenance(self, key: str, index: int | None = None) -> Provenance:
        return Provenance(self.origin, key, index)

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def strings(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise Invalid(f"/{key}", "expected a list of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise Invalid(f"/{key}/{index}", "expected a string")
        return list(value)

    def string(self, key: str) -> str | None:
        return as_string(self.data.get(key), f"/{key}")

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise Invalid(f"/{key}", "expected a boolean")
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        return None if value is None else as_int(value, f"/{key}")

    def objects(self, key: str) -> list[Mapping[str, Any]] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise Invalid(f"/{key}", "expected a list of objects")
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise Invalid(f"/{key}/{index}", "expected an object")
        return list(value)

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise Invalid(f"/{key}", "expected an object")
        return value

    def string_map(self, key: str) -> dict[str, str] | None:
        value = self.mapping(key)
        if value is None:
            return None
        result: dict[str, str] = {}
        for name, item in value.items():
            text = as_string(item, f"/{key}/{escape_pointer_token(name)}")
            result[str(name)] = "" if text is None else text
        return result


def as_string(value: Any, pointer: str) -> str | None:
    """A value decoded into a Go string (None when absent): yaml.v3 keeps a scalar's text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # yaml.v3 stores the scalar's text in a string field; the text of a plain decimal
        # integer is its value.
        return str(value)
    raise Invalid(pointer, "expected a string")


def as_int(value: Any, pointer: str) -> int:
    """A value decoded into a Go integer."""
    if isinstance(value, bool):
        raise Invalid(pointer, "expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        # The schema accepts whole-valued numbers and yaml.v3 converts them to integers.
        return int(value)
    raise Invalid(pointer, "expected an integer")


def pick(
    key: str, sources: Iterable[Source], read: Callable[[Source, str], T | None]
) -> tuple[T, Provenance] | None:
    """linuxkit's `assign*`: the first source where the key is present."""
    for source in sources:
        value = read(source, key)
        if value is not None:
            return value, source.provenance(key)
    return None


def pick_nonempty(key: str, sources: Iterable[Source]) -> tuple[str, Provenance] | None:
    """linuxkit's `assignStringEmpty`: an empty string means "not set"."""
    for source in sources:
        value = source.string(key)
        if value:
            return value, source.provenance(key)
    return None


def decode_scalar(kind: str, raw: Any, pointer: str) -> Any:
    """A value decoded into a Go field of `kind` "int", "bool" or "str" (null: the zero value)."""
    if kind == "int":
        return 0 if raw is None else as_int(raw, pointer)
    if kind == "bool":
        if raw is None:
            return False
        if not isinstance(raw, bool):
            raise Invalid(pointer, "expected a boolean")
        return raw
    text = as_string(raw, pointer)
    return "" if text is None else text
