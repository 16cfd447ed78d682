"""`lkpolicy rules`, `explain`, `schema` and `version`: what the tool knows, from the rule
catalogue and the schema."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy.cli.common import emit, usage_error

if TYPE_CHECKING:
    from lkpolicy.stages.policy.custom.model import CustomRule


class RulesFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


RulesPolicyOption = Annotated[str | None, typer.Option(
    "--policy", "-p", help="Also the custom rules this policy file (or builtin:NAME) defines.",
    show_default=False)]


def _custom_rules(policy: str | None) -> dict[str, CustomRule]:
    """The custom rules a policy file (or builtin:NAME) defines; none without one."""
    if policy is None:
        return {}
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.policy.loader import load_policy

    try:
        return load_policy(policy).custom_rules
    except InputError as error:
        first = error.findings[0]
        usage_error(f"{first.location}: {first.message} ({first.rule_id})")


def rules(
    output_format: Annotated[RulesFormat, typer.Option(
        "--format", "-f", help="Output format.")] = RulesFormat.text,
    policy: RulesPolicyOption = None,
) -> None:
    """List every rule with its ID, severity and title (with --policy, its custom rules too)."""
    from lkpolicy.report.ruledocs import render_rules

    extra = [custom.rule for custom in _custom_rules(policy).values()]
    emit(render_rules(output_format.value, extra), None)


def explain(rule_id: Annotated[str, typer.Argument(
        help="A rule ID such as LK301, or its name.")], policy: RulesPolicyOption = None) -> None:
    """Explain a rule: what it catches, why it matters and how to fix it. A custom rule is
    looked up in --policy, else in the policy that `check` would discover here."""
    from lkpolicy.model.rules import explain as explain_rule
    from lkpolicy.model.rules import get_rule

    wanted = rule_id.strip()
    rule = get_rule(wanted) if policy is None or wanted.upper().startswith("LK") else None
    if rule is not None:
        emit(explain_rule(rule) + "\n", None)
        return
    if policy is None:
        from lkpolicy.stages.policy.discovery import find_policy

        policy = find_policy(None, ".")
    custom = next((c for c in _custom_rules(policy).values()
                   if wanted.upper() == c.id or wanted.lower() == c.rule.name), None)
    if custom is None:
        rule = get_rule(wanted)
        if rule is None:
            usage_error(f"unknown rule {rule_id!r}; `lkpolicy rules` lists them all "
                        "(`--policy P` adds the custom rules of P)")
        emit(explain_rule(rule) + "\n", None)
        return
    from lkpolicy.stages.policy.custom.model import explain_custom

    emit(explain_custom(custom) + "\n", None)


def schema() -> None:
    """Print the JSON Schema for LinuxKit configs (draft 2020-12)."""
    from lkpolicy.stages.validate import schema_text

    emit(schema_text(), None)


def version() -> None:
    """Print the version (as `lkpolicy --version`)."""
    from lkpolicy.cli.root import version_text

    emit(version_text(), None)
