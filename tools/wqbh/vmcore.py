# SPDX-License-Identifier: GPL-2.0-only
"""Make a QEMU x86_64 guest dump readable by Debian 12's drgn (0.0.22).

QEMU's `dump-guest-memory` without paging writes an ELF core of the
guest's physical memory (p_vaddr equal to p_paddr) with the guest's
VMCOREINFO note.  drgn reads kernel virtual addresses which no program
header maps by walking the kernel's page tables from swapper_pg_dir.
drgn 0.0.22 reads swapper_pg_dir itself by its virtual address, which
only a program header can provide, as in a kdump /proc/vmcore; without
one, reading anything fails with "recursive address translation" (later
drgn versions compute the physical address from phys_base).  With
paging, QEMU walks the guest's page tables itself, which takes forever
with KASAN's huge shadow mappings.

So add program headers that map the physical memory at the kernel's
direct map (PAGE_OFFSET) and at its text mapping (__START_KERNEL_map,
physical phys_base to phys_base + 512 MiB), pointing at the same file
data, the way /proc/vmcore describes memory.  drgn then reads those
addresses straight from the file and walks the page tables for the rest
(vmalloc, modules).

The new program header table is written at the end of the file and the
ELF header is pointed at it; the memory data is neither moved nor
copied.  Only for x86_64 guests booted with nokaslr and 4-level paging,
which is what the harness boots.
"""

import struct
import sys
from pathlib import Path

PAGE_OFFSET = 0xffff888000000000	# x86_64, 4-level paging, no KASLR
START_KERNEL_MAP = 0xffffffff80000000
KERNEL_IMAGE_SIZE = 512 << 20		# what the text mapping covers
KERNEL_SPACE = 0xffff800000000000
PT_LOAD, PT_NOTE = 1, 4

_EHDR = struct.Struct('<16sHHIQQQIHHHHHH')
_PHDR = struct.Struct('<IIQQQQQQ')


class VmcoreError(Exception):
	pass


def _notes(data: bytes):
	"""(name, type, desc) of each ELF note in a note segment."""
	pos = 0
	while pos + 12 <= len(data):
		namesz, descsz, ntype = struct.unpack_from('<III', data, pos)
		pos += 12
		name = data[pos:pos + namesz]
		pos += (namesz + 3) & ~3
		desc = data[pos:pos + descsz]
		pos += (descsz + 3) & ~3
		yield name, ntype, desc


def vmcoreinfo(desc: bytes) -> dict:
	out = {}
	for line in desc.rstrip(b'\0').decode(errors='replace').splitlines():
		if '=' in line:
			k, v = line.split('=', 1)
			out[k] = v
	return out


def add_kernel_vaddrs(path: Path) -> int:
	"""Add the kernel mappings to the dump at `path` as described above.
	Returns how many program headers were added: 0 if it already had
	kernel virtual addresses."""
	with open(path, 'r+b') as f:
		head = f.read(_EHDR.size)
		if len(head) < _EHDR.size:
			raise VmcoreError(f'{path}: too short for an ELF file')
		ehdr = list(_EHDR.unpack(head))
		ident, e_type, machine = ehdr[0], ehdr[1], ehdr[2]
		if ident[:4] != b'\x7fELF' or ident[4] != 2 or ident[5] != 1:
			raise VmcoreError(f'{path}: not a 64-bit little-endian ELF file')
		if e_type != 4 or machine != 62:
			raise VmcoreError(f'{path}: not an x86_64 core file')
		phoff, phentsize, phnum = ehdr[5], ehdr[9], ehdr[10]
		if phentsize != _PHDR.size:
			raise VmcoreError(f'{path}: unexpected program header size {phentsize}')
		f.seek(phoff)
		raw = f.read(phentsize * phnum)
		# p = [type, flags, offset, vaddr, paddr, filesz, memsz, align]
		phdrs = [list(_PHDR.unpack_from(raw, i * phentsize)) for i in range(phnum)]
		loads = [p for p in phdrs if p[0] == PT_LOAD]
		if any(p[3] >= KERNEL_SPACE for p in loads):
			return 0
		info = None
		for p in phdrs:
			if p[0] != PT_NOTE:
				continue
			f.seek(p[2])
			for name, _, desc in _notes(f.read(p[5])):
				if name.rstrip(b'\0') == b'VMCOREINFO':
					info = vmcoreinfo(desc)
		if info is None:
			raise VmcoreError(f'{path}: no VMCOREINFO note; run QEMU with '
					  '-device vmcoreinfo and a kernel with CONFIG_FW_CFG_SYSFS')
		if info.get('KERNELOFFSET', '0') != '0':
			raise VmcoreError(f'{path}: KASLR kernel (KERNELOFFSET '
					  f'{info["KERNELOFFSET"]}); boot it with nokaslr')
		phys_base = int(info.get('NUMBER(phys_base)', '0'), 0)
		new = []
		for typ, flags, off, _, paddr, filesz, memsz, align in loads:
			new.append([typ, flags, off, PAGE_OFFSET + paddr, paddr, filesz, memsz, align])
			lo = max(paddr, phys_base)
			hi = min(paddr + memsz, phys_base + KERNEL_IMAGE_SIZE)
			if lo < hi:
				skip = lo - paddr
				new.append([typ, flags, off + skip, START_KERNEL_MAP + lo - phys_base,
					    lo, max(0, min(filesz - skip, hi - lo)), hi - lo, align])
		table = phdrs + new
		if len(table) >= 0xffff:
			raise VmcoreError(f'{path}: too many program headers')
		f.seek(0, 2)
		phoff = (f.tell() + 7) & ~7
		f.write(b'\0' * (phoff - f.tell()))
		for p in table:
			f.write(_PHDR.pack(*p))
		ehdr[5], ehdr[10] = phoff, len(table)
		f.seek(0)
		f.write(_EHDR.pack(*ehdr))
	return len(new)


if __name__ == '__main__':
	if len(sys.argv) != 2:
		print('usage: vmcore.py VMCORE  (adds kernel virtual addresses, in place)',
		      file=sys.stderr)
		sys.exit(2)
	try:
		n = add_kernel_vaddrs(Path(sys.argv[1]))
	except (OSError, VmcoreError) as e:
		print(f'vmcore.py: error: {e}', file=sys.stderr)
		sys.exit(1)
	print(f'{sys.argv[1]}: {n} program headers added')
