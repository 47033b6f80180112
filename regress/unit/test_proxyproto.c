/*
 * test_proxyproto.c: unit tests of the PROXY protocol parser
 * (portero/proxyproto.c), good and bad headers of both versions, each
 * also cut at every byte; one PASS/FAIL line per case.
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

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../portero/proxyproto.h"

#define R(s)		.raw = (s), .len = sizeof(s) - 1
#define S(s)		(s), sizeof(s) - 1
#define SIG		"\r\n\r\n\0\r\nQUIT\n"
/* the client's own bytes, after a header */
#define AFTER		"\x16\x03\x01 GET / HTTP/1.1\r\n"

struct pp_case {
	const char	*name;
	const char	*raw;
	size_t		 len;
	ssize_t		 rv;	/* bytes of the header, or an error */
	int		 family;
	const char	*src;	/* as inet_ntop writes it */
	uint16_t	 port;
	const char	*why;	/* part of the reason, for errors */
};

static const struct pp_case cases[] = {
	/* version 1, good */
	{ "v1_tcp4", R("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
	    45, AF_INET, "192.0.2.1", 56324 },
	{ "v1_tcp6", R("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"),
	    44, AF_INET6, "2001:db8::1", 1 },
	{ "v1_tcp4_port0", R("PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n"),
	    34, AF_INET, "10.0.0.1", 0 },
	{ "v1_unknown", R("PROXY UNKNOWN\r\n"), 15, AF_UNSPEC },
	{ "v1_unknown_rest", R("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), 35,
	    AF_UNSPEC },
	{ "v1_longest", R("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 104,
	    AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535 },
	{ "v1_then_bytes", R("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" AFTER), 32,
	    AF_INET, "1.2.3.4", 1 },
	{ "v1_unknown_107", R("PROXY UNKNOWN "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"), 107, AF_UNSPEC },

	/* version 1, bad */
	{ "v1_unknown_108", R("PROXY UNKNOWN "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"), -1, 0, NULL, 0,
	    "107 bytes" },
	{ "v1_lowercase", R("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), -1, 0,
	    NULL, 0, "not a PROXY" },
	{ "v1_udp", R("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), -1, 0, NULL, 0,
	    "TCP4" },
	{ "v1_family_mismatch", R("PROXY TCP4 ::1 ::2 1 2\r\n"), -1, 0, NULL,
	    0, "source address" },
	{ "v1_tcp6_v4", R("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), -1, 0, NULL,
	    0, "source address" },
	{ "v1_bad_dst", R("PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n"), -1, 0, NULL,
	    0, "destination address" },
	{ "v1_leading_zero_addr", R("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"),
	    -1, 0, NULL, 0, "source address" },
	{ "v1_port_big", R("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), -1, 0,
	    NULL, 0, "source port" },
	{ "v1_port_zero_lead", R("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), -1,
	    0, NULL, 0, "source port" },
	{ "v1_port_sign", R("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), -1, 0,
	    NULL, 0, "source port" },
	{ "v1_two_spaces", R("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), -1, 0,
	    NULL, 0, "destination address" },
	{ "v1_trailing", R("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), -1, 0,
	    NULL, 0, "destination port" },
	{ "v1_missing_port", R("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), -1, 0,
	    NULL, 0, "source port" },
	{ "v1_lf_only", R("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), -1, 0, NULL,
	    0, "control" },
	{ "v1_cr_only", R("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), -1, 0, NULL,
	    0, "CR without LF" },
	{ "v1_nul", R("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"), -1, 0, NULL,
	    0, "control" },
	{ "v1_high_byte", R("PROXY TCP4 1.2.3.4\xc3\xa9 5.6.7.8 1 2\r\n"), -1,
	    0, NULL, 0, "control" },
	{ "v1_unknownx", R("PROXY UNKNOWNX\r\n"), -1, 0, NULL, 0, "TCP4" },
	{ "v1_empty", R("PROXY \r\n"), -1, 0, NULL, 0, "TCP4" },
	{ "http_request", R("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), -1, 0, NULL,
	    0, "not a PROXY" },
	{ "tls_hello", R("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), -1,
	    0, NULL, 0, "not a PROXY" },

	/* version 2, good */
	{ "v2_tcp4", R(SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01"
	    "\xc6\x33\x64\x02" "\xdc\x04" "\x01\xbb"), 28, AF_INET,
	    "192.0.2.1", 56324 },
	{ "v2_tcp6", R(SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
	    "\x00\x50" "\x01\xbb"), 52, AF_INET6, "2001:db8::1", 80 },
	{ "v2_tcp4_tlvs", R(SIG "\x21\x11\x00\x1a" "\x0a\x00\x00\x01"
	    "\x0a\x00\x00\x02" "\x00\x01" "\x00\x02"
	    "\x04\x00\x00" "\xea\x00\x08" "vpce-123"), 42, AF_INET, "10.0.0.1",
	    1 },
	{ "v2_local", R(SIG "\x20\x00\x00\x00"), 16, AF_UNSPEC },
	{ "v2_local_with_junk", R(SIG "\x20\x31\x00\x03" "abc"), 19,
	    AF_UNSPEC },
	{ "v2_unspec", R(SIG "\x21\x00\x00\x00"), 16, AF_UNSPEC },
	{ "v2_then_bytes", R(SIG "\x21\x11\x00\x0c" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08" "\x00\x09" "\x00\x0a" AFTER), 28, AF_INET,
	    "1.2.3.4", 9 },

	/* version 2, bad */
	{ "v2_version1", R(SIG "\x11\x11\x00\x0c" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00\x0a"), -1, 0, NULL, 0, "version" },
	{ "v2_command2", R(SIG "\x22\x11\x00\x0c" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00\x0a"), -1, 0, NULL, 0, "command" },
	{ "v2_udp", R(SIG "\x21\x12\x00\x0c" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00\x0a"), -1, 0, NULL, 0, "TCP" },
	{ "v2_unix", R(SIG "\x21\x31\x00\x00"), -1, 0, NULL, 0, "TCP" },
	{ "v2_short_addr", R(SIG "\x21\x11\x00\x0b" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00"), -1, 0, NULL, 0, "shorter" },
	{ "v2_short_addr6", R(SIG "\x21\x21\x00\x0c" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00\x0a"), -1, 0, NULL, 0, "shorter" },
	{ "v2_tlv_past_end", R(SIG "\x21\x11\x00\x10" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00\x0a" "\x04\x00\x02" "x"), -1, 0,
	    NULL, 0, "TLV" },
	{ "v2_tlv_stub", R(SIG "\x21\x11\x00\x0e" "\x01\x02\x03\x04"
	    "\x05\x06\x07\x08\x00\x09\x00\x0a" "\x04\x00"), -1, 0, NULL, 0,
	    "TLV" },
	{ "v2_too_long", R(SIG "\x21\x11\x03\xf1"), -1, 0, NULL, 0,
	    "1024" },
	{ "v2_max_len", R(SIG "\x21\x11\xff\xff"), -1, 0, NULL, 0, "1024" },
	{ "v2_bad_sig", R("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00"), -1, 0,
	    NULL, 0, "not a PROXY" },
};

static int	 failures;

static void
fail(const char *name, const char *fmt, ...)
{
	va_list	 ap;

	failures++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* A copy of exactly len bytes, so that a sanitizer sees a read past it. */
static char *
dup_exact(const char *buf, size_t len)
{
	char	*p;

	if ((p = malloc(len == 0 ? 1 : len)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(p, buf, len);
	return (p);
}

static int
check_whole(const struct pp_case *c)
{
	struct proxyproto	 pp;
	char			 addr[INET6_ADDRSTRLEN], *p;
	ssize_t			 rv;

	p = dup_exact(c->raw, c->len);
	rv = proxyproto_parse(p, c->len, &pp);
	free(p);
	if (rv != c->rv) {
		fail(c->name, "returned %zd, want %zd (%s)", rv, c->rv,
		    pp.pp_why != NULL ? pp.pp_why : "-");
		return (-1);
	}
	if (rv < 0) {
		if (pp.pp_why == NULL || strstr(pp.pp_why, c->why) == NULL) {
			fail(c->name, "reason \"%s\", want \"%s\"",
			    pp.pp_why != NULL ? pp.pp_why : "", c->why);
			return (-1);
		}
		return (0);
	}
	if (pp.pp_family != c->family) {
		fail(c->name, "family %d, want %d", pp.pp_family, c->family);
		return (-1);
	}
	if (c->family == AF_UNSPEC)
		return (0);
	if (inet_ntop(c->family, pp.pp_src, addr, sizeof(addr)) == NULL ||
	    strcmp(addr, c->src) != 0 || pp.pp_srcport != c->port) {
		fail(c->name, "source %s port %u, want %s port %u", addr,
		    pp.pp_srcport, c->src, c->port);
		return (-1);
	}
	return (0);
}

/*
 * Every cut of a good header short of its end waits for more; a bad
 * one waits or fails, and never succeeds.  Cut anywhere past its end,
 * a good one gives the same length.
 */
static int
check_cuts(const struct pp_case *c)
{
	struct proxyproto	 pp;
	char			*p;
	size_t			 k;
	ssize_t			 rv;

	for (k = 0; k < c->len; k++) {
		p = dup_exact(c->raw, k);
		rv = proxyproto_parse(p, k, &pp);
		free(p);
		if (c->rv > 0 && (size_t)c->rv > k &&
		    rv != PROXYPROTO_NEED_MORE) {
			fail(c->name, "cut at %zu: %zd, want NEED_MORE (%s)",
			    k, rv, pp.pp_why != NULL ? pp.pp_why : "-");
			return (-1);
		}
		if (c->rv > 0 && (size_t)c->rv <= k && rv != c->rv) {
			fail(c->name, "cut at %zu: %zd, want %zd", k, rv,
			    c->rv);
			return (-1);
		}
		if (c->rv < 0 && rv > 0) {
			fail(c->name, "cut at %zu: took %zd bytes of a bad "
			    "header", k, rv);
			return (-1);
		}
	}
	return (0);
}

static void
test_cases(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (check_whole(&cases[i]) == 0 && check_cuts(&cases[i]) == 0)
			printf("PASS %s\n", cases[i].name);
}

/*
 * Bytes that cannot begin a header are refused at once: a client
 * speaking TLS or HTTP straight to a PROXY listener is not waited for.
 */
static void
test_early(void)
{
	static const struct {
		const char	*s;
		size_t		 len;
	} starts[] = {
		{ S("G") }, { S("\x16") }, { S("PROXY\t") }, { S("PROXx") },
		{ S("\r\n\r\n\0\r\nQ\0") }, { S("\r\r") },
	};
	struct proxyproto	 pp;
	size_t			 i;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (proxyproto_parse(starts[i].s, starts[i].len, &pp) !=
		    PROXYPROTO_ERROR) {
			fail("early_refusal", "start %zu not refused", i);
			return;
		}
	/* a v2 header's version and length are judged as they come */
	if (proxyproto_parse(SIG "\x31", 13, &pp) != PROXYPROTO_ERROR ||
	    proxyproto_parse(SIG "\x21\x31", 14, &pp) != PROXYPROTO_ERROR ||
	    proxyproto_parse(SIG "\x21\x11\x04\x00", 16, &pp) !=
	    PROXYPROTO_ERROR) {
		fail("early_refusal", "a v2 head not refused at once");
		return;
	}
	printf("PASS early_refusal\n");
}

/* The longest v2 header taken, and one byte more refused. */
static void
test_v2_bound(void)
{
	static char		 buf[PROXYPROTO_MAX + 1];
	struct proxyproto	 pp;
	size_t			 hlen = PROXYPROTO_MAX - PROXYPROTO_V2_HEAD;
	size_t			 tlv = hlen - 12 - 3;

	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = hlen >> 8;
	buf[15] = hlen & 0xff;
	memset(buf + 16, 7, 12);
	buf[28] = 0x04;		/* NOOP, filling the rest */
	buf[29] = tlv >> 8;
	buf[30] = tlv & 0xff;
	if (proxyproto_parse(buf, PROXYPROTO_MAX, &pp) != PROXYPROTO_MAX) {
		fail("v2_bound", "a %d-byte header refused: %s",
		    PROXYPROTO_MAX, pp.pp_why);
		return;
	}
	hlen++;
	buf[14] = hlen >> 8;
	buf[15] = hlen & 0xff;
	if (proxyproto_parse(buf, PROXYPROTO_MAX + 1, &pp) !=
	    PROXYPROTO_ERROR) {
		fail("v2_bound", "a %d-byte header taken", PROXYPROTO_MAX + 1);
		return;
	}
	printf("PASS v2_bound\n");
}

int
main(void)
{
	test_cases();
	test_early();
	test_v2_bound();
	return (failures == 0 ? 0 : 1);
}
