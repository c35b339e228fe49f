# SPDX-License-Identifier: GPL-2.0-only
"""Collects test results and prints the closing `N passed, N failed` line."""

from dataclasses import dataclass
from typing import List


@dataclass
class Result:
	name: str
	status: str	# 'pass', 'fail', 'skip'
	detail: str = ''


class Results:
	def __init__(self) -> None:
		self.items: List[Result] = []

	def add(self, name: str, status: str, detail: str = '') -> bool:
		assert status in ('pass', 'fail', 'skip'), status
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

	def summary(self) -> str:
		line = f'{self.count("pass")} passed, {self.count("fail")} failed'
		if self.count('skip'):
			line += f', {self.count("skip")} skipped'
		return line
