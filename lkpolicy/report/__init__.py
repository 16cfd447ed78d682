"""Output formats of `lkpolicy check`.

Only the model is imported eagerly; each format is imported when it is rendered, because the
CLI runs in pre-commit on every commit and pays for every import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

from lkpolicy.report.model import Report

FORMATS = ("text", "json", "sarif", "github")
DEFAULT_FORMAT = "text"

__all__ = ["DEFAULT_FORMAT", "FORMATS", "Report", "render", "use_color"]


def use_color(stream: TextIO | None, environ: Mapping[str, str] | None = None,
              choice: str = "auto") -> bool:
    """Whether text output to `stream` (None: a file) should be coloured.

    `--color always` and `never` decide alone. `auto` asks the environment: a non-empty
    NO_COLOR (https://no-color.org) turns colour off, else a non-empty FORCE_COLOR
    (https://force-color.org) turns it on, else `TERM=dumb` turns it off, else the stream
    must be a terminal. (NO_COLOR wins over FORCE_COLOR, as in CPython.)
    """
    if choice != "auto":
        return choice == "always"
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb" or stream is None:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        # A closed or replaced stream (pytest capture, a pipe wrapper) is no terminal.
        return False


def render(format_name: str, report: Report, *, color: bool = False) -> str:
    """The whole output for `report`, ending with a newline (empty for a clean `github` run).

    `color` applies to `text` only; machine formats never carry escape sequences.
    """
    if format_name == "text":
        from lkpolicy.report.text import render_text

        return render_text(report, color=color)
    if format_name == "json":
        from lkpolicy.report.json_format import render_json

        return render_json(report)
    if format_name == "sarif":
        from lkpolicy.report.sarif import render_sarif

        return render_sarif(report)
    if format_name == "github":
        from lkpolicy.report.github import render_github

        return render_github(report)
    raise ValueError(f"unknown output format {format_name!r} (use {', '.join(FORMATS)})")
