"""The per-file result cache returns exactly what a fresh check returns, and fails safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.gate import resultcache as checkcache
from lkpolicy.gate.gate import Gate, run_gate
from lkpolicy.gate.options import GateOptions

TRAPS = Path(__file__).resolve().parent.parent / "examples" / "traps" / "silent-traps.yml"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("LKPOLICY_CACHE_DIR", str(directory))
    return directory


def run_check(paths: list[str], use_cache: bool = True) -> Gate:
    return run_gate(paths, GateOptions(use_result_cache=use_cache))


def summary(result) -> list[tuple]:
    return [(f.rule_id, f.severity, f.message, str(f.location), f.pointer, f.hint,
             [str(r) for r in f.related]) for f in result.findings]


def entries(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def test_hit_equals_fresh_check(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_bytes(TRAPS.read_bytes())
    fresh = run_check([str(path)], use_cache=False)
    assert entries(cache) == []
    first = run_check([str(path)])
    assert len(entries(cache)) == 1
    second = run_check([str(path)])
    assert summary(fresh) == summary(first) == summary(second)
    # A readable file without its config: replayed from the cache, not judged again.
    assert second.units[0].config is None and not second.units[0].unreadable
    assert second.documents[str(path)].source_line(31) is not None


def test_changed_bytes_miss(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("init: [a:1]\n")
    assert run_check([str(path)]).findings == []
    path.write_text("trust: {org: [x]}\n")
    assert [f.rule_id for f in run_check([str(path)]).findings] == ["LK301"]


def test_unreadable_result_is_cached_with_its_exit_code(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_bytes(b"a: [\n")
    runner = CliRunner()
    assert runner.invoke(app, ["check", "--no-images", str(path)]).exit_code == 2
    assert len(entries(cache)) == 1, "the unreadable result was not cached"
    replayed = runner.invoke(app, ["check", "--no-images", str(path)])
    assert replayed.exit_code == 2 and "LK101" in replayed.output


def test_corrupt_entry_is_a_miss(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("trust: {org: [x]}\n")
    run_check([str(path)])
    for entry in entries(cache):
        entry.write_text("{not json")
    assert [f.rule_id for f in run_check([str(path)]).findings] == ["LK301"]
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
    assert [f.rule_id for f in run_check([str(path)]).findings] == ["LK301"]


def test_a_hit_is_reported_under_the_path_of_this_run(cache: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd sub && check c.yml`, then `check sub/c.yml` from the parent: the replayed findings
    name `sub/c.yml`, in every format."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.yml").write_text("trust: {org: [x]}\n")
    runner = CliRunner()
    monkeypatch.chdir(sub)
    assert runner.invoke(app, ["check", "--no-images", "c.yml"]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    github = runner.invoke(app, ["check", "--no-images", "-f", "github", "sub/c.yml"])
    assert "file=sub/c.yml," in github.output and "file=c.yml," not in github.output
    data = json.loads(runner.invoke(app, ["check", "--no-images", "-f", "json",
                                          "sub/c.yml"]).output)
    assert data["summary"]["files"] == 1
    assert {f["file"] for f in data["findings"]} == {"sub/c.yml"}
    sarif = json.loads(runner.invoke(app, ["check", "--no-images", "-f", "sarif",
                                           "sub/c.yml"]).output)
    artifacts = [a["location"]["uri"] for a in sarif["runs"][0]["artifacts"]]
    assert artifacts == ["sub/c.yml"]


def test_a_change_anywhere_in_the_package_invalidates_results(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code fingerprint covers subpackages (policy/, trust/...), not only the top level."""
    import lkpolicy.stages.policy.engine as engine

    before = checkcache.code_fingerprint()
    checkcache.code_fingerprint.cache_clear()
    source = Path(engine.__file__)
    stat = source.stat()
    try:
        import os

        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert checkcache.code_fingerprint() != before
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        checkcache.code_fingerprint.cache_clear()


def test_a_changed_or_deleted_files_source_is_a_miss(cache: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "motd").write_text("hello\n")
    path = tmp_path / "c.yml"
    path.write_text("files:\n  - path: etc/motd\n    source: motd\n")
    args = ["check", "--cache", str(tmp_path / "images"), "--policy", "builtin:default",
            str(path)]
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 0
    assert len(entries(cache)) == 1
    (tmp_path / "motd").unlink()
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "LK408" in result.output


@pytest.mark.parametrize("output_format", ["json", "sarif"])
def test_a_replay_fingerprints_its_findings_without_parsing_the_file(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output_format: str) -> None:
    """Fingerprints name list elements by what they hold (`/services/=getty/...`): a replayed
    file gets the same ones from its cache entry, without the YAML parser."""
    import lkpolicy.stages.load as load

    path = tmp_path / "c.yml"
    path.write_bytes(TRAPS.read_bytes())
    args = ["check", "--no-images", "--fail-on", "never", "-f", output_format, str(path)]
    runner = CliRunner()
    fresh = runner.invoke(app, [*args[:1], "--no-cache", *args[1:]]).output
    assert runner.invoke(app, args).output == fresh  # judged, and written to the cache
    # Some findings are about list elements, whose keys need the data to name them.
    pointers = [f.pointer for f in run_check([str(path)], use_cache=False).findings]
    assert any(part.isdigit() for pointer in pointers for part in pointer.split("/"))

    def no_parsing(*_arguments: object) -> None:
        raise AssertionError("a replayed file was parsed again")

    monkeypatch.setattr(load, "load_document", no_parsing)
    assert runner.invoke(app, args).output == fresh


def test_an_entry_with_malformed_structural_keys_is_a_miss(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("trust: {org: [x]}\n")
    run_check([str(path)])
    (entry,) = entries(cache)
    stored = json.loads(entry.read_text())
    assert stored["keys"] == {"/trust": "/trust"}
    entry.write_text(json.dumps({**stored, "keys": {"/trust": 1}}))
    replayed = run_check([str(path)])
    assert replayed.units[0].config is not None  # judged again
    assert [f.rule_id for f in replayed.findings] == ["LK301"]
