"""Write `generated.py`: the LinuxKit schema as plain Python checks.

    python -m lkpolicy.stages.schemacheck.generate          # rewrite generated.py
    python -m lkpolicy.stages.schemacheck.generate --check  # exit 1 if it is out of date

The output reports exactly what jsonschema (draft 2020-12) reports for the schema, in the same
order: keywords in the order the schema writes them, `properties` in schema order, items by
index. It covers only the keywords the schema uses; any other keyword stops the generator with
an error, so that a schema edit cannot silently drift from the reference (extend the generator
and the differential test in tests/test_schemacheck_differential.py together).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATED_PATH = Path(__file__).resolve().parent / "generated.py"

_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default",
                          "deprecated", "readOnly", "writeOnly"})
"""Keywords that never produce an error."""
_ROOT_ONLY = frozenset({"$schema", "$id", "$defs"})
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DEF_REF = re.compile(r"#/\$defs/([A-Za-z_][A-Za-z0-9_]*)")

_TYPE_TESTS = {
    "string": "isinstance({v}, str)",
    "integer": "_is_integer({v})",
    "boolean": "isinstance({v}, bool)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "null": "{v} is None",
}
"""jsonschema's type checker for draft 2020-12 (booleans are not integers, 5.0 is one)."""
_HELPERS = {
    "_is_integer": [
        "def _is_integer(value: Any) -> bool:",
        "    return (isinstance(value, int) and not isinstance(value, bool)) or (",
        "        isinstance(value, float) and value.is_integer())",
    ],
}
"""Functions the generated module defines when its checks call them."""


class SchemaNotSupported(ValueError):
    """The schema uses something the generator cannot reproduce exactly."""


# --- a tiny statement tree, so that nested conditions can be joined when rendered -----------


@dataclass
class _If:
    condition: str
    body: list[_Node]
    orelse: list[_Node] = field(default_factory=list)


@dataclass
class _For:
    head: str
    body: list[_Node]


@dataclass
class _Line:
    text: str


_Node = _If | _For | _Line


def _render(nodes: list[_Node], indent: int) -> list[str]:
    pad = "    " * indent
    lines: list[str] = []
    for node in nodes:
        if isinstance(node, _Line):
            lines.append(pad + node.text)
        elif isinstance(node, _For):
            lines.append(f"{pad}for {node.head}:")
            lines += _render(node.body, indent + 1)
        else:
            lines += _render_if(node, indent, "if")
    return lines


def _render_if(node: _If, indent: int, word: str) -> list[str]:
    pad = "    " * indent
    condition, body = node.condition, node.body
    # `if a:` holding only `if b:` reads (and lints) better as `if a and b:`.
    while not node.orelse and len(body) == 1 and isinstance(body[0], _If) and not body[0].orelse:
        condition = f"{_grouped(condition)} and {_grouped(body[0].condition)}"
        body = body[0].body
    lines = [f"{pad}{word} {condition}:", *_render(body, indent + 1)]
    if len(node.orelse) == 1 and isinstance(node.orelse[0], _If):
        lines += _render_if(node.orelse[0], indent, "elif")
    elif node.orelse:
        lines += [f"{pad}else:", *_render(node.orelse, indent + 1)]
    return lines


def _grouped(condition: str) -> str:
    return f"({condition})" if " or " in condition else condition


# --- compiling subschemas into statements ---------------------------------------------------


@dataclass(frozen=True)
class _PathExpr:
    """A path as Python source: a base (a variable or `()`) plus tokens appended to it."""

    base: str
    tokens: tuple[str, ...] = ()

    def child(self, token: str) -> _PathExpr:
        return _PathExpr(self.base, (*self.tokens, token))

    def __str__(self) -> str:
        if not self.tokens:
            return self.base
        inner = ", ".join(self.tokens)
        if self.base == "()":
            return f"({inner},)" if len(self.tokens) == 1 else f"({inner})"
        return f"(*{self.base}, {inner})"


@dataclass
class _Compiler:
    schema: dict[str, Any]
    constants: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[str, Any, str]] = field(default_factory=dict)
    """Function name -> (identity, subschema, where) of every `$defs` entry that is referenced
    and every inline subschema big enough for a function of its own, in order of first use."""
    counter: int = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, name: str, value: str) -> str:
        if self.constants.get(name, value) != value:
            raise SchemaNotSupported(f"two different constants named {name}")
        self.constants[name] = value
        return name

    def function(self, name: str, identity: str, node: Any, where: str) -> str:
        """A function checking `node`, shared by every place with the same `identity`."""
        for known, (other, _node, _where) in self.functions.items():
            if other == identity:
                return known
        function = _function(name)
        while function in self.functions:
            function += "_"
        self.functions[function] = (identity, node, where)
        return function

    def compile(self, node: Any, var: str, path: _PathExpr, where: str) -> list[_Node]:
        if node is True or node == {}:
            return []
        if not isinstance(node, dict):
            raise SchemaNotSupported(f"{where}: only object subschemas are supported")
        blocks: list[tuple[str | None, list[_Node]]] = []
        for keyword, value in node.items():
            if keyword in _ANNOTATIONS or (where == "#" and keyword in _ROOT_ONLY):
                continue
            method = _KEYWORDS.get(keyword)
            if method is None:
                raise SchemaNotSupported(f"{where}: keyword `{keyword}` is not supported")
            emit = getattr(self, method)
            guard, nodes = emit(value, var, path, f"{where}/{keyword}", node)
            if not nodes:
                continue
            if blocks and guard is not None and blocks[-1][0] == guard:
                blocks[-1][1].extend(nodes)
            else:
                blocks.append((guard, nodes))
        return _assemble(blocks)

    def _ref(self, value: Any, var: str, path: _PathExpr, where: str,
             node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        match = _DEF_REF.fullmatch(value) if isinstance(value, str) else None
        if match is None or match[1] not in self.schema.get("$defs", {}):
            raise SchemaNotSupported(f"{where}: only `#/$defs/<name>` references are supported")
        name = match[1]
        function = self.function(name, value, self.schema["$defs"][name], f"#/$defs/{name}")
        return None, [_Line(f"{function}({var}, {path}, out)")]

    def _type(self, value: Any, var: str, path: _PathExpr, where: str,
              node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        names = _type_names(value, where)
        return None, [_If(f"not {_type_test(names, var)}", [_report("type", path, var, _tuple(names))])]

    def _enum(self, value: Any, var: str, path: _PathExpr, where: str,
              node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        options = self.constant(_constant_name(where), _tuple(_strings(value, where)))
        # jsonschema compares a string with a string only, so `in` on the tuple is the same test.
        return None, [_If(f"not (isinstance({var}, str) and {var} in {options})",
                          [_report("enum", path, var, options)])]

    def _required(self, value: Any, var: str, path: _PathExpr, where: str,
                  node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        keys = self.constant(_constant_name(where), _tuple(_strings(value, where)))
        return _is_object(var), [
            _If(f"{_literal(key)} not in {var}", [_report("required", path, var, keys)])
            for key in value]

    def _properties(self, value: Any, var: str, path: _PathExpr, where: str,
                    node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        if not isinstance(value, dict):
            raise SchemaNotSupported(f"{where}: `properties` must be an object")
        nodes: list[_Node] = []
        for name, subschema in value.items():
            key = _literal(name)
            inner = f"{where}/{_escape(name)}"
            child = self.compile(subschema, f"{var}[{key}]", path.child(key), inner)
            if not _is_simple(child):
                function = self.function(_inline_name(subschema, inner), _identity(subschema),
                                         subschema, inner)
                child = [_Line(f"{function}({var}[{key}], {path.child(key)}, out)")]
            if child:
                nodes.append(_If(f"{key} in {var}", child))
        return _is_object(var), nodes

    def _additionalProperties(self, value: Any, var: str, path: _PathExpr, where: str,
                              node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        if "patternProperties" in node:
            raise SchemaNotSupported(f"{where}: `patternProperties` is not supported")
        declared = list(node.get("properties", {}))
        stem = _constant_name(where.rsplit("/", 1)[0]) + "_KEYS"
        if value is False:
            members = self.constant(stem + "_SET", f"frozenset({_tuple(declared)})")
            order = self.constant(stem, _tuple(declared))
            key = self.fresh("key")
            return _is_object(var), [_For(f"{key} in {var}", [_If(f"{key} not in {members}", [
                _report("additionalProperties", path, var, order), _Line("break")])])]
        key = self.fresh("key")
        body = self.compile(value, f"{var}[{key}]", path.child(key), where)
        if not body:
            return None, []
        extra = (f" if {key} not in {self.constant(stem + '_SET', f'frozenset({_tuple(declared)})')}"
                 if declared else "")
        # jsonschema walks the extra keys as a set; the same set, built the same way, gives the
        # same order (for string keys it varies with PYTHONHASHSEED, in both implementations).
        return _is_object(var), [_For(f"{key} in {{{key} for {key} in {var}{extra}}}", body)]

    def _items(self, value: Any, var: str, path: _PathExpr, where: str,
               node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        if "prefixItems" in node or value is False:
            raise SchemaNotSupported(f"{where}: only `items` with a schema is supported")
        index, item = self.fresh("index"), self.fresh("item")
        body = self.compile(value, item, path.child(index), where)
        if not body:
            return None, []
        return _TYPE_TESTS["array"].format(v=var), [_For(f"{index}, {item} in enumerate({var})", body)]

    def _anyOf(self, value: Any, var: str, path: _PathExpr, where: str,
               node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        # The validation stage reports an anyOf of plain types as one wrong-type finding; other
        # anyOfs would need jsonschema's best_match heuristics.
        if not isinstance(value, list) or not value or not all(
                isinstance(branch, dict) and "type" in branch and set(branch) <= {"type", *_ANNOTATIONS}
                for branch in value):
            raise SchemaNotSupported(f"{where}: only an anyOf of plain `type` branches is supported")
        names = tuple(name for index, branch in enumerate(value)
                      for name in _type_names(branch["type"], f"{where}/{index}"))
        return None, [_If(f"not {_type_test(names, var)}", [_report("type", path, var, _tuple(names))])]


_KEYWORDS = {"$ref": "_ref", "type": "_type", "enum": "_enum", "required": "_required",
             "properties": "_properties", "additionalProperties": "_additionalProperties",
             "items": "_items", "anyOf": "_anyOf"}
"""The keywords the generator reproduces, and the method that compiles each."""


def _assemble(blocks: list[tuple[str | None, list[_Node]]]) -> list[_Node]:
    nodes: list[_Node] = []
    for guard, body in blocks:
        if guard is None:
            nodes.extend(body)
            continue
        previous = nodes[-1] if nodes else None
        # `type: object` followed by object keywords: `if not object: ... else: ...`.
        if (isinstance(previous, _If) and not previous.orelse
                and previous.condition == f"not {guard}"):
            previous.orelse = body
        else:
            nodes.append(_If(guard, body))
    return nodes


def _is_simple(nodes: list[_Node]) -> bool:
    """One call or one test-and-report, small enough to write in place."""
    if len(nodes) != 1 or isinstance(nodes[0], _For):
        return len(nodes) == 0
    node = nodes[0]
    return isinstance(node, _Line) or (not node.orelse and all(
        isinstance(statement, _Line) for statement in node.body))


def _report(keyword: str, path: _PathExpr, var: str, expected: str) -> _Line:
    return _Line(f'out.append(Violation("{keyword}", {path}, {var}, {expected}))')


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SchemaNotSupported(f"{where}: only a list of strings is supported here")
    return value


def _identity(node: Any) -> str:
    """Equal for subschemas that check the same (annotations aside)."""
    if isinstance(node, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_identity(value)}" for key, value in node.items()
                              if key not in _ANNOTATIONS) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_identity(item) for item in node) + "]"
    return json.dumps(node)


def _inline_name(node: dict[str, Any], where: str) -> str:
    items = node.get("items")
    if node.get("type") == "array" and isinstance(items, dict):
        match = _DEF_REF.fullmatch(str(items.get("$ref", "")))
        if match:
            return match[1] + "_list"
    return _constant_name(where).strip("_").lower()


def _is_object(var: str) -> str:
    return _TYPE_TESTS["object"].format(v=var)


def _type_names(value: Any, where: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names or any(
            name not in _TYPE_TESTS for name in names):
        raise SchemaNotSupported(f"{where}: type {value!r} is not supported")
    return tuple(names)


def _type_test(names: tuple[str, ...], var: str) -> str:
    tests = [_TYPE_TESTS[name].format(v=var) for name in names]
    if len(tests) == 1:
        return f"({tests[0]})" if " and " in tests[0] else tests[0]
    return "(" + " or ".join(f"({test})" if " and " in test else test for test in tests) + ")"


def _literal(text: str) -> str:
    """A Python string literal (JSON's escapes are Python's; non-ASCII stays as written, which
    keeps characters outside the BMP whole)."""
    return json.dumps(text, ensure_ascii=False)


def _tuple(values: list[str] | tuple[str, ...]) -> str:
    inner = ", ".join(_literal(value) for value in values)
    return f"({inner},)" if len(values) == 1 else f"({inner})"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _constant_name(where: str) -> str:
    words = [word for word in re.split(r"[^A-Za-z0-9]+", where) if word and word != "defs"]
    snake = "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word) for word in words)
    return "_" + (snake.upper() or "ROOT")


def _function(name: str) -> str:
    return "_check_" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


# --- the module -----------------------------------------------------------------------------


def render(schema_text: str, source: str) -> str:
    """The generated module for the schema text (read from `source`, named in the header)."""
    schema = json.loads(schema_text)
    if not isinstance(schema, dict) or schema.get("$schema") != _DIALECT:
        raise SchemaNotSupported(f"the schema must declare `$schema: {_DIALECT}`")
    compiler = _Compiler(schema)
    root = compiler.compile(schema, "data", _PathExpr("()"), "#")
    functions: list[str] = []
    done: set[str] = set()
    while len(done) < len(compiler.functions):
        for name, (_identity, node, where) in list(compiler.functions.items()):
            if name in done:
                continue
            done.add(name)
            body = compiler.compile(node, "value", _PathExpr("path"), where)
            functions.append("\n".join([
                "",
                "",
                f"def {name}(value: Any, path: Path, out: list[Violation]) -> None:",
                *(_render(body, 1) or ["    pass"]),
            ]))
    constants = [f"{name} = {value}" for name, value in sorted(compiler.constants.items())]
    code = "\n".join([*_render(root, 1), *functions])
    helpers = [line for name, lines in _HELPERS.items() if f"{name}(" in code
               for line in ["", "", *lines]]
    return "\n".join([
        f"# Generated from {source}; do not edit.",
        "# Regenerate with `python -m lkpolicy.stages.schemacheck.generate` after changing a",
        "# keyword that validates (descriptions and titles leave this file as it is).",
        '"""The LinuxKit schema as plain checks: jsonschema\'s errors, in its order, without it."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from lkpolicy.stages.schemacheck.violation import Path, Violation",
        "",
        *constants,
        "",
        "",
        "def violations(data: Any) -> list[Violation]:",
        '    """Every schema error of `data`, as jsonschema reports them."""',
        "    out: list[Violation] = []",
        *_render(root, 1),
        "    return out",
        *helpers,
        *functions,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    from lkpolicy.stages.validate import SCHEMA_PATH

    parser = argparse.ArgumentParser(prog="python -m lkpolicy.stages.schemacheck.generate",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if generated.py is out of date")
    args = parser.parse_args(argv)
    text = render(SCHEMA_PATH.read_text(encoding="utf-8"), "schemas/linuxkit.schema.json")
    current = GENERATED_PATH.read_text(encoding="utf-8") if GENERATED_PATH.is_file() else None
    if args.check:
        if current != text:
            print(f"{GENERATED_PATH} is out of date: run python -m {__spec__.name}"
                  if __spec__ else f"{GENERATED_PATH} is out of date", file=sys.stderr)
            return 1
        return 0
    if current != text:
        GENERATED_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
