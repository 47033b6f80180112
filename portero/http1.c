/*
 * http1.c: the strict HTTP/1.1 parser (RFC 9110, RFC 9112): request and
 * response heads, chunked bodies; no allocation, results are offsets.
 */

/*
 * Copyright (c) 2026 The portero authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHORS DISCLAIM ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http1.h"

/*
 * Character classes, one table lookup per byte:
 * TCHAR	token characters (RFC 9110 5.6.2)
 * FVAL		field-vchar, SP and HTAB: what a field value may hold
 * TARGET	request-target bytes: VCHAR without '#'; the URI grammar is
 *		not enforced beyond the form, as browsers send "{|}" unencoded
 * HEX, DIGIT, WS (SP, HTAB)
 * HOST		unreserved and sub-delims (RFC 3986 reg-name without '%')
 * QDTEXT	qdtext of a quoted-string
 */
#define CC_TCHAR	0x01
#define CC_FVAL		0x02
#define CC_TARGET	0x04
#define CC_HEX		0x08
#define CC_DIGIT	0x10
#define CC_WS		0x20
#define CC_HOST		0x40
#define CC_QDTEXT	0x80

static const uint8_t http1_cc[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 00 */
	0x00, 0xa2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 08 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 10 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 18 */
	0xa2, 0xc7, 0x06, 0x83, 0xc7, 0x87, 0xc7, 0xc7,	/* 20  !"#$%&' */
	0xc6, 0xc6, 0xc7, 0xc7, 0xc6, 0xc7, 0xc7, 0x86,	/* 28 () +,-. */
	0xdf, 0xdf, 0xdf, 0xdf, 0xdf, 0xdf, 0xdf, 0xdf,	/* 30 01234567 */
	0xdf, 0xdf, 0x86, 0xc6, 0x86, 0xc6, 0x86, 0x86,	/* 38 89:;<=>? */
	0x86, 0xcf, 0xcf, 0xcf, 0xcf, 0xcf, 0xcf, 0xc7,	/* 40 @ABCDEFG */
	0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7,	/* 48 HIJKLMNO */
	0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7,	/* 50 PQRSTUVW */
	0xc7, 0xc7, 0xc7, 0x86, 0x06, 0x86, 0x87, 0xc7,	/* 58 XYZ[\]^_ */
	0x87, 0xcf, 0xcf, 0xcf, 0xcf, 0xcf, 0xcf, 0xc7,	/* 60 `abcdefg */
	0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7,	/* 68 hijklmno */
	0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7, 0xc7,	/* 70 pqrstuvw */
	0xc7, 0xc7, 0xc7, 0x86, 0x87, 0x86, 0xc7, 0x00,	/* 78 xyz{|}~ */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* 80 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* 88 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* 90 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* 98 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* a0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* a8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* b0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* b8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* c0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* c8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* d0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* d8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* e0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* e8 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* f0 */
	0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82, 0x82,	/* f8 */
};

/* Parser state bits, struct http1_pstate's ps_bits. */
#define PS_STARTED	0x0001	/* the start line is parsed */
#define PS_CL		0x0002
#define PS_TE		0x0004
#define PS_CONN_CLOSE	0x0008
#define PS_CONN_KA	0x0010
#define PS_CONN_UPGRADE	0x0020
#define PS_CONN_OTHER	0x0040	/* Connection names other fields */
#define PS_UPGRADE	0x0080	/* an Upgrade field */
#define PS_EXPECT	0x0100	/* Expect: 100-continue */
#define PS_TE_CHUNKED	0x0200	/* the last coding so far is chunked */
#define PS_TE_EARLY	0x0400	/* chunked, then another coding */
#define PS_TE_MORE	0x0800	/* more than one coding */
#define PS_DATE		0x1000	/* a Date field */
#define PS_TE_CODING	0x2000	/* a transfer coding, not an empty list */

/* Chunked body states, struct http1_chunked's ck_state. */
enum {
	CK_SIZE_START = 0,
	CK_SIZE,
	CK_SIZE_WS,		/* after the size: only ';' may follow */
	CK_EXT_NAME_START,	/* the states from CK_SIZE_WS to */
	CK_EXT_NAME,		/* CK_EXT_QS_END count against */
	CK_EXT_NAME_WS,		/* HTTP1_CHUNK_EXT_MAX */
	CK_EXT_VAL_START,
	CK_EXT_VAL,
	CK_EXT_VAL_WS,
	CK_EXT_QS,
	CK_EXT_QS_ESC,
	CK_EXT_QS_END,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER_START,	/* the trailer states count against */
	CK_TRAILER_NAME,	/* HTTP1_TRAILER_MAX */
	CK_TRAILER_VALUE,
	CK_TRAILER_LF,
	CK_END_LF,
	CK_DONE,
	CK_FAILED
};

static const struct {
	int		 status;
	const char	*reason;
} http1_errors[] = {
	{ 400, "unknown error" },
	{ 400, "malformed request or status line" },
	{ 400, "method is not a token" },
	{ 400, "invalid request-target" },
	{ 400, "malformed HTTP version" },
	{ 505, "HTTP version not supported" },
	{ 414, "request line too long" },
	{ 431, "head too large" },
	{ 431, "too many header fields" },
	{ 400, "CR not followed by LF" },
	{ 400, "LF without CR" },
	{ 400, "control character in head" },
	{ 400, "obsolete line folding" },
	{ 400, "invalid field name" },
	{ 400, "whitespace before colon" },
	{ 400, "both Content-Length and Transfer-Encoding" },
	{ 400, "invalid Content-Length" },
	{ 400, "more than one Content-Length" },
	{ 400, "Transfer-Encoding not ending in chunked" },
	{ 400, "Transfer-Encoding in HTTP/1.0" },
	{ 400, "missing Host" },
	{ 400, "more than one Host" },
	{ 400, "invalid Host" },
	{ 400, "Host differs from request-target" },
	{ 400, "invalid Connection option" },
	{ 501, "CONNECT not implemented" },
	{ 400, "invalid status code" },
	{ 400, "invalid chunk size" },
	{ 400, "invalid chunk extension" },
	{ 400, "chunk data not followed by CRLF" },
	{ 400, "invalid trailer field" },
	{ 400, "trailer section too large" },
	{ 501, "transfer coding not implemented" },
	{ 400, "field name resembles Content-Length or Transfer-Encoding" }
};
_Static_assert(sizeof(http1_errors) / sizeof(http1_errors[0]) ==
    1 - HTTP1_E_LAST, "http1_errors must match enum http1_error");

static int	 http1_badbyte(const unsigned char *, size_t, size_t, int);
static uint8_t	 http1_field_id(const unsigned char *, size_t);
static int	 http1_host_parse(const unsigned char *, size_t, size_t *);
static int	 http1_clen(const unsigned char *, size_t, uint64_t *);
static int	 http1_list_next(const unsigned char *, size_t, size_t *,
		    size_t *, size_t *);
static int	 http1_conn_option(const unsigned char *, size_t);
static int	 http1_te_apply(const unsigned char *, size_t,
		    struct http1_pstate *);
static int	 http1_te_finish(unsigned int);
static int	 http1_lookalike(const unsigned char *, size_t);
static int	 http1_field_apply(const unsigned char *,
		    struct http1_field *, size_t, struct http1_pstate *, int);
static int	 http1_fields(const unsigned char *, size_t, size_t *,
		    struct http1_pstate *, struct http1_field *, uint16_t *,
		    int);
static void	 http1_mark_named(const unsigned char *,
		    struct http1_field *, size_t);
static int	 http1_version(const unsigned char *, size_t, uint8_t *);
static uint8_t	 http1_method(const unsigned char *, size_t);
static int	 http1_target(const unsigned char *, struct http1_request *);
/*
 * A head being parsed, request or response: they differ in the start
 * line, in what the fields mean once all have come, and in the limit on
 * the start line (a request line over HTTP1_LINE_MAX is a 414).
 */
struct http1_head {
	struct http1_pstate	*hd_ps;
	struct http1_field	*hd_fields;
	uint16_t		*hd_nfields;
	int			 hd_isreq;
	int			(*hd_start)(const unsigned char *, size_t,
				    size_t *, const struct http1_head *);
	int			(*hd_finish)(const unsigned char *, size_t,
				    const struct http1_head *);
	void			*hd_msg;	/* the request or response */
	int			 hd_head;	/* a response to HEAD */
	size_t			 hd_max;	/* HTTP1_HEAD_MAX, or more */
};

static int	 http1_parse_head(const char *, size_t,
		    const struct http1_head *);
static int	 http1_request_line(const unsigned char *, size_t, size_t *,
		    const struct http1_head *);
static int	 http1_request_finish(const unsigned char *, size_t,
		    const struct http1_head *);
static int	 http1_status_line(const unsigned char *, size_t, size_t *,
		    const struct http1_head *);
static int	 http1_response_finish(const unsigned char *, size_t,
		    const struct http1_head *);

#define W_ONES		0x0101010101010101ULL
#define W_HIGHS		0x8080808080808080ULL
#define W_FOLD		(W_ONES * 0x20)

static inline int
http1_lc(int c)
{
	return (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/*
 * Compares s with a constant of lower-case letters, digits and "-:/",
 * ignoring the case of s, eight bytes at a time.  Setting bit 0x20 folds
 * case; as s never holds control bytes (callers pass tokens, field values
 * or targets), no other byte folds onto one of the constant's.
 */
static inline int
http1_lceq(const unsigned char *s, const char *lc, size_t n)
{
	uint64_t	 a, c;
	size_t		 i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			if ((s[i] | 0x20) != (unsigned char)lc[i])
				return (0);
		return (1);
	}
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&a, s + i, 8);
		memcpy(&c, lc + i, 8);
		if ((a | W_FOLD) != c)
			return (0);
	}
	/* The last eight bytes, overlapping the ones compared already. */
	memcpy(&a, s + n - 8, 8);
	memcpy(&c, lc + n - 8, 8);
	return ((a | W_FOLD) == c);
}

static inline int
http1_hexval(int c)
{
	if (c <= '9')
		return (c - '0');
	return ((c | 0x20) - 'a' + 10);
}

/*
 * Returns the first position from p on whose byte is not in class cls.
 * Unrolled because field values are most of the bytes of a head.
 */
static inline size_t
http1_span(const unsigned char *b, size_t p, size_t end, uint8_t cls)
{
	while (end - p >= 8) {
		if ((http1_cc[b[p]] & cls) == 0)
			return (p);
		if ((http1_cc[b[p + 1]] & cls) == 0)
			return (p + 1);
		if ((http1_cc[b[p + 2]] & cls) == 0)
			return (p + 2);
		if ((http1_cc[b[p + 3]] & cls) == 0)
			return (p + 3);
		if ((http1_cc[b[p + 4]] & cls) == 0)
			return (p + 4);
		if ((http1_cc[b[p + 5]] & cls) == 0)
			return (p + 5);
		if ((http1_cc[b[p + 6]] & cls) == 0)
			return (p + 6);
		if ((http1_cc[b[p + 7]] & cls) == 0)
			return (p + 7);
		p += 8;
	}
	while (p < end && (http1_cc[b[p]] & cls))
		p++;
	return (p);
}

/*
 * Word-at-a-time tests: bytes below n (n <= 0x80), bytes equal to v,
 * bytes above n (n < 0x80).  Borrows and carries can only flag bytes
 * above a true match, so each result is exact about whether some byte
 * matches and, on a little-endian machine, about which one comes first.
 */
#define W_LESS(w, n)	(((w) - W_ONES * (n)) & ~(w) & W_HIGHS)
#define W_EQ(w, v)	W_LESS((w) ^ (W_ONES * (v)), 1)
#define W_MORE(w, n)	((((w) + W_ONES * (127 - (n))) | (w)) & W_HIGHS)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The lowest matching byte of a word test, on a little-endian machine. */
#define W_FIRST(m)	((size_t)__builtin_ctzll(m) >> 3)
#endif

/*
 * Field values are most of a head: eight bytes at a time, find the first
 * control byte or DEL; HTAB is one, and allowed.
 */
static inline size_t
http1_span_fval(const unsigned char *b, size_t p, size_t end)
{
	uint64_t	 w, m;

	while (end - p >= 8) {
		memcpy(&w, b + p, 8);
		m = W_LESS(w, 0x20) | W_EQ(w, 0x7f);
		if (m != 0) {
#ifdef W_FIRST
			p += W_FIRST(m);
			if (b[p] != '\t')
				return (p);
			p++;
			continue;
#else
			break;
#endif
		}
		p += 8;
	}
	return (http1_span(b, p, end, CC_FVAL));
}

/* The same for request-targets: VCHAR but '#'. */
static inline size_t
http1_span_target(const unsigned char *b, size_t p, size_t end)
{
	uint64_t	 w, m;

	while (end - p >= 8) {
		memcpy(&w, b + p, 8);
		m = W_LESS(w, 0x21) | W_MORE(w, 0x7e) | W_EQ(w, '#');
		if (m != 0) {
#ifdef W_FIRST
			return (p + W_FIRST(m));
#else
			break;
#endif
		}
		p += 8;
	}
	return (http1_span(b, p, end, CC_TARGET));
}

/*
 * Names the error for the byte at p, which ended a run where it does not
 * belong: dflt unless it is a stray CR or LF or another control byte.
 */
static int
http1_badbyte(const unsigned char *b, size_t p, size_t end, int dflt)
{
	switch (b[p]) {
	case '\n':
		return (HTTP1_E_BARE_LF);
	case '\r':
		if (p + 1 < end && b[p + 1] != '\n')
			return (HTTP1_E_BARE_CR);
		return (dflt);
	case '\t':
		return (dflt);
	}
	if (b[p] < 0x20 || b[p] == 0x7f)
		return (HTTP1_E_CTL);
	return (dflt);
}

/* The id of a field name, which must be a token (see http1_lceq). */
static uint8_t
http1_field_id(const unsigned char *n, size_t len)
{
	switch (len) {
	case 2:
		if (http1_lceq(n, "te", 2))
			return (HTTP1_H_TE);
		break;
	case 4:
		if (http1_lceq(n, "host", 4))
			return (HTTP1_H_HOST);
		if (http1_lceq(n, "date", 4))
			return (HTTP1_H_DATE);
		break;
	case 6:
		if (http1_lceq(n, "expect", 6))
			return (HTTP1_H_EXPECT);
		break;
	case 7:
		if (http1_lceq(n, "upgrade", 7))
			return (HTTP1_H_UPGRADE);
		if (http1_lceq(n, "referer", 7))
			return (HTTP1_H_REFERER);
		break;
	case 9:
		if (http1_lceq(n, "forwarded", 9))
			return (HTTP1_H_FORWARDED);
		if (http1_lceq(n, "x-real-ip", 9))
			return (HTTP1_H_X_REAL_IP);
		break;
	case 10:
		if (http1_lceq(n, "connection", 10))
			return (HTTP1_H_CONNECTION);
		if (http1_lceq(n, "keep-alive", 10))
			return (HTTP1_H_KEEP_ALIVE);
		if (http1_lceq(n, "user-agent", 10))
			return (HTTP1_H_USER_AGENT);
		break;
	case 12:
		if (http1_lceq(n, "x-request-id", 12))
			return (HTTP1_H_X_REQUEST_ID);
		break;
	case 14:
		if (http1_lceq(n, "content-length", 14))
			return (HTTP1_H_CONTENT_LENGTH);
		if (http1_lceq(n, "http2-settings", 14))
			return (HTTP1_H_HTTP2_SETTINGS);
		break;
	case 15:
		if (http1_lceq(n, "x-forwarded-for", 15))
			return (HTTP1_H_X_FORWARDED_FOR);
		break;
	case 16:
		if (http1_lceq(n, "proxy-connection", 16))
			return (HTTP1_H_PROXY_CONNECTION);
		if (http1_lceq(n, "x-forwarded-host", 16))
			return (HTTP1_H_X_FORWARDED_HOST);
		break;
	case 17:
		if (http1_lceq(n, "transfer-encoding", 17))
			return (HTTP1_H_TRANSFER_ENCODING);
		if (http1_lceq(n, "x-forwarded-proto", 17))
			return (HTTP1_H_X_FORWARDED_PROTO);
		break;
	}
	return (HTTP1_H_OTHER);
}

/*
 * Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2), where
 * uri-host is a non-empty reg-name or IPv4 address, or an IP-literal
 * whose inside is only checked for its characters; port is at most 65535.
 * No userinfo: '@' is refused.  Sets *namelen to the length before ":port".
 */
static int
http1_host_parse(const unsigned char *s, size_t n, size_t *namelen)
{
	size_t		 i = 0, digits;
	unsigned int	 port;

	if (n == 0)
		return (-1);
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if ((http1_cc[s[i]] & CC_HOST) == 0 && s[i] != ':')
				return (-1);
		if (i == n || i == 1)
			return (-1);
		i++;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			if (s[i] == '%') {
				if (n - i < 3 ||
				    (http1_cc[s[i + 1]] & CC_HEX) == 0 ||
				    (http1_cc[s[i + 2]] & CC_HEX) == 0)
					return (-1);
				i += 2;
				continue;
			}
			if ((http1_cc[s[i]] & CC_HOST) == 0)
				return (-1);
		}
		if (i == 0)
			return (-1);
	}
	if (i > HTTP1_HOST_MAX)
		return (-1);
	*namelen = i;
	if (i == n)
		return (0);
	if (s[i++] != ':')
		return (-1);
	port = 0;
	for (digits = 0; i < n; i++, digits++) {
		if ((http1_cc[s[i]] & CC_DIGIT) == 0 || digits == 5)
			return (-1);
		port = port * 10 + (s[i] - '0');
	}
	if (port > 65535)
		return (-1);
	return (0);
}

/*
 * Content-Length = 1*DIGIT, below 2^63.  A list, even of equal values,
 * is refused: RFC 9110 8.6 lets a recipient read "5, 5" as 5, but a
 * proxy must not forward it, and one that rewrites it may still meet a
 * backend that reads it another way.
 */
static int
http1_clen(const unsigned char *s, size_t n, uint64_t *out)
{
	size_t		 i;
	uint64_t	 v = 0;
	unsigned int	 d;

	if (n == 0)
		return (HTTP1_E_CL_INVALID);
	for (i = 0; i < n; i++) {
		if ((http1_cc[s[i]] & CC_DIGIT) == 0)
			return (HTTP1_E_CL_INVALID);
		d = s[i] - '0';
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return (HTTP1_E_CL_INVALID);
		v = v * 10 + d;
	}
	*out = v;
	return (0);
}

/*
 * Steps through a comma-separated list of tokens (RFC 9110 5.6.1, empty
 * elements allowed): 1 with the next token at [*ts, *ts + *tl), 0 at the
 * end, -1 for anything else.
 */
static int
http1_list_next(const unsigned char *s, size_t n, size_t *pos, size_t *ts,
    size_t *tl)
{
	size_t	 i = *pos, start;

	while (i < n && (s[i] == ',' || (http1_cc[s[i]] & CC_WS)))
		i++;
	if (i == n) {
		*pos = i;
		return (0);
	}
	start = i;
	while (i < n && (http1_cc[s[i]] & CC_TCHAR))
		i++;
	if (i == start)
		return (-1);
	*ts = start;
	*tl = i - start;
	while (i < n && (http1_cc[s[i]] & CC_WS))
		i++;
	if (i < n && s[i] != ',')
		return (-1);
	*pos = i;
	return (1);
}

/*
 * The state bit for one Connection option, or -1 for an option naming a
 * field that framing or routing depend on: dropping it would make the
 * backend see a different message than the one this parser checked.
 */
static int
http1_conn_option(const unsigned char *t, size_t n)
{
	if (n == 5 && http1_lceq(t, "close", 5))
		return (PS_CONN_CLOSE);
	if (n == 10 && http1_lceq(t, "keep-alive", 10))
		return (PS_CONN_KA);
	if (n == 7 && http1_lceq(t, "upgrade", 7))
		return (PS_CONN_UPGRADE);
	switch (http1_field_id(t, n)) {
	case HTTP1_H_HOST:
	case HTTP1_H_CONTENT_LENGTH:
	case HTTP1_H_TRANSFER_ENCODING:
		return (-1);
	}
	return (PS_CONN_OTHER);
}

/* What a complete field line means for framing, routing and forwarding. */
static int
http1_field_apply(const unsigned char *b, struct http1_field *f, size_t idx,
    struct http1_pstate *ps, int isreq)
{
	const unsigned char	*v = b + f->value_off;
	size_t			 n = f->value_len, pos, ts, tl, hn;
	uint64_t		 cl;
	int			 rv, bit;

	switch (f->id) {
	case HTTP1_H_HOST:
		if (!isreq)
			break;
		if (ps->ps_host != 0)
			return (HTTP1_E_HOST_MULTIPLE);
		if (http1_host_parse(v, n, &hn) == -1)
			return (HTTP1_E_HOST_INVALID);
		ps->ps_host = idx + 1;
		ps->ps_hostname_len = hn;
		break;
	case HTTP1_H_CONTENT_LENGTH:
		if (ps->ps_bits & PS_CL)
			return (HTTP1_E_CL_REPEATED);
		if ((rv = http1_clen(v, n, &cl)) != 0)
			return (rv);
		ps->ps_clen = cl;
		ps->ps_bits |= PS_CL;
		break;
	case HTTP1_H_TRANSFER_ENCODING:
		f->flags |= HTTP1_F_HOP;
		return (http1_te_apply(v, n, ps));
	case HTTP1_H_CONNECTION:
		f->flags |= HTTP1_F_HOP;
		pos = 0;
		while ((rv = http1_list_next(v, n, &pos, &ts, &tl)) == 1) {
			if ((bit = http1_conn_option(v + ts, tl)) == -1)
				return (HTTP1_E_CONNECTION);
			ps->ps_bits |= bit;
		}
		if (rv == -1)
			return (HTTP1_E_CONNECTION);
		break;
	case HTTP1_H_UPGRADE:
		ps->ps_bits |= PS_UPGRADE;
		f->flags |= HTTP1_F_HOP;
		break;
	case HTTP1_H_KEEP_ALIVE:
	case HTTP1_H_PROXY_CONNECTION:
	case HTTP1_H_TE:
	case HTTP1_H_HTTP2_SETTINGS:
		f->flags |= HTTP1_F_HOP;
		break;
	case HTTP1_H_EXPECT:
		if (n == 12 && http1_lceq(v, "100-continue", 12))
			ps->ps_bits |= PS_EXPECT;
		break;
	case HTTP1_H_DATE:
		ps->ps_bits |= PS_DATE;
		break;
	}
	return (HTTP1_OK);
}

/*
 * The codings of Transfer-Encoding fields, in order over every field
 * (RFC 9112 6.1), empty list elements skipped: only tokens, and what the
 * whole list means is decided at the end of the head
 * (http1_te_finish()).
 */
static int
http1_te_apply(const unsigned char *v, size_t n, struct http1_pstate *ps)
{
	size_t	 pos = 0, ts, tl;
	int	 rv;

	while ((rv = http1_list_next(v, n, &pos, &ts, &tl)) == 1) {
		if (ps->ps_bits & PS_TE_CHUNKED)
			ps->ps_bits |= PS_TE_EARLY;
		if (ps->ps_bits & PS_TE_CODING)
			ps->ps_bits |= PS_TE_MORE;
		ps->ps_bits |= PS_TE_CODING;
		if (tl == 7 && http1_lceq(v + ts, "chunked", 7))
			ps->ps_bits |= PS_TE_CHUNKED;
		else
			ps->ps_bits &= ~PS_TE_CHUNKED;
	}
	if (rv == -1)
		return (HTTP1_E_TE_INVALID);
	/* a field of empty elements only still says Transfer-Encoding */
	ps->ps_bits |= PS_TE;
	return (HTTP1_OK);
}

/*
 * A message with Transfer-Encoding is chunked, or it cannot be read:
 * chunked must be the last coding and come once (else 400: the length
 * is unknowable, RFC 9112 6.3); a coding before it is one portero does
 * not implement (501, RFC 9112 6.1).
 */
static int
http1_te_finish(unsigned int bits)
{
	if ((bits & PS_TE_CHUNKED) == 0 || (bits & PS_TE_EARLY))
		return (HTTP1_E_TE_INVALID);
	if (bits & PS_TE_MORE)
		return (HTTP1_E_TE_UNIMPLEMENTED);
	return (HTTP1_OK);
}

/*
 * A field name that a backend may fold into Content-Length or
 * Transfer-Encoding: the same letters with '_' for '-' or '-' doubled
 * (Transfer_Encoding, Content--Length).  Called for unknown names that
 * start and end like one of the two, so most names cost two compares.
 */
static int
http1_lookalike(const unsigned char *n, size_t len)
{
	char	 norm[18];
	size_t	 i, k = 0;
	int	 c;

	for (i = 0; i < len; i++) {
		c = n[i] == '_' ? '-' : http1_lc(n[i]);
		if (c == '-' && k > 0 && norm[k - 1] == '-')
			continue;
		if (k == sizeof(norm) - 1)
			return (0);
		norm[k++] = c;
	}
	return ((k == 14 && memcmp(norm, "content-length", 14) == 0) ||
	    (k == 17 && memcmp(norm, "transfer-encoding", 17) == 0));
}

/*
 * Parses field lines from *pp up to and including the empty line that
 * ends the head.  *pp moves past each complete line only, so that a call
 * after HTTP1_INCOMPLETE starts again at the first unfinished line.
 */
static int
http1_fields(const unsigned char *b, size_t end, size_t *pp,
    struct http1_pstate *ps, struct http1_field *fields, uint16_t *nfields,
    int isreq)
{
	struct http1_field	*f;
	size_t			 p = *pp, n, v, e;
	int			 rv;

	for (;;) {
		if (p == end)
			return (HTTP1_INCOMPLETE);
		if (b[p] == '\r') {
			if (p + 1 == end)
				return (HTTP1_INCOMPLETE);
			if (b[p + 1] != '\n')
				return (HTTP1_E_BARE_CR);
			*pp = p + 2;
			return (HTTP1_OK);
		}
		if ((http1_cc[b[p]] & CC_TCHAR) == 0) {
			if (http1_cc[b[p]] & CC_WS)
				return (HTTP1_E_OBS_FOLD);
			return (http1_badbyte(b, p, end, HTTP1_E_FIELD_NAME));
		}
		if (*nfields == HTTP1_MAX_FIELDS)
			return (HTTP1_E_TOO_MANY_FIELDS);

		n = p;
		p = http1_span(b, p + 1, end, CC_TCHAR);
		if (p == end)
			return (HTTP1_INCOMPLETE);
		if (b[p] != ':') {
			if (http1_cc[b[p]] & CC_WS)
				return (HTTP1_E_FIELD_SPACE);
			return (http1_badbyte(b, p, end, HTTP1_E_FIELD_NAME));
		}
		e = p++;
		while (p < end && (http1_cc[b[p]] & CC_WS))
			p++;
		v = p;
		p = http1_span_fval(b, p, end);
		if (p == end)
			return (HTTP1_INCOMPLETE);
		if (b[p] != '\r')
			return (http1_badbyte(b, p, end, HTTP1_E_CTL));
		if (p + 1 == end)
			return (HTTP1_INCOMPLETE);
		if (b[p + 1] != '\n')
			return (HTTP1_E_BARE_CR);

		f = &fields[*nfields];
		f->name_off = n;
		f->name_len = e - n;
		f->value_off = v;
		for (e = p; e > v && (http1_cc[b[e - 1]] & CC_WS); e--)
			;
		f->value_len = e - v;
		f->id = http1_field_id(b + n, f->name_len);
		f->flags = 0;
		if (f->id != HTTP1_H_OTHER &&
		    (rv = http1_field_apply(b, f, *nfields, ps, isreq)) != 0)
			return (rv);
		if (f->id == HTTP1_H_OTHER && isreq && f->name_len >= 14 &&
		    ((b[n] | 0x20) == 'c' || (b[n] | 0x20) == 't') &&
		    ((b[n + f->name_len - 1] | 0x20) == 'h' ||
		    (b[n + f->name_len - 1] | 0x20) == 'g') &&
		    http1_lookalike(b + n, f->name_len))
			return (HTTP1_E_FIELD_LOOKALIKE);
		(*nfields)++;
		p += 2;
		*pp = p;
	}
}

/* Marks the fields that Connection options name as hop-by-hop. */
static void
http1_mark_named(const unsigned char *b, struct http1_field *fields,
    size_t nfields)
{
	const unsigned char	*v;
	size_t			 i, j, pos, ts, tl;

	for (i = 0; i < nfields; i++) {
		if (fields[i].id != HTTP1_H_CONNECTION)
			continue;
		v = b + fields[i].value_off;
		pos = 0;
		while (http1_list_next(v, fields[i].value_len, &pos, &ts,
		    &tl) == 1) {
			for (j = 0; j < nfields; j++)
				if (http1_caseeq((const char *)b +
				    fields[j].name_off, fields[j].name_len,
				    (const char *)v + ts, tl))
					fields[j].flags |= HTTP1_F_HOP;
		}
	}
}

/*
 * HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
 * A higher minor version of 1 is handled as 1.1, the highest we speak
 * (RFC 9110 6.2); another major version is not ours.
 */
static int
http1_version(const unsigned char *s, size_t n, uint8_t *version)
{
	if (n != 8 || memcmp(s, "HTTP/", 5) != 0 ||
	    (http1_cc[s[5]] & CC_DIGIT) == 0 || s[6] != '.' ||
	    (http1_cc[s[7]] & CC_DIGIT) == 0)
		return (HTTP1_E_VERSION);
	if (s[5] != '1')
		return (HTTP1_E_VERSION_UNSUPPORTED);
	*version = s[7] == '0' ? 10 : 11;
	return (HTTP1_OK);
}

static uint8_t
http1_method(const unsigned char *m, size_t n)
{
	switch (n) {
	case 3:
		if (memcmp(m, "GET", 3) == 0)
			return (HTTP1_M_GET);
		if (memcmp(m, "PUT", 3) == 0)
			return (HTTP1_M_PUT);
		break;
	case 4:
		if (memcmp(m, "POST", 4) == 0)
			return (HTTP1_M_POST);
		if (memcmp(m, "HEAD", 4) == 0)
			return (HTTP1_M_HEAD);
		break;
	case 5:
		if (memcmp(m, "PATCH", 5) == 0)
			return (HTTP1_M_PATCH);
		if (memcmp(m, "TRACE", 5) == 0)
			return (HTTP1_M_TRACE);
		break;
	case 6:
		if (memcmp(m, "DELETE", 6) == 0)
			return (HTTP1_M_DELETE);
		break;
	case 7:
		if (memcmp(m, "OPTIONS", 7) == 0)
			return (HTTP1_M_OPTIONS);
		if (memcmp(m, "CONNECT", 7) == 0)
			return (HTTP1_M_CONNECT);
		break;
	}
	return (HTTP1_M_OTHER);
}

/*
 * The form of the request-target (RFC 9112 3.2): origin-form, "*" for
 * OPTIONS, or absolute-form with an http or https URI and an authority.
 */
static int
http1_target(const unsigned char *b, struct http1_request *req)
{
	const unsigned char	*t = b + req->target_off;
	size_t			 n = req->target_len, i, a, hn;

	req->path_off = req->target_off;
	req->path_len = req->target_len;
	req->authority_off = req->authority_len = 0;
	if (t[0] == '/') {
		req->target_form = HTTP1_T_ORIGIN;
		return (HTTP1_OK);
	}
	if (n == 1 && t[0] == '*') {
		if (req->method != HTTP1_M_OPTIONS)
			return (HTTP1_E_TARGET);
		req->target_form = HTTP1_T_ASTERISK;
		return (HTTP1_OK);
	}
	if (n > 7 && http1_lceq(t, "http://", 7))
		i = 7;
	else if (n > 8 && http1_lceq(t, "https://", 8))
		i = 8;
	else
		return (HTTP1_E_TARGET);
	for (a = i; i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	if (http1_host_parse(t + a, i - a, &hn) == -1)
		return (HTTP1_E_TARGET);
	req->target_form = HTTP1_T_ABSOLUTE;
	req->authority_off = req->target_off + a;
	req->authority_len = i - a;
	req->hostname_len = hn;
	req->path_off = req->target_off + i;
	req->path_len = n - i;
	return (HTTP1_OK);
}

/*
 * request-line = method SP request-target SP HTTP-version CRLF, with
 * single spaces and nothing else (RFC 9112 3), after at most
 * HTTP1_LEADING_CRLF_MAX empty lines.
 */
static int
http1_request_line(const unsigned char *b, size_t end, size_t *pp,
    const struct http1_head *hd)
{
	struct http1_request	*req = hd->hd_msg;
	size_t	 p = *pp, ls, t, v;
	int	 rv;

	for (;;) {
		if (p == end)
			return (HTTP1_INCOMPLETE);
		if (b[p] == '\n')
			return (HTTP1_E_BARE_LF);
		if (b[p] != '\r')
			break;
		if (p + 1 == end)
			return (HTTP1_INCOMPLETE);
		if (b[p + 1] != '\n')
			return (HTTP1_E_BARE_CR);
		if (++req->ps.ps_lead > HTTP1_LEADING_CRLF_MAX)
			return (HTTP1_E_REQUEST_LINE);
		p += 2;
		*pp = p;
	}

	ls = p;
	p = http1_span(b, p, end, CC_TCHAR);
	if (p - ls > HTTP1_LINE_MAX)
		return (HTTP1_E_URI_TOO_LONG);
	if (p == end)
		return (HTTP1_INCOMPLETE);
	if (b[p] != ' ')
		return (http1_badbyte(b, p, end, HTTP1_E_METHOD));
	if (p == ls)
		return (HTTP1_E_REQUEST_LINE);
	req->method_off = ls;
	req->method_len = p - ls;
	req->method = http1_method(b + ls, p - ls);

	t = ++p;
	p = http1_span_target(b, p, end);
	if (p - ls > HTTP1_LINE_MAX)
		return (HTTP1_E_URI_TOO_LONG);
	if (p == end)
		return (HTTP1_INCOMPLETE);
	if (b[p] != ' ')
		return (http1_badbyte(b, p, end, p == t || b[p] == '\r' ?
		    HTTP1_E_REQUEST_LINE : HTTP1_E_TARGET));
	if (p == t)
		return (HTTP1_E_REQUEST_LINE);
	req->target_off = t;
	req->target_len = p - t;

	v = ++p;
	p = http1_span(b, p, end, CC_TARGET);
	if (p - ls > HTTP1_LINE_MAX)
		return (HTTP1_E_URI_TOO_LONG);
	if (p == end)
		return (HTTP1_INCOMPLETE);
	if (b[p] != '\r')
		return (http1_badbyte(b, p, end, HTTP1_E_REQUEST_LINE));
	if ((rv = http1_version(b + v, p - v, &req->version)) != HTTP1_OK)
		return (rv);
	if (p + 1 == end)
		return (HTTP1_INCOMPLETE);
	if (b[p + 1] != '\n')
		return (HTTP1_E_BARE_CR);
	*pp = p + 2;

	if (req->method == HTTP1_M_CONNECT)
		return (HTTP1_E_CONNECT);
	return (http1_target(b, req));
}

static int
http1_request_finish(const unsigned char *b, size_t p,
    const struct http1_head *hd)
{
	struct http1_request	*req = hd->hd_msg;
	struct http1_pstate	*ps = &req->ps;
	struct http1_field	*h;
	unsigned int		 bits = ps->ps_bits;
	int			 rv;

	req->head_len = p;
	req->content_length = 0;
	if (bits & PS_TE) {
		/* RFC 9112 6.1: HTTP/1.0 framing with T-E is faulty. */
		if (req->version == 10)
			return (HTTP1_E_TE_HTTP10);
		if (bits & PS_CL)
			return (HTTP1_E_CL_TE);
		if ((rv = http1_te_finish(bits)) != HTTP1_OK)
			return (rv);
		req->framing = HTTP1_BODY_CHUNKED;
	} else if (bits & PS_CL) {
		req->framing = HTTP1_BODY_LENGTH;
		req->content_length = ps->ps_clen;
	} else
		req->framing = HTTP1_BODY_NONE;

	/* RFC 9112 3.2: every HTTP/1.1 request has Host, even absolute. */
	if (ps->ps_host == 0 && req->version == 11)
		return (HTTP1_E_HOST_MISSING);
	if (ps->ps_host != 0) {
		h = &req->fields[ps->ps_host - 1];
		if (req->target_form == HTTP1_T_ABSOLUTE &&
		    !http1_caseeq((const char *)b + h->value_off, h->value_len,
		    (const char *)b + req->authority_off, req->authority_len))
			return (HTTP1_E_HOST_MISMATCH);
		req->host_off = h->value_off;
		req->host_len = h->value_len;
		req->hostname_len = ps->ps_hostname_len;
	} else if (req->target_form == HTTP1_T_ABSOLUTE) {
		req->host_off = req->authority_off;
		req->host_len = req->authority_len;
	} else
		req->host_off = req->host_len = req->hostname_len = 0;

	req->flags = 0;
	if ((bits & PS_CONN_CLOSE) == 0 &&
	    (req->version == 11 || (bits & PS_CONN_KA)))
		req->flags |= HTTP1_KEEP_ALIVE;
	/* RFC 9110 10.1.1: ignore 100-continue from HTTP/1.0. */
	if ((bits & PS_EXPECT) && req->version == 11)
		req->flags |= HTTP1_EXPECT_CONTINUE;
	if ((bits & (PS_CONN_UPGRADE | PS_UPGRADE)) ==
	    (PS_CONN_UPGRADE | PS_UPGRADE))
		req->flags |= HTTP1_UPGRADE;
	if (bits & PS_CONN_OTHER)
		http1_mark_named(b, req->fields, req->nfields);
	return (HTTP1_OK);
}

void
http1_request_reset(struct http1_request *req)
{
	memset(&req->ps, 0, sizeof(req->ps));
}

/*
 * The head driver, for requests and responses alike.  *pp moves past
 * whole lines only, so that a call after HTTP1_INCOMPLETE starts again
 * at the first unfinished line; a call that brings no new line end costs
 * one memchr.
 */
static int
http1_parse_head(const char *buf, size_t len, const struct http1_head *hd)
{
	const unsigned char	*b = (const unsigned char *)buf;
	struct http1_pstate	*ps = hd->hd_ps;
	size_t			 end, p;
	int			 rv;

	end = len < hd->hd_max ? len : hd->hd_max;
	if (ps->ps_seen == 0 || ps->ps_seen > end) {
		memset(ps, 0, sizeof(*ps));
		*hd->hd_nfields = 0;
	} else if (memchr(b + ps->ps_seen, '\n', end - ps->ps_seen) == NULL) {
		/* No new line end: the pending line stays unfinished. */
		p = ps->ps_off;
		goto incomplete;
	}

	p = ps->ps_off;
	rv = HTTP1_OK;
	if ((ps->ps_bits & PS_STARTED) == 0) {
		rv = hd->hd_start(b, end, &p, hd);
		if (rv == HTTP1_OK)
			ps->ps_bits |= PS_STARTED;
	}
	if (rv == HTTP1_OK) {
		rv = http1_fields(b, end, &p, ps, hd->hd_fields,
		    hd->hd_nfields, hd->hd_isreq);
		if (rv == HTTP1_OK)
			rv = hd->hd_finish(b, p, hd);
	}
	if (rv != HTTP1_INCOMPLETE) {
		ps->ps_seen = 0;
		return (rv);
	}

 incomplete:
	ps->ps_off = p;
	ps->ps_seen = end;
	if (hd->hd_isreq && (ps->ps_bits & PS_STARTED) == 0 &&
	    end - p >= HTTP1_LINE_MAX + 2)
		rv = HTTP1_E_URI_TOO_LONG;
	else if (end == hd->hd_max)
		rv = HTTP1_E_HEAD_TOO_LARGE;
	else
		return (HTTP1_INCOMPLETE);
	ps->ps_seen = 0;
	return (rv);
}

int
http1_parse_request(const char *buf, size_t len, struct http1_request *req)
{
	return (http1_parse_request_max(buf, len, HTTP1_HEAD_MAX, req));
}

/*
 * The same with a larger limit on the head, up to HTTP1_HEAD_LIMIT: an
 * HTTP/2 request written as HTTP/1.1 may be as large as the header list
 * its connection allows.
 */
int
http1_parse_request_max(const char *buf, size_t len, size_t max,
    struct http1_request *req)
{
	struct http1_head	 hd = {
		&req->ps, req->fields, &req->nfields, 1, http1_request_line,
		http1_request_finish, req, 0, 0
	};

	hd.hd_max = max < HTTP1_HEAD_LIMIT ? max : HTTP1_HEAD_LIMIT;
	return (http1_parse_head(buf, len, &hd));
}

/*
 * status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF
 * (RFC 9112 4); the second SP may be missing when the reason is empty.
 */
static int
http1_status_line(const unsigned char *b, size_t end, size_t *pp,
    const struct http1_head *hd)
{
	struct http1_response	*resp = hd->hd_msg;
	size_t	 p = *pp, r;
	int	 rv;

	p = http1_span(b, p, end, CC_TARGET);
	if (p == end)
		return (HTTP1_INCOMPLETE);
	if (b[p] != ' ')
		return (http1_badbyte(b, p, end, HTTP1_E_REQUEST_LINE));
	if ((rv = http1_version(b + *pp, p - *pp, &resp->version)) !=
	    HTTP1_OK)
		return (rv);
	p++;
	if (end - p < 4)
		return (HTTP1_INCOMPLETE);
	if (b[p] < '1' || b[p] > '9' ||
	    (http1_cc[b[p + 1]] & CC_DIGIT) == 0 ||
	    (http1_cc[b[p + 2]] & CC_DIGIT) == 0)
		return (HTTP1_E_STATUS);
	resp->status = (b[p] - '0') * 100 + (b[p + 1] - '0') * 10 +
	    (b[p + 2] - '0');
	p += 3;
	r = p;
	if (b[p] == ' ') {
		r = p + 1;
		p = http1_span_fval(b, r, end);
	}
	if (p == end)
		return (HTTP1_INCOMPLETE);
	if (b[p] != '\r')
		return (http1_badbyte(b, p, end, HTTP1_E_STATUS));
	if (p + 1 == end)
		return (HTTP1_INCOMPLETE);
	if (b[p + 1] != '\n')
		return (HTTP1_E_BARE_CR);
	resp->reason_off = r;
	resp->reason_len = p - r;
	*pp = p + 2;
	return (HTTP1_OK);
}

static int
http1_response_finish(const unsigned char *b, size_t p,
    const struct http1_head *hd)
{
	struct http1_response	*resp = hd->hd_msg;
	int			 request_was_head = hd->hd_head;
	unsigned int	 bits = resp->ps.ps_bits;
	int		 rv;

	resp->head_len = p;
	resp->content_length = 0;
	resp->flags = 0;
	if (bits & PS_TE) {
		if (resp->version == 10)
			return (HTTP1_E_TE_HTTP10);
		if (bits & PS_CL)
			return (HTTP1_E_CL_TE);
		if ((rv = http1_te_finish(bits)) != HTTP1_OK)
			return (rv);
		resp->flags |= HTTP1_CHUNKED;
	}
	if (bits & PS_DATE)
		resp->flags |= HTTP1_HAS_DATE;
	if (resp->status < 200) {
		resp->framing = HTTP1_BODY_NONE;
		if (resp->status != 101)
			resp->flags |= HTTP1_INTERIM;
	} else if (request_was_head || resp->status == 204 ||
	    resp->status == 304)
		resp->framing = HTTP1_BODY_NONE;
	else if (bits & PS_TE)
		resp->framing = HTTP1_BODY_CHUNKED;
	else if (bits & PS_CL) {
		resp->framing = HTTP1_BODY_LENGTH;
		resp->content_length = resp->ps.ps_clen;
	} else
		resp->framing = HTTP1_BODY_UNTIL_CLOSE;

	if (resp->status != 101 && resp->framing != HTTP1_BODY_UNTIL_CLOSE &&
	    (bits & PS_CONN_CLOSE) == 0 &&
	    (resp->version == 11 || (bits & PS_CONN_KA)))
		resp->flags |= HTTP1_KEEP_ALIVE;
	if (bits & PS_CONN_OTHER)
		http1_mark_named(b, resp->fields, resp->nfields);
	return (HTTP1_OK);
}

void
http1_response_reset(struct http1_response *resp)
{
	memset(&resp->ps, 0, sizeof(resp->ps));
}

int
http1_parse_response(const char *buf, size_t len, int request_was_head,
    struct http1_response *resp)
{
	struct http1_head	 hd = {
		&resp->ps, resp->fields, &resp->nfields, 0, http1_status_line,
		http1_response_finish, resp, request_was_head, HTTP1_HEAD_MAX
	};

	return (http1_parse_head(buf, len, &hd));
}

void
http1_chunked_init(struct http1_chunked *ck)
{
	memset(ck, 0, sizeof(*ck));
}

/*
 * chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1),
 * one byte at a time except for chunk data, which is skipped whole.
 */
int
http1_chunked_feed(struct http1_chunked *ck, const char *buf, size_t len,
    size_t *consumed)
{
	const unsigned char	*b = (const unsigned char *)buf;
	size_t			 i = 0, n;
	unsigned int		 c;
	uint8_t			 id;
	int			 rv;

	if (ck->ck_state == CK_DONE) {
		*consumed = 0;
		return (HTTP1_OK);
	}
	if (ck->ck_state == CK_FAILED) {
		*consumed = 0;
		return (ck->ck_error);
	}

	while (i < len) {
		if (ck->ck_state == CK_DATA) {
			n = len - i;
			if (n < ck->ck_remaining) {
				ck->ck_remaining -= n;
				ck->ck_total += n;
				i = len;
				break;
			}
			i += ck->ck_remaining;
			ck->ck_total += ck->ck_remaining;
			ck->ck_remaining = 0;
			ck->ck_state = CK_DATA_CR;
			continue;
		}

		c = b[i];
		if (ck->ck_state >= CK_SIZE_WS &&
		    ck->ck_state <= CK_EXT_QS_END && c != '\r' &&
		    ++ck->ck_count > HTTP1_CHUNK_EXT_MAX) {
			rv = HTTP1_E_CHUNK_EXT;
			goto fail;
		}
		if (ck->ck_state >= CK_TRAILER_START &&
		    ck->ck_state <= CK_END_LF &&
		    ++ck->ck_count > HTTP1_TRAILER_MAX) {
			rv = HTTP1_E_TRAILER_TOO_LARGE;
			goto fail;
		}

		switch (ck->ck_state) {
		case CK_SIZE_START:
			if ((http1_cc[c] & CC_HEX) == 0) {
				rv = HTTP1_E_CHUNK_SIZE;
				goto fail;
			}
			ck->ck_remaining = http1_hexval(c);
			ck->ck_count = 1;
			ck->ck_state = CK_SIZE;
			break;
		case CK_SIZE:
			if (http1_cc[c] & CC_HEX) {
				/* At most 16 digits, below 2^63. */
				if (++ck->ck_count > 16 ||
				    (ck->ck_remaining >> 59) != 0) {
					rv = HTTP1_E_CHUNK_SIZE;
					goto fail;
				}
				ck->ck_remaining = ck->ck_remaining << 4 |
				    http1_hexval(c);
				break;
			}
			ck->ck_count = 0;
			if (c == '\r')
				ck->ck_state = CK_SIZE_LF;
			else if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if (http1_cc[c] & CC_WS)
				ck->ck_state = CK_SIZE_WS;
			else {
				rv = HTTP1_E_CHUNK_SIZE;
				goto fail;
			}
			if (c != '\r')
				ck->ck_count = 1;
			break;
		case CK_SIZE_WS:
			if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if ((http1_cc[c] & CC_WS) == 0) {
				rv = HTTP1_E_CHUNK_SIZE;
				goto fail;
			}
			break;
		case CK_EXT_NAME_START:
			if (http1_cc[c] & CC_TCHAR)
				ck->ck_state = CK_EXT_NAME;
			else if ((http1_cc[c] & CC_WS) == 0)
				goto badext;
			break;
		case CK_EXT_NAME:
			if (http1_cc[c] & CC_TCHAR)
				break;
			if (c == '\r')
				ck->ck_state = CK_SIZE_LF;
			else if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if (c == '=')
				ck->ck_state = CK_EXT_VAL_START;
			else if (http1_cc[c] & CC_WS)
				ck->ck_state = CK_EXT_NAME_WS;
			else
				goto badext;
			break;
		case CK_EXT_NAME_WS:
			if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if (c == '=')
				ck->ck_state = CK_EXT_VAL_START;
			else if ((http1_cc[c] & CC_WS) == 0)
				goto badext;
			break;
		case CK_EXT_VAL_START:
			if (c == '"')
				ck->ck_state = CK_EXT_QS;
			else if (http1_cc[c] & CC_TCHAR)
				ck->ck_state = CK_EXT_VAL;
			else if ((http1_cc[c] & CC_WS) == 0)
				goto badext;
			break;
		case CK_EXT_VAL:
			if (http1_cc[c] & CC_TCHAR)
				break;
			if (c == '\r')
				ck->ck_state = CK_SIZE_LF;
			else if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if (http1_cc[c] & CC_WS)
				ck->ck_state = CK_EXT_VAL_WS;
			else
				goto badext;
			break;
		case CK_EXT_VAL_WS:
			if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if ((http1_cc[c] & CC_WS) == 0)
				goto badext;
			break;
		case CK_EXT_QS:
			if (c == '"')
				ck->ck_state = CK_EXT_QS_END;
			else if (c == '\\')
				ck->ck_state = CK_EXT_QS_ESC;
			else if ((http1_cc[c] & CC_QDTEXT) == 0)
				goto badext;
			break;
		case CK_EXT_QS_ESC:
			if ((http1_cc[c] & CC_FVAL) == 0)
				goto badext;
			ck->ck_state = CK_EXT_QS;
			break;
		case CK_EXT_QS_END:
			if (c == '\r')
				ck->ck_state = CK_SIZE_LF;
			else if (c == ';')
				ck->ck_state = CK_EXT_NAME_START;
			else if (http1_cc[c] & CC_WS)
				ck->ck_state = CK_EXT_VAL_WS;
			else
				goto badext;
			break;
		case CK_SIZE_LF:
			if (c != '\n') {
				rv = HTTP1_E_BARE_CR;
				goto fail;
			}
			if (ck->ck_remaining == 0) {
				ck->ck_count = 0;
				ck->ck_state = CK_TRAILER_START;
			} else
				ck->ck_state = CK_DATA;
			break;
		case CK_DATA_CR:
			if (c != '\r') {
				rv = HTTP1_E_CHUNK_CRLF;
				goto fail;
			}
			ck->ck_state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (c != '\n') {
				rv = HTTP1_E_CHUNK_CRLF;
				goto fail;
			}
			ck->ck_state = CK_SIZE_START;
			break;
		case CK_TRAILER_START:
			if (c == '\r') {
				ck->ck_state = CK_END_LF;
				break;
			}
			if ((http1_cc[c] & CC_TCHAR) == 0)
				goto badtrailer;
			ck->ck_name[0] = http1_lc(c);
			ck->ck_namelen = 1;
			ck->ck_state = CK_TRAILER_NAME;
			break;
		case CK_TRAILER_NAME:
			if (http1_cc[c] & CC_TCHAR) {
				if (ck->ck_namelen < sizeof(ck->ck_name))
					ck->ck_name[ck->ck_namelen] =
					    http1_lc(c);
				if (ck->ck_namelen < UINT8_MAX)
					ck->ck_namelen++;
				break;
			}
			if (c != ':')
				goto badtrailer;
			/* RFC 9110 6.5.1: no framing or routing in trailers. */
			if (ck->ck_namelen <= sizeof(ck->ck_name)) {
				id = http1_field_id(
				    (const unsigned char *)ck->ck_name,
				    ck->ck_namelen);
				if (id == HTTP1_H_CONTENT_LENGTH ||
				    id == HTTP1_H_TRANSFER_ENCODING ||
				    id == HTTP1_H_HOST)
					goto badtrailer;
			}
			ck->ck_state = CK_TRAILER_VALUE;
			break;
		case CK_TRAILER_VALUE:
			if (c == '\r')
				ck->ck_state = CK_TRAILER_LF;
			else if ((http1_cc[c] & CC_FVAL) == 0)
				goto badtrailer;
			break;
		case CK_TRAILER_LF:
			if (c != '\n')
				goto badtrailer;
			ck->ck_state = CK_TRAILER_START;
			break;
		case CK_END_LF:
			if (c != '\n') {
				rv = HTTP1_E_BARE_CR;
				goto fail;
			}
			ck->ck_state = CK_DONE;
			*consumed = i + 1;
			return (HTTP1_OK);
		}
		i++;
	}
	*consumed = len;
	return (HTTP1_INCOMPLETE);

 badext:
	rv = HTTP1_E_CHUNK_EXT;
	goto fail;
 badtrailer:
	rv = HTTP1_E_TRAILER;
 fail:
	ck->ck_state = CK_FAILED;
	ck->ck_error = rv;
	*consumed = i;
	return (rv);
}

/*
 * http1_chunked_feed() for a recipient that takes the data without the
 * chunked framing (an HTTP/1.0 client): the same checks, and the data
 * bytes of buf moved to its front in order, *produced of them.  The
 * framing and any trailer fields are dropped.
 */
int
http1_chunked_decode(struct http1_chunked *ck, char *buf, size_t len,
    size_t *consumed, size_t *produced)
{
	size_t	 i = 0, out = 0, n, took;
	int	 rv = HTTP1_INCOMPLETE, state;

	while (i < len) {
		if (ck->ck_state == CK_DATA) {
			n = len - i < ck->ck_remaining ? len - i :
			    ck->ck_remaining;
			(void)http1_chunked_feed(ck, buf + i, n, &took);
			memmove(buf + out, buf + i, n);
			out += n;
			i += n;
			continue;
		}
		/* framing, a byte at a time up to the next data */
		state = ck->ck_state;
		rv = http1_chunked_feed(ck, buf + i, 1, &took);
		if (rv < 0)
			break;
		/* trailer lines, kept for whoever asked for them */
		if (ck->ck_trailer != NULL && took == 1 &&
		    state >= CK_TRAILER_START && state <= CK_TRAILER_LF &&
		    !(state == CK_TRAILER_START && buf[i] == '\r') &&
		    ck->ck_trailer_len < HTTP1_TRAILER_MAX)
			ck->ck_trailer[ck->ck_trailer_len++] = buf[i];
		i += took;
		if (rv == HTTP1_OK)
			break;
	}
	*consumed = i;
	*produced = out;
	return (rv < 0 || rv == HTTP1_OK ? rv : HTTP1_INCOMPLETE);
}

/* Whether the request line of an unfinished head has been parsed. */
int
http1_request_started(const struct http1_request *req)
{
	return ((req->ps.ps_bits & PS_STARTED) != 0);
}

int
http1_error_status(int err)
{
	if (err >= 0 || err < HTTP1_E_LAST)
		return (400);
	return (http1_errors[-err].status);
}

const char *
http1_error_reason(int err)
{
	if (err == HTTP1_OK)
		return ("ok");
	if (err == HTTP1_INCOMPLETE)
		return ("incomplete");
	if (err >= 0 || err < HTTP1_E_LAST)
		return (http1_errors[0].reason);
	return (http1_errors[-err].reason);
}

/* ASCII case-insensitive equality of two byte strings. */
int
http1_caseeq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	 i;

	if (alen != blen)
		return (0);
	for (i = 0; i < alen; i++)
		if (http1_lc((unsigned char)a[i]) !=
		    http1_lc((unsigned char)b[i]))
			return (0);
	return (1);
}

/*
 * The index of the first field at or after start whose name is name
 * (ignoring case), or -1.  Start again from the result + 1 for repeats.
 */
int
http1_field_find(const char *buf, const struct http1_field *fields,
    size_t nfields, size_t start, const char *name, size_t namelen)
{
	size_t	 i;

	for (i = start; i < nfields; i++)
		if (http1_caseeq(buf + fields[i].name_off, fields[i].name_len,
		    name, namelen))
			return (i);
	return (-1);
}

/* Whether a field name is hop-by-hop by itself (RFC 9110 7.6.1). */
int
http1_field_hop(const char *name, size_t len)
{
	const unsigned char	*n = (const unsigned char *)name;
	size_t			 i;

	/* http1_field_id() takes only tokens. */
	for (i = 0; i < len; i++)
		if ((http1_cc[n[i]] & CC_TCHAR) == 0)
			return (0);
	switch (http1_field_id(n, len)) {
	case HTTP1_H_CONNECTION:
	case HTTP1_H_KEEP_ALIVE:
	case HTTP1_H_PROXY_CONNECTION:
	case HTTP1_H_TE:
	case HTTP1_H_UPGRADE:
	case HTTP1_H_HTTP2_SETTINGS:
		return (1);
	}
	return (0);
}
