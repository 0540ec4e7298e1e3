/* test_security_opaque_token.c — opaque tokens and their record ids: the
 * shape, the construction (checked against OpenSSL directly), ids that grow
 * with time, and tokens refused as not ours. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "security/opaque_token.h"
#include "security/secret.h"
#include "util/util.h"

/* OpenSSL's allocator for these tests: counts allocations, and fails every
 * one after fail_after more (-1: none fails), as a server out of memory. */
static long allocs, fail_after = -1;

/* Counts one allocation: 1 when it is to fail. */
static int
t_fails(void)
{
	allocs++;
	if (fail_after == 0)
		return 1;
	if (fail_after > 0)
		fail_after--;
	return 0;
}

static void *
t_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return t_fails() ? NULL : malloc(n);
}

static void *
t_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return t_fails() ? NULL : realloc(p, n);
}

static void
t_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static const uint8_t key_a[OPAQUE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t key_b[OPAQUE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11 };

/* 2026-11-24 in milliseconds (beyond 32 bits: its low 32 are 0x0ada2c00). */
#define T0	1795478400000LL

static int
is_lower_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* The token deciphered with OpenSSL directly, not through the module. */
static void
decipher(const uint8_t key[OPAQUE_KEY_LEN], const char *token, uint8_t plain[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t ct[16];
	int n = 0;

	assert_non_null(c);
	assert_int_equal(hex_decode(token, 32, ct, 16), 0);
	assert_int_equal(EVP_DecryptInit_ex2(c, EVP_aes_256_ecb(), key, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_set_padding(c, 0), 1);
	assert_int_equal(EVP_DecryptUpdate(c, plain, &n, ct, 16), 1);
	assert_int_equal(n, 16);
	EVP_CIPHER_CTX_free(c);
}

static void
sha256_hex(const char *s, char out[65])
{
	uint8_t h[32];

	assert_int_equal(EVP_Digest(s, strlen(s), h, NULL, EVP_sha256(), NULL), 1);
	hex_encode(h, 32, out);
}

static void
test_shape_and_construction(void **state)
{
	char tok[OPAQUE_TOKEN_LEN + 1], id[OPAQUE_ID_LEN + 1], hex[65], prefix[9];
	uint8_t plain[16];
	uint32_t t = (uint32_t)T0;
	(void)state;

	assert_int_equal(opaque_token_new(key_a, T0, tok, id), 0);
	assert_true(is_lower_hex(tok, OPAQUE_TOKEN_LEN));
	assert_true(is_lower_hex(id, OPAQUE_ID_LEN));
	/* The token enciphers (time ‖ random bits) under the key... */
	decipher(key_a, tok, plain);
	assert_int_equal(((uint32_t)plain[0] << 24) | ((uint32_t)plain[1] << 16) |
	    ((uint32_t)plain[2] << 8) | plain[3], t);
	/* ...and the id is that time, then the token's SHA-256 cut to 28
	 * bytes: never the token itself. */
	snprintf(prefix, sizeof(prefix), "%08x", t);
	assert_memory_equal(id, prefix, 8);
	sha256_hex(tok, hex);
	assert_memory_equal(id + 8, hex, 56);
	assert_null(strstr(id, tok));
}

static void
test_presented_token_finds_its_id(void **state)
{
	char tok[OPAQUE_TOKEN_LEN + 1], id[OPAQUE_ID_LEN + 1], again[OPAQUE_ID_LEN + 1];
	(void)state;

	for (int i = 0; i < 64; i++) {
		assert_int_equal(opaque_token_new(key_a, T0 + i * 7919, tok, id), 0);
		assert_int_equal(opaque_token_id(key_a, tok, strlen(tok), again), 1);
		assert_string_equal(again, id);
		/* Under another master key the token names no record of ours. */
		assert_int_equal(opaque_token_id(key_b, tok, strlen(tok), again), 1);
		assert_string_not_equal(again, id);
	}
}

/* What makes issuing fast: records issued later sort later, so a batch of
 * them lands on the id index's last page. */
static void
test_ids_grow_with_time(void **state)
{
	char tok[OPAQUE_TOKEN_LEN + 1], prev[OPAQUE_ID_LEN + 1], id[OPAQUE_ID_LEN + 1];
	(void)state;

	assert_int_equal(opaque_token_new(key_a, T0, tok, prev), 0);
	for (int ms = 1; ms < 2000; ms += 3) {
		assert_int_equal(opaque_token_new(key_a, T0 + ms, tok, id), 0);
		assert_true(strcmp(prev, id) < 0);
		memcpy(prev, id, sizeof(id));
	}
}

/* Tokens of one millisecond share the id's prefix, and nothing of it shows
 * in the tokens: their first 32 bits all differ. */
static void
test_tokens_show_no_time(void **state)
{
	char tok[64][OPAQUE_TOKEN_LEN + 1], id[OPAQUE_ID_LEN + 1];
	(void)state;

	for (int i = 0; i < 64; i++) {
		assert_int_equal(opaque_token_new(key_a, T0, tok[i], id), 0);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(tok[i], tok[j], 8);
	}
}

static void
test_not_ours(void **state)
{
	char tok[OPAQUE_TOKEN_LEN + 1], id[OPAQUE_ID_LEN + 1], up[OPAQUE_TOKEN_LEN + 1];
	(void)state;

	assert_int_equal(opaque_token_new(key_a, T0, tok, id), 0);
	memset(id, 'x', OPAQUE_ID_LEN);
	id[OPAQUE_ID_LEN] = '\0';
	assert_int_equal(opaque_token_id(key_a, tok, 31, id), 0);
	assert_int_equal(opaque_token_id(key_a, "0123456789abcdef0123456789abcdef0", 33, id), 0);
	assert_int_equal(opaque_token_id(key_a, "0123456789abcdef0123456789abcdeg", 32, id), 0);
	assert_int_equal(opaque_token_id(key_a, "0123456789abcdef\0" "123456789abcdef", 32, id), 0);
	for (size_t i = 0; i <= OPAQUE_TOKEN_LEN; i++)
		up[i] = (char)(tok[i] >= 'a' && tok[i] <= 'f' ? tok[i] - 32 : tok[i]);
	if (strcmp(up, tok) != 0)
		assert_int_equal(opaque_token_id(key_a, up, OPAQUE_TOKEN_LEN, id), 0);
	/* Refusals leave id alone. */
	assert_int_equal(strspn(id, "x"), OPAQUE_ID_LEN);
}

/* Records written before tokens carried their time are keyed by the whole
 * SHA-256 of the token, of any length. */
static void
test_legacy_id(void **state)
{
	char id[OPAQUE_ID_LEN + 1], hex[65];
	const char *old = "094696b3724d4aa5a182eac360dcd537";	/* seed 003's */
	(void)state;

	opaque_token_legacy_id(old, strlen(old), id);
	sha256_hex(old, hex);
	assert_string_equal(id, hex);
	opaque_token_legacy_id("x", 1, id);
	assert_string_equal(id, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
}

/*
 * Regression: a hash that failed (out of memory) filled the record id with
 * random bytes and the token was issued all the same: answered 200, stored
 * under an id the token could never be found by, refused at every use.
 * Every token handed out is found again under its id; when the hash fails,
 * none is handed out.
 */
static void
test_no_token_under_an_id_it_does_not_have(void **state)
{
	char tok[OPAQUE_TOKEN_LEN + 1], id[OPAQUE_ID_LEN + 1], again[OPAQUE_ID_LEN + 1];
	uint8_t h[32];
	long whole, hash;
	(void)state;

	/* Warm up (fetches, caches), then count what a token and a hash take. */
	assert_int_equal(opaque_token_new(key_a, T0, tok, id), 0);
	allocs = 0;
	assert_int_equal(opaque_token_new(key_a, T0, tok, id), 0);
	whole = allocs;
	allocs = 0;
	assert_int_equal(token_hash(tok, OPAQUE_TOKEN_LEN, h), 0);
	hash = allocs;
	assert_true(hash > 0 && whole >= hash);
	/* The hash, made last, fails; the cipher before it does not. */
	fail_after = whole - hash;
	if (opaque_token_new(key_a, T0 + 1, tok, id) == 0) {
		fail_after = -1;
		assert_int_equal(opaque_token_id(key_a, tok, OPAQUE_TOKEN_LEN, again), 1);
		assert_string_equal(id, again);
	}
	fail_after = 0;
	assert_int_equal(token_hash("abc", 3, h), -1);
	assert_int_equal(opaque_token_legacy_id("abc", 3, again), -1);
	fail_after = -1;
	assert_int_equal(token_hash("abc", 3, h), 0);
}

int
main(void)
{
	/* Before OpenSSL's first allocation, or it keeps its own. */
	assert_int_equal(CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free), 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape_and_construction),
		cmocka_unit_test(test_presented_token_finds_its_id),
		cmocka_unit_test(test_ids_grow_with_time),
		cmocka_unit_test(test_tokens_show_no_time),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_legacy_id),
		cmocka_unit_test(test_no_token_under_an_id_it_does_not_have),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
