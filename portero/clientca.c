/*
 * clientca.c: the CA bundles servers check client certificates against
 * (mTLS), as the configuration holds them: each file read and checked
 * once by the parent as the file is parsed, and compared with the last.
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
#include <strings.h>

#include "portero.h"

/*
 * A whole bundle into memory, up to CLIENT_CA_FILE_MAX bytes, from a
 * regular file (config_read_file()), or the reason in err.
 */
static char *
clientca_read(const char *path, size_t *lenp, char *err, size_t errlen)
{
	char	*buf;

	if ((buf = config_read_file(path, CLIENT_CA_FILE_MAX, lenp)) != NULL)
		return (buf);
	if (errno == EINVAL)
		(void)snprintf(err, errlen, "client CA %s: not a regular file",
		    path);
	else if (errno == EFBIG)
		(void)snprintf(err, errlen, "client CA %s: larger than 1 MB",
		    path);
	else
		(void)snprintf(err, errlen, "client CA %s: %s", path,
		    strerror(errno));
	return (NULL);
}

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
	if ((pem = clientca_read(path, &len, err, errlen)) == NULL)
		return (-1);
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
clientca_equal(const struct client_ca_set *a,
    const struct client_ca_set *b)
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
 * Parent, once the file is read: a server's client-certificate fields
 * need its "client ca", and the file's own request header operations
 * leave those fields alone, since portero sets them.
 */
int
clientca_check(const struct conf_set *set, const char *file)
{
	const struct server_conf	*sc;
	const struct header_op		*ho;
	uint32_t			 i;
	int				 errors = 0;

	for (i = 0; i < set->cs_nservers; i++) {
		sc = &set->cs_servers[i];
		if (sc->sc_verify == PTLS_VERIFY_NONE &&
		    (sc->sc_subject_field[0] != '\0' ||
		    sc->sc_fingerprint_field[0] != '\0')) {
			log_warnx("%s:%d: server \"%s\": client certificate "
			    "header without a client ca", file,
			    sc->sc_cert_line, sc->sc_name);
			errors++;
		}
	}
	for (i = 0; i < set->cs_nheaders; i++) {
		ho = &set->cs_headers[i];
		sc = &set->cs_servers[ho->ho_server];
		if (ho->ho_dir == HDR_REQUEST &&
		    (strcasecmp(ho->ho_name, sc->sc_subject_field) == 0 ||
		    strcasecmp(ho->ho_name, sc->sc_fingerprint_field) == 0)) {
			log_warnx("%s:%d: header \"%s\": the client "
			    "certificate's, which portero sets itself", file,
			    ho->ho_line, ho->ho_name);
			errors++;
		}
	}
	return (errors);
}
