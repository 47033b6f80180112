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

/* A set that does not fit the write queue yet is tried again this soon. */
#define CL_SEND_RETRY_MS	100

/*
 * A domain: one folder of the certificate directory.  d_good is the
 * pair in service (or NULL); d_error the reason the folder's files are
 * not, as last logged ("" when they are fine).
 */
struct cl_domain {
	RB_ENTRY(cl_domain)	 d_entry;
	char			 d_domain[NAME_MAX_LEN];	/* the key */
	char			 d_dir[NAME_MAX_LEN];	/* folder name */
	unsigned int		 d_gen;		/* last scan that saw it */
	struct cert_stamp	 d_stamp[2];	/* d_good's files, as read */
	struct cert_pair	*d_good;
	char			 d_error[CERT_ERROR_LEN];
	char			 d_dup[NAME_MAX_LEN];	/* a second folder
							   for it, logged */
	unsigned int		 d_dupgen;
};
RB_HEAD(cl_domains, cl_domain);

struct certloader {
	struct portero_config	 cl_conf;
	int			 cl_sandboxed;
	struct imsgev		*cl_iev;
	char			 cl_root[CONF_PATH_MAX];	/* the cert dir
							   as we see it */
	struct cl_domains	 cl_domains;
	unsigned int		 cl_gen;
	int			 cl_scanned;
	int			 cl_changed;	/* the good set, this scan */
	char			 cl_direrr[CERT_ERROR_LEN];	/* logged */
	int			 cl_toomany;	/* logged */
	char			 cl_default[NAME_MAX_LEN];	/* logged */
	int			 cl_toobig;	/* logged */
	int			 cl_sendall;	/* a set for every worker */
	uint64_t		 cl_sendto;	/* workers waiting for one */
	struct event		 cl_ev_scan;
	struct event		 cl_ev_send;
};

/* This process's one certloader. */
static struct certloader	 cl;

static int	 cl_domain_cmp(struct cl_domain *, struct cl_domain *);
RB_PROTOTYPE(cl_domains, cl_domain, d_entry, cl_domain_cmp);

static void	 certloader_init(void);
static void	 certloader_dispatch_parent(struct imsg *);
static void	 certloader_scan(void);
static void	 certloader_scan_timer(int, short, void *);
static int	 certloader_list(DIR *, char ***, size_t *);
static void	 certloader_folder(int, const char *, time_t);
static void	 certloader_check(struct cl_domain *, int, const char *,
		    time_t);
static void	 certloader_error(struct cl_domain *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 certloader_fixed(struct cl_domain *, const char *);
static void	 certloader_domain_free(struct cl_domain *);
static size_t	 certloader_order(struct cl_domain **, size_t);
static void	 certloader_flush_soon(void);
static void	 certloader_flush(void);
static void	 certloader_send_timer(int, short, void *);
static int	 certloader_send_set(uint32_t);
static void	 certloader_send_pair(const struct cl_domain *, uint32_t);
static void	 certloader_show(uint32_t);
static void	 certloader_show_names(const struct cert_pair *, char *,
		    size_t);

void
certloader_main(void)
{
	RB_INIT(&cl.cl_domains);
	evtimer_set(&cl.cl_ev_scan, certloader_scan_timer, NULL);
	evtimer_set(&cl.cl_ev_send, certloader_send_timer, NULL);
	cl.cl_iev = proc_child_connect(certloader_dispatch_parent);
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
	const char	*dir = cl.cl_conf.cert_dir;
	int		 hasdir = dir[0] != '\0', chrooted;

	if (certs_init() == -1)
		fatalx("cannot initialise libcrypto");
	chrooted = proc_drop_privileges(&cl.cl_conf,
	    hasdir ? dir : cl.cl_conf.chroot_dir);
	if (strlcpy(cl.cl_root, chrooted ? "/" : dir, sizeof(cl.cl_root)) >=
	    sizeof(cl.cl_root))
		fatalx("certificate directory name too long");
	if (hasdir && sandbox_unveil(cl.cl_root, UNVEIL_CERTLOADER) == -1)
		fatal("unveil %s", dir);
	if (sandbox_unveil(NULL, NULL) == -1)
		fatal("unveil");
	proc_sandbox(hasdir ? PROMISES_CERTLOADER : "stdio");
	cl.cl_sandboxed = 1;
}

static void
certloader_dispatch_parent(struct imsg *imsg)
{
	uint32_t	 id = imsg->hdr.peerid;

	if (proc_child_common(imsg, &cl.cl_conf))
		return;
	switch (imsg->hdr.type) {
	case IMSG_CFG_DONE:
		if (!cl.cl_sandboxed) {
			certloader_init();
			certloader_scan();
		}
		proc_compose_parent(IMSG_CFG_DONE, 0, NULL, 0);
		break;
	case IMSG_START:
		break;
	case IMSG_RELOAD:
		log_debug("rescan requested");
		if (cl.cl_sandboxed)
			certloader_scan();
		break;
	case IMSG_CERT_RESEND:
		if (id >= PORTERO_MAX_WORKERS)
			fatalx("certificates asked for worker %u", id);
		cl.cl_sendto |= 1ULL << id;
		certloader_flush_soon();
		break;
	case IMSG_CTL_SHOW_CERTS:
		certloader_show(id);
		break;
	case IMSG_SHUTDOWN:
		exit(0);
	default:
		fatalx("unexpected message %u from the parent",
		    imsg->hdr.type);
	}
}

static int
cl_domain_cmp(struct cl_domain *a, struct cl_domain *b)
{
	return (strcmp(a->d_domain, b->d_domain));
}

RB_GENERATE(cl_domains, cl_domain, d_entry, cl_domain_cmp);

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
	struct cl_domain	*d, *next;
	struct timeval		 tv;
	DIR			*dir = NULL;
	char			 err[CERT_ERROR_LEN];
	char			**names = NULL;
	size_t			 i, n = 0;
	time_t			 now;

	evtimer_del(&cl.cl_ev_scan);
	if (cl.cl_conf.cert_dir[0] == '\0')
		goto done;	/* no certificates, ever: an empty set */

	if ((dir = opendir(cl.cl_root)) == NULL ||
	    certloader_list(dir, &names, &n) == -1) {
		(void)snprintf(err, sizeof(err), "%s: %s; keeping the "
		    "certificates in service", cl.cl_conf.cert_dir,
		    strerror(errno));
		if (strcmp(err, cl.cl_direrr) != 0)
			log_warnx("%s", err);
		(void)strlcpy(cl.cl_direrr, err, sizeof(cl.cl_direrr));
		goto done;
	}
	if (cl.cl_direrr[0] != '\0')
		log_info("%s: readable again", cl.cl_conf.cert_dir);
	cl.cl_direrr[0] = '\0';

	cl.cl_gen++;
	cl.cl_changed = 0;
	now = time(NULL);
	for (i = 0; i < n; i++)
		certloader_folder(dirfd(dir), names[i], now);

	RB_FOREACH_SAFE(d, cl_domains, &cl.cl_domains, next) {
		if (d->d_dupgen != cl.cl_gen)
			d->d_dup[0] = '\0';
		if (d->d_gen == cl.cl_gen)
			continue;
		if (d->d_good != NULL) {
			log_info("%s/%s: folder gone; %s out of service",
			    cl.cl_conf.cert_dir, d->d_dir, d->d_domain);
			cl.cl_changed = 1;
		}
		RB_REMOVE(cl_domains, &cl.cl_domains, d);
		certloader_domain_free(d);
	}
	if (cl.cl_changed)
		cl.cl_sendall = 1;
 done:
	/* the first scan tells the workers what there is, even nothing */
	if (!cl.cl_scanned)
		cl.cl_sendall = 1;
	cl.cl_scanned = 1;
	certloader_flush_soon();
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (dir != NULL)
		closedir(dir);
	if (cl.cl_conf.cert_dir[0] != '\0' &&
	    cl.cl_conf.cert_scan_interval > 0) {
		tv.tv_sec = cl.cl_conf.cert_scan_interval;
		tv.tv_usec = 0;
		evtimer_add(&cl.cl_ev_scan, &tv);
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
			if (!cl.cl_toomany)
				log_warnx("%s: more than %d entries; the rest "
				    "are ignored", cl.cl_conf.cert_dir,
				    CERT_MAX_DOMAINS);
			cl.cl_toomany = 1;
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
		cl.cl_toomany = 0;
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
	struct cl_domain	 key, *d;
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
	if ((d = RB_FIND(cl_domains, &cl.cl_domains, &key)) == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL) {
			log_warn("%s", name);
			return;
		}
		memcpy(d->d_domain, key.d_domain, sizeof(d->d_domain));
		(void)strlcpy(d->d_dir, name, sizeof(d->d_dir));
		RB_INSERT(cl_domains, &cl.cl_domains, d);
	} else if (d->d_gen == cl.cl_gen) {
		/* "_wildcard.x" and "*.x": the first in sorted order wins */
		if (strcmp(d->d_dup, name) != 0)
			log_warnx("%s/%s: the same domain as %s/%s; ignored",
			    cl.cl_conf.cert_dir, name, cl.cl_conf.cert_dir,
			    d->d_dir);
		(void)strlcpy(d->d_dup, name, sizeof(d->d_dup));
		d->d_dupgen = cl.cl_gen;
		return;
	} else if (strcmp(d->d_dir, name) != 0) {
		/* another folder now: read it whatever its stamps */
		(void)strlcpy(d->d_dir, name, sizeof(d->d_dir));
		memset(d->d_stamp, 0, sizeof(d->d_stamp));
	}
	d->d_gen = cl.cl_gen;

	(void)snprintf(path, sizeof(path), "%s/%s", cl.cl_conf.cert_dir,
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
certloader_check(struct cl_domain *d, int rootfd, const char *path,
    time_t now)
{
	struct cert_pair	*cp = NULL;
	struct cert_stamp	 cs[2];
	char			 err[CERT_ERROR_LEN], when[32];
	int			 fd;

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
	cl.cl_changed = 1;
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
	close(fd);
}

/* One line per new error: a scan that finds the same says nothing. */
static void
certloader_error(struct cl_domain *d, const char *fmt, ...)
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
certloader_fixed(struct cl_domain *d, const char *path)
{
	if (d->d_error[0] == '\0')
		return;
	log_info("%s: files good again", path);
	d->d_error[0] = '\0';
}

static void
certloader_domain_free(struct cl_domain *d)
{
	if (d->d_good != NULL) {
		certs_pair_free(d->d_good);
		free(d->d_good);
	}
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
certloader_order(struct cl_domain **v, size_t max)
{
	struct cl_domain	*d, *def = NULL;
	const char		*sni = cl.cl_conf.default_sni;
	size_t			 n = 0;
	int			 wild;

	RB_FOREACH(d, cl_domains, &cl.cl_domains)
		if (d->d_good != NULL && sni[0] != '\0' &&
		    strcasecmp(d->d_domain, sni) == 0)
			def = d;
	RB_FOREACH(d, cl_domains, &cl.cl_domains)
		if (def == NULL && d->d_good != NULL && sni[0] != '\0' &&
		    certs_names_cover(d->d_good->cp_names,
		    d->d_good->cp_nameslen, sni, strlen(sni)))
			def = d;
	if (def == NULL) {
		RB_FOREACH(d, cl_domains, &cl.cl_domains)
			if (d->d_good != NULL)
				break;
		if (d != NULL && sni[0] != '\0' &&
		    strcmp(cl.cl_default, d->d_domain) != 0)
			log_warnx("--default-sni %s: no certificate for it; "
			    "%s is the default", sni, d->d_domain);
		def = d;
	}
	if (def == NULL)
		return (0);
	if (strcmp(cl.cl_default, def->d_domain) != 0)
		log_info("default certificate: %s", def->d_domain);
	(void)strlcpy(cl.cl_default, def->d_domain, sizeof(cl.cl_default));

	v[n++] = def;
	for (wild = 0; wild <= 1; wild++)
		RB_FOREACH(d, cl_domains, &cl.cl_domains) {
			if (d->d_good == NULL || d == def || n >= max ||
			    (d->d_domain[0] == '*') != wild)
				continue;
			v[n++] = d;
		}
	return (n);
}

/*
 * Sets go out once the messages already read are handled: at start the
 * parent's CERT_RESENDs for new workers come right behind CFG_DONE, and
 * a set for every worker, queued after them, covers them all.
 */
static void
certloader_flush_soon(void)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(&cl.cl_ev_send, NULL))
		evtimer_add(&cl.cl_ev_send, &tv);
}

/*
 * Send the sets that are due: one for every worker after a change, one
 * for each worker that (re)started.  A set for every worker covers the
 * workers that asked before it was queued: the parent started them
 * before it reads the set, so it relays the set to them too.  A set
 * that does not fit the write queue now waits for it to drain.
 */
static void
certloader_flush(void)
{
	struct timeval	 tv;
	unsigned int	 i;

	if (!cl.cl_scanned)
		return;		/* the first scan sends to all */
	if (cl.cl_sendall) {
		if (certloader_send_set(PEERID_ALL) == -1)
			goto later;
		cl.cl_sendall = 0;
		cl.cl_sendto = 0;
	}
	for (i = 0; i < PORTERO_MAX_WORKERS; i++) {
		if ((cl.cl_sendto & (1ULL << i)) == 0)
			continue;
		if (certloader_send_set(i) == -1)
			goto later;
		cl.cl_sendto &= ~(1ULL << i);
	}
	return;
 later:
	tv.tv_sec = 0;
	tv.tv_usec = CL_SEND_RETRY_MS * 1000;
	evtimer_add(&cl.cl_ev_send, &tv);
}

static void
certloader_send_timer(int fd, short event, void *arg)
{
	certloader_flush();
}

/*
 * The whole good set, to peerid: CERT_ADD and CERT_DATA per domain,
 * then CERT_END.  It must be queued whole or not at all, so it has to
 * fit the bounded write queue (IMSG_WQUEUE_MAX): -1 if it does not fit
 * now.  A set larger than the bound could never be sent: for now it is
 * not, with one line in the log, and the workers keep what they have.
 */
static int
certloader_send_set(uint32_t peerid)
{
	struct cl_domain	**v = NULL;
	struct cert_pair	*cp;
	size_t			 i, n = 0, total, data, chunks;

	if ((v = calloc(CERT_MAX_DOMAINS, sizeof(*v))) == NULL) {
		log_warn("certificate set");
		return (-1);
	}
	if (cl.cl_conf.cert_dir[0] != '\0')
		n = certloader_order(v, CERT_MAX_DOMAINS);

	total = IMSG_HEADER_SIZE;
	for (i = 0; i < n; i++) {
		cp = v[i]->d_good;
		data = cp->cp_nameslen + cp->cp_certlen + cp->cp_keylen;
		chunks = (data + IMSG_MAX_PAYLOAD - 1) / IMSG_MAX_PAYLOAD;
		total += IMSG_HEADER_SIZE + sizeof(struct cert_msg) +
		    chunks * IMSG_HEADER_SIZE + data;
	}
	if (total > IMSG_WQUEUE_MAX) {
		if (!cl.cl_toobig)
			log_warnx("the certificate set (%zu domains, %zu "
			    "bytes) exceeds the %d-byte message queue; the "
			    "workers keep their certificates", n, total,
			    IMSG_WQUEUE_MAX);
		cl.cl_toobig = 1;
		free(v);
		return (0);
	}
	cl.cl_toobig = 0;
	if (total > IMSG_WQUEUE_MAX - imsgbuf_queued(&cl.cl_iev->ibuf)) {
		free(v);
		return (-1);
	}

	for (i = 0; i < n; i++)
		certloader_send_pair(v[i], peerid);
	if (imsgbuf_compose(&cl.cl_iev->ibuf, IMSG_CERT_END, peerid, 0, -1,
	    NULL, 0) == -1)
		fatal("send certificates");
	imsgev_add(cl.cl_iev);
	if (peerid == PEERID_ALL)
		log_debug("sent %zu certificates to every worker", n);
	else
		log_debug("sent %zu certificates to worker %u", n, peerid);
	free(v);
	return (0);
}

/* One pair: its header, then names, cert and key in full messages. */
static void
certloader_send_pair(const struct cl_domain *d, uint32_t peerid)
{
	const struct cert_pair	*cp = d->d_good;
	struct cert_msg		 cm;
	struct iovec		 part[3], iov[3];
	size_t			 p = 0, off = 0, room, len;
	int			 niov;

	memset(&cm, 0, sizeof(cm));
	(void)strlcpy(cm.cm_domain, d->d_domain, sizeof(cm.cm_domain));
	cm.cm_names_len = cp->cp_nameslen;
	cm.cm_cert_len = cp->cp_certlen;
	cm.cm_key_len = cp->cp_keylen;
	if (imsgbuf_compose(&cl.cl_iev->ibuf, IMSG_CERT_ADD, peerid, 0, -1,
	    &cm, sizeof(cm)) == -1)
		fatal("send certificates");

	part[0].iov_base = cp->cp_names;
	part[0].iov_len = cp->cp_nameslen;
	part[1].iov_base = cp->cp_cert;
	part[1].iov_len = cp->cp_certlen;
	part[2].iov_base = cp->cp_key;
	part[2].iov_len = cp->cp_keylen;
	while (p < 3) {
		niov = 0;
		for (room = IMSG_MAX_PAYLOAD; p < 3 && room > 0; room -= len) {
			len = part[p].iov_len - off;
			if (len > room)
				len = room;
			iov[niov].iov_base = (char *)part[p].iov_base + off;
			iov[niov].iov_len = len;
			niov++;
			if ((off += len) == part[p].iov_len) {
				p++;
				off = 0;
			}
		}
		if (imsgbuf_composev(&cl.cl_iev->ibuf, IMSG_CERT_DATA, peerid,
		    0, -1, iov, niov) == -1)
			fatal("send certificates");
	}
}

/*
 * porterod-ctl show certs: one record per domain, in sorted order,
 * then END.  The listing stops short, with END, rather than overflow
 * the write queue.
 */
static void
certloader_show(uint32_t peerid)
{
	struct cl_domain	*d;
	struct ctl_cert		 cc;
	const char		*dir = cl.cl_conf.cert_dir;
	char			 path[PATH_MAX];
	size_t			 need = 2 * (IMSG_HEADER_SIZE + sizeof(cc));

	RB_FOREACH(d, cl_domains, &cl.cl_domains) {
		if (need > IMSG_WQUEUE_MAX - imsgbuf_queued(&cl.cl_iev->ibuf)) {
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
		proc_compose_parent(IMSG_CTL_CERT, peerid, &cc, sizeof(cc));
	}
	proc_compose_parent(IMSG_CTL_END, peerid, NULL, 0);
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
