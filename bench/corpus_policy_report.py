"""The default policy over the LinuxKit corpus (YAML only): findings per rule, and a sample.

    .venv/bin/python bench/corpus_policy_report.py [CORPUS_DIR] [--sample N]

Prints a markdown table (rule -> findings, configs) and, with --sample, N findings per rule
chosen deterministically, for the hand review in docs/policy-corpus.md.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from lkpolicy.gate.options import GateOptions, PolicyChoice
from lkpolicy.gate.unit import judge_unit
from lkpolicy.model.findings import Finding, Location
from lkpolicy.model.rules import get_rule

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "linuxkit"


def corpus_configs(corpus: Path) -> list[Path]:
    lines = (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t") for line in lines if line.strip()]
    return [corpus / row[0] for row in rows if len(row) > 1 and row[1] == "config"]


def run(corpus: Path, policy_spec: str = "builtin:default") -> tuple[int, list[Finding]]:
    """The gate's policy findings (LKP rules) per corpus config, YAML only (no image cache)."""
    options = GateOptions(policy=PolicyChoice(policy_spec))
    findings: list[Finding] = []
    judged = 0
    for path in corpus_configs(corpus):
        unit = judge_unit([str(path)], {}, options)
        if unit.unreadable:
            continue  # unreadable configs are the lint stage's business
        judged += 1
        for finding in unit.findings:
            if not finding.rule_id.startswith("LKP"):
                continue
            finding.location = Location(str(Path(finding.location.file).relative_to(corpus)),
                                        finding.location.line, finding.location.column)
            findings.append(finding)
    return judged, findings


def table(judged: int, findings: list[Finding], policy_spec: str = "builtin:default") -> str:
    """The summary and per-rule table, as docs/policy-corpus.md shows them."""
    per_rule = collections.Counter(f.rule_id for f in findings)
    files: dict[str, set[str]] = collections.defaultdict(set)
    for finding in findings:
        files[finding.rule_id].add(finding.location.file)
    lines = [f"{judged} configs judged, {len(findings)} findings ({policy_spec}, YAML only)", "",
             "| rule | title | findings | configs |", "|---|---|---:|---:|"]
    for rule_id in sorted(per_rule):
        rule = get_rule(rule_id)
        title = rule.title if rule else ""
        lines.append(f"| {rule_id} | {title} | {per_rule[rule_id]} | {len(files[rule_id])} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--policy", default="builtin:default")
    parser.add_argument("--sample", type=int, default=0)
    args = parser.parse_args()
    corpus = Path(args.corpus)
    judged, findings = run(corpus, args.policy)
    print(table(judged, findings, args.policy))
    if args.sample:
        print()
        for rule_id in sorted({f.rule_id for f in findings}):
            chosen = [f for f in findings if f.rule_id == rule_id]
            step = max(1, len(chosen) // args.sample)
            for finding in chosen[::step][: args.sample]:
                print(f"- {rule_id} `{finding.location}`: {finding.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
