# SPDX-License-Identifier: GPL-2.0-only
"""wqbh: build, boot and test the BH workqueue series for Linux 6.1.

The harness's command line.  From the top of the checkout, with tools/
on Python's module path (the Makefile's targets run it so):

  PYTHONPATH=tools python3 -m wqbh COMMAND [OPTIONS]

  run                 the main job: base tree, apply, build, boot,
                      kselftests, wq_dump.py in the guest
  check               every test; ends with `N passed, N failed`
  apply [--tree DIR]  apply the series (to your own 6.1.y tree too)
  export              regenerate patches/ and series from build/linux
  build [--flavour F] build a test kernel (debug or bench)
  boot [--flavour F] -- CMD...   run a command in a guest
  bench               latency and throughput, tasklets against BH
                      work items, base kernel against the series
  conv [--bench]      the converted tasklet users under their
                      workloads (debug kernel), or their numbers
                      on the bench kernels, base against series
  conv-stats [DIR]    medians and p of the conv-bench run kept in DIR
  bisect              full build after each patch (slow; check
                      compiles the touched files per patch)
  torture [--duration S] [--seed N] [--flavour F]
                      the torture test of work items in a guest
  torture-mutants     planted bugs: caught by the torture test?
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Dict, List, Optional, Tuple
from pathlib import Path

from . import (arm64, bench, configs, conv, convert, deps, jobs, kernel, ktap, mail,
	       pystyle, qemu, static_checks, stats, tree)
from .common import (BASE_TAG, BRANCH, BUILD, DEFAULT_TREE, LOGS, PATCHES, REPO,
		     SERIES, HarnessError, git, log, read_series)
from .results import Results

TOOLS = Path(__file__).resolve().parent.parent


def prepare(args) -> Path:
	"""Packages, base tree and the series applied on branch wqbh."""
	if not args.no_deps:
		deps.ensure()
	t = tree.ensure_base(DEFAULT_TREE)
	tree.apply(t)
	return t


def report_boot(res: Results, name: str, boot: qemu.BootResult,
		manifest: jobs.Manifest, tree_path: Path = DEFAULT_TREE,
		verbose: bool = False) -> dict:
	"""Turn a boot into results: the boot itself, then each KTAP section.

	`manifest` names every section the boot must report and, where known,
	every case of it: a section or case that never came is a failure
	naming it, so that nothing can drop out of a run unnoticed."""
	secs = jobs.sections(boot.output_lines())
	log(f'{name}: ran {boot.seconds:.0f} s under {boot.accel}')
	res.add(f'{name}: boots, runs the job, no splat in the console',
		'pass' if boot.ok() else 'fail',
		'' if boot.ok() else f'{boot.describe()}\n(console log kept: {boot.console})'
		+ ''.join('\n' + ln for ln in boot.first_report()))
	for sec, want in manifest.items():
		if sec not in secs:
			res.add(f'{name}: {sec}', 'fail',
				f'section missing from the guest\'s output ({boot.output})')
			continue
		lines, rc = secs[sec]
		if want is None and sec == 'wq_dump':
			continue	# text, not KTAP: cmd_run shows it
		got = add_ktap(res, lines, sec, tree_path, verbose, boot.console)
		for case in want or []:
			if case not in got:
				res.add(f'{sec}: {case}', 'fail', 'in the manifest, not reported')
	for sec in secs:
		if sec not in manifest:
			res.add(f'{name}: {sec}', 'fail', 'a section no manifest names')
	counted = jobs.tasklet_counts(boot.output_lines())
	if counted is not None:
		log(f'{name}: {jobs.tasklet_summary(*counted)}')
		TASKLET_COUNTS[name] = counted
	return secs


# make check's boots and the tasklet executions each reported, for the
# summary at the end of the run (report_boot() fills it)
TASKLET_COUNTS: Dict[str, Tuple[Dict[str, int], int]] = {}


def add_ktap(res: Results, lines, sec: str, tree_path: Path, verbose: bool = False,
	     console: Optional[Path] = None) -> List[str]:
	"""One result per KTAP case of section `sec`; returns the case names.
	A failed case also gets what the kernel said about it in `console`,
	e.g. the test module's "test_workqueue: CASE: ..." lines."""
	cases, _ = ktap.parse(lines, sec, tree_path, verbose)
	said_lines = None
	names = []
	for c in cases:
		detail = c.log[-15:]
		short = c.name.split(': ', 1)[-1]
		names.append(short)
		if c.status == 'fail' and console:
			if said_lines is None:
				said_lines = console.read_text(errors='replace').splitlines()
			said = [f'console.log:{i + 1}: {ln.strip()}'
				for i, ln in enumerate(said_lines) if f' {short}: ' in ln]
			detail += said[-10:]
		res.add(c.name, c.status, '\n'.join(detail))
	return names


def finish(res: Results) -> int:
	"""Name the failures, print the closing `N passed, N failed` line and
	return the exit status."""
	for r in res.skipped():
		print(f'SKIPPED: {r.name}: {r.detail.splitlines()[0] if r.detail else ""}')
	for r in res.failed():
		print(f'FAILED: {r.name}')
	print(res.summary())
	return 1 if res.failed() else 0


def cmd_run(args) -> int:
	t = prepare(args)
	out = kernel.build(t, 'debug')
	res = Results()
	boot = qemu.boot(out, jobs.test_job(out, args.smp), 'run-debug', smp=args.smp,
			   timeout=args.timeout)
	secs = report_boot(res, 'debug kernel', boot, jobs.manifest(t, args.smp), verbose=True)
	if 'wq_dump' in secs:
		lines, rc = secs['wq_dump']
		print('\n--- wq_dump.py (live, in the guest) ---')
		print('\n'.join(lines))
		res.add('wq_dump.py runs live in the guest', 'pass' if rc == 0 else 'fail',
			f'exit status {rc}')
	return finish(res)


class _Collect(unittest.TestResult):
	"""unittest results into our Results: one line per test, and one per
	subtest.  unittest reports a test whose subtests failed through
	addSubTest() alone, neither as a success nor as a failure, so the
	subtests must be collected too or a failing one vanishes.  A test
	that reported nothing at all is a failure of its own."""
	def __init__(self, res: Results):
		super().__init__()
		self.res = res
		self.reported = 0	# tests that gave at least one result
		self._mine = 0		# results of the test now running

	def _add(self, name: str, status: str, detail: str = '') -> None:
		self._mine += 1
		self.res.add(f'harness: {name}', status, detail)

	def startTest(self, test):
		super().startTest(test)
		self._mine = 0

	def stopTest(self, test):
		super().stopTest(test)
		if not self._mine:
			self._add(test.id(), 'fail', 'the test reported no result')
		self.reported += 1

	def addSuccess(self, test):
		self._add(test.id(), 'pass')

	def addFailure(self, test, err):
		super().addFailure(test, err)
		self._add(test.id(), 'fail', self._exc_info_to_string(err, test))

	def addError(self, test, err):
		super().addError(test, err)
		self._add(test.id(), 'fail', self._exc_info_to_string(err, test))

	def addSkip(self, test, reason):
		self._add(test.id(), 'skip', reason)

	def addExpectedFailure(self, test, err):
		self._add(test.id(), 'pass', 'failed as expected')

	def addUnexpectedSuccess(self, test):
		self._add(test.id(), 'fail', 'passed, but is marked as an expected failure')

	def addSubTest(self, test, subtest, err):
		super().addSubTest(test, subtest, err)
		if err is None:
			self._add(subtest.id(), 'pass')
		else:
			self._add(subtest.id(), 'fail', self._exc_info_to_string(err, test))


# Python files the lint reads: the harness, its tests, guest scripts and
# QEMU settings, and wq_dump.py.
LINT_GLOBS = ('wq_dump.py', 'tools/*.py', 'tools/wqbh/*.py', 'tools/guest/*.py',
	      'tools/qemu_configs/*.py')


def run_unit_tests(res: Results, pattern: str = '*_test.py') -> None:
	"""The harness's own unit tests (tools/*_test.py), each test and
	subtest a result; the stage fails when fewer tests reported than
	were loaded."""
	log(f'unit tests of the harness (tools/{pattern})')
	suite = unittest.defaultTestLoader.discover(str(TOOLS), pattern=pattern,
						    top_level_dir=str(TOOLS))
	want = suite.countTestCases()
	collect = _Collect(res)
	suite.run(collect)
	if collect.reported != want:
		res.add('harness: every unit test reported', 'fail',
			f'{want} tests loaded, {collect.reported} reported a result')
	elif want == 0:
		res.add('harness: unit tests found', 'fail', f'no tests match tools/{pattern}')


def _rel(path: Path) -> str:
	return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def lint_files() -> List[Path]:
	return sorted(p for g in LINT_GLOBS for p in REPO.glob(g))


def run_lint(res: Results, files: Optional[List[Path]] = None) -> None:
	"""pyflakes on every Python file of the harness and on wq_dump.py, as
	the kernel's tools/testing/kunit/run_checks.py does for kunit, and
	one SPDX line and one indentation for all of them (wqbh.pystyle)."""
	files = lint_files() if files is None else files
	log(f'lint: pyflakes3 on {len(files)} Python files')
	if not shutil.which('pyflakes3'):
		for f in files:
			res.add(f'lint: {_rel(f)}', 'fail',
				'pyflakes3 is missing: apt-get install pyflakes3')
		return
	# One pyflakes run; its lines start with the path it was given.
	proc = subprocess.run(['pyflakes3', *map(str, files)], text=True,
			      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	lines = proc.stdout.splitlines()
	for f in files:
		said = [ln.replace(f'{REPO}/', '') for ln in lines if ln.startswith(f'{f}:')]
		said += [f'{_rel(f)}:{p}' for p in pystyle.style_problems(f.read_text())]
		res.add(f'lint: {_rel(f)}', 'fail' if said else 'pass', '\n'.join(said))
	if proc.returncode not in (0, 1) or (proc.returncode and not any(
			ln.startswith(tuple(f'{f}:' for f in files)) for ln in lines)):
		res.add('lint: pyflakes3 ran', 'fail',
			f'exit {proc.returncode}: ' + '\n'.join(lines[-10:]))


def check_harness(res: Results) -> None:
	"""The harness checks itself: its unit tests and a Python lint."""
	run_unit_tests(res)
	run_lint(res)


def cmd_check_harness(args) -> int:
	if not args.no_deps:
		deps.ensure(['pyflakes3'])
	res = Results()
	check_harness(res)
	return finish(res)


def check_series(res: Results, t: Path) -> bool:
	"""Apply, checkpatch, export stability and quilt on a scratch worktree."""
	names = read_series()
	log(f'series checks: {len(names)} patches')
	wt = BUILD / 'series-check'
	if wt.exists():
		git(t, 'worktree', 'remove', '--force', str(wt), check=False)
		shutil.rmtree(wt, ignore_errors=True)
	git(t, 'worktree', 'prune')
	git(t, 'worktree', 'add', '-q', '--detach', str(wt), BASE_TAG)
	ok = True
	try:
		for name in names:
			try:
				tree.am_series_one(wt, PATCHES / name)
				res.add(f'series: {name} applies', 'pass')
			except HarnessError as e:
				ok = res.add(f'series: {name} applies', 'fail', str(e))
				break
		for name in names:
			clean, report = tree.checkpatch(t, PATCHES / name)
			res.add(f'checkpatch --strict: {name}', 'pass' if clean else 'fail', report)
		if not ok:
			return False
		dco = ("series: every patch's author signed it off (DCO), "
		       'no empty or placeholder identity')
		try:
			tree.check_dco(wt, f'{BASE_TAG}..HEAD')
			res.add(dco, 'pass')
		except HarnessError as e:
			res.add(dco, 'fail', str(e))
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-reexport-'))
		try:
			tree.export(wt, tmp / 'patches', tmp / 'series', f'{BASE_TAG}..HEAD')
			diffs = [p.name for p in sorted(PATCHES.glob('*.patch'))
				 if not (tmp / 'patches' / p.name).exists()
				 or (tmp / 'patches' / p.name).read_bytes() != p.read_bytes()]
			diffs += [p.name for p in (tmp / 'patches').glob('*.patch')
				  if not (PATCHES / p.name).exists()]
			if (tmp / 'series').read_bytes() != SERIES.read_bytes():
				diffs.append('series')
			res.add('export: patches/ and series are exactly what the applied tree exports',
				'fail' if diffs else 'pass', 'differ: ' + ', '.join(sorted(set(diffs))))
		except HarnessError as e:
			res.add('export: patches/ and series are exactly what the applied tree exports',
				'fail', str(e))
		finally:
			shutil.rmtree(tmp, ignore_errors=True)
		try:
			tree.check_maintainers(wt, REPO / 'MAINTAINERS-snippet')
			res.add('MAINTAINERS-snippet matches the applied tree', 'pass')
		except HarnessError as e:
			res.add('MAINTAINERS-snippet matches the applied tree', 'fail', str(e))
		wt_head = git(wt, 'rev-parse', 'HEAD').strip()
		commands = tree.readme_apply_commands(REPO / 'README.md')
		if len(commands) != 2:
			res.add('README: its manual apply commands (git am and quilt)', 'fail',
				f'found {len(commands)} `cd /path/to/linux && ...` lines, expected 2')
		for cmd in commands:
			tool = 'quilt push -a' if 'quilt' in cmd else 'git am'
			name = f'README: its manual `{tool}` command gives the series\' tree'
			try:
				tree.command_tree_matches(t, cmd, REPO, wt_head)
				res.add(name, 'pass')
			except HarnessError as e:
				res.add(name, 'fail', str(e))
		name = 'mbox: `b4 am` of the series as mail gives the series\' tree'
		tmp_mbox = Path(tempfile.mkdtemp(prefix='wqbh-mbox-')) / 'series.mbox'
		try:
			cover_text = tree.COVER_TEXT.read_text() if tree.COVER_TEXT.exists() else ''
			tmp_mbox.write_text(mail.build_mbox(1, cover_text))
			mail.b4_round_trip(t, tmp_mbox, wt_head)
			res.add(name, 'pass')
		except HarnessError as e:
			res.add(name, 'fail', str(e))
		finally:
			shutil.rmtree(tmp_mbox.parent, ignore_errors=True)
	finally:
		git(t, 'worktree', 'remove', '--force', str(wt), check=False)
	return ok


def series_files(t: Path, *globs: str) -> List[str]:
	"""Kernel files matching `globs` that the series touches (not tools/
	or scripts/)."""
	files = git(t, 'diff', '--name-only', f'{BASE_TAG}..{BRANCH}', '--', *globs).split()
	return [f for f in files if not f.startswith(('tools/', 'scripts/'))]


def series_c_files(t: Path) -> List[str]:
	"""Kernel C files the series touches (not tools/ or scripts/)."""
	return series_files(t, '*.c')


def check_bisect(res: Results, t: Path) -> bool:
	"""Each patch but the last compiles on its own: the kernel C files the
	series touches, as objects (no link, no modpost; the results say so).

	A full kernel build per patch costs a cold build each time a patch
	touches a widely included header such as <linux/workqueue.h>, far too
	much for CI.  Instead, every patch but the last is checked out in a
	worktree of its own (build/linux-bisect, so build/linux keeps its
	timestamps) and every kernel C file the series touches is compiled
	there, with the debug configuration and with ccache: kbuild recompiles
	what the patch changed, directly or through a header.  The last patch
	gets the full debug build.  `wqbh bisect` does full builds.
	"""
	revs = git(t, 'rev-list', '--reverse', f'{BASE_TAG}..{BRANCH}').split()
	if len(revs) < 2:
		return True
	names = read_series()
	files = series_c_files(t)
	wt = BUILD / 'linux-bisect'
	ok = True
	for i, rev in enumerate(revs[:-1]):
		name = names[i] if i < len(names) else rev[:12]
		tree.scratch_worktree(t, wt, rev)
		objs = [f[:-2] + '.o' for f in files if (wt / f).exists()]
		# what this checks, said plainly: compiling is not building
		what = f'compiles on its own ({len(objs)} touched objects; no link, no modpost)'
		start = time.time()
		try:
			out = kernel.configure(wt, 'debug')
			# One job: kbuild builds a single object twice when its
			# directory is listed by its grandparent as well as reached
			# through its parent (drivers/Makefile lists char/ipmi/), and
			# in parallel one compile deletes the other's .d file.
			kernel.make(wt, out, objs or ['prepare'], out / 'bisect.log', jobs=1)
			res.add(f'{what}: {name}', 'pass')
		except HarnessError as e:
			ok = res.add(f'{what}: {name}', 'fail', str(e))
			break
		log(f'{name}: {len(objs)} objects compiled in {time.time() - start:.0f} s')
	return ok


def cmd_bisect(args) -> int:
	"""A full build of the bisect flavour after each patch (slow)."""
	t = prepare(args)
	revs = git(t, 'rev-list', '--reverse', f'{BASE_TAG}..{BRANCH}').split()
	names = read_series()
	wt = BUILD / 'linux-bisect-full'
	failed = 0
	for i, rev in enumerate(revs):
		name = names[i] if i < len(names) else rev[:12]
		tree.scratch_worktree(t, wt, rev)
		start = time.time()
		try:
			kernel.build(wt, 'bisect', selftests=False)
			print(f'  PASS  full build: {name} ({time.time() - start:.0f} s)')
		except HarnessError as e:
			print(f'  FAIL  full build: {name}\n{e}')
			failed = 1
			break
	return failed


def check_sparse(res: Results, t: Path, out: Path) -> None:
	"""No sparse warning in the kernel C files the series touches beyond
	what the base tree has in the same files, counted per file and
	message (without line numbers), as check_kernel_doc() does.  The base
	tree is compiled with the same configuration in build/linux-base."""
	files = series_c_files(t)
	name = 'sparse: no new warnings in ' + (', '.join(files) or 'touched files')
	try:
		base = bench.base_worktree(t)
		base_files = [f for f in files if (base / f).exists()]
		new = static_checks.sparse_new(static_checks.sparse(t, out, files),
					static_checks.sparse(base, kernel.configure(base, 'debug'),
						      base_files))
		res.add(name, 'fail' if new else 'pass', '\n'.join(new))
	except HarnessError as e:
		res.add(name, 'fail', str(e))


def check_kernel_doc(res: Results, t: Path) -> None:
	"""No kernel-doc warning (scripts/kernel-doc -v) in the kernel C files
	and headers the series touches beyond what the base tree has."""
	files = series_files(t, '*.c', '*.h')
	name = f'kernel-doc: no new warnings in the {len(files)} C files and headers touched'
	try:
		new = static_checks.kernel_doc_new(static_checks.kernel_doc(t, files),
					    static_checks.kernel_doc(bench.base_worktree(t), files))
		res.add(name, 'fail' if new else 'pass', '\n'.join(new))
	except HarnessError as e:
		res.add(name, 'fail', str(e))


def check_core(res: Results, t: Path, out: Path, vmcore: Path, cpu: int) -> None:
	"""wq_dump.py on the dump the guest had the host take while it held
	BH items parked on CPU `cpu`; the 2 GB dump is removed when it passed."""
	skipped = Path(f'{vmcore}.skipped')
	if skipped.exists():
		res.add('wq-dump-core: the guest was dumped', 'skip',
			'not enough disk space: ' + skipped.read_text().strip())
		skipped.unlink()
		return
	if not vmcore.exists():
		res.add('wq-dump-core: the guest was dumped', 'fail',
			f'no {vmcore}: see build/logs/check-debug/output.log')
		return
	cmd = ['/usr/bin/drgn', '-q', '-c', str(vmcore), '-s', str(out / 'vmlinux'),
	       '-s', str(jobs.module_ko(out)), str(TOOLS / 'guest' / 'wq_dump_ktap.py'),
	       '--core', '--expect-parked', f'{cpu}:{jobs.PARK_ITEMS}']
	proc = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	lines = proc.stdout.splitlines()
	got = add_ktap(res, lines, 'wq-dump-core', t)
	missing = [c for c in jobs.WQ_DUMP_CORE_CASES if c not in got]
	for case in missing:
		res.add(f'wq-dump-core: {case}', 'fail', 'in the manifest, not reported')
	if missing or proc.returncode != 0:
		res.add('wq-dump-core: drgn on the dump', 'fail',
			f'exit {proc.returncode}:\n' + '\n'.join(lines[-15:]))
	else:
		vmcore.unlink()


def boot_conversions(out: Path, name: str, mode: str, args) -> qemu.BootResult:
	"""One boot with the devices of every conversion, running every
	conversion's guest script in `mode` (check or bench)."""
	convs = conv.CONVERSIONS
	d = conv.logdir(name)
	timeout = max(args.timeout, conv.CHECK_TIMEOUT if mode == 'check' else 0)
	smp = min(args.smp, conv.CHECK_SMP) if mode == 'check' else args.smp
	with conv.host_peers(d, convs) as peer_args:
		return qemu.boot(out, conv.job(convs, mode, peer_args), name, smp=smp,
				   timeout=timeout, extra_args=conv.devices(d, convs))


def check_conversions(res: Results, t: Path, out: Path, args,
		      name: str = 'check-conv') -> None:
	"""The converted tasklet users under their workloads (debug kernel)."""
	if conv.CONVERSIONS:
		report_boot(res, 'conversions, debug kernel',
			    boot_conversions(out, name, 'check', args),
			    conv.manifest(conv.CONVERSIONS), tree_path=t)


def cmd_conv(args) -> int:
	if not conv.CONVERSIONS:
		raise HarnessError('no conversions in tools/wqbh/conv.py')
	if args.tree:
		if args.bench:
			raise HarnessError('conv --tree: check mode only, not with --bench')
		if not args.no_deps:
			deps.ensure()
		t = Path(args.tree).resolve()
		res = Results()
		check_conversions(res, t, kernel.build(t, 'debug'), args, f'check-conv-{t.name}')
		return finish(res)
	t = prepare(args)
	if not args.bench:
		res = Results()
		check_conversions(res, t, kernel.build(t, 'debug'), args)
		return finish(res)
	outs = {name: kernel.build(src, 'bench', selftests=False)
		for name, src in (('series', t), ('base', bench.base_worktree(t)))}
	tables, raw = bench.take_turns(
		outs, lambda name, out: boot_conversions(out, f'conv-bench-{name}', 'bench', args),
		args.boots, 'conversion workloads')
	text = (f'Medians of {args.boots} boots per kernel, taking turns, {args.smp} CPUs, '
		f'QEMU under {qemu.accel_args()[0]}.\n\n'
		+ bench.workload_report(tables['series'], tables['base']))
	bench.save('conversions', text, raw, raw_prefix='conversions-')
	print(text, end='')
	print('\n' + stats.markdown(stats.rows(*stats.boots_of(raw, 'conv-bench'))), end='')
	print(f'(conversion.md\'s table: {bench.RESULTS}, printed again by conv-stats)')
	return 0


def cmd_conv_stats(args) -> int:
	"""conversion.md's table of the converted users' numbers (medians,
	series over base, p) from the raw lines of a conv-bench run."""
	print(stats.markdown(stats.rows(*stats.load_run(Path(args.dir)))), end='')
	return 0


def check_base_kernel(res: Results, t: Path, args) -> None:
	"""wq_dump.py live on the base kernel, which has no BH pools: the bench
	flavour of the base tree, shared with `wqbh bench`."""
	try:
		out = kernel.build(bench.base_worktree(t), 'bench', selftests=False)
	except HarnessError as e:
		res.add('base kernel: builds', 'fail', str(e))
		return
	job = jobs.PRELUDE + jobs.wq_dump_ktap_job(out, '--expect-bh=no', 'wq-dump-base') + jobs.TAIL
	boot = qemu.boot(out, job, 'check-base', smp=2, timeout=args.timeout)
	report_boot(res, 'base kernel', boot, {'wq-dump-base': jobs.WQ_DUMP_CASES})


# make check's defaults: at them nothing may skip (see results.py).
CHECK_SMP = 4


def cmd_check(args) -> int:
	start = time.time()
	res = Results(skips_fail=args.smp == CHECK_SMP)
	if args.smp != CHECK_SMP:
		log(f'--smp {args.smp} is not make check\'s default ({CHECK_SMP}): '
		    'tests that need more CPUs are skipped and listed')
	try:
		run_checks(res, args)
	except HarnessError as e:
		res.add('check: the run went to its end', 'fail', str(e))
	log(f'check took {time.time() - start:.0f} s')
	if TASKLET_COUNTS:
		print('Tasklet executions per boot (irq:tasklet_entry, from the kernel '
		      'command line to the end of the job):')
		for name, counted in TASKLET_COUNTS.items():
			print(f'  {name}: {jobs.tasklet_summary(*counted)}')
	return finish(res)


def run_checks(res: Results, args) -> None:
	if not args.no_deps:
		deps.ensure()
	t = tree.ensure_base(DEFAULT_TREE)
	check_harness(res)
	if not check_series(res, t):
		return
	tree.apply(t)
	if check_bisect(res, t):
		configs.check_configs(res, t)
		convert.check_convert(res, configs.SERIES_TREE)
		try:
			out = kernel.build(t, 'debug')
			res.add(f'builds in full: {(read_series() or ["base tree"])[-1]} '
				'(debug kernel: vmlinux, modules, modpost, kselftest)', 'pass')
		except HarnessError as e:
			res.add('builds: debug kernel at the top of the series', 'fail', str(e))
			out = None
		if out:
			check_sparse(res, t, out)
			check_kernel_doc(res, t)
			check_debug_boot(res, t, out, args)
			check_torture(res, t, out, args)
			check_conversions(res, t, out, args)
		arm64.check_arm64(res, t, args, report_boot)
	check_base_kernel(res, t, args)


def check_debug_boot(res: Results, t: Path, out: Path, args) -> None:
	"""The kselftests and the wq_dump.py tests on the debug kernel, and
	wq_dump.py on a dump of the guest taken meanwhile."""
	vmcore = LOGS / 'check-debug' / 'vmcore'
	for p in (vmcore, Path(f'{vmcore}.done'), Path(f'{vmcore}.skipped')):
		p.unlink(missing_ok=True)
	job = jobs.test_job(out, args.smp, wq_dump=False, wq_dump_ktap=True,
			    dump_request=str(vmcore), lockdep_last=True)
	boot = qemu.boot(out, job, 'check-debug', smp=args.smp,
			   timeout=args.timeout, dumps=True)
	report_boot(res, 'debug kernel', boot,
		    jobs.manifest(t, args.smp, wq_dump=False, wq_dump_ktap=True,
				  lockdep_last=True))
	if args.smp > 1:
		check_core(res, t, out, vmcore, args.smp - 1)
	else:
		res.add('wq-dump-core: wq_dump.py on a dump with parked BH items',
			'skip', 'needs a second CPU to park items on (--smp 2 or more)')


def check_torture(res: Results, t: Path, out: Path, args) -> None:
	"""A short torture run with a fixed seed and CPU hotplug on the debug
	kernel (lib/test_wqtorture.c, see tools/wqbh/torture.py): its KTAP
	cases are results, its statistics go to the log."""
	from . import torture
	if not (t / 'lib' / 'test_wqtorture.c').exists():
		res.add('torture: lib/test_wqtorture.c is in the series', 'fail',
			'the series has no torture test module')
		return
	if args.smp < 2:
		res.add('torture: CPU hotplug during the run', 'skip',
			'needs a second CPU to unplug (--smp 2 or more)')
		return
	try:
		boot, st = torture.run_torture(t, 'debug', torture.CHECK_DURATION,
					       torture.CHECK_SEED, True, args.smp,
					       args.timeout or torture.CHECK_DURATION +
					       torture.BOOT_MARGIN, 'check-torture')
	except HarnessError as e:
		res.add('torture: boots, runs the job, no splat in the console', 'fail', str(e))
		return
	report_boot(res, 'torture', boot, torture.manifest(t), tree_path=t)
	if st:
		for line in torture.summary(st).splitlines():
			log(f'torture: {line}' if line else 'torture:')


def cmd_convert_report(args) -> int:
	"""The semantic patch over every tasklet user of the base tree, the
	converted files compiled under allmodconfig; prints the table."""
	t = prepare(args)
	series = tree.scratch_worktree(t, configs.SERIES_TREE, BRANCH)
	print(convert.convert_report(series), end='')
	return 0


def cmd_mbox(args) -> int:
	"""The series as one mbox to send (build/mbox/wqbh-vN.mbox), with
	TAG the version recorded as sent."""
	if not args.no_deps:
		deps.ensure()
	version = args.version or mail.next_version()
	# the range-diff of v2 and later applies both versions on the base
	t = tree.ensure_base(DEFAULT_TREE) if version > 1 else DEFAULT_TREE
	path = mail.write_mbox(t, version, args.tag)
	log(f'wrote {path} (v{version}): send it with git send-email, or import it '
	    'into a mail client')
	if args.tag:
		log(f'this commit is {mail.TAG_PREFIX}{version}: the next version\'s '
		    'range-diff compares with it')
	return 0


def cmd_apply(args) -> int:
	target = Path(args.tree).resolve() if args.tree else None
	if target is None:
		if not args.no_deps:
			deps.ensure()
		t = tree.ensure_base(DEFAULT_TREE)
		tree.apply(t)
		return 0
	if not target.exists():
		raise HarnessError(f'{target} does not exist')
	tree.apply(target, branch=args.branch)
	log(f'done: {target} is on branch {args.branch}; your previous branch is untouched')
	return 0


def cmd_export(args) -> int:
	names = tree.export(DEFAULT_TREE)
	log(f'exported {len(names)} patches to {PATCHES} and {SERIES}')
	return 0


def cmd_build(args) -> int:
	if args.tree:
		# A developer's worktree of build/linux: build it as it is.
		if not args.no_deps:
			deps.ensure()
		kernel.build(Path(args.tree).resolve(), args.flavour)
		return 0
	t = prepare(args)
	kernel.build(t, args.flavour)
	return 0


def cmd_bench(args) -> int:
	if args.plot_only:
		for f in bench.redraw():
			log(f'saved {f}')
		return 0
	t = prepare(args)
	text = bench.run_bench(t, smp=args.smp, timeout=args.timeout, boots=args.boots)
	print(text, end='')
	log(f'saved in {bench.RESULTS}')
	return 0


def cmd_boot(args) -> int:
	t = Path(args.tree).resolve() if args.tree else DEFAULT_TREE
	out = kernel.out_dir(t, args.flavour)
	words = args.command[1:] if args.command[:1] == ['--'] else args.command
	cmd = ' '.join(words) or 'uname -a'
	boot = qemu.boot(out, jobs.PRELUDE + cmd + '\n', f'boot-{t.name}-{args.flavour}',
			   smp=args.smp, timeout=args.timeout)
	print(boot.output.read_text(errors='replace'), end='')
	if not boot.ok():
		raise HarnessError(boot.describe())
	return 0


def cmd_splat(args) -> int:
	"""Kernel splats in console logs, one a line: exit 1 if any, 0 if
	none, 2 if a log can't be read."""
	from . import splat
	return splat.scan(args.logs)


def cmd_torture(args) -> int:
	"""The torture test of work items (lib/test_wqtorture.c) in a guest:
	its KTAP cases as results, then its operation rates and counts."""
	from . import torture
	if args.tree:
		if not args.no_deps:
			deps.ensure()
		t = Path(args.tree).resolve()
	else:
		t = prepare(args)
	kernel.build(t, args.flavour, selftests=False)
	timeout = args.timeout or args.duration + torture.BOOT_MARGIN
	boot, st = torture.run_torture(t, args.flavour, args.duration, args.seed,
				       not args.no_hotplug, args.smp, timeout,
				       f'torture-{t.name}-{args.flavour}', args.params)
	res = Results()
	report_boot(res, f'torture, {args.flavour} kernel', boot, torture.manifest(t),
		    tree_path=t)
	if st:
		print(torture.summary(st), end='')
	return finish(res)


def cmd_torture_mutants(args) -> int:
	"""Each planted bug of tools/test_data/mutants/ in turn, in a scratch
	tree: caught or missed by the torture test, and how fast."""
	from . import torture
	if args.ref == BRANCH:
		t = prepare(args)
	else:
		if not args.no_deps:
			deps.ensure()
		t = DEFAULT_TREE
	timeout = args.timeout or args.duration + torture.BOOT_MARGIN
	results = torture.run_mutants(t, ref=args.ref, duration=args.duration, seed=args.seed,
				      smp=args.smp, timeout=timeout, only=args.only)
	print(torture.mutant_table(results), end='')
	return 0 if results and all(v.caught for _, v in results) else 1


def main(argv=None) -> int:
	p = argparse.ArgumentParser(prog='wqbh', description=__doc__,
				    formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument('--no-deps', action='store_true',
		       help='do not check or install Debian packages')
	sub = p.add_subparsers(dest='cmd', required=True)
	for name, fn, helptext in (
		('run', cmd_run, 'the main job'),
		('check', cmd_check, 'all tests'),
		('check-harness', cmd_check_harness, 'the harness\'s own tests and lint, no kernel'),
		('apply', cmd_apply, 'apply the series'),
		('export', cmd_export, 'regenerate patches/ and series'),
		('build', cmd_build, 'build a test kernel'),
		('boot', cmd_boot, 'run a command in a guest'),
		('bisect', cmd_bisect, 'full build after each patch (slow)'),
		('conv', cmd_conv, 'converted tasklet users under their workloads'),
		('conv-stats', cmd_conv_stats,
		 'medians and p of a conv-bench run\'s raw lines (conversion.md\'s table)'),
		('bench', cmd_bench, 'tasklets against BH work items, base against series'),
		('splat', cmd_splat, 'kernel splats (BUG, WARNING, KASAN, ...) in console logs'),
		('torture', cmd_torture, 'torture test of work items (lib/test_wqtorture.c)'),
		('torture-mutants', cmd_torture_mutants,
		 'planted bugs: does the torture test catch each?'),
		('mbox', cmd_mbox, 'the series as an mbox to send, versioned, threaded'),
		('convert-report', cmd_convert_report,
		 'the tasklet converter over the whole base tree, compiled: coverage table')):
		sp = sub.add_parser(name, help=helptext)
		sp.set_defaults(fn=fn)
		if name in ('run', 'check', 'boot', 'bench', 'conv'):
			sp.add_argument('--smp', type=int,
					default=2 if name in ('bench', 'conv') else CHECK_SMP,
					choices=range(1, 9),
					metavar='N', help='guest CPUs, 1-8' + {
						'check': f' (at most {conv.CHECK_SMP} in the '
							 'conversions boot)',
						'conv': f' (at most {conv.CHECK_SMP} without '
							'--bench)'}.get(name, ''))
			sp.add_argument('--timeout', type=int, default=900,
					help='seconds before the guest is killed (default 900)')
		if name in ('build', 'boot'):
			sp.add_argument('--flavour', choices=sorted(set(kernel.FLAVOURS)
								    - set(kernel.COMPILE_ONLY)),
					default='debug')
			sp.add_argument('--tree', help='a worktree to build or boot as it '
					'is (default: build/linux with the series applied)')
		if name == 'apply':
			sp.add_argument('--tree', help='your own 6.1.y git tree')
			sp.add_argument('--branch', default=BRANCH,
					help=f'new branch to create there (default {BRANCH})')
		if name == 'boot':
			sp.add_argument('command', nargs=argparse.REMAINDER)
		if name == 'splat':
			sp.add_argument('logs', nargs='+', metavar='LOG', help='a console log')
		if name == 'conv':
			sp.add_argument('--bench', action='store_true',
					help='numbers on the bench kernels, base against series')
			sp.add_argument('--tree', help='check mode on a worktree as it is, '
					'its debug kernel built there and its boot logged in '
					'build/logs/check-conv-NAME (default: build/linux with '
					'the series applied, logged in build/logs/check-conv)')
		if name in ('torture', 'torture-mutants'):
			sp.add_argument('--smp', type=int, default=CHECK_SMP, choices=range(2, 9),
					metavar='N', help='guest CPUs, 2-8')
			sp.add_argument('--timeout', type=int, default=0,
					help='seconds before the guest is killed '
					'(default: the duration and 10 minutes)')
			sp.add_argument('--duration', type=int, default=60,
					help='seconds of torture (default 60)')
			sp.add_argument('--seed', type=int, default=1,
					help='the random generators\' seed (default 1)')
		if name == 'torture':
			sp.add_argument('--flavour', choices=('debug', 'bench'), default='debug')
			sp.add_argument('--tree', help='a worktree to build and boot as it is '
					'(default: build/linux with the series applied)')
			sp.add_argument('--no-hotplug', action='store_true',
					help='no CPU hotplug meanwhile')
			sp.add_argument('--params', default='',
					help='more module parameters, e.g. "nitems=128 mix=free=10"')
		if name == 'mbox':
			sp.add_argument('--version', type=int, default=0,
					help='the version to write (default: the last '
					'series-vN tag while patches/ is unchanged since, else '
					'the next one)')
			sp.add_argument('--tag', action='store_true',
					help='record the version as sent: tag HEAD series-vN')
		if name == 'torture-mutants':
			sp.add_argument('--ref', default=BRANCH,
					help=f'the tree to plant the bugs in (default {BRANCH})')
			sp.add_argument('only', nargs='*', metavar='NAME',
					help='only the mutants whose file name contains NAME')
		if name == 'bench':
			sp.add_argument('--plot-only', action='store_true',
					help='draw the plots again from the numbers of the last run')
		if name == 'conv-stats':
			sp.add_argument('dir', nargs='?', default=str(bench.RESULTS),
					help='where the run\'s conversions-{series,base}.txt are '
					'(default: the last conv-bench run, %(default)s)')
		if name in ('conv', 'bench'):
			sp.add_argument('--boots', type=int, default=3, choices=range(1, 16),
					metavar='N', help='boots per kernel for numbers '
					'(medians; default 3)')
	args = p.parse_args(argv)
	try:
		return args.fn(args)
	except HarnessError as e:
		print(f'[wqbh] error: {e}', file=sys.stderr)
		return 1
	except KeyboardInterrupt:
		print('[wqbh] interrupted', file=sys.stderr)
		return 130

