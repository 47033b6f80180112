/*
 * exchange.c: one request and its response, whatever protocol the
 * client speaks: routing and the 421 check, the backend and its pooled
 * upstream connection, the request head rewritten for the backend, both
 * bodies checked on the way with back-pressure, retries, portero's own
 * error statuses, the access log.  The client's protocol (struct
 * client_proto) reads the request body and writes the response.
 *
 * An exchange steps through (xc_step(), called by the client's pump on
 * any news from either socket):
 *
 *	connect (and TLS) --> [100 Continue to the client]
 *	    --> request head --> request body  (both to the upstream)
 *	    --> response head(s): 1xx forwarded, then the final one
 *	    --> response body, checked; the protocol writes it out
 *	    --> xc_finish(): logged, upstream pooled, protocol told
 *
 * Any step may wait for its socket.  A failure before any byte of the
 * response is a status of portero's own (502, 503, 504); after, the
 * client's protocol cuts the response short.
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portero.h"
#include "http1.h"

#define APPEND_LIT(b, lit)	BUF_APPEND_LIT((b), (lit))

/*
 * Exchanges kept for reuse: one malloc less a request, and their timers
 * stay armed, so that a request costs no libevent timer call at all.
 */
#define XC_KEEP_FREE	64

/*
 * What the head upstream may have beyond the client's: the forwarding
 * fields (the client's address twice, a host name), Transfer-Encoding,
 * a WebSocket's Upgrade and Connection, X-Request-Id.
 */
#define XC_UPHEAD_SLACK	(1024 + 16 + REQID_MAX)
/* ... and a client certificate's fields, when the server sets them */
#define XC_CERT_SLACK	(2 * CLIENT_CERT_FIELD_MAX + PTLS_SUBJECT_MAX + \
			    PTLS_FINGERPRINT_LEN + 8)

/* What xc_new() clears: from xc_cl up to the strings. */
#define XC_CLEAR_FROM	offsetof(struct exchange, xc_cl)
#define XC_CLEAR_LEN	(offsetof(struct exchange, xc_host) - XC_CLEAR_FROM)

static void	 xc_timer(int, short, void *);
static void	 xc_body_timer(int, short, void *);
static void	 xc_notify(void *);
static void	 xc_route_release(struct exchange *);
static void	 xc_tunnel_start(struct exchange *);
static int	 xc_request_fields(struct exchange *, struct buf *,
		    const char *);
static void	 xc_macros(const struct exchange *, struct macro_env *,
		    const char *, size_t);
static struct buf *xc_response_fields(struct exchange *, const char *,
		    struct http1_response *);
static int	 xc_websocket(const char *, const struct http1_field *,
		    size_t);
static int	 xc_cert_ok(struct exchange *, const struct vserver *);
static int	 xc_cert_field(const struct vserver *, const char *, size_t);
static int	 xc_cert_fields(struct exchange *, struct buf *);

/*
 * The path of the request being routed, made plain for the locations of
 * its server (server_path_plain), when it has one: per worker, valid
 * from the location's choice until its head for the backend is built.
 */
static char		 xc_plain[HTTP1_LINE_MAX];
static ssize_t		 xc_plainlen;

/* Free exchanges; xc_cl links them.  One list per worker process. */
static struct exchange	*xc_freelist;
static unsigned int	 xc_nfree;

/*
 * A new exchange for client cl, its request parsed into req, the
 * request body to come in reqin.
 */
struct exchange *
xc_new(struct client *cl, struct http1_request *req, struct buf *reqin)
{
	struct exchange	*xc;

	if ((xc = xc_freelist) != NULL) {
		xc_freelist = (struct exchange *)xc->xc_cl;
		xc_nfree--;
	} else if ((xc = calloc(1, sizeof(*xc))) == NULL)
		return (NULL);
	else {
		timer_init(&xc->xc_ev_timer, xc_timer, xc);
		timer_init(&xc->xc_ev_body, xc_body_timer, xc);
	}
	memset((char *)xc + XC_CLEAR_FROM, 0, XC_CLEAR_LEN);
	xc->xc_host[0] = '\0';
	xc->xc_referer[0] = xc->xc_agent[0] = xc->xc_reqid[0] = '\0';
	timespecclear(&xc->xc_upstream);
	xc->xc_cl = cl;
	xc->xc_addr = cl->cl_addr;
	xc->xc_req = req;
	xc->xc_reqin = reqin;
	xc->xc_keepalive = 1;
	(void)strlcpy(xc->xc_method, "-", sizeof(xc->xc_method));
	(void)strlcpy(xc->xc_path, "-", sizeof(xc->xc_path));
	clock_gettime(CLOCK_MONOTONIC, &xc->xc_start);
	return (xc);
}

/* Everything the exchange holds goes; the client's buffers stay. */
void
xc_free(struct exchange *xc)
{
	if (xc == NULL)
		return;
	timer_stop(&xc->xc_ev_timer);
	timer_stop(&xc->xc_ev_body);
	if (xc->xc_up != NULL)
		upstream_release(xc->xc_up, 0);
	xc_route_release(xc);
	buf_put(xc->xc_uphead);
	if (xc_nfree >= XC_KEEP_FREE) {
		timer_del(&xc->xc_ev_timer);
		timer_del(&xc->xc_ev_body);
		free(xc->xc_resp);
		free(xc);
		return;
	}
	xc->xc_cl = (struct client *)xc_freelist;
	xc_freelist = xc;
	xc_nfree++;
}

/*
 * Keep a copy of part of the head for the log and the redirect: the head
 * itself is overwritten by the body.  Truncated to fit; no printf, since
 * this runs for every request.
 */
static void
xc_keep(char *dst, size_t dstsize, const char *prefix, const char *src,
    size_t len)
{
	size_t	 plen = strlen(prefix);

	if (plen + len >= dstsize)
		len = dstsize - plen - 1;
	memcpy(dst, prefix, plen);
	memcpy(dst + plen, src, len);
	dst[plen + len] = '\0';
}

/* The method and path of the request head at head, for the log. */
void
xc_keep_request(struct exchange *xc, const char *head)
{
	struct http1_request	*req = xc->xc_req;

	xc_keep(xc->xc_method, sizeof(xc->xc_method), "",
	    head + req->method_off, req->method_len);
	xc_keep(xc->xc_path, sizeof(xc->xc_path),
	    req->path_len == 0 || head[req->path_off] == '?' ? "/" : "",
	    head + req->path_off, req->path_len);
}

/* A request that never got to be one: logged as what it had, or "-". */
void
xc_keep_partial(struct exchange *xc, const char *head)
{
	if (head != NULL && http1_request_started(xc->xc_req))
		xc_keep_request(xc, head);
}

/* Copy a field line as it came, "Name: value". */
static int
xc_copy_field(struct buf *b, const char *head, const struct http1_field *f)
{
	return (buf_field(b, head + f->name_off, f->name_len,
	    head + f->value_off, f->value_len));
}

/*
 * The fields portero sets for the backend, after the client's own:
 * X-Forwarded-For appended to what came, the others portero's alone.
 * X-Forwarded-Host only when the client named a host.  A trusted
 * forwarder's Forwarded and X-Real-IP are kept (xc_build_uphead()):
 * portero's Forwarded element comes after its own, and X-Real-IP is
 * portero's only when it sent none.  The hop portero adds is the
 * connection's address; X-Real-IP is the client's.
 */
static int
xc_forwarded(struct exchange *xc, struct buf *b, const char *head, int xff,
    int realip_kept)
{
	struct client		*cl = xc->xc_cl;
	struct http1_request	*req = xc->xc_req;
	const struct http1_field *f;
	size_t			 alen = strlen(cl->cl_addr);
	int			 i, style = FORWARDED_X;

	if (xc->xc_vs != NULL)
		style = xc->xc_vs->vs_conf->sc_forwarded;
	if (style != FORWARDED_X && rewrite_forwarded(b, cl->cl_addr,
	    cl->cl_conn.c_tls != NULL, head + req->host_off,
	    req->host_len) == -1)
		return (-1);
	if (style == FORWARDED_RFC7239)
		return (0);

	if (APPEND_LIT(b, "X-Forwarded-For: ") == -1)
		return (-1);
	for (i = 0; xff && i < req->nfields; i++) {
		f = &req->fields[i];
		if (f->id == HTTP1_H_X_FORWARDED_FOR && (buf_append(b,
		    head + f->value_off, f->value_len) == -1 ||
		    APPEND_LIT(b, ", ") == -1))
			return (-1);
	}
	/* appends, not printf: this runs for every request */
	if (buf_append(b, cl->cl_addr, alen) == -1 ||
	    APPEND_LIT(b, "\r\n") == -1)
		return (-1);
	if (!realip_kept && (APPEND_LIT(b, "X-Real-IP: ") == -1 ||
	    buf_append(b, xc->xc_addr, strlen(xc->xc_addr)) == -1 ||
	    APPEND_LIT(b, "\r\n") == -1))
		return (-1);
	if (cl->cl_conn.c_tls != NULL) {
		if (APPEND_LIT(b, "X-Forwarded-Proto: https\r\n") == -1)
			return (-1);
	} else if (APPEND_LIT(b, "X-Forwarded-Proto: http\r\n") == -1)
		return (-1);
	if (req->host_len > 0 && buf_field(b, "X-Forwarded-Host", 16,
	    head + req->host_off, req->host_len) == -1)
		return (-1);
	return (0);
}

/*
 * The request head for the upstream: origin-form, HTTP/1.1, hop-by-hop
 * fields gone, Transfer-Encoding normalised, always a Host (the routed
 * service's name when the client sent none), the client's forwarding
 * fields replaced by portero's.
 */
static int
xc_build_uphead(struct exchange *xc, const char *head)
{
	struct http1_request	*req = xc->xc_req;
	struct buf		*b = xc->xc_uphead;
	const struct location	*lo = xc->xc_lo;
	const struct vserver	*vs = xc->xc_vs;
	const struct http1_field *f;
	const char		*path = head + req->path_off, *query;
	size_t			 pathlen = req->path_len;
	int			 i, xff = 0, host = 0, realip = 0;

	if (buf_append(b, head + req->method_off, req->method_len) == -1 ||
	    APPEND_LIT(b, " ") == -1)
		return (-1);
	if (req->target_form == HTTP1_T_ASTERISK) {
		path = "*";
		pathlen = 1;
	} else if (lo != NULL && lo->lo_strip != NULL && xc_plainlen > 0) {
		/* a location took it: its path was made plain then */
		if ((query = memchr(path, '?', pathlen)) == NULL)
			query = path + pathlen;
		if (rewrite_path(b, lo, xc_plain, xc_plainlen, query,
		    path + pathlen - query) == -1)
			return (-1);
		pathlen = 0;
	} else if ((pathlen == 0 || *path == '?') &&
	    APPEND_LIT(b, "/") == -1)
		return (-1);
	if (buf_append(b, path, pathlen) == -1 ||
	    APPEND_LIT(b, " HTTP/1.1\r\n") == -1)
		return (-1);
	for (i = 0; i < req->nfields; i++) {
		f = &req->fields[i];
		if ((f->flags & HTTP1_F_HOP) || (lo != NULL &&
		    lo->lo_nops > 0 && rewrite_drops(lo, HDR_REQUEST,
		    head + f->name_off, f->name_len)) || (vs != NULL &&
		    vs->vs_auth != NULL && xc_cert_field(vs,
		    head + f->name_off, f->name_len)))
			continue;
		switch (f->id) {
		case HTTP1_H_X_REAL_IP:
		case HTTP1_H_FORWARDED:
			/* a trusted forwarder's are kept */
			if (!xc->xc_trusted)
				continue;
			if (f->id == HTTP1_H_X_REAL_IP)
				realip = 1;
			break;
		case HTTP1_H_X_FORWARDED_FOR:
			xff = 1;
			/* FALLTHROUGH */
		case HTTP1_H_X_REQUEST_ID:	/* reqid_field()'s alone */
		case HTTP1_H_X_FORWARDED_HOST:
		case HTTP1_H_X_FORWARDED_PROTO:
		case HTTP1_H_EXPECT:
			continue;
		case HTTP1_H_HOST:
			host = 1;
			break;
		}
		if (xc_copy_field(b, head, f) == -1)
			return (-1);
	}
	if (!host && req->host_len > 0 && buf_field(b, "Host", 4,
	    head + req->host_off, req->host_len) == -1)
		return (-1);
	if (!host && req->host_len == 0 && buf_field(b, "Host", 4,
	    xc->xc_sv->sv_name, strlen(xc->xc_sv->sv_name)) == -1)
		return (-1);
	if (req->framing == HTTP1_BODY_CHUNKED &&
	    APPEND_LIT(b, "Transfer-Encoding: chunked\r\n") == -1)
		return (-1);
	/* a WebSocket handshake: a request without a body, HTTP/1.1 */
	if ((req->flags & HTTP1_UPGRADE) && req->version == 11 &&
	    req->framing == HTTP1_BODY_NONE &&
	    xc_websocket(head, req->fields, req->nfields)) {
		if (APPEND_LIT(b, "Upgrade: websocket\r\n"
		    "Connection: upgrade\r\n") == -1)
			return (-1);
		xc->xc_upgrade = 1;
	}
	if (xc_forwarded(xc, b, head, xff, realip) == -1 ||
	    reqid_field(b, xc) == -1)
		return (-1);
	if (vs != NULL && vs->vs_auth != NULL && xc_cert_fields(xc, b) == -1)
		return (-1);
	if (lo != NULL && lo->lo_nops > 0 && xc_request_fields(xc, b, head) ==
	    -1)
		return (-1);
	return (APPEND_LIT(b, "\r\n"));
}

/* Is a client's field one of those the server's certificate fields? */
static int
xc_cert_field(const struct vserver *vs, const char *name, size_t len)
{
	const struct server_conf	*sc = vs->vs_conf;

	return ((len == vs->vs_subjectlen &&
	    strncasecmp(name, sc->sc_subject_field, len) == 0) ||
	    (len == vs->vs_fingerprintlen &&
	    strncasecmp(name, sc->sc_fingerprint_field, len) == 0));
}

/*
 * The client certificate the handshake verified, in the fields the file
 * names; none if there was none (optional) or it did not verify.  The
 * client's own fields of those names are gone already.
 */
static int
xc_cert_fields(struct exchange *xc, struct buf *b)
{
	const struct vserver		*vs = xc->xc_vs;
	const struct server_conf	*sc = vs->vs_conf;
	const struct ptls_verified	*pv;

	if (xc->xc_cl->cl_conn.c_tls == NULL ||
	    (pv = ptls_peer_verified(xc->xc_cl->cl_conn.c_tls)) == NULL)
		return (0);
	if (vs->vs_subjectlen > 0 && pv->pv_subject[0] != '\0' &&
	    buf_field(b, sc->sc_subject_field, vs->vs_subjectlen,
	    pv->pv_subject, strlen(pv->pv_subject)) == -1)
		return (-1);
	if (vs->vs_fingerprintlen > 0 && buf_field(b,
	    sc->sc_fingerprint_field, vs->vs_fingerprintlen,
	    pv->pv_fingerprint, PTLS_FINGERPRINT_LEN) == -1)
		return (-1);
	return (0);
}

/* The fields the file sets or adds for the backend. */
static int
xc_request_fields(struct exchange *xc, struct buf *b, const char *head)
{
	struct http1_request	*req = xc->xc_req;
	struct macro_env	 me;

	xc_macros(xc, &me, head + req->target_off, req->target_len);
	return (rewrite_fields(b, xc->xc_lo, HDR_REQUEST, &me));
}

/*
 * Does a head ask for, or agree to, exactly a WebSocket: one Upgrade
 * field whose value is "websocket"?  Any other token (h2c above all)
 * is not carried: nobody tunnels past routing and the 421 check.
 */
static int
xc_websocket(const char *head, const struct http1_field *fields,
    size_t nfields)
{
	const struct http1_field	*f;
	int				 i;

	if ((i = http1_field_find(head, fields, nfields, 0, "upgrade", 7)) ==
	    -1 || http1_field_find(head, fields, nfields, i + 1, "upgrade",
	    7) != -1)
		return (0);
	f = &fields[i];
	return (http1_caseeq(head + f->value_off, f->value_len, "websocket",
	    9));
}

/*
 * The backend the request goes to, held while it is in flight (and
 * counted so, for the balancing modes that weigh the load).
 */
static void
xc_set_backend(struct exchange *xc, struct backend *be)
{
	if (be != NULL) {
		backend_ref(be);
		balance_hold(xc->xc_sv, be);
	}
	if (xc->xc_be != NULL)
		balance_release(xc->xc_sv, xc->xc_be);
	backend_unref(xc->xc_be);
	xc->xc_be = be;
}

/* Another backend than failed, which just did. */
static struct backend *
xc_repick(struct exchange *xc, struct backend *failed)
{
	xc->xc_pick.pk_avoid = failed;
	return (backend_pick(xc->xc_sv, &xc->xc_pick));
}

/* What routing held for the request: let go once it is answered. */
static void
xc_route_release(struct exchange *xc)
{
	xc_set_backend(xc, NULL);
	service_unref(xc->xc_sv);
	xc->xc_sv = NULL;
	xc->xc_upname = NULL;
	xc->xc_vs = NULL;
	xc->xc_lo = NULL;
	buf_put(xc->xc_redirect);
	xc->xc_redirect = NULL;
	route_unref(xc->xc_rt);
	xc->xc_rt = NULL;
}

/* Where a redirect of ours sends the client, or NULL. */
const char *
xc_location(const struct exchange *xc)
{
	return (xc->xc_redirect != NULL ? xc->xc_redirect->b_data : NULL);
}

/* What the macros of the file stand for in this request. */
static void
xc_macros(const struct exchange *xc, struct macro_env *me, const char *uri,
    size_t urilen)
{
	me->me_addr = xc->xc_addr;
	me->me_host = xc->xc_host;
	me->me_server = xc->xc_vs != NULL ? xc->xc_vs->vs_conf->sc_name :
	    xc->xc_sv != NULL ? xc->xc_sv->sv_name : "";
	me->me_uri = uri;
	me->me_urilen = urilen;
}

/*
 * A redirect: its Location made from the template with the request's
 * macros, or "https://" host and target for the plain listener's.  -1
 * when it cannot be made (then a 500).
 */
static int
xc_redirect(struct exchange *xc, const char *tmpl, const char *head)
{
	struct http1_request	*req = xc->xc_req;
	struct macro_env	 me;
	const char		*uri = head + req->path_off;
	size_t			 urilen = req->path_len;
	struct buf		*b;

	if (urilen == 0 || *uri == '?') {
		uri = "/";	/* the query is lost only with an empty path */
		urilen = 1;
	}
	if ((b = xc->xc_redirect = buf_get()) == NULL)
		return (-1);
	xc_macros(xc, &me, uri, urilen);
	if (tmpl != NULL ? macro_expand(b, tmpl, &me) == -1 :
	    (BUF_APPEND_LIT(b, "https://") == -1 ||
	    buf_append(b, xc->xc_host, strlen(xc->xc_host)) == -1 ||
	    buf_append(b, uri, urilen) == -1))
		return (-1);
	return (buf_append(b, "", 1));	/* the NUL */
}

/*
 * Open an upstream for the request: on be, else on the next backends in
 * the rotation, skipping those that refuse at once.  Returns 0, -1 when
 * none could be reached, or -2 when the worker itself is out of
 * descriptors or memory: that is no backend's fault.
 */
static int
xc_connect(struct exchange *xc, struct backend *be)
{
	unsigned int	 tries, full = 0;

	for (tries = 0; be != NULL && tries < xc->xc_sv->sv_nbackends;
	    tries++) {
		if (backend_full(xc->xc_sv, be)) {
			full++;
			be = xc_repick(xc, be);
			continue;
		}
		if ((xc->xc_up = upstream_get(be, xc->xc_upname, xc_notify,
		    xc, 0)) != NULL) {
			xc_set_backend(xc, be);
			be->be_requests++;
			return (0);
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			return (-2);
		backend_failed(be);
		be = xc_repick(xc, be);
	}
	return (full > 0 ? -3 : -1);
}

/*
 * xc_connect() failed for want of room, not for a backend's fault: 503
 * at once, and 1; else 0.
 */
static int
xc_no_room(struct exchange *xc, int ret)
{
	if (ret == -2)
		xc_abort(xc, 503, "out of descriptors or memory for an "
		    "upstream connection");
	else if (ret == -3)
		xc_abort(xc, 503, "the pool is at its max-connections or "
		    "max-pool-connections");
	return (ret == -2 || ret == -3);
}

/* The pool's own timeouts, else the global ones. */
static unsigned int
xc_connect_timeout(const struct exchange *xc)
{
	return (xc->xc_sv->sv_conf.pl_connect_timeout > 0 ?
	    xc->xc_sv->sv_conf.pl_connect_timeout :
	    worker_env->wk_conf.connect_timeout);
}

static unsigned int
xc_upstream_timeout(const struct exchange *xc)
{
	return (xc->xc_sv != NULL && xc->xc_sv->sv_conf.pl_upstream_timeout >
	    0 ? xc->xc_sv->sv_conf.pl_upstream_timeout :
	    worker_env->wk_conf.upstream_timeout);
}

/* Whether host is an IP literal, which RFC 6066 keeps out of SNI. */
static int
xc_ip_literal(const char *host)
{
	struct in_addr	 in;

	return (host[0] == '[' || inet_pton(AF_INET, host, &in) == 1);
}

/*
 * A server that asks for client certificates takes requests only on a
 * connection whose handshake asked under its very policy (mode and CA
 * bundle): not one made for a name without it or with another, nor
 * plain HTTP, so that no Host fronts around client authentication.
 */
static int
xc_cert_ok(struct exchange *xc, const struct vserver *vs)
{
	struct ptls		*tls = xc->xc_cl->cl_conn.c_tls;
	const unsigned char	*id;

	return (tls != NULL && (id = ptls_peer_auth(tls)) != NULL &&
	    memcmp(id, ptls_auth_id(vs->vs_auth), PTLS_AUTH_ID_LEN) == 0);
}

/* The request's path made plain into xc_plain: its length, or -1. */
static ssize_t
xc_path_plain(const struct exchange *xc, const char *head)
{
	const struct http1_request	*req = xc->xc_req;
	const char			*path = head + req->path_off;
	size_t				 len = req->path_len;

	if (req->target_form == HTTP1_T_ASTERISK) {
		(void)strlcpy(xc_plain, "*", sizeof(xc_plain));
		return (xc_plainlen = 1);
	}
	if (len == 0 || *path == '?') {
		path = "/";
		len = 1;
	}
	return (xc_plainlen = server_path_plain(path, len, xc_plain,
	    sizeof(xc_plain)));
}

/*
 * The server's answer for the location that takes the request: a pool
 * to forward to, or NULL after a reply of its own.
 */
static struct service *
xc_location_answer(struct exchange *xc, const char *head, int nobody)
{
	struct vserver	*vs = xc->xc_vs;
	struct location	*lo, *act;
	ssize_t		 pathlen;

	if (vs->vs_auth != NULL && !xc_cert_ok(xc, vs)) {
		log_limited(LOG_LIMIT_REQUEST, "%s: 421: server %s asks for "
		    "client certificates as this connection's handshake did "
		    "not", xc->xc_cl->cl_addr, vs->vs_conf->sc_name);
		xc_reply(xc, 421, nobody);
		return (NULL);
	}
	if ((pathlen = xc_path_plain(xc, head)) == -1) {
		log_limited(LOG_LIMIT_REQUEST, "%s: 400: a path no location "
		    "can take (a bad escape, or \"..\" above the root)",
		    xc->xc_cl->cl_addr);
		xc_reply(xc, 400, nobody);
		return (NULL);
	}
	lo = xc->xc_lo = server_location(vs, xc_plain, pathlen);
	act = lo->lo_action == LOC_INHERIT ? vs->vs_root : lo;
	switch (act->lo_action) {
	case LOC_FORWARD:
		return (act->lo_sv);
	case LOC_REDIRECT:
		xc_reply(xc, xc_redirect(xc, act->lo_target, head) == -1 ?
		    500 : act->lo_status, nobody);
		return (NULL);
	case LOC_BLOCK:
		xc_reply(xc, act->lo_status, nobody);
		return (NULL);
	}
	xc_reply(xc, 404, nobody);
	return (NULL);
}

/*
 * Which server takes the host: one that names it, else a pool of that
 * name that serves on its own (route_implicit), else the default
 * server, else --default-service.  The pool to forward to, or NULL after
 * a reply of our own.
 */
static struct service *
xc_find(struct exchange *xc, const char *head, int nobody, int *byname)
{
	struct worker		*wk = worker_env;
	struct route_table	*rt = xc->xc_rt;
	struct service		*sv;
	size_t			 hlen = strlen(xc->xc_host);

	*byname = 1;
	if ((xc->xc_vs = server_lookup(rt, xc->xc_host, hlen)) != NULL)
		return (xc_location_answer(xc, head, nobody));
	if (hlen > 0 && (sv = route_lookup(rt, xc->xc_host, hlen)) != NULL &&
	    route_implicit(sv))
		return (sv);
	*byname = 0;
	if ((xc->xc_vs = rt->rt_default) != NULL)
		return (xc_location_answer(xc, head, nobody));
	if (wk->wk_conf.default_service[0] != '\0' && (sv = route_lookup(rt,
	    wk->wk_conf.default_service,
	    strlen(wk->wk_conf.default_service))) != NULL)
		return (sv);
	xc_reply(xc, 404, nobody);
	return (NULL);
}

/*
 * Route a whole request head: its pool, or a reply of our own.
 */
static struct service *
xc_route(struct exchange *xc, const char *head, int nobody)
{
	struct worker	*wk = worker_env;
	struct client	*cl = xc->xc_cl;
	struct service	*sv;
	size_t		 hlen = strlen(xc->xc_host);
	int		 byname;

	if (cl->cl_kind == LISTENER_HTTP && !wk->wk_conf.http_proxy) {
		xc_reply(xc, xc_redirect(xc, NULL, head) == -1 ? 500 : 301,
		    nobody);
		return (NULL);
	}
	if (cl->cl_tlsctx != NULL && (hlen == 0 ||
	    !tlsctx_host_ok(cl->cl_tlsctx, cl->cl_conn.c_tls, xc->xc_host,
	    hlen))) {
		xc_reply(xc, 421, nobody);
		return (NULL);
	}
	if (wk->wk_routes == NULL) {
		xc_reply(xc, 404, nobody);
		return (NULL);
	}
	/* requests in flight keep the table they started with */
	xc->xc_rt = wk->wk_routes;
	xc->xc_rt->rt_refs++;
	if ((sv = xc_find(xc, head, nobody, &byname)) == NULL)
		return (NULL);
	/*
	 * The upstream's TLS name (SNI, and the name its certificate is
	 * checked against) is the pool's tls-name, else the host that
	 * routed the request, else the pool's own name: never empty, never
	 * an IP literal the client sent.
	 */
	if (sv->sv_conf.pl_tls_name[0] != '\0')
		xc->xc_upname = sv->sv_conf.pl_tls_name;
	else
		xc->xc_upname = byname && !xc_ip_literal(xc->xc_host) ?
		    xc->xc_host : sv->sv_name;
	service_ref(sv);
	xc->xc_sv = sv;
	pick_key_init(&xc->xc_pick, sv, xc->xc_addr, head, xc->xc_req);
	xc_set_backend(xc, backend_pick(sv, &xc->xc_pick));
	if (xc->xc_be == NULL) {
		xc_reply(xc, 503, nobody);
		return (NULL);
	}
	return (sv);
}

/*
 * A whole request head has come (at head, req->head_len bytes): route
 * it and open its upstream.  The protocol takes the head off its input
 * once this returns.
 */
int
xc_start(struct exchange *xc, const char *head)
{
	struct worker		*wk = worker_env;
	struct http1_request	*req = xc->xc_req;
	const char		*hs = head + req->host_off;
	size_t			 i, hlen = req->hostname_len;
	int			 nobody, ret;

	/* the parser refuses a longer name: it is never cut here */
	if (hlen >= sizeof(xc->xc_host)) {
		xc_reply(xc, 400, 0);
		return (STEP_GONE);
	}
	for (i = 0; i < hlen; i++)
		xc->xc_host[i] = tolower((unsigned char)hs[i]);
	xc->xc_host[i] = '\0';
	xc_keep_request(xc, head);
	reqid_request(xc, head);
	realip_request(xc, head);
	xc->xc_keepalive = (req->flags & HTTP1_KEEP_ALIVE) &&
	    !wk->wk_stopping;
	nobody = req->framing == HTTP1_BODY_NONE;

	if (req->framing == HTTP1_BODY_LENGTH && wk->wk_conf.max_body_size &&
	    req->content_length > wk->wk_conf.max_body_size) {
		log_limited(LOG_LIMIT_REQUEST, "%s: 413: Content-Length %llu "
		    "over --max-body-size", xc->xc_cl->cl_addr,
		    (unsigned long long)req->content_length);
		xc_reply(xc, 413, 0);
		return (STEP_GONE);
	}
	if (xc_route(xc, head, nobody) == NULL)
		return (STEP_GONE);
	if ((xc->xc_uphead = buf_get_size(req->head_len + XC_UPHEAD_SLACK +
	    (xc->xc_vs != NULL && xc->xc_vs->vs_auth != NULL ?
	    XC_CERT_SLACK : 0))) == NULL ||
	    xc_build_uphead(xc, head) == -1) {
		xc_reply(xc, 431, 0);
		return (STEP_GONE);
	}
	xc->xc_continue = (req->flags & HTTP1_EXPECT_CONTINUE) != 0;
	memset(&xc->xc_reqbody, 0, sizeof(xc->xc_reqbody));
	xc->xc_reqbody.bd_framing = req->framing;
	xc->xc_reqbody.bd_left = req->content_length;
	xc->xc_reqbody.bd_done = nobody || (req->framing ==
	    HTTP1_BODY_LENGTH && req->content_length == 0);
	http1_chunked_init(&xc->xc_reqbody.bd_chunked);
	if (!xc->xc_reqbody.bd_done)
		timer_set(&xc->xc_ev_body, wk->wk_conf.body_timeout);
	if ((ret = xc_connect(xc, xc->xc_be)) < 0) {
		if (xc_no_room(xc, ret) == 0)
			xc_reply(xc, 502, 0);
		return (STEP_GONE);
	}
	timer_set(&xc->xc_ev_timer, xc_connect_timeout(xc));
	return (STEP_MOVED);
}

/*
 * Check body bytes at the front of b: what may be sent on goes into
 * bd_ready.  A body that goes out without its chunked framing (to an
 * HTTP/1.0 client) is decoded in place, the framing squeezed out.
 * Returns -1 on a malformed chunked body.
 */
int
body_check(struct body *bd, struct buf *b)
{
	size_t	 avail, take, made;
	char	*p;
	int	 ret;

	if (bd->bd_done || b == NULL || b->b_len <= bd->bd_ready)
		return (0);
	avail = b->b_len - bd->bd_ready;
	p = b->b_data + b->b_off + bd->bd_ready;
	switch (bd->bd_framing) {
	case HTTP1_BODY_LENGTH:
		take = avail < bd->bd_left ? avail : bd->bd_left;
		bd->bd_left -= take;
		bd->bd_ready += take;
		bd->bd_done = bd->bd_left == 0;
		return (0);
	case HTTP1_BODY_CHUNKED:
		if (bd->bd_decode) {
			ret = http1_chunked_decode(&bd->bd_chunked, p, avail,
			    &take, &made);
			memmove(p + made, p + take, avail - take);
			b->b_len -= take - made;
			take = made;
		} else
			ret = http1_chunked_feed(&bd->bd_chunked, p, avail,
			    &take);
		if (ret < 0)
			return (-1);
		bd->bd_ready += take;
		bd->bd_done = ret == HTTP1_OK;
		return (0);
	case HTTP1_BODY_UNTIL_CLOSE:
		bd->bd_ready += avail;
		return (0);
	}
	bd->bd_done = 1;
	return (0);
}

/* Send checked bytes from the front of b; STEP_MOVED if some went. */
int
body_send(struct body *bd, struct buf *b, struct conn *to, uint64_t *count)
{
	ssize_t	 n;

	if (bd->bd_ready == 0)
		return (STEP_WAIT);
	n = conn_write(to, b->b_data + b->b_off, bd->bd_ready);
	if (n == CONN_WANT)
		return (STEP_WAIT);
	if (n == -1)
		return (-1);
	buf_consume(b, n);
	bd->bd_ready -= n;
	*count += n;
	return (STEP_MOVED);
}

/*
 * The exchange ends for a reason that is not the backend's: the client's
 * request (a bad or oversized body, one too slow) or the worker's own
 * lack of descriptors.  Nothing is retried and the backend's health is
 * not touched.  Before any byte of the response the client gets status;
 * after, the protocol cuts the response short.
 */
void
xc_abort(struct exchange *xc, int status, const char *why)
{
	log_limited(LOG_LIMIT_CLIENT, "%s: %d: %s", xc->xc_cl->cl_addr,
	    status, why);
	xc->xc_keepalive = 0;
	xc_reply(xc, status, 0);
}

/*
 * Whether a failed request may go to another backend under "retry
 * idempotent": its method is idempotent (RFC 9110 9.2.2), it has no
 * body (one that went cannot be sent again), nothing of the response
 * came, and it has not moved on before.
 */
static int
xc_idempotent_again(const struct exchange *xc)
{
	const struct http1_request	*req = xc->xc_req;
	const struct upstream		*up = xc->xc_up;

	if (xc->xc_sv->sv_conf.pl_retry != RETRY_IDEMPOTENT ||
	    xc->xc_moved_on > 0 || xc->xc_resp_head || xc->xc_upgrade ||
	    (up->up_in != NULL && up->up_in->b_len > 0))
		return (0);
	if (req->framing != HTTP1_BODY_NONE && !(req->framing ==
	    HTTP1_BODY_LENGTH && req->content_length == 0))
		return (0);
	switch (req->method) {
	case HTTP1_M_GET:
	case HTTP1_M_HEAD:
	case HTTP1_M_OPTIONS:
	case HTTP1_M_TRACE:
	case HTTP1_M_PUT:
	case HTTP1_M_DELETE:
		return (1);
	}
	return (0);
}

/*
 * Something went wrong with the upstream.  Before any byte of the
 * response, and while nothing of the body has gone, a reused connection
 * (it may have gone stale in the pool) is retried once on a fresh one.
 */
static void
xc_upstream_failed(struct exchange *xc, int status, const char *why)
{
	struct upstream	*up = xc->xc_up;
	int		 refused, retry, again, ret = -1;

	/* a new connection that never got through: try the next backend */
	refused = !up->up_reused && up->up_state == UP_CONNECTING;
	retry = up->up_reused && !xc->xc_retried && xc->xc_body_sent == 0 &&
	    !xc->xc_resp_head && (up->up_in == NULL || up->up_in->b_len == 0);
	again = !refused && !retry && xc_idempotent_again(xc);
	if (refused)
		backend_failed(xc->xc_be);
	else
		xc->xc_be->be_failures++;
	upstream_release(up, 0);
	xc->xc_up = NULL;
	xc->xc_uphead_sent = 0;
	if ((refused && xc->xc_sv->sv_conf.pl_retry != RETRY_NONE) || again) {
		xc->xc_moved_on += again;
		ret = xc_connect(xc, xc_repick(xc, xc->xc_be));
	} else if (retry && (xc->xc_up = upstream_get(xc->xc_be,
	    xc->xc_upname, xc_notify, xc, 1)) != NULL)
		ret = 0;
	if (ret == 0) {
		xc->xc_retried = 1;
		timer_set(&xc->xc_ev_timer, xc_connect_timeout(xc));
		return;
	}
	if (xc_no_room(xc, ret))
		return;
	log_limited(LOG_LIMIT_UPSTREAM, "%s: %s %s: %s", xc->xc_cl->cl_addr,
	    xc->xc_host, xc->xc_be->be_conf.be_host, why);
	xc->xc_keepalive = 0;
	xc_reply(xc, status, 0);
}

/* A final response head: what its body will be on the way out. */
static void
xc_response_final(struct exchange *xc, struct http1_response *resp)
{
	if (resp->framing == HTTP1_BODY_UNTIL_CLOSE)
		xc->xc_keepalive = 0;
	xc->xc_status = resp->status;
	xc->xc_resp_head = 1;
	clock_gettime(CLOCK_MONOTONIC, &xc->xc_upstream);
	wmetrics_response(xc);
	memset(&xc->xc_respbody, 0, sizeof(xc->xc_respbody));
	xc->xc_respbody.bd_framing = resp->framing;
	xc->xc_respbody.bd_left = resp->content_length;
	xc->xc_respbody.bd_done = resp->framing == HTTP1_BODY_NONE ||
	    (resp->framing == HTTP1_BODY_LENGTH && resp->content_length == 0);
	http1_chunked_init(&xc->xc_respbody.bd_chunked);
	if (resp->status == 101)
		xc_tunnel_start(xc);
}

/*
 * A WebSocket agreed (101): from here both directions are bytes until
 * either side closes, with the same bounded buffers and back-pressure
 * as bodies, and --tunnel-idle-timeout instead of the request timers.
 */
static void
xc_tunnel_start(struct exchange *xc)
{
	xc->xc_tunnel = 1;
	xc->xc_keepalive = 0;
	xc->xc_respbody.bd_framing = HTTP1_BODY_UNTIL_CLOSE;
	xc->xc_respbody.bd_done = 0;
	memset(&xc->xc_reqbody, 0, sizeof(xc->xc_reqbody));
	xc->xc_reqbody.bd_framing = HTTP1_BODY_UNTIL_CLOSE;
	timer_stop(&xc->xc_ev_body);
	timer_set(&xc->xc_ev_timer, worker_env->wk_conf.tunnel_idle_timeout);
}

/* A request is over: counted, then logged, at one reading of the clock. */
static void
xc_account(struct exchange *xc)
{
	clock_gettime(CLOCK_MONOTONIC, &xc->xc_end);
	wmetrics_request(xc);
	reply_log(xc);
}

/*
 * A tunnel is over (a side closed, or it sat idle): logged as the 101
 * it began with, then both connections close.
 */
static void
xc_tunnel_end(struct exchange *xc, const char *why)
{
	log_debug("%s: %s: WebSocket ends: %s", xc->xc_cl->cl_addr,
	    xc->xc_host, why);
	xc_account(xc);
	xc_reply(xc, 0, 0);
}

/* Bytes moved: whoever waits on them has its time again. */
void
xc_moved(struct exchange *xc)
{
	if (xc->xc_up == NULL || xc->xc_up->up_state != UP_READY)
		return;
	timer_set(&xc->xc_ev_timer, xc->xc_tunnel ?
	    worker_env->wk_conf.tunnel_idle_timeout : xc_upstream_timeout(xc));
}

/*
 * Parse the upstream's response head and hand it to the client's
 * protocol, which may refuse it as too large (a 502 then).  Interim
 * (1xx) heads go the same way; the protocol may drop them.
 */
static int
xc_response_head(struct exchange *xc)
{
	struct upstream		*up = xc->xc_up;
	struct http1_response	*resp;
	struct buf		*made = NULL;
	const char		*head;
	size_t			 headlen;
	int			 ret;

	if (xc->xc_resp == NULL &&
	    (xc->xc_resp = calloc(1, sizeof(*xc->xc_resp))) == NULL) {
		xc_abort(xc, 502, "out of memory");
		return (STEP_GONE);
	}
	resp = xc->xc_resp;
	head = up->up_in->b_data + up->up_in->b_off;
	ret = http1_parse_response(head, up->up_in->b_len,
	    xc->xc_req->method == HTTP1_M_HEAD, resp);
	if (ret == HTTP1_INCOMPLETE)
		return (STEP_WAIT);
	if (ret != HTTP1_OK || (resp->status == 101 && (!xc->xc_upgrade ||
	    !xc_websocket(head, resp->fields, resp->nfields)))) {
		xc->xc_retried = 1;
		xc_upstream_failed(xc, 502, ret != HTTP1_OK ?
		    http1_error_reason(ret) : "an upgrade not asked for");
		return (STEP_GONE);
	}
	if ((resp->flags & HTTP1_INTERIM) == 0)
		xc_response_final(xc, resp);
	headlen = resp->head_len;
	if ((resp->flags & HTTP1_INTERIM) == 0 && resp->status != 101 &&
	    rewrite_any(xc->xc_lo, HDR_RESPONSE)) {
		if ((made = xc_response_fields(xc, head, resp)) == NULL) {
			xc->xc_retried = 1;
			xc_upstream_failed(xc, 502, "response head too large "
			    "with the fields the file adds");
			return (STEP_GONE);
		}
		head = made->b_data;
	}
	ret = xc->xc_cl->cl_proto->cp_resp_head(xc, head, resp);
	buf_put(made);
	if (ret == -1)
		return (STEP_GONE);	/* the client is gone */
	if (ret == STEP_GONE) {
		xc->xc_retried = 1;
		xc_upstream_failed(xc, 502, "response head too large");
		return (STEP_GONE);
	}
	buf_consume(up->up_in, headlen);
	return (STEP_MOVED);
}

/*
 * The response head made anew with the fields the file sets, adds and
 * removes, and parsed again into resp (its framing cannot change: the
 * file may not name the fields that make it).  NULL if it does not fit.
 */
static struct buf *
xc_response_fields(struct exchange *xc, const char *head,
    struct http1_response *resp)
{
	const struct http1_field *f;
	const char		*eol;
	struct macro_env	 me;
	struct buf		*b;
	int			 i;

	if ((b = buf_get_size(resp->head_len + XC_UPHEAD_SLACK)) == NULL)
		return (NULL);
	eol = memchr(head, '\n', resp->head_len);
	if (eol == NULL || buf_append(b, head, eol + 1 - head) == -1)
		goto fail;
	for (i = 0; i < resp->nfields; i++) {
		f = &resp->fields[i];
		if (!rewrite_drops(xc->xc_lo, HDR_RESPONSE, head + f->name_off,
		    f->name_len) && buf_field(b, head + f->name_off,
		    f->name_len, head + f->value_off, f->value_len) == -1)
			goto fail;
	}
	xc_macros(xc, &me, xc->xc_path, strlen(xc->xc_path));
	if (rewrite_fields(b, xc->xc_lo, HDR_RESPONSE, &me) == -1 ||
	    APPEND_LIT(b, "\r\n") == -1 ||
	    http1_parse_response(b->b_data, b->b_len, xc->xc_req->method ==
	    HTTP1_M_HEAD, resp) != HTTP1_OK)
		goto fail;
	return (b);
 fail:
	buf_put(b);
	return (NULL);
}

/*
 * The request body from the client to the upstream.  Bytes already in
 * xc_reqin are checked before more is read, so a client that sent its
 * whole request and half-closed in one go is not taken for one that
 * left halfway: end of file after a complete request is no abort.
 */
static int
xc_request_body(struct exchange *xc)
{
	struct worker	*wk = worker_env;
	struct body	*bd = &xc->xc_reqbody;
	int		 progress = STEP_WAIT, ret, eof = 0;
	ssize_t		 n;

	for (;;) {
		if (body_check(bd, xc->xc_reqin) == -1) {
			xc_abort(xc, 400, "malformed chunked request body");
			return (STEP_GONE);
		}
		if (bd->bd_framing == HTTP1_BODY_CHUNKED &&
		    wk->wk_conf.max_body_size &&
		    bd->bd_chunked.ck_total > wk->wk_conf.max_body_size) {
			xc_abort(xc, 413, "chunked body over "
			    "--max-body-size");
			return (STEP_GONE);
		}
		ret = body_send(bd, xc->xc_reqin, &xc->xc_up->up_conn,
		    &xc->xc_body_sent);
		if (ret == -1) {
			xc_upstream_failed(xc, 502, "write failed");
			return (STEP_GONE);
		}
		if (ret == STEP_MOVED)
			progress = STEP_MOVED;
		if (bd->bd_done || eof ||
		    xc->xc_reqin->b_len >= xc->xc_reqin->b_size)
			break;
		n = xc->xc_cl->cl_proto->cp_read_body(xc);
		if (n == CONN_WANT)
			break;
		if (n == 0 || n == -1) {
			eof = 1;
			continue;	/* what came before it still counts */
		}
		xc->xc_body_read += n;
		progress = STEP_MOVED;
	}
	if (eof && !bd->bd_done && bd->bd_ready == 0) {
		if (xc->xc_tunnel) {
			xc_tunnel_end(xc, "the client closed");
			return (STEP_GONE);
		}
		log_limited(LOG_LIMIT_CLIENT, "%s: client left during its "
		    "request body", xc->xc_cl->cl_addr);
		xc_reply(xc, 0, 0);
		return (STEP_GONE);
	}
	if (bd->bd_done && bd->bd_ready == 0)
		timer_stop(&xc->xc_ev_body);
	return (progress);
}

/* The upstream connected (and shook hands): time for the response. */
static int
xc_upstream_ready(struct exchange *xc)
{
	struct upstream	*up = xc->xc_up;
	int		 ret;

	if ((ret = upstream_ready(up)) == 0)
		return (STEP_WAIT);
	if (ret == -1) {
		xc_upstream_failed(xc, 502, up->up_state == UP_HANDSHAKE ?
		    "TLS handshake failed" : strerror(errno));
		return (STEP_GONE);
	}
	backend_ok(xc->xc_be);
	timer_set(&xc->xc_ev_timer, xc_upstream_timeout(xc));
	return (STEP_MOVED);
}

/* The request head, then its body, to the upstream. */
static int
xc_request(struct exchange *xc)
{
	struct upstream	*up = xc->xc_up;
	ssize_t		 n;
	int		 progress = STEP_WAIT;

	if (xc->xc_uphead_sent < xc->xc_uphead->b_len) {
		n = conn_write(&up->up_conn, xc->xc_uphead->b_data +
		    xc->xc_uphead_sent, xc->xc_uphead->b_len -
		    xc->xc_uphead_sent);
		if (n == -1) {
			xc_upstream_failed(xc, 502, "write failed");
			return (STEP_GONE);
		}
		if (n > 0) {
			xc->xc_uphead_sent += n;
			progress = STEP_MOVED;
		}
	}
	if (xc->xc_uphead_sent < xc->xc_uphead->b_len)
		return (progress);
	n = xc_request_body(xc);
	return (n == STEP_WAIT ? progress : n);
}

/* The response from the upstream: read, heads parsed, body checked. */
static int
xc_response(struct exchange *xc)
{
	struct upstream	*up = xc->xc_up;
	int		 progress = STEP_WAIT, ret;
	ssize_t		 n;

	if (up->up_in == NULL && (up->up_in = buf_get()) == NULL) {
		xc_abort(xc, 503, "out of memory");
		return (STEP_GONE);
	}
	if (!xc->xc_respbody.bd_done || !xc->xc_resp_head) {
		n = conn_read(&up->up_conn, up->up_in);
		if (n == -1 || (n == 0 && !(xc->xc_resp_head &&
		    xc->xc_respbody.bd_framing == HTTP1_BODY_UNTIL_CLOSE))) {
			xc_upstream_failed(xc, 502, n == 0 ?
			    "upstream closed" : "upstream read failed");
			return (STEP_GONE);
		}
		if (n == 0)
			xc->xc_respbody.bd_done = 1;
		if (n > 0)
			progress = STEP_MOVED;
	}
	while (!xc->xc_resp_head && up->up_in->b_len > 0) {
		if ((ret = xc_response_head(xc)) == STEP_WAIT)
			break;
		if (ret == STEP_GONE)
			return (STEP_GONE);
		progress = STEP_MOVED;
	}
	if (xc->xc_resp_head &&
	    body_check(&xc->xc_respbody, up->up_in) == -1) {
		log_limited(LOG_LIMIT_UPSTREAM, "%s: %s: malformed chunked "
		    "response body", xc->xc_cl->cl_addr,
		    xc->xc_be->be_conf.be_host);
		xc->xc_keepalive = 0;
		xc_reply(xc, 502, 0);
		return (STEP_GONE);
	}
	return (progress);
}

/*
 * One step of both directions.  STEP_GONE: the exchange is over (and
 * freed) or its upstream changed; the pump looks again.
 */
int
xc_step(struct exchange *xc)
{
	struct upstream	*up = xc->xc_up;
	int		 progress = STEP_WAIT, ret;

	if (up->up_state != UP_READY) {
		if ((ret = xc_upstream_ready(xc)) != STEP_MOVED)
			return (ret);
		progress = STEP_MOVED;
	}
	if (xc->xc_continue) {
		xc->xc_continue = 0;
		if (xc->xc_cl->cl_proto->cp_continue(xc) == -1)
			return (STEP_GONE);
	}
	if ((ret = xc_request(xc)) == STEP_GONE)
		return (STEP_GONE);
	progress |= ret;
	if ((ret = xc_response(xc)) == STEP_GONE)
		return (STEP_GONE);
	if ((ret = xc->xc_cl->cl_proto->cp_resp_body(xc)) == -1)
		return (STEP_GONE);
	return (progress | ret);
}

/*
 * Is the response through?  Then the upstream is pooled (if clean) and
 * the protocol told; the exchange is freed.  Returns STEP_GONE then.
 */
int
xc_finish(struct exchange *xc)
{
	struct upstream	*up = xc->xc_up;
	int		 reuse;

	if (up == NULL || !xc->xc_resp_head || !xc->xc_respbody.bd_done ||
	    xc->xc_respbody.bd_ready > 0)
		return (STEP_WAIT);
	reuse = xc->xc_reqbody.bd_done && xc->xc_reqbody.bd_ready == 0 &&
	    (xc->xc_resp->flags & HTTP1_KEEP_ALIVE) &&
	    up->up_in->b_len == 0;
	if (!xc->xc_reqbody.bd_done || xc->xc_reqbody.bd_ready > 0)
		xc->xc_keepalive = 0;	/* answered before it was all sent */
	xc_account(xc);
	upstream_release(up, reuse);
	xc->xc_up = NULL;
	xc->xc_cl->cl_proto->cp_done(xc, 0);
	return (STEP_GONE);
}

/*
 * A reply of portero's own: an error, or the redirect of the cleartext
 * listener.  keep: the client may go on after it.  Status 0, or any
 * after a response head has gone: the protocol cuts the response short
 * (HTTP/1.1 closes the connection), and nothing is logged.  The
 * exchange is freed either way.
 */
void
xc_reply(struct exchange *xc, int status, int keep)
{
	struct client	*cl = xc->xc_cl;

	if (xc->xc_up != NULL) {
		upstream_release(xc->xc_up, 0);
		xc->xc_up = NULL;
	}
	buf_put(xc->xc_uphead);
	xc->xc_uphead = NULL;
	timer_stop(&xc->xc_ev_timer);
	timer_stop(&xc->xc_ev_body);
	/* cut short: counted with the status of the head that went */
	if (xc->xc_resp_head) {
		clock_gettime(CLOCK_MONOTONIC, &xc->xc_end);
		wmetrics_request(xc);
		status = 0;
	}
	xc->xc_status = status;
	xc->xc_keepalive = keep && xc->xc_keepalive;
	/* -1: the client is gone, and the exchange with it */
	if (cl->cl_proto->cp_reply(xc, status, xc->xc_keepalive) == -1)
		return;
	xc_account(xc);
	cl->cl_proto->cp_done(xc, 1);
}

/* Socket news from the upstream: the client's pump moves it. */
static void
xc_notify(void *arg)
{
	struct exchange	*xc = arg;
	struct client	*cl = xc->xc_cl;

	if (cl->cl_proto->cp_wake(xc) == 0)
		proxy_pump(cl);
}

/* Retry-After for a reply: the service's rest, when none is up. */
unsigned int
xc_retry_after(const struct exchange *xc, int status)
{
	if (status != 503)
		return (0);
	return (xc->xc_sv != NULL && xc->xc_be == NULL ?
	    backend_retry_after(xc->xc_sv) : 1);
}

/*
 * A Set-Cookie value for the final response, in buf: the pool's sticky
 * cookie naming the backend that answered, when the request's did not.
 * Its length, or 0 for none.
 */
size_t
xc_setcookie(const struct exchange *xc, char *buf, size_t size)
{
	if (xc->xc_sv == NULL)
		return (0);
	return (balance_setcookie(xc->xc_sv, xc->xc_be, &xc->xc_pick,
	    xc->xc_cl->cl_conn.c_tls != NULL, buf, size));
}

static void
xc_timer(int fd, short event, void *arg)
{
	struct exchange	*xc = arg;
	struct client	*cl = xc->xc_cl;

	if (xc->xc_tunnel)
		xc_tunnel_end(xc, "idle for --tunnel-idle-timeout");
	else if (xc->xc_up != NULL && xc->xc_up->up_state != UP_READY) {
		xc->xc_retried = 1;
		xc_upstream_failed(xc, 502, "connect timeout");
	} else if (!xc->xc_resp_head) {
		xc->xc_retried = 1;
		if (xc->xc_up != NULL)
			xc_upstream_failed(xc, 504, "response timeout");
		else
			xc_reply(xc, 504, 0);
	} else {
		log_limited(LOG_LIMIT_UPSTREAM, "%s: %s: upstream stalled",
		    cl->cl_addr, xc->xc_host);
		xc->xc_keepalive = 0;
		xc_reply(xc, 504, 0);
	}
	proxy_pump(cl);
}

/*
 * Every --body-timeout seconds: did the request body move on by at
 * least BODY_MIN_RATE bytes a second?  A client whose bytes wait in a
 * full buffer (the backend not reading) is not the slow one.
 */
static void
xc_body_timer(int fd, short event, void *arg)
{
	struct exchange	*xc = arg;
	struct client	*cl = xc->xc_cl;
	uint64_t	 want;

	if (xc->xc_reqbody.bd_done || xc->xc_tunnel)
		return;
	want = (uint64_t)worker_env->wk_conf.body_timeout * BODY_MIN_RATE;
	if (xc->xc_body_read - xc->xc_body_mark >= want ||
	    xc->xc_reqin->b_len >= xc->xc_reqin->b_size / 2) {
		xc->xc_body_mark = xc->xc_body_read;
		timer_set(&xc->xc_ev_body, worker_env->wk_conf.body_timeout);
		return;
	}
	xc_abort(xc, 408, "request body too slow");
	proxy_pump(cl);
}
