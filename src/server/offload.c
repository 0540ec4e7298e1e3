/* offload.c — see offload.h. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "server/offload.h"
#include "util/util.h"

struct job {
	struct http_exchange	*x;
	http_handler_fn		 handler;
	uint64_t		 queued_ns;	/* clock_mono_ns() when queued */
};

struct offload {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct job	*q;		/* a ring of cap */
	size_t		 cap, head, n;
	int		 stopping;
	pthread_t	 th[OFFLOAD_THREADS_MAX];
	size_t		 started;
};

/* x->handler_data while a pool thread runs x's handler; late_here when
 * x waited in the queue past OFFLOAD_MAX_WAIT_MS (offload_is_late). */
static char running_here, late_here;

static void *
worker_main(void *arg)
{
	struct offload *o = arg;
	struct job j;

	(void)prctl(PR_SET_NAME, "offload", 0, 0, 0);	/* as ps and perf show it */
	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (o->n == 0 && !o->stopping)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->n == 0)
			break;	/* stopping, and nothing left to run */
		j = o->q[o->head];
		o->head = (o->head + 1) % o->cap;
		o->n--;
		pthread_mutex_unlock(&o->mu);
		j.x->handler_data = clock_mono_ns() - j.queued_ns >
		    (uint64_t)OFFLOAD_MAX_WAIT_MS * 1000000u ? &late_here : &running_here;
		if (j.handler(j.x) == HTTP_DONE)
			http_exchange_resume(j.x);
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/* n within [1, max]. */
static size_t
clamp(size_t n, size_t max)
{
	return n < 1 ? 1 : n > max ? max : n;
}

struct offload *
offload_start(size_t threads, size_t queue)
{
	struct offload *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	threads = clamp(threads, OFFLOAD_THREADS_MAX);
	o->cap = clamp(queue, OFFLOAD_QUEUE_MAX);
	if ((o->q = calloc(o->cap, sizeof(*o->q))) == NULL) {
		free(o);
		return NULL;
	}
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	for (; o->started < threads; o->started++)
		if (pthread_create(&o->th[o->started], NULL, worker_main, o) != 0) {
			offload_stop(o);
			return NULL;
		}
	return o;
}

static int
submit(struct offload *o, struct job j)
{
	int rc = -1;

	pthread_mutex_lock(&o->mu);
	if (!o->stopping && o->n < o->cap) {
		o->q[(o->head + o->n) % o->cap] = j;
		o->n++;
		pthread_cond_signal(&o->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

int
offload_exchange(struct offload *o, struct http_exchange *x, http_handler_fn handler)
{
	x->handler_data = &running_here;
	if (submit(o, (struct job){ x, handler, clock_mono_ns() }) == 0)
		return 0;
	x->handler_data = NULL;
	return -1;
}

int
offload_is_running(const struct http_exchange *x)
{
	return x->handler_data == &running_here;
}

int
offload_is_late(const struct http_exchange *x)
{
	return x->handler_data == &late_here;
}

void
offload_stop(struct offload *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	o->stopping = 1;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	for (size_t i = 0; i < o->started; i++)
		pthread_join(o->th[i], NULL);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o->q);
	free(o);
}
