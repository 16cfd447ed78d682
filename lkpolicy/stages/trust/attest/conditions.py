"""What a trust rule asks of an attestation: its predicate type, and conditions on its predicate.

A condition is built once, when the policy loads (`condition_from_policy`), with its regular
expressions compiled there, so that a bad pattern is a policy error at its line and never a
failure per image. Conditions are frozen and hashable: they are part of the trust stage's
`Ask`, which keys the answers of the run.

* SLSA provenance (`https://slsa.dev/provenance/v0.2` and `/v1`, or `slsa-provenance` for
  either): the builder ID, the build type, and the source repository and ref, each exact or a
  regular expression (see `statement.slsa_facts` for where each version keeps them);
* any predicate type: a JSON pointer (RFC 6901) into the predicate and an exact JSON value or a
  regular expression its string must match.

Regular expressions match the whole value (`fullmatch`) and only values of at most
`MAX_MATCHED_CHARS` characters: Python's `re` backtracks, so the untrusted side of a match is
kept short (`compile_pattern` is the one place to change the engine).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lkpolicy.stages.trust.errors import ConditionError

SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_ALIAS = "slsa-provenance"
"""The policy's name for "SLSA provenance, v0.2 or v1"."""
SLSA_TYPES = (SLSA_V02, SLSA_V1)
SLSA_FIELDS = ("builder", "build_type", "source_repository", "source_ref")
"""The SLSA conditions, each also as `<name>_regex`."""

MAX_MATCHED_CHARS = 4096
"""Longer values from a statement are refused rather than matched."""
MAX_POINTER_TOKENS = 32
MAX_PATTERN_CHARS = 1024


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A policy's regular expression, compiled once; ValueError with the reason."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(str(error)) from None


@dataclass(frozen=True, slots=True)
class Match:
    """A string condition: the exact value, or a regular expression the whole value matches."""

    exact: str | None = None
    pattern: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        if len(value) > MAX_MATCHED_CHARS:
            return False
        if self.exact is not None:
            return value == self.exact
        assert self.pattern is not None
        return self.pattern.fullmatch(value) is not None

    def describe(self) -> str:
        return repr(self.exact) if self.exact is not None else f"/{self.pattern_text}/"

    @property
    def pattern_text(self) -> str:
        return self.pattern.pattern if self.pattern is not None else ""


@dataclass(frozen=True, slots=True)
class FieldCondition:
    """A value in the predicate, at a JSON pointer: an exact JSON value, or a string that a
    regular expression matches."""

    pointer: str
    tokens: tuple[str, ...]
    equals: str | None = None
    """The expected value as canonical JSON (hashable, and compared as JSON)."""
    pattern: Match | None = None

    def describe(self) -> str:
        expected = self.equals if self.equals is not None else \
            (self.pattern.describe() if self.pattern is not None else "?")
        return f"{self.pointer or '/'} = {expected}"


@dataclass(frozen=True, slots=True)
class AttestationCondition:
    """An attestation of one of `predicate_types` whose predicate meets every condition."""

    predicate_types: tuple[str, ...]
    builder: Match | None = None
    build_type: Match | None = None
    source_repository: Match | None = None
    source_ref: Match | None = None
    fields: tuple[FieldCondition, ...] = ()
    label: str = ""
    """The predicate type as the policy wrote it (`slsa-provenance` or a URI)."""

    @property
    def slsa(self) -> bool:
        return all(kind in SLSA_TYPES for kind in self.predicate_types)

    def slsa_matches(self) -> list[tuple[str, Match]]:
        """The SLSA conditions that are set, by field name."""
        every = (("builder", self.builder), ("build_type", self.build_type),
                 ("source_repository", self.source_repository), ("source_ref", self.source_ref))
        return [(name, match) for name, match in every if match is not None]

    def describe(self) -> str:
        parts = [self.label or " or ".join(self.predicate_types)]
        parts += [f"{name.replace('_', ' ')} {match.describe()}"
                  for name, match in self.slsa_matches()]
        parts += [field.describe() for field in self.fields]
        return "attestation " + ", ".join(parts)


def canonical_value(value: Any) -> str:
    """A JSON value's text for comparison: keys sorted, no spaces, text as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pointer_tokens(pointer: str) -> tuple[str, ...]:
    """RFC 6901 reference tokens; ValueError for a pointer that is not one."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError("a JSON pointer is empty or starts with `/`")
    tokens = pointer[1:].split("/")
    if len(tokens) > MAX_POINTER_TOKENS:
        raise ValueError(f"more than {MAX_POINTER_TOKENS} reference tokens")
    if any(re.search(r"~(?![01])", token) for token in tokens):
        raise ValueError("`~` must be followed by 0 or 1 (RFC 6901)")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


def _match(raw: Mapping[str, Any], name: str) -> Match | None:
    exact, regex = raw.get(name), raw.get(f"{name}_regex")
    if exact is not None and regex is not None:
        raise ConditionError(f"/{name}_regex", f"give `{name}` or `{name}_regex`, not both")
    if exact is not None:
        return Match(exact=str(exact))
    if regex is not None:
        return Match(pattern=_pattern(str(regex), f"/{name}_regex"))
    return None


def _pattern(text: str, key: str) -> re.Pattern[str]:
    try:
        return compile_pattern(text)
    except ValueError as error:
        raise ConditionError(key, f"`{text[:80]}` is not a valid regular expression: "
                                  f"{error}") from None


def condition_from_policy(raw: Mapping[str, Any]) -> AttestationCondition:
    """The condition of a policy's `attestation` object (already schema-checked);
    ConditionError naming the key that is wrong."""
    label = str(raw["predicate_type"])
    types = SLSA_TYPES if label == SLSA_ALIAS else (label,)
    matches = {name: _match(raw, name) for name in SLSA_FIELDS}
    if any(matches.values()) and not all(kind in SLSA_TYPES for kind in types):
        name = next(name for name, match in matches.items() if match is not None)
        key = name if name in raw else f"{name}_regex"
        raise ConditionError(f"/{key}", f"`{key}` is a SLSA provenance condition; the predicate "
                                        f"type is {label!r} (use `{SLSA_ALIAS}`, {SLSA_V02} or "
                                        f"{SLSA_V1}, or a `conditions` pointer)")
    fields = []
    for index, item in enumerate(raw.get("conditions") or ()):
        where = f"/conditions/{index}"
        try:
            tokens = pointer_tokens(str(item["pointer"]))
        except ValueError as error:
            raise ConditionError(f"{where}/pointer", str(error)) from None
        if "equals" in item:
            fields.append(FieldCondition(str(item["pointer"]), tokens,
                                         equals=canonical_value(item["equals"])))
        else:
            pattern = _pattern(str(item["regex"]), f"{where}/regex")
            fields.append(FieldCondition(str(item["pointer"]), tokens,
                                         pattern=Match(pattern=pattern)))
    return AttestationCondition(types, fields=tuple(fields), label=label, **matches)
