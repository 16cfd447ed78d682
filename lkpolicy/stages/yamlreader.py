"""The YAML parts of the config reader: ruamel.yaml's scanner and composer, bounded against
hostile input and reading the text as linuxkit's Go YAML does.

* Bounds: collections nested more than `MAX_DEPTH` deep (in the scanner, before its look-ahead
  over open flow collections gets quadratic, and in the composer) and documents of more than
  `MAX_NODES` nodes are refused with `LimitExceeded`; `MAX_LINE_CHARS` is checked by the loader
  before any of this runs.
* Comments are skipped as ruamel's plain scanner skips them (the loader reads them itself,
  `stages/yamlcomments`), while the round-trip scanner's scalar rules stay.
* Tabs follow libyaml's rules, which linuxkit's Go YAML (a port of libyaml) follows and ruamel's
  scanner does not: a tab separates tokens wherever a simple key cannot start (after a value,
  after `key:`) and inside plain scalars, may follow a block scalar's indicators, and never
  indents; tests/test_linuxkit_differential.py compares verdicts and built bytes with linuxkit.
* Untagged plain scalars are tagged `PLAIN_TAG`, so that the loader types them as yaml.v3 does.
"""

from __future__ import annotations

import functools
import string
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_LINE_CHARS", "MAX_NODES", "PLAIN_TAG", "YAML_TAG", "LimitExceeded",
           "reader_parts"]

MAX_NODES = 20_000
"""Bounds alias expansion ("billion laughs") as well as plain size: the largest LinuxKit
config has a few hundred nodes, and parsing and judging 20,000 takes seconds already."""
MAX_LINE_CHARS = 16 * 1024
"""Real lines are under 400 characters. The YAML scanner slows down on very long lines (a
4 MB comment line took minutes), and every finding shows its source line."""
MAX_DEPTH = 64
"""Nesting of collections; real configs nest about 6 deep. Deeper documents would exhaust
the stack of the recursive composer and of every stage after it."""

PLAIN_TAG = "tag:lkpolicy:plain"
YAML_TAG = "tag:yaml.org,2002:"


class LimitExceeded(Exception):
    """Raised by the composer when the document is nested too deeply or has too many nodes."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


_LINE_END = "\0\r\n\x85\u2028\u2029"
_ANCHOR_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-")
_AFTER_ANCHOR = frozenset(_LINE_END + " \t?:,]}%@`")


@functools.cache
def reader_parts() -> tuple[Any, Any, Any]:
    """The resolver, scanner and composer classes of the config reader (import
    `lkpolicy.stages.yamlcompose` first: it keeps ruamel.yaml's dumper unloaded)."""
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.scanner import RoundTripScanner, Scanner, ScannerError
    from ruamel.yaml.tag import Tag

    class PlainMarkingResolver(VersionedResolver):
        """Tags untagged plain scalars with a marker so that we type them ourselves."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode:
                if implicit[0]:
                    return Tag(suffix=PLAIN_TAG)
                return Tag(suffix=YAML_TAG + "str")
            return super().resolve(kind, value, implicit)

    class BoundedComposer(Composer):
        """Counts nodes and nesting while composing, before the recursion gets deep and
        before a huge node graph exists."""

        nesting = 0  # not `depth`: ruamel's Composer has one of its own
        composed = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.composed += 1
            self.nesting += 1
            try:
                if self.nesting > MAX_DEPTH or self.composed > MAX_NODES:
                    mark = self.parser.peek_event().start_mark
                    if self.nesting > MAX_DEPTH:
                        raise LimitExceeded(f"collections nested more than {MAX_DEPTH} deep",
                                             mark)
                    raise LimitExceeded(f"the document has more than {MAX_NODES} nodes", mark)
                return super().compose_node(parent, index)
            finally:
                self.nesting -= 1

    class BoundedScanner(RoundTripScanner):
        """Stops flow nesting at the bound while scanning: the scanner looks ahead over every
        open `[`/`{` for each token, so a thousand of them cost a million steps before the
        composer sees its first node."""

        def fetch_flow_collection_start(self, token_class: Any, to_push: Any) -> None:
            if self.flow_level >= MAX_DEPTH:
                raise LimitExceeded(f"collections nested more than {MAX_DEPTH} deep",
                                     self.reader.get_mark())
            super().fetch_flow_collection_start(token_class, to_push)

        # Comments skipped as the plain scanner skips them: the round-trip scanner turns each
        # into a token and walks the queue for them on every token asked for (a third of the
        # loader's time), while lkpolicy reads comments itself (`stages/yamlcomments`). The
        # round-trip scanner's scalar rules (block scalars, line breaks, tags) stay.
        def scan_to_next_token(self) -> None:
            peek, forward = self.reader.peek, self.reader.forward
            if self.reader.index == 0 and peek() == "\ufeff":
                forward()
            while True:
                # libyaml's rule for tabs, which linuxkit's Go YAML follows and ruamel's does
                # not: a tab separates tokens in flow context and wherever a simple key cannot
                # start (after a scalar, after `key:`), never where it would indent one. So
                # `image:<TAB>x` and a tab after a value are read as linuxkit reads them.
                blanks = " \t" if self.flow_level or not self.allow_simple_key else " "
                while peek() in blanks:
                    forward()
                if peek() == "#":
                    while peek() not in _LINE_END:
                        forward()
                if not self.scan_line_break():
                    return
                if not self.flow_level:
                    self.allow_simple_key = True

        plain_in_flow = False

        @property
        def scanner_processing_version(self) -> Any:
            # ruamel ends a plain scalar at `?` in a flow collection only for YAML 1.1, and
            # libyaml always does (`[a?b]` fails in linuxkit); within `scan_plain` that is the
            # only use of the version.
            if self.plain_in_flow:
                return (1, 1)
            return super().scanner_processing_version

        def scan_plain(self) -> Any:
            self.plain_in_flow = bool(self.flow_level)
            try:
                return super().scan_plain()
            finally:
                self.plain_in_flow = False

        def check_value(self) -> Any:
            # In a flow collection libyaml takes every `:` for a value indicator; ruamel starts
            # a plain scalar at `:x` there.
            return bool(self.flow_level) or super().check_value()

        def scan_block_scalar(self, style: Any, rt: Any = True) -> Any:
            # Not ruamel's round-trip form of a folded scalar, which marks each fold with a
            # BEL character (`\a`) for its dumper: the text is what YAML folds it to.
            token = super().scan_block_scalar(style, rt=False)
            # linuxkit fails on a block scalar whose text starts with an empty line ("did not
            # find expected key"), though libyaml reads it; an empty scalar is fine.
            if token.value[:1] in ("\n", "\r") and token.value.strip("\r\n"):
                raise ScannerError("while scanning a block scalar", token.start_mark,
                                   "found an empty first line, which linuxkit cannot read "
                                   "(it fails with `did not find expected key`): start the "
                                   "text on the first line, or use a quoted string with `\\n`",
                                   token.start_mark)
            return token

        def scan_anchor(self, token_class: Any) -> Any:
            # libyaml's anchor and alias names: ASCII letters, digits, `_` and `-`, then a
            # blank, a line end or one of `?:,]}%@` and a backquote; ruamel takes more.
            peek, forward = self.reader.peek, self.reader.forward
            start_mark = self.reader.get_mark()
            what = "alias" if peek() == "*" else "anchor"
            forward()
            length = 0
            while peek(length) in _ANCHOR_CHARACTERS:
                length += 1
            if not length or peek(length) not in _AFTER_ANCHOR:
                raise ScannerError(f"while scanning an {what}", start_mark,
                                   "did not find expected alphabetic or numeric character",
                                   start_mark)
            name = self.reader.prefix(length)
            forward(length)
            return token_class(name, start_mark, self.reader.get_mark())

        def scan_plain_spaces(self, indent: Any, start_mark: Any) -> Any:
            # libyaml's rule again: blanks inside a plain scalar may be tabs, so `a<TAB>b` is
            # one scalar as linuxkit reads it; ruamel's scanner stops at the tab.
            peek = self.reader.peek
            length = 0
            while peek(length) in " \t":
                length += 1
            blanks = self.reader.prefix(length)
            if "\t" not in blanks:
                return super().scan_plain_spaces(indent, start_mark)
            self.reader.forward(length)
            if peek() in _LINE_END[1:]:
                # Blanks before a line break are not part of the scalar.
                return super().scan_plain_spaces(indent, start_mark)
            return [blanks]

        def scan_block_scalar_indicators(self, start_mark: Any) -> Any:
            # `|`, `>` and their chomping and indentation indicators, then a blank (a tab
            # too, in libyaml) or the end of the line.
            peek, forward = self.reader.peek, self.reader.forward
            chomping: bool | None = None
            increment: int | None = None
            for _ in range(2):
                indicator = peek()
                if chomping is None and indicator in "+-":
                    chomping = indicator == "+"
                elif increment is None and indicator in "0123456789":
                    if indicator == "0":
                        raise ScannerError("while scanning a block scalar", start_mark,
                                           "expected indentation indicator in the range 1-9, "
                                           "but found 0", self.reader.get_mark())
                    increment = int(indicator)
                else:
                    break
                forward()
            if peek() not in _LINE_END + " \t#":
                raise ScannerError("while scanning a block scalar", start_mark,
                                   "expected chomping or indentation indicators, but found "
                                   f"{peek()!r}", self.reader.get_mark())
            return chomping, increment

        def scan_block_scalar_ignored_line(self, start_mark: Any) -> Any:
            # After `|` or `>`, blanks before a comment or the line break may be tabs.
            while self.reader.peek() in " \t":
                self.reader.forward()
            return super().scan_block_scalar_ignored_line(start_mark)

        def scan_block_scalar_indentation(self) -> Any:
            # The first line of a block scalar sets its indentation, and in libyaml only spaces
            # may make it: a tab after them is an error there, where ruamel takes it as text.
            found = super().scan_block_scalar_indentation()
            if self.reader.peek() == "\t":
                raise ScannerError("while scanning a block scalar", None,
                                   "found a tab character where an indentation space is "
                                   "expected", self.reader.get_mark())
            return found

        check_token = Scanner.check_token
        peek_token = Scanner.peek_token
        get_token = Scanner.get_token

    return PlainMarkingResolver, BoundedScanner, BoundedComposer
