/*
 * supervise.c: the parent's watch over its children: heartbeats, stuck
 * and dead children, restarts with back-off, and the orderly stop.
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
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

static void	 parent_heartbeat(int, short, void *);
static void	 parent_reload_timer(int, short, void *);
static void	 parent_respawn(int, short, void *);
static void	 parent_child_gone(struct portero *, struct child *);
static void	 parent_drain_expired(int, short, void *);
static void	 parent_exit_if_done(struct portero *);

/* The parent's timers, set once so they can be added and deleted. */
void
parent_init_timers(struct portero *env)
{
	struct timeval	 tv = { HEARTBEAT_INTERVAL_MS / 1000,
			    (HEARTBEAT_INTERVAL_MS % 1000) * 1000 };
	struct child	*ch;
	unsigned int	 i;

	FOREACH_CHILD(env, ch, i)
		evtimer_set(&ch->ch_respawn, parent_respawn, ch);
	evtimer_set(&env->pc_health.ch_respawn, parent_respawn,
	    &env->pc_health);
	evtimer_set(&env->pc_logger.ch_respawn, parent_respawn,
	    &env->pc_logger);
	evtimer_set(&env->pc_metrics.ch_respawn, parent_respawn,
	    &env->pc_metrics);
	evtimer_set(&env->pc_ev_drain, parent_drain_expired, env);
	evtimer_set(&env->pc_ev_rekey, parent_rekey, env);
	evtimer_set(&env->pc_ev_heartbeat, parent_heartbeat, env);
	evtimer_set(&env->pc_ev_reload, parent_reload_timer, env);
	evtimer_add(&env->pc_ev_heartbeat, &tv);
}

static long long
parent_ms_since(const struct timespec *then, const struct timespec *now)
{
	struct timespec	 d;

	timespecsub(now, then, &d);
	return ((long long)d.tv_sec * 1000 + d.tv_nsec / 1000000);
}

static void
parent_reload_timer(int fd, short event, void *arg)
{
	char	 why[256];

	(void)parent_reload(arg, why, sizeof(why));
}

/*
 * Once a second: ping every running child, and take the ones that have
 * not answered the pings of the last HEARTBEAT_TIMEOUT_MS, or have not
 * finished starting in CHILD_START_TIMEOUT, for stuck.  A stuck child
 * does not read its channel, so whatever the parent sends it piles up:
 * it is killed and started again with the current state.
 */
static void
parent_heartbeat(int fd, short event, void *arg)
{
	struct portero	*env = arg;
	struct child	*ch;
	struct timespec	 now;
	struct timeval	 tv = { HEARTBEAT_INTERVAL_MS / 1000,
			    (HEARTBEAT_INTERVAL_MS % 1000) * 1000 };
	unsigned int	 i;
	long long	 quiet;
	char		 why[64];

	clock_gettime(CLOCK_MONOTONIC, &now);
	FOREACH_CHILD(env, ch, i) {
		if (!ch->ch_ievset || env->pc_stopping)
			continue;
		quiet = parent_ms_since(&ch->ch_pong, &now);
		if (ch->ch_state == CHILD_STARTING &&
		    quiet >= CHILD_START_TIMEOUT * 1000) {
			parent_child_broken(env, ch, "did not finish starting "
			    "in time");
			continue;
		}
		if (ch->ch_state != CHILD_RUNNING)
			continue;
		if (quiet >= HEARTBEAT_TIMEOUT_MS) {
			(void)snprintf(why, sizeof(why), "did not answer for "
			    "%lld ms", quiet);
			parent_child_broken(env, ch, why);
			continue;
		}
		ch->ch_ping++;
		(void)parent_compose(env, ch, IMSG_PING, 0, -1, &ch->ch_ping,
		    sizeof(ch->ch_ping));
	}
	evtimer_add(&env->pc_ev_heartbeat, &tv);
}

/*
 * A child that is stuck, does not read its messages or sends what it may
 * not: its channel goes now, so nothing more piles up for it, and
 * SIGKILL ends it (a stopped process too); SIGCHLD brings it back.
 */
void
parent_child_broken(struct portero *env, struct child *ch, const char *why)
{
	char	 name[CHILD_NAME_LEN];

	log_warnx("%s (pid %d) %s; killing it",
	    parent_child_name(ch, name, sizeof(name)), (int)ch->ch_pid, why);
	if (ch->ch_ievset) {
		imsgev_clear(&ch->ch_iev);
		ch->ch_ievset = 0;
	}
	control_child_gone(env, ch);
	if (ch->ch_pid != 0)
		kill(ch->ch_pid, SIGKILL);
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
	/* the health child is not brought back once no pool is checked */
	if (ch->ch_role == PROC_HEALTH) {
		parent_health_gone(env);
		if (!env->pc_health_want)
			return;
	}

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
		FOREACH_CHILD(env, ch, i)
			evtimer_del(&ch->ch_respawn);
		parent_listeners_close(env);
		if (env->pc_registerfd != -1)
			close(env->pc_registerfd);
		env->pc_registerfd = -1;
		if (env->pc_metricsfd != -1)
			close(env->pc_metricsfd);
		env->pc_metricsfd = -1;
		evtimer_del(&env->pc_ev_rekey);
		evtimer_del(&env->pc_ev_heartbeat);
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
	exit(env->pc_exit_status);
}
