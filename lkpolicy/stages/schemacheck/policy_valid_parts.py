# Generated from schemas/policy.schema.json; do not edit.
# Regenerate with `python -m lkpolicy.stages.schemacheck.predicate` after changing a
# keyword that validates (descriptions and titles leave this file as it is).
"""Definitions of policy_valid.py that it imports (generated with it; see there)."""

from __future__ import annotations

import re
from typing import Any

ATTESTATION_KEYS = frozenset(("predicate_type", "conditions", "builder", "builder_regex", "build_type", "build_type_regex", "source_repository", "source_repository_regex", "source_ref", "source_ref_regex"))
ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_KEYS = frozenset(("pointer", "equals", "regex"))
ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_PROPERTIES_POINTER_PATTERN = re.compile("^(/.*)?$")
AUTHORITY_ALL_OF_0_THEN_KEYS = frozenset(("type", "server", "ca", "root_keys", "root_cert_ids", "pin_mode", "tofu", "pin_store"))
AUTHORITY_ALL_OF_0_THEN_PROPERTIES_PIN_MODE_ENUM = ("narrow", "replace")
AUTHORITY_ALL_OF_0_THEN_PROPERTIES_ROOT_CERT_IDS_ITEMS_PATTERN = re.compile("^[0-9A-Fa-f]{64}$")
AUTHORITY_ALL_OF_0_THEN_PROPERTIES_SERVER_PATTERN = re.compile("^https?://[^/]+")
AUTHORITY_ALL_OF_1_THEN_KEYS = frozenset(("type", "repository", "root"))
AUTHORITY_ALL_OF_2_THEN_KEYS = frozenset(("type", "trusted_root", "identities"))
AUTHORITY_ALL_OF_3_THEN_KEYS = frozenset(("type", "keys", "trusted_root"))
AUTHORITY_NAME_PATTERN = re.compile("^[A-Za-z0-9][A-Za-z0-9_.-]*$")
AUTHORITY_PROPERTIES_TYPE_ENUM = ("notary", "tuf", "sigstore", "cosign-key")
CUSTOM_RULE_KEYS = frozenset(("title", "name", "severity", "rationale", "fix", "scope", "match", "condition", "field", "message", "reason"))
CUSTOM_RULE_PROPERTIES_FIELD_PATTERN = re.compile("^/[a-z_]+(/.*)?$")
CUSTOM_RULE_PROPERTIES_NAME_PATTERN = re.compile("^[a-z0-9]+(-[a-z0-9]+)*$")
CUSTOM_RULE_PROPERTIES_SCOPE_ENUM = ("container", "config")
CUSTOM_RULE_PROPERTIES_SEVERITY_ENUM = ("error", "warning", "info")
IDENTITY_KEYS = frozenset(("issuer", "subject", "subject_regex"))
PROPERTIES_CHECK_KEYS = frozenset(("format", "fail-on", "select", "ignore", "exclude"))
PROPERTIES_CHECK_PROPERTIES_FAIL_ON_ENUM = ("error", "warning", "info", "never")
PROPERTIES_CHECK_PROPERTIES_FORMAT_ENUM = ("text", "json", "sarif", "github")
PROPERTIES_CHECK_PROPERTIES_SELECT_ITEMS_PATTERN = re.compile("^[A-Za-z][A-Za-z0-9]*$")
PROPERTIES_CUSTOM_RULES_PROPERTY_NAMES_PATTERN = re.compile("^[A-Z]{2,12}[0-9]{1,6}$")
PROPERTIES_OVERRIDES_ITEMS_KEYS = frozenset(("match", "rules", "reason"))
PROPERTIES_TRUST_KEYS = frozenset(("authorities", "rules", "default_authority"))
PROPERTIES_TRUST_PROPERTIES_RULES_ITEMS_KEYS = frozenset(("images", "files", "signature", "require", "reason"))
REQUIREMENT_ANY_OF_1_KEYS = frozenset(("authority", "signers"))
REQUIREMENT_ANY_OF_1_PROPERTIES_SIGNERS_ITEMS_PATTERN = re.compile("^targets(/[A-Za-z0-9_.-]+)*$")
REQUIREMENT_ANY_OF_2_KEYS = frozenset(("authority", "attestation"))
REQUIREMENT_ANY_OF_3_KEYS = frozenset(("all",))
REQUIREMENT_ANY_OF_4_KEYS = frozenset(("any",))
ROOT_KEYS = frozenset(("extends", "rules", "trust", "custom_rules", "waivers", "check", "overrides"))
RULES_ADDITIONAL_PROPERTIES_0 = re.compile("^(?!LK)[A-Z]{2,12}[0-9]{1,6}$")
RULES_KEYS = frozenset(("LKP101", "LKP102", "LKP103", "LKP110", "LKP111", "LKP112", "LKP120", "LKP130", "LKP140", "LKP141", "LKP150", "LKP151", "LKP152", "LKP160", "LKP170", "LKP171", "LKP180", "LKP181", "LKP182", "LKP190"))
RULES_PROPERTIES_LKP101_ANY_OF_1_KEYS = frozenset(("severity",))
RULES_PROPERTIES_LKP103_ANY_OF_1_KEYS = frozenset(("severity", "allowed", "denied"))
RULES_PROPERTIES_LKP110_ANY_OF_1_KEYS = frozenset(("severity", "forbidden"))
RULES_PROPERTIES_LKP110_ANY_OF_1_PROPERTIES_FORBIDDEN_ITEMS_ENUM = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")
RULES_PROPERTIES_LKP111_ANY_OF_1_KEYS = frozenset(("severity", "allowed"))
RULES_PROPERTIES_LKP120_ANY_OF_1_KEYS = frozenset(("severity", "namespaces"))
RULES_PROPERTIES_LKP120_ANY_OF_1_PROPERTIES_NAMESPACES_ITEMS_ENUM = ("net", "pid", "ipc", "uts", "userns")
RULES_PROPERTIES_LKP130_ANY_OF_1_KEYS = frozenset(("severity", "forbidden", "forbidden_rw"))
RULES_PROPERTIES_LKP160_ANY_OF_1_KEYS = frozenset(("severity", "forbidden_prefixes", "allowed"))
RULES_PROPERTIES_LKP182_ANY_OF_1_KEYS = frozenset(("severity", "required"))
SELECTOR_KEYS = frozenset(("image", "section", "name"))
SELECTOR_PROPERTIES_SECTION_ANY_OF_0_ENUM = ("init", "kernel", "onboot", "onshutdown", "services", "volumes", "files")
SEVERITY_ENUM = ("error", "warning", "info", "off")


def unique(values: list[Any]) -> bool:
    """jsonschema's `uniqueItems`: equal as JSON values (1 == 1.0, True != 1)."""
    keys = [json_key(value) for value in values]
    return len(set(keys)) == len(keys)


def json_key(value: Any) -> Any:
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(json_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, json_key(item)) for key, item in value.items()))
    return ("scalar", value)


def valid_extends_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) >= 1
    )


def valid_extends(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(valid_extends_items(item15) for item15 in value)
    )


def valid_rules(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(False for key16 in value if key16 not in RULES_KEYS and RULES_ADDITIONAL_PROPERTIES_0.search(key16) is None)
        and ("LKP101" not in value or valid_rules_lkp101(value["LKP101"]))
        and ("LKP102" not in value or valid_rules_lkp101(value["LKP102"]))
        and ("LKP103" not in value or valid_rules_lkp103(value["LKP103"]))
        and ("LKP110" not in value or valid_rules_lkp110(value["LKP110"]))
        and ("LKP111" not in value or valid_rules_lkp111(value["LKP111"]))
        and ("LKP112" not in value or valid_rules_lkp101(value["LKP112"]))
        and ("LKP120" not in value or valid_rules_lkp120(value["LKP120"]))
        and ("LKP130" not in value or valid_rules_lkp130(value["LKP130"]))
        and ("LKP140" not in value or valid_rules_lkp101(value["LKP140"]))
        and ("LKP141" not in value or valid_rules_lkp141(value["LKP141"]))
        and ("LKP150" not in value or valid_rules_lkp101(value["LKP150"]))
        and ("LKP151" not in value or valid_rules_lkp101(value["LKP151"]))
        and ("LKP152" not in value or valid_rules_lkp101(value["LKP152"]))
        and ("LKP160" not in value or valid_rules_lkp160(value["LKP160"]))
        and ("LKP170" not in value or valid_rules_lkp141(value["LKP170"]))
        and ("LKP171" not in value or valid_rules_lkp141(value["LKP171"]))
        and ("LKP180" not in value or valid_rules_lkp101(value["LKP180"]))
        and ("LKP181" not in value or valid_rules_lkp181(value["LKP181"]))
        and ("LKP182" not in value or valid_rules_lkp182(value["LKP182"]))
        and ("LKP190" not in value or valid_rules_lkp182(value["LKP190"]))
        and all(valid_rules_lkp101(value[key32]) for key32 in value if RULES_ADDITIONAL_PROPERTIES_0.search(key32))
    )


def valid_trust_rules_items_images_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(valid_extends_items(item39) for item39 in value)
        and len(value) >= 1
    )


def valid_trust_rules_items_images(value: Any) -> bool:
    return (valid_extends_items(value) or valid_trust_rules_items_images_any_of_1(value))


def valid_custom_rules_property_names(value: Any) -> bool:
    return (not isinstance(value, str) or PROPERTIES_CUSTOM_RULES_PROPERTY_NAMES_PATTERN.search(value) is not None)


def valid_custom_rule(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and CUSTOM_RULE_KEYS.issuperset(value)
        and ("title" in value and "severity" in value and "rationale" in value and "fix" in value and "condition" in value)
        and (not valid_custom_rule_if(value) or not (not isinstance(value, dict) or ("match" in value)))
        and ("title" not in value or valid_extends_items(value["title"]))
        and ("name" not in value or valid_custom_rule_name(value["name"]))
        and ("severity" not in value or value["severity"] in CUSTOM_RULE_PROPERTIES_SEVERITY_ENUM)
        and ("rationale" not in value or valid_extends_items(value["rationale"]))
        and ("fix" not in value or valid_extends_items(value["fix"]))
        and ("scope" not in value or value["scope"] in CUSTOM_RULE_PROPERTIES_SCOPE_ENUM)
        and ("match" not in value or valid_selector(value["match"]))
        and ("condition" not in value or valid_custom_rule_condition(value["condition"]))
        and ("field" not in value or valid_custom_rule_field(value["field"]))
        and ("message" not in value or valid_extends_items(value["message"]))
        and ("reason" not in value or isinstance(value["reason"], str))
    )


def valid_custom_rules(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(valid_custom_rules_property_names(key57) for key57 in value)
        and all(valid_custom_rule(value[key58]) for key58 in value)
    )


def valid_check_select_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and PROPERTIES_CHECK_PROPERTIES_SELECT_ITEMS_PATTERN.search(value) is not None
    )


def valid_check_select(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(valid_check_select_items(item60) for item60 in value)
    )


def valid_check(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and PROPERTIES_CHECK_KEYS.issuperset(value)
        and ("format" not in value or value["format"] in PROPERTIES_CHECK_PROPERTIES_FORMAT_ENUM)
        and ("fail-on" not in value or value["fail-on"] in PROPERTIES_CHECK_PROPERTIES_FAIL_ON_ENUM)
        and ("select" not in value or valid_check_select(value["select"]))
        and ("ignore" not in value or valid_check_select(value["ignore"]))
        and ("exclude" not in value or valid_extends(value["exclude"]))
    )


def valid_selector(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and SELECTOR_KEYS.issuperset(value)
        and len(value) >= 1
        and ("image" not in value or valid_trust_rules_items_images(value["image"]))
        and ("section" not in value or valid_selector_section(value["section"]))
        and ("name" not in value or valid_trust_rules_items_images(value["name"]))
    )


def valid_severity(value: Any) -> bool:
    return value in SEVERITY_ENUM


def valid_rules_lkp101_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP101_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
    )


def valid_rules_lkp101(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp101_any_of_1(value))


def valid_rules_lkp103_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP103_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("allowed" not in value or valid_extends(value["allowed"]))
        and ("denied" not in value or valid_extends(value["denied"]))
    )


def valid_rules_lkp103(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp103_any_of_1(value))


def valid_rules_lkp110_any_of_1_forbidden_items(value: Any) -> bool:
    return value in RULES_PROPERTIES_LKP110_ANY_OF_1_PROPERTIES_FORBIDDEN_ITEMS_ENUM


def valid_rules_lkp110_any_of_1_forbidden(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(valid_rules_lkp110_any_of_1_forbidden_items(item72) for item72 in value)
        and unique(value)
    )


def valid_rules_lkp110_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP110_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("forbidden" not in value or valid_rules_lkp110_any_of_1_forbidden(value["forbidden"]))
    )


def valid_rules_lkp110(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp110_any_of_1(value))


def valid_rules_lkp111_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP111_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("allowed" not in value or valid_rules_lkp110_any_of_1_forbidden(value["allowed"]))
    )


def valid_rules_lkp111(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp111_any_of_1(value))


def valid_rules_lkp120_any_of_1_namespaces_items(value: Any) -> bool:
    return value in RULES_PROPERTIES_LKP120_ANY_OF_1_PROPERTIES_NAMESPACES_ITEMS_ENUM


def valid_rules_lkp120_any_of_1_namespaces(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(valid_rules_lkp120_any_of_1_namespaces_items(item77) for item77 in value)
        and unique(value)
    )


def valid_rules_lkp120_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP120_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("namespaces" not in value or valid_rules_lkp120_any_of_1_namespaces(value["namespaces"]))
    )


def valid_rules_lkp120(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp120_any_of_1(value))


def valid_rules_lkp130_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP130_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("forbidden" not in value or valid_extends(value["forbidden"]))
        and ("forbidden_rw" not in value or valid_extends(value["forbidden_rw"]))
    )


def valid_rules_lkp130(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp130_any_of_1(value))


def valid_rules_lkp141_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP111_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("allowed" not in value or valid_extends(value["allowed"]))
    )


def valid_rules_lkp141(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp141_any_of_1(value))


def valid_rules_lkp160_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP160_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("forbidden_prefixes" not in value or valid_extends(value["forbidden_prefixes"]))
        and ("allowed" not in value or valid_extends(value["allowed"]))
    )


def valid_rules_lkp160(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp160_any_of_1(value))


def valid_rules_lkp181_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP110_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("forbidden" not in value or valid_extends(value["forbidden"]))
    )


def valid_rules_lkp181(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp181_any_of_1(value))


def valid_rules_lkp182_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and RULES_PROPERTIES_LKP182_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or valid_severity(value["severity"]))
        and ("required" not in value or valid_extends(value["required"]))
    )


def valid_rules_lkp182(value: Any) -> bool:
    return (valid_severity(value) or valid_rules_lkp182_any_of_1(value))


def valid_custom_rule_if(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("scope" not in value or value["scope"] == "config"))
        and (not isinstance(value, dict) or ("scope" in value))
    )


def valid_custom_rule_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and CUSTOM_RULE_PROPERTIES_NAME_PATTERN.search(value) is not None
    )


def valid_custom_rule_condition(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) >= 1
        and len(value) <= 4096
    )


def valid_custom_rule_field(value: Any) -> bool:
    return (
        isinstance(value, str)
        and CUSTOM_RULE_PROPERTIES_FIELD_PATTERN.search(value) is not None
    )


def valid_selector_section_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(item107 in SELECTOR_PROPERTIES_SECTION_ANY_OF_0_ENUM for item107 in value)
        and len(value) >= 1
    )


def valid_selector_section(value: Any) -> bool:
    return (value in SELECTOR_PROPERTIES_SECTION_ANY_OF_0_ENUM or valid_selector_section_any_of_1(value))
