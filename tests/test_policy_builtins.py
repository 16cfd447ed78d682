"""The built-in policies are read from their precompiled form only while it is exactly what
parsing their files gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lkpolicy.stages.load import load_document
from lkpolicy.stages.policy import builtins, loader, precompile
from lkpolicy.stages.policy.builtins import builtin_document
from lkpolicy.stages.policy.discovery import BUILTIN_DIR

BUILTINS = sorted(BUILTIN_DIR.glob("*.yml"))


def test_the_precompiled_module_is_what_the_generator_writes() -> None:
    assert precompile.main(["--check"]) == 0, "run: python -m lkpolicy.stages.policy.precompile"


@pytest.mark.parametrize("path", BUILTINS, ids=lambda path: path.name)
def test_the_precompiled_document_is_the_parsed_one(path: Path) -> None:
    parsed, _warnings = load_document(str(path))
    precompiled = builtin_document(str(path))
    assert precompiled == parsed
    # Fresh objects each time: a caller that changes its copy changes no other.
    assert precompiled is not None and precompiled.data is not builtin_document(str(path)).data


@pytest.mark.parametrize("path", BUILTINS, ids=lambda path: path.name)
def test_policies_load_the_same_either_way(path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec = f"builtin:{path.stem}"
    precompiled = loader.load_policy_file(spec)
    monkeypatch.setattr(builtins, "builtin_document", lambda _path: None)
    assert loader.load_policy_file(spec) == precompiled


def test_anything_but_an_unchanged_builtin_file_is_parsed(tmp_path: Path) -> None:
    copy = tmp_path / "default.yml"
    shutil.copy(BUILTIN_DIR / "default.yml", copy)
    assert builtin_document(str(copy)) is None  # not in the package
    assert builtin_document(str(BUILTIN_DIR / "missing.yml")) is None
    assert builtin_document(str(tmp_path / "nothing.yml")) is None


def test_an_edited_builtin_file_is_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from lkpolicy.stages.policy import builtin_documents

    monkeypatch.setitem(builtin_documents.TEXTS, "default",
                        builtin_documents.TEXTS["default"] + "# edited\n")
    assert builtin_document(str(BUILTIN_DIR / "default.yml")) is None
    policy = loader.load_policy_file("builtin:default")  # parsed from the file, still valid
    assert "LKP110" in policy.rules
