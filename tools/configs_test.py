#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of the configurations' compile check (wqbh/configs.py) and
of the arm64 boot (wqbh/arm64.py), without compiling or booting.

Run: /usr/bin/python3 -m unittest tools/configs_test.py
(`make check` runs them too).
"""

import re
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wqbh import arm64, configs, jobs, kernel, qemu, static_checks	# noqa: E402
from wqbh.common import CONFIGS, DEFAULT_TREE, GUEST	# noqa: E402

GCC_OUTPUT = '''\
  CC      kernel/workqueue.o
../kernel/workqueue.c: In function 'bh_pool_kick':
../kernel/workqueue.c:1203:13: warning: 'bh_pool_irq_work' defined but not used [-Wunused-function]
 1203 | static void bh_pool_irq_work(struct irq_work *work)
      |             ^~~~~~~~~~~~~~~~
In file included from ../include/linux/workqueue.h:9,
../include/linux/workqueue.h:50:1: warning: something in a header [-Wfoo]
../include/linux/other.h:7:2: warning: not a touched file [-Wbar]
../kernel/softirq.c:99: warning: no column here [-Wbaz]
../kernel/softirq.c:12:5: error: an error is no warning
../kernel/softirq.c:13:1: note: a note is no warning
'''


class WarningsTest(unittest.TestCase):
	WATCH = ['kernel/workqueue.c', 'kernel/softirq.c', 'include/linux/workqueue.h']

	def test_parse_keeps_warnings_of_watched_files(self):
		got = configs.parse_warnings(GCC_OUTPUT, self.WATCH)
		self.assertEqual(got, [
			"kernel/workqueue.c:1203:13: warning: 'bh_pool_irq_work' defined but not "
			'used [-Wunused-function]',
			'include/linux/workqueue.h:50:1: warning: something in a header [-Wfoo]',
			'kernel/softirq.c:99: warning: no column here [-Wbaz]'])

	def test_same_warning_elsewhere_in_the_file_is_not_new(self):
		base = ['kernel/workqueue.c:10:1: warning: a [-Wx]']
		series = ['kernel/workqueue.c:99:7: warning: a [-Wx]']
		self.assertEqual(configs.new_warnings(series, base), [])

	def test_warnings_are_counted(self):
		base = ['kernel/workqueue.c:10:1: warning: a [-Wx]']
		series = ['kernel/workqueue.c:20:1: warning: a [-Wx]',
			  'kernel/workqueue.c:30:1: warning: a [-Wx]']
		self.assertEqual(configs.new_warnings(series, base), series[1:])

	def test_same_message_in_another_file_is_new(self):
		base = ['kernel/softirq.c:10:1: warning: a [-Wx]']
		series = ['kernel/workqueue.c:10:1: warning: a [-Wx]']
		self.assertEqual(configs.new_warnings(series, base), series)

	def test_quotes_of_any_locale(self):
		utf8 = 'kernel/workqueue.c:1:2: warning: \u2018f\u2019 defined but not used [-Wx]'
		self.assertEqual(configs.parse_warnings('../' + utf8, ['kernel/workqueue.c']),
				 ["kernel/workqueue.c:1:2: warning: 'f' defined but not used [-Wx]"])
		self.assertEqual(configs.new_warnings(
			["kernel/workqueue.c:5:2: warning: 'f' defined but not used [-Wx]"], [utf8]), [])

	def test_a_file_without_base_has_only_new_warnings(self):
		series = ['lib/test_workqueue.c:5:1: warning: a [-Wx]']
		self.assertEqual(configs.new_warnings(series, []), series)

	def test_renamed_function_keeps_its_base_warning(self):
		old, new = next(iter(static_checks.SPARSE_RENAMES.items()))
		base = [f"drivers/char/ipmi/ipmi_msghandler.c:1:1: warning: '{old}' x [-Wx]"]
		series = [f"drivers/char/ipmi/ipmi_msghandler.c:9:1: warning: '{new}' x [-Wx]"]
		self.assertEqual(configs.new_warnings(series, base), [])


class MakefileTest(unittest.TestCase):
	"""Which touched files a configuration builds, on a toy tree."""

	def setUp(self):
		self.src = Path(tempfile.mkdtemp(prefix='wqbh-cfgtest-'))
		self.addCleanup(shutil.rmtree, self.src, ignore_errors=True)
		files = {
			'kernel/Makefile': 'obj-y = fork.o \\\n\tworkqueue.o\n'
					   'obj-$(CONFIG_BACKTRACE_SELF_TEST) += backtracetest.o\n',
			'drivers/Makefile': 'obj-y += char/ipmi/\nobj-$(CONFIG_USB) += usb/\n'
					    'obj-$(CONFIG_USB_SUPPORT) += usb/\n',
			'drivers/char/ipmi/Makefile': 'obj-$(CONFIG_IPMI_HANDLER) += ipmi_msghandler.o\n',
			'drivers/usb/Makefile': 'obj-$(CONFIG_USB)\t\t+= core/\n',
			'drivers/usb/core/Makefile': 'usbcore-y := usb.o hub.o hcd.o\n'
						     'obj-$(CONFIG_USB)\t+= usbcore.o\n',
			'drivers/misc/Makefile': 'obj-y += other.o\n',
		}
		for path, text in files.items():
			(self.src / path).parent.mkdir(parents=True, exist_ok=True)
			(self.src / path).write_text(text)

	def why(self, conf, path):
		return configs.not_built(self.src, conf, path)

	def test_obj_y_is_built(self):
		self.assertEqual(self.why({}, 'kernel/workqueue.c'), [])

	def test_continuation_lines(self):
		text = 'obj-y = a.o \\\n  b.o\n'
		self.assertEqual(configs.makefile_assignments(text), [('obj', 'y', ['a.o', 'b.o'])])

	def test_symbol_off(self):
		self.assertEqual(self.why({}, 'kernel/backtracetest.c'),
				 ['CONFIG_BACKTRACE_SELF_TEST'])
		self.assertEqual(self.why({'CONFIG_BACKTRACE_SELF_TEST': 'm'},
					  'kernel/backtracetest.c'), [])

	def test_composite_object_and_directories(self):
		self.assertEqual(self.why({}, 'drivers/usb/core/hcd.c'), ['CONFIG_USB'])
		self.assertEqual(self.why({'CONFIG_USB': 'y'}, 'drivers/usb/core/hcd.c'), [])

	def test_directory_listed_by_its_grandparent(self):
		self.assertEqual(self.why({}, 'drivers/char/ipmi/ipmi_msghandler.c'),
				 ['CONFIG_IPMI_HANDLER'])
		self.assertEqual(self.why({'CONFIG_IPMI_HANDLER': 'm'},
					  'drivers/char/ipmi/ipmi_msghandler.c'), [])

	def test_file_no_makefile_names_is_compiled(self):
		self.assertEqual(self.why({}, 'drivers/misc/unknown.c'), [])

	def test_read_config(self):
		path = self.src / '.config'
		path.write_text('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x"\n')
		self.assertEqual(configs.read_config(path), {'CONFIG_A': 'y', 'CONFIG_C': '"x"'})

	@unittest.skipUnless((DEFAULT_TREE / 'kernel' / 'Makefile').exists(), 'no build/linux')
	def test_real_tree(self):
		"""The series' files in the real tree: tinyconfig without USB
		builds no hcd.c; the workqueue always."""
		conf = {'CONFIG_NET': 'y', 'CONFIG_INET': 'y'}
		self.assertEqual(configs.not_built(DEFAULT_TREE, conf, 'kernel/workqueue.c'), [])
		self.assertEqual(configs.not_built(DEFAULT_TREE, conf, 'net/ipv4/tcp.c'), [])
		self.assertIn('CONFIG_USB', configs.not_built(DEFAULT_TREE, conf,
							      'drivers/usb/core/hcd.c'))
		# net/ itself is listed by the tree's Kbuild under CONFIG_NET
		self.assertEqual(configs.not_built(DEFAULT_TREE, {}, 'net/ipv4/tcp.c'),
				 ['CONFIG_INET', 'CONFIG_NET'])
		self.assertEqual(configs.not_built(DEFAULT_TREE, {}, 'kernel/softirq.c'), [])


class ConfigurationsTest(unittest.TestCase):
	def test_names(self):
		names = [c.name for c in configs.CONFIGS]
		for want in ('!SMP tinyconfig', 'allmodconfig', 'Debian 6.1 amd64',
			     'arm64 defconfig', 'PREEMPT_RT', '32-bit x86 (ARCH=i386)'):
			self.assertIn(want, names)
		self.assertEqual(len(set(c.slug for c in configs.CONFIGS)), len(names))

	def test_w1_files(self):
		w1 = [c for c in configs.CONFIGS if c.w1]
		self.assertEqual(len(w1), 1)
		self.assertEqual(w1[0].w1, ['kernel/workqueue.c', 'kernel/softirq.c'])

	def test_tiny_is_uniprocessor(self):
		tiny = next(c for c in configs.CONFIGS if c.slug == 'tiny')
		self.assertIn('# CONFIG_SMP is not set', tiny.fragment)
		self.assertIn('# CONFIG_HOTPLUG_CPU is not set', tiny.fragment)

	def test_allmodconfig_warnings_are_not_errors(self):
		allmod = next(c for c in configs.CONFIGS if c.slug == 'allmod')
		self.assertIn('# CONFIG_WERROR is not set', allmod.fragment)

	def test_flavours_exist(self):
		for c in configs.CONFIGS:
			if c.target == 'flavour':
				self.assertIn(c.flavour, kernel.FLAVOURS)
				for frag in kernel.FLAVOURS[c.flavour]:
					self.assertTrue((CONFIGS / frag).exists(), frag)

	def test_make_command(self):
		arm = next(c for c in configs.CONFIGS if c.slug == 'arm64')
		cmd = configs._make_cmd(arm, Path('/t/out-cfg-arm64'), ['defconfig'])
		self.assertIn('ARCH=arm64', cmd)
		self.assertIn('CROSS_COMPILE=aarch64-linux-gnu-', cmd)
		self.assertIn('CC=ccache aarch64-linux-gnu-gcc', cmd)
		i386 = next(c for c in configs.CONFIGS if c.slug == 'i386')
		cmd = configs._make_cmd(i386, Path('/t/out-i386'), ['kernel/workqueue.o'])
		self.assertIn('ARCH=i386', cmd)
		self.assertIn('CC=ccache gcc', cmd)

	def test_config_mismatches(self):
		config = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n'
		self.assertEqual(kernel.config_mismatches(
			Path('/nonexistent'), config,
			['CONFIG_A=y', '# CONFIG_B is not set', 'CONFIG_C=m']), [])
		wrong = kernel.config_mismatches(Path('/nonexistent'), config,
					       ['# CONFIG_A is not set', 'CONFIG_C=y'])
		self.assertEqual(len(wrong), 2)

	def test_result_names_say_what_was_compiled(self):
		cfg = configs.CONFIGS[0]
		name = configs.result_name(cfg, ['kernel/workqueue.c'],
					   {'lib/test_workqueue.c': ['CONFIG_TEST_WORKQUEUE']})
		self.assertIn('kernel/workqueue.c', name)
		self.assertIn('not built there: lib/test_workqueue.c (CONFIG_TEST_WORKQUEUE off)',
			      name)


class Arm64Test(unittest.TestCase):
	def test_kernel_tables(self):
		self.assertEqual(kernel.FLAVOUR_ARCH['arm64'], 'arm64')
		out = Path('/t/out-arm64')
		self.assertEqual(kernel.arch_args(out),
				 ['ARCH=arm64', 'CROSS_COMPILE=aarch64-linux-gnu-'])
		self.assertEqual(kernel.arch_args(Path('/t/out-debug')), [])
		self.assertEqual(kernel.arch_args(Path('/t/out-i386')), ['ARCH=i386'])

	def test_fragment_has_the_detectors(self):
		lines = kernel.fragment_lines('arm64')
		for sym in ('CONFIG_PROVE_LOCKING=y', 'CONFIG_KASAN=y', 'CONFIG_DEBUG_OBJECTS_WORK=y',
			    'CONFIG_WQ_WATCHDOG=y', 'CONFIG_PREEMPT=y', 'CONFIG_HOTPLUG_CPU=y',
			    'CONFIG_SERIAL_AMBA_PL011_CONSOLE=y', 'CONFIG_VIRTIO_CONSOLE=y',
			    'CONFIG_BLK_DEV_INITRD=y', 'CONFIG_TEST_WORKQUEUE=m'):
			self.assertIn(sym, lines)

	def test_qemu_args(self):
		qc = qemu.qemu_config('arm64')
		cmd = arm64.qemu_args(qc, Path('/o/Image'), Path('/l/i.cpio'),
				      arm64.kernel_cmdline(qc), Path('/l/console.log'),
				      Path('/l/output.log'), 4, '2G')
		self.assertEqual(cmd[0], 'qemu-system-aarch64')
		self.assertIn('virt,gic-version=3', cmd)
		self.assertEqual(cmd[cmd.index('-smp') + 1], '4')
		self.assertEqual(cmd[cmd.index('-initrd') + 1], '/l/i.cpio')
		self.assertEqual(cmd[cmd.index('-serial') + 1], 'file:/l/console.log')
		self.assertIn('file,id=wqbhout,path=/l/output.log', cmd)
		self.assertIn('virtconsole,chardev=wqbhout', cmd)
		append = cmd[cmd.index('-append') + 1].split()
		self.assertIn('console=ttyAMA0,115200', append)
		self.assertIn('wqbh_out=/dev/hvc0', append)
		self.assertIn('rdinit=/init', append)
		self.assertNotIn('rootfstype=9p', append)

	def test_initramfs_list(self):
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-initramfs-'))
		self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
		mod = tmp / 'modroot' / 'lib' / 'modules' / '6.1.0-wqbh' / 'kernel' / 'lib'
		mod.mkdir(parents=True)
		(mod / 'test_workqueue.ko').write_bytes(b'\x7fELF')
		(mod.parents[1] / 'modules.dep').write_text('kernel/lib/test_workqueue.ko:\n')
		(mod.parents[1] / 'build').symlink_to('/nonexistent')
		lines = arm64.initramfs_list(tmp / 'busybox', GUEST / 'init_initramfs.sh',
					     tmp / 'job.sh', tmp / 'kst', tmp / 'modroot')
		self.assertIn(f'file /bin/busybox {tmp}/busybox 0755 0 0', lines)
		self.assertIn(f'file /init {GUEST}/init_initramfs.sh 0755 0 0', lines)
		self.assertIn(f'file /wqbh/job.sh {tmp}/job.sh 0755 0 0', lines)
		self.assertIn(f'file /wqbh/test_workqueue {tmp}/kst 0755 0 0', lines)
		self.assertIn('nod /dev/console 0600 0 0 c 5 1', lines)
		self.assertIn(f'file /lib/modules/6.1.0-wqbh/kernel/lib/test_workqueue.ko '
			      f'{mod}/test_workqueue.ko 0644 0 0', lines)
		self.assertIn('dir /lib/modules/6.1.0-wqbh 0755 0 0', lines)
		self.assertFalse([ln for ln in lines if '/build' in ln], 'host links left out')
		# every directory comes before what it holds
		dirs = set()
		for ln in lines:
			kind, path = ln.split()[:2]
			parent = path.rsplit('/', 1)[0]
			if parent:
				self.assertIn(parent, dirs, ln)
			if kind == 'dir':
				dirs.add(path)

	def test_init_reports_and_powers_off(self):
		text = (GUEST / 'init_initramfs.sh').read_text()
		self.assertIn('echo "wqbh-exit-status: $rc"', text)
		self.assertIn(qemu.EXIT_MARK, text)
		self.assertIn('poweroff -f', text)

	def test_job_and_manifest_agree(self):
		# a tree of its own: at unit-test time build/linux is the bare base
		tmp = Path(tempfile.mkdtemp(prefix='wqbh-arm64-'))
		try:
			(tmp / 'lib').mkdir()
			(tmp / 'lib' / 'test_workqueue.c').write_text(
				'static const struct wq_test_case wq_test_cases[] = {\n'
				'\t{ "self_free",\ttest_self_free },\n};\n'
				'static const struct wq_test_case wq_test_last_cases[] = {\n'
				'\t{ "bh_leak_preempt",\ttest_bh_leak_preempt },\n};\n')
			(tmp / 'lib' / 'test_wqtorture.c').write_text(
				'} wqt_vkinds[WQT_NR_V] = {\n'
				'\t[WQT_V_LOST] = { "lost", "every accepted queueing ran" },\n};\n')
			job = arm64.test_job(4)
			man = arm64.manifest(tmp, 4)
			sections = set(re.findall(r'^section (\S+) ', job, re.M))
			self.assertEqual(sections, set(man))
			self.assertEqual(set(man), {'arm64-' + s for s in arm64.SECTIONS})
			self.assertIn('kst=/wqbh\n', job)
			self.assertNotIn('drgn', job)
			x86 = jobs.manifest(tmp, 4, wq_dump=False, lockdep_last=True)
			self.assertEqual(man['arm64-kselftest-workqueue'], x86['kselftest-workqueue'])
			self.assertEqual(man['arm64-kselftest-workqueue'], ['self_free'])
			# the lockdep-off and bug-on-purpose cases: the module's table
			self.assertEqual(man['arm64-kselftest-workqueue-last'], ['bh_leak_preempt'])
			# the torture run, hotplug on, before the lockdep-off cases
			self.assertEqual(man['arm64-wqtorture'], ['coverage', 'lost'])
			self.assertIn('modprobe test_wqtorture duration=60 seed=1 hotplug=1', job)
			self.assertLess(job.index('section arm64-wqtorture '),
					job.index('section arm64-kselftest-workqueue-last '))
			self.assertIn('hotplug=0', arm64.test_job(1))
		finally:
			shutil.rmtree(tmp)


if __name__ == '__main__':
	unittest.main()
