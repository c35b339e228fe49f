#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Re-record the canned console logs ../console_{clean,kasan,lockdep,warning}.log
# from real boots of the debug kernel (build it first: make build).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/build/linux/out-debug
make -s -C "$out" M="$here" modules
for kind in clean kasan lockdep warning; do
	if [ $kind = clean ]; then job='true'; else job="insmod $here/splat_test.ko which=$kind"; fi
	/usr/bin/python3 "$repo/tools/wqbh.py" --no-deps boot -- "$job" >/dev/null 2>&1 || true
	# Keep the console from the first line to the end, without timestamps' drift.
	cp "$repo/build/logs/boot-debug/console.log" "$here/../console_$kind.log"
done
make -s -C "$out" M="$here" clean
