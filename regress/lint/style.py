#!/usr/bin/env python3
"""
style.py: the house style that a machine can check, over every source
file of the tree: style(9)'s "return (x)", no declarations inside
"for (", C lines within 80 columns, and the ISC licence on every source
file; and that the TLS libraries' headers are included by their
implementation of the TLS interface alone (portero/ptls_*.c).  One PASS
or FAIL line per rule, with the first offenders.
"""

# Copyright (c) 2026 The portero authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHORS DISCLAIM ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.

import os
import re
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LICENCE = "Permission to use, copy, modify, and distribute this software"
# Not source: prose, data, and files whose format has no comments.
NOT_SOURCE = re.compile(r"(^|/)(README|LICENSE|\.gitignore)$|\.md$|"
                        r"(^|/)corpus/")
C_FILE = re.compile(r"\.[chy]$")
FOR_DECL = re.compile(
    r"\bfor\s*\(\s*(const\s+)?(unsigned|signed|int|long|short|char|"
    r"size_t|ssize_t|u?int\d+_t|struct\s+\w+|enum\s+\w+|\w+_t)\b[\s*]*"
    r"\w+\s*[=;]")
# Only the TLS interface's implementations see the TLS libraries.
TLS_HEADER = re.compile(r"^\s*#\s*include\s*[<\"](tls\.h|openssl/ssl\.h|"
                        r"openssl/tls1\.h|openssl/ssl3\.h)[>\"]", re.M)
TLS_IMPL = re.compile(r"^portero/ptls_\w+\.c$")


def files():
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others",
                              "--exclude-standard"], cwd=TOP, check=True,
                             capture_output=True, text=True).stdout
        names = out.split()
    except (OSError, subprocess.CalledProcessError):
        names = []
        for root, dirs, fs in os.walk(TOP):
            dirs[:] = [d for d in dirs if not d.startswith(".") or
                       d == ".ci"]
            for f in fs:
                names.append(os.path.relpath(os.path.join(root, f), TOP))
    return sorted(n for n in names if not NOT_SOURCE.search(n) and
                  os.path.isfile(os.path.join(TOP, n)))


def strip_c(src):
    """The source with comments and string and character literals
    blanked (newlines kept), so that rules see only code."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j == -1 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", src[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def wrapped(expr):
    """True if expr is one parenthesised whole."""
    e = expr.strip()
    if not (e.startswith("(") and e.endswith(")")):
        return False
    depth = 0
    for i, c in enumerate(e):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and i != len(e) - 1:
                return False
    return True


def bare_returns(code):
    """Line numbers of returns whose value is not in parentheses."""
    bad = []
    for m in re.finditer(r"\breturn\b", code):
        depth, k = 0, m.end()
        while k < len(code):
            c = code[k]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == ";" and depth == 0:
                break
            k += 1
        expr = code[m.end():k]
        if expr.strip() and not wrapped(expr):
            bad.append(code.count("\n", 0, m.start()) + 1)
    return bad


def main():
    rules = {"style_return_parens": [], "style_for_declaration": [],
             "style_80_columns": [], "style_licence": [],
             "style_tls_headers": []}
    for name in files():
        path = os.path.join(TOP, name)
        try:
            with open(path, encoding="utf-8") as f:
                src = f.read()
        except (UnicodeDecodeError, OSError):
            continue        # a binary: not source
        if LICENCE not in src:
            rules["style_licence"].append(name)
        if not C_FILE.search(name):
            continue
        for m in TLS_HEADER.finditer(src):
            if name.startswith("portero/") and not TLS_IMPL.match(name):
                rules["style_tls_headers"].append(
                    "%s:%d" % (name, src.count("\n", 0, m.start()) + 1))
        code = strip_c(src)
        for ln in bare_returns(code):
            rules["style_return_parens"].append("%s:%d" % (name, ln))
        for m in FOR_DECL.finditer(code):
            rules["style_for_declaration"].append(
                "%s:%d" % (name, code.count("\n", 0, m.start()) + 1))
        for i, line in enumerate(src.split("\n"), 1):
            if len(line.expandtabs(8)) > 80:
                rules["style_80_columns"].append("%s:%d" % (name, i))
    failed = 0
    for rule, bad in rules.items():
        if bad:
            failed += 1
            print("FAIL %s: %d: %s%s" % (rule, len(bad), " ".join(bad[:8]),
                                         " ..." if len(bad) > 8 else ""))
        else:
            print("PASS %s" % rule)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
