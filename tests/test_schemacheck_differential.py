"""The generated validator against jsonschema, the reference: same violations, same findings.

Inputs: every corpus config, the examples, every YAML config written in the test modules, and
generated data (schema-shaped documents with broken types, unknown keys, wrong enum values,
missing keys, deep nesting and huge lists; mutated corpus configs; the fuzz test's structures).
For each, the violations must be equal one by one, in order (keyword, path, the very node,
expected values, message), and so must the findings lkpolicy prints from them.
"""

from __future__ import annotations

import ast
import copy
import json
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from corpus import MISSING, corpus_configs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_check import documents as fuzz_documents

from lkpolicy.model.document import Document
from lkpolicy.model.findings import InputError
from lkpolicy.stages.load import load_document
from lkpolicy.stages.schemacheck.generated import violations
from lkpolicy.stages.schemacheck.reference import reference_violations
from lkpolicy.stages.schemacheck.violation import Violation
from lkpolicy.stages.validate import SCHEMA_PATH, schema, schema_findings, validate_document

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _identity(violation: Violation) -> tuple[Any, ...]:
    # The node itself, not an equal one: NaN is not equal to itself, and 1 == 1.0 == True.
    return (violation.keyword, violation.path, id(violation.instance), violation.expected,
            violation.message)


def assert_same(document: Document) -> int:
    """Compare both validators on one document; the number of violations found."""
    fast = violations(document.data)
    reference = reference_violations(document.data, SCHEMA_PATH)
    assert [_identity(v) for v in fast] == [_identity(v) for v in reference], (
        document.path, fast, reference)
    assert validate_document(document) == schema_findings(document, reference), document.path
    return len(fast)


def assert_same_data(data: Any) -> int:
    """As for an image label: plain data, no positions."""
    return assert_same(Document("<data>", "", data))


def assert_same_text(text: str, path: str = "config.yml") -> int | None:
    """As for a config file; None if the loader refuses the text (no schema stage then)."""
    try:
        document, _ = load_document(path, text.encode())
    except InputError:
        return None
    return assert_same(document)


# --- real configs ---------------------------------------------------------------------------


def test_corpus_configs(corpus_dir: Path) -> None:
    configs = [config for config in corpus_configs() if config != MISSING]
    assert len(configs) == 196
    checked = found = 0
    for config in configs:
        try:
            document, _ = load_document(str(corpus_dir / config))
        except InputError:
            continue  # static-ip.yml: a YAML syntax error, before the schema
        checked += 1
        found += assert_same(document)
    assert checked == 195
    assert found == 2  # the two rejected by the schema: an unknown key, a missing image


def test_corpus_label_sources_as_labels(corpus_dir: Path) -> None:
    """The packages' build.yml `config:` blocks are the labels `validate_data` checks."""
    labels = 0
    for path in sorted(corpus_dir.rglob("build.yml")):
        document, _ = load_document(str(path))
        assert_same(document)
        if isinstance(document.data, dict) and isinstance(document.data.get("config"), dict):
            labels += 1
            assert_same_data({"services": [{"name": "n", "image": "i", **document.data["config"]}]})
    assert labels >= 25


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in [
    *ROOT.glob("examples/*.yml"), *ROOT.glob("examples/traps/*.yml")] if not p.name.startswith(".")))
def test_examples(path: str) -> None:
    document, _ = load_document(str(ROOT / path))
    found = assert_same(document)
    assert (found > 0) == path.endswith("schema-errors.yml")


# --- every config written in the test modules -----------------------------------------------


def _module_strings(path: Path) -> Iterator[str]:
    """String values a test module spells out: literals, and sums of literals and module-level
    string constants (`SERVICE + "    uid: 1.5\\n"`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = _evaluate(statement.value, names)
            for target in targets:
                if isinstance(target, ast.Name) and value is not None:
                    names[target.id] = value
    for node in ast.walk(tree):
        value = _evaluate(node, names) if isinstance(node, ast.Constant | ast.BinOp) else None
        if value is not None:
            yield value


def _evaluate(node: ast.expr | ast.AST, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        return left + right if left is not None and right is not None else None
    return None


@cache
def configs_in_test_modules() -> dict[str, list[str]]:
    configs: dict[str, list[str]] = {}
    for module in sorted((ROOT / "tests").glob("test_*.py")):
        texts = {textwrap.dedent(text) for text in _module_strings(module)
                 if ":" in text and "\n" in text and len(text) < 20_000}
        configs[module.name] = sorted(texts)
    return configs


@pytest.mark.parametrize(("module", "configs", "rejected"), [
    ("test_lint.py", 50, 1), ("test_validate.py", 80, 40), ("test_dryrun.py", 15, 10),
    ("test_diff.py", 15, 10), ("test_policy.py", 70, 10),
])
def test_configs_written_in_test_modules(module: str, configs: int, rejected: int) -> None:
    """The configs the lint-rule and validation tests use (and a few more), as files."""
    texts = configs_in_test_modules()[module]
    loaded = [found for found in (assert_same_text(text) for text in texts) if found is not None]
    assert len(loaded) >= configs, f"{module}: only {len(loaded)} configs found"
    assert sum(found > 0 for found in loaded) >= rejected


def test_configs_written_in_all_other_test_modules() -> None:
    for texts in configs_in_test_modules().values():
        for text in texts:
            assert_same_text(text)


# --- generated documents --------------------------------------------------------------------

_NEAR_KEYS = ["capabilites", "Capabilities", "uidmappings", "blockIO", "x-common", "readOnly",
              "imgae", "", "name ", "binds.Add", "classid", "hostId", "~", "a/b"]
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(), st.sampled_from([0.0, 5.0, -1e3, 1.5, float("inf"), float("nan")]),
    st.text(max_size=8), st.sampled_from(["yes", "no", "0644", "oci", "OCI", "filesystem"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.none(), max_size=2),
)


def _nested(depth: int, leaf: Any, as_list: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"image": value}
    return value


deep = st.builds(_nested, st.integers(1, 400), junk, st.booleans())


def _mutated(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the schema-shaped value, sometimes something else in its place."""
    return st.one_of(valid, valid, valid, junk, deep)


@cache
def _strategy(where: str) -> st.SearchStrategy[Any]:
    node: Any = schema()
    for part in where.split("/")[1:]:
        node = node[part]
    return _mutated(_for_schema(node))


def _for_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in node:
        return st.deferred(lambda: _strategy(node["$ref"]))
    if "enum" in node:
        near = [variant for option in node["enum"] for variant in (option.upper(), f" {option}")]
        return st.sampled_from(node["enum"]) | st.sampled_from(near)
    if "anyOf" in node:
        return st.one_of([_for_schema(branch) for branch in node["anyOf"]])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return _objects(node)
    if kind == "array":
        return st.lists(_mutated(_for_schema(node.get("items", {}))), max_size=4)
    return {"string": st.text(max_size=10), "integer": st.integers(), "boolean": st.booleans()
            }.get(str(kind), junk)


def combined_object(base: dict[str, Any], more: dict[str, Any], drop: list[str]) -> dict[str, Any]:
    """`base` with the keys of `more` it lacks, less the keys in `drop`."""
    result = {**base, **{key: value for key, value in more.items() if key not in base}}
    for key in drop:
        result.pop(key, None)
    return result


def _objects(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    properties = {name: _mutated(_for_schema(sub)) for name, sub in node.get("properties", {}).items()}
    required = {name: properties.pop(name) for name in node.get("required", [])}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return st.dictionaries(st.text(max_size=6), _mutated(_for_schema(extra)), max_size=4)
    shaped = st.fixed_dictionaries(required, optional=properties)
    unknown = st.dictionaries(st.sampled_from(_NEAR_KEYS) | st.text(max_size=6), junk, max_size=2)

    return st.builds(combined_object, shaped, st.one_of(st.just({}), unknown),
                     st.lists(st.sampled_from(list(required) or [""]), max_size=2))


@SETTINGS
@given(data=_strategy("#"))
def test_schema_shaped_data(data: Any) -> None:
    assert_same_data(data)


def _placements() -> dict[str, tuple[str | int, ...]]:
    """For every definition, a path from the root to a place that uses it."""
    found: dict[str, tuple[str | int, ...]] = {}
    queue: list[tuple[Any, tuple[str | int, ...]]] = [(schema(), ())]
    while queue:
        node, path = queue.pop(0)
        if not isinstance(node, dict):
            continue
        reference = node.get("$ref", "")
        if reference.startswith("#/$defs/"):
            name = reference.removeprefix("#/$defs/")
            if name not in found:
                found[name] = path
                queue.append((schema()["$defs"][name], path))
        queue += [(sub, (*path, key)) for key, sub in node.get("properties", {}).items()]
        queue += [(node[key], (*path, token)) for key, token in (
            ("items", 0), ("additionalProperties", "key")) if isinstance(node.get(key), dict)]
        queue += [(branch, path) for branch in node.get("anyOf", [])]
    return found


PLACEMENTS = _placements()


def _placed(path: tuple[str | int, ...], value: Any) -> Any:
    for index, token in reversed(list(enumerate(path))):
        value = [value] if isinstance(token, int) else {token: value}
        if path[:index] == ("onboot", 0):
            value.update(name="n", image="i")  # inside a container that is otherwise valid
    return value


def test_every_definition_has_a_place() -> None:
    assert sorted(PLACEMENTS) == sorted(schema()["$defs"])
    assert PLACEMENTS["image"] == ("onboot", 0)


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_each_definition(name: str) -> None:
    """Each definition's own strategy, placed where the schema uses it, so that every
    definition gets its share of broken values."""

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(value=_strategy(f"#/$defs/{name}"))
    def check(value: Any) -> None:
        assert_same_data(_placed(PLACEMENTS[name], value))

    check()


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=_strategy("#"))
def test_schema_shaped_data_as_yaml_text(data: Any) -> None:
    # JSON is YAML: the loader gives the document positions, so findings carry real locations.
    assert_same_text(json.dumps(data))


def _lists(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, list):
        yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _lists(child)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=_strategy("#"), choice=st.integers(0, 1000), size=st.integers(1000, 20_000),
       filler=st.none() | junk)
def test_huge_lists(data: Any, choice: int, size: int, filler: Any) -> None:
    """One list of the document grows by thousands of items: its first item again and again
    (the same node at every index), or a junk value."""
    lists = list(_lists(data))
    if lists:
        target = lists[choice % len(lists)]
        target.extend([target[0] if target and filler is None else filler] * size)
    assert_same_data(data)


@SETTINGS
@given(label=_strategy("#/$defs/image"))
def test_labels(label: Any) -> None:
    assert_same_data({"services": [label]})


@SETTINGS
@given(document=fuzz_documents)
def test_fuzz_structures(document: Any) -> None:
    assert_same_data({"onboot": [document], "kernel": document, "services": document})
    assert_same_data(document)


@cache
def _corpus_data() -> list[Any]:
    corpus = ROOT.parent / "shared" / "corpus" / "linuxkit"
    loaded = []
    for config in corpus_configs():
        try:
            loaded.append(load_document(str(corpus / config))[0].data)
        except (InputError, OSError):
            continue
    return loaded or [{}]


def _mutate(data: Any, steps: list[tuple[int, int, Any]]) -> Any:
    """Walk down by the step numbers and replace, add or remove something there."""
    data = copy.deepcopy(data)
    for choice, action, value in steps:
        node = data
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if \
                isinstance(node, list) else []
            if not children or choice % 3 == 0:
                break
            key, child = children[choice % len(children)]
            choice //= 3
            if not isinstance(child, dict | list):
                if action % 2 and isinstance(node, dict | list):
                    node[key] = value  # break a scalar
                break
            node = child
        if isinstance(node, dict):
            if action % 3 == 0 and node:
                node.pop(next(iter(node)))
            else:
                node[_NEAR_KEYS[action % len(_NEAR_KEYS)]] = value
        elif isinstance(node, list):
            node.insert(action % (len(node) + 1), value)
    return data


@SETTINGS
@given(index=st.integers(0, 400),
       steps=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 99), junk | deep),
                      min_size=1, max_size=4))
def test_mutated_corpus_configs(index: int, steps: list[tuple[int, int, Any]]) -> None:
    configs = _corpus_data()
    mutated = _mutate(configs[index % len(configs)], steps)
    assert_same_data(mutated)
    assert_same_text(json.dumps(mutated), "mutated.yml")
