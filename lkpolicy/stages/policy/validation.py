"""Schema validation of policy files, with file:line:col for every error (LKP002).

Every check validates its policy files, so the verdict comes from `policy_valid`, the policy
schema generated as one plain test (`python -m lkpolicy.stages.schemacheck.predicate`). Only
a policy that fails it is run through jsonschema, the reference, whose errors are reported
in plain words (`schemamessages`): a valid policy never imports jsonschema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.model.document import Document, join_pointer
from lkpolicy.model.findings import Finding, InputError

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "data" / "schemas" / "policy.schema.json"


def validate_policy(document: Document) -> None:
    """Raises `InputError` with one LKP002 finding per schema error of the policy file."""
    from lkpolicy.stages.schemacheck.policy_valid import is_valid

    if is_valid(document.data):
        return
    from lkpolicy.stages.policy.schemamessages import schema_findings

    findings: list[Finding] = []
    for error in _validator().iter_errors(document.data):
        pointer = "".join(join_pointer("", part) for part in error.absolute_path)
        findings.extend(schema_findings(document, pointer, error))
    if findings:
        findings.sort(key=Finding.sort_key)
        raise InputError(*findings)


@cache
def _validator() -> Validator:
    from jsonschema.validators import validator_for

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator: Validator = validator_for(schema)(schema, format_checker=None)
    return validator
