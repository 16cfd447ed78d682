"""Traps in what images a config names: references a registry refuses or that move, and a
kernel block without its image."""

from __future__ import annotations

from collections.abc import Iterator

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding, Severity
from lkpolicy.model.reference import ReferenceError
from lkpolicy.model.reference import parse as parse_reference
from lkpolicy.model.rules import define_rule
from lkpolicy.stages.lint.nodes import CATEGORY
from lkpolicy.stages.lint.registry import lint_check

REGISTRY_INVALID_REFERENCE = define_rule(
    "LK315", "invalid-registry-reference", "A registry would reject this image reference",
    Severity.ERROR, CATEGORY,
    "linuxkit's reference parser accepts upper case and spaces; the pull then fails, after the "
    "other images were downloaded.",
    "Use lower-case repository names, a valid tag and a `sha256:` digest.",
)
UNTAGGED_REFERENCE = define_rule(
    "LK316", "untagged-reference", "An image reference has neither tag nor digest",
    Severity.WARNING, CATEGORY,
    "linuxkit does not add `:latest`: it pulls and caches exactly the untagged name, which "
    "registries resolve to `latest`, a moving target.",
    "Add a tag and pin the digest (`lkpolicy pin`).",
)
KERNEL_WITHOUT_IMAGE = define_rule(
    "LK319", "kernel-without-image", "A `kernel` block without `image` builds no kernel",
    Severity.WARNING, CATEGORY,
    "Without `image`, linuxkit ignores `cmdline`, `binary`, `tar` and `ucode` and produces an "
    "image without a kernel.",
    "Add `image:`, or remove the `kernel` block.",
)


@lint_check(REGISTRY_INVALID_REFERENCE, UNTAGGED_REFERENCE)
def check_references(config: Config) -> Iterator[Finding]:
    for node in _reference_nodes(config):
        try:
            reference = parse_reference(node.value)
        except ReferenceError:
            continue  # reported by the validation stage
        problems = reference.registry_problems()
        if problems:
            yield REGISTRY_INVALID_REFERENCE.finding(
                f"`{node.value}`: {'; '.join(problems)}", node.location, node.pointer,
                hint="use a lower-case repository name, a tag of letters, digits, `_`, `.` "
                     "and `-`, and a `sha256:` digest of 64 hex digits")
        elif reference.tag is None and reference.digest is None:
            yield UNTAGGED_REFERENCE.finding(
                f"`{node.value}` has no tag: linuxkit pulls the untagged name as is",
                node.location, node.pointer, hint=f"write `{node.value}:<tag>@sha256:<digest>`")


def _reference_nodes(config: Config) -> Iterator[Node]:
    image = config.kernel.get("image")
    if image is not None and isinstance(image.value, str):
        yield image
    yield from (node for node in config.section("init") if isinstance(node.value, str))
    for section in ("onboot", "onshutdown", "services", "volumes"):
        for node in config.section(section):
            child = node.child("image")
            if child is not None and isinstance(child.value, str):
                yield child


@lint_check(KERNEL_WITHOUT_IMAGE)
def check_kernel(config: Config) -> Iterator[Finding]:
    if config.kernel_blocks and "image" not in config.kernel:
        block = config.kernel_blocks[-1]
        yield KERNEL_WITHOUT_IMAGE.finding(
            "`kernel` has no `image`: the build will contain no kernel", block.key_location,
            block.pointer, hint="add `image:` to `kernel`, or remove the `kernel` block")
