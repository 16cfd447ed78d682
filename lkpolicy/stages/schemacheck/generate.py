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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkpolicy.stages.schemacheck.pysource import (
    ANNOTATIONS,
    DEF_REF,
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

__all__ = ["GENERATED_PATH", "SchemaNotSupported", "main", "render"]

GENERATED_PATH = Path(__file__).resolve().parent / "generated.py"

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
        function = function_name("_check_", name)
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
            if keyword in ANNOTATIONS or (where == "#" and keyword in ROOT_ONLY):
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
        name = def_reference(self.schema, value, where)
        function = self.function(name, value, self.schema["$defs"][name], f"#/$defs/{name}")
        return None, [_Line(f"{function}({var}, {path}, out)")]

    def _type(self, value: Any, var: str, path: _PathExpr, where: str,
              node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        names = type_names(value, where)
        return None, [_If(f"not {type_test(names, var)}", [_report("type", path, var, tuple_literal(names))])]

    def _enum(self, value: Any, var: str, path: _PathExpr, where: str,
              node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        options = self.constant(constant_name(where), tuple_literal(strings(value, where)))
        # jsonschema compares a string with a string only, so `in` on the tuple is the same test.
        return None, [_If(f"not (isinstance({var}, str) and {var} in {options})",
                          [_report("enum", path, var, options)])]

    def _required(self, value: Any, var: str, path: _PathExpr, where: str,
                  node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        keys = self.constant(constant_name(where), tuple_literal(strings(value, where)))
        return _is_object(var), [
            _If(f"{literal(key)} not in {var}", [_report("required", path, var, keys)])
            for key in value]

    def _properties(self, value: Any, var: str, path: _PathExpr, where: str,
                    node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        if not isinstance(value, dict):
            raise SchemaNotSupported(f"{where}: `properties` must be an object")
        nodes: list[_Node] = []
        for name, subschema in value.items():
            key = literal(name)
            inner = f"{where}/{escape_token(name)}"
            child = self.compile(subschema, f"{var}[{key}]", path.child(key), inner)
            if not _is_simple(child):
                function = self.function(_inline_name(subschema, inner), identity(subschema),
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
        stem = constant_name(where.rsplit("/", 1)[0]) + "_KEYS"
        if value is False:
            members = self.constant(stem + "_SET", f"frozenset({tuple_literal(declared)})")
            order = self.constant(stem, tuple_literal(declared))
            key = self.fresh("key")
            return _is_object(var), [_For(f"{key} in {var}", [_If(f"{key} not in {members}", [
                _report("additionalProperties", path, var, order), _Line("break")])])]
        key = self.fresh("key")
        body = self.compile(value, f"{var}[{key}]", path.child(key), where)
        if not body:
            return None, []
        extra = (f" if {key} not in {self.constant(stem + '_SET', f'frozenset({tuple_literal(declared)})')}"
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
        return TYPE_TESTS["array"].format(v=var), [_For(f"{index}, {item} in enumerate({var})", body)]

    def _anyOf(self, value: Any, var: str, path: _PathExpr, where: str,
               node: dict[str, Any]) -> tuple[str | None, list[_Node]]:
        # The validation stage reports an anyOf of plain types as one wrong-type finding; other
        # anyOfs would need jsonschema's best_match heuristics.
        if not isinstance(value, list) or not value or not all(
                isinstance(branch, dict) and "type" in branch and set(branch) <= {"type", *ANNOTATIONS}
                for branch in value):
            raise SchemaNotSupported(f"{where}: only an anyOf of plain `type` branches is supported")
        names = tuple(name for index, branch in enumerate(value)
                      for name in type_names(branch["type"], f"{where}/{index}"))
        return None, [_If(f"not {type_test(names, var)}", [_report("type", path, var, tuple_literal(names))])]


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


def _inline_name(node: dict[str, Any], where: str) -> str:
    items = node.get("items")
    if node.get("type") == "array" and isinstance(items, dict):
        match = DEF_REF.fullmatch(str(items.get("$ref", "")))
        if match:
            return match[1] + "_list"
    return constant_name(where).strip("_").lower()


def _is_object(var: str) -> str:
    return TYPE_TESTS["object"].format(v=var)


# --- the module -----------------------------------------------------------------------------


def render(schema_text: str, source: str) -> str:
    """The generated module for the schema text (read from `source`, named in the header)."""
    compiler = _Compiler(load_schema(schema_text))
    root = compiler.compile(compiler.schema, "data", _PathExpr("()"), "#")
    functions: list[str] = []
    done: set[str] = set()
    while len(done) < len(compiler.functions):
        for name, (_key, node, where) in list(compiler.functions.items()):
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
    helpers = helpers_for(code)
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

    return generator_main(
        argv, "lkpolicy.stages.schemacheck.generate", __doc__, GENERATED_PATH,
        lambda: render(SCHEMA_PATH.read_text(encoding="utf-8"), "schemas/linuxkit.schema.json"))


if __name__ == "__main__":
    raise SystemExit(main())
