/*
 * poolca.c: the CA bundles pools verify their TLS backends against
 * ("tls-ca"): read and numbered by the parent, made contexts in children.
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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

/*
 * A child's bundles: those in service (each with its context), and a
 * set being received, which replaces it at CFG_DONE.
 */
static struct {
	struct pool_ca_set	*pw_cur;
	struct pool_ca_set	*pw_in;
	size_t			 pw_off;	/* of its last bundle, so far */
	int			 pw_ready;	/* pw_in is whole */
} pw;

struct pool_ca_set *
poolca_new(void)
{
	return (calloc(1, sizeof(struct pool_ca_set)));
}

void
poolca_free(struct pool_ca_set *pcs)
{
	unsigned int	 i;

	if (pcs == NULL)
		return;
	for (i = 0; i < pcs->pcs_n; i++) {
		free(pcs->pcs_ca[i].pca_pem);
		upstream_tls_unref(pcs->pcs_ca[i].pca_tls);
	}
	free(pcs);
}

/*
 * Client contexts are numbered, the global one's and the pools', so that
 * a pooled connection or a session made with one is never taken for
 * another.
 */
unsigned int
upstream_tls_newgen(void)
{
	static unsigned int	 gen;

	return (++gen);
}

void
upstream_tls_ref(struct upstream_tls *ut)
{
	if (ut != NULL)
		ut->ut_refs++;
}

/* Connections made with it keep the library's context to their end. */
void
upstream_tls_unref(struct upstream_tls *ut)
{
	if (ut == NULL)
		return;
	if (ut->ut_refs == 0)
		fatalx("upstream TLS reference count underflow");
	if (--ut->ut_refs > 0)
		return;
	ptls_client_free(ut->ut_pc);
	free(ut);
}

/* The file at path, whole, or the reason in err. */
static char *
poolca_read(const char *path, size_t *lenp, char *err, size_t errlen)
{
	char	*buf;

	if ((buf = config_read_file(path, POOL_CA_FILE_MAX, lenp)) != NULL)
		return (buf);
	if (errno == EINVAL)
		(void)snprintf(err, errlen, "tls-ca %s: not a regular file",
		    path);
	else if (errno == EFBIG)
		(void)snprintf(err, errlen, "tls-ca %s: larger than 1 MB",
		    path);
	else
		(void)snprintf(err, errlen, "tls-ca %s: %s", path,
		    strerror(errno));
	return (NULL);
}

/*
 * Parent: the bundle of the file at path, for a pool.  Each file is
 * read once per configuration however many pools name it, and parsed
 * as the children will parse it, so that a bad one is an error of the
 * file's line and never a child's.
 */
int
poolca_add(struct pool_ca_set *pcs, const char *path, unsigned int *index,
    char *err, size_t errlen)
{
	struct pool_ca		*pca;
	struct ptls_client	*pc;
	char			*pem, why[256];
	size_t			 len;
	unsigned int		 i;

	for (i = 0; i < pcs->pcs_n; i++)
		if (strcmp(pcs->pcs_ca[i].pca_path, path) == 0) {
			*index = i;
			return (0);
		}
	if (pcs->pcs_n >= POOL_CA_FILES) {
		(void)snprintf(err, errlen, "more than %d tls-ca files",
		    POOL_CA_FILES);
		return (-1);
	}
	if (strlen(path) >= sizeof(pca->pca_path)) {
		(void)snprintf(err, errlen, "tls-ca file name too long");
		return (-1);
	}
	if ((pem = poolca_read(path, &len, err, errlen)) == NULL)
		return (-1);
	if (pcs->pcs_bytes + len > POOL_CA_TOTAL_MAX) {
		(void)snprintf(err, errlen, "tls-ca %s: the tls-ca files come "
		    "to more than 1 MB", path);
		goto fail;
	}
	/* libtls takes any bytes here, and fails each handshake later */
	if (memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27) == NULL) {
		(void)snprintf(err, errlen, "tls-ca %s: no certificate in it",
		    path);
		goto fail;
	}
	if ((pc = ptls_client_new(pem, len, 1, why, sizeof(why))) == NULL) {
		(void)snprintf(err, errlen, "tls-ca %s: %s", path, why);
		goto fail;
	}
	ptls_client_free(pc);
	pca = &pcs->pcs_ca[pcs->pcs_n];
	(void)strlcpy(pca->pca_path, path, sizeof(pca->pca_path));
	pca->pca_pem = pem;
	pca->pca_len = len;
	pcs->pcs_bytes += len;
	*index = pcs->pcs_n++;
	return (0);
 fail:
	free(pem);
	return (-1);
}

/*
 * Parent, as a configuration is taken: each bundle of new gets the
 * number of the same file with the same bytes in old, else a new one
 * (*last counts them).  Returns 1 when new differs from old, so that
 * the children are sent it, else 0.
 */
int
poolca_number(const struct pool_ca_set *old, struct pool_ca_set *new,
    uint32_t *last)
{
	const struct pool_ca	*o;
	struct pool_ca		*n;
	unsigned int		 i, j, nold, nnew;
	int			 changed;

	nold = old != NULL ? old->pcs_n : 0;
	nnew = new != NULL ? new->pcs_n : 0;
	changed = nold != nnew;
	for (i = 0; i < nnew; i++) {
		n = &new->pcs_ca[i];
		for (j = 0; j < nold; j++) {
			o = &old->pcs_ca[j];
			if (strcmp(o->pca_path, n->pca_path) == 0 &&
			    o->pca_len == n->pca_len &&
			    memcmp(o->pca_pem, n->pca_pem, n->pca_len) == 0)
				break;
		}
		if (j < nold)
			n->pca_id = old->pcs_ca[j].pca_id;
		else
			n->pca_id = ++*last;
		if (j != i)
			changed = 1;
	}
	return (changed);
}

/*
 * POOL_CA, a bundle of the set.  The first begins a new set; the
 * others come in order, each after the last one is whole.
 */
static int
poolca_begin(const struct pool_ca_msg *pcm)
{
	struct pool_ca_set	*in;
	struct pool_ca		*pca;

	if (pcm->pcm_index == 0) {
		poolca_free(pw.pw_in);
		pw.pw_ready = 0;
		if ((pw.pw_in = poolca_new()) == NULL)
			fatal("tls-ca");
	}
	if ((in = pw.pw_in) == NULL || pw.pw_ready ||
	    pcm->pcm_index != in->pcs_n || (in->pcs_n > 0 &&
	    in->pcs_ca[in->pcs_n - 1].pca_len != pw.pw_off) ||
	    pcm->pcm_len > POOL_CA_TOTAL_MAX - in->pcs_bytes)
		return (-1);
	pca = &in->pcs_ca[in->pcs_n++];
	(void)strlcpy(pca->pca_path, pcm->pcm_path, sizeof(pca->pca_path));
	if ((pca->pca_pem = malloc(pcm->pcm_len)) == NULL)
		fatal("tls-ca %s", pcm->pcm_path);
	pca->pca_len = pcm->pcm_len;
	pca->pca_id = pcm->pcm_id;
	in->pcs_bytes += pcm->pcm_len;
	pw.pw_off = 0;
	return (0);
}

/* POOL_CA_DATA: the next bytes of the last bundle, never more. */
static int
poolca_data(const void *data, size_t len)
{
	struct pool_ca_set	*in = pw.pw_in;
	struct pool_ca		*pca;

	if (in == NULL || pw.pw_ready || in->pcs_n == 0)
		return (-1);
	pca = &in->pcs_ca[in->pcs_n - 1];
	if (len > pca->pca_len - pw.pw_off)
		return (-1);
	memcpy(pca->pca_pem + pw.pw_off, data, len);
	pw.pw_off += len;
	return (0);
}

/* POOL_CA_END: the set is whole; it waits for CFG_DONE. */
static int
poolca_end(uint32_t count)
{
	struct pool_ca_set	*in;

	if (count == 0) {
		poolca_free(pw.pw_in);
		if ((pw.pw_in = poolca_new()) == NULL)
			fatal("tls-ca");
	}
	if ((in = pw.pw_in) == NULL || pw.pw_ready || in->pcs_n != count ||
	    (count > 0 && in->pcs_ca[count - 1].pca_len != pw.pw_off))
		return (-1);
	pw.pw_ready = 1;
	return (0);
}

/*
 * A message of the set, in a worker or the health child: 0, or -1 when
 * it is malformed or out of step (the parent is: fatal to them).
 */
int
poolca_message(const struct imsg *imsg)
{
	struct pool_ca_msg	 pcm;
	const void		*data;
	size_t			 len;
	uint32_t		 count;

	switch (imsg->hdr.type) {
	case IMSG_POOL_CA:
		if (config_getpoolca(imsg, &pcm) == -1)
			return (-1);
		return (poolca_begin(&pcm));
	case IMSG_POOL_CA_DATA:
		if (config_getpoolcadata(imsg, &data, &len) == -1)
			return (-1);
		return (poolca_data(data, len));
	case IMSG_POOL_CA_END:
		if (config_getpoolcaend(imsg, &count) == -1)
			return (-1);
		return (poolca_end(count));
	}
	return (-1);
}

/*
 * The context of a bundle, parsed once here.  One that does not parse
 * (the parent parsed it: memory is short) is a context without a
 * client, and its pools' TLS backends are refused, never verified
 * against another bundle.
 */
static struct upstream_tls *
poolca_build(struct pool_ca *pca)
{
	struct upstream_tls	*ut;
	char			 err[256];

	if ((ut = calloc(1, sizeof(*ut))) == NULL)
		fatal("tls-ca %s", pca->pca_path);
	ut->ut_refs = 1;
	ut->ut_gen = upstream_tls_newgen();
	if ((ut->ut_pc = ptls_client_new(pca->pca_pem, pca->pca_len, 1, err,
	    sizeof(err))) == NULL)
		log_warnx("tls-ca %s: %s; its pools' TLS backends are "
		    "refused", pca->pca_path, err);
	return (ut);
}

/*
 * At CFG_DONE, before the route table is built: a set that came
 * replaces the one in service.  A bundle that stays (the same number)
 * keeps its context, so its pools keep their idle connections and
 * sessions; a new one gets a new context.  Tables built before keep
 * the contexts they hold.
 */
void
poolca_apply(void)
{
	struct pool_ca_set	*cur = pw.pw_cur, *in = pw.pw_in;
	struct pool_ca		*pca;
	unsigned int		 i, j;

	if (!pw.pw_ready)
		return;
	for (i = 0; i < in->pcs_n; i++) {
		pca = &in->pcs_ca[i];
		for (j = 0; cur != NULL && j < cur->pcs_n; j++)
			if (cur->pcs_ca[j].pca_id == pca->pca_id &&
			    cur->pcs_ca[j].pca_tls != NULL) {
				pca->pca_tls = cur->pcs_ca[j].pca_tls;
				cur->pcs_ca[j].pca_tls = NULL;
				break;
			}
		if (pca->pca_tls == NULL)
			pca->pca_tls = poolca_build(pca);
		/* the context is all a child needs */
		free(pca->pca_pem);
		pca->pca_pem = NULL;
	}
	poolca_free(cur);
	pw.pw_cur = in;
	pw.pw_in = NULL;
	pw.pw_ready = 0;
}

/* The context of a pool's pl_tls_ca (index + 1), NULL when none. */
struct upstream_tls *
poolca_tls(uint32_t tls_ca)
{
	if (tls_ca == 0 || pw.pw_cur == NULL || tls_ca > pw.pw_cur->pcs_n)
		return (NULL);
	return (pw.pw_cur->pcs_ca[tls_ca - 1].pca_tls);
}

/* Whether ut is the context of a bundle in service. */
int
poolca_in_service(const struct upstream_tls *ut)
{
	unsigned int	 i;

	for (i = 0; pw.pw_cur != NULL && i < pw.pw_cur->pcs_n; i++)
		if (pw.pw_cur->pcs_ca[i].pca_tls == ut)
			return (1);
	return (0);
}

/* A new route table holds the contexts in service, for its pools. */
int
poolca_table(struct route_table *rt)
{
	unsigned int	 i;

	if (pw.pw_cur == NULL)
		return (0);
	for (i = 0; i < pw.pw_cur->pcs_n; i++) {
		rt->rt_tls[i] = pw.pw_cur->pcs_ca[i].pca_tls;
		upstream_tls_ref(rt->rt_tls[i]);
	}
	rt->rt_ntls = pw.pw_cur->pcs_n;
	return (0);
}
