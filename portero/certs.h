/*
 * certs.h: the certificate pipeline's declarations (certs.c, certloader.c,
 * tlsctx.c), kept apart until they join portero.h.
 */

#ifndef CERTS_H
#define CERTS_H

/* Include portero.h first. */

/*
 * A domain folder holds these two files.  Folder names are domain names;
 * "_wildcard.example.com" (or "*.example.com", if the operator does not
 * mind the star) is the folder of "*.example.com".
 */
#define CERT_FILE		"cert.pem"	/* leaf first, then chain */
#define CERT_KEY_FILE		"privkey.pem"
#define CERT_WILDCARD_DIR	"_wildcard."

#define CERT_FILE_MAX		(256 * 1024)	/* each of the two files */
#define CERT_MAX_DOMAINS	4096		/* folders a scan looks at */
#define CERT_HASH_LEN		32		/* SHA-256 */
#define CERT_ERROR_LEN		2048	/* a path and a reason */
#define CERT_SESSION_LIFETIME	7200	/* seconds; twice the rekey time */

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

/* What certs_load() saw of a file, to tell a changed one from the same. */
struct cert_stamp {
	dev_t		 cs_dev;
	ino_t		 cs_ino;
	off_t		 cs_size;
	struct timespec	 cs_mtime;
	struct timespec	 cs_ctime;
};

struct tls;
struct tlsctx;

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
void	 certs_pair_free(struct cert_pair *);
int	 certs_name_match(const char *, const char *, size_t);
int	 certs_names_cover(const char *, size_t, const char *, size_t);
int	 certs_names_check(const char *, size_t, unsigned int *);
const char *certs_fmt_time(time_t, char *, size_t);

/* certloader.c: certloader_main() is in portero.h. */

/* tlsctx.c */
void	 tlsctx_init(const struct portero_config *);
int	 tlsctx_cert_add(const struct imsg *);
int	 tlsctx_cert_data(const struct imsg *);
int	 tlsctx_cert_end(void);
void	 tlsctx_ticket_key(const struct ticket_key_msg *);
struct tlsctx *tlsctx_current(void);
void	 tlsctx_ref(struct tlsctx *);
void	 tlsctx_unref(struct tlsctx *);
struct tls *tlsctx_tls(struct tlsctx *);
int	 tlsctx_host_ok(struct tlsctx *, const char *, const char *, size_t);

#endif /* CERTS_H */
