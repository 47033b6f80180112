"""
Access log lines, parsed: the combined format (Apache's and nginx's,
then portero's own fields) and ltsv, for the tests that read the log.
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

import re

# %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i", as Apache
# documents it, then the eight fields portero appends
COMBINED_RE = re.compile(
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) '
    r'\[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"'
    r' (?P<sni>\S+) (?P<host>\S+) (?P<duration>\d+\.\d{3})'
    r' (?P<upstream>\S+) (?P<upstream_time>\d+\.\d{3}|-)'
    r' (?P<tls>\S+) (?P<session>full|resumed|-) (?P<request_id>\S+)')


def combined(line):
    """The fields of a combined line as a dict, or None if it is not one.
    The request line is split into method, target and protocol (None
    for "-")."""
    m = COMBINED_RE.fullmatch(line)
    if m is None:
        return None
    f = m.groupdict()
    f["status"] = int(f["status"])
    parts = f["request"].split(" ")
    if f["request"] == "-":
        f["method"] = f["target"] = f["protocol"] = None
    elif len(parts) == 3:
        f["method"], f["target"], f["protocol"] = parts
    else:
        return None
    return f


def ltsv(line):
    """{label: value} of an ltsv line; None if a field has no label."""
    out = {}
    for field in line.split("\t"):
        label, sep, value = field.partition(":")
        if not sep or not re.fullmatch(r"[0-9A-Za-z_.-]+", label) or \
                label in out:
            return None
        out[label] = value
    return out
