#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# PID 1 of a test guest whose root is an initramfs of busybox (the arm64
# guest, see tools/wqbh/arm64.py): the host's / can't be its root.  Runs
# /wqbh/job.sh with its output on the port named by wqbh_out= on the
# kernel command line, reports the job's exit status there as
# "wqbh-exit-status: N" and powers the guest off, as init.sh does.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

out=${wqbh_out:-/dev/hvc0}
# the device of the output port may come a little after init starts
n=0
while [ ! -c "$out" ] && [ $n -lt 50 ]; do
	sleep 0.2
	n=$((n + 1))
done

if [ -r /wqbh/job.sh ]; then
	sh /wqbh/job.sh >"$out" 2>&1
	rc=$?
else
	echo "wqbh: no job script in the initramfs" >"$out"
	rc=127
fi
echo "wqbh-exit-status: $rc" >"$out"
sync
poweroff -f
