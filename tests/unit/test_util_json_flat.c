/*
 * Unit tests for src/util/json_flat.c, the writer of the token endpoint's
 * answers and the JWT claims: its output must be JSON that jansson reads
 * back to the same values, whatever the strings hold, and a buffer too
 * small must be refused, never overrun. Also the per-thread random pool in
 * util.c: bytes never repeat across refills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/json_flat.h"
#include "util/util.h"

static void
round_trip(void **state)
{
	static const char nasty[] = "q\"uote \\back\nnew\ttab\x01\x1f caf\xc3\xa9 \xe2\x82\xac";
	struct json_flat j;
	json_error_t err;
	size_t len = 0;
	char *text;
	json_t *o;

	(void)state;
	json_flat_begin(&j);
	json_flat_str(&j, "access_token", "eyJhbGciOiJFUzI1NiJ9.e30.sig");
	json_flat_int(&j, "expires_in", 3600);
	json_flat_int(&j, "negative", -9223372036854775807LL - 1);
	json_flat_str(&j, "name", nasty);
	json_flat_str(&j, "empty", "");
	text = json_flat_end(&j, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 5);
	assert_string_equal(json_string_value(json_object_get(o, "access_token")), "eyJhbGciOiJFUzI1NiJ9.e30.sig");
	assert_int_equal(json_integer_value(json_object_get(o, "expires_in")), 3600);
	assert_true(json_integer_value(json_object_get(o, "negative")) == -9223372036854775807LL - 1);
	assert_string_equal(json_string_value(json_object_get(o, "name")), nasty);
	assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
	json_decref(o);
	free(text);
}

static void
empty_object(void **state)
{
	struct json_flat j;
	size_t len = 0;
	char *text;

	(void)state;
	json_flat_begin(&j);
	text = json_flat_end(&j, &len);
	assert_string_equal(text, "{}");
	assert_int_equal(len, 2);
	free(text);
}

static void
long_value_grows(void **state)
{
	size_t n = 100000, len = 0;
	char *big = malloc(n + 1), *text;
	struct json_flat j;
	json_t *o;

	(void)state;
	memset(big, '"', n);	/* every byte escaped: 2n bytes out */
	big[n] = '\0';
	json_flat_begin(&j);
	json_flat_str(&j, "v", big);
	text = json_flat_end(&j, &len);
	assert_non_null(text);
	assert_int_equal(len, 2 * n + 8);	/* {"v":"..."} */
	o = json_loadb(text, len, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "v")), big);
	json_decref(o);
	free(text);
	free(big);
}

static void
append_refuses_overflow(void **state)
{
	char buf[64];

	(void)state;
	/* Room for the documented worst case: written exactly. */
	assert_int_equal(json_append_string(buf, 0, 6 * 5 + 2, "a\"b\x01" "c"), 13);
	assert_memory_equal(buf, "\"a\\\"b\\u0001c\"", 13);
	/* Too little room: refused, and nothing past cap is touched; room
	 * for the 13 bytes themselves is enough. */
	for (size_t cap = 0; cap < 16; cap++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(json_append_string(buf, 0, cap, "a\"b\x01" "c"), cap < 13 ? -1 : 13);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'X');
	}
	assert_int_equal(json_append_string(buf, 7, 8, ""), -1);
}

/* Plain bytes go 8 at a time: one byte to escape (each kind, and a byte
 * with the top bit set, which is plain) at every place in strings of every
 * length across three words must come out as the byte loop wrote it, and
 * as jansson reads it, with the buffer exactly full. */
static void
escapes_anywhere_in_a_word(void **state)
{
	static const char special[] = { '"', '\\', '\x01', '\x1f', '\x7f', (char)0xc3 };
	char in[32], out[6 * 32 + 2], want[6 * 32 + 2];

	(void)state;
	for (size_t n = 1; n < sizeof(in); n++)
		for (size_t at = 0; at < n; at++)
			for (size_t k = 0; k < sizeof(special); k++) {
				size_t wl = 0;
				int got;

				memset(in, 'a' + (int)(n % 26), n);
				in[at] = special[k];
				in[n] = '\0';
				want[wl++] = '"';
				for (size_t i = 0; i < n; i++) {
					unsigned char c = (unsigned char)in[i];
					if (c == '"' || c == '\\') {
						want[wl++] = '\\';
						want[wl++] = (char)c;
					} else if (c < 0x20) {
						wl += (size_t)snprintf(want + wl, 7, "\\u%04x", c);
					} else
						want[wl++] = (char)c;
				}
				want[wl++] = '"';
				got = json_append_string(out, 0, wl, in);
				assert_int_equal(got, (int)wl);
				assert_memory_equal(out, want, wl);
				assert_int_equal(json_append_string(out, 0, wl - 1, in), -1);
			}
}

static void
random_pool_never_repeats(void **state)
{
	enum { N = 4000 };	/* 16-byte draws over ~125 refills of the pool */
	static uint8_t seen[N][16];

	(void)state;
	for (int i = 0; i < N; i++) {
		assert_int_equal(rand_bytes(seen[i], 16), 0);
		for (int k = 0; k < i; k++)
			assert_memory_not_equal(seen[i], seen[k], 16);
	}
	{
		uint8_t big[4096], zero[4096] = { 0 };
		assert_int_equal(rand_bytes(big, sizeof(big)), 0);	/* past the pool */
		assert_memory_not_equal(big, zero, sizeof(big));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(empty_object),
		cmocka_unit_test(long_value_grows),
		cmocka_unit_test(append_refuses_overflow),
		cmocka_unit_test(escapes_anywhere_in_a_word),
		cmocka_unit_test(random_pool_never_repeats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
