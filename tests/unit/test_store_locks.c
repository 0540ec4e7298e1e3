/*
 * Unit tests for the lockout locks in the store (store_lock_*, issue 5), on
 * SQLite and (tests/pgsql) on PostgreSQL: put makes and extends (the later until wins), list
 * shows only locks in force, clear's filters, expired rows pruned, the
 * generation moving on every change and only then, another handle (the CLI,
 * another node) seeing the locks, each clear recorded with its generation
 * and each lock row with its write's, and argument checks that change
 * nothing.
 */
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

#include "store_fixture.h"

static void
put(struct store *s, enum store_lock_kind kind, const char *addr, const char *client,
    int64_t at, int64_t until)
{
	struct store_lock l = { kind, (char *)client, (char *)addr, at, until, 0 };

	assert_int_equal(store_lock_put(s, &l, 1), STORE_OK);
}

static void
put_list_extend(void **state)
{
	struct store *s = open_store();
	struct store_lock *ls = NULL;
	size_t n = 0;
	uint64_t g0 = lock_gen(s), d0 = gen(s);

	(void)state;
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "client-a", 1000, 1900);
	assert_int_equal(lock_gen(s), g0 + 1);
	/* The locks' own generation moves, not the data's: a lock made
	 * empties no other cache of any node (store.h STORE_GEN_LOCKS). */
	assert_int_equal(gen(s), d0);
	/* An address lock's client id is "" whatever the caller passed. */
	put(s, STORE_LOCK_ADDRESS, "192.0.2.1", "ignored", 1000, 1900);
	put(s, STORE_LOCK_PAIR, "2001:db8::1", "client-b", 1000, 1500);
	assert_int_equal(lock_gen(s), g0 + 3);
	assert_int_equal(gen(s), d0);
	/* The same key again: the later until wins, an earlier one changes nothing. */
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "client-a", 1100, 2000);
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "client-a", 1200, 1300);

	assert_int_equal(store_lock_list(s, 1400, &ls, &n), STORE_OK);
	assert_int_equal(n, 3);
	/* Ordered by address, client id, kind. */
	assert_string_equal(ls[0].address, "192.0.2.1");
	assert_int_equal(ls[0].kind, STORE_LOCK_ADDRESS);
	assert_string_equal(ls[0].client_id, "");
	assert_string_equal(ls[1].address, "192.0.2.1");
	assert_int_equal(ls[1].kind, STORE_LOCK_PAIR);
	assert_string_equal(ls[1].client_id, "client-a");
	assert_int_equal(ls[1].until, 2000);
	assert_string_equal(ls[2].address, "2001:db8::1");
	store_lock_free(ls, n);

	/* At 1600 the 1500 lock is over: not listed. */
	assert_int_equal(locks_in_force(s, 1600), 2);
	store_close(s);
}

static void
clear_filters(void **state)
{
	struct store *s = open_store();
	struct store_lock *ls = NULL;
	size_t n = 0;
	int count = -1;
	uint64_t g;

	(void)state;
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "a", 1000, 1900);
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "b", 1000, 1900);
	put(s, STORE_LOCK_ADDRESS, "192.0.2.1", "", 1000, 1900);
	put(s, STORE_LOCK_PAIR, "192.0.2.2", "a", 1000, 1900);
	put(s, STORE_LOCK_ADDRESS, "192.0.2.3", "", 1000, 1900);

	/* Nothing matches: OK, count 0; the clear is recorded all the same
	 * and moves the generation: a server may hold a lock the store lacks. */
	g = lock_gen(s);
	assert_int_equal(store_lock_clear(s, "198.51.100.1", NULL, 1100, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(lock_gen(s), ++g);

	/* A client: its pair locks at every address, never an address lock. */
	assert_int_equal(store_lock_clear(s, NULL, "a", 1100, &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_int_equal(lock_gen(s), g + 1);
	/* An address: its address lock and the pair locks there. */
	assert_int_equal(store_lock_clear(s, "192.0.2.1", NULL, 1100, &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_int_equal(store_lock_list(s, 1100, &ls, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ls[0].address, "192.0.2.3");
	store_lock_free(ls, n);
	/* Both filters: only that pair. Then everything. */
	put(s, STORE_LOCK_PAIR, "192.0.2.3", "c", 1000, 1900);
	assert_int_equal(store_lock_clear(s, "192.0.2.3", "c", 1100, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_lock_clear(s, NULL, NULL, 1100, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(locks_in_force(s, 0), 0);

	/* An expired lock is removed but not counted; it moves the
	 * generation, as a server may still hold it (its leeway, or its
	 * monotonic time after this clock stepped forward). */
	put(s, STORE_LOCK_PAIR, "192.0.2.9", "z", 1000, 1100);
	g = lock_gen(s);
	assert_int_equal(store_lock_clear(s, NULL, "z", 1200, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(lock_gen(s), g + 1);
	assert_int_equal(locks_in_force(s, 0), 0);
	store_close(s);
}

static void
put_prunes_expired(void **state)
{
	struct store *s = open_store();
	struct store_lock *ls = NULL;
	size_t n = 0;

	(void)state;
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "old", 1000, 1100);
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "new", 5000, 5900);
	/* Listing from before both: only "new" is left in the table. */
	assert_int_equal(store_lock_list(s, 0, &ls, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ls[0].client_id, "new");
	assert_int_equal(ls[0].created_at, 5000);
	store_lock_free(ls, n);
	store_close(s);
}

/* Regression: put pruned every lock ended by its writer's clock; a node
 * whose clock was behind still held one, found it gone, and lifted it as
 * cleared. Kept STORE_LOCK_PRUNE_AFTER past its end. */
static void
put_keeps_a_lock_just_ended_for_clocks_behind(void **state)
{
	struct store *s = open_store();
	struct store_lock *ls = NULL;
	size_t n = 0;

	(void)state;
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "held", 1000, 1100);
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "ahead", 1160, 1220);	/* a node 60 s ahead */
	assert_int_equal(store_lock_list(s, 1050, &ls, &n), STORE_OK);
	assert_int_equal(n, 2);
	store_lock_free(ls, n);
	put(s, STORE_LOCK_PAIR, "192.0.2.1", "later", 1100 + STORE_LOCK_PRUNE_AFTER, 1800);
	assert_int_equal(store_lock_list(s, 0, &ls, &n), STORE_OK);
	assert_int_equal(n, 2);		/* "held" went, "ahead" stays */
	store_lock_free(ls, n);
	store_close(s);
}

static void
batch_is_one_transaction(void **state)
{
	struct store *s = open_store();
	struct store_lock *ls = NULL;
	size_t n = 0;
	struct store_lock b[3] = {
		{ STORE_LOCK_PAIR, "a", "192.0.2.1", 1000, 1900, 0 },
		{ STORE_LOCK_ADDRESS, "", "192.0.2.2", 1010, 1910, 0 },
		{ STORE_LOCK_PAIR, "a", "192.0.2.1", 1020, 1950, 0 },	/* extends the first */
	};
	uint64_t g = lock_gen(s);

	(void)state;
	assert_int_equal(store_lock_put(s, b, 3), STORE_OK);
	assert_int_equal(lock_gen(s), g + 1);		/* one increment for the batch */
	assert_int_equal(store_lock_list(s, 1000, &ls, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ls[0].until, 1950);
	store_lock_free(ls, n);
	/* One bad lock refuses the whole batch, and nothing is written. */
	b[0].address = "192.0.2.9";
	b[1].until = b[1].created_at;
	assert_int_equal(store_lock_put(s, b, 2), STORE_ERROR);
	assert_non_null(strstr(store_last_error(), "lock 1"));
	assert_int_equal(store_lock_put(s, b, 0), STORE_ERROR);
	assert_int_equal(lock_gen(s), g + 1);
	assert_int_equal(locks_in_force(s, 1000), 2);
	store_close(s);
}

#define OTHER_HANDLE_WAIT_MS	2000

static void
seen_by_another_handle(void **state)
{
	struct store *a = open_store(), *b = open_store();
	uint64_t gb = lock_gen(b);
	int count = 0;

	(void)state;
	put(a, STORE_LOCK_ADDRESS, "203.0.113.5", "", 1000, 1900);
	/* Another handle's generation follows at once on SQLite, within a
	 * second on PostgreSQL (NOTIFY). */
	assert_true(lock_gen_wait(b, gb + 1, OTHER_HANDLE_WAIT_MS) > gb);
	assert_int_equal(locks_in_force(b, 1000), 1);
	gb = lock_gen(b);
	assert_int_equal(store_lock_clear(a, "203.0.113.5", NULL, 1000, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_true(lock_gen_wait(b, gb + 1, OTHER_HANDLE_WAIT_MS) > gb);
	store_close(a);
	store_close(b);
}

static void
bad_arguments_change_nothing(void **state)
{
	struct store *s = open_store();
	int count = 7;
	char longid[200];
	struct store_lock l = { STORE_LOCK_PAIR, "c", "192.0.2.1", 1000, 1900, 0 };
	uint64_t g = lock_gen(s);

	(void)state;
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	l.kind = (enum store_lock_kind)7;
	assert_int_equal(store_lock_put(s, &l, 1), STORE_ERROR);
	assert_non_null(strstr(store_last_error(), "kind"));
	l.kind = STORE_LOCK_PAIR;
	l.client_id = "";
	assert_int_equal(store_lock_put(s, &l, 1), STORE_ERROR);
	l.client_id = longid;
	assert_int_equal(store_lock_put(s, &l, 1), STORE_ERROR);
	l.client_id = "c";
	l.address = "";
	assert_int_equal(store_lock_put(s, &l, 1), STORE_ERROR);
	l.address = longid;
	assert_int_equal(store_lock_put(s, &l, 1), STORE_ERROR);
	l.address = "192.0.2.1";
	l.until = l.created_at;
	assert_int_equal(store_lock_put(s, &l, 1), STORE_ERROR);
	assert_non_null(strstr(store_last_error(), "end after"));
	assert_int_equal(store_lock_clear(s, "", NULL, 0, &count), STORE_ERROR);
	assert_int_equal(count, 0);
	assert_int_equal(store_lock_clear(s, NULL, longid, 0, &count), STORE_ERROR);
	assert_int_equal(lock_gen(s), g);
	assert_int_equal(locks_in_force(s, 0), 0);
	store_close(s);
}

/*
 * A clear is recorded (store_lock_cleared_since) with its filters and the
 * generation it made, read from another handle a page at a time from a
 * generation on; each lock row carries the generation of the write that
 * made it (store_lock_put_gen), so that a server can tell a clear newer
 * than its lock from an older one.
 */
static void
clears_are_recorded(void **state)
{
	struct store *s = open_store(), *other = open_store();
	struct store_lock l = { STORE_LOCK_PAIR, "c", "192.0.2.1", 1000, 1900, 0 };
	struct store_lock_cleared *cl = NULL;
	struct store_lock *ls = NULL;
	size_t n = 0;
	uint64_t g0, g1 = 0;
	int count = -1;

	(void)state;
	g0 = lock_gen(s);
	assert_int_equal(store_lock_put_gen(s, &l, 1, &g1), STORE_OK);
	assert_int_equal(g1, g0 + 1);
	assert_int_equal(lock_gen(s), g1);
	assert_int_equal(store_lock_list(other, 1100, &ls, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ls[0].gen, g1);
	store_lock_free(ls, n);

	assert_int_equal(store_lock_clear(s, "192.0.2.1", "c", 1100, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_lock_clear(s, NULL, "d", 1101, &count), STORE_OK);
	assert_int_equal(store_lock_clear(s, "192.0.2.9", NULL, 1102, &count), STORE_OK);
	assert_int_equal(store_lock_clear(s, NULL, NULL, 1103, &count), STORE_OK);
	assert_int_equal(lock_gen(s), g1 + 4);

	assert_int_equal(store_lock_cleared_since(other, g1, 3, &cl, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(cl[0].gen, g1 + 1);
	assert_string_equal(cl[0].address, "192.0.2.1");
	assert_string_equal(cl[0].client_id, "c");
	assert_null(cl[1].address);
	assert_string_equal(cl[1].client_id, "d");
	assert_string_equal(cl[2].address, "192.0.2.9");
	assert_null(cl[2].client_id);
	store_lock_cleared_free(cl, n);
	assert_int_equal(store_lock_cleared_since(other, g1 + 3, 3, &cl, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cl[0].gen, g1 + 4);
	assert_null(cl[0].address);
	assert_null(cl[0].client_id);
	store_lock_cleared_free(cl, n);
	assert_int_equal(store_lock_cleared_since(other, g1 + 4, 3, &cl, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(cl);
	assert_int_equal(store_lock_cleared_since(other, 0, 0, &cl, &n), STORE_ERROR);

	/* Kept STORE_LOCK_CLEARED_KEEP on the store's clock: SQLite's is the
	 * caller's, so a clear that late prunes the others. */
	if (strcmp(store_backend(s), "sqlite") == 0) {
		assert_int_equal(store_lock_clear(s, NULL, NULL, 1103 + STORE_LOCK_CLEARED_KEEP,
		    &count), STORE_OK);
		assert_int_equal(store_lock_cleared_since(other, 0, 10, &cl, &n), STORE_OK);
		assert_int_equal(n, 1);
		assert_int_equal(cl[0].gen, g1 + 5);
		store_lock_cleared_free(cl, n);
	}
	store_close(other);
	store_close(s);
}

/* Shared failure counters (issue 8): the window rule, reset, two handles
 * counting into one row, and bad keys refused. SQLite serves one node, so
 * it does not call itself shared; PostgreSQL does. */
static void
failure_counters(void **state)
{
	struct store *a = open_store(), *b = open_store();
	struct store_failure_key k[2] = {
		{ STORE_LOCK_PAIR, "192.0.2.1", "client-a" },
		{ STORE_LOCK_ADDRESS, "192.0.2.1", "" },
	}, bad;
	int64_t c[2] = { -1, -1 };
	uint64_t g = lock_gen(a), d = gen(a);

	(void)state;
	assert_int_equal(store_is_shared(a), strcmp(store_backend(a), "postgresql") == 0);
	assert_int_equal(store_failure_add(a, k, 2, 1000, 900, c), STORE_OK);
	assert_true(c[0] == 1 && c[1] == 1);
	assert_int_equal(store_failure_add(b, k, 2, 1100, 900, c), STORE_OK);	/* another handle */
	assert_true(c[0] == 2 && c[1] == 2);
	assert_int_equal(store_failure_add(a, &k[1], 1, 1899, 900, c), STORE_OK);
	assert_true(c[0] == 3);	/* the window (from 1000) is still open at 1899 */
	assert_int_equal(store_failure_add(a, k, 2, 1900, 900, c), STORE_OK);
	assert_true(c[0] == 1 && c[1] == 1);	/* ended at 1900: a fresh window */
	assert_int_equal(store_failure_add(a, k, 2, 1901, 900, c), STORE_OK);
	assert_true(c[0] == 2 && c[1] == 2);
	assert_int_equal(store_failure_reset(b, k, 1), STORE_OK);
	assert_int_equal(store_failure_add(a, k, 2, 1902, 900, c), STORE_OK);
	assert_true(c[0] == 1 && c[1] == 3);	/* only the pair was reset */
	/* Counters move neither generation. */
	assert_int_equal(lock_gen(a), g);
	assert_int_equal(gen(a), d);

	bad = k[1];
	bad.client_id = "x";
	assert_int_equal(store_failure_add(a, &bad, 1, 2000, 900, c), STORE_ERROR);
	assert_non_null(strstr(store_last_error(), "address key"));
	bad = k[0];
	bad.client_id = "";
	assert_int_equal(store_failure_add(a, &bad, 1, 2000, 900, c), STORE_ERROR);
	assert_int_equal(store_failure_add(a, k, 0, 2000, 900, c), STORE_ERROR);
	assert_int_equal(store_failure_add(a, k, 2, 2000, 0, c), STORE_ERROR);
	{
		struct store_failure_key twice[2] = { k[0], k[0] };
		assert_int_equal(store_failure_add(a, twice, 2, 2000, 900, c), STORE_ERROR);
		assert_non_null(strstr(store_last_error(), "twice"));
	}
	assert_int_equal(store_failure_add(a, k, 2, 1903, 900, c), STORE_OK);
	assert_true(c[0] == 2 && c[1] == 4);	/* the refused calls counted nothing */
	store_close(a);
	store_close(b);
}

/* The pairs counting failures (what another node reads to clear a count
 * on a success it sees): open windows only, pairs only, newest first, at
 * most max; a reset pair is gone; bad arguments refused. */
static void
failure_pairs(void **state)
{
	struct store *s = open_store();
	struct store_failure_key k[3] = {
		{ STORE_LOCK_PAIR, "192.0.2.1", "client-a" },
		{ STORE_LOCK_ADDRESS, "192.0.2.1", "" },
		{ STORE_LOCK_PAIR, "192.0.2.2", "client-b" },
	};
	struct store_failure_row *rows = NULL;
	int64_t c[2];
	size_t n = 9;

	(void)state;
	assert_int_equal(store_failure_add(s, k, 2, 1000, 900, c), STORE_OK);
	assert_int_equal(store_failure_add(s, k, 1, 1001, 900, c), STORE_OK);
	assert_int_equal(store_failure_add(s, &k[2], 1, 1500, 900, c), STORE_OK);
	assert_int_equal(store_failure_pairs(s, 1600, 900, 10, &rows, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].client_id, "client-b");	/* the newer window */
	assert_string_equal(rows[0].address, "192.0.2.2");
	assert_int_equal(rows[0].failures, 1);
	assert_int_equal(rows[0].window_start, 1500);
	assert_string_equal(rows[1].client_id, "client-a");
	assert_int_equal(rows[1].failures, 2);
	assert_int_equal(rows[1].window_start, 1000);
	store_failure_free(rows, n);
	/* At most max; client-a's window (1000 + 900) has ended at 1900. */
	assert_int_equal(store_failure_pairs(s, 1600, 900, 1, &rows, &n), STORE_OK);
	assert_int_equal(n, 1);
	store_failure_free(rows, n);
	assert_int_equal(store_failure_pairs(s, 1900, 900, 10, &rows, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].client_id, "client-b");
	store_failure_free(rows, n);
	assert_int_equal(store_failure_reset(s, &k[2], 1), STORE_OK);
	assert_int_equal(store_failure_pairs(s, 1900, 900, 10, &rows, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_failure_free(rows, n);
	assert_int_equal(store_failure_pairs(s, 1900, 0, 10, &rows, &n), STORE_ERROR);
	assert_int_equal(store_failure_pairs(s, 1900, 900, 0, &rows, &n), STORE_ERROR);
	assert_int_equal(store_failure_pairs(s, 1900, 900, 10001, &rows, &n), STORE_ERROR);
	store_close(s);
}

/* Shared issuance totals (issue 8): pushes add up per (client, node),
 * a pull shows the other nodes' rows touched since a time, old rows go. */
static void
rate_totals(void **state)
{
	struct store *s = open_store();
	struct store_rate push[2] = { { "client-a", NULL, 3 }, { "client-b", NULL, 1 } }, *got = NULL;
	size_t n = 0;
	int64_t a_on_n1 = 0, a_on_n2 = 0;

	(void)state;
	assert_int_equal(store_rate_push(s, "n1", push, 2, 1000), STORE_OK);
	assert_int_equal(store_rate_push(s, "n1", push, 1, 1010), STORE_OK);	/* a: 3 + 3 */
	assert_int_equal(store_rate_push(s, "n2", &push[0], 1, 1020), STORE_OK);
	assert_int_equal(store_rate_pull(s, "n3", 0, &got, &n), STORE_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		if (strcmp(got[i].client_id, "client-a") == 0) {
			if (strcmp(got[i].node, "n1") == 0)
				a_on_n1 = got[i].taken;
			else
				a_on_n2 = got[i].taken;
		}
	assert_int_equal(a_on_n1, 6);
	assert_int_equal(a_on_n2, 3);
	store_rate_free(got, n);
	/* Its own rows are not shown to a node; "since" filters by update. */
	assert_int_equal(store_rate_pull(s, "n1", 1005, &got, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].node, "n2");
	store_rate_free(got, n);
	/* Five minutes untouched: pruned by the next push. */
	assert_int_equal(store_rate_push(s, "n2", &push[1], 1, 1319), STORE_OK);
	assert_int_equal(store_rate_pull(s, "x", 0, &got, &n), STORE_OK);
	assert_int_equal(n, 2);	/* n1's rows (1000, 1010) went; n2's two stay */
	store_rate_free(got, n);
	push[0].taken = 0;
	assert_int_equal(store_rate_push(s, "n1", push, 1, 2000), STORE_ERROR);
	assert_int_equal(store_rate_push(s, "", &push[1], 1, 2000), STORE_ERROR);
	store_close(s);
}

/* The clock rate totals are timed on (store_clock): the database server's
 * on PostgreSQL, this host's on SQLite; here both are this host's. */
static void
clock_reads_now(void **state)
{
	struct store *s = open_store();
	int64_t now = 0, t0 = (int64_t)time(NULL);

	(void)state;
	assert_int_equal(store_clock(s, &now), STORE_OK);
	assert_true(now >= t0 - 2 && now <= (int64_t)time(NULL) + 2);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(put_list_extend),
		STORE_TEST(clear_filters),
		STORE_TEST(clears_are_recorded),
		STORE_TEST(put_prunes_expired),
		STORE_TEST(put_keeps_a_lock_just_ended_for_clocks_behind),
		STORE_TEST(batch_is_one_transaction),
		STORE_TEST(seen_by_another_handle),
		STORE_TEST(bad_arguments_change_nothing),
		STORE_TEST(failure_counters),
		STORE_TEST(failure_pairs),
		STORE_TEST(rate_totals),
		STORE_TEST(clock_reads_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
