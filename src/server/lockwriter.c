/* lockwriter.c — see lockwriter.h. A queue under a mutex and one thread
 * that swaps it out and writes it; the queue is two growing arrays so that
 * adding never waits for the store. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/log.h"
#include "obs/metrics.h"
#include "server/lockwriter.h"
#include "util/util.h"

struct lockwriter {
	struct store		*store;
	struct lockout		*lockout;	/* told which locks are stored */
	int64_t			 duration;
	int64_t			 interval_ms;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct lockout_lock	*q;		/* queued, under mu */
	size_t			 n, cap;
	size_t			 dropped;	/* past LOCKWRITER_MAX_QUEUED */
	int			 stop;
	/* The writer's own (its thread alone): a streak of failed writes. */
	int64_t			 wait_ms;	/* before the next try; 0: not failing */
	int64_t			 logged_ms;	/* the streak's last line */
	unsigned		 failures;	/* in the streak */
	pthread_t		 thread;
};

/* Appends lk to the queue (under mu), growing it up to
 * LOCKWRITER_MAX_QUEUED. 0, or -1 when full. */
static int
queue_one(struct lockwriter *w, const struct lockout_lock *lk)
{
	if (w->n == w->cap && w->cap < LOCKWRITER_MAX_QUEUED) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct lockout_lock *tmp = realloc(w->q, ncap * sizeof(*tmp));
		if (tmp != NULL) {
			w->q = tmp;
			w->cap = ncap;
		}
	}
	if (w->n == w->cap)
		return -1;
	w->q[w->n++] = *lk;
	return 0;
}

/* A write failed for reason: the next try waits longer (from interval_ms,
 * doubling up to LOCKWRITER_RETRY_MAX_MS), and the log hears of it at the
 * streak's start and then once a minute. */
static void
note_failure(struct lockwriter *w, const char *reason, size_t n)
{
	int64_t now = clock_mono_ns() / 1000000;

	w->wait_ms = w->wait_ms == 0 ? w->interval_ms : w->wait_ms * 2;
	if (w->wait_ms > LOCKWRITER_RETRY_MAX_MS)
		w->wait_ms = LOCKWRITER_RETRY_MAX_MS;
	w->failures++;
	if (w->failures > 1 && now - w->logged_ms < 60000)
		return;
	w->logged_ms = now;
	log_event(LOG_ERROR, "auth.lock_store_failed", json_pack("{s:s, s:I, s:I, s:I}",
	    "reason", reason, "locks", (json_int_t)n, "failures", (json_int_t)w->failures,
	    "retry_in_ms", (json_int_t)w->wait_ms));
}

void
lockwriter_log_unlocks(const struct lockout_lock *ls, size_t n, const char *reason)
{
	const char *labels[2] = { NULL, reason };

	for (size_t i = 0; i < n; i++) {
		labels[0] = lockout_kind_names[ls[i].kind];
		metrics_add("gatehouse_unlocks_total", 1, labels);
		log_event(LOG_INFO, "auth.unlocked", json_pack("{s:s, s:s, s:s, s:s}",
		    "kind", lockout_kind_names[ls[i].kind], "peer", ls[i].address,
		    "client", ls[i].client_id, "reason", reason));
	}
}

/* Writes batch[0..n) in one transaction. 0, or -1 (note_failure) when the
 * store refused: the locks stay in force on this node (no clear lifts a
 * lock before its write) and the caller queues them again. */
static int
write_batch(struct lockwriter *w, const struct lockout_lock *batch, size_t n)
{
	struct store_lock *sl = malloc(n * sizeof(*sl));
	struct lockout_lock *removed = NULL;
	size_t nremoved = 0;
	uint64_t gen;

	if (sl == NULL) {
		note_failure(w, "out of memory", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sl[i].kind = batch[i].kind == LOCKOUT_ADDRESS ? STORE_LOCK_ADDRESS : STORE_LOCK_PAIR;
		sl[i].client_id = (char *)batch[i].client_id;
		sl[i].address = (char *)batch[i].address;
		sl[i].created_at = batch[i].until - w->duration;
		sl[i].until = batch[i].until;
		sl[i].gen = 0;
	}
	if (store_lock_put_gen(w->store, sl, n, &gen) != STORE_OK) {
		note_failure(w, store_last_error(), n);
		free(sl);
		return -1;
	}
	free(sl);
	if (w->failures > 0)
		log_event(LOG_INFO, "auth.locks_stored_again", json_pack("{s:I}",
		    "failures", (json_int_t)w->failures));
	w->wait_ms = 0;
	w->failures = 0;
	/* The write's own generation: a clear read meanwhile that named
	 * one of these locks lifts it if it came after (lockout.h). */
	(void)lockout_mark_stored(w->lockout, batch, n, gen, &removed, &nremoved);
	lockwriter_log_unlocks(removed, nremoved, "cleared");
	free(removed);
	return 0;
}

/* Puts the locks of a failed write back in the queue (under mu), but for
 * those that ended here meanwhile and those past LOCKWRITER_MAX_QUEUED.
 * Ended as the lockout judges it (the monotonic clock): by until against
 * the wall clock, a step forward dropped locks still in force here, which
 * then never reached the store (other nodes, `gatehouse lock list`). */
static void
requeue(struct lockwriter *w, const struct lockout_lock *batch, size_t n)
{
	struct lockout_now now = lockout_now_at(clock_now());

	for (size_t i = 0; i < n; i++)
		if (!lockout_ended(w->lockout, &batch[i], now) && queue_one(w, &batch[i]) == -1)
			w->dropped++;
}

static void *
run(void *arg)
{
	struct lockwriter *w = arg;
	struct lockout_lock *batch = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		size_t n, dropped;
		struct timespec until;
		int64_t wait_ms;
		int rc;

		while (w->n == 0 && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->n == 0 && w->stop)
			break;
		/* Swap the queue out: adders go on filling the other array. */
		{
			struct lockout_lock *tmp = w->q;
			size_t tcap = w->cap;
			w->q = batch;
			w->cap = cap;
			batch = tmp;
			cap = tcap;
		}
		n = w->n;
		dropped = w->dropped;
		w->n = 0;
		w->dropped = 0;
		pthread_mutex_unlock(&w->mu);
		if (dropped > 0)
			log_event(LOG_ERROR, "auth.lock_store_failed", json_pack("{s:s, s:I}",
			    "reason", "write queue full", "locks", (json_int_t)dropped));
		rc = write_batch(w, batch, n);
		pthread_mutex_lock(&w->mu);
		/* A failed write is tried again, but not once the server stops:
		 * its last write is the one try. */
		if (rc == -1 && !w->stop)
			requeue(w, batch, n);
		/* Keep writes interval_ms apart (longer while failing); a stop
		 * cuts the wait short. */
		wait_ms = w->wait_ms != 0 ? w->wait_ms : w->interval_ms;
		clock_gettime(CLOCK_MONOTONIC, &until);	/* cv's clock */
		until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		until.tv_sec += (time_t)(wait_ms / 1000) + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&w->mu);
	free(batch);
	return NULL;
}

struct lockwriter *
lockwriter_start(struct store *st, struct lockout *lo, int64_t duration, int64_t interval_ms)
{
	struct lockwriter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->store = st;
	w->lockout = lo;
	w->duration = duration;
	w->interval_ms = interval_ms;
	pthread_mutex_init(&w->mu, NULL);
	{
		/* The pause between writes is timed on the monotonic clock:
		 * on the wall clock, a step back held every lock made after
		 * it out of the store (unseen by the other nodes and the
		 * operator) for as long as the step. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

void
lockwriter_add(struct lockwriter *w, const struct lockout_lock *lk)
{
	pthread_mutex_lock(&w->mu);
	if (queue_one(w, lk) == -1)
		w->dropped++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
lockwriter_stop(struct lockwriter *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	free(w->q);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
