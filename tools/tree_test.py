#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of tools/wqbh/tree.py on toy '6.1' trees, so no kernel is
needed: applying and exporting the series, the DCO check, base trees made
and used with no git identity configured, and an old build/linux.

Run: cd tools && /usr/bin/python3 -m unittest tree_test
(`make check` runs them too).
"""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wqbh import tree	# noqa: E402
from wqbh.common import HarnessError	# noqa: E402

# Identities of the toy commits.  `.example` is a reserved top-level
# domain like the project's own address; example.com/.org/.net are the
# placeholders the DCO check refuses.
ME = ('Toy Tester', 'toy@wqbh-tests.example')
OTHER = ('Ada Contributor', 'ada@kernel-dev.example')
PROJECT = ('Seed 662ec645 maintainers',
	   'maintainers@users.noreply.h-seed-662ec645.example')
DEBIAN = ('Debian Kernel Team', 'debian-kernel@lists.debian.org')
DATE = '@1700000000 +0000'
IDENTITY_VARS = ('GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME',
		 'GIT_COMMITTER_EMAIL', 'EMAIL')


def ident(who) -> str:
	return f'{who[0]} <{who[1]}>'


def sob(who) -> str:
	return f'Signed-off-by: {ident(who)}'


def as_(who, **extra) -> dict:
	"""Environment for a git command run by `who`, at a fixed date."""
	env = dict(os.environ, GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1],
		   GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1],
		   GIT_AUTHOR_DATE=DATE, GIT_COMMITTER_DATE=DATE)
	env.update(extra)
	return env


def sh(cwd, *cmd, env=None, input=None) -> str:
	return subprocess.run(cmd, cwd=cwd, check=True, text=True, env=env,
			      input=input, stdout=subprocess.PIPE,
			      stderr=subprocess.PIPE).stdout


def sh_proc(cwd, *cmd, env=None) -> subprocess.CompletedProcess:
	return subprocess.run(cmd, cwd=cwd, text=True, env=env,
			      stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def commit(t: Path, subject: str, who=ME, trailers=None, files=None) -> str:
	"""Commit `files` ({name: text}) by `who`; the trailers default to
	who's own sign-off.  Returns the new commit's hash."""
	for name, text in (files or {'a.c': f'int {re.sub(r"[^a-z]", "_", subject)};\n'}).items():
		(t / name).write_text(text)
		sh(t, 'git', 'add', name)
	if trailers is None:
		trailers = [sob(who)]
	msg = subject + '\n\nA toy change.\n'
	if trailers:
		msg += '\n' + '\n'.join(trailers) + '\n'
	sh(t, 'git', 'commit', '-q', '--cleanup=verbatim', '-F', '-', env=as_(who), input=msg)
	return rev(t, 'HEAD')


def rev(t: Path, what: str) -> str:
	return sh(t, 'git', 'rev-parse', '--verify', '-q', what).strip()


def branches(t: Path) -> list:
	return sh(t, 'git', 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split()


def head_name(t: Path) -> str:
	return sh(t, 'git', 'rev-parse', '--abbrev-ref', 'HEAD').strip()


def make_tree(path: Path, version=(6, 1, 7), tag=True, config=False) -> Path:
	"""A toy kernel tree; with `tag` the harness's own (wqbh-base), with
	`config` a git identity of its own (as a user's tree has)."""
	path.mkdir(parents=True)
	(path / 'Makefile').write_text('VERSION = %d\nPATCHLEVEL = %d\nSUBLEVEL = %d\n'
				       % version)
	(path / 'a.c').write_text('int a;\n')
	sh(path, 'git', 'init', '-q', '-b', 'main')
	if config:
		sh(path, 'git', 'config', 'user.name', ME[0])
		sh(path, 'git', 'config', 'user.email', ME[1])
	sh(path, 'git', 'add', '-A')
	sh(path, 'git', 'commit', '-q', '-m', 'base', env=as_(ME))
	if tag:
		sh(path, 'git', 'tag', 'wqbh-base')
	return path


def recovery_commands(msg: str, tree_path: Path) -> list:
	"""The `git -C <tree> ...` commands a message tells the user to run."""
	cmds = [shlex.split(c) for c in re.findall(r'`(git -C [^`]+)`', msg)]
	return [c for c in cmds if c[2] == str(tree_path)]


def quiet():
	"""Capture the harness's log lines."""
	return contextlib.redirect_stdout(io.StringIO())


class ToyCase(unittest.TestCase):
	"""A toy source tree and the two-patch series exported from it."""

	def setUp(self):
		self.tmp = Path(tempfile.mkdtemp(prefix='wqbh-tree-test-'))
		self.src = make_tree(self.tmp / 'src')
		commit(self.src, 'toy: change a', files={'a.c': 'int a;\nint b;\n'})
		commit(self.src, 'toy: add new', files={'new.c': 'int n;\n'})
		self.patches = self.tmp / 'patches'
		self.series = self.tmp / 'series'
		self.cover = self.tmp / 'cover.txt'
		self.cover.write_text('toy series\n\nblurb\n')
		with quiet():
			tree.export(self.src, self.patches, self.series, 'wqbh-base..HEAD',
				    self.cover)

	def tearDown(self):
		shutil.rmtree(self.tmp, ignore_errors=True)

	def apply(self, t: Path, patches=None, series=None) -> str:
		"""tree.apply with the toy series; returns what it logged."""
		with quiet() as out:
			tree.apply(t, 'wqbh', series or self.series, patches or self.patches)
		return out.getvalue()

	def export(self, t: Path, name: str, rev_range='wqbh-base..HEAD') -> Path:
		out = self.tmp / name
		with quiet():
			tree.export(t, out, self.tmp / f'{name}.series', rev_range, self.cover)
		return out

	def holds_series(self, t: Path, branch='wqbh') -> bool:
		return tree.patch_ids(t, f'wqbh-base..{branch}') == \
			tree.file_patch_ids(self.series, self.patches)


class TreeTest(ToyCase):
	"""apply/export round trips and what apply refuses."""

	def test_export_is_byte_stable(self):
		first = {p.name: p.read_bytes() for p in self.patches.iterdir()}
		self.export(self.src, 'patches')
		second = {p.name: p.read_bytes() for p in self.patches.iterdir()}
		self.assertEqual(first, second)
		self.assertEqual(self.series.read_text().split(),
				 ['0001-toy-change-a.patch', '0002-toy-add-new.patch'])
		cover = (self.patches / '0000-cover-letter.patch').read_text()
		self.assertIn('Subject: [PATCH 0/2] toy series', cover)
		self.assertIn('toy: add new', cover)
		for text in first.values():
			self.assertNotIn(b'Message-Id', text)
			self.assertTrue(text.startswith(b'From 0000000000000000000000000000000000000000'))

	def test_cover_letter_is_from_the_series_not_the_machine(self):
		# format-patch puts the committer identity of the environment on
		# the cover letter; the export must not depend on who runs it.
		with mock.patch.dict(os.environ, GIT_COMMITTER_NAME='Some Machine',
				     GIT_COMMITTER_EMAIL='someone@elsewhere.example'):
			out = self.export(self.src, 'again')
		cover = (out / '0000-cover-letter.patch').read_text()
		self.assertIn(f'From: {ident(ME)}\n', cover)
		self.assertEqual(cover, (self.patches / '0000-cover-letter.patch').read_text())

	def test_apply_then_export_round_trip(self):
		t = make_tree(self.tmp / 'user', tag=False, config=True)
		self.apply(t)
		self.assertEqual(head_name(t), 'wqbh')
		self.assertEqual((t / 'new.c').read_text(), 'int n;\n')
		sh(t, 'git', 'tag', 'wqbh-base', 'main')
		out = self.export(t, 'again', 'wqbh-base..wqbh')
		for p in self.patches.iterdir():
			self.assertEqual(p.read_bytes(), (out / p.name).read_bytes(), p.name)

	def test_apply_refuses_dirty_tree(self):
		t = make_tree(self.tmp / 'user', tag=False, config=True)
		(t / 'a.c').write_text('int dirty;\n')
		with self.assertRaisesRegex(HarnessError, 'uncommitted changes'):
			self.apply(t)
		self.assertEqual((t / 'a.c').read_text(), 'int dirty;\n')
		self.assertEqual(sh(t, 'git', 'branch', '--list', 'wqbh'), '')

	def test_apply_refuses_other_version(self):
		t = make_tree(self.tmp / 'user', (6, 6, 1), tag=False, config=True)
		with self.assertRaisesRegex(HarnessError, '6.6.1.*6.1.y'):
			self.apply(t)

	def test_user_tree_refuses_existing_branch(self):
		# Unchanged: nothing in a user's tree is moved or renamed.
		t = make_tree(self.tmp / 'user', tag=False, config=True)
		sh(t, 'git', 'checkout', '-q', '-b', 'wqbh')
		mine = commit(t, 'user: my work')
		with self.assertRaisesRegex(HarnessError, 'branch wqbh already exists'):
			self.apply(t)
		self.assertEqual(rev(t, 'wqbh'), mine)
		self.assertEqual(sorted(branches(t)), ['main', 'wqbh'])

	def test_patch_that_does_not_apply_is_named(self):
		t = make_tree(self.tmp / 'user', tag=False, config=True)
		commit(t, 'diverge', files={'a.c': 'int something_else;\n'})
		with self.assertRaisesRegex(HarnessError, '0001-toy-change-a.patch does not apply'):
			self.apply(t)
		# The user's branch and files are as they were.
		self.assertEqual(head_name(t), 'main')
		self.assertEqual(sh(t, 'git', 'branch', '--list', 'wqbh'), '')
		self.assertEqual((t / 'a.c').read_text(), 'int something_else;\n')

	def test_own_tree_reuses_branch_that_holds_series(self):
		t = make_tree(self.tmp / 'own')
		self.apply(t)
		first = rev(t, 'wqbh')
		log = self.apply(t)
		self.assertIn('already holds the series', log)
		self.assertEqual(rev(t, 'wqbh'), first)
		self.assertEqual(sorted(branches(t)), ['main', 'wqbh'])

	def test_export_refuses_missing_signoff(self):
		commit(self.src, 'toy: no signoff', trailers=[])
		with self.assertRaisesRegex(HarnessError, '"toy: no signoff".*Signed-off-by'):
			self.export(self.src, 'p3')
		self.assertFalse((self.tmp / 'p3').exists())


class DcoTest(ToyCase):
	"""check_dco: sign-offs by the kernel's rule, no made-up identity."""

	def dco(self):
		tree.check_dco(self.src, 'wqbh-base..HEAD')

	def assertDcoFails(self, *patterns):
		with self.assertRaises(HarnessError) as cm:
			self.dco()
		for p in patterns:
			self.assertRegex(str(cm.exception), p)
		return str(cm.exception)

	def test_real_identities_pass(self):
		for who in (ME, OTHER, PROJECT, DEBIAN,
			    ('Jörg Müller-Lüdenscheidt', 'joerg+lkml@mail.kernel.org'),
			    ('李 四', 'li.si@users.noreply.github.com')):
			self.assertIsNone(tree.identity_problem(*who), who)

	def test_dco_passes(self):
		commit(self.src, 'toy: by another contributor', OTHER)
		commit(self.src, 'toy: by the project identity', PROJECT)
		commit(self.src, 'toy: co-developed', ME,
		       ['Co-developed-by: ' + ident(OTHER), sob(OTHER), sob(ME)])
		commit(self.src, 'toy: handled by someone else too', OTHER, [sob(OTHER), sob(ME)])
		self.dco()

	def test_missing_signoff_names_commit(self):
		commit(self.src, 'toy: unsigned', trailers=[])
		self.assertDcoFails('"toy: unsigned"', re.escape(sob(ME)))

	def test_signoff_by_someone_else_fails(self):
		commit(self.src, 'toy: signed by the wrong person', OTHER, [sob(ME)])
		self.assertDcoFails('"toy: signed by the wrong person"',
				    re.escape(ident(OTHER)), 'no ' + re.escape(f'"{sob(OTHER)}"'))

	def test_signoff_must_match_exactly(self):
		commit(self.src, 'toy: sloppy signoff', ME,
		       ['Signed-off-by: toy tester <Toy@wqbh-tests.example>'])
		self.assertDcoFails('"toy: sloppy signoff"', re.escape(sob(ME)))

	def test_placeholder_and_fallback_authors_fail(self):
		cases = [
			(('Your Name', 'you@example.com'), 'example.com'),
			(('John Doe', 'john.doe@kernel-dev.example'), 'placeholder'),
			(('root', 'root@vm.(none)'), 'fallback'),
			(('Dev', 'dev@localhost'), 'fallback'),
			(('Dev', 'dev@box.localdomain'), 'fallback'),
			(('Dev', 'dev@mail.example.org'), 'example.org'),
			(('Dev', 'dev@example.net'), 'example.net'),
			(('Dev', 'not-an-address'), 'not a valid'),
			(('Dev', 'dev@nodot'), 'not a valid'),
		]
		for who, why in cases:
			with self.subTest(who=who):
				base = rev(self.src, 'HEAD')
				try:
					commit(self.src, 'toy: placeholder', who)
					self.assertDcoFails('"toy: placeholder"', re.escape(who[1]), why)
				finally:
					sh(self.src, 'git', 'reset', '-q', '--hard', base)

	def test_empty_and_placeholder_trailers_fail(self):
		cases = [
			('Signed-off-by: <anon@kernel-dev.example>', 'empty name'),
			('Signed-off-by: Your Name <you@example.com>', 'example.com'),
			('Signed-off-by: Toy Tester', 'not "Signed-off-by: Name <email>"'),
			('Co-developed-by: A U Thor <author@example.com>', 'example.com'),
		]
		for line, why in cases:
			with self.subTest(line=line):
				base = rev(self.src, 'HEAD')
				try:
					commit(self.src, 'toy: odd trailer', ME, [sob(ME), line])
					self.assertDcoFails('"toy: odd trailer"', re.escape(why))
				finally:
					sh(self.src, 'git', 'reset', '-q', '--hard', base)

	def test_empty_identity(self):
		self.assertRegex(tree.identity_problem('', 'a@kernel.org'), 'empty name')
		self.assertRegex(tree.identity_problem('  ', 'a@kernel.org'), 'empty name')
		self.assertRegex(tree.identity_problem('A', ''), 'empty')
		self.assertRegex(tree.identity_problem('(none)', 'a@kernel.org'), 'fallback')

	def test_co_developed_by_needs_its_signoff(self):
		commit(self.src, 'toy: co-developed, unsigned', ME,
		       ['Co-developed-by: ' + ident(OTHER), sob(ME)])
		self.assertDcoFails('"toy: co-developed, unsigned"',
				    'Co-developed-by: ' + re.escape(ident(OTHER)),
				    re.escape(sob(OTHER)))

	def test_every_failure_is_reported(self):
		commit(self.src, 'toy: first bad', trailers=[])
		commit(self.src, 'toy: second bad', OTHER, [sob(ME)])
		self.assertDcoFails('"toy: first bad"', '"toy: second bad"')

	def test_other_contributor_exports(self):
		commit(self.src, 'toy: by another contributor', OTHER,
		       files={'b.c': 'int b;\n'})
		out = self.export(self.src, 'p3')
		text = (out / '0003-toy-by-another-contributor.patch').read_text()
		self.assertIn(f'From: {ident(OTHER)}\n', text)
		self.assertIn(sob(OTHER), text)


def make_source_tarball(directory: Path, sublevel=7) -> Path:
	"""A tiny stand-in for /usr/src/linux-source-6.1.tar.xz."""
	top = directory / 'linux-source-6.1'
	top.mkdir(parents=True)
	(top / 'Makefile').write_text(f'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = {sublevel}\n')
	(top / 'a.c').write_text('int a;\n')
	(top / '.gitignore').write_text('/*\n')	# as Debian's: ignores everything
	tarball = directory / 'linux-source-6.1.tar.xz'
	sh(directory, 'tar', '-cJf', str(tarball), 'linux-source-6.1')
	shutil.rmtree(top)
	os.utime(tarball, (1690000000, 1690000000))
	return tarball


class NoIdentityTest(ToyCase):
	"""The harness's own trees need no git identity on the machine."""

	def setUp(self):
		super().setUp()
		# The series is by another contributor than the toy base's author.
		shutil.rmtree(self.src)
		self.src = make_tree(self.tmp / 'src2')
		commit(self.src, 'toy: change a', OTHER, files={'a.c': 'int a;\nint b;\n'})
		commit(self.src, 'toy: add new', OTHER, files={'new.c': 'int n;\n'})
		shutil.rmtree(self.patches)
		self.export(self.src, 'patches')
		self.home = self.tmp / 'home'
		self.home.mkdir()
		env = mock.patch.dict(os.environ, HOME=str(self.home),
				      XDG_CONFIG_HOME=str(self.home / '.config'),
				      GIT_CONFIG_NOSYSTEM='1')
		env.start()
		self.addCleanup(env.stop)
		for var in IDENTITY_VARS:
			os.environ.pop(var, None)
		# The precondition: git has no identity here.
		proc = sh_proc(self.tmp, 'git', 'var', 'GIT_COMMITTER_IDENT')
		self.assertNotEqual(proc.returncode, 0, proc.stdout)
		self.tarball = make_source_tarball(self.tmp / 'pkg')
		for name, value in (('SOURCE_TARBALL', self.tarball),
				    ('source_version', lambda: '6.1.7-1')):
			p = mock.patch.object(tree, name, value)
			p.start()
			self.addCleanup(p.stop)

	def maintainer(self):
		return tree.source_maintainer() if installed() else DEBIAN

	def ensure_base(self, path: Path) -> Path:
		with contextlib.ExitStack() as stack:
			if not installed():
				stack.enter_context(mock.patch.object(tree, 'source_maintainer',
								      lambda: DEBIAN))
			stack.enter_context(quiet())
			return tree.ensure_base(path)

	def test_base_apply_and_export(self):
		t = self.ensure_base(self.tmp / 'build' / 'linux')
		who = ident(self.maintainer())
		self.assertEqual(sh(t, 'git', 'log', '-1', '--format=%an <%ae>|%cn <%ce>',
				    'wqbh-base').strip(), f'{who}|{who}')
		self.assertEqual(sh(t, 'git', 'for-each-ref', '--format=%(taggername) %(taggeremail)',
				    'refs/tags/wqbh-base').strip(), who)
		self.assertEqual((self.tmp / 'build' / 'base-version').read_text(),
				 'linux-source-6.1 6.1.7-1\nLinux 6.1.7\n')
		self.apply(t)
		self.assertTrue(self.holds_series(t))
		# Each patch's own author is its committer: no identity is invented.
		self.assertEqual(sh(t, 'git', 'log', '--format=%cn <%ce>', 'wqbh-base..wqbh').split('\n')[:2],
				 [ident(OTHER)] * 2)
		out = self.export(t, 'again', 'wqbh-base..wqbh')
		for p in self.patches.iterdir():
			self.assertEqual(p.read_bytes(), (out / p.name).read_bytes(), p.name)
		# As check_series does it: a detached worktree of the base.
		wt = self.tmp / 'build' / 'series-check'
		sh(t, 'git', 'worktree', 'add', '-q', '--detach', str(wt), 'wqbh-base')
		for name in self.series.read_text().split():
			tree.am_series_one(wt, self.patches / name)
		tree.check_dco(wt, 'wqbh-base..HEAD')
		self.assertEqual(rev(wt, 'HEAD^{tree}'), rev(t, 'wqbh^{tree}'))

	def test_base_is_the_same_whoever_makes_it(self):
		a = self.ensure_base(self.tmp / 'a' / 'linux')
		with mock.patch.dict(os.environ, GIT_AUTHOR_NAME='Some One',
				     GIT_AUTHOR_EMAIL='some.one@elsewhere.example',
				     GIT_COMMITTER_NAME='Some One',
				     GIT_COMMITTER_EMAIL='some.one@elsewhere.example'):
			b = self.ensure_base(self.tmp / 'b' / 'linux')
		self.assertEqual(rev(a, 'wqbh-base'), rev(b, 'wqbh-base'))
		self.assertEqual(rev(a, 'wqbh-base^{commit}'), rev(b, 'wqbh-base^{commit}'))

	def test_user_tree_without_identity_fails_first(self):
		t = make_tree(self.tmp / 'user', tag=False)
		before = rev(t, 'HEAD')
		with self.assertRaisesRegex(HarnessError, 'git has no identity.*nothing was changed'):
			self.apply(t)
		self.assertEqual(branches(t), ['main'])
		self.assertEqual(head_name(t), 'main')
		self.assertEqual(rev(t, 'HEAD'), before)
		self.assertEqual((t / 'a.c').read_text(), 'int a;\n')
		self.assertEqual(sh(t, 'git', 'status', '--porcelain'), '')
		# With an identity of their own, git's normal behaviour.
		sh(t, 'git', 'config', 'user.name', ME[0])
		sh(t, 'git', 'config', 'user.email', ME[1])
		self.apply(t)
		self.assertEqual(sh(t, 'git', 'log', '-1', '--format=%an|%cn').strip(),
				 f'{OTHER[0]}|{ME[0]}')


def installed() -> bool:
	return subprocess.run(['dpkg-query', '-W', tree.SOURCE_PKG],
			      stdout=subprocess.DEVNULL,
			      stderr=subprocess.DEVNULL).returncode == 0


class SourcePackageTest(unittest.TestCase):
	@unittest.skipUnless(installed(), 'linux-source-6.1 is not installed')
	def test_source_maintainer(self):
		name, email = tree.source_maintainer()
		self.assertIsNone(tree.identity_problem(name, email))


class OldBuildTest(ToyCase):
	"""build/linux with an old or locally changed branch wqbh."""

	def own_tree_with_local_commit(self):
		t = make_tree(self.tmp / 'build' / 'linux')
		self.apply(t)
		mine = commit(t, 'local: my work', files={'a.c': 'int local_work;\n'})
		return t, mine

	def test_old_recovery_cannot_work_and_backup_keeps_commits(self):
		t, mine = self.own_tree_with_local_commit()
		# What the old message said to do: git refuses, wqbh is checked out.
		proc = sh_proc(t, 'git', '-C', str(t), 'branch', '-D', 'wqbh')
		self.assertNotEqual(proc.returncode, 0)
		self.assertIn("Cannot delete branch 'wqbh'", proc.stderr)
		log = self.apply(t)
		self.assertEqual(rev(t, 'wqbh-backup-1'), mine)
		self.assertTrue(self.holds_series(t))
		self.assertEqual(head_name(t), 'wqbh')
		self.assertEqual((t / 'a.c').read_text(), 'int a;\nint b;\n')
		lines = [line for line in log.splitlines() if 'wqbh-backup-1' in line]
		self.assertEqual(len(lines), 1, log)
		self.assertIn(f'git -C {t} log --oneline wqbh-base..wqbh-backup-1', lines[0])
		# The line's way to go on with the old work works.
		cmds = recovery_commands(lines[0], t)
		self.assertIn(['git', '-C', str(t), 'checkout', '-B', 'wqbh', 'wqbh-backup-1'], cmds)
		sh(t, 'git', '-C', str(t), 'checkout', '-q', '-B', 'wqbh', 'wqbh-backup-1')
		self.assertEqual(rev(t, 'wqbh'), mine)

	def test_backup_takes_the_first_free_number(self):
		t, mine = self.own_tree_with_local_commit()
		sh(t, 'git', 'branch', 'wqbh-backup-1', 'main')
		log = self.apply(t)
		self.assertIn('wqbh-backup-2', log)
		self.assertEqual(rev(t, 'wqbh-backup-2'), mine)
		self.assertEqual(rev(t, 'wqbh-backup-1'), rev(t, 'main'))
		commit(t, 'local: more work', files={'a.c': 'int more;\n'})
		self.apply(t)
		self.assertIn('wqbh-backup-3', branches(t))

	def test_older_series_is_kept_on_backup(self):
		# build/linux from a previous version of the repository: wqbh holds
		# an older series, and HEAD is somewhere else.
		t = make_tree(self.tmp / 'build' / 'linux')
		sh(t, 'git', 'checkout', '-q', '-b', 'wqbh', 'wqbh-base')
		commit(t, 'toy: change a (v1)', files={'a.c': 'int a;\nint b_v1;\n'})
		old = rev(t, 'HEAD')
		sh(t, 'git', 'checkout', '-q', '--detach', 'wqbh-base')
		log = self.apply(t)
		self.assertIn('wqbh-backup-1', log)
		self.assertEqual(rev(t, 'wqbh-backup-1'), old)
		self.assertTrue(self.holds_series(t))
		self.assertEqual(head_name(t), 'wqbh')

	def test_series_that_does_not_apply_restores_the_branch(self):
		t, mine = self.own_tree_with_local_commit()
		bad = self.tmp / 'bad'
		bad.mkdir()
		text = (self.patches / '0001-toy-change-a.patch').read_text()
		(bad / '0001-toy-change-a.patch').write_text(text.replace('\n int a;', '\n int z;'))
		series = self.tmp / 'bad-series'
		series.write_text('0001-toy-change-a.patch\n')
		with self.assertRaisesRegex(HarnessError, '0001-toy-change-a.patch does not apply'):
			self.apply(t, bad, series)
		self.assertEqual(head_name(t), 'wqbh')
		self.assertEqual(rev(t, 'wqbh'), mine)
		self.assertEqual(sorted(branches(t)), ['main', 'wqbh'])
		self.assertEqual(sh(t, 'git', 'status', '--porcelain'), '')

	def test_uncommitted_changes_stop_and_stash_recovers(self):
		t = make_tree(self.tmp / 'build' / 'linux')
		self.apply(t)
		(t / 'a.c').write_text('int edited;\n')
		with self.assertRaises(HarnessError) as cm:
			self.apply(t)
		msg = str(cm.exception)
		self.assertIn('uncommitted changes', msg)
		self.assertIn('nothing was changed', msg)
		self.assertEqual((t / 'a.c').read_text(), 'int edited;\n')
		cmds = recovery_commands(msg, t)
		stash = ['git', '-C', str(t), 'stash']
		self.assertIn(stash, cmds)
		sh(t, *stash, env=as_(ME))	# stash makes commits: the user's identity
		self.apply(t)
		pop = ['git', '-C', str(t), 'stash', 'pop']
		self.assertIn(pop, cmds)
		sh(t, *pop)
		self.assertEqual((t / 'a.c').read_text(), 'int edited;\n')

	def test_uncommitted_changes_stop_and_commit_recovers(self):
		t = make_tree(self.tmp / 'build' / 'linux')
		self.apply(t)
		(t / 'a.c').write_text('int edited;\n')
		with self.assertRaises(HarnessError) as cm:
			self.apply(t)
		cmds = recovery_commands(str(cm.exception), t)
		commit_cmd = ['git', '-C', str(t), 'commit', '-a', '-s']
		self.assertIn(commit_cmd, cmds)
		sh(t, *commit_cmd, '-m', 'local: edited', env=as_(ME))
		mine = rev(t, 'HEAD')
		log = self.apply(t)
		self.assertIn('wqbh-backup-1', log)
		self.assertEqual(rev(t, 'wqbh-backup-1'), mine)
		self.assertTrue(self.holds_series(t))

	def test_am_in_progress_stops_and_abort_recovers(self):
		t, mine = self.own_tree_with_local_commit()
		proc = sh_proc(t, 'git', 'am', str(self.patches / '0001-toy-change-a.patch'),
			       env=as_(ME))
		self.assertNotEqual(proc.returncode, 0)
		with self.assertRaises(HarnessError) as cm:
			self.apply(t)
		msg = str(cm.exception)
		self.assertIn('git am in progress', msg)
		abort = ['git', '-C', str(t), 'am', '--abort']
		self.assertIn(abort, recovery_commands(msg, t))
		self.assertEqual(rev(t, 'wqbh'), mine)
		sh(t, *abort)
		self.apply(t)
		self.assertEqual(rev(t, 'wqbh-backup-1'), mine)

	def test_rebase_in_progress_stops_and_abort_recovers(self):
		t, mine = self.own_tree_with_local_commit()
		sh(t, 'git', 'checkout', '-q', '-b', 'other', 'wqbh-base')
		commit(t, 'other: conflicting', files={'a.c': 'int other;\n'})
		sh(t, 'git', 'checkout', '-q', 'wqbh')
		proc = sh_proc(t, 'git', 'rebase', 'other', env=as_(ME))
		self.assertNotEqual(proc.returncode, 0)
		with self.assertRaises(HarnessError) as cm:
			self.apply(t)
		msg = str(cm.exception)
		self.assertIn('git rebase in progress', msg)
		abort = ['git', '-C', str(t), 'rebase', '--abort']
		self.assertIn(abort, recovery_commands(msg, t))
		sh(t, *abort)
		self.assertEqual(rev(t, 'wqbh'), mine)
		self.apply(t)
		self.assertEqual(rev(t, 'wqbh-backup-1'), mine)

	def test_scratch_worktree_of_a_moved_tree_is_made_again(self):
		t = make_tree(self.tmp / 'build' / 'linux')
		wt = self.tmp / 'build' / 'linux-configs'
		tree.scratch_worktree(t, wt, 'wqbh-base')
		t.rename(self.tmp / 'build' / 'linux.old')
		t = make_tree(self.tmp / 'build' / 'linux', (6, 1, 8))
		tree.scratch_worktree(t, wt, 'wqbh-base')
		self.assertIn('SUBLEVEL = 8', (wt / 'Makefile').read_text())
		self.assertEqual(rev(wt, 'HEAD'), rev(t, 'wqbh-base'))


class BaseVersionTest(ToyCase):
	"""build/linux made from another linux-source-6.1 than is installed."""

	def test_other_package_version_warns_and_rebuild_works(self):
		build = self.tmp / 'build'
		old_pkg = make_source_tarball(self.tmp / 'pkg-old', sublevel=7)
		new_pkg = make_source_tarball(self.tmp / 'pkg-new', sublevel=8)
		with mock.patch.object(tree, 'source_maintainer', lambda: DEBIAN):
			with mock.patch.object(tree, 'SOURCE_TARBALL', old_pkg), \
			     mock.patch.object(tree, 'source_version', lambda: '6.1.7-1'), quiet():
				t = tree.ensure_base(build / 'linux')
			self.apply(t)
			mine = commit(t, 'local: my work', files={'a.c': 'int local_work;\n'})
			with mock.patch.object(tree, 'SOURCE_TARBALL', new_pkg), \
			     mock.patch.object(tree, 'source_version', lambda: '6.1.8-1'):
				with quiet() as out:
					self.assertEqual(tree.ensure_base(build / 'linux'), t)
				log = out.getvalue()
				self.assertRegex(log, r'6\.1\.7-1.*6\.1\.8-1')
				self.assertIn('going on with', log)
				self.assertIn('SUBLEVEL = 7', (t / 'Makefile').read_text())
				# The recovery it names: move the tree away, run again.
				m = re.search(r'`mv (\S+) (\S+)`', log)
				self.assertIsNotNone(m, log)
				self.assertEqual(Path(m.group(1)), t)
				sh(self.tmp, 'mv', m.group(1), m.group(2))
				with quiet() as out:
					t2 = tree.ensure_base(build / 'linux')
				self.assertNotIn('going on with', out.getvalue())
		self.assertEqual(t2, t)
		self.assertEqual((build / 'base-version').read_text(),
				 'linux-source-6.1 6.1.8-1\nLinux 6.1.8\n')
		self.assertIn('SUBLEVEL = 8', (t2 / 'Makefile').read_text())
		# Nothing of the old tree is lost.
		self.assertEqual(rev(Path(m.group(2)), 'wqbh'), mine)


if __name__ == '__main__':
	unittest.main()
