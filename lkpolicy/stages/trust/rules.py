"""The trust stage's rules (LKT0xx). Kept apart from the stage so that `lkpolicy explain` does
not import the verifiers."""

from __future__ import annotations

from lkpolicy.model.findings import Severity
from lkpolicy.model.rules import define_rule

_CATEGORY = "trust"

TRUST_NO_AUTHORITY = define_rule(
    "LKT001", "trust-no-authority", "An image must be verified but no authority applies",
    Severity.ERROR, _CATEGORY,
    "The config's `trust:` section asks for the image to be verified, but the policy names no "
    "authority that could do it (no `trust.default_authority`). Passing it would build an "
    "unverified image that the config says is verified.",
    "Set `trust.default_authority` in the policy to an authority of `trust.authorities` (the "
    "hint gives the YAML for Docker Content Trust's notary, trusted on first use; `tuf`, "
    "`sigstore` and `cosign-key` authorities work as well), or add a `trust.rules` entry for "
    "the image.",
    "linuxkit dropped content trust in 2021 and ignores `trust:` today; lkpolicy enforces it.",
)
TRUST_NOT_VOUCHED = define_rule(
    "LKT002", "trust-not-vouched", "A required authority does not vouch for the image",
    Severity.ERROR, _CATEGORY,
    "The policy requires this authority's signature over the image; it is missing, invalid, "
    "expired, rolled back, or the authority could not be consulted. Without it, nothing binds "
    "the tag to the content that would be built.",
    "Sign the tag with the authority (or fix its configuration, or refresh its metadata "
    "online when `--offline` found the cached metadata expired).",
)
TRUST_DIGEST_MISMATCH = define_rule(
    "LKT003", "trust-digest-mismatch", "The cached image is not the one the authority signed",
    Severity.ERROR, _CATEGORY,
    "The authority signed a different manifest (digest or size) than the one in the image "
    "cache that the build would use: the tag moved since signing, or the cache holds another "
    "image under this name.",
    "Pull the signed digest into the cache (`lkpolicy cache pull NAME@DIGEST`) or sign the "
    "image that is meant to be built.",
)
TRUST_NOT_CACHED = define_rule(
    "LKT004", "trust-image-not-cached", "An image that must be verified is not in the image cache",
    Severity.ERROR, _CATEGORY,
    "Signatures are checked against the manifest digest and size that the build will use, "
    "which come from the image cache; without the image there is nothing to verify.",
    "Fill the cache first (`lkpolicy cache pull IMAGE`), or point `--cache` at the build's "
    "cache.",
)
TRUST_FILE_NOT_VOUCHED = define_rule(
    "LKT005", "trust-file-not-vouched", "A local file that must be signed is not vouched for",
    Severity.ERROR, _CATEGORY,
    "A `files` entry copies a host file into the image, and a trust rule of the policy requires "
    "a signature over its bytes: the signature is missing, does not verify, is for other bytes, "
    "or is by a signer the policy does not accept (or the gate did not read the file). Without "
    "it, nothing says the file is the one its owner meant to ship.",
    "Sign the file (`cosign sign-blob --bundle FILE.sigstore.json FILE`, or `--key` with "
    "`--output-signature FILE.sig`) and keep the signature where the rule's `signature` "
    "templates look; re-sign after every change to the file.",
)
