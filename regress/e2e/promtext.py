"""
promtext.py: a strict parser of the Prometheus text exposition format
0.0.4, for the tests of portero's /metrics.  Standard library only.

parse(text) returns a Scrape, or raises FormatError naming the line
and what is wrong with it.  It is stricter than Prometheus itself
where portero promises more than the format asks:

  - every sample belongs to a family declared by # TYPE before it (no
    untyped samples), and every family has one # HELP;
  - a family's lines come together, once (no family split in two);
  - label values use only the escapes \\\\, \\" and \\n; no label twice
    in one sample; no series (name and label set) twice;
  - histograms: per label set, buckets with "le" in increasing order,
    cumulative (never decreasing), the last one le="+Inf", then _sum
    and _count, with _count equal to the +Inf bucket;
  - counters are never negative or NaN;
  - the text ends with a newline, and has no timestamps.
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

import math
import re

TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Go's strconv.ParseFloat as Prometheus uses it, less hex floats
FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)")
SPECIAL = {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf,
           "NaN": math.nan}
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


class FormatError(ValueError):
    pass


class Sample:
    """One line: its metric name (with a histogram's suffix), labels
    (a dict) and value (a float)."""

    def __init__(self, name, labels, value, lineno):
        self.name = name
        self.labels = labels
        self.value = value
        self.lineno = lineno

    def key(self):
        return (self.name, tuple(sorted(self.labels.items())))

    def __repr__(self):
        return "%s%s %r" % (self.name, fmt_labels(self.labels), self.value)


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []


class Scrape:
    """families: {name: Family} in the order they came; series: {(name,
    sorted label items): value}."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.series = {}

    def family(self, name):
        f = self.families.get(name)
        if f is None:
            raise KeyError("no family %s in the scrape" % name)
        return f

    def samples(self, name, **labels):
        """Samples named name whose labels include the given ones."""
        out = []
        fam = name
        for suf in HIST_SUFFIXES:
            if name.endswith(suf) and name[:-len(suf)] in self.families \
                    and self.families[name[:-len(suf)]].type == "histogram":
                fam = name[:-len(suf)]
        f = self.families.get(fam)
        if f is None:
            return out
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v
                                      for k, v in labels.items()):
                out.append(s)
        return out

    def value(self, name, default=None, **labels):
        """The value of the one series name{labels} (labels exactly), or
        default if there is none."""
        key = (name, tuple(sorted(labels.items())))
        return self.series.get(key, default)

    def sum(self, name, **labels):
        """Sum over the series of name whose labels include labels."""
        return sum(s.value for s in self.samples(name, **labels))

    def label_values(self, name, label):
        return {s.labels.get(label) for s in self.samples(name)}


def fmt_labels(labels):
    if not labels:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (k, escape(v))
                             for k, v in sorted(labels.items()))


def escape(v):
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n",
                                                                 "\\n")


def _err(lineno, line, msg):
    raise FormatError("line %d: %s: %r" % (lineno, msg, line[:160]))


def parse_value(s, lineno, line):
    if s in SPECIAL:
        return SPECIAL[s]
    if not FLOAT.fullmatch(s):
        _err(lineno, line, "bad value %r" % s)
    return float(s)


def _parse_labels(line, i, lineno):
    """Labels starting after the '{' at line[i-1]; returns (dict, index
    after the '}')."""
    labels = {}
    n = len(line)
    while True:
        if i < n and line[i] == "}":
            return labels, i + 1
        m = LABEL_NAME.match(line, i)
        if not m:
            _err(lineno, line, "bad label name at column %d" % (i + 1))
        name = m.group(0)
        if name.startswith("__"):
            _err(lineno, line, "reserved label name %r" % name)
        if name in labels:
            _err(lineno, line, "label %r twice" % name)
        i = m.end()
        if line[i:i + 2] != "=\"":
            _err(lineno, line, "label %r not followed by =\"" % name)
        i += 2
        val = []
        while True:
            if i >= n:
                _err(lineno, line, "label value of %r not closed" % name)
            c = line[i]
            if c == "\"":
                i += 1
                break
            if c == "\\":
                e = line[i + 1:i + 2]
                if e == "\\":
                    val.append("\\")
                elif e == "\"":
                    val.append("\"")
                elif e == "n":
                    val.append("\n")
                else:
                    _err(lineno, line, "bad escape \\%s in label %r" % (
                        e, name))
                i += 2
                continue
            val.append(c)
            i += 1
        labels[name] = "".join(val)
        if i < n and line[i] == ",":
            i += 1
            continue
        if i < n and line[i] == "}":
            return labels, i + 1
        _err(lineno, line, "expected ',' or '}' after label %r" % name)


def parse_sample(line, lineno):
    m = METRIC_NAME.match(line)
    if not m:
        _err(lineno, line, "bad metric name")
    name = m.group(0)
    i = m.end()
    labels = {}
    if i < len(line) and line[i] == "{":
        labels, i = _parse_labels(line, i + 1, lineno)
    rest = line[i:]
    if not rest.startswith(" "):
        _err(lineno, line, "no blank between series and value")
    parts = rest.split()
    if len(parts) == 2:
        _err(lineno, line, "a timestamp (portero sends none)")
    if len(parts) != 1:
        _err(lineno, line, "expected one value after the series")
    return Sample(name, labels, parse_value(parts[0], lineno, line), lineno)


def _family_of(name, families):
    """The declared family a sample name belongs to, or None."""
    f = families.get(name)
    if f is not None and f.type != "histogram":
        return f
    for suf in HIST_SUFFIXES:
        if name.endswith(suf):
            f = families.get(name[:-len(suf)])
            if f is not None and f.type == "histogram":
                return f
    return None


def _check_histogram(f):
    groups = {}
    order = []
    for s in f.samples:
        suf = s.name[len(f.name):]
        base = {k: v for k, v in s.labels.items() if k != "le"}
        key = tuple(sorted(base.items()))
        if key not in groups:
            groups[key] = {"buckets": [], "sum": None, "count": None}
            order.append(key)
        g = groups[key]
        if suf == "_bucket":
            if "le" not in s.labels:
                _err(s.lineno, repr(s), "a bucket without le")
            if g["sum"] is not None or g["count"] is not None:
                _err(s.lineno, repr(s), "a bucket after _sum or _count")
            try:
                le = parse_value(s.labels["le"], s.lineno, repr(s))
            except FormatError:
                _err(s.lineno, repr(s), "le %r is not a number"
                     % s.labels["le"])
            g["buckets"].append((le, s.value, s.lineno))
        else:
            if "le" in s.labels:
                _err(s.lineno, repr(s), "le on a %s line" % suf)
            if s.value != s.value or (suf == "_count" and s.value < 0):
                _err(s.lineno, repr(s), "%s is NaN or negative" % suf)
            g[suf[1:]] = s.value
    for key in order:
        g = groups[key]
        what = "%s%s" % (f.name, fmt_labels(dict(key)))
        bs = g["buckets"]
        if not bs:
            raise FormatError("%s: no buckets" % what)
        prev_le, prev_v = -math.inf, 0.0
        for le, v, lineno in bs:
            if not le > prev_le:
                raise FormatError("line %d: %s: le %r after %r: buckets "
                                  "not in increasing order" % (
                                      lineno, what, le, prev_le))
            if v != v or v < prev_v:
                raise FormatError("line %d: %s: bucket le=%r holds %r, "
                                  "less than the one before (%r): not "
                                  "cumulative" % (lineno, what, le, v,
                                                  prev_v))
            prev_le, prev_v = le, v
        if bs[-1][0] != math.inf:
            raise FormatError("%s: the last bucket is le=%r, not +Inf"
                              % (what, bs[-1][0]))
        if g["sum"] is None or g["count"] is None:
            raise FormatError("%s: _sum or _count missing" % what)
        if g["count"] != bs[-1][1]:
            raise FormatError("%s: _count %r differs from the +Inf bucket "
                              "%r" % (what, g["count"], bs[-1][1]))


def parse(text):
    """A Scrape of text, or FormatError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormatError("not UTF-8: %s" % e)
    sc = Scrape(text)
    if text and not text.endswith("\n"):
        raise FormatError("the text does not end with a newline")
    fams = sc.families
    current = None          # the family whose lines we are in
    done = set()            # families whose group has ended
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.strip() == "":
            continue
        if "\r" in line:
            _err(lineno, line, "a carriage return")
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not METRIC_NAME.fullmatch(parts[2]):
                    _err(lineno, line, "bad metric name in # %s" % parts[1])
                name = parts[2]
                if name in done or (current is not None and
                                    current.name != name and
                                    name in fams):
                    _err(lineno, line, "family %s comes in two places"
                         % name)
                f = fams.get(name)
                if f is None:
                    f = fams[name] = Family(name)
                if current is not None and current is not f:
                    done.add(current.name)
                current = f
                if parts[1] == "HELP":
                    if f.help is not None:
                        _err(lineno, line, "# HELP twice for %s" % name)
                    f.help = _unescape_help(parts[3] if len(parts) > 3
                                            else "", lineno, line)
                else:
                    if f.type is not None:
                        _err(lineno, line, "# TYPE twice for %s" % name)
                    if f.samples:
                        _err(lineno, line, "# TYPE after samples of %s"
                             % name)
                    if len(parts) != 4 or parts[3] not in TYPES:
                        _err(lineno, line, "bad type")
                    f.type = parts[3]
            continue
        s = parse_sample(line, lineno)
        f = _family_of(s.name, fams)
        if f is None or f.type is None:
            _err(lineno, line, "sample of no family declared by # TYPE")
        if f.name in done or (current is not None and current is not f):
            _err(lineno, line, "family %s comes in two places" % f.name)
        current = f
        if f.type == "histogram" and s.name == f.name:
            _err(lineno, line, "a histogram sample without a suffix")
        if f.type == "summary":
            _err(lineno, line, "a summary (portero exports none)")
        if f.type == "counter" and (s.value != s.value or s.value < 0):
            _err(lineno, line, "a counter NaN or negative")
        k = s.key()
        if k in sc.series:
            _err(lineno, line, "series given twice")
        sc.series[k] = s.value
        f.samples.append(s)
    for f in fams.values():
        if f.type is None:
            raise FormatError("family %s has # HELP but no # TYPE" % f.name)
        if f.help is None:
            raise FormatError("family %s has no # HELP" % f.name)
        if f.type == "histogram":
            _check_histogram(f)
    return sc


def _unescape_help(s, lineno, line):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            e = s[i + 1:i + 2]
            if e == "\\":
                out.append("\\")
            elif e == "n":
                out.append("\n")
            else:
                _err(lineno, line, "bad escape \\%s in # HELP" % e)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)
