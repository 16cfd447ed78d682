"""The `org.mobyproject.config` label: an image's defaults for its container entry."""

from __future__ import annotations

from typing import Any

from lkpolicy.stages.effective.types import LABEL_KEY, LabelValidator, SpecError

__all__ = ["MAX_LABEL_BYTES", "parse_label"]

MAX_LABEL_BYTES = 16 * 1024
"""Labels of linuxkit's own packages are under 1 KiB (the largest 719 bytes); a label of
megabytes is an attack on the parser, refused before it is parsed."""


def parse_label(
    text: str, validate_label: LabelValidator | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Parse and check an `org.mobyproject.config` label (spec section 10).

    Returns the label as plain data and warnings (e.g. ignored extra YAML documents).
    """
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.load import EMPTY_FILE, NOT_A_MAPPING, load_document

    size = len(text.encode("utf-8", "surrogateescape"))
    if size > MAX_LABEL_BYTES:
        raise SpecError(f"the label is {size} bytes, more than {MAX_LABEL_BYTES} "
                        "(labels of real packages are under 1 KiB)")
    not_object = SpecError(f"JSON is an array not an object: {text}")
    try:
        document, warnings = load_document(LABEL_KEY, data=text.encode("utf-8", "surrogateescape"))
    except InputError as error:
        first = error.findings[0]
        if first.rule_id in (EMPTY_FILE.id, NOT_A_MAPPING.id):
            raise not_object from None
        raise SpecError(first.message, details=[f.message for f in error.findings]) from None
    label = document.data
    # The loader reads a null document as an empty config; for a label linuxkit rejects it.
    if not isinstance(label, dict) or (not label and not _root_is_mapping(text)):
        raise not_object
    if validate_label is not None:
        checked = dict(label)
        checked["name"] = "dummyname"
        checked["image"] = "dummyimage"
        errors = validate_label({"services": [checked]})
        if errors:
            raise SpecError("invalid configuration label", details=errors)
    for key in ("name", "image"):
        # Only the typed decode sees these: validation ran on a copy with dummy values.
        if label.get(key) not in (None, ""):
            raise SpecError(f"{key} cannot be set in metadata label")
    return label, [warning.message for warning in warnings]


def _root_is_mapping(text: str) -> bool:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode

    root = next(iter(YAML(typ="safe", pure=True).compose_all(text)), None)
    return isinstance(root, MappingNode)
