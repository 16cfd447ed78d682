"""The options of `lkpolicy` itself, before any command: `--version`.

`root` is the application's callback (`app.callback()(root)`); it lives in a module of its own
so that its annotations resolve wherever the application is built.
"""

from __future__ import annotations

from typing import Annotated

import typer


def version_text() -> str:
    """`lkpolicy VERSION`: the version the wheel, `--version` and the SARIF driver share
    (`lkpolicy.__version__`, which pyproject.toml reads for the package metadata)."""
    from lkpolicy import __version__

    return f"lkpolicy {__version__}\n"


def _print_version(value: bool) -> None:
    if value:
        import sys

        sys.stdout.write(version_text())
        raise typer.Exit()


def root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """The security gate in front of `linuxkit build`: lint, policy, trust and build."""
