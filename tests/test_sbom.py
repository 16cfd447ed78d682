"""The merged SPDX SBOM at the end of the build tar: linuxkit's place and merge rules, valid
SPDX 2.3 (checked with spdx-tools, the SPDX project's validator), reproducible, and listing
every image and host file that went in. Images carry SBOMs the way buildkit attaches them:
an attestation manifest in the image's index, with in-toto SPDX statements as layers."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from planning import plan_build
from typer.testing import CliRunner

from lkpolicy.assemble import BuildError, BuildOptions, build_outputs, build_tar
from lkpolicy.assemble.sbom import SbomOptions, check_sbom_path
from lkpolicy.cli import app
from lkpolicy.model.config import Config, merge
from lkpolicy.model.oci import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Descriptor
from lkpolicy.stages.load import load_document
from lkpolicy.store.lookup import Store

IN_TOTO = "application/vnd.in-toto+json"
SPDX = "https://spdx.dev/Document"
PREFIX = "https://github.com/linuxkit/linuxkit/sbom-"
CONFIG = """\
kernel:
  image: lktest/kernel:test
  cmdline: "console=ttyS0"
  ucode: ucode.cpio
init:
  - lktest/init:test
  - lktest/runc:test
  - lktest/init:test
volumes:
  - name: vol1
    image: lktest/busybox:test
onboot:
  - name: first
    image: lktest/busybox:test
  - name: second
    image: lktest/busybox:test
    readonly: true
services:
  - name: svc
    image: lktest/busybox:test
files:
  - path: /etc/from-host
    source: host.txt
    mode: "0644"
"""
IMAGES = ("kernel", "init", "runc", "busybox")


def validate_spdx(data: bytes, tmp_path: Path) -> list[str]:
    """spdx-tools' full SPDX 2.3 validation of a JSON document; the messages, [] if valid."""
    try:
        from spdx_tools.spdx.parser.json import json_parser
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    except ImportError:
        skip_or_fail("spdx-tools (the test extra) is not installed")

    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(data)
    document = json_parser.parse_from_file(str(path))
    return [message.validation_message for message in validate_full_spdx_document(document)]


def image_spdx(name: str, *, musl_license: str = "LicenseRef-musl",
               musl_text: str = "MIT, as musl ships it") -> dict[str, Any]:
    """An SBOM shaped like syft's for buildkit: packages, files, licences, relationships. The
    musl package has the same SPDXID in every image (as for images sharing a base)."""
    own = f"SPDXRef-Package-apk-{name}-0a1b"
    return {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"lktest/{name}", "documentNamespace": f"https://example.invalid/{name}",
        "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: syft-1.0.0"]},
        "externalDocumentRefs": [{"externalDocumentId": "DocumentRef-base",
                                  "spdxDocument": "https://example.invalid/base",
                                  "checksum": {"algorithm": "SHA1",
                                               "checksumValue": "33" * 20}}],
        "packages": [
            {"name": name, "SPDXID": own, "versionInfo": "1.0-r0",
             "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
             "licenseConcluded": "NOASSERTION", "licenseDeclared": "GPL-2.0-only",
             "copyrightText": "NOASSERTION",
             "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                               "referenceLocator": f"pkg:apk/alpine/{name}@1.0-r0"}]},
            {"name": "musl", "SPDXID": "SPDXRef-Package-apk-musl-77", "versionInfo": "1.2.4",
             "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
             "licenseDeclared": musl_license, "packageFileName": "./lib/apk/musl.apk"},
        ],
        "files": [
            {"fileName": f"/bin/{name}", "SPDXID": f"SPDXRef-File-{name}",
             "checksums": [{"algorithm": "SHA1", "checksumValue": "11" * 20}]},
            {"fileName": "./lib/ld-musl-x86_64.so.1", "SPDXID": "SPDXRef-File-ld-musl",
             "checksums": [{"algorithm": "SHA1", "checksumValue": "22" * 20}]},
        ],
        "hasExtractedLicensingInfos": [
            {"licenseId": musl_license, "extractedText": musl_text, "name": "musl"}],
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
             "relatedSpdxElement": own},
            {"spdxElementId": own, "relationshipType": "DEPENDS_ON",
             "relatedSpdxElement": "SPDXRef-Package-apk-musl-77"},
            {"spdxElementId": "SPDXRef-Package-apk-musl-77", "relationshipType": "OTHER",
             "relatedSpdxElement": "SPDXRef-File-ld-musl", "comment": "evident-by"},
            {"spdxElementId": own, "relationshipType": "DESCENDANT_OF",
             "relatedSpdxElement": "DocumentRef-base:SPDXRef-Package-apk-musl-77"},
        ],
    }


def attach_sbom(store: Store, name: str, documents: list[dict[str, Any]], *,
                predicate: str = SPDX, store_layers: bool = True) -> Descriptor:
    """Wrap the cached single manifest `name` in an index with a buildkit attestation
    manifest carrying `documents` as in-toto statements of `predicate` in layers annotated
    as SPDX; re-register `name`."""
    manifest = store.find(name)
    assert manifest is not None
    layers = []
    for document in documents:
        statement = {"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicate,
                     "subject": [{"name": name,
                                  "digest": {"sha256": manifest.digest.split(":")[1]}}],
                     "predicate": document}
        data = json.dumps(statement).encode()
        layer = Descriptor(IN_TOTO, "sha256:" + hashlib.sha256(data).hexdigest(),
                           len(data), {"in-toto.io/predicate-type": SPDX})
        if store_layers:
            store.add_blob(data, IN_TOTO)
        layers.append(layer)
    config = store.add_blob(json.dumps({
        "architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layers]}}).encode(),
        OCI_CONFIG)
    attestation = store.add_blob(json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
        "layers": [d.to_json() for d in layers]}).encode(), OCI_MANIFEST)
    entries = [
        {**manifest.to_json(), "platform": {"architecture": "amd64", "os": "linux"}},
        {**attestation.to_json(), "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.digest": manifest.digest,
                         "vnd.docker.reference.type": "attestation-manifest"}},
    ]
    index = store.add_blob(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                       "manifests": entries}).encode(), OCI_INDEX)
    store.register(name, index)
    return index


@pytest.fixture
def attested(build_full: Path, tmp_path: Path) -> tuple[Path, Store, Config]:
    """A workspace: the build-full images, each but runc with an SBOM attestation, and CONFIG
    (kernel, init twice, a volume and containers sharing busybox, a host file)."""
    store = Store(tmp_path / "cache")
    for name in IMAGES:
        store.import_archive(build_full / "images" / f"{name}.tar")
    attach_sbom(store, "docker.io/lktest/kernel:test", [image_spdx("kernel")])
    attach_sbom(store, "docker.io/lktest/init:test",
                [image_spdx("init", musl_text="another text under the same identifier")])
    attach_sbom(store, "docker.io/lktest/busybox:test", [image_spdx("busybox")])
    (tmp_path / "host.txt").write_bytes(b"from the host\n")
    path = tmp_path / "sbom.yml"
    path.write_text(CONFIG)
    return tmp_path, store, merge([load_document(str(path))[0]])


def build_sbom(workspace: tuple[Path, Store, Config], **options: Any) -> tuple[bytes, bytes]:
    """(the build tar, the SBOM's bytes as found at the end of it)."""
    root, store, config = workspace
    plan = plan_build(config, store, cwd=str(root))
    out = io.BytesIO()
    summary = build_tar(config, plan, out, options=BuildOptions(sbom=SbomOptions(**options)))
    data = out.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        last = archive.getmembers()[-1]
        assert last.name == options.get("path", "sbom.spdx.json")
        body = archive.extractfile(last).read()  # type: ignore[union-attr]
    assert body == summary.sbom
    return data, body


# -- the images' SBOMs, merged as linuxkit merges them ---------------------------------------


def test_merged_sbom_lists_every_image_and_file_and_is_valid_spdx(
        attested: tuple[Path, Store, Config], tmp_path: Path) -> None:
    _tar, body = build_sbom(attested, tool="lkpolicy-test")
    assert validate_spdx(body, tmp_path) == []
    document = json.loads(body)
    assert body.endswith(b"}\n") and b"\n" not in body[:-1]  # compact, as linuxkit's
    # tools-golang's order, which linuxkit's document has
    assert list(document) == ["spdxVersion", "dataLicense", "SPDXID", "name",
                              "documentNamespace", "externalDocumentRefs", "creationInfo",
                              "packages", "files", "hasExtractedLicensingInfos",
                              "relationships"]
    assert document["creationInfo"] == {
        "licenseListVersion": "3.20", "created": "2017-04-18T16:30:00Z",
        "creators": ["Organization: LinuxKit", "Tool: linuxkit", "Tool: lkpolicy-test"]}
    images = {p["name"]: p for p in document["packages"] if p["SPDXID"].startswith("SPDXRef-Image")}
    store = attested[1]
    assert list(images) == [f"docker.io/lktest/{name}:test" for name in IMAGES]
    for name, package in images.items():
        digest = store.find(name).digest  # type: ignore[union-attr]
        assert package["versionInfo"] == digest
        assert package["checksums"] == [{"algorithm": "SHA256",
                                         "checksumValue": digest.split(":")[1]}]
        assert f"@sha256%3A{digest.split(':')[1]}?repository_url=docker.io/lktest/" in \
            package["externalRefs"][0]["referenceLocator"]
    assert "carries no SBOM attestation" in images["docker.io/lktest/runc:test"]["comment"]
    assert "extracted at /containers/volumes/vol1/lower/, /containers/onboot/000-first/lower/" \
        in images["docker.io/lktest/busybox:test"]["comment"]
    [host] = [f for f in document["files"] if f["SPDXID"].startswith("SPDXRef-LocalFile")]
    assert host["fileName"] == "etc/from-host"
    assert {c["algorithm"]: c["checksumValue"] for c in host["checksums"]} == {
        "SHA1": "f1aae52f23931238b0ce5d3e564af45d2f2b3375",
        "SHA256": hashlib.sha256(b"from the host\n").hexdigest()}
    described = {r["relatedSpdxElement"] for r in document["relationships"]
                 if r["spdxElementId"] == "SPDXRef-DOCUMENT"
                 and r["relationshipType"] == "DESCRIBES"}
    assert {*[p["SPDXID"] for p in images.values()], host["SPDXID"]} <= described


def test_merge_follows_linuxkit_prefixes_and_renames_shared_identifiers(
        attested: tuple[Path, Store, Config]) -> None:
    _tar, body = build_sbom(attested)
    document = json.loads(body)
    files = [f["fileName"] for f in document["files"]]
    # kernel and init at the root (init once though listed twice), busybox in the volume and
    # in the first container that uses it; linuxkit's Join cleans `./`, a leading `/` goes.
    assert files == [
        "etc/from-host",
        "bin/kernel", "lib/ld-musl-x86_64.so.1",
        "bin/init", "lib/ld-musl-x86_64.so.1",
        "containers/volumes/vol1/lower/bin/busybox",
        "containers/volumes/vol1/lower/lib/ld-musl-x86_64.so.1",
        "containers/onboot/000-first/lower/bin/busybox",
        "containers/onboot/000-first/lower/lib/ld-musl-x86_64.so.1"]
    ids = [element["SPDXID"] for key in ("packages", "files") for element in document[key]]
    assert len(ids) == len(set(ids))
    musl = [p for p in document["packages"] if p["name"] == "musl"]
    assert [p["SPDXID"] for p in musl] == ["SPDXRef-Package-apk-musl-77",
                                           "SPDXRef-Package-apk-musl-77-2",
                                           "SPDXRef-Package-apk-musl-77-3",
                                           "SPDXRef-Package-apk-musl-77-4"]
    assert [p.get("packageFileName") for p in musl] == [
        "lib/apk/musl.apk", "lib/apk/musl.apk", "containers/volumes/vol1/lower/lib/apk/musl.apk",
        "containers/onboot/000-first/lower/lib/apk/musl.apk"]
    relationships = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
                     for r in document["relationships"]}
    # References follow the renames, and each image contains what its SBOM describes.
    assert ("SPDXRef-Package-apk-init-0a1b", "DEPENDS_ON",
            "SPDXRef-Package-apk-musl-77-2") in relationships
    assert ("SPDXRef-Image-2", "CONTAINS", "SPDXRef-Package-apk-init-0a1b") in relationships
    # An element of another document keeps its name; the identical reference is kept once.
    assert ("SPDXRef-Package-apk-init-0a1b", "DESCENDANT_OF",
            "DocumentRef-base:SPDXRef-Package-apk-musl-77") in relationships
    assert [r["externalDocumentId"] for r in document["externalDocumentRefs"]] == [
        "DocumentRef-base"]
    # The same licence identifier with another text is renamed, and so is its use.
    licenses = {item["licenseId"]: item["extractedText"]
                for item in document["hasExtractedLicensingInfos"]}
    assert licenses == {"LicenseRef-musl": "MIT, as musl ships it",
                        "LicenseRef-musl-2": "another text under the same identifier"}
    assert musl[1]["licenseDeclared"] == "LicenseRef-musl-2"
    assert musl[2]["licenseDeclared"] == "LicenseRef-musl"


def test_two_builds_give_byte_identical_sboms_and_the_epoch_changes_them(
        attested: tuple[Path, Store, Config]) -> None:
    first_tar, first = build_sbom(attested)
    second_tar, second = build_sbom(attested)
    assert first == second and first_tar == second_tar
    later_tar, later = build_sbom(attested, created=1700000000)
    document, other = json.loads(first), json.loads(later)
    assert other["creationInfo"]["created"] == "2023-11-14T22:13:20Z"
    assert document["documentNamespace"].startswith(PREFIX)
    assert other["documentNamespace"] != document["documentNamespace"]
    # Everything before the SBOM entry is the same build.
    with tarfile.open(fileobj=io.BytesIO(first_tar)) as archive:
        offset = archive.getmembers()[-1].offset
    assert later_tar[:offset] == first_tar[:offset]


def test_build_outputs_twice_are_byte_identical(attested: tuple[Path, Store, Config],
                                                 tmp_path: Path) -> None:
    root, store, config = attested
    plan = plan_build(config, store, cwd=str(root))
    options = BuildOptions(sbom=SbomOptions())
    contents = []
    for directory in ("a", "b"):
        (tmp_path / directory).mkdir()
        build_outputs(config, plan, ["kernel+initrd"], tmp_path / directory, "x",
                      options=options)
        contents.append({p.name: p.read_bytes() for p in (tmp_path / directory).iterdir()})
    assert contents[0] == contents[1]
    cpio = gzip.decompress(contents[0]["x-initrd.img"][16:])
    assert b"sbom.spdx.json" in cpio


def test_an_image_whose_attestation_is_not_cached_is_listed_from_its_digest(
        attested: tuple[Path, Store, Config], tmp_path: Path) -> None:
    _root, store, _config = attested
    attach_sbom(store, "docker.io/lktest/runc:test", [image_spdx("runc")], store_layers=False)
    _tar, body = build_sbom(attested)
    assert validate_spdx(body, tmp_path) == []
    [runc] = [p for p in json.loads(body)["packages"] if p["name"] == "docker.io/lktest/runc:test"]
    assert "carries no SBOM attestation" in runc["comment"]
    assert runc["versionInfo"] == store.find("docker.io/lktest/runc:test").digest  # type: ignore[union-attr]


@pytest.mark.parametrize(("predicate", "document", "message"), [
    ("https://slsa.dev/provenance/v1", image_spdx("x"), "unexpected predicate type"),
    (SPDX, {"spdxVersion": "SPDX-3.0"}, "not an SPDX 2.2 or 2.3 document"),
    (SPDX, {**image_spdx("x"), "packages": {"a": 1}}, "`packages` is not a list of objects"),
])
def test_unusable_attestations_fail_the_build(attested: tuple[Path, Store, Config],
                                              predicate: str, document: dict[str, Any],
                                              message: str) -> None:
    """The layer is annotated as SPDX; what it holds is not (linuxkit fails as well)."""
    attach_sbom(attested[1], "docker.io/lktest/runc:test", [document], predicate=predicate)
    with pytest.raises(BuildError, match=message):
        build_sbom(attested)


def test_a_corrupt_attestation_fails_the_build(attested: tuple[Path, Store, Config]) -> None:
    store = attested[1]
    index = attach_sbom(store, "docker.io/lktest/runc:test", [image_spdx("runc")])
    entries = json.loads(store.blob_path(index.digest).read_bytes())["manifests"]
    attestation = json.loads(store.blob_path(entries[1]["digest"]).read_bytes())
    blob = store.blob_path(attestation["layers"][0]["digest"])
    blob.write_bytes(blob.read_bytes().replace(b"musl", b"MUSL"))
    with pytest.raises(BuildError, match="digest mismatch"):
        build_sbom(attested)


def test_sbom_path_rules() -> None:
    assert check_sbom_path("sbom.spdx.json") == "sbom.spdx.json"
    assert check_sbom_path("usr/share/sbom.json") == "usr/share/sbom.json"
    for bad in ("", "/sbom.json", "../sbom.json", "a/../../b", "dir/", "."):
        with pytest.raises(ValueError):
            check_sbom_path(bad)


# -- CycloneDX -------------------------------------------------------------------------------


def validate_cyclonedx(data: bytes) -> str | None:
    """cyclonedx-python-lib's strict validation against the CycloneDX 1.6 JSON schema."""
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:
        skip_or_fail("cyclonedx-python-lib (the test extra) is not installed")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode())
    return None if error is None else str(getattr(error.data, "message", error))[:500]


def test_cyclonedx_sbom_is_valid_and_lists_what_the_spdx_one_lists(
        attested: tuple[Path, Store, Config]) -> None:
    _tar, spdx_body = build_sbom(attested)
    _tar, body = build_sbom(attested, path="sbom.cdx.json", format="cyclonedx", name="demo")
    assert validate_cyclonedx(body) is None
    spdx, bom = json.loads(spdx_body), json.loads(body)
    components = {c["bom-ref"]: c for c in bom["components"]}
    assert list(components) == [e["SPDXID"] for e in (*spdx["packages"], *spdx["files"])]
    assert bom["metadata"]["component"] == {"type": "operating-system",
                                            "bom-ref": "lkpolicy:image", "name": "demo"}
    assert bom["metadata"]["timestamp"] == "2017-04-18T16:30:00Z"
    store = attested[1]
    for number, name in enumerate(IMAGES, 1):
        image = components[f"SPDXRef-Image-{number}"]
        digest = store.find(f"docker.io/lktest/{name}:test").digest  # type: ignore[union-attr]
        assert image["type"] == "container" and image["version"] == digest
        assert image["hashes"] == [{"alg": "SHA-256", "content": digest.split(":")[1]}]
        assert image["purl"].startswith(f"pkg:oci/{name}@sha256%3A")
    kernel = next(c for c in components.values() if c["name"] == "kernel")
    assert kernel["licenses"] == [{"expression": "GPL-2.0-only"}]
    assert kernel["purl"] == "pkg:apk/alpine/kernel@1.0-r0" and "copyright" not in kernel
    [host] = [c for ref, c in components.items() if ref.startswith("SPDXRef-LocalFile")]
    assert host["type"] == "file" and host["name"] == "etc/from-host"
    assert {h["alg"] for h in host["hashes"]} == {"SHA-1", "SHA-256"}
    graph = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert set(graph["lkpolicy:image"]) >= {f"SPDXRef-Image-{n}" for n in range(1, 5)} | {
        host["bom-ref"]}
    assert kernel["bom-ref"] in graph["SPDXRef-Image-1"]  # the image contains its package
    musl = next(ref for ref in graph[kernel["bom-ref"]] if components[ref]["name"] == "musl")
    assert components[musl]["licenses"] == [{"expression": "LicenseRef-musl"}]
    every_ref = set(components) | {"lkpolicy:image"}
    assert all(set(targets) <= every_ref for targets in graph.values())


def test_cyclonedx_sbom_is_reproducible_and_follows_the_epoch(
        attested: tuple[Path, Store, Config]) -> None:
    first = build_sbom(attested, path="sbom.cdx.json", format="cyclonedx")[1]
    assert build_sbom(attested, path="sbom.cdx.json", format="cyclonedx")[1] == first
    later = json.loads(build_sbom(attested, path="sbom.cdx.json", format="cyclonedx",
                                  created=1700000000)[1])
    assert later["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    assert later["serialNumber"] != json.loads(first)["serialNumber"]
    assert later["serialNumber"].startswith("urn:uuid:")


def test_cyclonedx_translation_keeps_only_what_cyclonedx_can_say() -> None:
    from lkpolicy.assemble.cyclonedx import from_spdx

    spdx = {"creationInfo": {"created": "2020-01-01T00:00:00Z"}, "packages": [
        {"SPDXID": "SPDXRef-a", "name": "a", "versionInfo": "NOASSERTION",
         "supplier": "Organization: Example", "primaryPackagePurpose": "FIRMWARE",
         "licenseDeclared": "NONE", "licenseConcluded": "MIT OR Apache-2.0",
         "checksums": [{"algorithm": "SHA1", "checksumValue": "abc"},
                       {"algorithm": "SHA224", "checksumValue": "0" * 56},
                       {"algorithm": "SHA256", "checksumValue": "AB" * 32}],
         "externalRefs": [{"referenceType": "cpe23Type",
                           "referenceLocator": "cpe:2.3:a:x:a:1:*:*:*:*:*:*:*"},
                          {"referenceType": "purl", "referenceLocator": "pkg:generic/a@1"},
                          {"referenceType": "purl", "referenceLocator": "pkg:generic/a@2"}]},
        "not an element"],
        "relationships": [
            {"spdxElementId": "SPDXRef-a", "relationshipType": "DEPENDENCY_OF",
             "relatedSpdxElement": "SPDXRef-DOCUMENT"},
            {"spdxElementId": "SPDXRef-a", "relationshipType": "DEPENDS_ON",
             "relatedSpdxElement": "DocumentRef-x:SPDXRef-b"},
            {"spdxElementId": "SPDXRef-a", "relationshipType": "OTHER",
             "relatedSpdxElement": "SPDXRef-a"}]}
    bom = from_spdx(spdx, "x", "0")
    assert validate_cyclonedx(json.dumps(bom).encode()) is None
    [component] = bom["components"]
    assert component == {"type": "firmware", "bom-ref": "SPDXRef-a", "name": "a",
                         "supplier": {"name": "Example"},
                         "hashes": [{"alg": "SHA-256", "content": "ab" * 32}],
                         "licenses": [{"expression": "MIT OR Apache-2.0"}],
                         "cpe": "cpe:2.3:a:x:a:1:*:*:*:*:*:*:*", "purl": "pkg:generic/a@1"}
    # DEPENDENCY_OF is turned around; another document's element and OTHER are left out.
    assert bom["dependencies"] == [{"ref": "lkpolicy:image", "dependsOn": ["SPDXRef-a"]}]


# -- the command line ------------------------------------------------------------------------


def test_cli_writes_the_sbom_by_default_and_honours_no_sbom_and_sbom_output(
        attested: tuple[Path, Store, Config], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _store, _config = attested
    monkeypatch.chdir(root)  # the config's host file is relative
    (root / "open.yml").write_text("extends: []\n")
    common = ["build", "--cache", str(root / "cache"), "--arch", "amd64", "--policy",
              str(root / "open.yml"), "-f", "tar", str(root / "sbom.yml")]
    runner = CliRunner()
    names = {}
    for extra in ([], ["--no-sbom"], ["--sbom-output", "usr/share/sbom.json"],
                  ["--sbom-format", "cyclonedx"]):
        out = root / f"out{len(names)}"
        result = runner.invoke(app, [*common, "--dir", str(out), *extra])
        assert result.exit_code == 0, result.output
        with tarfile.open(out / "sbom.tar") as archive:
            names[tuple(extra)] = archive.getnames()[-1]
    assert names == {(): "sbom.spdx.json", ("--no-sbom",): "etc/from-host",
                     ("--sbom-output", "usr/share/sbom.json"): "usr/share/sbom.json",
                     ("--sbom-format", "cyclonedx"): "sbom.cdx.json"}
    envelope = json.loads((root / "out3" / "sbom.intoto.jsonl").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    [byproduct] = statement["predicate"]["runDetails"]["byproducts"]
    assert byproduct["mediaType"] == "application/vnd.cyclonedx+json"
    assert byproduct["name"] == "sbom.cdx.json"
    wrong = runner.invoke(app, [*common, "--dir", str(root / "bad"), "--sbom-format", "xml"])
    assert wrong.exit_code == 2 and not (root / "bad").exists()
    bad = runner.invoke(app, [*common, "--dir", str(root / "bad"), "--sbom-output", "/abs.json"])
    assert bad.exit_code == 2
    assert "--sbom-output" in bad.output and not (root / "bad").exists()
    epoch = runner.invoke(app, [*common, "--dir", str(root / "bad")],
                          env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert epoch.exit_code == 2 and "SOURCE_DATE_EPOCH" in epoch.output


# -- against the real linuxkit ---------------------------------------------------------------


def test_linuxkit_merges_the_same_elements_in_the_same_order(
        attested: tuple[Path, Store, Config], shared_dir: Path, tmp_path: Path) -> None:
    """linuxkit's merged SBOM (same cache, same config) holds exactly ours minus what lkpolicy
    adds (the image packages, host files and their relationships), renamed identifiers and
    duplicates aside; the tar before the SBOM entry is byte-identical."""
    binary = shared_dir / "tools" / "linuxkit"
    if not os.access(binary, os.X_OK):
        skip_or_fail(f"the reference linuxkit is missing at {binary}")
    root, _store, _config = attested
    out = tmp_path / "linuxkit"
    out.mkdir()
    env = {"HOME": str(out), "PATH": os.environ.get("PATH", ""),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([str(binary), "build", "--cache", str(root / "cache"), "--format",
                           "tar", "--dir", str(out), "--name", "sbom", str(root / "sbom.yml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    theirs_tar = (out / "sbom.tar").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(theirs_tar)) as archive:
        entry = archive.getmembers()[-1]
        theirs = json.loads(archive.extractfile(entry).read())  # type: ignore[union-attr]
    ours_tar, body = build_sbom(attested)
    ours = json.loads(body)
    assert ours_tar[:entry.offset] == theirs_tar[:entry.offset]

    def names(document: dict[str, Any], key: str, field: str) -> list[str]:
        return [e.get(field, "").lstrip("/") for e in document.get(key, [])
                if not e["SPDXID"].startswith(("SPDXRef-Image-", "SPDXRef-LocalFile-"))]

    # linuxkit repeats the init image's SBOM (init is listed twice); lkpolicy keeps it once.
    theirs_files = names(theirs, "files", "fileName")
    assert theirs_files[2:4] == theirs_files[4:6]
    assert names(ours, "files", "fileName") == theirs_files[:2] + theirs_files[4:]
    theirs_packages = [(p["name"], p.get("packageFileName")) for p in theirs["packages"]]
    ours_packages = [(p["name"], p.get("packageFileName")) for p in ours["packages"]
                     if not p["SPDXID"].startswith("SPDXRef-Image-")]
    assert ours_packages == theirs_packages[:4] + theirs_packages[6:]
    theirs_ids = [p["SPDXID"] for p in theirs["packages"]]
    assert len(set(theirs_ids)) < len(theirs_ids)  # linuxkit leaves duplicate identifiers
    assert theirs["creationInfo"]["created"] == ours["creationInfo"]["created"]
    shutil.rmtree(out)
