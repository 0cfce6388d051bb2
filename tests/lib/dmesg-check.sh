#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dmesg-check.sh MARKER [FILE]
# Reads a kernel log (FILE or stdin), keeps only what follows the first line containing MARKER,
# and prints every kernel report found there: Oops, BUG, WARNING, KASAN, UBSAN, lockdep,
# kmemleak leaks, Rust panics, hung tasks, RCU stalls. Exit status: 0 when clean, 1 when any
# report was found, 2 when the marker is missing (the log cannot be judged).
#
# Reports printed before the marker (e.g. the debug kernel's boot-time KASAN splat under TCG)
# are ignored on purpose: kring is judged on what happens after it is loaded.
set -euo pipefail
marker="${1:?usage: dmesg-check.sh MARKER [FILE]}"
file="${2:-/dev/stdin}"

awk -v marker="$marker" '
	!seen && index($0, marker) { seen = 1; next }
	!seen { next }
	/Oops|BUG:|WARNING:|KASAN|UBSAN|[Ll]ockdep|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|kmemleak: [0-9]+ new suspected|unreferenced object|panicked at|Kernel panic|general protection fault|hung_task|blocked for more than|rcu_sched self-detected stall|RCU stall|refcount_t:|list_add corruption|list_del corruption|stack-protector|Call Trace:/ {
		print "dmesg: " $0; bad = 1
	}
	END {
		if (!seen) { print "dmesg: marker \"" marker "\" not found: log cannot be judged"; exit 2 }
		exit bad ? 1 : 0
	}
' "$file"
