/* Unit tests for the SQLite store: entities, conflicts, generation, group
 * commit durability across reopen, and a newer schema refused. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	char cmd[160];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *
open_store(void)
{
	struct store *s = NULL;
	char err[256] = "";
	assert_int_equal(store_open(url, &s, err, sizeof(err)), STORE_OK);
	return s;
}

static void
client_basics(void **state)
{
	struct store *s = open_store();
	struct store_tenant t = { "acme", "Acme", 1 }, got;
	struct store_client c, back;
	struct store_secret sec;
	uint64_t g0, g1;

	(void)state;
	assert_int_equal(store_generation(s, &g0), STORE_OK);
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_int_equal(store_tenant_create(s, &t), STORE_CONFLICT);
	assert_int_equal(store_tenant_get(s, "acme", &got), STORE_OK);
	assert_string_equal(got.name, "Acme");
	store_tenant_clear(&got);
	assert_int_equal(store_tenant_get(s, "nope", &got), STORE_NOTFOUND);
	memset(&c, 0, sizeof(c));
	c.id = "c1"; c.tenant_id = "acme"; c.name = "one"; c.scopes = "a b"; c.allow_ips = "";
	c.claims = "{}"; c.ttl = 60; c.max_ttl = 120; c.roles = STORE_ROLE_ADMIN;
	memset(&sec, 0, sizeof(sec));
	sec.client_id = "c1";
	memset(sec.hash, 7, 32);
	assert_int_equal(store_client_create(s, &c, &sec), STORE_OK);
	assert_true(sec.id > 0);
	assert_int_equal(store_client_create(s, &c, NULL), STORE_CONFLICT);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_string_equal(back.scopes, "a b");
	assert_int_equal(back.roles, STORE_ROLE_ADMIN);
	back.disabled = 1;
	assert_int_equal(store_client_update(s, &back), STORE_OK);
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_int_equal(back.disabled, 1);
	store_client_clear(&back);
	assert_int_equal(store_generation(s, &g1), STORE_OK);
	assert_true(g1 > g0);
	store_close(s);
}

struct rec_arg {
	int	ok;
	pthread_mutex_t mu;
};

static void
done(void *arg, int err)
{
	struct rec_arg *a = arg;
	pthread_mutex_lock(&a->mu);
	if (err == 0)
		a->ok++;
	pthread_mutex_unlock(&a->mu);
}

static void
group_commit_is_durable(void **state)
{
	struct store *s = open_store();
	struct rec_arg a = { 0, PTHREAD_MUTEX_INITIALIZER };
	struct store_token *ts = NULL;
	size_t n = 0;
	uint64_t g0, g1;
	int count = 0;

	(void)state;
	assert_int_equal(store_generation(s, &g0), STORE_OK);
	for (int i = 0; i < 500; i++) {
		struct store_token t;
		char id[32];
		memset(&t, 0, sizeof(t));
		snprintf(id, sizeof(id), "jti-%d", i);
		t.id = id; t.client_id = "c1"; t.tenant_id = "acme"; t.name = i % 2 ? "odd" : "even";
		t.scope = "a"; t.aud = "x"; t.issued_at = 10 + i; t.expires_at = 1000;
		assert_int_equal(store_token_record(s, &t, done, &a), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 500);
	assert_int_equal(store_generation(s, &g1), STORE_OK);
	assert_int_equal(g0, g1);	/* token records are not changes caches see */
	store_close(s);
	s = open_store();
	assert_int_equal(store_token_list(s, "c1", &ts, &n), STORE_OK);
	assert_int_equal(n, 500);
	store_token_free(ts, n);
	assert_int_equal(store_token_revoke_by_name(s, "c1", "odd", 5, &count), STORE_OK);
	assert_int_equal(count, 250);
	assert_int_equal(store_token_revoke_by_name(s, "c1", "odd", 5, &count), STORE_NOTFOUND);
	assert_int_equal(store_token_revoke(s, "nope", 5), STORE_NOTFOUND);
	store_close(s);
}

static void
newer_schema_refused(void **state)
{
	sqlite3 *db;
	struct store *s = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_not_equal(store_open(url, &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "newer"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_basics),
		cmocka_unit_test(group_commit_is_durable),
		cmocka_unit_test(newer_schema_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
