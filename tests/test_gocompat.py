"""The Go-compatibility helpers against Go's documented and observed behaviour.

Expected values are facts about Go (the strconv, path and filepath documentation and their
examples, yaml.v3's resolver as observed in ../shared/spec/linuxkit-config.md), not the
output of the helpers themselves. Where Python's own function would answer differently, the
case says so: those are the differences the helpers exist for.
"""

from __future__ import annotations

import math

import pytest

from lkpolicy.gocompat import gojson, goyaml
from lkpolicy.gocompat import paths as gopath
from lkpolicy.gocompat.numbers import NumError, format_float, parse_int, parse_uint
from lkpolicy.gocompat.quoting import quote
from lkpolicy.gocompat.yamlscalars import can_use_plain, resolve_plain_scalar

# --------------------------------------------------------------------------------------------
# strconv.ParseUint / ParseInt


@pytest.mark.parametrize(("text", "base", "bits", "value"), [
    ("0", 10, 64, 0),
    ("18446744073709551615", 10, 64, 2**64 - 1),
    ("4294967295", 10, 32, 2**32 - 1),
    ("0777", 8, 32, 0o777),
    ("ff", 16, 8, 255),
    ("FF", 16, 8, 255),
    ("zz", 36, 64, 36 * 36 - 1),
    # Base 0: prefixes, a leading zero is octal, underscores between digits.
    ("0", 0, 64, 0),
    ("00", 0, 64, 0),
    ("0644", 0, 64, 0o644),
    ("0x1F", 0, 64, 31),
    ("0X1f", 0, 64, 31),
    ("0o17", 0, 64, 15),
    ("0O17", 0, 64, 15),
    ("0b101", 0, 64, 5),
    ("1_000", 0, 64, 1000),
    ("0x_1f", 0, 64, 31),
    ("0_7", 0, 64, 7),
])
def test_parse_uint_accepts(text: str, base: int, bits: int, value: int) -> None:
    assert parse_uint(text, base, bits) == value


@pytest.mark.parametrize(("text", "base", "bits", "problem"), [
    ("", 10, 64, "invalid syntax"),
    # Python's int() accepts every one of these.
    ("1_000", 10, 64, "invalid syntax"),      # underscores only with base 0
    ("+5", 10, 64, "invalid syntax"),         # no sign for unsigned numbers
    ("-0", 10, 64, "invalid syntax"),
    (" 5", 10, 64, "invalid syntax"),         # no white space
    ("5\n", 10, 64, "invalid syntax"),
    ("\u0663", 10, 64, "invalid syntax"),     # ARABIC-INDIC DIGIT THREE
    ("0o777", 8, 32, "invalid syntax"),       # a prefix only with base 0
    ("0x10", 16, 64, "invalid syntax"),
    # Base 0 underscores: only between digits, or after a prefix.
    ("_1", 0, 64, "invalid syntax"),
    ("1_", 0, 64, "invalid syntax"),
    ("1__0", 0, 64, "invalid syntax"),
    ("0x_", 0, 64, "invalid syntax"),
    ("0x", 0, 64, "invalid syntax"),
    ("08", 0, 64, "invalid syntax"),
    # Ranges.
    ("18446744073709551616", 10, 64, "value out of range"),
    ("4294967296", 10, 32, "value out of range"),
    ("100", 16, 8, "value out of range"),
    ("99999999999999999999x", 10, 64, "value out of range"),  # Go stops at the overflow
    ("1", 1, 64, "invalid base 1"),
    ("1", 37, 64, "invalid base 37"),
    ("1", 10, 65, "invalid bit size 65"),
])
def test_parse_uint_refuses(text: str, base: int, bits: int, problem: str) -> None:
    with pytest.raises(NumError) as caught:
        parse_uint(text, base, bits)
    assert caught.value.problem == problem
    assert str(caught.value) == f"strconv.ParseUint: parsing {quote(text)}: {problem}"


@pytest.mark.parametrize(("text", "base", "bits", "value"), [
    ("+644", 8, 32, 0o644),
    ("-1", 8, 32, -1),
    ("17777777777", 8, 32, 2**31 - 1),
    ("-20000000000", 8, 32, -(2**31)),
    ("-9223372036854775808", 10, 64, -(2**63)),
    ("-0x10", 0, 64, -16),
    ("+0x10", 0, 64, 16),
    ("-0x8000000000000000", 0, 64, -(2**63)),
    ("0x1_0", 0, 64, 16),
])
def test_parse_int_accepts(text: str, base: int, bits: int, value: int) -> None:
    assert parse_int(text, base, bits) == value


@pytest.mark.parametrize(("text", "base", "bits", "problem"), [
    ("", 8, 32, "invalid syntax"),   # an absent device mode (spec 11.8)
    ("-", 8, 32, "invalid syntax"),
    ("+-1", 10, 64, "invalid syntax"),
    ("0644\n", 8, 32, "invalid syntax"),
    ("-_1", 0, 64, "invalid syntax"),
    ("20000000000", 8, 32, "value out of range"),
    ("-20000000001", 8, 32, "value out of range"),
    ("37777777777", 8, 32, "value out of range"),
    ("9223372036854775808", 10, 64, "value out of range"),
    ("-99999999999999999999", 10, 64, "value out of range"),
    ("1", 0 - 1, 64, "invalid base -1"),
])
def test_parse_int_refuses(text: str, base: int, bits: int, problem: str) -> None:
    with pytest.raises(NumError) as caught:
        parse_int(text, base, bits)
    # The error names ParseInt and the whole text, sign included.
    assert str(caught.value) == f"strconv.ParseInt: parsing {quote(text)}: {problem}"


def test_num_error_quotes_the_text() -> None:
    with pytest.raises(NumError) as caught:
        parse_uint('a"b\n', 10, 64)
    assert str(caught.value) == 'strconv.ParseUint: parsing "a\\"b\\n": invalid syntax'
    assert not caught.value.out_of_range


# --------------------------------------------------------------------------------------------
# strconv.FormatFloat and encoding/json numbers


@pytest.mark.parametrize(("value", "fmt", "text"), [
    (1e21, "g", "1e+21"),
    (123456.0, "g", "123456"),
    (1234567.0, "g", "1.234567e+06"),
    (0.0001, "g", "0.0001"),
    (0.00001, "g", "1e-05"),
    (-0.0, "g", "-0"),
    (0.1, "g", "0.1"),
    (100.0, "g", "100"),
    (5e-324, "e", "5e-324"),
    (2.5, "e", "2.5e+00"),
    (0.0, "e", "0e+00"),
    (1e20, "f", "100000000000000000000"),
    (1.5e-7, "f", "0.00000015"),
    (-12.75, "f", "-12.75"),
    (math.nan, "g", "NaN"),
    (math.inf, "g", "+Inf"),
    (-math.inf, "e", "-Inf"),
])
def test_format_float(value: float, fmt: str, text: str) -> None:
    assert format_float(value, fmt) == text


@pytest.mark.parametrize(("value", "text"), [
    (1e-7, "1e-7"),          # Go trims the exponent's leading zero...
    (1.5e-10, "1.5e-10"),
    (1e21, "1e+21"),         # ...but not for positive exponents
    (1e20, "100000000000000000000"),
    (1e-6, "0.000001"),
    (-0.0, "-0"),
    (3.0, "3"),
])
def test_json_floats(value: float, text: str) -> None:
    assert gojson.marshal(value) == text


# --------------------------------------------------------------------------------------------
# strconv.Quote


@pytest.mark.parametrize(("text", "quoted"), [
    ("", '""'),
    ("abc", '"abc"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
    ("\x00\x01\x7f", '"\\x00\\x01\\x7f"'),
    ("é\U0001f600", '"é\U0001f600"'),       # printable non-ASCII stays
    ("\u00a0\u00ad", '"\\u00a0\\u00ad"'),   # no-break space, soft hyphen: not printable to Go
    ("\u2028", '"\\u2028"'),
    ("\U000e0001", '"\\U000e0001"'),        # a format character above the BMP
    # Bytes that are not UTF-8 (kept by surrogateescape) are written as Go writes them...
    (b"a\x80\xed\xa0\x80".decode("utf-8", "surrogateescape"), '"a\\x80\\xed\\xa0\\x80"'),
    # ...and a surrogate no byte string decodes to is no rune at all.
    ("\ud800", '"\\ufffd"'),
])
def test_quote(text: str, quoted: str) -> None:
    assert quote(text) == quoted


# --------------------------------------------------------------------------------------------
# path and filepath (the examples of Go's documentation, and where posixpath differs)


@pytest.mark.parametrize(("path", "cleaned"), [
    ("a/c", "a/c"), ("a//c", "a/c"), ("a/c/.", "a/c"), ("a/c/b/..", "a/c"),
    ("/../a/c", "/a/c"), ("/../a/b/../././/c", "/a/c"), ("", "."), ("./", "."),
    ("//a", "/a"),   # posixpath.normpath keeps the two slashes
    ("../../a/..", "../.."),
])
def test_clean(path: str, cleaned: str) -> None:
    assert gopath.clean(path) == cleaned


@pytest.mark.parametrize(("parts", "joined"), [
    (("a", "b", "c"), "a/b/c"), (("a", "b/c"), "a/b/c"), (("a/b", "c"), "a/b/c"),
    (("a/b", "/c"), "a/b/c"),   # os.path.join would answer "/c"
    (("a/b", "../../../xyz"), "../xyz"), (("", ""), ""), (("a", ""), "a"), (("", "a"), "a"),
    ((), ""),
])
def test_join(parts: tuple[str, ...], joined: str) -> None:
    assert gopath.join(*parts) == joined


def test_split_dir_base() -> None:
    assert gopath.split("static/myfile.css") == ("static/", "myfile.css")
    assert gopath.split("myfile.css") == ("", "myfile.css")
    assert gopath.split("") == ("", "")
    assert [gopath.dir_name(p) for p in ("/a/b/c", "a/b/c", "/a/", "a/", "/", "")] == [
        "/a/b", "a/b", "/a", "a", "/", "."]
    assert [gopath.base_name(p) for p in ("/a/b", "/", "", "a/b/", "//")] == [
        "b", "/", ".", "b", "/"]


@pytest.mark.parametrize(("base", "target", "relative"), [
    ("/a", "/a/b/c", "b/c"),
    ("/a", "/b/c", "../b/c"),
    ("/", "/a", "a"),
    ("containers/onboot/000-first/lower/bin", "containers/onboot/000-first/lower/bin/busybox",
     "busybox"),
    ("a/b", "a/c/d", "../c/d"),
    (".", "x", "x"),
    ("a/b", "a/b/", "."),
])
def test_rel(base: str, target: str, relative: str) -> None:
    assert gopath.rel(base, target) == relative


@pytest.mark.parametrize(("base", "target"), [("/a", "./b/c"), ("../a/", "b"), ("/x//", "y/")])
def test_rel_refuses(base: str, target: str) -> None:
    # Go's example: Rel("/a", "./b/c") fails with the paths as given in the message.
    with pytest.raises(ValueError) as caught:
        gopath.rel(base, target)
    assert str(caught.value) == f"Rel: can't make {target} relative to {base}"


# --------------------------------------------------------------------------------------------
# yaml.v3 scalars and emitters


@pytest.mark.parametrize(("text", "value"), [
    # Observed with linuxkit (spec section 2).
    ("0x10", 16), ("0o17", 15), ("1_000", 1000), ("0b101", 5), ("+7", 7), ("0644", 420),
    ("010", 8), ("yes", "yes"), ("True", True), ("~", None), ("", None),
    ("18446744073709551615", 2**64 - 1),        # ParseUint takes over from ParseInt
    ("-9223372036854775808", -(2**63)),
    ("-9223372036854775809", -9.223372036854776e18),   # neither: a float
    ("08", 8.0),                                 # not octal, so a float
    ("1e999", "1e999"),                          # float overflow keeps the text
    ("+.inf", math.inf),
    ("0x_1", 1),                                 # underscores go before parsing
    # ParseUint takes no sign: these are no integers (observed with linuxkit).
    ("+9223372036854775808", 9.223372036854776e18),
    ("+0x8000000000000000", "+0x8000000000000000"),
])
def test_resolve_plain_scalar(text: str, value: object) -> None:
    resolved = resolve_plain_scalar(text)
    assert resolved == value and type(resolved) is type(value)


@pytest.mark.parametrize(("text", "plain"), [
    ("abc", True), ("yes", False), ("1:20", False), ("2001-12-14", False), ("", False),
    ("1e999", True), ("12", False), ("0x1g", True), ("null", False),
])
def test_can_use_plain(text: str, plain: bool) -> None:
    assert can_use_plain(text) is plain


def test_v3_and_v2_indentation() -> None:
    value = {"a": [1, 2], "b": {"c": [{"d": "yes", "e": []}]}}
    assert goyaml.marshal_v3(value) == (
        "a:\n    - 1\n    - 2\nb:\n    c:\n        - d: \"yes\"\n          e: []\n")
    assert goyaml.marshal_v2(value) == (
        "a:\n- 1\n- 2\nb:\n  c:\n  - d: \"yes\"\n    e: []\n")
