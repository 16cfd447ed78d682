"""The build's SBOM as CycloneDX 1.6 JSON (`build --sbom-format cyclonedx`), translated from
the merged SPDX 2.3 document (`lkpolicy.assemble.sbom`), so that both formats list the same
images, packages and files.

The translation, element by element:

* the image being built is `metadata.component` (type `operating-system`, named after the
  build); `metadata.timestamp` is the SPDX creation time (`SOURCE_DATE_EPOCH`) and the
  `serialNumber` a name-based UUID of the rest of the document, so two builds of the same
  inputs give the same bytes;
* every SPDX package becomes a component whose `bom-ref` is its SPDX identifier: name,
  version, supplier, description, copyright, the first `purl` and `cpe23Type`/`cpe22Type`
  reference, the checksums CycloneDX has an algorithm for (with the length it requires), and
  the declared licence (else the concluded one) as an SPDX expression, NOASSERTION and NONE
  left out; the type follows `primaryPackagePurpose` (the images lkpolicy adds are
  `container`), `library` when there is none;
* every SPDX file becomes a component of type `file` with its hashes;
* `dependencies` is the relationship graph: DESCRIBES (from the document: the built image),
  CONTAINS and DEPENDS_ON as edges from the element to the related one, CONTAINED_BY and
  DEPENDENCY_OF reversed; relationships with elements of other documents or without a
  component on both ends are left out. CycloneDX has one graph that every consumer reads, and
  containment here (an image containing its packages) is what a reader of the SBOM follows.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CYCLONEDX_MEDIA_TYPE", "DEFAULT_CYCLONEDX_PATH", "from_spdx"]

CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
DEFAULT_CYCLONEDX_PATH = "sbom.cdx.json"
_ROOT = "lkpolicy:image"
_NO_VALUE = frozenset({"", "NOASSERTION", "NONE"})
# SPDX 2.3 checksum algorithm -> CycloneDX 1.6 hash algorithm and its hex length.
_HASHES = {
    "MD5": ("MD5", 32), "SHA1": ("SHA-1", 40), "SHA256": ("SHA-256", 64),
    "SHA384": ("SHA-384", 96), "SHA512": ("SHA-512", 128), "SHA3-256": ("SHA3-256", 64),
    "SHA3-384": ("SHA3-384", 96), "SHA3-512": ("SHA3-512", 128),
    "BLAKE2b-256": ("BLAKE2b-256", 64), "BLAKE2b-384": ("BLAKE2b-384", 96),
    "BLAKE2b-512": ("BLAKE2b-512", 128), "BLAKE3": ("BLAKE3", 64)}
_TYPES = {
    "APPLICATION": "application", "FRAMEWORK": "framework", "LIBRARY": "library",
    "CONTAINER": "container", "OPERATING-SYSTEM": "operating-system", "DEVICE": "device",
    "FIRMWARE": "firmware", "FILE": "file", "INSTALL": "application", "ARCHIVE": "file",
    "SOURCE": "file", "OTHER": "library"}
_HEX = re.compile(r"[0-9a-fA-F]+")
_FORWARD = frozenset({"DESCRIBES", "CONTAINS", "DEPENDS_ON"})
_BACKWARD = frozenset({"DESCRIBED_BY", "CONTAINED_BY", "DEPENDENCY_OF"})
_DOCUMENT = "SPDXRef-DOCUMENT"


def from_spdx(spdx: Mapping[str, Any], name: str, tool_version: str) -> dict[str, Any]:
    """The CycloneDX 1.6 document for a merged SPDX document; `name` names the built image."""
    components = [_package(package) for package in _items(spdx, "packages")]
    components += [_file(element) for element in _items(spdx, "files")]
    known = {component["bom-ref"] for component in components}
    created = str(spdx.get("creationInfo", {}).get("created", ""))
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "", "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "lkpolicy",
                                      "version": tool_version}]},
            "component": {"type": "operating-system", "bom-ref": _ROOT, "name": name},
        },
        "components": components,
        "dependencies": _dependencies(_items(spdx, "relationships"), known),
    }
    digest = hashlib.sha256(encode(document)).hexdigest()
    document["serialNumber"] = "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"lkpolicy-cyclonedx:sha256:{digest}"))
    return document


def encode(document: Mapping[str, Any]) -> bytes:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8", "surrogateescape")


def _items(spdx: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = spdx.get(key)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value,
                                                                                list) else []


def _text(element: Mapping[str, Any], key: str) -> str | None:
    value = element.get(key)
    return value if isinstance(value, str) and value.strip() not in _NO_VALUE else None


def _hashes(element: Mapping[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    checksums = element.get("checksums")
    for checksum in checksums if isinstance(checksums, list) else []:
        if not isinstance(checksum, Mapping):
            continue
        algorithm = _HASHES.get(str(checksum.get("algorithm")))
        value = checksum.get("checksumValue")
        if (algorithm is not None and isinstance(value, str) and len(value) == algorithm[1]
                and _HEX.fullmatch(value)):
            found.append({"alg": algorithm[0], "content": value.lower()})
    return found


def _package(package: Mapping[str, Any]) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": _TYPES.get(str(package.get("primaryPackagePurpose")), "library"),
        "bom-ref": str(package.get("SPDXID")),
        "name": _text(package, "name") or str(package.get("SPDXID")),
    }
    supplier = _text(package, "supplier")
    if supplier is not None:
        component["supplier"] = {"name": supplier.split(":", 1)[-1].strip() or supplier}
    for spdx_key, key in (("versionInfo", "version"), ("description", "description"),
                          ("copyrightText", "copyright")):
        value = _text(package, spdx_key)
        if value is not None:
            component[key] = value
    hashes = _hashes(package)
    if hashes:
        component["hashes"] = hashes
    licence = _text(package, "licenseDeclared") or _text(package, "licenseConcluded")
    if licence is not None:
        component["licenses"] = [{"expression": licence}]
    references = package.get("externalRefs")
    for reference in references if isinstance(references, list) else []:
        if not isinstance(reference, Mapping):
            continue
        kind, locator = reference.get("referenceType"), _text(reference, "referenceLocator")
        if kind == "purl" and locator is not None and "purl" not in component:
            component["purl"] = locator
        elif kind in ("cpe23Type", "cpe22Type") and locator is not None \
                and "cpe" not in component:
            component["cpe"] = locator
    return component


def _file(element: Mapping[str, Any]) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "file", "bom-ref": str(element.get("SPDXID")),
                                 "name": _text(element, "fileName") or str(element.get("SPDXID"))}
    hashes = _hashes(element)
    if hashes:
        component["hashes"] = hashes
    return component


def _dependencies(relationships: Iterable[Mapping[str, Any]],
                  known: set[str]) -> list[dict[str, Any]]:
    edges: dict[str, list[str]] = {_ROOT: []}
    for relationship in relationships:
        kind = relationship.get("relationshipType")
        source, target = relationship.get("spdxElementId"), relationship.get(
            "relatedSpdxElement")
        if kind in _BACKWARD:
            source, target = target, source
        elif kind not in _FORWARD:
            continue
        source = _ROOT if source == _DOCUMENT else source
        if (source not in known and source != _ROOT) or target not in known:
            continue
        targets = edges.setdefault(str(source), [])
        if target not in targets:
            targets.append(str(target))
    return [{"ref": ref, "dependsOn": targets} if targets else {"ref": ref}
            for ref, targets in edges.items()]
