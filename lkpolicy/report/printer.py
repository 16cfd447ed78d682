"""The one printer: every line a command writes about a config, an image or a server goes
through here, and is escaped for the terminal on the way.

A YAML key, an image label, a registry's error text or a tag name can hold ESC and other
control characters that would let a crafted input rewrite the terminal, hide a line or forge
a clean result. Machine formats (JSON, SARIF) escape them by their own syntax; everything
else is escaped here, so no command can echo them by forgetting to.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from lkpolicy.model.findings import Finding

TAB = "    "
"""Tabs are expanded by us, not the terminal, so a caret lines up whatever its tab stops."""

# Bidirectional overrides and isolates can make a line display differently from what the
# YAML parser reads ("Trojan Source"); a security tool must show them, not obey them.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069")
# Line and paragraph separators are text to YAML but line breaks to some terminals and editors.
_SEPARATORS = frozenset("\u2028\u2029")


def _escape_char(char: str, keep: str) -> str:
    if char in keep:
        return char
    code = ord(char)
    if char == "\t":
        return TAB
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if char in _BIDI_CONTROLS or char in _SEPARATORS:
        return f"\\u{code:04x}"
    return char


def sanitize(text: str, *, keep: str = "") -> str:
    """Untrusted text made safe to print on a terminal; `keep` lists characters to leave as
    they are (a multi-line block keeps its line breaks: `keep="\\n"`)."""
    if text.isprintable() and "\t" not in text:
        return text
    return "".join(_escape_char(char, keep) for char in text)


def finding_line(finding: Finding) -> str:
    """`file:line:col: severity RULE message`, escaped."""
    return sanitize(f"{finding.location}: {finding.severity.label} {finding.rule_id} "
                    f"{finding.message}")


class Printer:
    """Where a command's lines go: results to standard output, diagnostics to standard
    error, each escaped."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out
        self._err = err

    @property
    def out_stream(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err_stream(self) -> TextIO:
        return self._err or sys.stderr

    def out(self, line: str) -> None:
        self.out_stream.write(sanitize(line) + "\n")

    def block(self, text: str) -> None:
        """A multi-line result (a rendered config, a diff) on standard output."""
        self.out_stream.write(sanitize(text, keep="\n"))
        self.out_stream.flush()

    def err(self, line: str) -> None:
        self.err_stream.write(sanitize(line) + "\n")
        self.err_stream.flush()

    def findings(self, findings: Iterable[Finding]) -> None:
        """One line each, and the hint that tells the fix under it."""
        for finding in findings:
            self.err_stream.write(finding_line(finding) + "\n")
            if finding.hint:
                first, *rest = sanitize(finding.hint, keep="\n").splitlines() or [""]
                self.err_stream.write(f"  = hint: {first}\n"
                                      + "".join(f"    {line}\n" for line in rest))
        self.err_stream.flush()
