# SPDX-License-Identifier: GPL-2.0-only
"""The kernel tree: pristine base, applying the series, exporting it back."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from .common import (BASE_TAG, BRANCH, BUILD, DEFAULT_TREE, PATCHES, SERIES,
		     HarnessError, git, log, read_series, run)

SOURCE_PKG = 'linux-source-6.1'
SOURCE_TARBALL = Path('/usr/src/linux-source-6.1.tar.xz')
COVER = 'patches/0000-cover-letter.patch'
COVER_TEXT = Path(__file__).resolve().parents[1] / 'cover-letter.txt'


def kernel_version(tree: Path) -> Tuple[int, int, int]:
	"""VERSION, PATCHLEVEL and SUBLEVEL from a tree's top Makefile."""
	mk = tree / 'Makefile'
	if not mk.exists():
		raise HarnessError(f'{tree} is not a kernel tree (no top-level Makefile)')
	vals = {}
	for line in mk.read_text(errors='replace').splitlines()[:10]:
		m = re.match(r'^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)', line)
		if m:
			vals[m.group(1)] = int(m.group(2))
	if len(vals) != 3:
		raise HarnessError(f'{tree}/Makefile has no kernel version')
	return vals['VERSION'], vals['PATCHLEVEL'], vals['SUBLEVEL']


def is_git(tree: Path) -> bool:
	return subprocess.run(['git', '-C', str(tree), 'rev-parse', '--git-dir'],
			      stdout=subprocess.DEVNULL,
			      stderr=subprocess.DEVNULL).returncode == 0


def check_clean(tree: Path) -> None:
	"""Refuse a tree with uncommitted changes or an operation in progress."""
	if not is_git(tree):
		raise HarnessError(f'{tree} is not a git repository')
	gitdir = Path(git(tree, 'rev-parse', '--absolute-git-dir').strip())
	for op in ('rebase-apply', 'rebase-merge', 'MERGE_HEAD', 'CHERRY_PICK_HEAD'):
		if (gitdir / op).exists():
			raise HarnessError(f'{tree} has a git operation in progress '
					   f'({op}); finish or abort it first')
	dirty = git(tree, 'status', '--porcelain', '--untracked-files=no')
	if dirty.strip():
		files = '\n  '.join(dirty.splitlines()[:10])
		raise HarnessError(f'{tree} has uncommitted changes; commit or stash '
				   f'them first (nothing was changed):\n  {files}')


def check_61(tree: Path) -> None:
	ver = kernel_version(tree)
	if ver[:2] != (6, 1):
		raise HarnessError(f'{tree} is Linux {ver[0]}.{ver[1]}.{ver[2]}; '
				   'the series is for 6.1.y trees')


def source_version() -> str:
	proc = run(['dpkg-query', '-W', '-f=${Version}', SOURCE_PKG], check=False)
	if proc.returncode != 0:
		raise HarnessError(f'{SOURCE_PKG} is not installed')
	return proc.stdout.strip()


def ensure_base(tree: Path = DEFAULT_TREE) -> Path:
	"""Make (or reuse) the git repository of the pristine 6.1 source."""
	if tree.exists():
		if not is_git(tree) or not git(tree, 'tag', '-l', BASE_TAG).strip():
			raise HarnessError(f'{tree} exists but is not a base tree made by '
					   f'this harness (no {BASE_TAG} tag); move it away')
		check_clean(tree)
		return tree
	if not SOURCE_TARBALL.exists():
		raise HarnessError(f'{SOURCE_TARBALL} missing: apt-get install {SOURCE_PKG}')
	pkgver = source_version()
	log(f'creating base tree from {SOURCE_PKG} {pkgver} in {tree}')
	tmp = tree.parent / (tree.name + '.unpacking')
	if tmp.exists():
		shutil.rmtree(tmp)
	tmp.mkdir(parents=True)
	run(['tar', '-xJf', str(SOURCE_TARBALL), '-C', str(tmp)])
	top = tmp / 'linux-source-6.1'
	ver = '%d.%d.%d' % kernel_version(top)
	# A fixed date makes the base commit the same on every machine that
	# has the same package version.
	date = '@%d +0000' % int(SOURCE_TARBALL.stat().st_mtime)
	env = {'GIT_AUTHOR_DATE': date, 'GIT_COMMITTER_DATE': date}
	git(top, 'init', '-q', '-b', 'base')
	# Debian's .gitignore ignores everything at the top level: -f.
	git(top, 'add', '-f', '-A')
	git(top, 'commit', '-q', '-m',
	    f'Linux {ver} (Debian {SOURCE_PKG} {pkgver})', env=env)
	git(top, 'tag', '-a', BASE_TAG, '-m',
	    f'{SOURCE_PKG} {pkgver}, Linux {ver}', env=env)
	top.rename(tree)
	tmp.rmdir()
	(tree.parent / 'base-version').write_text(f'{SOURCE_PKG} {pkgver}\nLinux {ver}\n')
	return tree


def scratch_worktree(tree: Path, wt: Path, rev: str) -> Path:
	"""A worktree of `tree` at `wt` that belongs to the harness, checked out
	(forcibly: whatever is in it is discarded) at `rev`, detached.  Created
	when missing; kept between runs so that its build output stays."""
	git(tree, 'worktree', 'prune')
	if not (wt / '.git').exists():
		shutil.rmtree(wt, ignore_errors=True)
		git(tree, 'worktree', 'add', '-q', '--detach', str(wt), rev)
	else:
		git(wt, 'checkout', '-q', '-f', '--detach', rev)
	return wt


def patch_ids(tree: Path, rev_range: str) -> List[str]:
	"""Stable patch ids of the commits in a range, oldest first."""
	revs = git(tree, 'rev-list', '--reverse', rev_range).split()
	ids = []
	for rev in revs:
		diff = git(tree, 'show', '--format=%B', rev)
		pid = run(['git', '-C', str(tree), 'patch-id', '--stable'],
			  input=diff).stdout.split()
		ids.append(pid[0] if pid else '')
	return ids


def file_patch_ids(series: Path, patches_dir: Path) -> List[str]:
	"""Stable patch ids of the patch files a series names."""
	ids = []
	for name in read_series(series):
		text = (patches_dir / name).read_text()
		pid = run(['git', 'patch-id', '--stable'], input=text).stdout.split()
		ids.append(pid[0] if pid else '')
	return ids


def am_series_one(tree: Path, path: Path) -> None:
	"""git am one patch; on failure abort and say which patch and why."""
	if not path.exists():
		raise HarnessError(f'series names {path.name}, which is not in {path.parent}')
	proc = run(['git', '-C', str(tree), 'am', '-q', '--keep-cr', str(path)],
		   check=False)
	if proc.returncode != 0:
		reason = (proc.stderr + proc.stdout).strip()
		run(['git', '-C', str(tree), 'am', '--abort'], check=False)
		raise HarnessError(f'patch {path.name} does not apply:\n{reason}')


def am_series(tree: Path, series: Path, patches_dir: Path) -> List[str]:
	"""git am each patch of a series in turn; name the one that fails."""
	names = read_series(series)
	for name in names:
		am_series_one(tree, patches_dir / name)
	return names


def apply(tree: Path = DEFAULT_TREE, branch: str = BRANCH,
	  series: Path = SERIES, patches_dir: Optional[Path] = None) -> str:
	"""Apply the series onto a new branch; never rewrite existing work.

	In the harness's own tree the branch starts at the base tag and is
	reused when it already holds exactly the series.  In a user's tree
	the branch starts at HEAD and must not exist yet.
	"""
	patches_dir = patches_dir or series.parent / 'patches'
	check_clean(tree)
	check_61(tree)
	own = git(tree, 'tag', '-l', BASE_TAG).strip() != ''
	start = BASE_TAG if own else 'HEAD'
	exists = git(tree, 'rev-parse', '--verify', '-q', f'refs/heads/{branch}',
		     check=False).strip()
	if exists:
		if not own:
			raise HarnessError(f'branch {branch} already exists in {tree}; '
					   'pass another BRANCH= or delete it')
		# Reuse when it holds the series; refuse when it holds other work.
		if file_patch_ids(series, patches_dir) == \
		   patch_ids(tree, f'{BASE_TAG}..{branch}'):
			log(f'{tree}: branch {branch} already holds the series')
			git(tree, 'checkout', '-q', branch)
			return branch
		raise HarnessError(
			f'branch {branch} in {tree} holds commits that differ from '
			'patches/: export them first (make export) if they are new '
			f'work, or delete the branch (git -C {tree} branch -D '
			f'{branch}) to re-apply the series')
	orig = git(tree, 'symbolic-ref', '-q', '--short', 'HEAD', check=False).strip() \
		or git(tree, 'rev-parse', 'HEAD').strip()
	git(tree, 'checkout', '-q', '-b', branch, start)
	try:
		names = am_series(tree, series, patches_dir)
	except HarnessError:
		git(tree, 'checkout', '-q', orig)
		git(tree, 'branch', '-q', '-D', branch)
		raise
	log(f'{tree}: applied {len(names)} patches on branch {branch}')
	return branch


def identity(tree: Path) -> Tuple[str, str]:
	name = git(tree, 'config', 'user.name', check=False).strip()
	email = git(tree, 'config', 'user.email', check=False).strip()
	if not name or not email:
		raise HarnessError('git user.name and user.email must be set: they '
				   'are the author and Signed-off-by of every patch')
	return name, email


def check_identity(tree: Path, rev_range: str) -> None:
	"""Every commit is by the project identity and signed off by it."""
	name, email = identity(tree)
	me = f'{name} <{email}>'
	for line in git(tree, 'log', '--format=%H%x00%an <%ae>%x00%B%x01',
			rev_range).split('\x01'):
		line = line.strip('\n')
		if not line:
			continue
		rev, author, body = line.split('\x00', 2)
		subject = body.splitlines()[0] if body else rev
		if author != me:
			raise HarnessError(f'commit "{subject}" is by {author}, not {me}')
		if f'Signed-off-by: {me}' not in body:
			raise HarnessError(f'commit "{subject}" lacks Signed-off-by: {me}')


def _normalise_cover(text: str, date: str, cover: str) -> str:
	"""Fill the cover letter and pin its date, which format-patch sets to now."""
	lines = cover.strip('\n').splitlines()
	subject, blurb = lines[0], '\n'.join(lines[1:]).strip('\n')
	text = text.replace('*** SUBJECT HERE ***', subject)
	text = text.replace('*** BLURB HERE ***', blurb)
	return re.sub(r'^Date: .*$', f'Date: {date}', text, count=1, flags=re.M)


def export(tree: Path = DEFAULT_TREE, out: Path = PATCHES,
	   series: Path = SERIES, rev_range: str = f'{BASE_TAG}..{BRANCH}',
	   cover_text: Path = COVER_TEXT) -> List[str]:
	"""Regenerate patches/ and series from the tree, byte for byte stable."""
	check_identity(tree, rev_range)
	count = len(git(tree, 'rev-list', rev_range).split())
	if count == 0:
		raise HarnessError(f'no commits in {rev_range} to export')
	tmp = Path(tempfile.mkdtemp(prefix='wqbh-export-'))
	try:
		git(tree, '-c', 'core.abbrev=12', '-c', 'diff.renames=true',
		    'format-patch', '-q', '--zero-commit', '--no-signature',
		    '--cover-letter', '--no-thread', '--no-binary', '--full-index',
		    '--minimal', '-o', str(tmp), rev_range)
		names = sorted(p.name for p in tmp.iterdir())
		cover_name, patch_names = names[0], names[1:]
		last_date = ''
		for name in patch_names:
			m = re.search(r'^Date: (.*)$', (tmp / name).read_text(), re.M)
			last_date = m.group(1) if m else last_date
		cover = cover_text.read_text() if cover_text.exists() else \
			'BH workqueues for Linux 6.1\n\n(no cover text)\n'
		text = _normalise_cover((tmp / cover_name).read_text(), last_date, cover)
		(tmp / cover_name).write_text(text)
		out.mkdir(parents=True, exist_ok=True)
		for old in out.glob('*.patch'):
			old.unlink()
		for name in names:
			shutil.copyfile(tmp / name, out / name)
	finally:
		shutil.rmtree(tmp, ignore_errors=True)
	series.write_text(''.join(f'{n}\n' for n in patch_names))
	return patch_names


def checkpatch(tree: Path, patch: Path) -> Tuple[bool, str]:
	"""checkpatch.pl --strict on one patch; (clean, report)."""
	proc = run(['perl', str(tree / 'scripts' / 'checkpatch.pl'), '--strict',
		    '--quiet', '--no-color', str(patch)], cwd=tree, check=False)
	report = (proc.stdout + proc.stderr).strip()
	return proc.returncode == 0, report


def quilt_tree_matches(tree: Path, series: Path = SERIES,
		       patches_dir: Path = PATCHES, want_rev: str = BRANCH) -> None:
	"""quilt push -a over the base gives exactly the tree of want_rev."""
	wt = BUILD / 'quilt-check'
	if wt.exists():
		run(['git', '-C', str(tree), 'worktree', 'remove', '--force', str(wt)],
		    check=False)
		shutil.rmtree(wt, ignore_errors=True)
	git(tree, 'worktree', 'prune')
	git(tree, 'worktree', 'add', '-q', '--detach', str(wt), BASE_TAG)
	try:
		env = dict(QUILT_PATCHES=str(patches_dir), QUILT_SERIES=str(series),
			   QUILT_PC='.pc', QUILTRC='/dev/null')
		if read_series(series):
			proc = run(['quilt', 'push', '-a', '-q'], cwd=wt, env=env, check=False)
			if proc.returncode != 0:
				raise HarnessError('quilt push -a failed:\n' +
						   (proc.stdout + proc.stderr).strip()[-2000:])
		shutil.rmtree(wt / '.pc', ignore_errors=True)
		git(wt, 'add', '-f', '-A')
		got = git(wt, 'write-tree').strip()
		want = git(tree, 'rev-parse', f'{want_rev}^{{tree}}').strip()
		if got != want:
			diff = git(tree, 'diff', '--stat', want, got, check=False)
			raise HarnessError('quilt push -a gives a different tree than '
					   f'git am:\n{diff}')
	finally:
		run(['git', '-C', str(tree), 'worktree', 'remove', '--force', str(wt)],
		    check=False)


def maintainers_blocks(snippet: Path) -> List[str]:
	"""Entries of MAINTAINERS-snippet as they must read in the tree."""
	blocks, cur = [], []
	for line in snippet.read_text().splitlines() + ['']:
		if line.startswith('#'):
			continue
		if not line.strip():
			if cur:
				blocks.append('\n'.join(cur))
			cur = []
			continue
		cur.append(line[1:] if line.startswith('+') else line)
	return blocks


def check_maintainers(wt: Path, snippet: Path) -> None:
	"""Every entry of the snippet stands verbatim in the tree's MAINTAINERS."""
	text = (wt / 'MAINTAINERS').read_text(errors='replace')
	for block in maintainers_blocks(snippet):
		if f'\n{block}\n' not in text:
			raise HarnessError(f'MAINTAINERS of the applied tree lacks the entry '
					   f'"{block.splitlines()[0]}" as MAINTAINERS-snippet has it')
