/*
 * Unit tests for src/store/sqlite_ckpt.c over a real SQLite file: commits
 * of an attached connection are checkpointed by the thread (the database
 * file grows while the committing connection never checkpoints), the WAL is
 * started over once it reaches the inline threshold (so it stays bounded
 * under steady writes), and every committed row is still there afterwards,
 * read by a fresh connection once the thread has stopped; no thread runs
 * until a commit asks for a pass, and one that cannot connect leaves the
 * inline bound in force; a reader holding an old snapshot does not make
 * each commit past the bound wait out the busy timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "store/sqlite_internal.h"
#include "util/util.h"
#include "store_fixture.h"

/* The tests commit one small row at a time: no need to wait for the disk
 * for each. */
static int
setup(void **state)
{
	if (fixture_setup_sq(state) == -1 ||
	    sq_exec(fixture_db, "PRAGMA synchronous=NORMAL", "test") != STORE_OK ||
	    sq_exec(fixture_db, "CREATE TABLE t (v BLOB)", "test") != STORE_OK)
		return -1;
	return 0;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Frames in the WAL now (a PASSIVE checkpoint that copies nothing). */
static int
wal_frames(sqlite3 *db)
{
	int log = -1, done = -1;

	/* The busy result while the thread checkpoints still reports. */
	(void)sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	return log;
}

/* n commits of one row each. */
static void
commit_rows(sqlite3 *db, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(sq_exec(db, "INSERT INTO t VALUES (randomblob(200))", "row"),
		    STORE_OK);
}

/* rounds of 100 one-row commits; the most frames the WAL held after one. */
static int
max_wal_frames(sqlite3 *db, int rounds)
{
	int max_frames = 0;

	for (int round = 0; round < rounds; round++) {
		int frames;

		commit_rows(db, 100);
		frames = wal_frames(db);
		if (frames > max_frames)
			max_frames = frames;
	}
	return max_frames;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
checkpoints_in_the_background_and_bounds_the_wal(void **state)
{
	(void)state;
	struct sq_ckpt *c = NULL;
	char err[256], wal[sizeof(fixture_path) + 8];
	off_t db_before, db_after;
	int max_frames;
	sqlite3 *fresh = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(wal, sizeof(wal), "%s-wal", fixture_path);
	assert_int_equal(sq_ckpt_start(&c, fixture_path, err, sizeof(err)), 0);
	sq_ckpt_attach(c, fixture_db);
	sq_ckpt_set_frames(c, 50, 400);
	db_before = file_size(fixture_path);

	/* Past the background threshold: the thread copies pages into the
	 * database file; the committing connection does not wait for it. */
	commit_rows(fixture_db, 120);
	for (int i = 0; i < 200 && file_size(fixture_path) <= db_before; i++)
		sleep_ms(10);
	db_after = file_size(fixture_path);
	assert_true(db_after > db_before);

	/* Steady writes: the WAL is started over at the inline threshold, so
	 * it never holds much more than it. */
	max_frames = max_wal_frames(fixture_db, 20);
	assert_true(max_frames > 0);
	assert_true(max_frames < 400 + 20);
	/* Nor did it ever: the -wal file (4 KB pages, 24-byte frame headers,
	 * a 32-byte file header) never grew past it. */
	assert_true(file_size(wal) <= 32 + (off_t)(400 + 20) * (4096 + 24));
	assert_int_equal(sq_ckpt_failed(c, err, sizeof(err)), 0);

	sq_ckpt_stop(c);
	/* Every committed row is there. */
	assert_int_equal(sq_connect(fixture_path, &fresh, err, sizeof(err)), 0);
	assert_int_equal(sqlite3_prepare_v2(fresh, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 120 + 20 * 100);
	sqlite3_finalize(st);
	sqlite3_close(fresh);
}

static void
stop_is_safe_on_null_and_unused(void **state)
{
	(void)state;
	struct sq_ckpt *c = NULL;
	char err[256];

	sq_ckpt_stop(NULL);
	/* No commit asked for a pass: no thread was started to join. */
	assert_int_equal(sq_ckpt_start(&c, fixture_path, err, sizeof(err)), 0);
	sq_ckpt_stop(c);
}

/* A checkpointer that cannot open its connection (its thread starts with
 * the first pass and ends at once) leaves commits working, and the inline
 * RESTART still bounds the WAL. */
static void
no_connection_leaves_the_inline_bound(void **state)
{
	(void)state;
	struct sq_ckpt *c = NULL;
	char err[256];
	int max_frames;

	assert_int_equal(sq_ckpt_start(&c, "/nonexistent-dir/x.db", err, sizeof(err)), 0);
	sq_ckpt_attach(c, fixture_db);
	sq_ckpt_set_frames(c, 50, 400);
	assert_int_equal(sq_ckpt_failed(c, err, sizeof(err)), 0);
	max_frames = max_wal_frames(fixture_db, 10);
	assert_true(max_frames > 0);
	assert_true(max_frames < 400 + 20);
	/* And says so, with SQLite's reason (the store's engine line and
	 * /readyz carry it). */
	for (int i = 0; i < 200 && !sq_ckpt_failed(c, err, sizeof(err)); i++)
		sleep_ms(10);
	assert_int_equal(sq_ckpt_failed(c, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
	sq_ckpt_stop(c);
}


static int64_t
now_ms(void)
{
	return (int64_t)(clock_mono_ns() / 1000000);
}

/* A reader that keeps an old snapshot (an operator's backup, a sqlite3
 * shell left in a transaction) stops a RESTART from finishing. Commits past
 * the inline threshold must not each wait the busy timeout for it: the
 * writer's commits would take 5 s apiece for as long as the reader stays. */
static void
a_pinned_reader_does_not_stall_every_commit(void **state)
{
	(void)state;
	struct sq_ckpt *c = NULL;
	char err[256];
	sqlite3 *reader = NULL;
	sqlite3_stmt *st = NULL;
	int64_t t0, slowest = 0;

	assert_int_equal(sq_ckpt_start(&c, fixture_path, err, sizeof(err)), 0);
	sq_ckpt_attach(c, fixture_db);
	sq_ckpt_set_frames(c, 50, 100);
	commit_rows(fixture_db, 10);
	assert_int_equal(sq_connect(fixture_path, &reader, err, sizeof(err)), 0);
	assert_int_equal(sq_exec(reader, "BEGIN", "test"), STORE_OK);
	assert_int_equal(sqlite3_prepare_v2(reader, "SELECT count(*) FROM t", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sqlite3_finalize(st);
	/* Well past the inline threshold, with the snapshot held. */
	for (int i = 0; i < 300 && slowest < SQI_BUSY_TIMEOUT_MS / 2; i++) {
		t0 = now_ms();
		commit_rows(fixture_db, 1);
		if (now_ms() - t0 > slowest)
			slowest = now_ms() - t0;
	}
	assert_true(slowest < SQI_BUSY_TIMEOUT_MS / 2);
	assert_int_equal(sq_exec(reader, "COMMIT", "test"), STORE_OK);
	sqlite3_close(reader);
	/* With the reader gone, the WAL is bounded again. */
	assert_true(max_wal_frames(fixture_db, 5) < 100 + 110);
	sq_ckpt_stop(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checkpoints_in_the_background_and_bounds_the_wal),
		cmocka_unit_test(stop_is_safe_on_null_and_unused),
		cmocka_unit_test(no_connection_leaves_the_inline_bound),
		cmocka_unit_test(a_pinned_reader_does_not_stall_every_commit),
	};

	return cmocka_run_group_tests(tests, setup, fixture_teardown_sq);
}
