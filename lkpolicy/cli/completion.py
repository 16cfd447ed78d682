"""Shell completion: `lkpolicy completion SHELL` prints the script that a shell sources, and
`answer` replies to the requests that script makes (`lkpolicy` run with `_LKPOLICY_COMPLETE`
set), with click's completion: commands, options, choices and file names.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from lkpolicy.cli.common import emit

COMPLETE_VAR = "_LKPOLICY_COMPLETE"
"""Set by the completion scripts to `SHELL_complete` (click's instruction) for a request."""
PROG_NAME = "lkpolicy"


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(
        help="The shell to complete in.", show_default=False)]) -> None:
    """Print the shell completion script for SHELL. Load it from the shell's start-up file:
    bash: `eval "$(lkpolicy completion bash)"` in ~/.bashrc (bash 4.4 or later); zsh:
    `eval "$(lkpolicy completion zsh)"` in ~/.zshrc; fish: `lkpolicy completion fish >
    ~/.config/fish/completions/lkpolicy.fish`."""
    from click.shell_completion import get_completion_class

    script_class = get_completion_class(shell.value)
    assert script_class is not None  # click knows bash, zsh and fish
    emit(script_class(_root_command(), {}, PROG_NAME, COMPLETE_VAR).source() + "\n", None)


def answer(instruction: str) -> int:
    """Reply to one completion request (`bash_complete`, `zsh_complete`, `fish_complete`),
    reading the words from the environment as the script passes them; the exit code."""
    from click.shell_completion import shell_complete

    return shell_complete(_root_command(), {}, PROG_NAME, COMPLETE_VAR, instruction)


def _root_command() -> typer.core.TyperGroup:
    import typer.main

    from lkpolicy.cli import command_line

    command = typer.main.get_command(command_line())
    assert isinstance(command, typer.core.TyperGroup)
    return command
