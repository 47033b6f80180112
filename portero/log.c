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

static void
log_vwrite(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024];
	int	 saved_errno = errno;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_tostderr)
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
