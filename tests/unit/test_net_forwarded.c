/*
 * test_net_forwarded.c — the caller's address in an X-Forwarded-For list
 * (src/net/forwarded.c): each element read strictly, with the port forms
 * proxies write, in canonical text; the rightmost element that is not a
 * trusted proxy is the caller; an element that is not an address leaves the
 * caller unknown rather than naming the proxy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/forwarded.h"

static void
element_is(const char *in, const char *want)
{
	char out[FORWARDED_ADDR_MAX];

	if (forwarded_element(in, strlen(in), out) != 0)
		fail_msg("refused: '%s'", in);
	if (strcmp(out, want) != 0)
		fail_msg("'%s' read as '%s', not '%s'", in, out, want);
}

static void
element_refused(const char *in, size_t n)
{
	char out[FORWARDED_ADDR_MAX];

	if (forwarded_element(in, n, out) != -1)
		fail_msg("taken: '%.*s' as '%s'", (int)n, in, out);
}

static void
test_elements(void **state)
{
	static const char *const bad[] = {
		"", " ", "unknown", "example.com", "1.2.3", "1.2.3.4.5", "300.1.1.1",
		"1.2.3.4:", "1.2.3.4:123456", "1.2.3.4:80x", "1.2.3.4:-1", "[1.2.3.4]",
		"[::1", "[::1]x", "[::1]:", "[::1]:1234567", "::1:80x", "fe80::1%eth0",
		"[fe80::1%25eth0]", "_hidden", "1.2.3.4 5.6.7.8", "01.2.3.4",
	};

	(void)state;
	element_is("192.0.2.7", "192.0.2.7");
	element_is(" \t192.0.2.7\t ", "192.0.2.7");
	element_is("192.0.2.7:5555", "192.0.2.7");
	element_is("2001:DB8:0:0::1", "2001:db8::1");
	element_is("[2001:db8::1]", "2001:db8::1");
	element_is("[2001:db8::1]:443", "2001:db8::1");
	element_is("::ffff:10.9.9.9", "10.9.9.9");
	element_is("::FFFF:10.9.9.9", "10.9.9.9");
	element_is("[::ffff:10.9.9.9]:80", "10.9.9.9");
	element_is("::1", "::1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		element_refused(bad[i], strlen(bad[i]));
	/* A NUL inside the element is not the element's end. */
	element_refused("10.1.2.3\0junk", 13);
}

static struct cidr_list
trusted(void)
{
	struct cidr_list l;
	const char *err, *bad;

	assert_int_equal(cidr_parse_list("127.0.0.1 10.0.0.0/8 2001:db8:f::/48", &l, &err, &bad), 0);
	return l;
}

static void
client_is(const char *list, const char *want)
{
	struct cidr_list t = trusted();
	char out[FORWARDED_ADDR_MAX];

	if (forwarded_client(&t, &list, 1, out) != 0)
		fail_msg("no caller in '%s'", list);
	if (strcmp(out, want) != 0)
		fail_msg("'%s': caller '%s', not '%s'", list, out, want);
}

static void
client_unknown(const char *list)
{
	struct cidr_list t = trusted();
	char out[FORWARDED_ADDR_MAX];

	if (forwarded_client(&t, &list, 1, out) != -1)
		fail_msg("'%s': caller '%s', not unknown", list, out);
}

static void
test_the_caller(void **state)
{
	(void)state;
	client_is("192.0.2.7", "192.0.2.7");
	/* What the caller wrote left of its own address is not believed. */
	client_is("198.51.100.1, 192.0.2.7", "192.0.2.7");
	client_is("198.51.100.1, 192.0.2.7, 10.1.1.1", "192.0.2.7");
	client_is("192.0.2.7:5555, 10.1.1.1:80", "192.0.2.7");
	client_is("[2001:db8::7]:443,\t[2001:db8:f::1]", "2001:db8::7");
	client_is("192.0.2.7,\t10.1.1.1", "192.0.2.7");
	client_is("192.0.2.7,,10.1.1.1, ", "192.0.2.7");
	/* garbage left of the caller is the caller's own and does not matter */
	client_is("garbage, 192.0.2.7", "192.0.2.7");
	/* Every element one of ours: the leftmost. */
	client_is("10.2.2.2, 10.1.1.1", "10.2.2.2");
	client_is(" , 10.2.2.2, 10.1.1.1", "10.2.2.2");
	/* Unknown, never the proxy's own address. */
	client_unknown("");
	client_unknown(" , ,");
	client_unknown("unknown");
	client_unknown("192.0.2.7, garbage");
	client_unknown("192.0.2.7, unknown, 10.1.1.1");
	client_unknown("fe80::1%eth0");
}

static void
test_lines_are_one_list(void **state)
{
	static const char *const two[] = { "198.51.100.1, 192.0.2.7", "10.1.1.1" };
	static const char *const caller_last[] = { "10.2.2.2", "192.0.2.9, 10.1.1.1" };
	static const char *const bad_last[] = { "192.0.2.7", "unknown" };
	static const char *const empty_last[] = { "192.0.2.7", " " };
	struct cidr_list t = trusted();
	char out[FORWARDED_ADDR_MAX];

	(void)state;
	assert_int_equal(forwarded_client(&t, two, 2, out), 0);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(forwarded_client(&t, caller_last, 2, out), 0);
	assert_string_equal(out, "192.0.2.9");
	assert_int_equal(forwarded_client(&t, bad_last, 2, out), -1);
	assert_int_equal(forwarded_client(&t, empty_last, 2, out), 0);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(forwarded_client(&t, two, 0, out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elements),
		cmocka_unit_test(test_the_caller),
		cmocka_unit_test(test_lines_are_one_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
