#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of the torture test's harness (tools/wqbh/torture.py), on
the output of real runs in test_data/torture/:

  clean.log      the guest output of a run on the series (make torture)
  violation.log  the guest output of a run on a mutant that was caught
  console.log    the console of a mutant run that splatted

Run: /usr/bin/python3 -m unittest tools/torture_test.py
"""

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wqbh import jobs, ktap, qemu, splat, torture	# noqa: E402
from wqbh.common import BASE_TAG, DEFAULT_TREE, PATCHES, HarnessError, read_series	# noqa: E402

DATA = Path(__file__).resolve().parent / 'test_data' / 'torture'
MUTANTS = Path(__file__).resolve().parent / 'test_data' / 'mutants'

CASES = ['coverage', 'doubled', 'lost', 'flush', 'sync', 'disabled', 'reentrant',
	 'retval', 'context', 'cpu', 'fifo', 'hotplug', 'stuck']


def section(name):
	"""The wqtorture section of a canned guest output."""
	lines = (DATA / name).read_text().splitlines()
	return jobs.sections(lines)[torture.SECTION]


def fake_tree(table):
	"""A directory with a lib/test_wqtorture.c holding `table`."""
	d = Path(tempfile.mkdtemp(prefix='wqbh-torture-'))
	(d / 'lib').mkdir()
	(d / 'lib' / 'test_wqtorture.c').write_text(table)
	return d


class ParseTest(unittest.TestCase):
	def test_clean_run(self):
		lines, rc = section('clean.log')
		self.assertEqual(rc, 0)
		st = torture.parse(lines)
		self.assertIsNotNone(st)
		self.assertEqual(st.header['hotplug'], 'on')
		self.assertEqual(st.header['seed'], '1')
		self.assertGreater(st.ms(), 0)
		# every operation was counted, with a rate
		for op in ('queue_local', 'cancel_sync', 'drain_wq', 'enable_and_queue',
			   'requeue', 'free', 'all'):
			self.assertIn(op, st.ops)
			self.assertGreater(st.ops[op][0], 0, op)
		self.assertAlmostEqual(st.ops['all'][1], st.ops['all'][0] * 1000 / st.ms(),
				       delta=st.ops['all'][1] * 0.01 + 0.01)
		self.assertEqual(sorted(st.violations), sorted(CASES[1:]))
		self.assertEqual(st.total_violations(), 0)
		self.assertEqual((st.lost, st.doubled), (0, 0))
		self.assertIsNone(st.first_violation)
		self.assertEqual(st.failed_cases, [])
		for count in ('runs_bh', 'runs_worker', 'fifo_checked', 'probes_checked'):
			self.assertGreater(st.counts[count][0], 0, count)

	def test_violation(self):
		lines, rc = section('violation.log')
		self.assertNotEqual(rc, 0)
		st = torture.parse(lines)
		self.assertGreater(st.total_violations(), 0)
		ms, kind = st.first_violation
		self.assertIn(kind, CASES)
		self.assertGreater(st.violations[kind], 0)
		self.assertIn(kind, st.failed_cases)

	def test_no_report(self):
		self.assertIsNone(torture.parse(['KTAP version 1', '1..1',
						 'not ok 1 modprobe test_wqtorture']))

	def test_summary(self):
		st = torture.parse(section('clean.log')[0])
		text = torture.summary(st)
		self.assertIn('queue_local', text)
		self.assertIn('violations: none; items lost 0, doubled 0', text)
		st = torture.parse(section('violation.log')[0])
		self.assertIn('first violation after', torture.summary(st))


@unittest.skipUnless((DEFAULT_TREE / 'tools/testing/kunit/kunit_parser.py').exists(),
		     'base tree not made yet')
class KtapTest(unittest.TestCase):
	def test_cases_are_the_manifest(self):
		cases, _ = ktap.parse(section('clean.log')[0], 'wqtorture')
		self.assertEqual([c.name for c in cases], [f'wqtorture: {c}' for c in CASES])
		self.assertEqual({c.status for c in cases}, {'pass'})

	def test_violation_fails_its_case(self):
		lines = section('violation.log')[0]
		st = torture.parse(lines)
		cases, _ = ktap.parse(lines, 'wqtorture')
		failed = {c.name.split(': ', 1)[1] for c in cases if c.status == 'fail'}
		self.assertEqual(failed, set(st.failed_cases))
		self.assertIn(st.first_violation[1], failed)


class ManifestTest(unittest.TestCase):
	TABLE = '''
static const struct {
	const char *name;
	const char *what;
} wqt_vkinds[WQT_NR_V] = {
	[WQT_V_DOUBLED]	  = { "doubled", "no run after a cancel" },
	[WQT_V_LOST]	  = { "lost", "every accepted queueing ran" },
};
'''

	def test_cases_from_source(self):
		d = fake_tree(self.TABLE)
		try:
			self.assertEqual(torture.cases(d), ['coverage', 'doubled', 'lost'])
			self.assertEqual(torture.manifest(d),
					 {'wqtorture': ['coverage', 'doubled', 'lost']})
		finally:
			shutil.rmtree(d)

	def test_no_table(self):
		d = fake_tree('/* nothing */\n')
		try:
			with self.assertRaises(HarnessError):
				torture.cases(d)
		finally:
			shutil.rmtree(d)

	def test_canned_report_has_the_cases_of_the_table(self):
		"""The cases the module reports are those cases() reads from its
		table: the canned report was made by the module in the series."""
		got = [ln.split(' ', 2)[2].split(' #')[0] for ln in section('clean.log')[0]
		       if ln.startswith(('ok ', 'not ok '))]
		self.assertEqual([g.replace('not ok', '').strip() for g in got], CASES)


class JobTest(unittest.TestCase):
	def test_job_section(self):
		text = torture.job_section(90, 7, True, 'nitems=128')
		self.assertIn('modprobe test_wqtorture duration=90 seed=7 hotplug=1 nitems=128',
			      text)
		self.assertIn(f'cat {torture.RESULTS}', text)
		self.assertIn('section wqtorture wqtorture_ktap || status=1', text)
		self.assertNotIn('{', text.replace('wqtorture_ktap() {', ''))

	def test_check_job(self):
		self.assertIn(f'duration={torture.CHECK_DURATION} seed={torture.CHECK_SEED} '
			      'hotplug=1', torture.check_job())

	def test_job_is_a_shell_script(self):
		proc = subprocess.run(['sh', '-n'], input=torture.job(60, 1, False), text=True,
				      capture_output=True)
		self.assertEqual(proc.returncode, 0, proc.stderr)


def boot_result(tmp, console='', exit_status=0, timed_out=False):
	cons = Path(tmp) / 'console.log'
	cons.write_text(console)
	out = Path(tmp) / 'output.log'
	out.write_text('')
	lines = console.splitlines()
	return qemu.BootResult(exit_status, timed_out, cons, out, splat.find(lines), 100.0)


class JudgeTest(unittest.TestCase):
	STARTED = '[   10.000000] test_wqtorture: seed 1, 60 s, 4 threads, hotplug on, 64 items\n'

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix='wqbh-judge-')

	def tearDown(self):
		shutil.rmtree(self.tmp)

	def test_violation_is_caught_with_its_time(self):
		st = torture.parse(section('violation.log')[0])
		v = torture.judge(boot_result(self.tmp, exit_status=1), st)
		self.assertTrue(v.caught)
		self.assertEqual(v.how, f'violation: {st.first_violation[1]}')
		self.assertAlmostEqual(v.seconds, st.first_violation[0] / 1000)

	def test_clean_report_is_missed(self):
		st = torture.parse(section('clean.log')[0])
		v = torture.judge(boot_result(self.tmp), st)
		self.assertFalse(v.caught)

	def test_splat_is_caught(self):
		console = (DATA / 'console.log').read_text()
		boot = boot_result(self.tmp, console)
		self.assertTrue(boot.splats)
		v = torture.judge(boot, None)
		self.assertTrue(v.caught)
		self.assertTrue(v.how.startswith('splat: '))
		self.assertIsNotNone(v.seconds)
		self.assertGreaterEqual(v.seconds, 0)

	def test_silence_is_a_hang_with_its_time(self):
		boot = boot_result(self.tmp, self.STARTED, exit_status=None)
		boot.silent_after = 12.5
		v = torture.judge(boot, None)
		self.assertTrue(v.caught)
		self.assertIn('hung', v.how)
		self.assertEqual(v.seconds, 12.5)
		self.assertIn('fell silent 12 s into the run', boot.describe())

	def test_silence(self):
		start = 'test_wqtorture: seed 1, 60 s, 4 threads, hotplug on, 64 items\n'
		self.assertFalse(torture.silence('booting\n', 10 ** 6))
		self.assertFalse(torture.silence(start, torture.HANG_SILENCE - 1))
		self.assertTrue(torture.silence(start, torture.HANG_SILENCE + 1))
		done = start + 'test_wqtorture: done after 60012 ms: 1 operations\n'
		self.assertFalse(torture.silence(done, 10 ** 6))

	def test_watcher_stops_a_silent_guest(self):
		console = Path(self.tmp) / 'console.log'
		console.write_text('booting\n')
		# the watcher finds its guest by the console's path on its command line
		guest = subprocess.Popen(['sh', '-c', 'sleep 60; : -serial file:' + str(console)],
					 start_new_session=True)
		stop, out = torture.threading.Event(), []
		t = torture.threading.Thread(target=torture._watch_silence,
					     args=(console, stop, out, 0.05, 0.3))
		t.start()
		time.sleep(0.2)
		console.write_text('booting\ntest_wqtorture: seed 1, 60 s\n')
		t.join(timeout=10)
		stop.set()
		self.assertEqual(guest.wait(timeout=10), -9)
		self.assertEqual(len(out), 1)
		self.assertLess(out[0], 1)

	def test_violations_done(self):
		self.assertTrue(torture.violations_done(
			'[ 81.0] test_wqtorture: done after 24592 ms: 66420 operations, 8908 runs, '
			'4 violations, 0 lost, 0 doubled; the module stays loaded\n'))
		self.assertFalse(torture.violations_done(
			'test_wqtorture: done after 60036 ms: 525127 operations, 154169 runs, '
			'0 violations, 0 lost, 0 doubled\n'))
		self.assertFalse(torture.violations_done(self.STARTED))
		# the canned console of a mutant whose guest never finished
		self.assertTrue(torture.violations_done((DATA / 'console.log').read_text()))

	def test_watcher_stops_a_guest_after_its_violations(self):
		console = Path(self.tmp) / 'console.log'
		console.write_text(self.STARTED)
		guest = subprocess.Popen(['sh', '-c', 'sleep 60; : -serial file:' + str(console)],
					 start_new_session=True)
		stop, out = torture.threading.Event(), []
		t = torture.threading.Thread(target=torture._watch_silence,
					     args=(console, stop, out, 0.05, 100, 0.3))
		t.start()
		time.sleep(0.2)
		console.write_text(self.STARTED + 'test_wqtorture: done after 5 ms: 1 operations, '
				   '1 runs, 2 violations, 0 lost, 0 doubled\n')
		t.join(timeout=10)
		stop.set()
		self.assertEqual(guest.wait(timeout=10), -9)
		self.assertEqual(out, [])	# not a hang

	def test_hang_and_crash_are_caught(self):
		self.assertTrue(torture.judge(boot_result(self.tmp, self.STARTED, exit_status=None,
							  timed_out=True), None).caught)
		self.assertTrue(torture.judge(boot_result(self.tmp, self.STARTED, exit_status=None),
					      None).caught)

	def test_a_kernel_that_fails_to_boot_is_no_catch(self):
		console = ('[    4.684853] general protection fault, probably for non-canonical '
			   'address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN\n'
			   '[    4.684853] RIP: 0010:process_one_work+0xe1/0x11e0\n')
		v = torture.judge(boot_result(self.tmp, console, exit_status=None), None)
		self.assertFalse(v.caught)
		self.assertIn('before the torture started', v.how)

	def test_splat_delay(self):
		lines = ['[   10.000000] test_wqtorture: seed 1, 60 s, 4 threads, hotplug on, 64 items',
			 '[   12.500000] ------------[ cut here ]------------',
			 '[   12.500001] WARNING: CPU: 1 PID: 3 at kernel/workqueue.c:1 x+0x1/0x2']
		found = splat.find(lines)
		self.assertTrue(found)
		self.assertAlmostEqual(torture.splat_delay(lines, found), 2.5, places=3)
		self.assertIsNone(torture.splat_delay(lines[1:], found))


class MutantTest(unittest.TestCase):
	def test_mutants_are_small_and_described(self):
		patches = torture.mutant_patches()
		self.assertGreaterEqual(len(patches), 6)
		for p in patches:
			with self.subTest(mutant=p.name):
				text = p.read_text()
				files = [ln for ln in text.splitlines() if ln.startswith('+++ ')]
				self.assertEqual(files, ['+++ b/kernel/workqueue.c'])
				changed = [ln for ln in text.splitlines()
					   if ln[:1] in '+-' and not ln.startswith(('+++', '---'))]
				self.assertLessEqual(len(changed), 4)
				self.assertGreater(len(torture.mutant_description(p)), 20)

	@unittest.skipUnless((DEFAULT_TREE / '.git').exists(), 'base tree not made yet')
	def test_mutants_apply_to_the_series(self):
		"""Each applies to kernel/workqueue.c at the top of the series: the
		base tree's, with every patch of `series` that touches it applied
		in a scratch directory (build/linux is not touched, and its branch
		need not exist yet: make check runs this before applying)."""
		proc = subprocess.run(['git', '-C', str(DEFAULT_TREE), 'show',
				       f'{BASE_TAG}:kernel/workqueue.c'], capture_output=True, text=True)
		self.assertEqual(proc.returncode, 0, proc.stderr)
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-mutant-'))
		try:
			(tmp / 'kernel').mkdir()
			(tmp / 'kernel' / 'workqueue.c').write_text(proc.stdout)
			subprocess.run(['git', 'init', '-q', str(tmp)], check=True)
			for name in read_series():
				patch = PATCHES / name
				if '+++ b/kernel/workqueue.c' not in patch.read_text(errors='replace'):
					continue
				r = subprocess.run(['git', '-C', str(tmp), 'apply',
						    '--include=kernel/workqueue.c', str(patch)],
						   capture_output=True, text=True)
				self.assertEqual(r.returncode, 0, f'{name}: {r.stderr}')
			for p in torture.mutant_patches():
				with self.subTest(mutant=p.name):
					r = subprocess.run(['git', '-C', str(tmp), 'apply', '--check',
							    str(p)], capture_output=True, text=True)
					self.assertEqual(r.returncode, 0, r.stderr)
		finally:
			shutil.rmtree(tmp)

	def test_table(self):
		results = [(Path('01-a.patch'), torture.Verdict(True, 'violation: flush', 1.25)),
			   (Path('02-b.patch'), torture.Verdict(False, 'no violation', None))]
		text = torture.mutant_table(results)
		self.assertIn('01-a', text)
		self.assertIn('1.2 s', text)
		self.assertIn('MISSED', text)
		self.assertIn('1 of 2 mutants caught', text)


def load_cli():
	"""The harness's command line, wqbh.cli (`python3 -m wqbh`)."""
	from wqbh import cli
	return cli


@unittest.skipUnless((DEFAULT_TREE / 'tools/testing/kunit/kunit_parser.py').exists(),
		     'base tree not made yet')
class CheckTest(unittest.TestCase):
	"""make check's torture stage (check_torture() of tools/wqbh/cli.py)."""

	def setUp(self):
		self.cli = load_cli()
		self.tmp = Path(tempfile.mkdtemp(prefix='wqbh-check-torture-'))
		self.tree = fake_tree(ManifestTest.TABLE.replace(
			'};', '\t[WQT_V_FLUSH]\t  = { "flush", "x" },\n};'))
		# the base tree's KTAP parser, as in a real tree
		(self.tree / 'tools' / 'testing').mkdir(parents=True)
		(self.tree / 'tools' / 'testing' / 'kunit').symlink_to(
			DEFAULT_TREE / 'tools' / 'testing' / 'kunit')
		self.calls = []

	def tearDown(self):
		shutil.rmtree(self.tmp)
		shutil.rmtree(self.tree)

	def check(self, output, smp=4, exit_status=0):
		"""Run check_torture() with the guest's output `output` (lines)."""
		boot = boot_result(self.tmp, exit_status=exit_status)
		boot.output.write_text('\n'.join(output) + '\n')

		def fake_run(*args, **kwargs):
			self.calls.append(args)
			secs = jobs.sections(output)
			return boot, torture.parse(secs.get(torture.SECTION, ([], 0))[0])
		res = self.cli.Results(skips_fail=smp == self.cli.CHECK_SMP)
		args = argparse.Namespace(smp=smp, timeout=0)
		with mock.patch.object(torture, 'run_torture', fake_run), \
		     contextlib.redirect_stdout(io.StringIO()), \
		     contextlib.redirect_stderr(io.StringIO()):
			self.cli.check_torture(res, self.tree, self.tmp, args)
		return {r.name: r.status for r in res.items}

	def report(self, failed=()):
		lines = ['wqbh-section-begin: wqtorture', 'KTAP version 1', '1..4',
			 '# wqtorture: seed 1, 60000 ms, 4 threads, hotplug on, 64 items, 4 CPUs']
		for i, case in enumerate(['coverage', 'doubled', 'lost', 'flush']):
			lines.append(f'{"not ok" if case in failed else "ok"} {i + 1} {case}')
		return lines + ['wqbh-section-end: wqtorture 0', 'wqbh-exit-status: 0']

	def test_every_case_is_a_result(self):
		got = self.check(self.report())
		for case in ('coverage', 'doubled', 'lost', 'flush'):
			self.assertEqual(got.get(f'wqtorture: {case}'), 'pass', case)
		self.assertEqual(got.get('torture: boots, runs the job, no splat in the console'),
				 'pass')
		args = self.calls[0]
		self.assertEqual(args[1:6], ('debug', torture.CHECK_DURATION, torture.CHECK_SEED,
					     True, 4))

	def test_a_violation_fails_its_case(self):
		got = self.check(self.report(failed=['lost']), exit_status=1)
		self.assertEqual(got['wqtorture: lost'], 'fail')
		self.assertEqual(got['torture: boots, runs the job, no splat in the console'],
				 'fail')

	def test_a_missing_case_fails_by_name(self):
		lines = [ln for ln in self.report() if not ln.endswith(' flush')]
		got = self.check(lines)
		self.assertEqual(got['wqtorture: flush'], 'fail')

	def test_no_report_fails(self):
		got = self.check(['wqbh-exit-status: 1'], exit_status=1)
		self.assertEqual(got['torture: wqtorture'], 'fail')

	def test_one_cpu_skips_and_the_defaults_fail_on_it(self):
		got = self.check(self.report(), smp=1)
		self.assertEqual(list(got.values()), ['skip'])
		self.assertEqual(self.calls, [])

	def test_no_module_fails(self):
		(self.tree / 'lib' / 'test_wqtorture.c').unlink()
		got = self.check(self.report())
		self.assertEqual(list(got.values()), ['fail'])
		self.assertEqual(self.calls, [])


if __name__ == '__main__':
	unittest.main()
