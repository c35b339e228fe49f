# SPDX-License-Identifier: GPL-2.0-only
"""Static checks of the files the series touches: sparse, and kernel-doc,
each compared with the base tree so that only what the series adds
counts."""

import collections
import os
import re
import subprocess
from pathlib import Path
from typing import List

from .common import HarnessError, run
from .kernel import arch_args, build_env

def sparse(tree: Path, out: Path, files: List[str]) -> List[str]:
	"""sparse warnings and errors for the given C files of the tree."""
	objs = [f[:-2] + '.o' for f in files if f.endswith('.c')]
	if not objs:
		return []
	cmd = ['make', f'O={out.name}', *arch_args(out), 'C=2', 'CHECK=sparse', *objs]
	env = dict(os.environ, **build_env(tree))
	proc = subprocess.run(cmd, cwd=tree, env=env, text=True,
			      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	if proc.returncode != 0:
		raise HarnessError(f'sparse run failed:\n{proc.stdout[-2000:]}')
	found = []
	for line in proc.stdout.splitlines():
		m = re.match(r'^(?:\.\./)?(\S+?):\d+:\d+: (warning|error): ', line)
		if m and m.group(1) in files:
			found.append(line[3:] if line.startswith('../') else line)
	return found


KERNEL_DOC_LINE = re.compile(r'^(\S+?):(\d+): (warning|error): ')


def kernel_doc(tree: Path, files: List[str]) -> List[str]:
	"""scripts/kernel-doc -v -none on `files` of `tree`: its warnings and
	errors, with -v's too (a missing description of a return value, for
	one).  The files `tree` doesn't have are left out."""
	files = [f for f in files if (tree / f).exists()]
	if not files:
		return []
	proc = run(['perl', 'scripts/kernel-doc', '-v', '-none', *files], cwd=tree)
	return [line for line in (proc.stdout + proc.stderr).splitlines()
		if KERNEL_DOC_LINE.match(line)]


def kernel_doc_new(series: List[str], base: List[str]) -> List[str]:
	"""The kernel-doc lines of `series` that `base` doesn't have as often,
	compared without line numbers."""
	def norm(line: str) -> str:
		return KERNEL_DOC_LINE.sub(r'\1: \3: ', line).strip()
	return more_often(series, [norm(line) for line in base], norm)


def more_often(series: List[str], base_keys: List[str], key) -> List[str]:
	"""The lines of `series` whose key(line) is not among `base_keys` as
	many times as it has come so far."""
	left = collections.Counter(base_keys)
	new = []
	for line in series:
		if left[key(line)] > 0:
			left[key(line)] -= 1
		else:
			new.append(line)
	return new


# Functions the series renames: their warnings in the base tree count
# under the new name.
SPARSE_RENAMES = {
	'smi_recv_tasklet': 'smi_recv_work',	# drivers/char/ipmi, the IPMI conversion
}


def renamed(line: str) -> str:
	"""A base-tree warning line with the series' renames applied."""
	for old, new in SPARSE_RENAMES.items():
		line = line.replace(f"'{old}'", f"'{new}'")
	return line


def sparse_new(series: List[str], base: List[str]) -> List[str]:
	"""The sparse lines of `series` that `base` doesn't have as often in
	the same file, compared without line numbers and with the series'
	renames applied to `base`."""
	def norm(line: str) -> str:
		return re.sub(r'^(\S+?):\d+:\d+: ', r'\1: ', line).strip()

	return more_often(series, [renamed(norm(line)) for line in base], norm)
