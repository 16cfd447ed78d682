"""The generated schema validator: up to date with the schema, and only what it can reproduce.

Whether it reports what jsonschema reports is tests/test_schemacheck_differential.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lkpolicy.stages.schemacheck import generate
from lkpolicy.stages.schemacheck.generate import SchemaNotSupported, render
from lkpolicy.stages.schemacheck.pysource import generated_files
from lkpolicy.stages.validate import SCHEMA_PATH

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _written(text: str) -> dict[Path, str | None]:
    """What the generator writes for a rendered module (split under the module size)."""
    return generated_files(generate.GENERATED_PATH, text)


def _on_disk() -> dict[Path, str | None]:
    return {path: path.read_text(encoding="utf-8") if path.is_file() else None
            for path in _written("")}


def test_generated_module_is_what_the_generator_writes_for_the_schema() -> None:
    expected = _written(render(SCHEMA_PATH.read_text(encoding="utf-8"),
                               "schemas/linuxkit.schema.json"))
    assert _on_disk() == expected, (
        "schemas/linuxkit.schema.json changed: run python -m lkpolicy.stages.schemacheck.generate")
    assert generate.main(["--check"]) == 0


def test_a_schema_edit_shows_in_the_generated_module() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["$defs"]["kernel"]["properties"]["ucode"]["type"] = "boolean"
    edited = render(json.dumps(schema), "schemas/linuxkit.schema.json")
    assert edited != generate.GENERATED_PATH.read_text(encoding="utf-8")
    assert '"ucode" in value and not isinstance(value["ucode"], bool)' in edited


def test_descriptions_do_not_shape_the_generated_module() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["$defs"]["kernel"]["properties"]["ucode"]["description"] = "edited"
    schema["title"] = "edited"
    edited = render(json.dumps(schema, indent=1), "schemas/linuxkit.schema.json")
    assert _written(edited) == _on_disk()


def test_generated_module_runs_as_written() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(render(json.dumps({
        "$schema": DIALECT, "additionalProperties": False,
        "properties": {"a": {"type": "integer"}, "b": {"$ref": "#/$defs/b"},
                       'q"\\\U0001f600\n': {"type": "null"}},
        "$defs": {"b": {"type": "array", "items": {"enum": ["x", "\u00e9"]}}},
    }), "test"), "<generated>", "exec"), namespace)
    odd = 'q"\\\U0001f600\n'
    found = namespace["violations"]({"a": 1.5, "b": ["x", "z"], "c": 1, odd: 0})
    assert [(v.keyword, v.path, v.expected) for v in found] == [
        ("additionalProperties", (), ("a", "b", odd)),
        ("type", ("a",), ("integer",)),
        ("enum", ("b", 1), ("x", "\u00e9")),
        ("type", (odd,), ("null",)),
    ]
    assert namespace["violations"]({"a": 2.0, "b": ["\u00e9"], odd: None}) == []


@pytest.mark.parametrize(("schema", "complaint"), [
    pytest.param({"type": "object"}, "$schema", id="no-dialect"),
    pytest.param({"$schema": "http://json-schema.org/draft-04/schema#"}, "$schema", id="draft-04"),
    pytest.param({"$schema": DIALECT, "properties": {"a": {"pattern": "^x"}}},
                 "#/properties/a: keyword `pattern`", id="pattern"),
    pytest.param({"$schema": DIALECT, "type": "number"}, "type 'number'", id="number"),
    pytest.param({"$schema": DIALECT, "enum": [1, 2]}, "only a list of strings", id="enum-of-ints"),
    pytest.param({"$schema": DIALECT, "anyOf": [{"type": "string", "minLength": 1}]},
                 "anyOf of plain `type` branches", id="anyOf-with-more"),
    pytest.param({"$schema": DIALECT, "$ref": "other.json"}, "#/$defs/<name>", id="remote-ref"),
    pytest.param({"$schema": DIALECT, "items": False}, "only `items` with a schema", id="items-false"),
    pytest.param({"$schema": DIALECT, "patternProperties": {"^x": {}},
                  "additionalProperties": False}, "keyword `patternProperties`",
                 id="patternProperties"),
    pytest.param({"$schema": DIALECT, "properties": {"a": {"$defs": {}}}},
                 "keyword `$defs`", id="nested-defs"),
])
def test_generator_refuses_what_it_cannot_reproduce(schema: dict[str, Any], complaint: str) -> None:
    with pytest.raises(SchemaNotSupported, match=complaint.replace("$", r"\$").replace("[", r"\[")):
        render(json.dumps(schema), "test")


def test_check_path_does_not_import_jsonschema(project_root: Path) -> None:
    probe = (
        "import sys\n"
        "from lkpolicy.cli import main\n"
        "sys.argv = ['lkpolicy', 'check', '--no-cache', '--no-policy', '--format', 'json',\n"
        "            'examples/minimal.yml', 'examples/traps/schema-errors.yml']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in\n"
        "                ('jsonschema', 'referencing', 'rpds'))\n"
        "print('EXIT', code, 'LOADED', loaded, file=sys.stderr)\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=project_root,
                               capture_output=True, text=True, timeout=120)
    # schema-errors.yml has findings: exit 1 proves the schema stage ran.
    assert "EXIT 1 LOADED []" in completed.stderr, completed.stderr
    assert '"LK201"' in completed.stdout
