# SPDX-License-Identifier: GPL-2.0-only
"""One style for every Python file of the project: the SPDX line of the
kernel's Python scripts (GPL-2.0-only) and tabs for indentation, as the
kernel's own tools/testing/kunit uses.  Spaces may still align a
continuation line after its tabs, and strings are left alone."""

import io
import tokenize
from typing import List

SPDX = '# SPDX-License-Identifier: GPL-2.0-only'


def style_problems(src: str) -> List[str]:
	"""What breaks the style in the Python source `src`, as 'LINE: what'
	lines; nothing when it keeps to it."""
	said = []
	head = src.splitlines()[:2]
	if SPDX not in head:
		said.append(f'1: no "{SPDX}" on the first or second line')
	try:
		for tok in tokenize.generate_tokens(io.StringIO(src).readline):
			if tok.type == tokenize.INDENT and tok.string.strip('\t'):
				said.append(f'{tok.start[0]}: indented with spaces, not tabs')
	except (tokenize.TokenError, IndentationError, SyntaxError) as e:
		said.append(f'0: not tokenized: {e}')
	return said
