"""`lkpolicy check`: run the gate and render its verdict; with `--lock`, also write the
digests that passed it."""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy.cli.common import (
    ArchOption,
    AtOption,
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
    render_gate,
    usage_error,
)
from lkpolicy.cli.running import run_check
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.gate.gate import Gate


class CheckFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


FilesArgument = Annotated[
    list[str],
    typer.Argument(help="LinuxKit YAML configs; directories are searched for *.yml and *.yaml.",
                   show_default=False),
]


def check(
    files: FilesArgument,
    output_format: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="Output format.")] = CheckFormat.text,
    fail_on: Annotated[FailOn, typer.Option(
        help="Lowest severity that makes the exit code 1.")] = FailOn.error,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Merge all files into one config, as `linuxkit build a.yml b.yml` does "
                        "(default: each file is checked on its own).")] = False,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the report to this file instead of standard output.")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not use or update the per-file result cache "
                           "(~/.cache/lkpolicy; also LKPOLICY_NO_CACHE=1).")] = False,
    cache: CacheOption = None,
    arch: ArchOption = None,
    no_images: Annotated[bool, typer.Option(
        "--no-images", help="Skip the image cache: judge the YAML alone (labels are not "
                            "merged; nothing says the images exist). For a lint-only hook.")] = False,
    policy: PolicyOption = None,
    no_policy: Annotated[bool, typer.Option(
        "--no-policy", help="Lint only: skip the policy and trust stages.")] = False,
    lock: Annotated[str | None, typer.Option(
        "--lock", help="When the gate passes, write the digests of every image (resolved once, "
                       "from the image cache) to this lock file for `lkpolicy build --lock`.",
        show_default=False)] = None,
    offline: OfflineOption = False,
    no_waivers: NoWaiversOption = False,
    at: AtOption = None,
    baseline: BaselineOption = None,
    write_baseline: Annotated[str | None, typer.Option(
        "--write-baseline", help="Record every current finding in this baseline file and exit 0.",
        show_default=False)] = None,
    docs_url: Annotated[str | None, typer.Option(
        "--docs-url", help="URL of the rule reference (docs/rules.md) for SARIF's helpUri and "
                           "informationUri; default: the `Rules` URL of the package metadata.",
        show_default=False)] = None,
    fix: Annotated[bool, typer.Option(
        "--fix", help="Apply the safe fixes in place (only the fixed values change; comments "
                      "and formatting are kept), then check again and report what remains.")
    ] = False,
    diff: Annotated[bool, typer.Option(
        "--diff", help="Print the safe fixes as a unified diff and write nothing; exit 1 when "
                       "there is something to fix.")] = False,
) -> None:
    """Run the gate on LinuxKit configs: load, validate, lint, merge image labels, judge by
    the policy, verify trust, and report findings."""
    from lkpolicy.report import use_color

    if lock is not None and no_images:
        usage_error("--lock names the images' digests: it cannot be used with --no-images")
    if fix or diff:
        from lkpolicy.cli.fixing import refuse_fix_conflicts

        refuse_fix_conflicts(fix=fix, diff=diff, files=files, lock=lock,
                             write_baseline=write_baseline)
    if docs_url is not None:
        from lkpolicy.report.links import check_docs_url

        try:
            docs_url = check_docs_url(docs_url)
        except ValueError as error:
            usage_error(f"--docs-url: {error}")
    options = gate_options(
        merge=merge, cache=cache, arch=arch, no_images=no_images, policy=policy,
        no_policy=no_policy, offline=offline, no_waivers=no_waivers, select=select,
        ignore=ignore, baseline=None if write_baseline else baseline, fail_on=fail_on,
        use_result_cache=not no_cache and lock is None, at=at,
        exact_fixes=output_format in (CheckFormat.text, CheckFormat.json))
    gate = run_check(files, options, fix=fix, diff=diff)
    if isinstance(gate, int):
        raise typer.Exit(gate)
    if lock is not None and len(gate.units) != 1:
        usage_error("--lock describes one build: give one config, or --merge")
    if write_baseline is not None:
        _write_baseline(gate, write_baseline)
    color = output is None and output_format is CheckFormat.text and use_color(sys.stdout)
    render_gate(gate, output_format.value, output, color=color, docs_url=docs_url)
    code = gate.exit_code
    if lock is not None:
        code = _write_lock(gate, lock)
    raise typer.Exit(code)


def _write_baseline(gate: Gate, path: str) -> None:
    from lkpolicy.stages.baseline import write_baseline

    try:
        count = write_baseline(path, gate.findings, gate.documents)
    except OSError as error:
        usage_error(f"cannot write the baseline {path}: {error.strerror or error}")
    printer().err(f"lkpolicy: recorded {count} findings in {path}")
    raise typer.Exit(ExitCode.USAGE if gate.unreadable else ExitCode.CLEAN)


def _write_lock(gate: Gate, path: str) -> int:
    """Write the lock only for a config that passed the gate."""
    from lkpolicy.gate.lock import create_lock
    from lkpolicy.safeio import atomic_write_text

    if not gate.passed:
        printer().err(f"lkpolicy: the gate failed; {path} was not written")
        return gate.exit_code
    created = create_lock(gate.single_unit())
    try:
        atomic_write_text(path, created.to_json())
    except OSError as error:
        usage_error(f"cannot write {path}: {error.strerror or error}")
    printer().err(f"lkpolicy: wrote {path} ({len(created.images)} images)")
    return ExitCode.CLEAN

