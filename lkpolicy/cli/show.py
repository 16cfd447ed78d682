"""`lkpolicy show`: the merged config as `linuxkit build --dry-run` prints it, or each
container's effective config (`--effective`) as the gate computed it."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from lkpolicy.cli.check import FilesArgument
from lkpolicy.cli.common import (
    ArchOption,
    CacheOption,
    ColorChoice,
    ColorOption,
    emit,
    image_options,
    report_to_stderr,
    usage_error,
)
from lkpolicy.model.findings import ExitCode, Severity


class ShowFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"


def show(
    files: FilesArgument,
    output_format: Annotated[ShowFormat, typer.Option(
        "--format", "-f", help="Output format.")] = ShowFormat.yaml,
    effective: Annotated[bool, typer.Option(
        "--effective", help="Print each container's config.json and runtime.json as linuxkit "
                            "writes them (YAML merged with the image label), marking where each "
                            "value came from.")] = False,
    cache: CacheOption = None,
    arch: ArchOption = None,
    color: ColorOption = ColorChoice.auto,
) -> None:
    """Print the merged config, as `linuxkit build --dry-run` does."""
    from lkpolicy.gate.gate import expand_paths
    from lkpolicy.gate.options import GateOptions, UsageError
    from lkpolicy.gate.unit import judge_unit, load_unit

    try:
        paths = expand_paths(files)
    except UsageError as error:
        usage_error(str(error))
    documents: dict = {}  # type: ignore[type-arg]
    if effective:
        unit = judge_unit(paths, documents, GateOptions(images=image_options(cache, arch)))
    else:
        unit = load_unit(paths, documents)
    errors = [f for f in unit.findings if f.severity is Severity.ERROR]
    shown = errors if not effective else [f for f in errors if f.rule_id.startswith("LK4")]
    if unit.config is None or (errors and not effective) or shown:
        report_to_stderr(shown or unit.findings, documents, paths, color=color.value)
        if unit.config is None or not effective:
            raise typer.Exit(ExitCode.USAGE if unit.unreadable else ExitCode.FINDINGS)
    if effective:
        from lkpolicy.tools.showeffective import render_effective

        emit(render_effective(unit.containers, output_format.value), None)
        failed = shown or any(c.error is not None for c in unit.containers)
        raise typer.Exit(ExitCode.FINDINGS if failed else ExitCode.CLEAN)
    from lkpolicy.model.gomodel import go_model, render_json, render_yaml

    assert unit.config is not None
    model = go_model(unit.config)
    emit(render_json(model) if output_format is ShowFormat.json else render_yaml(model), None)
