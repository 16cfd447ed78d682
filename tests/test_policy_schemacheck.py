"""The generated policy-schema test against jsonschema, the reference: the same verdict on
every policy, so that a valid policy is judged without importing jsonschema and an invalid
one still gets jsonschema's LKP002 messages and positions.

Inputs: the built-in policies and the example's, every policy written in the test modules,
hand-written policies for each keyword the schema uses, and generated policies (shaped by the
schema, with wrong types, unknown keys, missing keys, duplicates and near values).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for
from test_schemacheck_differential import combined_object, configs_in_test_modules

from lkpolicy.model.findings import InputError
from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy.validation import SCHEMA_PATH, validate_policy
from lkpolicy.stages.schemacheck import predicate
from lkpolicy.stages.schemacheck.policy_valid import is_valid
from lkpolicy.stages.schemacheck.pysource import DIALECT, SchemaNotSupported

ROOT = Path(__file__).resolve().parent.parent
POLICY_KEYS = ("rules", "extends", "trust", "overrides", "waivers", "custom_rules", "check")


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def reference() -> Any:
    return validator_for(schema())(schema(), format_checker=None)


def assert_same(data: Any) -> bool:
    verdict = reference().is_valid(data)
    assert is_valid(data) is verdict, (data, list(reference().iter_errors(data)))
    return verdict


# --- the generated module -------------------------------------------------------------------


def test_generated_module_is_what_the_generator_writes_for_the_schema() -> None:
    assert predicate.main(["--check"]) == 0, "run: python -m lkpolicy.stages.schemacheck.predicate"


def test_a_schema_edit_shows_in_the_generated_module() -> None:
    edited = schema() | {"properties": {**schema()["properties"], "extends": {"type": "string"}}}
    assert predicate.render(json.dumps(edited), "x") != predicate.PREDICATE_PATH.read_text()


@pytest.mark.parametrize(("node", "complaint"), [
    pytest.param({"type": "object", "maxProperties": 2}, "keyword `maxProperties`", id="max"),
    pytest.param({"const": 3}, "string, boolean or null `const`", id="const-number"),
    pytest.param({"enum": [1]}, "only a list of strings", id="enum-of-ints"),
    pytest.param({"$ref": "other.json"}, "#/$defs/<name>", id="remote-ref"),
    pytest.param({"patternProperties": ["^x"]}, "`patternProperties` must be an object",
                 id="patternProperties-list"),
    pytest.param({"maxLength": "3"}, "non-negative integer", id="maxLength-text"),
    pytest.param({"minItems": -1}, "non-negative integer", id="negative-size"),
])
def test_generator_refuses_what_it_cannot_reproduce(node: dict[str, Any], complaint: str) -> None:
    with pytest.raises(SchemaNotSupported, match=complaint.replace("$", r"\$")):
        predicate.render(json.dumps({"$schema": DIALECT, **node}), "test")


def test_generated_test_runs_as_written_for_a_small_schema() -> None:
    namespace: dict[str, Any] = {}
    exec(predicate.render(json.dumps({
        "$schema": DIALECT, "type": "object", "required": ["a"],
        "properties": {"a": {"type": "integer"}, "b": {"uniqueItems": True, "type": "array"}},
    }), "test"), namespace)
    valid = namespace["is_valid"]
    assert valid({"a": 5.0}) and not valid({"a": True}) and not valid({})
    assert valid({"a": 1, "b": [1, True, "1"]}) and not valid({"a": 1, "b": [1, 1.0]})


@pytest.mark.parametrize("instance", [
    {}, {"a": 1}, {"a": "x"}, {"ORG1": "x"}, {"ORG1": 1}, {"LK1": "x"}, {"b": 1}, {"ORG1a": 2},
    {"a": 1, "ORG22": "y", "XY9": ""}, {"ORG1": "x" * 4}, {"a": 1, "b": "x"}, [], "ORG1",
])
def test_pattern_properties_and_max_length_against_jsonschema(instance: Any) -> None:
    # The shape of the policy's `rules`: declared IDs, custom IDs by pattern, nothing else.
    small = {"$schema": DIALECT, "type": "object", "additionalProperties": False,
             "properties": {"a": {"type": "integer"}},
             "patternProperties": {"^(?!LK)[A-Z]{2,12}[0-9]{1,6}$": {"type": "string",
                                                                    "maxLength": 3}}}
    namespace: dict[str, Any] = {}
    exec(predicate.render(json.dumps(small), "test"), namespace)
    assert namespace["is_valid"](instance) is validator_for(small)(small).is_valid(instance)
    open_ended = small | {"additionalProperties": {"type": "integer"}}
    exec(predicate.render(json.dumps(open_ended), "test"), namespace)
    assert namespace["is_valid"](instance) is validator_for(open_ended)(open_ended).is_valid(
        instance)


# --- real policies --------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in [
    *(ROOT / "lkpolicy" / "data" / "policies").glob("*.yml"), ROOT / "examples" / ".lkpolicy.yml"]))
def test_builtin_and_example_policies(path: str) -> None:
    document, _ = load_document(str(ROOT / path))
    assert assert_same(document.data)
    validate_policy(document)


def _policy_texts() -> list[str]:
    texts = []
    for module_texts in configs_in_test_modules().values():
        for text in module_texts:
            first = text.lstrip().split(":", 1)[0]
            if first in POLICY_KEYS:
                texts.append(text)
    return texts


def test_policies_written_in_test_modules() -> None:
    verdicts = []
    for text in _policy_texts():
        try:
            document, _ = load_document("policy.yml", text.encode())
        except InputError:
            continue
        verdicts.append(assert_same(document.data))
    assert len(verdicts) >= 40 and verdicts.count(False) >= 5, verdicts


# --- one policy per keyword -----------------------------------------------------------------

NOTARY = {"type": "notary", "server": "https://notary.example.com"}
CASES: list[tuple[Any, bool]] = [
    ({}, True), ([], False), ({"rules": {"LKP110": "error"}}, True),
    ({"rules": {"LKP110": "fatal"}}, False), ({"rules": {"LKP999": "off"}}, False),
    ({"rules": {"LKP110": {"forbidden": ["CAP_SYS_ADMIN", "CAP_SYS_ADMIN"]}}}, False),
    ({"rules": {"LKP110": {"forbidden": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}}}, True),
    ({"rules": {"LKP110": {"forbiden": []}}}, False), ({"extends": ["", "x"]}, False),
    ({"extends": ["builtin:strict"]}, True), ({"extends": "builtin:strict"}, False),
    ({"waivers": [{}, 1]}, False), ({"waivers": [{"rule": "x"}]}, True),
    ({"overrides": [{"match": {}, "rules": {}}]}, False),
    ({"overrides": [{"match": {"image": "a/*"}, "rules": {"LKP101": "off"}}]}, True),
    ({"overrides": [{"match": {"section": ["services", "nope"]}, "rules": {}}]}, False),
    ({"overrides": [{"match": {"name": []}, "rules": {}}]}, False),
    ({"trust": {"authorities": {"hub": {**NOTARY, "tofu": True}}}}, True),
    ({"trust": {"authorities": {"hub": {**NOTARY, "tofu": 1}}}}, False),
    ({"trust": {"authorities": {"hub": {**NOTARY, "tofu": False}}}}, False),
    ({"trust": {"authorities": {"hub": {**NOTARY, "root_keys": ["k"]}}}}, True),
    ({"trust": {"authorities": {"hub": {**NOTARY, "root_keys": []}}}}, False),
    ({"trust": {"authorities": {"hub": {**NOTARY, "server": "ftp://x", "tofu": True}}}}, False),
    ({"trust": {"authorities": {"-hub": {**NOTARY, "tofu": True}}}}, False),
    ({"trust": {"authorities": {"hub": {**NOTARY, "tofu": True, "extra": 1}}}}, False),
    ({"trust": {"authorities": {"t": {"type": "tuf", "repository": "r", "root": "x"}}}}, True),
    ({"trust": {"authorities": {"t": {"type": "tuf", "repository": "r"}}}}, False),
    ({"trust": {"authorities": {"t": {"type": "other"}}}}, False),
    ({"trust": {"authorities": {"t": {"type": "cosign-key", "keys": ["k.pub"]}}}}, True),
    ({"trust": {"authorities": {"s": {"type": "sigstore", "trusted_root": "r", "identities": [
        {"issuer": "i", "subject": "s"}]}}}}, True),
    ({"trust": {"authorities": {"s": {"type": "sigstore", "trusted_root": "r", "identities": [
        {"issuer": "i", "subject": "s", "subject_regex": "s.*"}]}}}}, False),
    ({"trust": {"authorities": {"s": {"type": "sigstore", "trusted_root": "r", "identities": [
        {"issuer": "i"}]}}}}, False),
    ({"trust": {"rules": [{"images": "*", "require": "hub"}]}}, True),
    ({"trust": {"rules": [{"images": "*", "require": {"all": ["a", "a"]}}]}}, True),
    ({"trust": {"rules": [{"images": "*", "require": {
        "authority": "hub", "signers": ["targets/a", "targets/a"]}}]}}, False),
    ({"trust": {"rules": [{"images": "*", "require": {
        "authority": "hub", "signers": ["targets/a", "targets/b"]}}]}}, True),
    ({"trust": {"rules": [{"images": "*", "files": "a", "require": "hub"}]}}, False),
    ({"trust": {"rules": [{"files": ["a"], "require": "hub"}]}}, True),
    ({"trust": {"rules": [{"require": "hub"}]}}, False),
    ({"trust": {"rules": [{"images": ["*"], "require": {"any": ["a", "b"]}}]}}, True),
    ({"trust": {"rules": [{"images": [], "require": "a"}]}}, False),
    ({"trust": {"rules": [{"images": "*", "require": {"all": ["a"], "any": ["b"]}}]}}, False),
    ({"trust": {"default_authority": "hub", "extra": True}}, False),
]


@pytest.mark.parametrize(("data", "valid"), CASES)
def test_each_keyword(data: Any, valid: bool) -> None:
    assert assert_same(data) is valid


def test_invalid_policy_gets_jsonschemas_findings(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text(textwrap.dedent("""\
        rules:
          LKP110: {severity: error, forbiden: []}
        trust:
          authorities:
            hub: {type: notary, server: ftp://x, tofu: true}
        """))
    document, _ = load_document(str(path))
    with pytest.raises(InputError) as raised:
        validate_policy(document)
    found = [(f.rule_id, f.location.line, f.location.column, f.message)
             for f in raised.value.findings]
    assert found == [
        ("LKP002", 2, 29, "`forbiden` is not a rule option; did you mean `forbidden`?"),
        ("LKP002", 5, 33, "`ftp://x` is not a valid `server`: it must match `^https?://[^/]+`"),
    ]


def test_a_valid_policy_is_judged_without_jsonschema(project_root: Path) -> None:
    probe = ("import sys\n"
             "from lkpolicy.stages.policy.loader import load_policy_file\n"
             "load_policy_file('builtin:strict')\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jsonschema'))\n")
    completed = subprocess.run([sys.executable, "-c", probe], cwd=project_root,
                               capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.strip() == "[]"


# --- generated policies ---------------------------------------------------------------------

_NEAR_STRINGS = ["", "a", "hub", "-hub", "a/*", "*", "https://n.example", "http://", "ftp://x",
                 "error", "fatal", "off", "Warning", "CAP_SYS_ADMIN", "CAP_FOO", "notary", "tuf",
                 "sigstore", "cosign-key", "services", "files", "pid", "builtin:default"]
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 1.5, float("nan")]),
    st.sampled_from(_NEAR_STRINGS), st.text(max_size=6),
    st.lists(st.sampled_from([1, True, "a", "a", None]), max_size=3),
    st.dictionaries(st.sampled_from(["type", "x", "all", "severity"]), st.none(), max_size=2),
)


def _mutated(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, valid, junk)


@cache
def _strategy(where: str) -> st.SearchStrategy[Any]:
    node: Any = schema()
    for part in where.split("/")[1:]:
        node = node[part]
    return _mutated(_for_schema(node))


def _for_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in node:
        return st.deferred(lambda: _strategy(node["$ref"]))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"]) | st.sampled_from(_NEAR_STRINGS)
    for keyword in ("anyOf", "oneOf"):
        if keyword in node and "properties" not in node:
            return st.one_of([_for_schema(branch) for branch in node[keyword]])
    if "allOf" in node:  # an authority: one type's `then`, with the common keys
        return st.one_of([_objects({**branch["then"], "type": "object"})
                          for branch in node["allOf"]])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return _objects(node)
    if kind == "array":
        items = _mutated(_for_schema(node.get("items", {})))
        return st.lists(items, max_size=3) | st.lists(items, min_size=1, max_size=1).map(
            lambda single: single * 2)  # duplicates, for uniqueItems
    if kind == "string":
        return st.sampled_from(_NEAR_STRINGS) | st.text(max_size=6)
    if kind == "boolean":
        return st.booleans() | st.sampled_from([0, 1])
    return junk


def _objects(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    properties = {name: _mutated(_for_schema(sub))
                  for name, sub in node.get("properties", {}).items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        names = st.sampled_from(_NEAR_STRINGS)
        return st.dictionaries(names, _mutated(_for_schema(extra)), max_size=3)
    required = {name: properties.pop(name) for name in node.get("required", [])
                if name in properties}
    shaped = st.fixed_dictionaries(required, optional=properties)
    unknown = st.dictionaries(st.sampled_from(["x", "severity", "subject", "ca", "LKP999"]),
                              junk, max_size=1)

    return st.builds(combined_object, shaped, st.one_of(st.just({}), st.just({}), unknown),
                     st.lists(st.sampled_from(list(required) or [""]), max_size=1))


SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(data=_strategy("#"))
def test_schema_shaped_policies(data: Any) -> None:
    assert_same(data)


@pytest.mark.parametrize("name", sorted(schema()["$defs"]))
def test_each_definition(name: str) -> None:
    place = {"severity": ("rules", "LKP110"), "rules": ("rules",),
             "selector": ("overrides", 0, "match"), "authority": ("trust", "authorities", "a"),
             "authorityName": ("trust", "default_authority"),
             "requirement": ("trust", "rules", 0, "require"),
             "identity": ("trust", "authorities", "s", "identities", 0),
             "attestation": ("trust", "rules", 0, "require", "attestation"),
             "customRule": ("custom_rules", "ORG001")}[name]

    def placed(value: Any) -> Any:
        for token in reversed(place):
            value = [value] if isinstance(token, int) else {token: value}
        if name in ("requirement", "attestation"):  # inside a rule that is otherwise valid
            value["trust"]["rules"][0]["images"] = "*"
        if name == "attestation":
            value["trust"]["rules"][0]["require"]["authority"] = "a"
        return value

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(value=_strategy(f"#/$defs/{name}"))
    def check(value: Any) -> None:
        assert_same(placed(value))
        if name == "identity":  # inside an otherwise valid sigstore authority
            assert_same({"trust": {"authorities": {"s": {
                "type": "sigstore", "trusted_root": "r", "identities": [value]}}}})

    check()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=_strategy("#"))
def test_schema_shaped_policies_as_yaml_text(data: Any) -> None:
    # JSON is YAML; the loader's own typing of the values (and the findings' positions).
    try:
        text = json.dumps(data, allow_nan=False)
    except ValueError:
        return
    try:
        document, _ = load_document("policy.yml", text.encode())
    except InputError:
        return
    valid = assert_same(document.data)
    try:
        validate_policy(document)
    except InputError as error:
        assert not valid and error.findings
    else:
        assert valid
