/*
 * pmetrics.c: the parent's side of the metrics child: its listener, the
 * children it asks for each scrape, and what only the parent knows
 * (restarts, reloads, each process's memory).
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
 * The metrics child always runs: "show stats" needs it even without a
 * listener.  The parent only relays: what a child sends for a scrape
 * goes on to the metrics child as it comes, and is never kept here.
 * Memory is read here because the children, sandboxed, cannot read
 * their own /proc entries (on OpenBSD, kvm(3) gives the same).
 */

#include <sys/types.h>
#ifdef __OpenBSD__
#include <sys/sysctl.h>
#include <kvm.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

void
parent_metrics_init(struct portero *env)
{
	env->pc_metrics.ch_role = PROC_METRICS;
	env->pc_metrics.ch_id = 0;
	env->pc_metricsfd = -1;
}

/* At start: a listener that cannot be bound stops the daemon. */
void
parent_metrics_listen(struct portero *env)
{
	const char	*addr = env->pc_conf.metrics_addr;

	if (addr[0] != '\0' &&
	    (env->pc_metricsfd = listener_bind(addr, 0)) == -1)
		fatal("listen on %s", addr);
}

/*
 * A starting metrics child gets the listener, if there is one, and what
 * its predecessor kept of restarted workers' counts.
 */
int
parent_metrics_config(struct portero *env, struct child *ch)
{
	size_t	 i;

	if (ch->ch_state != CHILD_STARTING)
		return (0);
	for (i = 0; i < env->pc_nmetkept; i++)
		if (imsgev_compose(&ch->ch_iev, env->pc_metkept[i].mk_type,
		    MET_KEEP, 0, -1, env->pc_metkept[i].mk_data,
		    env->pc_metkept[i].mk_len) == -1)
			return (-1);
	if (env->pc_metricsfd == -1)
		return (0);
	/* the child gets a copy: the parent keeps one for its successor */
	return (config_setlistener(&ch->ch_iev, env->pc_metricsfd,
	    LISTENER_METRICS, 0, env->pc_conf.metrics_addr));
}

static void
parent_metrics_forget(struct portero *env)
{
	size_t	 i;

	for (i = 0; i < env->pc_nmetkept; i++)
		free(env->pc_metkept[i].mk_data);
	free(env->pc_metkept);
	env->pc_metkept = NULL;
	env->pc_nmetkept = 0;
}

/*
 * One message of what the metrics child keeps: copied as it is, for
 * its successor; the parent never reads it.  Its size is that of one
 * set of counts, whatever the number of restarts.
 */
static int
parent_metrics_keep(struct portero *env, struct imsg *imsg)
{
	struct met_kept	*n, *mk;

	if ((n = reallocarray(env->pc_metkept, env->pc_nmetkept + 1,
	    sizeof(*n))) == NULL)
		return (-1);
	env->pc_metkept = n;
	mk = &n[env->pc_nmetkept];
	mk->mk_type = imsg->hdr.type;
	mk->mk_len = imsg->len;
	if ((mk->mk_data = malloc(imsg->len + 1)) == NULL)
		return (-1);
	memcpy(mk->mk_data, imsg->data, imsg->len);
	env->pc_nmetkept++;
	return (0);
}

#if defined(__linux__)
/* Resident bytes of pid: /proc/PID/statm's second field, in pages. */
uint64_t
parent_rss(pid_t pid)
{
	char			 path[64], buf[128];
	unsigned long long	 size, resident;
	ssize_t			 n;
	int			 fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return (0);
	return ((uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE));
}
#elif defined(__OpenBSD__)
uint64_t
parent_rss(pid_t pid)
{
	struct kinfo_proc	*kp;
	char			 errbuf[_POSIX2_LINE_MAX];
	kvm_t			*kd;
	uint64_t		 rss = 0;
	int			 n;

	if ((kd = kvm_openfiles(NULL, NULL, NULL, KVM_NO_FILES,
	    errbuf)) == NULL)
		return (0);
	kp = kvm_getprocs(kd, KERN_PROC_PID, pid, sizeof(*kp), &n);
	if (kp != NULL && n == 1)
		rss = (uint64_t)kp->p_vm_rssize * getpagesize();
	kvm_close(kd);
	return (rss);
}
#else
uint64_t
parent_rss(pid_t pid)
{
	return (0);	/* unknown: the series is left out */
}
#endif

static int
parent_metrics_proc(struct portero *env, enum proc_role role,
    unsigned int id, pid_t pid, unsigned int restarts, uint32_t seq)
{
	struct met_proc	 mp;

	memset(&mp, 0, sizeof(mp));
	mp.mp_role = role;
	mp.mp_id = id;
	mp.mp_pid = pid;
	mp.mp_restarts = restarts;
	if (pid != 0)
		mp.mp_rss = parent_rss(pid);
	return (parent_compose(env, &env->pc_metrics, IMSG_MET_PROC, seq, -1,
	    &mp, sizeof(mp)));
}

/*
 * Scrape seq: the workers, the registrar and the certloader that run
 * are asked; the metrics child hears how many, and every process's
 * restarts and memory.
 */
static void
parent_metrics_scrape(struct portero *env, uint32_t seq)
{
	struct met_begin	 mb;
	struct child		*ch;
	unsigned int		 i;

	memset(&mb, 0, sizeof(mb));
	FOREACH_CHILD(env, ch, i) {
		if (ch->ch_role != PROC_WORKER &&
		    ch->ch_role != PROC_REGISTRAR &&
		    ch->ch_role != PROC_CERTLOADER)
			continue;
		if (!ch->ch_ievset || ch->ch_state != CHILD_RUNNING)
			continue;
		if (parent_compose(env, ch, IMSG_MET_REQ, seq, -1, NULL,
		    0) == 0)
			mb.mb_sources++;
	}
	mb.mb_reloads = env->pc_reloads;
	mb.mb_reloads_refused = env->pc_reloads_refused;
	mb.mb_log_lines = env->pc_logger_stats.ls_lines;
	mb.mb_log_errors = env->pc_logger_stats.ls_errors;
	if (parent_compose(env, &env->pc_metrics, IMSG_MET_BEGIN, seq, -1,
	    &mb, sizeof(mb)) == -1 ||
	    parent_metrics_proc(env, PROC_PARENT, 0, getpid(), 0, seq) == -1)
		return;
	FOREACH_CHILD(env, ch, i)
		if (parent_metrics_proc(env, ch->ch_role, ch->ch_id,
		    ch->ch_pid, ch->ch_restarts, seq) == -1)
			return;
}

void
parent_dispatch_metrics(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_MET_REQ:
		parent_metrics_scrape(env, imsg->hdr.peerid);
		break;
	case IMSG_MET_KEEP_BEGIN:
		parent_metrics_forget(env);
		break;
	case IMSG_MET_WORKER:
	case IMSG_MET_SERVICE:
	case IMSG_MET_BACKEND:
		if (imsg->hdr.peerid != MET_KEEP)
			parent_child_broken(env, ch, "sent a message out of "
			    "turn");
		else if (parent_metrics_keep(env, imsg) == -1) {
			/* better none than a part: counts would go back */
			log_warn("metrics: restarted workers' counts");
			parent_metrics_forget(env);
		}
		break;
	case IMSG_CTL_TEXT:
	case IMSG_CTL_END:
		control_relay(env, imsg);
		break;
	default:
		parent_child_broken(env, ch, "sent a message out of turn");
	}
}

/*
 * A child's part of a scrape, on to the metrics child as it is, a
 * worker's marked with the worker's number: the metrics child keeps
 * each worker's last answer, to count on through its restart.
 */
void
parent_metrics_relay(struct portero *env, struct child *ch,
    struct imsg *imsg)
{
	uint32_t	 peerid = imsg->hdr.peerid & MET_SEQ_MASK;

	if (ch->ch_role == PROC_WORKER)
		peerid |= (ch->ch_id + 1) << MET_SRC_SHIFT;
	(void)parent_compose(env, &env->pc_metrics, imsg->hdr.type, peerid,
	    -1, imsg->data, imsg->len);
}
