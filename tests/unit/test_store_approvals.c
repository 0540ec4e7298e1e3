/*
 * Unit tests for maker-checker approvals in the store (store_approval_*,
 * issue 6), on SQLite and (tests/pgsql) on PostgreSQL: create and read back, the conflict key
 * of pending rows (expired ones free it), guarded transitions (wrong state,
 * expiry, unknown id), exactly one winner among threads and among two
 * handles on one store, listing filters, the generation moving on every
 * change and only then, and argument checks that change nothing.
 */
#include <pthread.h>
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

/* Files a pending approval id at t, expiring at t + 100. */
static int
file(struct store *s, const char *id, const char *tenant, const char *ckey, int64_t t)
{
	struct store_approval a = {
		.id = (char *)id, .tenant_id = (char *)tenant, .kind = "call",
		.maker = "maker-1", .maker_tenant = (char *)tenant,
		.payload = "{\"method\":\"POST\",\"path\":\"/v1/x\",\"body_digest\":\"\"}",
		.reason = "why", .conflict_key = (char *)ckey, .state = STORE_APPROVAL_PENDING,
		.created_at = t, .expires_at = t + 100,
	};

	return store_approval_create(s, &a);
}

static void
create_get(void **state)
{
	struct store *s = open_store();
	struct store_approval a;
	uint64_t g0 = gen(s);

	(void)state;
	assert_int_equal(file(s, "a1", "acme", "k1", 1000), STORE_OK);
	assert_true(gen(s) > g0);
	assert_int_equal(store_approval_get(s, "a1", &a), STORE_OK);
	assert_string_equal(a.tenant_id, "acme");
	assert_string_equal(a.kind, "call");
	assert_string_equal(a.maker, "maker-1");
	assert_string_equal(a.reason, "why");
	assert_string_equal(a.conflict_key, "k1");
	assert_string_equal(a.checker, "");
	assert_string_equal(a.result, "");
	assert_int_equal(a.state, STORE_APPROVAL_PENDING);
	assert_int_equal(a.created_at, 1000);
	assert_int_equal(a.expires_at, 1100);
	assert_int_equal(a.decided_at, 0);
	store_approval_clear(&a);
	assert_int_equal(store_approval_get(s, "nope", &a), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "does not exist"));
	/* The same id again: refused. */
	assert_int_equal(file(s, "a1", "acme", "", 1001), STORE_CONFLICT);
	store_close(s);
}

static void
conflict_key(void **state)
{
	struct store *s = open_store();
	struct store_approval a;
	uint64_t g;

	(void)state;
	assert_int_equal(file(s, "a1", "acme", "k", 1000), STORE_OK);
	g = gen(s);
	assert_int_equal(file(s, "a2", "acme", "k", 1010), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "a1"));
	assert_int_equal(gen(s), g);
	assert_int_equal(store_approval_get(s, "a2", &a), STORE_NOTFOUND);
	/* Empty keys never conflict. */
	assert_int_equal(file(s, "a3", "acme", "", 1010), STORE_OK);
	assert_int_equal(file(s, "a4", "acme", "", 1010), STORE_OK);
	/* Decided: the key is free. */
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_REJECTED, 1, 1020, "checker", 0, NULL), STORE_OK);
	assert_int_equal(file(s, "a5", "acme", "k", 1030), STORE_OK);
	/* Expired (filed at 1030, expires 1130): a filing at 1130 marks it
	 * expired and takes the key. */
	assert_int_equal(file(s, "a6", "acme", "k", 1130), STORE_OK);
	assert_int_equal(store_approval_get(s, "a5", &a), STORE_OK);
	assert_int_equal(a.state, STORE_APPROVAL_EXPIRED);
	store_approval_clear(&a);
	store_close(s);
}

static void
transitions(void **state)
{
	struct store *s = open_store();
	struct store_approval a;
	uint64_t g;

	(void)state;
	assert_int_equal(file(s, "a1", "acme", "", 1000), STORE_OK);
	/* Wrong from-state: nothing changes, the error names the state. */
	g = gen(s);
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_USED, 1, 1010, NULL, 1010, NULL), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "pending"));
	assert_int_equal(gen(s), g);
	/* Expired at 1100: a guarded decision at 1100 fails. */
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 1100, "c", 0, NULL), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "expired"));
	assert_int_equal(store_approval_transition(s, "zz", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 1010, "c", 0, NULL), STORE_NOTFOUND);
	assert_int_equal(gen(s), g);
	/* Approve, then use: checker, decided_at, used_at recorded. */
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 1050, "checker-1", 0, NULL), STORE_OK);
	assert_true(gen(s) > g);
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_USED, 1, 1060, NULL, 1060, NULL), STORE_OK);
	assert_int_equal(store_approval_get(s, "a1", &a), STORE_OK);
	assert_int_equal(a.state, STORE_APPROVAL_USED);
	assert_string_equal(a.checker, "checker-1");
	assert_int_equal(a.decided_at, 1050);
	assert_int_equal(a.used_at, 1060);
	store_approval_clear(&a);
	/* An admin op's outcome: APPROVED -> APPLIED with a result. */
	assert_int_equal(file(s, "a2", "acme", "", 1000), STORE_OK);
	assert_int_equal(store_approval_transition(s, "a2", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 1010, "c", 0, NULL), STORE_OK);
	assert_int_equal(store_approval_transition(s, "a2", STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_APPLIED, 0, 5000, NULL, 5000, "{\"ok\":true}"), STORE_OK);
	assert_int_equal(store_approval_get(s, "a2", &a), STORE_OK);
	assert_int_equal(a.state, STORE_APPROVAL_APPLIED);
	assert_string_equal(a.result, "{\"ok\":true}");
	assert_string_equal(a.checker, "c");
	store_approval_clear(&a);
	store_close(s);
}

/*
 * An admin change's applied mark commits with the change, guarded
 * (store_approval_mark_applied): the first change marks the approval
 * (used_at), a second one under the same mark is rolled back, and a
 * change that fails leaves the mark unset. Recovery told a change made
 * and then undone (a created client deleted) from one never made only
 * by looking at the store, and made it again.
 */
static void
applied_mark_commits_with_the_change(void **state)
{
	struct store *s = open_store();
	struct store_tenant t = { .id = "t-1", .name = "one", .created_at = 1000 };
	struct store_approval a;

	(void)state;
	assert_int_equal(file(s, "a1", "acme", "", 1000), STORE_OK);
	/* Not approved: the change is refused with the mark. */
	assert_int_equal(store_approval_mark_applied(s, "a1", 1020), STORE_OK);
	assert_int_equal(store_tenant_create(s, &t), STORE_SUPERSEDED);
	assert_int_equal(store_approval_unmark(s), 0);
	assert_int_equal(store_tenant_get(s, "t-1", &t), STORE_NOTFOUND);
	t.id = "t-1"; t.name = "one"; t.created_at = 1000;
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 1010, "c", 0, NULL), STORE_OK);
	/* Approved: made and marked together. */
	assert_int_equal(store_approval_mark_applied(s, "a1", 1020), STORE_OK);
	assert_int_equal(store_approval_mark_applied(s, "a1", 1020), STORE_CONFLICT);
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_int_equal(store_approval_unmark(s), 1);
	assert_int_equal(store_approval_get(s, "a1", &a), STORE_OK);
	assert_int_equal(a.state, STORE_APPROVAL_APPROVED);
	assert_int_equal(a.used_at, 1020);
	store_approval_clear(&a);
	/* A second applier's change is rolled back. */
	assert_int_equal(store_approval_mark_applied(s, "a1", 1030), STORE_OK);
	t.id = "t-2";
	assert_int_equal(store_tenant_create(s, &t), STORE_SUPERSEDED);
	assert_non_null(strstr(store_last_error(), STORE_SUPERSEDED_WORDS "approval a1"));
	assert_non_null(strstr(store_last_error(), "made already"));
	assert_int_equal(store_approval_unmark(s), 0);
	assert_int_equal(store_tenant_get(s, "t-2", &t), STORE_NOTFOUND);
	/* Unmarked, writes go on as ever, and the outcome is recorded. */
	t.id = "t-3"; t.name = "three"; t.created_at = 1000;
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_APPLIED, 0, 1040, NULL, 1040, "{}"), STORE_OK);
	store_close(s);
}

struct race {
	struct store	*s;
	const char	*id;
	pthread_barrier_t *b;
	int		 rc;
};

static void *
race_use(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->b);
	r->rc = store_approval_transition(r->s, r->id, STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_USED, 1, 1050, NULL, 1050, NULL);
	return NULL;
}

static void
one_winner(void **state)
{
	enum { N = 16 };
	struct store *s = open_store(), *s2 = open_store();
	struct race r[N];
	pthread_t t[N];
	pthread_barrier_t b;
	int wins = 0;

	(void)state;
	assert_int_equal(file(s, "a1", "acme", "", 1000), STORE_OK);
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 1010, "c", 0, NULL), STORE_OK);
	pthread_barrier_init(&b, NULL, N);
	/* Half the threads on another handle: another process's connection. */
	for (int i = 0; i < N; i++) {
		r[i] = (struct race){ i % 2 ? s2 : s, "a1", &b, -1 };
		assert_int_equal(pthread_create(&t[i], NULL, race_use, &r[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (r[i].rc == STORE_OK)
			wins++;
		else
			assert_int_equal(r[i].rc, STORE_CONFLICT);
	}
	pthread_barrier_destroy(&b);
	assert_int_equal(wins, 1);
	store_close(s2);
	store_close(s);
}

static void
listing(void **state)
{
	struct store *s = open_store();
	struct store_approval *v = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(file(s, "a1", "acme", "", 1000), STORE_OK);
	assert_int_equal(file(s, "a2", "acme", "", 1001), STORE_OK);
	assert_int_equal(file(s, "a3", "globex", "", 1002), STORE_OK);
	assert_int_equal(store_approval_transition(s, "a2", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_REJECTED, 1, 1010, "c", 0, NULL), STORE_OK);
	assert_int_equal(store_approval_list(s, NULL, STORE_APPROVAL_STATE__MAX, 10, &v, &n),
	    STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].id, "a3");	/* newest first */
	assert_string_equal(v[2].id, "a1");
	store_approval_free(v, n);
	assert_int_equal(store_approval_list(s, "acme", STORE_APPROVAL_STATE__MAX, 10, &v, &n),
	    STORE_OK);
	assert_int_equal(n, 2);
	store_approval_free(v, n);
	assert_int_equal(store_approval_list(s, "acme", STORE_APPROVAL_PENDING, 10, &v, &n),
	    STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "a1");
	store_approval_free(v, n);
	assert_int_equal(store_approval_list(s, NULL, STORE_APPROVAL_STATE__MAX, 1, &v, &n),
	    STORE_OK);
	assert_int_equal(n, 1);
	store_approval_free(v, n);
	store_close(s);
}

static void
bad_arguments_change_nothing(void **state)
{
	struct store *s = open_store();
	struct store_approval a = {
		.id = "a1", .tenant_id = "acme", .kind = "call", .maker = "m",
		.maker_tenant = "acme", .payload = "{}", .state = STORE_APPROVAL_APPROVED,
		.created_at = 10, .expires_at = 20,
	};
	struct store_approval *v = NULL;
	size_t n = 0;
	uint64_t g = gen(s);

	(void)state;
	assert_int_equal(store_approval_create(s, &a), STORE_ERROR);	/* not pending */
	a.state = STORE_APPROVAL_PENDING;
	a.expires_at = 10;
	assert_int_equal(store_approval_create(s, &a), STORE_ERROR);	/* expires at once */
	a.expires_at = 20;
	a.maker = "";
	assert_int_equal(store_approval_create(s, &a), STORE_ERROR);	/* no maker */
	assert_int_equal(store_approval_transition(s, "a1", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_PENDING, 1, 0, NULL, 0, NULL), STORE_ERROR);
	assert_int_equal(store_approval_transition(s, "", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 0, NULL, 0, NULL), STORE_ERROR);
	assert_int_equal(store_approval_list(s, NULL, STORE_APPROVAL_STATE__MAX, 0, &v, &n),
	    STORE_ERROR);
	assert_int_equal(store_approval_list(s, NULL, STORE_APPROVAL_STATE__MAX, 10, &v, &n),
	    STORE_OK);
	assert_int_equal(n, 0);
	store_approval_free(v, n);
	assert_int_equal(gen(s), g);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(create_get),
		STORE_TEST(conflict_key),
		STORE_TEST(transitions),
		STORE_TEST(applied_mark_commits_with_the_change),
		STORE_TEST(one_winner),
		STORE_TEST(listing),
		STORE_TEST(bad_arguments_change_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
