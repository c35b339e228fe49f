# SPDX-License-Identifier: GPL-2.0-only
"""Find kernel splats (BUG, WARNING, KASAN, lockdep, ...) in a console log.

Any of these in a test guest's console fails the run.  The log is read as
a sequence of kernel REPORTS: a report starts at its header, the line by
which the kernel names it ("BUG: KASAN: ...", "WARNING: CPU: 0 PID: 1 at
...", "INFO: task foo:12 blocked for more than 120 seconds." ...; the
"cut here" or "=====" line before it is not the header), and gives one
Splat, named by that header: a KASAN kernel's Oops or general protection
fault mentions KASAN without being a KASAN report.  The header patterns,
in HEADERS, are the printk formats of Linux 6.1, anchored at the start of
the message, so that lines which merely mention them stay harmless: TCG's
"mtrr: your CPUs had inconsistent fixed MTRR settings", "panic=-1
oops=panic" on the command line, "kasan: KernelAddressSanitizer
initialized", lockdep's boot banner, "ODEBUG: selftest passed".  A
console timestamp "[   12.345678]", a printk caller id "[T123]" or "[C1]",
a "<4>" level and a syslog "host kernel: " prefix may come first, and a
pr_fmt prefix of one or two words ("watchdog: ", "rcu: ") before the
header.

Some reports print more than one header.  A report's own follow-up
headers, less than WINDOW lines after its header and before its end
marker ("---[ end trace ...", "---[ end Kernel panic ...", a line of
'='), belong to it: the "WARNING: CPU: ..." line of a refcount_t, list
corruption or ODEBUG warning (their message comes first), the
"invalid opcode: 0000 [#1]" die() line after "kernel BUG at", the
"Oops: 0000 [#1]" line after "BUG: kernel NULL pointer dereference",
lockdep's "turning off the locking correctness validator." after its
"INFO: trying to register non-static key.".  A panic is a report of its
own, also the "Kernel panic - not syncing: Fatal exception" after an
Oops.

A test that provokes a splat on purpose brackets it with the console
lines "PREFIX: expect splat: KIND: what" and "PREFIX: end of expected
splat", where PREFIX is "wqbh" (harness scripts) or "test_workqueue"
(the test module's pr_fmt) and KIND one of KINDS.  Inside, reports of
that kind are expected (one or more); any other report is a splat as
usual.  No report of the kind, a region left open at the end of the log,
a begin line without a known KIND or an end line without a begin line
are splats too.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, TextIO

# Follow-up headers of a report belong to it only this close to its header.
WINDOW = 10

# A pr_fmt prefix before a header: "watchdog: ", "rcu: ", "NMI watchdog: ".
_PFX = r'(?:[\w.-]+(?: [\w.-]+)?: )?'

# What may come before the message: syslog "Nov 30 19:00:01 host kernel: "
# (or journalctl's ISO date), "<4>", "[   12.345678]" or dmesg -T's
# "[Mon Nov 30 19:00:01 2026]", a caller id "[T123]"/"[C1]".
_LEAD = re.compile(
	r'^\s*(?:(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.,+-]+)'
	r' \S+ kernel: )?'
	r'(?:<\d+>)?'
	r'(?:\[\s*\d+\.\d+\] ?|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d [\d:]{8} \d{4}\] ?)?'
	r'(?:\[\s*[TC]\d+\] ?)?\s*')
# Lines that end a report.
_END = re.compile(r'^(?:---\[ end (?:trace|Kernel panic)|={20,}\s*$)')


class Header:
	"""A line that starts a report of `kind`: a message that `pattern`
	matches from its start, after a pr_fmt prefix if any.  `absorbs`:
	kinds of headers which, printed right after it, are part of the same
	report."""

	def __init__(self, kind: str, pattern: str, absorbs: Iterable[str] = ()):
		self.kind = kind
		self.regex = re.compile(_PFX + '(?:' + pattern + ')')
		self.absorbs = frozenset(absorbs)

	def __repr__(self) -> str:
		return f'Header({self.kind!r}, {self.regex.pattern!r})'


def _h(kind: str, pattern: str, *absorbs: str) -> Header:
	return Header(kind, pattern, absorbs)


_LOCKDEP_WARNINGS = '|'.join((
	r'possible circular locking dependency',
	r'inconsistent lock state',
	r'possible recursive locking',
	r'possible irq lock inversion dependency',
	r'\S+-safe -> \S+-unsafe lock order',
	r'suspicious RCU usage',
	r'bad unlock balance',
	r'bad contention',
	r'held lock freed',
	r'lock held when returning to user space',
	r'Nested lock was not taken',
	r'chain_key collision',
	r'\S+/\d+ still has locks held',
))

# First match wins: specific reports before the generic BUG: and WARNING:.
# The printk formats are those of Linux 6.1 (file in the comment).
HEADERS = (
	# mm/kasan/report.c, mm/kfence/report.c, kernel/kcsan/report.c
	_h('KASAN', r'BUG: KASAN: '),
	_h('KFENCE', r'BUG: KFENCE: '),
	_h('KCSAN', r'BUG: KCSAN: '),
	# lib/ubsan.c: after a line of '='
	_h('UBSAN', r'UBSAN: \S+ in '),
	# mm/slub.c slab_bug(): "BUG kmalloc-64 (Not tainted): Poison overwritten"
	_h('SLUB', r'BUG [^ ]+ \((?:Not tainted|Tainted: [^)]*)\): '),
	# arch/x86/kernel/traps.c via die_addr(); on KASAN kernels "KASAN:
	# null-ptr-deref in range" follows, part of this report.
	_h('GPF', r'(?:segment-related )?general protection fault\b'),
	# arch/x86/mm/fault.c show_fault_oops(), then die("Oops")
	_h('Oops', r'BUG: (?:kernel NULL pointer dereference|unable to handle )', 'Oops'),
	_h('Oops', r'kernel tried to execute NX-protected page|unable to execute userspace code',
	   'Oops'),
	# lib/bug.c BUG()/BUG_ON(), then die("invalid opcode")
	_h('BUG', r'[Kk]ernel BUG at ', 'Oops'),
	# arch/x86/kernel/dumpstack.c __die_header(): "Oops: 0000 [#1] PREEMPT
	# SMP KASAN", "invalid opcode: 0000 [#1] ...", "double fault: ..."
	_h('Oops', r'[A-Za-z][\w ,-]*: [0-9a-f]{4} \[#\d+\]'),
	# lib/refcount.c: WARN_ONCE(1, "refcount_t: ...")
	_h('refcount', r'refcount_t: ', 'WARNING'),
	# lib/list_debug.c CHECK_DATA_CORRUPTION(): WARN(), or pr_err() and
	# BUG() with CONFIG_BUG_ON_DATA_CORRUPTION
	_h('list corruption', r'list_(?:add|del) corruption[.,] |list_add double add: ',
	   'WARNING', 'BUG', 'Oops'),
	# lib/debugobjects.c debug_print_object(), debug_object_is_on_stack()
	_h('ODEBUG', r'ODEBUG: (?:.*\(active state \d+\)|object \S+ is (?:NOT )?on stack)',
	   'WARNING'),
	# kernel/locking/lockdep.c
	_h('lockdep', r'WARNING: (?:' + _LOCKDEP_WARNINGS + ')'),
	_h('lockdep', r'\[ BUG: Invalid wait context \]'),
	_h('lockdep', r'BUG: (?:MAX_\w+ too low|looking up invalid subclass'
	   r'|key \S+ has not been registered)', 'lockdep', 'WARNING'),
	_h('lockdep', r'INFO: trying to register non-static key', 'lockdep'),
	_h('lockdep', r'turning off the locking correctness validator'),
	_h('lockdep', r'DEBUG_LOCKS_WARN_ON\(', 'WARNING'),
	# kernel/rcu/tree_stall.h, tree_exp.h, tasks.h
	_h('RCU stall', r'INFO: \S+ (?:self-detected stall on CPU|detected (?:expedited )?stalls)'),
	# kernel/hung_task.c
	_h('hung task', r'INFO: task .+:\d+ blocked for more than \d+ seconds'),
	# kernel/sched/core.c
	_h('atomic', r'BUG: (?:sleeping function called from invalid context|scheduling while atomic'
	   r'|assuming atomic context|assuming non migratable context'
	   r'|scheduling in a non-blocking section)'),
	# kernel/softirq.c ("softirq: "): a softirq handler leaked a preempt count
	_h('atomic', r'huh, entered softirq \d+ '),
	# kernel/workqueue.c; "BUG: BH workqueue leaked ..." is the series'
	_h('workqueue', r'BUG: (?:BH )?workqueue (?:leaked|lockup)'),
	# kernel/watchdog.c ("watchdog: "), kernel/watchdog_hld.c ("NMI watchdog: ")
	_h('lockup', r'BUG: soft lockup\b|Watchdog detected hard LOCKUP'),
	# kernel/panic.c
	_h('panic', r'Kernel panic - not syncing: '),
	# Anything else the kernel calls a BUG or a WARNING: "BUG: Bad page
	# state", "BUG: spinlock bad magic", "WARNING: CPU: 0 PID: 1 at ..."
	_h('BUG', r'BUG: '),
	_h('WARNING', r'WARNING: '),
)

# The kinds of reports, as named in Splat.kind and in "expect splat: KIND:".
KINDS = tuple(dict.fromkeys(h.kind for h in HEADERS))
# Splat.kind of a broken expected-splat region.
MISSING = 'missing expected splat'
UNCLOSED = 'unclosed expected splat'
BAD_BEGIN = 'bad expected splat'
STRAY_END = 'stray end of expected splat'

EXPECT_BEGIN = re.compile(r'\b(?:wqbh|test_workqueue): expect splat:(.*)$')
EXPECT_END = re.compile(r'\b(?:wqbh|test_workqueue): end of expected splat')
_KIND_BY_NAME = {k.lower(): k for k in KINDS}


@dataclass
class Splat:
	kind: str
	lineno: int	# 1-based line in the console log
	line: str	# the report's header line, or what is wrong with a region


def message(line: str) -> str:
	"""`line` without its timestamp and other prefixes (see _LEAD)."""
	return _LEAD.sub('', line.rstrip('\r\n'), count=1).rstrip()


def _header_of(msg: str) -> Optional[Header]:
	for h in HEADERS:
		if h.regex.match(msg):
			return h
	return None


def header(line: str) -> Optional[Header]:
	"""The Header that console line `line` is, if any."""
	return _header_of(message(line))


def expected_kind(what: str) -> Optional[str]:
	"""The KIND of "expect splat: KIND: what", None if none is known."""
	what = what.strip()
	name = what.split(': ', 1)[0] if ': ' in what else what.rstrip(':')
	return _KIND_BY_NAME.get(name.strip().lower())


@dataclass
class _Region:
	lineno: int
	text: str
	kind: Optional[str]	# None: the begin line named no known kind
	seen: int = 0


def find(lines: Iterable[str]) -> List[Splat]:
	"""The splats of a console log, in the order of their lines."""
	found = []
	region: Optional[_Region] = None
	report: Optional[Header] = None		# the last report, while open
	report_line = 0

	def unclosed(r: _Region, why: str) -> None:
		found.append(Splat(UNCLOSED, r.lineno, f'{r.text} ({why})'))

	for n, line in enumerate(lines, 1):
		text = line.strip()
		m = EXPECT_BEGIN.search(line)
		if m:
			if region:
				unclosed(region, f'a new region begins at line {n} before its end')
			kind = expected_kind(m.group(1))
			if kind is None:
				found.append(Splat(BAD_BEGIN, n, f'{text} (names no known kind: say '
						   f'"expect splat: KIND: what", KIND one of '
						   f'{", ".join(KINDS)})'))
			region = _Region(n, text, kind)
			continue
		if EXPECT_END.search(line):
			if region is None:
				found.append(Splat(STRAY_END, n, f'{text} (no "expect splat" line before)'))
			elif region.kind and not region.seen:
				found.append(Splat(MISSING, region.lineno,
						   f'{region.text} (no {region.kind} report until line {n})'))
			region = None
			continue
		msg = message(line)
		if _END.match(msg):
			report = None
			continue
		h = _header_of(msg)
		if h is None:
			continue
		if report and n - report_line < WINDOW and h.kind in report.absorbs:
			continue
		report, report_line = h, n
		if region and region.kind == h.kind:
			region.seen += 1
		else:
			found.append(Splat(h.kind, n, text))
	if region:
		unclosed(region, 'no "end of expected splat" line follows')
	found.sort(key=lambda s: s.lineno)
	return found


# How much of a report excerpt() shows: the lines before its header, and
# at most this many from the header on (a workqueue lockup's dump of busy
# pools and workqueues, a backtrace), so that a run whose console log is
# gone (CI's) still says what the kernel said.
EXCERPT_BEFORE = 2
EXCERPT_LINES = 30


def excerpt(lines: Sequence[str], s: Splat) -> List[str]:
	"""The console lines of the report `s` found in `lines`: a few
	before its header, then up to EXCERPT_LINES from the header on, up to
	its end marker if one comes first."""
	first = max(0, s.lineno - 1 - EXCERPT_BEFORE)
	out = [ln.rstrip() for ln in lines[first:s.lineno - 1]]
	for ln in lines[s.lineno - 1:s.lineno - 1 + EXCERPT_LINES]:
		out.append(ln.rstrip())
		if _END.match(message(ln)):
			break
	return out


def format_splat(path: str, s: Splat) -> str:
	"""One line for a user: KIND  FILE:LINE  first line of the report."""
	return f'{s.kind}  {path}:{s.lineno}  {s.line}'


def scan(paths: Sequence[str], out: Optional[TextIO] = None,
	 err: Optional[TextIO] = None) -> int:
	"""`wqbh splat LOG...`: print the splats of console logs, one a
	line, to `out` (stdout), and a count to `err` (stderr).  Returns 1 if
	there are any, 0 if none, 2 if a log can't be read (and then scans
	none)."""
	out = out or sys.stdout
	err = err or sys.stderr
	texts = []
	for p in paths:
		try:
			texts.append((p, Path(p).read_text(errors='replace')))
		except OSError as e:
			print(f'wqbh splat: cannot read {p}: {e.strerror or e}', file=err)
			return 2
	count = 0
	for p, text in texts:
		for s in find(text.splitlines()):
			print(format_splat(p, s), file=out)
			count += 1
	print(f'wqbh splat: {count} splat{"" if count == 1 else "s"} in '
	      f'{len(texts)} log{"" if len(texts) == 1 else "s"}', file=err)
	return 1 if count else 0
