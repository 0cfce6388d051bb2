#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Setup from nothing: tools/setup.sh --dry-run, run as a user whose HOME is empty and whose
# ~/.cache and $XDG_CACHE_HOME do not exist, must create its cache and log directories before
# writing to them, get past every step that needs no network, write nothing outside the cache
# directory, and stay idempotent. (Before this test, setup wrote ~/.cache/kring.apt.log before
# anything created ~/.cache, and died in its first second on a fresh machine.)
# What is installed system-wide (packages, the rustup toolchain) is left in place; the kernel
# is not built. Prints PASS/FAIL lines and "fresh-setup: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "PASS fresh setup: $1"; }
ko() { failed=$((failed + 1)); echo "FAIL fresh setup: $1"; }
check() { # check NAME FAILURE-TEXT COMMAND...: PASS NAME if COMMAND succeeds
	if "${@:3}"; then ok "$1"; else ko "$1: $2"; fi
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The installed toolchain stays where it is: rustup and cargo find it through these.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
[ -d "$HOME/.pyenv" ] && export PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}"

fresh() { # fresh HOME [XDG_CACHE_HOME]: runs setup --dry-run in a clean environment
	env -u KRING_CACHE -u XDG_CACHE_HOME HOME="$1" ${2:+XDG_CACHE_HOME="$2"} \
		"$root/tools/setup.sh" --dry-run
}
outside() { # files under $1 that are not inside cache dir $2
	find "$1" -mindepth 1 | grep -v -x -e "$2" -e "$2/.*" -e "$(dirname "$2")" || true
}

# 1. HOME exists and is empty: no ~/.cache at all.
home="$tmp/home"
mkdir -p "$home"
if out="$(fresh "$home" 2>&1)"; then
	ok "dry run from an empty HOME exits 0"
else
	ko "dry run from an empty HOME failed: $(tail -3 <<<"$out")"
fi
cache="$home/.cache/kring"
check "creates ~/.cache/kring/logs" "no $cache/logs" test -d "$cache/logs"
check "the apt log is written inside the cache" "no apt log in $cache/logs" test -s "$cache/logs/apt.log"
stray="$(outside "$home" "$cache")"
check "writes nothing outside the cache directory" "wrote outside $cache: $stray" test -z "$stray"
for s in cache "debian packages" rust-src bindgen-cli virtme-ng "kernel source" "test kernel"; do
	if grep -q "^\[kring\] $s " <<<"$out"; then
		ok "reports the step '$s'"
	else
		ko "no line for the step '$s' in: $out"
	fi
done
if grep -q ERROR <<<"$out"; then ko "a step reported an error: $out"; else ok "no step reports an error"; fi
if grep -q "kernel source .*would download" <<<"$out" && grep -q "test kernel .*would build" <<<"$out"; then
	ok "network and build steps are planned, not done"
else
	ko "dry run did not plan the download and the build: $out"
fi
if out2="$(fresh "$home" 2>&1)" && [ -z "$(outside "$home" "$cache")" ]; then
	ok "a second dry run on the same HOME succeeds (idempotent)"
else
	ko "second dry run: $(tail -3 <<<"$out2")"
fi

# 2. XDG_CACHE_HOME names a directory two levels below anything that exists.
home2="$tmp/home2"
mkdir -p "$home2"
xdg="$tmp/xdg/deep"
if out="$(fresh "$home2" "$xdg" 2>&1)" && [ -s "$xdg/kring/logs/apt.log" ]; then
	ok "a missing XDG_CACHE_HOME is created, logs inside it"
else
	ko "XDG_CACHE_HOME=$xdg: $(tail -3 <<<"$out")"
fi
stray="$(find "$home2" -mindepth 1)"
check "with XDG_CACHE_HOME, HOME is left untouched" "wrote into HOME: $stray" test -z "$stray"

# 3. An unwritable cache place is a clear error, not a stack of shell messages.
if [ "$(id -u)" != 0 ]; then
	mkdir -p "$tmp/ro" && chmod 0555 "$tmp/ro"
	if out="$(fresh "$home2" "$tmp/ro/c" 2>&1)"; then
		ko "an unwritable XDG_CACHE_HOME was accepted"
	else
		check "an unwritable cache place is refused clearly" "$out" grep -q 'cannot create' <<<"$out"
	fi
fi
if "$root/tools/setup.sh" --bogus >/dev/null 2>&1; then
	ko "an unknown option was accepted"
else
	ok "an unknown option is refused"
fi

echo "fresh-setup: $passed passed, $failed failed"
[ "$failed" = 0 ]
