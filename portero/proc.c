/*
 * proc.c: what every process shares: message channels driven by
 * libevent, role names, and the steps a child takes to give up power.
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
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

/* Where argv[0] was, for proc_title(). */
static char	*proc_argv0;
static size_t	 proc_argv0len;

void
proc_title_init(int argc, char **argv, char **envp)
{
	proc_argv0 = argv[0];
	proc_argv0len = strlen(argv[0]);
	setproctitle_init(argc, argv, envp);
}

/*
 * "portero: worker 0" in ps.  libbsd marks the end of the original
 * argv[0] with a '.' when the title is shorter than it was (for old
 * kernels); on Linux that shows as a stray " ." after the title.
 */
void
proc_title(const char *title)
{
	setproctitle("%s", title);
	if (proc_argv0 != NULL &&
	    strlen(getprogname()) + 2 + strlen(title) < proc_argv0len)
		proc_argv0[proc_argv0len] = '\0';
}

void
imsgev_init(struct imsgev *iev, int fd, void (*handler)(int, short, void *),
    void *data)
{
	imsgbuf_init(&iev->ibuf, fd);
	iev->handler = handler;
	iev->data = data;
	iev->events = EV_READ;
	event_set(&iev->ev, fd, iev->events, iev->handler, iev->data);
	event_add(&iev->ev, NULL);
}

/* Re-arm the channel's event: write interest only while data waits. */
void
imsgev_add(struct imsgev *iev)
{
	short	 events = EV_READ;

	if (imsgbuf_queued(&iev->ibuf) > 0)
		events |= EV_WRITE;
	if (events == iev->events && event_pending(&iev->ev, EV_READ, NULL))
		return;
	event_del(&iev->ev);
	iev->events = events;
	event_set(&iev->ev, iev->ibuf.fd, iev->events, iev->handler,
	    iev->data);
	event_add(&iev->ev, NULL);
}

void
imsgev_clear(struct imsgev *iev)
{
	event_del(&iev->ev);
	imsgbuf_clear(&iev->ibuf);
	if (iev->ibuf.fd != -1)
		close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const void *data, size_t len)
{
	if (imsgbuf_compose(&iev->ibuf, type, peerid, pid, fd, data,
	    len) == -1)
		return (-1);
	imsgev_add(iev);
	return (0);
}

/*
 * The I/O half of a dispatch callback: read what came, write what
 * waits.  Returns -1 when the channel is finished (EOF, error, or a
 * peer that stopped reading past the bound); the caller decides what
 * that means for the process.
 */
int
imsgev_dispatch_io(struct imsgev *iev, short event)
{
	ssize_t	 n;

	if (event & EV_READ) {
		n = imsgbuf_read(&iev->ibuf);
		if (n == 0)
			return (-1);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (-1);
	}
	if (event & EV_WRITE) {
		if (imsgbuf_flush(&iev->ibuf) == -1)
			return (-1);
	}
	return (0);
}

/*
 * A child never takes part in the daemon's signal handling: the parent
 * drives stops and reloads by message.  SIGINT from a terminal reaches
 * the whole foreground group, so children ignore it; SIGTERM alone ends
 * a child at once (the parent's "stop now").
 */
void
proc_ignore_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	(void)sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGCHLD, &sa, NULL);
}

/*
 * chroot and drop to the configured user, in the order that leaves no
 * way back.  Started as non-root there is nothing to drop: the parent
 * has already warned once.  Returns 1 if the process is now chrooted.
 */
int
proc_drop_privileges(const struct portero_config *conf, const char *root)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return (0);
	if ((pw = getpwnam(conf->user)) == NULL)
		fatalx("unknown user %s", conf->user);
	if (chroot(root) == -1)
		fatal("chroot %s", root);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", conf->user);
	log_debug("chrooted to %s, running as %s", root, conf->user);
	return (1);
}

/*
 * A child's side of its channel to the parent.  One per child process,
 * so the role's dispatch function is kept here.
 */
static struct imsgev	 proc_iev;	/* the channel to the parent */
static enum proc_role	 proc_role;
static void		(*proc_parent_dispatch)(struct imsg *);

static void
proc_child_dispatch(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;

	if (imsgev_dispatch_io(iev, event) == -1) {
		/* the parent is gone: no child outlives it */
		log_debug("parent went away; exiting");
		exit(0);
	}
	for (;;) {
		if ((n = imsgbuf_get(&iev->ibuf, &imsg)) == -1)
			fatalx("malformed message from the parent");
		if (n == 0)
			break;
		/* a trusted peer out of step: nothing sane to do but stop */
		if (imsg_check(&imsg, PROC_PARENT, proc_role) == -1)
			fatalx("unexpected %s message from the parent",
			    imsg_name(imsg.hdr.type));
		proc_parent_dispatch(&imsg);
	}
	imsgev_add(iev);
}

struct imsgev *
proc_child_connect(enum proc_role role, void (*dispatch)(struct imsg *))
{
	proc_role = role;
	proc_parent_dispatch = dispatch;
	imsgev_init(&proc_iev, PROC_PARENT_FD, proc_child_dispatch,
	    &proc_iev);
	return (&proc_iev);
}

struct imsgev *
proc_parent_iev(void)
{
	return (&proc_iev);
}

/* Send to the parent; a parent that stopped reading is a parent gone. */
void
proc_compose_parent(uint32_t type, uint32_t peerid, const void *data,
    size_t len)
{
	if (imsgev_compose(&proc_iev, type, peerid, 0, -1, data,
	    len) == -1)
		fatal("send to parent");
}

/* The sandbox, or no service: a child never runs without it. */
void
proc_sandbox(const char *promises)
{
	if (sandbox_pledge(promises) == -1)
		fatal("cannot install the sandbox (%s)", promises);
	log_info("sandboxed: %s; promises \"%s\"", sandbox_describe(),
	    promises);
}

/*
 * The messages every child handles alike; 1 if imsg was one of them.  A
 * ping is answered at once: a child whose loop turns answers in time.
 */
int
proc_child_common(struct imsg *imsg, struct portero_config *conf)
{
	int32_t	 verbose;

	switch (imsg->hdr.type) {
	case IMSG_CFG_GLOBAL:
		if (config_getglobal(conf, imsg) == -1)
			fatalx("bad configuration message");
		log_setverbose(conf->verbose);
		return (1);
	case IMSG_LOG_VERBOSE:
		if (config_getverbose(imsg, &verbose) == -1)
			fatalx("bad verbosity message");
		log_setverbose(verbose);
		return (1);
	case IMSG_PING:
		proc_compose_parent(IMSG_PONG, 0, imsg->data, imsg->len);
		return (1);
	}
	return (0);
}
