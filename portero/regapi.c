/*
 * regapi.c: the registration API as the registrar serves it: HTTP/1.1
 * read with the strict parser, requests checked in an order that tells
 * nobody anything without credentials, answers in JSON.
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
 * The checks, in order: method (405), body size (413), content type
 * (415), secret and token (401, or 429 for an address that failed too
 * often), the JSON and its fields (400), the token's service (403),
 * where the backend points (403), the limits (507); then the change,
 * answered 200 once durable and in every worker (registrar.c), or 503.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <yajl/yajl_gen.h>

#include "portero.h"
#include "http1.h"
#include "json.h"
#include "jwt.h"

#define API_BODY_MAX		65536
#define API_MAX_CLIENTS		1024
#define API_LIMITER_SLOTS	4096	/* client addresses remembered */

enum api_state {
	API_HEAD,		/* reading a request head */
	API_BODY,		/* reading its body */
	API_WAIT,		/* its change is on its way */
	API_WRITE,		/* writing the answer */
};

struct api_conn {
	TAILQ_ENTRY(api_conn)	 ac_entry;
	int			 ac_fd;
	enum api_state		 ac_state;
	struct event		 ac_ev;
	struct event		 ac_timer;
	struct sockaddr_storage	 ac_ss;
	char			 ac_addr[64];
	struct buf		*ac_in;		/* the head, then the body */
	struct http1_request	 ac_req;
	struct http1_chunked	 ac_chunked;
	char			*ac_body;
	size_t			 ac_bodylen;
	int			 ac_keepalive;
	int			 ac_method;	/* of the request in hand */
	char			 ac_path[16];	/* a route's name */
	char			 ac_ctype[64];
	char			 ac_secret[REG_SECRET_MAX + 1];
	size_t			 ac_secretlen;
	int			 ac_hassecret;
	char			*ac_token;
	size_t			 ac_tokenlen;
	struct reg_wait		*ac_wait;
	char			*ac_out;
	size_t			 ac_outlen;
	size_t			 ac_outoff;
	size_t			 ac_continued;	/* of "100 Continue", sent */
};

#define API_CONTINUE		"HTTP/1.1 100 Continue\r\n\r\n"
#define API_CONTINUE_LEN	(sizeof(API_CONTINUE) - 1)

/* Failed authentications a second, per client address. */
struct api_fail {
	struct sockaddr_storage	 af_ss;
	time_t			 af_second;
	unsigned int		 af_count;
};

struct api {
	struct acceptor		 a_acceptor;
	int			 a_listenfd;
	TAILQ_HEAD(, api_conn)	 a_conns;
	unsigned int		 a_nconns;
	int			 a_stopping;
	struct api_fail		 a_fail[API_LIMITER_SLOTS];
};

/* This registrar's API. */
static struct api	 api;

static void	 api_accept(int, void *);
static void	 api_event(int, short, void *);
static void	 api_timer(int, short, void *);
static void	 api_close(struct api_conn *);
static void	 api_handle(struct api_conn *);
static void	 api_watch(struct api_conn *, short, unsigned int);

void
regapi_listen(int fd)
{
	TAILQ_INIT(&api.a_conns);
	api.a_listenfd = fd;
	acceptor_init(&api.a_acceptor, fd, 16, api_accept, NULL);
	acceptor_start(&api.a_acceptor);
}

/* Stop accepting; answers in flight finish, then the process exits. */
void
regapi_stop(void)
{
	api.a_stopping = 1;
	if (api.a_listenfd > 0) {
		acceptor_stop(&api.a_acceptor);
		close(api.a_listenfd);
		api.a_listenfd = -1;
	}
	if (TAILQ_EMPTY(&api.a_conns))
		exit(0);
}

static void
api_accept(int fd, void *arg)
{
	struct api_conn	*ac;
	socklen_t	 len;
	int		 on = 1;

	if (api.a_nconns >= API_MAX_CLIENTS) {
		log_limited(LOG_LIMIT_REQUEST, "registration API: %u clients; "
		    "refusing another", api.a_nconns);
		close(fd);
		return;
	}
	if ((ac = calloc(1, sizeof(*ac))) == NULL ||
	    (ac->ac_in = buf_get()) == NULL) {
		log_warn("registration API");
		free(ac);
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	len = sizeof(ac->ac_ss);
	if (getpeername(fd, (struct sockaddr *)&ac->ac_ss, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&ac->ac_ss, len, ac->ac_addr,
	    sizeof(ac->ac_addr), NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(ac->ac_addr, "?", sizeof(ac->ac_addr));
	ac->ac_fd = fd;
	ac->ac_state = API_HEAD;
	event_set(&ac->ac_ev, fd, 0, api_event, ac);
	evtimer_set(&ac->ac_timer, api_timer, ac);
	TAILQ_INSERT_TAIL(&api.a_conns, ac, ac_entry);
	api.a_nconns++;
	api_watch(ac, EV_READ, registrar_conf()->header_timeout);
}

/* Wait for the socket (events) within secs. */
static void
api_watch(struct api_conn *ac, short events, unsigned int secs)
{
	struct timeval	 tv = { secs, 0 };

	event_del(&ac->ac_ev);
	if (events != 0) {
		event_set(&ac->ac_ev, ac->ac_fd, events | EV_PERSIST,
		    api_event, ac);
		event_add(&ac->ac_ev, NULL);
	}
	evtimer_add(&ac->ac_timer, &tv);
}

static void
api_reset(struct api_conn *ac)
{
	free(ac->ac_body);
	ac->ac_body = NULL;
	ac->ac_bodylen = 0;
	if (ac->ac_token != NULL)
		freezero(ac->ac_token, ac->ac_tokenlen + 1);
	ac->ac_token = NULL;
	ac->ac_tokenlen = 0;
	explicit_bzero(ac->ac_secret, sizeof(ac->ac_secret));
	ac->ac_secretlen = 0;
	ac->ac_hassecret = 0;
	ac->ac_ctype[0] = '\0';
}

static void
api_close(struct api_conn *ac)
{
	event_del(&ac->ac_ev);
	evtimer_del(&ac->ac_timer);
	if (ac->ac_wait != NULL)
		registry_forget(ac->ac_wait);
	api_reset(ac);
	close(ac->ac_fd);
	buf_put(ac->ac_in);
	free(ac->ac_out);
	TAILQ_REMOVE(&api.a_conns, ac, ac_entry);
	api.a_nconns--;
	free(ac);
	if (api.a_stopping && TAILQ_EMPTY(&api.a_conns))
		exit(0);
}

static void
api_timer(int fd, short event, void *arg)
{
	struct api_conn	*ac = arg;

	if (ac->ac_state == API_WAIT) {
		/* the registry answers or fails every change: keep waiting */
		api_watch(ac, 0, registrar_conf()->upstream_timeout);
		return;
	}
	api_close(ac);
}

/* ---------------------------------------------------------------- */
/* answers */

static const char *
api_status_text(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 415: return ("Unsupported Media Type");
	case 429: return ("Too Many Requests");
	case 507: return ("Insufficient Storage");
	}
	return (reply_status_text(status));
}

/* What must go before the answer: the rest of an interim one. */
static int
api_prefix(struct api_conn *ac, const char *pre, size_t len)
{
	char	*out;

	if ((out = malloc(len + ac->ac_outlen)) == NULL)
		return (-1);
	memcpy(out, pre, len);
	memcpy(out + len, ac->ac_out, ac->ac_outlen);
	free(ac->ac_out);
	ac->ac_out = out;
	ac->ac_outlen += len;
	return (0);
}

/*
 * A client that waits for "100 Continue" before its body gets it now,
 * unless some of the body is here already.  Whatever the socket does
 * not take now goes before the final answer.
 */
static void
api_continue(struct api_conn *ac)
{
	ssize_t	 n;

	if ((ac->ac_req.flags & HTTP1_EXPECT_CONTINUE) == 0 ||
	    ac->ac_req.framing == HTTP1_BODY_NONE || ac->ac_in->b_len > 0)
		return;
	/* not even begun: the client sends its body after a while anyway */
	n = send(ac->ac_fd, API_CONTINUE, API_CONTINUE_LEN, MSG_NOSIGNAL);
	ac->ac_continued = n > 0 ? (size_t)n : 0;
}

/*
 * An answer: status, the JSON body, and extra (fields, each with CRLF,
 * or "").  The connection stays for the next request unless it must
 * not: then it closes once the answer is out.
 */
static void
api_send(struct api_conn *ac, int status, const char *json, size_t jlen,
    const char *extra)
{
	char	*out;
	int	 n;

	if (status >= 400 && status != 404 && status != 401 &&
	    status != 403 && status != 429)
		ac->ac_keepalive = 0;
	n = asprintf(&out, "HTTP/1.1 %d %s\r\n%sContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n%s%s\r\n%.*s",
	    status, api_status_text(status), reply_date(), jlen, extra,
	    ac->ac_keepalive ? "" : "Connection: close\r\n",
	    (int)jlen, json);
	if (n == -1) {
		api_close(ac);
		return;
	}
	free(ac->ac_out);
	ac->ac_out = out;
	ac->ac_outlen = n;
	ac->ac_outoff = 0;
	ac->ac_state = API_WRITE;
	if (ac->ac_continued > 0 && ac->ac_continued < API_CONTINUE_LEN &&
	    api_prefix(ac, API_CONTINUE + ac->ac_continued,
	    API_CONTINUE_LEN - ac->ac_continued) == -1) {
		api_close(ac);
		return;
	}
	ac->ac_continued = 0;
	api_watch(ac, EV_WRITE, registrar_conf()->send_timeout);
}

/* What the API took and refused since this registrar started. */
static struct met_registrar	 api_met;

static enum reg_refusal
api_refusal(int status)
{
	switch (status) {
	case 400: return (REG_REF_BAD_REQUEST);
	case 401: return (REG_REF_UNAUTHORIZED);
	case 403: return (REG_REF_FORBIDDEN);
	case 404: return (REG_REF_NOT_FOUND);
	case 405: return (REG_REF_METHOD);
	case 413: return (REG_REF_TOO_LARGE);
	case 415: return (REG_REF_MEDIA_TYPE);
	case 429: return (REG_REF_RATE_LIMITED);
	case 503: return (REG_REF_UNAVAILABLE);
	case 507: return (REG_REF_FULL);
	}
	return (REG_REF_OTHER);
}

/* {"error": why}, and a log line that names the client, never its
 * credentials. */
static void
api_error(struct api_conn *ac, int status, const char *extra,
    const char *fmt, ...)
{
	yajl_gen	 g;
	const unsigned char *json;
	size_t		 len;
	char		 why[256];
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_limited(LOG_LIMIT_REQUEST, "registration API: %s: %d: %s",
	    ac->ac_addr, status, why);
	api_met.mr_refusals[api_refusal(status)]++;
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		api_close(ac);
		return;
	}
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"error", 5);
	yajl_gen_string(g, (const unsigned char *)why, strlen(why));
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &json, &len);
	api_send(ac, status, (const char *)json, len, extra);
	yajl_gen_free(g);
}

static void
api_gen_str(yajl_gen g, const char *key, const char *val)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_string(g, (const unsigned char *)val, strlen(val));
}

static void
api_gen_int(yajl_gen g, const char *key, long long val)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_integer(g, val);
}

static void
api_gen_bool(yajl_gen g, const char *key, int val)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_bool(g, val);
}

/* A scrape's count of registered backends, a service at a time. */
struct api_metrics_walk {
	uint32_t		 aw_seq;
	struct met_regsvc	 aw_svc;
};

/* One MET_REGSVC a service: registry_foreach goes in service order. */
static void
api_metrics_one(const struct reg_backend *rb, void *arg)
{
	struct api_metrics_walk	*aw = arg;
	struct met_regsvc	*mr = &aw->aw_svc;

	if (mr->mr_backends > 0 && strcmp(mr->mr_service,
	    rb->rb_service) != 0) {
		proc_compose_parent(IMSG_MET_REGSVC, aw->aw_seq, mr,
		    sizeof(*mr));
		mr->mr_backends = 0;
	}
	(void)strlcpy(mr->mr_service, rb->rb_service,
	    sizeof(mr->mr_service));
	mr->mr_backends++;
}

/*
 * A scrape's part: the counters, and how many backends each service
 * has registered.
 */
void
regapi_metrics(uint32_t seq)
{
	struct api_metrics_walk	 aw;

	proc_compose_parent(IMSG_MET_REGISTRAR, seq, &api_met,
	    sizeof(api_met));
	memset(&aw, 0, sizeof(aw));
	aw.aw_seq = seq;
	registry_foreach(api_metrics_one, &aw);
	if (aw.aw_svc.mr_backends > 0)
		proc_compose_parent(IMSG_MET_REGSVC, seq, &aw.aw_svc,
		    sizeof(aw.aw_svc));
	proc_compose_parent(IMSG_MET_END, seq, NULL, 0);
}

/* The answer to a change the registry made (or could not). */
static void
api_changed(struct reg_wait *rw, int status)
{
	struct api_conn		*ac = rw->rw_arg;
	const struct reg_record	*rr = &rw->rw_rec;
	const unsigned char	*json;
	yajl_gen		 g;
	size_t			 len;

	ac->ac_wait = NULL;
	if (status != 200) {
		api_error(ac, status, "", "the registry could not be written; "
		    "nothing changed");
		free(rw);
		return;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		free(rw);
		api_close(ac);
		return;
	}
	yajl_gen_map_open(g);
	api_gen_str(g, "service_name", rr->rr_service);
	api_gen_str(g, "host", rr->rr_host);
	api_gen_int(g, "port", rr->rr_port);
	if (rw->rw_remove)
		api_gen_bool(g, "removed", 1);
	else {
		api_gen_bool(g, "use_tls", rr->rr_tls);
		api_gen_int(g, "ttl_seconds", rr->rr_expires - time(NULL));
		api_gen_int(g, "expires_at", rr->rr_expires);
	}
	api_gen_int(g, "backends", rw->rw_count);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &json, &len);
	if (!rw->rw_remove)
		api_met.mr_registrations++;
	log_info("registration API: %s: %s %s port %u for %s", ac->ac_addr,
	    rw->rw_remove ? "removed" : "registered", rr->rr_host,
	    rr->rr_port, rr->rr_service);
	api_send(ac, 200, (const char *)json, len, "");
	yajl_gen_free(g);
	free(rw);
	api_event(ac->ac_fd, 0, ac);	/* write what is ready */
}

/* ---------------------------------------------------------------- */
/* reading */

/* The fields the API looks at, kept as the head is taken apart. */
static int
api_fields(struct api_conn *ac, const char *head)
{
	struct http1_request	*req = &ac->ac_req;
	const struct http1_field *f;
	const char		*v, *n;
	size_t			 vl, nl;
	int			 i;

	for (i = 0; i < req->nfields; i++) {
		f = &req->fields[i];
		n = head + f->name_off;
		nl = f->name_len;
		v = head + f->value_off;
		vl = f->value_len;
		if (http1_caseeq(n, nl, "content-type", 12)) {
			if (vl >= sizeof(ac->ac_ctype))
				vl = sizeof(ac->ac_ctype) - 1;
			memcpy(ac->ac_ctype, v, vl);
			ac->ac_ctype[vl] = '\0';
		} else if (http1_caseeq(n, nl, "x-register-secret", 17)) {
			if (ac->ac_hassecret || vl > REG_SECRET_MAX)
				return (-1);
			memcpy(ac->ac_secret, v, vl);
			ac->ac_secretlen = vl;
			ac->ac_hassecret = 1;
		} else if (http1_caseeq(n, nl, "authorization", 13)) {
			if (ac->ac_token != NULL || vl > JWT_MAX)
				return (-1);
			/* another scheme is no token: 401, not 400 */
			if (vl < 7 || !http1_caseeq(v, 7, "bearer ", 7))
				continue;
			v += 7;
			vl -= 7;
			while (vl > 0 && *v == ' ') {
				v++;
				vl--;
			}
			if ((ac->ac_token = strndup(v, vl)) == NULL)
				return (-1);
			ac->ac_tokenlen = vl;
		}
	}
	return (0);
}

/* Which route, and whether the method is one it takes (else 405). */
static int
api_route(struct api_conn *ac, const char *head)
{
	struct http1_request	*req = &ac->ac_req;
	const char		*p = head + req->path_off;
	size_t			 len = req->path_len;
	const char		*q;
	int			 m = req->method;

	if ((q = memchr(p, '?', len)) != NULL)
		len = q - p;
	ac->ac_method = m;
	ac->ac_path[0] = '\0';
	if (len == 9 && memcmp(p, "/register", 9) == 0) {
		(void)strlcpy(ac->ac_path, "register", sizeof(ac->ac_path));
		if (m != HTTP1_M_POST && m != HTTP1_M_DELETE) {
			api_error(ac, 405, "Allow: POST, DELETE\r\n",
			    "/register takes POST and DELETE");
			return (-1);
		}
	} else if ((len == 9 && memcmp(p, "/services", 9) == 0) ||
	    (len == 8 && memcmp(p, "/healthz", 8) == 0)) {
		(void)strlcpy(ac->ac_path, p[1] == 's' ? "services" :
		    "healthz", sizeof(ac->ac_path));
		if (m != HTTP1_M_GET) {
			api_error(ac, 405, "Allow: GET\r\n",
			    "%.*s takes GET", (int)len, p);
			return (-1);
		}
	} else {
		api_error(ac, 404, "", "not found");
		return (-1);
	}
	return (0);
}

/*
 * A whole head: its route and method, the fields that matter, the size
 * of its body (too large: 413 before reading it).
 */
static void
api_head(struct api_conn *ac)
{
	struct http1_request	*req = &ac->ac_req;
	const char		*head = ac->ac_in->b_data + ac->ac_in->b_off;

	api_reset(ac);
	ac->ac_keepalive = (req->flags & HTTP1_KEEP_ALIVE) != 0 &&
	    !api.a_stopping;
	if (api_route(ac, head) == -1)
		return;
	if (api_fields(ac, head) == -1) {
		api_error(ac, 400, "", "malformed X-Register-Secret or "
		    "Authorization");
		return;
	}
	if (req->framing == HTTP1_BODY_LENGTH &&
	    req->content_length > API_BODY_MAX) {
		api_error(ac, 413, "", "body over %d bytes", API_BODY_MAX);
		return;
	}
	buf_consume(ac->ac_in, req->head_len);
	http1_chunked_init(&ac->ac_chunked);
	if ((ac->ac_body = malloc(req->framing == HTTP1_BODY_LENGTH ?
	    req->content_length + 1 : API_BODY_MAX + 1)) == NULL) {
		api_close(ac);
		return;
	}
	ac->ac_state = API_BODY;
	api_continue(ac);
}

/* Body bytes from ac_in; 1 once the body is whole, 0 for more, -1. */
static int
api_body(struct api_conn *ac)
{
	struct http1_request	*req = &ac->ac_req;
	struct buf		*b = ac->ac_in;
	size_t			 take, made, want;
	int			 rv;

	switch (req->framing) {
	case HTTP1_BODY_NONE:
		return (1);
	case HTTP1_BODY_LENGTH:
		want = req->content_length - ac->ac_bodylen;
		take = b->b_len < want ? b->b_len : want;
		memcpy(ac->ac_body + ac->ac_bodylen, b->b_data + b->b_off,
		    take);
		buf_consume(b, take);
		ac->ac_bodylen += take;
		return (ac->ac_bodylen == req->content_length);
	}
	rv = http1_chunked_decode(&ac->ac_chunked, b->b_data + b->b_off,
	    b->b_len, &take, &made);
	if (rv < 0) {
		api_error(ac, 400, "", "body: %s", http1_error_reason(rv));
		return (-1);
	}
	if (made > API_BODY_MAX - ac->ac_bodylen) {
		api_error(ac, 413, "", "body over %d bytes", API_BODY_MAX);
		return (-1);
	}
	memcpy(ac->ac_body + ac->ac_bodylen, b->b_data + b->b_off, made);
	ac->ac_bodylen += made;
	buf_consume(b, take);
	return (rv == HTTP1_OK);
}

/* Read what the socket has, and take requests apart as they come. */
static void
api_read(struct api_conn *ac)
{
	ssize_t	 n;
	int	 rv;

	for (;;) {
		if (ac->ac_state == API_HEAD && ac->ac_in->b_len > 0) {
			rv = http1_parse_request(ac->ac_in->b_data +
			    ac->ac_in->b_off, ac->ac_in->b_len, &ac->ac_req);
			if (rv < 0) {
				ac->ac_keepalive = 0;
				ac->ac_method = 0;
				api_error(ac, http1_error_status(rv), "",
				    "%s", http1_error_reason(rv));
				return;
			}
			if (rv == HTTP1_OK) {
				api_head(ac);
				if (ac->ac_state != API_BODY)
					return;
			}
		}
		if (ac->ac_state == API_BODY) {
			if ((rv = api_body(ac)) == -1)
				return;
			if (rv == 1) {
				api_handle(ac);
				return;
			}
		}
		if (ac->ac_state != API_HEAD && ac->ac_state != API_BODY)
			return;
		if (ac->ac_in->b_off + ac->ac_in->b_len == ac->ac_in->b_size)
			buf_compact(ac->ac_in);
		n = read(ac->ac_fd, ac->ac_in->b_data + ac->ac_in->b_off +
		    ac->ac_in->b_len, ac->ac_in->b_size - ac->ac_in->b_off -
		    ac->ac_in->b_len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			api_close(ac);
			return;
		}
		ac->ac_in->b_len += n;
	}
}

static void
api_write(struct api_conn *ac)
{
	ssize_t	 n;

	while (ac->ac_outoff < ac->ac_outlen) {
		n = send(ac->ac_fd, ac->ac_out + ac->ac_outoff,
		    ac->ac_outlen - ac->ac_outoff, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			api_close(ac);
			return;
		}
		ac->ac_outoff += n;
	}
	free(ac->ac_out);
	ac->ac_out = NULL;
	if (!ac->ac_keepalive) {
		api_close(ac);
		return;
	}
	api_reset(ac);
	ac->ac_state = API_HEAD;
	api_watch(ac, EV_READ, registrar_conf()->idle_timeout);
	api_read(ac);		/* a pipelined request waits */
}

static void
api_event(int fd, short event, void *arg)
{
	struct api_conn	*ac = arg;

	if (ac->ac_state == API_WRITE)
		api_write(ac);
	else if (ac->ac_state == API_HEAD || ac->ac_state == API_BODY)
		api_read(ac);
}

/* ---------------------------------------------------------------- */
/* checks */

/* Two secrets compared in constant time, whatever their lengths. */
static int
api_secret_ok(const char *given, size_t glen)
{
	const struct reg_secrets *rs = registrar_secrets();
	unsigned char	 a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
	int		 ok;

	SHA256((const unsigned char *)given, glen, a);
	SHA256(rs->rs_secret, rs->rs_secret_len, b);
	ok = CRYPTO_memcmp(a, b, sizeof(a)) == 0 && rs->rs_secret_len > 0;
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return (ok);
}

/*
 * A failed authentication from the client's address: 429 once it has
 * failed more than the limit in this second, else 401.
 */
static void
api_unauthorized(struct api_conn *ac, const char *why)
{
	const struct portero_config *conf = registrar_conf();
	struct api_fail	*af;
	const void	*addr;
	size_t		 alen, i, h = 2166136261U;
	time_t		 now = time(NULL);

	if (ac->ac_ss.ss_family == AF_INET6) {
		addr = &((struct sockaddr_in6 *)&ac->ac_ss)->sin6_addr;
		alen = 16;
	} else {
		addr = &((struct sockaddr_in *)&ac->ac_ss)->sin_addr;
		alen = 4;
	}
	for (i = 0; i < alen; i++)
		h = (h ^ ((const unsigned char *)addr)[i]) * 16777619U;
	af = &api.a_fail[h % API_LIMITER_SLOTS];
	if (af->af_ss.ss_family != ac->ac_ss.ss_family ||
	    memcmp(af->af_ss.ss_family == AF_INET6 ?
	    (void *)&((struct sockaddr_in6 *)&af->af_ss)->sin6_addr :
	    (void *)&((struct sockaddr_in *)&af->af_ss)->sin_addr, addr,
	    alen) != 0 || af->af_second != now) {
		af->af_ss = ac->ac_ss;
		af->af_second = now;
		af->af_count = 0;
	}
	if (++af->af_count > conf->register_fail_limit) {
		api_error(ac, 429, "Retry-After: 1\r\n", "too many failed "
		    "authentications from this address (%s)", why);
		return;
	}
	api_error(ac, 401, "WWW-Authenticate: Bearer realm=\"portero\"\r\n",
	    "%s", why);
}

/* The secret, and for /register the token; its claims into jc. */
static int
api_auth(struct api_conn *ac, int token, struct jwt_claims *jc)
{
	const struct portero_config *conf = registrar_conf();
	const struct reg_secrets *rs = registrar_secrets();
	struct jwt_key	 keys[JWT_KEYS_MAX];
	struct jwt_rules jr;
	const char	*why;

	if (!ac->ac_hassecret) {
		api_unauthorized(ac, "no X-Register-Secret");
		return (-1);
	}
	if (!api_secret_ok(ac->ac_secret, ac->ac_secretlen)) {
		api_unauthorized(ac, "wrong X-Register-Secret");
		return (-1);
	}
	if (!token)
		return (0);
	if (ac->ac_token == NULL) {
		api_unauthorized(ac, "no bearer token");
		return (-1);
	}
	memset(&jr, 0, sizeof(jr));
	keys[0].jk_key = rs->rs_key;
	keys[0].jk_len = rs->rs_key_len;
	keys[1].jk_key = rs->rs_prevkey;
	keys[1].jk_len = rs->rs_prevkey_len;
	jr.jr_keys = keys;
	jr.jr_nkeys = rs->rs_prevkey_len > 0 ? 2 : 1;
	jr.jr_issuer = conf->jwt_issuer[0] != '\0' ? conf->jwt_issuer : NULL;
	jr.jr_audience = conf->jwt_audience[0] != '\0' ?
	    conf->jwt_audience : NULL;
	jr.jr_leeway = conf->jwt_leeway;
	if (jwt_verify(ac->ac_token, ac->ac_tokenlen, &jr, time(NULL), jc,
	    &why) == -1) {
		api_unauthorized(ac, why);
		return (-1);
	}
	return (0);
}

/*
 * A service name as DNS has host names: labels of letters, digits, '-'
 * and '_' of 1 to 63 bytes, 253 in all; kept in lower case.
 */
static int
api_service_name(char *s)
{
	size_t	 i, label = 0, len = strlen(s);

	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] += 'a' - 'A';
		if (s[i] == '.') {
			if (label == 0)
				return (-1);
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_') || ++label > 63)
			return (-1);
	}
	return (0);
}

/* In one of the networks of --register-allow (all, when none). */
static int
api_allowed(const struct reg_backend *rb)
{
	const struct portero_config *conf = registrar_conf();
	const uint8_t		*a;
	unsigned int		 i;

	if (conf->register_nallow == 0)
		return (1);
	a = rb->rb_ss.ss_family == AF_INET ?
	    (const uint8_t *)&((const struct sockaddr_in *)
	    &rb->rb_ss)->sin_addr :
	    (const uint8_t *)&((const struct sockaddr_in6 *)
	    &rb->rb_ss)->sin6_addr;
	for (i = 0; i < conf->register_nallow; i++)
		if (config_net_has(&conf->register_allow[i],
		    rb->rb_ss.ss_family, a))
			return (1);
	return (0);
}

static int
api_local(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 =
	    (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (sin->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    (ntohl(sin->sin_addr.s_addr) >> 24) == 127);
	return (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ||
	    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

/*
 * One of portero's own listeners: the same address and port, or the
 * same port on this host when the listener takes any address.
 */
static int
api_own_listener(const struct reg_backend *rb)
{
	const struct portero_config *conf = registrar_conf();
	const char		*addr;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	unsigned int		 i;
	uint16_t		 port;

	for (i = 0; i <= conf->nlisteners; i++) {
		addr = i < conf->nlisteners ? conf->listeners[i].ln_addr :
		    conf->register_addr;
		if (listener_parse(addr, &ss, &sslen) == -1)
			continue;
		port = ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
		if (port != rb->rb_port)
			continue;
		if ((ss.ss_family == rb->rb_ss.ss_family &&
		    memcmp(&ss, &rb->rb_ss, sslen) == 0) ||
		    (api_local(&ss) && api_local(&rb->rb_ss)))
			return (1);
	}
	return (0);
}

/*
 * The body of POST and DELETE /register, into rw: every field checked,
 * each refusal naming its field.
 */
static int
api_registration(struct api_conn *ac, struct reg_wait *rw, int remove,
    struct reg_backend *rb)
{
	const struct portero_config *conf = registrar_conf();
	char		 service[NAME_MAX_LEN], host[INET6_ADDRSTRLEN + 8];
	char		 err[160];
	struct json_field f[] = {
		{ .jf_name = "service_name", .jf_type = JSON_STRING,
		    .jf_str = service, .jf_strsize = sizeof(service) },
		{ .jf_name = "host", .jf_type = JSON_STRING, .jf_str = host,
		    .jf_strsize = sizeof(host) },
		{ .jf_name = "port", .jf_type = JSON_INTEGER },
		{ .jf_name = "ttl_seconds", .jf_type = JSON_INTEGER },
		{ .jf_name = "use_tls", .jf_type = JSON_BOOL },
	};
	size_t		 i;

	if (json_object(ac->ac_body, ac->ac_bodylen, f, 5, err,
	    sizeof(err)) == -1) {
		/* a typed field's error names it; the others the body */
		for (i = 0; i < 5; i++)
			if (strncmp(err, f[i].jf_name,
			    strlen(f[i].jf_name)) == 0 &&
			    err[strlen(f[i].jf_name)] == ':')
				break;
		api_error(ac, 400, "", "%s%s", i < 5 ? "" : "body: ", err);
		return (-1);
	}
	for (i = 0; i < (remove ? 3 : 4); i++)
		if (!f[i].jf_seen) {
			api_error(ac, 400, "", "%s: missing", f[i].jf_name);
			return (-1);
		}
	if (api_service_name(service) == -1) {
		api_error(ac, 400, "", "service_name: not a host name of 1 to "
		    "253 bytes");
		return (-1);
	}
	if (f[2].jf_int < 1 || f[2].jf_int > 65535) {
		api_error(ac, 400, "", "port: out of range (1-65535)");
		return (-1);
	}
	if (!remove && (f[3].jf_int < 1 || f[3].jf_int > conf->max_ttl)) {
		api_error(ac, 400, "", "ttl_seconds: out of range (1-%u)",
		    conf->max_ttl);
		return (-1);
	}
	memset(rw, 0, sizeof(*rw));
	(void)strlcpy(rw->rw_rec.rr_service, service,
	    sizeof(rw->rw_rec.rr_service));
	if (strlcpy(rw->rw_rec.rr_host, host, sizeof(rw->rw_rec.rr_host)) >=
	    sizeof(rw->rw_rec.rr_host))
		goto badhost;
	rw->rw_rec.rr_port = f[2].jf_int;
	rw->rw_rec.rr_tls = f[4].jf_seen && f[4].jf_bool;
	rw->rw_rec.rr_expires = remove ? 0 : time(NULL) + f[3].jf_int;
	rw->rw_remove = remove;
	if (registry_wire(&rw->rw_rec, rb) == -1)
		goto badhost;
	/* kept as the registry writes it, whatever way it was spelled */
	(void)strlcpy(rw->rw_rec.rr_host, rb->rb_host,
	    sizeof(rw->rw_rec.rr_host));
	return (0);
 badhost:
	api_error(ac, 400, "", "host: not an IPv4 or IPv6 address (IPv6 "
	    "without brackets)");
	return (-1);
}

/* POST and DELETE /register, once authenticated. */
static void
api_register(struct api_conn *ac, const struct jwt_claims *jc)
{
	const struct portero_config *conf = registrar_conf();
	struct reg_wait		 check, *rw;
	struct reg_backend	 rb;
	int			 remove = ac->ac_method == HTTP1_M_DELETE;

	if (api_registration(ac, &check, remove, &rb) == -1)
		return;
	if (strcasecmp(jc->jc_service, check.rw_rec.rr_service) != 0) {
		api_error(ac, 403, "", "token is for another service");
		return;
	}
	if (!remove && !api_allowed(&rb)) {
		api_error(ac, 403, "", "host: not in --register-allow");
		return;
	}
	if (!remove && api_own_listener(&rb)) {
		api_error(ac, 403, "", "host: one of portero's own listeners");
		return;
	}
	if (remove && !registry_has(&check.rw_rec)) {
		api_error(ac, 404, "", "not registered");
		return;
	}
	if (!remove && !registry_has(&check.rw_rec)) {
		if (registry_count(NULL) >= conf->register_max_backends) {
			api_error(ac, 507, "", "register-max-backends (%u) "
			    "reached", conf->register_max_backends);
			return;
		}
		if (registry_count(check.rw_rec.rr_service) >=
		    conf->register_max_per_service) {
			api_error(ac, 507, "", "register-max-per-service (%u) "
			    "reached", conf->register_max_per_service);
			return;
		}
	}
	if ((rw = malloc(sizeof(*rw))) == NULL) {
		api_error(ac, 503, "", "out of memory");
		return;
	}
	*rw = check;
	rw->rw_done = api_changed;
	rw->rw_arg = ac;
	ac->ac_wait = rw;
	ac->ac_state = API_WAIT;
	api_watch(ac, 0, conf->upstream_timeout);
	registry_submit(rw);
}

static void
api_service_one(const struct reg_backend *rb, void *arg)
{
	yajl_gen	 g = arg;
	static char	 last[NAME_MAX_LEN];

	if (rb == NULL) {
		last[0] = '\0';
		return;
	}
	if (strcmp(last, rb->rb_service) != 0) {
		if (last[0] != '\0') {
			yajl_gen_array_close(g);
			yajl_gen_map_close(g);
		}
		yajl_gen_map_open(g);
		api_gen_str(g, "name", rb->rb_service);
		yajl_gen_string(g, (const unsigned char *)"backends", 8);
		yajl_gen_array_open(g);
		(void)strlcpy(last, rb->rb_service, sizeof(last));
	}
	yajl_gen_map_open(g);
	api_gen_str(g, "host", rb->rb_host);
	api_gen_int(g, "port", rb->rb_port);
	api_gen_bool(g, "tls", rb->rb_tls);
	api_gen_int(g, "expires_in", rb->rb_expires - time(NULL));
	yajl_gen_map_close(g);
}

/* GET /services: every registered backend, by service. */
static void
api_services(struct api_conn *ac)
{
	const unsigned char	*json;
	yajl_gen		 g;
	size_t			 len;

	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		api_close(ac);
		return;
	}
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"services", 8);
	yajl_gen_array_open(g);
	api_service_one(NULL, g);
	registry_foreach(api_service_one, g);
	if (registry_count(NULL) > 0) {
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &json, &len);
	api_send(ac, 200, (const char *)json, len, "");
	yajl_gen_free(g);
}

/* A whole request: the checks, in order, then its answer. */
static void
api_handle(struct api_conn *ac)
{
	struct jwt_claims	 jc;
	const char		*ct = ac->ac_ctype;
	size_t			 n;

	if (strcmp(ac->ac_path, "healthz") == 0) {
		api_send(ac, 200, "{\"status\":\"ok\"}", 15, "");
		return;
	}
	if (strcmp(ac->ac_path, "services") == 0) {
		if (api_auth(ac, 0, &jc) == 0)
			api_services(ac);
		return;
	}
	/* application/json, in any case, with parameters or not */
	n = strcspn(ct, "; \t");
	if (n != 16 || !http1_caseeq(ct, n, "application/json", 16)) {
		api_error(ac, 415, "", "Content-Type must be "
		    "application/json");
		return;
	}
	if (api_auth(ac, 1, &jc) == -1)
		return;
	api_register(ac, &jc);
}
