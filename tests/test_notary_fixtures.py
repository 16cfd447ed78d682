"""Notary v1 verification: real captured trust data, then an attack suite on data signed here."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from notary_helpers import (
    GUN,
    NOW,
    Repo,
    dict_fetch,
    edit_signed,
    envelope,
    make_cert_key,
    make_key,
    meta_entry,
    target_entry,
    verify,
)

from lkpolicy.stages.trust import errors, notary
from lkpolicy.stages.trust.canonical import (
    encode_canonical,
    encode_canonical_parsed,
    loads_strict,
)
from lkpolicy.stages.trust.errors import CanonicalJSONError

# ----------------------------------------------------------------------------- fixtures


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def notary_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "notary"


@pytest.fixture(scope="module")
def expected(notary_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((notary_dir / "expected.json").read_text())
    return data


def load_files(directory: Path, raw: bool) -> dict[str, bytes]:
    """Every `<role>.json` of a fixture; pretty-printed ones re-compacted in their key order."""
    files: dict[str, bytes] = {}
    for path in directory.rglob("*.json"):
        name = str(path.relative_to(directory))[: -len(".json")]
        data = path.read_bytes()
        if not raw:
            data = json.dumps(json.loads(data), separators=(",", ":")).encode()
        files[name] = data
    return files


FIXTURE_NAMES = ["sample", "sample-local-ed25519", "connaisseur-py/alice-image",
                 "connaisseur-py/sample-image"]


def fixture_files(notary_dir: Path, expected: dict[str, Any], name: str) -> dict[str, bytes]:
    return load_files(notary_dir / name, expected[name]["raw_bytes"])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_resolves_like_docker(notary_dir: Path, expected: dict[str, Any],
                                      name: str) -> None:
    info = expected[name]
    trusted = verify(fixture_files(notary_dir, expected, name), gun=info["gun"],
                     now=_when(info["evaluate_at"]))
    assert info["root_keyid"] in trusted.root.roles["root"].keyids
    for tag, want in info["tags"].items():
        if want["docker_result"] is None:
            with pytest.raises(errors.UnknownTarget, match=r"no trust data"):
                trusted.find_target(tag)
            continue
        hit = trusted.find_target(tag)
        assert (hit.digest, hit.length, hit.role) == (want["docker_result"], want["length"],
                                                       want["docker_role"])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_valid_at_both_ends_of_its_window(notary_dir: Path, expected: dict[str, Any],
                                                  name: str) -> None:
    info = expected[name]
    files = fixture_files(notary_dir, expected, name)
    for moment in info["valid_between"]:
        verify(files, gun=info["gun"], now=_when(moment))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_expires(notary_dir: Path, expected: dict[str, Any], name: str) -> None:
    info = expected[name]
    files = fixture_files(notary_dir, expected, name)
    later = _when(info["valid_between"][1]) + dt.timedelta(days=1)
    with pytest.raises(errors.ExpiredMetadata, match=r"^timestamp: expired"):
        verify(files, gun=info["gun"], now=later)


def test_fixture_key_ids_recompute(notary_dir: Path, expected: dict[str, Any]) -> None:
    checked = 0
    for name in FIXTURE_NAMES:
        for data in fixture_files(notary_dir, expected, name).values():
            signed = json.loads(data).get("signed", {})
            keys = dict(signed.get("keys", {}))
            keys.update(signed.get("delegations", {}).get("keys", {}))
            for keyid, key in keys.items():
                assert notary.compute_key_id(key["keytype"], key["keyval"]["public"]) == keyid
                checked += 1
    assert checked > 20


def test_fixture_server_key_files_match_root(notary_dir: Path) -> None:
    files = load_files(notary_dir / "sample", True)
    root = notary.parse_root(files["root"])
    for role in ("timestamp", "snapshot"):
        key = json.loads((notary_dir / "sample" / f"{role}.key").read_bytes())
        keyid = notary.compute_key_id(key["keytype"], key["keyval"]["public"])
        assert root.roles[role].keyids == (keyid,)


@pytest.mark.parametrize("tag", ["v1", "v2"])
def test_fixture_registry_manifest_matches_target(notary_dir: Path, tag: str) -> None:
    trusted = verify(load_files(notary_dir / "sample", True),
                     gun="127.0.0.1:5000/linuxkit/kernel", now=NOW)
    target = trusted.find_target(tag)
    body = (notary_dir / "registry-manifests" / f"{tag}.json").read_bytes()
    notary.check_manifest(target, "sha256:" + hashlib.sha256(body).hexdigest(), len(body))
    with pytest.raises(errors.LengthMismatch):
        notary.check_manifest(target, target.digest, len(body) + 1)
    other = (notary_dir / "registry-manifests" / "v3.json").read_bytes()
    with pytest.raises(errors.HashMismatch, match=r"registry serves"):
        notary.check_manifest(target, "sha256:" + hashlib.sha256(other).hexdigest(), len(other))


def test_fixture_root_rotation_from_version_1(notary_dir: Path) -> None:
    files = load_files(notary_dir / "sample", True)
    trusted = verify(files, gun="127.0.0.1:5000/linuxkit/kernel", trusted_root=files["1.root"])
    assert trusted.root.version == 2
    assert trusted.find_target("v2").length == 423


def test_fixture_root_rollback_rejected(notary_dir: Path) -> None:
    files = load_files(notary_dir / "sample", True)
    files["root"] = files["1.root"]
    with pytest.raises(errors.Rollback, match=r"^root: version 1 is older than the trusted "
                                              r"version 2"):
        verify(files, gun="127.0.0.1:5000/linuxkit/kernel", trusted_root=files["2.root"])


def test_fixture_wrong_gun(notary_dir: Path) -> None:
    files = load_files(notary_dir / "sample", True)
    with pytest.raises(errors.GunMismatch, match=r"127.0.0.1:5000/other"):
        verify(files, gun="127.0.0.1:5000/other")


def test_fixture_flipped_timestamp_signature(notary_dir: Path) -> None:
    files = load_files(notary_dir / "sample", True)
    document = json.loads(files["timestamp"])
    sig = base64.b64decode(document["signatures"][0]["sig"])
    document["signatures"][0]["sig"] = base64.b64encode(bytes([sig[0] ^ 0x01]) + sig[1:]).decode()
    files["timestamp"] = json.dumps(document, separators=(",", ":")).encode()
    with pytest.raises(errors.ThresholdNotMet, match=r"^timestamp: 0 valid .* threshold 1; "
                                                     r"1 invalid"):
        verify(files, gun="127.0.0.1:5000/linuxkit/kernel")


def test_fixture_edited_length_breaks_snapshot_hash(notary_dir: Path) -> None:
    files = load_files(notary_dir / "sample", True)
    files["targets/releases"] = files["targets/releases"].replace(b'"length":423',
                                                                  b'"length":424')
    with pytest.raises(errors.HashMismatch, match=r"^targets/releases: sha256 .* snapshot"):
        verify(files, gun="127.0.0.1:5000/linuxkit/kernel")


def test_fixture_pinned_key(notary_dir: Path, expected: dict[str, Any]) -> None:
    for name in ("sample", "connaisseur-py/alice-image"):
        info = expected[name]
        files = fixture_files(notary_dir, expected, name)
        now = _when(info["evaluate_at"])
        verify(files, gun=info["gun"], now=now, pins=(info["root_cert_spki_b64"],))
        other = expected["sample-local-ed25519"]["root_cert_spki_b64"]
        with pytest.raises(errors.RootChanged, match=r"pinned"):
            verify(files, gun=info["gun"], now=now, pins=(other,))


def test_fixture_pretty_printed_bytes_are_not_the_signed_bytes(notary_dir: Path) -> None:
    """Hashing the files as stored (indented) must fail: hashes are over the served bytes."""
    directory = notary_dir / "connaisseur-py" / "sample-image"
    files = load_files(directory, raw=True)
    # Longer than the signed length: the fetch refuses it before any hash is computed.
    with pytest.raises(errors.MetadataTooLarge, match=r"^snapshot:"):
        verify(files, gun="docker.io/phbelitz/sample-image", now=_when("2019-10-01T00:00:00Z"))


# ----------------------------------------------------------------------------- canonical JSON


def test_canonical_json_rules() -> None:
    value = {"b": [1, 2.0, True, None], "a": 'q"\\<>&\u2028é\x01\n', "é": {}, "Z": "x"}
    assert encode_canonical(value) == (b'{"Z":"x","a":"q\\"\\\\<>&\xe2\x80\xa8\xc3\xa9\x01\n",'
                                       b'"b":[1,2,true,null],"\xc3\xa9":{}}')
    with pytest.raises(CanonicalJSONError):
        encode_canonical({"x": 1.5})
    with pytest.raises(ValueError):
        loads_strict(b'{"x": NaN}')


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_fast_canonical_equals_reference_walk(value: Any) -> None:
    reparsed = loads_strict(json.dumps(value).encode())
    assert encode_canonical_parsed(reparsed) == encode_canonical(value)


def test_integral_numbers_in_any_form_are_integers() -> None:
    assert encode_canonical_parsed(loads_strict(b'{"a":1.0,"b":1e2,"c":-0}')) == (
        b'{"a":1,"b":100,"c":0}')
    with pytest.raises(CanonicalJSONError):
        encode_canonical_parsed(loads_strict(b'{"a":0.5}'))


def test_time_parsing_forms() -> None:
    assert notary.parse_time("2029-09-22T15:56:45.874265778+02:00") == dt.datetime(
        2029, 9, 22, 13, 56, 45, 874265, tzinfo=dt.UTC)
    assert notary.parse_time("2026-12-12T01:34:18Z").second == 18
    for bad in ("2026-12-12 01:34:18Z", "2026-12-12T01:34:18", "2026-13-01T00:00:00Z", 5):
        with pytest.raises(errors.MalformedMetadata):
            notary.parse_time(bad)


# ----------------------------------------------------------------------------- key types


@pytest.mark.parametrize(("root_kind", "ts_kind"), [("ecdsa", "ecdsa"), ("ecdsa", "ed25519"),
                                                    ("rsa", "ecdsa")])
def test_key_types_verify(root_kind: str, ts_kind: str) -> None:
    trusted = verify(Repo(root_kind=root_kind, ts_kind=ts_kind).build())
    assert trusted.find_target("v2").role == "targets/releases"


@pytest.mark.parametrize("method", ["rsapss", "rsapkcs1v15"])
def test_rsa_delegation_methods(method: str) -> None:
    repo = Repo()
    repo.keys["targets/releases"] = make_key("rsa", rsa_method=method)
    assert verify(repo.build()).find_target("v2").length == 423


def test_short_rsa_key_is_unusable() -> None:
    repo = Repo()
    repo.keys["targets/releases"] = make_key("rsa", bits=1024)
    with pytest.raises(errors.ThresholdNotMet, match=r"1024 bits"):
        verify(repo.build())


def test_method_must_fit_key_type() -> None:
    repo = Repo(ts_kind="ed25519")
    files = repo.build()
    document = json.loads(files["timestamp"])
    document["signatures"][0]["method"] = "ecdsa"
    files["timestamp"] = json.dumps(document, separators=(",", ":")).encode()
    with pytest.raises(errors.ThresholdNotMet, match=r"^timestamp:"):
        verify(files)


# ----------------------------------------------------------------------------- attack suite


def test_honest_repository_verifies_and_reports_versions() -> None:
    trusted = verify(Repo().build())
    assert trusted.find_target("v1").role == "targets/releases"
    assert trusted.find_target("v3").role == "targets"
    assert trusted.versions()["targets/releases"] == 1


def test_tampered_target_hash_without_resigning() -> None:
    files = Repo().build()
    files["targets/releases"] = edit_signed(
        files["targets/releases"], lambda s: s["targets"].update(v2=target_entry("ee" * 32, 423)))
    with pytest.raises(errors.HashMismatch, match=r"^targets/releases:"):
        verify(files)


def test_tampered_target_resigned_by_role_key_but_snapshot_unchanged() -> None:
    repo = Repo()
    files = repo.build()
    repo.releases["v2"] = target_entry("ee" * 32, 423)
    forged = repo.build()
    files["targets/releases"] = forged["targets/releases"]
    with pytest.raises(errors.HashMismatch, match=r"^targets/releases: sha256"):
        verify(files)


def test_bad_signature() -> None:
    repo = Repo()
    repo.corrupt.add("snapshot")
    with pytest.raises(errors.BadSignature, match=r"^snapshot: 0 valid.*1 invalid"):
        verify(repo.build())


def test_threshold_not_met_and_duplicates_count_once() -> None:
    repo = Repo()
    repo.thresholds["targets"] = 2
    repo.signers["targets"] = [repo.keys["targets"], repo.keys["targets"]]
    with pytest.raises(errors.ThresholdNotMet, match=r"^targets: 1 valid .* threshold 2"):
        verify(repo.build())


def test_empty_signatures() -> None:
    repo = Repo()
    repo.signers["timestamp"] = []
    with pytest.raises(errors.BadSignature, match=r"^timestamp: no signatures"):
        verify(repo.build())


def test_role_signed_by_a_key_of_another_role() -> None:
    repo = Repo()
    repo.signers["timestamp"] = [repo.keys["targets"]]
    with pytest.raises(errors.UnknownKey, match=r"^timestamp:.*not trusted for this role"):
        verify(repo.build())


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets", "targets/releases"])
def test_expired_role(role: str) -> None:
    repo = Repo()
    repo.expires[role] = NOW - dt.timedelta(seconds=1)
    with pytest.raises(errors.ExpiredMetadata, match=rf"^{role}: expired at"):
        verify(repo.build())


def test_expired_root() -> None:
    repo = Repo()
    repo.expires["root"] = NOW - dt.timedelta(days=1)
    with pytest.raises(errors.ExpiredMetadata, match=r"^root: expired"):
        verify(repo.build())


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets", "targets/releases"])
def test_rollback_to_older_version(role: str) -> None:
    repo = Repo()
    repo.versions[role] = 3
    with pytest.raises(errors.Rollback, match=rf"^{role}: version 3 is older than the trusted "
                                              f"version 4"):
        verify(repo.build(), known={role: 4})
    assert verify(repo.build(), known={role: 3}).versions()[role] == 3


def test_versions_never_decrease() -> None:
    trusted = verify(Repo().build(), known={"targets/alice": 7})
    assert trusted.versions()["targets/alice"] == 7


def test_mix_and_match_old_snapshot_with_new_timestamp() -> None:
    repo = Repo()
    old = repo.build()
    repo.releases["v2"] = target_entry("ee" * 32, 423)
    repo.bump("targets/releases", "snapshot", "timestamp")
    new = repo.build()
    mixed = {**new, "snapshot": old["snapshot"]}
    with pytest.raises(errors.HashMismatch, match=r"^snapshot: sha256 .* timestamp"):
        verify(mixed)
    mixed = {**new, "targets/releases": old["targets/releases"]}
    with pytest.raises(errors.HashMismatch, match=r"^targets/releases:"):
        verify(mixed)
    assert verify(new).find_target("v2").sha256 == "ee" * 32


def test_mix_and_match_root_not_in_snapshot() -> None:
    repo = Repo()
    old = repo.build()
    repo.rotate_root()
    repo.bump("snapshot", "timestamp")
    new = repo.build()
    # The new root chain verifies, but this snapshot names the old root: refuse the mixture.
    with pytest.raises(errors.HashMismatch, match=r"^root: sha256 .* snapshot"):
        verify({**old, "root": new["root"]})


def test_valid_root_rotation() -> None:
    repo = Repo()
    first = repo.build()
    repo.rotate_root(kind="ecdsa")
    repo.bump("snapshot", "timestamp")
    files = repo.build()
    trusted = verify(files, trusted_root=first["root"])
    assert trusted.root.version == 2
    assert trusted.loaded_raw["root"] == files["root"]


def test_root_rotation_chain_walk() -> None:
    repo = Repo()
    first = repo.build()
    repo.rotate_root()
    repo.build()
    repo.rotate_root()  # v3 signed by v2's key only, so v1 -> v3 directly fails
    repo.bump("snapshot", "timestamp")
    files = repo.build()
    assert set(files) >= {"1.root", "2.root", "3.root"}
    assert verify(files, trusted_root=first["root"]).root.version == 3
    del files["2.root"]
    with pytest.raises(errors.RootChanged):
        verify(files, trusted_root=first["root"])


def test_malicious_root_rotation_not_signed_by_old_root() -> None:
    repo = Repo()
    first = repo.build()
    repo.rotate_root(signed_by_old=False)
    repo.bump("snapshot", "timestamp")
    with pytest.raises(errors.RootChanged, match=r"^root: root v2 differs from the trusted "
                                                 r"root v1"):
        verify(repo.build(), trusted_root=first["root"])


def test_root_rotation_not_signed_by_new_key() -> None:
    repo = Repo()
    first = repo.build()
    repo.rotate_root()
    repo.signers["root"] = list(repo.root_cosigners)
    repo.bump("snapshot", "timestamp")
    with pytest.raises(errors.RootChanged, match=r"0 valid"):
        verify(repo.build(), trusted_root=first["root"])


def test_root_rotation_to_certificate_for_another_gun() -> None:
    repo = Repo()
    first = repo.build()
    repo.rotate_root(cn="127.0.0.1:5000/evil")
    repo.bump("snapshot", "timestamp")
    with pytest.raises(errors.RootChanged, match=r"does not match GUN"):
        verify(repo.build(), trusted_root=first["root"])


def test_new_root_after_trust_on_first_use() -> None:
    """A repository deleted and recreated with new keys: TOFU accepts, the pinned client not."""
    pinned = Repo().build()
    recreated = Repo().build()
    verify(recreated)  # a stateless client would take it
    with pytest.raises(errors.RootChanged):
        verify(recreated, trusted_root=pinned["root"])


def test_gun_cn_mismatch() -> None:
    repo = Repo(root_keys=[make_cert_key("127.0.0.1:5000/lktest/other")])
    with pytest.raises(errors.GunMismatch, match=r"^root: root certificate CN "
                                                 "'127.0.0.1:5000/lktest/other' does not match"):
        verify(repo.build())


def test_wildcard_cn_is_a_prefix() -> None:
    verify(Repo(root_keys=[make_cert_key("127.0.0.1:5000/lktest/*")]).build())


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"not_after": NOW - dt.timedelta(days=1)}, "certificate expired"),
    ({"not_before": NOW + dt.timedelta(days=2)}, "not valid before"),
    ({"ca": True}, "CA certificate"),
])
def test_root_certificate_rules(kwargs: dict[str, Any], reason: str) -> None:
    repo = Repo(root_keys=[make_cert_key(GUN, **kwargs)])
    with pytest.raises(errors.InvalidCertificate, match=reason):
        verify(repo.build())


def test_root_key_must_be_a_certificate() -> None:
    repo = Repo(root_keys=[make_key("ecdsa")])
    with pytest.raises(errors.InvalidCertificate, match=r"not an X.509 certificate"):
        verify(repo.build())


def test_key_listed_under_a_wrong_id() -> None:
    repo = Repo()
    files = repo.build()

    def relist(signed: dict[str, Any]) -> None:
        keyid = signed["roles"]["timestamp"]["keyids"][0]
        wrong = "ab" * 32
        signed["keys"][wrong] = signed["keys"].pop(keyid)
        signed["roles"]["timestamp"]["keyids"] = [wrong]

    repo.mutate["root"] = relist
    files = repo.build()
    document = json.loads(files["timestamp"])
    document["signatures"][0]["keyid"] = "ab" * 32
    files["timestamp"] = json.dumps(document, separators=(",", ":")).encode()
    with pytest.raises(errors.ThresholdNotMet, match=r"^timestamp:.*has ID"):
        verify(files)


def test_oversized_metadata() -> None:
    files = Repo().build()
    padded = json.loads(files["timestamp"])
    padded["padding"] = "x" * (1024 * 1024)
    files["timestamp"] = json.dumps(padded).encode()
    with pytest.raises(errors.MetadataTooLarge, match=r"^timestamp:"):
        verify(files)
    trusted = notary.NotaryTrustedSet(files["root"], GUN, NOW)
    with pytest.raises(errors.MetadataTooLarge, match=r"^timestamp:"):
        trusted.update_timestamp(files["timestamp"])


def test_snapshot_longer_than_signed_length() -> None:
    repo = Repo()
    files = repo.build()
    trusted = notary.NotaryTrustedSet(files["root"], GUN, NOW)
    trusted.update_timestamp(files["timestamp"])
    with pytest.raises(errors.LengthMismatch, match=r"^snapshot: .* at most"):
        trusted.update_snapshot(files["snapshot"] + b" ")


def test_unpublished_delegation_is_ignored() -> None:
    repo = Repo()
    bob = make_key("ecdsa")

    def add_bob(signed: dict[str, Any]) -> None:
        signed["delegations"]["keys"][bob.keyid] = bob.entry
        signed["delegations"]["roles"].insert(0, {"keyids": [bob.keyid], "name":
                                                  "targets/bob", "paths": [""], "threshold": 1})

    repo.mutate["targets"] = add_bob
    trusted = verify(repo.build())
    assert "targets/bob" not in trusted.targets
    assert trusted.find_target("v1").role == "targets/releases"


def test_other_delegation_is_ignored_by_docker_order() -> None:
    files = Repo().build()
    trusted = notary.load_trusted_set(dict_fetch(files), GUN, NOW,
                                      delegations=("targets/releases", "targets/alice"))
    assert [hit.role for hit in trusted.signed_everywhere("v4")] == ["targets/alice"]
    with pytest.raises(errors.UnknownTarget, match=r"signed only in targets/alice"):
        trusted.find_target("v4")
    with pytest.raises(errors.UnknownTarget):
        trusted.find_target("v5")


def test_delegation_signed_by_unknown_key() -> None:
    repo = Repo()
    repo.signers["targets/releases"] = [make_cert_key("releases")]
    with pytest.raises(errors.UnknownKey, match=r"^targets/releases: 0 valid"):
        verify(repo.build())


def test_delegation_missing_on_server_is_an_error() -> None:
    files = Repo().build()
    del files["targets/releases"]
    with pytest.raises(errors.NoTrustData, match=r"^targets/releases"):
        verify(files)


def test_delegation_paths_limit_what_it_may_sign() -> None:
    repo = Repo()

    def narrow(signed: dict[str, Any]) -> None:
        signed["delegations"]["roles"][0]["paths"] = ["prod-"]

    repo.mutate["targets"] = narrow
    trusted = verify(repo.build())
    # v1 is signed in releases, but outside its paths: Docker then takes the targets entry.
    assert trusted.find_target("v1").role == "targets"
    with pytest.raises(errors.UnknownTarget):
        trusted.find_target("v2")


def test_delegation_that_is_not_a_direct_child() -> None:
    repo = Repo()

    def rename(signed: dict[str, Any]) -> None:
        signed["delegations"]["roles"][0]["name"] = "targets/a/releases"

    repo.mutate["targets"] = rename
    with pytest.raises(errors.MalformedMetadata, match=r"not a direct child"):
        verify(repo.build())


@pytest.mark.parametrize(("role", "change", "error"), [
    ("timestamp", lambda s: s.update(_type="Snapshot"), "_type is 'Snapshot'"),
    ("snapshot", lambda s: s["meta"].pop("targets"), "meta has no entry for targets"),
    ("root", lambda s: s["roles"].pop("snapshot"), "role snapshot is not an object"),
    ("targets", lambda s: s.update(version=0), "version is not an integer >= 1"),
    ("timestamp", lambda s: s["meta"]["snapshot"]["hashes"].pop("sha256"), "no sha256"),
])
def test_malformed_metadata(role: str, change: Callable[[dict[str, Any]], None],
                            error: str) -> None:
    repo = Repo()
    repo.mutate[role] = change
    with pytest.raises(errors.MalformedMetadata, match=error):
        verify(repo.build())


def test_fractional_number_in_signed_part() -> None:
    repo = Repo()
    repo.mutate["targets"] = lambda s: s.update(extra=1.5)
    with pytest.raises(CanonicalJSONError):
        repo.build()
    files = Repo().build()
    files["timestamp"] = edit_signed(files["timestamp"], lambda s: s.update(extra=1.5))
    with pytest.raises(errors.MalformedMetadata, match=r"no canonical form"):
        verify(files)


def test_out_of_order_use_is_refused() -> None:
    files = Repo().build()
    trusted = notary.NotaryTrustedSet(files["root"], GUN, NOW)
    with pytest.raises(errors.StateError):
        trusted.update_snapshot(files["snapshot"])
    trusted.update_timestamp(files["timestamp"])
    with pytest.raises(errors.StateError):
        trusted.update_root(files["root"])
    with pytest.raises(errors.StateError):
        trusted.find_target("v1")


def test_errors_are_one_line_and_picklable() -> None:
    import pickle

    error = errors.HashMismatch("targets", "a\nb")
    assert str(error) == "targets: a b"
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is errors.HashMismatch and str(clone) == str(error)


def test_envelope_helper_matches_notary_wire_form() -> None:
    key = make_key("ed25519")
    data = envelope({"_type": "Timestamp", "version": 1}, [key])
    assert data.startswith(b'{"signed":{"_type":"Timestamp","version":1},"signatures":[')
    assert meta_entry(data)["length"] == len(data)
