#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# PID 1 of a test guest.  The root is the host's / over virtio-9p,
# read-only.  Runs the job script named by wqbh_job= on the kernel command
# line with its output on the serial port named by wqbh_out=, then reports
# the job's exit status there and powers the guest off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Writable scratch space over the read-only root, except over a directory
# which holds the job (the checkout may be in /root or /tmp): the guest
# must see the host's files there.  HOME is /root and TMPDIR /tmp when
# they are writable, else the first directory that got a tmpfs.
mounted=
for dir in /run /tmp /root /var/tmp; do
	case "$wqbh_job" in
	"$dir"/*) continue ;;
	esac
	mount -t tmpfs tmpfs "$dir" 2>/dev/null && mounted="$mounted $dir"
done
first=$(echo $mounted | cut -d' ' -f1)
case " $mounted " in
*" /root "*) export HOME=/root ;;
*) export HOME=${first:-/} ;;
esac
case " $mounted " in
*" /tmp "*) ;;
*) export TMPDIR=${first:-/} ;;
esac
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

out=${wqbh_out:-/dev/ttyS1}
# Modules live in the build tree (the host may have no /lib/modules):
# modprobe reads its -d option from the environment.
[ -n "$wqbh_modroot" ] && export MODPROBE_OPTIONS="-d $wqbh_modroot"

if [ -n "$wqbh_job" ] && [ -r "$wqbh_job" ]; then
	sh "$wqbh_job" >"$out" 2>&1
	rc=$?
else
	echo "wqbh: no job script (wqbh_job=$wqbh_job)" >"$out"
	rc=127
fi
echo "wqbh-exit-status: $rc" >"$out"
sync
# The sysrq power-off runs asynchronously in a kworker and shuts the
# virtio-9p root down, after which no program can be executed any more.
# PID 1 must not exit meanwhile (the kernel would panic), so start the
# waiting program first and wait for it with the shell's builtin.
sleep 600 &
echo o >/proc/sysrq-trigger
while :; do
	wait
done
