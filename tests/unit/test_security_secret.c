/* test_security_secret.c — secret generation, the keyed hash, constant-time
 * comparison and token hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "security/secret.h"
#include "util/util.h"

static void
test_generate(void **state)
{
	char a[SECRET_TEXT_LEN + 1], b[SECRET_TEXT_LEN + 1];
	(void)state;
	assert_int_equal(secret_generate(a), 0);
	assert_int_equal(secret_generate(b), 0);
	assert_int_equal(strlen(a), SECRET_TEXT_LEN);
	assert_string_not_equal(a, b);
	/* Base64url of exactly 256 bits: 43 characters, the last carrying
	 * 4 bits and 2 zero bits (so one of AEIMQUYcgkosw048). */
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), SECRET_TEXT_LEN);
	assert_non_null(strchr("AEIMQUYcgkosw048", a[SECRET_TEXT_LEN - 1]));
	/* Not stuck: 16 secrets are all different. */
	for (int i = 0; i < 16; i++) {
		assert_int_equal(secret_generate(b), 0);
		assert_string_not_equal(a, b);
	}
}

/* A fixed answer (computed independently with Python's hmac module). */
static void
test_hash_known_answer(void **state)
{
	uint8_t key[32], out[SECRET_HASH_LEN];
	char hex[2 * SECRET_HASH_LEN + 1];

	(void)state;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	secret_hash(key, "client-secret-example", 21, out);
	hex_encode(out, sizeof(out), hex);
	assert_string_equal(hex,
	    "71d118deb9e0a76f6c83111945cc06aa716ea6abad477fcf9f0b65d7cc128755");
}

/* Agrees with OpenSSL's own HMAC for many lengths, across block edges. */
static void
test_hash_matches_hmac(void **state)
{
	uint8_t key[32], ours[32], ref[32];
	char msg[SECRET_MAX_INPUT];
	unsigned int rl;

	(void)state;
	assert_int_equal(rand_bytes(key, sizeof(key)), 0);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('!' + i % 90);
	for (size_t len = 0; len <= sizeof(msg); len += (len < 130 ? 1 : 37)) {
		secret_hash(key, msg, len, ours);
		assert_non_null(HMAC(EVP_sha256(), key, 32, (const uint8_t *)msg, len,
		    ref, &rl));
		assert_int_equal(rl, 32);
		assert_memory_equal(ours, ref, 32);
	}
	/* The key matters. */
	secret_hash(key, "x", 1, ours);
	key[31] ^= 1;
	secret_hash(key, "x", 1, ref);
	assert_memory_not_equal(ours, ref, 32);
}

static void
test_equal(void **state)
{
	uint8_t a[SECRET_HASH_LEN], b[SECRET_HASH_LEN];

	(void)state;
	assert_int_equal(rand_bytes(a, sizeof(a)), 0);
	memcpy(b, a, sizeof(a));
	assert_int_equal(secret_equal(a, b), 1);
	b[0] ^= 0x80;
	assert_int_equal(secret_equal(a, b), 0);
	b[0] ^= 0x80;
	b[SECRET_HASH_LEN - 1] ^= 1;
	assert_int_equal(secret_equal(a, b), 0);
}

/* FIPS 180-2 examples. */
static void
test_token_hash(void **state)
{
	uint8_t out[32];
	char hex[65];

	(void)state;
	token_hash("abc", 3, out);
	hex_encode(out, 32, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	token_hash("", 0, out);
	hex_encode(out, 32, hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_hash_known_answer),
		cmocka_unit_test(test_hash_matches_hmac),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_token_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
