"""Pipeline stage: the authorities the policy requires must vouch for every image's digest,
and for every local file a `files` trust rule names.

Which authorities: every `trust.rules` entry of the policy whose globs match the image, plus
`trust.default_authority` for the images the config's own `trust:` section lists (matched with
LinuxKit's old content-trust semantics, `trust_covers`). What they vouch for is checked against
the manifest digest and size in the image cache, because that is what the build uses: the image
itself never comes from the network here. Only the authorities talk to their servers (notary,
TUF, the registry holding cosign signatures), and `offline` keeps even them on their caches,
where expiry and rollback are still checked. Everything is judged as of one moment, `now`
(`--at`). Local files are judged in `files`, against the bytes the gate read.

Each rule's requirement is a small object (`requirements`) that judges the authorities'
answers; the authorities sit behind the `Verifier` protocol (`verifiers`, `adapters`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lkpolicy.model.config import Config, Node
from lkpolicy.model.findings import Finding
from lkpolicy.model.reference import ImageRef
from lkpolicy.stages.trust.requirements import Ask, Requirement, Signed, Verdict
from lkpolicy.stages.trust.rules import (
    TRUST_DIGEST_MISMATCH,
    TRUST_NO_AUTHORITY,
    TRUST_NOT_CACHED,
    TRUST_NOT_VOUCHED,
)
from lkpolicy.stages.trust.verifiers import (
    Context,
    Evidence,
    VerificationFailed,
    Verifier,
    Verifiers,
    default_trust_cache,
)

if TYPE_CHECKING:
    from lkpolicy.model.rules import Rule
    from lkpolicy.stages.images import ImageUse, Resolution
    from lkpolicy.stages.localfiles import LocalFile
    from lkpolicy.stages.policy.model import Policy, TrustPolicy

__all__ = ["TrustResult", "VerificationFailed", "Verifier", "context_for", "requirements_for",
           "run_trust", "unmet_findings"]


@dataclass(slots=True)
class TrustResult:
    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    """Manifest digest -> what vouched for it (for `LockedImage.evidence` and provenance)."""
    file_evidence: list[Evidence] = field(default_factory=list)
    """What vouched for local files (each item names the file, its sha256 and the signer)."""


def requirements_for(reference: ImageRef, policy: Policy,
                     trust_sections: Sequence[Mapping[str, Any]]) -> tuple[list[Requirement], bool]:
    """The requirements on one image, and whether the config's `trust:` lists it without the
    policy naming a default authority (an image that must be verified by nobody)."""
    from lkpolicy.stages.policy.config_checks import trust_covers

    trust = policy.trust
    wanted = [rule.require for rule in trust.rules if rule.matches(reference)]
    orphan = False
    if trust_sections and trust_covers(trust_sections, reference):
        if trust.default_authority is not None:
            wanted.append(Signed(Ask(trust.default_authority), trust.default_location))
        else:
            orphan = True
    return wanted, orphan


def context_for(cache_dir: str | Path | None, image_cache: str | Path | None, offline: bool,
                now: dt.datetime | None) -> Context:
    """Where the trust caches are, and the moment of verification (default: now)."""
    from lkpolicy.store.location import default_cache_dir

    if now is not None and now.tzinfo is None:
        raise ValueError("the time of verification must be timezone-aware")
    return Context(Path(cache_dir) if cache_dir is not None else default_trust_cache(),
                   default_cache_dir(image_cache), offline,
                   now.astimezone(dt.UTC) if now is not None else dt.datetime.now(dt.UTC))


def run_trust(config: Config, resolution: Resolution, policy: Policy, *,
              cache_dir: str | Path | None = None, offline: bool = False,
              now: dt.datetime | None = None,
              verifiers: Mapping[str, Verifier] | None = None,
              local_files: Mapping[int, LocalFile] | None = None) -> TrustResult:
    """Verify every image the policy (or the config's `trust:`) requires to be verified,
    against the manifest the image stage resolved (what the build will use), and every local
    file a `files` rule names, against the bytes the gate read (`local_files`; None: the gate
    read none, `--no-images`).

    `cache_dir`: the trust cache (default `default_trust_cache()`); `now`: the moment every
    signature, expiry and certificate is judged at (default: now); `verifiers`: authority
    name -> a ready verifier, replacing the one the policy describes (tests, embedding)."""
    context = context_for(cache_dir, resolution.cache, offline, now)
    sections = [node.value for node in config.trust if isinstance(node.value, dict)]
    result = TrustResult()
    pool = Verifiers(policy.trust.authorities, context, verifiers)
    try:
        for expanded, uses in _distinct_uses(resolution).items():
            _judge_image(expanded, uses, resolution, policy, sections, pool, result)
    finally:
        pool.close()
    if any(rule.files for rule in policy.trust.rules):
        from lkpolicy.stages.trust.files import judge_files

        judge_files(config, local_files, policy.trust, context, result)
    result.findings.sort(key=Finding.sort_key)
    return result


def _judge_image(expanded: str, uses: list[ImageUse], resolution: Resolution, policy: Policy,
                 sections: Sequence[Mapping[str, Any]], pool: Verifiers,
                 result: TrustResult) -> None:
    first = uses[0]
    ref = first.reference
    assert ref is not None
    wanted, orphan = requirements_for(ref, policy, sections)
    related = [use.node.location for use in uses[1:]]

    def emit(rule: Rule, message: str, node: Node = first.node, hint: str | None = None) -> None:
        result.findings.append(rule.finding(message, node.location, node.pointer,
                                            related=related, hint=hint))

    if orphan:
        emit(TRUST_NO_AUTHORITY,
             f"{first.described} image `{expanded}` is listed in the config's `trust:` but the "
             f"policy has no `trust.default_authority` to verify it",
             hint=authority_hint(policy))
    if not wanted:
        return
    image = resolution.images.get(expanded)
    if image is None:
        why = resolution.unresolved.get(expanded, "the image stage was skipped")
        emit(TRUST_NOT_CACHED, f"{first.described} image `{expanded}` must be verified by "
                               f"{_describe(wanted)}, but the build cannot use it: {why}",
             hint=_cache_hint(expanded, resolution))
        return
    manifest = image.descriptor
    asks = list(dict.fromkeys(ask for requirement in wanted for ask in requirement.asks()))
    outcomes = {ask: pool.verify(ask, ref, manifest) for ask in asks}
    answers = {ask: outcome.refusal if isinstance(outcome, VerificationFailed) else None
               for ask, outcome in outcomes.items()}
    subject = f"{first.described} image `{expanded}`"
    for rule, message in unmet_findings(subject, wanted, answers, policy.trust):
        emit(rule, message, hint=_unmet_hint(rule, ref.locator, resolution))
    evidence = [item for outcome in outcomes.values()
                if not isinstance(outcome, VerificationFailed) for item in outcome]
    if evidence:
        result.evidence.setdefault(manifest.digest, []).extend(evidence)


DEFAULT_AUTHORITY = ("docker-content-trust", "type: notary", "server: https://notary.docker.io",
                     "tofu: true")
"""The authority the hint proposes: Docker Content Trust's notary, its roots trusted on first
use (`lkpolicy explain LKT001` names the others)."""


def authority_hint(policy: Policy) -> str:
    """The exact YAML that gives the policy a default authority, and where it goes."""
    known = sorted(policy.trust.authorities)
    top = policy.sources[-1] if policy.sources else "builtin:default"
    if known:
        return (f"add `default_authority: {known[0]}` under `trust:` in {top}, or name another "
                f"of its authorities ({', '.join(known)})")
    name, *fields = DEFAULT_AUTHORITY
    snippet = ["trust:", "  authorities:", f"    {name}:", *(f"      {f}" for f in fields),
               f"  default_authority: {name}"]
    if top.startswith("builtin:"):
        return "\n".join([f"write a policy file that extends `{top}` and names an authority, "
                          "e.g. Docker Content Trust:", f"extends: [{top}]", *snippet,
                          "and pass it with `--policy FILE` (or call it .lkpolicy.yml beside "
                          "the config, and leave out `--policy`)"])
    return "\n".join([f"add a trust authority to {top} (merged into its `trust:` section, if "
                      "any), e.g. Docker Content Trust:", *snippet])


def _cache_hint(expanded: str, resolution: Resolution) -> str:
    if resolution.cache is None:
        return "run the check without `--no-images`: trust is verified against the cached image"
    from lkpolicy.stages.images import cache_command

    return (f"run `{cache_command('pull', expanded, resolution.cache)}`, or pass `--cache` the "
            "image cache your build uses")


def _unmet_hint(rule: Rule, locator: str, resolution: Resolution) -> str:
    if rule is TRUST_DIGEST_MISMATCH and resolution.cache is not None:
        from lkpolicy.stages.images import cache_command

        return (f"run `{cache_command('pull', locator + '@DIGEST', resolution.cache)}` with "
                "the digest the authority signed (named above), or sign the image that is "
                "meant to be built")
    return ("sign the image with the authority, or fix the authority's configuration (with "
            "`--offline`, check once online to refresh expired trust metadata)")


def unmet_findings(subject: str, wanted: Sequence[Requirement],
                   answers: Mapping[Ask, Any], trust: TrustPolicy) -> list[tuple[Rule, str]]:
    """One (rule, message) per answer that leaves a requirement unmet, each answer once; an
    unmet requirement without such an answer (an empty `all`) is reported as such."""
    messages: list[tuple[Rule, str]] = []
    reported: set[Ask] = set()
    for requirement in wanted:
        verdict: Verdict = requirement.verify(answers)
        if verdict.ok:
            continue
        if not verdict.unmet:
            messages.append((TRUST_NOT_VOUCHED, f"{subject}: `{requirement.describe()}` cannot "
                                                f"be met: {verdict.reason}"))
        for unmet in verdict.unmet:
            if unmet.ask in reported:
                continue
            reported.add(unmet.ask)
            kind = trust.authorities[unmet.ask.authority].type
            if unmet.ask.signers:
                kind += f", signers {', '.join(unmet.ask.signers)}"
            if unmet.ask.attestation is not None:
                kind += f", {unmet.ask.attestation.describe()}"
            rule = TRUST_DIGEST_MISMATCH if unmet.refusal.mismatch else TRUST_NOT_VOUCHED
            messages.append((rule, f"{subject}: authority `{unmet.ask.authority}` ({kind}) does "
                                   f"not vouch for it: {unmet.refusal.reason}{unmet.note}"))
    return messages


def _distinct_uses(resolution: Resolution) -> dict[str, list[ImageUse]]:
    """Each image once, with every place that uses it (the first one carries the finding)."""
    distinct: dict[str, list[ImageUse]] = {}
    for use in resolution.uses:
        if use.reference is not None:  # an unparsable reference: the lint stage reports it
            distinct.setdefault(use.reference.expanded, []).append(use)
    return distinct


def _describe(wanted: list[Requirement]) -> str:
    return " and ".join(f"`{requirement.describe()}`" for requirement in wanted)

