/*
 * Unit tests for src/store/sqlite_pcache.c over a real SQLite file: the
 * layer is in place when installed before the first connection; commits of
 * rows keyed at random (the opaque token index's pattern, whose page splits
 * renumber pages through the pending-byte page's number) skip most of the
 * cache's truncates, and every row is there afterwards; a rolled-back
 * transaction that grew the file, and a savepoint rolled back inside one,
 * have their pages past the end dropped (the truncate is passed on), so
 * the pages written after them are not stale. Each case ends with SQLite's
 * integrity check and the rows read back by a fresh connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/sqlite_internal.h"
#include "store_fixture.h"
#include "test_rng.h"

/* A fresh file; many small commits, so no wait for the disk for each. */
static int
setup(void **state)
{
	if (fixture_setup_sq(state) == -1 ||
	    sq_exec(fixture_db, "PRAGMA synchronous=OFF", "test") != STORE_OK ||
	    sq_exec(fixture_db, "CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL)", "test") !=
	    STORE_OK)
		return -1;
	return 0;
}

static void
random_keys_skip_the_scan(void **state)
{
	(void)state;
	struct sq_pcache_stats before, after;

	sq_pcache_stats(&before);
	for (int batch = 0; batch < 200; batch++)
		fixture_commit_random(fixture_db, 40, 100);
	sq_pcache_stats(&after);
	/* Every commit asks to truncate; with the swap's number forgotten as
	 * soon as its page leaves it, nearly none reaches the cache. */
	assert_true(after.skipped - before.skipped >= 180);
	assert_true(after.passed - before.passed <= 20);
	fixture_assert_sound(200 * 40);
}

static void
rollback_drops_the_pages_it_added(void **state)
{
	(void)state;
	struct sq_pcache_stats before, after;
	int64_t pages = fixture_query_int(fixture_db, "PRAGMA page_count");

	fixture_insert_random(fixture_db, 1, 100);	/* autocommit: a floor set at the current size */
	sq_pcache_stats(&before);
	assert_int_equal(sq_exec(fixture_db, "BEGIN IMMEDIATE", "test"), STORE_OK);
	fixture_insert_random(fixture_db, 2000, 100);
	assert_true(fixture_query_int(fixture_db, "PRAGMA page_count") > pages + 20);
	assert_int_equal(sq_exec(fixture_db, "ROLLBACK", "test"), STORE_OK);
	sq_pcache_stats(&after);
	assert_true(after.passed > before.passed);
	/* The page numbers the rollback freed are written again, with other
	 * rows: a stale page left in the cache would show here. */
	for (int batch = 0; batch < 20; batch++)
		fixture_commit_random(fixture_db, 100, 100);
	fixture_assert_sound(1 + 20 * 100);
}

static void
savepoint_rollback_drops_the_pages_it_added(void **state)
{
	(void)state;

	assert_int_equal(sq_exec(fixture_db, "BEGIN IMMEDIATE", "test"), STORE_OK);
	fixture_insert_random(fixture_db, 300, 100);
	assert_int_equal(sq_exec(fixture_db, "SAVEPOINT s", "test"), STORE_OK);
	fixture_insert_random(fixture_db, 1500, 100);
	assert_int_equal(sq_exec(fixture_db, "ROLLBACK TO s", "test"), STORE_OK);
	assert_int_equal(sq_exec(fixture_db, "RELEASE s", "test"), STORE_OK);
	fixture_insert_random(fixture_db, 1500, 100);
	assert_int_equal(sq_exec(fixture_db, "COMMIT", "test"), STORE_OK);
	fixture_assert_sound(300 + 1500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(random_keys_skip_the_scan, setup, fixture_teardown_sq),
		cmocka_unit_test_setup_teardown(rollback_drops_the_pages_it_added, setup, fixture_teardown_sq),
		cmocka_unit_test_setup_teardown(savepoint_rollback_drops_the_pages_it_added, setup,
		    fixture_teardown_sq),
	};

	test_rng_seed(0x9e3779b97f4a7c15ULL);
	/* Before any connection opens, as the store does it. */
	if (sq_pcache_install() != 1) {
		fprintf(stderr, "the page cache layer could not be installed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
