"""The built-in policy files, read without parsing their YAML (see `precompile`)."""

from __future__ import annotations

from pathlib import Path

from lkpolicy.model.document import Document
from lkpolicy.stages.policy.discovery import BUILTIN_DIR


def builtin_document(path: str) -> Document | None:
    """What `load_document(path)` gives, when `path` is a built-in policy file that still
    holds the text it was precompiled from; None otherwise (the loader then parses it)."""
    file = Path(path)
    if file.suffix != ".yml" or file.parent.resolve() != BUILTIN_DIR:
        return None
    from lkpolicy.stages.policy import builtin_documents as compiled

    text = compiled.TEXTS.get(file.stem)
    if text is None:
        return None
    expected = text.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read(len(expected) + 1) != expected:
                return None
    except OSError:
        return None  # the loader reports it
    data, value_positions, key_positions, scalars = compiled.PARTS[file.stem]()
    return Document(path, text, data, value_positions, key_positions, scalars)
