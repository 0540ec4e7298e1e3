/*
 * revoked.h — the revoked, unexpired token ids, in memory.
 *
 * A JWT carries everything the gate needs except whether it was revoked.
 * Asking the store on every uncached check would cost a database read per
 * call and make the gate depend on the database being up; instead the gate
 * keeps this set, brought up to date from the store whenever the store's
 * revocation generation moves (every revocation moves it, on any node).
 * Each revocation records the generation it made (store.h
 * store_token_list_revoked_since), so an update reads the rows revoked
 * since the set's generation, not all of them: a client that revokes its
 * tokens in a loop costs each node a read of one row per revocation. A
 * set is shared by reference and only grows (revoked_set_refresh adds to
 * it in place, or builds a larger one); lookups take no lock.
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
/* A refresh at least this long after the set's last full load loads it in
 * full again, which drops the ids that have expired since (an update only
 * adds): at most one full read a minute per node, however many
 * revocations. */
#define REVOKED_FULL_RELOAD_MS	60000

struct store;
struct revoked_set;

/* The set of tokens revoked and not expired at now, at most max
 * (1..REVOKED_SET_MAX) of them: old brought up to date (old itself, or a
 * larger copy) with the ids revoked since its generation; or loaded in full
 * when old is NULL, when the store's revocation generation went back (a
 * store replaced or restored) and REVOKED_FULL_RELOAD_MS after old's last
 * full load. Past max the set is incomplete. Only one caller at a time may
 * refresh a set (the gate's lock); readers need none. *out gets a
 * reference; old keeps the caller's. Returns a store_err (0 on success);
 * the message is in store_last_error(). */
int	revoked_set_refresh(struct store *, struct revoked_set *old, int64_t now,
	    size_t max, struct revoked_set **out);
/* The latest now the set was read at: it lacks the tokens expired then,
 * which a clock stepped back behind it finds unexpired again. A refresh
 * at an earlier now loads the set in full; a caller whose time is behind
 * this must refresh before it trusts the set. INT64_MIN for NULL. */
int64_t	revoked_set_floor(const struct revoked_set *);
struct revoked_set *revoked_set_ref(struct revoked_set *);	/* NULL: NULL */
void	revoked_set_unref(struct revoked_set *);		/* NULL: no-op */
/* 1 when id is in the set. */
int	revoked_set_has(const struct revoked_set *, const char *id);
/* 1 when the set holds every revoked, unexpired id; 0 when the store had
 * more than the load's max, and an id not in the set may still be revoked. */
int	revoked_set_complete(const struct revoked_set *);
size_t	revoked_set_count(const struct revoked_set *);

#endif
