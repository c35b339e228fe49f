# SPDX-License-Identifier: GPL-2.0-only
"""The kernel C files the series touches, compiled under the configurations
users run, with no warning the base tree doesn't have.

Each configuration is compiled twice, objects only (no link, no modpost):
in a scratch worktree of the top of the series (build/linux-cfg) and in
one of the base tree (build/linux-cfg-base), each in an output directory
of its own (out-cfg-NAME), with ccache.  The compiler's warnings located
in files the series touches are compared per file and message, without
line and column numbers, and counted: a warning the series has more often
than the base tree is new, and fails the configuration.  A file the
series adds has no base, so each of its warnings is new.  A touched file
that a configuration does not build (its Kconfig symbol is off there, as
the Makefiles say) is not compiled, and the result names what was.

The compile-only flavours of the x86_64 test kernels (PREEMPT_RT, which
no 6.1 architecture may select, and 32-bit x86) are compiled the same
way.
"""

import concurrent.futures
import hashlib
import json
import lzma
import os
import re
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from . import kernel, static_checks, tree
from .common import BASE_TAG, BRANCH, BUILD, HarnessError, Progress, git, log, run
from .results import Results

# Debian's configuration of its 6.1 amd64 kernel (package linux-config-6.1).
DEBIAN_CONFIG = Path('/usr/src/linux-config-6.1/config.amd64_none_amd64.xz')

# The series' test modules, built where a configuration has modules.
TEST_MODULES = ['CONFIG_DEBUG_FS=y', 'CONFIG_DEBUG_KERNEL=y', 'CONFIG_RUNTIME_TESTING_MENU=y',
		'CONFIG_TEST_WORKQUEUE=m', 'CONFIG_TEST_WQTORTURE=m', 'CONFIG_BACKTRACE_SELF_TEST=m']


@dataclass
class Config:
	"""One configuration the touched files are compiled under.

	`target` is kbuild's configuration target (tinyconfig, allmodconfig,
	defconfig), or 'debian' for Debian's configuration, or 'flavour' for
	a harness flavour (kernel.FLAVOURS, configured by kernel.configure()).
	`fragment` is merged onto the target's result (KCONFIG_ALLCONFIG with
	alldefconfig, as scripts/kconfig/merge_config.sh does), and every
	symbol of it must come out as asked.  `w1` are the files also
	compiled with W=1 in the same output directory."""
	name: str
	slug: str
	target: str
	arch: str = 'x86_64'
	cross: str = ''
	fragment: List[str] = field(default_factory=list)
	flavour: str = ''
	w1: List[str] = field(default_factory=list)
	why: str = ''


W1_FILES = ['kernel/workqueue.c', 'kernel/softirq.c']

CONFIGS: List[Config] = [
	Config('!SMP tinyconfig', 'tiny', 'tinyconfig',
	       fragment=['# CONFIG_SMP is not set', '# CONFIG_HOTPLUG_CPU is not set',
			 'CONFIG_MODULES=y', *TEST_MODULES,
			 # the subsystems of the converted tasklet users
			 'CONFIG_TTY=y', 'CONFIG_VT=y', 'CONFIG_USB_SUPPORT=y', 'CONFIG_USB=y',
			 'CONFIG_IPMI_HANDLER=y', 'CONFIG_NET=y', 'CONFIG_INET=y'],
	       why='uniprocessor: the series\' per-CPU and hotplug code compiled out'),
	Config('allmodconfig', 'allmod', 'allmodconfig',
	       # warnings are what is compared, so they must not stop the build
	       fragment=['# CONFIG_WERROR is not set',
			 'CONFIG_DEBUG_INFO_NONE=y',
			 '# CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT is not set'],
	       why='every option that can be on'),
	Config('Debian 6.1 amd64', 'debian', 'debian',
	       fragment=[
		       # Debian's build provides its certificates and pahole; here
		       # there are none, and objects need neither.
		       'CONFIG_SYSTEM_TRUSTED_KEYS=""', '# CONFIG_DEBUG_INFO_BTF is not set',
		       # no debug info: the same warnings, in less time
		       'CONFIG_DEBUG_INFO_NONE=y',
		       '# CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT is not set',
		       *TEST_MODULES],
	       w1=W1_FILES,
	       why='the kernel most 6.1 users run (linux-config-6.1)'),
	Config('arm64 defconfig', 'arm64', 'defconfig', arch='arm64',
	       cross='aarch64-linux-gnu-', fragment=list(TEST_MODULES),
	       why='arm64: its irq_work IPIs, softirq entry and atomics'),
	Config('PREEMPT_RT', 'rt', 'flavour', flavour='rt',
	       why='softirqs in tasks; x86 let select ARCH_SUPPORTS_RT here'),
	Config('32-bit x86 (ARCH=i386)', 'i386', 'flavour', arch='i386', flavour='i386',
	       why='fewer bits for the fields the series packs into work->data'),
]

SERIES_TREE = BUILD / 'linux-cfg'
BASE_TREE = BUILD / 'linux-cfg-base'

# gcc's diagnostics: "../kernel/workqueue.c:12:3: warning: ..." from
# an output directory inside the tree.
WARNING_LINE = re.compile(r'^(?:\.\./)?(\S+?):(\d+):(?:(\d+):)? (warning|error): (.*)$')


def ascii_quotes(line: str) -> str:
	"""gcc quotes with U+2018/U+2019 in a UTF-8 locale (kbuild unexports
	LC_ALL), with ' in others: the same warning either way."""
	return line.replace('\u2018', "'").replace('\u2019', "'")


def parse_warnings(text: str, files: List[str]) -> List[str]:
	"""gcc's warnings located in `files`, as "FILE:LINE:COL: warning: MSG"."""
	want = set(files)
	found = []
	for line in text.splitlines():
		line = ascii_quotes(line.strip())
		m = WARNING_LINE.match(line)
		if m and m.group(4) == 'warning' and m.group(1) in want:
			found.append(line[3:] if line.startswith('../') else line)
	return found


def _norm(line: str) -> str:
	line = ascii_quotes(line)
	m = WARNING_LINE.match(line)
	return f'{m.group(1)}: {m.group(4)}: {m.group(5).strip()}' if m else line.strip()


def new_warnings(series: List[str], base: List[str]) -> List[str]:
	"""The warnings of `series` that `base` doesn't have as often in the
	same file, compared without line and column numbers, with the
	series' renames of functions applied to `base` (as for sparse)."""
	return static_checks.more_often(
		series, [static_checks.renamed(_norm(line)) for line in base], _norm)


# --- which touched files a configuration builds, from the Makefiles ---

_ASSIGN = re.compile(r'^([A-Za-z0-9_.-]+?)-(y|m|objs|\$\([^)]*\))\s*[:+]?=\s*(.*)$')


def makefile_assignments(text: str) -> List[Tuple[str, str, List[str]]]:
	"""kbuild's `VAR-COND += WORDS` lines of a Makefile, continuation
	lines joined: [(VAR, COND, WORDS)].  Conditional blocks (ifdef) are
	not followed: what they guard counts as unconditional."""
	text = re.sub(r'\\\n', ' ', text)
	out = []
	for line in text.splitlines():
		m = _ASSIGN.match(line.split('#', 1)[0].strip())
		if m:
			out.append((m.group(1), m.group(2), m.group(3).split()))
	return out


def read_config(path: Path) -> Dict[str, str]:
	"""A .config's symbols that are set: {'CONFIG_X': 'y'}."""
	conf = {}
	for line in path.read_text(errors='replace').splitlines():
		m = re.match(r'^(CONFIG_\w+)=(.*)$', line)
		if m:
			conf[m.group(1)] = m.group(2)
	return conf


def _cond_unmet(cond: str, conf: Dict[str, str]) -> List[str]:
	"""The symbols of a kbuild condition (y, m, $(CONFIG_X)) that are off."""
	if cond in ('y', 'm', 'objs'):
		return []
	return [s for s in re.findall(r'CONFIG_\w+', cond) if conf.get(s) not in ('y', 'm')]


def not_built(src: Path, conf: Dict[str, str], path: str) -> List[str]:
	"""Why the configuration `conf` doesn't build the C file `path` of the
	tree `src`: the Kconfig symbols that are off on every way the
	Makefiles reach it.  Empty when it is built (or when no Makefile line
	names it: then it is compiled, not left out)."""
	def unmet(d: str, target: str, depth: int = 0) -> Optional[List[str]]:
		# None: no Makefile line names it; []: built; else the symbols off
		if depth > 8:
			return None
		mk = next((src / d / n for n in ('Kbuild', 'Makefile') if (src / d / n).exists()), None)
		if mk is None:
			return None
		ways = []
		for var, cond, words in makefile_assignments(mk.read_text(errors='replace')):
			if target not in words:
				continue
			off = _cond_unmet(cond, conf)
			if var in ('obj', 'lib', 'subdir'):
				up = reach(d, depth)
			else:	# a part of the composite object VAR.o
				up = unmet(d, f'{var}.o', depth + 1)
			ways.append(off + (up or []))
		if not ways:
			return None
		return [] if any(not w for w in ways) else min(ways, key=len)

	def reach(d: str, depth: int) -> List[str]:
		if not d:
			return []
		# a top-level directory (net/) is listed by the tree's Kbuild
		parent, _, name = d.rpartition('/')
		got = unmet(parent, f'{name}/', depth + 1)
		return got or []
	d, _, name = path.rpartition('/')
	return sorted(set(unmet(d, name[:-2] + '.o') or []))


# --- configuring and compiling one tree ---

def _make_cmd(cfg: Config, out: Path, targets: List[str]) -> List[str]:
	arch = kernel.arch_args(out) if cfg.target == 'flavour' else \
		[f'ARCH={cfg.arch}'] + ([f'CROSS_COMPILE={cfg.cross}'] if cfg.cross else [])
	cross = cfg.cross or (kernel.cross_compile(out) if cfg.target == 'flavour' else '')
	return ['make', f'O={out.name}', *arch, f'CC=ccache {cross}gcc',
		'HOSTCC=ccache gcc', *targets]


def _run_make(src: Path, cmd: List[str], logfile: Path) -> Tuple[int, str]:
	env = dict(os.environ, **kernel.build_env(src))
	proc = subprocess.run(cmd, cwd=src, env=env, text=True, errors='replace',
			      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	with open(logfile, 'a') as f:
		f.write(f'$ {" ".join(cmd)}\n{proc.stdout}')
	return proc.returncode, proc.stdout


# What a configuration is made of besides its recipe: the tree's Kconfig
# files, configuration fragments and kconfig itself.
KCONFIG_PATHS = ['*Kconfig*', 'arch/*/configs/*', 'kernel/configs/*', 'scripts/kconfig/*',
		 'Makefile', 'scripts/Kconfig.include']


def kconfig_id(src: Path) -> str:
	"""A hash of what kconfig reads in `src` at HEAD: a patch that
	changes no Kconfig file leaves the configurations as they were."""
	listing = git(src, 'ls-tree', '-r', 'HEAD', '--', *KCONFIG_PATHS)
	return hashlib.sha256(listing.encode()).hexdigest()


def configure(src: Path, cfg: Config) -> Path:
	"""The .config of `cfg` in src/out-cfg-SLUG (or the flavour's output
	directory); kept while the tree and the recipe are the same."""
	if cfg.target == 'flavour':
		return kernel.configure(src, cfg.flavour)
	out = src / f'out-cfg-{cfg.slug}'
	out.mkdir(parents=True, exist_ok=True)
	recipe = '\n'.join([cfg.target, cfg.arch, cfg.cross, *cfg.fragment]) + '\n'
	if cfg.target == 'debian':
		if not DEBIAN_CONFIG.exists():
			raise HarnessError(f'no {DEBIAN_CONFIG}: apt-get install linux-config-6.1')
		recipe += hashlib.sha256(DEBIAN_CONFIG.read_bytes()).hexdigest()
	key = hashlib.sha256((recipe + kconfig_id(src)).encode()).hexdigest()
	stamp = out / 'wqbh-cfg.stamp'
	dirty = git(src, 'status', '--porcelain', '--untracked-files=no', '--',
		    *KCONFIG_PATHS).strip()
	if not dirty and stamp.exists() and stamp.read_text() == key and (out / '.config').exists():
		return out
	stamp.unlink(missing_ok=True)
	logfile = out / 'wqbh-config.log'
	logfile.write_text('')
	if cfg.target == 'debian':
		(out / '.config').write_bytes(lzma.decompress(DEBIAN_CONFIG.read_bytes()))
	else:
		rc, text = _run_make(src, _make_cmd(cfg, out, [cfg.target]), logfile)
		if rc:
			raise HarnessError(f'{cfg.name}: make {cfg.target} failed; log {logfile}:\n'
					   + '\n'.join(text.splitlines()[-10:]))
	# the fragment onto the result, as merge_config.sh does: the last
	# word on a symbol wins
	merged = out / 'wqbh-merge.config'
	merged.write_text((out / '.config').read_text() + '\n'.join(cfg.fragment) + '\n')
	rc, text = _run_make(src, _make_cmd(cfg, out, [f'KCONFIG_ALLCONFIG={merged.name}',
						       'alldefconfig']), logfile)
	if rc:
		raise HarnessError(f'{cfg.name}: merging the fragment failed; log {logfile}:\n'
				   + '\n'.join(text.splitlines()[-10:]))
	wrong = kernel.config_mismatches(src, (out / '.config').read_text(), cfg.fragment)
	if wrong:
		raise HarnessError(f'{cfg.name}: the configuration does not have what it asks:\n  '
				   + '\n  '.join(wrong))
	if not dirty:
		stamp.write_text(key)
	return out


@dataclass
class Compiled:
	"""What one tree gave for one configuration."""
	files: List[str]		# compiled
	skipped: Dict[str, List[str]]	# not built there: {file: symbols off}
	warnings: List[str]
	w1_warnings: List[str]
	error: str = ''
	seconds: float = 0.0
	cached: bool = False		# the warnings of an earlier run, same key


def compile_tree(src: Path, cfg: Config, files: List[str], watch: List[str]) -> Compiled:
	"""Configure and compile `files` (those of the tree that the
	configuration builds) in `src`; the warnings located in `watch`."""
	start = time.time()
	try:
		out = configure(src, cfg)
	except HarnessError as e:
		return Compiled([], {}, [], [], str(e), time.time() - start)
	conf = read_config(out / '.config')
	have = [f for f in files if (src / f).exists()]
	skipped = {f: why for f in have for why in [not_built(src, conf, f)] if why}
	todo = [f for f in have if f not in skipped]
	# The warnings of a tree, configuration and compiler seen before (the
	# base tree's, every time but the first) are not compiled again.
	gcc = run([f'{cfg.cross or kernel.cross_compile(out)}gcc', '--version']).stdout
	key = hashlib.sha256(json.dumps(
		[(out / '.config').read_text(), git(src, 'rev-parse', 'HEAD^{tree}'),
		 git(src, 'status', '--porcelain', '--untracked-files=no'), todo, cfg.w1,
		 watch, gcc]).encode()).hexdigest()
	saved = out / 'wqbh-warnings.json'
	try:
		got = json.loads(saved.read_text())
		if got['key'] == key:
			return Compiled(todo, skipped, got['warnings'], got['w1'], '',
					time.time() - start, cached=True)
	except (OSError, ValueError, KeyError):
		pass
	saved.unlink(missing_ok=True)
	logfile = out / 'wqbh-compile.log'
	logfile.write_text('')
	objs = [f[:-2] + '.o' for f in todo]
	# kbuild only compiles what is out of date, and the warnings come with
	# the compile: remove the objects, ccache gives them back (with their
	# warnings) when nothing changed.
	for o in objs:
		(out / o).unlink(missing_ok=True)
	# One job, see check_bisect() in cli.py (drivers/char/ipmi).
	rc, text = _run_make(src, _make_cmd(cfg, out, ['-j1', *(objs or ['prepare'])]), logfile)
	if rc:
		errs = [ln for ln in text.splitlines() if re.search(r'error:|Error \d', ln)]
		return Compiled(todo, skipped, [], [],
				f'compile failed; log {logfile}:\n' + '\n'.join((errs or text.splitlines())[-12:]),
				time.time() - start)
	warnings = parse_warnings(text, watch)
	w1 = []
	w1_objs = [f[:-2] + '.o' for f in cfg.w1 if f in todo]
	if w1_objs:
		for o in w1_objs:
			(out / o).unlink(missing_ok=True)
		rc, text = _run_make(src, _make_cmd(cfg, out, ['-j1', 'W=1', *w1_objs]), logfile)
		if rc:
			return Compiled(todo, skipped, warnings, [],
					f'W=1 compile failed; log {logfile}:\n'
					+ '\n'.join(text.splitlines()[-12:]), time.time() - start)
		w1 = parse_warnings(text, watch)
	saved.write_text(json.dumps({'key': key, 'warnings': warnings, 'w1': w1}, indent=1))
	return Compiled(todo, skipped, warnings, w1, '', time.time() - start)


def result_name(cfg: Config, compiled: List[str], skipped: Dict[str, List[str]],
		w1: bool = False) -> str:
	"""A configuration's result, naming what was compiled and what the
	configuration doesn't build."""
	if w1:
		return (f'compiles with W=1 ({cfg.name} configuration), no new warnings: '
			+ (', '.join(compiled) or 'nothing'))
	name = f'compiles with {cfg.name}, no new warnings: ' + (', '.join(compiled) or 'nothing')
	if skipped:
		name += '; not built there: ' + ', '.join(
			f'{f} ({" or ".join(s)} off)' for f, s in skipped.items())
	return name


def _prepare_trees(t: Path) -> Tuple[Path, Path]:
	series = tree.scratch_worktree(t, SERIES_TREE, BRANCH)
	base = tree.scratch_worktree(t, BASE_TREE, BASE_TAG)
	return series, base


def compile_pair(cfg: Config, series: Path, base: Path, files: List[str],
		 watch: List[str]) -> Tuple[Compiled, Compiled]:
	"""Compile `cfg` in both trees at once (two processes)."""
	rt = cfg.flavour == 'rt'
	try:
		if rt:
			for src in (series, base):
				kernel.allow_preempt_rt(src)
		with concurrent.futures.ThreadPoolExecutor(2) as pool:
			fs, fb = (pool.submit(compile_tree, src, cfg, files, watch)
				  for src in (series, base))
			return fs.result(), fb.result()
	finally:
		if rt:
			for src in (series, base):
				git(src, 'checkout', '-q', '--', 'arch/x86/Kconfig', check=False)


def report(res: Results, cfg: Config, s: Compiled, b: Compiled) -> None:
	"""One result for `cfg` (and one for its W=1 files): the series tree's
	warnings that the base tree doesn't have, or why it didn't compile."""
	name = result_name(cfg, s.files, s.skipped)
	if s.error:
		res.add(name, 'fail', s.error)
	elif b.error:
		res.add(name, 'fail', f'the base tree ({BASE_TAG}) does not compile here, '
			f'nothing to compare with:\n{b.error}')
	else:
		new = new_warnings(s.warnings, b.warnings)
		res.add(name, 'fail' if new else 'pass',
			f'{len(new)} new warnings (not in {BASE_TAG}):\n' + '\n'.join(new) if new else '')
		if cfg.w1:
			w1_files = [f for f in cfg.w1 if f in s.files]
			new = new_warnings(s.w1_warnings, b.w1_warnings)
			res.add(result_name(cfg, w1_files, {}, w1=True), 'fail' if new else 'pass',
				f'{len(new)} new W=1 warnings (not in {BASE_TAG}):\n' + '\n'.join(new)
				if new else '')

	def took(c: Compiled) -> str:
		return f'{c.seconds:.0f} s' + (' (as before, not compiled)' if c.cached else '')
	log(f'{cfg.name}: {len(s.files)} files compiled, series tree {took(s)}, '
	    f'base tree {took(b)}')


def check_one(res: Results, cfg: Config, series: Path, base: Path, files: List[str],
	      watch: List[str]) -> Dict[str, float]:
	"""Compile `cfg` in both trees at once and report it."""
	s, b = compile_pair(cfg, series, base, files, watch)
	report(res, cfg, s, b)
	return {'series': s.seconds, 'base': b.seconds}


def _children_cpu() -> float:
	"""CPU seconds of the finished child processes (the compilers): what
	a configuration costs, whatever else the machine runs."""
	ru = resource.getrusage(resource.RUSAGE_CHILDREN)
	return ru.ru_utime + ru.ru_stime


def touched_files(t: Path) -> Tuple[List[str], List[str]]:
	"""The kernel C files the series touches, and every kernel file it
	touches (C files and headers: where warnings are looked for)."""
	def files(*globs: str) -> List[str]:
		out = git(t, 'diff', '--name-only', f'{BASE_TAG}..{BRANCH}', '--', *globs).split()
		return [f for f in out if not f.startswith(('tools/', 'scripts/'))]
	return files('*.c'), files('*.c', '*.h')


def check_configs(res: Results, t: Path, only: Optional[List[str]] = None) -> Dict[str, dict]:
	"""Every configuration of CONFIGS (or those named in `only`): one result
	each (and one for W=1), in the order of CONFIGS, and their times.

	Two configurations are compiled at a time (each in both trees at
	once): where the base tree's warnings are known, a warm run compiles
	the series tree alone, and would leave a core idle.  PREEMPT_RT comes
	last and alone: its Kconfig edit must not be seen by the others."""
	c_files, watch = touched_files(t)
	chosen = [c for c in CONFIGS if not only or c.name in only or c.slug in only]
	try:
		series, base = _prepare_trees(t)
	except HarnessError as e:
		for cfg in chosen:
			res.add(result_name(cfg, c_files, {}), 'fail', str(e))
		return {}
	times: Dict[str, dict] = {}
	start, cpu = time.time(), _children_cpu()

	def one(cfg: Config):
		try:
			return compile_pair(cfg, series, base, c_files, watch)
		except HarnessError as e:
			return e
	done: List[str] = []

	def status() -> str:
		return f'{len(done)} of {len(chosen)} done' + (f' (last: {done[-1]})' if done else '')

	def counted(cfg: Config):
		pair = one(cfg)
		done.append(cfg.name)
		return pair
	with Progress(f'compiling the touched files under {len(chosen)} configurations', status):
		with concurrent.futures.ThreadPoolExecutor(2) as pool:
			jobs = {cfg.name: pool.submit(counted, cfg) for cfg in chosen if cfg.flavour != 'rt'}
			got = {name: job.result() for name, job in jobs.items()}
		for cfg in chosen:
			if cfg.flavour == 'rt':
				got[cfg.name] = counted(cfg)
	for cfg in chosen:
		pair = got[cfg.name]
		if isinstance(pair, HarnessError):
			res.add(result_name(cfg, c_files, {}), 'fail', str(pair))
			continue
		report(res, cfg, *pair)
		times[cfg.name] = {'series': pair[0].seconds, 'base': pair[1].seconds}
	times['all'] = {'wall': time.time() - start, 'cpu': _children_cpu() - cpu}
	log(f'configurations compiled in {times["all"]["wall"]:.0f} s '
	    f'({times["all"]["cpu"]:.0f} CPU seconds)')
	return times
