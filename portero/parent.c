/*
 * parent.c: the parent's messages: starting and configuring children,
 * one dispatch per kind of child, relaying between them, reloads and
 * session-ticket keys.
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
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

static void	 parent_dispatch_certloader(struct portero *, struct child *,
		    struct imsg *);
static void	 parent_dispatch_registrar(struct portero *, struct child *,
		    struct imsg *);
static void	 parent_dispatch_worker(struct portero *, struct child *,
		    struct imsg *);

struct child *
parent_child_at(struct portero *env, unsigned int i)
{
	if (i == 0)
		return (&env->pc_certloader);
	if (i == 1)
		return (&env->pc_registrar);
	if (i - 2 < env->pc_conf.workers)
		return (&env->pc_workers[i - 2]);
	i -= 2 + env->pc_conf.workers;
	/* the health child, while it is wanted or alive */
	if (env->pc_health_want || env->pc_health.ch_pid != 0) {
		if (i == 0)
			return (&env->pc_health);
		i--;
	}
	/* the logger, unless the access log is off */
	if (!env->pc_conf.access_log_off || env->pc_logger.ch_pid != 0) {
		if (i == 0)
			return (&env->pc_logger);
		i--;
	}
	return (i == 0 ? &env->pc_metrics : NULL);
}

const char *
parent_child_name(const struct child *ch, char *buf, size_t len)
{
	if (ch->ch_role == PROC_WORKER)
		(void)snprintf(buf, len, "worker %u", ch->ch_id);
	else
		(void)snprintf(buf, len, "%s", proc_role_name(ch->ch_role));
	return (buf);
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
	ch->ch_cfg_sent = ch->ch_cfg_again = 0;
	ch->ch_ca_gen = 0;
	ch->ch_clientca_gen = 0;
	ch->ch_poolca_gen = 0;
	clock_gettime(CLOCK_MONOTONIC, &ch->ch_started);
	ch->ch_pong = ch->ch_started;
	memset(&ch->ch_stats, 0, sizeof(ch->ch_stats));
	imsgev_init(&ch->ch_iev, sp[0], parent_dispatch_child, ch);
	ch->ch_ievset = 1;
	log_debug("started %s, pid %d",
	    parent_child_name(ch, name, sizeof(name)), (int)pid);
	parent_send_config(env, ch);
}

/*
 * Queue a message for a child.  A child whose queue is full has stopped
 * reading: it is broken, and killed to be started again; the parent and
 * every other child go on.  On failure the caller keeps nothing to undo:
 * fd, if any, is closed here.
 */
int
parent_compose(struct portero *env, struct child *ch, uint32_t type,
    uint32_t peerid, int fd, const void *data, size_t len)
{
	if (!ch->ch_ievset) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (imsgev_compose(&ch->ch_iev, type, peerid, 0, fd, data,
	    len) == 0)
		return (0);
	if (fd != -1)
		close(fd);
	parent_child_broken(env, ch, errno == ENOBUFS ?
	    "does not read its messages (queue full)" : strerror(errno));
	return (-1);
}

/* The same for a set/get pair's sender: 0, or the child is broken. */
static int
parent_sent(struct portero *env, struct child *ch, int ret)
{
	if (ret == 0 || !ch->ch_ievset)
		return (0);
	parent_child_broken(env, ch, errno == ENOBUFS ?
	    "does not read its messages (queue full)" : strerror(errno));
	return (-1);
}

/* The upstream CA bundle, to a worker that does not have this one. */
static int
parent_send_ca(struct portero *env, struct child *ch)
{
	struct upstream_ca_msg	 uc;

	if (ch->ch_ca_gen == env->pc_ca_gen)
		return (0);
	memset(&uc, 0, sizeof(uc));
	uc.uc_gen = env->pc_ca_gen;
	uc.uc_verify = env->pc_ca_verify;
	uc.uc_len = env->pc_calen;
	(void)strlcpy(uc.uc_path, env->pc_ca_path, sizeof(uc.uc_path));
	if (parent_sent(env, ch, config_setupstreamca(&ch->ch_iev, &uc,
	    env->pc_ca)) == -1)
		return (-1);
	ch->ch_ca_gen = env->pc_ca_gen;
	return (0);
}

/* The client CA bundles (mTLS), to a worker that does not have these. */
static int
parent_send_clientca(struct portero *env, struct child *ch)
{
	static const struct client_ca_set	 none;
	const struct client_ca_set		*ccs = env->pc_set->cs_clientca;

	if (ch->ch_clientca_gen == env->pc_clientca_gen)
		return (0);
	if (parent_sent(env, ch, config_setclientca(&ch->ch_iev,
	    ccs != NULL ? ccs : &none)) == -1)
		return (-1);
	ch->ch_clientca_gen = env->pc_clientca_gen;
	return (0);
}

/* The pools' CA bundles, to a worker or the health child. */
static int
parent_send_poolca(struct portero *env, struct child *ch)
{
	static const struct pool_ca_set	 none;
	const struct pool_ca_set	*pcs = env->pc_set->cs_poolca;

	if (ch->ch_poolca_gen == env->pc_poolca_gen)
		return (0);
	if (parent_sent(env, ch, config_setpoolca(&ch->ch_iev,
	    pcs != NULL ? pcs : &none)) == -1)
		return (-1);
	ch->ch_poolca_gen = env->pc_poolca_gen;
	return (0);
}

/*
 * A configuration is taken (at start, old is NULL): its client CA
 * bundles go to the workers only if they differ from the last ones, as
 * the upstream bundle does; so do the pools' bundles (tls-ca), each
 * numbered so that a child keeps the context of one that stays.
 */
void
parent_clientca(struct portero *env, const struct conf_set *old,
    const struct conf_set *new)
{
	if (old == NULL || !clientca_equal(old->cs_clientca,
	    new->cs_clientca))
		env->pc_clientca_gen++;
	if (poolca_number(old != NULL ? old->cs_poolca : NULL,
	    new->cs_poolca, &env->pc_poolca_id) || old == NULL)
		env->pc_poolca_gen++;
	poolcert_number(old, new, &env->pc_poolcert_id);
}

/*
 * Pools' client certificates: their files, open, to the certloader with
 * each configuration it is sent (so a reload reads them anew); a child
 * that starts asks it for the pairs in service.
 */
static int
parent_send_poolcert(struct portero *env, struct child *ch)
{
	int	 start;

	if (ch->ch_role == PROC_CERTLOADER) {
		start = env->pc_reloads == 0 && ch->ch_restarts == 0;
		return (parent_sent(env, ch, poolcert_send_files(&ch->ch_iev,
		    env->pc_set->cs_poolcert, start)));
	}
	if (ch->ch_role == PROC_HEALTH && ch->ch_state == CHILD_STARTING)
		(void)parent_compose(env, &env->pc_certloader,
		    IMSG_POOL_CERT_RESEND, POOL_CERT_TO_HEALTH, -1, NULL, 0);
	return (0);
}

/*
 * The certloader's pairs go to every worker and the health child, or
 * to the one child that asked.  One bad when the daemon starts stops
 * it, as any bad file does.
 */
static void
parent_relay_poolcert(struct portero *env, struct imsg *imsg)
{
	struct child	*ch;
	uint32_t	 id = imsg->hdr.peerid;
	unsigned int	 i;
	char		 why[CERT_ERROR_LEN];

	if (imsg->hdr.type == IMSG_POOL_CERT_FAIL) {
		if (config_getpoolcertfail(imsg, why, sizeof(why)) == -1)
			(void)strlcpy(why, "a bad pair", sizeof(why));
		log_warnx("%s", why);
		log_warnx("not starting: a pool's client certificate cannot "
		    "be used");
		env->pc_exit_status = 1;
		parent_shutdown(env, 1);
		return;
	}
	if (id == POOL_CERT_TO_ALL || id == POOL_CERT_TO_HEALTH) {
		if (env->pc_health.ch_ievset)
			(void)parent_compose(env, &env->pc_health,
			    imsg->hdr.type, 0, -1, imsg->data, imsg->len);
		if (id == POOL_CERT_TO_HEALTH)
			return;
		for (i = 0; i < env->pc_conf.workers; i++) {
			ch = &env->pc_workers[i];
			if (ch->ch_ievset)
				(void)parent_compose(env, ch, imsg->hdr.type,
				    0, -1, imsg->data, imsg->len);
		}
		return;
	}
	if (id < env->pc_conf.workers && env->pc_workers[id].ch_ievset)
		(void)parent_compose(env, &env->pc_workers[id],
		    imsg->hdr.type, 0, -1, imsg->data, imsg->len);
}

/*
 * Servers, pools and backends, object by object; a server's names and
 * locations after it, header operations after their locations.
 */
static int
parent_send_set(struct portero *env, struct child *ch,
    const struct conf_set *set)
{
	struct imsgev	*iev = &ch->ch_iev;
	uint32_t	 i;

	for (i = 0; i < set->cs_npools; i++)
		if (parent_sent(env, ch, config_setpool(iev,
		    &set->cs_pools[i])) == -1)
			return (-1);
	for (i = 0; i < set->cs_nbackends; i++)
		if (parent_sent(env, ch, config_setbackend(iev,
		    &set->cs_backends[i])) == -1)
			return (-1);
	for (i = 0; i < set->cs_nservers; i++)
		if (parent_sent(env, ch, config_setserver(iev,
		    &set->cs_servers[i])) == -1)
			return (-1);
	for (i = 0; i < set->cs_nnames; i++)
		if (parent_sent(env, ch, config_setname(iev,
		    &set->cs_names[i])) == -1)
			return (-1);
	for (i = 0; i < set->cs_nlocations; i++)
		if (parent_sent(env, ch, config_setlocation(iev,
		    &set->cs_locations[i])) == -1)
			return (-1);
	for (i = 0; i < set->cs_nheaders; i++)
		if (parent_sent(env, ch, config_setheader(iev,
		    &set->cs_headers[i])) == -1)
			return (-1);
	for (i = 0; i < set->cs_nnets; i++)
		if (parent_sent(env, ch, config_setnet(iev,
		    &set->cs_nets[i])) == -1)
			return (-1);
	return (0);
}

/*
 * What only workers get: the backend table every time (the worker swaps
 * it in whole at CFG_DONE), and at start its sockets, the access log,
 * the ticket keys and, from the certloader, the certificates.
 */
static int
parent_send_worker(struct portero *env, struct child *ch)
{
	struct portero_config	*conf = &env->pc_conf;
	const struct listen_conf *ln;
	struct imsgev		*iev = &ch->ch_iev;
	unsigned int		 i;

	if (parent_send_set(env, ch, env->pc_set) == -1 ||
	    parent_send_ca(env, ch) == -1 ||
	    parent_send_clientca(env, ch) == -1 ||
	    parent_send_poolca(env, ch) == -1)
		return (-1);
	/*
	 * Its sockets, all of them: at start, and after a reload that
	 * changed the listeners.  One it has already is sent again (the
	 * same socket), so that every index means what the file says.
	 */
	if (ch->ch_state == CHILD_STARTING ||
	    ch->ch_listen_gen != env->pc_listen_gen) {
		for (i = 0; i < conf->nlisteners; i++) {
			ln = &conf->listeners[i];
			if (parent_sent(env, ch, config_setlistener(iev,
			    env->pc_listenfd[ch->ch_id][i], ln->ln_tls ?
			    LISTENER_PROXY : LISTENER_HTTP, i,
			    ln->ln_addr)) == -1)
				return (-1);
		}
		ch->ch_listen_gen = env->pc_listen_gen;
	}
	if (ch->ch_state != CHILD_STARTING)
		return (0);
	/* its socket to the logger */
	parent_logger_pair(env, ch);
	if (!ch->ch_ievset)
		return (-1);
	for (i = 0; i < 2; i++)
		if (env->pc_ticket[i].tk_rev != 0 && parent_sent(env, ch,
		    config_setticket(iev, &env->pc_ticket[i])) == -1)
			return (-1);
	/* its certificates come from the certloader, in windows */
	(void)parent_compose(env, &env->pc_certloader, IMSG_CERT_RESEND,
	    ch->ch_id, -1, NULL, 0);
	return (0);
}

/*
 * The whole current configuration, as a new or reloading child needs it.
 * One at a time: a child still applying the last one gets the newest
 * once it has answered CFG_DONE, so a burst of reloads never piles
 * configurations up in the queue of a child that is slow but alive.
 */
void
parent_send_config(struct portero *env, struct child *ch)
{
	struct imsgev	*iev = &ch->ch_iev;

	if (ch->ch_cfg_sent) {
		ch->ch_cfg_again = 1;
		return;
	}
	ch->ch_cfg_sent = 1;
	ch->ch_cfg_again = 0;
	if (parent_sent(env, ch, config_setglobal(iev, &env->pc_conf)) == -1)
		return;
	if (parent_send_poolcert(env, ch) == -1)
		return;
	if (ch->ch_role == PROC_WORKER && parent_send_worker(env, ch) == -1)
		return;
	if (ch->ch_role == PROC_HEALTH && (parent_send_ca(env, ch) == -1 ||
	    parent_send_poolca(env, ch) == -1 ||
	    parent_sent(env, ch, parent_health_config(env, ch)) == -1))
		return;
	if (ch->ch_role == PROC_LOGGER &&
	    parent_sent(env, ch, parent_logger_config(env, ch)) == -1)
		return;
	if (ch->ch_role == PROC_METRICS &&
	    parent_sent(env, ch, parent_metrics_config(env, ch)) == -1)
		return;
	if (ch->ch_role == PROC_REGISTRAR && !env->pc_conf.no_register &&
	    parent_sent(env, ch, config_setsecrets(iev,
	    &env->pc_secrets)) == -1)
		return;
	if (ch->ch_state == CHILD_STARTING && ch->ch_role == PROC_REGISTRAR &&
	    ((env->pc_registerfd != -1 && parent_sent(env, ch,
	    config_setlistener(iev, env->pc_registerfd, LISTENER_REGISTER, 0,
	    env->pc_conf.register_addr)) == -1) ||
	    parent_sent(env, ch, config_setseq(iev, IMSG_REG_DONE,
	    env->pc_reg_done)) == -1))
		return;
	/* a starting worker serves once it has every registered backend */
	if (ch->ch_state == CHILD_STARTING && ch->ch_role == PROC_WORKER)
		regcopy_snap_start(env, ch);
	else
		(void)parent_compose(env, ch, IMSG_CFG_DONE, 0, -1, NULL, 0);
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
	struct timeval	 tv = { env->pc_conf.tls_ticket_rotate, 0 };
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
		if (ch->ch_ievset)
			(void)parent_sent(env, ch, config_setticket(
			    &ch->ch_iev, &env->pc_ticket[0]));
	}
	evtimer_add(&env->pc_ev_rekey, &tv);
}

/*
 * The next message from a child, checked against the table: a child that
 * sends what its role may not, or a malformed frame, is broken.  Returns
 * 1 with a message, 0 when none is left or the channel is gone.
 */
static int
parent_next(struct portero *env, struct child *ch, struct imsg *imsg)
{
	ssize_t	 n;
	char	 why[64];

	if ((n = imsgbuf_get(&ch->ch_iev.ibuf, imsg)) == 0)
		return (0);
	if (n == -1) {
		parent_child_broken(env, ch, "sent a malformed message");
		return (0);
	}
	if (imsg_check(imsg, ch->ch_role, PROC_PARENT) == -1) {
		if (imsg->fd != -1)
			close(imsg->fd);
		(void)snprintf(why, sizeof(why), "sent an unexpected %s "
		    "message", imsg_name(imsg->hdr.type));
		parent_child_broken(env, ch, why);
		return (0);
	}
	return (1);
}

void
parent_dispatch_child(int fd, short event, void *arg)
{
	struct child	*ch = arg;
	struct portero	*env = portero_env;
	struct imsg	 imsg;
	char		 name[CHILD_NAME_LEN];

	if (imsgev_dispatch_io(&ch->ch_iev, event) == -1) {
		/* the child is going away; SIGCHLD will tell us how */
		imsgev_clear(&ch->ch_iev);
		ch->ch_ievset = 0;
		return;
	}
	while (ch->ch_ievset && parent_next(env, ch, &imsg)) {
		switch (imsg.hdr.type) {
		case IMSG_PONG:
			clock_gettime(CLOCK_MONOTONIC, &ch->ch_pong);
			continue;
		case IMSG_CFG_DONE:
			ch->ch_cfg_sent = 0;
			if (ch->ch_state == CHILD_STARTING) {
				ch->ch_state = CHILD_RUNNING;
				if (ch->ch_role == PROC_WORKER)
					regcopy_running(env, ch);
				if (ch->ch_role == PROC_WORKER)
					parent_health_worker(env, ch);
				if (ch->ch_role == PROC_HEALTH)
					parent_health_running(env);
				clock_gettime(CLOCK_MONOTONIC, &ch->ch_pong);
				if (parent_compose(env, ch, IMSG_START, 0, -1,
				    NULL, 0) == 0)
					log_info("%s running, pid %d",
					    parent_child_name(ch, name,
					    sizeof(name)), (int)ch->ch_pid);
			}
			/* a reload came meanwhile: now the running child's */
			if (ch->ch_ievset && ch->ch_cfg_again)
				parent_send_config(env, ch);
			continue;
		}
		switch (ch->ch_role) {
		case PROC_CERTLOADER:
			parent_dispatch_certloader(env, ch, &imsg);
			break;
		case PROC_REGISTRAR:
			parent_dispatch_registrar(env, ch, &imsg);
			break;
		case PROC_WORKER:
			parent_dispatch_worker(env, ch, &imsg);
			break;
		case PROC_HEALTH:
			parent_dispatch_health(env, ch, &imsg);
			break;
		case PROC_LOGGER:
			parent_dispatch_logger(env, ch, &imsg);
			break;
		case PROC_METRICS:
			parent_dispatch_metrics(env, ch, &imsg);
			break;
		default:
			fatalx("a child of role %d", ch->ch_role);
		}
	}
	if (ch->ch_ievset)
		imsgev_add(&ch->ch_iev);
}

/*
 * Certificate sets go to the one worker the certloader names; messages
 * for a worker that is not there are dropped (its successor asks for a
 * set of its own).  Listings go to the control client that asked.
 */
static void
parent_dispatch_certloader(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	uint32_t	 id = imsg->hdr.peerid;

	switch (imsg->hdr.type) {
	case IMSG_CERT_BEGIN:
	case IMSG_CERT_ADD:
	case IMSG_CERT_DATA:
	case IMSG_CERT_END:
		if (id >= env->pc_conf.workers)
			break;
		(void)parent_compose(env, &env->pc_workers[id],
		    imsg->hdr.type, 0, -1, imsg->data, imsg->len);
		break;
	case IMSG_CTL_CERT:
	case IMSG_CTL_END:
		control_relay(env, imsg);
		break;
	case IMSG_MET_CERT:
	case IMSG_MET_END:
		parent_metrics_relay(env, ch, imsg);
		break;
	case IMSG_POOL_CERT:
	case IMSG_POOL_CERT_DATA:
	case IMSG_POOL_CERT_END:
	case IMSG_POOL_CERT_FAIL:
		parent_relay_poolcert(env, imsg);
		break;
	default:
		parent_child_broken(env, ch, "sent a message out of turn");
	}
}

/* The registrar's durable changes to the registry, for every worker. */
static void
parent_dispatch_registrar(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	struct reg_backend	 rb;

	switch (imsg->hdr.type) {
	case IMSG_REG_UPSERT:
	case IMSG_REG_REMOVE:
		if (config_getreg(imsg, &rb) == -1) {
			parent_child_broken(env, ch, "sent a malformed "
			    "registration");
			break;
		}
		regcopy_update(env, imsg->hdr.type, &rb);
		break;
	case IMSG_REG_SYNC:
		regcopy_sync(env);
		break;
	case IMSG_REG_SYNC_END:
		regcopy_sync_end(env);
		break;
	case IMSG_MET_REGISTRAR:
	case IMSG_MET_REGSVC:
	case IMSG_MET_END:
		parent_metrics_relay(env, ch, imsg);
		break;
	default:
		parent_child_broken(env, ch, "sent a message out of turn");
	}
}

static void
parent_dispatch_worker(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	struct worker_stats	 ws;
	struct backends_stats	 bss;
	uint32_t		 seq;

	switch (imsg->hdr.type) {
	case IMSG_REG_ACK:
		if (config_getseq(imsg, &seq) == -1) {
			parent_child_broken(env, ch, "sent a malformed "
			    "acknowledgement");
			break;
		}
		regcopy_ack(env, ch, seq);
		break;
	case IMSG_REG_SNAP_ACK:
		regcopy_snap_ack(env, ch);
		break;
	case IMSG_CERT_ACK:
		(void)parent_compose(env, &env->pc_certloader, IMSG_CERT_ACK,
		    ch->ch_id, -1, imsg->data, imsg->len);
		break;
	case IMSG_BACKEND_HEALTH:
		parent_health_report(env, ch, imsg);
		break;
	case IMSG_MET_WORKER:
	case IMSG_MET_SERVICE:
	case IMSG_MET_BACKEND:
	case IMSG_MET_END:
		parent_metrics_relay(env, ch, imsg);
		break;
	case IMSG_BACKENDS:
		if (config_getbackends(imsg, &bss) == -1) {
			parent_child_broken(env, ch, "sent malformed backend "
			    "counters");
			break;
		}
		control_backends_reply(env, ch, imsg->hdr.peerid, &bss);
		break;
	case IMSG_STATS:
		if (config_getstats(imsg, &ws) == -1) {
			parent_child_broken(env, ch, "sent malformed stats");
			break;
		}
		ch->ch_stats = ws;
		control_stats_reply(env, ch, imsg->hdr.peerid, &ch->ch_stats);
		break;
	default:
		parent_child_broken(env, ch, "sent a message out of turn");
	}
}

void
parent_broadcast(struct portero *env, uint32_t type, const void *data,
    size_t len)
{
	struct child	*ch;
	unsigned int	 i;

	FOREACH_CHILD(env, ch, i)
		if (ch->ch_ievset)
			(void)parent_compose(env, ch, type, 0, -1, data, len);
}

/*
 * What only a restart can change: a reload that would change it is
 * refused whole, with the first such thing in the log and in why.
 */
static int
parent_reload_allowed(const struct portero_config *conf,
    const struct portero_config *newconf)
{
	const char	*what = NULL;

	if (strcmp(newconf->register_addr, conf->register_addr) != 0)
		what = "the registration API's listener";
	else if (newconf->workers != conf->workers)
		what = "the number of workers";
	else if (strcmp(newconf->user, conf->user) != 0)
		what = "the user";
	else if (strcmp(newconf->control_socket, conf->control_socket) != 0 ||
	    strcmp(newconf->state_dir, conf->state_dir) != 0 ||
	    strcmp(newconf->chroot_dir, conf->chroot_dir) != 0 ||
	    strcmp(newconf->cert_dir, conf->cert_dir) != 0)
		what = "the directories and the control socket";
	else if (strcmp(newconf->tls_ciphers, conf->tls_ciphers) != 0 ||
	    strcmp(newconf->tls_ciphersuites, conf->tls_ciphersuites) != 0 ||
	    strcmp(newconf->tls_groups, conf->tls_groups) != 0 ||
	    newconf->no_h2 != conf->no_h2 || newconf->h2c != conf->h2c)
		what = "the TLS lists, no-h2 and h2c";
	else if (strcmp(newconf->metrics_addr, conf->metrics_addr) != 0)
		what = "the metrics listener";
	else if (strcmp(newconf->access_log, conf->access_log) != 0 ||
	    newconf->access_log_off != conf->access_log_off)
		what = "the access log's file (reopen it for rotation)";
	if (what == NULL)
		return (0);
	log_warnx("reload: %s change only on restart", what);
	return (-1);
}

/*
 * The listeners of a reload: those it keeps (the same address, whatever
 * its place or kind) keep their sockets; new ones are bound aside for
 * every worker while the parent can (it is root).  On failure nothing
 * new stays bound and the reload is refused.  Those it drops close when
 * the new set is taken.
 */
struct relisten {
	int		 rl_fd[PORTERO_MAX_WORKERS][PORTERO_MAX_LISTENERS];
	uint32_t	 rl_from[PORTERO_MAX_LISTENERS];  /* kept: its old
							     index */
	int		 rl_changed;	/* workers need their sockets again */
};

static void
parent_relisten_drop(struct relisten *rl)
{
	unsigned int	 w, i;

	for (w = 0; w < PORTERO_MAX_WORKERS; w++)
		for (i = 0; i < PORTERO_MAX_LISTENERS; i++) {
			if (rl->rl_fd[w][i] != -1)
				close(rl->rl_fd[w][i]);
			rl->rl_fd[w][i] = -1;
		}
}

static uint32_t
parent_listener_was(const struct portero_config *conf, const char *addr)
{
	uint32_t	 j;

	for (j = 0; j < conf->nlisteners; j++)
		if (strcmp(conf->listeners[j].ln_addr, addr) == 0)
			return (j);
	return (CONF_NONE);
}

static int
parent_relisten(struct portero *env, const struct portero_config *newconf,
    struct relisten *rl)
{
	const struct portero_config	*conf = &env->pc_conf;
	const struct listen_conf	*ln;
	unsigned int			 w, i;

	memset(rl->rl_fd, -1, sizeof(rl->rl_fd));
	rl->rl_changed = newconf->nlisteners != conf->nlisteners;
	for (i = 0; i < newconf->nlisteners; i++) {
		ln = &newconf->listeners[i];
		rl->rl_from[i] = parent_listener_was(conf, ln->ln_addr);
		if (rl->rl_from[i] != i || ln->ln_tls !=
		    conf->listeners[i].ln_tls)
			rl->rl_changed = 1;
		if (rl->rl_from[i] != CONF_NONE)
			continue;
		for (w = 0; w < conf->workers; w++)
			if ((rl->rl_fd[w][i] = listener_bind(ln->ln_addr,
			    1)) == -1) {
				log_warn("reload: listen on %s", ln->ln_addr);
				parent_relisten_drop(rl);
				return (-1);
			}
	}
	return (0);
}

static void
parent_relisten_take(struct portero *env, struct relisten *rl,
    uint32_t nlisteners)
{
	int		*fds, kept[PORTERO_MAX_LISTENERS];
	unsigned int	 w, i;

	if (!rl->rl_changed)
		return;
	for (w = 0; w < env->pc_conf.workers; w++) {
		fds = env->pc_listenfd[w];
		memset(kept, 0, sizeof(kept));
		for (i = 0; i < nlisteners; i++)
			if (rl->rl_from[i] != CONF_NONE) {
				rl->rl_fd[w][i] = fds[rl->rl_from[i]];
				kept[rl->rl_from[i]] = 1;
			}
		for (i = 0; i < env->pc_conf.nlisteners; i++)
			if (!kept[i] && fds[i] != -1)
				close(fds[i]);
		for (i = 0; i < PORTERO_MAX_LISTENERS; i++) {
			fds[i] = rl->rl_fd[w][i];
			rl->rl_fd[w][i] = -1;
		}
	}
	env->pc_listen_gen++;
}

/* Stopping: no worker is given a listener again. */
void
parent_listeners_close(struct portero *env)
{
	unsigned int	 w, i;

	for (w = 0; w < PORTERO_MAX_WORKERS; w++)
		for (i = 0; i < PORTERO_MAX_LISTENERS; i++)
			if (env->pc_listenfd[w][i] != -1) {
				close(env->pc_listenfd[w][i]);
				env->pc_listenfd[w][i] = -1;
			}
}

/* What a reload changes. */
static void
parent_reload_take(struct portero_config *conf,
    const struct portero_config *newconf)
{
	memcpy(conf->listen_addr, newconf->listen_addr,
	    sizeof(conf->listen_addr));
	memcpy(conf->http_addr, newconf->http_addr, sizeof(conf->http_addr));
	memcpy(conf->listeners, newconf->listeners, sizeof(conf->listeners));
	conf->nlisteners = newconf->nlisteners;
	conf->http_proxy = newconf->http_proxy;
	conf->drain_timeout = newconf->drain_timeout;
	conf->tls_ticket_rotate = newconf->tls_ticket_rotate;
	conf->cert_scan_interval = newconf->cert_scan_interval;
	conf->header_timeout = newconf->header_timeout;
	conf->idle_timeout = newconf->idle_timeout;
	conf->handshake_timeout = newconf->handshake_timeout;
	conf->connect_timeout = newconf->connect_timeout;
	conf->upstream_timeout = newconf->upstream_timeout;
	conf->body_timeout = newconf->body_timeout;
	conf->send_timeout = newconf->send_timeout;
	conf->tunnel_idle_timeout = newconf->tunnel_idle_timeout;
	conf->h2_max_streams = newconf->h2_max_streams;
	conf->h2_max_header_list = newconf->h2_max_header_list;
	conf->h2_window = newconf->h2_window;
	conf->h2_reset_rate = newconf->h2_reset_rate;
	conf->max_body_size = newconf->max_body_size;
	memcpy(conf->jwt_key_file, newconf->jwt_key_file,
	    sizeof(conf->jwt_key_file));
	memcpy(conf->jwt_prevkey_file, newconf->jwt_prevkey_file,
	    sizeof(conf->jwt_prevkey_file));
	memcpy(conf->register_secret_file, newconf->register_secret_file,
	    sizeof(conf->register_secret_file));
	memcpy(conf->jwt_issuer, newconf->jwt_issuer,
	    sizeof(conf->jwt_issuer));
	memcpy(conf->jwt_audience, newconf->jwt_audience,
	    sizeof(conf->jwt_audience));
	conf->jwt_leeway = newconf->jwt_leeway;
	conf->max_ttl = newconf->max_ttl;
	conf->register_max_backends = newconf->register_max_backends;
	conf->register_max_per_service = newconf->register_max_per_service;
	conf->register_fail_limit = newconf->register_fail_limit;
	conf->register_nallow = newconf->register_nallow;
	memcpy(conf->register_allow, newconf->register_allow,
	    sizeof(conf->register_allow));
	conf->forwarders_field = newconf->forwarders_field;
	/* the access log's format and request ids; its file stays */
	conf->access_log_format = newconf->access_log_format;
	conf->trust_request_id = newconf->trust_request_id;
	memcpy(conf->default_service, newconf->default_service,
	    sizeof(conf->default_service));
	memcpy(conf->conf_file, newconf->conf_file, sizeof(conf->conf_file));
	conf->verbose = newconf->verbose;
}

/*
 * SIGHUP: a reload once the signals already caught are handled, however
 * many there were.
 */
void
parent_reload_soon(struct portero *env)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&env->pc_ev_reload, NULL))
		evtimer_add(&env->pc_ev_reload, &tv);
}

/*
 * Reload: build the new configuration aside and take it only if it is
 * whole.  What only a restart can change (sockets, workers, users,
 * directories) is kept as running, with a line saying so.  Returns -1
 * with the first problem in why when the running configuration stays.
 */
int
parent_reload(struct portero *env, char *why, size_t whylen)
{
	struct portero_config	 newconf;
	struct config_cmdline	 cmd;
	struct conf_set		*newset;
	struct reg_secrets	*newrs;
	struct relisten		 rl;
	struct child		*ch;
	unsigned int		 i;
	int			 bad;

	if (env->pc_stopping) {
		(void)strlcpy(why, "stopping", whylen);
		return (-1);
	}
	log_info("reloading");
	newset = confset_new();
	newrs = calloc(1, sizeof(*newrs));
	if (newset == NULL || newrs == NULL) {
		log_warn("reload");
		(void)strlcpy(why, "out of memory", whylen);
		confset_free(newset);
		free(newrs);
		return (-1);
	}
	/* the API is on or off until a restart; its key files are read anew */
	log_capture(why, whylen);
	bad = config_load(&newconf, newset, newrs, env->pc_argc,
	    env->pc_argv, &cmd) == -1 || config_check(&newconf) == -1 ||
	    tlsctx_check(&newconf) == -1 ||
	    ((newconf.no_register = env->pc_conf.no_register) == 0 &&
	    secrets_load(&newconf, newrs, &env->pc_envsecrets) == -1) ||
	    parent_reload_allowed(&env->pc_conf, &newconf) == -1 ||
	    parent_relisten(env, &newconf, &rl) == -1;
	log_capture(NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &env->pc_reload_at);
	if (bad) {
		env->pc_reloads_refused++;
		(void)strlcpy(env->pc_reload_error, why[0] != '\0' ? why :
		    "refused", sizeof(env->pc_reload_error));
		log_warnx("reload failed; keeping the running configuration");
		confset_free(newset);
		freezero(newrs, sizeof(*newrs));
		return (-1);
	}
	/* a CA bundle that cannot be read leaves the running one */
	if (parent_load_ca(env, &newconf) == -1)
		log_warnx("reload: keeping the running upstream CA bundle");
	else {
		memcpy(env->pc_conf.upstream_ca, newconf.upstream_ca,
		    sizeof(env->pc_conf.upstream_ca));
		env->pc_conf.upstream_insecure = newconf.upstream_insecure;
	}
	env->pc_reloads++;
	env->pc_reload_error[0] = '\0';
	parent_relisten_take(env, &rl, newconf.nlisteners);
	parent_reload_take(&env->pc_conf, &newconf);
	parent_clientca(env, env->pc_set, newset);
	confset_free(env->pc_set);
	env->pc_set = newset;
	if (!env->pc_conf.no_register)
		env->pc_secrets = *newrs;
	freezero(newrs, sizeof(*newrs));
	log_setverbose(env->pc_conf.verbose);

	/* a child still starting gets it once it has applied its first */
	FOREACH_CHILD(env, ch, i)
		if (ch->ch_ievset)
			parent_send_config(env, ch);
	parent_health_update(env);
	(void)parent_compose(env, &env->pc_certloader, IMSG_RELOAD, 0, -1,
	    NULL, 0);
	return (0);
}

void
parent_set_verbose(struct portero *env, int verbose)
{
	struct child	*ch;
	unsigned int	 i;

	env->pc_conf.verbose = verbose;
	log_setverbose(verbose);
	FOREACH_CHILD(env, ch, i)
		if (ch->ch_ievset)
			(void)parent_sent(env, ch, config_setverbose(
			    &ch->ch_iev, IMSG_LOG_VERBOSE, verbose));
}

/*
 * The upstream CA bundle is read here, so that workers open no file: at
 * start, where a failure is fatal to the caller, and on reload, where it
 * keeps the running one.  Workers are sent it when it has changed (or
 * the verify setting has); they parse it once each.
 */
int
parent_load_ca(struct portero *env, const struct portero_config *conf)
{
	const char	*path = "";
	char		*ca = NULL;
	size_t		 len = 0;
	int		 verify = !conf->upstream_insecure;

	if (verify) {
		path = conf->upstream_ca[0] != '\0' ? conf->upstream_ca :
		    ptls_default_ca_file();
		if ((ca = config_read_file(path, UPSTREAM_CA_MAX, &len)) ==
		    NULL) {
			log_warn("upstream CA %s", path);
			return (-1);
		}
		if (memmem(ca, len, "-----BEGIN CERTIFICATE-----", 27) ==
		    NULL) {
			log_warnx("upstream CA %s: no certificate in it",
			    path);
			free(ca);
			return (-1);
		}
	}
	if (env->pc_ca_gen != 0 && verify == env->pc_ca_verify &&
	    len == env->pc_calen && (len == 0 ||
	    memcmp(ca, env->pc_ca, len) == 0)) {
		free(ca);
		return (0);
	}
	free(env->pc_ca);
	env->pc_ca = ca;
	env->pc_calen = len;
	env->pc_ca_verify = verify;
	(void)strlcpy(env->pc_ca_path, path, sizeof(env->pc_ca_path));
	env->pc_ca_gen++;
	if (!verify)
		log_warnx("--upstream-insecure: upstream certificates are "
		    "not verified");
	else if (env->pc_ca_gen > 1)
		log_info("upstream CA %s: a new bundle, %zu bytes", path, len);
	return (0);
}
