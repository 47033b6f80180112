/*
 * proxyproto.h: the PROXY protocol header (versions 1 and 2) that a load
 * balancer sends before the client's bytes; self-contained, no allocation.
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

#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Limits: a version 1 line is at most 107 bytes with its CRLF (the
 * specification's own bound); a version 2 header, its 16 fixed bytes
 * and the addresses and TLVs after them, at most PROXYPROTO_MAX.  A
 * longer one is refused rather than waited for.
 */
#define PROXYPROTO_V1_MAX	107
#define PROXYPROTO_V2_HEAD	16
#define PROXYPROTO_MAX		1024

/* Results of proxyproto_parse() other than a byte count. */
#define PROXYPROTO_NEED_MORE	0
#define PROXYPROTO_ERROR	(-1)

/*
 * What a header says.  pp_family is AF_INET or AF_INET6 with the
 * client's address and port, or AF_UNSPEC when the connection's own
 * endpoints stand (version 1 UNKNOWN, version 2 LOCAL or UNSPEC).  On
 * an error pp_why says what was wrong.
 */
struct proxyproto {
	int		 pp_version;	/* 1 or 2 */
	int		 pp_family;
	uint8_t		 pp_src[16];	/* network order, 4 or 16 bytes */
	uint8_t		 pp_dst[16];
	uint16_t	 pp_srcport;
	uint16_t	 pp_dstport;
	const char	*pp_why;
};

/*
 * Parse the header at the front of the len bytes at buf.  Returns the
 * header's length (the bytes after it are the client's),
 * PROXYPROTO_NEED_MORE while every byte so far could still begin a good
 * header, or PROXYPROTO_ERROR as soon as one cannot.
 */
ssize_t	 proxyproto_parse(const void *, size_t, struct proxyproto *);

#endif /* PROXYPROTO_H */
