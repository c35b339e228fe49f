# SPDX-License-Identifier: GPL-2.0-only
"""Shell jobs run inside the guest, and how their output is split up.

A job writes sections to the guest's output port:
    wqbh-section-begin: NAME
    ...
    wqbh-section-end: NAME rc=N
so that each test program's KTAP is parsed on its own.
"""

import re
from pathlib import Path
from typing import Dict, List, Tuple

from .common import REPO

PRELUDE = r'''
set -u
section() {	# section NAME COMMAND...: run COMMAND as one output section
	name=$1; shift
	echo "wqbh-section-begin: $name"
	"$@"
	rc=$?
	echo "wqbh-section-end: $name rc=$rc"
	return $rc
}
status=0
'''

SMOKE = r'''
guest_smoke() {	# KTAP: the guest is what the harness asked for
	echo "KTAP version 1"
	echo "1..3"
	n=$(grep -c ^processor /proc/cpuinfo)
	if [ "$n" -eq "{smp}" ]; then echo "ok 1 guest sees {smp} CPUs"
	else echo "# /proc/cpuinfo lists $n CPUs"; echo "not ok 1 guest sees {smp} CPUs"; fi
	if [ -r /proc/kcore ] && [ -d /sys/kernel/debug/tracing -o -d /sys/kernel/tracing ]; then
		echo "ok 2 /proc/kcore and tracing present"
	else echo "not ok 2 /proc/kcore and tracing present"; fi
	ok=1
	for cpu in /sys/devices/system/cpu/cpu[1-9]*; do
		[ -w $cpu/online ] || continue
		echo 0 >$cpu/online && echo 1 >$cpu/online || ok=0
	done
	[ $ok = 1 ] && echo "ok 3 CPU hotplug offline/online" || echo "not ok 3 CPU hotplug offline/online"
}
section guest-smoke guest_smoke || status=1
'''

KSELFTEST = r'''
kst={kst}
if [ -x "$kst/test_workqueue" ]; then
	modprobe test_workqueue || echo "wqbh: modprobe test_workqueue failed"
	section kselftest-workqueue "$kst/test_workqueue" || status=1
fi
'''

# kernel/backtracetest.c prints a stack trace from softirq context; with
# the series that is a BH work item on system_bh_wq (a converted tasklet).
BACKTRACE = r'''
backtrace_ktap() {	# KTAP: the softirq backtrace of kernel/backtracetest.c
	echo "KTAP version 1"
	echo "1..2"
	if ! modprobe backtracetest; then
		echo "not ok 1 softirq backtrace comes from the BH work item # no backtracetest module"
		echo "not ok 2 it ran from the BH pool in softirq context # no backtracetest module"
		return
	fi
	bt=$(dmesg | sed -n '/Testing a backtrace from softirq context/,/Testing a saved backtrace/p')
	rmmod backtracetest
	if echo "$bt" | grep -q backtrace_test_bh_workfn; then
		echo "ok 1 softirq backtrace comes from the BH work item"
	else
		echo "$bt" | sed 's/^/# /'
		echo "not ok 1 softirq backtrace comes from the BH work item"
	fi
	# the softirq loop is __do_softirq(), or handle_softirqs() in later 6.1.y
	if echo "$bt" | grep -q bh_pool_run && echo "$bt" | grep -q -e __do_softirq -e handle_softirqs; then
		echo "ok 2 it ran from the BH pool in softirq context"
	else
		echo "$bt" | sed 's/^/# /'
		echo "not ok 2 it ran from the BH pool in softirq context"
	fi
}
if [ -n "$(modprobe -n -v backtracetest 2>/dev/null)" ] && \
   grep -q system_bh_wq /proc/kallsyms; then
	section backtracetest backtrace_ktap || status=1
fi
'''

WQ_DUMP = r'''
if [ -f {repo}/wq_dump.py ] && [ -x /usr/bin/drgn ]; then
	section wq_dump /usr/bin/drgn -q -s {vmlinux} {repo}/wq_dump.py {args} || status=1
fi
'''

# KTAP tests of wq_dump.py, one drgn session (loading the debug info takes
# minutes under TCG).  The test module's debug info is loaded too, so that
# the functions of its parked items have names.
WQ_DUMP_KTAP = r'''
if [ -x /usr/bin/drgn ]; then
	syms="-s {vmlinux}"
	[ -f {ko} ] && syms="$syms -s {ko}"
	section {section} /usr/bin/drgn -q $syms {repo}/tools/guest/wq_dump_ktap.py {args} || status=1
fi
'''

# Test cases after which lockdep is off (it stops after its first report):
# the last thing the job runs.
LAST = r'''
last_ktap() {	# KTAP: the test module's run_last cases
	echo "KTAP version 1"
	echo "1..1"
	if echo bh_cancel_deadlock_reported >/sys/kernel/debug/test_workqueue/run_last; then
		echo "ok 1 bh_cancel_deadlock_reported"
	else
		echo "not ok 1 bh_cancel_deadlock_reported"
	fi
}
if [ -w /sys/kernel/debug/test_workqueue/run_last ]; then
	section kselftest-workqueue-last last_ktap || status=1
fi
'''

TAIL = '\nexit $status\n'

PARK_ITEMS = 8		# items parked on system_bh_wq by the wq-dump test


def module_ko(out: Path) -> Path:
	return out / 'lib' / 'test_workqueue.ko'


def wq_dump_ktap_job(out: Path, args: str, section: str = 'wq-dump') -> str:
	return WQ_DUMP_KTAP.replace('{repo}', str(REPO)).replace(
		'{vmlinux}', str(out / 'vmlinux')).replace(
		'{ko}', str(module_ko(out))).replace('{args}', args.strip()).replace(
		'{section}', section)


def test_job(out: Path, smp: int, wq_dump: bool = True, dump_args: str = '',
	     wq_dump_ktap: bool = False, dump_request: str = '',
	     lockdep_last: bool = False) -> str:
	"""The guest job: smoke test, kselftest, wq_dump.py.

	wq_dump prints the text output (the main job's display);
	wq_dump_ktap runs the KTAP tests of wq_dump.py instead, parking BH
	items on the last CPU when there is more than one and, with
	dump_request, having the host dump the guest meanwhile."""
	job = PRELUDE + SMOKE.replace('{smp}', str(smp))
	job += KSELFTEST.replace('{kst}', str(out / 'kselftest' / 'workqueue'))
	job += BACKTRACE
	if wq_dump:
		job += WQ_DUMP.replace('{repo}', str(REPO)).replace(
			'{vmlinux}', str(out / 'vmlinux')).replace('{args}', dump_args)
	if wq_dump_ktap:
		args = dump_args
		if smp > 1:
			args += f' --park {smp - 1}:{PARK_ITEMS}'
			if dump_request:
				args += f' --dump-request {dump_request}'
		job += wq_dump_ktap_job(out, args)
	if lockdep_last:
		job += LAST
	return job + TAIL


_BEGIN = re.compile(r'^wqbh-section-begin: (\S+)')
_END = re.compile(r'^wqbh-section-end: (\S+) rc=(-?\d+)')


def sections(lines: List[str]) -> Dict[str, Tuple[List[str], int]]:
	"""Split a job's output into {name: (lines, rc)}; rc -1 if cut short."""
	out: Dict[str, Tuple[List[str], int]] = {}
	cur, buf = None, []
	for line in lines:
		line = line.rstrip('\r\n')
		m = _BEGIN.match(line)
		if m:
			cur, buf = m.group(1), []
			continue
		m = _END.match(line)
		if m and cur == m.group(1):
			out[cur] = (buf, int(m.group(2)))
			cur = None
			continue
		if cur is not None:
			buf.append(line)
	if cur is not None:
		out[cur] = (buf, -1)
	return out
