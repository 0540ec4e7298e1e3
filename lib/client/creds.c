/*
 * creds.c — loading a client id and secret from the environment or a file.
 * A secret file readable or writable by group or others is refused, as
 * OpenBSD's httpd check_file_secrecy() does: a secret others can read is
 * no longer a secret, and saying so early beats finding out in an audit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "extern.h"

#define GHC_SECRET_FILE_MAX 65536

void
gh_client_credentials_free(char *id, char *secret)
{
	free(id);
	if (secret != NULL) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
}

/* The open secret file must be a regular file with no group or other
 * access (see the top of this file). */
static enum gh_client_err
check_secret_file(int fd, const char *path, struct gh_client_error *e)
{
	struct stat st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return ghc_fail(e, GH_CLIENT_ERR_CREDENTIALS, 0,
		    "the secret file %s is not a regular file", path);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return ghc_fail(e, GH_CLIENT_ERR_INSECURE_FILE, 0,
		    "the secret file %s is accessible by group or others (mode %03o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
	return GH_CLIENT_OK;
}

/* Reads fd to its end into b (bounded by b->max); the read chunk is wiped
 * on every path, b is the caller's to wipe and free. */
static enum gh_client_err
read_secret_bytes(int fd, const char *path, struct ghc_buf *b,
    struct gh_client_error *e)
{
	enum gh_client_err rc;
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = ghc_fail(e, GH_CLIENT_ERR_CREDENTIALS, 0,
			    "cannot read the secret file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (ghc_buf_append(b, chunk, (size_t)n) != 0) {
			rc = ghc_fail(e, b->overflow ? GH_CLIENT_ERR_CREDENTIALS : GH_CLIENT_ERR_NO_MEMORY,
			    0, "the secret file %s is larger than %d bytes", path, GHC_SECRET_FILE_MAX);
			goto out;
		}
	}
	rc = GH_CLIENT_OK;
out:
	OPENSSL_cleanse(chunk, sizeof(chunk));
	return rc;
}

static enum gh_client_err
read_secret_file(const char *path, char **out, struct gh_client_error *e)
{
	struct ghc_buf b = { 0 };
	enum gh_client_err rc;
	size_t len;
	int fd = -1;

	b.max = GHC_SECRET_FILE_MAX;
	/* O_NONBLOCK: a FIFO (or a device) must fail the regular-file check
	 * below, not block this open until someone writes to it. It changes
	 * nothing for a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		rc = ghc_fail(e, GH_CLIENT_ERR_CREDENTIALS, 0, "cannot open the secret file %s: %s",
		    path, strerror(errno));
		goto out;
	}
	if ((rc = check_secret_file(fd, path, e)) != GH_CLIENT_OK ||
	    (rc = read_secret_bytes(fd, path, &b, e)) != GH_CLIENT_OK)
		goto out;
	/* The first line, without its line ending. */
	len = b.p != NULL ? strcspn(b.p, "\r\n") : 0;
	if (b.p != NULL && memchr(b.p, '\0', len) != NULL)
		len = 0;
	if (len == 0) {
		rc = ghc_fail(e, GH_CLIENT_ERR_CREDENTIALS, 0,
		    "the secret file %s is empty or starts with an empty line", path);
		goto out;
	}
	if ((*out = malloc(len + 1)) == NULL) {
		rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		goto out;
	}
	memcpy(*out, b.p, len);
	(*out)[len] = '\0';
	rc = GH_CLIENT_OK;
out:
	ghc_buf_free(&b);
	if (fd != -1)
		close(fd);
	return rc;
}

enum gh_client_err
gh_client_credentials_load(const char *id_value, const char *id_env, const char *secret_file,
    const char *secret_env, char **id, char **secret, struct gh_client_error *e)
{
	enum gh_client_err rc;
	const char *v;

	if (id == NULL || secret == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no out pointers");
	*id = *secret = NULL;
	v = id_value;
	if (v == NULL && id_env != NULL)
		v = getenv(id_env);
	if (v == NULL || *v == '\0')
		return ghc_fail(e, GH_CLIENT_ERR_CREDENTIALS, 0, "no client id given%s%s%s",
		    id_env ? " (and " : "", id_env ? id_env : "", id_env ? " is not set)" : "");
	if ((*id = strdup(v)) == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	if (secret_file != NULL) {
		if ((rc = read_secret_file(secret_file, secret, e)) != GH_CLIENT_OK)
			goto fail;
		return GH_CLIENT_OK;
	}
	v = secret_env != NULL ? getenv(secret_env) : NULL;
	if (v == NULL || *v == '\0') {
		rc = ghc_fail(e, GH_CLIENT_ERR_CREDENTIALS, 0,
		    "no client secret: give a secret file%s%s%s", secret_env ? " or set " : "",
		    secret_env ? secret_env : "", "");
		goto fail;
	}
	if ((*secret = strdup(v)) == NULL) {
		rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		goto fail;
	}
	return GH_CLIENT_OK;
fail:
	free(*id);
	*id = NULL;
	return rc;
}
