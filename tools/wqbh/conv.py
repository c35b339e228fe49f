# SPDX-License-Identifier: GPL-2.0-only
"""Converted tasklet users, each proven by a real workload in QEMU.

A conversion names the QEMU devices its workload needs, a guest script
tools/guest/conv_NAME.sh, and optionally a host peer that runs while the
guest is up (the far end of a TCP transfer, say).  The script is run as
    sh conv_NAME.sh MODE [ARGS...]
MODE "check": print KTAP (one case per thing proven: the workload's
result, and that the converted BH work item really ran);
MODE "bench": print "wqbh-bench: workload NAME KEY VALUE ..." lines
(integers, e.g. read_kib_s 12345), and nothing that must pass, since the
base kernel has no conversion.

`make check` boots the debug kernel once with the devices of every
conversion and runs every script in check mode (sections conv-NAME);
`wqbh conv` does just that boot, and `wqbh conv --bench` boots the
bench kernels of the series and of the base tree in bench mode, for the
numbers before and after the conversions.
"""

import contextlib
import hashlib
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Dict, Iterator, List, Optional

from .common import GUEST, LOGS
from . import jobs

# A host peer: given the boot's log directory, a context manager that
# yields the extra arguments of the guest script (e.g. a port number).
HostPeer = Callable[[Path], ContextManager[List[str]]]


# The check-mode boot of every conversion on the debug kernel: about 100 s
# to boot with two USB controllers, the workloads, then the teardown and
# hotplug runs (4 USB unbinds during reads, 25 to 30 s each with the disk
# coming back, 6 IPMI unbinds, 6 CPU hotplug cycles): 8 to 9 minutes on
# an idle 2-core machine, too close to the default guest timeout of 900 s
# on a slower one.  Machines of the same kind differ: on CI's, TCG ran
# this boot 2.4 times slower than here (1724 s with the longer runs of
# before), so the bound is 45 minutes, which still ends a hung guest well
# inside CI's 90.
CHECK_TIMEOUT = 2700

# The check-mode boot's CPUs, at most: the workloads need two (the TSQ
# one takes cpu1 offline under the sender, cpu0 stays), and with no more
# vCPUs than the 2 cores of CI's machines, TCG's vCPU threads compete less
# with QEMU's own device and network emulation for them.  The kselftest
# and torture boots keep 4 CPUs.
CHECK_SMP = 2


@dataclass
class Conversion:
	name: str
	# QEMU arguments, given the boot's log directory (for disk images)
	devices: Callable[[Path], List[str]]
	host: Optional[HostPeer] = None
	# check mode only: the script's last arguments, after the host
	# peer's: the sizes of its teardown or hotplug stress (see below)
	stress: List[str] = field(default_factory=list)

	@property
	def script(self) -> Path:
		return GUEST / f'conv_{self.name}.sh'


# USB HCD URB giveback: a usb-storage disk behind each of an xHCI and an
# EHCI controller, and a usb-kbd (interrupt endpoint: the high-priority
# giveback) on the xHCI one.  The guest writes USB_DISK_MIB of random data
# to each disk, so the images are created sparse, a little larger.
USB_DISK_MIB = 64
USB_IMAGE_MIB = USB_DISK_MIB + 8
USB_CONTROLLERS = (('xhci', 'qemu-xhci'), ('ehci', 'usb-ehci'))


def usb_image(logdir: Path, hc: str) -> Path:
	return logdir / f'usb-{hc}.img'


def usb_devices(logdir: Path) -> List[str]:
	"""QEMU arguments of the usb workload; (re)creates its sparse images."""
	args: List[str] = []
	for hc, model in USB_CONTROLLERS:
		img = usb_image(logdir, hc)
		with open(img, 'wb') as f:	# empty and sparse: no old data
			f.truncate(USB_IMAGE_MIB << 20)
		args += ['-device', f'{model},id={hc}',
			 '-drive', f'if=none,id=usbdisk-{hc},format=raw,cache=unsafe,file={img}',
			 '-device', f'usb-storage,bus={hc}.0,drive=usbdisk-{hc}']
	return args + ['-device', 'usb-kbd,bus=xhci.0']


def usb_data(logdir: Path) -> Path:
	return logdir / 'usb-data.bin'


@contextlib.contextmanager
def usb_host(logdir: Path) -> Iterator[List[str]]:
	"""The data the guest writes to each disk: USB_DISK_MIB of random
	bytes made here, where it is cheap, and read by the guest over its 9p
	root; the guest gets its size, path and sha256.  The data and the disk
	images (USB_DISK_MIB each once written) are removed after the boot."""
	data = usb_data(logdir)
	try:
		digest = hashlib.sha256()
		with open(data, 'wb') as f:
			for _ in range(USB_DISK_MIB):
				chunk = os.urandom(1 << 20)
				digest.update(chunk)
				f.write(chunk)
		yield [str(USB_DISK_MIB), str(data), digest.hexdigest()]
	finally:
		data.unlink(missing_ok=True)
		for hc, _ in USB_CONTROLLERS:
			usb_image(logdir, hc).unlink(missing_ok=True)


# VT keyboard LEDs: the pc machine's i8042 with its AT keyboard, which
# -nodefaults keeps (it is part of the machine, not a default device).
def vt_devices(logdir: Path) -> List[str]:
	return []
class TsqPeer:
	"""The far end of the TCP Small Queues workload: accepts connections
	on 127.0.0.1 (the guest's 10.0.2.2 with QEMU user networking), reads
	each to its end, answers "SHA256HEX BYTES\n" and closes it.  Every
	connection is logged to `log` as "BYTES SHA256HEX" (or an error).
	A connection idle for `timeout` seconds is dropped; nothing blocks
	for longer, and stop() ends the thread."""

	def __init__(self, log: Optional[Path] = None, timeout: float = 60.0):
		self.log = log
		self.timeout = timeout
		self.results: List[str] = []
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self.sock.bind(('127.0.0.1', 0))
		self.sock.listen(4)
		self.sock.settimeout(0.5)
		self.port = self.sock.getsockname()[1]
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._serve, name='tsq-peer', daemon=True)

	def start(self) -> 'TsqPeer':
		self._thread.start()
		return self

	def stop(self) -> None:
		self._stop.set()
		self._thread.join(timeout=10)
		self.sock.close()

	def _record(self, line: str) -> None:
		self.results.append(line)
		if self.log:
			with open(self.log, 'a') as f:
				f.write(line + '\n')

	def _serve(self) -> None:
		while not self._stop.is_set():
			try:
				conn, _ = self.sock.accept()
			except socket.timeout:
				continue
			except OSError:
				return
			with conn:
				self._handle(conn)

	def _handle(self, conn: socket.socket) -> None:
		conn.settimeout(self.timeout)
		h = hashlib.sha256()
		n = 0
		try:
			while not self._stop.is_set():
				data = conn.recv(1 << 20)
				if not data:
					break
				h.update(data)
				n += len(data)
			else:
				self._record(f'error: stopped after {n} bytes')
				return
			conn.sendall(f'{h.hexdigest()} {n}\n'.encode())
			self._record(f'{n} {h.hexdigest()}')
		except OSError as e:
			self._record(f'error: {e} after {n} bytes')


@contextlib.contextmanager
def tsq_peer(logdir: Path) -> Iterator[List[str]]:
	"""Host peer of the tsq conversion: yields the port for the script."""
	log = logdir / 'tsq-peer.log'
	log.write_text('')
	peer = TsqPeer(log).start()
	try:
		yield [str(peer.port)]
	finally:
		peer.stop()


def ipmi_devices(logdir: Path) -> List[str]:
	# QEMU's pc machine describes the KCS interface in ACPI and SMBIOS
	return ['-device', 'ipmi-bmc-sim,id=bmc0', '-device', 'isa-ipmi-kcs,bmc=bmc0']


def tsq_devices(logdir: Path) -> List[str]:
	return ['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0']


# The bounded teardown and hotplug stress of check mode, which `make check`
# runs in the conversions boot on the debug kernel:
# - usb: each of the xHCI and the EHCI controller is unbound from its
#   driver during O_DIRECT reads of its usb-storage disk and bound again,
#   USB_UNBIND_CYCLES times (usb_remove_hcd() with givebacks in flight);
# - ipmi: the system interface is unbound from ipmi_si during ipmitool
#   traffic and bound again, IPMI_UNBIND_CYCLES times (the interface is
#   unregistered and freed);
# - tsq: cpu1 is taken offline and back online TSQ_HOTPLUG_CYCLES times,
#   with the sender on cpu1, during transfers of TSQ_CHECK_MIB MiB, one
#   after another until the cycles are done.  The bench sends 256 MiB
#   once; under TCG on the debug kernel that took 4 of the conversions
#   boot's 28 minutes on CI, close to the sender's bound of 300 s.
#
# Each cycle costs boot time, and TCG's speed differs up to threefold
# between machines of the same kind: CI's conversions boot took 29 minutes
# where the same boot took 12 on another machine.  Two cycles per USB
# controller and six IPMI unbinds still run every teardown path under
# load; more cycles mostly repeat them (4 per controller found no giveback
# pending at teardown in the runs kept).
USB_UNBIND_CYCLES = 2
IPMI_UNBIND_CYCLES = 6
TSQ_HOTPLUG_CYCLES = 6
TSQ_CHECK_MIB = 64

# The conversions, in series order.  Each entry's guest script must exist.
CONVERSIONS: List[Conversion] = [
	Conversion('usb', usb_devices, host=usb_host, stress=[str(USB_UNBIND_CYCLES)]),
	Conversion('vt', vt_devices),
	# IPMI message handler: ipmitool against QEMU's simulated BMC
	Conversion('ipmi', ipmi_devices, stress=[str(IPMI_UNBIND_CYCLES)]),
	# TCP Small Queues: the guest sends to tsq_peer
	Conversion('tsq', tsq_devices, host=tsq_peer,
		   stress=[str(TSQ_HOTPLUG_CYCLES), str(TSQ_CHECK_MIB)]),
]


def devices(logdir: Path, convs: List[Conversion]) -> List[str]:
	args: List[str] = []
	for c in convs:
		args += c.devices(logdir)
	return args


@contextlib.contextmanager
def host_peers(logdir: Path, convs: List[Conversion]) -> Iterator[Dict[str, List[str]]]:
	"""Start every conversion's host peer; yield {name: script args}."""
	with contextlib.ExitStack() as stack:
		args = {}
		for c in convs:
			args[c.name] = list(stack.enter_context(c.host(logdir))) if c.host else []
		yield args


def job(convs: List[Conversion], mode: str, args: Dict[str, List[str]]) -> str:
	"""The guest job: every conversion's script as section conv-NAME;
	in check mode with its stress arguments."""
	text = jobs.PRELUDE
	for c in convs:
		stress = c.stress if mode == 'check' else []
		words = ' '.join([mode] + args.get(c.name, []) + stress)
		text += f'section conv-{c.name} sh {c.script} {words} || status=1\n'
	return text + jobs.TAIL


def manifest(convs: List[Conversion]) -> jobs.Manifest:
	"""What job() must report: a section per conversion, each with as
	many cases as its KTAP plan says."""
	return {f'conv-{c.name}': None for c in convs}


def logdir(name: str) -> Path:
	d = LOGS / name
	d.mkdir(parents=True, exist_ok=True)
	return d
