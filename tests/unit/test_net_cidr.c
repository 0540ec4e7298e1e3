/*
 * test_net_cidr.c — address allowlists (src/net/cidr.c): blocks parse with
 * their prefixes, host bits and bad lengths are refused, and addresses
 * match as written in either family, IPv4-mapped IPv6 included (RFC 4291
 * §2.5.5.2), whose prefix counts its 96 IPv6 bits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/cidr.h"

static struct cidr_list
parsed(const char *s)
{
	struct cidr_list l;
	const char *err = NULL, *bad = NULL;

	assert_int_equal(cidr_parse_list(s, &l, &err, &bad), 0);
	return l;
}

static void
refused(const char *s, const char *why)
{
	struct cidr_list l;
	const char *err = NULL, *bad = NULL;

	assert_int_equal(cidr_parse_list(s, &l, &err, &bad), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, why));
}

static void
test_ipv4_blocks(void **state)
{
	struct cidr_list l = parsed("10.0.0.0/8, 192.0.2.7");

	(void)state;
	assert_int_equal(l.n, 2);
	assert_true(cidr_match(&l, "10.200.3.4"));
	assert_true(cidr_match(&l, "192.0.2.7"));
	assert_false(cidr_match(&l, "192.0.2.8"));
	assert_false(cidr_match(&l, "11.0.0.1"));
	/* A peer written as IPv4-mapped IPv6 is the same IPv4 peer. */
	assert_true(cidr_match(&l, "::ffff:10.1.2.3"));
	refused("10.0.0.1/8", "host bits");
	refused("10.0.0.0/33", "prefix length");
	refused("10.0.0.0/-1", "prefix length");
	refused("300.0.0.0/8", "not an IPv4 or IPv6");
}

static void
test_ipv6_blocks(void **state)
{
	struct cidr_list l = parsed("2001:db8::/32 ::1");

	(void)state;
	assert_true(cidr_match(&l, "2001:db8:1::5"));
	assert_true(cidr_match(&l, "::1"));
	assert_false(cidr_match(&l, "2001:db9::1"));
	assert_false(cidr_match(&l, "10.0.0.1"));
	refused("2001:db8::/129", "prefix length");
}

/* ::ffff:192.0.2.0/120 is the IPv4 block 192.0.2.0/24; /24 of a mapped
 * address is no IPv4 block at all. */
static void
test_ipv4_mapped_blocks(void **state)
{
	struct cidr_list l = parsed("::ffff:192.0.2.0/120");
	char text[64];

	(void)state;
	assert_true(cidr_match(&l, "192.0.2.200"));
	assert_true(cidr_match(&l, "::ffff:192.0.2.1"));
	assert_false(cidr_match(&l, "192.0.3.1"));
	cidr_format_list(&l, text, sizeof(text));
	assert_string_equal(text, "192.0.2.0/24");
	l = parsed("::ffff:192.0.2.9");	/* a bare one: the one address */
	assert_true(cidr_match(&l, "192.0.2.9"));
	assert_false(cidr_match(&l, "192.0.2.8"));
	l = parsed("::ffff:0.0.0.0/96");	/* every IPv4 address */
	assert_true(cidr_match(&l, "203.0.113.5"));
	refused("::ffff:192.0.2.0/24", "96-128");
	refused("::ffff:192.0.2.0/129", "96-128");
	refused("::ffff:192.0.2.1/120", "host bits");
}

/* Lockout keys: IPv4 as is (mapped or not), IPv6 as its /64, a /64 key
 * read back as itself; anything else refused (want NULL). */
static void
test_lock_keys(void **state)
{
	static const struct {
		const char	*ip, *want;
	} cases[] = {
		{ "192.0.2.7", "192.0.2.7" },
		{ "::ffff:192.0.2.7", "192.0.2.7" },
		{ "2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::/64" },
		{ "2001:DB8:AA:BB::ffff", "2001:db8:aa:bb::/64" },
		{ "2001:db8::1", "2001:db8::/64" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff::/64" },
		{ "::1", "::/64" },
		{ "2001:db8:aa:bb::/64", "2001:db8:aa:bb::/64" },
		{ "2001:db8:aa:bb::/48", NULL },
		{ "192.0.2.0/64", NULL },
		{ "192.0.2.07", NULL },
		{ "not an address", NULL },
		{ "", NULL },
		{ "fe80::1%eth0", NULL },
	};
	char k[CIDR_LOCK_KEY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cidr_lock_key(cases[i].ip, k, sizeof(k));
		if (cases[i].want == NULL) {
			if (rc != -1 || k[0] != '\0')
				fail_msg("%s: refused expected, got %d \"%s\"", cases[i].ip, rc, k);
		} else if (rc != 0 || strcmp(k, cases[i].want) != 0)
			fail_msg("%s: \"%s\" expected, got %d \"%s\"", cases[i].ip, cases[i].want, rc, k);
	}
	assert_int_equal(cidr_lock_key("192.0.2.7", k, 8), -1);	/* no room */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_blocks),
		cmocka_unit_test(test_ipv6_blocks),
		cmocka_unit_test(test_ipv4_mapped_blocks),
		cmocka_unit_test(test_lock_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
