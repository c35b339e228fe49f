# SPDX-License-Identifier: GPL-2.0-only
"""The statistics of the conversions' numbers, from the raw lines of a
`make conv-bench` run: per workload, the median of the boots of each
kernel, series over base, and a two-sided permutation test of the
Mann-Whitney statistic (how likely a split of the boots at least this
uneven is when the kernel makes no difference).

Documentation/conversion.md's table of the converted users' numbers is
what `PYTHONPATH=tools python3 -m wqbh conv-stats DIR` prints for the
run kept in DIR (conversions-series.txt and conversions-base.txt, as
`make conv-bench` saves them in build/bench/); a unit test holds the
document to it.
"""

import itertools
import random
import statistics
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Tuple

from .common import HarnessError

# (workload, value, how the table names them), in the table's order: the
# rates; the guest scripts also print what they are derived from
HEADLINE: List[Tuple[str, str, str, str]] = [
	('usb-xhci', 'write_kib_s', 'USB, xHCI disk', 'write KiB/s'),
	('usb-xhci', 'read_kib_s', 'USB, xHCI disk', 'read KiB/s'),
	('usb-ehci', 'write_kib_s', 'USB, EHCI disk', 'write KiB/s'),
	('usb-ehci', 'read_kib_s', 'USB, EHCI disk', 'read KiB/s'),
	('vt', 'toggles_per_s', 'VT keyboard LEDs', 'toggles per second'),
	('ipmi', 'commands_per_s', 'IPMI', 'ipmitool commands per second'),
	('tsq', 'kib_per_s', 'TCP Small Queues', '256 MiB, KiB/s'),
]

# Up to this many splits the test enumerates them all; beyond, it draws
# this many at random with a fixed seed, so that a run prints the same p.
EXACT_SPLITS = 200000
DRAWN_SPLITS = 100000


def ranks(values: Sequence[float]) -> List[float]:
	"""1-based ranks of `values`, ties sharing the mean of their ranks."""
	order = sorted(range(len(values)), key=lambda i: values[i])
	out = [0.0] * len(values)
	i = 0
	while i < len(order):
		j = i
		while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
			j += 1
		for k in range(i, j + 1):
			out[order[k]] = (i + j) / 2 + 1
		i = j + 1
	return out


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> float:
	"""U of `a` against `b`: pairs with a's value above b's, ties half."""
	return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)


def permutation_p(a: Sequence[float], b: Sequence[float]) -> float:
	"""Two-sided p of U: the share of all splits of the pooled values into
	groups of len(a) and len(b) whose U is at least as far from its mean
	as the observed one (exact up to EXACT_SPLITS splits)."""
	n, m = len(a), len(b)
	if not n or not m:
		raise HarnessError('a permutation test needs values on both sides')
	pooled = list(a) + list(b)
	r = ranks(pooled)
	base = n * (n + 1) / 2
	centre = n * m / 2
	# U = rank sum of the first group - n(n+1)/2; compare distances in
	# half-units so that float sums of .5 ranks compare exactly
	seen = round(2 * abs(sum(r[:n]) - base - centre))
	count = total = 0
	if _choose(n + m, n) <= EXACT_SPLITS:
		splits = itertools.combinations(range(n + m), n)
	else:
		rng = random.Random(1)
		splits = (rng.sample(range(n + m), n) for _ in range(DRAWN_SPLITS))
	for idx in splits:
		total += 1
		if round(2 * abs(sum(r[i] for i in idx) - base - centre)) >= seen:
			count += 1
	return count / total


def _choose(n: int, k: int) -> int:
	out = 1
	for i in range(1, k + 1):
		out = out * (n - k + i) // i
	return out


class Row(NamedTuple):
	label: str
	value: str
	series: float	# median
	base: float
	ratio: float	# series / base
	p: float
	boots: Tuple[int, int]


def rows(series: List[Dict], base: List[Dict]) -> List[Row]:
	"""The HEADLINE rows from each kernel's boots (bench.parse_boots()
	tables); a value no boot of a kernel has is left out."""
	out = []
	for workload, key, label, value in HEADLINE:
		s = [t[('workload', workload)][key] for t in series
		     if key in t.get(('workload', workload), {})]
		b = [t[('workload', workload)][key] for t in base
		     if key in t.get(('workload', workload), {})]
		if not s or not b:
			continue
		ms, mb = statistics.median(s), statistics.median(b)
		out.append(Row(label, value, ms, mb, ms / mb if mb else float('nan'),
			       permutation_p(s, b), (len(s), len(b))))
	return out


def _num(x: float) -> str:
	return f'{x:.0f}' if x == int(x) else f'{x:.1f}'


def markdown(table: List[Row]) -> str:
	"""The rows as conversion.md's table."""
	out = ['| workload | value | series | base (tasklets) | series/base | p | boots |',
	       '|---|---|---|---|---|---|---|']
	for r in table:
		out.append(f'| {r.label} | {r.value} | {_num(r.series)} | {_num(r.base)} '
			   f'| {r.ratio:.2f}x | {r.p:.2f} | {r.boots[0]}, {r.boots[1]} |')
	return '\n'.join(out) + '\n'


def load_run(directory: Path) -> Tuple[List[Dict], List[Dict]]:
	"""The series' and the base kernel's boots of the run kept in
	`directory` (conversions-series.txt, conversions-base.txt)."""
	raw = {}
	for name in ('series', 'base'):
		path = directory / f'conversions-{name}.txt'
		if not path.exists():
			raise HarnessError(f'{path} is missing: not the raw lines of a make conv-bench run')
		raw[name] = path.read_text().splitlines()
	return boots_of(raw, str(directory))


def boots_of(raw: Dict[str, List[str]], where: str) -> Tuple[List[Dict], List[Dict]]:
	"""The series' and the base kernel's boots from their raw lines, boot
	by boot (bench.take_turns()'s second value, or the files it saved)."""
	from . import bench
	series, base = ([t for t in bench.parse_boots(raw[name]) if t] for name in ('series', 'base'))
	if not series or not base:
		raise HarnessError(f'{where}: no boot with numbers in it')
	return series, base
