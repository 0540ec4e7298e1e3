/*
 * Unit tests for the offload pool (server/offload.h): jobs run on the
 * pool's threads, OFFLOAD_THREADS at once; past OFFLOAD_MAX_QUEUED waiting
 * jobs a submit is refused and the job never runs; stopping runs every job
 * already queued before the threads end.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/offload.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int open_gate;		/* held jobs wait until it is set */
static int running;		/* held jobs inside, waiting */
static atomic_int ran;
static atomic_int ran_on_main;	/* jobs run by the submitting thread: none */
static pthread_t main_thread;

static void
count(void *arg)
{
	(void)arg;
	/* Counted, not asserted: a cmocka failure may not leave from another
	 * thread. */
	if (pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&ran_on_main, 1);
	atomic_fetch_add(&ran, 1);
}

static void
held(void *arg)
{
	pthread_mutex_lock(&mu);
	running++;
	pthread_cond_broadcast(&cv);
	while (!open_gate)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	count(arg);
}

static void
reset(void)
{
	open_gate = 0;
	running = 0;
	atomic_store(&ran, 0);
	atomic_store(&ran_on_main, 0);
	main_thread = pthread_self();
}

/* Every thread held by a job, then the queue filled: the next submit is
 * refused, and once let go every accepted job runs, none other. */
static void
full_queue_refuses(void **state)
{
	struct offload *o;

	(void)state;
	reset();
	assert_non_null(o = offload_start());
	for (int i = 0; i < OFFLOAD_THREADS; i++)
		assert_int_equal(offload_submit(o, held, NULL), 0);
	pthread_mutex_lock(&mu);
	while (running < OFFLOAD_THREADS)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < OFFLOAD_MAX_QUEUED; i++)
		assert_int_equal(offload_submit(o, count, NULL), 0);
	assert_int_equal(offload_submit(o, count, NULL), -1);
	assert_int_equal(atomic_load(&ran), 0);
	pthread_mutex_lock(&mu);
	open_gate = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	offload_stop(o);
	assert_int_equal(atomic_load(&ran), OFFLOAD_THREADS + OFFLOAD_MAX_QUEUED);
	assert_int_equal(atomic_load(&ran_on_main), 0);
}

/* Stopping at once still runs what was queued. */
static void
stop_runs_what_is_queued(void **state)
{
	struct offload *o;

	(void)state;
	reset();
	open_gate = 1;
	assert_non_null(o = offload_start());
	for (int i = 0; i < 1000; i++)
		assert_int_equal(offload_submit(o, i % 2 ? held : count, NULL), 0);
	offload_stop(o);
	assert_int_equal(atomic_load(&ran), 1000);
	assert_int_equal(atomic_load(&ran_on_main), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_queue_refuses),
		cmocka_unit_test(stop_runs_what_is_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
