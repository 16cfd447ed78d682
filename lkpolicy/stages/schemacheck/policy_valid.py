# Generated from schemas/policy.schema.json; do not edit.
# Regenerate with `python -m lkpolicy.stages.schemacheck.predicate` after changing a
# keyword that validates (descriptions and titles leave this file as it is).
"""The policy schema as one test: whether jsonschema would find an error, without it."""

from __future__ import annotations

from typing import Any

from lkpolicy.stages.schemacheck import policy_valid_parts as parts


def is_valid(data: Any) -> bool:
    """Whether jsonschema finds no error in `data`."""
    return (
        isinstance(data, dict)
        and parts.ROOT_KEYS.issuperset(data)
        and ("extends" not in data or parts.valid_extends(data["extends"]))
        and ("rules" not in data or parts.valid_rules(data["rules"]))
        and ("trust" not in data or _valid_trust(data["trust"]))
        and ("custom_rules" not in data or parts.valid_custom_rules(data["custom_rules"]))
        and ("waivers" not in data or _valid_waivers(data["waivers"]))
        and ("check" not in data or parts.valid_check(data["check"]))
        and ("overrides" not in data or _valid_overrides(data["overrides"]))
    )


def _valid_authority_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and parts.AUTHORITY_NAME_PATTERN.search(value) is not None
    )


def _valid_authority(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and ("type" in value)
        and ("type" not in value or value["type"] in parts.AUTHORITY_PROPERTIES_TYPE_ENUM)
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


def _valid_requirement(value: Any) -> bool:
    return (_valid_authority_name(value) or _valid_requirement_any_of_1(value) or _valid_requirement_any_of_2(value) or _valid_requirement_any_of_3(value) or _valid_requirement_any_of_4(value))


def _valid_trust_rules_items(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.PROPERTIES_TRUST_PROPERTIES_RULES_ITEMS_KEYS.issuperset(value)
        and ("require" in value)
        and [_valid_trust_rules_items_one_of_0(value), _valid_trust_rules_items_one_of_1(value)].count(True) == 1
        and ("images" not in value or parts.valid_trust_rules_items_images(value["images"]))
        and ("files" not in value or parts.valid_trust_rules_items_images(value["files"]))
        and ("signature" not in value or parts.valid_trust_rules_items_images(value["signature"]))
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
        and parts.PROPERTIES_TRUST_KEYS.issuperset(value)
        and ("authorities" not in value or _valid_trust_authorities(value["authorities"]))
        and ("rules" not in value or _valid_trust_rules(value["rules"]))
        and ("default_authority" not in value or _valid_authority_name(value["default_authority"]))
    )


def _valid_waivers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(item59, dict) for item59 in value)
    )


def _valid_overrides_items(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.PROPERTIES_OVERRIDES_ITEMS_KEYS.issuperset(value)
        and ("match" in value and "rules" in value)
        and ("match" not in value or parts.valid_selector(value["match"]))
        and ("rules" not in value or parts.valid_rules(value["rules"]))
        and ("reason" not in value or isinstance(value["reason"], str))
    )


def _valid_overrides(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_valid_overrides_items(item67) for item67 in value)
    )


def _valid_authority_all_of_0_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "notary"))


def _valid_authority_all_of_0_then_server(value: Any) -> bool:
    return (
        isinstance(value, str)
        and parts.AUTHORITY_ALL_OF_0_THEN_PROPERTIES_SERVER_PATTERN.search(value) is not None
    )


def _valid_authority_all_of_0_then_root_keys(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(parts.valid_extends_items(item94) for item94 in value)
    )


def _valid_authority_all_of_0_then_root_cert_ids_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and parts.AUTHORITY_ALL_OF_0_THEN_PROPERTIES_ROOT_CERT_IDS_ITEMS_PATTERN.search(value) is not None
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
        and (not isinstance(value, dict) or parts.AUTHORITY_ALL_OF_0_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "notary"))
        and (not isinstance(value, dict) or ("server" not in value or _valid_authority_all_of_0_then_server(value["server"])))
        and (not isinstance(value, dict) or ("ca" not in value or parts.valid_extends_items(value["ca"])))
        and (not isinstance(value, dict) or ("root_keys" not in value or _valid_authority_all_of_0_then_root_keys(value["root_keys"])))
        and (not isinstance(value, dict) or ("root_cert_ids" not in value or _valid_authority_all_of_0_then_root_cert_ids(value["root_cert_ids"])))
        and (not isinstance(value, dict) or ("pin_mode" not in value or value["pin_mode"] in parts.AUTHORITY_ALL_OF_0_THEN_PROPERTIES_PIN_MODE_ENUM))
        and (not isinstance(value, dict) or ("tofu" not in value or isinstance(value["tofu"], bool)))
        and (not isinstance(value, dict) or ("pin_store" not in value or parts.valid_extends_items(value["pin_store"])))
        and ((not isinstance(value, dict) or ("root_keys" in value)) or (not isinstance(value, dict) or ("root_cert_ids" in value)) or _valid_authority_all_of_0_then_any_of_2(value))
    )


def _valid_authority_all_of_1_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "tuf"))


def _valid_authority_all_of_1_then(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("type" in value and "repository" in value and "root" in value))
        and (not isinstance(value, dict) or parts.AUTHORITY_ALL_OF_1_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "tuf"))
        and (not isinstance(value, dict) or ("repository" not in value or parts.valid_extends_items(value["repository"])))
        and (not isinstance(value, dict) or ("root" not in value or parts.valid_extends_items(value["root"])))
    )


def _valid_authority_all_of_2_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "sigstore"))


def _valid_identity(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.IDENTITY_KEYS.issuperset(value)
        and ("issuer" in value)
        and [(not isinstance(value, dict) or ("subject" in value)), (not isinstance(value, dict) or ("subject_regex" in value))].count(True) == 1
        and ("issuer" not in value or parts.valid_extends_items(value["issuer"]))
        and ("subject" not in value or parts.valid_extends_items(value["subject"]))
        and ("subject_regex" not in value or parts.valid_extends_items(value["subject_regex"]))
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
        and (not isinstance(value, dict) or parts.AUTHORITY_ALL_OF_2_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "sigstore"))
        and (not isinstance(value, dict) or ("trusted_root" not in value or parts.valid_extends_items(value["trusted_root"])))
        and (not isinstance(value, dict) or ("identities" not in value or _valid_authority_all_of_2_then_identities(value["identities"])))
    )


def _valid_authority_all_of_3_if(value: Any) -> bool:
    return (not isinstance(value, dict) or ("type" not in value or value["type"] == "cosign-key"))


def _valid_authority_all_of_3_then(value: Any) -> bool:
    return (
        (not isinstance(value, dict) or ("type" in value and "keys" in value))
        and (not isinstance(value, dict) or parts.AUTHORITY_ALL_OF_3_THEN_KEYS.issuperset(value))
        and (not isinstance(value, dict) or ("type" not in value or value["type"] == "cosign-key"))
        and (not isinstance(value, dict) or ("keys" not in value or _valid_authority_all_of_0_then_root_keys(value["keys"])))
        and (not isinstance(value, dict) or ("trusted_root" not in value or parts.valid_extends_items(value["trusted_root"])))
    )


def _valid_requirement_any_of_1_signers_items(value: Any) -> bool:
    return (
        isinstance(value, str)
        and parts.REQUIREMENT_ANY_OF_1_PROPERTIES_SIGNERS_ITEMS_PATTERN.search(value) is not None
    )


def _valid_requirement_any_of_1_signers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_requirement_any_of_1_signers_items(item101) for item101 in value)
        and parts.unique(value)
    )


def _valid_requirement_any_of_1(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.REQUIREMENT_ANY_OF_1_KEYS.issuperset(value)
        and ("authority" in value and "signers" in value)
        and ("authority" not in value or _valid_authority_name(value["authority"]))
        and ("signers" not in value or _valid_requirement_any_of_1_signers(value["signers"]))
    )


def _valid_attestation(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.ATTESTATION_KEYS.issuperset(value)
        and ("predicate_type" in value)
        and not _valid_attestation_not(value)
        and ("predicate_type" not in value or parts.valid_extends_items(value["predicate_type"]))
        and ("conditions" not in value or _valid_attestation_conditions(value["conditions"]))
        and ("builder" not in value or parts.valid_extends_items(value["builder"]))
        and ("builder_regex" not in value or parts.valid_extends_items(value["builder_regex"]))
        and ("build_type" not in value or parts.valid_extends_items(value["build_type"]))
        and ("build_type_regex" not in value or parts.valid_extends_items(value["build_type_regex"]))
        and ("source_repository" not in value or parts.valid_extends_items(value["source_repository"]))
        and ("source_repository_regex" not in value or parts.valid_extends_items(value["source_repository_regex"]))
        and ("source_ref" not in value or parts.valid_extends_items(value["source_ref"]))
        and ("source_ref_regex" not in value or parts.valid_extends_items(value["source_ref_regex"]))
    )


def _valid_requirement_any_of_2(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.REQUIREMENT_ANY_OF_2_KEYS.issuperset(value)
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
        and parts.REQUIREMENT_ANY_OF_3_KEYS.issuperset(value)
        and ("all" in value)
        and ("all" not in value or _valid_requirement_any_of_3_all(value["all"]))
    )


def _valid_requirement_any_of_4(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.REQUIREMENT_ANY_OF_4_KEYS.issuperset(value)
        and ("any" in value)
        and ("any" not in value or _valid_requirement_any_of_3_all(value["any"]))
    )


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
        and parts.ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_PROPERTIES_POINTER_PATTERN.search(value) is not None
    )


def _valid_attestation_conditions_items(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and parts.ATTESTATION_PROPERTIES_CONDITIONS_ITEMS_KEYS.issuperset(value)
        and ("pointer" in value)
        and [(not isinstance(value, dict) or ("equals" in value)), (not isinstance(value, dict) or ("regex" in value))].count(True) == 1
        and ("pointer" not in value or _valid_attestation_conditions_items_pointer(value["pointer"]))
        and ("regex" not in value or parts.valid_extends_items(value["regex"]))
    )


def _valid_attestation_conditions(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(_valid_attestation_conditions_items(item109) for item109 in value)
    )
