"""The command line: one thin module per command, each imported only when its command runs
(`check` runs on every commit and pays for every import).

`lkpolicy check FILE...`, the pre-commit and CI line (also with the options of `check` that
take no value, such as `--no-cache`), does not even build the command line: `main` hands it to
`running.plain_check`, which runs exactly what the `check` command runs for those arguments.
Importing typer and click and building their objects costs more than answering such a check
from the result cache.
"""

from __future__ import annotations

import gc
import os
import sys
from functools import cache
from typing import TYPE_CHECKING

from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    import click
    import typer


_COMMANDS = {
    "check": ("lkpolicy.cli.check", "check", None),
    "show": ("lkpolicy.cli.show", "show", None),
    "schema": ("lkpolicy.cli.rules", "schema", None),
    "explain": ("lkpolicy.cli.rules", "explain", None),
    "rules": ("lkpolicy.cli.rules", "rules", None),
    "build": ("lkpolicy.cli.build", "build", None),
    "pin": ("lkpolicy.cli.pin", "pin", None),
    "diff": ("lkpolicy.cli.diff", "diff", None),
    "version": ("lkpolicy.cli.rules", "version", None),
    "completion": ("lkpolicy.cli.completion", "completion", None),
    "verify-build": ("lkpolicy.cli.verify", "verify_build", None),
    "cache": ("lkpolicy.cli.cache", "cache_app", "The local image store, shared with linuxkit."),
    "trust": ("lkpolicy.cli.trust", "trust_app", "What the trust authorities say about images."),
}
"""Every command, in the order `--help` lists them: (module, attribute, help). A group of
commands (a `typer.Typer`) gets the help shown in `lkpolicy --help` and its own `--help`."""

_SETTINGS = {"add_completion": False, "pretty_exceptions_enable": False, "rich_markup_mode": None}


@cache
def command_line() -> typer.Typer:
    """The typer application of every command (`lkpolicy.cli.app`), built on first use."""
    import typer
    from typer.core import TyperGroup

    from lkpolicy.cli.helptext import PlainHelpContext

    class LazyGroup(TyperGroup):
        """Lists every command, but imports a command's module only when it is looked up."""

        context_class = PlainHelpContext

        def list_commands(self, ctx: click.Context) -> list[str]:
            return list(_COMMANDS)

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            if cmd_name not in self.commands and cmd_name in _COMMANDS:
                self.commands[cmd_name] = _load_command(cmd_name)
            return self.commands.get(cmd_name)

        def resolve_command(self, ctx: click.Context, args: list[str]
                            ) -> tuple[str | None, click.Command | None, list[str]]:
            if args and args[0] not in _COMMANDS:
                # typer's "Did you mean ...?" looks at the loaded commands: load them all.
                for name in _COMMANDS:
                    self.get_command(ctx, name)
            return super().resolve_command(ctx, args)

    built = typer.Typer(
        name="lkpolicy",
        help="The security gate in front of `linuxkit build`: lint, policy, trust and build.",
        no_args_is_help=True, cls=LazyGroup, **_SETTINGS)  # type: ignore[arg-type]

    from lkpolicy.cli.root import root

    built.callback()(root)  # `--version`
    return built


def _load_command(name: str) -> click.Command:
    import importlib

    import typer
    import typer.main

    from lkpolicy.cli.helptext import use_plain_help

    module, attribute, group_help = _COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
        command.help = group_help
    else:
        single = typer.Typer(**_SETTINGS)  # type: ignore[arg-type]
        single.command(name=name)(target)
        command = typer.main.get_command(single)
    command.name = name
    use_plain_help(command)
    return command


def __getattr__(name: str) -> typer.Typer:
    # `lkpolicy.cli.app` without building it at import: a plain check does not need it.
    if name == "app":
        return command_line()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_plain_check(arguments: list[str]) -> bool:
    """`check` followed by file names and options that take no value (`running.PLAIN_FLAGS`)."""
    from lkpolicy.cli.running import PLAIN_FLAGS

    if len(arguments) < 2 or arguments[0] != "check":
        return False
    files = [argument for argument in arguments[1:] if argument not in PLAIN_FLAGS]
    return bool(files) and not any(argument.startswith("-") for argument in files)


def main() -> None:
    arguments = sys.argv[1:]
    try:
        instruction = os.environ.get("_LKPOLICY_COMPLETE")
        if instruction:  # a request from the completion script (`lkpolicy completion`)
            from lkpolicy.cli.completion import answer

            sys.exit(answer(instruction))
        if is_plain_check(arguments):
            from lkpolicy.cli.running import plain_check

            # A check is short, and reference counting frees its garbage (a run over the whole
            # corpus peaks 10% higher without the collector): the cyclic collector would only
            # rescan the objects start-up creates, about 5% of a check's time.
            gc.disable()
            sys.exit(plain_check(arguments[1:]))
        command_line()()
    except BrokenPipeError:
        # `lkpolicy show x.yml | head` must not print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.CLEAN)
    except KeyboardInterrupt:
        sys.stderr.write("lkpolicy: interrupted\n")
        sys.exit(130)
