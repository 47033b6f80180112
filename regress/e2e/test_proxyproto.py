"""
The PROXY protocol (v1 and v2) on the TLS and the plain listener, from
the senders a listener trusts alone, and trusted forwarders: real
clients on loopback write the headers by hand, then HTTP, TLS or
HTTP/2, and the echo backend and the access log say who portero took
the client for.  Bad, truncated, slow and missing headers, and senders
not trusted, are closed; a listener without the option answers a PROXY
line 400 as any other bad request.
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

import ipaddress
import os
import socket
import ssl
import struct
import time

import h2raw
from backends import (EchoBackend, TestCA, cert_folder, header_map,
                      make_cert_dir, read_response, wait_closed)
from harness import PORTERO, check, fail, free_ports, wait_until

HOST = "a.test"
HANDSHAKE_TIMEOUT = 2       # seconds, --handshake-timeout of the daemons


# ---------------------------------------------------------------------
# headers, by hand

def v1(src, sport=40000, dst=None, dport=443):
    fam = "TCP6" if ":" in src else "TCP4"
    if dst is None:
        dst = "::1" if ":" in src else "127.0.0.1"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src, sport=40000, dst=None, dport=443, tlvs=b"", local=False):
    if local:
        return V2_SIG + b"\x20\x00" + struct.pack("!H", len(tlvs)) + tlvs
    a = ipaddress.ip_address(src)
    if dst is None:
        dst = "::1" if a.version == 6 else "127.0.0.1"
    b = ipaddress.ip_address(dst)
    fam = b"\x21" if a.version == 6 else b"\x11"
    body = a.packed + b.packed + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + b"\x21" + fam + struct.pack("!H", len(body)) + body


# ---------------------------------------------------------------------
# the set-up: a CA, a certificate for a.test, an echo backend, a file

class Site:
    def __init__(self, t, tls_from="127.0.0.1", plain_from="127.0.0.1",
                 trusted=None, extra_conf="", tls=True):
        self.t = t
        self.be = EchoBackend(t, "app")
        self.alog = os.path.join(t.tmp, "access.log")
        self.tls_port, self.plain_port, reg = free_ports(3)
        self.ca = None
        self.certdir = None
        if tls:
            self.ca = TestCA(t)
            self.certdir = make_cert_dir(t)
            cert_folder(t, self.ca, self.certdir, HOST)
        lines = ["no-register", "http-proxy",
                 "handshake-timeout %d" % HANDSHAKE_TIMEOUT]
        lines.append("listen on 127.0.0.1 port %d tls%s" % (
            self.tls_port, " proxy-protocol from { %s }" % tls_from
            if tls_from else ""))
        lines.append("listen on 127.0.0.1 port %d%s" % (
            self.plain_port, " proxy-protocol from %s" % plain_from
            if plain_from else ""))
        if trusted:
            lines.append("trusted-forwarders %s" % trusted)
        lines += ['pool "app" { backend %s port %d }' % (
                      "127.0.0.1", self.be.port),
                  'server "%s" { forward to "app"; default }' % HOST,
                  extra_conf]
        self.conf = os.path.join(t.tmp, "portero.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.d = t.daemon(workers=1, cert_dir=self.certdir,
                          listen_flag=False,
                          extra_args=["-f", self.conf, "--access-log",
                                      self.alog])
        self.d.listen_port, self.d.register_port = self.tls_port, reg
        self.d.start()
        self.served = 0
        if tls and tls_from is not None and "127.0.0.1" in tls_from:
            self.wait_tls()

    # --- connections

    def raw(self, port=None, header=b""):
        s = socket.create_connection(("127.0.0.1", port or self.plain_port),
                                     timeout=5)
        self.t.defer(s.close)
        if header:
            s.sendall(header)
        return s

    def tls_ctx(self, alpn=("http/1.1",)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca.cert)
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def tls(self, header, alpn=("http/1.1",)):
        """A header, then TLS on the same socket."""
        s = self.raw(self.tls_port, header)
        return self.tls_ctx(alpn).wrap_socket(s, server_hostname=HOST)

    def wait_tls(self):
        """Until the certificate is in (the certloader's first scan)."""
        def ok():
            try:
                self.tls(v1("127.0.0.1")).close()
                return True
            except (OSError, ssl.SSLError):
                return False
        check(wait_until(ok, 5, 0.1), "TLS with a PROXY header never "
              "came up: " + self.d.log_tail(10))

    # --- requests and what came of them

    def ask(self, s, fields=b"", close=True):
        s.sendall(b"GET / HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n" +
                  fields + (b"Connection: close\r\n" if close else b"") +
                  b"\r\n")
        return self.answer(s)

    def answer(self, s):
        r = read_response(s.makefile("rb"))
        check(r.status == 200, "status %d, expected 200: %r" % (
            r.status, r.body[:200]))
        self.served += 1
        return header_map(r.json())

    def logged(self):
        """The client address of the access log's latest line."""
        def line():
            try:
                with open(self.alog) as f:
                    ls = f.read().splitlines()
            except OSError:
                return None
            return ls if len(ls) >= self.served else None
        ls = wait_until(line, 3, 0.05)
        check(ls, "access log: not %d lines" % self.served)
        return ls[-1].split(" ", 1)[0]

    def log_has(self, text, timeout=3):
        return wait_until(lambda: text in self.d.log(), timeout, 0.05)


def sees(hm, name, want, what):
    got = hm.get(name.lower())
    check(got == want, "%s: the backend saw %s %r, expected %r" % (
        what, name, got, want))


def closed_unanswered(s, what, within=None):
    """The daemon closes s without a byte of answer (within seconds)."""
    t0 = time.monotonic()
    try:
        got = wait_closed(s, within or HANDSHAKE_TIMEOUT + 2)
    except AssertionError as e:
        fail("%s: %s" % (what, e))
    check(got == b"", "%s: answered %r instead of closing" % (what,
                                                              got[:80]))
    return time.monotonic() - t0


# ---------------------------------------------------------------------
# the headers taken

def test_v1_plain_listener(t):
    """v1 TCP4 and TCP6 before HTTP, the header and the request in one
    write: the backend and the log see the address the header carries;
    the connection goes on with more requests."""
    st = Site(t, tls=False, tls_from=None)
    s = st.raw(header=v1("192.0.2.7") + b"GET / HTTP/1.1\r\nHost: a.test"
               b"\r\n\r\n")
    hm = st.answer(s)
    sees(hm, "X-Forwarded-For", ["192.0.2.7"], "v1 TCP4")
    sees(hm, "X-Real-IP", ["192.0.2.7"], "v1 TCP4")
    check(st.logged() == "192.0.2.7", "access log: %r" % st.logged())
    hm = st.ask(s)
    sees(hm, "X-Real-IP", ["192.0.2.7"], "a second request")
    hm = st.ask(st.raw(header=v1("2001:db8::7")))
    sees(hm, "X-Forwarded-For", ["2001:db8::7"], "v1 TCP6")
    check(st.logged() == "2001:db8::7", "access log: %r" % st.logged())


def test_v2_plain_listener(t):
    """v2 PROXY over TCP4 and TCP6, with TLVs; LOCAL and v1 UNKNOWN keep
    the connection's own address."""
    st = Site(t, tls=False, tls_from=None)
    tlvs = b"\x04\x00\x03abc" + b"\xea\x00\x08vpce-123"
    hm = st.ask(st.raw(header=v2("198.51.100.9", tlvs=tlvs)))
    sees(hm, "X-Forwarded-For", ["198.51.100.9"], "v2 TCP4 with TLVs")
    check(st.logged() == "198.51.100.9", "access log: %r" % st.logged())
    hm = st.ask(st.raw(header=v2("2001:db8::9")))
    sees(hm, "X-Real-IP", ["2001:db8::9"], "v2 TCP6")
    hm = st.ask(st.raw(header=v2(None, local=True)))
    sees(hm, "X-Real-IP", ["127.0.0.1"], "v2 LOCAL")
    hm = st.ask(st.raw(header=b"PROXY UNKNOWN\r\n"))
    sees(hm, "X-Real-IP", ["127.0.0.1"], "v1 UNKNOWN")
    check(st.logged() == "127.0.0.1", "access log: %r" % st.logged())


def test_tls_listener(t):
    """v1 and v2 before the TLS handshake: the handshake and the request
    go on as usual, from the header's address."""
    st = Site(t)
    for hdr, addr in ((v1("203.0.113.5"), "203.0.113.5"),
                      (v2("2001:db8::5"), "2001:db8::5")):
        s = st.tls(hdr)
        hm = st.ask(s)
        sees(hm, "X-Forwarded-For", [addr], "TLS after %r" % hdr[:12])
        sees(hm, "X-Forwarded-Proto", ["https"], "TLS")
        check(st.logged() == addr, "access log: %r, expected %s" % (
            st.logged(), addr))


def test_tls_header_and_hello_in_one_write(t):
    """The header and the ClientHello in one segment: the bytes after
    the header are left for TLS."""
    st = Site(t)
    ctx = st.tls_ctx()
    raw = st.raw(st.tls_port)
    bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(bio_in, bio_out, server_hostname=HOST)
    first = True
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            out = bio_out.read()
            if first:
                out = v2("192.0.2.44") + out
                first = False
            raw.sendall(out)
            b = raw.recv(65536)
            check(b, "EOF in the handshake: " + st.d.log_tail(5))
            bio_in.write(b)
    obj.write(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close"
              b"\r\n\r\n")
    raw.sendall(bio_out.read())
    data = b""
    while True:
        try:
            b = obj.read(65536)
            if not b:       # close_notify
                break
            data += b
        except ssl.SSLWantReadError:
            b = raw.recv(65536)
            if not b:
                break
            bio_in.write(b)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    check(b'"192.0.2.44"' in data, "the backend did not see the header's "
          "address: %r" % data[-300:])


def test_h2_over_proxy_tls(t):
    """HTTP/2 (ALPN h2) after a PROXY header."""
    st = Site(t)
    s = st.tls(v1("192.0.2.80"), alpn=("h2",))
    check(s.selected_alpn_protocol() == "h2", "ALPN: %r" %
          s.selected_alpn_protocol())
    c = h2raw.H2(s)
    t.defer(c.close)
    for i in range(2):
        st_ = c.get("/", authority=HOST)
        check(st_.status == 200, "HTTP/2 status %r" % st_.status)
        import json
        hm = header_map(json.loads(bytes(st_.data)))
        sees(hm, "X-Real-IP", ["192.0.2.80"], "HTTP/2 stream %d" % i)
        st.served += 1
    check(st.logged() == "192.0.2.80", "access log: %r" % st.logged())


# ---------------------------------------------------------------------
# what is closed

def test_untrusted_sender_closed(t):
    """A listener that trusts 10.0.0.0/8 alone closes 127.0.0.1 at once,
    good header or not, and says so in the log."""
    st = Site(t, tls_from="10.0.0.0/8", plain_from="10.0.0.0/8")
    s = st.raw(header=v1("192.0.2.1") + b"GET / HTTP/1.1\r\nHost: a.test"
               b"\r\n\r\n")
    took = closed_unanswered(s, "plain, untrusted")
    check(took < 1.0, "closed only after %.1f s" % took)
    s = st.raw(st.tls_port, v1("192.0.2.1"))
    closed_unanswered(s, "TLS, untrusted")
    check(st.log_has("not allowed to send the PROXY protocol"),
          "no log line for an untrusted sender: " + st.d.log_tail(8))
    check(st.be.count() == 0, "the backend was asked")


BAD = [
    ("v2 TLV past the end", V2_SIG + b"\x21\x11\x00\x10" + b"\x01" * 12 +
     b"\x04\x00\x09x"),
    ("v1 lower case", b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    ("v1 UDP", b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    ("v1 family mismatch", b"PROXY TCP4 ::1 ::2 1 2\r\n"),
    ("v1 port 65536", b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
    ("v1 LF alone", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
    ("v1 too long", b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n"),
    ("v1 NUL", b"PROXY TCP4 1.2.3.4\x00 5.6.7.8 1 2\r\n"),
    ("v2 version 1", V2_SIG + b"\x11\x11\x00\x0c" + b"\x01" * 12),
    ("v2 command 2", V2_SIG + b"\x22\x11\x00\x0c" + b"\x01" * 12),
    ("v2 UDP", V2_SIG + b"\x21\x12\x00\x0c" + b"\x01" * 12),
    ("v2 UNIX", V2_SIG + b"\x21\x31\x00\xd8" + b"\x00" * 216),
    ("v2 short", V2_SIG + b"\x21\x11\x00\x08" + b"\x01" * 8),
    ("v2 over 1024 bytes", V2_SIG + b"\x21\x11\xff\xff" + b"\x00" * 64),
    ("HTTP without a header", b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"),
    ("h2c preface without a header", h2raw.PREFACE),
    ("TLS without a header", b"\x16\x03\x01\x00\xa0\x01\x00\x00\x9c"),
]


def test_bad_headers_closed(t):
    """Each malformed header (and none at all) on either listener: closed
    at once, unanswered, with a log line; no worker dies."""
    st = Site(t)
    for what, data in BAD:
        for port in (st.plain_port, st.tls_port):
            s = st.raw(port, data + b"GET / HTTP/1.1\r\n\r\n")
            took = closed_unanswered(s, what)
            check(took < 1.0, "%s: closed only after %.1f s" % (what, took))
    # at most 10 such lines a second: the first ones are there
    check(st.log_has("PROXY protocol: v2: a TLV past") and
          st.log_has("PROXY protocol: not a PROXY protocol header"),
          "no log lines for bad headers: " + st.d.log_tail(8))
    check(st.be.count() == 0, "the backend was asked")
    # still serving
    sees(st.ask(st.raw(header=v1("192.0.2.3"))), "X-Real-IP",
         ["192.0.2.3"], "after the garbage")
    st.d.check_restarts()


def test_truncated_and_slow_headers_closed(t):
    """A header cut short, a slowloris sending one byte a half second, a
    connection that says nothing: closed within --handshake-timeout; one
    that ends its half mid-header, at once."""
    st = Site(t, tls=False, tls_from=None)
    hdr = v1("192.0.2.1")
    cut = st.raw(header=hdr[:20])
    silent = st.raw()
    slow = st.raw()
    t0 = time.monotonic()
    for i in range(len(hdr) - 1):
        try:
            slow.sendall(hdr[i:i + 1])
        except OSError:
            break
        time.sleep(0.5)
        if time.monotonic() - t0 > HANDSHAKE_TIMEOUT + 2:
            fail("a slowloris still sending after %.1f s" %
                 (time.monotonic() - t0))
    took = closed_unanswered(slow, "slowloris", HANDSHAKE_TIMEOUT + 2)
    check(time.monotonic() - t0 < HANDSHAKE_TIMEOUT + 1.5,
          "slowloris closed after %.1f s" % (time.monotonic() - t0))
    closed_unanswered(cut, "a header cut short", 1)
    closed_unanswered(silent, "no header at all", 1)
    check(st.log_has("no whole header within --handshake-timeout"),
          "no log line for the timeout: " + st.d.log_tail(8))
    half = st.raw(header=hdr[:25])
    half.shutdown(socket.SHUT_WR)
    took = closed_unanswered(half, "half closed mid-header")
    check(took < 1.0, "half closed: closed after %.1f s" % took)
    v2cut = st.raw(header=v2("192.0.2.1")[:20])
    v2cut.shutdown(socket.SHUT_WR)
    closed_unanswered(v2cut, "v2 half closed mid-header", 1)
    st.d.check_restarts()


def test_listener_without_option_answers_400(t):
    """Without proxy-protocol a PROXY line is a bad request, as ever."""
    st = Site(t, tls=False, tls_from=None, plain_from=None)
    s = st.raw(header=v1("192.0.2.1") + b"GET / HTTP/1.1\r\nHost: a.test"
               b"\r\n\r\n")
    r = read_response(s.makefile("rb"))
    check(r.status == 400, "status %d, expected 400" % r.status)
    check(st.be.count() == 0, "the backend was asked")


# ---------------------------------------------------------------------
# trusted forwarders

def test_trusted_forwarder_chain(t):
    """From a trusted forwarder: its X-Forwarded-For is kept (portero's
    hop appended), the rightmost address not itself trusted is the
    client, for the log, X-Real-IP and $REMOTE_ADDR; a Forwarded and an
    X-Real-IP it sent are kept."""
    st = Site(t, tls=False, tls_from=None, plain_from=None,
              trusted="{ 127.0.0.0/8, 10.0.0.0/8 }",
              extra_conf='server "b.test" { forward to "app"\n'
              'request header set "X-Client" "$REMOTE_ADDR" }')
    hm = st.ask(st.raw(), b"X-Forwarded-For: 1.2.3.4\r\n")
    sees(hm, "X-Forwarded-For", ["1.2.3.4, 127.0.0.1"], "one hop")
    sees(hm, "X-Real-IP", ["1.2.3.4"], "one hop")
    check(st.logged() == "1.2.3.4", "access log: %r" % st.logged())

    hm = st.ask(st.raw(), b"X-Forwarded-For: 9.9.9.9, 8.8.8.8\r\n"
                b"X-Forwarded-For: 10.0.0.5\r\n")
    sees(hm, "X-Real-IP", ["8.8.8.8"], "rightmost untrusted of a chain")
    check(st.logged() == "8.8.8.8", "access log: %r" % st.logged())

    hm = st.ask(st.raw(), b"X-Forwarded-For: 10.1.1.1, 10.0.0.5\r\n")
    sees(hm, "X-Real-IP", ["10.1.1.1"], "all trusted: the leftmost")

    hm = st.ask(st.raw(), b"X-Forwarded-For: 5.5.5.5, unknown, 10.0.0.5"
                b"\r\n")
    sees(hm, "X-Real-IP", ["10.0.0.5"], "a hop that is no address")

    hm = st.ask(st.raw(), b"X-Forwarded-For: 1.2.3.4\r\nX-Real-IP: 7.7.7.7"
                b"\r\nForwarded: for=7.7.7.7;proto=https\r\n")
    sees(hm, "X-Real-IP", ["7.7.7.7"], "a forwarder's X-Real-IP")
    sees(hm, "Forwarded", ["for=7.7.7.7;proto=https"],
         "a forwarder's Forwarded")

    s = st.raw()
    s.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\nX-Forwarded-For: "
              b"2001:db8::1\r\nConnection: close\r\n\r\n")
    hm = st.answer(s)
    sees(hm, "X-Client", ["2001:db8::1"], "$REMOTE_ADDR")


def test_untrusted_forwarder_replaced(t):
    """From a peer not in the list: as ever, X-Forwarded-For appended
    to, X-Real-IP and Forwarded portero's own, the peer logged."""
    st = Site(t, tls=False, tls_from=None, plain_from=None,
              trusted="10.0.0.0/8")
    hm = st.ask(st.raw(), b"X-Forwarded-For: 1.2.3.4\r\nX-Real-IP: 7.7.7.7"
                b"\r\nForwarded: for=7.7.7.7\r\n")
    sees(hm, "X-Forwarded-For", ["1.2.3.4, 127.0.0.1"], "untrusted")
    sees(hm, "X-Real-IP", ["127.0.0.1"], "untrusted")
    sees(hm, "Forwarded", None, "untrusted")
    check(st.logged() == "127.0.0.1", "access log: %r" % st.logged())


def test_forwarded_chain_and_proxy_address(t):
    """header forwarded: the chain is RFC 7239's for= values; and the
    address a PROXY header carries is what is held against the list."""
    st = Site(t, tls=False, tls_from=None, plain_from="127.0.0.1",
              trusted="{ 10.0.0.0/8 } header forwarded",
              extra_conf='server "b.test" { forward to "app"\n'
              'forwarded both }')
    fwd = (b'Forwarded: for="[2001:db8::1]:443";proto=https, '
           b'for=10.0.0.7\r\nX-Forwarded-For: 6.6.6.6\r\n')
    hm = st.ask(st.raw(header=v1("10.0.0.9")), fwd)
    sees(hm, "X-Real-IP", ["2001:db8::1"], "Forwarded chain")
    check(st.logged() == "2001:db8::1", "access log: %r" % st.logged())
    s = st.raw(header=v1("10.0.0.9"))
    s.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\n" + fwd +
              b"Connection: close\r\n\r\n")
    hm = st.answer(s)
    sees(hm, "Forwarded", ['for="[2001:db8::1]:443";proto=https, '
                           'for=10.0.0.7', 'for=10.0.0.9;proto=http;'
                           'host="b.test"'], "Forwarded appended to")
    hm = st.ask(st.raw(header=v1("192.0.2.9")), fwd)
    sees(hm, "X-Real-IP", ["192.0.2.9"], "a PROXY address not trusted")
    sees(hm, "Forwarded", None, "a PROXY address not trusted")


def test_reload_changes_the_lists(t):
    """A reload that trusts the sender takes effect for new
    connections; the file's -n lists its errors with their lines."""
    st = Site(t, tls=False, tls_from=None, plain_from="10.0.0.0/8")
    closed_unanswered(st.raw(header=v1("192.0.2.1")), "before reload")
    with open(st.conf) as f:
        text = f.read()
    with open(st.conf, "w") as f:
        f.write(text.replace("from 10.0.0.0/8", "from 127.0.0.1"))
    st.d.ctl("reload")
    sees(st.ask(st.raw(header=v1("192.0.2.1"))), "X-Real-IP",
         ["192.0.2.1"], "after reload")

    bad = os.path.join(t.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("no-register\n"
                "listen on 127.0.0.1 port 1 proxy-protocol from 10.1/8\n"
                "listen on 127.0.0.1 port 2 tls proxy-protocol\n"
                "trusted-forwarders { ::1, 10.0.0.1/8 }\n"
                "trusted-forwarders 10.0.0.0/8 header x-nope\n")
    r = t.run([PORTERO, "-n", "-f", bad])
    check(r.returncode == 1, "-n on a bad file: exit %d" % r.returncode)
    for line, msg in ((2, '"10.1/8": want an address or a network'),
                      (3, "syntax error"),
                      (4, '"10.0.0.1/8": want an address'),
                      (5, 'header "x-nope": want x-forwarded-for')):
        want = "%s:%d: " % (bad, line)
        check(any(ln.startswith(want) and msg in ln for ln in
                  r.stderr.splitlines()), "-n: no %r%s: %s" % (
                      want, msg, r.stderr))


def test_hash_balancing_by_real_address(t):
    """balance hash address goes by the client a trusted forwarder
    names, not by the forwarder: many clients behind one forwarder
    spread over the backends, and each stays on its own."""
    bes = [EchoBackend(t, "h%d" % i) for i in range(3)]
    conf = os.path.join(t.tmp, "portero.conf")
    with open(conf, "w") as f:
        f.write("no-register\ntrusted-forwarders 127.0.0.1\n"
                'pool "h" {\n%s\tbalance hash address\n}\n'
                'server "%s" { forward to "h" }\n' % (
                    "".join("\tbackend 127.0.0.1 port %d\n" % be.port
                            for be in bes), HOST))
    d = t.daemon(workers=1, extra_args=["-f", conf]).start()

    def who(client):
        s = socket.create_connection(("127.0.0.1", d.listen_port),
                                     timeout=5)
        t.defer(s.close)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: "
                  b"%s\r\nConnection: close\r\n\r\n" % client.encode())
        r = read_response(s.makefile("rb"))
        check(r.status == 200, "status %d" % r.status)
        return r.json()["name"]
    first = {}
    for i in range(30):
        first["198.51.100.%d" % i] = who("198.51.100.%d" % i)
    used = set(first.values())
    check(len(used) == 3, "30 clients behind one forwarder went to %s"
          % sorted(used))
    for client, name in list(first.items())[:10]:
        check(who(client) == name, "%s went to %s, then elsewhere" % (
            client, name))
