/*
 * cache.h — verified tokens, so a client that reuses its token costs a
 * hash lookup instead of a signature check and a store read.
 *
 * Keyed by the SHA-256 of the token bytes (no token is kept); bounded (past
 * the limit an older entry makes room); sharded, one mutex per shard. Only
 * tokens that passed every check are cached, never refusals, so bad tokens
 * cannot fill it. The gate empties it whenever the store's data generation
 * moves (a client disabled or changed, a key revoked), and an insert that
 * raced with that emptying is dropped (the epoch), so such a change takes
 * effect on the next call. A token revocation empties nothing: each shard
 * holds the gate's revoked set (gate_cache_set_revoked), and an entry whose
 * token id is in it is dropped when found, so a revocation takes effect on
 * the next call and the other tokens stay cached.
 */
#ifndef GH_GATE_CACHE_H
#define GH_GATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gate/bearer.h"
#include "gate/revoked.h"

struct gate_cache;

/* A cache of at most max entries (at least 64). NULL when out of memory. */
struct gate_cache *gate_cache_new(size_t max);
void	gate_cache_free(struct gate_cache *);	/* NULL is a no-op */
/* The current epoch: read it before validating a token, hand it to put. */
uint64_t gate_cache_epoch(struct gate_cache *);
/* The principal cached for key in the current epoch, a new reference;
 * NULL on a miss. */
struct gate_principal *gate_cache_get(struct gate_cache *, const uint8_t key[32]);
/* From now on, an entry whose token id (gate_principal token_id) r holds
 * is not found, and is dropped when met; the cache takes its own
 * reference to r, and gives up the one of the set it replaces. NULL: none
 * is revoked. An entry put after this, from a check that read an older
 * set, is caught the same way at its first lookup. */
void	gate_cache_set_revoked(struct gate_cache *, struct revoked_set *r);
/* Caches p (taking its own reference) unless a new epoch began since epoch
 * was read. */
void	gate_cache_put(struct gate_cache *, const uint8_t key[32],
	    struct gate_principal *p, uint64_t epoch);
/* Starts a new epoch: at once, no entry from before it is found again
 * (their memory stays until a clear or an eviction). */
void	gate_cache_invalidate(struct gate_cache *);
/* gate_cache_invalidate, then frees every entry. */
void	gate_cache_clear(struct gate_cache *);
/* Entries now (for tests). */
size_t	gate_cache_count(struct gate_cache *);

#endif
