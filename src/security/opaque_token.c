/* opaque_token.c — see opaque_token.h. */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "security/opaque_token.h"
#include "security/secret.h"
#include "util/util.h"

#define BLOCK		16
#define PREFIX_BYTES	4
#define HASH_BYTES	((OPAQUE_ID_LEN / 2) - PREFIX_BYTES)

/* Fetched once, as secret.c does SHA-256: a fetch per call takes the
 * method store's lock. The EVP_CIPHER is read-only and shared. */
static EVP_CIPHER *aes;
static pthread_once_t aes_once = PTHREAD_ONCE_INIT;

static void
aes_fetch(void)
{
	aes = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
}

/* One block through AES-256 in either direction. ECB is right here: it is
 * used on exactly one block, as the pseudorandom permutation itself, and
 * no block ever repeats (96 random bits in each). A context per call costs
 * under a microsecond (the key schedule with AES-NI): less than a context
 * kept per thread would cost in code that frees it. */
static int
aes_block(const uint8_t key[OPAQUE_KEY_LEN], int encrypt, const uint8_t in[BLOCK],
    uint8_t out[BLOCK])
{
	EVP_CIPHER_CTX *c;
	int n = 0, ok;

	pthread_once(&aes_once, aes_fetch);
	if (aes == NULL || (c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex2(c, aes, key, NULL, encrypt, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_CipherUpdate(c, out, &n, in, BLOCK) == 1 && n == BLOCK;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* id = hex(prefix) || hex(SHA-256(token)[0..28)). 0, or -1 when the hash
 * failed: a token stored under another id would never be found. */
static int
make_id(const uint8_t prefix[PREFIX_BYTES], const char *token, size_t len,
    char id[OPAQUE_ID_LEN + 1])
{
	uint8_t h[32];

	if (token_hash(token, len, h) == -1)
		return -1;
	hex_encode(prefix, PREFIX_BYTES, id);
	hex_encode(h, HASH_BYTES, id + 2 * PREFIX_BYTES);
	return 0;
}

int
opaque_token_new(const uint8_t key[OPAQUE_KEY_LEN], int64_t now_ms,
    char token[OPAQUE_TOKEN_LEN + 1], char id[OPAQUE_ID_LEN + 1])
{
	uint8_t plain[BLOCK], ct[BLOCK];
	uint32_t t = (uint32_t)now_ms;	/* the low 32 bits; wraps */
	int rc = -1;

	/* Big-endian, so that the hex of later prefixes sorts later. */
	plain[0] = (uint8_t)(t >> 24);
	plain[1] = (uint8_t)(t >> 16);
	plain[2] = (uint8_t)(t >> 8);
	plain[3] = (uint8_t)t;
	if (rand_bytes(plain + PREFIX_BYTES, BLOCK - PREFIX_BYTES) == -1 ||
	    aes_block(key, 1, plain, ct) == -1)
		goto out;
	hex_encode(ct, BLOCK, token);
	if (make_id(plain, token, OPAQUE_TOKEN_LEN, id) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(ct, sizeof(ct));
	return rc;
}

int
opaque_token_id(const uint8_t key[OPAQUE_KEY_LEN], const char *token, size_t len,
    char id[OPAQUE_ID_LEN + 1])
{
	uint8_t ct[BLOCK], plain[BLOCK];
	int rc;

	if (len != OPAQUE_TOKEN_LEN)
		return 0;
	/* Lower case only, as issued: the id hashes the text, so an
	 * upper-case spelling could never match and is not ours. */
	for (size_t i = 0; i < len; i++)
		if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
			return 0;
	if (hex_decode(token, len, ct, BLOCK) == -1)
		return 0;
	rc = aes_block(key, 0, ct, plain) == -1 ? -1 : 1;
	if (rc == 1 && make_id(plain, token, len, id) == -1)
		rc = -1;
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

int
opaque_token_legacy_id(const char *token, size_t len, char id[OPAQUE_ID_LEN + 1])
{
	uint8_t h[32];

	if (token_hash(token, len, h) == -1)
		return -1;
	hex_encode(h, sizeof(h), id);
	return 0;
}
