"""linuxkit's `ConfigToOCI`: an image entry, the image's config and label, and the id map
become the container's config.json and runtime.json (spec sections 10 to 13)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lkpolicy.model.capabilities import ALL_CAPABILITIES
from lkpolicy.stages.effective.ids import id_number
from lkpolicy.stages.effective.limits import parse_device_mode, parse_rlimit
from lkpolicy.stages.effective.mounts import (
    Mount,
    complete_mount,
    default_mounts,
    parse_bind,
    parse_tmpfs,
    rootfs_mounts,
)
from lkpolicy.stages.effective.source import Invalid, Source, decode_scalar, pick, pick_nonempty
from lkpolicy.stages.effective.types import (
    DEFAULT,
    OCI_VERSION,
    DroppedKey,
    Effective,
    ExtractionMap,
    ImageConfig,
    LabelValidator,
    Origin,
    Placement,
    Provenance,
    SpecError,
    Volume,
)
from lkpolicy.stages.effective.volumes import rewrite_volumes

__all__ = ["build_effective"]

_KNOWN_CAPABILITIES = frozenset(ALL_CAPABILITIES)
_BIND_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")

T = TypeVar("T")


def build_effective(
    entry: Mapping[str, Any],
    image: ImageConfig | Mapping[str, Any] | None,
    ids: Mapping[str, int],
    placement: Placement,
    *,
    root: str | None = None,
    extractions: ExtractionMap | None = None,
    reference: str | None = None,
    volumes: Mapping[str, Volume] | None = None,
    validate_label: LabelValidator | None = None,
) -> Effective:
    """The container's config.json and runtime.json, as linuxkit writes them.

    `entry` is the YAML image entry as loaded; `image` the image's OCI config (`ImageConfig` or
    the blob's `config` object); `ids` the id map; `placement` where the container goes.

    runtime.json names where the image's files were extracted: give it as `root` (a path in
    the output without a leading slash), or give the build's `extractions` and the expanded
    `reference` and the root is looked up (and recorded, once the config is complete) there;
    otherwise the container's own directory is used. `volumes` are the volumes binds may name
    (`visible_volumes`). Raises `SpecError` with linuxkit's message.
    """
    if not isinstance(image, ImageConfig):
        image = ImageConfig.from_oci(image)
    entry = rewrite_volumes(entry, volumes or {})
    label: dict[str, Any] | None = None
    warnings: list[str] = []
    if image.label:
        from lkpolicy.stages.effective.label import parse_label

        label, warnings = parse_label(image.label, validate_label)
    yaml = Source(entry, Origin.YAML)
    labelled = Source(label or {}, Origin.LABEL)
    builder = _Builder(yaml, labelled, image, ids)

    def locate(readonly: bool) -> str:
        if root is not None:
            return root
        if extractions is not None and reference is not None:
            return extractions.root(reference, placement, readonly)[0]
        return placement.own_root(readonly)

    try:
        effective = builder.build(placement, locate)
    except Invalid as error:
        what = "label" if builder.reading is Origin.LABEL else "file"
        raise SpecError(f"invalid configuration {what}", details=[str(error)]) from None
    effective.label = label
    effective.label_warnings = warnings
    return effective


class _Builder:
    """linuxkit's `ConfigToOCI` for one entry, recording where each value came from."""

    def __init__(self, yaml: Source, label: Source, image: ImageConfig,
                 ids: Mapping[str, int]) -> None:
        self.yaml = yaml
        self.label = label
        self.sources = (yaml, label)
        self.image = image
        self.ids = ids
        self.origins: dict[str, Provenance] = {}
        self.runtime_origins: dict[str, Provenance] = {}
        self.dropped: list[DroppedKey] = []
        self.reading = Origin.YAML

    def pick(self, key: str, read: Callable[[Source, str], T | None]) -> tuple[T, Provenance] | None:
        for source in self.sources:
            self.reading = source.origin
            value = read(source, key)
            if value is not None:
                return value, source.provenance(key)
        return None

    def build(self, placement: Placement, locate: Callable[[bool], str]) -> Effective:
        args = self.args()
        env = self.env()
        cwd = self.cwd()
        readonly_pick = self.pick("readonly", Source.boolean)
        readonly = readonly_pick[0] if readonly_pick else False
        self.origins["/root/readonly"] = readonly_pick[1] if readonly_pick else DEFAULT
        mounts = self.mounts(readonly)
        namespaces = self.namespaces()
        capabilities = self.capabilities()
        rlimits = self.rlimits()
        user = self.user()
        resources, linux_devices = self.resources_and_devices()

        process: dict[str, Any] = {"user": user}
        if args:
            process["args"] = args
        if env:
            process["env"] = env
        process["cwd"] = cwd
        process["capabilities"] = capabilities
        if rlimits:
            process["rlimits"] = rlimits
        nnp = self.pick("noNewPrivileges", Source.boolean)
        if nnp:
            self.origins["/process/noNewPrivileges"] = nnp[1]
            if nnp[0]:
                process["noNewPrivileges"] = True
        oom = self.pick("oomScoreAdj", Source.integer)
        if oom:
            process["oomScoreAdj"] = oom[0]
            self.origins["/process/oomScoreAdj"] = oom[1]

        config: dict[str, Any] = {"ociVersion": OCI_VERSION, "process": process}
        config["root"] = {"path": "rootfs", "readonly": True} if readonly else {"path": "rootfs"}
        hostname = pick_nonempty("hostname", self.sources)
        if hostname:
            config["hostname"] = hostname[0]
            self.origins["/hostname"] = hostname[1]
        config["mounts"] = [mount.to_json() for mount in mounts]
        for index, mount in enumerate(mounts):
            self.origins[f"/mounts/{index}"] = mount.provenance
        annotations = self.string_map("annotations", "/annotations")
        if annotations:
            config["annotations"] = annotations
        config["linux"] = self.linux(resources, namespaces, linux_devices)
        runtime = self.runtime(placement, locate, readonly)
        return Effective(config, runtime, readonly, self.origins, self.runtime_origins,
                         self.dropped)

    # -- process ---------------------------------------------------------------------------

    def args(self) -> list[str]:
        picked = self.pick("command", Source.strings)
        if picked:
            self.origins["/process/args"] = picked[1]
            return picked[0]
        args = [*self.image.entrypoint, *self.image.cmd]
        self.origins["/process/args"] = Provenance(Origin.IMAGE) if args else DEFAULT
        return args

    def env(self) -> list[str]:
        picked = self.pick("env", Source.strings)
        if picked:
            self.origins["/process/env"] = picked[1]
            return picked[0]
        env = list(self.image.env or ())
        self.origins["/process/env"] = Provenance(Origin.IMAGE) if env else DEFAULT
        return env

    def cwd(self) -> str:
        picked = pick_nonempty("cwd", self.sources)
        if picked:
            self.origins["/process/cwd"] = picked[1]
            return picked[0]
        if self.image.working_dir:
            self.origins["/process/cwd"] = Provenance(Origin.IMAGE)
            return self.image.working_dir
        self.origins["/process/cwd"] = DEFAULT
        return "/"

    def capabilities(self) -> dict[str, Any]:
        given = self.inherited_list("capabilities")
        ambient_pick = self.pick("ambient", Source.strings)
        given_ambient: list[tuple[str, Provenance]] = []
        if ambient_pick:
            given_ambient = [(cap, Provenance(ambient_pick[1].origin, "ambient", index))
                             for index, cap in enumerate(ambient_pick[0])]
        caps = _special_capabilities(given)
        ambient = _special_capabilities(given_ambient)
        for name, _ in [*caps, *ambient]:
            if name not in _KNOWN_CAPABILITIES:
                raise SpecError(f"unknown capability: {name}")
        first: dict[str, Provenance] = {}
        for name, provenance in [*caps, *ambient]:
            first.setdefault(name, provenance)
        bounding = sorted(first)
        out: dict[str, Any] = {}
        for key, names in (("bounding", bounding), ("effective", [c for c, _ in caps]),
                           ("inheritable", bounding), ("permitted", bounding),
                           ("ambient", [c for c, _ in ambient])):
            if names:
                out[key] = names
        for index, (_name, provenance) in enumerate(caps):
            self.origins[f"/process/capabilities/effective/{index}"] = provenance
        for index, (_name, provenance) in enumerate(ambient):
            self.origins[f"/process/capabilities/ambient/{index}"] = provenance
        for key in ("bounding", "inheritable", "permitted"):
            for index, name in enumerate(bounding):
                self.origins[f"/process/capabilities/{key}/{index}"] = first[name]
        # The list as written decides the whole (`[none]` from the YAML is the YAML's doing).
        whole = given[0][1] if given else (given_ambient[0][1] if given_ambient else DEFAULT)
        self.origins["/process/capabilities"] = Provenance(whole.origin, whole.key)
        return out

    def inherited_list(self, key: str) -> list[tuple[str, Provenance]]:
        """YAML `key`, else label `key` + YAML `key.add` (duplicates kept: linuxkit's
        de-duplicating merge never records what it has seen)."""
        self.reading = Origin.YAML
        own = self.yaml.strings(key)
        if own is not None:
            return [(item, self.yaml.provenance(key, i)) for i, item in enumerate(own)]
        self.reading = Origin.LABEL
        inherited = self.label.strings(key) or []
        self.reading = Origin.YAML
        added = self.yaml.strings(f"{key}.add") or []
        return ([(item, self.label.provenance(key, i)) for i, item in enumerate(inherited)]
                + [(item, self.yaml.provenance(f"{key}.add", i)) for i, item in enumerate(added)])

    def rlimits(self) -> list[dict[str, Any]]:
        picked = self.pick("rlimits", Source.strings)
        if not picked:
            return []
        self.origins["/process/rlimits"] = picked[1]
        return [parse_rlimit(text, picked[0]) for text in picked[0]]

    def user(self) -> dict[str, Any]:
        uid = self.pick("uid", Source.get)
        gid = self.pick("gid", Source.get)
        extra = self.pick("additionalGids", Source.get)
        if extra is not None and not isinstance(extra[0], list):
            raise Invalid("/additionalGids", "expected a list")
        user: dict[str, Any] = {
            "uid": id_number(uid[0] if uid else None, self.ids),
            "gid": id_number(gid[0] if gid else None, self.ids),
        }
        groups = [id_number(item, self.ids) for item in (extra[0] if extra else [])]
        if groups:
            user["additionalGids"] = groups
        self.origins["/process/user/uid"] = uid[1] if uid else DEFAULT
        self.origins["/process/user/gid"] = gid[1] if gid else DEFAULT
        if extra:
            self.origins["/process/user/additionalGids"] = extra[1]
        return user

    # -- mounts ----------------------------------------------------------------------------

    def mounts(self, readonly: bool) -> list[Mount]:
        table: dict[str, Mount] = {}
        for mount in default_mounts(readonly):
            table[mount.destination] = mount
        tmpfs = self.pick("tmpfs", Source.strings)
        if tmpfs:
            for index, text in enumerate(tmpfs[0]):
                mount = parse_tmpfs(text, Provenance(tmpfs[1].origin, "tmpfs", index))
                table[mount.destination] = mount
        for text, provenance in self.inherited_list("binds"):
            mount = parse_bind(text, provenance)
            table[mount.destination] = mount
        picked = self.pick("mounts", Source.objects)
        if picked:
            from lkpolicy.stages.effective.ocispec import MOUNT, Decoder

            origin = picked[1].origin
            decoder = Decoder(origin, self.dropped)
            self.reading = origin
            for index, raw in enumerate(picked[0]):
                pointer = f"/mounts/{index}"
                decoded = decoder.struct(MOUNT, raw, pointer)
                for key in ("uidmappings", "gidmappings"):
                    if raw.get(key):
                        self.dropped.append(DroppedKey(
                            origin, f"{pointer}/{key}",
                            "linuxkit does not copy a mount's id mappings into config.json"))
                mount = complete_mount(decoded, Provenance(origin, "mounts", index))
                table[mount.destination] = mount
        # Go compares strings byte-wise; code-point order is the same order for UTF-8.
        return [table[key] for key in sorted(table)]

    # -- linux -----------------------------------------------------------------------------

    def namespaces(self) -> list[dict[str, str]]:
        result: list[dict[str, str]] = []

        def add(kind: str, path: str, provenance: Provenance) -> None:
            self.origins[f"/linux/namespaces/{len(result)}"] = provenance
            result.append({"type": kind, "path": path} if path else {"type": kind})

        for key, kind, default, empty_is_new in (
            ("net", "network", "root", False), ("ipc", "ipc", "root", False),
            ("uts", "uts", "root", False), ("pid", "pid", "", True),
            ("userns", "user", "root", False),
        ):
            picked = pick_nonempty(key, self.sources)
            value, provenance = picked if picked else (default, DEFAULT)
            if value in ("host", "root"):
                continue
            new = value == "new" or (key == "net" and value == "none") or (empty_is_new and not value)
            add(kind, "" if new else value, provenance)
        add("mount", "", DEFAULT)
        return result

    def resources_and_devices(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        picked = self.pick("resources", Source.mapping)
        resources: dict[str, Any] = {}
        if picked:
            from lkpolicy.stages.effective.ocispec import RESOURCES, Decoder

            self.reading = picked[1].origin
            resources = Decoder(picked[1].origin, self.dropped).struct(
                RESOURCES, picked[0], "/resources")
            self.origins["/linux/resources"] = picked[1]
        devices = self.pick("devices", Source.objects)
        rules: list[dict[str, Any]] = list(resources.get("devices", []))
        linux_devices: list[dict[str, Any]] = []
        for index, raw in enumerate(devices[0] if devices else []):
            assert devices is not None
            provenance = Provenance(devices[1].origin, "devices", index)
            self.reading = provenance.origin
            device = decode_scalar
            path = device("str", raw.get("path"), f"/devices/{index}/path")
            kind = device("str", raw.get("type"), f"/devices/{index}/type")
            if path == "all":
                rule: dict[str, Any] = {"allow": True}
                if kind:
                    rule["type"] = kind
                rule["access"] = "rwm"
            else:
                major = device("int", raw.get("major"), f"/devices/{index}/major")
                minor = device("int", raw.get("minor"), f"/devices/{index}/minor")
                mode = parse_device_mode(device("str", raw.get("mode"), f"/devices/{index}/mode"))
                self.origins[f"/linux/devices/{len(linux_devices)}"] = provenance
                linux_devices.append({"path": path, "type": kind, "major": major,
                                      "minor": minor, "fileMode": mode})
                rule = {"allow": True}
                if kind:
                    rule["type"] = kind
                rule.update({"major": major, "minor": minor, "access": "rwm"})
            self.origins[f"/linux/resources/devices/{len(rules)}"] = provenance
            rules.append(rule)
        if rules:
            resources = {"devices": rules, **{k: v for k, v in resources.items() if k != "devices"}}
        return resources, linux_devices

    def linux(self, resources: dict[str, Any], namespaces: list[dict[str, str]],
              devices: list[dict[str, Any]]) -> dict[str, Any]:
        linux: dict[str, Any] = {}
        for key in ("uidMappings", "gidMappings"):
            picked = self.pick(key, Source.objects)
            if picked:
                from lkpolicy.stages.effective.ocispec import ID_MAPPING, Decoder

                self.reading = picked[1].origin
                decoder = Decoder(picked[1].origin, self.dropped)
                mappings = [decoder.struct(ID_MAPPING, raw, f"/{key}/{index}")
                            for index, raw in enumerate(picked[0])]
                self.origins[f"/linux/{key}"] = picked[1]
                if mappings:
                    linux[key] = mappings
        sysctl = self.string_map("sysctl", "/linux/sysctl")
        if sysctl:
            linux["sysctl"] = sysctl
        linux["resources"] = resources
        cgroups_path = self.pick("cgroupsPath", Source.string)
        if cgroups_path:
            self.origins["/linux/cgroupsPath"] = cgroups_path[1]
            if cgroups_path[0]:
                linux["cgroupsPath"] = cgroups_path[0]
        linux["namespaces"] = namespaces
        if devices:
            linux["devices"] = devices
        propagation = self.pick("rootfsPropagation", Source.string)
        if propagation:
            self.origins["/linux/rootfsPropagation"] = propagation[1]
            if propagation[0]:
                linux["rootfsPropagation"] = propagation[0]
        for key in ("maskedPaths", "readonlyPaths"):
            paths = self.pick(key, Source.strings)
            if paths:
                self.origins[f"/linux/{key}"] = paths[1]
                if paths[0]:
                    linux[key] = paths[0]
        return linux

    def string_map(self, key: str, pointer: str) -> dict[str, str]:
        picked = self.pick(key, Source.string_map)
        if not picked:
            return {}
        self.origins[pointer] = picked[1]
        return {name: picked[0][name] for name in sorted(picked[0])}

    # -- runtime.json ----------------------------------------------------------------------

    def runtime(self, placement: Placement, locate: Callable[[bool], str],
                readonly: bool) -> dict[str, Any]:
        sections = []
        for source in self.sources:
            self.reading = source.origin
            sections.append(Source(source.mapping("runtime") or {}, source.origin))
        lists: dict[str, tuple[list[Any], Origin]] = {}
        for key in ("cgroups", "mounts", "mkdir", "interfaces"):
            picked = pick(key, sections, Source.get)
            if picked:
                self.reading = picked[1].origin
                lists[key] = self.runtime_list(key, picked[0], picked[1].origin), picked[1].origin
        bind_sections = [Source(s.mapping("bindNS") or {}, s.origin) for s in sections]
        bind_ns: dict[str, str] = {}
        for name in _BIND_NAMESPACES:
            picked_ns = pick(name, bind_sections, Source.string)
            bind_ns[name] = picked_ns[0] if picked_ns else ""
            if picked_ns:
                self.runtime_origins[f"/bindNS/{name}"] = Provenance(
                    picked_ns[1].origin, f"runtime/bindNS/{name}")
        namespace = pick("namespace", sections, Source.string)
        if namespace:
            self.runtime_origins["/namespace"] = Provenance(namespace[1].origin, "runtime/namespace")

        # Looked up last: an extraction is recorded only for a container that is complete.
        rootfs = rootfs_mounts(placement, locate(readonly), readonly)
        runtime: dict[str, Any] = {}
        for key in ("cgroups", "mounts", "mkdir", "interfaces"):
            value, origin = lists.get(key, ([], Origin.DEFAULT))
            if key in lists:
                self.runtime_origins[f"/{key}"] = Provenance(origin, f"runtime/{key}")
            if key == "mounts":
                for index in range(len(rootfs)):
                    self.runtime_origins[f"/mounts/{index}"] = DEFAULT
                for index in range(len(value)):
                    self.runtime_origins[f"/mounts/{len(rootfs) + index}"] = Provenance(
                        origin, "runtime/mounts", index)
                value = rootfs + value
            runtime[key] = value
        runtime["bindNS"] = bind_ns
        runtime["namespace"] = namespace[0] if namespace else ""
        return runtime

    def runtime_list(self, key: str, raw: Any, origin: Origin) -> list[Any]:
        pointer = f"/runtime/{key}"
        if not isinstance(raw, list):
            raise Invalid(pointer, "expected a list")
        if key not in ("mounts", "interfaces"):
            return [decode_scalar("str", item, f"{pointer}/{i}") for i, item in enumerate(raw)]
        from lkpolicy.stages.effective.ocispec import INTERFACE, MOUNT, Decoder

        decoder = Decoder(origin, self.dropped)
        model = MOUNT if key == "mounts" else INTERFACE
        return [decoder.struct(model, item, f"{pointer}/{i}") for i, item in enumerate(raw)]


def _special_capabilities(caps: list[tuple[str, Provenance]]) -> list[tuple[str, Provenance]]:
    """A single `all` (any case) grants every capability; a single `none` grants nothing."""
    if len(caps) != 1:
        return caps
    name, provenance = caps[0]
    if name.lower() == "none":
        return []
    if name.lower() == "all":
        return [(cap, provenance) for cap in ALL_CAPABILITIES]
    return caps
