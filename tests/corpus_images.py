"""An image cache holding a small stand-in for every image the LinuxKit corpus names, so that
the whole gate and the build run on every corpus config.

Kernel images carry a kernel binary, a kernel tar and the microcode archive their configs ask
for; init images a few files; container images of LinuxKit packages carry the label their
package's `build.yml` `config:` block gets from `linuxkit pkg build` (decoded into linuxkit's
Go image config and marshalled as Go does: an unquoted `mode: 0666` becomes the string
"0666"), so labels grant what the real packages grant.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from imagefactory import add_image

from lkpolicy.gate.options import GateOptions
from lkpolicy.gate.unit import judge_unit
from lkpolicy.stages.effective.pkglabel import package_label
from lkpolicy.stages.load import load_document
from lkpolicy.store.lookup import Store


def corpus_configs(corpus: Path) -> list[Path]:
    rows = [line.split("\t") for line in
            (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    return [corpus / row[0] for row in rows if len(row) > 1 and row[1] == "config"]


def package_labels(corpus: Path) -> dict[str, str]:
    """Package image name (`sshd`) -> the label `linuxkit pkg build` writes for it."""
    labels: dict[str, str] = {}
    for path in sorted(corpus.glob("**/build.yml")):
        document, _ = load_document(str(path))
        data = document.data
        label = package_label(document)
        if label is not None and isinstance(data.get("image"), str):
            labels[data["image"]] = label
    return labels


def _tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def fill_cache(root: Path, configs: list[Path], labels: dict[str, str]) -> Store:
    """Every image the configs use (after templates), as the build would find it."""
    kernels: dict[str, dict[str, bytes]] = {}
    others: dict[str, str] = {}
    for path in configs:
        unit = judge_unit([str(path)], {}, GateOptions())
        if unit.config is None or unit.resolution is None:
            continue
        kernel = unit.config.kernel
        for use in unit.resolution.uses:
            if use.reference is None:
                continue
            expanded = use.reference.expanded
            if use.section == "kernel":
                files = kernels.setdefault(expanded, {})
                binary = _text(kernel.get("binary")) or "kernel"
                files[binary] = b"\x7fELF stand-in kernel\n"
                tar = _text(kernel.get("tar"), "kernel.tar")
                if tar not in ("", "none"):
                    files[tar] = _tar({"lib/modules/6.6.0/modules.dep": b""})
                ucode = _text(kernel.get("ucode"))
                if ucode:
                    files[ucode] = b"FAKE-UCODE-CPIO\n"
            else:
                others[expanded] = use.section
    store = Store(root)
    for name, files in sorted(kernels.items()):
        add_image(store, name, files=files)
    for name, section in sorted(others.items()):
        package = name.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        label = labels.get(package) if name.startswith("docker.io/linuxkit/") else None
        files = {"bin/sh": b"#!stand-in\n", f"etc/{package}.conf": section.encode()}
        add_image(store, name, label, files=files)
    return store


def _text(node: Any, default: str = "") -> str:
    value = node.value if node is not None else None
    return value if isinstance(value, str) else default
