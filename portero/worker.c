/*
 * worker.c: a worker process.  It takes client connections on the
 * listener the parent passed it; it holds no files and learns
 * everything (configuration, later certificates and backends) by message.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

struct worker {
	struct portero_config	 wk_conf;
	unsigned int		 wk_id;
	int			 wk_sandboxed;
	int			 wk_listenfd;
	struct minihttp		 wk_http;
	struct event		 wk_ev_drain;
};

/* This process's one worker. */
static struct worker	 wk;

static void	 worker_dispatch_parent(struct imsg *);
static void	 worker_shutdown(void);
static void	 worker_drained(void);
static void	 worker_drain_expired(int, short, void *);

void
worker_main(unsigned int id)
{
	wk.wk_id = id;
	wk.wk_listenfd = -1;
	minihttp_init(&wk.wk_http, 503, "Service Unavailable",
	    "no services configured\n", worker_drained);
	proc_child_connect(worker_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/* Give up everything before the first client byte can arrive. */
static void
worker_init(void)
{
	proc_drop_privileges(&wk.wk_conf, wk.wk_conf.chroot_dir);
	proc_sandbox(PROMISES_WORKER);
	wk.wk_sandboxed = 1;
}

static void
worker_dispatch_parent(struct imsg *imsg)
{
	struct listener_msg	 lm;

	if (proc_child_common(imsg, &wk.wk_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_LISTENER:
		if (imsg->len != sizeof(lm) || imsg->fd == -1 ||
		    wk.wk_listenfd != -1)
			fatalx("bad listener message");
		wk.wk_listenfd = imsg->fd;
		break;
	case IMSG_CFG_DONE:
		if (!wk.wk_sandboxed)
			worker_init();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		if (wk.wk_listenfd == -1)
			fatalx("started without a listener");
		minihttp_listen(&wk.wk_http, wk.wk_listenfd);
		break;
	case IMSG_STATS_REQ:
		proc_compose_parent(IMSG_STATS, imsg->hdr.peerid,
		    &wk.wk_http.mh_stats, sizeof(wk.wk_http.mh_stats));
		break;
	case IMSG_SHUTDOWN:
		worker_shutdown();
		break;
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

/* Stop accepting; what is in flight gets the drain timeout to finish. */
static void
worker_shutdown(void)
{
	struct timeval	 tv;

	log_debug("draining");
	tv.tv_sec = wk.wk_conf.drain_timeout;
	tv.tv_usec = 0;
	evtimer_set(&wk.wk_ev_drain, worker_drain_expired, NULL);
	evtimer_add(&wk.wk_ev_drain, &tv);
	minihttp_stop(&wk.wk_http);
}

static void
worker_drained(void)
{
	log_debug("drained; exiting");
	exit(0);
}

static void
worker_drain_expired(int fd, short event, void *arg)
{
	log_warnx("drain timeout: closing %llu connections",
	    (unsigned long long)wk.wk_http.mh_stats.connections);
	exit(0);
}
