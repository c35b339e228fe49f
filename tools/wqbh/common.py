# SPDX-License-Identifier: GPL-2.0-only
"""Paths, errors and small helpers shared by the harness modules."""

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

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


def die(msg: str) -> None:
	print(f'[wqbh] error: {msg}', file=sys.stderr, flush=True)
	sys.exit(1)
