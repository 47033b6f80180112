/*
 * realip.c: who the client is: a PROXY protocol header, read before
 * anything else from a sender a listener trusts, and the chain of
 * addresses that trusted forwarders send with each request.
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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"
#include "http1.h"
#include "proxyproto.h"

/*
 * The hops of a forwarders' chain looked at, from its right end: more
 * trusted hops than that in a row are not walked past.
 */
#define REALIP_HOPS	32

struct realip_hop {
	uint8_t		 rh_family;	/* AF_UNSPEC: not an address */
	uint8_t		 rh_addr[16];
};

/* The chain of one request, its last REALIP_HOPS hops in a ring. */
struct realip_chain {
	struct realip_hop	 rc_hops[REALIP_HOPS];
	unsigned int		 rc_n;		/* hops seen, in all */
};

/*
 * An IPv4 address in IPv6 clothing (a dual-stack listener's peers,
 * "::ffff:192.0.2.1") is taken for the IPv4 one, so that one list entry
 * covers both.
 */
static void
realip_set(uint8_t *family, uint8_t *addr, int af, const void *src)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	memset(addr, 0, 16);
	if (af == AF_INET6 && memcmp(src, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		memcpy(addr, (const uint8_t *)src + 12, 4);
	} else if (af == AF_INET || af == AF_INET6) {
		*family = af;
		memcpy(addr, src, af == AF_INET ? 4 : 16);
	} else
		*family = AF_UNSPEC;
}

/* The peer's address, as accept gave it, for the lists. */
void
realip_peer(struct client *cl, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		realip_set(&cl->cl_family, cl->cl_ip, AF_INET,
		    &((const struct sockaddr_in *)ss)->sin_addr);
	else if (ss->ss_family == AF_INET6)
		realip_set(&cl->cl_family, cl->cl_ip, AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	else
		cl->cl_family = AF_UNSPEC;
}

/* Whether the address is in one of the networks of a list of the set. */
int
realip_trusts(const struct conf_set *set, uint32_t list, int family,
    const uint8_t *addr)
{
	const struct net_conf	*nc;
	uint32_t		 i;

	for (i = 0; set != NULL && i < set->cs_nnets; i++) {
		nc = &set->cs_nets[i];
		if (nc->nc_list == (uint32_t)list &&
		    config_net_has(&nc->nc_net, family, addr))
			return (1);
	}
	return (0);
}

static const struct conf_set *
realip_set_now(void)
{
	struct route_table	*rt = worker_env->wk_routes;

	return (rt != NULL ? rt->rt_set : NULL);
}

/* Whether the set has a list for that. */
static int
realip_has_list(const struct conf_set *set, uint32_t list)
{
	uint32_t	 i;

	for (i = 0; set != NULL && i < set->cs_nnets; i++)
		if (set->cs_nets[i].nc_list == (uint32_t)list)
			return (1);
	return (0);
}

/*
 * A new connection: on a listener that takes the PROXY protocol it
 * waits for the header (within --handshake-timeout), if its peer may
 * send one at all.  -1: it may not, and is to be closed.
 */
int
realip_accept(struct client *cl)
{
	const struct conf_set	*set = realip_set_now();
	uint32_t		 list = NET_PROXY + cl->cl_listener;

	if (!realip_has_list(set, list))
		return (0);
	if (!realip_trusts(set, list, cl->cl_family, cl->cl_ip)) {
		log_limited(LOG_LIMIT_CLIENT, "%s: not allowed to send the "
		    "PROXY protocol: closed", cl->cl_addr);
		return (-1);
	}
	cl->cl_state = CL_PROXYHDR;
	timer_set(&cl->cl_ev_timer, worker_env->wk_conf.handshake_timeout);
	return (0);
}

/* The header is taken: its address is the client's from now on. */
static void
realip_header_done(struct client *cl, const struct proxyproto *pp)
{
	struct worker	*wk = worker_env;

	if (pp->pp_family != AF_UNSPEC) {
		realip_set(&cl->cl_family, cl->cl_ip, pp->pp_family,
		    pp->pp_src);
		if (inet_ntop(cl->cl_family, cl->cl_ip, cl->cl_addr,
		    sizeof(cl->cl_addr)) == NULL)
			(void)strlcpy(cl->cl_addr, "?", sizeof(cl->cl_addr));
	}
	if (cl->cl_conn.c_tls != NULL)
		cl->cl_state = CL_HANDSHAKE;	/* on the same deadline */
	else {
		cl->cl_state = CL_IDLE;
		timer_set(&cl->cl_ev_timer, wk->wk_conf.idle_timeout);
	}
}

static int
realip_refuse(struct client *cl, const char *why)
{
	log_limited(LOG_LIMIT_CLIENT, "%s: PROXY protocol: %s: closed",
	    cl->cl_addr, why);
	proxy_close(cl);
	return (STEP_WAIT);
}

/*
 * Read the PROXY header, and not a byte more: what follows is the
 * client's TLS or HTTP, which the TLS library reads from the socket
 * itself.  So the header is looked at in place (MSG_PEEK) and only
 * taken once whole.  A header that is not whole waits for more bytes,
 * which come with an edge of their own.
 */
int
realip_header(struct client *cl)
{
	struct proxyproto	 pp;
	char			 buf[PROXYPROTO_MAX];
	ssize_t			 n, len;

	n = recv(cl->cl_conn.c_fd, buf, sizeof(buf), MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (STEP_WAIT);
	if (n == -1)
		return (realip_refuse(cl, strerror(errno)));
	if (n == 0)
		return (realip_refuse(cl, "closed before a whole header"));
	len = proxyproto_parse(buf, n, &pp);
	if (len == PROXYPROTO_ERROR)
		return (realip_refuse(cl, pp.pp_why));
	if (len == PROXYPROTO_NEED_MORE) {
		/* after the peer's FIN no more bytes come */
		if (cl->cl_conn.c_rdhup)
			return (realip_refuse(cl, "closed before a whole "
			    "header"));
		return (STEP_WAIT);
	}
	if (recv(cl->cl_conn.c_fd, buf, len, 0) != len)
		return (realip_refuse(cl, "the header could not be taken"));
	realip_header_done(cl, &pp);
	return (STEP_MOVED);
}

/*
 * An address as a chain has it: IPv4 or IPv6, bare or, as RFC 7239
 * writes them, quoted, an IPv6 one in brackets, either with a port.
 */
static void
realip_hop_parse(const char *s, size_t len, struct realip_hop *hop)
{
	char		 buf[INET6_ADDRSTRLEN];
	uint8_t		 addr[16];
	const char	*end, *colon;

	hop->rh_family = AF_UNSPEC;
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	}
	if (len > 0 && s[0] == '[') {
		if ((end = memchr(s, ']', len)) == NULL || (end + 1 < s + len &&
		    end[1] != ':'))
			return;
		s++;
		len = end - s;
	} else if ((colon = memchr(s, ':', len)) != NULL &&
	    memchr(colon + 1, ':', s + len - colon - 1) == NULL)
		len = colon - s;	/* IPv4 with a port */
	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		realip_set(&hop->rh_family, hop->rh_addr, AF_INET, addr);
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		realip_set(&hop->rh_family, hop->rh_addr, AF_INET6, addr);
}

/* The length of s up to sep or its end, a quoted string skipped whole. */
static size_t
realip_span(const char *s, size_t len, char sep)
{
	size_t	 i;
	int	 quoted = 0;

	for (i = 0; i < len; i++) {
		if (quoted && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == sep)
			break;
	}
	return (i < len ? i : len);
}

static void
realip_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* An RFC 7239 element: the value of its "for" parameter, if any. */
static void
realip_forwarded_for(const char *s, size_t len, struct realip_hop *hop)
{
	const char	*p;
	size_t		 n;

	hop->rh_family = AF_UNSPEC;
	while (len > 0) {
		n = realip_span(s, len, ';');
		p = s;
		realip_trim(&p, &n);
		if (n > 4 && http1_caseeq(p, 4, "for=", 4)) {
			realip_hop_parse(p + 4, n - 4, hop);
			return;
		}
		if (n == len)
			break;
		s += n + 1;
		len -= n + 1;
	}
}

/* The hops of one field value, left to right, into the chain. */
static void
realip_field(struct realip_chain *rc, int field, const char *s, size_t len)
{
	struct realip_hop	*hop;
	const char		*p;
	size_t			 n;

	do {
		n = realip_span(s, len, field == FWD_FIELD_REAL_IP ? '\0' :
		    ',');
		p = s;
		realip_trim(&p, &n);
		hop = &rc->rc_hops[rc->rc_n++ % REALIP_HOPS];
		if (field == FWD_FIELD_FORWARDED)
			realip_forwarded_for(p, n, hop);
		else
			realip_hop_parse(p, n, hop);
		s += n;
		len -= n;
		if (len > 0) {	/* the separator */
			s++;
			len--;
		}
	} while (len > 0);
}

/*
 * The client of a request that came through trusted forwarders: walking
 * their chain from its right end, the first address not itself a
 * trusted forwarder (as nginx's real_ip_recursive).  Where the chain
 * ends, or holds something that is not an address, the last one walked.
 */
static const struct realip_hop *
realip_walk(const struct conf_set *set, const struct realip_chain *rc)
{
	const struct realip_hop	*hop, *real = NULL;
	unsigned int		 i, n;

	n = rc->rc_n < REALIP_HOPS ? rc->rc_n : REALIP_HOPS;
	for (i = 0; i < n; i++) {
		hop = &rc->rc_hops[(rc->rc_n - 1 - i) % REALIP_HOPS];
		if (hop->rh_family == AF_UNSPEC)
			break;
		real = hop;
		if (!realip_trusts(set, NET_FORWARDERS, hop->rh_family,
		    hop->rh_addr))
			break;
	}
	return (real);
}

/*
 * A request whose head is whole: its client is the connection's, or,
 * when the connection is from a trusted forwarder, the one its chain
 * names.  Nothing is done for a connection from anyone else.
 */
void
realip_request(struct exchange *xc, const char *head)
{
	const struct conf_set		*set = realip_set_now();
	struct client			*cl = xc->xc_cl;
	const struct http1_request	*req = xc->xc_req;
	const struct http1_field	*f;
	const struct realip_hop		*real;
	struct realip_chain		 rc;
	int				 i, id, field;

	if (set == NULL || set->cs_nnets == 0 || cl->cl_family == AF_UNSPEC ||
	    !realip_trusts(set, NET_FORWARDERS, cl->cl_family, cl->cl_ip))
		return;
	xc->xc_trusted = 1;
	field = worker_env->wk_conf.forwarders_field;
	id = field == FWD_FIELD_FORWARDED ? HTTP1_H_FORWARDED :
	    field == FWD_FIELD_REAL_IP ? HTTP1_H_X_REAL_IP :
	    HTTP1_H_X_FORWARDED_FOR;
	rc.rc_n = 0;
	for (i = 0; i < req->nfields; i++) {
		f = &req->fields[i];
		if (f->id == id)
			realip_field(&rc, field, head + f->value_off,
			    f->value_len);
	}
	if ((real = realip_walk(set, &rc)) == NULL ||
	    inet_ntop(real->rh_family, real->rh_addr, xc->xc_realaddr,
	    sizeof(xc->xc_realaddr)) == NULL)
		return;
	xc->xc_addr = xc->xc_realaddr;
}
