/*
 * ptls_openssl.c: the TLS interface over OpenSSL 3's libssl, the default
 * on Linux.  Each certificate of a set is a server context of its own,
 * chosen by hash in the SNI callback and kept by the next set while the
 * certificate is unchanged, so a change costs what changed; tickets are
 * sealed with the parent's keys, so sessions resume on any worker; one
 * client context serves every upstream connection, and hands its
 * sessions to their owner to resume.
 *
 * The error queue: SSL_get_error() is right only if the queue was empty
 * before the call, so every path that leaves something in it (a failure,
 * loading PEM) empties it before it returns; the success path of reads
 * and writes never touches it.
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

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "portero.h"

#if OPENSSL_VERSION_NUMBER < 0x300000e0L
#error "OpenSSL 3.0.14 or newer is needed (CVE-2024-4741 in SSL_free_buffers)"
#endif

/* TLS 1.2 suites: ECDHE with AEAD only.  TLS 1.3's are all AEAD. */
#define PTLS_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"
#define PTLS_GROUPS	"X25519:P-256:P-384"
#define PTLS_ALPN	"http/1.1"
#define PTLS_ERRLEN	256
#define PTLS_DIGEST_LEN	32	/* SHA-256 */
#define PTLS_CA_NAMES_MAX	16384	/* CA names a client is told */

/* A pair's OCSP response, stapled for clients that ask. */
struct ptls_staple {
	unsigned char		*st_der;
	size_t			 st_len;
};

/*
 * A pair's context may serve several sets (the one in service and those
 * connections still hold): it knows no set.  Callbacks reach the set
 * through the connection (struct ptls, the SSL's ex_data).  ps_digest[i]
 * says what ps_ctx[i] was made of, for the next set to recognise it.
 * Staples belong to the set: a new response needs no new context.
 */
struct ptls_server {
	SSL_CTX			**ps_ctx;	/* one per pair; [0] default;
						   a reference each */
	unsigned char		(*ps_digest)[PTLS_DIGEST_LEN];
	struct ptls_names	*ps_names;
	struct ptls_staple	*ps_staples;
	struct certs_sni	*ps_sni;
	unsigned int		 ps_npairs;
	unsigned int		 ps_built;	/* contexts not taken over */
	unsigned char		 ps_alpn[256];	/* wire format */
	size_t			 ps_alpnlen;
	struct ticket_key_msg	 ps_keys[2];	/* newest, previous */
	ptls_auth_fn		 ps_auth;	/* client certificates */
};

/*
 * A client-certificate policy.  Connections take a reference to the
 * store and a copy of the names: the policy may go with a reload while
 * a handshake still needs them.
 */
struct ptls_auth {
	enum ptls_verify	 pa_mode;
	X509_STORE		*pa_store;
	STACK_OF(X509_NAME)	*pa_names;	/* the CAs, as the client is
						   told them */
	unsigned char		 pa_id[PTLS_AUTH_ID_LEN];
};

struct ptls_client {
	SSL_CTX		*pc_ctx;
	int		 pc_verify;
	uint64_t	 pc_serial;	/* its sessions carry it */
};

/*
 * A client session: resumed only through the context that made it, for
 * a session skips verification, which another CA or setting might fail.
 */
struct ptls_session {
	SSL_SESSION	*pe_sess;
	uint64_t	 pe_serial;
};

struct ptls {
	SSL		*p_ssl;
	struct ptls_server *p_server;	/* a server connection's set */
	int		 p_handshaken;
	int		 p_pair;
	char		*p_err;		/* made at the first failure */
	int		 p_short;	/* the last socket read was short */
	SSL_SESSION	*p_sess;	/* the newest from the server */
	uint64_t	 p_serial;	/* of its client context */
	int		 p_asked;	/* a client certificate was */
	unsigned char	 p_authid[PTLS_AUTH_ID_LEN];	/* ... under */
	X509_STORE	*p_store;	/* ... checked against */
	struct ptls_verified *p_verified;	/* what was verified */
};

/* Where an SSL keeps its ptls. */
static int	 ptls_ssl_index = -1;

/* Fetched once, before the sandbox: a fetch may load a provider. */
static EVP_MAC		*ptls_hmac;
static EVP_CIPHER	*ptls_aes;
static EVP_MD		*ptls_sha256;

static int	 ptls_servername_cb(SSL *, int *, void *);
static int	 ptls_h2_ciphers(SSL_CTX *, char *, size_t);
static int	 ptls_alpn_cb(SSL *, const unsigned char **, unsigned char *,
		    const unsigned char *, unsigned int, void *);
static int	 ptls_ticket_cb(SSL *, unsigned char *, unsigned char *,
		    EVP_CIPHER_CTX *, EVP_MAC_CTX *, int);
static int	 ptls_status_cb(SSL *, void *);
static int	 ptls_hello_cb(SSL *, int *, void *);
static void	 ptls_auth_names_fit(struct ptls_auth *);
static int	 ptls_verify_optional(int, X509_STORE_CTX *);
static int	 ptls_peer_check(struct ptls *);
static int	 ptls_sock_init(void);
static int	 ptls_sock_read(BIO *, char *, int);

/* The socket BIO, but for its reads (ptls_sock_read()); and those. */
static BIO_METHOD	*ptls_sock;
static int		(*ptls_sock_read_next)(BIO *, char *, int);
static int	 ptls_client_session_cb(SSL *, SSL_SESSION *);

/* Client contexts are numbered, so a session finds its own. */
static uint64_t	 ptls_client_serial;

/*
 * The socket BIO of libssl with a read of our own, which notes whether
 * the socket gave fewer bytes than asked for: with read-ahead libssl
 * asks for all the room it has, so the socket was empty then
 * (ptls_drained()).  A method rather than a BIO callback, which libssl
 * would call for every control too: some 600 instructions a request.
 */
static int
ptls_sock_init(void)
{
	const BIO_METHOD	*s = BIO_s_socket();

	if ((ptls_sock = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "portero socket")) ==
	    NULL)
		return (-1);
	ptls_sock_read_next = BIO_meth_get_read(s);
	if (ptls_sock_read_next == NULL ||
	    BIO_meth_set_read(ptls_sock, ptls_sock_read) != 1 ||
	    BIO_meth_set_write(ptls_sock, BIO_meth_get_write(s)) != 1 ||
	    BIO_meth_set_puts(ptls_sock, BIO_meth_get_puts(s)) != 1 ||
	    BIO_meth_set_ctrl(ptls_sock, BIO_meth_get_ctrl(s)) != 1 ||
	    BIO_meth_set_create(ptls_sock, BIO_meth_get_create(s)) != 1 ||
	    BIO_meth_set_destroy(ptls_sock, BIO_meth_get_destroy(s)) != 1)
		return (-1);
	return (0);
}

static int
ptls_sock_read(BIO *bio, char *buf, int len)
{
	struct ptls	*p = BIO_get_data(bio);
	int		 n;

	n = ptls_sock_read_next(bio, buf, len);
	if (p != NULL)
		p->p_short = n <= 0 || n < len;
	return (n);
}

int
ptls_init(void)
{
	static int	 ready;

	if (ready)
		return (0);	/* once per process */
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) == 0)
		return (-1);
	ptls_ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ptls_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ptls_aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	ptls_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ptls_ssl_index == -1 || ptls_hmac == NULL || ptls_aes == NULL ||
	    ptls_sha256 == NULL || ptls_sock_init() == -1) {
		ERR_clear_error();
		return (-1);
	}
	ready = 1;
	return (0);
}

const char *
ptls_library(void)
{
	return (OpenSSL_version(OPENSSL_VERSION));
}

const char *
ptls_default_ca_file(void)
{
	return (X509_get_default_cert_file());
}

/* The first error in the queue, which is then emptied. */
static void
ptls_errstr(char *err, size_t errlen, const char *what)
{
	unsigned long	 e;
	char		 buf[PTLS_ERRLEN];

	if ((e = ERR_peek_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		(void)snprintf(err, errlen, "%s: %s", what, buf);
	} else
		(void)snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

/* "h2,http/1.1" as ALPN's wire format: length-prefixed names. */
static int
ptls_alpn_wire(const char *list, unsigned char *out, size_t outlen,
    size_t *lenp)
{
	const char	*p, *end;
	size_t		 n, len = 0;

	for (p = list; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		n = end - p;
		if (n == 0 || n > 255 || len + 1 + n > outlen)
			return (-1);
		out[len++] = (unsigned char)n;
		memcpy(out + len, p, n);
		len += n;
	}
	*lenp = len;
	return (0);
}

/* The leaf, then the chain, then the key, all from memory. */
static int
ptls_ctx_pair(SSL_CTX *ctx, const struct ptls_pair *pp, char *err,
    size_t errlen)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*key = NULL;
	int		 n = 0, ok = 0;

	if ((bio = BIO_new_mem_buf(pp->pp_cert, pp->pp_certlen)) == NULL)
		goto done;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if ((n++ == 0 ? SSL_CTX_use_certificate(ctx, x) :
		    SSL_CTX_add0_chain_cert(ctx, x)) != 1) {
			X509_free(x);
			goto done;
		}
		if (n == 1)
			X509_free(x);	/* use_certificate took its own */
	}
	ERR_clear_error();	/* the end of the PEM */
	BIO_free(bio);
	bio = NULL;
	if (n == 0 || (bio = BIO_new_mem_buf(pp->pp_key,
	    pp->pp_keylen)) == NULL)
		goto done;
	if ((key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto done;
	ok = 1;
 done:
	BIO_free(bio);
	EVP_PKEY_free(key);
	if (!ok)
		ptls_errstr(err, errlen, pp->pp_domain);
	return (ok ? 0 : -1);
}

/* Protocols, TLS 1.2 ciphers, TLS 1.3 suites, groups: flags or ours. */
static int
ptls_ctx_lists(SSL_CTX *ctx, const struct ptls_params *pr)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, pr->pr_ciphers != NULL ?
	    pr->pr_ciphers : PTLS_CIPHERS) != 1 ||
	    (pr->pr_ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, pr->pr_ciphersuites) != 1) ||
	    SSL_CTX_set1_groups_list(ctx, pr->pr_groups != NULL ?
	    pr->pr_groups : PTLS_GROUPS) != 1)
		return (-1);
	return (0);
}

/*
 * Are the lists good?  In the parent, for -n and before a reload: each
 * is tried on a context of its own, to name the one that is not.
 */
int
ptls_params_check(const struct ptls_params *pr, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	const char	*what = NULL;

	if (ptls_init() == -1) {
		(void)snprintf(err, errlen, "cannot set up the library");
		return (-1);
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ptls_errstr(err, errlen, "server context");
		return (-1);
	}
	if (pr->pr_ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, pr->pr_ciphers) != 1)
		what = "--tls-ciphers: no usable cipher";
	else if (pr->pr_ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, pr->pr_ciphersuites) != 1)
		what = "--tls-ciphersuites: no usable TLS 1.3 suite";
	else if (pr->pr_groups != NULL &&
	    SSL_CTX_set1_groups_list(ctx, pr->pr_groups) != 1)
		what = "--tls-groups: unknown group";
	if (what == NULL && pr->pr_ciphers != NULL && pr->pr_alpn != NULL &&
	    strncmp(pr->pr_alpn, "h2", 2) == 0 &&
	    ptls_h2_ciphers(ctx, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return (-1);
	}
	SSL_CTX_free(ctx);
	if (what != NULL) {
		ptls_errstr(err, errlen, what);
		return (-1);
	}
	return (0);
}

/*
 * HTTP/2 over TLS 1.2 allows only ephemeral key exchange and AEAD
 * ciphers (RFC 9113 9.2.2): a client that gets another one may end the
 * connection with INADEQUATE_SECURITY.
 */
static int
ptls_h2_ciphers(SSL_CTX *ctx, char *err, size_t errlen)
{
	STACK_OF(SSL_CIPHER)	*list = SSL_CTX_get_ciphers(ctx);
	const SSL_CIPHER	*c;
	int			 i, kx;

	for (i = 0; list != NULL && i < sk_SSL_CIPHER_num(list); i++) {
		c = sk_SSL_CIPHER_value(list, i);
		kx = SSL_CIPHER_get_kx_nid(c);
		/* TLS 1.3's suites are all AEAD, with any key exchange */
		if (kx == NID_kx_any || (SSL_CIPHER_is_aead(c) &&
		    (kx == NID_kx_ecdhe || kx == NID_kx_dhe)))
			continue;
		(void)snprintf(err, errlen, "--tls-ciphers: %s is not allowed "
		    "with HTTP/2 (RFC 9113 9.2.2); leave it out, or add "
		    "--no-h2", SSL_CIPHER_get_name(c));
		return (-1);
	}
	return (0);
}

/*
 * A pair's context, with all a connection needs whichever context it
 * started on: the SNI callback switches contexts, and OpenSSL then
 * takes the certificate and session-id context from the new one, the
 * rest (protocols, ciphers, session lifetime, the ticket callback) from
 * the first.  Every context of a set is made with the set's settings
 * (they are part of its digest, ptls_pair_digest()), so the first has
 * what the chosen one would; callbacks find the set through the SSL.
 */
static SSL_CTX *
ptls_ctx_new(const struct ptls_params *pr, char *err, size_t errlen)
{
	SSL_CTX		*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    ptls_ctx_lists(ctx, pr) == -1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ptls_ticket_cb) != 1) {
		ptls_errstr(err, errlen, "server context");
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* a record in one read, not its header and then its body */
	SSL_CTX_set_read_ahead(ctx, 1);
	/* tickets only: a session cache would be one worker's */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, pr->pr_lifetime);
	(void)SSL_CTX_set_num_tickets(ctx, 1);	/* one per handshake will do */
	SSL_CTX_set_client_hello_cb(ctx, ptls_hello_cb, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, ptls_servername_cb);
	SSL_CTX_set_alpn_select_cb(ctx, ptls_alpn_cb, NULL);
	SSL_CTX_set_tlsext_status_cb(ctx, ptls_status_cb);
	return (ctx);
}

/*
 * What a pair's context is made of: the settings, the names, the cert
 * and the key.  SHA-256 runs at over a GB/s, so a set of a thousand
 * pairs is told from its predecessor in about a millisecond; only the
 * digest of the key stays, never the key.
 */
static int
ptls_pair_digest(EVP_MD_CTX *md, const struct ptls_pair *pp,
    const struct ptls_params *pr, unsigned char *out)
{
	const char	*ciphers, *suites, *groups;
	uint64_t	 lens[3];
	unsigned char	 life[4];

	ciphers = pr->pr_ciphers != NULL ? pr->pr_ciphers : PTLS_CIPHERS;
	suites = pr->pr_ciphersuites != NULL ? pr->pr_ciphersuites : "";
	groups = pr->pr_groups != NULL ? pr->pr_groups : PTLS_GROUPS;
	life[0] = pr->pr_lifetime >> 24;
	life[1] = pr->pr_lifetime >> 16;
	life[2] = pr->pr_lifetime >> 8;
	life[3] = pr->pr_lifetime;
	lens[0] = pp->pp_nameslen;	/* where one part ends and the next */
	lens[1] = pp->pp_certlen;
	lens[2] = pp->pp_keylen;
	if (EVP_DigestInit_ex(md, ptls_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(md, life, sizeof(life)) != 1 ||
	    EVP_DigestUpdate(md, ciphers, strlen(ciphers) + 1) != 1 ||
	    EVP_DigestUpdate(md, suites, strlen(suites) + 1) != 1 ||
	    EVP_DigestUpdate(md, groups, strlen(groups) + 1) != 1 ||
	    EVP_DigestUpdate(md, lens, sizeof(lens)) != 1 ||
	    EVP_DigestUpdate(md, pp->pp_names, pp->pp_nameslen) != 1 ||
	    EVP_DigestUpdate(md, pp->pp_cert, pp->pp_certlen) != 1 ||
	    EVP_DigestUpdate(md, pp->pp_key, pp->pp_keylen) != 1 ||
	    EVP_DigestFinal_ex(md, out, NULL) != 1) {
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

/*
 * The previous set's contexts by digest: an open-addressed table of
 * indices + 1, twice the pairs in size.  NULL (nothing taken over) if
 * there is no previous set or no memory.
 */
static unsigned int *
ptls_prev_index(const struct ptls_server *prev, size_t *maskp)
{
	unsigned int	*slot;
	size_t		 size = 16, i;
	unsigned int	 j;

	if (prev == NULL)
		return (NULL);
	while (size < 2 * (size_t)prev->ps_npairs)
		size *= 2;
	if ((slot = calloc(size, sizeof(*slot))) == NULL)
		return (NULL);
	for (j = 0; j < prev->ps_npairs; j++) {
		memcpy(&i, prev->ps_digest[j], sizeof(i));
		for (i &= size - 1; slot[i] != 0; i = (i + 1) & (size - 1))
			;
		slot[i] = j + 1;
	}
	*maskp = size - 1;
	return (slot);
}

/* The previous set's context made of digest d, with a reference. */
static SSL_CTX *
ptls_prev_ctx(const struct ptls_server *prev, const unsigned int *slot,
    size_t mask, const unsigned char *d)
{
	SSL_CTX		*ctx;
	size_t		 i;

	if (slot == NULL)
		return (NULL);
	memcpy(&i, d, sizeof(i));
	for (i &= mask; slot[i] != 0; i = (i + 1) & mask) {
		if (memcmp(prev->ps_digest[slot[i] - 1], d,
		    PTLS_DIGEST_LEN) != 0)
			continue;
		ctx = prev->ps_ctx[slot[i] - 1];
		if (SSL_CTX_up_ref(ctx) != 1)
			return (NULL);
		return (ctx);
	}
	return (NULL);
}

/* Pair i's context: the previous set's if unchanged, else a new one. */
static int
ptls_server_ctx(struct ptls_server *ps, unsigned int i,
    const struct ptls_pair *pp, const struct ptls_params *pr,
    const unsigned int *slot, size_t mask, char *err, size_t errlen)
{
	if ((ps->ps_ctx[i] = ptls_prev_ctx(pr->pr_prev, slot, mask,
	    ps->ps_digest[i])) != NULL)
		return (0);
	if ((ps->ps_ctx[i] = ptls_ctx_new(pr, err, errlen)) == NULL)
		return (-1);
	ps->ps_built++;
	if (ptls_ctx_pair(ps->ps_ctx[i], pp, err, errlen) == -1) {
		SSL_CTX_free(ps->ps_ctx[i]);
		ps->ps_ctx[i] = NULL;
		return (-1);
	}
	return (0);
}

static int
ptls_server_pairs(struct ptls_server *ps, const struct ptls_pair *pp,
    unsigned int n, const struct ptls_params *pr, char *err, size_t errlen)
{
	EVP_MD_CTX	*md;
	unsigned int	*slot;
	size_t		 mask = 0;
	unsigned int	 i;
	int		 rv = -1;

	if ((md = EVP_MD_CTX_new()) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	slot = ptls_prev_index(pr->pr_prev, &mask);
	for (i = 0; i < n; i++) {
		if (ptls_pair_digest(md, &pp[i], pr, ps->ps_digest[i]) ==
		    -1) {
			(void)snprintf(err, errlen, "%s: digest",
			    pp[i].pp_domain);
			goto done;
		}
		if (ptls_server_ctx(ps, i, &pp[i], pr, slot, mask, err,
		    errlen) == -1)
			goto done;
		ps->ps_npairs++;
		if ((ps->ps_names[i].pn_names = malloc(pp[i].pp_nameslen)) ==
		    NULL) {
			(void)snprintf(err, errlen, "out of memory");
			goto done;
		}
		memcpy(ps->ps_names[i].pn_names, pp[i].pp_names,
		    pp[i].pp_nameslen);
		ps->ps_names[i].pn_len = pp[i].pp_nameslen;
		if (pp[i].pp_ocsplen == 0)
			continue;
		if ((ps->ps_staples[i].st_der = malloc(pp[i].pp_ocsplen)) ==
		    NULL) {
			(void)snprintf(err, errlen, "out of memory");
			return (-1);
		}
		memcpy(ps->ps_staples[i].st_der, pp[i].pp_ocsp,
		    pp[i].pp_ocsplen);
		ps->ps_staples[i].st_len = pp[i].pp_ocsplen;
	}
	if ((ps->ps_sni = certs_sni_new(ps->ps_names, n)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto done;
	}
	rv = 0;
 done:
	free(slot);
	EVP_MD_CTX_free(md);
	return (rv);
}

struct ptls_server *
ptls_server_new(const struct ptls_pair *pp, unsigned int n,
    const struct ptls_params *pr, char *err, size_t errlen)
{
	struct ptls_server	*ps;

	if (n == 0) {
		(void)snprintf(err, errlen, "no certificate");
		return (NULL);
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    (ps->ps_ctx = calloc(n, sizeof(*ps->ps_ctx))) == NULL ||
	    (ps->ps_digest = calloc(n, sizeof(*ps->ps_digest))) == NULL ||
	    (ps->ps_names = calloc(n, sizeof(*ps->ps_names))) == NULL ||
	    (ps->ps_staples = calloc(n, sizeof(*ps->ps_staples))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (ptls_alpn_wire(pr->pr_alpn != NULL ? pr->pr_alpn : PTLS_ALPN,
	    ps->ps_alpn, sizeof(ps->ps_alpn), &ps->ps_alpnlen) == -1) {
		(void)snprintf(err, errlen, "bad ALPN list");
		goto fail;
	}
	if (pr->pr_keys != NULL)
		memcpy(ps->ps_keys, pr->pr_keys, sizeof(ps->ps_keys));
	ps->ps_auth = pr->pr_auth;
	if (ptls_server_pairs(ps, pp, n, pr, err, errlen) == -1)
		goto fail;
	if (ptls_server_ticket_keys(ps, ps->ps_keys) == -1) {
		ptls_errstr(err, errlen, "session-id context");
		goto fail;
	}
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
	for (i = 0; i < ps->ps_npairs; i++) {
		SSL_CTX_free(ps->ps_ctx[i]);
		free(ps->ps_names[i].pn_names);
		free(ps->ps_staples[i].st_der);
	}
	certs_sni_free(ps->ps_sni);
	free(ps->ps_ctx);
	free(ps->ps_digest);
	free(ps->ps_names);
	free(ps->ps_staples);
	explicit_bzero(ps->ps_keys, sizeof(ps->ps_keys));
	free(ps);
}

/* How many contexts the set built; the others it took over. */
unsigned int
ptls_server_built(const struct ptls_server *ps)
{
	return (ps->ps_built);
}

/*
 * New keys, in place: the callback reads them at each handshake.  The
 * session-id context (the same in every worker) goes on every context,
 * since a switched connection takes it from its certificate's; a
 * context shared with older sets gets it too, which is harmless, as it
 * is the same for all.
 */
int
ptls_server_ticket_keys(struct ptls_server *ps,
    const struct ticket_key_msg *k)
{
	unsigned int	 i;

	if (k != ps->ps_keys)
		memcpy(ps->ps_keys, k, sizeof(ps->ps_keys));
	if (ps->ps_keys[0].tk_rev == 0)
		return (0);
	for (i = 0; i < ps->ps_npairs; i++)
		if (SSL_CTX_set_session_id_context(ps->ps_ctx[i],
		    ps->ps_keys[0].tk_sessid,
		    sizeof(ps->ps_keys[0].tk_sessid)) != 1) {
			ERR_clear_error();
			return (-1);
		}
	return (0);
}

int
ptls_server_signer(struct ptls_server *ps, ptls_sign_fn fn, void *arg)
{
	errno = ENOTSUP;
	return (-1);
}

/*
 * A ticket key's parts: a name of 16 bytes made of its revision, the
 * HMAC key from the first 16 bytes of the secret, the AES-256 key from
 * the last 32.
 */
static void
ptls_ticket_name(const struct ticket_key_msg *k, unsigned char *name)
{
	memset(name, 0, 16);
	memcpy(name, "ptk1", 4);
	name[4] = k->tk_rev >> 24;
	name[5] = k->tk_rev >> 16;
	name[6] = k->tk_rev >> 8;
	name[7] = k->tk_rev;
	memcpy(name + 8, k->tk_key, 8);
}

static int
ptls_ticket_keys(const struct ticket_key_msg *k, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, unsigned char *iv, int enc)
{
	OSSL_PARAM	 params[2];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(hctx, k->tk_key, 16, params) != 1 ||
	    EVP_CipherInit_ex(cctx, ptls_aes, NULL, k->tk_key + 16, iv,
	    enc) != 1) {
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

/*
 * Issue with the newest key, accept the previous too, refuse others:
 * the client does a full handshake.  A resumed session always gets a
 * new ticket (2, "renew"): without one, a TLS 1.3 client, which uses
 * a ticket once, makes a full handshake every other time.
 */
static int
ptls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct ptls_server	*ps = NULL;
	struct ptls		*p;
	unsigned char		 kn[16];
	int			 i;

	/* the keys are the connection's set's, whichever context it has */
	if ((p = SSL_get_ex_data(ssl, ptls_ssl_index)) != NULL)
		ps = p->p_server;
	if (ps == NULL || ps->ps_keys[0].tk_rev == 0)
		return (enc ? -1 : 0);
	if (enc) {
		ptls_ticket_name(&ps->ps_keys[0], name);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
		    ptls_ticket_keys(&ps->ps_keys[0], cctx, hctx, iv, 1) == -1)
			return (-1);
		return (1);
	}
	for (i = 0; i < 2; i++) {
		if (ps->ps_keys[i].tk_rev == 0)
			continue;
		ptls_ticket_name(&ps->ps_keys[i], kn);
		if (memcmp(kn, name, sizeof(kn)) != 0)
			continue;
		if (ptls_ticket_keys(&ps->ps_keys[i], cctx, hctx, iv, 0) == -1)
			return (-1);
		return (2);
	}
	return (0);
}

/* The certificate for the name the client sent (certs_sni_pick()). */
static int
ptls_servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct ptls_server	*ps;
	struct ptls		*p;
	const char		*sni;
	unsigned int		 i;

	if ((p = SSL_get_ex_data(ssl, ptls_ssl_index)) == NULL ||
	    (ps = p->p_server) == NULL ||
	    (sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) ==
	    NULL)
		return (SSL_TLSEXT_ERR_NOACK);
	if ((i = certs_sni_pick(ps->ps_sni, sni)) == 0)
		return (SSL_TLSEXT_ERR_OK);
	/* the switch takes the new context's stores: the policy's again */
	if (SSL_set_SSL_CTX(ssl, ps->ps_ctx[i]) == NULL ||
	    (p->p_store != NULL &&
	    SSL_set1_verify_cert_store(ssl, p->p_store) != 1)) {
		ERR_clear_error();
		*alert = SSL_AD_INTERNAL_ERROR;
		return (SSL_TLSEXT_ERR_ALERT_FATAL);
	}
	p->p_pair = i;
	return (SSL_TLSEXT_ERR_OK);
}

/*
 * A client that asks for the certificate's status gets the chosen
 * pair's response, if it has one; OpenSSL frees the copy.
 */
static int
ptls_status_cb(SSL *ssl, void *arg)
{
	struct ptls_server	*ps;
	struct ptls		*p;
	struct ptls_staple	*st;
	unsigned char		*der;

	if ((p = SSL_get_ex_data(ssl, ptls_ssl_index)) == NULL ||
	    (ps = p->p_server) == NULL ||
	    (unsigned int)p->p_pair >= ps->ps_npairs)
		return (SSL_TLSEXT_ERR_NOACK);
	st = &ps->ps_staples[p->p_pair];
	if (st->st_len == 0 ||
	    (der = OPENSSL_memdup(st->st_der, st->st_len)) == NULL)
		return (SSL_TLSEXT_ERR_NOACK);
	if (SSL_set_tlsext_status_ocsp_resp(ssl, der, st->st_len) != 1) {
		OPENSSL_free(der);
		ERR_clear_error();
		return (SSL_TLSEXT_ERR_NOACK);
	}
	return (SSL_TLSEXT_ERR_OK);
}

/* The server's order wins; no common protocol is no ALPN, not an alert. */
static int
ptls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct ptls_server	*ps;
	struct ptls		*p;
	unsigned char		*sel;

	if ((p = SSL_get_ex_data(ssl, ptls_ssl_index)) == NULL ||
	    (ps = p->p_server) == NULL)
		return (SSL_TLSEXT_ERR_NOACK);
	if (SSL_select_next_proto(&sel, outlen, ps->ps_alpn, ps->ps_alpnlen,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

/*
 * Client certificates.  The policy is chosen as the client hello comes,
 * from the name the client asks for, before libssl looks at a session
 * to resume (the certificate is chosen later, ptls_servername_cb()): a
 * session is only ever looked at under its own policy's context.
 */
struct ptls_auth *
ptls_auth_new(enum ptls_verify mode, const char *ca, size_t calen,
    char *err, size_t errlen)
{
	struct ptls_auth	*pa;
	BIO			*bio = NULL;
	X509			*x = NULL;
	X509_NAME		*name;
	EVP_MD_CTX		*md = NULL;
	unsigned char		 m = mode;
	int			 n = 0;

	if (ptls_init() == -1 || (mode != PTLS_VERIFY_OPTIONAL &&
	    mode != PTLS_VERIFY_REQUIRED)) {
		(void)snprintf(err, errlen, "cannot set up the library");
		return (NULL);
	}
	if ((pa = calloc(1, sizeof(*pa))) == NULL ||
	    (pa->pa_store = X509_STORE_new()) == NULL ||
	    (pa->pa_names = sk_X509_NAME_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(ca, calen)) == NULL)
		goto fail;
	pa->pa_mode = mode;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(pa->pa_store, x) != 1 ||
		    (name = X509_NAME_dup(X509_get_subject_name(x))) == NULL)
			goto fail;
		if (sk_X509_NAME_push(pa->pa_names, name) == 0) {
			X509_NAME_free(name);
			goto fail;
		}
		X509_free(x);
		n++;
	}
	/* the end of the bundle, or a block that is not a certificate */
	if (ERR_GET_LIB(ERR_peek_last_error()) != ERR_LIB_PEM ||
	    ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		goto fail;
	ERR_clear_error();
	if (n == 0) {
		(void)snprintf(err, errlen, "no certificate in it");
		goto done;
	}
	ptls_auth_names_fit(pa);
	/* the mode too: a session made where a certificate was optional
	   must not pass where one is required */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, ptls_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(md, &m, 1) != 1 ||
	    EVP_DigestUpdate(md, ca, calen) != 1 ||
	    EVP_DigestFinal_ex(md, pa->pa_id, NULL) != 1)
		goto fail;
	EVP_MD_CTX_free(md);
	BIO_free(bio);
	return (pa);
 fail:
	if (ERR_peek_error() == 0)
		(void)snprintf(err, errlen, "out of memory");
	else
		ptls_errstr(err, errlen, "bad certificate");
 done:
	EVP_MD_CTX_free(md);
	X509_free(x);
	BIO_free(bio);
	ptls_auth_free(pa);
	return (NULL);
}

void
ptls_auth_free(struct ptls_auth *pa)
{
	if (pa == NULL)
		return;
	X509_STORE_free(pa->pa_store);
	sk_X509_NAME_pop_free(pa->pa_names, X509_NAME_free);
	free(pa);
}

const unsigned char *
ptls_auth_id(const struct ptls_auth *pa)
{
	return (pa->pa_id);
}

/*
 * The CA names go to the client in the certificate request, in a list
 * of at most 64 KiB, and some clients take less: a bundle whose names
 * pass PTLS_CA_NAMES_MAX sends none, and clients then offer whichever
 * certificate they have.
 */
static void
ptls_auth_names_fit(struct ptls_auth *pa)
{
	size_t	 total = 0;
	int	 i, len;

	for (i = 0; i < sk_X509_NAME_num(pa->pa_names); i++) {
		if ((len = i2d_X509_NAME(sk_X509_NAME_value(pa->pa_names, i),
		    NULL)) <= 0 || (total += 2 + len) > PTLS_CA_NAMES_MAX) {
			sk_X509_NAME_pop_free(pa->pa_names, X509_NAME_free);
			pa->pa_names = NULL;
			ERR_clear_error();
			return;
		}
	}
}

/*
 * The host name in a client hello, in lower case: 1, or 0 without one,
 * or -1 if it is malformed (libssl refuses the hello then).  One entry
 * of type host_name, no NUL, as libssl takes it.
 */
static int
ptls_hello_name(SSL *ssl, char *name, size_t size)
{
	const unsigned char	*d;
	size_t			 len, n, i;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &d,
	    &len) != 1)
		return (0);
	if (len < 5 || (size_t)(d[0] << 8 | d[1]) != len - 2 ||
	    d[2] != TLSEXT_NAMETYPE_host_name)
		return (-1);
	n = d[3] << 8 | d[4];
	if (n == 0 || n != len - 5 || n >= size)
		return (-1);
	for (i = 0; i < n; i++) {
		if (d[5 + i] == '\0')
			return (-1);
		name[i] = d[5 + i] >= 'A' && d[5 + i] <= 'Z' ?
		    d[5 + i] - 'A' + 'a' : d[5 + i];
	}
	name[n] = '\0';
	return (1);
}

/*
 * Ask for a certificate as pa says.  The session-id context is the
 * shared one's digest with the policy's id: a ticket made under another
 * policy (or none, or another CA bundle) does not resume here, in TLS
 * 1.2 or 1.3, and the client makes a full handshake, certificate and
 * all.  The CA names are the connection's copy: libssl frees them.
 */
static int
ptls_auth_apply(struct ptls *p, const struct ptls_auth *pa)
{
	STACK_OF(X509_NAME)	*names = NULL;
	unsigned char		 in[sizeof(p->p_server->ps_keys[0].tk_sessid) +
				    PTLS_AUTH_ID_LEN];
	unsigned char		 sid[SSL_MAX_SID_CTX_LENGTH];
	int			 required = pa->pa_mode == PTLS_VERIFY_REQUIRED;

	memcpy(in, p->p_server->ps_keys[0].tk_sessid,
	    sizeof(p->p_server->ps_keys[0].tk_sessid));
	memcpy(in + sizeof(p->p_server->ps_keys[0].tk_sessid), pa->pa_id,
	    PTLS_AUTH_ID_LEN);
	if (EVP_Digest(in, sizeof(in), sid, NULL, ptls_sha256, NULL) != 1 ||
	    SSL_set_session_id_context(p->p_ssl, sid, sizeof(sid)) != 1 ||
	    SSL_set1_verify_cert_store(p->p_ssl, pa->pa_store) != 1 ||
	    (pa->pa_names != NULL &&
	    (names = SSL_dup_CA_list(pa->pa_names)) == NULL) ||
	    X509_STORE_up_ref(pa->pa_store) != 1)
		return (-1);
	if (pa->pa_names != NULL)
		SSL_set_client_CA_list(p->p_ssl, names);
	SSL_set_verify(p->p_ssl, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
	    (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
	    required ? NULL : ptls_verify_optional);
	X509_STORE_free(p->p_store);	/* a second hello's, after HRR */
	p->p_store = pa->pa_store;
	p->p_asked = 1;
	memcpy(p->p_authid, pa->pa_id, sizeof(p->p_authid));
	return (0);
}

/* The client's name, its policy, before anything else is decided. */
static int
ptls_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct ptls		*p;
	const struct ptls_auth	*pa;
	char			 name[NAME_MAX_LEN];
	int			 sni;

	if ((p = SSL_get_ex_data(ssl, ptls_ssl_index)) == NULL ||
	    p->p_server == NULL || p->p_server->ps_auth == NULL)
		return (SSL_CLIENT_HELLO_SUCCESS);
	if ((sni = ptls_hello_name(ssl, name, sizeof(name))) == -1) {
		*alert = SSL_AD_DECODE_ERROR;
		return (SSL_CLIENT_HELLO_ERROR);
	}
	if ((pa = p->p_server->ps_auth(sni ? name : NULL)) == NULL)
		return (SSL_CLIENT_HELLO_SUCCESS);
	if (ptls_auth_apply(p, pa) == -1) {
		ERR_clear_error();
		*alert = SSL_AD_INTERNAL_ERROR;
		return (SSL_CLIENT_HELLO_ERROR);
	}
	return (SSL_CLIENT_HELLO_SUCCESS);
}

/*
 * "optional": a certificate that does not verify does not end the
 * handshake; the verdict stays in the connection (and its session),
 * and ptls_peer_check() takes the client for one without.
 */
static int
ptls_verify_optional(int ok, X509_STORE_CTX *xs)
{
	return (1);
}

/*
 * The subject as RFC 2253 prints it, with control characters and bytes
 * past ASCII escaped (\XX), so it is a safe header value; one that does
 * not fit is left empty, never cut, which would make another name.
 */
static int
ptls_peer_subject(X509 *x, char *out, size_t outlen)
{
	BIO	*bio;
	char	*data;
	long	 len, i;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return (-1);
	if (X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) < 0) {
		BIO_free(bio);
		return (-1);
	}
	len = BIO_get_mem_data(bio, &data);
	if (len >= 0 && (size_t)len < outlen) {
		for (i = 0; i < len; i++)
			out[i] = (unsigned char)data[i] < 0x20 ||
			    data[i] == 0x7f ? '?' : data[i];
		out[len] = '\0';
	}
	BIO_free(bio);
	return (0);
}

/*
 * Once a connection, as its handshake ends (a resumed one too: the
 * session carries the certificate and its verdict): what the client
 * proved.  -1 only when memory is short: the handshake fails then,
 * rather than go on as if the client had proved nothing.
 */
static int
ptls_peer_check(struct ptls *p)
{
	static const char	 hex[] = "0123456789abcdef";
	struct ptls_verified	*pv;
	X509			*x;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;

	if ((x = SSL_get0_peer_certificate(p->p_ssl)) == NULL ||
	    SSL_get_verify_result(p->p_ssl) != X509_V_OK)
		return (0);
	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		return (-1);
	if (X509_digest(x, ptls_sha256, md, &mdlen) != 1 ||
	    mdlen * 2 != PTLS_FINGERPRINT_LEN ||
	    ptls_peer_subject(x, pv->pv_subject,
	    sizeof(pv->pv_subject)) == -1) {
		ERR_clear_error();
		free(pv);
		return (-1);
	}
	for (i = 0; i < mdlen; i++) {
		pv->pv_fingerprint[2 * i] = hex[md[i] >> 4];
		pv->pv_fingerprint[2 * i + 1] = hex[md[i] & 0xf];
	}
	p->p_verified = pv;
	return (0);
}

/* The policy the handshake asked a certificate under; NULL if none. */
const unsigned char *
ptls_peer_auth(struct ptls *p)
{
	return (p->p_asked ? p->p_authid : NULL);
}

/* What the handshake verified; NULL if no certificate was. */
const struct ptls_verified *
ptls_peer_verified(struct ptls *p)
{
	return (p->p_verified);
}

static struct ptls *
ptls_new(SSL_CTX *ctx, int fd)
{
	struct ptls	*p;

	BIO		*bio;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	if ((p->p_ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_ex_data(p->p_ssl, ptls_ssl_index, p) != 1 ||
	    (bio = BIO_new(ptls_sock)) == NULL) {
		ERR_clear_error();
		ptls_free(p);
		return (NULL);
	}
	BIO_set_fd(bio, fd, BIO_NOCLOSE);
	BIO_set_data(bio, p);	/* the socket BIO keeps nothing there */
	SSL_set_bio(p->p_ssl, bio, bio);
	return (p);
}

struct ptls *
ptls_accept(struct ptls_server *ps, int fd)
{
	struct ptls	*p;

	if ((p = ptls_new(ps->ps_ctx[0], fd)) == NULL)
		return (NULL);
	p->p_server = ps;	/* the caller holds the set for the handshake */
	SSL_set_accept_state(p->p_ssl);
	/* a handshake's buffers go as soon as they are empty */
	SSL_set_mode(p->p_ssl, SSL_MODE_RELEASE_BUFFERS);
	return (p);
}

/* The CA bundle's certificates into ctx's store, from memory. */
static int
ptls_client_ca(SSL_CTX *ctx, const char *ca, size_t calen)
{
	X509_STORE	*store = SSL_CTX_get_cert_store(ctx);
	BIO		*bio;
	X509		*x;
	int		 n = 0;

	if ((bio = BIO_new_mem_buf(ca, calen)) == NULL)
		return (-1);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	return (n > 0 ? 0 : -1);
}

/* A client context with portero's settings, and nothing to trust yet. */
static struct ptls_client *
ptls_client_alloc(int verify, char *err, size_t errlen)
{
	struct ptls_client	*pc;

	if ((pc = calloc(1, sizeof(*pc))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	pc->pc_verify = verify;
	if ((pc->pc_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(pc->pc_ctx, TLS1_2_VERSION) != 1) {
		ptls_errstr(err, errlen, "client context");
		ptls_client_free(pc);
		return (NULL);
	}
	SSL_CTX_set_options(pc->pc_ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(pc->pc_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(pc->pc_ctx, verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	/*
	 * No cache inside OpenSSL: sessions go to the connection, and from
	 * it to its owner, who knows which backend and name they are for.
	 * A TLS 1.3 ticket comes after the handshake: the callback sees it.
	 */
	SSL_CTX_set_session_cache_mode(pc->pc_ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(pc->pc_ctx, ptls_client_session_cb);
	pc->pc_serial = ++ptls_client_serial;
	return (pc);
}

/* Once per worker: the CA bundle parsed once, not per connection. */
struct ptls_client *
ptls_client_new(const char *ca, size_t calen, int verify, char *err,
    size_t errlen)
{
	struct ptls_client	*pc;

	if ((pc = ptls_client_alloc(verify, err, errlen)) == NULL)
		return (NULL);
	if (verify && ptls_client_ca(pc->pc_ctx, ca, calen) == -1) {
		(void)snprintf(err, errlen, "no certificate in the CA bundle");
		ptls_client_free(pc);
		return (NULL);
	}
	return (pc);
}

/* Never ask for a passphrase: a daemon has no one to ask. */
static int
ptls_nopass(char *buf, int size, int rwflag, void *arg)
{
	return (-1);
}

/* A certificate chain and its key, from memory, for ctx to present. */
static int
ptls_client_pair(SSL_CTX *ctx, const char *cert, size_t certlen,
    const char *key, size_t keylen)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pkey = NULL;
	int		 rv = -1;

	if ((bio = BIO_new_mem_buf(cert, certlen)) == NULL)
		return (-1);
	if ((x = PEM_read_bio_X509(bio, NULL, ptls_nopass, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1)
		goto done;
	X509_free(x);
	while ((x = PEM_read_bio_X509(bio, NULL, ptls_nopass, NULL)) !=
	    NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			goto done;
	ERR_clear_error();	/* the end of the chain */
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(key, keylen)) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(bio, NULL, ptls_nopass,
	    NULL)) == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto done;
	rv = 0;
 done:
	X509_free(x);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return (rv);
}

/*
 * A context that verifies as base does (its CA store is shared, not
 * parsed again) and presents a certificate to servers that ask for one.
 */
struct ptls_client *
ptls_client_keypair(const struct ptls_client *base, const char *cert,
    size_t certlen, const char *key, size_t keylen, char *err,
    size_t errlen)
{
	struct ptls_client	*pc;

	if ((pc = ptls_client_alloc(base->pc_verify, err, errlen)) == NULL)
		return (NULL);
	if (base->pc_verify)
		SSL_CTX_set1_cert_store(pc->pc_ctx,
		    SSL_CTX_get_cert_store(base->pc_ctx));
	if (ptls_client_pair(pc->pc_ctx, cert, certlen, key, keylen) == -1) {
		ptls_errstr(err, errlen, "client certificate");
		ptls_client_free(pc);
		return (NULL);
	}
	ERR_clear_error();
	return (pc);
}

void
ptls_client_free(struct ptls_client *pc)
{
	if (pc == NULL)
		return;
	SSL_CTX_free(pc->pc_ctx);
	free(pc);
}

/* SNI for a name, never for an address; the peer must be that name. */
struct ptls *
ptls_connect(struct ptls_client *pc, int fd, const char *servername,
    char *err, size_t errlen)
{
	struct ptls	*p;
	struct in6_addr	 a6;
	int		 ip;

	if ((p = ptls_new(pc->pc_ctx, fd)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	ip = inet_pton(AF_INET, servername, &a6) == 1 ||
	    inet_pton(AF_INET6, servername, &a6) == 1;
	if ((!ip && SSL_set_tlsext_host_name(p->p_ssl, servername) != 1) ||
	    (pc->pc_verify && !ip && SSL_set1_host(p->p_ssl, servername) !=
	    1) || (pc->pc_verify && ip && X509_VERIFY_PARAM_set1_ip_asc(
	    SSL_get0_param(p->p_ssl), servername) != 1)) {
		ptls_errstr(err, errlen, servername);
		ptls_free(p);
		return (NULL);
	}
	p->p_serial = pc->pc_serial;
	SSL_set_connect_state(p->p_ssl);
	return (p);
}

/* A session from the server: the connection keeps the newest. */
static int
ptls_client_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct ptls	*p;

	if ((p = SSL_get_ex_data(ssl, ptls_ssl_index)) == NULL)
		return (0);
	SSL_SESSION_free(p->p_sess);
	p->p_sess = sess;
	return (1);		/* the reference is ours */
}

/*
 * Offer a session before the handshake.  One from another client
 * context, or one no longer good, fails with EINVAL: drop it.  Each
 * connection gets a copy: OpenSSL marks the session of a connection
 * that ends with a fatal alert not resumable, and one such connection
 * in a burst would otherwise spoil it for every other until a new
 * ticket comes.
 */
int
ptls_session_offer(struct ptls *p, struct ptls_session *pe)
{
	SSL_SESSION	*copy;
	int		 ok;

	if (pe->pe_serial != p->p_serial ||
	    !SSL_SESSION_is_resumable(pe->pe_sess)) {
		errno = EINVAL;
		return (-1);
	}
	if ((copy = SSL_SESSION_dup(pe->pe_sess)) == NULL) {
		ERR_clear_error();
		return (0);	/* a full handshake, this once */
	}
	ok = SSL_set_session(p->p_ssl, copy);
	SSL_SESSION_free(copy);
	if (ok != 1) {
		ERR_clear_error();
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* The newest session the server gave, if any, now the caller's. */
struct ptls_session *
ptls_session_take(struct ptls *p)
{
	struct ptls_session	*pe;

	if (p->p_sess == NULL || (pe = malloc(sizeof(*pe))) == NULL)
		return (NULL);
	pe->pe_sess = p->p_sess;
	pe->pe_serial = p->p_serial;
	p->p_sess = NULL;
	return (pe);
}

void
ptls_session_free(struct ptls_session *pe)
{
	if (pe == NULL)
		return;
	SSL_SESSION_free(pe->pe_sess);
	free(pe);
}

/* A failure of portero's own, in the connection's error string. */
static void
ptls_fail(struct ptls *p, const char *why)
{
	if (p->p_err == NULL && (p->p_err = malloc(PTLS_ERRLEN)) == NULL)
		return;
	(void)strlcpy(p->p_err, why, PTLS_ERRLEN);
}

/*
 * What an I/O call's result means.  A failure's reason goes into the
 * connection's error string and the queue is emptied.
 */
static int
ptls_result(struct ptls *p, int rv, const char *what)
{
	int	 e, saved = errno;

	switch ((e = SSL_get_error(p->p_ssl, rv))) {
	case SSL_ERROR_WANT_READ:
		return (PTLS_WANT_READ);
	case SSL_ERROR_WANT_WRITE:
		return (PTLS_WANT_WRITE);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	}
	/* most connections never fail: their string is made now */
	if (p->p_err == NULL && (p->p_err = malloc(PTLS_ERRLEN)) == NULL) {
		ERR_clear_error();
		return (-1);
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		(void)snprintf(p->p_err, PTLS_ERRLEN, "%s: %s", what,
		    saved != 0 ? strerror(saved) : "connection closed");
	else if (e == SSL_ERROR_SSL &&
	    SSL_get_verify_result(p->p_ssl) != X509_V_OK) {
		(void)snprintf(p->p_err, PTLS_ERRLEN, "%s: certificate: %s",
		    what, X509_verify_cert_error_string(
		    SSL_get_verify_result(p->p_ssl)));
		ERR_clear_error();
	} else
		ptls_errstr(p->p_err, PTLS_ERRLEN, what);
	return (-1);
}

int
ptls_handshake(struct ptls *p)
{
	int	 rv;

	if (p->p_handshaken)
		return (0);
	if ((rv = SSL_do_handshake(p->p_ssl)) == 1) {
		if (p->p_asked && ptls_peer_check(p) == -1) {
			ptls_fail(p, "handshake: out of memory");
			return (-1);
		}
		p->p_handshaken = 1;
		/* ... but a transfer keeps its own, at no malloc a record */
		SSL_clear_mode(p->p_ssl, SSL_MODE_RELEASE_BUFFERS);
		return (0);
	}
	errno = 0;
	rv = ptls_result(p, rv, "handshake");
	if (rv == 0)	/* the peer closed: say so, as a read would */
		ptls_fail(p, "handshake: connection closed");
	return (rv == 0 ? -1 : rv);
}

/* The peer's close, with close_notify or without, reads as 0. */
ssize_t
ptls_read(struct ptls *p, void *buf, size_t len)
{
	size_t	 n;
	int	 rv;

	if ((rv = SSL_read_ex(p->p_ssl, buf, len, &n)) == 1)
		return ((ssize_t)n);
	errno = 0;
	return (ptls_result(p, rv, "read"));
}

/*
 * Did the last read empty the socket, with nothing left in the library?
 * Then an edge-triggered owner may wait for the next event instead of
 * reading again only to hear EAGAIN: one read call a request less.
 */
int
ptls_drained(struct ptls *p)
{
	return (p->p_short && !SSL_has_pending(p->p_ssl));
}

ssize_t
ptls_write(struct ptls *p, const void *buf, size_t len)
{
	size_t	 n;
	int	 rv;

	if ((rv = SSL_write_ex(p->p_ssl, buf, len, &n)) == 1)
		return ((ssize_t)n);
	errno = 0;
	rv = ptls_result(p, rv, "write");
	return (rv == 0 ? -1 : rv);
}

/* close_notify, best effort: never wait for the peer's. */
int
ptls_close(struct ptls *p)
{
	int	 rv;

	if (!p->p_handshaken || (SSL_get_shutdown(p->p_ssl) &
	    SSL_SENT_SHUTDOWN))
		return (0);
	if ((rv = SSL_shutdown(p->p_ssl)) >= 0)
		return (0);
	rv = ptls_result(p, rv, "close");
	return (rv == 0 ? 0 : rv);
}

void
ptls_free(struct ptls *p)
{
	if (p == NULL)
		return;
	SSL_free(p->p_ssl);
	free(p->p_err);
	SSL_SESSION_free(p->p_sess);
	X509_STORE_free(p->p_store);
	free(p->p_verified);
	free(p);
}

const char *
ptls_error(struct ptls *p)
{
	if (p == NULL || p->p_err == NULL || p->p_err[0] == '\0')
		return ("unknown error");
	return (p->p_err);
}

const char *
ptls_servername(struct ptls *p)
{
	return (SSL_get_servername(p->p_ssl, TLSEXT_NAMETYPE_host_name));
}

const char *
ptls_alpn(struct ptls *p)
{
	static char	 alpn[256];
	const unsigned char *sel;
	unsigned int	 len;

	SSL_get0_alpn_selected(p->p_ssl, &sel, &len);
	if (sel == NULL || len == 0)
		return (NULL);
	memcpy(alpn, sel, len);
	alpn[len] = '\0';
	return (alpn);
}

const char *
ptls_version(struct ptls *p)
{
	return (SSL_get_version(p->p_ssl));
}

const char *
ptls_cipher(struct ptls *p)
{
	return (SSL_get_cipher_name(p->p_ssl));
}

int
ptls_resumed(struct ptls *p)
{
	return (SSL_session_reused(p->p_ssl));
}

/*
 * A connection with nothing to do gives back its record buffers (34 KiB
 * or so); the next read or write takes new ones.  Refused while data is
 * buffered: then at the next idle point.
 */
int
ptls_idle(struct ptls *p)
{
	if (SSL_free_buffers(p->p_ssl) != 1) {
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

/* The pair the SNI callback chose: the default unless it switched. */
int
ptls_pair_index(struct ptls *p)
{
	return (p->p_pair);
}
