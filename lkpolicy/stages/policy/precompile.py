"""Write `builtin_documents.py`: the built-in policies as the YAML loader reads them.

    python -m lkpolicy.stages.policy.precompile          # rewrite builtin_documents.py
    python -m lkpolicy.stages.policy.precompile --check  # exit 1 if it is out of date

Every check that no project policy overrides reads `builtin:default`; parsing its YAML is about
a sixth of what the policy costs a check. The generated module holds each built-in file's
exact text and what `load_document` makes of it (data and positions), and
`builtins.builtin_document` uses it only while the file still holds that text.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lkpolicy.stages.policy.discovery import BUILTIN_DIR
from lkpolicy.stages.schemacheck.pysource import SchemaNotSupported, generator_main

OUTPUT = Path(__file__).resolve().parent / "builtin_documents.py"


def _literal(value: Any) -> str:
    """Python source that evaluates to `value` (plain YAML data, positions, scalars)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaNotSupported(f"{value!r} has no literal; keep built-in policies finite")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(key)}: {_literal(item)}"
                               for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(f"{_literal(item)}, " for item in value).rstrip(" ") + ")"
    return repr(value)  # str, int, float, bool, None; Scalar (a dataclass) by its repr


def render() -> str:
    from lkpolicy.stages.load import load_document

    texts: list[str] = []
    functions: list[str] = []
    for path in sorted(BUILTIN_DIR.glob("*.yml")):
        document, _warnings = load_document(str(path))
        name = path.stem
        texts.append(f"    {name!r}: {document.text!r},")
        functions += [
            "",
            "",
            f"def _{name}() -> Parts:",
            f"    return ({_literal(document.data)},",
            f"            {_literal(document.value_positions)},",
            f"            {_literal(document.key_positions)},",
            f"            {_literal(document.scalars)})",
        ]
    names = ", ".join(f"{path.stem!r}: _{path.stem}" for path in sorted(BUILTIN_DIR.glob("*.yml")))
    return "\n".join([
        "# Generated from lkpolicy/data/policies/*.yml; do not edit.",
        "# Regenerate with `python -m lkpolicy.stages.policy.precompile` after editing a built-in "
        "policy.",
        '"""The built-in policies as `load_document` reads them (see `builtins`)."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Callable",
        "from typing import Any",
        "",
        "from lkpolicy.model.document import Scalar",
        "",
        "Parts = tuple[Any, dict[str, tuple[int, int]], dict[str, tuple[int, int]],"
        " dict[str, Scalar]]",
        '"""data, value positions, key positions and scalars, as `Document` holds them."""',
        "",
        "TEXTS = {",
        *texts,
        "}",
        '"""Each built-in policy\'s text, by name."""',
        *functions,
        "",
        "",
        f"PARTS: dict[str, Callable[[], Parts]] = {{{names}}}",
        '"""Fresh parts of each built-in policy\'s document, by name."""',
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    return generator_main(argv, "lkpolicy.stages.policy.precompile", __doc__, OUTPUT, render)


if __name__ == "__main__":
    raise SystemExit(main())
