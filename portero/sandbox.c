/*
 * sandbox.c: pledge(2)/unveil(2) for every process: the real calls on
 * OpenBSD, rebuilt from Landlock and seccomp on Linux, nothing elsewhere.
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

#ifdef __linux__
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <seccomp.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Promises, as bits. */
#define PROMISE_STDIO		0x0001
#define PROMISE_RPATH		0x0002
#define PROMISE_WPATH		0x0004
#define PROMISE_CPATH		0x0008
#define PROMISE_INET		0x0010
#define PROMISE_UNIX		0x0020
#define PROMISE_RECVFD		0x0040
#define PROMISE_SENDFD		0x0080

/* unveil permissions, as bits. */
#define UNVEIL_READ		0x01
#define UNVEIL_WRITE		0x02
#define UNVEIL_CREATE		0x04

static const struct {
	const char	*name;
	unsigned int	 bit;
} sandbox_promises[] = {
	{ "stdio",	PROMISE_STDIO },
	{ "rpath",	PROMISE_RPATH },
	{ "wpath",	PROMISE_WPATH },
	{ "cpath",	PROMISE_CPATH },
	{ "inet",	PROMISE_INET },
	{ "unix",	PROMISE_UNIX },
	{ "recvfd",	PROMISE_RECVFD },
	{ "sendfd",	PROMISE_SENDFD },
};

static int	 sandbox_parse_promises(const char *, unsigned int *);
static int	 sandbox_parse_perms(const char *, unsigned int *);

#if defined(__OpenBSD__) || defined(__linux__)
#define SANDBOX_DESC_NONE	"none"
#else
#define SANDBOX_DESC_NONE	"none (no sandbox on this system)"
#endif

static int	 sandbox_locked;	/* unveil(NULL, NULL) was called */
static char	 sandbox_desc[64] = SANDBOX_DESC_NONE;

/*
 * Promises are words from the table above, separated by spaces; anything
 * else is refused so that a typo never silently widens or narrows a
 * process.
 */
static int
sandbox_parse_promises(const char *promises, unsigned int *bits)
{
	const char	*p;
	size_t		 len, i;

	if (promises == NULL) {
		errno = EINVAL;
		return (-1);
	}
	*bits = 0;
	for (p = promises; *p != '\0'; p += len) {
		p += strspn(p, " ");
		if ((len = strcspn(p, " ")) == 0)
			break;
		for (i = 0; i < NITEMS(sandbox_promises); i++) {
			if (strlen(sandbox_promises[i].name) == len &&
			    strncmp(sandbox_promises[i].name, p, len) == 0)
				break;
		}
		if (i == NITEMS(sandbox_promises)) {
			errno = EINVAL;
			return (-1);
		}
		*bits |= sandbox_promises[i].bit;
	}
	return (0);
}

/* "x" is refused: no portero process ever executes a file. */
static int
sandbox_parse_perms(const char *perms, unsigned int *bits)
{
	const char	*p;

	*bits = 0;
	for (p = perms; *p != '\0'; p++) {
		switch (*p) {
		case 'r':
			*bits |= UNVEIL_READ;
			break;
		case 'w':
			*bits |= UNVEIL_WRITE;
			break;
		case 'c':
			*bits |= UNVEIL_CREATE;
			break;
		default:
			errno = EINVAL;
			return (-1);
		}
	}
	return (0);
}

#ifdef __OpenBSD__

static int	 sandbox_unveiled;

int
sandbox_unveil(const char *path, const char *perms)
{
	unsigned int	 bits;

	if (path == NULL && perms == NULL) {
		if (unveil(NULL, NULL) == -1)
			return (-1);
		sandbox_locked = 1;
		sandbox_unveiled = 1;
		return (0);
	}
	if (path == NULL || perms == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (sandbox_locked) {
		errno = EPERM;
		return (-1);
	}
	if (sandbox_parse_perms(perms, &bits) == -1)
		return (-1);
	if (unveil(path, perms) == -1)
		return (-1);
	sandbox_unveiled = 1;
	return (0);
}

int
sandbox_pledge(const char *promises)
{
	unsigned int	 bits;

	if (sandbox_parse_promises(promises, &bits) == -1)
		return (-1);
	if (pledge(promises, NULL) == -1)
		return (-1);
	(void)strlcpy(sandbox_desc, sandbox_unveiled ? "pledge, unveil" :
	    "pledge", sizeof(sandbox_desc));
	return (0);
}

#elif defined(__linux__)

/*
 * Linux.  unveil() records each path, opened with O_PATH at once so that
 * the caller's view of the file system (after chroot) is the one that
 * counts; pledge() turns the records into one Landlock layer, then loads a
 * seccomp filter made of the promises.  Both apply to the calling thread
 * (TSYNC spreads seccomp to others): every portero process is single
 * threaded when it sandboxes itself.
 */

#define SANDBOX_MAX_UNVEIL	8

/* The highest Landlock ABI whose rights this file knows. */
#define SANDBOX_LANDLOCK_ABI	7

/* Debian 12's <linux/landlock.h> stops at ABI 2. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER		(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE		(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV		(1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP		(1ULL << 0)
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP		(1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)
#endif

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	__NR_landlock_create_ruleset
#define SYS_landlock_add_rule		__NR_landlock_add_rule
#define SYS_landlock_restrict_self	__NR_landlock_restrict_self
#endif

/* Every file system right of ABI 1. */
#define LL_FS_ABI1	(LANDLOCK_ACCESS_FS_EXECUTE | \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
	LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

/*
 * What each unveil permission grants beneath its path:
 *   r  read files and list directories;
 *   w  write and truncate files (O_TRUNC and ftruncate need TRUNCATE);
 *   c  make and remove regular files and directories, and REFER so that
 *      rename(2) may move a file between directories of the tree.
 * Never granted: EXECUTE, device/socket/fifo/symlink creation, IOCTL_DEV.
 * Only r and w mean anything on a path that is not a directory, since
 * Landlock refuses directory rights there.  Unlike unveil(2), where the
 * nearest unveiled path decides, Landlock adds up the rules along a path:
 * a directory beneath another unveiled one gets both sets of rights.
 * portero never unveils one path beneath another.
 */
#define LL_PERM_READ	(LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_PERM_WRITE	(LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_TRUNCATE)
#define LL_PERM_CREATE	(LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REFER)
#define LL_FILE_ONLY	(LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/*
 * struct landlock_ruleset_attr as of ABI 6; its size tells the kernel
 * which members we fill.
 */
struct sandbox_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;	/* ABI 4 */
	uint64_t	 scoped;		/* ABI 6 */
};

struct sandbox_path {
	int		 sp_fd;		/* O_PATH */
	unsigned int	 sp_perms;	/* UNVEIL_* */
	int		 sp_isdir;
	dev_t		 sp_dev;
	ino_t		 sp_ino;
};

static struct sandbox_path sandbox_paths[SANDBOX_MAX_UNVEIL];
static int	 sandbox_npaths;
static int	 sandbox_pledged;	/* Landlock is applied once */
static int	 sandbox_landlock_abi;	/* 0: no Landlock layer */
static int	 sandbox_seccomp;	/* a filter is loaded */

static uint64_t	 sandbox_landlock_handled(int);
static uint64_t	 sandbox_landlock_rights(int, unsigned int, int);
static int	 sandbox_landlock(unsigned int);
static int	 sandbox_open_allowed(unsigned int, unsigned int);
static int	 sandbox_rule(scmp_filter_ctx, uint32_t, int);
static int	 sandbox_rule_arg(scmp_filter_ctx, uint32_t, int, unsigned int,
		    enum scmp_compare, scmp_datum_t, scmp_datum_t);
static int	 sandbox_allow_list(scmp_filter_ctx, const int *, size_t);
static int	 sandbox_seccomp_rules(scmp_filter_ctx, unsigned int);
static int	 sandbox_seccomp_load(unsigned int);
static void	 sandbox_close_paths(void);

int
sandbox_unveil(const char *path, const char *perms)
{
	struct sandbox_path	*sp;
	struct stat		 st;
	unsigned int		 bits;
	int			 fd, i, saved;

	if (path == NULL && perms == NULL) {
		sandbox_locked = 1;
		return (0);
	}
	if (path == NULL || perms == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (sandbox_locked || sandbox_pledged) {
		errno = EPERM;
		return (-1);
	}
	if (sandbox_parse_perms(perms, &bits) == -1)
		return (-1);

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}

	/* As with unveil(2), naming a path again replaces its permissions. */
	for (i = 0; i < sandbox_npaths; i++) {
		sp = &sandbox_paths[i];
		if (sp->sp_dev == st.st_dev && sp->sp_ino == st.st_ino) {
			sp->sp_perms = bits;
			close(fd);
			return (0);
		}
	}
	if (sandbox_npaths == SANDBOX_MAX_UNVEIL) {
		close(fd);
		errno = E2BIG;
		return (-1);
	}
	sp = &sandbox_paths[sandbox_npaths++];
	sp->sp_fd = fd;
	sp->sp_perms = bits;
	sp->sp_isdir = S_ISDIR(st.st_mode);
	sp->sp_dev = st.st_dev;
	sp->sp_ino = st.st_ino;
	return (0);
}

int
sandbox_pledge(const char *promises)
{
	unsigned int	 bits;

	if (sandbox_parse_promises(promises, &bits) == -1)
		return (-1);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return (-1);

	/*
	 * Landlock first: once seccomp is loaded its system calls are gone.
	 * A later pledge adds only a seccomp layer: filters stack and the
	 * strictest answer wins, so promises can shrink but never grow.
	 */
	if (!sandbox_pledged) {
		if (sandbox_landlock(bits) == -1)
			return (-1);
		sandbox_pledged = 1;
		sandbox_locked = 1;
		sandbox_close_paths();
	}

	if (sandbox_seccomp_load(bits) == -1)
		return (-1);
	sandbox_seccomp = 1;
	return (0);
}

static void
sandbox_close_paths(void)
{
	int	 i;

	/* The ruleset holds its own references to the inodes. */
	for (i = 0; i < sandbox_npaths; i++) {
		close(sandbox_paths[i].sp_fd);
		sandbox_paths[i].sp_fd = -1;
	}
}

static uint64_t
sandbox_landlock_handled(int abi)
{
	uint64_t	 handled = LL_FS_ABI1;

	if (abi >= 2)
		handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		handled |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return (handled);
}

static uint64_t
sandbox_landlock_rights(int abi, unsigned int perms, int isdir)
{
	uint64_t	 rights = 0;

	if (perms & UNVEIL_READ)
		rights |= LL_PERM_READ;
	if (perms & UNVEIL_WRITE)
		rights |= LL_PERM_WRITE;
	if (perms & UNVEIL_CREATE)
		rights |= LL_PERM_CREATE;
	if (!isdir)
		rights &= LL_FILE_ONLY;
	return (rights & sandbox_landlock_handled(abi));
}

/*
 * One Landlock layer: every file system right the running ABI knows is
 * handled, so with no unveiled path every open(2) fails with EACCES while
 * descriptors opened before keep working.  TCP bind is always handled with
 * no rule (listeners come from the parent); TCP connect too unless "inet"
 * was promised.  Signals and abstract unix sockets are scoped to the
 * process.  An ABI newer than SANDBOX_LANDLOCK_ABI is used as that one:
 * rights this file does not know of stay unhandled.
 */
static int
sandbox_landlock(unsigned int promises)
{
	static int			 warned;
	struct sandbox_ruleset_attr	 attr;
	struct landlock_path_beneath_attr pb;
	struct sandbox_path		*sp;
	size_t				 size;
	long				 abi;
	int				 rfd, i, saved;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi == -1) {
		if (errno != ENOSYS && errno != EOPNOTSUPP)
			return (-1);
		if (!warned)
			log_warnx("landlock unavailable (%s): seccomp alone "
			    "confines the file system", strerror(errno));
		warned = 1;
		return (0);
	}
	if (abi > SANDBOX_LANDLOCK_ABI)
		abi = SANDBOX_LANDLOCK_ABI;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = sandbox_landlock_handled(abi);
	size = offsetof(struct sandbox_ruleset_attr, handled_access_net);
	if (abi >= 4) {
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP;
		if ((promises & PROMISE_INET) == 0)
			attr.handled_access_net |=
			    LANDLOCK_ACCESS_NET_CONNECT_TCP;
		size = offsetof(struct sandbox_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if ((rfd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) == -1)
		return (-1);

	for (i = 0; i < sandbox_npaths; i++) {
		sp = &sandbox_paths[i];
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = sandbox_landlock_rights(abi, sp->sp_perms,
		    sp->sp_isdir);
		pb.parent_fd = sp->sp_fd;
		/* unveil(path, "") hides the path: no rule does that. */
		if (pb.allowed_access == 0)
			continue;
		if (syscall(SYS_landlock_add_rule, rfd,
		    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
			goto fail;
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		goto fail;
	close(rfd);
	sandbox_landlock_abi = abi;
	return (0);

 fail:
	saved = errno;
	close(rfd);
	errno = saved;
	return (-1);
}

/* Kinds of open(2), told apart by these flag bits. */
#define OPEN_TMPFILE	(O_TMPFILE & ~O_DIRECTORY)
#define OPEN_MASK	(O_ACCMODE | O_CREAT | O_TRUNC | OPEN_TMPFILE)

/*
 * Reading needs rpath, writing or truncating wpath, creating cpath, as
 * with pledge(2).  O_PATH descriptors count as reads.
 */
static int
sandbox_open_allowed(unsigned int promises, unsigned int flags)
{
	unsigned int	 acc = flags & O_ACCMODE;

	if (acc == O_ACCMODE)
		return (0);
	if ((acc == O_RDONLY || acc == O_RDWR) &&
	    (promises & PROMISE_RPATH) == 0)
		return (0);
	if ((acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC)) &&
	    (promises & PROMISE_WPATH) == 0)
		return (0);
	if ((flags & (O_CREAT | OPEN_TMPFILE)) &&
	    (promises & PROMISE_CPATH) == 0)
		return (0);
	return (1);
}

static int
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int nr)
{
	int	 rc;

	/*
	 * seccomp_rule_add_array(), not the _exact form: a call the native
	 * architecture lacks (open(2) on arm64) is skipped, not an error.
	 */
	if ((rc = seccomp_rule_add_array(ctx, action, nr, 0, NULL)) < 0) {
		errno = -rc;
		return (-1);
	}
	return (0);
}

/*
 * One rule with one argument test: op is SCMP_CMP_EQ (arg == a) or
 * SCMP_CMP_MASKED_EQ ((arg & a) == b).
 */
static int
sandbox_rule_arg(scmp_filter_ctx ctx, uint32_t action, int nr,
    unsigned int arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp	 cmp;
	int			 rc;

	memset(&cmp, 0, sizeof(cmp));
	cmp.arg = arg;
	cmp.op = op;
	cmp.datum_a = a;
	cmp.datum_b = b;
	if ((rc = seccomp_rule_add_array(ctx, action, nr, 1, &cmp)) < 0) {
		errno = -rc;
		return (-1);
	}
	return (0);
}

static int
sandbox_allow_list(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (sandbox_rule(ctx, SCMP_ACT_ALLOW, nrs[i]) == -1)
			return (-1);
	return (0);
}

/* Allowed even by pledge(""): a process may always leave. */
static const int sc_always[] = {
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall),
};

/*
 * What a libevent + libtls + glibc process calls after start-up on
 * descriptors it already holds.  recvmsg/sendmsg are here, so "recvfd"
 * and "sendfd" add nothing on Linux: seccomp cannot see SCM_RIGHTS.
 */
static const int sc_stdio[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(close),
	SCMP_SYS(fstat), SCMP_SYS(lseek), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(futex), SCMP_SYS(membarrier), SCMP_SYS(rseq),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(getpid), SCMP_SYS(getppid), SCMP_SYS(gettid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(getrandom),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(pipe),
	SCMP_SYS(pipe2),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(uname), SCMP_SYS(sysinfo), SCMP_SYS(getrlimit),
};

/*
 * fcntl(2) commands on one's own descriptors.  F_SETOWN, F_SETSIG,
 * F_SETLEASE and F_NOTIFY are left out: they aim signals at other
 * processes, which kill(2) is not allowed to do either.
 */
static const int sc_fcntl_cmds[] = {
	F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
	F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
};

/* Path lookups that only read: allowed by rpath, refused softly without. */
static const int sc_rpath_lookup[] = {
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
};

static const int sc_rpath[] = {
	SCMP_SYS(getdents64), SCMP_SYS(getdents), SCMP_SYS(getcwd),
};

static const int sc_wpath[] = {
	SCMP_SYS(ftruncate),
};

static const int sc_cpath[] = {
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(rmdir), SCMP_SYS(fchmod),
};

static const int sc_net[] = {
	SCMP_SYS(connect), SCMP_SYS(accept), SCMP_SYS(accept4),
	SCMP_SYS(setsockopt),
};

static int
sandbox_seccomp_rules(scmp_filter_ctx ctx, unsigned int p)
{
	struct scmp_arg_cmp	 cmp[2];
	uint32_t		 eacces = SCMP_ACT_ERRNO(EACCES);
	uint32_t		 act;
	unsigned int		 flags;
	size_t			 i;
	int			 anypath, rc;
	pid_t			 pid = getpid();

	if (sandbox_allow_list(ctx, sc_always, NITEMS(sc_always)) == -1)
		return (-1);

	if (p & PROMISE_STDIO) {
		if (sandbox_allow_list(ctx, sc_stdio, NITEMS(sc_stdio)) == -1)
			return (-1);

		/*
		 * Threads, as pledge's "stdio" allows them: clone(2) with
		 * CLONE_THREAD only, so never a new process.  glibc tries
		 * clone3(2) first, whose flags seccomp cannot see: it is
		 * told ENOSYS and falls back to clone(2).
		 */
		if (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0,
		    SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD) == -1 ||
		    sandbox_rule_arg(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0, SCMP_CMP_GE, 0, 0) == -1)
			return (-1);

		/* No executable memory: nothing loads code after start-up. */
		if (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
		    SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) == -1 ||
		    sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect),
		    2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) == -1)
			return (-1);

		for (i = 0; i < NITEMS(sc_fcntl_cmds); i++)
			if (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(fcntl), 1, SCMP_CMP_EQ, sc_fcntl_cmds[i],
			    0) == -1)
				return (-1);

		/*
		 * ioctl: FIONREAD and FIONBIO only.  isatty(3) (TCGETS),
		 * which glibc's stdio calls when it first buffers a stream,
		 * is told "not a tty" rather than killed.
		 */
		if (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_CMP_EQ, FIONREAD, 0) == -1 ||
		    sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_CMP_EQ, FIONBIO, 0) == -1 ||
		    sandbox_rule_arg(ctx, SCMP_ACT_ERRNO(ENOTTY),
		    SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, TCGETS, 0) == -1)
			return (-1);

		/* One's own limits may be read, never changed. */
		memset(cmp, 0, sizeof(cmp));
		cmp[0].arg = 0;		/* pid: 0 is oneself */
		cmp[0].op = SCMP_CMP_EQ;
		cmp[1].arg = 2;		/* new_limit: NULL */
		cmp[1].op = SCMP_CMP_EQ;
		if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(prlimit64), 2, cmp)) < 0) {
			errno = -rc;
			return (-1);
		}

		/*
		 * Signals to oneself only: abort(3) and raise(3) use
		 * tgkill(getpid(), gettid(), sig).  No process is forked
		 * after this, so the pid stays right.
		 */
		if (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 0,
		    SCMP_CMP_EQ, pid, 0) == -1 ||
		    sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 0,
		    SCMP_CMP_EQ, pid, 0) == -1)
			return (-1);

		/*
		 * glibc's fstat(3) is newfstatat(fd, "", buf, AT_EMPTY_PATH).
		 * seccomp cannot read the path, so an absolute path with
		 * AT_EMPTY_PATH still reaches a file's metadata (never its
		 * contents: open stays closed).  statx(2) likewise.
		 */
		if (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat),
		    3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
		    AT_EMPTY_PATH) == -1 ||
		    sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(statx), 2,
		    SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH) == -1)
			return (-1);
	}

	/*
	 * Lookups by path.  Libraries touch files lazily (glibc's
	 * localtime(3) opens /etc/localtime), so without rpath these fail
	 * with EACCES instead of killing the process; they change nothing.
	 */
	act = (p & PROMISE_RPATH) ? SCMP_ACT_ALLOW : eacces;
	for (i = 0; i < NITEMS(sc_rpath_lookup); i++)
		if (sandbox_rule(ctx, act, sc_rpath_lookup[i]) == -1)
			return (-1);
	if (sandbox_rule_arg(ctx, act, SCMP_SYS(newfstatat), 3,
	    SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0) == -1 ||
	    sandbox_rule_arg(ctx, act, SCMP_SYS(statx), 2,
	    SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0) == -1)
		return (-1);
	if ((p & PROMISE_RPATH) &&
	    sandbox_allow_list(ctx, sc_rpath, NITEMS(sc_rpath)) == -1)
		return (-1);
	if ((p & PROMISE_WPATH) &&
	    sandbox_allow_list(ctx, sc_wpath, NITEMS(sc_wpath)) == -1)
		return (-1);
	if ((p & PROMISE_CPATH) &&
	    sandbox_allow_list(ctx, sc_cpath, NITEMS(sc_cpath)) == -1)
		return (-1);

	/*
	 * open(2) and openat(2): one rule for each of the 32 combinations
	 * of the bits in OPEN_MASK, either allowed or answered with EACCES,
	 * so that no open ever kills.  Landlock then decides where.
	 */
	for (i = 0; i < 32; i++) {
		flags = (i & O_ACCMODE) | ((i & 4) ? O_CREAT : 0) |
		    ((i & 8) ? O_TRUNC : 0) | ((i & 16) ? OPEN_TMPFILE : 0);
		act = sandbox_open_allowed(p, flags) ? SCMP_ACT_ALLOW : eacces;
		if (sandbox_rule_arg(ctx, act, SCMP_SYS(open), 1,
		    SCMP_CMP_MASKED_EQ, OPEN_MASK, flags) == -1 ||
		    sandbox_rule_arg(ctx, act, SCMP_SYS(openat), 2,
		    SCMP_CMP_MASKED_EQ, OPEN_MASK, flags) == -1)
			return (-1);
	}
	act = sandbox_open_allowed(p, O_CREAT | O_WRONLY | O_TRUNC) ?
	    SCMP_ACT_ALLOW : eacces;
	if (sandbox_rule(ctx, act, SCMP_SYS(creat)) == -1)
		return (-1);
	/*
	 * openat2(2) hides its flags in a struct seccomp cannot read.  With
	 * some path promise, say the call does not exist so that callers
	 * fall back to openat(2), which is filtered.
	 */
	anypath = p & (PROMISE_RPATH | PROMISE_WPATH | PROMISE_CPATH);
	if (sandbox_rule(ctx, anypath ? SCMP_ACT_ERRNO(ENOSYS) : eacces,
	    SCMP_SYS(openat2)) == -1)
		return (-1);

	/*
	 * Sockets of the promised domains only.  A unix socket without
	 * "unix" is refused softly: glibc's syslog(3) makes a new one when
	 * syslogd went away, and a lost log line must not kill a worker.
	 */
	if ((p & PROMISE_INET) &&
	    (sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 0,
	    SCMP_CMP_EQ, AF_INET, 0) == -1 ||
	    sandbox_rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 0,
	    SCMP_CMP_EQ, AF_INET6, 0) == -1))
		return (-1);
	if (sandbox_rule_arg(ctx, (p & PROMISE_UNIX) ? SCMP_ACT_ALLOW : eacces,
	    SCMP_SYS(socket), 0, SCMP_CMP_EQ, AF_UNIX, 0) == -1)
		return (-1);
	if ((p & (PROMISE_INET | PROMISE_UNIX)) &&
	    sandbox_allow_list(ctx, sc_net, NITEMS(sc_net)) == -1)
		return (-1);

	/*
	 * Everything else kills the process, as a broken promise does:
	 * bind, listen, execve, fork and clone, ptrace, mount, chroot, the
	 * setuid family, other socket domains.
	 */
	return (0);
}

static int
sandbox_seccomp_load(unsigned int promises)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	/*
	 * The filter is built for the native architecture only.  A system
	 * call made through another ABI (i386 via int $0x80) carries
	 * another audit arch and meets the bad-arch action, set here to
	 * kill the process (libseccomp's own default kills only the
	 * thread).  x32 calls (numbers with bit 30 set) carry the native
	 * arch, but libseccomp's x86_64 filter refuses every number with
	 * that bit before looking at any rule: they die too.
	 */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
		goto fail;
	/*
	 * A binary tree of system call numbers keeps the cost of the
	 * filter small on the per-request path.  Should it be refused, the
	 * filter is linear: slower, as strict.
	 */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

	if (sandbox_seccomp_rules(ctx, promises) == -1) {
		rc = -errno;
		goto fail;
	}
	if ((rc = seccomp_load(ctx)) < 0)
		goto fail;
	seccomp_release(ctx);
	return (0);

 fail:
	seccomp_release(ctx);
	errno = -rc;
	return (-1);
}

#else /* neither OpenBSD nor Linux */

int
sandbox_unveil(const char *path, const char *perms)
{
	unsigned int	 bits;

	if (path == NULL && perms == NULL) {
		sandbox_locked = 1;
		return (0);
	}
	if (path == NULL || perms == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (sandbox_locked) {
		errno = EPERM;
		return (-1);
	}
	return (sandbox_parse_perms(perms, &bits));
}

int
sandbox_pledge(const char *promises)
{
	unsigned int	 bits;

	if (sandbox_parse_promises(promises, &bits) == -1)
		return (-1);
	return (0);
}

#endif

/* Says only what is in force now; before sandbox_pledge that is nothing. */
const char *
sandbox_describe(void)
{
#if defined(__linux__)
	if (sandbox_seccomp && sandbox_landlock_abi > 0)
		(void)snprintf(sandbox_desc, sizeof(sandbox_desc),
		    "seccomp, landlock abi %d", sandbox_landlock_abi);
	else if (sandbox_seccomp)
		(void)strlcpy(sandbox_desc,
		    "seccomp only (landlock unavailable)",
		    sizeof(sandbox_desc));
	else if (sandbox_landlock_abi > 0)
		(void)snprintf(sandbox_desc, sizeof(sandbox_desc),
		    "landlock abi %d only (seccomp failed)",
		    sandbox_landlock_abi);
#endif
	return (sandbox_desc);
}
