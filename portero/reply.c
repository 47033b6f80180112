/*
 * reply.c: what a worker says by itself: its own replies (errors, and
 * the redirect of the cleartext listener) and the Date it stamps on
 * every response.
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

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

const char *
reply_status_text(int status)
{
	switch (status) {
	case 100: return ("Continue");
	case 301: return ("Moved Permanently");
	case 302: return ("Found");
	case 303: return ("See Other");
	case 307: return ("Temporary Redirect");
	case 308: return ("Permanent Redirect");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 410: return ("Gone");
	case 408: return ("Request Timeout");
	case 413: return ("Content Too Large");
	case 414: return ("URI Too Long");
	case 421: return ("Misdirected Request");
	case 429: return ("Too Many Requests");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 502: return ("Bad Gateway");
	case 503: return ("Service Unavailable");
	case 504: return ("Gateway Timeout");
	case 505: return ("HTTP Version Not Supported");
	}
	return ("Error");
}

/*
 * "Date: <IMF-fixdate>\r\n" (RFC 9110 5.6.7), REPLY_DATE_LEN bytes, made
 * again only when the second changes: every response carries it.  The
 * names are spelled here, so no locale can change them.
 */
const char *
reply_date(void)
{
	static const char	 days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char	 months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec"
	};
	static char		 line[64];	/* REPLY_DATE_LEN used */
	static time_t		 made = -1;
	struct tm		 tm;
	time_t			 now;

	now = time(NULL);
	if (now == made)
		return (line);
	if (gmtime_r(&now, &tm) == NULL)
		return (line);
	(void)snprintf(line, sizeof(line), "Date: %s, %02d %s %04d "
	    "%02d:%02d:%02d GMT\r\n", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	made = now;
	return (line);
}

/*
 * A reply of portero's own into b: the status line, Date, a short text
 * body (none after HEAD, though its length is given), Retry-After when
 * retry is not 0, Connection: close when close.  A redirect (location
 * not NULL) names where to instead, with no body.  -1 if it does not
 * fit.
 */
int
reply_build(struct buf *b, int status, int head, int close,
    unsigned int retry, const char *location)
{
	const char	*text = reply_status_text(status);
	const char	*conn = close ? "Connection: close\r\n" : "";

	if (location != NULL)
		return (buf_appendf(b, "HTTP/1.1 %d %s\r\n%sLocation: "
		    "%s\r\nContent-Length: 0\r\n%s\r\n", status, text,
		    reply_date(), location, conn));
	if (buf_appendf(b, "HTTP/1.1 %d %s\r\n%s"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n",
	    status, text, reply_date(), strlen(text) + 1) == -1)
		return (-1);
	if (retry > 0 && buf_appendf(b, "Retry-After: %u\r\n", retry) == -1)
		return (-1);
	if (buf_appendf(b, "%s\r\n", conn) == -1)
		return (-1);
	if (!head && buf_appendf(b, "%s\n", text) == -1)
		return (-1);
	return (0);
}

/* The body bytes of a reply built by reply_build(), for the log. */
size_t
reply_body_len(int status, int head)
{
	if ((status >= 300 && status < 400) || head)
		return (0);
	return (strlen(reply_status_text(status)) + 1);
}
