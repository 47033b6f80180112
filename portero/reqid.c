/*
 * reqid.c: the request id every request carries to its backend in
 * X-Request-Id and into the access log, and the request fields kept
 * for the log with it.
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

/*
 * An id portero makes is "PPPPPPPP-WW-CCCCCCCCCCCCCCCC" in hex: a
 * random prefix drawn when the worker starts, the worker's number and
 * a count of its requests.  Unique per worker and start, and it costs
 * no system call.  A client's own X-Request-Id is kept only with
 * trust-request-id, and only when it is one sane value.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "portero.h"

#define REQID_LEN	28	/* 8 + 1 + 2 + 1 + 16 */

/*
 * The last id made, counted up in place: most ids differ from the one
 * before in their last digit, so a new one costs a digit and a copy,
 * not sixteen divisions into hex.
 */
static char		 reqid_last[REQID_LEN + 1];

static void
reqid_hex(char *p, uint64_t v, int digits)
{
	static const char	 hex[] = "0123456789abcdef";

	while (digits-- > 0) {
		p[digits] = hex[v & 0xf];
		v >>= 4;
	}
}

void
reqid_init(unsigned int worker)
{
	reqid_hex(reqid_last, arc4random(), 8);
	reqid_last[8] = '-';
	reqid_hex(reqid_last + 9, worker, 2);
	reqid_last[11] = '-';
	reqid_hex(reqid_last + 12, 0, 16);
	reqid_last[REQID_LEN] = '\0';
}

/* 1 to REQID_MAX bytes of [A-Za-z0-9._:-]. */
int
reqid_sane(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0 || len > REQID_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == ':' || c == '-'))
			return (0);
	}
	return (1);
}

/* A new id into buf, of at least REQID_LEN + 1 bytes. */
void
reqid_make(char *buf, size_t size)
{
	char	*p;

	if (size < REQID_LEN + 1) {
		buf[0] = '\0';
		return;
	}
	/* the count's hex digits, plus one, carried leftwards */
	for (p = reqid_last + REQID_LEN - 1; p >= reqid_last + 12; p--) {
		if (*p == '9') {
			*p = 'a';
			break;
		}
		if (*p != 'f') {
			(*p)++;
			break;
		}
		*p = '0';
	}
	memcpy(buf, reqid_last, REQID_LEN + 1);
}

/* A field's value kept, cut to fit. */
static void
reqid_keep(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * A whole request head has come: its Referer and User-Agent are kept
 * for the log, and it gets its id, in one look at its fields.  With
 * no log to keep them for and no client's id to keep, nothing is
 * looked at: the id is made.
 */
void
reqid_request(struct exchange *xc, const char *head)
{
	const struct portero_config	*conf = &worker_env->wk_conf;
	const struct http1_request	*req = xc->xc_req;
	const struct http1_field	*f, *theirs = NULL;
	int				 i, n = 0;

	if (conf->access_log_off && !conf->trust_request_id) {
		reqid_make(xc->xc_reqid, sizeof(xc->xc_reqid));
		return;
	}
	for (i = 0; i < req->nfields; i++) {
		f = &req->fields[i];
		switch (f->id) {
		case HTTP1_H_REFERER:
			reqid_keep(xc->xc_referer, sizeof(xc->xc_referer),
			    head + f->value_off, f->value_len);
			break;
		case HTTP1_H_USER_AGENT:
			reqid_keep(xc->xc_agent, sizeof(xc->xc_agent),
			    head + f->value_off, f->value_len);
			break;
		case HTTP1_H_X_REQUEST_ID:
			theirs = f;
			n++;
			break;
		}
	}
	/* two of them is no one value: a new id */
	if (conf->trust_request_id && n == 1 &&
	    reqid_sane(head + theirs->value_off, theirs->value_len))
		reqid_keep(xc->xc_reqid, sizeof(xc->xc_reqid),
		    head + theirs->value_off, theirs->value_len);
	else
		reqid_make(xc->xc_reqid, sizeof(xc->xc_reqid));
}

/* The request's X-Request-Id for the backend: the only one it gets. */
int
reqid_field(struct buf *b, const struct exchange *xc)
{
	return (buf_field(b, "X-Request-Id", 12, xc->xc_reqid,
	    strlen(xc->xc_reqid)));
}
