/*
 * control.c: the control socket, served by the parent: porterod-ctl's
 * requests in, status and statistics out.  A bad client loses only its
 * own connection.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 cc_entry;
	struct imsgev		 cc_iev;
	uint32_t		 cc_id;
	uint64_t		 cc_awaited;	/* workers yet to report */
	struct event		 cc_timeout;
	int			 cc_timeout_set;
	int			 cc_certs;	/* a listing is on its way */
};

/* The parent's control clients; only the parent runs this file. */
static TAILQ_HEAD(, ctl_conn) ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static unsigned int	 ctl_nconns;
static uint32_t		 ctl_lastid;
static struct event	 ctl_ev_pause;
static const char	*ctl_path;

static void	 control_accept(int, short, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_conn_close(struct ctl_conn *);
static int	 control_send_workers(struct portero *, struct ctl_conn *);

/*
 * Made before any privilege is dropped, mode 0660.  A socket that still
 * answers belongs to a running portero: refuse to steal it.
 */
int
control_open(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old_umask;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("control socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("control socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("another portero is running on %s", path);
	close(fd);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", path);
		if (unlink(path) == -1)
			fatal("unlink %s", path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("control socket");
	old_umask = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old_umask);
	if (chmod(path, 0660) == -1)
		fatal("chmod %s", path);
	if (listen(fd, 16) == -1)
		fatal("listen %s", path);
	ctl_path = path;
	return (fd);
}

void
control_listen(struct portero *env)
{
	event_set(&env->pc_ev_control, env->pc_controlfd, EV_READ | EV_PERSIST,
	    control_accept, env);
	event_add(&env->pc_ev_control, NULL);
	evtimer_set(&ctl_ev_pause, control_accept, env);
}

void
control_close(struct portero *env)
{
	struct ctl_conn	*cc;

	while ((cc = TAILQ_FIRST(&ctl_conns)) != NULL)
		control_conn_close(cc);
	if (env->pc_controlfd == -1)
		return;
	event_del(&env->pc_ev_control);
	evtimer_del(&ctl_ev_pause);
	close(env->pc_controlfd);
	env->pc_controlfd = -1;
	if (ctl_path != NULL && unlink(ctl_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", ctl_path);
}

static void
control_accept(int fd, short event, void *arg)
{
	struct portero	*env = arg;
	struct ctl_conn	*cc;
	struct timeval	 tv = { 1, 0 };
	int		 connfd;

	if (event & EV_TIMEOUT) {
		event_add(&env->pc_ev_control, NULL);
		return;
	}
	if ((connfd = accept4(env->pc_controlfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* out of descriptors: pause instead of spinning */
			log_warn("control accept");
			event_del(&env->pc_ev_control);
			evtimer_add(&ctl_ev_pause, &tv);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control accept");
		return;
	}
	if (ctl_nconns >= CTL_MAX_CLIENTS ||
	    (cc = calloc(1, sizeof(*cc))) == NULL) {
		log_warnx("control: too many clients; refusing one");
		close(connfd);
		return;
	}
	cc->cc_id = ++ctl_lastid;
	imsgev_init(&cc->cc_iev, connfd, control_dispatch, cc);
	TAILQ_INSERT_TAIL(&ctl_conns, cc, cc_entry);
	ctl_nconns++;
}

static void
control_conn_close(struct ctl_conn *cc)
{
	if (cc->cc_timeout_set)
		evtimer_del(&cc->cc_timeout);
	imsgev_clear(&cc->cc_iev);
	TAILQ_REMOVE(&ctl_conns, cc, cc_entry);
	ctl_nconns--;
	free(cc);
}

static struct ctl_conn *
control_conn_byid(uint32_t id)
{
	struct ctl_conn	*cc;

	TAILQ_FOREACH(cc, &ctl_conns, cc_entry)
		if (cc->cc_id == id)
			return (cc);
	return (NULL);
}

static int
control_compose(struct ctl_conn *cc, uint32_t type, const void *data,
    size_t len)
{
	return (imsgev_compose(&cc->cc_iev, type, 0, 0, -1, data, len));
}

static int
control_fail(struct ctl_conn *cc, const char *reason)
{
	return (control_compose(cc, IMSG_CTL_FAIL, reason, strlen(reason) + 1));
}

static void
control_fill_child(struct ctl_child *cch, const struct child *ch)
{
	memset(cch, 0, sizeof(*cch));
	cch->role = ch->ch_role;
	cch->id = ch->ch_id;
	cch->pid = ch->ch_pid;
	cch->state = ch->ch_state;
	cch->restarts = ch->ch_restarts;
	if (ch->ch_role == PROC_WORKER && ch->ch_pid != 0) {
		cch->has_stats = 1;
		cch->stats = ch->ch_stats;
	}
}

static int
control_send_status(struct portero *env, struct ctl_conn *cc)
{
	struct ctl_status	 cs;
	struct ctl_child	 cch;
	struct timespec		 now;
	unsigned int		 i;

	memset(&cs, 0, sizeof(cs));
	(void)strlcpy(cs.version, PORTERO_VERSION, sizeof(cs.version));
	cs.pid = getpid();
	clock_gettime(CLOCK_MONOTONIC, &now);
	cs.uptime = now.tv_sec - env->pc_started.tv_sec;
	if (control_compose(cc, IMSG_CTL_STATUS, &cs, sizeof(cs)) == -1)
		return (-1);
	control_fill_child(&cch, &env->pc_certloader);
	if (control_compose(cc, IMSG_CTL_CHILD, &cch, sizeof(cch)) == -1)
		return (-1);
	control_fill_child(&cch, &env->pc_registrar);
	if (control_compose(cc, IMSG_CTL_CHILD, &cch, sizeof(cch)) == -1)
		return (-1);
	for (i = 0; i < env->pc_conf.workers; i++) {
		control_fill_child(&cch, &env->pc_workers[i]);
		if (control_compose(cc, IMSG_CTL_CHILD, &cch,
		    sizeof(cch)) == -1)
			return (-1);
	}
	return (control_compose(cc, IMSG_CTL_END, NULL, 0));
}

static void
control_workers_timeout(int fd, short event, void *arg)
{
	struct ctl_conn	*cc = arg;

	cc->cc_timeout_set = 0;
	cc->cc_awaited = 0;
	if (control_send_workers(portero_env, cc) == -1)
		control_conn_close(cc);
}

/* Ask every running worker for its counters; answer when all have. */
static int
control_ask_workers(struct portero *env, struct ctl_conn *cc)
{
	struct child	*ch;
	struct timeval	 tv;
	unsigned int	 i;

	if (cc->cc_awaited != 0)
		return (control_fail(cc, "a request is already in progress"));
	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING)
			continue;
		if (imsgev_compose(&ch->ch_iev, IMSG_STATS_REQ, cc->cc_id, 0,
		    -1, NULL, 0) == -1)
			fatal("send stats request");
		cc->cc_awaited |= 1ULL << i;
	}
	if (cc->cc_awaited == 0)
		return (control_send_workers(env, cc));
	tv.tv_sec = CTL_REPLY_TIMEOUT_MS / 1000;
	tv.tv_usec = (CTL_REPLY_TIMEOUT_MS % 1000) * 1000;
	evtimer_set(&cc->cc_timeout, control_workers_timeout, cc);
	evtimer_add(&cc->cc_timeout, &tv);
	cc->cc_timeout_set = 1;
	return (0);
}

static int
control_send_workers(struct portero *env, struct ctl_conn *cc)
{
	struct ctl_child	 cch;
	unsigned int		 i;

	if (cc->cc_timeout_set) {
		evtimer_del(&cc->cc_timeout);
		cc->cc_timeout_set = 0;
	}
	for (i = 0; i < env->pc_conf.workers; i++) {
		control_fill_child(&cch, &env->pc_workers[i]);
		if (control_compose(cc, IMSG_CTL_CHILD, &cch,
		    sizeof(cch)) == -1)
			return (-1);
	}
	return (control_compose(cc, IMSG_CTL_END, NULL, 0));
}

void
control_stats_reply(struct portero *env, struct child *ch, uint32_t id,
    const struct worker_stats *stats)
{
	struct ctl_conn	*cc;

	if ((cc = control_conn_byid(id)) == NULL || cc->cc_awaited == 0)
		return;		/* the client left, or it timed out */
	cc->cc_awaited &= ~(1ULL << ch->ch_id);
	if (cc->cc_awaited == 0 && control_send_workers(env, cc) == -1)
		control_conn_close(cc);
}

void
control_child_gone(struct portero *env, struct child *ch)
{
	struct ctl_conn	*cc, *next;

	if (ch->ch_role == PROC_CERTLOADER) {
		TAILQ_FOREACH_SAFE(cc, &ctl_conns, cc_entry, next) {
			if (!cc->cc_certs)
				continue;
			cc->cc_certs = 0;
			if (control_fail(cc, "the certloader stopped") == -1)
				control_conn_close(cc);
		}
		return;
	}
	if (ch->ch_role != PROC_WORKER)
		return;
	TAILQ_FOREACH_SAFE(cc, &ctl_conns, cc_entry, next) {
		if ((cc->cc_awaited & (1ULL << ch->ch_id)) == 0)
			continue;
		cc->cc_awaited &= ~(1ULL << ch->ch_id);
		if (cc->cc_awaited == 0 && control_send_workers(env, cc) == -1)
			control_conn_close(cc);
	}
}

/* A listing from a child, on its way to the client that asked. */
void
control_relay(struct portero *env, struct imsg *imsg)
{
	struct ctl_conn	*cc;

	if ((cc = control_conn_byid(imsg->hdr.peerid)) == NULL ||
	    !cc->cc_certs)
		return;		/* the client left */
	if (imsg->hdr.type == IMSG_CTL_END)
		cc->cc_certs = 0;
	if (control_compose(cc, imsg->hdr.type, imsg->data, imsg->len) == -1)
		control_conn_close(cc);
}

static int
control_ask_certs(struct portero *env, struct ctl_conn *cc)
{
	struct child	*ch = &env->pc_certloader;

	if (cc->cc_certs)
		return (control_fail(cc, "a request is already in progress"));
	if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING)
		return (control_fail(cc, "the certloader is not running"));
	if (imsgev_compose(&ch->ch_iev, IMSG_CTL_SHOW_CERTS, cc->cc_id, 0, -1,
	    NULL, 0) == -1)
		fatal("send to the certloader");
	cc->cc_certs = 1;
	return (0);
}

static int
control_request(struct portero *env, struct ctl_conn *cc, struct imsg *imsg)
{
	int	 verbose;

	switch (imsg->hdr.type) {
	case IMSG_CTL_SHOW_STATUS:
		return (control_send_status(env, cc));
	case IMSG_CTL_SHOW_WORKERS:
		return (control_ask_workers(env, cc));
	case IMSG_CTL_SHOW_CERTS:
		return (control_ask_certs(env, cc));
	case IMSG_CTL_RELOAD:
		parent_reload(env);
		return (control_compose(cc, IMSG_CTL_OK, NULL, 0));
	case IMSG_CTL_LOG_VERBOSE:
		if (imsg->len != sizeof(verbose))
			return (control_fail(cc, "malformed request"));
		memcpy(&verbose, imsg->data, sizeof(verbose));
		if (verbose < 0 || verbose > 3)
			return (control_fail(cc, "verbosity out of range"));
		parent_set_verbose(env, verbose);
		log_info("log level set to %s", verbose ? "verbose" : "brief");
		return (control_compose(cc, IMSG_CTL_OK, NULL, 0));
	default:
		return (control_fail(cc, "unknown request"));
	}
}

static void
control_dispatch(int fd, short event, void *arg)
{
	struct ctl_conn	*cc = arg;
	struct portero	*env = portero_env;
	struct imsg	 imsg;
	ssize_t		 n;

	if (imsgev_dispatch_io(&cc->cc_iev, event) == -1) {
		control_conn_close(cc);
		return;
	}
	for (;;) {
		if ((n = imsgbuf_get(&cc->cc_iev.ibuf, &imsg)) == -1) {
			log_warnx("control: malformed message; closing the "
			    "connection");
			control_conn_close(cc);
			return;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1)
			close(imsg.fd);
		if (env->pc_stopping) {
			if (control_fail(cc, "portero is stopping") == -1)
				goto fail;
			continue;
		}
		if (control_request(env, cc, &imsg) == -1)
			goto fail;
	}
	imsgev_add(&cc->cc_iev);
	return;
 fail:
	log_warnx("control: client does not read its replies; closing");
	control_conn_close(cc);
}
