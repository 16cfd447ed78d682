"""The rule catalogue is found by registration: the generated index must be what importing
every module of the package registers, and a command must not need the index to be right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lkpolicy.model.rules import all_rules, discover_rule_modules, get_rule, render_rule_index

INDEX = Path(__file__).resolve().parent.parent / "lkpolicy" / "model" / "ruleindex.py"


def test_the_generated_index_is_current() -> None:
    assert INDEX.read_text(encoding="utf-8") == render_rule_index(discover_rule_modules()), (
        "regenerate: .venv/bin/python scripts/generate.py")


def test_every_rule_is_found_through_the_index() -> None:
    ids = [rule.id for rule in all_rules()]
    assert len(ids) == len(set(ids)) > 60
    for rule_id in ids:
        rule = get_rule(rule_id)
        assert rule is not None and rule.module


def test_one_rule_loads_only_its_module() -> None:
    code = ("import sys; from lkpolicy.model.rules import get_rule; get_rule('LK401'); "
            "print(sorted(m for m in sys.modules if m.startswith('lkpolicy.stages')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert "lkpolicy.stages.images" in loaded
    assert "lkpolicy.stages.trust" not in loaded and "lkpolicy.stages.policy" not in loaded
