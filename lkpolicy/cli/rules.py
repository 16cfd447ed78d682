"""`lkpolicy rules`, `explain`, `schema` and `version`: what the tool knows, from the rule
catalogue and the schema."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from lkpolicy.cli.common import emit, usage_error


class RulesFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def rules(
    output_format: Annotated[RulesFormat, typer.Option(
        "--format", "-f", help="Output format.")] = RulesFormat.text,
) -> None:
    """List every rule with its ID, severity and title."""
    from lkpolicy.report.ruledocs import render_rules

    emit(render_rules(output_format.value), None)


def explain(rule_id: Annotated[str, typer.Argument(
        help="A rule ID such as LK301, or its name.")]) -> None:
    """Explain a rule: what it catches, why it matters and how to fix it."""
    from lkpolicy.model.rules import explain as explain_rule
    from lkpolicy.model.rules import get_rule

    rule = get_rule(rule_id)
    if rule is None:
        usage_error(f"unknown rule {rule_id!r}; `lkpolicy rules` lists them all")
    emit(explain_rule(rule) + "\n", None)


def schema() -> None:
    """Print the JSON Schema for LinuxKit configs (draft 2020-12)."""
    from lkpolicy.stages.validate import schema_text

    emit(schema_text(), None)


def version() -> None:
    """Print the version (as `lkpolicy --version`)."""
    from lkpolicy.cli.root import version_text

    emit(version_text(), None)
