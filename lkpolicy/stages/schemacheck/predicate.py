"""Write `policy_valid.py`: the policy schema as one yes/no test, jsonschema's verdict without
jsonschema.

    python -m lkpolicy.stages.schemacheck.predicate          # rewrite policy_valid.py
    python -m lkpolicy.stages.schemacheck.predicate --check  # exit 1 if it is out of date

Every `lkpolicy check` validates its policy files. A valid policy, the usual case, is judged
by the generated test alone; only a policy that fails it is run through jsonschema, whose
errors (messages and positions) the loader reports (`stages/policy/validation.py`). The test
covers only the keywords the policy schema uses; any other keyword stops the generator, so a
schema edit cannot drift from the reference (tests/test_policy_schemacheck.py runs both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkpolicy.stages.schemacheck.pysource import (
    ANNOTATIONS,
    ROOT_ONLY,
    TYPE_TESTS,
    SchemaNotSupported,
    constant_name,
    def_reference,
    escape_token,
    function_name,
    generator_main,
    helpers_for,
    identity,
    literal,
    load_schema,
    strings,
    tuple_literal,
    type_names,
    type_test,
)

PREDICATE_PATH = Path(__file__).resolve().parent / "policy_valid.py"

_GUARDS = {
    "required": "object", "properties": "object", "additionalProperties": "object",
    "propertyNames": "object", "minProperties": "object", "patternProperties": "object",
    "items": "array", "minItems": "array", "uniqueItems": "array",
    "minLength": "string", "maxLength": "string", "pattern": "string",
}
"""The instance type each keyword applies to; jsonschema passes any other type."""
_LAST = ("uniqueItems",)
"""Tested after the others (the verdict does not depend on the order): uniqueness compares
items, which is cheaper and simpler once `items` has checked them."""
_INLINE_LENGTH = 72
"""A subschema whose test is longer becomes a function of its own."""
_UNIQUE_HELPER = [
    "",
    "",
    "def _unique(values: list[Any]) -> bool:",
    '    """jsonschema\'s `uniqueItems`: equal as JSON values (1 == 1.0, True != 1)."""',
    "    keys = [_json_key(value) for value in values]",
    "    return len(set(keys)) == len(keys)",
    "",
    "",
    "def _json_key(value: Any) -> Any:",
    "    if isinstance(value, bool):",
    '        return ("boolean", value)',
    "    if isinstance(value, int | float):",
    '        return ("number", value)',
    "    if isinstance(value, list):",
    '        return ("array", tuple(_json_key(item) for item in value))',
    "    if isinstance(value, dict):",
    '        return ("object", frozenset((key, _json_key(item)) for key, item in value.items()))',
    '    return ("scalar", value)',
]


@dataclass
class _Compiler:
    schema: dict[str, Any]
    constants: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[str, Any, str]] = field(default_factory=dict)
    """Function name -> (identity, subschema, where), in order of first use."""
    counter: int = 0
    uses_re: bool = False

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, name: str, value: str) -> str:
        for known, other in self.constants.items():
            if other == value:
                return known
        while name in self.constants:
            name += "_"
        self.constants[name] = value
        return name

    def function(self, name: str, node: Any, where: str) -> str:
        """The function testing `node`, shared by every subschema that tests the same."""
        key = identity(node)
        for known, (other, _node, _where) in self.functions.items():
            if other == key:
                return known
        while name in self.functions:
            name += "_"
        self.functions[name] = (key, node, where)
        return name

    def test(self, node: Any, var: str, where: str, name: str) -> str:
        """One boolean expression for `node` (a call when it is long)."""
        conditions = self.conditions(node, var, where)
        if not conditions:
            return "True"
        if len(conditions) == 1 and len(conditions[0]) <= _INLINE_LENGTH:
            return conditions[0]
        return f"{self.function(name, node, where)}({var})"

    def conditions(self, node: Any, var: str, where: str) -> list[str]:
        """What must all hold for `var` to be valid against `node`; the type test first, so
        that the others may assume it."""
        if node is True or node == {}:
            return []
        if not isinstance(node, dict):
            raise SchemaNotSupported(f"{where}: only object subschemas are supported")
        own_type = None
        first: list[str] = []
        rest: list[str] = []
        last: list[str] = []
        if "type" in node:
            names = type_names(node["type"], f"{where}/type")
            own_type = names[0] if len(names) == 1 else None
            first.append(type_test(names, var))
        for keyword, value in node.items():
            if keyword in ANNOTATIONS or keyword == "type" or (
                    where == "#" and keyword in ROOT_ONLY) or keyword in ("then", "else"):
                continue
            method = _KEYWORDS.get(keyword)
            if method is None:
                raise SchemaNotSupported(f"{where}: keyword `{keyword}` is not supported")
            tests = getattr(self, method)(value, var, f"{where}/{keyword}", node)
            guard = _GUARDS.get(keyword)
            if guard is not None and guard != own_type:
                tests = [f"(not {TYPE_TESTS[guard].format(v=var)} or {test})" for test in tests]
            (last if keyword in _LAST else rest).extend(tests)
        return [*first, *rest, *last]

    def _name(self, where: str) -> str:
        words = [word for word in constant_name(where).lower().strip("_").split("_")
                 if word != "properties"]
        return function_name("_valid_", "_".join(words) or "root")

    # --- one method per keyword: the tests it adds -------------------------------------------

    def _ref(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        name = def_reference(self.schema, value, where)
        function = self.function(function_name("_valid_", name), self.schema["$defs"][name],
                                 f"#/$defs/{name}")
        return [f"{function}({var})"]

    def _enum(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        # A string equals only the same string (jsonschema's `equal`), and `in` on a tuple
        # compares with ==: exactly the enum's test.
        options = self.constant(constant_name(where), tuple_literal(strings(value, where)))
        return [f"{var} in {options}"]

    def _const(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if isinstance(value, str):
            return [f"{var} == {literal(value)}"]
        if value is True or value is False or value is None:
            return [f"{var} is {value!r}"]  # True is not 1 to jsonschema
        raise SchemaNotSupported(f"{where}: only a string, boolean or null `const` is supported")

    def _required(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        keys = strings(value, where)
        return [f"({' and '.join(f'{literal(key)} in {var}' for key in keys)})"] if keys else []

    def _properties(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if not isinstance(value, dict):
            raise SchemaNotSupported(f"{where}: `properties` must be an object")
        tests = []
        for name, subschema in value.items():
            inner = f"{where}/{escape_token(name)}"
            test = self.test(subschema, f"{var}[{literal(name)}]", inner, self._name(inner))
            if test != "True":
                tests.append(f"({literal(name)} not in {var} or {test})")
        return tests

    def _additionalProperties(self, value: Any, var: str, where: str,
                              node: dict[str, Any]) -> list[str]:
        declared = tuple(node.get("properties", {}))
        members = self.constant(constant_name(where.rsplit("/", 1)[0]) + "_KEYS",
                                f"frozenset({tuple_literal(declared)})") if declared else ""
        patterns = [self._key_pattern(pattern, f"{where}/{index}")
                    for index, pattern in enumerate(node.get("patternProperties", {}))]
        if value is False and not patterns:
            return [f"{members}.issuperset({var})" if declared else f"not {var}"]
        key = self.fresh("key")
        test = "False" if value is False else self.test(value, f"{var}[{key}]", where,
                                                         self._name(where))
        if test == "True":
            return []
        # Additional: neither declared nor matched by a `patternProperties` pattern.
        exclusions = ([f"{key} not in {members}"] if declared else []) + [
            f"{pattern}.search({key}) is None" for pattern in patterns]
        extra = f" if {' and '.join(exclusions)}" if exclusions else ""
        return [f"all({test} for {key} in {var}{extra})"]

    def _key_pattern(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise SchemaNotSupported(f"{where}: a `patternProperties` key must be a string")
        self.uses_re = True
        # jsonschema: re.search with Python's own regular expressions.
        return self.constant(constant_name(where), f"re.compile({literal(value)})")

    def _patternProperties(self, value: Any, var: str, where: str,
                           node: dict[str, Any]) -> list[str]:
        if not isinstance(value, dict):
            raise SchemaNotSupported(f"{where}: `patternProperties` must be an object")
        tests = []
        for index, (pattern, subschema) in enumerate(value.items()):
            compiled = self._key_pattern(pattern, f"{where}/{index}")
            key = self.fresh("key")
            inner = f"{where}/{escape_token(pattern)}"
            test = self.test(subschema, f"{var}[{key}]", inner, self._name(f"{where}/{index}"))
            if test != "True":
                tests.append(f"all({test} for {key} in {var} if {compiled}.search({key}))")
        return tests

    def _propertyNames(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        key = self.fresh("key")
        test = self.test(value, key, where, self._name(where))
        return [] if test == "True" else [f"all({test} for {key} in {var})"]

    def _items(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if "prefixItems" in node or value is False:
            raise SchemaNotSupported(f"{where}: only `items` with a schema is supported")
        item = self.fresh("item")
        test = self.test(value, item, where, self._name(where))
        return [] if test == "True" else [f"all({test} for {item} in {var})"]

    def _minimum_size(self, value: Any, var: str, where: str) -> list[str]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SchemaNotSupported(f"{where}: only a non-negative integer is supported")
        return [f"len({var}) >= {value}"] if value else []

    def _minLength(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        return self._minimum_size(value, var, where)

    def _maxLength(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SchemaNotSupported(f"{where}: only a non-negative integer is supported")
        return [f"len({var}) <= {value}"]  # code points, as jsonschema counts them

    def _minItems(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        return self._minimum_size(value, var, where)

    def _minProperties(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        return self._minimum_size(value, var, where)

    def _uniqueItems(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if not isinstance(value, bool):
            raise SchemaNotSupported(f"{where}: `uniqueItems` must be a boolean")
        return [f"_unique({var})"] if value else []

    def _pattern(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if not isinstance(value, str):
            raise SchemaNotSupported(f"{where}: `pattern` must be a string")
        self.uses_re = True
        # jsonschema: re.search with Python's own regular expressions.
        pattern = self.constant(constant_name(where), f"re.compile({literal(value)})")
        return [f"{pattern}.search({var}) is not None"]

    def _branches(self, value: Any, var: str, where: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise SchemaNotSupported(f"{where}: expected a non-empty list of subschemas")
        return [self.test(branch, var, f"{where}/{index}", self._name(f"{where}/{index}"))
                for index, branch in enumerate(value)]

    def _anyOf(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        tests = self._branches(value, var, where)
        return [] if "True" in tests else [f"({' or '.join(tests)})"]

    def _oneOf(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        return [f"[{', '.join(self._branches(value, var, where))}].count(True) == 1"]

    def _allOf(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        if not isinstance(value, list) or not value:
            raise SchemaNotSupported(f"{where}: expected a non-empty list of subschemas")
        return [test for index, branch in enumerate(value)
                for test in self.conditions(branch, var, f"{where}/{index}")]

    def _not(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        return [f"not {self.test(value, var, where, self._name(where))}"]

    def _if(self, value: Any, var: str, where: str, node: dict[str, Any]) -> list[str]:
        base = where.rsplit("/", 1)[0]
        condition = self.test(value, var, where, self._name(where))
        tests = []
        if "then" in node:
            then = self.test(node["then"], var, f"{base}/then", self._name(f"{base}/then"))
            tests.append(f"(not {condition} or {then})")
        if "else" in node:
            otherwise = self.test(node["else"], var, f"{base}/else", self._name(f"{base}/else"))
            tests.append(f"({condition} or {otherwise})")
        return tests


_KEYWORDS = {"$ref": "_ref", "enum": "_enum", "const": "_const", "required": "_required",
             "properties": "_properties", "additionalProperties": "_additionalProperties",
             "patternProperties": "_patternProperties", "propertyNames": "_propertyNames",
             "items": "_items", "minLength": "_minLength", "maxLength": "_maxLength",
             "minItems": "_minItems", "minProperties": "_minProperties",
             "uniqueItems": "_uniqueItems", "pattern": "_pattern", "anyOf": "_anyOf",
             "oneOf": "_oneOf", "allOf": "_allOf", "not": "_not", "if": "_if"}
"""The keywords the test reproduces (besides `type`, `then` and `else`), and their methods."""


def _function_source(name: str, parameter: str, conditions: list[str], doc: str = "") -> list[str]:
    lines = ["", "", f"def {name}({parameter}: Any) -> bool:"]
    if doc:
        lines.append(f'    """{doc}"""')
    if not conditions:
        return [*lines, "    return True"]
    if len(conditions) == 1:
        return [*lines, f"    return {conditions[0]}"]
    return [*lines, "    return (", f"        {conditions[0]}",
            *(f"        and {condition}" for condition in conditions[1:]), "    )"]


def render(schema_text: str, source: str) -> str:
    """The generated module for the schema text (read from `source`, named in the header)."""
    compiler = _Compiler(load_schema(schema_text))
    root = compiler.conditions(compiler.schema, "data", "#")
    functions: list[str] = []
    done: set[str] = set()
    while len(done) < len(compiler.functions):
        for name, (_key, node, where) in list(compiler.functions.items()):
            if name not in done:
                done.add(name)
                functions += _function_source(name, "value",
                                              compiler.conditions(node, "value", where))
    public = _function_source("is_valid", "data", root,
                              "Whether jsonschema finds no error in `data`.")
    code = "\n".join([*public, *functions])
    helpers = helpers_for(code) + (_UNIQUE_HELPER if "_unique(" in code else [])
    constants = [f"{name} = {value}" for name, value in sorted(compiler.constants.items())]
    return "\n".join([
        f"# Generated from {source}; do not edit.",
        "# Regenerate with `python -m lkpolicy.stages.schemacheck.predicate` after changing a",
        "# keyword that validates (descriptions and titles leave this file as it is).",
        '"""The policy schema as one test: whether jsonschema would find an error, without it."""',
        "",
        "from __future__ import annotations",
        "",
        *(["import re"] if compiler.uses_re else []),
        "from typing import Any",
        "",
        *constants,
        *public,
        *helpers,
        *functions,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    from lkpolicy.stages.policy.validation import SCHEMA_PATH

    return generator_main(
        argv, "lkpolicy.stages.schemacheck.predicate", __doc__, PREDICATE_PATH,
        lambda: render(SCHEMA_PATH.read_text(encoding="utf-8"), "schemas/policy.schema.json"))


if __name__ == "__main__":
    raise SystemExit(main())
