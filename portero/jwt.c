/*
 * jwt.c: HS256 JSON Web Tokens (RFC 7519, RFC 7515), made by porterod-ctl
 * and checked by the registrar: strict base64url, HS256 alone, no "crit",
 * signatures compared in constant time.
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
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "jwt.h"

#define JWT_SIG_LEN	32	/* HMAC-SHA256 */

static const char	 b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '-')
		return (62);
	if (c == '_')
		return (63);
	return (-1);
}

/*
 * base64url without padding (RFC 7515 2), strictly: one encoding per
 * byte string, so the bits a last group does not use must be zero.
 * Returns the decoded length, or -1.
 */
ssize_t
jwt_b64_decode(const char *s, size_t len, unsigned char *out, size_t outsize)
{
	uint32_t	 acc = 0;
	size_t		 i, n = 0;
	int		 bits = 0, v;

	if (len % 4 == 1 || (len / 4) * 3 + 2 > outsize + 2)
		return (-1);
	for (i = 0; i < len; i++) {
		if ((v = b64url_val((unsigned char)s[i])) == -1)
			return (-1);
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outsize)
				return (-1);
			out[n++] = (acc >> bits) & 0xff;
		}
	}
	if (bits > 0 && (acc & ((1U << bits) - 1)) != 0)
		return (-1);	/* stray bits */
	return (n);
}

/* Returns the encoded length, or -1 if it does not fit (with a NUL). */
ssize_t
jwt_b64_encode(const unsigned char *in, size_t len, char *out,
    size_t outsize)
{
	uint32_t	 acc = 0;
	size_t		 i, n = 0;
	int		 bits = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			if (n + 1 >= outsize)
				return (-1);
			out[n++] = b64url[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0) {
		if (n + 1 >= outsize)
			return (-1);
		out[n++] = b64url[(acc << (6 - bits)) & 0x3f];
	}
	out[n] = '\0';
	return (n);
}

static int
jwt_hmac(const unsigned char *key, size_t keylen, const char *data,
    size_t len, unsigned char *mac)
{
	unsigned int	 maclen = JWT_SIG_LEN;

	if (HMAC(EVP_sha256(), key, keylen, (const unsigned char *)data, len,
	    mac, &maclen) == NULL || maclen != JWT_SIG_LEN)
		return (-1);
	return (0);
}

/* The header: HS256 and nothing that asks for more (no "crit"). */
static const char *
jwt_header(const char *s, size_t len)
{
	unsigned char	 raw[JWT_PART_MAX];
	char		 alg[16], err[128];
	ssize_t		 n;
	struct json_field f[] = {
		{ .jf_name = "alg", .jf_type = JSON_STRING, .jf_str = alg,
		    .jf_strsize = sizeof(alg) },
		{ .jf_name = "crit", .jf_type = JSON_STRINGS },
	};

	if ((n = jwt_b64_decode(s, len, raw, sizeof(raw))) == -1)
		return ("malformed token header");
	if (json_object((char *)raw, n, f, 2, err, sizeof(err)) == -1) {
		if (strncmp(err, "crit", 4) == 0)
			return ("token header has crit");
		return ("malformed token header");
	}
	if (f[1].jf_seen)
		return ("token header has crit");
	if (!f[0].jf_seen)
		return ("token header has no alg");
	if (strcmp(alg, "HS256") != 0)
		return ("token alg is not HS256");
	return (NULL);
}

/* The claims, held against the rules at time now. */
static const char *
jwt_payload(const char *s, size_t len, const struct jwt_rules *jr,
    time_t now, struct jwt_claims *jc)
{
	unsigned char	 raw[JWT_PART_MAX];
	char		 iss[256], err[128];
	ssize_t		 n;
	struct json_field f[] = {
		{ .jf_name = "service_name", .jf_type = JSON_STRING,
		    .jf_str = jc->jc_service,
		    .jf_strsize = sizeof(jc->jc_service) },
		{ .jf_name = "exp", .jf_type = JSON_NUMBER },
		{ .jf_name = "nbf", .jf_type = JSON_NUMBER },
		{ .jf_name = "iss", .jf_type = JSON_STRING, .jf_str = iss,
		    .jf_strsize = sizeof(iss) },
		{ .jf_name = "aud", .jf_type = JSON_STRINGS,
		    .jf_want = jr->jr_audience },
	};

	if ((n = jwt_b64_decode(s, len, raw, sizeof(raw))) == -1)
		return ("malformed token payload");
	if (json_object((char *)raw, n, f, 5, err, sizeof(err)) == -1)
		return ("malformed token claims");
	if (!f[0].jf_seen || jc->jc_service[0] == '\0')
		return ("token has no service_name");
	if (!f[1].jf_seen)
		return ("token has no exp");
	jc->jc_exp = f[1].jf_num;
	if ((double)now >= f[1].jf_num + jr->jr_leeway)
		return ("token expired");
	if (f[2].jf_seen && (double)now + jr->jr_leeway < f[2].jf_num)
		return ("token not valid yet (nbf)");
	if (jr->jr_issuer != NULL &&
	    (!f[3].jf_seen || strcmp(iss, jr->jr_issuer) != 0))
		return ("token issuer does not match");
	if ((f[4].jf_seen || jr->jr_audience != NULL) && !f[4].jf_matched)
		return ("token audience does not match");
	return (NULL);
}

/*
 * Check a compact JWS "header.payload.signature": the signature first,
 * against every key in turn (current, previous), so nothing of an
 * unsigned token is believed; then the header and the claims.  Returns
 * 0, or -1 with *why saying which rule refused it.
 */
int
jwt_verify(const char *tok, size_t len, const struct jwt_rules *jr,
    time_t now, struct jwt_claims *jc, const char **why)
{
	const char	*d1, *d2;
	unsigned char	 sig[JWT_SIG_LEN + 2], mac[JWT_SIG_LEN];
	size_t		 i;
	int		 good = 0;

	memset(jc, 0, sizeof(*jc));
	*why = "malformed token";
	if (len > JWT_MAX || (d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (d2 + 1 - tok)) != NULL ||
	    d1 == tok || d2 == d1 + 1)
		return (-1);
	if (jwt_b64_decode(d2 + 1, len - (d2 + 1 - tok), sig, sizeof(sig)) !=
	    JWT_SIG_LEN) {
		*why = "bad token signature";
		return (-1);
	}
	for (i = 0; i < jr->jr_nkeys; i++) {
		if (jwt_hmac(jr->jr_keys[i].jk_key, jr->jr_keys[i].jk_len, tok,
		    d2 - tok, mac) == -1)
			return (-1);
		good |= CRYPTO_memcmp(mac, sig, JWT_SIG_LEN) == 0;
	}
	explicit_bzero(mac, sizeof(mac));
	if (!good) {
		*why = "bad token signature";
		return (-1);
	}
	if ((*why = jwt_header(tok, d1 - tok)) != NULL ||
	    (*why = jwt_payload(d1 + 1, d2 - d1 - 1, jr, now, jc)) != NULL)
		return (-1);
	return (0);
}

/* A JSON string with its quotes; -1 if it does not fit. */
static int
jwt_json_str(char *buf, size_t size, size_t *off, const char *s)
{
	size_t	 o = *off;

	if (o + 1 >= size)
		return (-1);
	buf[o++] = '"';
	for (; *s != '\0'; s++) {
		if (o + 7 >= size)
			return (-1);
		if (*s == '"' || *s == '\\') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if ((unsigned char)*s < 0x20)
			o += snprintf(buf + o, size - o, "\\u%04x",
			    (unsigned char)*s);
		else
			buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	*off = o;
	return (0);
}

/* ,"key":"value" at *off; -1 if it does not fit. */
static int
jwt_claim(char *buf, size_t size, size_t *off, const char *key,
    const char *val)
{
	int	 n;

	n = snprintf(buf + *off, size - *off, ",\"%s\":", key);
	if (n < 0 || (size_t)n >= size - *off)
		return (-1);
	*off += n;
	return (jwt_json_str(buf, size, off, val));
}

/*
 * Make a token for service, good until exp (seconds since the epoch),
 * with iss and aud when not NULL.  Returns 0, or -1 if out is too small.
 */
int
jwt_sign(const unsigned char *key, size_t keylen, const char *service,
    long long exp, const char *iss, const char *aud, char *out,
    size_t outsize)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char	 mac[JWT_SIG_LEN];
	char		 claims[1024];
	size_t		 off, n;
	ssize_t		 k;
	int		 len;

	len = snprintf(claims, sizeof(claims), "{\"exp\":%lld", exp);
	if (len < 0 || (size_t)len >= sizeof(claims))
		return (-1);
	off = len;
	if (jwt_claim(claims, sizeof(claims), &off, "service_name",
	    service) == -1 ||
	    (iss != NULL && jwt_claim(claims, sizeof(claims), &off, "iss",
	    iss) == -1) ||
	    (aud != NULL && jwt_claim(claims, sizeof(claims), &off, "aud",
	    aud) == -1) || off + 2 > sizeof(claims))
		return (-1);
	claims[off++] = '}';
	claims[off] = '\0';

	if ((k = jwt_b64_encode((const unsigned char *)hdr, sizeof(hdr) - 1,
	    out, outsize)) == -1)
		return (-1);
	n = k;
	if (n + 1 >= outsize)
		return (-1);
	out[n++] = '.';
	if ((k = jwt_b64_encode((unsigned char *)claims, off, out + n,
	    outsize - n)) == -1)
		return (-1);
	n += k;
	if (jwt_hmac(key, keylen, out, n, mac) == -1 || n + 1 >= outsize)
		return (-1);
	out[n++] = '.';
	if (jwt_b64_encode(mac, sizeof(mac), out + n, outsize - n) == -1)
		return (-1);
	return (0);
}
