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
from typing import Dict, List, Optional, Tuple

from .common import REPO, HarnessError

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

# Tasklet executions of the boot, by callback (irq:tasklet_entry).  Until
# the job starts they go to the top trace buffer (the kernel command line's
# trace_event=, see qemu.TASKLET_TRACE); the job counts those, then
# traces the event in an instance of its own, which the tests' clearing
# of the top buffer leaves alone, and TASKLETS_END reports both.  Boots
# without that command line (the bench kernels) trace nothing.
TASKLETS_BEGIN = r'''
TL=/sys/kernel/tracing
TLI=$TL/instances/wqbh_tasklets
TLB=/tmp/wqbh-tasklets-boot
tasklets_begin() {	# count the boot's tasklets, trace the job's apart
	grep -q 'trace_event=irq:tasklet_entry' /proc/cmdline || return 0
	[ -e $TL/events/irq/tasklet_entry/enable ] || return 0
	grep -o 'function=[^ ]*' $TL/trace >$TLB 2>/dev/null
	echo 0 >$TL/events/irq/tasklet_entry/enable
	echo >$TL/trace
	mkdir $TLI 2>/dev/null && echo 1 >$TLI/events/irq/tasklet_entry/enable
}
tasklets_begin
'''

TASKLETS_END = r'''
tasklets_end() {	# wqbh-tasklets: CALLBACK COUNT lines, then the events lost
	[ -n "${TLI:-}" ] && [ -d "$TLI" ] || return 0
	echo 0 >$TLI/events/irq/tasklet_entry/enable
	{ cat "$TLB"; grep -o 'function=[^ ]*' $TLI/trace; } |
		sed 's/^function=//' | sort | uniq -c |
		while read -r n f; do echo "wqbh-tasklets: $f $n"; done
	echo "wqbh-tasklets-overrun: $(cat $TLI/per_cpu/cpu*/stats 2>/dev/null |
		awk '/^overrun:/ { s += $2 } END { print s + 0 }')"
	rmdir $TLI 2>/dev/null || true
	return 0
}
tasklets_end
'''

PRELUDE += TASKLETS_BEGIN

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

# Every section below runs unconditionally: one that can't do its work
# says so in its own output (or fails), and the host checks each boot's
# output against the manifest of what it must report (manifest()).
KSELFTEST = r'''
kst={kst}
modprobe test_workqueue || echo "wqbh: modprobe test_workqueue failed"
section kselftest-workqueue "$kst/test_workqueue" || status=1
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
	# The item's function calls dump_stack() last, so the compiler may
	# make that a tail call: the frame below dump_stack() is then the
	# BH pool's runner, not the function.
	below=$(echo "$bt" | sed 's/^\[[^]]*\]//; s/^ *//' | grep -v '^?' |
		grep -A1 -E '^dump_stack(_lvl)?\+' | sed -n 2p)
	if echo "$bt" | grep -q backtrace_test_bh_workfn ||
	   echo "$below" | grep -q '^bh_pool_run+'; then
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
section backtracetest backtrace_ktap || status=1
'''

WQ_DUMP = r'''
section wq_dump /usr/bin/drgn -q -s {vmlinux} {repo}/wq_dump.py {args} || status=1
'''

# KTAP tests of wq_dump.py, one drgn session (loading the debug info takes
# minutes under TCG).  The test module's debug info is loaded too, so that
# the functions of its parked items have names.
WQ_DUMP_KTAP = r'''
syms="-s {vmlinux}"
[ -f {ko} ] && syms="$syms -s {ko}"
section {section} /usr/bin/drgn -q $syms {repo}/tools/guest/wq_dump_ktap.py {args} || status=1
'''

# Test cases after which lockdep is off (it stops after its first report),
# or which make the kernel report a bug on purpose (each inside an
# "expect splat" region): the last thing the job runs.  The module lists
# them in wq_test_last_cases[]; manifest() holds the boot to that table.
LAST_CASES = ['bh_cancel_deadlock_reported', 'bh_leak_irqs_off', 'bh_leak_preempt']
LAST = ('\nsection kselftest-workqueue-last "$kst/test_workqueue" --last '
	+ ' '.join(LAST_CASES) + ' || status=1\n')

TAIL = TASKLETS_END + '\nexit $status\n'

PARK_ITEMS = 8		# items parked on system_bh_wq by the wq-dump test

# The KTAP cases of tools/guest/wq_dump_ktap.py, by mode.
WQ_DUMP_CASES = ['wq_dump JSON matches its schema and a healthy kernel',
		 'wq_dump text, --pending, --wq and --watch modes']
WQ_DUMP_PARK_CASES = ['parked BH items are shown',
		      'parked BH items run when their CPU is back']
WQ_DUMP_CORE_CASES = WQ_DUMP_CASES + ['parked BH items are shown (crash dump)']
SMOKE_CASES = ['guest sees {smp} CPUs', '/proc/kcore and tracing present',
	       'CPU hotplug offline/online']
BACKTRACE_CASES = ['softirq backtrace comes from the BH work item',
		   'it ran from the BH pool in softirq context']

# A boot's manifest: {section: case names it must report, or None where
# only the section's own KTAP plan says how many}.
Manifest = Dict[str, Optional[List[str]]]


def module_cases(tree: Path, table: str = 'wq_test_cases') -> List[str]:
	"""The cases of the test module in `tree` (lib/test_workqueue.c's
	wq_test_cases[] table, or `table`), which its kselftest must report,
	each by name."""
	src = tree / 'lib' / 'test_workqueue.c'
	text = src.read_text(errors='replace') if src.exists() else ''
	m = re.search(table + r'\[\]\s*=\s*\{(.*?)\n\};', text, re.S)
	if not m:
		raise HarnessError(f'{src}: no {table}[] table')
	return re.findall(r'\{\s*"(\w+)"\s*,', m.group(1))


def manifest(tree: Path, smp: int, wq_dump: bool = True, wq_dump_ktap: bool = False,
	     lockdep_last: bool = False) -> Manifest:
	"""What test_job() with the same arguments must report."""
	man: Manifest = {
		'guest-smoke': [c.replace('{smp}', str(smp)) for c in SMOKE_CASES],
		'kselftest-workqueue': module_cases(tree),
		'backtracetest': BACKTRACE_CASES,
	}
	if wq_dump:
		man['wq_dump'] = None
	if wq_dump_ktap:
		man['wq-dump'] = WQ_DUMP_CASES + WQ_DUMP_PARK_CASES
	if lockdep_last:
		# what the module lists, so that a case LAST leaves out fails
		man['kselftest-workqueue-last'] = module_cases(tree, 'wq_test_last_cases')
	return man


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


_TASKLET_LINE = re.compile(r'^wqbh-tasklets: (\S+) (\d+)$')
_OVERRUN_LINE = re.compile(r'^wqbh-tasklets-overrun: (\d+)$')


def tasklet_counts(lines: List[str]) -> Optional[Tuple[Dict[str, int], int]]:
	"""The tasklet executions a job reported ({callback: count}, and the
	events its trace instance lost), or None if it traced none."""
	counts: Dict[str, int] = {}
	overrun = None
	for line in map(str.strip, lines):
		m = _TASKLET_LINE.match(line)
		if m:
			counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
			continue
		m = _OVERRUN_LINE.match(line)
		if m:
			overrun = int(m.group(1))
	return None if overrun is None else (counts, overrun)


def tasklet_summary(counts: Dict[str, int], overrun: int) -> str:
	"""One line: the total and the callbacks, most frequent first."""
	total = sum(counts.values())
	text = f'{total} tasklet executions'
	if counts:
		text += ': ' + ', '.join(f'{f} {n}' for f, n in
					sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
	if overrun:
		text += f' (and {overrun} events lost to a full trace buffer)'
	return text
