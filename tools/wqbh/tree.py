# SPDX-License-Identifier: GPL-2.0-only
"""The kernel tree: pristine base, applying the series, exporting it back."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .common import (BASE_TAG, BRANCH, BUILD, DEFAULT_TREE, PATCHES, SERIES,
		     HarnessError, Progress, git, log, read_series, run)

SOURCE_PKG = 'linux-source-6.1'
SOURCE_TARBALL = Path('/usr/src/linux-source-6.1.tar.xz')
COVER = 'patches/0000-cover-letter.patch'
COVER_TEXT = Path(__file__).resolve().parents[2] / 'cover-letter.txt'


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


# Operations git can leave half done: (marker in the git dir, command,
# how to finish it, how to give it up).  rebase-apply/applying is git am.
OPERATIONS = (
	('rebase-merge', 'rebase', 'rebase --continue', 'rebase --abort'),
	('rebase-apply/applying', 'am', 'am --continue', 'am --abort'),
	('rebase-apply', 'rebase', 'rebase --continue', 'rebase --abort'),
	('MERGE_HEAD', 'merge', 'commit', 'merge --abort'),
	('CHERRY_PICK_HEAD', 'cherry-pick', 'cherry-pick --continue', 'cherry-pick --abort'),
	('REVERT_HEAD', 'revert', 'revert --continue', 'revert --abort'),
	('BISECT_LOG', 'bisect', 'bisect good/bad', 'bisect reset'),
)


def check_clean(tree: Path) -> None:
	"""Refuse a tree with uncommitted changes or an operation in progress,
	saying how to get out of it without losing anything."""
	if not is_git(tree):
		raise HarnessError(f'{tree} is not a git repository')
	gitdir = Path(git(tree, 'rev-parse', '--absolute-git-dir').strip())
	for marker, what, finish, give_up in OPERATIONS:
		if (gitdir / marker).exists():
			raise HarnessError(
				f'{tree} has a git {what} in progress; nothing was changed. '
				f'Finish it (`git -C {tree} {finish}`) or give it up '
				f'(`git -C {tree} {give_up}`), then run again')
	dirty = git(tree, 'status', '--porcelain', '--untracked-files=no')
	if dirty.strip():
		files = '\n  '.join(dirty.splitlines()[:10])
		raise HarnessError(
			f'{tree} has uncommitted changes to tracked files; nothing was '
			f'changed. Keep them with `git -C {tree} stash` (back later with '
			f'`git -C {tree} stash pop`) or commit them (`git -C {tree} commit '
			f'-a -s`), then run again:\n  {files}')


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


def source_maintainer() -> Tuple[str, str]:
	"""Name and address of the Debian maintainer of linux-source-6.1: the
	base tree is their package, so its commit and tag are theirs."""
	proc = run(['dpkg-query', '-W', '-f=${Maintainer}', SOURCE_PKG], check=False)
	m = IDENT.match(proc.stdout.strip()) if proc.returncode == 0 else None
	if not m or identity_problem(m['name'], m['email']):
		raise HarnessError(f'cannot read the maintainer of {SOURCE_PKG} '
				   f"(dpkg-query -W -f='${{Maintainer}}' {SOURCE_PKG})")
	return m['name'], m['email']


def ident_env(name: str, email: str, author: bool = True) -> Dict[str, str]:
	"""Environment that makes git use this identity whatever is configured
	(or not) on the machine; the committer's only, unless `author`."""
	env = {'GIT_COMMITTER_NAME': name, 'GIT_COMMITTER_EMAIL': email}
	if author:
		env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email)
	return env


def base_version(tree: Path) -> Optional[str]:
	"""The linux-source-6.1 version a base tree was made from: its tag
	says so, and build/base-version for trees whose tag does not."""
	words = git(tree, 'tag', '-l', '--format=%(contents:subject)', BASE_TAG,
		    check=False).split()
	if len(words) >= 2 and words[0] == SOURCE_PKG:
		return words[1].rstrip(',')
	record = tree.parent / 'base-version'
	if record.exists():
		words = record.read_text().split()
		if len(words) >= 2 and words[0] == SOURCE_PKG:
			return words[1]
	return None


def check_base_version(tree: Path) -> None:
	"""Warn when the base was made from another package version than the
	installed one; the existing base stays in use (it may hold work)."""
	have = base_version(tree)
	try:
		want = source_version()
	except HarnessError:
		return		# nothing installed to compare with
	if have is None or have == want:
		return
	away = tree.with_name(f'{tree.name}.old-{have}')
	n = 2
	while away.exists():
		away = tree.with_name(f'{tree.name}.old-{have}-{n}')
		n += 1
	log(f'warning: {tree} was made from {SOURCE_PKG} {have}, but {want} is '
	    f'installed; going on with the existing base ({have}). For a base '
	    f'made from {want}, move this one away (`mv {tree} {away}`; its '
	    'branches stay there) and run again')


def ensure_base(tree: Path = DEFAULT_TREE) -> Path:
	"""Make (or reuse) the git repository of the pristine 6.1 source.

	Its commit and tag are by the package's Debian maintainer, at the
	tarball's date, so they need no git identity on the machine and are
	the same on every machine with the same package version.
	"""
	if tree.exists():
		if not is_git(tree) or not git(tree, 'tag', '-l', BASE_TAG).strip():
			raise HarnessError(f'{tree} exists but is not a base tree made by '
					   f'this harness (no {BASE_TAG} tag); move it away')
		check_clean(tree)
		check_base_version(tree)
		return tree
	if not SOURCE_TARBALL.exists():
		raise HarnessError(f'{SOURCE_TARBALL} missing: apt-get install {SOURCE_PKG}')
	pkgver = source_version()
	name, email = source_maintainer()
	log(f'creating base tree from {SOURCE_PKG} {pkgver} in {tree}')
	tmp = tree.parent / (tree.name + '.unpacking')
	if tmp.exists():
		shutil.rmtree(tmp)
	tmp.mkdir(parents=True)
	with Progress(f'unpacking {SOURCE_TARBALL.name} (about a minute)'):
		run(['tar', '-xJf', str(SOURCE_TARBALL), '-C', str(tmp)])
	top = tmp / 'linux-source-6.1'
	ver = '%d.%d.%d' % kernel_version(top)
	date = '@%d +0000' % int(SOURCE_TARBALL.stat().st_mtime)
	env = dict(ident_env(name, email), GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
	nosign = ('-c', 'commit.gpgSign=false', '-c', 'tag.gpgSign=false',
		  '-c', 'tag.forceSignAnnotated=false')
	git(top, 'init', '-q', '-b', 'base')
	# Debian's .gitignore ignores everything at the top level: -f.
	git(top, 'add', '-f', '-A')
	git(top, *nosign, 'commit', '-q', '--no-verify', '-m',
	    f'Linux {ver} (Debian {SOURCE_PKG} {pkgver})', env=env)
	git(top, *nosign, 'tag', '-a', BASE_TAG, '-m',
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
	if not (wt / '.git').exists() or not _worktree_of(tree, wt):
		shutil.rmtree(wt, ignore_errors=True)
		git(tree, 'worktree', 'add', '-q', '--detach', str(wt), rev)
	else:
		git(wt, 'checkout', '-q', '-f', '--detach', rev)
	return wt


def _worktree_of(tree: Path, wt: Path) -> bool:
	"""wt is a working worktree of tree (not one of a tree since moved away)."""
	def common(path):
		proc = run(['git', '-C', str(path), 'rev-parse', '--path-format=absolute',
			    '--git-common-dir'], check=False)
		return proc.stdout.strip() if proc.returncode == 0 else None
	mine = common(wt)
	return mine is not None and mine == common(tree)


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


def is_own(tree: Path) -> bool:
	"""The harness's own tree (build/linux or a worktree of it): the one
	with the base tag.  Anything else is a user's tree."""
	return git(tree, 'tag', '-l', BASE_TAG).strip() != ''


def patch_author(path: Path) -> Tuple[str, str]:
	"""Name and address of a patch file's author (its From: header)."""
	with open(path, 'rb') as f:
		proc = subprocess.run(['git', 'mailinfo', os.devnull, os.devnull],
				      stdin=f, stdout=subprocess.PIPE,
				      stderr=subprocess.PIPE)
	info = dict(line.split(': ', 1) for line in
		    proc.stdout.decode('utf-8', 'replace').splitlines() if ': ' in line)
	name, email = info.get('Author', '').strip(), info.get('Email', '').strip()
	if proc.returncode != 0 or not name or not email:
		raise HarnessError(f'patch {path.name} has no From: header naming its author')
	return name, email


def am_series_one(tree: Path, path: Path) -> None:
	"""git am one patch; on failure abort and say which patch and why.

	In the harness's own trees the patch's author is also its committer,
	at the author date, so no identity is made up (none need be
	configured) and the commits are the same wherever they are made.
	In a user's tree git am commits as the user, as always.
	"""
	if not path.exists():
		raise HarnessError(f'series names {path.name}, which is not in {path.parent}')
	cmd, opts, env = ['git', '-C', str(tree)], [], None
	if is_own(tree):
		env = ident_env(*patch_author(path), author=False)
		cmd += ['-c', 'commit.gpgSign=false']
		opts = ['--committer-date-is-author-date']
	proc = run(cmd + ['am', '-q', '--keep-cr', *opts, str(path)], env=env,
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


def check_git_identity(tree: Path) -> None:
	"""git am in a user's tree commits as the user: refuse before anything
	is changed when git has no identity there."""
	proc = run(['git', '-C', str(tree), 'var', 'GIT_COMMITTER_IDENT'], check=False)
	if proc.returncode != 0:
		why = [line for line in proc.stderr.splitlines() if line.strip()]
		raise HarnessError(
			f'git has no identity in {tree} ({why[-1] if why else "git var failed"}), '
			'and git am commits as you there; nothing was changed. Set yours '
			'(`git config --global user.name "<your name>"` and `git config '
			'--global user.email "<your address>"`), then run again')


def backup_branch(tree: Path, branch: str) -> str:
	"""The first free name <branch>-backup-<N>."""
	n = 1
	while git(tree, 'rev-parse', '--verify', '-q', f'refs/heads/{branch}-backup-{n}',
		  check=False).strip():
		n += 1
	return f'{branch}-backup-{n}'


def apply(tree: Path = DEFAULT_TREE, branch: str = BRANCH,
	  series: Path = SERIES, patches_dir: Optional[Path] = None) -> str:
	"""Apply the series onto a new branch; never lose existing work.

	In the harness's own tree (the one with the base tag) the branch
	starts at the base tag.  It is reused when it already holds exactly
	the series; when it holds anything else (an older series, commits of
	the user's) it is renamed to a backup branch, <branch>-backup-<N>,
	and the series is applied on a fresh one.  In a user's tree the
	branch starts at HEAD and must not exist yet.  Either way a tree with
	uncommitted changes or a git operation in progress is refused, and
	when the series does not apply the tree is left as it was.
	"""
	patches_dir = patches_dir or series.parent / 'patches'
	check_clean(tree)
	check_61(tree)
	own = is_own(tree)
	if not own:
		check_git_identity(tree)
	start = BASE_TAG if own else 'HEAD'
	exists = git(tree, 'rev-parse', '--verify', '-q', f'refs/heads/{branch}',
		     check=False).strip()
	backup = None
	if exists:
		if not own:
			raise HarnessError(f'branch {branch} already exists in {tree}; '
					   'pass another BRANCH= or delete it')
		if file_patch_ids(series, patches_dir) == \
		   patch_ids(tree, f'{BASE_TAG}..{branch}'):
			log(f'{tree}: branch {branch} already holds the series')
			git(tree, 'checkout', '-q', branch)
			return branch
		# Keep whatever it holds, as it is, under another name.
		backup = backup_branch(tree, branch)
		git(tree, 'branch', '-m', branch, backup)
	orig = git(tree, 'symbolic-ref', '-q', '--short', 'HEAD', check=False).strip() \
		or git(tree, 'rev-parse', 'HEAD').strip()
	git(tree, 'checkout', '-q', '-b', branch, start)
	try:
		names = am_series(tree, series, patches_dir)
	except HarnessError:
		git(tree, 'checkout', '-q', orig)
		git(tree, 'branch', '-q', '-D', branch)
		if backup:
			git(tree, 'branch', '-m', backup, branch)
		raise
	if backup:
		log(f'{tree}: branch {branch} held commits that are not those of '
		    'patches/ (an older series, or work of yours); kept it as branch '
		    f'{backup} (see it: `git -C {tree} log --oneline {BASE_TAG}..{backup}`; '
		    f'to go on with it instead: `git -C {tree} checkout -B {branch} {backup}`, '
		    f'then make export) and applied patches/ on a fresh {branch}')
	log(f'{tree}: applied {len(names)} patches on branch {branch}')
	return branch


# Identities git makes up when none is configured, and placeholders from
# documentation and templates; none of them can sign off a patch.  The
# reserved top-level domain .example as such is not refused: the project's
# own address is under it.
IDENT = re.compile(r'^(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>$')
_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
_EMAIL = re.compile(rf'^[^@\s<>()\[\],;:"]+@{_LABEL}(?:\.{_LABEL})+$')
FALLBACK_DOMAINS = ('localhost', 'localdomain')
RFC2606_DOMAINS = ('example.com', 'example.org', 'example.net', 'invalid')
PLACEHOLDER_DOMAINS = ('yourdomain.com', 'your-domain.com', 'yourcompany.com',
		       'domain.com', 'domain.tld')
PLACEHOLDER_LOCALS = ('you', 'your.email', 'youremail', 'your_email', 'your-email',
		      'your.name', 'yourname', 'your_name', 'your-name',
		      'firstname.lastname', 'first.last', 'name.surname')
PLACEHOLDER_NAMES = ('your name', 'your full name', 'full name', 'first last',
		     'firstname lastname', 'first name last name', 'name surname',
		     'john doe', 'jane doe', 'joe bloggs', 'a u thor', 'c o mitter',
		     'author name', 'user name', 'unknown', 'root', 'nobody')


def _under(domain: str, roots) -> Optional[str]:
	"""The one of roots that domain is or is a subdomain of."""
	for root in roots:
		if domain == root or domain.endswith('.' + root):
			return root
	return None


def identity_problem(name: str, email: str) -> Optional[str]:
	"""What makes an identity unfit to author or sign off a patch (empty,
	git's fallback, a placeholder, no valid address), or None."""
	name, email = name.strip(), email.strip()
	if not name:
		return 'empty name'
	if not email:
		return 'empty email address'
	if '(none)' in name or '(none)' in email:
		return "git's fallback identity (none was configured)"
	local, _, domain = email.rpartition('@')
	domain = domain.lower()
	root = _under(domain, FALLBACK_DOMAINS)
	if local and root:
		return f"git's fallback identity ({root} is a host name, not a mail domain)"
	if not _EMAIL.match(email):
		return f'{email} is not a valid email address'
	root = _under(domain, RFC2606_DOMAINS)
	if root:
		return f'{domain} is a placeholder domain ({root}, RFC 2606)'
	if _under(domain, PLACEHOLDER_DOMAINS) or local.lower() in PLACEHOLDER_LOCALS:
		return f'{email} is a placeholder address'
	if ' '.join(name.lower().replace('.', ' ').split()) in PLACEHOLDER_NAMES:
		return f'"{name}" is a placeholder name'
	return None


TRAILER = re.compile(r'^(Signed-off-by|Co-developed-by):\s*(.*?)\s*$')


def dco_problems(name: str, email: str, body: str) -> List[str]:
	"""What breaks the kernel's sign-off rules in one commit, by its
	author and message (Documentation/process/submitting-patches.rst):
	the author signs it off, with exactly the author's name and address;
	each Co-developed-by is immediately followed by that person's
	Signed-off-by; no identity is empty, made up or malformed."""
	me = f'{name} <{email}>'
	problems = []
	why = identity_problem(name, email)
	if why:
		problems.append(f'author {me}: {why}')
	lines = [line.rstrip() for line in body.splitlines()]
	signers = []
	for i, line in enumerate(lines):
		m = TRAILER.match(line)
		if not m:
			continue
		key, value = m.groups()
		who = IDENT.match(value)
		if not who:
			problems.append(f'"{line}" is not "{key}: Name <email>"')
			continue
		why = identity_problem(who['name'], who['email'])
		if why:
			problems.append(f'"{line}": {why}')
		if key == 'Signed-off-by':
			signers.append(value)
			continue
		if value == me:
			problems.append(f'"{line}" names the author; Co-developed-by '
					'is for the other authors')
		if i + 1 >= len(lines) or lines[i + 1] != f'Signed-off-by: {value}':
			problems.append(f'"{line}" is not immediately followed by '
					f'"Signed-off-by: {value}"')
	if me not in signers:
		others = f' (signed off by: {", ".join(signers)})' if signers else ''
		problems.append(f'author {me} has no "Signed-off-by: {me}" line{others}')
	return problems


def check_dco(tree: Path, rev_range: str) -> None:
	"""Every commit in rev_range follows the kernel's sign-off rules
	(dco_problems), whoever made it; the failures name each commit by
	its subject and say what is wrong."""
	failures = []
	out = git(tree, 'log', '--reverse', '--format=%H%x00%an%x00%ae%x00%B%x01',
		  rev_range)
	for rec in out.split('\x01'):
		rec = rec.strip('\n')
		if not rec:
			continue
		rev, name, email, body = rec.split('\x00', 3)
		subject = body.splitlines()[0] if body.strip() else rev[:12]
		failures += [f'commit "{subject}": {p}' for p in dco_problems(name, email, body)]
	if failures:
		raise HarnessError('commits break the kernel\'s sign-off rules (the DCO, '
				   'Documentation/process/submitting-patches.rst):\n  '
				   + '\n  '.join(failures))


def series_sender(tree: Path, rev_range: str) -> Tuple[str, str]:
	"""Who passes the series on, so who sends its cover letter: the last
	Signed-off-by of its last commit (its author when it has none)."""
	lines = git(tree, 'log', '-1', '--format=%an <%ae>%n%B', rev_range).splitlines()
	idents = [lines[0]]
	for line in lines[1:]:
		m = TRAILER.match(line)
		if m and m.group(1) == 'Signed-off-by' and IDENT.match(m.group(2)):
			idents.append(m.group(2))
	m = IDENT.match(idents[-1])
	return m['name'], m['email']


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
	"""Regenerate patches/ and series from the tree, byte for byte stable.

	The commits must follow the kernel's sign-off rules (check_dco),
	whoever made them.  Nothing of the machine's git configuration goes
	into the files: format-patch runs without the global and system
	configuration, and the cover letter is from the series' sender
	(series_sender), not from whoever runs the export.
	"""
	count = len(git(tree, 'rev-list', rev_range).split())
	if count == 0:
		raise HarnessError(f'no commits in {rev_range} to export')
	check_dco(tree, rev_range)
	env = dict(ident_env(*series_sender(tree, rev_range), author=False),
		   GIT_CONFIG_NOSYSTEM='1', GIT_CONFIG_GLOBAL=os.devnull)
	tmp = Path(tempfile.mkdtemp(prefix='wqbh-export-'))
	try:
		git(tree, '-c', 'core.abbrev=12', '-c', 'diff.renames=true',
		    'format-patch', '-q', '--zero-commit', '--no-signature',
		    '--cover-letter', '--no-thread', '--no-binary', '--full-index',
		    '--minimal', '-o', str(tmp), rev_range, env=env)
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


# checkpatch's MACRO_ARG_REUSE check flags every macro that declares an
# object and initializes it with its own address, as DECLARE_WORK() and
# __WORK_INITIALIZER() do: the name is used twice by design.  Such reports
# are the only ones forgiven, and only for macros named like those.
DECLARATION_MACRO = re.compile(r'^\+#define (DECLARE_\w+|__\w+_INITIALIZER\w*)\(', re.M)


def forgiven(block: str) -> bool:
	"""A block of checkpatch's report that --strict cleanliness allows."""
	return (block.startswith('CHECK: Macro argument reuse ')
		and DECLARATION_MACRO.search(block) is not None)


def checkpatch_verdict(report: str) -> bool:
	"""Whether checkpatch's report shows a clean patch: no block other than
	the closing total and forgiven() ones."""
	blocks = [b.strip() for b in report.split('\n\n') if b.strip()]
	totals = [b for b in blocks if b.startswith('total: ')]
	return len(totals) == 1 and ' 0 errors, 0 warnings,' in totals[0] and \
		all(b in totals or forgiven(b) for b in blocks)


def checkpatch(tree: Path, patch: Path) -> Tuple[bool, str]:
	"""checkpatch.pl --strict on one patch; (clean, report)."""
	proc = run(['perl', str(tree / 'scripts' / 'checkpatch.pl'), '--strict',
		    '--quiet', '--no-color', str(patch)], cwd=tree, check=False)
	report = (proc.stdout + proc.stderr).strip()
	return proc.returncode == 0 or checkpatch_verdict(report), report


# The placeholders of README.md's manual apply commands.
README_TREE = '/path/to/linux'
README_REPO = '/path/to/this/repo'


def readme_apply_commands(readme: Path) -> List[str]:
	"""README.md's commands for applying the series by hand (indented
	lines starting with `cd /path/to/linux && `), as written there."""
	return [line.strip() for line in readme.read_text().splitlines()
		if line.startswith('    ') and line.strip().startswith(f'cd {README_TREE} && ')]


def command_tree_matches(tree: Path, command: str, repo: Path, want_rev: str = BRANCH) -> None:
	"""A README apply command, run as written on a scratch worktree of
	the base (its placeholders replaced by that worktree and `repo`),
	gives exactly the tree of want_rev; raises HarnessError otherwise."""
	wt = BUILD / 'apply-check'
	if wt.exists():
		run(['git', '-C', str(tree), 'worktree', 'remove', '--force', str(wt)],
		    check=False)
		shutil.rmtree(wt, ignore_errors=True)
	git(tree, 'worktree', 'prune')
	git(tree, 'worktree', 'add', '-q', '--detach', str(wt), BASE_TAG)
	try:
		cmd = command.replace(README_TREE, str(wt)).replace(README_REPO, str(repo))
		# a scratch commit: git am needs a committer, whatever the machine has
		env = dict(ident_env(*source_maintainer(), author=False), QUILTRC='/dev/null')
		proc = run(['bash', '-euo', 'pipefail', '-c', cmd], env=env, check=False)
		if proc.returncode != 0:
			raise HarnessError(f'`{command}` failed (exit {proc.returncode}):\n'
					   + (proc.stdout + proc.stderr).strip()[-2000:])
		shutil.rmtree(wt / '.pc', ignore_errors=True)
		git(wt, 'add', '-f', '-A')
		got = git(wt, 'write-tree').strip()
		want = git(tree, 'rev-parse', f'{want_rev}^{{tree}}').strip()
		if got != want:
			diff = git(tree, 'diff', '--stat', want, got, check=False)
			raise HarnessError(f'`{command}` gives another tree than the series:\n{diff}')
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
