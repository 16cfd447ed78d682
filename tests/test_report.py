"""The output formats of `lkpolicy check`: layout, schemas, fingerprints and escaping."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import skip_or_fail

from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, Location, Severity
from lkpolicy.model.rules import Fixability, Rule
from lkpolicy.report import FORMATS, Report, render, use_color
from lkpolicy.report.fingerprint import (
    FINGERPRINT_KEY,
    StructuralKeys,
    finding_fingerprint,
    fingerprint,
    number_repeats,
)
from lkpolicy.report.github import escape_data, escape_property, render_github
from lkpolicy.report.json_format import to_json_data
from lkpolicy.report.sarif import to_sarif_data
from lkpolicy.report.text import display_width, render_text, sanitize, summary_line
from lkpolicy.stages.load import YAML_SYNTAX

# Throw-away rules built directly, so the global catalogue stays untouched.
UNKNOWN_KEY = Rule(
    "LK901", "test-unknown-key", "A key the schema does not allow", Severity.ERROR, "schema",
    "Unknown keys are silently ignored by `linuxkit`.", "Correct the spelling of the key.",
)
WEAK = Rule(
    "LK902", "test-weak-setting", "A weak setting", Severity.WARNING, "security",
    "Weak settings widen the attack surface.", "Drop the setting.",
    linuxkit="accepted without complaint", fixability=Fixability.ALWAYS,
)
NOTE = Rule(
    "LK903", "test-note", "Something worth knowing", Severity.INFO, "lint",
    "Just so you know.", "Nothing to do.",
)
RULES = [UNKNOWN_KEY, WEAK, NOTE, YAML_SYNTAX]

CONFIG = """\
kernel:
  image: linuxkit/kernel:6.6
onboot:
  - name: sysctl
    capabilites: [all]
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def make_document(text: str = CONFIG, path: str = "a.yml") -> Document:
    return Document(path=path, text=text, data={})


def make_report(findings: list[Finding], **kwargs: Any) -> Report:
    documents = kwargs.pop("documents", {"a.yml": make_document()})
    files = kwargs.pop("files", sorted({f.location.file for f in findings} | set(documents)))
    return Report(findings=findings, documents=documents, files=files, tool_version="1.2.3",
                  rules=kwargs.pop("rules", RULES), **kwargs)


def unknown_key(line: int = 5, column: int = 5, pointer: str = "/onboot/0/capabilites",
                file: str = "a.yml") -> Finding:
    return UNKNOWN_KEY.finding(
        "unknown key `capabilites`", Location(file, line, column), pointer,
        hint="did you mean `capabilities`?",
    )


def sample_findings() -> list[Finding]:
    return [
        WEAK.finding("capabilities: all", Location("a.yml", 5, 18), "/onboot/0/capabilites/0",
                     related=[Location("a.yml", 4, 5)]),
        unknown_key(),
        NOTE.finding("whole-file note", Location("b.yml"), ""),
        YAML_SYNTAX.finding("bad\nthings", Location("c d.yml", 2, 0)),
    ]


# --- model -------------------------------------------------------------------------------


def test_summary_counts() -> None:
    report = make_report(sample_findings())
    assert report.counts() == {Severity.ERROR: 2, Severity.WARNING: 1, Severity.INFO: 1}
    assert list(report.counts()) == [Severity.ERROR, Severity.WARNING, Severity.INFO]
    assert (report.errors, report.warnings) == (2, 1)
    assert report.file_count == 3
    assert report.files_with_findings() == ["a.yml", "b.yml", "c d.yml"]
    assert report.max_severity() is Severity.ERROR
    assert make_report([NOTE.finding("n", Location("a.yml", 1, 1))]).max_severity() is Severity.INFO
    assert make_report([]).max_severity() is None


def test_rule_lookup_uses_the_given_rules_only() -> None:
    report = make_report([])
    assert report.rule("LK901") is UNKNOWN_KEY
    assert report.rule("LK999") is None
    assert [rule.id for rule in report.catalogue()] == ["LK101", "LK901", "LK902", "LK903"]


def test_rule_lookup_defaults_to_the_catalogue() -> None:
    report = Report(findings=[], tool_version="1")
    assert report.rule("LK101") is YAML_SYNTAX
    assert any(rule.id == "LK101" for rule in report.catalogue())


# --- text ----------------------------------------------------------------------------------


def test_text_layout_with_source_caret_hint_and_note() -> None:
    finding = unknown_key()
    finding.related = [Location("a.yml", 4, 5), Location("other.yml", 7, 0)]
    out = render_text(make_report([finding], files=["a.yml"]))
    assert out == (
        "a.yml:5:5: error LK901 unknown key `capabilites`\n"
        " 5 |     capabilites: [all]\n"
        "   |     ^^^^^^^^^^^\n"
        "   = hint: did you mean `capabilities`?\n"
        "   = note: see also a.yml:4:5\n"
        "   = note: see also other.yml:7\n"
        "   = help: `lkpolicy explain LK901` says why the rule exists and how to fix what it "
        "finds\n"
        "\n"
        "Found 1 error in 1 file.\n"
    )


def test_text_caret_sits_under_the_column() -> None:
    out = render_text(make_report([unknown_key(line=2, column=10)])).splitlines()
    source, caret = out[1], out[2]
    assert source.index("linuxkit/kernel") == caret.index("^")


def test_text_caret_accounts_for_tabs_and_wide_characters() -> None:
    text = "key:\t\"日本語\" x\n"
    document = make_document(text)
    # Column 12 is the `x` (code points: k e y : TAB " 日 本 語 " space x).
    finding = NOTE.finding("here", Location("a.yml", 1, 12), "/key")
    out = render_text(make_report([finding], documents={"a.yml": document})).splitlines()
    source, caret = out[1], out[2]
    prefix = source[: source.index("x")]
    assert display_width(prefix) == display_width(caret[: caret.index("^")])
    assert "\t" not in source


def test_text_caret_past_end_of_line_and_line_past_end_of_file() -> None:
    past_end = NOTE.finding("eol", Location("a.yml", 1, 8))
    beyond = NOTE.finding("eof", Location("a.yml", 99, 1))
    lines = render_text(make_report([past_end, beyond])).splitlines()
    assert lines[1] == " 1 | kernel:"
    assert lines[2] == "   |        ^"
    assert lines[5] == "a.yml:99:1: info LK903 eof"
    assert lines[6] == ""


def test_text_without_document_or_position() -> None:
    findings = [
        unknown_key(file="missing.yml"),
        NOTE.finding("whole file", Location("b.yml"), ""),
        UNKNOWN_KEY.finding("line only", Location("a.yml", 1, 0)),
    ]
    out = render_text(make_report(findings)).splitlines()
    assert out == [
        "a.yml:1: error LK901 line only",
        " 1 | kernel:",
        "   = help: `lkpolicy explain LK901` says why the rule exists and how to fix what it finds",
        "",
        "b.yml: info LK903 whole file",
        "",
        "missing.yml:5:5: error LK901 unknown key `capabilites`",
        "   = hint: did you mean `capabilities`?",
        "",
        "Found 2 errors, 1 info in 3 files.",
    ]


def test_text_multiline_message_and_hint_are_indented() -> None:
    finding = UNKNOWN_KEY.finding("first\nsecond\r\nthird", Location("a.yml", 1, 1),
                                  hint="try this\nor that")
    out = render_text(make_report([finding])).splitlines()
    assert out[:6] == [
        "a.yml:1:1: error LK901 first",
        "    second",
        "    third",
        " 1 | kernel:",
        "   | ^^^^^^",
        "   = hint: try this",
    ]
    assert out[6] == "           or that"
    assert not any(line.startswith("second") for line in out)


def test_text_escapes_terminal_control_characters() -> None:
    evil = "ok\x1b[2K\x1b[1A\u202eevil\x07"
    document = make_document(f"{evil}: 1\n")
    finding = UNKNOWN_KEY.finding(f"unknown key `{evil}`", Location("a\x1b.yml", 1, 3))
    out = render_text(make_report([finding], documents={"a\x1b.yml": document}))
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "\\x1b[2K" in out and "\\u202e" in out
    assert sanitize("a\tb\x7f\x9b") == "a    b\\x7f\\x9b"
    lines = out.splitlines()
    assert lines[2].index("^") == lines[1].index("\\x1b")


def test_text_source_lines_follow_yaml_line_breaks() -> None:
    # U+2028 and U+0085 are content to YAML 1.2; str.splitlines() would shift every later line.
    document = make_document('a: "x\u2028y\x85z"\r\nb: 1\rc: 2\n')
    finding = NOTE.finding("here", Location("a.yml", 3, 1), "/c")
    lines = render_text(make_report([finding], documents={"a.yml": document})).splitlines()
    assert lines[1] == " 3 | c: 2"
    first = NOTE.finding("here", Location("a.yml", 1, 1), "/a")
    lines = render_text(make_report([first], documents={"a.yml": document})).splitlines()
    assert lines[1] == ' 1 | a: "x\\u2028y\\x85z"'


def test_text_summary_lines() -> None:
    assert summary_line(make_report([], files=["a.yml"])) == "All checks passed (1 file)."
    assert summary_line(make_report([], files=["a.yml", "b.yml"], documents={})) == (
        "All checks passed (2 files)."
    )
    assert summary_line(make_report(sample_findings())) == (
        "Found 2 errors, 1 warning, 1 info in 3 files."
    )
    two_warnings = [WEAK.finding("w", Location("a.yml", 1, 1))] * 2
    assert summary_line(make_report(two_warnings)) == "Found 2 warnings in 1 file."
    assert render_text(make_report([], files=["a.yml"])) == "All checks passed (1 file).\n"


def test_text_colour_is_off_by_default_and_only_adds_escapes() -> None:
    report = make_report(sample_findings())
    plain = render(report=report, format_name="text")
    coloured = render("text", report, color=True)
    assert "\x1b" not in plain
    assert "\x1b[1;31merror\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class _ClosedStream(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_use_color_needs_a_terminal_and_no_no_color() -> None:
    assert use_color(_Stream(True), {})
    assert not use_color(_Stream(False), {})
    assert not use_color(_Stream(True), {"NO_COLOR": "1"})
    assert use_color(_Stream(True), {"NO_COLOR": ""})
    assert not use_color(_Stream(True), {"TERM": "dumb"})
    assert not use_color(_ClosedStream(), {})


# --- json ----------------------------------------------------------------------------------


def _documented_json_schema(project_root: Path) -> dict[str, Any]:
    doc = (project_root / "docs" / "output-formats.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- json-output-schema -->\s*```json\n(.*?)```", doc, re.S)
    assert match, "docs/output-formats.md lost its JSON schema block"
    schema: dict[str, Any] = json.loads(match.group(1))
    return schema


def test_json_shape_and_order(project_root: Path) -> None:
    findings = [*sample_findings(), UNKNOWN_KEY.finding("unknown rule", Location("a.yml", 1, 1))]
    findings[-1].rule_id = "LK999"
    report = make_report(findings)
    out = render("json", report)
    assert out.endswith("}\n") and out.isascii()
    data = json.loads(out)
    jsonschema.Draft202012Validator(_documented_json_schema(project_root)).validate(data)
    assert list(data) == ["version", "tool", "summary", "findings", "suppressed"]
    assert data["version"] == 1
    assert data["tool"] == {"name": "lkpolicy", "version": "1.2.3"}
    assert data["summary"] == {"files": 3, "errors": 3, "warnings": 1, "info": 1}
    keys = [(f["file"], f["line"], f["column"], f["rule"]) for f in data["findings"]]
    assert keys == sorted(keys)
    assert keys == [
        ("a.yml", 1, 1, "LK999"),
        ("a.yml", 5, 5, "LK901"),
        ("a.yml", 5, 18, "LK902"),
        ("b.yml", 0, 0, "LK903"),
        ("c d.yml", 2, 0, "LK101"),
    ]
    first_real = data["findings"][1]
    assert first_real == {
        "rule": "LK901",
        "name": "test-unknown-key",
        "severity": "error",
        "message": "unknown key `capabilites`",
        "file": "a.yml",
        "line": 5,
        "column": 5,
        "pointer": "/onboot/0/capabilites",
        "hint": "did you mean `capabilities`?",
        "fix": None,
        "related": [],
        # The same identity as SARIF's partialFingerprints.
        "fingerprint": to_sarif_data(report)["runs"][0]["results"][1]["partialFingerprints"][
            FINGERPRINT_KEY],
    }
    assert data["findings"][0]["name"] is None
    assert data["findings"][2]["related"] == [{"file": "a.yml", "line": 4, "column": 5}]
    assert data["findings"][2]["hint"] is None
    assert data["findings"][4]["message"] == "bad\nthings"


def test_json_clean_run(project_root: Path) -> None:
    data = to_json_data(make_report([], files=["a.yml", "b.yml"]))
    jsonschema.Draft202012Validator(_documented_json_schema(project_root)).validate(data)
    assert data["findings"] == []
    assert data["summary"] == {"files": 2, "errors": 0, "warnings": 0, "info": 0}


def test_json_escapes_non_ascii() -> None:
    finding = UNKNOWN_KEY.finding("clé inconnue", Location("a.yml", 1, 1))
    out = render("json", make_report([finding]))
    assert out.isascii()
    assert json.loads(out)["findings"][0]["message"] == "clé inconnue"


# --- sarif ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator(shared_dir: Path) -> jsonschema.Draft4Validator:
    path = shared_dir / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
    if not path.is_file():
        skip_or_fail(f"official SARIF 2.1.0 schema not found at {path}; cannot validate SARIF")
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def sarif_report(tmp_path: Path) -> Report:
    findings = [
        *sample_findings(),
        UNKNOWN_KEY.finding("absolute outside", Location("/elsewhere/x.yml", 3, 1), "/x"),
        WEAK.finding("absolute inside", Location(str(tmp_path / "sub" / "in.yml"), 1, 1), "/y"),
    ]
    findings[0].rule_id = "LK999"  # a rule the metadata does not know
    return make_report(findings, root=str(tmp_path), files=["a.yml", "b.yml", "c d.yml", "clean.yml"])


def test_sarif_validates_against_the_official_schema(
    tmp_path: Path, sarif_validator: jsonschema.Draft4Validator
) -> None:
    out = render("sarif", sarif_report(tmp_path))
    assert out.isascii()
    sarif_validator.validate(json.loads(out))
    sarif_validator.validate(to_sarif_data(make_report([])))


def test_sarif_with_the_real_catalogue_validates(
    sarif_validator: jsonschema.Draft4Validator,
) -> None:
    report = Report(findings=[YAML_SYNTAX.finding("bad", Location("a.yml", 1, 2))], tool_version="0.1.0")
    data = to_sarif_data(report)
    sarif_validator.validate(data)
    rules = data["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) > 1 and rules[data["runs"][0]["results"][0]["ruleIndex"]]["id"] == "LK101"


def test_sarif_run_metadata_and_rules(tmp_path: Path) -> None:
    data = to_sarif_data(sarif_report(tmp_path))
    assert data["$schema"].endswith("sarif-schema-2.1.0.json")
    assert data["version"] == "2.1.0"
    [run] = data["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lkpolicy"
    assert driver["semanticVersion"] == "1.2.3"
    assert [rule["id"] for rule in driver["rules"]] == ["LK101", "LK901", "LK902", "LK903"]
    weak = driver["rules"][2]
    assert weak["name"] == "test-weak-setting"
    assert weak["shortDescription"] == {"text": "A weak setting"}
    assert weak["fullDescription"] == {"text": "Weak settings widen the attack surface."}
    assert "Drop the setting." in weak["help"]["text"]
    assert "**Fix:** Drop the setting." in weak["help"]["markdown"]
    assert "accepted without complaint" in weak["help"]["text"]
    assert weak["defaultConfiguration"] == {"level": "warning"}
    assert weak["properties"] == {"tags": ["security"], "fixability": "always",
                                  "security-severity": "5.0"}
    assert driver["rules"][3]["defaultConfiguration"] == {"level": "note"}
    assert driver["rules"][1]["properties"] == {"tags": ["schema"], "fixability": "never"}
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"
    artifact_uris = [artifact["location"]["uri"] for artifact in run["artifacts"]]
    assert artifact_uris[:4] == ["a.yml", "b.yml", "c%20d.yml", "clean.yml"]


def test_sarif_results(tmp_path: Path) -> None:
    run = to_sarif_data(sarif_report(tmp_path))["runs"][0]
    results = run["results"]
    rules = run["tool"]["driver"]["rules"]
    by_message = {result["message"]["text"].split("\n")[0]: result for result in results}

    key = by_message["unknown key `capabilites`"]
    assert rules[key["ruleIndex"]]["id"] == key["ruleId"] == "LK901"
    assert key["level"] == "error"
    assert key["message"]["text"] == "unknown key `capabilites`\nHint: did you mean `capabilities`?"
    [location] = key["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "a.yml"
    assert location["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert location["physicalLocation"]["region"] == {
        "startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 16}
    assert key["partialFingerprints"] == {
        FINGERPRINT_KEY: fingerprint("LK901", "a.yml", "/onboot/0/capabilites")
    }
    assert key["properties"] == {"pointer": "/onboot/0/capabilites"}
    index = location["physicalLocation"]["artifactLocation"]["index"]
    assert run["artifacts"][index]["location"]["uri"] == "a.yml"

    unknown_rule = by_message["capabilities: all"]
    assert unknown_rule["ruleId"] == "LK999" and "ruleIndex" not in unknown_rule
    assert unknown_rule["level"] == "warning"
    [related] = unknown_rule["relatedLocations"]
    assert related["physicalLocation"]["region"] == {
        "startLine": 4, "startColumn": 5, "endLine": 4, "endColumn": 9}

    whole_file = by_message["whole-file note"]
    assert whole_file["level"] == "note"
    assert whole_file["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "properties" not in whole_file

    line_only = by_message["bad"]
    physical = line_only["locations"][0]["physicalLocation"]
    assert physical["region"] == {"startLine": 2}
    assert physical["artifactLocation"]["uri"] == "c%20d.yml"

    outside = by_message["absolute outside"]["locations"][0]["physicalLocation"]
    assert outside["artifactLocation"]["uri"] == "file:///elsewhere/x.yml"
    assert "uriBaseId" not in outside["artifactLocation"]
    inside = by_message["absolute inside"]["locations"][0]["physicalLocation"]
    assert inside["artifactLocation"]["uri"] == "sub/in.yml"
    assert inside["artifactLocation"]["uriBaseId"] == "%SRCROOT%"


def test_sarif_uris_are_relative_forward_slash_and_encoded(tmp_path: Path) -> None:
    finding = NOTE.finding("n", Location("./dir/sub dir/#1:x.yml", 1, 1))
    data = to_sarif_data(make_report([finding], root=str(tmp_path)))
    uri = data["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "dir/sub%20dir/%231%3Ax.yml"


def test_fingerprint_ignores_line_and_message_but_not_pointer_rule_or_file() -> None:
    keys = StructuralKeys({"a.yml": make_document()})
    base = finding_fingerprint(unknown_key(line=5, column=5), keys)
    moved = unknown_key(line=40, column=9)
    moved.message = "reworded"
    assert finding_fingerprint(moved, keys) == base
    assert finding_fingerprint(unknown_key(pointer="/onboot/1/capabilites"), keys) != base
    assert finding_fingerprint(unknown_key(file="b.yml"), keys) != base
    assert fingerprint("LK902", "a.yml", "/onboot/0/capabilites") != base
    assert fingerprint("LK901", "./a.yml", "/onboot/0/capabilites") == base
    assert re.fullmatch(r"[0-9a-f]{64}", base)


def test_sarif_fingerprints_stable_across_line_moves() -> None:
    def result_fingerprints(line: int, pointer: str) -> dict[str, str]:
        data = to_sarif_data(make_report([unknown_key(line=line, pointer=pointer)]))
        result: dict[str, str] = data["runs"][0]["results"][0]["partialFingerprints"]
        return result

    assert result_fingerprints(5, "/onboot/0/capabilites") == result_fingerprints(9, "/onboot/0/capabilites")
    assert result_fingerprints(5, "/onboot/0/capabilites") != result_fingerprints(5, "/onboot/1/capabilites")


def test_repeated_fingerprints_are_numbered() -> None:
    twice = [YAML_SYNTAX.finding("a", Location("a.yml", 1, 1)),
             YAML_SYNTAX.finding("b", Location("a.yml", 3, 1)),
             YAML_SYNTAX.finding("c", Location("b.yml", 3, 1))]
    keys = StructuralKeys({})
    first, second, other = number_repeats(finding_fingerprint(f, keys) for f in twice)
    assert second == f"{first}:2"
    assert ":" not in first and ":" not in other and other != first


# --- github --------------------------------------------------------------------------------


def test_github_commands() -> None:
    out = render_github(make_report(sample_findings()))
    assert out.splitlines() == [
        "::error file=a.yml,line=5,col=5,title=LK901 (test-unknown-key)::"
        "unknown key `capabilites`%0Ahint: did you mean `capabilities`?",
        "::warning file=a.yml,line=5,col=18,title=LK902 (test-weak-setting)::"
        "capabilities: all%0Asee also a.yml:4:5",
        "::notice file=b.yml,title=LK903 (test-note)::whole-file note",
        "::error file=c d.yml,line=2,title=LK101 (yaml-syntax-error)::bad%0Athings",
    ]
    assert render("github", make_report([])) == ""


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    finding = UNKNOWN_KEY.finding("line one\nline two: 50%, more\r", Location("we,ird:name.yml", 2, 3))
    finding.rule_id = "LK999"
    [line] = render_github(make_report([finding])).splitlines()
    assert line == (
        "::error file=we%2Cird%3Aname.yml,line=2,col=3,title=LK999::"
        "line one%0Aline two: 50%25, more%0D"
    )


def test_github_paths_are_relative_to_the_root(tmp_path: Path) -> None:
    finding = NOTE.finding("n", Location(str(tmp_path / "cfg" / "a.yml"), 1, 1))
    out = render_github(make_report([finding], root=str(tmp_path)))
    assert out.startswith("::notice file=cfg/a.yml,line=1,col=1,")


# --- dispatch and startup cost -------------------------------------------------------------


@pytest.mark.parametrize("format_name", FORMATS)
def test_every_format_renders_a_trailing_newline(format_name: str) -> None:
    out = render(format_name, make_report(sample_findings()))
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render("xml", make_report([]))


def test_text_rendering_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from lkpolicy.model.findings import Location, Severity\n"
        "from lkpolicy.model.rules import Rule\n"
        "from lkpolicy.report import Report, render\n"
        "rule = Rule('LK900', 'x', 'x', Severity.ERROR, 'x', 'x', 'x')\n"
        "f = rule.finding('m', Location('a.yml', 1, 1))\n"
        "render('text', Report([f], rules=[rule]), color=True)\n"
        "heavy = [m for m in ('rich', 'typer', 'jsonschema', 'ruamel', 'ruamel.yaml', 'hashlib')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.stdout.strip() == ""


def test_text_carets_underline_the_whole_value() -> None:
    document = make_document('a: "x y" # c\nb: [one, two]\nc: |\n  block\n')
    findings = [NOTE.finding("q", Location("a.yml", 1, 4)), NOTE.finding("f", Location("a.yml", 2, 10)),
                NOTE.finding("b", Location("a.yml", 3, 4))]
    lines = render_text(make_report(findings, documents={"a.yml": document})).splitlines()
    carets = [line for line in lines if line.strip().startswith("|") and "^" in line]
    assert [line.split("|", 1)[1].rstrip() for line in carets] == [
        "    ^^^^^", "          ^^^", "    ^"]


def test_text_marks_fixable_findings_and_counts_them() -> None:
    from lkpolicy.model.fixes import set_value

    fixable = unknown_key()
    fixable.fix = set_value("/x", "y", "write y")
    out = render_text(make_report([fixable, NOTE.finding("n", Location("a.yml", 1, 1))]))
    assert "a.yml:5:5: error LK901 [*] unknown key" in out
    assert "a.yml:1:1: info LK903 n" in out
    assert out.endswith("Found 1 error, 1 info in 1 file.\n"
                        "[*] 1 fixable with `lkpolicy check --fix` (`--diff` to preview).\n")
    assert out.count("lkpolicy explain") == 1
