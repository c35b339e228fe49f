#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# USB HCD URB giveback on BH work items (drivers/usb/core/hcd.c), under a
# real workload: a usb-storage disk behind an xHCI and behind an EHCI
# controller, each written with MIB MiB of random data and read back after
# dropping the caches, and a usb-kbd.  See tools/wqbh/conv.py.
#
#   sh conv_usb.sh check|bench MIB DATA SHA256 [CYCLES]
#
# DATA is the random data, made by the host, with its sha256.
#
# check: KTAP; bench: "wqbh-bench: workload usb-HC write_kib_s N read_kib_s N".
# In check mode, each controller is then unbound from its driver during
# O_DIRECT reads of its disk and bound again, CYCLES times (default 2):
# usb_remove_hcd() under load, with URBs in flight.
mode=${1:-check}
mib=${2:-64}
data=${3:-}
sum_in=${4:-}
cycles=${5:-2}
start=$(cut -d' ' -f1 /proc/uptime)
. "$(dirname "$0")/conv_lib.sh"
work=${TMPDIR:-/tmp}/conv-usb.$$
mkdir -p "$work"
now_ns() { date +%s%N; }

# disk_of DRIVER: the sd disk behind the PCI controller bound to DRIVER
disk_of() {
	for dev in /sys/bus/pci/drivers/"$1"/0000:*; do
		[ -e "$dev" ] || continue
		pci=${dev##*/}
		for blk in /sys/block/sd*; do
			[ -e "$blk" ] || continue
			case $(readlink -f "$blk/device") in
			*/"$pci"/*) echo "${blk##*/}"; return 0 ;;
			esac
		done
	done
	return 1
}

# The PCI functions probe asynchronously and usb-storage scans its
# devices after a delay: wait for both disks, up to a minute.
wait_disks() {
	i=0
	while [ $i -lt 120 ]; do
		disk_of xhci_hcd >/dev/null && disk_of ehci-pci >/dev/null && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# kib_s NS: KiB/s of mib MiB in NS nanoseconds
kib_s() { echo $((mib * 1024 * 1000000 / ($1 / 1000 + 1))); }

# transfer HC DISK: write, drop caches, read back; sets wr rd (KiB/s) and
# fails when the data read differs from the data written.
transfer() {
	dev=/dev/$2
	t0=$(now_ns)
	timeout 120 dd if="$work/in" of="$dev" bs=1M oflag=direct conv=fsync 2>"$work/err" ||
		{ say "$(cat "$work/err")"; return 1; }
	t1=$(now_ns)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t2=$(now_ns)
	timeout 120 dd if="$dev" of="$work/out" bs=1M count="$mib" iflag=direct 2>"$work/err" ||
		{ say "$(cat "$work/err")"; return 1; }
	t3=$(now_ns)
	sum_out=$(sha256sum <"$work/out" | cut -d' ' -f1)
	rm -f "$work/out"
	wr=$(kib_s $((t1 - t0)))
	rd=$(kib_s $((t3 - t2)))
	say "$1 $dev: wrote $mib MiB at $wr KiB/s, read at $rd KiB/s"
	say "$1 sha256 written $sum_in read $sum_out"
	[ -n "$sum_in" ] && [ "$sum_in" = "$sum_out" ]
}

# Count the giveback function and see which workqueue it was queued on and
# in which context it ran (the series kernel only: the base has a tasklet).
have_bh=
grep -q ' usb_giveback_urb_bh$' /proc/kallsyms && grep -q ' system_bh_wq$' /proc/kallsyms &&
	have_bh=1
if [ "$mode" = check ] && [ -n "$have_bh" ]; then
	trace_on wqbh_usb_giveback usb_giveback_urb_bh \
		workqueue_queue_work workqueue_execute_start
fi

[ "$mode" = check ] && { echo "KTAP version 1"; echo "1..14"; }

# the data, off the 9p root into memory, so that the writes time USB only
timeout 60 cp "$data" "$work/in" 2>/dev/null || rm -f "$work/in"
[ -n "$sum_in" ] || rm -f "$work/in"

wait_disks
say "uptime $(cut -d' ' -f1 /proc/uptime) s with the disks found"
for hc in xhci:xhci_hcd ehci:ehci-pci; do
	name=${hc%%:*}
	drv=${hc#*:}
	disk=$(disk_of "$drv")
	if [ -z "$disk" ]; then
		[ "$mode" = check ] && { notok "$name: usb-storage disk found"; notok "$name: $mib MiB written and read back"; }
		continue
	fi
	[ "$mode" = check ] && ok "$name: usb-storage disk found ($disk)"
	if [ -f "$work/in" ] && transfer "$name" "$disk"; then
		[ "$mode" = check ] && ok "$name: $mib MiB written and read back, same sha256"
		[ "$mode" = bench ] && echo "wqbh-bench: workload usb-$name write_kib_s $wr read_kib_s $rd"
	else
		[ "$mode" = check ] && notok "$name: $mib MiB written and read back, same sha256"
	fi
done
# the first VERIFY_MIB MiB of the data, read back after the unbinds
VERIFY_MIB=8
sum_head=
[ -f "$work/in" ] && sum_head=$(head -c $((VERIFY_MIB << 20)) "$work/in" | sha256sum | cut -d' ' -f1)
rm -f "$work/in"
say "uptime $(cut -d' ' -f1 /proc/uptime) s after the transfers"
[ "$mode" = bench ] && { rm -rf "$work"; exit 0; }

# The keyboard: enumerated, and its interrupt URB (high-priority giveback)
# is given back when it is unlinked, as the device is deauthorized.
kbd=
for d in /sys/bus/usb/devices/*; do
	[ "$(cat "$d/product" 2>/dev/null)" = "QEMU USB Keyboard" ] && kbd=$d && break
done
if [ -n "$kbd" ] && grep -q 'Name="QEMU QEMU USB Keyboard"' /proc/bus/input/devices; then
	ok "usb-kbd enumerated (${kbd##*/}) with an input device"
else
	say "$(grep Name= /proc/bus/input/devices)"
	notok "usb-kbd enumerated with an input device"
fi
if [ -n "$kbd" ] && echo 0 >"$kbd/authorized" && echo 1 >"$kbd/authorized"; then
	i=0
	while [ $i -lt 40 ] && ! grep -q 'Name="QEMU QEMU USB Keyboard"' /proc/bus/input/devices; do
		sleep 0.25
		i=$((i + 1))
	done
	if grep -q 'Name="QEMU QEMU USB Keyboard"' /proc/bus/input/devices; then
		ok "usb-kbd deauthorized and enumerated again"
	else
		notok "usb-kbd deauthorized and enumerated again"
	fi
else
	notok "usb-kbd deauthorized and enumerated again"
fi

if [ -z "$have_bh" ]; then
	notok "usb_giveback_urb_bh ran # no BH giveback in this kernel"
	notok "giveback queued on events_bh and events_bh_highpri"
	notok "giveback executed in softirq context"
else
	echo 0 >$T/tracing_on
	hits=$(probe_hits wqbh_usb_giveback)
	say "kprobe_profile: $(grep wqbh_usb_giveback $T/kprobe_profile)"
	if [ "${hits:-0}" -gt 0 ]; then
		ok "usb_giveback_urb_bh ran ($hits times)"
	else
		notok "usb_giveback_urb_bh ran"
	fi
	grep 'workqueue_queue_work:.*function=usb_giveback_urb_bh' $T/trace >"$work/queued"
	lo=$(grep -c 'workqueue=events_bh ' "$work/queued")
	hi=$(grep -c 'workqueue=events_bh_highpri ' "$work/queued")
	say "queued on events_bh $lo times, on events_bh_highpri $hi times (trace buffer)"
	if [ "$lo" -gt 0 ] && [ "$hi" -gt 0 ]; then
		ok "giveback queued on events_bh and events_bh_highpri"
	else
		notok "giveback queued on events_bh and events_bh_highpri"
	fi
	# the context flags field: its third character is s (softirq) or H
	# (hardirq during softirq) in softirq context
	grep 'workqueue_execute_start:.*function usb_giveback_urb_bh' $T/trace >"$work/ran"
	total=$(wc -l <"$work/ran")
	soft=$(in_context '[sH]' "$work/ran")
	say "executions in the trace buffer: $total, in softirq context: $soft"
	head -n 2 "$work/ran" | sed 's/^/# /'
	if [ "$total" -gt 0 ] && [ "$soft" -eq "$total" ]; then
		ok "giveback executed in softirq context"
	else
		notok "giveback executed in softirq context"
	fi
	trace_off wqbh_usb_giveback workqueue_queue_work workqueue_execute_start
fi

# Teardown under load: each controller is unbound from its driver while
# its disk is being read with O_DIRECT (URBs in flight on the giveback
# lists), which runs usb_remove_hcd() (for xHCI on both of its HCDs), and
# bound again, `cycles` times.  Checked: every unbind returns (a URB whose
# giveback was dropped would leave usb_kill_urb() or usb-storage waiting
# for ever), the disk comes back and reads the data written above, and
# no URB reference is left over.  URB references are counted with kprobes,
# without kmemleak: usb_alloc_urb() and usb_get_urb() take one,
# usb_free_urb() (usb_put_urb()) drops one unless called with NULL (see
# below for GCC's split of these two).
# Autosuspend is off, so that the same devices hold the same URBs before
# and after.  In the trace, between the HCD driver's stop() and
# hcd_buffer_destroy() of each removal, a flush_work() or
# cancel_work_sync() called by the unbinding process that returns true
# met a giveback still pending at teardown (flushed with this series,
# cancelled and lost with its earlier version).

# pci_of DRIVER: the PCI function bound to DRIVER
pci_of() {
	for dev in /sys/bus/pci/drivers/"$1"/0000:*; do
		[ -e "$dev" ] && echo "${dev##*/}" && return 0
	done
	return 1
}

# urb_refs: URB references taken and not dropped since the probes were set
# (every call counts, those the kprobes missed too: see probe_calls)
urb_refs() {
	a=$(probe_calls wqbh_urb_alloc)
	g=$(probe_calls wqbh_urb_get)
	p=$(probe_calls wqbh_urb_put)
	pn=0 gn=0
	if [ -n "$nullfix" ]; then
		pn=$(grep -c ' wqbh_urb_putnull:' $T/trace)
		gn=$(grep -c ' wqbh_urb_getnull:' $T/trace)
	fi
	echo $((a + g - gn - p + pn))
}

# usb_settled: the URB reference count once it stops changing (up to 20 s)
usb_settled() {
	last=$(urb_refs)
	i=0
	while [ $i -lt 20 ]; do
		sleep 1
		cur=$(urb_refs)
		[ "$cur" = "$last" ] && break
		last=$cur
		i=$((i + 1))
	done
	echo "$last"
}

# usb_device_set: the USB devices and interfaces with their drivers
usb_device_set() {
	for d in /sys/bus/usb/devices/*; do
		echo "${d##*/} $(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)"
	done | sort | sed 's/[0-9]*-/N-/; s/^usb[0-9]*/usbN/' | sort
}

# teardown_pending: for the last unbind (writer pid in $work/writer.pid),
# "FLUSHED CANCELLED": flush_work() and cancel_work_sync() calls of the
# unbinding process that returned true between stop() and
# hcd_buffer_destroy(), from the trace
teardown_pending() {
	pid=$(cat "$work/writer.pid")
	awk -v pid="$pid" '
		function mine() { return $1 ~ ("-" pid "$") }
		/ wqbh_hc_stop:/ && mine() { inside = 1 }
		/ wqbh_hc_bufd:/ && mine() { inside = 0 }
		/ wqbh_flush:/ && mine() && inside && / ret=1( |$)/ { f++ }
		/ wqbh_cancel:/ && mine() && inside && / ret=1( |$)/ { c++ }
		END { printf "%d %d\n", f, c }' $T/trace
}

# usb_stress NAME DRIVER STOP: the unbind/bind cycles of one controller;
# STOP is its HCD driver's stop() function, the start of the teardown
# window.  Sets stress_ok, rebind_ok, and adds to pend_f, pend_c.
usb_stress() {
	name=$1 drv=$2 stop=$3
	stress_ok=1 rebind_ok=1
	pci=$(pci_of "$drv") || { say "$name: no PCI function bound to $drv"; stress_ok=0 rebind_ok=0; return; }
	probe_add wqbh_hc_stop p "$stop" || say "no kprobe on $stop"
	t_start=$(uptime_ms)
	unb='' reb='' c=0
	while [ $c -lt "$cycles" ]; do
		c=$((c + 1))
		disk=$(disk_of "$drv") || { say "$name: cycle $c: no disk"; rebind_ok=0; break; }
		( while dd if="/dev/$disk" of=/dev/null bs=64k iflag=direct 2>/dev/null; do :; done ) &
		load=$!
		# let the reads run for 0.3 to 1.1 s, a different time each cycle
		sleep "0.$((3 + (c * 3) % 9))"
		t0=$(uptime_ms)
		bounded 90 sysfs_write "/sys/bus/pci/drivers/$drv/unbind" "$pci"
		rc=$?
		t1=$(uptime_ms)
		if [ $rc -ne 0 ]; then
			say "$name: cycle $c: unbind of $pci did not return in 90 s (status $rc)"
			stress_ok=0
			kill "$load" 2>/dev/null
			break
		fi
		if ! bounded_wait "$load" 60; then
			say "$name: cycle $c: the reads did not end in 60 s after the unbind"
			stress_ok=0
			break
		fi
		set -- $(teardown_pending)
		pend_f=$((pend_f + $1)) pend_c=$((pend_c + $2))
		[ "$1$2" = 00 ] || say "$name: cycle $c: givebacks pending at teardown: $1 flushed, $2 cancelled"
		unb="$unb $((t1 - t0))"
		if ! sysfs_write "/sys/bus/pci/drivers/$drv/bind" "$pci"; then
			say "$name: cycle $c: bind of $pci failed"
			rebind_ok=0
			break
		fi
		i=0
		while [ $i -lt 120 ] && ! disk_of "$drv" >/dev/null; do
			sleep 0.5
			i=$((i + 1))
		done
		if ! disk_of "$drv" >/dev/null; then
			say "$name: cycle $c: no disk 60 s after the bind"
			rebind_ok=0
			break
		fi
		reb="$reb $(($(uptime_ms) - t1))"
	done
	probe_del wqbh_hc_stop
	say "$name: $c unbinds during reads in $((($(uptime_ms) - t_start) / 1000)) s; unbind took$(echo "$unb" | sed 's/^/ /') ms, disk back after$(echo "$reb" | sed 's/^/ /') ms"
	[ "$c" -eq "$cycles" ] || stress_ok=0
	disk=$(disk_of "$drv") || { rebind_ok=0; return; }
	sum=$(timeout 60 dd if="/dev/$disk" bs=1M count=$VERIFY_MIB iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
	if [ -z "$sum_head" ] || [ "$sum" != "$sum_head" ]; then
		say "$name: first $VERIFY_MIB MiB of /dev/$disk: sha256 $sum, written $sum_head"
		rebind_ok=0
	fi
}

stress_ready=1
# GCC may split usb_get_urb() and usb_free_urb() into a part for a non-NULL
# URB, which usbcore's anchor code then calls directly: count those parts
# when they exist, or else the whole functions, less their calls with NULL
nullfix=
if probe_add wqbh_urb_get p usb_get_urb.part.0 2>/dev/null &&
   probe_add wqbh_urb_put p usb_free_urb.part.0 2>/dev/null; then
	say "URB references counted in usb_get_urb.part.0 and usb_free_urb.part.0"
	set --
else
	probe_del wqbh_urb_get
	nullfix=1
	set -- "wqbh_urb_get p usb_get_urb" "wqbh_urb_put p usb_free_urb" \
	       "wqbh_urb_getnull p usb_get_urb urb=%di:x64" \
	       "wqbh_urb_putnull p usb_free_urb urb=%di:x64"
fi
for p in "wqbh_urb_alloc p usb_alloc_urb" "$@" \
	 "wqbh_hc_bufd p hcd_buffer_destroy" \
	 "wqbh_flush r flush_work ret=\$retval:u8" "wqbh_cancel r cancel_work_sync ret=\$retval:u8"; do
	# shellcheck disable=SC2086
	probe_add $p || { say "can't make kprobe event $p"; stress_ready=; }
done
# the trace keeps only the calls with NULL, the true returns and the
# markers; kprobe_profile counts every call
for p in wqbh_urb_alloc wqbh_urb_get wqbh_urb_put; do
	echo 'common_pid < 0' >$T/events/kprobes/$p/filter 2>/dev/null
done
if [ -n "$nullfix" ]; then
	echo 'urb == 0' >$T/events/kprobes/wqbh_urb_getnull/filter
	echo 'urb == 0' >$T/events/kprobes/wqbh_urb_putnull/filter
fi
echo 'ret == 1' >$T/events/kprobes/wqbh_flush/filter 2>/dev/null
echo 'ret == 1' >$T/events/kprobes/wqbh_cancel/filter 2>/dev/null
echo >$T/trace
# usbcore's autosuspend off for every device, now and after the rebinds;
# usb-storage without its settling delay; hung tasks reported after 60 s
# (no autosuspend at all without CONFIG_PM)
AUTOSUSPEND=/sys/module/usbcore/parameters/autosuspend
autosusp=
if [ -w $AUTOSUSPEND ]; then
	autosusp=$(cat $AUTOSUSPEND)
	echo -1 >$AUTOSUSPEND
	for d in /sys/bus/usb/devices/*/power/control; do echo on >"$d"; done 2>/dev/null
fi
delay_use=$(cat /sys/module/usb_storage/parameters/delay_use)
echo 0 >/sys/module/usb_storage/parameters/delay_use
hung=$(cat /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null)
[ -n "$hung" ] && echo 60 >/proc/sys/kernel/hung_task_timeout_secs
echo 1 >$T/tracing_on

pend_f=0 pend_c=0
set_before=$(usb_device_set)
refs_before=$(usb_settled)
for hc in xhci:xhci_hcd:xhci_stop ehci:ehci-pci:ehci_stop; do
	name=${hc%%:*}
	rest=${hc#*:}
	if [ -z "$stress_ready" ]; then
		notok "$name: $cycles unbinds during reads # no kprobes"
		notok "$name: disk back after each bind, same data"
		continue
	fi
	usb_stress "$name" "${rest%%:*}" "${rest#*:}"
	[ $stress_ok = 1 ] && ok "$name: $cycles unbinds during reads, each returned" ||
		notok "$name: $cycles unbinds during reads, each returned"
	[ $rebind_ok = 1 ] && ok "$name: disk back after each bind, same data" ||
		notok "$name: disk back after each bind, same data"
done
say "givebacks pending at teardown over all unbinds: $pend_f run by flush_work(), $pend_c dropped by cancel_work_sync()"
# the keyboard's input device and the disks come back asynchronously
i=0
while [ $i -lt 40 ] && [ "$(usb_device_set)" != "$set_before" ]; do
	sleep 0.5
	i=$((i + 1))
done
refs_after=$(usb_settled)
set_after=$(usb_device_set)
say "URB references held: $refs_before before the unbinds, $refs_after after"
say "calls the kprobes missed (counted all the same): usb_alloc_urb $(probe_missed wqbh_urb_alloc), get $(probe_missed wqbh_urb_get), put $(probe_missed wqbh_urb_put)"
if [ -n "$stress_ready" ] && [ "$set_after" = "$set_before" ] && [ "$refs_after" = "$refs_before" ]; then
	ok "no URB reference left over by the unbinds, same devices bound"
else
	[ "$set_after" = "$set_before" ] || { say "devices before:"; echo "$set_before" | sed 's/^/#   /'
					      say "devices after:"; echo "$set_after" | sed 's/^/#   /'; }
	notok "no URB reference left over by the unbinds, same devices bound"
fi
for p in wqbh_urb_alloc wqbh_urb_get wqbh_urb_put wqbh_urb_getnull wqbh_urb_putnull \
	 wqbh_hc_bufd wqbh_flush wqbh_cancel; do
	probe_del $p
done
echo >$T/trace
[ -n "$autosusp" ] && echo "$autosusp" >$AUTOSUSPEND
echo "$delay_use" >/sys/module/usb_storage/parameters/delay_use
[ -n "$hung" ] && echo "$hung" >/proc/sys/kernel/hung_task_timeout_secs
rm -rf "$work"
say "uptime $start s at the start, $(cut -d' ' -f1 /proc/uptime) s at the end"
