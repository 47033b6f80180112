/*
 * certs.c: reading and checking one domain's certificate and key, and the
 * name matching libtls does for SNI; pure functions, no process state.
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "portero.h"

#define CERT_CHAIN_MAX		16	/* certificates in one cert.pem */
#define CERT_NAME_MAX		253	/* a DNS name, without the root dot */

static int	 certs_read(int, const char *, const char *, char **,
		    size_t *, struct cert_stamp *, char *, size_t);
static int	 certs_read_fd(int, const char *, char **, size_t *,
		    struct stat *, char *, size_t);
static void	 certs_stamp(const struct stat *, struct cert_stamp *);
static int	 certs_hash(struct cert_pair *);
static int	 certs_check_files(struct cert_pair *, const char *,
		    const char *, const char *, time_t, char *, size_t);
static int	 certs_chain(struct cert_pair *, const char *, X509 **, char *,
		    size_t);
static int	 certs_key(struct cert_pair *, const char *, EVP_PKEY **,
		    char *, size_t);
static int	 certs_names(struct cert_pair *, X509 *, const char *, char *,
		    size_t);
static int	 certs_names_add(struct cert_pair *, const char *, size_t);
static int	 certs_names_add_ip(struct cert_pair *, const ASN1_STRING *);
static int	 certs_name_ok(const char *, size_t);
static int	 certs_asn1_time(const ASN1_TIME *, time_t *);
static int	 certs_nopass(char *, int, int, void *);
static const char *certs_ssl_reason(void);
static int	 certs_ocsp_verify(const struct cert_pair *, const char *,
		    const unsigned char *, size_t, time_t, time_t *, char *,
		    size_t);
static int	 certs_ocsp_issuer(const struct cert_pair *, X509 **,
		    X509 **);

/*
 * libcrypto reads openssl.cnf and sets up its providers the first time
 * it is used.  Do that now, before the sandbox, and without the file:
 * nothing in it is wanted here.
 */
int
certs_init(void)
{
	EVP_MD	*md;

	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_ADD_ALL_CIPHERS |
	    OPENSSL_INIT_ADD_ALL_DIGESTS, NULL) != 1)
		return (-1);
	if ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return (-1);
	EVP_MD_free(md);
	return (0);
}

/*
 * A folder's name as the domain it serves.  Folder names are domain
 * names in any case; a wildcard folder is spelled "_wildcard.example.com"
 * (a star is awkward in shell commands), or "*.example.com" for those
 * who do not mind it.  Both mean "*.example.com", which, as in
 * certificates, stands for exactly one label: "a.example.com" but
 * neither "example.com" nor "a.b.example.com".
 */
int
certs_domain(const char *dir, char *domain, size_t len)
{
	const char	*rest = dir;
	size_t		 i, label = 0, n;
	int		 wild = 0;

	if (strncasecmp(dir, CERT_WILDCARD_DIR,
	    strlen(CERT_WILDCARD_DIR)) == 0) {
		rest = dir + strlen(CERT_WILDCARD_DIR);
		wild = 1;
	} else if (strncmp(dir, "*.", 2) == 0) {
		rest = dir + 2;
		wild = 1;
	}
	n = strlen(rest);
	if (n == 0 || n > CERT_NAME_MAX - (wild ? 2 : 0) ||
	    (wild ? 2 : 0) + n + 1 > len)
		return (-1);
	/* "*.com" covers nothing, as in libtls */
	if (wild && strchr(rest, '.') == NULL)
		return (-1);
	for (i = 0; i <= n; i++) {
		if (rest[i] == '.' || rest[i] == '\0') {
			if (label == 0 || label > 63 || rest[i - 1] == '-')
				return (-1);
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)rest[i]) && rest[i] != '-' &&
		    rest[i] != '_')
			return (-1);
		if (label == 0 && rest[i] == '-')
			return (-1);
		label++;
	}
	(void)snprintf(domain, len, "%s%s", wild ? "*." : "", rest);
	for (i = 0; domain[i] != '\0'; i++)
		domain[i] = tolower((unsigned char)domain[i]);
	return (0);
}

static void
certs_stamp(const struct stat *st, struct cert_stamp *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->cs_dev = st->st_dev;
	cs->cs_ino = st->st_ino;
	cs->cs_size = st->st_size;
	cs->cs_mtime = st->st_mtim;
	cs->cs_ctime = st->st_ctim;
}

/* What a file looks like now, without opening it or following links. */
int
certs_stat(int dirfd, const char *name, struct cert_stamp *cs)
{
	struct stat	 st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return (-1);
	certs_stamp(&st, cs);
	return (0);
}

/*
 * Same file, same size, same times: the same contents, for all a scan
 * needs to know.  A file rewritten in place changes its mtime; one
 * renamed over it changes the inode.
 */
int
certs_stamp_equal(const struct cert_stamp *a, const struct cert_stamp *b)
{
	return (a->cs_dev == b->cs_dev && a->cs_ino == b->cs_ino &&
	    a->cs_size == b->cs_size &&
	    a->cs_mtime.tv_sec == b->cs_mtime.tv_sec &&
	    a->cs_mtime.tv_nsec == b->cs_mtime.tv_nsec &&
	    a->cs_ctime.tv_sec == b->cs_ctime.tv_sec &&
	    a->cs_ctime.tv_nsec == b->cs_ctime.tv_nsec);
}

/*
 * One whole file into memory.  Regular files only, and no symbolic
 * links: a domain's files are its folder's own.  A file whose size
 * changes while it is read is being written: refused, and read again at
 * the next scan.
 */
static int
certs_read(int dirfd, const char *dirpath, const char *name, char **bufp,
    size_t *lenp, struct cert_stamp *cs, char *err, size_t errlen)
{
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 fd, rv;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "%s/%s: %s", dirpath, name,
		    errno == ELOOP ? "a symbolic link (not followed)" :
		    strerror(errno));
		return (-1);
	}
	(void)snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	memset(&st, 0, sizeof(st));
	rv = certs_read_fd(fd, path, bufp, lenp, &st, err, errlen);
	certs_stamp(&st, cs);
	close(fd);
	return (rv);
}

/*
 * The file open on fd, whole, from its start (a descriptor passed by
 * another process shares its offset), with its stat in *st.
 */
static int
certs_read_fd(int fd, const char *path, char **bufp, size_t *lenp,
    struct stat *st, char *err, size_t errlen)
{
	char		*buf = NULL;
	size_t		 len = 0, size = 0;
	ssize_t		 n;

	*bufp = NULL;
	*lenp = 0;
	if (fstat(fd, st) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st->st_mode)) {
		(void)snprintf(err, errlen, "%s: not a regular file", path);
		return (-1);
	}
	if (st->st_size == 0) {
		(void)snprintf(err, errlen, "%s: empty file", path);
		return (-1);
	}
	if (st->st_size > CERT_FILE_MAX) {
		(void)snprintf(err, errlen, "%s: larger than %d KiB", path,
		    CERT_FILE_MAX / 1024);
		return (-1);
	}
	size = st->st_size;
	/* one byte more than expected, to see a file that grows */
	if ((buf = malloc(size + 1)) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while (len < size + 1) {
		if ((n = pread(fd, buf + len, size + 1 - len, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			(void)snprintf(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len != size) {
		(void)snprintf(err, errlen, "%s: changed while being read",
		    path);
		goto fail;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return (0);
 fail:
	freezero(buf, size + 1);
	return (-1);
}

/*
 * A pool's client certificate and key from descriptors (the parent
 * opened them), with the hash of both, as certs_load() reads a folder.
 */
int
certs_load_client(int certfd, int keyfd, const char *certpath,
    const char *keypath, struct cert_pair *cp, char *err, size_t errlen)
{
	struct stat	 st;

	if (certs_read_fd(certfd, certpath, &cp->cp_cert, &cp->cp_certlen,
	    &st, err, errlen) == -1 ||
	    certs_read_fd(keyfd, keypath, &cp->cp_key, &cp->cp_keylen, &st,
	    err, errlen) == -1)
		goto fail;
	if (certs_hash(cp) == -1) {
		(void)snprintf(err, errlen, "%s: cannot hash the files: %s",
		    certpath, certs_ssl_reason());
		goto fail;
	}
	return (0);
 fail:
	certs_pair_free(cp);
	return (-1);
}

/*
 * Read a domain folder's two files into cp, with a hash of both to tell
 * new contents from the ones in service.  cs[0] and cs[1] get the stamps
 * of cert.pem and privkey.pem as they were opened.
 */
int
certs_load(int dirfd, const char *dirpath, struct cert_pair *cp,
    struct cert_stamp *cs, char *err, size_t errlen)
{
	if (certs_read(dirfd, dirpath, CERT_FILE, &cp->cp_cert,
	    &cp->cp_certlen, &cs[0], err, errlen) == -1 ||
	    certs_read(dirfd, dirpath, CERT_KEY_FILE, &cp->cp_key,
	    &cp->cp_keylen, &cs[1], err, errlen) == -1)
		goto fail;
	if (certs_hash(cp) == -1) {
		(void)snprintf(err, errlen, "%s: cannot hash the files: %s",
		    dirpath, certs_ssl_reason());
		goto fail;
	}
	return (0);
 fail:
	certs_pair_free(cp);
	return (-1);
}

/* SHA-256 over both files, each preceded by its length. */
static int
certs_hash(struct cert_pair *cp)
{
	EVP_MD_CTX	*ctx;
	uint64_t	 lens[2];
	unsigned int	 len;
	int		 rv = -1;

	lens[0] = cp->cp_certlen;
	lens[1] = cp->cp_keylen;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (-1);
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &lens[0], sizeof(lens[0])) != 1 ||
	    EVP_DigestUpdate(ctx, cp->cp_cert, cp->cp_certlen) != 1 ||
	    EVP_DigestUpdate(ctx, &lens[1], sizeof(lens[1])) != 1 ||
	    EVP_DigestUpdate(ctx, cp->cp_key, cp->cp_keylen) != 1 ||
	    EVP_DigestFinal_ex(ctx, cp->cp_hash, &len) != 1 ||
	    len != sizeof(cp->cp_hash))
		goto fail;
	rv = 0;
 fail:
	EVP_MD_CTX_free(ctx);
	return (rv);
}

/*
 * Everything that makes a pair servable: cert.pem is certificates only,
 * at least one, each block whole; privkey.pem holds an RSA or EC key
 * (PKCS#8, PKCS#1 or SEC1) that belongs to the first certificate; that
 * certificate is valid now and names the folder's domain.  Fills in
 * cp_names and cp_not_after.  The error names the file and the reason.
 */
int
certs_check(struct cert_pair *cp, const char *dirpath, time_t now,
    char *err, size_t errlen)
{
	char	 certpath[PATH_MAX], keypath[PATH_MAX];

	(void)snprintf(certpath, sizeof(certpath), "%s/%s", dirpath,
	    CERT_FILE);
	(void)snprintf(keypath, sizeof(keypath), "%s/%s", dirpath,
	    CERT_KEY_FILE);
	return (certs_check_files(cp, certpath, keypath, dirpath, now, err,
	    errlen));
}

/*
 * A pool's client certificate and key ("tls-client-certificate"), read
 * by the certloader from descriptors the parent opened (or by -n): what
 * makes a directory's pair servable but the names, which a client
 * certificate need not have.
 */
int
certs_check_client(struct cert_pair *cp, const char *certpath,
    const char *keypath, time_t now, char *err, size_t errlen)
{
	return (certs_check_files(cp, certpath, keypath, NULL, now, err,
	    errlen));
}

/* certs_check(), of two files; dirpath NULL: their names go unchecked. */
static int
certs_check_files(struct cert_pair *cp, const char *certpath,
    const char *keypath, const char *dirpath, time_t now, char *err,
    size_t errlen)
{
	X509		*leaf = NULL;
	EVP_PKEY	*pkey = NULL;
	time_t		 not_before, not_after;
	char		 when[32];
	int		 rv = -1;

	ERR_clear_error();
	if (certs_chain(cp, certpath, &leaf, err, errlen) == -1 ||
	    certs_key(cp, keypath, &pkey, err, errlen) == -1)
		goto fail;
	if (X509_check_private_key(leaf, pkey) != 1) {
		(void)snprintf(err, errlen, "%s: key does not match the "
		    "certificate", keypath);
		goto fail;
	}
	if (certs_asn1_time(X509_get0_notBefore(leaf), &not_before) == -1 ||
	    certs_asn1_time(X509_get0_notAfter(leaf), &not_after) == -1) {
		(void)snprintf(err, errlen, "%s: certificate has a "
		    "malformed validity period", certpath);
		goto fail;
	}
	if (not_before > now) {
		(void)snprintf(err, errlen, "%s: certificate not valid "
		    "before %s", certpath,
		    certs_fmt_time(not_before, when, sizeof(when)));
		goto fail;
	}
	if (not_after <= now) {
		(void)snprintf(err, errlen, "%s: certificate expired on %s",
		    certpath, certs_fmt_time(not_after, when, sizeof(when)));
		goto fail;
	}
	cp->cp_not_after = not_after;
	if (dirpath != NULL &&
	    certs_names(cp, leaf, dirpath, err, errlen) == -1)
		goto fail;
	rv = 0;
 fail:
	X509_free(leaf);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return (rv);
}

/*
 * Every PEM block of cert.pem must be a certificate that parses, and
 * nothing may be left half-written after the last one.  The first is
 * the leaf, returned in *leafp.
 */
static int
certs_chain(struct cert_pair *cp, const char *path, X509 **leafp,
    char *err, size_t errlen)
{
	BIO			*bio;
	X509			*x;
	char			*name = NULL, *header = NULL, *rest;
	unsigned char		*data = NULL;
	const unsigned char	*p;
	unsigned long		 e;
	long			 datalen, restlen;
	int			 n = 0, rv = -1, nostart, cut;

	*leafp = NULL;
	if ((bio = BIO_new_mem_buf(cp->cp_cert, cp->cp_certlen)) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path,
		    certs_ssl_reason());
		return (-1);
	}
	for (;;) {
		restlen = BIO_get_mem_data(bio, &rest);
		if (PEM_read_bio(bio, &name, &header, &data, &datalen) != 1) {
			e = ERR_peek_last_error();
			nostart = ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
			/* a BEGIN line libcrypto skipped: a block cut short */
			cut = restlen > 0 &&
			    memmem(rest, restlen, "-----BEGIN", 10) != NULL;
			if (nostart && !cut && n > 0)
				break;	/* the end */
			if (nostart && !cut)
				(void)snprintf(err, errlen, "%s: no "
				    "certificate in the file", path);
			else
				(void)snprintf(err, errlen, "%s: "
				    "certificate %d: truncated or malformed "
				    "PEM block (%s)", path, n + 1,
				    nostart ? "no end line" :
				    certs_ssl_reason());
			goto fail;
		}
		n++;
		if (strstr(name, "PRIVATE KEY") != NULL) {
			(void)snprintf(err, errlen, "%s: block %d is a "
			    "private key; it belongs in the key file", path, n);
			goto fail;
		}
		if (strcmp(name, PEM_STRING_X509) != 0) {
			(void)snprintf(err, errlen, "%s: block %d is a "
			    "\"%s\", not a certificate", path, n,
			    name);
			goto fail;
		}
		if (n > CERT_CHAIN_MAX) {
			(void)snprintf(err, errlen, "%s: more than %d "
			    "certificates", path,
			    CERT_CHAIN_MAX);
			goto fail;
		}
		p = data;
		if ((x = d2i_X509(NULL, &p, datalen)) == NULL ||
		    p != data + datalen) {
			X509_free(x);
			(void)snprintf(err, errlen, "%s: certificate %d "
			    "does not parse", path, n);
			goto fail;
		}
		if (*leafp == NULL)
			*leafp = x;
		else
			X509_free(x);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	rv = 0;
 fail:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	if (rv == -1) {
		X509_free(*leafp);
		*leafp = NULL;
	}
	return (rv);
}

/*
 * Never ask for a passphrase: a daemon has no one to ask, and libcrypto
 * would read it from the terminal.  The flag tells an encrypted key from
 * a broken one.
 */
static int
certs_nopass(char *buf, int size, int rwflag, void *arg)
{
	*(int *)arg = 1;
	return (-1);
}

/* The private key; PEM_read_bio_PrivateKey takes all three encodings. */
static int
certs_key(struct cert_pair *cp, const char *path, EVP_PKEY **pkeyp,
    char *err, size_t errlen)
{
	BIO		*bio;
	EVP_PKEY	*pkey = NULL;
	const char	*begin;
	unsigned long	 e;
	int		 asked = 0, type;

	*pkeyp = NULL;
	/*
	 * libcrypto 3 says "unsupported" for a missing or a cut key alike:
	 * look for the PEM lines first, to say what is wrong.
	 */
	if ((begin = memmem(cp->cp_key, cp->cp_keylen, "-----BEGIN ",
	    11)) == NULL) {
		(void)snprintf(err, errlen, "%s: no private key in the "
		    "file", path);
		return (-1);
	}
	if (memmem(begin, cp->cp_key + cp->cp_keylen - begin, "-----END ",
	    9) == NULL) {
		(void)snprintf(err, errlen, "%s: truncated PEM block",
		    path);
		return (-1);
	}
	if ((bio = BIO_new_mem_buf(cp->cp_key, cp->cp_keylen)) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, certs_ssl_reason());
		return (-1);
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, certs_nopass, &asked);
	BIO_free(bio);
	if (pkey == NULL) {
		e = ERR_peek_last_error();
		if (asked)
			(void)snprintf(err, errlen, "%s: the key is "
			    "encrypted; portero needs it unencrypted",
			    path);
		else if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
			(void)snprintf(err, errlen, "%s: no private key in "
			    "the file", path);
		else
			(void)snprintf(err, errlen, "%s: malformed private "
			    "key (%s)", path,
			    certs_ssl_reason());
		return (-1);
	}
	type = EVP_PKEY_base_id(pkey);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
		(void)snprintf(err, errlen, "%s: a %s key; only RSA and EC "
		    "keys are supported", path,
		    OBJ_nid2sn(type));
		EVP_PKEY_free(pkey);
		return (-1);
	}
	*pkeyp = pkey;
	return (0);
}

/*
 * The names clients may ask for, as libtls matches them: the DNS names
 * of subjectAltName, or the common name when there is no DNS or IP
 * address name at all; and the IP addresses, as "IP:" and the address,
 * which no SNI name can equal: they count only for a Host that is an
 * address (certs_names_cover_host()).  The folder's domain must be
 * among them.
 */
static int
certs_names(struct cert_pair *cp, X509 *leaf, const char *dirpath,
    char *err, size_t errlen)
{
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gen;
	X509_NAME		*subj;
	X509_NAME_ENTRY		*ne;
	const ASN1_STRING	*s;
	int			 crit = -1, i, idx, n, any = 0;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		(void)snprintf(err, errlen, "%s/%s: malformed subjectAltName",
		    dirpath, CERT_FILE);
		return (-1);
	}
	n = gens == NULL ? 0 : sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n; i++) {
		gen = sk_GENERAL_NAME_value(gens, i);
		if (gen->type == GEN_IPADD) {
			any = 1;
			if (certs_names_add_ip(cp, gen->d.iPAddress) == -1)
				goto nomem;
		}
		if (gen->type != GEN_DNS)
			continue;
		any = 1;
		s = gen->d.dNSName;
		if (certs_name_ok((const char *)ASN1_STRING_get0_data(s),
		    ASN1_STRING_length(s)) == -1)
			continue;	/* no client can ask for it */
		if (certs_names_add(cp, (const char *)ASN1_STRING_get0_data(s),
		    ASN1_STRING_length(s)) == -1)
			goto nomem;
	}
	GENERAL_NAMES_free(gens);
	gens = NULL;
	if (!any && (subj = X509_get_subject_name(leaf)) != NULL &&
	    (idx = X509_NAME_get_index_by_NID(subj, NID_commonName,
	    -1)) != -1) {
		ne = X509_NAME_get_entry(subj, idx);
		s = X509_NAME_ENTRY_get_data(ne);
		if (ASN1_STRING_type(s) != V_ASN1_BMPSTRING &&
		    ASN1_STRING_type(s) != V_ASN1_UNIVERSALSTRING &&
		    certs_name_ok((const char *)ASN1_STRING_get0_data(s),
		    ASN1_STRING_length(s)) == 0 &&
		    certs_names_add(cp, (const char *)ASN1_STRING_get0_data(s),
		    ASN1_STRING_length(s)) == -1)
			goto nomem;
	}
	if (cp->cp_nnames == 0) {
		(void)snprintf(err, errlen, "%s/%s: certificate names no DNS "
		    "name", dirpath, CERT_FILE);
		return (-1);
	}
	if (cp->cp_nnames > CERT_MAX_NAMES) {
		(void)snprintf(err, errlen, "%s/%s: certificate has %u names; "
		    "at most %d are supported", dirpath, CERT_FILE,
		    cp->cp_nnames, CERT_MAX_NAMES);
		return (-1);
	}
	if (!certs_names_cover_host(cp->cp_names, cp->cp_nameslen,
	    cp->cp_domain, strlen(cp->cp_domain))) {
		(void)snprintf(err, errlen, "%s/%s: certificate is not for %s "
		    "(it names %s%s)", dirpath, CERT_FILE, cp->cp_domain,
		    cp->cp_names, cp->cp_nnames > 1 ? ", ..." : "");
		return (-1);
	}
	return (0);
 nomem:
	GENERAL_NAMES_free(gens);
	(void)snprintf(err, errlen, "%s/%s: %s", dirpath, CERT_FILE,
	    strerror(ENOMEM));
	return (-1);
}

static int
certs_names_add(struct cert_pair *cp, const char *name, size_t len)
{
	char	*p;
	size_t	 off, n;

	/* the same name twice says nothing more */
	for (off = 0; off < cp->cp_nameslen; off += n + 1) {
		n = strlen(cp->cp_names + off);
		if (n == len && strncasecmp(cp->cp_names + off, name,
		    len) == 0)
			return (0);
	}
	if ((p = realloc(cp->cp_names, cp->cp_nameslen + len + 1)) == NULL)
		return (-1);
	memcpy(p + cp->cp_nameslen, name, len);
	p[cp->cp_nameslen + len] = '\0';
	cp->cp_names = p;
	cp->cp_nameslen += len + 1;
	cp->cp_nnames++;
	return (0);
}

/* A name a client could send: letters, digits, '-', '_', '.', a '*'. */
static int
certs_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > CERT_NAME_MAX)
		return (-1);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.' && s[i] != '*')
			return (-1);
	return (0);
}

static int
certs_asn1_time(const ASN1_TIME *at, time_t *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
		return (-1);
	if ((*t = timegm(&tm)) == -1)
		return (-1);
	return (0);
}

/*
 * Does a certificate name cover a host name?  As libtls decides for SNI:
 * equal ignoring case, or a wildcard "*.example.com" for exactly one
 * leftmost label; "*.com" and partial-label stars cover nothing.  name
 * need not be NUL-terminated.
 */
int
certs_name_match(const char *pattern, const char *name, size_t namelen)
{
	const char	*suffix, *dot;
	size_t		 plen = strlen(pattern);

	if (plen == namelen && strncasecmp(pattern, name, namelen) == 0)
		return (1);
	if (pattern[0] != '*' || pattern[1] != '.')
		return (0);
	suffix = pattern + 1;			/* ".example.com" */
	if (suffix[1] == '.' || suffix[1] == '\0' ||
	    strchr(suffix + 1, '.') == NULL)
		return (0);
	if (namelen == 0 || name[0] == '.' ||
	    (dot = memchr(name, '.', namelen)) == NULL)
		return (0);
	if ((size_t)(name + namelen - dot) != strlen(suffix))
		return (0);
	return (strncasecmp(dot, suffix, strlen(suffix)) == 0);
}

/*
 * The certificate for a client's SNI name: the first pair but the
 * default (pair 0) whose names cover it, else the default.  This is
 * libretls's choice; the OpenSSL build makes the same, so that both
 * serve the same certificate.
 */
unsigned int
certs_names_pick(const struct ptls_names *pn, unsigned int n,
    const char *sni)
{
	unsigned int	 i;

	if (sni == NULL)
		return (0);
	for (i = 1; i < n; i++)
		if (certs_names_cover(pn[i].pn_names, pn[i].pn_len, sni,
		    strlen(sni)))
			return (i);
	return (0);
}

/*
 * The same choice by hash, for sets of thousands of names: at most two
 * lookups a handshake (the name itself, and the wildcard its first label
 * would match) instead of a scan of every name.  A name's entry holds
 * the first pair but the default that has it; the earlier of the two
 * found is the pair certs_names_pick() would take.
 */
struct certs_sni_ent {
	const char	*se_name;	/* in the caller's names; NULL: free */
	size_t		 se_len;
	uint32_t	 se_hash;
	unsigned int	 se_pair;
	int		 se_wild;	/* ".example.com" of "*.example.com" */
};

struct certs_sni {
	struct certs_sni_ent	*sn_ent;
	size_t			 sn_mask;
};

/* FNV-1a over the lower-case bytes: names match ignoring case. */
static uint32_t
certs_sni_hash(const char *s, size_t len, int wild)
{
	uint32_t	 h = wild ? 0x811c9dc5 ^ 0x2a : 0x811c9dc5;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)tolower((unsigned char)s[i]);
		h *= 16777619;
	}
	return (h);
}

static struct certs_sni_ent *
certs_sni_slot(const struct certs_sni *sn, const char *s, size_t len,
    int wild)
{
	struct certs_sni_ent	*e;
	uint32_t		 h = certs_sni_hash(s, len, wild);
	size_t			 i;

	for (i = h & sn->sn_mask;; i = (i + 1) & sn->sn_mask) {
		e = &sn->sn_ent[i];
		if (e->se_name == NULL || (e->se_hash == h &&
		    e->se_wild == wild && e->se_len == len &&
		    strncasecmp(e->se_name, s, len) == 0))
			return (e);
	}
}

/* The first pair to have a key keeps it. */
static void
certs_sni_add(struct certs_sni *sn, const char *s, size_t len, int wild,
    unsigned int pair)
{
	struct certs_sni_ent	*e;

	if ((e = certs_sni_slot(sn, s, len, wild))->se_name != NULL)
		return;
	e->se_name = s;
	e->se_len = len;
	e->se_hash = certs_sni_hash(s, len, wild);
	e->se_wild = wild;
	e->se_pair = pair;
}

/*
 * The table of a set's names; it points into pn, which must outlive it.
 * A wildcard is entered only where certs_name_match() would honour it;
 * every name is entered as itself too, as it matches itself.
 */
struct certs_sni *
certs_sni_new(const struct ptls_names *pn, unsigned int n)
{
	struct certs_sni	*sn;
	const char		*s;
	size_t			 count = 0, size = 16, off, len;
	unsigned int		 i;

	for (i = 1; i < n; i++)
		for (off = 0; off < pn[i].pn_len; off += len + 1) {
			len = strnlen(pn[i].pn_names + off,
			    pn[i].pn_len - off);
			count += 2;	/* itself, and maybe a wildcard */
		}
	while (size < 2 * count)
		size *= 2;
	if ((sn = calloc(1, sizeof(*sn))) == NULL ||
	    (sn->sn_ent = calloc(size, sizeof(*sn->sn_ent))) == NULL) {
		free(sn);
		return (NULL);
	}
	sn->sn_mask = size - 1;
	for (i = 1; i < n; i++)
		for (off = 0; off < pn[i].pn_len; off += len + 1) {
			s = pn[i].pn_names + off;
			len = strnlen(s, pn[i].pn_len - off);
			if (len == 0)
				continue;
			certs_sni_add(sn, s, len, 0, i);
			if (len > 3 && s[0] == '*' && s[1] == '.' &&
			    s[2] != '.' && memchr(s + 2, '.', len - 2) != NULL)
				certs_sni_add(sn, s + 1, len - 1, 1, i);
		}
	return (sn);
}

void
certs_sni_free(struct certs_sni *sn)
{
	if (sn == NULL)
		return;
	free(sn->sn_ent);
	free(sn);
}

/* certs_names_pick()'s answer, by hash. */
unsigned int
certs_sni_pick(const struct certs_sni *sn, const char *sni)
{
	const struct certs_sni_ent	*e;
	const char			*dot;
	size_t				 len;
	unsigned int			 pick = 0;

	if (sn == NULL || sni == NULL || (len = strlen(sni)) == 0)
		return (0);
	if ((e = certs_sni_slot(sn, sni, len, 0))->se_name != NULL)
		pick = e->se_pair;
	if (sni[0] != '.' && (dot = memchr(sni, '.', len)) != NULL &&
	    (e = certs_sni_slot(sn, dot, len - (dot - sni), 1))->se_name !=
	    NULL && (pick == 0 || e->se_pair < pick))
		pick = e->se_pair;
	return (pick);
}

/* Is name covered by one of names (NUL-terminated, back to back)? */
int
certs_names_cover(const char *names, size_t nameslen, const char *name,
    size_t namelen)
{
	size_t	 off, len;

	for (off = 0; off < nameslen; off += len + 1) {
		len = strnlen(names + off, nameslen - off);
		if (certs_name_match(names + off, name, namelen))
			return (1);
	}
	return (0);
}

/* An IP address name, as "IP:" and its usual text; others are skipped. */
static int
certs_names_add_ip(struct cert_pair *cp, const ASN1_STRING *ip)
{
	char	 buf[3 + INET6_ADDRSTRLEN];
	int	 af;

	switch (ASN1_STRING_length(ip)) {
	case 4:
		af = AF_INET;
		break;
	case 16:
		af = AF_INET6;
		break;
	default:
		return (0);
	}
	memcpy(buf, "IP:", 3);
	if (inet_ntop(af, ASN1_STRING_get0_data(ip), buf + 3,
	    sizeof(buf) - 3) == NULL)
		return (0);
	return (certs_names_add(cp, buf, strlen(buf)));
}

/*
 * Is a request's host covered by names?  An address ("192.0.2.1",
 * "[2001:db8::1]") only by an IP name for the same address, however
 * it is written; a DNS name as certs_names_cover() says, with a final
 * dot ignored.  host need not be NUL-terminated.
 */
int
certs_names_cover_host(const char *names, size_t nameslen, const char *host,
    size_t hostlen)
{
	struct in6_addr	 addr;
	char		 lit[INET6_ADDRSTRLEN], ipname[3 + INET6_ADDRSTRLEN];
	int		 af = AF_INET;

	if (hostlen > 1 && host[0] == '[' && host[hostlen - 1] == ']') {
		host++;
		hostlen -= 2;
		af = AF_INET6;
	}
	/* an address starts with a digit, or is in brackets */
	if (hostlen < sizeof(lit) && (af == AF_INET6 ||
	    (hostlen > 0 && isdigit((unsigned char)host[0])))) {
		memcpy(lit, host, hostlen);
		lit[hostlen] = '\0';
		if (inet_pton(af, lit, &addr) == 1) {
			memcpy(ipname, "IP:", 3);
			if (inet_ntop(af, &addr, ipname + 3,
			    sizeof(ipname) - 3) == NULL)
				return (0);
			return (certs_names_cover(names, nameslen, ipname,
			    strlen(ipname)));
		}
	}
	if (af == AF_INET6)
		return (0);	/* brackets around no address */
	if (hostlen > 1 && host[hostlen - 1] == '.')
		hostlen--;
	return (certs_names_cover(names, nameslen, host, hostlen));
}

/*
 * A names list from a message: non-empty, NUL-terminated names back to
 * back, no empty one, at most CERT_MAX_NAMES.  Returns the count.
 */
int
certs_names_check(const char *names, size_t len, unsigned int *countp)
{
	size_t		 off, n;
	unsigned int	 count = 0;

	if (len == 0 || names[len - 1] != '\0')
		return (-1);
	for (off = 0; off < len; off += n + 1) {
		n = strlen(names + off);
		if (n == 0 || ++count > CERT_MAX_NAMES)
			return (-1);
	}
	*countp = count;
	return (0);
}

/*
 * A domain's ocsp.der, read and checked against its good pair (see
 * certs_ocsp_verify()).  The error names the file and the reason.
 */
int
certs_ocsp_load(int dirfd, const char *dirpath, const struct cert_pair *cp,
    time_t now, struct cert_ocsp *co, struct cert_stamp *cs, char *err,
    size_t errlen)
{
	char	*buf;
	size_t	 len;

	memset(co, 0, sizeof(*co));
	if (certs_read(dirfd, dirpath, CERT_OCSP_FILE, &buf, &len, cs, err,
	    errlen) == -1)
		return (-1);
	if (certs_ocsp_verify(cp, dirpath, (unsigned char *)buf, len, now,
	    &co->co_next, err, errlen) == -1) {
		free(buf);
		return (-1);
	}
	co->co_der = (unsigned char *)buf;
	co->co_len = len;
	return (0);
}

void
certs_ocsp_free(struct cert_ocsp *co)
{
	free(co->co_der);
	memset(co, 0, sizeof(*co));
}

/* The leaf and its issuer, the next certificate of cert.pem. */
static int
certs_ocsp_issuer(const struct cert_pair *cp, X509 **leafp, X509 **issuerp)
{
	BIO	*bio;

	*leafp = *issuerp = NULL;
	if ((bio = BIO_new_mem_buf(cp->cp_cert, cp->cp_certlen)) == NULL)
		return (-1);
	*leafp = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (*leafp != NULL)
		*issuerp = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return (*issuerp != NULL && X509_check_issued(*issuerp, *leafp) ==
	    X509_V_OK ? 0 : -1);
}

/*
 * Worth stapling: a successful response, signed by the certificate's
 * issuer or a responder it delegated to, that answers "good" for this
 * certificate and is valid now.  Without the issuer in cert.pem there
 * is nothing to check the signature against: refused, not trusted.
 */
static int
certs_ocsp_verify(const struct cert_pair *cp, const char *dirpath,
    const unsigned char *der, size_t len, time_t now, time_t *nextp,
    char *err, size_t errlen)
{
	OCSP_RESPONSE		*resp = NULL;
	OCSP_BASICRESP		*bs = NULL;
	OCSP_CERTID		*id = NULL;
	X509			*leaf = NULL, *issuer = NULL;
	X509_STORE		*store = NULL;
	STACK_OF(X509)		*signers = NULL;
	ASN1_GENERALIZEDTIME	*thisupd, *nextupd;
	const char		*why = NULL;
	int			 status, reason, rv = -1;

	if (certs_ocsp_issuer(cp, &leaf, &issuer) == -1)
		why = "cert.pem holds no issuer certificate after the leaf "
		    "to check it against";
	else if ((resp = d2i_OCSP_RESPONSE(NULL, &der, len)) == NULL)
		why = "not a DER OCSP response";
	else if (OCSP_response_status(resp) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL)
		why = OCSP_response_status_str(OCSP_response_status(resp));
	else if ((bs = OCSP_response_get1_basic(resp)) == NULL)
		why = "not a basic OCSP response";
	else if ((id = OCSP_cert_to_id(NULL, leaf, issuer)) == NULL ||
	    OCSP_resp_find_status(bs, id, &status, &reason, NULL, &thisupd,
	    &nextupd) != 1)
		why = "does not answer for this certificate";
	else if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(store, issuer) != 1 ||
	    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
	    (signers = sk_X509_new_null()) == NULL ||
	    sk_X509_push(signers, issuer) == 0)
		why = certs_ssl_reason();
	else if (OCSP_basic_verify(bs, signers, store, OCSP_TRUSTOTHER) != 1)
		why = "not signed by the certificate's issuer";
	else if (status != V_OCSP_CERTSTATUS_GOOD)
		why = status == V_OCSP_CERTSTATUS_REVOKED ?
		    "the certificate is revoked" : "the certificate's status "
		    "is unknown";
	else if (nextupd == NULL)
		why = "has no next update time";
	else if (OCSP_check_validity(thisupd, nextupd, CERT_OCSP_LEEWAY,
	    -1) != 1 || certs_asn1_time(nextupd, nextp) == -1 ||
	    *nextp <= now)
		why = "not valid now (out of date or not yet valid)";
	else
		rv = 0;
	if (rv == -1)
		(void)snprintf(err, errlen, "%s/%s: %s; not stapled", dirpath,
		    CERT_OCSP_FILE, why);
	sk_X509_free(signers);
	X509_STORE_free(store);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	X509_free(leaf);
	X509_free(issuer);
	ERR_clear_error();
	return (rv);
}

void
certs_pair_free(struct cert_pair *cp)
{
	if (cp->cp_key != NULL)
		freezero(cp->cp_key, cp->cp_keylen + 1);
	free(cp->cp_cert);
	free(cp->cp_names);
	cp->cp_cert = cp->cp_key = cp->cp_names = NULL;
	cp->cp_certlen = cp->cp_keylen = cp->cp_nameslen = 0;
	cp->cp_nnames = 0;
}

/* ISO 8601 in UTC, as logs and porterod-ctl show times. */
const char *
certs_fmt_time(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, len, "%lld", (long long)t);
	return (buf);
}

/* The reason libcrypto gave last, for an error line. */
static const char *
certs_ssl_reason(void)
{
	const char	*r;
	unsigned long	 e;

	if ((e = ERR_peek_last_error()) == 0 ||
	    (r = ERR_reason_error_string(e)) == NULL)
		return ("unknown error");
	return (r);
}
