#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# TCP Small Queues' BH work item under a real workload: the guest sends
# 256 MiB over virtio-net (QEMU user networking) to the host peer of
# tools/wqbh/conv.py at 10.0.2.2:PORT, which hashes what it receives and
# answers with the digest; both ends must agree.  TSQ is a sender-side
# mechanism, so the guest sends.
#
#   sh conv_tsq.sh check PORT   KTAP: the transfer, and that
#                               tcp_tsq_workfn() (the converted tasklet) ran
#   sh conv_tsq.sh bench PORT   wqbh-bench: workload tsq ... lines
mode=${1:-check}
port=${2:-}
MIB=256
. "$(dirname "$0")/conv_lib.sh"
PROBE=wqbh_tsq
FN=tcp_tsq_workfn
here=$(dirname "$0")
out=${TMPDIR:-/tmp}/conv_tsq.$$

net_up() {	# the first non-loopback interface, 10.0.2.15/24 via 10.0.2.2
	ip link set lo up
	dev=
	for d in /sys/class/net/*; do
		d=${d##*/}
		[ "$d" = lo ] || { dev=$d; break; }
	done
	[ -n "$dev" ] || { echo "# no network interface"; return 1; }
	ip link set "$dev" up &&
	ip addr add 10.0.2.15/24 dev "$dev" &&
	ip route add default via 10.0.2.2 || return 1
	echo "# $dev: $(ip -br addr show dev "$dev")"
}

send() {
	timeout 300 python3 "$here/conv_tsq_send.py" 10.0.2.2 "$port" $MIB >"$out" 2>&1
}

if [ -z "$port" ]; then
	echo "# usage: conv_tsq.sh MODE PORT"
	exit 2
fi

if [ "$mode" = bench ]; then
	net_up >/dev/null || exit 1
	if ! send; then
		echo "# transfer failed:"
		sed 's/^/#   /' "$out"
		exit 1
	fi
	set -- $(grep '^sent ' "$out")
	ms=$3
	[ "$ms" -gt 0 ] || ms=1
	echo "wqbh-bench: workload tsq mib $MIB elapsed_ms $ms kib_per_s $(($2 / 1024 * 1000 / ms))"
	exit 0
fi

echo "KTAP version 1"
echo "1..3"
if net_up; then
	echo "ok 1 virtio-net up as 10.0.2.15/24"
else
	echo "not ok 1 virtio-net up as 10.0.2.15/24"
fi
probed=0
trace_on "$PROBE" "$FN" && probed=1
if send; then
	sed 's/^/# /' "$out"
	set -- $(grep '^sent ' "$out")
	echo "# $MIB MiB in $3 ms"
	echo "ok 2 $MIB MiB sent to the host, same sha256 on both ends"
else
	sed 's/^/# /' "$out"
	echo "not ok 2 $MIB MiB sent to the host, same sha256 on both ends"
fi
if [ $probed = 1 ]; then
	hits=$(probe_hits "$PROBE")
	trace_off "$PROBE"
	echo "# $FN: ${hits:-0} kprobe hits"
	[ "${hits:-0}" -gt 0 ] && echo "ok 3 $FN ran" || echo "not ok 3 $FN ran"
else
	echo "not ok 3 $FN ran # no kprobe"
fi
rm -f "$out"
