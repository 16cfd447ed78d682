"""A result that no signature verifier took part in is replayed from the result cache; one
that a verifier took part in (its answer depends on the clock and on remote data) never is."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagefactory import add_image

from lkpolicy.gate import parallel
from lkpolicy.gate.gate import Gate, run_gate
from lkpolicy.gate.options import GateOptions, PolicyChoice
from lkpolicy.store.location import ImageOptions
from lkpolicy.store.lookup import Store

CONFIG = "onboot:\n  - name: a\n    image: linuxkit/a:v1\ntrust:\n  image: [linuxkit/a:v1]\n"


@pytest.fixture(autouse=True)
def result_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LKPOLICY_CACHE_DIR", str(tmp_path / "results"))
    monkeypatch.setattr(parallel, "worker_count", lambda jobs: 1)
    return tmp_path / "results"


def check(config: Path, policy: str | None = None) -> Gate:
    return run_gate([str(config)], GateOptions(
        images=ImageOptions(str(config.parent / "no-image-cache"), "amd64"),
        policy=PolicyChoice(policy)))


def test_no_authority_and_no_image_are_replayed(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(CONFIG)
    first = check(config)
    rules = {finding.rule_id for finding in first.findings}
    assert {"LKT001", "LK401"} <= rules  # no default authority; the image is not cached
    second = check(config)
    assert second.units[0].config is None  # replayed: findings only
    assert [str(f) for f in second.findings] == [str(f) for f in first.findings]


def test_an_authority_that_was_asked_is_never_replayed(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(CONFIG)
    policy = tmp_path / "policy.yml"
    policy.write_text("trust:\n  authorities:\n    keys: {type: cosign-key, keys: [missing.pub]}\n"
                      "  rules:\n    - {images: ['*'], require: keys}\n"
                      "  default_authority: keys\n")
    first = check(config, str(policy))
    assert "LKT004" in {finding.rule_id for finding in first.findings}  # no image cache
    assert check(config, str(policy)).units[0].config is None  # replayed: no verifier ran
    add_image(Store(tmp_path / "no-image-cache"), "docker.io/linuxkit/a:v1")
    asked = check(config, str(policy))
    assert "LKT002" in {finding.rule_id for finding in asked.findings}  # the key is missing
    assert check(config, str(policy)).units[0].config is not None
