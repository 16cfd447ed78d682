"""`lkpolicy check FILE...` (with options that take no value) runs without building the command
line; it must do exactly what the `check` command does for the same arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main

from lkpolicy.cli import command_line, is_plain_check
from lkpolicy.cli.running import PLAIN_FLAGS

ROOT = Path(__file__).resolve().parent.parent
TYPER = ("import sys\n"
         "from lkpolicy.cli import command_line\n"
         "command_line()(sys.argv[1:], prog_name='lkpolicy')\n")


def test_plain_flags_are_the_options_of_check_that_take_no_value() -> None:
    group = typer.main.get_command(command_line())
    assert isinstance(group, click.Group)
    command = group.get_command(click.Context(group), "check")
    assert command is not None
    options = [param for param in command.params if isinstance(param, click.Option)]
    flags = {name: param.name for param in options if param.is_flag for name in param.opts}
    assert flags == PLAIN_FLAGS
    assert all(param.default is False and not param.secondary_opts
               for param in options if param.is_flag)


def run(arguments: list[str], cache: Path, *, plain: bool) -> tuple[int, str, str]:
    command = ([sys.executable, "-m", "lkpolicy", *arguments] if plain
               else [sys.executable, "-c", TYPER, *arguments])
    env = {**os.environ, "LKPOLICY_CACHE_DIR": str(cache)}
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
    return completed.returncode, completed.stdout, completed.stderr


@pytest.mark.parametrize("arguments", [
    ["check", "examples/minimal.yml"],
    ["check", "--no-cache", "examples/traps/silent-traps.yml", "--no-policy"],
    ["check", "examples/traps", "--no-images", "--no-waivers"],
    ["check", "--merge", "--offline", "examples/minimal.yml", "examples/boot.yml"],
    ["check", "--no-cache", "--no-cache", "missing.yml", "examples/traps/schema-errors.yml"],
])
def test_the_plain_path_does_what_the_command_does(arguments: list[str], tmp_path: Path) -> None:
    assert is_plain_check(arguments)
    typer_run = run(arguments, tmp_path / "typer", plain=False)
    plain_run = run(arguments, tmp_path / "plain", plain=True)
    assert plain_run == typer_run
    assert typer_run[0] in (1, 2) and typer_run[1]
    # Again, answered from the result cache this time where it is on.
    assert run(arguments, tmp_path / "plain", plain=True) == typer_run


@pytest.mark.parametrize("arguments", [
    ["check"], ["check", "--no-cach", "a.yml"], ["check", "-", "--no-cache"],
    ["check", "--format", "json", "a.yml"], ["check", "--", "a.yml"], ["show", "a.yml"],
    ["check", "--no-cache"], ["check", "a.yml", "--help"],
])
def test_anything_else_goes_to_the_command_line(arguments: list[str]) -> None:
    assert not is_plain_check(arguments)


def test_each_flag_changes_what_the_plain_path_does(tmp_path: Path) -> None:
    config = tmp_path / "waived.yml"
    config.write_text("onboot:\n  - name: a\n    image: linuxkit/a:v1  "
                      "# lkpolicy: ignore[LKP101] reason=\"vendored\" expires=2999-01-01\n")
    base = ["check", str(config)]
    outputs = {}
    for flag in ["", *PLAIN_FLAGS]:
        arguments = [*base, flag] if flag else base
        typer_run = run(arguments, tmp_path / "typer", plain=False)
        assert run(arguments, tmp_path / "plain", plain=True) == typer_run, flag
        outputs[flag] = typer_run
    # The flags that matter for this one file each change the result.
    for flag in ("--no-images", "--no-policy", "--no-waivers"):
        assert outputs[flag] != outputs[""], flag


def test_fix_and_diff_on_the_plain_path_do_what_the_command_does(tmp_path: Path) -> None:
    config = tmp_path / "fixable.yml"
    text = ("onboot:\n  - name: a   # kept\n    image: linuxkit/a:v1\n    ipc: none\n"
            "files:\n  - path: etc/motd\n    contents: hi\n    mode: 0644\n")

    def fresh_run(flags: list[str], plain: bool) -> tuple[tuple[int, str, str], str]:
        config.write_text(text, encoding="utf-8")
        arguments = ["check", *flags, "--no-images", "--no-policy", str(config)]
        assert is_plain_check(arguments)
        result = run(arguments, tmp_path / ("plain" if plain else "typer"), plain=plain)
        return result, config.read_text(encoding="utf-8")

    runs = {}
    for name, flags in {"--diff": ["--diff"], "--fix": ["--fix"],
                        "both": ["--fix", "--diff"]}.items():
        runs[name] = fresh_run(flags, plain=True)
        assert runs[name] == fresh_run(flags, plain=False), name
    (code, out, _err), after = runs["--diff"]
    assert code == 1 and "+    ipc: new" in out and after == text
    (code, _out, err), after = runs["--fix"]
    assert code == 0 and "fixed 2 findings in 1 file" in err
    assert after == text.replace("ipc: none", "ipc: new").replace("0644", '"0644"')
    (code, _out, err), _after = runs["both"]
    assert code == 2 and "cannot be combined with --fix" in err
