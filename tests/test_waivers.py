"""Waivers: inline comments and policy entries, their positions, expiry on an injected clock,
and the findings about waivers themselves."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest

from lkpolicy.model.config import merge
from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, Location
from lkpolicy.model.rules import get_rule
from lkpolicy.stages.lint import lint
from lkpolicy.stages.load import load_document
from lkpolicy.stages.waivers import (
    ContainerContext,
    Waiver,
    WaiverKind,
    apply_waivers,
    container_context,
    parse_inline_waivers,
    parse_policy_waivers,
)
from lkpolicy.stages.yamlcomments import find_comments

TODAY = datetime.date(2026, 6, 15)


def load(tmp_path: Path, text: str, name: str = "c.yml") -> Document:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_document(str(path))[0]


def check(tmp_path: Path, text: str, today: datetime.date = TODAY):
    document = load(tmp_path, text)
    findings = lint(merge([document]))
    waivers, problems = parse_inline_waivers(document)
    outcome = apply_waivers(findings, waivers, today)
    return document, outcome, problems


def rules_of(findings: list[Finding]) -> list[str]:
    return sorted(f.rule_id for f in findings)


ALL_CAPS = """
services:
  - name: a
    image: a:1
    capabilities: [all]{comment}
"""


# -- finding comments -------------------------------------------------------------------------


def test_comment_scanner_ignores_hashes_in_quotes_and_block_scalars() -> None:
    text = textwrap.dedent("""\
        a: "x # not" # one
        b: 'it''s # not' # two
        c: it's # three
        d: "multi
          line # not" # four
        e: |
          # not a comment
          text
        f: x#not
        # five
        - |
          # not
        - y # six
        """)
    found = [(c.line, c.column, c.text.strip(), c.alone) for c in find_comments(text)]
    assert found == [
        (1, 14, "one", False), (2, 18, "two", False), (3, 9, "three", False),
        (5, 15, "four", False), (10, 1, "five", True), (13, 5, "six", False),
    ]


# -- inline waivers ---------------------------------------------------------------------------


def test_inline_waiver_on_the_line_suppresses(tmp_path: Path) -> None:
    comment = '  # lkpolicy: ignore[LK318] reason="host agent"'
    _doc, outcome, problems = check(tmp_path, ALL_CAPS.format(comment=comment))
    assert problems == []
    assert "LK318" not in rules_of(outcome.kept)
    assert [s.finding.rule_id for s in outcome.suppressed] == ["LK318"]
    waiver = outcome.suppressed[0].waiver
    assert waiver.kind is WaiverKind.INLINE
    assert (waiver.location.line, waiver.location.column, waiver.line) == (4, 26, 4)
    assert waiver.reason == "host agent"
    assert outcome.meta_findings == []


def test_inline_waiver_on_the_line_above(tmp_path: Path) -> None:
    text = """
    services:
      - name: a
        image: a:1
        # lkpolicy: ignore[lk318, LKZ102] reason='it''s needed' expires=2026-12-31
        capabilities: [all]
    """
    _doc, outcome, problems = check(tmp_path, text)
    assert problems == []
    assert [s.finding.rule_id for s in outcome.suppressed] == ["LK318"]
    waiver = outcome.suppressed[0].waiver
    assert waiver.rules == ("LK318", "LKZ102")
    assert waiver.reason == "it's needed"
    assert waiver.expires == datetime.date(2026, 12, 31)
    assert (waiver.location.line, waiver.line) == (4, 5)
    # LKZ102 is no rule: reported once, not also as unused.
    assert [(f.rule_id, f.location.line) for f in outcome.meta_findings] == [("LKW004", 4)]


def test_waiver_two_lines_above_does_not_apply(tmp_path: Path) -> None:
    text = """
    services:
      - name: a
        # lkpolicy: ignore[LK318] reason="x"
        image: a:1
        capabilities: [all]
    """
    _doc, outcome, _problems = check(tmp_path, text)
    assert "LK318" in rules_of(outcome.kept)
    assert [(f.rule_id, f.location.line, f.location.column) for f in outcome.meta_findings] == [
        ("LKW003", 3, 5)]


def test_waiver_inside_a_string_is_not_a_waiver(tmp_path: Path) -> None:
    text = """
    services:
      - name: a
        image: a:1
        command: ["sh", "-c", "echo # lkpolicy: ignore[LK318] reason=x"]
        capabilities: [all]
    """
    document, outcome, problems = check(tmp_path, text)
    assert parse_inline_waivers(document) == ([], [])
    assert problems == [] and outcome.suppressed == []


def test_waiver_for_another_rule_leaves_the_finding(tmp_path: Path) -> None:
    comment = '  # lkpolicy: ignore[LK306] reason="x"'
    _doc, outcome, _problems = check(tmp_path, ALL_CAPS.format(comment=comment))
    assert "LK318" in rules_of(outcome.kept)
    assert rules_of(outcome.meta_findings) == ["LKW003"]


@pytest.mark.parametrize(("comment", "problem"), [
    ("# lkpolicy: disable LK318", "expected `lkpolicy: ignore[RULE,...]"),
    ("# lkpolicy: ignore[] reason=x", "names no rule"),
    ("# lkpolicy: ignore[not a rule!] reason=x", "is not a rule ID"),
    ('# lkpolicy: ignore[LK318] reason="x" expires=31/12/2026', "is not a date"),
    ('# lkpolicy: ignore[LK318] reason="x" expires=2026-02-30', "is not a date"),
    ('# lkpolicy: ignore[LK318] because="x"', "unknown key `because`"),
    ('# lkpolicy: ignore[LK318] reason="x" reason="y"', "given twice"),
])
def test_malformed_inline_waivers_are_reported(tmp_path: Path, comment: str, problem: str) -> None:
    document = load(tmp_path, ALL_CAPS.format(comment="  " + comment))
    waivers, problems = parse_inline_waivers(document)
    assert waivers == []
    assert len(problems) == 1
    assert problems[0].rule_id == "LKW005"
    assert (problems[0].location.line, problems[0].location.column) == (4, 26)
    assert problem in problems[0].message


def test_inline_waiver_without_reason_is_an_error_and_suppresses_nothing(tmp_path: Path) -> None:
    _doc, outcome, _problems = check(tmp_path, ALL_CAPS.format(comment="  # lkpolicy: ignore[LK318]"))
    assert "LK318" in rules_of(outcome.kept)
    assert outcome.suppressed == []
    assert rules_of(outcome.meta_findings) == ["LKW001"]
    assert outcome.meta_findings[0].severity.label == "error"


# -- expiry with an injected clock --------------------------------------------------------------


def test_waiver_expiring_today_still_applies(tmp_path: Path) -> None:
    comment = '  # lkpolicy: ignore[LK318] reason="x" expires=2026-06-15'
    _doc, outcome, _problems = check(tmp_path, ALL_CAPS.format(comment=comment),
                                     today=datetime.date(2026, 6, 15))
    assert [s.finding.rule_id for s in outcome.suppressed] == ["LK318"]
    assert outcome.meta_findings == []


def test_waiver_that_expired_yesterday_reports_again(tmp_path: Path) -> None:
    comment = '  # lkpolicy: ignore[LK318] reason="legacy agent" expires=2026-06-14'
    document, outcome, _problems = check(tmp_path, ALL_CAPS.format(comment=comment),
                                         today=datetime.date(2026, 6, 15))
    assert outcome.suppressed == []
    kept = [f for f in outcome.kept if f.rule_id == "LK318"]
    assert len(kept) == 1
    assert Location(document.path, 4, 26) in kept[0].related
    [expired] = outcome.meta_findings
    assert expired.rule_id == "LKW002"
    assert "waiver expired on 2026-06-14 (reason: legacy agent)" in expired.message
    assert (expired.location.line, expired.location.column) == (4, 26)
    assert get_rule("waiver-expired") is not None


# -- policy waivers ---------------------------------------------------------------------------

POLICY = """
waivers:
  - rule: LK318
    image: docker.io/library/a:*
    section: services
    name: "a*"
    reason: the agent needs the host
    expires: 2026-12-31
    owner: team-infra
  - rule: LK318
    file: "*.yml"
    pointer: /services/5
    reason: nothing there
    expires: 2026-12-31
  - rule: LK318
    expires: 2026-12-31
  - rule: LK999
    reason: typo
    expires: 2026-12-31
"""


def policy_waivers(tmp_path: Path, text: str = POLICY) -> tuple[list[Waiver], list[Finding]]:
    document = load(tmp_path, text, "policy.yml")
    return parse_policy_waivers(document.data["waivers"], document, "/waivers")


def test_policy_waivers_parse_with_positions(tmp_path: Path) -> None:
    waivers, problems = policy_waivers(tmp_path)
    assert problems == []
    assert [(w.rules, w.location.line, w.pointer) for w in waivers] == [
        (("LK318",), 2, "/waivers/0"), (("LK318",), 9, "/waivers/1"),
        (("LK318",), 14, "/waivers/2"), (("LK999",), 16, "/waivers/3")]
    first = waivers[0]
    assert (first.image, first.section, first.name, first.owner) == (
        "docker.io/library/a:*", "services", "a*", "team-infra")
    assert first.expires == datetime.date(2026, 12, 31)
    assert waivers[2].reason == ""


def test_policy_waivers_apply_by_container_context(tmp_path: Path) -> None:
    waivers, _problems = policy_waivers(tmp_path)
    config = load(tmp_path, ALL_CAPS.format(comment=""))
    findings = lint(merge([config]))
    outcome = apply_waivers(findings, waivers, TODAY, context=container_context(merge([config])))
    assert [(s.finding.rule_id, s.waiver.pointer) for s in outcome.suppressed] == [
        ("LK318", "/waivers/0")]
    meta = sorted((f.rule_id, f.pointer) for f in outcome.meta_findings)
    assert meta == [("LKW001", "/waivers/2"), ("LKW003", "/waivers/1"),
                    ("LKW004", "/waivers/3")]
    assert all(f.location.file.endswith("policy.yml") for f in outcome.meta_findings)


def test_policy_waiver_scope_needs_context(tmp_path: Path) -> None:
    waivers, _problems = policy_waivers(tmp_path)
    config = load(tmp_path, ALL_CAPS.format(comment=""))
    findings = lint(merge([config]))
    # Without a context, a waiver scoped to an image cannot be proven to match.
    outcome = apply_waivers(findings, waivers[:1], TODAY)
    assert outcome.suppressed == []
    other = apply_waivers(findings, waivers[:1], TODAY,
                          context=lambda f: ContainerContext("services", "a", "docker.io/x/y:1"))
    assert other.suppressed == []


def test_policy_pointer_prefix_is_segment_wise(tmp_path: Path) -> None:
    finding = Finding("LK318", get_rule("LK318").severity,  # type: ignore[union-attr]
                      "m", Location("c.yml", 4, 5), "/services/01/capabilities")
    waiver = Waiver(("LK318",), "r", Location("p.yml", 1, 1), WaiverKind.POLICY,
                    pointer_prefix="/services/0")
    assert apply_waivers([finding], [waiver], TODAY).suppressed == []
    wider = Waiver(("LK318",), "r", Location("p.yml", 1, 1), WaiverKind.POLICY,
                   pointer_prefix="/services/01/")
    assert len(apply_waivers([finding], [wider], TODAY).suppressed) == 1


@pytest.mark.parametrize(("entry", "message", "line"), [
    ("- {reason: x, expires: 2026-01-01}", "needs `rule`", 2),
    ("- {rule: LK318, reason: x}", "needs `expires", 2),
    ("- {rule: LK318, reason: x, expires: soon}", "is not a date", 2),
    ("- {rule: LK318, reason: x, expires: 2026-01-01, scope: all}", "unknown waiver key `scope`", 2),
    ("- {rule: LK318, reason: x, expires: 2026-01-01, section: kernel}", "`section` must be", 2),
    ("- {rule: LK318, reason: x, expires: 2026-01-01, pointer: services}", "JSON pointer", 2),
    ("- {rule: LK318, reason: [x], expires: 2026-01-01}", "`reason` must be a string", 2),
    ("- just a string", "must be a mapping", 2),
])
def test_invalid_policy_waivers(tmp_path: Path, entry: str, message: str, line: int) -> None:
    waivers, problems = policy_waivers(tmp_path, f"waivers:\n  {entry}\n")
    assert waivers == []
    assert len(problems) == 1, problems
    assert problems[0].rule_id == "LKW005"
    assert message in problems[0].message
    assert problems[0].location.line == line


def test_waivers_must_be_a_list(tmp_path: Path) -> None:
    waivers, problems = policy_waivers(tmp_path, "waivers: {rule: LK318}\n")
    assert waivers == [] and [p.rule_id for p in problems] == ["LKW005"]


def test_policy_expiry_uses_the_injected_date(tmp_path: Path) -> None:
    waivers, _problems = policy_waivers(tmp_path)
    config = load(tmp_path, ALL_CAPS.format(comment=""))
    merged = merge([config])
    findings = lint(merged)
    context = container_context(merged)
    on_day = apply_waivers(findings, waivers[:1], datetime.date(2026, 12, 31), context=context)
    after = apply_waivers(findings, waivers[:1], datetime.date(2027, 1, 1), context=context)
    assert len(on_day.suppressed) == 1 and on_day.meta_findings == []
    assert after.suppressed == []
    assert [f.rule_id for f in after.meta_findings] == ["LKW002"]
    assert "2026-12-31" in after.meta_findings[0].message


def test_known_rules_can_be_given(tmp_path: Path) -> None:
    waiver = Waiver(("LKZ102",), "r", Location("p.yml", 1, 1), WaiverKind.POLICY)
    assert [f.rule_id for f in apply_waivers([], [waiver], TODAY).meta_findings] == ["LKW004"]
    known = apply_waivers([], [waiver], TODAY, known_rules={"LKZ102"})
    assert [f.rule_id for f in known.meta_findings] == ["LKW003"]


def test_apply_does_not_modify_its_inputs(tmp_path: Path) -> None:
    comment = '  # lkpolicy: ignore[LK318] reason="x" expires=2020-01-01'
    document = load(tmp_path, ALL_CAPS.format(comment=comment))
    findings = lint(merge([document]))
    before = [list(f.related) for f in findings]
    waivers, _ = parse_inline_waivers(document)
    apply_waivers(findings, waivers, TODAY)
    assert [list(f.related) for f in findings] == before
