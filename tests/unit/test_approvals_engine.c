/*
 * Unit tests for the maker-checker engine (approvals/approvals.h) over a
 * real store (SQLite, and PostgreSQL in tests/pgsql): an approved admin operation is applied exactly once,
 * by the winning decision, even with many threads deciding at once; a
 * failing applier leaves FAILED with its error; a kind without an applier
 * cannot be filed or approved; the rules on makers, checkers, roles and
 * tenants; "call" approvals consumed once and matched on method, path and
 * body digest; expiry as of now; recovery of stuck changes, every one, each
 * applied once however many recoveries run at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "approvals/approvals.h"
#include "config/config.h"
#include "server/context.h"
#include "store_fixture.h"
#include "util/util.h"

static struct config cfg;
static struct gh_ctx ctx;
static _Atomic int applied;

static const struct approval_actor maker = { "maker", "acme", STORE_ROLE_OPERATOR, STORE_ENV_PRODUCTION };
static const struct approval_actor checker = { "checker", "acme", STORE_ROLE_ADMIN, STORE_ENV_PRODUCTION };
static const struct approval_actor checker2 = { "checker2", "acme", STORE_ROLE_ADMIN, STORE_ENV_PRODUCTION };
static const struct approval_actor outsider = { "gx", "globex", STORE_ROLE_ADMIN, STORE_ENV_PRODUCTION };
static const struct approval_actor root = { "root", "platform", STORE_ROLE_ADMIN, STORE_ENV_PRODUCTION };

static int
apply_ok(struct gh_ctx *c, const struct store_approval *a, char **result, char *err,
    size_t errlen)
{
	(void)c;
	(void)err;
	(void)errlen;
	atomic_fetch_add(&applied, 1);
	*result = strdup(strstr(a->payload, "\"n\"") != NULL ? "{\"done\":true}" : "{}");
	return 0;
}

static int
apply_fail(struct gh_ctx *c, const struct store_approval *a, char **result, char *err,
    size_t errlen)
{
	(void)c;
	(void)a;
	(void)result;
	snprintf(err, errlen, "client x does not exist");
	return -1;
}

/* Makes its change (a tenant, committing the approval's applied mark
 * with it), then fails, as an applier whose read back of the change fails
 * on a store error does. */
static int
apply_then_fail(struct gh_ctx *c, const struct store_approval *a, char **result, char *err,
    size_t errlen)
{
	struct store_tenant t = { "made-then-failed", "made", 1 };

	(void)a;
	(void)result;
	if (store_tenant_create(c->store, &t) != STORE_OK)
		return snprintf(err, errlen, "store: %s", store_last_error()), -1;
	snprintf(err, errlen, "store: cannot read the change back");
	return -1;
}

static int
setup(void **state)
{
	char err[256];

	if (fixture_setup_store(state) != 0)
		return -1;
	config_defaults(&cfg);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	if (store_open(fixture_url, &ctx.store, err, sizeof(err)) != STORE_OK ||
	    store_audit_set_key(ctx.store, fixture_audit_key, NULL) != STORE_OK)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		static const char *const ids[] = { "acme", "globex", "platform" };
		struct store_tenant t = { (char *)ids[i], (char *)ids[i], 1 };
		if (store_tenant_create(ctx.store, &t) != STORE_OK)
			return -1;
	}
	atomic_store(&applied, 0);
	return 0;
}

static int
teardown(void **state)
{
	store_close(ctx.store);
	config_clear(&cfg);
	return fixture_teardown(state);
}

static void
file_op(const char *kind, const char *ckey, char id[APPROVAL_ID_LEN + 1])
{
	struct approval_request req = { "acme", kind, "{\"n\":1}", "because", ckey };
	struct store_approval a;
	char err[256] = "";

	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 0);
	assert_int_equal(a.state, STORE_APPROVAL_PENDING);
	assert_int_equal(a.expires_at - a.created_at, cfg.approval_ttl);
	snprintf(id, APPROVAL_ID_LEN + 1, "%s", a.id);
	store_approval_clear(&a);
}

static void
registry(void **state)
{
	(void)state;
	assert_int_equal(approvals_register("test.ok", apply_ok), 0);
	assert_int_equal(approvals_register("test.ok", apply_ok), -1);	/* twice */
	assert_int_equal(approvals_register("call", apply_ok), -1);	/* reserved */
	assert_int_equal(approvals_register("Bad Kind", apply_ok), -1);
	assert_int_equal(approvals_register("test.fail", apply_fail), 0);
	assert_ptr_equal(approvals_applier("test.ok"), apply_ok);
	assert_null(approvals_applier("test.none"));
}

struct race {
	const struct approval_actor *who;
	const char *id;
	pthread_barrier_t *b;
	int rc;
};

static void *
race_decide(void *arg)
{
	struct race *r = arg;
	struct store_approval a;
	char err[256];

	pthread_barrier_wait(r->b);
	r->rc = approvals_decide(&ctx, r->who, r->id, 1, &a, err, sizeof(err));
	if (r->rc == 0)
		store_approval_clear(&a);
	return NULL;
}

static void
applied_exactly_once(void **state)
{
	enum { N = 12 };
	struct race r[N];
	pthread_t t[N];
	pthread_barrier_t b;
	struct store_approval a;
	char id[APPROVAL_ID_LEN + 1], err[256];
	int wins = 0;

	(void)state;
	file_op("test.ok", "client:c1", id);
	pthread_barrier_init(&b, NULL, N);
	for (int i = 0; i < N; i++) {
		r[i] = (struct race){ i % 2 ? &checker : &checker2, id, &b, -1 };
		assert_int_equal(pthread_create(&t[i], NULL, race_decide, &r[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (r[i].rc == 0)
			wins++;
		else
			assert_int_equal(r[i].rc, 409);
	}
	pthread_barrier_destroy(&b);
	assert_int_equal(wins, 1);
	assert_int_equal(atomic_load(&applied), 1);
	assert_int_equal(approvals_get(&ctx, &checker, id, &a, err, sizeof(err)), 0);
	assert_int_equal(a.state, STORE_APPROVAL_APPLIED);
	assert_string_equal(a.result, "{\"done\":true}");
	store_approval_clear(&a);
	/* The conflict key is free once decided. */
	file_op("test.ok", "client:c1", id);
}

static void
failing_applier_and_missing_kind(void **state)
{
	struct approval_request req = { "acme", "test.none", "{}", "", "" };
	struct store_approval a;
	char id[APPROVAL_ID_LEN + 1], err[256];

	(void)state;
	file_op("test.fail", "", id);
	assert_int_equal(approvals_decide(&ctx, &checker, id, 1, &a, err, sizeof(err)), 0);
	assert_int_equal(a.state, STORE_APPROVAL_FAILED);
	assert_non_null(strstr(a.result, "client x does not exist"));
	store_approval_clear(&a);
	/* No applier: cannot be filed. */
	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 400);
	/* A bad payload: refused. */
	req.kind = "test.ok";
	req.payload = "[1]";
	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 400);
	req.payload = "{\"a\":1,\"a\":2}";
	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 400);
	/* A conflicting pending request: 409. */
	req.payload = "{}";
	req.conflict_key = "k";
	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 0);
	store_approval_clear(&a);
	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 409);
}

/*
 * An applier that made its change and then failed (its read back of it)
 * was recorded FAILED: the change in effect (a client made, with the
 * secret shown to the maker at filing working) under a record saying it
 * never was, and recovery never looks at a FAILED one. Its mark says it
 * was made: APPLIED, with the error.
 */
static void
a_change_made_then_failed_is_recorded_applied(void **state)
{
	struct store_approval a;
	struct store_tenant t;
	char id[APPROVAL_ID_LEN + 1], err[256];

	(void)state;
	assert_int_equal(approvals_register("test.madefail", apply_then_fail), 0);
	file_op("test.madefail", "", id);
	assert_int_equal(approvals_decide(&ctx, &checker, id, 1, &a, err, sizeof(err)), 0);
	assert_int_equal(store_tenant_get(ctx.store, "made-then-failed", &t), STORE_OK);
	store_tenant_clear(&t);
	assert_int_equal(a.state, STORE_APPROVAL_APPLIED);
	assert_non_null(strstr(a.result, "cannot read the change back"));
	store_approval_clear(&a);
}

static void
rules(void **state)
{
	struct approval_request req = { "acme", "test.ok", "{}", "", "" };
	struct approval_actor viewer = { "v", "acme", STORE_ROLE_VIEWER, STORE_ENV_PRODUCTION };
	struct approval_actor self = { "maker", "acme", STORE_ROLE_ADMIN, STORE_ENV_PRODUCTION };
	/* A sandbox admin: made without anyone's approval, so decides nothing. */
	struct approval_actor sandbox = { "sbx", "acme", STORE_ROLE_ADMIN, STORE_ENV_SANDBOX };
	struct store_approval a;
	char id[APPROVAL_ID_LEN + 1], err[256];

	(void)state;
	assert_int_equal(approvals_file(&ctx, &viewer, &req, &a, err, sizeof(err)), 403);
	req.tenant_id = "globex";
	assert_int_equal(approvals_file(&ctx, &maker, &req, &a, err, sizeof(err)), 403);
	req.tenant_id = "nosuch";
	assert_int_equal(approvals_file(&ctx, &root, &req, &a, err, sizeof(err)), 404);
	file_op("test.ok", "", id);
	assert_int_equal(approvals_decide(&ctx, &self, id, 1, &a, err, sizeof(err)), 403);
	assert_non_null(strstr(err, "own"));
	assert_int_equal(approvals_decide(&ctx, &viewer, id, 1, &a, err, sizeof(err)), 403);
	assert_int_equal(approvals_decide(&ctx, &sandbox, id, 1, &a, err, sizeof(err)), 403);
	assert_non_null(strstr(err, "production"));
	assert_int_equal(approvals_decide(&ctx, &outsider, id, 1, &a, err, sizeof(err)), 404);
	assert_int_equal(approvals_decide(&ctx, &checker, "0123", 1, &a, err, sizeof(err)), 400);
	assert_int_equal(approvals_decide(&ctx, &checker, "00000000000000000000000000000000", 1,
	    &a, err, sizeof(err)), 404);
	assert_int_equal(atomic_load(&applied), 0);
	/* The platform tenant's admin decides for any tenant. */
	assert_int_equal(approvals_decide(&ctx, &root, id, 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.state, STORE_APPROVAL_REJECTED);
	store_approval_clear(&a);
	assert_int_equal(approvals_decide(&ctx, &checker, id, 1, &a, err, sizeof(err)), 409);
	assert_non_null(strstr(err, "rejected"));
	assert_int_equal(atomic_load(&applied), 0);
}

/* Targets no call approval may be filed for. */
static const char *const bad_targets[] = {
	"/v1/x#frag", "/v1/x?a#frag", "/v1/x?a b", "/v1/x?a=%zz", "/v1/x?a=%4",
	"/v1/x?a=%00", "/v1/x?a=\x80", "/v1/x?a=\\", "/v1/x?a=\"", "v1/x?a",
};

/* The query binds (the review's bypass: an approval for DELETE
 * /v1/cards/42 let "/v1/cards/42?cascade=all&also=/v1/cards/43" pass). */
static void
calls_with_query(void **state)
{
	struct store_approval a;
	char plain[APPROVAL_ID_LEN + 1], queried[APPROVAL_ID_LEN + 1], err[256];
	char big[APPROVAL_PATH_MAX + APPROVAL_QUERY_MAX + 16];

	(void)state;
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "DELETE", "/v1/cards/42",
	    NULL, NULL, &a, err, sizeof(err)), 0);
	snprintf(plain, sizeof(plain), "%s", a.id);
	store_approval_clear(&a);
	/* Another query is another call: no conflict with the pending one. */
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "DELETE",
	    "/v1/%63ards/42?cascade=all&also=%2fv1/cards/43?x", NULL, NULL, &a, err,
	    sizeof(err)), 0);
	/* The path normalized, the query kept as given. */
	assert_non_null(strstr(a.payload,
	    "\"path\":\"/v1/cards/42?cascade=all&also=%2fv1/cards/43?x\""));
	snprintf(queried, sizeof(queried), "%s", a.id);
	store_approval_clear(&a);
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "DELETE",
	    "/v1/cards/42?cascade=all&also=%2fv1/cards/43?x", NULL, NULL, &a, err,
	    sizeof(err)), 409);
	assert_int_equal(approvals_decide(&ctx, &checker, plain, 1, &a, err, sizeof(err)), 0);
	store_approval_clear(&a);
	assert_int_equal(approvals_decide(&ctx, &checker, queried, 1, &a, err, sizeof(err)), 0);
	store_approval_clear(&a);
	/* Filed without a query: a call with any query, even an empty one,
	 * or with a fragment, is another call. */
	assert_int_equal(approvals_consume(&ctx, plain, &maker, "DELETE", "/v1/cards/42",
	    "?cascade=all&also=/v1/cards/43", NULL, NULL, err, sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, plain, &maker, "DELETE", "/v1/cards/42", "?",
	    NULL, NULL, err, sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, plain, &maker, "DELETE", "/v1/cards/42", "#a",
	    NULL, NULL, err, sizeof(err)), 403);
	/* Filed with one: only that query, byte for byte. */
	assert_int_equal(approvals_consume(&ctx, queried, &maker, "DELETE", "/v1/cards/42", "",
	    NULL, NULL, err, sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, queried, &maker, "DELETE", "/v1/cards/42",
	    "?cascade=all&also=%2Fv1/cards/43?x", NULL, NULL, err, sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, queried, &maker, "DELETE", "/v1/cards/42",
	    "?cascade=all&also=%2fv1/cards/43?x&y", NULL, NULL, err, sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, queried, &maker, "DELETE", "/v1/cards/42/",
	    "?cascade=all&also=%2fv1/cards/43?x", NULL, NULL, err, sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, queried, &maker, "DELETE", "/v1/cards/42",
	    "?cascade=all&also=%2fv1/cards/43?x", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(approvals_consume(&ctx, plain, &maker, "DELETE", "/v1/cards/42", "",
	    NULL, NULL, err, sizeof(err)), 0);
	/* Bounds: the query at most APPROVAL_QUERY_MAX bytes. */
	memset(big, 'q', sizeof(big));
	memcpy(big, "/v1/q?", 6);
	big[6 + APPROVAL_QUERY_MAX] = '\0';
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "GET", big, NULL, NULL, &a,
	    err, sizeof(err)), 0);
	store_approval_clear(&a);
	big[6 + APPROVAL_QUERY_MAX] = 'q';
	big[7 + APPROVAL_QUERY_MAX] = '\0';
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "GET", big, NULL, NULL, &a,
	    err, sizeof(err)), 400);
}

static void
calls(void **state)
{
	static const char dg[] = "sha256:"
	    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	static const char other[] = "sha256:"
	    "0000000000000000000000000000000000000000000000000000000000000000";
	struct store_approval a;
	char id[APPROVAL_ID_LEN + 1], err[256], bound[APPROVALS_DIGEST_MAX];

	(void)state;
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "post", "/v1/%70ay", dg, "r",
	    &a, err, sizeof(err)), 0);
	/* Method upper-cased, path normalized as the gate does. */
	assert_non_null(strstr(a.payload, "\"method\":\"POST\""));
	assert_non_null(strstr(a.payload, "\"path\":\"/v1/pay\""));
	snprintf(id, sizeof(id), "%s", a.id);
	store_approval_clear(&a);
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "POST", "/v1/pay", dg, "",
	    &a, err, sizeof(err)), 409);	/* the same call is pending */
	assert_int_equal(approvals_consume(&ctx, id, &maker, "POST", "/v1/pay", "", dg, NULL, err,
	    sizeof(err)), 409);		/* pending */
	assert_int_equal(approvals_decide(&ctx, &checker, id, 1, &a, err, sizeof(err)), 0);
	assert_int_equal(a.state, STORE_APPROVAL_APPROVED);	/* a call is not applied */
	store_approval_clear(&a);
	assert_int_equal(approvals_consume(&ctx, id, &outsider, "POST", "/v1/pay", "", dg, NULL, err,
	    sizeof(err)), 404);
	assert_int_equal(approvals_consume(&ctx, id, &maker, "GET", "/v1/pay", "", dg, NULL, err,
	    sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, id, &maker, "POST", "/v1/pay", "", NULL, NULL, err,
	    sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, id, &maker, "POST", "/v1/pay", "", other, NULL, err,
	    sizeof(err)), 403);
	assert_int_equal(approvals_consume(&ctx, id, &maker, "POST", "/v1/pay", "", "sha256:zz", NULL, err,
	    sizeof(err)), 400);
	assert_int_equal(approvals_consume(&ctx, id, &maker, "POST", "/v1/pay", "", dg, bound, err,
	    sizeof(err)), 0);
	assert_string_equal(bound, dg);		/* for the upstream to check */
	assert_int_equal(approvals_consume(&ctx, id, &maker, "POST", "/v1/pay", "", dg, NULL, err,
	    sizeof(err)), 409);
	assert_non_null(strstr(err, "used"));
	/* Bad calls. */
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "BREW", "/v1/x", NULL, NULL,
	    &a, err, sizeof(err)), 400);
	for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
		if (approvals_file_call(&ctx, &maker, "acme", "GET", bad_targets[i], NULL, NULL,
		    &a, err, sizeof(err)) != 400) {
			fprintf(stderr, "%s filed\n", bad_targets[i]);
			fail();
		}
		assert_non_null(strstr(err, "path: "));
	}
	assert_int_equal(approvals_file_call(&ctx, &maker, "acme", "GET", "/v1/../x", NULL, NULL,
	    &a, err, sizeof(err)), 400);
	assert_int_equal(approvals_file_call(&ctx, &maker, "a b", "GET", "/v1/x", NULL, NULL,
	    &a, err, sizeof(err)), 400);
}

/* An approval of kind approved at decided, whose decider stopped before
 * applying it (the row as it then is). */
static void
stuck(const char *id, const char *kind, int64_t filed, int64_t decided)
{
	struct store_approval a = {
		.id = (char *)id, .tenant_id = (char *)"acme", .kind = (char *)kind,
		.maker = (char *)"maker", .maker_tenant = (char *)"acme",
		.payload = (char *)"{\"n\":1}", .state = STORE_APPROVAL_PENDING,
		.created_at = filed, .expires_at = filed + 86400,
	};

	assert_int_equal(store_approval_create(ctx.store, &a), STORE_OK);
	assert_int_equal(store_approval_transition(ctx.store, id, STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, decided, "checker", 0, NULL), STORE_OK);
}

static void
assert_state(const char *id, enum store_approval_state want)
{
	struct store_approval a;

	assert_int_equal(store_approval_get(ctx.store, id, &a), STORE_OK);
	assert_int_equal(a.state, want);
	store_approval_clear(&a);
}

/* Regression: recovery read the newest 1000 approved rows, and approved
 * "call" approvals stay stored approved (used or not, expired or not):
 * behind 1000 newer ones a stuck admin change was never finished. */
static void
recovery_sees_every_stuck_change(void **state)
{
	int64_t now = clock_now();
	char id[APPROVAL_ID_LEN + 1];
	int recovered = -1;

	(void)state;
	stuck("00000000000000000000000000000001", "test.ok", now - 7200, now - 7000);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "%032x", 0x100 + i);
		stuck(id, "call", now - 3600, now - 3500);
	}
	assert_int_equal(approvals_recover(&ctx, now, &recovered), 0);
	assert_int_equal(recovered, 1);
	assert_int_equal(atomic_load(&applied), 1);
	assert_state("00000000000000000000000000000001", STORE_APPROVAL_APPLIED);
	/* Once: a second run finds nothing. */
	assert_int_equal(approvals_recover(&ctx, now + 60, &recovered), 0);
	assert_int_equal(recovered, 0);
	assert_int_equal(atomic_load(&applied), 1);
}

static int
apply_slow(struct gh_ctx *c, const struct store_approval *a, char **result, char *err,
    size_t errlen)
{
	usleep(300 * 1000);
	return apply_ok(c, a, result, err, errlen);
}

struct recoverer {
	pthread_barrier_t	*go;
	int64_t			 now;
	int			 rc, recovered;
};

static void *
recover_main(void *arg)
{
	struct recoverer *r = arg;

	pthread_barrier_wait(r->go);
	r->rc = approvals_recover(&ctx, r->now, &r->recovered);
	return NULL;
}

/* Regression: two recoveries at once (two nodes, each every half minute)
 * both applied a stuck change, the slower one's outcome refused only after
 * its applier had run. Now one claims it, and one applies it. */
static void
concurrent_recoveries_apply_once(void **state)
{
	enum { N = 4 };
	struct recoverer r[N];
	pthread_t t[N];
	pthread_barrier_t go;
	int64_t now = clock_now();
	int total = 0;

	(void)state;
	if (approvals_applier("test.slow") == NULL)
		assert_int_equal(approvals_register("test.slow", apply_slow), 0);
	stuck("00000000000000000000000000000002", "test.slow", now - 7200, now - 7000);
	pthread_barrier_init(&go, NULL, N);
	for (int i = 0; i < N; i++) {
		r[i] = (struct recoverer){ &go, now, -1, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, recover_main, &r[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].rc, 0);
		total += r[i].recovered;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(total, 1);
	assert_int_equal(atomic_load(&applied), 1);
	assert_state("00000000000000000000000000000002", STORE_APPROVAL_APPLIED);
}

static void
expiry_as_of_now(void **state)
{
	struct store_approval a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.state = STORE_APPROVAL_APPROVED;
	a.expires_at = 100;
	assert_int_equal(approvals_state_now(&a, 99), STORE_APPROVAL_APPROVED);
	assert_int_equal(approvals_state_now(&a, 100), STORE_APPROVAL_EXPIRED);
	a.state = STORE_APPROVAL_USED;
	assert_int_equal(approvals_state_now(&a, 1000), STORE_APPROVAL_USED);
	assert_true(approvals_id_ok("0123456789abcdef0123456789abcdef"));
	assert_false(approvals_id_ok("0123456789ABCDEF0123456789abcdef"));
	assert_false(approvals_id_ok("0123"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registry),
		cmocka_unit_test_setup_teardown(applied_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(failing_applier_and_missing_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(a_change_made_then_failed_is_recorded_applied, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(rules, setup, teardown),
		cmocka_unit_test_setup_teardown(calls, setup, teardown),
		cmocka_unit_test_setup_teardown(calls_with_query, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_sees_every_stuck_change, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_recoveries_apply_once, setup, teardown),
		cmocka_unit_test(expiry_as_of_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
