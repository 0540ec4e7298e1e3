/* test_jose_b64url.c — base64url and standard base64: RFC 4648 §10 vectors,
 * the alphabets, and every non-canonical spelling the decoders must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "jose/b64url.h"

static const struct { const char *in, *url, *std; } rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg", "Zg==" },
	{ "fo", "Zm8", "Zm8=" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static int
url_dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	return b64url_decode(s, strlen(s), out, cap, n);
}

static int
std_dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	return b64std_decode(s, strlen(s), out, cap, n);
}

static void
test_rfc4648_vectors(void **state)
{
	char enc[32];
	uint8_t dec[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		size_t len = strlen(rfc4648[i].in);
		assert_int_equal(b64url_encoded_len(len), strlen(rfc4648[i].url));
		assert_int_equal(b64url_encode((const uint8_t *)rfc4648[i].in, len, enc),
		    strlen(rfc4648[i].url));
		assert_string_equal(enc, rfc4648[i].url);
		assert_int_equal(b64std_encode((const uint8_t *)rfc4648[i].in, len, enc),
		    strlen(rfc4648[i].std));
		assert_string_equal(enc, rfc4648[i].std);

		assert_int_equal(url_dec(rfc4648[i].url, dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, rfc4648[i].in, len);
		assert_int_equal(std_dec(rfc4648[i].std, dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, rfc4648[i].in, len);
	}
}

/* 0xfb 0xff uses the two characters the alphabets differ in. */
static void
test_alphabets(void **state)
{
	const uint8_t in[] = { 0xfb, 0xff, 0xbf };
	char enc[8];
	uint8_t dec[8];
	size_t n;

	(void)state;
	b64url_encode(in, 3, enc);
	assert_string_equal(enc, "-_-_");
	b64std_encode(in, 3, enc);
	assert_string_equal(enc, "+/+/");
	assert_int_equal(url_dec("-_-_", dec, sizeof(dec), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(dec, in, 3);
	assert_int_equal(url_dec("+/+/", dec, sizeof(dec), &n), -1);
	assert_int_equal(std_dec("-_-_", dec, sizeof(dec), &n), -1);
	assert_int_equal(std_dec("+/+/", dec, sizeof(dec), &n), 0);
	assert_memory_equal(dec, in, 3);
}

static void
test_url_rejects(void **state)
{
	static const char *bad[] = {
		"Zg==",		/* padding */
		"Zm8=",
		"Z",		/* 1 mod 4 */
		"Zm9vY",
		"Zh",		/* non-zero trailing bits: "Zg" is canonical */
		"Zm9",		/* "Zm8" is canonical */
		"Zm 9",		/* space */
		"Zm9v\n",
		"Zm.v",
		"Zm9v+A",
		"Zm9v/A",
		"Zm9\xc3\xa9",	/* non-ASCII */
	};
	uint8_t dec[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(url_dec(bad[i], dec, sizeof(dec), &n), -1);
	/* An embedded NUL is outside the alphabet, not the end. */
	assert_int_equal(b64url_decode("Zm\0v", 4, dec, sizeof(dec), &n), -1);
}

static void
test_std_rejects(void **state)
{
	static const char *bad[] = {
		"Zg",		/* padding is required */
		"Zm8",
		"Zh==",		/* non-canonical */
		"Zm9=",
		"Z===",
		"====",
		"Zg=a",
		"Z=g=",
		"Zg==Zg==",	/* padding in the middle */
		"Zm9v ",
	};
	uint8_t dec[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(std_dec(bad[i], dec, sizeof(dec), &n), -1);
}

static void
test_capacity(void **state)
{
	uint8_t dec[6];
	size_t n = 99;

	(void)state;
	assert_int_equal(url_dec("Zm9vYmFy", dec, 5, &n), -1);
	assert_int_equal(n, 99);
	assert_int_equal(url_dec("Zm9vYmFy", dec, 6, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(std_dec("Zm9vYmE=", dec, 4, &n), -1);
	assert_int_equal(std_dec("Zm9vYmE=", dec, 5, &n), 0);
	assert_int_equal(n, 5);
}

/* Every byte value at every position and length round-trips. */
static void
test_round_trip(void **state)
{
	uint8_t in[256], dec[256];
	char enc[4 * 86 + 1];
	size_t n, e;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(in); len++) {
		e = b64url_encode(in, len, enc);
		assert_int_equal(e, b64url_encoded_len(len));
		assert_int_equal(strlen(enc), e);
		assert_int_equal(b64url_decode(enc, e, dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);
		e = b64std_encode(in, len, enc);
		assert_int_equal(e, 4 * ((len + 2) / 3));
		assert_int_equal(b64std_decode(enc, e, dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_alphabets),
		cmocka_unit_test(test_url_rejects),
		cmocka_unit_test(test_std_rejects),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
