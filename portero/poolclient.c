/*
 * poolclient.c: in a worker and the health child, the client contexts
 * of pools that present a certificate to their TLS backends: one for
 * each pair (from the certloader) and CA bundle used together.
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
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portero.h"

/* A pair as the certloader sent it; kp_key is secret. */
struct pool_key {
	uint32_t	 kp_id;
	unsigned char	 kp_hash[32];
	char		 kp_path[CONF_PATH_MAX];
	char		*kp_cert;
	size_t		 kp_certlen;
	char		*kp_key;
	size_t		 kp_keylen;
};

/*
 * A context for a pair and a CA bundle: the pool's tls-ca (held, so it
 * stays one object while it is in service), or the global bundle of one
 * number.  Pools that use the same two share it.  When the pair's
 * contents change the context is rebuilt in place with a new number,
 * so that pooled connections and sessions made with the old one are not
 * used again by anyone who holds it.
 */
struct pool_client {
	LIST_ENTRY(pool_client)	 pcl_entry;
	struct upstream_tls	*pcl_tls;	/* one reference is ours */
	struct upstream_tls	*pcl_base;	/* NULL: the global bundle */
	unsigned int		 pcl_basegen;	/* ... of this number */
	uint32_t		 pcl_id;	/* the pair's */
	unsigned char		 pcl_hash[32];	/* what it was built of */
	int			 pcl_built;
};

static struct {
	struct pool_key		 pk_cur[POOL_CERT_PAIRS];
	unsigned int		 pk_ncur;
	struct pool_key		 pk_in[POOL_CERT_PAIRS];
	unsigned int		 pk_nin;
	size_t			 pk_off;	/* of the last pair, so far */
	LIST_HEAD(, pool_client) pk_clients;
} pk = { .pk_clients = LIST_HEAD_INITIALIZER(pk.pk_clients) };

static void
poolclient_key_free(struct pool_key *kp)
{
	free(kp->kp_cert);
	if (kp->kp_key != NULL)
		freezero(kp->kp_key, kp->kp_keylen);
	memset(kp, 0, sizeof(*kp));
}

static void
poolclient_in_reset(void)
{
	while (pk.pk_nin > 0)
		poolclient_key_free(&pk.pk_in[--pk.pk_nin]);
	pk.pk_off = 0;
}

static const struct pool_key *
poolclient_key(uint32_t id)
{
	unsigned int	 i;

	for (i = 0; i < pk.pk_ncur; i++)
		if (pk.pk_cur[i].kp_id == id)
			return (&pk.pk_cur[i]);
	return (NULL);
}

/* Whether the bundle the context verifies with is still in service. */
static int
poolclient_current(const struct pool_client *pcl)
{
	if (pcl->pcl_base != NULL)
		return (poolca_in_service(pcl->pcl_base));
	return (pcl->pcl_basegen == upstream_client_gen());
}

/*
 * The context of pcl, built of kp over its bundle.  One that cannot be
 * (the certloader checked the pair: memory is short) leaves the one in
 * service; without one, its pools' TLS backends are refused.
 */
static void
poolclient_build(struct pool_client *pcl, const struct pool_key *kp)
{
	struct upstream_tls	*ut = pcl->pcl_tls;
	struct ptls_client	*base, *pc;
	char			 err[256];

	if (pcl->pcl_base != NULL)
		base = pcl->pcl_base->ut_pc;
	else
		base = poolclient_current(pcl) ? upstream_client() : NULL;
	if (base == NULL)
		return;		/* no bundle: refused, as without a pair */
	if ((pc = ptls_client_keypair(base, kp->kp_cert, kp->kp_certlen,
	    kp->kp_key, kp->kp_keylen, err, sizeof(err))) == NULL) {
		log_warnx("tls-client-certificate %s: %s; %s", kp->kp_path,
		    err, pcl->pcl_built ? "keeping the one in service" :
		    "its pools' TLS backends are refused");
		return;
	}
	ptls_client_free(ut->ut_pc);
	ut->ut_pc = pc;
	ut->ut_gen = upstream_tls_newgen();
	memcpy(pcl->pcl_hash, kp->kp_hash, sizeof(pcl->pcl_hash));
	pcl->pcl_built = 1;
}

/* The context for base and pair id, made if need be; NULL: no memory. */
static struct pool_client *
poolclient_get(struct upstream_tls *base, uint32_t id)
{
	struct pool_client	*pcl;
	const struct pool_key	*kp;
	unsigned int		 gen = base == NULL ? upstream_client_gen() : 0;

	LIST_FOREACH(pcl, &pk.pk_clients, pcl_entry)
		if (pcl->pcl_id == id && pcl->pcl_base == base &&
		    pcl->pcl_basegen == gen)
			return (pcl);
	if ((pcl = calloc(1, sizeof(*pcl))) == NULL ||
	    (pcl->pcl_tls = calloc(1, sizeof(*pcl->pcl_tls))) == NULL) {
		free(pcl);
		return (NULL);
	}
	pcl->pcl_tls->ut_refs = 1;
	pcl->pcl_tls->ut_gen = upstream_tls_newgen();
	pcl->pcl_base = base;
	upstream_tls_ref(base);
	pcl->pcl_basegen = gen;
	pcl->pcl_id = id;
	if ((kp = poolclient_key(id)) != NULL)
		poolclient_build(pcl, kp);
	LIST_INSERT_HEAD(&pk.pk_clients, pcl, pcl_entry);
	return (pcl);
}

/*
 * A worker's route table: the context of a pool with tls-ca base (NULL:
 * the global bundle) and pair id, held for the caller; NULL: no memory.
 * Until the pair has come from the certloader it has no client, and
 * the pool's TLS backends are refused, never tried without it.
 */
struct upstream_tls *
poolclient_tls(struct upstream_tls *base, uint32_t id)
{
	struct pool_client	*pcl;

	if ((pcl = poolclient_get(base, id)) == NULL)
		return (NULL);
	upstream_tls_ref(pcl->pcl_tls);
	return (pcl->pcl_tls);
}

/* The health child: how a check of a pool's TLS backend connects. */
struct ptls_client *
poolclient_client(uint32_t tls_ca, uint32_t id)
{
	struct upstream_tls	*base = NULL;
	struct pool_client	*pcl;

	if (tls_ca != 0 && (base = poolca_tls(tls_ca)) == NULL)
		return (NULL);
	if ((pcl = poolclient_get(base, id)) == NULL)
		return (NULL);
	return (pcl->pcl_tls->ut_pc);
}

/*
 * Contexts no table holds go once their bundle or their pair is no
 * longer in service: after a configuration, and after a set of pairs.
 */
void
poolclient_prune(void)
{
	struct pool_client	*pcl, *next;

	LIST_FOREACH_SAFE(pcl, &pk.pk_clients, pcl_entry, next) {
		if (pcl->pcl_tls->ut_refs > 1 || (poolclient_current(pcl) &&
		    poolclient_key(pcl->pcl_id) != NULL))
			continue;
		LIST_REMOVE(pcl, pcl_entry);
		upstream_tls_unref(pcl->pcl_tls);
		upstream_tls_unref(pcl->pcl_base);
		free(pcl);
	}
}

/*
 * A whole set has come: it replaces the one in service, and each
 * context whose pair changed is rebuilt (those of old bundles, held by
 * old tables only, are left as they are).
 */
static void
poolclient_apply(void)
{
	struct pool_client	*pcl;
	const struct pool_key	*kp;
	unsigned int		 i;

	for (i = 0; i < pk.pk_ncur; i++)
		poolclient_key_free(&pk.pk_cur[i]);
	memcpy(pk.pk_cur, pk.pk_in, sizeof(pk.pk_cur));
	pk.pk_ncur = pk.pk_nin;
	memset(pk.pk_in, 0, sizeof(pk.pk_in));
	pk.pk_nin = 0;
	pk.pk_off = 0;
	LIST_FOREACH(pcl, &pk.pk_clients, pcl_entry) {
		if ((kp = poolclient_key(pcl->pcl_id)) == NULL ||
		    !poolclient_current(pcl) || (pcl->pcl_built &&
		    memcmp(pcl->pcl_hash, kp->kp_hash,
		    sizeof(kp->kp_hash)) == 0))
			continue;
		poolclient_build(pcl, kp);
		log_debug("tls-client-certificate %s: context rebuilt",
		    kp->kp_path);
	}
	poolclient_prune();
}

/* POOL_CERT: a pair begins; the first begins a set. */
static int
poolclient_begin(const struct pool_cert_msg *pkm)
{
	struct pool_key	*kp;

	if (pkm->pkm_index == 0)
		poolclient_in_reset();
	if (pkm->pkm_index != pk.pk_nin || (pk.pk_nin > 0 &&
	    pk.pk_off != pk.pk_in[pk.pk_nin - 1].kp_certlen +
	    pk.pk_in[pk.pk_nin - 1].kp_keylen))
		return (-1);
	kp = &pk.pk_in[pk.pk_nin++];
	kp->kp_id = pkm->pkm_id;
	memcpy(kp->kp_hash, pkm->pkm_hash, sizeof(kp->kp_hash));
	(void)strlcpy(kp->kp_path, pkm->pkm_path, sizeof(kp->kp_path));
	if ((kp->kp_cert = malloc(pkm->pkm_certlen)) == NULL ||
	    (kp->kp_key = malloc(pkm->pkm_keylen)) == NULL)
		fatal("tls-client-certificate %s", pkm->pkm_path);
	kp->kp_certlen = pkm->pkm_certlen;
	kp->kp_keylen = pkm->pkm_keylen;
	pk.pk_off = 0;
	return (0);
}

/* POOL_CERT_DATA: the next bytes of the last pair, cert then key. */
static int
poolclient_data(const unsigned char *data, size_t len)
{
	struct pool_key	*kp;
	size_t		 n;

	if (pk.pk_nin == 0)
		return (-1);
	kp = &pk.pk_in[pk.pk_nin - 1];
	if (len > kp->kp_certlen + kp->kp_keylen - pk.pk_off)
		return (-1);
	if (pk.pk_off < kp->kp_certlen) {
		n = kp->kp_certlen - pk.pk_off;
		if (n > len)
			n = len;
		memcpy(kp->kp_cert + pk.pk_off, data, n);
		pk.pk_off += n;
		data += n;
		len -= n;
	}
	memcpy(kp->kp_key + (pk.pk_off - kp->kp_certlen), data, len);
	pk.pk_off += len;
	return (0);
}

/*
 * A message of the set, from the certloader: 0, or -1 when it is
 * malformed or out of step (fatal to the child).
 */
int
poolclient_message(const struct imsg *imsg)
{
	struct pool_cert_msg	 pkm;
	const void		*data;
	size_t			 len;
	uint32_t		 count;

	switch (imsg->hdr.type) {
	case IMSG_POOL_CERT:
		if (config_getpoolcert(imsg, &pkm) == -1)
			return (-1);
		return (poolclient_begin(&pkm));
	case IMSG_POOL_CERT_DATA:
		if (config_getpoolcertdata(imsg, &data, &len) == -1)
			return (-1);
		return (poolclient_data(data, len));
	case IMSG_POOL_CERT_END:
		if (config_getpoolcertend(imsg, &count) == -1)
			return (-1);
		if (count == 0)
			poolclient_in_reset();
		if (count != pk.pk_nin || (count > 0 && pk.pk_off !=
		    pk.pk_in[count - 1].kp_certlen +
		    pk.pk_in[count - 1].kp_keylen))
			return (-1);
		poolclient_apply();
		return (0);
	}
	return (-1);
}
