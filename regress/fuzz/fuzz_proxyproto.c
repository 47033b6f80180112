/*
 * fuzz_proxyproto.c: libFuzzer harness for the PROXY protocol parser:
 * the input whole and cut at every byte, the results held to agree.
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

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../portero/proxyproto.h"

/* Past this, a cut changes nothing: the parser refuses longer headers. */
#define FUZZ_CUT_MAX	(PROXYPROTO_MAX + 1)

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #x);	\
		abort();						\
	}								\
} while (0)

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A copy of exactly len bytes, so that ASan sees any read past it. */
static uint8_t *
dup_exact(const uint8_t *buf, size_t len)
{
	uint8_t	*p;

	if ((p = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	memcpy(p, buf, len);
	return (p);
}

static ssize_t
parse_copy(const uint8_t *buf, size_t len, struct proxyproto *pp)
{
	uint8_t	*p = dup_exact(buf, len);
	ssize_t	 rv;

	rv = proxyproto_parse(p, len, pp);
	free(p);
	return (rv);
}

static void
check_result(ssize_t rv, size_t len, const struct proxyproto *pp)
{
	CHECK(rv == PROXYPROTO_ERROR || rv == PROXYPROTO_NEED_MORE ||
	    (rv > 0 && (size_t)rv <= len));
	CHECK(rv <= PROXYPROTO_MAX);
	if (rv == PROXYPROTO_ERROR)
		CHECK(pp->pp_why != NULL);
	if (rv <= 0)
		return;
	CHECK(pp->pp_version == 1 || pp->pp_version == 2);
	CHECK(pp->pp_version == 2 || rv <= PROXYPROTO_V1_MAX);
	CHECK(pp->pp_version == 1 || rv >= PROXYPROTO_V2_HEAD);
	CHECK(pp->pp_family == AF_UNSPEC || pp->pp_family == AF_INET ||
	    pp->pp_family == AF_INET6);
}

/*
 * Cut short: a header taken whole waits at every shorter cut and is the
 * same at every longer one; an error, once seen, stays.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto	 pp, whole;
	ssize_t			 rv, rvk, last = PROXYPROTO_NEED_MORE;
	size_t			 k, max;

	rv = parse_copy(data, size, &whole);
	check_result(rv, size, &whole);
	max = size < FUZZ_CUT_MAX ? size : FUZZ_CUT_MAX;
	for (k = 0; k <= max; k++) {
		rvk = parse_copy(data, k, &pp);
		check_result(rvk, k, &pp);
		if (rv > 0 && k < (size_t)rv)
			CHECK(rvk == PROXYPROTO_NEED_MORE);
		else if (rv > 0) {
			CHECK(rvk == rv);
			CHECK(pp.pp_family == whole.pp_family);
			CHECK(memcmp(pp.pp_src, whole.pp_src,
			    sizeof(pp.pp_src)) == 0);
			CHECK(pp.pp_srcport == whole.pp_srcport);
		}
		if (rv == PROXYPROTO_NEED_MORE)
			CHECK(rvk == PROXYPROTO_NEED_MORE);
		if (last == PROXYPROTO_ERROR)
			CHECK(rvk == PROXYPROTO_ERROR);
		last = rvk;
	}
	return (0);
}
