"""Policy patterns run in linear time with Python `re` meaning, or are refused at load (LKP005)."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.linearregex import PatternError, compile_pattern, literal_text
from lkpolicy.model.findings import InputError
from lkpolicy.stages.policy.loader import load_policy_file

runner = CliRunner()


def test_catastrophic_backtracking_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("extends: []\nrules:\n  LKP181:\n    forbidden: ['(a+)+$']\n"
                                    "  LKP182:\n    required: ['(a|aa)+b']\n")
    config = tmp_path / "c.yml"
    config.write_text("kernel:\n  image: linuxkit/kernel:6.6\n  cmdline: " + "a" * 32
                      + "! " + "a" * 40 + "\n")
    started = time.monotonic()
    result = runner.invoke(app, ["check", "--no-images", "--no-cache", "--fail-on", "warning", "--policy",
                                 str(tmp_path / "p.yml"), str(config)])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1, result.output
    assert "LKP182" in result.output and "no parameter matching `(a|aa)+b`" in result.output
    assert "LKP181" in result.output  # the 40 a's match `(a+)+$`; the 32 a's with `!` do not
    assert result.output.count("LKP181") == 1


@pytest.mark.parametrize(("pattern", "reason"), [
    (r"(a)\1", "backreferences"),
    (r"(?=a)b", "RE2"),
    (r"(?<!a)b", "RE2"),
    (r"\bfoo", "word boundaries"),
    (r"a*+", "RE2"),
    (r"(?>a)", "RE2"),
    (r"[[:alpha:]]", "POSIX classes"),
    (r"[\S]", "inside a character class"),
    (r"(?x) a b", "RE2"),
    (r"a{2000}", "RE2"),
    (r"\N{BULLET}", "named characters"),
    (r"(", "not a valid regular expression"),
])
def test_patterns_that_cannot_keep_their_meaning_are_lkp005(tmp_path: Path, pattern: str,
                                                            reason: str) -> None:
    path = tmp_path / "p.yml"
    quoted = pattern.replace("'", "''")
    path.write_text(f"extends: []\nrules:\n  LKP181:\n    forbidden: ['ok', '{quoted}']\n")
    with pytest.raises(InputError) as caught:
        load_policy_file(str(path))
    (finding,) = caught.value.findings
    assert finding.rule_id == "LKP005" and reason in finding.message
    assert (finding.location.line, finding.location.column) == (4, 23)
    assert "\n" not in finding.message


def test_keyless_identity_regex_is_checked_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("extends: []\ntrust:\n  authorities:\n    s:\n      type: sigstore\n"
                    "      trusted_root: root.json\n      identities:\n"
                    "        - {issuer: 'https://x', subject_regex: '(?=x)y'}\n")
    with pytest.raises(InputError) as caught:
        load_policy_file(str(path))
    assert caught.value.findings[0].rule_id == "LKP005"


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    (r"\d+", "٣٤", True),            # Arabic-Indic digits are digits to Python
    (r"\w+", "café_ß", True),
    (r"\s", "\u2003", True),
    (r"\s", "\x1c", True),           # Python's isspace(); RE2's \s would say no
    (r"\S+", "a\u00a0b", False),
    (r"[\d-]+", "1-٢", True),
    (r"a\Z", "a", True),
    (r"x{,2}", "xx", True),
    (r"x{,2}", "x{,2}", False),
    (r"[]a]+", "]a]", True),
    (r"\u00e9", "é", True),
    (r"(?i)CONSOLE=.*", "console=ttyS0", True),
])
def test_python_meaning_is_kept(pattern: str, text: str, expected: bool) -> None:
    assert (re.fullmatch(pattern, text) is not None) is expected
    assert compile_pattern(pattern).fullmatch(text) is expected


PIECES = st.sampled_from(["a", "b", "é", "1", "٣", " ", "\u00a0", "-", "_", ".", "\\d", "\\w",
                          "\\s", "\\D", "\\W", "\\S", "[ab]", "[^a]", "[\\d_]", "[\\w.]", "*",
                          "+", "?", "{1,2}", "{,2}", "(", ")", "|", "^", "$", "(?i)", "\\Z"])
TEXTS = st.text(alphabet=st.sampled_from(list("abAB1٣ \u00a0\u2003\x1c-_.é\n")), max_size=8)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(PIECES, max_size=8), texts=st.lists(TEXTS, min_size=1, max_size=5))
def test_same_answers_as_python_re(pieces: list[str], texts: list[str]) -> None:
    pattern = "".join(pieces)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reference = re.compile(pattern)
        except re.error:
            return
    try:
        linear = compile_pattern(pattern)
    except PatternError:
        return  # refused with a reason, which the LKP005 tests cover
    for text in texts:
        assert (reference.fullmatch(text) is not None) is linear.fullmatch(text), (pattern, text)


def test_plain_strings_are_recognised() -> None:
    assert literal_text(r"module\.sig_enforce=0") == "module.sig_enforce=0"
    assert literal_text("mitigations=off") == "mitigations=off"
    assert literal_text(r"a\\b") == "a\\b"
    for pattern in (r"\d", "a.b", "a*", "(a)", "[a]", "a{2}", "a|b", "^a", "a$", "a\\", r"\é"):
        assert literal_text(pattern) is None, pattern


LITERAL_PIECES = st.sampled_from(["a", "=", "é", " ", "_", "-", ",", ".", "*", "\\.", "\\-",
                                  "\\(", "\\\\", "\\_", "\\=", "\\d", "\\n", "\\1", "\\"])
LITERAL_TEXTS = st.text(alphabet=st.sampled_from(list("a=é _-,.*(\\\n1d")), max_size=6)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(LITERAL_PIECES, max_size=6),
       texts=st.lists(LITERAL_TEXTS, min_size=1, max_size=5))
def test_plain_strings_match_as_python_re_matches_them(pieces: list[str],
                                                      texts: list[str]) -> None:
    """A plain string is compared, not compiled: the same answers as Python's `re`."""
    pattern = "".join(pieces)
    try:
        reference = re.compile(pattern)
    except re.error:
        assert literal_text(pattern) is None
        return
    literal = literal_text(pattern)
    if literal is not None:
        texts = [*texts, literal]
    try:
        linear = compile_pattern(pattern)
    except PatternError:
        assert literal is None  # `\é`: Python's `re` reads a literal, RE2 refuses it
        return
    for text in texts:
        assert (reference.fullmatch(text) is not None) is linear.fullmatch(text), (pattern, text)
