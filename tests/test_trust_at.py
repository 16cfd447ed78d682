"""`--at`: every verifier and every waiver judged as of a stated moment.

Each verifier gets trust data that is valid at one moment and expired (or not yet signed) at
another: python-tuf with its reference time, keyless Sigstore bundles with the moment the log
recorded them, and waivers by their expiry date, through the CLI where it matters (Notary's are
in test_trust_stage.py, beside its served repositories). The result cache keys on the moment.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.reference import parse
from lkpolicy.stages.trust import errors

runner = CliRunner()


# -- TUF: python-tuf's reference time ---------------------------------------------------------


def test_tuf_metadata_valid_at_one_time_and_expired_at_another(tmp_path: Path) -> None:
    pytest.importorskip("tuf.ngclient")
    from tuf_helpers import TufRepo, in_days, manifest

    from lkpolicy.stages.trust.tuf_verifier import TufVerifier

    repo = TufRepo(tmp_path / "repo")
    repo.add_target(parse("linuxkit/init:v1").name, manifest("init"))
    repo.publish()  # the timestamp expires in one day, the snapshot in seven
    url = (tmp_path / "repo").as_uri()

    def verify(now: dt.datetime | None, cache: str) -> str:
        with TufVerifier(url, repo.root_bytes(), tmp_path / cache, now=now) as verifier:
            return verifier.verify(parse("linuxkit/init:v1")).digest

    assert verify(None, "now") == verify(in_days(0.5), "soon")
    with pytest.raises(errors.ExpiredMetadata, match=r"^timestamp: .*timestamp.json is expired"):
        verify(in_days(2), "later")
    # Expired today, valid as of yesterday: an audit of yesterday's decision still passes.
    repo.publish(expires={"timestamp": in_days(-1 / 24)})
    with pytest.raises(errors.ExpiredMetadata):
        verify(None, "expired-now")
    assert verify(in_days(-2 / 24), "before-expiry").startswith("sha256:")
    with pytest.raises(ValueError, match="timezone-aware"):
        TufVerifier(url, repo.root_bytes(), tmp_path / "naive", now=dt.datetime(2026, 1, 1))


# -- Sigstore: the moment the transparency log recorded the signature -------------------------


def test_keyless_bundle_did_not_exist_before_it_was_logged(tmp_path: Path) -> None:
    from cosign_helpers import FakeSigstore

    from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy, KeylessVerifier

    fake = FakeSigstore()
    root = fake.write_trusted_root(tmp_path / "trusted_root.json")
    digest = "sha256:" + "ab" * 32
    identity, issuer = "https://github.com/lktest/app/.github/workflows/r.yml@refs/heads/main", \
        "https://token.actions.githubusercontent.com"
    bundle = fake.sign_image(digest, identity, issuer)
    entry = json.loads(bundle)["verificationMaterial"]["tlogEntries"][0]
    logged = dt.datetime.fromtimestamp(int(entry["integratedTime"]), dt.UTC)

    def verify(at: dt.datetime | None) -> object:
        policy = KeylessPolicy(root, identity=identity, issuer=issuer, not_after=at)
        return KeylessVerifier(policy).verify_bundle(bundle, digest)

    assert verify(None) == verify(logged) == verify(logged + dt.timedelta(days=400))
    # A minute's grace for a log whose clock runs ahead of ours; not more.
    assert verify(logged - dt.timedelta(seconds=60)) == verify(None)
    with pytest.raises(errors.BundleInvalid) as caught:
        verify(logged - dt.timedelta(seconds=61))
    expected = (f"the transparency log recorded the signature at "
                f"{logged.strftime('%Y-%m-%dT%H:%M:%SZ')}, after the time of verification "
                f"{(logged - dt.timedelta(seconds=61)).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    assert caught.value.reason == expected


def test_sigstore_authorities_carry_the_moment() -> None:
    from lkpolicy.stages.policy.model import Authority, Identity
    from lkpolicy.stages.trust.adapters import keyless_policies
    from lkpolicy.stages.trust.stage import context_for

    moment = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    authority = Authority("ci", "sigstore", trusted_root="/x/trusted_root.json",
                          identities=(Identity("https://issuer", "me@example.com"),))
    [policy] = keyless_policies(authority, context_for("/t", "/i", False, moment))
    assert policy.not_after == moment


# -- waivers, the CLI option, the result cache -----------------------------------------------


def test_waivers_expire_as_of_the_stated_moment(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text('services:\n  - name: a\n    image: a:1\n'
                      '    # lkpolicy: ignore[LK304] reason="temporary" expires=2027-01-31\n'
                      '    ipc: none\n')

    def rules(*extra: str) -> list[str]:
        result = runner.invoke(app, ["check", "--no-images", "--no-policy", "--format", "json",
                                     *extra, str(config)])
        assert result.exit_code in (0, 1), result.output
        return sorted(f["rule"] for f in json.loads(result.output)["findings"])

    # The result cache is on (as in normal use): each moment must get its own verdict.
    assert rules("--at", "2027-01-31T23:59:59Z") == []
    assert "LK304" in rules("--at", "2027-02-01")
    assert rules("--at", "2027-01-15") == []
    assert "LK304" in rules("--at", "2027-01-31T20:00:00-05:00")  # 01:00 UTC on February 1st


@pytest.mark.parametrize("value", ["yesterday", "2027-13-01", "2027-02-30", "1700000000",
                                   "2027-01-01T25:00:00Z"])
def test_a_bad_moment_is_a_usage_error(tmp_path: Path, value: str) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services: []\n")
    for command in (["check", "--no-images"], ["build"]):
        result = runner.invoke(app, [*command, "--at", value, str(config)])
        assert result.exit_code == 2, result.output
        assert "--at" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["trust", "inspect", "x/y:1", "--at", value])
    assert result.exit_code == 2 and "--at" in result.output


@pytest.mark.parametrize(("value", "expected"), [
    ("2027-03-01", dt.datetime(2027, 3, 1, tzinfo=dt.UTC)),
    ("2027-03-01T12:30:00Z", dt.datetime(2027, 3, 1, 12, 30, tzinfo=dt.UTC)),
    ("2027-03-01T12:30:00.123456789+02:00", dt.datetime(2027, 3, 1, 10, 30, 0, 123456,
                                                        tzinfo=dt.UTC)),
    ("2027-03-01 12:30", dt.datetime(2027, 3, 1, 12, 30, tzinfo=dt.UTC)),
])
def test_moments_are_read_as_utc(value: str, expected: dt.datetime) -> None:
    from lkpolicy.cli.common import parse_at

    assert parse_at(value) == expected
