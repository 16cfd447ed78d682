"""Pin image references to digests by editing only their scalar tokens in the YAML text.

A YAML round trip (load, modify, dump) would reflow the file: comments move, quotes change,
indentation is normalised. Reviewers must see nothing but the digests in the diff, so the
edit is a span replacement on the original text: ruamel's scanner gives each scalar token
its exact character range, and only those ranges are rewritten.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lkpolicy.model.config import merge
from lkpolicy.model.document import Document, split_pointer
from lkpolicy.model.reference import ImageRef, ReferenceError
from lkpolicy.model.reference import parse as parse_reference

_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class ResolveError(Exception):
    """A reference could not be resolved to a digest; the message says why, on one line."""


class PinError(Exception):
    """The rewritten text would not mean what the plan says (a bug guard, never expected)."""


class Resolver(Protocol):
    def resolve(self, ref: ImageRef) -> str:
        """The sha256 digest of the top-level manifest or index that `ref`'s tag names.

        `ref` never carries a digest. Raise `ResolveError` when it cannot be resolved.
        """
        ...


ResolveArg = Resolver | Callable[[ImageRef], str]


class Status(enum.Enum):
    PINNED = "pinned"
    UNPINNED = "unpinned"
    TEMPLATE = "template"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class ReferenceSite:
    """One image reference as written in the file."""

    pointer: str
    """JSON pointer of the first place the value is used."""
    line: int
    column: int
    """1-based position of the scalar token itself (after any anchor or tag)."""
    value: str
    status: Status
    message: str = ""
    start: int = -1
    end: int = -1
    """Character range of the scalar token in the text; -1 when it could not be located."""
    style: str = ""
    """'' plain, '"' or "'" quoted, '|' or '>' block."""
    in_flow: bool = False
    aliases: tuple[str, ...] = ()
    """Further pointers that reach the same node through YAML aliases."""

    @property
    def pinned(self) -> bool:
        return self.status is Status.PINNED

    @property
    def needs_pin(self) -> bool:
        """Unpinned in a way `pin` can in principle fix, or a broken reference."""
        return self.status in (Status.UNPINNED, Status.INVALID)


@dataclass(frozen=True, slots=True)
class PinChange:
    pointer: str
    line: int
    column: int
    old: str
    new: str
    start: int
    end: int
    token: str
    """The replacement text for `[start, end)`, quoted as the original was."""
    aliases: tuple[str, ...] = ()


class ProblemKind(enum.Enum):
    UNRESOLVED = "unresolved"
    """The resolver failed: the run cannot complete."""
    SKIPPED = "skipped"
    """Left alone by design (template, invalid reference, block scalar, foreign digest)."""


@dataclass(frozen=True, slots=True)
class PinProblem:
    pointer: str
    line: int
    column: int
    reference: str
    message: str
    kind: ProblemKind


@dataclass(slots=True)
class PinPlan:
    path: str
    changes: list[PinChange] = field(default_factory=list)
    problems: list[PinProblem] = field(default_factory=list)
    sites: list[ReferenceSite] = field(default_factory=list)
    document: Document | None = field(default=None, repr=False, compare=False)
    """The loaded original, which `apply_pins` compares the result with."""

    @property
    def unresolved(self) -> list[PinProblem]:
        return [p for p in self.problems if p.kind is ProblemKind.UNRESOLVED]

    @property
    def already_pinned(self) -> int:
        changed = {change.pointer for change in self.changes}
        return sum(1 for site in self.sites if site.pinned and site.pointer not in changed)


# --- locating references -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    line: int
    column: int
    style: str
    in_flow: bool


def find_references(text: str, path: str) -> list[ReferenceSite]:
    """Every image reference of the first document, once per YAML node, in file order.

    Raises the loader's `InputError` for anything linuxkit could not read.
    """
    return _find(text, path)[1]


def _find(text: str, path: str) -> tuple[Document, list[ReferenceSite]]:
    document, root, tokens, offset = _load(text, path)
    sites: list[ReferenceSite] = []
    by_node: dict[int, int] = {}
    for pointer, value in _reference_values(document):
        node = _node_at(root, pointer)
        if node is not None and id(node) in by_node:
            index = by_node[id(node)]
            sites[index] = replace(sites[index], aliases=(*sites[index].aliases, pointer))
            continue
        token = tokens.get(node.end_mark.index) if node is not None else None
        if node is not None:
            by_node[id(node)] = len(sites)
        sites.append(_site(document, pointer, value, token, offset))
    sites.sort(key=lambda site: (site.line, site.column))
    return document, sites


def _site(document: Document, pointer: str, value: str, token: _Token | None,
          offset: int) -> ReferenceSite:
    if token is None:
        location = document.location(pointer)
        line, column = location.line, location.column
        position: dict[str, Any] = {}
    else:
        line, column = token.line, token.column
        position = {"start": token.start + offset, "end": token.end + offset,
                    "style": token.style, "in_flow": token.in_flow}
    if value.startswith("@"):
        what = ("an `@pkg:` template: linuxkit builds the package, there is nothing to pin"
                if value.startswith("@pkg:") else
                "template syntax: linuxkit replaces it with an empty string")
        return ReferenceSite(pointer, line, column, value, Status.TEMPLATE, what, **position)
    try:
        ref = parse_reference(value)
    except ReferenceError as error:
        return ReferenceSite(pointer, line, column, value, Status.INVALID,
                             f"not a valid image reference: {error}", **position)
    problems = ref.registry_problems()
    if problems:
        return ReferenceSite(pointer, line, column, value, Status.INVALID,
                             f"a registry would reject it: {'; '.join(problems)}", **position)
    if ref.pinned:
        return ReferenceSite(pointer, line, column, value, Status.PINNED, **position)
    message = "not pinned"
    if ref.digest is not None:
        message = f"digest `{ref.digest}` is not a sha256 digest"
    return ReferenceSite(pointer, line, column, value, Status.UNPINNED, message, **position)


def _load(text: str, path: str) -> tuple[Document, Any, dict[int, _Token], int]:
    from lkpolicy.stages.load import load_document

    # The loader drops a byte order mark; positions here must index the caller's text.
    offset = 1 if text.startswith("\ufeff") else 0
    document, _warnings = load_document(path, text.encode("utf-8", "surrogatepass"))
    body = text[offset:]
    root = _compose_first(body)
    return document, root, _scalar_tokens(body), offset


def _make_yaml() -> Any:
    from ruamel.yaml import YAML

    # Positions and styles are all that is needed here; the round-trip scanner would spend
    # most of its time collecting comments. The loader has already judged the text.
    return YAML(typ="safe", pure=True)


def _compose_first(text: str) -> Any:
    return next(iter(_make_yaml().compose_all(text)), None)


def _scalar_tokens(text: str) -> dict[int, _Token]:
    """Scalar tokens keyed by end index.

    A node's start mark includes its anchor and tag (`&a !!str x`), but its end mark is the
    end of the scalar token, which therefore identifies the token exactly.
    """
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.tokens import (
        FlowMappingEndToken,
        FlowMappingStartToken,
        FlowSequenceEndToken,
        FlowSequenceStartToken,
        ScalarToken,
    )

    tokens: dict[int, _Token] = {}
    depth = 0
    try:
        for token in _make_yaml().scan(text):
            if isinstance(token, FlowSequenceStartToken | FlowMappingStartToken):
                depth += 1
            elif isinstance(token, FlowSequenceEndToken | FlowMappingEndToken):
                depth -= 1
            elif isinstance(token, ScalarToken):
                start, end = token.start_mark, token.end_mark
                tokens[end.index] = _Token(start.index, end.index, start.line + 1, start.column + 1,
                                           token.style or "", depth > 0)
    except YAMLError:
        # Only a later document can be broken (the first one loaded); linuxkit ignores those,
        # and tokens past the first document never match one of its nodes anyway.
        pass
    return tokens


def _reference_values(document: Document) -> list[tuple[str, str]]:
    """(pointer, value) of every image reference that is a non-empty string."""
    config = merge([document])
    nodes = []
    image = config.kernel.get("image")
    if image is not None:
        nodes.append(image)
    nodes.extend(config.section("init"))
    for section in ("onboot", "onshutdown", "services", "volumes"):
        for item in config.section(section):
            child = item.child("image")
            if child is not None:
                nodes.append(child)
    return [(node.pointer, node.value) for node in nodes
            if isinstance(node.value, str) and node.value]


def _node_at(root: Any, pointer: str) -> Any:
    """The composed node at a data pointer, following merge keys as the loader does."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    node = root
    for part in split_pointer(pointer):
        if isinstance(node, SequenceNode):
            index = int(part)
            node = node.value[index] if 0 <= index < len(node.value) else None
        elif isinstance(node, MappingNode):
            node = _mapping_value(node, part, set())
        else:
            node = None
        if node is None:
            return None
    return node


def _mapping_value(node: Any, key: str, active: set[int]) -> Any:
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if id(node) in active:
        return None
    active.add(id(node))
    sources: list[Any] = []
    for key_node, value_node in node.value:
        if _is_merge_key(key_node):
            sources.extend(value_node.value if isinstance(value_node, SequenceNode) else [value_node])
        elif isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node
    # Explicit keys win over merged ones, and earlier merge sources over later ones.
    for source in sources:
        if isinstance(source, MappingNode):
            found = _mapping_value(source, key, active)
            if found is not None:
                return found
    return None


def _is_merge_key(node: Any) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    if not isinstance(node, ScalarNode) or node.value != "<<":
        return False
    tag = str(getattr(node.tag, "value", node.tag) or "")
    return not node.style or tag.endswith(":merge")


# --- planning ----------------------------------------------------------------------------


def plan_pins(text: str, path: str, resolve: ResolveArg, *, update: bool = False) -> PinPlan:
    """What `pin` would change in `text`. Resolves each distinct name once.

    Raises `InputError` when the loader cannot read the text.
    """
    resolve_function = _as_function(resolve)
    document, sites = _find(text, path)
    plan = PinPlan(path, sites=sites, document=document)
    resolved: dict[str, str | ResolveError] = {}
    for site in plan.sites:
        if site.status is Status.TEMPLATE or site.status is Status.INVALID:
            plan.problems.append(_problem(site, site.message, ProblemKind.SKIPPED))
            continue
        if site.status is Status.PINNED and not update:
            continue
        if site.start < 0:
            plan.problems.append(_problem(site, "cannot locate the value in the text",
                                          ProblemKind.SKIPPED))
            continue
        ref = parse_reference(site.value)
        if ref.digest is not None and not ref.pinned and not update:
            plan.problems.append(_problem(
                site, f"{site.message}; `--update` replaces it", ProblemKind.SKIPPED))
            continue
        if site.style in ("|", ">"):
            plan.problems.append(_problem(site, "a block scalar cannot be pinned in place; "
                                          "write the reference on one line", ProblemKind.SKIPPED))
            continue
        bare = replace(ref, original=ref.original.split("@", 1)[0], digest=None)
        key = bare.expanded
        if key not in resolved:
            resolved[key] = _resolve_one(resolve_function, bare)
        outcome = resolved[key]
        if isinstance(outcome, ResolveError):
            plan.problems.append(_problem(site, f"cannot resolve `{key}`: {outcome}",
                                          ProblemKind.UNRESOLVED))
            continue
        new = ref.with_digest(outcome)
        if new == site.value:
            continue
        if _digest_of(new) != outcome:
            # `#` or `?` make linuxkit's URL-style parse drop whatever follows, the digest too.
            plan.problems.append(_problem(site, "linuxkit would not read a digest appended to "
                                          "this reference", ProblemKind.SKIPPED))
            continue
        plan.changes.append(PinChange(
            site.pointer, site.line, site.column, site.value, new, site.start, site.end,
            render_scalar(new, site.style, in_flow=site.in_flow), site.aliases))
    return plan


def _digest_of(value: str) -> str | None:
    try:
        return parse_reference(value).digest
    except ReferenceError:
        return None


def _as_function(resolve: ResolveArg) -> Callable[[ImageRef], str]:
    method = getattr(resolve, "resolve", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(resolve):
        return resolve
    raise TypeError("resolve must be a Resolver or a callable")


def _resolve_one(resolve: Callable[[ImageRef], str], ref: ImageRef) -> str | ResolveError:
    try:
        digest = resolve(ref)
    except ResolveError as error:
        return error
    if not isinstance(digest, str) or not _SHA256_RE.match(digest):
        return ResolveError(f"the resolver returned {digest!r}, not a sha256 digest")
    return digest


def _problem(site: ReferenceSite, message: str, kind: ProblemKind) -> PinProblem:
    return PinProblem(site.pointer, site.line, site.column, site.value, message, kind)


# --- rewriting ---------------------------------------------------------------------------


_PLAIN_FIRST_FORBIDDEN = frozenset(",[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = frozenset(",[]{}")


def plain_safe(value: str, *, in_flow: bool) -> bool:
    """Whether `value` reads back as the same string when written as a plain scalar."""
    from lkpolicy.gocompat.yamlscalars import resolve_plain_scalar

    if not value or value != value.strip() or not value.isprintable():
        return False
    first = value[0]
    if first in _PLAIN_FIRST_FORBIDDEN:
        return False
    if first in "-?:" and (len(value) == 1 or value[1] == " " or
                           (in_flow and value[1] in _FLOW_INDICATORS)):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    if in_flow and any(ch in _FLOW_INDICATORS for ch in value):
        return False
    if value.startswith(("---", "...")):
        return False
    # yaml.v3 would type `1.0` or `true` as a number or boolean, not as the string.
    typed: object = resolve_plain_scalar(value)
    return typed == value


def render_scalar(value: str, style: str, *, in_flow: bool) -> str:
    """`value` as a scalar token in the original style; plain falls back to double quotes."""
    if style == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    if style == "" and plain_safe(value, in_flow=in_flow):
        return value
    return _double_quoted(value)


def _double_quoted(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def apply_pins(text: str, plan: PinPlan, *, verify: bool = True) -> str:
    """The text with each change's token replaced; every byte outside those spans is kept.

    With `verify`, the result is loaded again and must equal the original data except at the
    changed references, so a quoting mistake can never produce a file that means otherwise.
    """
    if not plan.changes:
        return text
    pieces: list[str] = []
    cursor = 0
    for change in sorted(plan.changes, key=lambda c: c.start):
        if change.start < cursor:
            raise PinError(f"overlapping changes at {plan.path}:{change.line}:{change.column}")
        pieces.append(text[cursor:change.start])
        pieces.append(change.token)
        cursor = change.end
    pieces.append(text[cursor:])
    result = "".join(pieces)
    if verify:
        _verify(text, result, plan)
    return result


def _verify(old_text: str, new_text: str, plan: PinPlan) -> None:
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.load import load_document

    old = plan.document
    if old is None or old.text != old_text.removeprefix("\ufeff"):
        old, _ = load_document(plan.path, old_text.encode("utf-8", "surrogatepass"))
    try:
        new, _ = load_document(plan.path, new_text.encode("utf-8", "surrogatepass"))
    except InputError as error:
        raise PinError(f"{plan.path}: the pinned text no longer loads: {error}") from None
    # An anchored reference may also be aliased outside the reference fields; such a copy
    # changes with it, so a difference is accepted wherever it is exactly one change's edit.
    edits = {change.old: change.new for change in plan.changes}
    if not _same(old.data, new.data, edits):
        raise PinError(f"{plan.path}: the pinned text reads back differently; nothing was written")


def _same(left: Any, right: Any, edits: dict[str, str]) -> bool:
    """Deep equality up to `edits` (old -> new strings); NaN equals NaN, `1` differs from `True`."""
    if isinstance(left, str) and left in edits and right == edits[left]:
        return True
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k], edits) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(
            _same(a, b, edits) for a, b in zip(left, right, strict=True))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


# --- output ------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    # Only YAML's line breaks split: str.splitlines() would also split at U+2028 and friends.
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def render_diff(path: str, old: str, new: str) -> str:
    """A unified diff with git's `a/` and `b/` prefixes, ready for `git apply` or `patch -p1`."""
    name = path[2:] if path.startswith("./") else path.lstrip("/")
    out: list[str] = []
    for line in difflib.unified_diff(_lines(old), _lines(new), f"a/{name}", f"b/{name}"):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)

