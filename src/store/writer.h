/*
 * writer.h — private to src/store/: the group-commit writer both backends
 * share. Producers (server threads) queue token records; one thread takes
 * up to batch_max of them at a time, hands them to ops->commit_tokens (one
 * transaction, one sync), then calls each record's done(arg, err) from that
 * thread, after the batch is durable.
 *
 * The queue is bounded: a full queue refuses the record (STORE_UNAVAILABLE)
 * instead of growing, so a slow disk turns into 503s, not into memory.
 */
#ifndef GH_STORE_WRITER_H
#define GH_STORE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_ops;
struct writer;

#define WRITER_QUEUE_MAX	65536	/* records waiting */
#define WRITER_BATCH_MAX	1024	/* records per transaction */
#define WRITER_MIN_INTERVAL_NS	1000000LL	/* 1 ms between commits' starts */
#define WRITER_MAX_INTERVAL_NS	5000000LL	/* 5 ms at most for announced records */

/* Starts the writer thread over the backend handle h (not owned). Returns
 * NULL with a reason in err on failure. */
struct writer	*writer_start(const struct store_ops *ops, void *h,
		    size_t queue_max, size_t batch_max, char *err, size_t errlen);
/* Copies t and queues it. STORE_OK, or STORE_UNAVAILABLE (queue full or
 * closing) / STORE_ERROR (out of memory), in which case done is never
 * called. done must not call writer_flush (it runs on the writer thread). */
int		 writer_enqueue(struct writer *, const struct store_token *t,
		    store_done_fn done, void *arg);
/* The same for an audit row (store.h store_audit_append): it commits with
 * the token records of its batch. STORE_ERROR when the backend has no
 * commit_batch. */
int		 writer_enqueue_audit(struct writer *, const struct store_audit *a,
		    store_done_fn done, void *arg);
/* Announces records on their way (delta > 0: a token being signed) or
 * their arrival (delta < 0, after writer_enqueue, or when the record will
 * not come after all). Only a hint for pacing commits: a miscount delays a
 * commit by at most WRITER_MAX_INTERVAL_NS, never loses a record. */
void		 writer_expect(struct writer *, int delta);
/* The key the batches' audit rows are linked with (store.h
 * store_audit_set_key; not owned: it must outlive the writer). Batches
 * taken after the call use it; before it, none may hold an audit row. */
void		 writer_set_audit_key(struct writer *, const struct store_audit_key *k);
/* Reports each batch's commit to fn (store.h store_on_commit). */
void		 writer_on_commit(struct writer *, store_commit_fn fn, void *arg);
/* Changes the pacing intervals (tests; the defaults above otherwise). */
void		 writer_set_pacing(struct writer *, int64_t min_ns, int64_t max_ns);
/* Blocks until every record queued before the call has been committed (or
 * has failed) and its done has returned. STORE_OK when all of them were
 * committed (a record refused on its own, such as a conflict, counts as
 * committed: its caller has its answer); else the failed commit's error,
 * with how many records it lost. */
int		 writer_flush(struct writer *);
/* Refuses new records, commits what is queued, joins the thread, frees.
 * NULL is a no-op. */
void		 writer_stop(struct writer *);

#endif
