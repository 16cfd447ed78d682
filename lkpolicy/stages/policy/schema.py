"""The policy file schema, generated from the rule catalogue.

`schemas/policy.schema.json` is this function's output (a test keeps them equal), so a rule's
options are declared once, next to the rule.
"""

from __future__ import annotations

import json
from typing import Any

from lkpolicy.stages.policy.custom.celenv import MAX_LENGTH
from lkpolicy.stages.policy.custom.model import CUSTOM_ID, RESERVED_PREFIX, SCOPES
from lkpolicy.stages.policy.rules import IMAGE_SECTIONS, POLICY_RULES

SCHEMA_ID = "https://lkpolicy.dev/schemas/policy.schema.json"
SECTIONS = (*IMAGE_SECTIONS, "files")


def _one_or_many(description: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"description": description,
            "anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}


def build_schema() -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for rule_id, policy_rule in sorted(POLICY_RULES.items()):
        rule = policy_rule.rule
        properties: dict[str, Any] = {"severity": {"$ref": "#/$defs/severity"}}
        for name, option in policy_rule.options.items():
            properties[name] = {**option.schema,
                                "description": option.schema["description"]
                                + f" Default: {json.dumps(option.default)}."}
        rules[rule_id] = {
            "description": f"{rule.title} ({rule.name}; default severity {rule.severity.label}; "
                           f"judges {', '.join(policy_rule.applies_to)}). {rule.rationale}",
            "anyOf": [
                {"$ref": "#/$defs/severity"},
                {"type": "object", "additionalProperties": False, "properties": properties,
                 "description": "The severity and the options of the rule."},
            ],
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "lkpolicy policy",
        "description": "Which powers LinuxKit configs may grant their containers, judged by "
                       "`lkpolicy check --policy FILE`. Generated from the rule catalogue; "
                       "`lkpolicy explain LKPnnn` explains each rule.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "extends": {
                "description": "Policies this one builds on, applied in order before this file: "
                               "paths relative to this file, or `builtin:default` / "
                               "`builtin:strict`. Absent means `[builtin:default]`; `[]` starts "
                               "from no rules at all.",
                "type": "array",
                "items": {"type": "string", "minLength": 1,
                          "description": "A policy file path or `builtin:NAME`."},
            },
            "rules": {"$ref": "#/$defs/rules",
                      "description": "Rule settings; a rule that no policy in the chain names "
                                     "does not run."},
            "trust": _trust_schema(),
            "custom_rules": {
                "type": "object",
                "description": "Rules this policy defines, by ID (capital letters then digits, "
                               "e.g. `ORG001`; IDs starting with LK are lkpolicy's). Each runs "
                               "like a built-in rule (set its severity or turn it `off` in "
                               "`rules` and `overrides`, waive it, baseline it) and fires where "
                               "its CEL condition is true; see docs/custom-rules.md.",
                "propertyNames": {"pattern": f"^{CUSTOM_ID.pattern}$"},
                "additionalProperties": {"$ref": "#/$defs/customRule"},
            },
            "waivers": {
                "description": "Accepted findings: each waiver names a rule, optionally narrows "
                               "it to images, sections, container names, files or a JSON "
                               "pointer, and carries a reason and an expiry date (UTC).",
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "One accepted risk. Validated further when loaded (dates, "
                                   "rule IDs), with positions.",
                },
            },
            "check": _check_schema(),
            "overrides": {
                "description": "Settings for the subjects a selector matches, applied after "
                               "`rules` in list order; options replace earlier values whole.",
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "A selector and the rule settings that apply where it matches.",
                    "additionalProperties": False,
                    "required": ["match", "rules"],
                    "properties": {
                        "match": {"$ref": "#/$defs/selector"},
                        "rules": {"$ref": "#/$defs/rules"},
                        "reason": {"type": "string",
                                   "description": "Why the exception exists (for reviewers)."},
                    },
                },
            },
        },
        "$defs": {
            **_trust_defs(),
            "customRule": _custom_rule_schema(),
            "severity": {
                "description": "`off` disables the rule; the others set the severity of its "
                               "findings.",
                "enum": ["error", "warning", "info", "off"],
            },
            "rules": {
                "type": "object",
                "description": "Rule ID -> a severity, or an object with `severity` and options.",
                "additionalProperties": False,
                "properties": rules,
                "patternProperties": {f"^(?!{RESERVED_PREFIX}){CUSTOM_ID.pattern}$": {
                    "description": "A custom rule (defined in `custom_rules` of this policy or "
                                   "one it extends): its severity, or `off`.",
                    "anyOf": [
                        {"$ref": "#/$defs/severity"},
                        {"type": "object", "additionalProperties": False,
                         "description": "The severity of the custom rule.",
                         "properties": {"severity": {"$ref": "#/$defs/severity"}}},
                    ]}},
            },
            "selector": {
                "type": "object",
                "description": "Every given criterion must match; a list matches when any of "
                               "its items does.",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    "image": _one_or_many(
                        "Globs (fnmatch) on the expanded image reference, with or without "
                        "tag and digest, e.g. `docker.io/linuxkit/sshd*`.",
                        {"type": "string", "minLength": 1}),
                    "section": _one_or_many(
                        "Config sections.", {"enum": list(SECTIONS)}),
                    "name": _one_or_many(
                        "Globs on the container or volume name (the path for `files`).",
                        {"type": "string", "minLength": 1}),
                },
            },
        },
    }


CHECK_FORMATS = ("text", "json", "sarif", "github")
"""`check --format` (tests keep it equal to the renderers' list)."""
CHECK_FAIL_ON = ("error", "warning", "info", "never")
"""`check --fail-on` (tests keep it equal to the command's)."""


def _rule_codes(description: str) -> dict[str, Any]:
    return {"type": "array", "description": description,
            "items": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*$",
                      "description": "A rule ID (`LKP101`), an ID prefix (`LKP1`) or `ALL`; "
                                     "checked against the rule catalogue when used."}}


def _check_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "Defaults for the options of `lkpolicy check` when this file is the policy "
                       "of the configs checked (the `--policy` file, or the `.lkpolicy.yml` "
                       "discovered from the first config). Options given on the command line "
                       "win; this section is read from this file only, not from the files it "
                       "extends, and it takes precedence over `[tool.lkpolicy]` in "
                       "pyproject.toml.",
        "properties": {
            "format": {"enum": list(CHECK_FORMATS), "description": "`--format`."},
            "fail-on": {"enum": list(CHECK_FAIL_ON), "description": "`--fail-on`."},
            "select": _rule_codes("`--select`: the rules to report (errors that stop the "
                                  "build are always reported)."),
            "ignore": _rule_codes("`--ignore`: the rules to leave out."),
            "exclude": {
                "type": "array",
                "description": "Globs of configs to leave out when a directory is walked "
                               "(files named on the command line are checked anyway, unless "
                               "`--force-exclude`). A pattern without `/` matches the name of "
                               "the file or of any directory on its way; one with `/` matches "
                               "the path relative to this file's directory, or one of its "
                               "leading directories.",
                "items": {"type": "string", "minLength": 1,
                          "description": "A glob: `*`, `?`, `[...]`."},
            },
        },
    }


_PATH = {"type": "string", "minLength": 1}


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description}


def _custom_rule_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "severity", "rationale", "fix", "condition"],
        "description": "A rule with a CEL condition over each container's effective config "
                       "(`scope: container`) or over the whole config (`scope: config`).",
        "if": {"properties": {"scope": {"const": "config"}}, "required": ["scope"]},
        "then": {"not": {"required": ["match"],
                         "description": "A whole-config rule has no selector."}},
        "properties": {
            "title": _text("One line, shown by `lkpolicy rules` and as the finding's message."),
            "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
                     "description": "A kebab-case slug (SARIF `name`); default: the ID in "
                                    "lower case."},
            "severity": {"enum": ["error", "warning", "info"],
                         "description": "The severity of its findings (`rules` and "
                                        "`overrides` can change it)."},
            "rationale": _text("Why the rule exists (`lkpolicy explain`, SARIF help)."),
            "fix": _text("How to fix a finding."),
            "scope": {"enum": list(SCOPES),
                      "description": "`container` (default): judged for each onboot, "
                                     "onshutdown and service container; `config`: once for "
                                     "the whole config."},
            "match": {"$ref": "#/$defs/selector",
                      "description": "Which containers the rule judges (as `overrides` "
                                     "select them)."},
            "condition": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH,
                          "description": "A CEL expression, true when the subject breaks the "
                                         "rule. Checked (syntax and types) when the policy "
                                         "loads."},
            "field": {"type": "string", "pattern": "^/[a-z_]+(/.*)?$",
                      "description": "Where findings point: a JSON pointer that starts with "
                                     "a variable, e.g. `/config/process/noNewPrivileges` or "
                                     "`/grants/capabilities`; default: the field the "
                                     "condition names."},
            "message": _text("The finding's message; default: the title."),
            "reason": {"type": "string", "description": "Why the rule exists (for reviewers)."},
        },
    }


def _path(description: str) -> dict[str, Any]:
    return {**_PATH, "description": description + " Relative paths start at the policy file."}


def _trust_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "Signature trust: the authorities that can vouch for an image's digest, "
                       "and which images need whose word. Verified by the trust stage against "
                       "the manifest digest and size in the image cache.",
        "properties": {
            "authorities": {
                "type": "object",
                "description": "Authority name -> how to verify with it.",
                "propertyNames": {"$ref": "#/$defs/authorityName"},
                "additionalProperties": {"$ref": "#/$defs/authority"},
            },
            "rules": {
                "type": "array",
                "description": "Every rule whose globs match an image (or a local file) "
                               "applies to it; an image or file must satisfy all of its "
                               "rules.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["require"],
                    "description": "Images, or local files, and what must vouch for them.",
                    "oneOf": [
                        {"required": ["images"], "not": {
                            "description": "An image rule has no `files` or `signature`.",
                            "anyOf": [{"required": ["files"]}, {"required": ["signature"]}]}},
                        {"required": ["files"], "not": {"required": ["images"]}}],
                    "properties": {
                        "images": _one_or_many(
                            "Globs (fnmatch) on the expanded image reference, with or without "
                            "tag and digest.", {"type": "string", "minLength": 1}),
                        "files": _one_or_many(
                            "Globs (fnmatch) on the `files` entries whose `source:` the build "
                            "copies from the host: on the path in the image (`etc/ssl/*`), "
                            "on the `source:` as written, or on the host path it reads.",
                            {"type": "string", "minLength": 1}),
                        "signature": _one_or_many(
                            "Where a file's signature is, tried in order: path templates with "
                            "`{source}` (the host path the gate reads), `{name}` (its file "
                            "name) and `{path}` (the path in the image). A Sigstore bundle "
                            "(JSON) or a cosign `sign-blob` signature (base64). Default: "
                            "`{source}.sigstore.json`, then `{source}.sig`. Relative paths "
                            "start at the policy file.", {"type": "string", "minLength": 1}),
                        "require": {"$ref": "#/$defs/requirement"},
                        "reason": {"type": "string",
                                   "description": "Why the rule exists (for reviewers)."},
                    },
                },
            },
            "default_authority": {
                "$ref": "#/$defs/authorityName",
                "description": "The authority that verifies the images a config lists in its "
                               "own `trust:` section (`image:` and `org:` entries, matched as "
                               "LinuxKit's content trust matched them).",
            },
        },
    }


def _authority(kind: str, description: str, required: list[str],
               properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"if": {"properties": {"type": {"const": kind}}},
            "then": {"description": description, "required": required,
                     "additionalProperties": False,
                     "properties": {"type": {"const": kind}, **properties}, **extra}}


def _asking(key: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A requirement that asks an authority something more than its own rule (`key`)."""
    return {"type": "object", "additionalProperties": False, "required": ["authority", key],
            "description": description,
            "properties": {"authority": {"$ref": "#/$defs/authorityName"}, key: schema}}


def _trust_defs() -> dict[str, Any]:
    identity = {
        "type": "object", "additionalProperties": False, "required": ["issuer"],
        "description": "A keyless signer: the certificate's OIDC issuer and its subject (SAN).",
        "oneOf": [{"required": ["subject"]}, {"required": ["subject_regex"]}],
        "properties": {
            "issuer": {"type": "string", "minLength": 1,
                       "description": "The OIDC issuer URL, exactly."},
            "subject": {"type": "string", "minLength": 1,
                        "description": "The signer identity (email or URI), exactly."},
            "subject_regex": {"type": "string", "minLength": 1,
                              "description": "A regular expression the whole identity must "
                                             "match."},
        },
    }
    requirements = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/requirement"}}
    return {
        "attestation": _attestation_schema(),
        "authorityName": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                          "description": "The name of an authority in `trust.authorities`."},
        "requirement": {
            "description": "One authority name; `{authority: A, signers: [targets/releases, "
                           "...]}` (a notary authority whose named delegation roles must each "
                           "sign the tag, all with the same digest); `{authority: A, "
                           "attestation: {...}}` (a cosign or sigstore authority must have "
                           "signed an in-toto attestation of the image that meets the "
                           "conditions); `{all: [...]}` (each must be met) or `{any: [...]}` "
                           "(one is enough), nested as needed.",
            "anyOf": [
                {"$ref": "#/$defs/authorityName"},
                _asking("signers", "A notary authority and the delegation roles that must "
                        "each sign the tag with the same digest (Docker's role order does not "
                        "apply).",
                        {"type": "array", "minItems": 1, "uniqueItems": True,
                         "description": "Roles: `targets` or delegations such as "
                                        "`targets/releases`.",
                         "items": {"type": "string",
                                   "pattern": "^targets(/[A-Za-z0-9_.-]+)*$"}}),
                _asking("attestation", "A sigstore or cosign-key authority and the in-toto "
                        "attestation of the image it must have signed. Combine with the "
                        "authority's name in an `all` to require the image's signature too.",
                        {"$ref": "#/$defs/attestation"}),
                {"type": "object", "additionalProperties": False, "required": ["all"],
                 "description": "Every one must be met.",
                 "properties": {"all": {**requirements,
                                        "description": "Requirements that must all be met."}}},
                {"type": "object", "additionalProperties": False, "required": ["any"],
                 "description": "One must be met.",
                 "properties": {"any": {**requirements,
                                        "description": "Requirements of which one must be "
                                                       "met."}}},
            ],
        },
        "identity": identity,
        "authority": {
            "type": "object",
            "required": ["type"],
            "description": "A trust authority; `type` decides the other keys.",
            "properties": {"type": {"enum": ["notary", "tuf", "sigstore", "cosign-key"],
                                    "description": "notary: Docker Content Trust (Notary v1); "
                                                   "tuf: a TUF 1.0 repository whose targets are "
                                                   "`repository:tag`; sigstore: keyless "
                                                   "signatures; cosign-key: cosign key pairs."}},
            "allOf": [
                _authority("notary", "A Notary v1 server, as Docker Content Trust uses it. The "
                           "root is pinned by `root_keys` or `root_cert_ids`, or trusted on "
                           "first use (`tofu: true`) and kept in `pin_store`.", ["type", "server"], {
                               "server": {"type": "string", "pattern": "^https?://[^/]+",
                                          "description": "The notary server URL."},
                               "ca": _path("CA certificates (PEM) for the server's TLS; "
                                           "default: the system store."),
                               "root_keys": {"type": "array", "minItems": 1, "description":
                                             "Pinned root public keys (base64 SPKI); the "
                                             "root must carry one of them.",
                                             "items": {"type": "string", "minLength": 1}},
                               "root_cert_ids": {
                                   "type": "array", "minItems": 1, "description":
                                   "Pinned root certificates by notary key ID (the hex IDs "
                                   "of `trust_pinning.certs`: `notary`'s root key IDs in "
                                   "root.json); the root must carry one of them.",
                                   "items": {"type": "string",
                                             "pattern": "^[0-9A-Fa-f]{64}$"}},
                               "pin_mode": {
                                   "enum": ["narrow", "replace"], "description":
                                   "`narrow` (default): a pinned root key must also pass "
                                   "notary's certificate rules (a leaf certificate whose CN "
                                   "is the GUN, valid now); `replace`: a pinned key is "
                                   "trusted without them, as Connaisseur pins keys."},
                               "tofu": {"type": "boolean", "description":
                                        "Trust the first root seen for each repository."},
                               "pin_store": _path("Where the roots trusted on first use are "
                                                  "kept; default: the trust cache."),
                           }, anyOf=[{"required": ["root_keys"]},
                                     {"required": ["root_cert_ids"]},
                                     {"required": ["tofu"],
                                      "properties": {"tofu": {"const": True},
                                                     "pin_mode": {"const": "narrow"}}}]),
                _authority("tuf", "A TUF 1.0 repository whose target paths are "
                           "`repository:tag`.", ["type", "repository", "root"], {
                               "repository": {"type": "string", "minLength": 1,
                                              "description": "Base URL (http(s):// or "
                                                             "file://), or a directory."},
                               "root": _path("The bootstrap root.json."),
                           }),
                _authority("sigstore", "Keyless cosign signatures (Fulcio certificates, Rekor "
                           "entries) checked offline against a trusted root.",
                           ["type", "trusted_root", "identities"], {
                               "trusted_root": _path("The Sigstore trusted_root.json."),
                               "identities": {"type": "array", "minItems": 1,
                                              "description": "Signers accepted; one is enough.",
                                              "items": {"$ref": "#/$defs/identity"}},
                           }),
                _authority("cosign-key", "cosign signatures made with one of these keys.",
                           ["type", "keys"], {
                               "keys": {"type": "array", "minItems": 1,
                                        "description": "Public keys (PEM files).",
                                        "items": _path("A PEM public key file.")},
                               "trusted_root": _path(
                                   "A Sigstore trusted_root.json whose transparency logs "
                                   "every key-based Sigstore bundle (\"managed key\") must "
                                   "be recorded in; without it (or without logs in it), the "
                                   "key alone is trusted."),
                           }),
            ],
        },
    }


_SLSA_FIELDS = {
    "builder": "the builder ID (v0.2 `builder.id`, v1 `runDetails.builder.id`)",
    "build_type": "the build type (v0.2 `buildType`, v1 `buildDefinition.buildType`)",
    "source_repository": "the source repository (v0.2 `invocation.configSource.uri` or "
                         "`materials[0].uri` without `git+` and `@ref`; v1 "
                         "`externalParameters.workflow.repository`, else "
                         "`resolvedDependencies[0].uri` likewise)",
    "source_ref": "the source ref, e.g. `refs/heads/main` (after the `@` of those URIs; v1 "
                  "`externalParameters.workflow.ref`)",
}


def _attestation_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "predicate_type": {
            "type": "string", "minLength": 1,
            "description": "`slsa-provenance` (SLSA provenance v0.2 or v1), or a predicate "
                           "type URI, exactly (`https://slsa.dev/provenance/v1`, "
                           "`https://spdx.dev/Document`, ...)."},
        "conditions": {
            "type": "array", "minItems": 1,
            "description": "Conditions on the predicate of any predicate type; all must hold.",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["pointer"],
                "oneOf": [{"required": ["equals"]}, {"required": ["regex"]}],
                "description": "A value in the predicate and what it must be.",
                "properties": {
                    "pointer": {"type": "string", "pattern": "^(/.*)?$",
                                "description": "A JSON pointer (RFC 6901) into the "
                                               "predicate, e.g. `/buildDefinition/"
                                               "externalParameters/workflow/path`."},
                    "equals": {"description": "The exact JSON value (any type) there."},
                    "regex": {"type": "string", "minLength": 1,
                              "description": "A regular expression the whole string there "
                                             "must match."}}}},
    }
    for name, what in _SLSA_FIELDS.items():
        properties[name] = {"type": "string", "minLength": 1,
                            "description": f"SLSA provenance: {what}, exactly."}
        properties[f"{name}_regex"] = {"type": "string", "minLength": 1,
                                       "description": f"SLSA provenance: a regular expression "
                                                      f"{what} must match whole."}
    return {
        "type": "object", "additionalProperties": False, "required": ["predicate_type"],
        "description": "An in-toto attestation of the image (cosign's `.att` tag, or a "
                       "Sigstore bundle among the OCI referrers or in their fallback tag), "
                       "signed as the authority signs, whose statement names the image's "
                       "manifest digest and whose predicate meets every condition given. Each "
                       "SLSA field is exact or `_regex`, not both.",
        "not": {"description": "A SLSA field is given exactly or as `_regex`, not both.",
                "anyOf": [{"required": [name, f"{name}_regex"]} for name in _SLSA_FIELDS]},
        "properties": properties,
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2) + "\n"
