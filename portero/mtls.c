/*
 * mtls.c: client certificates (mTLS) in a worker: the CA bundles the
 * parent sends, the policies made of them for each route table's
 * servers, and the policy a handshake's name asks for.
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
#include <stdlib.h>
#include <string.h>

#include "portero.h"

/*
 * A worker's bundles: those in service, and a set being received.  The
 * policies made of them (ptls_auth_new() parses a bundle: once per
 * bundle, mode and configuration, never per connection) belong to the
 * route table whose servers ask for them (mtls_build()), and go with it.
 */
static struct {
	struct client_ca_set	*cw_cur;
	struct client_ca_set	*cw_in;
	size_t			 cw_off;	/* of its last bundle, so far */
	int			 cw_ready;	/* cw_in is whole */
} cw;

/*
 * IMSG_CLIENT_CA, a bundle of the set.  The first begins a new
 * set; the others come in order, each after the last one is whole.  Out
 * of step is -1: the parent is, and the caller ends.
 */
int
mtls_begin(const struct client_ca_msg *cam)
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
mtls_data(const void *data, size_t len)
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
mtls_end(uint32_t count)
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
 * At CFG_DONE, before the servers are built: a set that came replaces
 * the one in service.  Tables built before keep their own policies.
 */
void
mtls_apply(void)
{
	if (!cw.cw_ready)
		return;
	clientca_free(cw.cw_cur);
	cw.cw_cur = cw.cw_in;
	cw.cw_in = NULL;
	cw.cw_ready = 0;
}

/*
 * The policy of server vs, made the first time a server of rt
 * asks for its bundle in its mode; -1 (the table is not taken) when the
 * bundle is not there or memory is short.
 */
int
mtls_build(struct route_table *rt, struct vserver *vs)
{
	const struct server_conf	*sc = vs->vs_conf;
	struct client_ca		*cca;
	struct ptls_auth		**pa;
	char				 err[256];

	vs->vs_subjectlen = strlen(sc->sc_subject_field);
	vs->vs_fingerprintlen = strlen(sc->sc_fingerprint_field);
	if (sc->sc_verify == PTLS_VERIFY_NONE)
		return (0);
	if (cw.cw_cur == NULL || sc->sc_clientca >= cw.cw_cur->ccs_n) {
		log_warnx("server %s: client CA %u: none such", sc->sc_name,
		    sc->sc_clientca);
		return (-1);
	}
	cca = &cw.cw_cur->ccs_ca[sc->sc_clientca];
	pa = &rt->rt_auth[sc->sc_clientca][sc->sc_verify ==
	    PTLS_VERIFY_REQUIRED];
	if (*pa == NULL) {
		if ((*pa = ptls_auth_new(sc->sc_verify, cca->cca_pem,
		    cca->cca_len, err, sizeof(err))) == NULL) {
			log_warnx("client CA %s: %s", cca->cca_path, err);
			return (-1);
		}
		rt->rt_nauth++;
	}
	vs->vs_auth = *pa;
	return (0);
}

void
mtls_table_free(struct route_table *rt)
{
	unsigned int	 i;

	for (i = 0; i < CLIENT_CA_FILES; i++) {
		ptls_auth_free(rt->rt_auth[i][0]);
		ptls_auth_free(rt->rt_auth[i][1]);
	}
}

/*
 * The policy for the name a client's hello asks for (NULL: none), found
 * as xc_find() finds a request's server by Host, so that the handshake
 * and the requests on it agree: a server of that name, else none for a
 * pool that serves its own name, else the default server's.  Called by
 * the TLS library during a handshake, with the table in service.
 */
const struct ptls_auth *
mtls_lookup(const char *name)
{
	struct route_table	*rt = worker_env->wk_routes;
	struct vserver		*vs;
	struct service		*sv;
	size_t			 len;

	if (rt == NULL || rt->rt_nauth == 0)
		return (NULL);
	if (name != NULL && (len = strlen(name)) > 0) {
		if ((vs = server_lookup(rt, name, len)) != NULL)
			return (vs->vs_auth);
		if ((sv = route_lookup(rt, name, len)) != NULL &&
		    route_implicit(sv))
			return (NULL);
	}
	return (rt->rt_default != NULL ? rt->rt_default->vs_auth : NULL);
}
