# SPDX-License-Identifier: GPL-2.0-only
"""The debug kernel on arm64: cross-built, booted under qemu-system-aarch64.

arm64 differs from x86_64 where the series lives: irq_work IPIs (GIC
SGIs), softirq entry (its own IRQ stack) and the atomics behind llist and
cmpxchg (LSE).  The kernel is the `arm64` flavour (kernel-config/
arm64.config with tests.config), cross-built with Debian's
gcc-aarch64-linux-gnu in build/linux/out-arm64, with the workqueue
kselftest built static for it.  The host's x86_64 root can't be the
guest's, so the guest boots an initramfs the harness makes for each boot:
Debian's busybox-static:arm64 (downloaded through dpkg's multiarch with
`apt-get download`, not installed), the modules, the kselftest, the job
and tools/guest/init_initramfs.sh as /init.  The job is the x86_64
guest's (jobs.py) with its sections named arm64-*, so that the results of
the two architectures stay apart; its output is on a virtio console and
the kernel console on the PL011 UART, scanned for splats as on x86_64.
QEMU's settings are in tools/qemu_configs/arm64.py.
"""

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, List, Optional

from . import jobs, kernel, qemu, torture
from .common import BUILD, GUEST, HarnessError, log, run
from .results import Results

ARCH = 'arm64'
FLAVOUR = 'arm64'
PREFIX = 'arm64-'
BUSYBOX_PKG = 'busybox-static:arm64'
DEBS = BUILD / 'arm64' / 'debs'
# TCG emulating four arm64 CPUs with KASAN and lockdep, on two host cores
# that may be busy with builds: generous.
TIMEOUT = 1800
# Where the job finds things in the guest.
GUEST_DIR = '/wqbh'


def ensure_busybox(debs: Path = DEBS) -> Path:
	"""Debian's busybox-static for arm64, unpacked; returns the binary.

	The package is downloaded, not installed: dpkg's foreign
	architecture arm64 is added (and apt's lists updated) when missing,
	which needs root."""
	unpacked = debs / 'busybox'
	binary = unpacked / 'bin' / 'busybox'
	if binary.exists():
		return binary
	debs.mkdir(parents=True, exist_ok=True)
	if not list(debs.glob('busybox-static_*_arm64.deb')):
		if os.geteuid() != 0:
			raise HarnessError(
				f'no {BUSYBOX_PKG} in {debs}; as root: dpkg --add-architecture arm64 '
				f'&& apt-get update && (cd {debs} && apt-get download {BUSYBOX_PKG})')
		archs = run(['dpkg', '--print-foreign-architectures']).stdout.split()
		if ARCH not in archs:
			log('adding dpkg\'s foreign architecture arm64 for busybox-static:arm64')
			run(['dpkg', '--add-architecture', ARCH])
			run(['apt-get', 'update', '-q'])
		# apt's sandbox user may not write here: download as root
		run(['apt-get', 'download', '-q', '-o', 'APT::Sandbox::User=root', BUSYBOX_PKG],
		    cwd=debs)
	deb = sorted(debs.glob('busybox-static_*_arm64.deb'))[-1]
	shutil.rmtree(unpacked, ignore_errors=True)
	run(['dpkg-deb', '-x', str(deb), str(unpacked)])
	if not binary.exists():
		raise HarnessError(f'{deb} has no bin/busybox')
	return binary


def initramfs_list(busybox: Path, init: Path, job: Path, kselftest: Optional[Path],
		   modroot: Optional[Path]) -> List[str]:
	"""The initramfs, as usr/gen_init_cpio's list: busybox (its applets'
	links are made by /init), /init, the job, the kselftest and the
	modules (modroot/lib/modules/...), all owned by root."""
	lines = ['dir /dev 0755 0 0', 'nod /dev/console 0600 0 0 c 5 1']
	for d in ('/bin', '/sbin', '/usr', '/usr/bin', '/usr/sbin', '/proc', '/sys',
		  '/tmp', '/run', '/root', GUEST_DIR):
		lines.append(f'dir {d} 0755 0 0')
	lines += [f'file /bin/busybox {busybox} 0755 0 0',
		  'slink /bin/sh busybox 0777 0 0',
		  f'file /init {init} 0755 0 0',
		  f'file {GUEST_DIR}/job.sh {job} 0755 0 0']
	if kselftest:
		lines.append(f'file {GUEST_DIR}/test_workqueue {kselftest} 0755 0 0')
	mods = modroot / 'lib' if modroot else None
	if mods and mods.is_dir():
		lines.append('dir /lib 0755 0 0')
		for path in sorted(mods.rglob('*')):
			rel = '/lib/' + str(path.relative_to(mods))
			if path.is_symlink():
				continue	# build and source links into the host tree
			if path.is_dir():
				lines.append(f'dir {rel} 0755 0 0')
			else:
				lines.append(f'file {rel} {path} 0644 0 0')
	return lines


def gen_init_cpio(t: Path, out: Path) -> Path:
	"""kbuild's usr/gen_init_cpio (a host program): the built one, or
	compiled here from the tree's source."""
	built = out / 'usr' / 'gen_init_cpio'
	if built.exists():
		return built
	mine = BUILD / 'arm64' / 'gen_init_cpio'
	src = t / 'usr' / 'gen_init_cpio.c'
	if not mine.exists() or mine.stat().st_mtime < src.stat().st_mtime:
		mine.parent.mkdir(parents=True, exist_ok=True)
		run(['gcc', '-O2', '-o', str(mine), str(src)])
	return mine


def make_initramfs(t: Path, out: Path, job: Path, dest: Path) -> Path:
	"""An uncompressed cpio at `dest` for the kernel in `out`, running `job`."""
	kst = out / 'kselftest' / 'workqueue' / 'test_workqueue'
	modroot = out / 'modroot'
	spec = dest.with_suffix('.list')
	spec.write_text('\n'.join(initramfs_list(
		ensure_busybox(), GUEST / 'init_initramfs.sh', job,
		kst if kst.exists() else None, modroot if modroot.exists() else None)) + '\n')
	with open(dest, 'wb') as f:
		proc = subprocess.run([str(gen_init_cpio(t, out)), str(spec)], stdout=f,
				      stderr=subprocess.PIPE, text=False)
	if proc.returncode != 0:
		raise HarnessError(f'gen_init_cpio failed: {proc.stderr.decode(errors="replace")}')
	return dest


def qemu_args(qc, image: Path, initrd: Path, cmdline: List[str], console: Path,
	      output: Path, smp: int, memory: str) -> List[str]:
	"""The QEMU command line of an initramfs boot with the settings `qc`
	(tools/qemu_configs/ARCH.py)."""
	return [qc.QEMU, *qc.MACHINE, '-m', memory, '-smp', str(smp),
		'-nographic', '-no-reboot', '-nodefaults',
		'-kernel', str(image), '-initrd', str(initrd),
		'-append', ' '.join(cmdline),
		'-serial', f'file:{console}',
		*[a.replace('{path}', str(output)) for a in qc.OUTPUT_ARGS],
		'-monitor', 'none']


def kernel_cmdline(qc, extra: Optional[List[str]] = None) -> List[str]:
	return [f'console={qc.CONSOLE},115200', 'panic=-1', 'oops=panic', 'loglevel=7',
		'rdinit=/init', f'wqbh_out=/dev/{qc.OUTPUT}', *qc.EXTRA_CMDLINE, *(extra or [])]


def boot(t: Path, out: Path, job: str, name: str, smp: int = 4, memory: str = '2G',
	 timeout: int = TIMEOUT) -> qemu.BootResult:
	"""Boot the arm64 kernel in `out` with an initramfs that runs the shell
	script text `job`; as qemu.boot(), its console and output in
	build/logs/NAME/."""
	qc = qemu.qemu_config(ARCH)
	image, logdir, console, output, jobfile = qemu.guest_files(out, qc, name, job)
	initrd = make_initramfs(t, out, jobfile, logdir / 'initramfs.cpio')
	cmd = qemu_args(qc, image, initrd, kernel_cmdline(qc, qemu.tasklet_cmdline(out)),
			console, output, smp, memory)
	(logdir / 'qemu.cmd').write_text(' '.join(shlex.quote(c) for c in cmd) + '\n')
	log(f'booting {name}: {out.name} ({ARCH}), {smp} CPUs, log {console}')
	res = qemu.run_guest(cmd, name, logdir, console, output, timeout)
	log(f'{name}: guest ran {res.seconds:.0f} s')
	return res


# The sections of the x86_64 job that apply here: no wq_dump.py (no
# python3 or drgn in the guest); and make check's short torture run, which
# x86_64 boots on its own, in the same boot, before the cases that leave
# lockdep off.
SECTIONS = ['guest-smoke', 'kselftest-workqueue', 'backtracetest', torture.SECTION,
	    'kselftest-workqueue-last']


def test_job(smp: int) -> str:
	"""The x86_64 guest's job (jobs.test_job()) without wq_dump.py, its
	kselftest in GUEST_DIR, make check's torture run (CPU hotplug on
	when there is a CPU to unplug) before the lockdep-off cases, and its
	sections named arm64-*."""
	job = jobs.test_job(Path(GUEST_DIR), smp, wq_dump=False, lockdep_last=False)
	if not job.endswith(jobs.TAIL):
		raise HarnessError('jobs.test_job() no longer ends with jobs.TAIL')
	job = (job[:-len(jobs.TAIL)]
	       + torture.job_section(torture.CHECK_DURATION, torture.CHECK_SEED, smp > 1)
	       + jobs.LAST + jobs.TAIL)
	job = job.replace(f'kst={GUEST_DIR}/kselftest/workqueue', f'kst={GUEST_DIR}')
	for sec in SECTIONS:
		job = job.replace(f'section {sec} ', f'section {PREFIX}{sec} ')
	return job


def manifest(t: Path, smp: int) -> jobs.Manifest:
	"""What test_job() must report: the x86_64 manifest's sections and
	the torture run's, arm64-*."""
	man = dict(jobs.manifest(t, smp, wq_dump=False, lockdep_last=True))
	man.update(torture.manifest(t))
	return {PREFIX + sec: cases for sec, cases in man.items()}


def check_arm64(res: Results, t: Path, args, report: Callable) -> Optional[qemu.BootResult]:
	"""Cross-build the arm64 debug kernel of `t` and run the job in it;
	`report` is cli.py's report_boot()."""
	start = time.time()
	try:
		out = kernel.build(t, FLAVOUR)
		res.add('builds in full: arm64 debug kernel (cross-built: Image, modules, '
			'static kselftest)', 'pass')
	except HarnessError as e:
		res.add('builds in full: arm64 debug kernel (cross-built: Image, modules, '
			'static kselftest)', 'fail', str(e))
		return None
	log(f'arm64 kernel built in {time.time() - start:.0f} s')
	smp = args.smp
	timeout = max(getattr(args, 'timeout', 0) or 0, TIMEOUT)
	boot_res = boot(t, out, test_job(smp), 'check-arm64', smp=smp, timeout=timeout)
	report(res, 'arm64 debug kernel', boot_res, manifest(t, smp), tree_path=t)
	return boot_res
