"""The loader reads YAML as linuxkit's yaml.v3 does and keeps exact positions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lkpolicy.gocompat.yamlscalars import resolve_plain_scalar
from lkpolicy.model.findings import InputError, Severity
from lkpolicy.stages.load import MAX_CONFIG_BYTES, load_document


def load_text(tmp_path: Path, text: str | bytes, name: str = "c.yml"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return load_document(str(path))


def load_error(tmp_path: Path, text: str | bytes) -> InputError:
    with pytest.raises(InputError) as caught:
        load_text(tmp_path, text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"),
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
        ("tRue", "tRue"),
        ("null", None), ("~", None), ("", None), ("NULL", None),
        ("0644", 420), ("010", 8), ("0x10", 16), ("0o17", 15), ("0b101", 5), ("+7", 7),
        ("1_000", 1000), ("-1", -1), ("0", 0), ("-0x10", -16),
        ("08", 8.0), ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5),
        ("2001-12-14", "2001-12-14"), ("_", "_"), ("0x", "0x"), ("1.2.3", "1.2.3"),
        ("18446744073709551615", 18446744073709551615),
    ],
)
def test_plain_scalars_follow_yaml_v3(text: str, expected: object) -> None:
    value = resolve_plain_scalar(text)
    assert value == expected
    assert type(value) is type(expected)


def test_special_floats() -> None:
    assert resolve_plain_scalar(".inf") == math.inf
    assert resolve_plain_scalar("-.Inf") == -math.inf
    assert math.isnan(resolve_plain_scalar(".nan"))


def test_quoted_and_tagged_scalars_stay_strings(tmp_path: Path) -> None:
    document, _ = load_text(tmp_path, 'a: "0644"\nb: \'true\'\nc: !!str 12\nd: |\n  x\ne: !!int "7"\n')
    assert document.data == {"a": "0644", "b": "true", "c": "12", "d": "x\n", "e": 7}


def test_positions_of_keys_values_and_items(tmp_path: Path) -> None:
    text = "kernel:\n  image: k\nonboot:\n  - name: a\n    image: b\n    binds:\n      - /x:/y\n"
    document, warnings = load_text(tmp_path, text)
    assert warnings == []
    assert document.location("/kernel/image", key=True).line == 2
    assert (document.location("/onboot/0/image").line, document.location("/onboot/0/image").column) == (5, 12)
    assert (document.location("/onboot/0/binds/0").line, document.location("/onboot/0/binds/0").column) == (7, 9)
    assert document.location("/onboot/0").line == 4
    # A pointer below an existing node falls back to its nearest ancestor.
    assert document.location("/onboot/0/missing").line == 4


def test_leading_zero_integer_is_recorded(tmp_path: Path) -> None:
    document, _ = load_text(tmp_path, "files:\n  - path: x\n    mode: 0644\n")
    assert document.data["files"][0]["mode"] == 420
    assert document.scalars["/files/0/mode"].text == "0644"


def test_only_first_document_is_used_with_a_warning(tmp_path: Path) -> None:
    document, warnings = load_text(tmp_path, "init: [a]\n---\ninit: [b]\n---\nfoo: 1\n")
    assert document.data == {"init": ["a"]}
    assert [w.rule_id for w in warnings] == ["LK109"]
    assert warnings[0].severity is Severity.WARNING
    assert "2 more YAML document" in warnings[0].message
    assert warnings[0].location.line == 3


def test_syntax_error_in_ignored_document_is_only_mentioned(tmp_path: Path) -> None:
    document, warnings = load_text(tmp_path, "init: [a]\n---\n: : [\n")
    assert document.data == {"init": ["a"]}
    assert "YAML error at line" in warnings[0].message


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    error = load_error(tmp_path, "onboot:\n  - name: a\n    image: x\n    name: b\n")
    (finding,) = error.findings
    assert finding.rule_id == "LK102"
    assert finding.message == 'mapping key "name" already defined at line 2'
    assert (finding.location.line, finding.location.column) == (4, 5)
    assert finding.related[0].line == 2


def test_all_duplicate_keys_are_reported(tmp_path: Path) -> None:
    error = load_error(tmp_path, "a: 1\na: 2\nb: 1\nb: 2\n")
    assert [f.location.line for f in error.findings] == [2, 4]


@pytest.mark.parametrize("key", ["1", "true", "~", "1.5", "[a]"])
def test_non_string_keys_are_errors_not_crashes(tmp_path: Path, key: str) -> None:
    error = load_error(tmp_path, f"{key}: x\n")
    assert error.findings[0].rule_id == "LK103"
    assert error.findings[0].location.line == 1


def test_nested_non_string_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, "onboot:\n  - name: a\n    sysctl:\n      1: x\n")
    assert error.findings[0].rule_id == "LK103"
    assert error.findings[0].location.line == 4
    assert error.findings[0].pointer == "/onboot/0/sysctl"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert load_error(tmp_path, text).findings[0].rule_id == "LK104"


def test_lone_document_marker_is_an_empty_config(tmp_path: Path) -> None:
    document, _ = load_text(tmp_path, "---\n")
    assert document.data == {}


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("hello\n", "scalar")])
def test_non_mapping_document(tmp_path: Path, text: str, kind: str) -> None:
    finding = load_error(tmp_path, text).findings[0]
    assert finding.rule_id == "LK105"
    assert kind in finding.message


def test_bad_utf8_points_at_the_byte(tmp_path: Path) -> None:
    finding = load_error(tmp_path, b"init:\n  - caf\xe9\n").findings[0]
    assert finding.rule_id == "LK106"
    assert (finding.location.line, finding.location.column) == (2, 8)


def test_binary_file(tmp_path: Path) -> None:
    finding = load_error(tmp_path, b"\x7fELF\x02\x01\x01\x00\x00\x00").findings[0]
    assert finding.rule_id == "LK107"


def test_control_character(tmp_path: Path) -> None:
    finding = load_error(tmp_path, "a: b\x07\n").findings[0]
    assert finding.rule_id == "LK106"
    assert finding.location.column == 5


def test_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    with path.open("wb") as handle:
        handle.write(b"# x\n")
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(InputError) as caught:
        load_document(str(path))
    assert caught.value.findings[0].rule_id == "LK108"
    assert MAX_CONFIG_BYTES < 50 * 1024 * 1024


def test_alias_bomb_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    finding = load_error(tmp_path, "\n".join(lines) + "\n").findings[0]
    assert finding.rule_id == "LK108"


def test_recursive_alias(tmp_path: Path) -> None:
    finding = load_error(tmp_path, "a: &x [*x]\n").findings[0]
    assert finding.rule_id in ("LK110", "LK101")


def test_syntax_error_position(tmp_path: Path) -> None:
    finding = load_error(tmp_path, "kernel:\n  image: a\n   cmdline: b\n").findings[0]
    assert finding.rule_id == "LK101"
    assert finding.location.line == 3


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_document(str(tmp_path / "nope.yml"))
    assert caught.value.findings[0].rule_id == "LK100"
    with pytest.raises(InputError) as caught:
        load_document(str(tmp_path))
    assert "directory" in caught.value.findings[0].message


def test_merge_keys_and_anchors(tmp_path: Path) -> None:
    text = "onboot:\n  - &base {name: a, image: x, net: host}\n  - <<: *base\n    name: b\n"
    document, _ = load_text(tmp_path, text)
    assert document.data["onboot"][1] == {"name": "b", "image": "x", "net": "host"}
    assert document.location("/onboot/1/name", key=True).line == 4


def test_utf8_bom_and_non_ascii(tmp_path: Path) -> None:
    document, _ = load_text(tmp_path, "\ufeffinit: [café]\n".encode())
    assert document.data == {"init": ["café"]}


def test_escaped_surrogates_are_paired_or_replaced(tmp_path: Path) -> None:
    document, _ = load_text(tmp_path, 'a: "\\ud83d\\ude00"\nb: "\\ud800x"\n')
    assert document.data == {"a": "\U0001f600", "b": "\ufffdx"}
