/*
 * parent.c: the parent's work after start-up: starting, configuring,
 * supervising and stopping its children, and relaying their messages.
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
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

static void	 parent_respawn(int, short, void *);
static void	 parent_child_gone(struct portero *, struct child *);
static void	 parent_drain_expired(int, short, void *);
static void	 parent_exit_if_done(struct portero *);
static void	 parent_broadcast(struct portero *, uint32_t, const void *,
		    size_t);
static const char *parent_child_name(const struct child *, char *, size_t);

#define CHILD_NAME_LEN	32

/* Every child, in process-table order, for loops over all of them. */
#define FOREACH_CHILD(env, ch, i)					\
	for ((i) = 0; ((ch) = parent_child_at((env), (i))) != NULL; (i)++)

static struct child *
parent_child_at(struct portero *env, unsigned int i)
{
	if (i == 0)
		return (&env->pc_certloader);
	if (i == 1)
		return (&env->pc_registrar);
	if (i - 2 < env->pc_conf.workers)
		return (&env->pc_workers[i - 2]);
	return (NULL);
}

static const char *
parent_child_name(const struct child *ch, char *buf, size_t len)
{
	if (ch->ch_role == PROC_WORKER)
		(void)snprintf(buf, len, "worker %u", ch->ch_id);
	else
		(void)snprintf(buf, len, "%s", proc_role_name(ch->ch_role));
	return (buf);
}

/* The parent's timers, set once so they can be added and deleted. */
void
parent_init_timers(struct portero *env)
{
	struct child	*ch;
	unsigned int	 i;

	FOREACH_CHILD(env, ch, i)
		evtimer_set(&ch->ch_respawn, parent_respawn, ch);
	evtimer_set(&env->pc_ev_drain, parent_drain_expired, env);
	evtimer_set(&env->pc_ev_rekey, parent_rekey, env);
}

/*
 * fork, then re-execute ourselves in the child: each child starts from a
 * fresh image (its own address-space layout, none of the parent's
 * memory), with only its channel to the parent on PROC_PARENT_FD.
 */
void
parent_start_child(struct portero *env, struct child *ch)
{
	char		 idbuf[16], name[CHILD_NAME_LEN];
	char		*argv[16];
	int		 sp[2], argc = 0, v;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	(void)snprintf(idbuf, sizeof(idbuf), "%u", ch->ch_id);
	argv[argc++] = "portero";
	argv[argc++] = "-P";
	argv[argc++] = (char *)proc_role_name(ch->ch_role);
	argv[argc++] = "-I";
	argv[argc++] = idbuf;
	if (env->pc_conf.foreground)
		argv[argc++] = "-d";
	for (v = 0; v < env->pc_conf.verbose && v < 3; v++)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		if (dup2(sp[1], PROC_PARENT_FD) == -1)
			_exit(127);
		if (sp[1] == PROC_PARENT_FD &&
		    fcntl(PROC_PARENT_FD, F_SETFD, 0) == -1)
			_exit(127);
		execv(env->pc_exe, argv);
		dprintf(STDERR_FILENO, "portero: exec %s: %s\n", env->pc_exe,
		    strerror(errno));
		_exit(127);
	}
	close(sp[1]);
	if (socket_set_nonblock(sp[0]) == -1)
		fatal("socketpair");
	ch->ch_pid = pid;
	ch->ch_state = CHILD_STARTING;
	clock_gettime(CLOCK_MONOTONIC, &ch->ch_started);
	memset(&ch->ch_stats, 0, sizeof(ch->ch_stats));
	imsgev_init(&ch->ch_iev, sp[0], parent_dispatch_child, ch);
	ch->ch_ievset = 1;
	log_debug("started %s, pid %d",
	    parent_child_name(ch, name, sizeof(name)), (int)pid);
	parent_send_config(env, ch);
}

static void
parent_send_listener(struct child *ch, int fd, enum listener_kind kind,
    const char *addr)
{
	struct listener_msg	 lm;
	int			 dupfd;

	memset(&lm, 0, sizeof(lm));
	lm.kind = kind;
	(void)strlcpy(lm.addr, addr, sizeof(lm.addr));
	/* the channel closes what it sends; the parent keeps its copy */
	if ((dupfd = dup(fd)) == -1)
		fatal("dup listener");
	if (imsgev_compose(&ch->ch_iev, IMSG_CFG_LISTENER, 0, 0, dupfd, &lm,
	    sizeof(lm)) == -1)
		fatal("send listener");
}

/*
 * What only workers get: the backend table every time (the worker swaps
 * it in whole at CFG_DONE), and at start its sockets, the access log,
 * the ticket keys and, from the certloader, the certificates.
 */
static void
parent_send_worker(struct portero *env, struct child *ch)
{
	struct portero_config	*conf = &env->pc_conf;
	unsigned int		 i;
	int			 fd;

	for (i = 0; i < env->pc_backends.bt_n; i++)
		if (imsgev_compose(&ch->ch_iev, IMSG_CFG_BACKEND, 0, 0, -1,
		    &env->pc_backends.bt_be[i],
		    sizeof(env->pc_backends.bt_be[i])) == -1)
			fatal("send backend");
	if (ch->ch_state != CHILD_STARTING)
		return;
	parent_send_listener(ch, ch->ch_listenfd, LISTENER_PROXY,
	    conf->listen_addr);
	if (env->pc_httpfd[ch->ch_id] != -1)
		parent_send_listener(ch, env->pc_httpfd[ch->ch_id],
		    LISTENER_HTTP, conf->http_addr);
	if (env->pc_accesslogfd != -1) {
		if ((fd = dup(env->pc_accesslogfd)) == -1)
			fatal("dup access log");
		if (imsgev_compose(&ch->ch_iev, IMSG_CFG_ACCESSLOG, 0, 0, fd,
		    NULL, 0) == -1)
			fatal("send access log");
	}
	for (i = 0; i < 2; i++)
		if (env->pc_ticket[i].tk_rev != 0 &&
		    imsgev_compose(&ch->ch_iev, IMSG_TLS_TICKET_KEY, 0, 0, -1,
		    &env->pc_ticket[i], sizeof(env->pc_ticket[i])) == -1)
			fatal("send ticket key");
	if (env->pc_certloader.ch_ievset &&
	    imsgev_compose(&env->pc_certloader.ch_iev, IMSG_CERT_RESEND,
	    ch->ch_id, 0, -1, NULL, 0) == -1)
		fatal("send cert resend");
}

/*
 * Session-ticket keys are made here and rotated on a timer; every worker
 * gets the same keys and session-id context, so a session made on one
 * worker resumes on any other.  The previous key stays for resumption.
 */
void
parent_rekey(int fd, short event, void *arg)
{
	struct portero	*env = arg;
	struct child	*ch;
	struct timeval	 tv = { PORTERO_TICKET_ROTATE, 0 };
	unsigned int	 i;

	if (env->pc_ticket[0].tk_rev == 0)
		arc4random_buf(env->pc_ticket[0].tk_sessid,
		    sizeof(env->pc_ticket[0].tk_sessid));
	env->pc_ticket[1] = env->pc_ticket[0];
	env->pc_ticket[0].tk_rev++;
	arc4random_buf(env->pc_ticket[0].tk_key,
	    sizeof(env->pc_ticket[0].tk_key));
	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if (ch->ch_ievset && imsgev_compose(&ch->ch_iev,
		    IMSG_TLS_TICKET_KEY, 0, 0, -1, &env->pc_ticket[0],
		    sizeof(env->pc_ticket[0])) == -1)
			fatal("send ticket key");
	}
	evtimer_add(&env->pc_ev_rekey, &tv);
}

/*
 * Certificate sets from the certloader go to the workers that were
 * there when the set began; a worker started meanwhile asks for its own
 * copy (IMSG_CERT_RESEND), so no worker ever sees half a set.
 */
static void
parent_relay_cert(struct portero *env, struct imsg *imsg)
{
	struct child	*ch;
	unsigned int	 i;

	if (!env->pc_cert_inset) {
		env->pc_cert_inset = 1;
		env->pc_cert_mask = 0;
		for (i = 0; i < env->pc_conf.workers; i++) {
			ch = &env->pc_workers[i];
			if (ch->ch_ievset && (imsg->hdr.peerid == PEERID_ALL ||
			    imsg->hdr.peerid == i))
				env->pc_cert_mask |= 1ULL << i;
		}
	}
	for (i = 0; i < env->pc_conf.workers; i++) {
		ch = &env->pc_workers[i];
		if ((env->pc_cert_mask & (1ULL << i)) == 0)
			continue;
		if (!ch->ch_ievset) {
			env->pc_cert_mask &= ~(1ULL << i);
			continue;
		}
		if (imsgev_compose(&ch->ch_iev, imsg->hdr.type, 0, 0, -1,
		    imsg->data, imsg->len) == -1)
			fatal("relay certificates");
	}
	if (imsg->hdr.type == IMSG_CERT_END)
		env->pc_cert_inset = 0;
}

/* The whole current configuration, as a respawned child needs it. */
void
parent_send_config(struct portero *env, struct child *ch)
{
	struct portero_config	*conf = &env->pc_conf;

	if (imsgev_compose(&ch->ch_iev, IMSG_CFG_GLOBAL, 0, 0, -1, conf,
	    sizeof(*conf)) == -1)
		fatal("send config");
	if (ch->ch_role == PROC_WORKER)
		parent_send_worker(env, ch);
	if (ch->ch_state == CHILD_STARTING && ch->ch_role == PROC_REGISTRAR)
		parent_send_listener(ch, env->pc_registerfd,
		    LISTENER_REGISTER, conf->register_addr);
	if (imsgev_compose(&ch->ch_iev, IMSG_CFG_DONE, 0, 0, -1, NULL,
	    0) == -1)
		fatal("send config");
}

static void
parent_dispatch_imsg(struct portero *env, struct child *ch, struct imsg *imsg)
{
	char	 name[CHILD_NAME_LEN];

	switch (imsg->hdr.type) {
	case IMSG_CERT_ADD:
	case IMSG_CERT_DATA:
	case IMSG_CERT_END:
		if (ch->ch_role != PROC_CERTLOADER)
			fatalx("certificates from %s",
			    parent_child_name(ch, name, sizeof(name)));
		parent_relay_cert(env, imsg);
		break;
	case IMSG_CTL_CERT:
	case IMSG_CTL_END:
		if (ch->ch_role != PROC_CERTLOADER)
			fatalx("certificate listing from %s",
			    parent_child_name(ch, name, sizeof(name)));
		control_relay(env, imsg);
		break;
	case IMSG_CFG_DONE:
		if (ch->ch_state != CHILD_STARTING)
			break;
		ch->ch_state = CHILD_RUNNING;
		if (imsgev_compose(&ch->ch_iev, IMSG_START, 0, 0, -1, NULL,
		    0) == -1)
			fatal("send start");
		log_info("%s running, pid %d",
		    parent_child_name(ch, name, sizeof(name)), (int)ch->ch_pid);
		break;
	case IMSG_STATS:
		if (ch->ch_role != PROC_WORKER ||
		    imsg->len != sizeof(struct worker_stats))
			fatalx("bad stats message from %s",
			    parent_child_name(ch, name, sizeof(name)));
		memcpy(&ch->ch_stats, imsg->data, sizeof(ch->ch_stats));
		control_stats_reply(env, ch, imsg->hdr.peerid, &ch->ch_stats);
		break;
	default:
		/* a trusted peer out of step: nothing sane to do but stop */
		fatalx("unexpected message %u from %s", imsg->hdr.type,
		    parent_child_name(ch, name, sizeof(name)));
	}
}

void
parent_dispatch_child(int fd, short event, void *arg)
{
	struct child	*ch = arg;
	struct portero	*env = portero_env;
	struct imsg	 imsg;
	ssize_t		 n;
	char		 name[CHILD_NAME_LEN];

	if (imsgev_dispatch_io(&ch->ch_iev, event) == -1) {
		/* the child is going away; SIGCHLD will tell us how */
		imsgev_clear(&ch->ch_iev);
		ch->ch_ievset = 0;
		return;
	}
	for (;;) {
		if ((n = imsgbuf_get(&ch->ch_iev.ibuf, &imsg)) == -1) {
			log_warnx("malformed message from %s; closing its "
			    "channel", parent_child_name(ch, name,
			    sizeof(name)));
			imsgev_clear(&ch->ch_iev);
			ch->ch_ievset = 0;
			kill(ch->ch_pid, SIGKILL);
			return;
		}
		if (n == 0)
			break;
		if (imsg.fd != -1)
			close(imsg.fd);	/* children never pass descriptors up */
		parent_dispatch_imsg(env, ch, &imsg);
	}
	imsgev_add(&ch->ch_iev);
}

struct child *
parent_child_bypid(struct portero *env, pid_t pid)
{
	struct child	*ch;
	unsigned int	 i;

	FOREACH_CHILD(env, ch, i)
		if (ch->ch_pid == pid)
			return (ch);
	return (NULL);
}

static void
parent_log_death(const struct child *ch, int status)
{
	char	 name[CHILD_NAME_LEN];

	parent_child_name(ch, name, sizeof(name));
	if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d%s", name,
		    (int)ch->ch_pid, WTERMSIG(status),
		    WTERMSIG(status) == SIGSYS ? " (sandbox violation)" : "");
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("%s (pid %d) exited with status %d", name,
		    (int)ch->ch_pid, WEXITSTATUS(status));
	else
		log_debug("%s (pid %d) exited", name, (int)ch->ch_pid);
}

void
parent_sigchld(struct portero *env)
{
	struct child	*ch;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((ch = parent_child_bypid(env, pid)) == NULL)
			continue;
		if (env->pc_stopping == 0 || WIFSIGNALED(status) ||
		    WEXITSTATUS(status) != 0)
			parent_log_death(ch, status);
		parent_child_gone(env, ch);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
	parent_exit_if_done(env);
}

/*
 * A child is gone.  Unless we are stopping, bring it back: at once if
 * it had lived a while, else after a back-off that doubles with each
 * quick death, so a child that cannot start does not spin the machine.
 */
static void
parent_child_gone(struct portero *env, struct child *ch)
{
	struct timespec	 now;
	struct timeval	 tv;
	unsigned int	 delay_ms = 0, n;
	char		 name[CHILD_NAME_LEN];

	if (ch->ch_ievset) {
		imsgev_clear(&ch->ch_iev);
		ch->ch_ievset = 0;
	}
	control_child_gone(env, ch);
	ch->ch_pid = 0;
	ch->ch_state = CHILD_DEAD;
	if (env->pc_stopping)
		return;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - ch->ch_started.tv_sec >= RESPAWN_STABLE)
		ch->ch_quickdeaths = 0;
	if (ch->ch_quickdeaths > 0) {
		delay_ms = RESPAWN_MIN_MS;
		for (n = 1; n < ch->ch_quickdeaths && delay_ms < RESPAWN_MAX_MS;
		    n++)
			delay_ms *= 2;
		if (delay_ms > RESPAWN_MAX_MS)
			delay_ms = RESPAWN_MAX_MS;
	}
	ch->ch_quickdeaths++;
	if (delay_ms > 0)
		log_info("%s keeps dying; next start in %u ms",
		    parent_child_name(ch, name, sizeof(name)), delay_ms);
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(&ch->ch_respawn, &tv);
}

static void
parent_respawn(int fd, short event, void *arg)
{
	struct child	*ch = arg;
	struct portero	*env = portero_env;
	char		 name[CHILD_NAME_LEN];

	if (env->pc_stopping)
		return;
	ch->ch_restarts++;
	log_info("restarting %s (restart %u)",
	    parent_child_name(ch, name, sizeof(name)), ch->ch_restarts);
	parent_start_child(env, ch);
}

static void
parent_broadcast(struct portero *env, uint32_t type, const void *data,
    size_t len)
{
	struct child	*ch;
	unsigned int	 i;

	FOREACH_CHILD(env, ch, i) {
		if (!ch->ch_ievset)
			continue;
		if (imsgev_compose(&ch->ch_iev, type, 0, 0, -1, data,
		    len) == -1)
			fatal("send to children");
	}
}

/*
 * Reload: build the new configuration aside and take it only if it is
 * whole.  What only a restart can change (sockets, workers, users,
 * directories) is kept as running, with a line saying so.
 */
void
parent_reload(struct portero *env)
{
	struct portero_config	 newconf, *conf = &env->pc_conf;
	struct backend_table	*newbt;
	struct child		*ch;
	unsigned int		 i;
	int			 checkonly;

	if (env->pc_stopping)
		return;
	log_info("reloading");
	config_defaults(&newconf);
	if ((newbt = calloc(1, sizeof(*newbt))) == NULL) {
		log_warn("reload");
		return;
	}
	if (config_parse_args(&newconf, newbt, env->pc_argc, env->pc_argv,
	    &checkonly) == -1 || config_check(&newconf) == -1) {
		log_warnx("reload failed; keeping the running configuration");
		free(newbt);
		return;
	}
	if (strcmp(newconf.listen_addr, conf->listen_addr) != 0 ||
	    strcmp(newconf.register_addr, conf->register_addr) != 0 ||
	    strcmp(newconf.control_socket, conf->control_socket) != 0 ||
	    strcmp(newconf.user, conf->user) != 0 ||
	    strcmp(newconf.state_dir, conf->state_dir) != 0 ||
	    strcmp(newconf.chroot_dir, conf->chroot_dir) != 0 ||
	    strcmp(newconf.cert_dir, conf->cert_dir) != 0 ||
	    newconf.workers != conf->workers)
		log_warnx("reload: listeners, workers, user and directories "
		    "change only on restart; keeping the running ones");
	/* what a reload may change */
	conf->drain_timeout = newconf.drain_timeout;
	conf->cert_scan_interval = newconf.cert_scan_interval;
	conf->header_timeout = newconf.header_timeout;
	conf->idle_timeout = newconf.idle_timeout;
	conf->handshake_timeout = newconf.handshake_timeout;
	conf->connect_timeout = newconf.connect_timeout;
	conf->upstream_timeout = newconf.upstream_timeout;
	memcpy(conf->default_service, newconf.default_service,
	    sizeof(conf->default_service));
	env->pc_backends = *newbt;
	free(newbt);
	conf->verbose = newconf.verbose;
	log_setverbose(conf->verbose);

	FOREACH_CHILD(env, ch, i)
		if (ch->ch_ievset && ch->ch_state == CHILD_RUNNING)
			parent_send_config(env, ch);
	if (env->pc_certloader.ch_ievset &&
	    imsgev_compose(&env->pc_certloader.ch_iev, IMSG_RELOAD, 0, 0, -1,
	    NULL, 0) == -1)
		fatal("send reload");
}

void
parent_set_verbose(struct portero *env, int verbose)
{
	env->pc_conf.verbose = verbose;
	log_setverbose(verbose);
	parent_broadcast(env, IMSG_LOG_VERBOSE, &verbose, sizeof(verbose));
}

/*
 * Stop.  The first time: close every listener, tell each child to drain,
 * and give them the drain timeout.  Again (now): end the children at
 * once.
 */
void
parent_shutdown(struct portero *env, int now)
{
	struct timeval	 tv;
	struct child	*ch;
	unsigned int	 i;

	if (!now && env->pc_stopping == 0) {
		env->pc_stopping = 1;
		log_info("stopping; draining for up to %u s",
		    env->pc_conf.drain_timeout);
		FOREACH_CHILD(env, ch, i) {
			if (ch->ch_role == PROC_WORKER &&
			    ch->ch_listenfd != -1) {
				close(ch->ch_listenfd);
				ch->ch_listenfd = -1;
			}
			evtimer_del(&ch->ch_respawn);
		}
		for (i = 0; i < env->pc_conf.workers; i++)
			if (env->pc_httpfd[i] != -1) {
				close(env->pc_httpfd[i]);
				env->pc_httpfd[i] = -1;
			}
		close(env->pc_registerfd);
		env->pc_registerfd = -1;
		evtimer_del(&env->pc_ev_rekey);
		parent_broadcast(env, IMSG_SHUTDOWN, NULL, 0);
		tv.tv_sec = env->pc_conf.drain_timeout + 2;
	} else {
		env->pc_stopping = 2;
		log_info("stopping now");
		FOREACH_CHILD(env, ch, i)
			if (ch->ch_pid != 0)
				kill(ch->ch_pid, SIGTERM);
		tv.tv_sec = 2;
	}
	tv.tv_usec = 0;
	evtimer_add(&env->pc_ev_drain, &tv);
	parent_exit_if_done(env);
}

/* Children that outlive their time are killed; we never leave orphans. */
static void
parent_drain_expired(int fd, short event, void *arg)
{
	struct portero	*env = arg;
	struct child	*ch;
	unsigned int	 i;
	char		 name[CHILD_NAME_LEN];

	FOREACH_CHILD(env, ch, i) {
		if (ch->ch_pid == 0)
			continue;
		log_warnx("%s (pid %d) did not stop in time; killing it",
		    parent_child_name(ch, name, sizeof(name)), (int)ch->ch_pid);
		kill(ch->ch_pid, SIGKILL);
	}
}

static void
parent_exit_if_done(struct portero *env)
{
	struct child	*ch;
	unsigned int	 i;

	if (env->pc_stopping == 0)
		return;
	FOREACH_CHILD(env, ch, i)
		if (ch->ch_pid != 0)
			return;
	control_close(env);
	log_info("stopped");
	exit(0);
}
