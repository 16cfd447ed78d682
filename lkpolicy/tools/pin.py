"""Pin image references to digests by editing only their scalar tokens in the YAML text.

Reviewers must see nothing but the digests in the diff, so the edit is a span replacement on
the original text (`lkpolicy.tools.textedit`): only the ranges of the reference tokens are
rewritten.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lkpolicy.model.config import merge
from lkpolicy.model.document import Document
from lkpolicy.model.reference import ImageRef, ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.tools.textedit import (
    OverlapError,
    Replacement,
    Token,
    apply_replacements,
    compose_with_tokens,
    node_at,
    render_diff,
    render_scalar,
    same_data,
)

__all__ = ["PinChange", "PinError", "PinPlan", "PinProblem", "ProblemKind", "ReferenceSite",
           "ResolveError", "Resolver", "Status", "apply_pins", "find_references", "plan_pins",
           "render_diff"]

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
        node = node_at(root, pointer)
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


def _site(document: Document, pointer: str, value: str, token: Token | None,
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


def _load(text: str, path: str) -> tuple[Document, Any, dict[int, Token], int]:
    from lkpolicy.stages.load import load_document

    # The loader drops a byte order mark; positions here must index the caller's text.
    offset = 1 if text.startswith("\ufeff") else 0
    document, _warnings = load_document(path, text.encode("utf-8", "surrogatepass"))
    root, tokens = compose_with_tokens(text[offset:])
    return document, root, tokens, offset


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


def apply_pins(text: str, plan: PinPlan, *, verify: bool = True) -> str:
    """The text with each change's token replaced; every byte outside those spans is kept.

    With `verify`, the result is loaded again and must equal the original data except at the
    changed references, so a quoting mistake can never produce a file that means otherwise.
    """
    if not plan.changes:
        return text
    try:
        result = apply_replacements(text, [Replacement(change.start, change.end, change.token)
                                           for change in plan.changes])
    except OverlapError:
        first = min(plan.changes, key=lambda c: c.start)
        raise PinError(f"overlapping changes at {plan.path}:{first.line}:{first.column}") from None
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
    if not same_data(old.data, new.data, edits):
        raise PinError(f"{plan.path}: the pinned text reads back differently; nothing was written")
