# SPDX-License-Identifier: GPL-2.0-only
"""Debian packages the harness needs, installed with apt-get when missing."""

import os
import shutil
import subprocess
from typing import Dict, List

from .common import HarnessError, log

# What each package is for, so a missing one can be explained.
PACKAGES: Dict[str, str] = {
	'linux-source-6.1': 'the base tree (Debian 6.1.y LTS source)',
	'qemu-system-x86': 'booting the test kernels',
	'python3-drgn': 'wq_dump.py',
	'quilt': 'proving the series applies with quilt too',
	'python3-matplotlib': 'make bench: the PNG plots',
	'b4': 'make check: b4 am takes back the mail of make mbox',
	'git': 'base tree, apply and export',
	'make': 'kernel build',
	'gcc': 'kernel build',
	'bc': 'kernel build',
	'bison': 'kernel build (kconfig)',
	'flex': 'kernel build (kconfig)',
	'libelf-dev': 'kernel build (objtool)',
	'libssl-dev': 'kernel build (sign-file)',
	'cpio': 'kernel build',
	'kmod': 'modules_install and modprobe in the guest',
	'ccache': 'fast rebuilds',
	'perl': 'checkpatch.pl and kernel-doc',
	'python3-ply': 'checkpatch.pl SPDX check',
	'python3-git': 'checkpatch.pl SPDX check',
	'sparse': 'sparse checks of the files the series touches',
	'pyflakes3': 'lint of the harness\'s Python files (make check-harness)',
	'xz-utils': 'unpacking the base tree',
	'ipmitool': 'ipmitool in the guest (IPMI conversion workload)',
	'iproute2': 'network setup in the guest for the TCP Small Queues workload',
	'gcc-aarch64-linux-gnu': 'cross-building the arm64 kernels (booted, and arm64 defconfig)',
	'libc6-dev-arm64-cross': 'the static arm64 workqueue kselftest (its libc.a)',
	'qemu-system-arm': 'booting the arm64 test kernel (qemu-system-aarch64)',
	'linux-config-6.1': 'Debian\'s 6.1 amd64 configuration, which make check compiles under',
	'coccinelle': 'spatch: the tasklet-to-BH-work-item semantic patch (make check, make convert-report)',
	# Not installed: Debian's busybox-static:arm64, the arm64 guest's
	# userland, is downloaded (apt-get download, dpkg's foreign
	# architecture arm64 added) and unpacked by tools/wqbh/arm64.py.
}


def missing(packages: List[str]) -> List[str]:
	if not shutil.which('dpkg-query'):
		raise HarnessError(
			'this harness runs on Debian 12 (bookworm): dpkg-query was not found, '
			'so the packages it needs can\'t be checked or installed.\n'
			'On another distribution, install the equivalents of:\n  '
			+ ' '.join(sorted(PACKAGES))
			+ '\nand run with --no-deps (PYTHONPATH=tools python3 -m wqbh --no-deps COMMAND).')
	out = []
	for pkg in packages:
		proc = subprocess.run(['dpkg-query', '-W', '-f=${Status}', pkg],
				      stdout=subprocess.PIPE,
				      stderr=subprocess.DEVNULL, text=True)
		if proc.returncode != 0 or 'install ok installed' not in proc.stdout:
			out.append(pkg)
	return out


def ensure(packages: List[str] = None) -> None:
	"""Install what is missing when root; otherwise say exactly what to run."""
	pkgs = sorted(PACKAGES) if packages is None else packages
	need = missing(pkgs)
	if not need:
		return
	why = ''.join(f'\n  {p}: {PACKAGES.get(p, "")}' for p in need)
	cmd = 'apt-get install -y ' + ' '.join(need)
	if os.geteuid() != 0:
		raise HarnessError(f'missing Debian packages:{why}\n'
				   f'install them as root with:\n  apt-get update && {cmd}')
	log(f'installing missing packages: {" ".join(need)}')
	env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
	for step in (['apt-get', 'update', '-q'],
		     ['apt-get', 'install', '-y', '-q', *need]):
		proc = subprocess.run(step, env=env, stdout=subprocess.PIPE,
				      stderr=subprocess.STDOUT, text=True)
		if proc.returncode != 0:
			tail = '\n'.join(proc.stdout.splitlines()[-15:])
			raise HarnessError(f'`{" ".join(step)}` failed:\n{tail}')
	still = missing(need)
	if still:
		raise HarnessError(f'apt-get did not install: {" ".join(still)}')
