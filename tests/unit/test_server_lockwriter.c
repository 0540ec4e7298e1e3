/*
 * Unit tests for the lock writer (server/lockwriter.h): a lock made here
 * reaches the store promptly, writes paced interval_ms apart, whatever the
 * wall clock does meanwhile.
 *
 * Regression: the pause between two writes was timed on CLOCK_REALTIME, so
 * a wall clock stepped back an hour held every lock made after the first
 * out of the store for that hour: the other nodes did not enforce them and
 * `gatehouse lock list` did not show them.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wall_step.h"

#include "security/lockout.h"
#include "server/lockwriter.h"
#include "store/store.h"
#include "tmpdir.h"
#include "util/util.h"

/* Its wall clock is stepped by wall_ahead_s (wall_step.h). */

/* clock_now() reads time(), not clock_gettime(): stepped the same way
 * (linked with --wrap=time), so that a lock's wall-clock end moves. */
time_t __real_time(time_t *t);
time_t __wrap_time(time_t *t);

time_t
__wrap_time(time_t *t)
{
	time_t v = __real_time(NULL) + (time_t)wall_ahead_s;

	if (t != NULL)
		*t = v;
	return v;
}

/* The writes the lock writer made (linked with --wrap=store_lock_put_gen);
 * while puts_fail is set, each is refused as a store away would. */
static atomic_int puts_done;
static atomic_int puts_fail;
int __real_store_lock_put_gen(struct store *st, const struct store_lock *locks, size_t n, uint64_t *gen);
int __wrap_store_lock_put_gen(struct store *st, const struct store_lock *locks, size_t n, uint64_t *gen);

int
__wrap_store_lock_put_gen(struct store *st, const struct store_lock *locks, size_t n, uint64_t *gen)
{
	int rc = atomic_load(&puts_fail) ? STORE_ERROR : __real_store_lock_put_gen(st, locks, n, gen);

	atomic_fetch_add(&puts_done, 1);
	return rc;
}

/* Waits up to ms for puts_done to reach n; 1 when it did. */
static int
wait_puts(int n, int ms)
{
	for (int i = 0; i < ms / 10 && atomic_load(&puts_done) < n; i++)
		usleep(10000);
	return atomic_load(&puts_done) >= n;
}

static struct lockout_lock
pair_lock(const char *client_id, int64_t until)
{
	struct lockout_lock lk;

	memset(&lk, 0, sizeof(lk));
	lk.kind = LOCKOUT_PAIR;
	snprintf(lk.client_id, sizeof(lk.client_id), "%s", client_id);
	snprintf(lk.address, sizeof(lk.address), "192.0.2.7");
	lk.until = until;
	return lk;
}

/* The store's directory, made and removed around each test. */
static char dir[TMPDIR_LEN];

static int
setup(void **state)
{
	(void)state;
	return tmpdir_make(dir, sizeof(dir), "gh-lockwriter");
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

static void
writes_go_on_after_the_wall_clock_steps_back(void **state)
{
	struct lockout_config lc = { 5, 20, 900, 900, 0 };
	char url[TMPDIR_LEN + 16], err[256] = "";
	struct store *st = NULL;
	struct lockout *lo = lockout_new(&lc);
	struct lockwriter *w;
	struct lockout_lock a = pair_lock("client-a", (int64_t)time(NULL) + 900);
	struct lockout_lock b = pair_lock("client-b", (int64_t)time(NULL) + 900);
	int second;

	(void)state;
	assert_non_null(lo);
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	assert_int_equal(store_open(url, &st, err, sizeof(err)), STORE_OK);
	assert_non_null(w = lockwriter_start(st, lo, 900, 50));

	wall_ahead_s = 3600;	/* stepped back an hour from here on */
	lockwriter_add(w, &a);
	assert_true(wait_puts(1, 2000));
	lockwriter_add(w, &b);
	second = wait_puts(2, 2000);
	wall_ahead_s = 0;
	lockwriter_stop(w);	/* writes what is still queued */
	assert_true(second);	/* 50 ms after the first, not an hour */

	store_close(st);
	lockout_free(lo);
}

/*
 * Regression: after a failed write, the locks whose wall-clock until had
 * passed were dropped from the retry queue. A lock's time here runs on the
 * monotonic clock: with the wall clock stepped forward an hour while the
 * store was away, a lock still in force on this node never reached the
 * store (other nodes, `gatehouse lock list`).
 */
static void
a_lock_in_force_is_written_after_the_wall_clock_steps_forward(void **state)
{
	struct lockout_config lc = { 1, 20, 900, 900, 0 };
	char url[TMPDIR_LEN + 16], err[256] = "";
	struct store *st = NULL;
	struct lockout *lo = lockout_new(&lc);
	struct lockout_lock made[LOCKOUT_KIND__MAX];
	struct store_lock *sl = NULL;
	struct lockwriter *w;
	size_t n = 0;
	int64_t retry = 0;

	(void)state;
	assert_non_null(lo);
	snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
	assert_int_equal(store_open(url, &st, err, sizeof(err)), STORE_OK);
	atomic_store(&puts_done, 0);
	assert_int_equal(lockout_failure(lo, "client-a", "192.0.2.7",
	    lockout_now_at(clock_now()), made), 1);
	assert_non_null(w = lockwriter_start(st, lo, 900, 50));

	atomic_store(&puts_fail, 1);	/* the store is away */
	wall_ahead_s = 3600;		/* and the wall clock steps forward an hour */
	lockwriter_add(w, &made[0]);
	assert_true(wait_puts(1, 2000));
	/* Still in force here: an hour on the wall clock is not 900 s here. */
	assert_int_equal(lockout_check(lo, "client-a", "192.0.2.7",
	    lockout_now_at(clock_now()), &retry), 1);
	atomic_store(&puts_fail, 0);	/* the store is back */
	(void)wait_puts(2, 2000);	/* the retry, 50 ms on (or the last write at stop) */
	wall_ahead_s = 0;
	lockwriter_stop(w);

	assert_int_equal(store_lock_list(st, 0, &sl, &n), STORE_OK);
	assert_int_equal(n, 1);		/* before the fix: 0, dropped from the queue */
	assert_string_equal(sl[0].client_id, "client-a");
	assert_int_equal(sl[0].until, made[0].until);
	store_lock_free(sl, n);
	store_close(st);
	lockout_free(lo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(writes_go_on_after_the_wall_clock_steps_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_lock_in_force_is_written_after_the_wall_clock_steps_forward, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
