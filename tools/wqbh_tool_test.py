#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of the harness itself, on canned logs in test_data/.

Run: cd tools && /usr/bin/python3 -m unittest wqbh_tool_test
(`make check-harness` and `make check` run them too).  The KTAP tests need the base tree's
tools/testing/kunit/kunit_parser.py, i.e. build/linux must exist.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wqbh import (bench, conv, convert, jobs, kernel, ktap, plots, pystyle, qemu,	# noqa: E402
		  static_checks, stats, tree, vmcore)
from wqbh.common import DEFAULT_TREE, HarnessError	# noqa: E402

DATA = Path(__file__).resolve().parent / 'test_data'


def data_lines(name):
	return (DATA / name).read_text().splitlines()


class PyStyleTest(unittest.TestCase):
	"""One SPDX line and tabs, in every Python file of the project."""

	GOOD = '#!/usr/bin/python3\n# SPDX-License-Identifier: GPL-2.0-only\n' \
	       'def f(x):\n\tif x:\n\t\treturn (x +\n\t\t        1)\n\treturn """\n    kept\n"""\n'

	def test_good(self):
		self.assertEqual(pystyle.style_problems(self.GOOD), [])

	def test_spaces(self):
		said = pystyle.style_problems(self.GOOD.replace('\tif x:\n\t\t', '    if x:\n        '))
		self.assertEqual(said, ['4: indented with spaces, not tabs',
					'5: indented with spaces, not tabs'])

	def test_spdx(self):
		for spdx in ('GPL-2.0', 'GPL-2.0+', 'MIT'):
			with self.subTest(spdx=spdx):
				src = self.GOOD.replace('GPL-2.0-only', spdx)
				self.assertEqual(len(pystyle.style_problems(src)), 1)
				self.assertIn('SPDX', pystyle.style_problems(src)[0])


class CliTest(unittest.TestCase):
	"""The harness's command line is `python3 -m wqbh`, and nothing in
	tools/ shadows the package's name."""

	TOOLS = Path(__file__).resolve().parent

	def test_module_runs(self):
		env = dict(os.environ, PYTHONPATH=str(self.TOOLS))
		with tempfile.TemporaryDirectory() as cwd:	# not the checkout
			proc = subprocess.run([sys.executable, '-m', 'wqbh', '--help'], cwd=cwd,
					      env=env, text=True, capture_output=True)
		self.assertEqual(proc.returncode, 0, proc.stderr)
		self.assertTrue(proc.stdout.startswith('usage: wqbh '), proc.stdout[:200])
		for cmd in ('run', 'check', 'export', 'bench', 'conv', 'mbox'):
			self.assertIn(cmd, proc.stdout)

	def test_bad_command(self):
		env = dict(os.environ, PYTHONPATH=str(self.TOOLS))
		proc = subprocess.run([sys.executable, '-m', 'wqbh', 'no-such-command'],
				      env=env, text=True, capture_output=True)
		self.assertEqual(proc.returncode, 2)
		self.assertIn('invalid choice', proc.stderr)

	def test_no_module_shadows_a_package(self):
		packages = {p.parent.name for p in self.TOOLS.glob('*/__init__.py')}
		self.assertIn('wqbh', packages)
		clash = sorted(p.name for p in self.TOOLS.glob('*.py') if p.stem in packages)
		self.assertEqual(clash, [])

	def test_makefile_runs_the_module(self):
		proc = subprocess.run(['make', '-n', '-C', str(self.TOOLS.parent), 'check', 'export'],
				      text=True, capture_output=True)
		self.assertEqual(proc.returncode, 0, proc.stderr)
		for cmd in ('check', 'export'):
			self.assertRegex(proc.stdout, rf'PYTHONPATH=\S*/tools \S*python3 -m wqbh {cmd}\b')


@unittest.skipUnless((DEFAULT_TREE / 'tools/testing/kunit/kunit_parser.py').exists(),
		     'base tree not made yet')
class KtapTest(unittest.TestCase):
	def statuses(self, name):
		cases, _ = ktap.parse(data_lines(name), 'suite')
		return {c.name: c.status for c in cases}

	def test_all_pass(self):
		self.assertEqual(self.statuses('ktap_pass.log'),
				 {'suite: context_system_wq': 'pass', 'suite: self_free': 'pass',
				  'suite: requeue_system_wq': 'pass'})

	def test_failure_is_counted(self):
		st = self.statuses('ktap_fail.log')
		self.assertEqual(st['suite: self_free'], 'fail')
		self.assertEqual(list(st.values()).count('pass'), 2)

	def test_missing_cases_fail(self):
		st = self.statuses('ktap_short.log')
		self.assertIn('fail', st.values())

	def test_no_ktap_fails(self):
		st = self.statuses('console_clean.log')
		self.assertEqual(list(st.values()), ['fail'])

	def test_skipped_suite(self):
		st = self.statuses('ktap_skip.log')
		self.assertNotIn('pass', st.values())


class SectionsTest(unittest.TestCase):
	def test_split(self):
		out = jobs.sections(['noise', 'wqbh-section-begin: a', 'l1', 'l2',
				     'wqbh-section-end: a rc=0', 'wqbh-section-begin: b', 'l3'])
		self.assertEqual(out['a'], (['l1', 'l2'], 0))
		self.assertEqual(out['b'], (['l3'], -1))

	def test_job_reports_status(self):
		job = jobs.test_job(Path('/nonexistent'), 4, wq_dump=False)
		self.assertIn('guest sees 4 CPUs', job)
		self.assertTrue(job.rstrip().endswith('exit $status'))


	def test_wq_dump_ktap_job(self):
		out = Path('/k/out-debug')
		job = jobs.test_job(out, 4, wq_dump=False, wq_dump_ktap=True,
				    dump_request='/x/vmcore')
		self.assertIn('section wq-dump /usr/bin/drgn -q $syms', job)
		self.assertIn('-s /k/out-debug/lib/test_workqueue.ko', job)
		self.assertIn('wq_dump_ktap.py --park 3:8 --dump-request /x/vmcore', job)
		# one CPU: nothing can be parked
		job = jobs.test_job(out, 1, wq_dump=False, wq_dump_ktap=True,
				    dump_request='/x/vmcore')
		self.assertNotIn('--park', job)
		self.assertIn('section wq-dump-base ', jobs.wq_dump_ktap_job(out, '--expect-bh=no',
									 'wq-dump-base'))


def elf_note(name: bytes, ntype: int, desc: bytes) -> bytes:
	def pad(b):
		return b + b'\0' * (-len(b) % 4)
	return struct.pack('<III', len(name), len(desc), ntype) + pad(name) + pad(desc)


def fake_qemu_core(path, phys_base=0, kerneloffset=0):
	"""A tiny ELF core like QEMU's dump-guest-memory without paging: a note
	segment with VMCOREINFO and two PT_LOAD segments of physical memory."""
	info = elf_note(b'CORE\0', 1, b'\0' * 336) + elf_note(
		b'VMCOREINFO\0', 0, (f'OSRELEASE=6.1.0\nNUMBER(phys_base)={phys_base}\n'
				      f'KERNELOFFSET={kerneloffset:x}\n').encode())
	ehdr, phdr = vmcore._EHDR, vmcore._PHDR
	notes_off = ehdr.size + 3 * phdr.size
	data_off = notes_off + len(info)
	# QEMU sets p_vaddr to p_paddr
	phdrs = [(4, 0, notes_off, 0, 0, len(info), len(info), 0),
		 (1, 7, data_off, 0, 0, 0x1000, 0x1000, 0),
		 (1, 7, data_off + 0x1000, 0x1000000, 0x1000000, 0x2000, 0x2000, 0)]
	with open(path, 'wb') as f:
		f.write(ehdr.pack(b'\x7fELF\x02\x01\x01' + b'\0' * 9, 4, 62, 1, 0,
				  ehdr.size, 0, 0, ehdr.size, phdr.size, len(phdrs), 0, 0, 0))
		for p in phdrs:
			f.write(phdr.pack(*p))
		f.write(info)
		f.write(b'\xaa' * 0x3000)


def read_phdrs(path):
	with open(path, 'rb') as f:
		e = vmcore._EHDR.unpack(f.read(vmcore._EHDR.size))
		f.seek(e[5])
		return [vmcore._PHDR.unpack(f.read(vmcore._PHDR.size)) for _ in range(e[10])]


class VmcoreTest(unittest.TestCase):
	def setUp(self):
		self.tmp = Path(tempfile.mkdtemp())
		self.addCleanup(shutil.rmtree, self.tmp)

	def test_adds_direct_map_and_text_mapping(self):
		core = self.tmp / 'vmcore'
		fake_qemu_core(core)
		size = core.stat().st_size
		# the text mapping covers physical 0-512 MiB, both segments
		self.assertEqual(vmcore.add_kernel_vaddrs(core), 4)
		ph = read_phdrs(core)
		self.assertEqual(len(ph), 7)
		vaddrs = {(p[3], p[4], p[2]) for p in ph if p[0] == 1 and p[3]}
		self.assertIn((vmcore.PAGE_OFFSET, 0, ph[1][2]), vaddrs)
		self.assertIn((vmcore.PAGE_OFFSET + 0x1000000, 0x1000000, ph[2][2]), vaddrs)
		self.assertIn((vmcore.START_KERNEL_MAP + 0x1000000, 0x1000000, ph[2][2]), vaddrs)
		# data untouched, table appended
		self.assertGreater(core.stat().st_size, size)
		self.assertEqual(vmcore.add_kernel_vaddrs(core), 0)

	def test_refuses_kaslr_and_non_elf(self):
		core = self.tmp / 'vmcore'
		fake_qemu_core(core, kerneloffset=0x2000000)
		with self.assertRaises(vmcore.VmcoreError):
			vmcore.add_kernel_vaddrs(core)
		(self.tmp / 'text').write_text('not an ELF file at all, no no no no no no no')
		with self.assertRaises(vmcore.VmcoreError):
			vmcore.add_kernel_vaddrs(self.tmp / 'text')


class QmpTest(unittest.TestCase):
	"""The dump request path against a fake QMP server."""
	def test_dump_request(self):
		import socket
		import threading
		tmp = Path(tempfile.mkdtemp())
		self.addCleanup(shutil.rmtree, tmp)
		sock_path, got = tmp / 'qmp.sock', []
		srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		srv.bind(str(sock_path))
		srv.listen(1)

		def serve():
			conn, _ = srv.accept()
			f = conn.makefile('rw')
			f.write('{"QMP": {"version": {}}}\n')
			f.flush()
			for _ in range(2):
				got.append(json.loads(f.readline()))
				if got[-1]['execute'] == 'dump-guest-memory':
					fake_qemu_core(got[-1]['arguments']['protocol'][5:])
				f.write('{"event": "STOP"}\n{"return": {}}\n')
				f.flush()
			conn.close()
		th = threading.Thread(target=serve)
		th.start()
		vmcore = qemu.LOGS / 'qmp-test' / 'vmcore'
		vmcore.parent.mkdir(parents=True, exist_ok=True)
		qemu.serve_dump_request(sock_path, f'{qemu.DUMP_MARK} {vmcore}')
		th.join(5)
		srv.close()
		self.assertEqual(got[0]['execute'], 'qmp_capabilities')
		self.assertEqual(got[1], {'execute': 'dump-guest-memory',
					  'arguments': {'paging': False, 'protocol': f'file:{vmcore}'}})
		done = Path(f'{vmcore}.done')
		self.assertTrue(done.exists())
		shutil.rmtree(done.parent)

	def test_dump_request_without_disk_space(self):
		vmcore = qemu.LOGS / 'qmp-test' / 'vmcore'
		vmcore.parent.mkdir(parents=True, exist_ok=True)
		self.addCleanup(shutil.rmtree, vmcore.parent)
		# no QMP socket: it must not get as far as asking QEMU
		qemu.serve_dump_request(Path('/nonexistent.sock'), f'{qemu.DUMP_MARK} {vmcore}',
					  need_bytes=1 << 62)
		self.assertIn('the dump needs', Path(f'{vmcore}.skipped').read_text())
		self.assertTrue(Path(f'{vmcore}.done').exists())
		self.assertFalse(vmcore.exists())

	def test_memory_bytes(self):
		self.assertEqual(qemu.memory_bytes('2G'), 2 << 30)
		self.assertEqual(qemu.memory_bytes('512M'), 512 << 20)
		self.assertEqual(qemu.memory_bytes('1024'), 1 << 30)

	def test_dump_request_outside_logs_is_ignored(self):
		qemu.serve_dump_request(Path('/nonexistent.sock'), f'{qemu.DUMP_MARK} /etc/passwd')
		self.assertFalse(Path('/etc/passwd.done').exists())


def sh(cwd, *cmd, **kw):
	return subprocess.run(cmd, cwd=cwd, check=True, text=True,
			      stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw).stdout


class MaintainersTest(unittest.TestCase):
	def test_snippet_blocks(self):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-maint-'))
		try:
			snip = tmp / 'snippet'
			snip.write_text('# comment\n\nFOO\nM:\tA <a@b>\n+F:\tnew.c\n')
			self.assertEqual(tree.maintainers_blocks(snip), ['FOO\nM:\tA <a@b>\nF:\tnew.c'])
			(tmp / 'MAINTAINERS').write_text('X\n\nFOO\nM:\tA <a@b>\nF:\tnew.c\n\nY\n')
			tree.check_maintainers(tmp, snip)
			(tmp / 'MAINTAINERS').write_text('X\n\nFOO\nM:\tA <a@b>\n\nY\n')
			with self.assertRaisesRegex(HarnessError, 'lacks the entry "FOO"'):
				tree.check_maintainers(tmp, snip)
		finally:
			shutil.rmtree(tmp)


class BenchTest(unittest.TestCase):
	"""On the raw output of a real `make bench` (3 boots per kernel)."""
	def table(self, name):
		return bench.median_table(bench.parse_boots(data_lines(f'bench/{name}.txt')))

	def test_parse(self):
		boots = bench.parse_boots(data_lines('bench/series.txt'))
		self.assertEqual(len(boots), 3)
		self.assertEqual(boots[0][('latency', 'system_bh_wq')]['median_ns'], 11047)
		self.assertEqual(len([k for k in boots[0] if k[0] == 'latency']), 6)
		t = self.table('series')
		self.assertEqual(t[('latency', 'system_bh_wq')]['median_ns'], 11086)
		self.assertEqual(t[('throughput', 'tasklet')]['total_ns_per_item'], 211)

	def test_parse_ignores_noise(self):
		t = bench.parse(['[   1.0] random line', 'wqbh-bench: latency x median_ns abc',
				 'wqbh-bench: latency y median_ns 7 p99_ns 9'])
		self.assertEqual(t[('latency', 'x')], {})
		self.assertEqual(t[('latency', 'y')], {'median_ns': 7, 'p99_ns': 9})

	def test_report_ratios(self):
		text = bench.report(self.table('series'), self.table('base'))
		lat, thr = text.split('Throughput')

		def row(part, mech):
			return next(ln for ln in part.splitlines() if ln.startswith(mech + ' '))
		# latency: 11086 / 10185
		self.assertTrue(row(lat, 'system_bh_wq').endswith('1.09x'))
		# throughput: tasklet ns/item over ours, 211 / 398
		self.assertIn('0.53x', row(thr, 'system_bh_wq'))
		# the base kernel's median of 2443, 9584, 9915
		self.assertIn('with all mechanisms taking turns: 1.06x', text)
		self.assertIn('queue_work_already_pending', text)

	def test_report_tasklets_alone(self):
		series = bench.parse(['wqbh-bench: latency tasklet@alone median_ns 2100 p99_ns 9'])
		base = bench.parse(['wqbh-bench: latency tasklet@alone median_ns 2000 p99_ns 9'])
		text = bench.report(series, base)
		self.assertIn('tasklet alone (the same job on both kernels): 2100 against 2000 ns, 1.05x',
			      text)
		self.assertNotIn('tasklet_hi alone', text)

	def cdf_lines(self, scale):
		# a cdf line as the module prints it: p1, every 4th to p96, p99
		qs = [1] + list(range(4, 97, 4)) + [99]
		return [f'wqbh-bench: cdf {m} ' + ' '.join(f'p{q} {scale * (1000 + 10 * q)}' for q in qs)
			for m in ('tasklet', 'system_bh_wq')]

	def test_cdf_points_in_order(self):
		t = bench.parse(self.cdf_lines(1))
		xs, ys = plots.cdf(t[('cdf', 'tasklet')])
		self.assertEqual(len(xs), 26)
		self.assertEqual((ys[0], ys[-1]), (0.01, 0.99))
		self.assertEqual(xs, sorted(xs))
		self.assertEqual(xs[0], 1.01)	# µs

	@unittest.skipUnless(importlib.util.find_spec('matplotlib'),
			     'python3-matplotlib not installed (make check installs it)')
	def test_plots_and_json_written(self):
		tmp = Path(tempfile.mkdtemp())
		raw = {'series': ['# boot 1'] + data_lines('bench/series.txt')[1:] + self.cdf_lines(1),
		       'base': ['# boot 1'] + data_lines('bench/base.txt')[1:] + self.cdf_lines(2)}
		try:
			with mock.patch.object(bench, 'RESULTS', tmp):
				files = bench.draw(raw)
			self.assertEqual(sorted(f.name for f in files),
					 ['bench.json', 'latency-cdf.png', 'throughput.png'])
			for f in files[1:]:
				self.assertEqual(f.read_bytes()[:8], b'\x89PNG\r\n\x1a\n')
			doc = json.loads((tmp / 'bench.json').read_text())
			self.assertEqual(doc['medians']['base']['cdf']['tasklet']['p99'], 2 * 1990)
			self.assertGreaterEqual(len(doc['boots']['series']), 1)
		finally:
			shutil.rmtree(tmp)

	def test_no_cdf_lines_is_an_error(self):
		tmp = Path(tempfile.mkdtemp())
		try:
			with mock.patch.object(bench, 'RESULTS', tmp), \
			     self.assertRaisesRegex(HarnessError, 'no "cdf" lines'):
				bench.draw({'series': data_lines('bench/series.txt')})
		finally:
			shutil.rmtree(tmp)

	def test_take_turns(self):
		order = []

		class Boot:
			def __init__(self, name, i):
				self.lines = [f'wqbh-bench: workload w v {10 * i + (name == "base")}', 'noise']

			def ok(self):
				return True

			def output_lines(self):
				return self.lines

		def boot_one(name, out):
			order.append(name)
			return Boot(name, order.count(name))
		tables, raw = bench.take_turns({'series': Path('a'), 'base': Path('b')}, boot_one, 3, 't')
		self.assertEqual(order, ['series', 'base'] * 3)
		self.assertEqual(tables['series'][('workload', 'w')], {'v': 20})
		self.assertEqual(tables['base'][('workload', 'w')], {'v': 21})
		self.assertEqual(raw['base'], ['# boot 1', 'wqbh-bench: workload w v 11',
					       '# boot 2', 'wqbh-bench: workload w v 21',
					       '# boot 3', 'wqbh-bench: workload w v 31'])

	def test_median_over_boots(self):
		runs = [{('latency', 'x'): {'median_ns': v}} for v in (30, 10, 20)]
		self.assertEqual(bench.median_table(runs), {('latency', 'x'): {'median_ns': 20}})
		runs.append({('latency', 'x'): {'median_ns': 40}, ('latency', 'y'): {'p99_ns': 5}})
		m = bench.median_table(runs)
		self.assertEqual(m[('latency', 'x')]['median_ns'], 20)
		self.assertEqual(m[('latency', 'y')]['p99_ns'], 5)

	def test_report_missing_rows(self):
		text = bench.report({}, {})
		self.assertIn('system_wq', text)
		self.assertNotIn('Traceback', text)


class EarlyFailureTest(unittest.TestCase):
	"""A guest that goes wrong before init is booted again, not failed."""

	PRT = ('ACPI: \\_SB_.LNKC: ... AE_AML_LOOP_TIMEOUT\n'
	       'virtio-pci 0000:00:02.0: PCI INT A: can\'t derive routing for PCI INT A\n')

	def test_reasons(self):
		self.assertIn('ACPI PCI interrupt routing', qemu.early_failure(self.PRT, 0))
		self.assertIn('no console output', qemu.early_failure('Linux version 6.1\n',
									qemu.EARLY_STALL + 1))
		self.assertIsNone(qemu.early_failure('Linux version 6.1\n', 10))
		# once init runs, a quiet console is the job's business
		self.assertIsNone(qemu.early_failure(self.PRT + 'Run /sbin/init as init process\n',
						       10 ** 6))

	def results(self, *early):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-early-'))
		self.addCleanup(shutil.rmtree, tmp)
		return [qemu.BootResult(None if e else 0, False, tmp / 'c', tmp / 'o', [], 1.0, e)
			for e in early]

	def test_boot_again_after_an_early_failure(self):
		seq = self.results('ACPI PCI interrupt routing timed out (host load)', None)
		calls = []

		def once(out, job, name, **kwargs):
			calls.append(kwargs)
			return seq[len(calls) - 1]
		orig = qemu.boot_once
		qemu.boot_once = once
		try:
			res = qemu.boot(Path('/nonexistent'), 'true', 'x', smp=3)
		finally:
			qemu.boot_once = orig
		self.assertEqual(len(calls), 2)
		self.assertEqual(calls[0], {'smp': 3})
		self.assertEqual(res.exit_status, 0)

	def test_gives_up_with_a_clear_error(self):
		seq = self.results(*['stalled'] * qemu.BOOT_TRIES)
		orig = qemu.boot_once
		qemu.boot_once = lambda *a, **k: seq.pop(0)
		try:
			with self.assertRaisesRegex(HarnessError, 'went wrong before init'):
				qemu.boot(Path('/nonexistent'), 'true', 'x')
		finally:
			qemu.boot_once = orig
		self.assertEqual(seq, [])

	def test_watcher_kills_the_guest(self):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-early-'))
		self.addCleanup(shutil.rmtree, tmp)
		console = tmp / 'console.log'
		console.write_text(self.PRT)
		proc = subprocess.Popen(['sleep', '60'], start_new_session=True)
		why = []
		stop = qemu.threading.Event()
		qemu._watch_early(proc, console, stop, why, period=0.05)
		self.assertEqual(proc.wait(timeout=10), -9)
		self.assertEqual(len(why), 1)

	def test_describe_says_so(self):
		res = self.results('stalled')[0]
		self.assertIn('stopped before init: stalled', res.describe())


class DepsTest(unittest.TestCase):
	def test_non_debian_host_gets_a_message(self):
		"""No dpkg-query: one clear error naming the packages, no traceback."""
		from wqbh import deps
		orig = deps.shutil.which
		deps.shutil.which = lambda name: None
		try:
			with self.assertRaisesRegex(HarnessError, 'Debian 12') as cm:
				deps.ensure(['qemu-system-x86'])
		finally:
			deps.shutil.which = orig
		self.assertIn('--no-deps', str(cm.exception))
		self.assertIn('qemu-system-x86', str(cm.exception))


class ConfigTest(unittest.TestCase):
	def test_flavours_have_fragments(self):
		for flavour in kernel.FLAVOURS:
			lines = kernel.fragment_lines(flavour)
			if flavour in kernel.FLAVOUR_CROSS:
				continue	# booted from an initramfs (arm64.py)
			self.assertIn('CONFIG_9P_FS=y', lines)
		self.assertIn('CONFIG_KASAN=y', kernel.fragment_lines('debug'))
		self.assertNotIn('CONFIG_KASAN=y', kernel.fragment_lines('bench'))
		self.assertIn('CONFIG_DEBUG_INFO_NONE=y', kernel.fragment_lines('bisect'))

	def test_unknown_flavour(self):
		with self.assertRaises(HarnessError):
			kernel.fragment_lines('nope')

	def test_arch_args(self):
		self.assertTrue(set(kernel.COMPILE_ONLY) <= set(kernel.FLAVOURS))
		self.assertTrue(set(kernel.FLAVOUR_ARCH) <= set(kernel.FLAVOURS))
		self.assertEqual(kernel.arch_args(kernel.out_dir(Path('/t'), 'i386')), ['ARCH=i386'])
		for flavour in ('debug', 'bench', 'bisect', 'rt'):
			self.assertEqual(kernel.arch_args(kernel.out_dir(Path('/t'), flavour)), [])

	def test_allow_preempt_rt(self):
		self.assertIn('CONFIG_PREEMPT_RT=y', kernel.fragment_lines('rt'))
		with tempfile.TemporaryDirectory() as d:
			kconfig = Path(d) / 'arch' / 'x86' / 'Kconfig'
			kconfig.parent.mkdir(parents=True)
			kconfig.write_text('config 64BIT\n\tbool\n\nconfig X86\n\tdef_bool y\n'
					   '\tselect ARCH_32BIT_OFF_T\n')
			kernel.allow_preempt_rt(Path(d))
			kernel.allow_preempt_rt(Path(d))	# once only
			self.assertEqual(kconfig.read_text(),
					 'config 64BIT\n\tbool\n\nconfig X86\n\tdef_bool y\n'
					 '\tselect ARCH_SUPPORTS_RT\n\tselect ARCH_32BIT_OFF_T\n')
			kconfig.write_text('config X86_64\n\tdef_bool y\n')
			with self.assertRaises(HarnessError):
				kernel.allow_preempt_rt(Path(d))


class KernelDocTest(unittest.TestCase):
	BASE = ['kernel/workqueue.c:5100: warning: No description found for return value of \'foo\'',
		'kernel/workqueue.c:5200: warning: No description found for return value of \'foo\'',
		'drivers/x.c:621: warning: This comment starts with \'/**\', but isn\'t a kernel-doc comment.']

	def test_moved_lines_are_not_new(self):
		series = ['kernel/workqueue.c:6100: warning: No description found for return value of \'foo\'',
			  'kernel/workqueue.c:6200: warning: No description found for return value of \'foo\'',
			  'drivers/x.c:640: warning: This comment starts with \'/**\', but isn\'t a kernel-doc comment.']
		self.assertEqual(static_checks.kernel_doc_new(series, self.BASE), [])

	def test_new_and_repeated_warnings(self):
		new = ['kernel/workqueue.c:6300: warning: No description found for return value of \'foo\'',
		       'kernel/workqueue.c:700: warning: Function parameter or member \'wq\' not described in \'bar\'']
		series = self.BASE + new
		self.assertEqual(static_checks.kernel_doc_new(series, self.BASE), new)

	def test_real_kernel_doc(self):
		if not shutil.which('perl'):
			self.skipTest('no perl')
		with tempfile.TemporaryDirectory() as d:
			t = Path(d)
			(t / 'scripts').mkdir()
			script = DEFAULT_TREE / 'scripts' / 'kernel-doc'
			if not script.exists():
				self.skipTest('no base tree yet')
			shutil.copy(script, t / 'scripts' / 'kernel-doc')
			(t / 'a.c').write_text('/**\n * foo() - do it\n * @x: x\n */\nint foo(int x, int y)\n{\n\treturn x;\n}\n')
			found = static_checks.kernel_doc(t, ['a.c', 'missing.c'])
			self.assertTrue(any("'y' not described in 'foo'" in line for line in found), found)
			self.assertTrue(all(line.startswith('a.c:') for line in found), found)


class CheckpatchTest(unittest.TestCase):
	"""checkpatch --strict reports that count as clean: only the argument
	reuse of declaration macros, on a real report (DECLARE_WORK_DISABLED)."""
	REPORT = (DATA / 'checkpatch' / 'declare_reuse.txt').read_text()

	def test_declaration_macro_reuse_is_clean(self):
		self.assertIn('2 checks', self.REPORT)
		self.assertTrue(tree.checkpatch_verdict(self.REPORT))

	def test_other_macro_reuse_is_not(self):
		other = self.REPORT.replace('#define DECLARE_WORK_DISABLED(', '#define WORK_MAX(')
		self.assertFalse(tree.checkpatch_verdict(other))

	def test_warnings_and_empty_reports_are_not(self):
		self.assertFalse(tree.checkpatch_verdict(''))
		warned = self.REPORT.replace('0 warnings', '1 warnings') + \
			'\n\nWARNING: line length of 101 exceeds 100 columns\n#1: FILE: a.c:1:\n'
		self.assertFalse(tree.checkpatch_verdict(warned))


class ConvertTest(unittest.TestCase):
	"""The tasklet converter's harness, on spatch's real output for
	kernel/backtracetest.c of the base tree and on a real report."""
	DIR = DATA / 'convert'

	def test_sites_leave_comments_out(self):
		self.assertEqual(convert.sites('/* tasklet_kill() */ tasklet_schedule(&t);\n'
					       '// tasklet_init\nx = from_tasklet(a, t, m);'), 2)
		self.assertEqual(convert.sites((self.DIR / 'backtracetest.c').read_text()), 2)

	def test_report_reasons_per_file(self):
		why = convert.left_reasons((self.DIR / 'report.txt').read_text())
		self.assertEqual(why, {'drivers/atm/solos-pci.c': ['spin'],
				       'drivers/bus/mhi/host/init.c': ['data']})

	def test_diff_applies_and_converts_whole(self):
		with tempfile.TemporaryDirectory() as d:
			src = Path(d)
			(src / 'kernel').mkdir()
			shutil.copy(self.DIR / 'backtracetest.c', src / 'kernel' / 'backtracetest.c')
			subprocess.run(['git', 'init', '-q', str(src)], check=True)
			changed = convert.apply_diff(src, (self.DIR / 'backtracetest.diff').read_text())
			self.assertEqual(changed, ['kernel/backtracetest.c'])
			text = (src / 'kernel' / 'backtracetest.c').read_text()
			self.assertEqual(convert.sites(text), 0)
			self.assertIn('queue_work(system_bh_wq, &backtrace_tasklet);', text)
			self.assertEqual(convert.agreement(text, text), [])

	def test_agreement_in_substance(self):
		converted = 'INIT_WORK(&w, f); enable_work(&w); cancel_work_sync(&w);'
		self.assertEqual(convert.agreement(converted, 'INIT_WORK(&w, f); '
						   'enable_and_queue_work(wq, &w); cancel_work_sync(&w);'), [])
		problems = convert.agreement(converted + ' tasklet_kill(&t);', 'INIT_WORK(&w, f);')
		self.assertEqual(len(problems), 3, problems)
		self.assertTrue(any('cancel_work_sync' in p for p in problems))

	def test_table_counts(self):
		O = convert.Outcome
		got = {'a.c': O(3, 'converted', compiled=True), 'b.c': O(2, 'converted', compiled=False),
		       'c.c': O(4, 'left', ['spin']), 'd.c': O(1, 'converted'),
		       'e.c': O(1, 'partial')}
		text = convert.table(got, 2, 600)
		self.assertIn('| C files using tasklets | 5 (11 sites), and 2 headers |', text)
		self.assertIn('| converted whole | 3 (60%; 6 sites) |', text)
		self.assertIn('| - left: spin | 1 |', text)
		self.assertIn('| converted and compiling | 1 (50% of those built; 25% of all', text)


class ConversionsTest(unittest.TestCase):
	def test_every_conversion_has_its_script(self):
		names = [c.name for c in conv.CONVERSIONS]
		self.assertEqual(names, ['usb', 'vt', 'ipmi', 'tsq'])
		for c in conv.CONVERSIONS:
			self.assertTrue(c.script.exists(), c.script)

	def test_usb_devices_and_images(self):
		with tempfile.TemporaryDirectory() as d:
			logdir = Path(d)
			with conv.host_peers(logdir, conv.CONVERSIONS) as args:
				data = conv.usb_data(logdir)
				self.assertEqual(args['vt'], [])
				self.assertEqual(args['usb'][:2], [str(conv.USB_DISK_MIB), str(data)])
				self.assertEqual(data.stat().st_size, conv.USB_DISK_MIB << 20)
				self.assertEqual(args['usb'][2],
						 hashlib.sha256(data.read_bytes()).hexdigest())
				qemu = conv.devices(logdir, conv.CONVERSIONS)
				imgs = sorted(logdir.glob('*.img'))
				self.assertEqual(len(imgs), 2)
				self.assertEqual([p.name for p in imgs], ['usb-ehci.img', 'usb-xhci.img'])
				for img in imgs:
					# large enough for the transfer, and sparse
					self.assertGreater(img.stat().st_size, conv.USB_DISK_MIB << 20)
					self.assertLess(img.stat().st_blocks * 512, 1 << 20)
				joined = ' '.join(qemu)
				for want in ('qemu-xhci,id=xhci', 'usb-ehci,id=ehci',
					     'usb-storage,bus=xhci.0,drive=usbdisk-xhci',
					     'usb-storage,bus=ehci.0,drive=usbdisk-ehci',
					     'usb-kbd,bus=xhci.0', f'file={imgs[1]}'):
					self.assertIn(want, joined)
				# each -drive is used by exactly one -device
				drives = [a.split('id=')[1].split(',')[0] for a in qemu if a.startswith('if=none')]
				for drv in drives:
					self.assertEqual(joined.count(f'drive={drv}'), 1)
				# a second boot starts from empty images
				imgs[0].write_bytes(b'old data')
				conv.devices(logdir, conv.CONVERSIONS)
				with open(imgs[0], 'rb') as f:
					self.assertEqual(f.read(8), bytes(8))
			# the images and the data are gone once the boot is over
			left = [p.name for p in logdir.iterdir()]
			self.assertEqual([n for n in left if n.startswith('usb')], [])

	def test_check_boot_has_at_most_check_smp_cpus(self):
		"""make check's 4 CPUs become conv.CHECK_SMP for the conversions
		boot; a bench boot keeps what it is given."""
		from wqbh import cli
		for mode, smp, want in (('check', 4, conv.CHECK_SMP), ('check', 1, 1),
					('bench', 4, 4)):
			with self.subTest(mode=mode, smp=smp), tempfile.TemporaryDirectory() as d, \
			     mock.patch.object(conv, 'LOGS', Path(d)), \
			     mock.patch.object(cli.qemu, 'boot', return_value='booted') as boot:
				args = argparse.Namespace(smp=smp, timeout=900)
				self.assertEqual(cli.boot_conversions(Path(d), 'c', mode, args), 'booted')
				self.assertEqual(boot.call_args.kwargs['smp'], want)

	def test_job_runs_every_script(self):
		job = conv.job(conv.CONVERSIONS, 'bench', {'usb': ['64', '/d', 'ab']})
		self.assertIn(f'section conv-usb sh {conv.GUEST}/conv_usb.sh bench 64 /d ab || status=1', job)
		self.assertIn(f'section conv-vt sh {conv.GUEST}/conv_vt.sh bench || status=1', job)

	def test_stress_only_in_check_mode(self):
		"""The teardown and hotplug stress sizes follow the peer's
		arguments in check mode, and bench mode has none."""
		args = {'usb': ['64', '/d', 'ab'], 'tsq': ['4242']}
		check = conv.job(conv.CONVERSIONS, 'check', args)
		self.assertIn(f'conv_usb.sh check 64 /d ab {conv.USB_UNBIND_CYCLES} || status=1', check)
		self.assertIn(f'conv_ipmi.sh check {conv.IPMI_UNBIND_CYCLES} || status=1', check)
		self.assertIn(f'conv_tsq.sh check 4242 {conv.TSQ_HOTPLUG_CYCLES} {conv.TSQ_CHECK_MIB} '
			      '|| status=1', check)
		self.assertIn('conv_vt.sh check || status=1', check)
		bench_job = conv.job(conv.CONVERSIONS, 'bench', args)
		self.assertIn('conv_ipmi.sh bench || status=1', bench_job)
		self.assertIn('conv_tsq.sh bench 4242 || status=1', bench_job)

	def test_workload_lines_parse(self):
		t = bench.parse(['wqbh-bench: workload usb-xhci write_kib_s 9000 read_kib_s 12000',
				 'wqbh-bench: workload vt toggles_per_s 800 us_per_toggle 1250'])
		self.assertEqual(t[('workload', 'usb-xhci')], {'write_kib_s': 9000, 'read_kib_s': 12000})
		text = bench.workload_report(t, {})
		self.assertIn('toggles_per_s', text)


class ConvTest(unittest.TestCase):
	"""The IPMI and TSQ conversions: entries, job text, the TSQ host peer."""
	SENDER = Path(__file__).resolve().parent / 'guest' / 'conv_tsq_send.py'

	def test_entries(self):
		convs = [c for c in conv.CONVERSIONS if c.name in ('ipmi', 'tsq')]
		args = conv.devices(Path('/nonexistent'), convs)
		self.assertIn('isa-ipmi-kcs,bmc=bmc0', args)
		self.assertIn('virtio-net-pci,netdev=n0', args)

	def test_job_passes_peer_args(self):
		text = conv.job(conv.CONVERSIONS, 'check', {'tsq': ['4242']})
		self.assertIn('section conv-ipmi sh ', text)
		self.assertRegex(text, r'section conv-tsq sh \S+conv_tsq.sh check 4242 ')

	def test_bench_lines_parse(self):
		t = bench.parse(['wqbh-bench: workload ipmi commands 200 elapsed_ms 900 commands_per_s 222',
				 'wqbh-bench: workload tsq mib 256 elapsed_ms 4000 kib_per_s 65536'])
		self.assertEqual(t[('workload', 'ipmi')]['commands_per_s'], 222)
		self.assertEqual(t[('workload', 'tsq')]['kib_per_s'], 65536)

	def test_peer_with_the_guest_sender(self):
		with tempfile.TemporaryDirectory() as d:
			with conv.tsq_peer(Path(d)) as args:
				proc = subprocess.run([sys.executable, str(self.SENDER), '127.0.0.1',
						       args[0], '3'], text=True, timeout=60,
						      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
			log = (Path(d) / 'tsq-peer.log').read_text().split()
		self.assertEqual(proc.returncode, 0, proc.stdout)
		sent = proc.stdout.split()
		self.assertEqual(sent[0], 'sent')
		self.assertEqual(int(sent[1]), 3 << 20)
		# the peer hashed what the guest's generator makes
		h = hashlib.sha256()
		spec = importlib.util.spec_from_file_location('conv_tsq_send', self.SENDER)
		mod = importlib.util.module_from_spec(spec)
		spec.loader.exec_module(mod)
		for c in mod.chunks(3):
			h.update(c)
		self.assertEqual(log, [str(3 << 20), h.hexdigest()])
		self.assertEqual(sent[3], h.hexdigest())

	def test_sender_fails_on_wrong_digest(self):
		import socket
		import threading
		srv = socket.create_server(('127.0.0.1', 0))
		port = srv.getsockname()[1]

		def liar():
			conn, _ = srv.accept()
			with conn:
				while conn.recv(1 << 16):
					pass
				conn.sendall(b'0' * 64 + b' 1048576\n')
		th = threading.Thread(target=liar, daemon=True)
		th.start()
		proc = subprocess.run([sys.executable, str(self.SENDER), '127.0.0.1', str(port), '1'],
				      text=True, timeout=60, stdout=subprocess.PIPE)
		th.join(5)
		srv.close()
		self.assertEqual(proc.returncode, 1)

	def test_peer_drops_idle_connection(self):
		import socket
		import time
		peer = conv.TsqPeer(timeout=0.5).start()
		try:
			c = socket.create_connection(('127.0.0.1', peer.port), timeout=5)
			c.sendall(b'x' * 10)
			start = time.monotonic()
			self.assertEqual(c.recv(100), b'')	# closed by the peer
			self.assertLess(time.monotonic() - start, 5)
			c.close()
		finally:
			peer.stop()
		self.assertEqual(len(peer.results), 1)
		self.assertTrue(peer.results[0].startswith('error:'), peer.results)
		self.assertIn('after 10 bytes', peer.results[0])

	def test_peer_stops_promptly(self):
		import time
		peer = conv.TsqPeer().start()
		start = time.monotonic()
		peer.stop()
		self.assertLess(time.monotonic() - start, 3)
		self.assertFalse(peer._thread.is_alive())



class TaskletCountTest(unittest.TestCase):
	"""The job's count of tasklet executions and the host's reading of it."""

	def test_end_of_job_counts_boot_and_job(self):
		tmp = Path(tempfile.mkdtemp())
		try:
			tli = tmp / 'instance'
			(tli / 'events/irq/tasklet_entry').mkdir(parents=True)
			(tli / 'events/irq/tasklet_entry/enable').write_text('1\n')
			for cpu, over in ((0, 0), (1, 3)):
				(tli / f'per_cpu/cpu{cpu}').mkdir(parents=True)
				(tli / f'per_cpu/cpu{cpu}/stats').write_text(f'entries: 9\noverrun: {over}\n')
			(tli / 'trace').write_text(
				'  <idle>-0 [001] ..s1. 5.1: tasklet_entry: tasklet=0xffff function=resend_irqs\n'
				'  <idle>-0 [001] ..s1. 5.2: tasklet_entry: tasklet=0xffff function=kbd_bh\n'
				'  <idle>-0 [001] ..s1. 5.3: tasklet_entry: tasklet=0xffff function=resend_irqs\n')
			(tmp / 'boot').write_text('function=resend_irqs\n')
			script = f'TLI={tli}\nTLB={tmp / "boot"}\n' + jobs.TASKLETS_END
			out = subprocess.run(['sh', '-eu', '-c', script], capture_output=True,
					     text=True, check=True).stdout.splitlines()
			self.assertEqual(jobs.tasklet_counts(out),
					 ({'resend_irqs': 3, 'kbd_bh': 1}, 3))
		finally:
			shutil.rmtree(tmp)

	def test_no_count_without_the_lines(self):
		self.assertIsNone(jobs.tasklet_counts(['wqbh-section-begin: x', 'ok 1 y']))
		self.assertEqual(jobs.tasklet_counts(['wqbh-tasklets-overrun: 0']), ({}, 0))

	def test_summary(self):
		self.assertEqual(jobs.tasklet_summary({}, 0), '0 tasklet executions')
		self.assertEqual(jobs.tasklet_summary({'a': 1, 'b': 5, 'c': 1}, 2),
				 '7 tasklet executions: b 5, a 1, c 1 '
				 '(and 2 events lost to a full trace buffer)')

	def test_every_job_counts_only_on_debug_kernels(self):
		self.assertIn('tasklets_begin', jobs.PRELUDE)
		self.assertIn('tasklets_end', jobs.TAIL)
		self.assertTrue(jobs.TAIL.rstrip().endswith('exit $status'))
		self.assertEqual(qemu.tasklet_cmdline(Path('/t/out-debug')),
				 ['trace_event=irq:tasklet_entry'])
		self.assertEqual(qemu.tasklet_cmdline(Path('/t/out-arm64')),
				 ['trace_event=irq:tasklet_entry'])
		self.assertEqual(qemu.tasklet_cmdline(Path('/t/out-bench')), [])



class AccelTest(unittest.TestCase):
	"""KVM where /dev/kvm is usable, TCG otherwise, and which one is said."""

	def setUp(self):
		qemu._KVM_VERDICT.clear()

	def tearDown(self):
		qemu._KVM_VERDICT.clear()

	def test_device_that_cannot_boot_is_tcg(self):
		# this workplace's nested KVM: /dev/kvm answers, no guest runs
		with mock.patch.object(qemu, 'kvm_usable', return_value=None), \
		     mock.patch.object(qemu, 'kvm_boots', return_value='QEMU under KVM: '
				       'error: failed to set MSR 0x10a to 0x69') as probe:
			self.assertEqual(qemu.accel_args(Path('/t/bzImage')), ('TCG', ['-accel', 'tcg']))
			self.assertEqual(qemu.accel_args(Path('/t/bzImage')), ('TCG', ['-accel', 'tcg']))
		self.assertEqual(probe.call_count, 1)	# once a run

	def test_device_that_boots_is_kvm(self):
		with mock.patch.object(qemu, 'kvm_usable', return_value=None), \
		     mock.patch.object(qemu, 'kvm_boots', return_value=None):
			self.assertEqual(qemu.accel_args(Path('/t/bzImage'))[0], 'KVM')

	def test_no_device_is_tcg(self):
		with mock.patch.dict(os.environ, {'WQBH_ACCEL': ''}):
			why = qemu.kvm_usable(Path('/nonexistent/kvm'))
		self.assertIn('/nonexistent/kvm', why)

	def test_forced_tcg(self):
		with mock.patch.dict(os.environ, {'WQBH_ACCEL': 'tcg'}):
			self.assertEqual(qemu.kvm_usable(), 'WQBH_ACCEL=tcg')
			self.assertEqual(qemu.accel_args(), ('TCG', ['-accel', 'tcg']))

	def test_kvm_when_usable(self):
		with mock.patch.object(qemu, 'kvm_usable', return_value=None):
			self.assertEqual(qemu.accel_args(),
					 ('KVM', ['-accel', 'kvm', '-cpu', 'host']))

	def test_not_a_kvm_device(self):
		# /dev/null opens read-write but is no KVM device
		with mock.patch.dict(os.environ, {'WQBH_ACCEL': ''}):
			why = qemu.kvm_usable(Path('/dev/null'))
		self.assertIsNotNone(why)
		self.assertIn('/dev/null', why)


if __name__ == '__main__':
	unittest.main()


class StatsTest(unittest.TestCase):
	"""conversion.md's statistics (wqbh.stats) and the data they come from."""

	REPO = Path(__file__).resolve().parent.parent
	RUN = REPO / 'Documentation' / 'data' / 'conv-bench'

	def test_ranks_share_ties(self):
		self.assertEqual(stats.ranks([10, 20, 20, 5]), [2.0, 3.5, 3.5, 1.0])

	def test_u(self):
		self.assertEqual(stats.mann_whitney_u([1, 2, 3], [4, 5, 6]), 0)
		self.assertEqual(stats.mann_whitney_u([4, 5, 6], [1, 2, 3]), 9)
		self.assertEqual(stats.mann_whitney_u([2], [2]), 0.5)

	def test_exact_p(self):
		# of the 20 splits of six values into three and three, only the two
		# fully separated ones are as uneven as 1,2,3 against 4,5,6
		self.assertAlmostEqual(stats.permutation_p([1, 2, 3], [4, 5, 6]), 2 / 20)
		self.assertAlmostEqual(stats.permutation_p([4, 5, 6], [1, 2, 3]), 2 / 20)
		# five against five: 2 of C(10, 5) = 252 splits
		self.assertAlmostEqual(stats.permutation_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]),
				       2 / 252)
		self.assertEqual(stats.permutation_p([7, 7, 7], [7, 7, 7]), 1.0)
		self.assertEqual(stats.permutation_p([1, 4, 5, 8], [2, 3, 6, 7]), 1.0)

	def test_drawn_p_is_repeatable(self):
		a, b = list(range(0, 26, 2)), list(range(1, 27, 2))	# 13 and 13: drawn
		self.assertGreater(stats._choose(26, 13), stats.EXACT_SPLITS)
		p = stats.permutation_p(a, b)
		self.assertEqual(p, stats.permutation_p(a, b))
		self.assertGreater(p, 0.7)
		self.assertLess(stats.permutation_p(list(range(13)), list(range(100, 113))), 0.001)

	def test_no_values(self):
		with self.assertRaises(HarnessError):
			stats.permutation_p([], [1])

	def test_rows(self):
		series = [{('workload', 'vt'): {'toggles_per_s': v}} for v in (900, 1000, 1100)]
		base = [{('workload', 'vt'): {'toggles_per_s': v}} for v in (400, 500, 600)]
		(row,) = stats.rows(series, base)
		self.assertEqual((row.label, row.series, row.base, row.boots),
				 ('VT keyboard LEDs', 1000, 500, (3, 3)))
		self.assertAlmostEqual(row.ratio, 2.0)
		self.assertAlmostEqual(row.p, 0.1)
		self.assertIn('| VT keyboard LEDs | toggles per second | 1000 | 500 | 2.00x | 0.10 | 3, 3 |',
			      stats.markdown([row]))

	def test_missing_run(self):
		with tempfile.TemporaryDirectory() as d:
			with self.assertRaisesRegex(HarnessError, 'conversions-series.txt is missing'):
				stats.load_run(Path(d))

	def test_conversion_md_has_the_tables_of_its_data(self):
		"""The table in conversion.md is what the script makes of the run
		kept in the repository, so that the two can't drift apart."""
		table = stats.markdown(stats.rows(*stats.load_run(self.RUN)))
		doc = (self.REPO / 'Documentation' / 'conversion.md').read_text()
		self.assertIn(table, doc)

