"""`--help` as click writes it, without the backslashes typer adds for rich.

typer escapes the `[required]` and `[default: ...]` it appends to a parameter's help for rich's
markup whenever rich is installed, even when the application has rich render nothing
(`rich_markup_mode=None`, as lkpolicy has it: plain help and one-line errors), so every
`--help` showed `\\[required]`. lkpolicy's commands write their help with `PlainHelpFormatter`,
which takes exactly that escaping back out of the parameter lists; nothing else of the help
changes. (When typer stops escaping, the formatter finds nothing to undo.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import click

_RICH_ESCAPED = re.compile(r"\\(\[[a-z#/@][^\[]*?\])")
"""A `[tag]` that rich's `escape` prefixed with a backslash (its own pattern: a `[` followed
by a lowercase letter, `#`, `/` or `@`, up to the next `]`)."""


def unescape(text: str) -> str:
    return _RICH_ESCAPED.sub(r"\1", text)


class PlainHelpFormatter(click.HelpFormatter):
    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30,
                 col_spacing: int = 2) -> None:
        super().write_dl([(term, unescape(text)) for term, text in rows], col_max, col_spacing)


class PlainHelpContext(click.Context):
    formatter_class = PlainHelpFormatter


def use_plain_help(command: click.Command) -> None:
    """`command`, and every command under it, writes its help with `PlainHelpFormatter`."""
    command.context_class = PlainHelpContext
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            use_plain_help(subcommand)
