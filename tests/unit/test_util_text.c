/*
 * Unit tests for the character-level checks in src/util/util.c that the
 * URL decoder, the gate policy, the token endpoint and the client settings
 * share: hex digits and RFC 6749 Appendix A.4 scope-tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void
hex_digits(void **state)
{
	(void)state;
	assert_int_equal(hex_digit('0'), 0);
	assert_int_equal(hex_digit('9'), 9);
	assert_int_equal(hex_digit('a'), 10);
	assert_int_equal(hex_digit('F'), 15);
	assert_int_equal(hex_digit('g'), -1);
	assert_int_equal(hex_digit('G'), -1);
	assert_int_equal(hex_digit('/'), -1);	/* just below '0' */
	assert_int_equal(hex_digit(':'), -1);	/* just above '9' */
	assert_int_equal(hex_digit('\0'), -1);
	assert_int_equal(hex_digit((char)0xc3), -1);	/* a UTF-8 lead byte, negative as char */
}

static void
hex_decode_strict(void **state)
{
	uint8_t out[2];

	(void)state;
	assert_int_equal(hex_decode("aB09", 4, out, 2), 0);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0x09);
	assert_int_equal(hex_decode("aB0", 3, out, 2), -1);
	assert_int_equal(hex_decode("aB0x", 4, out, 2), -1);
}

static void
scope_tokens(void **state)
{
	(void)state;
	/* The edges of %x21 / %x23-5B / %x5D-7E. */
	assert_true(scope_char_ok(0x21));
	assert_false(scope_char_ok(0x22));	/* '"' */
	assert_true(scope_char_ok(0x23));
	assert_true(scope_char_ok(0x5b));
	assert_false(scope_char_ok(0x5c));	/* '\' */
	assert_true(scope_char_ok(0x5d));
	assert_true(scope_char_ok(0x7e));
	assert_false(scope_char_ok(0x7f));
	assert_false(scope_char_ok(' '));
	assert_false(scope_char_ok(0x80));
	assert_false(scope_char_ok(0));

	assert_true(scope_token_ok("payments:write", 14));
	assert_false(scope_token_ok("", 0));
	assert_false(scope_token_ok("a b", 3));
	assert_false(scope_token_ok("a\"b", 3));
	/* Length-aware: the NUL inside the range is refused, not a terminator. */
	assert_false(scope_token_ok("ab\0c", 4));
	assert_true(scope_token_ok("ab\0c", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hex_digits),
		cmocka_unit_test(hex_decode_strict),
		cmocka_unit_test(scope_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
