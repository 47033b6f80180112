/*
 * fuzz_msgs.c: every message a process may receive, held against the
 * table (imsg_check) and taken off the wire by its config_get*(): no
 * input may crash a receiver or make it read past the payload.
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

/*
 * Input layout: a run of records, each a 4-byte type, a byte naming the
 * sender and receiver roles (low and high nibble), a byte saying whether
 * a descriptor comes, a 2-byte payload length, then the payload (cut to
 * what is left).  Each payload is copied to a buffer of its own exact
 * size, so AddressSanitizer sees any read past it.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../portero/portero.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static volatile int	 sink;

static void
fuzz_get(const struct imsg *imsg)
{
	union {
		struct portero_config	 conf;
		struct listener_msg	 lm;
		struct backend_conf	 be;
		struct ticket_key_msg	 tk;
		struct cert_begin	 cb;
		struct cert_msg		 cm;
		struct cert_ack		 ca;
		struct backend_health	 bh;
		struct worker_stats	 ws;
		struct reg_backend	 rb;
		struct reg_secrets	 rs;
		struct backends_req	 br;
		struct backends_stats	 bss;
		struct check_target	 ct;
		struct health_stats	 hss;
		struct server_conf	 sc;
		struct server_name	 sn;
		struct location		 lo;
		struct header_op	 ho;
		struct pool_conf	 pl;
		struct client_ca_msg	 cam;
		struct pool_ca_msg	 pcm;
		struct net_conf		 nc;
		struct met_service	 ms;
		struct met_backend	 mb;
	}		 u;
	struct met_hist	 hists[2];
	char		 name[NAME_MAX_LEN], addr[MET_ADDR_MAX];
	uint32_t	 i, seq;
	const void	*data;
	size_t		 len;
	int32_t		 v;

	switch (imsg->hdr.type) {
	case IMSG_CFG_GLOBAL:
		sink += config_getglobal(&u.conf, imsg);
		break;
	case IMSG_CFG_LISTENER:
		sink += config_getlistener(imsg, &u.lm);
		break;
	case IMSG_CFG_BACKEND:
		sink += config_getbackend(imsg, &u.be);
		break;
	case IMSG_LOG_VERBOSE:
	case IMSG_CTL_LOG_VERBOSE:
		sink += config_getverbose(imsg, &v);
		break;
	case IMSG_TLS_TICKET_KEY:
		sink += config_getticket(imsg, &u.tk);
		break;
	case IMSG_CERT_BEGIN:
		sink += config_getcertbegin(imsg, &u.cb);
		break;
	case IMSG_CERT_ADD:
		if (config_getcert(imsg, &u.cm) == 0 &&
		    strlen(u.cm.cm_domain) >= sizeof(u.cm.cm_domain))
			abort();
		break;
	case IMSG_CERT_DATA:
		if (config_getcertdata(imsg, &data, &len) == 0 &&
		    len != imsg->len)
			abort();
		break;
	case IMSG_CERT_ACK:
		sink += config_getcertack(imsg, &u.ca);
		break;
	case IMSG_BACKEND_HEALTH:
	case IMSG_BACKEND_VERDICT:
		if (config_gethealth(imsg, &u.bh) == 0 &&
		    (strlen(u.bh.bh_service) >= sizeof(u.bh.bh_service) ||
		    u.bh.bh_sslen > sizeof(u.bh.bh_ss) ||
		    u.bh.bh_event > BH_RESET))
			abort();
		break;
	case IMSG_CFG_CHECK:
	case IMSG_CHECK_ADD:
	case IMSG_CHECK_REMOVE:
		if (config_getcheck(imsg, &u.ct) == 0 &&
		    (strlen(u.ct.ct_service) >= sizeof(u.ct.ct_service) ||
		    strlen(u.ct.ct_name) >= sizeof(u.ct.ct_name) ||
		    strlen(u.ct.ct_host) >= sizeof(u.ct.ct_host) ||
		    strlen(u.ct.ct_check.ck_path) >=
		    sizeof(u.ct.ct_check.ck_path) ||
		    u.ct.ct_sslen > sizeof(u.ct.ct_ss) ||
		    u.ct.ct_check.ck_timeout_ms > u.ct.ct_check.ck_interval_ms))
			abort();
		break;
	case IMSG_HEALTH_STATS:
		if (config_gethealthstats(imsg, &u.hss) == 0) {
			if (u.hss.hss_n > BACKENDS_PAGE)
				abort();
			for (i = 0; i < u.hss.hss_n; i++)
				if (strlen(u.hss.hss_stats[i].hs_result) >=
				    sizeof(u.hss.hss_stats[i].hs_result))
					abort();
		}
		break;
	case IMSG_STATS:
		sink += config_getstats(imsg, &u.ws);
		break;
	case IMSG_REG_UPSERT:
	case IMSG_REG_REMOVE:
	case IMSG_REG_SNAP:
		if (config_getreg(imsg, &u.rb) == 0 &&
		    (strlen(u.rb.rb_service) >= sizeof(u.rb.rb_service) ||
		    u.rb.rb_sslen > sizeof(u.rb.rb_ss)))
			abort();
		break;
	case IMSG_REG_DONE:
	case IMSG_REG_ACK:
		sink += config_getseq(imsg, &seq);
		break;
	case IMSG_CFG_SECRETS:
		if (config_getsecrets(imsg, &u.rs) == 0 &&
		    (u.rs.rs_secret_len > REG_SECRET_MAX ||
		    u.rs.rs_key_len > REG_SECRET_MAX ||
		    u.rs.rs_prevkey_len > REG_SECRET_MAX))
			abort();
		break;
	case IMSG_BACKENDS_REQ:
		if (config_getbackendsreq(imsg, &u.br) == 0) {
			if (u.br.br_n > BACKENDS_PAGE)
				abort();
			for (i = 0; i < u.br.br_n; i++)
				if (strlen(u.br.br_keys[i].bk_service) >=
				    sizeof(u.br.br_keys[i].bk_service))
					abort();
		}
		break;
	case IMSG_BACKENDS:
		if (config_getbackends(imsg, &u.bss) == 0 &&
		    u.bss.bss_n > BACKENDS_PAGE)
			abort();
		break;
	case IMSG_CFG_SERVER:
		if (config_getserver(imsg, &u.sc) == 0 &&
		    (u.sc.sc_verify > PTLS_VERIFY_REQUIRED ||
		    strlen(u.sc.sc_subject_field) >=
		    sizeof(u.sc.sc_subject_field) ||
		    strlen(u.sc.sc_fingerprint_field) >=
		    sizeof(u.sc.sc_fingerprint_field)))
			abort();
		break;
	case IMSG_CLIENT_CA:
		if (config_getclientca(imsg, &u.cam) == 0 &&
		    (u.cam.cam_len == 0 || u.cam.cam_len > CLIENT_CA_FILE_MAX ||
		    strlen(u.cam.cam_path) >= sizeof(u.cam.cam_path)))
			abort();
		break;
	case IMSG_CLIENT_CA_DATA:
		if (config_getclientcadata(imsg, &data, &len) == 0 &&
		    len != imsg->len)
			abort();
		break;
	case IMSG_CLIENT_CA_END:
		if (config_getclientcaend(imsg, &seq) == 0 &&
		    seq > CLIENT_CA_FILES)
			abort();
		break;
	case IMSG_POOL_CA:
		if (config_getpoolca(imsg, &u.pcm) == 0 &&
		    (u.pcm.pcm_len == 0 || u.pcm.pcm_len > POOL_CA_FILE_MAX ||
		    u.pcm.pcm_index >= POOL_CA_FILES ||
		    strlen(u.pcm.pcm_path) >= sizeof(u.pcm.pcm_path)))
			abort();
		break;
	case IMSG_POOL_CA_DATA:
		if (config_getpoolcadata(imsg, &data, &len) == 0 &&
		    len != imsg->len)
			abort();
		break;
	case IMSG_POOL_CA_END:
		if (config_getpoolcaend(imsg, &seq) == 0 &&
		    seq > POOL_CA_FILES)
			abort();
		break;
	case IMSG_CFG_NAME:
		sink += config_getname(imsg, &u.sn, 4);
		break;
	case IMSG_CFG_POOL:
		sink += config_getpool(imsg, &u.pl);
		break;
	case IMSG_CFG_NET:
		if (config_getnet(imsg, &u.nc) == 0 &&
		    (u.nc.nc_list >= NET_LISTS || u.nc.nc_net.rn_prefix > 128))
			abort();
		break;
	case IMSG_CFG_LOCATION:
		/* the strings are the location's, even on failure */
		if (config_getlocation(imsg, &u.lo, 4) == 0 &&
		    (u.lo.lo_path == NULL || u.lo.lo_prefix == NULL ||
		    strlen(u.lo.lo_path) >= CONF_STR_MAX))
			abort();
		free(u.lo.lo_path);
		free(u.lo.lo_pool);
		free(u.lo.lo_target);
		free(u.lo.lo_strip);
		free(u.lo.lo_prefix);
		break;
	case IMSG_MET_SERVICE:
		if (config_getmetservice(imsg, &u.ms, hists, name) == 0 &&
		    strlen(name) != u.ms.ms_namelen)
			abort();
		break;
	case IMSG_MET_BACKEND:
		if (config_getmetbackend(imsg, &u.mb, hists, name, addr) == 0 &&
		    (strlen(name) != u.mb.mb_namelen ||
		    strlen(addr) != u.mb.mb_addrlen || u.mb.mb_up < -1 ||
		    u.mb.mb_up > 1))
			abort();
		break;
	case IMSG_CFG_HEADER:
		if (config_getheader(imsg, &u.ho, 4, 4) == 0 &&
		    (u.ho.ho_name == NULL || u.ho.ho_value == NULL ||
		    u.ho.ho_namelen != strlen(u.ho.ho_name)))
			abort();
		free(u.ho.ho_name);
		free(u.ho.ho_value);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsg	 imsg;
	uint32_t	 type;
	uint16_t	 len;
	uint8_t		*payload;
	int		 from, to;

	while (size >= 8) {
		memcpy(&type, data, 4);
		from = data[4] & 0x0f;
		to = data[4] >> 4;
		memcpy(&len, data + 6, 2);
		memset(&imsg, 0, sizeof(imsg));
		imsg.hdr.type = type % (IMSG_TYPE_MAX + 2);
		imsg.fd = data[5] & 1 ? 0 : -1;	/* never closed */
		data += 8;
		size -= 8;
		if (len > size)
			len = size;
		if (len > IMSG_MAX_PAYLOAD)
			len = IMSG_MAX_PAYLOAD;
		payload = NULL;
		if (len > 0) {
			if ((payload = malloc(len)) == NULL)
				abort();
			memcpy(payload, data, len);
		}
		imsg.data = payload;
		imsg.len = len;
		imsg.hdr.len = IMSG_HEADER_SIZE + len;
		data += len;
		size -= len;
		if (from <= PROC_CTL && to <= PROC_CTL &&
		    imsg_check(&imsg, from, to) == 0) {
			const struct imsg_spec *is = &imsg_specs[imsg.hdr.type];

			if (imsg.len < is->is_min || imsg.len > is->is_max)
				abort();
			fuzz_get(&imsg);
		}
		free(payload);
	}
	return (0);
}
