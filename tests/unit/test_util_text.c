/*
 * Unit tests for the character-level checks in src/util/util.c that the
 * URL decoder, the gate policy, the token endpoint and the client settings
 * share: hex digits and RFC 6749 Appendix A.4 scope-tokens; and the
 * request path's bounded copy and IPv4 text; URLs under the issuer.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

static void
bounded_copy(void **state)
{
	char small[6];

	(void)state;
	memset(small, 'x', sizeof(small));
	assert_int_equal(str_copy(small, sizeof(small), "abc"), 3);
	assert_string_equal(small, "abc");
	/* Cut to size - 1 and terminated, never past the buffer. */
	assert_int_equal(str_copy(small, sizeof(small), "abcdefgh"), 5);
	assert_string_equal(small, "abcde");
	assert_int_equal(str_copy(small, sizeof(small), ""), 0);
	assert_string_equal(small, "");
	assert_int_equal(str_copy(small, 1, "abc"), 0);
	assert_string_equal(small, "");
}

/* RFC 6749 §5.2's error_description set: every byte written is one. */
static void
nqschar(void **state)
{
	char out[32], in[4];

	(void)state;
	str_nqschar("a \"b\\c\td\x7f", out, sizeof(out));
	assert_string_equal(out, "a 'b'c'd'");
	str_nqschar("RFC 6749 \xc2\xa7" "3.2 \xc3\xa9\xe2\x82\xac!", out, sizeof(out));
	assert_string_equal(out, "RFC 6749 section 3.2 ?" "?!");
	/* Cut short, a character in two, a lone continuation byte. */
	str_nqschar("abcdef", out, 4);
	assert_string_equal(out, "abc");
	str_nqschar("x\xc3", out, sizeof(out));
	assert_string_equal(out, "x?");
	str_nqschar("\xa9y", out, sizeof(out));
	assert_string_equal(out, "y");
	for (int c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		str_nqschar(in, out, sizeof(out));
		for (const char *o = out; *o != '\0'; o++)
			assert_true((*o >= 0x20 && *o <= 0x7e) && *o != '"' && *o != '\\');
	}
}

/* Every octet value in every position, and mixed addresses, read as
 * inet_ntop reads them. */
static void
ipv4_as_inet_ntop(void **state)
{
	char ours[16], theirs[INET_ADDRSTRLEN];
	uint8_t b[4];
	uint32_t x = 2463534242u;

	(void)state;
	for (int pos = 0; pos < 4; pos++)
		for (int v = 0; v < 256; v++) {
			memset(b, pos == 0 ? 255 : 0, sizeof(b));
			b[pos] = (uint8_t)v;
			ipv4_text(b, ours);
			assert_non_null(inet_ntop(AF_INET, b, theirs, sizeof(theirs)));
			assert_string_equal(ours, theirs);
		}
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(b, &x, sizeof(b));
		ipv4_text(b, ours);
		assert_non_null(inet_ntop(AF_INET, b, theirs, sizeof(theirs)));
		assert_string_equal(ours, theirs);
	}
	b[0] = b[1] = b[2] = b[3] = 255;
	ipv4_text(b, ours);
	assert_string_equal(ours, "255.255.255.255");	/* the longest: 15 + NUL */
}

/* An RFC 8414 issuer may end in '/': the metadata's endpoint URLs are the
 * issuer and a path with one '/' between them, never two. */
static void
url_join_one_slash(void **state)
{
	static const char *const cases[][3] = {
		{ "https://auth.example.com", "/oauth/token", "https://auth.example.com/oauth/token" },
		{ "https://auth.example.com/", "/oauth/token", "https://auth.example.com/oauth/token" },
		{ "https://example.com/auth/", "/.well-known/jwks.json",
		  "https://example.com/auth/.well-known/jwks.json" },
		{ "http://[::1]:8080", "/token", "http://[::1]:8080/token" },
	};
	char *u;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u = str_url_join(cases[i][0], cases[i][1]);
		assert_non_null(u);
		assert_string_equal(u, cases[i][2]);
		free(u);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hex_digits),
		cmocka_unit_test(hex_decode_strict),
		cmocka_unit_test(scope_tokens),
		cmocka_unit_test(bounded_copy),
		cmocka_unit_test(nqschar),
		cmocka_unit_test(ipv4_as_inet_ntop),
		cmocka_unit_test(url_join_one_slash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
