/*
 * poolcert.c: the client certificates pools present to their TLS
 * backends ("tls-client-certificate"): opened and numbered by the
 * parent, read, checked and kept by the certloader.
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
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

/* -n: the operator checks the file; the pairs are read here, then. */
static int	 poolcert_readkeys;

/*
 * The certloader's pairs: those in service (lp_good, under their
 * numbers), and the files of a configuration being received.
 */
struct ld_pair {
	uint32_t		 lp_id;
	char			 lp_cert[CONF_PATH_MAX];
	char			 lp_key[CONF_PATH_MAX];
	char			 lp_where[CONF_PATH_MAX];
	int			 lp_fd[2];	/* cert, key; -1: none */
	struct cert_pair	*lp_good;	/* in service; NULL: none */
	char			 lp_error[CERT_ERROR_LEN];	/* logged */
};

static struct {
	struct ld_pair		 lk_in[POOL_CERT_PAIRS];
	unsigned int		 lk_nin;
	struct ld_pair		 lk_cur[POOL_CERT_PAIRS];
	unsigned int		 lk_ncur;
	int			 lk_sent;	/* a set went out */
} lk;

struct pool_cert_set *
poolcert_new(void)
{
	struct pool_cert_set	*pks;
	unsigned int		 i;

	if ((pks = calloc(1, sizeof(*pks))) == NULL)
		return (NULL);
	for (i = 0; i < POOL_CERT_PAIRS; i++)
		pks->pks_pair[i].pk_certfd = pks->pks_pair[i].pk_keyfd = -1;
	return (pks);
}

void
poolcert_free(struct pool_cert_set *pks)
{
	unsigned int	 i;

	if (pks == NULL)
		return;
	for (i = 0; i < pks->pks_n; i++) {
		if (pks->pks_pair[i].pk_certfd != -1)
			close(pks->pks_pair[i].pk_certfd);
		if (pks->pks_pair[i].pk_keyfd != -1)
			close(pks->pks_pair[i].pk_keyfd);
	}
	free(pks);
}

void
poolcert_checkonly(int on)
{
	poolcert_readkeys = on;
}

/*
 * Parent: one file of a pair, open for the certloader.  The parent
 * never reads it: it checks only that it is a regular file it can
 * open, so that a missing one is an error of the file's line.
 */
static int
poolcert_open(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd;

	if (path[0] != '/') {
		(void)snprintf(err, errlen, "tls-client-certificate \"%s\": "
		    "want an absolute path", path);
		return (-1);
	}
	if (strlen(path) >= CONF_PATH_MAX) {
		(void)snprintf(err, errlen, "tls-client-certificate: file "
		    "name too long");
		return (-1);
	}
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "tls-client-certificate %s: %s",
		    path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errlen, "tls-client-certificate %s: %s",
		    path, strerror(errno));
		close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "tls-client-certificate %s: not a "
		    "regular file", path);
		close(fd);
		return (-1);
	}
	return (fd);
}

/* -n alone: the pair read and checked as the certloader will. */
static int
poolcert_check_now(const struct pool_cert *pk, char *err, size_t errlen)
{
	struct cert_pair	 cp;
	char			 why[CERT_ERROR_LEN];
	int			 rv = -1;

	memset(&cp, 0, sizeof(cp));
	if (certs_init() == -1) {
		(void)snprintf(err, errlen, "tls-client-certificate: cannot "
		    "initialise libcrypto");
		return (-1);
	}
	if (certs_load_client(pk->pk_certfd, pk->pk_keyfd, pk->pk_cert,
	    pk->pk_key, &cp, why, sizeof(why)) == -1 ||
	    certs_check_client(&cp, pk->pk_cert, pk->pk_key, time(NULL), why,
	    sizeof(why)) == -1)
		(void)snprintf(err, errlen, "tls-client-certificate: %s", why);
	else if (cp.cp_certlen > POOL_CERT_FILE_MAX ||
	    cp.cp_keylen > POOL_CERT_FILE_MAX)
		(void)snprintf(err, errlen, "tls-client-certificate %s: "
		    "larger than %d KiB", cp.cp_certlen > POOL_CERT_FILE_MAX ?
		    pk->pk_cert : pk->pk_key, POOL_CERT_FILE_MAX / 1024);
	else
		rv = 0;
	certs_pair_free(&cp);
	return (rv);
}

/*
 * Parent: the pair of files at cert and key, for a pool; each pair is
 * opened once per configuration however many pools name it.
 */
int
poolcert_add(struct pool_cert_set *pks, const char *cert, const char *key,
    const char *where, unsigned int *index, char *err, size_t errlen)
{
	struct pool_cert	*pk;
	unsigned int		 i;

	for (i = 0; i < pks->pks_n; i++)
		if (strcmp(pks->pks_pair[i].pk_cert, cert) == 0 &&
		    strcmp(pks->pks_pair[i].pk_key, key) == 0) {
			*index = i;
			return (0);
		}
	if (pks->pks_n >= POOL_CERT_PAIRS) {
		(void)snprintf(err, errlen, "more than %d "
		    "tls-client-certificate pairs", POOL_CERT_PAIRS);
		return (-1);
	}
	pk = &pks->pks_pair[pks->pks_n];
	if ((pk->pk_certfd = poolcert_open(cert, err, errlen)) == -1)
		return (-1);
	if ((pk->pk_keyfd = poolcert_open(key, err, errlen)) == -1)
		goto fail;
	(void)strlcpy(pk->pk_cert, cert, sizeof(pk->pk_cert));
	(void)strlcpy(pk->pk_key, key, sizeof(pk->pk_key));
	(void)strlcpy(pk->pk_where, where, sizeof(pk->pk_where));
	if (poolcert_readkeys && poolcert_check_now(pk, err, errlen) == -1)
		goto fail;
	*index = pks->pks_n++;
	return (0);
 fail:
	if (pk->pk_keyfd != -1)
		close(pk->pk_keyfd);
	close(pk->pk_certfd);
	pk->pk_certfd = pk->pk_keyfd = -1;
	return (-1);
}

/*
 * The number the pools of new that use pair i had for their client
 * certificate in old, if they all had the same one; else 0.
 */
static uint32_t
poolcert_was(const struct conf_set *old, const struct conf_set *new,
    unsigned int i)
{
	const struct pool_conf	*pl, *opl;
	uint32_t		 j, k, id = 0;

	for (j = 0; j < new->cs_npools; j++) {
		pl = &new->cs_pools[j];
		if (pl->pl_tls_cert != i + 1)
			continue;
		for (k = 0; k < old->cs_npools; k++) {
			opl = &old->cs_pools[k];
			if (strcmp(opl->pl_name, pl->pl_name) == 0)
				break;
		}
		if (k == old->cs_npools || old->cs_pools[k].pl_tls_cert_id ==
		    0 || (id != 0 && id != old->cs_pools[k].pl_tls_cert_id))
			return (0);
		id = old->cs_pools[k].pl_tls_cert_id;
	}
	return (id);
}

static int
poolcert_id_taken(const struct pool_cert_set *pks, uint32_t id)
{
	unsigned int	 i;

	for (i = 0; i < pks->pks_n; i++)
		if (pks->pks_pair[i].pk_id == id)
			return (1);
	return (0);
}

/*
 * Parent, as a configuration is taken: each pair of new keeps the
 * number of the pair of old with the same files; a pair of new files
 * takes over the number its pools had, when they all had one and no
 * pair keeps it, so that the certloader keeps that pair in service
 * until the new files prove good; else a new number (*last counts).
 * Then each pool learns its pair's number.
 */
void
poolcert_number(const struct conf_set *old, const struct conf_set *new,
    uint32_t *last)
{
	struct pool_cert_set	*pks = new->cs_poolcert;
	const struct pool_cert_set *opks;
	struct pool_cert	*pk;
	unsigned int		 i, j;
	uint32_t		 id;

	opks = old != NULL ? old->cs_poolcert : NULL;
	for (i = 0; pks != NULL && i < pks->pks_n; i++) {
		pk = &pks->pks_pair[i];
		for (j = 0; opks != NULL && j < opks->pks_n; j++)
			if (strcmp(opks->pks_pair[j].pk_cert, pk->pk_cert) ==
			    0 && strcmp(opks->pks_pair[j].pk_key,
			    pk->pk_key) == 0)
				pk->pk_id = opks->pks_pair[j].pk_id;
	}
	for (i = 0; pks != NULL && i < pks->pks_n; i++) {
		pk = &pks->pks_pair[i];
		if (pk->pk_id != 0)
			continue;
		id = old != NULL ? poolcert_was(old, new, i) : 0;
		if (id == 0 || poolcert_id_taken(pks, id))
			id = ++*last;
		pk->pk_id = id;
	}
	for (i = 0; i < new->cs_npools; i++)
		if (new->cs_pools[i].pl_tls_cert != 0)
			new->cs_pools[i].pl_tls_cert_id = pks->pks_pair[
			    new->cs_pools[i].pl_tls_cert - 1].pk_id;
}

/*
 * Parent -> certloader, with every configuration: each pair's files,
 * open, then their number.  start: the daemon is starting, and a pair
 * that is bad stops it.
 */
int
poolcert_send_files(struct imsgev *iev, const struct pool_cert_set *pks,
    int start)
{
	const struct pool_cert		*pk;
	struct pool_cert_file		 pkf;
	struct pool_cert_files_end	 pke;
	unsigned int			 i, n = pks != NULL ? pks->pks_n : 0;

	for (i = 0; i < n; i++) {
		pk = &pks->pks_pair[i];
		memset(&pkf, 0, sizeof(pkf));
		pkf.pkf_index = i;
		pkf.pkf_id = pk->pk_id;
		(void)strlcpy(pkf.pkf_where, pk->pk_where,
		    sizeof(pkf.pkf_where));
		(void)strlcpy(pkf.pkf_path, pk->pk_cert, sizeof(pkf.pkf_path));
		if (config_setpoolcertfile(iev, &pkf, pk->pk_certfd) == -1)
			return (-1);
		pkf.pkf_key = 1;
		(void)strlcpy(pkf.pkf_path, pk->pk_key, sizeof(pkf.pkf_path));
		if (config_setpoolcertfile(iev, &pkf, pk->pk_keyfd) == -1)
			return (-1);
	}
	memset(&pke, 0, sizeof(pke));
	pke.pke_count = n;
	pke.pke_start = start != 0;
	return (config_setpoolcertfilesend(iev, &pke));
}

static void
poolcert_pair_clear(struct ld_pair *lp)
{
	if (lp->lp_fd[0] != -1)
		close(lp->lp_fd[0]);
	if (lp->lp_fd[1] != -1)
		close(lp->lp_fd[1]);
	if (lp->lp_good != NULL) {
		certs_pair_free(lp->lp_good);
		free(lp->lp_good);
	}
	memset(lp, 0, sizeof(*lp));
	lp->lp_fd[0] = lp->lp_fd[1] = -1;
}

/* Certloader: POOL_CERT_FILE, the next file of the set, in order. */
static int
poolcert_loader_file(const struct pool_cert_file *pkf, int fd)
{
	struct ld_pair	*lp;
	unsigned int	 i;

	if (pkf->pkf_index == 0 && pkf->pkf_key == 0) {
		for (i = 0; i < lk.lk_nin; i++)
			poolcert_pair_clear(&lk.lk_in[i]);
		lk.lk_nin = 0;
	}
	if (pkf->pkf_key == 0) {
		if (pkf->pkf_index != lk.lk_nin)
			return (-1);
		lp = &lk.lk_in[lk.lk_nin++];
		memset(lp, 0, sizeof(*lp));
		lp->lp_fd[1] = -1;
		lp->lp_fd[0] = fd;
		lp->lp_id = pkf->pkf_id;
		(void)strlcpy(lp->lp_cert, pkf->pkf_path,
		    sizeof(lp->lp_cert));
		(void)strlcpy(lp->lp_where, pkf->pkf_where,
		    sizeof(lp->lp_where));
		return (0);
	}
	if (lk.lk_nin == 0 || pkf->pkf_index != lk.lk_nin - 1)
		return (-1);
	lp = &lk.lk_in[lk.lk_nin - 1];
	if (lp->lp_fd[1] != -1 || lp->lp_id != pkf->pkf_id)
		return (-1);
	lp->lp_fd[1] = fd;
	(void)strlcpy(lp->lp_key, pkf->pkf_path, sizeof(lp->lp_key));
	return (0);
}

/*
 * The pair's files, read and checked: 1 when something new and good
 * went into service, 0 when what is in service stays.  A bad pair
 * leaves the one in service (a reload never makes things worse); with
 * none in service its pools' TLS backends are refused, and when the
 * daemon starts the parent is told, and stops.
 */
static int
poolcert_loader_read(struct ld_pair *lp, int start, struct imsgev *iev)
{
	struct cert_pair	*cp;
	char			 err[CERT_ERROR_LEN], msg[CERT_ERROR_LEN + 64];
	char			 when[32];

	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		fatal("tls-client-certificate");
	if (certs_load_client(lp->lp_fd[0], lp->lp_fd[1], lp->lp_cert,
	    lp->lp_key, cp, err, sizeof(err)) == -1 ||
	    certs_check_client(cp, lp->lp_cert, lp->lp_key, time(NULL), err,
	    sizeof(err)) == -1)
		goto bad;
	if (cp->cp_certlen > POOL_CERT_FILE_MAX ||
	    cp->cp_keylen > POOL_CERT_FILE_MAX) {
		(void)snprintf(err, sizeof(err), "%s: larger than %d KiB",
		    cp->cp_certlen > POOL_CERT_FILE_MAX ? lp->lp_cert :
		    lp->lp_key, POOL_CERT_FILE_MAX / 1024);
		goto bad;
	}
	if (lp->lp_error[0] != '\0')
		log_info("%s: tls-client-certificate %s: good again",
		    lp->lp_where, lp->lp_cert);
	lp->lp_error[0] = '\0';
	if (lp->lp_good != NULL && memcmp(lp->lp_good->cp_hash, cp->cp_hash,
	    sizeof(cp->cp_hash)) == 0) {
		certs_pair_free(cp);
		free(cp);
		return (0);
	}
	log_info("%s: tls-client-certificate %s in service, valid until %s",
	    lp->lp_where, lp->lp_cert, certs_fmt_time(cp->cp_not_after, when,
	    sizeof(when)));
	if (lp->lp_good != NULL) {
		certs_pair_free(lp->lp_good);
		free(lp->lp_good);
	}
	lp->lp_good = cp;
	return (1);
 bad:
	certs_pair_free(cp);
	free(cp);
	(void)snprintf(msg, sizeof(msg), "%s: tls-client-certificate: %s",
	    lp->lp_where, err);
	if (start && lp->lp_good == NULL) {
		if (config_setpoolcertfail(iev, msg) == -1)
			fatal("send to parent");
	} else if (strcmp(err, lp->lp_error) != 0)
		log_warnx("%s; %s", msg, lp->lp_good != NULL ? "keeping the "
		    "pair in service" : "its pools' TLS backends are refused");
	(void)strlcpy(lp->lp_error, err, sizeof(lp->lp_error));
	return (0);
}

/* Each pair in service, to peerid (through the parent), then their count. */
static void
poolcert_loader_send(struct imsgev *iev, uint32_t peerid)
{
	const struct ld_pair	*lp;
	struct pool_cert_msg	 pkm;
	unsigned int		 i;
	uint32_t		 n = 0;

	for (i = 0; i < lk.lk_ncur; i++) {
		lp = &lk.lk_cur[i];
		if (lp->lp_good == NULL)
			continue;
		memset(&pkm, 0, sizeof(pkm));
		pkm.pkm_index = n++;
		pkm.pkm_id = lp->lp_id;
		pkm.pkm_certlen = lp->lp_good->cp_certlen;
		pkm.pkm_keylen = lp->lp_good->cp_keylen;
		memcpy(pkm.pkm_hash, lp->lp_good->cp_hash,
		    sizeof(pkm.pkm_hash));
		(void)strlcpy(pkm.pkm_path, lp->lp_cert, sizeof(pkm.pkm_path));
		if (config_setpoolcert(iev, peerid, &pkm, lp->lp_good->cp_cert,
		    lp->lp_good->cp_key) == -1)
			fatal("send to parent");
	}
	if (config_setpoolcertend(iev, peerid, n) == -1)
		fatal("send to parent");
}

/*
 * POOL_CERT_FILES_END: the configuration's pairs are all here.  Each
 * keeps what is in service under its number, then its files are read;
 * the workers and the health child get the set when what is in service
 * changed, and so only then rebuild their contexts.
 */
static void
poolcert_loader_take(int start, struct imsgev *iev)
{
	struct ld_pair	*lp, *old;
	unsigned int	 i, j;
	int		 changed = 0;

	if (certs_init() == -1)
		fatalx("cannot initialise libcrypto");
	for (i = 0; i < lk.lk_nin; i++) {
		lp = &lk.lk_in[i];
		for (j = 0; j < lk.lk_ncur; j++) {
			old = &lk.lk_cur[j];
			if (old->lp_id != lp->lp_id)
				continue;
			lp->lp_good = old->lp_good;
			old->lp_good = NULL;
			memcpy(lp->lp_error, old->lp_error,
			    sizeof(lp->lp_error));
			break;
		}
		changed |= poolcert_loader_read(lp, start, iev);
		close(lp->lp_fd[0]);
		close(lp->lp_fd[1]);
		lp->lp_fd[0] = lp->lp_fd[1] = -1;
	}
	/* a pair no configuration names any more goes */
	for (j = 0; j < lk.lk_ncur; j++) {
		if (lk.lk_cur[j].lp_good != NULL)
			changed = 1;
		poolcert_pair_clear(&lk.lk_cur[j]);
	}
	memcpy(lk.lk_cur, lk.lk_in, sizeof(lk.lk_cur));
	lk.lk_ncur = lk.lk_nin;
	lk.lk_nin = 0;
	for (i = 0; i < POOL_CERT_PAIRS; i++) {
		memset(&lk.lk_in[i], 0, sizeof(lk.lk_in[i]));
		lk.lk_in[i].lp_fd[0] = lk.lk_in[i].lp_fd[1] = -1;
	}
	if (!changed)
		return;
	poolcert_loader_send(iev, POOL_CERT_TO_ALL);
	lk.lk_sent = 1;
}

/*
 * A message of the parent's about pairs, in the certloader: 0, or -1
 * when it is out of step (the parent is: fatal to the certloader).
 */
int
poolcert_loader_message(const struct imsg *imsg, struct imsgev *iev)
{
	struct pool_cert_file		 pkf;
	struct pool_cert_files_end	 pke;

	switch (imsg->hdr.type) {
	case IMSG_POOL_CERT_FILE:
		if (config_getpoolcertfile(imsg, &pkf) == -1 ||
		    poolcert_loader_file(&pkf, imsg->fd) == -1) {
			if (imsg->fd != -1)
				close(imsg->fd);
			return (-1);
		}
		return (0);
	case IMSG_POOL_CERT_FILES_END:
		if (config_getpoolcertfilesend(imsg, &pke) == -1 ||
		    pke.pke_count != lk.lk_nin || (lk.lk_nin > 0 &&
		    lk.lk_in[lk.lk_nin - 1].lp_fd[1] == -1))
			return (-1);
		poolcert_loader_take(pke.pke_start, iev);
		return (0);
	}
	return (-1);
}

/* A child (re)started: it gets the pairs in service, if any went out. */
void
poolcert_loader_resend(struct imsgev *iev, uint32_t peerid)
{
	if (lk.lk_sent)
		poolcert_loader_send(iev, peerid);
}
