/*
 * Unit tests for the idempotency records (store_idem_*, issue 6), on SQLite
 * and (tests/pgsql) on PostgreSQL: begin claims a key once (a second begin sees the running
 * record), finish keeps the answer, release frees the key, keys are scoped
 * per client, expired and stale records are replaced, another handle (a
 * second node) sees the same records, the generation does not move, and
 * bad arguments change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

static const char FP_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char FP_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static struct store_idem
rec(const char *client, const char *key, const char *fp, int64_t now)
{
	struct store_idem r;

	memset(&r, 0, sizeof(r));
	r.client_id = (char *)client;
	r.key = (char *)key;
	snprintf(r.fingerprint, sizeof(r.fingerprint), "%s", fp);
	r.created_at = now;
	r.expires_at = now + 86400;
	return r;
}

static void
claim_finish_replay(void **state)
{
	struct store *s = open_store();
	struct store_idem r = rec("c1", "k1", FP_A, 1000), old;
	uint64_t g0, g1;

	(void)state;
	g0 = gen(s);
	assert_int_equal(store_idem_begin(s, &r, 1000, &old), STORE_OK);
	/* A retry while running sees the running record. */
	assert_int_equal(store_idem_begin(s, &r, 1001, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_RUNNING);
	assert_string_equal(old.fingerprint, FP_A);
	store_idem_clear(&old);
	assert_int_equal(store_idem_finish(s, "c1", "k1", 201, "{\"x\":1}"), STORE_OK);
	/* Finished once: a second finish finds no running record. */
	assert_int_equal(store_idem_finish(s, "c1", "k1", 500, "{}"), STORE_NOTFOUND);
	assert_int_equal(store_idem_begin(s, &r, 1002, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_DONE);
	assert_int_equal(old.status, 201);
	assert_string_equal(old.body, "{\"x\":1}");
	assert_int_equal(old.expires_at, 1000 + 86400);
	store_idem_clear(&old);
	/* Another client's same key is its own. */
	r = rec("c2", "k1", FP_B, 1003);
	assert_int_equal(store_idem_begin(s, &r, 1003, &old), STORE_OK);
	g1 = gen(s);
	assert_true(g0 == g1);
	store_close(s);
}

static void
release_expire_never_stale(void **state)
{
	struct store *s = open_store(), *s2;
	struct store_idem r = rec("c1", "k2", FP_A, 1000), old;

	(void)state;
	assert_int_equal(store_idem_begin(s, &r, 1000, &old), STORE_OK);
	assert_int_equal(store_idem_release(s, "c1", "k2"), STORE_OK);
	assert_int_equal(store_idem_release(s, "c1", "k2"), STORE_NOTFOUND);
	/* Released: the key is free for a different request. */
	r = rec("c1", "k2", FP_B, 1001);
	assert_int_equal(store_idem_begin(s, &r, 1001, &old), STORE_OK);
	/* Still RUNNING a long time later (its process stopped): never taken
	 * over, its call may have acted; only expiry frees the key. */
	assert_int_equal(store_idem_begin(s, &r, 1001 + 86399, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_RUNNING);
	store_idem_clear(&old);
	assert_int_equal(store_idem_release(s, "c1", "k2"), STORE_OK);
	r = rec("c1", "k2", FP_A, 2000);
	assert_int_equal(store_idem_begin(s, &r, 2000, &old), STORE_OK);
	assert_int_equal(store_idem_finish(s, "c1", "k2", 200, "{}"), STORE_OK);
	assert_int_equal(store_idem_begin(s, &r, 3000, &old), STORE_CONFLICT);
	store_idem_clear(&old);
	/* Another handle (another node) sees it; after expiry it is replaced. */
	s2 = open_store();
	assert_int_equal(store_idem_begin(s2, &r, 3000, &old), STORE_CONFLICT);
	assert_string_equal(old.fingerprint, FP_A);
	store_idem_clear(&old);
	r = rec("c1", "k2", FP_B, 2000 + 86400);
	assert_int_equal(store_idem_begin(s2, &r, 2000 + 86400, &old), STORE_OK);
	store_close(s2);
	store_close(s);
}

static void
bad_arguments_change_nothing(void **state)
{
	struct store *s = open_store();
	struct store_idem r = rec("c1", "k3", "short", 1000), old;

	(void)state;
	assert_int_equal(store_idem_begin(s, &r, 1000, &old), STORE_ERROR);
	r = rec("", "k3", FP_A, 1000);
	assert_int_equal(store_idem_begin(s, &r, 1000, &old), STORE_ERROR);
	r = rec("c1", "", FP_A, 1000);
	assert_int_equal(store_idem_begin(s, &r, 1000, &old), STORE_ERROR);
	assert_int_equal(store_idem_finish(s, "c1", "k3", 200, "{}"), STORE_NOTFOUND);
	r = rec("c1", "k3", FP_A, 1000);
	assert_int_equal(store_idem_begin(s, &r, 1000, &old), STORE_OK);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(claim_finish_replay),
		STORE_TEST(release_expire_never_stale),
		STORE_TEST(bad_arguments_change_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
