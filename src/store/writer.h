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

#include "store/store.h"

struct store_ops;
struct writer;

#define WRITER_QUEUE_MAX	65536	/* records waiting */
#define WRITER_BATCH_MAX	1024	/* records per transaction */

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
/* Blocks until every record queued before the call has been committed (or
 * has failed) and its done has returned. */
int		 writer_flush(struct writer *);
/* Refuses new records, commits what is queued, joins the thread, frees.
 * NULL is a no-op. */
void		 writer_stop(struct writer *);

#endif
