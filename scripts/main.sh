#!/usr/bin/env bash
# The main job: set up lkpolicy, build the example images from Debian packages, run the gate
# on the example config, build it, and boot the result in QEMU (software emulation) until the
# booted system prints its marker line.
source "$(dirname "$0")/_setup.sh"
lk_setup "python3 python3-venv python3-pip qemu-system-x86 ca-certificates" "[build]"
store=examples/images/store
out=out/boot
mkdir -p out

# Deterministic images from pinned Debian packages (downloads cached in ~/.cache/lkpolicy-examples).
examples/images/build-images.sh --store "$store"

.venv/bin/lkpolicy check --cache "$store" examples/boot.yml
.venv/bin/lkpolicy check --cache "$store" --lock "$out.lock.json" examples/boot.yml >/dev/null
.venv/bin/lkpolicy build --cache "$store" --lock "$out.lock.json" --dir out --name boot examples/boot.yml

echo "booting out/boot-kernel + out/boot-initrd.img in QEMU (no KVM; about 10 s)..."
log=$(mktemp)
timeout 300 qemu-system-x86_64 -nographic -no-reboot -m 512 -smp 1 \
  -kernel out/boot-kernel -initrd out/boot-initrd.img -append "$(cat out/boot-cmdline)" \
  </dev/null >"$log" 2>&1 || true
if grep -a -m1 "LKPOLICY-BOOT-OK" "$log"; then
  echo "examples/boot.yml passed the gate, was built from the locked digests, and booted"
  rm -f "$log"
else
  echo "the booted system did not print LKPOLICY-BOOT-OK; console log: $log" >&2
  tail -20 "$log" >&2
  exit 1
fi
