"""In-toto attestations in the forms cosign attaches them, built from scratch.

* statements (in-toto v1) with SLSA provenance v0.2 and v1 predicates as the GitHub generators
  write them, or any other predicate;
* DSSE envelopes signed with a key (`cryptography`), as cosign's legacy `.att` layers hold them
  (`application/vnd.dsse.envelope.v1+json`, annotation `predicateType`), and the `.att` manifest;
* Sigstore bundles come from cosign_helpers (keyless `FakeSigstore.dsse_bundle`, managed-key
  `FakeSigstore.key_dsse_bundle`) and go up as referrers with `add_bundle_referrer`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cosign_helpers import IN_TOTO, PrivateKey, go_json, pae, sign
from registry_env import OCI_CONFIG, OCI_MANIFEST, OCILayout

DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SPDX = "https://spdx.dev/Document"
BUILDER = "https://github.com/lktest/builder/.github/workflows/build.yml@refs/tags/v2.1.0"
GHA_WORKFLOW = "https://actions.github.io/buildtypes/workflow/v1"
REPOSITORY = "https://github.com/lktest/app"


def slsa_v1(builder: str = BUILDER, repository: str = REPOSITORY,
            ref: str = "refs/heads/main") -> dict[str, Any]:
    return {
        "buildDefinition": {
            "buildType": GHA_WORKFLOW,
            "externalParameters": {"workflow": {"ref": ref, "repository": repository,
                                                "path": ".github/workflows/release.yml"}},
            "internalParameters": {"github": {"event_name": "push"}},
            "resolvedDependencies": [{"uri": f"git+{repository}@{ref}",
                                      "digest": {"gitCommit": "a" * 40}}],
        },
        "runDetails": {"builder": {"id": builder},
                       "metadata": {"invocationId": f"{repository}/actions/runs/1/attempts/1"}},
    }


def slsa_v02(builder: str = BUILDER, repository: str = REPOSITORY,
             ref: str = "refs/tags/v1.0.0") -> dict[str, Any]:
    return {
        "builder": {"id": builder},
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
        "invocation": {"configSource": {"uri": f"git+{repository}@{ref}",
                                        "digest": {"sha1": "b" * 40},
                                        "entryPoint": ".github/workflows/release.yml"}},
        "materials": [{"uri": f"git+{repository}@{ref}", "digest": {"sha1": "b" * 40}}],
    }


def statement(digest: str, predicate_type: str, predicate: Any) -> bytes:
    return go_json({"_type": "https://in-toto.io/Statement/v1",
                    "subject": [{"name": "image", "digest": {"sha256": digest.split(":", 1)[1]}}],
                    "predicateType": predicate_type, "predicate": predicate})


def envelope(key: PrivateKey, payload: bytes, signed: bytes | None = None) -> bytes:
    """A DSSE envelope of `payload`; `signed`: sign these bytes instead (a tampered payload)."""
    signature = sign(key, pae(IN_TOTO, signed if signed is not None else payload))
    return go_json({"payloadType": IN_TOTO, "payload": base64.b64encode(payload).decode(),
                    "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}]})


def add_att_manifest(layout: OCILayout, tag: str,
                     envelopes: list[tuple[bytes, str]]) -> dict[str, Any]:
    """cosign's legacy `.att` manifest: one DSSE envelope layer per (envelope, predicate type),
    tagged in the layout."""
    layers = [{"mediaType": DSSE_ENVELOPE, **layout.put(data),
               "annotations": {"dev.cosignproject.cosign/signature": "",
                               "predicateType": predicate}}
              for data, predicate in envelopes]
    config = go_json({"architecture": "", "config": {}, "os": "",
                      "rootfs": {"type": "layers", "diff_ids": []}})
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **layout.put(config)}, "layers": layers}
    descriptor = {"mediaType": OCI_MANIFEST, **layout.put(go_json(manifest))}
    layout.tag(descriptor, tag)
    return descriptor


def tampered(bundle: bytes) -> bytes:
    """The bundle with its statement's builder rewritten after signing."""
    document = json.loads(bundle)
    payload = base64.b64decode(document["dsseEnvelope"]["payload"])
    document["dsseEnvelope"]["payload"] = base64.b64encode(
        payload.replace(b"lktest/builder", b"lktest/evil00")).decode()
    return json.dumps(document).encode()
