/*
 * offload.h — a few threads for request work that may wait on a shared
 * store, so that it does not wait on an HTTP loop.
 *
 * An HTTP loop serves every connection that landed on its socket, one
 * handler at a time. A handler that reads PostgreSQL (a client not yet in
 * the cache, an uncached token at the gate, any admin call) holds all of
 * them for the round trip, and for up to the store's query_timeout_ms or
 * lock_timeout when the database is slow: health checks, cached tokens and
 * gate checks on that loop included. Such a handler instead answers
 * HTTP_DEFERRED and hands its exchange to this pool (offload_exchange, or
 * routes_add_offloaded for routes that always read the store); a pool
 * thread runs it and resumes the connection (http_exchange_resume), as
 * the group-commit writer does. Only shared stores have a pool: SQLite's
 * reads are local.
 *
 * Jobs run in the order given, as many at a time as the pool has threads
 * (the server starts one per pooled connection of its store,
 * store_connections); at most the pool's queue length wait (the
 * offload_queue setting), beyond which offload_exchange refuses (the
 * caller answers 503: a store that slow serves no one better by queueing
 * more). Nor by waiting long: a job that waited in the queue past
 * OFFLOAD_MAX_WAIT_MS runs with offload_is_late(x) set, and its handler
 * answers 503 as to a full queue, without the store. Else, behind jobs
 * that each wait out a slow database (lock_timeout, query_timeout_ms),
 * the queue's last request was answered after all of theirs in turn (an
 * hour and more), long after its client had given up, and the work done
 * for it then only loaded the database further.
 */
#ifndef GH_OFFLOAD_H
#define GH_OFFLOAD_H

#include "http/http.h"

#define OFFLOAD_THREADS_MAX	64
#define OFFLOAD_QUEUE_MAX	65536	/* the offload_queue setting's bound too */
/* The longest a job waits in the queue for a thread and still runs: as
 * long as a request waits for a pooled connection by default
 * (PostgreSQL's pool_timeout_ms), which is what a thread stands for. */
#define OFFLOAD_MAX_WAIT_MS	2000

struct offload;

/* Starts threads (1 to OFFLOAD_THREADS_MAX; beyond, the most), named
 * "offload", with room for queue waiting jobs (1 to OFFLOAD_QUEUE_MAX,
 * likewise). NULL when out of memory or a thread could not start (none is
 * left running). */
struct offload	*offload_start(size_t threads, size_t queue);
/*
 * Queues handler(x) for a pool thread, which runs it and, when it answers
 * there (HTTP_DONE), resumes x's connection; the handler, on its loop,
 * returns HTTP_DEFERRED. 0, or -1 when the queue is full or the pool is
 * stopping (then nothing runs, and the handler answers x itself). While
 * the handler runs on the pool, offload_is_running(x) is 1: it then does
 * the work instead of offloading it again. Any thread.
 */
int		 offload_exchange(struct offload *, struct http_exchange *x,
		    http_handler_fn handler);
int		 offload_is_running(const struct http_exchange *x);
/* 1 while x's handler runs on the pool after x waited in the queue past
 * OFFLOAD_MAX_WAIT_MS: the handler answers 503, as offload_exchange's
 * caller does to a full queue, and reads nothing from the store (so
 * offload_is_running is 0, as on a loop, for code that asks whether it
 * may wait on the store). */
int		 offload_is_late(const struct http_exchange *x);
/* Runs every job already queued, then stops the threads and frees. The
 * HTTP server must be stopped first: its deferred answers wait on these
 * jobs. NULL is a no-op. */
void		 offload_stop(struct offload *);

#endif
