/*
 * Unit tests for the store over its SQLite backend: every entity's
 * create/get/list/update with its conflict and not-found answers, revocation
 * by name, the change generation (and that token records leave it alone,
 * and that a second handle on the file sees it, as the CLI and the server
 * do), migrations, the group commit under 64 threads, durability across
 * close/reopen, and the bounded queue. Each test gets a fresh directory.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

static char dir[64], url[160], path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/gh-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	return 0;
}

static int
teardown(void **state)
{
	char p[192];
	(void)state;
	/* t.db, t.db-wal, t.db-shm, and nothing else. */
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		if (unlink(p) == -1 && errno != ENOENT)
			return -1;
	}
	return rmdir(dir);
}

static struct store *
open_store(void)
{
	struct store *s = NULL;
	char err[256] = "";
	int rc = store_open(url, &s, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("store_open: %s", err);
	return s;
}

static uint64_t
gen(struct store *s)
{
	uint64_t g = 0;
	assert_int_equal(store_generation(s, &g), STORE_OK);
	return g;
}

/* Counts rows with a separate raw connection (what another process sees). */
static int64_t
count_rows(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
make_tenant(struct store *s, const char *id)
{
	struct store_tenant t = { (char *)id, (char *)"Tenant", 100 };
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
}

static struct store_client
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

static struct store_secret
secret_fixture(const char *client, uint8_t fill)
{
	struct store_secret x;

	memset(&x, 0, sizeof(x));
	x.client_id = (char *)client;
	memset(x.hash, fill, sizeof(x.hash));
	x.created_at = 2000;
	return x;
}

static struct store_token
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

/* -- done callbacks ------------------------------------------------------------ */

struct tally {
	pthread_mutex_t	mu;
	int		ok, conflict, other;
};

static void
tally_done(void *arg, int err)
{
	struct tally *a = arg;
	pthread_mutex_lock(&a->mu);
	if (err == STORE_OK)
		a->ok++;
	else if (err == STORE_CONFLICT)
		a->conflict++;
	else
		a->other++;
	pthread_mutex_unlock(&a->mu);
}

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
	assert_int_equal(stat(path, &sb), 0);
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
		assert_int_equal(store_open(path, &b, err, sizeof(err)), STORE_OK);
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
	snprintf(missing, sizeof(missing), "sqlite:%s/no/such/dir/t.db", dir);
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
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static void
newer_schema_refused(void **state)
{
	struct store *s = open_store();
	sqlite3 *db;
	char err[256] = "";
	int cur, latest;

	(void)state;
	assert_int_equal(store_schema_version(s, &cur, &latest), STORE_OK);
	store_close(s);
	s = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_not_equal(store_open(url, &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
	assert_non_null(strstr(err, "newer than this binary knows"));
	assert_non_null(strstr(err, "999"));
}

static void
garbage_file_refused(void **state)
{
	struct store *s = NULL;
	char err[256] = "";
	FILE *f;

	(void)state;
	assert_non_null(f = fopen(path, "w"));
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, not at all\n", f);
	fclose(f);
	assert_int_not_equal(store_open(url, &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
	assert_true(err[0] != '\0');
}

/* -- tenants --------------------------------------------------------------------- */

static void
tenants(void **state)
{
	struct store *s = open_store();
	struct store_tenant t = { (char *)"acme", (char *)"Acme", 7 }, got, *all = NULL;
	struct store_tenant noid = { NULL, (char *)"x", 0 };
	size_t n = 99;
	uint64_t g0;

	(void)state;
	assert_int_equal(store_tenant_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_tenant_free(all, n);
	g0 = gen(s);
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_tenant_create(s, &t), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "tenant acme already exists"));
	assert_true(gen(s) == g0 + 1);	/* a failed change changes nothing */
	assert_int_equal(store_tenant_create(s, &noid), STORE_ERROR);
	t.id = (char *)"beta";
	t.name = (char *)"Beta";
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);

	assert_int_equal(store_tenant_get(s, "acme", &got), STORE_OK);
	assert_string_equal(got.id, "acme");
	assert_string_equal(got.name, "Acme");
	assert_int_equal(got.created_at, 7);
	store_tenant_clear(&got);
	assert_int_equal(store_tenant_get(s, "nope", &got), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "tenant nope does not exist"));
	assert_null(got.id);

	assert_int_equal(store_tenant_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].id, "acme");
	assert_string_equal(all[1].id, "beta");
	store_tenant_free(all, n);
	store_close(s);
}

/* -- clients --------------------------------------------------------------------- */

static void
clients(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme"), back, *all = NULL;
	struct store_secret sec = secret_fixture("ignored", 7), *secs = NULL;
	size_t n = 0;
	uint64_t g0;

	(void)state;
	make_tenant(s, "acme");
	make_tenant(s, "beta");
	g0 = gen(s);
	assert_int_equal(store_client_create(s, &c, &sec), STORE_OK);
	assert_true(sec.id > 0);
	assert_true(gen(s) == g0 + 1);
	/* The first secret is the client's, whatever its client_id said. */
	assert_int_equal(store_secret_list(s, "c1", &secs, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(secs[0].id, sec.id);
	assert_string_equal(secs[0].client_id, "c1");
	store_secret_free(secs, n);

	assert_int_equal(store_client_create(s, &c, NULL), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "client c1 already exists"));

	/* Every field comes back as written. */
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_string_equal(back.id, "c1");
	assert_string_equal(back.tenant_id, "acme");
	assert_string_equal(back.name, "a client");
	assert_int_equal(back.env, STORE_ENV_PRODUCTION);
	assert_int_equal(back.roles, STORE_ROLE_OPERATOR | STORE_ROLE_VIEWER);
	assert_string_equal(back.scopes, "payments:read payments:write");
	assert_int_equal(back.ttl, 3600);
	assert_int_equal(back.max_ttl, 7200);
	assert_int_equal(back.format, STORE_FORMAT_OPAQUE);
	assert_string_equal(back.allow_ips, "10.0.0.0/8 192.168.1.1/32");
	assert_string_equal(back.claims, "{\"partner_id\":\"p-1\"}");
	assert_int_equal(back.disabled, 0);
	assert_int_equal(back.rate_limit, 60);
	assert_int_equal(back.tokens_valid_after, 5);
	assert_int_equal(back.created_at, 1000);
	assert_int_equal(back.updated_at, 1001);

	/* Update rewrites the row. */
	g0 = gen(s);
	back.disabled = 1;
	free(back.scopes);
	back.scopes = strdup("payments:read");
	back.updated_at = 1500;
	assert_int_equal(store_client_update(s, &back), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_int_equal(back.disabled, 1);
	assert_string_equal(back.scopes, "payments:read");
	assert_int_equal(back.updated_at, 1500);

	/* Update of a missing client, or into a missing tenant. */
	back.id[0] = 'x';
	assert_int_equal(store_client_update(s, &back), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "client x1 does not exist"));
	back.id[0] = 'c';
	free(back.tenant_id);
	back.tenant_id = strdup("ghost");
	assert_int_equal(store_client_update(s, &back), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "tenant ghost does not exist"));
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_string_equal(back.tenant_id, "acme");
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "nope", &back), STORE_NOTFOUND);

	/* Optional strings may be NULL: they read back as "" and "{}". */
	c = client_fixture("c2", "beta");
	c.scopes = NULL;
	c.allow_ips = NULL;
	c.claims = NULL;
	c.created_at = 1100;
	assert_int_equal(store_client_create(s, &c, NULL), STORE_OK);
	assert_int_equal(store_client_get(s, "c2", &back), STORE_OK);
	assert_string_equal(back.scopes, "");
	assert_string_equal(back.allow_ips, "");
	assert_string_equal(back.claims, "{}");
	store_client_clear(&back);

	/* Out-of-range enums are refused before SQL. */
	c = client_fixture("c3", "acme");
	c.env = (enum store_env)7;
	assert_int_equal(store_client_create(s, &c, NULL), STORE_ERROR);

	assert_int_equal(store_client_list(s, NULL, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].id, "c1");
	assert_string_equal(all[1].id, "c2");
	store_client_free(all, n);
	assert_int_equal(store_client_list(s, "beta", &all, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].id, "c2");
	store_client_free(all, n);
	assert_int_equal(store_client_list(s, "ghost", &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_client_free(all, n);
	store_close(s);
}

static void
client_create_missing_tenant_is_atomic(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "ghost"), back;
	struct store_secret sec = secret_fixture("c1", 1);
	uint64_t g0 = gen(s);

	(void)state;
	assert_int_equal(store_client_create(s, &c, &sec), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "tenant ghost does not exist"));
	assert_int_equal(store_client_get(s, "c1", &back), STORE_NOTFOUND);
	assert_true(gen(s) == g0);
	store_close(s);
	assert_int_equal(count_rows("SELECT count(*) FROM client_secrets"), 0);
	assert_int_equal(count_rows("SELECT count(*) FROM clients"), 0);
}

/* -- secrets --------------------------------------------------------------------- */

static void
secrets(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme");
	struct store_secret first = secret_fixture("c1", 1), second = secret_fixture("c1", 2);
	struct store_secret orphan = secret_fixture("ghost", 3), *all = NULL;
	size_t n = 0;
	uint64_t g0;

	(void)state;
	make_tenant(s, "acme");
	assert_int_equal(store_client_create(s, &c, &first), STORE_OK);
	g0 = gen(s);
	second.expires_at = 9000;
	assert_int_equal(store_secret_add(s, &second), STORE_OK);
	assert_true(second.id > first.id);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_secret_add(s, &orphan), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "client ghost does not exist"));

	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].id, first.id);
	assert_int_equal(all[0].hash[0], 1);
	assert_int_equal(all[0].hash[31], 1);
	assert_int_equal(all[1].id, second.id);
	assert_memory_equal(all[1].hash, second.hash, 32);
	assert_int_equal(all[1].created_at, 2000);
	assert_int_equal(all[1].expires_at, 9000);
	assert_int_equal(all[1].revoked_at, 0);

	/* update writes the two dates only. */
	g0 = gen(s);
	all[0].revoked_at = 3000;
	all[0].expires_at = 3500;
	all[0].created_at = 1;
	assert_int_equal(store_secret_update(s, &all[0]), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	store_secret_free(all, n);
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(all[0].revoked_at, 3000);
	assert_int_equal(all[0].expires_at, 3500);
	assert_int_equal(all[0].created_at, 2000);
	all[0].id = 424242;
	assert_int_equal(store_secret_update(s, &all[0]), STORE_NOTFOUND);
	store_secret_free(all, n);
	assert_int_equal(store_secret_list(s, "ghost", &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_secret_free(all, n);
	store_close(s);
}

/* -- keys ------------------------------------------------------------------------ */

static void
keys(void **state)
{
	struct store *s = open_store();
	uint8_t sealed[300];
	struct store_key k, *all = NULL;
	size_t n = 0;
	uint64_t g0;

	(void)state;
	for (size_t i = 0; i < sizeof(sealed); i++)
		sealed[i] = (uint8_t)i;	/* includes NUL bytes */
	memset(&k, 0, sizeof(k));
	k.kid = (char *)"k2";
	k.alg = (char *)"ES256";
	k.env = STORE_ENV_PRODUCTION;
	k.sealed = sealed;
	k.sealed_len = sizeof(sealed);
	k.created_at = 20;
	k.publish_at = 21;
	k.activate_at = 22;
	g0 = gen(s);
	assert_int_equal(store_key_add(s, &k), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_key_add(s, &k), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "key k2 already exists"));
	k.kid = (char *)"k1";
	k.alg = (char *)"RS256";
	k.created_at = 10;
	k.sealed_len = 5;
	assert_int_equal(store_key_add(s, &k), STORE_OK);
	k.sealed_len = 0;
	k.kid = (char *)"k0";
	assert_int_equal(store_key_add(s, &k), STORE_ERROR);

	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].kid, "k1");	/* by created_at */
	assert_int_equal(all[0].sealed_len, 5);
	assert_string_equal(all[1].kid, "k2");
	assert_string_equal(all[1].alg, "ES256");
	assert_int_equal(all[1].env, STORE_ENV_PRODUCTION);
	assert_int_equal(all[1].sealed_len, sizeof(sealed));
	assert_memory_equal(all[1].sealed, sealed, sizeof(sealed));
	assert_int_equal(all[1].publish_at, 21);
	assert_int_equal(all[1].activate_at, 22);
	assert_int_equal(all[1].retire_at, 0);

	g0 = gen(s);
	all[1].retire_at = 50;
	all[1].remove_at = 60;
	assert_int_equal(store_key_update(s, &all[1]), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	free(all[1].kid);
	all[1].kid = strdup("nope");
	assert_int_equal(store_key_update(s, &all[1]), STORE_NOTFOUND);
	store_key_free(all, n);
	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	assert_int_equal(all[1].retire_at, 50);
	assert_int_equal(all[1].remove_at, 60);
	store_key_free(all, n);
	store_close(s);
}

/* -- tokens ---------------------------------------------------------------------- */

static void
tokens(void **state)
{
	struct store *s = open_store();
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	struct store_token t, got, *all = NULL;
	size_t n = 0;
	uint64_t g0, g1;
	int count = -1;

	(void)state;
	g0 = gen(s);
	/* Recorded out of issue order; listed in it. */
	t = token_fixture("j3", "c1", "nightly", 300);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("j1", "c1", "nightly", 100);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("j2", "c1", "adhoc", 200);
	t.format = STORE_FORMAT_OPAQUE;
	t.aud = NULL;	/* optional: recorded as "" */
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("j4", "c2", "nightly", 50);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("", "c2", "nightly", 50);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_ERROR);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 4);
	g1 = gen(s);
	assert_true(g1 == g0);	/* token records are not changes caches see */

	assert_int_equal(store_token_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(all[0].id, "j1");
	assert_string_equal(all[1].id, "j2");
	assert_string_equal(all[2].id, "j3");
	assert_int_equal(all[1].format, STORE_FORMAT_OPAQUE);
	assert_string_equal(all[1].aud, "");
	store_token_free(all, n);

	assert_int_equal(store_token_get(s, "j3", &got), STORE_OK);
	assert_string_equal(got.client_id, "c1");
	assert_string_equal(got.tenant_id, "acme");
	assert_string_equal(got.name, "nightly");
	assert_string_equal(got.scope, "a b");
	assert_string_equal(got.aud, "https://api");
	assert_int_equal(got.env, STORE_ENV_SANDBOX);
	assert_int_equal(got.issued_at, 300);
	assert_int_equal(got.expires_at, 3900);
	assert_int_equal(got.revoked_at, 0);
	store_token_clear(&got);
	assert_int_equal(store_token_get(s, "nope", &got), STORE_NOTFOUND);

	/* Revoke one: generation moves; again: OK, no move; absent: NOTFOUND. */
	assert_int_equal(store_token_revoke(s, "j2", 900), STORE_OK);
	g1 = gen(s);
	assert_true(g1 == g0 + 1);
	assert_int_equal(store_token_revoke(s, "j2", 950), STORE_OK);
	assert_true(gen(s) == g1);
	assert_int_equal(store_token_get(s, "j2", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 900);
	store_token_clear(&got);
	assert_int_equal(store_token_revoke(s, "nope", 900), STORE_NOTFOUND);

	/* By name, of one client: only its live ones. */
	assert_int_equal(store_token_revoke_by_name(s, "c1", "nightly", 1000, &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_true(gen(s) == g1 + 1);
	assert_int_equal(store_token_get(s, "j4", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 0);
	store_token_clear(&got);
	assert_int_equal(store_token_revoke_by_name(s, "c1", "nightly", 1000, &count), STORE_NOTFOUND);
	assert_int_equal(count, 0);
	/* By name, any client. */
	assert_int_equal(store_token_revoke_by_name(s, NULL, "nightly", 1100, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_token_revoke_by_name(s, NULL, "unknown", 1100, &count), STORE_NOTFOUND);
	assert_int_equal(store_token_get(s, "j1", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 1000);	/* the first revocation stands */
	store_token_clear(&got);

	assert_int_equal(store_token_list(s, "nobody", &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_token_free(all, n);
	store_close(s);
}

static void
duplicate_token_fails_alone(void **state)
{
	struct store *s = open_store();
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	struct store_token t;
	char id[32];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "j%d", i % 5 == 4 ? 0 : i);	/* j0 three times */
		t = token_fixture(id, "c1", "n", i);
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 8);
	assert_int_equal(a.conflict, 2);
	assert_int_equal(a.other, 0);
	store_close(s);
	assert_int_equal(count_rows("SELECT count(*) FROM tokens"), 8);
	assert_int_equal(count_rows("SELECT issued_at FROM tokens WHERE id = 'j0'"), 0);
}

/* Records of tokens expired before the cut go, a chunk at a time; the
 * others stay. */
static void
expired_token_records_pruned(void **state)
{
	struct store *s = open_store();
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	struct store_token t;
	int64_t pruned = -1;
	char id[32];

	(void)state;
	for (int i = 0; i < 10; i++) {	/* p<i> expires at 3600 + 100 i */
		snprintf(id, sizeof(id), "p%d", i);
		t = token_fixture(id, "c1", "n", i * 100);
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 10);
	assert_int_equal(store_token_prune(s, 4050, 3, &pruned), STORE_OK);
	assert_int_equal(pruned, 3);		/* the limit */
	assert_int_equal(store_token_prune(s, 4050, 100, &pruned), STORE_OK);
	assert_int_equal(pruned, 2);		/* p0..p4 in all */
	assert_int_equal(store_token_prune(s, 4050, 100, &pruned), STORE_OK);
	assert_int_equal(pruned, 0);
	assert_int_equal(store_token_get(s, "p4", &t), STORE_NOTFOUND);
	assert_int_equal(store_token_get(s, "p5", &t), STORE_OK);
	store_token_clear(&t);
	assert_int_equal(store_token_prune(s, 4050, 0, &pruned), STORE_ERROR);
	store_close(s);
	assert_int_equal(count_rows("SELECT count(*) FROM tokens"), 5);
}

/* -- generation across handles ------------------------------------------------------ */

static void
generation_seen_across_handles(void **state)
{
	struct store *server = open_store(), *cli = open_store();
	struct store_client c = client_fixture("c1", "acme");
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	struct store_token t = token_fixture("j1", "c1", "n", 1);
	uint64_t g0, g1;
	int count;

	(void)state;
	g0 = gen(server);
	assert_true(gen(cli) == g0);
	make_tenant(cli, "acme");
	assert_true(gen(server) == g0 + 1);
	assert_int_equal(store_client_create(cli, &c, NULL), STORE_OK);
	assert_true(gen(server) == g0 + 2);
	/* Many calls without changes answer the cached value. */
	for (int i = 0; i < 1000; i++)
		assert_true(gen(server) == g0 + 2);
	/* The server's own token records do not move it, for either. */
	assert_int_equal(store_token_record(server, &t, tally_done, &a), STORE_OK);
	assert_int_equal(store_flush(server), STORE_OK);
	assert_true(gen(server) == g0 + 2);
	assert_true(gen(cli) == g0 + 2);
	/* A revocation in the "CLI" reaches the "server". */
	assert_int_equal(store_token_revoke_by_name(cli, NULL, "n", 5, &count), STORE_OK);
	g1 = gen(server);
	assert_true(g1 == g0 + 3);
	/* And the other way. */
	make_tenant(server, "beta");
	assert_true(gen(cli) == g1 + 1);
	store_close(cli);
	store_close(server);
}

/* -- group commit ---------------------------------------------------------------------- */

#define THREADS		64
#define PER_THREAD	1000

struct worker {
	struct store	*s;
	struct tally	*a;
	int		 no;
	int		 refused;
};

static void *
record_many(void *arg)
{
	struct worker *w = arg;
	char id[48], client[24];

	snprintf(client, sizeof(client), "c%d", w->no);
	for (int i = 0; i < PER_THREAD; i++) {
		struct store_token t;
		snprintf(id, sizeof(id), "t%d-%d", w->no, i);
		t = token_fixture(id, client, i % 2 ? "odd" : "even", i);
		if (store_token_record(w->s, &t, tally_done, w->a) != STORE_OK)
			w->refused++;
	}
	return NULL;
}

static void
group_commit_64_threads(void **state)
{
	struct store *s = open_store();
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct store_token *ts = NULL;
	size_t n = 0;
	struct timespec t0, t1;
	double secs;
	int count = 0;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ s, &a, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, record_many, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].refused, 0);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("group commit: %d records from %d threads in %.3f s = %.0f records/s\n",
	    THREADS * PER_THREAD, THREADS, secs, THREADS * PER_THREAD / secs);
	assert_int_equal(a.ok, THREADS * PER_THREAD);
	assert_int_equal(a.conflict + a.other, 0);
	/* Visible to another connection right after flush. */
	assert_int_equal(count_rows("SELECT count(*) FROM tokens"), THREADS * PER_THREAD);
	store_close(s);

	/* And after close/reopen. */
	s = open_store();
	assert_int_equal(store_token_list(s, "c17", &ts, &n), STORE_OK);
	assert_int_equal(n, PER_THREAD);
	for (size_t i = 1; i < n; i++)
		assert_true(ts[i - 1].issued_at <= ts[i].issued_at);
	store_token_free(ts, n);
	assert_int_equal(store_token_revoke_by_name(s, "c17", "odd", 5, &count), STORE_OK);
	assert_int_equal(count, PER_THREAD / 2);
	store_close(s);
}

static void
close_commits_what_is_queued(void **state)
{
	struct store *s = open_store();
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	char id[32];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		struct store_token t;
		snprintf(id, sizeof(id), "q%d", i);
		t = token_fixture(id, "c1", "n", i);
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	}
	store_close(s);	/* no flush: close must not drop them */
	assert_int_equal(a.ok, 3000);
	assert_int_equal(count_rows("SELECT count(*) FROM tokens"), 3000);
}

/*
 * The queue is bounded. Another connection (as the CLI might) holds the
 * write lock, so the writer waits; records pile up until the queue refuses
 * them with STORE_UNAVAILABLE. Once the lock goes, every accepted record
 * commits.
 */
static void
queue_full_is_refused(void **state)
{
	struct store *s = open_store();
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	sqlite3 *db;
	char id[32];
	int accepted = 0, rc = STORE_OK;

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 70000 && rc == STORE_OK; i++) {
		struct store_token t;
		snprintf(id, sizeof(id), "f%d", i);
		t = token_fixture(id, "c1", "n", i);
		if ((rc = store_token_record(s, &t, tally_done, &a)) == STORE_OK)
			accepted++;
	}
	assert_int_equal(rc, STORE_UNAVAILABLE);
	assert_non_null(strstr(store_last_error(), "queue is full"));
	/* 65536 waiting, plus at most one batch taken by the blocked writer. */
	assert_in_range(accepted, 65536, 65536 + 1024);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, accepted);
	assert_int_equal(a.other, 0);
	store_close(s);
	assert_int_equal(count_rows("SELECT count(*) FROM tokens"), accepted);
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
	struct tally a = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 };
	struct pump p[PUMPS];
	pthread_t th[PUMPS];
	struct timespec t0, t1;
	double secs;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < PUMPS; i++) {
		p[i] = (struct pump){ s, &a, i, EACH };
		assert_int_equal(pthread_create(&th[i], NULL, pump_main, &p[i]), 0);
	}
	for (int i = 0; i < PUMPS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(store_flush(s), STORE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("group commit: %d records from %d threads in %.3f s = %.0f records/s\n",
	    PUMPS * EACH, PUMPS, secs, PUMPS * EACH / secs);
	assert_int_equal(a.ok, PUMPS * EACH);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(open_creates_private_file, setup, teardown),
		cmocka_unit_test_setup_teardown(open_refuses_bad_targets, setup, teardown),
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test_setup_teardown(reopen_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(tenants, setup, teardown),
		cmocka_unit_test_setup_teardown(clients, setup, teardown),
		cmocka_unit_test_setup_teardown(client_create_missing_tenant_is_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(keys, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_token_fails_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(expired_token_records_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(generation_seen_across_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(group_commit_64_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(close_commits_what_is_queued, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_full_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(group_commit_throughput, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
