"""`lkpolicy pin`: digests are added by editing only the reference tokens, nothing else."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import typer
from corpus import corpus_configs
from typer.testing import CliRunner

from lkpolicy.cli import pin as cli_pin
from lkpolicy.cli.pin import pin
from lkpolicy.model.config import merge
from lkpolicy.model.findings import InputError
from lkpolicy.model.reference import ImageRef
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.stages.load import decode_text, load_document
from lkpolicy.tools.pin import (
    PinError,
    PinPlan,
    ProblemKind,
    ResolveError,
    Status,
    apply_pins,
    find_references,
    plan_pins,
)
from lkpolicy.tools.pinresolvers import ChainResolver, RegistryResolver
from lkpolicy.tools.textedit import node_at, plain_safe, render_diff, render_scalar

_corpus_configs = corpus_configs


def fake_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


class FakeResolver:
    """Digest = sha256 of the expanded name; names in `failing` cannot be resolved."""

    def __init__(self, failing: frozenset[str] = frozenset(), salt: str = "") -> None:
        self.failing = failing
        self.salt = salt
        self.calls: list[str] = []

    def resolve(self, ref: ImageRef) -> str:
        assert ref.digest is None, "the resolver is asked for the tag, never a digest"
        self.calls.append(ref.expanded)
        if ref.expanded in self.failing:
            raise ResolveError("registry: manifest unknown (HTTP 404)")
        return fake_digest(self.salt + ref.expanded)


def expected_pin(value: str, salt: str = "") -> str:
    ref = parse_reference(value)
    bare = parse_reference(value.split("@", 1)[0])
    return ref.with_digest(fake_digest(salt + bare.expanded))


def pin_text(text: str, *, update: bool = False, resolver: Any = None) -> tuple[str, PinPlan]:
    plan = plan_pins(text, "c.yml", resolver or FakeResolver(), update=update)
    return apply_pins(text, plan), plan


# --- independent checks, on a fresh composition of both texts -----------------------------


def _compose(text: str) -> Any:
    from ruamel.yaml import YAML

    return next(iter(YAML(typ="safe", pure=True).compose_all(text.removeprefix("\ufeff"))))


def _reference_pointers(text: str) -> dict[str, str]:
    document, _ = load_document("c.yml", text.encode())
    config = merge([document])
    nodes = [config.kernel["image"]] if "image" in config.kernel else []
    nodes += config.section("init")
    nodes += [child for section in ("onboot", "onshutdown", "services", "volumes")
              for item in config.section(section)
              if (child := item.child("image")) is not None]
    return {node.pointer: node.value for node in nodes if isinstance(node.value, str) and node.value}


def _scalar_pairs(old: Any, new: Any) -> list[tuple[Any, Any]]:
    """Scalar nodes of two documents of the same shape, paired in document order."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    assert type(old) is type(new)
    if isinstance(old, ScalarNode):
        return [(old, new)]
    pairs: list[tuple[Any, Any]] = []
    if isinstance(old, SequenceNode):
        assert len(old.value) == len(new.value)
        for a, b in zip(old.value, new.value, strict=True):
            pairs += _scalar_pairs(a, b)
    elif isinstance(old, MappingNode):
        assert len(old.value) == len(new.value)
        for (ka, va), (kb, vb) in zip(old.value, new.value, strict=True):
            pairs += _scalar_pairs(ka, kb) + _scalar_pairs(va, vb)
    return pairs


def assert_only_references_changed(old_text: str, new_text: str, salt: str = "") -> None:
    old_root, new_root = _compose(old_text), _compose(new_text)
    old_refs = _reference_pointers(old_text)
    old_nodes = {id(_node(old_root, p)) for p in old_refs}
    changed_spans: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    for old_node, new_node in _scalar_pairs(old_root, new_root):
        if id(old_node) in seen:
            continue  # an alias visits its anchor again
        seen.add(id(old_node))
        if old_node.value == new_node.value:
            continue
        assert id(old_node) in old_nodes, f"non-reference scalar changed: {old_node.value!r}"
        assert old_node.style == new_node.style or (not old_node.style and new_node.style == '"')
        changed_spans.append((old_node, new_node))
    # Outside the changed tokens, both texts hold the same characters in the same order.
    old_gaps, new_gaps, old_at, new_at = [], [], 0, 0
    for old_node, new_node in sorted(changed_spans, key=lambda p: p[0].start_mark.index):
        old_gaps.append(old_text[old_at:old_node.start_mark.index])
        new_gaps.append(new_text[new_at:new_node.start_mark.index])
        old_at, new_at = old_node.end_mark.index, new_node.end_mark.index
    old_gaps.append(old_text[old_at:])
    new_gaps.append(new_text[new_at:])
    assert old_gaps == new_gaps
    # Every reference is pinned now: the fake digest, or the one it already had.
    new_refs = _reference_pointers(new_text)
    assert new_refs.keys() == old_refs.keys()
    for pointer, value in old_refs.items():
        if value.startswith("@") or parse_reference(value).pinned:
            assert new_refs[pointer] == value
        else:
            assert parse_reference(new_refs[pointer]).digest == parse_reference(
                expected_pin(value, salt)).digest, pointer


def _node(root: Any, pointer: str) -> Any:
    return node_at(root, pointer)


# --- (1) and (2): the whole corpus ---------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("config", _corpus_configs())
def test_corpus_config_pins_only_references(config: str, corpus_dir: Path) -> None:
    raw = (corpus_dir / config).read_bytes()
    text = decode_text(config, raw)
    try:
        load_document(config, raw)
    except InputError:
        # Unreadable YAML: pin must refuse it too, as linuxkit does (examples/static-ip.yml).
        with pytest.raises(InputError):
            plan_pins(text, config, FakeResolver())
        return
    resolver = FakeResolver()
    plan = plan_pins(text, config, resolver)
    assert not plan.unresolved
    assert all(p.kind is ProblemKind.SKIPPED and p.reference.startswith("@") for p in plan.problems)
    assert len(resolver.calls) == len(set(resolver.calls)), "each name is resolved once"
    new = apply_pins(text, plan)
    assert_only_references_changed(text, new)
    # (2) A second run finds nothing to do and leaves the text byte-identical.
    again = plan_pins(new, config, FakeResolver())
    assert again.changes == []
    assert apply_pins(new, again) == new


# --- (3) styles, comments, line endings ----------------------------------------------------

STYLES = """\
# a comment that must survive
kernel:
  image: linuxkit/kernel:6.6.13   # trailing comment
  cmdline: "console=tty0"
init:
  - linuxkit/init:v1.0.0
  - "linuxkit/runc:v1.1"
  - 'linuxkit/containerd:v1.7'
onboot:
  - name: sysctl
    image: &sysctl linuxkit/sysctl:v1     # anchored
  - name: again
    image: *sysctl
services:
  - {name: getty, image: "linuxkit/getty:v2", env: [INSECURE=true]}
  - name: rngd
    image:    linuxkit/rngd:v3
volumes:
  - name: v
    image: !!str alpine:3.19
"""


def test_styles_comments_and_aliases_are_kept() -> None:
    new, plan = pin_text(STYLES)
    d = {v: expected_pin(v) for v in (
        "linuxkit/kernel:6.6.13", "linuxkit/init:v1.0.0", "linuxkit/runc:v1.1",
        "linuxkit/containerd:v1.7", "linuxkit/sysctl:v1", "linuxkit/getty:v2", "linuxkit/rngd:v3",
        "alpine:3.19")}
    expected = (STYLES
                .replace("image: linuxkit/kernel:6.6.13 ", f"image: {d['linuxkit/kernel:6.6.13']} ")
                .replace("- linuxkit/init:v1.0.0", f"- {d['linuxkit/init:v1.0.0']}")
                .replace('"linuxkit/runc:v1.1"', f'"{d["linuxkit/runc:v1.1"]}"')
                .replace("'linuxkit/containerd:v1.7'", f"'{d['linuxkit/containerd:v1.7']}'")
                .replace("&sysctl linuxkit/sysctl:v1 ", f"&sysctl {d['linuxkit/sysctl:v1']} ")
                .replace('"linuxkit/getty:v2"', f'"{d["linuxkit/getty:v2"]}"')
                .replace("image:    linuxkit/rngd:v3", f"image:    {d['linuxkit/rngd:v3']}")
                .replace("!!str alpine:3.19", f"!!str {d['alpine:3.19']}"))
    assert new == expected
    # The alias is not a position of its own: one change covers both pointers.
    sysctl = next(c for c in plan.changes if c.old == "linuxkit/sysctl:v1")
    assert sysctl.pointer == "/onboot/0/image" and sysctl.aliases == ("/onboot/1/image",)
    assert (sysctl.line, sysctl.column) == (11, 20)
    assert len(plan.changes) == 8
    assert_only_references_changed(STYLES, new)


def test_flow_sequences_and_crlf() -> None:
    text = "kernel: {image: 'linuxkit/kernel:6.6', cmdline: x}\r\ninit: [linuxkit/init:v1, \"linuxkit/runc:v1\", alpine]  # c\r\nonboot: []\r\n"
    new, _ = pin_text(text)
    assert new.count("\r\n") == 3 and "\n" not in new.replace("\r\n", "")
    init, runc, alpine = (expected_pin(v) for v in ("linuxkit/init:v1", "linuxkit/runc:v1", "alpine"))
    assert f'init: [{init}, "{runc}", {alpine}]  # c\r\n' in new
    assert f"{{image: '{expected_pin('linuxkit/kernel:6.6')}', cmdline: x}}" in new
    assert alpine == "alpine@" + fake_digest("docker.io/library/alpine")
    assert_only_references_changed(text, new)
    assert pin_text(new)[0] == new


def test_tabs_that_linuxkit_reads_are_kept() -> None:
    text = ("kernel:\n  image:\tlinuxkit/kernel:6.6\t# k\n  cmdline: a\tb\n"
            "init:\n  - linuxkit/init:v1\t\n")
    new, plan = pin_text(text)
    kernel, init = (expected_pin(v) for v in ("linuxkit/kernel:6.6", "linuxkit/init:v1"))
    assert new == text.replace("linuxkit/kernel:6.6", kernel).replace("linuxkit/init:v1", init)
    assert len(plan.changes) == 2


def test_multiline_flow_and_byte_order_mark_and_later_documents() -> None:
    text = "\ufeffinit: [\n  linuxkit/init:v1,   # first\n  linuxkit/runc:v1\n]\n---\ninit: [x:1]\n---\n: ["
    new, _ = pin_text(text)
    assert new.startswith("\ufeffinit: [\n  linuxkit/init:v1@sha256:")
    assert new.endswith(",   # first\n  " + expected_pin("linuxkit/runc:v1") + "\n]\n---\ninit: [x:1]\n---\n: [")


def test_merge_keys_rewrite_the_source_mapping_once() -> None:
    text = ("x-base: &base\n  image: linuxkit/base:v1\n  net: host\n"
            "services:\n  - <<: *base\n    name: a\n  - <<: *base\n    name: b\n"
            "  - <<: *base\n    name: c\n    image: linuxkit/own:v2\n")
    # x-base is not a linuxkit key, but the loader reads it and pin only needs the references.
    new, plan = pin_text(text)
    assert [c.old for c in plan.changes] == ["linuxkit/base:v1", "linuxkit/own:v2"]
    assert plan.changes[0].aliases == ("/services/1/image",)
    assert new == text.replace("linuxkit/base:v1", expected_pin("linuxkit/base:v1")).replace(
        "linuxkit/own:v2", expected_pin("linuxkit/own:v2"))


def test_escaped_double_quoted_reference_is_rewritten_with_clean_escapes() -> None:
    text = 'init:\n  - "linuxkit\\/init:v1"\n'
    new, _ = pin_text(text)
    assert new == f'init:\n  - "{expected_pin("linuxkit/init:v1")}"\n'


def test_pinned_references_are_kept_and_update_replaces_stale_digests() -> None:
    stale = "linuxkit/init:v1@sha256:" + "0" * 64
    current = expected_pin("linuxkit/init:v1")
    text = f"init:\n  - {stale}\n  - {current}\n"
    resolver = FakeResolver()
    new, plan = pin_text(text, resolver=resolver)
    assert new == text and resolver.calls == [] and plan.already_pinned == 2
    new, plan = pin_text(text, update=True)
    assert new == f"init:\n  - {current}\n  - {current}\n"
    assert [c.line for c in plan.changes] == [2]


def test_templates_invalid_and_block_scalars_are_reported_and_left_alone() -> None:
    text = ('onboot:\n  - name: a\n    image: "@pkg:./pkg/a"\n  - name: b\n    image: "Bad Name:1"\n'
            "  - name: c\n    image: |-\n      linuxkit/c:v1\n  - name: d\n    image: x/y@sha512:"
            + "a" * 128 + "\n")
    new, plan = pin_text(text)
    assert new == text and plan.changes == []
    kinds = {p.reference: p.message for p in plan.problems}
    assert "template" in kinds["@pkg:./pkg/a"]
    assert "a registry would reject it" in kinds["Bad Name:1"]
    assert "block scalar" in kinds["linuxkit/c:v1"]
    assert "--update" in kinds["x/y@sha512:" + "a" * 128]
    statuses = {site.value: site.status for site in find_references(text, "c.yml")}
    assert statuses == {"@pkg:./pkg/a": Status.TEMPLATE, "Bad Name:1": Status.INVALID,
                        "linuxkit/c:v1": Status.UNPINNED, "x/y@sha512:" + "a" * 128: Status.UNPINNED}


def test_unresolvable_reference_is_a_problem_not_a_change() -> None:
    text = "init:\n  - linuxkit/init:v1\n  - linuxkit/gone:v1\n"
    new, plan = pin_text(text, resolver=FakeResolver(frozenset({"docker.io/linuxkit/gone:v1"})))
    assert [p.kind for p in plan.problems] == [ProblemKind.UNRESOLVED]
    assert (plan.problems[0].line, plan.problems[0].column) == (3, 5)
    assert "manifest unknown" in plan.problems[0].message
    assert new == text.replace("linuxkit/init:v1", expected_pin("linuxkit/init:v1"))


def test_resolver_may_be_a_function_and_bad_digests_are_refused() -> None:
    plan = plan_pins("init: [a:1]\n", "c.yml", lambda ref: "md5:abc")
    assert plan.unresolved and "not a sha256 digest" in plan.unresolved[0].message


def test_apply_refuses_a_plan_that_would_change_the_meaning() -> None:
    text = "init:\n  - linuxkit/init:v1\n"
    plan = plan_pins(text, "c.yml", FakeResolver())
    broken = PinPlan(plan.path, [replace(plan.changes[0], token="x: [")], document=plan.document)
    with pytest.raises(PinError):
        apply_pins(text, broken)


@pytest.mark.parametrize(("value", "in_flow", "safe"), [
    ("linuxkit/init:v1@sha256:" + "a" * 64, False, True),
    ("linuxkit/init:v1@sha256:" + "a" * 64, True, True),
    ("@pkg:x", False, False), ("a: b", False, False), ("a #b", False, False), ("a:", False, False),
    ("a,b", True, False), ("a,b", False, True), ("1.5", False, False), ("true", False, False),
    ("-x", False, True), ("- x", False, False), ("'q'", False, False), ("", False, False),
    (" a", False, False), ("a\nb", False, False), ("---x", False, False),
])
def test_plain_safety(value: str, in_flow: bool, safe: bool) -> None:
    assert plain_safe(value, in_flow=in_flow) is safe


def test_render_scalar_keeps_the_style_and_falls_back_to_double_quotes() -> None:
    assert render_scalar("a:1@sha256:ab", "", in_flow=False) == "a:1@sha256:ab"
    assert render_scalar("@x", "", in_flow=False) == '"@x"'
    assert render_scalar("it's", "'", in_flow=False) == "'it''s'"
    assert render_scalar('a"b\\c\x01', '"', in_flow=False) == '"a\\"b\\\\c\\x01"'


def test_diff_has_git_prefixes_and_marks_a_missing_final_newline() -> None:
    diff = render_diff("./dir/c.yml", "a: 1\nb: 2", "a: 1\nb: 3")
    assert diff.startswith("--- a/dir/c.yml\n+++ b/dir/c.yml\n")
    assert diff.endswith("-b: 2\n\\ No newline at end of file\n+b: 3\n\\ No newline at end of file\n")


# --- resolvers -----------------------------------------------------------------------------


def test_chain_resolver_falls_through_and_remembers() -> None:
    miss, hit = FakeResolver(frozenset({"docker.io/library/a:1"})), FakeResolver()
    chain = ChainResolver([miss, hit])
    ref = parse_reference("a:1")
    assert chain.resolve(ref) == chain.resolve(ref) == fake_digest("docker.io/library/a:1")
    assert miss.calls == hit.calls == ["docker.io/library/a:1"]
    with pytest.raises(ResolveError, match=r"^registry: manifest unknown \(HTTP 404\); registry: manifest"):
        ChainResolver([miss, miss]).resolve(ref)


def test_registry_resolver_turns_registry_errors_into_one_line() -> None:
    from lkpolicy.model.oci import Descriptor
    from lkpolicy.registry.errors import RegistryError

    class Client:
        def resolve(self, ref: ImageRef) -> Descriptor:
            if ref.tag == "gone":
                raise RegistryError(ref.original, "manifest unknown\n(HTTP 404)", 404)
            return Descriptor("application/vnd.oci.image.index.v1+json", fake_digest("x"), 10)

    resolver = RegistryResolver(client=Client())
    assert resolver.resolve(parse_reference("a:1")) == fake_digest("x")
    with pytest.raises(ResolveError, match=r"^registry: manifest unknown \(HTTP 404\)$"):
        resolver.resolve(parse_reference("a:gone"))


def _cache(tmp_path: Path, names: dict[str, str]) -> Path:
    """A linuxkit cache whose root index names each image (blobs are not needed to pin)."""
    import json

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    manifests = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest,
                  "size": 100, "annotations": {"org.opencontainers.image.ref.name": name}}
                 for name, digest in names.items()]
    (cache / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return cache


def test_store_resolver_reads_linuxkits_cache(tmp_path: Path) -> None:
    from lkpolicy.tools.pinresolvers import StoreResolver

    cache = _cache(tmp_path, {"docker.io/linuxkit/init:v1": fake_digest("cached")})
    resolver = StoreResolver(str(cache))
    assert resolver.resolve(parse_reference("linuxkit/init:v1")) == fake_digest("cached")
    with pytest.raises(ResolveError, match=r"^not in the local image store"):
        resolver.resolve(parse_reference("linuxkit/init:v2"))
    (cache / "index.json").write_text("{")
    with pytest.raises(ResolveError, match=r"^local store: .*not valid JSON"):
        StoreResolver(str(cache)).resolve(parse_reference("linuxkit/init:v1"))


def test_offline_pins_from_the_store_end_to_end(tmp_path: Path) -> None:
    cache = _cache(tmp_path, {"docker.io/linuxkit/init:v1": fake_digest("cached")})
    path = tmp_path / "c.yml"
    path.write_text("init:\n  - linuxkit/init:v1  # keep\n")
    result = _runner().invoke(_app(), [str(path), "--offline", "--cache", str(cache), "--write"])
    assert result.exit_code == 0, result.output
    assert path.read_text() == f"init:\n  - linuxkit/init:v1@{fake_digest('cached')}  # keep\n"
    path.write_text("init:\n  - linuxkit/init:v9\n")
    result = _runner().invoke(_app(), [str(path), "--offline", "--cache", str(cache)])
    assert result.exit_code == 2
    assert result.stderr == (f"{path}:2:5: error: cannot resolve `docker.io/linuxkit/init:v9`: "
                             f"not in the local image store {cache}\n")


def test_cli_resolver_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from lkpolicy.tools.pinresolvers import StoreResolver

    offline = cli_pin.build_resolver(cache="/nonexistent", offline=True, update=False, mirrors=[],
                                     cert_file=None)
    assert isinstance(offline, ChainResolver)
    assert [type(r) for r in offline.resolvers] == [StoreResolver]
    online = cli_pin.build_resolver(cache=None, offline=False, update=False,
                                    mirrors=["docker.io=https://mirror.example"], cert_file=None)
    assert isinstance(online, ChainResolver)
    assert [type(r) for r in online.resolvers] == [StoreResolver, RegistryResolver]
    with pytest.raises(ValueError, match="not an http"):
        cli_pin.build_resolver(cache=None, offline=False, update=False, mirrors=["docker.io=ftp://x"],
                               cert_file=None)


# --- (4) to (6): the command ---------------------------------------------------------------


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2 always keeps stderr apart
        return CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(pin)
    return app


@pytest.fixture
def fake_resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    resolver = FakeResolver(frozenset({"docker.io/linuxkit/gone:v1"}))
    monkeypatch.setattr(cli_pin, "build_resolver", lambda **_: resolver)
    return resolver


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**_: Any) -> None:
        raise AssertionError("--check must not resolve anything")

    monkeypatch.setattr(cli_pin, "build_resolver", refuse)


UNPINNED = "kernel:\n  image: linuxkit/kernel:6.6\ninit: [linuxkit/init:v1, \"@pkg:./x\"]\n"


def test_check_lists_each_unpinned_reference(tmp_path: Path, no_network: None) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(UNPINNED)
    good = tmp_path / "good.yml"
    good.write_text(pin_text(UNPINNED)[0])
    result = _runner().invoke(_app(), [str(bad), str(good), "--check"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{bad}:2:10: `linuxkit/kernel:6.6`: not pinned",
        f"{bad}:3:8: `linuxkit/init:v1`: not pinned",
    ]
    assert "2 image references are not pinned" in result.stderr
    result = _runner().invoke(_app(), [str(good), "--check"])
    assert (result.exit_code, result.stdout) == (0, "")


def test_check_exit_2_for_unreadable_input(tmp_path: Path, no_network: None) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("init: [\n")
    result = _runner().invoke(_app(), [str(broken), str(tmp_path / "missing.yml"), "--check"])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = sorted(result.stderr.splitlines())
    assert len(lines) == 2 and lines[0].startswith(f"{broken}:2:1: error: ")
    assert lines[1].startswith(f"{tmp_path / 'missing.yml'}: error: cannot read the file")
    assert _runner().invoke(_app(), [str(broken), "--check", "--write"]).exit_code == 2


def test_diff_is_printed_and_nothing_written(tmp_path: Path, fake_resolver: FakeResolver) -> None:
    path = tmp_path / "c.yml"
    path.write_text(UNPINNED)
    result = _runner().invoke(_app(), [str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == render_diff(str(path), UNPINNED, pin_text(UNPINNED)[0])
    assert path.read_text() == UNPINNED
    assert "would pin 2 references in 1 file (0 already pinned, 1 left alone)" in result.stderr
    assert "`@pkg:./x` left alone" in result.stderr


def test_write_is_atomic_and_keeps_mode_and_encoding(tmp_path: Path, fake_resolver: FakeResolver) -> None:
    path = tmp_path / "c.yml"
    original = ("\ufeff" + UNPINNED).replace("\n", "\r\n").encode("utf-8")
    path.write_bytes(original)
    path.chmod(0o640)
    inode = path.stat().st_ino
    link = tmp_path / "link.yml"
    link.symlink_to(path.name)
    result = _runner().invoke(_app(), [str(link), "--write"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert link.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode, "replaced by rename, not rewritten in place"
    expected = ("\ufeff" + pin_text(UNPINNED)[0]).replace("\n", "\r\n").encode("utf-8")
    assert path.read_bytes() == expected
    assert sorted(os.listdir(tmp_path)) == ["c.yml", "link.yml"]
    # Idempotent on disk as well.
    result = _runner().invoke(_app(), [str(path), "--write"])
    assert result.exit_code == 0 and path.read_bytes() == expected
    assert "pinned 0 references in 0 files (2 already pinned, 1 left alone)" in result.stderr


def test_unresolvable_reference_exits_2_with_one_line(tmp_path: Path, fake_resolver: FakeResolver) -> None:
    path = tmp_path / "c.yml"
    text = "init:\n  - linuxkit/init:v1\n  - linuxkit/gone:v1\n"
    path.write_text(text)
    result = _runner().invoke(_app(), [str(path), "--write"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"{path}:3:5: error: cannot resolve `docker.io/linuxkit/gone:v1`: "
                             "registry: manifest unknown (HTTP 404)\n")
    assert "Traceback" not in result.output
    assert path.read_text() == text, "nothing is written when a reference cannot be resolved"


def test_bad_options_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(UNPINNED)
    result = _runner().invoke(_app(), [str(path), "--mirror", "docker.io=ftp://mirror"])
    assert result.exit_code == 2 and "not an http(s) URL" in result.stderr
    result = _runner().invoke(_app(), [str(path), "--cert-file", str(tmp_path / "none.pem")])
    assert result.exit_code == 2 and "no such file" in result.stderr
    assert _runner().invoke(_app(), ["-", "--write"]).exit_code == 2


def test_reference_whose_digest_linuxkit_would_drop_is_left_alone() -> None:
    text = "init: [foo:1#x]\n"
    new, plan = pin_text(text)
    assert new == text and "would not read a digest" in plan.problems[0].message


def test_help_and_stdin(fake_resolver: FakeResolver) -> None:
    app = typer.Typer()
    app.command()(pin)
    app.command("other")(lambda: None)
    result = _runner().invoke(app, ["pin", "--help"])
    assert result.exit_code == 0 and "--mirror" in result.stdout and "REGISTRY=URL" in result.stdout
    result = _runner().invoke(app, ["pin", "-"], input="init: [a:1]\n")
    assert result.exit_code == 0, result.output
    assert f"+init: [{expected_pin('a:1')}]" in result.stdout
