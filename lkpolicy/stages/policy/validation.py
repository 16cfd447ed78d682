"""Schema validation of policy files, with file:line:col for every error (LKP002).

Every check validates its policy files, so the verdict comes from `policy_valid`, the policy
schema generated as one plain test (`python -m lkpolicy.stages.schemacheck.predicate`). Only
a policy that fails it is run through jsonschema, the reference, whose errors are reported:
a valid policy never imports jsonschema, and an invalid one gets jsonschema's messages.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.model.document import Document, join_pointer
from lkpolicy.model.findings import Finding, InputError
from lkpolicy.stages.policy.rules import POLICY_SCHEMA

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "data" / "schemas" / "policy.schema.json"


def validate_policy(document: Document) -> None:
    """Raises `InputError` with one LKP002 finding per schema error of the policy file."""
    from lkpolicy.stages.schemacheck.policy_valid import is_valid

    if is_valid(document.data):
        return
    findings: list[Finding] = []
    for error in _validator().iter_errors(document.data):
        pointer = "".join(join_pointer("", part) for part in error.absolute_path)
        findings.extend(_schema_findings(document, pointer, error))
    if findings:
        findings.sort(key=Finding.sort_key)
        raise InputError(*findings)


@cache
def _validator() -> Validator:
    from jsonschema.validators import validator_for

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator: Validator = validator_for(schema)(schema, format_checker=None)
    return validator


def _schema_findings(document: Document, pointer: str, error: Any) -> list[Finding]:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        where = "rule ID" if pointer.endswith("/rules") else "key"
        return [POLICY_SCHEMA.finding(
            f"unknown {where} `{key}` at {pointer or '/'}",
            document.location(join_pointer(pointer, key), key=True), join_pointer(pointer, key),
            hint=did_you_mean(key, allowed)) for key in extra]
    if error.validator == "anyOf" and error.context:
        # The object branch explains more than "is not one of the severities".
        deepest = max(error.context, key=lambda sub: (
            len(sub.absolute_path), sub.validator not in ("enum", "type", "$ref")))
        if len(deepest.absolute_path) > len(error.absolute_path) or deepest.validator not in (
                "enum", "type", "$ref"):
            sub_pointer = "".join(join_pointer("", part) for part in deepest.absolute_path)
            return _schema_findings(document, sub_pointer, deepest)
    from lkpolicy.redaction import redact_secrets

    message = redact_secrets(error.message)
    message = message if len(message) < 200 else message[:197] + "..."
    return [POLICY_SCHEMA.finding(f"{message} (at {pointer or '/'})",
                                  document.location(pointer), pointer)]


def did_you_mean(word: str, choices: set[str]) -> str | None:
    """`did you mean `x`?` for a close enough choice, else None."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.7)
    return f"did you mean `{close[0]}`?" if close else None
