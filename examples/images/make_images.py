"""Build the example images (kernel, init, hello service) from downloaded Debian packages into
an OCI image layout store, and pin examples/boot.yml to their digests.

Called by build-images.sh, which downloads the packages; run it through that script.

Every byte of the images is a function of the package files: tar entries are sorted and get a
fixed mtime, owner 0:0 and no user/group names; layers are gzip-compressed with mtime 0 and no
file name; the image configs carry no creation time. The digests therefore change only when
the Debian package versions (printed, and recorded in versions.txt in the store) change.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from lkpolicy.model.oci import OCI_CONFIG, OCI_MANIFEST, Descriptor
from lkpolicy.store.lookup import Store

MTIME = 1700000000
"""Fixed on purpose (not SOURCE_DATE_EPOCH): the pins in boot.yml must not depend on it."""
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
KERNEL_REF = "lkpolicy.example/kernel:6.1"
INIT_REF = "lkpolicy.example/init:1"
HELLO_REF = "lkpolicy.example/hello:1"
BOOT_MARKER = "LKPOLICY-BOOT-OK"
SERVICE_MARKER = "LKPOLICY-SERVICE-OK"

# The init: mount the kernel file systems, run every container that follows this example's
# convention (an executable /etc/lkpolicy-example/run in its root file system; there is no
# container runtime here, a chroot stands in for it), print the marker and power off.
INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
exec >/dev/console 2>&1
echo "lkpolicy example init: starting"
for phase in onboot services; do
  for dir in /containers/$phase/*; do
    [ -d "$dir" ] || continue
    root="$dir/lower"
    [ -d "$root" ] || root="$dir/rootfs"
    if [ -x "$root/etc/lkpolicy-example/run" ]; then
      echo "lkpolicy example init: running $phase/${{dir##*/}}"
      chroot "$root" /etc/lkpolicy-example/run
    fi
  done
done
echo "{BOOT_MARKER}"
sync
poweroff -f
"""

HELLO_SCRIPT = f"""#!/bin/sh
echo "{SERVICE_MARKER} from $(uname -sr)"
"""


class Layer:
    """A deterministic layer: entries are collected, then written sorted by name."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def _info(self, name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.mtime = MTIME
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def directory(self, name: str, mode: int = 0o755) -> None:
        self.entries[name] = (self._info(name, tarfile.DIRTYPE, mode), None)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        self.entries[name] = (info, data)

    def symlink(self, name: str, target: str) -> None:
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.entries[name] = (info, None)

    def tar(self) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for name in sorted(self.entries):
                info, data = self.entries[name]
                archive.addfile(info, io.BytesIO(data) if data is not None else None)
        return out.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0, compresslevel=9) as zipped:
        zipped.write(data)
    return out.getvalue()


def canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def add_image(store: Store, reference: str, layer: Layer, config: dict[str, object]) -> str:
    raw = layer.tar()
    compressed = gzip_bytes(raw)
    layer_descriptor = store.add_blob(compressed, LAYER)
    config_document = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }
    config_descriptor = store.add_blob(canonical(config_document), OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_descriptor.digest,
                   "size": config_descriptor.size},
        "layers": [{"mediaType": LAYER, "digest": layer_descriptor.digest,
                    "size": layer_descriptor.size}],
    }
    descriptor: Descriptor = store.add_blob(canonical(manifest), OCI_MANIFEST)
    # A pinned reference is looked up under its full `name:tag@digest` (as linuxkit does), so
    # the image is registered under both names.
    store.register(reference, descriptor)
    store.register(f"{reference}@{descriptor.digest}", descriptor)
    return descriptor.digest


def extract(deb: Path, into: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)


def package_version(deb: Path) -> str:
    result = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True,
                            capture_output=True, text=True)
    fields = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    return f"{fields['Package']}={fields['Version']}"


def kernel_image(store: Store, deb: Path, work: Path) -> str:
    root = work / "kernel"
    extract(deb, root)
    (vmlinuz,) = sorted((root / "boot").glob("vmlinuz-*"))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    # The example boots without modules (serial console, initramfs and gzip are built into
    # Debian's kernel), so kernel.tar only carries the module directory and its index.
    modules = Layer()
    modules.directory("lib/")
    modules.directory("lib/modules/")
    modules.directory(f"lib/modules/{release}/")
    for name in ("modules.builtin", "modules.order"):
        source = root / "lib" / "modules" / release / name
        if source.is_file():
            modules.file(f"lib/modules/{release}/{name}", source.read_bytes())
    layer = Layer()
    layer.file("kernel", vmlinuz.read_bytes())
    layer.file("kernel.tar", modules.tar())
    return add_image(store, KERNEL_REF, layer, {})


def busybox_layer(deb: Path, work: Path) -> Layer:
    root = work / "busybox"
    extract(deb, root)
    binary = (root / "bin" / "busybox").read_bytes()
    listing = subprocess.run([str(root / "bin" / "busybox"), "--list"], check=True,
                             capture_output=True, text=True).stdout.split()
    layer = Layer()
    for directory in ("bin", "dev", "etc", "proc", "run", "sbin", "sys", "tmp", "usr",
                      "usr/bin", "usr/sbin"):
        layer.directory(directory)
    layer.file("bin/busybox", binary, 0o755)
    for applet in sorted(set(listing)):
        if re.fullmatch(r"[a-z0-9_.\[-]+", applet) and applet != "busybox":
            layer.symlink(f"bin/{applet}", "busybox")
    return layer


def init_image(store: Store, deb: Path, work: Path) -> str:
    layer = busybox_layer(deb, work)
    layer.file("init", INIT_SCRIPT.encode(), 0o755)
    return add_image(store, INIT_REF, layer, {})


def hello_image(store: Store, deb: Path, work: Path) -> str:
    layer = busybox_layer(deb, work)
    layer.directory("etc/lkpolicy-example")
    layer.file("etc/lkpolicy-example/run", HELLO_SCRIPT.encode(), 0o755)
    config: dict[str, object] = {"Entrypoint": ["/etc/lkpolicy-example/run"],
                                 "Env": ["PATH=/bin"]}
    return add_image(store, HELLO_REF, layer, config)


def pin(config_path: Path, digests: dict[str, str], versions: list[str]) -> bool:
    """Point every reference of ours in the config at the digest just built, and record the
    package versions they came from on the config's `# Debian packages:` line."""
    text = config_path.read_text()
    new = re.sub(r"^# Debian packages: .*$", "# Debian packages: " + " ".join(versions), text,
                 flags=re.MULTILINE)
    for reference, digest in digests.items():
        pattern = re.escape(reference) + r"(@sha256:[0-9a-f]{64})?(?=[\s\"']|$)"
        new = re.sub(pattern, f"{reference}@{digest}", new, flags=re.MULTILINE)
    if new != text:
        temporary = config_path.with_name(f".{config_path.name}.tmp")
        temporary.write_text(new)
        os.replace(temporary, config_path)
    return new != text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--kernel-deb", required=True, type=Path)
    parser.add_argument("--busybox-deb", required=True, type=Path)
    parser.add_argument("--config", type=Path, help="a config whose pins to rewrite")
    args = parser.parse_args()
    versions = [package_version(args.kernel_deb), package_version(args.busybox_deb)]
    store = Store(args.store)
    with tempfile.TemporaryDirectory(prefix="lkpolicy-examples-") as top:
        work = Path(top)
        digests = {
            KERNEL_REF: kernel_image(store, args.kernel_deb, work),
            INIT_REF: init_image(store, args.busybox_deb, work),
            HELLO_REF: hello_image(store, args.busybox_deb, work),
        }
    (args.store / "versions.txt").write_text("".join(f"{v}\n" for v in versions))
    for version in versions:
        print(f"package {version}")
    for reference, digest in digests.items():
        print(f"image   {reference}@{digest}")
    if args.config is not None:
        changed = pin(args.config, digests, versions)
        print(f"{'pinned' if changed else 'pins up to date in'} {args.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
