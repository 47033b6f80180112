"""
HTTP/2 attacks, one raw-frame test each: rapid reset, CONTINUATION
flood, HPACK bomb, PING, SETTINGS, empty DATA and PRIORITY floods, a
window that never opens, a field over nghttp2's cap.  Each asserts how
the connection ends, that the worker's memory stayed within 64 MiB of
where it was, that the worker still serves, and that no child was
respawned.
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

import select
import socket
import ssl
import threading
import time

import h2raw
from h2raw import Hpack
from harness import check, wait_until
from test_h2 import RssPeak, World, expect_ok

RSS_LIMIT_MIB = 64
REQ = [(":method", "GET"), (":scheme", "https"), (":authority", "a.test"),
       (":path", "/attack")]


class HoldBackend:
    """Accepts connections and holds each, never answering, until the
    peer closes it; counts how many are open at once.  One thread and
    select(), so that a connection the peer closed is seen gone at
    once."""

    def __init__(self, t):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = set()
        self.accepted = 0
        self.peak = 0
        self.stopping = False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()
        t.defer(self.stop)

    def _run(self):
        while not self.stopping:
            r, _, _ = select.select([self.sock] + list(self.conns), [], [],
                                    0.02)
            for s in r:
                if s is self.sock:
                    while True:
                        try:
                            c, _ = self.sock.accept()
                        except OSError:
                            break
                        c.setblocking(False)
                        self.conns.add(c)
                        self.accepted += 1
                        self._read(c)
                    continue
                self._read(s)
            # closed ones are gone before counting, new ones too
            self.peak = max(self.peak, len(self.conns))

    def _read(self, s):
        """Read what is there; a connection at EOF is gone."""
        while True:
            try:
                b = s.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                b = b""
            if not b:
                self.conns.discard(s)
                s.close()
                return

    def live(self):
        return len(self.conns)

    def stop(self):
        self.stopping = True
        self.th.join(1)
        for c in list(self.conns):
            c.close()
        self.sock.close()


def _setup(t, extra=(), hold=False):
    names = ("a.test", "hold.test") if hold else ("a.test",)
    w = World(t, names=names)
    a = w.backend("a.test")
    hb = None
    if hold:
        hb = HoldBackend(t)
        w.backend("hold.test", hb.addr)
    d = w.start(extra=list(extra))
    wpid = d.child_pid("worker", 0)
    c = w.h2()
    expect_ok(c.get("/warm"), a, "warm-up")
    c.close()
    return w, a, d, wpid, hb


def _after(w, a, d, rss, what):
    """Memory, a new connection served, no respawn."""
    rss.check(RSS_LIMIT_MIB, what)
    check(d.alive(), "the daemon exited after %s" % what)
    died = [l for l in d.log_lines(d.pid) if "killed by signal" in l or
            "exited" in l]
    check(not died, "a child died during %s: %s" % (what, died[:2]))
    c = w.h2()
    expect_ok(c.get("/after"), a, "a new connection after %s" % what)
    d.check_restarts()


def _flood(c, chunk, count, send_timeout=3.0, read=False):
    """Send chunk count times, or until the connection is closed or
    stops taking data for send_timeout; returns (times sent, how it
    stopped)."""
    c.sock.settimeout(send_timeout)
    n = 0
    while n < count:
        try:
            c.sock.sendall(chunk)
        except socket.timeout:
            return n, "blocked"
        except (OSError, ssl.SSLError) as e:
            return n, "closed (%s)" % type(e).__name__
        n += 1
        if read:
            c.read_some(0)
            if c.goaways or c.eof:
                return n, "ended"
    return n, "all sent"


def _ending(c, timeout=5.0):
    """Read until EOF; 'goaway CODE' for the last GOAWAY seen, else
    'closed', or 'open' if the connection outlived timeout."""
    try:
        c.drain(timeout)
    except (h2raw.H2Error, OSError, ssl.SSLError):
        c.eof = True
    if c.goaways:
        return "goaway %#x" % c.goaways[-1][1]
    return "closed" if c.eof else "open"


# ---------------------------------------------------------------------

def _reset_flood(c, block, hb, batch, pause):
    """HEADERS for batch streams, pause seconds (0: the RST_STREAMs go
    in the same write), RST_STREAM for each; again, until the
    connection ends, 20000 streams or 10 s.  Returns streams reset."""
    sent = 0
    t0 = time.monotonic()
    while sent < 20000 and time.monotonic() - t0 < 10 and \
            not c.goaways and not c.eof:
        sids = [c.new_sid() for _ in range(batch)]
        heads = b"".join(h2raw.headers_frames(sid, block) for sid in sids)
        rsts = b"".join(h2raw.rst_frame(sid) for sid in sids)
        try:
            if pause:
                c.send(heads)
                c.read_some(pause)
                c.send(rsts)
            else:
                # one stream at a time, each reset at once
                c.send(b"".join(h2raw.headers_frames(sid, block) +
                                h2raw.rst_frame(sid) for sid in sids))
        except (OSError, ssl.SSLError):
            break
        sent += batch
        c.read_some(0)
    return sent


def test_rapid_reset(t):
    w, a, d, wpid, hb = _setup(t, hold=True, extra=[
        "--h2-max-streams", "16"])
    rss = RssPeak(wpid, t)
    c = w.h2()
    c.wait_settings()
    block = c.hpack.encode([(k, v.replace("a.test", "hold.test"))
                            for k, v in REQ])
    # a few resets are fine: 40 streams opened and cancelled, then a
    # request is served on the same connection
    polite = b""
    for _ in range(40):
        sid = c.new_sid()
        polite += h2raw.headers_frames(sid, block) + h2raw.rst_frame(sid)
    c.send(polite)
    expect_ok(c.get("/polite"), a, "a request after 40 resets")
    check(not c.goaways, "40 resets got GOAWAY %r" % c.goaways)
    c.close()
    results = []
    # streams reset once their exchanges are under way (the backend
    # got connections), and streams reset in the same write
    for what, batch, pause in (("reset after 20 ms", 16, 0.02),
                               ("reset at once", 50, 0)):
        c = w.h2()
        c.wait_settings()
        t0 = time.monotonic()
        sent = _reset_flood(c, block, hb, batch, pause)
        how = _ending(c, 5)
        results.append((what, sent, how))
        t.note("rapid reset, %s: %d streams in %.2f s, then %s; backend "
               "peak %d connections at once, %d in all" % (
                   what, sent, time.monotonic() - t0, how, hb.peak,
                   hb.accepted))
        check(wait_until(lambda: hb.live() == 0, 3), "%s: %d upstream "
              "connections still open 3 s after the connection ended"
              % (what, hb.live()))
    check(hb.accepted > 0, "no stream of the flood reached the backend: "
          "the test did not test what it meant to")
    check(hb.peak <= 2 * 16, "the backend held %d connections at once "
          "during a rapid reset flood (--h2-max-streams 16)" % hb.peak)
    for what, sent, how in results:
        check(how == "goaway 0xb", "rapid reset, %s (%d HEADERS+"
              "RST_STREAM): the connection ended with %s, expected GOAWAY"
              " ENHANCE_YOUR_CALM" % (what, sent, how))
        check(sent <= 2000, "rapid reset, %s: GOAWAY only after %d resets"
              " (--h2-reset-rate 100, burst 200)" % (what, sent))
    _after(w, a, d, rss, "rapid reset floods")


def test_continuation_flood(t):
    w, a, d, wpid, _ = _setup(t)
    rss = RssPeak(wpid, t)
    hp = Hpack()
    # eight CONTINUATION frames are within nghttp2's limit
    c = w.h2()
    c.wait_settings()
    parts = [h2raw.frame(h2raw.HEADERS, h2raw.END_STREAM, 1,
                         hp.encode(REQ))]
    for i in range(8):
        parts.append(h2raw.frame(h2raw.CONTINUATION, h2raw.END_HEADERS
                                 if i == 7 else 0, 1,
                                 Hpack.literal("x-c%d" % i, "v")))
    c.send(b"".join(parts))
    expect_ok(c.response(1), a, "HEADERS and 8 CONTINUATION frames")
    c.close()
    n0 = a.count()
    # filled CONTINUATION frames, small fields, no END_HEADERS
    c = w.h2()
    c.wait_settings()
    head = h2raw.frame(h2raw.HEADERS, h2raw.END_STREAM, 1, hp.encode(REQ))
    c.send(head)
    cont = b"".join(h2raw.frame(h2raw.CONTINUATION, 0, 1, Hpack.literal(
        "x-c%04d" % i, "v")) for i in range(100))
    n, stop = _flood(c, cont, 100, read=True)
    how = _ending(c, 5)
    check(how.startswith("goaway") or how == "closed", "CONTINUATION "
          "flood (%d frames, %s): connection %s, expected GOAWAY or "
          "closed" % (n * 100, stop, how))
    check(c.streams.get(1) is None or c.streams[1].status is None,
          "the endless header block got a response: %r" % c.streams.get(1))
    # empty CONTINUATION frames
    c = w.h2()
    c.wait_settings()
    c.send(head)
    empty = h2raw.frame(h2raw.CONTINUATION, 0, 1) * 1000
    n, stop = _flood(c, empty, 100, read=True)
    how2 = _ending(c, 5)
    check(how2.startswith("goaway") or how2 == "closed", "empty "
          "CONTINUATION flood (%d frames, %s): connection %s" % (
              n * 1000, stop, how2))
    check(a.count() == n0, "an unfinished header block reached the "
          "backend")
    t.note("CONTINUATION floods: %s, %s" % (how, how2))
    _after(w, a, d, rss, "CONTINUATION floods")


def test_hpack_bomb(t):
    w, a, d, wpid, _ = _setup(t)
    rss = RssPeak(wpid, t)
    n0 = a.count()
    c = w.h2()
    c.wait_settings()
    # one 4000-byte field into the dynamic table, then referenced 12000
    # times: 48 MB of header list from a 16 KB block
    first = c.hpack.encode(REQ) + Hpack.literal_indexed("x-bomb",
                                                        "a" * 4000)
    refs = Hpack.indexed(62) * 12000
    c.send(h2raw.headers_frames(c.new_sid(), first + refs))
    results = []
    for i in range(40):
        if c.eof or c.goaways:
            break
        # the entry is the newest in the table: index 62
        sid = c.new_sid()
        try:
            c.send(h2raw.headers_frames(sid, c.hpack.encode(REQ) + refs))
        except (OSError, ssl.SSLError):
            break
        c.read_some(0)
    c.wait(lambda: all(st.closed for st in c.streams.values()), 10)
    for st in c.streams.values():
        results.append(st.status if st.status is not None else
                       "reset %s" % st.reset if st.reset is not None
                       else "none")
    how = "open" if not c.eof and not c.goaways else _ending(c, 1)
    t.note("HPACK bomb: streams %s; connection %s" % (
        sorted(set(map(str, results))), how))
    check(200 not in results, "an HPACK bomb was answered 200")
    check(all(r in (431, "none") or str(r).startswith("reset")
              for r in results), "HPACK bomb streams ended %r, expected "
          "431 or a reset" % sorted(set(map(str, results))))
    check(how == "open" and 431 in results or how != "open",
          "HPACK bomb: the connection lives on, yet no stream got 431")
    check(a.count() == n0, "an HPACK bomb reached the backend")
    _after(w, a, d, rss, "an HPACK bomb")


def _control_flood(t, what, chunk, per_chunk):
    """A client that sends what needs answers and never reads: portero
    either ends the connection for the flood, or stops reading and
    lets its timeouts end it (--idle-timeout 1, --send-timeout 1 here);
    it must not stay open."""
    w, a, d, wpid, _ = _setup(t, extra=["--idle-timeout", "1",
                                        "--send-timeout", "1"])
    rss = RssPeak(wpid, t)
    # a small receive buffer: our unread answers fill up sooner
    c = w.h2(rcvbuf=4096)
    c.wait_settings()
    t0 = time.monotonic()
    n, stop = _flood(c, chunk, 2000000 // per_chunk, send_timeout=1.0)
    # still not reading, for longer than both timeouts
    time.sleep(max(0, 4 - (time.monotonic() - t0)) if stop == "blocked"
               else 0)
    how = _ending(c, 3)
    t.note("%s: %d frames in %.1f s, %s; connection %s%s" % (
        what, n * per_chunk, time.monotonic() - t0, stop, how,
        ", EOF" if c.eof else ""))
    check(c.eof and how in ("goaway 0xb", "goaway 0x0", "closed"),
          "%s (%d frames, %s): the connection %s%s, expected GOAWAY "
          "ENHANCE_YOUR_CALM or closed" % (what, n * per_chunk, stop, how,
                                           "" if c.eof else ", still open"))
    _after(w, a, d, rss, what)


def test_ping_flood(t):
    _control_flood(t, "a PING flood", h2raw.ping_frame(b"floodpng") * 1000,
                   1000)


def test_settings_flood(t):
    _control_flood(t, "a SETTINGS flood", h2raw.settings_frame(
        [(h2raw.MAX_CONCURRENT_STREAMS, 100)]) * 1000, 1000)


def test_empty_data_flood(t):
    w, a, d, wpid, _ = _setup(t)
    rss = RssPeak(wpid, t)
    c = w.h2()
    c.wait_settings()
    sid = c.request("POST", path="/empty", end_stream=False)
    n, stop = _flood(c, h2raw.data_frame(sid, b"") * 1000, 1000, read=True)
    how = _ending(c, 5)
    t.note("empty DATA flood: %d frames, %s; connection %s" % (
        n * 1000, stop, how))
    check(how.startswith("goaway") or how == "closed", "empty DATA flood "
          "(%d frames, %s): the connection %s, expected it ended" % (
              n * 1000, stop, how))
    _after(w, a, d, rss, "an empty DATA flood")


def test_priority_flood(t):
    """nghttp2 1.52 takes PRIORITY frames for idle streams into a tree
    of bounded size; the connection lives on, and serves."""
    w, a, d, wpid, _ = _setup(t)
    rss = RssPeak(wpid, t)
    c = w.h2()
    c.wait_settings()
    frames = b"".join(h2raw.priority_frame(2 * i + 1, 2 * i - 1 if i % 3
                                           else 0, weight=1 + i % 256)
                      for i in range(10000))
    t0 = time.monotonic()
    n, stop = _flood(c, frames, 10, read=True)
    c.read_some(0.2)
    if not c.eof and not c.goaways:
        c.next_sid = 2 * 10000 * 10 + 1
        st = c.get("/after-priority")
        how = "served %s" % st.status
        expect_ok(st, a, "a request after 100000 PRIORITY frames")
    else:
        how = _ending(c, 5)
    t.note("PRIORITY flood: %d frames in %.1f s, %s; %s" % (
        n * 10000, time.monotonic() - t0, stop, how))
    _after(w, a, d, rss, "a PRIORITY flood")


def test_zero_window_stall(t):
    w, a, d, wpid, _ = _setup(t, extra=["--upstream-timeout", "2"])
    rss = RssPeak(wpid, t)
    c = w.h2(settings={h2raw.INITIAL_WINDOW_SIZE: 0})
    c.wait_settings()
    t0 = time.monotonic()
    sid = c.request("GET", path="/bytes/1000000")
    st = c.stream(sid)
    c.wait(lambda: st.reset is not None or st.ended, 10)
    took = time.monotonic() - t0
    check(st.reset is not None, "a stream whose window never opened: %r "
          "after %.1f s, expected RST_STREAM" % (st, took))
    check(1.5 <= took <= 6, "RST_STREAM after %.1f s, expected about 2 s "
          "(--upstream-timeout 2)" % took)
    check(st.received == 0, "%d bytes through a zero window"
          % st.received)
    check(not c.goaways and not c.eof, "the connection ended: %r %s"
          % (c.goaways, c.eof_error))
    # open the windows: the same connection serves again
    c.send(h2raw.settings_frame([(h2raw.INITIAL_WINDOW_SIZE, 65535)]))
    expect_ok(c.get("/after-stall"), a, "after the stall, same connection")
    t.note("zero window: RST_STREAM code %s after %.1f s" % (st.reset,
                                                            took))
    _after(w, a, d, rss, "a zero-window stall")


def test_field_over_64k(t):
    w, a, d, wpid, _ = _setup(t)
    rss = RssPeak(wpid, t)
    n0 = a.count()
    c = w.h2()
    c.wait_settings()
    try:
        c.send(h2raw.headers_frames(c.new_sid(), c.hpack.encode(
            REQ + [("x-huge", "h" * 70000)])))
    except (OSError, ssl.SSLError):
        pass                # closed before the block was all sent
    how = _ending(c, 5)
    check(how == "goaway 0x9", "one 70000-byte field: the connection %s, "
          "expected GOAWAY COMPRESSION_ERROR" % how)
    check(a.count() == n0, "the huge field reached the backend")
    _after(w, a, d, rss, "a field over 64 KiB")
