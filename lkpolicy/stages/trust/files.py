"""Trust for local files: `files` entries whose `source:` the build copies from the host.

A `trust.rules` entry with `files:` globs requires signatures over the bytes of the files it
matches (by path in the image, `source:` as written, or host path): a Sigstore bundle (keyless,
`sigstore` authorities; or made with a key, `cosign-key`) or a cosign `sign-blob` signature
with a key. The signature is looked for where the rule's `signature` templates say (default:
`<source>.sigstore.json`, then `<source>.sig`) and checked against the SHA-256 of the bytes the
gate read (`LocalFile`), which the build checks again as it copies them; identities are the
authority's, as for images. Findings are LKT005, at the entry's `source:`.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lkpolicy.model.config import Config
from lkpolicy.stages.policy.model import DEFAULT_FILE_SIGNATURES
from lkpolicy.stages.trust.requirements import Ask
from lkpolicy.stages.trust.rules import TRUST_FILE_NOT_VOUCHED
from lkpolicy.stages.trust.verifiers import (
    Context,
    Evidence,
    VerificationFailed,
    iso,
    missing_trust_extra,
)

if TYPE_CHECKING:
    from lkpolicy.stages.localfiles import LocalFile
    from lkpolicy.stages.policy.model import Authority, TrustPolicy, TrustRule
    from lkpolicy.stages.trust.stage import TrustResult

TEMPLATE_FIELDS = ("source", "name", "path")
MAX_SIGNATURE_FILE_BYTES = 1024 * 1024
"""A Sigstore bundle or a base64 signature; real ones are a few KiB."""


def check_template(template: str) -> str | None:
    """Why a signature path template is unusable (None: it is fine)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        return str(error)
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            return (f"unknown placeholder {{{name}}}; use "
                    + ", ".join(f"{{{field}}}" for field in TEMPLATE_FIELDS))
    return None


def signature_paths(local: LocalFile, templates: Sequence[str]) -> list[str]:
    """Where the signatures of a file may be, in order."""
    return [template.format(source=local.path, name=os.path.basename(local.path),
                            path=local.target.lstrip("/"))
            for template in templates or DEFAULT_FILE_SIGNATURES]


def read_signature(local: LocalFile, templates: Sequence[str]) -> tuple[str, bytes]:
    """The first signature file that exists; VerificationFailed naming where it looked."""
    from lkpolicy.safeio import UntrustedInput, read_regular_file

    paths = signature_paths(local, templates)
    for path in paths:
        try:
            return path, read_regular_file(path, MAX_SIGNATURE_FILE_BYTES, "signature")
        except FileNotFoundError:
            continue
        except OSError as error:
            raise VerificationFailed(f"cannot read the signature {path}: "
                                     f"{error.strerror or error}") from None
        except UntrustedInput as error:
            raise VerificationFailed(str(error)) from None
    raise VerificationFailed(f"no signature for {local.path} (looked for {', '.join(paths)})")


class BlobVerifier:
    """One authority's check of a file's signature: cosign keys, or keyless identities."""

    def __init__(self, authority: Authority, context: Context) -> None:
        from lkpolicy.stages.trust.adapters import keyless_policies, read_keys

        self.authority = authority
        self.keys: list[Any] = []
        self.keyless: list[Any] = []
        if authority.type == "cosign-key":
            from lkpolicy.stages.trust.cosign.signatures import load_public_key

            for index, pem in enumerate(read_keys(authority)):
                try:
                    self.keys.append(load_public_key(pem))
                except ValueError as error:
                    raise VerificationFailed(f"public key {index + 1}: {error}") from None
        else:
            from lkpolicy.stages.trust.sigstore_keyless import KeylessVerifier

            self.keyless = [KeylessVerifier(policy)
                            for policy in keyless_policies(authority, context)]

    def verify(self, local: LocalFile, templates: Sequence[str]) -> list[Evidence]:
        from lkpolicy.stages.trust.errors import KeylessError, TrustError

        path, data = read_signature(local, templates)
        assert local.sha256 is not None
        sha256 = bytes.fromhex(local.sha256.split(":", 1)[1])
        name = local.target or local.path
        base = {"authority": self.authority.name, "type": self.authority.type,
                "file": local.target, "source": local.path, "digest": local.sha256,
                "size": local.size, "signature": path}
        bundle = data.lstrip().startswith(b"{")
        if bundle and b'"base64Signature"' in data and b'"verificationMaterial"' not in data:
            raise VerificationFailed(f"{path} is a cosign bundle of the pre-v3 format "
                                     f"(base64Signature, cert, rekorBundle), which lkpolicy does "
                                     f"not read; sign with cosign v3 (`--bundle`)")
        try:
            if self.keys:
                signature = self._with_keys(data, bundle, sha256, name, path)
                return [{**base, "signer": signature.signer, "method": "key",
                         "format": signature.format, "logged": None}]
            if not bundle:
                raise VerificationFailed(f"{path} is a bare signature; keyless signers need a "
                                         f"Sigstore bundle (`cosign sign-blob --bundle`)")
            reasons = []
            for verifier in self.keyless:  # identities are alternatives
                try:
                    result = verifier.verify_blob_bundle(data, sha256)
                except KeylessError as error:
                    reasons.append(error.reason)
                    continue
                return [{**base, "signer": f"{result.identity} (issuer {result.issuer})",
                         "method": "keyless", "format": "sigstore-bundle",
                         "logged": iso(result.integrated_time)}]
            raise VerificationFailed(f"{path}: " + "; ".join(dict.fromkeys(reasons)))
        except TrustError as error:
            raise VerificationFailed(str(error)) from None

    def _with_keys(self, data: bytes, bundle: bool, sha256: bytes, name: str,
                   path: str) -> Any:
        from lkpolicy.stages.trust.cosign.blobs import (
            verify_blob_bundle_with_key,
            verify_blob_signature,
        )
        from lkpolicy.stages.trust.cosign.signatures import parse_json_object

        if not bundle:
            return verify_blob_signature(data, sha256, self.keys, name=name, source=path)
        parsed = parse_json_object(data, name, path)
        material = parsed.get("verificationMaterial")
        if not isinstance(material, dict) or "publicKey" not in material:
            raise VerificationFailed(f"{path} is a keyless bundle, but authority "
                                     f"`{self.authority.name}` trusts keys")
        return verify_blob_bundle_with_key(parsed, sha256, self.keys, name=name, source=path)


class BlobVerifiers:
    """Blob verifiers built on first use; answers kept per authority, file and templates."""

    def __init__(self, authorities: Mapping[str, Authority], context: Context) -> None:
        self.authorities = authorities
        self.context = context
        self._built: dict[str, BlobVerifier | VerificationFailed] = {}
        self._results: dict[tuple[str, int, tuple[str, ...]],
                            list[Evidence] | VerificationFailed] = {}

    def verify(self, name: str, local: LocalFile,
               templates: tuple[str, ...]) -> list[Evidence] | VerificationFailed:
        key = (name, local.index, templates)
        if key not in self._results:
            try:
                self._results[key] = self._get(name).verify(local, templates)
            except VerificationFailed as error:
                self._results[key] = error
        return self._results[key]

    def _get(self, name: str) -> BlobVerifier:
        built = self._built.get(name)
        if built is None:
            built = missing_trust_extra()
        if built is None:
            try:
                built = BlobVerifier(self.authorities[name], self.context)
            except VerificationFailed as error:
                built = error
            except (ValueError, OSError, ModuleNotFoundError) as error:
                built = VerificationFailed(f"cannot set up the verifier: {error}")
            self._built[name] = built
        if isinstance(built, VerificationFailed):
            raise built
        return built


def judge_files(config: Config, local_files: Mapping[int, LocalFile] | None,
                trust: TrustPolicy, context: Context, result: TrustResult) -> None:
    """Every `files` source a files rule matches must satisfy the rule's requirement."""
    from lkpolicy.stages.localfiles import source_entries

    rules = [rule for rule in trust.rules if rule.files]
    pool = BlobVerifiers(trust.authorities, context)
    for index, node, entry in source_entries(config):
        local = local_files.get(index) if local_files is not None else None
        names = local.names if local is not None else (
            str(entry.get("path", "")).lstrip("/"), str(entry["source"]))
        matching = [rule for rule in rules if rule.matches_file(names)]
        if not matching:
            continue
        subject = f"`files` entry `{names[0]}` (source {names[1]})"
        messages: list[str] = []
        if local_files is None:
            wanted = " and ".join(f"`{rule.require.describe()}`" for rule in matching)
            messages.append(f"{subject} must be verified by {wanted}, but the gate did not "
                            f"read it (`--no-images` judges the YAML alone)")
        elif local is not None and local.sha256 is not None:
            # Unreadable sources are LK408 already; an absent optional one is not copied.
            for rule in matching:
                messages.extend(_judge_rule(rule, local, pool, subject, trust, result))
        if local_files is None:
            hint = "check without `--no-images`: the gate then reads and verifies the file"
        else:
            source = local.path if local is not None else names[1]
            hint = (f"sign the file (`cosign sign-blob --bundle {source}.sigstore.json "
                    f"{source}`, or `--key` with `--output-signature`), keep the signature where "
                    "the rule's `signature` templates look, and sign it again after every change")
        for message in dict.fromkeys(messages):
            result.findings.append(TRUST_FILE_NOT_VOUCHED.finding(message, node.location,
                                                                   node.pointer, hint=hint))


def _judge_rule(rule: TrustRule, local: LocalFile, pool: BlobVerifiers, subject: str,
                trust: TrustPolicy, result: TrustResult) -> list[str]:
    from lkpolicy.stages.trust.stage import unmet_findings

    asks = list(dict.fromkeys(rule.require.asks()))
    outcomes = {ask: pool.verify(ask.authority, local, rule.signatures) for ask in asks}
    answers: dict[Ask, Any] = {
        ask: outcome.refusal if isinstance(outcome, VerificationFailed) else None
        for ask, outcome in outcomes.items()}
    for outcome in outcomes.values():
        if not isinstance(outcome, VerificationFailed):
            result.file_evidence.extend(item for item in outcome
                                        if item not in result.file_evidence)
    return [message for _rule, message in unmet_findings(subject, [rule.require], answers,
                                                         trust)]
