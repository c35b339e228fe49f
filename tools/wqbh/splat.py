# SPDX-License-Identifier: GPL-2.0-only
"""Find kernel splats (BUG, WARNING, KASAN, lockdep, ...) in a console log.

Any of these in a test guest's console fails the run.  Patterns are
precise enough to leave harmless lines alone: TCG prints "mtrr: your
CPUs had inconsistent fixed MTRR settings" and the command line holds
"panic=-1", so we match "inconsistent lock state" and "Kernel panic".

A test that provokes a splat on purpose brackets it with console lines
"PREFIX: expect splat: WHAT" and "PREFIX: end of expected splat", where
PREFIX is "wqbh" (harness scripts) or "test_workqueue" (the test module's
pr_fmt); a splat between them is expected, and the absence of one is
reported too.
"""

import re
from dataclasses import dataclass
from typing import Iterable, List

PATTERNS = [
	# Specific reports first, so a splat is named by what it is.
	('KASAN', r'\bKASAN\b'),
	('lockdep', r'possible circular locking dependency'),
	('lockdep', r'inconsistent lock state'),
	('lockdep', r'possible recursive locking detected'),
	('lockdep', r'possible irq lock inversion dependency'),
	('lockdep', r'suspicious RCU usage'),
	('lockdep', r'bad unlock balance detected'),
	('lockdep', r'held lock freed'),
	('atomic', r'scheduling while atomic'),
	('atomic', r'sleeping function called from invalid context'),
	('workqueue', r'workqueue lockup'),
	('lockup', r'soft lockup'),
	('lockup', r'hard LOCKUP'),
	('hung task', r'blocked for more than \d+ seconds'),
	('ODEBUG', r'\bODEBUG: '),
	('UBSAN', r'\bUBSAN: '),
	('GPF', r'general protection fault'),
	('BUG', r'\bBUG: '),
	('WARNING', r'\bWARNING: '),
	('Oops', r'\bOops\b'),
	('panic', r'Kernel panic'),
]
_COMPILED = [(kind, re.compile(pat)) for kind, pat in PATTERNS]
# Lines that mention a pattern without being a splat.
_HARMLESS = [
	re.compile(r'Kernel command line:|Command line:'),
	re.compile(r'kasan: KernelAddressSanitizer initialized'),
]
EXPECT_BEGIN = re.compile(r'\b(?:wqbh|test_workqueue): expect splat: (.*)$')
EXPECT_END = re.compile(r'\b(?:wqbh|test_workqueue): end of expected splat')


@dataclass
class Splat:
	kind: str
	lineno: int	# 1-based line in the console log
	line: str


def find(lines: Iterable[str]) -> List[Splat]:
	found = []
	expect = None		# (lineno, what, seen) while inside an expected region
	for n, line in enumerate(lines, 1):
		line = line.rstrip('\r\n')
		m = EXPECT_BEGIN.search(line)
		if m:
			expect = [n, m.group(1), False]
			continue
		if EXPECT_END.search(line):
			if expect and not expect[2]:
				found.append(Splat('missing expected splat', expect[0],
						   f'expected "{expect[1]}" did not happen'))
			expect = None
			continue
		if any(h.search(line) for h in _HARMLESS):
			continue
		for kind, pat in _COMPILED:
			if pat.search(line):
				if expect is not None:
					expect[2] = True
				else:
					found.append(Splat(kind, n, line.strip()))
				break
	return found
