"""Named signers and root pins, on trust data signed here (notary_helpers.Repo).

The real notary client and server make the same cases in test_notary_delegations.py; here each
way a signer can be missing or disagree is built exactly.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from notary_helpers import GUN, NOW, Repo, dict_fetch, make_cert_key, target_entry

from lkpolicy.stages.trust import errors, notary
from lkpolicy.stages.trust.notary import RootPins, signed_by, with_ancestors

RELEASES, ALICE = "targets/releases", "targets/alice"
SAME = target_entry("11" * 32, 401)
OTHER = target_entry("99" * 32, 402)


def load(files: dict[str, bytes], roles: tuple[str, ...] = (RELEASES, ALICE), *,
         pins: RootPins = notary.NO_PINS, now: dt.datetime = NOW) -> notary.NotaryTrustedSet:
    return notary.load_trusted_set(dict_fetch(files), GUN, now, pins=pins,
                                   delegations=sorted(with_ancestors(roles)))


def repo(**kwargs: Any) -> Repo:
    kwargs.setdefault("releases", {"v1": SAME})
    kwargs.setdefault("alice", {"v1": SAME})
    return Repo(gun=GUN, **kwargs)


def test_two_signers_with_the_same_digest() -> None:
    hits = signed_by(load(repo().build()), "v1", [RELEASES, ALICE])
    assert [(hit.role, hit.digest, hit.length) for hit in hits] == [
        (RELEASES, "sha256:" + "11" * 32, 401), (ALICE, "sha256:" + "11" * 32, 401)]


def test_signers_that_disagree_are_named_with_both_digests() -> None:
    trusted = load(repo(alice={"v1": OTHER}).build())
    with pytest.raises(errors.SignersDisagree) as caught:
        signed_by(trusted, "v1", [RELEASES, ALICE])
    assert str(caught.value) == (
        f"targets: the required signers disagree on tag 'v1': targets/releases signs "
        f"sha256:{'11' * 32} (401 bytes), targets/alice signs sha256:{'99' * 32} (402 bytes)")


def test_a_signer_without_the_tag() -> None:
    trusted = load(repo(alice={"v4": SAME}).build())
    with pytest.raises(errors.SignerMissing) as caught:
        signed_by(trusted, "v1", [RELEASES, ALICE])
    assert str(caught.value) == ("targets/alice: tag 'v1' is not signed by targets/alice, "
                                 "which the policy requires")
    # Docker's answer is still there: the named signers do not change it.
    assert trusted.find_target("v1").role == RELEASES


def test_a_role_the_repository_does_not_delegate() -> None:
    with pytest.raises(errors.SignerMissing) as caught:
        signed_by(load(repo().build(), (RELEASES, "targets/bob")), "v1", [RELEASES, "targets/bob"])
    assert str(caught.value) == ("targets/bob: targets does not delegate to targets/bob (it "
                                 "delegates to: targets/alice, targets/releases)")
    with pytest.raises(errors.SignerMissing, match=r"its delegating role targets/x is not in"):
        signed_by(load(repo().build(), ("targets/x/y",)), "v1", ["targets/x/y"])


def test_a_delegation_never_published() -> None:
    def unlist(signed: dict[str, Any]) -> None:
        del signed["meta"][ALICE]

    trusted = load(repo(mutate={"snapshot": unlist}).build())
    with pytest.raises(errors.SignerMissing) as caught:
        signed_by(trusted, "v1", [ALICE])
    assert str(caught.value) == ("targets/alice: targets/alice is delegated by targets but was "
                                 "never published (not in the snapshot)")


def test_a_listed_delegation_that_is_missing_is_an_error_not_a_fallback() -> None:
    files = repo().build()
    del files[ALICE]
    with pytest.raises(errors.NoTrustData, match=r"^targets/alice: not found"):
        load(files)
    # Docker's order alone does not need alice, so it still answers.
    assert load(files, (RELEASES,)).find_target("v1").role == RELEASES


def test_an_expired_or_tampered_signer_fails_closed() -> None:
    expired = repo(expires={ALICE: NOW - dt.timedelta(days=1)}).build()
    with pytest.raises(errors.ExpiredMetadata, match=r"^targets/alice: expired"):
        load(expired)
    with pytest.raises(errors.ThresholdNotMet, match=r"^targets/alice:"):
        load(repo(corrupt={ALICE}).build())


def test_nested_signers_load_their_parents() -> None:
    assert with_ancestors(["targets/a/b/c", RELEASES, "targets"]) == {
        "targets/a", "targets/a/b", "targets/a/b/c", RELEASES}


# -- root pins ---------------------------------------------------------------------------------


def spki(key: Any) -> str:
    der = key.private.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def test_root_pinned_by_notary_certificate_id() -> None:
    honest = repo()
    files = honest.build()
    keyid = honest.root_keys[0].keyid
    assert load(files, pins=RootPins(cert_ids=frozenset({keyid}))).root.version == 1
    with pytest.raises(errors.RootChanged, match=r"no root key matches the pinned root key"):
        load(files, pins=RootPins(cert_ids=frozenset({"ab" * 32})))


@pytest.mark.parametrize("bad", ["cn", "expired", "ca"])
def test_pins_narrow_the_certificate_rules_unless_they_replace_them(bad: str) -> None:
    """Connaisseur's pins skip notary's certificate rules; lkpolicy's only when told so."""
    key = make_cert_key("docker.io/someone/else" if bad == "cn" else GUN,
                        not_after=NOW - dt.timedelta(days=2) if bad == "expired"
                        else NOW + dt.timedelta(days=900),
                        ca=bad == "ca")
    files = repo(root_keys=[key]).build()
    for pins in (RootPins(keys=frozenset({spki(key)})),
                 RootPins(cert_ids=frozenset({key.keyid}))):
        with pytest.raises((errors.GunMismatch, errors.InvalidCertificate)):
            load(files, pins=pins)
        replaced = RootPins(pins.keys, pins.cert_ids, replace=True)
        assert signed_by(load(files, pins=replaced), "v1", [RELEASES])[0].role == RELEASES
    # Replacing the rules never means trusting an unpinned key.
    with pytest.raises(errors.RootChanged):
        load(files, pins=RootPins(keys=frozenset({spki(make_cert_key(GUN))}), replace=True))


def test_without_pins_replace_changes_nothing() -> None:
    key = make_cert_key("docker.io/someone/else")
    with pytest.raises(errors.GunMismatch):
        load(repo(root_keys=[key]).build(), pins=RootPins(replace=True))
