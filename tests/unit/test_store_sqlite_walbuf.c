/*
 * Unit tests for src/store/sqlite_walbuf.c over a real SQLite file, through
 * the backend's own sq_connect: a commit's WAL frames go to the file in a
 * few writes instead of two a frame, and whatever size they reach (past
 * the 128 KB the unix VFS writes a call) every committed row is there; a
 * second connection sees each commit as soon as it returns, with or
 * without a sync at the commit; a transaction that spills frames before
 * its commit, rolled back or committed, and a log started over after a
 * checkpoint, leave the database sound. Each case ends with SQLite's
 * integrity check and the rows read by a fresh connection
 * (fixture_assert_sound).
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

static int
setup(void **state)
{
	if (fixture_setup_sq(state) == -1 ||
	    sq_exec(fixture_db, "CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL)", "test") !=
	    STORE_OK)
		return -1;
	return 0;
}

static void
frames_go_out_in_few_writes(void **state)
{
	(void)state;
	struct sq_walbuf_stats before, after;
	sqlite3 *reader = fixture_connect();
	int64_t rows = 0;

	sq_walbuf_stats(&before);
	/* From one frame to ~200 (800 KB): every size of write the file sees,
	 * past the unix VFS's 128 KB a call. */
	for (int batch = 1; batch <= 60; batch++) {
		int n = batch * 5, size = batch % 3 == 0 ? 2000 : 100;

		fixture_commit_random(fixture_db, n, size);
		rows += n;
		/* Committed means in the file: another connection reads it. */
		assert_int_equal(fixture_query_int(reader, "SELECT count(*) FROM t"), rows);
	}
	sq_walbuf_stats(&after);
	/* Two writes a frame without the layer; a commit's go out at most
	 * 124 KB at a time. */
	assert_true(after.gathered - before.gathered >= 1000);
	assert_true((after.written - before.written) * 8 <= after.gathered - before.gathered);
	sqlite3_close(reader);
	fixture_assert_sound(rows);
}

/* Without a sync at the commit (synchronous=NORMAL, which no connection of
 * the store uses, but SQLite allows), nothing flushes the frames before
 * they are published but the layer's own step at xShmBarrier: another
 * connection must still find every row. */
static void
published_without_a_sync(void **state)
{
	(void)state;
	sqlite3 *reader = fixture_connect();
	int64_t rows = 0;

	assert_int_equal(sq_exec(fixture_db, "PRAGMA synchronous=NORMAL", "test"), STORE_OK);
	for (int batch = 1; batch <= 30; batch++) {
		fixture_commit_random(fixture_db, batch * 7, 500);
		rows += batch * 7;
		assert_int_equal(fixture_query_int(reader, "SELECT count(*) FROM t"), rows);
	}
	sqlite3_close(reader);
	fixture_assert_sound(rows);
}

/* A 100-page cache makes a large transaction write frames before its
 * commit (a spill): those writes and the rollback or commit after them. */
static void
spilled_transactions(void **state)
{
	(void)state;

	assert_int_equal(sq_exec(fixture_db, "PRAGMA cache_size=100", "test"), STORE_OK);
	fixture_commit_random(fixture_db, 100, 100);
	assert_int_equal(sq_exec(fixture_db, "BEGIN IMMEDIATE", "test"), STORE_OK);
	fixture_insert_random(fixture_db, 3000, 1000);
	assert_int_equal(sq_exec(fixture_db, "ROLLBACK", "test"), STORE_OK);
	assert_int_equal(fixture_query_int(fixture_db, "SELECT count(*) FROM t"), 100);
	fixture_commit_random(fixture_db, 3000, 1000);
	fixture_assert_sound(3100);
}

/* After a checkpoint that empties the log, the next commit writes the log
 * from its start again: the header, then frames over the old ones. */
static void
log_started_over(void **state)
{
	(void)state;
	int64_t rows = 0;

	for (int round = 0; round < 5; round++) {
		fixture_commit_random(fixture_db, 200, 300);
		rows += 200;
		assert_int_equal(sq_exec(fixture_db, round % 2 ? "PRAGMA wal_checkpoint(RESTART)" :
		    "PRAGMA wal_checkpoint(TRUNCATE)", "test"), STORE_OK);
		fixture_commit_random(fixture_db, 50, 300);
		rows += 50;
	}
	fixture_assert_sound(rows);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frames_go_out_in_few_writes, setup, fixture_teardown_sq),
		cmocka_unit_test_setup_teardown(published_without_a_sync, setup, fixture_teardown_sq),
		cmocka_unit_test_setup_teardown(spilled_transactions, setup, fixture_teardown_sq),
		cmocka_unit_test_setup_teardown(log_started_over, setup, fixture_teardown_sq),
	};

	test_rng_seed(0x2545f4914f6cdd1dULL);
	if (sq_walbuf_vfs() == NULL) {
		fprintf(stderr, "the WAL write layer could not be registered\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
