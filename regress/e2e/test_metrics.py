"""
Metrics (issue 11): /metrics on --metrics-addr, served by the metrics
child in the Prometheus text format 0.0.4, and porterod-ctl show stats.
Every scrape is parsed by promtext.py (a format error fails the test)
and checked against the families of the interface: their types, label
names, bounded label values and histogram buckets.  Counters are checked
by their exact movement as requests (HTTP/1.1 and HTTP/2, answered,
refused and failed upstream), TLS handshakes (full, resumed, failed for
each reason), registrations and refusals, reloads and a killed worker
happen; label values stay bounded under a flood of random Host fields;
certificate expiry times are the certificates' notAfter; each process's
resident memory is there.  The listener answers only GET and HEAD of
/metrics, is off by default, and a slow or huge request head does not
hold up a scrape; a stopped worker holds a scrape 2 s and is counted
missing; -n refuses a bad or taken address, in the file with its
FILE:LINE.
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

import calendar
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import h2raw
import promtext
from backends import (EchoBackend, TestCA, cert_folder, client_hello,
                      closed_port, fix_cert_perms, get, make_cert_dir,
                      read_response, tls_connect, wait_closed, write_atomic)
from harness import (PORTERO, check, check_ids, check_sandboxed, fail,
                     free_ports, nobody_ids, proc_status, recv_all,
                     wait_until)
from test_register import NO_LIMIT, api, auth, reg_body, register

# ---------------------------------------------------------------------
# the interface (spec/metrics.md)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
           2.5, 5.0, 10.0, math.inf)

FAMILIES = {
    "portero_requests_total": ("counter", ("service", "class", "proto")),
    "portero_request_duration_seconds": ("histogram", ("service",)),
    "portero_upstream_connect_seconds": ("histogram",
                                         ("service", "backend")),
    "portero_upstream_response_seconds": ("histogram",
                                          ("service", "backend")),
    "portero_upstream_errors_total": ("counter", ("service", "backend")),
    "portero_backend_up": ("gauge", ("service", "backend")),
    "portero_registered_backends": ("gauge", ("service",)),
    "portero_client_connections": ("gauge", ("proto",)),
    "portero_tls_handshakes_total": ("counter", ("kind",)),
    "portero_tls_handshake_failures_total": ("counter", ("reason",)),
    "portero_client_received_bytes_total": ("counter", ()),
    "portero_client_sent_bytes_total": ("counter", ()),
    "portero_registrations_total": ("counter", ()),
    "portero_registration_refusals_total": ("counter", ("reason",)),
    "portero_certificate_expiry_timestamp_seconds": ("gauge", ("name",)),
    "portero_child_restarts_total": ("counter", ("role", "id")),
    "portero_process_resident_memory_bytes": ("gauge", ("role", "id")),
    "portero_access_log_dropped_total": ("counter", ()),
    "portero_access_log_lines_total": ("counter", ()),
    "portero_config_reloads_total": ("counter", ("result",)),
    "portero_scrape_missing_processes": ("gauge", ()),
}

HS_REASONS = ("timeout", "closed", "client_certificate", "protocol")
REG_REASONS = ("bad_request", "unauthorized", "forbidden", "not_found",
               "method", "too_large", "media_type", "rate_limited",
               "unavailable", "full", "other")
# the values each bounded label may take, by family (None: any family)
DOMAINS = {
    (None, "class"): {"1xx", "2xx", "3xx", "4xx", "5xx"},
    (None, "proto"): {"h1", "h2"},
    (None, "kind"): {"full", "resumed"},
    (None, "result"): {"taken", "refused"},
    ("portero_tls_handshake_failures_total", "reason"): set(HS_REASONS),
    ("portero_registration_refusals_total", "reason"): set(REG_REASONS),
    # the roles of portero(8), and the logger of the logs half of the
    # issue
    (None, "role"): {"parent", "certloader", "registrar", "worker",
                     "health", "metrics", "logger"},
}
SERVICE = re.compile(r"[a-z0-9][a-z0-9._-]*")
BACKEND = re.compile(r"(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}")

REQ = "portero_requests_total"
DUR = "portero_request_duration_seconds"
UPC = "portero_upstream_connect_seconds"
UPR = "portero_upstream_response_seconds"
UPE = "portero_upstream_errors_total"
HS = "portero_tls_handshakes_total"
HSF = "portero_tls_handshake_failures_total"
RSS = "portero_process_resident_memory_bytes"
RESTARTS = "portero_child_restarts_total"
RELOADS = "portero_config_reloads_total"
MISSING = "portero_scrape_missing_processes"


# ---------------------------------------------------------------------
# scraping

def http_raw(port, raw, timeout=5.0):
    """Send raw on a fresh connection, read to EOF: the bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        return recv_all(s, timeout)
    finally:
        s.close()


def split_response(data):
    """(status, {lower name: value}, body) of one HTTP/1.1 response,
    fields kept in a list too for duplicates."""
    head, sep, body = data.partition(b"\r\n\r\n")
    check(sep, "the metrics listener sent no whole head: %r" % data[:200])
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})(?: .*)?$", lines[0])
    check(m, "bad status line %r" % lines[0][:100])
    fields = {}
    for line in lines[1:]:
        k, sep, v = line.partition(b":")
        check(sep, "bad field line %r" % line[:100])
        k = k.strip().lower().decode("latin-1")
        check(k not in fields, "field %r twice in %r" % (k, head[:300]))
        fields[k] = v.strip().decode("latin-1")
    return int(m.group(1)), fields, body


# what Prometheus 2 sends: it takes the text format, not gzip'd
PROMETHEUS_FIELDS = (
    "User-Agent: Prometheus/2.45.0\r\n"
    "Accept: application/openmetrics-text;version=1.0.0,application/"
    "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
    "q=0.5,*/*;q=0.1\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n")


def scrape_text(port, method="GET", fields=""):
    """The body of GET /metrics, after checking the answer's framing:
    200, the content type of the format, a Content-Length that is the
    body's, Connection: close and the connection closed after it."""
    data = http_raw(port, ("%s /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                           "%s\r\n" % (method, port, fields)).encode())
    status, fields, body = split_response(data)
    check(status == 200, "%s /metrics: status %d (%r)" % (method, status,
                                                          body[:200]))
    check(fields.get("content-type") == CONTENT_TYPE,
          "%s /metrics: Content-Type %r, expected %r" % (
              method, fields.get("content-type"), CONTENT_TYPE))
    cl = fields.get("content-length")
    check(cl is not None and cl.isdigit(), "%s /metrics: Content-Length %r"
          % (method, cl))
    check("content-encoding" not in fields, "%s /metrics: Content-Encoding"
          " %r" % (method, fields.get("content-encoding")))
    check("close" in fields.get("connection", "").lower(),
          "%s /metrics: Connection %r, expected close" % (
              method, fields.get("connection")))
    if method == "HEAD":
        check(body == b"", "HEAD /metrics sent %d body bytes" % len(body))
        return int(cl)
    check(int(cl) == len(body), "GET /metrics: Content-Length %s, %d body "
          "bytes" % (cl, len(body)))
    return body


def scrape(d, missing_ok=False):
    """One scrape of d's /metrics, parsed and checked; a Scrape."""
    body = scrape_text(d.metrics_port)
    try:
        sc = promtext.parse(body)
    except promtext.FormatError as e:
        fail("/metrics is not good text format 0.0.4: %s" % e)
    check_schema(sc)
    if not missing_ok:
        check(sc.value(MISSING) == 0, "%s is %r: a process did not answer "
              "the scrape" % (MISSING, sc.value(MISSING)))
    return sc


def check_schema(sc, what="/metrics"):
    """Every family of the interface, with its type, HELP, label names,
    bounded label values and buckets; nothing outside portero_."""
    for name, (typ, labels) in FAMILIES.items():
        f = sc.families.get(name)
        check(f is not None, "%s has no family %s (no # TYPE)" % (what,
                                                                  name))
        check(f.type == typ, "%s: %s has type %s, expected %s" % (
            what, name, f.type, typ))
        check(f.help and f.help.strip(), "%s: %s has an empty # HELP" % (
            what, name))
        for s in f.samples:
            want = set(labels)
            if typ == "histogram" and s.name.endswith("_bucket"):
                want.add("le")
            check(set(s.labels) == want, "%s: %r has labels %s, expected "
                  "%s" % (what, s, sorted(s.labels), sorted(want)))
            _check_label_values(name, s, what)
            check(not math.isnan(s.value) and not math.isinf(s.value) and
                  s.value >= 0, "%s: %r: a value not finite and >= 0" % (
                      what, s))
            if typ == "counter" or s.name.endswith(("_bucket", "_count")):
                check(s.value == int(s.value), "%s: %r: a count that is "
                      "not whole" % (what, s))
        if typ == "histogram":
            _check_buckets(f, what)
    for name, f in sc.families.items():
        check(name.startswith("portero_"), "%s: family %s lacks the "
              "portero_ prefix" % (what, name))
        if f.type == "counter":
            check(name.endswith("_total"), "%s: counter %s does not end "
                  "in _total" % (what, name))
    for s in sc.samples("portero_backend_up"):
        check(s.value in (0, 1), "%s: %r, expected 0 or 1" % (what, s))


def _check_label_values(name, s, what):
    for k, v in s.labels.items():
        dom = DOMAINS.get((name, k), DOMAINS.get((None, k)))
        if dom is not None:
            check(v in dom, "%s: %r: %s=%r is not one of %s" % (
                what, s, k, v, sorted(dom)))
        if k == "service":
            check(v == "" or SERVICE.fullmatch(v), "%s: %r: service %r" % (
                what, s, v))
        elif k == "backend":
            check(BACKEND.fullmatch(v), "%s: %r: backend %r is not HOST:PORT"
                  % (what, s, v))
        elif k == "id":
            check(v.isdigit(), "%s: %r: id %r" % (what, s, v))


def _check_buckets(f, what):
    les = {}
    for s in f.samples:
        if s.name.endswith("_bucket"):
            base = tuple(sorted((k, v) for k, v in s.labels.items()
                                if k != "le"))
            les.setdefault(base, []).append(float(s.labels["le"]))
    for base, got in les.items():
        check(tuple(got) == BUCKETS, "%s: %s%s has buckets %s, expected %s"
              % (what, f.name, promtext.fmt_labels(dict(base)), got,
                 list(BUCKETS)))


def val(sc, name, **labels):
    """A series' value, 0 when it is not there."""
    return sc.value(name, 0, **labels)


def wait_scrape(d, pred, timeout=3.0, what="", missing_ok=False):
    """Scrape until pred(scrape) is true; the last scrape, and whether
    pred held."""
    deadline = time.monotonic() + timeout
    while True:
        sc = scrape(d, missing_ok=missing_ok)
        if pred(sc):
            return sc, True
        if time.monotonic() > deadline:
            return sc, False
        time.sleep(0.05)


def expect_deltas(d, before, want, timeout=3.0, what="", exact=True):
    """want: [(name, {labels}, delta)].  Scrape until each series has
    moved by at least its delta (counters move a moment after the
    client has its answer), then each must have moved by exactly it.
    Returns the scrape."""
    def moved(sc, n, lb):
        return val(sc, n, **lb) - val(before, n, **lb)

    sc, _ = wait_scrape(d, lambda sc: all(moved(sc, n, lb) >= dv
                                         for n, lb, dv in want), timeout)
    # a little later still the same: nothing else came in late
    time.sleep(0.1)
    sc = scrape(d)
    bad = ["%s%s moved by %s, expected %s" % (
        n, promtext.fmt_labels(lb), _num(moved(sc, n, lb)), dv)
        for n, lb, dv in want
        if (moved(sc, n, lb) != dv if exact else moved(sc, n, lb) < dv)]
    check(not bad, "%s: %s" % (what, "; ".join(bad)))
    return sc


def settled(d, names, timeout=3.0):
    """A scrape once the families names have stopped moving (what came
    before the test's own traffic is counted): the same in two scrapes
    0.2 s apart."""
    def part(sc):
        return {k: v for k, v in sc.series.items() if k[0] in names}
    last = scrape(d)
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.2)
        sc = scrape(d)
        if part(sc) == part(last):
            return sc
        check(time.monotonic() < deadline, "%s still moving %.0f s after "
              "the daemon started, with no traffic" % (names, timeout))
        last = sc


def _num(v):
    return int(v) if v == int(v) else v


def family_moves(before, after, name):
    """{labels tuple: delta} of every series of name that moved."""
    out = {}
    keys = {k for k in list(before.series) + list(after.series)
            if k[0] == name}
    for k in keys:
        dv = after.series.get(k, 0) - before.series.get(k, 0)
        if dv != 0:
            out[k[1]] = dv
    return out


def check_restart_metric(d, sc, what=""):
    """portero_child_restarts_total says what show status says, and what
    the test caused (d.expect_restarts)."""
    st = d.status()
    for c in st["children"]:
        want = d.expect_restarts.get((c["role"], c["id"]), 0)
        got = sc.value(RESTARTS, None, role=c["role"], id=str(c["id"]))
        check(got is not None, "%s: no %s{role=%r,id=\"%d\"}" % (
            what, RESTARTS, c["role"], c["id"]))
        check(got == want and c["restarts"] == want, "%s: %s %d restarts: "
              "metric %s, show status %s, expected %d" % (
                  what, c["role"], c["id"], got, c["restarts"], want))
    n = len(sc.samples(RESTARTS))
    check(n == len(st["children"]), "%s: %d series of %s for %d children"
          % (what, n, RESTARTS, len(st["children"])))


# ---------------------------------------------------------------------
# daemons and clients

def mdaemon(t, backends=(), workers=2, extra=(), metrics=True, **kw):
    """A daemon with --backend flags from [(service, addr)] and, unless
    metrics is False, --metrics-addr on a free loopback port."""
    args = []
    for svc, addr in backends:
        args += ["--backend", "%s=%s" % (svc, addr)]
    d = t.daemon(workers=workers, extra_args=args + list(extra), **kw)
    d.listen_port, d.register_port, mport = free_ports(3)
    d.metrics_port = mport if metrics else None
    if metrics:
        d.extra_args += ["--metrics-addr", "127.0.0.1:%d" % mport]
    return d.start()


class TLSWorld:
    """A CA, one certificate for names, the daemon on a TLS listener."""

    def __init__(self, t, names=("a.test",)):
        self.t = t
        self.ca = TestCA(t)
        self.certdir = make_cert_dir(t)
        self.names = list(names)
        self.cert = cert_folder(t, self.ca, self.certdir, names[0],
                                names=list(names))[0]
        self.d = None

    def start(self, backends=(), workers=2, extra=(), **kw):
        self.d = mdaemon(self.t, backends, workers, extra,
                         cert_dir=self.certdir, **kw)
        self.wait_tls()
        return self.d

    def wait_tls(self):
        def ok():
            try:
                tls_connect(self.d.listen_port, self.names[0],
                            self.ca.cert, timeout=2).close()
                return True
            except (OSError, ssl.SSLError):
                return False
        check(wait_until(ok, 5, 0.05), "TLS never came up")

    def connect(self, sni=None, **kw):
        return tls_connect(self.d.listen_port, sni or self.names[0],
                           self.ca.cert, **kw)


class H1:
    """One kept-alive HTTP/1.1 connection (TLS when w is a TLSWorld);
    counts the bytes it sends and receives."""

    def __init__(self, w=None, port=None, sni=None):
        if w is not None:
            self.s = w.connect(sni)
        else:
            self.s = socket.create_connection(("127.0.0.1", port),
                                              timeout=5)
        self.s.settimeout(5)
        self.f = self.s.makefile("rb")
        self.sent = 0
        self.body_bytes = 0

    def request(self, host, path="/", method="GET", body=None,
                close=False):
        head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
        if body is not None:
            head += ("Content-Type: application/octet-stream\r\n"
                     "Content-Length: %d\r\n" % len(body))
        if close:
            head += "Connection: close\r\n"
        raw = (head + "\r\n").encode("latin-1") + (body or b"")
        self.s.sendall(raw)
        self.sent += len(raw)
        r = read_response(self.f, method)
        self.body_bytes += len(r.body)
        return r

    def close(self):
        for x in (self.f, self.s):
            try:
                x.close()
            except OSError:
                pass


def statuses(rs):
    return [r.status for r in rs]


# ---------------------------------------------------------------------
# 1. the parser itself: it must refuse what is not the format

GOOD_TEXT = """# HELP x_total A counter, with \\\\ and \\n in its help.
# TYPE x_total counter
x_total{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 3
x_total{a="",b="",c=""} 0
# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{s="x",le="0.5"} 1
h_seconds_bucket{s="x",le="+Inf"} 2
h_seconds_sum{s="x"} 0.75
h_seconds_count{s="x"} 2
# HELP g A gauge.
# TYPE g gauge
g 1.5e+09
"""

# (what, text): each must be refused
BAD_TEXTS = [
    ("no final newline", "# HELP g g\n# TYPE g gauge\ng 1"),
    ("a sample of no declared family", "# HELP g g\n# TYPE g gauge\n"
     "g 1\nh 2\n"),
    ("no # HELP", "# TYPE g gauge\ng 1\n"),
    ("# TYPE after its samples", "# HELP g g\ng 1\n# TYPE g gauge\n"),
    ("a series twice", "# HELP g g\n# TYPE g gauge\ng{a=\"1\"} 1\n"
     "g{a=\"1\"} 2\n"),
    ("a series twice, labels in another order", "# HELP g g\n# TYPE g "
     "gauge\ng{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 2\n"),
    ("a family in two places", "# HELP g g\n# TYPE g gauge\ng{a=\"1\"} 1\n"
     "# HELP k k\n# TYPE k gauge\nk 1\ng{a=\"2\"} 1\n"),
    ("a label twice", "# HELP g g\n# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n"),
    ("a bad escape", "# HELP g g\n# TYPE g gauge\ng{a=\"\\t\"} 1\n"),
    ("an unclosed label value", "# HELP g g\n# TYPE g gauge\n"
     "g{a=\"x} 1\n"),
    ("a bad value", "# HELP g g\n# TYPE g gauge\ng 1,5\n"),
    ("a bad type", "# HELP g g\n# TYPE g meter\ng 1\n"),
    ("a bad metric name", "# HELP g g\n# TYPE g gauge\n1g 1\n"),
    ("a negative counter", "# HELP c_total c\n# TYPE c_total counter\n"
     "c_total -1\n"),
    ("buckets not cumulative", "# HELP h h\n# TYPE h histogram\n"
     "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
     "h_count 1\n"),
    ("no +Inf bucket", "# HELP h h\n# TYPE h histogram\n"
     "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"),
    ("_count not the +Inf bucket", "# HELP h h\n# TYPE h histogram\n"
     "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
     "h_count 3\n"),
    ("buckets out of order", "# HELP h h\n# TYPE h histogram\n"
     "h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
     "h_sum 1\nh_count 1\n"),
    ("no _sum", "# HELP h h\n# TYPE h histogram\n"
     "h_bucket{le=\"+Inf\"} 1\nh_count 1\n"),
    ("a timestamp", "# HELP g g\n# TYPE g gauge\ng 1 1700000000000\n"),
    ("a carriage return", "# HELP g g\r\n# TYPE g gauge\r\ng 1\r\n"),
]


def test_parser_refuses_bad_text(t):
    sc = promtext.parse(GOOD_TEXT)
    check(sc.value("x_total", a="q\"uote", b="back\\slash",
                   c="new\nline") == 3, "escapes not decoded: %r"
          % sc.series)
    check(sc.families["x_total"].help ==
          "A counter, with \\ and \n in its help.", "help %r"
          % sc.families["x_total"].help)
    check(sc.value("h_seconds_count", s="x") == 2 and
          sc.value("g") == 1.5e9, "values: %r" % sc.series)
    check(sc.value("h_seconds_bucket", s="x", le="+Inf") == 2, "+Inf")
    for what, text in BAD_TEXTS:
        try:
            promtext.parse(text)
        except promtext.FormatError:
            continue
        fail("the parser took %s: %r" % (what, text))
    # the schema check takes what the interface promises, and refuses
    # each departure from it
    good = synthetic()
    check_schema(promtext.parse(good))
    for what, a, b in SCHEMA_MUTATIONS:
        check(a in good, "test bug: %r not in the synthetic text" % a)
        try:
            check_schema(promtext.parse(good.replace(a, b, 1)))
        except promtext.FormatError:
            continue
        except AssertionError:
            continue
        fail("check_schema took %s" % what)


def synthetic():
    """A text with every family of the interface, one series each."""
    out = []
    for name, (typ, labels) in FAMILIES.items():
        out.append("# HELP %s Some help." % name)
        out.append("# TYPE %s %s" % (name, typ))
        lb = {}
        for k in labels:
            lb[k] = {"service": "a.test", "backend": "127.0.0.1:80",
                     "class": "2xx", "proto": "h1", "kind": "full",
                     "result": "taken", "role": "worker", "id": "0",
                     "name": "a.test"}.get(k, "other")
        if name == HSF:
            lb["reason"] = "closed"
        if typ == "histogram":
            for le in BUCKETS:
                out.append("%s_bucket%s 1" % (name, promtext.fmt_labels(
                    dict(lb, le="+Inf" if le == math.inf else repr(le)))))
            out.append("%s_sum%s 0.5" % (name, promtext.fmt_labels(lb)))
            out.append("%s_count%s 1" % (name, promtext.fmt_labels(lb)))
        else:
            out.append("%s%s 1" % (name, promtext.fmt_labels(lb)))
    return "\n".join(out) + "\n"


SCHEMA_MUTATIONS = [
    ("a family missing", "# HELP portero_scrape_missing_processes Some "
     "help.\n# TYPE portero_scrape_missing_processes gauge\n"
     "portero_scrape_missing_processes 1\n", ""),
    ("a wrong type", "# TYPE portero_backend_up gauge",
     "# TYPE portero_backend_up counter"),
    ("a label missing", 'portero_requests_total{class="2xx",proto="h1",'
     'service="a.test"}', 'portero_requests_total{class="2xx",'
     'service="a.test"}'),
    ("an extra label", 'portero_client_connections{proto="h1"}',
     'portero_client_connections{host="x",proto="h1"}'),
    ("a class out of its domain", 'class="2xx"', 'class="200"'),
    ("a proto out of its domain", 'proto="h1"}', 'proto="http/1.1"}'),
    ("an unknown handshake failure", 'reason="closed"',
     'reason="weird"'),
    ("a bucket missing", 'portero_request_duration_seconds_bucket{le='
     '"0.001",service="a.test"} 1\n', ""),
    ("a backend not HOST:PORT", 'portero_upstream_errors_total{backend='
     '"127.0.0.1:80"', 'portero_upstream_errors_total{backend='
     '"127.0.0.1"'),
    ("a counter not whole", "portero_registrations_total 1",
     "portero_registrations_total 1.5"),
    ("a family without portero_", "# HELP portero_scrape_missing",
     "# HELP other 1\n# TYPE other gauge\nother 1\n# HELP "
     "portero_scrape_missing"),
    ("a backend_up of 2", "portero_backend_up{backend=\"127.0.0.1:80\","
     "service=\"a.test\"} 1", "portero_backend_up{backend=\"127.0.0.1:"
     "80\",service=\"a.test\"} 2"),
    ("an empty help", "# HELP portero_registrations_total Some help.",
     "# HELP portero_registrations_total "),
]


# ---------------------------------------------------------------------
# 2. counters move with requests

def test_counters_move(t):
    w = TLSWorld(t, names=("a.test", "dead.test", "nowhere.test"))
    a = EchoBackend(t, "app")
    dead_addr = "127.0.0.1:%d" % closed_port()
    d = w.start([("a.test", a.addr), ("dead.test", dead_addr)])
    # the connections of wait_tls are gone
    sc0, ok = wait_scrape(d, lambda sc: sc.value(
        "portero_client_connections", proto="h1") == 0 and sc.value(
        "portero_client_connections", proto="h2") == 0)
    check(ok, "client connections with none open: %r" % sc0.samples(
        "portero_client_connections"))
    before = settled(d, (REQ, HS))

    # HTTP/1.1 on one kept-alive TLS connection
    c1 = H1(w)
    t.defer(c1.close)
    ok = [c1.request("a.test", "/r%d" % i) for i in range(7)]
    ok.append(c1.request("a.test", "/bytes/200000"))
    ok.append(c1.request("a.test", "/post", "POST", body=b"p" * 50000))
    ok.append(c1.request("a.test", "/sleep/0.3"))
    nf_be = [c1.request("a.test", "/status/404") for _ in range(2)]
    nf = [c1.request("nowhere.test", "/x%d" % i) for i in range(3)]
    check(statuses(ok) == [200] * 10 and statuses(nf_be) == [404] * 2 and
          statuses(nf) == [404] * 3, "HTTP/1.1 answers: %s %s %s" % (
              statuses(ok), statuses(nf_be), statuses(nf)))
    # HTTP/2: five answered streams and one for an unknown host
    c2 = h2raw.H2.tls(d.listen_port, "a.test", w.ca.cert)
    t.defer(c2.close)
    h2ok = [c2.get("/h2/%d" % i, authority="a.test") for i in range(5)]
    h2nf = c2.get("/h2nf", authority="nowhere.test")
    check([s.status for s in h2ok] == [200] * 5 and h2nf.status == 404,
          "HTTP/2 answers: %s, %s" % ([s.status for s in h2ok],
                                      h2nf.status))
    h2_bytes = sum(len(s.data) for s in h2ok) + len(h2nf.data)
    # both connections open: one of each protocol
    sc, ok_conn = wait_scrape(d, lambda sc: sc.value(
        "portero_client_connections", proto="h1") == 1 and sc.value(
        "portero_client_connections", proto="h2") == 1)
    check(ok_conn, "client connections with one h1 and one h2 open: %r"
          % sc.samples("portero_client_connections"))

    # the dead backend: each on its own connection
    dead = []
    for i in range(3):
        c = H1(w, sni="dead.test")
        dead.append(c.request("dead.test", "/d%d" % i, close=True).status)
        c.close()
    n502 = dead.count(502)
    check(n502 >= 1 and all(s in (502, 503) for s in dead), "dead backend:"
          " %s, expected a 502 then 503s" % dead)

    want = [(REQ, {"service": "a.test", "class": "2xx", "proto": "h1"}, 10),
            (REQ, {"service": "a.test", "class": "4xx", "proto": "h1"}, 2),
            (REQ, {"service": "", "class": "4xx", "proto": "h1"}, 3),
            (REQ, {"service": "a.test", "class": "2xx", "proto": "h2"}, 5),
            (REQ, {"service": "", "class": "4xx", "proto": "h2"}, 1),
            (REQ, {"service": "dead.test", "class": "5xx", "proto": "h1"},
             3),
            (UPE, {"service": "dead.test", "backend": dead_addr}, n502),
            (UPE, {"service": "a.test", "backend": a.addr}, 0),
            (UPR + "_count", {"service": "a.test", "backend": a.addr}, 17),
            (UPR + "_count", {"service": "dead.test",
                              "backend": dead_addr}, 0),
            ("portero_access_log_dropped_total", {}, 0),
            ("portero_access_log_lines_total", {}, 24)]
    sc = expect_deltas(d, before, want, what="after the requests")
    # nothing else moved in requests_total
    moves = family_moves(before, sc, REQ)
    check(sum(moves.values()) == 24, "requests_total moved by %s in all, "
          "expected 24: %r" % (sum(moves.values()), moves))
    # the duration histogram counts the same requests, per service
    for svc in ("a.test", "", "dead.test"):
        n = sum(dv for lb, dv in moves.items()
                if dict(lb)["service"] == svc)
        got = val(sc, DUR + "_count", service=svc) - val(
            before, DUR + "_count", service=svc)
        check(got == n, "%s_count{service=%r} moved by %s, requests_total "
              "by %d" % (DUR, svc, _num(got), n))
    # seconds, not milliseconds: the 0.3 s request is above 0.25 s
    _check_slow_one(before, sc, DUR, {"service": "a.test"}, 17)
    _check_slow_one(before, sc, UPR, {"service": "a.test",
                                      "backend": a.addr}, 17)
    nc = val(sc, UPC + "_count", service="a.test", backend=a.addr) - val(
        before, UPC + "_count", service="a.test", backend=a.addr)
    check(1 <= nc <= min(17, a.connections), "%s_count for the backend "
          "moved by %s for %d connections it took" % (UPC, _num(nc),
                                                      a.connections))
    check(sc.value("portero_backend_up", service="a.test",
                   backend=a.addr) == 1, "backend_up of the live backend: "
          "%r" % sc.samples("portero_backend_up"))
    # bytes: at least what went through, not wildly more
    rx = val(sc, "portero_client_received_bytes_total") - val(
        before, "portero_client_received_bytes_total")
    tx = val(sc, "portero_client_sent_bytes_total") - val(
        before, "portero_client_sent_bytes_total")
    check(c1.sent <= rx <= c1.sent + 256 * 1024, "received bytes moved by "
          "%s; the HTTP/1.1 client alone sent %d" % (_num(rx), c1.sent))
    got = c1.body_bytes + h2_bytes
    check(got <= tx <= got + 256 * 1024, "sent bytes moved by %s; the "
          "clients got %d bytes of bodies" % (_num(tx), got))
    c1.close()
    c2.close()
    sc, gone = wait_scrape(d, lambda sc: val(
        sc, "portero_client_connections", proto="h1") == 0 and val(
        sc, "portero_client_connections", proto="h2") == 0)
    check(gone, "client connections after both closed: %r" % sc.samples(
        "portero_client_connections"))
    check_restart_metric(d, sc, "after the requests")


def _check_slow_one(before, sc, name, labels, n):
    """Of n observations, the one of /sleep/0.3 is in le=0.5 but not in
    le=0.25; the sum grew by 0.3 s or more, well under 30 s."""
    def dv(suffix, **more):
        lb = dict(labels, **more)
        return val(sc, name + suffix, **lb) - val(before, name + suffix,
                                                  **lb)
    le25, le5 = dv("_bucket", le="0.25"), dv("_bucket", le="0.5")
    inf, total = dv("_bucket", le="+Inf"), dv("_sum")
    what = name + promtext.fmt_labels(labels)
    check(inf == n and le25 <= n - 1 and le5 >= le25 + 1,
          "%s: buckets moved le=0.25 %s, le=0.5 %s, +Inf %s: the 0.3 s "
          "request is not between 0.25 and 0.5" % (what, _num(le25),
                                                    _num(le5), _num(inf)))
    check(0.3 <= total < 30, "%s: _sum moved by %s s for %d requests, one"
          " of 0.3 s" % (what, total, n))


# ---------------------------------------------------------------------
# 3. TLS handshakes

MTLS_CONF = """
pool "app" { backend 127.0.0.1 port %(port)d }
server "a.test" { forward to "app" }
server "req.test" {
	client ca "%(ca)s" verify required
	forward to "app"
}
"""


def _s_client(t, port, args, stdin=b""):
    try:
        r = subprocess.run(["openssl", "s_client", "-connect",
                            "127.0.0.1:%d" % port] + args, input=stdin,
                           capture_output=True, timeout=10, env=t.env())
    except subprocess.TimeoutExpired:
        fail("openssl s_client %s timed out" % " ".join(args))
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def _hs_wait(d, before, full, resumed, fails, what):
    want = [(HS, {"kind": "full"}, full), (HS, {"kind": "resumed"},
                                           resumed)]
    want += [(HSF, {"reason": r}, fails.get(r, 0)) for r in HS_REASONS]
    return expect_deltas(d, before, want, what=what)


def test_tls_handshakes(t):
    w = TLSWorld(t, names=("a.test", "req.test"))
    app = EchoBackend(t, "app")
    ca_file = os.path.join(t.tmp, "clients.pem")
    shutil.copy(w.ca.cert, ca_file)
    os.chmod(ca_file, 0o644)
    conf = os.path.join(t.tmp, "portero.conf")
    with open(conf, "w") as f:
        f.write(MTLS_CONF % {"port": app.port, "ca": ca_file})
    # built with libtls, client certificates are refused (portero(8))
    mtls = "built with libtls" not in t.run(
        [PORTERO, "-n", "--no-register", "-f", conf]).stderr
    if not mtls:
        t.note("libtls: no client certificates; that reason is not tried")
        with open(conf, "w") as f:
            f.write(MTLS_CONF.split('server "req.test"')[0] %
                    {"port": app.port})
    d = w.start(workers=2, extra=["-f", conf, "--handshake-timeout", "1"])
    p = d.listen_port
    before = settled(d, (HS, HSF))
    full = resumed = 0
    req = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    if d.status()["tls"] == "libtls":
        t.note("libtls: no resumption (portero(8) CAVEATS); full only")
        flags = ()
    else:
        flags = ("-tls1_2", "-tls1_3")
    for flag in flags:
        sess = os.path.join(t.tmp, "sess%s.pem" % flag)
        args = ["-servername", "a.test", flag, "-CAfile", w.ca.cert,
                "-ign_eof"]
        rc, out = _s_client(t, p, args + ["-sess_out", sess], req)
        check(rc == 0 and os.path.exists(sess), "%s: first connection: rc"
              " %d: %s" % (flag, rc, out[-300:]))
        full += 1
        for i in range(2):
            rc, out = _s_client(t, p, args + ["-sess_in", sess], req)
            check(rc == 0 and re.search(r"^Reused,", out, re.M),
                  "%s: resumption %d: not reused: %s" % (flag, i,
                                                         out[-300:]))
            resumed += 1
    s = w.connect("a.test")             # Python: one more full handshake
    s.close()
    full += 1
    sc = _hs_wait(d, before, full, resumed, {}, "full and resumed "
                  "handshakes")
    fails = {}

    # not TLS at all: protocol
    for junk in (b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
                 b"\x16\x03\x01\x00\x05\x99\x99\x99\x99\x99" + b"\0" * 64):
        s = t.connect(p)
        s.sendall(junk)
        wait_closed(s, 3)
        s.close()
        fails["protocol"] = fails.get("protocol", 0) + 1
        sc = _hs_wait(d, before, full, resumed, fails, "after %r"
                      % junk[:12])
    # gone before finishing: closed
    s = t.connect(p)
    s.close()
    fails["closed"] = 1
    sc = _hs_wait(d, before, full, resumed, fails, "a client that "
                  "connected and closed")
    s = t.connect(p)
    s.sendall(client_hello()[:60])
    time.sleep(0.05)
    s.close()
    fails["closed"] = 2
    sc = _hs_wait(d, before, full, resumed, fails, "a client that sent "
                  "part of a ClientHello and closed")
    # no certificate where one is required: client_certificate
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3) if mtls \
            else ():
        try:
            s = tls_connect(p, "req.test", w.ca.cert, maxv=v, minv=v)
            s.sendall(b"GET / HTTP/1.1\r\nHost: req.test\r\n\r\n")
            got = s.recv(100)
            s.close()
            check(not got.startswith(b"HTTP"), "%s without a client "
                  "certificate got an answer: %r" % (v.name, got))
        except (ssl.SSLError, OSError):
            pass
        fails["client_certificate"] = fails.get("client_certificate",
                                                0) + 1
        sc = _hs_wait(d, before, full, resumed, fails, "%s without the "
                      "required client certificate" % v.name)
    # silent past --handshake-timeout 1: timeout (two at once)
    s1 = t.connect(p)
    s1.sendall(client_hello()[:60])
    s2 = t.connect(p)
    t0 = time.monotonic()
    wait_closed(s1, 4)
    wait_closed(s2, 4)
    took = time.monotonic() - t0
    check(took < 3, "--handshake-timeout 1: closed after %.1f s" % took)
    fails["timeout"] = 2
    sc = _hs_wait(d, before, full, resumed, fails, "two clients silent "
                  "past the handshake timeout")
    check_restart_metric(d, sc, "after the bad handshakes")


# ---------------------------------------------------------------------
# 4. registrations

def test_registrations(t):
    be = EchoBackend(t, "reg")
    be2 = EchoBackend(t, "reg2")
    d = mdaemon(t, workers=2, extra=NO_LIMIT)
    svc = "reg.test"
    before = scrape(d)
    check(val(before, "portero_registered_backends", service=svc) == 0,
          "registered_backends before any registration: %r"
          % before.samples("portero_registered_backends"))

    def refusals(**more):
        w = [("portero_registrations_total", {}, more.pop("taken", 0))]
        w += [("portero_registration_refusals_total", {"reason": r},
               more.get(r, 0)) for r in REG_REASONS]
        return w

    register(d, svc, port=be.port)
    sc = expect_deltas(d, before, refusals(taken=1), what="a good "
                       "registration")
    sc, ok = wait_scrape(d, lambda sc: sc.value(
        "portero_registered_backends", service=svc) == 1)
    check(ok, "registered_backends{service=%r} after one registration: %r"
          % (svc, sc.samples("portero_registered_backends")))
    r = get(d.listen_port, svc, "/via-registration")
    check(r.status == 200, "the registered service answered %d" % r.status)
    expect_deltas(d, before, [
        (REQ, {"service": svc, "class": "2xx", "proto": "h1"}, 1),
        (UPR + "_count", {"service": svc, "backend": be.addr}, 1)],
        what="a request to the registered service")

    a = api(d, "POST", "/register", reg_body(svc, port=be2.port),
            auth(d, svc, secret="not-the-secret"))
    check(a.status == 401, "a wrong secret: status %d" % a.status)
    expect_deltas(d, before, refusals(taken=1, unauthorized=1),
                  what="a wrong secret")
    a = api(d, "POST", "/register", '{"service_name": "reg.test", "host": ',
            auth(d, svc))
    check(a.status == 400, "a malformed body: status %d" % a.status)
    expect_deltas(d, before, refusals(taken=1, unauthorized=1,
                                      bad_request=1),
                  what="a malformed body")
    a = api(d, "POST", "/register", reg_body(svc, port=be2.port),
            auth(d, "other.test"))
    check(a.status == 403, "a token for another service: status %d"
          % a.status)
    a = api(d, "GET", "/register", headers=auth(d, svc))
    check(a.status == 405, "GET /register: status %d" % a.status)
    a = api(d, "POST", "/register", reg_body(svc, port=be2.port),
            auth(d, svc), ctype="text/plain")
    check(a.status == 415, "text/plain: status %d" % a.status)
    a = api(d, "GET", "/nowhere")
    check(a.status == 404, "GET /nowhere: status %d" % a.status)
    more = dict(taken=1, unauthorized=1, bad_request=1, forbidden=1,
                method=1, media_type=1, not_found=1)
    expect_deltas(d, before, refusals(**more), what="403, 405, 415, 404")

    register(d, svc, port=be2.port)
    more["taken"] = 2
    sc = expect_deltas(d, before, refusals(**more),
                       what="a second backend")
    sc, ok = wait_scrape(d, lambda sc: sc.value(
        "portero_registered_backends", service=svc) == 2)
    check(ok, "registered_backends after two: %r" % sc.samples(
        "portero_registered_backends"))
    register(d, svc, port=be2.port, method="DELETE")
    sc, ok = wait_scrape(d, lambda sc: sc.value(
        "portero_registered_backends", service=svc) == 1)
    check(ok, "registered_backends after a deregistration: %r"
          % sc.samples("portero_registered_backends"))
    check(set(sc.label_values("portero_registered_backends",
                              "service")) <= {svc},
          "registered_backends for services never registered: %r"
          % sc.samples("portero_registered_backends"))
    check_restart_metric(d, sc, "after the registrations")


# ---------------------------------------------------------------------
# 5. bounded labels

def _random_host(rng, i):
    label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-")
                    for _ in range(rng.randint(1, 20)))
    host = "zq%d%s.%s" % (i, label.strip("-") or "x",
                          rng.choice(("test", "example", "com", "a.test")))
    r = rng.random()
    if r < 0.2:
        host = host.upper()
    elif r < 0.3:
        host += ":%d" % rng.randint(1, 65535)
    elif r < 0.35:
        host = "A.TEST.zq%d" % i
    return host


WEIRD_HOSTS = ["zqw\"quote.test", "zqw\\back.test", "zqw%0aline.test",
               "zqw\xe9.test", "zqw{brace}.test", "zqw space.test",
               "zqw" + "x" * 300 + ".test", "", "[zqw::1]", "zqw..test"]


def _flood(port, hosts, t):
    """One request per host on kept-alive connections (a new one when
    the daemon closes); the statuses."""
    out = []
    c = None
    for h in hosts:
        for attempt in (1, 2):
            if c is None:
                c = H1(port=port)
            try:
                out.append(c.request(h, "/flood").status)
                break
            except (OSError, EOFError) as e:
                c.close()
                c = None
                if attempt == 2:
                    fail("request with Host %r: %s" % (h, e))
        if out[-1] >= 400 and out[-1] != 404:
            c.close()           # the daemon may close after an error
            c = None
    if c is not None:
        c.close()
    return out


def test_bounded_labels_under_random_hosts(t):
    a = EchoBackend(t, "app")
    hp = closed_port()
    d = mdaemon(t, [("a.test", a.addr)], workers=2, extra=[
        "--http-addr", "127.0.0.1:%d" % hp, "--http-proxy", "--h2c"])
    rng = random.Random(11)
    # every series the flood can touch exists before it
    warm = _flood(d.listen_port, ["a.test", "zqwarm.test"] + WEIRD_HOSTS,
                  t)
    check(warm[0] == 200 and warm[1] == 404, "warm-up: %s" % warm)
    c = h2raw.H2.plain(hp)
    t.defer(c.close)
    check(c.get("/w", authority="zqwarm.test", scheme="http").status == 404,
          "h2c warm-up")
    check(c.get("/w", authority="a.test", scheme="http").status == 200,
          "h2c warm-up, a.test")
    time.sleep(0.3)
    before = scrape(d)
    hosts = [_random_host(rng, i) for i in range(1800)]
    got = _flood(d.listen_port, hosts, t)
    check(got.count(404) + got.count(200) >= 1700, "the flood's answers: "
          "%d of 404, %d of 200, others %s" % (
              got.count(404), got.count(200),
              sorted(set(got) - {200, 404})))
    h2hosts = [_random_host(rng, 2000 + i) for i in range(200)]
    for i in range(0, len(h2hosts), 50):
        sids = [c.request("GET", h, "/f", scheme="http")
                for h in h2hosts[i:i + 50]]
        for sid in sids:
            c.response(sid)
    after, _ = wait_scrape(d, lambda sc: sum(family_moves(
        before, sc, REQ).values()) >= 2000)
    time.sleep(0.1)
    after = scrape(d)
    moved = family_moves(before, after, REQ)
    check(sum(moved.values()) == 2000, "requests_total moved by %s for "
          "2000 requests: %r" % (_num(sum(moved.values())), moved))
    new = set(after.series) - set(before.series)
    check(not new, "%d new series after 2000 random hosts: %s" % (
        len(new), sorted(new)[:5]))
    check(len(after.series) == len(before.series), "series %d -> %d" % (
        len(before.series), len(after.series)))
    for name in after.families:
        vals = after.label_values(name, "service") - {None}
        check(vals <= {"", "a.test"}, "%s has service labels %s" % (
            name, sorted(vals)[:5]))
    # every client-sent host had "zq" in it
    low = after.text.lower()
    check("zq" not in low, "client-sent Host values in /metrics: %s" % (
        [ln for ln in low.splitlines() if "zq" in ln][:5]))
    check_restart_metric(d, after, "after the flood")


# ---------------------------------------------------------------------
# 6. certificates

def not_after(t, cert):
    r = t.run(["openssl", "x509", "-in", cert, "-noout", "-enddate"])
    check(r.returncode == 0, "openssl x509 -enddate: %s" % r.stderr)
    s = r.stdout.strip().split("=", 1)[1]
    return calendar.timegm(time.strptime(s, "%b %d %H:%M:%S %Y %Z"))


def issue_days(t, ca, name, days, outdir):
    """A certificate for name good for days, made with openssl x509."""
    os.makedirs(outdir, exist_ok=True)
    key, csr = os.path.join(outdir, "privkey.pem"), os.path.join(
        outdir, "req.csr")
    cert = os.path.join(outdir, "cert.pem")
    for argv in (["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-subj", "/CN=" + name,
                  "-addext", "subjectAltName=DNS:" + name, "-keyout", key,
                  "-out", csr],
                 ["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey",
                  ca.key, "-days", str(days), "-copy_extensions", "copy",
                  "-out", cert]):
        r = t.run(["openssl"] + argv)
        check(r.returncode == 0, "openssl %s: %s" % (argv[0], r.stderr))
    return cert, key


def _expiry(sc):
    return {s.labels["name"]: s.value for s in sc.samples(
        "portero_certificate_expiry_timestamp_seconds")}


def test_certificate_expiry(t):
    ca = TestCA(t)
    certdir = make_cert_dir(t)
    certs = {"a.test": cert_folder(t, ca, certdir, "a.test")[0],
             "b.test": cert_folder(t, ca, certdir, "b.test",
                                   names=["b.test", "www.b.test"],
                                   kind="rsa")[0],
             "*.w.test": cert_folder(t, ca, certdir, "*.w.test")[0]}
    d = mdaemon(t, workers=1, cert_dir=certdir)
    shown = d.ctl_json("show", "certs")["certs"]
    first = {c["domain"]: c["names"][0] for c in shown}
    check(set(first) == {"a.test", "b.test", "_wildcard.w.test"} or
          set(first) == {"a.test", "b.test", "*.w.test"},
          "show certs lists %s" % sorted(first))
    want = {}
    for dom, cert in certs.items():
        key = dom if dom in first else dom.replace("*.", "_wildcard.")
        want[first[key]] = not_after(t, cert)
    sc, ok = wait_scrape(d, lambda sc: set(_expiry(sc)) == set(want))
    got = _expiry(sc)
    check(ok, "expiry series for %s, expected %s" % (sorted(got),
                                                     sorted(want)))
    for name, na in want.items():
        check(abs(got[name] - na) <= 1, "%s: expiry %s, notAfter %d" % (
            name, _num(got[name]), na))
    # a replaced certificate: the one in service after the reload
    stage = os.path.join(ca.dir, "stage-a10")
    cert, key = issue_days(t, ca, "a.test", 10, stage)
    for src, dst in ((cert, "cert.pem"), (key, "privkey.pem")):
        with open(src, "rb") as f:
            write_atomic(os.path.join(certdir, "a.test", dst), f.read())
    fix_cert_perms(certdir)
    na = not_after(t, cert)
    check(na - want["a.test"] > 86400 * 5, "test bug: new notAfter %d, old"
          " %d" % (na, want["a.test"]))
    d.ctl("reload")
    sc, ok = wait_scrape(d, lambda sc: abs(_expiry(sc).get("a.test", 0)
                                           - na) <= 1, timeout=5)
    check(ok, "a.test replaced by a certificate good until %d: expiry %s"
          % (na, _expiry(sc).get("a.test")))
    check(len(_expiry(sc)) == 3, "expiry series after the reload: %r"
          % _expiry(sc))
    out = d.ctl("show", "stats").stdout
    for name in want:
        check(name in out, "show stats does not show certificate %s:\n%s"
              % (name, out[-1500:]))
    check("certificate" in out.lower(), "show stats has no certificates "
          "section:\n%s" % out[-1500:])
    check_restart_metric(d, sc, "after the certificates")


# ---------------------------------------------------------------------
# 7. processes: memory and restarts

def _rss_kib(pid):
    st = proc_status(pid)
    if st is None or "VmRSS" not in st:
        return None
    return int(st["VmRSS"].split()[0])


def _check_rss(d, sc, what):
    procs = {("parent", None): d.pid}
    for (role, id_), c in d.child_map().items():
        procs[(role, str(id_))] = c["pid"]
    series = {(s.labels["role"], s.labels["id"]): s.value
              for s in sc.samples(RSS)}
    parents = [k for k in series if k[0] == "parent"]
    check(len(parents) == 1, "%s: %d parent series of %s: %r" % (
        what, len(parents), RSS, sorted(series)))
    series[("parent", None)] = series.pop(parents[0])
    check(set(series) == set(procs), "%s: %s for %s, expected %s" % (
        what, RSS, sorted(series, key=str), sorted(procs, key=str)))
    for k, pid in procs.items():
        v = series[k]
        check(1 << 20 < v < 1 << 30, "%s: %s %s RSS %s bytes" % (
            what, k[0], k[1], _num(v)))
        kib = _rss_kib(pid)
        check(kib is not None, "%s: %s %s (pid %d) is gone" % (
            what, k[0], k[1], pid))
        check(0.5 <= v / (kib * 1024.0) <= 2, "%s: %s %s RSS %s bytes, "
              "/proc/%d/status says %d kB" % (what, k[0], k[1], _num(v),
                                               pid, kib))


def test_process_memory_and_worker_restart(t):
    a = EchoBackend(t, "app")
    d = mdaemon(t, [("a.test", a.addr)], workers=2)
    sc = scrape(d)
    _check_rss(d, sc, "at start")
    check_restart_metric(d, sc, "at start")
    # requests on both workers (SO_REUSEPORT spreads new connections)
    for i in range(200):
        check(get(d.listen_port, "a.test", "/s%d" % i).status == 200,
              "request %d" % i)
        if i >= 20 and all(w["requests"] > 0 for w in d.workers_info()):
            break
    ws = {w["id"]: w for w in d.workers_info()}
    check(ws[1]["requests"] > 0, "worker 1 served none of %d requests"
          % (i + 1))
    n = i + 1
    sc, ok = wait_scrape(d, lambda sc: sc.sum(REQ, service="a.test") == n)
    check(ok, "requests_total for a.test %s after %d requests" % (
        _num(sc.sum(REQ, service="a.test")), n))
    old = d.child_pid("worker", 1)
    os.kill(old, signal.SIGKILL)
    new, took = d.wait_respawned("worker", 1, old, 3.0)
    d.expect_restarts[("worker", 1)] = 1
    sc, ok = wait_scrape(d, lambda sc: sc.value(
        RESTARTS, role="worker", id="1") == 1, missing_ok=True)
    check(ok, "%s{role=\"worker\",id=\"1\"} after a kill: %r" % (
        RESTARTS, sc.samples(RESTARTS)))
    sc, ok = wait_scrape(d, lambda sc: sc.value(MISSING) == 0,
                         missing_ok=True)
    check(ok, "%s stays %s after the respawn" % (MISSING,
                                                 sc.value(MISSING)))
    check_restart_metric(d, sc, "after worker 1 was killed")
    _check_rss(d, sc, "after the respawn")
    # counters only grow while the daemon runs, a worker's death or not
    got = sc.sum(REQ, service="a.test")
    check(got >= n, "requests_total for a.test went from %d to %s when "
          "worker 1 (which served %d) was killed" % (n, _num(got),
                                                     ws[1]["requests"]))
    r = get(d.listen_port, "a.test", "/after")
    check(r.status == 200, "after the respawn: %d" % r.status)
    sc, ok = wait_scrape(d, lambda sc: sc.sum(REQ, service="a.test") >=
                         got + 1)
    check(ok, "requests_total does not move after the respawn")
    # the metrics child itself: back on the same listener, its restart
    # counted, the workers' counts kept (they live in the workers)
    got = sc.sum(REQ, service="a.test")
    old = d.child_pid("metrics", 0)
    os.kill(old, signal.SIGKILL)
    d.wait_respawned("metrics", 0, old, 3.0)
    d.expect_restarts[("metrics", 0)] = 1
    sc = None
    for _ in range(40):
        try:
            sc = scrape(d)
            break
        except (OSError, AssertionError):
            time.sleep(0.05)
    check(sc is not None, "no scrape within 2 s of the metrics child's "
          "respawn")
    check_restart_metric(d, sc, "after the metrics child was killed")
    check(sc.sum(REQ, service="a.test") >= got, "requests_total for a.test"
          " went from %s to %s when the metrics child was killed" % (
              _num(got), _num(sc.sum(REQ, service="a.test"))))


# ---------------------------------------------------------------------
# 8. reloads

RELOAD_CONF = """
metrics-addr "127.0.0.1:%(m)d"
pool "a" { backend 127.0.0.1 port %(a)d }
%(more)s
pool "c" {
	backend 127.0.0.1 port %(live)d
	backend 127.0.0.1 port %(dead)d
	check tcp interval 200ms timeout 150ms rise 1 fall 1
}
server "a.test" { forward to "a" }
"""


def test_reload_keeps_counts(t):
    a, b, live = (EchoBackend(t, n) for n in ("a", "b", "live"))
    dead = closed_port()
    m = free_ports(1)[0]
    conf = os.path.join(t.tmp, "portero.conf")

    def write(more):
        with open(conf + ".tmp", "w") as f:
            f.write(RELOAD_CONF % {"m": m, "a": a.port, "live": live.port,
                                   "dead": dead, "more": more})
        os.replace(conf + ".tmp", conf)
    write("pool \"b\" { backend 127.0.0.1 port %d }\n"
          "server \"b.test\" { forward to \"b\" }" % b.port)
    d = t.daemon(workers=2, health=True, extra_args=["-f", conf])
    d.metrics_port = m
    d.start()
    p = d.listen_port
    for i in range(5):
        check(get(p, "a.test", "/a%d" % i).status == 200, "a.test %d" % i)
    for i in range(3):
        check(get(p, "b.test", "/b%d" % i).status == 200, "b.test %d" % i)
    A = {"service": "a", "class": "2xx", "proto": "h1"}
    B = {"service": "b", "class": "2xx", "proto": "h1"}
    sc, ok = wait_scrape(d, lambda sc: val(sc, REQ, **A) == 5 and
                         val(sc, REQ, **B) == 3)
    check(ok, "requests_total after 5 to a and 3 to b: %r" % sc.samples(
        REQ))
    la, da = "127.0.0.1:%d" % live.port, "127.0.0.1:%d" % dead
    sc, ok = wait_scrape(d, lambda sc: sc.value(
        "portero_backend_up", service="c", backend=la) == 1 and sc.value(
        "portero_backend_up", service="c", backend=da) == 0)
    check(ok, "backend_up of pool c (one listening, one closed, checked): "
          "%r" % sc.samples("portero_backend_up"))
    check(sc.value("portero_backend_up", service="a", backend=a.addr) == 1,
          "backend_up of pool a: %r" % sc.samples("portero_backend_up"))
    before = sc
    # a good file: pool a kept, pool b gone, server d.test added
    write("server \"d.test\" { forward to \"a\" }")
    d.ctl("reload")
    sc = expect_deltas(d, before, [
        (RELOADS, {"result": "taken"}, 1),
        (RELOADS, {"result": "refused"}, 0),
        (REQ, A, 0),
        (DUR + "_count", {"service": "a"}, 0),
        (UPR + "_count", {"service": "a", "backend": a.addr}, 0)],
        what="a good reload")
    check(val(sc, REQ, **A) == 5, "pool a kept by the reload: requests %s,"
          " was 5" % _num(val(sc, REQ, **A)))
    check(val(sc, DUR + "_count", service="a") == 5, "pool a kept: "
          "duration count %s" % val(sc, DUR + "_count", service="a"))
    check(get(p, "d.test", "/d").status == 200, "d.test after the reload")
    sc = expect_deltas(d, before, [(REQ, A, 1), (RELOADS,
                                                 {"result": "taken"}, 1)],
                       what="a request after the reload")
    # a bad file: refused, nothing changes
    with open(conf, "a") as f:
        f.write("server \"e.test\" { forward to \"nopool\" }\n")
    r = d.ctl("reload", check_rc=False)
    check(r.returncode != 0, "a bad file: reload exited 0")
    sc = expect_deltas(d, before, [
        (RELOADS, {"result": "taken"}, 1),
        (RELOADS, {"result": "refused"}, 1), (REQ, A, 1)],
        what="a refused reload")
    check_restart_metric(d, sc, "after the reloads")


# ---------------------------------------------------------------------
# 9. porterod-ctl show stats

def stats_series(j):
    """{(name, label items): value} and {family: (type, help)} of show
    stats -j, checked for shape."""
    check(isinstance(j, dict) and isinstance(j.get("metrics"), list),
          "show stats -j: %r" % str(j)[:300])
    series, fams = {}, {}
    for m in j["metrics"]:
        check(isinstance(m, dict) and {"name", "type", "help",
                                       "samples"} <= set(m),
              "show stats -j: a family %r" % str(m)[:200])
        check(m["name"] not in fams, "family %s twice" % m["name"])
        fams[m["name"]] = (m["type"], m["help"])
        for s in m["samples"]:
            name = s.get("name", m["name"])
            if m["type"] == "histogram":
                check("name" in s, "%s: a histogram sample without name"
                      % m["name"])
            lb = s.get("labels", {})
            check(isinstance(lb, dict) and all(
                isinstance(v, str) for v in lb.values()),
                "%s: labels %r" % (name, lb))
            v = s.get("value")
            check(isinstance(v, (int, float)) and not isinstance(v, bool),
                  "%s%r: value %r" % (name, lb, v))
            k = (name, tuple(sorted(lb.items())))
            check(k not in series, "show stats -j: %r twice" % (k,))
            series[k] = v
    return series, fams


def _norm_key(k):
    """A series key with its le as a float, however it was written."""
    return (k[0], tuple((n, repr(float(v)) if n == "le" else v)
                        for n, v in k[1]))


def test_show_stats(t):
    a = EchoBackend(t, "app")
    dead = "127.0.0.1:%d" % closed_port()
    d = mdaemon(t, [("a.test", a.addr), ("dead.test", dead)], workers=2)
    for i in range(4):
        get(d.listen_port, "a.test", "/%d" % i)
    get(d.listen_port, "dead.test", "/")
    get(d.listen_port, "nowhere.test", "/")
    wait_scrape(d, lambda sc: sc.sum(REQ) == 6)
    time.sleep(0.2)
    r = d.ctl("show", "stats")
    out = r.stdout
    check(out.strip() and not out.lstrip().startswith("{"),
          "show stats printed %r" % out[:200])
    for word in ("a.test", "dead.test", a.addr, dead):
        check(word in out, "show stats does not mention %s:\n%s" % (
            word, out[:1500]))
    # a table or a line per section (certificates: test_certificate_
    # expiry): pools, backends, connections, TLS, bytes, registrations,
    # processes, each with its pid
    for sect in ("pool", "backend", "connection", "tls", "bytes",
                 "registration", "process"):
        check(sect in out.lower(), "show stats has no %s section:\n%s" % (
            sect, out[:1500]))
    for c in d.status()["children"]:
        check(re.search(r"\b%d\b" % c["pid"], out), "show stats does not "
              "show %s %d (pid %d):\n%s" % (c["role"], c["id"], c["pid"],
                                            out[:1500]))
    j = d.ctl_json("show", "stats")
    sc = scrape(d)
    series, fams = stats_series(j)
    for name, f in sc.families.items():
        check(name in fams and fams[name] == (f.type, f.help),
              "show stats -j family %s: %r, /metrics: %r" % (
                  name, fams.get(name), (f.type, f.help)))
    check(set(fams) == set(sc.families), "families only in show stats: "
          "%s" % sorted(set(fams) - set(sc.families)))
    series = {_norm_key(k): v for k, v in series.items()}
    scs = {_norm_key(k): v for k, v in sc.series.items()}
    diff = set(series) ^ set(scs)
    check(not diff, "series in only one of show stats -j and /metrics: %s"
          % sorted(diff)[:6])
    for k, v in scs.items():
        jv = series[k]
        fam = k[0]
        for suf in promtext.HIST_SUFFIXES:
            if fam.endswith(suf) and fam[:-len(suf)] in FAMILIES:
                fam = fam[:-len(suf)]
        typ = FAMILIES.get(fam, ("?",))[0]
        if fam == REQ or typ == "histogram" or fam in (
                "portero_backend_up", "portero_client_connections",
                "portero_certificate_expiry_timestamp_seconds"):
            check(jv == v, "%s: show stats -j %r, /metrics %r" % (
                k, jv, v))
        elif typ == "counter":
            check(jv <= v, "%s: show stats -j %r, /metrics after it %r" % (
                k, jv, v))
    check(sc.sum(REQ) == 6, "requests_total %s for 6 requests" % sc.sum(REQ))
    check_restart_metric(d, sc, "show stats")


# ---------------------------------------------------------------------
# 10. the listener

def listening_ports(d):
    """{port: [pids]} of every listening TCP socket d's processes hold."""
    inodes = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A":
                inodes[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
    out = {}
    for pid in d.procs():
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.fullmatch(r"socket:\[(\d+)\]", link)
            if m and m.group(1) in inodes:
                out.setdefault(inodes[m.group(1)], set()).add(pid)
    return out


def test_listener_paths_methods_and_limits(t):
    d = mdaemon(t, workers=1)
    mp = d.metrics_port
    # a slow head and a silent client, held while everything else runs
    slow = t.connect(mp)
    slow.sendall(b"GET /metr")
    silent_c = t.connect(mp)
    t_slow = time.monotonic()
    t0 = time.monotonic()
    scrape(d)
    check(time.monotonic() - t0 < 1.0, "a scrape beside a slow client took"
          " %.2f s" % (time.monotonic() - t0))
    n = scrape_text(mp, "HEAD")
    check(n > 0, "HEAD /metrics: Content-Length %d" % n)
    try:
        promtext.parse(scrape_text(mp, fields=PROMETHEUS_FIELDS))
    except promtext.FormatError as e:
        fail("a scrape as Prometheus asks: %s" % e)
    for path in ("/", "/metricsx", "/metrics/", "/other", "/Metrics"):
        status, _, _ = split_response(http_raw(mp, (
            "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()))
        check(status == 404, "GET %s: status %d, expected 404" % (
            path, status))
    for method in ("POST", "PUT", "DELETE"):
        status, _, _ = split_response(http_raw(mp, (
            "%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            % method).encode()))
        check(status == 405, "%s /metrics: status %d, expected 405" % (
            method, status))
    # one request a connection: a second one in the same write is not
    # answered
    data = http_raw(mp, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
    check(data.count(b"HTTP/1.1 ") == 1, "two requests in one connection "
          "got %d answers" % data.count(b"HTTP/1.1 "))
    # a head just under 4 KiB is answered; over it, closed unanswered
    pad = "X-Pad: %s\r\n" % ("p" * 3800)
    status, _, _ = split_response(http_raw(mp, (
        "GET /metrics HTTP/1.1\r\nHost: x\r\n%s\r\n" % pad).encode()))
    check(status == 200, "a 3.9 KiB head: status %d" % status)
    big = t.connect(mp)
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" +
                    b"X-Pad: " + b"q" * 8192 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = wait_closed(big, 3)
    check(not got.startswith(b"HTTP/1.1 200"), "a head over 4 KiB got %r"
          % got[:100])
    # a scrape still goes while they hang
    t0 = time.monotonic()
    scrape(d)
    check(time.monotonic() - t0 < 1.0, "a scrape took %.2f s beside the "
          "slow clients" % (time.monotonic() - t0))
    # the metrics child holds the listener; it is sandboxed
    ports = listening_ports(d)
    mpid = d.child_pid("metrics", 0)
    holders = ports.get(mp, set())
    check(mpid in holders and holders <= {mpid, d.pid}, "the metrics port "
          "%d is held by %s, expected the metrics child %d" % (
              mp, sorted(holders), mpid))
    if d.pid in holders:
        t.note("the parent holds the metrics listener too")
    check_sandboxed(mpid, "the metrics child")
    if d.privdrop:
        check_ids(mpid, "the metrics child", nobody_ids()[0])
    # the slow ones are closed 5 s after they came
    for s, what in ((slow, "a client that sent 9 bytes of a head"),
                    (silent_c, "a client that sent nothing")):
        left = 5.0 + 2.0 - (time.monotonic() - t_slow)
        wait_closed(s, max(left, 0.5))
    took = time.monotonic() - t_slow
    check(took >= 4.5, "slow clients closed after %.1f s, expected 5 s"
          % took)
    check_restart_metric(d, scrape(d), "after the listener's checks")


def test_off_by_default(t):
    a = EchoBackend(t, "app")
    d = mdaemon(t, [("a.test", a.addr)], workers=1, metrics=False)
    roles = {c["role"] for c in d.status()["children"]}
    check("metrics" in roles, "no metrics child without --metrics-addr: "
          "%s (it also answers show stats)" % sorted(roles))
    ports = listening_ports(d)
    check(set(ports) == {d.listen_port, d.register_port},
          "without --metrics-addr the daemon listens on %s, expected %s" % (
              sorted(ports), sorted([d.listen_port, d.register_port])))
    check(get(d.listen_port, "a.test", "/").status == 200, "a request")
    r = d.ctl("show", "stats")
    check("a.test" in r.stdout, "show stats without the listener: %r"
          % r.stdout[:300])
    series, fams = stats_series(d.ctl_json("show", "stats"))
    check(set(fams) >= set(FAMILIES), "show stats -j lacks %s" % sorted(
        set(FAMILIES) - set(fams)))
    check(sum(v for (n, lb), v in series.items() if n == REQ) >= 1,
          "show stats -j counts no request")


def test_scrape_with_a_stopped_worker(t):
    """A worker that cannot answer (stopped) holds a scrape up 2 s, no
    more, and is counted missing; the others' numbers are there, and
    counters do not go back."""
    a = EchoBackend(t, "app")
    d = mdaemon(t, [("a.test", a.addr)], workers=2)
    for i in range(40):
        check(get(d.listen_port, "a.test", "/%d" % i).status == 200,
              "request %d" % i)
    before, ok = wait_scrape(d, lambda sc: sc.sum(REQ) == 40)
    check(ok, "requests_total %s for 40 requests" % _num(before.sum(REQ)))
    pid = d.child_pid("worker", 1)

    def cont():
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass
    os.kill(pid, signal.SIGSTOP)
    try:
        _stopped_worker(t, d)
    finally:
        cont()
    sc, ok = wait_scrape(d, lambda sc: sc.value(MISSING) == 0,
                         missing_ok=True)
    check(ok, "%s stays %r once the worker runs again" % (
        MISSING, sc.value(MISSING)))
    t0 = time.monotonic()
    sc = scrape(d)
    check(time.monotonic() - t0 < 1.0, "a scrape took %.2f s with every "
          "process answering" % (time.monotonic() - t0))
    check(sc.sum(REQ) == 40, "requests_total %s after the stop, expected 40"
          % _num(sc.sum(REQ)))
    check_restart_metric(d, sc, "after the stop")


def _stopped_worker(t, d):
    """What a scrape and show stats, at once, say while worker 1 is
    stopped (the parent's heartbeat kills a worker silent for 3 s)."""
    got = {}

    def stats():
        t0 = time.monotonic()
        got["r"] = d.ctl("show", "stats", json_out=True, check_rc=False)
        got["took"] = time.monotonic() - t0
    th = threading.Thread(target=stats, daemon=True)
    t0 = time.monotonic()
    th.start()
    sc = scrape(d, missing_ok=True)
    took = time.monotonic() - t0
    th.join(5)
    check(1.5 <= took <= 3.5, "a scrape with a stopped worker took %.2f s,"
          " expected about 2 s" % took)
    check(sc.value(MISSING) == 1, "%s is %r with one worker stopped" % (
        MISSING, sc.value(MISSING)))
    check(sc.value(RSS, role="worker", id="1") is not None, "no memory of "
          "the stopped worker (the parent reads it from /proc)")
    check(sc.sum(REQ) >= 40, "requests_total went from 40 to %s while a "
          "worker could not answer" % _num(sc.sum(REQ)))
    check("r" in got and got["r"].returncode == 0, "show stats with a "
          "stopped worker: %r" % (got.get("r") and got["r"].stderr))
    check(got["took"] <= 3.5, "show stats with a stopped worker took %.2f s"
          % got["took"])
    try:
        stats_series(json.loads(got["r"].stdout))
    except ValueError as e:
        fail("show stats -j with a stopped worker: %s" % e)


# ---------------------------------------------------------------------
# the address, checked by -n

def test_checkonly_metrics_addr(t):
    base = [PORTERO, "-n", "--no-register"]
    for addr in ("127.0.0.1:9100", "[::1]:9100"):
        r = t.run(base + ["--metrics-addr", addr])
        check(r.returncode == 0, "-n --metrics-addr %s: exit %d: %s" % (
            addr, r.returncode, r.stderr.strip()))
    for addr in ("127.0.0.1", "example.com:9100", "127.0.0.1:99999",
                 "127.0.0.1:0", ""):
        r = t.run(base + ["--metrics-addr", addr])
        check(r.returncode != 0 and "metrics-addr" in r.stderr,
              "-n --metrics-addr %r: exit %d: %r" % (addr, r.returncode,
                                                     r.stderr.strip()))
    # a port another listener of portero has
    for flag in ("--listen-addr", "--http-addr"):
        r = t.run(base + [flag, "127.0.0.1:9100", "--metrics-addr",
                          "127.0.0.1:9100"])
        check(r.returncode != 0, "-n %s and --metrics-addr on the same "
              "address: exit 0" % flag)
    # in the file: FILE:LINE, as for every error of the file
    path = os.path.join(t.tmp, "portero.conf")
    for text, ok in (("metrics-addr \"127.0.0.1:9100\"\n", True),
                     ("metrics-addr \"127.0.0.1\"\n", False),
                     ("metrics-addr \"localhost:9100\"\n", False)):
        with open(path, "w") as f:
            f.write("no-register\n" + text)
        r = t.run([PORTERO, "-n", "-f", path])
        if ok:
            check(r.returncode == 0, "-n of %r: exit %d: %s" % (
                text, r.returncode, r.stderr.strip()))
        else:
            check(r.returncode != 0 and
                  (path + ":2: ") in r.stderr, "-n of %r: exit %d, "
                  "expected %s:2: and a message: %r" % (
                      text, r.returncode, path, r.stderr.strip()))
