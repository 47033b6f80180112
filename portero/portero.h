/*
 * portero.h: the table of contents of the daemon: constants, the
 * configuration that travels by message, the message types, prototypes.
 */

#ifndef PORTERO_H
#define PORTERO_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <event.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#define PORTERO_VERSION		"0.1.0"

#define PORTERO_USER		"_portero"
#define PORTERO_CONTROL_SOCKET	"/var/run/portero.sock"
#define PORTERO_STATE_DIR	"/var/db/portero"
#define PORTERO_CHROOT_DIR	"/var/empty"
#define PORTERO_LISTEN_ADDR	"127.0.0.1:8443"
#define PORTERO_REGISTER_ADDR	"127.0.0.1:18080"

#define PORTERO_MAX_WORKERS	64
#define PORTERO_DRAIN_TIMEOUT	10	/* seconds */
#define PORTERO_NOFILE		65536
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
#define PROMISES_CERTLOADER	"stdio rpath"
#define PROMISES_REGISTRAR	"stdio rpath wpath cpath inet recvfd"
#define UNVEIL_CERTLOADER	"r"
#define UNVEIL_REGISTRAR	"rwc"

/* Control requests unanswered after this long are answered as they stand. */
#define CTL_REPLY_TIMEOUT_MS	1000
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
	int		 fd;		/* sent with the first byte, then closed */
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
 * Message types.  For each: sender -> receiver, payload.
 */
enum imsg_type {
	IMSG_NONE,

	/* configuration */
	IMSG_CFG_GLOBAL,	/* parent -> child: struct portero_config */
	IMSG_CFG_LISTENER,	/* parent -> worker, registrar: fd,
				   struct listener_msg */
	IMSG_CFG_DONE,		/* parent -> child: config complete, none;
				   child -> parent: applied, none */
	IMSG_START,		/* parent -> child: serve, none */

	/* life cycle */
	IMSG_SHUTDOWN,		/* parent -> child: drain and exit, none */
	IMSG_RELOAD,		/* parent -> certloader: rescan now, none */
	IMSG_LOG_VERBOSE,	/* parent -> child: int verbosity */

	/* statistics, for the control socket */
	IMSG_STATS_REQ,		/* parent -> worker: peerid = control id */
	IMSG_STATS,		/* worker -> parent: struct worker_stats */

	/* control socket: porterod-ctl <-> parent */
	IMSG_CTL_SHOW_STATUS,	/* ctl -> parent: none */
	IMSG_CTL_SHOW_WORKERS,	/* ctl -> parent: none */
	IMSG_CTL_RELOAD,	/* ctl -> parent: none */
	IMSG_CTL_LOG_VERBOSE,	/* ctl -> parent: int verbosity */
	IMSG_CTL_STATUS,	/* parent -> ctl: struct ctl_status */
	IMSG_CTL_CHILD,		/* parent -> ctl: struct ctl_child */
	IMSG_CTL_OK,		/* parent -> ctl: none */
	IMSG_CTL_FAIL,		/* parent -> ctl: NUL-terminated reason */
	IMSG_CTL_END,		/* parent -> ctl: none; ends a listing */

	IMSG_TYPE_MAX
};

/* Roles of the processes; also the order of the process table. */
enum proc_role {
	PROC_PARENT,
	PROC_CERTLOADER,
	PROC_REGISTRAR,
	PROC_WORKER,
	PROC_MAX
};

enum child_state {
	CHILD_STARTING,		/* forked, being configured */
	CHILD_RUNNING,
	CHILD_STOPPING,		/* draining */
	CHILD_DEAD,		/* waiting to be respawned */
};

/*
 * The whole configuration, filled by flags (and later a file) in the
 * parent, sent to every child.  Fixed size: it crosses a socketpair.
 */
struct portero_config {
	char		 listen_addr[HOSTPORT_MAX];
	char		 register_addr[HOSTPORT_MAX];
	char		 control_socket[CONF_PATH_MAX];
	char		 state_dir[CONF_PATH_MAX];
	char		 chroot_dir[CONF_PATH_MAX];
	char		 cert_dir[CONF_PATH_MAX];
	char		 user[NAME_MAX_LEN];
	uint32_t	 workers;
	uint32_t	 drain_timeout;
	int32_t		 verbose;
	int32_t		 foreground;
};

enum listener_kind {
	LISTENER_PROXY,		/* client traffic, to a worker */
	LISTENER_REGISTER,	/* registration API, to the registrar */
};

struct listener_msg {
	uint32_t	 kind;		/* enum listener_kind */
	char		 addr[HOSTPORT_MAX];
};

struct worker_stats {
	uint64_t	 connections;	/* open now */
	uint64_t	 accepted;	/* since start */
	uint64_t	 requests;	/* since start */
};

struct ctl_status {
	char		 version[32];
	uint32_t	 pid;
	uint64_t	 uptime;	/* seconds */
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
	int		 ch_listenfd;	/* worker: its SO_REUSEPORT socket */
	struct worker_stats ch_stats;
};

/* The parent's own state; one instance, in portero.c. */
struct portero {
	struct portero_config	 pc_conf;
	struct child		 pc_certloader;
	struct child		 pc_registrar;
	struct child		 pc_workers[PORTERO_MAX_WORKERS];
	int			 pc_registerfd;
	int			 pc_controlfd;
	int			 pc_stopping;	/* 1: draining, 2: at once */
	struct timespec		 pc_started;
	struct event		 pc_ev_control;
	struct event		 pc_ev_drain;
	struct event		 pc_ev_sigs[5];
	char			*pc_exe;	/* re-executed for each child */
	int			 pc_argc;
	char			**pc_argv;
};

/* minihttp.c: a fixed answer per request, until the proxy exists. */
struct mh_client;
struct minihttp {
	int			 mh_status;
	const char		*mh_reason;
	const char		*mh_body;
	struct worker_stats	 mh_stats;
	TAILQ_HEAD(, mh_client)	 mh_clients;
	int			 mh_listenfd;
	struct event		 mh_ev_listen;
	struct event		 mh_ev_pause;
	int			 mh_stopping;
	void			(*mh_drained)(void);
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
const char *proc_role_name(enum proc_role);
int	 proc_role_parse(const char *, enum proc_role *);
const char *child_state_name(enum child_state);

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
struct imsgev *proc_child_connect(void (*)(struct imsg *));
void	 proc_compose_parent(uint32_t, uint32_t, const void *, size_t);
void	 proc_sandbox(const char *);
int	 proc_child_common(struct imsg *, struct portero_config *);

/* portero.c (parent) */
extern struct portero	*portero_env;

/* parent.c */
void	 parent_init_timers(struct portero *);
void	 parent_start_child(struct portero *, struct child *);
void	 parent_send_config(struct portero *, struct child *);
void	 parent_dispatch_child(int, short, void *);
void	 parent_sigchld(struct portero *);
void	 parent_shutdown(struct portero *, int);
void	 parent_reload(struct portero *);
void	 parent_set_verbose(struct portero *, int);
struct child *parent_child_bypid(struct portero *, pid_t);

/* control.c */
int	 control_open(const char *);
void	 control_listen(struct portero *);
void	 control_close(struct portero *);
void	 control_stats_reply(struct portero *, struct child *,
	    uint32_t, const struct worker_stats *);
void	 control_child_gone(struct portero *, struct child *);

/* config.c */
void	 config_defaults(struct portero_config *);
int	 config_parse_args(struct portero_config *, int, char **, int *);
int	 config_check(const struct portero_config *);
int	 config_recv(struct portero_config *, const struct imsg *);
void	 usage(void) __attribute__((noreturn));

/* listener.c */
int	 listener_parse(const char *, struct sockaddr_storage *, socklen_t *);
int	 listener_bind(const char *, int);
int	 socket_set_nonblock(int);

/* minihttp.c */
void	 minihttp_init(struct minihttp *, int, const char *, const char *,
	    void (*)(void));
void	 minihttp_listen(struct minihttp *, int);
void	 minihttp_stop(struct minihttp *);

/* worker.c */
void	 worker_main(unsigned int) __attribute__((noreturn));

/* certloader.c */
void	 certloader_main(void) __attribute__((noreturn));

/* registrar.c */
void	 registrar_main(void) __attribute__((noreturn));

/* sandbox.c: pledge(2)/unveil(2) everywhere, built from seccomp and
 * Landlock on Linux. */
int	 sandbox_unveil(const char *, const char *);
int	 sandbox_pledge(const char *);
const char *sandbox_describe(void);

/* log.c */
void	 log_init(int, int, const char *);
void	 log_procname(const char *);
void	 log_setverbose(int);
int	 log_getverbose(void);
void	 log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2), noreturn));

#endif /* PORTERO_H */
