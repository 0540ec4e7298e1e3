/* lockwriter.c — see lockwriter.h. A queue under a mutex and one thread
 * that swaps it out and writes it; the queue is two growing arrays so that
 * adding never waits for the store. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/log.h"
#include "server/lockwriter.h"

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
	pthread_t		 thread;
};

/* Writes batch[0..n) in one transaction; logs a failure (the locks then
 * stay in force on this node only: lockout_sync keeps unseen locks). */
static void
write_batch(struct lockwriter *w, const struct lockout_lock *batch, size_t n)
{
	struct store_lock *sl = malloc(n * sizeof(*sl));

	if (sl == NULL) {
		log_event(LOG_ERROR, "auth.lock_store_failed", json_pack("{s:s, s:I}",
		    "reason", "out of memory", "locks", (json_int_t)n));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		sl[i].kind = batch[i].kind == LOCKOUT_ADDRESS ? STORE_LOCK_ADDRESS : STORE_LOCK_PAIR;
		sl[i].client_id = (char *)batch[i].client_id;
		sl[i].address = (char *)batch[i].address;
		sl[i].created_at = batch[i].until - w->duration;
		sl[i].until = batch[i].until;
	}
	if (store_lock_put(w->store, sl, n) != STORE_OK)
		log_event(LOG_ERROR, "auth.lock_store_failed", json_pack("{s:s, s:I}",
		    "reason", store_last_error(), "locks", (json_int_t)n));
	else {
		/* A generation read after the commit: a sync at it or later
		 * that lacks these locks means they were cleared. */
		struct store_gen gen;
		if (store_generation(w->store, &gen) == STORE_OK)
			lockout_mark_stored(w->lockout, batch, n, gen.v[STORE_GEN_LOCKS]);
	}
	free(sl);
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
		write_batch(w, batch, n);
		pthread_mutex_lock(&w->mu);
		/* Keep writes interval_ms apart; a stop cuts the wait short. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
		until.tv_sec += (time_t)(w->interval_ms / 1000) + until.tv_nsec / 1000000000L;
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
	pthread_cond_init(&w->cv, NULL);
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
	if (w->n == w->cap && w->cap < LOCKWRITER_MAX_QUEUED) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct lockout_lock *tmp = realloc(w->q, ncap * sizeof(*tmp));
		if (tmp != NULL) {
			w->q = tmp;
			w->cap = ncap;
		}
	}
	if (w->n < w->cap)
		w->q[w->n++] = *lk;
	else
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
