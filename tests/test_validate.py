"""The validation stage: our schema accepts what linuxkit's accepts, and every finding is placed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lkpolicy.model.config import merge
from lkpolicy.model.document import Document
from lkpolicy.model.findings import Finding, InputError, Location, Severity
from lkpolicy.stages import validate
from lkpolicy.stages.load import load_document
from lkpolicy.stages.validate import check_merged, check_semantics, validate_document


def load(text: str, path: str = "config.yml") -> Document:
    document, _ = load_document(path, text.encode())
    return document


def check(text: str) -> list[Finding]:
    document = load(text)
    return validate_document(document) + check_semantics(document)


def only(findings: list[Finding], rule_id: str) -> Finding:
    assert [f.rule_id for f in findings] == [rule_id], [(f.rule_id, f.message) for f in findings]
    return findings[0]


def at(finding: Finding) -> tuple[int, int]:
    return finding.location.line, finding.location.column


SERVICE = "services:\n  - name: s\n    image: linuxkit/s:v1\n"
"""Line 3 column 5 is where an extra key of the service goes."""


# --- the schema file ------------------------------------------------------------------------


def test_schema_is_valid_2020_12_with_identity() -> None:
    from jsonschema.validators import Draft202012Validator

    schema = json.loads(validate.SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://lkpolicy.dev/schemas/linuxkit.schema.json"
    assert schema["title"]
    assert "type" not in schema  # linuxkit's root has none
    assert schema["additionalProperties"] is False


def _property_maps(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            found.append((where, node["properties"]))
        for key, value in node.items():
            found += _property_maps(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _property_maps(value, f"{where}/{index}")
    return found


def test_every_property_has_a_description() -> None:
    missing = [f"{where}/{name}"
               for where, properties in _property_maps(validate.schema())
               for name, subschema in properties.items()
               if not subschema.get("description")]
    assert missing == []


def test_every_object_forbids_unknown_keys_except_string_maps() -> None:
    defs = validate.schema()["$defs"]
    for name, subschema in defs.items():
        if subschema.get("type") == "object":
            expected: Any = {"type": "string"} if name == "mapString" else False
            assert subschema["additionalProperties"] == expected, name


def test_schema_is_read_once() -> None:
    assert validate.schema() is validate.schema()


def test_rules_are_errors_with_linuxkit_notes() -> None:
    rules = [validate.UNKNOWN_KEY, validate.WRONG_TYPE, validate.MISSING_KEY,
             validate.INVALID_VALUE, validate.DUPLICATE_SERVICE, validate.INVALID_VOLUME_NAME,
             validate.DUPLICATE_VOLUME, validate.INVALID_REFERENCE,
             validate.DUPLICATE_SERVICE_ACROSS_FILES]
    assert [r.id for r in rules] == ["LK201", "LK202", "LK203", "LK204", "LK210", "LK211",
                                     "LK212", "LK213", "LK214"]
    for rule in rules:
        assert rule.severity is Severity.ERROR
        assert rule.category == ("schema" if rule.id < "LK210" else "config")
        assert rule.title and rule.rationale and rule.fix and rule.linuxkit


# --- what the schema accepts (linuxkit's draft-04 schema is the reference) ------------------


@pytest.mark.parametrize("text", [
    pytest.param("{}\n", id="empty-mapping"),
    pytest.param("---\n", id="lone-document-marker"),
    pytest.param("trust:\n  org: [linuxkit]\n", id="trust-org"),
    pytest.param("trust: {image: [a], org: []}\n", id="trust-both"),
    pytest.param("volumes:\n  - name: ''\n", id="empty-volume-name"),
    pytest.param("volumes:\n  - {name: v, image: alpine:3, format: oci, platforms: [linux/amd64], "
                 "readonly: true}\n", id="volume-all-keys"),
    pytest.param(SERVICE + "    devices:\n      - {path: /dev/x, type: c, major: 5.0, minor: 1, "
                 "mode: \"0666\"}\n", id="whole-float-for-int"),
    pytest.param(SERVICE + "    oomScoreAdj: -1e3\n", id="whole-float-exponent"),
    pytest.param(SERVICE + "    uid: 1000\n    gid: root\n    additionalGids: [1, wheel]\n",
                 id="ids-str-or-int"),
    pytest.param(SERVICE + "    capabilities.add: [CAP_SYS_ADMIN]\n    binds.add: [/a:/a]\n",
                 id="dotted-add-keys"),
    pytest.param(SERVICE + "    mounts:\n      - {destination: /d, type: bind, source: /s, "
                 "options: [rbind], uidmappings: [{hostID: 1, containerID: 0, size: 1}], "
                 "gidmappings: []}\n", id="mount-lower-case-keys"),
    pytest.param(SERVICE + "    resources:\n      blockio: {weight: 10, leafWeight: 1, "
                 "weightDevice: [{major: 1, minor: 2, weight: 3, leafWeight: 4}], "
                 "throttleReadIOPSDevice: [{major: 1, minor: 2, rate: 3}]}\n"
                 "      memory: {limit: 1, kernelTCP: 2, disableOOMKiller: true}\n"
                 "      cpu: {shares: 1, realtimeRuntime: 2, cpus: '0-1', mems: '0'}\n"
                 "      pids: {limit: 10}\n"
                 "      hugepageLimits: [{pageSize: 2, limit: 3}]\n"
                 "      network: {classID: 9, priorities: [{name: eth0, priority: 1}]}\n"
                 "      devices: [{allow: false, type: a, major: 1, minor: 2, access: rwm}]\n",
                 id="resources-camel-case"),
    pytest.param(SERVICE + "    runtime:\n      cgroups: [a]\n      mkdir: [/x]\n"
                 "      mounts: [{type: bind}]\n      namespace: ns\n"
                 "      interfaces: [{name: eth1, add: veth, peer: p, createInRoot: true}]\n"
                 "      bindNS: {cgroup: a, ipc: b, mnt: c, net: d, pid: e, user: f, uts: g}\n",
                 id="runtime"),
    pytest.param(SERVICE + "    sysctl: {net.ipv4.ip_forward: '1'}\n    annotations: {a: b}\n",
                 id="string-maps"),
    pytest.param("files:\n  - {path: a, directory: false, symlink: b, contents: '', source: s, "
                 "metadata: yaml, optional: true, mode: '0644', uid: 0, gid: ''}\n",
                 id="file-all-keys"),
    pytest.param("kernel: {image: k:1, cmdline: '', binary: b, tar: none, ucode: u}\n",
                 id="kernel-all-keys"),
])
def test_accepted(text: str) -> None:
    assert check(text) == []


@pytest.mark.parametrize(("text", "rule_id", "pointer"), [
    pytest.param("trust: {foo: 1}\n", "LK201", "/trust/foo", id="trust-other-key"),
    pytest.param("x-common: &a {name: x}\n", "LK201", "/x-common", id="extension-key"),
    pytest.param(SERVICE + "    uid: 1.5\n", "LK202", "/services/0/uid", id="fractional-uid"),
    pytest.param(SERVICE + "    resources: {blockIO: {}}\n", "LK201",
                 "/services/0/resources/blockIO", id="blockIO-spelling"),
    pytest.param(SERVICE + "    uidMappings: [{containerid: 0}]\n", "LK201",
                 "/services/0/uidMappings/0/containerid", id="lower-case-idmapping"),
    pytest.param(SERVICE + "    oomScoreAdj: true\n", "LK202", "/services/0/oomScoreAdj",
                 id="bool-is-not-int"),
    pytest.param("volumes:\n  - {name: v, format: tar}\n", "LK204", "/volumes/0/format",
                 id="volume-format"),
])
def test_rejected(text: str, rule_id: str, pointer: str) -> None:
    finding = only(check(text), rule_id)
    assert finding.pointer == pointer
    assert finding.severity is Severity.ERROR


# --- LK201 unknown-key ------------------------------------------------------------------------


def test_unknown_key_points_at_the_key_with_a_suggestion() -> None:
    finding = only(check(SERVICE + "    capabilites: [CAP_NET_ADMIN]\n"), "LK201")
    assert at(finding) == (4, 5)
    assert finding.pointer == "/services/0/capabilites"
    assert finding.message == "unknown key `capabilites` in `services/0`"
    assert finding.hint == "did you mean `capabilities`?"
    assert check(SERVICE + "    capabilities: [CAP_NET_ADMIN]\n") == []


def test_unknown_keys_each_get_a_finding() -> None:
    findings = check("bogus: 1\nkernel:\n  image: k:1\n  cmdlin: x\n")
    assert [(f.rule_id, at(f), f.pointer) for f in findings] == [
        ("LK201", (1, 1), "/bogus"), ("LK201", (4, 3), "/kernel/cmdlin")]
    assert findings[0].message == "unknown key `bogus` at the top level"
    assert findings[1].hint == "did you mean `cmdline`?"


def test_unknown_key_case_hint_and_short_key_list() -> None:
    finding = only(check(SERVICE + "    resources: {blockIO: {weight: 1}}\n"), "LK201")
    assert finding.hint == "did you mean `blockio`? (keys are case-sensitive)"
    finding = only(check("trust: {foo: 1}\n"), "LK201")
    assert finding.hint == "allowed keys: `image`, `org`"
    assert at(finding) == (1, 9)


# --- LK202 wrong-type ------------------------------------------------------------------------


def test_unquoted_mode_is_octal_integer() -> None:
    finding = only(check("files:\n  - path: etc/x\n    mode: 0644\n"), "LK202")
    assert at(finding) == (3, 11)
    assert finding.pointer == "/files/0/mode"
    assert finding.message.startswith("`files/0/mode`: expected string, got integer")
    assert "octal number 420" in finding.message
    assert finding.hint == 'quote it: "0644"'
    assert check("files:\n  - path: etc/x\n    mode: \"0644\"\n") == []


def test_unquoted_device_mode() -> None:
    finding = only(check(SERVICE + "    devices: [{path: /dev/x, mode: 0666}]\n"), "LK202")
    assert finding.pointer == "/services/0/devices/0/mode"
    assert finding.hint == 'quote it: "0666"'
    assert at(finding) == (4, 36)


def test_yes_is_a_string_not_a_boolean() -> None:
    finding = only(check("onboot:\n  - name: a\n    image: b\n    readonly: yes\n"), "LK202")
    assert at(finding) == (4, 15)
    assert finding.message == "`onboot/0/readonly`: expected boolean, got string"
    assert finding.hint is not None and finding.hint.startswith("use true or false")
    assert check("onboot:\n  - name: a\n    image: b\n    readonly: true\n") == []
    quoted = only(check(SERVICE + "    readonly: \"false\"\n"), "LK202")
    assert quoted.hint == "remove the quotes: `false`"


def test_any_of_gives_one_finding_naming_both_types() -> None:
    finding = only(check(SERVICE + "    uid: 1.5\n"), "LK202")
    assert at(finding) == (4, 10)
    assert finding.message == "`services/0/uid`: expected string or integer, got number"
    assert finding.hint == "use a whole number"
    inner = only(check(SERVICE + "    additionalGids: [1, {a: b}]\n"), "LK202")
    assert inner.pointer == "/services/0/additionalGids/1"


def test_null_and_scalar_where_a_list_belongs() -> None:
    findings = check("onboot:\nkernel:\n\ninit:\n  -\n")
    assert [(f.pointer, at(f)) for f in findings] == [
        ("/onboot", (1, 1)), ("/kernel", (2, 1)), ("/init/0", (5, 4))]
    assert findings[0].message == "`onboot`: expected array, got null"
    listed = only(check(SERVICE + "    command: echo\n"), "LK202")
    assert listed.message == "`services/0/command`: expected array, got string"
    assert listed.hint == 'write a list, e.g. `["echo"]`'


def test_non_string_in_string_map_gets_quote_hint_with_source_spelling() -> None:
    finding = only(check(SERVICE + "    sysctl: {vm.swappiness: 0x10}\n"), "LK202")
    assert finding.pointer == "/services/0/sysctl/vm.swappiness"
    assert finding.hint == 'quote it: "0x10"'


def test_quoted_integer_in_integer_field() -> None:
    finding = only(check(SERVICE + "    oomScoreAdj: \"-500\"\n"), "LK202")
    assert finding.hint == "remove the quotes: `-500`"


# --- LK203 missing-required-key, LK204 invalid-value ----------------------------------------


def test_missing_image() -> None:
    finding = only(check("services:\n  - name: s\n    net: host\n"), "LK203")
    assert at(finding) == (2, 5)
    assert finding.pointer == "/services/0"
    assert finding.message == "`image` is required in `services/0`"
    assert check(SERVICE) == []


def test_missing_both_keys_is_two_findings() -> None:
    findings = check("onshutdown:\n  - {}\n")
    assert [f.message for f in findings] == ["`name` is required in `onshutdown/0`",
                                             "`image` is required in `onshutdown/0`"]


def test_enum_with_suggestion() -> None:
    finding = only(check("volumes:\n  - name: v\n    format: OCI\n"), "LK204")
    assert at(finding) == (3, 13)
    assert finding.message == "`volumes/0/format`: `OCI` is not one of `oci`, `filesystem`"
    assert finding.hint == "did you mean `oci`?"
    assert check("volumes:\n  - name: v\n    format: filesystem\n") == []


def test_validate_data_for_labels() -> None:
    errors = validate.validate_data({"services": [{"name": "n", "image": "i", "net": 1}]})
    assert errors == ["`services/0/net`: expected string, got integer"]


# --- LK210 duplicate-service-name -----------------------------------------------------------


def test_duplicate_service_name() -> None:
    text = SERVICE + "  - name: s\n    image: linuxkit/t:v1\n"
    finding = only(check(text), "LK210")
    assert at(finding) == (4, 11)
    assert finding.message == "duplicate service name: s (first defined at line 2)"
    assert finding.related == [Location("config.yml", 2, 11)]
    assert check(SERVICE + "  - name: t\n    image: linuxkit/t:v1\n") == []


def test_onboot_names_may_repeat() -> None:
    assert check("onboot:\n  - {name: a, image: b}\n  - {name: a, image: c}\n") == []


def test_templates_collapse_names_like_linuxkit() -> None:
    text = "services:\n  - {name: '@a', image: b}\n  - {name: '@b', image: c}\n"
    finding = only(check(text), "LK210")
    assert finding.message == 'duplicate service name: "" (first defined at line 2)'
    assert finding.hint is not None and "`@b`" in finding.hint


# --- LK211 invalid-volume-name, LK212 duplicate-volume-name ---------------------------------


def test_invalid_volume_name() -> None:
    finding = only(check("volumes:\n  - name: My_Vol\n"), "LK211")
    assert at(finding) == (2, 11)
    assert finding.message == "invalid volume name: My_Vol"
    assert finding.hint is not None and "`my_vol`" in finding.hint
    assert check("volumes:\n  - name: my_vol-2\n") == []


def test_volume_name_trailing_newline_is_invalid_and_message_stays_one_line() -> None:
    finding = only(check('volumes:\n  - name: "v\\n"\n'), "LK211")
    assert "\n" not in finding.message
    assert finding.message == 'invalid volume name: "v\\n"'


def test_duplicate_volume_name() -> None:
    finding = only(check("volumes:\n  - name: v\n  - name: w\n  - name: v\n"), "LK212")
    assert at(finding) == (4, 11)
    assert finding.related == [Location("config.yml", 2, 11)]
    assert check("volumes:\n  - name: ''\n  - name: v\n") == []


# --- LK213 invalid-image-reference ----------------------------------------------------------


@pytest.mark.parametrize(("text", "prefix", "position"), [
    ("kernel:\n  image: foo:bar/k\n", "extract kernel image reference", (2, 10)),
    ("init:\n  - foo:bar/i\n", "extract init image reference", (2, 5)),
    ("onboot:\n  - {name: a, image: 'foo:bar/o'}\n", "extract on boot image reference", (2, 22)),
    ("onshutdown:\n  - name: a\n    image: foo:bar/o\n", "extract on shutdown image reference",
     (3, 12)),
    ("services:\n  - name: a\n    image: foo:bar/s\n", "extract service image reference", (3, 12)),
    ("volumes:\n  - name: a\n    image: foo:bar/v\n", "extract volume image reference", (3, 12)),
])
def test_invalid_reference_in_every_position(text: str, prefix: str, position: tuple[int, int]) -> None:
    finding = only(check(text), "LK213")
    assert finding.message.startswith(prefix + ': parse "dummy://foo:bar/')
    assert finding.message.endswith('invalid port ":bar" after host')
    assert at(finding) == position


def test_unresolved_pkg_template() -> None:
    finding = only(check('init:\n  - "@pkg:./pkg/init"\n'), "LK213")
    assert finding.message == ('extract init image reference: parse "dummy://@pkg:./pkg/init": '
                               'invalid port ":." after host')
    assert finding.hint is not None and "git checkout" in finding.hint


def test_valid_references_and_other_templates_pass() -> None:
    text = ("kernel: {image: 'linuxkit/kernel:6.6'}\ninit: [busybox, 'localhost:5000/x:1', "
            "'r.io/a/b:c@sha256:" + "0" * 64 + "', '@anything']\n")
    assert check(text) == []


def test_wrong_types_do_not_break_the_semantic_checks() -> None:
    document = load("kernel: [x]\ninit: x\nservices:\n  - 5\n  - {name: 1, image: 2}\n"
                    "volumes: {name: x}\n")
    assert check_semantics(document) == []
    assert {f.rule_id for f in validate_document(document)} == {"LK202"}


# --- LK214 duplicate-service-across-files ---------------------------------------------------


def test_duplicate_service_across_files() -> None:
    first = load(SERVICE, "a.yml")
    second = load("services:\n  - name: t\n    image: x\n  - name: s\n    image: y\n", "b.yml")
    findings = check_merged(merge([first, second]))
    finding = only(findings, "LK214")
    assert finding.location == Location("b.yml", 4, 11)
    assert finding.related == [Location("a.yml", 2, 11)]
    assert finding.message.startswith("cannot append config files: duplicate service name: s")
    assert check_merged(merge([first, load("services:\n  - {name: t, image: x}\n", "c.yml")])) == []


def test_same_file_twice_and_in_file_duplicates() -> None:
    same = load(SERVICE, "a.yml")
    assert [f.rule_id for f in check_merged(merge([same, same]))] == ["LK214"]
    twice = load(SERVICE + "  - name: s\n    image: z\n", "d.yml")
    assert check_merged(merge([twice])) == []  # LK210 reports it


# --- the loader's share ---------------------------------------------------------------------


def test_non_mapping_root_is_the_loaders_business() -> None:
    with pytest.raises(InputError):
        load("- a\n")
    # The schema itself has no root type, as in linuxkit.
    assert validate.validate_data(["a"]) == []
