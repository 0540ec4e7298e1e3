/*
 * Unit tests for the rate-limit sharing thread (server/ratesync.h): it
 * reads the other nodes' totals every interval, whatever the wall clock
 * does meanwhile.
 *
 * Regression: the pause between two syncs was timed on CLOCK_REALTIME, so
 * a wall clock stepped back an hour stopped the sharing for that hour:
 * each node then held a client only to its own share of the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wall_step.h"

#include "security/ratelimit.h"
#include "server/ratesync.h"
#include "store/store.h"
#include "tmpdir.h"

/* Its wall clock is stepped by wall_ahead_s (wall_step.h). */

/* The reads the thread made (linked with --wrap=store_rate_pull). */
static atomic_int pulls;
int __real_store_rate_pull(struct store *st, const char *not_node, int64_t since,
    struct store_rate **out, size_t *n);
int __wrap_store_rate_pull(struct store *st, const char *not_node, int64_t since,
    struct store_rate **out, size_t *n);

int
__wrap_store_rate_pull(struct store *st, const char *not_node, int64_t since,
    struct store_rate **out, size_t *n)
{
	atomic_fetch_add(&pulls, 1);
	return __real_store_rate_pull(st, not_node, since, out, n);
}

/* The store's directory, made and removed around each test. */
static char dir[TMPDIR_LEN];

static int
setup(void **state)
{
	(void)state;
	return tmpdir_make(dir, sizeof(dir), "gh-ratesync");
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

static void
syncs_go_on_after_the_wall_clock_steps_back(void **state)
{
	char url[TMPDIR_LEN + 16], err[256] = "";
	struct store *st = NULL;
	struct ratelimit *rl = ratelimit_new();
	struct ratesync *r;
	int got;

	(void)state;
	assert_non_null(rl);
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	assert_int_equal(store_open(url, &st, err, sizeof(err)), STORE_OK);
	wall_ahead_s = 3600;	/* stepped back an hour from here on */
	assert_non_null(r = ratesync_start(st, rl, "node-a", 50, 30));
	for (int i = 0; i < 200 && atomic_load(&pulls) < 5; i++)
		usleep(10000);
	got = atomic_load(&pulls);
	wall_ahead_s = 0;
	ratesync_stop(r);
	if (got < 5)
		fail_msg("%d reads in 2 s at a 50 ms interval", got);
	store_close(st);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(syncs_go_on_after_the_wall_clock_steps_back,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
