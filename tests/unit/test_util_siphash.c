/*
 * Unit tests for siphash24 (src/util/util.c), written by hand for speed:
 * the reference's test vector, and OpenSSL's SipHash-2-4 (EVP_MAC
 * "SIPHASH", 8-byte output) on random keys and every length to 64 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "util/util.h"

static uint64_t
openssl_siphash(const uint8_t key[16], const uint8_t *in, size_t len)
{
	EVP_MAC *sip = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	EVP_MAC_CTX *ctx = sip != NULL ? EVP_MAC_CTX_new(sip) : NULL;
	size_t hlen = 8, n = 0;
	OSSL_PARAM p[2] = { OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &hlen),
	    OSSL_PARAM_construct_end() };
	uint8_t h[8];
	uint64_t v = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_MAC_init(ctx, key, 16, p), 1);
	assert_int_equal(EVP_MAC_update(ctx, in, len), 1);
	assert_int_equal(EVP_MAC_final(ctx, h, &n, sizeof(h)), 1);
	assert_int_equal(n, 8);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | h[i];	/* the output is the state, little-endian */
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(sip);
	return v;
}

/* The paper's Appendix A: key 00..0f, message 00..0e. */
static void
reference_vector(void **state)
{
	uint8_t key[16], msg[15];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(siphash24(key, msg, sizeof(msg)) == 0xa129ca6149be45e5ULL);
}

static void
agrees_with_openssl(void **state)
{
	uint8_t key[16], msg[64];

	(void)state;
	for (int round = 0; round < 20; round++) {
		assert_int_equal(rand_bytes(key, sizeof(key)), 0);
		assert_int_equal(rand_bytes(msg, sizeof(msg)), 0);
		for (size_t len = 0; len <= sizeof(msg); len++)
			assert_true(siphash24(key, msg, len) == openssl_siphash(key, msg, len));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reference_vector),
		cmocka_unit_test(agrees_with_openssl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
