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

/*
 * A control client.  While a request of it is being answered (a listing
 * on its way from the workers or the certloader) it is busy, not idle;
 * an idle client is closed after CTL_IDLE_TIMEOUT, or sooner when a new
 * one needs its place.
 */
struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 cn_entry;	/* oldest activity first */
	struct imsgev		 cn_iev;
	uint32_t		 cn_id;
	uint64_t		 cn_awaited;	/* workers yet to report */
	struct event		 cn_timeout;	/* reply and idle timer */
	int			 cn_relay;	/* the role of the child whose
						   answer is on its way; 0:
						   none */
	struct backend_listing	*cn_backends;	/* "show backends" */
};

/*
 * A listing's next page waits while this much is queued to its client:
 * one that does not read holds memory of a few pages, not of the list.
 */
#define CTL_LISTING_QUEUED	(64 * 1024)

/* The parent's control clients; only the parent runs this file. */
static TAILQ_HEAD(, ctl_conn) ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static unsigned int	 ctl_nconns;
static uint32_t		 ctl_lastid;
static struct acceptor	 ctl_acceptor;
static const char	*ctl_path;

static void	 control_accept(int, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_conn_close(struct ctl_conn *);
static void	 control_timeout(int, short, void *);
static void	 control_idle(struct ctl_conn *);
static int	 control_send_workers(struct portero *, struct ctl_conn *);
static int	 control_backends_next(struct portero *, struct ctl_conn *);
static int	 control_send_page(struct portero *, struct ctl_conn *);

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
	acceptor_init(&ctl_acceptor, env->pc_controlfd, 1, control_accept,
	    env);
	acceptor_start(&ctl_acceptor);
}

void
control_close(struct portero *env)
{
	struct ctl_conn	*cn;

	while ((cn = TAILQ_FIRST(&ctl_conns)) != NULL)
		control_conn_close(cn);
	if (env->pc_controlfd == -1)
		return;
	acceptor_stop(&ctl_acceptor);
	close(env->pc_controlfd);
	env->pc_controlfd = -1;
	if (ctl_path != NULL && unlink(ctl_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", ctl_path);
}

static int
control_busy(const struct ctl_conn *cn)
{
	return (cn->cn_awaited != 0 || cn->cn_relay != 0 ||
	    cn->cn_backends != NULL);
}

/*
 * At the bound, the client idle the longest makes room: idle clients
 * cannot lock porterod-ctl out.  Only when every client is waiting for
 * an answer is the new one refused.
 */
static void
control_accept(int connfd, void *arg)
{
	struct ctl_conn	*cn, *old;

	if (ctl_nconns >= CTL_MAX_CLIENTS) {
		TAILQ_FOREACH(old, &ctl_conns, cn_entry)
			if (!control_busy(old))
				break;
		if (old == NULL) {
			log_warnx("control: %u clients waiting for answers; "
			    "refusing another", ctl_nconns);
			close(connfd);
			return;
		}
		log_debug("control: closing the longest idle client to make "
		    "room");
		control_conn_close(old);
	}
	if ((cn = calloc(1, sizeof(*cn))) == NULL) {
		log_warn("control");
		close(connfd);
		return;
	}
	cn->cn_id = ++ctl_lastid;
	imsgev_init(&cn->cn_iev, connfd, control_dispatch, cn);
	evtimer_set(&cn->cn_timeout, control_timeout, cn);
	TAILQ_INSERT_TAIL(&ctl_conns, cn, cn_entry);
	ctl_nconns++;
	control_idle(cn);
}

/* Nothing in progress for cn: its idle time starts now. */
static void
control_idle(struct ctl_conn *cn)
{
	struct timeval	 tv = { CTL_IDLE_TIMEOUT, 0 };

	TAILQ_REMOVE(&ctl_conns, cn, cn_entry);
	TAILQ_INSERT_TAIL(&ctl_conns, cn, cn_entry);
	evtimer_add(&cn->cn_timeout, &tv);
}

static void
control_conn_close(struct ctl_conn *cn)
{
	evtimer_del(&cn->cn_timeout);
	free(cn->cn_backends);
	imsgev_clear(&cn->cn_iev);
	TAILQ_REMOVE(&ctl_conns, cn, cn_entry);
	ctl_nconns--;
	free(cn);
}

static struct ctl_conn *
control_conn_byid(uint32_t id)
{
	struct ctl_conn	*cn;

	TAILQ_FOREACH(cn, &ctl_conns, cn_entry)
		if (cn->cn_id == id)
			return (cn);
	return (NULL);
}

static int
control_compose(struct ctl_conn *cn, uint32_t type, const void *data,
    size_t len)
{
	return (imsgev_compose(&cn->cn_iev, type, 0, 0, -1, data, len));
}

static int
control_fail(struct ctl_conn *cn, const char *reason)
{
	return (control_compose(cn, IMSG_CTL_FAIL, reason, strlen(reason) + 1));
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
control_send_status(struct portero *env, struct ctl_conn *cn)
{
	struct ctl_status	 cs;
	struct ctl_child	 cch;
	struct timespec		 now;
	unsigned int		 i;

	memset(&cs, 0, sizeof(cs));
	(void)strlcpy(cs.version, PORTERO_VERSION, sizeof(cs.version));
	(void)strlcpy(cs.tls, ptls_library(), sizeof(cs.tls));
	cs.pid = getpid();
	clock_gettime(CLOCK_MONOTONIC, &now);
	cs.uptime = now.tv_sec - env->pc_started.tv_sec;
	(void)strlcpy(cs.config, env->pc_conf.conf_file, sizeof(cs.config));
	cs.reloads = env->pc_reloads;
	cs.reloads_refused = env->pc_reloads_refused;
	cs.reload_tried = env->pc_reloads + env->pc_reloads_refused > 0;
	if (cs.reload_tried)
		cs.reload_age = now.tv_sec - env->pc_reload_at.tv_sec;
	(void)strlcpy(cs.reload_error, env->pc_reload_error,
	    sizeof(cs.reload_error));
	cs.nlisteners = env->pc_conf.nlisteners;
	memcpy(cs.listeners, env->pc_conf.listeners, sizeof(cs.listeners));
	(void)strlcpy(cs.access_log, env->pc_conf.access_log,
	    sizeof(cs.access_log));
	cs.access_log_off = env->pc_conf.access_log_off;
	cs.logger_running = env->pc_logger.ch_state == CHILD_RUNNING &&
	    env->pc_logger.ch_pid != 0;
	cs.logger = env->pc_logger_stats;
	if (control_compose(cn, IMSG_CTL_STATUS, &cs, sizeof(cs)) == -1)
		return (-1);
	control_fill_child(&cch, &env->pc_certloader);
	if (control_compose(cn, IMSG_CTL_CHILD, &cch, sizeof(cch)) == -1)
		return (-1);
	control_fill_child(&cch, &env->pc_registrar);
	if (control_compose(cn, IMSG_CTL_CHILD, &cch, sizeof(cch)) == -1)
		return (-1);
	for (i = 0; i < env->pc_conf.workers; i++) {
		control_fill_child(&cch, &env->pc_workers[i]);
		if (control_compose(cn, IMSG_CTL_CHILD, &cch,
		    sizeof(cch)) == -1)
			return (-1);
	}
	if (env->pc_health_want || env->pc_health.ch_pid != 0) {
		control_fill_child(&cch, &env->pc_health);
		if (control_compose(cn, IMSG_CTL_CHILD, &cch,
		    sizeof(cch)) == -1)
			return (-1);
	}
	if (!env->pc_conf.access_log_off || env->pc_logger.ch_pid != 0) {
		control_fill_child(&cch, &env->pc_logger);
		if (control_compose(cn, IMSG_CTL_CHILD, &cch,
		    sizeof(cch)) == -1)
			return (-1);
	}
	control_fill_child(&cch, &env->pc_metrics);
	if (control_compose(cn, IMSG_CTL_CHILD, &cch, sizeof(cch)) == -1)
		return (-1);
	return (control_compose(cn, IMSG_CTL_END, NULL, 0));
}

/*
 * The client's one timer: while workers are yet to report, the time they
 * have (the answer then goes out as it stands); else its idle time.
 */
static void
control_timeout(int fd, short event, void *arg)
{
	struct ctl_conn	*cn = arg;

	if (cn->cn_awaited != 0) {
		cn->cn_awaited = 0;
		if (control_send_workers(portero_env, cn) == -1)
			control_conn_close(cn);
		return;
	}
	if (cn->cn_backends != NULL && listing_waiting(cn->cn_backends)) {
		listing_late(cn->cn_backends);
		if (control_send_page(portero_env, cn) == -1)
			control_conn_close(cn);
		return;
	}
	if (cn->cn_backends != NULL) {
		log_warnx("control: client does not read its listing; closing");
		control_conn_close(cn);
		return;
	}
	if (cn->cn_relay != 0) {
		/* the child answers, or its death fails the request */
		control_idle(cn);
		return;
	}
	log_debug("control: closing an idle client");
	control_conn_close(cn);
}

/* Ask every running worker for its counters; answer when all have. */
static int
control_ask_workers(struct portero *env, struct ctl_conn *cn)
{
	struct child	*ch;
	struct timeval	 tv;
	unsigned int	 i;

	if (control_busy(cn))
		return (control_fail(cn, "a request is already in progress"));
	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING)
			continue;
		if (parent_compose(env, ch, IMSG_STATS_REQ, cn->cn_id, -1,
		    NULL, 0) == 0)
			cn->cn_awaited |= 1ULL << i;
	}
	if (cn->cn_awaited == 0)
		return (control_send_workers(env, cn));
	tv.tv_sec = CTL_REPLY_TIMEOUT_MS / 1000;
	tv.tv_usec = (CTL_REPLY_TIMEOUT_MS % 1000) * 1000;
	evtimer_add(&cn->cn_timeout, &tv);
	return (0);
}

static int
control_send_workers(struct portero *env, struct ctl_conn *cn)
{
	struct ctl_child	 cch;
	unsigned int		 i;

	cn->cn_awaited = 0;
	control_idle(cn);
	for (i = 0; i < env->pc_conf.workers; i++) {
		control_fill_child(&cch, &env->pc_workers[i]);
		if (control_compose(cn, IMSG_CTL_CHILD, &cch,
		    sizeof(cch)) == -1)
			return (-1);
	}
	return (control_compose(cn, IMSG_CTL_END, NULL, 0));
}

void
control_stats_reply(struct portero *env, struct child *ch, uint32_t id,
    const struct worker_stats *stats)
{
	struct ctl_conn	*cn;

	if ((cn = control_conn_byid(id)) == NULL || cn->cn_awaited == 0)
		return;		/* the client left, or it timed out */
	cn->cn_awaited &= ~(1ULL << ch->ch_id);
	if (cn->cn_awaited == 0 && control_send_workers(env, cn) == -1)
		control_conn_close(cn);
}

void
control_child_gone(struct portero *env, struct child *ch)
{
	struct ctl_conn	*cn, *next;

	if (ch->ch_role == PROC_CERTLOADER || ch->ch_role == PROC_METRICS) {
		TAILQ_FOREACH_SAFE(cn, &ctl_conns, cn_entry, next) {
			if (cn->cn_relay != (int)ch->ch_role)
				continue;
			cn->cn_relay = 0;
			if (control_fail(cn, ch->ch_role == PROC_METRICS ?
			    "the metrics process stopped" :
			    "the certloader stopped") == -1)
				control_conn_close(cn);
		}
		return;
	}
	if (ch->ch_role == PROC_HEALTH) {
		TAILQ_FOREACH_SAFE(cn, &ctl_conns, cn_entry, next) {
			if (cn->cn_backends == NULL ||
			    !cn->cn_backends->bl_hwait)
				continue;
			listing_gone(cn->cn_backends, ch);
			if (!listing_waiting(cn->cn_backends) &&
			    control_send_page(env, cn) == -1)
				control_conn_close(cn);
		}
		return;
	}
	if (ch->ch_role != PROC_WORKER)
		return;
	TAILQ_FOREACH_SAFE(cn, &ctl_conns, cn_entry, next) {
		if (cn->cn_backends != NULL &&
		    (cn->cn_backends->bl_awaited & (1ULL << ch->ch_id))) {
			listing_gone(cn->cn_backends, ch);
			if (!listing_waiting(cn->cn_backends) &&
			    control_send_page(env, cn) == -1)
				control_conn_close(cn);
			continue;
		}
		if ((cn->cn_awaited & (1ULL << ch->ch_id)) == 0)
			continue;
		cn->cn_awaited &= ~(1ULL << ch->ch_id);
		if (cn->cn_awaited == 0 && control_send_workers(env, cn) == -1)
			control_conn_close(cn);
	}
}

/* A listing from a child, on its way to the client that asked. */
void
control_relay(struct portero *env, struct imsg *imsg)
{
	struct ctl_conn	*cn;

	if ((cn = control_conn_byid(imsg->hdr.peerid)) == NULL ||
	    cn->cn_relay == 0)
		return;		/* the client left */
	if (imsg->hdr.type == IMSG_CTL_END) {
		cn->cn_relay = 0;
		control_idle(cn);
	}
	if (control_compose(cn, imsg->hdr.type, imsg->data, imsg->len) == -1)
		control_conn_close(cn);
}

static int
control_ask_certs(struct portero *env, struct ctl_conn *cn)
{
	struct child	*ch = &env->pc_certloader;

	if (control_busy(cn))
		return (control_fail(cn, "a request is already in progress"));
	if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING)
		return (control_fail(cn, "the certloader is not running"));
	if (parent_compose(env, ch, IMSG_CTL_SHOW_CERTS, cn->cn_id, -1, NULL,
	    0) == -1)
		return (control_fail(cn, "the certloader is not answering"));
	cn->cn_relay = PROC_CERTLOADER;
	return (0);
}

/* "show stats": the metrics child scrapes and writes the answer. */
static int
control_ask_stats(struct portero *env, struct ctl_conn *cn,
    struct imsg *imsg)
{
	struct child	*ch = &env->pc_metrics;
	uint32_t	 format;

	if (config_getmet(imsg, &format, sizeof(format)) == -1 ||
	    format > STATS_JSON)
		return (control_fail(cn, "malformed request"));
	if (control_busy(cn))
		return (control_fail(cn, "a request is already in progress"));
	if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING)
		return (control_fail(cn, "the metrics process is not "
		    "running"));
	if (parent_compose(env, ch, IMSG_CTL_SHOW_STATS, cn->cn_id, -1,
	    &format, sizeof(format)) == -1)
		return (control_fail(cn, "the metrics process is not "
		    "answering"));
	cn->cn_relay = PROC_METRICS;
	return (0);
}

static int
control_page_out(struct ctl_conn *cn)
{
	struct backend_listing	*bl = cn->cn_backends;
	unsigned int		 i;

	for (i = 0; i < bl->bl_req.br_n; i++)
		if (control_compose(cn, IMSG_CTL_BACKEND, &bl->bl_recs[i],
		    sizeof(bl->bl_recs[i])) == -1)
			return (-1);
	return (0);
}

static int
control_ask_backends(struct portero *env, struct ctl_conn *cn)
{
	if (control_busy(cn))
		return (control_fail(cn, "a request is already in progress"));
	if ((cn->cn_backends = listing_new()) == NULL)
		return (control_fail(cn, "out of memory"));
	return (control_backends_next(env, cn));
}

/*
 * Pages out while the client keeps up: a page the workers are asked
 * about goes out when they have answered (control_backends_reply), or
 * at the reply timeout; with no worker to ask, at once.
 */
static int
control_backends_next(struct portero *env, struct ctl_conn *cn)
{
	struct backend_listing	*bl = cn->cn_backends;
	struct timeval		 tv;

	while (imsgbuf_queued(&cn->cn_iev.ibuf) < CTL_LISTING_QUEUED) {
		if (listing_page(env, bl, cn->cn_id) == 0) {
			free(bl);
			cn->cn_backends = NULL;
			control_idle(cn);
			return (control_compose(cn, IMSG_CTL_END, NULL, 0));
		}
		if (listing_waiting(bl)) {
			tv.tv_sec = CTL_REPLY_TIMEOUT_MS / 1000;
			tv.tv_usec = (CTL_REPLY_TIMEOUT_MS % 1000) * 1000;
			evtimer_add(&cn->cn_timeout, &tv);
			return (0);
		}
		if (control_page_out(cn) == -1)
			return (-1);
	}
	control_idle(cn);	/* the client has this long to read */
	return (0);
}

/* The page as it stands, then the next. */
static int
control_send_page(struct portero *env, struct ctl_conn *cn)
{
	if (control_page_out(cn) == -1)
		return (-1);
	return (control_backends_next(env, cn));
}

void
control_backends_reply(struct portero *env, struct child *ch, uint32_t id,
    const struct backends_stats *bss)
{
	struct ctl_conn	*cn;

	if ((cn = control_conn_byid(id)) == NULL || cn->cn_backends == NULL ||
	    cn->cn_backends->bl_awaited == 0)
		return;		/* the client left, or it timed out */
	listing_answer(cn->cn_backends, ch, bss);
	if (!listing_waiting(cn->cn_backends) &&
	    control_send_page(env, cn) == -1)
		control_conn_close(cn);
}

/* The health child's answer for a page. */
void
control_health_reply(struct portero *env, uint32_t id,
    const struct health_stats *hss)
{
	struct ctl_conn	*cn;

	if ((cn = control_conn_byid(id)) == NULL || cn->cn_backends == NULL ||
	    !cn->cn_backends->bl_hwait)
		return;		/* the client left, or it timed out */
	listing_health(cn->cn_backends, hss);
	if (!listing_waiting(cn->cn_backends) &&
	    control_send_page(env, cn) == -1)
		control_conn_close(cn);
}

static int
control_request(struct portero *env, struct ctl_conn *cn, struct imsg *imsg)
{
	char	 why[256];
	int32_t	 verbose;

	control_idle(cn);
	switch (imsg->hdr.type) {
	case IMSG_CTL_SHOW_STATUS:
		return (control_send_status(env, cn));
	case IMSG_CTL_SHOW_WORKERS:
		return (control_ask_workers(env, cn));
	case IMSG_CTL_SHOW_CERTS:
		return (control_ask_certs(env, cn));
	case IMSG_CTL_SHOW_BACKENDS:
		return (control_ask_backends(env, cn));
	case IMSG_CTL_SHOW_STATS:
		return (control_ask_stats(env, cn, imsg));
	case IMSG_CTL_RELOAD:
		if (parent_reload(env, why, sizeof(why)) == -1)
			return (control_fail(cn, why));
		return (control_compose(cn, IMSG_CTL_OK, NULL, 0));
	case IMSG_CTL_REOPEN:
		if (parent_logger_reopen(env, why, sizeof(why)) == -1)
			return (control_fail(cn, why));
		return (control_compose(cn, IMSG_CTL_OK, NULL, 0));
	case IMSG_CTL_LOG_VERBOSE:
		if (config_getverbose(imsg, &verbose) == -1)
			return (control_fail(cn, "verbosity out of range"));
		parent_set_verbose(env, verbose);
		log_info("log level set to %s", verbose ? "verbose" : "brief");
		return (control_compose(cn, IMSG_CTL_OK, NULL, 0));
	default:
		return (control_fail(cn, "unknown request"));
	}
}

static void
control_dispatch(int fd, short event, void *arg)
{
	struct ctl_conn	*cn = arg;
	struct portero	*env = portero_env;
	struct imsg	 imsg;
	ssize_t		 n;

	if (imsgev_dispatch_io(&cn->cn_iev, event) == -1) {
		control_conn_close(cn);
		return;
	}
	/* a listing paused for the client to read resumes */
	if (cn->cn_backends != NULL && !listing_waiting(cn->cn_backends) &&
	    control_backends_next(env, cn) == -1)
		goto fail;
	for (;;) {
		if ((n = imsgbuf_get(&cn->cn_iev.ibuf, &imsg)) == -1) {
			log_warnx("control: malformed message; closing the "
			    "connection");
			control_conn_close(cn);
			return;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1)
			close(imsg.fd);
		if (imsg_check(&imsg, PROC_CTL, PROC_PARENT) == -1) {
			log_warnx("control: unexpected %s message; closing the "
			    "connection", imsg_name(imsg.hdr.type));
			control_conn_close(cn);
			return;
		}
		if (env->pc_stopping) {
			if (control_fail(cn, "portero is stopping") == -1)
				goto fail;
			continue;
		}
		if (control_request(env, cn, &imsg) == -1)
			goto fail;
	}
	imsgev_add(&cn->cn_iev);
	return;
 fail:
	log_warnx("control: client does not read its replies; closing");
	control_conn_close(cn);
}
