"""The build core against linuxkit's goldens (`golden/linuxkit/build-full`), and hostile layers.

Listings are made with the goldens' own `lkdump.py` (run as a script), so our outputs are
described exactly the way linuxkit's were.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from planning import plan_build

from lkpolicy.assemble import BuildError, BuildOptions, Limits, build_tar, write_outputs
from lkpolicy.assemble.initrd import ConversionError, tar_to_cpio
from lkpolicy.assemble.metadata import expanded_model, render_json, render_yaml
from lkpolicy.assemble.tarreader import TarReader
from lkpolicy.assemble.tarstream import TarError, TarHeader, TarWriter, parse_pax_time
from lkpolicy.model.config import Config, merge
from lkpolicy.model.gomodel import go_model
from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST, Platform
from lkpolicy.stages.load import load_document
from lkpolicy.store.lookup import Store

AMD64 = Platform("linux", "amd64")
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture(scope="module")
def golden(build_full: Path) -> Path:
    return build_full


@pytest.fixture(scope="module")
def store(build_full_store: Store) -> Store:
    return build_full_store


@pytest.fixture(scope="module")
def config(build_full_config: Config) -> Config:
    return build_full_config


@pytest.fixture(scope="module")
def built_tar(config: Config, store: Store) -> bytes:
    out = io.BytesIO()
    summary = build_tar(config, plan_build(config, store, AMD64), out)
    assert summary.entries == 109
    return out.getvalue()


def _lkdump(golden: Path, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run([sys.executable, str(golden / "lkdump.py"), *args, "--jsonl"],
                            check=True, capture_output=True, text=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def _expected_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _members(data: bytes) -> dict[str, bytes]:
    """Last body of every regular member (later entries win, as when unpacked)."""
    reader = TarReader(io.BytesIO(data))
    bodies: dict[str, bytes] = {}
    while (header := reader.next()) is not None:
        if header.typeflag == "0":
            bodies[header.name] = reader.read(header.size)
    return bodies


# --------------------------------------------------------------------------------------------
# The tar output


def test_tar_is_byte_identical_to_linuxkit(golden: Path, built_tar: bytes) -> None:
    expected = gzip.decompress((golden / "expected/tar/full.tar.gz").read_bytes())
    assert len(built_tar) == len(expected) == 4173312
    assert built_tar == expected


def test_tar_listing_matches_entry_by_entry(golden: Path, built_tar: bytes,
                                            tmp_path: Path) -> None:
    out = tmp_path / "full.tar"
    out.write_bytes(built_tar)
    ours = _lkdump(golden, "tar", str(out))
    expected = _expected_lines(golden / "expected/tar/tar.jsonl")
    assert len(ours) == len(expected)
    mismatched = [(a["seq"], a["name"], b["name"]) for a, b in zip(ours, expected, strict=True)
                  if a != b]
    assert mismatched == []


def test_tar_members_match_saved_files(golden: Path, built_tar: bytes) -> None:
    files = golden / "expected/tar/files"
    bodies = _members(built_tar)
    checked = 0
    for path in sorted(files.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(files).as_posix()
        if name == "lib/apk/db/installed.merged":
            name = "lib/apk/db/installed"
        assert bodies[name] == path.read_bytes(), name
        checked += 1
    assert checked == 12


def test_container_json_matches_field_by_field(golden: Path, built_tar: bytes) -> None:
    bodies = _members(built_tar)
    for path in sorted((golden / "expected/tar/files/containers").rglob("*.json")):
        name = path.relative_to(golden / "expected/tar/files").as_posix()
        assert json.loads(bodies[name]) == json.loads(path.read_bytes()), name


def test_metadata_renderings(golden: Path, config: Config) -> None:
    model = expanded_model(go_model(config))
    files = golden / "expected/tar/files/etc"
    assert render_yaml(model) == (files / "linuxkit.yml").read_text()
    assert render_json(model) == (files / "linuxkit.json").read_text()


def test_build_is_reproducible(config: Config, store: Store, built_tar: bytes) -> None:
    again = io.BytesIO()
    build_tar(config, plan_build(config, store, AMD64), again)
    assert again.getvalue() == built_tar


# --------------------------------------------------------------------------------------------
# kernel+initrd


def test_cpio_from_linuxkit_tar_is_byte_identical(golden: Path) -> None:
    tar = gzip.decompress((golden / "expected/tar/full.tar.gz").read_bytes())
    cpio, kernel = io.BytesIO(), io.BytesIO()
    parts = tar_to_cpio(io.BytesIO(tar), cpio, kernel)
    assert cpio.getvalue() == (golden / "expected/kernel+initrd/full-initrd.cpio").read_bytes()
    assert kernel.getvalue() == (golden / "expected/kernel+initrd/full-kernel").read_bytes()
    assert parts.entries == 106
    assert parts.dropped == ["boot/grub.cfg"]


def test_kernel_initrd_outputs(golden: Path, config: Config, store: Store,
                               tmp_path: Path) -> None:
    lines: list[str] = []
    written = write_outputs(config, plan_build(config, store), ["kernel+initrd"], tmp_path, "full",
                            options=BuildOptions(progress=lines.append))
    expected = golden / "expected/kernel+initrd"
    assert sorted(p.name for p in written) == ["full-cmdline", "full-initrd.img", "full-kernel"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    assert (tmp_path / "full-kernel").read_bytes() == (expected / "full-kernel").read_bytes()
    assert (tmp_path / "full-cmdline").read_bytes() == (expected / "full-cmdline").read_bytes()
    initrd = (tmp_path / "full-initrd.img").read_bytes()
    start = initrd.find(b"\x1f\x8b\x08")
    assert initrd[:start] == b"FAKE-UCODE-CPIO\n"
    assert gzip.decompress(initrd[start:]) == (expected / "full-initrd.cpio").read_bytes()
    ours = _lkdump(golden, "initrd", str(tmp_path / "full-initrd.img"))
    assert ours == _expected_lines(expected / "initrd-cpio.jsonl")
    assert lines[-1] == (f"  {tmp_path}/full-kernel ucode+{tmp_path}/full-initrd.img "
                         f"{tmp_path}/full-cmdline")


def test_tar_output_file(golden: Path, config: Config, store: Store, tmp_path: Path) -> None:
    written = write_outputs(config, plan_build(config, store), ["tar"], tmp_path, "full")
    assert written == [tmp_path / "full.tar"]
    expected = gzip.decompress((golden / "expected/tar/full.tar.gz").read_bytes())
    assert (tmp_path / "full.tar").read_bytes() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["full.tar"]


def test_format_rules(config: Config, store: Store, tmp_path: Path) -> None:
    for formats, message in (
        (["bogus"], "error parsing formats: unknown format type bogus"),
        (["tar,kernel+initrd"], "format type tar must be the only format specified"),
        (["rpi3"], "format rpi3 is not supported by lkpolicy build"),
        (["vhd", "dynamic-vhd"], "formats vhd and dynamic-vhd both write NAME.vhd"),
    ):
        with pytest.raises(BuildError, match=message):
            write_outputs(config, plan_build(config, store), formats, tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# The lock


def test_the_plan_is_the_only_source_of_images(config: Config, store: Store) -> None:
    plan = plan_build(config, store)
    images = {k: v for k, v in plan.images.items() if "init" not in k}
    with pytest.raises(BuildError, match=r"docker\.io/lktest/init:test was not resolved by "
                                         r"the gate"):
        build_tar(config, dataclasses.replace(plan, images=images), io.BytesIO())


def test_content_changed_under_a_resolved_image_fails(config: Config, store: Store,
                                                      tmp_path: Path) -> None:
    """The gate resolved a descriptor; if the blob behind it changes before the build reads
    it, the build fails on the digest instead of shipping the new content."""
    copy = Store(tmp_path / "cache")
    shutil.copytree(store.root, copy.root)
    plan = plan_build(config, copy)
    layer = plan.images["docker.io/lktest/busybox:test"].layers[0]
    blob = copy.blob_path(layer.digest)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(BuildError, match="busybox"):
        build_tar(config, plan, io.BytesIO())


def test_missing_image_is_not_pulled(tmp_path: Path, store: Store) -> None:
    config = _config(tmp_path, "onboot:\n  - name: x\n    image: lktest/absent:1\n")
    with pytest.raises(BuildError, match=r"could not pull image lktest/absent:1: .*never pulls"):
        build_tar(config, plan_build(config, store, AMD64), io.BytesIO())


# --------------------------------------------------------------------------------------------
# Hostile and unusual layers


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "test.yml"
    path.write_text(text)
    document, _findings = load_document(str(path))
    return merge([document])


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "",
           mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 1700000000
    return info, data


def _image(store: Store, reference: str, layers: list[bytes], *, compress: bool = True) -> None:
    layer_descriptors = [store.add_blob(gzip.compress(layer) if compress else layer, LAYER_GZIP)
                         for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_descriptor = store.add_blob(config, OCI_CONFIG)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config_descriptor.to_json(),
        "layers": [d.to_json() for d in layer_descriptors],
    }).encode()
    store.register(reference, store.add_blob(manifest, OCI_MANIFEST))


@pytest.fixture
def hostile(tmp_path: Path) -> Store:
    return Store(tmp_path / "hostile-cache")


def _build_one(tmp_path: Path, store: Store, layers: list[bytes], *,
               options: BuildOptions | None = None, section: str = "onboot") -> bytes:
    _image(store, "docker.io/test/img:1", layers)
    if section == "init":
        text = "init:\n  - test/img:1\n"
    else:
        text = f"{section}:\n  - name: c\n    image: test/img:1\n"
    out = io.BytesIO()
    build_tar(_config(tmp_path, text), plan_build(_config(tmp_path, text), store, AMD64), out, options=options)
    return out.getvalue()


def _names(data: bytes) -> list[str]:
    reader = TarReader(io.BytesIO(data))
    names = []
    while (header := reader.next()) is not None:
        names.append(header.name)
    return names


def test_gzip_bomb_is_rejected_and_leaves_nothing(tmp_path: Path, hostile: Store) -> None:
    bomb = _tar([_entry("zeros", data=bytes(4 << 20))])
    _image(hostile, "docker.io/test/bomb:1", [bomb])
    assert len(gzip.compress(bomb)) < 10_000
    config = _config(tmp_path, "onboot:\n  - name: c\n    image: test/bomb:1\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    options = BuildOptions(limits=Limits(max_expanded_bytes=1 << 20))
    with pytest.raises(BuildError, match=r"failed to extract root filesystem for test/bomb:1: "
                                         r".*expand to more than 1048576 bytes \(the limit is "
                                         r"--max-expanded-size"):
        write_outputs(config, plan_build(config, hostile), ["kernel+initrd"], out_dir, "bomb",
                      options=options)
    assert list(out_dir.iterdir()) == []
    # The same image builds within a sufficient limit.
    write_outputs(config, plan_build(config, hostile), ["tar"], out_dir, "bomb")
    assert [p.name for p in out_dir.iterdir()] == ["bomb.tar"]


@pytest.mark.parametrize(("members", "message"), [
    ([_entry("../escape")], "name leaves the image root"),
    ([_entry("a/../../escape")], "name leaves the image root"),
    ([_entry("/etc/x"), _entry("etc/x")], "collides with '/etc/x' once made relative"),
    ([_entry("bin/ls", tarfile.LNKTYPE, link="../../etc/shadow")],
     "hard link target '../../etc/shadow' leaves the image root"),
    ([_entry("bin/ls", tarfile.LNKTYPE, link="/etc/shadow")], "leaves the image root"),
    ([_entry("etc/passwd"), _entry("etc", tarfile.SYMTYPE, link="/etc")],
     "a symlink over a directory with entries"),
    ([_entry("dev/sda", tarfile.BLKTYPE)], "device nodes are not allowed"),
    ([_entry("x", b"V")], "unsupported entry type 'V'"),
])
def test_hostile_names(tmp_path: Path, hostile: Store,
                       members: list[tuple[tarfile.TarInfo, bytes]], message: str) -> None:
    with pytest.raises(BuildError, match="failed to extract root filesystem for test/img:1: "
                                         ".*" + message.replace("(", r"\(")):
        _build_one(tmp_path, hostile, [_tar(members)])


def _raw_block(name: bytes, typeflag: bytes, size: int) -> bytes:
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\x00"
    block[108:116] = b"0000000\x00"
    block[116:124] = b"0000000\x00"
    block[124:136] = b"%011o\x00" % size
    block[136:148] = b"00000000000\x00"
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def test_nul_in_name_is_rejected(tmp_path: Path, hostile: Store) -> None:
    record = b"etc/pass\x00wd"
    body = b"%d path=%s\n" % (len(record) + 9, record)
    assert int(body.split(b" ")[0]) == len(body)
    layer = (_raw_block(b"PaxHeaders/x", b"x", len(body)) + body + bytes(-len(body) % 512)
             + _raw_block(b"x", b"0", 0) + bytes(1024))
    with pytest.raises(BuildError, match="name contains NUL"):
        _build_one(tmp_path, hostile, [layer])


def test_entries_below_an_earlier_symlink_are_dropped(tmp_path: Path, hostile: Store) -> None:
    # mutate.Extract's own rule: a non-directory hides every name below it.
    layer = _tar([_entry("etc", tarfile.SYMTYPE, link="/etc"), _entry("etc/passwd")])
    names = _build_one(tmp_path, hostile, [layer], section="init")
    assert "etc/passwd" not in _names(names)


def test_absolute_names_are_made_relative(tmp_path: Path, hostile: Store) -> None:
    data = _build_one(tmp_path, hostile, [_tar([_entry("/etc/motd", data=b"hi")])])
    assert "containers/onboot/000-c/lower/etc/motd" in _names(data)


def test_devices_allowed_when_asked_and_in_init(tmp_path: Path, hostile: Store) -> None:
    layer = _tar([_entry("dev/sda", tarfile.BLKTYPE)])
    data = _build_one(tmp_path, hostile, [layer],
                      options=BuildOptions(allow_container_devices=True))
    assert "containers/onboot/000-c/lower/dev/sda" in _names(data)
    assert "dev/sda" in _names(_build_one(tmp_path, hostile, [layer], section="init"))


def test_whiteouts_and_layer_order(tmp_path: Path, hostile: Store) -> None:
    lower = _tar([_entry("a", data=b"a"), _entry("d", tarfile.DIRTYPE, mode=0o755),
                  _entry("d/x", data=b"x"), _entry("keep", data=b"k"),
                  _entry("f", tarfile.DIRTYPE), _entry("f/inner", data=b"i")])
    upper = _tar([_entry(".wh.a"), _entry("d/.wh..wh..opq"), _entry("keep", data=b"new"),
                  _entry("f", data=b"now a file")])
    data = _build_one(tmp_path, hostile, [lower, upper], section="init")
    names = _names(data)
    image_part = names[:names.index("dev")]
    # Top layer first; the opaque marker hides nothing (spec section 3).
    assert image_part == ["keep", "f", "d", "d/x"]
    assert _members(data)["keep"] == b"new"


def test_volume_with_image(tmp_path: Path, hostile: Store) -> None:
    _image(hostile, "docker.io/test/vol:1", [_tar([_entry("etc/resolv.conf", data=b"x"),
                                                  _entry("data/f", data=b"d")])])
    config = _config(tmp_path, "volumes:\n  - name: v\n    image: test/vol:1\n")
    out = io.BytesIO()
    build_tar(config, plan_build(config, hostile, AMD64), out)
    reader = TarReader(io.BytesIO(out.getvalue()))
    listing = []
    while (header := reader.next()) is not None:
        listing.append((header.name, header.typeflag, header.pax["LINUXKIT.source"]))
    lower = "containers/volumes/v/lower/"
    ref = "docker.io/test/vol:1"
    assert listing[:6] == [
        ("containers", "5", ref), ("containers/volumes", "5", ref),
        ("containers/volumes/v", "5", ref), (lower[:-1], "5", ref),
        (lower + "etc/resolv.conf", "2", ref), (lower + "data/f", "0", ref)]
    assert listing[-2:] == [("containers/volumes/v/tmp/", "5", "linuxkit.volumes"),
                            ("containers/volumes/v/merged/", "5", "linuxkit.volumes")]
    config = _config(tmp_path, "volumes:\n  - name: v\n    image: test/vol:1\n    format: oci\n")
    with pytest.raises(BuildError, match="failed to build volume OCI v1 layout tarball from v"):
        build_tar(config, plan_build(config, hostile, AMD64), io.BytesIO())


def test_uncompressed_layers_are_read(tmp_path: Path, hostile: Store) -> None:
    _image(hostile, "docker.io/test/plain:1", [_tar([_entry("x", data=b"1")])], compress=False)
    config = _config(tmp_path, "init:\n  - test/plain:1\n")
    out = io.BytesIO()
    build_tar(config, plan_build(config, hostile, AMD64), out)
    assert _names(out.getvalue())[0] == "x"


def test_corrupt_layer_fails(tmp_path: Path, hostile: Store) -> None:
    _image(hostile, "docker.io/test/img:1", [_tar([_entry("x", data=b"1" * 1000)])])
    resolved = hostile.lookup("docker.io/test/img:1", AMD64)
    assert resolved is not None
    blob = hostile.blob_path(resolved.layers[0].digest)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF  # the gzip trailer: decompression succeeds, the digest does not
    blob.write_bytes(bytes(data))
    config = _config(tmp_path, "init:\n  - test/img:1\n")
    with pytest.raises(BuildError, match="failed to build init tarball from test/img:1"):
        build_tar(config, plan_build(config, hostile, AMD64), io.BytesIO())


# --------------------------------------------------------------------------------------------
# files section and kernel errors


@pytest.mark.parametrize(("entry", "message"), [
    ("- path: ''\n  contents: x", "did not specify path for file"),
    ("- path: a\n  contents: x\n  mode: '0999'",
     'cannot parse file mode as octal value: strconv.ParseUint: parsing "0999": invalid syntax'),
    ("- path: a", r"contents of file \(a\) not specified"),
    ("- path: a\n  source: /x\n  metadata: yaml", "specified Source and Metadata for file: a"),
    ("- path: a\n  contents: x\n  metadata: yaml", "specified Contents and Metadata for file: a"),
    ("- path: a\n  contents: x\n  source: /x", "specified Contents and Source for file: a"),
    ("- path: a/b\n  directory: true\n  contents: x", "directory with contents not allowed"),
    ("- path: a/\n  contents: x", "archive/tar: write too long"),
    ("- path: a\n  metadata: toml", "unsupported metadata type: toml"),
    ("- path: a\n  contents: x\n  uid: nobody", "cannot find id: nobody"),
    # The gate reads sources (LK408 when missing): a build never reads one it did not judge.
    ("- path: a\n  source: /nonexistent/lkpolicy", "the gate did not read the source of a"),
    ("- path: ../a\n  contents: x", "path ../a leaves the image root"),
])
def test_files_errors(tmp_path: Path, hostile: Store, entry: str, message: str) -> None:
    config = _config(tmp_path, "files:\n" + entry + "\n")
    with pytest.raises(BuildError, match="^failed to add filesystem parts: " + message):
        build_tar(config, plan_build(config, hostile, AMD64), io.BytesIO())


def test_files_modes_owners_and_sources(tmp_path: Path, hostile: Store) -> None:
    (tmp_path / "src.txt").write_bytes(b"from host")
    config = _config(tmp_path, (
        "files:\n"
        "  - {path: /opt/a/suid, contents: x, mode: '4755'}\n"
        "  - {path: opt/b/f, contents: y, mode: '0604'}\n"
        "  - {path: opt/c, source: src.txt}\n"
        "  - {path: opt/gone, source: /nonexistent, optional: true}\n"))
    out = io.BytesIO()
    build_tar(config, plan_build(config, hostile, AMD64, cwd=str(tmp_path)), out)
    reader = TarReader(io.BytesIO(out.getvalue()))
    listing = []
    while (header := reader.next()) is not None:
        listing.append((header.name, oct(header.mode), header.pax["LINUXKIT.location"]))
    assert listing == [
        ("opt", "0o4755", "files[0]"), ("opt/a", "0o4755", "files[0]"),
        ("opt/a/suid", "0o4755", "files[0]"),
        ("opt/b", "0o705", "files[1]"), ("opt/b/f", "0o604", "files[1]"),
        ("opt/c", "0o600", "files[2]"),
    ]
    assert _members(out.getvalue())["opt/c"] == b"from host"


def test_a_source_changed_after_the_gate_read_it_fails(tmp_path: Path, hostile: Store) -> None:
    source = tmp_path / "src.txt"
    source.write_bytes(b"judged content")
    config = _config(tmp_path, f"files:\n  - {{path: opt/c, source: {source}}}\n")
    plan = plan_build(config, hostile, AMD64)
    for changed in (b"jUdged content", b"judged content, and more", b"short"):
        source.write_bytes(changed)
        with pytest.raises(BuildError, match=f"{source} changed since the gate read it"):
            build_tar(config, plan, io.BytesIO())
    source.write_bytes(b"judged content")
    build_tar(config, plan, io.BytesIO())


def test_kernel_without_binary(tmp_path: Path, hostile: Store) -> None:
    _image(hostile, "docker.io/test/k:1", [_tar([_entry("vmlinuz", data=b"k")])])
    config = _config(tmp_path, "kernel:\n  image: test/k:1\n  tar: none\n")
    with pytest.raises(BuildError, match=r"^close error: did not find kernel in kernel image$"):
        build_tar(config, plan_build(config, hostile, AMD64), io.BytesIO())
    config = _config(tmp_path, "kernel:\n  image: test/k:1\n  binary: vmlinuz\n")
    with pytest.raises(BuildError, match="did not find kernel tar in kernel image"):
        build_tar(config, plan_build(config, hostile, AMD64), io.BytesIO())


# --------------------------------------------------------------------------------------------
# Units


def test_cpio_refuses_fields_that_do_not_fit() -> None:
    tar = io.BytesIO()
    writer = TarWriter(tar)
    writer.add(TarHeader("late", "0", mode=0o644, mtime=1 << 33), b"")
    writer.close()
    tar.seek(0)
    with pytest.raises(ConversionError, match="mtime 8589934592 does not fit"):
        tar_to_cpio(tar, io.BytesIO(), io.BytesIO())


def test_long_names_and_pax_time_round_trip() -> None:
    out = io.BytesIO()
    writer = TarWriter(out)
    long_name = "d/" + "x" * 150
    header = TarHeader(long_name, "0", mode=0o644, size=3, mtime=5, mtime_ns=500_000_000,
                       uid=1 << 22, uname="u" * 40, pax={"SCHILY.xattr.user.a": "b"})
    writer.add(header, b"abc")
    writer.close()
    data = out.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.getmembers()[0]
        assert member.name == long_name
        assert member.uid == 1 << 22
        assert member.uname == "u" * 40
        assert member.pax_headers["mtime"] == "5.5"
        assert member.pax_headers["SCHILY.xattr.user.a"] == "b"
    read = TarReader(io.BytesIO(data)).next()
    assert read is not None
    assert (read.name, read.mtime, read.mtime_ns, read.size) == (long_name, 5, 500_000_000, 3)


def _patched_tar(patches: dict[int, bytes], pax: dict[str, str] | None = None) -> bytes:
    """A one-file tar with raw bytes written at the given offsets, header checksums redone."""
    out = io.BytesIO()
    writer = TarWriter(out)
    writer.add(TarHeader("f", "0", mode=0o644, size=1, mtime=5, pax=pax or {}), b"x")
    writer.close()
    data = bytearray(out.getvalue())
    for offset, raw in patches.items():
        data[offset:offset + len(raw)] = raw
    headers = (0, 1024) if pax else (0,)  # with PAX: its header, its body, the file's header
    for start in headers:
        block = data[start:start + 512]
        block[148:156] = b" " * 8
        data[start + 148:start + 155] = format(sum(block), "o").rjust(6, "0").encode() + b"\x00"
    return bytes(data)


@pytest.mark.parametrize(("field", "accepted"), [
    (b"0000644\x00", 0o644), (b"  644  \x00", 0o644), (b"644\x00junk", 0o644),
    # int(text, 8) takes these; Go's strconv.ParseUint(field, 8, 64) does not.
    (b"+000644\x00", None), (b"0o00644\x00", None), (b"000_644\x00", None), (b"0006 44\x00", None),
])
def test_tar_number_fields_are_go_parseuint(field: bytes, accepted: int | None) -> None:
    reader = TarReader(io.BytesIO(_patched_tar({100: field})))
    if accepted is None:
        with pytest.raises(TarError, match="invalid tar header"):
            reader.next()
        return
    header = reader.next()
    assert header is not None and header.mode == accepted


@pytest.mark.parametrize(("mtime", "parsed"), [
    ("5.5", (5, 500_000_000)), ("+5", (5, 0)), ("-1.25", (-2, 750_000_000)), ("7.", (7, 0)),
    ("9223372036854775807", (2**63 - 1, 0)),
    ("9223372036854775808", None), ("1_0", None), ("5.x", None), ("", None), ("0x10", None),
])
def test_pax_times_are_go_parseint(mtime: str, parsed: tuple[int, int] | None) -> None:
    if parsed is None:
        with pytest.raises(TarError, match="invalid PAX time"):
            parse_pax_time(mtime)
    else:
        assert parse_pax_time(mtime) == parsed


@pytest.mark.parametrize(("record", "accepted"), [
    (b"21 SCHILY.xattr.a=bc\n", True),
    (b"+22 SCHILY.xattr.a=bc\n", True),  # Go: strconv.ParseInt, so a sign is allowed
    (b"2_2 SCHILY.xattr.a=bc\n", False), (b"22SCHILY.xattr.a=bc\n\n", False),
    (b"-22 SCHILY.xattr.a=bc\n", False), (b"1 \n", False),
])
def test_pax_record_lengths_are_go_parseint(record: bytes, accepted: bool) -> None:
    size = format(len(record), "o").rjust(11, "0").encode()
    data = _patched_tar({124: size, 512: record.ljust(512, b"\x00")},
                        pax={"SCHILY.xattr.a": "bc"})
    reader = TarReader(io.BytesIO(data))
    if not accepted:
        with pytest.raises(TarError, match="PAX record"):
            reader.next()
        return
    header = reader.next()
    assert header is not None and header.pax == {"SCHILY.xattr.a": "bc"}
