#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs INSIDE the VM for `make run`: loads kring, shows it working, unloads it, in plain words.
#   tools/demo-guest.sh MODULE.ko KRING-TOOL
set -euo pipefail
cd "$(dirname "$0")/.."
module="$1"
kring="$2"
say() { printf '\n### %s\n' "$*"; }

marker="kring-demo-marker-$$"
echo "$marker" >/dev/kmsg
say "We are inside a VM running the kring test kernel: $(uname -r)."
say "Loading the kring module (insmod $module). The kernel logs:"
insmod "$module"
dmesg | sed -n "/$marker/,\$p" | grep kring | grep -v "$marker"
say "The module registered a character device; user programs talk to kring through it:"
ls -l /dev/kring
say "Running the kring tool's demo (user space, through the safe Rust helper crate):"
"$kring" demo
say "While a program holds /dev/kring open, the module cannot be unloaded:"
exec 3</dev/kring
if rmmod kring 2>/dev/null; then
	echo "   unexpected: rmmod succeeded while the device was open"
	exit 1
fi
echo "   ok: rmmod refused (module in use, refcount $(cat /sys/module/kring/refcnt))."
exec 3<&-
say "Closing it and unloading the module (rmmod kring):"
rmmod kring
dmesg | sed -n "/$marker/,\$p" | grep 'kring.*unloaded'
[ ! -e /dev/kring ] && echo "   ok: /dev/kring is gone."
if dmesg | tests/lib/dmesg-check.sh "$marker" >/dev/null; then
	say "The kernel log shows no warning, KASAN, UBSAN, lockdep or other report since the load. Done."
else
	say "The kernel log shows reports since the load:"
	dmesg | tests/lib/dmesg-check.sh "$marker" || true
	exit 1
fi
