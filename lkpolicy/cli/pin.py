"""`lkpolicy pin`: pin image references to digests, as a diff, in place, or as a pre-commit check."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from lkpolicy.cli.common import printer
from lkpolicy.model.findings import ExitCode, InputError

if TYPE_CHECKING:
    # Imported lazily at run time: registering the command must not slow down `lkpolicy check`.
    from lkpolicy.tools.pin import PinPlan, ResolveArg


@dataclass(slots=True)
class _Source:
    path: str
    raw: bytes
    text: str


def build_resolver(*, cache: str | None, offline: bool, update: bool, mirrors: list[str],
                   cert_file: str | None) -> ResolveArg:
    """The local image store first, then the registry (the seam tests replace).

    Raises ValueError for unusable options (a malformed mirror).
    """
    from lkpolicy.tools.pinresolvers import ChainResolver, RegistryResolver, StoreResolver

    store = StoreResolver(cache)
    if offline:
        return ChainResolver([store])
    if update:
        # The store holds what was pulled back then: asking it would hand back the stale digest.
        return ChainResolver([RegistryResolver(mirrors=mirrors, cert_file=cert_file)])
    return ChainResolver([store, RegistryResolver(mirrors=mirrors, cert_file=cert_file)])


def pin(
    files: Annotated[list[str], typer.Argument(
        help="LinuxKit YAML configs; directories are searched for *.yml and *.yaml.",
        show_default=False)],
    write: Annotated[bool, typer.Option(
        "--write", "-w", help="Rewrite the files in place (default: print a unified diff).")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Resolve nothing; exit 1 when a reference is not pinned (for pre-commit).")] = False,
    update: Annotated[bool, typer.Option(
        "--update", help="Re-resolve pinned references and replace digests that are stale.")] = False,
    cache: Annotated[str | None, typer.Option(
        "--cache", help="linuxkit's image cache directory "
                        "(default: $LINUXKIT_CACHE, else ~/.linuxkit/cache).")] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Resolve from the local image store only; never contact a registry.")] = False,
    mirror: Annotated[list[str] | None, typer.Option(
        "--mirror", metavar="REGISTRY=URL",
        help="Fetch from a mirror for a registry (repeatable).", show_default=False)] = None,
    cert_file: Annotated[str | None, typer.Option(
        "--cert-file", help="Extra CA certificates (PEM) for registry connections.")] = None,
) -> None:
    """Pin every image reference to `name:tag@sha256:<digest>`, changing nothing else in the file."""
    from lkpolicy.gate.gate import expand_paths
    from lkpolicy.gate.options import UsageError

    if check and (write or update):
        _fail("--check resolves nothing and writes nothing: it cannot be combined with "
              + ("--write" if write else "--update"))
    if cert_file is not None and not os.path.isfile(cert_file):
        _fail(f"--cert-file {cert_file}: no such file")
    try:
        paths = expand_paths(files)
    except UsageError as error:
        _fail(str(error))
    if write and "-" in paths:
        _fail("--write cannot rewrite standard input")
    sources, unreadable = _read_all(paths)
    if check:
        raise typer.Exit(_check(sources, unreadable))
    if unreadable:
        raise typer.Exit(ExitCode.USAGE)

    try:
        resolver = build_resolver(cache=cache, offline=offline, update=update,
                                  mirrors=mirror or [], cert_file=cert_file)
    except ValueError as error:
        _fail(str(error))
    try:
        plans, failed = _plan_all(sources, resolver, update=update)
    finally:
        close = getattr(resolver, "close", None)
        if callable(close):
            close()
    if failed:
        raise typer.Exit(ExitCode.USAGE)
    results = _apply_all(sources, plans)
    if results is None:
        raise typer.Exit(ExitCode.USAGE)

    changed = [(source, plan, new) for source, plan, new in results if new != source.text]
    if write:
        for source, _plan, new in changed:
            try:
                _write(source, new)
            except OSError as error:
                _fail(f"{source.path}: cannot write: {error.strerror or error}")
    else:
        from lkpolicy.tools.pin import render_diff

        printer().block("".join(render_diff(s.path, s.text, new) for s, _p, new in changed))
    _summary(plans, len(changed), written=write)


def _check(sources: list[_Source], unreadable: bool) -> int:
    from lkpolicy.tools.pin import find_references

    unpinned = 0
    out: list[str] = []
    for source in sources:
        try:
            sites = find_references(source.text, source.path)
        except InputError as error:
            _report_input_error(error)
            unreadable = True
            continue
        for site in sites:
            if site.needs_pin:
                unpinned += 1
                out.append(f"{source.path}:{site.line}:{site.column}: `{site.value}`: {site.message}\n")
    printer().block("".join(out))
    if unreadable:
        return ExitCode.USAGE
    if unpinned:
        noun = "reference is" if unpinned == 1 else "references are"
        _err(f"lkpolicy pin: {unpinned} image {noun} not pinned; "
                         "run `lkpolicy pin --write` to pin them\n")
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


def _read_all(paths: list[str]) -> tuple[list[_Source], bool]:
    from lkpolicy.stages.load import decode_text, read_source

    sources: list[_Source] = []
    unreadable = False
    for path in paths:
        try:
            raw, _from_file = read_source(path)
            text = decode_text(path, raw)
        except InputError as error:
            _report_input_error(error)
            unreadable = True
            continue
        sources.append(_Source(path, raw, text))
    return sources, unreadable


def _plan_all(sources: list[_Source], resolver: ResolveArg, *,
              update: bool) -> tuple[list[PinPlan], bool]:
    from lkpolicy.tools.pin import ProblemKind, plan_pins

    plans: list[PinPlan] = []
    failed = False
    for source in sources:
        try:
            plan = plan_pins(source.text, source.path, resolver, update=update)
        except InputError as error:
            _report_input_error(error)
            failed = True
            continue
        plans.append(plan)
        for problem in plan.problems:
            where = f"{source.path}:{problem.line}:{problem.column}"
            if problem.kind is ProblemKind.UNRESOLVED:
                failed = True
                _err(f"{where}: error: {problem.message}\n")
            else:
                _err(f"{where}: note: `{problem.reference}` left alone: {problem.message}\n")
    return plans, failed


def _apply_all(sources: list[_Source], plans: list[PinPlan]) -> list[tuple[_Source, PinPlan, str]] | None:
    from lkpolicy.tools.pin import PinError, apply_pins

    results: list[tuple[_Source, PinPlan, str]] = []
    for source, plan in zip(sources, plans, strict=True):
        try:
            results.append((source, plan, apply_pins(source.text, plan)))
        except PinError as error:
            _err(f"lkpolicy pin: {error}\n")
            return None
    return results


def _write(source: _Source, text: str) -> None:
    from lkpolicy.tools.textedit import write_like

    write_like(source.path, source.raw, text)


def _summary(plans: list[PinPlan], files_changed: int, *, written: bool) -> None:
    changes = sum(len(plan.changes) for plan in plans)
    pinned = sum(plan.already_pinned for plan in plans)
    skipped = sum(len(plan.problems) for plan in plans)
    verb = "pinned" if written else "would pin"
    noun = "reference" if changes == 1 else "references"
    files = "file" if files_changed == 1 else "files"
    line = f"lkpolicy pin: {verb} {changes} {noun} in {files_changed} {files}"
    extras = [f"{pinned} already pinned"]
    if skipped:
        extras.append(f"{skipped} left alone")
    line += f" ({', '.join(extras)})"
    if changes and not written:
        line += "; run with --write to apply"
    _err(line + "\n")


def _report_input_error(error: InputError) -> None:
    for finding in error.findings:
        _err(f"{finding.location}: error: {finding.message}\n")


def _fail(message: str) -> NoReturn:
    _err(f"lkpolicy pin: {message}\n")
    raise typer.Exit(ExitCode.USAGE)


def _err(text: str) -> None:
    printer().err(text.rstrip("\n"))
