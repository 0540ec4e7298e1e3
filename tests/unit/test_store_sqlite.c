/*
 * Unit tests for the store over its SQLite backend. The behaviour every
 * backend shares (entities, tokens, the generation, the group commit, the
 * bounded queue) is the conformance suite (tests/store/store_conformance.c),
 * run here against sqlite:PATH; this file adds what is SQLite's own: the
 * private file and what open refuses, migrations applied once in WAL mode,
 * a garbage file, and the group commit's throughput. Each test gets a fresh
 * directory (tests/support/store_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store_conformance.h"
#include "store_fixture.h"

/* -- what another process sees: a connection of the test's own ------------------ */

/* The single value sql selects, through a separate read-only connection. */
static int64_t
count_rows(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_open_v2(fixture_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
exec_sql(const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(fixture_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The write lock (BEGIN IMMEDIATE), as the CLI might hold it. */
static void *
hold_writes(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(fixture_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
release_writes(void *held)
{
	sqlite3 *db = held;

	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static const char *const unguard_audit[] = {
	"DROP TRIGGER audit_append_only",
	"DROP TRIGGER audit_key_no_update",
	"DROP TRIGGER audit_key_no_delete",
	NULL
};

/* Another handle sees a change at once: every call reads the file. */
static const struct conformance_backend sqlite_backend = {
	"sqlite", fixture_setup_sqlite, fixture_teardown, count_rows, exec_sql,
	hold_writes, release_writes, 0, "X'%s'", unguard_audit
};

/* -- open, names, migrations --------------------------------------------------- */

static void
open_creates_private_file(void **state)
{
	struct store *s;
	struct stat sb;
	int cur = -1, latest = -1;

	(void)state;
	s = open_store();
	assert_string_equal(store_backend(s), "sqlite");
	assert_int_equal(stat(fixture_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(store_schema_version(s, &cur, &latest), STORE_OK);
	assert_true(latest >= 1);
	assert_int_equal(cur, latest);
	store_close(s);
	store_close(NULL);

	/* A bare path is SQLite too. */
	{
		struct store *b = NULL;
		char err[256];
		assert_int_equal(store_open(fixture_path, &b, err, sizeof(err)), STORE_OK);
		assert_string_equal(store_backend(b), "sqlite");
		store_close(b);
	}
}

static void
open_refuses_bad_targets(void **state)
{
	struct store *s = NULL;
	char err[256], missing[192];

	(void)state;
	/* The directory must exist: we never make one. */
	snprintf(missing, sizeof(missing), "sqlite:%s/no/such/dir/t.db", fixture_dir);
	assert_int_not_equal(store_open(missing, &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
	assert_non_null(strstr(err, "No such file"));

	/* PostgreSQL URLs go to that backend (tests/pgsql/ covers it): here
	 * nothing listens, so both spellings fail at open, on one line. */
	assert_int_not_equal(store_open("postgresql://u@127.0.0.1:1/gh", &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
	assert_non_null(strstr(store_last_error(), "cannot connect to PostgreSQL"));
	assert_int_not_equal(store_open("postgres://127.0.0.1:1/gh", &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
	assert_int_not_equal(store_open("mysql://localhost/gh", &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "unknown store scheme"));
	assert_int_not_equal(store_open("sqlite:", &s, err, sizeof(err)), STORE_OK);
	assert_int_not_equal(store_open("sqlite::memory:", &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
}

static void
names_round_trip(void **state)
{
	enum store_env e;
	enum store_format f;

	(void)state;
	for (int i = 0; i < STORE_ENV__MAX; i++) {
		assert_int_equal(store_env_from_name(store_env_names[i], &e), 0);
		assert_int_equal(e, i);
	}
	for (int i = 0; i < STORE_FORMAT__MAX; i++) {
		assert_int_equal(store_format_from_name(store_format_names[i], &f), 0);
		assert_int_equal(f, i);
	}
	assert_string_equal(store_env_names[STORE_ENV_PRODUCTION], "production");
	assert_string_equal(store_format_names[STORE_FORMAT_OPAQUE], "opaque");
	assert_int_equal(store_env_from_name("Production", &e), -1);
	assert_int_equal(store_env_from_name(NULL, &e), -1);
	assert_int_equal(store_format_from_name("jwe", &f), -1);
}

static void
reopen_is_idempotent(void **state)
{
	struct store *s;
	int cur, latest;

	(void)state;
	for (int i = 0; i < 3; i++) {
		s = open_store();
		make_tenant(s, i == 0 ? "t0" : i == 1 ? "t1" : "t2");
		store_close(s);
	}
	s = open_store();
	assert_int_equal(store_schema_version(s, &cur, &latest), STORE_OK);
	assert_int_equal(cur, latest);
	store_close(s);
	/* One row per migration, each applied once; data kept. */
	assert_int_equal(count_rows("SELECT count(*) FROM schema_version"), latest);
	assert_int_equal(count_rows("SELECT count(*) FROM tenants"), 3);
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_open(fixture_path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static void
garbage_file_refused(void **state)
{
	struct store *s = NULL;
	char err[256] = "";
	FILE *f;

	(void)state;
	assert_non_null(f = fopen(fixture_path, "w"));
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, not at all\n", f);
	fclose(f);
	assert_int_not_equal(store_open(fixture_url, &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
	assert_true(err[0] != '\0');
}

/* Throughput with producers that back off when the queue is full (printed,
 * not asserted: timing depends on the machine). */
struct pump {
	struct store	*s;
	struct tally	*a;
	int		 no, n;
};

static void *
pump_main(void *arg)
{
	struct pump *p = arg;
	char id[48];

	for (int i = 0; i < p->n; i++) {
		struct store_token t;
		snprintf(id, sizeof(id), "p%d-%d", p->no, i);
		t = token_fixture(id, "c1", "n", i);
		while (store_token_record(p->s, &t, tally_done, p->a) == STORE_UNAVAILABLE)
			usleep(200);
	}
	return NULL;
}

static void
group_commit_throughput(void **state)
{
	enum { PUMPS = 8, EACH = 25000 };
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct pump p[PUMPS];

	(void)state;
	for (int i = 0; i < PUMPS; i++)
		p[i] = (struct pump){ s, &a, i, EACH };
	group_commit_run(s, pump_main, p, sizeof(p[0]), PUMPS, PUMPS * EACH);
	assert_int_equal(a.ok, PUMPS * EACH);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SQLITE_TEST(open_creates_private_file),
		SQLITE_TEST(open_refuses_bad_targets),
		cmocka_unit_test(names_round_trip),
		SQLITE_TEST(reopen_is_idempotent),
		SQLITE_TEST(garbage_file_refused),
		SQLITE_TEST(group_commit_throughput),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed + conformance_run(&sqlite_backend);
}
