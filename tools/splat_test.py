#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of the kernel-splat detector (wqbh/splat.py) and of
`wqbh splat`, on canned console logs: test_data/console_*.log (whole
boots) and the excerpts of test_data/splat/ (one a kind of report; see
its README for which are real recordings).

Run: cd tools && /usr/bin/python3 -m unittest splat_test
"""

import contextlib
import io
import sys
import tempfile
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

from wqbh import splat	# noqa: E402

DATA = TOOLS / 'test_data'
CORPUS = DATA / 'splat'

# Every excerpt of test_data/splat/: the (kind, line) of each splat in it.
EXPECTED = {
	'gpf_kasan.log': [('GPF', 2), ('panic', 49)],
	'hard_lockup.log': [('lockup', 1)],
	'hung_task.log': [('hung task', 2)],
	'kasan.log': [('KASAN', 3)],
	'kcsan.log': [('KCSAN', 2)],
	'kernel_bug.log': [('BUG', 3), ('panic', 50)],
	'kfence.log': [('KFENCE', 2)],
	'list_corruption.log': [('list corruption', 3)],
	'lockdep_circular.log': [('lockdep', 4)],
	'lockdep_nonstatic_key.log': [('lockdep', 2)],
	'lockdep_off.log': [('lockdep', 2)],
	'odebug.log': [('ODEBUG', 3)],
	'oops_null.log': [('Oops', 2), ('panic', 52)],
	'panic.log': [('panic', 2)],
	'rcu_stall.log': [('RCU stall', 2)],
	'refcount.log': [('refcount', 3)],
	'scheduling_while_atomic.log': [('atomic', 2)],
	'sleeping_in_atomic.log': [('atomic', 2)],
	'slub.log': [('SLUB', 2)],
	'soft_lockup.log': [('lockup', 2)],
	'ubsan.log': [('UBSAN', 2)],
	'warning.log': [('WARNING', 4)],
	'workqueue_leaked.log': [('workqueue', 2)],
	'workqueue_lockup.log': [('workqueue', 2)],
}


def data_lines(name):
	return (DATA / name).read_text().splitlines()


def found(lines):
	return [(s.kind, s.lineno) for s in splat.find(lines)]


def load_cli():
	"""The harness's command line, wqbh.cli (`python3 -m wqbh`)."""
	from wqbh import cli
	return cli


class WholeLogTest(unittest.TestCase):
	"""Real boots of the debug kernel (splat_module/record.sh --console)."""

	def test_clean_boot_has_no_splat(self):
		# TCG's "inconsistent fixed MTRR" line, "panic=-1 oops=panic" on
		# the command line, lockdep's banner are not splats.
		lines = data_lines('console_clean.log')
		self.assertTrue(any('inconsistent fixed MTRR' in ln for ln in lines))
		self.assertTrue(any('panic=-1' in ln for ln in lines))
		self.assertTrue(any('MAX_LOCKDEP_SUBCLASSES' in ln for ln in lines))
		self.assertEqual(splat.find(lines), [])

	def test_every_clean_boot(self):
		# console_clean*.log: whole boots which must give no splat
		for path in sorted(DATA.glob('console_clean*.log')):
			with self.subTest(log=path.name):
				self.assertEqual(splat.find(path.read_text().splitlines()), [])

	def test_kasan_report(self):
		got = splat.find(data_lines('console_kasan.log'))
		self.assertEqual([(s.kind, s.lineno) for s in got], [('KASAN', 257)])
		self.assertIn('BUG: KASAN: use-after-free in splat_kasan', got[0].line)

	def test_lockdep_report(self):
		got = splat.find(data_lines('console_lockdep.log'))
		self.assertEqual([(s.kind, s.lineno) for s in got], [('lockdep', 263)])
		self.assertEqual(got[0].line, 'WARNING: possible circular locking dependency detected')

	def test_warning_names_its_header_line(self):
		lines = data_lines('console_warning.log')
		got = splat.find(lines)
		self.assertEqual([s.kind for s in got], ['WARNING'])
		self.assertTrue(lines[got[0].lineno - 1].startswith('WARNING: CPU: '))
		self.assertTrue(got[0].line.startswith('WARNING: CPU: 1 PID: 54 at '))


class MissingKindsTest(unittest.TestCase):
	"""Review item 1: reports the regex list let through or misnamed."""

	def test_kernel_bug(self):
		lines = ['------------[ cut here ]------------',
			 'kernel BUG at mm/foo.c:12!',
			 'invalid opcode: 0000 [#1] PREEMPT SMP KASAN',
			 'CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1',
			 '---[ end trace 0000000000000000 ]---']
		self.assertEqual(found(lines), [('BUG', 2)])
		self.assertEqual(found(['Kernel BUG at foo+0x12/0x40 [verbose debug info unavailable]']),
				 [('BUG', 1)])

	def test_rcu_stalls(self):
		for line in ('rcu: INFO: rcu_sched self-detected stall on CPU',
			     'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
			     'rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: {',
			     'INFO: rcu_tasks detected stalls on tasks:',
			     'INFO: rcu_tasks_trace detected stalls on tasks:'):
			with self.subTest(line=line):
				self.assertEqual(found(['x', line, '\t(t=21002 jiffies g=1 q=2 ncpus=4)']),
						 [('RCU stall', 2)])

	def test_lockdep_nonstatic_key(self):
		lines = ['INFO: trying to register non-static key.',
			 'The code is fine but needs lockdep annotation, or maybe',
			 "you didn't initialize this object before use?",
			 'turning off the locking correctness validator.',
			 'CPU: 0 PID: 54 Comm: insmod Tainted: G           O       6.1.0 #1']
		self.assertEqual(found(lines), [('lockdep', 1)])

	def test_lockdep_turned_off(self):
		self.assertEqual(found(['BUG: MAX_LOCKDEP_CHAINS too low!',
					'turning off the locking correctness validator.']),
				 [('lockdep', 1)])
		self.assertEqual(found(['x', 'turning off the locking correctness validator.']),
				 [('lockdep', 2)])

	def test_hung_task(self):
		lines = ['INFO: task kworker/0:1:23 blocked for more than 120 seconds.',
			 '      Not tainted 6.1.0 #1',
			 '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
			 'task:kworker/0:1     state:D stack:0     pid:23    ppid:2      flags:0x00004000',
			 'Call Trace:']
		self.assertEqual(found(lines), [('hung task', 1)])

	def test_ubsan(self):
		lines = ['=' * 80,
			 'UBSAN: shift-out-of-bounds in lib/foo.c:12:34',
			 'shift exponent 64 is too large for 64-bit type \'long unsigned int\'',
			 'CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1',
			 '=' * 80]
		self.assertEqual(found(lines), [('UBSAN', 2)])

	def test_refcount_warning_is_refcount(self):
		lines = ['------------[ cut here ]------------',
			 'refcount_t: underflow; use-after-free.',
			 'WARNING: CPU: 2 PID: 54 at lib/refcount.c:28 refcount_warn_saturate+0x13a/0x190',
			 'Modules linked in: splat_test(O+)',
			 '---[ end trace 0000000000000000 ]---']
		got = splat.find(lines)
		self.assertEqual([(s.kind, s.lineno) for s in got], [('refcount', 2)])
		self.assertEqual(got[0].line, 'refcount_t: underflow; use-after-free.')

	def test_list_corruption(self):
		for line in ('list_add corruption. prev->next should be next (ffffffffa0002100), '
			     'but was 0000000000000000. (prev=ffffffffa0002100).',
			     'list_add double add: new=ffff888004a73200, prev=ffff888004a73200, '
			     'next=ffff888004a73300.',
			     'list_del corruption, ffffffffa0002110->next is LIST_POISON1 '
			     '(dead000000000100)'):
			with self.subTest(line=line):
				lines = ['------------[ cut here ]------------', line,
					 'WARNING: CPU: 0 PID: 54 at lib/list_debug.c:56 '
					 '__list_del_entry_valid+0x9c/0xf0',
					 '---[ end trace 0000000000000000 ]---']
				self.assertEqual(found(lines), [('list corruption', 2)])
		# CONFIG_BUG_ON_DATA_CORRUPTION: pr_err() and BUG()
		lines = ['list_del corruption. next->prev should be ffff8880, but was '
			 '0000000000000000. (next=ffff8881)',
			 '------------[ cut here ]------------',
			 'kernel BUG at lib/list_debug.c:62!',
			 'invalid opcode: 0000 [#1] PREEMPT SMP KASAN']
		self.assertEqual(found(lines), [('list corruption', 1)])

	def test_workqueue_reports(self):
		for line in ('BUG: workqueue leaked lock or atomic: kworker/0:1/0x00000001/23',
			     'BUG: BH workqueue leaked lock or atomic: 0x00000100->0x00000101 lock 0->1',
			     'BUG: workqueue lockup - pool cpus=1 node=0 flags=0x0 nice=0 stuck for 31s!',
			     'BUG: workqueue lockup - pool (bh) cpus=1 node=0 flags=0x0 nice=0 stuck for 31s!'):
			with self.subTest(line=line):
				self.assertEqual(found(['x', line, '     last function: foo']),
						 [('workqueue', 2)])


class NamingTest(unittest.TestCase):
	"""Review item 2: a report is named by its own header, once."""

	def test_gpf_on_kasan_kernel_is_gpf(self):
		lines = ['general protection fault, probably for non-canonical address '
			 '0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN',
			 'KASAN: null-ptr-deref in range [0x0000000000000010-0x0000000000000017]',
			 'CPU: 1 PID: 54 Comm: insmod Tainted: G           O       6.1.0 #1',
			 'RIP: 0010:splat_gpf+0x4b/0x90 [splat_test]',
			 '---[ end trace 0000000000000000 ]---',
			 'Kernel panic - not syncing: Fatal exception',
			 '---[ end Kernel panic - not syncing: Fatal exception ]---']
		self.assertEqual(found(lines), [('GPF', 1), ('panic', 6)])

	def test_oops_on_kasan_kernel_is_oops(self):
		lines = ['BUG: kernel NULL pointer dereference, address: 0000000000000010',
			 '#PF: supervisor read access in kernel mode',
			 '#PF: error_code(0x0000) - not-present page',
			 'PGD 0 P4D 0 ',
			 'Oops: 0000 [#1] PREEMPT SMP KASAN',
			 'CPU: 1 PID: 54 Comm: insmod Tainted: G           O       6.1.0 #1',
			 '---[ end trace 0000000000000000 ]---']
		got = splat.find(lines)
		self.assertEqual([(s.kind, s.lineno) for s in got], [('Oops', 1)])
		self.assertEqual(found(['Oops: 0002 [#1] PREEMPT SMP KASAN']), [('Oops', 1)])
		self.assertEqual(found(['BUG: unable to handle page fault for address: '
					'ffffc90000000000']), [('Oops', 1)])

	def test_one_splat_per_report(self):
		# A KASAN report names KASAN on several lines, lockdep's on none
		# after its header.
		lines = ['=' * 66,
			 'BUG: KASAN: slab-out-of-bounds in foo+0x1/0x2',
			 'Read of size 8 at addr ffff888004a73208 by task insmod/54',
			 'CPU: 3 PID: 54 Comm: insmod Tainted: G    B      O       6.1.0 #1',
			 ' kasan_report+0xbf/0xf0',
			 ' __asan_load8+0x3/0x4',
			 'The buggy address belongs to the object at ffff888004a73200',
			 '=' * 66,
			 'Disabling lock debugging due to kernel taint']
		self.assertEqual(found(lines), [('KASAN', 2)])

	def test_harmless_lines(self):
		lines = ['mtrr: your CPUs had inconsistent fixed MTRR settings',
			 'Kernel command line: console=ttyS0 panic=-1 oops=panic',
			 'Command line: console=ttyS0 panic=-1 oops=panic',
			 'kasan: KernelAddressSanitizer initialized',
			 'Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar',
			 '... MAX_LOCKDEP_SUBCLASSES:  8',
			 '... MAX_LOCK_DEPTH:          48',
			 '... MAX_LOCKDEP_KEYS:        8192',
			 ' memory used by lock dependency info: 6365 kB',
			 'ODEBUG: selftest passed',
			 'ODEBUG: 12 of 12 active objects replaced',
			 'rcu: Preemptible hierarchical RCU implementation.',
			 'rcu: \tRCU lockdep checking is enabled.',
			 'workqueue: round-robin CPU selection forced, expect performance impact',
			 'Disabling lock debugging due to kernel taint',
			 'traps: a.out[123] general protection fault ip:401136 sp:7ffd error:0 in a.out',
			 'a.out[124]: segfault at 0 ip 0000000000401136 sp 00007ffd error 6',
			 'test_workqueue: bh_bad_flags: flags 0x9 max_active 0 accepted',
			 'sysrq: Power Off']
		self.assertEqual(splat.find(lines), [])

	def test_prefixes(self):
		# timestamps, caller ids, a log level, a syslog line
		for line in ('[   12.345678] BUG: KASAN: use-after-free in foo+0x1/0x2',
			     '[   12.345678][  T123] BUG: KASAN: use-after-free in foo+0x1/0x2',
			     '[   12.345678] [    C1] BUG: KASAN: use-after-free in foo+0x1/0x2',
			     '<3>[   12.345678] BUG: KASAN: use-after-free in foo+0x1/0x2',
			     'Nov 30 19:00:01 guest kernel: BUG: KASAN: use-after-free in foo+0x1/0x2',
			     '[Mon Nov 30 19:00:01 2026] BUG: KASAN: use-after-free in foo+0x1/0x2'):
			with self.subTest(line=line):
				got = splat.find(['x', line])
				self.assertEqual([(s.kind, s.lineno) for s in got], [('KASAN', 2)])
				self.assertEqual(got[0].line, line)
		self.assertEqual(found(['[    9.100000] watchdog: BUG: soft lockup - CPU#1 stuck '
					'for 22s! [insmod:54]']), [('lockup', 1)])
		self.assertEqual(found(['[    9.1] NMI watchdog: Watchdog detected hard LOCKUP '
					'on cpu 1']), [('lockup', 1)])

	def test_other_kinds(self):
		for kind, line in (
				('atomic', 'BUG: sleeping function called from invalid context at '
				 'kernel/locking/mutex.c:580'),
				('atomic', 'BUG: scheduling while atomic: insmod/54/0x00000002'),
				('atomic', 'softirq: huh, entered softirq 6 TASKLET 000000 with '
				 'preempt_count 00000100, exited with 00000101?'),
				('ODEBUG', 'ODEBUG: free active (active state 0) object type: '
				 'timer_list hint: splat_timer_fn+0x0/0x10 [splat_test]'),
				('ODEBUG', 'ODEBUG: object 00000000 is on stack 00000000, but NOT annotated.'),
				('lockdep', 'WARNING: suspicious RCU usage'),
				('lockdep', 'WARNING: inconsistent lock state'),
				('lockdep', '[ BUG: Invalid wait context ]'),
				('lockdep', 'WARNING: kworker/0:1/23 still has locks held!'),
				('lockdep', 'BUG: looking up invalid subclass: 8'),
				('KFENCE', 'BUG: KFENCE: use-after-free read in test_uaf+0xb3/0x143'),
				('KCSAN', 'BUG: KCSAN: data-race in foo / bar'),
				('SLUB', 'BUG kmalloc-64 (Not tainted): Poison overwritten'),
				('SLUB', 'BUG kmalloc-64 (Tainted: G    B     ): Object already free'),
				('Oops', 'invalid opcode: 0000 [#1] PREEMPT SMP KASAN'),
				('Oops', 'double fault: 0000 [#1] PREEMPT SMP KASAN'),
				('panic', 'Kernel panic - not syncing: Attempted to kill init! '
				 'exitcode=0x0000000b'),
				('BUG', 'BUG: Bad page state in process insmod  pfn:04a73'),
				('BUG', 'BUG: spinlock bad magic on CPU#0, insmod/54'),
				('WARNING', 'WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:4400 '
				 'alloc_workqueue+0x1/0x2')):
			with self.subTest(line=line):
				self.assertEqual(found(['x', line]), [(kind, 2)])

	def test_kinds_are_known(self):
		for k in ('KASAN', 'GPF', 'Oops', 'BUG', 'WARNING', 'refcount', 'list corruption',
			  'UBSAN', 'lockdep', 'RCU stall', 'hung task', 'atomic', 'workqueue',
			  'lockup', 'ODEBUG', 'panic'):
			self.assertIn(k, splat.KINDS)


class ExpectedRegionTest(unittest.TestCase):
	"""Review item 3: "expect splat: KIND: ..." regions."""

	def test_expected_kind_is_accepted(self):
		lines = ['x', 'wqbh: expect splat: WARNING: bad flags',
			 '------------[ cut here ]------------',
			 'WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:4400 alloc_workqueue+0x1/0x2',
			 '---[ end trace 0000000000000000 ]---',
			 'WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:4410 alloc_workqueue+0x1/0x2',
			 '---[ end trace 0000000000000000 ]---',
			 'wqbh: end of expected splat', 'y']
		self.assertEqual(splat.find(lines), [])

	def test_expected_kind_from_test_module(self):
		lines = ['[    9.1] test_workqueue: expect splat: lockdep: BH cancel under its lock',
			 '[    9.2] ======================================================',
			 '[    9.2] WARNING: possible circular locking dependency detected',
			 '[    9.3] test_workqueue: end of expected splat']
		self.assertEqual(splat.find(lines), [])

	def test_other_kind_in_region_is_a_splat(self):
		# another CPU's report, or the wrong one: not hidden by the region
		lines = ['test_workqueue: expect splat: WARNING: bad flags',
			 'WARNING: CPU: 1 PID: 80 at kernel/workqueue.c:4400 alloc_workqueue+0x1/0x2',
			 '---[ end trace 0000000000000000 ]---',
			 'BUG: KASAN: use-after-free in foo+0x1/0x2',
			 '=' * 66,
			 'test_workqueue: end of expected splat']
		self.assertEqual(found(lines), [('KASAN', 4)])

	def test_missing_expected_kind_is_a_splat(self):
		lines = ['wqbh: expect splat: WARNING: bad flags', 'nothing',
			 'wqbh: end of expected splat']
		got = splat.find(lines)
		self.assertEqual([(s.kind, s.lineno) for s in got], [('missing expected splat', 1)])
		# another kind doesn't stand in for it
		lines = ['wqbh: expect splat: lockdep: a deadlock',
			 'WARNING: CPU: 1 PID: 80 at kernel/workqueue.c:4400 alloc_workqueue+0x1/0x2',
			 'wqbh: end of expected splat']
		self.assertEqual(found(lines), [('missing expected splat', 1), ('WARNING', 2)])

	def test_unclosed_region_is_a_splat(self):
		lines = ['wqbh: expect splat: WARNING: bad flags',
			 'WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:4400 alloc_workqueue+0x1/0x2',
			 'more', 'BUG: KASAN: use-after-free in foo+0x1/0x2']
		self.assertEqual(found(lines), [('unclosed expected splat', 1), ('KASAN', 4)])
		# a region begun inside another one
		lines = ['wqbh: expect splat: WARNING: a', 'WARNING: CPU: 0 PID: 1 at a',
			 'wqbh: expect splat: WARNING: b', 'WARNING: CPU: 0 PID: 1 at b',
			 'wqbh: end of expected splat']
		self.assertEqual(found(lines), [('unclosed expected splat', 1)])

	def test_kindless_begin_line_is_a_splat(self):
		# what the series' test module prints before this detector
		line = 'test_workqueue: expect splat: alloc_workqueue() warning on bad WQ_BH flags'
		lines = [line, 'WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:4400 x',
			 'test_workqueue: end of expected splat']
		got = splat.find(lines)
		self.assertEqual([(s.kind, s.lineno) for s in got],
				 [('bad expected splat', 1), ('WARNING', 2)])
		self.assertIn(line, got[0].line)

	def test_unknown_kind_is_a_splat(self):
		lines = ['wqbh: expect splat: frobnication: x', 'wqbh: end of expected splat']
		self.assertEqual(found(lines), [('bad expected splat', 1)])

	def test_kind_names(self):
		for what, kind in ((' WARNING: x', 'WARNING'), (' lockdep: x: y', 'lockdep'),
				   (' hung task: x', 'hung task'), (' kasan: x', 'KASAN'),
				   (' WARNING', 'WARNING'), (' warning on bad flags', None),
				   (' x', None), ('', None)):
			with self.subTest(what=what):
				self.assertEqual(splat.expected_kind(what), kind)

	def test_stray_end_is_a_splat(self):
		self.assertEqual(found(['x', 'wqbh: end of expected splat']), [('stray end of expected splat', 2)])


class CorpusTest(unittest.TestCase):
	"""Review item 4: each excerpt of test_data/splat/ gives exactly its
	reports, each named by its header line."""

	def test_every_excerpt_is_listed(self):
		logs = sorted(p.name for p in CORPUS.glob('*.log'))
		self.assertEqual(logs, sorted(EXPECTED))

	def test_excerpts(self):
		for name, want in sorted(EXPECTED.items()):
			with self.subTest(log=name):
				lines = (CORPUS / name).read_text().splitlines()
				self.assertEqual(found(lines), want)

	def test_excerpt_splats_name_their_header_lines(self):
		for name in sorted(EXPECTED):
			with self.subTest(log=name):
				lines = (CORPUS / name).read_text().splitlines()
				for s in splat.find(lines):
					self.assertEqual(s.line, lines[s.lineno - 1].strip())
					self.assertEqual(splat.header(s.line).kind, s.kind)

	def test_excerpts_in_expected_regions(self):
		# bracketed by the lines a test prints, each excerpt's first kind
		# is expected, and only the others are left
		for name, want in sorted(EXPECTED.items()):
			kind = want[0][0]
			with self.subTest(log=name, kind=kind):
				lines = (CORPUS / name).read_text().splitlines()
				lines = ([f'test_workqueue: expect splat: {kind}: {name}'] + lines +
					 ['test_workqueue: end of expected splat'])
				self.assertEqual([(k, n + 1) for k, n in want if k != kind], found(lines))

	def test_every_kind_has_an_excerpt(self):
		seen = {kind for want in EXPECTED.values() for kind, _ in want}
		self.assertEqual(sorted(set(splat.KINDS) - seen), [])


class ExcerptTest(unittest.TestCase):
	"""A failed boot shows the report itself, for runs whose console
	log is not kept (CI's)."""

	def test_lockup_shows_the_busy_pools(self):
		lines = (CORPUS / 'workqueue_lockup.log').read_text().splitlines()
		s = splat.find(lines)[0]
		got = splat.excerpt(lines, s)
		self.assertEqual(got[0], 'splat_test: provoking wq_lockup')
		self.assertEqual(got[1], s.line)
		self.assertIn('    in-flight: 23:splat_wq_busy_fn [splat_test]', got)
		self.assertIn('pool 2: cpus=1 node=0 flags=0x0 nice=0 hung=31s workers=3 idle: 67 12',
			      got)

	def test_stops_at_the_end_marker(self):
		lines = (CORPUS / 'warning.log').read_text().splitlines()
		end = next(n for n, ln in enumerate(lines) if ln.startswith('---[ end trace'))
		lines = lines[end - 5:end + 1] + ['after the report']
		lines[1] = 'WARNING: CPU: 1 PID: 54 at lib/x.c:50 x+0x48/0x1000'
		got = splat.excerpt(lines, splat.find(lines)[0])
		self.assertEqual(got, lines[:-1])

	def test_is_bounded(self):
		lines = ['x', 'BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 39s!']
		lines += [f'line {n}' for n in range(100)]
		got = splat.excerpt(lines, splat.find(lines)[0])
		self.assertEqual(len(got), 1 + splat.EXCERPT_LINES)
		self.assertEqual(got[-1], f'line {splat.EXCERPT_LINES - 2}')


class CommandTest(unittest.TestCase):
	"""Review item 5: `wqbh splat LOG...`."""

	@classmethod
	def setUpClass(cls):
		cls.cli = load_cli()

	def run_cli(self, *args):
		out, err = io.StringIO(), io.StringIO()
		with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
			rc = self.cli.main(['--no-deps', 'splat', *args])
		return rc, out.getvalue(), err.getvalue()

	def test_splats_found(self):
		path = str(DATA / 'console_kasan.log')
		rc, out, _ = self.run_cli(path)
		self.assertEqual(rc, 1)
		self.assertEqual(out.splitlines(), [
			f'KASAN  {path}:257  BUG: KASAN: use-after-free in splat_kasan+0x6f/0x82 '
			'[splat_test]'])

	def test_several_logs(self):
		logs = [str(DATA / n) for n in ('console_clean.log', 'console_warning.log',
						'console_lockdep.log')]
		rc, out, _ = self.run_cli(*logs)
		self.assertEqual(rc, 1)
		self.assertEqual([ln.split('  ')[:2] for ln in out.splitlines()],
				 [['WARNING', f'{logs[1]}:256'], ['lockdep', f'{logs[2]}:263']])

	def test_clean_log(self):
		rc, out, _ = self.run_cli(str(DATA / 'console_clean.log'))
		self.assertEqual((rc, out), (0, ''))

	def test_unreadable_log(self):
		with tempfile.TemporaryDirectory() as tmp:
			missing = str(Path(tmp) / 'nonexistent.log')
			for bad in (missing, tmp):
				with self.subTest(log=bad):
					rc, out, err = self.run_cli(str(DATA / 'console_kasan.log'), bad)
					self.assertEqual((rc, out), (2, ''))
					self.assertEqual(len(err.splitlines()), 1)
					self.assertIn(bad, err)


if __name__ == '__main__':
	unittest.main()
