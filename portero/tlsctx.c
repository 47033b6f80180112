/*
 * tlsctx.c: a worker's TLS server contexts: one built from each whole
 * certificate set the certloader sends, swapped in at once, freed when
 * the last connection that uses it lets go.
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

#include <stdlib.h>
#include <string.h>
#include <tls.h>

#include "portero.h"


#define TLSCTX_PROTOCOLS	(TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3)
#define TLSCTX_CIPHERS		"secure"
#define TLSCTX_ALPN		"http/1.1"

/* The names one certificate is good for, to answer tlsctx_host_ok(). */
struct tlsctx_pair {
	char		*tp_names;	/* NUL-terminated, back to back */
	size_t		 tp_nameslen;
};

struct tlsctx {
	struct tls		*tc_tls;
	struct tls_config	*tc_config;
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
	size_t		 ti_len;	/* the sum of the three */
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
};

/* This worker's contexts. */
static struct tlsctx_state	 ts;

static void	 tlsctx_in_clear(void);
static struct tlsctx *tlsctx_build(char *, size_t);
static int	 tlsctx_config_tickets(struct tls_config *);
static void	 tlsctx_free(struct tlsctx *);
static void	 tlsctx_swap(struct tlsctx *);

/*
 * Before the sandbox: libtls sets libssl up, which reads openssl.cnf
 * once.  Nothing else is read from disk, ever: certificates come by
 * message, the default first (the certloader orders the set and applies
 * --default-sni).
 */
void
tlsctx_init(const struct portero_config *conf)
{
	if (tls_init() == -1)
		fatalx("tls_init");
}

/*
 * IMSG_CERT_BEGIN: a new set; whatever part of another one came is
 * dropped.  Each message of the set is counted, for the certloader's
 * window (tlsctx_cert_progress()).
 */
int
tlsctx_cert_begin(const struct cert_begin *cb)
{
	if (cb->cb_transfer == 0)
		return (-1);
	tlsctx_in_clear();
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
	struct tlsctx_in	*in, *newin;
	size_t			 len;

	if (!tlsctx_cert_ours())
		return (0);
	/* the previous pair must be whole */
	if (ts.ts_nin > 0 &&
	    ts.ts_in[ts.ts_nin - 1].ti_off != ts.ts_in[ts.ts_nin - 1].ti_len)
		return (-1);
	len = (size_t)cm->cm_names_len + cm->cm_cert_len + cm->cm_key_len;
	if (ts.ts_nin >= ts.ts_begin.cb_npairs ||
	    len > ts.ts_begin.cb_bytes - ts.ts_inbytes)
		return (-1);

	if ((newin = reallocarray(ts.ts_in, ts.ts_nin + 1,
	    sizeof(*newin))) == NULL)
		fatal("certificate set");
	ts.ts_in = newin;
	in = &ts.ts_in[ts.ts_nin];
	memset(in, 0, sizeof(*in));
	if ((in->ti_buf = malloc(len)) == NULL)
		fatal("certificate set");
	(void)strlcpy(in->ti_domain, cm->cm_domain, sizeof(in->ti_domain));
	in->ti_nameslen = cm->cm_names_len;
	in->ti_certlen = cm->cm_cert_len;
	in->ti_keylen = cm->cm_key_len;
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
	if ((tc = tlsctx_build(err, sizeof(err))) == NULL)
		log_warnx("new certificate set refused: %s; keeping the "
		    "certificates in service", err);
	else {
		log_debug("certificate set in service: %u domains, default "
		    "%s", tc->tc_npairs, ts.ts_in[0].ti_domain);
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
 * TLS 1.2 and 1.3 only, libtls's "secure" ciphers in our order, ALPN
 * http/1.1.  The first pair is the default, for clients without SNI or
 * with a name no certificate has.  Once libtls has built its contexts,
 * the config's copies of the keys are cleared: the handshakes use the
 * keys already loaded into libssl.
 */
static struct tlsctx *
tlsctx_build(char *err, size_t errlen)
{
	struct tlsctx		*tc;
	struct tlsctx_in	*in;
	unsigned char		*cert, *key;
	unsigned int		 i;
	int			 rv;

	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->tc_pairs = calloc(ts.ts_nin, sizeof(*tc->tc_pairs))) ==
	    NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	tc->tc_refs = 1;
	if ((tc->tc_config = tls_config_new()) == NULL) {
		(void)snprintf(err, errlen, "tls_config_new failed");
		goto fail;
	}
	if (tls_config_set_protocols(tc->tc_config, TLSCTX_PROTOCOLS) == -1 ||
	    tls_config_set_ciphers(tc->tc_config, TLSCTX_CIPHERS) == -1 ||
	    tls_config_set_alpn(tc->tc_config, TLSCTX_ALPN) == -1 ||
	    tls_config_set_session_lifetime(tc->tc_config,
	    CERT_SESSION_LIFETIME) == -1 ||
	    tlsctx_config_tickets(tc->tc_config) == -1) {
		(void)snprintf(err, errlen, "%s",
		    tls_config_error(tc->tc_config));
		goto fail;
	}
	tls_config_prefer_ciphers_server(tc->tc_config);

	for (i = 0; i < ts.ts_nin; i++) {
		in = &ts.ts_in[i];
		cert = in->ti_buf + in->ti_nameslen;
		key = cert + in->ti_certlen;
		if (i == 0)
			rv = tls_config_set_keypair_mem(tc->tc_config, cert,
			    in->ti_certlen, key, in->ti_keylen);
		else
			rv = tls_config_add_keypair_mem(tc->tc_config, cert,
			    in->ti_certlen, key, in->ti_keylen);
		if (rv == -1) {
			(void)snprintf(err, errlen, "%s: %s", in->ti_domain,
			    tls_config_error(tc->tc_config));
			goto fail;
		}
		if ((tc->tc_pairs[i].tp_names = malloc(in->ti_nameslen)) ==
		    NULL) {
			(void)snprintf(err, errlen, "out of memory");
			goto fail;
		}
		memcpy(tc->tc_pairs[i].tp_names, in->ti_buf, in->ti_nameslen);
		tc->tc_pairs[i].tp_nameslen = in->ti_nameslen;
		tc->tc_npairs++;
	}

	if ((tc->tc_tls = tls_server()) == NULL) {
		(void)snprintf(err, errlen, "tls_server failed");
		goto fail;
	}
	if (tls_configure(tc->tc_tls, tc->tc_config) == -1) {
		(void)snprintf(err, errlen, "%s", tls_error(tc->tc_tls));
		goto fail;
	}
	tls_config_clear_keys(tc->tc_config);
	return (tc);
 fail:
	if (tc != NULL) {
		if (tc->tc_config != NULL)
			tls_config_clear_keys(tc->tc_config);
		tlsctx_free(tc);
	}
	return (NULL);
}

/*
 * Session tickets as relayd has them: the parent makes the keys and one
 * session-id context for all workers, so a session from one worker
 * resumes on any other.  libtls takes the newest key it was given to
 * issue tickets, so the previous key goes in first.
 */
static int
tlsctx_config_tickets(struct tls_config *cfg)
{
	int	 i;

	if (!ts.ts_havekeys)
		return (0);
	if (tls_config_set_session_id(cfg, ts.ts_keys[0].tk_sessid,
	    sizeof(ts.ts_keys[0].tk_sessid)) == -1)
		return (-1);
	for (i = 1; i >= 0; i--) {
		if (ts.ts_keys[i].tk_rev == 0)
			continue;
		if (tls_config_add_ticket_key(cfg, ts.ts_keys[i].tk_rev,
		    ts.ts_keys[i].tk_key, sizeof(ts.ts_keys[i].tk_key)) == -1)
			return (-1);
	}
	return (0);
}

/*
 * IMSG_TLS_TICKET_KEY: keep the newest two.  A newer key also goes
 * straight into the context in service (libtls looks keys up in its
 * config at each handshake); an older one, which a restarted worker
 * may get after the newest, is only kept for contexts built later,
 * since libtls would take it for the newest.
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
		if (ts.ts_current != NULL && tls_config_add_ticket_key(
		    ts.ts_current->tc_config, tk->tk_rev,
		    (unsigned char *)tk->tk_key, sizeof(tk->tk_key)) == -1)
			log_warnx("ticket key %u: %s", tk->tk_rev,
			    tls_config_error(ts.ts_current->tc_config));
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
 * A connection holds a reference from accept until its handshake is
 * over: libtls's SNI and ALPN callbacks use the server context.
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

struct tls *
tlsctx_tls(struct tlsctx *tc)
{
	return (tc->tc_tls);
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

	tls_free(tc->tc_tls);
	tls_config_free(tc->tc_config);
	if (tc->tc_pairs != NULL)
		for (i = 0; i < tc->tc_npairs; i++)
			free(tc->tc_pairs[i].tp_names);
	free(tc->tc_pairs);
	free(tc);
}

/*
 * For 421 Misdirected Request: may this connection carry a request for
 * host?  Only if the certificate it got covers host.  Which one it got
 * is libtls's choice, made again here: libretls tries every pair but
 * the first in order and takes the first whose names cover the SNI
 * name; failing that, or without SNI, the first pair.  host comes
 * without a port, in any case.
 */
int
tlsctx_host_ok(struct tlsctx *tc, const char *sni, const char *host,
    size_t hostlen)
{
	unsigned int	 i, pick = 0;

	if (tc == NULL || tc->tc_npairs == 0 || hostlen == 0)
		return (0);
	if (sni != NULL)
		for (i = 1; i < tc->tc_npairs; i++)
			if (certs_names_cover(tc->tc_pairs[i].tp_names,
			    tc->tc_pairs[i].tp_nameslen, sni, strlen(sni))) {
				pick = i;
				break;
			}
	/* "example.com." is example.com */
	if (hostlen > 1 && host[hostlen - 1] == '.')
		hostlen--;
	return (certs_names_cover(tc->tc_pairs[pick].tp_names,
	    tc->tc_pairs[pick].tp_nameslen, host, hostlen));
}
