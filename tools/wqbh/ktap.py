# SPDX-License-Identifier: GPL-2.0-only
"""KTAP results through the base tree's own parser (tools/testing/kunit)."""

import io
import re
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Tuple

from .common import DEFAULT_TREE, HarnessError

_parser = None
# a KTAP result line with a SKIP directive: (name, reason)
_SKIP = re.compile(r'^\s*(?:ok|not ok) [0-9]+ (?:- )?(.*?) # SKIP(.*)$')


def parser(tree: Path = DEFAULT_TREE):
	"""Import kunit_parser from a kernel tree (it ships with 6.1)."""
	global _parser
	if _parser is None:
		kunit = tree / 'tools' / 'testing' / 'kunit'
		if not (kunit / 'kunit_parser.py').exists():
			raise HarnessError(f'no KTAP parser at {kunit}: make the base tree first')
		sys.path.insert(0, str(kunit))
		import kunit_parser	# pylint: disable=import-outside-toplevel
		_parser = kunit_parser
	return _parser


@dataclass
class Case:
	name: str
	status: str		# 'pass', 'fail' or 'skip'
	log: List[str]


def leaves(test) -> Iterable:
	if not test.subtests:
		yield test
	for sub in test.subtests:
		yield from leaves(sub)


def parse(lines: Iterable[str], suite: str, tree: Path = DEFAULT_TREE,
	  verbose: bool = False) -> Tuple[List[Case], str]:
	"""Parse KTAP; returns the leaf cases and the parser's own summary.

	A missing plan, a crash or output the parser cannot read is a failed
	case named after the suite, so it can never pass silently.
	"""
	kp = parser(tree)
	lines = list(lines)
	buf = io.StringIO()
	# kunit_printer keeps the sys.stdout of its import time: point it here.
	printer = kp.stdout
	saved = printer._output		# pylint: disable=protected-access
	printer._output = buf		# pylint: disable=protected-access
	try:
		with redirect_stdout(buf):
			top = kp.parse_run_tests(lines)
	finally:
		printer._output = saved	# pylint: disable=protected-access
	if verbose:
		print(buf.getvalue(), end='')
	# kunit_parser drops the reason of a skip: keep it, by case name
	why = {}
	for line in lines:
		m = _SKIP.match(line)
		if m:
			why[m.group(1).strip()] = m.group(2).strip()
	cases = []
	for t in leaves(top):
		if t is top and not top.subtests:
			break
		st = t.status
		if st == kp.TestStatus.SUCCESS:
			status = 'pass'
		elif st == kp.TestStatus.SKIPPED:
			status = 'skip'
			if why.get(t.name):
				t.log = [*t.log, why[t.name]]
		else:
			status = 'fail'
		cases.append(Case(f'{suite}: {t.name}', status, t.log))
	if top.status in (kp.TestStatus.FAILURE_TO_PARSE_TESTS, kp.TestStatus.NO_TESTS) \
	   or top.counts.errors or not cases:
		cases.append(Case(f'{suite}: KTAP output', 'fail',
				  [f'parser status {top.status.name}, '
				   f'{top.counts.errors} errors']))
	elif top.expected_count is not None and top.expected_count != len(top.subtests):
		cases.append(Case(f'{suite}: plan', 'fail',
				  [f'planned {top.expected_count}, got {len(top.subtests)}']))
	return cases, buf.getvalue()
