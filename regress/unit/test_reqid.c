/*
 * test_reqid.c: the request ids a worker makes (portero/reqid.c): their
 * form, and a count that carries from digit to digit as a number does.
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

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../portero/portero.h"

/* What reqid_request() and reqid_field() use, unused here. */
struct worker	*worker_env;

int
buf_field(struct buf *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	return (0);
}

static int	 failures;

static void
result(const char *name, int ok, const char *detail)
{
	if (ok)
		printf("PASS %s\n", name);
	else {
		failures++;
		printf("FAIL %s: %s\n", name, detail);
	}
}

/* "PPPPPPPP-WW-" then 16 hex digits: the count, or -1 if malformed. */
static int64_t
count_of(const char *id, const char *prefix)
{
	size_t	 i;

	if (strlen(id) != 28 || memcmp(id, prefix, 12) != 0)
		return (-1);
	for (i = 12; i < 28; i++)
		if (strchr("0123456789abcdef", id[i]) == NULL)
			return (-1);
	return ((int64_t)strtoull(id + 12, NULL, 16));
}

/* 70,000 ids in a row: 1, 2, ... in hex, across every carry to 0x10000. */
static void
test_counts(void)
{
	char		 id[REQID_MAX + 1], prefix[13], why[128];
	int64_t		 i, n;
	int		 ok = 1;

	reqid_init(7);
	reqid_make(id, sizeof(id));
	memcpy(prefix, id, 12);
	prefix[12] = '\0';
	ok = strspn(prefix, "0123456789abcdef") == 8 &&
	    memcmp(prefix + 8, "-07-", 4) == 0;
	result("reqid_form", ok, id);
	ok = 1;
	for (i = 1; i <= 70000 && ok; i++) {
		if (i > 1)
			reqid_make(id, sizeof(id));
		if ((n = count_of(id, prefix)) != i) {
			(void)snprintf(why, sizeof(why), "id %" PRId64 " is "
			    "%s", i, id);
			ok = 0;
		}
	}
	result("reqid_counts_carry", ok, ok ? "" : why);
}

/* Too small a buffer gets an empty id, never a cut one. */
static void
test_small(void)
{
	char	 id[28];

	memset(id, 'x', sizeof(id));
	reqid_make(id, sizeof(id));
	result("reqid_small_buffer", id[0] == '\0', "not emptied");
}

static void
test_sane(void)
{
	result("reqid_sane", reqid_sane("abc-DEF_1.2:3", 13) &&
	    !reqid_sane("", 0) && !reqid_sane("a b", 3) &&
	    !reqid_sane("a\"b", 3) &&
	    reqid_sane("0123456789012345678901234567890123456789012345678901"
	    "234567890123", 64) &&
	    !reqid_sane("0123456789012345678901234567890123456789012345678901"
	    "2345678901234", 65), "a value judged wrongly");
}

int
main(void)
{
	test_counts();
	test_small();
	test_sane();
	return (failures != 0);
}
