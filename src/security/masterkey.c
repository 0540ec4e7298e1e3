/* masterkey.c — see masterkey.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "security/masterkey.h"
#include "util/secrecy.h"
#include "util/util.h"

#define HEX_LEN		(2 * MASTERKEY_LEN)
#define NONCE_LEN	12
#define TAG_LEN		16

/* Writes all of buf, retrying short writes and EINTR. */
static int
write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so that the new name survives a crash. */
static int
fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -1;
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The key as hex and a newline in a new file tmp, synced. 0 or -1. */
static int
write_key_file(const char *tmp, const uint8_t key[MASTERKEY_LEN], char *err, size_t errlen)
{
	char hex[HEX_LEN + 2];
	int fd, rc = -1;

	if ((fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "cannot create master key %s: %s", tmp, strerror(errno));
		return -1;
	}
	hex_encode(key, MASTERKEY_LEN, hex);
	hex[HEX_LEN] = '\n';
	hex[HEX_LEN + 1] = '\0';
	if (write_all(fd, hex, HEX_LEN + 1) == -1 || fsync(fd) == -1)
		snprintf(err, errlen, "cannot write master key %s: %s", tmp, strerror(errno));
	else
		rc = 0;
	if (close(fd) == -1 && rc == 0) {
		snprintf(err, errlen, "cannot write master key %s: %s", tmp, strerror(errno));
		rc = -1;
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

/*
 * A new key at path, or 0 when a file is there already (then loaded). It
 * is written whole to a file of its own and linked into place, which
 * fails rather than replaces when path exists: path is never seen empty
 * or half written, not even after a crash (which once left an empty key
 * file that refused every start). 1 made, 0 there already, -1.
 */
static int
create_key(const char *path, uint8_t out[MASTERKEY_LEN], char *err,
    size_t errlen)
{
	char tmp[PATH_MAX], tag[17];
	uint8_t r[8];
	int rc = -1;

	/* A name of its own: other processes and threads may be making one. */
	if (rand_bytes(out, MASTERKEY_LEN) == -1 || rand_bytes(r, sizeof(r)) == -1) {
		snprintf(err, errlen, "master key %s: no random bytes", path);
		return -1;
	}
	hex_encode(r, sizeof(r), tag);
	if (snprintf(tmp, sizeof(tmp), "%s.new.%s", path, tag) >= (int)sizeof(tmp)) {
		OPENSSL_cleanse(out, MASTERKEY_LEN);
		snprintf(err, errlen, "master key path %s is too long", path);
		return -1;
	}
	if (write_key_file(tmp, out, err, errlen) == -1)
		goto out;
	if (link(tmp, path) == -1) {
		if (errno == EEXIST)
			rc = 0;		/* another process made it first: load it */
		else
			snprintf(err, errlen, "cannot create master key %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (fsync_dir(path) == -1) {
		snprintf(err, errlen, "cannot sync the directory of master key %s: %s",
		    path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
	rc = 1;
out:
	(void)unlink(tmp);
	if (rc != 1)
		OPENSSL_cleanse(out, MASTERKEY_LEN);
	return rc;
}

/* The open key file must be a regular file that only its owner, this
 * user or root, may read or write (util/secrecy.h).  0, or -1 with err
 * filled. */
static int
check_key_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char why[160];

	/* fstat the open file, not the name, so the checks apply to what we
	 * read (STYLE 5; httpd check_file_secrecy). */
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot stat master key %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (file_secrecy_check(&st, geteuid(), why, sizeof(why)) == -1) {
		snprintf(err, errlen, "master key %s %s", path, why);
		return -1;
	}
	return 0;
}

/* Reads and decodes the key's hex into out; the read buffer is wiped on
 * every path.  0, or -1 with err filled (and out wiped if it was bad). */
static int
read_key_hex(int fd, const char *path, uint8_t out[MASTERKEY_LEN], char *err,
    size_t errlen)
{
	char buf[HEX_LEN + 2];
	size_t n = 0;
	int rc = -1;

	/* Read one byte more than the longest valid content to detect excess. */
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read master key %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!(n == HEX_LEN || (n == HEX_LEN + 1 && buf[HEX_LEN] == '\n')) ||
	    hex_decode(buf, HEX_LEN, out, MASTERKEY_LEN) == -1) {
		OPENSSL_cleanse(out, MASTERKEY_LEN);
		snprintf(err, errlen, "master key %s must hold exactly 64 hex "
		    "characters and an optional newline%s", path, n == 0 ? " (it is empty: "
		    "an earlier version crashing while it made the key leaves that; if no "
		    "store was ever opened with it, delete it to have a new one made)" : "");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
masterkey_load(const char *path, int create, uint8_t out[MASTERKEY_LEN],
    int *created, char *err, size_t errlen)
{
	int fd = -1, rc = -1, tries = 0;

	if (created != NULL)
		*created = 0;
again:
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT && create && tries++ == 0) {
			int r = create_key(path, out, err, errlen);
			if (r == 0)
				goto again;
			if (r == 1 && created != NULL)
				*created = 1;
			return r == 1 ? 0 : -1;
		}
		snprintf(err, errlen, "cannot open master key %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (check_key_file(fd, path, err, errlen) == -1 ||
	    read_key_hex(fd, path, out, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	close(fd);
	return rc;
}

int
masterkey_derive(const uint8_t master[MASTERKEY_LEN], const char *label,
    uint8_t out[32])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM p[4];
	int rc = -1;

	if (label == NULL)
		return -1;
	/* RFC 5869 with no salt (a string of HashLen zeros): the master key is
	 * already uniformly random, so extraction needs none. */
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)master, MASTERKEY_LEN);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)label, strlen(label));
	p[3] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL &&
	    (ctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(ctx, out, 32, p) == 1)
		rc = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	if (rc == -1)
		OPENSSL_cleanse(out, 32);
	return rc;
}

/* AES-256-GCM with a 96-bit nonce (NIST SP 800-38D §8.2.2: random nonces
 * are fine for far fewer than 2^32 seals under one key). */
static int
gcm(int enc, const uint8_t key[32], const uint8_t nonce[NONCE_LEN],
    const char *aad, const uint8_t *in, size_t n, uint8_t *out,
    uint8_t tag[TAG_LEN])
{
	EVP_CIPHER_CTX *c = NULL;
	int len, rc = -1;
	size_t alen = aad != NULL ? strlen(aad) : 0;

	if (n > INT_MAX || alen > INT_MAX ||
	    (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex2(c, EVP_aes_256_gcm(), key, nonce, enc, NULL) != 1)
		goto out;
	if (alen > 0 && EVP_CipherUpdate(c, NULL, &len, (const uint8_t *)aad,
	    (int)alen) != 1)
		goto out;
	if (n > 0 && EVP_CipherUpdate(c, out, &len, in, (int)n) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &len) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int
seal(const uint8_t key[32], const uint8_t *pt, size_t n, const char *aad,
    uint8_t **out, size_t *outlen)
{
	uint8_t *buf;

	if (n > INT_MAX - NONCE_LEN - TAG_LEN || (pt == NULL && n != 0) ||
	    (buf = malloc(NONCE_LEN + n + TAG_LEN)) == NULL)
		return -1;
	if (rand_bytes(buf, NONCE_LEN) == -1 ||
	    gcm(1, key, buf, aad, pt, n, buf + NONCE_LEN,
	    buf + NONCE_LEN + n) == -1) {
		OPENSSL_cleanse(buf, NONCE_LEN + n + TAG_LEN);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = NONCE_LEN + n + TAG_LEN;
	return 0;
}

int
unseal(const uint8_t key[32], const uint8_t *in, size_t n, const char *aad,
    uint8_t **out, size_t *outlen)
{
	uint8_t *buf, tag[TAG_LEN];
	size_t m;

	if (in == NULL || n < NONCE_LEN + TAG_LEN || n > INT_MAX)
		return -1;
	m = n - NONCE_LEN - TAG_LEN;
	/* +1: malloc(0) may return NULL; and room for GCM's empty final. */
	if ((buf = malloc(m + 1)) == NULL)
		return -1;
	memcpy(tag, in + NONCE_LEN + m, TAG_LEN);
	if (gcm(0, key, in, aad, in + NONCE_LEN, m, buf, tag) == -1) {
		/* Plaintext of a forged blob is never handed out. */
		OPENSSL_cleanse(buf, m + 1);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = m;
	return 0;
}
