"""The config model that flows through the pipeline: merged sections of positioned nodes.

Several files merge as `linuxkit build a.yml b.yml` merges them (`AppendConfig`): kernel
fields override, lists concatenate. Every node keeps the document it came from, so a finding
on the merged config still names the right file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lkpolicy.model.document import Document, join_pointer
from lkpolicy.model.findings import Location

IMAGE_SECTIONS = ("onboot", "onshutdown", "services")
LIST_SECTIONS = ("init", "onboot", "onshutdown", "services", "files", "volumes")
KERNEL_NONEMPTY_OVERRIDE = ("image", "cmdline", "binary")
KERNEL_PRESENT_OVERRIDE = ("tar", "ucode")


@dataclass(frozen=True, slots=True)
class Node:
    """A value in the merged config and where it was written."""

    document: Document
    pointer: str
    value: Any

    @property
    def location(self) -> Location:
        return self.document.location(self.pointer)

    @property
    def key_location(self) -> Location:
        return self.document.location(self.pointer, key=True)

    def child(self, key: str | int) -> Node | None:
        value = self.value
        if isinstance(value, dict) and isinstance(key, str) and key in value:
            return Node(self.document, join_pointer(self.pointer, key), value[key])
        if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            return Node(self.document, join_pointer(self.pointer, key), value[key])
        return None

    def items(self) -> list[Node]:
        """Children of a list node (empty for anything else)."""
        if not isinstance(self.value, list):
            return []
        return [Node(self.document, join_pointer(self.pointer, index), item)
                for index, item in enumerate(self.value)]


@dataclass(slots=True)
class Config:
    documents: list[Document]
    kernel: dict[str, Node] = field(default_factory=dict)
    kernel_blocks: list[Node] = field(default_factory=list)
    """Every `kernel:` mapping, in file order (a merged kernel has no single position)."""
    sections: dict[str, list[Node]] = field(default_factory=dict)
    trust: list[Node] = field(default_factory=list)

    def section(self, name: str) -> list[Node]:
        return self.sections.get(name, [])

    def containers(self) -> list[tuple[str, int, Node]]:
        """(section, index in the merged section, node) for every onboot/onshutdown/service."""
        return [(section, index, node)
                for section in IMAGE_SECTIONS
                for index, node in enumerate(self.section(section))]

    @property
    def name(self) -> str:
        """linuxkit's default output name: the base name of the last file, without extension."""
        if not self.documents:
            return "moby"
        last = self.documents[-1]
        if not last.from_file:
            return "moby"
        base = last.path.rsplit("/", 1)[-1]
        return base.rsplit(".", 1)[0] if "." in base else base


def merge(documents: list[Document]) -> Config:
    """Append configs in argument order, as linuxkit does."""
    config = Config(documents, sections={name: [] for name in LIST_SECTIONS})
    for document in documents:
        root = Node(document, "", document.data)
        kernel = root.child("kernel")
        if kernel is not None and isinstance(kernel.value, dict):
            config.kernel_blocks.append(kernel)
            for key in KERNEL_NONEMPTY_OVERRIDE:
                child = kernel.child(key)
                if child is not None and child.value not in ("", None):
                    config.kernel[key] = child
            for key in KERNEL_PRESENT_OVERRIDE:
                child = kernel.child(key)
                if child is not None and child.value is not None:
                    config.kernel[key] = child
        for name in LIST_SECTIONS:
            section = root.child(name)
            if section is not None:
                config.sections[name].extend(section.items())
        trust = root.child("trust")
        if trust is not None:
            config.trust.append(trust)
    return config
