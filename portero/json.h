/*
 * json.h: flat JSON objects read strictly (json.c), for the registration
 * API and the tokens that guard it; self-contained, like http1.h.
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

#ifndef JSON_H
#define JSON_H

#include <stddef.h>

enum json_type {
	JSON_STRING,		/* into jf_str, NUL-terminated */
	JSON_STRINGS,		/* a string or an array of them: jf_matched
				   says whether jf_want was among them */
	JSON_INTEGER,		/* jf_int; no fraction, no exponent */
	JSON_NUMBER,		/* jf_num, integer or not */
	JSON_BOOL		/* jf_bool */
};

/* A key the caller wants, and what its value was. */
struct json_field {
	const char	*jf_name;
	enum json_type	 jf_type;
	char		*jf_str;	/* JSON_STRING: the caller's buffer */
	size_t		 jf_strsize;
	const char	*jf_want;	/* JSON_STRINGS: the value looked for */
	int		 jf_seen;	/* the key came, with the right type */
	int		 jf_matched;
	size_t		 jf_strlen;
	long long	 jf_int;
	double		 jf_num;
	int		 jf_bool;
};

int		 json_object(const char *, size_t, struct json_field *, size_t,
		    char *, size_t);
const char	*json_type_name(enum json_type);

#endif /* JSON_H */
