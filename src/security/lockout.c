/* lockout.c — see lockout.h. A hash table of counters under one mutex: the
 * critical sections are a lookup and a few integer updates. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "security/lockout.h"
#include "util/util.h"

const char *const lockout_kind_names[LOCKOUT_KIND__MAX] = { "pair", "address" };

#define BUCKETS 16384

struct entry {
	char		 key[LOCKOUT_KEY_MAX];	/* "a|ADDR" or "p|ADDR|ID" */
	enum lockout_kind kind;
	int64_t		 window_start;	/* monotonic ms */
	int64_t		 failures;
	int64_t		 locked_until;	/* wall seconds, shown and stored; 0 none */
	int64_t		 mono_until;	/* monotonic ms: when it ends here */
	int64_t		 placed_until;	/* the last lock placed (wall), kept past its end */
	int		 pending;	/* made here; the store generation of its write unknown */
	uint64_t	 gen;		/* not pending: its row's store generation */
	uint64_t	 cleared_gen;	/* pending: the newest clear that named it */
	struct entry	*next;
	struct entry	*older, *newer;	/* in the order made (make_room) */
};

struct lockout {
	struct lockout_config	 cfg;
	pthread_mutex_t		 mu;
	struct entry		*buckets[BUCKETS];
	size_t			 n;
	struct entry		*oldest, *newest;
	uint8_t			 hash_key[16];	/* drawn for this table (hash) */
};

struct lockout_now
lockout_now_at(int64_t wall)
{
	struct lockout_now now = { wall, (int64_t)(clock_mono_ns() / 1000000) };

	return now;
}

/* Whether e holds a lock in force at now: on the monotonic clock. */
static int
in_force(const struct entry *e, struct lockout_now now)
{
	return e->locked_until != 0 && e->mono_until > now.mono_ms;
}

/*
 * The monotonic end of a lock read from the store, which ends at until on
 * the wall clock of the node that made it. Its clock may differ from this
 * one's: up to leeway behind is trusted (the lock ends leeway later here
 * than this clock says), and never longer than a lock's duration from
 * now (a node ahead, or a wall clock stepped back, would lengthen it
 * without bound: an hour ahead made a 15-minute lock last 75 minutes).
 */
static int64_t
mono_end(const struct lockout *l, int64_t until, struct lockout_now now)
{
	int64_t left;

	if (until <= now.wall - l->cfg.leeway)
		left = 0;
	else if (until - now.wall >= l->cfg.duration - l->cfg.leeway)
		left = l->cfg.duration;
	else
		left = until - now.wall + l->cfg.leeway;
	return now.mono_ms + left * 1000;
}

int64_t
lockout_read_after(const struct lockout *l, struct lockout_now now)
{
	return now.wall - l->cfg.leeway;
}

/*
 * Places a lock read from the store, ending at until, in e; 1 when e then
 * holds a lock in force. A lock placed before (made here, or read) keeps
 * its end here: read again at every sync, its end recomputed would move
 * on with each read while capped at a duration from now, and one ended
 * here (the monotonic clock) would start again while the wall clock,
 * stepped back, says it has time left. A lock older than the one in force
 * here (whose write is on its way) changes nothing.
 */
static int
place(const struct lockout *l, struct entry *e, int64_t until, struct lockout_now now)
{
	int64_t end;

	if (until == e->placed_until)
		return in_force(e, now);
	if (in_force(e, now) && e->locked_until >= until)
		return 1;
	end = mono_end(l, until, now);
	e->placed_until = until;
	if (end <= now.mono_ms)
		return in_force(e, now);
	if (!in_force(e, now) || e->mono_until < end)
		e->mono_until = end;
	e->locked_until = until;
	return 1;
}

/*
 * The bucket of a key: SipHash-2-4 under a key drawn for this table.
 * Client ids, and with IPv6 addresses, are the caller's to choose: with a
 * public hash (FNV, before) failures could pile thousands of entries into
 * one chain, which every lookup of that bucket walks under the mutex all
 * token requests take (~0.6 ms for 60,000).
 */
static unsigned
hash(const struct lockout *l, const char *s)
{
	return (unsigned)(siphash24(l->hash_key, s, strlen(s)) % BUCKETS);
}

static void
make_key(char out[LOCKOUT_KEY_MAX], enum lockout_kind k, const char *addr,
    const char *id)
{
	if (k == LOCKOUT_ADDRESS)
		snprintf(out, LOCKOUT_KEY_MAX, "a|%.45s", addr);
	else
		snprintf(out, LOCKOUT_KEY_MAX, "p|%.45s|%.128s", addr, id);
}

struct lockout *
lockout_new(const struct lockout_config *cfg)
{
	struct lockout *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	if (rand_bytes(l->hash_key, sizeof(l->hash_key)) == -1) {
		free(l);
		return NULL;
	}
	l->cfg = *cfg;
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

void
lockout_free(struct lockout *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		struct entry *e = l->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&l->mu);
	OPENSSL_cleanse(l->hash_key, sizeof(l->hash_key));
	free(l);
}

static struct entry *
find(struct lockout *l, const char *key)
{
	struct entry *e;

	for (e = l->buckets[hash(l, key)]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void
age_unlink(struct lockout *l, struct entry *e)
{
	*(e->older != NULL ? &e->older->newer : &l->oldest) = e->newer;
	*(e->newer != NULL ? &e->newer->older : &l->newest) = e->older;
	e->older = e->newer = NULL;
}

static void
age_append(struct lockout *l, struct entry *e)
{
	e->older = l->newest;
	e->newer = NULL;
	*(l->newest != NULL ? &l->newest->newer : &l->oldest) = e;
	l->newest = e;
}

/* Takes e out of the table and frees it. */
static void
drop(struct lockout *l, struct entry *e)
{
	struct entry **pp;

	for (pp = &l->buckets[hash(l, e->key)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	free(e);
	l->n--;
}

/*
 * Makes room for one entry in a full table: drops the oldest made that
 * holds no lock in force (other than keep, which the caller still holds);
 * a lock met on the way goes to the young end. Refusing newcomers instead
 * would let an address, once many others had failed once each, guess
 * without ever being counted, so without ever being locked. A few steps,
 * not a scan of the table: the table is full on every insert of a flood.
 *
 * When every step met a lock in force, and evict_lock is set (a failure
 * to count), the lock of those that ends first goes: a table kept full of
 * locks (a flood from many addresses) must not switch off the lockout for
 * the next guesser. The dropped lock stays in the store (lock list, other
 * nodes); a lock made now is the young end's, the last to go.
 * 1 when an entry was dropped.
 */
#define MAKE_ROOM_STEPS	64
static int
make_room(struct lockout *l, struct lockout_now now, const struct entry *keep,
    int evict_lock)
{
	struct entry *first_ending = NULL;

	for (int i = 0; i < MAKE_ROOM_STEPS && l->oldest != NULL; i++) {
		struct entry *e = l->oldest;

		age_unlink(l, e);
		if (e == keep || in_force(e, now)) {
			age_append(l, e);
			if (e != keep && (first_ending == NULL ||
			    e->mono_until < first_ending->mono_until))
				first_ending = e;
			continue;
		}
		drop(l, e);
		return 1;
	}
	if (!evict_lock || first_ending == NULL)
		return 0;
	age_unlink(l, first_ending);
	drop(l, first_ending);
	return 1;
}

/* The entry for key, made when missing; keep (an entry the caller still
 * holds) is never dropped to make room for it, and a lock in force only
 * for a failure to count (COUNTING, make_room). */
#define COUNTING	1
#define PLACING		0
static struct entry *
get_or_add(struct lockout *l, const char *key, enum lockout_kind kind,
    struct lockout_now now, const struct entry *keep, int counting)
{
	struct entry *e = find(l, key);
	unsigned b;

	if (e != NULL)
		return e;
	if (l->n >= LOCKOUT_MAX_ENTRIES && !make_room(l, now, keep, counting))
		return NULL;	/* placing a lock in a table full of them */
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->kind = kind;
	e->window_start = now.mono_ms;
	b = hash(l, key);
	e->next = l->buckets[b];
	l->buckets[b] = e;
	age_append(l, e);
	l->n++;
	return e;
}

int
lockout_check(struct lockout *l, const char *client_id, const char *address,
    struct lockout_now now, int64_t *retry_after)
{
	char k1[LOCKOUT_KEY_MAX], k2[LOCKOUT_KEY_MAX];
	struct entry *e;
	int64_t end = 0;

	make_key(k1, LOCKOUT_ADDRESS, address, NULL);
	make_key(k2, LOCKOUT_PAIR, address, client_id);
	pthread_mutex_lock(&l->mu);
	if ((e = find(l, k1)) != NULL && in_force(e, now))
		end = e->mono_until;
	if ((e = find(l, k2)) != NULL && in_force(e, now) && e->mono_until > end)
		end = e->mono_until;
	pthread_mutex_unlock(&l->mu);
	if (end > now.mono_ms) {
		*retry_after = (end - now.mono_ms + 999) / 1000;	/* whole seconds, up */
		return 1;
	}
	return 0;
}

/* Locks e when n failures reach threshold (and it is not locked yet). */
static int
lock_if(struct lockout *l, struct entry *e, int64_t n, int64_t threshold,
    struct lockout_now now)
{
	if (e == NULL || in_force(e, now) || n < threshold)
		return 0;
	e->locked_until = now.wall + l->cfg.duration;
	e->mono_until = now.mono_ms + l->cfg.duration * 1000;
	e->placed_until = e->locked_until;	/* read back from the store: the same lock */
	e->pending = 1;		/* a new lock: its write has not been seen yet */
	e->gen = 0;
	e->cleared_gen = 0;
	e->failures = 0;
	e->window_start = now.mono_ms;
	return 1;
}

static int
count(struct lockout *l, struct entry *e, int64_t threshold, struct lockout_now now)
{
	if (e == NULL || in_force(e, now))
		return 0;
	if (e->window_start + l->cfg.window * 1000 <= now.mono_ms) {
		e->window_start = now.mono_ms;
		e->failures = 0;
	}
	return lock_if(l, e, ++e->failures, threshold, now);
}

/* Fills made[n] for a lock of kind just made; returns n + 1. */
static int
made_lock(const struct lockout *l, enum lockout_kind kind, const char *client_id,
    const char *address, struct lockout_now now, struct lockout_lock made[LOCKOUT_KIND__MAX],
    int n)
{
	memset(&made[n], 0, sizeof(made[n]));
	made[n].kind = kind;
	snprintf(made[n].address, sizeof(made[n].address), "%s", address);
	if (kind == LOCKOUT_PAIR)
		snprintf(made[n].client_id, sizeof(made[n].client_id), "%s", client_id);
	made[n].until = now.wall + l->cfg.duration;
	return n + 1;
}

/* The locks just made, pair first, into made: each must be reported, since
 * the caller writes to the store, logs and audits only those (one left
 * out stays in this process's memory alone: unlisted, not shared with
 * other nodes, and never lifted by `lock clear`). */
static int
made_locks(const struct lockout *l, int pair, int addr, const char *client_id,
    const char *address, struct lockout_now now, struct lockout_lock made[LOCKOUT_KIND__MAX])
{
	int n = 0;

	if (pair)
		n = made_lock(l, LOCKOUT_PAIR, client_id, address, now, made, n);
	if (addr)
		n = made_lock(l, LOCKOUT_ADDRESS, client_id, address, now, made, n);
	return n;
}

int
lockout_failure(struct lockout *l, const char *client_id, const char *address,
    struct lockout_now now, struct lockout_lock made[LOCKOUT_KIND__MAX])
{
	char k1[LOCKOUT_KEY_MAX], k2[LOCKOUT_KEY_MAX];
	struct entry *ep;
	int pair, addr;

	make_key(k1, LOCKOUT_ADDRESS, address, NULL);
	make_key(k2, LOCKOUT_PAIR, address, client_id);
	pthread_mutex_lock(&l->mu);
	ep = get_or_add(l, k2, LOCKOUT_PAIR, now, NULL, COUNTING);
	pair = count(l, ep, l->cfg.pair_threshold, now);
	addr = count(l, get_or_add(l, k1, LOCKOUT_ADDRESS, now, ep, COUNTING),
	    l->cfg.address_threshold, now);
	pthread_mutex_unlock(&l->mu);
	return made_locks(l, pair, addr, client_id, address, now, made);
}

/* A count read from the store, as a local entry keeps it: at most the
 * threshold, which locks all the same (a row's count is not trusted to
 * leave room for ++ below INT64_MAX). */
static int64_t
count_bounded(int64_t n, int64_t threshold)
{
	return n > threshold ? threshold : n;
}

int
lockout_failure_counted(struct lockout *l, const char *client_id, const char *address,
    struct lockout_now now, int64_t pair_count, int64_t address_count,
    struct lockout_lock made[LOCKOUT_KIND__MAX])
{
	char k1[LOCKOUT_KEY_MAX], k2[LOCKOUT_KEY_MAX];
	struct entry *ep, *ea;
	int pair, addr;

	make_key(k1, LOCKOUT_ADDRESS, address, NULL);
	make_key(k2, LOCKOUT_PAIR, address, client_id);
	pthread_mutex_lock(&l->mu);
	ep = get_or_add(l, k2, LOCKOUT_PAIR, now, NULL, COUNTING);
	ea = get_or_add(l, k1, LOCKOUT_ADDRESS, now, ep, COUNTING);
	/* The local entries remember that failures were seen here (for
	 * lockout_success), their window open. */
	if (ep != NULL && !in_force(ep, now)) {
		ep->failures = count_bounded(pair_count, l->cfg.pair_threshold);
		ep->window_start = now.mono_ms;
	}
	if (ea != NULL && !in_force(ea, now)) {
		ea->failures = count_bounded(address_count, l->cfg.address_threshold);
		ea->window_start = now.mono_ms;
	}
	pair = lock_if(l, ep, pair_count, l->cfg.pair_threshold, now);
	addr = lock_if(l, ea, address_count, l->cfg.address_threshold, now);
	pthread_mutex_unlock(&l->mu);
	return made_locks(l, pair, addr, client_id, address, now, made);
}

void
lockout_note_failures(struct lockout *l, const char *client_id, const char *address,
    int64_t failures, int64_t window_start, struct lockout_now now)
{
	char k[LOCKOUT_KEY_MAX];
	struct entry *e;
	int64_t age;

	if (failures <= 0 || window_start <= now.wall - l->cfg.window)
		return;		/* nothing counted, or a window already ended */
	/* The store's window start (wall) as its age now, on the monotonic
	 * clock: at most a window, and not in the future (a clock ahead). */
	age = window_start >= now.wall ? 0 : now.wall - window_start;
	make_key(k, LOCKOUT_PAIR, address, client_id);
	pthread_mutex_lock(&l->mu);
	failures = count_bounded(failures, l->cfg.pair_threshold);
	if ((e = get_or_add(l, k, LOCKOUT_PAIR, now, NULL, PLACING)) != NULL && !in_force(e, now) &&
	    failures > e->failures) {
		e->failures = failures;
		e->window_start = now.mono_ms - age * 1000;
	}
	pthread_mutex_unlock(&l->mu);
}

/* Whether the pair has failures; clears them when clear is set. */
static int
pair_failures(struct lockout *l, const char *client_id, const char *address, int clear)
{
	char k[LOCKOUT_KEY_MAX];
	struct entry *e;
	int had = 0;

	make_key(k, LOCKOUT_PAIR, address, client_id);
	pthread_mutex_lock(&l->mu);
	if ((e = find(l, k)) != NULL) {
		had = e->failures > 0;
		if (clear)
			e->failures = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return had;
}

int
lockout_success(struct lockout *l, const char *client_id, const char *address)
{
	return pair_failures(l, client_id, address, 1);
}

int
lockout_has_failures(struct lockout *l, const char *client_id, const char *address)
{
	return pair_failures(l, client_id, address, 0);
}

/* Lifts e's lock: cleared in the store. */
static void
lift(struct entry *e)
{
	e->locked_until = 0;
	e->placed_until = 0;	/* gone from the store: a new lock may reuse its time */
	e->failures = 0;
	e->pending = 0;
	e->gen = 0;
	e->cleared_gen = 0;
}

/* e's lock was written to the store at generation gen (its row, or the
 * write made here); 1 when a clear already read names it and is newer:
 * the caller lifts it. */
static int
learn_gen(struct entry *e, uint64_t gen)
{
	int cleared = e->pending && e->cleared_gen > gen;

	if (e->pending || gen > e->gen)
		e->gen = gen;
	e->pending = 0;
	e->cleared_gen = 0;
	return cleared;
}

/* A clear recorded at generation gen names e's lock: 1 when it lifts it,
 * that is, when the lock's row was written before the clear. A lock made
 * here whose write's generation is not known yet keeps the clear's, for
 * when it is (learn_gen): its write may have come before the clear (then
 * removed by it) or after (then not). */
static int
clear_lifts(struct entry *e, uint64_t gen)
{
	if (!e->pending)
		return e->gen < gen;
	if (gen > e->cleared_gen)
		e->cleared_gen = gen;
	return 0;
}

/* Splits an entry key back into its address and client id. */
static void
unkey(const struct entry *e, struct lockout_lock *out)
{
	const char *p = e->key + 2;
	size_t n = strcspn(p, "|");

	memset(out, 0, sizeof(*out));
	out->kind = e->kind;
	snprintf(out->address, sizeof(out->address), "%.*s", (int)(n < 45 ? n : 45), p);
	if (e->kind == LOCKOUT_PAIR && p[n] == '|')
		snprintf(out->client_id, sizeof(out->client_id), "%s", p + n + 1);
	out->until = e->locked_until;
}

int
lockout_list(struct lockout *l, struct lockout_now now, struct lockout_lock **out, size_t *n)
{
	size_t cap = 16, used = 0;
	struct lockout_lock *arr = malloc(cap * sizeof(*arr));

	if (arr == NULL)
		return -1;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct entry *e = l->buckets[i]; e != NULL; e = e->next) {
			if (!in_force(e, now))
				continue;
			if (used == cap) {
				struct lockout_lock *tmp = realloc(arr, 2 * cap * sizeof(*arr));
				if (tmp == NULL) {
					pthread_mutex_unlock(&l->mu);
					free(arr);
					return -1;
				}
				arr = tmp;
				cap *= 2;
			}
			unkey(e, &arr[used++]);
		}
	pthread_mutex_unlock(&l->mu);
	*out = arr;
	*n = used;
	return 0;
}

size_t
lockout_clear(struct lockout *l, const char *address, const char *client_id)
{
	size_t removed = 0;

	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct entry *e = l->buckets[i]; e != NULL; e = e->next) {
			struct lockout_lock lk;
			if (e->locked_until == 0)
				continue;
			unkey(e, &lk);
			if (address != NULL && strcmp(lk.address, address) != 0)
				continue;
			if (client_id != NULL && (e->kind != LOCKOUT_PAIR || strcmp(lk.client_id, client_id) != 0))
				continue;
			lift(e);
			removed++;
		}
	pthread_mutex_unlock(&l->mu);
	return removed;
}

/* Appends e's lock to a growing array; -1 out of memory. */
static int
append(struct lockout_lock **arr, size_t *n, size_t *cap, const struct entry *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct lockout_lock *tmp = realloc(*arr, ncap * sizeof(**arr));
		if (tmp == NULL)
			return -1;
		*arr = tmp;
		*cap = ncap;
	}
	unkey(e, &(*arr)[(*n)++]);
	return 0;
}

/* Appends e's lock to *removed and lifts it; rc -1 stays once out of
 * memory (the lock is lifted all the same: the store is the truth). */
static void
lift_into(struct entry *e, struct lockout_lock **removed, size_t *n, size_t *cap, int *rc)
{
	if (*rc == 0 && append(removed, n, cap, e) == -1) {
		free(*removed);
		*removed = NULL;
		*n = 0;
		*rc = -1;
	}
	lift(e);
}

/* Whether e's key matches a clear's filters (store_lock_clear's). */
static int
clear_matches(const struct entry *e, const struct lockout_cleared *c)
{
	struct lockout_lock lk;

	unkey(e, &lk);
	if (c->address != NULL && strcmp(lk.address, c->address) != 0)
		return 0;
	return c->client_id == NULL ||
	    (e->kind == LOCKOUT_PAIR && strcmp(lk.client_id, c->client_id) == 0);
}

/* Applies one clear to the locks in force here: a pair's own key is
 * looked up; a wider filter (an address's every lock, a client's at every
 * address, every lock) walks the table. Clears are the operator's, few. */
static void
apply_clear(struct lockout *l, const struct lockout_cleared *c, struct lockout_now now,
    struct lockout_lock **removed, size_t *n, size_t *cap, int *rc)
{
	char k[LOCKOUT_KEY_MAX];
	struct entry *e;

	if (c->address != NULL && c->client_id != NULL) {
		make_key(k, LOCKOUT_PAIR, c->address, c->client_id);
		if ((e = find(l, k)) != NULL && in_force(e, now) && clear_lifts(e, c->gen))
			lift_into(e, removed, n, cap, rc);
		return;
	}
	for (size_t i = 0; i < BUCKETS; i++)
		for (e = l->buckets[i]; e != NULL; e = e->next)
			if (in_force(e, now) && clear_matches(e, c) && clear_lifts(e, c->gen))
				lift_into(e, removed, n, cap, rc);
}

int
lockout_sync(struct lockout *l, const struct lockout_lock *locks, size_t n,
    const struct lockout_cleared *cleared, size_t ncleared, struct lockout_now now,
    struct lockout_lock **removed, size_t *nremoved)
{
	char k[LOCKOUT_KEY_MAX];
	int64_t after = lockout_read_after(l, now);
	size_t cap = 0;
	int rc = 0;

	*removed = NULL;
	*nremoved = 0;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < n; i++) {
		struct entry *e;
		if (locks[i].until <= after)
			continue;
		make_key(k, locks[i].kind, locks[i].address, locks[i].client_id);
		if ((e = get_or_add(l, k, locks[i].kind, now, NULL, PLACING)) == NULL)
			continue;	/* full: the lock stays in the store for the next sync */
		if (!place(l, e, locks[i].until, now))
			continue;	/* ended here already: not lengthened by a read */
		/* Only the row of the lock held here (or of a newer one, now
		 * placed) tells its generation: an older lock's row (read until
		 * leeway past its end) says nothing of a newer one made here
		 * since, whose write may be on its way. */
		if (locks[i].until == e->locked_until && learn_gen(e, locks[i].gen))
			lift_into(e, removed, nremoved, &cap, &rc);
	}
	/* A lock is lifted only by a clear newer than it: never for being
	 * missing from the list above, which a clock chose (this node's,
	 * stepped forward past the lock's end; or a writer's pruning by
	 * one far ahead of this node's). */
	for (size_t i = 0; i < ncleared; i++)
		apply_clear(l, &cleared[i], now, removed, nremoved, &cap, &rc);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
lockout_mark_stored(struct lockout *l, const struct lockout_lock *locks, size_t n,
    uint64_t gen, struct lockout_lock **removed, size_t *nremoved)
{
	char k[LOCKOUT_KEY_MAX];
	struct entry *e;
	size_t cap = 0;
	int rc = 0;

	*removed = NULL;
	*nremoved = 0;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < n; i++) {
		make_key(k, locks[i].kind, locks[i].address, locks[i].client_id);
		/* Only the lock that was written, not a newer one since. */
		if ((e = find(l, k)) != NULL && e->locked_until == locks[i].until && e->pending &&
		    learn_gen(e, gen))
			lift_into(e, removed, nremoved, &cap, &rc);
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
lockout_ended(struct lockout *l, const struct lockout_lock *lk, struct lockout_now now)
{
	char k[LOCKOUT_KEY_MAX];
	struct entry *e;
	int ended;

	make_key(k, lk->kind, lk->address, lk->client_id);
	pthread_mutex_lock(&l->mu);
	if ((e = find(l, k)) == NULL)
		ended = lk->until <= now.wall;
	else
		ended = e->locked_until != lk->until || !in_force(e, now);
	pthread_mutex_unlock(&l->mu);
	return ended;
}

int
lockout_expired(struct lockout *l, struct lockout_now now, struct lockout_lock **out,
    size_t *n)
{
	size_t cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < BUCKETS && rc == 0; i++)
		for (struct entry *e = l->buckets[i]; e != NULL; e = e->next) {
			if (e->locked_until == 0 || in_force(e, now))
				continue;
			if (append(out, n, &cap, e) == -1) {
				rc = -1;
				break;
			}
			e->locked_until = 0;
			e->pending = 0;
			e->gen = 0;
			e->cleared_gen = 0;
		}
	pthread_mutex_unlock(&l->mu);
	if (rc == -1) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
