"""
Request smuggling and malformed heads: every ambiguous or malformed
request sent raw on a fresh connection gets 400 (414, 431 for sizes, 501
for a transfer coding portero does not know) and the connection closes,
and the backend behind the proxy (a counting echo backend) sees no
request at all.
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
import socket
import time

from backends import EchoBackend, get
from harness import check

H = b"Host: app.test\r\n"


def _setup(t):
    be = EchoBackend(t, "counting")
    d = t.daemon(workers=1, extra_args=["--backend",
                                        "app.test=" + be.addr]).start()
    r = get(d.listen_port, "app.test", "/control")
    check(r.status == 200, "control request: status %d, expected 200"
          % r.status)
    return d, be


def _exchange(t, port, raw, timeout=3.0):
    """Send raw (tolerating the peer closing early), read until the
    connection closes.  Returns (bytes, how it ended)."""
    s = t.connect(port, timeout=timeout)
    try:
        s.sendall(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(0.2)
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            return got, "open"
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return got, "reset"
        if not b:
            return got, "eof"
        got += b


def _status(got):
    m = re.match(rb"HTTP/1\.[01] (\d{3})[ \r]", got)
    return int(m.group(1)) if m else None


def _rejected(t, raw, status=400, d=None, be=None, what=None):
    """raw on a fresh connection: the answer is status, then the
    connection closes; the backend sees nothing."""
    if d is None:
        d, be = _setup(t)
    what = what or repr(raw[:80])
    before = be.count()
    got, how = _exchange(t, d.listen_port, raw)
    st = _status(got)
    check(st is not None, "%s: no HTTP response (connection %s, got %r)"
          % (what, how, got[:120]))
    check(st == status, "%s: status %d, expected %d (response %r)" % (
        what, st, status, got[:120]))
    check(how != "open", "%s: connection still open 3 s after the %d"
          % (what, st))
    time.sleep(0.1)
    check(be.count() == before, "%s: the backend saw %d request(s): %r" % (
        what, be.count() - before, be.request_lines[before:]))
    return d, be


def _not_2xx(t, raw, d, be, what):
    """A good head with a malformed body: the backend may have seen the
    head, the client must not get a 2xx and the connection must end."""
    got, how = _exchange(t, d.listen_port, raw)
    st = _status(got)
    check(how != "open", "%s: connection still open 3 s later (got %r)"
          % (what, got[:120]))
    check(st is None or not 200 <= st < 300, "%s: client got %d" % (
        what, st))
    check(st in (None, 400, 502), "%s: client got %r" % (what, got[:120]))
    return st, how


def _still_serves(d):
    r = get(d.listen_port, "app.test", "/after")
    check(r.status == 200, "a good request after the bad ones: status %d"
          % r.status)


# ---------------------------------------------------------------------
# framing

def test_content_length_with_transfer_encoding(t):
    d, be = _rejected(t, b"POST / HTTP/1.1\r\n" + H +
                      b"Content-Length: 5\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n"
                      b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
                      what="Content-Length with Transfer-Encoding")
    _rejected(t, b"POST / HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: chunked\r\n"
              b"Content-Length: 5\r\n\r\n0\r\n\r\n", d=d, be=be,
              what="Transfer-Encoding then Content-Length")
    _still_serves(d)


def test_two_differing_content_lengths(t):
    d, be = _rejected(t, b"POST / HTTP/1.1\r\n" + H +
                      b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
                      b"hello!", what="Content-Length 5 and 6")
    _rejected(t, b"POST / HTTP/1.1\r\n" + H +
              b"Content-Length: 5, 6\r\n\r\nhello!", d=d, be=be,
              what="Content-Length: 5, 6")


def test_content_length_not_digits(t):
    d, be = None, None
    for v in (b"5x", b"+5", b"-1", b"0x5", b"5 5", b""):
        d, be = _rejected(t, b"POST / HTTP/1.1\r\n" + H +
                          b"Content-Length: " + v + b"\r\n\r\nhello",
                          d=d, be=be, what="Content-Length: %r" % v)


def test_transfer_encoding_gzip_chunked(t):
    # a coding portero cannot decode before chunked (RFC 9112 6.1): 501
    _rejected(t, b"POST / HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
              status=501, what="Transfer-Encoding: gzip, chunked")


def test_transfer_encoding_chunked_identity(t):
    d, be = _rejected(t, b"POST / HTTP/1.1\r\n" + H +
                      b"Transfer-Encoding: chunked, identity\r\n\r\n"
                      b"0\r\n\r\n", what="Transfer-Encoding: chunked, "
                      "identity")
    _rejected(t, b"POST / HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: chunked\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", d=d, be=be,
              what="Transfer-Encoding: chunked twice")


def test_transfer_encoding_in_http10(t):
    _rejected(t, b"POST / HTTP/1.0\r\n" + H +
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              what="Transfer-Encoding in HTTP/1.0")


def test_bad_chunk_size_after_good_head(t):
    d, be = _setup(t)
    for body in (b"zz\r\nhello\r\n0\r\n\r\n",
                 b"5\r\nhello\r\n-1\r\n\r\n",
                 b"5 5\r\nhello\r\n0\r\n\r\n",
                 b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"):
        _not_2xx(t, b"POST / HTTP/1.1\r\n" + H +
                 b"Transfer-Encoding: chunked\r\n\r\n" + body, d, be,
                 "chunk size %r" % body.split(b"\r\n")[0])
    _still_serves(d)


def test_chunk_extension_with_bare_cr(t):
    d, be = _setup(t)
    _not_2xx(t, b"POST / HTTP/1.1\r\n" + H +
             b"Transfer-Encoding: chunked\r\n\r\n"
             b"5;ext=a\rb\r\nhello\r\n0\r\n\r\n", d, be,
             "chunk extension with a bare CR")
    _not_2xx(t, b"POST / HTTP/1.1\r\n" + H +
             b"Transfer-Encoding: chunked\r\n\r\n"
             b"5\r\nhelloXX0\r\n\r\n", d, be,
             "chunk data not followed by CRLF")
    _still_serves(d)


# ---------------------------------------------------------------------
# field syntax

def test_obs_fold(t):
    d, be = _rejected(t, b"GET / HTTP/1.1\r\n" + H +
                      b"X-Folded: a\r\n b\r\n\r\n", what="obs-fold (space)")
    _rejected(t, b"GET / HTTP/1.1\r\n" + H +
              b"X-Folded: a\r\n\tb\r\n\r\n", d=d, be=be,
              what="obs-fold (tab)")


def test_space_before_colon(t):
    d, be = _rejected(t, b"GET / HTTP/1.1\r\n" + H +
                      b"X-Space : yes\r\n\r\n", what="space before colon")
    _rejected(t, b"POST / HTTP/1.1\r\n" + H +
              b"Content-Length : 5\r\n\r\nhello", d=d, be=be,
              what="Content-Length with a space before the colon")
    _rejected(t, b"GET / HTTP/1.1\r\n" + H +
              b"X-Tab\t: yes\r\n\r\n", d=d, be=be, what="tab before colon")


def test_bare_cr_in_field(t):
    d, be = _rejected(t, b"GET / HTTP/1.1\r\n" + H +
                      b"X-Cr: a\rb\r\n\r\n", what="bare CR in a value")
    _rejected(t, b"GET / HTTP/1.1\r\n" + H +
              b"X-Cr: a\r\r\n\r\n", d=d, be=be,
              what="bare CR before CRLF")


def test_bare_lf_line_ending(t):
    d, be = _rejected(t, b"GET / HTTP/1.1\r\nHost: app.test\n"
                      b"X-Lf: a\r\n\r\n", what="bare LF after a field")
    _rejected(t, b"GET / HTTP/1.1\nHost: app.test\n\n", d=d, be=be,
              what="bare LF everywhere")


def test_nul_in_field_value(t):
    d, be = _rejected(t, b"GET / HTTP/1.1\r\n" + H +
                      b"X-Nul: a\x00b\r\n\r\n", what="NUL in a value")
    _rejected(t, b"GET / HTTP/1.1\r\n" + H +
              b"X-Ctl: a\x01b\r\n\r\n", d=d, be=be,
              what="control byte 0x01 in a value")
    _rejected(t, b"GET / HTTP/1.1\r\n" + H +
              b"X-N\x00ul: ab\r\n\r\n", d=d, be=be, what="NUL in a name")


def test_duplicate_host(t):
    # RFC 9112 3.2: more than one Host field gets 400
    _rejected(t, b"GET / HTTP/1.1\r\nHost: app.test\r\n"
              b"Host: other.test\r\n\r\n", what="two Host fields")


# ---------------------------------------------------------------------
# request line

def test_invalid_method_token(t):
    d, be = None, None
    for m in (b"G{T", b"GE\x01T", b"G\"T", b"GET\x00"):
        d, be = _rejected(t, m + b" / HTTP/1.1\r\n" + H + b"\r\n",
                          d=d, be=be, what="method %r" % m)


def test_target_with_space_or_control(t):
    d, be = None, None
    for target in (b"/a b", b"/a\x01b", b"/a\tb", b"/a\x7fb", b"/a\x00b"):
        d, be = _rejected(t, b"GET " + target + b" HTTP/1.1\r\n" + H +
                          b"\r\n", d=d, be=be, what="target %r" % target)


def test_request_line_over_8k_gets_414(t):
    _rejected(t, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n",
              status=414, what="request line of 9 KiB")


def test_head_over_32k_gets_431(t):
    fields = b"".join(b"X-Big-%02d: %s\r\n" % (i, b"v" * 1000)
                      for i in range(34))
    d, be = _rejected(t, b"GET / HTTP/1.1\r\n" + H + fields + b"\r\n",
                      status=431, what="head of 34 KiB in 34 fields")
    _rejected(t, b"GET / HTTP/1.1\r\n" + H + b"X-One: " + b"w" * 33000 +
              b"\r\n\r\n", status=431, d=d, be=be,
              what="one field of 33000 bytes")


def test_101_fields_get_431(t):
    d, be = _setup(t)
    ok = b"".join(b"X-F%03d: 1\r\n" % i for i in range(99))
    r = get(d.listen_port, "app.test", "/hundred",
            headers=[("X-F%03d" % i, "1") for i in range(98)])
    check(r.status == 200, "100 fields (Host, Connection and 98 more): "
          "status %d, expected 200" % r.status)
    before = be.count()
    fields = ok + b"X-F099: 1\r\n"
    _rejected(t, b"GET / HTTP/1.1\r\n" + H + fields + b"\r\n", status=431,
              d=d, be=be, what="101 fields")
    check(be.count() == before, "the backend saw the 101-field request")


def test_http11_without_host(t):
    d, be = _rejected(t, b"GET / HTTP/1.1\r\nX-No-Host: 1\r\n\r\n",
                      what="HTTP/1.1 without Host")
    _rejected(t, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", d=d, be=be,
              what="Host with a space")
    _still_serves(d)
