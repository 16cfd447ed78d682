"""The per-file result cache returns exactly what a fresh check returns, and fails safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.gate import resultcache as checkcache
from lkpolicy.gate.run import run_check

TRAPS = Path(__file__).resolve().parent.parent / "examples" / "traps" / "silent-traps.yml"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("LKPOLICY_CACHE_DIR", str(directory))
    return directory


def summary(result) -> list[tuple]:
    return [(f.rule_id, f.severity, f.message, str(f.location), f.pointer, f.hint,
             [str(r) for r in f.related]) for f in result.findings]


def entries(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def test_hit_equals_fresh_check(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_bytes(TRAPS.read_bytes())
    fresh = run_check([str(path)], merge_files=False, use_cache=False)
    assert entries(cache) == []
    first = run_check([str(path)], merge_files=False)
    assert len(entries(cache)) == 1
    second = run_check([str(path)], merge_files=False)
    assert summary(fresh) == summary(first) == summary(second)
    assert second.groups[0].config is None  # served from the cache
    assert second.documents[str(path)].source_line(31) is not None


def test_changed_bytes_miss(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("init: [a:1]\n")
    assert run_check([str(path)], merge_files=False).findings == []
    path.write_text("trust: {org: [x]}\n")
    assert [f.rule_id for f in run_check([str(path)], merge_files=False).findings] == ["LK301"]


def test_unreadable_result_is_cached_with_its_exit_code(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_bytes(b"a: [\n")
    runner = CliRunner()
    assert runner.invoke(app, ["check", str(path)]).exit_code == 2
    assert runner.invoke(app, ["check", str(path)]).exit_code == 2


def test_corrupt_entry_is_a_miss(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("trust: {org: [x]}\n")
    run_check([str(path)], merge_files=False)
    for entry in entries(cache):
        entry.write_text("{not json")
    assert [f.rule_id for f in run_check([str(path)], merge_files=False).findings] == ["LK301"]
    assert json.loads(entries(cache)[0].read_text())["findings"][0]["rule"] == "LK301"


def test_no_cache_option_and_environment(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yml"
    path.write_text("init: [a:1]\n")
    CliRunner().invoke(app, ["check", "--no-cache", str(path)])
    assert entries(cache) == []
    monkeypatch.setenv("LKPOLICY_NO_CACHE", "1")
    assert checkcache.cache_dir() is None


def test_unwritable_cache_does_not_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("LKPOLICY_CACHE_DIR", str(blocker / "sub"))
    path = tmp_path / "c.yml"
    path.write_text("trust: {org: [x]}\n")
    assert [f.rule_id for f in run_check([str(path)], merge_files=False).findings] == ["LK301"]
