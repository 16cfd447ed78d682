# Generated from schemas/policy.schema.json; do not edit.
# Regenerate with `python -m lkpolicy.stages.schemacheck.predicate` after changing a
# keyword that validates (descriptions and titles leave this file as it is).
"""The policy schema as one test: whether jsonschema would find an error, without it."""

from __future__ import annotations

import re
from typing import Any

_ATTESTATION_KEYS = frozenset(("predicate_type", "conditions", "builder", "builder_regex", "build_type", "build_type_regex", "source_repository", "source_repository_regex", "source_ref", "source_ref_regex"))
_ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_KEYS = frozenset(("pointer", "equals", "regex"))
_ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_PROPERTIES_POINTER_PATTERN = re.compile("^(/.*)?$")
_AUTHORITY_ALL_OF_0_THEN_KEYS = frozenset(("type", "server", "ca", "root_keys", "root_cert_ids", "pin_mode", "tofu", "pin_store"))
_AUTHORITY_ALL_OF_0_THEN_PROPERTIES_PIN_MODE_ENUM = ("narrow", "replace")
_AUTHORITY_ALL_OF_0_THEN_PROPERTIES_ROOT_CERT_IDS_ITEMS_PATTERN = re.compile("^[0-9A-Fa-f]{64}$")
_AUTHORITY_ALL_OF_0_THEN_PROPERTIES_SERVER_PATTERN = re.compile("^https?://[^/]+")
_AUTHORITY_ALL_OF_1_THEN_KEYS = frozenset(("type", "repository", "root"))
_AUTHORITY_ALL_OF_2_THEN_KEYS = frozenset(("type", "trusted_root", "identities"))
_AUTHORITY_ALL_OF_3_THEN_KEYS = frozenset(("type", "keys", "trusted_root"))
_AUTHORITY_NAME_PATTERN = re.compile("^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_AUTHORITY_PROPERTIES_TYPE_ENUM = ("notary", "tuf", "sigstore", "cosign-key")
_CUSTOM_RULE_KEYS = frozenset(("title", "name", "severity", "rationale", "fix", "scope", "match", "condition", "field", "message", "reason"))
_CUSTOM_RULE_PROPERTIES_FIELD_PATTERN = re.compile("^/[a-z_]+(/.*)?$")
_CUSTOM_RULE_PROPERTIES_NAME_PATTERN = re.compile("^[a-z0-9]+(-[a-z0-9]+)*$")
_CUSTOM_RULE_PROPERTIES_SCOPE_ENUM = ("container", "config")
_CUSTOM_RULE_PROPERTIES_SEVERITY_ENUM = ("error", "warning", "info")
_IDENTITY_KEYS = frozenset(("issuer", "subject", "subject_regex"))
_PROPERTIES_CHECK_KEYS = frozenset(("format", "fail-on", "select", "ignore", "exclude"))
_PROPERTIES_CHECK_PROPERTIES_FAIL_ON_ENUM = ("error", "warning", "info", "never")
_PROPERTIES_CHECK_PROPERTIES_FORMAT_ENUM = ("text", "json", "sarif", "github")
_PROPERTIES_CHECK_PROPERTIES_SELECT_ITEMS_PATTERN = re.compile("^[A-Za-z][A-Za-z0-9]*$")
_PROPERTIES_CUSTOM_RULES_PROPERTY_NAMES_PATTERN = re.compile("^[A-Z]{2,12}[0-9]{1,6}$")
_PROPERTIES_OVERRIDES_ITEMS_KEYS = frozenset(("match", "rules", "reason"))
_PROPERTIES_TRUST_KEYS = frozenset(("authorities", "rules", "default_authority"))
_PROPERTIES_TRUST_PROPERTIES_RULES_ITEMS_KEYS = frozenset(("images", "files", "signature", "require", "reason"))
_REQUIREMENT_ANY_OF_1_KEYS = frozenset(("authority", "signers"))
_REQUIREMENT_ANY_OF_1_PROPERTIES_SIGNERS_ITEMS_PATTERN = re.compile("^targets(/[A-Za-z0-9_.-]+)*$")
_REQUIREMENT_ANY_OF_2_KEYS = frozenset(("authority", "attestation"))
_REQUIREMENT_ANY_OF_3_KEYS = frozenset(("all",))
_REQUIREMENT_ANY_OF_4_KEYS = frozenset(("any",))
_ROOT_KEYS = frozenset(("extends", "rules", "trust", "custom_rules", "waivers", "check", "overrides"))
_RULES_ADDITIONAL_PROPERTIES_0 = re.compile("^(?!LK)[A-Z]{2,12}[0-9]{1,6}$")
_RULES_KEYS = frozenset(("LKP101", "LKP102", "LKP103", "LKP110", "LKP111", "LKP112", "LKP120", "LKP130", "LKP140", "LKP141", "LKP150", "LKP151", "LKP152", "LKP160", "LKP170", "LKP171", "LKP180", "LKP181", "LKP182", "LKP190"))
_RULES_PROPERTIES_LKP101_ANY_OF_1_KEYS = frozenset(("severity",))
_RULES_PROPERTIES_LKP103_ANY_OF_1_KEYS = frozenset(("severity", "allowed", "denied"))
_RULES_PROPERTIES_LKP110_ANY_OF_1_KEYS = frozenset(("severity", "forbidden"))
_RULES_PROPERTIES_LKP110_ANY_OF_1_PROPERTIES_FORBIDDEN_ITEMS_ENUM = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")
_RULES_PROPERTIES_LKP111_ANY_OF_1_KEYS = frozenset(("severity", "allowed"))
_RULES_PROPERTIES_LKP120_ANY_OF_1_KEYS = frozenset(("severity", "namespaces"))
_RULES_PROPERTIES_LKP120_ANY_OF_1_PROPERTIES_NAMESPACES_ITEMS_ENUM = ("net", "pid", "ipc", "uts", "userns")
_RULES_PROPERTIES_LKP130_ANY_OF_1_KEYS = frozenset(("severity", "forbidden", "forbidden_rw"))
_RULES_PROPERTIES_LKP160_ANY_OF_1_KEYS = frozenset(("severity", "forbidden_prefixes", "allowed"))
_RULES_PROPERTIES_LKP182_ANY_OF_1_KEYS = frozenset(("severity", "required"))
_SELECTOR_KEYS = frozenset(("image", "section", "name"))
_SELECTOR_PROPERTIES_SECTION_ANY_OF_0_ENUM = ("init", "kernel", "onboot", "onshutdown", "services", "volumes", "files")
_SEVERITY_ENUM = ("error", "warning", "info", "off")


def is_valid(data: Any) -> bool:
    """Whether jsonschema finds no error in `data`."""
    return (
        isinstance(data, dict)
        and _ROOT_KEYS.issuperset(data)
        and ("extends" not in data or _valid_extends(data["extends"]))
        and ("rules" not in data or _valid_rules(data["rules"]))
        and ("trust" not in data or _valid_trust(data["trust"]))
        and ("custom_rules" not in data or _valid_custom_rules(data["custom_rules"]))
        and ("waivers" not in data or _valid_waivers(data["waivers"]))
        and ("check" not in data or _valid_check(data["check"]))
        and ("overrides" not in data or _valid_overrides(data["overrides"]))
    )


def _unique(values: list[Any]) -> bool:
    """jsonschema's `uniqueItems`: equal as JSON values (1 == 1.0, True != 1)."""
    keys = [_json_key(value) for value in values]
    return len(set(keys)) == len(keys)


def _json_key(value: Any) -> Any:
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(_json_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _json_key(item)) for key, item in value.items()))
    return ("scalar", value)


def _valid_extends_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) >= 1
    )


def _valid_extends(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_extends_items(item15) for item15 in value)
    )


def _valid_rules(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(False for key16 in value if key16 not in _RULES_KEYS and _RULES_ADDITIONAL_PROPERTIES_0.search(key16) is None)
        and ("LKP101" not in value or _valid_rules_lkp101(value["LKP101"]))
        and ("LKP102" not in value or _valid_rules_lkp101(value["LKP102"]))
        and ("LKP103" not in value or _valid_rules_lkp103(value["LKP103"]))
        and ("LKP110" not in value or _valid_rules_lkp110(value["LKP110"]))
        and ("LKP111" not in value or _valid_rules_lkp111(value["LKP111"]))
        and ("LKP112" not in value or _valid_rules_lkp101(value["LKP112"]))
        and ("LKP120" not in value or _valid_rules_lkp120(value["LKP120"]))
        and ("LKP130" not in value or _valid_rules_lkp130(value["LKP130"]))
        and ("LKP140" not in value or _valid_rules_lkp101(value["LKP140"]))
        and ("LKP141" not in value or _valid_rules_lkp141(value["LKP141"]))
        and ("LKP150" not in value or _valid_rules_lkp101(value["LKP150"]))
        and ("LKP151" not in value or _valid_rules_lkp101(value["LKP151"]))
        and ("LKP152" not in value or _valid_rules_lkp101(value["LKP152"]))
        and ("LKP160" not in value or _valid_rules_lkp160(value["LKP160"]))
        and ("LKP170" not in value or _valid_rules_lkp141(value["LKP170"]))
        and ("LKP171" not in value or _valid_rules_lkp141(value["LKP171"]))
        and ("LKP180" not in value or _valid_rules_lkp101(value["LKP180"]))
        and ("LKP181" not in value or _valid_rules_lkp181(value["LKP181"]))
        and ("LKP182" not in value or _valid_rules_lkp182(value["LKP182"]))
        and ("LKP190" not in value or _valid_rules_lkp182(value["LKP190"]))
        and all(_valid_rules_lkp101(value[key32]) for key32 in value if _RULES_ADDITIONAL_PROPERTIES_0.search(key32))
    )


def _valid_authority_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _AUTHORITY_NAME_PATTERN.search(value) is not None
    )


def _valid_authority(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and ("type" in value)
        and ("type" not in value or value["type"] in _AUTHORITY_PROPERTIES_TYPE_ENUM)
        and (not _valid_authority_all_of_0_if(value) or _valid_authority_all_of_0_then(value))
        and (not _valid_authority_all_of_1_if(value) or _valid_authority_all_of_1_then(value))
        and (not _valid_authority_all_of_2_if(value) or _valid_authority_all_of_2_then(value))
        and (not _valid_authority_all_of_3_if(value) or _valid_authority_all_of_3_then(value))
    )


def _valid_trust_authorities(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(_valid_authority_name(key37) for key37 in value)
        and all(_valid_authority(value[key38]) for key38 in value)
    )


def _valid_trust_rules_items_one_of_0_not(value: Any) -> bool:
    return ((not isinstance(value, dict) or ("files" in value)) or (not isinstance(value, dict) or ("signature" in value)))


def _valid_trust_rules_items_one_of_0(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("images" in value))
        and not _valid_trust_rules_items_one_of_0_not(value)
    )


def _valid_trust_rules_items_one_of_1(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("files" in value))
        and not (not isinstance(value, dict) or ("images" in value))
    )


def _valid_trust_rules_items_images_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_extends_items(item39) for item39 in value)
        and len(value) >= 1
    )


def _valid_trust_rules_items_images(value: Any) -> bool:
    return (_valid_extends_items(value) or _valid_trust_rules_items_images_any_of_1(value))


def _valid_requirement(value: Any) -> bool:
    return (_valid_authority_name(value) or _valid_requirement_any_of_1(value) or _valid_requirement_any_of_2(value) or _valid_requirement_any_of_3(value) or _valid_requirement_any_of_4(value))


def _valid_trust_rules_items(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _PROPERTIES_TRUST_PROPERTIES_RULES_ITEMS_KEYS.issuperset(value)
        and ("require" in value)
        and [_valid_trust_rules_items_one_of_0(value), _valid_trust_rules_items_one_of_1(value)].count(True) == 1
        and ("images" not in value or _valid_trust_rules_items_images(value["images"]))
        and ("files" not in value or _valid_trust_rules_items_images(value["files"]))
        and ("signature" not in value or _valid_trust_rules_items_images(value["signature"]))
        and ("require" not in value or _valid_requirement(value["require"]))
        and ("reason" not in value or isinstance(value["reason"], str))
    )


def _valid_trust_rules(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_trust_rules_items(item47) for item47 in value)
    )


def _valid_trust(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _PROPERTIES_TRUST_KEYS.issuperset(value)
        and ("authorities" not in value or _valid_trust_authorities(value["authorities"]))
        and ("rules" not in value or _valid_trust_rules(value["rules"]))
        and ("default_authority" not in value or _valid_authority_name(value["default_authority"]))
    )


def _valid_custom_rules_property_names(value: Any) -> bool:
    return (not isinstance(value, str) or _PROPERTIES_CUSTOM_RULES_PROPERTY_NAMES_PATTERN.search(value) is not None)


def _valid_custom_rule(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _CUSTOM_RULE_KEYS.issuperset(value)
        and ("title" in value and "severity" in value and "rationale" in value and "fix" in value and "condition" in value)
        and (not _valid_custom_rule_if(value) or not (not isinstance(value, dict) or ("match" in value)))
        and ("title" not in value or _valid_extends_items(value["title"]))
        and ("name" not in value or _valid_custom_rule_name(value["name"]))
        and ("severity" not in value or value["severity"] in _CUSTOM_RULE_PROPERTIES_SEVERITY_ENUM)
        and ("rationale" not in value or _valid_extends_items(value["rationale"]))
        and ("fix" not in value or _valid_extends_items(value["fix"]))
        and ("scope" not in value or value["scope"] in _CUSTOM_RULE_PROPERTIES_SCOPE_ENUM)
        and ("match" not in value or _valid_selector(value["match"]))
        and ("condition" not in value or _valid_custom_rule_condition(value["condition"]))
        and ("field" not in value or _valid_custom_rule_field(value["field"]))
        and ("message" not in value or _valid_extends_items(value["message"]))
        and ("reason" not in value or isinstance(value["reason"], str))
    )


def _valid_custom_rules(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(_valid_custom_rules_property_names(key57) for key57 in value)
        and all(_valid_custom_rule(value[key58]) for key58 in value)
    )


def _valid_waivers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(item59, dict) for item59 in value)
    )


def _valid_check_select_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _PROPERTIES_CHECK_PROPERTIES_SELECT_ITEMS_PATTERN.search(value) is not None
    )


def _valid_check_select(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_check_select_items(item60) for item60 in value)
    )


def _valid_check(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _PROPERTIES_CHECK_KEYS.issuperset(value)
        and ("format" not in value or value["format"] in _PROPERTIES_CHECK_PROPERTIES_FORMAT_ENUM)
        and ("fail-on" not in value or value["fail-on"] in _PROPERTIES_CHECK_PROPERTIES_FAIL_ON_ENUM)
        and ("select" not in value or _valid_check_select(value["select"]))
        and ("ignore" not in value or _valid_check_select(value["ignore"]))
        and ("exclude" not in value or _valid_extends(value["exclude"]))
    )


def _valid_selector(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _SELECTOR_KEYS.issuperset(value)
        and len(value) >= 1
        and ("image" not in value or _valid_trust_rules_items_images(value["image"]))
        and ("section" not in value or _valid_selector_section(value["section"]))
        and ("name" not in value or _valid_trust_rules_items_images(value["name"]))
    )


def _valid_overrides_items(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _PROPERTIES_OVERRIDES_ITEMS_KEYS.issuperset(value)
        and ("match" in value and "rules" in value)
        and ("match" not in value or _valid_selector(value["match"]))
        and ("rules" not in value or _valid_rules(value["rules"]))
        and ("reason" not in value or isinstance(value["reason"], str))
    )


def _valid_overrides(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_overrides_items(item67) for item67 in value)
    )


def _valid_severity(value: Any) -> bool:
    return value in _SEVERITY_ENUM


def _valid_rules_lkp101_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP101_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
    )


def _valid_rules_lkp101(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp101_any_of_1(value))


def _valid_rules_lkp103_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP103_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("allowed" not in value or _valid_extends(value["allowed"]))
        and ("denied" not in value or _valid_extends(value["denied"]))
    )


def _valid_rules_lkp103(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp103_any_of_1(value))


def _valid_rules_lkp110_any_of_1_forbidden_items(value: Any) -> bool:
    return value in _RULES_PROPERTIES_LKP110_ANY_OF_1_PROPERTIES_FORBIDDEN_ITEMS_ENUM


def _valid_rules_lkp110_any_of_1_forbidden(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_rules_lkp110_any_of_1_forbidden_items(item72) for item72 in value)
        and _unique(value)
    )


def _valid_rules_lkp110_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP110_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("forbidden" not in value or _valid_rules_lkp110_any_of_1_forbidden(value["forbidden"]))
    )


def _valid_rules_lkp110(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp110_any_of_1(value))


def _valid_rules_lkp111_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP111_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("allowed" not in value or _valid_rules_lkp110_any_of_1_forbidden(value["allowed"]))
    )


def _valid_rules_lkp111(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp111_any_of_1(value))


def _valid_rules_lkp120_any_of_1_namespaces_items(value: Any) -> bool:
    return value in _RULES_PROPERTIES_LKP120_ANY_OF_1_PROPERTIES_NAMESPACES_ITEMS_ENUM


def _valid_rules_lkp120_any_of_1_namespaces(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_rules_lkp120_any_of_1_namespaces_items(item77) for item77 in value)
        and _unique(value)
    )


def _valid_rules_lkp120_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP120_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("namespaces" not in value or _valid_rules_lkp120_any_of_1_namespaces(value["namespaces"]))
    )


def _valid_rules_lkp120(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp120_any_of_1(value))


def _valid_rules_lkp130_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP130_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("forbidden" not in value or _valid_extends(value["forbidden"]))
        and ("forbidden_rw" not in value or _valid_extends(value["forbidden_rw"]))
    )


def _valid_rules_lkp130(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp130_any_of_1(value))


def _valid_rules_lkp141_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP111_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("allowed" not in value or _valid_extends(value["allowed"]))
    )


def _valid_rules_lkp141(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp141_any_of_1(value))


def _valid_rules_lkp160_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP160_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("forbidden_prefixes" not in value or _valid_extends(value["forbidden_prefixes"]))
        and ("allowed" not in value or _valid_extends(value["allowed"]))
    )


def _valid_rules_lkp160(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp160_any_of_1(value))


def _valid_rules_lkp181_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP110_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("forbidden" not in value or _valid_extends(value["forbidden"]))
    )


def _valid_rules_lkp181(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp181_any_of_1(value))


def _valid_rules_lkp182_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _RULES_PROPERTIES_LKP182_ANY_OF_1_KEYS.issuperset(value)
        and ("severity" not in value or _valid_severity(value["severity"]))
        and ("required" not in value or _valid_extends(value["required"]))
    )


def _valid_rules_lkp182(value: Any) -> bool:
    return (_valid_severity(value) or _valid_rules_lkp182_any_of_1(value))


def _valid_authority_all_of_0_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "notary"))


def _valid_authority_all_of_0_then_server(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _AUTHORITY_ALL_OF_0_THEN_PROPERTIES_SERVER_PATTERN.search(value) is not None
    )


def _valid_authority_all_of_0_then_root_keys(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_extends_items(item94) for item94 in value)
    )


def _valid_authority_all_of_0_then_root_cert_ids_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _AUTHORITY_ALL_OF_0_THEN_PROPERTIES_ROOT_CERT_IDS_ITEMS_PATTERN.search(value) is not None
    )


def _valid_authority_all_of_0_then_root_cert_ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_authority_all_of_0_then_root_cert_ids_items(item95) for item95 in value)
    )


def _valid_authority_all_of_0_then_any_of_2(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("tofu" in value))
        and (not isinstance(value, dict) or ("tofu" not in value or value["tofu"] is True))
        and (not isinstance(value, dict) or ("pin_mode" not in value or value["pin_mode"] == "narrow"))
    )


def _valid_authority_all_of_0_then(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("type" in value and "server" in value))
        and (not isinstance(value, dict) or _AUTHORITY_ALL_OF_0_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "notary"))
        and (not isinstance(value, dict) or ("server" not in value or _valid_authority_all_of_0_then_server(value["server"])))
        and (not isinstance(value, dict) or ("ca" not in value or _valid_extends_items(value["ca"])))
        and (not isinstance(value, dict) or ("root_keys" not in value or _valid_authority_all_of_0_then_root_keys(value["root_keys"])))
        and (not isinstance(value, dict) or ("root_cert_ids" not in value or _valid_authority_all_of_0_then_root_cert_ids(value["root_cert_ids"])))
        and (not isinstance(value, dict) or ("pin_mode" not in value or value["pin_mode"] in _AUTHORITY_ALL_OF_0_THEN_PROPERTIES_PIN_MODE_ENUM))
        and (not isinstance(value, dict) or ("tofu" not in value or isinstance(value["tofu"], bool)))
        and (not isinstance(value, dict) or ("pin_store" not in value or _valid_extends_items(value["pin_store"])))
        and ((not isinstance(value, dict) or ("root_keys" in value)) or (not isinstance(value, dict) or ("root_cert_ids" in value)) or _valid_authority_all_of_0_then_any_of_2(value))
    )


def _valid_authority_all_of_1_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "tuf"))


def _valid_authority_all_of_1_then(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("type" in value and "repository" in value and "root" in value))
        and (not isinstance(value, dict) or _AUTHORITY_ALL_OF_1_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "tuf"))
        and (not isinstance(value, dict) or ("repository" not in value or _valid_extends_items(value["repository"])))
        and (not isinstance(value, dict) or ("root" not in value or _valid_extends_items(value["root"])))
    )


def _valid_authority_all_of_2_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "sigstore"))


def _valid_identity(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _IDENTITY_KEYS.issuperset(value)
        and ("issuer" in value)
        and [(not isinstance(value, dict) or ("subject" in value)), (not isinstance(value, dict) or ("subject_regex" in value))].count(True) == 1
        and ("issuer" not in value or _valid_extends_items(value["issuer"]))
        and ("subject" not in value or _valid_extends_items(value["subject"]))
        and ("subject_regex" not in value or _valid_extends_items(value["subject_regex"]))
    )


def _valid_authority_all_of_2_then_identities(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_identity(item98) for item98 in value)
    )


def _valid_authority_all_of_2_then(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("type" in value and "trusted_root" in value and "identities" in value))
        and (not isinstance(value, dict) or _AUTHORITY_ALL_OF_2_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "sigstore"))
        and (not isinstance(value, dict) or ("trusted_root" not in value or _valid_extends_items(value["trusted_root"])))
        and (not isinstance(value, dict) or ("identities" not in value or _valid_authority_all_of_2_then_identities(value["identities"])))
    )


def _valid_authority_all_of_3_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "cosign-key"))


def _valid_authority_all_of_3_then(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("type" in value and "keys" in value))
        and (not isinstance(value, dict) or _AUTHORITY_ALL_OF_3_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "cosign-key"))
        and (not isinstance(value, dict) or ("keys" not in value or _valid_authority_all_of_0_then_root_keys(value["keys"])))
        and (not isinstance(value, dict) or ("trusted_root" not in value or _valid_extends_items(value["trusted_root"])))
    )


def _valid_requirement_any_of_1_signers_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _REQUIREMENT_ANY_OF_1_PROPERTIES_SIGNERS_ITEMS_PATTERN.search(value) is not None
    )


def _valid_requirement_any_of_1_signers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_requirement_any_of_1_signers_items(item101) for item101 in value)
        and _unique(value)
    )


def _valid_requirement_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _REQUIREMENT_ANY_OF_1_KEYS.issuperset(value)
        and ("authority" in value and "signers" in value)
        and ("authority" not in value or _valid_authority_name(value["authority"]))
        and ("signers" not in value or _valid_requirement_any_of_1_signers(value["signers"]))
    )


def _valid_attestation(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _ATTESTATION_KEYS.issuperset(value)
        and ("predicate_type" in value)
        and not _valid_attestation_not(value)
        and ("predicate_type" not in value or _valid_extends_items(value["predicate_type"]))
        and ("conditions" not in value or _valid_attestation_conditions(value["conditions"]))
        and ("builder" not in value or _valid_extends_items(value["builder"]))
        and ("builder_regex" not in value or _valid_extends_items(value["builder_regex"]))
        and ("build_type" not in value or _valid_extends_items(value["build_type"]))
        and ("build_type_regex" not in value or _valid_extends_items(value["build_type_regex"]))
        and ("source_repository" not in value or _valid_extends_items(value["source_repository"]))
        and ("source_repository_regex" not in value or _valid_extends_items(value["source_repository_regex"]))
        and ("source_ref" not in value or _valid_extends_items(value["source_ref"]))
        and ("source_ref_regex" not in value or _valid_extends_items(value["source_ref_regex"]))
    )


def _valid_requirement_any_of_2(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _REQUIREMENT_ANY_OF_2_KEYS.issuperset(value)
        and ("authority" in value and "attestation" in value)
        and ("authority" not in value or _valid_authority_name(value["authority"]))
        and ("attestation" not in value or _valid_attestation(value["attestation"]))
    )


def _valid_requirement_any_of_3_all(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_requirement(item104) for item104 in value)
    )


def _valid_requirement_any_of_3(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _REQUIREMENT_ANY_OF_3_KEYS.issuperset(value)
        and ("all" in value)
        and ("all" not in value or _valid_requirement_any_of_3_all(value["all"]))
    )


def _valid_requirement_any_of_4(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _REQUIREMENT_ANY_OF_4_KEYS.issuperset(value)
        and ("any" in value)
        and ("any" not in value or _valid_requirement_any_of_3_all(value["any"]))
    )


def _valid_custom_rule_if(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("scope" not in value or value["scope"] == "config"))
        and (not isinstance(value, dict) or ("scope" in value))
    )


def _valid_custom_rule_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _CUSTOM_RULE_PROPERTIES_NAME_PATTERN.search(value) is not None
    )


def _valid_custom_rule_condition(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) >= 1
        and len(value) <= 4096
    )


def _valid_custom_rule_field(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _CUSTOM_RULE_PROPERTIES_FIELD_PATTERN.search(value) is not None
    )


def _valid_selector_section_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(item107 in _SELECTOR_PROPERTIES_SECTION_ANY_OF_0_ENUM for item107 in value)
        and len(value) >= 1
    )


def _valid_selector_section(value: Any) -> bool:
    return (value in _SELECTOR_PROPERTIES_SECTION_ANY_OF_0_ENUM or _valid_selector_section_any_of_1(value))


def _valid_attestation_not_any_of_0(value: Any) -> bool:
    return (not isinstance(value, dict) or ("builder" in value and "builder_regex" in value))


def _valid_attestation_not_any_of_1(value: Any) -> bool:
    return (not isinstance(value, dict) or ("build_type" in value and "build_type_regex" in value))


def _valid_attestation_not_any_of_2(value: Any) -> bool:
    return (not isinstance(value, dict) or ("source_repository" in value and "source_repository_regex" in value))


def _valid_attestation_not_any_of_3(value: Any) -> bool:
    return (not isinstance(value, dict) or ("source_ref" in value and "source_ref_regex" in value))


def _valid_attestation_not(value: Any) -> bool:
    return (_valid_attestation_not_any_of_0(value) or _valid_attestation_not_any_of_1(value) or _valid_attestation_not_any_of_2(value) or _valid_attestation_not_any_of_3(value))


def _valid_attestation_conditions_items_pointer(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_PROPERTIES_POINTER_PATTERN.search(value) is not None
    )


def _valid_attestation_conditions_items(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_KEYS.issuperset(value)
        and ("pointer" in value)
        and [(not isinstance(value, dict) or ("equals" in value)), (not isinstance(value, dict) or ("regex" in value))].count(True) == 1
        and ("pointer" not in value or _valid_attestation_conditions_items_pointer(value["pointer"]))
        and ("regex" not in value or _valid_extends_items(value["regex"]))
    )


def _valid_attestation_conditions(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_attestation_conditions_items(item109) for item109 in value)
    )
