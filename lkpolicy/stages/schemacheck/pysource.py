"""What the schema generators share: the supported dialect, Python literals and type tests,
and the names they give constants and functions.

`generate` writes the LinuxKit schema as checks that report jsonschema's errors;
`predicate` writes the policy schema as a yes/no test. Both write plain Python that behaves as
jsonschema (draft 2020-12) does, for the keywords they support.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default",
                         "deprecated", "readOnly", "writeOnly"})
"""Keywords that never produce an error."""
ROOT_ONLY = frozenset({"$schema", "$id", "$defs"})
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEF_REF = re.compile(r"#/\$defs/([A-Za-z_][A-Za-z0-9_]*)")

TYPE_TESTS = {
    "string": "isinstance({v}, str)",
    "integer": "_is_integer({v})",
    "boolean": "isinstance({v}, bool)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "null": "{v} is None",
}
"""jsonschema's type checker for draft 2020-12 (booleans are not integers, 5.0 is one)."""
HELPERS = {
    "_is_integer": [
        "def _is_integer(value: Any) -> bool:",
        "    return (isinstance(value, int) and not isinstance(value, bool)) or (",
        "        isinstance(value, float) and value.is_integer())",
    ],
}
"""Functions a generated module defines when its checks call them."""


class SchemaNotSupported(ValueError):
    """The schema uses something the generator cannot reproduce exactly."""


def helpers_for(code: str) -> list[str]:
    """The helper definitions `code` calls, each after two blank lines."""
    return [line for name, lines in HELPERS.items() if f"{name}(" in code
            for line in ["", "", *lines]]


def literal(text: str) -> str:
    """A Python string literal (JSON's escapes are Python's; non-ASCII stays as written, which
    keeps characters outside the BMP whole)."""
    return json.dumps(text, ensure_ascii=False)


def tuple_literal(values: list[str] | tuple[str, ...]) -> str:
    inner = ", ".join(literal(value) for value in values)
    return f"({inner},)" if len(values) == 1 else f"({inner})"


def strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SchemaNotSupported(f"{where}: only a list of strings is supported here")
    return value


def type_names(value: Any, where: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names or any(
            name not in TYPE_TESTS for name in names):
        raise SchemaNotSupported(f"{where}: type {value!r} is not supported")
    return tuple(names)


def type_test(names: tuple[str, ...], var: str) -> str:
    tests = [TYPE_TESTS[name].format(v=var) for name in names]
    if len(tests) == 1:
        return f"({tests[0]})" if " and " in tests[0] else tests[0]
    return "(" + " or ".join(f"({test})" if " and " in test else test for test in tests) + ")"


def identity(node: Any) -> str:
    """Equal for subschemas that check the same (annotations aside)."""
    if isinstance(node, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{identity(value)}" for key, value in node.items()
                              if key not in ANNOTATIONS) + "}"
    if isinstance(node, list):
        return "[" + ",".join(identity(item) for item in node) + "]"
    return json.dumps(node)


def escape_token(token: str) -> str:
    """A JSON pointer token."""
    return token.replace("~", "~0").replace("/", "~1")


def constant_name(where: str) -> str:
    words = [word for word in re.split(r"[^A-Za-z0-9]+", where) if word and word != "defs"]
    snake = "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word) for word in words)
    return "_" + (snake.upper() or "ROOT")


def function_name(prefix: str, name: str) -> str:
    return prefix + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def def_reference(schema: dict[str, Any], value: Any, where: str) -> str:
    """The `$defs` name a `$ref` points at (the only references supported)."""
    match = DEF_REF.fullmatch(value) if isinstance(value, str) else None
    if match is None or match[1] not in schema.get("$defs", {}):
        raise SchemaNotSupported(f"{where}: only `#/$defs/<name>` references are supported")
    return match[1]


def load_schema(schema_text: str) -> dict[str, Any]:
    schema = json.loads(schema_text)
    if not isinstance(schema, dict) or schema.get("$schema") != DIALECT:
        raise SchemaNotSupported(f"the schema must declare `$schema: {DIALECT}`")
    return schema


MAX_MODULE_LINES = 600
"""Above this, a generated module gives part of itself to `<name>_parts.py` (`splitting`)."""


def generated_files(output: Path, source: str) -> dict[Path, str | None]:
    """The files of a generated module: `output`, and its part when `source` is too long for
    one module (None: the part must not exist)."""
    from lkpolicy.stages.schemacheck.splitting import split_module

    part_name = f"{output.stem}_parts"
    directories = output.resolve().parent.parts
    top = len(directories) - 1 - directories[::-1].index("lkpolicy")
    package = ".".join(directories[top:])
    module, part = split_module(
        source, package, part_name,
        f"Definitions of {output.name} that it imports (generated with it; see there).",
        MAX_MODULE_LINES)
    return {output: module, output.with_name(f"{part_name}.py"): part}


def generator_main(argv: list[str] | None, module: str, doc: str | None, output: Path,
                   text: Callable[[], str]) -> int:
    """The command line of a generator: write `output` (and its part, `generated_files`)
    from `text()`, or with `--check` exit 1 when a file is out of date."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}",
                                     description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--check", action="store_true",
                        help=f"do not write; exit 1 if {output.name} is out of date")
    args = parser.parse_args(argv)
    wanted = generated_files(output, text())
    stale = [path for path, text_wanted in wanted.items()
             if (path.read_text(encoding="utf-8") if path.is_file() else None) != text_wanted]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run python -m {module}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        content = wanted[path]
        if content is None:
            path.unlink()
        else:
            path.write_text(content, encoding="utf-8")
    return 0
