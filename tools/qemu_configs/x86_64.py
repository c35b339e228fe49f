# SPDX-License-Identifier: GPL-2.0-only
"""QEMU settings for x86_64 test kernels.  The accelerator is chosen per run:
KVM where /dev/kvm works (with -cpu host instead of max), else TCG (see
wqbh/qemu.py, accel_args())."""

ARCH = 'x86_64'
QEMU = 'qemu-system-x86_64'
KERNEL_IMAGE = 'arch/x86/boot/bzImage'
MACHINE = ['-machine', 'pc', '-cpu', 'max']
# ACPI is needed for more than one CPU: SeaBIOS's MP table lists only one.
CONSOLE = 'ttyS0'
OUTPUT = 'ttyS1'
EXTRA_CMDLINE = ['nokaslr', 'no_hash_pointers', 'tsc=reliable']
