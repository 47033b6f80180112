/*
 * ptls_libtls.c: the TLS interface over libtls, the natural library on
 * OpenBSD and selectable on Linux (make TLS=libtls), where it is
 * libretls over OpenSSL.  libtls hides its SSL objects: what it cannot
 * be told (which certificate it chose, released buffers, a key signed
 * elsewhere) is made up for here or refused.
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
#include <sys/ioctl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>

#include "portero.h"

#define PTLS_PROTOCOLS	(TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3)
/* TLS 1.2 suites: ECDHE with AEAD only, as the OpenSSL build offers. */
#define PTLS_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"
#define PTLS_ALPN	"http/1.1"

struct ptls_server {
	struct tls		*ps_tls;
	struct tls_config	*ps_config;
	struct ptls_names	*ps_names;	/* [0] is the default */
	struct certs_sni	*ps_sni;
	unsigned int		 ps_npairs;
};

struct ptls_client {
	struct tls_config	*pc_config;
	/* a copy of the bundle, for contexts derived from this one */
	char			*pc_ca;
	size_t			 pc_calen;
	int			 pc_verify;
};

struct ptls {
	struct tls		*p_tls;
	struct ptls_server	*p_server;	/* until the handshake */
	int			 p_fd;
	int			 p_client;
	int			 p_handshaken;
	int			 p_pair;
};

int
ptls_init(void)
{
	return (tls_init());
}

const char *
ptls_library(void)
{
	return ("libtls");
}

const char *
ptls_default_ca_file(void)
{
	return (tls_default_ca_cert_file());
}

/*
 * Session tickets as relayd has them: the parent makes the keys and one
 * session-id context for all workers.  libtls takes the newest key it
 * was given to issue tickets, so the previous one goes in first.  (With
 * libretls no session resumes: its ticket callback says "no ticket".)
 */
static int
ptls_config_tickets(struct tls_config *cfg, const struct ticket_key_msg *k)
{
	int	 i;

	if (k == NULL)
		return (0);
	if (tls_config_set_session_id(cfg, k[0].tk_sessid,
	    sizeof(k[0].tk_sessid)) == -1)
		return (-1);
	for (i = 1; i >= 0; i--) {
		if (k[i].tk_rev == 0)
			continue;
		if (tls_config_add_ticket_key(cfg, k[i].tk_rev,
		    (unsigned char *)k[i].tk_key, sizeof(k[i].tk_key)) == -1)
			return (-1);
	}
	return (0);
}

/* libtls separates groups with commas; the flag, like OpenSSL, colons. */
static int
ptls_config_lists(struct tls_config *cfg, const struct ptls_params *pr)
{
	char	 groups[TLS_LIST_MAX], *p;

	if (tls_config_set_ciphers(cfg, pr->pr_ciphers != NULL ?
	    pr->pr_ciphers : PTLS_CIPHERS) == -1)
		return (-1);
	if (pr->pr_groups == NULL)
		return (0);
	if (strlcpy(groups, pr->pr_groups, sizeof(groups)) >= sizeof(groups))
		return (-1);
	for (p = groups; (p = strchr(p, ':')) != NULL; p++)
		*p = ',';
	return (tls_config_set_ecdhecurves(cfg, groups));
}

/*
 * Are the lists good?  libtls has no way to choose TLS 1.3 suites:
 * asking for one is an error, not a silent default.
 */
int
ptls_params_check(const struct ptls_params *pr, char *err, size_t errlen)
{
	struct tls_config	*cfg;
	int			 rv = 0;

	if (pr->pr_ciphersuites != NULL) {
		(void)snprintf(err, errlen, "--tls-ciphersuites: not "
		    "supported by libtls");
		return (-1);
	}
	if (tls_init() == -1 || (cfg = tls_config_new()) == NULL) {
		(void)snprintf(err, errlen, "cannot set up the library");
		return (-1);
	}
	if (ptls_config_lists(cfg, pr) == -1) {
		(void)snprintf(err, errlen, "--tls-ciphers or --tls-groups: "
		    "%s", tls_config_error(cfg) != NULL ?
		    tls_config_error(cfg) : "too long");
		rv = -1;
	}
	tls_config_free(cfg);
	return (rv);
}

static int
ptls_server_settings(struct ptls_server *ps, const struct ptls_params *pr)
{
	struct tls_config	*cfg = ps->ps_config;

	if (tls_config_set_protocols(cfg, PTLS_PROTOCOLS) == -1 ||
	    ptls_config_lists(cfg, pr) == -1 ||
	    tls_config_set_alpn(cfg, pr->pr_alpn != NULL ? pr->pr_alpn :
	    PTLS_ALPN) == -1 ||
	    tls_config_set_session_lifetime(cfg, pr->pr_lifetime) == -1 ||
	    ptls_config_tickets(cfg, pr->pr_keys) == -1)
		return (-1);
	tls_config_prefer_ciphers_server(cfg);
	return (0);
}

static int
ptls_server_pairs(struct ptls_server *ps, const struct ptls_pair *pp,
    unsigned int n, char *err, size_t errlen)
{
	unsigned int	 i;
	int		 rv;

	for (i = 0; i < n; i++) {
		/* a staple of 0 bytes is none */
		if (i == 0)
			rv = tls_config_set_keypair_ocsp_mem(ps->ps_config,
			    pp[i].pp_cert, pp[i].pp_certlen, pp[i].pp_key,
			    pp[i].pp_keylen, pp[i].pp_ocsp, pp[i].pp_ocsplen);
		else
			rv = tls_config_add_keypair_ocsp_mem(ps->ps_config,
			    pp[i].pp_cert, pp[i].pp_certlen, pp[i].pp_key,
			    pp[i].pp_keylen, pp[i].pp_ocsp, pp[i].pp_ocsplen);
		if (rv == -1) {
			(void)snprintf(err, errlen, "%s: %s", pp[i].pp_domain,
			    tls_config_error(ps->ps_config));
			return (-1);
		}
		if ((ps->ps_names[i].pn_names = malloc(pp[i].pp_nameslen)) ==
		    NULL) {
			(void)snprintf(err, errlen, "out of memory");
			return (-1);
		}
		memcpy(ps->ps_names[i].pn_names, pp[i].pp_names,
		    pp[i].pp_nameslen);
		ps->ps_names[i].pn_len = pp[i].pp_nameslen;
		ps->ps_npairs++;
	}
	return (0);
}

/*
 * The first pair is the default, for clients without SNI or with a name
 * no certificate has.  Once libtls has built its contexts, the config's
 * copies of the keys are cleared: handshakes use the keys in libssl.
 * libtls builds every context of a set in tls_configure() and cannot
 * share one between configs, so pr_prev is of no use here: each set is
 * built whole, and a worker stalls for it (portero(8), CAVEATS).
 */
struct ptls_server *
ptls_server_new(const struct ptls_pair *pp, unsigned int n,
    const struct ptls_params *pr, char *err, size_t errlen)
{
	struct ptls_server	*ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (ps->ps_names = calloc(n, sizeof(*ps->ps_names))) == NULL ||
	    (ps->ps_config = tls_config_new()) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (ptls_server_settings(ps, pr) == -1) {
		(void)snprintf(err, errlen, "%s",
		    tls_config_error(ps->ps_config));
		goto fail;
	}
	if (ptls_server_pairs(ps, pp, n, err, errlen) == -1)
		goto fail;
	if ((ps->ps_sni = certs_sni_new(ps->ps_names, n)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((ps->ps_tls = tls_server()) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (tls_configure(ps->ps_tls, ps->ps_config) == -1) {
		(void)snprintf(err, errlen, "%s", tls_error(ps->ps_tls));
		goto fail;
	}
	tls_config_clear_keys(ps->ps_config);
	return (ps);
 fail:
	ptls_server_free(ps);
	return (NULL);
}

void
ptls_server_free(struct ptls_server *ps)
{
	unsigned int	 i;

	if (ps == NULL)
		return;
	tls_free(ps->ps_tls);
	if (ps->ps_config != NULL) {
		tls_config_clear_keys(ps->ps_config);
		tls_config_free(ps->ps_config);
	}
	if (ps->ps_names != NULL)
		for (i = 0; i < ps->ps_npairs; i++)
			free(ps->ps_names[i].pn_names);
	free(ps->ps_names);
	certs_sni_free(ps->ps_sni);
	free(ps);
}

/* Every context of a set is built anew (see ptls_server_new()). */
unsigned int
ptls_server_built(const struct ptls_server *ps)
{
	return (ps->ps_npairs);
}

/*
 * A newer key goes straight into the config in service (libtls looks
 * keys up there at each handshake); an older one would be taken for
 * the newest, so it waits for the next set.
 */
int
ptls_server_ticket_keys(struct ptls_server *ps,
    const struct ticket_key_msg *k)
{
	if (k[0].tk_rev == 0)
		return (0);
	return (tls_config_add_ticket_key(ps->ps_config, k[0].tk_rev,
	    (unsigned char *)k[0].tk_key, sizeof(k[0].tk_key)));
}

int
ptls_server_signer(struct ptls_server *ps, ptls_sign_fn fn, void *arg)
{
	errno = ENOTSUP;
	return (-1);
}

static struct ptls *
ptls_new(int fd, int client)
{
	struct ptls	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->p_fd = fd;
	p->p_client = client;
	p->p_pair = -1;
	return (p);
}

/* The server must outlive the handshake (tlsctx.c counts references). */
struct ptls *
ptls_accept(struct ptls_server *ps, int fd)
{
	struct ptls	*p;

	if ((p = ptls_new(fd, 0)) == NULL)
		return (NULL);
	if (tls_accept_socket(ps->ps_tls, &p->p_tls, fd) == -1) {
		free(p);
		return (NULL);
	}
	p->p_server = ps;
	return (p);
}

/* ca: PEM in memory; NULL with verify off. */
struct ptls_client *
ptls_client_new(const char *ca, size_t calen, int verify, char *err,
    size_t errlen)
{
	struct ptls_client	*pc;

	if ((pc = calloc(1, sizeof(*pc))) == NULL ||
	    (pc->pc_config = tls_config_new()) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (tls_config_set_protocols(pc->pc_config, PTLS_PROTOCOLS) == -1) {
		(void)snprintf(err, errlen, "%s",
		    tls_config_error(pc->pc_config));
		goto fail;
	}
	pc->pc_verify = verify;
	if (!verify) {
		tls_config_insecure_noverifycert(pc->pc_config);
		tls_config_insecure_noverifyname(pc->pc_config);
	} else if (tls_config_set_ca_mem(pc->pc_config,
	    (const uint8_t *)ca, calen) == -1) {
		(void)snprintf(err, errlen, "%s",
		    tls_config_error(pc->pc_config));
		goto fail;
	} else {
		if ((pc->pc_ca = malloc(calen)) == NULL) {
			(void)snprintf(err, errlen, "out of memory");
			goto fail;
		}
		memcpy(pc->pc_ca, ca, calen);
		pc->pc_calen = calen;
	}
	return (pc);
 fail:
	ptls_client_free(pc);
	return (NULL);
}

/*
 * A context that verifies as base does and presents a certificate to
 * servers that ask for one.  libtls keeps no parsed bundle to share:
 * it parses it for each connection anyway.
 */
struct ptls_client *
ptls_client_keypair(const struct ptls_client *base, const char *cert,
    size_t certlen, const char *key, size_t keylen, char *err,
    size_t errlen)
{
	struct ptls_client	*pc;

	if ((pc = ptls_client_new(base->pc_ca, base->pc_calen,
	    base->pc_verify, err, errlen)) == NULL)
		return (NULL);
	if (tls_config_set_keypair_mem(pc->pc_config, (const uint8_t *)cert,
	    certlen, (const uint8_t *)key, keylen) == -1) {
		(void)snprintf(err, errlen, "%s",
		    tls_config_error(pc->pc_config));
		ptls_client_free(pc);
		return (NULL);
	}
	return (pc);
}

void
ptls_client_free(struct ptls_client *pc)
{
	if (pc == NULL)
		return;
	if (pc->pc_config != NULL)
		tls_config_free(pc->pc_config);
	free(pc->pc_ca);
	free(pc);
}

/* libtls builds a context, and parses the CA, for each connection. */
struct ptls *
ptls_connect(struct ptls_client *pc, int fd, const char *servername,
    char *err, size_t errlen)
{
	struct ptls	*p;

	if ((p = ptls_new(fd, 1)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if ((p->p_tls = tls_client()) == NULL ||
	    tls_configure(p->p_tls, pc->pc_config) == -1 ||
	    tls_connect_socket(p->p_tls, fd, servername) == -1) {
		(void)snprintf(err, errlen, "%s", ptls_error(p));
		ptls_free(p);
		return (NULL);
	}
	return (p);
}

static int
ptls_want(ssize_t n)
{
	if (n == TLS_WANT_POLLIN)
		return (PTLS_WANT_READ);
	if (n == TLS_WANT_POLLOUT)
		return (PTLS_WANT_WRITE);
	return (0);
}


int
ptls_handshake(struct ptls *p)
{
	int	 rv;

	rv = tls_handshake(p->p_tls);
	if (ptls_want(rv))
		return (ptls_want(rv));
	if (rv == -1)
		return (-1);
	p->p_handshaken = 1;
	/* libtls's choice, made again while the server is referenced */
	if (p->p_server != NULL) {
		p->p_pair = certs_sni_pick(p->p_server->ps_sni,
		    tls_conn_servername(p->p_tls));
		p->p_server = NULL;
	}
	return (0);
}

/*
 * A peer that leaves without close_notify (most do) reads as -1 from
 * libtls: after the handshake that is an end of file.  As a client, a
 * post-handshake message (a TLS 1.3 ticket) reads as "want more" while
 * the record after it may already wait in the socket, where an
 * edge-triggered loop would never hear of it: look while it holds bytes.
 */
ssize_t
ptls_read(struct ptls *p, void *buf, size_t len)
{
	ssize_t	 n;
	int	 pending;

	n = tls_read(p->p_tls, buf, len);
	while (n == TLS_WANT_POLLIN && p->p_client &&
	    ioctl(p->p_fd, FIONREAD, &pending) == 0 && pending > 0)
		n = tls_read(p->p_tls, buf, len);
	if (ptls_want(n))
		return (ptls_want(n));
	if (n == -1 && p->p_handshaken)
		return (0);
	return (n);
}

/* libtls does not say how much its reads got: never known empty. */
int
ptls_drained(struct ptls *p)
{
	return (0);
}

ssize_t
ptls_write(struct ptls *p, const void *buf, size_t len)
{
	ssize_t	 n;

	n = tls_write(p->p_tls, buf, len);
	if (ptls_want(n))
		return (ptls_want(n));
	return (n);
}

/* close_notify, best effort; the socket is the caller's to close. */
int
ptls_close(struct ptls *p)
{
	int	 rv;

	rv = tls_close(p->p_tls);
	return (ptls_want(rv) ? ptls_want(rv) : rv);
}

void
ptls_free(struct ptls *p)
{
	if (p == NULL)
		return;
	tls_free(p->p_tls);
	free(p);
}

const char *
ptls_error(struct ptls *p)
{
	const char	*e;

	if (p == NULL || p->p_tls == NULL ||
	    (e = tls_error(p->p_tls)) == NULL)
		return ("unknown error");
	return (e);
}

const char *
ptls_servername(struct ptls *p)
{
	return (tls_conn_servername(p->p_tls));
}

const char *
ptls_alpn(struct ptls *p)
{
	return (tls_conn_alpn_selected(p->p_tls));
}

const char *
ptls_version(struct ptls *p)
{
	return (tls_conn_version(p->p_tls));
}

const char *
ptls_cipher(struct ptls *p)
{
	return (tls_conn_cipher(p->p_tls));
}

/* libtls cannot tell; with libretls nothing resumes anyway. */
int
ptls_resumed(struct ptls *p)
{
	return (0);
}

int
ptls_pair_index(struct ptls *p)
{
	return (p->p_pair);
}

/* libtls keeps its buffers: it offers no way to the SSL object. */
int
ptls_idle(struct ptls *p)
{
	errno = ENOTSUP;
	return (-1);
}

/*
 * libtls has no call to get or set a client session: upstream
 * connections always make a full handshake.
 */
int
ptls_session_offer(struct ptls *p, struct ptls_session *pe)
{
	errno = ENOTSUP;
	return (-1);
}

struct ptls_session *
ptls_session_take(struct ptls *p)
{
	errno = ENOTSUP;
	return (NULL);
}

void
ptls_session_free(struct ptls_session *pe)
{
	/* none is ever made */
}

/*
 * Client certificates: libtls asks for them per config, that is for
 * every name of a set alike, and cannot give a session-id context per
 * policy; a policy per server name cannot be kept, so none is made and
 * the configuration that asks for one is refused (portero.conf(5)).
 */
struct ptls_auth *
ptls_auth_new(enum ptls_verify mode, const char *ca, size_t calen,
    char *err, size_t errlen)
{
	(void)snprintf(err, errlen, "client certificates need portero "
	    "built with OpenSSL (this one is built with libtls)");
	errno = ENOTSUP;
	return (NULL);
}

void
ptls_auth_free(struct ptls_auth *pa)
{
}

const unsigned char *
ptls_auth_id(const struct ptls_auth *pa)
{
	return (NULL);
}

/* No certificate is ever asked for. */
const unsigned char *
ptls_peer_auth(struct ptls *p)
{
	return (NULL);
}

const struct ptls_verified *
ptls_peer_verified(struct ptls *p)
{
	return (NULL);
}
