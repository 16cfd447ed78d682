"""`lkpolicy build`: the gate, then linuxkit's build of exactly the digests that passed it.

There is no option to skip the check: a build that did not pass the gate is not built.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lkpolicy import __version__
from lkpolicy.model.findings import ExitCode, Finding, InputError, Severity

if TYPE_CHECKING:
    from pathlib import Path

    from lkpolicy.gate.run import CheckResult
    from lkpolicy.model.config import Config


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
    arch: Annotated[str | None, typer.Option(
        "--arch", help="Architecture to build for (amd64, arm64...); default: this machine's.",
        show_default=False)] = None,
    lock: Annotated[str | None, typer.Option(
        "--lock", help="Build the digests of this lock (from `lkpolicy check --lock`); the "
                       "build fails if the config no longer matches it.",
        show_default=False)] = None,
    cache: Annotated[str | None, typer.Option(
        "--cache", help="Image cache; default: $LINUXKIT_CACHE, else ~/.linuxkit/cache.",
        show_default=False)] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Policy file for the gate (default: discovered, as in check).",
        show_default=False)] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Verify signatures from the trust cache only. (Images always come "
                          "from the image cache: the build never pulls.)")] = False,
    compression_level: Annotated[int, typer.Option(
        "--compression-level", min=1, max=9,
        help="gzip level of the initrd: 1 is fastest (multi-threaded), 9 the smallest.")] = 1,
    verify_reproducible: Annotated[bool, typer.Option(
        "--verify-reproducible", help="Build twice and compare every output byte for byte "
                                      "before writing them.")] = False,
) -> None:
    """Check the configs, then build them from the image cache (never from the network)."""
    from lkpolicy.assemble import FormatUnavailable, check_formats
    from lkpolicy.gate.run import PolicyChoice, run_check
    from lkpolicy.stages.imageoptions import ImageOptions

    try:  # formats and their tools first: a usage problem should not wait for the gate
        formats = check_formats(output_format or ["kernel+initrd"], arch)
    except FormatUnavailable as error:
        _say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.USAGE) from None

    paths = list(files)
    images = ImageOptions(cache=cache, arch=arch)
    result = run_check(paths, merge_files=True, use_cache=False, images=images,
                       policy=PolicyChoice(policy, offline=offline))
    if result.unreadable:
        _report(result)
        raise typer.Exit(ExitCode.USAGE)
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    if errors:
        _report(result)
        _say(f"lkpolicy build: the gate failed with {len(errors)} error(s); nothing was built")
        raise typer.Exit(ExitCode.FINDINGS)
    group = result.groups[0]
    assert group.config is not None
    config = group.config
    cache_dir = images.cache_dir()
    platform_name = _platform(arch)
    evidence = group.trust.evidence if group.trust is not None else None
    digests = _digests(lock, config, paths, cache_dir, platform_name, evidence)
    records = [{"image": image, **item} for image, items in sorted((evidence or {}).items())
               for item in items]
    _build(config, cache_dir, platform_name, formats, directory,
           name or config.name, digests, records, verify_reproducible, compression_level)


def _digests(lock_path: str | None, config: Config, paths: list[str], cache_dir: Path,
             platform: str, evidence: dict[str, list[dict[str, Any]]] | None) -> dict[str, str]:
    from lkpolicy.gate.lock import check_matches, create_lock, load_lock

    try:
        if lock_path is not None:
            lock = load_lock(lock_path)
            stale = check_matches(lock, config, paths, lock_path)
            if stale:
                _print_findings(stale)
                _say("lkpolicy build: the config does not match the lock; nothing was built")
                raise typer.Exit(ExitCode.FINDINGS)
            return lock.digests
        # Without a lock, the digests are fixed now, right after the gate passed.
        created, problems = create_lock(config, paths, cache_dir, platform, evidence)
    except InputError as error:
        _print_findings(error.findings)
        raise typer.Exit(ExitCode.USAGE) from None
    if created is None:
        _print_findings(problems)
        raise typer.Exit(ExitCode.FINDINGS)
    return created.digests


def _build(config: Config, cache_dir: Path, platform_name: str, formats: list[str],
           directory: str, name: str, digests: dict[str, str],
           evidence: list[dict[str, Any]], verify: bool, level: int) -> None:
    from lkpolicy.assemble import (
        BuildError,
        BuildOptions,
        FormatUnavailable,
        build_outputs,
        verify_reproducible,
    )
    from lkpolicy.model.oci import Platform
    from lkpolicy.store import Store

    platform = Platform.parse(platform_name)
    store = Store(cache_dir)
    options = BuildOptions(progress=_say, compression_level=level)
    try:
        os.makedirs(directory, exist_ok=True)
        if verify:
            report = verify_reproducible(config, store, formats, name, platform=platform,
                                         digests=digests, evidence=evidence,
                                         work_dir=directory, options=options)
            if not report.identical:
                for line in report.differences:
                    _say(f"lkpolicy build: not reproducible: {line}")
                raise typer.Exit(ExitCode.FINDINGS)
            _say(f"lkpolicy build: two builds are byte-identical ({len(report.files)} files)")
        written = build_outputs(config, store, formats, directory, name, platform=platform,
                                digests=digests, options=options, evidence=evidence).files
    except FormatUnavailable as error:
        _say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.USAGE) from None
    except BuildError as error:
        _say(f"lkpolicy build: {error}")
        raise typer.Exit(ExitCode.FINDINGS) from None
    except OSError as error:
        _say(f"lkpolicy build: {error.filename or directory}: {error.strerror or error}")
        raise typer.Exit(ExitCode.USAGE) from None
    for path in written:
        typer.echo(str(path))


def _platform(arch: str | None) -> str:
    if arch:
        return f"linux/{arch}"
    from lkpolicy.store import host_platform

    return str(host_platform())


def _report(result: CheckResult) -> None:
    from lkpolicy.report import Report, render

    report = Report(findings=result.findings, documents=result.documents, files=result.files,
                    tool_version=__version__)
    sys.stderr.write(render("text", report, color=False))


def _print_findings(findings: list[Finding]) -> None:
    for finding in findings:
        _say(f"{finding.location}: {finding.severity.label} {finding.rule_id} {finding.message}")


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
