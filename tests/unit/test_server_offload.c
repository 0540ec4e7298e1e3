/*
 * Unit tests for the offload pool (server/offload.h): handlers run on the
 * pool's threads, as many at once as it was started with (1 at least,
 * OFFLOAD_THREADS_MAX at most), knowing that they do
 * (offload_is_running); past the queue's length of waiting exchanges a hand-
 * over is refused and that handler never runs; stopping runs every
 * exchange already queued before the threads end. The handlers here answer
 * HTTP_DEFERRED, as one that queued its answer elsewhere does, so no
 * connection is resumed (there is none).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/offload.h"

#define QUEUE	4096	/* the offload_queue setting's default */
#define MANY	(OFFLOAD_THREADS_MAX + QUEUE + 1)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int open_gate;		/* held handlers wait until it is set */
static int running;		/* held handlers inside, waiting */
static atomic_int ran;
static atomic_int ran_wrongly;	/* on the submitting thread, or not told */
static pthread_t main_thread;
static struct http_exchange xs[MANY];

/* Counted, not asserted: a cmocka failure may not leave from another
 * thread. */
static enum http_result
count(struct http_exchange *x)
{
	if (pthread_equal(pthread_self(), main_thread) || !offload_is_running(x))
		atomic_fetch_add(&ran_wrongly, 1);
	atomic_fetch_add(&ran, 1);
	return HTTP_DEFERRED;
}

static enum http_result
held(struct http_exchange *x)
{
	pthread_mutex_lock(&mu);
	running++;
	pthread_cond_broadcast(&cv);
	while (!open_gate)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return count(x);
}

static void
reset(int gate_open)
{
	open_gate = gate_open;
	running = 0;
	atomic_store(&ran, 0);
	atomic_store(&ran_wrongly, 0);
	main_thread = pthread_self();
	memset(xs, 0, sizeof(xs));
}

/* A pool started with asked threads and room for queue_asked: each of
 * its `threads` held by a handler, then its queue of `queue` filled (had
 * it more threads, a queued handler would run meanwhile); the next hand-
 * over is refused (and that exchange is not marked as running there).
 * Once let go, every accepted handler runs, none other. */
static void
full_queue_refuses(size_t asked, size_t threads, size_t queue_asked, size_t queue)
{
	struct offload *o;
	size_t i = 0;

	reset(0);
	assert_non_null(o = offload_start(asked, queue_asked));
	/* One at a time: each waits in the queue until a thread takes it. */
	for (; i < threads; i++) {
		assert_int_equal(offload_exchange(o, &xs[i], held), 0);
		pthread_mutex_lock(&mu);
		while (running < (int)i + 1)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	}
	for (; i < threads + queue; i++)
		assert_int_equal(offload_exchange(o, &xs[i], count), 0);
	assert_int_equal(offload_exchange(o, &xs[i], count), -1);
	assert_false(offload_is_running(&xs[i]));
	assert_int_equal(atomic_load(&ran), 0);
	pthread_mutex_lock(&mu);
	assert_int_equal(running, (int)threads);
	open_gate = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	offload_stop(o);
	assert_int_equal(atomic_load(&ran), threads + queue);
	assert_int_equal(atomic_load(&ran_wrongly), 0);
}

/* PostgreSQL's default pool_size, one connection, and the bounds. */
static void
four_threads(void **state)
{
	(void)state;
	full_queue_refuses(4, 4, QUEUE, QUEUE);
}

static void
one_thread(void **state)
{
	(void)state;
	full_queue_refuses(1, 1, QUEUE, QUEUE);
}

static void
none_asked_is_one(void **state)
{
	(void)state;
	full_queue_refuses(0, 1, QUEUE, QUEUE);
}

static void
too_many_asked_is_the_most(void **state)
{
	(void)state;
	full_queue_refuses(OFFLOAD_THREADS_MAX + 10, OFFLOAD_THREADS_MAX, QUEUE, QUEUE);
}

/* The queue's length as set (offload_queue), 1 at least. */
static void
a_queue_of_one(void **state)
{
	(void)state;
	full_queue_refuses(2, 2, 1, 1);
}

static void
no_queue_asked_is_one(void **state)
{
	(void)state;
	full_queue_refuses(2, 2, 0, 1);
}

/* Stopping at once still runs what was queued. */
static void
stop_runs_what_is_queued(void **state)
{
	struct offload *o;

	(void)state;
	reset(1);
	assert_non_null(o = offload_start(4, QUEUE));
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(offload_exchange(o, &xs[i], i % 2 ? held : count), 0);
	offload_stop(o);
	assert_int_equal(atomic_load(&ran), 1000);
	assert_int_equal(atomic_load(&ran_wrongly), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(four_threads),
		cmocka_unit_test(one_thread),
		cmocka_unit_test(none_asked_is_one),
		cmocka_unit_test(too_many_asked_is_the_most),
		cmocka_unit_test(a_queue_of_one),
		cmocka_unit_test(no_queue_asked_is_one),
		cmocka_unit_test(stop_runs_what_is_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
