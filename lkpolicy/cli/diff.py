"""`lkpolicy diff`: the security-relevant changes between two versions of a config."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from lkpolicy.model.findings import ExitCode, InputError

if TYPE_CHECKING:
    from lkpolicy.model.config import Config
    from lkpolicy.stages.effective import Effective


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
    cache: Annotated[str | None, typer.Option(
        "--cache", help="Image cache (default: $LINUXKIT_CACHE, else ~/.linuxkit/cache).",
        show_default=False)] = None,
    arch: Annotated[str | None, typer.Option(
        "--arch", help="Architecture whose images are compared (default: this machine's).",
        show_default=False)] = None,
) -> None:
    """List security-relevant changes between two versions of a LinuxKit config.

    Exit code: 0 when no change increases the risk (risk-reducing and neutral changes may be
    listed), 1 when at least one does (high, medium or low), 2 when an input cannot be read.
    """
    from lkpolicy.tools.diff import (
        DiffError,
        Source,
        git_worktree_path,
        parse_source,
        render,
        run_diff,
    )

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
        effective_of = None if no_images else _effective_provider(cache, arch)
        result = run_diff(old, new, effective_of=effective_of)
    except DiffError as error:
        _fail(str(error))
    except InputError as error:
        for finding in error.findings:
            sys.stderr.write(f"{finding.location}: error: {finding.message}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    text = render(output_format.value, result)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        from lkpolicy.safeio import atomic_write_text

        atomic_write_text(output, text)
    raise typer.Exit(result.exit_code)


def _effective_provider(cache: str | None, arch: str | None) -> Callable[[Config], Mapping[tuple[str, str], Effective] | None]:
    from lkpolicy.store.location import ImageOptions

    options = ImageOptions(cache=cache, arch=arch)

    def effective_of(config: Config) -> Mapping[tuple[str, str], Effective] | None:
        from lkpolicy.stages.images import resolve_images

        stage = resolve_images(config, options)
        found = {(c.section, c.name): c.effective for c in stage.containers
                 if c.effective is not None and c.name}
        return found or None

    return effective_of


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"lkpolicy diff: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(ExitCode.USAGE)
