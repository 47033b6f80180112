"""
h2raw.py: a small HTTP/2 client written frame by frame (RFC 9113), with
an HPACK encoder and decoder of its own (RFC 7541), for the tests that
need exact frames or that misbehave on purpose: floods, resets, windows
that never open, extended CONNECT (RFC 8441).  Standard library only.

The encoder writes literals without indexing and no Huffman, unless told
otherwise (Hpack.literal_indexed(), Hpack.indexed() build the pieces of a
hand-made block).  The decoder knows the static and dynamic tables and
the Huffman code, which is what nghttp2 uses when it encodes.

H2 drives one connection from a single thread: it sends frames, reads
frames into per-stream state (Stream) and answers SETTINGS and PING as a
client should, unless told not to.
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

import socket
import ssl
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, \
    GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
FRAME_NAMES = ("DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
               "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE",
               "CONTINUATION")

# flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# settings
HEADER_TABLE_SIZE = 0x1
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5
MAX_HEADER_LIST_SIZE = 0x6
ENABLE_CONNECT_PROTOCOL = 0x8

# error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xa
ENHANCE_YOUR_CALM = 0xb

FRAME_HEAD = struct.Struct("!HBBBI")    # length 24 bits as H + B


def _connect(port, timeout, rcvbuf=None):
    """A TCP connection to 127.0.0.1:port, with a small receive buffer
    when asked (so that a client that does not read is felt soon)."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(timeout)
    try:
        raw.connect(("127.0.0.1", port))
    except BaseException:
        raw.close()
        raise
    return raw


class H2Error(Exception):
    pass


# ---------------------------------------------------------------------
# HPACK (RFC 7541)

STATIC_TABLE = (
    (b":authority", b""), (b":method", b"GET"), (b":method", b"POST"),
    (b":path", b"/"), (b":path", b"/index.html"), (b":scheme", b"http"),
    (b":scheme", b"https"), (b":status", b"200"), (b":status", b"204"),
    (b":status", b"206"), (b":status", b"304"), (b":status", b"400"),
    (b":status", b"404"), (b":status", b"500"), (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"), (b"accept-language", b""),
    (b"accept-ranges", b""), (b"accept", b""),
    (b"access-control-allow-origin", b""), (b"age", b""), (b"allow", b""),
    (b"authorization", b""), (b"cache-control", b""),
    (b"content-disposition", b""), (b"content-encoding", b""),
    (b"content-language", b""), (b"content-length", b""),
    (b"content-location", b""), (b"content-range", b""),
    (b"content-type", b""), (b"cookie", b""), (b"date", b""),
    (b"etag", b""), (b"expect", b""), (b"expires", b""), (b"from", b""),
    (b"host", b""), (b"if-match", b""), (b"if-modified-since", b""),
    (b"if-none-match", b""), (b"if-range", b""),
    (b"if-unmodified-since", b""), (b"last-modified", b""),
    (b"link", b""), (b"location", b""), (b"max-forwards", b""),
    (b"proxy-authenticate", b""), (b"proxy-authorization", b""),
    (b"range", b""), (b"referer", b""), (b"refresh", b""),
    (b"retry-after", b""), (b"server", b""), (b"set-cookie", b""),
    (b"strict-transport-security", b""), (b"transfer-encoding", b""),
    (b"user-agent", b""), (b"vary", b""), (b"via", b""),
    (b"www-authenticate", b""))

# The Huffman code of RFC 7541 Appendix B is canonical: codes of one
# length are consecutive in symbol order, each length continuing where
# the shorter one ended.  So the length of each symbol's code (0..255,
# then EOS) is the whole table; _huffman_codes() rebuilds the codes and
# checks them against a few printed in the RFC.
HUFFMAN_LENGTHS = (
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,  # 0
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,  # 16
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,          # 32
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,               # 48
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                 # 64
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,              # 80
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                 # 96
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,             # 112
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,  # 128
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,  # 144
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,  # 160
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,  # 176
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,  # 192
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,  # 208
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,  # 224
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,  # 240
    30)                                                              # EOS

# (symbol, code, length) as printed in RFC 7541 Appendix B
_HUFFMAN_SAMPLES = ((0, 0x1ff8, 13), (1, 0x7fffd8, 23), (9, 0xffffea, 24),
                    (10, 0x3ffffffc, 30), (32, 0x14, 6), (48, 0x0, 5),
                    (58, 0x5c, 7), (60, 0x7ffc, 15), (92, 0x7fff0, 19),
                    (116, 0x9, 5), (127, 0xffffffc, 28),
                    (128, 0xfffe6, 20), (153, 0x1fffdc, 21),
                    (192, 0x3ffffe0, 26), (195, 0x7fff1, 19),
                    (199, 0x1ffffec, 25), (203, 0x7ffffde, 27),
                    (255, 0x3ffffee, 26), (256, 0x3fffffff, 30))


def _huffman_codes():
    order = sorted(range(257), key=lambda s: (HUFFMAN_LENGTHS[s], s))
    codes = [0] * 257
    code, prev = 0, HUFFMAN_LENGTHS[order[0]]
    for i, sym in enumerate(order):
        n = HUFFMAN_LENGTHS[sym]
        if i:
            code = (code + 1) << (n - prev)
        codes[sym] = code
        prev = n
    # a complete prefix code: the last code is all ones
    if codes[order[-1]] != (1 << HUFFMAN_LENGTHS[order[-1]]) - 1:
        raise AssertionError("HPACK Huffman lengths do not form a "
                             "complete code")
    for sym, c, n in _HUFFMAN_SAMPLES:
        if codes[sym] != c or HUFFMAN_LENGTHS[sym] != n:
            raise AssertionError("HPACK Huffman code of %d: %x/%d, RFC "
                                 "says %x/%d" % (sym, codes[sym],
                                                 HUFFMAN_LENGTHS[sym], c, n))
    return codes


HUFFMAN_CODES = _huffman_codes()
_HUFFMAN_DECODE = {(HUFFMAN_LENGTHS[s], HUFFMAN_CODES[s]): s
                   for s in range(257)}


def huffman_decode(data):
    out = bytearray()
    code, n = 0, 0
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            n += 1
            sym = _HUFFMAN_DECODE.get((n, code))
            if sym is not None:
                if sym == 256:
                    raise H2Error("EOS in a Huffman string")
                out.append(sym)
                code, n = 0, 0
            elif n > 30:
                raise H2Error("bad Huffman code")
    # padding: fewer than 8 bits, all ones (the start of EOS)
    if n > 7 or code != (1 << n) - 1:
        raise H2Error("bad Huffman padding")
    return bytes(out)


def huffman_encode(data):
    acc, n = 0, 0
    for b in data:
        acc = (acc << HUFFMAN_LENGTHS[b]) | HUFFMAN_CODES[b]
        n += HUFFMAN_LENGTHS[b]
    pad = (8 - n % 8) % 8
    acc = (acc << pad) | ((1 << pad) - 1)
    return (acc.to_bytes((n + pad) // 8, "big")) if n + pad else b""


def encode_int(value, prefix, first=0):
    """An HPACK integer with an N-bit prefix; first holds the bits above
    the prefix."""
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_int(data, pos, prefix):
    """(value, next position)."""
    if pos >= len(data):
        raise H2Error("HPACK: integer past the end of the block")
    limit = (1 << prefix) - 1
    value = data[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(data):
            raise H2Error("HPACK: integer past the end of the block")
        b = data[pos]
        pos += 1
        value += (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
        if shift > 56:
            raise H2Error("HPACK: integer too long")


def encode_str(s, huffman=False):
    if isinstance(s, str):
        s = s.encode("latin-1")
    if huffman:
        h = huffman_encode(s)
        return encode_int(len(h), 7, 0x80) + h
    return encode_int(len(s), 7) + s


def decode_str(data, pos):
    huff = data[pos] & 0x80 if pos < len(data) else 0
    n, pos = decode_int(data, pos, 7)
    if pos + n > len(data):
        raise H2Error("HPACK: string past the end of the block")
    s = bytes(data[pos:pos + n])
    return (huffman_decode(s) if huff else s), pos + n


def _b(s):
    return s.encode("latin-1") if isinstance(s, str) else s


class Hpack:
    """Encoding: literal fields without indexing, unless built by hand
    from the static methods.  Decoding: a full decoder with its dynamic
    table."""

    def __init__(self, table_size=4096):
        self.table = []                 # newest first
        self.size = 0
        self.max_size = table_size

    # --- encoding

    @staticmethod
    def literal(name, value, huffman=False):
        """Literal without indexing, new name."""
        return b"\x00" + encode_str(_b(name), huffman) + \
            encode_str(_b(value), huffman)

    @staticmethod
    def literal_indexed(name, value):
        """Literal with incremental indexing, new name: goes into the
        peer's dynamic table."""
        return b"\x40" + encode_str(_b(name)) + encode_str(_b(value))

    @staticmethod
    def indexed(index):
        return encode_int(index, 7, 0x80)

    @staticmethod
    def table_size_update(n):
        return encode_int(n, 5, 0x20)

    def encode(self, fields, huffman=False):
        return b"".join(self.literal(k, v, huffman) for k, v in fields)

    # --- decoding

    def _get(self, index):
        if index == 0:
            raise H2Error("HPACK: index 0")
        if index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        i = index - len(STATIC_TABLE) - 1
        if i >= len(self.table):
            raise H2Error("HPACK: index %d past the dynamic table (%d "
                          "entries)" % (index, len(self.table)))
        return self.table[i]

    def _add(self, name, value):
        size = len(name) + len(value) + 32
        self.table.insert(0, (name, value))
        self.size += size
        self._evict()

    def _evict(self):
        while self.size > self.max_size and self.table:
            n, v = self.table.pop()
            self.size -= len(n) + len(v) + 32

    def decode(self, data):
        """[(name, value)] as bytes."""
        out = []
        pos = 0
        while pos < len(data):
            b = data[pos]
            if b & 0x80:
                idx, pos = decode_int(data, pos, 7)
                out.append(self._get(idx))
            elif b & 0x40 or not b & 0x20:
                incr = bool(b & 0x40)
                idx, pos = decode_int(data, pos, 6 if incr else 4)
                if idx:
                    name = self._get(idx)[0]
                else:
                    name, pos = decode_str(data, pos)
                value, pos = decode_str(data, pos)
                out.append((name, value))
                if incr:
                    self._add(name, value)
            else:
                n, pos = decode_int(data, pos, 5)
                self.max_size = n
                self._evict()
        return out


def header_list_size(fields):
    """RFC 9113 6.5.2 accounting: name + value + 32 a field."""
    return sum(len(_b(k)) + len(_b(v)) + 32 for k, v in fields)


# ---------------------------------------------------------------------
# frames

class Frame:
    __slots__ = ("type", "flags", "sid", "payload")

    def __init__(self, type_, flags, sid, payload):
        self.type = type_
        self.flags = flags
        self.sid = sid
        self.payload = payload

    def name(self):
        return FRAME_NAMES[self.type] if self.type < len(FRAME_NAMES) \
            else "type%d" % self.type

    def __repr__(self):
        return "<%s flags=%#x sid=%d len=%d>" % (
            self.name(), self.flags, self.sid, len(self.payload))


def frame(type_, flags, sid, payload=b""):
    n = len(payload)
    return FRAME_HEAD.pack(n >> 8, n & 0xff, type_, flags,
                           sid & 0x7fffffff) + payload


def settings_frame(settings=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(
        struct.pack("!HI", k, v) for k, v in settings))


def ping_frame(data=b"\0" * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def window_update_frame(sid, n):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack("!I", n))


def rst_frame(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack("!I", code))


def priority_frame(sid, dep, weight=16, exclusive=False):
    return frame(PRIORITY, 0, sid, struct.pack(
        "!IB", dep | (0x80000000 if exclusive else 0), weight - 1))


def goaway_frame(last_sid, code=NO_ERROR, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack("!II", last_sid, code) + debug)


def data_frame(sid, data, end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, sid, data)


def headers_frames(sid, block, end_stream=True, max_frame=16384):
    """HEADERS and as many CONTINUATION frames as block needs."""
    first, rest = block[:max_frame], block[max_frame:]
    flags = (END_STREAM if end_stream else 0) | (0 if rest else END_HEADERS)
    out = [frame(HEADERS, flags, sid, first)]
    while rest:
        part, rest = rest[:max_frame], rest[max_frame:]
        out.append(frame(CONTINUATION, 0 if rest else END_HEADERS, sid,
                         part))
    return b"".join(out)


def parse_settings(payload):
    out = {}
    for i in range(0, len(payload) - len(payload) % 6, 6):
        k, v = struct.unpack("!HI", payload[i:i + 6])
        out[k] = v
    return out


def parse_goaway(payload):
    """(last stream id, error code, debug data)."""
    last, code = struct.unpack("!II", payload[:8])
    return last & 0x7fffffff, code, payload[8:]


# ---------------------------------------------------------------------
# the connection

class BioSocket:
    """A TLS connection driven through memory BIOs: what the TLS engine
    writes leaves only on flush(), so a test chooses what shares a
    write.  Enough of a socket for H2."""

    def __init__(self, sock, ctx, sni):
        self.sock = sock
        self.bio_in, self.bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.bio_in, self.bio_out,
                                server_hostname=sni)

    def handshake(self):
        """Until done; the client's last flight stays unsent."""
        while True:
            try:
                self.obj.do_handshake()
                return
            except ssl.SSLWantReadError:
                self.flush()
                b = self.sock.recv(65536)
                if not b:
                    raise H2Error("EOF during the TLS handshake")
                self._feed(b)

    def _feed(self, b):
        self.bio_in.write(b)

    def flush(self):
        b = self.bio_out.read()
        if b:
            self.sock.sendall(b)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def sendall(self, data):
        self.obj.write(data)
        self.flush()

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self.flush()
                b = self.sock.recv(65536)
                if not b:
                    return b""
                self._feed(b)
            except ssl.SSLZeroReturnError:
                return b""

    def close(self):
        self.sock.close()


class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.headers = None         # [(name, value)] str, of the final head
        self.informational = []     # heads of 1xx
        self.trailers = None
        self.data = bytearray()
        self.received = 0           # DATA bytes, also those not kept
        self.ended = False          # END_STREAM seen
        self.reset = None           # RST_STREAM code
        self.send_window = 0
        self.frames = []            # (type, flags, len) in order

    @property
    def status(self):
        if self.headers is None:
            return None
        for k, v in self.headers:
            if k == ":status":
                return int(v)
        return None

    def header(self, name):
        for k, v in self.headers or ():
            if k == name:
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers or () if k == name]

    @property
    def closed(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return "<stream %d status=%s data=%d ended=%s reset=%s>" % (
            self.sid, self.status, self.received, self.ended, self.reset)


class H2:
    """One client connection.  settings: what the preface's SETTINGS
    say.  auto_window: give back the window for DATA as it comes (the
    connection's and the stream's); keep_data: keep DATA payloads in
    Stream.data (or only count them, and hand them to on_data)."""

    def __init__(self, sock, settings=None, auto_window=True,
                 keep_data=True, preface=True, conn_window=None):
        self.sock = sock
        self.buf = bytearray()
        self.hpack_dec = Hpack()
        self.hpack = Hpack()
        self.streams = {}
        self.next_sid = 1
        self.peer_settings = {}
        self.peer_settings_seen = False
        self.settings_acked = 0
        self.goaways = []           # (last sid, code, debug)
        self.pings = []             # payloads of PING ACKs
        self.eof = False
        self.eof_error = None
        self.auto_window = auto_window
        self.keep_data = keep_data
        self.on_data = None
        self.log = []               # every frame read, (type, flags, sid)
        self.log_limit = 10000
        self.max_frame = 16384
        self.send_window = 65535    # the connection's, for our DATA
        self.initial_window = 65535  # the peer's initial stream window
        self.frames_read = 0
        self.send_timeout = 30.0
        self._pending_block = None  # (sid, flags, bytes) without END_HEADERS
        if preface:
            s = dict(settings or {})
            s.setdefault(ENABLE_PUSH, 0)
            out = PREFACE + settings_frame(sorted(s.items()))
            if conn_window:
                out += window_update_frame(0, conn_window)
            self.send(out)

    # --- opening

    @classmethod
    def tls(cls, port, sni, ca_file=None, alpn=("h2",), timeout=10.0,
            rcvbuf=None, **kw):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if ca_file:
            ctx.load_verify_locations(ca_file)
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.verify_mode = ssl.CERT_NONE
        ctx.check_hostname = False
        ctx.set_alpn_protocols(list(alpn))
        raw = _connect(port, timeout, rcvbuf)
        try:
            s = ctx.wrap_socket(raw, server_hostname=sni)
        except BaseException:
            raw.close()
            raise
        if s.selected_alpn_protocol() != "h2":
            proto = s.selected_alpn_protocol()
            s.close()
            raise H2Error("ALPN chose %r, not h2" % proto)
        return cls(s, **kw)

    @classmethod
    def tls_one_flight(cls, port, sni, ca_file, fields, timeout=10.0):
        """TLS 1.3 through memory BIOs, so that the client's Finished and
        its first HTTP/2 bytes (preface, SETTINGS, a request of fields
        on stream 1) go out in one write, as the last bytes it sends.
        Returns the connection, stream 1 in flight."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca_file)
        ctx.check_hostname = False
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        bs = BioSocket(raw, ctx, sni)
        try:
            bs.handshake()
            if bs.obj.selected_alpn_protocol() != "h2":
                raise H2Error("ALPN chose %r, not h2"
                              % bs.obj.selected_alpn_protocol())
            c = cls(bs, preface=False)
            c.stream(1)
            c.next_sid = 3
            bs.obj.write(PREFACE + settings_frame([(ENABLE_PUSH, 0)]) +
                         headers_frames(1, c.hpack.encode(fields)))
            bs.flush()
        except BaseException:
            raw.close()
            raise
        return c

    @classmethod
    def plain(cls, port, timeout=10.0, rcvbuf=None, **kw):
        return cls(_connect(port, timeout, rcvbuf), **kw)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # --- sending

    def send(self, data):
        self.sock.settimeout(self.send_timeout)
        self.sock.sendall(data)

    def new_sid(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def stream(self, sid):
        st = self.streams.get(sid)
        if st is None:
            st = self.streams[sid] = Stream(sid)
            st.send_window = self.initial_window
        return st

    def request(self, method="GET", authority="a.test", path="/",
                scheme="https", headers=(), body=None, end_stream=None,
                sid=None, extra_pseudo=()):
        """Send a request head (and body, if given, in one go: only what
        fits the windows); returns the stream id."""
        sid = sid or self.new_sid()
        fields = [(":method", method), (":scheme", scheme),
                  (":authority", authority), (":path", path)]
        fields += list(extra_pseudo) + list(headers)
        if authority is None:
            fields = [f for f in fields if f[0] != ":authority"]
        if end_stream is None:
            end_stream = body is None
        self.send_headers(sid, fields, end_stream=end_stream)
        if body is not None:
            self.send_data(sid, body, end_stream=True)
        return sid

    def send_headers(self, sid, fields, end_stream=True):
        self.stream(sid)
        self.send(headers_frames(sid, self.hpack.encode(fields),
                                 end_stream, self.max_frame))

    def send_data(self, sid, data, end_stream=False, timeout=30.0):
        """DATA frames for data within the windows, reading frames while
        a window is shut; fails if it stays shut for timeout."""
        st = self.stream(sid)
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while True:
            n = min(len(view), self.send_window, st.send_window,
                    self.max_frame)
            if n > 0 or (len(view) == 0):
                last = n == len(view)
                self.send(data_frame(sid, bytes(view[:n]),
                                     end_stream and last))
                self.send_window -= n
                st.send_window -= n
                view = view[n:]
                if last:
                    return
                deadline = time.monotonic() + timeout
                continue
            if st.closed:
                raise H2Error("stream %d closed while sending (%r)"
                              % (sid, st))
            if self.read_some(min(1.0, deadline - time.monotonic())) is \
                    None and self.eof:
                raise H2Error("connection closed while sending: %s"
                              % self.eof_error)
            if time.monotonic() > deadline:
                raise H2Error("window shut for %.0f s (connection %d, "
                              "stream %d)" % (timeout, self.send_window,
                                              st.send_window))

    def send_for(self, sid, seconds, chunk=b"\0" * 16384):
        """DATA on sid for seconds, as fast as the windows let, reading
        what comes meanwhile; returns the bytes sent."""
        st = self.stream(sid)
        sent = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not st.closed and \
                not self.eof:
            n = min(len(chunk), self.send_window, st.send_window,
                    self.max_frame)
            if n > 0:
                self.send(data_frame(sid, chunk[:n]))
                self.send_window -= n
                st.send_window -= n
                sent += n
                self.read_some(0)
            else:
                self.read_some(min(0.05, deadline - time.monotonic()))
        return sent

    def pump(self, sid, data, done, timeout=60.0, end_stream=False):
        """Send data on sid as the windows let while reading, until all
        of it is sent and done() is true."""
        st = self.stream(sid)
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while True:
            if not view and done():
                return
            if time.monotonic() > deadline:
                raise H2Error("pump: %d bytes unsent, not done after %.0f "
                              "s (%r)" % (len(view), timeout, st))
            if self.eof:
                raise H2Error("pump: connection closed (%s), %d bytes "
                              "unsent" % (self.eof_error, len(view)))
            n = min(len(view), self.send_window, st.send_window,
                    self.max_frame)
            if n > 0 and not st.closed:
                last = n == len(view)
                self.send(data_frame(sid, bytes(view[:n]),
                                     end_stream and last))
                self.send_window -= n
                st.send_window -= n
                view = view[n:]
                self.read_some(0)
            else:
                self.read_some(0.05)

    def send_trailers(self, sid, fields):
        self.send(headers_frames(sid, self.hpack.encode(fields), True,
                                 self.max_frame))

    def reset(self, sid, code=CANCEL):
        self.send(rst_frame(sid, code))

    def ping(self, data=b"h2rawpng"):
        self.send(ping_frame(data))

    def window_update(self, sid, n):
        self.send(window_update_frame(sid, n))

    # --- reading

    def _fill(self, timeout):
        """Read what the socket has; False on timeout."""
        self.sock.settimeout(timeout)
        try:
            b = self.sock.recv(1 << 18)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError,
                OSError) as e:
            if isinstance(e, socket.timeout):
                return False
            self.eof = True
            self.eof_error = "%s: %s" % (type(e).__name__, e)
            return True
        if not b:
            self.eof = True
            self.eof_error = "EOF"
            return True
        self.buf += b
        return True

    def _next_buffered(self):
        if len(self.buf) < 9:
            return None
        hi, lo, typ, flags, sid = FRAME_HEAD.unpack_from(self.buf)
        n = (hi << 8) | lo
        if len(self.buf) < 9 + n:
            return None
        payload = bytes(self.buf[9:9 + n])
        del self.buf[:9 + n]
        return Frame(typ, flags, sid & 0x7fffffff, payload)

    def read_frame(self, timeout=5.0):
        """The next frame, handled; None on EOF or timeout (self.eof
        tells which)."""
        deadline = time.monotonic() + timeout
        tried = False
        while True:
            f = self._next_buffered()
            if f is not None:
                self._handle(f)
                return f
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0 and tried:
                return None
            self._fill(max(left, 0.0005))
            tried = True

    def read_some(self, timeout):
        """Handle every frame that comes within timeout, returning after
        the first batch; None if none came."""
        got = None
        f = self.read_frame(timeout)
        while f is not None:
            got = f
            f = self._next_buffered()
            if f is not None:
                self._handle(f)
        return got

    def _handle(self, f):
        self.frames_read += 1
        if len(self.log) < self.log_limit:
            self.log.append((f.type, f.flags, f.sid))
        if f.type == SETTINGS:
            if f.flags & ACK:
                self.settings_acked += 1
                return
            new = parse_settings(f.payload)
            if INITIAL_WINDOW_SIZE in new:
                delta = new[INITIAL_WINDOW_SIZE] - self.initial_window
                self.initial_window = new[INITIAL_WINDOW_SIZE]
                for st in self.streams.values():
                    st.send_window += delta
            self.peer_settings.update(new)
            self.peer_settings_seen = True
            self.send(settings_frame(ack=True))
        elif f.type == PING:
            if f.flags & ACK:
                self.pings.append(f.payload)
            else:
                self.send(ping_frame(f.payload, ack=True))
        elif f.type == GOAWAY:
            self.goaways.append(parse_goaway(f.payload))
        elif f.type == WINDOW_UPDATE:
            n = struct.unpack("!I", f.payload[:4])[0] & 0x7fffffff
            if f.sid == 0:
                self.send_window += n
            else:
                self.stream(f.sid).send_window += n
        elif f.type == RST_STREAM:
            st = self.stream(f.sid)
            st.reset = struct.unpack("!I", f.payload[:4])[0]
            st.frames.append((f.type, f.flags, len(f.payload)))
        elif f.type in (HEADERS, CONTINUATION):
            self._headers(f)
        elif f.type == DATA:
            st = self.stream(f.sid)
            st.frames.append((f.type, f.flags, len(f.payload)))
            data = f.payload
            if f.flags & PADDED:
                data = data[1:len(data) - data[0]]
            st.received += len(data)
            if self.keep_data:
                st.data += data
            if self.on_data is not None:
                self.on_data(st, data)
            if f.flags & END_STREAM:
                st.ended = True
            if self.auto_window and f.payload:
                n = len(f.payload)
                upd = window_update_frame(0, n)
                if not st.ended:
                    upd += window_update_frame(f.sid, n)
                self.send(upd)

    def _headers(self, f):
        if f.type == HEADERS:
            block = f.payload
            if f.flags & PADDED:
                block = block[1:len(block) - block[0]]
            if f.flags & PRIORITY_FLAG:
                block = block[5:]
            self._pending_block = (f.sid, f.flags, bytearray(block))
        else:
            if self._pending_block is None or \
                    self._pending_block[0] != f.sid:
                raise H2Error("CONTINUATION without HEADERS")
            self._pending_block[2].extend(f.payload)
        st = self.stream(f.sid)
        st.frames.append((f.type, f.flags, len(f.payload)))
        if not f.flags & END_HEADERS:
            return
        sid, flags, block = self._pending_block
        self._pending_block = None
        fields = [(k.decode("latin-1"), v.decode("latin-1"))
                  for k, v in self.hpack_dec.decode(bytes(block))]
        status = None
        for k, v in fields:
            if k == ":status":
                status = int(v)
        if st.headers is None and status is not None and status < 200:
            st.informational.append(fields)
        elif st.headers is None:
            st.headers = fields
        else:
            st.trailers = fields
        if flags & END_STREAM:
            st.ended = True

    # --- waiting

    def wait(self, pred, timeout=10.0):
        """Read frames until pred() is true; returns pred()'s value, or
        None on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return pred() or None
            self.read_frame(left)

    def response(self, sid, timeout=10.0):
        """Read until stream sid ends or is reset; the Stream, or an
        H2Error saying what happened instead."""
        st = self.stream(sid)
        if self.wait(lambda: st.closed, timeout) is None:
            raise H2Error("stream %d not finished within %.0f s (%r; "
                          "connection %s, GOAWAY %r)" % (
                              sid, timeout, st, self.eof_error or "open",
                              self.goaways))
        return st

    def wait_settings(self, timeout=5.0):
        if self.wait(lambda: self.peer_settings_seen, timeout) is None:
            raise H2Error("no SETTINGS from the server within %.0f s (%s)"
                          % (timeout, self.eof_error or "still open"))
        return self.peer_settings

    def drain(self, timeout):
        """Read whatever comes for timeout seconds, or until EOF."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self.read_frame(deadline - time.monotonic())
        return self.eof

    def get(self, path="/", authority="a.test", headers=(), timeout=10.0,
            **kw):
        return self.response(self.request("GET", authority, path,
                                          headers=headers, **kw), timeout)
