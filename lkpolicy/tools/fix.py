"""`lkpolicy check --fix`: apply the fixes that findings carry, at exact spans of the YAML text.

Each `Fix` (`lkpolicy.model.fixes`) says what the loaded data must become. Here every edit of
it is located in the text (the scalar token, the key token, the lines or the flow entry of a
removed node) and turned into a character replacement (`lkpolicy.tools.textedit`); nothing
else in the file changes. Then the edited text is loaded again and must equal the original
data with exactly the fixes' changes applied: a fix that would mean anything more (an anchored
value that an alias copies elsewhere, a quoting slip) is refused, not written. Two fixes that
touch the same characters are refused too (the first in file order is kept).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lkpolicy.model.document import Document, split_pointer
from lkpolicy.model.findings import Finding, InputError
from lkpolicy.model.fixes import Edit, EditKind, Fix
from lkpolicy.tools.textedit import (
    OverlapError,
    Replacement,
    Token,
    apply_replacements,
    compose_with_tokens,
    is_merge_key,
    node_at,
    overlaps,
    render_scalar,
    same_data,
)

MAX_SINGLE_TRIES = 500
"""When the fixes of a file together do not verify, each is tried alone to find the culprit;
beyond this many fixes in one file, none is applied instead."""


OVERLAPS = "it overlaps another fix"
"""Why a fix waits for the next round of `--fix` (which judges the edited file again)."""


class Unfixable(Exception):
    """The fix cannot be applied here; the message says why, for `--fix`'s notes."""


@dataclass(slots=True)
class FileFixes:
    """What `--fix` does to one file."""

    path: str
    old: str
    new: str
    fixed: list[Finding] = field(default_factory=list)
    refused: list[tuple[Finding, str]] = field(default_factory=list)
    raw: bytes = b""
    """The file's bytes as read (its encoding and byte order mark are kept)."""

    @property
    def changed(self) -> bool:
        return self.new != self.old

    @property
    def waiting(self) -> bool:
        """Some fix was left for another round because it overlapped one applied now."""
        return any(why == OVERLAPS for _finding, why in self.refused)


def fix_files(findings: list[Finding], documents: dict[str, Document]) -> tuple[
        list[FileFixes], list[str]]:
    """The fixes of `findings`, file by file, and notes on files that cannot be fixed. Each
    file is read again and must still hold the text that was judged (`documents`)."""
    from lkpolicy.stages.load import decode_text, read_source

    results: list[FileFixes] = []
    notes: list[str] = []
    for path in sorted({f.location.file for f in findings if f.fix is not None}):
        document = documents.get(path)
        if document is None:
            notes.append(f"{path}: not a checked config")
            continue
        try:
            if not document.from_file:  # standard input, read once by the gate
                raw, text = document.text.encode("utf-8", "surrogatepass"), document.text
            else:
                raw, _from_file = read_source(path)
                text = decode_text(path, raw)
            if text.removeprefix("\ufeff") != document.text:
                notes.append(f"{path}: the file changed while it was checked; nothing fixed")
                continue
            result = fix_text(path, text, findings)
        except InputError as error:
            notes.append(f"{path}: {error.findings[0].message}")
            continue
        result.raw = raw
        results.append(result)
    return results, notes


def usable_fixes(findings: list[Finding], documents: dict[str, Document]) -> list[Finding]:
    """`findings` without the fixes that `--fix` would refuse in the judged text (an anchored
    value, a block scalar, an entry that shares its line, a file that did not load), so that
    a finding carries a fix exactly when `--fix` applies it. A fix that overlaps another one
    keeps it: `--fix` applies it in its next round."""
    from dataclasses import replace

    refused: set[int] = set()
    for path in sorted({f.location.file for f in findings if f.fix is not None}):
        document = documents.get(path)
        if document is not None and document.data is not None and _only_sets_scalars(
                document, [f.fix for f in findings if f.fix is not None
                           and f.location.file == path]):
            continue
        try:
            if document is None or document.data is None:
                raise Unfixable("the file did not load")
            result = fix_text(path, document.text, findings, document)
        except (InputError, Unfixable):
            refused.update(id(f) for f in findings if f.fix is not None and f.location.file == path)
            continue
        refused.update(id(finding) for finding, why in result.refused if why != OVERLAPS)
    return [replace(f, fix=None) if id(f) in refused else f for f in findings]


def _only_sets_scalars(document: Document, fixes: list[Fix]) -> bool:
    """Whether every fix only rewrites a scalar written in place, in a text without anchors,
    aliases, tags or merge keys: nothing but those values can then change, and `--fix`
    applies them (and proves it by reading the file again, as always) without this check
    paying for that reading on every file whose images it could pin."""
    text = document.text
    if any(mark in text for mark in ("&", "*", "!", "<<")):
        return False
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for fix in fixes:
        for edit in fix.edits:
            position = document.value_positions.get(edit.pointer)
            if edit.kind is not EditKind.SET or position is None \
                    or not 0 < position[0] <= len(lines):
                return False
            first = lines[position[0] - 1][position[1] - 1:position[1]]
            if first in ("", "|", ">", "[", "{") or first.isspace():
                return False  # a block scalar, a collection, or no token where it should be
    return True


def write_fixes(results: list[FileFixes]) -> None:
    """Write every changed file, each atomically (a temporary file renamed over it), only
    after all of them were computed and verified. Raises OSError."""
    from lkpolicy.tools.textedit import write_like

    for result in results:
        if result.changed:
            write_like(result.path, result.raw, result.new)


def fix_text(path: str, text: str, findings: Iterable[Finding],
             document: Document | None = None) -> FileFixes:
    """Apply the fixes of `findings` (those about `path`) to `text`, the file's content;
    `document`: `text` as the gate loaded it, if at hand.

    Raises `InputError` when the text does not load (then nothing is fixable)."""
    from lkpolicy.stages.load import load_document

    candidates = [f for f in findings if f.fix is not None and f.location.file == path]
    result = FileFixes(path, text, text)
    if not candidates:
        return result
    if document is None:
        document, _warnings = load_document(path, text.encode("utf-8", "surrogatepass"))
    locator = _Locator(text)
    planned: list[tuple[Finding, list[Replacement]]] = []
    for finding in candidates:
        assert finding.fix is not None
        try:
            replacements = [locator.replacement(edit) for edit in finding.fix.edits]
        except Unfixable as why:
            result.refused.append((finding, str(why)))
            continue
        clash = any(overlaps(mine, theirs) for _f, taken in planned
                    for mine in replacements for theirs in taken)
        if clash:
            result.refused.append((finding, OVERLAPS))
            continue
        planned.append((finding, replacements))
    accepted = _verified(path, text, document, planned, result)
    if accepted:
        result.new = _apply(text, accepted)
        result.fixed = [finding for finding, _r in accepted]
    return result


def _verified(path: str, text: str, document: Document,
              planned: list[tuple[Finding, list[Replacement]]],
              result: FileFixes) -> list[tuple[Finding, list[Replacement]]]:
    """The planned fixes that, applied together, change exactly what they say."""
    if not planned or _means_exactly(path, text, document, planned):
        return planned
    if len(planned) > MAX_SINGLE_TRIES:
        result.refused.extend((finding, "the fixes together would change more than they say")
                              for finding, _r in planned)
        return []
    alone = []
    for item in planned:
        if _means_exactly(path, text, document, [item]):
            alone.append(item)
        else:
            result.refused.append((item[0], "the edited file would read back differently "
                                            "(an anchored value, or a quoting limit)"))
    if len(alone) < len(planned) and alone and not _means_exactly(path, text, document, alone):
        result.refused.extend((finding, "the fixes together would change more than they say")
                              for finding, _r in alone)
        return []
    return alone


def _apply(text: str, planned: list[tuple[Finding, list[Replacement]]]) -> str:
    return apply_replacements(text, [r for _f, replacements in planned for r in replacements])


def _means_exactly(path: str, text: str, document: Document,
                   planned: list[tuple[Finding, list[Replacement]]]) -> bool:
    from lkpolicy.stages.load import load_document

    try:
        new_text = _apply(text, planned)
        new, _warnings = load_document(path, new_text.encode("utf-8", "surrogatepass"))
        expected = expected_data(document.data, [edit for finding, _r in planned
                                                 if finding.fix is not None
                                                 for edit in finding.fix.edits])
    except (InputError, OverlapError, Unfixable):
        return False
    return same_data(expected, new.data)


def expected_data(data: Any, edits: list[Edit]) -> Any:
    """`data` as the edits say it becomes. Pointers name nodes of the original data, so values
    are set first, then keys are renamed and nodes removed, deepest and last first."""
    result = copy.deepcopy(data)
    sets = [edit for edit in edits if edit.kind is EditKind.SET]
    others = sorted((edit for edit in edits if edit.kind is not EditKind.SET), key=_depth_first)
    for edit in [*sets, *others]:
        parts = split_pointer(edit.pointer)
        if not parts:
            raise Unfixable("the whole document cannot be edited")
        parent = _walk(result, parts[:-1])
        last = parts[-1]
        if isinstance(parent, list):
            index = int(last) if last.isdigit() else -1
            if not 0 <= index < len(parent) or edit.kind is EditKind.RENAME:
                raise Unfixable(f"no list item at {edit.pointer}")
            if edit.kind is EditKind.SET:
                parent[index] = edit.value
            else:
                del parent[index]
        elif isinstance(parent, dict) and last in parent:
            if edit.kind is EditKind.SET:
                parent[last] = edit.value
            elif edit.kind is EditKind.REMOVE:
                del parent[last]
            else:
                renamed = {(edit.value if key == last else key): value
                           for key, value in parent.items()}
                parent.clear()
                parent.update(renamed)
        else:
            raise Unfixable(f"nothing at {edit.pointer}")
    return result


def _depth_first(edit: Edit) -> tuple[int, int]:
    parts = split_pointer(edit.pointer)
    last = parts[-1] if parts else ""
    return -len(parts), -(int(last) if last.isdigit() else 0)


def _walk(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise Unfixable("the value moved")
    return data


class _Locator:
    """Finds the characters of the nodes that edits name."""

    def __init__(self, text: str) -> None:
        # The loader drops a byte order mark; positions here must index the caller's text.
        self.offset = 1 if text.startswith("\ufeff") else 0
        self.text = text
        self.root, self.tokens = compose_with_tokens(text[self.offset:])

    def replacement(self, edit: Edit) -> Replacement:
        if edit.kind is EditKind.SET:
            return self._set(edit)
        parts = split_pointer(edit.pointer)
        if not parts:
            raise Unfixable("the whole document cannot be edited")
        parent_pointer = edit.pointer[:edit.pointer.rfind("/")]
        parent = node_at(self.root, parent_pointer)
        entries = _entries(parent)
        match = next((i for i, (key, _v) in enumerate(entries) if key == parts[-1]), None)
        if match is None:
            raise Unfixable("the value comes through a YAML merge key or alias")
        if edit.kind is EditKind.RENAME:
            return self._rename(parent, match, edit)
        return self._remove(parent, entries, match)

    def _token(self, node: Any) -> Token:
        from ruamel.yaml.nodes import ScalarNode

        token = self.tokens.get(node.end_mark.index) if isinstance(node, ScalarNode) else None
        if token is None:
            raise Unfixable("the value is not a scalar written in the file")
        if token.style in ("|", ">"):
            raise Unfixable("a block scalar is not rewritten; write the value on one line")
        return token

    def _span(self, token: Token, text: str) -> Replacement:
        return Replacement(token.start + self.offset, token.end + self.offset, text)

    def _set(self, edit: Edit) -> Replacement:
        token = self._token(node_at(self.root, edit.pointer))
        value = edit.value
        if edit.text is not None:
            text = edit.text
        elif isinstance(value, str):
            text = render_scalar(value, token.style, in_flow=token.in_flow)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        return self._span(token, text)

    def _rename(self, parent: Any, index: int, edit: Edit) -> Replacement:
        key_node = parent.value[index][0]
        token = self._token(key_node)
        if not isinstance(edit.value, str):
            raise Unfixable("a key is a string")
        return self._span(token, render_scalar(edit.value, token.style, in_flow=token.in_flow))

    def _remove(self, parent: Any, entries: list[tuple[str, Any]], index: int) -> Replacement:
        from ruamel.yaml.nodes import MappingNode, ScalarNode

        item = parent.value[index]
        first, last = (item[0], item[1]) if isinstance(parent, MappingNode) else (item, item)
        start, end = first.start_mark.index, last.end_mark.index
        if parent.flow_style:
            if index > 0:
                previous = parent.value[index - 1]
                previous_end = (previous[1] if isinstance(parent, MappingNode) else previous)
                start = previous_end.end_mark.index
            elif len(entries) > 1:
                following = parent.value[1]
                end = (following[0] if isinstance(parent, MappingNode) else following) \
                    .start_mark.index
            return Replacement(start + self.offset, end + self.offset, "")
        # A collection's end mark is where the next token starts, maybe lines further down:
        # its lines are found by their indentation instead.
        last_line = end if isinstance(last, ScalarNode) else start + 1
        return self._remove_lines(start, last_line, sequence=not isinstance(parent, MappingNode))

    def _remove_lines(self, start: int, end: int, *, sequence: bool) -> Replacement:
        """A block entry: its first line, and every later line indented deeper (or, for a
        mapping entry, a sequence written at the key's own indentation), up to its last line
        that is not blank."""
        body = self.text[self.offset:]
        line_start = body.rfind("\n", 0, start) + 1
        prefix = body[line_start:start]
        if prefix.strip() != ("-" if sequence else ""):
            raise Unfixable("the entry shares its line with another one")
        indent = len(prefix) - len(prefix.lstrip(" "))
        cursor = body.find("\n", max(end - 1, start))
        cut = len(body) if cursor < 0 else cursor + 1
        while cursor >= 0:
            next_end = body.find("\n", cursor + 1)
            line = body[cursor + 1: len(body) if next_end < 0 else next_end]
            stripped = line.strip()
            depth = len(line) - len(line.lstrip(" "))
            if stripped and not (depth > indent or (
                    not sequence and depth == indent and stripped[:2] in ("- ", "-"))):
                break
            if stripped:
                cut = len(body) if next_end < 0 else next_end + 1
            cursor = next_end
        return Replacement(line_start + self.offset, cut + self.offset, "")


def _entries(parent: Any) -> list[tuple[str, Any]]:
    """(key, node) of the mapping entries or list items written in `parent` itself."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if isinstance(parent, SequenceNode):
        return [(str(index), item) for index, item in enumerate(parent.value)]
    if isinstance(parent, MappingNode):
        return [(key.value if isinstance(key, ScalarNode) and not is_merge_key(key) else "\0",
                 value) for key, value in parent.value]
    raise Unfixable("the value is not in a mapping or a list")
