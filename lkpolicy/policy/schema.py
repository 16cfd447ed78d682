"""The policy file schema, generated from the rule catalogue.

`schemas/policy.schema.json` is this function's output (a test keeps them equal), so a rule's
options are declared once, next to the rule.
"""

from __future__ import annotations

import json
from typing import Any

from lkpolicy.policy.rules import IMAGE_SECTIONS, POLICY_RULES

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


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2) + "\n"
