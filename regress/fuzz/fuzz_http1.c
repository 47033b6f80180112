/*
 * fuzz_http1.c: libFuzzer harness for the HTTP/1.1 parser: the input as a
 * request head, a response head and a chunked body, whole and in pieces.
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

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../portero/http1.h"

/* Inputs up to this size are also fed one byte at a time. */
#define FUZZ_BYTEWISE_MAX	512

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #x);	\
		abort();						\
	}								\
} while (0)

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A copy of exactly len bytes, so that ASan sees any read past it. */
static char *
dup_exact(const char *buf, size_t len)
{
	char	*p;

	if ((p = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	memcpy(p, buf, len);
	return (p);
}

static void
check_fields(const char *buf, uint32_t head_len,
    const struct http1_field *fields, size_t nfields)
{
	const struct http1_field	*f;
	size_t				 i, j;

	CHECK(nfields <= HTTP1_MAX_FIELDS);
	for (i = 0; i < nfields; i++) {
		f = &fields[i];
		CHECK(f->name_len > 0);
		CHECK((uint32_t)f->name_off + f->name_len < head_len);
		CHECK((uint32_t)f->value_off + f->value_len <= head_len);
		CHECK(buf[f->name_off + f->name_len] == ':');
		CHECK(f->value_off > f->name_off + f->name_len);
		if (f->value_len > 0) {
			CHECK(buf[f->value_off] != ' ' &&
			    buf[f->value_off] != '\t');
			CHECK(buf[f->value_off + f->value_len - 1] != ' ' &&
			    buf[f->value_off + f->value_len - 1] != '\t');
		}
		for (j = 0; j < f->value_len; j++)
			CHECK(buf[f->value_off + j] != '\r' &&
			    buf[f->value_off + j] != '\n' &&
			    buf[f->value_off + j] != '\0');
	}
}

static void
check_request(const char *buf, size_t len, const struct http1_request *req)
{
	CHECK(req->head_len <= len);
	CHECK(req->head_len <= HTTP1_HEAD_MAX);
	CHECK(req->head_len >= 4);
	CHECK(memcmp(buf + req->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(req->version == 10 || req->version == 11);
	CHECK(req->method_len > 0);
	CHECK(req->target_len > 0);
	CHECK(req->method_len <= HTTP1_LINE_MAX);
	CHECK((uint32_t)req->target_off + req->target_len < req->head_len);
	CHECK(req->path_off >= req->target_off);
	CHECK(req->path_off + req->path_len ==
	    req->target_off + req->target_len);
	CHECK((uint32_t)req->host_off + req->host_len <= req->head_len);
	CHECK(req->hostname_len <= req->host_len);
	CHECK(req->version == 10 || req->host_len > 0);
	CHECK(req->method != HTTP1_M_CONNECT);
	CHECK(req->framing != HTTP1_BODY_UNTIL_CLOSE);
	CHECK(req->framing != HTTP1_BODY_CHUNKED || req->version == 11);
	CHECK(req->framing == HTTP1_BODY_LENGTH || req->content_length == 0);
	CHECK(req->content_length <= INT64_MAX);
	check_fields(buf, req->head_len, req->fields, req->nfields);
}

static void
check_response(const char *buf, size_t len, const struct http1_response *r)
{
	CHECK(r->head_len <= len);
	CHECK(r->head_len <= HTTP1_HEAD_MAX);
	CHECK(r->head_len >= 4);
	CHECK(memcmp(buf + r->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(r->version == 10 || r->version == 11);
	CHECK(r->status >= 100 && r->status <= 999);
	CHECK((uint32_t)r->reason_off + r->reason_len <= r->head_len);
	CHECK(r->status >= 200 || r->framing == HTTP1_BODY_NONE);
	CHECK(r->framing != HTTP1_BODY_UNTIL_CLOSE ||
	    (r->flags & HTTP1_KEEP_ALIVE) == 0);
	check_fields(buf, r->head_len, r->fields, r->nfields);
}

/* The parts of two results that must agree. */
static int
same_request(const struct http1_request *a, const struct http1_request *b)
{
	return (a->method == b->method && a->target_form == b->target_form &&
	    a->version == b->version && a->framing == b->framing &&
	    a->flags == b->flags && a->method_off == b->method_off &&
	    a->method_len == b->method_len &&
	    a->target_off == b->target_off &&
	    a->target_len == b->target_len && a->path_off == b->path_off &&
	    a->path_len == b->path_len && a->host_off == b->host_off &&
	    a->host_len == b->host_len &&
	    a->hostname_len == b->hostname_len &&
	    a->nfields == b->nfields && a->head_len == b->head_len &&
	    a->content_length == b->content_length &&
	    memcmp(a->fields, b->fields,
	    a->nfields * sizeof(a->fields[0])) == 0);
}

static int
same_response(const struct http1_response *a, const struct http1_response *b)
{
	return (a->version == b->version && a->framing == b->framing &&
	    a->status == b->status && a->flags == b->flags &&
	    a->reason_off == b->reason_off &&
	    a->reason_len == b->reason_len && a->nfields == b->nfields &&
	    a->head_len == b->head_len &&
	    a->content_length == b->content_length &&
	    memcmp(a->fields, b->fields,
	    a->nfields * sizeof(a->fields[0])) == 0);
}

/*
 * Fed in pieces, a parse may notice an error later (it waits for a line's
 * end) or name it differently, but never accepts differently.
 */
static void
compare_results(int whole, int pieces)
{
	if (whole == HTTP1_OK || pieces == HTTP1_OK)
		CHECK(whole == pieces);
	if (whole == HTTP1_INCOMPLETE)
		CHECK(pieces == HTTP1_INCOMPLETE);
}

static void
fuzz_request(const char *buf, size_t len, size_t cut)
{
	static struct http1_request	 req, req2;
	char				*p;
	size_t				 k, off;
	int				 rv, rv2;

	memset(&req, 0, sizeof(req));
	rv = http1_parse_request(buf, len, &req);
	CHECK(rv == HTTP1_OK || rv == HTTP1_INCOMPLETE ||
	    (rv < 0 && rv >= HTTP1_E_LAST));
	if (rv == HTTP1_OK)
		check_request(buf, len, &req);

	/* Split in two. */
	memset(&req2, 0, sizeof(req2));
	p = dup_exact(buf, cut);
	rv2 = http1_parse_request(p, cut, &req2);
	free(p);
	if (rv2 == HTTP1_INCOMPLETE)
		rv2 = http1_parse_request(buf, len, &req2);
	compare_results(rv, rv2);
	if (rv == HTTP1_OK)
		CHECK(same_request(&req, &req2));

	/* Byte by byte: INCOMPLETE until head_len exactly. */
	if (len <= FUZZ_BYTEWISE_MAX) {
		memset(&req2, 0, sizeof(req2));
		rv2 = HTTP1_INCOMPLETE;
		for (k = 1; k <= len && rv2 == HTTP1_INCOMPLETE; k++) {
			p = dup_exact(buf, k);
			rv2 = http1_parse_request(p, k, &req2);
			free(p);
			if (rv2 == HTTP1_OK)
				CHECK(k == req2.head_len);
		}
		compare_results(rv, rv2);
		if (rv == HTTP1_OK)
			CHECK(same_request(&req, &req2));
	}

	/* Pipelined heads after the first. */
	off = 0;
	while (rv == HTTP1_OK && (off += req.head_len) < len) {
		rv = http1_parse_request(buf + off, len - off, &req);
		if (rv == HTTP1_OK)
			check_request(buf + off, len - off, &req);
	}
}

static void
fuzz_response(const char *buf, size_t len, size_t cut, int head)
{
	static struct http1_response	 resp, resp2;
	char				*p;
	size_t				 k;
	int				 rv, rv2;

	memset(&resp, 0, sizeof(resp));
	rv = http1_parse_response(buf, len, head, &resp);
	CHECK(rv == HTTP1_OK || rv == HTTP1_INCOMPLETE ||
	    (rv < 0 && rv >= HTTP1_E_LAST));
	if (rv == HTTP1_OK)
		check_response(buf, len, &resp);

	memset(&resp2, 0, sizeof(resp2));
	p = dup_exact(buf, cut);
	rv2 = http1_parse_response(p, cut, head, &resp2);
	free(p);
	if (rv2 == HTTP1_INCOMPLETE)
		rv2 = http1_parse_response(buf, len, head, &resp2);
	compare_results(rv, rv2);
	if (rv == HTTP1_OK)
		CHECK(same_response(&resp, &resp2));

	if (len <= FUZZ_BYTEWISE_MAX) {
		memset(&resp2, 0, sizeof(resp2));
		rv2 = HTTP1_INCOMPLETE;
		for (k = 1; k <= len && rv2 == HTTP1_INCOMPLETE; k++) {
			p = dup_exact(buf, k);
			rv2 = http1_parse_response(p, k, head, &resp2);
			free(p);
			if (rv2 == HTTP1_OK)
				CHECK(k == resp2.head_len);
		}
		compare_results(rv, rv2);
		if (rv == HTTP1_OK)
			CHECK(same_response(&resp, &resp2));
	}
}

/* Feeds a body in pieces; returns the result and the bytes consumed. */
static int
chunk_feed(const char *buf, size_t len, size_t step, size_t cut,
    size_t *used, uint64_t *total)
{
	struct http1_chunked	 ck;
	char			*p;
	size_t			 off = 0, n, consumed;
	int			 rv = HTTP1_INCOMPLETE;

	http1_chunked_init(&ck);
	while (off < len) {
		if (step != 0)
			n = len - off < step ? len - off : step;
		else
			n = off < cut ? cut - off : len - off;
		p = dup_exact(buf + off, n);
		rv = http1_chunked_feed(&ck, p, n, &consumed);
		free(p);
		CHECK(consumed <= n);
		off += consumed;
		if (rv != HTTP1_INCOMPLETE)
			break;
		CHECK(consumed == n);
	}
	*used = off;
	*total = ck.ck_total;
	return (rv);
}

static void
fuzz_chunked(const char *buf, size_t len, size_t cut)
{
	uint64_t	 total, total2;
	size_t		 used, used2;
	int		 rv, rv2;

	rv = chunk_feed(buf, len, len, 0, &used, &total);
	CHECK(rv == HTTP1_OK || rv == HTTP1_INCOMPLETE ||
	    (rv < 0 && rv >= HTTP1_E_LAST));
	CHECK(total <= used);
	if (rv == HTTP1_OK)
		CHECK(used >= 5 && memcmp(buf + used - 2, "\r\n", 2) == 0);

	rv2 = chunk_feed(buf, len, 0, cut, &used2, &total2);
	CHECK(rv2 == rv && used2 == used && total2 == total);
	if (len <= FUZZ_BYTEWISE_MAX) {
		rv2 = chunk_feed(buf, len, 1, 0, &used2, &total2);
		CHECK(rv2 == rv && used2 == used && total2 == total);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf;
	size_t		 len, cut;

	if (size < 1)
		return (0);
	/* The first byte says where to split and whether it answers HEAD. */
	buf = (const char *)data + 1;
	len = size - 1;
	cut = len * (data[0] >> 1) / 128;
	fuzz_request(buf, len, cut);
	fuzz_response(buf, len, cut, data[0] & 1);
	fuzz_chunked(buf, len, cut);
	return (0);
}
