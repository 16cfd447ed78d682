"""Generated modules kept under the project's module size: a module whose text is longer than
the limit gives the definitions that others call (constants, helpers, the checks of the
deepest parts of the schema) to a second module, `<name>_parts.py`, which the first imports as
`parts`.

The generators render one module (which the tests can also run as it is); this cuts it in two.
The cut keeps the part closed: a definition moves only with everything it refers to, so the
part never imports the module, and the module's public names (its entry points) stay where
their importers look for them. Names that move lose their leading underscore, because another
module uses them; they are found by the parser, not by text search, so a string that happens
to spell a name is left alone.
"""

from __future__ import annotations

import ast
import io
import itertools
import tokenize
from dataclasses import dataclass

__all__ = ["split_module"]


@dataclass
class _Definition:
    name: str
    text: str
    refers_to: set[str]
    lines: int


def _definitions(source: str, tree: ast.Module) -> tuple[list[str], list[_Definition]]:
    """The header (comments, docstring, imports) as lines, then each top-level definition."""
    lines = source.splitlines()
    body = [node for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.FunctionDef)]
    if not body:
        return lines, []
    header = lines[:body[0].lineno - 1]
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        else:
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if not isinstance(target, ast.Name):
                raise ValueError(f"line {node.lineno}: only plain names can be split")
            names.append(target.id)
    known = set(names)
    definitions = []
    for name, node in zip(names, body, strict=True):
        assert node.end_lineno is not None
        text = "\n".join(lines[node.lineno - 1:node.end_lineno])
        used = {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}
        definitions.append(_Definition(name, text, (used & known) - {name},
                                       node.end_lineno - node.lineno + 1))
    covered = sum(definition.lines for definition in definitions)
    stray = [line for line in lines[len(header):] if line.strip()]
    if len(stray) != covered:
        raise ValueError("a generated module must hold only definitions after its imports")
    return header, definitions


def _callees_first(definitions: list[_Definition]) -> list[_Definition]:
    by_name = {definition.name: definition for definition in definitions}
    ordered: list[_Definition] = []
    seen: set[str] = set()
    for start in definitions:
        if start.name in seen:
            continue
        seen.add(start.name)
        stack = [(start, iter(sorted(start.refers_to)))]
        while stack:
            definition, pending = stack[-1]
            following = next((name for name in pending if name not in seen), None)
            if following is None:
                stack.pop()
                ordered.append(definition)
            else:
                seen.add(following)
                stack.append((by_name[following], iter(sorted(by_name[following].refers_to))))
    return ordered


def _renamed(text: str, renames: dict[str, str], qualified: bool) -> str:
    """`text` with each NAME token in `renames` replaced (as `parts.NEW` when `qualified`)."""
    if not renames:
        return text
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME and token.string in renames:
            new = renames[token.string]
            edits.append((token.start[0], token.start[1], token.end[1],
                          f"parts.{new}" if qualified else new))
    for row, start, end, new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + new + line[end:]
    return "".join(lines)


def _used_imports(header: list[str], body: str) -> list[str]:
    """The header with the imports that `body` does not use left out (names of `from`
    imports filtered); `from __future__` stays."""
    used = {node.id for node in ast.walk(ast.parse(body)) if isinstance(node, ast.Name)}
    kept: list[str] = []
    for line in header:
        statement = ast.parse(line).body if line.startswith(("import ", "from ")) else []
        if not statement:
            kept.append(line)
            continue
        node = statement[0]
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            kept.append(line)
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names if (alias.asname or alias.name) in used]
            if names:
                kept.append(f"from {node.module} import {', '.join(names)}")
        elif isinstance(node, ast.Import) and any(
                (alias.asname or alias.name) in used for alias in node.names):
            kept.append(line)
    # Imports dropped may leave two blank lines in a row.
    return [line for index, line in enumerate(kept)
            if line or index == 0 or kept[index - 1]]


def split_module(source: str, package: str, part_name: str, part_doc: str,
                 max_lines: int) -> tuple[str, str | None]:
    """(the module, its part or None): `source` as it is when it has at most `max_lines`
    lines; otherwise the module that imports `package`.`part_name` as `parts`, and the part."""
    if source.count("\n") <= max_lines:
        return source, None
    header, definitions = _definitions(source, ast.parse(source))
    total = sum(definition.lines for definition in definitions)
    taken: set[str] = set()
    size = 0
    # Callees first, so a definition's references are taken before it; a definition in a
    # cycle of references never is, and stays with the module.
    for definition in _callees_first(definitions):
        if size >= total // 2:
            break
        if definition.name.startswith("_") and definition.refers_to <= taken:
            taken.add(definition.name)
            size += definition.lines
    public = {definition.name for definition in definitions}
    renames = {name: name.lstrip("_") for name in taken}
    if set(renames.values()) & (public - taken):
        raise ValueError("a name without its underscore is taken: cannot split")
    rest = [definition for definition in definitions if definition.name not in taken]
    moved = [definition for definition in definitions if definition.name in taken]
    part_body = _joined([_renamed(d.text, renames, qualified=False) for d in moved])
    module_body = _joined([_renamed(d.text, renames, qualified=True) for d in rest])
    module_header = _used_imports(header, module_body)
    import_line = f"from {package} import {part_name} as parts"
    module_header = _with_import(module_header, import_line, package)
    comments = list(itertools.takewhile(lambda line: line.startswith("#"), header))
    part_header = [*comments, f'"""{part_doc}"""', "",
                   *_imports_only(_used_imports(header, part_body))]
    return (_module(module_header, module_body), _module(part_header, part_body))


def _joined(texts: list[str]) -> str:
    """Constants one per line, functions two blank lines apart, as the generators write."""
    out: list[str] = []
    for text in texts:
        if text.startswith(("def ", "@")):
            out += ["", "", text]
        else:
            out.append(text)
    return "\n".join(out)


def _module(header: list[str], body: str) -> str:
    while header and not header[-1]:
        header = header[:-1]
    body = body.lstrip("\n")
    gap = "\n\n\n" if body.startswith("def ") else "\n\n"
    return "\n".join(header) + gap + body + "\n"


def _imports_only(header: list[str]) -> list[str]:
    """The import lines of a header and the blank lines between them (no comments or
    docstring: the part has its own)."""
    start = next((index for index, line in enumerate(header)
                  if line.startswith(("import ", "from "))), len(header))
    return header[start:]


def _with_import(header: list[str], line: str, package: str) -> list[str]:
    """`header` with `line` added where isort puts it: among the first-party imports, sorted by
    module, or as a block of its own after the others."""
    first_party = [index for index, text in enumerate(header)
                   if text.startswith(f"from {package.split('.')[0]}")]
    if not first_party:
        last = max(index for index, text in enumerate(header)
                   if text.startswith(("import ", "from ")))
        return [*header[:last + 1], "", line, *header[last + 1:]]
    position = next((index for index in first_party if header[index] > line),
                    first_party[-1] + 1)
    return [*header[:position], line, *header[position:]]
