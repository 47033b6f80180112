/*
 * proxyproto.c: the PROXY protocol header (haproxy's proxy-protocol.txt,
 * versions 1 and 2), parsed strictly and within bounds; no allocation.
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

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "proxyproto.h"

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_LEN	6
#define V2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define V2_SIG_LEN	12

#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_TCP4		0x11	/* AF_INET, STREAM */
#define V2_TCP6		0x21	/* AF_INET6, STREAM */
#define V2_UNSPEC	0x00
#define V2_TLV_HEAD	3	/* type, 16-bit length */

static ssize_t
pp_fail(struct proxyproto *pp, const char *why)
{
	pp->pp_why = why;
	return (PROXYPROTO_ERROR);
}

/*
 * A port of a version 1 line: decimal, 0 to 65535, no leading zero.
 * Returns the bytes it took, or 0.
 */
static size_t
pp_v1_port(const char *p, size_t len, uint16_t *port)
{
	uint32_t	 v = 0;
	size_t		 i;

	for (i = 0; i < len && i < 6 && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (p[i] - '0');
	if (i == 0 || i > 5 || v > 65535 || (i > 1 && p[0] == '0'))
		return (0);
	*port = v;
	return (i);
}

/* An address of a version 1 line, up to the next space. */
static size_t
pp_v1_addr(const char *p, size_t len, int family, uint8_t *out)
{
	char	 buf[INET6_ADDRSTRLEN];
	size_t	 i;

	for (i = 0; i < len && p[i] != ' '; i++)
		if (i + 1 >= sizeof(buf))
			return (0);
	if (i == 0)
		return (0);
	memcpy(buf, p, i);
	buf[i] = '\0';
	if (inet_pton(family, buf, out) != 1)
		return (0);
	return (i);
}

/*
 * "PROXY TCP4 SRC DST SPORT DPORT", one space between each, the CRLF
 * already taken off; or "PROXY UNKNOWN" and anything.
 */
static ssize_t
pp_v1_line(const char *p, size_t len, struct proxyproto *pp)
{
	size_t		 off = V1_PREFIX_LEN, n;
	int		 family;

	if (len - off >= 7 && memcmp(p + off, "UNKNOWN", 7) == 0 &&
	    (len - off == 7 || p[off + 7] == ' '))
		return (0);
	if (len - off < 5 || (memcmp(p + off, "TCP4 ", 5) != 0 &&
	    memcmp(p + off, "TCP6 ", 5) != 0))
		return (pp_fail(pp, "v1: not TCP4, TCP6 or UNKNOWN"));
	family = p[off + 3] == '4' ? AF_INET : AF_INET6;
	off += 5;
	if ((n = pp_v1_addr(p + off, len - off, family, pp->pp_src)) == 0 ||
	    (off += n) >= len || p[off++] != ' ')
		return (pp_fail(pp, "v1: bad source address"));
	if ((n = pp_v1_addr(p + off, len - off, family, pp->pp_dst)) == 0 ||
	    (off += n) >= len || p[off++] != ' ')
		return (pp_fail(pp, "v1: bad destination address"));
	if ((n = pp_v1_port(p + off, len - off, &pp->pp_srcport)) == 0 ||
	    (off += n) >= len || p[off++] != ' ')
		return (pp_fail(pp, "v1: bad source port"));
	if ((n = pp_v1_port(p + off, len - off, &pp->pp_dstport)) == 0 ||
	    off + n != len)
		return (pp_fail(pp, "v1: bad destination port"));
	pp->pp_family = family;
	return (0);
}

/* Version 1: printable characters up to a CRLF within 107 bytes. */
static ssize_t
pp_v1(const char *buf, size_t len, struct proxyproto *pp)
{
	const unsigned char	*p = (const unsigned char *)buf;
	size_t			 i;

	pp->pp_version = 1;
	for (i = 0; i < len; i++) {
		if (p[i] == '\r') {
			if (i + 1 == len)
				return (PROXYPROTO_NEED_MORE);
			if (p[i + 1] != '\n')
				return (pp_fail(pp, "v1: CR without LF"));
			if (pp_v1_line(buf, i, pp) == PROXYPROTO_ERROR)
				return (PROXYPROTO_ERROR);
			return (i + 2);
		}
		/* no room left for a CRLF after this byte */
		if (i + 2 >= PROXYPROTO_V1_MAX)
			return (pp_fail(pp, "v1: no CRLF within 107 bytes"));
		if (p[i] < ' ' || p[i] > '~')
			return (pp_fail(pp, "v1: a control character"));
	}
	return (PROXYPROTO_NEED_MORE);
}

/* The TLVs after the addresses fill the rest exactly. */
static int
pp_v2_tlvs(const uint8_t *p, size_t len)
{
	size_t	 off = 0, tlen;

	while (off < len) {
		if (len - off < V2_TLV_HEAD)
			return (-1);
		tlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (tlen > len - off - V2_TLV_HEAD)
			return (-1);
		off += V2_TLV_HEAD + tlen;
	}
	return (0);
}

/* The address block of a PROXY command, then its TLVs. */
static ssize_t
pp_v2_proxy(const uint8_t *p, size_t hlen, uint8_t fam,
    struct proxyproto *pp)
{
	size_t	 alen, asize;

	switch (fam) {
	case V2_TCP4:
		pp->pp_family = AF_INET;
		asize = 4;
		break;
	case V2_TCP6:
		pp->pp_family = AF_INET6;
		asize = 16;
		break;
	default:	/* V2_UNSPEC: the connection's own endpoints */
		return (0);
	}
	alen = 2 * asize + 4;
	if (hlen < alen) {
		pp->pp_family = AF_UNSPEC;
		return (pp_fail(pp, "v2: shorter than its addresses"));
	}
	memcpy(pp->pp_src, p, asize);
	memcpy(pp->pp_dst, p + asize, asize);
	pp->pp_srcport = (uint16_t)(p[2 * asize] << 8 | p[2 * asize + 1]);
	pp->pp_dstport = (uint16_t)(p[2 * asize + 2] << 8 |
	    p[2 * asize + 3]);
	if (pp_v2_tlvs(p + alen, hlen - alen) == -1) {
		pp->pp_family = AF_UNSPEC;
		return (pp_fail(pp, "v2: a TLV past the header's length"));
	}
	return (0);
}

/*
 * Version 2: the signature, version and command, family and transport,
 * a length, then that many bytes.  Each fixed byte is judged as soon as
 * it has come.
 */
static ssize_t
pp_v2(const uint8_t *p, size_t len, struct proxyproto *pp)
{
	size_t	 hlen;
	uint8_t	 cmd;

	pp->pp_version = 2;
	if (len <= V2_SIG_LEN)
		return (PROXYPROTO_NEED_MORE);
	if ((p[12] >> 4) != 2)
		return (pp_fail(pp, "v2: version is not 2"));
	cmd = p[12] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return (pp_fail(pp, "v2: command neither LOCAL nor PROXY"));
	if (len <= 13)
		return (PROXYPROTO_NEED_MORE);
	if (cmd == V2_CMD_PROXY && p[13] != V2_TCP4 && p[13] != V2_TCP6 &&
	    p[13] != V2_UNSPEC)
		return (pp_fail(pp, "v2: not TCP over IPv4 or IPv6"));
	if (len < PROXYPROTO_V2_HEAD)
		return (PROXYPROTO_NEED_MORE);
	hlen = (size_t)p[14] << 8 | p[15];
	if (hlen > PROXYPROTO_MAX - PROXYPROTO_V2_HEAD)
		return (pp_fail(pp, "v2: longer than 1024 bytes"));
	if (len - PROXYPROTO_V2_HEAD < hlen)
		return (PROXYPROTO_NEED_MORE);
	/* LOCAL: the sender's own connection, say a health check */
	if (cmd == V2_CMD_PROXY && pp_v2_proxy(p + PROXYPROTO_V2_HEAD, hlen,
	    p[13], pp) == PROXYPROTO_ERROR)
		return (PROXYPROTO_ERROR);
	return (PROXYPROTO_V2_HEAD + hlen);
}

ssize_t
proxyproto_parse(const void *buf, size_t len, struct proxyproto *pp)
{
	const uint8_t	*p = buf;

	memset(pp, 0, sizeof(*pp));
	pp->pp_family = AF_UNSPEC;
	if (len == 0)
		return (PROXYPROTO_NEED_MORE);
	if (memcmp(p, V2_SIG, len < V2_SIG_LEN ? len : V2_SIG_LEN) == 0)
		return (pp_v2(p, len, pp));
	if (memcmp(p, V1_PREFIX, len < V1_PREFIX_LEN ? len :
	    V1_PREFIX_LEN) == 0) {
		if (len < V1_PREFIX_LEN)
			return (PROXYPROTO_NEED_MORE);
		return (pp_v1(buf, len, pp));
	}
	return (pp_fail(pp, "not a PROXY protocol header"));
}
