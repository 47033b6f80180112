/*
 * certloader.c: the certloader process, the only one that may read the
 * certificate directory: it scans it, keeps each domain's last good pair
 * and sends the whole good set to the workers whenever it changes.
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
#include <sys/tree.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portero.h"

/* A message that does not fit the write queue is tried again this soon. */
#define LD_SEND_RETRY_MS	100

/*
 * A domain: one folder of the certificate directory.  d_good is the
 * pair in service (or NULL); d_error the reason the folder's files are
 * not, as last logged ("" when they are fine).
 */
struct ld_domain {
	RB_ENTRY(ld_domain)	 d_entry;
	char			 d_domain[NAME_MAX_LEN];	/* the key */
	char			 d_dir[NAME_MAX_LEN];	/* folder name */
	unsigned int		 d_gen;		/* last scan that saw it */
	struct cert_stamp	 d_stamp[2];	/* d_good's files, as read */
	struct cert_pair	*d_good;
	char			 d_error[CERT_ERROR_LEN];
	char			 d_dup[NAME_MAX_LEN];	/* a second folder
							   for it, logged */
	unsigned int		 d_dupgen;
	struct cert_ocsp	 d_ocsp;	/* stapled; co_der NULL: none */
	struct cert_stamp	 d_ocsp_stamp;	/* ocsp.der, as last read */
	int			 d_ocsp_read;	/* d_ocsp_stamp is set */
	char			 d_ocsp_error[CERT_ERROR_LEN];	/* logged */
};
RB_HEAD(ld_domains, ld_domain);

/*
 * A set as it goes out: every message after CERT_BEGIN (which carries
 * each transfer's own number), payloads back to back in ls_buf.  Built
 * once per change of the good set and owned by it, so a scan may free
 * the pairs while transfers are under way.  Holds private keys.
 */
struct ld_msg {
	uint32_t		 lm_type;
	uint32_t		 lm_len;
	size_t			 lm_off;
};

struct ld_set {
	unsigned char		*ls_buf;
	size_t			 ls_len;
	struct ld_msg		*ls_msgs;
	size_t			 ls_nmsgs;
	struct cert_begin	 ls_begin;
};

/*
 * A set on its way to one worker: message lx_next is the next to send
 * (0 is CERT_BEGIN), the worker has acknowledged lx_acked of them.  A
 * newer set waits (lx_again) until the window of the old one is
 * acknowledged, so a worker never has more than CERT_WINDOW messages
 * queued for it, however often the set changes.
 */
struct ld_xfer {
	uint32_t		 lx_transfer;	/* 0: none yet */
	size_t			 lx_next;
	size_t			 lx_acked;
	int			 lx_again;	/* start over with ld_set */
};

struct certloader {
	struct portero_config	 ld_conf;
	int			 ld_sandboxed;
	struct imsgev		*ld_iev;
	char			 ld_root[CONF_PATH_MAX];	/* the cert dir
							   as we see it */
	struct ld_domains	 ld_domains;
	unsigned int		 ld_gen;
	int			 ld_scanned;
	int			 ld_changed;	/* the good set, this scan */
	char			 ld_direrr[CERT_ERROR_LEN];	/* logged */
	int			 ld_toomany;	/* logged */
	char			 ld_default[NAME_MAX_LEN];	/* logged */
	int			 ld_toobig;	/* logged */
	struct ld_set		*ld_set;	/* the good set, as it goes */
	struct ld_xfer		 ld_xfer[PORTERO_MAX_WORKERS];
	uint32_t		 ld_transfers;	/* numbers given out */
	struct event		 ld_ev_scan;
	struct event		 ld_ev_send;
};

/* This process's one certloader. */
static struct certloader	 ld;

static int	 ld_domain_cmp(struct ld_domain *, struct ld_domain *);
RB_PROTOTYPE(ld_domains, ld_domain, d_entry, ld_domain_cmp);

static void	 certloader_init(void);
static void	 certloader_dispatch_parent(struct imsg *);
static void	 certloader_scan(void);
static void	 certloader_scan_timer(int, short, void *);
static int	 certloader_list(DIR *, char ***, size_t *);
static void	 certloader_folder(int, const char *, time_t);
static void	 certloader_check(struct ld_domain *, int, const char *,
		    time_t);
static void	 certloader_error(struct ld_domain *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 certloader_fixed(struct ld_domain *, const char *);
static void	 certloader_ocsp(struct ld_domain *, int, const char *,
		    time_t, int);
static void	 certloader_ocsp_drop(struct ld_domain *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 certloader_domain_free(struct ld_domain *);
static size_t	 certloader_order(struct ld_domain **, size_t);
static struct ld_set *certloader_build(void);
static void	 certloader_put(struct ld_set *, uint32_t, const void *,
		    size_t);
static void	 certloader_set_free(struct ld_set *);
static void	 certloader_newset(void);
static void	 certloader_send(uint32_t);
static void	 certloader_send_all(void);
static void	 certloader_send_timer(int, short, void *);
static void	 certloader_ack(uint32_t, const struct imsg *);
static void	 certloader_resend(uint32_t);
static void	 certloader_show(uint32_t);
static void	 certloader_metrics(uint32_t);
static void	 certloader_show_names(const struct cert_pair *, char *,
		    size_t);

void
certloader_main(void)
{
	RB_INIT(&ld.ld_domains);
	evtimer_set(&ld.ld_ev_scan, certloader_scan_timer, NULL);
	evtimer_set(&ld.ld_ev_send, certloader_send_timer, NULL);
	ld.ld_iev = proc_child_connect(PROC_CERTLOADER,
	    certloader_dispatch_parent);
	event_dispatch();
	fatalx("event loop ended");
}

/*
 * chroot into the certificate directory (or the empty one when there is
 * none), then read-only access to it alone.  libcrypto is set up first:
 * it must not look for openssl.cnf later, inside the sandbox.
 */
static void
certloader_init(void)
{
	const char	*dir = ld.ld_conf.cert_dir;
	int		 hasdir = dir[0] != '\0', chrooted;

	if (certs_init() == -1)
		fatalx("cannot initialise libcrypto");
	chrooted = proc_drop_privileges(&ld.ld_conf,
	    hasdir ? dir : ld.ld_conf.chroot_dir);
	if (strlcpy(ld.ld_root, chrooted ? "/" : dir, sizeof(ld.ld_root)) >=
	    sizeof(ld.ld_root))
		fatalx("certificate directory name too long");
	if (hasdir && sandbox_unveil(ld.ld_root, UNVEIL_CERTLOADER) == -1)
		fatal("unveil %s", dir);
	if (sandbox_unveil(NULL, NULL) == -1)
		fatal("unveil");
	/* recvfd: pools' client certificates come open from the parent */
	proc_sandbox(hasdir ? PROMISES_CERTLOADER : "stdio recvfd");
	ld.ld_sandboxed = 1;
}

static void
certloader_dispatch_parent(struct imsg *imsg)
{
	uint32_t	 id = imsg->hdr.peerid;

	if (proc_child_common(imsg, &ld.ld_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_DONE:
		if (!ld.ld_sandboxed) {
			certloader_init();
			certloader_scan();
		}
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		break;
	case IMSG_RELOAD:
		log_debug("rescan requested");
		if (ld.ld_sandboxed)
			certloader_scan();
		break;
	case IMSG_CERT_RESEND:
		if (id >= ld.ld_conf.workers)
			fatalx("certificates asked for worker %u", id);
		certloader_resend(id);
		poolcert_loader_resend(ld.ld_iev, id);
		break;
	case IMSG_POOL_CERT_RESEND:
		poolcert_loader_resend(ld.ld_iev, id);
		break;
	case IMSG_POOL_CERT_FILE:
	case IMSG_POOL_CERT_FILES_END:
		if (poolcert_loader_message(imsg, ld.ld_iev) == -1)
			fatalx("tls-client-certificate %s out of step",
			    imsg_name(imsg->hdr.type));
		break;
	case IMSG_CERT_ACK:
		if (id >= ld.ld_conf.workers)
			fatalx("an acknowledgement from worker %u", id);
		certloader_ack(id, imsg);
		break;
	case IMSG_CTL_SHOW_CERTS:
		certloader_show(id);
		break;
	case IMSG_MET_REQ:
		certloader_metrics(id);
		break;
	case IMSG_SHUTDOWN:
		exit(0);
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

static int
ld_domain_cmp(struct ld_domain *a, struct ld_domain *b)
{
	return (strcmp(a->d_domain, b->d_domain));
}

RB_GENERATE(ld_domains, ld_domain, d_entry, ld_domain_cmp);

static void
certloader_scan_timer(int fd, short event, void *arg)
{
	certloader_scan();
}

/*
 * One pass over the directory.  A directory that cannot be listed
 * changes nothing: what is in service stays.  A folder that is gone
 * takes its domain with it.  If the good set changed, every worker gets
 * the new one.
 */
static void
certloader_scan(void)
{
	struct ld_domain	*d, *next;
	struct timeval		 tv;
	DIR			*dir = NULL;
	char			 err[CERT_ERROR_LEN];
	char			**names = NULL;
	size_t			 i, n = 0;
	time_t			 now;

	evtimer_del(&ld.ld_ev_scan);
	if (ld.ld_conf.cert_dir[0] == '\0')
		goto done;	/* no certificates, ever: an empty set */

	if ((dir = opendir(ld.ld_root)) == NULL ||
	    certloader_list(dir, &names, &n) == -1) {
		(void)snprintf(err, sizeof(err), "%s: %s; keeping the "
		    "certificates in service", ld.ld_conf.cert_dir,
		    strerror(errno));
		if (strcmp(err, ld.ld_direrr) != 0)
			log_warnx("%s", err);
		(void)strlcpy(ld.ld_direrr, err, sizeof(ld.ld_direrr));
		goto done;
	}
	if (ld.ld_direrr[0] != '\0')
		log_info("%s: readable again", ld.ld_conf.cert_dir);
	ld.ld_direrr[0] = '\0';

	ld.ld_gen++;
	ld.ld_changed = 0;
	now = time(NULL);
	for (i = 0; i < n; i++)
		certloader_folder(dirfd(dir), names[i], now);

	RB_FOREACH_SAFE(d, ld_domains, &ld.ld_domains, next) {
		if (d->d_dupgen != ld.ld_gen)
			d->d_dup[0] = '\0';
		if (d->d_gen == ld.ld_gen)
			continue;
		if (d->d_good != NULL) {
			log_info("%s/%s: folder gone; %s out of service",
			    ld.ld_conf.cert_dir, d->d_dir, d->d_domain);
			ld.ld_changed = 1;
		}
		RB_REMOVE(ld_domains, &ld.ld_domains, d);
		certloader_domain_free(d);
	}
 done:
	/* the first scan tells the workers what there is, even nothing */
	if (ld.ld_changed || !ld.ld_scanned)
		certloader_newset();
	ld.ld_changed = 0;
	ld.ld_scanned = 1;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (dir != NULL)
		closedir(dir);
	if (ld.ld_conf.cert_dir[0] != '\0' &&
	    ld.ld_conf.cert_scan_interval > 0) {
		tv.tv_sec = ld.ld_conf.cert_scan_interval;
		tv.tv_usec = 0;
		evtimer_add(&ld.ld_ev_scan, &tv);
	}
}

static int
certloader_namecmp(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

/* The directory's entries but dot-files, sorted: the same each time. */
static int
certloader_list(DIR *dir, char ***namesp, size_t *np)
{
	struct dirent	*de;
	char		**names = NULL, **newnames;
	size_t		 n = 0, cap = 0;
	int		 saved;

	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (n >= CERT_MAX_DOMAINS) {
			if (!ld.ld_toomany)
				log_warnx("%s: more than %d entries; the rest "
				    "are ignored", ld.ld_conf.cert_dir,
				    CERT_MAX_DOMAINS);
			ld.ld_toomany = 1;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((newnames = reallocarray(names, cap,
			    sizeof(*names))) == NULL)
				goto fail;
			names = newnames;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	if (n < CERT_MAX_DOMAINS)
		ld.ld_toomany = 0;
	if (n > 0)
		qsort(names, n, sizeof(*names), certloader_namecmp);
	*namesp = names;
	*np = n;
	return (0);
 fail:
	saved = errno;
	while (n > 0)
		free(names[--n]);
	free(names);
	errno = saved;
	return (-1);
}

/*
 * One entry of the directory.  Plain files there are not ours and are
 * skipped; a symbolic link to a folder is shown as an error rather than
 * left to puzzle the operator.
 */
static void
certloader_folder(int rootfd, const char *name, time_t now)
{
	struct ld_domain	 key, *d;
	struct stat		 st;
	char			 path[PATH_MAX];
	int			 islink = 0, valid;

	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return;		/* gone since it was listed */
	if (S_ISLNK(st.st_mode)) {
		if (fstatat(rootfd, name, &st, 0) == -1)
			return;
		islink = 1;
	}
	if (!S_ISDIR(st.st_mode))
		return;

	memset(&key, 0, sizeof(key));
	valid = certs_domain(name, key.d_domain, sizeof(key.d_domain)) == 0;
	if (!valid)	/* listed under its folder's name */
		(void)strlcpy(key.d_domain, name, sizeof(key.d_domain));
	if ((d = RB_FIND(ld_domains, &ld.ld_domains, &key)) == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL) {
			log_warn("%s", name);
			return;
		}
		memcpy(d->d_domain, key.d_domain, sizeof(d->d_domain));
		(void)strlcpy(d->d_dir, name, sizeof(d->d_dir));
		RB_INSERT(ld_domains, &ld.ld_domains, d);
	} else if (d->d_gen == ld.ld_gen) {
		/* "_wildcard.x" and "*.x": the first in sorted order wins */
		if (strcmp(d->d_dup, name) != 0)
			log_warnx("%s/%s: the same domain as %s/%s; ignored",
			    ld.ld_conf.cert_dir, name, ld.ld_conf.cert_dir,
			    d->d_dir);
		(void)strlcpy(d->d_dup, name, sizeof(d->d_dup));
		d->d_dupgen = ld.ld_gen;
		return;
	} else if (strcmp(d->d_dir, name) != 0) {
		/* another folder now: read it whatever its stamps */
		(void)strlcpy(d->d_dir, name, sizeof(d->d_dir));
		memset(d->d_stamp, 0, sizeof(d->d_stamp));
	}
	d->d_gen = ld.ld_gen;

	(void)snprintf(path, sizeof(path), "%s/%s", ld.ld_conf.cert_dir,
	    name);
	if (islink)
		certloader_error(d, "%s: a symbolic link (not followed)", path);
	else if (!valid)
		certloader_error(d, "%s: not a domain name (a wildcard folder "
		    "is spelled %sexample.com)", path, CERT_WILDCARD_DIR);
	else
		certloader_check(d, rootfd, path, now);
}

/*
 * A domain's files: unchanged since they went into service, only time
 * can spoil them; else read and check them again.  Contents equal to
 * the pair in service change nothing.  Anything wrong leaves the pair
 * in service alone and is logged once.
 */
static void
certloader_check(struct ld_domain *d, int rootfd, const char *path,
    time_t now)
{
	struct cert_pair	*cp = NULL;
	struct cert_stamp	 cs[2];
	char			 err[CERT_ERROR_LEN], when[32];
	int			 fd, renewed = 0;

	if ((fd = openat(rootfd, d->d_dir, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		certloader_error(d, "%s: %s", path, strerror(errno));
		return;
	}
	if (d->d_good != NULL && d->d_error[0] == '\0' &&
	    certs_stat(fd, CERT_FILE, &cs[0]) == 0 &&
	    certs_stat(fd, CERT_KEY_FILE, &cs[1]) == 0 &&
	    certs_stamp_equal(&cs[0], &d->d_stamp[0]) &&
	    certs_stamp_equal(&cs[1], &d->d_stamp[1]))
		goto expiry;

	if ((cp = calloc(1, sizeof(*cp))) == NULL) {
		certloader_error(d, "%s: %s", path, strerror(errno));
		goto done;
	}
	(void)strlcpy(cp->cp_domain, d->d_domain, sizeof(cp->cp_domain));
	if (certs_load(fd, path, cp, cs, err, sizeof(err)) == -1) {
		certloader_error(d, "%s", err);
		goto done;
	}
	if (d->d_good != NULL && memcmp(cp->cp_hash, d->d_good->cp_hash,
	    sizeof(cp->cp_hash)) == 0) {
		memcpy(d->d_stamp, cs, sizeof(d->d_stamp));
		goto expiry;
	}
	if (certs_check(cp, path, now, err, sizeof(err)) == -1) {
		certloader_error(d, "%s", err);
		goto done;
	}

	log_info("%s: certificate for %s in service, valid until %s",
	    path, cp->cp_names, certs_fmt_time(cp->cp_not_after, when,
	    sizeof(when)));
	if (d->d_good != NULL) {
		certs_pair_free(d->d_good);
		free(d->d_good);
	}
	d->d_good = cp;
	cp = NULL;
	memcpy(d->d_stamp, cs, sizeof(d->d_stamp));
	d->d_error[0] = '\0';
	ld.ld_changed = 1;
	renewed = 1;
	goto done;

 expiry:
	/* nothing better to serve: an expired pair stays, shown as stale */
	if (d->d_good->cp_not_after <= now)
		certloader_error(d, "%s/%s: certificate expired on %s", path,
		    CERT_FILE, certs_fmt_time(d->d_good->cp_not_after, when,
		    sizeof(when)));
	else
		certloader_fixed(d, path);
 done:
	if (cp != NULL) {
		certs_pair_free(cp);
		free(cp);
	}
	if (d->d_good != NULL)
		certloader_ocsp(d, fd, path, now, renewed);
	close(fd);
}

/*
 * The domain's ocsp.der, for the pair in service: read again when the
 * file or the pair changed, else only time can spoil it.  A response
 * that is missing, wrong or out of date is not stapled; clients then
 * ask the responder themselves, as they would without stapling.
 */
static void
certloader_ocsp(struct ld_domain *d, int fd, const char *path, time_t now,
    int renewed)
{
	struct cert_ocsp	 co;
	struct cert_stamp	 cs;
	char			 err[CERT_ERROR_LEN], when[32];

	if (certs_stat(fd, CERT_OCSP_FILE, &cs) == -1) {
		if (d->d_ocsp.co_der != NULL)
			certloader_ocsp_drop(d, "%s/%s: removed; no longer "
			    "stapled", path, CERT_OCSP_FILE);
		d->d_ocsp_read = 0;
		d->d_ocsp_error[0] = '\0';
		return;
	}
	if (!renewed && d->d_ocsp_read &&
	    certs_stamp_equal(&cs, &d->d_ocsp_stamp)) {
		if (d->d_ocsp.co_der != NULL && d->d_ocsp.co_next <= now)
			certloader_ocsp_drop(d, "%s/%s: out of date since %s; "
			    "no longer stapled", path, CERT_OCSP_FILE,
			    certs_fmt_time(d->d_ocsp.co_next, when,
			    sizeof(when)));
		return;
	}
	d->d_ocsp_read = 1;
	if (certs_ocsp_load(fd, path, d->d_good, now, &co, &d->d_ocsp_stamp,
	    err, sizeof(err)) == -1) {
		certloader_ocsp_drop(d, "%s", err);
		return;
	}
	certs_ocsp_free(&d->d_ocsp);
	d->d_ocsp = co;
	d->d_ocsp_error[0] = '\0';
	ld.ld_changed = 1;
	log_info("%s/%s: stapled, good until %s", path, CERT_OCSP_FILE,
	    certs_fmt_time(co.co_next, when, sizeof(when)));
}

/* No staple for d, with one line in the log for a new reason. */
static void
certloader_ocsp_drop(struct ld_domain *d, const char *fmt, ...)
{
	char	 err[CERT_ERROR_LEN];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	if (d->d_ocsp.co_der != NULL) {
		certs_ocsp_free(&d->d_ocsp);
		ld.ld_changed = 1;
	}
	if (strcmp(err, d->d_ocsp_error) == 0)
		return;
	log_warnx("%s", err);
	(void)strlcpy(d->d_ocsp_error, err, sizeof(d->d_ocsp_error));
}

/* One line per new error: a scan that finds the same says nothing. */
static void
certloader_error(struct ld_domain *d, const char *fmt, ...)
{
	char	 err[CERT_ERROR_LEN];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	if (strcmp(err, d->d_error) == 0)
		return;
	if (d->d_good != NULL)
		log_warnx("%s; keeping the certificate in service", err);
	else
		log_warnx("%s", err);
	(void)strlcpy(d->d_error, err, sizeof(d->d_error));
}

static void
certloader_fixed(struct ld_domain *d, const char *path)
{
	if (d->d_error[0] == '\0')
		return;
	log_info("%s: files good again", path);
	d->d_error[0] = '\0';
}

static void
certloader_domain_free(struct ld_domain *d)
{
	if (d->d_good != NULL) {
		certs_pair_free(d->d_good);
		free(d->d_good);
	}
	certs_ocsp_free(&d->d_ocsp);
	free(d);
}

/*
 * The good set in the order the workers load it.  First the default:
 * the --default-sni domain (or the first whose certificate covers that
 * name) if there is one, else the first in sorted order.  Then, since
 * libtls gives an SNI name the first later pair that covers it, exact
 * names before wildcards: a.example.com's own certificate wins over
 * *.example.com's.
 */
static size_t
certloader_order(struct ld_domain **v, size_t max)
{
	struct ld_domain	*d, *def = NULL;
	const char		*sni = ld.ld_conf.default_sni;
	size_t			 n = 0;
	int			 wild;

	RB_FOREACH(d, ld_domains, &ld.ld_domains)
		if (d->d_good != NULL && sni[0] != '\0' &&
		    strcasecmp(d->d_domain, sni) == 0)
			def = d;
	RB_FOREACH(d, ld_domains, &ld.ld_domains)
		if (def == NULL && d->d_good != NULL && sni[0] != '\0' &&
		    certs_names_cover(d->d_good->cp_names,
		    d->d_good->cp_nameslen, sni, strlen(sni)))
			def = d;
	if (def == NULL) {
		RB_FOREACH(d, ld_domains, &ld.ld_domains)
			if (d->d_good != NULL)
				break;
		if (d != NULL && sni[0] != '\0' &&
		    strcmp(ld.ld_default, d->d_domain) != 0)
			log_warnx("--default-sni %s: no certificate for it; "
			    "%s is the default", sni, d->d_domain);
		def = d;
	}
	if (def == NULL)
		return (0);
	if (strcmp(ld.ld_default, def->d_domain) != 0)
		log_info("default certificate: %s", def->d_domain);
	(void)strlcpy(ld.ld_default, def->d_domain, sizeof(ld.ld_default));

	v[n++] = def;
	for (wild = 0; wild <= 1; wild++)
		RB_FOREACH(d, ld_domains, &ld.ld_domains) {
			if (d->d_good == NULL || d == def || n >= max ||
			    (d->d_domain[0] == '*') != wild)
				continue;
			v[n++] = d;
		}
	return (n);
}

/*
 * The good set as it will go out, in a buffer of its own, or NULL (with
 * one line in the log) when it cannot be built: the set in service
 * stays.
 */
static struct ld_set *
certloader_build(void)
{
	struct ld_domain	**v;
	struct ld_set		*ls = NULL;
	struct cert_pair	*cp;
	struct cert_msg		 cm;
	size_t			 i, n = 0, nmsgs = 1, len, off, part;
	uint64_t		 bytes = 0;

	if ((v = calloc(CERT_MAX_DOMAINS, sizeof(*v))) == NULL)
		goto fail;
	if (ld.ld_conf.cert_dir[0] != '\0')
		n = certloader_order(v, CERT_MAX_DOMAINS);
	for (i = 0; i < n; i++) {
		cp = v[i]->d_good;
		len = cp->cp_nameslen + cp->cp_certlen + cp->cp_keylen +
		    v[i]->d_ocsp.co_len;
		bytes += len;
		nmsgs += 1 + (len + IMSG_MAX_PAYLOAD - 1) / IMSG_MAX_PAYLOAD;
	}
	if (bytes > CERT_SET_MAX) {
		if (!ld.ld_toobig)
			log_warnx("the certificate set (%zu domains, %llu "
			    "bytes) exceeds %d bytes; the workers keep their "
			    "certificates", n, (unsigned long long)bytes,
			    CERT_SET_MAX);
		ld.ld_toobig = 1;
		free(v);
		return (NULL);
	}
	ld.ld_toobig = 0;
	if ((ls = calloc(1, sizeof(*ls))) == NULL ||
	    (ls->ls_msgs = calloc(nmsgs, sizeof(*ls->ls_msgs))) == NULL ||
	    (ls->ls_buf = malloc(n * sizeof(cm) + bytes + 1)) == NULL)
		goto fail;
	ls->ls_begin.cb_npairs = n;
	ls->ls_begin.cb_bytes = bytes;
	for (i = 0; i < n; i++) {
		cp = v[i]->d_good;
		memset(&cm, 0, sizeof(cm));
		(void)strlcpy(cm.cm_domain, v[i]->d_domain,
		    sizeof(cm.cm_domain));
		cm.cm_names_len = cp->cp_nameslen;
		cm.cm_cert_len = cp->cp_certlen;
		cm.cm_key_len = cp->cp_keylen;
		cm.cm_ocsp_len = v[i]->d_ocsp.co_len;
		certloader_put(ls, IMSG_CERT_ADD, &cm, sizeof(cm));
		/* names, cert, key and staple as one run, in chunks */
		off = ls->ls_len;
		memcpy(ls->ls_buf + off, cp->cp_names, cp->cp_nameslen);
		off += cp->cp_nameslen;
		memcpy(ls->ls_buf + off, cp->cp_cert, cp->cp_certlen);
		off += cp->cp_certlen;
		memcpy(ls->ls_buf + off, cp->cp_key, cp->cp_keylen);
		off += cp->cp_keylen;
		if (cm.cm_ocsp_len > 0)
			memcpy(ls->ls_buf + off, v[i]->d_ocsp.co_der,
			    cm.cm_ocsp_len);
		len = off + cm.cm_ocsp_len - ls->ls_len;
		for (off = 0; off < len; off += part) {
			part = len - off < IMSG_MAX_PAYLOAD ? len - off :
			    IMSG_MAX_PAYLOAD;
			certloader_put(ls, IMSG_CERT_DATA, NULL, part);
		}
	}
	certloader_put(ls, IMSG_CERT_END, NULL, 0);
	free(v);
	return (ls);
 fail:
	log_warn("certificate set");
	certloader_set_free(ls);
	free(v);
	return (NULL);
}

/*
 * One more message of a set being built; data NULL: its len bytes are
 * in place already, at the end of ls_buf.
 */
static void
certloader_put(struct ld_set *ls, uint32_t type, const void *data,
    size_t len)
{
	struct ld_msg	*lm = &ls->ls_msgs[ls->ls_nmsgs++];

	lm->lm_type = type;
	lm->lm_len = len;
	lm->lm_off = ls->ls_len;
	if (data != NULL)
		memcpy(ls->ls_buf + ls->ls_len, data, len);
	ls->ls_len += len;
}

static void
certloader_set_free(struct ld_set *ls)
{
	if (ls == NULL)
		return;
	if (ls->ls_buf != NULL)
		freezero(ls->ls_buf, ls->ls_len);
	free(ls->ls_msgs);
	free(ls);
}

/* The good set changed (or was never sent): every worker gets it anew. */
static void
certloader_newset(void)
{
	struct ld_set	*ls;
	unsigned int	 i;

	if ((ls = certloader_build()) == NULL)
		return;
	certloader_set_free(ld.ld_set);
	ld.ld_set = ls;
	log_debug("certificate set: %u domains, %llu bytes, %zu messages",
	    ls->ls_begin.cb_npairs, (unsigned long long)ls->ls_begin.cb_bytes,
	    ls->ls_nmsgs + 1);
	for (i = 0; i < ld.ld_conf.workers; i++)
		ld.ld_xfer[i].lx_again = 1;
	certloader_send_all();
}

/* Queue message lx_next of worker id's transfer; -1 if it cannot now. */
static int
certloader_send_msg(uint32_t id, const struct ld_xfer *lx)
{
	const struct ld_set	*ls = ld.ld_set;
	const struct ld_msg	*lm;
	struct cert_begin	 cb;
	struct cert_msg		 cm;

	if (lx->lx_next == 0) {
		cb = ls->ls_begin;
		cb.cb_transfer = lx->lx_transfer;
		return (config_setcertbegin(ld.ld_iev, id, &cb));
	}
	lm = &ls->ls_msgs[lx->lx_next - 1];
	switch (lm->lm_type) {
	case IMSG_CERT_ADD:
		memcpy(&cm, ls->ls_buf + lm->lm_off, sizeof(cm));
		return (config_setcert(ld.ld_iev, id, &cm));
	case IMSG_CERT_DATA:
		return (config_setcertdata(ld.ld_iev, id,
		    ls->ls_buf + lm->lm_off, lm->lm_len));
	}
	return (config_setcertend(ld.ld_iev, id));
}

/*
 * Move worker id's transfer on as far as its window allows.  A newer
 * set starts once the old one's messages in flight are acknowledged.
 * When the parent's queue is full, try again shortly.
 */
static void
certloader_send(uint32_t id)
{
	struct ld_xfer	*lx = &ld.ld_xfer[id];
	struct timeval	 tv = { 0, LD_SEND_RETRY_MS * 1000 };

	if (ld.ld_set == NULL)
		return;		/* the first scan is still to come */
	if (lx->lx_again) {
		if (lx->lx_acked < lx->lx_next)
			return;
		lx->lx_again = 0;
		if (++ld.ld_transfers == 0)
			ld.ld_transfers = 1;
		lx->lx_transfer = ld.ld_transfers;
		lx->lx_next = lx->lx_acked = 0;
	}
	if (lx->lx_transfer == 0)
		return;
	while (lx->lx_next <= ld.ld_set->ls_nmsgs &&
	    lx->lx_next - lx->lx_acked < CERT_WINDOW) {
		if (certloader_send_msg(id, lx) == -1) {
			if (!evtimer_pending(&ld.ld_ev_send, NULL))
				evtimer_add(&ld.ld_ev_send, &tv);
			return;
		}
		lx->lx_next++;
	}
	if (lx->lx_next > ld.ld_set->ls_nmsgs && lx->lx_acked == lx->lx_next)
		log_debug("worker %u has the certificate set", id);
}

static void
certloader_send_all(void)
{
	unsigned int	 i;

	for (i = 0; i < ld.ld_conf.workers && i < PORTERO_MAX_WORKERS; i++)
		certloader_send(i);
}

static void
certloader_send_timer(int fd, short event, void *arg)
{
	certloader_send_all();
}

/* A worker acknowledged messages of a transfer: its window moves on. */
static void
certloader_ack(uint32_t id, const struct imsg *imsg)
{
	struct ld_xfer	*lx = &ld.ld_xfer[id];
	struct cert_ack	 ca;

	if (config_getcertack(imsg, &ca) == -1)
		fatalx("bad certificate acknowledgement");
	if (ca.ca_transfer != lx->lx_transfer || ca.ca_count > lx->lx_next)
		return;		/* of a transfer given up, or a lie */
	if (ca.ca_count > lx->lx_acked)
		lx->lx_acked = ca.ca_count;
	certloader_send(id);
}

/*
 * A worker (re)started: what was in flight to its predecessor is lost,
 * and it needs the whole set.
 */
static void
certloader_resend(uint32_t id)
{
	struct ld_xfer	*lx = &ld.ld_xfer[id];

	lx->lx_acked = lx->lx_next;
	lx->lx_again = 1;
	certloader_send(id);
}

/*
 * porterod-ctl show certs: one record per domain, in sorted order,
 * then END.  The listing stops short, with END, rather than overflow
 * the write queue.
 */
static void
certloader_show(uint32_t peerid)
{
	struct ld_domain	*d;
	struct ctl_cert		 cc;
	const char		*dir = ld.ld_conf.cert_dir;
	char			 path[PATH_MAX];
	size_t			 need = 2 * (IMSG_HEADER_SIZE + sizeof(cc));

	RB_FOREACH(d, ld_domains, &ld.ld_domains) {
		if (need > IMSG_WQUEUE_MAX - imsgbuf_queued(&ld.ld_iev->ibuf)) {
			log_warnx("certificate listing cut short: the parent "
			    "is not reading");
			break;
		}
		memset(&cc, 0, sizeof(cc));
		(void)strlcpy(cc.cc_domain, d->d_domain, sizeof(cc.cc_domain));
		if (d->d_good != NULL) {
			certloader_show_names(d->d_good, cc.cc_names,
			    sizeof(cc.cc_names));
			cc.cc_not_after = d->d_good->cp_not_after;
		}
		/* a path too long for the record is shown cut */
		(void)snprintf(path, sizeof(path), "%s/%s/%s", dir, d->d_dir,
		    CERT_FILE);
		(void)strlcpy(cc.cc_cert_file, path, sizeof(cc.cc_cert_file));
		(void)snprintf(path, sizeof(path), "%s/%s/%s", dir, d->d_dir,
		    CERT_KEY_FILE);
		(void)strlcpy(cc.cc_key_file, path, sizeof(cc.cc_key_file));
		(void)strlcpy(cc.cc_state, d->d_good == NULL ? "error" :
		    d->d_error[0] != '\0' ? "stale" : "ok",
		    sizeof(cc.cc_state));
		(void)strlcpy(cc.cc_error, d->d_error, sizeof(cc.cc_error));
		if (d->d_ocsp.co_der != NULL)
			cc.cc_ocsp_until = d->d_ocsp.co_next;
		(void)strlcpy(cc.cc_ocsp_error, d->d_ocsp_error,
		    sizeof(cc.cc_ocsp_error));
		proc_compose_parent(IMSG_CTL_CERT, peerid, &cc, sizeof(cc));
	}
	proc_compose_parent(IMSG_CTL_END, peerid, NULL, 0);
}

/* A scrape's part: when each certificate in service expires. */
static void
certloader_metrics(uint32_t seq)
{
	struct ld_domain	*d;
	struct met_cert		 mc;

	RB_FOREACH(d, ld_domains, &ld.ld_domains) {
		if (d->d_good == NULL)
			continue;
		if (sizeof(mc) + IMSG_HEADER_SIZE > IMSG_WQUEUE_MAX / 2 -
		    imsgbuf_queued(&ld.ld_iev->ibuf)) {
			log_warnx("metrics: certificates cut short: the "
			    "parent is not reading");
			break;
		}
		memset(&mc, 0, sizeof(mc));
		mc.mc_not_after = d->d_good->cp_not_after;
		(void)strlcpy(mc.mc_name, d->d_domain, sizeof(mc.mc_name));
		proc_compose_parent(IMSG_MET_CERT, seq, &mc, sizeof(mc));
	}
	proc_compose_parent(IMSG_MET_END, seq, NULL, 0);
}

/* "a.example,b.example", cut at a name with ",..." if it is too long. */
static void
certloader_show_names(const struct cert_pair *cp, char *buf, size_t len)
{
	const char	*name;
	size_t		 off, used = 0, n;

	buf[0] = '\0';
	for (off = 0; off < cp->cp_nameslen; off += n + 1) {
		name = cp->cp_names + off;
		n = strlen(name);
		/* room for this name, a comma, and ",..." after it */
		if (used + (used > 0) + n + 4 + 1 > len) {
			(void)strlcat(buf, used > 0 ? ",..." : "...", len);
			return;
		}
		if (used > 0)
			(void)strlcat(buf, ",", len);
		(void)strlcat(buf, name, len);
		used = strlen(buf);
	}
}
