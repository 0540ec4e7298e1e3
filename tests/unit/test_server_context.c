/*
 * Unit tests for the server context's own parts (server/context.c,
 * included to reach its statics).
 *
 * Regression: a thread that found the caches being reloaded waited for the
 * reload at most CTX_RELOAD_WAIT_MS on CLOCK_REALTIME (pthread_mutex_
 * timedlock), so a wall clock stepped back kept it (and its request)
 * waiting for the whole reload however long, and one stepped forward sent
 * it on at once with the caches the reload was replacing.
 */
#define _GNU_SOURCE	/* before any header, as context.c has it */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wall_step.h"

#include "../../src/server/context.c"

/* Its wall clock is stepped by wall_ahead_s (wall_step.h). */

struct waiter {
	struct gh_ctx	*c;
	int		 rc;
	uint64_t	 took_ms;
	atomic_int	 done;
};

static void *
wait_reload(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = clock_mono_ns();

	w->rc = reload_lock(w->c);
	w->took_ms = (clock_mono_ns() - t0) / 1000000;
	if (w->rc == 0)
		reload_unlock(w->c);
	atomic_store(&w->done, 1);
	return NULL;
}

/* A reload in progress (the turn held here) for 3 s at most: another
 * thread gives up waiting after CTX_RELOAD_WAIT_MS, the wall clock
 * stepped back or forward an hour meanwhile. */
static void
reload_wait_is_bounded_on_the_monotonic_clock(void **state)
{
	static const long long steps[] = { 3600, -3600 };
	struct gh_ctx c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(reload_turn_init(&c), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct waiter w = { .c = &c, .rc = -1 };
		pthread_t th;
		int done;

		assert_int_equal(reload_lock(&c), 0);
		wall_ahead_s = steps[i];
		assert_int_equal(pthread_create(&th, NULL, wait_reload, &w), 0);
		for (int k = 0; k < 300 && !atomic_load(&w.done); k++)
			usleep(10000);
		done = atomic_load(&w.done);
		wall_ahead_s = 0;
		reload_unlock(&c);	/* a waiter still waiting takes it */
		pthread_join(th, NULL);
		if (!done)
			fail_msg("wall clock stepped %+lld s: still waiting after 3 s", -steps[i]);
		assert_int_not_equal(w.rc, 0);
		if (w.took_ms < CTX_RELOAD_WAIT_MS - 50 || w.took_ms > CTX_RELOAD_WAIT_MS + 1000)
			fail_msg("wall clock stepped %+lld s: waited %llu ms, not %d", -steps[i],
			    (unsigned long long)w.took_ms, CTX_RELOAD_WAIT_MS);
	}
	pthread_cond_destroy(&c.reload_cv);
	pthread_mutex_destroy(&c.reload_mu);
}

/* The turn goes to a waiter when given back within the wait, and is
 * then the waiter's alone. */
static void
reload_turn_passes_to_a_waiter(void **state)
{
	struct gh_ctx c;
	struct waiter w;
	pthread_t th;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	w.c = &c;
	w.rc = -1;
	assert_int_equal(reload_turn_init(&c), 0);
	assert_int_equal(reload_lock(&c), 0);
	assert_int_equal(pthread_create(&th, NULL, wait_reload, &w), 0);
	usleep(100000);
	assert_false(atomic_load(&w.done));	/* waiting for the turn */
	reload_unlock(&c);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	assert_true(w.took_ms < CTX_RELOAD_WAIT_MS);
	assert_int_equal(c.reloading, 0);	/* and given back */
	pthread_cond_destroy(&c.reload_cv);
	pthread_mutex_destroy(&c.reload_mu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reload_wait_is_bounded_on_the_monotonic_clock),
		cmocka_unit_test(reload_turn_passes_to_a_waiter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
