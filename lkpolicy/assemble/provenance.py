"""Build provenance: an in-toto statement (v1) with an SLSA provenance v1 predicate, written
next to the outputs as a DSSE envelope (`NAME.intoto.jsonl`), signed with a key or keyless
(then also the Sigstore bundle, `NAME.sigstore.json`).

The statement ties the outputs to what the gate verified:

* `subject`: every output file of the build (the build manifest included) with its SHA-256;
* `buildDefinition.externalParameters`: what the user asked for (configs, formats, name,
  platform, policies, the SBOM's path in the image); `internalParameters`: what else shaped
  the bytes (`SOURCE_DATE_EPOCH`, the compression level);
* `buildDefinition.resolvedDependencies`: the config texts the gate parsed, the policy files
  that judged them, every image (`pkg:oci` purl, root manifest digest, media type, size,
  platform manifest, and the trust evidence the gate recorded for it: authority, type, signer
  or role, expiry) and every host file a `files` entry copied (the SHA-256 the gate read and
  the build checked), each with an `annotations.role`;
* `runDetails`: the builder (lkpolicy and its version) and, as byproduct, the SBOM inside the
  image.

Nothing in it depends on the clock or the machine beyond the inputs: two builds of the same
inputs give the same statement (an ECDSA signature still differs, as ECDSA signatures do).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.assemble.builder import BuildError

if TYPE_CHECKING:
    from lkpolicy.assemble.builder import BuildSummary
    from lkpolicy.assemble.plan import BuildPlan
    from lkpolicy.stages.trust.dsse import SigningKey

__all__ = ["BUILDER_ID", "BUILD_TYPE", "BUNDLE_SUFFIX", "ENVELOPE_SUFFIX", "PREDICATE_TYPE",
           "STATEMENT_TYPE", "ProvenanceRequest", "ProvenanceWriter", "Signer",
           "build_statement", "digest_of_file", "key_signer", "keyless_signer",
           "policy_digests", "unsigned"]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# `.invalid` (RFC 2606) until the project has a home page: identifiers, never fetched.
BUILD_TYPE = "https://lkpolicy.invalid/build/linuxkit/v1"
BUILDER_ID = "https://lkpolicy.invalid/builder/cli/v1"
ENVELOPE_SUFFIX = ".intoto.jsonl"
BUNDLE_SUFFIX = ".sigstore.json"
MAX_POLICY_BYTES = 4 * 1024 * 1024
_CHUNK = 1 << 20

Signer = Callable[[bytes], list[tuple[str, bytes]]]
"""Statement bytes -> the files to write next to the outputs, by suffix."""


@dataclass(frozen=True, slots=True)
class ProvenanceRequest:
    """What the command line knows about a build besides its plan."""

    configs: tuple[tuple[str, str], ...]
    """(path as given, `sha256:<hex>` of the text the gate parsed), in merge order."""
    policies: tuple[tuple[str, str], ...]
    """(policy spec, `sha256:<hex>` of its file): the policy and every one it extends."""
    formats: tuple[str, ...]
    name: str
    compression_level: int
    epoch: int
    sbom_path: str | None
    version: str


def digest_of_file(path: str | Path, limit: int | None = None) -> str:
    """`sha256:<hex>` of a file, streamed; `BuildError` past `limit` bytes or when unreadable."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise BuildError(f"provenance: {path} is larger than {limit} bytes")
                digest.update(chunk)
    except OSError as error:
        raise BuildError(f"provenance: cannot read {path}: {error.strerror or error}") from None
    return "sha256:" + digest.hexdigest()


def _digest(value: str) -> dict[str, str]:
    algorithm, _, hexdigest = value.partition(":")
    return {algorithm: hexdigest}


def _dependencies(request: ProvenanceRequest, plan: BuildPlan,
                  files: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    from lkpolicy.assemble.sbom import oci_purl

    found: list[dict[str, Any]] = []
    for path, digest in request.configs:
        found.append({"name": path, "digest": _digest(digest),
                      "annotations": {"role": "config"}})
    for spec, digest in request.policies:
        found.append({"name": spec, "digest": _digest(digest),
                      "annotations": {"role": "policy"}})
    evidence: dict[str, list[dict[str, Any]]] = {}
    for item in plan.evidence:
        record = {key: value for key, value in item.items() if key != "image"}
        evidence.setdefault(str(item.get("image", "")), []).append(record)
    for name, image in sorted(plan.images.items()):
        annotations: dict[str, Any] = {
            "role": "image", "size": image.descriptor.size,
            "platformManifest": image.manifest.digest,
            "platform": str(image.platform) if image.platform is not None else None,
            "trust": evidence.get(name, []),
        }
        found.append({"name": name, "uri": oci_purl(name, image.digest),
                      "digest": _digest(image.digest), "mediaType": image.descriptor.media_type,
                      "annotations": annotations})
    for index, local in sorted(plan.files.items()):
        if local.sha256 is None:
            continue
        original = str(files[index].get("path", "")) if index < len(files) else ""
        found.append({"name": str(local.node.value), "digest": _digest(local.sha256),
                      "annotations": {"role": "file", "files": index, "size": local.size,
                                      "path": original}})
    return found


def build_statement(request: ProvenanceRequest, plan: BuildPlan,
                    files: Sequence[Mapping[str, Any]], outputs: Sequence[tuple[str, str]],
                    summary: BuildSummary) -> bytes:
    """The statement's bytes (compact JSON): `files` is the config's `files` section (Go
    model), `outputs` the (file name, `sha256:<hex>`) of every output."""
    subjects = [{"name": name, "digest": _digest(digest)} for name, digest in sorted(outputs)]
    byproducts = []
    if summary.sbom is not None:
        from lkpolicy.assemble.sbom import SPDX_MEDIA_TYPE

        byproducts.append({"name": summary.sbom_path,
                           "digest": {"sha256": hashlib.sha256(summary.sbom).hexdigest()},
                           "mediaType": summary.sbom_media_type or SPDX_MEDIA_TYPE,
                           "annotations": {"role": "sbom", "in": "image"}})
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "configs": [path for path, _ in request.configs],
                    "formats": list(request.formats),
                    "name": request.name,
                    "platform": str(plan.platform),
                    "policies": [spec for spec, _ in request.policies],
                    "sbom": request.sbom_path,
                },
                "internalParameters": {"sourceDateEpoch": request.epoch,
                                       "compressionLevel": request.compression_level},
                "resolvedDependencies": _dependencies(request, plan, files),
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"lkpolicy": request.version}},
                "byproducts": byproducts,
            },
        },
    }
    try:
        text = json.dumps(statement, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as error:
        raise BuildError(f"provenance: the trust evidence is not JSON data: {error}") from None
    return text.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Signing and writing


def unsigned() -> Signer:
    """The envelope without a signature (`verify-build` refuses it)."""
    from lkpolicy.stages.trust.dsse import sign_envelope

    return lambda statement: [(ENVELOPE_SUFFIX, sign_envelope(statement, None).encode())]


def key_signer(key: SigningKey) -> Signer:
    from lkpolicy.stages.trust.dsse import sign_envelope

    return lambda statement: [(ENVELOPE_SUFFIX, sign_envelope(statement, key).encode())]


def keyless_signer(token: str, context: Any | None = None) -> Signer:
    """Sigstore keyless: the bundle, and the envelope it holds (for tools that want DSSE).
    The token is checked now (`SigningKeyError`), the signing happens after the build."""
    from lkpolicy.stages.trust.dsse import (
        SigningKeyError,
        identity_token,
        parse_envelope,
        sign_keyless,
    )

    identity = identity_token(token)

    def sign(statement: bytes) -> list[tuple[str, bytes]]:
        try:
            bundle = sign_keyless(statement, identity, context=context)
        except SigningKeyError as error:
            raise BuildError(f"provenance: {error}") from None
        envelope = parse_envelope(json.loads(bundle)["dsseEnvelope"])
        return [(ENVELOPE_SUFFIX, envelope.encode()), (BUNDLE_SUFFIX, bundle)]

    return sign


class ProvenanceWriter:
    """The `build_outputs` hook: given the finished output files (temporary path, final
    path) and the build summary, the provenance files to write beside them."""

    def __init__(self, request: ProvenanceRequest, plan: BuildPlan,
                 files: Sequence[Mapping[str, Any]], signer: Signer) -> None:
        self.request = request
        self.plan = plan
        self.files = files
        self.signer = signer

    def __call__(self, outputs: Sequence[tuple[Path, Path]],
                 summary: BuildSummary) -> list[tuple[str, bytes]]:
        # Hashed as they were written (`BuildSummary.outputs`); read only what is not there.
        digests = [(final.name, summary.outputs[final.name][0] if final.name in summary.outputs
                    else digest_of_file(temporary)) for temporary, final in outputs]
        statement = build_statement(self.request, self.plan, self.files, digests, summary)
        return self.signer(statement)


def policy_digests(sources: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(spec, digest) of every policy source (`builtin:NAME` or a path)."""
    import os

    from lkpolicy.stages.policy.discovery import policy_file

    found = []
    here = os.getcwd()
    for spec in sources:
        path = policy_file(spec)
        if path is None:
            continue
        name = spec
        # Relative to the working directory when below it: no host paths in the record.
        if os.path.isabs(spec) and os.path.commonpath([here, spec]) == here:
            name = os.path.relpath(spec, here)
        found.append((name, digest_of_file(path, MAX_POLICY_BYTES)))
    return tuple(found)
