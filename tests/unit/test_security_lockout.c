/*
 * Unit tests for the in-memory lockout (security/lockout.h): the pair and
 * address thresholds and their isolation, the window, success clearing the
 * pair's count (also one counted on another node), and lockout_sync / lockout_expired — the step that keeps
 * the locks in step with the store: locks in the store are placed, and a
 * clear recorded there lifts (and reports) the locks older than it, never
 * a lock for being missing from the store's list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>

/* Included to reach the table's buckets (STYLE.md 18). */
#include "security/lockout.c"

static const struct lockout_config cfg = { 3, 5, 100, 50, 0 };

/* A moment with the two clocks in step (as when the wall clock does not
 * step): wall seconds w, monotonic w * 1000 ms. */
#define AT(w)		AT2((w), (w))
/* The wall clock at w, the monotonic at m seconds: a wall clock stepped
 * by w - m since the monotonic clock's 0. */
#define AT2(w, m)	((struct lockout_now){ (w), (int64_t)(m) * 1000 })

/* lockout_sync with the store's locks alone, no clear read. */
static int
sync_locks(struct lockout *l, const struct lockout_lock *locks, size_t n,
    struct lockout_now now, struct lockout_lock **removed, size_t *nremoved)
{
	return lockout_sync(l, locks, n, NULL, 0, now, removed, nremoved);
}

/* lockout_sync with one clear recorded at gen (address, client_id: NULL
 * for any); how many locks it lifted. */
static size_t
sync_clear(struct lockout *l, const char *address, const char *client_id, uint64_t gen,
    struct lockout_now now)
{
	struct lockout_cleared c = { address, client_id, gen };
	struct lockout_lock *removed = NULL;
	size_t n = 0;

	assert_int_equal(lockout_sync(l, NULL, 0, &c, 1, now, &removed, &n), 0);
	free(removed);
	return n;
}

/* lockout_mark_stored; how many locks it lifted. */
static size_t
mark(struct lockout *l, const struct lockout_lock *locks, size_t n, uint64_t gen)
{
	struct lockout_lock *removed = NULL;
	size_t nremoved = 0;

	assert_int_equal(lockout_mark_stored(l, locks, n, gen, &removed, &nremoved), 0);
	free(removed);
	return nremoved;
}

static int
locked(struct lockout *l, const char *id, const char *addr, int64_t now)
{
	int64_t retry = 0;

	return lockout_check(l, id, addr, AT(now), &retry);
}

static void
pair_and_address_thresholds(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];
	int64_t retry = 0;

	(void)state;
	assert_int_equal(lockout_failure(l, "victim", "192.0.2.1", AT(10), lk), 0);
	assert_int_equal(lockout_failure(l, "victim", "192.0.2.1", AT(11), lk), 0);
	assert_int_equal(lockout_failure(l, "victim", "192.0.2.1", AT(12), lk), 1);
	assert_int_equal(lk[0].kind, LOCKOUT_PAIR);
	assert_string_equal(lk[0].client_id, "victim");
	assert_int_equal(lk[0].until, 62);
	assert_int_equal(lockout_check(l, "victim", "192.0.2.1", AT(20), &retry), 1);
	assert_int_equal(retry, 42);
	/* The same client elsewhere, and another client here, are not locked. */
	assert_false(locked(l, "victim", "198.51.100.1", 20));
	assert_false(locked(l, "other", "192.0.2.1", 20));
	/* Two more failures of other ids here reach the address threshold (5). */
	assert_int_equal(lockout_failure(l, "x", "192.0.2.1", AT(21), lk), 0);
	assert_int_equal(lockout_failure(l, "y", "192.0.2.1", AT(22), lk), 1);
	assert_int_equal(lk[0].kind, LOCKOUT_ADDRESS);
	assert_string_equal(lk[0].client_id, "");
	assert_true(locked(l, "anyone", "192.0.2.1", 30));
	assert_false(locked(l, "anyone", "192.0.2.2", 30));
	/* Over at until. */
	assert_false(locked(l, "anyone", "192.0.2.1", 72));
	lockout_free(l);
}

/* Regression: a failure that reaches both thresholds at once made two
 * locks but reported only the address's, so the pair's stayed in this
 * process alone: never stored, listed, or lifted by `lock clear`. */
static void
both_locks_made_at_once_are_both_reported(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];

	(void)state;
	assert_int_equal(lockout_failure(l, "x", "192.0.2.1", AT(10), lk), 0);
	assert_int_equal(lockout_failure(l, "y", "192.0.2.1", AT(10), lk), 0);
	assert_int_equal(lockout_failure(l, "victim", "192.0.2.1", AT(10), lk), 0);
	assert_int_equal(lockout_failure(l, "victim", "192.0.2.1", AT(10), lk), 0);
	/* The victim's 3rd (pair threshold) is the address's 5th. */
	assert_int_equal(lockout_failure(l, "victim", "192.0.2.1", AT(10), lk), 2);
	assert_int_equal(lk[0].kind, LOCKOUT_PAIR);
	assert_string_equal(lk[0].client_id, "victim");
	assert_int_equal(lk[1].kind, LOCKOUT_ADDRESS);
	assert_string_equal(lk[1].client_id, "");
	assert_int_equal(lk[0].until, 60);
	assert_int_equal(lk[1].until, 60);
	/* The same from counts kept in the store. */
	assert_int_equal(lockout_failure_counted(l, "v2", "192.0.2.2", AT(10), 3, 5, lk), 2);
	assert_int_equal(lk[0].kind, LOCKOUT_PAIR);
	assert_string_equal(lk[0].client_id, "v2");
	assert_int_equal(lk[1].kind, LOCKOUT_ADDRESS);
	lockout_free(l);
}

/* Failures another node counted make a success here report failures to
 * clear (so the shared count is reset), never lower a count or touch a
 * lock, and are ignored once their window has ended. */
static void
failures_counted_elsewhere(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];

	(void)state;
	assert_int_equal(lockout_success(l, "c", "192.0.2.1"), 0);	/* nothing seen here */
	lockout_note_failures(l, "c", "192.0.2.1", 2, 10, AT(20));
	assert_false(locked(l, "c", "192.0.2.1", 20));
	assert_int_equal(lockout_success(l, "c", "192.0.2.1"), 1);
	assert_int_equal(lockout_success(l, "c", "192.0.2.1"), 0);	/* cleared */
	/* A window that ended (10 + 100 <= 110) teaches nothing. */
	lockout_note_failures(l, "c", "192.0.2.1", 2, 10, AT(110));
	assert_int_equal(lockout_success(l, "c", "192.0.2.1"), 0);
	/* A larger local count stays; a lock made here stays. */
	assert_int_equal(lockout_failure(l, "d", "192.0.2.1", AT(200), lk), 0);
	assert_int_equal(lockout_failure(l, "d", "192.0.2.1", AT(201), lk), 0);
	lockout_note_failures(l, "d", "192.0.2.1", 1, 195, AT(202));
	assert_int_equal(lockout_failure(l, "d", "192.0.2.1", AT(203), lk), 1);	/* the 3rd */
	lockout_note_failures(l, "d", "192.0.2.1", 9, 203, AT(204));
	assert_true(locked(l, "d", "192.0.2.1", 204));
	/* Regression: a store row's count (another node's, or altered) was
	 * kept as read: INT64_MAX and the next failure here overflowed
	 * (undefined; in practice it wrapped below zero and locked no one). */
	lockout_note_failures(l, "e", "192.0.2.2", INT64_MAX, 203, AT(204));
	assert_int_equal(lockout_failure(l, "e", "192.0.2.2", AT(205), lk), 1);
	assert_true(locked(l, "e", "192.0.2.2", 205));
	assert_int_equal(lockout_failure_counted(l, "f", "192.0.2.3", AT(206), INT64_MAX,
	    INT64_MAX, lk), 2);
	lockout_free(l);
}

static void
window_and_success(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];

	(void)state;
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(0), lk), 0);
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(1), lk), 0);
	/* The window (100 s) ends: counting starts again. */
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(150), lk), 0);
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(151), lk), 0);
	/* A success clears the pair's count. */
	lockout_success(l, "c", "192.0.2.1");
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(152), lk), 0);
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(153), lk), 0);
	/* The pair's 3rd since the success, and the address's 5th: both. */
	assert_int_equal(lockout_failure(l, "c", "192.0.2.1", AT(154), lk), 2);
	lockout_free(l);
}

static void
sync_places_and_removes(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock store[2], *removed = NULL, lk[LOCKOUT_KIND__MAX];
	size_t nremoved = 0;

	(void)state;
	memset(store, 0, sizeof(store));
	store[0].kind = LOCKOUT_ADDRESS;
	strcpy(store[0].address, "203.0.113.1");
	store[0].until = 500;
	store[1].kind = LOCKOUT_PAIR;
	strcpy(store[1].address, "203.0.113.2");
	strcpy(store[1].client_id, "c");
	store[1].until = 500;
	store[0].gen = 1;
	store[1].gen = 2;
	/* A lock made here, not yet in the store. */
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "local", "203.0.113.3", AT(100), lk);
	assert_true(locked(l, "local", "203.0.113.3", 101));

	assert_int_equal(sync_locks(l, store, 2, AT(100), &removed, &nremoved), 0);
	assert_int_equal(nremoved, 0);
	assert_null(removed);
	assert_true(locked(l, "any", "203.0.113.1", 101));	/* from another node */
	assert_true(locked(l, "c", "203.0.113.2", 101));
	assert_false(locked(l, "d", "203.0.113.2", 101));
	assert_true(locked(l, "local", "203.0.113.3", 101));	/* kept: write on its way */

	/* A list lacking a lock lifts nothing: a list is read by a clock. */
	assert_int_equal(sync_locks(l, &store[1], 1, AT(110), &removed, &nremoved), 0);
	assert_int_equal(nremoved, 0);
	assert_true(locked(l, "any", "203.0.113.1", 111));
	/* The operator cleared the address (generation 3): that lifts it. */
	{
		struct lockout_cleared c = { "203.0.113.1", NULL, 3 };
		assert_int_equal(lockout_sync(l, &store[1], 1, &c, 1, AT(110), &removed,
		    &nremoved), 0);
	}
	assert_int_equal(nremoved, 1);
	assert_int_equal(removed[0].kind, LOCKOUT_ADDRESS);
	assert_string_equal(removed[0].address, "203.0.113.1");
	free(removed);
	assert_false(locked(l, "any", "203.0.113.1", 111));
	assert_true(locked(l, "c", "203.0.113.2", 111));
	assert_true(locked(l, "local", "203.0.113.3", 111));

	/* Once the local lock's row is seen in the store (generation 4), a
	 * clear of every lock (5) removes it too. */
	store[0].kind = LOCKOUT_PAIR;
	strcpy(store[0].address, "203.0.113.3");
	strcpy(store[0].client_id, "local");
	store[0].until = 150;
	store[0].gen = 4;
	assert_int_equal(sync_locks(l, store, 2, AT(112), &removed, &nremoved), 0);
	assert_int_equal(nremoved, 0);
	free(removed);
	assert_int_equal(sync_clear(l, NULL, NULL, 5, AT(113)), 2);
	assert_false(locked(l, "local", "203.0.113.3", 114));
	assert_false(locked(l, "c", "203.0.113.2", 114));
	lockout_free(l);
}

static void
stored_then_cleared_before_any_sync(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX], *removed = NULL;
	size_t nremoved = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "c", "203.0.113.4", AT(100), lk);
	/* A clear at generation 6, read while the lock's write is on its
	 * way, keeps it: the write came after (7). */
	assert_int_equal(sync_clear(l, "203.0.113.4", "c", 6, AT(101)), 0);
	assert_int_equal(mark(l, lk, 1, 7), 0);
	assert_true(locked(l, "c", "203.0.113.4", 101));
	/* Another lock's write committed at 9, and a clear at 10 was read
	 * before the writer knew its generation: that lifts it then. */
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "c", "203.0.113.5", AT(102), lk);
	assert_int_equal(sync_clear(l, "203.0.113.5", NULL, 10, AT(102)), 0);
	assert_true(locked(l, "c", "203.0.113.5", 102));
	assert_int_equal(mark(l, lk, 1, 9), 1);
	(void)removed;
	(void)nremoved;
	assert_false(locked(l, "c", "203.0.113.5", 103));
	assert_true(locked(l, "c", "203.0.113.4", 103));
	lockout_free(l);
}

static void
expired_reported_once(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX], *out = NULL;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "c", "192.0.2.7", AT(10), lk);
	assert_int_equal(lockout_expired(l, AT(30), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(lockout_expired(l, AT(60), &out, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].client_id, "c");
	assert_string_equal(out[0].address, "192.0.2.7");
	free(out);
	assert_int_equal(lockout_expired(l, AT(61), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	lockout_free(l);
}

/* Regression: with the table full of open windows (many addresses each
 * failing once), a new address was not counted at all, so it could guess
 * without ever being locked. The oldest window now makes room, as
 * lockout.h says; live locks are never dropped for it. */
static void
full_table_still_counts(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];
	char addr[46];

	(void)state;
	/* Each failure makes two entries: the pair's and the address's. */
	for (int i = 0; i < LOCKOUT_MAX_ENTRIES / 2; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_int_equal(lockout_failure(l, "filler", addr, AT(10), lk), 0);
	}
	/* A lock made while full stays, however many entries come after. */
	assert_int_equal(lockout_failure(l, "c", "192.0.2.9", AT(11), lk), 0);
	assert_int_equal(lockout_failure(l, "c", "192.0.2.9", AT(11), lk), 0);
	assert_int_equal(lockout_failure(l, "c", "192.0.2.9", AT(11), lk), 1);
	assert_true(locked(l, "c", "192.0.2.9", 12));
	for (int i = 0; i < LOCKOUT_MAX_ENTRIES / 2; i++) {
		snprintf(addr, sizeof(addr), "172.%d.%d.%d", 16 + (i >> 16), (i >> 8) & 255, i & 255);
		assert_int_equal(lockout_failure(l, "filler", addr, AT(12), lk), 0);
	}
	assert_true(locked(l, "c", "192.0.2.9", 13));
	/* And a newcomer is counted and locked as always. */
	assert_int_equal(lockout_failure(l, "d", "198.51.100.9", AT(13), lk), 0);
	assert_int_equal(lockout_failure(l, "d", "198.51.100.9", AT(13), lk), 0);
	assert_int_equal(lockout_failure(l, "d", "198.51.100.9", AT(13), lk), 1);
	assert_true(locked(l, "d", "198.51.100.9", 14));
	lockout_free(l);
}

/* FNV-1a modulo the bucket count: the table's hash before it was keyed. */
static unsigned
public_bucket(const char *s)
{
	unsigned h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % BUCKETS;
}

/* Regression: buckets were chosen by a public hash of "p|ADDR|ID", and
 * client ids are the caller's to choose, so failures could pile thousands
 * of entries into one chain, which every lookup of that bucket walked
 * under the mutex all token requests take (60,000 of them: ~0.6 ms a
 * lookup). Keyed, the same ids spread over the table. */
static void
chosen_ids_do_not_share_a_bucket(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];
	unsigned target = public_bucket("p|192.0.2.50|x0");
	size_t made = 0, longest = 0;
	char id[32], key[LOCKOUT_KEY_MAX];

	(void)state;
	for (unsigned j = 0; made < 2000; j++) {
		snprintf(id, sizeof(id), "x%u", j);
		snprintf(key, sizeof(key), "p|192.0.2.50|%s", id);
		if (public_bucket(key) != target)
			continue;
		lockout_failure(l, id, "192.0.2.50", AT(10), lk);
		made++;
	}
	for (size_t i = 0; i < BUCKETS; i++) {
		size_t n = 0;

		for (struct entry *e = l->buckets[i]; e != NULL; e = e->next)
			n++;
		if (n > longest)
			longest = n;
	}
	assert_true(longest < 32);
	lockout_free(l);
}

/* Regression: with the table full of locks in force (a flood from many
 * addresses, each failing up to its threshold), a newcomer's failures were
 * not counted at all, so it could guess for as long as the flood kept the
 * table full, never locked. The lock that ends first now makes room. */
static void
table_full_of_locks_still_locks_a_newcomer(void **state)
{
	static const struct lockout_config both = { 3, 3, 100, 50, 0 };
	struct lockout *l = lockout_new(&both);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];
	char addr[46];

	(void)state;
	/* Three failures lock the pair and the address: two entries. */
	for (int i = 0; i < LOCKOUT_MAX_ENTRIES / 2; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		lockout_failure(l, "filler", addr, AT(10 + i / 8192), lk);
		lockout_failure(l, "filler", addr, AT(10 + i / 8192), lk);
		assert_int_equal(lockout_failure(l, "filler", addr, AT(10 + i / 8192), lk), 2);
	}
	assert_int_equal(l->n, LOCKOUT_MAX_ENTRIES);
	assert_true(locked(l, "filler", "10.0.0.0", 20));
	assert_int_equal(lockout_failure(l, "g", "192.0.2.77", AT(20), lk), 0);
	assert_int_equal(lockout_failure(l, "g", "192.0.2.77", AT(20), lk), 0);
	assert_int_equal(lockout_failure(l, "g", "192.0.2.77", AT(20), lk), 2);
	assert_true(locked(l, "g", "192.0.2.77", 21));
	assert_true(l->n <= LOCKOUT_MAX_ENTRIES);
	/* Made room from the locks that end first; the newest stay. */
	assert_true(locked(l, "filler", "10.0.127.255", 21));
	/* Placing a lock from the store does not drop another. */
	{
		struct lockout_lock put = { .kind = LOCKOUT_ADDRESS, .until = 60 };
		snprintf(put.address, sizeof(put.address), "198.51.100.3");
		struct lockout_lock *removed = NULL;
		size_t nremoved = 0;

		assert_int_equal(sync_locks(l, &put, 1, AT(21), &removed, &nremoved), 0);
		assert_false(locked(l, "x", "198.51.100.3", 21));
		assert_int_equal(l->n, LOCKOUT_MAX_ENTRIES);
	}
	lockout_free(l);
}

/* Regression: a lock's time was measured on the wall clock, so a step of
 * it (NTP, a VM resumed) moved every live lock: a step back lengthened it
 * by the step (here 600 s on a 50 s lock), a step forward ended it at
 * once. Its remaining time is now measured on the monotonic clock; the
 * wall-clock until stays what is listed and stored. */
static void
a_wall_clock_step_neither_ends_nor_lengthens_a_lock(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX], *out = NULL;
	size_t n = 0;
	int64_t retry = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "back", "192.0.2.20", AT(1000), lk);
	assert_int_equal(lk[0].until, 1050);
	/* The wall clock steps back 600 s; 20 s pass. */
	assert_int_equal(lockout_check(l, "back", "192.0.2.20", AT2(420, 1020), &retry), 1);
	assert_int_equal(retry, 30);
	assert_int_equal(lockout_check(l, "back", "192.0.2.20", AT2(451, 1051), &retry), 0);
	assert_int_equal(lockout_expired(l, AT2(451, 1051), &out, &n), 0);
	assert_int_equal(n, 1);
	free(out);
	/* Read back from the store, where its wall-clock end is still ahead,
	 * the lock that ended here does not start again. */
	lk[0].until = 1050;
	assert_int_equal(sync_locks(l, lk, 1, AT2(452, 1052), &out, &n), 0);
	assert_false(lockout_check(l, "back", "192.0.2.20", AT2(453, 1053), &retry));

	for (int i = 0; i < 3; i++)
		lockout_failure(l, "fwd", "192.0.2.21", AT(2000), lk);
	assert_int_equal(mark(l, lk, 1, 5), 0);
	/* The wall clock steps forward an hour; 10 s pass. */
	assert_int_equal(lockout_check(l, "fwd", "192.0.2.21", AT2(5610, 2010), &retry), 1);
	assert_int_equal(retry, 40);
	assert_int_equal(lockout_expired(l, AT2(5610, 2010), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(lockout_list(l, AT2(5610, 2010), &out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].until, 2050);	/* listed as made */
	free(out);
	/* The store's list leaves it out (ended, by the wall clock): that is
	 * no clear. */
	assert_int_equal(sync_locks(l, NULL, 0, AT2(5611, 2011), &out, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lockout_check(l, "fwd", "192.0.2.21", AT2(5611, 2011), &retry), 1);
	assert_int_equal(lockout_check(l, "fwd", "192.0.2.21", AT2(5649, 2049), &retry), 1);
	assert_int_equal(lockout_check(l, "fwd", "192.0.2.21", AT2(5650, 2050), &retry), 0);
	lockout_free(l);
}

/*
 * Regression: after the wall clock stepped forward past a lock's stored
 * end (plus leeway), the store's list, read by that clock, passed the
 * lock over; a `lock clear` then never reached it (the lock was missing
 * from the list either way), and it stayed in force here for the rest of
 * its time. A clear is now read as such, whatever the clock says.
 */
static void
a_clear_reaches_a_lock_the_read_passed_over(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "fwd", "192.0.2.22", AT(2000), lk);
	assert_int_equal(mark(l, lk, 1, 5), 0);
	/* The wall clock steps forward an hour; the operator clears it (6). */
	assert_true(locked(l, "fwd", "192.0.2.22", 2010));
	assert_int_equal(sync_clear(l, "192.0.2.22", NULL, 6, AT2(5611, 2011)), 1);
	assert_false(locked(l, "fwd", "192.0.2.22", 2011));
	lockout_free(l);
}

/*
 * Regression: a node whose clock is far behind the others' lifted its
 * locks as cleared when another node's lock write pruned them from the
 * store as ended by its own clock (or the database's): the lock was
 * missing from the next list. A missing lock is no clear.
 */
static void
a_lock_pruned_from_the_store_is_not_lifted(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX], *out = NULL;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "behind", "192.0.2.23", AT(3000), lk);
	assert_int_equal(mark(l, lk, 1, 5), 0);
	lk[0].gen = 5;
	assert_int_equal(sync_locks(l, lk, 1, AT(3001), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	/* Another node's write (6) pruned the row: the list lacks it. */
	assert_int_equal(sync_locks(l, NULL, 0, AT(3002), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_true(locked(l, "behind", "192.0.2.23", 3003));
	/* A clear of another address, and of another client here, leave it. */
	assert_int_equal(sync_clear(l, "192.0.2.24", NULL, 7, AT(3004)), 0);
	assert_int_equal(sync_clear(l, "192.0.2.23", "other", 8, AT(3004)), 0);
	assert_int_equal(sync_clear(l, NULL, "other", 9, AT(3004)), 0);
	assert_true(locked(l, "behind", "192.0.2.23", 3005));
	/* A clear of the client at every address lifts it. */
	assert_int_equal(sync_clear(l, NULL, "behind", 10, AT(3006)), 1);
	assert_false(locked(l, "behind", "192.0.2.23", 3006));
	lockout_free(l);
}

/* Regression: the window failures are counted over ran on the wall clock:
 * a step back kept it open for the step (three failures far apart locked),
 * a step forward closed it at once (three in a row did not). */
static void
the_failure_window_is_measured_on_the_monotonic_clock(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX];

	(void)state;
	assert_int_equal(lockout_failure(l, "c", "192.0.2.30", AT(5000), lk), 0);
	assert_int_equal(lockout_failure(l, "c", "192.0.2.30", AT(5001), lk), 0);
	/* 150 s later (the 100 s window ended), the wall clock 950 s back. */
	assert_int_equal(lockout_failure(l, "c", "192.0.2.30", AT2(4200, 5150), lk), 0);
	assert_false(locked(l, "c", "192.0.2.30", 5150));

	assert_int_equal(lockout_failure(l, "d", "192.0.2.31", AT(6000), lk), 0);
	assert_int_equal(lockout_failure(l, "d", "192.0.2.31", AT(6001), lk), 0);
	/* 1 s later, the wall clock an hour on. */
	assert_int_equal(lockout_failure(l, "d", "192.0.2.31", AT2(9602, 6002), lk), 1);
	lockout_free(l);
}

/*
 * Regression: a lock read from the store (another node's, or made here
 * before a restart) was in force until its wall-clock end as this node's
 * clock read it: made by a node an hour ahead (or read after this clock
 * stepped back), a 50 s lock lasted an hour and 50 s here. Now it lasts
 * no more than a duration from the read, and a read again does not
 * lengthen it.
 */
static void
a_lock_read_from_the_store_lasts_at_most_a_duration(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock st[2], *removed = NULL;
	size_t nremoved = 0;
	int64_t retry = 0;

	(void)state;
	memset(st, 0, sizeof(st));
	for (int i = 0; i < 2; i++) {
		st[i].kind = LOCKOUT_ADDRESS;
		snprintf(st[i].address, sizeof(st[i].address), "198.51.100.%d", 40 + i);
	}
	st[0].until = 1000 + 3600 + 50;	/* made by a node an hour ahead */
	st[1].until = 1000 + 20;	/* 20 s left */
	assert_int_equal(sync_locks(l, st, 2, AT(1000), &removed, &nremoved), 0);
	assert_int_equal(lockout_check(l, "x", "198.51.100.40", AT(1000), &retry), 1);
	assert_int_equal(retry, 50);	/* a duration, not an hour */
	assert_int_equal(lockout_check(l, "x", "198.51.100.41", AT(1000), &retry), 1);
	assert_int_equal(retry, 20);
	/* Read again and again, the first does not move on. */
	assert_int_equal(sync_locks(l, st, 2, AT(1030), &removed, &nremoved), 0);
	assert_int_equal(nremoved, 0);
	assert_int_equal(lockout_check(l, "x", "198.51.100.40", AT(1049), &retry), 1);
	assert_int_equal(retry, 1);
	assert_false(locked(l, "x", "198.51.100.40", 1050));
	assert_int_equal(sync_locks(l, st, 1, AT(1051), &removed, &nremoved), 0);
	assert_false(locked(l, "x", "198.51.100.40", 1052));
	/* Placed anew, it converts alike. */
	st[0].until = 2000 + 3600;
	snprintf(st[0].address, sizeof(st[0].address), "198.51.100.49");
	assert_int_equal(sync_locks(l, st, 1, AT(2000), &removed, &nremoved), 0);
	assert_int_equal(lockout_check(l, "x", "198.51.100.49", AT(2000), &retry), 1);
	assert_int_equal(retry, 50);
	lockout_free(l);
}

/*
 * Regression: a lock made by a node whose clock is behind this one's
 * looked over early here, and was not in force at all when the skew
 * passed its duration: a guesser moved to this node. Up to leeway (the
 * skew accepted between clocks) is now trusted: such a lock lasts until
 * its end plus leeway, still never more than a duration from the read.
 */
static void
a_lock_from_a_node_behind_is_kept_for_leeway(void **state)
{
	static const struct lockout_config skew = { 3, 5, 100, 50, 10 };
	struct lockout *l = lockout_new(&skew);
	struct lockout_lock st[3], *removed = NULL;
	size_t nremoved = 0;
	int64_t retry = 0;

	(void)state;
	memset(st, 0, sizeof(st));
	for (int i = 0; i < 3; i++) {
		st[i].kind = LOCKOUT_ADDRESS;
		snprintf(st[i].address, sizeof(st[i].address), "198.51.100.%d", 60 + i);
	}
	st[0].until = 1000 - 30 + 50;	/* made by a node 30 s behind */
	st[1].until = 1000 - 55 + 50;	/* 55 s behind: over 5 s ago, as read here */
	st[2].until = 1000 + 3600;	/* an hour ahead: still a duration */
	assert_int_equal(lockout_read_after(l, AT(1000)), 990);
	assert_int_equal(sync_locks(l, st, 3, AT(1000), &removed, &nremoved), 0);
	assert_int_equal(lockout_check(l, "x", "198.51.100.60", AT(1000), &retry), 1);
	assert_int_equal(retry, 30);	/* its 20 s left, plus leeway */
	assert_int_equal(lockout_check(l, "x", "198.51.100.61", AT(1000), &retry), 1);
	assert_int_equal(retry, 5);
	assert_int_equal(lockout_check(l, "x", "198.51.100.62", AT(1000), &retry), 1);
	assert_int_equal(retry, 50);
	/* Read again, ended here: not placed again. */
	assert_false(locked(l, "x", "198.51.100.61", 1005));
	assert_int_equal(sync_locks(l, st, 3, AT(1006), &removed, &nremoved), 0);
	assert_false(locked(l, "x", "198.51.100.61", 1006));
	/* Placed anew, likewise. */
	st[0].until = 1995;
	snprintf(st[0].address, sizeof(st[0].address), "198.51.100.69");
	assert_int_equal(sync_locks(l, st, 1, AT(2000), &removed, &nremoved), 0);
	assert_int_equal(lockout_check(l, "x", "198.51.100.69", AT(2000), &retry), 1);
	assert_int_equal(retry, 5);
	lockout_free(l);
}

/*
 * Regression: a sync that read an older lock's row (the store keeps it,
 * and a reload reads it, until leeway past its end) while a newer lock of
 * the same pair, made here, was still on its way to the store took the
 * newer lock for stored. Once the old row left the read, and while the
 * write had not landed (retried, or dropped from a full queue), the next
 * sync lifted the newer lock as cleared: the guesser went on at once.
 */
static void
an_older_row_is_not_taken_for_a_newer_lock(void **state)
{
	static const struct lockout_config skew = { 3, 50, 100, 50, 30 };
	struct lockout *l = lockout_new(&skew);
	struct lockout_lock lk[LOCKOUT_KIND__MAX], old, *out = NULL;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "c", "192.0.2.80", AT(1000), lk);
	assert_int_equal(mark(l, lk, 1, 5), 0);
	old = lk[0];					/* until 1050, in the store */
	assert_int_equal(sync_locks(l, &old, 1, AT(1001), &out, &n), 0);
	free(out);
	assert_int_equal(lockout_expired(l, AT(1051), &out, &n), 0);
	assert_int_equal(n, 1);
	free(out);
	/* Locked again at once; its write does not reach the store. */
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "c", "192.0.2.80", AT(1052), lk);
	assert_int_equal(lk[0].until, 1102);
	/* Another node's lock moves the counter: the old row is read. */
	assert_int_equal(sync_locks(l, &old, 1, AT(1053), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	/* Past the old row's leeway, a sync lacking both keeps the new lock;
	 * so does a clear newer than the old row (7) but older than the new
	 * lock's write (8), read while that write was on its way. */
	assert_int_equal(sync_locks(l, NULL, 0, AT(1090), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(sync_clear(l, "192.0.2.80", "c", 7, AT(1090)), 0);
	assert_true(locked(l, "c", "192.0.2.80", 1090));
	assert_int_equal(mark(l, lk, 1, 8), 0);
	assert_true(locked(l, "c", "192.0.2.80", 1090));
	/* A clear after the write removes it. */
	assert_int_equal(sync_clear(l, "192.0.2.80", "c", 9, AT(1091)), 1);
	assert_false(locked(l, "c", "192.0.2.80", 1091));
	lockout_free(l);
}

/* lockout_ended (the lock writer's retry): by this node's own clock, and
 * for this exact lock only. */
static void
a_lock_has_ended_by_the_monotonic_clock(void **state)
{
	struct lockout *l = lockout_new(&cfg);
	struct lockout_lock lk[LOCKOUT_KIND__MAX], old, gone;

	(void)state;
	for (int i = 0; i < 3; i++)
		lockout_failure(l, "e", "192.0.2.30", AT(1000), lk);
	assert_int_equal(lk[0].until, 1050);
	/* The wall clock steps forward an hour, or back: in force for 50 s. */
	assert_false(lockout_ended(l, &lk[0], AT2(4600, 1010)));
	assert_false(lockout_ended(l, &lk[0], AT2(500, 1049)));
	assert_true(lockout_ended(l, &lk[0], AT2(500, 1050)));
	/* Another lock of the same key (an older one) has ended. */
	old = lk[0];
	old.until = 1040;
	assert_true(lockout_ended(l, &old, AT(1010)));
	/* Cleared, it has ended. */
	assert_int_equal(lockout_clear(l, "192.0.2.30", "e"), 1);
	assert_true(lockout_ended(l, &lk[0], AT(1010)));
	/* One this table does not hold (made room for): the wall clock. */
	gone = lk[0];
	snprintf(gone.address, sizeof(gone.address), "192.0.2.31");
	assert_false(lockout_ended(l, &gone, AT(1049)));
	assert_true(lockout_ended(l, &gone, AT(1050)));
	lockout_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pair_and_address_thresholds),
		cmocka_unit_test(both_locks_made_at_once_are_both_reported),
		cmocka_unit_test(window_and_success),
		cmocka_unit_test(failures_counted_elsewhere),
		cmocka_unit_test(sync_places_and_removes),
		cmocka_unit_test(stored_then_cleared_before_any_sync),
		cmocka_unit_test(expired_reported_once),
		cmocka_unit_test(full_table_still_counts),
		cmocka_unit_test(chosen_ids_do_not_share_a_bucket),
		cmocka_unit_test(table_full_of_locks_still_locks_a_newcomer),
		cmocka_unit_test(a_wall_clock_step_neither_ends_nor_lengthens_a_lock),
		cmocka_unit_test(the_failure_window_is_measured_on_the_monotonic_clock),
		cmocka_unit_test(a_lock_read_from_the_store_lasts_at_most_a_duration),
		cmocka_unit_test(a_lock_from_a_node_behind_is_kept_for_leeway),
		cmocka_unit_test(an_older_row_is_not_taken_for_a_newer_lock),
		cmocka_unit_test(a_clear_reaches_a_lock_the_read_passed_over),
		cmocka_unit_test(a_lock_pruned_from_the_store_is_not_lifted),
		cmocka_unit_test(a_lock_has_ended_by_the_monotonic_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
