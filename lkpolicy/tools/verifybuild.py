"""`lkpolicy verify-build`: outputs checked against their signed provenance.

Three checks, each with its own reason when it fails:

1. the signature: the DSSE envelope (`NAME.intoto.jsonl`) with a public key, or the Sigstore
   bundle (`NAME.sigstore.json`) with a trusted root and an identity policy; only then is the
   statement read (an unsigned or unverifiable one is refused, unless the caller explicitly
   skips this check);
2. the subjects: every output named is a subject of the statement, with the same SHA-256;
3. optionally the dependencies: the trust requirements of a policy, run again on the image
   digests the provenance records (what the build used), with the same authorities and rules
   as the gate's trust stage (`requirements_for`, `unmet_requirements`). The config's own
   `trust:` section is not part of the provenance, so only the policy's `trust.rules` apply.

Errors: `InputProblem` (exit 2: a file that cannot be read or parsed, options that do not fit)
and `VerificationFailure` (exit 1: the lines say what did not verify).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lkpolicy.stages.policy.model import Policy
    from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy
    from lkpolicy.stages.trust.stage import Verifier

__all__ = ["Checked", "InputProblem", "VerificationFailure", "check_dependencies",
           "check_subjects", "find_provenance", "read_statement"]

MAX_CANDIDATES = 64
"""Provenance files looked at in an output's directory when none is named."""
MAX_PUBLIC_KEY_BYTES = 64 * 1024


class InputProblem(Exception):
    """Exit code 2: the one-line reason."""


class VerificationFailure(Exception):
    """Exit code 1: one line per thing that did not verify."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


@dataclass(slots=True)
class Checked:
    statement: dict[str, Any]
    signer: str
    """Who signed, for people (the key id, or the certificate identity and issuer)."""
    subjects: list[tuple[str, str]] = field(default_factory=list)
    """(output, `sha256:<hex>`) verified."""
    dependencies: list[str] = field(default_factory=list)
    """Lines about the dependencies re-checked against the policy."""


# --------------------------------------------------------------------------------------------
# Finding and reading the provenance


def _read(path: Path, limit: int, what: str) -> bytes:
    from lkpolicy.safeio import UntrustedInput, read_regular_file

    try:
        return read_regular_file(path, limit, what)
    except OSError as error:
        raise InputProblem(f"cannot read {what} {path}: {error.strerror or error}") from None
    except UntrustedInput as error:
        raise InputProblem(str(error)) from None


def find_provenance(outputs: Sequence[Path]) -> Path:
    """The `*.intoto.jsonl` beside the outputs whose statement names them all."""
    from lkpolicy.assemble.provenance import ENVELOPE_SUFFIX
    from lkpolicy.stages.trust.dsse import MAX_ENVELOPE_BYTES, EnvelopeError, parse_envelope

    directories = {output.parent for output in outputs}
    if len(directories) != 1:
        raise InputProblem("the outputs are in different directories: name the provenance "
                           "with --provenance")
    directory = directories.pop()
    try:
        candidates = sorted(path for path in directory.iterdir()
                            if path.name.endswith(ENVELOPE_SUFFIX))[:MAX_CANDIDATES]
    except OSError as error:
        raise InputProblem(f"cannot list {directory}: {error.strerror or error}") from None
    wanted = {output.name for output in outputs}
    matching = []
    for candidate in candidates:
        try:  # unverified: only to find the file; it is verified before it is believed
            envelope = parse_envelope(_read(candidate, MAX_ENVELOPE_BYTES, "provenance"))
            names = {s.get("name") for s in json.loads(envelope.payload).get("subject", [])
                     if isinstance(s, dict)}
        except (InputProblem, EnvelopeError, ValueError, AttributeError):
            continue
        if wanted <= names:
            matching.append(candidate)
    if len(matching) != 1:
        found = "no" if not matching else "more than one"
        raise InputProblem(f"{found} provenance ({ENVELOPE_SUFFIX}) in {directory} names "
                           f"{', '.join(sorted(wanted))}: name it with --provenance")
    return matching[0]


def read_statement(provenance: Path, *, keys: Sequence[Path] = (),
                   keyless: KeylessPolicy | None = None, bundle: Path | None = None,
                   skip_signature: bool = False) -> Checked:
    """The verified statement of a provenance file (`VerificationFailure` when the signature
    does not verify, `InputProblem` when something cannot be read)."""
    from lkpolicy.stages.trust.dsse import MAX_ENVELOPE_BYTES, EnvelopeError, parse_envelope

    try:
        envelope = parse_envelope(_read(provenance, MAX_ENVELOPE_BYTES, "provenance"))
    except EnvelopeError as error:
        raise InputProblem(f"{provenance}: not a DSSE envelope: {error}") from None
    if keyless is not None:
        payload, signer = _keyless(provenance, bundle, keyless, envelope.payload)
    elif keys:
        payload, signer = envelope.payload, _with_keys(envelope, keys)
    elif skip_signature:
        payload, signer = envelope.payload, "nobody (the signature was not checked)"
    else:
        raise InputProblem("give --key, or --trusted-root with the certificate identity and "
                           "issuer, to check the signature")
    from lkpolicy.stages.trust.dsse import IN_TOTO_PAYLOAD_TYPE

    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationFailure([f"{provenance}: payload type "
                                   f"{envelope.payload_type[:80]!r} is not in-toto"])
    return Checked(_statement(payload, provenance), signer)


def _with_keys(envelope: Any, paths: Sequence[Path]) -> str:
    from lkpolicy.stages.trust.cosign.signatures import load_public_key
    from lkpolicy.stages.trust.dsse import SignatureMismatch, verify_envelope

    keys = []
    for path in paths:
        try:
            keys.append(load_public_key(_read(path, MAX_PUBLIC_KEY_BYTES, "public key")))
        except ValueError as error:
            raise InputProblem(f"{path}: {error}") from None
    try:
        key = verify_envelope(envelope, keys)
    except SignatureMismatch as error:
        raise VerificationFailure([f"signature: {error}"]) from None
    return key.describe()


def _keyless(provenance: Path, bundle: Path | None, policy: KeylessPolicy,
             payload: bytes) -> tuple[bytes, str]:
    from lkpolicy.assemble.provenance import BUNDLE_SUFFIX, ENVELOPE_SUFFIX
    from lkpolicy.stages.trust.errors import KeylessError, TrustedRootError
    from lkpolicy.stages.trust.sigstore_keyless import MAX_BUNDLE_BYTES, KeylessVerifier

    if bundle is None:
        bundle = provenance.with_name(provenance.name.removesuffix(ENVELOPE_SUFFIX)
                                      + BUNDLE_SUFFIX)
    data = _read(bundle, MAX_BUNDLE_BYTES, "Sigstore bundle")
    try:
        verified = KeylessVerifier(policy).verify_dsse(data)
    except TrustedRootError as error:
        raise InputProblem(str(error)) from None
    except KeylessError as error:
        raise VerificationFailure([f"signature: {bundle.name}: {error}"]) from None
    from lkpolicy.stages.trust.dsse import IN_TOTO_PAYLOAD_TYPE

    if verified.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationFailure([f"signature: {bundle.name} does not sign an in-toto "
                                   "statement"])
    if verified.payload != payload:
        raise VerificationFailure([f"signature: {bundle.name} signs another statement than "
                                   f"{provenance.name}"])
    return verified.payload, f"{verified.identity} ({verified.issuer})"


def _statement(payload: bytes, provenance: Path) -> dict[str, Any]:
    from lkpolicy.assemble.provenance import PREDICATE_TYPE, STATEMENT_TYPE
    from lkpolicy.safeio import UntrustedInput, parse_json, unique_keys

    try:
        statement = parse_json(payload, f"{provenance.name}: the statement",
                               object_pairs_hook=unique_keys)
    except UntrustedInput as error:
        raise VerificationFailure([str(error)]) from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE \
            or statement.get("predicateType") != PREDICATE_TYPE \
            or not isinstance(statement.get("subject"), list) \
            or not isinstance(statement.get("predicate"), dict):
        raise VerificationFailure([f"{provenance.name}: not an in-toto v1 statement with an "
                                   "SLSA provenance v1 predicate"])
    return statement


# --------------------------------------------------------------------------------------------
# Subjects


def _file_sha256(path: Path) -> str:
    from lkpolicy.assemble.builder import BuildError
    from lkpolicy.assemble.provenance import digest_of_file

    if not path.is_file():
        raise InputProblem(f"{path} is not a file")
    try:
        return digest_of_file(path)
    except BuildError as error:
        raise InputProblem(str(error).removeprefix("provenance: ")) from None


def check_subjects(checked: Checked, outputs: Sequence[Path]) -> list[str]:
    """Failures (one line each); the verified ones are added to `checked.subjects`."""
    recorded: dict[str, list[str]] = {}
    for subject in checked.statement["subject"]:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
            recorded.setdefault(str(subject.get("name")), []).append(digest["sha256"])
    failures = []
    for output in outputs:
        actual = _file_sha256(output)
        expected = recorded.get(output.name)
        if expected is None:
            failures.append(f"{output}: not a subject of the provenance")
        elif actual.split(":", 1)[1] not in expected:
            failures.append(f"{output}: sha256 {actual.split(':', 1)[1]} differs from the "
                            f"provenance's {expected[0]} (the file changed after the build)")
        else:
            checked.subjects.append((output.name, actual))
    return failures


# --------------------------------------------------------------------------------------------
# Dependencies against a policy


def _recorded_images(statement: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(reference, descriptor) of every image dependency; `VerificationFailure` if the
    statement records one that cannot be read as such."""
    from lkpolicy.model.oci import Descriptor, OCIError

    definition = statement["predicate"].get("buildDefinition")
    dependencies = definition.get("resolvedDependencies") if isinstance(definition, dict) \
        else None
    if not isinstance(dependencies, list):
        raise VerificationFailure(["the provenance records no resolvedDependencies"])
    images = []
    for item in dependencies:
        annotations = item.get("annotations") if isinstance(item, dict) else None
        if not isinstance(annotations, dict) or annotations.get("role") != "image":
            continue
        digest = item.get("digest")
        try:
            descriptor = Descriptor.from_json({
                "mediaType": item.get("mediaType"),
                "digest": "sha256:" + str(digest.get("sha256") if isinstance(digest, dict)
                                          else ""),
                "size": annotations.get("size")}, f"dependency {str(item.get('name'))[:100]}")
        except OCIError as error:
            raise VerificationFailure([str(error)]) from None
        images.append((str(item.get("name")), descriptor))
    return images


def check_dependencies(checked: Checked, policy: Policy, *, image_cache: str | None = None,
                       trust_cache: str | None = None, offline: bool = False,
                       now: dt.datetime | None = None,
                       verifiers: Mapping[str, Verifier] | None = None) -> list[str]:
    """The policy's trust requirements on the recorded image digests; failures, one line each
    (what passed is added to `checked.dependencies`)."""
    from lkpolicy.model.reference import ReferenceError
    from lkpolicy.model.reference import parse as parse_reference
    from lkpolicy.stages.trust.stage import context_for, requirements_for, unmet_findings
    from lkpolicy.stages.trust.verifiers import VerificationFailed, Verifiers

    context = context_for(trust_cache, image_cache, offline, now)
    pool = Verifiers(policy.trust.authorities, context, verifiers)
    failures = []
    try:
        for recorded, descriptor in _recorded_images(checked.statement):
            name = recorded[:200]
            try:
                ref = parse_reference(recorded)
            except ReferenceError as error:
                failures.append(f"dependency {name}: {error}")
                continue
            wanted, _ = requirements_for(ref, policy, [])
            if not wanted:
                checked.dependencies.append(f"{name} {descriptor.digest}: no trust rule of "
                                            "the policy applies")
                continue
            asks = list(dict.fromkeys(ask for requirement in wanted for ask in requirement.asks()))
            outcomes = {ask: pool.verify(ask, ref, descriptor) for ask in asks}
            answers = {ask: outcome.refusal if isinstance(outcome, VerificationFailed) else None
                       for ask, outcome in outcomes.items()}
            unmet = unmet_findings(f"dependency {name} {descriptor.digest}", wanted, answers,
                                   policy.trust)
            failures.extend(message for _rule, message in unmet)
            if not unmet:
                vouching = ", ".join(dict.fromkeys(str(ask.authority) for ask in asks))
                checked.dependencies.append(f"{name} {descriptor.digest}: vouched for by "
                                            f"{vouching}")
    finally:
        pool.close()
    return failures


def output_paths(arguments: Sequence[str]) -> list[Path]:
    """The outputs as paths, each once, without provenance files (so that `out/*` works);
    `InputProblem` for one that is not a file, or when nothing is left."""
    from lkpolicy.assemble.provenance import BUNDLE_SUFFIX, ENVELOPE_SUFFIX

    paths = [Path(argument) for argument in dict.fromkeys(arguments)
             if not argument.endswith((ENVELOPE_SUFFIX, BUNDLE_SUFFIX))]
    if not paths:
        raise InputProblem("no output to check (provenance files are not outputs)")
    for path in paths:
        if not path.is_file():
            what = "is not a file" if os.path.exists(path) else "does not exist"
            raise InputProblem(f"{path} {what}")
    return paths
