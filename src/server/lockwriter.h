/*
 * lockwriter.h — writes the lockout locks this server makes to the store
 * (store_lock_put), batched, from a thread of its own. Under a brute force
 * locks come by the hundred a second; each write is a durable commit and a
 * generation increment that makes every node reload its caches. So one
 * transaction carries every lock queued meanwhile, and writes are at least
 * interval_ms apart (the first lock after a quiet spell is written at once).
 * The request that made a lock does not wait: the lock is already in force
 * in memory (security/lockout.h); the store makes it visible to the operator
 * and the other nodes. A write the store refuses (a database away, a table
 * held locked) is tried again with what came meanwhile, the wait doubling
 * from interval_ms up to LOCKWRITER_RETRY_MAX_MS, for as long as its locks
 * last; logged at the first failure, then once a minute, and when a write
 * succeeds again. Thread-safe.
 */
#ifndef GH_LOCKWRITER_H
#define GH_LOCKWRITER_H

#include <stdint.h>

#include "security/lockout.h"
#include "store/store.h"

#define LOCKWRITER_MAX_QUEUED 65536	/* past this, locks stay local (logged) */
#define LOCKWRITER_RETRY_MAX_MS 5000	/* the longest wait between tries */

struct lockwriter;

/* NULL when out of memory or no thread could start. */
struct lockwriter *lockwriter_start(struct store *, struct lockout *, int64_t duration,
	    int64_t interval_ms);
/* Queues a lock made at lk->until - duration. */
void	lockwriter_add(struct lockwriter *, const struct lockout_lock *lk);
/* Writes what is queued, stops the thread and frees. NULL is a no-op. */
void	lockwriter_stop(struct lockwriter *);
/* Logs (auth.unlocked) and counts (gatehouse_unlocks_total) ls[0..n),
 * lifted for reason ("cleared", "expired"). */
void	lockwriter_log_unlocks(const struct lockout_lock *ls, size_t n, const char *reason);

#endif
