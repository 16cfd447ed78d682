"""`lkpolicy check`: run the gate and render its verdict; with `--lock`, also write the
digests that passed it."""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Annotated

import click
import typer

from lkpolicy.cli.common import (
    ArchOption,
    AtOption,
    BaselineOption,
    CacheOption,
    ColorChoice,
    ColorOption,
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
from lkpolicy.cli.running import check_format, check_settings, run_check
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.gate.exclude import Exclusion
    from lkpolicy.gate.gate import Gate


class CheckFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


FilesArgument = Annotated[
    list[str],
    typer.Argument(help="LinuxKit YAML configs (`-` for standard input); directories are "
                        "searched for *.yml and *.yaml.",
                   show_default=False, click_type=click.Path(allow_dash=True)),
]


def check(
    files: FilesArgument,
    output_format: Annotated[CheckFormat | None, typer.Option(
        "--format", "-f", help="Output format; default: text (or the repository's `check` "
                               "settings, as for every option so marked).",
        show_default=False)] = None,
    fail_on: Annotated[FailOn | None, typer.Option(
        help="Lowest severity that makes the exit code 1; default: error (or the "
             "repository's).", show_default=False)] = None,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Merge all files into one config, as `linuxkit build a.yml b.yml` does "
                        "(default: each file is checked on its own).")] = False,
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Globs of configs to leave out when walking directories "
                          "(repeatable or comma-separated; default: the repository's).",
        show_default=False)] = None,
    force_exclude: Annotated[bool, typer.Option(
        "--force-exclude", help="Apply the exclude patterns to the files named on the command "
                                "line too (for pre-commit).")] = False,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the report to this file instead of standard output.")] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print the findings only: no summary, nothing for a clean run "
                              "(text; the other formats are complete documents).")] = False,
    statistics: Annotated[bool, typer.Option(
        "--statistics", help="Count the findings of each rule: the counts in place of the "
                             "findings (text), or a `statistics` object beside them (json).")
    ] = False,
    color: ColorOption = ColorChoice.auto,
    stdin_filename: Annotated[str | None, typer.Option(
        "--stdin-filename", metavar="NAME",
        help="The name of the config read from standard input (`-`): its findings name it, "
             "and the policy and settings are discovered from its directory.",
        show_default=False)] = None,
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
    labels_from: Annotated[list[str] | None, typer.Option(
        "--labels-from", metavar="DIR",
        help="Judge the images of `linuxkit pkg` packages below DIR with the labels their "
             "build.yml `config:` blocks will give them (org/image name them; any tag). "
             "Repeatable. With --no-images, before the images exist. Not with --lock: a "
             "build reads the labels of the images it builds from.",
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
    from lkpolicy.cli.defaults import CheckSettings
    from lkpolicy.report import use_color

    if lock is not None and labels_from:
        usage_error("--labels-from judges labels that the build does not read (it reads the "
                    "images' own): it cannot be used with --lock")
    if lock is not None and no_images:
        usage_error("--lock names the images' digests: it cannot be used with --no-images")
    if stdin_filename is not None:
        _check_stdin_filename(stdin_filename, files, lock)
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
    given = CheckSettings(output_format=output_format.value if output_format else None,
                          fail_on=fail_on.value if fail_on else None, select=select,
                          ignore=ignore, exclude=_exclusion(exclude))
    settings = check_settings(given, files, policy=policy, stdin_name=stdin_filename,
                              use_cache=not no_cache)
    chosen_format = check_format(settings, statistics=statistics)
    options = gate_options(
        merge=merge, cache=cache, arch=arch, no_images=no_images, policy=policy,
        no_policy=no_policy, offline=offline, no_waivers=no_waivers, select=settings.select,
        ignore=settings.ignore, baseline=None if write_baseline else baseline,
        fail_on=FailOn(settings.fail_on or FailOn.error),
        use_result_cache=not no_cache and lock is None, at=at, exclude=settings.exclude,
        force_exclude=force_exclude, stdin_name=stdin_filename,
        labels_from=labels_from, exact_fixes=chosen_format in ("text", "json"))
    gate = run_check(files, options, fix=fix, diff=diff, quiet=quiet)
    if isinstance(gate, int):
        raise typer.Exit(gate)
    if lock is not None and len(gate.units) != 1:
        usage_error("--lock describes one build: give one config, or --merge")
    if write_baseline is not None:
        _write_baseline(gate, write_baseline, quiet)
    in_color = chosen_format == "text" and use_color(
        sys.stdout if output is None else None, choice=color.value)
    render_gate(gate, chosen_format, output, color=in_color, docs_url=docs_url, quiet=quiet,
                statistics=statistics)
    code = gate.exit_code
    if lock is not None:
        code = _write_lock(gate, lock, quiet)
    raise typer.Exit(code)


def _check_stdin_filename(name: str, files: list[str], lock: str | None) -> None:
    if "-" not in files:
        usage_error("--stdin-filename names standard input: give `-` among the files")
    if not name.strip() or name == "-":
        usage_error("--stdin-filename: give the config's file name, such as linuxkit/base.yml")
    if name in files:
        usage_error(f"--stdin-filename {name}: that file is also given; check one or the other")
    if lock is not None:
        usage_error("--lock records the configs' files: it cannot be used with standard input")


def _exclusion(patterns: list[str] | None) -> Exclusion | None:
    """`--exclude`, relative to the working directory."""
    if patterns is None:
        return None
    import os

    from lkpolicy.gate.exclude import exclusion

    try:
        return exclusion(patterns, os.getcwd())
    except ValueError as error:
        usage_error(f"--exclude: {error}")


def _write_baseline(gate: Gate, path: str, quiet: bool) -> None:
    from lkpolicy.stages.baseline import write_baseline

    try:
        count = write_baseline(path, gate.findings, gate.documents)
    except OSError as error:
        usage_error(f"cannot write the baseline {path}: {error.strerror or error}")
    if not quiet:
        printer().err(f"lkpolicy: recorded {count} findings in {path}")
    raise typer.Exit(ExitCode.USAGE if gate.unreadable else ExitCode.CLEAN)


def _write_lock(gate: Gate, path: str, quiet: bool) -> int:
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
    if not quiet:
        printer().err(f"lkpolicy: wrote {path} ({len(created.images)} images)")
    return ExitCode.CLEAN

