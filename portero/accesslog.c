/*
 * accesslog.c: a worker's access log line for each request, in the
 * format the configuration names, sent whole to the logger child.
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
 * A line is made in one pass into a buffer on the stack: no allocation,
 * no printf, the time formatted once a second.  Whatever a client sent
 * is escaped, so a line is one line and parses: combined and ltsv as
 * nginx escapes ("\xHH"), json as RFC 8259 wants it, with a byte that
 * is not UTF-8 written as the code point of the same number.  A line
 * that does not fit is cut: combined and ltsv end with REPLY_LOG_CUT;
 * a json line loses the fields that do not fit (the client's long
 * strings come last) and says "truncated":true, still one valid object.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portero.h"

#define REPLY_LOG_CUT		" [truncated]\n"
/* what a json line may need once cut: a quote, the flag, the end */
#define JSON_TAIL		"\",\"truncated\":true}\n"


/* A line being written: never past lw_end, which leaves room to close. */
struct logw {
	char		*lw_p;
	char		*lw_end;
	int		 lw_full;	/* something did not fit */
	int		 lw_first;	/* json: no comma before it */
};

/* How a string is escaped. */
enum esc { ESC_QUOTED, ESC_BARE, ESC_LTSV, ESC_JSON };

static const char	 hexdig[] = "0123456789abcdef";

/* Bytes as they are, whole or not at all. */
static void
lw_raw(struct logw *w, const char *s, size_t n)
{
	if (w->lw_full)
		return;
	if ((size_t)(w->lw_end - w->lw_p) < n) {
		w->lw_full = 1;
		return;
	}
	memcpy(w->lw_p, s, n);
	w->lw_p += n;
}

#define LW_LIT(w, lit)	lw_raw((w), (lit), sizeof(lit) - 1)

static void
lw_str(struct logw *w, const char *s)
{
	lw_raw(w, s, strlen(s));
}

static void
lw_u64(struct logw *w, uint64_t v)
{
	char	 buf[20], *p = buf + sizeof(buf);

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	lw_raw(w, p, buf + sizeof(buf) - p);
}

/* Seconds with milliseconds: "0.003". */
static void
lw_secs(struct logw *w, const struct timespec *ts)
{
	char	 ms[4];
	long	 m = ts->tv_nsec / 1000000;

	lw_u64(w, ts->tv_sec);
	ms[0] = '.';
	ms[1] = '0' + m / 100;
	ms[2] = '0' + m / 10 % 10;
	ms[3] = '0' + m % 10;
	lw_raw(w, ms, sizeof(ms));
}

/*
 * The length of the UTF-8 sequence at s (of n bytes), or 0 if it is not
 * one: no overlong forms, no surrogates, nothing past U+10FFFF.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		 len, i;
	uint32_t	 cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return (0);
	return (len);
}

/*
 * One byte of s as the escaping wants it, into out; returns its length
 * and how many bytes of s it took in *took.
 */
static size_t
esc_unit(enum esc e, const unsigned char *s, size_t n, char *out,
    size_t *took)
{
	unsigned char	 c = s[0];
	size_t		 len;

	*took = 1;
	if (e == ESC_JSON) {
		if (c == '"' || c == '\\') {
			out[0] = '\\';
			out[1] = c;
			return (2);
		}
		if (c >= 0x20 && c < 0x80) {
			out[0] = c;
			return (1);
		}
		if (c >= 0x80 && (len = utf8_len(s, n)) > 0) {
			memcpy(out, s, len);
			*took = len;
			return (len);
		}
		/* a control byte, or one that is not UTF-8: U+00XX */
		memcpy(out, "\\u00", 4);
		out[4] = hexdig[c >> 4];
		out[5] = hexdig[c & 0xf];
		return (6);
	}
	if (c > 0x20 && c < 0x7f && c != '\\' && (c != '"' ||
	    e != ESC_QUOTED)) {
		out[0] = c;
		return (1);
	}
	if (c == ' ' && e != ESC_BARE) {
		out[0] = c;
		return (1);
	}
	if (e == ESC_LTSV && (c == '\t' || c == '\n' || c == '\\')) {
		out[0] = '\\';
		out[1] = c == '\t' ? 't' : c == '\n' ? 'n' : '\\';
		return (2);
	}
	memcpy(out, "\\x", 2);
	out[2] = hexdig[c >> 4];
	out[3] = hexdig[c & 0xf];
	return (4);
}

/* A string escaped; cut between two escapes when it does not fit. */
static void
lw_esc(struct logw *w, enum esc e, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), len, took;
	char			 unit[8];

	while (n > 0 && !w->lw_full) {
		len = esc_unit(e, p, n, unit, &took);
		lw_raw(w, unit, len);
		p += took;
		n -= took;
	}
}

/* A field of combined: its value, or "-" when it has none. */
static void
lw_field(struct logw *w, enum esc e, const char *s)
{
	if (s == NULL || *s == '\0')
		LW_LIT(w, "-");
	else
		lw_esc(w, e, s);
}

/*
 * json: the next member's name, with the comma before it, and what the
 * value begins with, all or nothing: a member is never left half made.
 */
static int
json_key(struct logw *w, const char *key, const char *open)
{
	char	 buf[64];
	size_t	 n = 0, k = strlen(key), o = strlen(open);

	if (w->lw_full || k + o + 4 > sizeof(buf))
		return (-1);
	if (!w->lw_first)
		buf[n++] = ',';
	buf[n++] = '"';
	memcpy(buf + n, key, k);
	n += k;
	buf[n++] = '"';
	buf[n++] = ':';
	memcpy(buf + n, open, o);
	lw_raw(w, buf, n + o);
	if (w->lw_full)
		return (-1);
	w->lw_first = 0;
	return (0);
}

/* json: a member whose value is a number or a literal, whole or none. */
static void
json_num(struct logw *w, const char *key, uint64_t v,
    const struct timespec *secs, const char *lit)
{
	struct logw	 t;
	char		 buf[32];

	memset(&t, 0, sizeof(t));
	t.lw_p = buf;
	t.lw_end = buf + sizeof(buf);
	if (lit != NULL)
		lw_str(&t, lit);
	else if (secs != NULL)
		lw_secs(&t, secs);
	else
		lw_u64(&t, v);
	if (t.lw_full || json_key(w, key, "") == -1)
		return;
	lw_raw(w, buf, t.lw_p - buf);
}

/*
 * json: a string member, or null.  Once its opening quote is in, it is
 * closed whatever happens: the tail's room is kept for that.
 */
static void
json_str(struct logw *w, const char *key, const char *s)
{
	if (s == NULL || *s == '\0') {
		(void)json_key(w, key, "null");
		return;
	}
	if (json_key(w, key, "\"") == -1)
		return;
	lw_esc(w, ESC_JSON, s);
	*w->lw_p++ = '"';		/* within JSON_TAIL */
}

/* ltsv: "\tlabel:value", "-" for none. */
static void
ltsv_field(struct logw *w, const char *label, const char *s)
{
	if (!w->lw_first)
		LW_LIT(w, "\t");
	w->lw_first = 0;
	lw_str(w, label);
	LW_LIT(w, ":");
	lw_field(w, ESC_LTSV, s);
}

/* What every format says of a request, worked out once. */
struct log_rec {
	struct timespec		 lr_now;	/* wall clock */
	struct timespec		 lr_duration;
	struct timespec		 lr_uptime;	/* to the response head */
	int			 lr_hasup;
	const char		*lr_sni;
	const char		*lr_proto;
	const char		*lr_tls;	/* NULL: plain */
	int			 lr_resumed;
	const char		*lr_upstream;	/* NULL: none */
};

/*
 * The time, made again only when the second changes: the common log
 * format's "[10/Oct/2000:13:55:36 +0000]" and RFC 3339's
 * "2000-10-10T13:55:36", both UTC, the names spelled here so no locale
 * changes them.
 */
static void
log_times(time_t now, const char **clf, const char **iso)
{
	static const char	 months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec"
	};
	static char		 clfbuf[80], isobuf[80];
	static time_t		 made = -1;
	struct tm		 tm;

	*clf = clfbuf;
	*iso = isobuf;
	if (now == made || gmtime_r(&now, &tm) == NULL)
		return;
	(void)snprintf(clfbuf, sizeof(clfbuf), "[%02d/%s/%04d:%02d:%02d:%02d "
	    "+0000]", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	(void)snprintf(isobuf, sizeof(isobuf), "%04d-%02d-%02dT%02d:%02d:%02d",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	made = now;
}

/* "2000-10-10T13:55:36.123Z" */
static void
lw_iso(struct logw *w, const struct timespec *now)
{
	const char	*clf, *iso;
	char		 ms[5];
	long		 m = now->tv_nsec / 1000000;

	log_times(now->tv_sec, &clf, &iso);
	lw_str(w, iso);
	ms[0] = '.';
	ms[1] = '0' + m / 100;
	ms[2] = '0' + m / 10 % 10;
	ms[3] = '0' + m % 10;
	ms[4] = 'Z';
	lw_raw(w, ms, sizeof(ms));
}

static void
log_rec_fill(struct exchange *xc, struct log_rec *lr)
{
	struct client	*cl = xc->xc_cl;
	struct ptls	*tls = cl->cl_conn.c_tls;

	memset(lr, 0, sizeof(*lr));
	clock_gettime(CLOCK_REALTIME, &lr->lr_now);
	timespecsub(&xc->xc_end, &xc->xc_start, &lr->lr_duration);
	if (timespecisset(&xc->xc_upstream)) {
		timespecsub(&xc->xc_upstream, &xc->xc_start, &lr->lr_uptime);
		lr->lr_hasup = 1;
	}
	if (tls != NULL) {
		lr->lr_sni = ptls_servername(tls);
		lr->lr_tls = ptls_version(tls);
		lr->lr_resumed = ptls_resumed(tls) == 1;
	}
	if (xc->xc_h2 != NULL)
		lr->lr_proto = "HTTP/2";
	else if (xc->xc_req != NULL && xc->xc_req->version == 10)
		lr->lr_proto = "HTTP/1.0";
	else
		lr->lr_proto = "HTTP/1.1";
	if (xc->xc_be != NULL)
		lr->lr_upstream = xc->xc_be->be_conf.be_host;
	if (xc->xc_reqid[0] == '\0')
		reqid_make(xc->xc_reqid, sizeof(xc->xc_reqid));
}

/*
 * combined, as Apache and nginx write it, then portero's own fields:
 * SNI, host, duration, upstream, upstream time, TLS version, TLS
 * session (full or resumed) and the request id.  The request line says
 * "HTTP/2.0" for HTTP/2, as nginx's does.
 */
static void
log_combined(struct logw *w, const struct exchange *xc,
    const struct log_rec *lr)
{
	const char	*clf, *iso;

	log_times(lr->lr_now.tv_sec, &clf, &iso);
	lw_field(w, ESC_BARE, xc->xc_addr);
	LW_LIT(w, " - - ");
	lw_str(w, clf);
	LW_LIT(w, " \"");
	if (strcmp(xc->xc_method, "-") == 0)
		LW_LIT(w, "-");
	else {
		lw_esc(w, ESC_QUOTED, xc->xc_method);
		LW_LIT(w, " ");
		lw_esc(w, ESC_QUOTED, xc->xc_path);
		LW_LIT(w, " ");
		lw_str(w, xc->xc_h2 != NULL ? "HTTP/2.0" : lr->lr_proto);
	}
	LW_LIT(w, "\" ");
	lw_u64(w, xc->xc_status);
	LW_LIT(w, " ");
	lw_u64(w, xc->xc_bytes);
	LW_LIT(w, " \"");
	lw_field(w, ESC_QUOTED, xc->xc_referer);
	LW_LIT(w, "\" \"");
	lw_field(w, ESC_QUOTED, xc->xc_agent);
	LW_LIT(w, "\" ");
	lw_field(w, ESC_BARE, lr->lr_sni);
	LW_LIT(w, " ");
	lw_field(w, ESC_BARE, xc->xc_host);
	LW_LIT(w, " ");
	lw_secs(w, &lr->lr_duration);
	LW_LIT(w, " ");
	lw_field(w, ESC_BARE, lr->lr_upstream);
	LW_LIT(w, " ");
	if (lr->lr_hasup)
		lw_secs(w, &lr->lr_uptime);
	else
		LW_LIT(w, "-");
	LW_LIT(w, " ");
	lw_field(w, ESC_BARE, lr->lr_tls);
	LW_LIT(w, " ");
	lw_str(w, lr->lr_tls == NULL ? "-" : lr->lr_resumed ? "resumed" :
	    "full");
	LW_LIT(w, " ");
	lw_field(w, ESC_BARE, xc->xc_reqid);
}

/* json: the short fields first, the client's long strings last. */
static void
log_json(struct logw *w, const struct exchange *xc, const struct log_rec *lr)
{
	LW_LIT(w, "{\"time\":\"");
	lw_iso(w, &lr->lr_now);
	LW_LIT(w, "\"");
	json_str(w, "client", xc->xc_addr);
	json_num(w, "status", xc->xc_status, NULL, NULL);
	json_num(w, "bytes", xc->xc_bytes, NULL, NULL);
	json_num(w, "duration", 0, &lr->lr_duration, NULL);
	json_str(w, "protocol", lr->lr_proto);
	json_str(w, "request_id", xc->xc_reqid);
	json_str(w, "upstream", lr->lr_upstream);
	json_num(w, "upstream_time", 0, lr->lr_hasup ? &lr->lr_uptime :
	    NULL, lr->lr_hasup ? NULL : "null");
	json_str(w, "tls_version", lr->lr_tls);
	json_num(w, "tls_resumed", 0, NULL, lr->lr_tls == NULL ? "null" :
	    lr->lr_resumed ? "true" : "false");
	json_str(w, "method", strcmp(xc->xc_method, "-") == 0 ? NULL :
	    xc->xc_method);
	json_str(w, "host", xc->xc_host);
	json_str(w, "sni", lr->lr_sni);
	json_str(w, "target", strcmp(xc->xc_path, "-") == 0 ? NULL :
	    xc->xc_path);
	json_str(w, "referer", xc->xc_referer);
	json_str(w, "user_agent", xc->xc_agent);
}

/* ltsv, with the labels ltsv.org suggests where it has one. */
static void
log_ltsv(struct logw *w, const struct exchange *xc, const struct log_rec *lr)
{
	w->lw_first = 1;
	LW_LIT(w, "time:");
	lw_iso(w, &lr->lr_now);
	w->lw_first = 0;
	ltsv_field(w, "host", xc->xc_addr);
	ltsv_field(w, "vhost", xc->xc_host);
	ltsv_field(w, "sni", lr->lr_sni);
	ltsv_field(w, "method", xc->xc_method);
	ltsv_field(w, "uri", xc->xc_path);
	ltsv_field(w, "protocol", lr->lr_proto);
	LW_LIT(w, "\tstatus:");
	lw_u64(w, xc->xc_status);
	LW_LIT(w, "\tsize:");
	lw_u64(w, xc->xc_bytes);
	LW_LIT(w, "\treqtime:");
	lw_secs(w, &lr->lr_duration);
	ltsv_field(w, "upstream", lr->lr_upstream);
	LW_LIT(w, "\tapptime:");
	if (lr->lr_hasup)
		lw_secs(w, &lr->lr_uptime);
	else
		LW_LIT(w, "-");
	ltsv_field(w, "tls", lr->lr_tls);
	ltsv_field(w, "resumed", lr->lr_tls == NULL ? NULL :
	    lr->lr_resumed ? "1" : "0");
	ltsv_field(w, "reqid", xc->xc_reqid);
	ltsv_field(w, "referer", xc->xc_referer);
	ltsv_field(w, "ua", xc->xc_agent);
}

/*
 * The line of xc in buf (size bytes, at least 64), newline included;
 * returns its length.
 */
size_t
accesslog_line(struct exchange *xc, char *buf, size_t size)
{
	struct log_rec	 lr;
	struct logw	 w;
	uint32_t	 format = worker_env->wk_conf.access_log_format;

	log_rec_fill(xc, &lr);
	memset(&w, 0, sizeof(w));
	w.lw_p = buf;
	w.lw_end = buf + size - (format == LOG_FORMAT_JSON ?
	    sizeof(JSON_TAIL) : sizeof(REPLY_LOG_CUT));
	switch (format) {
	case LOG_FORMAT_JSON:
		log_json(&w, xc, &lr);
		w.lw_end = buf + size;
		if (w.lw_full) {
			w.lw_full = 0;
			LW_LIT(&w, ",\"truncated\":true");
		}
		LW_LIT(&w, "}\n");
		return (w.lw_p - buf);
	case LOG_FORMAT_LTSV:
		log_ltsv(&w, xc, &lr);
		break;
	default:
		log_combined(&w, xc, &lr);
		break;
	}
	w.lw_end = buf + size;
	if (w.lw_full) {
		w.lw_full = 0;
		LW_LIT(&w, REPLY_LOG_CUT);
	} else
		LW_LIT(&w, "\n");
	return (w.lw_p - buf);
}

/*
 * One access log line per request, to the logger as one message: it
 * is never split or mixed with another worker's.  The worker never
 * waits for the logger: a line it cannot take now (its socket full, or
 * no logger) is dropped and counted, and the drop is logged.
 */
void
reply_log(struct exchange *xc)
{
	struct worker	*wk = worker_env;
	char		 line[REPLY_LOG_MAX];
	size_t		 n;

	if (wk->wk_conf.access_log_off)
		return;
	n = accesslog_line(xc, line, sizeof(line));
	if (wk->wk_logfd != -1 && send(wk->wk_logfd, line, n,
	    MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
		return;
	wk->wk_stats.log_dropped++;
	log_limited(LOG_LIMIT_ACCESSLOG, "access log: a line dropped (%s); "
	    "%llu so far", wk->wk_logfd == -1 ? "no logger" :
	    strerror(errno), (unsigned long long)wk->wk_stats.log_dropped);
}
