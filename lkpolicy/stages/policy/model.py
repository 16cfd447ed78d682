"""A loaded policy: rule settings, and overrides scoped by selectors.

Settings of one rule combine in a fixed order: the rule's defaults, the policy's `rules`
entry (after everything it extends), then each matching `overrides` entry in file order. An
option given later replaces the earlier value as a whole; lists are not merged, so an
override's allowlist says exactly what is allowed there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from lkpolicy.model.findings import Location, Severity
from lkpolicy.model.reference import ImageRef

if TYPE_CHECKING:
    from lkpolicy.stages.policy.custom.model import CustomRule
    from lkpolicy.stages.trust.requirements import Requirement
    from lkpolicy.stages.waivers import Waiver

OFF = "off"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a rule judges, as selectors see it."""

    section: str
    """`init`, `kernel`, `onboot`, `onshutdown`, `services`, `volumes` or `files`."""
    name: str = ""
    """The container or volume name; the path for `files` entries."""
    reference: ImageRef | None = None


def image_matches(pattern: str, reference: ImageRef) -> bool:
    """fnmatch on the expanded reference, with and without its tag and digest, so that
    `docker.io/linuxkit/*` matches `linuxkit/init:v1@sha256:...`."""
    forms = (reference.expanded, reference.name, reference.locator)
    return any(fnmatchcase(form, pattern) for form in forms)


@dataclass(frozen=True, slots=True)
class Selector:
    """Each given criterion must match; within a criterion, any of its globs."""

    images: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def matches(self, subject: Subject) -> bool:
        if self.sections and subject.section not in self.sections:
            return False
        if self.names and not any(fnmatchcase(subject.name, glob) for glob in self.names):
            return False
        if self.images:
            if subject.reference is None:
                return False
            return any(image_matches(glob, subject.reference) for glob in self.images)
        return True

    @classmethod
    def from_match(cls, match: Mapping[str, Any]) -> Selector:
        """From a policy's `match:` mapping (each criterion one glob or a list)."""
        def globs(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            return (value,) if isinstance(value, str) else tuple(value)

        return cls(globs(match.get("image")), globs(match.get("section")),
                   globs(match.get("name")))


@dataclass(slots=True)
class RuleSetting:
    severity: str | None = None
    """`error`, `warning`, `info`, `off`, or None to keep what came before."""
    options: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None

    def merged(self, later: RuleSetting) -> RuleSetting:
        return RuleSetting(later.severity or self.severity, {**self.options, **later.options},
                           later.location or self.location)


@dataclass(slots=True)
class Override:
    selector: Selector
    rules: dict[str, RuleSetting]
    location: Location


@dataclass(frozen=True, slots=True)
class Active:
    """A rule as it applies to one subject."""

    severity: Severity
    options: Mapping[str, Any]


@dataclass(slots=True)
class Policy:
    rules: dict[str, RuleSetting] = field(default_factory=dict)
    """Rules the policy runs (unless `off`); a rule the policy never names does not run."""
    overrides: list[Override] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    """The files read, the extended ones first (`builtin:NAME` for built-ins)."""
    trust: TrustPolicy = field(default_factory=lambda: TrustPolicy())
    """The `trust:` section: authorities and which images they must vouch for."""
    waivers: list[Waiver] = field(default_factory=list)
    """Accepted findings from every policy in the chain (`lkpolicy.stages.waivers`)."""
    custom_rules: dict[str, CustomRule] = field(default_factory=dict)
    """Rules the policies define with CEL conditions (`lkpolicy.stages.policy.custom`); a
    later definition of an ID replaces an earlier one."""

    def extend(self, other: Policy) -> None:
        """Put `other` on top of this policy (`other` extends this one)."""
        for rule_id, setting in other.rules.items():
            base = self.rules.get(rule_id)
            self.rules[rule_id] = base.merged(setting) if base else setting
        self.overrides.extend(other.overrides)
        self.sources.extend(source for source in other.sources if source not in self.sources)
        self.trust.extend(other.trust)
        self.waivers.extend(other.waivers)
        self.custom_rules.update(other.custom_rules)

    def active(self, rule_id: str, subject: Subject, default_severity: Severity,
               defaults: Mapping[str, Any]) -> Active | None:
        setting = self.rules.get(rule_id)
        scoped = [override.rules[rule_id] for override in self.overrides
                  if rule_id in override.rules and override.selector.matches(subject)]
        if setting is None and not scoped:
            return None
        combined = setting or RuleSetting()
        for later in scoped:
            combined = combined.merged(later)
        if combined.severity == OFF:
            return None
        severity = Severity.parse(combined.severity) if combined.severity else default_severity
        return Active(severity, {**defaults, **combined.options})


# -- trust ---------------------------------------------------------------------------------------

FILE_AUTHORITY_TYPES = ("sigstore", "cosign-key")
"""Authorities that can vouch for a local file's bytes (signatures over a blob)."""
ATTESTATION_AUTHORITY_TYPES = FILE_AUTHORITY_TYPES
"""Authorities that can vouch for in-toto attestations of an image: the cosign ones too."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A keyless signer: the OIDC issuer and the certificate subject (exact or a regex)."""

    issuer: str
    subject: str | None = None
    subject_regex: str | None = None


@dataclass(frozen=True, slots=True)
class Authority:
    """A named source of trust from the policy's `trust.authorities`; paths are absolute."""

    name: str
    type: str
    location: Location | None = None
    # notary
    server: str | None = None
    ca: str | None = None
    root_keys: tuple[str, ...] = ()
    """Pinned root public keys (base64 SPKI)."""
    root_cert_ids: tuple[str, ...] = ()
    """Pinned root certificates by notary key ID (`trust_pinning.certs` style)."""
    pin_mode: str = "narrow"
    """`narrow`: a pinned root key must also pass notary's certificate rules (leaf, CN = GUN,
    dates); `replace`: a pinned key is trusted without them, as Connaisseur pins keys."""
    pin_store: str | None = None
    # tuf
    repository: str | None = None
    root: str | None = None
    # sigstore (and cosign-key: the transparency logs its key-based bundles must be in)
    trusted_root: str | None = None
    identities: tuple[Identity, ...] = ()
    # cosign-key
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrustRule:
    """Images, or local files (`files:` entries with `source:`), and what must vouch for them."""

    images: tuple[str, ...]
    require: Requirement
    location: Location | None = None
    files: tuple[str, ...] = ()
    """Globs on a `files` entry's path in the image or its `source:` (as written or as read)."""
    signatures: tuple[str, ...] = ()
    """Where a file's signature is looked for (templates with `{source}`, `{name}`); empty:
    `DEFAULT_FILE_SIGNATURES`."""

    def matches(self, reference: ImageRef) -> bool:
        return any(image_matches(glob, reference) for glob in self.images)

    def matches_file(self, names: tuple[str, ...]) -> bool:
        return any(fnmatchcase(name, glob) for glob in self.files for name in names)


DEFAULT_FILE_SIGNATURES = ("{source}.sigstore.json", "{source}.sig")
"""A Sigstore bundle next to the file, else a cosign `sign-blob` signature (base64)."""


@dataclass(slots=True)
class TrustPolicy:
    """Authorities by name; rules accumulate through `extends` (every matching rule applies,
    so a policy extending another can add requirements but never drop one)."""

    authorities: dict[str, Authority] = field(default_factory=dict)
    rules: list[TrustRule] = field(default_factory=list)
    default_authority: str | None = None
    default_location: Location | None = None

    def extend(self, other: TrustPolicy) -> None:
        self.authorities.update(other.authorities)
        self.rules.extend(other.rules)
        if other.default_authority is not None:
            self.default_authority = other.default_authority
            self.default_location = other.default_location

    @property
    def configured(self) -> bool:
        return bool(self.authorities or self.rules or self.default_authority)
