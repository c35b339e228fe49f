# SPDX-License-Identifier: GPL-2.0-only
"""The tasklet-to-BH-work-item converter: the series' semantic patch
(scripts/coccinelle/api/tasklet_to_bh_work.cocci) run with spatch.

- check_convert() (make check): the semantic patch on a fixed sample of
  tasklet users the series does not convert, each result compiled under
  allmodconfig, and on the base versions of the series' own conversions,
  whose hand-made results must agree with it in substance: the same work
  item functions where the tasklet functions were.
- convert_report() (make convert-report): the semantic patch over every
  file of the base tree that uses tasklets, every converted file compiled
  under allmodconfig, and a table of what was converted, left (by
  reason) and compiles.

Both work in the scratch worktree of the top of the series that the
configuration checks use (build/linux-cfg), whose allmodconfig output
directory they share, and give the tree back as they found it.
"""

import collections
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import configs, kernel
from .common import BASE_TAG, BUILD, HarnessError, git, log
from .results import Results

COCCI = 'scripts/coccinelle/api/tasklet_to_bh_work.cocci'

# A use of the tasklet API: one site (and the same for git grep -E).
# 6.1's tasklet API, as include/linux/interrupt.h declares it: a driver's
# own names that begin with tasklet_ (ifb's tasklet_pending) are not uses.
TASKLET_NAMES = ('tasklet_struct|tasklet_setup|tasklet_init|(?:__)?tasklet_(?:hi_)?schedule|'
		 'tasklet_kill|tasklet_disable(?:_nosync|_in_atomic)?|tasklet_enable|'
		 'tasklet_trylock|tasklet_unlock(?:_wait|_spin_wait)?|from_tasklet|'
		 'DECLARE_TASKLET(?:_DISABLED)?(?:_OLD)?')
TASKLET_API = re.compile(rf'\b(?:{TASKLET_NAMES})\b')
TASKLET_ERE = rf'\b({TASKLET_NAMES.replace("(?:", "(")})\b'
# The tasklet implementation and what only mentions it.
NOT_USERS = ('kernel/softirq.c', 'include/linux/interrupt.h', 'include/trace/events/irq.h',
	     'Documentation/', 'tools/', 'scripts/', 'rust/')

# The work item API the semantic patch writes, and what a hand conversion
# may use instead of each.
WORK_API = re.compile(r'\b(?:INIT_WORK|queue_work|system_bh_wq|system_bh_highpri_wq|'
		      r'cancel_work_sync|disable_work_sync|disable_work|enable_work|'
		      r'from_work|DECLARE_WORK_DISABLED|DECLARE_WORK)\b')
SAME_IN_SUBSTANCE = {'enable_work': {'enable_work', 'enable_and_queue_work'}}

# Tasklet users the series doesn't convert, from as many subsystems, each
# converted whole by the semantic patch and built by x86_64 allmodconfig:
# tasklet_init() with the container as data and direct calls of the
# callback (firewire), tasklet_setup() and from_tasklet(), disable and
# enable, tasklet_disable_in_atomic(), kill, members declared in a
# driver's header (virtio_crypto, qce, cb710).
SAMPLE = [
	'drivers/firewire/ohci.c',
	'drivers/crypto/virtio/virtio_crypto_core.c',
	'drivers/tty/ipwireless/hardware.c',
	'drivers/media/usb/ttusb-dec/ttusb_dec.c',
	'drivers/crypto/qce/core.c',
	'net/rds/ib_cm.c',
	'drivers/net/ifb.c',
	'drivers/mmc/host/cb710-mmc.c',
	'drivers/net/caif/caif_virtio.c',
	'drivers/net/ppp/ppp_async.c',
]

# Tasklet users the semantic patch must leave alone, with the reason its
# report gives: the virt-dma channel's tasklet, set up in virt-dma.c;
# tasklet_unlock_wait(); a tasklet_init() callback taken from a table of
# function pointers.
LEFT_SAMPLE = [
	('drivers/dma/sf-pdma/sf-pdma.c', 'foreign'),
	('drivers/atm/solos-pci.c', 'spin'),
	('drivers/scsi/megaraid/megaraid_sas_base.c', 'data'),
]

# The series' own conversions: (file, its patch).
HAND = [
	('kernel/backtracetest.c', '0017'),
	('drivers/usb/core/hcd.c', '0025'),
	('drivers/tty/vt/keyboard.c', '0026'),
	('drivers/char/ipmi/ipmi_msghandler.c', '0027'),
	('net/ipv4/tcp_output.c', '0028'),
]

ALLMOD = next(c for c in configs.CONFIGS if c.slug == 'allmod')

REPORT_LINE = re.compile(r'^(\S+?):(\d+):\S*: tasklet left: (\w+): (.*)$')


COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)


def sites(text: str) -> int:
	"""Uses of the tasklet API in a file's text, comments left out."""
	return len(TASKLET_API.findall(COMMENT.sub(' ', text)))


def tasklet_files(src: Path, rev: str = BASE_TAG) -> List[str]:
	"""The C files and headers of `rev` that use the tasklet API."""
	out = git(src, 'grep', '-l', '-E', TASKLET_ERE, rev, '--', '*.c', '*.h', check=False)
	files = [ln.split(':', 1)[1] for ln in out.splitlines() if ':' in ln]
	return sorted(f for f in files if not f.startswith(NOT_USERS))


def with_headers(src: Path, files: List[str]) -> List[str]:
	"""`files` and the headers next to them that use the tasklet API (a
	driver's private header declares its tasklet members)."""
	dirs = {os.path.dirname(f) for f in files}
	return files + [h for h in tasklet_files(src, 'HEAD')
			if h.endswith('.h') and os.path.dirname(h) in dirs and h not in files]


def spatch(src: Path, files: List[str], mode: str, logfile: Path) -> str:
	"""spatch with the semantic patch in `mode` (patch or report) on
	`files` of `src`, two jobs; its output (a diff or report lines)."""
	if not files:
		return ''
	# Each file a group of its own: spatch decides a rule's dependencies
	# per group, and the semantic patch decides per file.
	# --no-scanner: in a git tree, spatch 1.1.1 would otherwise pick the
	# files of each group with `git grep` over the whole tree (half a
	# minute a group), only to keep the one file it was given.
	groups = BUILD / 'logs' / f'spatch-groups-{mode}.txt'
	groups.write_text('\n\n'.join(files) + '\n')
	cmd = ['spatch', '--very-quiet', '--no-includes', '--include-headers', '--no-scanner',
	       '-D', mode,
	       '--jobs', str(min(2, len(files))), '--chunksize', '1', '--timeout', '120',
	       '--sp-file', COCCI, '--file-groups', str(groups)]
	proc = subprocess.run(cmd, cwd=src, text=True, errors='replace',
			      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
	with open(logfile, 'a') as f:
		f.write(f'$ {" ".join(cmd[:12])} ... ({len(files)} files)\n{proc.stderr}')
	if proc.returncode:
		raise HarnessError(f'spatch -D {mode} failed ({proc.returncode}); log {logfile}:\n'
				   + '\n'.join(proc.stderr.splitlines()[-8:]))
	return proc.stdout


def left_reasons(report: str) -> Dict[str, List[str]]:
	"""{file: [reason, ...]} from the report mode's lines."""
	why: Dict[str, List[str]] = collections.defaultdict(list)
	for line in report.splitlines():
		m = REPORT_LINE.match(line.strip())
		if m and m.group(3) not in why[m.group(1)]:
			why[m.group(1)].append(m.group(3))
	return dict(why)


def apply_diff(src: Path, diff: str) -> List[str]:
	"""Apply spatch's diff to `src`; the files it changed."""
	if not diff.strip():
		return []
	# spatch's diff names the original file and a temporary file
	fixed = re.sub(r'^\+\+\+ \S+', '+++ b/FILE', diff, flags=re.M)
	parts = re.split(r'^(?=--- )', fixed, flags=re.M)
	changed = []
	for part in parts:
		m = re.match(r'--- (\S+)', part)
		if not m:
			continue
		name = m.group(1)
		body = part.replace(f'--- {name}', f'--- a/{name}', 1).replace('+++ b/FILE', f'+++ b/{name}', 1)
		proc = subprocess.run(['git', 'apply', '-'], cwd=src, input=body, text=True,
				      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
		if proc.returncode:
			raise HarnessError(f'the converted {name} does not apply: {proc.stdout.strip()}')
		changed.append(name)
	return changed


@dataclass
class Outcome:
	"""What the semantic patch did to one C file."""
	sites: int
	state: str		# converted, partial, left, untouched
	reasons: List[str] = field(default_factory=list)
	compiled: Optional[bool] = None	# None: not built by allmodconfig
	error: str = ''


def classify(src: Path, files: List[str], changed: List[str],
	     reasons: Dict[str, List[str]], before: Dict[str, int]) -> Dict[str, Outcome]:
	"""Each C file's outcome, from the converted tree."""
	got = {}
	for f in files:
		if not f.endswith('.c'):
			continue
		left_now = sites((src / f).read_text(errors='replace'))
		if f in reasons and f not in changed:
			state = 'left'
		elif f in changed and left_now == 0:
			state = 'converted'
		elif f in changed:
			state = 'partial'
		else:
			state = 'untouched'
		got[f] = Outcome(before[f], state, reasons.get(f, []))
	return got


def compile_converted(src: Path, outcomes: Dict[str, Outcome], logfile: Path) -> None:
	"""Compile each converted C file under allmodconfig (objects only,
	make -k), and record whether it compiled."""
	out = configs.configure(src, ALLMOD)
	conf = configs.read_config(out / '.config')
	todo = []
	for f, o in outcomes.items():
		if o.state != 'converted':
			continue
		if configs.not_built(src, conf, f):
			continue
		todo.append(f)
		(out / (f[:-2] + '.o')).unlink(missing_ok=True)
	if not todo:
		return
	cmd = configs._make_cmd(ALLMOD, out, ['-k', f'-j{os.cpu_count() or 2}',
					      *[f[:-2] + '.o' for f in todo]])
	env = dict(os.environ, **kernel.build_env(src))
	proc = subprocess.run(cmd, cwd=src, env=env, text=True, errors='replace',
			      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	with open(logfile, 'a') as lf:
		lf.write(f'$ {" ".join(cmd[:8])} ... ({len(todo)} objects)\n{proc.stdout}')
	errors: Dict[str, List[str]] = collections.defaultdict(list)
	for line in proc.stdout.splitlines():
		m = configs.WARNING_LINE.match(line)
		if m and m.group(4) == 'error':
			errors[m.group(1)].append(line)
	for f in todo:
		built = (out / (f[:-2] + '.o')).exists()
		outcomes[f].compiled = built and f not in errors
		if not outcomes[f].compiled:
			outcomes[f].error = '\n'.join(errors.get(f, [])[:3]) or \
				'no object (an error in a header it includes?)'


def restore(src: Path) -> None:
	"""Give the scratch tree back as it was: the top of the series."""
	git(src, 'checkout', '-q', '--', '.')
	git(src, 'clean', '-q', '-f', '--', '.', ':!out-*')


def convert(src: Path, files: List[str], logfile: Path) -> Dict[str, Outcome]:
	"""Run the semantic patch on `files` (and the headers among them),
	compile the converted C files; the tree is restored afterwards."""
	before = {f: sites((src / f).read_text(errors='replace')) for f in files}
	try:
		reasons = left_reasons(spatch(src, files, 'report', logfile))
		changed = apply_diff(src, spatch(src, files, 'patch', logfile))
		outcomes = classify(src, files, changed, reasons, before)
		compile_converted(src, outcomes, logfile)
		return outcomes
	finally:
		restore(src)


def work_calls(diff_added: str) -> set:
	return set(WORK_API.findall(diff_added))


def agreement(converted: str, hand: str) -> List[str]:
	"""How a hand conversion differs in substance from the semantic
	patch's result of the same base file: tasklet API left in either, or
	a work item function the semantic patch uses that the hand
	conversion doesn't (nor one the same in substance)."""
	problems = []
	if sites(converted):
		problems.append(f'the semantic patch left {sites(converted)} tasklet uses')
	if sites(hand):
		problems.append(f'the hand conversion has {sites(hand)} tasklet uses')
	used = set(re.findall(r'\b\w+\b', hand))
	for call in sorted(work_calls(converted)):
		if not SAME_IN_SUBSTANCE.get(call, {call}) & used:
			problems.append(f'the semantic patch uses {call}(), the hand conversion doesn\'t')
	return problems


def check_convert(res: Results, src: Path) -> None:
	"""make check's part: the sample, compiled, and the hand conversions'
	agreement.  `src` is the configuration checks' series worktree."""
	logfile = BUILD / 'logs' / 'convert-check.log'
	logfile.parent.mkdir(parents=True, exist_ok=True)
	logfile.write_text('')
	start = time.time()
	try:
		left = [f for f, _ in LEFT_SAMPLE]
		outcomes = convert(src, with_headers(src, SAMPLE + left), logfile)
	except HarnessError as e:
		res.add(f'tasklet converter: {len(SAMPLE) + len(LEFT_SAMPLE)} sample users',
			'fail', str(e))
		return
	for f, reason in LEFT_SAMPLE:
		o = outcomes[f]
		name = f'tasklet converter: {f} left alone ({o.sites} sites), reported as {reason}'
		if o.state != 'left' or reason not in o.reasons:
			res.add(name, 'fail', f'{o.state}' + (f': {", ".join(o.reasons)}' if o.reasons
							     else ''))
		else:
			res.add(name, 'pass')
	for f in SAMPLE:
		o = outcomes[f]
		name = f'tasklet converter: {f} converted whole ({o.sites} sites) and compiles with allmodconfig'
		if o.state != 'converted':
			res.add(name, 'fail', f'{o.state}' + (f': {", ".join(o.reasons)}' if o.reasons else ''))
		elif o.compiled is None:
			res.add(name, 'fail', 'allmodconfig does not build it: not a sample for x86_64')
		elif not o.compiled:
			res.add(name, 'fail', o.error)
		else:
			res.add(name, 'pass')
	# the hand conversions: the semantic patch on their base versions
	for f, patch in HAND:
		name = f'tasklet converter agrees with patch {patch}: {f}'
		try:
			base_text = git(src, 'show', f'{BASE_TAG}:{f}')
			hand = (src / f).read_text()
			(src / f).write_text(base_text)
			diff = spatch(src, [f], 'patch', logfile)
			apply_diff(src, diff)
			converted = (src / f).read_text()
		except HarnessError as e:
			res.add(name, 'fail', str(e))
			continue
		finally:
			restore(src)
		problems = agreement(converted, hand)
		res.add(name, 'fail' if problems else 'pass', '\n'.join(problems))
	log(f'tasklet converter checks took {time.time() - start:.0f} s')


def table(outcomes: Dict[str, Outcome], headers: int, seconds: float) -> str:
	"""The coverage table, in Markdown."""
	n = len(outcomes)
	by = collections.Counter(o.state for o in outcomes.values())
	nsites = sum(o.sites for o in outcomes.values())
	csites = sum(o.sites for o in outcomes.values() if o.state == 'converted')
	built = [o for o in outcomes.values() if o.state == 'converted' and o.compiled is not None]
	ok = sum(1 for o in built if o.compiled)
	notbuilt = sum(1 for o in outcomes.values() if o.state == 'converted' and o.compiled is None)
	reasons = collections.Counter(r for o in outcomes.values() if o.state == 'left' for r in o.reasons)

	def pct(a: int, b: int) -> str:
		return f'{100 * a / b:.0f}%' if b else '-'
	rows = [
		('C files using tasklets', f'{n} ({nsites} sites), and {headers} headers'),
		('converted whole', f'{by["converted"]} ({pct(by["converted"], n)}; {csites} sites)'),
		('converted in part (tasklet uses left)', str(by['partial'])),
		('left alone, with a reason', str(by['left'])),
		*[(f'- left: {r}', str(c)) for r, c in sorted(reasons.items())],
		('not touched (no pattern matched)', str(by['untouched'])),
		('converted, built by x86_64 allmodconfig', str(len(built))),
		('converted and compiling', f'{ok} ({pct(ok, len(built))} of those built; '
		 f'{pct(ok, n - notbuilt)} of all files that allmodconfig builds or would)'),
		('converted, not built by x86_64 allmodconfig', str(notbuilt)),
		('time', f'{seconds / 60:.0f} min'),
	]
	return '| | |\n|---|---|\n' + ''.join(f'| {a} | {b} |\n' for a, b in rows)


def convert_report(src: Path) -> str:
	"""make convert-report: the whole base tree's tasklet users."""
	logfile = BUILD / 'logs' / 'convert-report.log'
	logfile.parent.mkdir(parents=True, exist_ok=True)
	logfile.write_text('')
	start = time.time()
	files = tasklet_files(src)
	# the base tree's versions of the files the series converts
	for f, _ in HAND:
		(src / f).write_text(git(src, 'show', f'{BASE_TAG}:{f}'))
	try:
		outcomes = convert(src, files, logfile)
	finally:
		restore(src)
	text = table(outcomes, sum(1 for f in files if f.endswith('.h')), time.time() - start)
	raw = BUILD / 'logs' / 'convert-report.json'
	raw.write_text(json.dumps({f: vars(o) for f, o in outcomes.items()}, indent=1))
	return text + f'\nPer file: {raw}\n'
