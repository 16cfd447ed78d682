#!/usr/bin/env bash
# Build the example image store (examples/images/store/) from Debian packages and pin
# examples/boot.yml to the resulting digests.
#
#   examples/images/build-images.sh [--cache DIR] [--store DIR] [--config FILE] [--no-pin]
#
# Packages come from `apt-get download` (Debian 12 archive as configured on this host) into
# the download cache (default ~/.cache/lkpolicy-examples/), reused between runs: a package is
# fetched only when the archive's candidate version is not in the cache yet. The images are
# deterministic, so their digests depend only on the package versions, which are printed
# (and kept in STORE/versions.txt); when the archive moves to a new version, the digests change
# and the pins in the config are rewritten.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "$here/../.." && pwd)"
cache="${LKPOLICY_EXAMPLES_CACHE:-$HOME/.cache/lkpolicy-examples}"
store="$here/store"
config="$project/examples/boot.yml"
pin=1
python="${PYTHON:-}"

while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --store) store="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --no-pin) pin=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-images.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "$python" ]; then
  if [ -x "$project/.venv/bin/python" ]; then python="$project/.venv/bin/python"; else python=python3; fi
fi
for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "build-images.sh: $tool not found (Debian/Ubuntu host needed)" >&2; exit 1; }
done

mkdir -p "$cache"

# The kernel package linux-image-amd64 is a metapackage; the kernel is its dependency.
candidate() { apt-cache policy "$1" | awk '/Candidate:/ {print $2}'; }
kernel_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
if [ -z "$kernel_pkg" ]; then
  echo "build-images.sh: cannot resolve linux-image-amd64 (run apt-get update first)" >&2
  exit 1
fi

fetch() {
  local package="$1" version file
  version="$(candidate "$package")"
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    echo "build-images.sh: no candidate version of $package (run apt-get update first)" >&2
    return 1
  fi
  # apt-get download names files PACKAGE_VERSION_ARCH.deb with ':' written as %3a.
  file="$cache/${package}_${version//:/%3a}_amd64.deb"
  if [ ! -s "$file" ]; then
    echo "downloading $package=$version" >&2
    (cd "$cache" && apt-get download -q "$package=$version" >&2)
  fi
  [ -s "$file" ] || { echo "build-images.sh: download of $package=$version failed" >&2; return 1; }
  printf '%s\n' "$file"
}

kernel_deb="$(fetch "$kernel_pkg")"
busybox_deb="$(fetch busybox-static)"

args=(--store "$store" --kernel-deb "$kernel_deb" --busybox-deb "$busybox_deb")
[ "$pin" = 1 ] && args+=(--config "$config")
exec "$python" "$here/make_images.py" "${args[@]}"
