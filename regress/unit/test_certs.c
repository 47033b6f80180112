/*
 * test_certs.c: unit tests of certs.c (reading and checking a domain's
 * pair) and tlsctx.c (building, swapping and matching server contexts),
 * on certificates made with openssl(1) at run time.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <tls.h>

#include "../../portero/portero.h"

#define DAY		86400L

static char	 tmpdir[] = "/tmp/test_certs.XXXXXX";
static int	 tmpmade;
static int	 nfail;

static void	 pass(const char *);
static void	 failf(const char *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

static void
pass(const char *name)
{
	printf("PASS %s\n", name);
	fflush(stdout);
}

static void
failf(const char *name, const char *fmt, ...)
{
	va_list	 ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	nfail++;
}

/*
 * Fixtures: a temporary directory, removed at exit whatever happens.
 */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return (0);
}

static void
cleanup(void)
{
	if (tmpmade) {
		(void)nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		tmpmade = 0;
	}
}

static void
on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
sh(const char *fmt, ...)
{
	char	 cmd[4096];
	va_list	 ap;
	int	 st;

	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st != 0)
		fprintf(stderr, "command failed (%d): %s\n", st, cmd);
	return (st == 0 ? 0 : -1);
}

static char *
tpath(const char *rel)
{
	static char	 buf[8][PATH_MAX];
	static int	 i;

	i = (i + 1) % 8;
	(void)snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return (buf[i]);
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	if ((fp = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	if ((buf = malloc(len + 1)) == NULL ||
	    fread(buf, 1, len, fp) != (size_t)len) {
		fclose(fp);
		free(buf);
		return (NULL);
	}
	buf[len] = '\0';
	fclose(fp);
	*lenp = len;
	return (buf);
}

static int
spit(const char *path, const char *data, size_t len)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL)
		return (-1);
	if (fwrite(data, 1, len, fp) != len) {
		fclose(fp);
		return (-1);
	}
	return (fclose(fp) == 0 ? 0 : -1);
}

/* A certificate by the test CA, valid from now+from to now+to seconds. */
static int
mkcert(const char *out, const char *keyfile, const char *cn, const char *san,
    long from, long to)
{
	static long	 serial = 1000;
	X509		*ca = NULL, *x = NULL;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;
	EVP_PKEY	*cakey = NULL, *key = NULL;
	FILE		*fp;
	int		 rv = -1;

	if ((fp = fopen(tpath("ca.crt"), "r")) == NULL)
		goto fail;
	ca = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if ((fp = fopen(tpath("ca.key"), "r")) == NULL)
		goto fail;
	cakey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if ((fp = fopen(keyfile, "r")) == NULL)
		goto fail;
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (ca == NULL || cakey == NULL || key == NULL ||
	    (x = X509_new()) == NULL)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, from, NULL);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, to, NULL);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	if (san != NULL) {
		X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
		if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
		    san)) == NULL)
			goto fail;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, cakey, EVP_sha256()) == 0)
		goto fail;
	if ((fp = fopen(out, "w")) == NULL)
		goto fail;
	PEM_write_X509(fp, x);
	if (fclose(fp) != 0)
		goto fail;
	rv = 0;
 fail:
	if (rv == -1)
		fprintf(stderr, "mkcert %s failed\n", out);
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return (rv);
}

/*
 * Keys in every encoding, a CA, and leaves.  openssl(1) makes what it
 * can; certificates valid at other times come from mkcert().
 */
static int
make_material(void)
{
	const char	*q = ">/dev/null 2>&1";
	const char	*d = tmpdir;

	if (sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/ca.key "
	    "-out %s/ca.crt -days 30 -subj /CN=portero-test-CA %s", d, d,
	    q) == -1 ||
	    /* RSA: PKCS#8 and PKCS#1 */
	    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out %s/rsa8.key %s", d, q) == -1 ||
	    sh("openssl rsa -in %s/rsa8.key -traditional -out %s/rsa1.key %s",
	    d, d, q) == -1 ||
	    /* EC P-256: SEC1 and PKCS#8 */
	    sh("openssl ecparam -name prime256v1 -genkey -noout "
	    "-out %s/ec1.key %s", d, q) == -1 ||
	    sh("openssl pkey -in %s/ec1.key -out %s/ec8.key %s", d, d,
	    q) == -1 ||
	    sh("openssl ec -in %s/ec1.key -out %s/ec1b.key %s", d, d,
	    q) == -1 ||
	    sh("openssl pkey -in %s/ec8.key -aes256 -passout pass:secret "
	    "-out %s/enc.key %s", d, d, q) == -1 ||
	    /* a leaf from a CSR, the usual way */
	    sh("openssl req -new -key %s/rsa8.key -subj /CN=rsa.test "
	    "-addext subjectAltName=DNS:rsa.test,DNS:www.rsa.test "
	    "-out %s/rsa.csr %s", d, d, q) == -1 ||
	    sh("openssl x509 -req -in %s/rsa.csr -CA %s/ca.crt -CAkey "
	    "%s/ca.key -CAcreateserial -days 30 -copy_extensions copy "
	    "-out %s/rsa.crt %s", d, d, d, d, q) == -1 ||
	    /* self-signed EC */
	    sh("openssl req -x509 -key %s/ec1.key -subj /CN=ec.test "
	    "-addext subjectAltName=DNS:ec.test -days 30 -out %s/ec.crt %s",
	    d, d, q) == -1)
		return (-1);

	if (mkcert(tpath("wild.crt"), tpath("ec8.key"), "*.wild.test",
	    "DNS:*.wild.test", -DAY, 30 * DAY) == -1 ||
	    mkcert(tpath("b.crt"), tpath("rsa8.key"), "b.wild.test",
	    "DNS:b.wild.test", -DAY, 30 * DAY) == -1 ||
	    mkcert(tpath("a.crt"), tpath("ec8.key"), "a.test",
	    "DNS:a.test,DNS:A2.test", -DAY, 30 * DAY) == -1 ||
	    mkcert(tpath("cn.crt"), tpath("ec8.key"), "cn.test", NULL,
	    -DAY, 30 * DAY) == -1 ||
	    mkcert(tpath("ip.crt"), tpath("ec8.key"), "ip.test",
	    "IP:127.0.0.1", -DAY, 30 * DAY) == -1 ||
	    mkcert(tpath("expired.crt"), tpath("ec8.key"), "old.test",
	    "DNS:old.test", -30 * DAY, -DAY) == -1 ||
	    mkcert(tpath("future.crt"), tpath("ec8.key"), "new.test",
	    "DNS:new.test", DAY, 30 * DAY) == -1 ||
	    mkcert(tpath("other.crt"), tpath("ec8.key"), "other.test",
	    "DNS:other.test", -DAY, 30 * DAY) == -1)
		return (-1);
	return (0);
}

/* A domain folder: cert.pem made of the files in certs, privkey.pem. */
static int
folder(const char *name, const char *certs, const char *key)
{
	char	 dir[PATH_MAX];

	(void)snprintf(dir, sizeof(dir), "%s/certs/%s", tmpdir, name);
	if (mkdir(tpath("certs"), 0755) == -1 && errno != EEXIST)
		return (-1);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return (-1);
	if (certs != NULL && sh("cd %s && cat %s > '%s/cert.pem'", tmpdir,
	    certs, dir) == -1)
		return (-1);
	if (key != NULL && sh("cp %s/%s '%s/privkey.pem'", tmpdir, key,
	    dir) == -1)
		return (-1);
	return (0);
}

/*
 * Load and check one folder as the certloader does.  Returns 0 with
 * *cp filled, or -1 with the error in err.
 */
static int
load(const char *name, struct cert_pair *cp, char *err, size_t errlen)
{
	struct cert_stamp	 cs[2];
	char			 dir[PATH_MAX];
	int			 fd, rv = -1;

	memset(cp, 0, sizeof(*cp));
	(void)snprintf(dir, sizeof(dir), "%s/certs/%s", tmpdir, name);
	err[0] = '\0';
	if (certs_domain(name, cp->cp_domain, sizeof(cp->cp_domain)) == -1) {
		(void)snprintf(err, errlen, "bad folder name");
		return (-1);
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		(void)snprintf(err, errlen, "cannot open the folder: %s",
		    strerror(errno));
		return (-1);
	}
	if (certs_load(fd, dir, cp, cs, err, errlen) == 0 &&
	    certs_check(cp, dir, time(NULL), err, errlen) == 0)
		rv = 0;
	close(fd);
	return (rv);
}

static int
names_are(const struct cert_pair *cp, const char *want)
{
	char	 got[1024] = "";
	size_t	 off, n;

	for (off = 0; off < cp->cp_nameslen; off += n + 1) {
		n = strlen(cp->cp_names + off);
		if (got[0] != '\0')
			(void)strlcat(got, ",", sizeof(got));
		(void)strlcat(got, cp->cp_names + off, sizeof(got));
	}
	return (strcmp(got, want) == 0);
}

static void
expect_ok(const char *test, const char *name, const char *names)
{
	struct cert_pair	 cp;
	char			 err[CERT_ERROR_LEN];
	time_t			 now = time(NULL);

	if (load(name, &cp, err, sizeof(err)) == -1) {
		failf(test, "%s", err);
		return;
	}
	if (!names_are(&cp, names))
		failf(test, "names are not %s", names);
	else if (cp.cp_not_after < now + 29 * DAY ||
	    cp.cp_not_after > now + 31 * DAY)
		failf(test, "not_after %lld is not in 30 days",
		    (long long)cp.cp_not_after);
	else
		pass(test);
	certs_pair_free(&cp);
}

/* The load must fail, the error name the file and say why. */
static void
expect_err(const char *test, const char *name, const char *file,
    const char *reason)
{
	struct cert_pair	 cp;
	char			 err[CERT_ERROR_LEN], want[PATH_MAX];

	(void)snprintf(want, sizeof(want), "%s/certs/%s/%s: ", tmpdir, name,
	    file);
	if (load(name, &cp, err, sizeof(err)) == 0) {
		failf(test, "accepted");
		certs_pair_free(&cp);
		return;
	}
	if (strncmp(err, want, strlen(want)) != 0)
		failf(test, "error does not start with %s: %s", want, err);
	else if (strstr(err, reason) == NULL)
		failf(test, "error does not say \"%s\": %s", reason, err);
	else
		pass(test);
	certs_pair_free(&cp);
	fprintf(stderr, "%s: %s\n", test, err);
}

static void
test_good(void)
{
	folder("rsa.test", "rsa.crt", "rsa8.key");
	expect_ok("load_rsa_pkcs8", "rsa.test", "rsa.test,www.rsa.test");

	folder("RSA1.test", "rsa.crt ca.crt", "rsa1.key");
	/* the folder is not rsa.test: the certificate does not name it */
	expect_err("load_wrong_domain", "RSA1.test", "cert.pem",
	    "certificate is not for rsa1.test");

	folder("www.rsa.test", "rsa.crt ca.crt", "rsa1.key");
	expect_ok("load_rsa_pkcs1_chain", "www.rsa.test",
	    "rsa.test,www.rsa.test");

	folder("ec.test", "ec.crt", "ec1.key");
	expect_ok("load_ec_sec1", "ec.test", "ec.test");
	folder("EC.Test", "ec.crt", "ec8.key");
	expect_ok("load_ec_pkcs8_case", "EC.Test", "ec.test");

	folder("_wildcard.wild.test", "wild.crt ca.crt", "ec8.key");
	expect_ok("load_wildcard_folder", "_wildcard.wild.test",
	    "*.wild.test");
	folder("*.wild.test", "wild.crt", "ec1b.key");
	expect_ok("load_star_folder", "*.wild.test", "*.wild.test");
	folder("x.wild.test", "wild.crt", "ec1b.key");
	expect_ok("load_covered_by_wildcard", "x.wild.test", "*.wild.test");

	folder("cn.test", "cn.crt", "ec8.key");
	expect_ok("load_cn_only", "cn.test", "cn.test");
	folder("a.test", "a.crt", "ec8.key");
	expect_ok("load_san_names", "a.test", "a.test,A2.test");
}

static void
test_bad(void)
{
	char		*buf;
	size_t		 len;
	char		 big[CERT_FILE_MAX + 100];

	folder("old.test", "expired.crt", "ec8.key");
	expect_err("err_expired", "old.test", "cert.pem",
	    "certificate expired on ");
	folder("new.test", "future.crt", "ec8.key");
	expect_err("err_not_yet_valid", "new.test", "cert.pem",
	    "certificate not valid before ");

	folder("k.test", "rsa.crt", "ec8.key");
	expect_err("err_key_mismatch", "k.test", "privkey.pem",
	    "key does not match the certificate");

	/* a body that is not base64 */
	folder("garbage.test", NULL, "ec8.key");
	spit(tpath("certs/garbage.test/cert.pem"),
	    "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
	    "-----END CERTIFICATE-----\n", 70);
	expect_err("err_malformed_pem", "garbage.test", "cert.pem",
	    "malformed PEM block");

	/* base64 of something that is not a certificate */
	spit(tpath("certs/garbage.test/cert.pem"),
	    "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n"
	    "-----END CERTIFICATE-----\n", 71);
	expect_err("err_not_a_certificate", "garbage.test", "cert.pem",
	    "does not parse");

	/* half-written: cut in the middle of the second block */
	folder("half.test", NULL, "ec8.key");
	if ((buf = slurp(tpath("ec.crt"), &len)) != NULL) {
		spit(tpath("certs/half.test/cert.pem"), buf, len / 2);
		expect_err("err_truncated_cert", "half.test", "cert.pem",
		    "truncated or malformed PEM block");
		free(buf);
	}
	if ((buf = slurp(tpath("ca.crt"), &len)) != NULL) {
		folder("half2.test", "ec.crt", "ec1.key");
		sh("cd %s && head -c %zu ca.crt >> certs/half2.test/cert.pem",
		    tmpdir, len / 2);
		expect_err("err_truncated_chain", "half2.test", "cert.pem",
		    "certificate 2: truncated");
		/* cut right after a BEGIN line */
		folder("half3.test", "ec.crt", "ec1.key");
		sh("cd %s && echo -----BEGIN CERTIFICATE----- >> "
		    "certs/half3.test/cert.pem", tmpdir);
		expect_err("err_truncated_begin", "half3.test", "cert.pem",
		    "truncated");
		free(buf);
	}
	folder("halfkey.test", "ec.crt", NULL);
	if ((buf = slurp(tpath("ec8.key"), &len)) != NULL) {
		spit(tpath("certs/halfkey.test/privkey.pem"), buf, len - 30);
		expect_err("err_truncated_key", "halfkey.test", "privkey.pem",
		    "truncated PEM block");
		free(buf);
	}

	folder("empty.test", NULL, "ec8.key");
	spit(tpath("certs/empty.test/cert.pem"), "", 0);
	expect_err("err_empty_cert", "empty.test", "cert.pem", "empty file");
	folder("nopem.test", NULL, "ec8.key");
	spit(tpath("certs/nopem.test/cert.pem"), "hello\n", 6);
	expect_err("err_no_pem", "nopem.test", "cert.pem",
	    "no certificate in the file");

	folder("nokey.test", "ec.crt", NULL);
	expect_err("err_missing_key", "nokey.test", "privkey.pem",
	    "No such file or directory");
	folder("keyless.test", "ec.crt", NULL);
	spit(tpath("certs/keyless.test/privkey.pem"), "junk\n", 5);
	expect_err("err_no_key", "keyless.test", "privkey.pem",
	    "no private key in the file");

	folder("keyincert.test", "ec.crt ec8.key", "ec8.key");
	expect_err("err_key_in_cert", "keyincert.test", "cert.pem",
	    "block 2 is a private key");

	folder("enc.test", "ec.crt", "enc.key");
	expect_err("err_encrypted_key", "enc.test", "privkey.pem",
	    "encrypted");

	folder("link.test", NULL, "ec8.key");
	if (symlink(tpath("ec.crt"), tpath("certs/link.test/cert.pem")) == 0)
		expect_err("err_symlink", "link.test", "cert.pem",
		    "symbolic link");

	folder("dir.test", NULL, "ec8.key");
	mkdir(tpath("certs/dir.test/cert.pem"), 0755);
	expect_err("err_not_regular", "dir.test", "cert.pem",
	    "not a regular file");

	folder("big.test", NULL, "ec8.key");
	memset(big, '\n', sizeof(big));
	spit(tpath("certs/big.test/cert.pem"), big, sizeof(big));
	expect_err("err_too_big", "big.test", "cert.pem", "larger than 256");

	folder("ip.test", "ip.crt", "ec8.key");
	/* its IP name counts, but does not cover the folder's name */
	expect_err("err_ip_only", "ip.test", "cert.pem",
	    "is not for ip.test (it names IP:");

	if (geteuid() != 0) {
		folder("unreadable.test", "ec.crt", "ec8.key");
		chmod(tpath("certs/unreadable.test/privkey.pem"), 0);
		expect_err("err_unreadable", "unreadable.test", "privkey.pem",
		    "Permission denied");
	}
}

/* Same contents, same hash; other contents, another; stamps likewise. */
static void
test_hash_stamps(void)
{
	struct cert_pair	 a, b;
	struct cert_stamp	 s1, s2;
	char			 err[CERT_ERROR_LEN];
	int			 fd;

	folder("h.wild.test", "wild.crt", "ec8.key");
	folder("h2.wild.test", "wild.crt", "ec8.key");
	if (load("h.wild.test", &a, err, sizeof(err)) == -1 ||
	    load("h2.wild.test", &b, err, sizeof(err)) == -1) {
		failf("hash_same", "%s", err);
		return;
	}
	if (memcmp(a.cp_hash, b.cp_hash, sizeof(a.cp_hash)) != 0)
		failf("hash_same", "differs");
	else
		pass("hash_same");
	certs_pair_free(&b);
	folder("h2.wild.test", "wild.crt", "ec1.key");
	if (load("h2.wild.test", &b, err, sizeof(err)) == -1)
		failf("hash_differs", "%s", err);
	else if (memcmp(a.cp_hash, b.cp_hash, sizeof(a.cp_hash)) == 0)
		failf("hash_differs", "same hash for another key file");
	else
		pass("hash_differs");
	certs_pair_free(&a);
	certs_pair_free(&b);

	if ((fd = open(tpath("certs/h.wild.test"),
	    O_RDONLY | O_DIRECTORY)) == -1 ||
	    certs_stat(fd, "cert.pem", &s1) == -1 ||
	    certs_stat(fd, "cert.pem", &s2) == -1 ||
	    !certs_stamp_equal(&s1, &s2)) {
		failf("stamp_same", "stat failed or stamps differ");
		if (fd != -1)
			close(fd);
		return;
	}
	pass("stamp_same");
	folder("h.wild.test", "ec.crt", NULL);	/* rewritten in place */
	if (certs_stat(fd, "cert.pem", &s2) == -1 ||
	    certs_stamp_equal(&s1, &s2))
		failf("stamp_rewritten", "a rewritten file looks the same");
	else
		pass("stamp_rewritten");
	close(fd);
}

static void
test_domain(void)
{
	static const struct {
		const char	*dir;
		const char	*domain;	/* NULL: refused */
	} t[] = {
		{ "example.com", "example.com" },
		{ "Example.COM", "example.com" },
		{ "localhost", "localhost" },
		{ "_wildcard.example.com", "*.example.com" },
		{ "_WILDCARD.Example.com", "*.example.com" },
		{ "*.example.com", "*.example.com" },
		{ "a-b.c_d.example", "a-b.c_d.example" },
		{ "_wildcard.com", NULL },
		{ "*.com", NULL },
		{ "*", NULL },
		{ "_wildcard.", NULL },
		{ "a..b", NULL },
		{ "-a.b", NULL },
		{ "a-.b", NULL },
		{ "a.b.", NULL },
		{ "lost+found", NULL },
		{ "a b", NULL },
		{ "*.*.example.com", NULL },
		{ "x*.example.com", NULL },
		{ "0123456789012345678901234567890123456789012345678901234567"
		  "890123.com", NULL },
		{ "0123456789012345678901234567890123456789012345678901234567"
		  "89012.com", "0123456789012345678901234567890123456789012345"
		  "67890123456789012.com" },
	};
	char	 out[NAME_MAX_LEN];
	size_t	 i;
	int	 rv, bad = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rv = certs_domain(t[i].dir, out, sizeof(out));
		if (t[i].domain == NULL && rv != -1) {
			failf("certs_domain", "%s accepted as %s", t[i].dir,
			    out);
			bad = 1;
		} else if (t[i].domain != NULL && (rv == -1 ||
		    strcmp(out, t[i].domain) != 0)) {
			failf("certs_domain", "%s: got %s, want %s", t[i].dir,
			    rv == -1 ? "refusal" : out, t[i].domain);
			bad = 1;
		}
	}
	if (!bad)
		pass("certs_domain");
}

static void
test_match(void)
{
	static const struct {
		const char	*pattern;
		const char	*name;
		int		 want;
	} t[] = {
		{ "a.example.com", "a.example.com", 1 },
		{ "a.example.com", "A.Example.COM", 1 },
		{ "a.example.com", "b.example.com", 0 },
		{ "a.example.com", "a.example.co", 0 },
		{ "a.example.com", "a.example.comm", 0 },
		{ "*.example.com", "a.example.com", 1 },
		{ "*.example.com", "XYZ.EXAMPLE.com", 1 },
		{ "*.example.com", "example.com", 0 },
		{ "*.example.com", "a.b.example.com", 0 },
		{ "*.example.com", ".example.com", 0 },
		{ "*.example.com", "*.example.com", 1 },
		{ "*.com", "example.com", 0 },
		{ "*", "example", 0 },
		{ "*example.com", "aexample.com", 0 },
		{ "a*.example.com", "ab.example.com", 0 },
		{ "*..com", "a..com", 0 },
	};
	size_t	 i;
	int	 bad = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (certs_name_match(t[i].pattern, t[i].name,
		    strlen(t[i].name)) != t[i].want) {
			failf("name_match", "%s vs %s: want %d", t[i].pattern,
			    t[i].name, t[i].want);
			bad = 1;
		}
	/* the name need not be NUL-terminated */
	if (!certs_name_match("a.example.com", "a.example.com:443", 13) ||
	    certs_name_match("a.example.com", "a.example.com:443", 12)) {
		failf("name_match", "length not honoured");
		bad = 1;
	}
	if (!bad)
		pass("name_match");

	if (!certs_names_cover("a.test\0*.b.test\0", 16, "x.b.test", 8) ||
	    certs_names_cover("a.test\0*.b.test\0", 16, "b.test", 6) ||
	    !certs_names_cover("a.test\0*.b.test\0", 16, "A.TEST", 6))
		failf("names_cover", "wrong answer");
	else
		pass("names_cover");
}

/*
 * certs_sni_pick() must answer as certs_names_pick() does, for every
 * name against a set with the default's names, exact names, wildcards
 * (valid and not), names two pairs share, and any case.
 */
static void
test_sni_table(void)
{
	static const char	 names0[] = "d.test\0*.w.test\0";
	static const char	 names1[] = "a.test\0B.Test\0";
	static const char	 names2[] = "*.w.test\0x.w.test\0";
	static const char	 names3[] = "x.w.test\0*.test\0*.com\0";
	static const char	 names4[] = "*..v.test\0*.v.test\0a.test\0";
	static const char	 names5[] = "*.w.TEST\0d.test\0y.z.w.test\0";
	static const char	*sni[] = { "a.test", "A.TEST", "b.test",
	    "B.TEST", "c.test", "d.test", "x.w.test", "X.W.test",
	    "y.w.test", "w.test", ".w.test", "y.z.w.test", "Y.Z.W.TEST",
	    "q.z.w.test", "*.w.test", "*.test", "foo.com", "com", "*.com",
	    "v.test", "a.v.test", "a..v.test", "*..v.test", "test", ".test",
	    "a.test.", "", "a", "..", ".", "x..w.test", "e.test", NULL };
	struct ptls_names	 pn[6];
	struct certs_sni	*sn;
	char			 many[40];
	unsigned int		 i, n, want, got;
	int			 bad = 0;

	pn[0].pn_names = (char *)names0;
	pn[0].pn_len = sizeof(names0) - 1;
	pn[1].pn_names = (char *)names1;
	pn[1].pn_len = sizeof(names1) - 1;
	pn[2].pn_names = (char *)names2;
	pn[2].pn_len = sizeof(names2) - 1;
	pn[3].pn_names = (char *)names3;
	pn[3].pn_len = sizeof(names3) - 1;
	pn[4].pn_names = (char *)names4;
	pn[4].pn_len = sizeof(names4) - 1;
	pn[5].pn_names = (char *)names5;
	pn[5].pn_len = sizeof(names5) - 1;
	for (n = 0; n <= 6; n++) {
		if ((sn = certs_sni_new(pn, n)) == NULL) {
			failf("sni_table", "no table of %u pairs", n);
			return;
		}
		for (i = 0; sni[i] != NULL; i++) {
			want = certs_names_pick(pn, n, sni[i]);
			if ((got = certs_sni_pick(sn, sni[i])) != want) {
				failf("sni_table", "%u pairs, SNI \"%s\": "
				    "pair %u, want %u", n, sni[i], got, want);
				bad = 1;
			}
		}
		if (certs_sni_pick(sn, NULL) != 0) {
			failf("sni_table", "no SNI: not the default");
			bad = 1;
		}
		/* many probes that miss: the table stays right when full */
		for (i = 0; i < 2000 && !bad; i++) {
			(void)snprintf(many, sizeof(many), "h%u.%s", i,
			    i % 2 ? "w.test" : "nowhere.test");
			if (certs_sni_pick(sn, many) !=
			    certs_names_pick(pn, n, many)) {
				failf("sni_table", "SNI %s", many);
				bad = 1;
			}
		}
		certs_sni_free(sn);
	}
	if (!bad)
		pass("sni_table");
}

static void
test_names_check(void)
{
	char		 many[CERT_MAX_NAMES * 2 + 3];
	unsigned int	 n;
	int		 i;

	for (i = 0; i < CERT_MAX_NAMES + 1; i++) {
		many[2 * i] = 'a';
		many[2 * i + 1] = '\0';
	}
	if (certs_names_check("a\0b\0", 4, &n) == -1 || n != 2 ||
	    certs_names_check("a\0b", 3, &n) != -1 ||
	    certs_names_check("a\0\0b\0", 5, &n) != -1 ||
	    certs_names_check("", 0, &n) != -1 ||
	    certs_names_check("\0", 1, &n) != -1 ||
	    certs_names_check(many, 2 * CERT_MAX_NAMES, &n) == -1 ||
	    n != CERT_MAX_NAMES ||
	    certs_names_check(many, 2 * (CERT_MAX_NAMES + 1), &n) != -1)
		failf("names_check", "wrong answer");
	else
		pass("names_check");
}

/*
 * tlsctx: sets arrive as the worker gets them, in messages.
 */

/* One message, taken off the wire as the worker does (worker.c). */
static int
feed(uint32_t type, const void *data, size_t len)
{
	struct imsg		 imsg;
	struct cert_begin	 cb;
	struct cert_msg		 cm;
	const void		*p;
	size_t			 n;

	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = type;
	imsg.hdr.len = IMSG_HEADER_SIZE + len;
	imsg.fd = -1;
	imsg.data = (void *)data;
	imsg.len = len;
	if (imsg_check(&imsg, PROC_PARENT, PROC_WORKER) == -1)
		return (-1);
	switch (type) {
	case IMSG_CERT_BEGIN:
		if (config_getcertbegin(&imsg, &cb) == -1)
			return (-1);
		return (tlsctx_cert_begin(&cb));
	case IMSG_CERT_ADD:
		if (config_getcert(&imsg, &cm) == -1)
			return (-1);
		return (tlsctx_cert_add(&cm));
	case IMSG_CERT_DATA:
		if (config_getcertdata(&imsg, &p, &n) == -1)
			return (-1);
		return (tlsctx_cert_data(p, n));
	default:
		return (tlsctx_cert_end());
	}
}

static uint32_t	 transfers;

static int
feed_begin(uint32_t npairs, uint64_t bytes)
{
	struct cert_begin	 cb;

	memset(&cb, 0, sizeof(cb));
	cb.cb_transfer = ++transfers;
	cb.cb_npairs = npairs;
	cb.cb_bytes = bytes;
	return (feed(IMSG_CERT_BEGIN, &cb, sizeof(cb)));
}

/* Pairs staged by feed_pair(), sent as one set by feed_set(). */
struct staged {
	struct cert_msg	 st_cm;
	char		*st_all;
	size_t		 st_len;
	size_t		 st_chunk;
};
static struct staged	 stage[8];
static size_t		 nstage;

/*
 * The staged pairs as the certloader sends a set: BEGIN with the totals,
 * each pair's header and its bytes in chunks, END.  Every message of the
 * set must be counted for the acknowledgement.
 */
static int
feed_set(void)
{
	struct cert_ack	 ca;
	uint64_t	 bytes = 0;
	size_t		 i, off, n;
	uint32_t	 msgs = 2;
	int		 rv = 0;

	for (i = 0; i < nstage; i++)
		bytes += stage[i].st_len;
	if (feed_begin(nstage, bytes) == -1)
		rv = -1;
	for (i = 0; i < nstage; i++) {
		if (rv == 0 && feed(IMSG_CERT_ADD, &stage[i].st_cm,
		    sizeof(stage[i].st_cm)) == -1)
			rv = -1;
		msgs++;
		for (off = 0; off < stage[i].st_len; off += n) {
			n = stage[i].st_len - off < stage[i].st_chunk ?
			    stage[i].st_len - off : stage[i].st_chunk;
			if (rv == 0 && feed(IMSG_CERT_DATA,
			    stage[i].st_all + off, n) == -1)
				rv = -1;
			msgs++;
		}
		free(stage[i].st_all);
	}
	nstage = 0;
	if (rv == 0 && feed(IMSG_CERT_END, NULL, 0) == -1)
		rv = -1;
	if (rv == 0 && (tlsctx_cert_progress(&ca) == -1 ||
	    ca.ca_transfer != transfers || ca.ca_count != msgs)) {
		fprintf(stderr, "feed_set: acknowledged %u messages, sent "
		    "%u\n", ca.ca_count, msgs);
		rv = -1;
	}
	return (rv);
}

/* One pair, as the certloader sends it, in chunks of chunk bytes. */
static int
feed_pair(const char *domain, const char *certfiles, const char *keyfile,
    const char *sendkey, size_t chunk)
{
	struct cert_pair	 cp;
	struct cert_msg		 cm;
	char			*all, *cert, *key, *p;
	size_t			 certlen, keylen, len;
	int			 rv = -1;

	memset(&cp, 0, sizeof(cp));
	if (sh("cd %s && cat %s > set.pem", tmpdir, certfiles) == -1 ||
	    (cert = slurp(tpath("set.pem"), &certlen)) == NULL)
		return (-1);
	if ((key = slurp(tpath(keyfile), &keylen)) == NULL) {
		free(cert);
		return (-1);
	}
	/* names as certs.c finds them */
	(void)strlcpy(cp.cp_domain, domain, sizeof(cp.cp_domain));
	cp.cp_cert = cert;
	cp.cp_certlen = certlen;
	cp.cp_key = key;
	cp.cp_keylen = keylen;
	{
		char	 err[CERT_ERROR_LEN];

		if (certs_check(&cp, domain, time(NULL), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "feed_pair: %s\n", err);
			goto fail;
		}
	}
	/* a key the certloader would never send, for libtls to refuse */
	if (sendkey != NULL) {
		freezero(key, keylen + 1);
		cp.cp_key = NULL;
		if ((key = slurp(tpath(sendkey), &keylen)) == NULL)
			goto fail;
		cp.cp_key = key;
		cp.cp_keylen = keylen;
	}
	memset(&cm, 0, sizeof(cm));
	(void)strlcpy(cm.cm_domain, domain, sizeof(cm.cm_domain));
	cm.cm_names_len = cp.cp_nameslen;
	cm.cm_cert_len = certlen;
	cm.cm_key_len = keylen;
	len = cp.cp_nameslen + certlen + keylen;
	if ((all = malloc(len)) == NULL)
		goto fail;
	p = all;
	memcpy(p, cp.cp_names, cp.cp_nameslen);
	memcpy(p += cp.cp_nameslen, cert, certlen);
	memcpy(p + certlen, key, keylen);
	if (nstage == sizeof(stage) / sizeof(stage[0])) {
		free(all);
		goto fail;
	}
	stage[nstage].st_cm = cm;
	stage[nstage].st_all = all;
	stage[nstage].st_len = len;
	stage[nstage].st_chunk = chunk;
	nstage++;
	rv = 0;
 fail:
	certs_pair_free(&cp);
	return (rv);
}

struct hs_result {
	char	 subject[256];
	char	 alpn[32];
	char	 version[32];
	char	 data[16];
	int	 ok;
};

/*
 * One handshake over a socketpair: the client, in a child, reports what
 * it got; between the handshake and the first write, the server side
 * runs between() (to swap sets under an open connection).
 */
static int
handshake(struct tlsctx *tc, const char *sni, uint32_t protos,
    void (*between)(struct ptls *), struct hs_result *res)
{
	struct tls_config	*cc;
	struct tls		*c;
	struct ptls		*conn;
	struct hs_result	 r;
	const char		*s;
	int			 sp[2], pp[2], rv;
	ssize_t			 n;
	pid_t			 pid;

	memset(res, 0, sizeof(*res));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 || pipe(pp) == -1)
		return (-1);
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		close(sp[0]);
		close(pp[0]);
		memset(&r, 0, sizeof(r));
		cc = tls_config_new();
		tls_config_insecure_noverifycert(cc);
		tls_config_insecure_noverifyname(cc);
		tls_config_set_protocols(cc, protos);
		tls_config_set_alpn(cc, "h2,http/1.1");
		c = tls_client();
		tls_configure(c, cc);
		if (tls_connect_socket(c, sp[1], sni) == 0 &&
		    tls_handshake(c) == 0) {
			r.ok = 1;
			if ((s = tls_peer_cert_subject(c)) != NULL)
				strlcpy(r.subject, s, sizeof(r.subject));
			if ((s = tls_conn_alpn_selected(c)) != NULL)
				strlcpy(r.alpn, s, sizeof(r.alpn));
			if ((s = tls_conn_version(c)) != NULL)
				strlcpy(r.version, s, sizeof(r.version));
			/* a TLS 1.3 ticket first reads as "want more" */
			while ((n = tls_read(c, r.data, sizeof(r.data) -
			    1)) == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				;
			if (n < 0)
				r.data[0] = '\0';
		}
		_exit(write(pp[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(sp[1]);
	close(pp[1]);
	rv = -1;
	if ((conn = tlsctx_accept(tc, sp[0])) != NULL) {
		while ((rv = ptls_handshake(conn)) == PTLS_WANT_READ ||
		    rv == PTLS_WANT_WRITE)
			;
		if (rv == 0) {
			if (between != NULL)
				between(conn);
			(void)ptls_write(conn, "hello", 5);
		}
		(void)ptls_close(conn);
		ptls_free(conn);
	}
	close(sp[0]);
	if (read(pp[0], res, sizeof(*res)) != sizeof(*res))
		res->ok = 0;
	close(pp[0]);
	waitpid(pid, NULL, 0);
	return (rv == 0 && res->ok ? 0 : -1);
}

static void
expect_cert(const char *test, struct tlsctx *tc, const char *sni,
    const char *cn)
{
	struct hs_result	 r;
	char			 want[256];

	(void)snprintf(want, sizeof(want), "/CN=%s", cn);
	if (handshake(tc, sni, TLS_PROTOCOLS_ALL, NULL, &r) == -1)
		failf(test, "handshake with SNI %s failed", sni ? sni : "-");
	else if (strcmp(r.subject, want) != 0)
		failf(test, "SNI %s got %s, want %s", sni ? sni : "-",
		    r.subject, want);
	else if (strcmp(r.alpn, "h2") != 0)
		failf(test, "ALPN %s", r.alpn);
	else if (strcmp(r.data, "hello") != 0)
		failf(test, "read \"%s\"", r.data);
	else
		pass(test);
}

/* What expect_host() asks of a connection, between handshake and write. */
static struct tlsctx	*host_tc;
static const char	*host_name;
static int		 host_ok;

static void
check_host(struct ptls *conn)
{
	host_ok = tlsctx_host_ok(host_tc, conn, host_name, strlen(host_name));
}

static void
expect_host(const char *test, struct tlsctx *tc, const char *sni,
    const char *host, int want)
{
	struct hs_result	 r;

	host_tc = tc;
	host_name = host;
	host_ok = -1;
	if (handshake(tc, sni, TLS_PROTOCOLS_ALL, check_host, &r) == -1)
		failf(test, "handshake with SNI %s failed", sni ? sni : "-");
	else if (host_ok != want)
		failf(test, "SNI %s, Host %s: %d, want %d", sni ? sni : "-",
		    host, host_ok, want);
	else
		pass(test);
}

/* The set a worker gets: default a.test, then exact, then wildcard. */
static int
feed_main_set(size_t chunk)
{
	if (feed_pair("a.test", "a.crt", "ec8.key", NULL, chunk) == -1 ||
	    feed_pair("b.wild.test", "b.crt ca.crt", "rsa1.key", NULL,
	    chunk) == -1 ||
	    feed_pair("rsa.test", "rsa.crt", "rsa8.key", NULL, chunk) == -1 ||
	    feed_pair("*.wild.test", "wild.crt", "ec1.key", NULL, chunk) == -1)
		return (-1);
	return (feed_set());
}

static struct tlsctx	*swapped_old;

/* Under an open connection: a new set in, the old context let go. */
static void
swap_under(struct ptls *conn)
{
	if (feed_pair("ec.test", "ec.crt", "ec8.key", NULL, 700) == -1 ||
	    feed_set() == -1)
		failf("swap_open_connection", "set refused");
	tlsctx_unref(swapped_old);
	swapped_old = NULL;
}

static void
test_tlsctx(void)
{
	struct ticket_key_msg	 tk;
	struct cert_msg		 cm;
	struct cert_ack		 ca;
	struct hs_result	 r;
	struct tlsctx		*tc, *old;
	struct portero_config	 conf;
	char			 buf[27];

	memset(&conf, 0, sizeof(conf));
	conf.tls_ticket_rotate = PORTERO_TICKET_ROTATE;
	tlsctx_init(&conf);
	if (tlsctx_current() != NULL) {
		failf("tlsctx_empty_start", "a context before any set");
		return;
	}
	pass("tlsctx_empty_start");

	/* ticket keys before the first set, newest first (as at start) */
	memset(&tk, 0, sizeof(tk));
	arc4random_buf(tk.tk_sessid, sizeof(tk.tk_sessid));
	tk.tk_rev = 7;
	arc4random_buf(tk.tk_key, sizeof(tk.tk_key));
	tlsctx_ticket_key(&tk);
	tk.tk_rev = 6;
	arc4random_buf(tk.tk_key, sizeof(tk.tk_key));
	tlsctx_ticket_key(&tk);

	if (feed_main_set(1000) == -1 || (tc = tlsctx_current()) == NULL) {
		failf("tlsctx_build", "set refused");
		return;
	}
	pass("tlsctx_build");

	expect_cert("sni_default_no_sni", tc, NULL, "a.test");
	expect_cert("sni_unknown_default", tc, "nowhere.test", "a.test");
	expect_cert("sni_exact", tc, "rsa.test", "rsa.test");
	expect_cert("sni_exact_case", tc, "WWW.RSA.test", "rsa.test");
	expect_cert("sni_exact_beats_wildcard", tc, "b.wild.test",
	    "b.wild.test");
	expect_cert("sni_wildcard", tc, "c.wild.test", "*.wild.test");
	expect_cert("sni_wildcard_one_label", tc, "x.c.wild.test", "a.test");
	expect_cert("sni_second_name", tc, "a2.test", "a.test");

	expect_host("host_same", tc, "rsa.test", "rsa.test", 1);
	expect_host("host_other_name_same_cert", tc, "rsa.test",
	    "WWW.rsa.test", 1);
	expect_host("host_misdirected", tc, "rsa.test", "a.test", 0);
	expect_host("host_under_one_wildcard", tc, "c.wild.test",
	    "d.wild.test", 1);
	expect_host("host_exact_not_wildcard", tc, "c.wild.test",
	    "b.wild.test", 1);
	expect_host("host_from_exact_cert", tc, "b.wild.test",
	    "c.wild.test", 0);
	expect_host("host_no_sni_default", tc, NULL, "a.test", 1);
	/* without SNI nothing was promised: routed by Host (nginx does) */
	expect_host("host_no_sni_other", tc, NULL, "rsa.test", 1);
	expect_host("host_trailing_dot", tc, "rsa.test", "rsa.test.", 1);
	expect_host("host_empty", tc, "rsa.test", "", 0);

	if (handshake(tc, "rsa.test", TLS_PROTOCOL_TLSv1_2, NULL, &r) == -1 ||
	    strcmp(r.version, "TLSv1.2") != 0)
		failf("tls12", "handshake failed or %s", r.version);
	else
		pass("tls12");
	if (handshake(tc, "rsa.test", TLS_PROTOCOL_TLSv1_3, NULL, &r) == -1 ||
	    strcmp(r.version, "TLSv1.3") != 0)
		failf("tls13", "handshake failed or %s", r.version);
	else
		pass("tls13");
	if (handshake(tc, "rsa.test", TLS_PROTOCOL_TLSv1_0 |
	    TLS_PROTOCOL_TLSv1_1, NULL, &r) == 0)
		failf("no_tls11", "a TLS 1.1 handshake succeeded");
	else
		pass("no_tls11");

	/* a newer key goes into the context in service; handshakes go on */
	tk.tk_rev = 8;
	arc4random_buf(tk.tk_key, sizeof(tk.tk_key));
	tlsctx_ticket_key(&tk);
	tlsctx_ticket_key(&tk);
	expect_cert("ticket_key_live", tc, "rsa.test", "rsa.test");

	/* a set libtls refuses leaves the current one in service */
	if (feed_pair("x.wild.test", "wild.crt", "ec8.key", "rsa8.key",
	    500) == -1 ||
	    feed_set() == -1)
		failf("bad_set_kept", "set not even taken");
	else if (tlsctx_current() != tc)
		failf("bad_set_kept", "current context changed");
	else
		pass("bad_set_kept");

	/* a connection open on the old context outlives it */
	old = tlsctx_current();
	tlsctx_ref(old);
	swapped_old = old;
	if (handshake(old, "rsa.test", TLS_PROTOCOLS_ALL, swap_under,
	    &r) == -1 || strcmp(r.data, "hello") != 0)
		failf("swap_open_connection", "the open connection broke");
	else if (tlsctx_current() == old || tlsctx_current() == NULL)
		failf("swap_open_connection", "no new context");
	else
		pass("swap_open_connection");
	expect_cert("swap_new_handshakes", tlsctx_current(), "rsa.test",
	    "ec.test");

	/* an empty set: no context */
	if (feed_set() == -1 || tlsctx_current() != NULL)
		failf("empty_set", "a context is left");
	else
		pass("empty_set");

	/*
	 * Messages of a set this worker never began (left over from its
	 * predecessor's transfer) are ignored, never acknowledged.
	 */
	memset(&cm, 0, sizeof(cm));
	strlcpy(cm.cm_domain, "p.test", sizeof(cm.cm_domain));
	cm.cm_names_len = 7;
	cm.cm_cert_len = 10;
	cm.cm_key_len = 10;
	if (feed(IMSG_CERT_DATA, "x", 1) == -1 ||
	    tlsctx_cert_progress(&ca) != -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) == -1 ||
	    feed(IMSG_CERT_END, NULL, 0) == -1 ||
	    tlsctx_cert_progress(&ca) != -1)
		failf("stale_ignored", "refused or acknowledged");
	else
		pass("stale_ignored");

	/* protocol errors, each its own try within a set */
	if (feed(IMSG_CERT_ADD, &cm, sizeof(cm) - 1) != -1)
		failf("proto_add_short", "accepted");
	else
		pass("proto_add_short");
	memset(cm.cm_domain, 'x', sizeof(cm.cm_domain));
	if (feed(IMSG_CERT_ADD, &cm, sizeof(cm)) != -1)
		failf("proto_domain_unterminated", "accepted");
	else
		pass("proto_domain_unterminated");
	strlcpy(cm.cm_domain, "p.test", sizeof(cm.cm_domain));
	cm.cm_key_len = CERT_MAX_BYTES;
	if (feed(IMSG_CERT_ADD, &cm, sizeof(cm)) != -1)
		failf("proto_too_big", "accepted");
	else
		pass("proto_too_big");
	cm.cm_key_len = 10;
	if (feed_begin(1, 27) == -1 ||
	    feed(IMSG_CERT_DATA, "x", 1) != -1)
		failf("proto_data_first", "accepted");
	else
		pass("proto_data_first");
	if (feed_begin(2, 54) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) == -1 ||
	    feed(IMSG_CERT_DATA, "p.test\0xxxxxxxx", 15) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) != -1)
		failf("proto_add_before_whole", "accepted");
	else
		pass("proto_add_before_whole");
	if (feed(IMSG_CERT_END, NULL, 0) != -1)
		failf("proto_end_before_whole", "accepted");
	else
		pass("proto_end_before_whole");
	memset(buf, 'y', sizeof(buf));
	if (feed_begin(1, 27) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) == -1 ||
	    feed(IMSG_CERT_DATA, buf, 13) == -1 ||
	    feed(IMSG_CERT_DATA, buf, 15) != -1)
		failf("proto_data_overflow", "accepted");
	else
		pass("proto_data_overflow");
	memcpy(buf, "p.testX", 7);
	if (feed_begin(1, 27) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) == -1 ||
	    feed(IMSG_CERT_DATA, buf, 27) != -1)
		failf("proto_names_unterminated", "accepted");
	else
		pass("proto_names_unterminated");
	memcpy(buf, "p.test\0", 7);
	if (feed_begin(1, 27) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) == -1 ||
	    feed(IMSG_CERT_DATA, buf, 27) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) != -1)
		failf("proto_more_pairs_than_announced", "accepted");
	else
		pass("proto_more_pairs_than_announced");
	if (feed_begin(2, 54) == -1 ||
	    feed(IMSG_CERT_ADD, &cm, sizeof(cm)) == -1 ||
	    feed(IMSG_CERT_DATA, buf, 27) == -1 ||
	    feed(IMSG_CERT_END, NULL, 0) != -1)
		failf("proto_fewer_pairs_than_announced", "accepted");
	else
		pass("proto_fewer_pairs_than_announced");
	if (feed_begin(CERT_MAX_DOMAINS + 1, 27) != -1)
		failf("proto_begin_too_many", "accepted");
	else
		pass("proto_begin_too_many");
	if (tlsctx_current() != NULL)
		failf("proto_errors_change_nothing", "a context appeared");
	else
		pass("proto_errors_change_nothing");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (system("openssl version >/dev/null 2>&1") != 0) {
		printf("SKIP test_certs: no openssl command\n");
		return (0);
	}
	if (mkdtemp(tmpdir) == NULL) {
		printf("FAIL test_certs: mkdtemp: %s\n", strerror(errno));
		return (1);
	}
	tmpmade = 1;
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	if (certs_init() == -1) {
		printf("FAIL certs_init\n");
		return (1);
	}
	if (make_material() == -1) {
		printf("FAIL make_material: openssl failed\n");
		return (1);
	}
	test_domain();
	test_match();
	test_names_check();
	test_sni_table();
	test_good();
	test_bad();
	test_hash_stamps();
	test_tlsctx();
	return (nfail > 0 ? 1 : 0);
}
