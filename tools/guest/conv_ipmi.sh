#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# The IPMI message handler's receive BH work item under a real workload:
# ipmitool talks to QEMU's simulated BMC (ipmi-bmc-sim behind
# isa-ipmi-kcs) through /dev/ipmi0, 200 commands in one ipmitool process
# (`mc info`, `sel info`, `sdr list`), every reply compared with the
# first reply of its kind.
#
#   sh conv_ipmi.sh check [CYCLES]
#                           KTAP: the replies, and that smi_recv_work()
#                           (the converted tasklet) ran, in softirq context;
#                           then the interface is unbound from ipmi_si
#                           during ipmitool traffic and bound again, CYCLES
#                           times (default 6): unregistered and freed with
#                           its work item under load
#   sh conv_ipmi.sh bench   wqbh-bench: workload ipmi ... lines
mode=${1:-check}
cycles=${2:-6}
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
echo "1..7"
if ! ipmi_dev; then
	dmesg | grep -i ipmi | tail -20 | sed 's/^/# /'
	echo "not ok 1 ipmi_si found the BMC: /dev/ipmi0"
	echo "not ok 2 200 commands, every reply equal to the first # SKIP no device"
	echo "not ok 3 $FN ran # SKIP no device"
	echo "not ok 4 $FN ran in softirq context # SKIP no device"
	echo "not ok 5 $cycles unbinds during ipmitool traffic # SKIP no device"
	echo "not ok 6 interface back after each bind, same replies # SKIP no device"
	echo "not ok 7 every interface unregistered was freed # SKIP no device"
	exit 1
fi
n=4
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

# Teardown under load: the system interface is unbound from ipmi_si while
# ipmitool runs commands through it, which unregisters the interface
# (ipmi_unregister_smi()) and frees it when its last user is gone
# (intf_free(), where the receive work item is cancelled), and bound
# again, `cycles` times.  Checked: every unbind returns, the interface
# comes back and answers as before, and every interface registered
# during the cycles but the last one was freed (kprobes on ipmi_add_smi()
# and intf_free()).

# the device that carries ipmi0: SMBIOS and ACPI both describe QEMU's KCS
# interface, so ipmi_si binds two platform devices, but registers the
# interface on one of them only (ACPI's), the other being a duplicate
# whose unbind would unregister nothing
si_dev=
dev=$(readlink -f /sys/class/ipmi/ipmi0/device 2>/dev/null)
if [ -n "$dev" ] && [ -e /sys/bus/platform/drivers/ipmi_si/"${dev##*/}" ]; then
	si_dev=${dev##*/}
fi
: >"$work/traffic"
i=0
while [ $i -lt 20 ]; do
	echo "mc info" >>"$work/traffic"
	i=$((i + 1))
done
# traffic: ipmitool processes of 20 commands each, one after the other,
# until $work/stop exists; each one fails fast once /dev/ipmi0 is gone
traffic() {
	while [ ! -e "$work/stop" ]; do
		timeout 10 ipmitool -I open exec "$work/traffic" >/dev/null 2>&1 ||
			sleep 0.05
	done
}
stress_ok=1 back_ok=1 freed_ok=1
probes=1
probe_add wqbh_ipmi_add p ipmi_add_smi || probes=
probe_add wqbh_ipmi_free p intf_free || probes=
probe_add wqbh_ipmi_rcv p "$FN" || probes=
[ -n "$probes" ] || say "can't make the kprobes on ipmi_add_smi, intf_free and $FN"
if [ -z "$si_dev" ]; then
	say "no ipmi_si device carries ipmi0 (/sys/class/ipmi/ipmi0/device)"
	stress_ok=0 back_ok=0
fi
rm -f "$work/stop"
traffic &
tpid=$!
t_start=$(uptime_ms)
unb='' reb='' c=0
while [ $stress_ok = 1 ] && [ $c -lt "$cycles" ]; do
	c=$((c + 1))
	sleep "0.$((2 + (c * 3) % 7))"
	t0=$(uptime_ms)
	bounded 60 sysfs_write /sys/bus/platform/drivers/ipmi_si/unbind "$si_dev"
	rc=$?
	t1=$(uptime_ms)
	if [ $rc -ne 0 ]; then
		say "cycle $c: unbind of $si_dev: status $rc (124: still running after 60 s)"
		stress_ok=0
		break
	fi
	unb="$unb $((t1 - t0))"
	if [ -e /sys/class/ipmi/ipmi0 ]; then
		say "cycle $c: ipmi0 still registered after the unbind of $si_dev"
		stress_ok=0
		break
	fi
	if ! sysfs_write /sys/bus/platform/drivers/ipmi_si/bind "$si_dev" || ! ipmi_dev; then
		say "cycle $c: $si_dev bound again: no /dev/ipmi0 after 20 s"
		back_ok=0
		break
	fi
	reb="$reb $(($(uptime_ms) - t1))"
done
touch "$work/stop"
bounded_wait "$tpid" 30 || { say "ipmitool traffic still running 30 s after the cycles"; stress_ok=0; }
say "$c unbinds of $si_dev during ipmitool traffic in $((($(uptime_ms) - t_start) / 1000)) s; unbind took$unb ms, /dev/ipmi0 back after$reb ms"
[ "$c" -eq "$cycles" ] || stress_ok=0
if [ $back_ok = 1 ] && ipmi_dev; then
	timeout 30 ipmitool -I open mc info >"$work/after" 2>&1
	if ! cmp -s "$work/ref.mc_info" "$work/after"; then
		say "mc info after the cycles differs:"
		diff "$work/ref.mc_info" "$work/after" | head -10 | sed 's/^/#   /'
		back_ok=0
	fi
else
	back_ok=0
fi
if [ -n "$probes" ]; then
	# intf_free() runs when the last user of an interface is gone
	i=0
	while [ $i -lt 20 ]; do
		adds=$(probe_hits wqbh_ipmi_add)
		frees=$(probe_hits wqbh_ipmi_free)
		[ "$frees" -ge "$c" ] && break
		sleep 0.5
		i=$((i + 1))
	done
	say "interfaces registered $adds times, freed $frees times; $FN ran $(probe_hits wqbh_ipmi_rcv) times meanwhile"
	[ "$adds" -eq "$c" ] && [ "$frees" -eq "$c" ] || freed_ok=0
	probe_del wqbh_ipmi_add
	probe_del wqbh_ipmi_free
	probe_del wqbh_ipmi_rcv
else
	freed_ok=0
fi
[ $stress_ok = 1 ] && ok "$cycles unbinds during ipmitool traffic, each returned" ||
	notok "$cycles unbinds during ipmitool traffic, each returned"
[ $back_ok = 1 ] && ok "interface back after each bind, same replies" ||
	notok "interface back after each bind, same replies"
[ $freed_ok = 1 ] && ok "every interface unregistered was freed" ||
	notok "every interface unregistered was freed"
rm -rf "$work"
