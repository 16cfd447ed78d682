"""Accept/reject verdicts over the linuxkit corpus agree with `linuxkit build --dry-run`.

The goldens record linuxkit's exit status per config (0 accepted, 1 rejected); lkpolicy must reach
the same verdict for the same reason, not merely the same count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from corpus import corpus_configs

from lkpolicy.model.findings import Finding, InputError, Severity
from lkpolicy.stages.load import load_document
from lkpolicy.stages.validate import check_semantics, validate_document

pytestmark = pytest.mark.corpus

_corpus_configs = corpus_configs


CONFIGS = _corpus_configs()


def _verdict(path: Path) -> tuple[bool, list[Finding]]:
    """(accepted, the error findings that decide it)."""
    try:
        document, _ = load_document(str(path))
    except InputError as error:
        return False, error.findings
    findings = validate_document(document) + check_semantics(document)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    return not errors, errors


def _golden_status(golden_dir: Path) -> dict[str, int]:
    status: dict[str, int] = {}
    for line in (golden_dir / "dryrun" / "_status.tsv").read_text().splitlines():
        code, path = line.split("\t", 1)
        status[path] = int(code)
    return status


def _static_ip(findings: list[Finding]) -> None:
    (finding,) = findings
    assert finding.rule_id == "LK101"
    # linuxkit says `yaml: line 24: did not find expected key`: yaml.v3 prints the 0-based line
    # of the block mapping that is open (1-based line 25); ruamel reports where it gave up, the
    # stray `nameserver` scalar after the comment line, at line 28.
    assert 24 <= finding.location.line <= 28, finding.location


def _template(findings: list[Finding]) -> None:
    assert {f.rule_id for f in findings} == {"LK213"}
    first = findings[0]
    assert first.pointer == "/init/0"
    assert first.message.startswith("extract init image reference: ")
    assert 'invalid port ":." after host' in first.message


def _clear_containers(findings: list[Finding]) -> None:
    (finding,) = findings
    assert finding.rule_id == "LK203"
    assert finding.pointer == "/services/0"
    assert finding.message == "`image` is required in `services/0`"


def _unknown_field(findings: list[Finding]) -> None:
    (finding,) = findings
    assert finding.rule_id == "LK201"
    assert finding.pointer == "/unknownField"
    assert finding.location.line == 1


REJECTED: dict[str, Callable[[list[Finding]], None]] = {
    "examples/static-ip.yml": _static_ip,
    "linuxkit-template.yml": _template,
    "projects/clear-containers/clear-containers.yml": _clear_containers,
    "test/cases/000_build/091_validate_linuxkit_yaml/linuxkit.yml": _unknown_field,
}


@pytest.mark.parametrize("config", CONFIGS)
def test_verdict_matches_linuxkit(config: str, corpus_dir: Path, golden_dir: Path) -> None:
    expected_status = _golden_status(golden_dir)[config]
    accepted, errors = _verdict(corpus_dir / config)
    assert accepted == (expected_status == 0), [(f.rule_id, str(f.location), f.message) for f in errors]
    if not accepted:
        REJECTED[config](errors)


def test_corpus_totals(corpus_dir: Path, golden_dir: Path) -> None:
    status = _golden_status(golden_dir)
    assert sorted(status) == sorted(CONFIGS)
    verdicts = {config: _verdict(corpus_dir / config)[0] for config in CONFIGS}
    assert sum(verdicts.values()) == 192
    assert sorted(c for c, ok in verdicts.items() if not ok) == sorted(REJECTED)
    assert sum(1 for code in status.values() if code == 0) == 192
    assert sum(1 for code in status.values() if code == 1) == 4


def test_validation_is_fast(corpus_dir: Path) -> None:
    documents = []
    for config in CONFIGS:
        try:
            documents.append(load_document(str(corpus_dir / config))[0])
        except InputError:
            continue
    validate_document(documents[0])  # the one-off schema compilation is not what is measured
    start = time.perf_counter()
    for document in documents:
        validate_document(document)
        check_semantics(document)
    elapsed = time.perf_counter() - start
    # About 0.05 s on a laptop; the bound leaves room for slow CI machines and xdist.
    assert elapsed < 1.0, f"validating the corpus took {elapsed:.2f} s"
