#!/usr/bin/env python3
"""Lint: every reference in docs/security.md's "At a glance" table exists.

A backticked token with a slash is a path from the project root and must
exist; a backticked identifier in parentheses after a path (`test_x`, a
class name) must occur in that file as a word. Other backticked text
(`max_kbps`, `tenants`) is prose. Prints each broken reference; exits 1 if
any, 0 otherwise. Argument: the project root (default: two levels up)."""
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
doc = open(os.path.join(top, "docs", "security.md"), encoding="utf-8").read()
m = re.search(r"^## At a glance\n(.*?)^## ", doc, re.S | re.M)
if not m:
    print("docs/security.md: no '## At a glance' section")
    sys.exit(1)
bad = []
rows = 0
for line in m.group(1).splitlines():
    if not line.startswith("| ") or line.startswith("| requirement") or line.startswith("|---"):
        continue
    rows += 1
    path = None
    # `a/b.c` opens a file; (`name`, `name`) right after it names things in it.
    for tok, names in re.findall(r"`([^`]+)`((?: \((?:`[^`]+`(?:, )?)+\))?)", line):
        if "/" in tok:
            path = tok
            if not os.path.exists(os.path.join(top, path)):
                bad.append(f"{path}: no such file")
                continue
            for name in re.findall(r"`([^`]+)`", names):
                text = open(os.path.join(top, path), encoding="utf-8").read()
                if not re.search(r"\b" + re.escape(name) + r"\b", text):
                    bad.append(f"{path}: no {name}")
for b in bad:
    print("docs/security.md:", b)
if rows < 23:  # 10 requirements + 13 findings
    print(f"docs/security.md: the table has {rows} rows, expected at least 23")
    sys.exit(1)
sys.exit(1 if bad else 0)
