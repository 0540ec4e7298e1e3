/*
 * test_gate_revoked.c — the gate's revoked set (gate/revoked.c) over a real
 * SQLite store: a refresh adds what was revoked since the set's
 * generation, in place or into a larger set, while sets handed out before
 * stay whole; the bound holds; a store whose generation went back is
 * loaded in full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gate/revoked.h"
#include "store/store.h"
#include "tmpdir.h"

#define TOKENS	80

struct fixture {
	char		 dir[TMPDIR_LEN];
	struct store	*st;
};

static void
done(void *arg, int err)
{
	(void)arg;
	assert_int_equal(err, STORE_OK);
}

static struct store *
open_in(const char *dir, const char *name)
{
	char url[TMPDIR_LEN + 64], err[256];
	struct store *st = NULL;

	snprintf(url, sizeof(url), "sqlite:%s/%s", dir, name);
	assert_int_equal(store_open(url, &st, err, sizeof(err)), STORE_OK);
	return st;
}

/* Records t0..t<n-1>, live until 10000. */
static void
record(struct store *st, int n)
{
	char id[16];

	for (int i = 0; i < n; i++) {
		struct store_token t = { 0 };
		snprintf(id, sizeof(id), "t%d", i);
		t.id = id;
		t.client_id = "c";
		t.tenant_id = "acme";
		t.name = "n";
		t.scope = "";
		t.aud = "";
		t.issued_at = 100;
		t.expires_at = 10000;
		assert_int_equal(store_token_record(st, &t, done, NULL), STORE_OK);
		assert_int_equal(store_flush(st), STORE_OK);
	}
}

static void
revoke(struct store *st, int i)
{
	char id[16];

	snprintf(id, sizeof(id), "t%d", i);
	assert_int_equal(store_token_revoke(st, id, 200), STORE_OK);
}

static int
has(const struct revoked_set *r, int i)
{
	char id[16];

	snprintf(id, sizeof(id), "t%d", i);
	return revoked_set_has(r, id);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tmpdir_make(f->dir, sizeof(f->dir), "gh-revoked") == -1)
		return -1;
	f->st = open_in(f->dir, "a.db");
	record(f->st, TOKENS);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* One revocation at a time, each followed by a refresh, as the gate does:
 * every set handed out keeps what it had (a reader holding it while the
 * next grows is safe), and the newest has them all. */
static void
refresh_adds_what_changed(void **state)
{
	struct fixture *f = *state;
	struct revoked_set *sets[TOKENS + 1], *r;

	revoke(f->st, 0);
	assert_int_equal(revoked_set_refresh(f->st, NULL, 0, 1000, &sets[0]), STORE_OK);
	assert_true(has(sets[0], 0));
	assert_int_equal(revoked_set_count(sets[0]), 1);
	for (int i = 1; i < TOKENS; i++) {
		revoke(f->st, i);
		assert_int_equal(revoked_set_refresh(f->st, sets[i - 1], 0, 1000, &sets[i]), STORE_OK);
	}
	for (int i = 0; i < TOKENS; i++) {
		for (int k = 0; k <= i; k++)
			assert_true(has(sets[i], k));
		assert_true(revoked_set_complete(sets[i]));
	}
	r = sets[TOKENS - 1];
	assert_int_equal(revoked_set_count(r), TOKENS);
	assert_false(revoked_set_has(r, "t80"));
	/* Nothing revoked since: the same set. */
	assert_int_equal(revoked_set_refresh(f->st, r, 0, 1000, &sets[TOKENS]), STORE_OK);
	assert_ptr_equal(sets[TOKENS], r);
	/* Dropped in an order other than made: each frees what it owns once. */
	for (int i = 0; i <= TOKENS; i += 2)
		revoked_set_unref(sets[i]);
	for (int i = 1; i <= TOKENS; i += 2)
		revoked_set_unref(sets[i]);
}

/* The bound holds for what a refresh adds: past it the set is incomplete
 * (the gate then asks the store about an id it lacks). */
static void
refresh_keeps_the_bound(void **state)
{
	struct fixture *f = *state;
	struct revoked_set *r, *r2, *r3;

	for (int i = 0; i < 3; i++)
		revoke(f->st, i);
	assert_int_equal(revoked_set_refresh(f->st, NULL, 0, 5, &r), STORE_OK);
	assert_true(revoked_set_complete(r));
	for (int i = 3; i < 10; i++)
		revoke(f->st, i);
	assert_int_equal(revoked_set_refresh(f->st, r, 0, 5, &r2), STORE_OK);
	assert_int_equal(revoked_set_count(r2), 5);
	assert_false(revoked_set_complete(r2));
	revoke(f->st, 10);
	assert_int_equal(revoked_set_refresh(f->st, r2, 0, 5, &r3), STORE_OK);
	assert_int_equal(revoked_set_count(r3), 5);
	assert_false(revoked_set_complete(r3));
	revoked_set_unref(r);
	revoked_set_unref(r2);
	revoked_set_unref(r3);
}

/* Expired tokens are not added (now past their expiry). */
static void
refresh_leaves_out_the_expired(void **state)
{
	struct fixture *f = *state;
	struct revoked_set *r, *r2;

	assert_int_equal(revoked_set_refresh(f->st, NULL, 0, 100, &r), STORE_OK);
	revoke(f->st, 1);
	assert_int_equal(revoked_set_refresh(f->st, r, 10000, 100, &r2), STORE_OK);
	assert_false(has(r2, 1));
	revoked_set_unref(r);
	revoked_set_unref(r2);
}

/* A wall clock stepped back: a revoked token left out of the set as
 * expired at the time of the last read is unexpired again at the earlier
 * time, and the refresh must find it though nothing was revoked since.
 * Regression: the refresh handed back the same set (the generation had not
 * moved), and the revoked token passed the gate until its exp came again;
 * now a refresh at a time behind the set's latest read loads it in full. */
static void
clock_back_loads_in_full(void **state)
{
	struct fixture *f = *state;
	struct revoked_set *r, *r2, *r3;

	revoke(f->st, 1);
	assert_int_equal(revoked_set_refresh(f->st, NULL, 10000, 100, &r), STORE_OK);
	assert_false(has(r, 1));	/* expired at 10000 */
	assert_int_equal(revoked_set_refresh(f->st, r, 9000, 100, &r2), STORE_OK);
	assert_true(has(r2, 1));
	assert_int_equal(revoked_set_floor(r), 10000);
	assert_int_equal(revoked_set_floor(r2), 9000);
	/* Forward again: nothing to read. */
	assert_int_equal(revoked_set_refresh(f->st, r2, 9001, 100, &r3), STORE_OK);
	assert_ptr_equal(r3, r2);
	assert_int_equal(revoked_set_floor(r3), 9001);
	revoked_set_unref(r);
	revoked_set_unref(r2);
	revoked_set_unref(r3);
}

/* A store whose revocation generation is behind the set's (replaced or
 * restored) is loaded in full: what the set read since is no measure. */
static void
generation_back_loads_in_full(void **state)
{
	struct fixture *f = *state;
	struct store *b = open_in(f->dir, "b.db");
	struct revoked_set *r, *r2;

	for (int i = 0; i < 4; i++)
		revoke(f->st, i);
	assert_int_equal(revoked_set_refresh(f->st, NULL, 0, 100, &r), STORE_OK);
	record(b, 2);
	revoke(b, 1);
	assert_int_equal(revoked_set_refresh(b, r, 0, 100, &r2), STORE_OK);
	assert_true(has(r2, 1));
	assert_false(has(r2, 0));
	assert_int_equal(revoked_set_count(r2), 1);
	revoked_set_unref(r);
	revoked_set_unref(r2);
	store_close(b);
}

/* A revocation generation past INT64_MAX (a counter set below zero by
 * hand, as a test of a restored database did, reads as 2^64 less a
 * little) is no measure either: the set is loaded in full, and each
 * revocation is in it. Regression: the refresh asked the store for what
 * was revoked since that generation, which it refused, and every gate
 * check after a revocation was answered 503. */
static void
generation_past_int64_loads_in_full(void **state)
{
	struct fixture *f = *state;
	struct revoked_set *r, *r2;
	char path[TMPDIR_LEN + 16];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/a.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = -5 WHERE key = "
	    "'revocation_generation'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(revoked_set_refresh(f->st, NULL, 0, 100, &r), STORE_OK);
	revoke(f->st, 0);
	assert_int_equal(revoked_set_refresh(f->st, r, 0, 100, &r2), STORE_OK);
	assert_true(has(r2, 0));
	revoked_set_unref(r);
	revoke(f->st, 1);
	assert_int_equal(revoked_set_refresh(f->st, r2, 0, 100, &r), STORE_OK);
	assert_true(has(r, 0) && has(r, 1));
	revoked_set_unref(r);
	revoked_set_unref(r2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(refresh_adds_what_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(refresh_keeps_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(refresh_leaves_out_the_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(clock_back_loads_in_full, setup, teardown),
		cmocka_unit_test_setup_teardown(generation_back_loads_in_full, setup, teardown),
		cmocka_unit_test_setup_teardown(generation_past_int64_loads_in_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
