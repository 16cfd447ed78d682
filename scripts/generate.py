#!/usr/bin/env python3
"""Regenerate the checked-in generated files from their single sources:

* lkpolicy/model/ruleindex.py: which module defines each rule ID (from the registered rules);
* docs/rules.md: the rule reference (from the rule catalogue);
* lkpolicy/stages/schemacheck/policy_valid.py: the policy schema as one test (from
  lkpolicy/data/schemas/policy.schema.json, itself `stages.policy.schema.schema_text()`);
* lkpolicy/stages/policy/builtin_documents.py: the built-in policies, parsed (from
  lkpolicy/data/policies/*.yml).

Run after adding, moving or changing a rule; the tests fail until the files are current.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lkpolicy.model.rules import all_rules, discover_rule_modules, render_rule_index  # noqa: E402
from lkpolicy.report.ruledocs import rules_markdown  # noqa: E402
from lkpolicy.stages.policy import precompile  # noqa: E402
from lkpolicy.stages.schemacheck import predicate  # noqa: E402


def main() -> None:
    index = ROOT / "lkpolicy" / "model" / "ruleindex.py"
    index.write_text(render_rule_index(discover_rule_modules()), encoding="utf-8")
    docs = ROOT / "docs" / "rules.md"
    docs.write_text(rules_markdown(all_rules()), encoding="utf-8")
    predicate.main([])
    precompile.main([])
    print(f"wrote {index.relative_to(ROOT)} and {docs.relative_to(ROOT)}; "
          f"{predicate.PREDICATE_PATH.relative_to(ROOT)} and "
          f"{precompile.OUTPUT.relative_to(ROOT)} are current")


if __name__ == "__main__":
    main()
