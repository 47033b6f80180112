/*
 * test_sandbox.c: unit tests of sandbox.c: each case forks a process that
 * takes a daemon profile, then tries what it must and must not do.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../portero/portero.h"

#define CASE_TIMEOUT	10	/* seconds a child may live */
#define NEEDS_LANDLOCK	0x1	/* tests what only Landlock refuses */
#define NEEDS_IA32	0x2	/* the kernel must run i386 system calls */

struct tcase {
	const char	*name;
	void		(*fn)(void);
	int		 sig;		/* 0: must exit 0; else must die so */
	int		 flags;
	int		(*post)(char *, size_t);	/* parent-side check */
};

/* Fixtures, made by the parent before any case runs. */
static char	 certdir[] = "/tmp/test_sandbox.cert.XXXXXX";
static char	 statedir[] = "/tmp/test_sandbox.state.XXXXXX";
static char	 otherdir[] = "/tmp/test_sandbox.other.XXXXXX";
static int	 dirs_made[3];
static int	 parent_lfd = -1;	/* listener the parent owns */
static struct sockaddr_in parent_addr;
static int	 landlock_abi;		/* 0: kernel has none */

/* The child's end of its report pipe. */
static int	 report_fd = -1;

static volatile sig_atomic_t	 interrupted;
static volatile pid_t		 current_child = -1;

static void	 tfail(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2), noreturn));

/*
 * Child side.
 */

static void
tfail(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(report_fd, buf, (size_t)n < sizeof(buf) ?
	    (size_t)n : sizeof(buf) - 1) == -1)
		_exit(2);
	_exit(1);
}

static void
path_in(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		tfail("path too long");
}

/* rc must be -1 with errno err. */
static void
want_errno(long rc, int err, const char *what)
{
	if (rc != -1)
		tfail("%s succeeded, want %s", what, strerror(err));
	if (errno != err)
		tfail("%s: %s, want %s", what, strerror(errno), strerror(err));
}

static void
want_ok(long rc, const char *what)
{
	if (rc == -1)
		tfail("%s: %s", what, strerror(errno));
}

static void
profile_worker(void)
{
	if (sandbox_pledge(PROMISES_WORKER) == -1)
		tfail("sandbox_pledge: %s", strerror(errno));
}

static void
profile_certloader(void)
{
	if (sandbox_unveil(certdir, UNVEIL_CERTLOADER) == -1)
		tfail("sandbox_unveil: %s", strerror(errno));
	if (sandbox_unveil(NULL, NULL) == -1)
		tfail("sandbox_unveil(NULL, NULL): %s", strerror(errno));
	if (sandbox_pledge(PROMISES_CERTLOADER) == -1)
		tfail("sandbox_pledge: %s", strerror(errno));
}

static void
profile_registrar(void)
{
	if (sandbox_unveil(statedir, UNVEIL_REGISTRAR) == -1)
		tfail("sandbox_unveil: %s", strerror(errno));
	if (sandbox_unveil(NULL, NULL) == -1)
		tfail("sandbox_unveil(NULL, NULL): %s", strerror(errno));
	if (sandbox_pledge(PROMISES_REGISTRAR) == -1)
		tfail("sandbox_pledge: %s", strerror(errno));
}

static void
profile_health(void)
{
	if (sandbox_pledge(PROMISES_HEALTH) == -1)
		tfail("sandbox_pledge: %s", strerror(errno));
}

/* A listener on 127.0.0.1, made before the sandbox (bind is forbidden). */
static int
make_listener(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1)
		return (-1);
	return (fd);
}

/* After the sandbox: connect to sin, accept on lfd, talk both ways. */
static void
connect_accept_talk(int lfd, const struct sockaddr_in *sin)
{
	struct sockaddr_in	 a, b;
	socklen_t		 alen = sizeof(a), blen = sizeof(b);
	char			 buf[8];
	int			 c, s, one = 1;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	want_ok(c, "socket(AF_INET)");
	want_ok(connect(c, (const struct sockaddr *)sin, sizeof(*sin)),
	    "connect");
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	want_ok(s, "accept4");
	want_ok(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
	    "setsockopt(TCP_NODELAY)");
	want_ok(getsockname(c, (struct sockaddr *)&a, &alen), "getsockname");
	want_ok(getpeername(s, (struct sockaddr *)&b, &blen), "getpeername");
	if (a.sin_port != b.sin_port)
		tfail("accepted someone else's connection");
	if (write(c, "ping", 4) != 4)
		tfail("write to client socket: %s", strerror(errno));
	if (read(s, buf, sizeof(buf)) != 4 || memcmp(buf, "ping", 4) != 0)
		tfail("read on accepted socket");
	if (send(s, "pong", 4, 0) != 4)
		tfail("send on accepted socket: %s", strerror(errno));
	if (recv(c, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4) != 0)
		tfail("recv on client socket");
	want_ok(shutdown(s, SHUT_RDWR), "shutdown");
	close(s);
	close(c);
}

/* Open before, read after: procfs makes the text at the first read. */
static void
check_status(int fd)
{
	char	 buf[4096];
	ssize_t	 n;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		tfail("read /proc/self/status: %s", strerror(errno));
	buf[n] = '\0';
	if (strstr(buf, "\nSeccomp:\t2\n") == NULL)
		tfail("/proc/self/status lacks \"Seccomp:\\t2\"");
	if (strstr(buf, "\nNoNewPrivs:\t1\n") == NULL)
		tfail("/proc/self/status lacks \"NoNewPrivs:\\t1\"");
}

static int
open_status(void)
{
	int	 fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) == -1)
		tfail("open /proc/self/status: %s", strerror(errno));
	return (fd);
}

/* worker */

static void
t_worker_open_denied(void)
{
	char	 path[PATH_MAX];
	struct stat st;

	profile_worker();
	want_errno(open("/etc/passwd", O_RDONLY), EACCES,
	    "open(/etc/passwd)");
	path_in(path, sizeof(path), otherdir, "other.txt");
	want_errno(open(path, O_RDONLY), EACCES, "open(other.txt)");
	want_errno(open(path, O_WRONLY), EACCES, "open(other.txt, O_WRONLY)");
	path_in(path, sizeof(path), otherdir, "new.txt");
	want_errno(open(path, O_WRONLY | O_CREAT, 0600), EACCES,
	    "open(new.txt, O_CREAT)");
	want_errno(stat("/etc/passwd", &st), EACCES, "stat(/etc/passwd)");
	if (fopen("/etc/hosts", "r") != NULL)
		tfail("fopen(/etc/hosts) succeeded");
}

static void
t_worker_execve(void)
{
	char	*argv[] = { "true", NULL };
	char	*envp[] = { NULL };

	profile_worker();
	execve("/bin/true", argv, envp);
	tfail("execve returned: %s", strerror(errno));
}

static void
t_worker_fork(void)
{
	pid_t	 pid;

	profile_worker();
	if ((pid = fork()) == 0)
		_exit(0);
	tfail("fork returned %ld", (long)pid);
}

static void
t_worker_bind(void)
{
	struct sockaddr_in	 sin;
	int			 fd;

	profile_worker();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	want_ok(fd, "socket(AF_INET)");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		tfail("bind succeeded");
	tfail("bind failed (%s) instead of killing", strerror(errno));
}

static void
t_worker_listen(void)
{
	struct sockaddr_in	 sin;
	int			 fd;

	if ((fd = make_listener(&sin)) == -1)
		tfail("listener: %s", strerror(errno));
	profile_worker();
	(void)listen(fd, 1);
	tfail("listen survived");
}

static void
t_worker_socket_unix(void)
{
	profile_worker();
	want_errno(socket(AF_UNIX, SOCK_STREAM, 0), EACCES,
	    "socket(AF_UNIX)");
	want_errno(socket(AF_UNIX, SOCK_DGRAM, 0), EACCES,
	    "socket(AF_UNIX, SOCK_DGRAM)");
}

static void
t_worker_socket_netlink(void)
{
	profile_worker();
	(void)socket(AF_NETLINK, SOCK_RAW, 0);
	tfail("socket(AF_NETLINK) survived");
}

static void
t_worker_prefd_io(void)
{
	char		 path[PATH_MAX], buf[16];
	struct stat	 st;
	int		 fd;

	path_in(path, sizeof(path), otherdir, "prefd.txt");
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		tfail("open %s: %s", path, strerror(errno));
	profile_worker();
	if (pwrite(fd, "hello", 5, 0) != 5)
		tfail("pwrite: %s", strerror(errno));
	want_ok(lseek(fd, 0, SEEK_END), "lseek");
	if (write(fd, " world", 6) != 6)
		tfail("write: %s", strerror(errno));
	want_ok(fsync(fd), "fsync");
	want_ok(fstat(fd, &st), "fstat");
	if (st.st_size != 11)
		tfail("size %lld, want 11", (long long)st.st_size);
	if (pread(fd, buf, sizeof(buf), 0) != 11 ||
	    memcmp(buf, "hello world", 11) != 0)
		tfail("pread did not read back");
	close(fd);
}

static void
t_worker_connect(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	profile_worker();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	want_ok(fd, "socket(AF_INET)");
	want_ok(connect(fd, (struct sockaddr *)&parent_addr,
	    sizeof(parent_addr)), "connect");
	want_ok(getpeername(fd, (struct sockaddr *)&sin, &len),
	    "getpeername");
	if (write(fd, "worker", 6) != 6)
		tfail("write: %s", strerror(errno));
	close(fd);
	/* A kernel without IPv6 may refuse it, but must not kill. */
	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 &&
	    errno != EAFNOSUPPORT)
		tfail("socket(AF_INET6): %s", strerror(errno));
	close(fd);
}

/* The parent's end of t_worker_connect: the bytes arrived. */
static int
p_worker_connect(char *reason, size_t len)
{
	char	 buf[16];
	ssize_t	 n;
	int	 fd;

	if ((fd = accept4(parent_lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		snprintf(reason, len, "parent accept4: %s", strerror(errno));
		return (-1);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != 6 || memcmp(buf, "worker", 6) != 0) {
		snprintf(reason, len, "parent read %zd bytes, want \"worker\"",
		    n);
		return (-1);
	}
	return (0);
}

/* health: no file, no listener; connect and talk, as its checks do */

static void
t_health_open_denied(void)
{
	profile_health();
	want_errno(open("/etc/passwd", O_RDONLY), EACCES,
	    "open(/etc/passwd)");
	want_errno(open("/etc/ssl/certs/ca-certificates.crt", O_RDONLY),
	    EACCES, "open(the CA bundle)");
}

static void
t_health_connect(void)
{
	socklen_t	 len = sizeof(int);
	int		 fd, error = -1, one = 1;

	profile_health();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	want_ok(fd, "socket(AF_INET)");
	want_ok(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
	    "setsockopt(TCP_NODELAY)");
	if (connect(fd, (struct sockaddr *)&parent_addr,
	    sizeof(parent_addr)) == -1 && errno != EINPROGRESS)
		tfail("connect: %s", strerror(errno));
	want_ok(poll(&(struct pollfd){ fd, POLLOUT, 0 }, 1, 5000), "poll");
	want_ok(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len),
	    "getsockopt(SO_ERROR)");
	if (error != 0)
		tfail("connect: %s", strerror(error));
	if (send(fd, "health", 6, MSG_NOSIGNAL) != 6)
		tfail("send: %s", strerror(errno));
	close(fd);
}

/* The parent's end of t_health_connect: the bytes arrived. */
static int
p_health_connect(char *reason, size_t len)
{
	char	 buf[16];
	ssize_t	 n;
	int	 fd;

	if ((fd = accept4(parent_lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		snprintf(reason, len, "parent accept4: %s", strerror(errno));
		return (-1);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != 6 || memcmp(buf, "health", 6) != 0) {
		snprintf(reason, len, "parent read %zd bytes, want \"health\"",
		    n);
		return (-1);
	}
	return (0);
}

static void
t_health_listen(void)
{
	struct sockaddr_in	 sin;
	int			 fd;

	if ((fd = make_listener(&sin)) == -1)
		tfail("listener: %s", strerror(errno));
	profile_health();
	(void)listen(fd, 1);
	tfail("listen survived");
}

static void
t_worker_accept4(void)
{
	struct sockaddr_in	 sin;
	int			 lfd;

	if ((lfd = make_listener(&sin)) == -1)
		tfail("listener: %s", strerror(errno));
	profile_worker();
	connect_accept_talk(lfd, &sin);
}

static void
t_worker_scm_rights(void)
{
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	char		 c = 'm', got;
	int		 sp[2], pp[2], fd;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    pipe2(pp, O_CLOEXEC) == -1)
		tfail("socketpair/pipe: %s", strerror(errno));
	profile_worker();

	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = &c;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &pp[1], sizeof(int));
	if (sendmsg(sp[0], &msg, 0) != 1)
		tfail("sendmsg: %s", strerror(errno));
	close(pp[1]);

	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = &got;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	if (recvmsg(sp[1], &msg, MSG_CMSG_CLOEXEC) != 1)
		tfail("recvmsg: %s", strerror(errno));
	if ((cmsg = CMSG_FIRSTHDR(&msg)) == NULL ||
	    cmsg->cmsg_type != SCM_RIGHTS)
		tfail("no descriptor received");
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	if (write(fd, "z", 1) != 1)
		tfail("write on received fd: %s", strerror(errno));
	if (read(pp[0], &got, 1) != 1 || got != 'z')
		tfail("received fd is not the pipe");
}

/* Escapes keep the compiler from eliding malloc/free pairs. */
static void *volatile	 malloc_sink;

static void
t_worker_malloc(void)
{
	void	*small[1000];
	char	*big;
	size_t	 i;

	profile_worker();
	for (i = 0; i < 1000; i++) {
		if ((small[i] = malloc(16 + i)) == NULL)
			tfail("malloc small");
		malloc_sink = small[i];
	}
	for (i = 0; i < 1000; i += 2)
		free(small[i]);
	if ((big = malloc(64 << 20)) == NULL)
		tfail("malloc 64 MiB");
	memset(big, 1, 64 << 20);
	malloc_sink = big;
	if ((big = realloc(big, 128 << 20)) == NULL)
		tfail("realloc 128 MiB");
	if (big[0] != 1 || big[(64 << 20) - 1] != 1)
		tfail("realloc lost data");
	memset(big, 2, 128 << 20);
	malloc_sink = big;
	free(big);
	if ((big = calloc(1, 1 << 20)) == NULL)
		tfail("calloc");
	malloc_sink = big;
	free(big);
	for (i = 1; i < 1000; i += 2)
		free(small[i]);
}

static void
t_worker_random_clock(void)
{
	struct timespec	 ts = { 0, 1000000 };
	struct timeval	 tv;
	unsigned char	 buf[32];

	profile_worker();
	if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		tfail("getrandom: %s", strerror(errno));
	/* libbsd's arc4random, first used after the sandbox. */
	arc4random_buf(buf, sizeof(buf));
	if (arc4random_uniform(1000) >= 1000)
		tfail("arc4random_uniform out of range");
	want_ok(clock_gettime(CLOCK_MONOTONIC, &ts), "clock_gettime");
	want_ok(clock_gettime(CLOCK_REALTIME, &ts), "clock_gettime");
	want_ok(gettimeofday(&tv, NULL), "gettimeofday");
	if (time(NULL) == (time_t)-1)
		tfail("time");
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000;
	want_ok(nanosleep(&ts, NULL), "nanosleep");
	want_ok(getpid(), "getpid");
}

static struct event_base	*lev_base;
static int			 lev_pipe[2];
static int			 lev_timer_fired, lev_read_fired;

static void
lev_timer(int fd, short ev, void *arg)
{
	lev_timer_fired = 1;
	if (write(lev_pipe[1], "e", 1) != 1)
		tfail("write pipe: %s", strerror(errno));
}

static void
lev_read(int fd, short ev, void *arg)
{
	char	 c;

	if (read(fd, &c, 1) != 1 || c != 'e')
		tfail("read pipe");
	lev_read_fired = 1;
	event_base_loopexit(lev_base, NULL);
}

static void
t_worker_libevent(void)
{
	struct timeval	 tv = { 0, 10000 };
	struct event	*timer, *rev;

	if ((lev_base = event_base_new()) == NULL)
		tfail("event_base_new");
	if (pipe2(lev_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		tfail("pipe2: %s", strerror(errno));
	profile_worker();
	if ((timer = evtimer_new(lev_base, lev_timer, NULL)) == NULL ||
	    (rev = event_new(lev_base, lev_pipe[0], EV_READ | EV_PERSIST,
	    lev_read, NULL)) == NULL)
		tfail("event_new");
	if (evtimer_add(timer, &tv) == -1 || event_add(rev, NULL) == -1)
		tfail("event_add");
	if (event_base_dispatch(lev_base) == -1)
		tfail("event_base_dispatch");
	if (!lev_timer_fired || !lev_read_fired)
		tfail("timer %d, read %d", lev_timer_fired, lev_read_fired);
	event_free(timer);
	event_free(rev);
	event_base_free(lev_base);
}

static void
t_worker_status(void)
{
	int	 fd;

	fd = open_status();
	profile_worker();
	check_status(fd);
}

static void
t_worker_abort(void)
{
	profile_worker();
	abort();
}

static void
t_worker_kill_other(void)
{
	profile_worker();
	(void)kill(getppid(), 0);
	tfail("kill(parent) survived");
}

static void
t_worker_mmap_exec(void)
{
	profile_worker();
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tfail("mmap(PROT_EXEC) survived");
}

static void
t_worker_mprotect_exec(void)
{
	void	*p;

	profile_worker();
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		tfail("mmap: %s", strerror(errno));
	(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
	tfail("mprotect(PROT_EXEC) survived");
}

static void
t_worker_ioctl(void)
{
	int	 pp[2], n, one = 1;

	if (pipe2(pp, O_CLOEXEC) == -1)
		tfail("pipe2: %s", strerror(errno));
	profile_worker();
	if (write(pp[1], "abc", 3) != 3)
		tfail("write");
	want_ok(ioctl(pp[0], FIONREAD, &n), "ioctl(FIONREAD)");
	if (n != 3)
		tfail("FIONREAD says %d, want 3", n);
	want_ok(ioctl(pp[0], FIONBIO, &one), "ioctl(FIONBIO)");
	if (isatty(pp[0]) || errno != ENOTTY)
		tfail("isatty: %s, want ENOTTY", strerror(errno));
}

/* On a pipe, so that a broken sandbox cannot type into a terminal. */
static void
t_worker_ioctl_tiocsti(void)
{
	char	 c = 'x';
	int	 pp[2];

	if (pipe2(pp, O_CLOEXEC) == -1)
		tfail("pipe2: %s", strerror(errno));
	profile_worker();
	(void)ioctl(pp[0], TIOCSTI, &c);
	tfail("ioctl(TIOCSTI) survived");
}

static void
t_worker_setrlimit(void)
{
	struct rlimit	 rl;

	profile_worker();
	want_ok(getrlimit(RLIMIT_NOFILE, &rl), "getrlimit");
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	tfail("setrlimit survived");
}

static void
t_worker_prlimit_other(void)
{
	struct rlimit	 rl;

	profile_worker();
	(void)prlimit(getppid(), RLIMIT_NOFILE, NULL, &rl);
	tfail("prlimit(parent) survived");
}

static void
t_worker_fcntl_setown(void)
{
	int	 fl, pp[2];

	if (pipe2(pp, O_CLOEXEC) == -1)
		tfail("pipe2: %s", strerror(errno));
	profile_worker();
	fl = fcntl(pp[0], F_GETFL);
	want_ok(fl, "fcntl(F_GETFL)");
	want_ok(fcntl(pp[0], F_SETFL, fl | O_NONBLOCK), "fcntl(F_SETFL)");
	want_ok(fcntl(pp[0], F_GETFD), "fcntl(F_GETFD)");
	want_ok(fcntl(pp[0], F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)");
	(void)fcntl(pp[0], F_SETOWN, getppid());
	tfail("fcntl(F_SETOWN) survived");
}

#if defined(__x86_64__)
/* Another system call ABI is no way around the filter. */
static void
t_worker_x32(void)
{
	profile_worker();
	(void)syscall(0x40000000 | SYS_getpid);
	tfail("x32 getpid survived");
}

static void
t_worker_i386(void)
{
	long	 rc;

	profile_worker();
	/* getpid is 20 in the i386 table, through int $0x80. */
	__asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");
	tfail("i386 getpid survived (%ld)", rc);
}
#endif

/*
 * Whether this kernel runs i386 system calls at all: without IA32
 * emulation, int $0x80 faults (SIGSEGV) before any filter sees it, and
 * there is nothing for the sandbox to refuse.
 */
static int
ia32_available(void)
{
#if defined(__x86_64__)
	pid_t	 pid;
	long	 rc;
	int	 status;

	if ((pid = fork()) == -1)
		return (1);	/* cannot tell: run the case */
	if (pid == 0) {
		struct rlimit	 rl = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &rl);
		__asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");
		_exit(rc > 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return (1);
	return (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV));
#else
	return (0);
#endif
}

/* Libraries that touch files lazily must fail softly, not die. */
static void
t_worker_lazy_files(void)
{
	struct tm	 tm;
	time_t		 now;

	profile_worker();
	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL)
		tfail("localtime_r");
	syslog(LOG_DEBUG, "test_sandbox: syslog inside the sandbox");
	closelog();
}

/* certloader */

static void
t_certloader_read(void)
{
	char		 path[PATH_MAX], buf[64];
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	int		 found = 0, fd;

	profile_certloader();
	path_in(path, sizeof(path), certdir, "cert.pem");
	if ((f = fopen(path, "r")) == NULL)
		tfail("fopen %s: %s", path, strerror(errno));
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    strcmp(buf, "CERTDATA\n") != 0)
		tfail("fgets did not read the certificate");
	fclose(f);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	want_ok(fd, "open(cert.pem)");
	if (read(fd, buf, sizeof(buf)) != 9)
		tfail("read cert.pem");
	close(fd);
	want_ok(stat(path, &st), "stat");
	if (st.st_size != 9)
		tfail("stat size %lld", (long long)st.st_size);
	if ((d = opendir(certdir)) == NULL)
		tfail("opendir: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, "cert.pem") == 0)
			found = 1;
	closedir(d);
	if (!found)
		tfail("readdir did not list cert.pem");
}

static void
t_certloader_outside(void)
{
	char	 path[PATH_MAX];

	profile_certloader();
	want_errno(open("/etc/passwd", O_RDONLY), EACCES,
	    "open(/etc/passwd)");
	path_in(path, sizeof(path), otherdir, "other.txt");
	want_errno(open(path, O_RDONLY), EACCES, "open(other.txt)");
	if (opendir("/") != NULL)
		tfail("opendir(/) succeeded");
	if (errno != EACCES)
		tfail("opendir(/): %s, want EACCES", strerror(errno));
}

static void
t_certloader_write(void)
{
	char	 path[PATH_MAX];

	profile_certloader();
	path_in(path, sizeof(path), certdir, "cert.pem");
	want_errno(open(path, O_WRONLY), EACCES, "open(O_WRONLY)");
	want_errno(open(path, O_RDWR), EACCES, "open(O_RDWR)");
	want_errno(open(path, O_RDONLY | O_TRUNC), EACCES,
	    "open(O_RDONLY|O_TRUNC)");
	path_in(path, sizeof(path), certdir, "new.pem");
	want_errno(open(path, O_WRONLY | O_CREAT, 0600), EACCES,
	    "open(O_CREAT)");
	want_errno(open(certdir, O_RDONLY | O_TMPFILE, 0600), EACCES,
	    "open(O_TMPFILE)");
}

static void
t_certloader_unlink(void)
{
	char	 path[PATH_MAX];

	profile_certloader();
	path_in(path, sizeof(path), certdir, "cert.pem");
	(void)unlink(path);
	tfail("unlink survived");
}

static void
t_certloader_socket(void)
{
	profile_certloader();
	(void)socket(AF_INET, SOCK_STREAM, 0);
	tfail("socket(AF_INET) survived");
}

static void
t_certloader_connect(void)
{
	int	 fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		tfail("socket: %s", strerror(errno));
	profile_certloader();
	(void)connect(fd, (struct sockaddr *)&parent_addr,
	    sizeof(parent_addr));
	tfail("connect survived");
}

static void
t_certloader_status(void)
{
	int	 fd;

	fd = open_status();
	profile_certloader();
	check_status(fd);
}

/* registrar */

/*
 * A thread started inside the sandbox (the registrar's writer): it
 * writes in the state directory, fsyncs, and is confined like its
 * process: it opens nothing outside.
 */
static void *
registrar_thread(void *arg)
{
	char	 path[PATH_MAX];
	int	 fd, *res = arg;

	path_in(path, sizeof(path), statedir, "thread.txt");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(fd, "t\n", 2) != 2 || fsync(fd) == -1) {
		res[0] = errno ? errno : -1;
		return (NULL);
	}
	close(fd);
	path_in(path, sizeof(path), otherdir, "other.txt");
	res[1] = open(path, O_RDONLY | O_CLOEXEC) == -1 ? errno : 0;
	return (NULL);
}

static void
t_registrar_thread(void)
{
	pthread_t	 th;
	int		 res[2] = { 0, 0 }, rc;

	profile_registrar();
	if ((rc = pthread_create(&th, NULL, registrar_thread, res)) != 0)
		tfail("pthread_create: %s", strerror(rc));
	if ((rc = pthread_join(th, NULL)) != 0)
		tfail("pthread_join: %s", strerror(rc));
	if (res[0] != 0)
		tfail("the thread could not write the state directory: %s",
		    strerror(res[0]));
	if (landlock_abi > 0 && res[1] != EACCES)
		tfail("the thread opened a file outside: %s",
		    res[1] == 0 ? "it did" : strerror(res[1]));
}

/* A process is never cloned, whatever call asks for one. */
static void
t_worker_clone_process(void)
{
	long	 rc;

	profile_worker();
	rc = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	if (rc == 0)
		_exit(0);
	tfail("clone without CLONE_THREAD returned %ld", rc);
}

static void
t_registrar_files(void)
{
	char		 tmp[PATH_MAX], path[PATH_MAX], dir[PATH_MAX];
	char		 buf[32];
	struct stat	 st;
	int		 fd;

	profile_registrar();
	path_in(tmp, sizeof(tmp), statedir, ".state.XXXXXX");
	path_in(path, sizeof(path), statedir, "state.json");
	if ((fd = mkstemp(tmp)) == -1)
		tfail("mkstemp: %s", strerror(errno));
	if (write(fd, "{\"v\":1}\n", 8) != 8)
		tfail("write: %s", strerror(errno));
	want_ok(fsync(fd), "fsync");
	want_ok(close(fd), "close");
	want_ok(rename(tmp, path), "rename");

	fd = open(path, O_RDONLY | O_CLOEXEC);
	want_ok(fd, "open(state.json)");
	if (read(fd, buf, sizeof(buf)) != 8 || memcmp(buf, "{\"v\":1}\n", 8))
		tfail("read back");
	close(fd);

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	want_ok(fd, "open(O_WRONLY|O_TRUNC)");
	if (write(fd, "{}", 2) != 2)
		tfail("rewrite: %s", strerror(errno));
	want_ok(ftruncate(fd, 1), "ftruncate");
	want_ok(fstat(fd, &st), "fstat");
	if (st.st_size != 1)
		tfail("size %lld after ftruncate", (long long)st.st_size);
	close(fd);

	path_in(dir, sizeof(dir), statedir, "sub");
	want_ok(mkdir(dir, 0700), "mkdir");
	want_ok(rmdir(dir), "rmdir");
	want_ok(unlink(path), "unlink");
	want_errno(stat(path, &st), ENOENT, "stat after unlink");
}

static void
t_registrar_outside(void)
{
	char	 path[PATH_MAX], mine[PATH_MAX];
	int	 fd;

	profile_registrar();
	path_in(path, sizeof(path), otherdir, "new.txt");
	want_errno(open(path, O_WRONLY | O_CREAT | O_EXCL, 0600), EACCES,
	    "create outside");
	path_in(path, sizeof(path), otherdir, "other.txt");
	want_errno(open(path, O_WRONLY), EACCES, "write outside");
	want_errno(open(path, O_RDONLY), EACCES, "read outside");
	want_errno(open("/etc/passwd", O_RDONLY), EACCES,
	    "open(/etc/passwd)");
	path_in(path, sizeof(path), otherdir, "newdir");
	want_errno(mkdir(path, 0700), EACCES, "mkdir outside");

	/* Moving a file out of the state directory is no way out. */
	path_in(mine, sizeof(mine), statedir, "escape");
	if ((fd = open(mine, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		tfail("create in statedir: %s", strerror(errno));
	close(fd);
	path_in(path, sizeof(path), otherdir, "escaped");
	if (rename(mine, path) == 0)
		tfail("rename out of statedir succeeded");
	if (errno != EACCES && errno != EXDEV)
		tfail("rename out: %s, want EACCES or EXDEV",
		    strerror(errno));
	want_ok(unlink(mine), "unlink");
}

static void
t_registrar_accept(void)
{
	struct sockaddr_in	 sin;
	int			 lfd;

	if ((lfd = make_listener(&sin)) == -1)
		tfail("listener: %s", strerror(errno));
	profile_registrar();
	connect_accept_talk(lfd, &sin);
}

static void
t_registrar_execve(void)
{
	char	*argv[] = { "true", NULL };
	char	*envp[] = { NULL };

	profile_registrar();
	execve("/bin/true", argv, envp);
	tfail("execve returned: %s", strerror(errno));
}

static void
t_registrar_status(void)
{
	int	 fd;

	fd = open_status();
	profile_registrar();
	check_status(fd);
}

/* the interface itself */

static void
t_api_unveil_perms(void)
{
	want_errno(sandbox_unveil(certdir, "x"), EINVAL, "unveil(\"x\")");
	want_errno(sandbox_unveil(certdir, "rx"), EINVAL, "unveil(\"rx\")");
	want_errno(sandbox_unveil(certdir, "rq"), EINVAL, "unveil(\"rq\")");
	want_errno(sandbox_unveil(certdir, NULL), EINVAL, "unveil(p, NULL)");
	want_errno(sandbox_unveil("/nonexistent/portero", "r"), ENOENT,
	    "unveil(nonexistent)");
	want_ok(sandbox_unveil(certdir, "rwc"), "unveil(\"rwc\")");
	want_ok(sandbox_unveil(certdir, ""), "unveil(\"\")");
}

static void
t_api_unveil_lock(void)
{
	want_ok(sandbox_unveil(certdir, "r"), "unveil");
	want_ok(sandbox_unveil(NULL, NULL), "unveil(NULL, NULL)");
	want_errno(sandbox_unveil(statedir, "r"), EPERM, "unveil after lock");
}

static void
t_api_unveil_full(void)
{
	char	 path[PATH_MAX], name[8];
	int	 i;

	for (i = 0; i < 8; i++) {
		(void)snprintf(name, sizeof(name), "d%d", i);
		path_in(path, sizeof(path), otherdir, name);
		want_ok(sandbox_unveil(path, "r"), path);
	}
	/* The same directory again replaces, it does not take a slot. */
	want_ok(sandbox_unveil(path, "rw"), "unveil again");
	path_in(path, sizeof(path), otherdir, "d8");
	want_errno(sandbox_unveil(path, "r"), E2BIG, "ninth unveil");
}

static void
t_api_unveil_file(void)
{
	char	 path[PATH_MAX], buf[16];
	int	 fd;

	path_in(path, sizeof(path), certdir, "cert.pem");
	want_ok(sandbox_unveil(path, "r"), "unveil(file)");
	want_ok(sandbox_pledge("stdio rpath"), "pledge");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	want_ok(fd, "open(unveiled file)");
	if (read(fd, buf, sizeof(buf)) != 9)
		tfail("read unveiled file");
	if (opendir(certdir) != NULL)
		tfail("opendir of the file's directory succeeded");
	path_in(path, sizeof(path), otherdir, "other.txt");
	want_errno(open(path, O_RDONLY), EACCES, "open(other.txt)");
}

static void
t_api_pledge_unknown(void)
{
	char	 buf[4096];
	ssize_t	 n;
	int	 fd;

	fd = open_status();
	want_errno(sandbox_pledge("stdio proc"), EINVAL, "pledge(proc)");
	want_errno(sandbox_pledge("stdio exec"), EINVAL, "pledge(exec)");
	want_errno(sandbox_pledge("stdioinet"), EINVAL, "pledge(stdioinet)");
	want_errno(sandbox_pledge(NULL), EINVAL, "pledge(NULL)");
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		tfail("read status");
	buf[n] = '\0';
	if (strstr(buf, "\nSeccomp:\t0\n") == NULL)
		tfail("a refused pledge left a filter behind");
	if (strcmp(sandbox_describe(), "none") != 0)
		tfail("describe says \"%s\" after refused pledges",
		    sandbox_describe());
}

static void
t_api_describe(void)
{
	char		 want[64];
	const char	*got;

	if ((got = sandbox_describe()) == NULL || strcmp(got, "none") != 0)
		tfail("before pledge: \"%s\", want \"none\"",
		    got ? got : "(null)");
	if (landlock_abi > 0)
		(void)snprintf(want, sizeof(want), "seccomp, landlock abi %d",
		    landlock_abi > 7 ? 7 : landlock_abi);
	else
		(void)strlcpy(want, "seccomp only (landlock unavailable)",
		    sizeof(want));
	profile_worker();
	if (strcmp((got = sandbox_describe()), want) != 0)
		tfail("\"%s\", want \"%s\"", got, want);
}

static void
t_api_pledge_narrow(void)
{
	want_ok(sandbox_pledge("stdio inet"), "pledge(stdio inet)");
	want_ok(sandbox_pledge("stdio"), "pledge(stdio)");
	(void)socket(AF_INET, SOCK_STREAM, 0);
	tfail("socket survived a narrowed pledge");
}

static void
t_api_pledge_widen(void)
{
	want_ok(sandbox_pledge("stdio"), "pledge(stdio)");
	want_ok(sandbox_pledge("stdio inet"), "pledge(stdio inet)");
	(void)socket(AF_INET, SOCK_STREAM, 0);
	tfail("a second pledge widened the first");
}

static void
t_api_pledge_empty(void)
{
	want_ok(sandbox_pledge(""), "pledge(\"\")");
	(void)getpid();
	tfail("getpid survived pledge(\"\")");
}

static const struct tcase cases[] = {
	{ "worker_open_denied", t_worker_open_denied, 0, 0, NULL },
	{ "worker_execve", t_worker_execve, SIGSYS, 0, NULL },
	{ "worker_fork", t_worker_fork, SIGSYS, 0, NULL },
	{ "worker_bind", t_worker_bind, SIGSYS, 0, NULL },
	{ "worker_listen", t_worker_listen, SIGSYS, 0, NULL },
	{ "worker_socket_unix", t_worker_socket_unix, 0, 0, NULL },
	{ "worker_socket_netlink", t_worker_socket_netlink, SIGSYS, 0, NULL },
	{ "worker_prefd_io", t_worker_prefd_io, 0, 0, NULL },
	{ "worker_connect", t_worker_connect, 0, 0, p_worker_connect },
	{ "worker_accept4", t_worker_accept4, 0, 0, NULL },
	{ "health_open_denied", t_health_open_denied, 0, 0, NULL },
	{ "health_connect", t_health_connect, 0, 0, p_health_connect },
	{ "health_listen", t_health_listen, SIGSYS, 0, NULL },
	{ "worker_scm_rights", t_worker_scm_rights, 0, 0, NULL },
	{ "worker_malloc", t_worker_malloc, 0, 0, NULL },
	{ "worker_random_clock", t_worker_random_clock, 0, 0, NULL },
	{ "worker_libevent", t_worker_libevent, 0, 0, NULL },
	{ "worker_status", t_worker_status, 0, 0, NULL },
	{ "worker_abort", t_worker_abort, SIGABRT, 0, NULL },
	{ "worker_kill_other", t_worker_kill_other, SIGSYS, 0, NULL },
	{ "worker_mmap_exec", t_worker_mmap_exec, SIGSYS, 0, NULL },
	{ "worker_mprotect_exec", t_worker_mprotect_exec, SIGSYS, 0, NULL },
	{ "worker_ioctl", t_worker_ioctl, 0, 0, NULL },
	{ "worker_ioctl_tiocsti", t_worker_ioctl_tiocsti, SIGSYS, 0, NULL },
	{ "worker_setrlimit", t_worker_setrlimit, SIGSYS, 0, NULL },
	{ "worker_prlimit_other", t_worker_prlimit_other, SIGSYS, 0, NULL },
	{ "worker_fcntl_setown", t_worker_fcntl_setown, SIGSYS, 0, NULL },
#if defined(__x86_64__)
	{ "worker_x32_syscall", t_worker_x32, SIGSYS, 0, NULL },
	{ "worker_i386_syscall", t_worker_i386, SIGSYS, NEEDS_IA32, NULL },
#endif
	{ "worker_lazy_files", t_worker_lazy_files, 0, 0, NULL },
	{ "certloader_read", t_certloader_read, 0, 0, NULL },
	{ "certloader_outside", t_certloader_outside, 0, NEEDS_LANDLOCK, NULL },
	{ "certloader_write", t_certloader_write, 0, 0, NULL },
	{ "certloader_unlink", t_certloader_unlink, SIGSYS, 0, NULL },
	{ "certloader_socket", t_certloader_socket, SIGSYS, 0, NULL },
	{ "certloader_connect", t_certloader_connect, SIGSYS, 0, NULL },
	{ "certloader_status", t_certloader_status, 0, 0, NULL },
	{ "registrar_files", t_registrar_files, 0, 0, NULL },
	{ "registrar_thread", t_registrar_thread, 0, 0, NULL },
	{ "worker_clone_process", t_worker_clone_process, SIGSYS, 0, NULL },
	{ "registrar_outside", t_registrar_outside, 0, NEEDS_LANDLOCK, NULL },
	{ "registrar_accept", t_registrar_accept, 0, 0, NULL },
	{ "registrar_execve", t_registrar_execve, SIGSYS, 0, NULL },
	{ "registrar_status", t_registrar_status, 0, 0, NULL },
	{ "api_unveil_perms", t_api_unveil_perms, 0, 0, NULL },
	{ "api_unveil_lock", t_api_unveil_lock, 0, 0, NULL },
	{ "api_unveil_full", t_api_unveil_full, 0, 0, NULL },
	{ "api_unveil_file", t_api_unveil_file, 0, NEEDS_LANDLOCK, NULL },
	{ "api_pledge_unknown", t_api_pledge_unknown, 0, 0, NULL },
	{ "api_describe", t_api_describe, 0, 0, NULL },
	{ "api_pledge_narrow", t_api_pledge_narrow, SIGSYS, 0, NULL },
	{ "api_pledge_widen", t_api_pledge_widen, SIGSYS, 0, NULL },
	{ "api_pledge_empty", t_api_pledge_empty, SIGSYS, 0, NULL },
};

/*
 * Parent side.
 */

static void
on_signal(int sig)
{
	interrupted = 1;
	if (current_child > 0)
		(void)kill(current_child, SIGKILL);
}

static void
describe_status(char *buf, size_t len, int status)
{
	if (WIFEXITED(status))
		(void)snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		(void)snprintf(buf, len, "status %#x", status);
}

/* Returns 1 if the case passed. */
static int
run_case(const struct tcase *tc)
{
	char	 msg[512], st[64], reason[256];
	size_t	 off = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status;

	if (pipe2(p, O_CLOEXEC) == -1) {
		printf("FAIL %s: pipe2: %s\n", tc->name, strerror(errno));
		return (0);
	}
	if ((pid = fork()) == -1) {
		printf("FAIL %s: fork: %s\n", tc->name, strerror(errno));
		close(p[0]);
		close(p[1]);
		return (0);
	}
	if (pid == 0) {
		struct rlimit	 rl = { 0, 0 };

		close(p[0]);
		report_fd = p[1];
		(void)signal(SIGINT, SIG_DFL);
		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGHUP, SIG_DFL);
		/* Deaths are expected: no core files, no hang. */
		(void)setrlimit(RLIMIT_CORE, &rl);
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		(void)alarm(CASE_TIMEOUT);
		tc->fn();
		_exit(0);
	}
	current_child = pid;
	close(p[1]);
	for (;;) {
		n = read(p[0], msg + off, sizeof(msg) - 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
		if (off == sizeof(msg) - 1)
			break;
	}
	msg[off] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			printf("FAIL %s: waitpid: %s\n", tc->name,
			    strerror(errno));
			current_child = -1;
			return (0);
		}
	current_child = -1;

	describe_status(st, sizeof(st), status);
	if (msg[0] != '\0') {
		printf("FAIL %s: %s (%s)\n", tc->name, msg, st);
		return (0);
	}
	if (tc->sig == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		printf("FAIL %s: %s, want exit 0\n", tc->name, st);
		return (0);
	}
	if (tc->sig != 0 &&
	    !(WIFSIGNALED(status) && WTERMSIG(status) == tc->sig)) {
		printf("FAIL %s: %s, want %s\n", tc->name, st,
		    strsignal(tc->sig));
		return (0);
	}
	if (tc->post != NULL && tc->post(reason, sizeof(reason)) == -1) {
		printf("FAIL %s: %s\n", tc->name, reason);
		return (0);
	}
	printf("PASS %s\n", tc->name);
	return (1);
}

static int
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[PATH_MAX];
	int	 fd, rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return (-1);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return (-1);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		rc = -1;
	close(fd);
	return (rc);
}

static int
setup(void)
{
	char	 path[PATH_MAX];
	int	 i;

	if (mkdtemp(certdir) == NULL)
		return (-1);
	dirs_made[0] = 1;
	if (mkdtemp(statedir) == NULL)
		return (-1);
	dirs_made[1] = 1;
	if (mkdtemp(otherdir) == NULL)
		return (-1);
	dirs_made[2] = 1;
	if (write_file(certdir, "cert.pem", "CERTDATA\n") == -1 ||
	    write_file(otherdir, "other.txt", "other\n") == -1 ||
	    write_file(otherdir, "prefd.txt", "") == -1)
		return (-1);
	for (i = 0; i <= 8; i++) {
		(void)snprintf(path, sizeof(path), "%s/d%d", otherdir, i);
		if (mkdir(path, 0700) == -1)
			return (-1);
	}
	/* Non-blocking: a missing connection fails the case, not the run. */
	if ((parent_lfd = make_listener(&parent_addr)) == -1 ||
	    fcntl(parent_lfd, F_SETFL, O_NONBLOCK) == -1)
		return (-1);
	return (0);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) == -1)
		fprintf(stderr, "test_sandbox: remove %s: %s\n", path,
		    strerror(errno));
	return (0);
}

static void
cleanup(void)
{
	if (parent_lfd != -1)
		close(parent_lfd);
	if (dirs_made[0])
		(void)nftw(certdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (dirs_made[1])
		(void)nftw(statedir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (dirs_made[2])
		(void)nftw(otherdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	struct sigaction	 sa;
	const struct tcase	*tc;
	size_t			 i;
	long			 abi;
	int			 failed = 0, ia32;

	/* Children inherit no half-written stdout buffer. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
	landlock_abi = abi > 0 ? (int)abi : 0;
	ia32 = ia32_available();

	if (setup() == -1) {
		printf("FAIL setup: %s\n", strerror(errno));
		cleanup();
		return (1);
	}

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && !interrupted;
	    i++) {
		tc = &cases[i];
		if ((tc->flags & NEEDS_LANDLOCK) && landlock_abi == 0) {
			printf("SKIP %s: landlock unavailable\n", tc->name);
			continue;
		}
		if ((tc->flags & NEEDS_IA32) && !ia32) {
			printf("SKIP %s: this kernel runs no i386 system calls "
			    "(no IA32 emulation)\n", tc->name);
			continue;
		}
		if (!run_case(tc))
			failed++;
	}

	cleanup();
	if (interrupted) {
		printf("FAIL interrupted\n");
		return (1);
	}
	return (failed ? 1 : 0);
}
