"""One gate run over many configs: the same verdict whether the files are judged in this
process or in worker processes, and one read of the image index and of each image for all of
them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corpus_images import corpus_configs, fill_cache, package_labels
from imagefactory import add_image

from lkpolicy.gate import parallel
from lkpolicy.gate.gate import run_gate
from lkpolicy.gate.options import GateOptions
from lkpolicy.store.index import LayoutStore
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

ROOT = Path(__file__).resolve().parent.parent
WAIVED = """\
onboot:
  - name: a
    image: linuxkit/a:v1  # lkpolicy: ignore[LKP101] reason="vendored" expires=2999-01-01
    capabilities: [all]
  - name: b
    image: linuxkit/b:v1  # lkpolicy: ignore[LKP999] reason="no such rule"
"""

# Runs the gate in a fresh interpreter, which has no other thread, so that workers may fork;
# `serial` forbids them. Prints what the end of the gate decided and how many workers ran.
PROBE = """
import json, sys
from lkpolicy.gate import parallel
from lkpolicy.gate.gate import run_gate
from lkpolicy.gate.options import GateOptions, PolicyChoice
from lkpolicy.store.location import ImageOptions

mode, cache, policy, *paths = sys.argv[1:]
workers = []
if mode == "serial":
    parallel.worker_count = lambda jobs: 1
else:
    original = parallel.map_in_workers
    def counted(function, jobs, count):
        workers.append(count)
        return original(function, jobs, count)
    parallel.map_in_workers = counted
gate = run_gate(paths, GateOptions(
    images=ImageOptions(cache, "amd64"), policy=PolicyChoice(policy or None),
    use_result_cache=bool(__import__("os").environ.get("LKPOLICY_CACHE_DIR"))))
print(json.dumps({
    "findings": [[f.rule_id, int(f.severity), f.message, str(f.location), f.pointer, f.hint,
                  [str(r) for r in f.related]] for f in gate.findings],
    "suppressed": [[s.finding.rule_id, str(s.finding.location), s.kind, s.reason]
                   for s in gate.suppressed],
    "exit": gate.exit_code, "unreadable": gate.unreadable, "files": gate.files,
    "texts": {path: document.text for path, document in gate.documents.items()},
    "workers": workers,
}))
"""


@pytest.fixture(scope="module")
def configs(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """40 corpus configs and two of ours (an inline waiver, a YAML error) in one directory
    with a policy that waives a rule, and a cache with the images of the corpus configs."""
    base = tmp_path_factory.mktemp("parallel")
    chosen = corpus_configs(corpus_dir)[:40]
    directory = base / "configs"
    directory.mkdir()
    for index, path in enumerate(chosen):
        shutil.copy(path, directory / f"{index:02d}-{path.parent.name}.yml")
    (directory / "waived.yml").write_text(WAIVED)
    (directory / "broken.yml").write_text("onboot: [\n")
    (directory / ".lkpolicy.yml").write_text(
        "waivers:\n  - {rule: LKP120, reason: the corpus needs it, expires: 2999-01-01}\n")
    cache = base / "cache"
    fill_cache(cache, chosen, package_labels(corpus_dir))
    return directory, cache


def probe(mode: str, paths: list[Path], cache: Path, policy: str = "",
          result_cache: Path | None = None) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "LKPOLICY_CACHE_DIR"}
    if result_cache is not None:
        env["LKPOLICY_CACHE_DIR"] = str(result_cache)
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(cache), policy, *map(str, paths)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_workers_give_the_verdict_of_one_process(configs: tuple[Path, Path]) -> None:
    directory, cache = configs
    serial = probe("serial", [directory], cache)
    parallel = probe("parallel", [directory], cache)
    assert serial.pop("workers") == [] and parallel.pop("workers") == [2]
    assert parallel == serial
    assert len(serial["findings"]) > 100 and len(serial["texts"]) == 42
    kinds = {(rule, kind, reason) for rule, _where, kind, reason in serial["suppressed"]}
    assert kinds == {("LKP101", "inline", "vendored"),
                     ("LKP120", "policy", "the corpus needs it")}
    assert serial["unreadable"] and serial["exit"] == 2  # broken.yml


def test_workers_fill_and_replay_the_result_cache(configs: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    directory, cache = configs

    def entries(root: Path) -> list[str]:
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())

    fresh = probe("serial", [directory], cache, result_cache=tmp_path / "serial")
    first = probe("parallel", [directory], cache, result_cache=tmp_path / "parallel")
    assert entries(tmp_path / "parallel") == entries(tmp_path / "serial")
    # Not kept: results with findings the policy waived (LKP120 here) or with trust findings.
    assert len(entries(tmp_path / "parallel")) > 5
    replayed = probe("parallel", [directory], cache, result_cache=tmp_path / "parallel")
    assert first.pop("workers") == [2]
    replayed.pop("workers")
    fresh.pop("workers")
    assert first == fresh
    # The result cache keeps findings, not what the policy's waivers suppressed.
    assert {**replayed, "suppressed": []} == {**first, "suppressed": []}


def test_a_policy_with_trust_authorities_is_judged_in_one_process(
        configs: tuple[Path, Path], tmp_path: Path) -> None:
    directory, cache = configs
    policy = tmp_path / "trust.yml"
    policy.write_text("trust:\n  authorities:\n    keys: {type: cosign-key, keys: [k.pub]}\n")
    assert probe("parallel", [directory], cache, str(policy))["workers"] == []


def test_the_image_index_is_read_once_per_run(configs: tuple[Path, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    directory, cache = configs
    reads: list[Path] = []
    resolved: list[str] = []
    read_index = LayoutStore._read_index_doc
    resolve = Store.resolve

    def counted_read(store: LayoutStore) -> Any:
        reads.append(store.root)
        return read_index(store)

    def counted_resolve(store: Store, name: str, *args: Any) -> Any:
        resolved.append(name)
        return resolve(store, name, *args)

    monkeypatch.setattr(LayoutStore, "_read_index_doc", counted_read)
    monkeypatch.setattr(Store, "resolve", counted_resolve)
    monkeypatch.setattr(parallel, "worker_count", lambda jobs: 1)  # count in this process
    gate = run_gate([str(directory)], GateOptions(images=ImageOptions(str(cache), "amd64"),
                                                  use_result_cache=False))
    assert len(gate.units) == 42
    assert reads == [cache]
    assert sorted(resolved) == sorted(set(resolved)) and len(resolved) > 20
    run_gate([str(directory)], GateOptions(images=ImageOptions(str(cache), "amd64"),
                                           use_result_cache=False))
    assert reads == [cache, cache]  # a new run reads the index again


def test_a_corrupt_image_is_refused_for_every_config_that_uses_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    descriptor = add_image(store, "docker.io/linuxkit/a:v1")
    store.blob_path(descriptor.digest).write_bytes(b"{}")
    for name in ("one.yml", "two.yml"):
        (tmp_path / name).write_text("onboot:\n  - name: a\n    image: linuxkit/a:v1\n")
    gate = run_gate([str(tmp_path / "one.yml"), str(tmp_path / "two.yml")], GateOptions(
        images=ImageOptions(str(store.root), "amd64"), policy=None, use_result_cache=False))
    refused = [(f.rule_id, f.location.file) for f in gate.findings]
    assert refused == [("LK404", str(tmp_path / "one.yml")), ("LK404", str(tmp_path / "two.yml"))]
