#!/usr/bin/env python3
"""Prints the first ```python block of a Markdown file (the README's example, run as pasted by the
packaging tests and the release workflow).   python packaging/readme_example.py README.md"""

import re
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    m = re.search(r"^```python\n(.*?)^```", f.read(), re.S | re.M)
if not m:
    sys.exit(f"{sys.argv[1]}: no python block")
sys.stdout.write(m.group(1))
