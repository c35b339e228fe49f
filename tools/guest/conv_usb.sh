#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# USB HCD URB giveback on BH work items (drivers/usb/core/hcd.c), under a
# real workload: a usb-storage disk behind an xHCI and behind an EHCI
# controller, each written with MIB MiB of random data and read back after
# dropping the caches, and a usb-kbd.  See tools/wqbh/conv.py.
#
#   sh conv_usb.sh check|bench MIB DATA SHA256
#
# DATA is the random data, made by the host, with its sha256.
#
# check: KTAP; bench: "wqbh-bench: workload usb-HC write_kib_s N read_kib_s N".
mode=${1:-check}
mib=${2:-64}
data=${3:-}
sum_in=${4:-}
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

[ "$mode" = check ] && { echo "KTAP version 1"; echo "1..10"; }

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

# Removing an HCD cancels its giveback work items (usb_remove_hcd()):
# unbind the EHCI controller, disk and all.
ehci=
for dev in /sys/bus/pci/drivers/ehci-pci/0000:*; do
	[ -e "$dev" ] && ehci=${dev##*/} && break
done
if [ -n "$ehci" ] && echo "$ehci" >/sys/bus/pci/drivers/ehci-pci/unbind &&
   [ ! -e "/sys/bus/pci/drivers/ehci-pci/$ehci" ]; then
	ok "EHCI controller $ehci removed"
else
	notok "EHCI controller removed"
fi
rm -rf "$work"
say "uptime $start s at the start, $(cut -d' ' -f1 /proc/uptime) s at the end"
