/*
 * revoked.h — the revoked, unexpired token ids, in memory.
 *
 * A JWT carries everything the gate needs except whether it was revoked.
 * Asking the store on every uncached check would cost a database read per
 * call and make the gate depend on the database being up; instead the gate
 * keeps this set, rebuilt from the store whenever the store's generation
 * moves (every revocation moves it, on any node). A set is immutable once
 * built and shared by reference, so lookups take no lock.
 */
#ifndef GH_GATE_REVOKED_H
#define GH_GATE_REVOKED_H

#include <stddef.h>
#include <stdint.h>

/* At most this many ids in memory (tens of MB while loading, a few kept):
 * revocations of unexpired tokens are normally few. Past it the set is
 * incomplete (revoked_set_complete), and an id it lacks is asked of the
 * store (gate/bearer.c). */
#define REVOKED_SET_MAX	100000

struct store;
struct revoked_set;

/* Builds the set of tokens revoked and not expired at now, at most max
 * (1..REVOKED_SET_MAX) of them. Returns a store_err (0 on success); the
 * message is in store_last_error(). */
int	revoked_set_load(struct store *, int64_t now, size_t max,
	    struct revoked_set **out);
struct revoked_set *revoked_set_ref(struct revoked_set *);	/* NULL: NULL */
void	revoked_set_unref(struct revoked_set *);		/* NULL: no-op */
/* 1 when id is in the set. */
int	revoked_set_has(const struct revoked_set *, const char *id);
/* 1 when the set holds every revoked, unexpired id; 0 when the store had
 * more than the load's max, and an id not in the set may still be revoked. */
int	revoked_set_complete(const struct revoked_set *);
size_t	revoked_set_count(const struct revoked_set *);

#endif
