/*
 * Unit tests for the idempotency records (store_idem_*, issue 6), on SQLite
 * and (tests/pgsql) on PostgreSQL: begin claims a key once (a second begin sees the running
 * record), finish keeps the answer, release frees the key, keys are scoped
 * per client, expired records are replaced and stale ones that never acted
 * taken over, another handle (a
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
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_OK);
	/* A retry while running sees the running record. */
	assert_int_equal(store_idem_begin(s, &r, 1001, 701, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_RUNNING);
	assert_string_equal(old.fingerprint, FP_A);
	store_idem_clear(&old);
	/* Only the call that began it (at 1000) finishes it. */
	assert_int_equal(store_idem_finish(s, "c1", "k1", 999, 201, "{}"), STORE_NOTFOUND);
	assert_int_equal(store_idem_finish(s, "c1", "k1", 1000, 201, "{\"x\":1}"), STORE_OK);
	/* Finished once: a second finish finds no running record. */
	assert_int_equal(store_idem_finish(s, "c1", "k1", 1000, 500, "{}"), STORE_NOTFOUND);
	/* Done: never taken over. */
	assert_int_equal(store_idem_begin(s, &r, 1002, 1002, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_DONE);
	assert_int_equal(old.status, 201);
	assert_string_equal(old.body, "{\"x\":1}");
	assert_int_equal(old.expires_at, 1000 + 86400);
	store_idem_clear(&old);
	/* Another client's same key is its own. */
	r = rec("c2", "k1", FP_B, 1003);
	assert_int_equal(store_idem_begin(s, &r, 1003, 703, &old), STORE_OK);
	g1 = gen(s);
	assert_true(g0 == g1);
	store_close(s);
}

static void
release_expire(void **state)
{
	struct store *s = open_store(), *s2;
	struct store_idem r = rec("c1", "k2", FP_A, 1000), old;

	(void)state;
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_OK);
	assert_int_equal(store_idem_release(s, "c1", "k2", 1000), STORE_OK);
	assert_int_equal(store_idem_release(s, "c1", "k2", 1000), STORE_NOTFOUND);
	/* Released: the key is free for a different request. */
	r = rec("c1", "k2", FP_B, 1001);
	assert_int_equal(store_idem_begin(s, &r, 1001, 701, &old), STORE_OK);
	assert_int_equal(store_idem_release(s, "c1", "k2", 1001), STORE_OK);
	r = rec("c1", "k2", FP_A, 2000);
	assert_int_equal(store_idem_begin(s, &r, 2000, 1700, &old), STORE_OK);
	assert_int_equal(store_idem_finish(s, "c1", "k2", 2000, 200, "{}"), STORE_OK);
	assert_int_equal(store_idem_begin(s, &r, 3000, 2700, &old), STORE_CONFLICT);
	store_idem_clear(&old);
	/* Another handle (another node) sees it; after expiry it is replaced. */
	s2 = open_store();
	assert_int_equal(store_idem_begin(s2, &r, 3000, 2700, &old), STORE_CONFLICT);
	assert_string_equal(old.fingerprint, FP_A);
	store_idem_clear(&old);
	r = rec("c1", "k2", FP_B, 2000 + 86400);
	assert_int_equal(store_idem_begin(s2, &r, 2000 + 86400, 2000 + 86100, &old), STORE_OK);
	store_close(s2);
	store_close(s);
}

/*
 * A call whose process stopped before it changed anything left its key
 * RUNNING, and every retry got 409 until the key expired (24 h). Its
 * first change marks the record ACTED in that change's transaction
 * (store_idem_mark_acted), so a stale RUNNING record never acted and a
 * retry of the same request takes it over; an ACTED one, or another
 * request's, is never taken over; and the first call, should it still
 * run, can no longer act nor finish the retry's record.
 */
static void
a_call_that_never_acted_is_taken_over(void **state)
{
	struct store *s = open_store(), *s2 = open_store();
	struct store_idem r = rec("c1", "k4", FP_A, 1000), old;
	struct store_tenant t = { .id = "t-late", .name = "late", .created_at = 1000 };

	(void)state;
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_OK);
	/* Not stale yet: 409 as before. */
	r = rec("c1", "k4", FP_A, 1299);
	assert_int_equal(store_idem_begin(s2, &r, 1299, 999, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_RUNNING);
	store_idem_clear(&old);
	/* Stale, but another request under the key: not its to take. */
	r = rec("c1", "k4", FP_B, 1301);
	assert_int_equal(store_idem_begin(s2, &r, 1301, 1001, &old), STORE_CONFLICT);
	store_idem_clear(&old);
	/* Stale, the same request: taken over (another node), once. */
	r = rec("c1", "k4", FP_A, 1301);
	assert_int_equal(store_idem_begin(s2, &r, 1301, 1001, &old), STORE_OK);
	r = rec("c1", "k4", FP_A, 1302);
	assert_int_equal(store_idem_begin(s, &r, 1302, 1002, &old), STORE_CONFLICT);
	assert_int_equal(old.created_at, 1301);
	store_idem_clear(&old);
	/* The first call, still running: its change is refused, its answer
	 * not kept over the retry's record. */
	assert_int_equal(store_idem_mark_acted(s, "c1", "k4", 1000), STORE_OK);
	assert_int_equal(store_tenant_create(s, &t), STORE_SUPERSEDED);
	assert_non_null(strstr(store_last_error(), STORE_SUPERSEDED_WORDS "a retry"));
	assert_non_null(strstr(store_last_error(), "took its key over"));
	assert_int_equal(store_idem_unmark(s), 0);
	assert_int_equal(store_tenant_get(s, "t-late", &t), STORE_NOTFOUND);
	assert_int_equal(store_idem_finish(s, "c1", "k4", 1000, 201, "{}"), STORE_NOTFOUND);
	/* The retry acts: its record is ACTED, never taken over. */
	t.id = "t-late"; t.name = "late"; t.created_at = 1000;
	assert_int_equal(store_idem_mark_acted(s2, "c1", "k4", 1301), STORE_OK);
	assert_int_equal(store_idem_mark_acted(s2, "c1", "k4", 1301), STORE_CONFLICT);
	assert_int_equal(store_tenant_create(s2, &t), STORE_OK);
	assert_int_equal(store_idem_unmark(s2), 1);
	r = rec("c1", "k4", FP_A, 1301 + 86399);
	assert_int_equal(store_idem_begin(s, &r, 1301 + 86399, 1301 + 86099, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_ACTED);
	store_idem_clear(&old);
	/* And its answer is kept. */
	assert_int_equal(store_idem_finish(s2, "c1", "k4", 1301, 201, "{\"t\":1}"), STORE_OK);
	assert_int_equal(store_idem_begin(s, &r, 1400, 1100, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_DONE);
	assert_string_equal(old.body, "{\"t\":1}");
	store_idem_clear(&old);
	store_close(s2);
	store_close(s);
}

/*
 * A call that acted and then answered 5xx released its key as one that
 * never acted would, and its retry ran it again: a second client, a
 * second secret. Release drops a RUNNING record only; an ACTED one stays,
 * and a retry sees it.
 */
static void
an_acted_record_is_not_released(void **state)
{
	struct store *s = open_store();
	struct store_idem r = rec("c1", "k5", FP_A, 1000), old;
	struct store_tenant t = { .id = "t-acted", .name = "acted", .created_at = 1000 };

	(void)state;
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_OK);
	assert_int_equal(store_idem_mark_acted(s, "c1", "k5", 1000), STORE_OK);
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_int_equal(store_idem_unmark(s), 1);
	assert_int_equal(store_idem_release(s, "c1", "k5", 1000), STORE_NOTFOUND);
	r = rec("c1", "k5", FP_A, 1001);
	assert_int_equal(store_idem_begin(s, &r, 1001, 701, &old), STORE_CONFLICT);
	assert_int_equal(old.state, STORE_IDEM_ACTED);
	store_idem_clear(&old);
	store_close(s);
}

static void
bad_arguments_change_nothing(void **state)
{
	struct store *s = open_store();
	struct store_idem r = rec("c1", "k3", "short", 1000), old;

	(void)state;
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_ERROR);
	r = rec("", "k3", FP_A, 1000);
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_ERROR);
	r = rec("c1", "", FP_A, 1000);
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_ERROR);
	assert_int_equal(store_idem_finish(s, "c1", "k3", 1000, 200, "{}"), STORE_NOTFOUND);
	r = rec("c1", "k3", FP_A, 1000);
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_OK);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(claim_finish_replay),
		STORE_TEST(release_expire),
		STORE_TEST(a_call_that_never_acted_is_taken_over),
		STORE_TEST(an_acted_record_is_not_released),
		STORE_TEST(bad_arguments_change_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
