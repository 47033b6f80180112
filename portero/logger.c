/*
 * logger.c: the logger child, as httpd's: it holds the access log file
 * and writes the lines workers send it; it opens nothing itself.
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
 * Each worker has a socketpair of its own to the logger (SOCK_SEQPACKET:
 * a line is one message, never split, never mixed with another's).  A
 * worker sends without waiting; the logger is the one process that may
 * wait on the disk, and while it does the workers' sockets fill and
 * lines are dropped there, counted.  What it reads in one go it writes
 * in one write(2) (the lines lie back to back in one buffer, so a
 * writev(2) would gain nothing), before it returns to its event loop:
 * nothing is held across events, so a reopen or an exit loses no line
 * it has read.  Without a file the lines go to the daemon's log, as
 * they did before there was a logger.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

#define LOGGER_BUF	(64 * 1024)	/* lines written at once */
#define LOGGER_BATCH	256		/* lines read from one worker at
					   once, so that one busy worker
					   does not starve the others */

struct lg_source {
	int		 ls_fd;		/* -1: none */
	struct event	 ls_ev;
};

struct logger {
	struct portero_config	 lg_conf;
	int			 lg_sandboxed;
	int			 lg_stopping;
	int			 lg_fd;		/* the file; -1: the log */
	int			 lg_hadfile;
	struct lg_source	 lg_src[PORTERO_MAX_WORKERS];
	unsigned int		 lg_nsrc;
	struct logger_stats	 lg_stats;
	size_t			 lg_len;
	char			 lg_buf[LOGGER_BUF];
};

static struct logger	 lg;

static void	 logger_init(void);
static void	 logger_dispatch_parent(struct imsg *);
static void	 logger_source(uint32_t, int);
static void	 logger_read(int, short, void *);
static void	 logger_flush(void);
static void	 logger_drop(struct lg_source *);
static void	 logger_file(int);
static void	 logger_shutdown(void);

void
logger_main(void)
{
	unsigned int	 i;

	lg.lg_fd = -1;
	for (i = 0; i < PORTERO_MAX_WORKERS; i++)
		lg.lg_src[i].ls_fd = -1;
	proc_child_connect(PROC_LOGGER, logger_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/* Its file and sockets come by message: it needs no path at all. */
static void
logger_init(void)
{
	proc_drop_privileges(&lg.lg_conf, lg.lg_conf.chroot_dir);
	proc_sandbox(PROMISES_LOGGER);
	lg.lg_sandboxed = 1;
}

static void
logger_dispatch_parent(struct imsg *imsg)
{
	/* its counters go with every answer to a heartbeat */
	if (imsg->hdr.type == IMSG_PING &&
	    config_setloggerstats(proc_parent_iev(), &lg.lg_stats) == -1)
		fatal("send to parent");
	if (proc_child_common(imsg, &lg.lg_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_LOG_FILE:
		logger_file(config_getlogfile(imsg));
		break;
	case IMSG_LOG_SOCKET:
		if (imsg->hdr.peerid >= PORTERO_MAX_WORKERS)
			fatalx("a log socket for worker %u", imsg->hdr.peerid);
		logger_source(imsg->hdr.peerid, config_getlogsocket(imsg));
		break;
	case IMSG_CFG_DONE:
		if (!lg.lg_sandboxed)
			logger_init();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		break;
	case IMSG_SHUTDOWN:
		logger_shutdown();
		break;
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

/*
 * A worker's socket: a new worker, or a new logger for it.  What the
 * old one of that worker still holds (lines its predecessor sent
 * before it died) is written first.
 */
static void
logger_source(uint32_t id, int fd)
{
	struct lg_source	*ls = &lg.lg_src[id];

	if (ls->ls_fd != -1) {
		logger_read(ls->ls_fd, EV_READ, ls);
		if (ls->ls_fd != -1)
			logger_drop(ls);
	}
	if (socket_set_nonblock(fd) == -1) {
		log_warn("worker %u's log socket", id);
		close(fd);
		return;
	}
	ls->ls_fd = fd;
	event_set(&ls->ls_ev, fd, EV_READ | EV_PERSIST, logger_read, ls);
	event_add(&ls->ls_ev, NULL);
	lg.lg_nsrc++;
}

static void
logger_drop(struct lg_source *ls)
{
	event_del(&ls->ls_ev);
	close(ls->ls_fd);
	ls->ls_fd = -1;
	lg.lg_nsrc--;
	if (lg.lg_stopping && lg.lg_nsrc == 0)
		logger_shutdown();
}

/*
 * Lines from one worker, LOGGER_BATCH at most, then written.  A line
 * always ends in a newline, whatever the worker sent; the end of the
 * socket is the worker gone.
 */
static void
logger_read(int fd, short event, void *arg)
{
	struct lg_source	*ls = arg;
	char			*line;
	ssize_t			 n;
	unsigned int		 i;

	for (i = 0; i < LOGGER_BATCH; i++) {
		if (sizeof(lg.lg_buf) - lg.lg_len < REPLY_LOG_MAX + 1)
			logger_flush();
		line = lg.lg_buf + lg.lg_len;
		n = recv(fd, line, REPLY_LOG_MAX, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			if (n == -1)
				log_warn("a worker's log socket");
			logger_flush();
			logger_drop(ls);
			return;
		}
		if (line[n - 1] != '\n')
			line[n++] = '\n';
		lg.lg_len += n;
	}
	logger_flush();
}

/* Lines to the daemon's log, one by one, without their newlines. */
static void
logger_to_log(void)
{
	char	*p = lg.lg_buf, *end = lg.lg_buf + lg.lg_len, *nl;

	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		log_info("access %.*s", (int)(nl - p), p);
		lg.lg_stats.ls_lines++;
		p = nl + 1;
	}
}

/*
 * What the buffer holds, to the file in one write (more only if the
 * kernel takes part of it).  A write that fails loses the batch: it is
 * counted and logged, and the logger goes on with the next.
 */
static void
logger_flush(void)
{
	const char	*p = lg.lg_buf;
	size_t		 left = lg.lg_len, lines = 0, i;
	ssize_t		 n;

	if (lg.lg_len == 0)
		return;
	if (lg.lg_fd == -1) {
		logger_to_log();
		lg.lg_len = 0;
		return;
	}
	for (i = 0; i < lg.lg_len; i++)
		lines += lg.lg_buf[i] == '\n';
	while (left > 0) {
		if ((n = write(lg.lg_fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			lg.lg_stats.ls_errors++;
			log_limited(LOG_LIMIT_ACCESSLOG, "access log: write: "
			    "%s; %zu lines lost", strerror(errno), lines);
			lg.lg_len = 0;
			return;
		}
		p += n;
		left -= n;
	}
	lg.lg_stats.ls_lines += lines;
	lg.lg_len = 0;
}

/* The file, at start or reopened: the old one is done with. */
static void
logger_file(int fd)
{
	logger_flush();
	if (lg.lg_fd != -1)
		close(lg.lg_fd);
	lg.lg_fd = fd;
	if (lg.lg_hadfile++)
		lg.lg_stats.ls_reopens++;
}

/*
 * Stop once every worker has gone: their last lines come before the
 * ends of their sockets.  The parent ends the logger if they never do.
 */
static void
logger_shutdown(void)
{
	lg.lg_stopping = 1;
	if (lg.lg_nsrc > 0)
		return;
	logger_flush();
	exit(0);
}
