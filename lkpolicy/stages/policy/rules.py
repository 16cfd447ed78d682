"""The policy rules (LKP1xx) and the policy-file problems (LKP0xx), with their options.

Each policy rule declares its options here, with defaults, a JSON Schema fragment and a
description: the policy schema (`schemas/policy.schema.json`) is generated from them, so a
policy file can only name options that the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from lkpolicy.model.capabilities import ALL_CAPABILITIES
from lkpolicy.model.findings import Severity
from lkpolicy.model.rules import Fixability, Rule, define_rule

_CATEGORY = "policy"
_POLICY_FILE = "policy-file"

# -- problems in the policy file itself (exit code 2) ------------------------------------------

POLICY_UNREADABLE = define_rule(
    "LKP001", "policy-unreadable", "The policy file cannot be read or parsed", Severity.ERROR,
    _POLICY_FILE,
    "A gate that silently falls back to another policy when its own policy is broken passes "
    "configs that the policy was written to stop.",
    "Fix the path or the YAML at the position shown.",
)
POLICY_SCHEMA = define_rule(
    "LKP002", "policy-schema", "The policy file does not match the policy schema", Severity.ERROR,
    _POLICY_FILE,
    "A misspelt rule ID or option would otherwise be ignored, and the rule would run with its "
    "defaults while the author believes it is configured.",
    "Follow `schemas/policy.schema.json`; `lkpolicy explain LKPnnn` lists a rule's options.",
)
POLICY_EXTENDS_MISSING = define_rule(
    "LKP003", "policy-extends-missing", "A policy named in `extends` does not exist",
    Severity.ERROR, _POLICY_FILE,
    "The policy would be judged without the rules it builds on.",
    "Give a path relative to the policy file, or `builtin:default` / `builtin:strict`.",
)
POLICY_EXTENDS_CYCLE = define_rule(
    "LKP004", "policy-extends-cycle", "Policies extend each other in a cycle", Severity.ERROR,
    _POLICY_FILE,
    "A cycle has no defined order of precedence between the files in it.",
    "Remove one of the `extends` entries that close the cycle.",
)
POLICY_BAD_OPTION = define_rule(
    "LKP005", "policy-bad-option", "A rule option has a value the engine cannot use",
    Severity.ERROR, _POLICY_FILE,
    "Values that pass the schema can still be unusable, e.g. a regular expression that does not "
    "compile; the rule would fail at every check.",
    "Fix the value at the position shown.",
)

POLICY_EXTENDS_OUTSIDE = define_rule(
    "LKP006", "policy-extends-outside", "A policy extends a file outside its repository",
    Severity.ERROR, _POLICY_FILE,
    "A pull request that adds `extends: [/etc/shadow]` would otherwise make the gate read any "
    "file of the CI runner and print its keys in the findings. The file is refused before it "
    "is read.",
    "Extend `builtin:` policies or policy files inside the repository (outside a repository: "
    "inside the policy's own directory).",
)


# -- the policy rules --------------------------------------------------------------------------


# Option and PolicyRule are NamedTuples: every check that runs the policy defines them, and a
# dataclass costs about ten times as much to define (see `lkpolicy.stages.effective.grants`).


class Option(NamedTuple):
    default: Any
    schema: dict[str, Any]
    """Its JSON Schema, with the description that `explain` and editors show."""
    regex: bool = False
    """Items are regular expressions, compiled when the policy loads."""


class PolicyRule(NamedTuple):
    rule: Rule
    applies_to: tuple[str, ...]
    options: Mapping[str, Option] = MappingProxyType({})

    @property
    def id(self) -> str:
        return self.rule.id

    def defaults(self) -> dict[str, Any]:
        return {name: option.default for name, option in self.options.items()}


POLICY_RULES: dict[str, PolicyRule] = {}

CONTAINERS = ("onboot", "onshutdown", "services")
IMAGE_SECTIONS = ("init", "kernel", *CONTAINERS, "volumes")


def _strings(description: str, *, min_length: int = 1) -> dict[str, Any]:
    return {"type": "array", "description": description,
            "items": {"type": "string", "minLength": min_length}}


def _capabilities(description: str) -> dict[str, Any]:
    return {"type": "array", "description": description,
            "items": {"enum": list(ALL_CAPABILITIES)}, "uniqueItems": True}


def _policy_rule(id: str, name: str, title: str, severity: Severity, applies_to: tuple[str, ...],
                 rationale: str, fix: str, options: dict[str, Option] | None = None,
                 fixability: Fixability = Fixability.NEVER) -> PolicyRule:
    rule = define_rule(id, name, title, severity, _CATEGORY, rationale, fix,
                       fixability=fixability)
    policy_rule = PolicyRule(rule, applies_to, options or {})
    POLICY_RULES[id] = policy_rule
    return policy_rule


_PIN_HINT = ("Run `lkpolicy pin --write FILE` to add the digests of the images in the cache "
             "(or a registry's), or `lkpolicy check --fix`, which pins the images that are in "
             "the image cache.")

IMAGE_NOT_PINNED = _policy_rule(
    "LKP101", "image-not-pinned", "A container or volume image is not pinned by digest",
    Severity.WARNING, (*CONTAINERS, "volumes"),
    "A tag is a mutable pointer: whoever can push to the repository decides what the next build "
    "runs. Only a `@sha256:` digest names fixed content that review and trust checks can cover.",
    _PIN_HINT,
    # `--fix` pins an image that is in the image cache (the digest the gate resolved).
    fixability=Fixability.SOMETIMES,
)
BOOT_IMAGE_NOT_PINNED = _policy_rule(
    "LKP102", "boot-image-not-pinned", "An `init` or `kernel` image is not pinned by digest",
    Severity.ERROR, ("init", "kernel"),
    "`init` images are unpacked into `/` with no container boundary (init, runc, containerd) and "
    "the kernel runs everything: a re-pushed tag there replaces the base of the whole system, so "
    "they are held to a stricter standard than containers.",
    _PIN_HINT,
    fixability=Fixability.SOMETIMES,
)
REGISTRY_NOT_ALLOWED = _policy_rule(
    "LKP103", "registry-not-allowed", "An image comes from a registry or repository not allowed",
    Severity.ERROR, IMAGE_SECTIONS,
    "Every registry an image comes from is trusted with root on the machine; an allowlist keeps "
    "a typo-squatted or personal repository out of production builds.",
    "Use an image from an allowed repository (mirror it there), or extend `allowed` in the policy.",
    {
        "allowed": Option(["*"], _strings(
            "Globs (fnmatch) of allowed images, matched against the expanded reference with and "
            "without tag and digest, e.g. `docker.io/linuxkit/*`.")),
        "denied": Option([], _strings(
            "Globs of images refused even when `allowed` matches.")),
    },
)

_DANGEROUS_CAPABILITIES = ["CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE",
                           "CAP_DAC_READ_SEARCH", "CAP_SYS_BOOT", "CAP_MAC_ADMIN",
                           "CAP_MAC_OVERRIDE", "CAP_BPF"]

FORBIDDEN_CAPABILITY = _policy_rule(
    "LKP110", "forbidden-capability", "A container is granted a forbidden capability",
    Severity.ERROR, CONTAINERS,
    "Some capabilities are equivalent to full root on the host: CAP_SYS_ADMIN mounts and "
    "unshares anything, CAP_SYS_MODULE loads kernel code, CAP_SYS_RAWIO and CAP_DAC_READ_SEARCH "
    "read any disk block or file, CAP_SYS_PTRACE injects into other processes. The image label "
    "can grant them without the YAML saying so.",
    "Drop the capability (set `capabilities` explicitly in the YAML to replace the label's), or "
    "allow it for this image with an `overrides` entry in the policy.",
    {"forbidden": Option(_DANGEROUS_CAPABILITIES, _capabilities(
        "Capabilities no container may hold (bounding set, including `ambient`)."))},
)
CAPABILITY_NOT_ALLOWED = _policy_rule(
    "LKP111", "capability-not-allowed", "A capability outside the allowlist is granted",
    Severity.WARNING, CONTAINERS,
    "Least privilege: a container should hold only the capabilities its job needs; an "
    "allowlist per image makes every new grant a reviewed policy change.",
    "Drop the capability, or add it to `allowed` for this image in an `overrides` entry.",
    {"allowed": Option([], _capabilities("Capabilities a container may hold."))},
)
ALL_CAPABILITIES_GRANTED = _policy_rule(
    "LKP112", "all-capabilities", "A container is granted every capability", Severity.ERROR,
    CONTAINERS,
    "`capabilities: [all]` (or a list of all 41 names) is a privileged container: it can load "
    "kernel modules, mount the host's disks and escape any confinement.",
    "List the capabilities the container needs instead of `all`.",
)
HOST_NAMESPACE = _policy_rule(
    "LKP120", "host-namespace", "A container shares a namespace with the host", Severity.WARNING,
    CONTAINERS,
    "A shared pid namespace lets the container see and signal every process (and ptrace them "
    "with CAP_SYS_PTRACE); a shared network namespace gives it the host's interfaces and "
    "listening sockets; ipc and uts expose shared memory and the hostname. linuxkit shares "
    "net, ipc and uts with the host unless the config says `new`, and has no user namespace "
    "unless `userns` is set.",
    "Set the namespace to `new` (for `net`, `none` also isolates), or allow the sharing for this "
    "image with an `overrides` entry that lists the namespaces it may share.",
    {"namespaces": Option(["pid"], {
        "type": "array", "uniqueItems": True,
        "description": "Namespaces that must not be the host's: `net`, `pid`, `ipc`, `uts`, and "
                       "`userns` (no user namespace at all).",
        "items": {"enum": ["net", "pid", "ipc", "uts", "userns"]}})},
)

_PATHS = "Absolute paths or globs (fnmatch), compared with the normalised bind source."
DANGEROUS_BIND = _policy_rule(
    "LKP130", "dangerous-bind", "A host path that hands over the host is bind-mounted",
    Severity.ERROR, CONTAINERS,
    "Binding `/`, `/etc`, the Docker or containerd socket, `/proc` or `/boot` gives the "
    "container the host itself; writable `/dev`, `/sys` or `/lib/modules` let it reach raw "
    "devices, kernel knobs and the modules the kernel loads.",
    "Bind only the narrowest path the container needs, read-only (`:ro`) where possible.",
    {
        "forbidden": Option(["/", "/etc", "/var/run/docker.sock", "/run/docker.sock",
                             "/run/containerd/containerd.sock", "/proc", "/boot", "/root"],
                            _strings("Host paths that must not be bound at all. " + _PATHS)),
        "forbidden_rw": Option(["/dev", "/sys", "/lib/modules", "/usr", "/bin", "/sbin", "/lib"],
                               _strings("Host paths that may only be bound read-only. " + _PATHS)),
    },
)
ALL_DEVICES = _policy_rule(
    "LKP140", "all-devices", "A container may access every device", Severity.ERROR, CONTAINERS,
    "A device rule `path: all` (or a cgroup rule without major number) lets the container open "
    "any device node it can create, including the host's disks and /dev/mem.",
    "List the devices the container needs by major and minor number.",
)
RAW_BLOCK_DEVICE = _policy_rule(
    "LKP141", "raw-block-device", "A container gets a raw block device", Severity.WARNING,
    CONTAINERS,
    "Raw access to a block device bypasses every file permission on the filesystems on it.",
    "Mount the filesystem on the host and bind the directory, or allow the device path in the "
    "policy (`allowed`).",
    {"allowed": Option([], _strings("Device paths (globs) that may be given raw."))},
)
SHARED_PROPAGATION = _policy_rule(
    "LKP150", "shared-rootfs-propagation", "The container's root mount propagation is shared",
    Severity.WARNING, CONTAINERS,
    "With `rootfsPropagation: shared` mounts made inside the container propagate to the host's "
    "mount namespace: a container can mount over host paths.",
    "Remove `rootfsPropagation`, or use `slave`/`private`.",
)
ROOTFS_NOT_READONLY = _policy_rule(
    "LKP151", "rootfs-not-readonly", "The container's root filesystem is writable",
    Severity.WARNING, CONTAINERS,
    "A read-only root filesystem stops an intruder from replacing the container's binaries "
    "(CIS Docker 5.12).",
    "Set `readonly: true`, and give writable paths as `tmpfs` or binds.",
)
NO_NEW_PRIVILEGES = _policy_rule(
    "LKP152", "no-new-privileges", "`noNewPrivileges` is not set", Severity.WARNING, CONTAINERS,
    "Without `no_new_privs` a setuid binary or file capability inside the container can raise "
    "its privileges beyond those the config grants (CIS Docker 5.25).",
    "Set `noNewPrivileges: true`.",
)
FORBIDDEN_SYSCTL = _policy_rule(
    "LKP160", "forbidden-sysctl", "A container sets a forbidden sysctl", Severity.WARNING,
    CONTAINERS,
    "Most `kernel.*` sysctls are not namespaced: a container setting them changes the host "
    "kernel's behaviour for everyone.",
    "Set the sysctl once, in a reviewed onboot `sysctl` step, or allow it by name in the policy.",
    {
        "forbidden_prefixes": Option(["kernel."], _strings(
            "Sysctl name prefixes that containers must not set.")),
        "allowed": Option([], _strings("Sysctl names allowed despite a forbidden prefix.")),
    },
)
FILE_SETUID = _policy_rule(
    "LKP170", "file-setuid", "A `files` entry is setuid or setgid", Severity.WARNING, ("files",),
    "A setuid or setgid file is a privilege escalation path for every process that can run it.",
    "Remove the setuid/setgid bit from `mode`, or allow the path in the policy.",
    {"allowed": Option([], _strings("Paths (globs) that may be setuid or setgid."))},
)
FILE_WORLD_WRITABLE = _policy_rule(
    "LKP171", "file-world-writable", "A `files` entry is world-writable", Severity.WARNING,
    ("files",),
    "Any process can rewrite a world-writable file; a world-writable directory without the "
    "sticky bit lets any process replace the files in it.",
    "Drop the `o+w` bit from `mode` (directories: add the sticky bit, e.g. `1777`).",
    {"allowed": Option([], _strings("Paths (globs) that may be world-writable."))},
)
KERNEL_INIT_OVERRIDE = _policy_rule(
    "LKP180", "kernel-init-override", "The kernel command line replaces init", Severity.ERROR,
    ("kernel",),
    "`init=` or `rdinit=` makes the kernel run another program as pid 1 instead of LinuxKit's "
    "init: none of the containers, and none of the policy judged here, applies.",
    "Remove `init=`/`rdinit=` from `kernel.cmdline`.",
)
KERNEL_CMDLINE_FORBIDDEN = _policy_rule(
    "LKP181", "kernel-cmdline-forbidden", "The kernel command line has a forbidden parameter",
    Severity.WARNING, ("kernel",),
    "Some parameters switch off kernel hardening (`mitigations=off`, `nokaslr`, `pti=off`, ...) "
    "or open a console that the threat model does not allow.",
    "Remove the parameter from `kernel.cmdline`.",
    {"forbidden": Option(
        ["mitigations=off", "nokaslr", "pti=off", "nopti", "nosmap", "nosmep", "nospectre_v1",
         "nospectre_v2", "spectre_v2=off", "spec_store_bypass_disable=off",
         "module\\.sig_enforce=0", "lockdown=none", "selinux=0", "apparmor=0", "security=none"],
        _strings("Regular expressions; a parameter that matches one in full is reported."), regex=True)},
)
KERNEL_CMDLINE_REQUIRED = _policy_rule(
    "LKP182", "kernel-cmdline-required", "The kernel command line lacks a required parameter",
    Severity.WARNING, ("kernel",),
    "Hardening parameters such as `init_on_alloc=1` or `slab_nomerge` only help when every "
    "build sets them.",
    "Add the parameter to `kernel.cmdline`.",
    {"required": Option([], _strings(
        "Regular expressions; each must match at least one parameter in full."), regex=True)},
)
TRUST_NOT_COVERED = _policy_rule(
    "LKP190", "trust-not-covered", "An image that must be verified is not covered by `trust:`",
    Severity.ERROR, IMAGE_SECTIONS,
    "lkpolicy's trust stage verifies the images listed in `trust:` (by image name or by org); "
    "an image left out of it is built without any signature check.",
    "Add the image (`trust: {image: [NAME]}`) or its org (`trust: {org: [ORG]}`) to the config.",
    {"required": Option([], _strings(
        "Globs of images (expanded reference) that must be covered by `trust:`."))},
)
