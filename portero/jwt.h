/*
 * jwt.h: HS256 JSON Web Tokens (jwt.c), shared by the registrar, which
 * checks them, and porterod-ctl, which makes them.
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

#ifndef JWT_H
#define JWT_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#define JWT_MAX		8192	/* a whole token */
#define JWT_PART_MAX	4096	/* a decoded header or payload */
#define JWT_KEYS_MAX	2	/* current and previous */

struct jwt_key {
	const unsigned char	*jk_key;
	size_t			 jk_len;
};

/*
 * What a token must satisfy: a signature by one of the keys; an issuer
 * when jr_issuer is set; an audience containing jr_audience when that is
 * set, and no audience at all when it is not; exp (required) and nbf
 * within jr_leeway seconds of now.
 */
struct jwt_rules {
	const struct jwt_key	*jr_keys;
	size_t			 jr_nkeys;
	const char		*jr_issuer;
	const char		*jr_audience;
	unsigned int		 jr_leeway;
};

struct jwt_claims {
	char		 jc_service[256];	/* service_name */
	double		 jc_exp;
};

int	 jwt_verify(const char *, size_t, const struct jwt_rules *, time_t,
	    struct jwt_claims *, const char **);
int	 jwt_sign(const unsigned char *, size_t, const char *, long long,
	    const char *, const char *, char *, size_t);
ssize_t	 jwt_b64_decode(const char *, size_t, unsigned char *, size_t);
ssize_t	 jwt_b64_encode(const unsigned char *, size_t, char *, size_t);

#endif /* JWT_H */
