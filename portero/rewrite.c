/*
 * rewrite.c: what a server or location of the file changes in the heads
 * it forwards: fields set, added and removed, the path's prefix, and
 * who the client is (X-Forwarded-* or RFC 7239 Forwarded).
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

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"
#include "http1.h"

/* Whether a field of the head goes: a set or remove of lo's names it. */
int
rewrite_drops(const struct location *lo, int dir, const char *name,
    size_t len)
{
	const struct header_op	*ho;
	uint32_t		 i;

	for (i = 0; lo != NULL && i < lo->lo_nops; i++) {
		ho = lo->lo_ops[i];
		if (ho->ho_dir == dir && ho->ho_verb != HDR_ADD &&
		    http1_caseeq(ho->ho_name, ho->ho_namelen, name, len))
			return (1);
	}
	return (0);
}

/* The fields lo sets or adds, in the order the file gives them. */
int
rewrite_fields(struct buf *b, const struct location *lo, int dir,
    const struct macro_env *me)
{
	const struct header_op	*ho;
	uint32_t		 i;

	for (i = 0; lo != NULL && i < lo->lo_nops; i++) {
		ho = lo->lo_ops[i];
		if (ho->ho_dir != dir || ho->ho_verb == HDR_REMOVE)
			continue;
		if (buf_append(b, ho->ho_name, ho->ho_namelen) == -1 ||
		    BUF_APPEND_LIT(b, ": ") == -1 ||
		    macro_expand(b, ho->ho_value, me) == -1 ||
		    BUF_APPEND_LIT(b, "\r\n") == -1)
			return (-1);
	}
	return (0);
}

/* Whether lo changes anything in heads going dir. */
int
rewrite_any(const struct location *lo, int dir)
{
	uint32_t	 i;

	for (i = 0; lo != NULL && i < lo->lo_nops; i++)
		if (lo->lo_ops[i]->ho_dir == dir)
			return (1);
	return (0);
}

/*
 * The path upstream when lo replaces a prefix: plain (the path made
 * plain, which starts with lo_strip when the location took it) with
 * lo_prefix in its place, then the query as the client sent it.  A
 * path left empty, or not starting with '/', gets one.
 */
int
rewrite_path(struct buf *b, const struct location *lo, const char *plain,
    size_t plainlen, const char *query, size_t querylen)
{
	size_t		 strip = strlen(lo->lo_strip);
	size_t		 plen = strlen(lo->lo_prefix);
	const char	*rest = plain;
	size_t		 restlen = plainlen;

	if (strip <= plainlen && memcmp(plain, lo->lo_strip, strip) == 0) {
		rest += strip;
		restlen -= strip;
	} else
		plen = 0;	/* another prefix took it: left as it is */
	if (plen > 0 && lo->lo_prefix[plen - 1] == '/' && restlen > 0 &&
	    rest[0] == '/') {
		rest++;
		restlen--;
	}
	if (((plen > 0 && lo->lo_prefix[0] != '/') ||
	    (plen == 0 && (restlen == 0 || rest[0] != '/'))) &&
	    BUF_APPEND_LIT(b, "/") == -1)
		return (-1);
	if (buf_append(b, lo->lo_prefix, plen) == -1 ||
	    buf_append(b, rest, restlen) == -1)
		return (-1);
	return (buf_append(b, query, querylen));
}

/*
 * RFC 7239: "Forwarded: for=ADDR;proto=P;host=H", an IPv6 address
 * quoted in brackets, the host quoted when it is not a token.
 */
int
rewrite_forwarded(struct buf *b, const char *addr, int tls,
    const char *host, size_t hostlen)
{
	int	 v6 = strchr(addr, ':') != NULL;

	if (BUF_APPEND_LIT(b, "Forwarded: for=") == -1 ||
	    (v6 && BUF_APPEND_LIT(b, "\"[") == -1) ||
	    buf_append(b, addr, strlen(addr)) == -1 ||
	    (v6 && BUF_APPEND_LIT(b, "]\"") == -1) ||
	    (tls ? BUF_APPEND_LIT(b, ";proto=https") :
	    BUF_APPEND_LIT(b, ";proto=http")) == -1)
		return (-1);
	if (hostlen > 0 && (BUF_APPEND_LIT(b, ";host=\"") == -1 ||
	    buf_append(b, host, hostlen) == -1 ||
	    BUF_APPEND_LIT(b, "\"") == -1))
		return (-1);
	return (BUF_APPEND_LIT(b, "\r\n"));
}
