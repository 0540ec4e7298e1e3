/*
 * Unit tests for src/http/peers.c: each address's share of connections,
 * IPv6 counted by /64, IPv4 the same however written, trusted addresses
 * unlimited, and the table kept whole as thousands of addresses come and
 * go in any order.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "http/peers.h"
#include "net/cidr.h"

/* addr as a socket address, into ss. */
static const struct sockaddr *
sa(const char *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static int
open_from(struct http_peers *p, const char *addr)
{
	struct sockaddr_storage ss;

	return peers_open(p, sa(addr, &ss));
}

static void
close_from(struct http_peers *p, const char *addr)
{
	struct sockaddr_storage ss;

	peers_close(p, sa(addr, &ss));
}

static void
test_an_address_holds_its_share_and_no_more(void **state)
{
	struct http_peers *p = peers_new(3, NULL);

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < 3; i++)
		assert_int_equal(open_from(p, "192.0.2.7"), 0);
	assert_int_equal(open_from(p, "192.0.2.7"), -1);
	assert_int_equal(open_from(p, "192.0.2.8"), 0);		/* another's share */
	close_from(p, "192.0.2.7");
	assert_int_equal(open_from(p, "192.0.2.7"), 0);		/* one let go: one more */
	assert_int_equal(open_from(p, "192.0.2.7"), -1);
	peers_free(p);
}

static void
test_an_ipv6_host_counts_as_its_slash_64(void **state)
{
	struct http_peers *p = peers_new(2, NULL);

	(void)state;
	assert_int_equal(open_from(p, "2001:db8:1:2::1"), 0);
	assert_int_equal(open_from(p, "2001:db8:1:2:ffff:1:2:3"), 0);
	assert_int_equal(open_from(p, "2001:db8:1:2:abcd::9"), -1);	/* same /64 */
	assert_int_equal(open_from(p, "2001:db8:1:3::1"), 0);		/* the next /64 */
	peers_free(p);
}

static void
test_ipv4_counts_the_same_when_written_mapped(void **state)
{
	struct http_peers *p = peers_new(2, NULL);

	(void)state;
	assert_int_equal(open_from(p, "198.51.100.4"), 0);
	assert_int_equal(open_from(p, "::ffff:198.51.100.4"), 0);
	assert_int_equal(open_from(p, "198.51.100.4"), -1);
	assert_int_equal(open_from(p, "::ffff:198.51.100.4"), -1);
	close_from(p, "::ffff:198.51.100.4");
	assert_int_equal(open_from(p, "198.51.100.4"), 0);
	peers_free(p);
}

static void
test_trusted_addresses_are_not_limited(void **state)
{
	struct cidr_list proxies;
	const char *why, *bad;
	struct http_peers *p;

	(void)state;
	assert_int_equal(cidr_parse_list("10.0.0.0/8 fd00::/8", &proxies, &why, &bad), 0);
	p = peers_new(1, &proxies);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(open_from(p, "10.1.2.3"), 0);
		assert_int_equal(open_from(p, "fd00::5"), 0);
	}
	for (int i = 0; i < 100; i++)
		close_from(p, "10.1.2.3");	/* counted out as not counted in */
	assert_int_equal(open_from(p, "11.1.2.3"), 0);
	assert_int_equal(open_from(p, "11.1.2.3"), -1);
	peers_free(p);
}

static void
test_no_limit_and_non_ip_addresses_are_always_taken(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct http_peers *p = peers_new(1, NULL);

	(void)state;
	assert_null(peers_new(0, NULL));
	assert_int_equal(open_from(NULL, "192.0.2.1"), 0);	/* no table: no limit */
	close_from(NULL, "192.0.2.1");
	for (int i = 0; i < 5; i++)
		assert_int_equal(peers_open(p, (const struct sockaddr *)&un), 0);
	peers_free(p);
}

/*
 * Every connection the server takes, each from its own address, closed
 * in a scrambled order: whichever entries a deletion moves, each address
 * left is still found at its count (a lost entry would take one more
 * connection; a wrong one would refuse a free address).
 */
static void
test_the_table_stays_whole_as_addresses_come_and_go(void **state)
{
	enum { N = 4096 };
	struct http_peers *p = peers_new(1, NULL);
	static unsigned char gone[N];
	char a[64];

	(void)state;
	memset(gone, 0, sizeof(gone));
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.1", i >> 8, i & 0xff);
		assert_int_equal(open_from(p, a), 0);
	}
	for (unsigned k = 0; k < N / 2; k++) {
		unsigned i = (k * 2654435761u) % N;	/* a permutation of 0..N-1 */
		if (gone[i])
			continue;
		snprintf(a, sizeof(a), "10.%u.%u.1", i >> 8, i & 0xff);
		close_from(p, a);
		gone[i] = 1;
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.1", i >> 8, i & 0xff);
		assert_int_equal(open_from(p, a), gone[i] ? 0 : -1);
	}
	peers_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_address_holds_its_share_and_no_more),
		cmocka_unit_test(test_an_ipv6_host_counts_as_its_slash_64),
		cmocka_unit_test(test_ipv4_counts_the_same_when_written_mapped),
		cmocka_unit_test(test_trusted_addresses_are_not_limited),
		cmocka_unit_test(test_no_limit_and_non_ip_addresses_are_always_taken),
		cmocka_unit_test(test_the_table_stays_whole_as_addresses_come_and_go),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
