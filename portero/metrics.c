/*
 * metrics.c: the metrics child.  It serves /metrics on --metrics-addr
 * and answers "porterod-ctl show stats", from the numbers every process
 * sends it for each scrape, summed.
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
 * Numbers are pulled, not pushed: workers only add to counters of their
 * own, and nothing crosses a socket until someone asks.  A scrape asks
 * the parent, which asks the workers, the registrar and the certloader
 * and relays their answers; the scrape ends when every one asked has
 * answered, or after METRICS_WAIT_MS with what came (the rest counted
 * as missing).  Scrapes and "show stats" that come while one runs wait
 * for it and share its numbers, so a burst of them costs the workers
 * one answer.
 *
 * The listener is plain HTTP/1.1, one request a connection, for a
 * Prometheus server on loopback or a private network: a head must come
 * whole within METRICS_HEAD_TIMEOUT seconds in METRICS_HEAD_MAX bytes.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

#define METRICS_WAIT_MS		2000
#define METRICS_HEAD_MAX	4096
#define METRICS_HEAD_TIMEOUT	5	/* seconds */
#define METRICS_SEND_TIMEOUT	30
#define METRICS_CONNS_MAX	64
#define METRICS_CHUNK		(16 * 1024)	/* of a "show stats" answer */

enum mconn_state { MC_HEAD, MC_WAIT, MC_SEND };

struct mconn {
	TAILQ_ENTRY(mconn)	 mc_entry;
	int			 mc_fd;
	enum mconn_state	 mc_state;
	int			 mc_head;	/* HEAD: no body */
	struct event		 mc_ev;
	struct event		 mc_timer;
	struct evbuffer		*mc_out;
	size_t			 mc_len;
	char			 mc_in[METRICS_HEAD_MAX];
};

/* A "show stats" waiting for the scrape. */
struct mctl {
	TAILQ_ENTRY(mctl)	 mt_entry;
	uint32_t		 mt_id;		/* the control client */
	uint32_t		 mt_format;	/* enum stats_format */
};

struct metrics {
	struct portero_config	 mx_conf;
	int			 mx_sandboxed;
	int			 mx_listenfd;
	struct event		 mx_ev_accept;
	struct event		 mx_ev_wait;
	uint32_t		 mx_seq;
	struct metrics_set	*mx_set;	/* the scrape running; NULL */
	/*
	 * Each worker's part of the running scrape, its last whole answer
	 * and its pid then, and what workers that were restarted had
	 * counted: a restart does not take counts back.
	 */
	struct metrics_set	*mx_wpart[PORTERO_MAX_WORKERS];
	struct metrics_set	*mx_wlast[PORTERO_MAX_WORKERS];
	pid_t			 mx_wpid[PORTERO_MAX_WORKERS];
	struct metrics_set	*mx_retired;
	TAILQ_HEAD(, mconn)	 mx_conns;
	unsigned int		 mx_nconns;
	TAILQ_HEAD(, mctl)	 mx_ctls;
};

static struct metrics	 mx;

static void	 metrics_dispatch_parent(struct imsg *);
static void	 metrics_listener(struct imsg *);
static void	 metrics_accept(int, short, void *);
static void	 mconn_read(int, short, void *);
static void	 mconn_write(int, short, void *);
static void	 mconn_timeout(int, short, void *);
static void	 mconn_close(struct mconn *);
static void	 mconn_answer(struct mconn *, int, const char *,
		    struct evbuffer *);
static void	 metrics_scrape(void);
static void	 metrics_take(struct imsg *);
static void	 metrics_done(int, short, void *);

void
metrics_main(void)
{
	mx.mx_listenfd = -1;
	/* answers to a predecessor's scrapes may still be on their way */
	mx.mx_seq = arc4random() & MET_SEQ_MASK;
	TAILQ_INIT(&mx.mx_conns);
	TAILQ_INIT(&mx.mx_ctls);
	evtimer_set(&mx.mx_ev_wait, metrics_done, NULL);
	if ((mx.mx_retired = mset_new(0)) == NULL)
		fatal("metrics");
	(void)proc_child_connect(PROC_METRICS, metrics_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

static void
metrics_dispatch_parent(struct imsg *imsg)
{
	struct mctl	*mt;
	uint32_t	 format;

	if (proc_child_common(imsg, &mx.mx_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_LISTENER:
		metrics_listener(imsg);
		break;
	case IMSG_CFG_DONE:
		if (!mx.mx_sandboxed) {
			proc_drop_privileges(&mx.mx_conf,
			    mx.mx_conf.chroot_dir);
			proc_sandbox(PROMISES_METRICS);
			mx.mx_sandboxed = 1;
		}
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		break;
	case IMSG_CTL_SHOW_STATS:
		if (config_getmet(imsg, &format, sizeof(format)) == -1 ||
		    format > STATS_JSON)
			fatalx("a malformed show stats");
		if ((mt = calloc(1, sizeof(*mt))) == NULL) {
			log_warn("show stats");
			proc_compose_parent(IMSG_CTL_END, imsg->hdr.peerid,
			    NULL, 0);
			break;
		}
		mt->mt_id = imsg->hdr.peerid;
		mt->mt_format = format;
		TAILQ_INSERT_TAIL(&mx.mx_ctls, mt, mt_entry);
		metrics_scrape();
		break;
	case IMSG_MET_BEGIN:
	case IMSG_MET_PROC:
	case IMSG_MET_WORKER:
	case IMSG_MET_SERVICE:
	case IMSG_MET_BACKEND:
	case IMSG_MET_REGISTRAR:
	case IMSG_MET_REGSVC:
	case IMSG_MET_CERT:
	case IMSG_MET_END:
		metrics_take(imsg);
		break;
	case IMSG_SHUTDOWN:
		exit(0);
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

static void
metrics_listener(struct imsg *imsg)
{
	struct listener_msg	 lm;

	if (config_getlistener(imsg, &lm) == -1 ||
	    lm.kind != LISTENER_METRICS || mx.mx_listenfd != -1)
		fatalx("a listener that is not the metrics one");
	mx.mx_listenfd = imsg->fd;
	if (socket_set_nonblock(mx.mx_listenfd) == -1)
		fatal("metrics listener");
	event_set(&mx.mx_ev_accept, mx.mx_listenfd, EV_READ | EV_PERSIST,
	    metrics_accept, NULL);
	event_add(&mx.mx_ev_accept, NULL);
	log_debug("metrics on %s", lm.addr);
}

static void
metrics_accept(int fd, short event, void *arg)
{
	struct mconn	*mc;
	struct timeval	 tv = { METRICS_HEAD_TIMEOUT, 0 };
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("metrics: accept");
		return;
	}
	if (mx.mx_nconns >= METRICS_CONNS_MAX ||
	    (mc = calloc(1, sizeof(*mc))) == NULL) {
		log_warnx("metrics: a connection refused: %u open",
		    mx.mx_nconns);
		close(s);
		return;
	}
	mc->mc_fd = s;
	event_set(&mc->mc_ev, s, EV_READ | EV_PERSIST, mconn_read, mc);
	event_add(&mc->mc_ev, NULL);
	evtimer_set(&mc->mc_timer, mconn_timeout, mc);
	evtimer_add(&mc->mc_timer, &tv);
	TAILQ_INSERT_TAIL(&mx.mx_conns, mc, mc_entry);
	mx.mx_nconns++;
}

static void
mconn_close(struct mconn *mc)
{
	event_del(&mc->mc_ev);
	evtimer_del(&mc->mc_timer);
	close(mc->mc_fd);
	if (mc->mc_out != NULL)
		evbuffer_free(mc->mc_out);
	TAILQ_REMOVE(&mx.mx_conns, mc, mc_entry);
	mx.mx_nconns--;
	free(mc);
}

static void
mconn_timeout(int fd, short event, void *arg)
{
	mconn_close(arg);
}

/*
 * The request line of a whole head: GET or HEAD of /metrics (a query
 * is ignored) is a scrape; anything else is answered at once.
 */
static void
mconn_request(struct mconn *mc)
{
	char	*sp, *target, *end;
	size_t	 mlen;

	if ((sp = memchr(mc->mc_in, ' ', mc->mc_len)) == NULL) {
		mconn_answer(mc, 400, NULL, NULL);
		return;
	}
	mlen = sp - mc->mc_in;
	target = sp + 1;
	end = target + strcspn(target, " ?\r\n");
	if (!((mlen == 3 && memcmp(mc->mc_in, "GET", 3) == 0) ||
	    (mlen == 4 && memcmp(mc->mc_in, "HEAD", 4) == 0))) {
		mconn_answer(mc, 405, "Allow: GET, HEAD\r\n", NULL);
		return;
	}
	mc->mc_head = mlen == 4;
	if (end - target != 8 || memcmp(target, "/metrics", 8) != 0) {
		mconn_answer(mc, 404, NULL, NULL);
		return;
	}
	mc->mc_state = MC_WAIT;
	event_del(&mc->mc_ev);
	metrics_scrape();
}

static void
mconn_read(int fd, short event, void *arg)
{
	struct mconn	*mc = arg;
	ssize_t		 n;

	n = recv(fd, mc->mc_in + mc->mc_len, sizeof(mc->mc_in) - 1 -
	    mc->mc_len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mconn_close(mc);
		return;
	}
	mc->mc_len += n;
	mc->mc_in[mc->mc_len] = '\0';
	if (strstr(mc->mc_in, "\r\n\r\n") != NULL ||
	    strstr(mc->mc_in, "\n\n") != NULL)
		mconn_request(mc);
	else if (mc->mc_len == sizeof(mc->mc_in) - 1)
		mconn_answer(mc, 431, NULL, NULL);
}

/* Status, fields, then body (may be NULL); the connection then closes. */
static void
mconn_answer(struct mconn *mc, int status, const char *fields,
    struct evbuffer *body)
{
	struct timeval	 tv = { METRICS_SEND_TIMEOUT, 0 };
	size_t		 len = body != NULL ? EVBUFFER_LENGTH(body) : 0;
	const char	*text = status == 431 ?
			    "Request Header Fields Too Large" :
			    reply_status_text(status);

	event_del(&mc->mc_ev);
	if ((mc->mc_out = evbuffer_new()) == NULL ||
	    evbuffer_add_printf(mc->mc_out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", status, text, status == 200 ?
	    "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", body != NULL ? len :
	    strlen(text) + 1, fields != NULL ? fields : "") == -1 ||
	    (!mc->mc_head && (body != NULL ?
	    evbuffer_add(mc->mc_out, EVBUFFER_DATA(body), len) :
	    evbuffer_add_printf(mc->mc_out, "%s\n", text)) == -1)) {
		log_warnx("metrics: out of memory");
		mconn_close(mc);
		return;
	}
	mc->mc_state = MC_SEND;
	event_set(&mc->mc_ev, mc->mc_fd, EV_WRITE | EV_PERSIST, mconn_write,
	    mc);
	event_add(&mc->mc_ev, NULL);
	evtimer_add(&mc->mc_timer, &tv);
}

static void
mconn_write(int fd, short event, void *arg)
{
	struct mconn	*mc = arg;

	if (evbuffer_write(mc->mc_out, fd) == -1 && errno != EAGAIN &&
	    errno != EINTR) {
		mconn_close(mc);
		return;
	}
	if (EVBUFFER_LENGTH(mc->mc_out) == 0)
		mconn_close(mc);
}

/* A scrape, unless one is running: those waiting share it. */
static void
metrics_scrape(void)
{
	struct timeval	 tv;

	if (mx.mx_set != NULL)
		return;
	mx.mx_seq = (mx.mx_seq + 1) & MET_SEQ_MASK;
	if ((mx.mx_set = mset_new(mx.mx_seq)) == NULL) {
		log_warn("metrics: a scrape");
		metrics_done(0, 0, NULL);
		return;
	}
	proc_compose_parent(IMSG_MET_REQ, mx.mx_seq, NULL, 0);
	tv.tv_sec = METRICS_WAIT_MS / 1000;
	tv.tv_usec = (METRICS_WAIT_MS % 1000) * 1000;
	evtimer_add(&mx.mx_ev_wait, &tv);
}

/*
 * A part of the running scrape; one for an older one is too late.  A
 * worker's part is kept apart until the scrape ends (metrics_workers).
 */
static void
metrics_take(struct imsg *imsg)
{
	struct metrics_set	*set = mx.mx_set, **part;
	uint32_t		 src = imsg->hdr.peerid >> MET_SRC_SHIFT;

	/* restarted workers' counts, from the parent, as the child starts */
	if (imsg->hdr.peerid == MET_KEEP) {
		if (mset_add(mx.mx_retired, imsg) == -1)
			fatalx("a malformed %s", imsg_name(imsg->hdr.type));
		return;
	}
	if (set == NULL || (imsg->hdr.peerid & MET_SEQ_MASK) != set->ms_seq)
		return;
	if (src > PORTERO_MAX_WORKERS)
		fatalx("a scrape's part from worker %u", src - 1);
	if (src > 0) {
		part = &mx.mx_wpart[src - 1];
		if (*part == NULL && (*part = mset_new(set->ms_seq)) == NULL)
			log_warn("metrics: worker %u's part", src - 1);
		if (imsg->hdr.type == IMSG_MET_END)
			set->ms_answered++;
		if (*part != NULL && mset_add(*part, imsg) == -1)
			fatalx("a malformed %s", imsg_name(imsg->hdr.type));
	} else if (mset_add(set, imsg) == -1)
		fatalx("a malformed %s", imsg_name(imsg->hdr.type));
	if (set->ms_begun &&
	    set->ms_answered >= set->ms_begin.mb_sources) {
		evtimer_del(&mx.mx_ev_wait);
		metrics_done(0, 0, NULL);
	}
}

/* "show stats": the answer in chunks, then its end. */
static void
metrics_ctl_answer(struct mctl *mt, const struct metrics_set *set)
{
	struct evbuffer	*out;
	size_t		 off, n;
	int		 ret = -1;

	if (set != NULL && (out = evbuffer_new()) != NULL) {
		ret = mt->mt_format == STATS_JSON ? mrender_json(out, set) :
		    mrender_text(out, set);
		for (off = 0; ret == 0 && off < EVBUFFER_LENGTH(out);
		    off += n) {
			n = EVBUFFER_LENGTH(out) - off;
			if (n > METRICS_CHUNK)
				n = METRICS_CHUNK;
			if (imsgbuf_queued(&proc_parent_iev()->ibuf) + n >
			    IMSG_WQUEUE_MAX / 2) {
				log_warnx("show stats: cut short, the parent "
				    "is not reading");
				break;
			}
			proc_compose_parent(IMSG_CTL_TEXT, mt->mt_id,
			    EVBUFFER_DATA(out) + off, n);
		}
		evbuffer_free(out);
	}
	if (ret == -1)
		log_warnx("show stats: no answer (out of memory)");
	proc_compose_parent(IMSG_CTL_END, mt->mt_id, NULL, 0);
}

/*
 * Each worker's whole answer becomes its last; one from a new process
 * of that worker first retires the old one's counts.  Then every
 * worker's last answer is added to set, the answer of one that did not
 * answer in time included (its gauges as they were then).
 */
static void
metrics_workers(struct metrics_set *set)
{
	struct metrics_set	*part;
	unsigned int		 i;
	pid_t			 pid;

	int			 retired = 0;

	for (i = 0; i < PORTERO_MAX_WORKERS; i++) {
		part = mx.mx_wpart[i];
		mx.mx_wpart[i] = NULL;
		pid = mset_pid(set, PROC_WORKER, i);
		if (part != NULL && part->ms_answered > 0) {
			if (mx.mx_wlast[i] != NULL && mx.mx_wpid[i] != pid) {
				mset_merge(mx.mx_retired, mx.mx_wlast[i], 0);
				retired = 1;
			}
			mset_free(mx.mx_wlast[i]);
			mx.mx_wlast[i] = part;
			mx.mx_wpid[i] = pid;
		} else
			mset_free(part);
		if (mx.mx_wlast[i] != NULL)
			mset_merge(set, mx.mx_wlast[i], 1);
	}
	mset_merge(set, mx.mx_retired, 0);
	if (retired)
		mset_keep(mx.mx_retired, proc_parent_iev());
}

/* The scrape is over (all answered, or the time is up): answer all. */
static void
metrics_done(int fd, short event, void *arg)
{
	struct metrics_set	*set = mx.mx_set;
	struct mconn		*mc, *next;
	struct mctl		*mt;
	struct evbuffer		*body = NULL;

	mx.mx_set = NULL;
	if (set != NULL) {
		mset_finish(set);
		metrics_workers(set);
	}
	if (set != NULL && (body = evbuffer_new()) != NULL &&
	    mrender_prometheus(body, set) == -1) {
		evbuffer_free(body);
		body = NULL;
	}
	TAILQ_FOREACH_SAFE(mc, &mx.mx_conns, mc_entry, next) {
		if (mc->mc_state != MC_WAIT)
			continue;
		if (body != NULL)
			mconn_answer(mc, 200, NULL, body);
		else
			mconn_answer(mc, 503, NULL, NULL);
	}
	while ((mt = TAILQ_FIRST(&mx.mx_ctls)) != NULL) {
		TAILQ_REMOVE(&mx.mx_ctls, mt, mt_entry);
		metrics_ctl_answer(mt, set);
		free(mt);
	}
	if (body != NULL)
		evbuffer_free(body);
	mset_free(set);
}
