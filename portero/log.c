/*
 * log.c: logging for every process, to syslog or to stderr with -d;
 * each line is tagged with the process that wrote it.
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
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

static int	 log_tostderr;
static int	 log_verbose;
static char	 log_proc[32] = "parent";

/*
 * Lines a client can cause, rate-limited per reason: LOG_LIMIT_RATE a
 * second, then one line a second that says how many were left out.  The
 * access log keeps the full record.
 */
#define LOG_LIMIT_RATE	10

struct log_limit {
	const char	*ll_what;
	time_t		 ll_second;	/* of the lines counted */
	unsigned int	 ll_count;	/* lines logged in it */
	unsigned int	 ll_suppressed;
};

static struct log_limit	 log_limits[LOG_LIMIT_MAX] = {
	[LOG_LIMIT_REQUEST] = { "refused requests", 0, 0, 0 },
	[LOG_LIMIT_CLIENT] = { "client errors", 0, 0, 0 },
	[LOG_LIMIT_UPSTREAM] = { "upstream failures", 0, 0, 0 },
	[LOG_LIMIT_ACCESSLOG] = { "access log drops", 0, 0, 0 },
};
static struct event	 log_ev_limit;
static int		 log_ev_limit_set;

void
log_init(int foreground, int verbose, const char *procname)
{
	log_tostderr = foreground;
	log_verbose = verbose;
	log_procname(procname);
	if (!log_tostderr)
		openlog("portero", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_procname(const char *procname)
{
	if (strlcpy(log_proc, procname, sizeof(log_proc)) >= sizeof(log_proc))
		log_proc[sizeof(log_proc) - 1] = '\0';
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/*
 * The first warning from now on, kept for whoever asked (a reload's
 * first error goes back to porterod-ctl); NULL stops keeping.
 */
static char	*log_first;
static size_t	 log_firstlen;

void
log_capture(char *buf, size_t len)
{
	log_first = buf;
	log_firstlen = len;
	if (buf != NULL && len > 0)
		buf[0] = '\0';
}

/* Lines on stderr without the "portero[pid] proc:" tag, as -n prints. */
static int	 log_bare;

void
log_setbare(int bare)
{
	log_bare = bare;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024];
	int	 saved_errno = errno;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_first != NULL && log_first[0] == '\0' && pri <= LOG_WARNING)
		(void)strlcpy(log_first, msg, log_firstlen);
	if (log_tostderr && log_bare)
		dprintf(STDERR_FILENO, "%s\n", msg);
	else if (log_tostderr)
		dprintf(STDERR_FILENO, "portero[%d] %s: %s\n", (int)getpid(),
		    log_proc, msg);
	else
		syslog(pri, "%s: %s", log_proc, msg);
	errno = saved_errno;
}

static void
log_vwarn(int pri, int witherr, const char *fmt, va_list ap)
{
	char	 fmtbuf[512];
	int	 saved_errno = errno;

	if (witherr && fmt != NULL &&
	    snprintf(fmtbuf, sizeof(fmtbuf), "%s: %s", fmt,
	    strerror(saved_errno)) < (int)sizeof(fmtbuf)) {
		/* The errno text cannot hold a '%': it is safe as format. */
		log_vwrite(pri, fmtbuf, ap);
	} else
		log_vwrite(pri, fmt, ap);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn(LOG_ERR, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwarn(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

static time_t
log_second(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/* Say how many lines of each reason were left out, once a second. */
static void
log_limit_flush(int fd, short event, void *arg)
{
	struct log_limit	*ll;
	struct timeval		 tv = { 1, 0 };
	time_t			 now = log_second();
	int			 i, pending = 0;

	for (i = 0; i < LOG_LIMIT_MAX; i++) {
		ll = &log_limits[i];
		if (ll->ll_suppressed > 0) {
			log_info("suppressed %u more lines of %s in the last "
			    "second", ll->ll_suppressed, ll->ll_what);
			ll->ll_suppressed = 0;
			pending = 1;
		}
		if (ll->ll_second != now)
			ll->ll_count = 0;
	}
	/* keep ticking while the flood lasts */
	if (pending)
		evtimer_add(&log_ev_limit, &tv);
}

void
log_limited(enum log_limit_reason reason, const char *fmt, ...)
{
	struct log_limit	*ll = &log_limits[reason];
	struct timeval		 tv = { 1, 0 };
	time_t			 now = log_second();
	va_list			 ap;

	if (ll->ll_second != now) {
		ll->ll_second = now;
		ll->ll_count = 0;
	}
	if (ll->ll_count < LOG_LIMIT_RATE) {
		ll->ll_count++;
		va_start(ap, fmt);
		log_vwrite(LOG_INFO, fmt, ap);
		va_end(ap);
		return;
	}
	ll->ll_suppressed++;
	if (!log_ev_limit_set) {
		evtimer_set(&log_ev_limit, log_limit_flush, NULL);
		log_ev_limit_set = 1;
	}
	if (!evtimer_pending(&log_ev_limit, NULL))
		evtimer_add(&log_ev_limit, &tv);
}
