"""`lkpolicy build`: the gate, then linuxkit's build of exactly what passed it.

There is no option to skip the gate, and the build decides nothing itself: it builds the
images and container configs that the gate resolved and judged, or nothing.
"""

from __future__ import annotations

import contextlib
import enum
import os
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy.cli.common import (
    ArchOption,
    BaselineOption,
    CacheOption,
    FailOn,
    IgnoreOption,
    NoWaiversOption,
    OfflineOption,
    PolicyOption,
    SelectOption,
    gate_options,
    printer,
    run_gate_or_exit,
    usage_error,
)
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.assemble import BuildOptions
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.gate.gate import Gate
    from lkpolicy.gate.unit import GateUnit


class BuildFailOn(enum.StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


def build(
    files: Annotated[list[str], typer.Argument(help="LinuxKit configs, merged in order.",
                                               show_default=False)],
    output_format: Annotated[list[str] | None, typer.Option(
        "--format", "-f", help="Output format (repeatable or comma-separated; default "
                               "kernel+initrd).", show_default=False)] = None,
    directory: Annotated[str, typer.Option("--dir", help="Output directory.")] = ".",
    name: Annotated[str | None, typer.Option(
        "--name", help="Output base name; default: the last config's file name without "
                       "extension.", show_default=False)] = None,
    arch: ArchOption = None,
    lock: Annotated[str | None, typer.Option(
        "--lock", help="Build only if the gate resolves every image to the digest of this "
                       "lock (from `lkpolicy check --lock`) and the configs are unchanged.",
        show_default=False)] = None,
    cache: CacheOption = None,
    policy: PolicyOption = None,
    offline: OfflineOption = False,
    fail_on: Annotated[BuildFailOn, typer.Option(
        help="Lowest severity that stops the build, as `check --fail-on`.")] = BuildFailOn.error,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    baseline: BaselineOption = None,
    no_waivers: NoWaiversOption = False,
    compression_level: Annotated[int, typer.Option(
        "--compression-level", min=1, max=9,
        help="gzip level of the initrd: 1 is fastest (multi-threaded), 9 the smallest.")] = 1,
    verify_reproducible: Annotated[bool, typer.Option(
        "--verify-reproducible", help="Build twice and compare every output byte for byte "
                                      "before writing them.")] = False,
    max_expanded_size: Annotated[str | None, typer.Option(
        "--max-expanded-size", help="Most bytes the layers of all images may decompress to "
                                    "(K, M, G, T suffixes; default 8G); more is refused as a "
                                    "decompression bomb.", show_default=False)] = None,
    max_entries: Annotated[int | None, typer.Option(
        "--max-entries", min=1, help="Most tar entries in the layers of all images (default "
                                     "1000000).", show_default=False)] = None,
    max_expansion_ratio: Annotated[int | None, typer.Option(
        "--max-expansion-ratio", min=1,
        help="Most decompressed bytes per compressed byte of a layer, past its first 64 MiB "
             "(default 100).", show_default=False)] = None,
) -> None:
    """Run the gate on the configs, then build exactly what passed it, from the image cache
    (never from the network)."""
    from lkpolicy.assemble import FormatUnavailable, Limits, check_formats
    from lkpolicy.assemble.flatten import parse_size

    try:  # formats, --arch and tools first: a usage problem should not wait for the gate
        formats = check_formats(output_format or ["kernel+initrd"], arch)
        chosen = {"max_expanded_bytes": None if max_expanded_size is None
                  else parse_size(max_expanded_size),
                  "max_entries": max_entries, "max_ratio": max_expansion_ratio}
        limits = Limits(**{key: value for key, value in chosen.items() if value is not None})
    except FormatUnavailable as error:
        usage_error(str(error))
    except ValueError as error:
        usage_error(f"--max-expanded-size: {error}")
    options = gate_options(
        merge=True, cache=cache, arch=arch, policy=policy, offline=offline,
        no_waivers=no_waivers, select=select, ignore=ignore, baseline=baseline,
        fail_on=FailOn(fail_on.value), use_result_cache=False)
    gate = run_gate_or_exit(files, options)
    if not gate.passed:
        _report(gate)
        errors = sum(1 for f in gate.findings if options.fail_on and f.severity >= options.fail_on)
        if gate.exit_code == ExitCode.FINDINGS:
            printer().err(f"lkpolicy build: the gate failed with {errors} finding(s) at or "
                          f"above {fail_on.value}; nothing was built")
        raise typer.Exit(gate.exit_code)
    unit = gate.single_unit()
    if lock is not None:
        _check_lock(unit, lock)
    assert unit.config is not None
    from lkpolicy.assemble import BuildOptions
    from lkpolicy.gate.plan import build_plan

    _build(unit, build_plan(unit), formats, directory, name or unit.config.name,
           verify_reproducible, BuildOptions(progress=printer().err,
                                             compression_level=compression_level, limits=limits))


def _check_lock(unit: GateUnit, path: str) -> None:
    from lkpolicy.gate.lock import check_matches, load_lock
    from lkpolicy.model.findings import InputError

    try:
        stale = check_matches(load_lock(path), unit, path)
    except InputError as error:
        printer().findings(error.findings)
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as error:
        usage_error(f"cannot read a config to compare with the lock: {error.strerror or error}")
    if stale:
        printer().findings(stale)
        printer().err("lkpolicy build: the gate's images are not the ones that passed it when "
                      "the lock was written; nothing was built")
        raise typer.Exit(ExitCode.FINDINGS)


def _build(unit: GateUnit, plan: BuildPlan, formats: list[str], directory: str, name: str,
           verify: bool, options: BuildOptions) -> None:
    from lkpolicy.assemble import (
        BuildError,
        FormatUnavailable,
        build_outputs,
        verify_reproducible,
    )

    assert unit.config is not None
    say = printer().err
    created = not os.path.isdir(directory)
    try:
        os.makedirs(directory, exist_ok=True)
        if verify:
            report = verify_reproducible(unit.config, plan, formats, name, work_dir=directory,
                                         options=options)
            if not report.identical:
                for line in report.differences:
                    say(f"lkpolicy build: not reproducible: {line}")
                raise typer.Exit(ExitCode.FINDINGS)
            say(f"lkpolicy build: two builds are byte-identical ({len(report.files)} files)")
        written = build_outputs(unit.config, plan, formats, directory, name,
                                options=options).files
    except FormatUnavailable as error:
        _remove_if_empty(directory, created)
        say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.USAGE) from None
    except BuildError as error:
        _remove_if_empty(directory, created)
        say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.FINDINGS) from None
    except OSError as error:
        _remove_if_empty(directory, created)
        say(f"lkpolicy build: {error.filename or directory}: {error.strerror or error}")
        raise typer.Exit(ExitCode.USAGE) from None
    except typer.Exit:
        _remove_if_empty(directory, created)
        raise
    for path in written:
        printer().out(str(path))


def _remove_if_empty(directory: str, created: bool) -> None:
    """A failed build leaves no directory it created; a non-empty one is not ours to remove."""
    if created:
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def _report(gate: Gate) -> None:
    import sys

    from lkpolicy import __version__
    from lkpolicy.report import Report, render

    report = Report(findings=gate.findings, documents=gate.documents, files=gate.files,
                    tool_version=__version__)
    sys.stderr.write(render("text", report, color=False))
