"""Read a LinuxKit config file the way linuxkit (gopkg.in/yaml.v3) reads it, keeping positions.

ruamel.yaml parses and composes the node graph; scalar typing is ours, because yaml.v3 is
neither YAML 1.1 nor plain YAML 1.2: `yes` is a string, but `0644` is octal 420.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from lkpolicy.gocompat.yamlscalars import resolve_plain_scalar
from lkpolicy.model.document import Document, Scalar, join_pointer, json_type
from lkpolicy.model.findings import Finding, InputError, Location, Severity
from lkpolicy.model.rules import define_rule
from lkpolicy.stages.yamlreader import (
    MAX_DEPTH,
    MAX_LINE_CHARS,
    MAX_NODES,
    PLAIN_TAG,
    YAML_TAG,
    LimitExceeded,
    reader_parts,
)

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""The largest LinuxKit config in the wild is a few KiB; anything this big is a mistake."""
_CATEGORY = "input"

UNREADABLE = define_rule(
    "LK100", "unreadable-file", "The config file cannot be read", Severity.ERROR, _CATEGORY,
    "lkpolicy cannot judge a file it cannot open.",
    "Check the path and the file permissions.",
)
YAML_SYNTAX = define_rule(
    "LK101", "yaml-syntax-error", "The file is not valid YAML", Severity.ERROR, _CATEGORY,
    "linuxkit rejects a config that does not parse (`yaml: line N: ...`).",
    "Fix the YAML syntax at the position shown; indentation and unquoted `:` are the usual causes.",
)
DUPLICATE_KEY = define_rule(
    "LK102", "duplicate-key", "A mapping key is defined twice", Severity.ERROR, _CATEGORY,
    "yaml.v3 rejects duplicate keys (`mapping key \"k\" already defined at line M`); other YAML "
    "tools silently keep the last value, so a file can mean different things to different tools.",
    "Remove one of the two keys, or merge their values.",
)
NON_STRING_KEY = define_rule(
    "LK103", "non-string-key", "A mapping key is not a string", Severity.ERROR, _CATEGORY,
    "linuxkit converts the document to a JSON model whose keys must be strings: a key such as "
    "`1:` or `true:` crashes linuxkit at the top level (a Go panic) and fails with a JSON error "
    "deeper down.",
    "Quote the key (`\"1\":`) or remove it.",
    linuxkit="panics (exit 2) on a top-level non-string key; lkpolicy reports an error instead.",
)
EMPTY_FILE = define_rule(
    "LK104", "empty-file", "The file holds no YAML document", Severity.ERROR, _CATEGORY,
    "linuxkit fails on an empty file, or one with only comments, with the bare message `EOF`.",
    "Add the config, or write `---` alone for an intentionally empty config.",
)
NOT_A_MAPPING = define_rule(
    "LK105", "document-not-mapping", "The document is not a mapping", Severity.ERROR, _CATEGORY,
    "A LinuxKit config is a mapping with keys such as `kernel` and `services`; linuxkit fails to "
    "decode a list or a scalar (`cannot unmarshal !!seq into moby.Moby`).",
    "Make the top level a mapping of config sections.",
)
BAD_ENCODING = define_rule(
    "LK106", "bad-encoding", "The file is not valid UTF-8 text", Severity.ERROR, _CATEGORY,
    "YAML is text; yaml.v3 rejects invalid UTF-8 and control characters.",
    "Save the file as UTF-8.",
)
BINARY_FILE = define_rule(
    "LK107", "binary-file", "The file is binary, not YAML", Severity.ERROR, _CATEGORY,
    "A NUL byte never occurs in a text config; the path most likely names the wrong file.",
    "Pass the YAML config, not a build output or an archive.",
)
TOO_LARGE = define_rule(
    "LK108", "file-too-large", "The file or its alias expansion is too large", Severity.ERROR,
    _CATEGORY,
    f"Configs are a few KiB. lkpolicy refuses files over {MAX_CONFIG_BYTES // (1024 * 1024)} MiB, "
    f"lines over {MAX_LINE_CHARS} characters, collections nested more than {MAX_DEPTH} deep and "
    f"documents of more than {MAX_NODES} nodes (also through aliases), so a hostile file cannot "
    "exhaust time or memory.",
    "Check that the path names a LinuxKit config; split generated content out of it.",
)
EXTRA_DOCUMENTS = define_rule(
    "LK109", "extra-documents-ignored", "Documents after the first are ignored", Severity.WARNING,
    _CATEGORY,
    "linuxkit reads only the first YAML document of a file; anything after a `---` separator is "
    "silently dropped.",
    "Move the content into the first document, or pass each document as its own file.",
)
RECURSIVE_ALIAS = define_rule(
    "LK110", "recursive-alias", "An alias refers to a node that contains it", Severity.ERROR,
    _CATEGORY,
    "A recursive structure has no JSON form; linuxkit cannot validate it.",
    "Remove the recursive alias.",
)

def _resolve_tagged_scalar(tag: str, text: str) -> Any:
    if tag == YAML_TAG + "str":
        return text
    if tag == YAML_TAG + "null":
        return None
    resolved = resolve_plain_scalar(text)
    if tag == YAML_TAG + "int" and isinstance(resolved, int) and not isinstance(resolved, bool):
        return resolved
    if tag == YAML_TAG + "float" and isinstance(resolved, int | float) and not isinstance(resolved, bool):
        return float(resolved)
    if tag == YAML_TAG + "bool" and isinstance(resolved, bool):
        return resolved
    # Unknown local tags (`!foo`) keep the text, as yaml.v3 does for strings.
    return text


class _Converter:
    """Turns a ruamel node graph into plain data plus positions, with yaml.v3's rules."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.value_positions: dict[str, tuple[int, int]] = {}
        self.key_positions: dict[str, tuple[int, int]] = {}
        self.scalars: dict[str, Scalar] = {}
        self.errors: list[Finding] = []
        self.nodes = 0
        self._active: set[int] = set()

    def location(self, node: Any) -> Location:
        mark = node.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1)

    def convert(self, node: Any, pointer: str) -> Any:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise InputError(TOO_LARGE.finding(
                f"the document expands to more than {MAX_NODES} nodes (alias expansion?)",
                self.location(node), pointer))
        mark = node.start_mark
        self.value_positions.setdefault(pointer, (mark.line + 1, mark.column + 1))
        if isinstance(node, ScalarNode):
            return self._scalar(node, pointer)
        if id(node) in self._active:
            raise InputError(RECURSIVE_ALIAS.finding(
                "recursive alias: this node contains itself", self.location(node), pointer,
                hint="replace the alias with the values it should stand for"))
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item, join_pointer(pointer, index))
                        for index, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, pointer)
        finally:
            self._active.discard(id(node))
        raise InputError(YAML_SYNTAX.finding("unsupported YAML node", self.location(node), pointer))

    def _scalar(self, node: Any, pointer: str) -> Any:
        tag = str(node.tag.suffix if hasattr(node.tag, "suffix") else node.tag)
        text: str = node.value
        style = node.style or ""
        if tag == PLAIN_TAG:
            value = resolve_plain_scalar(text)
            if isinstance(value, int) and not isinstance(value, bool) and _is_legacy_octal(text):
                self.scalars[pointer] = Scalar(text, style)
            return value
        if style == '"' and _SURROGATE_RE.search(text):
            text = _repair_surrogates(text)
        if text.startswith("@"):
            self.scalars[pointer] = Scalar(text, style)
        return _resolve_tagged_scalar(tag, text)

    def _key(self, node: Any, pointer: str) -> str | None:
        from ruamel.yaml.nodes import ScalarNode

        if not isinstance(node, ScalarNode):
            self.errors.append(NON_STRING_KEY.finding(
                "mapping key is a collection, not a string", self.location(node), pointer,
                hint="write the key as a plain or quoted string, or remove the entry"))
            return None
        key = self._scalar(node, pointer + "#key")
        self.scalars.pop(pointer + "#key", None)
        if not isinstance(key, str):
            shown = node.value if node.value else "null"
            self.errors.append(NON_STRING_KEY.finding(
                f"mapping key `{shown}` is a {json_type(key)}, not a string (linuxkit crashes on it)",
                self.location(node), pointer, hint=f'quote it: "{node.value}"'))
            return None
        return key

    def _mapping(self, node: Any, pointer: str) -> dict[str, Any]:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        result: dict[str, Any] = {}
        seen: dict[str, Location] = {}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            if _is_merge_key(key_node):
                if isinstance(value_node, SequenceNode):
                    merged.extend(value_node.value)
                else:
                    merged.append(value_node)
                continue
            key = self._key(key_node, pointer)
            if key is None:
                continue
            child = join_pointer(pointer, key)
            key_location = self.location(key_node)
            if key in seen:
                first = seen[key]
                self.errors.append(DUPLICATE_KEY.finding(
                    f'mapping key "{key}" already defined at line {first.line}',
                    key_location, child, related=[first],
                    hint=f"remove one of the two `{key}:` entries, or merge their values"))
                continue
            seen[key] = key_location
            self.key_positions.setdefault(child, (key_location.line, key_location.column))
            if _is_empty_plain(value_node):
                # An empty value has no token of its own; ruamel marks the next one instead.
                self.value_positions.setdefault(child, (key_location.line, key_location.column))
            result[key] = self.convert(value_node, child)
        # Explicit keys win over merged ones; earlier merge sources win over later ones.
        for source in merged:
            if not isinstance(source, MappingNode):
                self.errors.append(YAML_SYNTAX.finding(
                    "map merge requires map or sequence of maps as the value",
                    self.location(source), pointer))
                continue
            for key, value in self._mapping(source, pointer).items():
                result.setdefault(key, value)
        return result


def _is_merge_key(node: Any) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    tag = str(getattr(node.tag, "suffix", node.tag))
    return isinstance(node, ScalarNode) and node.value == "<<" and tag in (PLAIN_TAG, YAML_TAG + "merge")


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _repair_surrogates(text: str) -> str:
    """`"\\ud83d\\ude00"` escapes decode to lone surrogates; pair them, replace the rest by U+FFFD.

    Lone surrogates cannot be encoded as UTF-8, so letting one through would crash every output.
    """
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _is_empty_plain(node: Any) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    return isinstance(node, ScalarNode) and node.value == "" and not node.style


def _is_legacy_octal(text: str) -> bool:
    body = text.lstrip("+-").replace("_", "")
    return len(body) > 1 and body[0] == "0" and body[1].isdigit()


def read_source(path: str) -> tuple[bytes, bool]:
    """Read the raw bytes of a config (`-` is standard input), bounded in size; FIFOs and
    devices are refused before they are opened."""
    from lkpolicy.safeio import NotRegularFile, TooLarge, read_regular_file

    if path == "-":
        data = sys.stdin.buffer.read(MAX_CONFIG_BYTES + 1)
        from_file = False
    else:
        try:
            data = read_regular_file(path, MAX_CONFIG_BYTES, "config")
        except OSError as error:
            reason = error.strerror or str(error)
            raise InputError(UNREADABLE.finding(
                f"cannot read the file: {reason}", Location(path),
                hint="check the path, and that you may read the file")) from None
        except TooLarge:
            raise InputError(_too_large(path)) from None
        except NotRegularFile as error:
            if "directory" in str(error):
                reason = "is a directory, not a config file"
            else:
                reason = f"is not a regular file{_kind_suffix(str(error))}; refused without reading it"
            raise InputError(UNREADABLE.finding(
                reason, Location(path),
                hint="name the config files (a directory is searched for *.yml and *.yaml)"
                if "directory" in reason else "name a config file")) from None
        from_file = True
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(_too_large(path))
    return data, from_file


def _too_large(path: str) -> Finding:
    return TOO_LARGE.finding(
        f"the file is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; this is not a LinuxKit config",
        Location(path))


def _kind_suffix(message: str) -> str:
    start = message.rfind(" (")
    return message[start:] if start >= 0 and message.endswith(")") else ""


def decode_text(path: str, data: bytes) -> str:
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    if encoding == "utf-8-sig" and b"\x00" in data:
        offset = data.index(b"\x00")
        line = data.count(b"\n", 0, offset) + 1
        raise InputError(BINARY_FILE.finding(
            f"the file contains a NUL byte at offset {offset}: a binary file, not YAML",
            Location(path, line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1),
            hint="pass the YAML config, not a build output or an archive"))
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        offset = error.start
        line = data.count(b"\n", 0, offset) + 1
        column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        raise InputError(BAD_ENCODING.finding(
            f"invalid UTF-8 byte 0x{data[offset]:02x}", Location(path, line, column),
            hint="save the file as UTF-8")) from None


def load_document(path: str, data: bytes | None = None) -> tuple[Document, list[Finding]]:
    """Parse one config file. Fatal problems raise `InputError`; warnings come back as findings."""
    from_file = True
    if data is None:
        data, from_file = read_source(path)
    text = decode_text(path, data)
    # YAML forbids C0 controls other than tab, LF and CR in the stream.
    control = _CONTROL.search(text)
    if control is not None:
        index = control.start()
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        raise InputError(BAD_ENCODING.finding(
            f"control character U+{ord(control.group()):04X} is not allowed in YAML",
            Location(path, line, column),
            hint="remove the character, or write it as an escape in a double-quoted string "
                 f'(`"\\u{ord(control.group()):04x}"`)'))
    _check_line_lengths(path, text)
    return _parse(path, text, from_file)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""YAML 1.2 line breaks, the only ones that count in the loader's line numbers."""


def _check_line_lengths(path: str, text: str) -> None:
    """Before the scanner sees the text: a line too long to be a config line is refused."""
    if len(text) <= MAX_LINE_CHARS:
        return
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise InputError(TOO_LARGE.finding(
                f"line {number} has {len(line)} characters, more than {MAX_LINE_CHARS}; "
                "this is not a LinuxKit config line", Location(path, number, MAX_LINE_CHARS + 1)))


def _parse(path: str, text: str, from_file: bool) -> tuple[Document, list[Finding]]:
    from lkpolicy.stages.yamlcompose import MarkedYAMLError, YAMLError, compose_all

    warnings: list[Finding] = []
    resolver, scanner, composer = reader_parts()
    documents = compose_all(text, resolver, scanner=scanner, composer=composer)
    try:
        root = next(documents, _NO_DOCUMENT)
    except LimitExceeded as error:
        raise InputError(TOO_LARGE.finding(error.message, _mark_location(path, error.mark))) from None
    except MarkedYAMLError as error:
        raise InputError(_syntax_finding(path, error)) from None
    except RecursionError:
        raise InputError(TOO_LARGE.finding("the document is nested too deeply",
                                           Location(path, 1, 1))) from None
    except (YAMLError, ValueError) as error:
        raise InputError(YAML_SYNTAX.finding(_one_line(str(error)), Location(path, 1, 1))) from None
    if root is _NO_DOCUMENT:
        raise InputError(EMPTY_FILE.finding(
            "the file holds no YAML document (linuxkit: EOF)", Location(path, 1, 1),
            hint="add the config, or write `---` alone for a config that is empty on purpose"))
    warnings.extend(_ignored_documents(path, documents))

    converter = _Converter(path)
    try:
        data = converter.convert(root, "") if root is not None else None
    except RecursionError:
        raise InputError(TOO_LARGE.finding("the document is nested too deeply", Location(path, 1, 1))) from None
    if converter.errors:
        converter.errors.sort(key=Finding.sort_key)
        raise InputError(*converter.errors)
    if data is None:
        data = {}  # a lone `---` is an empty config to linuxkit
    if not isinstance(data, dict):
        raise InputError(NOT_A_MAPPING.finding(
            f"the document is a {_kind(data)}, but a LinuxKit config must be a mapping",
            Location(path, *converter.value_positions.get("", (1, 1))),
            hint="write the config's sections (`kernel:`, `init:`, `onboot:`, `services:` ...) "
                 "as the keys of the top level"))
    document = Document(path, text, data, converter.value_positions, converter.key_positions,
                        converter.scalars, from_file)
    return document, warnings


_NO_DOCUMENT: Any = object()


def _ignored_documents(path: str, documents: Any) -> list[Finding]:
    from ruamel.yaml.error import YAMLError

    starts: list[int] = []
    broken = ""
    try:
        for node in documents:
            starts.append(node.start_mark.line + 1 if node is not None else 0)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        broken = f"; the ignored part also has a YAML error at line {mark.line + 1}" if mark else ""
        starts.append(starts[-1] if starts else 0)
    except (RecursionError, LimitExceeded):
        starts.append(0)
    if not starts:
        return []
    line = next((s for s in starts if s), 1)
    return [EXTRA_DOCUMENTS.finding(
        f"{len(starts)} more YAML document(s) after the first are ignored by linuxkit{broken}",
        Location(path, line, 1),
        hint="move their content into the first document, or give each document a file "
             "of its own")]


def _mark_location(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    return f"scalar ({json_type(value)})"


def _syntax_finding(path: str, error: Any) -> Finding:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    if error.context and error.problem:
        problem = f"{error.problem} ({error.context})"
    location = _mark_location(path, mark)
    context = error.context_mark
    related = []
    if context is not None and error.problem_mark is not None and context.line != mark.line:
        # The construct that stayed open is often where the mistake is (linuxkit reports it).
        related.append(Location(path, context.line + 1, context.column + 1))
    problem = _one_line(problem)
    hint = next((hint for sign, hint in _SYNTAX_HINTS if sign in problem), None)
    return YAML_SYNTAX.finding(problem, location, related=related, hint=hint)


_SYNTAX_HINTS = (
    ("'\\t' that cannot start", "indent with spaces: YAML does not allow tabs there"),
    ("mapping values are not allowed", "quote a value that holds `: `, or put the key on "
                                        "a line of its own"),
    ("undefined alias", "define the anchor (`&NAME`) before the alias (`*NAME`) uses it"),
    ("expected <block end>", "indent this line as its siblings above are indented"),
    ("flow sequence", "close the list with `]`, and separate its items with `,`"),
    ("flow mapping", "close the mapping with `}`, and separate its entries with `,`"),
    ("quoted scalar", "close the quoted string with the quote it opens with"),
    ("could not find expected ':'", "add `:` after the key, or quote the whole value"),
)
"""ruamel.yaml's problems that have one usual fix."""


def _one_line(text: str) -> str:
    return " ".join(text.split())

