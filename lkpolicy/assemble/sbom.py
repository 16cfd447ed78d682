"""The SPDX 2.3 SBOM that linuxkit writes at the end of the build tar (`sbom.spdx.json`),
made reproducible and complete.

What linuxkit does (../shared/spec/linuxkit-build.md 2.9; the rest observed with the reference
binary on images carrying SBOM attestations, and read in linuxkit's `moby/build/sbom.go`,
`image.go` and `cache/imagesource.go` at 3bf33c3a):

* every time an image is extracted (`ImageTar`: the kernel and each init image at the root,
  a volume's image under `containers/volumes/NAME/lower/`, a container's image under its
  `lower/` or `rootfs/` the first time that image is used), the SPDX documents attached to it
  are collected: in the cached index, the manifest annotated `vnd.docker.reference.type:
  attestation-manifest` and `vnd.docker.reference.digest: <the platform manifest>`, whose
  `application/vnd.in-toto+json` layers annotated `in-toto.io/predicate-type:
  https://spdx.dev/Document` hold in-toto statements with the SPDX document as predicate;
* `fileName` and `packageFileName` become Go's `filepath.Join(prefix, name)`;
* the `packages`, `files`, `hasExtractedLicensingInfos`, `relationships`, `annotations` and
  `externalDocumentRefs` of every document are concatenated in build order into one document
  named `sbom`, created `2017-04-18T16:30:00Z`, with creators `Organization: LinuxKit` and
  `Tool: linuxkit`, license list 3.20, and a random `documentNamespace`; a document's
  `documentDescribes` become `DESCRIBES` relationships after its own relationships;
* the entry is a regular file, 0644, mtime 1492533000, uid/gid 0, no PAX records, after the
  `files` section (and after the `Dockerfile` of `--format docker`); compact JSON and a newline.

What lkpolicy does differently, so that the document is reproducible, valid SPDX 2.3 and lists
everything that went into the image:

* the creation time is `SOURCE_DATE_EPOCH` (default: linuxkit's fixed time) and the
  namespace's UUID is a name-based (version 5) UUID of the SHA-256 of the rest of the document;
  creators add `Tool: lkpolicy-VERSION`;
* every image gets a package of its own (name: the expanded reference, version and SHA-256: its
  digest, a `pkg:oci` purl), described by the document, whether it carries an SBOM or not; an
  image's own SBOM is linked to it (`CONTAINS` what that SBOM describes); every host file the
  gate read for a `files` entry is a file element (SHA-1 and SHA-256), described by the document;
* identifiers that two images' SBOMs share (common for images built from the same base) are
  renamed `ID-N` in the later one, references included; identical extracted licences and
  external document references are kept once; an image extracted twice at the same place
  (an init image listed twice) contributes its SBOM once;
* elements are copied as the image's SBOM wrote them (linuxkit re-encodes them through
  tools-golang, which drops unknown keys and reorders them), except that a leading `/` of a
  file name is dropped (SPDX file names are relative);
* an attestation manifest or layer that is not in the image cache (a pull of one platform does
  not fetch it) counts as no SBOM instead of failing the build.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lkpolicy.assemble.builder import DEFAULT_MTIME, BuildError
from lkpolicy.assemble.tarstream import TarHeader
from lkpolicy.gocompat.paths import clean as go_clean
from lkpolicy.gocompat.paths import join as go_join

if TYPE_CHECKING:
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.stages.localfiles import LocalFile
    from lkpolicy.store.lookup import ResolvedImage, Store

__all__ = ["DEFAULT_SBOM_PATH", "SPDX_MEDIA_TYPE", "SbomOptions", "check_sbom_path",
           "image_sboms", "oci_purl", "render_sbom", "sbom_entry", "sbom_header", "sbom_tar_entry",
           "spdx_document"]

DEFAULT_SBOM_PATH = "sbom.spdx.json"
SPDX_MEDIA_TYPE = "application/spdx+json"
SPDX_PREDICATE = "https://spdx.dev/Document"
IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
PREDICATE_TYPE = "in-toto.io/predicate-type"
NAMESPACE_PREFIX = "https://github.com/linuxkit/linuxkit/sbom-"
MAX_SBOM_BYTES = 64 << 20
"""One attestation layer; buildkit's SBOMs of large images are a few MiB."""
MAX_TOTAL_SBOM_BYTES = 256 << 20
MAX_ATTESTATION_LAYERS = 256
_DOCUMENT = "SPDXRef-DOCUMENT"
_MERGED = ("externalDocumentRefs", "packages", "files", "hasExtractedLicensingInfos",
           "relationships", "annotations", "snippets")
# An identifier, or an element of another document (`DocumentRef-x:SPDXRef-y`), whose local
# part names nothing here and must not follow a rename.
_ID_TOKEN = re.compile(r"(DocumentRef-[A-Za-z0-9.-]+)(:(?:SPDXRef|LicenseRef)-[A-Za-z0-9.-]+)?"
                       r"|(?:SPDXRef|LicenseRef)-[A-Za-z0-9.-]+")
_REFERENCE_KEYS = frozenset({
    "SPDXID", "spdxElementId", "relatedSpdxElement", "hasFiles", "licenseConcluded",
    "licenseDeclared", "licenseInfoFromFiles", "licenseInfoInFiles", "licenseInfoInSnippets",
    "licenseId", "externalDocumentId", "snippetFromFile", "reference", "documentDescribes"})
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SbomOptions:
    path: str = DEFAULT_SBOM_PATH
    """Where the SBOM goes in the image (linuxkit's `--sbom-output`)."""
    created: int = DEFAULT_MTIME
    """`creationInfo.created`, in seconds: `SOURCE_DATE_EPOCH`, else linuxkit's fixed time."""
    tool: str = ""
    """The `Tool:` creator added after linuxkit's two (e.g. `lkpolicy-0.1.0`); none if empty."""
    format: str = "spdx"
    """`spdx` (linuxkit's SPDX 2.3 JSON) or `cyclonedx` (CycloneDX 1.6 JSON translated from
    it, `lkpolicy.assemble.cyclonedx`)."""
    name: str = "sbom"
    """The built image's name, which CycloneDX's `metadata.component` carries."""

    @property
    def media_type(self) -> str:
        from lkpolicy.assemble.cyclonedx import CYCLONEDX_MEDIA_TYPE

        return CYCLONEDX_MEDIA_TYPE if self.format == "cyclonedx" else SPDX_MEDIA_TYPE


def check_sbom_path(path: str) -> str:
    """The SBOM's path in the image, or ValueError: relative, inside the image, a file name."""
    if not path or "\x00" in path:
        raise ValueError("the SBOM path must not be empty")
    cleaned = go_clean(path)
    if path.startswith("/") or cleaned == ".." or cleaned.startswith("../") or cleaned == ".":
        raise ValueError(f"the SBOM path {path!r} must be relative and inside the image")
    if path.endswith("/"):
        raise ValueError(f"the SBOM path {path!r} names a directory")
    return path


def sbom_header(path: str, size: int) -> TarHeader:
    """The tar header linuxkit gives the SBOM (no `LINUXKIT.*` records)."""
    return TarHeader(path, "0", mode=0o644, size=size, mtime=DEFAULT_MTIME)


def sbom_tar_entry(path: str, body: bytes) -> bytes:
    """The SBOM's entry as it is in the tar (header and padded body, no end blocks)."""
    import io

    from lkpolicy.assemble.tarstream import TarWriter

    buffer = io.BytesIO()
    writer = TarWriter(buffer)
    writer.add(sbom_header(path, len(body)), body)
    writer.close()
    return buffer.getvalue()[:-1024]


def sbom_entry(plan: BuildPlan, files: Sequence[Mapping[str, Any]],
               extracted: Sequence[tuple[str, str]],
               options: SbomOptions) -> tuple[TarHeader, bytes]:
    """The SBOM's tar header and body; `files` is the config's `files` section (Go model) and
    `extracted` the (expanded reference, prefix) of every image extraction, in build order."""
    images = [(name, plan.images[name]) for name in dict.fromkeys(n for n, _ in extracted)]
    sources: list[tuple[str, LocalFile]] = []
    for index, local in sorted(plan.files.items()):
        if local.sha256 is None or index >= len(files):
            continue
        original = str(files[index].get("path", ""))
        sources.append((original[1:] if original.startswith("/") else original, local))
    document = spdx_document(plan.store, images, extracted, sources, options)
    if options.format == "cyclonedx":
        from lkpolicy import __version__
        from lkpolicy.assemble import cyclonedx

        try:
            body = cyclonedx.encode(cyclonedx.from_spdx(document, options.name, __version__))
        except ValueError as error:
            raise BuildError(f"SBOM: {error}") from None
    else:
        body = _encode(document)
    return sbom_header(options.path, len(body)), body


# --------------------------------------------------------------------------------------------
# Reading the images' SBOMs


def image_sboms(store: Store, resolved: ResolvedImage) -> list[dict[str, Any]]:
    """The SPDX documents attached to a cached image for its platform, in layer order; [] for
    an image without an index, without an attestation, or whose attestation is not cached.
    `BuildError` for an attestation that is there but unusable (linuxkit fails as well)."""
    return _read_sboms(store, resolved)[0]


def _read_sboms(store: Store, resolved: ResolvedImage) -> tuple[list[dict[str, Any]], int]:
    """`image_sboms`, and how many bytes they were."""
    from lkpolicy.model.oci import OCIError
    from lkpolicy.safeio import UntrustedInput, parse_json
    from lkpolicy.store.errors import StoreError

    what = f"image {resolved.name}"
    index = resolved.index
    if index is None:
        return [], 0
    try:
        candidates = [entry for entry in index.manifests()
                      if entry.annotations.get(REFERENCE_TYPE) == ATTESTATION_MANIFEST
                      and entry.annotations.get(REFERENCE_DIGEST) == resolved.manifest.digest]
        if not candidates:
            return [], 0
        if len(candidates) > 1:
            raise BuildError(f"{what}: multiple attestation manifests for "
                             f"{resolved.manifest.digest}")
        manifest = store.load_manifest(resolved.name, candidates[0])
        if manifest is None:
            return [], 0
        layers = manifest.layers()
        if len(layers) > MAX_ATTESTATION_LAYERS:
            raise BuildError(f"{what}: its attestation has more than {MAX_ATTESTATION_LAYERS} "
                             "layers")
        documents: list[dict[str, Any]] = []
        size = 0
        for layer in layers:
            if layer.media_type != IN_TOTO_MEDIA_TYPE \
                    or layer.annotations.get(PREDICATE_TYPE) != SPDX_PREDICATE:
                continue
            data = store.read_blob(layer, MAX_SBOM_BYTES, f"{what}: SBOM attestation")
            if data is None:
                return [], 0
            size += len(data)
            statement = parse_json(data, f"{what}: SBOM attestation {layer.digest}")
            documents.append(_spdx_predicate(statement, what))
        return documents, size
    except (OCIError, StoreError, UntrustedInput) as error:
        raise BuildError(f"{what}: SBOM attestation: {error}") from None


def _spdx_predicate(statement: Any, what: str) -> dict[str, Any]:
    if not isinstance(statement, dict):
        raise BuildError(f"{what}: the SBOM attestation is not an in-toto statement")
    if statement.get("predicateType") != SPDX_PREDICATE:
        raise BuildError(f"{what}: unexpected predicate type "
                         f"{str(statement.get('predicateType'))[:100]}")
    document = statement.get("predicate")
    if not isinstance(document, dict) or document.get("spdxVersion") not in ("SPDX-2.2",
                                                                            "SPDX-2.3"):
        raise BuildError(f"{what}: the SBOM attestation is not an SPDX 2.2 or 2.3 document")
    for key in (*_MERGED, "documentDescribes"):
        value = document.get(key)
        if value is not None and not (isinstance(value, list) and all(
                isinstance(item, dict if key != "documentDescribes" else str)
                for item in value)):
            raise BuildError(f"{what}: its SPDX document's `{key}` is not a list of "
                             f"{'strings' if key == 'documentDescribes' else 'objects'}")
    return document


# --------------------------------------------------------------------------------------------
# Merging


@dataclass(slots=True)
class _Merged:
    lists: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {key: [] for key in _MERGED})
    taken: set[str] = field(default_factory=lambda: {_DOCUMENT})
    licenses: dict[str, dict[str, Any]] = field(default_factory=dict)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 0

    def describe(self, element: str) -> None:
        self.lists["relationships"].append(_relationship(_DOCUMENT, "DESCRIBES", element))

    def claim(self, wanted: str, ordinal: int) -> str:
        name = wanted if wanted not in self.taken else f"{wanted}-{ordinal}"
        extra = 2
        while name in self.taken:
            name = f"{wanted}-{ordinal}-{extra}"
            extra += 1
        self.taken.add(name)
        return name

    def add(self, document: dict[str, Any], prefix: str, ordinal: int, image_id: str) -> None:
        """One image's SPDX document, at `prefix` in the image, as the `ordinal`-th merged."""
        renames: dict[str, str] = {}
        for key in ("packages", "files", "snippets"):
            for element in document.get(key) or ():
                old = element.get("SPDXID")
                if isinstance(old, str) and old != _DOCUMENT:
                    renames[old] = self.claim(old, ordinal)
        dropped_licenses = self._shared(document, "hasExtractedLicensingInfos", "licenseId",
                                        self.licenses, renames, ordinal)
        dropped_references = self._shared(document, "externalDocumentRefs",
                                          "externalDocumentId", self.references, renames,
                                          ordinal)

        def renamed(value: Any, key: str = "") -> Any:
            if isinstance(value, dict):
                return {k: renamed(v, k) for k, v in value.items()}
            if isinstance(value, list):
                return [renamed(item, key) for item in value]
            if isinstance(value, str) and key in _REFERENCE_KEYS and renames:
                return _ID_TOKEN.sub(lambda m: _renamed_token(m, renames), value)
            return value

        described: list[str] = []
        for key in _MERGED:
            for position, element in enumerate(document.get(key) or ()):
                if (key == "hasExtractedLicensingInfos" and position in dropped_licenses) or (
                        key == "externalDocumentRefs" and position in dropped_references):
                    continue
                copy = renamed(element)
                if key == "files":
                    _prefix_name(copy, "fileName", prefix)
                elif key == "packages":
                    _prefix_name(copy, "packageFileName", prefix)
                elif key == "relationships" and copy.get("spdxElementId") == _DOCUMENT \
                        and copy.get("relationshipType") == "DESCRIBES":
                    described.append(str(copy.get("relatedSpdxElement")))
                self.lists[key].append(copy)
        for target in document.get("documentDescribes") or ():
            element = renamed(target, "documentDescribes")
            self.describe(element)
            described.append(element)
        for target in dict.fromkeys(described):
            self.lists["relationships"].append(_relationship(image_id, "CONTAINS", target))

    def _shared(self, document: dict[str, Any], key: str, id_key: str,
                seen: dict[str, dict[str, Any]], renames: dict[str, str],
                ordinal: int) -> set[int]:
        """Licence or document references: identical ones are kept once, others renamed.
        Returns the positions to drop."""
        dropped: set[int] = set()
        for position, element in enumerate(document.get(key) or ()):
            name = element.get(id_key)
            if not isinstance(name, str):
                continue
            if name not in seen:
                seen[name] = element
                self.taken.add(name)
            elif seen[name] == element:
                dropped.add(position)
            else:
                renames[name] = self.claim(name, ordinal)
                seen[renames[name]] = element
        return dropped


def _renamed_token(match: re.Match[str], renames: Mapping[str, str]) -> str:
    document, remote = match.group(1), match.group(2)
    if document is not None:
        return renames.get(document, document) + (remote or "")
    whole = match.group(0)
    return renames.get(whole, whole)


def _relationship(element: str, kind: str, related: str) -> dict[str, Any]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


def _prefix_name(element: dict[str, Any], key: str, prefix: str) -> None:
    value = element.get(key, "")
    if not isinstance(value, str):
        return
    joined = go_join(prefix, value).lstrip("/")
    if joined:
        element[key] = joined
    else:
        element.pop(key, None)


def oci_purl(reference: str, digest: str) -> str:
    """`pkg:oci/NAME@DIGEST?repository_url=REGISTRY/PATH&tag=TAG` (package-url's OCI type)."""
    from lkpolicy.model.reference import parse

    image = parse(reference)
    repository = image.locator
    name = repository.rsplit("/", 1)[-1].lower()
    qualifiers = f"repository_url={quote(repository, safe='/:')}"
    if image.tag is not None:
        qualifiers += f"&tag={quote(image.tag, safe='')}"
    return f"pkg:oci/{quote(name, safe='')}@{quote(digest, safe='')}?{qualifiers}"


def _image_package(number: int, name: str, resolved: ResolvedImage,
                   places: Iterable[str], merged: int) -> dict[str, Any]:
    digest = resolved.digest
    where = ", ".join(f"/{place}" if place else "/" for place in dict.fromkeys(places))
    sbom = f"its SBOM ({merged} SPDX document{'s' if merged != 1 else ''}) is merged here" \
        if merged else "it carries no SBOM attestation in the image cache"
    return {
        "name": name,
        "SPDXID": f"SPDXRef-Image-{number}",
        "versionInfo": digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "checksums": [{"algorithm": "SHA256", "checksumValue": digest.split(":", 1)[1]}],
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": oci_purl(name, digest)}],
        "primaryPackagePurpose": "CONTAINER",
        "comment": f"OCI image {name}, platform manifest {resolved.manifest.digest}, "
                   f"extracted at {where}; {sbom}",
    }


def _local_file(index: int, path: str, local: LocalFile) -> dict[str, Any]:
    sha1 = _sha1_of_checked(local)
    return {
        "fileName": path,
        "SPDXID": f"SPDXRef-LocalFile-{index}",
        "checksums": [{"algorithm": "SHA1", "checksumValue": sha1},
                      {"algorithm": "SHA256", "checksumValue": str(local.sha256).split(":")[1]}],
        "comment": f"copied from the build host by files[{index}]",
    }


def _sha1_of_checked(local: LocalFile) -> str:
    """SPDX 2.3 wants a SHA-1 of every file; the bytes must still be those the gate read."""
    sha1, sha256 = hashlib.sha1(usedforsecurity=False), hashlib.sha256()
    size = 0
    try:
        with open(local.path, "rb") as stream:
            while chunk := stream.read(min(_CHUNK, local.size + 1 - size)):
                size += len(chunk)
                sha1.update(chunk)
                sha256.update(chunk)
                if size > local.size:
                    break
    except OSError as error:
        raise BuildError(f"failed to add filesystem parts: read {local.path}: "
                         f"{error.strerror or error}") from None
    if size != local.size or "sha256:" + sha256.hexdigest() != local.sha256:
        raise BuildError(f"failed to add filesystem parts: {local.path} changed since the gate "
                         f"read it (the gate judged {local.sha256})")
    return sha1.hexdigest()


def render_sbom(store: Store, images: Sequence[tuple[str, ResolvedImage]],
                extracted: Sequence[tuple[str, str]], sources: Sequence[tuple[str, LocalFile]],
                options: SbomOptions) -> bytes:
    """The merged SPDX 2.3 JSON document (see the module's description), encoded."""
    return _encode(spdx_document(store, images, extracted, sources, options))


def spdx_document(store: Store, images: Sequence[tuple[str, ResolvedImage]],
                  extracted: Sequence[tuple[str, str]], sources: Sequence[tuple[str, LocalFile]],
                  options: SbomOptions) -> dict[str, Any]:
    """The merged SPDX 2.3 document (see the module's description)."""
    merged = _Merged()
    resolved = dict(images)
    numbers = {name: number for number, (name, _) in enumerate(images, 1)}
    merged.taken.update(f"SPDXRef-Image-{number}" for number in numbers.values())
    merged.taken.update(f"SPDXRef-LocalFile-{local.index}" for _, local in sources)
    documents: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = dict.fromkeys(numbers, 0)
    ordinal = total = 0
    for name, prefix in dict.fromkeys(extracted):
        if name not in documents:
            documents[name], size = _read_sboms(store, resolved[name])
            total += size
            if total > MAX_TOTAL_SBOM_BYTES:
                raise BuildError(f"the images' SBOMs are larger than {MAX_TOTAL_SBOM_BYTES} "
                                 "bytes together")
        for found in documents[name]:
            ordinal += 1
            merged.add(found, prefix, ordinal, f"SPDXRef-Image-{numbers[name]}")
            counts[name] += 1
    own_packages = [
        _image_package(numbers[name], name, image,
                       [prefix for used, prefix in extracted if used == name], counts[name])
        for name, image in images]
    own_files = [_local_file(local.index, path, local) for path, local in sources]
    own_relationships = [_relationship(_DOCUMENT, "DESCRIBES", element["SPDXID"])
                         for element in (*own_packages, *own_files)]
    lists = merged.lists
    lists["packages"][:0] = own_packages
    lists["files"][:0] = own_files
    lists["relationships"][:0] = own_relationships
    creators = ["Organization: LinuxKit", "Tool: linuxkit"]
    if options.tool:
        creators.append(f"Tool: {options.tool}")
    created = dt.datetime.fromtimestamp(options.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": _DOCUMENT,
        "name": "sbom", "documentNamespace": "",
    }
    if lists["externalDocumentRefs"]:
        document["externalDocumentRefs"] = lists["externalDocumentRefs"]
    document["creationInfo"] = {"licenseListVersion": "3.20", "creators": creators,
                                "created": created}
    for key in ("packages", "files", "hasExtractedLicensingInfos", "relationships",
                "annotations", "snippets"):
        if lists[key]:
            document[key] = lists[key]
    # The namespace names this document: derived from everything else in it.
    digest = hashlib.sha256(_encode(document)).hexdigest()
    document["documentNamespace"] = NAMESPACE_PREFIX + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"lkpolicy-sbom:sha256:{digest}"))
    return document


def _encode(document: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as error:
        raise BuildError(f"SBOM: {error}") from None
    return (text + "\n").encode("utf-8", "surrogateescape")
