# SPDX-License-Identifier: GPL-2.0-only
"""Collects test results and prints the closing `N passed, N failed` line.

A skip is a test that did not run.  Where the run was asked for at
`make check`'s defaults nothing may skip (`skips_fail`): a skip is then
counted as a failure, with its reason, so that a hollow run can't end
green.  Elsewhere skips are counted and listed by name at the end.
"""

from dataclasses import dataclass
from typing import List


@dataclass
class Result:
	name: str
	status: str	# 'pass', 'fail', 'skip'
	detail: str = ''


class Results:
	def __init__(self, skips_fail: bool = False) -> None:
		self.items: List[Result] = []
		self.skips_fail = skips_fail

	def add(self, name: str, status: str, detail: str = '') -> bool:
		assert status in ('pass', 'fail', 'skip'), status
		if status == 'skip' and self.skips_fail:
			status = 'fail'
			detail = ('skipped, and nothing may skip at make check\'s defaults: '
				  + (detail or 'no reason given'))
		self.items.append(Result(name, status, detail))
		tag = {'pass': 'PASS', 'fail': 'FAIL', 'skip': 'SKIP'}[status]
		line = f'  {tag}  {name}'
		if detail and status != 'pass':
			first, *rest = detail.rstrip().splitlines() or ['']
			line += f': {first}'
			line += ''.join(f'\n          {r}' for r in rest[:40])
		print(line, flush=True)
		return status != 'fail'

	def count(self, status: str) -> int:
		return sum(1 for r in self.items if r.status == status)

	def failed(self) -> List[Result]:
		return [r for r in self.items if r.status == 'fail']

	def skipped(self) -> List[Result]:
		return [r for r in self.items if r.status == 'skip']

	def expect_count(self, stage: str, start: int, want: int) -> bool:
		"""A stage that must have reported `want` results since index
		`start` of the list: a shortfall (or excess) is a failure of its
		own, so that results which never came can't go unnoticed."""
		got = len(self.items) - start
		if got == want:
			return True
		return self.add(f'{stage}: every result collected', 'fail',
				f'{want} expected, {got} reported')

	def summary(self) -> str:
		line = f'{self.count("pass")} passed, {self.count("fail")} failed'
		if self.count('skip'):
			line += f', {self.count("skip")} skipped'
		return line
