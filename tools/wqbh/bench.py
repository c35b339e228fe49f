# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark: tasklets against BH work items, base kernel against the series.

Numbers are printed and saved, never asserted.  Both kernels are the
bench flavour (no debug options): build/linux with the series, and the
base tree in the worktree build/linux-base.  tools/bench/wqbh_bench.c is
built as an out-of-tree module against each and loaded once per boot; it
prints "wqbh-bench: latency MECH median_ns N p99_ns N samples N" and
"wqbh-bench: throughput MECH queue_ns_per_item N total_ns_per_item N ..."
and "wqbh-bench: citizen MECH timer_median_ns N ... hog_runs_per_s N" (a
softirq hrtimer's lateness while MECH requeues itself without end).
"""

import re
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from .common import BASE_TAG, BUILD, REPO, HarnessError, log
from . import jobs, kernel, qemu, tree

SOURCE = REPO / 'tools' / 'bench' / 'wqbh_bench.c'
RESULTS = BUILD / 'bench'

Table = Dict[Tuple[str, str], Dict[str, int]]	# (kind, mech) -> values

_LINE = re.compile(r'wqbh-bench: (latency|cdf|throughput|citizen|primitive|workload) (\S+) (.*)$')


def base_worktree(t: Path) -> Path:
	"""The base tree (no series) in a worktree of its own: build/linux-base."""
	return tree.scratch_worktree(t, BUILD / 'linux-base', BASE_TAG)


def build_module(t: Path, out: Path) -> Path:
	"""Build wqbh_bench.ko against the kernel in out; returns the .ko."""
	mdir = out / 'wqbh-bench'
	mdir.mkdir(exist_ok=True)
	shutil.copy(SOURCE, mdir / SOURCE.name)
	have_bh = 'system_bh_wq' in (t / 'include/linux/workqueue.h').read_text()
	(mdir / 'Kbuild').write_text('obj-m := wqbh_bench.o\n' +
				     ('ccflags-y := -DWQBH_HAVE_BH\n' if have_bh else ''))
	kernel.make(t, out, [f'M={mdir.resolve()}', 'modules'], out / 'wqbh-bench.log')
	return mdir / 'wqbh_bench.ko'


def parse(lines: List[str]) -> Table:
	table: Table = {}
	for line in lines:
		m = _LINE.search(line)
		if not m:
			continue
		words = m.group(3).split()
		vals = {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)
			if words[i + 1].isdigit()}
		table[(m.group(1), m.group(2))] = vals
	return table


def parse_boots(lines: List[str]) -> List[Table]:
	"""The tables of a saved file with several boots ("# boot N" lines)."""
	boots: List[List[str]] = [[]]
	for line in lines:
		if line.startswith('# boot ') and boots[-1]:
			boots.append([])
		boots[-1].append(line)
	return [parse(b) for b in boots]


def job(ko: Path, samples: int, items: int) -> str:
	# Pinned to CPU 1, so that the hrtimer and every callback use one CPU
	# that init and the console are not on.
	return (f'taskset -c 1 insmod {ko} samples={samples} items={items} 2>/dev/null\n'
		'dmesg | grep -o "wqbh-bench: .*"\n'
		'dmesg | grep -q "wqbh-bench: end 0"\n')


def ratio(a: Optional[int], b: Optional[int]) -> str:
	return f'{a / b:.2f}x' if a and b else '-'


def report(series: Table, base: Table) -> str:
	out = ['Latency, hard irq (hrtimer) to callback, ns (bench kernels, TCG):', '',
	       f'{"mechanism":<22} {"median":>8} {"p99":>8}   {"base median":>11} {"base p99":>9}'
	       f'   {"median vs tasklet":>17}']
	tl = series.get(('latency', 'tasklet'), {}).get('median_ns')
	thl = series.get(('latency', 'tasklet_hi'), {}).get('median_ns')
	for mech in ('tasklet', 'tasklet_hi', 'system_bh_wq', 'system_bh_highpri_wq',
		     'system_highpri_wq', 'system_wq'):
		s = series.get(('latency', mech), {})
		b = base.get(('latency', mech), {})
		ref = thl if mech in ('tasklet_hi', 'system_bh_highpri_wq') else tl
		out.append(f'{mech:<22} {s.get("median_ns", "-"):>8} {s.get("p99_ns", "-"):>8}'
			   f'   {b.get("median_ns", "-"):>11} {b.get("p99_ns", "-"):>9}'
			   f'   {ratio(s.get("median_ns"), ref):>17}')
	out += ['', 'Throughput, N items queued in one BH-disabled section, ns per item:', '',
		f'{"mechanism":<22} {"queue":>8} {"total":>8}   {"base total":>10}'
		f'   {"throughput vs tasklet":>21}']
	tt = series.get(('throughput', 'tasklet'), {}).get('total_ns_per_item')
	tht = series.get(('throughput', 'tasklet_hi'), {}).get('total_ns_per_item')
	for mech in ('tasklet', 'tasklet_hi', 'system_bh_wq', 'system_bh_highpri_wq'):
		s = series.get(('throughput', mech), {})
		b = base.get(('throughput', mech), {})
		ref = tht if mech in ('tasklet_hi', 'system_bh_highpri_wq') else tt
		# throughput ratio: tasklet time per item over ours
		out.append(f'{mech:<22} {s.get("queue_ns_per_item", "-"):>8}'
			   f' {s.get("total_ns_per_item", "-"):>8}'
			   f'   {b.get("total_ns_per_item", "-"):>10}'
			   f'   {ratio(ref, s.get("total_ns_per_item")):>21}')
	bt = base.get(('latency', 'tasklet'), {}).get('median_ns')
	out += ['', 'tasklet median latency, series vs base kernel:',
		f'  with all mechanisms taking turns: {ratio(tl, bt)}']
	for mech in ('tasklet', 'tasklet_hi'):
		sa = series.get(('latency', f'{mech}@alone'), {}).get('median_ns')
		ba = base.get(('latency', f'{mech}@alone'), {}).get('median_ns')
		if sa or ba:
			out.append(f'  {mech} alone (the same job on both kernels): '
				   f'{sa or "-"} against {ba or "-"} ns, {ratio(sa, ba)}')
	out += citizen_report(series, base)
	prims = sorted(k[1] for k in series if k[0] == 'primitive')
	if prims:
		out += ['', 'Primitives under TCG (series kernel), ns per operation:', '']
		out += [f'{p:<32} {series[("primitive", p)].get("ns_per_op", "-"):>6}' for p in prims]
	return '\n'.join(out) + '\n'


CITIZENS = ('none', 'tasklet', 'tasklet_hi', 'system_bh_wq', 'system_bh_highpri_wq')


def citizen_report(series: Table, base: Table) -> List[str]:
	"""Lines of the citizenship table: how late a softirq hrtimer fires
	on a CPU where MECH requeues itself without end ("none": no hog)."""
	if not any(k[0] == 'citizen' for k in series):
		return []
	out = ['', 'Softirq citizenship: a softirq hrtimer every 500 us on a CPU where MECH',
	       'requeues itself from its callback, lateness in ns ("none": no hog):', '',
	       f'{"mechanism":<22} {"median":>8} {"p99":>8} {"max":>9} {"hog runs/s":>11}'
	       f'   {"base p99":>9}']
	for mech in CITIZENS:
		s = series.get(('citizen', mech), {})
		b = base.get(('citizen', mech), {})
		if not s and not b:
			continue
		out.append(f'{mech:<22} {s.get("timer_median_ns", "-"):>8} {s.get("timer_p99_ns", "-"):>8}'
			   f' {s.get("timer_max_ns", "-"):>9} {s.get("hog_runs_per_s", "-"):>11}'
			   f'   {b.get("timer_p99_ns", "-"):>9}')
	return out


def workload_report(series: Table, base: Table) -> str:
	"""The conversions' workloads: each number on the series kernel, on
	the base kernel (no conversion), and series over base."""
	out = [f'{"workload":<12} {"value":<24} {"series":>10} {"base":>10} {"series/base":>12}']
	for key in sorted({k for k in list(series) + list(base) if k[0] == 'workload'}):
		s, b = series.get(key, {}), base.get(key, {})
		for n in sorted(set(s) | set(b)):
			out.append(f'{key[1]:<12} {n:<24} {s.get(n, "-"):>10} {b.get(n, "-"):>10}'
				   f' {ratio(s.get(n), b.get(n)):>12}')
	return '\n'.join(out) + '\n'


def median_table(tables: List[Table]) -> Table:
	"""Per value, the median over several boots (the lower one of an
	even number)."""
	out: Table = {}
	for key in sorted({k for t in tables for k in t}):
		names = {n for t in tables for n in t.get(key, {})}
		out[key] = {}
		for n in sorted(names):
			vals = sorted(t[key][n] for t in tables if n in t.get(key, {}))
			out[key][n] = vals[(len(vals) - 1) // 2]
	return out


def take_turns(kernels: Dict[str, Path], boot_one: Callable[[str, Path], qemu.BootResult],
	       boots: int, what: str) -> Tuple[Dict[str, Table], Dict[str, List[str]]]:
	"""Boot the kernels {name: out} in turn, `boots` times each, so that a
	change in the load of the host weighs on all alike; boot_one(name, out)
	boots one.  Returns each kernel's medians and its raw "wqbh-bench:"
	lines, boot by boot ("# boot N" lines)."""
	runs: Dict[str, List[Table]] = {name: [] for name in kernels}
	raw: Dict[str, List[str]] = {name: [] for name in kernels}
	for i in range(boots):
		for name, out in kernels.items():
			boot = boot_one(name, out)
			if not boot.ok():
				raise HarnessError(f'{what} on the {name} kernel: {boot.describe()}')
			lines = boot.output_lines()
			runs[name].append(parse(lines))
			raw[name] += [f'# boot {i + 1}'] + [ln for ln in lines if 'wqbh-bench:' in ln]
		log(f'{what}: boot {i + 1} of {boots} of each kernel done')
	return {name: median_table(r) for name, r in runs.items()}, raw


def save(report_name: str, text: str, raw: Dict[str, List[str]], raw_prefix: str = '') -> None:
	"""Keep a report in RESULTS/REPORT_NAME.txt and every kernel's raw lines,
	boot by boot, in RESULTS/RAW_PREFIXNAME.txt beside it."""
	RESULTS.mkdir(parents=True, exist_ok=True)
	(RESULTS / f'{report_name}.txt').write_text(text)
	for name, lines in raw.items():
		(RESULTS / f'{raw_prefix}{name}.txt').write_text('\n'.join(lines) + '\n')


def run_bench(t: Path, smp: int = 2, samples: int = 2000, items: int = 20000,
	      timeout: int = 900, boots: int = 3) -> str:
	"""Build both bench kernels, boot them in turn, each `boots` times (TCG
	timing varies from boot to boot), return the report of the medians."""
	outs, kos = {}, {}
	for name, src in (('series', t), ('base', base_worktree(t))):
		outs[name] = kernel.build(src, 'bench', selftests=False)
		kos[name] = build_module(src, outs[name])
	tables, raw = take_turns(
		outs, lambda name, out: qemu.boot(out, jobs.PRELUDE + job(kos[name], samples, items),
						    f'bench-{name}', smp=smp, timeout=timeout),
		boots, 'bench')
	text = report(tables['series'], tables['base'])
	text = (f'Medians of {boots} boots per kernel, {smp} CPUs, {items} items, {samples} samples, '
		f'QEMU under {qemu.accel_args()[0]}.\n\n') + text
	save('report', text, raw)
	files = draw(raw)
	return text + '\n' + '\n'.join(f'saved {f}' for f in files) + '\n'


def draw(raw: Dict[str, List[str]]) -> List[Path]:
	"""bench.json, latency-cdf.png and throughput.png in RESULTS from
	each kernel's raw lines, boot by boot."""
	from . import plots
	boots = {name: [t for t in parse_boots(lines) if t] for name, lines in raw.items()}
	return plots.write(RESULTS, boots, {n: median_table(b) for n, b in boots.items()})


def redraw() -> List[Path]:
	"""The plots again from the raw lines the last `make bench` saved."""
	raw = {}
	for name in ('series', 'base'):
		path = RESULTS / f'{name}.txt'
		if not path.exists():
			raise HarnessError(f'{path} is missing: run make bench first')
		raw[name] = path.read_text().splitlines()
	return draw(raw)
