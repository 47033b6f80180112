/*
 * registrar.c: the registrar process: owns the registry of backends that
 * registered themselves, makes each change durable, then has it applied
 * by every worker before the request that made it is answered.
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
 * A change's way: the request is checked (regapi.c) and queued as a
 * wait, its line appended to the journal's next write (regstore.c).
 * Once written and fsync'd, the change is made in memory, numbered and
 * sent to the parent (REG_UPSERT, REG_REMOVE), which relays it to the
 * workers; when the parent says every running worker has it (REG_DONE),
 * the request gets its 200.  A write that fails answers 503 and changes
 * nothing.  So memory holds only what is on disk, and a 200 means both
 * durable and routed.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

struct rg_backend {
	RB_ENTRY(rg_backend)	 rb_node;
	struct reg_backend	 rb_wire;	/* as workers get it */
};
RB_HEAD(rg_backends, rg_backend);

struct rg_service {
	RB_ENTRY(rg_service)	 sv_node;
	char			 sv_name[NAME_MAX_LEN];
	unsigned int		 sv_count;
};
RB_HEAD(rg_services, rg_service);

TAILQ_HEAD(reg_waits, reg_wait);

struct registrar {
	struct portero_config	 rg_conf;
	struct reg_secrets	 rg_secrets;
	int			 rg_sandboxed;
	int			 rg_listenfd;
	int			 rg_dirfd;
	int			 rg_started;
	struct rg_backends	 rg_backends;
	struct rg_services	 rg_services;
	unsigned int		 rg_count;
	uint32_t		 rg_seq;	/* the last update numbered */
	uint32_t		 rg_done;	/* ... every worker has */
	struct reg_waits	 rg_pending;	/* in the next write */
	struct reg_waits	 rg_writing;	/* in the write under way */
	struct reg_waits	 rg_applied;	/* sent, for REG_DONE */
	struct event		 rg_ev_expire;
	int			 rg_stopping;
};

/* This process's one registrar. */
static struct registrar	 rg;

static int	 rg_backend_cmp(struct rg_backend *, struct rg_backend *);
static int	 rg_service_cmp(struct rg_service *, struct rg_service *);
RB_PROTOTYPE(rg_backends, rg_backend, rb_node, rg_backend_cmp);
RB_PROTOTYPE(rg_services, rg_service, sv_node, rg_service_cmp);

static void	 registrar_dispatch_parent(struct imsg *);
static void	 registrar_written(int, int, void *);
static void	 registrar_expire(int, short, void *);
static void	 registrar_kick(void);

void
registrar_main(void)
{
	rg.rg_listenfd = rg.rg_dirfd = -1;
	RB_INIT(&rg.rg_backends);
	RB_INIT(&rg.rg_services);
	TAILQ_INIT(&rg.rg_pending);
	TAILQ_INIT(&rg.rg_writing);
	TAILQ_INIT(&rg.rg_applied);
	evtimer_set(&rg.rg_ev_expire, registrar_expire, NULL);
	proc_child_connect(PROC_REGISTRAR, registrar_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

static int
rg_backend_cmp(struct rg_backend *a, struct rg_backend *b)
{
	int	 c;

	if ((c = strcmp(a->rb_wire.rb_service, b->rb_wire.rb_service)) != 0)
		return (c);
	if (a->rb_wire.rb_sslen != b->rb_wire.rb_sslen)
		return (a->rb_wire.rb_sslen < b->rb_wire.rb_sslen ? -1 : 1);
	return (memcmp(&a->rb_wire.rb_ss, &b->rb_wire.rb_ss,
	    a->rb_wire.rb_sslen));
}

static int
rg_service_cmp(struct rg_service *a, struct rg_service *b)
{
	return (strcmp(a->sv_name, b->sv_name));
}

RB_GENERATE(rg_backends, rg_backend, rb_node, rg_backend_cmp);
RB_GENERATE(rg_services, rg_service, sv_node, rg_service_cmp);

/* A record as the wire has it: the address parsed, the port in it. */
int
registry_wire(const struct reg_record *rr, struct reg_backend *rb)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&rb->rb_ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&rb->rb_ss;

	memset(rb, 0, sizeof(*rb));
	(void)strlcpy(rb->rb_service, rr->rr_service,
	    sizeof(rb->rb_service));
	if (inet_pton(AF_INET, rr->rr_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(rr->rr_port);
		rb->rb_sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, rr->rr_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(rr->rr_port);
		rb->rb_sslen = sizeof(*sin6);
	} else
		return (-1);
	if (inet_ntop(rb->rb_ss.ss_family, rb->rb_ss.ss_family == AF_INET ?
	    (void *)&sin->sin_addr : (void *)&sin6->sin6_addr, rb->rb_host,
	    sizeof(rb->rb_host)) == NULL)
		return (-1);
	rb->rb_port = rr->rr_port;
	rb->rb_tls = rr->rr_tls;
	rb->rb_expires = rr->rr_expires;
	return (0);
}

/* The registered backend that rr names (service, address, port). */
static struct rg_backend *
registry_find(const struct reg_backend *rb)
{
	struct rg_backend	 key;

	key.rb_wire = *rb;
	return (RB_FIND(rg_backends, &rg.rg_backends, &key));
}

static struct rg_service *
registry_service(const char *name, int create)
{
	struct rg_service	 key, *sv;

	(void)strlcpy(key.sv_name, name, sizeof(key.sv_name));
	if ((sv = RB_FIND(rg_services, &rg.rg_services, &key)) != NULL ||
	    !create)
		return (sv);
	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return (NULL);
	(void)strlcpy(sv->sv_name, name, sizeof(sv->sv_name));
	RB_INSERT(rg_services, &rg.rg_services, sv);
	return (sv);
}

/* How many backends the service has, registered; for the answers. */
unsigned int
registry_count(const char *service)
{
	struct rg_service	*sv;

	if (service == NULL)
		return (rg.rg_count);
	return ((sv = registry_service(service, 0)) == NULL ? 0 :
	    sv->sv_count);
}

/* Whether the backend rr names is registered now. */
int
registry_has(const struct reg_record *rr)
{
	struct reg_backend	 rb;

	return (registry_wire(rr, &rb) == 0 && registry_find(&rb) != NULL);
}

/*
 * A change in memory, and to the parent: seq is its number, or 0 for
 * what answers no request (a sync, an expiry).
 */
static void
registry_apply(const struct reg_backend *wire, int removal, uint32_t seq)
{
	struct rg_backend	*be;
	struct rg_service	*sv;
	struct reg_backend	 rb = *wire;

	rb.rb_seq = seq;
	be = registry_find(&rb);
	if (removal) {
		if (be == NULL)
			return;
		RB_REMOVE(rg_backends, &rg.rg_backends, be);
		free(be);
		rg.rg_count--;
		if ((sv = registry_service(rb.rb_service, 0)) != NULL &&
		    --sv->sv_count == 0) {
			RB_REMOVE(rg_services, &rg.rg_services, sv);
			free(sv);
		}
	} else if (be != NULL)
		be->rb_wire = rb;
	else {
		if ((be = calloc(1, sizeof(*be))) == NULL ||
		    (sv = registry_service(rb.rb_service, 1)) == NULL) {
			free(be);
			/* memory and disk would differ */
			fatal("registry");
		}
		be->rb_wire = rb;
		RB_INSERT(rg_backends, &rg.rg_backends, be);
		rg.rg_count++;
		sv->sv_count++;
	}
	if (config_setreg(proc_parent_iev(), removal ? IMSG_REG_REMOVE :
	    IMSG_REG_UPSERT, &rb) == -1)
		fatal("send to parent");
}

/* A record from disk: what has not expired is registered again. */
static void
registry_loaded(const struct reg_record *rr, int removal, void *arg)
{
	struct reg_backend	 rb;
	time_t			*now = arg;

	if (registry_wire(rr, &rb) == -1)
		return;
	if (!removal && rr->rr_expires <= *now)
		removal = 1;
	registry_apply(&rb, removal, 0);
}

/*
 * The registry from the state directory, sent whole to the parent (so
 * that a registrar that restarts puts right whatever the parent and the
 * workers hold), then the writer.
 */
static void
registry_start(void)
{
	time_t	 now = time(NULL);

	proc_compose_parent(IMSG_REG_SYNC, 0, NULL, 0);
	if (regstore_load(registry_loaded, &now) == -1)
		fatalx("cannot read the registry in %s",
		    rg.rg_conf.state_dir);
	proc_compose_parent(IMSG_REG_SYNC_END, 0, NULL, 0);
	log_info("registry: %u backends in %u services",
	    rg.rg_count, (unsigned int)registry_nservices());
	if (regstore_start(registrar_written, NULL) == -1)
		fatal("registry writer");
	registrar_kick();
}

unsigned int
registry_nservices(void)
{
	struct rg_service	*sv;
	unsigned int		 n = 0;

	RB_FOREACH(sv, rg_services, &rg.rg_services)
		n++;
	return (n);
}

/*
 * A checked change, on its way to disk: answered through rw_done once
 * it is durable and every worker has it, or it failed.
 */
void
registry_submit(struct reg_wait *rw)
{
	char	 line[1024];
	size_t	 len;

	len = regstore_format(line, sizeof(line), &rw->rw_rec,
	    rw->rw_remove);
	if (len == 0 || regstore_append(line, len) == -1) {
		rw->rw_done(rw, 503);
		return;
	}
	TAILQ_INSERT_TAIL(&rg.rg_pending, rw, rw_entry);
	registrar_kick();
}

/* A request that went away: its change goes on, unanswered. */
void
registry_forget(struct reg_wait *rw)
{
	rw->rw_done = NULL;
	rw->rw_arg = NULL;
}

static void
registry_answer(struct reg_wait *rw, int status)
{
	if (rw->rw_done != NULL)
		rw->rw_done(rw, status);
	else
		free(rw);
}

/* The snapshot for a compaction, from memory: it is what is durable. */
static size_t
registry_snapshot(char **bufp, uint64_t gen)
{
	struct rg_backend	*be;
	struct reg_record	 rr;
	char			*buf, *n;
	size_t			 len = 0, cap = 65536, l, count = 0;

	if ((buf = malloc(cap)) == NULL)
		return (0);
	len = regstore_snapline(buf, cap, NULL, gen, 0, 0);
	RB_FOREACH(be, rg_backends, &rg.rg_backends) {
		if (cap - len < 1024) {
			if ((n = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				return (0);
			}
			buf = n;
			cap *= 2;
		}
		memset(&rr, 0, sizeof(rr));
		(void)strlcpy(rr.rr_service, be->rb_wire.rb_service,
		    sizeof(rr.rr_service));
		(void)strlcpy(rr.rr_host, be->rb_wire.rb_host,
		    sizeof(rr.rr_host));
		rr.rr_port = be->rb_wire.rb_port;
		rr.rr_tls = be->rb_wire.rb_tls;
		rr.rr_expires = be->rb_wire.rb_expires;
		if ((l = regstore_snapline(buf + len, cap - len, &rr, gen, 0,
		    1)) == 0) {
			free(buf);
			return (0);
		}
		len += l;
		count++;
	}
	len += regstore_snapline(buf + len, cap - len, NULL, gen, count, 2);
	*bufp = buf;
	return (len);
}

/* The writer is free: what waits goes (or, while the disk fails, 503). */
static void
registrar_kick(void)
{
	struct reg_wait	*rw;
	int		 had = regstore_pending();

	switch (regstore_kick(registry_snapshot)) {
	case -1:
		while ((rw = TAILQ_FIRST(&rg.rg_pending)) != NULL) {
			TAILQ_REMOVE(&rg.rg_pending, rw, rw_entry);
			registry_answer(rw, 503);
		}
		break;
	case 1:
		if (had && !regstore_pending())
			TAILQ_CONCAT(&rg.rg_writing, &rg.rg_pending,
			    rw_entry);
		break;
	}
}

/*
 * The writer is done.  Written: each change is made and sent, to be
 * answered at REG_DONE.  Not written: 503, nothing changed.
 */
static void
registrar_written(int err, int compacted, void *arg)
{
	struct reg_wait		*rw;
	struct reg_backend	 rb;

	if (compacted && err != 0)
		log_limited(LOG_LIMIT_REQUEST, "registry: writing a new "
		    "snapshot in %s: %s; changes are refused until one is "
		    "written", rg.rg_conf.state_dir, strerror(err));
	while ((rw = TAILQ_FIRST(&rg.rg_writing)) != NULL) {
		TAILQ_REMOVE(&rg.rg_writing, rw, rw_entry);
		if (err != 0 || registry_wire(&rw->rw_rec, &rb) == -1) {
			log_limited(LOG_LIMIT_REQUEST, "registry: writing to "
			    "%s: %s", rg.rg_conf.state_dir,
			    strerror(err ? err : EINVAL));
			registry_answer(rw, 503);
			continue;
		}
		rw->rw_seq = ++rg.rg_seq;
		registry_apply(&rb, rw->rw_remove, rw->rw_seq);
		rw->rw_count = registry_count(rw->rw_rec.rr_service);
		TAILQ_INSERT_TAIL(&rg.rg_applied, rw, rw_entry);
	}
	registrar_kick();
}

/* REG_DONE: every running worker has the changes up to done. */
static void
registrar_done(uint32_t done)
{
	struct reg_wait	*rw;

	if (done > rg.rg_done)
		rg.rg_done = done;
	if (rg.rg_seq < rg.rg_done)
		rg.rg_seq = rg.rg_done;	/* number on from the parent's */
	while ((rw = TAILQ_FIRST(&rg.rg_applied)) != NULL &&
	    rw->rw_seq <= rg.rg_done) {
		TAILQ_REMOVE(&rg.rg_applied, rw, rw_entry);
		registry_answer(rw, 200);
	}
}

/* Once a second: expired backends go, from memory and every worker. */
static void
registrar_expire(int fd, short event, void *arg)
{
	struct rg_backend	*be, *next;
	struct reg_backend	 rb;
	struct timeval		 tv = { 1, 0 };
	time_t			 now = time(NULL);

	RB_FOREACH_SAFE(be, rg_backends, &rg.rg_backends, next) {
		if (be->rb_wire.rb_expires > now)
			continue;
		rb = be->rb_wire;
		log_debug("registry: %s %s port %u expired", rb.rb_service,
		    rb.rb_host, rb.rb_port);
		registry_apply(&rb, 1, 0);
	}
	evtimer_add(&rg.rg_ev_expire, &tv);
}

/* Every registered backend, in order, for GET /services. */
void
registry_foreach(void (*fn)(const struct reg_backend *, void *), void *arg)
{
	struct rg_backend	*be;

	RB_FOREACH(be, rg_backends, &rg.rg_backends)
		fn(&be->rb_wire, arg);
}

const struct portero_config *
registrar_conf(void)
{
	return (&rg.rg_conf);
}

const struct reg_secrets *
registrar_secrets(void)
{
	return (&rg.rg_secrets);
}

/*
 * chroot into the state directory; write access to it alone.  The
 * directory is held open for the writer's renames and fsyncs.
 */
static void
registrar_init(void)
{
	const char	*dir = rg.rg_conf.state_dir;
	int		 chrooted;

	chrooted = proc_drop_privileges(&rg.rg_conf, dir);
	if ((rg.rg_dirfd = open(chrooted ? "/" : dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("open %s", dir);
	if (sandbox_unveil(chrooted ? "/" : dir, UNVEIL_REGISTRAR) == -1)
		fatal("unveil %s", dir);
	if (sandbox_unveil(NULL, NULL) == -1)
		fatal("unveil");
	proc_sandbox(PROMISES_REGISTRAR);
	rg.rg_sandboxed = 1;
	if (regstore_open(dir, rg.rg_dirfd) == -1)
		fatal("registry");
}

static void
registrar_dispatch_parent(struct imsg *imsg)
{
	struct listener_msg	 lm;
	struct timeval		 tv = { 1, 0 };
	uint32_t		 seq;

	if (proc_child_common(imsg, &rg.rg_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_LISTENER:
		if (config_getlistener(imsg, &lm) == -1 ||
		    lm.kind != LISTENER_REGISTER || rg.rg_listenfd != -1)
			fatalx("bad listener message");
		rg.rg_listenfd = imsg->fd;
		break;
	case IMSG_CFG_SECRETS:
		if (config_getsecrets(imsg, &rg.rg_secrets) == -1)
			fatalx("bad secrets message");
		break;
	case IMSG_REG_DONE:
		if (config_getseq(imsg, &seq) == -1)
			fatalx("bad registry message");
		registrar_done(seq);
		break;
	case IMSG_CFG_DONE:
		if (!rg.rg_sandboxed)
			registrar_init();
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		if (rg.rg_started)
			break;
		rg.rg_started = 1;
		if (rg.rg_conf.no_register)
			break;		/* no API, no registry */
		registry_start();
		evtimer_add(&rg.rg_ev_expire, &tv);
		if (rg.rg_listenfd != -1)
			regapi_listen(rg.rg_listenfd);
		break;
	case IMSG_MET_REQ:
		regapi_metrics(imsg->hdr.peerid);
		break;
	case IMSG_SHUTDOWN:
		regapi_stop();
		break;
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}
