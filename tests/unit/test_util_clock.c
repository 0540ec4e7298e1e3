/*
 * Unit tests for the wall clock of src/util/util.c: clock_now_ms() (the
 * audit trail's timestamps) never runs backwards across a second, agrees
 * with clock_now(), and carries the test offset GATEHOUSE_CLOCK_OFFSET.
 *
 * Regression: audit_now_ms() took time()'s seconds (the kernel's coarse
 * clock, up to a tick behind) with CLOCK_REALTIME's milliseconds; a reading
 * just after a second began came out a second early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "util/util.h"

#define OFFSET_S 86400

/* Reads the clock in a tight loop over two second boundaries. */
static void
milliseconds_never_go_back(void **state)
{
	int64_t prev = clock_now_ms(), first = prev;
	long crossed = 0, reads = 0;

	(void)state;
	while (crossed < 2) {
		int64_t now = clock_now_ms();
		reads++;
		if (now < prev)
			fail_msg("clock_now_ms went back %lld ms after %ld reads",
			    (long long)(prev - now), reads);
		if (now / 1000 != prev / 1000)
			crossed++;
		prev = now;
		assert_true(now - first < 5000);	/* bounded however it goes */
	}
}

static void
agrees_with_seconds_and_offset(void **state)
{
	int64_t s = clock_now(), ms = clock_now_ms(), s2 = clock_now();

	(void)state;
	/* clock_now() reads the coarse clock: at most a tick behind. */
	assert_true(ms / 1000 >= s && ms / 1000 <= s2 + 1);
	/* The offset is in both (set in main before the first reading). */
	assert_true(s - (int64_t)time(NULL) >= OFFSET_S - 1);
	assert_true(ms / 1000 - (int64_t)time(NULL) >= OFFSET_S - 1);
	assert_true(ms / 1000 - (int64_t)time(NULL) <= OFFSET_S + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(milliseconds_never_go_back),
		cmocka_unit_test(agrees_with_seconds_and_offset),
	};

	setenv("GATEHOUSE_CLOCK_OFFSET", "86400", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
