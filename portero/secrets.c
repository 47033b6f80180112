/*
 * secrets.c: the registration API's shared secret and token keys: read
 * by the parent from files, flags or the environment, sent to the
 * registrar alone, and kept out of every other process and environment.
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

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portero.h"

#define ENV_REGISTER_SECRET	"PORTERO_REGISTER_SECRET"
#define ENV_JWT_KEY		"PORTERO_JWT_HMAC_KEY"

/* One secret of the set: its bytes and length, by SECRET_* number. */
static unsigned char *
secrets_slot(struct reg_secrets *rs, int which, uint32_t **lenp)
{
	switch (which) {
	case SECRET_REGISTER:
		*lenp = &rs->rs_secret_len;
		return (rs->rs_secret);
	case SECRET_JWT_KEY:
		*lenp = &rs->rs_key_len;
		return (rs->rs_key);
	}
	*lenp = &rs->rs_prevkey_len;
	return (rs->rs_prevkey);
}

/* A secret given on the command line (where ps shows it: files are
 * better, the man page says). */
int
secrets_set(struct reg_secrets *rs, int which, const char *value,
    const char *what)
{
	unsigned char	*p;
	uint32_t	*lenp;
	size_t		 len = strlen(value);

	if (len == 0 || len > REG_SECRET_MAX) {
		log_warnx("%s: want 1 to %d bytes", what, REG_SECRET_MAX);
		return (-1);
	}
	p = secrets_slot(rs, which, &lenp);
	memcpy(p, value, len);
	*lenp = len;
	return (0);
}

/*
 * The environment's secrets, taken once at start and removed from it,
 * so no child is ever executed with them.
 */
void
secrets_from_env(struct reg_secrets *envrs)
{
	const char	*v;

	memset(envrs, 0, sizeof(*envrs));
	if ((v = getenv(ENV_REGISTER_SECRET)) != NULL && *v != '\0')
		(void)secrets_set(envrs, SECRET_REGISTER, v,
		    ENV_REGISTER_SECRET);
	if ((v = getenv(ENV_JWT_KEY)) != NULL && *v != '\0')
		(void)secrets_set(envrs, SECRET_JWT_KEY, v, ENV_JWT_KEY);
	if (unsetenv(ENV_REGISTER_SECRET) == -1 ||
	    unsetenv(ENV_JWT_KEY) == -1)
		fatal("unsetenv");
}

/*
 * A secret file: its bytes are the secret, less one trailing newline.
 * A file others may read is said to be so.
 */
static int
secrets_read(const char *path, int which, struct reg_secrets *rs)
{
	unsigned char	 buf[REG_SECRET_MAX + 2], *p;
	struct stat	 st;
	uint32_t	*lenp;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		close(fd);
		return (-1);
	}
	if (st.st_mode & S_IROTH)
		log_warnx("%s: readable by every user; make it mode 0600 or "
		    "0640", path);
	while (len < sizeof(buf) && (n = read(fd, buf + len,
	    sizeof(buf) - len)) > 0)
		len += n;
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > REG_SECRET_MAX) {
		log_warnx("%s: want 1 to %d bytes (a newline at the end is "
		    "not counted)", path, REG_SECRET_MAX);
		explicit_bzero(buf, sizeof(buf));
		return (-1);
	}
	p = secrets_slot(rs, which, &lenp);
	memcpy(p, buf, len);
	*lenp = len;
	explicit_bzero(buf, sizeof(buf));
	return (0);
}

/*
 * Complete rs, which holds what flags gave: a file wins over nothing, a
 * flag over the environment.  The API needs both the secret and a key,
 * unless it is off; what is missing is named.  At start and on reload,
 * so a key rotated in its file is taken by SIGHUP.
 */
int
secrets_load(const struct portero_config *conf, struct reg_secrets *rs,
    const struct reg_secrets *envrs)
{
	int	 ret = 0;

	if (conf->no_register) {
		explicit_bzero(rs, sizeof(*rs));
		return (0);
	}
	if (conf->register_secret_file[0] != '\0' && rs->rs_secret_len > 0) {
		log_warnx("give --register-secret or --register-secret-file, "
		    "not both");
		ret = -1;
	} else if (conf->register_secret_file[0] != '\0')
		ret |= secrets_read(conf->register_secret_file,
		    SECRET_REGISTER, rs);
	else if (rs->rs_secret_len == 0 && envrs->rs_secret_len > 0) {
		memcpy(rs->rs_secret, envrs->rs_secret, envrs->rs_secret_len);
		rs->rs_secret_len = envrs->rs_secret_len;
	}
	if (conf->jwt_key_file[0] != '\0' && rs->rs_key_len > 0) {
		log_warnx("give --jwt-hmac-key or --jwt-hmac-key-file, not "
		    "both");
		ret = -1;
	} else if (conf->jwt_key_file[0] != '\0')
		ret |= secrets_read(conf->jwt_key_file, SECRET_JWT_KEY, rs);
	else if (rs->rs_key_len == 0 && envrs->rs_key_len > 0) {
		memcpy(rs->rs_key, envrs->rs_key, envrs->rs_key_len);
		rs->rs_key_len = envrs->rs_key_len;
	}
	if (conf->jwt_prevkey_file[0] != '\0')
		ret |= secrets_read(conf->jwt_prevkey_file, SECRET_JWT_PREVKEY,
		    rs);
	if (ret != 0)
		return (-1);
	if (rs->rs_secret_len == 0 || rs->rs_key_len == 0) {
		log_warnx("the registration API needs %s%s%s; or turn it off "
		    "with --no-register", rs->rs_secret_len == 0 ?
		    "a shared secret (--register-secret-file, "
		    "--register-secret or " ENV_REGISTER_SECRET ")" : "",
		    rs->rs_secret_len == 0 && rs->rs_key_len == 0 ?
		    " and " : "", rs->rs_key_len == 0 ? "a token key "
		    "(--jwt-hmac-key-file, --jwt-hmac-key or " ENV_JWT_KEY
		    ")" : "");
		return (-1);
	}
	return (0);
}
