# SPDX-License-Identifier: GPL-2.0-only
"""`python3 -m wqbh`, with tools/ on the module path: the harness's
command line (wqbh.cli)."""

import sys

from .cli import main

sys.exit(main())
