"""`check --fix` and `check --diff`: the fixes that findings carry, written or shown. Nothing
here imports the CLI library: a plain `lkpolicy check --fix FILE...` (the pre-commit line)
runs without it, as `running.plain_check` does for a plain check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lkpolicy.cli.running import emit, printer, run_gate_or_exit, usage_error
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.gate.gate import Gate
    from lkpolicy.gate.options import GateOptions
    from lkpolicy.tools.fix import FileFixes

FIX_ROUNDS = 10
"""Rounds of `--fix`; each one fixes at least one finding, so this bounds the work."""


def refuse_fix_conflicts(*, fix: bool, diff: bool, files: list[str], lock: str | None = None,
                         write_baseline: str | None = None) -> None:
    """Usage errors of `--fix`/`--diff` with the options they cannot go with, before any
    work is done."""
    if (fix or diff) and (lock is not None or write_baseline is not None):
        usage_error(f"{'--fix' if fix else '--diff'} cannot be combined with "
                    + ("--lock" if lock is not None else "--write-baseline"))
    if fix and diff:
        usage_error("--diff shows the fixes without writing them: it cannot be combined with --fix")
    if fix and "-" in files:
        usage_error("--fix cannot rewrite standard input; use --diff")


def show_fixes(gate: Gate, quiet: bool = False) -> int:
    """`--diff`: the fixes as a unified diff; 1 when there is one (as ruff's `--diff`)."""
    from lkpolicy.tools.fix import fix_files
    from lkpolicy.tools.textedit import render_diff

    results, notes = fix_files(gate.findings, gate.documents)
    _notes(notes, results)
    emit("".join(render_diff(r.path, r.old, r.new) for r in results if r.changed), None)
    count = sum(len(result.fixed) for result in results)
    files = sum(1 for result in results if result.changed)
    if not quiet:
        printer().err(f"lkpolicy: would fix {_count(count, 'finding')} in "
                      f"{_count(files, 'file')}")
    if gate.unreadable:
        return ExitCode.USAGE
    return ExitCode.FINDINGS if count else ExitCode.CLEAN


def apply_fixes(gate: Gate, files: list[str], options: GateOptions,
                quiet: bool = False) -> Gate:
    """`--fix`: write the fixes and judge again, in rounds while fixes that overlapped the
    ones just applied wait; the last gate reports what remains."""
    from lkpolicy.tools.fix import fix_files, write_fixes

    fixed = 0
    changed: set[str] = set()
    for _round in range(FIX_ROUNDS):
        results, notes = fix_files(gate.findings, gate.documents)
        try:
            write_fixes(results)
        except OSError as error:
            usage_error(f"cannot write the fixes: {error.strerror or error}")
        count = sum(len(result.fixed) for result in results)
        if count:
            fixed += count
            changed.update(result.path for result in results if result.changed)
            gate = run_gate_or_exit(files, options)
        if not count or not any(result.waiting for result in results):
            break
    _notes(notes, results)
    if fixed and not quiet:
        printer().err(f"lkpolicy: fixed {_count(fixed, 'finding')} in "
                      f"{_count(len(changed), 'file')}")
    return gate


def _notes(notes: list[str], results: list[FileFixes]) -> None:
    from lkpolicy.tools.fix import OVERLAPS

    for note in notes:
        printer().err(f"lkpolicy: note: {note}")
    for result in results:
        for finding, why in result.refused:
            if why == OVERLAPS:
                why += "; `--fix` applies it in a later round"
            printer().err(f"{finding.location}: note: {finding.rule_id} not fixed: {why}")


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
