/*
 * regstore.c: the registry on disk, in the state directory: a snapshot
 * and a journal of the changes since, every line with its own hash,
 * written and fsync'd by a thread so the registrar never waits on disk.
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
 * The files.  "registry" is a snapshot: a header line naming its
 * generation, one "B" line per backend, an "end" line with the count.
 * "registry.journal" holds, after a header of the same generation, one
 * line per change since: "U" (added or refreshed) or "R" (removed).
 * Each line ends in the first 16 hex digits of the SHA-256 of what
 * precedes them, so a torn or altered line is seen.  A change is
 * durable once its line is written and the journal fsync'd; the 200
 * waits for that.  When the journal has grown past RS_COMPACT_MIN
 * lines and past the snapshot (so that rewriting a large registry costs
 * each change a bounded share, however large it is), a new snapshot is
 * written aside, fsync'd and renamed over the old one, the directory
 * fsync'd, and a new journal started the same way.  A journal whose
 * generation is not the snapshot's is older than it: ignored.
 *
 * The writer thread takes one job at a time (append, or compact) and
 * says when it is done through a pipe the event loop watches.  Jobs
 * queued meanwhile go out together: one write and one fsync for every
 * registration that came while the disk was busy.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "portero.h"

#define RS_SNAPSHOT		"registry"
#define RS_JOURNAL		"registry.journal"
#define RS_TMP_SUFFIX		".tmp"
#define RS_MAGIC_SNAPSHOT	"portero-registry 1"
#define RS_MAGIC_JOURNAL	"portero-journal 1"
#define RS_LINE_MAX		512
#define RS_CHECK_LEN		16	/* hex digits of the hash */
#define RS_COMPACT_MIN		1024	/* fewest journal lines to compact */
#define RS_RETRY_MS		1000	/* after a failed snapshot */

enum rs_job_kind {
	RS_JOB_NONE,
	RS_JOB_APPEND,
	RS_JOB_COMPACT
};

struct regstore {
	char		 rs_dir[CONF_PATH_MAX];	/* "" is the cwd */
	int		 rs_dirfd;
	int		 rs_journalfd;
	uint64_t	 rs_gen;
	unsigned int	 rs_jlines;	/* journal lines since the snapshot */
	size_t		 rs_snaplines;	/* lines of the snapshot */
	size_t		 rs_nextlines;	/* ... of the one being written */

	/* the thread's side, under rs_lock */
	pthread_t	 rs_thread;
	pthread_mutex_t	 rs_lock;
	pthread_cond_t	 rs_cond;
	enum rs_job_kind rs_job;
	char		*rs_jobbuf;
	size_t		 rs_joblen;
	int		 rs_joberr;
	int		 rs_notify[2];	/* thread -> loop */

	/* the loop's side */
	char		*rs_pend;	/* lines for the next append */
	size_t		 rs_pendlen;
	size_t		 rs_pendcap;
	int		 rs_busy;	/* a job is with the thread */
	enum rs_job_kind rs_busykind;
	int		 rs_compact;	/* compact next */
	struct timespec	 rs_failed;	/* when a snapshot last failed */
	struct event	 rs_ev;
	void		(*rs_done)(int, int, void *);
	void		*rs_arg;
};

static struct regstore	 rs;

static void	*regstore_thread(void *);
static void	 regstore_event(int, short, void *);

/* The check of a line's text: 16 hex digits of its SHA-256. */
static void
regstore_check(const char *text, size_t len, char *out)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	size_t		 i;

	SHA256((const unsigned char *)text, len, md);
	for (i = 0; i < RS_CHECK_LEN / 2; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* One line with its check and newline into buf; its length, or 0. */
static size_t
regstore_line(char *buf, size_t size, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 + RS_CHECK_LEN + 2 > size)
		return (0);
	buf[n] = ' ';
	regstore_check(buf, n, buf + n + 1);
	buf[n + 1 + RS_CHECK_LEN] = '\n';
	buf[n + 2 + RS_CHECK_LEN] = '\0';
	return (n + 2 + RS_CHECK_LEN);
}

/* A line read back: its text if the check holds, else NULL. */
static char *
regstore_verify(char *line)
{
	char	 check[RS_CHECK_LEN + 1];
	size_t	 len = strlen(line);

	if (len < RS_CHECK_LEN + 2 || line[len - 1] != '\n' ||
	    line[len - RS_CHECK_LEN - 2] != ' ')
		return (NULL);
	regstore_check(line, len - RS_CHECK_LEN - 2, check);
	if (memcmp(check, line + len - RS_CHECK_LEN - 1, RS_CHECK_LEN) != 0)
		return (NULL);
	line[len - RS_CHECK_LEN - 2] = '\0';
	return (line);
}

/* "<service> <host> <port> <tls> <expires>" into a record. */
static int
regstore_parse(char *s, struct reg_record *rr)
{
	char		*f[5], *last;
	const char	*errstr;
	int		 i;

	memset(rr, 0, sizeof(*rr));
	for (i = 0; i < 5; i++)
		if ((f[i] = strtok_r(i == 0 ? s : NULL, " ", &last)) == NULL)
			return (-1);
	if (strtok_r(NULL, " ", &last) != NULL ||
	    strlcpy(rr->rr_service, f[0], sizeof(rr->rr_service)) >=
	    sizeof(rr->rr_service) ||
	    strlcpy(rr->rr_host, f[1], sizeof(rr->rr_host)) >=
	    sizeof(rr->rr_host))
		return (-1);
	rr->rr_port = strtonum(f[2], 1, 65535, &errstr);
	if (errstr != NULL)
		return (-1);
	rr->rr_tls = strtonum(f[3], 0, 1, &errstr);
	if (errstr != NULL)
		return (-1);
	rr->rr_expires = strtonum(f[4], 0, INT64_MAX, &errstr);
	return (errstr == NULL ? 0 : -1);
}

/*
 * A file that cannot be trusted goes aside, named for when, so the
 * operator can look at it; the registry starts from what is left.
 */
static void
regstore_aside(const char *name, const char *why)
{
	char	 aside[64];

	(void)snprintf(aside, sizeof(aside), "%s.corrupt-%lld", name,
	    (long long)time(NULL));
	if (renameat(rs.rs_dirfd, name, rs.rs_dirfd, aside) == -1)
		log_warn("%s/%s: %s, and it cannot be moved aside", rs.rs_dir,
		    name, why);
	else
		log_warnx("%s/%s: %s; moved aside as %s", rs.rs_dir, name, why,
		    aside);
}

static FILE *
regstore_fopen(const char *name)
{
	FILE	*fp;
	int	 fd;

	if ((fd = openat(rs.rs_dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	if ((fp = fdopen(fd, "r")) == NULL)
		close(fd);
	return (fp);
}

/* The snapshot, whole or not at all; its generation in rs_gen. */
static int
regstore_load_snapshot(void (*each)(const struct reg_record *, int, void *),
    void *arg)
{
	struct reg_record	 rr;
	char			 line[RS_LINE_MAX], *text, *p;
	const char		*why = "not a registry snapshot";
	FILE			*fp;
	size_t			 n = 0, count = 0;
	struct reg_record	*recs = NULL, *nr;
	int			 end = 0;

	if ((fp = regstore_fopen(RS_SNAPSHOT)) == NULL)
		return (errno == ENOENT ? 0 : -1);
	if (fgets(line, sizeof(line), fp) == NULL ||
	    (text = regstore_verify(line)) == NULL ||
	    strncmp(text, RS_MAGIC_SNAPSHOT " ", sizeof(RS_MAGIC_SNAPSHOT)) !=
	    0 || sscanf(text + sizeof(RS_MAGIC_SNAPSHOT), "%" SCNu64,
	    &rs.rs_gen) != 1)
		goto bad;
	why = "damaged or cut short";
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (end || (text = regstore_verify(line)) == NULL)
			goto bad;
		if (strncmp(text, "end ", 4) == 0) {
			if (sscanf(text + 4, "%zu", &count) != 1 || count != n)
				goto bad;
			end = 1;
			continue;
		}
		p = text + 2;
		if (strncmp(text, "B ", 2) != 0 || regstore_parse(p, &rr) == -1)
			goto bad;
		if ((nr = reallocarray(recs, n + 1, sizeof(*recs))) == NULL)
			goto bad;
		recs = nr;
		recs[n++] = rr;
	}
	if (!end)
		goto bad;
	fclose(fp);
	for (count = 0; count < n; count++)
		each(&recs[count], 0, arg);
	free(recs);
	return (0);
 bad:
	fclose(fp);
	free(recs);
	rs.rs_gen = 0;
	regstore_aside(RS_SNAPSHOT, why);
	return (0);
}

/*
 * The journal's changes, in order.  Its last line may be torn (a write
 * never acknowledged): dropped quietly.  Any other bad line makes the
 * rest untrustworthy: what came before it stands, the file goes aside.
 */
static void
regstore_load_journal(void (*each)(const struct reg_record *, int, void *),
    void *arg)
{
	struct reg_record	 rr;
	char			 line[RS_LINE_MAX], *text;
	FILE			*fp;
	uint64_t		 gen;
	int			 bad = 0;

	if ((fp = regstore_fopen(RS_JOURNAL)) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) == NULL ||
	    (text = regstore_verify(line)) == NULL ||
	    strncmp(text, RS_MAGIC_JOURNAL " ", sizeof(RS_MAGIC_JOURNAL)) !=
	    0 || sscanf(text + sizeof(RS_MAGIC_JOURNAL), "%" SCNu64,
	    &gen) != 1) {
		fclose(fp);
		regstore_aside(RS_JOURNAL, "not a registry journal");
		return;
	}
	if (gen != rs.rs_gen && rs.rs_gen != 0) {
		fclose(fp);	/* older than the snapshot, which has it all */
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((text = regstore_verify(line)) == NULL ||
		    (text[0] != 'U' && text[0] != 'R') || text[1] != ' ' ||
		    regstore_parse(text + 2, &rr) == -1) {
			bad = !feof(fp) || line[strlen(line) - 1] == '\n';
			if (!bad)
				log_info("%s/%s: a last change cut short "
				    "(never acknowledged); dropped",
				    rs.rs_dir, RS_JOURNAL);
			break;
		}
		each(&rr, text[0] == 'R', arg);
		rs.rs_jlines++;
	}
	fclose(fp);
	if (bad)
		regstore_aside(RS_JOURNAL, "damaged");
}

/*
 * The store in dir, held open as dirfd (before the sandbox, so that
 * renames and the directory's fsync need no path).
 */
int
regstore_open(const char *dir, int dirfd)
{
	memset(&rs, 0, sizeof(rs));
	(void)strlcpy(rs.rs_dir, dir, sizeof(rs.rs_dir));
	rs.rs_dirfd = dirfd;
	rs.rs_journalfd = -1;
	rs.rs_notify[0] = rs.rs_notify[1] = -1;
	return (0);
}

/*
 * What is on disk: each(record, removal, arg) for every record, the
 * snapshot's then the journal's, in order.
 */
int
regstore_load(void (*each)(const struct reg_record *, int, void *),
    void *arg)
{
	if (regstore_load_snapshot(each, arg) == -1) {
		log_warn("%s/%s", rs.rs_dir, RS_SNAPSHOT);
		return (-1);
	}
	regstore_load_journal(each, arg);
	/* a fresh journal of this generation, appended to from now on */
	rs.rs_compact = 1;
	return (0);
}

/*
 * The writer, started inside the sandbox (threads are all it lets a
 * process start); done(error, compacted, arg) is called from the event
 * loop each time a job ends.
 */
int
regstore_start(void (*done)(int, int, void *), void *arg)
{
	int	 rc;

	rs.rs_done = done;
	rs.rs_arg = arg;
	if (pipe2(rs.rs_notify, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-1);
	if (pthread_mutex_init(&rs.rs_lock, NULL) != 0 ||
	    pthread_cond_init(&rs.rs_cond, NULL) != 0)
		return (-1);
	if ((rc = pthread_create(&rs.rs_thread, NULL, regstore_thread,
	    NULL)) != 0) {
		errno = rc;
		return (-1);
	}
	event_set(&rs.rs_ev, rs.rs_notify[0], EV_READ | EV_PERSIST,
	    regstore_event, NULL);
	event_add(&rs.rs_ev, NULL);
	return (0);
}

/* The line of a change, for regstore_append(). */
size_t
regstore_format(char *buf, size_t size, const struct reg_record *rr,
    int removal)
{
	return (regstore_line(buf, size, "%c %s %s %u %d %lld",
	    removal ? 'R' : 'U', rr->rr_service, rr->rr_host, rr->rr_port,
	    rr->rr_tls, (long long)rr->rr_expires));
}

/* A change for the next write; -1 when out of memory. */
int
regstore_append(const char *line, size_t len)
{
	char	*p;
	size_t	 cap;

	if (rs.rs_pendlen + len > rs.rs_pendcap) {
		cap = rs.rs_pendcap * 2 + len + 4096;
		if ((p = realloc(rs.rs_pend, cap)) == NULL)
			return (-1);
		rs.rs_pend = p;
		rs.rs_pendcap = cap;
	}
	memcpy(rs.rs_pend + rs.rs_pendlen, line, len);
	rs.rs_pendlen += len;
	return (0);
}

/* The thread's job, handed over; the loop hears of its end. */
static void
regstore_submit(enum rs_job_kind kind, char *buf, size_t len)
{
	pthread_mutex_lock(&rs.rs_lock);
	rs.rs_job = kind;
	rs.rs_jobbuf = buf;
	rs.rs_joblen = len;
	pthread_cond_signal(&rs.rs_cond);
	pthread_mutex_unlock(&rs.rs_lock);
	rs.rs_busy = 1;
	rs.rs_busykind = kind;
}

static size_t
regstore_lines(const char *buf, size_t len)
{
	const char	*p, *end = buf + len;
	size_t		 n = 0;

	for (p = buf; (p = memchr(p, '\n', end - p)) != NULL; p++)
		n++;
	return (n);
}

/*
 * Give the thread what waits, if it is free: a compaction when one is
 * due (snapshot made by the caller's snap()), else the pending changes
 * in one write.  Returns 1 if a job went, 0 if none could, -1 if the
 * pending changes were dropped: a snapshot failed less than
 * RS_RETRY_MS ago, and while the disk fails each change is refused at
 * once rather than retried in a loop.
 */
int
regstore_kick(size_t (*snap)(char **, uint64_t))
{
	struct timespec	 now, d;
	char		*buf;
	size_t		 len;

	if (rs.rs_busy)
		return (0);
	if (rs.rs_compact && timespecisset(&rs.rs_failed)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		timespecsub(&now, &rs.rs_failed, &d);
		if (d.tv_sec * 1000 + d.tv_nsec / 1000000 < RS_RETRY_MS) {
			if (rs.rs_pendlen == 0)
				return (0);
			freezero(rs.rs_pend, rs.rs_pendcap);
			rs.rs_pend = NULL;
			rs.rs_pendlen = rs.rs_pendcap = 0;
			return (-1);
		}
		timespecclear(&rs.rs_failed);
	}
	if (rs.rs_compact) {
		if ((len = snap(&buf, rs.rs_gen + 1)) == 0)
			return (0);
		rs.rs_nextlines = regstore_lines(buf, len);
		regstore_submit(RS_JOB_COMPACT, buf, len);
		return (1);
	}
	if (rs.rs_pendlen == 0)
		return (0);
	regstore_submit(RS_JOB_APPEND, rs.rs_pend, rs.rs_pendlen);
	rs.rs_pend = NULL;
	rs.rs_pendlen = rs.rs_pendcap = 0;
	return (1);
}

/* Whether changes wait for the disk now: they go with the next write. */
int
regstore_pending(void)
{
	return (rs.rs_pendlen > 0);
}

/* The snapshot's lines: header, one per backend, end. */
size_t
regstore_snapline(char *buf, size_t size, const struct reg_record *rr,
    uint64_t gen, size_t count, int which)
{
	switch (which) {
	case 0:
		return (regstore_line(buf, size, "%s %" PRIu64,
		    RS_MAGIC_SNAPSHOT, gen));
	case 1:
		return (regstore_line(buf, size, "B %s %s %u %d %lld",
		    rr->rr_service, rr->rr_host, rr->rr_port, rr->rr_tls,
		    (long long)rr->rr_expires));
	}
	return (regstore_line(buf, size, "end %zu", count));
}

static void
regstore_event(int fd, short event, void *arg)
{
	char	 c;
	int	 err, kind;

	while (read(fd, &c, 1) == 1)
		;
	pthread_mutex_lock(&rs.rs_lock);
	if (rs.rs_job != RS_JOB_NONE) {
		pthread_mutex_unlock(&rs.rs_lock);
		return;		/* not done yet */
	}
	err = rs.rs_joberr;
	pthread_mutex_unlock(&rs.rs_lock);
	if (!rs.rs_busy)
		return;
	rs.rs_busy = 0;
	kind = rs.rs_busykind;
	if (kind == RS_JOB_COMPACT && err == 0) {
		rs.rs_gen++;
		rs.rs_jlines = 0;
		rs.rs_snaplines = rs.rs_nextlines;
		rs.rs_compact = 0;
	} else if (kind == RS_JOB_COMPACT)
		clock_gettime(CLOCK_MONOTONIC, &rs.rs_failed);
	else if (err != 0)
		rs.rs_compact = 1;	/* what a failed fsync lost, unknown */
	else if (++rs.rs_jlines > RS_COMPACT_MIN &&
	    rs.rs_jlines > rs.rs_snaplines)
		rs.rs_compact = 1;
	rs.rs_done(err, kind == RS_JOB_COMPACT, rs.rs_arg);
}

/* write(2) until all of it went, or the error. */
static int
regstore_write(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= n;
	}
	return (0);
}

/*
 * A file made aside and put in place: write, fsync, rename, fsync the
 * directory, so that a crash leaves the old file or the new one.
 */
static int
regstore_replace(const char *name, const char *buf, size_t len)
{
	char	 tmp[64];
	int	 fd, saved;

	(void)snprintf(tmp, sizeof(tmp), "%s%s", name, RS_TMP_SUFFIX);
	if ((fd = openat(rs.rs_dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1)
		return (-1);
	if (regstore_write(fd, buf, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		(void)unlinkat(rs.rs_dirfd, tmp, 0);
		errno = saved;
		return (-1);
	}
	if (close(fd) == -1 ||
	    renameat(rs.rs_dirfd, tmp, rs.rs_dirfd, name) == -1 ||
	    fsync(rs.rs_dirfd) == -1)
		return (-1);
	return (0);
}

/* The writer's compaction: the new snapshot, then a new journal. */
static int
regstore_compact(const char *snap, size_t len)
{
	char	 hdr[RS_LINE_MAX];
	size_t	 n;

	if (regstore_replace(RS_SNAPSHOT, snap, len) == -1)
		return (-1);
	n = regstore_line(hdr, sizeof(hdr), "%s %" PRIu64, RS_MAGIC_JOURNAL,
	    rs.rs_gen + 1);
	if (regstore_replace(RS_JOURNAL, hdr, n) == -1)
		return (-1);
	if (rs.rs_journalfd != -1)
		close(rs.rs_journalfd);
	if ((rs.rs_journalfd = openat(rs.rs_dirfd, RS_JOURNAL, O_WRONLY |
	    O_APPEND | O_CLOEXEC)) == -1)
		return (-1);
	return (0);
}

/*
 * The thread: a job at a time, then a byte down the pipe.  An append
 * that fails leaves the journal as it was (cut back to its length
 * before), so what the registrar answered 503 for never comes back.
 */
static void *
regstore_thread(void *arg)
{
	enum rs_job_kind kind;
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 err;

	for (;;) {
		pthread_mutex_lock(&rs.rs_lock);
		while (rs.rs_job == RS_JOB_NONE || rs.rs_jobbuf == NULL)
			pthread_cond_wait(&rs.rs_cond, &rs.rs_lock);
		kind = rs.rs_job;
		buf = rs.rs_jobbuf;
		len = rs.rs_joblen;
		rs.rs_jobbuf = NULL;
		pthread_mutex_unlock(&rs.rs_lock);

		err = 0;
		if (kind == RS_JOB_COMPACT) {
			if (regstore_compact(buf, len) == -1)
				err = errno ? errno : EIO;
		} else if (rs.rs_journalfd == -1 ||
		    fstat(rs.rs_journalfd, &st) == -1)
			err = errno ? errno : EIO;
		else if (regstore_write(rs.rs_journalfd, buf, len) == -1 ||
		    fsync(rs.rs_journalfd) == -1) {
			err = errno ? errno : EIO;
			/* leave the journal as it was; if even that fails,
			 * the torn line is dropped when it is read back */
			if (ftruncate(rs.rs_journalfd, st.st_size) == -1)
				err = errno;
		}
		freezero(buf, len);

		pthread_mutex_lock(&rs.rs_lock);
		rs.rs_joberr = err;
		rs.rs_job = RS_JOB_NONE;
		pthread_mutex_unlock(&rs.rs_lock);
		while (write(rs.rs_notify[1], "", 1) == -1 && errno == EINTR)
			;
	}
	return (NULL);
}
