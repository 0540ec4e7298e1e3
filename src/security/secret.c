/* secret.c — see secret.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "security/secret.h"
#include "util/util.h"

/*
 * SHA-256 is fetched once: a fetch per call costs a method-store lookup
 * under a lock, which is most of the time of hashing a short string. The
 * EVP_MD is read-only afterwards and safe to share between threads.
 */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256;
}

/*
 * A hash that fails (out of memory) fails closed: the output becomes
 * random and will match no stored hash. It is also reported: a caller
 * that took it as computed told a client with the right secret that it
 * was wrong (401, and a lockout after five), and stored a new client's
 * secret, or an opaque token, under a hash nothing would ever match.
 * Failing to get random bytes as well means the library is unusable, a
 * broken invariant.
 */
static void
fail_closed(uint8_t *out, size_t n)
{
	if (rand_bytes(out, n) == -1)
		abort();
}

/* Base64url without padding (RFC 4648 §5), written out here rather than
 * taken from jose/ so that this module depends on util alone. 32 bytes are
 * ten 3-byte groups and a 2-byte tail: 40 + 3 = 43 characters. */
int
secret_generate(char out[SECRET_TEXT_LEN + 1])
{
	static const char a[64] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[SECRET_BYTES + 1];
	size_t i, o = 0;

	if (rand_bytes(raw, SECRET_BYTES) == -1)
		return -1;
	raw[SECRET_BYTES] = 0;
	for (i = 0; i < SECRET_BYTES; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    (i + 2 < SECRET_BYTES ? raw[i + 2] : 0);
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		if (i + 2 < SECRET_BYTES)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return o == SECRET_TEXT_LEN ? 0 : -1;
}

/*
 * HMAC-SHA-256 (RFC 2104) on the pre-fetched digest: H(K^opad || H(K^ipad
 * || m)). The key is 32 bytes, shorter than the 64-byte block, so it is
 * used zero-padded as it is. Two digest contexts, no fetch, no MAC object.
 */
int
secret_hash(const uint8_t key[32], const char *secret, size_t len,
    uint8_t out[SECRET_HASH_LEN])
{
	uint8_t pad[64], inner[32];
	EVP_MD_CTX *c = NULL;
	const EVP_MD *h = md();
	size_t i;
	int ok = 0;

	if (h == NULL || (c = EVP_MD_CTX_new()) == NULL)
		goto out;
	for (i = 0; i < 32; i++)
		pad[i] = key[i] ^ 0x36;
	memset(pad + 32, 0x36, 32);
	if (EVP_DigestInit_ex2(c, h, NULL) != 1 ||
	    EVP_DigestUpdate(c, pad, 64) != 1 ||
	    EVP_DigestUpdate(c, secret, len) != 1 ||
	    EVP_DigestFinal_ex(c, inner, NULL) != 1)
		goto out;
	for (i = 0; i < 32; i++)
		pad[i] = key[i] ^ 0x5c;
	memset(pad + 32, 0x5c, 32);
	if (EVP_DigestInit_ex2(c, h, NULL) != 1 ||
	    EVP_DigestUpdate(c, pad, 64) != 1 ||
	    EVP_DigestUpdate(c, inner, 32) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		goto out;
	ok = 1;
out:
	EVP_MD_CTX_free(c);
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	if (!ok)
		fail_closed(out, SECRET_HASH_LEN);
	return ok ? 0 : -1;
}

int
secret_equal(const uint8_t a[SECRET_HASH_LEN], const uint8_t b[SECRET_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, SECRET_HASH_LEN) == 0;
}

int
token_hash(const char *token, size_t len, uint8_t out[32])
{
	const EVP_MD *h = md();

	if (h == NULL || EVP_Digest(token, len, out, NULL, h, NULL) != 1) {
		fail_closed(out, 32);
		return -1;
	}
	return 0;
}
