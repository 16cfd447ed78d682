"""The trust and registry code keeps its shape: small modules, public names across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "lkpolicy"
CHECKED = [ROOT / "stages" / "trust", ROOT / "registry", ROOT / "redaction.py"]
NOT_CHECKED_FOR_SIZE: set[Path] = set()
MAX_LINES = 600


def _modules() -> list[Path]:
    found: list[Path] = []
    for place in CHECKED:
        if place.is_dir():
            found.extend(sorted(place.rglob("*.py")))
        elif place.exists():
            found.append(place)
    return found


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lkpolicy"):
            bad.extend(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}"
                       for alias in node.names
                       if alias.name.startswith("_") and not alias.name.endswith("__"))
    return bad


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_names_across_modules(path: Path) -> None:
    assert _private_imports(path) == []


@pytest.mark.parametrize("path", [p for p in _modules() if p not in NOT_CHECKED_FOR_SIZE],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
