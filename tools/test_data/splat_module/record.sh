#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Re-record, from real boots of the debug kernel (build it first: make
# build), the console excerpts of ../splat/ that splat_test.ko provokes:
#
#   record.sh               every case below
#   record.sh CASE...       these (names of the first column)
#   record.sh --console     the whole logs ../console_{clean,kasan,lockdep,warning}.log
#
# An excerpt is the console from the module's "splat_test: provoking
# WHICH" line to the end of the boot (reports of other CPUs and
# follow-ups, and the power-off lines).  Check what each one holds
# against the table of tools/splat_test.py, and update that table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/build/linux/out-debug
corpus=$here/../splat
# where `wqbh boot` (flavour debug, tree build/linux) leaves its logs
console=$repo/build/logs/boot-linux-debug/console.log

# CASE (the module's which=)  FILE in ../splat/  shell run before insmod
cases='
kasan			kasan.log
lockdep			lockdep_circular.log
warning			warning.log
gpf			gpf_kasan.log
oops			oops_null.log
bug			kernel_bug.log
refcount		refcount.log
list_corruption		list_corruption.log
nonstatic_key		lockdep_nonstatic_key.log
lockdep_subclass	lockdep_off.log
sleeping_in_atomic	sleeping_in_atomic.log
scheduling_while_atomic	scheduling_while_atomic.log
wq_leak			workqueue_leaked.log
bh_wq_leak		workqueue_leaked_bh.log
rcu_leak		workqueue_leaked_rcu.log
rcu_stall		rcu_stall.log
soft_lockup		soft_lockup.log
hung_task		hung_task.log	echo 2 >/proc/sys/kernel/hung_task_timeout_secs;
wq_lockup		workqueue_lockup.log
odebug			odebug.log
panic			panic.log
'

boot() {
	PYTHONPATH="$repo/tools" /usr/bin/python3 -m wqbh --no-deps boot --timeout 300 -- "$1" \
		>/dev/null 2>&1 || true
}

make -s -C "$out" M="$here" modules
trap 'make -s -C "$out" M="$here" clean' EXIT

if [ "${1:-}" = --console ]; then
	for kind in clean kasan lockdep warning; do
		if [ $kind = clean ]; then job='true'; else job="insmod $here/splat_test.ko which=$kind"; fi
		boot "$job"
		cp "$console" "$here/../console_$kind.log"
	done
	exit 0
fi

mkdir -p "$corpus"
echo "$cases" | while read -r name file pre; do
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		want=
		for c in "$@"; do [ "$c" = "$name" ] && want=1; done
		[ -n "$want" ] || continue
	fi
	echo "recording $name -> splat/$file"
	boot "${pre:+$pre }insmod $here/splat_test.ko which=$name"
	# from the module's first line on, without the boot before it
	tr -d '\r' <"$console" | sed -n "/splat_test: provoking $name\$/,\$p" >"$corpus/$file"
	if ! [ -s "$corpus/$file" ]; then
		echo "  no \"splat_test: provoking $name\" line in $console" >&2
		exit 1
	fi
done
