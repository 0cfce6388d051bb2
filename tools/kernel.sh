#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The cached test kernel.
#   tools/kernel.sh path    print the build tree's path (KDIR), built or not
#   tools/kernel.sh build   build it unless the cache already holds it
#
# The tree lives in ~/.cache/kring/linux-<version>-<key>/, where <key> hashes the kernel
# package version, tools/kernel.config, the clang, rustc, bindgen and virtme-ng versions.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KDIR_CACHED="$(kernel_dir)"
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
	step "test kernel" "cached ($KDIR_CACHED)"
	exit 0
fi

deb="$KRING_CACHE/src/${KERNEL_PKG}_${KERNEL_PKG_VERSION}_all.deb"
[ -s "$deb" ] || die "kernel source package missing: $deb (run tools/setup.sh)"

start=$(date +%s)
if [ ! -f "$KDIR_CACHED/Makefile" ]; then
	step "test kernel" "unpacking $KERNEL_PKG $KERNEL_PKG_VERSION"
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
	step "test kernel" "configuring (virtme-ng minimal + tools/kernel.config)"
	# virtme-ng's minimal config first, then our fragment merged on top of it: vng applies
	# its own template last (it forces DEBUG_INFO, for one), so the fragment must win after.
	{ vng --kconfig --config "$KRING_ROOT/tools/kernel.config" &&
		scripts/kconfig/merge_config.sh -m .config "$KRING_ROOT/tools/kernel.config" &&
		make LLVM="$LLVM_SUFFIX" olddefconfig; } >.kring-config.log 2>&1 ||
		{ tail -20 .kring-config.log >&2; die "kernel configuration failed"; }
	# Fail early and clearly when Kconfig silently dropped an option kring relies on
	# (e.g. CONFIG_RUST when the Rust toolchain is not usable: see `make rustavailable`).
	for opt in RUST KASAN KASAN_GENERIC PROVE_LOCKING DEBUG_ATOMIC_SLEEP RUST_DEBUG_ASSERTIONS \
		RUST_OVERFLOW_CHECKS UBSAN DEBUG_KMEMLEAK MODULE_UNLOAD; do
		grep -q "^CONFIG_$opt=y" .config || {
			make LLVM="$LLVM_SUFFIX" rustavailable >&2 || true
			die "CONFIG_$opt is not enabled in the generated .config ($KDIR_CACHED/.config)"
		}
	done
	touch .kring-configured
fi

jobs=$(nproc)
step "test kernel" "building with LLVM=$LLVM_SUFFIX -j$jobs (tens of minutes when cold)"
make -j"$jobs" LLVM="$LLVM_SUFFIX" >.kring-build.log 2>&1 ||
	{ tail -40 .kring-build.log >&2; die "kernel build failed (log: $KDIR_CACHED/.kring-build.log)"; }
end=$(date +%s)
echo "built in $((end - start)) s on $(date -u +%FT%TZ)" >"$STAMP"
step "test kernel" "built in $(((end - start) / 60)) min $(((end - start) % 60)) s"
