"""The in-toto statement inside a verified attestation, and the policy's conditions on it.

Pure: a payload whose signature has already been verified goes in; what it says comes out, or a
`CosignError` naming the image. The statement must name the image's manifest digest among its
subjects (`sha256`), whatever its predicate; a statement read twice must not say two things,
so an object with a key twice is refused.

Where SLSA provenance keeps the facts a policy names (`slsa_facts`):

| fact | v0.2 | v1 |
|---|---|---|
| builder | `builder.id` | `runDetails.builder.id` |
| build type | `buildType` | `buildDefinition.buildType` |
| source repository, ref | `invocation.configSource.uri`, else `materials[0].uri` (`git+<repo>@<ref>`) | `buildDefinition.externalParameters.workflow.repository` and `.ref` (GitHub Actions build types), else `resolvedDependencies[0].uri` (`git+<repo>@<ref>`) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lkpolicy.stages.trust.attest.conditions import (
    SLSA_V02,
    AttestationCondition,
    Match,
    canonical_value,
)
from lkpolicy.stages.trust.errors import (
    MalformedSignature,
    PayloadDigestMismatch,
    PredicateMismatch,
    PredicateTypeMismatch,
)
from lkpolicy.stages.trust.sigstore_keyless import IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPES

MAX_STATEMENT_BYTES = 4 * 1024 * 1024
MAX_SUBJECTS = 1024
_SHOWN = 120


@dataclass(frozen=True, slots=True)
class Statement:
    predicate_type: str
    predicate: Any


def _clip(value: str) -> str:
    return value if len(value) <= _SHOWN else value[:_SHOWN] + "..."


def parse_statement(payload_type: str, payload: bytes, manifest_digest: str, *,
                    image: str, source: str) -> Statement:
    """The statement of a verified DSSE payload, whose subjects must include the manifest."""
    from lkpolicy.safeio import UntrustedInput, parse_json, unique_keys

    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise MalformedSignature(image, f"{source}: DSSE payload type {_clip(payload_type)!r} "
                                        f"is not {IN_TOTO_PAYLOAD_TYPE}")
    if len(payload) > MAX_STATEMENT_BYTES:
        raise MalformedSignature(image, f"{source}: the statement is larger than "
                                        f"{MAX_STATEMENT_BYTES} bytes")
    try:
        document = parse_json(payload, "the in-toto statement", object_pairs_hook=unique_keys)
    except UntrustedInput as error:
        raise MalformedSignature(image, f"{source}: {error}") from None
    if not isinstance(document, dict) or document.get("_type") not in IN_TOTO_STATEMENT_TYPES:
        raise MalformedSignature(image, f"{source}: the signed payload is not an in-toto "
                                        f"statement")
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise MalformedSignature(image, f"{source}: the statement has no predicateType")
    subjects = document.get("subject")
    if not isinstance(subjects, list) or not subjects or len(subjects) > MAX_SUBJECTS:
        raise MalformedSignature(image, f"{source}: the statement's subject is not a list of "
                                        f"1 to {MAX_SUBJECTS} entries")
    wanted = manifest_digest.split(":", 1)[1].lower()
    named: list[str] = []
    for subject in subjects:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        value = digests.get("sha256") if isinstance(digests, dict) else None
        if isinstance(value, str):
            if value.lower() == wanted:
                return Statement(predicate_type, document.get("predicate"))
            named.append(f"sha256:{value[:64]}")
    shown = ", ".join(named[:3]) + (", ..." if len(named) > 3 else "") or "no sha256 digest"
    raise PayloadDigestMismatch(image, f"{source}: the {predicate_type[:_SHOWN]} attestation is "
                                       f"about {shown}, not {manifest_digest}")


# ------------------------------------------------------------------------------------ SLSA


def _get(value: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and len(value) > key else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
    return value


def split_source(uri: Any) -> tuple[str | None, str | None]:
    """(repository, ref) of `git+https://host/org/repo@refs/heads/main`; an `@` before the path
    (`ssh://git@host/...`) is userinfo, not a ref."""
    if not isinstance(uri, str):
        return None, None
    uri = uri.removeprefix("git+")
    scheme = uri.find("://")
    path = uri.find("/", scheme + 3) if scheme >= 0 else uri.find("/")
    at = uri.rfind("@")
    if 0 <= path < at:
        return uri[:at], uri[at + 1:]
    return uri, None


def slsa_facts(predicate_type: str, predicate: Any) -> dict[str, str | None]:
    """The builder, build type, source repository and ref a SLSA predicate records (None:
    it records none, or not as a string)."""
    if predicate_type == SLSA_V02:
        facts: dict[str, Any] = {"builder": _get(predicate, "builder", "id"),
                                 "build_type": _get(predicate, "buildType")}
        uri = _get(predicate, "invocation", "configSource", "uri")
        repository, ref = split_source(uri if uri is not None
                                       else _get(predicate, "materials", 0, "uri"))
    else:
        facts = {"builder": _get(predicate, "runDetails", "builder", "id"),
                 "build_type": _get(predicate, "buildDefinition", "buildType")}
        workflow = _get(predicate, "buildDefinition", "externalParameters", "workflow")
        if isinstance(workflow, dict) and "repository" in workflow:
            repository, ref = workflow.get("repository"), workflow.get("ref")
        else:
            repository, ref = split_source(_get(predicate, "buildDefinition",
                                                "resolvedDependencies", 0, "uri"))
    facts.update(source_repository=repository, source_ref=ref)
    return {name: value if isinstance(value, str) else None for name, value in facts.items()}


# ------------------------------------------------------------------------------------ conditions


def _at_pointer(predicate: Any, tokens: tuple[str, ...]) -> tuple[bool, Any]:
    value = predicate
    for token in tokens:
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and (token == "0" or token[0] != "0") \
                and len(token) <= 9 and int(token) < len(value):
            value = value[int(token)]
        else:
            return False, None
    return True, value


def _mismatch(what: str, actual: str | None, match: Match) -> str:
    if actual is None:
        return f"it records no {what} (the policy wants {match.describe()})"
    return f"{what} {_clip(actual)!r} does not match {match.describe()}"


def check_condition(statement: Statement, condition: AttestationCondition, *, image: str,
                    source: str) -> dict[str, str]:
    """The facts that met the condition (for the evidence); PredicateTypeMismatch when the
    statement is of another type, PredicateMismatch naming the first condition it fails."""
    if statement.predicate_type not in condition.predicate_types:
        raise PredicateTypeMismatch(image, f"{source}: predicate type "
                                           f"{_clip(statement.predicate_type)!r}, not "
                                           f"{' or '.join(condition.predicate_types)}")
    facts: dict[str, str] = {"predicate_type": statement.predicate_type}
    if condition.slsa:
        recorded = slsa_facts(statement.predicate_type, statement.predicate)
        for name, match in condition.slsa_matches():
            actual = recorded[name]
            if actual is None or not match.matches(actual):
                raise PredicateMismatch(image, f"{source}: SLSA provenance: "
                                        + _mismatch(name.replace("_", " "), actual, match))
        facts.update({name: value for name, value in recorded.items() if value is not None})
    for field in condition.fields:
        found, value = _at_pointer(statement.predicate, field.tokens)
        where = f"predicate{field.pointer}"
        if not found:
            raise PredicateMismatch(image, f"{source}: no value at {_clip(where)} (the policy "
                                           f"wants {field.describe()})")
        if field.equals is not None:
            actual = canonical_value(value)
            if actual != field.equals:
                raise PredicateMismatch(image, f"{source}: {_clip(where)} is {_clip(actual)}, "
                                               f"not {_clip(field.equals)}")
        elif field.pattern is not None:
            if not isinstance(value, str):
                raise PredicateMismatch(image, f"{source}: {_clip(where)} is not a string (the "
                                               f"policy wants {field.pattern.describe()})")
            if not field.pattern.matches(value):
                raise PredicateMismatch(image, f"{source}: {_mismatch(where, value, field.pattern)}")
    return facts

