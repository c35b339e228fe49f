#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# TCP Small Queues' BH work item under a real workload: the guest sends
# MIB MiB over virtio-net (QEMU user networking) to the host peer of
# tools/wqbh/conv.py at 10.0.2.2:PORT, which hashes what it receives and
# answers with the digest; both ends must agree.  TSQ is a sender-side
# mechanism, so the guest sends.
#
#   sh conv_tsq.sh check PORT [CYCLES [MIB]]
#                               KTAP: transfers of MIB MiB (default 64),
#                               one after another, while cpu1, where the
#                               sender is put back each time, goes offline
#                               and online again CYCLES times (default 6);
#                               that tcp_tsq_workfn() (the converted
#                               tasklet) ran, and that no socket is left
#                               allocated afterwards
#   sh conv_tsq.sh bench PORT   wqbh-bench: workload tsq ... lines, for
#                               256 MiB
mode=${1:-check}
port=${2:-}
cycles=${3:-6}
if [ "$mode" = bench ]; then MIB=256; else MIB=${4:-64}; fi
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

# sockets_used: the sockets of user space not freed yet ("sockets: used"
# of /proc/net/sockstat, dropped in __sk_free(), once sk_wmem_alloc is
# down to zero: a socket left on a TSQ list would keep it up)
sockets_used() {
	awk '$1 == "sockets:" { print $3 }' /proc/net/sockstat
}

# pin_sender: the sender's threads on cpu1 (offlining cpu1 widens their
# affinity to every CPU, so it is set again each time)
pin_sender() {
	for p in $(pgrep -f conv_tsq_send.py); do
		taskset -a -p 2 "$p" >/dev/null 2>&1
	done
}

CPU1=/sys/devices/system/cpu/cpu1/online

echo "KTAP version 1"
echo "1..6"
if net_up; then
	ok "virtio-net up as 10.0.2.15/24"
else
	notok "virtio-net up as 10.0.2.15/24"
fi
echo 0 >$T/tracing_on
echo >$T/trace
probed=0
probe_add "$PROBE" p "$FN" work=%di:x64 && probed=1
echo 1 >$T/tracing_on
used_before=$(sockets_used)

# The transfers, with cpu1 going offline and online under them: one
# transfer follows another until cpu1 has gone offline and online
# `cycles` times, so that the count doesn't depend on how fast this
# machine's guest sends (a single transfer of 64 MiB left time for 3
# cycles on one machine, fewer would fit on a faster one).  At most
# MAX_SENDS transfers, should no cycle fit into one at all.
MAX_SENDS=20
hp_ok=1 c=0 hp_ms= sends=0 sent=0
if [ ! -w $CPU1 ]; then
	say "no $CPU1: no CPU hotplug"
	hp_ok=0
fi
t_start=$(uptime_ms)
while [ $sends -lt $MAX_SENDS ]; do
	send &
	spid=$!
	sends=$((sends + 1))
	while [ $hp_ok = 1 ] && [ $c -lt "$cycles" ] && kill -0 $spid 2>/dev/null; do
		pin_sender
		sleep 0.5
		kill -0 $spid 2>/dev/null || break
		t0=$(uptime_ms)
		if ! echo 0 >$CPU1; then
			say "cycle $((c + 1)): cpu1 would not go offline"
			hp_ok=0
			break
		fi
		sleep 0.2
		if ! echo 1 >$CPU1; then
			say "cycle $((c + 1)): cpu1 would not come back online"
			hp_ok=0
			break
		fi
		hp_ms="$hp_ms $(($(uptime_ms) - t0))"
		c=$((c + 1))
	done
	wait $spid
	sent=$?
	sed "s/^/# transfer $sends: /" "$out"
	[ $sent = 0 ] || break
	[ $hp_ok = 1 ] && [ $c -lt "$cycles" ] || break
done
t_end=$(uptime_ms)
[ "$(cat $CPU1 2>/dev/null)" = 0 ] && echo 1 >$CPU1
if [ $sent = 0 ]; then
	ok "$sends transfers of $MIB MiB to the host, same sha256 on both ends"
else
	notok "$sends transfers of $MIB MiB to the host, same sha256 on both ends"
fi
say "cpu1 offline and online $c times in $(((t_end - t_start) / 1000)) s of transfers; each cycle took$hp_ms ms"
[ $hp_ok = 1 ] && [ $c -ge "$cycles" ] &&
	ok "cpu1 offline and online again $c times during the transfers" ||
	notok "cpu1 offline and online again $c times (of $cycles) during the transfers"
if [ $probed = 1 ]; then
	echo 0 >$T/tracing_on
	hits=$(probe_hits "$PROBE")
	# per work item (address): runs on cpu1, and runs elsewhere of the
	# item that ran on cpu1 (drained when cpu1 went offline with it pending)
	set -- $(awk -v p=" $PROBE:" 'index($0, p) {
			cpu = ""; w = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^\[[0-9]+\]$/) { cpu = substr($i, 2, length($i) - 2) + 0 }
				if ($i ~ /^work=/) w = substr($i, 6)
			}
			runs[w, cpu]++
			if (cpu == 1) mine[w] = 1
		}
		END {
			on1 = 0; away = 0
			for (k in runs) {
				split(k, a, SUBSEP)
				if (a[1] in mine) { if (a[2] == 1) on1 += runs[k]; else away += runs[k] }
			}
			print on1 + 0, away + 0
		}' $T/trace)
	on1=$1 away=$2
	probe_del "$PROBE"
	echo >$T/trace
	echo 1 >$T/tracing_on
	echo "# $FN: ${hits:-0} kprobe hits; cpu1's item ran $on1 times on cpu1 and $away times on another CPU (cpu1 going offline with it pending)"
	[ "${hits:-0}" -gt 0 ] && ok "$FN ran" || notok "$FN ran"
	[ "$on1" -gt 0 ] && ok "$FN ran on cpu1, the sender's CPU" ||
		notok "$FN ran on cpu1, the sender's CPU"
else
	notok "$FN ran # no kprobe"
	notok "$FN ran on cpu1, the sender's CPU # no kprobe"
fi
# the sender's socket is freed once the peer has closed too
i=0
used=$(sockets_used)
while [ $i -lt 20 ] && [ "$used" -gt "$used_before" ]; do
	sleep 0.5
	used=$(sockets_used)
	i=$((i + 1))
done
say "sockets used: $used_before before the transfer, $used after"
[ "$used" -le "$used_before" ] && ok "no socket left allocated after the transfer" ||
	notok "no socket left allocated after the transfer"
rm -f "$out"
