# SPDX-License-Identifier: GPL-2.0-only
"""The workqueue torture test (lib/test_wqtorture.c) in QEMU, and its
mutants: planted bugs that it must catch.

A run loads the module in a guest with a duration, a seed and hotplug
on or off, waits for its KTAP report in /sys/kernel/debug/wqtorture/results
(section `wqtorture`) and parses the statistics the report carries as
diagnostic lines:

    # wqtorture: seed 1, 60012 ms, 4 threads, hotplug on, 64 items, 4 CPUs
    # op queue_local 12345 205.70/s      (one per operation, then "all")
    # ctx kthread 12345 205.70/s         (operations per issuing context)
    # count runs_bh 12345 205.70/s       (runs and checks made)
    # violation doubled 0                (one per kind)
    # items lost 0 doubled 0
    # first_violation 1234 ms doubled    (or "none")

`wqbh torture-mutants` applies each patch of tools/test_data/mutants/
to a scratch worktree (build/linux-mutant), builds the debug kernel there,
runs the torture with hotplug and reports whether, how and how fast it
caught the bug.
"""

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from . import jobs, kernel, qemu, splat, tree
from .common import BRANCH, BUILD, LOGS, REPO, HarnessError, git, log, run

MUTANTS = REPO / 'tools' / 'test_data' / 'mutants'
MUTANT_TREE = BUILD / 'linux-mutant'
SECTION = 'wqtorture'
RESULTS = '/sys/kernel/debug/wqtorture/results'

# make check's run: short, fixed seed, hotplug on (see check_job()).
CHECK_DURATION = 60
CHECK_SEED = 1
# a boot of the debug kernel, the settling and the report, on a busy host
BOOT_MARGIN = 600

# The guest side: load the module, wait for its report (reading the
# results blocks until the run has ended), unload it.  A run that saw a
# violation keeps the module loaded; rmmod then fails, which is fine.
JOB = r'''
wqtorture_ktap() {	# KTAP: the torture test's report
	if ! modprobe test_wqtorture {params}; then
		echo "KTAP version 1"
		echo "1..1"
		echo "not ok 1 modprobe test_wqtorture {params}"
		return 1
	fi
	cat {results} || return 1
	rmmod test_wqtorture 2>/dev/null
	! grep -q '^not ok' {results}
}
section {section} wqtorture_ktap || status=1
'''


def params(duration: int, seed: int, hotplug: bool, extra: str = '') -> str:
	"""The module parameters of a run."""
	words = [f'duration={duration}', f'seed={seed}', f'hotplug={int(hotplug)}']
	return ' '.join(words + extra.split())


def job_section(duration: int, seed: int, hotplug: bool, extra: str = '') -> str:
	"""The guest job text of one torture run, section `wqtorture`, to be
	put between jobs.PRELUDE and jobs.TAIL."""
	return (JOB.replace('{params}', params(duration, seed, hotplug, extra))
		.replace('{results}', RESULTS).replace('{section}', SECTION))


def job(duration: int, seed: int, hotplug: bool, extra: str = '') -> str:
	return jobs.PRELUDE + job_section(duration, seed, hotplug, extra) + jobs.TAIL


def check_job() -> str:
	"""make check's run: what the check-debug boot's job should add."""
	return job_section(CHECK_DURATION, CHECK_SEED, True)


def cases(tree_path: Path) -> List[str]:
	"""The KTAP cases the module in `tree_path` reports: `coverage`, then
	one per kind of violation, in the order of its wqt_vkinds[] table."""
	src = tree_path / 'lib' / 'test_wqtorture.c'
	text = src.read_text(errors='replace') if src.exists() else ''
	m = re.search(r'wqt_vkinds\[WQT_NR_V\]\s*=\s*\{(.*?)\n\};', text, re.S)
	if not m:
		raise HarnessError(f'{src}: no wqt_vkinds[] table')
	return ['coverage'] + re.findall(r'\[WQT_V_\w+\]\s*=\s*\{\s*"(\w+)"', m.group(1))


def manifest(tree_path: Path) -> jobs.Manifest:
	"""What a boot of job() must report."""
	return {SECTION: cases(tree_path)}


@dataclass
class Stats:
	"""The statistics of one run's report."""
	header: Dict[str, str] = field(default_factory=dict)
	ops: Dict[str, Tuple[int, float]] = field(default_factory=dict)
	ctx: Dict[str, Tuple[int, float]] = field(default_factory=dict)
	counts: Dict[str, Tuple[int, float]] = field(default_factory=dict)
	violations: Dict[str, int] = field(default_factory=dict)
	lost: int = 0
	doubled: int = 0
	first_violation: Optional[Tuple[int, str]] = None	# (ms, kind)
	failed_cases: List[str] = field(default_factory=list)

	def total_violations(self) -> int:
		return sum(self.violations.values())

	def ms(self) -> int:
		return int(self.header.get('ms', 0))


_HEADER = re.compile(r'^# wqtorture: seed (\d+), (\d+) ms, (\d+) threads, hotplug (\w+), '
		     r'(\d+) items, (\d+) CPUs')
_RATE = re.compile(r'^# (op|ctx|count) (\w+) (\d+) ([\d.]+)/s$')
_VIOL = re.compile(r'^# violation (\w+) (\d+)$')
_ITEMS = re.compile(r'^# items lost (-?\d+) doubled (-?\d+)$')
_FIRST = re.compile(r'^# first_violation (?:(\d+) ms (\w+)|none)$')
_NOT_OK = re.compile(r'^not ok \d+ (\S+)')


def parse(lines: List[str]) -> Optional[Stats]:
	"""The statistics of a report (a section's lines), None without any."""
	st = Stats()
	seen = False
	for raw in lines:
		line = raw.strip()
		m = _HEADER.match(line)
		if m:
			seen = True
			st.header = dict(zip(('seed', 'ms', 'threads', 'hotplug', 'items', 'cpus'),
					     m.groups()))
			continue
		m = _RATE.match(line)
		if m:
			kind, name, n, rate = m.groups()
			{'op': st.ops, 'ctx': st.ctx, 'count': st.counts}[kind][name] = \
				(int(n), float(rate))
			continue
		m = _VIOL.match(line)
		if m:
			st.violations[m.group(1)] = int(m.group(2))
			continue
		m = _ITEMS.match(line)
		if m:
			st.lost, st.doubled = int(m.group(1)), int(m.group(2))
			continue
		m = _FIRST.match(line)
		if m:
			if m.group(1):
				st.first_violation = (int(m.group(1)), m.group(2))
			continue
		m = _NOT_OK.match(line)
		if m:
			st.failed_cases.append(m.group(1))
	return st if seen else None


def summary(st: Stats) -> str:
	"""The operation rates and counts of a run, as a table."""
	h = st.header
	out = [f'seed {h.get("seed")}, {st.ms() / 1000:.1f} s, {h.get("threads")} threads, '
	       f'hotplug {h.get("hotplug")}, {h.get("items")} items, {h.get("cpus")} CPUs', '',
	       f'{"operation":<22}{"count":>12}{"per s":>12}']
	for name, (n, rate) in st.ops.items():
		out.append(f'{name:<22}{n:>12}{rate:>12.1f}')
	out += ['', f'{"issued from":<22}{"count":>12}{"per s":>12}']
	for name, (n, rate) in st.ctx.items():
		out.append(f'{name:<22}{n:>12}{rate:>12.1f}')
	out += ['', f'{"run or check":<22}{"count":>12}{"per s":>12}']
	for name, (n, rate) in st.counts.items():
		out.append(f'{name:<22}{n:>12}{rate:>12.1f}')
	viol = ', '.join(f'{k} {n}' for k, n in st.violations.items() if n) or 'none'
	out += ['', f'violations: {viol}; items lost {st.lost}, doubled {st.doubled}']
	if st.first_violation:
		out.append(f'first violation after {st.first_violation[0] / 1000:.1f} s: '
			   f'{st.first_violation[1]}')
	if st.failed_cases:
		out.append('failed cases: ' + ', '.join(st.failed_cases))
	return '\n'.join(out) + '\n'


# The module prints at least every stat_interval (10) seconds while it
# runs, and CPU hotplug more often: a console silent this long means a
# guest that hangs, which the harness stops rather than wait for the
# boot's timeout, so that a hang is caught within the run.
HANG_SILENCE = 120
START = 'wqtorture: seed '


# After a run that saw violations the module stays loaded and its
# threads may never return (a flush that hangs is one of the bugs it
# finds), so the guest may not finish: it is stopped this long after the
# module's last line, its report being in by then.
DONE_GRACE = 90
_DONE = re.compile(r'wqtorture: done after \d+ ms: .*?(\d+) violations')


def violations_done(text: str) -> bool:
	"""Whether the console shows the end of a run that saw violations."""
	m = _DONE.search(text)
	return bool(m) and m.group(1) != '0'


def silence(text: str, quiet_for: float, silence_s: float = HANG_SILENCE) -> bool:
	"""Whether a console reading `text`, unchanged for `quiet_for`
	seconds, is that of a hung torture run."""
	return START in text and 'wqtorture: done after' not in text and quiet_for > silence_s


def _watch_silence(console: Path, stop: threading.Event, out: List[float],
		   period: float = 5, silence_s: float = HANG_SILENCE,
		   done_grace: float = DONE_GRACE) -> None:
	"""Stop the guest writing `console` once the torture has started and
	the console falls silent for `silence_s`, and append the seconds from
	the torture's start to the silence to `out`; or `done_grace` seconds
	after the end of a run that saw violations."""
	last, changed, started, done = None, time.time(), None, None
	while not stop.wait(period):
		try:
			text = console.read_text(errors='replace')
		except OSError:
			continue
		now = time.time()
		if text != last:
			last, changed = text, now
			if started is None and START in text:
				started = now
			if done is None and violations_done(text):
				done = now
			continue
		hung = started is not None and silence(text, now - changed, silence_s)
		if hung or (done is not None and now - done > done_grace):
			if hung:
				out.append(max(0.0, changed - started))
			pids = run(['pgrep', '-f', '--', f'-serial file:{console}'], check=False)
			for pid in pids.stdout.split():
				run(['kill', '-9', pid], check=False)
			return


def run_torture(tree_path: Path, flavour: str, duration: int, seed: int, hotplug: bool,
		smp: int, timeout: int, name: str,
		extra: str = '') -> Tuple[qemu.BootResult, Optional[Stats]]:
	"""Boot the `flavour` kernel built in `tree_path`, run the torture, and
	return the boot and the statistics of its report, if any."""
	out = kernel.out_dir(tree_path, flavour)
	console = LOGS / name / 'console.log'
	stop, silent = threading.Event(), []
	watcher = threading.Thread(target=_watch_silence, args=(console, stop, silent),
				   daemon=True)
	watcher.start()
	try:
		boot = qemu.boot(out, job(duration, seed, hotplug, extra), name, smp=smp,
				   timeout=timeout, extra_cmdline=['printk.time=1'])
	finally:
		stop.set()
		watcher.join()
	if silent:
		boot.silent_after = silent[0]
	secs = jobs.sections(boot.output_lines())
	lines = secs.get(SECTION, ([], -1))[0]
	return boot, parse(lines)


# Console lines carry printk times: "[   12.345678] ..."
_STAMP = re.compile(r'^\[\s*(\d+\.\d+)\]')


def _stamp(line: str) -> Optional[float]:
	m = _STAMP.match(line)
	return float(m.group(1)) if m else None


def splat_delay(console_lines: List[str], splats: List[splat.Splat]) -> Optional[float]:
	"""Seconds from the torture's start (its "wqtorture: seed" line) to the
	first splat in the console, if both have a time."""
	start = next((_stamp(ln) for ln in console_lines if 'wqtorture: seed ' in ln), None)
	if start is None or not splats:
		return None
	t = _stamp(console_lines[splats[0].lineno - 1])
	return None if t is None else max(0.0, t - start)


@dataclass
class Verdict:
	"""What a run on a mutant showed."""
	caught: bool
	how: str		# violation kind, or the splat, or why it was missed
	seconds: Optional[float]	# time to detection, from the torture's start


def judge(boot: qemu.BootResult, st: Optional[Stats]) -> Verdict:
	"""Caught: the model reported a violation, a case failed, or the guest
	splatted, crashed or hung.  Missed: a clean report."""
	if st and st.first_violation:
		return Verdict(True, f'violation: {st.first_violation[1]}',
			       st.first_violation[0] / 1000)
	if st and st.failed_cases:
		return Verdict(True, 'failed: ' + ', '.join(st.failed_cases), None)
	lines = boot.console.read_text(errors='replace').splitlines()
	if not any(START in ln for ln in lines):
		# a bug that breaks the boot is no test of the torture
		what = boot.splats[0].kind if boot.splats else boot.describe()
		return Verdict(False, f'not a torture result: the kernel failed before the '
			       f'torture started ({what})', None)
	if boot.splats:
		return Verdict(True, f'splat: {boot.splats[0].kind}',
			       splat_delay(lines, boot.splats))
	if boot.silent_after is not None:
		return Verdict(True, f'guest hung (console silent for {HANG_SILENCE} s)',
			       boot.silent_after)
	if boot.timed_out:
		return Verdict(True, f'guest hung ({boot.seconds:.0f} s)', None)
	if boot.exit_status is None:
		return Verdict(True, 'guest crashed', None)
	if st is None:
		return Verdict(True, 'no report (the job failed)', None)
	return Verdict(False, 'no violation', None)


def mutant_patches() -> List[Path]:
	return sorted(MUTANTS.glob('*.patch'))


def mutant_description(patch: Path) -> str:
	"""The first line of the patch's header (before the diff)."""
	for line in patch.read_text(errors='replace').splitlines():
		if line.startswith(('diff ', '---')):
			break
		if line.strip():
			return line.strip()
	return patch.stem


def apply_mutant(t: Path, wt: Path, ref: str, patch: Path) -> None:
	"""Check `wt` out at `ref` (discarding what was there) and apply `patch`."""
	tree.scratch_worktree(t, wt, ref)
	git(wt, 'reset', '-q', '--hard')
	proc = run(['git', '-C', str(wt), 'apply', str(patch)], check=False)
	if proc.returncode != 0:
		raise HarnessError(f'{patch.name} does not apply to {ref}:\n{proc.stderr.strip()}')


def run_mutants(t: Path, ref: str = BRANCH, duration: int = CHECK_DURATION,
		seed: int = CHECK_SEED, smp: int = 4, timeout: int = 900,
		only: Optional[List[str]] = None) -> List[Tuple[Path, Verdict]]:
	"""Each mutant in turn: apply, build the debug kernel, torture with
	hotplug, judge.  `only` restricts the run to patches whose name
	contains one of its words."""
	results = []
	for patch in mutant_patches():
		if only and not any(w in patch.name for w in only):
			continue
		log(f'mutant {patch.name}: {mutant_description(patch)}')
		start = time.time()
		try:
			apply_mutant(t, MUTANT_TREE, ref, patch)
			kernel.build(MUTANT_TREE, 'debug', selftests=False)
		except HarnessError as e:
			results.append((patch, Verdict(False, f'not run: {e}', None)))
			continue
		try:
			boot, st = run_torture(MUTANT_TREE, 'debug', duration, seed, True, smp,
					       timeout, f'mutant-{patch.stem}')
		except HarnessError as e:
			results.append((patch, Verdict(False, f'not run: {e}', None)))
			continue
		v = judge(boot, st)
		log(f'mutant {patch.name}: {"caught" if v.caught else "MISSED"} ({v.how}) '
		    f'in {time.time() - start:.0f} s')
		results.append((patch, v))
	return results


def mutant_table(results: List[Tuple[Path, Verdict]]) -> str:
	out = [f'{"mutant":<40}{"verdict":<9}{"after":>9}  how']
	for patch, v in results:
		after = f'{v.seconds:.1f} s' if v.seconds is not None else '-'
		out.append(f'{patch.stem:<40}{"caught" if v.caught else "MISSED":<9}{after:>9}  {v.how}')
	caught = sum(1 for _, v in results if v.caught)
	out.append(f'{caught} of {len(results)} mutants caught')
	return '\n'.join(out) + '\n'
