#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent setup of everything kring needs on a Debian bookworm machine:
# packages, Rust pieces, virtme-ng, the kernel source and the cached test kernel.
# Each step prints one line and skips what is already present.
#
#   tools/setup.sh            everything (what `make setup` runs)
#   tools/setup.sh --no-kernel  tools only, no kernel build
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_kernel=1
[ "${1:-}" = "--no-kernel" ] && build_kernel=0

APT_PACKAGES=(
	"clang$LLVM_SUFFIX" "lld$LLVM_SUFFIX" "llvm$LLVM_SUFFIX" "libclang$LLVM_SUFFIX-dev"
	flex bison bc libelf-dev libssl-dev cpio kmod dwarves
	qemu-system-x86 busybox-static udev
	make gcc libc6-dev linux-libc-dev xz-utils python3-pip
)

need_root() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null || die "$1 needs root (or sudo)"
}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# 1. Debian packages
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	step "debian packages" "present (${#APT_PACKAGES[@]})"
else
	need_root "installing packages"
	step "debian packages" "installing: ${missing[*]}"
	$SUDO apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >"$KRING_CACHE.apt.log" 2>&1 ||
		{ tail -20 "$KRING_CACHE.apt.log" >&2; die "apt-get install failed"; }
fi
mkdir -p "$KRING_CACHE"

# 2. Rust: the kernel needs the standard library source to build `core` itself.
command -v rustup >/dev/null || die "rustup not found: kring needs the rustup-managed toolchain"
if rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	step "rust-src" "present ($(rustc --version | cut -d' ' -f2))"
else
	step "rust-src" "installing"
	rustup component add rust-src >/dev/null
fi

# 3. bindgen, pinned
if command -v bindgen >/dev/null && bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	step "bindgen-cli" "present ($BINDGEN_VERSION)"
else
	step "bindgen-cli" "installing $BINDGEN_VERSION (a few minutes)"
	cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

# 4. virtme-ng, pinned
if command -v vng >/dev/null && [ "$(vng --version 2>/dev/null | awk '{print $2}')" = "$VIRTME_NG_VERSION" ]; then
	step "virtme-ng" "present ($VIRTME_NG_VERSION)"
else
	step "virtme-ng" "installing $VIRTME_NG_VERSION from PyPI"
	python3 -m pip install --quiet --disable-pip-version-check "virtme-ng==$VIRTME_NG_VERSION" 2>&1 |
		grep -v 'Running pip as the' || true
	command -v pyenv >/dev/null && pyenv rehash 2>/dev/null || true
	hash -r
	command -v vng >/dev/null || die "virtme-ng installed but vng is not on PATH"
fi

# 5. Kernel source: Debian's package from trixie-backports, through a private apt config.
deb="$KRING_CACHE/src/${KERNEL_PKG}_${KERNEL_PKG_VERSION}_all.deb"
if [ -s "$deb" ]; then
	step "kernel source" "present ($KERNEL_PKG $KERNEL_PKG_VERSION)"
else
	step "kernel source" "downloading $KERNEL_PKG $KERNEL_PKG_VERSION from $KERNEL_APT_SUITE"
	mkdir -p "$KRING_CACHE/apt/lists/partial" "$KRING_CACHE/apt/cache/archives/partial" "$KRING_CACHE/src"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $KERNEL_APT_MIRROR $KERNEL_APT_SUITE main" \
		>"$KRING_CACHE/apt/sources.list"
	kring_apt update -qq >/dev/null 2>&1 || die "apt-get update of the private $KERNEL_APT_SUITE list failed"
	kring_apt -qq --print-uris download "$KERNEL_PKG=$KERNEL_PKG_VERSION" >/dev/null 2>&1 ||
		die "package $KERNEL_PKG=$KERNEL_PKG_VERSION not found in $KERNEL_APT_SUITE ($KERNEL_APT_MIRROR)"
	(cd "$KRING_CACHE/src" && kring_apt -qq download "$KERNEL_PKG=$KERNEL_PKG_VERSION" 2>&1 |
		grep -v 'unsandboxed' || true)
	[ -s "$deb" ] || die "download of $KERNEL_PKG=$KERNEL_PKG_VERSION failed"
fi

# 6. The test kernel (cached; built only when its cache key changes)
if [ $build_kernel = 1 ]; then
	"$KRING_ROOT/tools/kernel.sh" build
fi
