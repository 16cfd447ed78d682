"""The command line: one thin module per command. Stage modules are imported inside the
commands, because `check` runs on every commit and pays for every import."""

from __future__ import annotations

import os
import sys

import typer

from lkpolicy.model.findings import ExitCode

app = typer.Typer(
    name="lkpolicy",
    help="The security gate in front of `linuxkit build`: lint, policy, trust and build.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register() -> None:
    from lkpolicy.cli.build import build
    from lkpolicy.cli.cache import cache_app
    from lkpolicy.cli.check import check
    from lkpolicy.cli.diff import diff
    from lkpolicy.cli.pin import pin
    from lkpolicy.cli.root import root
    from lkpolicy.cli.rules import explain, rules, schema, version
    from lkpolicy.cli.show import show
    from lkpolicy.cli.trust import trust_app
    from lkpolicy.cli.verify import verify_build

    app.callback()(root)  # `--version`
    for command in (check, show, schema, explain, rules, build, pin, diff):
        app.command(name=command.__name__)(command)
    app.add_typer(cache_app, name="cache", help="The local image store, shared with linuxkit.")
    app.add_typer(trust_app, name="trust", help="What the trust authorities say about images.")
    app.command(name="version")(version)
    app.command(name="verify-build")(verify_build)


_register()


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        # `lkpolicy show x.yml | head` must not print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.CLEAN)
    except KeyboardInterrupt:
        sys.stderr.write("lkpolicy: interrupted\n")
        sys.exit(130)
