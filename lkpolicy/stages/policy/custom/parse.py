"""The `custom_rules:` section of a policy file: each entry checked and compiled when the
policy loads, so that a bad condition is an LKP007 error at its line and column (exit code
2), never a rule that silently judges nothing.

The schema (`stages/policy/schema.py`) has already checked the shape of every entry.
"""

from __future__ import annotations

from typing import Any

from lkpolicy.model.document import Document, join_pointer, split_pointer
from lkpolicy.model.findings import Finding, InputError, Location, Severity
from lkpolicy.model.rules import Rule
from lkpolicy.stages.policy.custom.celenv import SCOPE_VARIABLES, CelProblem, compile_condition
from lkpolicy.stages.policy.custom.model import (
    CUSTOM_CATEGORY,
    CUSTOM_ID,
    CUSTOM_RULE_INVALID,
    RESERVED_PREFIX,
    CustomRule,
    judged_sections,
)
from lkpolicy.stages.policy.model import Policy, RuleSetting, Selector
from lkpolicy.stages.policy.rules import PolicyRule

__all__ = ["add_custom_rules", "check_custom_rule_ids"]

MAX_CUSTOM_RULES = 200
"""Per policy file: each one runs on every container of every config checked."""


def add_custom_rules(policy: Policy, document: Document, raw: dict[str, Any],
                     pointer: str = "/custom_rules") -> None:
    """Define the custom rules of one policy file; each runs unless a `rules:` entry turns it
    off. Raises `InputError` (LKP007) for any rule that cannot be used."""
    findings: list[Finding] = []
    if len(raw) > MAX_CUSTOM_RULES:
        findings.append(CUSTOM_RULE_INVALID.finding(
            f"{len(raw)} custom rules; a policy file may define at most {MAX_CUSTOM_RULES}",
            document.location(pointer, key=True), pointer))
    for rule_id, entry in list(raw.items())[:MAX_CUSTOM_RULES]:
        rule_pointer = join_pointer(pointer, rule_id)
        try:
            custom = _custom_rule(document, rule_id, entry, rule_pointer)
        except InputError as error:
            findings.extend(error.findings)
            continue
        policy.custom_rules[rule_id] = custom
        policy.rules.setdefault(rule_id, RuleSetting(None, {}, custom.location))
    if findings:
        raise InputError(*findings)


def _custom_rule(document: Document, rule_id: str, entry: dict[str, Any],
                 pointer: str) -> CustomRule:
    location = document.location(pointer, key=True)
    if not CUSTOM_ID.fullmatch(rule_id) or rule_id.startswith(RESERVED_PREFIX):
        why = (f"IDs starting with {RESERVED_PREFIX} belong to lkpolicy's own rule families "
               "(LK, LKP, LKT, LKW)" if rule_id.startswith(RESERVED_PREFIX)
               else "an ID is capital letters then digits, e.g. ORG001")
        raise InputError(CUSTOM_RULE_INVALID.finding(
            f"custom rule ID `{rule_id}`: {why}", location, pointer))
    scope = entry.get("scope", "container")
    selector = Selector.from_match(entry.get("match") or {})
    condition_pointer = join_pointer(pointer, "condition")
    text = entry["condition"]
    try:
        compiled = compile_condition(scope, text)
    except CelProblem as problem:
        where = condition_position(document, condition_pointer, text, problem.line,
                                   problem.column)
        raise InputError(CUSTOM_RULE_INVALID.finding(
            f"custom rule {rule_id}: {problem.message}" if problem.line == 0
            else f"custom rule {rule_id}: bad condition: {problem.message}",
            where, condition_pointer)) from None
    field = _field(document, scope, entry.get("field"), join_pointer(pointer, "field"))
    rule = Rule(rule_id, entry.get("name") or rule_id.lower(), entry["title"],
                Severity.parse(entry["severity"]), CUSTOM_CATEGORY, _words(entry["rationale"]),
                _words(entry["fix"]), module=document.path)
    return CustomRule(PolicyRule(rule, judged_sections(scope, selector)), scope, selector,
                      compiled, field, entry.get("message"), location)


def _field(document: Document, scope: str, value: str | None,
           pointer: str) -> tuple[str, tuple[str, ...]] | None:
    if value is None:
        return None
    parts = split_pointer(value)
    variables = SCOPE_VARIABLES[scope]
    if not parts or parts[0] not in variables:
        raise InputError(CUSTOM_RULE_INVALID.finding(
            f"`field: {value}` must start with a variable of the {scope} scope: "
            f"{', '.join('/' + name for name in variables)}", document.location(pointer),
            pointer))
    return parts[0], tuple(parts[1:])


def condition_position(document: Document, pointer: str, text: str, line: int,
                       column: int) -> Location:
    """Where line:column of a condition is in the policy file: found by the text of that line
    of the condition, on the lines where the YAML scalar is written (plain, quoted or block);
    the scalar's own position when the text is not found as written (escapes, folding)."""
    start = document.location(pointer)
    lines = text.split("\n")
    if line < 1 or line > len(lines) or not lines[line - 1].strip():
        return start
    wanted = lines[line - 1]
    for number in range(start.line, start.line + len(lines) + 2):
        source = document.source_line(number)
        if source is None:
            break
        offset = start.column - 1 if number == start.line else 0
        found = source.find(wanted, offset)
        if found >= 0:
            return Location(document.path, number, found + max(column, 1))
    return start


def check_custom_rule_ids(policy: Policy) -> None:
    """Every custom ID that `rules:` or `overrides:` sets must be defined somewhere in the
    chain (checked once the whole `extends` chain is read)."""
    findings: list[Finding] = []
    settings = [(rule_id, setting) for rule_id, setting in policy.rules.items()]
    settings += [(rule_id, setting) for override in policy.overrides
                 for rule_id, setting in override.rules.items()]
    for rule_id, setting in settings:
        if CUSTOM_ID.fullmatch(rule_id) and not rule_id.startswith(RESERVED_PREFIX) \
                and rule_id not in policy.custom_rules:
            defined = ", ".join(sorted(policy.custom_rules)) or "none"
            findings.append(CUSTOM_RULE_INVALID.finding(
                f"`{rule_id}` is set but no policy in the chain defines it in `custom_rules` "
                f"(defined: {defined})", setting.location or Location("policy"),
                severity=Severity.ERROR))
    if findings:
        raise InputError(*findings)


def _words(text: str) -> str:
    return " ".join(text.split())
