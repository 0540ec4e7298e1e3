/*
 * serve_tls.c — serve's TLS certificate and key files (see serve_tls.h):
 * read with bounds, the key's mode checked, parsed and checked as a pair
 * with OpenSSL before GnuTLS (src/http/tls.c) is given them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/serve_tls.h"
#include "obs/metrics.h"
#include "util/secrecy.h"

#define MAX_PEM (64 * 1024)

/* Reads a PEM file; a private key must not be readable by others.
 * O_NONBLOCK: a FIFO (or a device) named by mistake is refused as not a
 * regular file, where a blocking open waited for a writer for good, at
 * start or, on SIGHUP, on the thread that refreshes the caches and hears
 * the stop. It changes nothing for a regular file. */
static char *
read_pem(const char *path, int secret, char *err, size_t errlen)
{
	struct stat sb;
	char why[160];
	char *buf = NULL;
	ssize_t n;
	size_t used = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_PEM) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, MAX_PEM);
		goto fail;
	}
	if (secret && file_secrecy_check(&sb, geteuid(), why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: the key %s", path, why);
		goto fail;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (used < (size_t)sb.st_size && (n = read(fd, buf + used, (size_t)sb.st_size - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* No passphrase: a key that asks for one is refused, never prompted for
 * (libmicrohttpd is given none either). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void
cert_describe(X509 *x, struct serve_cert *d)
{
	BIO *b = BIO_new(BIO_s_mem());
	struct tm tm;
	int n = 0, days = 0, secs = 0;

	/* RFC 2253, bytes past ASCII escaped: the log line stays UTF-8. */
	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, d->subject, (int)sizeof(d->subject) - 1);
	d->subject[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
	    strftime(d->not_after, sizeof(d->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		d->not_after[0] = '\0';
	/* From now, both on the real clock (NULL: now). */
	d->expires_at = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1 ?
	    (int64_t)time(NULL) + (int64_t)days * 86400 + secs : 0;
}

void
serve_tls_metric(const struct serve_cert *d)
{
	if (d->expires_at > 0)
		metrics_set("gatehouse_tls_certificate_expiry_timestamp_seconds",
		    (double)d->expires_at, NULL);
}

/*
 * The TLS certificate and key parse, and the key is the certificate's.
 * Left to libmicrohttpd, a mismatch showed only when the listener started,
 * after a first run had made the store, its keys and an admin client (the
 * secret shown with an https URL that never answered), and it said only
 * "a bad TLS certificate or key?". 0 with the certificate described in
 * *desc (when not NULL), or -1 with the reason in err.
 */
static int
tls_pair_check(const struct config *cfg, const char *cert, const char *key, char *err,
    size_t errlen, struct serve_cert *desc)
{
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1;

	if ((b = BIO_new_mem_buf(cert, -1)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) == NULL) {
		snprintf(err, errlen, "%s: no PEM certificate (tls_cert)", cfg->tls_cert);
		goto out;
	}
	BIO_free(b);
	if ((b = BIO_new_mem_buf(key, -1)) == NULL ||
	    (k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) == NULL) {
		snprintf(err, errlen, "%s: no PEM private key without a passphrase (tls_key)",
		    cfg->tls_key);
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		snprintf(err, errlen, "%s is not the key of the certificate in %s (tls_key, tls_cert)",
		    cfg->tls_key, cfg->tls_cert);
		goto out;
	}
	if (desc != NULL)
		cert_describe(x, desc);
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(b);
	return rc;
}

int
serve_tls_read(const struct config *cfg, char **cert, char **key, struct serve_cert *desc,
    char *err, size_t errlen)
{
	*cert = *key = NULL;
	if ((*cert = read_pem(cfg->tls_cert, 0, err, errlen)) != NULL &&
	    (*key = read_pem(cfg->tls_key, 1, err, errlen)) != NULL &&
	    tls_pair_check(cfg, *cert, *key, err, errlen, desc) == 0)
		return 0;
	free(*cert);
	if (*key != NULL) {
		OPENSSL_cleanse(*key, strlen(*key));
		free(*key);
	}
	*cert = *key = NULL;
	return -1;
}
