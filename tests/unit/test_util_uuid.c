/*
 * Unit tests for the UUID makers in src/util/util.c: the RFC 9562 layout
 * (version and variant bits, hyphens) and the property v7 exists for here,
 * that ids made later sort after ids made earlier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/util.h"

static void
check_layout(const char *u, char version)
{
	assert_int_equal(strlen(u), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(u[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", u[i]));
	}
	assert_int_equal(u[14], version);
	assert_non_null(strchr("89ab", u[19]));
}

static void
v4_layout(void **state)
{
	char a[37], b[37];

	(void)state;
	assert_int_equal(uuid_v4(a), 0);
	assert_int_equal(uuid_v4(b), 0);
	check_layout(a, '4');
	assert_string_not_equal(a, b);
}

static void
v7_layout_and_time(void **state)
{
	char u[37];
	uint8_t b[16];
	uint64_t ms = 0;
	struct timespec ts;

	(void)state;
	assert_int_equal(uuid_v7(u), 0);
	check_layout(u, '7');
	assert_int_equal(uuid_v7_bytes(b), 0);
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | b[i];
	clock_gettime(CLOCK_REALTIME, &ts);
	/* The first 48 bits are now in milliseconds (within a second). */
	assert_true(ms <= (uint64_t)ts.tv_sec * 1000 + 1000);
	assert_true(ms + 1000 >= (uint64_t)ts.tv_sec * 1000);
}

static void
v7_later_sorts_after(void **state)
{
	char prev[37], next[37];
	struct timespec two_ms = { 0, 2000000 };

	(void)state;
	assert_int_equal(uuid_v7(prev), 0);
	for (int i = 0; i < 20; i++) {
		nanosleep(&two_ms, NULL);
		assert_int_equal(uuid_v7(next), 0);
		assert_true(strcmp(prev, next) < 0);
		memcpy(prev, next, sizeof(prev));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v4_layout),
		cmocka_unit_test(v7_layout_and_time),
		cmocka_unit_test(v7_later_sorts_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
