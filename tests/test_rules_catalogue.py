"""The rule catalogue: the generated index is current, and each rule's fixability reaches every
place that describes the rule (`explain`, `rules` in each format, docs/rules.md, SARIF)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.rules import (
    Fixability,
    all_rules,
    discover_rule_modules,
    get_rule,
    render_rule_index,
)
from lkpolicy.report.sarif import rule_descriptor

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_rule_index_is_what_the_generator_writes() -> None:
    index = (ROOT / "lkpolicy" / "model" / "ruleindex.py").read_text(encoding="utf-8")
    assert index == render_rule_index(discover_rule_modules()), (
        "run python scripts/generate.py")


def test_every_rule_is_indexed_under_the_module_that_defines_it() -> None:
    from lkpolicy.model.ruleindex import RULE_MODULES

    assert {rule.id: rule.module for rule in all_rules()} == RULE_MODULES


def test_fixability_is_a_property_of_the_rule() -> None:
    fixability = {rule.id: rule.fixability for rule in all_rules()}
    assert fixability["LK317"] is Fixability.ALWAYS  # `0o644` says what linuxkit reads
    assert fixability["LK302"] is Fixability.SOMETIMES  # not the last key of a mapping
    assert fixability["LK306"] is Fixability.SOMETIMES  # only a misspelt known name
    assert fixability["LK305"] is Fixability.NEVER  # which container to rename is a choice
    assert fixability["LK101"] is Fixability.NEVER


def test_explain_shows_the_fixability() -> None:
    assert "Fixable: always" in invoke("explain", "LK309")
    assert "Fixable: never" in invoke("explain", "duplicate-container-name")


def test_rules_listings_show_the_fixability() -> None:
    lines = {line.split()[0]: line for line in invoke("rules").splitlines()}
    assert "fix:sometimes" in lines["LK313"].split()
    assert "fix:never" in lines["LK319"].split()
    listed = {rule["id"]: rule["fixability"] for rule in json.loads(invoke("rules", "-f", "json"))}
    assert listed == {rule.id: rule.fixability.value for rule in all_rules()}
    markdown = invoke("rules", "-f", "markdown")
    assert "| [LK309](#lk309) | `duplicate-list-entry` | warning | lint | always |" in markdown
    assert "*Category:* lint. *Fixable:* always." in markdown


def test_sarif_rule_metadata_carries_the_fixability() -> None:
    rule = get_rule("LK317")
    assert rule is not None
    assert rule_descriptor(rule)["properties"]["fixability"] == "always"


def test_one_rule_loads_only_its_module() -> None:
    code = ("import sys; from lkpolicy.model.rules import get_rule; get_rule('LK401'); "
            "print(sorted(m for m in sys.modules if m.startswith('lkpolicy.stages')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert "lkpolicy.stages.images" in loaded
    assert "lkpolicy.stages.trust" not in loaded and "lkpolicy.stages.policy" not in loaded
