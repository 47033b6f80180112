/*
 * json.c: flat JSON objects read strictly with yajl's callbacks: one
 * object, every key at most once, the wanted keys with their types, the
 * others skipped whatever they hold, nothing after the object.
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

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json.h"

#define JSON_MAX_KEYS	64	/* keys of the object, wanted or not */
#define JSON_KEY_MAX	64	/* longer keys are never wanted */

struct json_ctx {
	struct json_field	*jc_fields;
	size_t			 jc_nfields;
	struct json_field	*jc_cur;	/* the value being read is
						   this field's, or NULL */
	int			 jc_depth;	/* 1 inside the object */
	int			 jc_inarray;	/* a wanted string array */
	int			 jc_started;
	char			 jc_keys[JSON_MAX_KEYS][JSON_KEY_MAX + 1];
	size_t			 jc_nkeys;
	char			*jc_err;
	size_t			 jc_errlen;
};

static int	 json_fail(struct json_ctx *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

static int
json_fail(struct json_ctx *jc, const char *fmt, ...)
{
	va_list	 ap;

	if (jc->jc_err[0] != '\0')
		return (0);		/* the first error is the one */
	va_start(ap, fmt);
	(void)vsnprintf(jc->jc_err, jc->jc_errlen, fmt, ap);
	va_end(ap);
	return (0);
}

/* A value of the object itself (depth 1), outside any skipped value. */
static int
json_top(const struct json_ctx *jc)
{
	return (jc->jc_depth == 1);
}

static int
json_wrong(struct json_ctx *jc, const char *want)
{
	return (json_fail(jc, "%s: want %s", jc->jc_cur->jf_name, want));
}

static int
json_null(void *arg)
{
	struct json_ctx	*jc = arg;

	if (!jc->jc_started)
		return (json_fail(jc, "not a JSON object"));
	if (json_top(jc) && jc->jc_cur != NULL)
		return (json_wrong(jc, json_type_name(jc->jc_cur->jf_type)));
	return (1);
}

static int
json_boolean(void *arg, int v)
{
	struct json_ctx	*jc = arg;

	if (!jc->jc_started)
		return (json_fail(jc, "not a JSON object"));
	if (!json_top(jc) || jc->jc_cur == NULL)
		return (1);
	if (jc->jc_cur->jf_type != JSON_BOOL)
		return (json_wrong(jc, json_type_name(jc->jc_cur->jf_type)));
	jc->jc_cur->jf_bool = v;
	jc->jc_cur->jf_seen = 1;
	return (1);
}

/*
 * Numbers come as yajl read them, as text: an integer is one without a
 * fraction or an exponent, within long long.
 */
static int
json_number(void *arg, const char *s, size_t len)
{
	struct json_ctx		*jc = arg;
	struct json_field	*jf = jc->jc_cur;
	char			 buf[64], *end;

	if (!jc->jc_started)
		return (json_fail(jc, "not a JSON object"));
	if (!json_top(jc) || jf == NULL)
		return (1);
	if (jf->jf_type != JSON_INTEGER && jf->jf_type != JSON_NUMBER)
		return (json_wrong(jc, json_type_name(jf->jf_type)));
	if (len >= sizeof(buf))
		return (json_fail(jc, "%s: number too long", jf->jf_name));
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	if (jf->jf_type == JSON_INTEGER) {
		if (strpbrk(buf, ".eE") != NULL)
			return (json_wrong(jc, "an integer"));
		jf->jf_int = strtoll(buf, &end, 10);
		if (errno != 0 || *end != '\0')
			return (json_fail(jc, "%s: out of range",
			    jf->jf_name));
	} else {
		jf->jf_num = strtod(buf, &end);
		if (errno != 0 || *end != '\0' || !isfinite(jf->jf_num))
			return (json_fail(jc, "%s: out of range",
			    jf->jf_name));
	}
	jf->jf_seen = 1;
	return (1);
}

static int
json_string(void *arg, const unsigned char *s, size_t len)
{
	struct json_ctx		*jc = arg;
	struct json_field	*jf = jc->jc_cur;

	if (!jc->jc_started)
		return (json_fail(jc, "not a JSON object"));
	if (jf == NULL || (!json_top(jc) && !jc->jc_inarray))
		return (1);
	if (jf->jf_type != JSON_STRING && jf->jf_type != JSON_STRINGS)
		return (json_wrong(jc, json_type_name(jf->jf_type)));
	if (memchr(s, '\0', len) != NULL)
		return (json_fail(jc, "%s: NUL in string", jf->jf_name));
	jf->jf_seen = 1;
	if (jf->jf_type == JSON_STRINGS) {
		/* a list of strings is only ever asked: does it hold want? */
		if (jf->jf_want != NULL && strlen(jf->jf_want) == len &&
		    memcmp(jf->jf_want, s, len) == 0)
			jf->jf_matched = 1;
		return (1);
	}
	if (len >= jf->jf_strsize)
		return (json_fail(jc, "%s: too long", jf->jf_name));
	memcpy(jf->jf_str, s, len);
	jf->jf_str[len] = '\0';
	jf->jf_strlen = len;
	return (1);
}

static int
json_start_map(void *arg)
{
	struct json_ctx	*jc = arg;

	if (!jc->jc_started) {
		jc->jc_started = 1;
		jc->jc_depth = 1;
		return (1);
	}
	if (json_top(jc) && jc->jc_cur != NULL)
		return (json_wrong(jc, json_type_name(jc->jc_cur->jf_type)));
	jc->jc_depth++;
	return (1);
}

static int
json_map_key(void *arg, const unsigned char *key, size_t len)
{
	struct json_ctx	*jc = arg;
	size_t		 i;

	if (!json_top(jc))
		return (1);
	jc->jc_cur = NULL;
	if (len > JSON_KEY_MAX)
		return (json_fail(jc, "a key longer than %d bytes",
		    JSON_KEY_MAX));
	for (i = 0; i < jc->jc_nkeys; i++)
		if (strlen(jc->jc_keys[i]) == len &&
		    memcmp(jc->jc_keys[i], key, len) == 0)
			return (json_fail(jc, "duplicate key \"%s\"",
			    jc->jc_keys[i]));
	if (jc->jc_nkeys == JSON_MAX_KEYS)
		return (json_fail(jc, "more than %d keys", JSON_MAX_KEYS));
	memcpy(jc->jc_keys[jc->jc_nkeys], key, len);
	jc->jc_keys[jc->jc_nkeys][len] = '\0';
	jc->jc_nkeys++;
	for (i = 0; i < jc->jc_nfields; i++)
		if (strlen(jc->jc_fields[i].jf_name) == len &&
		    memcmp(jc->jc_fields[i].jf_name, key, len) == 0)
			jc->jc_cur = &jc->jc_fields[i];
	return (1);
}

static int
json_end_map(void *arg)
{
	struct json_ctx	*jc = arg;

	jc->jc_depth--;
	return (1);
}

static int
json_start_array(void *arg)
{
	struct json_ctx	*jc = arg;

	if (!jc->jc_started)
		return (json_fail(jc, "not a JSON object"));
	if (json_top(jc) && jc->jc_cur != NULL) {
		if (jc->jc_cur->jf_type != JSON_STRINGS)
			return (json_wrong(jc,
			    json_type_name(jc->jc_cur->jf_type)));
		jc->jc_inarray = 1;
	}
	jc->jc_depth++;
	return (1);
}

static int
json_end_array(void *arg)
{
	struct json_ctx	*jc = arg;

	jc->jc_depth--;
	jc->jc_inarray = 0;
	return (1);
}

static const yajl_callbacks json_callbacks = {
	json_null, json_boolean, NULL, NULL, json_number, json_string,
	json_start_map, json_map_key, json_end_map, json_start_array,
	json_end_array
};

const char *
json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_STRING:
		return ("a string");
	case JSON_STRINGS:
		return ("a string or an array of strings");
	case JSON_INTEGER:
		return ("an integer");
	case JSON_NUMBER:
		return ("a number");
	case JSON_BOOL:
		return ("true or false");
	}
	return ("?");
}

/*
 * Read the object in buf into fields (jf_seen says which came).  Returns
 * 0, or -1 with the reason in err: not JSON, not an object, trailing
 * bytes, a key twice, a wanted key of the wrong type.
 */
int
json_object(const char *buf, size_t len, struct json_field *fields,
    size_t nfields, char *err, size_t errlen)
{
	struct json_ctx	*jc;
	yajl_handle	 h;
	yajl_status	 st;
	size_t		 i;
	int		 rv = -1;

	if ((jc = calloc(1, sizeof(*jc))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	for (i = 0; i < nfields; i++) {
		fields[i].jf_seen = 0;
		fields[i].jf_matched = 0;
	}
	jc->jc_fields = fields;
	jc->jc_nfields = nfields;
	jc->jc_err = err;
	jc->jc_errlen = errlen;
	err[0] = '\0';
	if ((h = yajl_alloc(&json_callbacks, NULL, jc)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		free(jc);
		return (-1);
	}
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_ok && jc->jc_started)
		rv = 0;
	else if (err[0] == '\0')
		(void)snprintf(err, errlen, jc->jc_started && st ==
		    yajl_status_error && jc->jc_depth == 0 ?
		    "trailing bytes after the object" : "not a JSON object");
	yajl_free(h);
	free(jc);
	return (rv);
}
