"""Notary v1 (Docker Content Trust): a pure verifier and the thin shell that feeds it.

The verifier is bytes in, verified objects or a `TrustError` out, and touches neither the network
nor the disk: `fields` (typed readers for untrusted JSON), `keys` (key IDs, signatures, root
certificates), `metadata` (role envelopes, thresholds, hashes, the roles' content) and
`trusted_set` (the loading order) and `signers` (named delegation roles that must all sign). The shell is `cache` (the verified per-GUN cache and root pins)
and `client` (HTTP to a notary server, or the cache offline).

Rules follow notary 0.7.0's client (see ../shared/spec/notary-v1.md): hashes and lengths are over
the raw bytes as served, signatures over the canonical JSON of `signed`, thresholds count distinct
key IDs, root keys must be X.509 certificates whose CN is the GUN, and a root rotation needs the
previous root's threshold as well as its own.

This package exports the verifier's public names; the shell is imported from its modules.
"""

from lkpolicy.stages.trust.notary.fields import parse_time
from lkpolicy.stages.trust.notary.keys import (
    NO_PINS,
    PublicKey,
    RootPins,
    compute_key_id,
    parse_key,
)
from lkpolicy.stages.trust.notary.metadata import (
    DOCKER_ROLE_ORDER,
    RELEASES,
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    TOP_LEVEL_ROLES,
    Envelope,
    MetaFile,
    Root,
    Targets,
    VerifiedTarget,
    check_meta,
    parse_envelope,
    parse_root,
    parse_targets,
    verify_threshold,
)
from lkpolicy.stages.trust.notary.signers import signed_by, with_ancestors
from lkpolicy.stages.trust.notary.trusted_set import (
    DEFAULT_MAX_ROLE_SIZE,
    DEFAULT_MAX_SIZES,
    MAX_ROOT_ROTATIONS,
    Fetch,
    NotaryTrustedSet,
    check_manifest,
    load_trusted_set,
)

__all__ = [
    "DEFAULT_MAX_ROLE_SIZE",
    "DEFAULT_MAX_SIZES",
    "DOCKER_ROLE_ORDER",
    "MAX_ROOT_ROTATIONS",
    "NO_PINS",
    "RELEASES",
    "ROOT",
    "SNAPSHOT",
    "TARGETS",
    "TIMESTAMP",
    "TOP_LEVEL_ROLES",
    "Envelope",
    "Fetch",
    "MetaFile",
    "NotaryTrustedSet",
    "PublicKey",
    "Root",
    "RootPins",
    "Targets",
    "VerifiedTarget",
    "check_manifest",
    "check_meta",
    "compute_key_id",
    "load_trusted_set",
    "parse_envelope",
    "parse_key",
    "parse_root",
    "parse_targets",
    "parse_time",
    "signed_by",
    "verify_threshold",
    "with_ancestors",
]
