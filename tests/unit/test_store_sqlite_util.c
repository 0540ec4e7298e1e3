/*
 * Unit tests for src/store/sqlite_util.c's binder over an in-memory SQLite
 * database: sq_prep and sq_rebind take SQ_ARGS of SQ_TEXT / SQ_INT, so a
 * value of the wrong type does not compile (that half is the compiler's;
 * it cannot be a test that runs). What runs here: a count that does not
 * fit the statement is refused before SQLite sees a value, with the "(a
 * bug)" message; each argument lands on its parameter with its type (an
 * int, an enum, a size_t and a negative value through SQ_INT, NULL text as
 * SQL NULL); SQ_NO_ARGS prepares only, and sq_rebind checks every row's
 * count and copies its text; the cached statements' binding (sqi_stmt's)
 * binds NULL text as "" and blobs with their size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite_internal.h"

static sqlite3 *
mem_db(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	return db;
}

/* A count that does not give each parameter one argument is refused, and
 * *st left NULL (one type string that did not fit crashed a test run in
 * development, when arguments were read with va_arg). */
static void
count_must_fit(void **state)
{
	sqlite3 *db = mem_db();
	sqlite3_stmt *st = (sqlite3_stmt *)&st;	/* not NULL: sq_prep must clear it */

	(void)state;
	assert_int_equal(sq_prep(db, "t", "SELECT ?, ?", &st, SQ_ARGS(SQ_TEXT("a"))),
	    STORE_ERROR);
	assert_null(st);
	assert_non_null(strstr(store_last_error(),
	    "t: the statement has 2 parameters, the call binds 1 (a bug)"));
	/* One more than the statement has. */
	assert_int_equal(sq_prep(db, "t", "SELECT ?, ?", &st,
	    SQ_ARGS(SQ_INT(1), SQ_INT(2), SQ_TEXT("x"))), STORE_ERROR);
	assert_null(st);
	assert_non_null(strstr(store_last_error(), "the statement has 2 parameters, the call binds 3"));
	/* A bad statement is SQLite's error, named by what. */
	assert_int_not_equal(sq_prep(db, "bad one", "SELEC ?", &st, SQ_ARGS(SQ_INT(1))), STORE_OK);
	assert_null(st);
	assert_non_null(strstr(store_last_error(), "bad one"));
	sqlite3_close(db);
}

enum colour { RED, GREEN, BLUE };

/* Arguments bind in order to ?1, ?2, ... whatever order the SQL names
 * them in, each with its own type. */
static void
arguments_bind_by_position_and_type(void **state)
{
	sqlite3 *db = mem_db();
	sqlite3_stmt *st;
	enum colour c = BLUE;
	size_t limit = 7;
	int small = -1;

	(void)state;
	assert_int_equal(sq_prep(db, "t", "SELECT ?2, ?1, ?3, ?4, ?5, ?6", &st,
	    SQ_ARGS(SQ_INT(INT64_MAX), SQ_TEXT("x"), SQ_INT(c), SQ_INT(limit), SQ_INT(small),
	    SQ_TEXT(NULL))), STORE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(st, 0), SQLITE_TEXT);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "x");
	assert_int_equal(sqlite3_column_type(st, 1), SQLITE_INTEGER);
	assert_true(sqlite3_column_int64(st, 1) == INT64_MAX);
	assert_int_equal(sqlite3_column_int64(st, 2), BLUE);
	assert_int_equal(sqlite3_column_int64(st, 3), 7);
	assert_int_equal(sqlite3_column_int64(st, 4), -1);
	assert_int_equal(sqlite3_column_type(st, 5), SQLITE_NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* SQ_NO_ARGS prepares only, whatever the statement's parameters; then
 * sq_rebind binds each row, refusing a count that does not fit. Text is
 * SQLite's copy: the caller's buffer may change before the step. */
static void
prepare_only_then_rebind(void **state)
{
	sqlite3 *db = mem_db();
	sqlite3_stmt *st;
	char buf[8] = "first";

	(void)state;
	assert_int_equal(sq_prep(db, "t", "SELECT ?, ?", &st, SQ_NO_ARGS), STORE_OK);
	assert_non_null(st);
	assert_int_equal(sq_rebind(st, SQ_ARGS(SQ_INT(1))), SQLITE_MISUSE);
	assert_non_null(strstr(store_last_error(),
	    "rebind: the statement has 2 parameters, the call binds 1 (a bug)"));
	assert_int_equal(sq_rebind(st, SQ_NO_ARGS), SQLITE_MISUSE);
	assert_int_equal(sq_rebind(st, SQ_ARGS(SQ_TEXT(buf), SQ_INT(1))), SQLITE_OK);
	memcpy(buf, "later", 6);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "first");
	assert_int_equal(sqlite3_column_int64(st, 1), 1);
	/* The next row: rebind resets the statement first. */
	assert_int_equal(sq_rebind(st, SQ_ARGS(SQ_TEXT(buf), SQ_INT(2))), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "later");
	assert_int_equal(sqlite3_column_int64(st, 1), 2);
	sqlite3_finalize(st);
	/* A statement without parameters: sq_rebind with none. */
	assert_int_equal(sq_prep(db, "t", "SELECT 1", &st, SQ_NO_ARGS), STORE_OK);
	assert_int_equal(sq_rebind(st, SQ_NO_ARGS), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The cached statements' binding (sq_bind cached, as sqi_stmt binds):
 * NULL text binds "" (their columns are NOT NULL), a blob binds its bytes
 * with its size, and the count check is sq_args_fit's. */
static void
cached_binding(void **state)
{
	sqlite3 *db = mem_db();
	sqlite3_stmt *st;
	const uint8_t bytes[4] = { 0, 1, 0, 2 };

	(void)state;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?, ?, ?, length(?3)", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sq_args_fit(st, 3, "t"), 0);
	assert_int_equal(sq_args_fit(st, 0, "t"), -1);
	assert_non_null(strstr(store_last_error(),
	    "t: the statement has 3 parameters, the call binds 0 (a bug)"));
	assert_int_equal(sq_bind(st, SQ_ARGS(SQ_TEXT(NULL), SQ_INT(5), SQ_BLOB(bytes, sizeof(bytes))),
	    1), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(st, 0), SQLITE_TEXT);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "");
	assert_int_equal(sqlite3_column_int64(st, 1), 5);
	assert_int_equal(sqlite3_column_type(st, 2), SQLITE_BLOB);
	assert_int_equal(sqlite3_column_bytes(st, 2), 4);
	assert_memory_equal(sqlite3_column_blob(st, 2), bytes, 4);
	assert_int_equal(sqlite3_column_int64(st, 3), 4);
	/* Not cached: NULL text is SQL NULL. */
	sqlite3_reset(st);
	assert_int_equal(sq_bind(st, SQ_ARGS(SQ_TEXT(NULL), SQ_INT(5), SQ_BLOB(bytes, 2)), 0),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(st, 0), SQLITE_NULL);
	assert_int_equal(sqlite3_column_bytes(st, 2), 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(count_must_fit),
		cmocka_unit_test(arguments_bind_by_position_and_type),
		cmocka_unit_test(prepare_only_then_rebind),
		cmocka_unit_test(cached_binding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
