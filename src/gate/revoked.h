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

#include <stdint.h>

struct store;
struct revoked_set;

/* Builds the set of tokens revoked and not expired at now. Returns a
 * store_err (0 on success); the message is in store_last_error(). */
int	revoked_set_load(struct store *, int64_t now, struct revoked_set **out);
struct revoked_set *revoked_set_ref(struct revoked_set *);	/* NULL: NULL */
void	revoked_set_unref(struct revoked_set *);		/* NULL: no-op */
/* 1 when id is in the set. */
int	revoked_set_has(const struct revoked_set *, const char *id);
size_t	revoked_set_count(const struct revoked_set *);

#endif
