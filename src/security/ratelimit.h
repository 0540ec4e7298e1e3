/*
 * ratelimit.h — token issuance per client, as a token bucket: a client may
 * take `per_minute` tokens at once and then per_minute/60 a second. Seed 000
 * asks clients to cache tokens; this makes one that does not find out.
 * Bounded (RATELIMIT_MAX_CLIENTS buckets, idle ones dropped first).
 * Thread-safe. The gate never calls this.
 */
#ifndef GH_RATELIMIT_H
#define GH_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_MAX_CLIENTS 65536

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void	ratelimit_free(struct ratelimit *);
/* Takes one token for client_id at now_ms (milliseconds). 1 when allowed;
 * 0 when over, with *retry_after (seconds, at least 1) set. per_minute 0
 * means unlimited. */
int	ratelimit_take(struct ratelimit *, const char *client_id,
	    int64_t per_minute, int64_t now_ms, int64_t *retry_after);


/*
 * Sharing with other nodes (server/ratesync.c): ratelimit_collect calls fn
 * for each client with tokens taken here since the last collection (fn
 * runs under a stripe lock: it must not call back in); ratelimit_drain
 * takes from a client's bucket the tokens other nodes issued, at its next
 * take (at most two minutes' worth of waiting). ratelimit_unpushed gives
 * back tokens collected whose push failed: the next collection hands them
 * out again, rather than other nodes never hearing of them.
 */
size_t	ratelimit_collect(struct ratelimit *, void (*fn)(void *arg,
	    const char *client_id, int64_t taken), void *arg);
void	ratelimit_drain(struct ratelimit *, const char *client_id, int64_t tokens,
	    int64_t now_ms);
void	ratelimit_unpushed(struct ratelimit *, const char *client_id, int64_t tokens,
	    int64_t now_ms);

#endif
