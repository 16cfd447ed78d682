"""Root file system images beside the kernel: `kernel+squashfs` (mksquashfs), `kernel+erofs`
(mkfs.erofs) and `kernel+iso` (xorriso, an ISO 9660 image with Rock Ridge and Joliet as
linuxkit's genisoimage call makes it). Like linuxkit's mkimage images, each gets the build
tar without `boot/` and writes `<base>-kernel` and `<base>-cmdline` beside the image.

The tar is unpacked into a directory the tools read, as `tar x` would unpack it; modes,
owners and times come from the tar. Without root, ownership other than 0:0 cannot be set on
the tree, so such builds are refused (every tool is then told that all files belong to
root), and device nodes become mksquashfs pseudo definitions for squashfs and are refused
for the other two (FIFOs need no privilege).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lkpolicy.assemble.builder import BuildError
from lkpolicy.assemble.hosttools import (
    Identity,
    Say,
    StagingArea,
    Writer,
    image_path,
    keep_kernel_and_cmdline,
    run,
    xorriso_sort_weights,
)
from lkpolicy.assemble.tarreader import TarReader
from lkpolicy.assemble.tarstream import TarError
from lkpolicy.gocompat.paths import clean as go_clean

if TYPE_CHECKING:
    from lkpolicy.assemble.outputs import BootParts

__all__ = ["WRITERS", "RootTree", "extract_rootfs"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Special:
    """A device node or FIFO of the tar, for the writer to create its own way."""

    name: str
    kind: str
    """`C` (character device), `B` (block device) or `I` (FIFO), as in mksquashfs pseudo
    definitions."""
    mode: int
    uid: int
    gid: int
    mtime: int
    major: int = 0
    minor: int = 0


@dataclass(slots=True)
class RootTree:
    root: Path
    specials: list[Special] = field(default_factory=list)
    all_root: bool = True
    """Every entry is owned by 0:0."""


def extract_rootfs(tar_path: Path, root: Path, epoch: int, fmt: str, *,
                   create_specials: bool) -> RootTree:
    """Unpack the build tar without `boot/` into `root` as `tar x` would (later entries
    replace earlier ones). Special files are returned, and also created when asked to.
    Ownership is set on the tree when we are root; otherwise every entry must be
    root-owned."""
    meta: dict[str, tuple[str, int, int, int, int]] = {}
    specials: dict[str, Special] = {}
    with open(tar_path, "rb") as stream:
        reader = TarReader(stream)
        while True:
            try:
                header = reader.next()
            except TarError as error:
                raise BuildError(f"{fmt}: {error}") from None
            if header is None:
                break
            name = go_clean(header.name)
            if name == "boot" or name.startswith("boot/") or name in (".", "/"):
                continue
            if name.startswith(("/", "../")) or name == "..":
                raise BuildError(f"{fmt}: unsafe path {header.name!r}")
            target = root / name
            _check_parents(root, name, fmt)
            entry = (header.typeflag, header.mode & 0o7777, header.uid, header.gid,
                     header.mtime)
            if header.typeflag == "5":
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(exist_ok=True)
                os.chmod(target, 0o755)
                specials.pop(name, None)
                meta[name] = entry
                continue
            _clear(target)
            for stale in [key for key in (*meta, *specials) if key.startswith(name + "/")]:
                meta.pop(stale, None)
                specials.pop(stale, None)
            meta.pop(name, None)
            specials.pop(name, None)
            if header.typeflag == "0":
                with open(target, "xb") as out:
                    left = header.size
                    while left:
                        chunk = reader.read(min(left, _CHUNK))
                        if not chunk:
                            raise BuildError(f"{fmt}: truncated entry {name!r}")
                        out.write(chunk)
                        left -= len(chunk)
                meta[name] = entry
            elif header.typeflag == "2":
                os.symlink(header.linkname, target)
                meta[name] = entry
            elif header.typeflag == "1":
                source_name = go_clean(header.linkname)
                _check_parents(root, source_name, fmt)
                source = root / source_name
                if source_name.startswith(("/", "../")) or not source.is_file() \
                        or source.is_symlink():
                    raise BuildError(f"{fmt}: hard link {name!r} to a missing or "
                                     f"unsupported target {header.linkname!r}")
                # The link shares the target's inode and so its mode, owner and time.
                os.link(source, target)
            elif header.typeflag in ("3", "4", "6"):
                specials[name] = Special(name, {"3": "C", "4": "B", "6": "I"}[header.typeflag],
                                         header.mode & 0o7777, header.uid, header.gid,
                                         header.mtime, header.devmajor, header.devminor)
            else:
                raise BuildError(f"{fmt}: cannot convert tar entry {name!r} "
                                 f"(type {header.typeflag!r})")
    owners = [(uid, gid) for _t, _m, uid, gid, _mt in meta.values()]
    owners += [(special.uid, special.gid) for special in specials.values()]
    all_root = all(owner == (0, 0) for owner in owners)
    privileged = os.geteuid() == 0
    if not all_root and not privileged:
        raise BuildError(f"{fmt}: the image has files not owned by root; keeping their "
                         f"owners needs running as root")
    tree = RootTree(root, [specials[name] for name in sorted(specials)], all_root)
    if create_specials:
        # Before the times are set: creating an entry changes its directory's time.
        _create_specials(tree, fmt)
    # Deepest first, so a read-only directory is closed only after its children are done.
    for name in sorted(meta, key=lambda n: (-n.count("/"), n)):
        typeflag, mode, uid, gid, mtime = meta[name]
        path = root / name
        if privileged:
            os.lchown(path, uid, gid)
        if typeflag != "2":
            os.chmod(path, mode)
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    # The tar has no entry for the root itself (nor always for parent directories, which
    # `_check_parents` created): those get the build epoch.
    for path in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()
                         and p.relative_to(root).as_posix() not in meta)]:
        os.utime(path, (epoch, epoch))
    os.chmod(root, 0o755)
    return tree


def _check_parents(root: Path, name: str, fmt: str) -> None:
    # `tar x` in linuxkit's container would follow a symlinked parent inside the container;
    # here that would leave the extraction directory, so it is refused.
    current = root
    for part in name.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise BuildError(f"{fmt}: {name!r} lies below the symlink "
                             f"{current.relative_to(root).as_posix()!r}; not supported")
        if not current.exists():
            current.mkdir()
            os.chmod(current, 0o755)


def _clear(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()


def _create_specials(tree: RootTree, fmt: str) -> None:
    """Device nodes and FIFOs as real files, for tools that have no pseudo definitions."""
    import stat

    for special in tree.specials:
        path = tree.root / special.name
        if special.kind == "I":
            os.mkfifo(path)
        elif os.geteuid() != 0:
            raise BuildError(f"{fmt}: the image has the device node {special.name!r}; "
                             f"creating it needs running as root")
        else:
            kind = stat.S_IFCHR if special.kind == "C" else stat.S_IFBLK
            os.mknod(path, kind, os.makedev(special.major, special.minor))
        if os.geteuid() == 0:
            os.lchown(path, special.uid, special.gid)
        os.chmod(path, special.mode)
        os.utime(path, (special.mtime, special.mtime))


def _extracted(boot: BootParts, staging: StagingArea, fmt: str,
               create_specials: bool = True) -> tuple[Path, RootTree]:
    work = staging.workdir()
    root = work / "root"
    root.mkdir()
    return work, extract_rootfs(boot.tar, root, boot.epoch, fmt,
                                create_specials=create_specials)


def _keep(boot: BootParts, staging: StagingArea, base: Path, fmt: str, image: Path,
          say: Say) -> None:
    kernel, cmdline = keep_kernel_and_cmdline(boot, staging, base)
    final = image_path(base, fmt)
    staging.keep(image, final)
    # One line for the three files, as linuxkit prints kernel+initrd.
    say("  " + " ".join(name for name in (kernel, cmdline, str(final)) if name))


def _pseudo_name(name: str) -> str:
    if any(char.isspace() or char in '"\\' for char in name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def _kernel_squashfs(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    work, tree = _extracted(boot, staging, "kernel+squashfs", create_specials=False)
    pseudo = work / "pseudo"
    with open(pseudo, "w", encoding="utf-8", errors="surrogateescape") as out:
        for special in tree.specials:
            owner = f"{special.mode:o} {special.uid} {special.gid}"
            detail = "f" if special.kind == "I" else f"{special.major} {special.minor}"
            out.write(f"{_pseudo_name(special.name)} {special.kind} {special.mtime} {owner} "
                      f"{detail}\n")
    image = staging.path("-squashfs.img")
    command = ["mksquashfs", str(tree.root), str(image), "-noappend", "-no-progress", "-quiet",
               "-no-xattrs", "-reproducible", "-mkfs-time", str(boot.epoch), "-pf",
               str(pseudo)]
    if tree.all_root:
        command.append("-all-root")
    # mksquashfs clamps every file time to SOURCE_DATE_EPOCH; only do that when the caller
    # asked for it, otherwise image mtimes pass through as they do in the tar and initrd.
    epoch_set = "SOURCE_DATE_EPOCH" in os.environ
    run(command, boot.epoch if epoch_set else None, "kernel+squashfs")
    _keep(boot, staging, base, "kernel+squashfs", image, say)


def _kernel_erofs(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    _work, tree = _extracted(boot, staging, "kernel+erofs")
    image = staging.path("-erofs.img")
    # mkfs.erofs 1.5 takes SOURCE_DATE_EPOCH as the build time only (its -T would also
    # replace every file's time); xattrs are left out as the tar carries none the tree keeps.
    command = ["mkfs.erofs", "--quiet", "-x-1", "-U", str(Identity.of(boot).uuid("erofs"))]
    if tree.all_root:
        command.append("--all-root")
    run([*command, str(image), str(tree.root)], boot.epoch, "kernel+erofs")
    _keep(boot, staging, base, "kernel+erofs", image, say)


def _kernel_iso(boot: BootParts, staging: StagingArea, base: Path, say: Say) -> None:
    _work, tree = _extracted(boot, staging, "kernel+iso")
    image = staging.path(".iso")
    command = ["xorriso", "-as", "mkisofs", "-quiet", "-o", str(image), "-l", "-J", "-R",
               "-joliet-long", "-input-charset", "utf8", "-V", "LinuxKit"]
    if tree.all_root:
        command += ["-uid", "0", "-gid", "0"]
    command += xorriso_sort_weights(tree.root, staging.workdir())
    run([*command, str(tree.root)], boot.epoch, "kernel+iso")
    _keep(boot, staging, base, "kernel+iso", image, say)


WRITERS: dict[str, Writer] = {
    "kernel+squashfs": _kernel_squashfs,
    "kernel+erofs": _kernel_erofs,
    "kernel+iso": _kernel_iso,
}
