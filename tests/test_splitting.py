"""Generated modules cut in two under the module size (lkpolicy/stages/schemacheck/splitting.py):
the part is closed under its references, strings are left alone, the module's entry points
stay, and the generator keeps the set of files consistent."""

from __future__ import annotations

import ast
import builtins
import importlib
import sys
from pathlib import Path

import pytest

from lkpolicy.stages.schemacheck import pysource
from lkpolicy.stages.schemacheck.splitting import split_module

SOURCE = '''\
# Generated; do not edit.
"""A generated module."""

from __future__ import annotations

import re
from typing import Any

_LETTERS = re.compile("^[a-z]+$")
_NAMES = frozenset(("a", "b"))


def check(value: Any) -> bool:
    """The entry point."""
    return _outer(value) and _looped(value)


def _outer(value: Any) -> bool:
    return _inner(value) and "_inner" != value


def _inner(value: Any) -> bool:
    return isinstance(value, str) and _LETTERS.search(value) is not None and value in _NAMES


def _looped(value: Any) -> bool:
    return value == "" or _looped_again(value[1:])


def _looped_again(value: Any) -> bool:
    return _looped(value)
'''


def _load(tmp_path: Path, files: dict[str, str]) -> object:
    package = tmp_path / "splitpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in files.items():
        (package / f"{name}.py").write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("splitpkg.module")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith("splitpkg")]:
            del sys.modules[name]


def test_a_short_module_is_left_whole() -> None:
    assert split_module(SOURCE, "splitpkg", "module_parts", "Part.", 200) == (SOURCE, None)


def test_the_part_is_closed_and_the_module_behaves_the_same(tmp_path: Path) -> None:
    module, part = split_module(SOURCE, "splitpkg", "module_parts", "Part of module.py.", 10)
    assert part is not None
    assert "from splitpkg import module_parts as parts" in module
    part_tree = ast.parse(part)
    defined = {node.name for node in part_tree.body if isinstance(node, ast.FunctionDef)} | {
        target.id for node in part_tree.body if isinstance(node, ast.Assign)
        for target in node.targets if isinstance(target, ast.Name)}
    used = {node.id for node in ast.walk(part_tree) if isinstance(node, ast.Name)}
    assert used - defined <= {"Any", "value", "re", *dir(builtins)}, "the part refers outward"
    assert "inner" in defined and "LETTERS" in defined and "NAMES" in defined
    # The module's entry point stays; a cycle of references is never cut.
    assert "def check(" in module and "def _looped(" in module
    assert "def _looped_again(" in module
    # A string that spells a moved name is not renamed.
    assert '"_inner" != value' in part
    loaded = _load(tmp_path, {"module": module, "module_parts": part})
    whole: dict[str, object] = {}
    exec(compile(SOURCE, "whole", "exec"), whole)
    for value in ("a", "b", "c", "ab", "", 3, "_inner"):
        assert loaded.check(value) == whole["check"](value)  # type: ignore[attr-defined, operator]


def test_text_around_the_definitions_is_refused() -> None:
    with pytest.raises(ValueError, match="only definitions"):
        split_module(SOURCE + "\nprint('side effect')\n", "splitpkg", "module_parts", "P.", 10)


def test_the_generator_writes_removes_and_checks_the_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "lkpolicy" / "stages" / "schemacheck" / "made.py"
    output.parent.mkdir(parents=True)
    texts = [SOURCE]

    def run(*argv: str) -> int:
        return pysource.generator_main(list(argv), "made", None, output, lambda: texts[0])

    monkeypatch.setattr(pysource, "MAX_MODULE_LINES", 10)
    assert run("--check") == 1
    assert run() == 0 and output.is_file()
    part = output.with_name("made_parts.py")
    assert part.is_file() and run("--check") == 0
    assert "from lkpolicy.stages.schemacheck import made_parts as parts" in output.read_text()
    texts[0] = SOURCE.split("\n\n\ndef _outer")[0].replace(" and _looped(value)", "").replace(
        "_outer(value)", "True") + "\n"
    monkeypatch.setattr(pysource, "MAX_MODULE_LINES", 100)
    assert run("--check") == 1  # the part is stale now that one module suffices
    assert run() == 0 and not part.exists() and run("--check") == 0


def test_every_module_is_under_the_size() -> None:
    """The project's rule (about 600 lines), generated modules included."""
    package = Path(pysource.__file__).parents[2]
    too_long = {str(path.relative_to(package)): lines for path in package.rglob("*.py")
                if (lines := path.read_text(encoding="utf-8").count("\n")) > 600}
    assert too_long == {}
