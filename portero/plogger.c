/*
 * plogger.c: the parent's side of the logger child: the access log
 * file it opens and reopens, and the socketpairs between it and workers.
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
 * The logger runs unless the access log is off ("none"), which only a
 * restart changes: then no process, socket or message is spent on it.
 * A worker and the logger share a socketpair made here whenever either
 * of them starts; the one that did not restart swaps its old end for
 * the new.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

/*
 * A worker's send buffer to the logger: lines a worker may get ahead of
 * a logger waiting on its disk before it drops them.  The kernel may
 * give less (Linux: net.core.wmem_max, unless the parent is root).
 */
#define LOGGER_SNDBUF	(4 * 1024 * 1024)

static int	 parent_logger_open(const char *, char *, size_t);

void
parent_logger_init(struct portero *env)
{
	env->pc_logger.ch_role = PROC_LOGGER;
	env->pc_logger.ch_id = 0;
	env->pc_accesslogfd = -1;
}

/* The file, as root: appended to, made if need be, mode 0640. */
static int
parent_logger_open(const char *path, char *why, size_t whylen)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		(void)snprintf(why, whylen, "open %s: %s", path,
		    strerror(errno));
	return (fd);
}

/* At start: a file that cannot be opened stops the daemon. */
void
parent_logger_start(struct portero *env)
{
	struct portero_config	*conf = &env->pc_conf;
	char			 why[CONF_PATH_MAX + 64];

	if (conf->access_log[0] != '\0' && (env->pc_accesslogfd =
	    parent_logger_open(conf->access_log, why, sizeof(why))) == -1)
		fatalx("%s", why);
}

/*
 * What a starting logger gets: the file (none: the lines go to the
 * daemon's log) and a socket for every worker there is.
 */
int
parent_logger_config(struct portero *env, struct child *ch)
{
	struct child	*wch;
	unsigned int	 i;

	if (ch->ch_state != CHILD_STARTING)
		return (0);
	memset(&env->pc_logger_stats, 0, sizeof(env->pc_logger_stats));
	if (env->pc_accesslogfd != -1 && config_setlogfile(&ch->ch_iev,
	    env->pc_accesslogfd) == -1)
		return (-1);
	for (i = 0; i < env->pc_conf.workers; i++) {
		wch = &env->pc_workers[i];
		if (wch->ch_ievset)
			parent_logger_pair(env, wch);
	}
	return (0);
}

/* One end to the child, or it is broken; the end is gone either way. */
static int
parent_logger_give(struct portero *env, struct child *ch, uint32_t id,
    int fd)
{
	if (config_setlogsocket(&ch->ch_iev, id, fd) == 0)
		return (0);
	close(fd);
	parent_child_broken(env, ch, errno == ENOBUFS ?
	    "does not read its messages (queue full)" : strerror(errno));
	return (-1);
}

/*
 * A socketpair between worker wch and the logger, when both are there:
 * a line is one message on it, and the worker's end never blocks.
 */
void
parent_logger_pair(struct portero *env, struct child *wch)
{
	struct child	*lch = &env->pc_logger;
	int		 sp[2], size = LOGGER_SNDBUF;

	if (env->pc_conf.access_log_off || !lch->ch_ievset ||
	    !wch->ch_ievset)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("worker %u's log socket", wch->ch_id);
		return;
	}
	if (setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof(size)) == -1)
		log_warn("worker %u's log socket: SO_SNDBUF", wch->ch_id);
	if (socket_set_nonblock(sp[0]) == -1 ||
	    socket_set_nonblock(sp[1]) == -1) {
		log_warn("worker %u's log socket", wch->ch_id);
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (parent_logger_give(env, wch, 0, sp[0]) == -1) {
		close(sp[1]);
		return;
	}
	(void)parent_logger_give(env, lch, wch->ch_id, sp[1]);
}

/* The logger's messages: its counters. */
void
parent_dispatch_logger(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LOG_STATS:
		if (config_getloggerstats(imsg, &env->pc_logger_stats) == -1)
			parent_child_broken(env, ch, "sent malformed "
			    "counters");
		break;
	default:
		parent_child_broken(env, ch, "sent a message out of turn");
	}
}

/*
 * "reopen" and SIGUSR1, for logrotate: the file is opened again by its
 * name and given to the logger, which takes it once it has written
 * what it holds; the old one closes.  One that cannot be opened leaves
 * the old one in use, and -1 with the reason in why.
 */
int
parent_logger_reopen(struct portero *env, char *why, size_t whylen)
{
	struct portero_config	*conf = &env->pc_conf;
	struct child		*lch = &env->pc_logger;
	int			 fd;

	fd = -1;
	if (conf->access_log_off)
		(void)strlcpy(why, "the access log is off", whylen);
	else if (conf->access_log[0] == '\0')
		(void)strlcpy(why, "no access log file: its lines go to the "
		    "daemon's log", whylen);
	else
		fd = parent_logger_open(conf->access_log, why, whylen);
	if (fd == -1) {
		log_warnx("reopen: %s", why);
		return (-1);
	}
	if (env->pc_accesslogfd != -1)
		close(env->pc_accesslogfd);
	env->pc_accesslogfd = fd;
	if (lch->ch_ievset && config_setlogfile(&lch->ch_iev, fd) == -1)
		parent_child_broken(env, lch, "does not read its messages");
	log_info("access log %s reopened", conf->access_log);
	return (0);
}
