"""`lkpolicy verify-build OUTPUT...`: the outputs of `lkpolicy build` against their signed
provenance (signature, subject digests, and with `--policy` the recorded image digests against
the policy's trust requirements). Exit 0 verified, 1 not verified, 2 usage or input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lkpolicy.cli.common import (
    CacheOption,
    OfflineOption,
    printer,
    require_extra,
    usage_error,
)
from lkpolicy.model.findings import ExitCode

if TYPE_CHECKING:
    from lkpolicy.stages.policy.model import Policy
    from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy

_OPTION_NAMES = {"identity_regex": "--certificate-identity-regexp",
                 "issuer_regex": "--certificate-oidc-issuer-regexp",
                 "identity": "--certificate-identity", "issuer": "--certificate-oidc-issuer"}


def verify_build(
    outputs: Annotated[list[str], typer.Argument(help="Output files of `lkpolicy build`.",
                                                 show_default=False)],
    provenance: Annotated[str | None, typer.Option(
        "--provenance", help="The provenance (NAME.intoto.jsonl); default: the one beside "
                             "the outputs that names them.", show_default=False)] = None,
    key: Annotated[list[str] | None, typer.Option(
        "--key", help="Public key (PEM) the provenance must be signed with (repeatable: any "
                      "of them).", show_default=False)] = None,
    trusted_root: Annotated[str | None, typer.Option(
        "--trusted-root", help="Sigstore trusted_root.json for a keyless signature.",
        show_default=False)] = None,
    identity: Annotated[str | None, typer.Option(
        "--certificate-identity", help="Keyless: the signer's identity (exact).",
        show_default=False)] = None,
    identity_regexp: Annotated[str | None, typer.Option(
        "--certificate-identity-regexp", help="Keyless: the signer's identity (whole-value "
                                              "regular expression).",
        show_default=False)] = None,
    issuer: Annotated[str | None, typer.Option(
        "--certificate-oidc-issuer", help="Keyless: the OIDC issuer (exact).",
        show_default=False)] = None,
    issuer_regexp: Annotated[str | None, typer.Option(
        "--certificate-oidc-issuer-regexp", help="Keyless: the OIDC issuer (regular "
                                                 "expression).", show_default=False)] = None,
    bundle: Annotated[str | None, typer.Option(
        "--bundle", help="Keyless: the Sigstore bundle (default: NAME.sigstore.json beside "
                         "the provenance).", show_default=False)] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", "-p", help="Also check that the recorded image digests satisfy this "
                               "policy's trust rules.", show_default=False)] = None,
    cache: CacheOption = None,
    trust_cache: Annotated[str | None, typer.Option(
        "--trust-cache", metavar="DIR", help="Trust metadata cache (default: "
                                             "$LKPOLICY_TRUST_CACHE, else "
                                             "~/.cache/lkpolicy/trust).",
        show_default=False)] = None,
    offline: OfflineOption = False,
    insecure_skip_signature: Annotated[bool, typer.Option(
        "--insecure-skip-signature", help="Check digests (and --policy) of an unsigned "
                                          "provenance; anyone can write such a file.")] = False,
) -> None:
    """Check build outputs against their provenance: the signature (key or Sigstore), each
    output's SHA-256, and optionally the dependencies against a policy."""
    if not insecure_skip_signature or policy is not None:  # digests alone need no crypto
        require_extra("trust", "lkpolicy verify-build")
    from lkpolicy.tools import verifybuild as check

    say = printer()
    keyless = _keyless_policy(trusted_root, identity, identity_regexp, issuer, issuer_regexp)
    if keyless is not None and key:
        usage_error("--key and the keyless options are alternatives")
    try:
        paths = check.output_paths(outputs)
        where = Path(provenance) if provenance else check.find_provenance(paths)
        checked = check.read_statement(
            where, keys=[Path(k) for k in key or []], keyless=keyless,
            bundle=Path(bundle) if bundle else None,
            skip_signature=insecure_skip_signature)
        failures = check.check_subjects(checked, paths)
        if policy is not None:
            failures += check.check_dependencies(checked, _load_policy(policy),
                                                 image_cache=cache, trust_cache=trust_cache,
                                                 offline=offline)
    except check.InputProblem as error:
        usage_error(str(error))
    except check.VerificationFailure as error:
        failures = error.reasons
    if failures:
        for line in failures:
            say.err(f"lkpolicy verify-build: {line}")
        say.err(f"lkpolicy verify-build: NOT verified ({len(failures)} problem(s))")
        raise typer.Exit(ExitCode.FINDINGS)
    say.out(f"provenance {where} signed by {checked.signer}")
    for name, digest in checked.subjects:
        say.out(f"  {name}: {digest}")
    for line in checked.dependencies:
        say.out(f"  dependency {line}")
    say.out(f"verified {len(checked.subjects)} output(s)")


def _keyless_policy(trusted_root: str | None, identity: str | None, identity_regexp: str | None,
                    issuer: str | None, issuer_regexp: str | None) -> KeylessPolicy | None:
    given = [v for v in (identity, identity_regexp, issuer, issuer_regexp) if v is not None]
    if trusted_root is None and not given:
        return None
    if trusted_root is None:
        usage_error("keyless verification needs --trusted-root (a trusted_root.json)")
    from lkpolicy.stages.trust.sigstore_keyless import KeylessPolicy

    try:
        return KeylessPolicy(Path(trusted_root), identity=identity,
                             identity_regex=identity_regexp, issuer=issuer,
                             issuer_regex=issuer_regexp)
    except ValueError as error:
        import re

        usage_error(re.sub(r"\b(identity_regex|issuer_regex|identity|issuer)\b",
                           lambda m: _OPTION_NAMES[m.group(1)], str(error)))


def _load_policy(spec: str) -> Policy:
    from lkpolicy.model.findings import InputError
    from lkpolicy.stages.policy.loader import load_policy

    try:
        return load_policy(spec)
    except InputError as error:
        printer().findings(error.findings)
        raise typer.Exit(ExitCode.USAGE) from None
