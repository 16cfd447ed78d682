"""What the commands share: the option declarations (the CLI library's), and, re-exported from
`lkpolicy.cli.running`, the gate options they build and the writing of results. Commands are
thin: they turn options into a `GateOptions`, run the gate and render it; they decide nothing
about the verdict themselves."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from lkpolicy.cli.running import (
    FailOn,
    emit,
    gate_options,
    image_options,
    parse_at,
    printer,
    render_gate,
    report_to_stderr,
    require_extra,
    run_gate_or_exit,
    usage_error,
)

__all__ = [
    "ArchOption", "AtOption", "BaselineOption", "CacheOption", "ColorChoice", "ColorOption",
    "FailOn", "IgnoreOption",
    "NoWaiversOption", "OfflineOption", "PolicyOption", "SelectOption", "emit", "gate_options",
    "image_options", "parse_at", "printer", "render_gate", "report_to_stderr",
    "require_extra", "run_gate_or_exit",
    "usage_error",
]


CacheOption = Annotated[str | None, typer.Option(
    "--cache", help="Image cache (an OCI layout, shared with linuxkit); default: "
                    "$LINUXKIT_CACHE, else ~/.linuxkit/cache.", show_default=False)]
ArchOption = Annotated[str | None, typer.Option(
    "--arch", help="Architecture of the images (Go naming: amd64, arm64...); default: this "
                   "machine's.", show_default=False)]
PolicyOption = Annotated[str | None, typer.Option(
    "--policy", "-p", help="Policy file (or builtin:default, builtin:strict); default: the "
                           "nearest .lkpolicy.yml up to the repository root, else "
                           "builtin:default.", show_default=False)]
OfflineOption = Annotated[bool, typer.Option(
    "--offline", help="Never touch the network: trust metadata from the trust cache only "
                      "(expiry and rollback still checked). Images always come from the "
                      "image cache.")]
SelectOption = Annotated[list[str] | None, typer.Option(
    "--select", help="Rule IDs or prefixes to report (repeatable or comma-separated); "
                     "default: all. Errors that stop the build are always reported.",
    show_default=False)]
IgnoreOption = Annotated[list[str] | None, typer.Option(
    "--ignore", help="Rule IDs or prefixes to leave out (repeatable or comma-separated).",
    show_default=False)]
BaselineOption = Annotated[str | None, typer.Option(
    "--baseline", help="Report only findings that are not in this baseline file.",
    show_default=False)]
AtOption = Annotated[str | None, typer.Option(
    "--at", metavar="TIMESTAMP",
    help="Judge as of this moment (UTC; RFC 3339 such as 2026-03-01T12:00:00Z, or a date "
         "for its start): every signature, trust metadata expiry and certificate, and "
         "waiver expiry. Default: now.", show_default=False)]
NoWaiversOption = Annotated[bool, typer.Option(
    "--no-waivers", help="Ignore waivers (`# lkpolicy: ignore[...]` and the policy's): "
                         "show everything.")]


class ColorChoice(enum.StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


ColorOption = Annotated[ColorChoice, typer.Option(
    "--color", help="Colour the text output: auto (a terminal, unless NO_COLOR is set; "
                    "FORCE_COLOR forces it), always or never.")]
