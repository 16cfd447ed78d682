"""Attestation conditions as the policy writes them, the statement checks, and the Merkle proofs
of managed-key log entries: pure parts, without a registry."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from attest_helpers import BUILDER, REPOSITORY, SLSA_V02, SLSA_V1, slsa_v02, slsa_v1, statement

from lkpolicy.model.findings import InputError
from lkpolicy.stages.policy.loader import load_policy_file
from lkpolicy.stages.trust.attest.conditions import (
    MAX_MATCHED_CHARS,
    AttestationCondition,
    condition_from_policy,
    pointer_tokens,
)
from lkpolicy.stages.trust.attest.statement import (
    Statement,
    check_condition,
    parse_statement,
    slsa_facts,
    split_source,
)
from lkpolicy.stages.trust.cosign.tlog import merkle_root
from lkpolicy.stages.trust.errors import (
    ConditionError,
    MalformedSignature,
    PayloadDigestMismatch,
    PredicateMismatch,
    PredicateTypeMismatch,
)

DIGEST = "sha256:" + "ab" * 32
IN_TOTO = "application/vnd.in-toto+json"


def judged(predicate_type: str, predicate: object, **raw: object) -> dict[str, str]:
    condition = condition_from_policy({"predicate_type": "slsa-provenance", **raw})
    return check_condition(Statement(predicate_type, predicate), condition, image="img",
                           source="src")


# ------------------------------------------------------------------------------------ SLSA


def test_slsa_facts_of_both_versions() -> None:
    assert slsa_facts(SLSA_V1, slsa_v1()) == {
        "builder": BUILDER, "build_type": "https://actions.github.io/buildtypes/workflow/v1",
        "source_repository": REPOSITORY, "source_ref": "refs/heads/main"}
    v02 = slsa_facts(SLSA_V02, slsa_v02())
    assert (v02["builder"], v02["source_repository"], v02["source_ref"]) == (
        BUILDER, REPOSITORY, "refs/tags/v1.0.0")
    # v1 without GitHub's workflow parameters: the first resolved dependency.
    other = slsa_v1()
    del other["buildDefinition"]["externalParameters"]["workflow"]
    other["buildDefinition"]["resolvedDependencies"][0]["uri"] = \
        "git+https://gitlab.example/g/p@refs/tags/v3"
    assert slsa_facts(SLSA_V1, other)["source_repository"] == "https://gitlab.example/g/p"
    assert slsa_facts(SLSA_V1, other)["source_ref"] == "refs/tags/v3"
    assert slsa_facts(SLSA_V1, {"runDetails": {"builder": {"id": 7}}})["builder"] is None
    assert slsa_facts(SLSA_V02, "not an object")["builder"] is None


@pytest.mark.parametrize(("uri", "expected"), [
    ("git+https://github.com/o/r@refs/heads/main", ("https://github.com/o/r", "refs/heads/main")),
    ("git+ssh://git@github.com/o/r", ("ssh://git@github.com/o/r", None)),
    ("git+ssh://git@github.com/o/r@v1", ("ssh://git@github.com/o/r", "v1")),
    ("https://github.com/o/r", ("https://github.com/o/r", None)),
    (None, (None, None)),
])
def test_split_source(uri: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_source(uri) == expected


def test_slsa_conditions_exact_and_regex() -> None:
    assert judged(SLSA_V1, slsa_v1(), builder=BUILDER)["builder"] == BUILDER
    assert judged(SLSA_V02, slsa_v02(), builder_regex=r"https://github\.com/lktest/.*",
                  source_ref_regex="refs/tags/v.*")["predicate_type"] == SLSA_V02
    with pytest.raises(PredicateMismatch, match=r"builder .* does not match /x/"):
        judged(SLSA_V1, slsa_v1(), builder_regex="x")
    # Regular expressions match whole values: a prefix is not enough.
    with pytest.raises(PredicateMismatch, match="source repository"):
        judged(SLSA_V1, slsa_v1(), source_repository_regex="https://github.com/lktest")
    with pytest.raises(PredicateMismatch, match="it records no build type"):
        judged(SLSA_V1, {"runDetails": {"builder": {"id": BUILDER}}}, build_type="x")
    with pytest.raises(PredicateTypeMismatch, match="predicate type 'https://x', not"):
        judged("https://x", {}, builder=BUILDER)
    # An over-long value is refused rather than matched.
    long = slsa_v1(builder="https://b/" + "a" * MAX_MATCHED_CHARS)
    with pytest.raises(PredicateMismatch):
        judged(SLSA_V1, long, builder_regex="https://b/a*")


def test_pointer_conditions() -> None:
    predicate = {"a/b": {"~x": [1, {"k": True}]}, "s": "value", "n": 1}
    condition = condition_from_policy({"predicate_type": "https://x", "conditions": [
        {"pointer": "/a~1b/~0x/1", "equals": {"k": True}},
        {"pointer": "/s", "regex": "val.e"},
        {"pointer": "/n", "equals": 1}]})
    assert check_condition(Statement("https://x", predicate), condition, image="i",
                           source="s") == {"predicate_type": "https://x"}

    def fails(item: dict[str, object]) -> str:
        wanted = condition_from_policy({"predicate_type": "https://x", "conditions": [item]})
        with pytest.raises(PredicateMismatch) as caught:
            check_condition(Statement("https://x", predicate), wanted, image="i", source="s")
        return caught.value.reason

    assert "no value at predicate/a~1b/~0x/2" in fails({"pointer": "/a~1b/~0x/2", "equals": 1})
    assert "no value at predicate/a~1b/~0x/01" in fails({"pointer": "/a~1b/~0x/01", "equals": 1})
    assert "predicate/n is 1, not true" in fails({"pointer": "/n", "equals": True})
    assert "predicate/n is not a string" in fails({"pointer": "/n", "regex": "1"})
    assert "predicate/s 'value' does not match /valu/" in fails({"pointer": "/s", "regex": "valu"})


@pytest.mark.parametrize(("raw", "key", "reason"), [
    ({"predicate_type": "slsa-provenance", "builder": "a", "builder_regex": "b"},
     "/builder_regex", "not both"),
    ({"predicate_type": "https://spdx.dev/Document", "source_ref": "x"}, "/source_ref",
     "is a SLSA provenance condition"),
    ({"predicate_type": "x", "conditions": [{"pointer": "a", "equals": 1}]},
     "/conditions/0/pointer", "starts with `/`"),
    ({"predicate_type": "x", "conditions": [{"pointer": "/a~2", "equals": 1}]},
     "/conditions/0/pointer", "RFC 6901"),
    ({"predicate_type": "x", "conditions": [{"pointer": "/a", "regex": "("}]},
     "/conditions/0/regex", "not a valid regular expression"),
    ({"predicate_type": "x", "conditions": [{"pointer": "/a" * 40, "equals": 1}]},
     "/conditions/0/pointer", "more than 32"),
])
def test_bad_conditions(raw: dict[str, object], key: str, reason: str) -> None:
    with pytest.raises(ConditionError, match=reason) as caught:
        condition_from_policy(raw)
    assert caught.value.key == key


def test_conditions_are_hashable_and_describe_themselves() -> None:
    raw = {"predicate_type": "slsa-provenance", "builder": BUILDER,
           "source_ref_regex": "refs/.*", "conditions": [{"pointer": "/x", "equals": [1]}]}
    first, second = condition_from_policy(raw), condition_from_policy(dict(raw))
    assert first == second and hash(first) == hash(second)
    assert first != condition_from_policy({**raw, "builder": "other"})
    assert first.describe() == (f"attestation slsa-provenance, builder '{BUILDER}', source ref "
                                f"/refs/.*/, /x = [1]")
    assert pointer_tokens("") == () and pointer_tokens("/") == ("",)
    assert isinstance(first, AttestationCondition) and first.slsa


# ------------------------------------------------------------------------------------ statements


def test_statement_subject_and_shape() -> None:
    payload = statement(DIGEST, SLSA_V1, slsa_v1())
    parsed = parse_statement(IN_TOTO, payload, DIGEST, image="i", source="s")
    assert parsed.predicate_type == SLSA_V1
    with pytest.raises(PayloadDigestMismatch, match=r"is about sha256:abab.*, not sha256:cdcd"):
        parse_statement(IN_TOTO, payload, "sha256:" + "cd" * 32, image="i", source="s")
    with pytest.raises(MalformedSignature, match="payload type"):
        parse_statement("text/plain", payload, DIGEST, image="i", source="s")
    twice = payload.replace(b'"predicateType":', b'"predicateType":"x","predicateType":')
    with pytest.raises(MalformedSignature, match="duplicate key"):
        parse_statement(IN_TOTO, twice, DIGEST, image="i", source="s")
    with pytest.raises(MalformedSignature, match="subject is not a list"):
        parse_statement(IN_TOTO, payload.replace(b'"subject"', b'"subjects"'), DIGEST,
                        image="i", source="s")


# ------------------------------------------------------------------------------------ policy


def load(tmp_path: Path, require: str, authority: str = "{type: cosign-key, keys: [k.pub]}",
         rule: str = "images: ['*']") -> None:
    (tmp_path / "p.yml").write_text(
        f"extends: []\ntrust:\n  authorities:\n    a: {authority}\n  rules:\n    - {rule}\n"
        "      require:\n" + textwrap.indent(textwrap.dedent(require), "        "))
    load_policy_file(str(tmp_path / "p.yml"))


GOOD = """\
authority: a
attestation: {predicate_type: slsa-provenance, builder: x}
"""


def test_policy_errors_have_positions(tmp_path: Path) -> None:
    load(tmp_path, GOOD)
    cases = [
        (GOOD.replace("builder: x", "builder_regex: '('"), {}, "LKP005", 9,
         "not a valid regular expression"),
        (GOOD.replace("builder: x", "builder: x, builder_regex: y"), {}, "LKP002", 9, ""),
        (GOOD.replace("builder: x", "colour: x"), {}, "LKP002", 9,
         "`colour` is not a key of `trust/rules/0/require/attestation`"),
        (GOOD, {"authority": "{type: tuf, repository: r, root: r.json}"}, "LKP005", 8,
         "cannot vouch for attestations"),
        (GOOD, {"rule": "files: ['etc/*']"}, "LKP005", 8, "a `files` rule cannot require one"),
    ]
    for require, extra, rule_id, line, text in cases:
        with pytest.raises(InputError) as caught:
            load(tmp_path, require, **extra)
        [finding] = caught.value.findings
        assert (finding.rule_id, finding.location.line) == (rule_id, line), finding
        assert text in finding.message


# ------------------------------------------------------------------------------------ Merkle


def _tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 MTH, by its definition."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _tree_hash(leaves[:split])
                          + _tree_hash(leaves[split:])).digest()


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 2.1.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_path(index, leaves[:split]), _tree_hash(leaves[split:])]
    return [*_path(index - split, leaves[split:]), _tree_hash(leaves[:split])]


def test_inclusion_proofs_of_every_leaf_of_small_trees() -> None:
    for size in range(1, 12):
        leaves = [f"entry {i}".encode() for i in range(size)]
        root = _tree_hash(leaves)
        for index in range(size):
            leaf = hashlib.sha256(b"\x00" + leaves[index]).digest()
            path = _path(index, leaves)
            assert merkle_root(leaf, index, size, path) == root
            if path:  # a proof with a hash missing, or one too many, leads nowhere
                assert merkle_root(leaf, index, size, path[:-1]) != root
            assert merkle_root(leaf, index, size, [*path, root]) is None
            if size > 1:
                assert merkle_root(leaf, (index + 1) % size, size, path) != root
