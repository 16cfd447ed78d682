"""What the commands do once their options are parsed: gate options, running the gate,
writing results, usage errors. Nothing here imports the CLI library, so that a plain
`lkpolicy check FILE...` can run without building the command line (see `lkpolicy.cli`)."""

from __future__ import annotations

import datetime
import enum
import re
import sys
from typing import TYPE_CHECKING, NoReturn

from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.cli.defaults import CheckSettings
    from lkpolicy.gate.exclude import Exclusion
    from lkpolicy.gate.gate import Gate
    from lkpolicy.gate.options import GateOptions
    from lkpolicy.model.document import Document
    from lkpolicy.model.findings import Finding
    from lkpolicy.report.printer import Printer
    from lkpolicy.store.location import ImageOptions


class FailOn(enum.StrEnum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


_GO_ARCH = re.compile(r"[a-z0-9]{1,16}")
_AT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
                 r"(?:[Zz]|[+-]\d{2}:\d{2})?)?")


def parse_at(text: str | None) -> datetime.datetime | None:
    """`--at`: an RFC 3339 timestamp (no zone means UTC) or a date (its start, UTC)."""
    if text is None:
        return None
    value = text.strip()
    if not _AT.fullmatch(value):
        usage_error(f"--at {text!r}: expected an RFC 3339 timestamp such as "
                    "2026-03-01T12:00:00Z, or a date such as 2026-03-01")
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)  # Python keeps microseconds
    try:
        moment = datetime.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as error:
        usage_error(f"--at {text!r}: {error}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def image_options(cache: str | None, arch: str | None) -> ImageOptions:
    from lkpolicy.store.location import ImageOptions

    if arch is not None and not _GO_ARCH.fullmatch(arch):
        usage_error(f"--arch {arch!r}: expected a Go architecture name such as amd64 or arm64")
    return ImageOptions(cache=cache, arch=arch)


def gate_options(*, merge: bool, cache: str | None, arch: str | None, no_images: bool = False,
                 policy: str | None, no_policy: bool = False, offline: bool,
                 no_waivers: bool, select: list[str] | None, ignore: list[str] | None,
                 baseline: str | None, fail_on: FailOn, use_result_cache: bool,
                 at: str | None = None, exclude: Exclusion | None = None,
                 force_exclude: bool = False, stdin_name: str | None = None,
                 labels_from: list[str] | None = None,
                 exact_fixes: bool = False) -> GateOptions:
    """The gate options of a command line; an unusable value is a usage error (exit 2)."""
    from lkpolicy.gate.options import GateOptions, PolicyChoice, RuleSelection, UsageError
    from lkpolicy.model.findings import Severity

    images = image_options(cache, arch)
    moment = parse_at(at)
    try:
        selection = RuleSelection.parse(select, ignore)
    except UsageError as error:
        usage_error(str(error))
    options = GateOptions(
        merge=merge, images=None if no_images else images,
        policy=None if no_policy else PolicyChoice(policy, offline=offline),
        waivers=not no_waivers, selection=selection, baseline=baseline,
        fail_on=None if fail_on is FailOn.never else Severity.parse(fail_on.value),
        use_result_cache=use_result_cache, exclude=exclude, force_exclude=force_exclude,
        stdin_name=stdin_name, exact_fixes=exact_fixes)
    if moment is not None:
        options.at = moment
    if labels_from:
        from lkpolicy.stages.pkglabels import PackageSourceError, read_package_labels

        try:
            options.packages = read_package_labels(labels_from)
        except PackageSourceError as error:
            usage_error(f"--labels-from: {error}")
    return options


def run_gate_or_exit(files: list[str], options: GateOptions) -> Gate:
    from lkpolicy.gate.gate import run_gate
    from lkpolicy.gate.options import UsageError

    try:
        return run_gate(files, options)
    except UsageError as error:
        usage_error(str(error))


def run_check(files: list[str], options: GateOptions, *, fix: bool = False,
              diff: bool = False, quiet: bool = False) -> Gate | int:
    """The gate of `check`; with `fix`, the gate once the fixes are written (`--fix`); with
    `diff`, the exit code once the fixes are shown (`--diff`). `quiet`: no count of them."""
    gate = run_gate_or_exit(files, options)
    if not (fix or diff):
        return gate
    from lkpolicy.cli.fixing import apply_fixes, show_fixes

    return show_fixes(gate, quiet) if diff else apply_fixes(gate, files, options, quiet)


def render_gate(gate: Gate, output_format: str, output: str | None, *, color: bool,
                docs_url: str | None = None, quiet: bool = False,
                statistics: bool = False) -> None:
    """Render the gate's verdict: what it counts, and (in SARIF and JSON) what waivers and
    the baseline suppressed. `docs_url` links SARIF rules to the rule reference; None takes
    it from the package metadata. `quiet` and `statistics`: `Report`'s."""
    from lkpolicy import __version__
    from lkpolicy.report import Report, render
    from lkpolicy.report.model import SuppressedFinding

    suppressed = [SuppressedFinding(s.finding, s.kind, s.reason) for s in gate.suppressed]
    report = Report(findings=gate.findings, documents=gate.documents, files=gate.files,
                    tool_version=__version__, suppressed=suppressed,
                    execution_successful=gate.exit_code != ExitCode.USAGE,
                    quiet=quiet, statistics=statistics)
    from lkpolicy.gate.custom import custom_rules, needs_custom_rules

    if needs_custom_rules(gate, every=output_format == "sarif"):
        report.extra_rules = custom_rules(gate)
    if output_format == "sarif":
        from lkpolicy.report.links import metadata_docs_url
        from lkpolicy.report.sarif import MAX_RESULTS, omitted_results

        report.docs_url = docs_url if docs_url is not None else metadata_docs_url()
        if len(report.findings) + len(report.suppressed) > MAX_RESULTS:
            omitted = omitted_results(report)
            if omitted:
                printer().err(f"lkpolicy: warning: {omitted} SARIF results left out; code "
                              f"scanning accepts at most {MAX_RESULTS} per run (the most "
                              "severe were kept). Narrow the paths or --select to see all.")
    emit(render(output_format, report, color=color), output)


def report_to_stderr(findings: list[Finding], documents: dict[str, Document],
                     files: list[str], *, color: str) -> None:
    """Findings in the text format on standard error (`show` and `build`, whose standard
    output is their result), coloured as `--color` (`auto`, `always`, `never`) says."""
    from lkpolicy import __version__
    from lkpolicy.report import Report, render, use_color

    report = Report(findings=findings, documents=documents, files=files,
                    tool_version=__version__)
    sys.stderr.write(render("text", report, color=use_color(sys.stderr, choice=color)))


PLAIN_FLAGS = {"--merge": "merge", "--no-cache": "no_cache", "--no-images": "no_images",
               "--no-policy": "no_policy", "--offline": "offline", "--no-waivers": "no_waivers",
               "--quiet": "quiet", "-q": "quiet", "--statistics": "statistics",
               "--force-exclude": "force_exclude", "--fix": "fix", "--diff": "diff"}
"""The options of `check` that take no value, by their parameter names: a command line of
these and file names is a plain check (tests/test_plain_check.py keeps them `check`'s)."""


def plain_check(arguments: list[str]) -> int:
    """`lkpolicy check` with file names and `PLAIN_FLAGS` only, every other option at its
    default (the repository's `check` settings, else text to standard output, fail on errors;
    the discovered policy, the default image cache): what the `check` command does for that
    command line, without the CLI library."""
    from lkpolicy.cli.defaults import CheckSettings
    from lkpolicy.report import use_color

    flags = {name: False for name in PLAIN_FLAGS.values()}
    files = []
    for argument in arguments:
        if argument in PLAIN_FLAGS:
            flags[PLAIN_FLAGS[argument]] = True
        else:
            files.append(argument)
    if flags["fix"] or flags["diff"]:
        from lkpolicy.cli.fixing import refuse_fix_conflicts

        refuse_fix_conflicts(fix=flags["fix"], diff=flags["diff"], files=files)
    settings = check_settings(CheckSettings(), files, policy=None, stdin_name=None,
                              use_cache=not flags["no_cache"])
    output_format = check_format(settings, statistics=flags["statistics"])
    options = gate_options(merge=flags["merge"], cache=None, arch=None,
                           no_images=flags["no_images"], policy=None,
                           no_policy=flags["no_policy"], offline=flags["offline"],
                           no_waivers=flags["no_waivers"], select=settings.select,
                           ignore=settings.ignore, baseline=None,
                           fail_on=FailOn(settings.fail_on or FailOn.error),
                           use_result_cache=not flags["no_cache"], exclude=settings.exclude,
                           force_exclude=flags["force_exclude"],
                           exact_fixes=output_format in ("text", "json"))
    gate = run_check(files, options, fix=flags["fix"], diff=flags["diff"],
                     quiet=flags["quiet"])
    if isinstance(gate, int):
        return gate
    color = output_format == "text" and use_color(sys.stdout)
    render_gate(gate, output_format, None, color=color, quiet=flags["quiet"],
                statistics=flags["statistics"])
    return gate.exit_code


def check_settings(given: CheckSettings, files: list[str], *, policy: str | None,
                   stdin_name: str | None, use_cache: bool) -> CheckSettings:
    """The settings of a `check`: the command line's (`given`), completed by the repository's
    (`lkpolicy.cli.defaults`); unusable repository settings are a usage error."""
    from lkpolicy.cli.defaults import SettingsError, configured_settings

    try:
        configured = configured_settings(files, policy=policy, stdin_name=stdin_name,
                                         use_cache=use_cache)
    except SettingsError as error:
        printer().findings(error.findings)
        usage_error(str(error))
    return given.completed_by(configured)


def check_format(settings: CheckSettings, *, statistics: bool) -> str:
    """The output format of a `check` (text unless set); `--statistics` needs text or JSON."""
    output_format = settings.output_format or "text"
    if statistics and output_format not in ("text", "json"):
        usage_error(f"--statistics counts findings in the text and json formats, not in "
                    f"{output_format}")
    return output_format


def usage_error(message: str) -> NoReturn:
    """Exit 2 with a one-line reason (a plain `SystemExit`: the CLI library passes it on)."""
    from lkpolicy.model.rules import clip

    printer().err(f"lkpolicy: {clip(message)}")
    raise SystemExit(ExitCode.USAGE)


def require_extra(extra: str, needed_by: str) -> None:
    """Stop with one line (exit 2) when an optional part of lkpolicy that the command needs is
    not installed: `lkpolicy build needs the build extra: pip install 'lkpolicy[build]'`."""
    from lkpolicy.extras import MissingExtra, require

    try:
        require(extra, needed_by)
    except MissingExtra as error:
        printer().err(str(error))
        raise SystemExit(ExitCode.USAGE) from None


def printer() -> Printer:
    from lkpolicy.report.printer import Printer

    return Printer()


def emit(text: str, path: str | None) -> None:
    """A command's result: to standard output, or atomically to `path`. The text is already
    escaped by its renderer (machine formats escape by their own syntax)."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from lkpolicy.safeio import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as error:
        usage_error(f"cannot write {path}: {error.strerror or error}")
