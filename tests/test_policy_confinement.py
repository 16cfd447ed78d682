"""The policy comes from where it should (issue 14, item 2): `extends` reads only built-ins and
files of the repository, never prints what a file that is not a policy holds, and discovery
ignores policies planted above the repository, above the home, in world-writable directories
or by another user. An `extends` graph of any shape is read once per file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.model.findings import InputError
from lkpolicy.stages.policy.discovery import find_policy
from lkpolicy.stages.policy.loader import POLICY_KEYS, load_policy_file
from lkpolicy.stages.policy.schema import build_schema
from tests.conftest import skip_or_fail

runner = CliRunner()
CANARY = "s3cr3t-canary"
PASSWD = (f"root:x:0:0:{CANARY}:/root:/bin/bash\n"
          "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
SHADOW_LIKE = f"root: {CANARY}\ndaemon: '*'\n"
CONFIG = "kernel:\n  image: linuxkit/kernel:6.6\n  cmdline: console=ttyS0\ninit:\n  - linuxkit/init:v1\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def check(config: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--no-images", "--no-cache", *extra, str(config)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def policy_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_policy_file(str(path))
    return caught.value


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / "config.yml", CONFIG)
    return root


@pytest.mark.parametrize("content", [PASSWD, SHADOW_LIKE])
@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github"])
def test_extends_outside_the_repository_is_refused_unread(
        tmp_path: Path, repo: Path, content: str, output_format: str) -> None:
    secret = write(tmp_path / "etc" / "shadow", content)
    policy = write(repo / ".lkpolicy.yml", f"extends: [{secret}]\n")
    code, output = check(repo / "config.yml", "--format", output_format, "--policy", str(policy))
    assert code == 2
    assert "LKP006" in output and "outside" in output
    assert CANARY not in output and "daemon" not in output


def test_relative_and_symlinked_escapes_are_refused(tmp_path: Path, repo: Path) -> None:
    write(tmp_path / "outside.yml", "rules: {}\n")
    policy = write(repo / "p.yml", "extends: [../outside.yml]\n")
    assert policy_error(policy).findings[0].rule_id == "LKP006"
    (repo / "link.yml").symlink_to(tmp_path / "outside.yml")
    write(policy, "extends: [link.yml]\n")
    (finding,) = policy_error(policy).findings
    assert finding.rule_id == "LKP006"
    assert (finding.location.line, finding.location.column) == (1, 11)


def test_without_a_repository_the_policy_directory_is_the_limit(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", "extends: []\nrules:\n  LKP101: error\n")
    write(tmp_path / "team" / "shared" / "more.yml", "extends: []\nrules:\n  LKP110: error\n")
    policy = write(tmp_path / "team" / "p.yml", "extends: [shared/more.yml]\n")
    assert load_policy_file(str(policy)).rules["LKP110"].severity == "error"
    write(policy, "extends: [../base.yml]\n")
    assert policy_error(policy).findings[0].rule_id == "LKP006"


@pytest.mark.parametrize("content", [
    SHADOW_LIKE,
    f"password: {CANARY}\npassword: again\n",       # a YAML error that would name the key
    f"{{{CANARY}: [1, 2]}}: x\n",                     # a non-string key
    PASSWD,
    f"- {CANARY}\n",
])
def test_a_file_inside_that_is_not_a_policy_is_not_echoed(repo: Path, content: str) -> None:
    write(repo / "secrets.yml", content)
    policy = write(repo / "p.yml", "extends: [secrets.yml]\n")
    code, output = check(repo / "config.yml", "--format", "json", "--policy", str(policy))
    assert code == 2 and CANARY not in output
    messages = [f["message"] for f in json.loads(output)["findings"]]
    assert any("not a policy file" in m or "must be a mapping" in m for m in messages), messages


def test_a_policy_with_a_typo_still_names_it(repo: Path) -> None:
    policy = write(repo / "p.yml", "extends: []\nrulse: {}\n")
    assert "rulse" in str(policy_error(policy).findings[0].message)


def test_policy_keys_match_the_schema() -> None:
    assert set(POLICY_KEYS) == set(build_schema()["properties"])


def test_a_fifo_policy_is_refused_without_blocking(repo: Path) -> None:
    fifo = repo / "fifo.yml"
    os.mkfifo(fifo)
    started = time.monotonic()
    code, output = check(repo / "config.yml", "--policy", str(fifo))
    assert time.monotonic() - started < 10
    assert code == 2 and "LKP001" in output and "FIFO" in output


def test_an_extends_diamond_is_read_once_per_file(tmp_path: Path) -> None:
    depth = 22
    for level in range(depth):
        for side in "ab":
            below = f"[d{level + 1}a.yml, d{level + 1}b.yml]" if level + 1 < depth else "[]"
            write(tmp_path / f"d{level}{side}.yml", f"extends: {below}\n")
    write(tmp_path / f"d{depth - 1}a.yml", "extends: []\noverrides:\n"
          "  - match: {section: services}\n    rules: {LKP110: 'off'}\n")
    top = write(tmp_path / "top.yml", "extends: [d0a.yml, d0b.yml]\n")
    started = time.monotonic()
    policy = load_policy_file(str(top))
    assert time.monotonic() - started < 10
    assert len(policy.sources) == 2 * depth + 1
    assert len(policy.overrides) == 1


def test_a_diamond_applies_the_shared_base_once(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", "extends: []\nrules:\n  LKP101: warning\n")
    write(tmp_path / "left.yml", "extends: [base.yml]\nrules:\n  LKP101: error\n")
    write(tmp_path / "right.yml", "extends: [base.yml]\n")
    top = write(tmp_path / "top.yml", "extends: [left.yml, right.yml]\n")
    # The base goes below both sides; it does not come back on top of `left`.
    assert load_policy_file(str(top)).rules["LKP101"].severity == "error"


# -- discovery ---------------------------------------------------------------------------------

LENIENT = "extends: []\n"


def errors_of(config: Path) -> int:
    code, output = check(config, "--format", "json")
    assert code in (0, 1)
    return int(json.loads(output)["summary"]["errors"])


def test_a_policy_in_a_world_writable_parent_is_ignored(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    config = write(shared / "project" / "config.yml", CONFIG)
    baseline = errors_of(config)
    assert baseline > 0
    write(shared / ".lkpolicy.yml", LENIENT)
    shared.chmod(0o1777)
    assert find_policy(None, config.parent) == "builtin:default"
    assert errors_of(config) == baseline
    shared.chmod(0o755)
    assert find_policy(None, config.parent) == str(shared / ".lkpolicy.yml")
    assert errors_of(config) == 0


def test_a_policy_owned_by_another_user_is_ignored(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        skip_or_fail("giving a file to another user needs root")
    config = write(tmp_path / "project" / "config.yml", CONFIG)
    planted = write(tmp_path / ".lkpolicy.yml", LENIENT)
    os.chown(planted, 54321, 54321)
    assert find_policy(None, config.parent) == "builtin:default"
    # The owner of the config's directory is trusted: a CI checkout owned by its runner user.
    os.chown(config.parent, 54321, 54321)
    assert find_policy(None, config.parent) == str(planted)


def test_discovery_stops_at_the_home_directory(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    config = write(home / "work" / "config.yml", CONFIG)
    write(tmp_path / ".lkpolicy.yml", LENIENT)
    monkeypatch.setenv("HOME", str(home))
    assert find_policy(None, config.parent) == "builtin:default"
    write(home / ".lkpolicy.yml", LENIENT)
    assert find_policy(None, config.parent) == str(home / ".lkpolicy.yml")
