/*
 * clientca.c: the CA bundles servers check client certificates against
 * (mTLS): read and checked by the parent as the configuration is parsed,
 * sent whole to the workers, and there parsed once per bundle and mode.
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
 * A worker's bundles: those in service with their policies, made when a
 * server first asks for one (ptls_auth_new() parses the bundle: once per
 * bundle and mode, not per connection), and a set being received.
 */
static struct {
	struct client_ca_set	*cw_cur;
	struct ptls_auth	*cw_auth[CLIENT_CA_FILES][2];
	struct client_ca_set	*cw_in;
	size_t			 cw_off;	/* of its last bundle, so far */
	int			 cw_ready;	/* cw_in is whole */
} cw;

struct client_ca_set *
clientca_new(void)
{
	return (calloc(1, sizeof(struct client_ca_set)));
}

void
clientca_free(struct client_ca_set *ccs)
{
	unsigned int	 i;

	if (ccs == NULL)
		return;
	for (i = 0; i < ccs->ccs_n; i++)
		free(ccs->ccs_ca[i].cca_pem);
	free(ccs);
}

/*
 * Parent: the bundle of the file at path, for a server.  Each file is
 * read once per configuration however many servers name it, and parsed
 * as the workers will parse it, so that a bad one is the file's error,
 * with its line, and never a worker's.
 */
int
clientca_add(struct client_ca_set *ccs, const char *path,
    unsigned int *index, char *err, size_t errlen)
{
	struct client_ca	*cca;
	struct ptls_auth	*pa;
	char			*pem, why[256];
	size_t			 len;
	unsigned int		 i;

	for (i = 0; i < ccs->ccs_n; i++)
		if (strcmp(ccs->ccs_ca[i].cca_path, path) == 0) {
			*index = i;
			return (0);
		}
	if (ccs->ccs_n >= CLIENT_CA_FILES) {
		(void)snprintf(err, errlen, "more than %d client CA files",
		    CLIENT_CA_FILES);
		return (-1);
	}
	if (strlen(path) >= sizeof(cca->cca_path)) {
		(void)snprintf(err, errlen, "client CA file name too long");
		return (-1);
	}
	if ((pem = parent_read_file(path, CLIENT_CA_FILE_MAX, &len)) ==
	    NULL) {
		(void)snprintf(err, errlen, "client CA %s: %s", path,
		    errno == EFBIG ? "larger than 1 MB" : strerror(errno));
		return (-1);
	}
	if (ccs->ccs_bytes + len > CLIENT_CA_TOTAL_MAX) {
		(void)snprintf(err, errlen, "client CA %s: the client CA "
		    "files come to more than 2 MB", path);
		goto fail;
	}
	if ((pa = ptls_auth_new(PTLS_VERIFY_REQUIRED, pem, len, why,
	    sizeof(why))) == NULL) {
		(void)snprintf(err, errlen, "client CA %s: %s", path, why);
		goto fail;
	}
	ptls_auth_free(pa);
	cca = &ccs->ccs_ca[ccs->ccs_n];
	(void)strlcpy(cca->cca_path, path, sizeof(cca->cca_path));
	cca->cca_pem = pem;
	cca->cca_len = len;
	ccs->ccs_bytes += len;
	*index = ccs->ccs_n++;
	return (0);
 fail:
	free(pem);
	return (-1);
}

/* Parent: the same files with the same bytes, in the same order? */
int
clientca_equal(const struct client_ca_set *a, const struct client_ca_set *b)
{
	unsigned int	 i, na, nb;

	na = a != NULL ? a->ccs_n : 0;
	nb = b != NULL ? b->ccs_n : 0;
	if (na != nb)
		return (0);
	for (i = 0; i < na; i++)
		if (strcmp(a->ccs_ca[i].cca_path, b->ccs_ca[i].cca_path) !=
		    0 || a->ccs_ca[i].cca_len != b->ccs_ca[i].cca_len ||
		    memcmp(a->ccs_ca[i].cca_pem, b->ccs_ca[i].cca_pem,
		    a->ccs_ca[i].cca_len) != 0)
			return (0);
	return (1);
}

/*
 * Worker: IMSG_CLIENT_CA, a bundle of the set.  The first begins a new
 * set; the others come in order, each after the last one is whole.  Out
 * of step is -1: the parent is, and the caller ends.
 */
int
clientca_begin(const struct client_ca_msg *cam)
{
	struct client_ca_set	*in;
	struct client_ca	*cca;

	if (cam->cam_index == 0) {
		clientca_free(cw.cw_in);
		cw.cw_ready = 0;
		if ((cw.cw_in = clientca_new()) == NULL)
			fatal("client CA");
	}
	if ((in = cw.cw_in) == NULL || cw.cw_ready ||
	    cam->cam_index != in->ccs_n || (in->ccs_n > 0 &&
	    in->ccs_ca[in->ccs_n - 1].cca_len != cw.cw_off) ||
	    cam->cam_len > CLIENT_CA_TOTAL_MAX - in->ccs_bytes)
		return (-1);
	cca = &in->ccs_ca[in->ccs_n++];
	(void)strlcpy(cca->cca_path, cam->cam_path, sizeof(cca->cca_path));
	if ((cca->cca_pem = malloc(cam->cam_len)) == NULL)
		fatal("client CA %s", cam->cam_path);
	cca->cca_len = cam->cam_len;
	in->ccs_bytes += cam->cam_len;
	cw.cw_off = 0;
	return (0);
}

/* IMSG_CLIENT_CA_DATA: the next bytes of the last bundle, never more. */
int
clientca_data(const void *data, size_t len)
{
	struct client_ca_set	*in = cw.cw_in;
	struct client_ca	*cca;

	if (in == NULL || cw.cw_ready || in->ccs_n == 0)
		return (-1);
	cca = &in->ccs_ca[in->ccs_n - 1];
	if (len > cca->cca_len - cw.cw_off)
		return (-1);
	memcpy(cca->cca_pem + cw.cw_off, data, len);
	cw.cw_off += len;
	return (0);
}

/* IMSG_CLIENT_CA_END: the set is whole; it waits for CFG_DONE. */
int
clientca_end(uint32_t count)
{
	struct client_ca_set	*in;

	if (count == 0) {
		clientca_free(cw.cw_in);
		if ((cw.cw_in = clientca_new()) == NULL)
			fatal("client CA");
	}
	if ((in = cw.cw_in) == NULL || cw.cw_ready || in->ccs_n != count ||
	    (count > 0 && in->ccs_ca[count - 1].cca_len != cw.cw_off))
		return (-1);
	cw.cw_ready = 1;
	return (0);
}

/*
 * At CFG_DONE, before the servers are: a set that came replaces the one
 * in service, and its policies go.  Connections hold what they took of
 * a policy (its store, its id), never the policy.
 */
void
clientca_apply(void)
{
	unsigned int	 i;

	if (!cw.cw_ready)
		return;
	for (i = 0; i < CLIENT_CA_FILES; i++) {
		ptls_auth_free(cw.cw_auth[i][0]);
		ptls_auth_free(cw.cw_auth[i][1]);
		cw.cw_auth[i][0] = cw.cw_auth[i][1] = NULL;
	}
	clientca_free(cw.cw_cur);
	cw.cw_cur = cw.cw_in;
	cw.cw_in = NULL;
	cw.cw_ready = 0;
}

/*
 * The policy of bundle index in mode, made the first time a server asks.
 * The parent parsed the same bytes: a failure here is memory, and going
 * on would serve a server that asks for certificates without asking.
 */
const struct ptls_auth *
clientca_policy(unsigned int index, enum ptls_verify mode)
{
	struct client_ca	*cca;
	struct ptls_auth	**pa;
	char			 err[256];

	if (cw.cw_cur == NULL || index >= cw.cw_cur->ccs_n ||
	    (mode != PTLS_VERIFY_OPTIONAL && mode != PTLS_VERIFY_REQUIRED))
		fatalx("client CA %u: none such", index);
	pa = &cw.cw_auth[index][mode == PTLS_VERIFY_REQUIRED];
	if (*pa != NULL)
		return (*pa);
	cca = &cw.cw_cur->ccs_ca[index];
	if ((*pa = ptls_auth_new(mode, cca->cca_pem, cca->cca_len, err,
	    sizeof(err))) == NULL)
		fatalx("client CA %s: %s", cca->cca_path, err);
	return (*pa);
}
