/*
 * Unit tests for the store over its PostgreSQL backend, against the private
 * server tests/lib/pg.py starts (ctest runs this program through
 * "pg.py run", which sets GATEHOUSE_TEST_PG to a fresh database's URL; each
 * test starts from an empty schema). The behaviour every backend shares
 * (entities, tokens, the generation across handles, the group commit, the
 * bounded queue) is the conformance suite (tests/store/store_conformance.c),
 * run here as it is against SQLite; this file adds what is PostgreSQL's
 * own: URL parameters and the one-line errors for a malformed URL, an
 * unreachable server and wrong credentials; two handles migrating at once
 * (the advisory lock); connections killed by the server coming back by
 * themselves; the lockout locks, failure counters, issuance totals,
 * idempotency records, approvals and audit chain shared by nodes; and text
 * that is not UTF-8.
 */
#include <pthread.h>
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

#include "wall_step.h"
#include <libpq-fe.h>

#include "store_conformance.h"
#include "store_fixture.h"
/* The pool's own wait (pool_waits_on_the_monotonic_clock). */
#include "store/pgsql_internal.h"
#include "store/store_internal.h"

/* Its wall clock is stepped by wall_ahead_s (wall_step.h). */

/* How long a change may take to reach another handle (NOTIFY is prompt;
 * the contract is "within one second"). */
#define GEN_WAIT_MS	2000

/* A raw connection of the test's own (what another node or psql sees). */
static PGconn *
raw(void)
{
	PGconn *c = PQconnectdb(fixture_url);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("raw connect: %s", PQerrorMessage(c));
	return c;
}

static void
raw_exec(const char *sql)
{
	PGconn *c = raw();
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static int
teardown(void **state)
{
	(void)state;
	return 0;
}

static int64_t
count_rows(const char *sql)
{
	PGconn *c = raw();
	PGresult *r = PQexec(c, sql);
	int64_t n = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return n;
}

/* fixture_url with its password replaced, or a parameter added. */
static void
url_with(char *out, size_t len, const char *from, const char *to)
{
	const char *p = strstr(fixture_url, from);

	assert_non_null(p);
	snprintf(out, len, "%.*s%s%s", (int)(p - fixture_url), fixture_url, to, p + strlen(from));
}

static void
url_param(char *out, size_t len, const char *param)
{
	snprintf(out, len, "%s%s%s", fixture_url, strchr(fixture_url, '?') ? "&" : "?", param);
}

/* An exclusive lock on the tokens table, which the writer's commit waits
 * for. */
static void *
hold_writes(void)
{
	PGconn *c = raw();
	PGresult *r = PQexec(c, "BEGIN");

	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	r = PQexec(c, "LOCK TABLE tokens IN EXCLUSIVE MODE");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	return c;
}

static void
release_writes(void *held)
{
	PGconn *c = held;
	PGresult *r = PQexec(c, "COMMIT");

	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
}

static const char *const unguard_audit[] = {
	"DROP TRIGGER audit_append_only ON audit",
	"DROP TRIGGER audit_key_written_once ON audit_key",
	NULL
};

static const struct conformance_backend pgsql_backend = {
	"postgresql", fixture_setup_pg, teardown, count_rows, raw_exec, hold_writes, release_writes,
	GEN_WAIT_MS, "'\\x%s'::bytea", unguard_audit
};

/* -- open, URL, errors, migrations ---------------------------------------------- */

static void
open_and_schema(void **state)
{
	struct store *s;
	int cur = -1, latest = -1;
	char u[1200];

	(void)state;
	s = open_store();
	assert_string_equal(store_backend(s), "postgresql");
	assert_int_equal(store_schema_version(s, &cur, &latest), STORE_OK);
	assert_true(latest >= 6);
	assert_int_equal(cur, latest);
	store_close(s);
	/* Our parameters are taken out before libpq sees the URL. */
	url_param(u, sizeof(u), "pool_size=2&pool_timeout_ms=500&resync_ms=100&connect_timeout=3");
	{
		struct store *b = NULL;
		char err[256] = "";
		assert_int_equal(store_open(u, &b, err, sizeof(err)), STORE_OK);
		make_tenant(b, "t-params");
		store_close(b);
	}
	assert_int_equal(count_rows("SELECT count(*) FROM tenants"), 1);
	/* One row per migration, each applied once, on a reopen too. */
	s = open_store();
	store_close(s);
	assert_int_equal(count_rows("SELECT count(*) FROM schema_version"), latest);
}

static void
open_refuses_bad_targets(void **state)
{
	struct store *s = NULL;
	char err[256], u[1200];
	time_t t0;

	(void)state;
	/* Malformed: libpq's reason, one line (a bad port is found when
	 * connecting, an unknown parameter before). */
	assert_int_not_equal(store_open("postgresql://h:notaport/db", &s, err, sizeof(err)),
	    STORE_OK);
	assert_null(s);
	assert_non_null(strstr(err, "invalid integer value \"notaport\" for connection option \"port\""));
	assert_null(strchr(err, '\n'));
	assert_int_not_equal(store_open("postgresql://u:sekrit@h/db?nosuch=1", &s, err,
	    sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "malformed database URL"));
	assert_null(strstr(err, "sekrit"));
	/* Ours, out of range. */
	url_param(u, sizeof(u), "pool_size=0");
	assert_int_not_equal(store_open(u, &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "pool_size must be an integer from 1 to 64"));
	url_param(u, sizeof(u), "pool_timeout_ms=x");
	assert_int_not_equal(store_open(u, &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "pool_timeout_ms"));
	/* Unreachable: fast and clear. */
	t0 = time(NULL);
	assert_int_not_equal(store_open("postgresql://u:p@127.0.0.1:1/gh", &s, err, sizeof(err)),
	    STORE_OK);
	assert_true(time(NULL) - t0 < 5);
	assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
	assert_null(strchr(err, '\n'));
	assert_null(strstr(err, ":p@"));
	/* Wrong password, unknown database. */
	{
		const char *at = strchr(strstr(fixture_url, "://") + 3, '@');
		const char *colon = strchr(strstr(fixture_url, "://") + 3, ':');
		char pw[128];
		assert_non_null(at);
		snprintf(pw, sizeof(pw), "%.*s", (int)(at - colon), colon);
		url_with(u, sizeof(u), pw, ":wrong-password");
	}
	assert_int_not_equal(store_open(u, &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "password authentication failed"));
	assert_null(strstr(err, "wrong-password"));
	url_with(u, sizeof(u), strrchr(fixture_url, '/'), "/no_such_database");
	assert_int_not_equal(store_open(u, &s, err, sizeof(err)), STORE_OK);
	assert_non_null(strstr(err, "no_such_database"));
	assert_null(s);
}

static void *
open_close(void *arg)
{
	struct store *s = NULL;
	char err[256];

	*(int *)arg = store_open(fixture_url, &s, err, sizeof(err));
	store_close(s);
	return NULL;
}

/* Four nodes starting at once on an empty database: one migrates, the
 * others wait on the advisory lock and find nothing to do. */
static void
concurrent_migrations(void **state)
{
	pthread_t th[4];
	int rc[4];
	int cur, latest;
	struct store *s;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, open_close, &rc[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rc[i], STORE_OK);
	}
	s = open_store();
	assert_int_equal(store_schema_version(s, &cur, &latest), STORE_OK);
	store_close(s);
	assert_int_equal(count_rows("SELECT count(*) FROM schema_version"), latest);
	assert_int_equal(count_rows("SELECT count(DISTINCT version) FROM schema_version"), latest);
}


/* The server cuts every gatehouse connection (a restart, a failover): the
 * next calls reconnect by themselves. */
static void
connections_come_back(void **state)
{
	struct store *s = open_store();
	struct store_tenant *all = NULL;
	size_t n = 0;
	int ok = 0;
	uint64_t g;

	(void)state;
	make_tenant(s, "acme");
	g = gen(s);
	raw_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE application_name = 'gatehouse' AND pid <> pg_backend_pid()");
	usleep(100000);
	for (int i = 0; i < 20 && !ok; i++) {
		if (store_tenant_list(s, &all, &n) == STORE_OK)
			ok = 1;
		else
			usleep(100000);
	}
	assert_true(ok);
	assert_int_equal(n, 1);
	store_tenant_free(all, n);
	make_tenant(s, "beta");
	assert_true(gen_wait(s, g + 1, GEN_WAIT_MS) >= g + 1);
	store_close(s);
}

/* -- locks, idempotency, approvals, audit ------------------------------------------------ */

static void
locks_shared(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct store_lock l = { STORE_LOCK_PAIR, (char *)"client-a", (char *)"192.0.2.1", 1000, 1900, 0 };
	struct store_lock *ls = NULL;
	size_t n = 0;
	uint64_t gb = lock_gen(b);
	int count = -1;

	(void)state;
	assert_int_equal(store_lock_put(a, &l, 1), STORE_OK);
	l.created_at = 1100;
	l.until = 2000;
	assert_int_equal(store_lock_put(b, &l, 1), STORE_OK);	/* the later until wins */
	l.created_at = 1200;
	l.until = 1300;
	assert_int_equal(store_lock_put(a, &l, 1), STORE_OK);
	l.kind = STORE_LOCK_ADDRESS;
	l.client_id = (char *)"";
	assert_int_equal(store_lock_put(a, &l, 1), STORE_OK);
	assert_true(lock_gen_wait(b, gb + 4, GEN_WAIT_MS) >= gb + 4);
	assert_int_equal(store_lock_list(b, 1250, &ls, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ls[0].kind, STORE_LOCK_ADDRESS);
	assert_int_equal(ls[1].kind, STORE_LOCK_PAIR);
	assert_int_equal(ls[1].until, 2000);
	store_lock_free(ls, n);
	gb = lock_gen(b);
	assert_int_equal(store_lock_clear(b, NULL, "client-a", 1250, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_lock_clear(b, "198.51.100.1", NULL, 1250, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(store_lock_clear(b, "192.0.2.1", NULL, 1400, &count), STORE_OK);
	assert_int_equal(count, 0);	/* expired at 1300: removed, not counted */
	assert_int_equal(locks_in_force(a, 0), 0);
	/* Every clear moves the counter, one that removed nothing and one
	 * that removed only an expired lock too: each is recorded, and a
	 * node may hold a lock the store no longer lists. */
	assert_true(lock_gen(b) == gb + 3);
	store_close(a);
	store_close(b);
}

/* Failure counters shared by nodes (issue 8): two handles (two nodes)
 * count into one row, the window rule holds, and many nodes counting at
 * once lose no failure (the upsert's row lock). */
struct fail_arg {
	struct store	*s;
	int		 n, errors;
};

static void *
fail_many(void *p)
{
	struct fail_arg *a = p;
	struct store_failure_key k = { STORE_LOCK_ADDRESS, "203.0.113.9", "" };
	int64_t c;

	for (int i = 0; i < a->n; i++)
		if (store_failure_add(a->s, &k, 1, 5000, 900, &c) != STORE_OK)
			a->errors++;
	return NULL;
}

static void
failure_counters_shared(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct store_failure_key k[2] = {
		{ STORE_LOCK_PAIR, "192.0.2.1", "client-a" },
		{ STORE_LOCK_ADDRESS, "192.0.2.1", "" },
	};
	int64_t c[2] = { -1, -1 };
	struct fail_arg fa[4];
	pthread_t th[4];

	(void)state;
	assert_int_equal(store_is_shared(a), 1);
	assert_int_equal(store_failure_add(a, k, 2, 1000, 900, c), STORE_OK);
	assert_true(c[0] == 1 && c[1] == 1);
	assert_int_equal(store_failure_add(b, k, 2, 1100, 900, c), STORE_OK);
	assert_true(c[0] == 2 && c[1] == 2);
	assert_int_equal(store_failure_add(b, &k[1], 1, 1899, 900, c), STORE_OK);
	assert_true(c[0] == 3);
	assert_int_equal(store_failure_add(a, k, 2, 1900, 900, c), STORE_OK);
	assert_true(c[0] == 1 && c[1] == 1);	/* the window from 1000 ended at 1900 */
	assert_int_equal(store_failure_reset(b, k, 1), STORE_OK);
	assert_int_equal(store_failure_add(a, k, 2, 1901, 900, c), STORE_OK);
	assert_true(c[0] == 1 && c[1] == 2);

	for (int i = 0; i < 4; i++) {
		fa[i].s = i % 2 ? a : b;
		fa[i].n = 50;
		fa[i].errors = 0;
		assert_int_equal(pthread_create(&th[i], NULL, fail_many, &fa[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(fa[i].errors, 0);
	}
	{
		struct store_failure_key k3 = { STORE_LOCK_ADDRESS, "203.0.113.9", "" };
		assert_int_equal(store_failure_add(a, &k3, 1, 5000, 900, c), STORE_OK);
		assert_int_equal(c[0], 201);	/* 4 x 50 from two nodes, then this one */
	}
	store_close(a);
	store_close(b);
}

/* Issuance totals shared by nodes: two handles push for two nodes, each
 * pulls the other's. */
static void
rate_totals_shared(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct store_rate r = { "client-a", NULL, 2 }, *got = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(store_rate_push(a, "node-a", &r, 1, 1000), STORE_OK);
	assert_int_equal(store_rate_push(a, "node-a", &r, 1, 1001), STORE_OK);
	assert_int_equal(store_rate_push(b, "node-b", &r, 1, 1002), STORE_OK);
	assert_int_equal(store_rate_pull(b, "node-b", 0, &got, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].node, "node-a");
	assert_int_equal(got[0].taken, 4);
	store_rate_free(got, n);
	assert_int_equal(store_rate_pull(a, "node-a", 1002, &got, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].taken, 2);
	store_rate_free(got, n);
	assert_int_equal(store_rate_push(b, "node-b", &r, 1, 1400), STORE_OK);	/* prunes node-a's */
	assert_int_equal(store_rate_pull(b, "node-b", 0, &got, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_rate_free(got, n);
	store_close(a);
	store_close(b);
}

/* Regression: put pruned the locks ended STORE_LOCK_PRUNE_AFTER before
 * its batch's created_at alone: a node whose clock was 2000 s ahead
 * deleted a lock still in force on the others, which lifted it as
 * cleared. The database's clock bounds the prune. */
static void
lock_put_by_a_node_ahead_prunes_no_lock_in_force(void **state)
{
	struct store *a = open_store(), *b = open_store();
	int64_t now = (int64_t)time(NULL);
	struct store_lock held = { STORE_LOCK_PAIR, "c", "192.0.2.1", now, now + 900, 0 };
	struct store_lock ahead = { STORE_LOCK_PAIR, "c", "192.0.2.2", now + 2000, now + 2900, 0 };
	struct store_lock *ls = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(store_lock_put(a, &held, 1), STORE_OK);
	assert_int_equal(store_lock_put(b, &ahead, 1), STORE_OK);
	assert_int_equal(store_lock_list(a, 0, &ls, &n), STORE_OK);
	assert_int_equal(n, 2);		/* before: 1, "held" pruned */
	store_lock_free(ls, n);
	store_close(a);
	store_close(b);
}

static void
idempotency(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct store_idem rec, got;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	memset(&got, 0, sizeof(got));
	rec.client_id = (char *)"c1";
	rec.key = (char *)"req-1";
	snprintf(rec.fingerprint, sizeof(rec.fingerprint), "%064d", 7);
	rec.created_at = 100;
	rec.expires_at = 1000;
	assert_int_equal(store_idem_begin(a, &rec, 100, 0, &got), STORE_OK);
	/* Another node with the same key: the running record. */
	assert_int_equal(store_idem_begin(b, &rec, 101, 0, &got), STORE_CONFLICT);
	assert_int_equal(got.state, STORE_IDEM_RUNNING);
	assert_string_equal(got.fingerprint, rec.fingerprint);
	store_idem_clear(&got);
	assert_int_equal(store_idem_finish(a, "c1", "req-1", 100, 201, "{\"ok\":true}"), STORE_OK);
	assert_int_equal(store_idem_finish(a, "c1", "req-1", 100, 201, "{}"), STORE_NOTFOUND);
	assert_int_equal(store_idem_begin(b, &rec, 102, 0, &got), STORE_CONFLICT);
	assert_int_equal(got.state, STORE_IDEM_DONE);
	assert_int_equal(got.status, 201);
	assert_string_equal(got.body, "{\"ok\":true}");
	store_idem_clear(&got);
	/* Expired: replaced. A RUNNING one is not, until stale_before passes
	 * its start (then it never acted: test_store_idempotency). */
	rec.created_at = 1000;
	rec.expires_at = 5000;
	assert_int_equal(store_idem_begin(b, &rec, 1000, 700, &got), STORE_OK);
	rec.created_at = 4999;
	assert_int_equal(store_idem_begin(a, &rec, 4999, 1000, &got), STORE_CONFLICT);
	assert_int_equal(got.created_at, 1000);
	assert_int_equal(got.state, STORE_IDEM_RUNNING);
	store_idem_clear(&got);
	assert_int_equal(store_idem_release(a, "c1", "req-1", 1000), STORE_OK);
	assert_int_equal(store_idem_release(a, "c1", "req-1", 1000), STORE_NOTFOUND);
	store_close(a);
	store_close(b);
}

struct racer {
	struct store	*s;
	const char	*id;
	int		 rc;
};

static void *
approve(void *arg)
{
	struct racer *r = arg;

	r->rc = store_approval_transition(r->s, r->id, STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 150, "checker", 0, NULL);
	return NULL;
}

static void
approvals(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct store_approval ap, got, *all = NULL;
	struct racer r[4];
	pthread_t th[4];
	size_t n = 0;
	int wins = 0;

	(void)state;
	memset(&ap, 0, sizeof(ap));
	ap.id = (char *)"ap1";
	ap.tenant_id = (char *)"acme";
	ap.kind = (char *)"call";
	ap.maker = (char *)"maker";
	ap.maker_tenant = (char *)"acme";
	ap.payload = (char *)"{\"x\":1}";
	ap.reason = (char *)"";
	ap.conflict_key = (char *)"k1";
	ap.state = STORE_APPROVAL_PENDING;
	ap.created_at = 100;
	ap.expires_at = 200;
	assert_int_equal(store_approval_create(a, &ap), STORE_OK);
	assert_int_equal(store_approval_create(b, &ap), STORE_CONFLICT);
	ap.id = (char *)"ap2";
	assert_int_equal(store_approval_create(b, &ap), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "ap1"));
	ap.conflict_key = (char *)"";
	assert_int_equal(store_approval_create(b, &ap), STORE_OK);
	/* Four deciders on two nodes: exactly one wins. */
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ i % 2 ? a : b, "ap1", -1 };
		assert_int_equal(pthread_create(&th[i], NULL, approve, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		wins += r[i].rc == STORE_OK;
		assert_true(r[i].rc == STORE_OK || r[i].rc == STORE_CONFLICT);
	}
	assert_int_equal(wins, 1);
	assert_int_equal(store_approval_get(b, "ap1", &got), STORE_OK);
	assert_int_equal(got.state, STORE_APPROVAL_APPROVED);
	assert_string_equal(got.checker, "checker");
	assert_int_equal(got.decided_at, 150);
	store_approval_clear(&got);
	/* Expired: conflict with the reason. */
	assert_int_equal(store_approval_transition(a, "ap2", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 250, "checker", 0, NULL), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "expired"));
	assert_int_equal(store_approval_transition(a, "nope", STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 150, "checker", 0, NULL), STORE_NOTFOUND);
	assert_int_equal(store_approval_transition(a, "ap1", STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_USED, 0, 160, NULL, 160, "{\"r\":1}"), STORE_OK);
	assert_int_equal(store_approval_list(a, "acme", STORE_APPROVAL_STATE__MAX, 10, &all, &n),
	    STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].id, "ap2");	/* newest first; same time: id desc */
	assert_int_equal(all[1].state, STORE_APPROVAL_USED);
	assert_string_equal(all[1].result, "{\"r\":1}");
	assert_int_equal(all[1].used_at, 160);
	store_approval_free(all, n);
	assert_int_equal(store_approval_list(a, NULL, STORE_APPROVAL_USED, 10, &all, &n), STORE_OK);
	assert_int_equal(n, 1);
	store_approval_free(all, n);
	store_close(a);
	store_close(b);
}

static void
audit_chain_across_nodes(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct tally t = TALLY_INIT;
	struct store_audit row, *all = NULL;
	struct store_audit_filter f;
	struct chain c;
	size_t n = 0;
	int64_t pruned = -1;

	(void)state;
	assert_true(store_audit_supported(a));
	memset(&row, 0, sizeof(row));
	row.actor = (char *)"c1";
	row.tenant = (char *)"acme";
	row.outcome = (char *)"ok";
	row.detail = (char *)"{\"quote\":\"\\\" and \\\\ and {,}\"}";
	for (int i = 0; i < 200; i++) {
		struct store_token tok;
		char id[32], actor[16];
		/* One actor per row: a batch's events of one actor would share a
		 * row (audit_group.h), and this test counts rows. */
		snprintf(actor, sizeof(actor), "c%d", i);
		row.actor = actor;
		row.at = 1000 + i;
		row.action = (char *)(i % 50 == 49 ? "client.create" : "token.issued");
		assert_int_equal(store_audit_append(i % 2 ? a : b, &row, tally_done, &t), STORE_OK);
		snprintf(id, sizeof(id), "tok-%d", i);
		tok = token_fixture(id, "c1", "n", i);
		assert_int_equal(store_token_record(i % 2 ? b : a, &tok, tally_done, &t), STORE_OK);
	}
	assert_int_equal(store_flush(a), STORE_OK);
	assert_int_equal(store_flush(b), STORE_OK);
	assert_int_equal(t.ok, 400);
	/* One chain, no fork, no gap, whatever node appended. */
	memset(&c, 0, sizeof(c));
	c.next = 1;
	assert_int_equal(store_audit_scan(b, 1, chain_check, &c), STORE_OK);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.next, 201);
	memset(&f, 0, sizeof(f));
	f.action = "client.create";
	f.limit = 10;
	assert_int_equal(store_audit_list(a, &f, &all, &n), STORE_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {	/* newest first, the text intact */
		assert_string_equal(all[i].action, "client.create");
		assert_string_equal(all[i].detail, row.detail);
		if (i > 0)
			assert_true(all[i - 1].seq > all[i].seq);
	}
	store_audit_free(all, n);
	/* Prune the old token rows: a checkpoint, and the chain still holds. */
	assert_int_equal(store_audit_prune(a, 1100, 5000, &pruned), STORE_OK);
	/* Two handles appended: seq order is not time order, so the cut (the
	 * last old token row's seq) takes at least the 98 old ones. */
	assert_in_range(pruned, 98, 196);
	assert_int_equal(count_rows("SELECT count(*) FROM audit"), 200 - pruned + 1);
	assert_int_equal(count_rows("SELECT count(*) FROM audit WHERE action = 'client.create'"), 4);
	assert_int_equal(count_rows("SELECT count(*) FROM audit WHERE action = 'audit.checkpoint'"), 1);
	/* Updates are refused by the trigger. */
	{
		PGconn *pc = raw();
		PGresult *r = PQexec(pc, "UPDATE audit SET actor = 'x' WHERE seq = 200");
		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		PQfinish(pc);
	}
	store_close(a);
	store_close(b);
}

/* PostgreSQL text takes only UTF-8: a token record that is not fails alone
 * (the rest of its batch commits); an audit row keeps its place in the
 * chain with the bad bytes as '?'. */
static void
invalid_utf8_fails_alone(void **state)
{
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct store_token t;
	struct store_audit row, *all = NULL;
	struct store_audit_filter f;
	struct chain c;
	size_t n = 0;

	(void)state;
	t = token_fixture("u1", "c1", "ok", 1);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("u2", "c1", "bad\xff\xfe name", 2);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("u3", "c1", "caf\xc3\xa9", 3);	/* valid: café */
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	memset(&row, 0, sizeof(row));
	row.at = 5;
	row.action = (char *)"token.refused";
	row.outcome = (char *)"error";
	row.target = (char *)"client-\xc0\xaf-x";	/* an overlong '/' */
	assert_int_equal(store_audit_append(s, &row, tally_done, &a), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 3);
	assert_int_equal(a.other, 1);
	assert_int_equal(count_rows("SELECT count(*) FROM tokens"), 2);
	memset(&f, 0, sizeof(f));
	f.limit = 10;
	assert_int_equal(store_audit_list(s, &f, &all, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].target, "client-?" "?-x");
	store_audit_free(all, n);
	memset(&c, 0, sizeof(c));
	c.next = 1;
	assert_int_equal(store_audit_scan(s, 1, chain_check, &c), STORE_OK);
	assert_int_equal(c.bad, 0);
	store_close(s);
}

/* What pool_waits_on_the_monotonic_clock's waiter got. */
struct pool_wait {
	struct pg	*pg;
	int		 rc;
	int64_t		 took_ms;
	_Atomic int	 done;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
pool_waiter(void *arg)
{
	struct pool_wait *w = arg;
	PGconn *c;
	int slot;
	int64_t t0 = mono_ms();

	w->rc = pgi_acquire(w->pg, &slot, &c, "test");
	w->took_ms = mono_ms() - t0;
	if (w->rc == STORE_OK)
		pgi_release(w->pg, slot);
	w->done = 1;
	return NULL;
}

/*
 * Regression: a request waiting for a pooled connection timed out on
 * CLOCK_REALTIME, so a wall clock stepped back an hour kept it waiting an
 * hour (every thread that needed the store hung with it), and one stepped
 * forward failed it at once ("all database connections are busy"). It
 * waits pool_timeout_ms whatever the wall clock does.
 */
static void
pool_waits_on_the_monotonic_clock(void **state)
{
	static const long long steps[] = { 3600, -3600 };
	struct store *s = NULL;
	char u[1200], err[256] = "";

	(void)state;
	url_param(u, sizeof(u), "pool_size=1&pool_timeout_ms=300");
	assert_int_equal(store_open(u, &s, err, sizeof(err)), STORE_OK);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct pool_wait w = { .pg = s->h, .rc = -1 };
		PGconn *c;
		pthread_t th;
		int slot, done;

		assert_int_equal(pgi_acquire(w.pg, &slot, &c, "test"), STORE_OK);
		wall_ahead_s = steps[i];
		assert_int_equal(pthread_create(&th, NULL, pool_waiter, &w), 0);
		for (int k = 0; k < 300 && !w.done; k++)
			usleep(10000);
		done = w.done;
		wall_ahead_s = 0;
		pgi_release(w.pg, slot);	/* a waiter still waiting gets it */
		pthread_join(th, NULL);
		if (!done)
			fail_msg("wall clock stepped %+lld s: still waiting after 3 s", steps[i]);
		assert_int_equal(w.rc, STORE_UNAVAILABLE);
		if (w.took_ms < 250 || w.took_ms > 2000)
			fail_msg("wall clock stepped %+lld s: waited %lld ms, not 300", steps[i],
			    (long long)w.took_ms);
	}
	store_close(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup_pg, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(open_and_schema),
		T(open_refuses_bad_targets),
		T(concurrent_migrations),
		T(connections_come_back),
		T(locks_shared),
		T(failure_counters_shared),
		T(rate_totals_shared),
		T(lock_put_by_a_node_ahead_prunes_no_lock_in_force),
		T(idempotency),
		T(approvals),
		T(audit_chain_across_nodes),
		T(invalid_utf8_fails_alone),
		T(pool_waits_on_the_monotonic_clock),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed + conformance_run(&pgsql_backend);
}
