# SPDX-License-Identifier: GPL-2.0-only
"""The series as mail: one mbox, the cover letter then the patches, as
`git format-patch --cover-letter --thread` and b4 lay out a series.

A version of the series that was sent is kept as a tag of this
repository, `series-vN`, on the commit whose patches/ and series were
sent.  The next mbox is version N+1 (the same N while patches/ is what
the tag holds), its subjects read `[PATCH vN+1 MM/NN]`, and its cover
letter must carry a changelog (`Changes in vN+1:` in cover-letter.txt)
and gets a range-diff against the tagged version, as `format-patch
--range-diff` writes it.
"""

import re
import shutil
import tempfile
from email.utils import parseaddr
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .common import (BASE_TAG, BUILD, PATCHES, REPO, SERIES, HarnessError,
		     git, read_series, run)
from . import tree

TAG_PREFIX = 'series-v'
MBOX_DIR = BUILD / 'mbox'
COVER_NAME = '0000-cover-letter.patch'
SUBJECT = re.compile(r'^Subject: \[PATCH( v\d+)? (\d+/\d+)\]', re.M)
FROM_LINE = re.compile(r'^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$', re.M)


def version_tags(repo: Path = REPO) -> Dict[int, str]:
	"""The sent versions: {N: tag name} of this repository's series-vN tags."""
	out = git(repo, 'tag', '--list', f'{TAG_PREFIX}*', check=False)
	tags = {}
	for name in out.split():
		m = re.fullmatch(re.escape(TAG_PREFIX) + r'([1-9]\d*)', name)
		if m:
			tags[int(m.group(1))] = name
	return tags


def _tree_of(repo: Path, rev: str) -> str:
	"""The git tree id of patches/ and series at rev ('' where absent)."""
	return git(repo, 'rev-parse', f'{rev}:patches', check=False).strip() + \
		git(repo, 'rev-parse', f'{rev}:series', check=False).strip()


def worktree_tree(repo: Path = REPO) -> str:
	"""The same id for patches/ and series as they are in the checkout,
	committed or not."""
	env = {'GIT_INDEX_FILE': str(Path(tempfile.mkdtemp(prefix='wqbh-idx-')) / 'index')}
	try:
		git(repo, 'read-tree', 'HEAD', env=env)
		git(repo, 'add', '-A', '--', 'patches', 'series', env=env)
		return git(repo, 'write-tree', '--prefix=patches/', env=env, check=False).strip() + \
			git(repo, 'rev-parse', ':series', env=env, check=False).strip()
	finally:
		shutil.rmtree(Path(env['GIT_INDEX_FILE']).parent, ignore_errors=True)


def next_version(repo: Path = REPO) -> int:
	"""The version `make mbox` writes: the last tagged one while patches/
	and series are what it holds, the next one once they differ."""
	tags = version_tags(repo)
	if not tags:
		return 1
	last = max(tags)
	return last if _tree_of(repo, tags[last]) == worktree_tree(repo) else last + 1


def changelog_problem(cover_text: str, version: int) -> Optional[str]:
	"""Why the cover letter text can't go out as `version`, or None."""
	if version < 2:
		return None
	if not re.search(rf'^Changes in v{version}:', cover_text, re.M | re.I):
		return (f'v{version} needs a changelog: add a "Changes in v{version}:" '
			'section to cover-letter.txt, say what changed since '
			f'v{version - 1}, and export again (make export)')
	return None


def message_id(cover: str, version: int, number: int) -> str:
	"""A stable Message-Id: the series' date, version and number at the
	sender's domain."""
	m = re.search(r'^Date: (.*)$', cover, re.M)
	stamp = re.sub(r'[^0-9A-Za-z]+', '', m.group(1)) if m else 'undated'
	frm = re.search(r'^From: (.*(?:\n .*)*)$', cover, re.M)
	addr = parseaddr(frm.group(1).replace('\n', ''))[1] if frm else ''
	domain = addr.split('@', 1)[1] if '@' in addr else 'localhost'
	return f'<wqbh-61-{stamp}-v{version}-{number}@{domain}>'


def _set_version(text: str, version: int) -> str:
	if version < 2:
		return text
	return SUBJECT.sub(lambda m: f'Subject: [PATCH v{version} {m.group(2)}]', text, count=1)


def _unfold(text: str) -> str:
	"""Every header on one line.  format-patch folds long From: and
	Subject: headers, which RFC 5322 allows, but b4 0.12 (Debian 12)
	copies a folded value into a new header and stops with a traceback."""
	head, blank, body = text.partition('\n\n')
	return re.sub(r'\n[ \t]+', ' ', head) + blank + body


def _add_headers(text: str, headers: List[Tuple[str, str]]) -> str:
	"""Headers inserted after Subject (and its continuation lines)."""
	lines = text.split('\n')
	for i, line in enumerate(lines):
		if line.startswith('Subject: '):
			j = i + 1
			while j < len(lines) and lines[j].startswith((' ', '\t')):
				j += 1
			lines[j:j] = [f'{k}: {v}' for k, v in headers]
			return '\n'.join(lines)
	raise HarnessError('a patch of the series has no Subject: header')


def _apply(t: Path, patches: Path, names: List[str], wt: Path) -> str:
	"""The series `names` of `patches`, applied with git am on a scratch
	worktree of the base at wt: the commit it ends on."""
	tree.scratch_worktree(t, wt, BASE_TAG)
	for name in names:
		tree.am_series_one(wt, patches / name)
	return git(wt, 'rev-parse', 'HEAD').strip()


def range_diff(t: Path, version: int, repo: Path = REPO) -> str:
	"""`git range-diff` of the tagged previous version against patches/."""
	prev = version_tags(repo).get(version - 1)
	if prev is None:
		raise HarnessError(f'no tag {TAG_PREFIX}{version - 1} to compare v{version} with: '
				   f'tag the commit that was sent as v{version - 1}')
	tmp = Path(tempfile.mkdtemp(prefix='wqbh-prev-'))
	wts = [BUILD / 'mbox-prev', BUILD / 'mbox-cur']
	try:
		(tmp / 'series').write_text(git(repo, 'show', f'{prev}:series'))
		(tmp / 'patches').mkdir()
		prev_names = read_series(tmp / 'series')
		for name in prev_names:
			(tmp / 'patches' / name).write_text(git(repo, 'show', f'{prev}:patches/{name}'))
		old = _apply(t, tmp / 'patches', prev_names, wts[0])
		new = _apply(t, PATCHES, read_series(SERIES), wts[1])
		base = git(t, 'rev-parse', BASE_TAG).strip()
		return git(t, 'range-diff', '--no-color', f'{base}..{old}', f'{base}..{new}')
	finally:
		for wt in wts:
			git(t, 'worktree', 'remove', '--force', str(wt), check=False)
		shutil.rmtree(tmp, ignore_errors=True)


def build_mbox(version: int, cover_text: str, patches: Path = PATCHES,
	       series: Path = SERIES, rangediff: str = '') -> str:
	"""The mbox text: the exported cover letter and patches, versioned and
	threaded under the cover letter."""
	problem = changelog_problem(cover_text, version)
	if problem:
		raise HarnessError(problem)
	names = read_series(series)
	if not names:
		raise HarnessError(f'{series} lists no patches')
	cover_path = patches / COVER_NAME
	if not cover_path.exists():
		raise HarnessError(f'{cover_path} is missing: run make export')
	cover = cover_path.read_text()
	root = message_id(cover, version, 0)
	out = []
	for i, name in enumerate([COVER_NAME] + names):
		path = patches / name
		if not path.exists():
			raise HarnessError(f'{series} lists {name}, which is not in {patches}')
		text = path.read_text()
		if len(FROM_LINE.findall(text)) != 1 or not text.startswith('From '):
			raise HarnessError(f'{name} is not one git format-patch message')
		headers = [('Message-Id', message_id(cover, version, i))]
		if i:
			headers += [('In-Reply-To', root), ('References', root)]
		text = _add_headers(_unfold(_set_version(text, version)), headers)
		if i == 0 and rangediff:
			body, sep, sig = text.rpartition('\n-- \n')
			text = (body if sep else text).rstrip('\n') + \
				f'\n\nRange-diff against v{version - 1}:\n{rangediff}' + \
				(sep + sig if sep else '\n')
		# mboxrd: a body line that begins "From " (after any '>') gets one more '>'
		head, blank, body = text.partition('\n\n')
		body = re.sub(r'^(>*From )', r'>\1', body, flags=re.M)
		out.append(head + blank + body.rstrip('\n') + '\n\n')
	return ''.join(out)


def write_mbox(t: Path, version: Optional[int] = None, tag: bool = False,
	       repo: Path = REPO) -> Path:
	"""build/mbox/wqbh-vN.mbox from patches/ and series; with tag, record
	the version as sent (series-vN on HEAD, which must hold patches/)."""
	version = version or next_version(repo)
	if version < 1:
		raise HarnessError(f'version must be 1 or more, not {version}')
	cover_text = tree.COVER_TEXT.read_text() if tree.COVER_TEXT.exists() else ''
	rd = range_diff(t, version, repo) if version > 1 else ''
	text = build_mbox(version, cover_text, rangediff=rd)
	MBOX_DIR.mkdir(parents=True, exist_ok=True)
	path = MBOX_DIR / f'wqbh-v{version}.mbox'
	path.write_text(text)
	if tag:
		name = f'{TAG_PREFIX}{version}'
		have = version_tags(repo).get(version)
		if _tree_of(repo, 'HEAD') != worktree_tree(repo):
			raise HarnessError(f'not tagged: commit patches/ and series first, then '
					   f'run make mbox TAG=1 again ({path} is written)')
		if have and _tree_of(repo, have) != _tree_of(repo, 'HEAD'):
			raise HarnessError(f'{name} already tags another state of the series; '
					   f'send this one as v{version + 1} (make mbox V={version + 1})')
		if not have:
			git(repo, 'tag', name, 'HEAD')
	return path


def b4_round_trip(t: Path, mbox: Path, want_rev: str) -> str:
	"""`b4 am` on the local mbox, then `git am` of what it writes on a
	scratch worktree of the base: the tree must be want_rev's.  Returns
	what b4 said it found."""
	cover = mbox.read_text().split('\nFrom ', 1)[0]
	m = re.search(r'^Message-Id: <(.*)>$', cover, re.M)
	if not m:
		raise HarnessError(f'{mbox}: the cover letter has no Message-Id')
	out = Path(tempfile.mkdtemp(prefix='wqbh-b4-'))
	wt = BUILD / 'mbox-b4'
	try:
		proc = run(['b4', '--offline-mode', 'am', '--no-cache', '-m', str(mbox),
			    '-o', str(out), '-n', 'series', m.group(1)], cwd=out, check=False)
		said = (proc.stdout + proc.stderr).strip()
		if proc.returncode != 0 or not (out / 'series.mbx').exists():
			raise HarnessError(f'b4 am failed (exit {proc.returncode}):\n{said[-2000:]}')
		tree.scratch_worktree(t, wt, BASE_TAG)
		env = tree.ident_env(*tree.source_maintainer(), author=False)
		proc = run(['git', '-C', str(wt), 'am', '-q', str(out / 'series.mbx')],
			   env=env, check=False)
		if proc.returncode != 0:
			git(wt, 'am', '--abort', check=False)
			raise HarnessError('git am of b4\'s mbox failed:\n'
					   + (proc.stdout + proc.stderr).strip()[-2000:])
		got = git(wt, 'rev-parse', 'HEAD^{tree}').strip()
		want = git(t, 'rev-parse', f'{want_rev}^{{tree}}').strip()
		if got != want:
			raise HarnessError('b4 am gives another tree than the series:\n'
					   + git(t, 'diff', '--stat', want, got, check=False))
		count = len(git(wt, 'rev-list', f'{BASE_TAG}..HEAD').split())
		if count != len(read_series(SERIES)):
			raise HarnessError(f'b4 am gives {count} commits, the series has '
					   f'{len(read_series(SERIES))}')
		return said
	finally:
		git(t, 'worktree', 'remove', '--force', str(wt), check=False)
		shutil.rmtree(out, ignore_errors=True)
