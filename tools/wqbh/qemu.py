# SPDX-License-Identifier: GPL-2.0-only
"""Boot the test kernels under QEMU (KVM where it really runs a guest,
TCG otherwise), run a job in the guest and read what came back: its exit
status, its output, the console's splats, and memory dumps asked for
over QMP."""

import fcntl
import importlib.util
import json
import os
import platform
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
from .common import GUEST, LOGS, REPO, HarnessError, Progress, log

EXIT_MARK = 'wqbh-exit-status:'


def qemu_config(arch: str = 'x86_64'):
	path = REPO / 'tools' / 'qemu_configs' / f'{arch}.py'
	if not path.exists():
		raise HarnessError(f'no QEMU settings for {arch} in {path.parent}')
	spec = importlib.util.spec_from_file_location(f'qemu_{arch}', path)
	mod = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(mod)
	return mod


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

	def first_report(self) -> List[str]:
		"""The console lines of the first splat (splat.excerpt()), to show
		where the log itself may not be kept; [] if none."""
		if not self.splats:
			return []
		try:
			lines = self.console.read_text(errors='replace').splitlines()
		except OSError:
			return []
		return splat.excerpt(lines, self.splats[0])

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
