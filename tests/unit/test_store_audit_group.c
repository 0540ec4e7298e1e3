/*
 * Unit tests for audit_group (src/store/audit_group.h): a batch's token
 * events of one client become one row and are listed again one entry per
 * event, in order, with their own times, request ids, addresses and
 * details; other actions, other clients, lone events and events too far
 * apart keep rows of their own; listing honours the time window and never
 * splits a row across pages; a group row that is not well formed is listed
 * as the row it is. And through a real store: what is listed after a
 * concurrent burst is one entry per event, and the chain verifies.
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

#include "store/audit_group.h"
#include "store/store.h"
#include "util/util.h"

static struct store_audit
ev(int64_t at, const char *actor, const char *action, const char *rid, const char *detail)
{
	struct store_audit a;

	memset(&a, 0, sizeof(a));
	a.seq = 0;
	a.at = at;
	a.request_id = (char *)rid;
	a.actor = (char *)actor;
	a.tenant = (char *)"t1";
	a.address = (char *)"10.0.0.1";
	a.action = (char *)action;
	a.target = (char *)"name";
	a.outcome = (char *)"ok";
	a.detail = (char *)detail;
	return a;
}

/* A heap copy of rows, as a backend's list gives them (newest first). */
static struct store_audit *
as_listed(const struct store_audit *rows, size_t n)
{
	struct store_audit *v = calloc(n, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		const struct store_audit *r = &rows[n - 1 - i];
		v[i] = *r;
		v[i].seq = (int64_t)(n - i);
		v[i].request_id = strdup(r->request_id);
		v[i].actor = strdup(r->actor);
		v[i].tenant = strdup(r->tenant);
		v[i].address = strdup(r->address);
		v[i].action = strdup(r->action);
		v[i].target = strdup(r->target);
		v[i].outcome = strdup(r->outcome);
		v[i].detail = strdup(r->detail);
	}
	return v;
}

static void
groups_by_client_and_action(void **state)
{
	struct audit_grouper *g = audit_grouper_new(16);
	struct store_audit rows[7];
	struct store_audit *listed, *out = NULL;
	struct store_audit_filter f = { .limit = 100 };
	size_t m, n = 0;

	(void)state;
	assert_non_null(g);
	rows[0] = ev(1000, "c1", "token.issued", "r1", "{\"jti\":\"a\"}");
	rows[1] = ev(1001, "c2", "token.issued", "r2", "{\"jti\":\"b\"}");
	rows[2] = ev(1002, "c1", "client.create", "r3", "{\"status\":201}");
	rows[3] = ev(1003, "c1", "token.issued", "r4", "quote \" and \\ and \n");
	rows[3].target = "token-name-4";	/* a token's own name */
	rows[4] = ev(1004, "c1", "token.refused", "r5", "invalid_client: x");
	rows[5] = ev(999, "c1", "token.issued", "r6", "{\"jti\":\"c\"}");
	rows[6] = ev(1000 + AUDIT_GROUP_SPAN_MS + 1, "c1", "token.issued", "r7", "late");
	m = audit_group_rows(g, rows, 7);
	/* c1's issued r1, r4, r6 share a row at the first's place; r7 is more
	 * than the span after the earliest: a row of its own. */
	assert_int_equal(m, 5);
	assert_true(audit_row_is_group(&rows[0]));
	assert_int_equal(rows[0].at, 999);
	assert_string_equal(rows[0].actor, "c1");
	assert_string_equal(rows[0].request_id, "");
	assert_string_equal(rows[1].request_id, "r2");
	assert_string_equal(rows[2].action, "client.create");
	assert_string_equal(rows[3].request_id, "r5");
	assert_string_equal(rows[4].request_id, "r7");
	for (size_t i = 1; i < m; i++)
		assert_false(audit_row_is_group(&rows[i]));

	listed = as_listed(rows, m);	/* copies the group's text */
	audit_grouper_release(g);
	assert_int_equal(audit_group_expand(listed, m, &f, &out, &n), STORE_OK);
	assert_int_equal(n, 7);
	/* Newest row first; a group's events newest (last queued) first. */
	const char *want[] = { "r7", "r5", "client.create", "r2", "r6", "r4", "r1" };
	for (size_t i = 0; i < n; i++) {
		if (strcmp(want[i], "client.create") == 0) {
			assert_string_equal(out[i].action, want[i]);
			continue;
		}
		assert_string_equal(out[i].request_id, want[i]);
	}
	assert_int_equal(out[4].at, 999);
	assert_int_equal(out[5].at, 1003);
	assert_string_equal(out[5].detail, "quote \" and \\ and \n");
	assert_string_equal(out[5].address, "10.0.0.1");
	assert_string_equal(out[5].actor, "c1");
	assert_string_equal(out[5].target, "token-name-4");
	assert_string_equal(out[4].target, "name");
	assert_int_equal(out[5].seq, out[4].seq);	/* one row */
	store_audit_free(out, n);
	audit_grouper_free(g);
}

static void
lone_events_keep_their_rows(void **state)
{
	struct audit_grouper *g = audit_grouper_new(4);
	struct store_audit rows[2];

	(void)state;
	rows[0] = ev(1, "c1", "token.issued", "r1", "d1");
	rows[1] = ev(2, "c2", "token.issued", "r2", "d2");
	assert_int_equal(audit_group_rows(g, rows, 2), 2);
	assert_string_equal(rows[0].request_id, "r1");
	assert_string_equal(rows[1].detail, "d2");
	audit_grouper_free(g);
}

/* Builds a listed group of k events at times base, base+1, ... */
static void
one_group(struct audit_grouper *g, int k, int64_t base, struct store_audit **listed)
{
	struct store_audit rows[8];
	char rid[8][16];

	for (int i = 0; i < k; i++) {
		snprintf(rid[i], sizeof(rid[i]), "r%d", i);
		rows[i] = ev(base + i, "c1", "token.issued", rid[i], "d");
	}
	assert_int_equal(audit_group_rows(g, rows, (size_t)k), 1);
	*listed = as_listed(rows, 1);
	audit_grouper_release(g);
}

static void
window_and_limit(void **state)
{
	struct audit_grouper *g = audit_grouper_new(8);
	struct store_audit *listed, *out = NULL, *two;
	struct store_audit_filter f = { .limit = 100, .since = 5002, .until = 5004 };
	size_t n = 0;

	(void)state;
	one_group(g, 5, 5000, &listed);
	assert_int_equal(audit_group_expand(listed, 1, &f, &out, &n), STORE_OK);
	assert_int_equal(n, 2);		/* 5002 and 5003 only */
	assert_int_equal(out[0].at, 5003);
	assert_int_equal(out[1].at, 5002);
	store_audit_free(out, n);

	/* limit 3: the first row is listed whole (5 entries); a second row
	 * that would pass the limit waits for the next page. */
	two = calloc(2, sizeof(*two));
	one_group(g, 5, 6000, &listed);
	two[0] = listed[0];
	free(listed);
	one_group(g, 2, 4000, &listed);
	two[1] = listed[0];
	two[1].seq = 0;
	free(listed);
	memset(&f, 0, sizeof(f));
	f.limit = 3;
	assert_int_equal(audit_group_expand(two, 2, &f, &out, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(out[4].at, 6000);
	store_audit_free(out, n);
	audit_grouper_free(g);
}

static void
malformed_group_is_listed_as_a_row(void **state)
{
	struct store_audit r = ev(7, "c1", "token.issued", "", "{\"events\":[{\"at\":\"x\"}]}");
	struct store_audit *listed, *out = NULL;
	struct store_audit_filter f = { .limit = 10 };
	size_t n = 0;

	(void)state;
	r.address = (char *)"";
	r.target = (char *)"";
	listed = as_listed(&r, 1);
	assert_true(audit_row_is_group(listed));
	assert_int_equal(audit_group_expand(listed, 1, &f, &out, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].detail, "{\"events\":[{\"at\":\"x\"}]}");
	store_audit_free(out, n);
}

/* -- through a real store ------------------------------------------------------- */

static int
count_rows(void *arg, const struct store_audit *r)
{
	(void)r;
	++*(int64_t *)arg;
	return 0;
}

static void
store_lists_every_event(void **state)
{
	char dir[] = "/tmp/gh_audit_group_XXXXXX", url[96], err[256], rid[32];
	struct store *s = NULL;
	struct store_audit *out = NULL;
	struct store_audit_filter f = { .limit = 10000, .action = "token.issued" };
	size_t n = 0;
	int64_t rows = 0;
	const int events = 300;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "sqlite:%s/a.db", dir);
	assert_int_equal(store_open(url, &s, err, sizeof(err)), STORE_OK);
	{
		uint8_t key[32];	/* the trail takes rows only under a key */
		memset(key, 3, sizeof(key));
		assert_int_equal(store_audit_set_key(s, key, NULL), STORE_OK);
	}
	/* Queued faster than a commit: they share batches. */
	for (int i = 0; i < events; i++) {
		struct store_audit a = ev(clock_now() * 1000, i % 2 ? "c1" : "c2", "token.issued",
		    rid, "{\"jti\":\"x\"}");
		snprintf(rid, sizeof(rid), "req-%d", i);
		assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(store_audit_scan(s, 1, count_rows, &rows), 0);
	assert_true(rows >= 2 && rows < events);
	assert_int_equal(store_audit_list(s, &f, &out, &n), STORE_OK);
	assert_int_equal(n, (size_t)events);
	/* Every event once; each client's newest first (rows are listed in
	 * seq order: within a batch, one client's events come together). */
	{
		int seen[300] = { 0 }, last[2] = { events, events };
		for (size_t i = 0; i < n; i++) {
			int k = atoi(out[i].request_id + 4), c = k % 2;
			assert_true(k >= 0 && k < events && !seen[k]);
			seen[k] = 1;
			assert_true(k < last[c]);
			last[c] = k;
			assert_string_equal(out[i].actor, c ? "c1" : "c2");
		}
	}
	store_audit_free(out, n);
	f.client = "c1";
	assert_int_equal(store_audit_list(s, &f, &out, &n), STORE_OK);
	assert_int_equal(n, (size_t)events / 2);
	store_audit_free(out, n);
	store_close(s);
	snprintf(url, sizeof(url), "rm -rf %s", dir);
	assert_int_equal(system(url), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(groups_by_client_and_action),
		cmocka_unit_test(lone_events_keep_their_rows),
		cmocka_unit_test(window_and_limit),
		cmocka_unit_test(malformed_group_is_listed_as_a_row),
		cmocka_unit_test(store_lists_every_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
