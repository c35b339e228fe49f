#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of tools/wqbh/mail.py (`make mbox`) on the repository's own
patches/ and on a toy repository of tags: versions, subjects, threading,
the changelog rule and mboxrd quoting.  The b4 round trip itself runs in
`make check`'s series checks, on the real tree.

Run: cd tools && /usr/bin/python3 -m unittest mail_test
"""

import mailbox
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wqbh import mail	# noqa: E402
from wqbh.common import PATCHES, SERIES, HarnessError, read_series	# noqa: E402

COVER_V1 = 'workqueue: BH workqueues for 6.1.y\n\nThe blurb.\n'
COVER_V2 = COVER_V1 + '\nChanges in v2:\n- a change\n'


def messages(text: str):
	path = Path(tempfile.mkdtemp()) / 'm.mbox'
	try:
		path.write_text(text)
		return [m for m in mailbox.mbox(str(path))]
	finally:
		shutil.rmtree(path.parent)


class MboxTest(unittest.TestCase):
	def test_v1_is_cover_then_series_threaded(self):
		msgs = messages(mail.build_mbox(1, COVER_V1))
		names = read_series(SERIES)
		self.assertEqual(len(msgs), len(names) + 1)
		self.assertIn(f'[PATCH 00/{len(names)}]', msgs[0]['Subject'])
		root = msgs[0]['Message-Id']
		for i, msg in enumerate(msgs[1:], 1):
			self.assertIn(f'[PATCH {i:0{len(str(len(names)))}d}/{len(names)}]',
				      msg['Subject'])
			self.assertEqual(msg['In-Reply-To'], root)
			self.assertEqual(msg['References'], root)
		ids = [m['Message-Id'] for m in msgs]
		self.assertEqual(len(set(ids)), len(ids))

	def test_stable_between_runs(self):
		self.assertEqual(mail.build_mbox(1, COVER_V1), mail.build_mbox(1, COVER_V1))

	def test_v2_subjects_and_ids_name_the_version(self):
		msgs = messages(mail.build_mbox(2, COVER_V2, rangediff='1:  abc = 1:  abc x\n'))
		for msg in msgs:
			self.assertIn('[PATCH v2 ', msg['Subject'])
			self.assertIn('-v2-', msg['Message-Id'])
		self.assertIn('Range-diff against v1:', msgs[0].get_payload())
		self.assertNotEqual(mail.message_id(msgs[0].as_string(), 1, 0),
				    msgs[0]['Message-Id'])

	def test_v2_without_changelog_is_refused(self):
		with self.assertRaisesRegex(HarnessError, 'Changes in v2:'):
			mail.build_mbox(2, COVER_V1)
		self.assertIsNone(mail.changelog_problem(COVER_V1, 1))
		self.assertIsNone(mail.changelog_problem(COVER_V2, 2))
		self.assertIsNotNone(mail.changelog_problem(COVER_V2, 3))

	def test_headers_unfolded_for_b4(self):
		# format-patch folds the project's long From: line; b4 0.12 can't take it
		raw = (PATCHES / read_series(SERIES)[0]).read_text()
		self.assertRegex(raw.split('\n\n', 1)[0], r'\n[ \t]')
		for msg in messages(mail.build_mbox(1, COVER_V1)):
			for value in msg.values():
				self.assertNotIn('\n', value)

	def test_body_from_lines_quoted(self):
		tmp = Path(tempfile.mkdtemp())
		try:
			(tmp / 'patches').mkdir()
			for name in ('0000-cover-letter.patch', read_series(SERIES)[0]):
				shutil.copyfile(PATCHES / name, tmp / 'patches' / name)
			path = tmp / 'patches' / read_series(SERIES)[0]
			path.write_text(path.read_text().replace(
				'\n---\n', '\nFrom the start, a line like an mbox separator.\n---\n', 1))
			(tmp / 'series').write_text(read_series(SERIES)[0] + '\n')
			text = mail.build_mbox(1, COVER_V1, tmp / 'patches', tmp / 'series')
			self.assertIn('\n>From the start,', text)
			self.assertEqual(len(messages(text)), 2)
		finally:
			shutil.rmtree(tmp)

	def test_missing_patch_named(self):
		tmp = Path(tempfile.mkdtemp())
		try:
			shutil.copytree(PATCHES, tmp / 'patches')
			(tmp / 'series').write_text('9999-not-there.patch\n')
			with self.assertRaisesRegex(HarnessError, '9999-not-there.patch'):
				mail.build_mbox(1, COVER_V1, tmp / 'patches', tmp / 'series')
		finally:
			shutil.rmtree(tmp)


class VersionTest(unittest.TestCase):
	"""next_version() on a toy repository with patches/ and series."""

	def setUp(self):
		self.repo = Path(tempfile.mkdtemp())
		self.env = dict(os.environ, GIT_AUTHOR_NAME='Toy Tester',
				GIT_AUTHOR_EMAIL='toy@wqbh-tests.example',
				GIT_COMMITTER_NAME='Toy Tester',
				GIT_COMMITTER_EMAIL='toy@wqbh-tests.example')
		self.git('init', '-q')
		(self.repo / 'patches').mkdir()
		self.write('one')
		self.git('add', '-A')
		self.git('commit', '-q', '-m', 'one')

	def tearDown(self):
		shutil.rmtree(self.repo)

	def git(self, *args):
		return subprocess.run(['git', '-C', str(self.repo), *args], check=True,
				      text=True, env=self.env, capture_output=True).stdout

	def write(self, what):
		(self.repo / 'patches' / '0001-x.patch').write_text(what + '\n')
		(self.repo / 'series').write_text('0001-x.patch\n')

	def test_untagged_is_v1(self):
		self.assertEqual(mail.next_version(self.repo), 1)

	def test_tagged_unchanged_is_same_version(self):
		self.git('tag', 'series-v1')
		self.assertEqual(mail.version_tags(self.repo), {1: 'series-v1'})
		self.assertEqual(mail.next_version(self.repo), 1)
		# a change elsewhere in the repository is not a new version
		(self.repo / 'README').write_text('x\n')
		self.git('add', '-A')
		self.git('commit', '-q', '-m', 'readme')
		self.assertEqual(mail.next_version(self.repo), 1)

	def test_changed_patches_are_next_version(self):
		self.git('tag', 'series-v1')
		self.write('two')	# uncommitted counts: it is what would be sent
		self.assertEqual(mail.next_version(self.repo), 2)
		self.git('commit', '-q', '-am', 'two')
		self.git('tag', 'series-v2')
		self.git('tag', 'series-vx')	# not a version tag
		self.assertEqual(mail.version_tags(self.repo), {1: 'series-v1', 2: 'series-v2'})
		self.assertEqual(mail.next_version(self.repo), 2)


if __name__ == '__main__':
	unittest.main()
