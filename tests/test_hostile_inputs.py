"""Hostile inputs end in one clear error within seconds: no hang, no traceback, no output that
grows with the square of the input (issue 14, items 3 and 5). Inputs are made here."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.findings import InputError
from lkpolicy.model.rules import MAX_MESSAGE_CHARS
from lkpolicy.report.text import EXCERPT_CHARS, excerpt
from lkpolicy.stages.load import MAX_DEPTH, MAX_LINE_CHARS, MAX_NODES, load_document
from lkpolicy.store.lookup import Store

runner = CliRunner()

HEAD = "kernel:\n  image: linuxkit/kernel:6.6\n  cmdline: console=ttyS0\n"


def load_error(data: str | bytes) -> InputError:
    raw = data.encode() if isinstance(data, str) else data
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        load_document("hostile.yml", raw)
    assert time.monotonic() - started < 10
    return caught.value


def check(tmp_path: Path, text: str | bytes, *extra: str) -> tuple[int, str]:
    path = tmp_path / "hostile.yml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    result = runner.invoke(app, ["check", "--no-images", "--no-cache", *extra, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_a_4_mb_comment_line_is_refused_before_the_scanner() -> None:
    error = load_error(HEAD + "#" + "x" * 4_000_000)
    finding = error.findings[0]
    assert finding.rule_id == "LK108"
    assert (finding.location.line, finding.location.column) == (4, MAX_LINE_CHARS + 1)
    assert "4000001 characters" in finding.message


def test_lines_up_to_the_bound_load() -> None:
    document, _ = load_document("ok.yml", (HEAD + "#" + "x" * (MAX_LINE_CHARS - 1) + "\n").encode())
    assert document.data["kernel"]["cmdline"] == "console=ttyS0"


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_flow_nesting_thousands_deep(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    finding = load_error("kernel: " + opening * 3000 + closing * 3000 + "\n").findings[0]
    assert finding.rule_id == "LK108"
    assert finding.message == f"collections nested more than {MAX_DEPTH} deep"
    assert finding.location.line == 1


def test_block_nesting_is_bounded_too() -> None:
    text = "kernel:\n" + "".join(" " * (2 * i) + "- \n" for i in range(1, 200))
    finding = load_error(text).findings[0]
    assert (finding.rule_id, finding.location.line) == ("LK108", MAX_DEPTH + 1)


def test_nesting_within_the_bound_loads() -> None:
    document, _ = load_document("ok.yml", ("x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)).encode())
    assert "x" in document.data


def test_too_many_nodes_stop_the_composer() -> None:
    text = HEAD + "init:\n" + "  - a\n" * (MAX_NODES + 10)
    finding = load_error(text).findings[0]
    assert finding.rule_id == "LK108" and f"more than {MAX_NODES} nodes" in finding.message


def test_a_fifo_config_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yml"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        load_document(str(fifo))
    assert time.monotonic() - started < 5
    assert caught.value.findings[0].rule_id == "LK100"
    assert "FIFO" in caught.value.findings[0].message


def test_100000_capabilities_on_one_line(tmp_path: Path) -> None:
    line = "    capabilities: [" + ", ".join(["CAP_SYS_ADMIN"] * 100_000) + "]\n"
    code, output = check(tmp_path, HEAD + "services:\n  - name: a\n    image: x/a:1\n" + line)
    assert code == 2
    assert "LK108" in output and len(output) < 5000


def test_100000_capabilities_one_per_line(tmp_path: Path) -> None:
    caps = "".join("      - CAP_SYS_ADMIN\n" for _ in range(100_000))
    started = time.monotonic()
    code, output = check(tmp_path, HEAD + "services:\n  - name: a\n    image: x/a:1\n"
                         "    capabilities:\n" + caps, "--format", "json")
    assert time.monotonic() - started < 20
    assert code == 2 and "more than" in output and "nodes" in output


def test_an_alias_cannot_multiply_a_long_message(tmp_path: Path) -> None:
    long = "X" * 16_000
    items = "".join("      - *a\n" for _ in range(2000))
    code, output = check(tmp_path, f'x: &a "{long}"\n' + HEAD
                         + "services:\n  - name: a\n    image: x/a:1\n    capabilities:\n" + items)
    assert code == 1
    # 2,000 unknown-capability findings, each message clipped and each excerpt cut.
    assert output.count("LK306") == 2000
    assert len(output) < 2000 * (2 * MAX_MESSAGE_CHARS + 2 * EXCERPT_CHARS)


def test_excerpt_window_keeps_the_caret_on_its_character() -> None:
    source = "a" * 1000 + "B" + "c" * 1000
    shown, index = excerpt(source, 1001)
    assert shown[index] == "B"
    assert shown.startswith("...") and shown.endswith("...")
    assert len(shown) == EXCERPT_CHARS + 6
    assert excerpt("short", 3) == ("short", 2)
    start, start_index = excerpt(source, 1)
    assert start_index == 0 and not start.startswith("...")
    end, end_index = excerpt(source, len(source) + 1)
    assert end_index == len(end) and not end.endswith("...")


def test_a_long_line_is_shown_cut_under_its_finding(tmp_path: Path) -> None:
    code, output = check(tmp_path, HEAD + "#" + "x" * 4_000_000)
    assert code == 2
    assert max(len(line) for line in output.splitlines()) < EXCERPT_CHARS + 50


def test_huge_integers_in_a_config(tmp_path: Path) -> None:
    text = HEAD + "services:\n  - name: a\n    image: x/a:1\n    uid: " + "9" * 5000 + "\n"
    code, output = check(tmp_path, text, "--format", "json")
    assert code in (1, 2) and len(output) < 20_000


def test_an_inline_waiver_with_100000_rule_ids(tmp_path: Path) -> None:
    ids = ",".join(f"LK{300 + i % 100}" for i in range(100_000))
    started = time.monotonic()
    code, output = check(tmp_path, HEAD.replace("console=ttyS0", f"console=ttyS0  # lkpolicy: ignore[{ids}]"))
    assert time.monotonic() - started < 10
    assert code == 2 and "LK108" in output
    assert "names 100000 rules; one waiver names at most 32" in output


def test_an_inline_waiver_names_at_most_32_rules(tmp_path: Path) -> None:
    ids = ",".join(f"LK{300 + i}" for i in range(33))
    code, output = check(tmp_path, HEAD + f'# lkpolicy: ignore[{ids}] reason="x"\ninit: [a/b:1]\n')
    assert code == 1
    assert "LKW005" in output and "names 33 rules" in output


def test_thousands_of_inline_waivers_are_bounded(tmp_path: Path) -> None:
    waivers = "".join(f'  # lkpolicy: ignore[LK3{i % 100:02d}] reason="x"\n  - a/b:{i}\n'
                      for i in range(3000))
    started = time.monotonic()
    code, output = check(tmp_path, HEAD + "init:\n" + waivers, "--format", "json")
    assert time.monotonic() - started < 20
    assert code == 1
    assert "more than 1000 inline waivers in one file" in output
    assert output.count('"LKW003"') <= 1000


def test_a_line_of_quotes_scans_in_linear_time() -> None:
    from lkpolicy.stages.yamlcomments import find_comments

    text = ("a: [" + "'', " * 4000 + "]\n") * 250
    started = time.monotonic()
    assert find_comments(text + "# end\n")[-1].line == 251
    assert time.monotonic() - started < 10


def test_deeply_nested_or_fifo_baseline(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, output = check(tmp_path, HEAD, "--baseline", str(deep))
    assert code == 2 and "LKW010" in output and "nested too deeply" in output
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    code, output = check(tmp_path, HEAD, "--baseline", str(fifo))
    assert code == 2 and "not a regular file (a FIFO)" in output


def _write_baseline(tmp_path: Path, target: str, limit_file_size: bool = False) -> None:
    import resource
    import subprocess
    import sys

    config = tmp_path / "c.yml"
    config.write_text(HEAD)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))  # the disk is "full" after 64 bytes

    completed = subprocess.run(
        [sys.executable, "-m", "lkpolicy", "check", "--no-images", "--no-cache",
         "--write-baseline", target, str(config)],
        capture_output=True, text=True, timeout=60, check=False,
        preexec_fn=small_files if limit_file_size else None)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lkpolicy: cannot write the baseline")
    assert "Traceback" not in completed.stderr + completed.stdout


def test_write_baseline_into_a_missing_directory(tmp_path: Path) -> None:
    _write_baseline(tmp_path, str(tmp_path / "missing" / "baseline.json"))


def test_write_baseline_onto_a_full_disk(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    _write_baseline(tmp_path, str(tmp_path / "out" / "baseline.json"), limit_file_size=True)
    assert list((tmp_path / "out").iterdir()) == []  # no temporary left behind


def test_write_baseline_into_a_read_only_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through mode bits: use a directory the kernel owns
        _write_baseline(tmp_path, "/proc/self/fdinfo/baseline.json")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        _write_baseline(tmp_path, str(tmp_path / "ro" / "baseline.json"))


TRUST_AUTHORITIES = {
    "cosign key": "ck: {{type: cosign-key, keys: [{path}]}}",
    "TUF root": "t: {{type: tuf, repository: repo, root: {path}}}",
    "notary CA": "n: {{type: notary, server: 'https://127.0.0.1:9', ca: {path}, tofu: true}}",
    "sigstore root": "s: {{type: sigstore, trusted_root: {path}, "
                     "identities: [{{issuer: x, subject: y}}]}}",
}


@pytest.mark.parametrize("kind", sorted(TRUST_AUTHORITIES))
@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_dev_zero_or_a_fifo_as_trust_material(tmp_path: Path, kind: str, source: str) -> None:
    path = source
    if source == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    authority = TRUST_AUTHORITIES[kind].format(path=path)
    name = authority.split(":", 1)[0]
    policy = tmp_path / "p.yml"
    policy.write_text(f"extends: []\ntrust:\n  authorities:\n    {authority}\n"
                      f"  rules: [{{images: '*', require: {name}}}]\n")
    add_image(Store(tmp_path / "cache"), "docker.io/linuxkit/a:v1", {})
    # The CA is loaded when a connection is made; everything else is read offline too.
    offline = [] if kind == "notary CA" else ["--offline"]
    started = time.monotonic()
    result = runner.invoke(app, ["trust", "inspect", "linuxkit/a:v1", "--policy", str(policy),
                                 "--cache", str(tmp_path / "cache"), "--trust-cache",
                                 str(tmp_path / "trust"), *offline])
    assert time.monotonic() - started < 10
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 1, result.output
    assert "not a regular file" in result.output or "is not a file" in result.output


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a": ' + DEEP + b"}"


def test_deep_json_from_servers_and_signatures_is_one_error() -> None:
    """Token answers, notary metadata, cosign payloads and in-toto statements come from a
    server or a signer: nested 100,000 deep they are refused, not a RecursionError."""
    from lkpolicy.registry.auth import AuthError, token_from_response
    from lkpolicy.stages.trust.cosign.signatures import parse_json_object
    from lkpolicy.stages.trust.errors import BundleInvalid, TrustError
    from lkpolicy.stages.trust.notary.metadata import parse_envelope
    from lkpolicy.stages.trust.sigstore_keyless import IN_TOTO_PAYLOAD_TYPE, check_cosign_statement

    with pytest.raises(AuthError, match="not JSON"):
        token_from_response(DEEP_OBJECT)
    with pytest.raises(TrustError, match="nested"):
        parse_envelope("root", DEEP_OBJECT, "Root")
    with pytest.raises(TrustError, match="nested"):
        parse_json_object(DEEP_OBJECT, "x/y:1", "signature payload")
    with pytest.raises(BundleInvalid, match="not JSON"):
        check_cosign_statement(IN_TOTO_PAYLOAD_TYPE, DEEP_OBJECT, "sha256:" + "0" * 64)


def test_a_fifo_docker_config_is_refused(tmp_path: Path) -> None:
    from lkpolicy.registry.auth import AuthError, DockerCredentialStore

    os.mkfifo(tmp_path / "config.json")
    with pytest.raises(AuthError, match="not a regular file"):
        DockerCredentialStore(tmp_path / "config.json").get("registry.example")


def test_key_order_with_long_or_foreign_digit_runs() -> None:
    """yaml.v3 sorts map keys with digit runs read into a wrapping int64: a 12,000-digit run
    must not turn each comparison quadratic, and `²` (a digit to Python's isdigit, not to
    Go's unicode.IsDigit) must not raise."""
    from lkpolicy.gocompat.goyaml import sort_map_keys

    # As Go: `²` is no digit, so it counts as the number 0 against `9`.
    assert sort_map_keys(["x³", "x²", "x10", "x9"]) == ["x²", "x³", "x9", "x10"]
    keys = [f"k{i}" + "1" * 12_000 for i in range(100, 300)]
    started = time.monotonic()
    assert sorted(sort_map_keys(keys)) == sorted(keys)
    assert time.monotonic() - started < 10


def _go_key_less(a: str, b: str) -> bool:
    """yaml.v3's keyList.Less for strings, character by character as Go writes it."""
    digits = False
    for index in range(min(len(a), len(b))):
        ca, cb = a[index], b[index]
        if ca == cb:
            digits = ca.isdecimal()
            continue
        if ca.isalpha() and cb.isalpha():
            return ca < cb
        if ca.isalpha() or cb.isalpha():
            return ca.isalpha() if digits else cb.isalpha()
        an = bn = 0
        if ca == "0" or cb == "0":
            back = index - 1
            while back >= 0 and a[back].isdecimal():
                if a[back] != "0":
                    an = bn = 1
                    break
                back -= 1
        ai = bi = index
        while ai < len(a) and a[ai].isdecimal():
            an = (an * 10 + ord(a[ai]) - 48) % 2**64
            ai += 1
        while bi < len(b) and b[bi].isdecimal():
            bn = (bn * 10 + ord(b[bi]) - 48) % 2**64
            bi += 1
        an, bn = (an - 2**64 if an >= 2**63 else an), (bn - 2**64 if bn >= 2**63 else bn)
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


KEY_TEXT = st.text(alphabet=st.sampled_from(list("ab0159٣²_-.")), max_size=30)


@settings(max_examples=400, deadline=None)
@given(a=KEY_TEXT, b=KEY_TEXT)
def test_key_order_matches_go_character_by_character(a: str, b: str) -> None:
    from lkpolicy.gocompat.goyaml import sort_map_keys

    expected = sorted([a, b], key=functools.cmp_to_key(
        lambda x, y: -1 if _go_key_less(x, y) else (1 if _go_key_less(y, x) else 0)))
    assert sort_map_keys([a, b]) == expected
    long_a, long_b = a + "9" * 40, b + "9" * 40  # runs past int64: wrapping matters
    assert _go_key_less(long_a, long_b) == (sort_map_keys([long_a, long_b])[0] == long_a
                                            and long_a != long_b)
