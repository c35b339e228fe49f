#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of how `make check` reaches its verdict: every result is
counted, nothing that failed or never ran can leave it green.

Run: cd tools && /usr/bin/python3 -m unittest verdict_test
"""

import contextlib
import io
import shutil
import tempfile
import unittest
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

from wqbh import jobs, kernel, qemu, splat, static_checks	# noqa: E402
from wqbh.common import DEFAULT_TREE	# noqa: E402


def load_cli():
	"""The harness's command line, wqbh.cli (`python3 -m wqbh`)."""
	from wqbh import cli
	return cli


cli = load_cli()
Results = cli.Results


def quiet(fn, *args, **kwargs):
	with contextlib.redirect_stdout(io.StringIO()):
		return fn(*args, **kwargs)


def sample_class():
	"""Canned tests that _Collect is run on; made by a function, so that
	test discovery doesn't collect them."""
	class Sample(unittest.TestCase):
		def test_subtests(self):
			for n in (1, 2, 3):
				with self.subTest(n=n):
					self.assertNotEqual(n, 2)

		def test_plain(self):
			pass

		@unittest.skip('canned skip')
		def test_skipped(self):
			pass
	return Sample


class CollectTest(unittest.TestCase):
	def collect(self, *names):
		res = Results()
		sample = sample_class()
		suite = unittest.TestSuite(sample(n) for n in names)
		c = cli._Collect(res)
		quiet(suite.run, c)
		return res, c

	def test_failing_subtest_is_a_failure(self):
		res, _ = self.collect('test_subtests')
		self.assertEqual([r.status for r in res.items], ['pass', 'fail', 'pass'])
		self.assertIn('n=2', res.failed()[0].name)

	def test_every_test_is_reported(self):
		res, c = self.collect('test_subtests', 'test_plain', 'test_skipped')
		self.assertEqual(c.reported, 3)
		self.assertEqual((res.count('pass'), res.count('fail'), res.count('skip')), (3, 1, 1))

	def test_stage_fails_when_a_result_goes_missing(self):
		# A result class that drops successes, as the old one dropped
		# subtests: the stage must notice that tests went unreported.
		class Lossy(cli._Collect):
			def addSuccess(self, test):
				pass
		res = Results()
		suite = unittest.TestSuite([sample_class()('test_plain')])
		quiet(suite.run, Lossy(res))
		self.assertEqual(len(res.failed()), 1)
		self.assertIn('reported no result', res.failed()[0].detail)


class SkipTest(unittest.TestCase):
	def test_skip_fails_at_the_defaults(self):
		res = Results(skips_fail=True)
		self.assertFalse(quiet(res.add, 'x', 'skip', 'needs 2 CPUs'))
		self.assertEqual(res.count('skip'), 0)
		self.assertEqual(res.failed()[0].name, 'x')
		self.assertIn('needs 2 CPUs', res.failed()[0].detail)

	def test_skips_are_listed_elsewhere(self):
		res = Results()
		quiet(res.add, 'a case', 'skip', 'needs 2 CPUs')
		out = io.StringIO()
		with contextlib.redirect_stdout(out):
			rc = cli.finish(res)
		self.assertEqual(rc, 0)
		self.assertIn('SKIPPED: a case: needs 2 CPUs', out.getvalue())
		self.assertTrue(out.getvalue().rstrip().endswith('0 passed, 0 failed, 1 skipped'))

	def test_expect_count(self):
		res = Results()
		quiet(res.add, 'a', 'pass')
		self.assertTrue(quiet(res.expect_count, 'stage', 0, 1))
		self.assertFalse(quiet(res.expect_count, 'stage', 0, 2))
		self.assertIn('2 expected, 1 reported', res.failed()[0].detail)


KTAP3 = ['KTAP version 1', '1..3', 'ok 1 a', 'ok 2 b', 'ok 3 c']


@unittest.skipUnless((DEFAULT_TREE / 'tools/testing/kunit/kunit_parser.py').exists(),
		     'base tree not made yet (its KTAP parser is used)')
class ManifestTest(unittest.TestCase):
	"""A boot is held to the manifest of what it must report."""
	def setUp(self):
		self.tmp = Path(tempfile.mkdtemp(prefix='wqbh-manifest-'))

	def tearDown(self):
		shutil.rmtree(self.tmp)

	def report(self, sections, manifest):
		out = []
		for name, lines in sections.items():
			out += [f'wqbh-section-begin: {name}', *lines, f'wqbh-section-end: {name} rc=0']
		(self.tmp / 'output.log').write_text('\n'.join(out + ['wqbh-exit-status: 0']) + '\n')
		(self.tmp / 'console.log').write_text('')
		boot = qemu.BootResult(0, False, self.tmp / 'console.log', self.tmp / 'output.log')
		res = Results()
		quiet(cli.report_boot, res, 'boot', boot, manifest)
		return res

	def test_complete_boot_passes(self):
		res = self.report({'s': KTAP3}, {'s': ['a', 'b', 'c']})
		self.assertEqual(res.failed(), [])
		self.assertEqual(res.count('pass'), 4)

	def test_missing_section_fails_by_name(self):
		res = self.report({'s': KTAP3}, {'s': None, 'kselftest-workqueue': ['x']})
		self.assertEqual([r.name for r in res.failed()], ['boot: kselftest-workqueue'])
		self.assertIn('section missing', res.failed()[0].detail)

	def test_missing_case_fails_by_name(self):
		# a consistent KTAP plan of two is not enough: the manifest has three
		res = self.report({'s': ['KTAP version 1', '1..2', 'ok 1 a', 'ok 2 c']},
				  {'s': ['a', 'b', 'c']})
		self.assertEqual([r.name for r in res.failed()], ['s: b'])

	def test_section_nobody_expects_fails(self):
		res = self.report({'s': KTAP3, 'stray': KTAP3}, {'s': None})
		self.assertIn('boot: stray', [r.name for r in res.failed()])

	def test_splat_shows_its_report(self):
		# CI keeps no console log: the result itself carries the report
		report = ['BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 39s!',
			  'Showing busy workqueues and worker pools:',
			  'pool 0: cpus=0 node=0 flags=0x0 nice=0 hung=39s workers=2 idle: 5']
		res = self.report({'s': KTAP3}, {'s': None})
		self.assertEqual(res.failed(), [])
		(self.tmp / 'console.log').write_text('\n'.join(['booted'] + report) + '\n')
		boot = qemu.BootResult(0, False, self.tmp / 'console.log', self.tmp / 'output.log',
				       splat.find(['booted'] + report))
		res = Results()
		quiet(cli.report_boot, res, 'boot', boot, {'s': None})
		detail = res.failed()[0].detail.splitlines()
		self.assertIn('console.log:2: BUG: workqueue lockup', detail[0])
		self.assertEqual(detail[-3:], report)

	def test_skip_in_a_section_fails_at_the_defaults(self):
		lines = ['KTAP version 1', '1..1', 'ok 1 a # SKIP needs two online CPUs']
		(self.tmp / 'console.log').write_text('')
		res = self.report({'s': lines}, {'s': ['a']})
		self.assertEqual(res.count('skip'), 1)
		strict = Results(skips_fail=True)
		boot = qemu.BootResult(0, False, self.tmp / 'console.log', self.tmp / 'output.log')
		quiet(cli.report_boot, strict, 'boot', boot, {'s': ['a']})
		self.assertEqual([r.name for r in strict.failed()], ['s: a'])
		self.assertIn('needs two online CPUs', strict.failed()[0].detail)


class ModuleCasesTest(unittest.TestCase):
	def test_cases_come_from_the_table(self):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-cases-'))
		try:
			(tmp / 'lib').mkdir()
			(tmp / 'lib' / 'test_workqueue.c').write_text(
				'static const struct wq_test_case wq_test_cases[] = {\n'
				'\t{ "self_free",\t\ttest_self_free },\n'
				'\t{ "bh_fifo", test_bh_fifo },\n};\n'
				'static const struct wq_test_case wq_test_last_cases[] = {\n'
				'\t{ "last_one", test_last },\n};\n')
			self.assertEqual(jobs.module_cases(tmp), ['self_free', 'bh_fifo'])
			self.assertEqual(jobs.module_cases(tmp, 'wq_test_last_cases'), ['last_one'])
			man = jobs.manifest(tmp, 4, lockdep_last=True)
			self.assertEqual(man['kselftest-workqueue-last'], ['last_one'])
		finally:
			shutil.rmtree(tmp)

	def test_job_sections_run_unconditionally(self):
		# no section may drop out silently when what it needs is missing
		job = jobs.test_job(Path('/k/out-debug'), 4, wq_dump=True, wq_dump_ktap=True,
				    lockdep_last=True)
		self.assertNotIn('\nif ', job)
		calls = [ln for ln in job.splitlines() if ln.lstrip().startswith('section ')]
		self.assertEqual(len(calls), 6)
		self.assertEqual([ln for ln in calls if ln != ln.lstrip()], [])


class ReadmeTest(unittest.TestCase):
	def test_readme_apply_commands_follow_series(self):
		# make check runs exactly these on a scratch tree (tree.command_tree_matches)
		cmds = cli.tree.readme_apply_commands(TOOLS.parent / 'README.md')
		self.assertEqual(len(cmds), 2)
		self.assertIn('git am', cmds[0])
		self.assertIn('/path/to/this/repo/series', cmds[0])
		self.assertNotIn('*', cmds[0])	# a glob skipped 0010 and 0020 once
		self.assertIn('quilt push -a', cmds[1])


class ProgressTest(unittest.TestCase):
	"""Long steps are never silent (common.Progress)."""
	def test_plain_lines_while_it_runs(self):
		from wqbh.common import Progress
		import time
		out = io.StringIO()
		with Progress('building', lambda: '12 objects compiled', every=0.1, out=out):
			time.sleep(0.35)
		lines = out.getvalue().splitlines()
		self.assertGreaterEqual(len(lines), 2)
		self.assertRegex(lines[0], r'^\[wqbh\] building: \d+s, 12 objects compiled$')

	def test_build_status_counts_objects(self):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-progress-'))
		try:
			log = tmp / 'build.log'
			log.write_text('$ make old\n  CC      old.o\n')
			start = log.stat().st_size
			with open(log, 'a') as f:
				f.write('  CC      kernel/workqueue.o\n  CC [M]  lib/test_workqueue.o\n'
					'  LD      vmlinux.o\n')
			self.assertEqual(kernel.build_status(log, start),
					 '2 objects compiled; LD vmlinux.o')
		finally:
			shutil.rmtree(tmp)


class SparseTest(unittest.TestCase):
	"""New sparse warnings are counted against the base tree's, per file
	and message, as kernel-doc's are."""
	RCU = ('drivers/char/ipmi/ipmi_msghandler.c:{}:9: error: incompatible types in '
	       'comparison expression (different address spaces):')

	def test_a_second_copy_of_a_base_warning_is_new(self):
		base = [self.RCU.format(100)]
		series = [self.RCU.format(100), self.RCU.format(900)]
		self.assertEqual(static_checks.sparse_new(series, base), [self.RCU.format(900)])

	def test_moved_lines_and_renames_are_not_new(self):
		base = ["drivers/char/ipmi/ipmi_msghandler.c:4800:13: warning: context "
			"imbalance in 'smi_recv_tasklet' - different lock contexts for basic block",
			"kernel/workqueue.c:3999:13: warning: context imbalance in "
			"'wq_manager_inactive' - different lock contexts for basic block"]
		series = ["drivers/char/ipmi/ipmi_msghandler.c:4810:13: warning: context "
			  "imbalance in 'smi_recv_work' - different lock contexts for basic block",
			  "kernel/workqueue.c:4400:13: warning: context imbalance in "
			  "'wq_manager_inactive' - different lock contexts for basic block"]
		self.assertEqual(static_checks.sparse_new(series, base), [])

	def test_same_message_in_another_file_is_new(self):
		base = ["kernel/workqueue.c:10:1: warning: symbol 'x' was not declared. "
			"Should it be static?"]
		series = ["kernel/softirq.c:10:1: warning: symbol 'x' was not declared. "
			  "Should it be static?"]
		self.assertEqual(static_checks.sparse_new(series, base), series)


@unittest.skipUnless(shutil.which('pyflakes3'), 'pyflakes3 not installed')
class LintTest(unittest.TestCase):
	def test_lint_names_the_file_and_line(self):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-lint-'))
		try:
			good, bad = tmp / 'good.py', tmp / 'bad.py'
			spdx = '# SPDX-License-Identifier: GPL-2.0-only\n'
			good.write_text(spdx + 'import os\nprint(os.sep)\n')
			bad.write_text(spdx + 'import os\nif os:\n    print(undefined_name)\n')
			res = Results()
			quiet(cli.run_lint, res, [good, bad])
			self.assertEqual([r.status for r in res.items], ['pass', 'fail'])
			self.assertIn("undefined name 'undefined_name'", res.items[1].detail)
			self.assertIn('bad.py:4: indented with spaces, not tabs', res.items[1].detail)
		finally:
			shutil.rmtree(tmp)

	def test_the_tree_is_lint_clean(self):
		res = Results()
		quiet(cli.run_lint, res)
		self.assertEqual([f'{r.name}: {r.detail}' for r in res.failed()], [])
		self.assertGreater(len(res.items), 10)


if __name__ == '__main__':
	unittest.main()
