#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The cached kernels. KRING_KERNEL=test (default) or bench selects the flavour (tools/lib.sh).
#   tools/kernel.sh path    print the build tree's path (KDIR), built or not
#   tools/kernel.sh build   build it unless the cache already holds it
#
# A tree lives in ~/.cache/kring/linux-<version>-<key>/ (test) or linux-<version>-bench-<key>/,
# where <key> hashes the kernel package version, the flavour's config fragment
# (tools/kernel.config or tools/kernel-bench.config), the clang, rustc, bindgen and virtme-ng
# versions. Both come from the same source package; only the fragment differs.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KDIR_CACHED="$(kernel_dir)"
FRAGMENT="$(kernel_config)"
WHAT="$KRING_KERNEL kernel"
STAMP="$KDIR_CACHED/.kring-built"

case "${1:-}" in
path)
	echo "$KDIR_CACHED"
	exit 0
	;;
build) ;;
*)
	echo "usage: $0 path|build" >&2
	exit 2
	;;
esac

if [ -f "$STAMP" ]; then
	step "$WHAT" "cached ($KDIR_CACHED)"
	exit 0
fi

deb="$KRING_CACHE/src/${KERNEL_PKG}_${KERNEL_PKG_VERSION}_all.deb"
[ -s "$deb" ] || die "kernel source package missing: $deb (run tools/setup.sh)"

start=$(date +%s)
if [ ! -f "$KDIR_CACHED/Makefile" ]; then
	step "$WHAT" "unpacking $KERNEL_PKG $KERNEL_PKG_VERSION"
	tmp="$KDIR_CACHED.unpack"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$KERNEL_PKG.tar.xz" | tar -xJ -C "$tmp"
	mv "$tmp/$KERNEL_PKG" "$KDIR_CACHED"
	rm -rf "$tmp"
fi

cd "$KDIR_CACHED"
export LLVM="$LLVM_SUFFIX"
if [ ! -f .config ] || [ ! -f .kring-configured ]; then
	step "$WHAT" "configuring (virtme-ng minimal + tools/$(basename "$FRAGMENT"))"
	# virtme-ng's minimal config first, then our fragment merged on top of it: vng applies
	# its own template last (it forces DEBUG_INFO, for one), so the fragment must win after.
	{ vng --kconfig --config "$FRAGMENT" &&
		scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" &&
		make LLVM="$LLVM_SUFFIX" olddefconfig; } >.kring-config.log 2>&1 ||
		{ tail -20 .kring-config.log >&2; die "kernel configuration failed"; }
	# Fail early and clearly when Kconfig silently dropped an option kring relies on
	# (e.g. CONFIG_RUST when the Rust toolchain is not usable: see `make rustavailable`),
	# or, for the bench kernel, when a debug option that distorts timings crept in.
	case "$KRING_KERNEL" in
	test)
		want=(RUST MODULE_UNLOAD KASAN KASAN_GENERIC PROVE_LOCKING DEBUG_ATOMIC_SLEEP
			RUST_DEBUG_ASSERTIONS RUST_OVERFLOW_CHECKS UBSAN DEBUG_KMEMLEAK DETECT_HUNG_TASK SOFTLOCKUP_DETECTOR)
		unwanted=()
		;;
	bench)
		want=(RUST MODULE_UNLOAD POSIX_MQUEUE)
		unwanted=(KASAN KCSAN KMSAN UBSAN LOCKDEP PROVE_LOCKING DEBUG_LOCK_ALLOC DEBUG_SPINLOCK
			DEBUG_MUTEXES DEBUG_ATOMIC_SLEEP DEBUG_PREEMPT DEBUG_KMEMLEAK DEBUG_PAGEALLOC
			DEBUG_OBJECTS RUST_DEBUG_ASSERTIONS RUST_OVERFLOW_CHECKS FAULT_INJECTION
			SLUB_DEBUG_ON PAGE_POISONING INIT_ON_ALLOC_DEFAULT_ON INIT_ON_FREE_DEFAULT_ON)
		;;
	esac
	for opt in "${want[@]}"; do
		grep -q "^CONFIG_$opt=y" .config || {
			make LLVM="$LLVM_SUFFIX" rustavailable >&2 || true
			die "CONFIG_$opt is not enabled in the generated .config ($KDIR_CACHED/.config)"
		}
	done
	for opt in "${unwanted[@]}"; do
		if grep -q "^CONFIG_$opt=y" .config; then
			die "CONFIG_$opt is enabled in the $WHAT's .config ($KDIR_CACHED/.config): it distorts timings"
		fi
	done
	touch .kring-configured
fi

jobs=$(nproc)
step "$WHAT" "building with LLVM=$LLVM_SUFFIX -j$jobs (tens of minutes when cold)"
make -j"$jobs" LLVM="$LLVM_SUFFIX" >.kring-build.log 2>&1 ||
	{ tail -40 .kring-build.log >&2; die "kernel build failed (log: $KDIR_CACHED/.kring-build.log)"; }
end=$(date +%s)
echo "built in $((end - start)) s on $(date -u +%FT%TZ)" >"$STAMP"
step "$WHAT" "built in $(((end - start) / 60)) min $(((end - start) % 60)) s"
