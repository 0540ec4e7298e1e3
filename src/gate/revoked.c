/*
 * revoked.c — a hash set of revoked token ids (see revoked.h). Open
 * addressing with linear probing at a load factor of at most 1/2; the
 * hash is FNV-1a, enough here because the ids are ours (random or
 * time-ordered hex), not chosen by a caller.
 *
 * A set only grows: the one caller that refreshes it (under the gate's
 * lock) writes an id into an empty slot with a release store, and readers
 * take no lock (acquire loads), so a reader sees a slot empty or holding a
 * whole id. When the additions would pass the load factor, a larger set
 * is built instead with the same id pointers: it holds a reference to the
 * set it grew from, which keeps owning (and frees) the ids it allocated.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate/revoked.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "util/util.h"

struct revoked_set {
	_Atomic long	 refs;
	_Atomic size_t	 count;
	_Atomic int	 complete;	/* every revoked id is here */
	uint64_t	 gen;		/* revocation generation: all up to it are read */
	uint64_t	 full_ns;	/* clock_mono_ns of the full load it grew from */
	int64_t		 floor;		/* the latest now it was read at (revoked_set_floor) */
	size_t		 mask;		/* slots - 1; slots a power of two */
	_Atomic(char *)	*slot;		/* NULL: empty */
	char		**own;		/* the ids this set allocated */
	size_t		 nown, cown;
	struct revoked_set *prev;	/* grown from: owns the other ids */
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static void
set_free(struct revoked_set *r)
{
	for (size_t i = 0; i < r->nown; i++)
		free(r->own[i]);
	free(r->own);
	free((void *)r->slot);
	revoked_set_unref(r->prev);
	free(r);
}

/* An empty set of at least 2 * n slots (16 at least), or NULL. */
static struct revoked_set *
set_new(size_t n)
{
	struct revoked_set *r;
	size_t slots = 16;

	while (slots < 2 * n)
		slots *= 2;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->slot = calloc(slots, sizeof(*r->slot))) == NULL) {
		free(r);
		return NULL;
	}
	atomic_init(&r->refs, 1);
	atomic_init(&r->count, 0);
	atomic_init(&r->complete, 1);
	r->mask = slots - 1;
	return r;
}

/* Puts id in its slot unless it is there: 1 when put, 0 when present. */
static int
set_put(struct revoked_set *r, char *id)
{
	size_t i = (size_t)fnv1a(id) & r->mask;
	char *s;

	while ((s = atomic_load_explicit(&r->slot[i], memory_order_acquire)) != NULL) {
		if (strcmp(s, id) == 0)
			return 0;
		i = (i + 1) & r->mask;
	}
	atomic_store_explicit(&r->slot[i], id, memory_order_release);
	atomic_fetch_add(&r->count, 1);
	return 1;
}

/* Adds the records' ids, taking them over (no copy): r frees those it
 * keeps, the record frees a duplicate. -1 out of memory (r keeps what it
 * added). r has room: slots >= 2 * (count + n). */
static int
set_take(struct revoked_set *r, struct store_token *t, size_t n)
{
	char **own;

	if (r->nown + n > r->cown) {
		size_t c = r->cown == 0 ? 16 : r->cown;
		while (c < r->nown + n)
			c *= 2;
		if ((own = realloc(r->own, c * sizeof(*own))) == NULL)
			return -1;
		r->own = own;
		r->cown = c;
	}
	for (size_t i = 0; i < n; i++)
		if (set_put(r, t[i].id)) {
			r->own[r->nown++] = t[i].id;
			t[i].id = NULL;
		}
	return 0;
}

/* The rows read, for /metrics: what a reload costs the store. */
static void
count_rows(const char *load, size_t n)
{
	const char *labels[1] = { load };

	metrics_add("gatehouse_gate_revoked_rows_read_total", (double)n, labels);
}

/* Reads at most max + 1 ids (one more than is kept: whether there are
 * more), from all the revoked ones (since NULL) or those revoked after
 * generation *since. *complete is 0 when the store had more. */
static int
read_ids(struct store *st, const uint64_t *since, int64_t now, size_t max,
    struct store_token **t, size_t *n, int *complete)
{
	int rc;

	rc = since == NULL ? store_token_list_revoked(st, now, max + 1, t, n) :
	    store_token_list_revoked_since(st, *since, now, max + 1, t, n);
	if (rc != STORE_OK)
		return rc;
	count_rows(since == NULL ? "full" : "incremental", *n);
	if ((*complete = *n <= max) == 0) {
		store_token_clear(&(*t)[max]);
		*n = max;
	}
	return STORE_OK;
}

/* The full load at revocation generation gen (read before the rows: a
 * revocation committed in between is read again by the next refresh). */
static int
load_full(struct store *st, uint64_t gen, int64_t now, size_t max, struct revoked_set **out)
{
	struct store_token *t = NULL;
	struct revoked_set *r;
	size_t n = 0;
	int rc, complete;

	if ((rc = read_ids(st, NULL, now, max, &t, &n, &complete)) != STORE_OK)
		return rc;
	if ((r = set_new(n)) == NULL || set_take(r, t, n) == -1) {
		if (r != NULL)
			set_free(r);
		store_token_free(t, n);
		return STORE_ERROR;	/* out of memory */
	}
	store_token_free(t, n);
	atomic_store(&r->complete, complete);
	r->gen = gen;
	r->full_ns = clock_mono_ns();
	r->floor = now;
	*out = r;
	return STORE_OK;
}

static size_t
clamp_max(size_t max)
{
	return max < 1 || max > REVOKED_SET_MAX ? REVOKED_SET_MAX : max;
}

static int
revocation_generation(struct store *st, uint64_t *gen)
{
	struct store_gen g;
	int rc;

	if ((rc = store_generation(st, &g)) == STORE_OK)
		*gen = g.v[STORE_GEN_REVOKED];
	return rc;
}

/* r itself when the n additions fit its load factor, else a larger set
 * with r's ids (and a reference to r, which owns them); NULL out of
 * memory. The new set is r's in all but size. */
static struct revoked_set *
room_for(struct revoked_set *r, size_t n)
{
	struct revoked_set *g;
	size_t count = atomic_load(&r->count);
	char *s;

	if (2 * (count + n) <= r->mask + 1)
		return revoked_set_ref(r);
	if ((g = set_new(count + n)) == NULL)
		return NULL;
	for (size_t i = 0; i <= r->mask; i++)
		if ((s = atomic_load_explicit(&r->slot[i], memory_order_relaxed)) != NULL)
			set_put(g, s);
	atomic_store(&g->complete, atomic_load(&r->complete));
	g->gen = r->gen;
	g->full_ns = r->full_ns;
	g->floor = r->floor;
	g->prev = revoked_set_ref(r);
	return g;
}

int
revoked_set_refresh(struct store *st, struct revoked_set *old, int64_t now, size_t max,
    struct revoked_set **out)
{
	struct store_token *t = NULL;
	struct revoked_set *r;
	uint64_t gen;
	size_t n = 0, count, room;
	int rc, complete = 1;

	*out = NULL;
	max = clamp_max(max);
	if ((rc = revocation_generation(st, &gen)) != STORE_OK)
		return rc;
	/* A full load: the first; when the generation went back (the store
	 * was replaced or restored: what was read since is no measure) or is
	 * past what the store compares (a counter set below zero by hand
	 * reads as 2^64 less a little); when the wall clock went back behind
	 * a read (the ids left out as expired then may be unexpired now, and
	 * an update reads only what was revoked since); and now and then, to
	 * drop the ids that have expired since. */
	if (old == NULL || gen < old->gen || gen > INT64_MAX || now < old->floor ||
	    clock_mono_ns() - old->full_ns >= REVOKED_FULL_RELOAD_MS * 1000000ull)
		return load_full(st, gen, now, max, out);
	if (gen == old->gen) {
		old->floor = now;	/* the refresher's alone, as gen */
		*out = revoked_set_ref(old);
		return STORE_OK;
	}
	/* Only the rows revoked since, and no more than the bound has room
	 * for: a set at its bound reads nothing and is incomplete from now on
	 * (a JWT it lacks is looked up in the store). */
	count = atomic_load(&old->count);
	room = count < max ? max - count : 0;
	if (room == 0)
		complete = 0;
	else if ((rc = read_ids(st, &old->gen, now, room, &t, &n, &complete)) != STORE_OK)
		return rc;
	if ((r = room_for(old, n)) == NULL || set_take(r, t, n) == -1) {
		revoked_set_unref(r);
		store_token_free(t, n);
		return STORE_ERROR;	/* out of memory */
	}
	store_token_free(t, n);
	if (!complete)
		atomic_store(&r->complete, 0);
	r->gen = gen;
	r->floor = now;
	*out = r;
	return STORE_OK;
}

struct revoked_set *
revoked_set_ref(struct revoked_set *r)
{
	if (r != NULL)
		atomic_fetch_add(&r->refs, 1);
	return r;
}

void
revoked_set_unref(struct revoked_set *r)
{
	if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1)
		set_free(r);
}

int
revoked_set_has(const struct revoked_set *r, const char *id)
{
	size_t i;
	char *s;

	if (r == NULL || atomic_load(&r->count) == 0)
		return 0;
	for (i = (size_t)fnv1a(id) & r->mask;
	    (s = atomic_load_explicit(&r->slot[i], memory_order_acquire)) != NULL;
	    i = (i + 1) & r->mask)
		if (strcmp(s, id) == 0)
			return 1;
	return 0;
}

int64_t
revoked_set_floor(const struct revoked_set *r)
{
	return r == NULL ? INT64_MIN : r->floor;
}

int
revoked_set_complete(const struct revoked_set *r)
{
	return r == NULL || atomic_load(&r->complete);
}

size_t
revoked_set_count(const struct revoked_set *r)
{
	return r == NULL ? 0 : atomic_load(&r->count);
}
