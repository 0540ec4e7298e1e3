/*
 * store_fixture.c — see store_fixture.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/sqlite_internal.h"
#include "store_fixture.h"
#include "test_rng.h"

char	fixture_dir[TMPDIR_LEN];
char	fixture_path[TMPDIR_LEN + 16];
char	fixture_url[FIXTURE_URL_LEN];
sqlite3	*fixture_db;

/* 32 bytes: 0x01, 0x02, ... 0x20. */
const uint8_t fixture_audit_key[32] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

static struct store_audit_key *fixture_key_obj;
static pthread_once_t fixture_key_once = PTHREAD_ONCE_INIT;

static void
fixture_key_make(void)
{
	fixture_key_obj = store_audit_key_new(fixture_audit_key);
}

const struct store_audit_key *
fixture_key(void)
{
	pthread_once(&fixture_key_once, fixture_key_make);
	if (fixture_key_obj == NULL)
		fail_msg("store_audit_key_new failed");
	return fixture_key_obj;
}

int
fixture_setup_sqlite(void **state)
{
	(void)state;
	if (tmpdir_make(fixture_dir, sizeof(fixture_dir), "gh-store") == -1)
		return -1;
	snprintf(fixture_path, sizeof(fixture_path), "%s/t.db", fixture_dir);
	snprintf(fixture_url, sizeof(fixture_url), "sqlite:%s", fixture_path);
	return 0;
}

int
fixture_setup_sq(void **state)
{
	char err[256];
	int fd;

	if (fixture_setup_sqlite(state) == -1)
		return -1;
	/* The store makes its file before connecting (store_sqlite.c). */
	if ((fd = open(fixture_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	close(fd);
	if (sq_connect(fixture_path, &fixture_db, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		sqlite3_close(fixture_db);
		fixture_db = NULL;
		return -1;
	}
	return 0;
}

int
fixture_teardown_sq(void **state)
{
	sqlite3_close(fixture_db);
	fixture_db = NULL;
	return fixture_teardown(state);
}

struct sqlite3 *
fixture_connect(void)
{
	sqlite3 *db = NULL;
	char err[256];

	if (sq_connect(fixture_path, &db, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	return db;
}

int64_t
fixture_query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

void
fixture_insert_random(sqlite3 *db, int n, int size)
{
	sqlite3_stmt *st = NULL;
	uint8_t key[32];

	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, zeroblob(?))", -1, &st,
	    NULL), SQLITE_OK);
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof(key); j += 8) {
			uint64_t r = test_rng();
			memcpy(key + j, &r, 8);
		}
		assert_int_equal(sqlite3_bind_blob(st, 1, key, sizeof(key), SQLITE_TRANSIENT),
		    SQLITE_OK);
		assert_int_equal(sqlite3_bind_int(st, 2, size), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

void
fixture_commit_random(sqlite3 *db, int n, int size)
{
	assert_int_equal(sq_exec(db, "BEGIN IMMEDIATE", "test"), STORE_OK);
	fixture_insert_random(db, n, size);
	assert_int_equal(sq_exec(db, "COMMIT", "test"), STORE_OK);
}

void
fixture_assert_sound(int64_t rows)
{
	sqlite3 *fresh = fixture_connect();
	sqlite3_stmt *st = NULL;

	for (int pass = 0; pass < 2; pass++) {
		sqlite3 *db = pass == 0 ? fixture_db : fresh;

		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
		assert_int_equal(fixture_query_int(db, "SELECT count(*) FROM t"), rows);
	}
	sqlite3_close(fresh);
}

int
fixture_setup_pg(void **state)
{
	const char *u = getenv("GATEHOUSE_TEST_PG");
	PGconn *c;
	PGresult *r;
	int ok;

	(void)state;
	if (u == NULL || strlen(u) >= sizeof(fixture_url)) {
		fprintf(stderr, "GATEHOUSE_TEST_PG is not set: run through tests/lib/pg.py run\n");
		return -1;
	}
	snprintf(fixture_url, sizeof(fixture_url), "%s", u);
	fixture_dir[0] = fixture_path[0] = '\0';
	c = PQconnectdb(fixture_url);
	r = PQexec(c, "SET client_min_messages = warning; "
	    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "emptying the test database: %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

int
fixture_setup_store(void **state)
{
	return getenv("GATEHOUSE_TEST_PG") != NULL ? fixture_setup_pg(state) :
	    fixture_setup_sqlite(state);
}

/*
 * The database file and its companions, then the directory, which must be
 * empty by then: the store makes t.db, t.db-wal and t.db-shm (SQLite may
 * leave a t.db-journal) and nothing else.
 */
int
fixture_teardown(void **state)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[sizeof(fixture_path) + 16];
	int rc = 0;

	(void)state;
	if (fixture_dir[0] == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]) && rc == 0; i++) {
		snprintf(p, sizeof(p), "%s%s", fixture_path, sfx[i]);
		if (unlink(p) == -1 && errno != ENOENT)
			rc = -1;
	}
	if (rc == 0)
		rc = rmdir(fixture_dir);
	fixture_dir[0] = fixture_path[0] = '\0';
	return rc;
}

struct store *
open_store_unkeyed(void)
{
	struct store *s = NULL;
	char err[256] = "";

	if (store_open(fixture_url, &s, err, sizeof(err)) != STORE_OK)
		fail_msg("store_open: %s", err);
	return s;
}

struct store *
open_store(void)
{
	struct store *s = open_store_unkeyed();

	if (store_audit_set_key(s, fixture_audit_key, NULL) != STORE_OK)
		fail_msg("store_audit_set_key: %s", store_last_error());
	return s;
}

uint64_t
gen_of(struct store *s, enum store_gen_kind kind)
{
	struct store_gen g;

	assert_int_equal(store_generation(s, &g), STORE_OK);
	return g.v[kind];
}

uint64_t
gen(struct store *s)
{
	return gen_of(s, STORE_GEN_DATA);
}

uint64_t
lock_gen(struct store *s)
{
	return gen_of(s, STORE_GEN_LOCKS);
}

uint64_t
gen_wait_of(struct store *s, enum store_gen_kind kind, uint64_t want, int wait_ms)
{
	uint64_t g = gen_of(s, kind);

	for (int waited = 0; g < want && waited < wait_ms; waited += 10) {
		usleep(10000);
		g = gen_of(s, kind);
	}
	return g;
}

uint64_t
gen_wait(struct store *s, uint64_t want, int wait_ms)
{
	return gen_wait_of(s, STORE_GEN_DATA, want, wait_ms);
}

uint64_t
lock_gen_wait(struct store *s, uint64_t want, int wait_ms)
{
	return gen_wait_of(s, STORE_GEN_LOCKS, want, wait_ms);
}

void
make_tenant(struct store *s, const char *id)
{
	struct store_tenant t = { (char *)id, (char *)"Tenant", 100 };

	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
}

size_t
locks_in_force(struct store *s, int64_t now)
{
	struct store_lock *ls = NULL;
	size_t n = 0;

	assert_int_equal(store_lock_list(s, now, &ls, &n), STORE_OK);
	store_lock_free(ls, n);
	return n;
}

struct store_client
client_fixture(const char *id, const char *tenant)
{
	struct store_client c;

	memset(&c, 0, sizeof(c));
	c.id = (char *)id;
	c.tenant_id = (char *)tenant;
	c.name = (char *)"a client";
	c.env = STORE_ENV_PRODUCTION;
	c.roles = STORE_ROLE_OPERATOR | STORE_ROLE_VIEWER;
	c.scopes = (char *)"payments:read payments:write";
	c.ttl = 3600;
	c.max_ttl = 7200;
	c.format = STORE_FORMAT_OPAQUE;
	c.allow_ips = (char *)"10.0.0.0/8 192.168.1.1/32";
	c.claims = (char *)"{\"partner_id\":\"p-1\"}";
	c.disabled = 0;
	c.rate_limit = 60;
	c.tokens_valid_after = 5;
	c.created_at = 1000;
	c.updated_at = 1001;
	return c;
}

struct store_secret
secret_fixture(const char *client, uint8_t fill)
{
	struct store_secret x;

	memset(&x, 0, sizeof(x));
	x.client_id = (char *)client;
	memset(x.hash, fill, sizeof(x.hash));
	x.created_at = 2000;
	return x;
}

struct store_token
token_fixture(const char *id, const char *client, const char *name, int64_t iat)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	t.id = (char *)id;
	t.client_id = (char *)client;
	t.tenant_id = (char *)"acme";
	t.name = (char *)name;
	t.format = STORE_FORMAT_JWT;
	t.env = STORE_ENV_SANDBOX;
	t.scope = (char *)"a b";
	t.aud = (char *)"https://api";
	t.issued_at = iat;
	t.expires_at = iat + 3600;
	return t;
}

void
tally_done(void *arg, int err)
{
	struct tally *a = arg;

	pthread_mutex_lock(&a->mu);
	a->n++;
	if (err == STORE_OK)
		a->ok++;
	else if (err == STORE_CONFLICT)
		a->conflict++;
	else
		a->other++;
	if (err == STORE_UNAVAILABLE)
		a->unavailable++;
	pthread_mutex_unlock(&a->mu);
}

void
group_commit_run(struct store *s, void *(*fn)(void *), void *arg, size_t size, int n,
    int records)
{
	pthread_t th[GROUP_COMMIT_THREADS_MAX];
	struct timespec t0, t1;
	double secs;

	assert_in_range(n, 1, GROUP_COMMIT_THREADS_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fn, (char *)arg + (size_t)i * size), 0);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(store_flush(s), STORE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("group commit: %d records from %d threads in %.3f s = %.0f records/s\n",
	    records, n, secs, records / secs);
}

int
chain_check(void *arg, const struct store_audit *row)
{
	struct chain *c = arg;
	uint8_t h[32];

	store_audit_link(fixture_key(), row, h);
	if (row->seq != c->next || memcmp(row->prev_hash, c->prev, 32) != 0 ||
	    memcmp(h, row->hash, 32) != 0)
		c->bad++;
	c->next = row->seq + 1;
	memcpy(c->prev, row->hash, 32);
	return 0;
}
