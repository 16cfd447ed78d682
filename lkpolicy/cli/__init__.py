"""Command line. Stage modules are imported inside the commands: `check` runs on every commit."""

from __future__ import annotations

import enum
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy import __version__
from lkpolicy.model.findings import ExitCode, Severity

if TYPE_CHECKING:
    from lkpolicy.gate.run import CheckResult
    from lkpolicy.store.location import ImageOptions

app = typer.Typer(
    name="lkpolicy",
    help="The security gate in front of `linuxkit build`: lint, policy, trust and build.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class CheckFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class ShowFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"


class RulesFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class FailOn(enum.StrEnum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


CacheOption = Annotated[str | None, typer.Option(
    "--cache", help="Image cache (an OCI layout, shared with linuxkit); default: "
                    "$LINUXKIT_CACHE, else ~/.linuxkit/cache.", show_default=False)]
ArchOption = Annotated[str | None, typer.Option(
    "--arch", help="Architecture whose images are judged (Go naming: amd64, arm64...); "
                   "default: this machine's.", show_default=False)]

FilesArgument = Annotated[
    list[str],
    typer.Argument(help="LinuxKit YAML configs; directories are searched for *.yml and *.yaml.",
                   show_default=False),
]


@app.command()
def check(
    files: FilesArgument,
    output_format: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = CheckFormat.text,
    fail_on: Annotated[FailOn, typer.Option(help="Lowest severity that makes the exit code 1.")] = FailOn.error,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Merge all files into one config, as `linuxkit build a.yml b.yml` does "
                        "(default: each file is checked on its own).")] = False,
    ignore: Annotated[list[str] | None, typer.Option(
        help="Rule ID to leave out of the report (repeatable).", show_default=False)] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write the report to this file instead of standard output.")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not use or update the per-file result cache "
                           "(~/.cache/lkpolicy; also LKPOLICY_NO_CACHE=1).")] = False,
    cache: CacheOption = None,
    arch: ArchOption = None,
    no_images: Annotated[bool, typer.Option(
        "--no-images", help="Skip the image stage: judge the YAML alone, without a finding "
                            "that says so.")] = False,
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Policy file (or builtin:default, builtin:strict); default: the "
                               "nearest .lkpolicy.yml up to the repository root, else "
                               "builtin:default.", show_default=False)] = None,
    no_policy: Annotated[bool, typer.Option(
        "--no-policy", help="Lint only: skip the policy stage.")] = False,
    lock: Annotated[str | None, typer.Option(
        "--lock", help="When the gate passes, write the digests of every image (resolved once, "
                       "from the image cache) to this lock file for `lkpolicy build --lock`.",
        show_default=False)] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Never touch the network: images from the image cache, trust "
                          "metadata from the trust cache (expiry and rollback still checked).")] = False,
    no_waivers: Annotated[bool, typer.Option(
        "--no-waivers", help="Ignore `# lkpolicy: ignore[...]` waivers: show everything.")] = False,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Report only findings that are not in this baseline file.",
        show_default=False)] = None,
    write_baseline: Annotated[str | None, typer.Option(
        "--write-baseline", help="Record every current finding in this baseline file and exit 0.",
        show_default=False)] = None,
) -> None:
    """Load, validate and lint LinuxKit configs, merge image labels, and report findings."""
    from lkpolicy.gate.run import PolicyChoice, run_check
    from lkpolicy.report import Report, render, use_color
    from lkpolicy.store.location import ImageOptions

    images = None if no_images else ImageOptions(cache=cache, arch=arch)
    choice = None if no_policy else PolicyChoice(policy, offline=offline, waivers=not no_waivers)
    if lock is not None and len(files) > 1 and not merge:
        sys.stderr.write("lkpolicy: --lock describes one build: give one config, or --merge\n")
        raise typer.Exit(ExitCode.USAGE)
    result = run_check(files, merge_files=merge, use_cache=not no_cache and lock is None,
                       images=images, policy=choice)
    findings = result.findings
    unreadable = result.unreadable
    if not no_waivers:
        from lkpolicy.gate.run import apply_inline_waivers, utc_today

        findings, _suppressed = apply_inline_waivers(result, utc_today())
    ignored = {rule.upper() for rule in ignore or []}
    findings = [f for f in findings if f.rule_id not in ignored]
    if write_baseline is not None:
        from lkpolicy.stages.baseline import write_baseline as write_baseline_file

        count = write_baseline_file(write_baseline, findings)
        sys.stderr.write(f"lkpolicy: recorded {count} findings in {write_baseline}\n")
        raise typer.Exit(ExitCode.USAGE if unreadable else ExitCode.CLEAN)
    if baseline is not None:
        from lkpolicy.model.findings import InputError
        from lkpolicy.stages.baseline import filter_new, load_baseline

        try:
            findings, _known = filter_new(findings, load_baseline(baseline))
        except InputError as error:
            findings = error.findings
            unreadable = True
    report = Report(findings=findings, documents=result.documents, files=result.files,
                    tool_version=__version__)
    color = output is None and output_format is CheckFormat.text and use_color(sys.stdout)
    _emit(render(output_format.value, report, color=color), output)
    if unreadable:
        raise typer.Exit(ExitCode.USAGE)
    code = _exit_code(findings, fail_on)
    if lock is not None:
        code = max(code, _write_lock(result, lock, images, arch, code))
    raise typer.Exit(code)


def _write_lock(result: CheckResult, path: str, images: ImageOptions | None, arch: str | None,
                code: int) -> int:
    """Write the lock only for a config that passed the gate."""
    from lkpolicy.gate.lock import create_lock
    from lkpolicy.safeio import atomic_write_text
    from lkpolicy.store.location import ImageOptions, host_platform

    if code != ExitCode.CLEAN:
        sys.stderr.write(f"lkpolicy: the gate failed; {path} was not written\n")
        return ExitCode.FINDINGS
    group = result.groups[0] if result.groups else None
    if group is None or group.config is None:
        return ExitCode.USAGE
    options = images or ImageOptions()
    platform = f"linux/{arch}" if arch else str(host_platform())
    evidence = group.trust.evidence if group.trust is not None else None
    created, problems = create_lock(group.config, group.paths, options.cache_dir(), platform,
                                    evidence)
    if created is None:
        for finding in problems:
            sys.stderr.write(f"{finding.location}: {finding.severity.label} {finding.rule_id} "
                             f"{finding.message}\n")
        return ExitCode.FINDINGS
    try:
        atomic_write_text(path, created.to_json())
    except OSError as error:
        sys.stderr.write(f"lkpolicy: cannot write {path}: {error.strerror or error}\n")
        return ExitCode.USAGE
    sys.stderr.write(f"lkpolicy: wrote {path} ({len(created.images)} images)\n")
    return ExitCode.CLEAN


def _exit_code(findings: list, fail_on: FailOn) -> int:  # type: ignore[type-arg]
    if fail_on is FailOn.never:
        return ExitCode.CLEAN
    threshold = Severity.parse(fail_on.value)
    if any(f.severity >= threshold for f in findings):
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


@app.command()
def show(
    files: FilesArgument,
    output_format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.yaml,
    effective: Annotated[bool, typer.Option(
        "--effective", help="Print each container's config.json and runtime.json as linuxkit "
                            "writes them (YAML merged with the image label), marking where each "
                            "value came from.")] = False,
    cache: CacheOption = None,
    arch: ArchOption = None,
) -> None:
    """Print the merged config, as `linuxkit build --dry-run` does."""
    from lkpolicy.gate.run import expand_paths, load_group
    from lkpolicy.model.gomodel import go_model, render_json, render_yaml
    from lkpolicy.report import Report, render
    from lkpolicy.stages.validate import check_merged

    paths = expand_paths(files)
    documents: dict = {}  # type: ignore[type-arg]
    group = load_group(paths, documents)
    if group.config is not None and len(paths) > 1:
        group.findings.extend(check_merged(group.config))
    errors = [f for f in group.findings if f.severity is Severity.ERROR]
    if group.config is None or errors:
        report = Report(findings=errors or group.findings, documents=documents, files=paths,
                        tool_version=__version__)
        sys.stderr.write(render("text", report, color=False))
        raise typer.Exit(ExitCode.USAGE if group.unreadable else ExitCode.FINDINGS)
    if effective:
        from lkpolicy.stages.images import resolve_images
        from lkpolicy.store.location import ImageOptions
        from lkpolicy.tools.showeffective import render_effective

        stage = resolve_images(group.config, ImageOptions(cache=cache, arch=arch))
        for finding in stage.findings:
            sys.stderr.write(f"{finding.location}: {finding.severity.label} {finding.rule_id} "
                             f"{finding.message}\n")
        _emit(render_effective(stage, output_format.value), None)
        raise typer.Exit(ExitCode.FINDINGS if any(c.error for c in stage.containers) else ExitCode.CLEAN)
    model = go_model(group.config)
    _emit(render_json(model) if output_format is ShowFormat.json else render_yaml(model), None)


@app.command()
def schema() -> None:
    """Print the JSON Schema for LinuxKit configs (draft 2020-12)."""
    from lkpolicy.stages.validate import schema_text

    _emit(schema_text(), None)


@app.command()
def explain(rule_id: Annotated[str, typer.Argument(help="A rule ID such as LK301, or its name.")]) -> None:
    """Explain a rule: what it catches, why it matters and how to fix it."""
    from lkpolicy.model.rules import explain as explain_rule
    from lkpolicy.model.rules import get_rule

    rule = get_rule(rule_id)
    if rule is None:
        sys.stderr.write(f"lkpolicy: unknown rule {rule_id!r}; `lkpolicy rules` lists them all\n")
        raise typer.Exit(ExitCode.USAGE)
    _emit(explain_rule(rule) + "\n", None)


@app.command()
def rules(
    output_format: Annotated[RulesFormat, typer.Option("--format", "-f", help="Output format.")] = RulesFormat.text,
) -> None:
    """List every rule with its ID, severity and title."""
    from lkpolicy.report.ruledocs import render_rules

    _emit(render_rules(output_format.value), None)


def _register_subcommands() -> None:
    # The modules below import nothing heavy at module level, so registering them is cheap.
    from lkpolicy.cli.build import build
    from lkpolicy.cli.cache import cache_app
    from lkpolicy.cli.diff import diff
    from lkpolicy.cli.pin import pin

    app.command(name="build")(build)
    app.command(name="pin")(pin)
    app.command(name="diff")(diff)
    app.add_typer(cache_app, name="cache", help="The local image store, shared with linuxkit.")
    from lkpolicy.cli.trust import trust_app

    app.add_typer(trust_app, name="trust", help="What the trust authorities say about images.")


_register_subcommands()


@app.command()
def version() -> None:
    """Print the version."""
    _emit(f"lkpolicy {__version__}\n", None)


def _emit(text: str, path: str | None) -> None:
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from lkpolicy.safeio import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as error:
        sys.stderr.write(f"lkpolicy: cannot write {path}: {error.strerror or error}\n")
        raise typer.Exit(ExitCode.USAGE) from None


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        # `lkpolicy show x.yml | head` must not print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.CLEAN)
    except KeyboardInterrupt:
        sys.stderr.write("lkpolicy: interrupted\n")
        sys.exit(130)
