# SPDX-License-Identifier: GPL-2.0-only
"""PNG plots of `make bench`, and its numbers as JSON beside them.

Drawn from what the bench module prints, boot by boot: each
mechanism's latency quantiles (its "cdf" line: the 1st, every 4th and
the 99th percentile of its samples) and the throughput per item.  The
plots show the medians over the boots, as the text report does; the JSON
keeps every boot.
"""

import json
from pathlib import Path
from typing import Dict, List

from .common import HarnessError

# (mechanism, colour); the series' BH queues against the tasklets they
# replace, and the thread-context queues for scale.
LATENCY = (('tasklet', 'tab:blue'), ('tasklet_hi', 'tab:cyan'),
	   ('system_bh_wq', 'tab:red'), ('system_bh_highpri_wq', 'tab:orange'),
	   ('system_highpri_wq', 'tab:green'), ('system_wq', 'tab:olive'))
THROUGHPUT = ('tasklet', 'tasklet_hi', 'system_bh_wq', 'system_bh_highpri_wq')


def cdf(values: Dict[str, int]):
	"""(latencies in µs, fractions) of a cdf line's quantiles, in order."""
	pts = sorted((int(k[1:]), v) for k, v in values.items()
		     if k.startswith('p') and k[1:].isdigit())
	return [v / 1000 for _, v in pts], [q / 100 for q, _ in pts]


def as_json(boots: Dict[str, List[dict]], medians: Dict[str, dict]) -> str:
	"""Every boot's numbers and the medians, by kernel, as JSON."""
	def plain(table):
		out: Dict[str, Dict[str, Dict[str, int]]] = {}
		for (kind, mech), vals in sorted(table.items()):
			out.setdefault(kind, {})[mech] = dict(sorted(vals.items()))
		return out
	return json.dumps({'boots': {k: [plain(t) for t in v] for k, v in boots.items()},
			   'medians': {k: plain(t) for k, t in medians.items()}},
			  indent=1, sort_keys=True) + '\n'


def _pyplot():
	try:
		import matplotlib
		matplotlib.use('Agg')
		import matplotlib.pyplot as plt
	except ImportError as e:
		raise HarnessError(f'no plots: matplotlib is missing ({e}); as root: '
				   'apt-get install python3-matplotlib') from e
	return plt


def latency_cdf(medians: Dict[str, dict], path: Path) -> Path:
	"""Latency CDF per mechanism: series kernel solid, base kernel dashed."""
	if not any(('cdf', m) in medians.get(k, {}) for m, _ in LATENCY for k in ('series', 'base')):
		raise HarnessError('no plots: the bench printed no "cdf" lines')
	plt = _pyplot()
	fig, ax = plt.subplots(figsize=(8, 5))
	drawn = 0
	for mech, colour in LATENCY:
		for kern, style in (('series', '-'), ('base', '--')):
			vals = medians.get(kern, {}).get(('cdf', mech))
			if not vals:
				continue
			xs, ys = cdf(vals)
			ax.plot(xs, ys, style, color=colour, drawstyle='steps-post',
				label=f'{mech} ({kern})')
			drawn += 1
	if not drawn:
		plt.close(fig)
		raise HarnessError('no plots: the bench printed no "cdf" lines')
	ax.set_xscale('log')
	ax.set_xlabel('hard irq to callback, µs (log scale; QEMU TCG)')
	ax.set_ylabel('fraction of samples')
	ax.set_title('Latency CDF: series kernel solid, base kernel dashed')
	ax.grid(True, which='both', alpha=0.3)
	ax.legend(fontsize=7, loc='lower right')
	fig.tight_layout()
	fig.savefig(path, dpi=100)
	plt.close(fig)
	return path


def throughput_bars(medians: Dict[str, dict], path: Path) -> Path:
	"""ns per item (queue and run, N items in one BH-disabled section),
	series kernel against base kernel, per mechanism."""
	plt = _pyplot()
	fig, ax = plt.subplots(figsize=(8, 4.5))
	width = 0.38
	for i, (kern, colour) in enumerate((('series', 'tab:red'), ('base', 'tab:blue'))):
		vals = [medians.get(kern, {}).get(('throughput', m), {}).get('total_ns_per_item', 0)
			for m in THROUGHPUT]
		xs = [x + (i - 0.5) * width for x in range(len(THROUGHPUT))]
		bars = ax.bar(xs, vals, width, color=colour, label=f'{kern} kernel')
		for bar, v in zip(bars, vals):
			if v:
				ax.annotate(str(v), (bar.get_x() + bar.get_width() / 2, v),
					    ha='center', va='bottom', fontsize=8)
	ax.set_xticks(range(len(THROUGHPUT)))
	ax.set_xticklabels(THROUGHPUT, fontsize=8)
	ax.set_ylabel('ns per item, queue and run (lower is better)')
	ax.set_title('Throughput: items queued in one BH-disabled section (the base\n'
		     'kernel has no BH workqueues: no bars there)', fontsize=10)
	ax.legend()
	fig.tight_layout()
	fig.savefig(path, dpi=100)
	plt.close(fig)
	return path


def write(results: Path, boots: Dict[str, List[dict]], medians: Dict[str, dict]) -> List[Path]:
	"""bench.json and the two plots in `results`; the files written."""
	results.mkdir(parents=True, exist_ok=True)
	(results / 'bench.json').write_text(as_json(boots, medians))
	return [results / 'bench.json',
		latency_cdf(medians, results / 'latency-cdf.png'),
		throughput_bars(medians, results / 'throughput.png')]
