"""`lkpolicy diff`: the security-relevant changes between two versions of a config."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from lkpolicy.cli.common import ArchOption, CacheOption, emit, image_options, printer, usage_error
from lkpolicy.model.findings import ExitCode, InputError

if TYPE_CHECKING:
    from lkpolicy.model.config import Config
    from lkpolicy.stages.containers import Container


class DiffFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def diff(
    sources: Annotated[list[str], typer.Argument(
        help="OLD NEW, each a file or REV:path (git's syntax); with --git, only FILE.",
        show_default=False, metavar="OLD NEW | FILE")],
    git: Annotated[str | None, typer.Option(
        "--git", metavar="REV",
        help="Compare FILE at git revision REV (old) with FILE in the working tree (new).",
        show_default=False)] = None,
    output_format: Annotated[DiffFormat, typer.Option(
        "--format", "-f", help="Output format (markdown is meant for a PR comment).")] = DiffFormat.text,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the report to this file instead of standard output.")] = None,
    no_images: Annotated[bool, typer.Option(
        "--no-images", help="Compare the YAML only, even when the images are in the cache.")] = False,
    cache: CacheOption = None,
    arch: ArchOption = None,
) -> None:
    """List security-relevant changes between two versions of a LinuxKit config.

    Exit code: 0 when no change increases the risk (risk-reducing and neutral changes may be
    listed), 1 when at least one does (high, medium or low), 2 when an input cannot be read.
    """
    from lkpolicy.tools.diff.compare import run_diff, yaml_containers
    from lkpolicy.tools.diff.model import DiffError
    from lkpolicy.tools.diff.render import render
    from lkpolicy.tools.diff.sources import Source, git_worktree_path, parse_source

    try:
        if git is not None:
            if len(sources) != 1:
                _fail("--git REV takes exactly one FILE")
            path = sources[0]
            old, new = Source(git_worktree_path(path), git), Source(path)
        else:
            if len(sources) != 2:
                _fail("expected OLD and NEW (or --git REV FILE)")
            old, new = parse_source(sources[0]), parse_source(sources[1])
        containers_of = yaml_containers if no_images else _with_images(cache, arch)
        result = run_diff(old, new, containers_of=containers_of)
    except DiffError as error:
        _fail(str(error))
    except InputError as error:
        printer().findings(error.findings)
        raise typer.Exit(ExitCode.USAGE) from None
    emit(render(output_format.value, result), output)
    raise typer.Exit(result.exit_code)


def _with_images(cache: str | None, arch: str | None) -> Callable[[Config], list[Container]]:
    options = image_options(cache, arch)

    def containers_of(config: Config) -> list[Container]:
        from lkpolicy.stages.containers import effective_configs
        from lkpolicy.stages.images import resolve_images

        return effective_configs(config, resolve_images(config, options))[0]

    return containers_of


def _fail(message: str) -> NoReturn:
    usage_error(f"diff: {message}")
