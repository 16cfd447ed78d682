"""One gate: `check`, `check --lock` and `build` reach the same verdict from the same inputs,
because all three run `run_gate` and only render or consume its result.

The parity tests run every corpus config, every example and every lint-rule test config
through `check` and `build` with the same image cache (stand-ins for every image the corpus
names, with the labels of LinuxKit's own packages) and the same policy.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from corpus_images import corpus_configs, fill_cache, package_labels
from imagefactory import add_image
from typer.testing import CliRunner

from lkpolicy.cli import app
from lkpolicy.store.lookup import Store

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ESC = "\x1b"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


@pytest.fixture(scope="session")
def corpus_cache(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus-cache")
    extra = sorted(EXAMPLES.glob("*.yml")) + sorted((EXAMPLES / "traps").glob("*.yml"))
    fill_cache(root, corpus_configs(corpus_dir) + extra, package_labels(corpus_dir))
    return root


def _parity(config: Path, cache: Path, out: Path, *extra: str) -> None:
    """check and build agree on the exit code; when both fail, build reports every finding
    that check reports."""
    common = ["--cache", str(cache), "--arch", "amd64", "--policy", "builtin:default", *extra]
    previous = os.getcwd()
    os.chdir(config.parent)  # linuxkit resolves relative `files` sources here
    try:
        checked, report = invoke("check", "--no-cache", "-f", "json", *common, str(config))
        built, output = invoke("build", *common, "-f", "tar", "--dir", str(out), "--name", "x",
                               str(config))
    finally:
        os.chdir(previous)
    assert checked in (0, 1, 2), report
    assert built == checked, f"{config}: check exits {checked}, build {built}:\n{output}"
    if checked == 0:
        assert (out / "x.tar").is_file(), output
        shutil.rmtree(out)
        return
    for finding in json.loads(report)["findings"]:
        where = f"{finding['file']}:{finding['line']}:{finding['column']}" if finding["line"] \
            else finding["file"]
        assert f"{where}: {finding['severity']} {finding['rule']}" in output, (config, finding)
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.corpus
def test_check_and_build_agree_on_the_corpus(corpus_dir: Path, corpus_cache: Path,
                                             tmp_path: Path) -> None:
    configs = corpus_configs(corpus_dir)
    assert len(configs) == 194
    for config in configs:
        _parity(config, corpus_cache, tmp_path / "out")


def test_check_and_build_agree_on_the_examples(corpus_cache: Path, tmp_path: Path) -> None:
    examples = sorted(EXAMPLES.glob("*.yml")) + sorted((EXAMPLES / "traps").glob("*.yml"))
    assert examples
    for config in examples:
        _parity(config, corpus_cache, tmp_path / "out")


def test_check_and_build_agree_on_the_lint_rule_configs(corpus_cache: Path,
                                                       tmp_path: Path) -> None:
    from test_lint import CASES

    for index, (_rule, firing, _positions, clean) in enumerate(CASES):
        for kind, text in (("firing", firing), ("clean", clean)):
            config = tmp_path / f"case{index}-{kind}.yml"
            config.write_text(textwrap.dedent(text))
            cache = tmp_path / "cache"
            _fill_for(config, cache)
            _parity(config, cache, tmp_path / "out")


def _fill_for(config: Path, cache: Path) -> None:
    """Stand-ins for the images of one small config."""
    fill_cache(cache, [config], {})


# -- the symptoms that showed the gate was not one thing ---------------------------------------


def _service_cache(tmp_path: Path, label: dict[str, object] | None = None) -> Path:
    cache = tmp_path / "cache"
    add_image(Store(cache), "docker.io/library/app:1", label)
    return cache


def test_an_inline_waiver_of_a_build_error_fails_both(tmp_path: Path) -> None:
    """LK306 cannot be waived: linuxkit fails on the capability whatever the comment says."""
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: app\n    image: app:1\n"
                      "    # lkpolicy: ignore[LK306] reason=\"we need it\"\n"
                      "    capabilities: [CAP_ALL]\n")
    cache = _service_cache(tmp_path)
    _parity(config, cache, tmp_path / "out")
    code, output = invoke("check", "--no-cache", "--cache", str(cache), "--arch", "amd64",
                          str(config))
    assert code == 1 and "LKW006" in output and "LK306" in output


def test_an_inline_waiver_of_a_policy_finding_passes_both(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: app\n    image: app:1\n"
                      "    # lkpolicy: ignore[LKP110] reason=\"needs to mount\"\n"
                      "    capabilities: [CAP_SYS_ADMIN]\n")
    cache = _service_cache(tmp_path)
    policy = tmp_path / "p.yml"
    policy.write_text("extends: []\nrules:\n  LKP110: {severity: error}\n")
    common = ["--cache", str(cache), "--arch", "amd64", "--policy", str(policy)]
    assert invoke("check", "--no-cache", "--no-waivers", *common, str(config))[0] == 1
    assert invoke("check", "--no-cache", *common, str(config))[0] == 0
    code, output = invoke("build", *common, "-f", "tar", "--dir", str(tmp_path / "out"),
                          str(config))
    assert code == 0, output
    assert (tmp_path / "out" / "c.tar").is_file()


def test_a_missing_kernel_or_init_fails_check_as_it_fails_build(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("kernel:\n  image: linuxkit/kernel:6.6\ninit:\n  - linuxkit/init:v1\n"
                      "services:\n  - name: app\n    image: app:1\n")
    cache = _service_cache(tmp_path)
    _parity(config, cache, tmp_path / "out", "--no-waivers")
    lock = tmp_path / "c.lock.json"
    code, output = invoke("check", "--cache", str(cache), "--arch", "amd64", "--lock",
                          str(lock), str(config))
    assert code == 1 and not lock.exists()
    assert "All checks passed" not in output
    assert f"{config}:2:10: error LK401" in output and f"{config}:4:5: error LK401" in output


def test_templates_reach_the_effective_config_and_the_build(tmp_path: Path) -> None:
    """`@x` is "" for linuxkit: in `show`, `show --effective` and the built config.json."""
    config = tmp_path / "c.yml"
    config.write_text('services:\n  - name: app\n    image: app:1\n    command: ["@x", "y"]\n')
    cache = _service_cache(tmp_path)
    code, shown = invoke("show", str(config))
    assert code == 0 and "- \"\"" in shown
    code, effective = invoke("show", "--effective", "-f", "json", "--cache", str(cache),
                             "--arch", "amd64", str(config))
    assert code == 0, effective
    args = json.loads(effective[effective.index("{"):])["containers"][0]["config"]["process"]
    assert args["args"] == ["", "y"]
    out = tmp_path / "out"
    code, output = invoke("build", "--cache", str(cache), "--arch", "amd64", "--policy",
                          str(_open_policy(tmp_path)), "-f", "tar", "--dir", str(out),
                          str(config))
    assert code == 0, output
    import tarfile

    with tarfile.open(out / "c.tar") as archive:
        member = archive.extractfile("containers/services/app/config.json")
        assert member is not None
        assert json.loads(member.read())["process"]["args"] == ["", "y"]


def _open_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "open.yml"
    policy.write_text("extends: []\n")
    return policy


def test_policy_and_diff_read_bind_options_alike(tmp_path: Path) -> None:
    """`ro,rw` is read-write (the last wins): the policy flags the writable bind of /etc."""
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: app\n    image: app:1\n"
                      "    binds:\n      - /etc:/host-etc:ro,rw\n")
    policy = tmp_path / "p.yml"
    policy.write_text("extends: []\nrules:\n  LKP130: {forbidden: [], forbidden_rw: [/etc]}\n")
    code, output = invoke("check", "--no-images", "--no-cache", "--policy", str(policy),
                          str(config))
    assert code == 1 and "binds the host's `/etc` read-write" in output
    config.write_text(config.read_text().replace("ro,rw", "rw,ro"))
    code, output = invoke("check", "--no-images", "--no-cache", "--policy", str(policy),
                          str(config))
    assert code == 0, output


def test_label_warnings_become_findings(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: app\n    image: app:1\n")
    cache = tmp_path / "cache"
    add_image(Store(cache), "docker.io/library/app:1",
              "capabilities: [CAP_CHOWN]\n---\ncapabilities: [CAP_SYS_ADMIN]\n")
    code, output = invoke("check", "--no-cache", "--no-policy", "--cache", str(cache), "--arch",
                          "amd64", "-f", "json", str(config))
    findings = json.loads(output)["findings"]
    assert [(f["rule"], f["line"]) for f in findings] == [("LK407", 3)], output
    assert code == 0


@pytest.mark.parametrize("command", [
    ["check", "--no-images", "--no-cache"], ["show"], ["pin", "--check"],
    ["show", "--effective", "--cache", "CACHE", "--arch", "amd64"],
])
def test_no_command_echoes_terminal_escapes(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "c.yml"
    # YAML's own escape `\e` is how ESC gets into a config (a raw ESC is refused, LK106).
    config.write_text('services:\n  - name: app\n    image: app:1\n'
                      '    sysctl: {"\\e[2Jnet.x": "1\\e]0;pwned\\a"}\n'
                      '    "\\e[2Jbogus": 1\n'
                      '  - name: "two\\e[2J"\n    image: "app:2\\e[2J"\n')
    cache = _service_cache(tmp_path)
    args = [str(cache) if part == "CACHE" else part for part in command]
    _code, output = invoke(*args, str(config))
    assert output and ESC not in output and "\\x1b" in output, output


def test_diff_and_build_do_not_echo_terminal_escapes(tmp_path: Path) -> None:
    old = tmp_path / "old.yml"
    new = tmp_path / "new.yml"
    old.write_text("services:\n  - name: app\n    image: app:1\n")
    new.write_text('services:\n  - name: "app\\e[2J"\n    image: app:1\n'
                   '    capabilities: [CAP_SYS_ADMIN]\n')
    for output_format in ("text", "markdown"):
        _code, output = invoke("diff", "--no-images", "-f", output_format, str(old), str(new))
        assert "CAP_SYS_ADMIN" in output and ESC not in output
    cache = _service_cache(tmp_path)
    _code, output = invoke("build", "--cache", str(cache), "--arch", "amd64", "--policy",
                           str(_open_policy(tmp_path)), "-f", "tar", "--dir",
                           str(tmp_path / "out"), str(new))
    assert output and ESC not in output


def test_build_refuses_an_unknown_format_before_anything(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: app\n    image: app:1\n")
    out = tmp_path / "out"
    code, output = invoke("build", "-f", "bogus", "--dir", str(out), str(config))
    assert code == 2
    assert "unknown format type bogus" in output and "kernel+initrd" in output
    assert not out.exists()


def test_an_image_for_another_platform_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("services:\n  - name: app\n    image: app:1\n")
    cache = _service_cache(tmp_path)
    out = tmp_path / "out"
    common = ["--cache", str(cache), "--arch", "arm64", "--policy", str(_open_policy(tmp_path))]
    code, output = invoke("check", "--no-cache", *common, str(config))
    assert code == 1 and "error LK405" in output and "made for linux/amd64, not for linux/arm64" \
        in output
    code, output = invoke("build", *common, "-f", "tar", "--dir", str(out), str(config))
    assert code == 1 and "LK405" in output and not out.exists()


def test_trust_inspect_does_not_echo_terminal_escapes(tmp_path: Path) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text('extends: []\ntrust:\n  authorities:\n'
                      '    "a\\e[2J": {type: cosign-key, keys: [k.pub]}\n')
    _code, output = invoke("trust", "inspect", "--policy", str(policy), "alpine:3")
    assert "LKP002" in output and ESC not in output and "\\x1b" in output
    policy.write_text("extends: []\ntrust:\n  authorities:\n    k: {type: cosign-key, keys: [k.pub]}\n")
    _code, output = invoke("trust", "inspect", "--policy", str(policy), f"alp{ESC}[2Jine:3")
    assert output and ESC not in output
