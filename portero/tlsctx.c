/*
 * tlsctx.c: a worker's TLS server contexts: one made from each whole
 * certificate set the certloader sends (taking over what did not change
 * from the set in service), swapped in at once, freed when the last
 * connection that uses it lets go.
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

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

#define TLSCTX_ALPN		"h2,http/1.1"
#define TLSCTX_ALPN_H1		"http/1.1"	/* --no-h2 */

/* The names one certificate is good for, to answer tlsctx_host_ok(). */
struct tlsctx_pair {
	char		*tp_names;	/* NUL-terminated, back to back */
	size_t		 tp_nameslen;
};

struct tlsctx {
	struct ptls_server	*tc_server;
	unsigned int		 tc_refs;
	struct tlsctx_pair	*tc_pairs;	/* [0] is the default */
	unsigned int		 tc_npairs;
};

/* One pair of a set being received: names, cert PEM, key PEM. */
struct tlsctx_in {
	char		 ti_domain[NAME_MAX_LEN];
	unsigned char	*ti_buf;
	size_t		 ti_nameslen;
	size_t		 ti_certlen;
	size_t		 ti_keylen;
	size_t		 ti_ocsplen;	/* 0: no staple */
	size_t		 ti_len;	/* the sum of the four */
	size_t		 ti_off;	/* received so far */
};

struct tlsctx_state {
	struct tlsctx		*ts_current;
	struct tlsctx_in	*ts_in;		/* the set being received */
	unsigned int		 ts_nin;
	size_t			 ts_inbytes;
	struct cert_begin	 ts_begin;	/* its announcement; a
						   cb_transfer of 0: none */
	struct cert_ack		 ts_ack;	/* its messages so far */
	int			 ts_ours;	/* the last message was */
	struct ticket_key_msg	 ts_keys[2];	/* newest, previous */
	int			 ts_havekeys;
	unsigned int		 ts_rotate;	/* --tls-ticket-rotate */
	char			 ts_ciphers[TLS_LIST_MAX];
	char			 ts_ciphersuites[TLS_LIST_MAX];
	char			 ts_groups[TLS_LIST_MAX];
	int			 ts_no_h2;
	ptls_auth_fn		 ts_auth;	/* client certificates */
};

/* This worker's contexts. */
static struct tlsctx_state	 ts;

static void	 tlsctx_in_clear(void);
static struct tlsctx *tlsctx_build(char *, size_t);
static void	 tlsctx_free(struct tlsctx *);
static void	 tlsctx_swap(struct tlsctx *);
static void	 tlsctx_lists(struct ptls_params *, const char *,
		    const char *, const char *);

/*
 * Before the sandbox: the library sets libssl up, which reads
 * openssl.cnf once.  Nothing else is read from disk, ever: certificates
 * come by message, the default first (the certloader orders the set and
 * applies --default-sni).
 */
void
tlsctx_init(const struct portero_config *conf)
{
	if (ptls_init() == -1)
		fatalx("TLS (%s) cannot be set up", ptls_library());
	tlsctx_config(conf);
}

/*
 * The settings sets built from now on take.  The lists change only on
 * restart (the parent keeps them at a reload), so the set in service
 * always has the ones here.
 */
void
tlsctx_config(const struct portero_config *conf)
{
	ts.ts_rotate = conf->tls_ticket_rotate;
	ts.ts_no_h2 = conf->no_h2;
	(void)strlcpy(ts.ts_ciphers, conf->tls_ciphers,
	    sizeof(ts.ts_ciphers));
	(void)strlcpy(ts.ts_ciphersuites, conf->tls_ciphersuites,
	    sizeof(ts.ts_ciphersuites));
	(void)strlcpy(ts.ts_groups, conf->tls_groups, sizeof(ts.ts_groups));
}

/*
 * How sets built from now on find a name's client-certificate policy:
 * the worker's routes, which this file does not know.
 */
void
tlsctx_auth(ptls_auth_fn fn)
{
	ts.ts_auth = fn;
}

/*
 * IMSG_CERT_BEGIN: a new set; whatever part of another one came is
 * dropped.  Each message of the set is counted, for the certloader's
 * window (tlsctx_cert_progress()).  Room for its pairs is made now
 * (config_getcertbegin() bounds their number), so that no CERT_ADD
 * copies the ones before it.
 */
int
tlsctx_cert_begin(const struct cert_begin *cb)
{
	if (cb->cb_transfer == 0)
		return (-1);
	tlsctx_in_clear();
	if (cb->cb_npairs > 0 && (ts.ts_in = calloc(cb->cb_npairs,
	    sizeof(*ts.ts_in))) == NULL)
		fatal("certificate set");
	ts.ts_begin = *cb;
	ts.ts_ack.ca_transfer = cb->cb_transfer;
	ts.ts_ack.ca_count = 1;
	ts.ts_ours = 1;
	return (0);
}

/*
 * Whether a message is of the set being received: messages before its
 * CERT_BEGIN are a predecessor's, left in the channel, and ignored.
 */
static int
tlsctx_cert_ours(void)
{
	ts.ts_ours = ts.ts_begin.cb_transfer != 0;
	if (ts.ts_ours)
		ts.ts_ack.ca_count++;
	return (ts.ts_ours);
}

/* What to acknowledge for the last message, or -1 if nothing. */
int
tlsctx_cert_progress(struct cert_ack *ca)
{
	if (!ts.ts_ours)
		return (-1);
	*ca = ts.ts_ack;
	return (0);
}

/* IMSG_CERT_ADD: one more pair of the set, its header checked already. */
int
tlsctx_cert_add(const struct cert_msg *cm)
{
	struct tlsctx_in	*in;
	size_t			 len;

	if (!tlsctx_cert_ours())
		return (0);
	/* the previous pair must be whole */
	if (ts.ts_nin > 0 &&
	    ts.ts_in[ts.ts_nin - 1].ti_off != ts.ts_in[ts.ts_nin - 1].ti_len)
		return (-1);
	len = (size_t)cm->cm_names_len + cm->cm_cert_len + cm->cm_key_len +
	    cm->cm_ocsp_len;
	if (ts.ts_nin >= ts.ts_begin.cb_npairs ||
	    len > ts.ts_begin.cb_bytes - ts.ts_inbytes)
		return (-1);

	in = &ts.ts_in[ts.ts_nin];
	memset(in, 0, sizeof(*in));
	if ((in->ti_buf = malloc(len)) == NULL)
		fatal("certificate set");
	(void)strlcpy(in->ti_domain, cm->cm_domain, sizeof(in->ti_domain));
	in->ti_nameslen = cm->cm_names_len;
	in->ti_certlen = cm->cm_cert_len;
	in->ti_keylen = cm->cm_key_len;
	in->ti_ocsplen = cm->cm_ocsp_len;
	in->ti_len = len;
	ts.ts_nin++;
	ts.ts_inbytes += len;
	return (0);
}

/* IMSG_CERT_DATA: the next bytes of the current pair, never more. */
int
tlsctx_cert_data(const void *data, size_t len)
{
	struct tlsctx_in	*in;
	unsigned int		 count;

	if (!tlsctx_cert_ours())
		return (0);
	if (ts.ts_nin == 0)
		return (-1);
	in = &ts.ts_in[ts.ts_nin - 1];
	if (len == 0 || len > in->ti_len - in->ti_off)
		return (-1);
	memcpy(in->ti_buf + in->ti_off, data, len);
	in->ti_off += len;
	if (in->ti_off == in->ti_len &&
	    certs_names_check((char *)in->ti_buf, in->ti_nameslen,
	    &count) == -1)
		return (-1);
	return (0);
}

/*
 * IMSG_CERT_END: the set is whole.  Build its context and swap it in;
 * if libtls refuses it, the one in service stays.  An empty set means
 * no certificates at all.
 */
int
tlsctx_cert_end(void)
{
	struct tlsctx	*tc;
	struct timespec	 t0, t1;
	char		 err[CERT_ERROR_LEN];

	if (!tlsctx_cert_ours())
		return (0);
	ts.ts_begin.cb_transfer = 0;	/* the set ends here */
	if (ts.ts_nin != ts.ts_begin.cb_npairs ||
	    ts.ts_inbytes != ts.ts_begin.cb_bytes ||
	    (ts.ts_nin > 0 &&
	    ts.ts_in[ts.ts_nin - 1].ti_off != ts.ts_in[ts.ts_nin - 1].ti_len))
		return (-1);
	if (ts.ts_nin == 0) {
		if (ts.ts_current != NULL)
			log_info("no certificates left: TLS connections are "
			    "refused");
		tlsctx_swap(NULL);
		return (0);
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((tc = tlsctx_build(err, sizeof(err))) == NULL)
		log_warnx("new certificate set refused: %s; keeping the "
		    "certificates in service", err);
	else {
		(void)clock_gettime(CLOCK_MONOTONIC, &t1);
		log_debug("certificate set in service: %u domains (%u "
		    "contexts built), default %s, in %lld ms", tc->tc_npairs,
		    ptls_server_built(tc->tc_server), ts.ts_in[0].ti_domain,
		    (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
		tlsctx_swap(tc);
	}
	tlsctx_in_clear();
	return (0);
}

static void
tlsctx_in_clear(void)
{
	unsigned int	 i;

	for (i = 0; i < ts.ts_nin; i++)
		freezero(ts.ts_in[i].ti_buf, ts.ts_in[i].ti_len);
	free(ts.ts_in);
	ts.ts_in = NULL;
	ts.ts_nin = 0;
	ts.ts_inbytes = 0;
}

/*
 * The set's server context (TLS 1.2 and 1.3, ALPN http/1.1); its first
 * pair is the default, for clients without SNI or with a name no
 * certificate has.  The names stay here, for tlsctx_host_ok().
 */
static struct tlsctx *
tlsctx_build(char *err, size_t errlen)
{
	struct tlsctx		*tc;
	struct tlsctx_in	*in;
	struct ptls_pair	*pp = NULL;
	struct ptls_params	 pr;
	unsigned int		 i;

	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->tc_pairs = calloc(ts.ts_nin, sizeof(*tc->tc_pairs))) ==
	    NULL || (pp = calloc(ts.ts_nin, sizeof(*pp))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	tc->tc_refs = 1;
	for (i = 0; i < ts.ts_nin; i++) {
		in = &ts.ts_in[i];
		pp[i].pp_names = (const char *)in->ti_buf;
		pp[i].pp_nameslen = in->ti_nameslen;
		pp[i].pp_cert = in->ti_buf + in->ti_nameslen;
		pp[i].pp_certlen = in->ti_certlen;
		pp[i].pp_key = pp[i].pp_cert + in->ti_certlen;
		pp[i].pp_keylen = in->ti_keylen;
		pp[i].pp_ocsp = pp[i].pp_key + in->ti_keylen;
		pp[i].pp_ocsplen = in->ti_ocsplen;
		pp[i].pp_domain = in->ti_domain;
		if ((tc->tc_pairs[i].tp_names = malloc(in->ti_nameslen)) ==
		    NULL) {
			(void)snprintf(err, errlen, "out of memory");
			goto fail;
		}
		memcpy(tc->tc_pairs[i].tp_names, in->ti_buf, in->ti_nameslen);
		tc->tc_pairs[i].tp_nameslen = in->ti_nameslen;
		tc->tc_npairs++;
	}
	memset(&pr, 0, sizeof(pr));
	pr.pr_alpn = ts.ts_no_h2 ? TLSCTX_ALPN_H1 : TLSCTX_ALPN;
	tlsctx_lists(&pr, ts.ts_ciphers, ts.ts_ciphersuites, ts.ts_groups);
	/* a ticket stays good while its key is newest or previous */
	pr.pr_lifetime = 2 * ts.ts_rotate;
	pr.pr_keys = ts.ts_havekeys ? ts.ts_keys : NULL;
	pr.pr_auth = ts.ts_auth;
	/* the certificates that did not change are taken over */
	pr.pr_prev = ts.ts_current != NULL ? ts.ts_current->tc_server : NULL;
	if ((tc->tc_server = ptls_server_new(pp, ts.ts_nin, &pr, err,
	    errlen)) == NULL)
		goto fail;
	free(pp);
	return (tc);
 fail:
	free(pp);
	if (tc != NULL)
		tlsctx_free(tc);
	return (NULL);
}

/*
 * IMSG_TLS_TICKET_KEY: keep the newest two.  A newer key also goes to
 * the context in service; an older one, which a restarted worker may
 * get after the newest, is kept for contexts built later.
 */
void
tlsctx_ticket_key(const struct ticket_key_msg *tk)
{
	if (tk->tk_rev == 0)
		return;
	if (tk->tk_rev == ts.ts_keys[0].tk_rev ||
	    tk->tk_rev == ts.ts_keys[1].tk_rev)
		return;		/* had it */
	if (ts.ts_keys[0].tk_rev == 0 || tk->tk_rev > ts.ts_keys[0].tk_rev) {
		ts.ts_keys[1] = ts.ts_keys[0];
		ts.ts_keys[0] = *tk;
		ts.ts_havekeys = 1;
		if (ts.ts_current != NULL && ptls_server_ticket_keys(
		    ts.ts_current->tc_server, ts.ts_keys) == -1)
			log_warnx("ticket key %u refused", tk->tk_rev);
	} else if (tk->tk_rev > ts.ts_keys[1].tk_rev)
		ts.ts_keys[1] = *tk;
}

/* The context new connections take; NULL while there are no certs. */
struct tlsctx *
tlsctx_current(void)
{
	return (ts.ts_current);
}

/*
 * A connection holds a reference from accept until it closes: the
 * library's SNI and ALPN callbacks use the server context during the
 * handshake, and tlsctx_host_ok() its names after.
 */
void
tlsctx_ref(struct tlsctx *tc)
{
	tc->tc_refs++;
}

void
tlsctx_unref(struct tlsctx *tc)
{
	if (tc == NULL)
		return;
	if (tc->tc_refs == 0)
		fatalx("tlsctx reference count underflow");
	if (--tc->tc_refs == 0)
		tlsctx_free(tc);
}

struct ptls *
tlsctx_accept(struct tlsctx *tc, int fd)
{
	return (ptls_accept(tc->tc_server, fd));
}

static void
tlsctx_swap(struct tlsctx *tc)
{
	struct tlsctx	*old = ts.ts_current;

	ts.ts_current = tc;
	tlsctx_unref(old);
}

static void
tlsctx_free(struct tlsctx *tc)
{
	unsigned int	 i;

	ptls_server_free(tc->tc_server);
	if (tc->tc_pairs != NULL)
		for (i = 0; i < tc->tc_npairs; i++)
			free(tc->tc_pairs[i].tp_names);
	free(tc->tc_pairs);
	free(tc);
}

/*
 * For 421 Misdirected Request: may this connection carry a request for
 * host?  Only if the certificate it got covers host, when the client
 * asked for a name.  Without SNI nothing was promised (a client that
 * connects by address sends none), so its requests are routed by Host,
 * as nginx does.  host comes without a port, in any case.
 */
int
tlsctx_host_ok(struct tlsctx *tc, struct ptls *p, const char *host,
    size_t hostlen)
{
	int	 pick;

	if (tc == NULL || hostlen == 0 || (pick = ptls_pair_index(p)) < 0 ||
	    (unsigned int)pick >= tc->tc_npairs)
		return (0);
	if (ptls_servername(p) == NULL)
		return (1);
	return (certs_names_cover_host(tc->tc_pairs[pick].tp_names,
	    tc->tc_pairs[pick].tp_nameslen, host, hostlen));
}

/* The flags' TLS lists as a server's settings: "" is the default. */
static void
tlsctx_lists(struct ptls_params *pr, const char *ciphers,
    const char *suites, const char *groups)
{
	pr->pr_ciphers = ciphers[0] != '\0' ? ciphers : NULL;
	pr->pr_ciphersuites = suites[0] != '\0' ? suites : NULL;
	pr->pr_groups = groups[0] != '\0' ? groups : NULL;
}

/*
 * In the parent, at start, for -n and before a reload: are the flags'
 * TLS lists good, as the library of this build reads them?
 */
int
tlsctx_check(const struct portero_config *conf)
{
	struct ptls_params	 pr;
	char			 err[256];

	memset(&pr, 0, sizeof(pr));
	tlsctx_lists(&pr, conf->tls_ciphers, conf->tls_ciphersuites,
	    conf->tls_groups);
	pr.pr_alpn = conf->no_h2 ? TLSCTX_ALPN_H1 : TLSCTX_ALPN;
	if (ptls_params_check(&pr, err, sizeof(err)) == -1) {
		log_warnx("TLS settings (%s): %s", ptls_library(), err);
		return (-1);
	}
	return (0);
}
