# SPDX-License-Identifier: GPL-2.0-only
"""Paths, errors and small helpers shared by the harness modules."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TextIO

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / 'build'
DEFAULT_TREE = BUILD / 'linux'
LOGS = BUILD / 'logs'
SERIES = REPO / 'series'
PATCHES = REPO / 'patches'
CONFIGS = REPO / 'kernel-config'
GUEST = REPO / 'tools' / 'guest'

BASE_TAG = 'wqbh-base'
BRANCH = 'wqbh'

# Debian's python3 has drgn, ply and git; the first python3 on PATH may not.
os.environ['PATH'] = '/usr/bin:/usr/sbin:/bin:/sbin:' + os.environ.get('PATH', '')


class HarnessError(Exception):
	"""A failure with a message meant for the user; no traceback is shown."""


def log(msg: str) -> None:
	print(f'[wqbh] {msg}', flush=True)


def elapsed(seconds: float) -> str:
	m, s = divmod(int(seconds), 60)
	return f'{m}m{s:02d}s' if m else f'{s}s'


class Progress:
	"""Says that a long step is alive: its phase, the time it has taken and
	`status()` (how far it has got), at least every `every` seconds as a
	plain line, or as a live line redrawn every second on a terminal.

	    with Progress('building debug kernel', lambda: '1200 objects'):
		...
	"""
	def __init__(self, phase: str, status: Callable[[], str] = lambda: '',
		     every: float = 30.0, out: Optional[TextIO] = None) -> None:
		self.phase, self.status, self.every = phase, status, every
		self.out = out or sys.stdout
		self.live = self.out.isatty()
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._run, daemon=True)
		self.start = 0.0

	def line(self) -> str:
		try:
			what = self.status()
		except Exception:	# a status is a nicety: never fail the step
			what = ''
		return (f'[wqbh] {self.phase}: {elapsed(time.time() - self.start)}'
			+ (f', {what}' if what else ''))

	def _run(self) -> None:
		tick = 1.0 if self.live else self.every
		while not self._stop.wait(tick):
			if self.live:
				self.out.write('\r\033[K' + self.line())
			else:
				self.out.write(self.line() + '\n')
			self.out.flush()

	def __enter__(self) -> 'Progress':
		self.start = time.time()
		self._thread.start()
		return self

	def __exit__(self, *exc) -> None:
		self._stop.set()
		self._thread.join()
		if self.live:
			self.out.write('\r\033[K')
			self.out.flush()


def run(cmd: Sequence[str], cwd: Optional[Path] = None, check: bool = True,
	capture: bool = True, env: Optional[dict] = None,
	input: Optional[str] = None) -> subprocess.CompletedProcess:
	"""Run a command; on failure raise HarnessError naming it and its stderr."""
	full_env = dict(os.environ)
	if env:
		full_env.update(env)
	proc = subprocess.run(list(cmd), cwd=cwd, env=full_env, text=True,
			      input=input,
			      stdout=subprocess.PIPE if capture else None,
			      stderr=subprocess.PIPE if capture else None)
	if check and proc.returncode != 0:
		err = (proc.stderr or '').strip() if capture else ''
		raise HarnessError(f'`{" ".join(cmd)}` failed (exit {proc.returncode})'
				   + (f':\n{err}' if err else ''))
	return proc


def git(tree: Path, *args: str, check: bool = True, env: Optional[dict] = None,
	input: Optional[str] = None) -> str:
	return run(['git', '-C', str(tree), *args], check=check, env=env,
		   input=input).stdout


def read_series(series: Path = SERIES) -> List[str]:
	"""Patch names from a quilt series file, in apply order."""
	if not series.exists():
		return []
	names = []
	for line in series.read_text().splitlines():
		line = line.split('#', 1)[0].strip()
		if line:
			names.append(line.split()[0])
	return names

