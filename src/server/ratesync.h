/*
 * ratesync.h — shares the issuance rate limiter's counts between nodes on
 * one shared store (issue 8: rate-limit counters are shared), without a
 * database round trip per token. Every RATESYNC_INTERVAL_MS a thread of
 * its own adds what this node issued per client to the store's totals
 * (store_rate_push), reads the other nodes' totals (store_rate_pull), and
 * drains from the local buckets what each other node issued since the last
 * read (ratelimit_drain). A client is therefore held to its limit over all
 * nodes, give or take what the nodes issue within one interval. The first
 * read only takes note: what others issued before this node started is
 * not held against its clients. Rows are stamped and read by age on the
 * store's clock (store_clock), the same for every node whatever its own
 * reads. Each read of the store's clock also measures this node's clock
 * against it: gatehouse_clock_skew_seconds (this node's minus the
 * database server's, to the second), and clock.skew logged once when it
 * passes leeway (the skew nodes accept of each other: lockout locks,
 * token times), clock.skew_ok when it is back within. A store that cannot
 * be reached costs only
 * the sharing (each node then limits alone); it is logged once per outage.
 */
#ifndef GH_RATESYNC_H
#define GH_RATESYNC_H

#include <stdint.h>

#include "security/ratelimit.h"
#include "store/store.h"

#define RATESYNC_INTERVAL_MS	500
#define RATESYNC_MAX_SEEN	65536	/* (client, node) totals remembered */

struct ratesync;

/* Starts the thread for node (a fresh id per process); leeway is the
 * configured clock skew accepted between nodes, in seconds. NULL when out
 * of memory or no thread could start. */
struct ratesync	*ratesync_start(struct store *, struct ratelimit *, const char *node,
		    int64_t interval_ms, int64_t leeway);
/* Pushes what is left, stops the thread and frees. NULL is a no-op. */
void		 ratesync_stop(struct ratesync *);

#endif
