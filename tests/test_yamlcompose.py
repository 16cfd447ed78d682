"""`yamlcompose.compose_all` against ruamel.yaml's own `YAML(typ="rt", pure=True)`: the same
node graphs (tags, values, styles, anchors, positions), the same errors at the same marks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from test_schemacheck_differential import configs_in_test_modules

from lkpolicy.stages.yamlcompose import compose_all
from lkpolicy.stages.yamlreader import reader_parts

ROOT = Path(__file__).resolve().parent.parent


def _mark(mark: Any) -> tuple[int, int, int] | None:
    return None if mark is None else (mark.line, mark.column, mark.index)


def _shape(node: Any) -> Any:
    if node is None:
        return None
    common = (type(node).__name__, str(node.tag), _mark(node.start_mark), _mark(node.end_mark),
              getattr(node, "anchor", None))
    if isinstance(node, ScalarNode):
        return (*common, node.value, node.style)
    if isinstance(node, SequenceNode):
        return (*common, node.flow_style, [_shape(item) for item in node.value])
    assert isinstance(node, MappingNode)
    return (*common, node.flow_style,
            [(_shape(key), _shape(value)) for key, value in node.value])


def _documents(compose: Any, text: str) -> tuple[list[Any], Any]:
    shapes: list[Any] = []
    try:
        for node in compose(text):
            shapes.append(_shape(node))
    except (YAMLError, RecursionError, ValueError) as error:
        problem = getattr(error, "problem", None)
        return shapes, (type(error).__name__, str(error), problem,
                        _mark(getattr(error, "problem_mark", None)),
                        _mark(getattr(error, "context_mark", None)))
    return shapes, None


def reference(text: str) -> Any:
    # The stock resolver on both sides: what is compared is how the modules are driven.
    yaml = YAML(typ="rt", pure=True)
    yaml.Resolver = VersionedResolver
    return yaml.compose_all(text)


def assert_same(text: str) -> bool:
    """Both composers on `text`, and the config reader's scanner and composer (which skip
    comments as ruamel's plain scanner does); whether it is valid YAML."""
    ours = _documents(lambda source: compose_all(source, VersionedResolver), text)
    theirs = _documents(reference, text)
    assert ours == theirs, text
    _resolver, scanner, composer = reader_parts()
    readers = _documents(lambda source: compose_all(source, VersionedResolver, scanner=scanner,
                                                    composer=composer), text)
    libyaml_rules = any(mark in text for mark in "\t&*") or (
        any(mark in text for mark in "[{") and any(mark in text for mark in ":?"))
    if (theirs[1] is None) != (readers[1] is None):
        # The reader follows libyaml where linuxkit's Go YAML does and ruamel does not (tested
        # against linuxkit in test_linuxkit_differential): it refuses only with one of those
        # rules, and reads more only where libyaml does (tabs, anchor names, block headers).
        if readers[1] is not None and not libyaml_rules:
            assert any(rule in readers[1][1] for rule in LIBYAML_REFUSALS), (text, readers[1])
        elif readers[1] is None:
            assert libyaml_rules or any(mark in text for mark in "|>"), text
        return ours[1] is None
    if libyaml_rules:
        # Tabs, anchor names, `?` and `:` in flow collections: where both refuse, each at a
        # place of its own rules; what both read may differ (`&0:` is a mapping with an
        # anchored key in libyaml).
        return ours[1] is None
    if theirs[1] is None:
        assert readers == _folded(theirs), text
    else:
        # Broken YAML is broken for both; without the round-trip scanner's look-ahead for
        # comments the error is found where a lazy scanner (libyaml, Go's yaml.v3) finds it:
        # at the same place or earlier, never later.
        assert readers[1] is not None, text
        assert _error_index(readers[1]) <= _error_index(theirs[1]), text
    return ours[1] is None


LIBYAML_REFUSALS = ("'\\t'", "tab character", "alphabetic or numeric character",
                    "linuxkit's YAML does not read", "linuxkit cannot read")


def _folded(result: tuple[list[Any], Any]) -> tuple[list[Any], Any]:
    """ruamel's round-trip scanner marks each fold of a folded scalar with `\\a` for its
    dumper; the config reader folds as YAML does (a space), so compare without the marks."""
    def strip(shape: Any) -> Any:
        if isinstance(shape, tuple):
            return tuple(strip(item) for item in shape)
        if isinstance(shape, list):
            return [strip(item) for item in shape]
        return shape.replace("\a", "") if isinstance(shape, str) else shape
    return strip(result[0]), result[1]


def _error_index(error: tuple[Any, ...]) -> int:
    problem_mark = error[3]
    return problem_mark[2] if problem_mark is not None else 0


def test_corpus_and_label_sources(corpus_dir: Path) -> None:
    paths = sorted(corpus_dir.rglob("*.yml"))
    assert len(paths) > 200
    valid = [assert_same(path.read_text(encoding="utf-8")) for path in paths]
    assert valid.count(False) >= 1  # examples/static-ip.yml: a syntax error


def test_examples_and_policies() -> None:
    paths = [*ROOT.glob("examples/**/*.yml"), *ROOT.glob("examples/.*.yml"),
             *ROOT.glob("lkpolicy/data/policies/*.yml")]
    assert len(paths) >= 9
    for path in paths:
        assert assert_same(path.read_text(encoding="utf-8")), path


def test_configs_written_in_test_modules() -> None:
    texts = [text for module in configs_in_test_modules().values() for text in module]
    assert len(texts) > 300
    valid = [assert_same(text) for text in texts]
    assert valid.count(False) > 10


@pytest.mark.parametrize("text", [
    "", "---\n", "a: 1\n---\nb: 2\n", "%YAML 1.1\n---\na: yes\n", "%YAML 1.2\n---\na: 0o17\n",
    "%YAML 1.1\n---\na: yes\n---\nb: yes\n...\n%YAML 1.2\n---\nc: yes\n---\nd: 0o7\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", "a: &x [1, 2]\nb: *x\n", "a: *nope\n",
    "a: [1, 2\n", "a: {b: 1\n", "a:\n  - b\n c\n", "a: 'x\n", "\t- a\n", "a: !!binary aGk=\n",
    "? [a, b]\n: c\n", "a: |\n  x\n   y\n", "a: >-\n  x\n\n  y\n", "- - - a\n", "a: b: c\n",
    "# only a comment\n", "a: 1 # c\nb: 2\n", "&a a: 1\n", "a: !<tag:x> 1\n", "%FOO\n---\na\n",
    "a: 1\n...\n---\nb\n", "[a, b]: c\n", "'a': \"b\\x41\"\n", "a: \"\\ud800\"\n",
])
def test_edge_cases(text: str) -> None:
    assert_same(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{},#&*!|>'\"%@`?.0\\")),
                    max_size=60))
def test_yaml_punctuation(text: str) -> None:
    assert_same(text)


def test_a_check_loads_no_yaml_dumper(project_root: Path) -> None:
    probe = ("import sys\n"
             "from lkpolicy.stages.load import load_document\n"
             "load_document('examples/minimal.yml')\n"
             "before = sorted(m for m in sys.modules if m.startswith('ruamel.yaml.'))\n"
             "from ruamel.yaml import YAML\n"
             "YAML(typ='safe', pure=True).load('a: 1')\n"
             "print(before)\n")
    completed = subprocess.run([sys.executable, "-c", probe], cwd=project_root,
                               capture_output=True, text=True, timeout=120, check=True)
    loaded = completed.stdout.strip()
    for module in ("main", "dumper", "emitter", "representer", "serializer", "constructor"):
        assert f"'ruamel.yaml.{module}'" not in loaded, loaded
    assert "'ruamel.yaml.composer'" in loaded
