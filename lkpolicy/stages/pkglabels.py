"""`check --labels-from DIR`: the labels that `linuxkit pkg build` will give the images of a
repository's own packages, read from their `build.yml` files before the images exist.

Each `build.yml` below DIR names its image by `org` (default `linuxkit`) and `image` (default:
its directory's name), as `linuxkit pkg build` does; its `config:` block becomes the image's
`org.mobyproject.config` label (`stages/effective/pkglabel`). A container whose image has
that name (any tag or digest) gets that label, whether or not the image is in the image cache:
the policy judges the effective config as the build will produce it, and a finding that the
label causes names the `build.yml` line.

Only `check` reads package sources: `build` (and `check --lock`, whose lock feeds it) uses the
label of the image it builds from, which is the only one linuxkit reads.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from lkpolicy.model.document import Document
from lkpolicy.model.findings import InputError, Location
from lkpolicy.model.reference import ImageRef, parse_or_none

__all__ = ["MAX_PACKAGES", "PackageLabel", "PackageLabels", "read_package_labels"]

MAX_PACKAGES = 10_000
"""build.yml files read below one directory (LF Edge EVE has about a hundred)."""
_MAX_DIRECTORIES = 100_000
DEFAULT_ORG = "linuxkit"


class PackageSourceError(ValueError):
    """A package source that cannot be used; `str()` is `file:line:col: problem`."""


@dataclass(frozen=True, slots=True)
class PackageLabel:
    locator: str
    """The image it labels, without tag or digest (`docker.io/linuxkit/sshd`)."""
    text: str
    """The label, as `linuxkit pkg build` writes it."""
    document: Document
    """The build.yml (positions of the `config:` block)."""

    def location(self, label_pointer: str | None) -> Location:
        """Where a value of the label (a pointer into it) is written in the build.yml."""
        return self.document.location("/config" + (label_pointer or ""), key=True)


@dataclass(slots=True)
class PackageLabels:
    labels: dict[str, PackageLabel] = field(default_factory=dict)

    def find(self, reference: ImageRef | None) -> PackageLabel | None:
        return self.labels.get(reference.locator) if reference is not None else None

    @property
    def token(self) -> str:
        """What the result cache keys on: every label and where it comes from."""
        digest = hashlib.sha256()
        for locator, label in sorted(self.labels.items()):
            digest.update(f"{locator}\0{label.document.path}\0{label.text}\0".encode())
        return digest.hexdigest()


def read_package_labels(directories: list[str]) -> PackageLabels:
    """Every package below the directories; raises `PackageSourceError` for a build.yml that
    cannot be read or decoded, two packages that name the same image, or too many files."""
    labels = PackageLabels()
    for path in _build_files(directories):
        label = _read(path)
        if label is None:
            continue
        other = labels.labels.get(label.locator)
        if other is not None:
            raise PackageSourceError(f"{path}: names the image {label.locator}, as "
                                     f"{other.document.path} does")
        labels.labels[label.locator] = label
    return labels


def _build_files(directories: list[str]) -> list[str]:
    found: list[str] = []
    seen = 0
    for directory in directories:
        if not os.path.isdir(directory):
            raise PackageSourceError(f"{directory}: not a directory")
        for root, subdirectories, files in os.walk(directory):
            seen += 1
            if seen > _MAX_DIRECTORIES:
                raise PackageSourceError(f"{directory}: more than {_MAX_DIRECTORIES} "
                                         "directories below it")
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            if "build.yml" in files:
                found.append(os.path.join(root, "build.yml"))
                if len(found) > MAX_PACKAGES:
                    raise PackageSourceError(f"{directory}: more than {MAX_PACKAGES} build.yml "
                                             "files below it")
    return found


def _read(path: str) -> PackageLabel | None:
    from lkpolicy.stages.effective.pkglabel import PackageConfigError, package_label
    from lkpolicy.stages.load import load_document

    try:
        document, _warnings = load_document(path)
    except InputError as error:
        first = error.findings[0]
        raise PackageSourceError(f"{first.location}: {first.message}") from None
    data = document.data
    if not isinstance(data, dict):
        raise PackageSourceError(f"{path}:1:1: a package's build.yml is a mapping")
    try:
        text = package_label(document)
    except PackageConfigError as error:
        raise PackageSourceError(f"{document.location(error.pointer)}: `config:` cannot be "
                                 f"decoded as linuxkit's image config: {error.problem}") from None
    if text is None:
        return None
    org = data.get("org") if isinstance(data.get("org"), str) else DEFAULT_ORG
    image = data.get("image") if isinstance(data.get("image"), str) else \
        Path(path).resolve().parent.name
    reference = parse_or_none(f"{org}/{image}")
    if reference is None:
        raise PackageSourceError(f"{document.location('/image')}: `{org}/{image}` is not an "
                                 "image name")
    return PackageLabel(reference.locator, text, document)
