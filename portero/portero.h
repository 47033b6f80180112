/*
 * portero.h: the table of contents of the daemon: constants, the
 * configuration that travels by message, the message types, prototypes.
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

#ifndef PORTERO_H
#define PORTERO_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <event.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "http1.h"

#define PORTERO_VERSION		"0.1.0"

#define PORTERO_USER		"_portero"
#define PORTERO_CONTROL_SOCKET	"/var/run/portero.sock"
#define PORTERO_STATE_DIR	"/var/db/portero"
#define PORTERO_CHROOT_DIR	"/var/empty"
#define PORTERO_CONF_FILE	"/etc/portero.conf"
#define PORTERO_LISTEN_ADDR	"127.0.0.1:8443"
#define PORTERO_REGISTER_ADDR	"127.0.0.1:18080"

#define PORTERO_MAX_WORKERS	64
#define PORTERO_DRAIN_TIMEOUT	10	/* seconds */
#define PORTERO_NOFILE		65536
#define PORTERO_TICKET_ROTATE	3600	/* seconds, --tls-ticket-rotate */
#define PROC_PARENT_FD		3	/* a child's channel to the parent */

#define HOSTPORT_MAX		256	/* "host:port", "[v6]:port" */
#define NAME_MAX_LEN		256
#define CONF_PATH_MAX		1024	/* paths in messages: keep them small */

/*
 * Respawn back-off: a child that lived longer than RESPAWN_STABLE seconds
 * is restarted at once; one that keeps dying waits RESPAWN_MIN_MS doubled
 * per quick death, up to RESPAWN_MAX_MS.
 */
#define RESPAWN_STABLE		10
#define RESPAWN_MIN_MS		250
#define RESPAWN_MAX_MS		30000

/*
 * Each child's sandbox promises (sandbox.c), kept here so the daemon and
 * the sandbox tests use the very same sets.
 */
#define PROMISES_WORKER		"stdio inet recvfd"
#define PROMISES_CERTLOADER	"stdio rpath recvfd"
#define PROMISES_REGISTRAR	"stdio rpath wpath cpath inet recvfd"
#define PROMISES_HEALTH		"stdio inet"
#define PROMISES_LOGGER		"stdio recvfd"
#define PROMISES_METRICS	"stdio inet recvfd"
#define UNVEIL_CERTLOADER	"r"
#define UNVEIL_REGISTRAR	"rwc"

/*
 * Heartbeat: the parent pings every running child this often; one that
 * has not answered for HEARTBEAT_TIMEOUT_MS, or not finished starting
 * within CHILD_START_TIMEOUT seconds, is stuck: it is killed and
 * started again with the current state.
 */
#define HEARTBEAT_INTERVAL_MS	1000
#define HEARTBEAT_TIMEOUT_MS	3000
#define CHILD_START_TIMEOUT	10	/* seconds */

/*
 * Control requests unanswered after this long are answered as they stand.
 * A control client idle for CTL_IDLE_TIMEOUT seconds is closed, and when
 * CTL_MAX_CLIENTS are connected the longest idle one makes room.
 */
#define CTL_REPLY_TIMEOUT_MS	1000
#define CTL_IDLE_TIMEOUT	5
#define CTL_MAX_CLIENTS		32

/*
 * Messages (imsg.c).  A message is a fixed header and at most
 * IMSG_MAX_PAYLOAD bytes of payload, with at most one passed descriptor.
 * Anything else is malformed and ends the channel that carried it.
 */
struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* header + payload */
	uint32_t	 peerid;
	uint32_t	 pid;
	uint32_t	 flags;
#define IMSGF_HASFD	0x1
};

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define IMSG_MAX_PAYLOAD	16384
#define IMSG_RBUF_SIZE		(4 * (IMSG_HEADER_SIZE + IMSG_MAX_PAYLOAD))
#define IMSG_MAX_FDS		16	/* received, not yet claimed */
#define IMSG_WQUEUE_MAX		(8 * 1024 * 1024)

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 if none; caller owns it */
	void		*data;		/* valid until the next get or read */
	size_t		 len;		/* payload length */
};

struct ibuf {
	TAILQ_ENTRY(ibuf) entry;
	size_t		 len;
	size_t		 off;
	int		 fd;		/* sent with the first byte, then
					   closed */
	unsigned char	 data[];
};

struct imsgbuf {
	int		 fd;
	pid_t		 pid;
	unsigned char	 rbuf[IMSG_RBUF_SIZE];
	size_t		 rlen;		/* bytes held in rbuf */
	size_t		 roff;		/* start of the next message */
	int		 rfds[IMSG_MAX_FDS];
	int		 nrfds;
	TAILQ_HEAD(, ibuf) wqueue;
	size_t		 wqueued;	/* bytes queued, for the bound */
};

/* imsgev: an imsgbuf driven by libevent. */
struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	 ev;
	short		 events;
	void		(*handler)(int, short, void *);
	void		*data;
};

/*
 * Message types, grouped by purpose.  Who may send each to whom, and the
 * payload it carries, is the table imsg_specs[] (names.c), which every
 * process holds each message against before it dispatches it.
 */
enum imsg_type {
	IMSG_NONE,

	/* configuration and life cycle; parent -> children */
	IMSG_CFG_GLOBAL,	/* struct portero_config */
	IMSG_CFG_LISTENER,	/* fd, struct listener_msg */
	IMSG_CFG_BACKEND,	/* struct backend_conf, one per backend */
	IMSG_CFG_SERVER,	/* struct server_conf */
	IMSG_CFG_NAME,		/* struct server_name */
	IMSG_CFG_LOCATION,	/* struct location_msg, strings */
	IMSG_CFG_HEADER,	/* struct header_msg, strings */
	IMSG_CFG_POOL,		/* struct pool_conf */
	IMSG_CFG_NET,		/* struct net_conf */
	IMSG_CFG_SECRETS,	/* registrar: struct reg_secrets */
	IMSG_CFG_DONE,		/* config complete; the child answers it
				   once applied */
	IMSG_START,		/* serve */
	IMSG_SHUTDOWN,		/* drain and exit */
	IMSG_RELOAD,		/* certloader: rescan now */
	IMSG_LOG_VERBOSE,	/* int32_t verbosity */
	IMSG_PING,		/* uint32_t sequence, echoed by PONG */
	IMSG_PONG,

	/*
	 * Certificates: certloader -> parent -> one worker (peerid), a
	 * whole set at a time, so a worker never serves a half-updated
	 * one: CERT_BEGIN, then per domain CERT_ADD and CERT_DATA chunks
	 * holding names, cert PEM and key PEM, then CERT_END (an empty set
	 * is valid).  The worker acknowledges every message (CERT_ACK,
	 * worker -> parent -> certloader) and the certloader keeps at most
	 * CERT_WINDOW of them unacknowledged: a set of any size never
	 * fills a queue, and a stuck worker holds up only its own.
	 */
	IMSG_CERT_BEGIN,	/* struct cert_begin */
	IMSG_CERT_ADD,		/* struct cert_msg */
	IMSG_CERT_DATA,		/* bytes */
	IMSG_CERT_END,
	IMSG_CERT_ACK,		/* struct cert_ack */
	IMSG_CERT_RESEND,	/* parent -> certloader: peerid = worker */
	IMSG_TLS_TICKET_KEY,	/* parent -> worker: struct ticket_key_msg */

	/*
	 * Backend health (hstate.c).  Workers report what their requests
	 * found (BACKEND_HEALTH) to the owner of backend health: the health
	 * child when there is one, else the parent.  The owner answers with
	 * verdicts (BACKEND_VERDICT) to every worker, or a retry probe to
	 * one (peerid: the worker, or HEALTH_ALL_WORKERS).  The health
	 * child gets the backends to check (CFG_CHECK with the rest of the
	 * configuration; CHECK_ADD and CHECK_REMOVE as registrations come
	 * and go), is told of each worker that starts (HEALTH_WORKER) and
	 * answers "show backends" pages (BACKENDS_REQ) with HEALTH_STATS.
	 */
	IMSG_BACKEND_HEALTH,	/* struct backend_health */
	IMSG_BACKEND_VERDICT,	/* struct backend_health */
	IMSG_CFG_CHECK,		/* struct check_target */
	IMSG_CHECK_ADD,		/* struct check_target */
	IMSG_CHECK_REMOVE,	/* struct check_target */
	IMSG_HEALTH_WORKER,	/* parent -> health: peerid = worker */
	IMSG_HEALTH_STATS,	/* health -> parent: struct health_stats */

	/*
	 * The upstream CA bundle, read by the parent: to a worker with its
	 * first configuration and with any that changes the bundle or the
	 * verify setting: UPSTREAM_CA, the bundle in UPSTREAM_CA_DATA
	 * chunks, UPSTREAM_CA_END.  It takes effect at CFG_DONE.
	 */
	IMSG_UPSTREAM_CA,	/* struct upstream_ca_msg */
	IMSG_UPSTREAM_CA_DATA,	/* bytes */
	IMSG_UPSTREAM_CA_END,

	/*
	 * Client CA bundles (mTLS), read by the parent from the files the
	 * servers name, each file once: to a worker with its first
	 * configuration and with any that changes them: per bundle
	 * CLIENT_CA and its bytes in CLIENT_CA_DATA chunks, then
	 * CLIENT_CA_END with their number (alone when there is none).  They
	 * take effect at CFG_DONE.
	 */
	IMSG_CLIENT_CA,		/* struct client_ca_msg */
	IMSG_CLIENT_CA_DATA,	/* bytes */
	IMSG_CLIENT_CA_END,	/* uint32_t bundles */

	/*
	 * Pools' own upstream CA bundles ("tls-ca", poolca.c), read by the
	 * parent, each file once: to a worker and the health child with
	 * the first configuration and with any that changes them, as the
	 * client CA bundles go: POOL_CA per bundle, its bytes in
	 * POOL_CA_DATA chunks, POOL_CA_END with their number.  They take
	 * effect at CFG_DONE.
	 */
	IMSG_POOL_CA,		/* struct pool_ca_msg */
	IMSG_POOL_CA_DATA,	/* bytes */
	IMSG_POOL_CA_END,	/* uint32_t bundles */

	/*
	 * Pools' client certificates ("tls-client-certificate",
	 * poolcert.c): the parent opens both files of each pair and passes
	 * them to the certloader (POOL_CERT_FILE, two a pair, then
	 * POOL_CERT_FILES_END) with every configuration it sends it; the
	 * certloader reads and checks them and, when what is in service
	 * changed, sends the whole set (POOL_CERT per pair, its cert and
	 * key in POOL_CERT_DATA chunks, POOL_CERT_END with their number)
	 * through the parent to the workers and the health child (peerid:
	 * POOL_CERT_TO_ALL, POOL_CERT_TO_HEALTH or a worker).  A child
	 * starting asks for it (POOL_CERT_RESEND, peerid: the child).  A
	 * pair that is bad when the daemon starts stops it (POOL_CERT_FAIL).
	 */
	IMSG_POOL_CERT_FILE,	/* fd, struct pool_cert_file */
	IMSG_POOL_CERT_FILES_END, /* struct pool_cert_files_end */
	IMSG_POOL_CERT_RESEND,	/* parent -> certloader: none */
	IMSG_POOL_CERT_FAIL,	/* certloader -> parent: reason, with NUL */
	IMSG_POOL_CERT,		/* struct pool_cert_msg */
	IMSG_POOL_CERT_DATA,	/* bytes */
	IMSG_POOL_CERT_END,	/* uint32_t pairs */

	/*
	 * Registered backends.  The registrar sends each change it has
	 * made durable (REG_UPSERT, REG_REMOVE: struct reg_backend with its
	 * update number) to the parent, which keeps a copy, relays it to
	 * every worker and answers REG_DONE (uint32_t) with the highest
	 * number every running worker has acknowledged (REG_ACK); a
	 * starting registrar gets one too, and numbers on from it.  A
	 * registrar that (re)starts sends its whole registry (numbered 0)
	 * between REG_SYNC and REG_SYNC_END; the parent drops what it did
	 * not hear of.  A starting worker gets the parent's copy (REG_SNAP, in
	 * acknowledged windows, REG_SNAP_ACK) before it may serve.
	 */
	IMSG_REG_UPSERT,
	IMSG_REG_REMOVE,
	IMSG_REG_SYNC,		/* registrar -> parent: none */
	IMSG_REG_SYNC_END,	/* registrar -> parent: none */
	IMSG_REG_DONE,		/* parent -> registrar: uint32_t number */
	IMSG_REG_ACK,		/* worker -> parent: uint32_t number */
	IMSG_REG_SNAP,		/* parent -> worker: struct reg_backend */
	IMSG_REG_SNAP_ACK,	/* worker -> parent: none */

	/*
	 * The access log (logger.c, plogger.c).  The parent opens the
	 * file and gives it to the logger (LOG_FILE: at start, and again
	 * on "reopen" or SIGUSR1), and makes one socketpair per worker:
	 * one end to the worker (LOG_SOCKET), the other to the logger
	 * (LOG_SOCKET, peerid: the worker), anew whenever either of the
	 * two starts.  The logger answers each PING with its counters.
	 */
	IMSG_LOG_SOCKET,	/* fd */
	IMSG_LOG_FILE,		/* fd; none sent: the daemon's log */
	IMSG_LOG_STATS,		/* logger -> parent: struct logger_stats */

	/* statistics, for the control socket */
	IMSG_STATS_REQ,		/* parent -> worker: peerid = control id */
	IMSG_STATS,		/* worker -> parent: struct worker_stats */
	IMSG_BACKENDS_REQ,	/* parent -> worker: struct backends_req,
				   peerid = control id */
	IMSG_BACKENDS,		/* worker -> parent: struct backends_stats */

	/* control socket: porterod-ctl <-> parent (<-> certloader) */
	IMSG_CTL_SHOW_STATUS,
	IMSG_CTL_SHOW_WORKERS,
	IMSG_CTL_RELOAD,
	IMSG_CTL_LOG_VERBOSE,	/* int32_t verbosity */
	IMSG_CTL_REOPEN,	/* the access log, for logrotate */
	IMSG_CTL_SHOW_CERTS,	/* relayed to the certloader, peerid =
				   control id */
	IMSG_CTL_SHOW_BACKENDS,
	IMSG_CTL_BACKEND,	/* struct ctl_backend */
	IMSG_CTL_CERT,		/* struct ctl_cert, relayed back */
	IMSG_CTL_STATUS,	/* struct ctl_status */
	IMSG_CTL_CHILD,		/* struct ctl_child */
	IMSG_CTL_OK,
	IMSG_CTL_FAIL,		/* NUL-terminated reason */
	IMSG_CTL_END,		/* ends a listing */
	IMSG_CTL_SHOW_STATS,	/* uint32_t enum stats_format; relayed to
				   the metrics child, peerid = control id */
	IMSG_CTL_TEXT,		/* bytes of the answer, relayed back */

	/*
	 * A scrape (metrics.c, pmetrics.c, wmetrics.c).  The metrics child
	 * asks the parent (MET_REQ, peerid: the scrape's number); the
	 * parent answers MET_BEGIN with how many children it asked, one
	 * MET_PROC for each process, and relays what each child sends for
	 * the same number, which ends with its MET_END.
	 */
	IMSG_MET_REQ,		/* metrics -> parent -> children */
	IMSG_MET_BEGIN,		/* parent -> metrics: struct met_begin */
	IMSG_MET_PROC,		/* parent -> metrics: struct met_proc */
	IMSG_MET_WORKER,	/* worker -> metrics: struct met_worker */
	IMSG_MET_SERVICE,	/* worker: struct met_service, its name */
	IMSG_MET_BACKEND,	/* worker: struct met_backend, names */
	IMSG_MET_REGISTRAR,	/* registrar: struct met_registrar */
	IMSG_MET_REGSVC,	/* registrar: struct met_regsvc, a name */
	IMSG_MET_CERT,		/* certloader: struct met_cert */
	IMSG_MET_END,		/* child -> metrics: none */
	/*
	 * What restarted workers had counted, kept by the parent for a
	 * metrics child that restarts: KEEP_BEGIN, then MET_WORKER,
	 * MET_SERVICE and MET_BACKEND with peerid MET_KEEP, to the parent
	 * and, when a metrics child starts, back.
	 */
	IMSG_MET_KEEP_BEGIN,	/* metrics -> parent: none */

	IMSG_TYPE_MAX
};

/* Roles of the processes; also the order of the process table. */
enum proc_role {
	PROC_PARENT,
	PROC_CERTLOADER,
	PROC_REGISTRAR,
	PROC_WORKER,
	PROC_HEALTH,
	PROC_LOGGER,
	PROC_METRICS,
	PROC_MAX
};
#define PROC_CTL	PROC_MAX	/* porterod-ctl, as a message peer */

/*
 * What a message type may carry and between whom: one entry per type in
 * imsg_specs[], indexed by type.  A relayed message has two hops.
 */
struct imsg_hop {
	uint8_t		 ih_from;	/* masks of 1 << enum proc_role */
	uint8_t		 ih_to;
};

struct imsg_spec {
	const char	*is_name;
	struct imsg_hop	 is_hops[2];
	uint32_t	 is_min;	/* payload bytes */
	uint32_t	 is_max;
	uint8_t		 is_fd;		/* 1: carries a descriptor */
};

enum child_state {
	CHILD_STARTING,		/* forked, being configured */
	CHILD_RUNNING,
	CHILD_STOPPING,		/* draining */
	CHILD_DEAD,		/* waiting to be respawned */
};

/*
 * The registration API: the networks backends may be registered in
 * (--register-allow), and its secrets, which go to the registrar alone.
 */
#define REG_ALLOW_MAX		32
#define TLS_LIST_MAX		256	/* --tls-ciphers and the like */
#define REGISTER_MAX_LIMIT	1000000	/* --register-max-backends */
#define REG_SECRET_MAX		1024	/* a shared secret or a key, bytes */

struct reg_net {
	uint8_t		 rn_family;	/* AF_INET, AF_INET6 */
	uint8_t		 rn_prefix;
	uint8_t		 rn_addr[16];
};

enum { SECRET_REGISTER, SECRET_JWT_KEY, SECRET_JWT_PREVKEY };

struct reg_secrets {
	uint32_t	 rs_secret_len;
	uint32_t	 rs_key_len;
	uint32_t	 rs_prevkey_len;	/* 0: none */
	unsigned char	 rs_secret[REG_SECRET_MAX];
	unsigned char	 rs_key[REG_SECRET_MAX];
	unsigned char	 rs_prevkey[REG_SECRET_MAX];
};

/*
 * A client listener: TLS, or plain (HTTPS redirects, or --http-proxy).
 * Its address is canonical ("192.0.2.1:443", "[2001:db8::1]:443"), so
 * that a reload knows a listener it has already bound.
 */
#define PORTERO_MAX_LISTENERS	16
#define LISTEN_ADDR_MAX		48
struct listen_conf {
	char		 ln_addr[LISTEN_ADDR_MAX];
	uint8_t		 ln_tls;
	uint8_t		 ln_proxy;	/* takes PROXY headers from the
					   nets of NET_PROXY + its index */
	uint8_t		 ln_pad[2];
};

/*
 * The whole configuration, filled by flags (and later a file) in the
 * parent, sent to every child.  Fixed size: it crosses a socketpair.
 * Secrets are never in it: only the names of the files they come from.
 */
struct portero_config {
	char		 conf_file[CONF_PATH_MAX];	/* "": flags only */
	char		 listen_addr[HOSTPORT_MAX];	/* the flag; "": none */
	char		 register_addr[HOSTPORT_MAX];
	char		 control_socket[CONF_PATH_MAX];
	char		 state_dir[CONF_PATH_MAX];
	char		 chroot_dir[CONF_PATH_MAX];
	char		 cert_dir[CONF_PATH_MAX];
	char		 user[NAME_MAX_LEN];
	char		 http_addr[HOSTPORT_MAX];	/* the flag; "": none */
	char		 metrics_addr[HOSTPORT_MAX];	/* "": none */
	char		 default_sni[NAME_MAX_LEN];
	char		 default_service[NAME_MAX_LEN];
	char		 upstream_ca[CONF_PATH_MAX];	/* "" = system */
	char		 access_log[CONF_PATH_MAX];	/* "" = syslog */
	char		 tls_ciphers[TLS_LIST_MAX];	/* "" = default */
	char		 tls_ciphersuites[TLS_LIST_MAX];
	char		 tls_groups[TLS_LIST_MAX];
	uint32_t	 workers;
	uint32_t	 drain_timeout;
	uint32_t	 tls_ticket_rotate;	/* seconds */
	uint32_t	 cert_scan_interval;
	uint32_t	 header_timeout;
	uint32_t	 idle_timeout;
	uint32_t	 handshake_timeout;
	uint32_t	 connect_timeout;
	uint32_t	 upstream_timeout;
	uint32_t	 body_timeout;
	uint32_t	 send_timeout;
	uint32_t	 tunnel_idle_timeout;	/* WebSockets */
	uint32_t	 h2_max_streams;	/* concurrent, a connection */
	uint32_t	 h2_max_header_list;	/* bytes, RFC 9113 counting */
	uint32_t	 h2_window;	/* initial stream window */
	uint32_t	 h2_reset_rate;	/* streams reset a second */
	int32_t		 no_h2;		/* ALPN offers http/1.1 alone */
	int32_t		 h2c;		/* prior knowledge, cleartext */
	uint64_t	 max_body_size;	/* 0: no limit */
	int32_t		 verbose;
	int32_t		 foreground;
	int32_t		 http_proxy;	/* --http-addr proxies, not 301 */
	int32_t		 upstream_insecure;
	int32_t		 access_log_off;
	/* accesslog.c: the line's format; reqid.c: a client's id kept */
	uint32_t	 access_log_format;	/* enum log_format */
	int32_t		 trust_request_id;
	int32_t		 no_register;	/* --no-register */
	char		 register_secret_file[CONF_PATH_MAX];
	char		 jwt_key_file[CONF_PATH_MAX];
	char		 jwt_prevkey_file[CONF_PATH_MAX];
	char		 jwt_issuer[NAME_MAX_LEN];
	char		 jwt_audience[NAME_MAX_LEN];
	uint32_t	 jwt_leeway;
	uint32_t	 max_ttl;
	uint32_t	 register_max_backends;
	uint32_t	 register_max_per_service;
	uint32_t	 register_fail_limit;	/* a second, per address */
	uint32_t	 register_nallow;	/* 0: anywhere */
	struct reg_net	 register_allow[REG_ALLOW_MAX];
	/* realip.c: the field trusted forwarders' chain is read from */
	uint32_t	 forwarders_field;	/* enum forwarders_field */
	/* the file's listeners and the flags', as config_load() made
	   them: never empty */
	struct listen_conf listeners[PORTERO_MAX_LISTENERS];
	uint32_t	 nlisteners;
};

/*
 * A backend of a pool: from the file's pool blocks or --backend
 * SERVICE=HOST:PORT[,tls], resolved by the parent (workers never resolve
 * names), or registered.  be_service is the pool's name.
 */
#define BACKEND_WEIGHT_MAX	1000
struct backend_conf {
	char		 be_service[NAME_MAX_LEN];	/* lower case */
	char		 be_host[HOSTPORT_MAX];		/* as written */
	struct sockaddr_storage be_ss;
	uint32_t	 be_sslen;
	uint32_t	 be_weight;	/* 1 unless the file says */
	uint16_t	 be_port;
	uint8_t		 be_tls;
};

/*
 * What portero.conf(5) adds to the globals: servers with their names,
 * locations and header operations, and pools with their backends.  The
 * parent parses a whole set aside and takes it only if it is good; each
 * object crosses to the workers in a message of its own and a worker
 * builds its route table from the whole set at CFG_DONE.  Strings travel
 * packed after a small fixed head, so that a set of 10,000 locations
 * stays far below a child's queue bound.
 */
#define CONF_STR_MAX		1024	/* a path, a target, a field value */
#define CONF_OBJECTS_MAX	1000000	/* of each kind */
#define CONF_NONE		UINT32_MAX

#define SERVER_DEFAULT		0x01	/* for hosts no server names */

enum forwarded_style {
	FORWARDED_X,		/* X-Forwarded-For and its kin (default) */
	FORWARDED_RFC7239,	/* Forwarded: for=...;proto=...;host=... */
	FORWARDED_BOTH,
};

#define CLIENT_CERT_FIELD_MAX	64	/* a header field's name, with NUL */

struct server_conf {
	char		 sc_name[NAME_MAX_LEN];	/* lower case */
	uint32_t	 sc_flags;
	uint32_t	 sc_forwarded;	/* enum forwarded_style */
	int32_t		 sc_line;	/* where the file says it */
	/* client certificates (mTLS, clientca.c) */
	uint32_t	 sc_verify;	/* enum ptls_verify */
	uint32_t	 sc_clientca;	/* its bundle, in cs_clientca */
	int32_t		 sc_cert_line;	/* of "client certificate" */
	char		 sc_subject_field[CLIENT_CERT_FIELD_MAX];  /* "": no */
	char		 sc_fingerprint_field[CLIENT_CERT_FIELD_MAX];
};

/* A name a server answers to: its own, an alias or "*.domain". */
struct server_name {
	uint32_t	 sn_server;	/* index in the set */
	int32_t		 sn_line;
	char		 sn_name[NAME_MAX_LEN];	/* lower case */
};

enum location_match { LOC_PREFIX, LOC_EXACT };
enum location_action {
	LOC_INHERIT,		/* the server's own action */
	LOC_FORWARD,		/* to a pool */
	LOC_REDIRECT,		/* return 301 "target" */
	LOC_BLOCK,		/* block return 403 */
};

/*
 * A location, or a server's own action (lo_path "", always present):
 * the same struct in the parent and in a worker; its strings are owned
 * by it and packed on the wire.
 */
struct location {
	uint32_t	 lo_server;	/* index in the set */
	uint8_t		 lo_match;	/* enum location_match */
	uint8_t		 lo_action;	/* enum location_action */
	uint16_t	 lo_status;	/* redirect or block */
	int32_t		 lo_line;
	char		*lo_path;	/* normalised; no '*' */
	char		*lo_pool;	/* LOC_FORWARD */
	char		*lo_target;	/* LOC_REDIRECT, with macros */
	char		*lo_strip;	/* a prefix to replace, or NULL */
	char		*lo_prefix;	/* what takes its place */
	size_t		 lo_pathlen;
	/* a worker's, filled when its table is built */
	struct service	*lo_sv;
	struct header_op **lo_ops;	/* the server's, then its own */
	uint32_t	 lo_nops;
};

enum header_dir { HDR_REQUEST, HDR_RESPONSE };
enum header_verb { HDR_SET, HDR_ADD, HDR_REMOVE };

struct header_op {
	uint32_t	 ho_server;
	uint32_t	 ho_location;	/* index in the set; CONF_NONE: the
					   server's, for all its locations */
	uint8_t		 ho_dir;	/* enum header_dir */
	uint8_t		 ho_verb;	/* enum header_verb */
	int32_t		 ho_line;
	char		*ho_name;
	char		*ho_value;	/* with macros; "" for remove */
	size_t		 ho_namelen;
};

/*
 * Active health checks (check.c, health.c): per pool, how the health
 * child probes each of its backends.  Interval and timeout in ms; a
 * backend is up after rise successes in a row, down after fall failures.
 */
enum check_type {
	CHECK_NONE,
	CHECK_TCP,		/* connect */
	CHECK_TLS,		/* connect and a verified handshake */
	CHECK_HTTP,		/* GET path, over TLS for a TLS backend */
};
#define CHECK_PATH_MAX		256
#define CHECK_INTERVAL_MS	10000	/* defaults */
#define CHECK_TIMEOUT_MS	5000
#define CHECK_RISE		2
#define CHECK_FALL		3
#define CHECK_STATUS		200
#define CHECK_MIN_MS		10	/* bounds of interval and timeout */
#define CHECK_MAX_MS		3600000
#define CHECK_COUNT_MAX		100	/* of rise and fall */
#define CHECK_TARGETS_MAX	4096	/* backends the child checks */
#define CHECK_RESPONSE_MAX	4096	/* an HTTP status line, within */

struct check_conf {
	uint32_t	 ck_type;	/* enum check_type */
	uint32_t	 ck_interval_ms;
	uint32_t	 ck_timeout_ms;
	uint32_t	 ck_rise;
	uint32_t	 ck_fall;
	uint32_t	 ck_status;	/* CHECK_HTTP: the status expected */
	char		 ck_path[CHECK_PATH_MAX];	/* CHECK_HTTP */
};

#define POOL_DECLARED		0x01	/* by the file, not a --backend */
#define POOL_USED		0x02	/* some location forwards to it */

/*
 * balance.c: how a pool chooses a backend.  The configuration travels
 * with the pool; what a worker keeps for it (struct balance) is rebuilt
 * from the pool's backends whenever they change, never per request.
 */
enum balance_mode {
	BALANCE_ROUNDROBIN,	/* weighted, interleaved (default) */
	BALANCE_RANDOM,		/* two random choices, the less loaded */
	BALANCE_LEASTCONN,	/* fewest requests in flight, by weight */
	BALANCE_HASH,		/* consistent hashing on a key */
};

enum balance_key {
	BALANCE_KEY_ADDRESS,	/* the client's address */
	BALANCE_KEY_HEADER,	/* a request header field's value */
	BALANCE_KEY_COOKIE,	/* a request cookie's value */
};

#define BALANCE_NAME_MAX	64	/* a header or cookie name */

struct balance_conf {
	uint8_t		 ba_mode;	/* enum balance_mode */
	uint8_t		 ba_key;	/* enum balance_key: hash */
	uint8_t		 ba_sticky;	/* a sticky cookie over the mode */
	uint8_t		 ba_pad;
	int32_t		 ba_line;	/* where the file says "balance" */
	int32_t		 ba_sticky_line;	/* ... "sticky" */
	char		 ba_keyname[BALANCE_NAME_MAX];	/* header, cookie */
	char		 ba_cookie[BALANCE_NAME_MAX];	/* sticky's */
};

struct pool_conf {
	char		 pl_name[NAME_MAX_LEN];	/* lower case */
	uint32_t	 pl_flags;
	int32_t		 pl_line;
	/* the global options a pool may set for itself; 0 or "": global */
	char		 pl_tls_name[NAME_MAX_LEN];	/* SNI, verified */
	uint32_t	 pl_connect_timeout;
	uint32_t	 pl_upstream_timeout;
	uint32_t	 pl_max_connections;	/* a backend, a worker */
	uint32_t	 pl_max_pool_connections; /* all its backends, a
						   worker */
	uint32_t	 pl_retry;	/* enum pool_retry */
	uint32_t	 pl_tls_ca;	/* its bundle in cs_poolca, + 1;
					   0: the global upstream-ca */
	/* its client certificate (poolcert.c): 0 when none */
	uint32_t	 pl_tls_cert;	/* its pair in cs_poolcert, + 1 */
	uint32_t	 pl_tls_cert_id;	/* the pair's number */
	struct balance_conf pl_balance;
	struct check_conf pl_check;	/* ck_type CHECK_NONE: none */
};

/* What a pool does when a backend fails a request (pool's "retry"). */
enum pool_retry {
	RETRY_CONNECT,		/* one that refused: the next backend */
	RETRY_NONE,		/* no other backend is tried */
	RETRY_IDEMPOTENT,	/* also a bodiless idempotent request that
				   failed before any response byte, once */
};

/* A location and a header operation on the wire: a head, then strings. */
struct location_msg {
	uint32_t	 lm_server;
	uint8_t		 lm_match;
	uint8_t		 lm_action;
	uint16_t	 lm_status;
	uint8_t		 lm_nstr;	/* strings after it, NUL-terminated */
	uint8_t		 lm_pad[3];
};
#define LOCATION_STRINGS	5	/* path, pool, target, strip, prefix */

struct header_msg {
	uint32_t	 hm_server;
	uint32_t	 hm_location;
	uint8_t		 hm_dir;
	uint8_t		 hm_verb;
	uint8_t		 hm_pad[2];
};

/*
 * The networks of a list of the file: those that may send the PROXY
 * protocol to a listener, and the trusted forwarders, whose chain of
 * addresses (X-Forwarded-For, Forwarded or X-Real-IP) says who the
 * client is.
 */
enum net_list {
	NET_FORWARDERS,		/* trusted forwarders */
	NET_PENDING,		/* the parser's, while a list is read */
	NET_PROXY,		/* PROXY headers, to listener 0; + i: to i */
	NET_LISTS = NET_PROXY + PORTERO_MAX_LISTENERS
};

enum forwarders_field {
	FWD_FIELD_XFF,		/* X-Forwarded-For (the default) */
	FWD_FIELD_FORWARDED,	/* Forwarded: for= (RFC 7239) */
	FWD_FIELD_REAL_IP,	/* X-Real-IP: one address */
};

struct net_conf {
	uint32_t	 nc_list;	/* enum net_list */
	int32_t		 nc_line;
	struct reg_net	 nc_net;
	uint8_t		 nc_pad[2];
};

struct conf_set {
	struct server_conf	*cs_servers;
	struct server_name	*cs_names;
	struct location		*cs_locations;
	struct header_op	*cs_headers;
	struct pool_conf	*cs_pools;
	struct backend_conf	*cs_backends;
	uint32_t		 cs_nservers, cs_capservers;
	uint32_t		 cs_nnames, cs_capnames;
	uint32_t		 cs_nlocations, cs_caplocations;
	uint32_t		 cs_nheaders, cs_capheaders;
	uint32_t		 cs_npools, cs_cappools;
	uint32_t		 cs_nbackends, cs_capbackends;
	struct client_ca_set	*cs_clientca;	/* the parent's; NULL: none */
	struct pool_ca_set	*cs_poolca;	/* the parent's; NULL: none */
	struct pool_cert_set	*cs_poolcert;	/* the parent's; NULL: none */
	/* realip.c: who may send PROXY headers, trusted forwarders */
	struct net_conf		*cs_nets;
	uint32_t		 cs_nnets, cs_capnets;
};

/*
 * A registered backend on the wire: the service (lower case), the
 * address as the registrar normalised it, when it expires.
 */
struct reg_backend {
	char		 rb_service[NAME_MAX_LEN];
	char		 rb_host[INET6_ADDRSTRLEN];
	struct sockaddr_storage rb_ss;		/* with the port */
	uint32_t	 rb_sslen;
	uint32_t	 rb_seq;		/* update number; 0: none */
	int64_t		 rb_expires;		/* seconds since the epoch */
	uint16_t	 rb_port;
	uint8_t		 rb_tls;
};

#define REG_SNAP_WINDOW		64	/* snapshot messages in flight */
#define REG_ACK_TIMEOUT_MS	1000	/* a running worker's answer */

/* A backend that refused a connection rests, doubling from MIN to MAX. */
#define BACKEND_BACKOFF_MIN_MS	1000
#define BACKEND_BACKOFF_MAX_MS	30000

/*
 * Backend health, shared (hstate.c has the states).  A worker reports
 * what its requests found (BH_FAILED, BH_OK) to the owner; the owner
 * sends verdicts: the backend is up, rests (out until a probe or an up
 * verdict), is down by its active check, may be tried once by the
 * worker it names (a probe), or every verdict so far is void (reset: the
 * owner changed).  A backend is known by its service, address and TLS
 * setting.
 */
enum backend_event {
	BH_FAILED,		/* worker: a connection was refused */
	BH_OK,			/* worker: one got through, after a rest */
	BH_PROBED,		/* worker: it took its probe */
	BH_UP,			/* owner: back in rotation */
	BH_REST,		/* owner: out for bh_rest_ms, then a probe */
	BH_DOWN,		/* owner: its active check failed */
	BH_PROBE,		/* owner: this worker may try it once */
	BH_RESET,		/* owner: rests void; bh_all: checks too */
};
#define HEALTH_ALL_WORKERS	UINT32_MAX	/* a verdict's peerid */
#define BACKEND_PROBE_WAIT_MS	500	/* a probe unused for this long
					   goes to the next worker */
#define BACKEND_PROBE_RESULT_MS	30000	/* one taken whose result never
					   came: the next worker */

struct backend_health {
	char		 bh_service[NAME_MAX_LEN];
	struct sockaddr_storage bh_ss;
	uint32_t	 bh_sslen;
	uint32_t	 bh_backoff_ms;	/* the rest it is in */
	uint32_t	 bh_rest_ms;	/* down for this long from now */
	uint8_t		 bh_tls;
	uint8_t		 bh_event;	/* enum backend_event */
	uint8_t		 bh_all;	/* BH_RESET: check verdicts too */
};

/* A backend to check, with its pool's check: what the parent sends. */
struct check_target {
	char		 ct_service[NAME_MAX_LEN];	/* its pool */
	char		 ct_name[NAME_MAX_LEN];	/* TLS name */
	struct sockaddr_storage ct_ss;
	uint32_t	 ct_sslen;
	uint16_t	 ct_port;
	uint8_t		 ct_tls;
	uint8_t		 ct_registered;
	char		 ct_host[HOSTPORT_MAX];	/* HTTP checks' Host: */
	struct check_conf ct_check;
	uint32_t	 ct_tls_ca;	/* its pool's pl_tls_ca */
	uint32_t	 ct_tls_cert;	/* its pool's pl_tls_cert_id */
};

/* What "show backends" shows of a backend's checks. */
enum health_state {
	HEALTH_UNCHECKED,	/* no active check */
	HEALTH_PENDING,		/* checked, no verdict yet */
	HEALTH_UP,
	HEALTH_DOWN,
};
#define CHECK_RESULT_LEN	128

struct health_stat {
	uint8_t		 hs_state;	/* enum health_state */
	uint8_t		 hs_type;	/* enum check_type */
	uint8_t		 hs_ok;		/* the last check passed */
	uint8_t		 hs_pad;
	uint32_t	 hs_ms;		/* the last check took */
	int64_t		 hs_at;		/* it ended; 0: none yet */
	char		 hs_result[CHECK_RESULT_LEN];	/* "http 200" */
};

/*
 * A bundle is whole in a worker's queue (IMSG_WQUEUE_MAX) with room to
 * spare; Debian's is 220 KB.
 */
#define UPSTREAM_CA_MAX		(4 * 1024 * 1024)
struct upstream_ca_msg {
	uint32_t	 uc_gen;	/* the parent's count of bundles */
	uint32_t	 uc_verify;	/* 0: --upstream-insecure, no bundle */
	uint32_t	 uc_len;	/* bytes of the bundle to come */
	char		 uc_path[CONF_PATH_MAX];	/* for log lines */
};

/*
 * Client CA bundles (clientca.c): the files servers name for client
 * certificates, each read once by the parent as the configuration is
 * parsed, kept with it and sent whole to every worker.  All of them fit
 * in a worker's queue beside the upstream bundle.
 */
#define CLIENT_CA_FILES		32	/* distinct files */
#define CLIENT_CA_FILE_MAX	(1024 * 1024)
#define CLIENT_CA_TOTAL_MAX	(2 * 1024 * 1024)

struct client_ca {
	char		 cca_path[CONF_PATH_MAX];
	char		*cca_pem;
	size_t		 cca_len;
};

struct client_ca_set {
	struct client_ca	 ccs_ca[CLIENT_CA_FILES];
	unsigned int		 ccs_n;
	size_t			 ccs_bytes;
};

struct client_ca_msg {
	uint32_t	 cam_index;	/* 0, 1, ... in order */
	uint32_t	 cam_len;	/* bytes of the bundle to come */
	char		 cam_path[CONF_PATH_MAX];	/* for log lines */
};

/*
 * Pools' own upstream CA bundles (poolca.c, "tls-ca"): each file read
 * and parsed once by the parent as the configuration is, sent to the
 * workers and the health child, which build one client context for
 * each (never one per connection).  All of them fit in a worker's
 * queue beside the upstream and client bundles.  A bundle keeps its
 * number (pca_id) across reloads while its path and bytes stay, so
 * that a reload that does not change it keeps its context, and the
 * connections and sessions made with it.
 */
#define POOL_CA_FILES		16	/* distinct files */
#define POOL_CA_FILE_MAX	(1024 * 1024)
#define POOL_CA_TOTAL_MAX	(1024 * 1024)

/*
 * A client context, counted: the backends that use it hold it, so that
 * a connection is verified as its pool said when it was routed.
 */
struct upstream_tls {
	struct ptls_client	*ut_pc;
	unsigned int		 ut_refs;
	unsigned int		 ut_gen;	/* the upstream_tls_gen of it */
};

struct pool_ca {
	char			 pca_path[CONF_PATH_MAX];
	char			*pca_pem;
	size_t			 pca_len;
	uint32_t		 pca_id;	/* given by the parent */
	struct upstream_tls	*pca_tls;	/* a child's context of it */
};

struct pool_ca_set {
	struct pool_ca	 pcs_ca[POOL_CA_FILES];
	unsigned int	 pcs_n;
	size_t		 pcs_bytes;
};

struct pool_ca_msg {
	uint32_t	 pcm_index;	/* 0, 1, ... in order */
	uint32_t	 pcm_id;	/* stays while the bytes do */
	uint32_t	 pcm_len;	/* bytes of the bundle to come */
	char		 pcm_path[CONF_PATH_MAX];	/* for log lines */
};

/*
 * Metrics (wmetrics.c, metrics.c).  Histograms have fixed buckets, the
 * same for every duration, counted apart (not cumulative) in
 * microseconds so that an update is a short scan and two adds; the
 * metrics child sums them and writes them cumulative, in seconds.
 */
#define MET_NBOUNDS	13		/* finite bounds; +Inf is one more */
#define MET_NBUCKETS	(MET_NBOUNDS + 1)
#define MET_CLASSES	5		/* 1xx .. 5xx */
#define MET_PROTOS	2		/* h1, h2 */
#define MET_ADDR_MAX	(HOSTPORT_MAX + 8)	/* "host:port" */
/*
 * A scrape's number is in the low bits of peerid; the parent, relaying
 * a worker's part, puts 1 + the worker's number in the high ones.
 */
#define MET_SEQ_MASK	0x00ffffffU
#define MET_SRC_SHIFT	24
#define MET_KEEP	0xffffffffU	/* not a scrape: kept counts */
extern const uint32_t	 met_bounds_us[MET_NBOUNDS];

struct met_hist {
	uint64_t	 mh_bucket[MET_NBUCKETS];
	uint64_t	 mh_sum_us;
};

/* Why a client's TLS handshake failed. */
enum hs_failure {
	HS_FAIL_TIMEOUT,
	HS_FAIL_CLOSED,		/* the client left */
	HS_FAIL_CLIENT_CERT,	/* one was asked for and not given */
	HS_FAIL_PROTOCOL,	/* anything else the library refused */
	HS_FAIL_MAX
};

/* Why the registration API refused a request. */
enum reg_refusal {
	REG_REF_BAD_REQUEST, REG_REF_UNAUTHORIZED, REG_REF_FORBIDDEN,
	REG_REF_NOT_FOUND, REG_REF_METHOD, REG_REF_TOO_LARGE,
	REG_REF_MEDIA_TYPE, REG_REF_RATE_LIMITED, REG_REF_UNAVAILABLE,
	REG_REF_FULL, REG_REF_OTHER, REG_REF_MAX
};

struct met_begin {
	uint32_t	 mb_sources;	/* children asked: MET_ENDs to come */
	uint32_t	 mb_reloads;	/* taken */
	uint32_t	 mb_reloads_refused;
	uint64_t	 mb_log_lines;	/* the logger's last report */
	uint64_t	 mb_log_errors;
};

struct met_proc {
	uint32_t	 mp_role;	/* enum proc_role */
	uint32_t	 mp_id;
	int32_t		 mp_pid;	/* 0: not running */
	uint32_t	 mp_restarts;
	uint64_t	 mp_rss;	/* bytes; 0: unknown */
};

struct met_worker {
	uint64_t	 mw_connections[MET_PROTOS];	/* open now */
	uint64_t	 mw_handshakes;	/* full */
	uint64_t	 mw_resumed;
	uint64_t	 mw_hs_failed[HS_FAIL_MAX];
	uint64_t	 mw_client_in;
	uint64_t	 mw_client_out;
	uint64_t	 mw_log_dropped;
};

/*
 * Then its request durations if ms_hashist, and the name, ms_namelen
 * bytes ("": no pool).
 */
struct met_service {
	uint64_t	 ms_requests[MET_PROTOS][MET_CLASSES];
	uint32_t	 ms_hashist;
	uint32_t	 ms_namelen;
};

/*
 * Then the histograms mb_hists names (MET_HB_CONNECT, MET_HB_RESPONSE,
 * in that order), the pool's name and the backend's "host:port".  Only
 * what was counted travels: most registered backends send no histogram.
 */
#define MET_HB_CONNECT	0x1
#define MET_HB_RESPONSE	0x2
struct met_backend {
	uint64_t	 mb_errors;
	int32_t		 mb_up;		/* 1, 0; -1: not in a pool now */
	uint32_t	 mb_hists;
	uint32_t	 mb_namelen;
	uint32_t	 mb_addrlen;
};

struct met_registrar {
	uint64_t	 mr_registrations;	/* taken */
	uint64_t	 mr_refusals[REG_REF_MAX];
};

struct met_regsvc {
	uint64_t	 mr_backends;
	char		 mr_service[NAME_MAX_LEN];
};

/* A message the parent keeps for the metrics child (pmetrics.c). */
struct met_kept {
	uint32_t	 mk_type;
	size_t		 mk_len;
	void		*mk_data;
};

struct met_cert {
	int64_t		 mc_not_after;	/* seconds since the epoch */
	char		 mc_name[NAME_MAX_LEN];
};

/* How "show stats" is written. */
enum stats_format {
	STATS_TEXT,		/* for a person */
	STATS_JSON,
};

/*
 * Pools' client certificates (poolcert.c, "tls-client-certificate"):
 * each pair of files opened by the parent (which never reads a key) as
 * the configuration is parsed, read and checked by the certloader, sent
 * by it to the workers and the health child, which build one client
 * context for each pair and CA bundle used together.  A pair keeps its
 * number (pk_id) while its files' names stay, and a pool that names
 * other files takes over its last pair's number when no other pool
 * keeps it: the certloader keeps what is in service under a number
 * until something good replaces it.
 */
#define POOL_CERT_PAIRS		16	/* distinct pairs of files */
#define POOL_CERT_FILE_MAX	(16 * 1024)	/* a certificate or a key */
#define POOL_CERT_TO_ALL	UINT32_MAX	/* a set's peerid: every */
#define POOL_CERT_TO_HEALTH	(UINT32_MAX - 1)	/* ... the health */

struct pool_cert {
	char		 pk_cert[CONF_PATH_MAX];
	char		 pk_key[CONF_PATH_MAX];
	char		 pk_where[CONF_PATH_MAX];	/* FILE:LINE of its
							   first use */
	int		 pk_certfd;	/* the parent's, open; -1: none */
	int		 pk_keyfd;
	uint32_t	 pk_id;		/* given as the set is taken */
};

struct pool_cert_set {
	struct pool_cert pks_pair[POOL_CERT_PAIRS];
	unsigned int	 pks_n;
};

struct pool_cert_file {
	uint32_t	 pkf_index;	/* 0, 1, ... in order */
	uint32_t	 pkf_id;
	uint32_t	 pkf_key;	/* 0: the certificate, 1: the key */
	char		 pkf_path[CONF_PATH_MAX];
	char		 pkf_where[CONF_PATH_MAX];	/* for log lines */
};

struct pool_cert_files_end {
	uint32_t	 pke_count;	/* pairs */
	uint32_t	 pke_start;	/* the daemon starts: a bad pair
					   stops it */
};

struct pool_cert_msg {
	uint32_t	 pkm_index;	/* 0, 1, ... in order */
	uint32_t	 pkm_id;
	uint32_t	 pkm_certlen;	/* bytes to come: cert, then key */
	uint32_t	 pkm_keylen;
	unsigned char	 pkm_hash[32];	/* of both: changed or not */
	char		 pkm_path[CONF_PATH_MAX];	/* the certificate's,
							   for log lines */
};

#define CERT_MAX_NAMES		64
#define CERT_MAX_BYTES		(1024 * 1024)	/* names, cert, key, staple */
#define CERT_SET_MAX		(64 * 1024 * 1024)	/* a whole set */
#define CERT_WINDOW		8	/* messages in flight to a worker */

struct cert_begin {
	uint32_t	 cb_transfer;	/* echoed in the acknowledgements */
	uint32_t	 cb_npairs;
	uint64_t	 cb_bytes;	/* names, certs and keys, summed */
};

struct cert_ack {
	uint32_t	 ca_transfer;
	uint32_t	 ca_count;	/* messages of the transfer so far */
};

struct cert_msg {
	char		 cm_domain[NAME_MAX_LEN];
	uint32_t	 cm_names_len;	/* NUL-terminated names, back to back */
	uint32_t	 cm_cert_len;
	uint32_t	 cm_key_len;
	uint32_t	 cm_ocsp_len;	/* 0: nothing to staple */
};

#define TICKET_KEY_SIZE		48
struct ticket_key_msg {
	uint32_t	 tk_rev;
	unsigned char	 tk_key[TICKET_KEY_SIZE];
	unsigned char	 tk_sessid[32];	/* shared session-id context */
};

struct ctl_cert {
	char		 cc_domain[NAME_MAX_LEN];
	char		 cc_names[1024];	/* comma-separated */
	int64_t		 cc_not_after;		/* seconds since the epoch */
	char		 cc_cert_file[512];
	char		 cc_key_file[512];
	char		 cc_state[16];		/* "ok", "error", "stale" */
	char		 cc_error[256];		/* last error, "" if none */
	int64_t		 cc_ocsp_until;		/* stapled until; 0: none */
	char		 cc_ocsp_error[256];	/* why not, "" if none */
};

enum listener_kind {
	LISTENER_PROXY,		/* client traffic, to a worker */
	LISTENER_REGISTER,	/* registration API, to the registrar */
	LISTENER_HTTP,		/* --http-addr: redirects, to a worker */
	LISTENER_METRICS,	/* --metrics-addr, to the metrics child */
};

struct listener_msg {
	uint32_t	 kind;		/* enum listener_kind */
	uint32_t	 index;		/* in conf->listeners */
	char		 addr[HOSTPORT_MAX];
};

struct worker_stats {
	uint64_t	 connections;	/* open now */
	uint64_t	 accepted;	/* since start */
	uint64_t	 requests;	/* since start */
	uint64_t	 handshakes;	/* full TLS handshakes, since start */
	uint64_t	 resumed;	/* resumed ones */
	uint64_t	 upstream_handshakes;	/* full, to backends */
	uint64_t	 upstream_resumed;	/* resumed ones */
	uint64_t	 h2_connections;	/* open now, HTTP/2 */
	uint64_t	 h2_streams;	/* open now */
	uint64_t	 client_in;	/* bytes from clients, since start */
	uint64_t	 client_out;	/* ... and to them */
	uint64_t	 handshake_failed[HS_FAIL_MAX];
	uint64_t	 log_dropped;	/* access log lines the logger could
					   not take at once, since start */
};

/* The logger's counters, since it started. */
struct logger_stats {
	uint64_t	 ls_lines;	/* written (or to the daemon's log) */
	uint64_t	 ls_errors;	/* writes that failed */
	uint64_t	 ls_reopens;	/* files taken after the first */
};

/*
 * "show backends" goes a page at a time: the parent names up to
 * BACKENDS_PAGE backends, from flags and registered alike, and every
 * running worker answers with its counters for each, in that order.
 * Both messages hold br_n (bss_n) entries and no more.
 */
#define BACKENDS_PAGE		32
struct backend_key {
	char		 bk_service[NAME_MAX_LEN];
	struct sockaddr_storage bk_ss;
	uint32_t	 bk_sslen;
	uint8_t		 bk_tls;
	uint8_t		 bk_registered;
};

struct backends_req {
	uint32_t	 br_page;	/* echoed in the answer */
	uint32_t	 br_n;
	struct backend_key br_keys[BACKENDS_PAGE];
};

struct backend_stat {
	uint64_t	 bs_requests;
	uint64_t	 bs_failures;
	uint32_t	 bs_down;	/* resting after failures */
	uint32_t	 bs_pad;
};

struct backends_stats {
	uint32_t	 bss_page;
	uint32_t	 bss_n;
	struct backend_stat bss_stats[BACKENDS_PAGE];
};

/* The health child's answer to the same page: its checks of each. */
struct health_stats {
	uint32_t	 hss_page;
	uint32_t	 hss_n;
	struct health_stat hss_stats[BACKENDS_PAGE];
};

/* One backend as porterod-ctl gets it: counters summed over workers. */
struct ctl_backend {
	char		 cb_service[NAME_MAX_LEN];
	char		 cb_host[HOSTPORT_MAX];	/* as written, or numeric */
	int64_t		 cb_expires_in;		/* seconds, if registered */
	uint64_t	 cb_requests;
	uint64_t	 cb_failures;
	uint32_t	 cb_workers;		/* workers that answered */
	uint16_t	 cb_port;
	uint8_t		 cb_tls;
	uint8_t		 cb_registered;
	uint8_t		 cb_down;
	uint8_t		 cb_health;		/* enum health_state */
	uint8_t		 cb_check_type;		/* enum check_type */
	uint8_t		 cb_check_ok;
	uint8_t		 cb_pad[4];
	uint32_t	 cb_check_ms;		/* the last check took */
	int64_t		 cb_check_at;		/* it ended; 0: none */
	char		 cb_check[CHECK_RESULT_LEN];	/* its result */
};

#define RELOAD_ERROR_MAX	256
struct ctl_status {
	char		 version[32];
	char		 tls[64];	/* the TLS library, with its version */
	uint32_t	 pid;
	uint64_t	 uptime;	/* seconds */
	char		 config[CONF_PATH_MAX];	/* "": flags alone */
	uint32_t	 reloads;	/* taken */
	uint32_t	 reloads_refused;
	uint64_t	 reload_age;	/* seconds since the last; */
	uint32_t	 reload_tried;	/* ... 0: none yet */
	char		 reload_error[RELOAD_ERROR_MAX]; /* the last one's
						   first problem; "": taken */
	uint32_t	 nlisteners;
	struct listen_conf listeners[PORTERO_MAX_LISTENERS];
	/* the access log: "" with access_log_off, or the daemon's log */
	char		 access_log[CONF_PATH_MAX];
	uint32_t	 access_log_off;
	uint32_t	 logger_running;	/* logger_stats current */
	struct logger_stats logger;
};

struct ctl_child {
	uint32_t	 role;		/* enum proc_role */
	uint32_t	 id;
	uint32_t	 pid;		/* 0 while dead */
	uint32_t	 state;		/* enum child_state */
	uint32_t	 restarts;
	uint32_t	 has_stats;	/* 1 if stats below are current */
	struct worker_stats stats;
};

/*
 * A child as the parent sees it.
 */
struct child {
	enum proc_role	 ch_role;
	unsigned int	 ch_id;		/* worker number; 0 for the others */
	pid_t		 ch_pid;
	enum child_state ch_state;
	unsigned int	 ch_restarts;
	unsigned int	 ch_quickdeaths;
	struct timespec	 ch_started;
	struct imsgev	 ch_iev;
	int		 ch_ievset;	/* ch_iev has an fd and an event */
	struct event	 ch_respawn;
	struct worker_stats ch_stats;
	uint32_t	 ch_ping;	/* last sequence sent */
	struct timespec	 ch_pong;	/* when it last answered */
	int		 ch_cfg_sent;	/* a configuration not yet applied */
	int		 ch_cfg_again;	/* a newer one waits for that */
	uint32_t	 ch_reg_seq;	/* registry updates it has applied */
	struct timespec	 ch_reg_wait;	/* behind since then */
	int		 ch_snapping;	/* CFG_DONE waits for the snapshot */
	int		 ch_snap_began;
	uint32_t	 ch_snap_inflight; /* sent, unacknowledged */
	struct reg_backend ch_snap_last; /* the last one sent */
	uint32_t	 ch_ca_gen;	/* upstream CA bundle it was sent */
	uint32_t	 ch_listen_gen;	/* listeners it was sent */
	uint32_t	 ch_clientca_gen;	/* client CA bundles ... */
	uint32_t	 ch_poolca_gen;		/* pools' CA bundles ... */
};

/* The parent's copy of the registry (regcopy.c). */
struct reg_entry {
	RB_ENTRY(reg_entry)	 re_node;
	struct reg_backend	 re_rb;
	unsigned int		 re_sync;	/* the last sync that had it */
};
RB_HEAD(reg_tree, reg_entry);

/* The parent's own state; one instance, in portero.c. */
struct portero {
	struct portero_config	 pc_conf;
	struct child		 pc_certloader;
	struct child		 pc_registrar;
	struct child		 pc_workers[PORTERO_MAX_WORKERS];
	struct child		 pc_health;	/* when some pool is checked */
	int			 pc_health_want;	/* ... so it runs */
	struct child		 pc_logger;	/* unless --access-log none */
	struct logger_stats	 pc_logger_stats;	/* its last report */
	struct child		 pc_metrics;
	int			 pc_metricsfd;	/* --metrics-addr; -1: none */
	struct met_kept		*pc_metkept;	/* the metrics child's */
	size_t			 pc_nmetkept;
	int			 pc_registerfd;
	int			 pc_controlfd;
	int			 pc_stopping;	/* 1: draining, 2: at once */
	struct timespec		 pc_started;
	struct timespec		 pc_reload_at;	/* the last reload tried */
	uint32_t		 pc_reloads;	/* taken */
	uint32_t		 pc_reloads_refused;
	char			 pc_reload_error[RELOAD_ERROR_MAX];
	struct event		 pc_ev_control;
	struct event		 pc_ev_drain;
	struct event		 pc_ev_sigs[5];
	struct conf_set		*pc_set;	/* servers, pools, backends */
	/* a worker's SO_REUSEPORT socket for each listener; -1: none */
	int			 pc_listenfd[PORTERO_MAX_WORKERS]
				    [PORTERO_MAX_LISTENERS];
	int			 pc_accesslogfd;
	struct event		 pc_ev_rekey;
	struct event		 pc_ev_heartbeat;
	struct event		 pc_ev_reload;	/* SIGHUPs, one reload */
	struct ticket_key_msg	 pc_ticket[2];	/* current, previous */
	struct reg_secrets	 pc_secrets;	/* the registrar's alone */
	struct reg_tree		 pc_reg;	/* registered backends */
	unsigned int		 pc_reg_n;
	uint32_t		 pc_reg_seq;	/* the newest update relayed */
	uint32_t		 pc_reg_done;	/* ... every worker has */
	unsigned int		 pc_reg_sync;	/* the current sync */
	struct event		 pc_ev_regack;	/* workers' deadline */
	struct reg_secrets	 pc_envsecrets;	/* as the environment gave */
	char			*pc_exe;	/* re-executed for each child */
	int			 pc_argc;
	char			**pc_argv;
	char			*pc_ca;		/* upstream CA bundle */
	size_t			 pc_calen;
	uint32_t		 pc_ca_gen;	/* bumped when it changes */
	uint32_t		 pc_listen_gen;	/* bumped when a reload binds */
	int			 pc_ca_verify;
	char			 pc_ca_path[CONF_PATH_MAX];
	uint32_t		 pc_clientca_gen;	/* pc_set's client CA
							   bundles; bumped when
							   they change */
	uint32_t		 pc_poolca_gen;		/* pools' CA bundles,
							   the same */
	uint32_t		 pc_poolca_id;		/* the last number a
							   bundle was given */
	uint32_t		 pc_poolcert_id;	/* ... a client
							   certificate pair */
	int			 pc_exit_status;	/* once stopped */
};

/* listener.c: a listening socket being accepted on. */
struct acceptor {
	int		 ac_fd;
	int		 ac_batch;	/* connections per wake-up */
	int		 ac_on;
	void		(*ac_cb)(int, void *);
	void		*ac_arg;
	struct event	 ac_ev;
	struct event	 ac_pause;	/* out of descriptors */
};

/* conn.c: sockets with or without TLS, and pooled buffers. */
#define BUF_SIZE	(32 * 1024)	/* a whole request or response head */
#define CONN_WANT	(-2)		/* would block; the edge will come */

struct buf {
	struct buf	*b_next;	/* free list */
	size_t		 b_size;	/* BUF_SIZE, or more: buf_get_size() */
	size_t		 b_off;		/* data is [b_off, b_off + b_len) */
	size_t		 b_len;
	char		 b_data[];
};

struct ptls;
struct conn {
	int		 c_fd;
	struct ptls	*c_tls;
	struct event	 c_ev;
	void		(*c_cb)(int, short, void *);	/* the owner's */
	void		*c_arg;
	int		 c_watched;
	int		 c_drained;	/* read empty until the next event */
	int		 c_rdhup;	/* the peer's FIN has come */
	uint64_t	 c_nread;	/* bytes, after TLS */
	uint64_t	 c_nwritten;
};

struct ptls_names;
struct ptls_params;

/* certs.c: certificate folders, read and checked. */
/*
 * A domain folder holds these two files.  Folder names are domain names;
 * "_wildcard.example.com" (or "*.example.com", if the operator does not
 * mind the star) is the folder of "*.example.com".
 */
#define CERT_FILE		"cert.pem"	/* leaf first, then chain */
#define CERT_KEY_FILE		"privkey.pem"
#define CERT_OCSP_FILE		"ocsp.der"	/* optional, stapled */
#define CERT_OCSP_LEEWAY	300	/* seconds of clock skew allowed */
#define CERT_WILDCARD_DIR	"_wildcard."

#define CERT_FILE_MAX		(256 * 1024)	/* each of the two files */
#define CERT_MAX_DOMAINS	4096		/* folders a scan looks at */
#define CERT_HASH_LEN		32		/* SHA-256 */
#define CERT_ERROR_LEN		2048	/* a path and a reason */

/*
 * One domain's certificate and key as read from its folder and checked.
 * cp_names holds the names the leaf certificate is good for, each
 * NUL-terminated, back to back: its SAN DNS names, or its CN if it has
 * none.  cp_key is secret: certs_pair_free() clears it.
 */
struct cert_pair {
	char		 cp_domain[NAME_MAX_LEN];	/* "*.example.com" for
							   a wildcard folder */
	char		*cp_cert;
	size_t		 cp_certlen;
	char		*cp_key;
	size_t		 cp_keylen;
	char		*cp_names;
	size_t		 cp_nameslen;
	unsigned int	 cp_nnames;
	time_t		 cp_not_after;
	unsigned char	 cp_hash[CERT_HASH_LEN];
};

/* An OCSP response checked for its certificate, to staple. */
struct cert_ocsp {
	unsigned char	*co_der;
	size_t		 co_len;
	time_t		 co_next;	/* its nextUpdate: stale after */
};

/* What certs_load() saw of a file, to tell a changed one from the same. */
struct cert_stamp {
	dev_t		 cs_dev;
	ino_t		 cs_ino;
	off_t		 cs_size;
	struct timespec	 cs_mtime;
	struct timespec	 cs_ctime;
};

/* timer.c: a timeout whose deadline moves often, cheaply. */
struct timer {
	struct event	 tm_ev;
	void		(*tm_cb)(int, short, void *);
	void		*tm_arg;
	uint64_t	 tm_deadline;	/* monotonic ms; 0: none */
	uint64_t	 tm_armed;	/* when tm_ev goes off; 0: not armed */
};
void	 timer_init(struct timer *, void (*)(int, short, void *), void *);
void	 timer_set(struct timer *, unsigned int);
void	 timer_stop(struct timer *);
void	 timer_del(struct timer *);

/*
 * balance.c in a worker: what a request brings to the choice, worked
 * out once when it is routed, and a pool's balancing state.
 */
struct pick_key {
	uint64_t		 pk_hash;	/* the key's, if pk_hashed */
	uint64_t		 pk_sticky;	/* the backend the sticky cookie
						   names; 0: none */
	const struct backend	*pk_avoid;	/* failed just now */
	int			 pk_hashed;
};

/* "NAME=" 16 hex digits "; Path=/; HttpOnly; Secure" */
#define BALANCE_SETCOOKIE_MAX	(BALANCE_NAME_MAX + 48)

struct ring_point;
struct sticky_entry;

/* A pool's balancing state in one worker. */
struct balance {
	struct balance_conf	 bl_conf;
	int			 bl_ready;	/* tables match the backends */
	int			 bl_broken;	/* out of memory: plain turns */
	uint32_t		 bl_total;	/* weights (scaled) */
	uint32_t		*bl_sched;	/* weighted turns; NULL:
						   equal weights */
	uint32_t		 bl_nsched;
	struct ring_point	*bl_ring;	/* hash */
	uint32_t		 bl_nring;
	struct sticky_entry	*bl_sticky;	/* sticky, by id */
	struct backend		**bl_heap;	/* least-connections */
	uint32_t		 bl_nheap;
	uint64_t		 bl_seq;	/* least-connections' turns */
};

/* route.c: services and their backends; upstream.c: connections to them. */
struct upstream;
struct upstream_sessions;

struct backend {
	struct backend_conf	 be_conf;
	unsigned int		 be_refs;	/* service, requests,
						   upstreams */
	int			 be_gone;	/* out of its service */
	int64_t			 be_expires;	/* registered: when, in seconds
						   since the epoch; 0: flags */
	struct timespec		 be_down_until;	/* resting: back by then */
	unsigned int		 be_backoff_ms;
	/* out of rotation until the owner of health says otherwise */
	uint8_t			 be_held;	/* resting, or failed here */
	uint8_t			 be_checkdown;	/* its active check failed */
	uint8_t			 be_probe;	/* may be tried once, until */
	struct timespec		 be_probe_until;
	uint64_t		 be_requests;
	uint64_t		 be_failures;
	TAILQ_HEAD(upstream_idle, upstream) be_idle;	/* kept-alive, unused */
	unsigned int		 be_nidle;
	unsigned int		 be_nconns;	/* upstreams, busy or idle */
	struct service		*be_pool;	/* counts them too; NULL once
						   out of it */
	struct upstream_sessions *be_sessions;	/* TLS, to resume */
	struct upstream_tls	*be_tls;	/* its pool's tls-ca context;
						   NULL: the global one */
	/* balance.c's */
	uint32_t		 be_inflight;	/* requests, this worker */
	uint32_t		 be_heapidx;	/* in bl_heap */
	uint64_t		 be_seq;	/* when least-conn. picked it */
	uint64_t		 be_id;		/* hash of address and port */
	uint64_t		 be_sticky;	/* what its cookie says */
	struct wmet_backend	*be_met;	/* wmetrics.c's counters */
};

/* A pool: backends from the file or flags, and registered ones. */
struct service {
	LIST_ENTRY(service)	 sv_hash;
	char			 sv_name[NAME_MAX_LEN];
	size_t			 sv_namelen;
	struct pool_conf	 sv_conf;	/* zero but the name when only
						   registrations made it */
	unsigned int		 sv_nregistered;
	struct upstream_tls	*sv_tls;	/* with its client certificate;
						   NULL: none */
	struct backend		**sv_backends;
	unsigned int		 sv_nbackends;
	unsigned int		 sv_cap;
	unsigned int		 sv_nconns;	/* its backends' upstreams */
	unsigned int		 sv_next;	/* round robin */
	unsigned int		 sv_refs;	/* table, requests */
	int			 sv_gone;
	struct balance		 sv_bal;
	struct wmet_service	*sv_met;	/* wmetrics.c's counters */
};

/* server.c: a server of the file as a worker routes to it. */
struct vserver {
	const struct server_conf *vs_conf;
	struct location		*vs_root;	/* the server's own action */
	struct location		**vs_exact;	/* sorted by path */
	struct location		**vs_prefix;	/* sorted by path */
	uint32_t		*vs_parent;	/* of each prefix: the longest
						   other prefix of it */
	uint32_t		 vs_nexact;
	uint32_t		 vs_nprefix;
	/* client certificates: the policy, the fields' name lengths */
	const struct ptls_auth	*vs_auth;	/* NULL: none asked for */
	uint32_t		 vs_subjectlen;
	uint32_t		 vs_fingerprintlen;
};

struct route_table {
	unsigned int		 rt_refs;	/* the worker, requests */
	LIST_HEAD(, service)	*rt_hash;	/* by name, any case */
	size_t			 rt_nbuckets;	/* a power of two */
	unsigned int		 rt_nservices;
	struct conf_set		*rt_set;	/* what it was built from */
	struct vserver		*rt_servers;
	uint32_t		 rt_nservers;
	uint32_t		*rt_names;	/* open addressing: index + 1
						   of a name in rt_set */
	uint32_t		 rt_namemask;
	struct vserver		*rt_default;
	/* the table's client-certificate policies, by bundle and mode */
	struct ptls_auth	*rt_auth[CLIENT_CA_FILES][2];
	uint32_t		 rt_nauth;
	/* the client contexts of its pools' tls-ca bundles, held */
	struct upstream_tls	*rt_tls[POOL_CA_FILES];
	uint32_t		 rt_ntls;
};

/* What the macros of a value stand for in one request. */
enum macro {
	MACRO_REMOTE_ADDR,
	MACRO_HOST,
	MACRO_SERVER_NAME,
	MACRO_REQUEST_URI,
	MACRO_COUNT
};

struct macro_env {
	const char		*me_addr;
	const char		*me_host;
	const char		*me_server;
	const char		*me_uri;
	size_t			 me_urilen;
};

/*
 * Pooled connections per backend and worker: enough for the requests in
 * flight at once, so that they come back to the pool instead of being
 * closed and opened again (HTTP/2 carries 100 and more a connection).
 */
#define UPSTREAM_IDLE_MAX	256

enum upstream_state {
	UP_CONNECTING,
	UP_HANDSHAKE,
	UP_READY,
};

struct client;
struct upstream {
	TAILQ_ENTRY(upstream)	 up_entry;	/* backend's idle list */
	struct backend		*up_be;
	struct conn		 up_conn;
	enum upstream_state	 up_state;
	void			(*up_notify)(void *);	/* socket news for
							   its owner */
	void			*up_owner;	/* NULL while idle */
	struct buf		*up_in;		/* bytes from the backend */
	int			 up_reused;	/* came from the pool */
	unsigned int		 up_tls_gen;	/* the client context's */
	struct timer		 up_ev_idle;
	char			 up_sni[NAME_MAX_LEN];
	struct timespec		 up_started;	/* its connect began */
};

/*
 * A client connection (proxy.c: its TLS, the protocol that frames it,
 * its timeouts) carries exchanges (exchange.c: one request and its
 * response, routed, sent upstream and answered).  An exchange reaches
 * its client only through the client's protocol (struct client_proto),
 * so that routing, the 421 check, upstream pooling, retries, error
 * statuses and the access log exist once for every protocol.
 *
 * A request body must keep coming: in every --body-timeout seconds at
 * least BODY_MIN_RATE bytes a second of it, or all that is left.
 */
#define BODY_MIN_RATE	1024
/* A Referer or User-Agent kept for the log; a request id's longest. */
#define XC_FIELD_KEEP	256
#define REQID_MAX	64

enum client_state {
	CL_HANDSHAKE,		/* TLS handshake */
	CL_IDLE,		/* between requests, no buffers held */
	CL_HEAD,		/* part of a request head has come */
	CL_PROXY,		/* an exchange in flight */
	CL_CLOSING,		/* flushing a last response, then close */
	CL_H2,			/* HTTP/2: h2.c has it */
	CL_PROXYHDR,		/* waiting for a PROXY protocol header */
};

/* What a step of the pump did. */
enum step {
	STEP_WAIT,		/* nothing to do until the next event */
	STEP_MOVED,		/* progress: call again */
	STEP_GONE,		/* the exchange (or its upstream) ended */
};

/* One direction of a body passing through, checked on the way. */
struct body {
	uint8_t			 bd_framing;	/* enum http1_framing */
	uint8_t			 bd_done;
	uint8_t			 bd_decode;	/* chunked in, plain out */
	uint64_t		 bd_left;	/* HTTP1_BODY_LENGTH */
	size_t			 bd_ready;	/* checked, not yet sent */
	struct http1_chunked	 bd_chunked;
};

struct tlsctx;
struct http1_request;
struct http1_response;
struct exchange;
struct h2_session;
struct h2_stream;

/*
 * What an exchange asks of the protocol its client speaks.  HTTP/1.1
 * (proxy.c) writes heads and bodies to the connection in order; HTTP/2
 * (h2.c) makes each exchange a stream.  Each call returns an enum step,
 * or -1 when the client (or the stream) is gone.
 */
struct client_proto {
	/* more request body into xc_reqin: a count, 0 at the end,
	   CONN_WANT or -1 */
	ssize_t	(*cp_read_body)(struct exchange *);
	/* 100 Continue: the client may send its body */
	int	(*cp_continue)(struct exchange *);
	/* an interim or final response head from the backend; STEP_GONE
	   if it cannot be carried (too large) */
	int	(*cp_resp_head)(struct exchange *, const char *,
		    const struct http1_response *);
	/* checked response body bytes at the front of the upstream's
	   buffer, to the client */
	int	(*cp_resp_body)(struct exchange *);
	/* a reply of portero's own (status, keep the client); status 0,
	   or a response head already sent: cut the response short */
	int	(*cp_reply)(struct exchange *, int, int);
	/* the exchange is over (replied: portero's own reply); the
	   protocol frees it and goes on */
	void	(*cp_done)(struct exchange *, int);
	/* news from the exchange's upstream: 1 if the protocol moves it
	   later by itself, 0 if the client's pump should run now */
	int	(*cp_wake)(struct exchange *);
};

struct client {
	TAILQ_ENTRY(client)	 cl_entry;
	struct conn		 cl_conn;
	enum client_state	 cl_state;
	int			 cl_kind;	/* enum listener_kind */
	unsigned int		 cl_listener;	/* its index */
	const struct client_proto *cl_proto;
	struct tlsctx		*cl_tlsctx;
	struct buf		*cl_in;		/* from the client */
	struct buf		*cl_out;	/* heads and replies to it */
	struct http1_request	*cl_req;	/* the head being read */
	struct exchange		*cl_xc;		/* the one in flight */
	struct h2_session	*cl_h2;		/* HTTP/2 */
	int			 cl_keepalive;
	int			 cl_served;	/* a request came: no h2c */
	int			 cl_rdeof;	/* the client half-closed */
	int			 cl_dead;
	int			 cl_lean;	/* 1: idle since a sweep;
						   2: its TLS buffers freed */
	struct timer		 cl_ev_timer;	/* handshake, idle, head,
						   send */
	char			 cl_addr[64];
	/* realip.c: cl_addr (the peer's, or a PROXY header's), binary */
	uint8_t			 cl_family;	/* AF_UNSPEC: unknown */
	uint8_t			 cl_ip[16];
};

struct exchange {
	/* kept armed while the exchange waits in the free list */
	struct timer		 xc_ev_timer;	/* connect, response, stall */
	struct timer		 xc_ev_body;	/* the request body's pace */
	struct http1_response	*xc_resp;	/* kept too, as parsed */
	struct client		*xc_cl;	/* first cleared by xc_new() */
	struct h2_stream	*xc_h2;		/* its stream, on HTTP/2 */
	struct http1_request	*xc_req;
	struct buf		*xc_reqin;	/* request body from the
						   client (HTTP/1.1: cl_in) */
	struct buf		*xc_uphead;	/* request head to upstream */
	size_t			 xc_uphead_sent;
	struct upstream		*xc_up;
	struct route_table	*xc_rt;		/* held while in flight */
	struct vserver		*xc_vs;		/* NULL: a pool alone */
	struct location		*xc_lo;		/* the one that took it */
	struct buf		*xc_redirect;	/* its Location, NUL-ended */
	struct service		*xc_sv;
	struct backend		*xc_be;
	struct pick_key		 xc_pick;	/* how xc_be was chosen */
	const char		*xc_upname;	/* SNI and Host upstream */
	struct body		 xc_reqbody;
	struct body		 xc_respbody;
	int			 xc_resp_head;	/* response head forwarded */
	int			 xc_keepalive;	/* the client may go on */
	int			 xc_retried;
	int			 xc_moved_on;	/* to another backend, once */
	int			 xc_continue;	/* owes a 100 Continue */
	int			 xc_upgrade;	/* asked for a WebSocket */
	int			 xc_tunnel;	/* is one: bytes both ways */
	int			 xc_status;
	int			 xc_counted;	/* in the metrics: once */
	/*
	 * realip.c: who the client is, for the log, $REMOTE_ADDR and
	 * balancing: cl_addr, or what a trusted forwarder's chain says
	 * (then in xc_realaddr); xc_trusted: the peer is a forwarder.
	 */
	const char		*xc_addr;
	int			 xc_trusted;
	uint64_t		 xc_bytes;
	uint64_t		 xc_body_sent;
	uint64_t		 xc_body_read;	/* request body bytes read */
	uint64_t		 xc_body_mark;	/* ... when the window began */
	struct timespec		 xc_start;
	char			 xc_host[NAME_MAX_LEN];	/* first not cleared */
	char			 xc_method[16];	/* for the log and 301 */
	char			 xc_path[512];
	char			 xc_realaddr[INET6_ADDRSTRLEN];
	/* for the access log, cut to fit; the request id sent upstream */
	struct timespec		 xc_end;	/* it was answered, for the
						   metrics and the log */
	struct timespec		 xc_upstream;	/* its response head came;
						   0: none */
	char			 xc_referer[XC_FIELD_KEEP];
	char			 xc_agent[XC_FIELD_KEEP];
	char			 xc_reqid[REQID_MAX + 1];	/* "": none */
};

/* imsg.c */
void	 imsgbuf_init(struct imsgbuf *, int);
ssize_t	 imsgbuf_read(struct imsgbuf *);
ssize_t	 imsgbuf_get(struct imsgbuf *, struct imsg *);
int	 imsgbuf_compose(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);
int	 imsgbuf_composev(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
	    const struct iovec *, int);
int	 imsgbuf_flush(struct imsgbuf *);
size_t	 imsgbuf_queued(const struct imsgbuf *);
void	 imsgbuf_clear(struct imsgbuf *);

/* names.c */
extern const struct imsg_spec imsg_specs[IMSG_TYPE_MAX];
const char *proc_role_name(enum proc_role);
int	 proc_role_parse(const char *, enum proc_role *);
const char *child_state_name(enum child_state);
const char *check_type_name(unsigned int);
const char *health_state_name(unsigned int);
const char *imsg_name(uint32_t);
int	 imsg_check(const struct imsg *, int, int);

/* proc.c */
void	 imsgev_init(struct imsgev *, int, void (*)(int, short, void *),
	    void *);
void	 imsgev_add(struct imsgev *);
void	 imsgev_clear(struct imsgev *);
int	 imsgev_compose(struct imsgev *, uint32_t, uint32_t, pid_t, int,
	    const void *, size_t);
int	 imsgev_dispatch_io(struct imsgev *, short);
int	 proc_drop_privileges(const struct portero_config *, const char *);
void	 proc_ignore_signals(void);
void	 proc_title_init(int, char **, char **);
void	 proc_title(const char *);
struct imsgev *proc_child_connect(enum proc_role, void (*)(struct imsg *));
void	 proc_compose_parent(uint32_t, uint32_t, const void *, size_t);
struct imsgev *proc_parent_iev(void);
void	 proc_sandbox(const char *);
int	 proc_child_common(struct imsg *, struct portero_config *);

/* portero.c (parent) */
extern struct portero	*portero_env;

/* parent.c */
#define CHILD_NAME_LEN	32
/* Every child, in process-table order, for loops over all of them. */
#define FOREACH_CHILD(env, ch, i)					\
	for ((i) = 0; ((ch) = parent_child_at((env), (i))) != NULL; (i)++)

struct child *parent_child_at(struct portero *, unsigned int);
const char *parent_child_name(const struct child *, char *, size_t);
void	 parent_rekey(int, short, void *);
void	 parent_start_child(struct portero *, struct child *);
int	 parent_compose(struct portero *, struct child *, uint32_t, uint32_t,
	    int, const void *, size_t);
void	 parent_send_config(struct portero *, struct child *);
void	 parent_dispatch_child(int, short, void *);
void	 parent_broadcast(struct portero *, uint32_t, const void *, size_t);
int	 parent_reload(struct portero *, char *, size_t);
void	 parent_reload_soon(struct portero *);
void	 parent_listeners_close(struct portero *);
void	 parent_set_verbose(struct portero *, int);
int	 parent_load_ca(struct portero *, const struct portero_config *);
void	 parent_clientca(struct portero *, const struct conf_set *,
	    const struct conf_set *);

/* phealth.c */
void	 parent_health_init(struct portero *);
void	 parent_health_update(struct portero *);
void	 parent_health_running(struct portero *);
void	 parent_health_gone(struct portero *);
void	 parent_health_worker(struct portero *, struct child *);
void	 parent_health_report(struct portero *, struct child *,
	    struct imsg *);
void	 parent_dispatch_health(struct portero *, struct child *,
	    struct imsg *);
int	 parent_health_config(struct portero *, struct child *);
void	 parent_health_reg(struct portero *, uint32_t,
	    const struct reg_backend *);
const struct pool_conf *parent_checked_pool(struct portero *, const char *);
int	 parent_checks_any(struct portero *);

/* regcopy.c */
void	 regcopy_init(struct portero *);
void	 regcopy_update(struct portero *, uint32_t, const struct reg_backend *);
void	 regcopy_sync(struct portero *);
void	 regcopy_sync_end(struct portero *);
void	 regcopy_ack(struct portero *, struct child *, uint32_t);
void	 regcopy_check(struct portero *);
void	 regcopy_snap_start(struct portero *, struct child *);
void	 regcopy_snap_ack(struct portero *, struct child *);
void	 regcopy_running(struct portero *, struct child *);
const struct reg_backend *regcopy_after(struct portero *,
	    const struct reg_backend *);

/*
 * ctlbackends.c: "show backends", a page at a time, for one control
 * client; control.c carries the pages to it.
 */
struct backend_listing {
	uint32_t		 bl_page;	/* the page asked for */
	struct backends_req	 bl_req;	/* its backends, named */
	struct ctl_backend	 bl_recs[BACKENDS_PAGE];	/* summed */
	uint64_t		 bl_awaited;	/* workers yet to answer */
	uint64_t		 bl_slow;	/* missed a page: not asked */
	int			 bl_hwait;	/* the health child, too */
	int			 bl_hslow;
	unsigned int		 bl_flag;	/* next flag backend */
	int			 bl_inreg;	/* past them, in the registry */
	struct reg_backend	 bl_last;	/* last registered listed */
};

struct backend_listing *listing_new(void);
unsigned int listing_page(struct portero *, struct backend_listing *,
	    uint32_t);
void	 listing_answer(struct backend_listing *, struct child *,
	    const struct backends_stats *);
void	 listing_health(struct backend_listing *,
	    const struct health_stats *);
int	 listing_waiting(const struct backend_listing *);
void	 listing_late(struct backend_listing *);
void	 listing_gone(struct backend_listing *, struct child *);

/* supervise.c */
void	 parent_init_timers(struct portero *);
void	 parent_child_broken(struct portero *, struct child *,
	    const char *);
struct child *parent_child_bypid(struct portero *, pid_t);
void	 parent_sigchld(struct portero *);
void	 parent_shutdown(struct portero *, int);

/* control.c */
int	 control_open(const char *);
void	 control_listen(struct portero *);
void	 control_close(struct portero *);
void	 control_stats_reply(struct portero *, struct child *,
	    uint32_t, const struct worker_stats *);
void	 control_child_gone(struct portero *, struct child *);
void	 control_backends_reply(struct portero *, struct child *,
	    uint32_t, const struct backends_stats *);
void	 control_health_reply(struct portero *, uint32_t,
	    const struct health_stats *);
void	 control_relay(struct portero *, struct imsg *);

/* config.c */
struct config_cmdline {
	char		 file[CONF_PATH_MAX];	/* -f, or the default */
	int		 checkonly;		/* -n */
	int		 foreground;		/* -d */
	int		 verbose;		/* -v, counted */
};
void	 config_defaults(struct portero_config *);
int	 config_load(struct portero_config *, struct conf_set *,
	    struct reg_secrets *, int, char **, struct config_cmdline *);
char	*config_read_file(const char *, size_t, size_t *);
int	 config_file_option(struct portero_config *, const char *,
	    const char *, char *, size_t);
int	 config_resolve_backend(struct conf_set *, const char *, const char *,
	    long long, int, long long, char *, size_t);
int	 config_check(const struct portero_config *);
void	 usage(void) __attribute__((noreturn));
int	 config_setglobal(struct imsgev *, const struct portero_config *);
int	 config_getglobal(struct portero_config *, const struct imsg *);
int	 config_setlistener(struct imsgev *, int, enum listener_kind,
	    unsigned int, const char *);
int	 config_getlistener(const struct imsg *, struct listener_msg *);
int	 config_setbackend(struct imsgev *, const struct backend_conf *);
int	 config_getbackend(const struct imsg *, struct backend_conf *);
int	 config_setserver(struct imsgev *, const struct server_conf *);
int	 config_getserver(const struct imsg *, struct server_conf *);
int	 config_setname(struct imsgev *, const struct server_name *);
int	 config_getname(const struct imsg *, struct server_name *, uint32_t);
int	 config_setlocation(struct imsgev *, const struct location *);
int	 config_getlocation(const struct imsg *, struct location *, uint32_t);
int	 config_setheader(struct imsgev *, const struct header_op *);
int	 config_getheader(const struct imsg *, struct header_op *, uint32_t,
	    uint32_t);
int	 config_setpool(struct imsgev *, const struct pool_conf *);
int	 config_getpool(const struct imsg *, struct pool_conf *);
int	 config_setnet(struct imsgev *, const struct net_conf *);
int	 config_getnet(const struct imsg *, struct net_conf *);
int	 config_parse_net(const char *, struct reg_net *, char *, size_t);
int	 config_net_has(const struct reg_net *, int, const uint8_t *);
int	 config_setlogsocket(struct imsgev *, uint32_t, int);
int	 config_getlogsocket(const struct imsg *);
int	 config_setlogfile(struct imsgev *, int);
int	 config_getlogfile(const struct imsg *);
int	 config_setloggerstats(struct imsgev *, const struct logger_stats *);
int	 config_getloggerstats(const struct imsg *, struct logger_stats *);
int	 config_setmet(struct imsgev *, uint32_t, uint32_t, const void *,
	    size_t);
int	 config_getmet(const struct imsg *, void *, size_t);
int	 config_setmetservice(struct imsgev *, uint32_t,
	    const struct met_service *, const struct met_hist *,
	    const char *);
int	 config_getmetservice(const struct imsg *, struct met_service *,
	    struct met_hist *, char *);
int	 config_setmetbackend(struct imsgev *, uint32_t,
	    const struct met_backend *, const struct met_hist *,
	    const struct met_hist *, const char *, const char *);
int	 config_getmetbackend(const struct imsg *, struct met_backend *,
	    struct met_hist *, char *, char *);
int	 config_setverbose(struct imsgev *, uint32_t, int32_t);
int	 config_getverbose(const struct imsg *, int32_t *);
int	 config_setticket(struct imsgev *, const struct ticket_key_msg *);
int	 config_getticket(const struct imsg *, struct ticket_key_msg *);
int	 config_setcertbegin(struct imsgev *, uint32_t,
	    const struct cert_begin *);
int	 config_getcertbegin(const struct imsg *, struct cert_begin *);
int	 config_setcert(struct imsgev *, uint32_t, const struct cert_msg *);
int	 config_getcert(const struct imsg *, struct cert_msg *);
int	 config_setcertdata(struct imsgev *, uint32_t, const void *, size_t);
int	 config_getcertdata(const struct imsg *, const void **, size_t *);
int	 config_setcertend(struct imsgev *, uint32_t);
int	 config_setcertack(struct imsgev *, const struct cert_ack *);
int	 config_getcertack(const struct imsg *, struct cert_ack *);
int	 config_sethealth(struct imsgev *, const struct backend_health *);
int	 config_gethealth(const struct imsg *, struct backend_health *);
int	 config_setreg(struct imsgev *, uint32_t, const struct reg_backend *);
int	 config_getreg(const struct imsg *, struct reg_backend *);
int	 config_setseq(struct imsgev *, uint32_t, uint32_t);
int	 config_getseq(const struct imsg *, uint32_t *);
int	 config_setsecrets(struct imsgev *, const struct reg_secrets *);
int	 config_getsecrets(const struct imsg *, struct reg_secrets *);
int	 config_setstats(struct imsgev *, uint32_t,
	    const struct worker_stats *);
int	 config_getstats(const struct imsg *, struct worker_stats *);
int	 config_getbackendsreq(const struct imsg *, struct backends_req *);
int	 config_setbackends(struct imsgev *, uint32_t,
	    const struct backends_stats *);
int	 config_getbackends(const struct imsg *, struct backends_stats *);
int	 config_setupstreamca(struct imsgev *, const struct upstream_ca_msg *,
	    const char *);
int	 config_getupstreamca(const struct imsg *, struct upstream_ca_msg *);
int	 config_getupstreamcadata(const struct imsg *, const void **,
	    size_t *);
int	 config_setclientca(struct imsgev *, const struct client_ca_set *);
int	 config_getclientca(const struct imsg *, struct client_ca_msg *);
int	 config_getclientcadata(const struct imsg *, const void **,
	    size_t *);
int	 config_getclientcaend(const struct imsg *, uint32_t *);
int	 config_setpoolca(struct imsgev *, const struct pool_ca_set *);
int	 config_getpoolca(const struct imsg *, struct pool_ca_msg *);
int	 config_getpoolcadata(const struct imsg *, const void **, size_t *);
int	 config_getpoolcaend(const struct imsg *, uint32_t *);
int	 config_setpoolcertfile(struct imsgev *, const struct pool_cert_file *,
	    int);
int	 config_getpoolcertfile(const struct imsg *, struct pool_cert_file *);
int	 config_setpoolcertfilesend(struct imsgev *,
	    const struct pool_cert_files_end *);
int	 config_getpoolcertfilesend(const struct imsg *,
	    struct pool_cert_files_end *);
int	 config_setpoolcert(struct imsgev *, uint32_t,
	    const struct pool_cert_msg *, const char *, const char *);
int	 config_getpoolcert(const struct imsg *, struct pool_cert_msg *);
int	 config_getpoolcertdata(const struct imsg *, const void **, size_t *);
int	 config_setpoolcertend(struct imsgev *, uint32_t, uint32_t);
int	 config_getpoolcertend(const struct imsg *, uint32_t *);
int	 config_setpoolcertfail(struct imsgev *, const char *);
int	 config_getpoolcertfail(const struct imsg *, char *, size_t);
int	 config_setverdict(struct imsgev *, uint32_t,
	    const struct backend_health *);
int	 config_setcheck(struct imsgev *, uint32_t,
	    const struct check_target *);
int	 config_check_ok(const struct check_conf *);
int	 config_getcheck(const struct imsg *, struct check_target *);
int	 config_sethealthstats(struct imsgev *, uint32_t,
	    const struct health_stats *);
int	 config_gethealthstats(const struct imsg *, struct health_stats *);

/* confset.c */
struct conf_set *confset_new(void);
void	 confset_free(struct conf_set *);
struct server_conf *confset_add_server(struct conf_set *);
struct server_name *confset_add_name(struct conf_set *);
struct location *confset_add_location(struct conf_set *);
struct header_op *confset_add_header(struct conf_set *);
struct backend_conf *confset_add_backend(struct conf_set *);
struct pool_conf *confset_pool(struct conf_set *, const char *);
struct pool_conf *confset_next_pool(struct conf_set *);
struct pool_conf *confset_add_pool(struct conf_set *, const char *);
struct net_conf *confset_add_net(struct conf_set *);
int	 confset_check(struct conf_set *, const char *);
int	 macro_at(const char *, size_t *);
int	 macro_check(const char *, const char **);

/* parse.y */
int	 parse_config(const char *, struct portero_config *,
	    struct conf_set *);

/* listener.c */
int	 listener_parse(const char *, struct sockaddr_storage *, socklen_t *);
int	 listener_bind(const char *, int);
int	 listener_canon(const char *, char *, size_t);
int	 socket_set_nonblock(int);
void	 acceptor_init(struct acceptor *, int, int, void (*)(int, void *),
	    void *);
void	 acceptor_start(struct acceptor *);
void	 acceptor_stop(struct acceptor *);
void	 acceptor_drain(struct acceptor *);

/* conn.c */
struct buf *buf_get(void);
struct buf *buf_get_size(size_t);
void	 buf_put(struct buf *);
void	 buf_compact(struct buf *);
int	 buf_grow(struct buf **, size_t, size_t);
void	 buf_consume(struct buf *, size_t);
int	 buf_append(struct buf *, const char *, size_t);
char	*buf_reserve(struct buf *, size_t);
int	 buf_field(struct buf *, const char *, size_t, const char *, size_t);
int	 buf_appendf(struct buf *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
/* A string literal, its length counted by the compiler. */
#define BUF_APPEND_LIT(b, lit)	buf_append((b), (lit), sizeof(lit) - 1)
ssize_t	 conn_read(struct conn *, struct buf *);
ssize_t	 conn_write(struct conn *, const void *, size_t);
void	 conn_watch(struct conn *, void (*)(int, short, void *), void *);
void	 conn_shutdown(struct conn *);
void	 conn_close(struct conn *);

/* route.c */
struct route_table *route_new(void);
struct route_table *route_rebuild(struct conf_set *, struct route_table *);
int	 route_implicit(const struct service *);
int	 backend_full(struct service *, struct backend *);
void	 backend_count(struct backend *, int);
void	 route_unref(struct route_table *);
struct service *route_lookup(struct route_table *, const char *, size_t);
struct backend *route_add(struct route_table *, const struct backend_conf *,
	    int64_t);
int	 route_upsert(struct route_table *, const struct backend_conf *,
	    int64_t);
void	 route_remove(struct route_table *, const struct backend_conf *);
void	 route_stat(struct route_table *, const struct backend_key *,
	    const struct timespec *, struct backend_stat *);
void	 service_ref(struct service *);
void	 service_unref(struct service *);
void	 backend_ref(struct backend *);
void	 backend_unref(struct backend *);
int	 backend_is_down(const struct backend *, const struct timespec *);
void	 backend_picked(struct backend *);
void	 backend_failed(struct backend *);
void	 backend_ok(struct backend *);
void	 backend_health_apply(struct route_table *,
	    const struct backend_health *);
unsigned int backend_retry_after(const struct service *);

/* balance.c */
uint64_t balance_siphash(const uint64_t [2], const void *, size_t);
void	 balance_free(struct balance *);
void	 balance_hold(struct service *, struct backend *);
void	 balance_release(struct service *, struct backend *);
void	 pick_key_init(struct pick_key *, const struct service *,
	    const char *, const char *, const struct http1_request *);
struct backend *backend_pick(struct service *, const struct pick_key *);
size_t	 balance_setcookie(const struct service *, const struct backend *,
	    const struct pick_key *, int, char *, size_t);
/* realip.c */
int	 realip_accept(struct client *);
int	 realip_header(struct client *);
void	 realip_request(struct exchange *, const char *);
int	 realip_trusts(const struct conf_set *, uint32_t, int,
	    const uint8_t *);
void	 realip_peer(struct client *, const struct sockaddr_storage *);

/* rewrite.c */
int	 rewrite_drops(const struct location *, int, const char *, size_t);
int	 rewrite_fields(struct buf *, const struct location *, int,
	    const struct macro_env *);
int	 rewrite_any(const struct location *, int);
int	 rewrite_path(struct buf *, const struct location *, const char *,
	    size_t, const char *, size_t);
int	 rewrite_forwarded(struct buf *, const char *, int, const char *,
	    size_t);

/* server.c */
int	 server_build(struct route_table *);
void	 server_free(struct route_table *);
struct vserver *server_lookup(struct route_table *, const char *, size_t);
struct location *server_location(const struct vserver *, const char *,
	    size_t);
ssize_t	 server_path_plain(const char *, size_t, char *, size_t);
int	 macro_expand(struct buf *, const char *, const struct macro_env *);

/* upstream.c */
int	 upstream_ca_begin(const struct upstream_ca_msg *);
int	 upstream_ca_data(const void *, size_t);
int	 upstream_ca_end(void);
void	 upstream_ca_apply(void);
int	 upstream_ca_message(const struct imsg *);
struct ptls_client *upstream_client(void);
unsigned int upstream_client_gen(void);
void	 upstream_sessions_free(struct backend *);
struct upstream *upstream_get(struct backend *, const char *,
	    void (*)(void *), void *, int);
void	 upstream_release(struct upstream *, int);
int	 upstream_ready(struct upstream *);

/* reply.c */
#define REPLY_DATE_LEN	37	/* "Date: " IMF-fixdate CRLF */
const char *reply_status_text(int);
const char *reply_date(void);
int	 reply_build(struct buf *, int, int, int, unsigned int, const char *);
size_t	 reply_body_len(int, int);

/*
 * accesslog.c: a worker's access log lines, in one of these formats,
 * each sent whole to the logger; REPLY_LOG_MAX bytes at most.
 */
enum log_format {
	LOG_FORMAT_COMBINED,	/* Apache/nginx "combined", then portero's */
	LOG_FORMAT_JSON,	/* one object a line */
	LOG_FORMAT_LTSV,	/* label:value, tab-separated */
};
#define REPLY_LOG_MAX		1024
int	 accesslog_format_parse(const char *, uint32_t *);
const char *accesslog_format_name(uint32_t);
size_t	 accesslog_line(struct exchange *, char *, size_t);
void	 reply_log(struct exchange *);

/* reqid.c: request ids, X-Request-Id */
void	 reqid_init(unsigned int);
int	 reqid_sane(const char *, size_t);
void	 reqid_make(char *, size_t);
void	 reqid_request(struct exchange *, const char *);
int	 reqid_field(struct buf *, const struct exchange *);

/* logger.c: the logger child */
void	 logger_main(void) __attribute__((noreturn));

/* plogger.c: the parent's side of the logger */
void	 parent_logger_init(struct portero *);
void	 parent_logger_start(struct portero *);
int	 parent_logger_config(struct portero *, struct child *);
void	 parent_logger_pair(struct portero *, struct child *);
void	 parent_dispatch_logger(struct portero *, struct child *,
	    struct imsg *);
int	 parent_logger_reopen(struct portero *, char *, size_t);

/* wmetrics.c: a worker's counters by pool and backend, for a scrape */
struct wmet_service;
struct wmet_backend;
void	 wmetrics_init(void);
int	 wmetrics_service(struct service *);
void	 wmetrics_service_drop(struct service *);
int	 wmetrics_backend(struct backend *);
void	 wmetrics_backend_drop(struct backend *);
void	 wmetrics_request(struct exchange *);
void	 wmetrics_connected(struct upstream *);
void	 wmetrics_response(struct exchange *);
void	 wmetrics_failed(struct backend *);
void	 wmetrics_answer(uint32_t);
void	 met_hist_add(struct met_hist *, const struct timespec *);
uint64_t met_hist_count(const struct met_hist *);

/* mset.c: one scrape's numbers, summed over the processes */
struct mset_service {
	RB_ENTRY(mset_service)	 ss_node;
	uint64_t		 ss_requests[MET_PROTOS][MET_CLASSES];
	struct met_hist		 ss_duration;
	uint64_t		 ss_registered;
	int			 ss_counted;	/* a worker has it */
	int			 ss_hasreg;	/* the registrar has it */
	char			 ss_name[NAME_MAX_LEN];
};

struct mset_backend {
	RB_ENTRY(mset_backend)	 sb_node;
	uint64_t		 sb_errors;
	int			 sb_up;		/* -1: in no pool now */
	struct met_hist		 sb_connect;
	struct met_hist		 sb_response;
	char			 sb_service[NAME_MAX_LEN];
	char			 sb_addr[MET_ADDR_MAX];
};

RB_HEAD(mset_services, mset_service);
RB_HEAD(mset_backends, mset_backend);
RB_PROTOTYPE(mset_services, mset_service, ss_node, mset_service_cmp);
RB_PROTOTYPE(mset_backends, mset_backend, sb_node, mset_backend_cmp);

#define MSET_PROCS	(PORTERO_MAX_WORKERS + PROC_MAX)
struct metrics_set {
	uint32_t		 ms_seq;
	int			 ms_begun;	/* MET_BEGIN came */
	uint32_t		 ms_answered;	/* MET_ENDs */
	uint32_t		 ms_missing;	/* asked, not answered */
	struct met_begin	 ms_begin;
	struct met_proc		 ms_procs[MSET_PROCS];
	uint32_t		 ms_nprocs;
	struct met_worker	 ms_worker;	/* summed */
	struct met_registrar	 ms_registrar;
	struct mset_services	 ms_services;
	struct mset_backends	 ms_backends;
	struct met_cert		*ms_certs;
	uint32_t		 ms_ncerts;
	uint32_t		 ms_certcap;
	time_t			 ms_time;
};

struct metrics_set *mset_new(uint32_t);
int	 mset_add(struct metrics_set *, struct imsg *);
void	 mset_merge(struct metrics_set *, const struct metrics_set *, int);
void	 mset_keep(const struct metrics_set *, struct imsgev *);
pid_t	 mset_pid(const struct metrics_set *, enum proc_role, uint32_t);
void	 mset_finish(struct metrics_set *);
void	 mset_free(struct metrics_set *);

/* metrics.c: the metrics child; mrender.c: what it writes */
void	 metrics_main(void) __attribute__((noreturn));
int	 mrender_prometheus(struct evbuffer *, const struct metrics_set *);
int	 mrender_json(struct evbuffer *, const struct metrics_set *);
int	 mrender_text(struct evbuffer *, const struct metrics_set *);

/* pmetrics.c: the parent's side of a scrape */
void	 parent_metrics_init(struct portero *);
void	 parent_metrics_listen(struct portero *);
int	 parent_metrics_config(struct portero *, struct child *);
void	 parent_dispatch_metrics(struct portero *, struct child *,
	    struct imsg *);
void	 parent_metrics_relay(struct portero *, struct child *,
	    struct imsg *);
uint64_t parent_rss(pid_t);

/* proxy.c */
void	 proxy_accept(int, int, unsigned int, struct tlsctx *);
void	 proxy_sweep(void);
void	 proxy_event(int, short, void *);
void	 proxy_stop(void);
void	 proxy_pump(struct client *);
void	 proxy_close(struct client *);

/* h2.c */
/*
 * The largest header list an HTTP/2 request may have: written out as
 * HTTP/1.1 (32 bytes a field less), it stays within HTTP1_HEAD_LIMIT.
 */
#define H2_HEADER_LIST_MAX	65536
#define H2_PREFACE	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN	24
int	 h2_start(struct client *);
void	 h2_pump(struct client *);
void	 h2_drain(struct client *);
int	 h2_idle(struct client *);
void	 h2_timeout(struct client *);
void	 h2_free(struct client *);

/* exchange.c */
struct exchange *xc_new(struct client *, struct http1_request *,
	    struct buf *);
void	 xc_free(struct exchange *);
int	 xc_start(struct exchange *, const char *);
int	 xc_step(struct exchange *);
int	 xc_finish(struct exchange *);
void	 xc_moved(struct exchange *);
void	 xc_reply(struct exchange *, int, int);
void	 xc_abort(struct exchange *, int, const char *);
unsigned int xc_retry_after(const struct exchange *, int);
size_t	 xc_setcookie(const struct exchange *, char *, size_t);
const char *xc_location(const struct exchange *);
void	 xc_keep_request(struct exchange *, const char *);
void	 xc_keep_partial(struct exchange *, const char *);
int	 body_check(struct body *, struct buf *);
int	 body_send(struct body *, struct buf *, struct conn *, uint64_t *);

/* certs.c */
int	 certs_init(void);
int	 certs_domain(const char *, char *, size_t);
int	 certs_stat(int, const char *, struct cert_stamp *);
int	 certs_stamp_equal(const struct cert_stamp *,
	    const struct cert_stamp *);
int	 certs_load(int, const char *, struct cert_pair *,
	    struct cert_stamp *, char *, size_t);
int	 certs_check(struct cert_pair *, const char *, time_t, char *,
	    size_t);
int	 certs_load_client(int, int, const char *, const char *,
	    struct cert_pair *, char *, size_t);
int	 certs_check_client(struct cert_pair *, const char *, const char *,
	    time_t, char *, size_t);
void	 certs_pair_free(struct cert_pair *);
int	 certs_ocsp_load(int, const char *, const struct cert_pair *,
	    time_t, struct cert_ocsp *, struct cert_stamp *, char *, size_t);
void	 certs_ocsp_free(struct cert_ocsp *);
int	 certs_name_match(const char *, const char *, size_t);
int	 certs_names_cover(const char *, size_t, const char *, size_t);
int	 certs_names_cover_host(const char *, size_t, const char *, size_t);
int	 certs_names_check(const char *, size_t, unsigned int *);
unsigned int certs_names_pick(const struct ptls_names *, unsigned int,
	    const char *);
struct certs_sni;		/* a set's names by hash, for SNI */
struct certs_sni *certs_sni_new(const struct ptls_names *, unsigned int);
void	 certs_sni_free(struct certs_sni *);
unsigned int certs_sni_pick(const struct certs_sni *, const char *);
const char *certs_fmt_time(time_t, char *, size_t);

/*
 * ptls_*.c: TLS through one interface in the shape of libtls, with two
 * implementations: ptls_openssl.c over libssl, ptls_libtls.c over libtls
 * (make TLS=libtls).  No other file includes either library's header.
 * Calls that may block return a count (or 0), PTLS_WANT_READ,
 * PTLS_WANT_WRITE or -1 with the reason in ptls_error().  What one
 * library cannot do fails with errno ENOTSUP.
 */
#define PTLS_WANT_READ		(-2)
#define PTLS_WANT_WRITE		(-3)

struct ptls_server;		/* a certificate set, with its settings */
struct ptls_client;		/* how upstream connections verify */
struct ptls_session;		/* a client session, to resume with */

/* One certificate of a set, in memory: its names, cert and key PEM. */
struct ptls_pair {
	const char		*pp_names;	/* NUL-terminated, one by one */
	size_t			 pp_nameslen;
	const unsigned char	*pp_cert;
	size_t			 pp_certlen;
	const unsigned char	*pp_key;
	size_t			 pp_keylen;
	const unsigned char	*pp_ocsp;	/* DER to staple, or none */
	size_t			 pp_ocsplen;
	const char		*pp_domain;	/* for errors */
};

/* A pair's names, kept by a server to choose its certificate. */
struct ptls_names {
	char			*pn_names;
	size_t			 pn_len;
};

/*
 * Client certificates (mTLS), per server name: a policy is a mode and
 * the CA bundle client certificates are checked against, parsed once
 * (ptls_auth_new()).  The set asks pr_auth for the policy of the name a
 * client sends (NULL: it sent none) as its hello comes; the session-id
 * context, and so resumption, is the policy's.  A connection remembers
 * the policy's id (ptls_peer_auth()) and, once, what it verified.
 */
enum ptls_verify {
	PTLS_VERIFY_NONE,
	PTLS_VERIFY_OPTIONAL,	/* asked; absent or invalid is no cert */
	PTLS_VERIFY_REQUIRED,	/* absent or invalid fails the handshake */
};

#define PTLS_AUTH_ID_LEN	32	/* SHA-256 of the mode and bundle */
#define PTLS_SUBJECT_MAX	1024	/* RFC 2253, with its NUL */
#define PTLS_FINGERPRINT_LEN	64	/* SHA-256 in hex */

struct ptls_auth;		/* a policy, its CA store and names */
typedef const struct ptls_auth *(*ptls_auth_fn)(const char *);

/* A client certificate a handshake verified: safe in a header field. */
struct ptls_verified {
	char		 pv_subject[PTLS_SUBJECT_MAX];	/* "" if too long */
	char		 pv_fingerprint[PTLS_FINGERPRINT_LEN + 1];
};

/* A server's settings; NULL strings take the defaults. */
struct ptls_params {
	const char		*pr_alpn;	/* "h2,http/1.1" */
	const char		*pr_ciphers;	/* TLS 1.2 */
	const char		*pr_ciphersuites;	/* TLS 1.3 */
	const char		*pr_groups;	/* "X25519:P-256" */
	unsigned int		 pr_lifetime;	/* of sessions, seconds */
	const struct ticket_key_msg *pr_keys;	/* newest, previous */
	struct ptls_server	*pr_prev;	/* the set in service: what
						   did not change is taken
						   over, not built again */
	ptls_auth_fn		 pr_auth;	/* client certificates by
						   name; NULL: never */
};

/* Signing with a key held elsewhere; not yet used by either library. */
typedef int (*ptls_sign_fn)(void *, int, const unsigned char *, size_t,
    unsigned char *, size_t *);

int	 ptls_init(void);
const char *ptls_library(void);
const char *ptls_default_ca_file(void);
struct ptls_server *ptls_server_new(const struct ptls_pair *, unsigned int,
	    const struct ptls_params *, char *, size_t);
void	 ptls_server_free(struct ptls_server *);
int	 ptls_params_check(const struct ptls_params *, char *, size_t);
unsigned int ptls_server_built(const struct ptls_server *);
int	 ptls_server_ticket_keys(struct ptls_server *,
	    const struct ticket_key_msg *);
int	 ptls_server_signer(struct ptls_server *, ptls_sign_fn, void *);
struct ptls *ptls_accept(struct ptls_server *, int);
struct ptls_client *ptls_client_new(const char *, size_t, int, char *,
	    size_t);
struct ptls_client *ptls_client_keypair(const struct ptls_client *,
	    const char *, size_t, const char *, size_t, char *, size_t);
void	 ptls_client_free(struct ptls_client *);
struct ptls *ptls_connect(struct ptls_client *, int, const char *, char *,
	    size_t);
int	 ptls_handshake(struct ptls *);
ssize_t	 ptls_read(struct ptls *, void *, size_t);
int	 ptls_drained(struct ptls *);
ssize_t	 ptls_write(struct ptls *, const void *, size_t);
int	 ptls_close(struct ptls *);
void	 ptls_free(struct ptls *);
const char *ptls_error(struct ptls *);
const char *ptls_servername(struct ptls *);
const char *ptls_alpn(struct ptls *);
const char *ptls_version(struct ptls *);
const char *ptls_cipher(struct ptls *);
int	 ptls_resumed(struct ptls *);
int	 ptls_pair_index(struct ptls *);
int	 ptls_idle(struct ptls *);
int	 ptls_session_offer(struct ptls *, struct ptls_session *);
struct ptls_session *ptls_session_take(struct ptls *);
void	 ptls_session_free(struct ptls_session *);
struct ptls_auth *ptls_auth_new(enum ptls_verify, const char *, size_t,
	    char *, size_t);
void	 ptls_auth_free(struct ptls_auth *);
const unsigned char *ptls_auth_id(const struct ptls_auth *);
const unsigned char *ptls_peer_auth(struct ptls *);
const struct ptls_verified *ptls_peer_verified(struct ptls *);

/* clientca.c */
struct client_ca_set *clientca_new(void);
int	 clientca_add(struct client_ca_set *, const char *, unsigned int *,
	    char *, size_t);
void	 clientca_free(struct client_ca_set *);
int	 clientca_equal(const struct client_ca_set *,
	    const struct client_ca_set *);
int	 clientca_check(const struct conf_set *, const char *);

/* poolca.c */
struct pool_ca_set *poolca_new(void);
void	 poolca_free(struct pool_ca_set *);
int	 poolca_add(struct pool_ca_set *, const char *, unsigned int *,
	    char *, size_t);
int	 poolca_number(const struct pool_ca_set *, struct pool_ca_set *,
	    uint32_t *);
int	 poolca_message(const struct imsg *);
void	 poolca_apply(void);
int	 poolca_table(struct route_table *);
struct upstream_tls *poolca_tls(uint32_t);
int	 poolca_in_service(const struct upstream_tls *);
unsigned int upstream_tls_newgen(void);
void	 upstream_tls_ref(struct upstream_tls *);
void	 upstream_tls_unref(struct upstream_tls *);

/* poolcert.c: the parent's and the certloader's part */
struct pool_cert_set *poolcert_new(void);
void	 poolcert_free(struct pool_cert_set *);
void	 poolcert_checkonly(int);
int	 poolcert_add(struct pool_cert_set *, const char *, const char *,
	    const char *, unsigned int *, char *, size_t);
void	 poolcert_number(const struct conf_set *, const struct conf_set *,
	    uint32_t *);
int	 poolcert_send_files(struct imsgev *, const struct pool_cert_set *,
	    int);
int	 poolcert_loader_message(const struct imsg *, struct imsgev *);
void	 poolcert_loader_resend(struct imsgev *, uint32_t);

/* poolclient.c: pools' client contexts, in workers and the health child */
int	 poolclient_message(const struct imsg *);
struct upstream_tls *poolclient_tls(struct upstream_tls *, uint32_t);
struct ptls_client *poolclient_client(uint32_t, uint32_t);
void	 poolclient_prune(void);

/* mtls.c */
int	 mtls_begin(const struct client_ca_msg *);
int	 mtls_data(const void *, size_t);
int	 mtls_end(uint32_t);
void	 mtls_apply(void);
int	 mtls_build(struct route_table *, struct vserver *);
void	 mtls_table_free(struct route_table *);
const struct ptls_auth *mtls_lookup(const char *);

/* tlsctx.c */
void	 tlsctx_init(const struct portero_config *);
void	 tlsctx_config(const struct portero_config *);
void	 tlsctx_auth(ptls_auth_fn);
int	 tlsctx_cert_begin(const struct cert_begin *);
int	 tlsctx_cert_add(const struct cert_msg *);
int	 tlsctx_cert_data(const void *, size_t);
int	 tlsctx_cert_end(void);
int	 tlsctx_cert_progress(struct cert_ack *);
void	 tlsctx_ticket_key(const struct ticket_key_msg *);
struct tlsctx *tlsctx_current(void);
void	 tlsctx_ref(struct tlsctx *);
void	 tlsctx_unref(struct tlsctx *);
struct ptls *tlsctx_accept(struct tlsctx *, int);
int	 tlsctx_host_ok(struct tlsctx *, struct ptls *, const char *, size_t);
int	 tlsctx_check(const struct portero_config *);

/* worker.c */
struct wk_listener {
	int			 wl_fd;		/* -1: none */
	int			 wl_newfd;	/* from a reload */
	unsigned int		 wl_index;
	int			 wl_kind;	/* enum listener_kind */
	struct acceptor		 wl_accept;
};

struct worker {
	struct portero_config	 wk_conf;
	unsigned int		 wk_id;
	int			 wk_sandboxed;
	int			 wk_stopping;
	struct wk_listener	 wk_listen[PORTERO_MAX_LISTENERS];
	int			 wk_newlisteners;	/* a whole new set came,
							   taken at CFG_DONE */
	int			 wk_started;
	int			 wk_logfd;	/* to the logger; -1: none */
	struct event		 wk_ev_drain;
	struct event		 wk_ev_sweep;	/* frees idle buffers */
	struct route_table	*wk_routes;
	struct conf_set		*wk_pending;	/* the set being received */
	struct worker_stats	 wk_stats;
	TAILQ_HEAD(, client)	 wk_clients;
};
extern struct worker	*worker_env;

void	 worker_main(unsigned int) __attribute__((noreturn));
void	 worker_client_gone(void);

/* certloader.c */
void	 certloader_main(void) __attribute__((noreturn));

/* health.c: the health child; check.c: one backend's active check. */
struct hcheck {
	RB_ENTRY(hcheck)	 hc_node;
	struct backend_health	 hc_key;	/* service, address, TLS */
	struct check_target	 hc_target;
	int			 hc_keep;	/* in the configuration */
	int			 hc_step;	/* check.c's */
	int			 hc_fd;
	struct ptls		*hc_tls;
	struct event		 hc_ev;		/* its socket */
	struct event		 hc_timer;	/* the next check, or the
						   end of this one */
	struct timespec		 hc_start;
	char			*hc_buf;	/* request, then response */
	size_t			 hc_len;
	size_t			 hc_off;
	unsigned int		 hc_oks;	/* in a row */
	unsigned int		 hc_fails;
	struct health_stat	 hc_stat;	/* verdict, last check */
};

void	 health_main(void) __attribute__((noreturn));
void	 check_init(struct hcheck *);
void	 check_start(struct hcheck *);
void	 check_restart(struct hcheck *);
void	 check_stop(struct hcheck *);

/* hstate.c: the owner of backend health, in the health child or parent */
int	 health_key_cmp(const struct backend_health *,
	    const struct backend_health *);
const char *health_addr(const struct sockaddr_storage *, char *, size_t);
void	 hstate_init(unsigned int,
	    void (*)(const struct backend_health *, uint32_t));
void	 hstate_report(const struct backend_health *);
void	 hstate_checked(const struct backend_health *, int);
void	 hstate_unchecked(const struct backend_health *);
void	 hstate_sync(uint32_t);
void	 hstate_clear(void);

/* registrar.c: the registry, and requests waiting on its changes. */
struct reg_record {
	char		 rr_service[NAME_MAX_LEN];
	char		 rr_host[INET6_ADDRSTRLEN];
	int64_t		 rr_expires;
	uint16_t	 rr_port;
	uint8_t		 rr_tls;
};

struct reg_wait {
	TAILQ_ENTRY(reg_wait)	 rw_entry;
	struct reg_record	 rw_rec;
	int			 rw_remove;
	uint32_t		 rw_seq;
	unsigned int		 rw_count;	/* the service's backends,
						   after the change */
	void			(*rw_done)(struct reg_wait *, int);
	void			*rw_arg;
};

void	 registrar_main(void) __attribute__((noreturn));
const struct portero_config *registrar_conf(void);
const struct reg_secrets *registrar_secrets(void);
int	 registry_wire(const struct reg_record *, struct reg_backend *);
unsigned int registry_count(const char *);
unsigned int registry_nservices(void);
int	 registry_has(const struct reg_record *);
void	 registry_submit(struct reg_wait *);
void	 registry_forget(struct reg_wait *);
void	 registry_foreach(void (*)(const struct reg_backend *, void *),
	    void *);

/* regstore.c */
int	 regstore_open(const char *, int);
int	 regstore_load(void (*)(const struct reg_record *, int, void *),
	    void *);
int	 regstore_start(void (*)(int, int, void *), void *);
size_t	 regstore_format(char *, size_t, const struct reg_record *, int);
int	 regstore_append(const char *, size_t);
int	 regstore_kick(size_t (*)(char **, uint64_t));
int	 regstore_pending(void);
size_t	 regstore_snapline(char *, size_t, const struct reg_record *,
	    uint64_t, size_t, int);

/* regapi.c */
void	 regapi_listen(int);
void	 regapi_stop(void);
void	 regapi_metrics(uint32_t);

/* secrets.c */
int	 secrets_set(struct reg_secrets *, int, const char *, const char *);
void	 secrets_from_env(struct reg_secrets *);
int	 secrets_load(const struct portero_config *, struct reg_secrets *,
	    const struct reg_secrets *);

/* sandbox.c: pledge(2)/unveil(2) everywhere, built from seccomp and
 * Landlock on Linux. */
int	 sandbox_unveil(const char *, const char *);
int	 sandbox_pledge(const char *);
const char *sandbox_describe(void);

/* log.c */
enum log_limit_reason {
	LOG_LIMIT_REQUEST,	/* a client's request refused */
	LOG_LIMIT_CLIENT,	/* a client's timeout or abort */
	LOG_LIMIT_UPSTREAM,	/* a backend failed a request */
	LOG_LIMIT_ACCESSLOG,	/* access log lines dropped */
	LOG_LIMIT_MAX
};

void	 log_init(int, int, const char *);
void	 log_procname(const char *);
void	 log_setverbose(int);
void	 log_capture(char *, size_t);
void	 log_setbare(int);
int	 log_getverbose(void);
void	 log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_limited(enum log_limit_reason, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), noreturn));

#endif /* PORTERO_H */
