# SPDX-License-Identifier: GPL-2.0-only
"""Configure, build and boot the QEMU test kernels."""

import collections
import fcntl
import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from . import splat, vmcore
from .common import CONFIGS, GUEST, LOGS, REPO, HarnessError, Progress, git, log, run

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
EXIT_MARK = 'wqbh-exit-status:'


def qemu_config(arch: str = 'x86_64'):
	path = REPO / 'tools' / 'qemu_configs' / f'{arch}.py'
	if not path.exists():
		raise HarnessError(f'no QEMU settings for {arch} in {path.parent}')
	spec = importlib.util.spec_from_file_location(f'qemu_{arch}', path)
	mod = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(mod)
	return mod


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


@dataclass
class BootResult:
	exit_status: Optional[int]
	timed_out: bool
	console: Path
	output: Path
	splats: List[splat.Splat] = field(default_factory=list)
	seconds: float = 0.0
	# why the guest was stopped before it ran init (see early_failure())
	early: Optional[str] = None
	# set by a caller that stopped a guest whose console fell silent:
	# seconds from the start of the work watched to the silence
	silent_after: Optional[float] = None
	# QEMU's accelerator: KVM where /dev/kvm is usable, else TCG
	accel: str = 'TCG'

	def output_lines(self) -> List[str]:
		return self.output.read_text(errors='replace').splitlines()

	def ok(self) -> bool:
		return self.exit_status == 0 and not self.timed_out and not self.splats

	def describe(self) -> str:
		"""Why a boot failed, naming the console line of a splat."""
		why = []
		if self.early:
			why.append(f'stopped before init: {self.early}')
		elif self.silent_after is not None:
			why.append(f'hung: the console fell silent {self.silent_after:.0f} s '
				   'into the run and the guest was stopped')
		elif self.timed_out:
			why.append(f'timed out after {self.seconds:.0f} s')
		elif self.exit_status is None:
			why.append('the guest did not report an exit status (crash or panic?)')
		elif self.exit_status != 0:
			why.append(f'the guest command exited with status {self.exit_status}')
		for s in self.splats:
			why.append(f'{s.kind} at {self.console}:{s.lineno}: {s.line}')
		return '; '.join(why) if why else 'ok'


DUMP_MARK = 'wqbh-request-dump:'


def memory_bytes(memory: str) -> int:
	"""QEMU's -m size ('2G', '512M', '1024') in bytes."""
	units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
	m = memory.strip().upper()
	if m and m[-1] in units:
		return int(float(m[:-1]) * units[m[-1]])
	return int(m) << 20	# QEMU's default unit is MiB


def qmp_command(sock: Path, command: str, arguments: dict, timeout: int = 600) -> dict:
	"""Run one QMP command on QEMU's socket and return its answer."""
	with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
		s.settimeout(timeout)
		s.connect(str(sock))
		f = s.makefile('rw')
		json.loads(f.readline())	# greeting
		for cmd in ({'execute': 'qmp_capabilities'},
			    {'execute': command, 'arguments': arguments}):
			f.write(json.dumps(cmd) + '\n')
			f.flush()
			while True:
				msg = json.loads(f.readline())
				if 'return' in msg or 'error' in msg:
					break
			if 'error' in msg:
				raise HarnessError(f'QMP {cmd["execute"]}: {msg["error"]}')
		return msg


def serve_dump_request(sock: Path, line: str, need_bytes: int = 0) -> None:
	"""The guest asked for a memory dump of itself (DUMP_MARK PATH): take
	it with QMP dump-guest-memory (which stops the guest meanwhile), then
	create PATH.done, which the guest sees through its 9p root."""
	path = line[len(DUMP_MARK):].strip()
	if not path.startswith(str(LOGS) + '/'):
		log(f'ignoring a dump request outside {LOGS}: {path}')
		return
	try:
		# the dump is as large as the guest's memory
		free = shutil.disk_usage(Path(path).parent).free
		if free < need_bytes:
			Path(path + '.skipped').write_text(
				f'{free >> 20} MiB free in {Path(path).parent}, the dump needs '
				f'{need_bytes >> 20} MiB\n')
			log(f'no guest dump: {free >> 20} MiB free, {need_bytes >> 20} MiB needed')
			return
		qmp_command(sock, 'dump-guest-memory', {'paging': False, 'protocol': f'file:{path}'})
		# for Debian 12's drgn, see vmcore.py
		vmcore.add_kernel_vaddrs(Path(path))
		log(f'guest memory dumped to {path}')
	finally:
		Path(path + '.done').touch()


# A guest that goes wrong before it runs init says nothing about the
# kernel, only about the host: under heavy load, the ACPI _PRT method of
# QEMU's PC machine can run past ACPICA's loop timeout, the virtio-pci
# device of the 9p root gets no interrupt and the root never mounts.
EARLY_FAILURE = "can't derive routing for PCI INT"
EARLY_STALL = 300	# seconds without console output before init
BOOT_TRIES = 5


def early_failure(console: str, quiet_for: float) -> Optional[str]:
	"""Why a guest whose console reads `console` and has been quiet for
	`quiet_for` seconds went wrong before running init, or None."""
	if 'Run /' in console:
		return None
	if EARLY_FAILURE in console:
		return 'ACPI PCI interrupt routing timed out (host load)'
	if quiet_for > EARLY_STALL:
		return f'no console output for {EARLY_STALL} s before init (host load)'
	return None


def boot(out: Path, job: str, name: str, **kwargs) -> BootResult:
	"""boot_once(), again (up to BOOT_TRIES times in all) while the guest
	goes wrong before it runs init, which says nothing about the kernel."""
	for attempt in range(1, BOOT_TRIES + 1):
		res = boot_once(out, job, name, **kwargs)
		if not res.early:
			return res
		log(f'{name}: boot {attempt} went wrong before init: {res.early}'
		    + ('; booting again' if attempt < BOOT_TRIES else ''))
	raise HarnessError(f'{name}: {BOOT_TRIES} boots went wrong before init ({res.early})')


MEMORY = '2G'	# of an x86_64 guest

# The debug kernels' boots count their tasklet executions (jobs.py's
# TASKLETS_BEGIN): the event is on from the kernel command line, so the
# boot's own tasklets are counted too.  The bench kernels' are not, so
# that tracing doesn't weigh on the tasklets they measure.
TASKLET_TRACE = 'trace_event=irq:tasklet_entry'

KVM_DEV = Path('/dev/kvm')
_KVM_GET_API_VERSION = 0xAE00


def kvm_usable(dev: Path = KVM_DEV) -> Optional[str]:
	"""None when x86_64 guests can run under KVM here (the device opens
	read-write and answers KVM_GET_API_VERSION with 12), else why not.
	WQBH_ACCEL=tcg forces TCG."""
	if os.environ.get('WQBH_ACCEL') == 'tcg':
		return 'WQBH_ACCEL=tcg'
	if platform.machine() != 'x86_64':
		return f'the host is {platform.machine()}'
	try:
		fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
	except OSError as e:
		return f'{dev}: {e.strerror}'
	try:
		version = fcntl.ioctl(fd, _KVM_GET_API_VERSION)
	except OSError as e:
		return f'{dev}: KVM_GET_API_VERSION: {e.strerror}'
	finally:
		os.close(fd)
	return None if version == 12 else f'{dev}: KVM API version {version}, not 12'


# the probe's verdict for this run of the harness: None (KVM works) or why not
_KVM_VERDICT: List[Optional[str]] = []
KVM_PROBE_SECONDS = 20


def kvm_boots(image: Path, seconds: int = KVM_PROBE_SECONDS) -> Optional[str]:
	"""None when `image` starts under KVM (its first console line within
	`seconds`; under KVM that takes well under one), else why not.  A
	/dev/kvm can open and answer and still not run a guest: nested KVM
	where the outer hypervisor doesn't pass on what QEMU needs fails with
	an error on MSRs, or hangs after the firmware."""
	cmd = [qemu_config('x86_64').QEMU, '-accel', 'kvm', '-cpu', 'host', '-machine', 'pc',
	       '-m', '256M', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
	       '-kernel', str(image), '-append', 'console=ttyS0 panic=-1 root=/dev/wqbh-none']
	try:
		proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
				      timeout=seconds)
		text = proc.stdout.decode(errors='replace')
	except subprocess.TimeoutExpired as e:
		text = (e.stdout or b'').decode(errors='replace')
	if 'Linux version' in text:
		return None
	err = [ln for ln in text.splitlines() if 'error' in ln.lower()]
	return (f'QEMU under KVM: {err[0].strip()}' if err
		else f'QEMU under KVM printed no kernel line in {seconds} s')


def accel_args(image: Optional[Path] = None) -> Tuple[str, List[str]]:
	"""('KVM' or 'TCG', the QEMU arguments) for an x86_64 guest: KVM when
	/dev/kvm is usable and, the first time, `image` boots under it."""
	if _KVM_VERDICT:
		why = _KVM_VERDICT[0]
	else:
		why = kvm_usable()
		if why is None and image is not None:
			why = kvm_boots(image)
		# a verdict without a kernel to try is not kept
		if why is not None or image is not None:
			_KVM_VERDICT.append(why)
			log('QEMU: KVM' if why is None else f'QEMU: TCG ({why})')
	if why is None:
		return 'KVM', ['-accel', 'kvm', '-cpu', 'host']
	return 'TCG', ['-accel', 'tcg']
TASKLET_COUNTED = ('out-debug', 'out-arm64')


def tasklet_cmdline(out: Path) -> List[str]:
	return [TASKLET_TRACE] if out.name in TASKLET_COUNTED else []


def boot_once(out: Path, job: str, name: str, smp: int = 4, timeout: int = 900,
	      extra_args: Optional[List[str]] = None, dumps: bool = False,
	      extra_cmdline: Optional[List[str]] = None) -> BootResult:
	"""Boot the kernel in `out` and run the shell script text `job` as root.

	The guest's root is the host's / over virtio-9p, read-only; /run, /tmp,
	/root and /var/tmp are tmpfs unless the job lives there (see init.sh).  The kernel console goes to console.log, the job's
	output to output.log (a second serial port), both in build/logs/NAME/.
	With `dumps`, a line "wqbh-request-dump: PATH" in the output makes the
	host dump the guest's memory to PATH (an ELF core with the guest's
	vmcoreinfo, which drgn reads) and then create PATH.done.
	"""
	qc = qemu_config('x86_64')
	image, logdir, console, output, jobfile = guest_files(out, qc, name, job)
	modroot = out / 'modroot'
	cmdline = ['root=/dev/root', 'rootfstype=9p',
		   'rootflags=trans=virtio,version=9p2000.L,msize=262144', 'ro',
		   f'console={qc.CONSOLE},115200', 'panic=-1', 'oops=panic',
		   'loglevel=7', f'init={GUEST / "init.sh"}',
		   f'wqbh_job={jobfile}', f'wqbh_out=/dev/{qc.OUTPUT}',
		   f'wqbh_modroot={modroot if modroot.exists() else ""}',
		   *qc.EXTRA_CMDLINE, *tasklet_cmdline(out), *(extra_cmdline or [])]
	accel, accel_cmd = accel_args(image)
	machine = list(qc.MACHINE)
	if accel == 'KVM' and '-cpu' in machine:	# -cpu host instead of max
		i = machine.index('-cpu')
		del machine[i:i + 2]
	cmd = [qc.QEMU, *machine, *accel_cmd, '-m', MEMORY, '-smp', str(smp),
	       '-nographic', '-no-reboot', '-nodefaults',
	       '-kernel', str(image), '-append', ' '.join(cmdline),
	       '-fsdev', 'local,id=root,path=/,readonly=on,security_model=none,multidevs=remap',
	       '-device', 'virtio-9p-pci,fsdev=root,mount_tag=/dev/root',
	       '-serial', f'file:{console}', '-serial', f'file:{output}',
	       '-monitor', 'none']
	qmp = logdir / 'qmp.sock' if dumps else None
	if qmp:
		qmp.unlink(missing_ok=True)
		cmd += ['-qmp', f'unix:{qmp},server=on,wait=off']
	if dumps:
		cmd += ['-device', 'vmcoreinfo']
	cmd += extra_args or []
	(logdir / 'qemu.cmd').write_text(' '.join(shlex.quote(c) for c in cmd) + '\n')
	log(f'booting {name}: {out.name}, {smp} CPUs, {accel}, log {console}')
	need = memory_bytes(MEMORY) + (256 << 20)

	def watch(proc: subprocess.Popen, deadline: float) -> None:
		_watch_dump_requests(proc, output, qmp, deadline, need)
	res = run_guest(cmd, name, logdir, console, output, timeout, watch if dumps else None)
	res.accel = accel
	return res


def _watch_early(proc: subprocess.Popen, console: Path, stop: threading.Event,
		 why: List[str], period: float = 5) -> None:
	"""Kill the guest `proc` if it goes wrong before running init (see
	early_failure()), appending the reason to `why`."""
	last, since = None, time.time()
	while not stop.wait(period):
		try:
			text = console.read_text(errors='replace')
		except OSError:
			continue
		if text != last:
			last, since = text, time.time()
		reason = early_failure(text, time.time() - since)
		if reason:
			why.append(reason)
			try:
				os.killpg(proc.pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
			return
		if 'Run /' in text:
			return


def guest_files(out: Path, qc, name: str, job: str):
	"""The kernel image of `out` for QEMU settings `qc`, and a boot's files
	in build/logs/NAME/, emptied: (image, logdir, console.log, output.log,
	job.sh with the shell script text `job`)."""
	image = out / qc.KERNEL_IMAGE
	if not image.exists():
		raise HarnessError(f'no kernel image at {image}: build first')
	logdir = LOGS / name
	logdir.mkdir(parents=True, exist_ok=True)
	console, output = logdir / 'console.log', logdir / 'output.log'
	for p in (console, output):
		p.write_text('')
	jobfile = logdir / 'job.sh'
	jobfile.write_text('#!/bin/sh\n' + job + '\n')
	return image, logdir, console, output, jobfile


def run_guest(cmd: List[str], name: str, logdir: Path, console: Path, output: Path,
	      timeout: int, watch=None) -> BootResult:
	"""Run QEMU (`cmd`) until the guest powers off or `timeout` seconds
	pass, saying meanwhile what its job is doing; then its exit status
	(the job's `wqbh-exit-status:` line) and the splats of its console.
	`watch(proc, deadline)`, if given, runs while the guest does and
	raises subprocess.TimeoutExpired at the deadline."""
	start = time.time()
	proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
				stderr=subprocess.STDOUT, start_new_session=True)
	timed_out = False
	early: List[str] = []
	stop = threading.Event()
	watcher = threading.Thread(target=_watch_early, args=(proc, console, stop, early),
				   daemon=True)
	watcher.start()
	with Progress(f'guest {name}', lambda: boot_status(output)):
		try:
			if watch:
				watch(proc, start + timeout)
			qemu_out, _ = proc.communicate(timeout=max(1, start + timeout - time.time()))
		except subprocess.TimeoutExpired:
			timed_out = True
			os.killpg(proc.pid, signal.SIGKILL)
			qemu_out, _ = proc.communicate()
		finally:
			stop.set()
			watcher.join()
	(logdir / 'qemu.log').write_bytes(qemu_out or b'')
	seconds = time.time() - start
	if early:
		return BootResult(None, False, console, output, [], seconds, early[0])
	status = None
	for line in output.read_text(errors='replace').splitlines():
		if line.startswith(EXIT_MARK):
			try:
				status = int(line[len(EXIT_MARK):].strip())
			except ValueError:
				pass
	# killed by a signal (a watcher stopped it) is no failure to start
	if proc.returncode is not None and proc.returncode > 0 and not timed_out \
			and status is None:
		msg = (qemu_out or b'').decode(errors='replace').strip()[-1500:]
		raise HarnessError(f'QEMU failed to start (exit {proc.returncode}):\n{msg}')
	lines = console.read_text(errors='replace').splitlines()
	return BootResult(status, timed_out, console, output, splat.find(lines), seconds)


def boot_status(output: Path) -> str:
	"""What a guest's job is doing: the section it is in, from its output."""
	section = ''
	try:
		for line in output.read_text(errors='replace').splitlines():
			if line.startswith('wqbh-section-begin: '):
				section = line.split(': ', 1)[1]
			elif line.startswith('wqbh-section-end: '):
				section = ''
	except OSError:
		return ''
	return f'in {section}' if section else 'booting' if not output.stat().st_size else ''


def _watch_dump_requests(proc: subprocess.Popen, output: Path, qmp: Path,
			 deadline: float, need_bytes: int) -> None:
	"""Serve the guest's dump requests until QEMU exits or time is up.

	QEMU's stdout is a pipe read only at the end, which is fine: with the
	serial ports in files QEMU prints next to nothing there."""
	done = 0	# bytes of output.log read up to the end of a line
	while proc.poll() is None and time.time() < deadline:
		time.sleep(1)
		with open(output, 'rb') as f:
			f.seek(done)
			new = f.read()
		# only complete lines: the last one may still be being written
		new = new[:new.rfind(b'\n') + 1]
		done += len(new)
		for line in new.decode(errors='replace').splitlines():
			if line.startswith(DUMP_MARK):
				try:
					serve_dump_request(qmp, line, need_bytes)
				except (OSError, ValueError, HarnessError, vmcore.VmcoreError) as e:
					log(f'dump request failed: {e}')
	if time.time() >= deadline:
		raise subprocess.TimeoutExpired(proc.args, 0)


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
	left = collections.Counter(norm(line) for line in base)
	new = []
	for line in series:
		if left[norm(line)] > 0:
			left[norm(line)] -= 1
		else:
			new.append(line)
	return new


# Functions the series renames: their warnings in the base tree count
# under the new name.
SPARSE_RENAMES = {
	'smi_recv_tasklet': 'smi_recv_work',	# drivers/char/ipmi, the IPMI conversion
}


def sparse_new(series: List[str], base: List[str]) -> List[str]:
	"""The sparse lines of `series` that `base` doesn't have as often in
	the same file, compared without line numbers and with the series'
	renames applied to `base`."""
	def norm(line: str) -> str:
		return re.sub(r'^(\S+?):\d+:\d+: ', r'\1: ', line).strip()

	def renamed(line: str) -> str:
		for old, new in SPARSE_RENAMES.items():
			line = line.replace(f"'{old}'", f"'{new}'")
		return line
	left = collections.Counter(renamed(norm(line)) for line in base)
	new = []
	for line in series:
		if left[norm(line)] > 0:
			left[norm(line)] -= 1
		else:
			new.append(line)
	return new
