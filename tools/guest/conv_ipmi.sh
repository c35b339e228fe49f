#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The IPMI message handler's receive BH work item under a real workload:
# ipmitool talks to QEMU's simulated BMC (ipmi-bmc-sim behind
# isa-ipmi-kcs) through /dev/ipmi0, 200 commands in one ipmitool process
# (`mc info`, `sel info`, `sdr list`), every reply compared with the
# first reply of its kind.
#
#   sh conv_ipmi.sh check   KTAP: the replies, and that smi_recv_work()
#                           (the converted tasklet) ran, in softirq context
#   sh conv_ipmi.sh bench   wqbh-bench: workload ipmi ... lines
mode=${1:-check}
ROUNDS=50	# 4 commands a round: 200 commands
. "$(dirname "$0")/conv_lib.sh"
PROBE=wqbh_ipmi
FN=smi_recv_work
work=${TMPDIR:-/tmp}/conv_ipmi.$$
mkdir -p "$work"

ipmi_dev() {	# wait up to 20 s for /dev/ipmi0
	i=0
	while [ ! -c /dev/ipmi0 ] && [ $i -lt 40 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	[ -c /dev/ipmi0 ]
}

# run ROUNDS rounds of the four commands in one ipmitool process; the
# output goes to $work/all
run_rounds() {
	: >"$work/cmds"
	r=0
	while [ $r -lt $ROUNDS ]; do
		printf 'mc info\nsel info\nmc info\nsdr list\n' >>"$work/cmds"
		r=$((r + 1))
	done
	timeout 180 ipmitool -I open exec "$work/cmds" >"$work/all" 2>"$work/err"
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

if [ "$mode" = bench ]; then
	ipmi_dev || { echo "# no /dev/ipmi0"; exit 1; }
	timeout 30 ipmitool -I open mc info >/dev/null 2>&1	# warm up
	start=$(now_ms)
	run_rounds || { echo "# ipmitool exec failed"; cat "$work/err"; exit 1; }
	ms=$(($(now_ms) - start))
	[ $ms -gt 0 ] || ms=1
	n=$((ROUNDS * 4))
	echo "wqbh-bench: workload ipmi commands $n elapsed_ms $ms commands_per_s $((n * 1000 / ms))"
	rm -rf "$work"
	exit 0
fi

echo "KTAP version 1"
echo "1..4"
if ! ipmi_dev; then
	dmesg | grep -i ipmi | tail -20 | sed 's/^/# /'
	echo "not ok 1 ipmi_si found the BMC: /dev/ipmi0"
	echo "not ok 2 200 commands, every reply equal to the first # SKIP no device"
	echo "not ok 3 $FN ran # SKIP no device"
	echo "not ok 4 $FN ran in softirq context # SKIP no device"
	exit 1
fi
echo "ok 1 ipmi_si found the BMC: /dev/ipmi0"
probed=0
trace_on "$PROBE" "$FN" && probed=1

# the first reply of each kind is the reference for all the others
for c in "mc info" "sel info" "sdr list"; do
	f=$work/ref.$(echo $c | tr ' ' _)
	timeout 30 ipmitool -I open $c >"$f" 2>>"$work/err"
done
ok=1
if ! grep -q '^Device ID' "$work/ref.mc_info" || ! grep -q '^Firmware Revision' "$work/ref.mc_info"; then
	echo "# mc info has no device id or firmware revision:"
	sed 's/^/#   /' "$work/ref.mc_info"
	ok=0
fi
grep -q '^Version' "$work/ref.sel_info" || { echo "# sel info has no version"; ok=0; }
[ -s "$work/ref.sdr_list" ] || { echo "# sdr list is empty"; ok=0; }
sed 's/^/# /' "$work/ref.mc_info" | grep -e 'Device ID' -e 'Firmware Revision' -e 'Manufacturer ID'
sed 's/^/# sdr: /' "$work/ref.sdr_list" | head -5
: >"$work/expect"
r=0
while [ $r -lt $ROUNDS ]; do
	cat "$work/ref.mc_info" "$work/ref.sel_info" "$work/ref.mc_info" "$work/ref.sdr_list" >>"$work/expect"
	r=$((r + 1))
done
start=$(now_ms)
run_rounds || { echo "# ipmitool exec failed: $(head -5 "$work/err")"; ok=0; }
ms=$(($(now_ms) - start))
if ! cmp -s "$work/expect" "$work/all"; then
	echo "# replies differ from the first ones:"
	diff "$work/expect" "$work/all" | head -20 | sed 's/^/#   /'
	ok=0
fi
echo "# $((ROUNDS * 4)) commands in $ms ms"
if [ $ok = 1 ]; then
	echo "ok 2 200 commands, every reply equal to the first"
else
	echo "not ok 2 200 commands, every reply equal to the first"
fi

if [ $probed = 1 ]; then
	hits=$(probe_hits "$PROBE")
	# the flags column of the trace: its third character is s in softirq
	total=$(grep -c " $PROBE:" $T/trace)
	soft=$(grep " $PROBE:" $T/trace | in_context s)
	trace_off "$PROBE"
	echo "# $FN: $hits kprobe hits, $soft of $total traced calls in softirq context"
	[ "${hits:-0}" -gt 0 ] && echo "ok 3 $FN ran" || echo "not ok 3 $FN ran"
	[ "$total" -gt 0 ] && [ "$soft" -eq "$total" ] &&
		echo "ok 4 $FN ran in softirq context" ||
		echo "not ok 4 $FN ran in softirq context"
else
	echo "# no kprobe on $FN (kprobe events missing?)"
	echo "not ok 3 $FN ran"
	echo "not ok 4 $FN ran in softirq context"
fi
rm -rf "$work"
