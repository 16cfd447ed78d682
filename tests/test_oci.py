"""OCI parsing of hostile documents: every refusal is an `OCIError` with one plain line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lkpolicy.model.oci import (
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    OCIError,
    detect_media_type,
    sha256_digest,
)

DIGEST = "sha256:" + "a" * 64


def descriptor(**changes: Any) -> dict[str, Any]:
    return {"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 7, **changes}


def deep(levels: int) -> bytes:
    return b'{"manifests":' + b"[" * levels + b"]" * levels + b"}"


def manifest(data: bytes) -> Manifest:
    return Manifest(data, OCI_INDEX, sha256_digest(data))


def refusal(call: Any) -> str:
    with pytest.raises(OCIError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    return message


def test_a_well_formed_descriptor_keeps_its_fields() -> None:
    parsed = Descriptor.from_json(descriptor(annotations={"a": "b"}, platform={"os": "linux"}))
    assert (parsed.size, parsed.annotations, parsed.platform) == (7, {"a": "b"}, {"os": "linux"})
    assert Descriptor.from_json(descriptor(annotations=None)).annotations == {}
    # null is what Go decodes into an empty string, so linuxkit accepts it too.
    assert Descriptor.from_json(descriptor(platform={"os": "linux", "variant": None})).platform


@pytest.mark.parametrize(("changes", "expected"), [
    ({"size": 2**63}, "size is out of range"),
    ({"size": -1}, "size is out of range"),
    ({"size": 1.5}, "size must be an integer"),
    ({"size": "7"}, "size must be an integer"),
    ({"size": True}, "size must be an integer"),
    ({"size": float("inf")}, "size must be an integer"),
    ({"annotations": "x"}, "annotations are not a map of strings"),
    ({"annotations": {"a": {"b": 1}}}, "annotations are not a map of strings"),
    ({"platform": ["linux"]}, "platform is not an object"),
    ({"platform": {"os": 1}}, "platform is not an object"),
    ({"platform": {"os": "linux", "variant": 8}}, "platform is not an object"),
])
def test_descriptor_fields_of_the_wrong_type_or_range_are_refused(changes: dict[str, Any],
                                                                   expected: str) -> None:
    message = refusal(lambda: Descriptor.from_json(descriptor(**changes), "entry 3"))
    assert message.startswith("entry 3") and expected in message


@pytest.mark.parametrize(("data", "expected"), [
    (deep(5000), "nested too deeply"),
    (deep(100), "nested deeper than 64 levels"),
    (b'{"manifests":[], "schemaVersion": 1e400}', "out of range"),
    (b'{"manifests":[], "schemaVersion": ' + b"9" * 5000 + b"}", "too many digits"),
    (b'{"manifests":[], "schemaVersion": 99999999999999999999}', "schemaVersion is out of range"),
    (b'{"manifests":[], "schemaVersion": "2"}', "schemaVersion must be an integer"),
    (b'{"manifests":[{"mediaType":"x","digest":"' + DIGEST.encode() + b'","size":1e400}]}',
     "out of range"),
    (b'{"manifests": NaN}', "not a JSON number"),
    (b"[]", "is not a JSON object"),
    (b"\xff", "not UTF-8"),
    (b'{"manifests": [' + b" " * MAX_MANIFEST_BYTES + b"]}", "is larger than"),
])
def test_hostile_manifests_are_one_line_errors(data: bytes, expected: str) -> None:
    top = manifest(data)
    message = refusal(top.manifests)
    assert message.startswith(f"manifest {top.digest}") and expected in message
    # The media type falls back to what the transport said; reading the content says why.
    assert detect_media_type(data, OCI_INDEX) == OCI_INDEX


def test_the_manifest_of_a_well_formed_index_parses() -> None:
    entry = descriptor(platform={"os": "linux", "architecture": "amd64"})
    top = manifest(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                               "manifests": [entry]}).encode())
    assert detect_media_type(top.data, None) == OCI_INDEX
    assert [d.digest for d in top.manifests()] == [DIGEST]
