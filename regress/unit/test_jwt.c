/*
 * test_jwt.c: the unit test of jwt.c and json.c: tokens made and checked,
 * every rule that refuses one, and the strict reading of JSON objects.
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

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../portero/json.h"
#include "../../portero/jwt.h"

static int	 failures;

static const unsigned char	 key1[] = "the current key, 32 bytes long!!";
static const unsigned char	 key2[] = "the previous key";

static void
result(const char *name, int ok, const char *fmt, ...)
{
	va_list	 ap;

	if (ok) {
		printf("PASS %s\n", name);
		return;
	}
	failures++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* A token from a header and claims as given, signed with key (HS256). */
static void
forge(const char *hdr, const char *claims, const unsigned char *key,
    size_t keylen, char *out, size_t size)
{
	unsigned char	 mac[32];
	unsigned int	 maclen = sizeof(mac);
	size_t		 n;

	n = jwt_b64_encode((const unsigned char *)hdr, strlen(hdr), out,
	    size);
	out[n++] = '.';
	n += jwt_b64_encode((const unsigned char *)claims, strlen(claims),
	    out + n, size - n);
	HMAC(EVP_sha256(), key, keylen, (unsigned char *)out, n, mac,
	    &maclen);
	out[n++] = '.';
	jwt_b64_encode(mac, sizeof(mac), out + n, size - n);
}

static const char *
check(const char *tok, const char *iss, const char *aud, time_t now)
{
	struct jwt_key		 keys[2] = {
		{ key1, sizeof(key1) - 1 }, { key2, sizeof(key2) - 1 }
	};
	struct jwt_rules	 jr = { keys, 2, iss, aud, 10 };
	struct jwt_claims	 jc;
	const char		*why;

	if (jwt_verify(tok, strlen(tok), &jr, now, &jc, &why) == 0)
		return (NULL);
	return (why);
}

static void
expect(const char *name, const char *tok, const char *iss, const char *aud,
    time_t now, const char *want)
{
	const char	*why = check(tok, iss, aud, now);

	if (want == NULL)
		result(name, why == NULL, "refused: %s", why);
	else
		result(name, why != NULL && strstr(why, want) != NULL,
		    "got %s, want a refusal with \"%s\"", why ? why : "ok",
		    want);
}

static void
test_tokens(void)
{
	char		 tok[JWT_MAX], bad[JWT_MAX], claims[256];
	const char	*hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	time_t		 now = 1800000000;
	struct jwt_claims jc;
	size_t		 n;

	result("sign", jwt_sign(key1, sizeof(key1) - 1, "app.test", now + 60,
	    NULL, NULL, tok, sizeof(tok)) == 0, "jwt_sign failed");
	expect("verify_good", tok, NULL, NULL, now, NULL);
	{
		struct jwt_key	 k = { key1, sizeof(key1) - 1 };
		struct jwt_rules jr = { &k, 1, NULL, NULL, 0 };
		const char	*why;

		result("claims_service", jwt_verify(tok, strlen(tok), &jr, now,
		    &jc, &why) == 0 && strcmp(jc.jc_service, "app.test") == 0,
		    "service %s", jc.jc_service);
	}
	expect("expired", tok, NULL, NULL, now + 71, "expired");
	expect("expired_within_leeway", tok, NULL, NULL, now + 65, NULL);

	jwt_sign(key2, sizeof(key2) - 1, "app.test", now + 60, NULL, NULL,
	    tok, sizeof(tok));
	expect("previous_key", tok, NULL, NULL, now, NULL);
	jwt_sign((const unsigned char *)"another key", 11, "app.test",
	    now + 60, NULL, NULL, tok, sizeof(tok));
	expect("unknown_key", tok, NULL, NULL, now, "signature");

	/* every byte of the signature counts, the middle one too */
	jwt_sign(key1, sizeof(key1) - 1, "app.test", now + 60, NULL, NULL,
	    tok, sizeof(tok));
	strlcpy(bad, tok, sizeof(bad));
	n = strrchr(bad, '.') - bad + 1;
	n += (strlen(bad) - n) / 2;
	bad[n] = bad[n] == 'A' ? 'B' : 'A';
	expect("signature_middle_byte", bad, NULL, NULL, now, "signature");
	/* stray bits: the last character's unused bits set */
	strlcpy(bad, tok, sizeof(bad));
	n = strlen(bad) - 1;
	bad[n] = bad[n] == 'g' ? 'h' : bad[n] + 1;
	expect("signature_stray_bits", bad, NULL, NULL, now, "signature");
	snprintf(bad, sizeof(bad), "%s=", tok);
	expect("signature_padding", bad, NULL, NULL, now, "signature");
	/* a payload changed after signing */
	strlcpy(bad, tok, sizeof(bad));
	n = strchr(bad, '.') - bad + 5;
	bad[n] = bad[n] == 'x' ? 'y' : 'x';
	expect("payload_tampered", bad, NULL, NULL, now, "signature");
	expect("two_parts", "abc.def", NULL, NULL, now, "malformed");
	expect("four_parts", "a.b.c.d", NULL, NULL, now, "malformed");
	expect("empty", "", NULL, NULL, now, "malformed");

	snprintf(claims, sizeof(claims), "{\"service_name\":\"app.test\","
	    "\"exp\":%lld}", (long long)now + 60);
	forge("{\"alg\":\"none\"}", claims, key1, sizeof(key1) - 1, tok,
	    sizeof(tok));
	expect("alg_none", tok, NULL, NULL, now, "alg");
	forge("{\"alg\":\"HS512\"}", claims, key1, sizeof(key1) - 1, tok,
	    sizeof(tok));
	expect("alg_hs512", tok, NULL, NULL, now, "alg");
	forge("{\"alg\":\"hs256\"}", claims, key1, sizeof(key1) - 1, tok,
	    sizeof(tok));
	expect("alg_case", tok, NULL, NULL, now, "alg");
	forge("{\"typ\":\"JWT\"}", claims, key1, sizeof(key1) - 1, tok,
	    sizeof(tok));
	expect("alg_missing", tok, NULL, NULL, now, "alg");
	forge("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims, key1,
	    sizeof(key1) - 1, tok, sizeof(tok));
	expect("crit_refused", tok, NULL, NULL, now, "crit");
	forge("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", claims, key1,
	    sizeof(key1) - 1, tok, sizeof(tok));
	expect("header_duplicate_key", tok, NULL, NULL, now, "malformed");
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("forged_good", tok, NULL, NULL, now, NULL);

	forge(hs256, "{\"service_name\":\"app.test\"}", key1,
	    sizeof(key1) - 1, tok, sizeof(tok));
	expect("exp_missing", tok, NULL, NULL, now, "exp");
	snprintf(claims, sizeof(claims), "{\"exp\":%lld}",
	    (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("service_missing", tok, NULL, NULL, now, "service_name");
	snprintf(claims, sizeof(claims), "{\"service_name\":\"a\","
	    "\"exp\":\"%lld\"}", (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("exp_string", tok, NULL, NULL, now, "malformed");
	snprintf(claims, sizeof(claims), "{\"service_name\":\"a\","
	    "\"exp\":%lld.5}", (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("exp_fraction", tok, NULL, NULL, now, NULL);
	snprintf(claims, sizeof(claims), "{\"service_name\":\"a\","
	    "\"exp\":%lld,\"nbf\":%lld}", (long long)now + 600,
	    (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("nbf_future", tok, NULL, NULL, now, "nbf");
	expect("nbf_reached", tok, NULL, NULL, now + 55, NULL);

	snprintf(claims, sizeof(claims), "{\"service_name\":\"a\","
	    "\"exp\":%lld,\"iss\":\"ops\",\"aud\":[\"x\",\"portero\"]}",
	    (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("iss_aud_good", tok, "ops", "portero", now, NULL);
	expect("iss_wrong", tok, "dev", "portero", now, "issuer");
	expect("aud_wrong", tok, "ops", "other", now, "audience");
	expect("aud_not_wanted", tok, NULL, NULL, now, "audience");
	snprintf(claims, sizeof(claims), "{\"service_name\":\"a\","
	    "\"exp\":%lld,\"aud\":\"portero\"}", (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("aud_string", tok, NULL, "portero", now, NULL);
	snprintf(claims, sizeof(claims), "{\"service_name\":\"a\","
	    "\"exp\":%lld}", (long long)now + 60);
	forge(hs256, claims, key1, sizeof(key1) - 1, tok, sizeof(tok));
	expect("aud_required", tok, NULL, "portero", now, "audience");
	expect("iss_required", tok, "ops", NULL, now, "issuer");
}

static void
test_json(void)
{
	char		 name[16], err[128];
	struct json_field f[] = {
		{ .jf_name = "name", .jf_type = JSON_STRING, .jf_str = name,
		    .jf_strsize = sizeof(name) },
		{ .jf_name = "port", .jf_type = JSON_INTEGER },
		{ .jf_name = "tls", .jf_type = JSON_BOOL },
	};
	static const struct {
		const char	*tname;
		const char	*json;
		const char	*err;	/* NULL: accepted */
	} jc[] = {
		{ "json_good", "{\"name\":\"a\",\"port\":80,\"tls\":true}",
		    NULL },
		{ "json_unknown_skipped", "{\"x\":{\"port\":\"no\",\"y\":[1,"
		    "{\"z\":null}]},\"port\":1}", NULL },
		{ "json_duplicate", "{\"port\":1,\"port\":1}", "duplicate" },
		{ "json_duplicate_unknown", "{\"q\":1,\"q\":2}", "duplicate" },
		{ "json_trailing", "{\"port\":1} x", "trailing" },
		{ "json_two_objects", "{\"port\":1}{}", "trailing" },
		{ "json_not_object", "[1]", "object" },
		{ "json_scalar", "42", "object" },
		{ "json_truncated", "{\"port\":1", "object" },
		{ "json_garbage", "port=1", "object" },
		{ "json_int_fraction", "{\"port\":1.5}", "integer" },
		{ "json_int_exponent", "{\"port\":1e3}", "integer" },
		{ "json_int_string", "{\"port\":\"80\"}", "integer" },
		{ "json_bool_number", "{\"tls\":1}", "true or false" },
		{ "json_string_null", "{\"name\":null}", "string" },
		{ "json_string_long", "{\"name\":\"0123456789abcdefg\"}",
		    "too long" },
		{ "json_string_nul", "{\"name\":\"a\\u0000b\"}", "NUL" },
		{ "json_empty", "", "object" },
	};
	size_t		 i;
	int		 rv;

	for (i = 0; i < sizeof(jc) / sizeof(jc[0]); i++) {
		rv = json_object(jc[i].json, strlen(jc[i].json), f, 3, err,
		    sizeof(err));
		if (jc[i].err == NULL)
			result(jc[i].tname, rv == 0, "refused: %s", err);
		else
			result(jc[i].tname, rv == -1 &&
			    strstr(err, jc[i].err) != NULL,
			    "got %s, want an error with \"%s\"",
			    rv == 0 ? "ok" : err, jc[i].err);
	}
	rv = json_object("{\"name\":\"ab\",\"tls\":false}", 25, f, 3, err,
	    sizeof(err));
	result("json_values", rv == 0 && f[0].jf_seen && !f[1].jf_seen &&
	    f[2].jf_seen && !f[2].jf_bool && strcmp(name, "ab") == 0,
	    "values not as given");
}

int
main(void)
{
	test_tokens();
	test_json();
	return (failures == 0 ? 0 : 1);
}
