"""What lkpolicy reads from the text of a CEL condition, besides what the CEL runtime does
with it: the member chains it names (for the position of a finding), its string literals, and
its comprehension macros (to bound the cost of evaluating it).

A small lexer, not a parser: CEL's lexical grammar (strings with their prefixes and triple
quotes, `//` comments, identifiers, back-quoted field names) is enough to find `config.mounts`
in `config.mounts.exists(m, m.source == "/")` and the macro around it. The CEL checker has
already accepted the text when this runs, so the lexer never has to judge it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MACROS", "Chain", "Shape", "read_shape"]

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
"""CEL's comprehension macros: each one loops over a list or map."""
WITNESS_MACROS = frozenset({"all", "exists", "exists_one", "filter"})
"""Macros whose predicate picks out elements: the first element it holds for (or, for `all`,
fails for) is where the finding points."""

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
                                        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?[uU]?|\.[0-9]+)
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<quoted>`[^`\n]*`)
  | (?P<punct>\|\||&&|==|!=|<=|>=|[-+*/%!<>.,?:()\[\]{}])
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Chain:
    """`root.a.b[0]['c']`: a variable and the fields and indexes selected from it."""

    root: str
    path: tuple[str | int, ...]
    macro: str | None = None
    """The comprehension macro called on the chain (`config.mounts.exists(...)`), if any."""
    variable: str | None = None
    """The macro's loop variable."""
    predicate: str | None = None
    """The macro's predicate, as text (None for `map` and for a malformed call)."""


@dataclass(frozen=True, slots=True)
class Shape:
    chains: tuple[Chain, ...]
    literals: tuple[str, ...]
    """String literals, decoded (raw and byte strings as written)."""
    macros: int
    """How many comprehension macros the text calls."""
    depth: int
    """The deepest nesting of one macro in another's arguments (0: no macro)."""


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            position += 1  # the checker accepted the text: nothing here matters to us
            continue
        kind = match.lastgroup or "punct"
        if kind != "space":
            tokens.append(_Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    return tokens


def _literal(text: str) -> str:
    prefix = re.match(r"[rRbB]*", text)
    raw = prefix is not None and "r" in prefix.group().lower()
    body = text[prefix.end() if prefix else 0:]
    quote = 3 if body[:3] in ('"""', "'''") else 1
    body = body[quote:-quote]
    if raw:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def _field(token: _Token) -> str:
    return token.text[1:-1] if token.kind == "quoted" else token.text


def read_shape(text: str, variables: frozenset[str]) -> Shape:
    """The chains rooted at `variables`, the literals and the macro use of a condition."""
    tokens = _tokens(text)
    chains: list[Chain] = []
    literals = [_literal(t.text) for t in tokens if t.kind == "string"]
    macros = depth = 0
    open_macros: list[bool] = []
    for index, token in enumerate(tokens):
        previous = tokens[index - 1].text if index else ""
        if token.text == "(":
            is_macro = previous in MACROS and index >= 2 and tokens[index - 2].text == "."
            if is_macro:
                macros += 1
                depth = max(depth, sum(open_macros) + 1)
            open_macros.append(is_macro)
        elif token.text == ")" and open_macros:
            open_macros.pop()
        elif token.kind == "ident" and token.text in variables and previous != ".":
            chains.append(_chain(text, tokens, index))
    return Shape(tuple(chains), tuple(literals), macros, depth)


def _chain(text: str, tokens: list[_Token], index: int) -> Chain:
    root = tokens[index].text
    path: list[str | int] = []
    position = index + 1
    while position < len(tokens):
        token = tokens[position]
        following = tokens[position + 1] if position + 1 < len(tokens) else None
        if token.text == "." and following is not None and following.kind in ("ident", "quoted"):
            after = tokens[position + 2] if position + 2 < len(tokens) else None
            if after is not None and after.text == "(":
                return _call(text, tokens, root, tuple(path), following.text, position + 2)
            path.append(_field(following))
            position += 2
            continue
        closing = tokens[position + 2] if position + 2 < len(tokens) else None
        if token.text == "[" and following is not None and closing is not None \
                and closing.text == "]" and following.kind in ("string", "number"):
            if following.kind == "string":
                path.append(_literal(following.text))
            elif following.text.isdigit():
                path.append(int(following.text))
            else:
                break
            position += 3
            continue
        break
    return Chain(root, tuple(path))


def _call(text: str, tokens: list[_Token], root: str, path: tuple[str | int, ...], name: str,
          opening: int) -> Chain:
    """A method call on a chain: for a comprehension macro, its loop variable and predicate."""
    if name not in MACROS:
        return Chain(root, path)
    variable = tokens[opening + 1] if opening + 1 < len(tokens) else None
    comma = tokens[opening + 2] if opening + 2 < len(tokens) else None
    if variable is None or comma is None or variable.kind != "ident" or comma.text != ",":
        return Chain(root, path, name)
    level = 0
    for position in range(opening + 3, len(tokens)):
        token = tokens[position]
        if token.text in "([{":
            level += 1
        elif token.text in ")]}":
            if level == 0:
                if token.text != ")" or name not in WITNESS_MACROS:
                    break
                start = tokens[opening + 3].start if opening + 3 < position else token.start
                return Chain(root, path, name, variable.text, text[start:token.start].strip())
            level -= 1
        elif token.text == "," and level == 0:
            break  # a second argument: `map(x, filter, transform)` has no single predicate
    return Chain(root, path, name, variable.text)
