"""Baselines: fingerprints that survive line moves, new findings reported, duplicates counted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lkpolicy.model.config import merge
from lkpolicy.model.findings import Finding, InputError
from lkpolicy.stages.baseline import filter_new, load_baseline, write_baseline
from lkpolicy.stages.lint import lint
from lkpolicy.stages.load import load_document

CONFIG = """\
services:
  - name: a
    image: a:1
    capabilities: [all]
"""


def findings_of(path: Path) -> list[Finding]:
    return lint(merge([load_document(str(path))[0]]))


def test_line_moves_keep_findings_known(tmp_path: Path) -> None:
    config = tmp_path / "cfg" / "a.yml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    baseline_path = tmp_path / "lkpolicy-baseline.json"
    before = findings_of(config)
    assert [f.rule_id for f in before] == ["LK318"]
    assert write_baseline(str(baseline_path), before) == 1

    config.write_text("# a comment\n# and another\n" + CONFIG)
    moved = findings_of(config)
    assert moved[0].location.line == before[0].location.line + 2
    new, known = filter_new(moved, load_baseline(str(baseline_path)))
    assert new == [] and known == moved


def test_new_findings_are_reported(tmp_path: Path) -> None:
    config = tmp_path / "a.yml"
    config.write_text(CONFIG)
    baseline_path = tmp_path / "baseline.json"
    write_baseline(str(baseline_path), findings_of(config))
    config.write_text(CONFIG + "  - name: b\n    image: b:1\n    capabilities: [all]\n")
    new, known = filter_new(findings_of(config), load_baseline(str(baseline_path)))
    assert [(f.rule_id, f.pointer) for f in new] == [("LK318", "/services/1/capabilities")]
    assert [f.pointer for f in known] == ["/services/0/capabilities"]


def test_duplicates_are_counted(tmp_path: Path) -> None:
    config = tmp_path / "a.yml"
    config.write_text(CONFIG)
    finding = findings_of(config)[0]
    baseline_path = tmp_path / "baseline.json"
    write_baseline(str(baseline_path), [finding])
    twin = Finding(finding.rule_id, finding.severity, finding.message,
                   finding.location, finding.pointer)
    new, known = filter_new([finding, twin], load_baseline(str(baseline_path)))
    assert len(new) == 1 and len(known) == 1
    write_baseline(str(baseline_path), [finding, twin])
    assert len(load_baseline(str(baseline_path))) == 2
    new, known = filter_new([finding, twin], load_baseline(str(baseline_path)))
    assert new == [] and len(known) == 2


def test_paths_are_relative_to_the_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cfg" / "a.yml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    baseline_path = tmp_path / "baseline.json"
    monkeypatch.chdir(tmp_path)
    write_baseline("baseline.json", findings_of(Path("cfg/a.yml")))
    data = json.loads(baseline_path.read_text())
    assert (data["version"], data["fingerprint"]) == (2, "lkpolicy/v2")
    [entry] = data["findings"]
    assert (entry["rule"], entry["file"], entry["pointer"], entry["key"]) == (
        "LK318", "cfg/a.yml", "/services/0/capabilities", "/services/=a/capabilities")
    assert "capabilities" in entry["message"]
    # From another directory, with an absolute path: still the same file, still known.
    monkeypatch.chdir(config.parent)
    new, known = filter_new(findings_of(Path("a.yml")), load_baseline(str(baseline_path)))
    assert new == [] and len(known) == 1
    absolute = findings_of(config)
    assert filter_new(absolute, load_baseline(os.path.relpath(baseline_path)))[0] == []


def test_a_different_file_is_a_new_finding(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(CONFIG)
    (tmp_path / "b.yml").write_text(CONFIG)
    baseline_path = tmp_path / "baseline.json"
    write_baseline(str(baseline_path), findings_of(tmp_path / "a.yml"))
    new, _known = filter_new(findings_of(tmp_path / "b.yml"), load_baseline(str(baseline_path)))
    assert len(new) == 1


def test_write_is_atomic_and_sorted(tmp_path: Path) -> None:
    config = tmp_path / "a.yml"
    config.write_text(CONFIG + "  - name: b\n    image: b:1\n    capabilities: [all]\n")
    baseline_path = tmp_path / "baseline.json"
    write_baseline(str(baseline_path), list(reversed(findings_of(config))))
    data = json.loads(baseline_path.read_text())
    assert [e["pointer"] for e in data["findings"]] == [
        "/services/0/capabilities", "/services/1/capabilities"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yml", "baseline.json"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read the file"),
    (b"\xff\xfe\x00garbage", "not a JSON file"),
    (b"{not json", "not a JSON file"),
    (b"[]", "not an lkpolicy baseline"),
    (b'{"version": 3, "fingerprint": "lkpolicy/v3", "findings": []}', "unsupported version 3"),
    (b'{"version": true, "fingerprint": "lkpolicy/v1", "findings": []}', "unsupported version"),
    (b'{"version": 2, "fingerprint": "lkpolicy/v1", "findings": []}', "regenerate"),
    (b'{"version": 1, "fingerprint": "other/v9", "findings": []}', "regenerate"),
    (b'{"version": 1, "fingerprint": "lkpolicy/v1", "findings": {}}', "must be a list"),
    (b'{"version": 1, "fingerprint": "lkpolicy/v1", "findings": [{"rule": "LK318"}]}',
     "entry 0 has no valid `fingerprint`"),
])
def test_bad_baseline_is_an_input_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        load_baseline(str(path))
    [finding] = raised.value.findings
    assert finding.rule_id == "LKW010"
    assert finding.location.file == str(path)
    assert message in finding.message


TWO_SERVICES = """\
services:
  - name: getty
    image: getty:1
    capabilities: [all]
  - name: sshd
    image: sshd:1
    capabilities: [all]
"""


def test_a_service_inserted_above_keeps_findings_known(tmp_path: Path) -> None:
    config = tmp_path / "a.yml"
    config.write_text(TWO_SERVICES)
    baseline_path = tmp_path / "baseline.json"
    write_baseline(str(baseline_path), findings_of(config))
    config.write_text(TWO_SERVICES.replace(
        "services:\n", "services:\n  - name: new\n    image: new:1\n    capabilities: [all]\n"))
    new, known = filter_new(findings_of(config), load_baseline(str(baseline_path)))
    # Indexes moved (0 -> 1, 1 -> 2); only the inserted service is new.
    assert [f.pointer for f in new] == ["/services/0/capabilities"]
    assert [f.pointer for f in known] == ["/services/1/capabilities", "/services/2/capabilities"]


def test_a_version_1_baseline_still_matches_by_raw_pointer(tmp_path: Path) -> None:
    from lkpolicy.report.fingerprint import LEGACY_FINGERPRINT_KEY, fingerprint

    config = tmp_path / "a.yml"
    config.write_text(TWO_SERVICES)
    entries = [{"fingerprint": fingerprint("LK318", "a.yml", f"/services/{i}/capabilities")}
               for i in (0, 1)]
    baseline_path = tmp_path / "baseline.json"
    baseline_path.write_text(json.dumps(
        {"version": 1, "fingerprint": LEGACY_FINGERPRINT_KEY, "findings": entries}))
    baseline = load_baseline(str(baseline_path))
    assert baseline.version == 1
    new, known = filter_new(findings_of(config), baseline)
    assert new == [] and len(known) == 2
