# SPDX-License-Identifier: GPL-2.0-only
"""Configure and build the test kernels: flavours, their config fragments,
kbuild's arguments, ccache.  Booting them is qemu.py's, checking their
sources static_checks.py's."""

import hashlib
import os
import re
import subprocess
import time
from pathlib import Path
from typing import List, Optional

from .common import CONFIGS, HarnessError, Progress, git, log, run

FLAVOURS = {
	# flavour: fragments merged onto allnoconfig, in order
	'debug': ['base.config', 'tests.config', 'conversions.config', 'debug.config'],
	'bench': ['base.config', 'tests.config', 'conversions.config', 'bench.config'],
	'bisect': ['base.config', 'tests.config', 'conversions.config', 'bisect.config'],
	# compile only, in a tree that lets x86 select ARCH_SUPPORTS_RT
	'rt': ['base.config', 'tests.config', 'conversions.config', 'bisect.config', 'rt.config'],
	# compile only
	'i386': ['base.config', 'tests.config', 'conversions.config', 'bisect.config', 'i386.config'],
	# the debug kernel for arm64, cross-built and booted from an
	# initramfs (tools/wqbh/arm64.py)
	'arm64': ['arm64.config', 'tests.config'],
}
# flavours of another kbuild ARCH than the host's
FLAVOUR_ARCH = {'i386': 'i386', 'arm64': 'arm64'}
# flavours built with a cross compiler: kbuild's CROSS_COMPILE= prefix
# (Debian's gcc-aarch64-linux-gnu)
FLAVOUR_CROSS = {'arm64': 'aarch64-linux-gnu-'}
# flavours that `make check` only compiles files of, in a scratch tree,
# with what their results are called
COMPILE_ONLY = {'rt': 'PREEMPT_RT', 'i386': '32-bit x86 (ARCH=i386)'}


def cross_compile(out: Path) -> str:
	"""kbuild's CROSS_COMPILE= prefix for the flavour built in `out`, or ''."""
	return FLAVOUR_CROSS.get(out.name[len('out-'):], '')


def arch_args(out: Path) -> List[str]:
	"""kbuild's ARCH= (and CROSS_COMPILE=) for the flavour built in `out`
	(see out_dir())."""
	arch = FLAVOUR_ARCH.get(out.name[len('out-'):])
	cross = cross_compile(out)
	return ([f'ARCH={arch}'] if arch else []) + ([f'CROSS_COMPILE={cross}'] if cross else [])


def out_dir(tree: Path, flavour: str) -> Path:
	# Inside the tree, so that kbuild uses relative paths and ccache hits
	# are shared between trees and worktrees.
	return tree / f'out-{flavour}'


def build_env(tree: Path) -> dict:
	env = {
		'KBUILD_BUILD_TIMESTAMP': 'Thu Jan  1 00:00:00 UTC 2026',
		'KBUILD_BUILD_USER': 'wqbh',
		'KBUILD_BUILD_HOST': 'wqbh',
		'CCACHE_BASEDIR': str(tree.resolve().parent),
		'CCACHE_NOHASHDIR': 'true',
		'CCACHE_SLOPPINESS': 'time_macros',
		'CCACHE_MAXSIZE': os.environ.get('CCACHE_MAXSIZE', '25G'),
	}
	return env


def fragment_lines(flavour: str) -> List[str]:
	if flavour not in FLAVOURS:
		raise HarnessError(f'unknown flavour {flavour!r}; one of {", ".join(FLAVOURS)}')
	lines = []
	for frag in FLAVOURS[flavour]:
		path = CONFIGS / frag
		if not path.exists():
			raise HarnessError(f'missing config fragment {path}')
		lines += path.read_text().splitlines()
	return lines


def _symbol_exists(tree: Path, sym: str) -> bool:
	proc = run(['git', '-C', str(tree), 'grep', '-q', '-E',
		    rf'^\s*(menu)?config {sym}\s*$', '--', '*Kconfig*'], check=False)
	return proc.returncode == 0


X86_CONFIG = 'config X86\n\tdef_bool y\n'


def allow_preempt_rt(tree: Path) -> None:
	"""Let x86 select ARCH_SUPPORTS_RT in `tree`, a scratch tree of the
	harness: no 6.1 architecture does (x86 does from 6.12 on), so without
	this CONFIG_PREEMPT_RT can't be set.  For compiling only."""
	kconfig = tree / 'arch' / 'x86' / 'Kconfig'
	text = kconfig.read_text()
	if 'select ARCH_SUPPORTS_RT' in text:
		return
	if X86_CONFIG not in text:
		raise HarnessError(f'{kconfig}: no "config X86" entry to let select ARCH_SUPPORTS_RT')
	kconfig.write_text(text.replace(X86_CONFIG, X86_CONFIG + '\tselect ARCH_SUPPORTS_RT\n', 1))


def config_mismatches(tree: Path, config: str, lines: List[str]) -> List[str]:
	"""The symbols of the fragment `lines` that did not come out as asked
	in the .config text `config`; the last word on each symbol wins, as
	in kconfig, and symbols `tree` doesn't have are left out (e.g. a test
	module of a later patch)."""
	want = {}
	for line in lines:
		m = re.match(r'^(CONFIG_\w+)=(.*)$', line.strip()) or \
		    re.match(r'^# (CONFIG_\w+) is not set$', line.strip())
		if m:
			want[m.group(1)] = m.group(2) if m.lastindex == 2 else 'n'
	wrong = []
	for sym, val in want.items():
		have = re.search(rf'^{sym}=(.*)$', config, re.M)
		if val == 'n':
			if have:
				wrong.append(f'{sym} unset (got: {have.group(0)})')
			continue
		if have and have.group(1) == val:
			continue
		if not have and f'# {sym} is not set' not in config \
		   and not _symbol_exists(tree, sym[7:]):
			continue
		wrong.append(f'{sym}={val} (got: {have.group(0) if have else "not set or unmet dependencies"})')
	return wrong


def configure(tree: Path, flavour: str) -> Path:
	"""allnoconfig with the flavour's fragments forced; verify the result."""
	out = out_dir(tree, flavour)
	out.mkdir(parents=True, exist_ok=True)
	frag = out / 'wqbh.config'
	lines = fragment_lines(flavour)
	text = '\n'.join(lines) + '\n'
	# Same fragments on the same source tree: the config is already right,
	# and not touching it spares a relink.
	stamp = out / 'wqbh.config.stamp'
	tree_id = git(tree, 'rev-parse', 'HEAD^{tree}').strip()
	dirty = git(tree, 'status', '--porcelain', '--untracked-files=no').strip()
	key = hashlib.sha256((text + tree_id).encode()).hexdigest()
	if not dirty and (out / '.config').exists() and stamp.exists() \
	   and stamp.read_text() == key:
		return out
	stamp.unlink(missing_ok=True)
	frag.write_text(text)
	proc = run(['make', '-s', f'O={out.name}', *arch_args(out),
		    f'KCONFIG_ALLCONFIG={out.name}/wqbh.config', 'allnoconfig'], cwd=tree, check=False)
	if proc.returncode != 0:
		raise HarnessError(f'kernel configuration failed:\n{proc.stderr[-3000:]}')
	wrong = config_mismatches(tree, (out / '.config').read_text(), lines)
	if wrong:
		raise HarnessError(f'{flavour} config does not have what kernel-config/ asks:\n  '
				   + '\n  '.join(wrong))
	if not dirty:
		stamp.write_text(key)
	return out


def make(tree: Path, out: Path, targets: List[str], logfile: Path,
	 jobs: Optional[int] = None) -> None:
	jobs = jobs or os.cpu_count() or 2
	gcc = cross_compile(out) + 'gcc'
	cc = f'ccache {gcc}' if run(['which', 'ccache'], check=False).returncode == 0 else gcc
	cmd = ['make', f'O={out.name}', *arch_args(out), f'CC={cc}', f'-j{jobs}', *targets]
	env = dict(os.environ, **build_env(tree))
	with open(logfile, 'a') as f:
		f.write(f'$ {" ".join(cmd)}\n')
		f.flush()
		start = logfile.stat().st_size
		with Progress(f'make {" ".join(targets)[:60]} in {tree.name}/{out.name}',
			      lambda: build_status(logfile, start)):
			proc = subprocess.run(cmd, cwd=tree, env=env, stdout=f,
					      stderr=subprocess.STDOUT)
	if proc.returncode != 0:
		lines = logfile.read_text(errors='replace').splitlines()
		errs = [l for l in lines if re.search(r'error:|Error \d|undefined reference', l)]
		show = '\n  '.join((errs or lines)[-12:])
		raise HarnessError(f'build failed ({" ".join(targets)}); log {logfile}:\n  {show}')


def build_status(logfile: Path, offset: int = 0) -> str:
	"""How far a kbuild run logging to `logfile` (from byte `offset`) has
	got: objects compiled and what it does last."""
	with open(logfile, 'rb') as f:
		f.seek(offset)
		text = f.read().decode(errors='replace')
	steps = re.findall(r'^  (CC|LD|AR|AS|CC \[M\]|LD \[M\]|MODPOST|BTF|OBJCOPY)\s+(\S+)', text, re.M)
	compiled = sum(1 for what, _ in steps if what.startswith('CC'))
	last = f'; {steps[-1][0]} {steps[-1][1]}' if steps else ''
	return f'{compiled} objects compiled{last}'


def build(tree: Path, flavour: str, selftests: bool = True) -> Path:
	"""Build kernel, modules and the workqueue kselftest for a flavour."""
	out = configure(tree, flavour)
	logfile = out / 'build.log'
	logfile.write_text('')
	start = time.time()
	make(tree, out, ['all'], logfile)
	modroot = out / 'modroot'
	if (out / 'modules.order').exists():
		run(['rm', '-rf', str(modroot)])
		make(tree, out, ['modules_install', f'INSTALL_MOD_PATH={modroot.name}'], logfile)
	if selftests and (tree / 'tools/testing/selftests/workqueue').exists():
		kst = (out / 'kselftest' / 'workqueue').resolve()
		kst.mkdir(parents=True, exist_ok=True)
		# static when cross-built: the guest has no libc of its own
		cross = cross_compile(out)
		proc = run(['make', '-s', '-C', str(tree / 'tools/testing/selftests/workqueue'),
			    f'OUTPUT={kst}', *([f'CROSS_COMPILE={cross}', 'LDFLAGS=-static']
					       if cross else [])], check=False)
		if proc.returncode != 0:
			raise HarnessError(f'kselftest build failed:\n{proc.stderr[-2000:]}')
	log(f'built {flavour} kernel in {time.time() - start:.0f} s ({out})')
	return out
