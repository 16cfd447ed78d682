"""Policy schema errors in plain words: what is wrong, and the values or keys that are allowed.

jsonschema's own messages are Python reprs (`'criticl' is not one of ['error', ...]`, `'root'
is a required property`, `... is not valid under any of the given schemas`); a policy author
should read `` `criticl` is not a severity: use error, warning, info or off ``.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from lkpolicy.model.document import Document, join_pointer, json_type, split_pointer
from lkpolicy.model.findings import Finding
from lkpolicy.stages.policy.rules import POLICY_SCHEMA

SEVERITIES = ("error", "warning", "info", "off")
_LISTED = 12
"""Allowed values or keys listed in full; longer lists are shortened."""
_TYPES = {"array": "a list", "object": "a mapping", "string": "a string",
          "boolean": "true or false", "integer": "a whole number", "number": "a number",
          "null": "empty"}


def close_match(word: str, choices: Any, cutoff: float = 0.7) -> str | None:
    """The one choice `word` most likely misspells, if any is close."""
    found = difflib.get_close_matches(word, sorted(str(c) for c in choices), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, choices: Any, cutoff: float = 0.7) -> str | None:
    close = close_match(word, choices, cutoff)
    return f"did you mean `{close}`?" if close else None


def schema_findings(document: Document, pointer: str, error: Any) -> list[Finding]:
    """The findings for one jsonschema error at `pointer` of a policy document."""
    validator = error.validator
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        return _unknown_keys(document, pointer, error)
    if validator in ("anyOf", "oneOf") and error.context:
        chosen = _best_branch(error)
        if chosen is not None:
            sub_pointer = "".join(join_pointer("", part) for part in chosen.absolute_path)
            return schema_findings(document, sub_pointer, chosen)
    message, hint = _describe(pointer, error)
    return [POLICY_SCHEMA.finding(message, document.location(pointer), pointer, hint=hint)]


def _best_branch(error: Any) -> Any:
    """The alternative that explains the error best: a deeper error, one that is not about
    the type, or, for a scalar, the list of values it could have had."""
    plain = ("enum", "type", "$ref", "not", "required")
    deepest = max(error.context, key=lambda sub: (
        len(sub.absolute_path), sub.validator not in plain))
    rivals = [sub for sub in error.context if sub.validator == deepest.validator
              and sub.absolute_path == deepest.absolute_path]
    if len(rivals) > 1 and deepest.validator == "additionalProperties":
        return None  # several forms of mapping: none of their key lists is the whole story
    if len(deepest.absolute_path) > len(error.absolute_path) or deepest.validator not in plain:
        return deepest
    if not isinstance(error.instance, dict | list):
        return next((sub for sub in error.context if sub.validator in ("enum", "const")), None)
    return None


def _unknown_keys(document: Document, pointer: str, error: Any) -> list[Finding]:
    allowed = sorted(error.schema.get("properties", {}))
    parts = split_pointer(pointer)
    findings = []
    for key in (key for key in error.instance if key not in allowed):
        hint: str | None
        if len(parts) >= 2 and parts[-2] == "rules" and parts[0] in ("rules", "overrides"):
            what = "a rule option"
            hint = f"{parts[-1]} takes {_listing(allowed)}"
        elif parts and parts[-1] == "rules" and parts[0] in ("rules", "overrides"):
            what = "a rule ID"
            hint = "`lkpolicy rules` lists the rules; policy rules start with LKP"
        else:
            what = f"a key of `{_display(pointer)}`" if pointer else "a policy key"
            hint = f"allowed: {_listing(allowed)}" if allowed else None
        close = close_match(key, allowed)
        message = f"`{key}` is not {what}" + (f"; did you mean `{close}`?" if close else "")
        key_pointer = join_pointer(pointer, key)
        findings.append(POLICY_SCHEMA.finding(
            message, document.location(key_pointer, key=True), key_pointer, hint=hint))
    return findings


def _describe(pointer: str, error: Any) -> tuple[str, str | None]:
    """The message and hint for every other kind of schema error."""
    from lkpolicy.redaction import redact_secrets

    name = _name(pointer)
    value = error.instance
    shown = redact_secrets(_shown(value))
    validator = error.validator
    if validator == "enum":
        allowed = [str(option) for option in error.validator_value]
        if tuple(allowed) == SEVERITIES:
            what = "is not a severity"
        elif all(option.startswith("CAP_") for option in allowed):
            what = "is not a capability"
        elif name.startswith("an item of "):
            what = f"cannot be {name}"
        else:
            what = f"is not a valid {name}"
        return (f"`{shown}` {what}: use {_listing(allowed, quote=False, last='or')}",
                did_you_mean(str(value), allowed, 0.75))
    if validator == "const":
        return (f"{name} can only be {_shown(error.validator_value)} here, not `{shown}`", None)
    if validator == "required":
        missing = str(error.validator_value[0]) if len(error.validator_value) == 1 else None
        for key in error.validator_value:
            if isinstance(value, dict) and key not in value:
                missing = str(key)
                break
        return (f"`{missing}` is required in `{_display(pointer)}`", f"add `{missing}:`")
    if validator == "type":
        wanted = error.validator_value
        words = [_TYPES.get(str(w), str(w))
                 for w in (wanted if isinstance(wanted, list) else [wanted])]
        got = _TYPES.get(json_type(value), "something else")
        return f"{name} must be {' or '.join(words)}, not {got}", None
    if validator == "pattern":
        return (f"`{shown}` is not a valid {name}: it must match "
                f"`{redact_secrets(str(error.validator_value))}`", None)
    if validator in ("minItems", "minProperties", "minLength"):
        return f"{name} must not be empty", None
    if validator == "uniqueItems":
        return f"{name} lists the same item twice", None
    if validator in ("anyOf", "oneOf"):
        forms = [branch.get("required") or [] for branch in error.validator_value
                 if isinstance(branch, dict)]
        if forms and all(forms):
            keys = _listing([" and ".join(str(key) for key in form) for form in forms],
                            last="or")
            only = " (only one of them)" if validator == "oneOf" else ""
            return f"`{_display(pointer)}` needs {keys}{only}", None
    if validator in ("anyOf", "oneOf", "not"):
        description = error.schema.get("description")
        return (f"{name} matches none of the forms it may take",
                f"it should be: {description}" if isinstance(description, str) else None)
    message = redact_secrets(error.message)
    message = message if len(message) < 200 else message[:197] + "..."
    return f"{message} (at {pointer or '/'})", None


def _name(pointer: str) -> str:
    """How a message names the value at `pointer`: `severity`, an item of `forbidden`..."""
    parts = split_pointer(pointer)
    if not parts:
        return "the policy"
    if parts[-1].isdigit() and len(parts) > 1:
        return f"an item of `{parts[-2]}`"
    return f"`{parts[-1]}`"


def _display(pointer: str) -> str:
    return "/".join(split_pointer(pointer)) or "/"


def _shown(value: Any) -> str:
    """A value as YAML would show it, on one line and short."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _listing(items: list[str], *, quote: bool = True, last: str = "and") -> str:
    shown = [f"`{item}`" if quote else item for item in items]
    if len(shown) > _LISTED:
        return ", ".join(shown[:_LISTED]) + f" ... ({len(shown)} in all)"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + f" {last} " + shown[-1]
