# SPDX-License-Identifier: GPL-2.0-only
"""QEMU settings for arm64 test kernels (TCG: an x86_64 host can't run them under KVM).

The root is an initramfs (tools/wqbh/arm64.py builds it), not the host's
/ over 9p: the host is x86_64.  `virt` has one UART for the normal
world, so the job's output goes to a virtio console (hvc0) instead of a
second serial port.
"""

ARCH = 'arm64'
QEMU = 'qemu-system-aarch64'
KERNEL_IMAGE = 'arch/arm64/boot/Image'
# GICv3 (irq_work and the other IPIs are its SGIs) and `max`, which has
# the LSE atomics; pauth-impdef: TCG's architected pointer-auth algorithm
# is slow, and the kernel does not use pointer auth (not configured).
MACHINE = ['-machine', 'virt,gic-version=3', '-cpu', 'max,pauth-impdef=on']
CONSOLE = 'ttyAMA0'
OUTPUT = 'hvc0'
# QEMU arguments that give the guest its OUTPUT port, written to PATH.
OUTPUT_ARGS = ['-device', 'virtio-serial-device',
	       '-chardev', 'file,id=wqbhout,path={path}',
	       '-device', 'virtconsole,chardev=wqbhout']
EXTRA_CMDLINE = ['no_hash_pointers']
